"""Pair declared endpoints with live ones and list every field on which they differ."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from typing import Any

from driftcheck.errors import MatchError, UsageError
from driftcheck.model import (
    Capacity,
    CheckResult,
    DeclaredEndpoint,
    Difference,
    EndpointResult,
    Kind,
    UnmanagedPolicy,
)
from driftcheck.redact import REDACTED_MARKER, Redactor
from driftcheck.specs import MAPPING_SECTIONS
from driftcheck.textsafe import clean, show_value

# Fields the list call is not documented to return: absent live, they are reported as
# not compared rather than as drift.
UNLISTED_FIELDS = ("type",)


def compare(
    declared: Sequence[DeclaredEndpoint],
    live: Sequence[dict[str, Any]],
    *,
    redactor: Redactor | None = None,
    unmanaged: UnmanagedPolicy = "warn",
    only: Sequence[str] = (),
    live_filtered: bool = False,
) -> CheckResult:
    """Compare every declared endpoint with its live counterpart.

    `live` must already be checked for shape (each a mapping with string id and name,
    ids unique). `only` holds name globs limiting the run; a glob that matches no
    endpoint on either side is an error, since a typo would otherwise pass the run.
    `live_filtered` says the API narrowed the list (by keyword or member): declared
    endpoints absent from it are then left out with a warning, not called missing.
    """
    redactor = redactor or Redactor()
    if only:
        unmatched = [
            glob
            for glob in only
            if not any(fnmatch.fnmatchcase(d.name, glob) for d in declared)
            and not any(fnmatch.fnmatchcase(e["name"], glob) for e in live)
        ]
        if unmatched:
            shown = ", ".join(repr(g) for g in unmatched)
            raise UsageError(
                f"--endpoint {shown} matches no declared or live endpoint; "
                "check the spelling"
            )
        declared = [d for d in declared if selected(d.name, only)]
        live = [e for e in live if selected(e["name"], only)]

    warnings: list[str] = []
    if live_filtered:
        listed_ids = {e["id"] for e in live}
        listed_names = {e["name"] for e in live}
        outside = [
            d
            for d in declared
            if (
                d.id not in listed_ids
                if d.id is not None
                else d.name not in listed_names
            )
        ]
        if outside:
            names = ", ".join(d.name for d in outside[:5])
            more = ", ..." if len(outside) > 5 else ""
            warnings.append(
                f"{len(outside)} declared endpoint(s) are not in the live list as "
                f"filtered by --keyword/--member-ids and were left out ({names}{more})"
            )
            declared = [d for d in declared if d not in outside]

    by_id = {endpoint["id"]: endpoint for endpoint in live}
    by_name: dict[str, list[dict[str, Any]]] = {}
    for endpoint in live:
        by_name.setdefault(endpoint["name"], []).append(endpoint)

    results: list[EndpointResult] = []
    matched: set[str] = set()
    claims: dict[str, DeclaredEndpoint] = {}
    ambiguous: list[str] = []

    for spec in declared:
        if spec.id is not None:
            counterpart = by_id.get(spec.id)
        else:
            candidates = by_name.get(spec.name, [])
            if len(candidates) > 1:
                ids = ", ".join(repr(c["id"]) for c in candidates)
                ambiguous.append(
                    f"{spec.source}: {spec.name}: {len(candidates)} live endpoints are "
                    f"named {spec.name!r} (ids {ids}); add `id:` to the spec to choose"
                )
                continue
            counterpart = candidates[0] if candidates else None

        if counterpart is None:
            results.append(
                EndpointResult(spec.name, spec.id, "missing", spec.source, [], None)
            )
            continue

        claimed_by = claims.setdefault(counterpart["id"], spec)
        if claimed_by is not spec:
            ambiguous.append(
                f"{spec.source}: {spec.name}: matches live endpoint "
                f"{counterpart['id']!r}, which {claimed_by.name} at "
                f"{claimed_by.source} already matches; one live endpoint cannot be "
                "declared twice"
            )
            continue
        matched.add(counterpart["id"])
        result = EndpointResult(
            spec.name,
            counterpart["id"],
            "in_sync",
            spec.source,
            diff_endpoint(spec, counterpart, redactor),
            counterpart,
            health=health_warnings(counterpart),
        )
        result.capacity = gpu_capacity(spec, counterpart, result.differences)
        result.settle()
        results.append(result)

    if ambiguous:
        raise MatchError(ambiguous)

    for field in UNLISTED_FIELDS:
        unverified = [
            r.name
            for r, spec in zip(results, declared, strict=False)
            if r.live is not None and field in spec.fields and field not in r.live
        ]
        if unverified:
            warnings.append(
                f"the live list does not report `{field}` for {len(unverified)} "
                f"endpoint(s) ({', '.join(unverified[:5])}"
                f"{', ...' if len(unverified) > 5 else ''}); "
                f"their declared `{field}` was not compared"
            )

    if unmanaged != "ignore":
        strays = [e for e in live if e["id"] not in matched]
        strays.sort(key=lambda e: (e["name"], e["id"]))
        results.extend(
            EndpointResult(e["name"], e["id"], "unmanaged", None, [], e) for e in strays
        )
    return CheckResult(results, unmanaged_policy=unmanaged, warnings=warnings)


def health_warnings(live: dict[str, Any]) -> list[str]:
    """Why a live endpoint is not healthy: its status, then each unhealthy worker."""
    warnings = []
    status = live.get("status")
    if isinstance(status, dict) and status.get("status") != "running":
        text = f"status is {show_value(status.get('status'))}"
        detail = status.get("message") or status.get("error")
        if isinstance(detail, str) and detail:
            text += f": {clean(detail[:200])}"
        warnings.append(text)
    workers = live.get("workers")
    for worker in workers if isinstance(workers, list) else []:
        if isinstance(worker, dict) and worker.get("health") is False:
            warnings.append(f"worker {show_value(worker.get('id'))} is unhealthy")
    return warnings


def gpu_capacity(
    spec: DeclaredEndpoint, live: dict[str, Any], differences: list[Difference]
) -> Capacity | None:
    """GPUs at full scale, declared and live, when worker_config differs.

    A factor the spec leaves out is taken from live, so only declared drift shows.
    """
    if not any(d.path.startswith("worker_config.") for d in differences):
        return None
    declared = spec.fields.get("worker_config") or {}
    current = live.get("worker_config")
    if not isinstance(current, dict):
        return None
    factors = []
    for side in (declared, current):
        gpus = side.get("gpu_num", current.get("gpu_num"))
        replicas = side.get("max_replicas", current.get("max_replicas"))
        if type(gpus) is not int or type(replicas) is not int:
            return None
        factors.append(gpus * replicas)
    return Capacity(declared=factors[0], live=factors[1])


def selected(name: str, globs: Sequence[str]) -> bool:
    """Whether `--endpoint` globs choose the endpoint `name`."""
    return any(fnmatch.fnmatchcase(name, glob) for glob in globs)


def diff_endpoint(
    spec: DeclaredEndpoint, live: dict[str, Any], redactor: Redactor
) -> list[Difference]:
    """The differences between what `spec` declares and the live endpoint."""
    found: list[tuple[str, Kind, Any, Any, bool]] = []

    if spec.id is not None and live.get("name") != spec.name:
        found.append(("name", "changed", spec.name, live.get("name"), False))

    for field, declared in spec.fields.items():
        present = field in live
        current = live.get(field)
        if field in MAPPING_SECTIONS:
            _diff_section(field, declared, current, found)
        elif field == "envs":
            _diff_envs(declared, current, present, redactor, found)
        elif field == "ports":
            _diff_ports(declared, current, present, found)
        elif field == "volumes":
            _diff_volumes(declared, current, present, found)
        elif not present:
            if field not in UNLISTED_FIELDS:
                found.append((field, "missing", declared, None, False))
        elif not same(declared, current):
            found.append((field, "changed", declared, current, False))

    return [
        Difference(path, kind, d, v, redacted, spec.location_of(path))
        for path, kind, d, v, redacted in found
    ]


def same(a: Any, b: Any) -> bool:
    """Equality that also tells apart types Python equates (True == 1 == 1.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and _all_same(a.values(), [b[k] for k in a])
    if isinstance(a, list):
        return len(a) == len(b) and _all_same(a, b)
    return bool(a == b)


def _all_same(left: Iterable[Any], right: Iterable[Any]) -> bool:
    # Scalars, most values, are compared in the loop rather than in a call each.
    for x, y in zip(left, right, strict=True):
        if type(x) is not type(y):
            return False
        if isinstance(x, (dict, list)):
            if not same(x, y):
                return False
        elif x != y:
            return False
    return True


def _diff_section(
    section: str, declared: dict[str, Any], live: Any, found: list[Any]
) -> None:
    """Compare only the keys a mapping section declares."""
    live_map = live if isinstance(live, dict) else {}
    if declared.keys() <= live_map.keys() and _all_same(
        declared.values(), [live_map[k] for k in declared]
    ):
        return
    projected = {k: live_map[k] for k in declared if k in live_map}
    records = _structural_diff(declared, projected)
    if not records:
        # Never in sync by omission: the cheap test above found a difference.
        found.append((section, "changed", declared, projected, False))
    for path, kind, d, v in records:
        found.append((f"{section}.{path}", kind, d, v, False))


def _diff_envs(
    declared: dict[str, str],
    live: Any,
    present: bool,
    redactor: Redactor,
    found: list[Any],
) -> None:
    """Compare envs as a whole set of keys, in any order; secrets stay hidden."""
    live_map = _env_map(live) if present else {}
    if same(declared, live_map):
        return
    records = _structural_diff(declared, live_map)
    if not records:
        # Never in sync by omission; the values are not shown, as any may be secret.
        found.append(("envs", "changed", None, None, True))
    for key, kind, d, v in records:
        if kind == "changed" and v == REDACTED_MARKER:
            found.append((f"envs.{key}", "unknown", None, None, True))
        elif redactor.is_sensitive(key):
            found.append((f"envs.{key}", kind, None, None, True))
        else:
            found.append((f"envs.{key}", kind, d, v, False))


def _env_map(live: Any) -> dict[str, Any]:
    """Live envs by key. A key listed twice with different values maps to the list
    of its values: which one the platform uses is unknown, so no single declared
    value can match it."""
    if isinstance(live, dict):
        return live
    result: dict[str, Any] = {}
    if not isinstance(live, list):
        return result
    repeated: dict[str, list[Any]] = {}
    for item in live:
        if isinstance(item, dict) and "key" in item:
            key, value = str(item["key"]), item.get("value")
            if key in result and not same(result[key], value):
                values = repeated.setdefault(key, [result[key]])
                if not any(same(value, seen) for seen in values):
                    values.append(value)
            else:
                result.setdefault(key, value)
    result.update(repeated)
    return result


def _diff_ports(
    declared: list[int], live: Any, present: bool, found: list[Any]
) -> None:
    """Ports are a set: order and repeats never matter."""
    live_ports = _port_set(live) if isinstance(live, list) else live
    wanted = sorted(set(declared))
    if not present:
        found.append(("ports", "missing", wanted, None, False))
    elif not same(wanted, live_ports):
        found.append(("ports", "changed", wanted, live_ports, False))


def _port_set(ports: list[Any]) -> Any:
    # Only whole numbers sort into a set; anything else is shown as the API sent it.
    if all(isinstance(p, int) and not isinstance(p, bool) for p in ports):
        return sorted(set(ports))
    return ports


def _diff_volumes(
    declared: list[dict[str, Any]], live: Any, present: bool, found: list[Any]
) -> None:
    """Volumes pair up by mount_point; within one, only declared keys count."""
    live_by_mount: dict[str, Any] = {}
    for v in live if isinstance(live, list) else []:
        if isinstance(v, dict) and isinstance(v.get("mount_point"), str):
            live_by_mount.setdefault(v["mount_point"], []).append(v)
    declared_mounts = set()
    for volume in declared:
        mount = volume["mount_point"]
        declared_mounts.add(mount)
        key = f"volumes[{mount}]"
        mounted = live_by_mount.get(mount)
        if mounted is None:
            found.append((key, "missing", volume, None, False))
            continue
        if len(mounted) > 1:
            # Two live volumes on one mount point: no declared volume matches that.
            found.append((key, "changed", volume, mounted, False))
            continue
        current = mounted[0]
        projected = {k: current[k] for k in volume if k in current}
        if same(volume, projected):
            continue
        records = _structural_diff(volume, projected)
        if not records:
            # Never in sync by omission: `same` found a difference.
            found.append((key, "changed", volume, projected, False))
        for path, kind, d, v in records:
            found.append((f"{key}.{path}", kind, d, v, False))
    for mount, mounted in live_by_mount.items():
        if mount not in declared_mounts:
            shown = mounted[0] if len(mounted) == 1 else mounted
            found.append((f"volumes[{mount}]", "extra", None, shown, False))


_MISSING = object()


def _structural_diff(
    declared: dict[str, Any], live: dict[str, Any]
) -> list[tuple[str, Kind, Any, Any]]:
    """Differences between two mappings as (dotted path, kind, declared, live).

    deepdiff walks the structures; its report is turned into plain records here and
    goes no further.
    """
    from deepdiff import DeepDiff

    # threshold_to_diff_deeper=0: by default deepdiff reports two mappings that share
    # few keys as one change of the whole mapping, which would hide which keys differ
    # and bypass the per-key redaction of env values.
    diff = DeepDiff(
        declared, live, view="tree", verbose_level=2, threshold_to_diff_deeper=0
    )
    records: list[tuple[str, Kind, Any, Any]] = []
    for report_type, items in diff.items():
        for item in items:
            path = _dotted(item.path(output_format="list"))
            if not path:
                raise AssertionError("deepdiff reported a change of a whole section")
            if report_type == "dictionary_item_removed":
                records.append((path, "missing", item.t1, None))
            elif report_type == "dictionary_item_added":
                records.append((path, "extra", None, item.t2))
            else:
                records.append((path, "changed", item.t1, item.t2))
    records.sort(key=lambda r: r[0])
    return records


def _dotted(parts: list[Any]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text
