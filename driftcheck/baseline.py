"""Reports that remember: compare a run's findings with an earlier JSON report.

A finding is identified by endpoint name, field path and kind, so the same drift
keeps its `first_seen` across runs whatever its values do; a finding of the
baseline that this run no longer has is listed as resolved.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

from driftcheck.errors import UsageError
from driftcheck.model import CheckResult, Difference, EndpointResult, Resolved

Key = tuple[str, str, str]


def now_utc() -> str:
    """The current time as the reports write it: UTC, ISO 8601, to the second.

    SOURCE_DATE_EPOCH, when set, stands for the current time, so that two runs on
    the same inputs give byte-identical reports.
    """
    fixed = os.environ.get("SOURCE_DATE_EPOCH", "")
    if fixed.isdigit():
        when = datetime.fromtimestamp(int(fixed), timezone.utc)
    else:
        when = datetime.now(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _findings(
    result: CheckResult,
) -> Iterator[tuple[Key, EndpointResult | Difference]]:
    """Every finding of a run, with the key that identifies it across runs.

    An endpoint that is missing or unmanaged is a finding of its own; so is each
    difference of a matched endpoint.
    """
    for endpoint in result.endpoints:
        if endpoint.state in ("missing", "unmanaged"):
            yield (endpoint.name, "", endpoint.state), endpoint
        for difference in endpoint.differences:
            yield (endpoint.name, difference.path, difference.kind), difference


def stamp(result: CheckResult, checked_at: str) -> None:
    """Give every finding a first_seen of now: a run without a baseline sees all."""
    result.checked_at = checked_at
    for _, finding in _findings(result):
        finding.first_seen = checked_at


def read_baseline(path: str) -> dict[Key, str | None]:
    """The findings of an earlier JSON report and when each was first seen."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as exc:
        raise UsageError(f"--baseline {path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"--baseline {path}: not valid JSON: {exc}") from None
    if (
        not isinstance(document, dict)
        or document.get("schema_version") != 1
        or not isinstance(document.get("endpoints"), list)
    ):
        raise UsageError(
            f"--baseline {path}: not a driftcheck JSON report (schema_version 1); "
            "pass the file an earlier `check --format json` wrote"
        )

    known: dict[Key, str | None] = {}
    for endpoint in document["endpoints"]:
        if not isinstance(endpoint, dict) or not isinstance(endpoint.get("name"), str):
            continue
        name = endpoint["name"]
        if endpoint.get("state") in ("missing", "unmanaged"):
            known[(name, "", endpoint["state"])] = _time(endpoint.get("first_seen"))
        for difference in endpoint.get("differences") or []:
            if isinstance(difference, dict) and isinstance(difference.get("path"), str):
                key = (name, difference["path"], str(difference.get("kind")))
                known[key] = _time(difference.get("first_seen"))
    return known


def _time(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def apply_baseline(
    result: CheckResult,
    known: dict[Key, str | None],
    path: str,
    looked_at: Callable[[Key], bool] = lambda key: True,
) -> int:
    """Mark each finding new or known, carry first_seen forward, list resolved ones.

    A finding of the baseline that this run does not have is resolved only if
    `looked_at` says this run could have seen it: a run narrowed by filters
    proves nothing about endpoints it left out. Returns how many were left out.
    """
    result.baseline = path
    seen: set[Key] = set()
    for key, finding in _findings(result):
        seen.add(key)
        if key in known:
            finding.status = "known"
            finding.first_seen = known[key] or finding.first_seen
        else:
            finding.status = "new"

    unseen = [(key, first) for key, first in sorted(known.items()) if key not in seen]
    result.resolved = [
        Resolved(endpoint=name, path=path_, kind=kind, first_seen=first_seen)
        for (name, path_, kind), first_seen in unseen
        if looked_at((name, path_, kind))
    ]
    return len(unseen) - len(result.resolved)
