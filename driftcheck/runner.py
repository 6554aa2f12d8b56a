"""The check and validate commands without click: settings in, exit code out."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from driftcheck.console import Console
from driftcheck.errors import DriftcheckError, OutputError
from driftcheck.formats import ReportOptions, render
from driftcheck.ignore import IgnoreRule
from driftcheck.live import ApiSettings
from driftcheck.model import (
    EXIT_IN_SYNC,
    CheckResult,
    DeclaredEndpoint,
    FailOn,
    UnmanagedPolicy,
)
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
    ignore: list[IgnoreRule] = field(default_factory=list)
    show_ignored: bool = False
    base_ref: str | None = None
    baseline: str | None = None
    fail_on: FailOn = "any"
    require_healthy: bool = False


@dataclass
class ExportSettings:
    """What `driftcheck export` writes, and from which live list."""

    api: ApiSettings = field(default_factory=ApiSettings)
    live_file: str | None = None
    endpoints: list[str] = field(default_factory=list)
    sensitive_env: list[str] = field(default_factory=list)
    output_dir: str = "endpoints"
    single_file: bool = False
    force: bool = False


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
    """Compare declared with live, write the reports, return the exit code.

    On failure, report files left by an earlier run at the requested paths are
    removed: a CI step that uploads them afterwards must not pass an old result off
    as this run's.
    """
    try:
        return _check(settings, console)
    except DriftcheckError:
        for path in _report_paths(settings):
            if os.path.isfile(path):
                _unlink_quietly(path)
        raise


def _report_paths(settings: CheckSettings) -> list[str]:
    paths = [path for _, path in settings.reports]
    if settings.output is not None:
        paths.append(settings.output)
    return paths


def _check(settings: CheckSettings, console: Console) -> int:
    from driftcheck import envrefs
    from driftcheck.baseline import apply_baseline, now_utc, read_baseline, stamp
    from driftcheck.compare import compare, selected
    from driftcheck.ignore import apply_ignores
    from driftcheck.redact import Redactor
    from driftcheck.specs import load_specs

    specs = load_specs(settings.paths)
    for warning in specs.warnings:
        console.warn(warning)
    # Only the endpoints this run compares need their variables set; the others
    # still mark which env keys hold secrets.
    chosen: list[DeclaredEndpoint] = []
    others: list[DeclaredEndpoint] = []
    for declared in specs.endpoints:
        wanted = not settings.endpoints or selected(declared.name, settings.endpoints)
        (chosen if wanted else others).append(declared)
    from_environment = envrefs.resolve(chosen, os.environ)
    from_environment |= envrefs.resolve(others, os.environ, allow_unset=True)
    base = None
    if settings.base_ref is not None:
        from driftcheck.gitbase import load_base_specs

        base = load_base_specs(settings.paths, settings.base_ref)
        from_environment |= envrefs.resolve(
            base.endpoints, os.environ, allow_unset=True
        )
    known = read_baseline(settings.baseline) if settings.baseline else None

    live = read_live(settings.api, settings.live_file, console)
    redactor = Redactor(settings.sensitive_env, keys=from_environment)
    live_filtered = settings.live_file is None and bool(
        settings.api.member_ids or settings.api.keyword
    )
    result = compare(
        specs.endpoints,
        live,
        redactor=redactor,
        # Against a base ref, an endpoint the head no longer declares is a planned
        # deletion, which `--unmanaged ignore` must not hide: keep the unmanaged
        # ones until classified, then drop those that are still unmanaged.
        unmanaged="warn" if base is not None else settings.unmanaged,
        only=settings.endpoints,
        live_filtered=live_filtered,
    )
    if base is not None and settings.base_ref is not None:
        from driftcheck.threeway import classify

        classify(result, specs.endpoints, base.endpoints, redactor, settings.base_ref)
        result.unmanaged_policy = settings.unmanaged
        if settings.unmanaged == "ignore":
            result.endpoints = [e for e in result.endpoints if e.state != "unmanaged"]
    for warning in result.warnings:
        console.warn(warning)
    for rule in apply_ignores(result, settings.ignore):
        console.warn(
            f"ignore rule at {rule.origin} matched nothing in this run "
            f"(paths {', '.join(rule.paths)}); remove it if it is no longer needed"
        )
    stamp(result, now_utc())
    if known is not None and settings.baseline is not None:
        left_out = apply_baseline(
            result,
            known,
            settings.baseline,
            looked_at=_scope(result, settings, live_filtered),
        )
        if left_out:
            console.warn(
                f"{left_out} finding(s) of the baseline concern endpoints this run's "
                "filters (--endpoint, --unmanaged ignore, --keyword, --member-ids) "
                "left out; they were not checked again and are not listed as resolved"
            )
    result.fail_on = settings.fail_on
    result.require_healthy = settings.require_healthy

    _write_reports(result, settings, console)
    return result.exit_code()


def _scope(
    result: CheckResult, settings: CheckSettings, live_filtered: bool
) -> Callable[[tuple[str, str, str]], bool]:
    """Whether this run could have seen a finding (endpoint, path, kind)."""
    from driftcheck.compare import selected

    names = {endpoint.name for endpoint in result.endpoints}

    def looked_at(key: tuple[str, str, str]) -> bool:
        name, _, kind = key
        if name in names:
            return True
        if settings.endpoints and not selected(name, settings.endpoints):
            return False
        if kind == "unmanaged" and settings.unmanaged == "ignore":
            return False
        # The API listed only part of the account: absence proves nothing.
        return not live_filtered

    return looked_at


def read_live(api: ApiSettings, live_file: str | None, console: Console) -> list[Any]:
    """The whole live list, from a saved file or from the API."""
    from driftcheck.live import fetch_live, read_live_file

    if live_file is not None:
        return read_live_file(live_file)
    live = fetch_live(
        api,
        notify=console.say,
        progress=console.progress,
        debug=console.debug if console.verbose else None,
    )
    console.close()
    return live


def snapshot(
    api: ApiSettings, sensitive_env: list[str], output: str, console: Console
) -> int:
    """Save the live list, every page, with sensitive env values redacted."""
    import json

    from driftcheck.export import snapshot_document
    from driftcheck.redact import Redactor

    try:
        live = read_live(api, None, console)
    except DriftcheckError:
        # As with reports: an old snapshot must not pass for this run's.
        if os.path.isfile(output):
            _unlink_quietly(output)
        raise
    document = snapshot_document(live, Redactor(sensitive_env), api.api_url)
    write_file(output, console.scrub(json.dumps(document, indent=2) + "\n"))
    console.say(f"saved {len(live)} live endpoints to {output}")
    return EXIT_IN_SYNC


def export(settings: ExportSettings, console: Console) -> int:
    """Write spec files for live endpoints; secrets become ${NAME} references."""
    from driftcheck.export import write_export
    from driftcheck.redact import Redactor

    live = read_live(settings.api, settings.live_file, console)
    source = settings.live_file or settings.api.api_url
    files, variables = write_export(
        live,
        redactor=Redactor(settings.sensitive_env),
        source=source,
        output_dir=settings.output_dir,
        only=settings.endpoints,
        single_file=settings.single_file,
        force=settings.force,
        warn=console.warn,
    )
    console.say(f"wrote {len(files)} spec file(s) to {settings.output_dir}")
    if variables:
        console.say(
            "set these variables when you run driftcheck check (they hold the "
            f"sensitive env values): {', '.join(variables)}"
        )
    return EXIT_IN_SYNC


def _write_reports(
    result: CheckResult, settings: CheckSettings, console: Console
) -> None:
    for path in _report_paths(settings):
        _check_writable(path)

    link_base = blob_url_base()
    plain = ReportOptions(link_base=link_base)
    for name, path in settings.reports:
        write_file(path, console.scrub(render(name, result, plain)))

    color = settings.color and settings.output is None
    options = ReportOptions(
        color=color, link_base=link_base, show_ignored=settings.show_ignored
    )
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


def _check_writable(path: str) -> None:
    """Fail before any report is written if one of them cannot be."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OutputError(f"cannot write {path}: directory {directory} does not exist")
    if os.path.isdir(path):
        raise OutputError(f"cannot write {path}: it is a directory")


def write_file(path: str, text: str) -> None:
    """Write `text` whole or not at all: readers never see half a report."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed, then renamed
            "w", encoding="utf-8", dir=directory, delete=False, prefix=".driftcheck-"
        )
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with handle:
            handle.write(text)
        os.replace(handle.name, path)
    except OSError as exc:
        _unlink_quietly(handle.name)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
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
