"""GitHub Actions workflow commands: one annotation per problem, then a summary notice.

Differences and missing endpoints are errors, unmanaged endpoints warnings (errors
under --unmanaged fail), fields a redacted snapshot withheld notices. A difference an
ignore rule matched gets no annotation; the summary counts it, and the job summary
lists it.

Every piece of text is escaped the way the Actions toolkit escapes it, so nothing a
spec or the API holds can end a command early or start one of its own.
"""

from __future__ import annotations

import re

from driftcheck.formats import ReportOptions
from driftcheck.model import CheckResult, Difference, EndpointResult, Location
from driftcheck.textsafe import clean, show_value

# GitHub shows this many annotations of each kind (error, warning, notice) a step.
ANNOTATION_LIMIT = 10

_LINE_BREAK = re.compile(r"(\r|\n)")


def render(result: CheckResult, options: ReportOptions) -> str:
    lines: list[str] = []
    failing = result.unmanaged_policy == "fail"

    for endpoint in result.endpoints:
        if endpoint.state == "drifted":
            lines.extend(_drift(endpoint, d) for d in endpoint.differences if d.counts)
        elif endpoint.state == "missing":
            lines.append(_missing(endpoint))
        elif endpoint.state == "unmanaged":
            lines.append(_unmanaged(endpoint, failing))
    lines.extend(_unknown_notices(_unknown_fields(result)))

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


def _drift(endpoint: EndpointResult, difference: Difference) -> str:
    where = _where(difference.source or endpoint.source)
    title = f"drift: {endpoint.name} {difference.path}"
    message = f"{_label(endpoint)}: {difference.path} {_describe(difference)}"
    return command("error", {**where, "title": title}, message)


def _unknown_fields(result: CheckResult) -> list[tuple[EndpointResult, Difference]]:
    return [
        (endpoint, difference)
        for endpoint in result.endpoints
        for difference in endpoint.differences
        if difference.kind == "unknown" and difference.suppressed is None
    ]


def _unknown_notices(found: list[tuple[EndpointResult, Difference]]) -> list[str]:
    """A notice per unknown field, leaving one of the ten for the summary notice.

    Past that, the fields that do not fit share one notice, so none is left out of
    the log and the summary stays on the run's page.
    """
    if len(found) < ANNOTATION_LIMIT:
        return [_unknown(endpoint, difference) for endpoint, difference in found]

    shown, rest = found[: ANNOTATION_LIMIT - 2], found[ANNOTATION_LIMIT - 2 :]
    fields = "; ".join(f"{_label(e)}: {d.path}" for e, d in rest)
    message = (
        f"{len(rest)} more fields were not compared, their live values withheld in "
        f"a redacted snapshot: {fields}"
    )
    folded = command("notice", {"title": "unknown fields"}, message)
    return [*(_unknown(e, d) for e, d in shown), folded]


def _unknown(endpoint: EndpointResult, difference: Difference) -> str:
    where = _where(difference.source or endpoint.source)
    title = f"unknown: {endpoint.name} {difference.path}"
    message = f"{_label(endpoint)}: {difference.path} {_describe(difference)}"
    return command("notice", {**where, "title": title}, message)


def _describe(difference: Difference) -> str:
    if difference.kind == "unknown":
        return "was not compared: its live value was withheld (redacted snapshot)"
    if difference.redacted:
        return {
            "changed": "differs between declared and live (value redacted)",
            "missing": "is declared but absent live (value redacted)",
            "extra": "is set live but not declared (value redacted)",
        }[difference.kind]
    declared = show_value(difference.declared)
    live = show_value(difference.live)
    if difference.kind == "missing":
        return f"is declared {declared} but absent live"
    if difference.kind == "extra":
        return f"is set live to {live} but not declared"
    return f"is declared {declared}, live {live}"


def _missing(endpoint: EndpointResult) -> str:
    title = f"missing: {endpoint.name}"
    message = f"{_label(endpoint)} is declared, but no live endpoint matches"
    return command("error", {**_where(endpoint.source), "title": title}, message)


def _unmanaged(endpoint: EndpointResult, failing: bool) -> str:
    message = f"{_label(endpoint)} is live, but no spec declares it"
    if failing:
        message += " (--unmanaged fail)"
    return command(
        "error" if failing else "warning", {"title": "unmanaged endpoint"}, message
    )


def _summary(result: CheckResult, annotations: list[str]) -> str:
    summary = result.summary
    errors = sum(line.startswith("::error") for line in annotations)
    warnings = sum(line.startswith("::warning") for line in annotations)
    differences = sum(d.counts for e in result.endpoints for d in e.differences)
    unknown_fields = len(_unknown_fields(result))
    text = (
        f"{summary.declared} declared: {summary.in_sync} in sync, "
        f"{summary.drifted} drifted, "
    )
    if summary.unknown:
        text += f"{summary.unknown} unknown, "
    text += f"{summary.missing} missing"
    if result.unmanaged_policy != "ignore":
        text += f"; {summary.unmanaged} unmanaged"
    text += f"; {_count(differences, 'difference')}"
    if unknown_fields:
        text += f"; {_count(unknown_fields, 'unknown field')}"
    if summary.ignored:
        text += f"; {_count(summary.ignored, 'ignored difference')}"
    if result.exit_code():
        text += ". Drift found."
    elif summary.unknown:
        text += (
            ". No drift found, but unknown endpoints could not be fully compared: "
            "the live list was a redacted snapshot."
        )
    else:
        text += ". In sync."
    if max(errors, warnings) > ANNOTATION_LIMIT:
        text += (
            f" GitHub shows at most {ANNOTATION_LIMIT} error and {ANNOTATION_LIMIT} "
            f"warning annotations per step; this run has {errors} errors and "
            f"{warnings} warnings, all in this step's log and the job summary."
        )
    return command("notice", {"title": "driftcheck summary"}, text)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
