"""The report for people at a terminal or reading a CI log."""

from __future__ import annotations

from driftcheck.formats import ReportOptions
from driftcheck.formats.wording import Wording, count
from driftcheck.model import CheckResult, Difference, EndpointResult
from driftcheck.textsafe import clean

_COLORS = {
    "red": "31",
    "green": "32",
    "yellow": "33",
    "cyan": "36",
    "bold": "1",
    "dim": "2",
}
_STATE_COLORS = {
    "drifted": "red",
    "planned": "cyan",
    "unknown": "yellow",
    "in_sync": "green",
    "missing": "red",
    "unmanaged": "yellow",
}
_STATE_WORDS = {"in_sync": "in sync"}


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
        notable = endpoint.state in ("missing", "unmanaged", "planned")
        if shown or notable or endpoint.health:
            lines.extend(_endpoint(endpoint, shown, paint))
    for resolved in result.resolved:
        since = f" (first seen {resolved.first_seen})" if resolved.first_seen else ""
        what = clean(resolved.path) or resolved.kind
        lines.append(
            f"{paint('resolved', 'green')}  {clean(resolved.endpoint)}: {what}{since}"
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
    return clean(str(endpoint.source)) if endpoint.source else ""


def _endpoint(
    endpoint: EndpointResult, shown: list[Difference], paint: _Painter
) -> list[str]:
    word = _STATE_WORDS.get(endpoint.state, endpoint.state)
    head = f"{paint(word, _STATE_COLORS[endpoint.state])}  {_label(endpoint)}"
    if endpoint.source:
        head += f"  {_source(endpoint)}"
    note = _endpoint_note(endpoint)
    lines = [f"{head}: {note}" if note else head]

    width = max((len(clean(d.path)) for d in shown), default=0)
    for difference in shown:
        path = clean(difference.path).ljust(width)
        where = f"  (line {difference.source.line})" if difference.source else ""
        lines.append(
            f"  {paint(path, 'bold')}  {_describe(difference)}"
            f"{_tags(difference)}{paint(where, 'dim')}"
        )
    if endpoint.capacity is not None and endpoint.state == "drifted":
        capacity = endpoint.capacity
        lines.append(
            f"  GPU capacity (gpu_num x max_replicas): declared {capacity.declared}, "
            f"live {capacity.live} ({capacity.change:+d})"
        )
    for warning in endpoint.health:
        lines.append(f"  {paint('health', 'yellow')}: {clean(warning)}")
    lines.append("")
    return lines


def _endpoint_note(endpoint: EndpointResult) -> str:
    status = ""
    if endpoint.status == "new":
        status = " [new]"
    elif endpoint.status == "known" and endpoint.first_seen:
        status = f" [known since {endpoint.first_seen}]"
    if endpoint.state == "missing":
        return "declared, but no live endpoint matches" + status
    if endpoint.state == "unmanaged":
        return "live, but no spec declares it" + status
    if endpoint.plan == "create":
        return "added by this change; the deploy will create it"
    if endpoint.plan == "delete":
        return "removed by this change but still live; the deploy will delete it"
    return ""


def _tags(difference: Difference) -> str:
    tags: list[str] = []
    if difference.change is not None:
        tags.append(difference.change)
    if difference.status == "new":
        tags.append("new")
    elif difference.status == "known" and difference.first_seen:
        tags.append(f"known since {difference.first_seen}")
    if difference.suppressed is not None:
        tags.append(f"ignored: {clean(difference.suppressed.reason)}")
    return f" [{'; '.join(tags)}]" if tags else ""


_describe = Wording(
    unknown="unknown: the live value was withheld (redacted snapshot)",
    redacted={
        "changed": "changed: the values differ (redacted)",
        "missing": "missing: declared, absent live (value redacted)",
        "extra": "extra: set live, not declared (value redacted)",
    },
    missing="missing: declared {declared}, absent live",
    extra="extra: live {live}, not declared",
    changed="changed: declared {declared}, live {live}",
).describe


def _summary(result: CheckResult, paint: _Painter) -> str:
    summary = result.summary
    counts = (
        f"{summary.declared} declared: {summary.in_sync} in sync, "
        f"{summary.drifted} drifted, "
    )
    if summary.planned:
        counts += f"{summary.planned} planned, "
    if summary.unknown:
        counts += f"{summary.unknown} unknown, "
    counts += f"{summary.missing} missing"
    if result.unmanaged_policy != "ignore":
        counts += f"; {summary.unmanaged} unmanaged"
    if summary.ignored:
        counts += f"; {count(summary.ignored, 'ignored difference')}"
    if summary.unhealthy:
        counts += f"; {count(summary.unhealthy, 'unhealthy endpoint')}"
    if result.baseline is not None:
        counts += f"; {summary.new} new, {summary.resolved} resolved"
    if summary.gpu_capacity_change:
        counts += f"; GPU capacity {summary.gpu_capacity_change:+d} from drift"

    code = result.exit_code()
    if result.failing():
        verdict = paint("drift found", "red")
    elif code != 0:
        verdict = paint("unhealthy endpoints fail the run", "red")
    elif summary.drifted or summary.missing:
        verdict = paint("no new drift", "yellow") + " (known drift does not fail)"
    elif summary.unknown:
        verdict = paint("no drift found", "yellow")
        verdict += " (unknown endpoints could not be fully compared)"
    else:
        verdict = paint("in sync", "green")
        if summary.planned:
            verdict += " apart from planned changes"
        if summary.unmanaged:
            verdict += " (unmanaged endpoints do not fail the run)"
    return f"{counts}. {verdict}"
