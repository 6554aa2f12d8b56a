"""The errors a user can fix. Anything else escaping the CLI is a bug."""

from __future__ import annotations

from dataclasses import dataclass


class DriftcheckError(Exception):
    """Base of every error the user can act on; the CLI prints it and exits 2."""

    def lines(self) -> list[str]:
        """The message, one line per problem, as printed on stderr."""
        return [str(self)]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a spec or config file, with where it is."""

    file: str
    line: int | None
    column: int | None
    message: str
    endpoint: str | None = None
    path: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        parts = [where]
        if self.endpoint:
            parts.append(self.endpoint)
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)


class SpecError(DriftcheckError):
    """One or more spec files are invalid; every problem found is kept."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(str(problems[0]) if problems else "invalid specs")

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class ConfigError(SpecError):
    """The driftcheck configuration file is invalid."""


class UsageError(DriftcheckError):
    """Options that cannot work together or an input path that is unusable."""


class LiveError(DriftcheckError):
    """The live endpoint list could not be read, or is not the documented shape."""


class ApiError(LiveError):
    """The PPIO API refused the request or answered in a way we cannot trust."""


class OutputError(DriftcheckError):
    """A report cannot be written where it was asked for."""


class MatchError(DriftcheckError):
    """Declared and live endpoints cannot be paired without guessing."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__(messages[0])

    def lines(self) -> list[str]:
        return list(self.messages)
