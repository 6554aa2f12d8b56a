"""End-to-end tests of `driftcheck validate` and of the pre-commit hook built on it.

Validation reads spec files only: every run here points the API settings (and the
proxy variables) at the fake PPIO API and asserts it saw no request.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import REPO, RunCli, child_env
from .fake_ppio import FakePPIO

SPECS = "examples/endpoints"
EXAMPLE_FILES = sorted(
    str(p.relative_to(REPO)) for p in (REPO / SPECS).rglob("*") if p.is_file()
)

# Each broken file, and what its error line must say after "error: <file>:<line>".
BROKEN = {
    "types.yaml": (
        "endpoints:\n"
        "  - name: alpha-model\n"
        "    image: registry.example.com/ml/alpha:1\n"
        "    worker_config:\n"
        "      max_replicas: three\n",
        5,
        "worker_config.max_replicas: expected an integer",
    ),
    "syntax.yaml": (
        "name: beta-model\nimage: [registry.example.com/ml/beta:1\n",
        None,
        "YAML syntax error",
    ),
    "env-number.yml": (
        "name: gamma-model\n"
        "image: registry.example.com/ml/gamma:1\n"
        "envs:\n"
        "  PORT: 8080\n",
        4,
        "envs.PORT: expected a string",
    ),
    "unknown-field.yaml": (
        "name: delta-model\nimage: registry.example.com/ml/delta:1\ncolour: blue\n",
        3,
        "unknown field 'colour'",
    ),
    "no-name.yaml": ("image: registry.example.com/ml/epsilon:1\n", 1, "'name'"),
}
GOOD = "name: zeta-model\nimage: registry.example.com/ml/zeta:1\n"


def offline_env(fake: FakePPIO) -> dict[str, str | None]:
    """Everything a network call would need, all of it leading to the fake."""
    return {
        "PPIO_API_URL": fake.url,
        "PPIO_API_KEY": "test-key-0123456789",
        "HTTP_PROXY": fake.url,
        "HTTPS_PROXY": fake.url,
        "ALL_PROXY": fake.url,
        "NO_PROXY": None,
        "no_proxy": None,
    }


def test_examples_are_valid(run_cli: RunCli, fake_api: FakePPIO) -> None:
    result = run_cli("validate", SPECS, env=offline_env(fake_api), cwd=REPO)

    assert result.code == 0, result.stderr
    assert result.stdout == "8 endpoints in 4 files: valid\n"
    assert result.stderr == ""
    assert fake_api.requests == []


def test_files_and_directories_mix(run_cli: RunCli, fake_api: FakePPIO) -> None:
    result = run_cli(
        "validate",
        f"{SPECS}/llm",
        f"{SPECS}/batch.yml",
        env=offline_env(fake_api),
        cwd=REPO,
    )

    assert result.code == 0, result.stderr
    assert result.stdout == "6 endpoints in 3 files: valid\n"
    assert result.stderr == ""


def test_every_broken_file_is_reported(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    for name, (text, _, _) in BROKEN.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")

    result = run_cli("validate", ".", env=offline_env(fake_api), cwd=tmp_path)

    assert result.code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    problems = []
    for name, (_, line, message) in BROKEN.items():
        number = str(line) if line else r"\d+"
        pattern = rf"^error: (\./)?{re.escape(name)}:{number}(:\d+)?: .*"
        pattern += re.escape(message)
        if not any(re.search(pattern, text) for text in lines):
            problems.append(f"{name}: no line matches {pattern!r}")
    assert not problems, "\n".join(problems) + "\n\n" + result.stderr
    assert "good.yaml" not in result.stderr
    assert len(lines) == len(BROKEN)
    assert fake_api.requests == []


def test_one_broken_file_among_good_ones_fails(run_cli: RunCli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    text, line, message = BROKEN["types.yaml"]
    broken.write_text(text, encoding="utf-8")

    result = run_cli("validate", REPO / SPECS, broken)

    assert result.code == 2
    assert result.stdout == ""
    [error] = result.stderr.splitlines()
    assert error.startswith(f"error: {broken}:{line}:")
    assert message in error


def test_same_name_in_two_files_is_invalid(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")

    result = run_cli("validate", "a.yaml", "b.yaml", cwd=tmp_path)

    assert result.code == 2
    assert result.stdout == ""
    assert "zeta-model" in result.stderr
    assert "a.yaml:1" in result.stderr
    assert "b.yaml:1" in result.stderr


def test_missing_path_exits_2(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("validate", "nowhere.yaml", cwd=tmp_path)

    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr == "error: nowhere.yaml: no such file or directory\n"


def test_no_paths_is_a_usage_error(run_cli: RunCli) -> None:
    result = run_cli("validate")

    assert result.code == 2
    assert result.stdout == ""
    assert "Missing argument 'PATHS...'" in result.stderr


def test_validate_help_lists_exit_codes(run_cli: RunCli) -> None:
    result = run_cli("validate", "--help")

    assert result.code == 0
    assert result.stderr == ""
    assert "no network" in result.stdout
    assert "0  valid" in result.stdout
    assert "2  invalid" in result.stdout


# -- the pre-commit hook ------------------------------------------------------------


def _hook() -> dict[str, Any]:
    hooks_file = REPO / ".pre-commit-hooks.yaml"
    assert hooks_file.exists(), ".pre-commit-hooks.yaml is missing"
    hooks = yaml.safe_load(hooks_file.read_text(encoding="utf-8"))
    [hook] = [h for h in hooks if h.get("id") == "driftcheck-validate"]
    return dict(hook)


def _console_scripts() -> dict[str, str]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    scripts: dict[str, str] = project["project"]["scripts"]
    return scripts


def _run_hook(
    hook: dict[str, Any], files: list[str], cwd: Path, env: dict[str, str | None]
) -> subprocess.CompletedProcess[str]:
    """Run the hook's entry as pre-commit would: entry words, then the file names."""
    words = shlex.split(hook["entry"]) + list(hook.get("args", []))
    bindir = Path(sys.executable).parent
    script = bindir / words[0]
    if not script.exists():
        pytest.skip(f"{words[0]} is not installed next to {sys.executable}")
    path = os.pathsep.join([str(bindir), os.environ.get("PATH", "")])
    return subprocess.run(
        [str(script), *words[1:], *files],
        env=child_env({**env, "PATH": path}),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def test_hook_entry_is_a_declared_console_script() -> None:
    hook = _hook()

    command = shlex.split(hook["entry"])[0]
    scripts = _console_scripts()
    assert command in scripts
    assert scripts[command] == "driftcheck.cli:main"
    assert hook["language"] == "python"
    assert hook.get("pass_filenames", True) is True


def test_hook_passes_on_the_examples(fake_api: FakePPIO) -> None:
    hook = _hook()
    # The files pre-commit would hand over: those matching the hook's pattern.
    pattern = re.compile(hook.get("files", ""))
    files = [f for f in EXAMPLE_FILES if pattern.search(f)]
    assert len(files) == 4

    result = _run_hook(hook, files, REPO, offline_env(fake_api))

    assert result.returncode == 0, result.stderr
    assert result.stdout == "8 endpoints in 4 files: valid\n"
    assert result.stderr == ""
    assert fake_api.requests == []


def test_hook_fails_on_a_broken_spec(fake_api: FakePPIO, tmp_path: Path) -> None:
    hook = _hook()
    text, line, message = BROKEN["types.yaml"]
    (tmp_path / "broken.yaml").write_text(text, encoding="utf-8")

    result = _run_hook(hook, ["broken.yaml"], tmp_path, offline_env(fake_api))

    assert result.returncode != 0
    assert result.stdout == ""
    assert f"broken.yaml:{line}:" in result.stderr
    assert message in result.stderr
