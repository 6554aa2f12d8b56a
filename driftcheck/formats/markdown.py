"""The Markdown report, for pull-request comments, issues and job summaries.

Against a base ref, what the deploy of the pull request will do is shown apart from
the drift; against a baseline, each finding says how long it has existed, and the
findings gone since are listed.

Every name and value from a spec, the config or the API is escaped on the way in, so
none can break a table, start a link, ping someone or inject HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from driftcheck.formats import ReportOptions
from driftcheck.formats.wording import count
from driftcheck.model import (
    CheckResult,
    Difference,
    EndpointResult,
    Location,
    Status,
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
    view = _View(result, links)
    blocks: list[_Block] = []
    if result.base_ref is not None:
        blocks.extend(_planned(view))
        blocks.extend(_drift(view))
    else:
        blocks.extend(_findings(view, "###"))
    unmanaged = [e for e in result.endpoints if e.state == "unmanaged"]
    if unmanaged:
        blocks.append(_unmanaged(unmanaged, view))
    blocks.extend(_unknown(e, view) for e in result.endpoints if e.state == "unknown")
    unhealthy = [e for e in result.endpoints if e.health]
    if unhealthy:
        blocks.append(_health(unhealthy, result.require_healthy))
    suppressed = [
        (e, d, d.suppressed)
        for e in result.endpoints
        for d in e.differences
        if d.suppressed is not None
    ]
    if suppressed:
        blocks.append(_suppressed(suppressed, links))
    if result.resolved:
        blocks.append(_resolved(view))
    in_sync = [e for e in result.endpoints if e.state == "in_sync"]
    if in_sync:
        blocks.append(_in_sync(in_sync, links))

    return _fit(_header(result), blocks, SIZE_LIMIT)


@dataclass(frozen=True)
class _View:
    """The result being rendered and what every section needs to show it."""

    result: CheckResult
    links: _Links

    @property
    def three_way(self) -> bool:
        return self.result.base_ref is not None

    @property
    def baseline(self) -> bool:
        return self.result.baseline is not None

    def since(self, status: Status | None, first_seen: str | None) -> str:
        """How long a finding has existed: "new", "3 days", or "known"."""
        if status == "new":
            return "new"
        age = _age(first_seen, self.result.checked_at)
        return age or "known"


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
    three_way = result.base_ref is not None
    baseline = result.baseline is not None
    capacity = summary.gpu_capacity_change
    # Columns beyond the first six only when they have something to say.
    columns = [
        ("declared", str(summary.declared)),
        ("in sync", str(summary.in_sync)),
        ("drifted", str(summary.drifted)),
        ("planned", str(summary.planned) if three_way or summary.planned else ""),
        ("unknown", str(summary.unknown) if summary.unknown else ""),
        ("missing", str(summary.missing)),
        ("unmanaged", unmanaged),
        ("coverage", coverage),
        ("ignored differences", str(summary.ignored) if summary.ignored else ""),
        ("unhealthy", str(summary.unhealthy) if summary.unhealthy else ""),
        ("new", str(summary.new) if baseline else ""),
        ("resolved", str(summary.resolved) if baseline else ""),
        ("GPU capacity change", f"{capacity:+d}" if capacity else ""),
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
    declared = count(summary.declared, "declared endpoint")
    verb = "matches" if summary.declared == 1 else "match"
    if result.failing():
        text = f"**Drift found:** {', '.join(_failures(result))}."
        if result.fail_on == "new":
            new = len(result.failing())
            text += (
                f" Of these, only the {count(new, 'finding')} new since the baseline "
                f"{_does(new, 'fail')} the run (`--fail-on new`)."
            )
    elif failing:
        unhealthy = count(summary.unhealthy, "endpoint")
        text = (
            f"**Unhealthy endpoints fail the run:** {unhealthy} with health "
            "warnings (`--require-healthy`)."
        )
    elif summary.drifted or summary.missing:
        text = (
            "**No new drift:** every finding is known from the baseline, and known "
            "drift does not fail the run (`--fail-on new`)."
        )
    elif summary.unknown:
        matching = f"{summary.in_sync} of {declared}"
        verb = "matches" if summary.in_sync == 1 else "match"
        text = f"**No drift found:** {matching} {verb} live."
    elif summary.planned:
        text = (
            f"**In sync apart from planned changes:** {declared} {verb} live, or "
            "will once the deploy applies this change."
        )
    else:
        text = f"**In sync:** {declared} {verb} live."

    if summary.unknown:
        unknown = count(summary.unknown, "unknown endpoint")
        text += (
            f" {unknown} could not be fully compared: the live list was a redacted "
            "snapshot, which withholds secret values."
        )
    if summary.unmanaged and not failing:
        unmanaged = count(summary.unmanaged, "unmanaged endpoint")
        text += f" {unmanaged} {_does(summary.unmanaged)} not fail the run."
    if summary.ignored:
        ignored = count(summary.ignored, "ignored difference")
        text += f" {ignored} {_does(summary.ignored)} not count."
    if summary.unhealthy and not result.require_healthy:
        unhealthy = count(summary.unhealthy, "endpoint")
        text += (
            f" {unhealthy} {_does(summary.unhealthy, 'have')} health warnings, "
            "listed under *Health*; they do not fail the run."
        )
    return text


def _failures(result: CheckResult) -> list[str]:
    summary = result.summary
    parts = []
    if summary.drifted:
        counted = [d for e in result.endpoints for d in e.differences if d.counts]
        detail = count(len(counted), "difference")
        conflicts = sum(d.change == "conflict" for d in counted)
        if conflicts:
            detail += f", {count(conflicts, 'conflict')}"
        parts.append(f"{summary.drifted} drifted ({detail})")
    if summary.missing:
        parts.append(f"{summary.missing} missing")
    if summary.unmanaged and result.unmanaged_policy == "fail":
        parts.append(f"{summary.unmanaged} unmanaged (`--unmanaged fail`)")
    if summary.unhealthy and result.require_healthy:
        parts.append(f"{summary.unhealthy} unhealthy (`--require-healthy`)")
    return parts


def _does(number: int, verb: str = "do") -> str:
    """`verb` agreeing with `number`: do/does, have/has, fail/fails."""
    if number != 1:
        return verb
    return {"do": "does", "have": "has"}.get(verb, verb + "s")


def _age(first_seen: str | None, now: str | None) -> str | None:
    """The time from `first_seen` to `now` in its largest whole unit, or None."""
    start, end = _when(first_seen), _when(now)
    if start is None or end is None:
        return None
    seconds = max(int((end - start).total_seconds()), 0)
    for unit, length in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= length:
            return count(seconds // length, unit)
    return "under a minute"


def _when(text: str | None) -> datetime | None:
    """A time the reports wrote (UTC, ISO 8601); None for anything else."""
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _findings(view: _View, level: str) -> list[_Block]:
    """A section per drifted and per missing endpoint, in the order of the run."""
    return [
        _drifted(e, view, level) if e.state == "drifted" else _missing(e, view, level)
        for e in view.result.endpoints
        if e.state in ("drifted", "missing")
    ]


def _drift(view: _View) -> list[_Block]:
    """Against a base ref: what changed live without this change asking for it."""
    sections = _findings(view, "####")
    if not sections:
        return []
    head = (
        "### Drift\n\n"
        "Live differs from the specs, and not because of this change: a field "
        "changed by hand (drift), or changed by hand where this change changes it "
        "too (conflict).\n"
    )
    return [_Block(_Piece(head)), *sections]


def _planned(view: _View) -> list[_Block]:
    """Against a base ref: what the deploy of this change will do."""
    endpoints = view.result.endpoints
    planned = [e for e in endpoints if e.plan in ("create", "delete")]
    updated = [e for e in endpoints if any(d.planned for d in e.differences)]
    if not planned and not updated:
        return []

    ref = _code(_shorten(view.result.base_ref or ""))
    head = (
        "### Planned changes\n\n"
        f"This change makes these and live still matches {ref}, so the deploy "
        "will apply them. They do not fail the run.\n\n"
    )
    rows = [_Piece(_plan_item(e, view), endpoints=1) for e in planned]
    blocks = [_Block(_Piece(head), rows, "\n" if rows else "")]
    for endpoint in updated:
        spec = view.links.link(endpoint.source) if endpoint.source else ""
        note = f"Spec: {spec}\n\n" if spec else ""
        title = f"#### Update: {_name(endpoint)}"
        head = f"{title}\n\n{note}{_TABLE_HEAD}"
        shown = [
            d
            for d in endpoint.differences
            if d.planned or (d.kind == "unknown" and d.suppressed is None)
        ]
        # An endpoint also drifted is counted in its Drift section.
        tallied = 1 if endpoint.state == "planned" else 0
        rows = [_Piece(_row(_cells(d, view.links)), differences=1) for d in shown]
        blocks.append(_Block(_Piece(head, endpoints=tallied), rows))
    return blocks


def _plan_item(endpoint: EndpointResult, view: _View) -> str:
    if endpoint.plan == "create":
        where = f" in {view.links.link(endpoint.source)}" if endpoint.source else ""
        return (
            f"- Create {_name(endpoint)}: added{where}, not live yet; the deploy "
            "will create it.\n"
        )
    # A deleted spec lives only at the base ref: its place is no file to link to.
    where = f" (declared at {_code(str(endpoint.source))})" if endpoint.source else ""
    return (
        f"- Delete {_name(endpoint)}: removed by this change{where} but still live; "
        "the deploy will delete it.\n"
    )


def _drifted(endpoint: EndpointResult, view: _View, level: str) -> _Block:
    note = ""
    conflicts = sum(
        d.change == "conflict" for d in endpoint.differences if d.suppressed is None
    )
    if conflicts:
        ref = _code(_shorten(view.result.base_ref or ""))
        fields = "1 field" if conflicts == 1 else f"{conflicts} fields"
        note += (
            f"**Conflict:** on {fields}, live differs both from {ref} and from this "
            "change: someone changed it by hand, and the deploy would overwrite "
            "that. Decide which value to keep before merging.\n\n"
        )
    planned = sum(d.planned for d in endpoint.differences)
    if planned:
        note += (
            f"Also {count(planned, 'planned change')}, listed under *Planned "
            "changes*.\n\n"
        )
    block = _compared(
        f"{level} Drifted: {_name(endpoint)}", note, endpoint, view, planned=False
    )
    capacity = endpoint.capacity
    if capacity is not None:
        block.tail = (
            "\nGPU capacity (gpu_num \N{MULTIPLICATION SIGN} max_replicas): declared "
            f"{capacity.declared}, live {capacity.live} ({capacity.change:+d})\n\n"
        )
    return block


def _unknown(endpoint: EndpointResult, view: _View) -> _Block:
    note = (
        "Not fully compared: the live list was a redacted snapshot, which withholds "
        "the live values below. A check against the API compares them.\n\n"
    )
    return _compared(f"### Unknown: {_name(endpoint)}", note, endpoint, view)


def _compared(
    title: str,
    note: str,
    endpoint: EndpointResult,
    view: _View,
    planned: bool = True,
) -> _Block:
    """A section for a compared endpoint: its differences that count or are unknown,
    and its planned ones unless `planned` is False."""
    links = view.links
    spec = f"Spec: {links.link(endpoint.source)}\n\n" if endpoint.source else ""
    shown = [
        d
        for d in endpoint.differences
        if d.suppressed is None and (planned or not d.planned)
    ]
    ignored = sum(1 for d in endpoint.differences if d.suppressed)
    if ignored:
        note += (
            f"Also {count(ignored, 'ignored difference')}, listed under "
            "*Suppressed differences*.\n\n"
        )
    extra = []
    if view.three_way:
        extra.append("change")
    if view.baseline:
        extra.append("age")
    head = f"{title}\n\n{spec}{note}{_table_head(extra)}"
    rows = []
    for difference in shown:
        cells = _cells(difference, links)
        if view.three_way:
            cells.append(_change(difference))
        if view.baseline:
            cells.append(view.since(difference.status, difference.first_seen))
        rows.append(_Piece(_row(cells), differences=1))
    return _Block(_Piece(head, endpoints=1), rows)


def _table_head(extra: list[str]) -> str:
    if not extra:
        return _TABLE_HEAD
    names = ["path", "declared", "live", "line", *extra]
    return f"| {' | '.join(names)} |\n|{' --- |' * len(names)}\n"


def _change(difference: Difference) -> str:
    if difference.change == "conflict":
        return "**conflict**"
    return difference.change or "-"


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


def _missing(endpoint: EndpointResult, view: _View, level: str) -> _Block:
    where = f" in {view.links.link(endpoint.source)}" if endpoint.source else ""
    if endpoint.id:
        why = f"no live endpoint has id {_code(_shorten(endpoint.id))}"
    else:
        why = "no live endpoint has this name"
    name = _code(_shorten(endpoint.name))
    text = f"{level} Missing: {name}\n\nDeclared{where}, but not live: {why}."
    if view.baseline:
        since = view.since(endpoint.status, endpoint.first_seen)
        if since == "new":
            text += " New since the baseline."
        elif since == "known":
            text += " Known from the baseline."
        else:
            text += f" Known for {since}."
    return _Block(_Piece(text + "\n", endpoints=1))


def _unmanaged(endpoints: list[EndpointResult], view: _View) -> _Block:
    head = (
        f"### Unmanaged: {count(len(endpoints), 'live endpoint')} no spec declares\n\n"
    )
    if view.result.unmanaged_policy == "fail":
        head += "They fail the run (`--unmanaged fail`).\n\n"
    rows = []
    for endpoint in endpoints:
        since = ""
        if view.baseline:
            since = view.since(endpoint.status, endpoint.first_seen)
            since = f" ({since})" if since in ("new", "known") else f" (for {since})"
        rows.append(_Piece(f"- {_name(endpoint)}{since}\n", endpoints=1))
    return _Block(_Piece(head), rows)


def _health(endpoints: list[EndpointResult], required: bool) -> _Block:
    head = "### Health\n\n"
    if required:
        head += (
            "Live endpoints that are not healthy fail the run "
            "(`--require-healthy`).\n\n"
        )
    else:
        head += (
            "Warnings about the live endpoints, not drift: they do not fail the run "
            "unless `--require-healthy` is given.\n\n"
        )
    rows = [
        _Piece(f"- {_name(endpoint)}: {escape(_shorten(warning))}\n")
        for endpoint in endpoints
        for warning in endpoint.health
    ]
    return _Block(_Piece(head), rows)


def _resolved(view: _View) -> _Block:
    found = view.result.resolved
    head = (
        "### Resolved since the baseline\n\n"
        f"{count(len(found), 'finding')} of the baseline "
        f"{'is' if len(found) == 1 else 'are'} gone in this run.\n\n"
    )
    rows = []
    for resolved in found:
        what = escape(_shorten(resolved.kind))
        if resolved.path:
            what = f"{_code(_shorten(resolved.path))} ({what})"
        item = f"- {_code(_shorten(resolved.endpoint))}: {what}"
        if resolved.first_seen:
            item += f", first seen {_code(_shorten(resolved.first_seen))}"
            age = _age(resolved.first_seen, view.result.checked_at)
            if age is not None:
                item += f" ({age} ago)"
        rows.append(_Piece(item + "\n"))
    return _Block(_Piece(head), rows)


def _suppressed(
    found: list[tuple[EndpointResult, Difference, Suppression]], links: _Links
) -> _Block:
    head = (
        "### Suppressed differences\n\n"
        f"{count(len(found), 'difference')} matched an ignore rule: shown here, "
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
            where += f" ({count(ignored, 'ignored difference')})"
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
        missed.append(count(left_out.endpoints, "endpoint"))
    if left_out.differences:
        missed.append(count(left_out.differences, "difference"))
    return (
        f"**Report cut to stay under {limit:,} characters:** "
        f"{' and '.join(missed)} not shown. "
        "The JSON report (`--format json` or `--report json:PATH`) holds them all."
    )
