"""A hostile or broken PPIO API: every failure is exit 2 with one clear line.

Each case runs the real `driftcheck check` against the fake PPIO API on 127.0.0.1
with scripted faults. On failure the run must say which URL failed and what to do,
print no traceback, and produce nothing that could be read as a result: stdout
empty and no report file written, in any format. Transient faults are retried and
the run says so on stderr.
"""

from __future__ import annotations

import email.utils
import json
import re
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from driftcheck.formats import FORMATS

from .conftest import CliResult, RunCli
from .fake_ppio import (
    DEFAULT_API_KEY,
    DROP,
    Exchange,
    FakePPIO,
    Fault,
    broken_json,
    close_without_response,
    data_not_list,
    empty_cursor_has_more,
    endless_pages,
    gzip_body,
    html_200,
    make_endpoint,
    raw,
    redirect,
    repeat_cursor,
    reset_mid_body,
    slow,
    status,
)

TIMEOUT = 20
NAMES = [f"model-{i}" for i in range(9)]
# Words a report uses to state a result; none may appear when the run failed.
CLAIMS = re.compile(r"\b(in sync|in_sync|missing|unmanaged|drift|drifted)\b", re.I)


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    """Nine declared endpoints, matching the fake's nine live ones by name."""
    path = tmp_path / "specs.yaml"
    body = "".join(f"  - name: {name}\n" for name in NAMES)
    path.write_text(f"endpoints:\n{body}", encoding="utf-8")
    return path


@pytest.fixture
def fake(fake_api: FakePPIO) -> FakePPIO:
    fake_api.endpoints = [make_endpoint(name) for name in NAMES]
    return fake_api


