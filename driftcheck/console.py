"""Everything driftcheck says on stderr, with secrets scrubbed on the way out."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TextIO

from driftcheck.textsafe import clean


class Console:
    """Warnings, notes, progress and errors for stderr; never the report itself."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        secrets: Iterable[str] = (),
        verbose: bool = False,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.secrets = [s for s in secrets if s]
        self.verbose = verbose
        self._progress_shown = False
        self.is_tty = _isatty(self.stream)

    def scrub(self, text: str) -> str:
        """Replace every known secret in `text`: a last line of defence."""
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def say(self, message: str) -> None:
        self._end_progress()
        self.stream.write(self.scrub(message) + "\n")
        self.stream.flush()

    def warn(self, message: str) -> None:
        self.say(f"driftcheck: warning: {clean(message)}")

    def debug(self, message: str) -> None:
        if self.verbose:
            self.say(f"driftcheck: debug: {message}")

    def error(self, lines: Iterable[str]) -> None:
        # Names and paths come from specs and the API: no escape sequence of theirs
        # may reach a terminal or a CI log as a command.
        for line in lines:
            self.say(f"error: {clean(line)}")

    def progress(self, pages: int, endpoints: int) -> None:
        """A self-erasing progress line, only when a person is watching stderr."""
        if not self.is_tty:
            return
        self.stream.write(
            f"\rfetching live endpoints: page {pages}, {endpoints} so far"
        )
        self.stream.flush()
        self._progress_shown = True

    def _end_progress(self) -> None:
        if self._progress_shown:
            self.stream.write("\r\033[K")
            self._progress_shown = False

    def close(self) -> None:
        self._end_progress()
        self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def color_wanted(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    return _isatty(stream)
