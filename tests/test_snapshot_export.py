"""End-to-end tests of `driftcheck snapshot` and `driftcheck export`.

A snapshot is the whole live list saved with its secrets withheld; an export is spec
YAML written from a live list with its secrets turned into `${NAME}` references.
Both are proved by reading them back with driftcheck itself: a check against a
snapshot, and a check of exported specs against the list they came from, which must
be in sync. The round trips run on the examples and on 200 generated endpoints
chosen to trip YAML up (names and values YAML would read as booleans, numbers or
dates, unicode, multi-line values).
"""

from __future__ import annotations

import collections
import json
import os
import random
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftcheck import envrefs
from driftcheck.compare import compare
from driftcheck.export import write_export
from driftcheck.redact import REDACTED_MARKER, Redactor
from driftcheck.specs import load_specs, schema_text

from .conftest import REPO, CliResult, RunCli
from .fake_ppio import DROP, FakePPIO, broken_json, make_endpoint, status
from .specdata import DECLARABLE, spec_for

EXAMPLE_LIVE = REPO / "examples" / "live-endpoints.json"
API_KEY = "sk-export-Rb6Yt1Qw8Zn3Kd5Lm"
REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


# -- helpers ---------------------------------------------------------------------------


def example_live() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(EXAMPLE_LIVE.read_text("utf-8"))["data"]
    return data


def write_live(path: Path, endpoints: list[dict[str, Any]]) -> Path:
    body = {"data": endpoints, "next_cursor": "", "has_more": False}
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    return path


def secrets_of(
    live: Iterable[Mapping[str, Any]], globs: Iterable[str] = ()
) -> set[str]:
    """Every value of a sensitive env in `live`."""
    redactor = Redactor(globs)
    return {
        item["value"]
        for endpoint in live
        for item in endpoint.get("envs") or []
        if redactor.is_sensitive(item["key"])
    }


def assert_absent(secrets: Iterable[str], *texts: str) -> None:
    for secret in secrets:
        for text in texts:
            assert secret not in text, f"secret {secret!r} leaked"


def exported_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.yaml"))


def exported_specs(directory: Path) -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = []
    for path in exported_files(directory):
        document = yaml.safe_load(path.read_text("utf-8"))
        specs.extend(document.get("endpoints", [document]))
    return specs


def variables_for(directory: Path, live: list[dict[str, Any]]) -> dict[str, str | None]:
    """The environment that gives every `${NAME}` in the export its live value.

    Fails when one variable would need two different values: the export must never
    make two secrets share a variable.
    """
    by_id = {e["id"]: e for e in live}
    by_name = collections.defaultdict(list)
    for endpoint in live:
        by_name[endpoint["name"]].append(endpoint)
    environ: dict[str, str | None] = {}
    for spec in exported_specs(directory):
        if "id" in spec:
            source = by_id[spec["id"]]
        else:
            (source,) = by_name[spec["name"]]
        values = {e["key"]: e["value"] for e in source.get("envs") or []}
        for key, value in (spec.get("envs") or {}).items():
            match = REFERENCE.match(value)
            if match is None:
                continue
            variable = match.group(1)
            assert environ.get(variable, values[key]) == values[key], (
                f"{variable} would need two values"
            )
            environ[variable] = values[key]
    return environ


def report(result: CliResult) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def assert_round_trip(result: CliResult, count: int) -> None:
    """Every endpoint in sync, none missing, none unmanaged, nothing on stderr."""
    assert result.code == 0, (result.stdout[-3000:], result.stderr[-3000:])
    assert result.stderr == ""
    document = report(result)
    summary = dict(document["summary"])
    assert summary.pop("declared") == summary.pop("in_sync") == count, summary
    # Every other count (drifted, unknown, missing, unmanaged, ignored, ...) is 0.
    assert not any(summary.values()), summary
    assert {e["state"] for e in document["endpoints"]} == {"in_sync"}


def api_env(fake: FakePPIO, **more: str | None) -> dict[str, str | None]:
    return {"PPIO_API_URL": fake.url, "PPIO_API_KEY": API_KEY, **more}


def export(run_cli: RunCli, out: Path, *args: str, **kwargs: Any) -> CliResult:
    """`driftcheck export` of the example account into `out`, with `args`."""
    return run_cli(
        "export", "--live-file", EXAMPLE_LIVE, "--output-dir", out, *args, **kwargs
    )


def line_of(path: Path, text: str) -> int:
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


# -- generated endpoints ---------------------------------------------------------------

