"""End-to-end tests of `driftcheck check`: the real command against real files.

Every test runs ``python -m driftcheck`` as a subprocess, with the live side read
from a saved JSON file or served by the fake PPIO API on 127.0.0.1, and asserts what
a user sees: the exit code, stdout, stderr and the reports written.
"""

from __future__ import annotations

import functools
import json
import os
import pty
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from . import specdata
from .conftest import (
    REPO,
    REPORT_SCHEMA,
    UNREACHABLE_API_URL,
    CliResult,
    RunCli,
    child_env,
    interrupt_during_fetch,
)
from .fake_ppio import (
    Exchange,
    FakePPIO,
    Fault,
    broken_json,
    cursor_for,
    empty_cursor_has_more,
    make_endpoint,
    repeat_cursor,
    slow,
    status,
)

SPECS = "examples/endpoints"
LIVE_FILE = "examples/live-endpoints.json"

# Distinctive, so that a leak anywhere in the output is found by a plain search.
API_KEY = "sk-e2e-Zq7Vw3Lm9Rt1Xy5Kp2Hn8Bd4"

# The drift planted in the examples, and nothing else:
# (endpoint, path, kind, declared, live, file under examples/endpoints, line).
# The HF_TOKEN difference is a secret: both values are withheld.
PLANTED = [
    (
        "chat-qwen2-72b",
        "image",
        "changed",
        "registry.example.com/ml/vllm:0.6.3",
        "registry.example.com/ml/vllm:0.6.3-hotfix1",
        "llm/chat.yaml",
        43,
    ),
    (
        "chat-qwen2-72b",
        "worker_config.max_replicas",
        "changed",
        3,
        6,
        "llm/chat.yaml",
        48,
    ),
    ("chat-qwen2-72b", "envs.HF_TOKEN", "changed", None, None, "llm/chat.yaml", 63),
    (
        "embed-bge-m3",
        "worker_config.min_cuda_version",
        "changed",
        "12.1",
        "12.4",
        "llm/embeddings.yaml",
        21,
    ),
    (
        "embed-bge-m3",
        "envs.RUST_LOG",
        "extra",
        None,
        "debug",
        "llm/embeddings.yaml",
        27,
    ),
    (
        "flux-dev",
        "volumes[/models].size",
        "changed",
        200,
        300,
        "vision/image-gen.yaml",
        66,
    ),
    (
        "flux-dev",
        "health_check.port",
        "changed",
        8080,
        8081,
        "vision/image-gen.yaml",
        70,
    ),
    (
        "flux-dev",
        "ports",
        "changed",
        [8080, 9400],
        [8081, 9400],
        "vision/image-gen.yaml",
        71,
    ),
    ("batch-whisper-large-v3", "policy.value", "changed", 120, 600, "batch.yml", 27),
    (
        "batch-whisper-large-v3",
        "envs.BATCH_SIZE",
        "changed",
        "16",
        "32",
        "batch.yml",
        31,
    ),
    (
        "batch-whisper-large-v3",
        "envs.COMPUTE_TYPE",
        "missing",
        "float16",
        None,
        "batch.yml",
        33,
    ),
]
REDACTED_PATHS = {"envs.HF_TOKEN"}

STATES = {
    "chat-llama-3-8b": ("in_sync", "ep-7f3a9c21", "llm/chat.yaml", 5),
    "sdxl-turbo": ("in_sync", "ep-0e6a4f38", "vision/image-gen.yaml", 4),
    "batch-ocr-donut": ("in_sync", "ep-e14b7c05", "batch.yml", 41),
    "chat-qwen2-72b": ("drifted", "ep-b21d5e90", "llm/chat.yaml", 38),
    "embed-bge-m3": ("drifted", "ep-4c8e1b07", "llm/embeddings.yaml", 5),
    "flux-dev": ("drifted", "ep-c93f1a7d", "vision/image-gen.yaml", 38),
    "batch-whisper-large-v3": ("drifted", "ep-5a80d2e6", "batch.yml", 5),
    "chat-mistral-7b-canary": ("missing", None, "llm/chat.yaml", 71),
    "scratch-llama-3-70b-test": ("unmanaged", "ep-38d9f0b2", None, None),
    "demo-gradio-sd15": ("unmanaged", "ep-a6c2e813", None, None),
}
SUMMARY_LINE = (
    "8 declared: 3 in sync, 4 drifted, 1 missing; 2 unmanaged; "
    "GPU capacity +12 from drift. drift found"
)
EXAMPLE_SUMMARY = {
    "declared": 8,
    "in_sync": 3,
    "drifted": 4,
    "missing": 1,
    "unmanaged": 2,
}

ANSI = re.compile(r"\x1b\[")
# Env names that hold a secret in the examples: HF_TOKEN, RESULTS_API_KEY.
SECRET_NAME = re.compile(r"(^|_)(TOKEN|KEY|SECRET|PASSWORD)$")


# -- helpers ---------------------------------------------------------------------------


def example_live() -> list[dict[str, Any]]:
    body = json.loads((REPO / LIVE_FILE).read_text(encoding="utf-8"))
    data: list[dict[str, Any]] = body["data"]
    return data


