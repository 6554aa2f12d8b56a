"""The data the core passes around: endpoints, differences and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["in_sync", "drifted", "missing", "unmanaged"]
Kind = Literal["changed", "missing", "extra"]
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


@dataclass
class Difference:
    """One field path on which declared and live disagree."""

    path: str
    kind: Kind
    declared: Any
    live: Any
    redacted: bool = False
    source: Location | None = None


@dataclass
class EndpointResult:
    """The verdict for one endpoint, declared or live or both."""

    name: str
    id: str | None
    state: State
    source: Location | None
    differences: list[Difference] = field(default_factory=list)
    live: dict[str, Any] | None = None


@dataclass(frozen=True)
class Summary:
    declared: int
    in_sync: int
    drifted: int
    missing: int
    unmanaged: int

    def as_dict(self) -> dict[str, int]:
        return {
            "declared": self.declared,
            "in_sync": self.in_sync,
            "drifted": self.drifted,
            "missing": self.missing,
            "unmanaged": self.unmanaged,
        }


@dataclass
class CheckResult:
    """Everything a report needs: every endpoint of the run and how it compares."""

    endpoints: list[EndpointResult]
    unmanaged_policy: UnmanagedPolicy = "warn"
    warnings: list[str] = field(default_factory=list)

    @property
    def summary(self) -> Summary:
        counts = {"in_sync": 0, "drifted": 0, "missing": 0, "unmanaged": 0}
        for endpoint in self.endpoints:
            counts[endpoint.state] += 1
        declared = counts["in_sync"] + counts["drifted"] + counts["missing"]
        return Summary(declared=declared, **counts)

    def exit_code(self) -> int:
        """0 when declared and live agree, 1 when anything the run fails on differs."""
        summary = self.summary
        if summary.drifted or summary.missing:
            return EXIT_DRIFT
        if self.unmanaged_policy == "fail" and summary.unmanaged:
            return EXIT_DRIFT
        return EXIT_IN_SYNC