# Names YAML would read as something other than a string, or that need quoting.
AWKWARD_NAMES = [
    "yes",
    "no",
    "on",
    "off",
    "true",
    "null",
    "~",
    "12.10",
    "1e3",
    "0x1F",
    "0o17",
    "2024-01-01",
    "12:30",
    "-",
    "*star",
    "&anchor",
    "!tag",
    "a: b",
    "# hash",
    "[list]",
    "{map}",
    "'single'",
    '"double"',
    "trailing ",
    " leading",
    "<<",
    "%percent",
    "@at",
    "`tick`",
    "back\\slash",
    "模型-推理",
    "модель",
    "éndpoint",
    "Ωmega",
    "🚀 launch",
    "نموذج",
    "a/b/../c",
    "..",
    "CON",
    "UPPER",
    "nel\x85name",
]
AWKWARD_VALUES = [
    "8080",
    "0x1F",
    "0o17",
    "1e3",
    "1_000",
    ".5",
    "12.10",
    "true",
    "no",
    "on",
    "null",
    "~",
    "",
    " ",
    "2024-01-01",
    "12:30:45",
    "line one\nline two\n",
    "no final newline\nsecond",
    "windows\r\nline",
    "  padded  ",
    "tab\tinside",
    "unicode ✓ 模型 🚀",
    "- looks like a list",
    "key: value",
    "# not a comment",
    "&anchor",
    "*alias",
    "!tag value",
    "%directive",
    "'quoted'",
    '"double"',
    "$HOME",
    "${UNCLOSED",
    "$(command)",
    "x" * 300,
    "word " * 40,
    # Line breaks to YAML 1.1, though not to JSON or Python's str.splitlines alone.
    "next\x85line",
    "line\u2028separator",
    "paragraph\u2029separator",
]
SECRET_KEYS = ["HF_TOKEN", "DB_PASSWORD", "OPENAI_API_KEY", "WEBHOOK_SECRET"]


def generated_live(count: int = 200, seed: int = 20240601) -> list[dict[str, Any]]:
    """`count` live endpoints with varied fields; names unique, secrets unique."""
    rng = random.Random(seed)
    names = AWKWARD_NAMES + [
        f"{rng.choice(['svc', 'llm', 'img', 'тест', 'モデル'])}-{i:03d}"
        for i in range(count - len(AWKWARD_NAMES))
    ]
    endpoints = []
    for index, name in enumerate(names):
        envs: dict[str, str] = {}
        for _ in range(rng.randint(0, 6)):
            key = rng.choice(["PORT", "MODE", "FLAGS", "NOTE", "X", "BUILD_ID"])
            envs[f"{key}_{len(envs)}"] = rng.choice(AWKWARD_VALUES)
        for key in rng.sample(SECRET_KEYS, rng.randint(0, 2)):
            # Secrets that look like numbers or span lines must survive too.
            envs[key] = rng.choice(
                [f"s3cr3t-{index}-{key}", f"{90000 + index}", f"multi\nline-{index}"]
            )
        overrides: dict[str, Any] = {
            "envs": envs,
            "product_id": str(rng.randint(1, 40)),
            "region_id": rng.choice(["region-1", "cn-east-1", "us-west-2"]),
            "worker_config": {
                "max_replicas": rng.randint(1, 20),
                "min_replicas": rng.randint(0, 1),
                "idle_timeout": rng.choice([0, 60, 300, 3600]),
                "gpu_num": rng.randint(0, 8),
                "min_cuda_version": rng.choice(["12.4", "12.10", "11.8", "12.0"]),
            },
            "policy": {
                "type": rng.choice(["queue", "concurrency"]),
                "value": rng.randint(0, 500),
            },
            "ports": rng.sample([80, 443, 7860, 8000, 8080, 9400], rng.randint(0, 3)),
            "volumes": [
                {
                    "id": f"vol-{index}-{n}",
                    "type": rng.choice(["local", "network"]),
                    "size": rng.randint(1, 500),
                    "mount_point": f"/mnt/{n}",
                }
                for n in range(rng.randint(0, 2))
            ],
            "command": rng.choice(["", "python -m server", "sh -c 'a && b'\nexit 0"]),
            "entrypoint": rng.choice(["", "/bin/sh"]),
            "registry_auth_id": rng.choice(["", f"ra-{index}"]),
        }
        if rng.random() < 0.3:
            overrides["type"] = rng.choice(["sync", "async"])
        if rng.random() < 0.2:
            overrides["health_check"] = DROP
        if rng.random() < 0.1:
            overrides["volumes"] = DROP
        endpoints.append(make_endpoint(name, **overrides))
    rng.shuffle(endpoints)
    return endpoints


def test_generated_endpoints_are_what_they_claim() -> None:
    live = generated_live()
    names = [e["name"] for e in live]
    assert len(live) == 200
    assert len(set(names)) == 200
    assert len({e["id"] for e in live}) == 200
    assert {"yes", "12.10", "on", "模型-推理"} <= set(names)
    values = {item["value"] for e in live for item in e["envs"]}
    assert {"8080", "0x1F", "line one\nline two\n", "next\x85line"} <= values
    assert sum(1 for e in live if "type" in e) > 20
    assert len(secrets_of(live)) > 100


# -- snapshot --------------------------------------------------------------------------


@pytest.fixture
def many(fake_api: FakePPIO) -> FakePPIO:
    """47 endpoints with a secret each, served five at most per page."""
    fake_api.endpoints = [
        make_endpoint(
            f"svc-{i:02d}",
            envs={
                "LOG_LEVEL": "info",
                "HF_TOKEN": f"hf_snapshot_secret_{i:02d}",
                "ORG_ROUTE": f"route-{i:02d}-internal",
            },
        )
        for i in range(47)
    ]
    fake_api.api_key = API_KEY
    fake_api.page_cap = 5
    return fake_api


