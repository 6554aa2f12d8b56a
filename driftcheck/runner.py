"""The check and validate commands without click: settings in, exit code out."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any

from driftcheck.console import Console
from driftcheck.formats import ReportOptions, render
from driftcheck.live import ApiSettings
from driftcheck.model import EXIT_IN_SYNC, CheckResult, UnmanagedPolicy
from driftcheck.repo import blob_url_base

# GitHub refuses job summaries over 1 MiB per step.
STEP_SUMMARY_LIMIT = 1024 * 1024


@dataclass
class CheckSettings:
    """Everything `driftcheck check` was asked to do, in plain values."""

    paths: list[str]
    api: ApiSettings = field(default_factory=ApiSettings)
    live_file: str | None = None
    unmanaged: UnmanagedPolicy = "warn"
    endpoints: list[str] = field(default_factory=list)
    sensitive_env: list[str] = field(default_factory=list)
    format: str = "text"
    output: str | None = None
    reports: list[tuple[str, str]] = field(default_factory=list)
    color: bool = False


def validate(paths: list[str], console: Console) -> int:
    """Load and check the specs only; raises SpecError when any is invalid."""
    from driftcheck.specs import load_specs

    specs = load_specs(paths)
    for warning in specs.warnings:
        console.warn(warning)
    count = len(specs.endpoints)
    sys.stdout.write(
        f"{count} endpoint{'s' if count != 1 else ''} in "
        f"{len(specs.files)} file{'s' if len(specs.files) != 1 else ''}: valid\n"
    )
    return EXIT_IN_SYNC


def check(settings: CheckSettings, console: Console) -> int:
    """Compare declared with live, write the reports, return the exit code."""
    from driftcheck.compare import compare
    from driftcheck.live import fetch_live, read_live_file
    from driftcheck.redact import Redactor
    from driftcheck.specs import load_specs

    specs = load_specs(settings.paths)
    for warning in specs.warnings:
        console.warn(warning)

    if settings.live_file is not None:
        live = read_live_file(settings.live_file)
    else:
        live = fetch_live(
            settings.api,
            notify=console.say,
            progress=console.progress,
            debug=console.debug if console.verbose else None,
        )
    console.close()

    result = compare(
        specs.endpoints,
        live,
        redactor=Redactor(settings.sensitive_env),
        unmanaged=settings.unmanaged,
        only=settings.endpoints,
    )
    for warning in result.warnings:
        console.warn(warning)
    _write_reports(result, settings, console)
    return result.exit_code()


def _write_reports(
    result: CheckResult, settings: CheckSettings, console: Console
) -> None:
    link_base = blob_url_base()
    plain = ReportOptions(link_base=link_base)
    for name, path in settings.reports:
        write_file(path, console.scrub(render(name, result, plain)))

    color = settings.color and settings.output is None
    options = ReportOptions(color=color, link_base=link_base)
    report = console.scrub(render(settings.format, result, options))
    if settings.output is not None:
        write_file(settings.output, report)
    else:
        sys.stdout.write(report)
        sys.stdout.flush()

    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if settings.format == "github" and summary_path:
        markdown = console.scrub(render("markdown", result, plain))
        append_capped(summary_path, markdown, STEP_SUMMARY_LIMIT)


def write_file(path: str, text: str) -> None:
    """Write `text` whole or not at all: readers never see half a report."""
    directory = os.path.dirname(os.path.abspath(path))
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, then renamed
        "w", encoding="utf-8", dir=directory, delete=False, prefix=".driftcheck-"
    )
    try:
        with handle:
            handle.write(text)
        os.replace(handle.name, path)
    except BaseException:
        _unlink_quietly(handle.name)
        raise


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def append_capped(path: str, text: str, limit: int) -> None:
    """Append to a file that may hold at most `limit` bytes in all."""
    try:
        used = os.path.getsize(path)
    except OSError:
        used = 0
    room = limit - used
    data = text.encode("utf-8")
    if len(data) > room:
        note = b"\n\n_Report cut: the job summary is limited to 1 MiB._\n"
        keep = max(room - len(note), 0)
        data = data[:keep].decode("utf-8", "ignore").encode("utf-8") + note
        if len(data) > room:
            return
    with open(path, "ab") as handle:
        handle.write(data)


def describe_settings(settings: CheckSettings) -> dict[str, Any]:
    """The settings without secrets, for --verbose."""
    api = settings.api
    return {
        "paths": settings.paths,
        "live_file": settings.live_file,
        "api_url": api.api_url,
        "api_key": "set" if api.api_key else "not set",
        "page_size": api.page_size,
        "format": settings.format,
    }
