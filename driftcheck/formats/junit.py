"""The JUnit XML report, in the shape of Jenkins' junit-10 schema.

One test case per declared endpoint, named by the endpoint and classed by its spec
file: in sync passes, drifted and missing fail, and unknown (a redacted snapshot
withheld live values it declares) is skipped. Differences an ignore rule matched never
fail a case; they are listed, with the rule's reason, in its <system-out>. Unmanaged
endpoints are test cases of class "live", skipped under --unmanaged warn and failing
under --unmanaged fail.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from driftcheck.formats import ReportOptions
from driftcheck.model import CheckResult, Difference, EndpointResult, Suppression
from driftcheck.textsafe import clean, show_value

SUITE_NAME = "driftcheck"
UNMANAGED_CLASS = "live"
_WITHHELD = {
    "changed": "the values differ (withheld: sensitive)",
    "missing": "declared, absent live (value withheld: sensitive)",
    "extra": "not declared, set live (value withheld: sensitive)",
}


def render(result: CheckResult, options: ReportOptions) -> str:
    """The report; its timestamp is the current time in UTC."""
    root = to_element(result, datetime.now(timezone.utc))
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


def _case(endpoint: EndpointResult, result: CheckResult) -> ET.Element:
    classname = clean(endpoint.source.file) if endpoint.source else UNMANAGED_CLASS
    case = ET.Element(
        "testcase", {"name": clean(endpoint.name), "classname": classname, "time": "0"}
    )
    unknown = [_line(d) for d in endpoint.differences if _unknown(d)]

    if endpoint.state == "drifted":
        counted = [d for d in endpoint.differences if d.counts]
        count = len(counted)
        fields = "1 field differs" if count == 1 else f"{count} fields differ"
        failure = ET.SubElement(
            case, "failure", {"message": f"{fields} from the spec", "type": "drift"}
        )
        failure.text = "\n".join(_line(d) for d in counted)
    elif endpoint.state == "unknown":
        fields = "1 field" if len(unknown) == 1 else f"{len(unknown)} fields"
        values = "value" if len(unknown) == 1 else "values"
        message = (
            f"not fully compared: a redacted snapshot withheld the live {values} of "
            f"{fields}"
        )
        ET.SubElement(case, "skipped", {"message": message}).text = "\n".join(unknown)
    elif endpoint.state == "missing":
        ET.SubElement(
            case,
            "failure",
            {"message": "declared, but no live endpoint matches", "type": "missing"},
        ).text = f"{_where(endpoint)}{_label(endpoint)} is declared, but not live"
    elif endpoint.state == "unmanaged":
        message = f"live endpoint {_label(endpoint)} is declared by no spec"
        if result.unmanaged_policy == "fail":
            ET.SubElement(
                case, "failure", {"message": message, "type": "unmanaged"}
            ).text = message
        else:
            ET.SubElement(case, "skipped", {"message": message})

    # What did not decide the case: ignored differences, unknown fields if drifted.
    notes = [_ignored(d, d.suppressed) for d in endpoint.differences if d.suppressed]
    if endpoint.state == "drifted":
        notes = unknown + notes
    if notes:
        ET.SubElement(case, "system-out").text = "\n".join(notes)
    return case


def _unknown(difference: Difference) -> bool:
    return difference.kind == "unknown" and difference.suppressed is None


def _ignored(difference: Difference, suppression: Suppression) -> str:
    reason = clean(suppression.reason)
    return f"ignored: {_line(difference)}; {reason} ({clean(suppression.rule)})"


def _line(difference: Difference) -> str:
    where = f" (line {difference.source.line})" if difference.source else ""
    path = clean(difference.path)
    if difference.kind == "unknown":
        return (
            f"{path}: live value withheld in a redacted snapshot, not compared{where}"
        )
    if difference.redacted:
        return f"{path}: {_WITHHELD[difference.kind]}{where}"
    declared = show_value(difference.declared)
    live = show_value(difference.live)
    if difference.kind == "missing":
        return f"{path}: declared {declared}, absent live{where}"
    if difference.kind == "extra":
        return f"{path}: not declared, live {live}{where}"
    return f"{path}: declared {declared}, live {live}{where}"


def _label(endpoint: EndpointResult) -> str:
    name = clean(endpoint.name)
    return f"{name} ({clean(endpoint.id)})" if endpoint.id else name


def _where(endpoint: EndpointResult) -> str:
    return f"{clean(str(endpoint.source))}: " if endpoint.source else ""
