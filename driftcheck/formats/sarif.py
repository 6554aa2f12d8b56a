"""The SARIF 2.1.0 report, shaped for GitHub code scanning.

Each difference, missing endpoint and unmanaged endpoint is one result. Code scanning
rejects a whole upload if any result lacks a file location, so every result points at
a spec file, by a path relative to the repository root. A difference an ignore rule
matched is a result with a suppression, which code scanning shows as dismissed; one
whose live value a redacted snapshot withheld is a note.

Against a base ref, planned changes (fields and whole endpoints) are notes of their own
rules, and conflicts errors of theirs; against a baseline, each result says whether it
is new. Health warnings are results of one more rule. Rules are only ever added at the
end, so a rule keeps its index, and a finding keeps its fingerprint whatever it is
classified as.
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
from driftcheck.formats.wording import Wording
from driftcheck.model import (
    CheckResult,
    Difference,
    EndpointResult,
    Location,
    Status,
)
from driftcheck.repo import relative_to_root, repository_root
from driftcheck.textsafe import clean

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
    Rule(
        id="DC007",
        name="FieldChangePlanned",
        short="A change this pull request makes, not live yet",
        full="The specs at the base ref and live agree on a field that this change "
        "sets differently: the deploy will apply it. It is not drift.",
        help="Nothing to do before merging; deploying the change applies it. A "
        "planned change does not fail the run.",
        help_markdown="Nothing to do before merging; deploying the change applies "
        "it. A planned change does not fail the run.",
        level="note",
    ),
    Rule(
        id="DC008",
        name="FieldConflict",
        short="A field changed by hand that this pull request changes too",
        full="The live value differs both from the specs at the base ref and from "
        "this change: someone changed the endpoint by hand, and deploying the change "
        "would overwrite that.",
        help="Decide which value to keep: put the live value in the spec, or deploy "
        "the change knowing it replaces the change made by hand.",
        help_markdown="Decide which value to keep: put the live value in the spec, or "
        "deploy the change knowing it replaces the change made by hand.",
        level="error",
    ),
    Rule(
        id="DC009",
        name="EndpointChangePlanned",
        short="An endpoint this pull request creates or deletes",
        full="This change adds a spec for an endpoint that is not live yet, or "
        "removes the spec of an endpoint that is still live: the deploy will create "
        "or delete it. A deleted endpoint's spec exists only at the base ref, so its "
        "result points at the first line of the first spec file of the run.",
        help="Nothing to do before merging if the creation or deletion is meant. A "
        "planned change does not fail the run.",
        help_markdown="Nothing to do before merging if the creation or deletion is "
        "meant. A planned change does not fail the run.",
        level="note",
    ),
    Rule(
        id="DC010",
        name="EndpointUnhealthy",
        short="A live endpoint is not running or has unhealthy workers",
        full="The live endpoint's status is not running, or some of its workers "
        "report that they are unhealthy. This is not drift: the spec and the "
        "endpoint may agree.",
        help="Look at the endpoint's logs and events. It is a warning, and an error "
        "under --require-healthy.",
        help_markdown="Look at the endpoint's logs and events. It is a warning, and "
        "an error under `--require-healthy`.",
        level="warning",
    ),
)
RULE_INDEX = {rule.id: index for index, rule in enumerate(RULES)}
DIFFERENCE_RULES = {
    "changed": "DC001",
    "missing": "DC002",
    "extra": "DC003",
    "unknown": "DC006",
}

CAPACITY_FIELDS = ("worker_config.gpu_num", "worker_config.max_replicas")


def render(result: CheckResult, options: ReportOptions) -> str:
    return json.dumps(to_document(result, repository_root()), indent=2) + "\n"


def to_document(result: CheckResult, root: Path) -> dict[str, Any]:
    """The SARIF log as plain data, with spec paths relative to `root`."""
    anchor = _first_spec_file(result)
    unmanaged_level = "error" if result.unmanaged_policy == "fail" else "warning"
    health_level = "error" if result.require_healthy else "warning"
    # Each result, with its finding's baseline status and first_seen.
    found: list[tuple[dict[str, Any], Status | None, str | None]] = []

    for endpoint in result.endpoints:
        if endpoint.plan in ("create", "delete"):
            found.append((_planned(endpoint, root, anchor), None, None))
        elif endpoint.state in ("drifted", "unknown", "in_sync", "planned"):
            # In sync or unknown, an endpoint may still have suppressed differences.
            found.extend(
                (_difference(endpoint, d, root, result.base_ref), *_seen(d))
                for d in endpoint.differences
            )
        elif endpoint.state == "missing":
            found.append((_missing(endpoint, root), *_seen(endpoint)))
        elif endpoint.state == "unmanaged":
            unmanaged = _unmanaged(endpoint, unmanaged_level, _anchor(anchor, root))
            found.append((unmanaged, *_seen(endpoint)))
        if endpoint.health:
            unhealthy = _unhealthy(endpoint, health_level, root, anchor)
            found.append((unhealthy, None, None))

    results: list[dict[str, Any]] = []
    unanchored: list[dict[str, Any]] = []
    for item, status, first_seen in found:
        if result.baseline is not None and status is not None:
            item["baselineState"] = "new" if status == "new" else "unchanged"
        if first_seen is not None:
            item["properties"]["first_seen"] = clean(first_seen)
        if "physicalLocation" in item["locations"][0]:
            results.append(item)
        else:
            unanchored.append(_notification(item))

    run: dict[str, Any] = {"tool": {"driver": _driver()}, "results": results}
    if unanchored:
        # No spec file to point at. A result without one would make code scanning
        # reject the whole upload, so these travel as notifications instead.
        run["invocations"] = [
            {"executionSuccessful": True, "toolExecutionNotifications": unanchored}
        ]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _seen(finding: Difference | EndpointResult) -> tuple[Status | None, str | None]:
    return finding.status, finding.first_seen


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
    endpoint: EndpointResult,
    difference: Difference,
    root: Path,
    base_ref: str | None = None,
) -> dict[str, Any]:
    kind_rule = DIFFERENCE_RULES[difference.kind]
    rule_id = kind_rule
    text = f"{_label(endpoint)}: {clean(difference.path)} {_describe(difference)}"
    if difference.kind != "unknown" and difference.change == "planned":
        rule_id = "DC007"
        text += "; this change sets it, and the deploy will apply it"
    elif difference.kind != "unknown" and difference.change == "conflict":
        rule_id = "DC008"
        text += (
            f"; conflict: live differs both from {clean(base_ref or 'the base ref')} "
            "and from this change"
        )
    # The fields that make up GPU capacity say what their drift does to it.
    capacity = endpoint.capacity if difference.path in CAPACITY_FIELDS else None
    if capacity is not None and difference.counts:
        text += (
            f"; GPU capacity (gpu_num x max_replicas): declared {capacity.declared}, "
            f"live {capacity.live} ({capacity.change:+d})"
        )
    where = difference.source or endpoint.source
    found = _result(
        rule_id,
        RULES[RULE_INDEX[rule_id]].level,
        text,
        endpoint,
        _physical(where, root) if where else None,
        # The same print suppressed or not, planned or drift or conflict, so an
        # alert keeps its identity when an ignore rule or the base ref changes.
        fingerprint(kind_rule, endpoint.name, difference.path),
        path=difference.path,
    )
    if capacity is not None and difference.counts:
        found["properties"]["gpu_capacity"] = {
            "declared": capacity.declared,
            "live": capacity.live,
            "change": capacity.change,
        }
    if difference.change is not None:
        found["properties"]["change"] = difference.change
    if difference.suppressed is not None:
        reason = difference.suppressed.reason
        justification = f"{reason} ({difference.suppressed.rule})"
        found["suppressions"] = [
            {"kind": "external", "justification": clean(justification)}
        ]
    return found


_describe = Wording(
    unknown="was not compared: its live value was withheld in a redacted snapshot",
    redacted={
        "changed": "differs from the spec (values withheld: sensitive)",
        "missing": "is declared but absent live (value withheld: sensitive)",
        "extra": "is set live but not declared (value withheld: sensitive)",
    },
    missing="is declared as {declared} but absent live",
    extra="is {live} live but not declared",
    changed="is {declared} in the spec but {live} live",
).describe


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
    endpoint: EndpointResult, level: str, physical: dict[str, Any] | None
) -> dict[str, Any]:
    return _result(
        "DC005",
        level,
        f"live endpoint {_label(endpoint)} is declared by no spec",
        endpoint,
        physical,
        fingerprint("DC005", _identity(endpoint), ""),
    )


def _planned(
    endpoint: EndpointResult, root: Path, anchor: Location | None
) -> dict[str, Any]:
    """A planned creation at its spec, or a planned deletion at the anchor.

    Fingerprinted as the missing or unmanaged endpoint it is without a base ref.
    """
    if endpoint.plan == "create":
        text = (
            f"{_label(endpoint)} is added by this change and not live yet; the "
            "deploy will create it"
        )
        physical = _physical(endpoint.source, root) if endpoint.source else None
        identity = fingerprint("DC004", endpoint.name, "")
    else:
        where = (
            f" (declared at {clean(str(endpoint.source))})" if endpoint.source else ""
        )
        text = (
            f"{_label(endpoint)} is removed by this change{where} but still live; "
            "the deploy will delete it"
        )
        physical = _anchor(anchor, root)
        identity = fingerprint("DC005", _identity(endpoint), "")
    found = _result("DC009", "note", text, endpoint, physical, identity)
    found["properties"]["plan"] = endpoint.plan or ""
    return found


def _unhealthy(
    endpoint: EndpointResult, level: str, root: Path, anchor: Location | None
) -> dict[str, Any]:
    warnings = "; ".join(clean(warning) for warning in endpoint.health)
    physical = (
        _physical(endpoint.source, root)
        if endpoint.source is not None and endpoint.plan != "delete"
        else _anchor(anchor, root)
    )
    found = _result(
        "DC010",
        level,
        f"{_label(endpoint)} is not healthy: {warnings}",
        endpoint,
        physical,
        fingerprint("DC010", _identity(endpoint), ""),
    )
    found["properties"]["health"] = [clean(warning) for warning in endpoint.health]
    return found


def _identity(endpoint: EndpointResult) -> str:
    """A declared endpoint is known by its spec's name; a live one by its id, as no
    spec keeps live names unique."""
    return endpoint.name if endpoint.declared else endpoint.id or endpoint.name


def _anchor(anchor: Location | None, root: Path) -> dict[str, Any] | None:
    return _physical(anchor, root) if anchor is not None else None


def _notification(found: dict[str, Any]) -> dict[str, Any]:
    """A result that has no file to point at, as a tool notification."""
    rule_id = found["ruleId"]
    return {
        "level": found["level"],
        "message": found["message"],
        "locations": found["locations"],
        "associatedRule": {"id": rule_id, "index": RULE_INDEX[rule_id]},
    }


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
    properties: dict[str, Any] = {"endpoint": clean(endpoint.name)}
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
        # A planned deletion's spec is at the base ref, not in the working tree.
        if endpoint.source is not None and endpoint.plan != "delete":
            return Location(endpoint.source.file, 1)
    return None


def _no_links(text: str) -> str:
    """Escape brackets a SARIF viewer would read as an embedded link."""
    if "](" not in text:
        return text
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