def example_secrets() -> set[str]:
    """Every value of a secret-looking env in the example specs and live list."""
    values: set[str] = set()

    def collect(envs: Any) -> None:
        pairs = envs.items() if isinstance(envs, dict) else []
        if isinstance(envs, list):
            pairs = [(e["key"], e["value"]) for e in envs]
        for key, value in pairs:
            if SECRET_NAME.search(key):
                values.add(value)

    for path in (REPO / SPECS).rglob("*.y*ml"):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            for spec in document.get("endpoints", [document]):
                collect(spec.get("envs", {}))
    for endpoint in example_live():
        collect(endpoint.get("envs", []))
    # Guard the guard: the examples are known to hold these.
    assert {"hf_declared_example_token", "hf_live_rotated_example_token"} <= values
    assert len(values) == 4, values
    return values


# Pinned by id, envs in the API's list form: the other spec form than most tests use.
spec_for = functools.partial(specdata.spec_for, pin_id=True, envs_as_list=True)


def write_specs(path: Path, *specs: Mapping[str, Any]) -> Path:
    path.write_text(
        yaml.safe_dump({"endpoints": list(specs)}, sort_keys=False), encoding="utf-8"
    )
    return path


def write_live(path: Path, *endpoints: Mapping[str, Any]) -> Path:
    body = {"data": list(endpoints), "next_cursor": "", "has_more": False}
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def api_env(fake: FakePPIO) -> dict[str, str | None]:
    return {"PPIO_API_URL": fake.url, "PPIO_API_KEY": API_KEY}


def assert_clean(result: CliResult, code: int) -> None:
    """The run ended with `code`, printed a report and nothing on stderr."""
    assert result.code == code, result
    assert result.stderr == "", result.stderr
    assert result.stdout, "no report on stdout"


def assert_failed_cleanly(result: CliResult) -> None:
    """Exit 2, no report, no traceback, no API key anywhere."""
    assert result.code == 2, result
    assert result.stdout == "", result.stdout
    for word in ("in sync", "missing", "unmanaged", "drift"):
        assert word not in result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert API_KEY not in result.stdout + result.stderr
    assert result.stderr.strip(), "an error must say what went wrong"


def listing_cursors(fake: FakePPIO) -> list[str | None]:
    return [r.query.get("cursor") for r in fake.requests]


def report_json(result: CliResult) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def counts(report: Mapping[str, Any]) -> dict[str, int]:
    """The summary's five counts; any further count must be zero in these runs."""
    summary = dict(report["summary"])
    summary.pop("gpu_capacity_change")  # a GPU total, not a count of endpoints
    picked = {key: summary.pop(key) for key in EXAMPLE_SUMMARY}
    assert not any(summary.values()), summary
    return picked


def timed(fault: Fault, stamps: list[float]) -> Fault:
    """`fault`, noting when each request it answers arrived."""

    def answer(exchange: Exchange) -> None:
        stamps.append(time.monotonic())
        fault(exchange)

    return answer


def normal(exchange: Exchange) -> None:
    exchange.send(exchange.normal())


