"""The spec examples the README shows are specs driftcheck accepts, as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from driftcheck.specs import load_specs

from .conftest import REPO, RunCli

FENCED_YAML = re.compile(r"^```yaml\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def readme_specs() -> list[str]:
    """Every YAML block in the README that declares endpoints."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = FENCED_YAML.findall(text)
    return [b for b in blocks if re.search(r"^endpoints:$", b, re.MULTILINE)]


def test_the_readme_shows_its_spec_examples() -> None:
    # The block that introduces the format and the one sharing fields with `<<`.
    assert len(readme_specs()) == 2


@pytest.mark.parametrize("block", readme_specs())
def test_a_readme_spec_example_validates(
    run_cli: RunCli, tmp_path: Path, block: str
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(block, encoding="utf-8")

    result = run_cli("validate", spec)

    assert (result.code, result.stderr) == (0, ""), result


def test_the_readme_merge_example_declares_the_shared_fields(tmp_path: Path) -> None:
    (block,) = [b for b in readme_specs() if "<<: *llm" in b]
    spec = tmp_path / "spec.yaml"
    spec.write_text(block, encoding="utf-8")

    a, b = load_specs([str(spec)]).endpoints

    assert b.name == "chat-b"
    assert b.fields["image"] == a.fields["image"]
    assert b.fields["worker_config"] == a.fields["worker_config"]
    assert b.fields["envs"] == {"MODEL": "b"}
    assert "envs" not in a.fields
