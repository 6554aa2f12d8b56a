"""Make text from the API or from specs safe to print on a terminal or in a CI log."""

from __future__ import annotations

import json
from typing import Any


def clean(text: str) -> str:
    """Escape control characters (ESC, CR, BEL, bidi overrides) as visible text."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def show_value(value: Any) -> str:
    """A declared or live value as one printable token, written as JSON."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return clean(text)