def test_snapshot_saves_every_page_once_with_secrets_withheld(
    run_cli: RunCli, many: FakePPIO, tmp_path: Path
) -> None:
    out = tmp_path / "snap.json"

    result = run_cli(
        "snapshot",
        "--output",
        out,
        "--page-size",
        "10",
        "--sensitive-env",
        "ORG_*",
        env=api_env(many),
    )

    assert result.code == 0, result
    assert result.stdout == ""
    assert result.stderr == f"saved 47 live endpoints to {out}\n"
    assert len(many.requests) == 10  # 47 endpoints, 5 a page
    text = out.read_text("utf-8")
    assert_absent(
        secrets_of(many.endpoints, ["ORG_*"]) | {API_KEY},
        text,
        result.stdout,
        result.stderr,
    )
    body = json.loads(text)
    ids = collections.Counter(e["id"] for e in body["data"])
    assert ids == collections.Counter(e["id"] for e in many.endpoints)
    assert set(ids.values()) == {1}
    assert body["has_more"] is False
    assert body["snapshot"]["redacted_marker"] == REDACTED_MARKER
    assert re.fullmatch(TIMESTAMP, body["snapshot"]["taken_at"])
    assert body["snapshot"]["source"] == many.url
    for saved, served in zip(body["data"], many.endpoints, strict=True):
        envs = {e["key"]: e["value"] for e in saved["envs"]}
        assert envs == {
            "LOG_LEVEL": "info",
            "HF_TOKEN": REDACTED_MARKER,
            "ORG_ROUTE": REDACTED_MARKER,
        }
        # Everything but the withheld values is kept as the API sent it.
        rest = {k: v for k, v in saved.items() if k != "envs"}
        assert rest == {k: v for k, v in served.items() if k != "envs"}


def snapshot_of(run_cli: RunCli, fake: FakePPIO, out: Path, *args: str) -> CliResult:
    result = run_cli("snapshot", "--output", out, *args, env=api_env(fake))
    assert result.code == 0, result
    return result


