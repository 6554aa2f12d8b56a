"""GitHub Actions workflow commands: one annotation per problem, then a summary notice.

Differences and missing endpoints are errors, unmanaged endpoints warnings (errors
under --unmanaged fail), fields a redacted snapshot withheld notices. A difference an
ignore rule matched gets no annotation; the summary counts it, and the job summary
lists it. Against a base ref, planned changes are notices and conflicts errors of
their own title; health warnings are warnings (errors under --require-healthy).

Every piece of text is escaped the way the Actions toolkit escapes it, so nothing a
spec or the API holds can end a command early or start one of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from driftcheck.formats import ReportOptions
from driftcheck.formats.wording import Wording, count
from driftcheck.model import (
    CheckResult,
    Difference,
    EndpointResult,
    Location,
    Status,
)
from driftcheck.textsafe import clean

# GitHub shows this many annotations of each kind (error, warning, notice) a step.
ANNOTATION_LIMIT = 10

# The fields whose annotations also give the GPU capacity they make up.
CAPACITY_FIELDS = ("worker_config.gpu_num", "worker_config.max_replicas")

_LINE_BREAK = re.compile(r"(\r|\n)")


def render(result: CheckResult, options: ReportOptions) -> str:
    lines: list[str] = []
    failing = result.unmanaged_policy == "fail"

    for endpoint in result.endpoints:
        if endpoint.state == "drifted":
            lines.extend(
                _drift(endpoint, d, result.base_ref)
                for d in endpoint.differences
                if d.counts
            )
        elif endpoint.state == "missing":
            lines.append(_missing(endpoint))
        elif endpoint.state == "unmanaged":
            lines.append(_unmanaged(endpoint, failing))
        if endpoint.health:
            lines.append(_unhealthy(endpoint, result.require_healthy))
    notices = [_planned(e) for e in result.endpoints if e.plan in ("create", "delete")]
    notices += [_planned_field(e, d) for e, d in _planned_fields(result)]
    notices += [_unknown(e, d) for e, d in _unknown_fields(result)]
    lines.extend(_fold(notices))

    lines.append(_summary(result, lines))
    return "\n".join(lines) + "\n"


def command(name: str, properties: dict[str, str], message: str) -> str:
    """One workflow command line; properties with empty values are left out."""
    props = ",".join(
        f"{key}={escape_property(value)}" for key, value in properties.items() if value
    )
    head = f"::{name} {props}" if props else f"::{name}"
    return f"{head}::{escape_data(message)}"


def escape_data(text: str) -> str:
    """Escape a message as the Actions toolkit does; other controls made visible."""
    return (
        _printable(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    )


def escape_property(text: str) -> str:
    """Escape a property value: as a message, plus `:` and `,`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _printable(text: str) -> str:
    # CR and LF keep the toolkit's own escapes; every other control character
    # becomes visible text.
    return "".join(
        part if part in ("\r", "\n") else clean(part)
        for part in _LINE_BREAK.split(text)
    )


def _where(location: Location | None) -> dict[str, str]:
    if location is None:
        return {}
    return {"file": location.file, "line": str(location.line)}


def _label(endpoint: EndpointResult) -> str:
    return f"{endpoint.name} ({endpoint.id})" if endpoint.id else endpoint.name


def _drift(
    endpoint: EndpointResult, difference: Difference, base_ref: str | None = None
) -> str:
    where = _where(difference.source or endpoint.source)
    word = "conflict" if difference.change == "conflict" else "drift"
    title = f"{word}: {endpoint.name} {difference.path}"
    message = f"{_label(endpoint)}: {difference.path} {_describe(difference)}"
    if difference.change == "conflict":
        message += (
            f"; live differs both from {base_ref or 'the base ref'} and from this "
            "change, and the deploy would overwrite the change made by hand"
        )
    capacity = endpoint.capacity
    if capacity is not None and difference.path in CAPACITY_FIELDS:
        message += (
            f"; GPU capacity (gpu_num x max_replicas): declared {capacity.declared}, "
            f"live {capacity.live} ({capacity.change:+d})"
        )
    message += _status(difference.status, difference.first_seen)
    return command("error", {**where, "title": title}, message)


