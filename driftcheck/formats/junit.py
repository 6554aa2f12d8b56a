"""The JUnit XML report, in the shape of Jenkins' junit-10 schema.

One test case per declared endpoint, named by the endpoint and classed by its spec
file: in sync passes, drifted and missing fail, and unknown (a redacted snapshot
withheld live values it declares) is skipped. Differences an ignore rule matched never
fail a case; they are listed, with the rule's reason, in its <system-out>. Unmanaged
endpoints are test cases of class "live", skipped under --unmanaged warn and failing
under --unmanaged fail.

Against a base ref, planned changes (a field, or creating or deleting an endpoint)
pass and are listed in <system-out>; conflicts fail like drift. Health warnings are
listed there too, and fail the case under --require-healthy. Against a baseline,
each finding says whether it is new and when it was first seen; under --fail-on new,
a case whose findings are all known passes and lists them instead.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from driftcheck.formats import ReportOptions
from driftcheck.formats.wording import Wording, count
from driftcheck.model import (
    Capacity,
    CheckResult,
    Difference,
    EndpointResult,
    Status,
    Suppression,
)
from driftcheck.textsafe import clean

SUITE_NAME = "driftcheck"
UNMANAGED_CLASS = "live"
_describe = Wording(
    unknown="live value withheld in a redacted snapshot, not compared",
    redacted={
        "changed": "the values differ (withheld: sensitive)",
        "missing": "declared, absent live (value withheld: sensitive)",
        "extra": "not declared, set live (value withheld: sensitive)",
    },
    missing="declared {declared}, absent live",
    extra="not declared, live {live}",
    changed="declared {declared}, live {live}",
).describe


def render(result: CheckResult, options: ReportOptions) -> str:
    """The report; its timestamp is the time of the run, in UTC."""
    root = to_element(result, _checked_at(result) or datetime.now(timezone.utc))
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def to_element(result: CheckResult, now: datetime) -> ET.Element:
    """The <testsuites> element; every text taken from specs or the API is cleaned."""
    cases = [_case(endpoint, result) for endpoint in result.endpoints]
    failures = sum(1 for case in cases if case.find("failure") is not None)
    skipped = sum(1 for case in cases if case.find("skipped") is not None)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": "0"}

    root = ET.Element("testsuites", {"name": SUITE_NAME, "time": "0", **counts})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": SUITE_NAME,
            **counts,
            "skipped": str(skipped),
            "time": "0",
            "timestamp": now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        },
    )
    suite.extend(cases)
    return root


def _checked_at(result: CheckResult) -> datetime | None:
    if result.checked_at is None:
        return None
    try:
        when = datetime.fromisoformat(result.checked_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _case(endpoint: EndpointResult, result: CheckResult) -> ET.Element:
    classname = clean(endpoint.source.file) if endpoint.source else UNMANAGED_CLASS
    case = ET.Element(
        "testcase", {"name": clean(endpoint.name), "classname": classname, "time": "0"}
    )
    unknown = [_line(d) for d in endpoint.differences if _unknown(d)]
    # Under --fail-on new, findings all known from the baseline pass the case.
    passes = result.fail_on == "new" and endpoint.status == "known"
    # Under --require-healthy, health warnings fail a case that would be skipped.
    unhealthy = bool(endpoint.health) and result.require_healthy
    # What did not decide the case: planned changes, health warnings, ignored
    # differences, unknown fields if drifted, known findings under --fail-on new.
    notes = [f"planned: {_line(d)}" for d in endpoint.differences if _planned(d)]
    failure: ET.Element | None = None

    if endpoint.state == "drifted":
        counted = [d for d in endpoint.differences if d.counts]
        differing = len(counted)
        fields = "1 field differs" if differing == 1 else f"{differing} fields differ"
        conflicts = sum(d.change == "conflict" for d in counted)
        message = f"{fields} from the spec"
        if conflicts:
            message += f" ({conflicts} in conflict with this change)"
        text = "\n".join(_line(d) for d in counted)
        if endpoint.capacity is not None:
            text += f"\n{_capacity(endpoint.capacity)}"
        if result.fail_on == "new" and all(d.status == "known" for d in counted):
            notes = [f"known drift (--fail-on new): {message}", text, *notes]
        else:
            failure = ET.SubElement(
                case, "failure", {"message": message, "type": "drift"}
            )
            failure.text = text
        notes += unknown
    elif endpoint.state == "unknown":
        fields = "1 field" if len(unknown) == 1 else f"{len(unknown)} fields"
        values = "value" if len(unknown) == 1 else "values"
        message = (
            f"not fully compared: a redacted snapshot withheld the live {values} of "
            f"{fields}"
        )
        if unhealthy:
            notes = [message, *unknown, *notes]
        else:
            skipped = ET.SubElement(case, "skipped", {"message": message})
            skipped.text = "\n".join(unknown)
    elif endpoint.state == "missing":
        message = "declared, but no live endpoint matches"
        text = f"{_where(endpoint)}{_label(endpoint)} is declared, but not live"
        text += _status(endpoint.status, endpoint.first_seen)
        if passes:
            notes.insert(0, f"known (--fail-on new): {text}")
        else:
            failure = ET.SubElement(
                case, "failure", {"message": message, "type": "missing"}
            )
            failure.text = text
    elif endpoint.state == "unmanaged":
        message = f"live endpoint {_label(endpoint)} is declared by no spec"
        status = _status(endpoint.status, endpoint.first_seen)
        if result.unmanaged_policy == "fail" and not passes:
            failure = ET.SubElement(
                case, "failure", {"message": message, "type": "unmanaged"}
            )
            failure.text = message + status
        elif unhealthy:
            notes.insert(0, message + status)
        else:
            ET.SubElement(case, "skipped", {"message": message + status})
    elif endpoint.plan == "create":
        notes.insert(0, "planned: added by this change; the deploy will create it")
    elif endpoint.plan == "delete":
        # Its spec is at the base ref: `ref:file`, and its class name says so.
        notes.insert(
            0,
            "planned: removed by this change but still live; the deploy will delete it",
        )

    health = [f"health: {clean(warning)}" for warning in endpoint.health]
    if unhealthy:
        if failure is None:
            message = count(len(health), "health warning")
            failure = ET.SubElement(
                case, "failure", {"message": message, "type": "unhealthy"}
            )
            failure.text = "\n".join(health)
        else:
            failure.text = "\n".join([failure.text or "", *health])
    else:
        notes += health
    notes += [_ignored(d, d.suppressed) for d in endpoint.differences if d.suppressed]
    if notes:
        ET.SubElement(case, "system-out").text = "\n".join(notes)
    return case


def _capacity(capacity: Capacity) -> str:
    return (
        f"GPU capacity (gpu_num x max_replicas): declared {capacity.declared}, "
        f"live {capacity.live} ({capacity.change:+d})"
    )


def _planned(difference: Difference) -> bool:
    return difference.planned and difference.kind != "unknown"


def _status(status: Status | None, first_seen: str | None) -> str:
    """Whether a finding is new since the baseline, and when it was first seen."""
    words = _baseline(status, first_seen)
    return f" [{words}]" if words else ""


def _baseline(status: Status | None, first_seen: str | None) -> str:
    if status is None:
        return ""
    return f"{status}, first seen {clean(first_seen)}" if first_seen else status


def _unknown(difference: Difference) -> bool:
    return difference.kind == "unknown" and difference.suppressed is None


def _ignored(difference: Difference, suppression: Suppression) -> str:
    reason = clean(suppression.reason)
    return f"ignored: {_line(difference)}; {reason} ({clean(suppression.rule)})"


def _line(difference: Difference) -> str:
    where = f" (line {difference.source.line})" if difference.source else ""
    tags = _tags(difference)
    text = f"{clean(difference.path)}: {_describe(difference)}{where}"
    return text if difference.kind == "unknown" else text + tags


def _tags(difference: Difference) -> str:
    """Conflict, then new or known with first_seen, for a difference that counts."""
    if not difference.counts:
        return ""
    tags = ["conflict"] if difference.change == "conflict" else []
    tags.append(_baseline(difference.status, difference.first_seen))
    shown = [tag for tag in tags if tag]
    return f" [{'; '.join(shown)}]" if shown else ""


def _label(endpoint: EndpointResult) -> str:
    name = clean(endpoint.name)
    return f"{name} ({clean(endpoint.id)})" if endpoint.id else name


def _where(endpoint: EndpointResult) -> str:
    return f"{clean(str(endpoint.source))}: " if endpoint.source else ""
