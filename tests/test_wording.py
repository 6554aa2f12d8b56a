"""The phrases shared by the formats: every case, and values that look like fields."""

from __future__ import annotations

import pytest

from driftcheck.formats.wording import Wording
from driftcheck.model import Difference

WORDING = Wording(
    unknown="not compared",
    redacted={"changed": "R-changed", "missing": "R-missing", "extra": "R-extra"},
    missing="missing {declared}",
    extra="extra {live}",
    changed="{declared} -> {live}",
)


@pytest.mark.parametrize(
    ("difference", "said"),
    [
        (Difference("a", "unknown", None, None, redacted=True), "not compared"),
        (Difference("a", "changed", None, None, redacted=True), "R-changed"),
        (Difference("a", "missing", None, None, redacted=True), "R-missing"),
        (Difference("a", "extra", None, None, redacted=True), "R-extra"),
        (Difference("a", "missing", 2, None), "missing 2"),
        (Difference("a", "extra", None, True), "extra true"),
        (Difference("a", "changed", "x", ["y"]), '"x" -> ["y"]'),
        # A value holding a template field is printed, never filled in.
        (Difference("a", "changed", "{live}", "{0}"), '"{live}" -> "{0}"'),
    ],
)
def test_each_case_has_its_phrase(difference: Difference, said: str) -> None:
    assert WORDING.describe(difference) == said