def run_once(*args: str | os.PathLike[str]) -> CliResult:
    """The CLI as `run_cli` runs it, for runs shared by a module's tests."""
    argv = tuple(os.fspath(a) for a in args)
    completed = subprocess.run(
        [sys.executable, "-m", "driftcheck", *argv],
        env=child_env(),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    return CliResult(argv, completed.returncode, completed.stdout, completed.stderr)


@pytest.fixture(scope="module")
def readme_text() -> CliResult:
    """The README's command, text report."""
    return run_once("check", SPECS, "--live-file", LIVE_FILE)


@pytest.fixture(scope="module")
def readme_json() -> CliResult:
    """The README's command, JSON report."""
    return run_once("check", SPECS, "--live-file", LIVE_FILE, "-f", "json")


@pytest.fixture
def fake(fake_api: FakePPIO) -> FakePPIO:
    """The fake API serving the example live list, three endpoints a page at most."""
    fake_api.endpoints = example_live()
    fake_api.page_cap = 3
    fake_api.api_key = API_KEY
    return fake_api


@pytest.fixture
def pair() -> tuple[dict[str, Any], dict[str, Any]]:
    """Two live endpoints for small hand-built scenarios."""
    return make_endpoint("alpha-model"), make_endpoint("beta-model")


# -- the README command ----------------------------------------------------------------


def test_readme_command_reports_every_planted_difference(
    readme_text: CliResult,
) -> None:
    result = readme_text

    assert_clean(result, 1)
    lines = result.stdout.splitlines()
    assert lines[-1] == SUMMARY_LINE

    problems = []
    for name, path, kind, declared, live, _file, line in PLANTED:
        if path in REDACTED_PATHS:
            described = f"{kind}: the values differ (redacted)"
        elif kind == "changed":
            described = (
                f"changed: declared {json.dumps(declared)}, live {json.dumps(live)}"
            )
        elif kind == "missing":
            described = f"missing: declared {json.dumps(declared)}, absent live"
        else:
            described = f"extra: live {json.dumps(live)}, not declared"
        pattern = rf"^  {re.escape(path)}\s+{re.escape(described)}  \(line {line}\)$"
        if not any(re.match(pattern, text) for text in lines):
            problems.append(f"{name}: no line matches {pattern!r}")
    assert not problems, "\n".join(problems) + "\n\n" + result.stdout

    # Exactly the planted differences: one indented line each, besides the GPU
    # capacity of the two endpoints whose worker_config drifted.
    indented = [text for text in lines if text.startswith("  ")]
    capacity = [text for text in indented if text.startswith("  GPU capacity")]
    assert capacity == [
        "  GPU capacity (gpu_num x max_replicas): declared 12, live 24 (+12)",
        "  GPU capacity (gpu_num x max_replicas): declared 2, live 2 (+0)",
    ]
    assert len(indented) - len(capacity) == len(PLANTED)


def test_readme_command_names_each_endpoint_by_state(readme_text: CliResult) -> None:
    result = readme_text

    assert result.code == 1
    for name, (state, endpoint_id, file, line) in STATES.items():
        if state == "in_sync":
            # The text report lists only what needs attention.
            assert name not in result.stdout
            continue
        [header] = [t for t in result.stdout.splitlines() if f"  {name}" in t]
        assert header.startswith(state), header
        if endpoint_id:
            assert f"{name} ({endpoint_id})" in header
        if state in ("drifted", "missing"):
            assert f"  {SPECS}/{file}:{line}" in header
        if state == "missing":
            assert "no live endpoint matches" in header
        if state == "unmanaged":
            assert "no spec declares it" in header


def test_secret_values_never_printed(
    readme_text: CliResult, readme_json: CliResult
) -> None:
    for result in (readme_text, readme_json):
        assert result.code == 1
        assert "HF_TOKEN" in result.stdout  # the difference is shown, not its values
        for secret in example_secrets():
            assert secret not in result.stdout + result.stderr, secret


# -- the same run against the API ------------------------------------------------------


def test_api_run_matches_live_file_run(
    run_cli: RunCli, fake: FakePPIO, readme_json: CliResult
) -> None:
    from_file = readme_json
    from_api = run_cli(
        "check", SPECS, "--page-size", "4", "-f", "json", env=api_env(fake), cwd=REPO
    )

    assert_clean(from_file, 1)
    assert_clean(from_api, 1)
    assert report_json(from_api) == report_json(from_file)

    # Nine endpoints at three a page: three requests, each cursor followed once.
    assert listing_cursors(fake) == [None, cursor_for(3), cursor_for(6)]
    for request in fake.requests:
        assert request.method == "GET"
        assert request.path == "/gpus/v2/endpoints"
        assert request.headers["authorization"] == f"Bearer {API_KEY}"
        assert request.query["limit"] == "4"
        assert "member_ids" not in request.query
        assert "keyword" not in request.query


def test_member_ids_and_keyword_passed_to_the_api(
    run_cli: RunCli, fake: FakePPIO
) -> None:
    result = run_cli(
        "check",
        SPECS,
        "--member-ids",
        "mem-2f8a61d4",
        "--keyword",
        "llama",
        "--page-size",
        "4",
        "-f",
        "json",
        env=api_env(fake),
        cwd=REPO,
    )

    assert result.code == 0
    assert [r.query for r in fake.requests] == [
        {"limit": "4", "member_ids": "mem-2f8a61d4", "keyword": "llama"}
    ]
    # Declared endpoints the filter keeps out are left out, never called missing.
    assert result.stderr == (
        "driftcheck: warning: 7 declared endpoint(s) are not in the live list as "
        "filtered by --keyword/--member-ids and were left out (batch-whisper-large-v3, "
        "batch-ocr-donut, chat-qwen2-72b, chat-mistral-7b-canary, embed-bge-m3, ...)\n"
    )
    # Both filters applied: the keyword alone would also list the scratch llama
    # endpoint (another member's), the member alone all seven of its endpoints.
    report = report_json(result)
    live_names = {e["name"] for e in report["endpoints"]}
    assert live_names == {"chat-llama-3-8b"}
    assert counts(report) == {
        "declared": 1,
        "in_sync": 1,
        "drifted": 0,
        "missing": 0,
        "unmanaged": 0,
    }


# -- the JSON report -------------------------------------------------------------------


def test_json_report_follows_the_schema(readme_json: CliResult) -> None:
    result = readme_json

    assert_clean(result, 1)
    report = json.loads(result.stdout)  # stdout is pure JSON
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    errors = list(Draft202012Validator(schema).iter_errors(report))
    assert not errors, [e.message for e in errors]
    assert report["schema_version"] == 1
    assert counts(report) == EXAMPLE_SUMMARY


def test_json_report_lists_every_endpoint_of_the_run(readme_json: CliResult) -> None:
    result = readme_json
    report = report_json(result)

    by_name = {e["name"]: e for e in report["endpoints"]}
    assert len(by_name) == len(report["endpoints"]) == len(STATES)
    for name, (state, endpoint_id, file, line) in STATES.items():
        endpoint = by_name[name]
        assert endpoint["state"] == state, name
        assert endpoint["id"] == endpoint_id, name
        if state == "unmanaged":
            assert endpoint["source"] is None
        else:
            # The line of the endpoint's `name:` key.
            assert endpoint["source"] == {"file": f"{SPECS}/{file}", "line": line}
        if state in ("in_sync", "missing", "unmanaged"):
            assert endpoint["differences"] == [], name


def test_json_report_differences_with_sources(readme_json: CliResult) -> None:
    result = readme_json
    report = report_json(result)

    found = {
        (e["name"], d["path"]): d for e in report["endpoints"] for d in e["differences"]
    }
    assert set(found) == {(p[0], p[1]) for p in PLANTED}
    for _, path in found:
        assert re.fullmatch(r"[a-z_]+(\[[^\]]+\])?(\.[A-Za-z0-9_]+)*", path), path
    for name, path, kind, declared, live, file, line in PLANTED:
        difference = found[name, path]
        assert difference["kind"] == kind, path
        assert difference["declared"] == declared, path
        assert difference["live"] == live, path
        assert difference["redacted"] is (path in REDACTED_PATHS), path
        assert difference["source"] == {"file": f"{SPECS}/{file}", "line": line}, path


# -- exit codes ------------------------------------------------------------------------


def test_in_sync_against_the_api_exits_0(
    run_cli: RunCli, fake_api: FakePPIO, pair: Any, tmp_path: Path
) -> None:
    alpha, beta = pair
    fake_api.endpoints = [alpha, beta]
    fake_api.api_key = API_KEY
    specs = write_specs(tmp_path / "specs.yaml", spec_for(alpha), spec_for(beta))

    result = run_cli("check", specs, env=api_env(fake_api))

    assert_clean(result, 0)
    assert result.stdout == (
        "2 declared: 2 in sync, 0 drifted, 0 missing; 0 unmanaged. in sync\n"
    )
    assert len(fake_api.requests) == 1


def test_drift_exits_1(run_cli: RunCli, pair: Any, tmp_path: Path) -> None:
    alpha, _ = pair
    specs = write_specs(
        tmp_path / "specs.yaml",
        spec_for(alpha, worker_config={**alpha["worker_config"], "max_replicas": 9}),
    )
    live = write_live(tmp_path / "live.json", alpha)

    result = run_cli("check", specs, "--live-file", live)

    assert_clean(result, 1)
    assert "worker_config.max_replicas  changed: declared 9, live 2" in result.stdout
    assert result.stdout.endswith(
        "1 declared: 0 in sync, 1 drifted, 0 missing; 0 unmanaged; "
        "GPU capacity -7 from drift. drift found\n"
    )


def test_missing_only_exits_1(run_cli: RunCli, pair: Any, tmp_path: Path) -> None:
    alpha, beta = pair
    specs = write_specs(tmp_path / "specs.yaml", spec_for(alpha), spec_for(beta))
    live = write_live(tmp_path / "live.json", alpha)

    result = run_cli("check", specs, "--live-file", live)

    assert_clean(result, 1)
    assert "missing  beta-model " in result.stdout
    assert result.stdout.endswith(
        "2 declared: 1 in sync, 0 drifted, 1 missing; 0 unmanaged. drift found\n"
    )


@pytest.mark.parametrize(
    ("policy", "code", "listed", "summary"),
    [
        # No --unmanaged: warn is the default.
        (
            None,
            0,
            True,
            "1 declared: 1 in sync, 0 drifted, 0 missing; 1 unmanaged. in sync "
            "(unmanaged endpoints do not fail the run)",
        ),
        (
            "fail",
            1,
            True,
            "1 declared: 1 in sync, 0 drifted, 0 missing; 1 unmanaged. drift found",
        ),
        (
            "ignore",
            0,
            False,
            "1 declared: 1 in sync, 0 drifted, 0 missing. in sync",
        ),
    ],
)
def test_unmanaged_policy(
    run_cli: RunCli,
    pair: Any,
    tmp_path: Path,
    policy: str | None,
    code: int,
    listed: bool,
    summary: str,
) -> None:
    alpha, beta = pair
    specs = write_specs(tmp_path / "specs.yaml", spec_for(alpha))
    live = write_live(tmp_path / "live.json", alpha, beta)
    json_report = tmp_path / "report.json"

    text = run_cli(
        "check",
        specs,
        "--live-file",
        live,
        *(["--unmanaged", policy] if policy else []),
        "--report",
        f"json:{json_report}",
    )

    assert_clean(text, code)
    assert text.stdout.splitlines()[-1] == summary
    assert ("beta-model" in text.stdout) is listed
    report = json.loads(json_report.read_text(encoding="utf-8"))
    states = {e["name"]: e["state"] for e in report["endpoints"]}
    if listed:
        assert states == {"alpha-model": "in_sync", "beta-model": "unmanaged"}
        assert counts(report)["unmanaged"] == 1
    else:
        assert states == {"alpha-model": "in_sync"}
        assert counts(report)["unmanaged"] == 0


def test_fields_shared_by_a_merge_key_are_checked_on_every_endpoint(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    # A console hotfix to one endpoint's image, where the image is declared once
    # in an anchored endpoint and merged into the other with `<<`.
    alpha = make_endpoint("alpha-model", image="registry.example.com/ml/llm:2.0")
    beta = make_endpoint("beta-model", image="registry.example.com/ml/llm:2.0-hotfix")
    fake_api.endpoints = [alpha, beta]
    fake_api.api_key = API_KEY
    specs = tmp_path / "specs.yaml"
    specs.write_text(
        "endpoints:\n"
        "  - &llm\n"
        "    name: alpha-model\n"
        "    image: registry.example.com/ml/llm:2.0\n"
        "    worker_config: {max_replicas: 2}\n"
        "  - <<: *llm\n"
        "    name: beta-model\n",
        encoding="utf-8",
    )

    result = run_cli("check", specs, "-f", "json", env=api_env(fake_api))

    assert_clean(result, 1)
    states = {e["name"]: e["state"] for e in report_json(result)["endpoints"]}
    assert states == {"alpha-model": "in_sync", "beta-model": "drifted"}
    (beta_report,) = [
        e for e in report_json(result)["endpoints"] if e["name"] == "beta-model"
    ]
    assert [
        (d["path"], d["declared"], d["live"], d["source"])
        for d in beta_report["differences"]
    ] == [
        (
            "image",
            "registry.example.com/ml/llm:2.0",
            "registry.example.com/ml/llm:2.0-hotfix",
            {"file": str(specs), "line": 4},
        )
    ]


def test_invalid_spec_exits_2_naming_file_and_line(
    run_cli: RunCli, fake: FakePPIO, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "endpoints:\n"
        "  - name: alpha-model\n"
        "    image: registry.example.com/ml/alpha:1\n"
        "    worker_config:\n"
        "      max_replicas: three\n",
        encoding="utf-8",
    )

    result = run_cli("check", broken, env=api_env(fake))

    assert_failed_cleanly(result)
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {broken}:5:")
    assert "worker_config.max_replicas" in line
    assert fake.requests == []  # specs are checked before the API is asked


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "xml", "--report", "json:out.json"], "'xml' is not one of"),
        (["--report", "xml:out.xml"], "unknown format 'xml'"),
        (["--report", "out.json"], "'out.json' is not FORMAT:PATH"),
        (["--unmanaged", "sometimes"], "'sometimes' is not one of"),
    ],
)
def test_usage_errors_exit_2(
    run_cli: RunCli, tmp_path: Path, args: list[str], message: str
) -> None:
    result = run_cli(
        "check", REPO / SPECS, "--live-file", REPO / LIVE_FILE, *args, cwd=tmp_path
    )

    assert result.code == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert "Usage:" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_no_paths_is_a_usage_error(run_cli: RunCli) -> None:
    result = run_cli("check", "--live-file", LIVE_FILE, cwd=REPO)

    assert result.code == 2
    assert result.stdout == ""
    assert "PATHS" in result.stderr


