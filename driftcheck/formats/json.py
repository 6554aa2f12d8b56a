"""The JSON report, described by schemas/report.schema.json."""

from __future__ import annotations

import json
from typing import Any

from driftcheck.formats import ReportOptions
from driftcheck.model import CheckResult, Difference, EndpointResult, Location

SCHEMA_VERSION = 1


def render(result: CheckResult, options: ReportOptions) -> str:
    return json.dumps(to_document(result), indent=2) + "\n"


def to_document(result: CheckResult) -> dict[str, Any]:
    """The report as plain data, for JSON and for formats built on it."""
    return {
        "schema_version": SCHEMA_VERSION,
        "summary": result.summary.as_dict(),
        "endpoints": [_endpoint(e) for e in result.endpoints],
    }


def _endpoint(endpoint: EndpointResult) -> dict[str, Any]:
    return {
        "name": endpoint.name,
        "id": endpoint.id,
        "state": endpoint.state,
        "source": _source(endpoint.source),
        "differences": [_difference(d) for d in endpoint.differences],
    }


def _difference(difference: Difference) -> dict[str, Any]:
    return {
        "path": difference.path,
        "kind": difference.kind,
        "declared": difference.declared,
        "live": difference.live,
        "redacted": difference.redacted,
        "source": _source(difference.source),
        "suppressed": _suppressed(difference),
    }


def _suppressed(difference: Difference) -> dict[str, str] | None:
    if difference.suppressed is None:
        return None
    return {"reason": difference.suppressed.reason, "rule": difference.suppressed.rule}


def _source(location: Location | None) -> dict[str, Any] | None:
    if location is None:
        return None
    return {"file": location.file, "line": location.line}
