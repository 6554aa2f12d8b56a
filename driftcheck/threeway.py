"""Tell a pull request's planned changes from drift, against the specs at a base ref.

For every difference between the pull request's specs (head) and live:
- planned: live still equals what the base declares (or the base is silent), so the
  deploy will apply the change;
- drift: the pull request leaves the field alone and live differs from it;
- conflict: live differs from both base and head.
An endpoint the pull request adds and that is not live yet is a planned creation; one
it removes and that is still live is a planned deletion.
"""

from __future__ import annotations

from typing import Any

from driftcheck.compare import diff_endpoint, same
from driftcheck.model import CheckResult, DeclaredEndpoint, Difference
from driftcheck.redact import Redactor


def classify(
    result: CheckResult,
    head: list[DeclaredEndpoint],
    base: list[DeclaredEndpoint],
    redactor: Redactor,
    ref: str,
) -> None:
    """Mark each difference of `result` planned, drift or conflict, in place."""
    base_by_id = {e.id: e for e in base if e.id is not None}
    base_by_name = {e.name: e for e in base}
    head_by_name = {e.name: e for e in head}
    head_ids = {e.id for e in head if e.id is not None}
    result.base_ref = ref

    for endpoint in result.endpoints:
        if endpoint.state == "unmanaged":
            earlier = base_by_id.get(endpoint.id or "") or base_by_name.get(
                endpoint.name
            )
            removed = earlier is not None and earlier.name not in head_by_name
            if removed and endpoint.id not in head_ids:
                endpoint.plan = "delete"
                endpoint.state = "planned"
                endpoint.source = earlier.source if earlier else None
            continue

        spec = head_by_name.get(endpoint.name)
        if spec is None:
            continue
        earlier = (
            base_by_id.get(spec.id) if spec.id is not None else None
        ) or base_by_name.get(spec.name)

        if endpoint.state == "missing":
            if earlier is None:
                endpoint.plan = "create"
                endpoint.state = "planned"
            continue
        if earlier is None:
            # The pull request starts declaring an endpoint that is already live:
            # everything it says differently is what the deploy will change.
            for difference in endpoint.differences:
                if difference.kind != "unknown":
                    difference.change = "planned"
            if any(d.planned for d in endpoint.differences):
                endpoint.plan = "update"
            endpoint.settle()
            continue

        assert endpoint.live is not None
        base_differences = {
            d.path: d for d in diff_endpoint(earlier, endpoint.live, redactor)
        }
        for difference in endpoint.differences:
            _classify(difference, base_differences.get(difference.path), spec, earlier)
            variable = earlier.unset.get(difference.path)
            if variable is not None and difference.kind != "unknown":
                # What the base declared is unknown, so whether live still holds
                # it is too: fail safe rather than call hand changes planned.
                difference.change = "conflict"
                result.warnings.append(
                    f"{endpoint.name}: {difference.path}: at {ref} the spec reads "
                    f"it from ${{{variable}}}, which is not set, so whether this "
                    "change is planned cannot be told; it is counted as a "
                    f"conflict (set {variable} to tell planned from drift)"
                )
        if any(d.planned for d in endpoint.differences):
            endpoint.plan = "update"
        endpoint.settle()


def _classify(
    difference: Difference,
    against_base: Difference | None,
    head: DeclaredEndpoint,
    base: DeclaredEndpoint,
) -> None:
    if difference.kind == "unknown":
        return
    if against_base is None:
        difference.change = "planned"
    elif same(declared_at(head, difference.path), declared_at(base, difference.path)):
        difference.change = "drift"
    else:
        difference.change = "conflict"


_ABSENT = object()


def declared_at(spec: DeclaredEndpoint, path: str) -> Any:
    """What `spec` declares at a dotted difference path (a sentinel when nothing).

    Works on the spec itself, not on the difference records, whose values may be
    redacted.
    """
    if path == "name":
        return spec.name
    if path.startswith("volumes["):
        mount, _, rest = path[len("volumes[") :].partition("]")
        for volume in spec.fields.get("volumes") or []:
            if volume.get("mount_point") == mount:
                key = rest.removeprefix(".")
                return volume.get(key, _ABSENT) if key else volume
        return _ABSENT
    if path == "ports":
        # Ports are a set, as compared with live: a reordering changes nothing.
        ports = spec.fields.get("ports", _ABSENT)
        return sorted(set(ports)) if isinstance(ports, list) else ports
    head, _, key = path.partition(".")
    value = spec.fields.get(head, _ABSENT)
    if key and isinstance(value, dict):
        return value.get(key, _ABSENT)
    return value