def run_check(
    run_cli: RunCli,
    specs: Path,
    api_url: str,
    *options: str,
    reports: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> CliResult:
    """`driftcheck check` against `api_url`; with `reports`, a report per format."""
    extra: list[str] = []
    if reports is not None:
        for name in FORMATS:
            extra += ["--report", f"{name}:{reports / f'report.{name}'}"]
    return run_cli(
        "check",
        specs,
        *options,
        *extra,
        env={"PPIO_API_KEY": DEFAULT_API_KEY, "PPIO_API_URL": api_url, **(env or {})},
        cwd=specs.parent,
        timeout=TIMEOUT,
    )


def assert_failed(
    result: CliResult, url: str, pattern: str, reports: Path | None = None
) -> str:
    """Exit 2, one `error:` line naming `url` and matching `pattern`, no result."""
    assert result.code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert DEFAULT_API_KEY not in result.stderr

    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, lines
    # Anything else is a retry notice: the error is the last word.
    assert lines[-1] == errors[0]
    assert all(re.match(r"driftcheck: .* retrying in ", x) for x in lines[:-1]), lines
    assert errors[0].startswith(f"error: {url}"), errors[0]
    assert re.search(pattern, errors[0]), (pattern, errors[0])
    assert not CLAIMS.search(errors[0].replace(url, "")), errors[0]

    if reports is not None:
        assert sorted(p.name for p in reports.iterdir()) == []
    return errors[0]


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def too_many_requests_until(seconds: float) -> Fault:
    """429 with Retry-After as an HTTP date `seconds` after the request arrives."""

    def fault(exchange: Exchange) -> None:
        when = email.utils.formatdate(time.time() + seconds, usegmt=True)
        status(429, headers={"Retry-After": when})(exchange)

    return fault


@dataclass(frozen=True)
class Failure:
    """Faults to script, options to pass, and what the error line must say."""

    faults: list[tuple[Fault, int | None, int]]  # (fault, on_request, times)
    pattern: str
    options: tuple[str, ...] = ()
    always: Fault | None = None
    requests: int | None = None  # exactly this many requests reach the fake
    page_cap: int | None = None


FAILURES: dict[str, Failure] = {
    "http_401": Failure(
        [],
        r"authentication failed \(HTTP 401\).*Check that PPIO_API_KEY holds a valid",
        always=status(401, {"message": "invalid api key"}),
        requests=1,
    ),
    "http_403": Failure(
        [],
        r"permission denied \(HTTP 403\).* may not list serverless endpoints",
        always=status(403),
        requests=1,
    ),
    "http_400": Failure(
        [], r"HTTP 400: bad cursor$", always=status(400, {"message": "bad cursor"})
    ),
    "http_500_persistent_gives_up_within_retry_budget": Failure(
        [],
        r"giving up after 3 attempts on page 1: HTTP 500\. Try again later",
        options=("--retries", "2"),
        always=status(500),
        requests=3,
    ),
    "http_503_no_retries": Failure(
        [],
        r"giving up after 1 attempt on page 1: HTTP 503\. Try again later",
        options=("--retries", "0"),
        always=status(503),
        requests=1,
    ),
    "http_429_asks_to_wait_too_long": Failure(
        [],
        r"HTTP 429; the server asks to wait 3600s.*Try again later",
        always=status(429, headers={"Retry-After": "3600"}),
        requests=1,
    ),
    "connection_reset_mid_body": Failure(
        [],
        r"giving up after 2 attempts .*the connection broke while reading",
        options=("--retries", "1"),
        always=reset_mid_body(),
        requests=2,
    ),
    "connection_closed_without_answer": Failure(
        [],
        r"giving up after 2 attempts .*connection broke.*Check the network",
        options=("--retries", "1"),
        always=close_without_response(),
        requests=2,
    ),
    "slower_than_timeout": Failure(
        [],
        r"giving up after 2 attempts .*no answer within 0\.5s\. Raise --timeout",
        options=("--timeout", "0.5", "--retries", "1"),
        always=slow(3),
        requests=2,
    ),
    "truncated_json": Failure(
        [],
        r"page 1 is not valid JSON \(application/json, \d+ bytes\)",
        always=broken_json(),
        requests=1,
    ),
    "html_error_page_with_status_200": Failure(
        [], r"page 1 is not valid JSON \(text/html", always=html_200(), requests=1
    ),
    "nan_in_json": Failure(
        [],
        r"page 1 is not valid JSON",
        always=raw(
            200,
            b'{"data": [{"id": "x", "name": "model-0", "ports": [NaN]}], '
            b'"next_cursor": "", "has_more": false}',
            {"Content-Type": "application/json"},
        ),
    ),
    "duplicate_data_key_in_json": Failure(
        [],
        r"page 1 is not valid JSON",
        always=raw(
            200,
            b'{"data": [{"id": "x", "name": "model-0"}], "data": [], '
            b'"next_cursor": "", "has_more": false}',
            {"Content-Type": "application/json"},
        ),
    ),
    "data_not_a_list": Failure(
        [], r"page 1 has no `data` list", always=data_not_list(), requests=1
    ),
    "body_is_a_list": Failure([], r"page 1 has no `data` list", always=status(200, [])),
    "has_more_not_boolean": Failure(
        [],
        r"page 1 has no boolean `has_more`",
        always=status(200, {"data": [], "next_cursor": "", "has_more": "no"}),
    ),
    "live_endpoint_not_an_object": Failure(
        [],
        r"live endpoint #1 is not an object",
        always=status(200, {"data": ["x"], "next_cursor": "", "has_more": False}),
    ),
    "live_endpoint_without_name": Failure(
        [], r"live endpoint #5 \(id ep-[0-9a-f]+\) has no `name`"
    ),
    "live_endpoint_without_id": Failure([], r"live endpoint #5 has no `id`"),
    "two_live_endpoints_with_the_same_id": Failure(
        [], r"live endpoint #9: id ep-same also appears as endpoint #1; .*cannot be"
    ),
    "cursor_that_repeats": Failure(
        [],
        r"page 2 repeats a cursor already followed",
        options=("--page-size", "4"),
        always=repeat_cursor(),
        requests=2,
    ),
    "has_more_with_empty_cursor": Failure(
        [],
        r"page 1 says has_more but gives an empty next_cursor",
        options=("--page-size", "4"),
        always=empty_cursor_has_more(),
        requests=1,
    ),
    "endless_pages_stop_at_max_pages": Failure(
        [],
        r"still more pages after 5; stopped\. Raise --max-pages",
        options=("--page-size", "2", "--max-pages", "5"),
        always=endless_pages(),
        requests=5,
    ),
    "failure_on_page_7_of_9_reports_the_failure_not_6_pages": Failure(
        [(status(500), 7, 1)],
        r"giving up after 1 attempt on page 7: HTTP 500",
        options=("--page-size", "1", "--retries", "0"),
        requests=7,
        page_cap=1,
    ),
}


def _live_for(name: str) -> list[dict[str, Any]]:
    """The live list of a case: nine endpoints, a few of them broken on purpose."""
    endpoints = [make_endpoint(n) for n in NAMES]
    if name == "live_endpoint_without_name":
        del endpoints[4]["name"]
    elif name == "live_endpoint_without_id":
        del endpoints[4]["id"]
    elif name == "two_live_endpoints_with_the_same_id":
        endpoints[0]["id"] = endpoints[8]["id"] = "ep-same"
    return endpoints


@pytest.mark.parametrize("report_format", ["text", "json"])
@pytest.mark.parametrize("name", list(FAILURES))
def test_api_failure_is_exit_2_with_no_result(
    name: str,
    report_format: str,
    run_cli: RunCli,
    fake: FakePPIO,
    specs: Path,
    tmp_path: Path,
) -> None:
    case = FAILURES[name]
    fake.endpoints = _live_for(name)
    fake.page_cap = case.page_cap
    for fault, on_request, times in case.faults:
        fake.add_fault(fault, on_request=on_request, times=times)
    fake.always(case.always)
    reports = tmp_path / "reports"
    reports.mkdir()

    result = run_check(
        run_cli, specs, fake.url, "-f", report_format, *case.options, reports=reports
    )

    assert_failed(result, fake.list_url, case.pattern, reports)
    if case.requests is not None:
        assert len(fake.requests) == case.requests
    assert fake.pending_faults() == []


@pytest.mark.parametrize("report_format", list(FORMATS))
def test_every_format_stays_silent_on_failure(
    report_format: str, run_cli: RunCli, fake: FakePPIO, specs: Path, tmp_path: Path
) -> None:
    fake.always(status(500))
    output = tmp_path / "out" / "report"
    output.parent.mkdir()
    summary = tmp_path / "out" / "step-summary.md"

    result = run_check(
        run_cli,
        specs,
        fake.url,
        "-f",
        report_format,
        "-o",
        str(output),
        "--retries",
        "0",
        env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"},
    )

    assert_failed(result, fake.list_url, r"giving up after 1 attempt")
    assert list(output.parent.iterdir()) == []


def test_wrong_base_url_is_a_404_naming_the_url(
    run_cli: RunCli, fake: FakePPIO, specs: Path
) -> None:
    base = fake.url + "/v1"

    result = run_check(run_cli, specs, base)

    assert_failed(
        result,
        base + "/gpus/v2/endpoints",
        r"not found \(HTTP 404\).*Check --api-url \(the default is https://",
    )
    assert [r.path for r in fake.requests] == ["/v1/gpus/v2/endpoints"]


def test_connection_refused_names_the_url_and_gives_up(
    run_cli: RunCli, specs: Path
) -> None:
    base = f"http://127.0.0.1:{closed_port()}"

    result = run_check(run_cli, specs, base, "--retries", "1")

    assert_failed(
        result,
        base + "/gpus/v2/endpoints",
        r"giving up after 2 attempts on page 1: cannot connect .*Check the network",
    )


@pytest.fixture
def other_host() -> Iterator[FakePPIO]:
    """A second fake API: where a redirect points, and where no key may arrive."""
    with FakePPIO([make_endpoint(name) for name in NAMES]) as other:
        yield other


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_redirect_to_another_host_is_not_followed(
    code: int,
    host: str,
    run_cli: RunCli,
    fake: FakePPIO,
    other_host: FakePPIO,
    specs: Path,
) -> None:
    target = other_host.list_url.replace("127.0.0.1", host)
    fake.always(redirect(target, code))

    result = run_check(run_cli, specs, fake.url)

    assert_failed(
        result,
        fake.list_url,
        rf"redirects \(HTTP {code}\) to {re.escape(target)}; not followed.*--api-url",
    )
    assert other_host.requests == []
    assert len(fake.requests) == 1


# -- transient faults: retried, said on stderr, and the run still gives a result ---


def assert_recovered(result: CliResult, notice: str) -> None:
    assert result.code == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines, "a retry must be said on stderr"
    assert all(line.startswith("driftcheck: ") for line in lines), lines
    assert re.search(notice, lines[0]), (notice, lines)
    assert "9 declared: 9 in sync" in result.stdout


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_5xx_then_success_retries_and_says_so(
    code: int, run_cli: RunCli, fake: FakePPIO, specs: Path
) -> None:
    fake.add_fault(status(code), times=2)

    result = run_check(run_cli, specs, fake.url, "--retries", "2")

    assert_recovered(
        result, rf"^driftcheck: HTTP {code} on page 1; retrying in [\d.]+s \(attempt 2"
    )
    assert len(fake.requests) == 3


def test_5xx_on_a_later_page_retries_that_page(
    run_cli: RunCli, fake: FakePPIO, specs: Path
) -> None:
    fake.add_fault(status(502), on_request=3)

    result = run_check(run_cli, specs, fake.url, "--page-size", "4")

    assert_recovered(result, r"HTTP 502 on page 3; retrying")
    assert [r.query.get("cursor") for r in fake.requests][2:] == [
        fake.requests[2].query.get("cursor")
    ] * 2


@pytest.mark.parametrize(
    ("fault", "args", "notice"),
    [
        pytest.param(
            status(429, headers={"Retry-After": "1"}),
            (),
            r"HTTP 429 on page 1; retrying in 1\.0s",
            id="429_retry_after_seconds_is_honoured",
        ),
        # Backoff alone would wait at most 0.5 s before the second attempt; the
        # date has whole seconds, so the wait is a little under 2 s.
        pytest.param(
            too_many_requests_until(2),
            (),
            r"HTTP 429 on page 1; retrying in (0\.9|1\.\d|2\.0)s",
            id="429_retry_after_http_date_is_honoured",
        ),
        pytest.param(
            status(429, headers={"Retry-After": "soon, maybe"}),
            (),
            r"HTTP 429 on page 1; retrying in 0\.[0-5]s",
            id="429_retry_after_garbage_falls_back_to_backoff",
        ),
        pytest.param(
            slow(3),
            ("--timeout", "0.5"),
            r"no answer within 0\.5s on page 1; retrying",
            id="timeout_once_then_success",
        ),
        pytest.param(
            reset_mid_body(),
            (),
            r"the connection broke while reading the answer",
            id="reset_once_then_success",
        ),
    ],
)
def test_one_transient_fault_is_retried_and_said(
    fault: Fault,
    args: tuple[str, ...],
    notice: str,
    run_cli: RunCli,
    fake: FakePPIO,
    specs: Path,
) -> None:
    fake.add_fault(fault)

    result = run_check(run_cli, specs, fake.url, *args)

    assert_recovered(result, notice)


def test_gzip_bodies_are_read(run_cli: RunCli, fake: FakePPIO, specs: Path) -> None:
    fake.always(gzip_body())

    result = run_check(run_cli, specs, fake.url, "--page-size", "4", "-f", "json")

    assert result.code == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout)["summary"]["in_sync"] == 9
    assert len(fake.requests) == 3


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ports", [8080, "8080"]),
        ("ports", [None, 8080]),
        ("ports", [[8080]]),
        ("volumes", [{"mount_point": ["/data"]}]),
        ("volumes", "none"),
        ("envs", 5),
        ("envs", [{"key": {"k": 1}, "value": 2}]),
        # The declared value listed, then another: which one applies is unknown.
        ("envs", [{"key": "LOG_LEVEL", "value": v} for v in ("info", "debug")]),
        ("volumes", [{"mount_point": "/data"}, {"mount_point": "/data", "size": 9}]),
        ("worker_config", [1, 2]),
        ("health_check", "on"),
    ],
)
def test_odd_live_field_shapes_are_drift_not_a_crash(
    field: str,
    value: Any,
    run_cli: RunCli,
    fake: FakePPIO,
    tmp_path: Path,
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: model-0\nports: [8080]\nvolumes:\n  - mount_point: /data\n"
        'envs:\n  LOG_LEVEL: "info"\nworker_config:\n  gpu_num: 1\n'
        "health_check:\n  port: 8080\n",
        encoding="utf-8",
    )
    fake.endpoints = [make_endpoint("model-0", **{field: DROP})]
    fake.endpoints[0][field] = value

    result = run_check(run_cli, spec, fake.url, "--unmanaged", "ignore", "-f", "json")

    assert result.code == 1, result.stderr
    assert result.stderr == ""
    (endpoint,) = json.loads(result.stdout)["endpoints"]
    paths = [d["path"] for d in endpoint["differences"]]
    assert any(p.split(".")[0].split("[")[0] == field for p in paths), paths


