"""Ignore rules: differences a team lets move on purpose, counted but never hidden."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from driftcheck.model import CheckResult, Suppression


@dataclass(frozen=True)
class IgnoreRule:
    """Differences at `paths` of endpoints named by `endpoints` do not count."""

    paths: tuple[str, ...]
    reason: str
    endpoints: tuple[str, ...] = ("*",)
    origin: str = "--ignore"

    def matches(self, endpoint: str, path: str) -> bool:
        return any(fnmatch.fnmatchcase(endpoint, g) for g in self.endpoints) and any(
            _path_matches(path, g) for g in self.paths
        )


def _path_matches(path: str, glob: str) -> bool:
    # `worker_config` also covers every key under it; `volumes[/data]` its fields.
    if fnmatch.fnmatchcase(path, glob):
        return True
    return path.startswith((glob + ".", glob + "[")) and "*" not in glob


def apply_ignores(result: CheckResult, rules: Sequence[IgnoreRule]) -> list[IgnoreRule]:
    """Mark the differences each rule matches as suppressed; return unused rules.

    The first matching rule names the reason. Endpoint states are settled again, so
    an endpoint whose every difference is suppressed is in sync.
    """
    used: set[int] = set()
    for endpoint in result.endpoints:
        if not endpoint.differences:
            continue
        for difference in endpoint.differences:
            for index, rule in enumerate(rules):
                if rule.matches(endpoint.name, difference.path):
                    difference.suppressed = Suppression(rule.reason, rule.origin)
                    used.add(index)
                    break
        endpoint.settle()
    return [rule for index, rule in enumerate(rules) if index not in used]