def _status(status: Status | None, first_seen: str | None) -> str:
    if status == "new":
        return " (new since the baseline)"
    if status == "known" and first_seen:
        return f" (known since {first_seen})"
    return ""


@dataclass(frozen=True)
class _Notice:
    """A notice annotation, and how it reads when folded with others of its kind."""

    line: str
    kind: str
    item: str


# How the notices that do not fit are introduced, by kind.
_FOLDED = {
    "planned": ("planned changes", "more planned changes the deploy will apply"),
    "unknown": (
        "unknown fields",
        "more fields were not compared, their live values withheld in a redacted "
        "snapshot",
    ),
}


def _fold(notices: list[_Notice]) -> list[str]:
    """A notice each, leaving one of the ten for the summary notice.

    Past that, the notices that do not fit share one per kind, so none is left out
    of the log and the summary stays on the run's page.
    """
    room = ANNOTATION_LIMIT - 1
    if len(notices) <= room:
        return [notice.line for notice in notices]

    # Keep as many whole as leave a folded notice for each kind that overflows.
    keep = room - 1
    while len({n.kind for n in notices[keep:]}) > room - keep:
        keep -= 1
    folded = []
    for kind, (title, intro) in _FOLDED.items():
        rest = [n.item for n in notices[keep:] if n.kind == kind]
        if rest:
            message = f"{len(rest)} {intro}: {'; '.join(rest)}"
            folded.append(command("notice", {"title": title}, message))
    return [*(n.line for n in notices[:keep]), *folded]


def _planned_fields(result: CheckResult) -> list[tuple[EndpointResult, Difference]]:
    return [
        (endpoint, difference)
        for endpoint in result.endpoints
        for difference in endpoint.differences
        if difference.planned and difference.kind != "unknown"
    ]


def _planned_field(endpoint: EndpointResult, difference: Difference) -> _Notice:
    where = _where(difference.source or endpoint.source)
    title = f"planned: {endpoint.name} {difference.path}"
    message = (
        f"{_label(endpoint)}: {difference.path} {_describe(difference)}; this change "
        "sets it, and the deploy will apply it"
    )
    line = command("notice", {**where, "title": title}, message)
    return _Notice(line, "planned", f"{_label(endpoint)}: {difference.path}")


def _planned(endpoint: EndpointResult) -> _Notice:
    if endpoint.plan == "create":
        title = f"planned create: {endpoint.name}"
        message = (
            f"{_label(endpoint)} is added by this change and not live yet; the "
            "deploy will create it"
        )
        where = _where(endpoint.source)
        item = f"create {_label(endpoint)}"
    else:
        # Its spec is at the base ref only: no file in the checkout to point at.
        title = f"planned delete: {endpoint.name}"
        declared = f" (declared at {endpoint.source})" if endpoint.source else ""
        message = (
            f"{_label(endpoint)} is removed by this change{declared} but still "
            "live; the deploy will delete it"
        )
        where = {}
        item = f"delete {_label(endpoint)}"
    line = command("notice", {**where, "title": title}, message)
    return _Notice(line, "planned", item)


def _unhealthy(endpoint: EndpointResult, required: bool) -> str:
    where = _where(endpoint.source) if endpoint.plan != "delete" else {}
    message = f"{_label(endpoint)} is not healthy: {'; '.join(endpoint.health)}"
    if required:
        message += " (--require-healthy)"
    title = f"unhealthy: {endpoint.name}"
    return command(
        "error" if required else "warning", {**where, "title": title}, message
    )


def _unknown_fields(result: CheckResult) -> list[tuple[EndpointResult, Difference]]:
    return [
        (endpoint, difference)
        for endpoint in result.endpoints
        for difference in endpoint.differences
        if difference.kind == "unknown" and difference.suppressed is None
    ]