# -- selecting, redacting and writing --------------------------------------------------


def test_endpoint_globs_limit_the_run(run_cli: RunCli) -> None:
    result = run_cli(
        "check",
        SPECS,
        "--live-file",
        LIVE_FILE,
        "--endpoint",
        "chat-*",
        "--endpoint",
        "flux-dev",
        "-f",
        "json",
        cwd=REPO,
    )

    assert_clean(result, 1)
    report = report_json(result)
    assert {e["name"] for e in report["endpoints"]} == {
        "chat-llama-3-8b",
        "chat-qwen2-72b",
        "chat-mistral-7b-canary",
        "flux-dev",
    }
    assert counts(report) == {
        "declared": 4,
        "in_sync": 1,
        "drifted": 2,
        "missing": 1,
        "unmanaged": 0,
    }


def test_sensitive_env_glob_redacts_a_custom_key(
    run_cli: RunCli, pair: Any, tmp_path: Path
) -> None:
    alpha, _ = pair
    declared_url = "postgres://app:declared-pw@db-a.internal/app"
    live_url = "postgres://app:live-pw@db-b.internal/app"
    live = write_live(
        tmp_path / "live.json",
        {**alpha, "envs": [*alpha["envs"], {"key": "DATABASE_URL", "value": live_url}]},
    )
    envs = {e["key"]: e["value"] for e in alpha["envs"]}
    specs = write_specs(
        tmp_path / "specs.yaml",
        spec_for(alpha, envs={**envs, "DATABASE_URL": declared_url}),
    )
    json_report = tmp_path / "report.json"

    shown = run_cli("check", specs, "--live-file", live, "-f", "json")
    # Globs ignore case, like the built-in words, and the option repeats.
    hidden = run_cli(
        "check",
        specs,
        "--live-file",
        live,
        "--sensitive-env",
        "NOT_THIS_*",
        "--sensitive-env",
        "database_*",
        "--report",
        f"json:{json_report}",
    )

    # Without the glob the name looks harmless, so the values are shown.
    [difference] = report_json(shown)["endpoints"][0]["differences"]
    assert (difference["declared"], difference["live"]) == (declared_url, live_url)

    assert_clean(hidden, 1)
    assert "envs.DATABASE_URL  changed: the values differ (redacted)" in hidden.stdout
    report_text = json_report.read_text(encoding="utf-8")
    [difference] = json.loads(report_text)["endpoints"][0]["differences"]
    assert difference["path"] == "envs.DATABASE_URL"
    assert difference["kind"] == "changed"
    assert difference["declared"] is difference["live"] is None
    assert difference["redacted"] is True
    for secret in ("declared-pw", "live-pw"):
        assert secret not in hidden.stdout + hidden.stderr + report_text


