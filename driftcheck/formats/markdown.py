"""The Markdown report, for pull-request comments, issues and job summaries.

Every name and value from a spec, the config or the API is escaped on the way in, so
none can break a table, start a link, ping someone or inject HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from driftcheck.formats import ReportOptions
from driftcheck.model import (
    CheckResult,
    Difference,
    EndpointResult,
    Location,
    Suppression,
)
from driftcheck.repo import relative_to_root, repository_root
from driftcheck.textsafe import clean, show_value

# GitHub refuses comments over 65,536 characters; this leaves room for a header.
SIZE_LIMIT = 60_000
# Longest value shown in a table cell; the JSON report keeps every value whole.
VALUE_LIMIT = 300
# Kept free for the closing tags and the line saying what was left out.
_TAIL_ROOM = 400

# Entities, not backslashes: they work inside tables, HTML elements and link text
# alike, and what they decode to is never read as Markdown.
_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        "|": "&#124;",
        "\\": "&#92;",
        "`": "&#96;",
        "*": "&#42;",
        "_": "&#95;",
        "[": "&#91;",
        "]": "&#93;",
        "~": "&#126;",
        "#": "&#35;",
        "$": "&#36;",
    }
)
_PLAIN_PATH = re.compile(r"[A-Za-z0-9._/-]+")
_TABLE_HEAD = "| path | declared | live | line |\n| --- | --- | --- | --- |\n"
_SUPPRESSED_HEAD = (
    "| endpoint | path | declared | live | line | reason | rule |\n"
    "| --- | --- | --- | --- | --- | --- | --- |\n"
)


@dataclass
class _Piece:
    """Some report text and how many endpoints and differences it shows."""

    text: str
    endpoints: int = 0
    differences: int = 0


@dataclass
class _Block:
    """A section: its head, rows that may be cut short, and its closing text."""

    head: _Piece
    rows: list[_Piece] = field(default_factory=list)
    tail: str = "\n"


@dataclass(frozen=True)
class _Links:
    """Turns spec locations into link targets: relative, or under a web base."""

    base: str = ""
    root: Path | None = None

    def target(self, location: Location) -> str:
        # Percent-encoding every character but `/` also rules out a `scheme:` prefix.
        file = location.file
        if self.base and self.root is not None:
            relative = relative_to_root(file, self.root)
            if relative is not None:
                return f"{self.base}{quote(relative, safe='/')}#L{location.line}"
        return f"{quote(file, safe='/')}#L{location.line}"

    def link(self, location: Location) -> str:
        """`file:line` linking to that line."""
        text = f"{location.file}:{location.line}"
        shown = f"`{text}`" if _PLAIN_PATH.fullmatch(location.file) else _code(text)
        return f"[{shown}]({self.target(location)})"


def render(result: CheckResult, options: ReportOptions) -> str:
    links = (
        _Links(options.link_base, repository_root()) if options.link_base else _Links()
    )
    blocks = [
        _drifted(e, links) if e.state == "drifted" else _missing(e, links)
        for e in result.endpoints
        if e.state in ("drifted", "missing")
    ]
    unmanaged = [e for e in result.endpoints if e.state == "unmanaged"]
    if unmanaged:
        blocks.append(_unmanaged(unmanaged, result.unmanaged_policy == "fail"))
    blocks.extend(_unknown(e, links) for e in result.endpoints if e.state == "unknown")
    suppressed = [
        (e, d, d.suppressed)
        for e in result.endpoints
        for d in e.differences
        if d.suppressed is not None
    ]
    if suppressed:
        blocks.append(_suppressed(suppressed, links))
    in_sync = [e for e in result.endpoints if e.state == "in_sync"]
    if in_sync:
        blocks.append(_in_sync(in_sync, links))

    return _fit(_header(result), blocks, SIZE_LIMIT)


def escape(text: str) -> str:
    """Text from a spec or the API, made inert in Markdown and HTML alike."""
    return clean(text).translate(_ESCAPES)


def _code(text: str) -> str:
    return f"<code>{escape(text)}</code>"


def _shorten(text: str) -> str:
    if len(text) <= VALUE_LIMIT:
        return text
    return text[: VALUE_LIMIT - 1] + "…"


def _name(endpoint: EndpointResult) -> str:
    name = _code(_shorten(endpoint.name))
    return f"{name} ({_code(_shorten(endpoint.id))})" if endpoint.id else name


def _header(result: CheckResult) -> str:
    summary = result.summary
    ignored = result.unmanaged_policy == "ignore"
    unmanaged = "not checked" if ignored else str(summary.unmanaged)
    coverage = "n/a" if ignored else _coverage(summary.declared, summary.unmanaged)
    # Columns for unknown endpoints and ignored differences only when there are any.
    columns = [
        ("declared", str(summary.declared)),
        ("in sync", str(summary.in_sync)),
        ("drifted", str(summary.drifted)),
        ("unknown", str(summary.unknown) if summary.unknown else ""),
        ("missing", str(summary.missing)),
        ("unmanaged", unmanaged),
        ("coverage", coverage),
        ("ignored differences", str(summary.ignored) if summary.ignored else ""),
    ]
    shown = [(name, value) for name, value in columns if value]
    return (
        "## driftcheck report\n\n"
        f"| {' | '.join(name for name, _ in shown)} |\n"
        f"|{' ---: |' * len(shown)}\n"
        f"| {' | '.join(value for _, value in shown)} |\n\n"
        f"{_verdict(result)}\n\n"
    )


def _coverage(declared: int, unmanaged: int) -> str:
    """declared / (declared + unmanaged), rounded down so that 100% is exact."""
    total = declared + unmanaged
    if total == 0:
        return "n/a"
    whole, tenth = divmod(declared * 1000 // total, 10)
    return f"{whole}%" if tenth == 0 else f"{whole}.{tenth}%"


def _verdict(result: CheckResult) -> str:
    summary = result.summary
    failing = result.exit_code() != 0
    if not failing and summary.unknown:
        matching = (
            f"{summary.in_sync} of {_count(summary.declared, 'declared endpoint')}"
        )
        verb = "matches" if summary.in_sync == 1 else "match"
        text = f"**No drift found:** {matching} {verb} live."
    elif not failing:
        declared = _count(summary.declared, "declared endpoint")
        verb = "matches" if summary.declared == 1 else "match"
        text = f"**In sync:** {declared} {verb} live."
    else:
        text = f"**Drift found:** {', '.join(_failures(result))}."

    if summary.unknown:
        unknown = _count(summary.unknown, "unknown endpoint")
        text += (
            f" {unknown} could not be fully compared: the live list was a redacted "
            "snapshot, which withholds secret values."
        )
    if summary.unmanaged and not failing:
        unmanaged = _count(summary.unmanaged, "unmanaged endpoint")
        text += f" {unmanaged} {_does(summary.unmanaged)} not fail the run."
    if summary.ignored:
        ignored = _count(summary.ignored, "ignored difference")
        text += f" {ignored} {_does(summary.ignored)} not count."
    return text


def _failures(result: CheckResult) -> list[str]:
    summary = result.summary
    parts = []
    if summary.drifted:
        counted = sum(d.counts for e in result.endpoints for d in e.differences)
        parts.append(f"{summary.drifted} drifted ({_count(counted, 'difference')})")
    if summary.missing:
        parts.append(f"{summary.missing} missing")
    if summary.unmanaged and result.unmanaged_policy == "fail":
        parts.append(f"{summary.unmanaged} unmanaged (`--unmanaged fail`)")
    return parts


def _does(number: int) -> str:
    return "does" if number == 1 else "do"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _drifted(endpoint: EndpointResult, links: _Links) -> _Block:
    return _compared(f"Drifted: {_name(endpoint)}", "", endpoint, links)


def _unknown(endpoint: EndpointResult, links: _Links) -> _Block:
    note = (
        "Not fully compared: the live list was a redacted snapshot, which withholds "
        "the live values below. A check against the API compares them.\n\n"
    )
    return _compared(f"Unknown: {_name(endpoint)}", note, endpoint, links)


def _compared(title: str, note: str, endpoint: EndpointResult, links: _Links) -> _Block:
    """A section for a compared endpoint: its differences that count or are unknown."""
    spec = f"Spec: {links.link(endpoint.source)}\n\n" if endpoint.source else ""
    shown = [d for d in endpoint.differences if d.suppressed is None]
    ignored = len(endpoint.differences) - len(shown)
    if ignored:
        note += (
            f"Also {_count(ignored, 'ignored difference')}, listed under "
            "*Suppressed differences*.\n\n"
        )
    head = f"### {title}\n\n{spec}{note}{_TABLE_HEAD}"
    rows = [_Piece(_row(_cells(d, links)), differences=1) for d in shown]
    return _Block(_Piece(head, endpoints=1), rows)


def _cells(difference: Difference, links: _Links) -> list[str]:
    """Path, declared, live and line of a difference, as table cells."""
    declared, live = _value(difference.declared), _value(difference.live)
    if difference.redacted:
        declared = live = "*(redacted)*"
    if difference.kind == "missing":
        live = "*(absent)*"
    elif difference.kind == "extra":
        declared = "*(not declared)*"
    elif difference.kind == "unknown":
        live = "*unknown (withheld in snapshot)*"

    source = difference.source
    line = f"[{source.line}]({links.target(source)})" if source else "-"
    return [_code(_shorten(difference.path)), declared, live, line]


def _row(cells: list[str]) -> str:
    return f"| {' | '.join(cells)} |\n"


def _value(value: object) -> str:
    return _code(_shorten(show_value(value)))


def _missing(endpoint: EndpointResult, links: _Links) -> _Block:
    where = f" in {links.link(endpoint.source)}" if endpoint.source else ""
    if endpoint.id:
        why = f"no live endpoint has id {_code(_shorten(endpoint.id))}"
    else:
        why = "no live endpoint has this name"
    name = _code(_shorten(endpoint.name))
    text = f"### Missing: {name}\n\nDeclared{where}, but not live: {why}.\n"
    return _Block(_Piece(text, endpoints=1))


def _unmanaged(endpoints: list[EndpointResult], failing: bool) -> _Block:
    head = (
        f"### Unmanaged: {_count(len(endpoints), 'live endpoint')} no spec declares\n\n"
    )
    if failing:
        head += "They fail the run (`--unmanaged fail`).\n\n"
    rows = [_Piece(f"- {_name(e)}\n", endpoints=1) for e in endpoints]
    return _Block(_Piece(head), rows)


def _suppressed(
    found: list[tuple[EndpointResult, Difference, Suppression]], links: _Links
) -> _Block:
    head = (
        "### Suppressed differences\n\n"
        f"{_count(len(found), 'difference')} matched an ignore rule: shown here, "
        "but not counted as drift.\n\n"
        f"{_SUPPRESSED_HEAD}"
    )
    rows = []
    for endpoint, difference, suppression in found:
        cells = [_name(endpoint), *_cells(difference, links)]
        cells += [_code(_shorten(suppression.reason)), _rule(suppression, links)]
        rows.append(_Piece(_row(cells), differences=1))
    return _Block(_Piece(head), rows)


def _rule(suppression: Suppression, links: _Links) -> str:
    """Where the rule was written: a link when it is a `file:line` of a config."""
    file, _, line = suppression.rule.rpartition(":")
    if file and line.isascii() and line.isdigit() and len(line) < 10:
        return links.link(Location(file, int(line)))
    return _code(_shorten(suppression.rule))


def _in_sync(endpoints: list[EndpointResult], links: _Links) -> _Block:
    head = f"<details><summary>{len(endpoints)} in sync</summary>\n\n"
    rows = []
    for endpoint in endpoints:
        where = f", {links.link(endpoint.source)}" if endpoint.source else ""
        ignored = sum(1 for d in endpoint.differences if d.suppressed)
        if ignored:
            where += f" ({_count(ignored, 'ignored difference')})"
        rows.append(_Piece(f"- {_name(endpoint)}{where}\n", endpoints=1))
    return _Block(_Piece(head), rows, "\n</details>\n")


def _fit(header: str, blocks: list[_Block], limit: int) -> str:
    """The report, adding sections in order until the next would pass `limit`."""
    parts = [header]
    room = limit - len(header) - _TAIL_ROOM
    left_out = _Piece("")
    cut = False

    for block in blocks:
        first = block.rows[0].text if block.rows else ""
        if cut or len(block.head.text) + len(first) + len(block.tail) > room:
            cut = True
            for piece in (block.head, *block.rows):
                _tally(left_out, piece)
            continue

        parts.append(block.head.text)
        room -= len(block.head.text) + len(block.tail)
        for row in block.rows:
            if cut or len(row.text) > room:
                cut = True
                _tally(left_out, row)
                continue
            parts.append(row.text)
            room -= len(row.text)
        parts.append(block.tail)

    if cut:
        parts.append("\n" + _cut_note(left_out, limit) + "\n")
    return "".join(parts).rstrip("\n") + "\n"


def _tally(total: _Piece, piece: _Piece) -> None:
    total.endpoints += piece.endpoints
    total.differences += piece.differences


def _cut_note(left_out: _Piece, limit: int) -> str:
    missed = []
    if left_out.endpoints:
        missed.append(_count(left_out.endpoints, "endpoint"))
    if left_out.differences:
        missed.append(_count(left_out.differences, "difference"))
    return (
        f"**Report cut to stay under {limit:,} characters:** "
        f"{' and '.join(missed)} not shown. "
        "The JSON report (`--format json` or `--report json:PATH`) holds them all."
    )