def _unknown(endpoint: EndpointResult, difference: Difference) -> _Notice:
    where = _where(difference.source or endpoint.source)
    title = f"unknown: {endpoint.name} {difference.path}"
    message = f"{_label(endpoint)}: {difference.path} {_describe(difference)}"
    line = command("notice", {**where, "title": title}, message)
    return _Notice(line, "unknown", f"{_label(endpoint)}: {difference.path}")


_describe = Wording(
    unknown="was not compared: its live value was withheld (redacted snapshot)",
    redacted={
        "changed": "differs between declared and live (value redacted)",
        "missing": "is declared but absent live (value redacted)",
        "extra": "is set live but not declared (value redacted)",
    },
    missing="is declared {declared} but absent live",
    extra="is set live to {live} but not declared",
    changed="is declared {declared}, live {live}",
).describe


def _missing(endpoint: EndpointResult) -> str:
    title = f"missing: {endpoint.name}"
    message = f"{_label(endpoint)} is declared, but no live endpoint matches"
    message += _status(endpoint.status, endpoint.first_seen)
    return command("error", {**_where(endpoint.source), "title": title}, message)


def _unmanaged(endpoint: EndpointResult, failing: bool) -> str:
    message = f"{_label(endpoint)} is live, but no spec declares it"
    if failing:
        message += " (--unmanaged fail)"
    message += _status(endpoint.status, endpoint.first_seen)
    return command(
        "error" if failing else "warning", {"title": "unmanaged endpoint"}, message
    )


def _summary(result: CheckResult, annotations: list[str]) -> str:
    summary = result.summary
    errors = sum(line.startswith("::error") for line in annotations)
    warnings = sum(line.startswith("::warning") for line in annotations)
    counted = [d for e in result.endpoints for d in e.differences if d.counts]
    conflicts = sum(d.change == "conflict" for d in counted)
    planned = len(_planned_fields(result))
    unknown_fields = len(_unknown_fields(result))
    text = (
        f"{summary.declared} declared: {summary.in_sync} in sync, "
        f"{summary.drifted} drifted, "
    )
    if result.base_ref is not None or summary.planned:
        text += f"{summary.planned} planned, "
    if summary.unknown:
        text += f"{summary.unknown} unknown, "
    text += f"{summary.missing} missing"
    if result.unmanaged_policy != "ignore":
        text += f"; {summary.unmanaged} unmanaged"
    text += f"; {count(len(counted), 'difference')}"
    if conflicts:
        text += f" ({count(conflicts, 'conflict')})"
    if planned:
        text += f"; {count(planned, 'planned change')}"
    if unknown_fields:
        text += f"; {count(unknown_fields, 'unknown field')}"
    if summary.ignored:
        text += f"; {count(summary.ignored, 'ignored difference')}"
    if summary.unhealthy:
        text += f"; {count(summary.unhealthy, 'unhealthy endpoint')}"
    if result.baseline is not None:
        text += f"; {summary.new} new, {summary.resolved} resolved since the baseline"
    if summary.gpu_capacity_change:
        text += f"; GPU capacity {summary.gpu_capacity_change:+d} from drift"

    if result.failing():
        text += ". Drift found."
    elif result.exit_code():
        text += ". Unhealthy endpoints fail the run (--require-healthy)."
    elif summary.drifted or summary.missing:
        text += ". No new drift; known drift does not fail the run (--fail-on new)."
    elif summary.unknown:
        text += (
            ". No drift found, but unknown endpoints could not be fully compared: "
            "the live list was a redacted snapshot."
        )
    elif summary.planned:
        text += ". In sync apart from planned changes."
    else:
        text += ". In sync."
    if max(errors, warnings) > ANNOTATION_LIMIT:
        text += (
            f" GitHub shows at most {ANNOTATION_LIMIT} error and {ANNOTATION_LIMIT} "
            f"warning annotations per step; this run has {errors} errors and "
            f"{warnings} warnings, all in this step's log and the job summary."
        )
    return command("notice", {"title": "driftcheck summary"}, text)