def test_output_file_takes_the_report(
    run_cli: RunCli, tmp_path: Path, readme_json: CliResult
) -> None:
    target = tmp_path / "report.json"

    written = run_cli(
        "check",
        SPECS,
        "--live-file",
        LIVE_FILE,
        "-f",
        "json",
        "-o",
        target,
        cwd=REPO,
    )

    assert written.code == 1
    assert written.stdout == ""
    assert written.stderr == ""
    assert target.read_text(encoding="utf-8") == readme_json.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temp files


@pytest.mark.parametrize("option", ["-o", "--report"])
def test_report_to_a_missing_directory_is_a_clear_error(
    run_cli: RunCli, tmp_path: Path, option: str
) -> None:
    target = tmp_path / "no-such-dir" / "report.json"
    value = str(target) if option == "-o" else f"json:{target}"

    result = run_cli("check", SPECS, "--live-file", LIVE_FILE, option, value, cwd=REPO)

    assert result.code == 2
    assert "internal error" not in result.stderr
    assert ".driftcheck-" not in result.stderr  # the temporary file is ours
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert str(target) in line
    assert list(tmp_path.iterdir()) == []


def test_short_api_key_in_the_environment_leaves_reports_intact(
    run_cli: RunCli,
) -> None:
    # CI jobs often export PPIO_API_KEY for every step, placeholders included.
    result = run_cli(
        "check",
        SPECS,
        "--live-file",
        LIVE_FILE,
        "-f",
        "json",
        env={"PPIO_API_KEY": "test"},
        cwd=REPO,
    )

    assert result.code == 1
    names = {e["name"] for e in report_json(result)["endpoints"]}
    assert "scratch-llama-3-70b-test" in names


