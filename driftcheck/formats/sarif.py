"""The SARIF 2.1.0 report, shaped for GitHub code scanning.

Each difference, missing endpoint and unmanaged endpoint is one result. Code scanning
rejects a whole upload if any result lacks a file location, so every result points at
a spec file, by a path relative to the repository root. A difference an ignore rule
matched is a result with a suppression, which code scanning shows as dismissed; one
whose live value a redacted snapshot withheld is a note.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from driftcheck import __version__
from driftcheck.formats import ReportOptions
from driftcheck.model import CheckResult, Difference, EndpointResult, Location
from driftcheck.repo import relative_to_root, repository_root
from driftcheck.textsafe import clean, show_value

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
# A placeholder until the project has a public home.
INFORMATION_URI = "https://github.com/driftcheck/driftcheck"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "driftcheck/v1"


@dataclass(frozen=True)
class Rule:
    """One kind of finding, as code scanning lists it."""

    id: str
    name: str
    short: str
    full: str
    help: str
    help_markdown: str
    level: str


RULES = (
    Rule(
        id="DC001",
        name="FieldChanged",
        short="A field's live value differs from the spec",
        full="The live endpoint has another value for a field than its spec declares.",
        help="Apply the spec to the endpoint, or put the live value in the spec if "
        "the change is meant to stay.",
        help_markdown="Apply the spec to the endpoint, or put the live value in the "
        "spec if the change is meant to stay.",
        level="error",
    ),
    Rule(
        id="DC002",
        name="FieldNotLive",
        short="A declared field is absent live",
        full="The spec declares a field (a setting, an env variable, a volume) that "
        "the live endpoint does not have.",
        help="Apply the spec to the endpoint, or remove the field from the spec.",
        help_markdown="Apply the spec to the endpoint, or remove the field from the "
        "spec.",
        level="error",
    ),
    Rule(
        id="DC003",
        name="FieldOnlyLive",
        short="A live field is not declared",
        full="The live endpoint has a field (an env variable, a volume) that its spec "
        "does not declare.",
        help="Declare the field in the spec, or remove it from the live endpoint.",
        help_markdown="Declare the field in the spec, or remove it from the live "
        "endpoint.",
        level="error",
    ),
    Rule(
        id="DC004",
        name="EndpointNotLive",
        short="A declared endpoint does not exist live",
        full="A spec declares an endpoint, but no live endpoint matches it by id or "
        "by name.",
        help="Create the endpoint from the spec, or delete the spec if the endpoint "
        "was retired on purpose.",
        help_markdown="Create the endpoint from the spec, or delete the spec if the "
        "endpoint was retired on purpose.",
        level="error",
    ),
    Rule(
        id="DC005",
        name="EndpointUnmanaged",
        short="A live endpoint is declared by no spec",
        full="A live endpoint exists that no spec declares. Code scanning needs a "
        "file for every result, so this one points at the first line of the first "
        "spec file of the run.",
        help="Declare the endpoint in a spec, or delete it if nobody needs it. It is "
        "a warning, and an error under --unmanaged fail.",
        help_markdown="Declare the endpoint in a spec, or delete it if nobody needs "
        "it. It is a warning, and an error under `--unmanaged fail`.",
        level="warning",
    ),
    Rule(
        id="DC006",
        name="FieldUnknown",
        short="A field's live value was withheld, so it was not compared",
        full="The live list compared was a redacted snapshot (driftcheck snapshot), "
        "which replaces secret values with a marker. A declared field whose live "
        "value is such a marker can be called neither drifted nor in sync.",
        help="Run the check against the API, not a snapshot, to compare this field. "
        "An unknown field does not fail the run.",
        help_markdown="Run the check against the API, not a snapshot, to compare this "
        "field. An unknown field does not fail the run.",
        level="note",
    ),
)
RULE_INDEX = {rule.id: index for index, rule in enumerate(RULES)}
DIFFERENCE_RULES = {
    "changed": "DC001",
    "missing": "DC002",
    "extra": "DC003",
    "unknown": "DC006",
}


def render(result: CheckResult, options: ReportOptions) -> str:
    return json.dumps(to_document(result, repository_root()), indent=2) + "\n"


def to_document(result: CheckResult, root: Path) -> dict[str, Any]:
    """The SARIF log as plain data, with spec paths relative to `root`."""
    anchor = _first_spec_file(result)
    unmanaged_level = "error" if result.unmanaged_policy == "fail" else "warning"
    results: list[dict[str, Any]] = []
    unanchored: list[dict[str, Any]] = []

    for endpoint in result.endpoints:
        if endpoint.state in ("drifted", "unknown", "in_sync"):
            # In sync or unknown, an endpoint may still have suppressed differences.
            results.extend(_difference(endpoint, d, root) for d in endpoint.differences)
        elif endpoint.state == "missing":
            results.append(_missing(endpoint, root))
        elif endpoint.state == "unmanaged":
            if anchor is None:
                unanchored.append(_unmanaged(endpoint, unmanaged_level, None))
            else:
                results.append(_unmanaged(endpoint, unmanaged_level, (anchor, root)))

    run: dict[str, Any] = {"tool": {"driver": _driver()}, "results": results}
    if unanchored:
        # No spec file to point at. A result without one would make code scanning
        # reject the whole upload, so these travel as notifications instead.
        run["invocations"] = [
            {"executionSuccessful": True, "toolExecutionNotifications": unanchored}
        ]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def artifact_location(file: str, root: Path) -> dict[str, str]:
    """A spec path as a URI relative to `root`, or as an absolute URI outside it."""
    relative = relative_to_root(file, root)
    if relative is not None:
        return {"uri": _quote(relative), "uriBaseId": SRCROOT}
    path = Path(os.path.abspath(file))
    with contextlib.suppress(OSError, UnicodeError):
        path = path.resolve()
    return {"uri": "file://" + _quote(path.as_posix())}


def _quote(path: str) -> str:
    """Percent-encode a path; bytes that are not UTF-8 keep their original value."""
    try:
        return quote(path, safe="/", errors="surrogateescape")
    except UnicodeError:
        return quote(path, safe="/", errors="backslashreplace")


def fingerprint(rule_id: str, endpoint: str, path: str) -> str:
    """A finding's identity across runs: neither its line nor the values count."""
    digest = hashlib.sha256()
    for part in (rule_id, endpoint, path):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def _driver() -> dict[str, Any]:
    return {
        "name": "driftcheck",
        "version": __version__,
        "informationUri": INFORMATION_URI,
        "rules": [_rule(rule) for rule in RULES],
    }


