"""The command line: gathers options, hands plain settings to the runner, maps errors.

Kept light on purpose: heavy modules load only inside the command that needs them.
"""

from __future__ import annotations

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


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES,
)
@click.version_option(__version__, "-V", "--version", prog_name="driftcheck")
def main() -> None:
    """Catch drift between PPIO endpoint specs in git and the live endpoints."""


def _spec_paths(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument(
        "paths", nargs=-1, required=True, type=click.Path(path_type=str)
    )(func)


@main.command(epilog="\b\nExit codes:\n  0  valid\n  2  invalid")
@_spec_paths
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
@_spec_paths
@click.option(
    "--live-file",
    type=click.Path(dir_okay=False, path_type=str),
    help="Read the live list from a saved JSON file (the API's response or a list) "
    "instead of calling the API.",
)
@click.option(
    "--api-url",
    envvar="PPIO_API_URL",
    default="https://api.ppio.com",
    show_default=True,
    show_envvar=True,
    help="Base URL of the PPIO API.",
)
@click.option(
    "--api-key",
    envvar="PPIO_API_KEY",
    show_envvar=True,
    help="API key. Prefer the PPIO_API_KEY variable: a key given here lands in shell "
    "history and process listings.",
)
@click.option(
    "--page-size",
    type=click.IntRange(1, 1000),
    default=100,
    show_default=True,
    help="Endpoints asked for per page.",
)
@click.option("--member-ids", help="Comma-separated member ids, passed to the API.")
@click.option("--keyword", help="Search keyword, passed to the API.")
@click.option(
    "--retries",
    type=click.IntRange(0, 20),
    default=4,
    show_default=True,
    help="Retries on 429, 5xx and network errors, with backoff.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 600),
    default=30.0,
    show_default=True,
    help="Seconds per request.",
)
@click.option(
    "--max-pages",
    type=click.IntRange(1),
    default=10_000,
    show_default=True,
    help="Stop with an error past this many pages.",
)
@click.option(
    "--allow-insecure-http",
    is_flag=True,
    help="Allow an http:// API URL to a host other than loopback.",
)
@click.option(
    "--ca-bundle",
    type=click.Path(exists=True, dir_okay=False, path_type=str),
    help="CA certificates to verify the API's TLS certificate (default: the system "
    "store, or SSL_CERT_FILE).",
)
@click.option(
    "--unmanaged",
    type=click.Choice(["ignore", "warn", "fail"]),
    default="warn",
    show_default=True,
    help="Live endpoints no spec declares: leave out, list, or list and fail.",
)
@click.option(
    "--endpoint",
    "endpoint_globs",
    multiple=True,
    metavar="GLOB",
    help="Only endpoints whose name matches (repeatable).",
)
@click.option(
    "--sensitive-env",
    multiple=True,
    metavar="GLOB",
    help="Env keys whose values are never printed, besides those containing TOKEN, "
    "SECRET, PASSWORD, PASSWD, KEY, CREDENTIAL or AUTH (repeatable).",
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
@click.option("-v", "--verbose", is_flag=True, help="Log each request on stderr.")
def check(
    paths: tuple[str, ...],
    live_file: str | None,
    api_url: str,
    api_key: str | None,
    page_size: int,
    member_ids: str | None,
    keyword: str | None,
    retries: int,
    timeout: float,
    max_pages: int,
    allow_insecure_http: bool,
    ca_bundle: str | None,
    unmanaged: str,
    endpoint_globs: tuple[str, ...],
    sensitive_env: tuple[str, ...],
    report_format: str,
    output: str | None,
    reports: list[tuple[str, str]],
    verbose: bool,
) -> None:
    """Compare the declared specs in PATHS with the live endpoints.

    PATHS are spec files or directories (searched recursively for *.yaml and *.yml).
    The report goes to stdout (or --output); progress and errors go to stderr.
    """
    from driftcheck import runner
    from driftcheck.console import Console, color_wanted
    from driftcheck.live import ApiSettings, check_api_url

    console = Console(secrets=[api_key or ""], verbose=verbose)
    if live_file is None:
        try:
            check_api_url(api_url, allow_insecure_http)
        except Exception as exc:
            raise click.UsageError(str(exc)) from None
    settings = runner.CheckSettings(
        paths=list(paths),
        api=ApiSettings(
            api_url=api_url,
            api_key=api_key or "",
            page_size=page_size,
            member_ids=member_ids,
            keyword=keyword,
            timeout=timeout,
            retries=retries,
            max_pages=max_pages,
            allow_insecure_http=allow_insecure_http,
            ca_bundle=ca_bundle,
        ),
        live_file=live_file,
        unmanaged=unmanaged,  # type: ignore[arg-type]
        endpoints=list(endpoint_globs),
        sensitive_env=list(sensitive_env),
        format=report_format,
        output=output,
        reports=reports,
        color=color_wanted(sys.stdout),
    )
    _finish(console, lambda: runner.check(settings, console))


def _finish(console: Any, work: Callable[[], int]) -> NoReturn:
    """Run the work and exit with its code; each failure becomes one line."""
    from driftcheck.errors import DriftcheckError
    from driftcheck.model import EXIT_ERROR

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
    sys.exit(code)


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