def test_extra_reports_from_one_api_pass(
    run_cli: RunCli, fake: FakePPIO, tmp_path: Path, readme_json: CliResult
) -> None:
    json_path = tmp_path / "a.json"
    text_path = tmp_path / "b.txt"

    result = run_cli(
        "check",
        SPECS,
        "--page-size",
        "4",
        "--format",
        "text",
        "--report",
        f"json:{json_path}",
        "--report",
        f"text:{text_path}",
        env=api_env(fake),
        cwd=REPO,
    )

    assert_clean(result, 1)
    assert result.stdout.splitlines()[-1] == SUMMARY_LINE
    assert text_path.read_text(encoding="utf-8") == result.stdout
    assert json_path.read_text(encoding="utf-8") == readme_json.stdout
    # One listing pass: every page fetched once.
    assert listing_cursors(fake) == [None, cursor_for(3), cursor_for(6)]


# -- API failures ----------------------------------------------------------------------


def _wrong_key(fake: FakePPIO) -> None:
    fake.api_key = "a-different-key"


def _forbidden(fake: FakePPIO) -> None:
    fake.always(status(403, {"message": "key may not read serverless endpoints"}))


FAILURES: list[tuple[str, Callable[[FakePPIO], None], list[str], str, int]] = [
    ("403", _forbidden, [], "permission denied (HTTP 403)", 1),
    (
        "broken-json",
        lambda f: f.add_fault(broken_json(), on_request=2),
        [],
        "page 2 is not valid JSON",
        2,
    ),
    (
        "repeated-cursor",
        lambda f: f.add_fault(repeat_cursor(), on_request=2),
        [],
        "repeats a cursor",
        2,
    ),
    (
        "empty-cursor-has-more",
        lambda f: f.add_fault(empty_cursor_has_more(), on_request=1),
        [],
        "has_more but gives an empty next_cursor",
        1,
    ),
    (
        "persistent-500",
        lambda f: f.always(status(500)),
        ["--retries", "1"],
        "giving up after 2 attempts on page 1: HTTP 500",
        2,
    ),
    (
        "retry-after-too-long",
        lambda f: f.always(status(429, headers={"Retry-After": "3600"})),
        [],
        "the server asks to wait 3600s",
        1,
    ),
    (
        "timeout",
        lambda f: f.add_fault(slow(10), on_request=1),
        ["--timeout", "0.3", "--retries", "0"],
        "giving up after 1 attempt on page 1: no answer within 0.3s",
        1,
    ),
]


