"""What each command imports: the heavy libraries load only where they are used.

Start-up time is most of a small run's cost, and `--help` or a pre-commit
`validate` should not pay for an HTTP client or a diff engine. Python reports
every import it makes when PYTHONPROFILEIMPORTTIME is set, so these runs read
the real command's own list, through the normal command path.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import EXAMPLES, REPO, CliResult, RunCli
from .fake_ppio import FakePPIO

HEAVY = {"httpx", "deepdiff", "jsonschema"}
# "import time:       320 |        812 |   package.module"
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*([\w.]+)$", re.MULTILINE)
API_KEY = "import-test-key-0123"


def top_level_imports(result: CliResult) -> set[str]:
    """The top-level packages a run imported, read from Python's import report."""
    names = {name.split(".")[0] for name in IMPORT_LINE.findall(result.stderr)}
    # Guard the parser: every run imports click and driftcheck itself.
    assert {"click", "driftcheck"} <= names, result.stderr[-2000:]
    return names


def run_profiled(run_cli: RunCli, *args: str, **env: str) -> CliResult:
    return run_cli(*args, env={"PYTHONPROFILEIMPORTTIME": "1", **env}, cwd=REPO)


@pytest.mark.parametrize(
    "args",
    [
        ("--version",),
        ("--help",),
        ("check", "--help"),
        ("validate", "--help"),
        ("snapshot", "--help"),
        ("export", "--help"),
    ],
)
def test_help_and_version_load_no_heavy_library(
    run_cli: RunCli, args: tuple[str, ...]
) -> None:
    result = run_profiled(run_cli, *args)

    assert result.code == 0, result
    assert not top_level_imports(result) & (HEAVY | {"yaml"})


def test_validating_valid_specs_loads_neither_http_nor_diff_nor_jsonschema(
    run_cli: RunCli,
) -> None:
    result = run_profiled(run_cli, "validate", "examples/endpoints")

    assert result.code == 0, result
    imported = top_level_imports(result)
    assert "yaml" in imported
    assert not imported & HEAVY


def test_validating_an_invalid_spec_loads_jsonschema_for_its_messages(
    run_cli: RunCli, tmp_path: Path
) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: chat\nimage: 7\n", encoding="utf-8")

    result = run_profiled(run_cli, "validate", str(spec))

    assert result.code == 2, result
    imported = top_level_imports(result)
    assert "jsonschema" in imported
    assert not imported & {"httpx", "deepdiff"}


def test_check_from_a_live_file_never_loads_the_http_client(run_cli: RunCli) -> None:
    result = run_profiled(run_cli, "check", *EXAMPLES)

    assert result.code == 1, result
    imported = top_level_imports(result)
    # The examples drift, so the differences are walked with deepdiff.
    assert "deepdiff" in imported
    assert "httpx" not in imported


def test_check_in_sync_skips_the_diff_engine(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    endpoint = {"id": "ep-1", "name": "chat", "image": "img:1"}
    live = tmp_path / "live.json"
    live.write_text(json.dumps([endpoint]), encoding="utf-8")
    spec = tmp_path / "chat.yaml"
    spec.write_text("name: chat\nimage: img:1\n", encoding="utf-8")

    from_file = run_profiled(run_cli, "check", str(spec), "--live-file", str(live))
    fake_api.endpoints = [endpoint]
    fake_api.api_key = API_KEY
    from_api = run_profiled(
        run_cli, "check", str(spec), PPIO_API_URL=fake_api.url, PPIO_API_KEY=API_KEY
    )

    assert from_file.code == 0, from_file
    assert not top_level_imports(from_file) & HEAVY
    assert from_api.code == 0, from_api
    assert top_level_imports(from_api) & HEAVY == {"httpx"}
