"""The JSON report, described by schemas/report.schema.json."""

from __future__ import annotations

import io
import json
from typing import Any

from driftcheck.formats import ReportOptions
from driftcheck.model import CheckResult, Difference, EndpointResult, Location

SCHEMA_VERSION = 1


def render(result: CheckResult, options: ReportOptions) -> str:
    # Written piece by piece: json.dumps would first collect every piece in a list
    # several times the size of the report.
    out = io.StringIO()
    json.dump(to_document(result), out, indent=2)
    out.write("\n")
    return out.getvalue()


def to_document(result: CheckResult) -> dict[str, Any]:
    """The report as plain data, for JSON and for formats built on it."""
    return {
        "schema_version": SCHEMA_VERSION,
        "checked_at": result.checked_at,
        "base_ref": result.base_ref,
        "baseline": result.baseline,
        "summary": result.summary.as_dict(),
        "endpoints": [_endpoint(e) for e in result.endpoints],
        "resolved": [
            {
                "endpoint": r.endpoint,
                "path": r.path,
                "kind": r.kind,
                "first_seen": r.first_seen,
            }
            for r in result.resolved
        ],
    }


def _endpoint(endpoint: EndpointResult) -> dict[str, Any]:
    capacity = endpoint.capacity
    return {
        "name": endpoint.name,
        "id": endpoint.id,
        "state": endpoint.state,
        "plan": endpoint.plan,
        "source": _source(endpoint.source),
        "first_seen": endpoint.first_seen,
        "status": endpoint.status,
        "health": list(endpoint.health),
        "gpu_capacity": None
        if capacity is None
        else {
            "declared": capacity.declared,
            "live": capacity.live,
            "change": capacity.change,
        },
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
        "change": difference.change,
        "first_seen": difference.first_seen,
        "status": difference.status,
    }


def _suppressed(difference: Difference) -> dict[str, str] | None:
    if difference.suppressed is None:
        return None
    return {"reason": difference.suppressed.reason, "rule": difference.suppressed.rule}


def _source(location: Location | None) -> dict[str, Any] | None:
    if location is None:
        return None
    return {"file": location.file, "line": location.line}
