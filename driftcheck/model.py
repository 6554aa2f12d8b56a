"""The data the core passes around: endpoints, differences and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["in_sync", "drifted", "unknown", "missing", "unmanaged"]
Kind = Literal["changed", "missing", "extra", "unknown"]
UnmanagedPolicy = Literal["ignore", "warn", "fail"]

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

    @property
    def counts(self) -> bool:
        """Whether this difference makes its endpoint drifted."""
        return self.suppressed is None and self.kind != "unknown"


@dataclass
class EndpointResult:
    """The verdict for one endpoint, declared or live or both."""

    name: str
    id: str | None
    state: State
    source: Location | None
    differences: list[Difference] = field(default_factory=list)
    live: dict[str, Any] | None = None

    def settle(self) -> None:
        """Set the state of a matched endpoint from its differences."""
        if self.state not in ("in_sync", "drifted", "unknown"):
            return
        if any(d.counts for d in self.differences):
            self.state = "drifted"
        elif any(
            d.kind == "unknown" and d.suppressed is None for d in self.differences
        ):
            self.state = "unknown"
        else:
            self.state = "in_sync"


@dataclass(frozen=True)
class Summary:
    declared: int
    in_sync: int
    drifted: int
    missing: int
    unmanaged: int
    unknown: int = 0
    ignored: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "declared": self.declared,
            "in_sync": self.in_sync,
            "drifted": self.drifted,
            "unknown": self.unknown,
            "missing": self.missing,
            "unmanaged": self.unmanaged,
            "ignored": self.ignored,
        }


@dataclass
class CheckResult:
    """Everything a report needs: every endpoint of the run and how it compares."""

    endpoints: list[EndpointResult]
    unmanaged_policy: UnmanagedPolicy = "warn"
    warnings: list[str] = field(default_factory=list)

    @property
    def summary(self) -> Summary:
        counts = {
            "in_sync": 0,
            "drifted": 0,
            "unknown": 0,
            "missing": 0,
            "unmanaged": 0,
        }
        ignored = 0
        for endpoint in self.endpoints:
            counts[endpoint.state] += 1
            ignored += sum(1 for d in endpoint.differences if d.suppressed)
        declared = (
            counts["in_sync"]
            + counts["drifted"]
            + counts["unknown"]
            + counts["missing"]
        )
        return Summary(declared=declared, ignored=ignored, **counts)

    def exit_code(self) -> int:
        """0 when declared and live agree, 1 when anything the run fails on differs."""
        summary = self.summary
        if summary.drifted or summary.missing:
            return EXIT_DRIFT
        if self.unmanaged_policy == "fail" and summary.unmanaged:
            return EXIT_DRIFT
        return EXIT_IN_SYNC
