"""Which env values are secrets, so that no report ever prints them."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

DEFAULT_SENSITIVE_WORDS = (
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "KEY",
    "CREDENTIAL",
    "AUTH",
)

# What a snapshot holds in place of a sensitive env value. A live value equal to it
# is unknown: it can be counted neither as drift nor as in sync.
REDACTED_MARKER = "<redacted by driftcheck>"


class Redactor:
    """Decides whether an env key names a secret: by built-in words or by user globs.

    Both checks ignore case: redacting one value too many is harmless, one too few
    puts a secret in a CI log.
    """

    def __init__(self, globs: Iterable[str] = (), keys: Iterable[str] = ()) -> None:
        """`globs` match sensitive keys; `keys` are sensitive by name (for instance
        env values a spec reads from the environment)."""
        self._globs = [re.compile(fnmatch.translate(g), re.IGNORECASE) for g in globs]
        self._keys = set(keys)

    def is_sensitive(self, key: str) -> bool:
        upper = key.upper()
        if any(word in upper for word in DEFAULT_SENSITIVE_WORDS):
            return True
        if key in self._keys:
            return True
        return any(glob.match(key) for glob in self._globs)
