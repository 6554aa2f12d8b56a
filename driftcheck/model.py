"""The data the core passes around: endpoints, differences and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["in_sync", "drifted", "planned", "unknown", "missing", "unmanaged"]
Kind = Literal["changed", "missing", "extra", "unknown"]
# Against a base ref: the pull request changes it (planned), someone changed live by
# hand (drift), or live differs from both base and head (conflict).
Change = Literal["planned", "drift", "conflict"]
Plan = Literal["create", "update", "delete"]
Status = Literal["new", "known"]
FailOn = Literal["new", "any"]
UnmanagedPolicy = Literal["ignore", "warn", "fail"]

# The fields whose product is the GPUs an endpoint may hold.
CAPACITY_PATHS = ("worker_config.gpu_num", "worker_config.max_replicas")

EXIT_IN_SYNC = 0
EXIT_DRIFT = 1
EXIT_ERROR = 2


@dataclass(frozen=True)
class Location:
    """A place in a spec file; line and column are 1-based."""

    file: str
    line: int
    column: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class DeclaredEndpoint:
    """One endpoint as a spec declares it, with where each field was written."""

    name: str
    id: str | None
    fields: dict[str, Any]
    source: Location
    lines: dict[str, int] = field(default_factory=dict)
    # Env paths (`envs.KEY`) whose `${NAME}` reference could not be read because
    # NAME is not set, with NAME: allowed for the specs at a base ref only.
    unset: dict[str, str] = field(default_factory=dict)

    def location_of(self, path: str) -> Location:
        """The line a dotted field path was declared on, or its nearest parent's."""
        probe = path
        while probe:
            line = self.lines.get(probe)
            if line is not None:
                return Location(self.source.file, line)
            probe = _parent(probe)
        return self.source


def _parent(path: str) -> str:
    """`volumes[/data].size` -> `volumes[/data]` -> `volumes`; `a.b` -> `a`."""
    if path.endswith("]") and "[" in path:
        return path[: path.rindex("[")]
    return path.rpartition(".")[0]


@dataclass(frozen=True)
class Suppression:
    """Why a difference does not count: the ignore rule that matched it."""

    reason: str
    rule: str


@dataclass
class Difference:
    """One field path on which declared and live disagree.

    `unknown` marks a field whose live value was withheld (a redacted snapshot):
    it can be counted neither as drift nor as in sync. A suppressed difference is
    shown but does not count.
    """

    path: str
    kind: Kind
    declared: Any
    live: Any
    redacted: bool = False
    source: Location | None = None
    suppressed: Suppression | None = None
    change: Change | None = None
    first_seen: str | None = None
    status: Status | None = None

    @property
    def counts(self) -> bool:
        """Whether this difference makes its endpoint drifted."""
        return (
            self.suppressed is None
            and self.kind != "unknown"
            and self.change != "planned"
        )

    @property
    def planned(self) -> bool:
        return self.suppressed is None and self.change == "planned"


@dataclass(frozen=True)
class Capacity:
    """GPUs an endpoint may hold at full scale: gpu_num x max_replicas."""

    declared: int
    live: int

    @property
    def change(self) -> int:
        return self.live - self.declared


@dataclass
class EndpointResult:
    """The verdict for one endpoint, declared or live or both."""

    name: str
    id: str | None
    state: State
    source: Location | None
    differences: list[Difference] = field(default_factory=list)
    live: dict[str, Any] | None = None
    # What a pull request will do to it, when checked against a base ref.
    plan: Plan | None = None
    # Live status and worker health problems: warnings, never drift.
    health: list[str] = field(default_factory=list)
    capacity: Capacity | None = None
    # For findings of the endpoint itself (missing, unmanaged) against a baseline.
    first_seen: str | None = None
    status: Status | None = None

    def settle(self) -> None:
        """Set the state of a matched endpoint from its differences."""
        if self.state not in ("in_sync", "drifted", "planned", "unknown"):
            return
        if self.plan in ("create", "delete"):
            self.state = "planned"
        elif any(d.counts for d in self.differences):
            self.state = "drifted"
        elif any(d.planned for d in self.differences):
            self.state = "planned"
        elif any(
            d.kind == "unknown" and d.suppressed is None for d in self.differences
        ):
            self.state = "unknown"
        else:
            self.state = "in_sync"

    @property
    def capacity_drifted(self) -> bool:
        """Whether a GPU capacity factor differs as drift: not planned, not ignored."""
        return self.state == "drifted" and any(
            d.counts and d.path in CAPACITY_PATHS for d in self.differences
        )

    @property
    def declared(self) -> bool:
        """Whether the specs being checked declare it (a planned deletion is not)."""
        return self.state != "unmanaged" and self.plan != "delete"

    def failing_findings(self) -> list[Status | None]:
        """The status (new, known, or None without a baseline) of each finding of
        this endpoint that fails the run, before the unmanaged policy."""
        if self.state == "missing":
            return [self.status]
        if self.state == "drifted":
            return [d.status for d in self.differences if d.counts]
        return []


