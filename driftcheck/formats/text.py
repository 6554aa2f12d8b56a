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
        shown = [
            d
            for d in endpoint.differences
            if d.suppressed is None or options.show_ignored
        ]
        if shown and endpoint.state in ("drifted", "unknown", "in_sync"):
            lines.extend(_differences(endpoint, shown, paint))
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


_STATE_COLORS = {"drifted": "red", "unknown": "yellow", "in_sync": "green"}
_STATE_WORDS = {"drifted": "drifted", "unknown": "unknown", "in_sync": "in sync"}


def _differences(
    endpoint: EndpointResult, shown: list[Difference], paint: _Painter
) -> list[str]:
    state = paint(_STATE_WORDS[endpoint.state], _STATE_COLORS[endpoint.state])
    lines = [f"{state}  {_label(endpoint)}  {_source(endpoint)}"]
    width = max(len(clean(d.path)) for d in shown)
    for difference in shown:
        path = clean(difference.path).ljust(width)
        where = f"  (line {difference.source.line})" if difference.source else ""
        text = _describe(difference)
        if difference.suppressed is not None:
            text += f" [ignored: {clean(difference.suppressed.reason)}]"
        lines.append(f"  {paint(path, 'bold')}  {text}{paint(where, 'dim')}")
    lines.append("")
    return lines


def _describe(difference: Difference) -> str:
    if difference.kind == "unknown":
        return "unknown: the live value was withheld (redacted snapshot)"
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
        f"{summary.drifted} drifted, "
    )
    if summary.unknown:
        counts += f"{summary.unknown} unknown, "
    counts += f"{summary.missing} missing"
    if result.unmanaged_policy != "ignore":
        counts += f"; {summary.unmanaged} unmanaged"
    if summary.ignored:
        counts += f"; {summary.ignored} ignored difference"
        counts += "s" if summary.ignored != 1 else ""
    code = result.exit_code()
    if code != 0:
        verdict = paint("drift found", "red")
    elif summary.unknown:
        verdict = paint("no drift found", "yellow")
        verdict += " (unknown endpoints could not be fully compared)"
    else:
        verdict = paint("in sync", "green")
        if summary.unmanaged:
            verdict += " (unmanaged endpoints do not fail the run)"
    return f"{counts}. {verdict}"