@pytest.mark.parametrize(
    ("setup", "args", "message", "requests"),
    [case[1:] for case in FAILURES],
    ids=[case[0] for case in FAILURES],
)
def test_api_failure_exits_2_without_a_report(
    run_cli: RunCli,
    fake: FakePPIO,
    setup: Callable[[FakePPIO], None],
    args: list[str],
    message: str,
    requests: int,
) -> None:
    setup(fake)

    result = run_cli(
        "check", SPECS, "--page-size", "4", *args, env=api_env(fake), cwd=REPO
    )

    assert_failed_cleanly(result)
    assert message in result.stderr, result.stderr
    assert fake.list_url in result.stderr
    assert len(fake.requests) == requests
    errors = [t for t in result.stderr.splitlines() if t.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.splitlines()[-1] == errors[0]


def test_401_is_not_retried_and_says_one_line(run_cli: RunCli, fake: FakePPIO) -> None:
    _wrong_key(fake)

    # The key given as an option, the way that tempts it into an error message.
    result = run_cli(
        "check",
        SPECS,
        "--api-key",
        API_KEY,
        env={"PPIO_API_URL": fake.url},
        cwd=REPO,
    )

    assert_failed_cleanly(result)
    assert len(fake.requests) == 1
    assert fake.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {fake.list_url}: authentication failed (HTTP 401)")
    assert "PPIO_API_KEY" in line


def test_first_page_cursor_pointing_at_itself_is_not_trusted(
    run_cli: RunCli, fake: FakePPIO
) -> None:
    # The first page hands back a cursor to itself: the pages then repeat endpoints.
    fake.add_fault(repeat_cursor(), on_request=1)

    result = run_cli("check", SPECS, "--page-size", "4", env=api_env(fake), cwd=REPO)

    assert_failed_cleanly(result)
    assert "cannot be trusted" in result.stderr


def test_503_twice_then_success(run_cli: RunCli, fake: FakePPIO) -> None:
    fake.add_fault(status(503), on_request=2, times=2)

    result = run_cli(
        "check", SPECS, "--page-size", "4", "-f", "json", env=api_env(fake), cwd=REPO
    )

    assert result.code == 1
    assert counts(report_json(result)) == EXAMPLE_SUMMARY
    retries = result.stderr.splitlines()
    assert len(retries) == 2, result.stderr
    for line in retries:
        assert "HTTP 503 on page 2; retrying in" in line
    assert "Traceback" not in result.stderr
    assert API_KEY not in result.stdout + result.stderr
    # Page 2 asked three times with the same cursor, the others once.
    assert listing_cursors(fake) == [None, *[cursor_for(3)] * 3, cursor_for(6)]
    assert fake.pending_faults() == []


def test_429_retry_after_is_honoured(run_cli: RunCli, fake: FakePPIO) -> None:
    stamps: list[float] = []
    limited = status(429, {"message": "slow down"}, {"Retry-After": "1"})
    fake.add_fault(timed(limited, stamps), on_request=1)
    fake.add_fault(timed(normal, stamps), on_request=2)

    result = run_cli("check", SPECS, env=api_env(fake), cwd=REPO)

    assert result.code == 1
    assert result.stdout.splitlines()[-1] == SUMMARY_LINE
    assert "HTTP 429 on page 1; retrying in 1.0s" in result.stderr
    assert len(stamps) == 2
    assert stamps[1] - stamps[0] >= 0.95
    assert listing_cursors(fake) == [None, None, cursor_for(3), cursor_for(6)]


def test_api_down_exits_2(run_cli: RunCli) -> None:
    result = run_cli(
        "check",
        SPECS,
        "--retries",
        "0",
        env={"PPIO_API_URL": UNREACHABLE_API_URL, "PPIO_API_KEY": API_KEY},
        cwd=REPO,
    )

    assert_failed_cleanly(result)
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {UNREACHABLE_API_URL}/gpus/v2/endpoints: ")
    assert "cannot connect" in line


def test_interrupt_while_fetching_says_one_line(fake: FakePPIO) -> None:
    fake.add_fault(slow(30), on_request=1)

    result = interrupt_during_fetch(fake, "check", SPECS, env=api_env(fake), cwd=REPO)

    assert result.code == 130
    assert result.stdout == ""
    assert result.stderr == "driftcheck: interrupted\n"


# -- refusing before any request -------------------------------------------------------


def test_plain_http_to_a_remote_host_is_refused_before_connecting(
    run_cli: RunCli, fake_api: FakePPIO
) -> None:
    # Any request to the remote host would be sent through the fake as a proxy,
    # where it would be recorded.
    proxy = {
        "HTTP_PROXY": fake_api.url,
        "http_proxy": fake_api.url,
        "ALL_PROXY": fake_api.url,
        "all_proxy": fake_api.url,
        "NO_PROXY": None,
        "no_proxy": None,
        "PPIO_API_KEY": API_KEY,
    }

    refused = run_cli(
        "check", SPECS, "--api-url", "http://192.0.2.1", env=proxy, cwd=REPO
    )

    assert_failed_cleanly(refused)
    assert "--allow-insecure-http" in refused.stderr
    assert "192.0.2.1" in refused.stderr
    assert fake_api.requests == []

    # The same run, allowed, does reach the host (here: the proxy), so the empty
    # request list above means no connection was attempted.
    fake_api.api_key = API_KEY
    allowed = run_cli(
        "check",
        SPECS,
        "--api-url",
        "http://192.0.2.1",
        "--allow-insecure-http",
        "--retries",
        "0",
        env=proxy,
        cwd=REPO,
    )
    assert allowed.code == 1, allowed.stderr
    assert len(fake_api.requests) == 1
    assert fake_api.requests[0].headers["host"] == "192.0.2.1"


def test_no_api_key_exits_2_before_any_request(
    run_cli: RunCli, fake_api: FakePPIO
) -> None:
    result = run_cli(
        "check",
        SPECS,
        env={"PPIO_API_URL": fake_api.url, "PPIO_API_KEY": None},
        cwd=REPO,
    )

    assert_failed_cleanly(result)
    assert "PPIO_API_KEY" in result.stderr
    assert fake_api.requests == []


# -- progress and colour ---------------------------------------------------------------


def test_no_progress_or_colour_on_pipes(run_cli: RunCli, fake: FakePPIO) -> None:
    # Plain http is fine to loopback, where the fake listens.
    assert fake.url.startswith("http://127.0.0.1:")

    result = run_cli("check", SPECS, "--page-size", "4", env=api_env(fake), cwd=REPO)

    assert_clean(result, 1)
    assert not ANSI.search(result.stdout)
    assert "fetching" not in result.stderr


def _run_on_terminal(
    args: list[str],
    env: Mapping[str, str | None],
    *,
    stdout_tty: bool,
    stderr_tty: bool,
) -> tuple[int, str, str]:
    """Run the CLI with stdout and/or stderr on a pseudo-terminal of its own."""
    streams: dict[str, tuple[int, int] | None] = {
        "stdout": pty.openpty() if stdout_tty else None,
        "stderr": pty.openpty() if stderr_tty else None,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "driftcheck", *args],
        stdin=subprocess.DEVNULL,
        stdout=streams["stdout"][1] if streams["stdout"] else subprocess.PIPE,
        stderr=streams["stderr"][1] if streams["stderr"] else subprocess.PIPE,
        env=child_env(env),
        cwd=REPO,
    )
    readers: dict[int, str] = {}
    for name, fds in streams.items():
        if fds is None:
            pipe = getattr(process, name)
            readers[pipe.fileno()] = name
        else:
            os.close(fds[1])
            readers[fds[0]] = name

    output = {"stdout": b"", "stderr": b""}
    selector = selectors.DefaultSelector()
    for fd in readers:
        selector.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + 30
    try:
        while readers and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1):
                try:
                    chunk = os.read(key.fd, 65536)
                except OSError:  # a pty whose other end closed: EIO on Linux
                    chunk = b""
                if chunk:
                    output[readers[key.fd]] += chunk
                else:
                    selector.unregister(key.fd)
                    del readers[key.fd]
        code = process.wait(timeout=10)
    finally:
        selector.close()
        for fds in streams.values():
            if fds is not None:
                os.close(fds[0])
        if process.poll() is None:
            process.kill()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
    return code, output["stdout"].decode(), output["stderr"].decode()


