"""The report for people at a terminal or reading a CI log."""

from __future__ import annotations

from driftcheck.formats import ReportOptions
from driftcheck.model import CheckResult, Difference, EndpointResult
from driftcheck.textsafe import clean, show_value

_COLORS = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


class _Painter:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, color: str) -> str:
        if not self.enabled:
            return text
        return f"\033[{_COLORS[color]}m{text}\033[0m"


def render(result: CheckResult, options: ReportOptions) -> str:
    paint = _Painter(options.color)
    lines: list[str] = []

    for endpoint in result.endpoints:
        if endpoint.state == "drifted":
            lines.extend(_drifted(endpoint, paint))
        elif endpoint.state == "missing":
            lines.append(
                f"{paint('missing', 'red')}  {_label(endpoint)}  {_source(endpoint)}: "
                "declared, but no live endpoint matches"
            )
            lines.append("")
        elif endpoint.state == "unmanaged":
            lines.append(
                f"{paint('unmanaged', 'yellow')}  {_label(endpoint)}: "
                "live, but no spec declares it"
            )
    if lines and lines[-1] != "":
        lines.append("")

    lines.append(_summary(result, paint))
    return "\n".join(lines) + "\n"


def _label(endpoint: EndpointResult) -> str:
    name = clean(endpoint.name)
    return f"{name} ({clean(endpoint.id)})" if endpoint.id else name


def _source(endpoint: EndpointResult) -> str:
    # A file name may hold any byte but `/`, escape sequences included.
    return clean(str(endpoint.source))


def _drifted(endpoint: EndpointResult, paint: _Painter) -> list[str]:
    lines = [f"{paint('drifted', 'red')}  {_label(endpoint)}  {_source(endpoint)}"]
    width = max(len(clean(d.path)) for d in endpoint.differences)
    for difference in endpoint.differences:
        path = clean(difference.path).ljust(width)
        where = f"  (line {difference.source.line})" if difference.source else ""
        lines.append(
            f"  {paint(path, 'bold')}  {_describe(difference)}{paint(where, 'dim')}"
        )
    lines.append("")
    return lines


def _describe(difference: Difference) -> str:
    if difference.redacted:
        return {
            "changed": "changed: the values differ (redacted)",
            "missing": "missing: declared, absent live (value redacted)",
            "extra": "extra: set live, not declared (value redacted)",
        }[difference.kind]
    declared = show_value(difference.declared)
    live = show_value(difference.live)
    if difference.kind == "missing":
        return f"missing: declared {declared}, absent live"
    if difference.kind == "extra":
        return f"extra: live {live}, not declared"
    return f"changed: declared {declared}, live {live}"


def _summary(result: CheckResult, paint: _Painter) -> str:
    summary = result.summary
    counts = (
        f"{summary.declared} declared: {summary.in_sync} in sync, "
        f"{summary.drifted} drifted, {summary.missing} missing"
    )
    if result.unmanaged_policy != "ignore":
        counts += f"; {summary.unmanaged} unmanaged"
    code = result.exit_code()
    if code == 0:
        verdict = paint("in sync", "green")
        if summary.unmanaged:
            verdict += " (unmanaged endpoints do not fail the run)"
    else:
        verdict = paint("drift found", "red")
    return f"{counts}. {verdict}"
