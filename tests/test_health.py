"""End-to-end tests of health warnings, `--require-healthy` and GPU capacity.

A live endpoint that is not running, or has a worker whose health check fails, is
reported but does not change the exit code unless `--require-healthy` asks for it.
When worker_config drifts, the report weighs it in GPUs: gpu_num x max_replicas,
declared and live.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from .conftest import REPORT_SCHEMA, CliResult, RunCli
from .fake_ppio import DROP, FakePPIO, make_endpoint

API_KEY = "sk-health-Wc5Gy1Np8Ze3"

RUNNING = {"status": "running", "error": "", "message": ""}
HEALTHY = {"id": "wk-1", "status": {"status": "ready"}, "health": True}
UNHEALTHY = {"id": "wk-2", "status": {"status": "ready"}, "health": False}


def live(name: str, **changes: Any) -> dict[str, Any]:
    return make_endpoint(name, id=f"ep-{name}", **changes)


def spec_of(endpoint: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
    """A spec declaring what the live endpoint runs, then `changes`."""
    spec = {"name": endpoint["name"], "image": endpoint["image"]}
    spec.update(changes)
    return spec


def write_specs(tmp_path: Path, *specs: Mapping[str, Any]) -> Path:
    path = tmp_path / "endpoints.yaml"
    path.write_text(
        yaml.safe_dump({"endpoints": list(specs)}, sort_keys=False), encoding="utf-8"
    )
    return path


def serve(fake: FakePPIO, *endpoints: dict[str, Any]) -> dict[str, str | None]:
    fake.endpoints = list(endpoints)
    fake.api_key = API_KEY
    return {"PPIO_API_URL": fake.url, "PPIO_API_KEY": API_KEY}


def check(
    run_cli: RunCli,
    tmp_path: Path,
    env: Mapping[str, str | None],
    *args: str,
) -> CliResult:
    return run_cli("check", "endpoints.yaml", *args, env=env, cwd=tmp_path)


def report(result: CliResult) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    Draft202012Validator(json.loads(REPORT_SCHEMA.read_text("utf-8"))).validate(
        document
    )
    return document


def by_name(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in document["endpoints"]}


def assert_clean(result: CliResult, code: int) -> None:
    assert result.code == code, result
    assert result.stderr == "", result.stderr


# -- health ----------------------------------------------------------------------------


UNHEALTHY_CASES = [
    pytest.param(
        {"status": {"status": "failed", "error": "", "message": "OOM killed"}},
        ['status is "failed": OOM killed'],
        id="failed-with-message",
    ),
    pytest.param(
        {"status": {"status": "failed", "error": "image pull failed", "message": ""}},
        ['status is "failed": image pull failed'],
        id="failed-with-error",
    ),
    pytest.param(
        {"status": {"status": "stopped", "error": "", "message": ""}},
        ['status is "stopped"'],
        id="stopped",
    ),
    pytest.param(
        {"workers": [HEALTHY, UNHEALTHY]},
        ['worker "wk-2" is unhealthy'],
        id="one-unhealthy-worker",
    ),
    pytest.param(
        {
            "status": {"status": "deploying", "error": "", "message": "rolling out"},
            "workers": [UNHEALTHY, {**UNHEALTHY, "id": "wk-3"}],
        },
        [
            'status is "deploying": rolling out',
            'worker "wk-2" is unhealthy',
            'worker "wk-3" is unhealthy',
        ],
        id="status-and-workers",
    ),
]


@pytest.mark.parametrize(("changes", "warnings"), UNHEALTHY_CASES)
def test_unhealthy_endpoint_is_reported_and_does_not_fail(
    run_cli: RunCli,
    fake_api: FakePPIO,
    tmp_path: Path,
    changes: dict[str, Any],
    warnings: list[str],
) -> None:
    chat = live("chat", **changes)
    write_specs(tmp_path, spec_of(chat))
    env = serve(fake_api, chat)

    text = check(run_cli, tmp_path, env)
    as_json = check(run_cli, tmp_path, env, "-f", "json")

    assert_clean(text, 0)
    assert text.stdout == (
        "in sync  chat (ep-chat)  endpoints.yaml:2\n"
        + "".join(f"  health: {warning}\n" for warning in warnings)
        + "\n1 declared: 1 in sync, 0 drifted, 0 missing; 0 unmanaged; "
        "1 unhealthy endpoint. in sync\n"
    )
    assert_clean(as_json, 0)
    document = report(as_json)
    found = by_name(document)["chat"]
    assert (found["state"], found["health"]) == ("in_sync", warnings)
    assert document["summary"]["unhealthy"] == 1


@pytest.mark.parametrize(("changes", "warnings"), UNHEALTHY_CASES)
def test_require_healthy_fails_on_an_unhealthy_endpoint(
    run_cli: RunCli,
    fake_api: FakePPIO,
    tmp_path: Path,
    changes: dict[str, Any],
    warnings: list[str],
) -> None:
    chat = live("chat", **changes)
    embed = live("embed")
    write_specs(tmp_path, spec_of(chat), spec_of(embed))
    env = serve(fake_api, chat, embed)

    result = check(run_cli, tmp_path, env, "--require-healthy")
    as_json = check(run_cli, tmp_path, env, "--require-healthy", "-f", "json")

    assert_clean(result, 1)
    assert result.stdout.splitlines()[-1] == (
        "2 declared: 2 in sync, 0 drifted, 0 missing; 0 unmanaged; "
        "1 unhealthy endpoint. unhealthy endpoints fail the run"
    )
    assert_clean(as_json, 1)
    endpoints = by_name(report(as_json))
    assert endpoints["chat"]["health"] == warnings
    assert endpoints["embed"]["health"] == []


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="running-and-healthy"),
        pytest.param({"workers": []}, id="no-workers"),
        pytest.param({"workers": DROP, "status": DROP}, id="not-reported"),
        pytest.param(
            {"workers": [{"id": "wk-9", "health": None}]}, id="health-not-known"
        ),
    ],
)
def test_require_healthy_passes_a_healthy_run(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path, changes: dict[str, Any]
) -> None:
    chat = live("chat", **changes)
    write_specs(tmp_path, spec_of(chat))
    env = serve(fake_api, chat)

    result = check(run_cli, tmp_path, env, "--require-healthy", "-f", "json")

    assert_clean(result, 0)
    document = report(result)
    assert by_name(document)["chat"]["health"] == []
    assert document["summary"]["unhealthy"] == 0


def test_health_does_not_hide_drift(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    chat = live("chat", status={"status": "failed", "message": "crash loop"})
    write_specs(tmp_path, spec_of(chat, image="registry.example.com/ml/chat:2.0.0"))
    env = serve(fake_api, chat)

    for args in ((), ("--require-healthy",)):
        result = check(run_cli, tmp_path, env, *args)
        assert_clean(result, 1)
        lines = result.stdout.splitlines()
        assert lines[0] == "drifted  chat (ep-chat)  endpoints.yaml:2"
        assert '  health: status is "failed": crash loop' in lines
        assert lines[-1].endswith("1 unhealthy endpoint. drift found")


def test_unmanaged_endpoints_are_not_health_checked(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    chat = live("chat")
    broken = live("scratch", status={"status": "failed", "message": "OOM"})
    write_specs(tmp_path, spec_of(chat))
    env = serve(fake_api, chat, broken)

    result = check(run_cli, tmp_path, env, "--require-healthy", "-f", "json")

    assert_clean(result, 0)
    endpoints = by_name(report(result))
    assert endpoints["scratch"]["state"] == "unmanaged"
    assert endpoints["scratch"]["health"] == []


def test_require_healthy_fails_even_when_the_drift_is_known(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    chat = live("chat", image="registry.example.com/ml/chat:hotfix")
    write_specs(tmp_path, spec_of(chat, image="registry.example.com/ml/chat:1.0.0"))
    env = serve(fake_api, chat)
    check(run_cli, tmp_path, env, "--report", "json:previous.json")
    fake_api.endpoints = [
        live(
            "chat",
            image="registry.example.com/ml/chat:hotfix",
            workers=[UNHEALTHY],
        )
    ]
    known = ("--baseline", "previous.json", "--fail-on", "new")

    assert_clean(check(run_cli, tmp_path, env, *known), 0)
    result = check(run_cli, tmp_path, env, *known, "--require-healthy")

    assert_clean(result, 1)
    assert result.stdout.splitlines()[-1].endswith(
        "1 unhealthy endpoint; 0 new, 0 resolved. unhealthy endpoints fail the run"
    )


def test_status_text_from_the_api_is_made_safe(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    message = "\x1b[2J\x1b[31mfake all clear\x1b[0m\r" + "x" * 500
    chat = live(
        "chat",
        status={"status": "failed", "message": message},
        workers=[{**UNHEALTHY, "id": "wk-\x1b]8;;evil\x07"}],
    )
    write_specs(tmp_path, spec_of(chat))
    env = serve(fake_api, chat)

    result = check(run_cli, tmp_path, env)
    as_json = check(run_cli, tmp_path, env, "-f", "json")

    assert_clean(result, 0)
    assert "\x1b" not in result.stdout
    assert "\r" not in result.stdout
    [status_line, worker_line] = [
        line for line in result.stdout.splitlines() if "health:" in line
    ]
    assert status_line.startswith('  health: status is "failed": \\x1b[2J\\x1b[31m')
    # Only the first 200 characters of the message are kept.
    assert status_line.count("x") < 220
    assert worker_line == '  health: worker "wk-\\u001b]8;;evil\\u0007" is unhealthy'
    health = by_name(report(as_json))["chat"]["health"]
    assert all(text.isprintable() for text in health)


# -- GPU capacity ----------------------------------------------------------------------


def test_capacity_of_a_drifted_endpoint(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    chat = live("chat", worker_config={"gpu_num": 2, "max_replicas": 2})
    # gpu_num is not declared: live's 2 is taken, so only max_replicas weighs.
    write_specs(tmp_path, spec_of(chat, worker_config={"max_replicas": 4}))
    env = serve(fake_api, chat)

    text = check(run_cli, tmp_path, env)
    as_json = check(run_cli, tmp_path, env, "-f", "json")

    assert_clean(text, 1)
    assert text.stdout == (
        "drifted  chat (ep-chat)  endpoints.yaml:2\n"
        "  worker_config.max_replicas  changed: declared 4, live 2  (line 5)\n"
        "  GPU capacity (gpu_num x max_replicas): declared 8, live 4 (-4)\n"
        "\n"
        "1 declared: 0 in sync, 1 drifted, 0 missing; 0 unmanaged; "
        "GPU capacity -4 from drift. drift found\n"
    )
    assert_clean(as_json, 1)
    document = report(as_json)
    assert by_name(document)["chat"]["gpu_capacity"] == {
        "declared": 8,
        "live": 4,
        "change": -4,
    }
    assert document["summary"]["gpu_capacity_change"] == -4


def test_capacity_totals_over_drifted_endpoints(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    scaled_up = live("scaled-up", worker_config={"gpu_num": 1, "max_replicas": 6})
    bigger_gpus = live("bigger-gpus", worker_config={"gpu_num": 2, "max_replicas": 3})
    timeout_only = live("timeout-only", worker_config={"idle_timeout": 60})
    image_only = live("image-only")
    in_sync = live("in-sync")
    write_specs(
        tmp_path,
        spec_of(scaled_up, worker_config={"gpu_num": 1, "max_replicas": 2}),
        spec_of(bigger_gpus, worker_config={"gpu_num": 4}),
        spec_of(timeout_only, worker_config={"idle_timeout": 300}),
        spec_of(image_only, image="registry.example.com/ml/other:1"),
        spec_of(in_sync, worker_config={"gpu_num": 1, "max_replicas": 2}),
    )
    env = serve(fake_api, scaled_up, bigger_gpus, timeout_only, image_only, in_sync)

    result = check(run_cli, tmp_path, env, "-f", "json")

    assert_clean(result, 1)
    document = report(result)
    capacity = {name: e["gpu_capacity"] for name, e in by_name(document).items()}
    assert capacity == {
        "scaled-up": {"declared": 2, "live": 6, "change": 4},
        "bigger-gpus": {"declared": 12, "live": 6, "change": -6},
        "timeout-only": {"declared": 2, "live": 2, "change": 0},
        "image-only": None,
        "in-sync": None,
    }
    assert document["summary"]["gpu_capacity_change"] == -2

    text = check(run_cli, tmp_path, env)
    assert text.stdout.splitlines()[-1].endswith(
        "GPU capacity -2 from drift. drift found"
    )


def test_ignored_capacity_difference_is_not_counted(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    # An autoscaler owns max_replicas; the image drift is what fails the run.
    chat = live("chat", worker_config={"max_replicas": 8})
    write_specs(
        tmp_path,
        spec_of(
            chat,
            image="registry.example.com/ml/chat:2.0.0",
            worker_config={"max_replicas": 2},
        ),
    )
    env = serve(fake_api, chat)

    result = check(
        run_cli, tmp_path, env, "-f", "json", "--ignore", "worker_config.max_replicas"
    )

    assert_clean(result, 1)
    assert report(result)["summary"]["gpu_capacity_change"] == 0


@pytest.mark.parametrize(
    "worker_config",
    [
        pytest.param(DROP, id="absent"),
        pytest.param({"gpu_num": "2"}, id="gpu-num-a-string"),
        pytest.param({"gpu_num": True}, id="gpu-num-a-bool"),
        pytest.param({"gpu_num": DROP}, id="gpu-num-absent"),
    ],
)
def test_capacity_left_out_when_live_cannot_tell(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path, worker_config: Any
) -> None:
    chat = live("chat", worker_config=worker_config)
    write_specs(tmp_path, spec_of(chat, worker_config={"max_replicas": 4}))
    env = serve(fake_api, chat)

    result = check(run_cli, tmp_path, env, "-f", "json")

    assert_clean(result, 1)
    document = report(result)
    assert by_name(document)["chat"]["gpu_capacity"] is None
    assert document["summary"]["gpu_capacity_change"] == 0
