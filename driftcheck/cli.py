"""The command line: gathers options, hands plain settings to the runner, maps errors.

Kept light on purpose: heavy modules load only inside the command that needs them.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from driftcheck import __version__
from driftcheck.formats import FORMATS

EXIT_CODES = """\b
Exit codes:
  0  declared and live agree
  1  drift found (drifted or missing endpoints; unmanaged ones under --unmanaged fail)
  2  error: bad usage, invalid specs, or the live list could not be read
"""

EXIT_INTERRUPTED = 130

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES,
)
@click.version_option(__version__, "-V", "--version", prog_name="driftcheck")
def main() -> None:
    """Catch drift between PPIO endpoint specs in git and the live endpoints."""


def _options(*decorators: Decorator) -> Decorator:
    def apply(func: Callable[..., Any]) -> Callable[..., Any]:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


_PATHS_HELP = "PATHS are spec files or directories (searched recursively for *.yaml)."

_api_options = _options(
    click.option(
        "--api-url",
        envvar="PPIO_API_URL",
        default="https://api.ppio.com",
        show_default=True,
        show_envvar=True,
        help="Base URL of the PPIO API.",
    ),
    click.option(
        "--api-key",
        envvar="PPIO_API_KEY",
        show_envvar=True,
        help="API key. Prefer the PPIO_API_KEY variable: a key given here lands in "
        "shell history and process listings.",
    ),
    click.option(
        "--page-size",
        type=click.IntRange(1, 1000),
        default=100,
        show_default=True,
        help="Endpoints asked for per page.",
    ),
    click.option("--member-ids", help="Comma-separated member ids, passed to the API."),
    click.option("--keyword", help="Search keyword, passed to the API."),
    click.option(
        "--retries",
        type=click.IntRange(0, 20),
        default=4,
        show_default=True,
        help="Retries on 429, 5xx and network errors, with backoff.",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(0.1, 600),
        default=30.0,
        show_default=True,
        help="Seconds per request.",
    ),
    click.option(
        "--max-pages",
        type=click.IntRange(1),
        default=10_000,
        show_default=True,
        help="Stop with an error past this many pages.",
    ),
    click.option(
        "--allow-insecure-http",
        is_flag=True,
        help="Allow an http:// API URL to a host other than loopback.",
    ),
    click.option(
        "--ca-bundle",
        type=click.Path(exists=True, dir_okay=False, path_type=str),
        help="CA certificates to verify the API's TLS certificate (default: the "
        "system store, or SSL_CERT_FILE).",
    ),
    click.option("-v", "--verbose", is_flag=True, help="Log each request on stderr."),
)

_sensitive_option = click.option(
    "--sensitive-env",
    multiple=True,
    metavar="GLOB",
    help="Env keys whose values are never printed, besides those containing TOKEN, "
    "SECRET, PASSWORD, PASSWD, KEY, CREDENTIAL or AUTH (repeatable).",
)

_endpoint_option = click.option(
    "--endpoint",
    "endpoint_globs",
    multiple=True,
    metavar="GLOB",
    help="Only endpoints whose name matches (repeatable).",
)


def _api_settings(params: dict[str, Any]) -> Any:
    """ApiSettings from the shared API options; refuses an unsafe URL up front."""
    from driftcheck.errors import UsageError
    from driftcheck.live import ApiSettings, check_api_url

    try:
        check_api_url(params["api_url"], params["allow_insecure_http"])
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    return ApiSettings(
        api_url=params["api_url"],
        api_key=params["api_key"] or "",
        page_size=params["page_size"],
        member_ids=params["member_ids"],
        keyword=params["keyword"],
        timeout=params["timeout"],
        retries=params["retries"],
        max_pages=params["max_pages"],
        allow_insecure_http=params["allow_insecure_http"],
        ca_bundle=params["ca_bundle"],
    )


# Shorter than this, a "key" is a placeholder: scrubbing it from every line would
# mangle reports without protecting anything.
MIN_SCRUBBED_KEY = 8


def _console(params: dict[str, Any]) -> Any:
    """The stderr console; it scrubs the API key from every line when one is sent."""
    from driftcheck.console import Console

    key = params.get("api_key") or ""
    sent = params.get("live_file") is None
    secrets = [key] if sent and len(key) >= MIN_SCRUBBED_KEY else []
    return Console(secrets=secrets, verbose=params["verbose"])


@main.command(epilog="\b\nExit codes:\n  0  valid\n  2  invalid")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
def validate(paths: tuple[str, ...]) -> None:
    """Check spec files only, with no network: for pre-commit hooks and PR lint steps.

    PATHS are spec files or directories (searched recursively for *.yaml and *.yml).
    """
    from driftcheck import runner
    from driftcheck.console import Console

    console = Console()
    _finish(console, lambda: runner.validate(list(paths), console))


def _parse_report(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> list[tuple[str, str]]:
    reports = []
    for value in values:
        name, sep, path = value.partition(":")
        if not sep or not path:
            raise click.BadParameter(f"{value!r} is not FORMAT:PATH", ctx, param)
        if name not in FORMATS:
            choices = ", ".join(FORMATS)
            raise click.BadParameter(f"unknown format {name!r} (one of {choices})")
        reports.append((name, path))
    return reports


@main.command(epilog=EXIT_CODES)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=str),
    help="Config file (default: the nearest driftcheck.yaml up to the git root).",
)
@click.option(
    "--live-file",
    type=click.Path(dir_okay=False, path_type=str),
    help="Read the live list from a saved JSON file (the API's response or a list) "
    "instead of calling the API.",
)
@_api_options
@click.option(
    "--unmanaged",
    type=click.Choice(["ignore", "warn", "fail"]),
    default="warn",
    show_default=True,
    help="Live endpoints no spec declares: leave out, list, or list and fail.",
)
@_endpoint_option
@_sensitive_option
@click.option(
    "--ignore",
    "ignore_paths",
    multiple=True,
    metavar="PATH_GLOB",
    help="Let differences at these field paths not count, e.g. "
    "worker_config.min_replicas or envs.BUILD_* (repeatable; listed as suppressed).",
)
@click.option(
    "--show-ignored", is_flag=True, help="List suppressed differences in text reports."
)
@click.option(
    "--base-ref",
    metavar="REF",
    help="Also read the specs at git REF (e.g. origin/main) and tell the pull "
    "request's planned changes from drift; only drift and conflicts fail.",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=str),
    help="An earlier JSON report: mark each finding new or known, carry first_seen "
    "forward, list resolved ones.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["new", "any"]),
    default="any",
    show_default=True,
    help="Fail on any drift, or only on drift absent from --baseline.",
)
@click.option(
    "--require-healthy",
    is_flag=True,
    help="Fail when a declared endpoint is not running or has unhealthy workers.",
)
@click.option(
    "-f",
    "--format",
    "report_format",
    type=click.Choice(list(FORMATS)),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=str),
    help="Write the report to this file instead of stdout.",
)
@click.option(
    "--report",
    "reports",
    multiple=True,
    metavar="FORMAT:PATH",
    callback=_parse_report,
    help="Also write a report in FORMAT to PATH (repeatable), from the same run.",
)
@click.pass_context
def check(ctx: click.Context, **params: Any) -> None:
    """Compare the declared specs in PATHS with the live endpoints.

    PATHS are spec files or directories (searched recursively for *.yaml and *.yml);
    without them, the `paths` of driftcheck.yaml. The report goes to stdout (or
    --output); progress and errors go to stderr.
    """
    from driftcheck import runner
    from driftcheck.console import color_wanted
    from driftcheck.ignore import IgnoreRule

    console = _console(params)
    config = _finish_on_error(console, lambda: _load_config(params["config_file"]))
    if config is not None:
        _apply_config(ctx, params, config.values)
    if not params["paths"]:
        raise click.UsageError(
            "no spec paths: give PATHS, or set `paths` in driftcheck.yaml"
        )

    rules = list(config.ignore) if config is not None else []
    rules += [
        IgnoreRule(paths=(glob,), reason="--ignore on the command line")
        for glob in params["ignore_paths"]
    ]
    settings = runner.CheckSettings(
        paths=list(params["paths"]),
        api=_api_settings(params) if params["live_file"] is None else _file_api(params),
        live_file=params["live_file"],
        unmanaged=params["unmanaged"],
        endpoints=list(params["endpoint_globs"]),
        sensitive_env=list(params["sensitive_env"]),
        format=params["report_format"],
        output=params["output"],
        reports=list(params["reports"]),
        color=color_wanted(sys.stdout),
        ignore=rules,
        show_ignored=params["show_ignored"],
        base_ref=params["base_ref"],
        baseline=params["baseline"],
        fail_on=params["fail_on"],
        require_healthy=params["require_healthy"],
    )
    _finish(console, lambda: runner.check(settings, console))


def _file_api(params: dict[str, Any]) -> Any:
    from driftcheck.live import ApiSettings

    return ApiSettings(api_url=params["api_url"])


def _load_config(explicit: str | None) -> Any:
    from driftcheck.config import find_config, load_config

    file = explicit or find_config()
    return load_config(file) if file is not None else None


# Config keys and the check parameters they give a default to.
_CONFIG_PARAMS = {
    "paths": "paths",
    "api_url": "api_url",
    "page_size": "page_size",
    "retries": "retries",
    "timeout": "timeout",
    "unmanaged": "unmanaged",
    "sensitive_env": "sensitive_env",
    "format": "report_format",
    "reports": "reports",
}


def _apply_config(
    ctx: click.Context, params: dict[str, Any], values: dict[str, Any]
) -> None:
    """Config values fill in what the command line and environment left unset."""
    for key, name in _CONFIG_PARAMS.items():
        if key not in values:
            continue
        source = ctx.get_parameter_source(name)
        given = source not in (None, click.core.ParameterSource.DEFAULT)
        if name in ("sensitive_env", "reports"):
            # Lists add up: the config's and the command line's both apply.
            params[name] = list(values[key]) + list(params[name])
        elif name == "paths":
            if not params["paths"]:
                params["paths"] = tuple(values[key])
        elif not given:
            params[name] = values[key]


@main.command()
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="File to write the snapshot to (JSON, as --live-file reads it).",
)
@_api_options
@_sensitive_option
def snapshot(**params: Any) -> None:
    """Save the whole live endpoint list, for audits and for reproducing a report.

    Sensitive env values are replaced by a redaction marker, so a snapshot is safe to
    attach to an issue; checking against one reports those values as unknown.
    """
    from driftcheck import runner

    console = _console(params)
    api = _api_settings(params)
    _finish(
        console,
        lambda: runner.snapshot(
            api, list(params["sensitive_env"]), params["output"], console
        ),
    )


@main.command()
@click.option(
    "--output-dir",
    default="endpoints",
    show_default=True,
    type=click.Path(file_okay=False, path_type=str),
    help="Directory to write the spec files to.",
)
@click.option(
    "--single-file", is_flag=True, help="Write one endpoints.yaml instead of one each."
)
@click.option("--force", is_flag=True, help="Overwrite existing spec files.")
@click.option(
    "--live-file",
    type=click.Path(dir_okay=False, path_type=str),
    help="Export from a saved live list instead of the API.",
)
@_endpoint_option
@_api_options
@_sensitive_option
def export(**params: Any) -> None:
    """Write spec YAML for live endpoints: the way to adopt driftcheck on an account.

    Only declarable fields are written, envs as a mapping. Sensitive env values are
    written as ${NAME} references, read from the environment when checked.
    """
    from driftcheck import runner

    console = _console(params)
    live_file = params["live_file"]
    settings = runner.ExportSettings(
        api=_api_settings(params) if live_file is None else _file_api(params),
        live_file=live_file,
        endpoints=list(params["endpoint_globs"]),
        sensitive_env=list(params["sensitive_env"]),
        output_dir=params["output_dir"],
        single_file=params["single_file"],
        force=params["force"],
    )
    _finish(console, lambda: runner.export(settings, console))


def _finish_on_error(console: Any, work: Callable[[], Any]) -> Any:
    """Run a preparation step; a user-fixable error ends the run as `_finish` would."""
    from driftcheck.errors import DriftcheckError
    from driftcheck.model import EXIT_ERROR

    try:
        return work()
    except DriftcheckError as exc:
        console.error(exc.lines())
        sys.exit(EXIT_ERROR)


def _finish(console: Any, work: Callable[[], int]) -> NoReturn:
    """Run the work and exit with its code; each failure becomes one line."""
    from driftcheck.errors import DriftcheckError
    from driftcheck.model import EXIT_ERROR

    # Specs and live lists are large trees without cycles, freed by reference
    # counting alone; the cycle collector would only re-scan them as they grow, which
    # at tens of thousands of endpoints costs more than reading them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        code = work()
    except DriftcheckError as exc:
        console.close()
        console.error(exc.lines())
        code = EXIT_ERROR
    except KeyboardInterrupt:
        console.close()
        console.say("driftcheck: interrupted")
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); nothing left to say to it.
        _silence_stdout()
        code = EXIT_ERROR
    except Exception as exc:  # a bug: one line, never a traceback with local state
        console.close()
        console.say(
            f"driftcheck: internal error: {type(exc).__name__}: {exc}. "
            "This is a bug in driftcheck; please report it."
        )
        if os.environ.get("DRIFTCHECK_TRACEBACK"):
            import traceback

            console.say(traceback.format_exc())
        code = EXIT_ERROR
    finally:
        if collecting:
            gc.enable()
    sys.exit(code)


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