@dataclass(frozen=True)
class Resolved:
    """A finding of the baseline that this run no longer has."""

    endpoint: str
    path: str
    kind: str
    first_seen: str | None


@dataclass(frozen=True)
class Summary:
    declared: int
    in_sync: int
    drifted: int
    missing: int
    unmanaged: int
    unknown: int = 0
    ignored: int = 0
    planned: int = 0
    unhealthy: int = 0
    new: int = 0
    resolved: int = 0
    gpu_capacity_change: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "declared": self.declared,
            "in_sync": self.in_sync,
            "drifted": self.drifted,
            "planned": self.planned,
            "unknown": self.unknown,
            "missing": self.missing,
            "unmanaged": self.unmanaged,
            "ignored": self.ignored,
            "unhealthy": self.unhealthy,
            "new": self.new,
            "resolved": self.resolved,
            "gpu_capacity_change": self.gpu_capacity_change,
        }


@dataclass
class CheckResult:
    """Everything a report needs: every endpoint of the run and how it compares."""

    endpoints: list[EndpointResult]
    unmanaged_policy: UnmanagedPolicy = "warn"
    warnings: list[str] = field(default_factory=list)
    # Set when compared against a base ref (three-way) or a baseline report.
    base_ref: str | None = None
    baseline: str | None = None
    resolved: list[Resolved] = field(default_factory=list)
    fail_on: FailOn = "any"
    require_healthy: bool = False
    checked_at: str | None = None

    @property
    def summary(self) -> Summary:
        counts = {
            "in_sync": 0,
            "drifted": 0,
            "planned": 0,
            "unknown": 0,
            "missing": 0,
            "unmanaged": 0,
        }
        ignored = declared = unhealthy = new = capacity = 0
        for endpoint in self.endpoints:
            counts[endpoint.state] += 1
            declared += endpoint.declared
            unhealthy += bool(endpoint.health)
            ignored += sum(1 for d in endpoint.differences if d.suppressed)
            new += sum(
                1 for d in endpoint.differences if d.counts and d.status == "new"
            )
            new += (
                endpoint.state in ("missing", "unmanaged") and endpoint.status == "new"
            )
            if endpoint.capacity is not None and endpoint.capacity_drifted:
                capacity += endpoint.capacity.change
        return Summary(
            declared=declared,
            ignored=ignored,
            unhealthy=unhealthy,
            new=new,
            resolved=len(self.resolved),
            gpu_capacity_change=capacity,
            **counts,
        )

    def exit_code(self) -> int:
        """0 when declared and live agree, 1 when anything the run fails on differs.

        Planned changes, unknown fields, suppressed differences and health warnings
        never fail the run, unless --require-healthy asks for the last; with
        --fail-on new, only findings absent from the baseline do.
        """
        if self.failing():
            return EXIT_DRIFT
        if self.require_healthy and any(e.health for e in self.endpoints):
            return EXIT_DRIFT
        return EXIT_IN_SYNC

    def failing(self) -> list[Status | None]:
        """The findings that fail the run: their baseline status, one each."""
        findings: list[Status | None] = []
        for endpoint in self.endpoints:
            findings += endpoint.failing_findings()
            if endpoint.state == "unmanaged" and self.unmanaged_policy == "fail":
                findings.append(endpoint.status)
        if self.fail_on == "new":
            findings = [status for status in findings if status != "known"]
        return findings
