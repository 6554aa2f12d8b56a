"""The registry of report formats: one module per format, each with `render`.

Adding a format is adding a module and a line here; `--format` and `--report` take
their choices from this table, and nothing is imported until a format is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from driftcheck.model import CheckResult

FORMATS: dict[str, str] = {
    "text": "driftcheck.formats.text",
    "json": "driftcheck.formats.json",
    "github": "driftcheck.formats.github",
    "markdown": "driftcheck.formats.markdown",
    "sarif": "driftcheck.formats.sarif",
    "junit": "driftcheck.formats.junit",
}


@dataclass(frozen=True)
class ReportOptions:
    """What a format may need beyond the result itself."""

    color: bool = False
    # Web address of the repository's files at this commit (ends with "/"); when
    # set, reports that link to spec lines use absolute links under it.
    link_base: str = ""
    # Text reports list suppressed differences only when asked; others always do.
    show_ignored: bool = False


def render(name: str, result: CheckResult, options: ReportOptions) -> str:
    """The report for `result` in format `name`."""
    module = import_module(FORMATS[name])
    text: str = module.render(result, options)
    return text