def dripping_body(seconds: float) -> Fault:
    """A page whose bytes arrive one at a time, each well within --timeout."""

    def fault(exchange: Exchange) -> None:
        body = exchange.normal().body
        headers = {"Content-Type": "application/json"}
        headers["Content-Length"] = str(len(body))
        exchange.handler.send_response(200)
        for name, value in headers.items():
            exchange.handler.send_header(name, value)
        exchange.handler.end_headers()
        step = seconds / max(len(body), 1)
        for index in range(len(body)):
            exchange.handler.wfile.write(body[index : index + 1])
            exchange.handler.wfile.flush()
            if not exchange.wait(step):
                return

    return fault


def test_a_server_dripping_bytes_is_bounded_by_timeout(
    run_cli: RunCli, specs: Path, fake: FakePPIO
) -> None:
    # Each byte comes well within --timeout, the whole answer well past it.
    fake.always(dripping_body(6.0))

    result = run_check(run_cli, specs, fake.url, "--timeout", "0.5", "--retries", "0")

    assert_failed(result, fake.list_url, r"no answer within 0\.5s")


def test_an_oversized_answer_is_not_read_whole(
    run_cli: RunCli, specs: Path, fake: FakePPIO
) -> None:
    huge = b'{"data": [' + b" " * (65 * 1024 * 1024) + b"]}"
    fake.always(raw(200, huge, {"Content-Type": "application/json"}))

    result = run_check(run_cli, specs, fake.url, "--retries", "0")

    assert_failed(result, fake.list_url, r"larger than 64 MiB")