def test_colour_and_progress_on_a_terminal(fake: FakePPIO) -> None:
    code, stdout, stderr = _run_on_terminal(
        ["check", SPECS, "--page-size", "4"],
        api_env(fake),
        stdout_tty=True,
        stderr_tty=True,
    )

    assert code == 1
    assert "\x1b[31mdrifted\x1b[0m" in stdout
    assert "\x1b[33munmanaged\x1b[0m" in stdout
    assert "\x1b[31mdrift found\x1b[0m" in stdout
    assert "fetching live endpoints: page 3, 9 so far" in stderr
    assert stderr.endswith("\r\x1b[K")  # the line is erased before the report


def test_no_colour_on_a_terminal_with_no_color(fake: FakePPIO) -> None:
    code, stdout, stderr = _run_on_terminal(
        ["check", SPECS],
        {**api_env(fake), "NO_COLOR": "1"},
        stdout_tty=True,
        stderr_tty=False,
    )

    assert code == 1
    assert not ANSI.search(stdout)
    assert SUMMARY_LINE in stdout
    assert stderr == ""  # stderr is a pipe: no progress line


def test_no_colour_in_output_file_even_on_a_terminal(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    code, stdout, stderr = _run_on_terminal(
        ["check", SPECS, "--live-file", LIVE_FILE, "-o", str(target)],
        {},
        stdout_tty=True,
        stderr_tty=False,
    )

    assert code == 1
    assert stdout == stderr == ""
    report = target.read_text(encoding="utf-8")
    assert not ANSI.search(report)
    assert report.splitlines()[-1] == SUMMARY_LINE


# -- the program itself ----------------------------------------------------------------


def test_version(run_cli: RunCli) -> None:
    from driftcheck import __version__

    result = run_cli("--version")

    assert result.code == 0
    assert result.stdout == f"driftcheck, version {__version__}\n"
    assert result.stderr == ""


def test_help_lists_exit_codes(run_cli: RunCli) -> None:
    result = run_cli("--help")

    assert result.code == 0
    assert result.stderr == ""
    assert "Exit codes:" in result.stdout
    for code in ("0  declared and live agree", "1  drift found", "2  error"):
        assert code in result.stdout
    assert "check" in result.stdout
    assert "validate" in result.stdout


def test_check_help_warns_about_keys_on_the_command_line(run_cli: RunCli) -> None:
    result = run_cli("check", "--help")

    assert result.code == 0
    assert result.stderr == ""
    help_text = " ".join(result.stdout.split())
    assert "lands in shell history" in help_text
    assert "PPIO_API_KEY" in help_text
    assert "Exit codes:" in result.stdout
    for option in ("--live-file", "--unmanaged", "--report", "--sensitive-env"):
        assert option in result.stdout


def test_console_script_matches_python_m(readme_json: CliResult) -> None:
    script = Path(sys.executable).parent / "driftcheck"
    if not script.exists():
        pytest.skip("driftcheck is not installed next to this Python")

    via_script = subprocess.run(
        [str(script), "check", SPECS, "--live-file", LIVE_FILE, "-f", "json"],
        env=child_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    via_module = readme_json

    assert via_script.returncode == via_module.code == 1
    assert via_script.stdout == via_module.stdout
    assert via_script.stderr == via_module.stderr == ""


def test_an_endpoint_glob_that_matches_nothing_is_an_error(run_cli: RunCli) -> None:
    # A typo in a CI gate's --endpoint must not turn it green with nothing compared.
    result = run_cli(
        "check", SPECS, "--live-file", LIVE_FILE, "--endpoint", "caht-*", cwd=REPO
    )

    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: --endpoint 'caht-*' matches no declared or live endpoint; "
        "check the spelling\n"
    )


def test_a_failed_run_removes_reports_an_earlier_run_left(
    run_cli: RunCli, tmp_path: Path
) -> None:
    # CI uploads reports with `if: always()`; an old one must not pass for this run's.
    stale = {name: tmp_path / name for name in ("out.txt", "drift.json", "drift.md")}
    for path in stale.values():
        path.write_text("8 declared: 8 in sync. in sync\n", encoding="utf-8")
    broken = tmp_path / "live.json"
    broken.write_text('{"data": [', encoding="utf-8")

    result = run_cli(
        "check",
        SPECS,
        "--live-file",
        str(broken),
        "-o",
        str(stale["out.txt"]),
        "--report",
        f"json:{stale['drift.json']}",
        "--report",
        f"markdown:{stale['drift.md']}",
        cwd=REPO,
    )

    assert result.code == 2
    assert [p.name for p in tmp_path.iterdir()] == ["live.json"]
