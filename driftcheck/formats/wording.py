"""One difference in words. Every format tells the same five cases apart (not
compared, redacted, missing, extra, changed) and says each its own way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from driftcheck.model import Difference
from driftcheck.textsafe import show_value


@dataclass(frozen=True)
class Wording:
    """A format's phrases; `{declared}` and `{live}` stand for the shown values."""

    unknown: str
    # By kind (changed, missing, extra), for a value that must not be shown.
    redacted: Mapping[str, str]
    missing: str
    extra: str
    changed: str

    def describe(self, difference: Difference) -> str:
        if difference.kind == "unknown":
            return self.unknown
        if difference.redacted:
            return self.redacted[difference.kind]
        template = {"missing": self.missing, "extra": self.extra}.get(
            difference.kind, self.changed
        )
        # The values are arguments, never part of the template: braces in them
        # are printed as they are.
        return template.format(
            declared=show_value(difference.declared), live=show_value(difference.live)
        )


def count(number: int, noun: str) -> str:
    """`1 difference`, `2 differences`: for nouns whose plural adds an s."""
    return f"{number} {noun}{'' if number == 1 else 's'}"