def _rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.short},
        "fullDescription": {"text": rule.full},
        "help": {"text": rule.help, "markdown": rule.help_markdown},
        "defaultConfiguration": {"level": rule.level},
        "properties": {"tags": ["drift"]},
    }


def _difference(
    endpoint: EndpointResult, difference: Difference, root: Path
) -> dict[str, Any]:
    rule_id = DIFFERENCE_RULES[difference.kind]
    where = difference.source or endpoint.source
    found = _result(
        rule_id,
        RULES[RULE_INDEX[rule_id]].level,
        f"{_label(endpoint)}: {clean(difference.path)} {_describe(difference)}",
        endpoint,
        _physical(where, root) if where else None,
        # The same print suppressed or not, so an alert keeps its identity when an
        # ignore rule comes or goes.
        fingerprint(rule_id, endpoint.name, difference.path),
        path=difference.path,
    )
    if difference.suppressed is not None:
        reason = difference.suppressed.reason
        justification = f"{reason} ({difference.suppressed.rule})"
        found["suppressions"] = [
            {"kind": "external", "justification": clean(justification)}
        ]
    return found


def _describe(difference: Difference) -> str:
    if difference.kind == "unknown":
        return "was not compared: its live value was withheld in a redacted snapshot"
    if difference.redacted:
        return {
            "changed": "differs from the spec (values withheld: sensitive)",
            "missing": "is declared but absent live (value withheld: sensitive)",
            "extra": "is set live but not declared (value withheld: sensitive)",
        }[difference.kind]
    declared = show_value(difference.declared)
    live = show_value(difference.live)
    if difference.kind == "missing":
        return f"is declared as {declared} but absent live"
    if difference.kind == "extra":
        return f"is {live} live but not declared"
    return f"is {declared} in the spec but {live} live"


def _missing(endpoint: EndpointResult, root: Path) -> dict[str, Any]:
    return _result(
        "DC004",
        "error",
        f"{_label(endpoint)} is declared, but no live endpoint matches it",
        endpoint,
        _physical(endpoint.source, root) if endpoint.source else None,
        fingerprint("DC004", endpoint.name, ""),
    )


def _unmanaged(
    endpoint: EndpointResult, level: str, anchor: tuple[Location, Path] | None
) -> dict[str, Any]:
    found = _result(
        "DC005",
        level,
        f"live endpoint {_label(endpoint)} is declared by no spec",
        endpoint,
        _physical(*anchor) if anchor else None,
        # No spec keeps live names unique; ids are.
        fingerprint("DC005", endpoint.id or endpoint.name, ""),
    )
    if anchor is None:
        return {
            "level": level,
            "message": found["message"],
            "locations": found["locations"],
            "associatedRule": {"id": "DC005", "index": RULE_INDEX["DC005"]},
        }
    return found


def _result(
    rule_id: str,
    level: str,
    text: str,
    endpoint: EndpointResult,
    physical: dict[str, Any] | None,
    identity: str,
    path: str | None = None,
) -> dict[str, Any]:
    qualified = endpoint.name if path is None else f"{endpoint.name}.{path}"
    location: dict[str, Any] = (
        {} if physical is None else {"physicalLocation": physical}
    )
    location["logicalLocations"] = [
        {
            "name": clean(endpoint.name),
            "fullyQualifiedName": clean(qualified),
            "kind": "resource",
        }
    ]
    properties = {"endpoint": clean(endpoint.name)}
    if endpoint.id:
        properties["endpoint_id"] = clean(endpoint.id)
    if path is not None:
        properties["path"] = clean(path)
    return {
        "ruleId": rule_id,
        "ruleIndex": RULE_INDEX[rule_id],
        "level": level,
        "message": {"text": _no_links(text)},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: identity},
        "properties": properties,
    }


def _physical(location: Location, root: Path) -> dict[str, Any]:
    return {
        "artifactLocation": artifact_location(location.file, root),
        "region": {"startLine": max(location.line, 1)},
    }


def _label(endpoint: EndpointResult) -> str:
    name = clean(endpoint.name)
    return f"{name} ({clean(endpoint.id)})" if endpoint.id else name


def _first_spec_file(result: CheckResult) -> Location | None:
    for endpoint in result.endpoints:
        if endpoint.source is not None:
            return Location(endpoint.source.file, 1)
    return None


def _no_links(text: str) -> str:
    """Escape brackets a SARIF viewer would read as an embedded link."""
    if "](" not in text:
        return text
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