def write_specs(path: Path, specs: list[dict[str, Any]]) -> Path:
    path.write_text(
        yaml.safe_dump({"endpoints": specs}, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    return path


def test_check_against_a_snapshot_reports_withheld_values_as_unknown(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    secret = "hf_only_in_the_api_5c1d"
    alpha = make_endpoint("alpha", envs={"MODEL": "m", "HF_TOKEN": secret})
    beta = make_endpoint("beta")
    fake_api.endpoints = [alpha, beta]
    fake_api.api_key = API_KEY
    snap = tmp_path / "snap.json"
    snapshot_of(run_cli, fake_api, snap)
    specs = write_specs(tmp_path / "specs.yaml", [spec_for(alpha), spec_for(beta)])

    results = [
        run_cli("check", specs, "--live-file", snap, "-f", name)
        for name in ("json", "text", "markdown", "sarif", "junit", "github")
    ]

    for result in results:
        assert result.code == 0, result
        assert secret not in result.stdout + result.stderr
    document = report(results[0])
    assert document["summary"]["unknown"] == 1
    assert document["summary"]["in_sync"] == 1
    assert document["summary"]["drifted"] == 0
    alpha_result = next(e for e in document["endpoints"] if e["name"] == "alpha")
    assert alpha_result["state"] == "unknown"
    (difference,) = alpha_result["differences"]
    assert difference["path"] == "envs.HF_TOKEN"
    assert difference["kind"] == "unknown"
    assert difference["declared"] is None and difference["live"] is None
    assert difference["redacted"] is True
    text = results[1].stdout
    assert "unknown  alpha" in text
    assert "envs.HF_TOKEN  unknown: the live value was withheld" in text
    assert "1 in sync, 0 drifted, 1 unknown, 0 missing" in text
    assert "no drift found" in text


def test_a_real_difference_beside_an_unknown_one_is_drift(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    alpha = make_endpoint("alpha", envs={"HF_TOKEN": "hf_x_0001", "MODEL": "m"})
    beta = make_endpoint("beta", envs={"API_KEY": "k_x_0002"})
    fake_api.endpoints = [alpha, beta]
    fake_api.api_key = API_KEY
    snap = tmp_path / "snap.json"
    snapshot_of(run_cli, fake_api, snap)
    specs = write_specs(
        tmp_path / "specs.yaml",
        [
            spec_for(alpha, envs={"HF_TOKEN": "hf_x_0001", "MODEL": "other"}),
            spec_for(beta),
        ],
    )

    result = run_cli("check", specs, "--live-file", snap, "-f", "json")

    assert result.code == 1, result
    document = report(result)
    states = {e["name"]: e["state"] for e in document["endpoints"]}
    assert states == {"alpha": "drifted", "beta": "unknown"}
    kinds = {
        d["path"]: d["kind"] for e in document["endpoints"] for d in e["differences"]
    }
    assert kinds == {
        "envs.HF_TOKEN": "unknown",
        "envs.MODEL": "changed",
        "envs.API_KEY": "unknown",
    }
    assert document["summary"]["unknown"] == 1
    assert document["summary"]["drifted"] == 1


def test_secret_from_the_environment_checked_against_a_snapshot_is_unknown(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    alpha = make_endpoint("alpha", envs={"HF_TOKEN": "hf_env_value_77aa"})
    fake_api.endpoints = [alpha]
    fake_api.api_key = API_KEY
    snap = tmp_path / "snap.json"
    snapshot_of(run_cli, fake_api, snap)
    specs = write_specs(
        tmp_path / "specs.yaml", [spec_for(alpha, envs={"HF_TOKEN": "${ALPHA_TOKEN}"})]
    )

    result = run_cli(
        "check",
        specs,
        "--live-file",
        snap,
        "-f",
        "json",
        env={"ALPHA_TOKEN": "hf_env_value_77aa"},
    )

    assert result.code == 0, result
    assert "hf_env_value_77aa" not in result.stdout + result.stderr
    assert report(result)["endpoints"][0]["state"] == "unknown"


# Each breaks the fake for the next run, counting from the requests served so far.
def _unauthorized(fake: FakePPIO) -> None:
    fake.api_key = "another-key-entirely-000"


def _broken_first_page(fake: FakePPIO) -> None:
    fake.add_fault(broken_json(), on_request=len(fake.requests) + 1)


def _broken_third_page(fake: FakePPIO) -> None:
    fake.add_fault(broken_json(), on_request=len(fake.requests) + 3)


def _unavailable_later(fake: FakePPIO) -> None:
    fake.add_fault(status(503), on_request=len(fake.requests) + 2)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (_unauthorized, "401"),
        (_broken_first_page, "JSON"),
        (_broken_third_page, "JSON"),
        (_unavailable_later, "503"),
    ],
)
def test_snapshot_failure_exits_2_and_writes_nothing(
    run_cli: RunCli,
    many: FakePPIO,
    tmp_path: Path,
    breakage: Any,
    message: str,
) -> None:
    breakage(many)

    result = run_cli(
        "snapshot",
        "--output",
        tmp_path / "snap.json",
        "--retries",
        "0",
        env=api_env(many),
    )

    assert result.code == 2, result
    assert result.stdout == ""
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert API_KEY not in result.stderr
    assert many.pending_faults() == []
    # Not even a temporary file is left behind.
    assert list(tmp_path.iterdir()) == []


def test_a_failed_snapshot_removes_an_earlier_one_at_the_same_path(
    run_cli: RunCli, many: FakePPIO, tmp_path: Path
) -> None:
    old = tmp_path / "snap.json"
    old.write_text('{"data": [], "next_cursor": "", "has_more": false}\n')
    _unauthorized(many)

    result = run_cli("snapshot", "--output", old, env=api_env(many))

    assert result.code == 2, result
    assert list(tmp_path.iterdir()) == []


def test_snapshot_to_a_missing_directory_exits_2(
    run_cli: RunCli, many: FakePPIO, tmp_path: Path
) -> None:
    result = run_cli(
        "snapshot", "--output", tmp_path / "no" / "snap.json", env=api_env(many)
    )

    assert result.code == 2
    assert "does not exist" in result.stderr or "cannot write" in result.stderr
    assert "Traceback" not in result.stderr


def test_snapshot_needs_an_output_file(run_cli: RunCli) -> None:
    result = run_cli("snapshot")

    assert result.code == 2
    assert "--output" in result.stderr


# -- export: what is written -----------------------------------------------------------


def test_export_writes_declarable_fields_and_no_secret(
    run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "specs"
    live = example_live()

    result = export(run_cli, out, cwd=tmp_path)

    assert result.code == 0, result
    assert result.stdout == ""
    files = exported_files(out)
    assert len(files) == len(live) == 9
    assert (out / "endpoint-spec.schema.json").read_text("utf-8") == schema_text(
        "endpoint-spec.schema.json"
    )
    secrets = secrets_of(live)
    assert len(secrets) == 5  # three tokens, an API key, and MAX_BATCH_TOKENS
    texts = [path.read_text("utf-8") for path in out.iterdir()]
    assert_absent(secrets, result.stdout, result.stderr, *texts)

    for path in files:
        lines = path.read_text("utf-8").splitlines()
        assert lines[0] == "# yaml-language-server: $schema=endpoint-spec.schema.json"
        assert re.fullmatch(
            rf"# Exported from {re.escape(str(EXAMPLE_LIVE))} by driftcheck \S+ "
            rf"on {TIMESTAMP}\.",
            lines[1],
        ), lines[1]
    specs = {s["name"]: s for s in exported_specs(out)}
    assert set(specs) == {e["name"] for e in live}
    for spec in specs.values():
        assert set(spec) <= set(DECLARABLE) - {"id"}, spec.keys()
        assert isinstance(spec.get("envs", {}), dict)
    chat = specs["chat-llama-3-8b"]
    assert chat["envs"] == {
        "MODEL": "llama-3-8b",
        "MAX_MODEL_LEN": "8192",
        "GPU_MEMORY_UTILIZATION": "0.90",
        "HF_TOKEN": "${CHAT_LLAMA_3_8B_HF_TOKEN}",
    }
    assert chat["worker_config"]["min_cuda_version"] == "12.4"
    # Empty strings the API sends for unset fields are left out.
    assert "entrypoint" not in chat and "command" not in chat
    assert result.stderr.splitlines() == [
        f"wrote 9 spec file(s) to {out}",
        "set these variables when you run driftcheck check (they hold the sensitive "
        "env values): BATCH_OCR_DONUT_RESULTS_API_KEY, CHAT_LLAMA_3_8B_HF_TOKEN, "
        "CHAT_QWEN2_72B_HF_TOKEN, EMBED_BGE_M3_MAX_BATCH_TOKENS, "
        "SCRATCH_LLAMA_3_70B_TEST_HF_TOKEN",
    ]


def test_exported_specs_pass_validate(run_cli: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "specs"
    export(run_cli, out)

    result = run_cli("validate", out)

    assert result.code == 0, result
    assert result.stdout == "9 endpoints in 9 files: valid\n"
    assert result.stderr == ""


def test_export_default_output_dir_is_endpoints(
    run_cli: RunCli, tmp_path: Path
) -> None:
    result = run_cli("export", "--live-file", EXAMPLE_LIVE, cwd=tmp_path)

    assert result.code == 0, result
    assert len(exported_files(tmp_path / "endpoints")) == 9


def export_example(
    run_cli: RunCli, out: Path, unset: tuple[str, ...]
) -> dict[str, str | None]:
    """Export the example account to `out`; the variables its specs read, but
    `unset`."""
    export(run_cli, out)
    environ = variables_for(out, example_live())
    for variable in unset:
        assert variable in environ
        environ[variable] = None
    return environ


def test_unset_variable_is_an_error_naming_it_and_the_spec_line(
    run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "specs"
    environ = export_example(
        run_cli,
        out,
        unset=("CHAT_QWEN2_72B_HF_TOKEN", "BATCH_OCR_DONUT_RESULTS_API_KEY"),
    )

    result = run_cli("check", out, "--live-file", EXAMPLE_LIVE, env=environ)

    assert result.code == 2, result
    assert result.stdout == ""
    chat = out / "chat-qwen2-72b.yaml"
    batch = out / "batch-ocr-donut.yaml"
    assert result.stderr.splitlines() == [
        f"error: {batch}:{line_of(batch, 'RESULTS_API_KEY:')}: batch-ocr-donut: "
        "envs.RESULTS_API_KEY: environment variable BATCH_OCR_DONUT_RESULTS_API_KEY "
        "is not set (the spec reads this value from it)",
        f"error: {chat}:{line_of(chat, 'HF_TOKEN:')}: chat-qwen2-72b: envs.HF_TOKEN: "
        "environment variable CHAT_QWEN2_72B_HF_TOKEN is not set "
        "(the spec reads this value from it)",
    ]


def test_endpoint_filter_needs_only_the_chosen_endpoints_variables(
    run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "specs"
    environ = export_example(run_cli, out, unset=("CHAT_QWEN2_72B_HF_TOKEN",))

    chosen = ("--endpoint", "chat-llama-*", "--endpoint", "batch-*")
    result = run_cli(
        "check", out, "--live-file", EXAMPLE_LIVE, *chosen, "-f", "json", env=environ
    )

    assert result.code == 0, result
    assert result.stderr == ""
    names = [e["name"] for e in json.loads(result.stdout)["endpoints"]]
    assert names == ["batch-ocr-donut", "batch-whisper-large-v3", "chat-llama-3-8b"]
    # Choosing the endpoint that reads it still needs the variable.
    again = run_cli(
        "check", out, "--live-file", EXAMPLE_LIVE, "--endpoint", "chat-*", env=environ
    )
    assert again.code == 2, again
    assert "CHAT_QWEN2_72B_HF_TOKEN is not set" in again.stderr


def test_an_empty_variable_is_set(run_cli: RunCli, tmp_path: Path) -> None:
    live = [make_endpoint("alpha", envs={"HF_TOKEN": ""})]
    live_file = write_live(tmp_path / "live.json", live)
    run_cli("export", "--live-file", live_file, "--output-dir", tmp_path / "specs")

    result = run_cli(
        "check",
        tmp_path / "specs",
        "--live-file",
        live_file,
        "-f",
        "json",
        env={"ALPHA_HF_TOKEN": ""},
    )

    assert_round_trip(result, 1)


def test_a_wrong_secret_from_the_environment_is_drift_without_its_value(
    run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "specs"
    export(run_cli, out)
    environ = variables_for(out, example_live())
    environ["CHAT_LLAMA_3_8B_HF_TOKEN"] = "hf_wrong_value_from_ci_91ab"

    result = run_cli(
        "check", out, "--live-file", EXAMPLE_LIVE, "-f", "json", env=environ
    )

    assert result.code == 1, result
    assert "hf_wrong_value_from_ci_91ab" not in result.stdout + result.stderr
    (drifted,) = [e for e in report(result)["endpoints"] if e["state"] != "in_sync"]
    assert drifted["name"] == "chat-llama-3-8b"
    (difference,) = drifted["differences"]
    assert difference["path"] == "envs.HF_TOKEN"
    assert difference["redacted"] is True


def test_export_refuses_to_overwrite_and_changes_nothing(
    run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "specs"
    out.mkdir()
    (out / "flux-dev.yaml").write_text("# hand-written\nname: flux-dev\n", "utf-8")
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    result = export(run_cli, out)

    assert result.code == 2, result
    assert result.stdout == ""
    assert "refusing to overwrite 1 existing file(s)" in result.stderr
    assert "flux-dev.yaml" in result.stderr
    assert "--force" in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_export_twice_refuses_then_force_replaces(
    run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "specs"
    first = export(run_cli, out)
    assert first.code == 0
    for path in out.iterdir():
        path.write_text("# edited\n", "utf-8")

    again = export(run_cli, out)
    assert again.code == 2
    assert "refusing to overwrite 9 existing file(s)" in again.stderr
    assert {p.read_text("utf-8") for p in out.iterdir()} == {"# edited\n"}

    forced = export(run_cli, out, "--force")
    assert forced.code == 0, forced
    assert run_cli("validate", out).code == 0
    assert (out / "endpoint-spec.schema.json").read_text("utf-8") == schema_text(
        "endpoint-spec.schema.json"
    )


def test_single_file_export(run_cli: RunCli, tmp_path: Path) -> None:
    out = tmp_path / "specs"

    result = export(run_cli, out, "--single-file")

    assert result.code == 0, result
    assert [p.name for p in exported_files(out)] == ["endpoints.yaml"]
    document = yaml.safe_load((out / "endpoints.yaml").read_text("utf-8"))
    assert list(document) == ["endpoints"]
    assert len(document["endpoints"]) == 9
    check = run_cli(
        "check",
        out,
        "--live-file",
        EXAMPLE_LIVE,
        "-f",
        "json",
        env=variables_for(out, example_live()),
    )
    assert_round_trip(check, 9)


def test_export_endpoint_globs_choose_what_is_written(
    run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "specs"

    result = export(
        run_cli,
        out,
        "--endpoint",
        "chat-*",
        "--endpoint",
        "flux-dev",
    )

    assert result.code == 0, result
    assert [p.name for p in exported_files(out)] == [
        "chat-llama-3-8b.yaml",
        "chat-qwen2-72b.yaml",
        "flux-dev.yaml",
    ]


def test_export_glob_that_matches_nothing_exits_2(
    run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "specs"

    result = export(run_cli, out, "--endpoint", "x*")

    assert result.code == 2
    assert "no live endpoint matches" in result.stderr
    assert not out.exists() or not any(out.iterdir())


def test_export_sensitive_env_glob_turns_more_values_into_references(
    run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "specs"

    result = export(
        run_cli,
        out,
        "--sensitive-env",
        "model*",
    )

    assert result.code == 0, result
    assert "MODEL: llama-3-8b" not in (out / "chat-llama-3-8b.yaml").read_text("utf-8")
    chat = yaml.safe_load((out / "chat-llama-3-8b.yaml").read_text("utf-8"))
    assert chat["envs"]["MODEL"] == "${CHAT_LLAMA_3_8B_MODEL}"


def test_export_from_a_snapshot_keeps_withheld_values_out_of_specs(
    run_cli: RunCli, many: FakePPIO, tmp_path: Path
) -> None:
    snap = tmp_path / "snap.json"
    snapshot_of(run_cli, many, snap, "--sensitive-env", "ORG_*")
    out = tmp_path / "specs"

    # Exported without the glob: the withheld values still become references.
    result = run_cli("export", "--live-file", snap, "--output-dir", out)

    assert result.code == 0, result
    texts = "".join(p.read_text("utf-8") for p in exported_files(out))
    assert REDACTED_MARKER not in texts
    spec = yaml.safe_load((out / "svc-07.yaml").read_text("utf-8"))
    assert spec["envs"] == {
        "LOG_LEVEL": "info",
        "HF_TOKEN": "${SVC_07_HF_TOKEN}",
        "ORG_ROUTE": "${SVC_07_ORG_ROUTE}",
    }
    # Checked against the API with the values set, the export is in sync.
    environ = {
        **api_env(many),
        **variables_for(out, many.endpoints),
    }
    check = run_cli("check", out, "-f", "json", env=environ)
    assert_round_trip(check, 47)


def test_export_failure_from_the_api_exits_2_and_writes_nothing(
    run_cli: RunCli, many: FakePPIO, tmp_path: Path
) -> None:
    many.add_fault(broken_json(), on_request=4)
    out = tmp_path / "specs"

    result = run_cli("export", "--output-dir", out, "--retries", "0", env=api_env(many))

    assert result.code == 2
    assert result.stdout == ""
    assert not out.exists()


# -- export: the round trip ------------------------------------------------------------


def test_round_trip_of_the_examples_from_the_live_file(
    run_cli: RunCli, tmp_path: Path
) -> None:
    out = tmp_path / "specs"
    exported = export(run_cli, out)
    assert exported.code == 0, exported

    result = run_cli(
        "check",
        out,
        "--live-file",
        EXAMPLE_LIVE,
        "--unmanaged",
        "fail",
        "-f",
        "json",
        env=variables_for(out, example_live()),
    )

    assert_round_trip(result, 9)


def test_round_trip_of_the_examples_through_the_api(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    fake_api.endpoints = example_live()
    fake_api.api_key = API_KEY
    fake_api.page_cap = 2
    out = tmp_path / "specs"
    exported = run_cli("export", "--output-dir", out, env=api_env(fake_api))
    assert exported.code == 0, exported
    assert f"Exported from {fake_api.url} by" in (out / "flux-dev.yaml").read_text(
        "utf-8"
    )

    environ = {**api_env(fake_api), **variables_for(out, example_live())}
    result = run_cli("check", out, "--unmanaged", "fail", "-f", "json", env=environ)

    assert_round_trip(result, 9)
    assert_absent(secrets_of(example_live()), exported.stderr, result.stdout)


@pytest.mark.parametrize("single_file", [False, True], ids=["per-file", "single-file"])
def test_round_trip_of_200_generated_endpoints_from_a_live_file(
    run_cli: RunCli, tmp_path: Path, single_file: bool
) -> None:
    live = generated_live()
    live_file = write_live(tmp_path / "live.json", live)
    out = tmp_path / "specs"
    flags = ("--single-file",) if single_file else ()

    exported = run_cli("export", "--live-file", live_file, "--output-dir", out, *flags)

    assert exported.code == 0, exported
    assert len(exported_files(out)) == (1 if single_file else 200)
    texts = [p.read_text("utf-8") for p in out.iterdir()]
    assert_absent(secrets_of(live), exported.stdout, exported.stderr, *texts)
    assert run_cli("validate", out).code == 0

    result = run_cli(
        "check",
        out,
        "--live-file",
        live_file,
        "--unmanaged",
        "fail",
        "-f",
        "json",
        env=variables_for(out, live),
    )

    assert_round_trip(result, 200)
    assert_absent(secrets_of(live), result.stdout)


def test_round_trip_of_200_generated_endpoints_through_the_api(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    live = generated_live(seed=7)
    fake_api.endpoints = live
    fake_api.api_key = API_KEY
    fake_api.page_cap = 17
    out = tmp_path / "specs"

    exported = run_cli(
        "export", "--output-dir", out, "--page-size", "50", env=api_env(fake_api)
    )

    assert exported.code == 0, exported
    assert len(exported_files(out)) == 200
    environ = {**api_env(fake_api), **variables_for(out, live)}
    result = run_cli("check", out, "--unmanaged", "fail", "-f", "json", env=environ)
    assert_round_trip(result, 200)
    texts = [p.read_text("utf-8") for p in out.iterdir()]
    assert_absent(secrets_of(live), exported.stderr, result.stdout, *texts)


def test_names_that_make_the_same_file_name_get_files_of_their_own(
    run_cli: RunCli, tmp_path: Path
) -> None:
    # "模型" and "测试" both make "endpoint.yaml"; the second must not then take
    # the file of the endpoint called "2", nor "Alpha" that of "alpha" on a file
    # system that ignores case.
    live = [
        make_endpoint(name)
        for name in ("2", "模型", "测试", "alpha", "Alpha", "a b", "a-b", "a?b")
    ]
    live_file = write_live(tmp_path / "live.json", live)
    out = tmp_path / "specs"

    exported = run_cli("export", "--live-file", live_file, "--output-dir", out)

    assert exported.code == 0, exported
    files = exported_files(out)
    assert len(files) == len({p.name.casefold() for p in files}) == 8
    result = run_cli(
        "check", out, "--live-file", live_file, "--unmanaged", "fail", "-f", "json"
    )
    assert_round_trip(result, 8)


def test_secrets_of_endpoints_whose_names_look_alike_get_their_own_variables(
    run_cli: RunCli, tmp_path: Path
) -> None:
    live = [
        make_endpoint("a-b", envs={"HF_TOKEN": "hf_first_a1"}),
        make_endpoint("a_b", envs={"HF_TOKEN": "hf_second_b2"}),
        make_endpoint("A.B", envs={"HF_TOKEN": "hf_third_c3"}),
        make_endpoint("模型", envs={"HF_TOKEN": "hf_fourth_d4"}),
        make_endpoint("测试", envs={"HF_TOKEN": "hf_fifth_e5"}),
    ]
    live_file = write_live(tmp_path / "live.json", live)
    out = tmp_path / "specs"

    exported = run_cli("export", "--live-file", live_file, "--output-dir", out)

    assert exported.code == 0, exported
    environ = variables_for(out, live)  # fails if two secrets share a variable
    assert len(environ) == 5
    result = run_cli("check", out, "--live-file", live_file, "-f", "json", env=environ)
    assert_round_trip(result, 5)


def test_duplicate_names_are_exported_with_pinned_ids(
    run_cli: RunCli, tmp_path: Path
) -> None:
    live = [
        make_endpoint("twin", id="ep-twin-1", envs={"HF_TOKEN": "hf_twin_one"}),
        make_endpoint("twin", id="ep-twin-2", envs={"HF_TOKEN": "hf_twin_two"}),
        make_endpoint("single"),
    ]
    live_file = write_live(tmp_path / "live.json", live)
    out = tmp_path / "specs"

    exported = run_cli("export", "--live-file", live_file, "--output-dir", out)

    assert exported.code == 0, exported
    specs = exported_specs(out)
    assert sorted((s["name"], s.get("id")) for s in specs) == [
        ("single", None),
        ("twin", "ep-twin-1"),
        ("twin", "ep-twin-2"),
    ]
    environ = variables_for(out, live)
    assert len(environ) == 2


@pytest.mark.parametrize("single_file", [False, True], ids=["per-file", "single-file"])
def test_round_trip_of_duplicate_names(
    run_cli: RunCli, tmp_path: Path, single_file: bool
) -> None:
    live = [
        make_endpoint("twin", id="ep-twin-1", envs={"HF_TOKEN": "hf_twin_one"}),
        make_endpoint("twin", id="ep-twin-2", envs={"HF_TOKEN": "hf_twin_two"}),
        make_endpoint("single"),
    ]
    live_file = write_live(tmp_path / "live.json", live)
    out = tmp_path / "specs"
    flags = ("--single-file",) if single_file else ()
    run_cli("export", "--live-file", live_file, "--output-dir", out, *flags)

    result = run_cli(
        "check",
        out,
        "--live-file",
        live_file,
        "-f",
        "json",
        env=variables_for(out, live),
    )

    assert_round_trip(result, 3)


def test_round_trip_of_a_value_that_looks_like_a_reference(
    run_cli: RunCli, tmp_path: Path
) -> None:
    live = [make_endpoint("alpha", envs={"TEMPLATE": "${HOME}"})]
    live_file = write_live(tmp_path / "live.json", live)
    out = tmp_path / "specs"
    run_cli("export", "--live-file", live_file, "--output-dir", out)

    result = run_cli("check", out, "--live-file", live_file, "-f", "json")

    assert_round_trip(result, 1)


# -- export: the round trip as a property ----------------------------------------------

_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=40,
)
_names = st.one_of(
    _text.filter(lambda s: 0 < len(s) <= 255),
    st.sampled_from(AWKWARD_NAMES),
)
_values = st.one_of(_text, st.sampled_from(AWKWARD_VALUES)).filter(
    lambda v: not REFERENCE.match(v)
)
_keys = st.one_of(
    st.from_regex(r"[A-Z][A-Z0-9_]{0,12}", fullmatch=True),
    st.sampled_from(SECRET_KEYS),
)


@st.composite
def live_endpoints(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(_names, min_size=1, max_size=6, unique=True))
    endpoints = []
    for index, name in enumerate(names):
        envs = draw(st.dictionaries(_keys, _values, max_size=5))
        overrides: dict[str, Any] = {
            "envs": envs,
            "worker_config": {
                "max_replicas": draw(st.integers(0, 1000)),
                "min_cuda_version": draw(st.sampled_from(["12.4", "12.10", "1e3"])),
            },
            "ports": draw(st.lists(st.integers(1, 65535), unique=True, max_size=3)),
            "command": draw(_values),
            "image": draw(_values.filter(lambda v: 0 < len(v) <= 500)),
        }
        if draw(st.booleans()):
            overrides["type"] = draw(st.sampled_from(["sync", "async"]))
        endpoints.append(make_endpoint(name, id=f"ep-{index}", **overrides))
    return endpoints


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(live=live_endpoints())
def test_export_round_trip_property(live: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        out = os.path.join(directory, "specs")
        write_export(live, redactor=Redactor(), source="test", output_dir=out)

        specs = load_specs([out])
        environ = {
            k: v for k, v in variables_for(Path(out), live).items() if v is not None
        }
        from_environment = envrefs.resolve(specs.endpoints, environ)
        result = compare(
            specs.endpoints,
            live,
            redactor=Redactor(keys=from_environment),
            unmanaged="fail",
        )

    assert result.exit_code() == 0
    assert {e.state for e in result.endpoints} == {"in_sync"}
    assert len(result.endpoints) == len(live)


def test_export_warns_of_an_env_key_live_lists_twice(
    run_cli: RunCli, tmp_path: Path
) -> None:
    live = example_live()
    chat = next(e for e in live if e["name"] == "chat-llama-3-8b")
    secret = "hf-second-token-Vq8Zr3"
    chat["envs"] += [
        {"key": "MODEL", "value": "llama-3-8b-instruct"},
        {"key": "HF_TOKEN", "value": secret},
        # Listed twice with one value: nothing to warn of.
        {"key": "MAX_MODEL_LEN", "value": "8192"},
    ]
    live_file = write_live(tmp_path / "live.json", live)
    out = tmp_path / "specs"

    result = run_cli(
        "export", "--live-file", live_file, "--output-dir", out, "--endpoint", "chat-l*"
    )

    assert result.code == 0, result
    assert result.stderr.splitlines()[0] == (
        "driftcheck: warning: chat-llama-3-8b: live lists env HF_TOKEN, MODEL more "
        "than once with different values; a spec holds one, so the last was "
        "written and check will report the key as drift until live is fixed"
    )
    # One variable for the key, however often live lists it.
    assert result.stderr.splitlines()[-1].endswith(
        "(they hold the sensitive env values): CHAT_LLAMA_3_8B_HF_TOKEN"
    )
    assert secret not in result.stderr + result.stdout
    assert secret not in (out / "chat-llama-3-8b.yaml").read_text("utf-8")
    # What was written is what check then reports: drift on both keys.
    variables = {"CHAT_LLAMA_3_8B_HF_TOKEN": secret}
    check = run_cli(
        "check",
        out,
        "--live-file",
        live_file,
        "--endpoint",
        "chat-llama-3-8b",
        "-f",
        "json",
        env=variables,
    )
    assert check.code == 1, check
    differences = json.loads(check.stdout)["endpoints"][0]["differences"]
    assert [(d["path"], d["kind"]) for d in differences] == [
        ("envs.HF_TOKEN", "changed"),
        ("envs.MODEL", "changed"),
    ]
