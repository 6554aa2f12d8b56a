"""Pairing declared endpoints with live ones and the differences between them."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from driftcheck.compare import compare
from driftcheck.errors import MatchError
from driftcheck.model import (
    EXIT_DRIFT,
    EXIT_IN_SYNC,
    CheckResult,
    DeclaredEndpoint,
    Difference,
    EndpointResult,
    Location,
    Summary,
)
from driftcheck.redact import Redactor
from driftcheck.specs import load_specs


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def declare(text: str, name: str = "spec.yaml") -> list[DeclaredEndpoint]:
    """The endpoints a spec file with `text` declares, loaded as the CLI loads them."""
    Path(name).write_text(text, encoding="utf-8")
    return load_specs([name]).endpoints


def live_endpoint(endpoint_id: str, name: str, **fields: Any) -> dict[str, Any]:
    """A live endpoint as the API lists it, with the read-only fields filled in."""
    return {
        "id": endpoint_id,
        "name": name,
        "status": "serving",
        "url": f"https://{endpoint_id}.example.invalid",
        "workers": [],
        **fields,
    }


def only_result(result: CheckResult) -> EndpointResult:
    (endpoint,) = result.endpoints
    return endpoint


def records(endpoint: EndpointResult) -> list[tuple[str, str, Any, Any]]:
    return [(d.path, d.kind, d.declared, d.live) for d in endpoint.differences]


# What is compared


def test_only_declared_keys_of_a_section_are_compared() -> None:
    declared = declare("name: chat\nworker_config:\n  max_replicas: 4\n")
    live = live_endpoint(
        "ep-1",
        "chat",
        worker_config={"max_replicas": 4, "idle_timeout": 900, "gpu_num": 2},
        policy={"type": "queue", "value": 30},
    )

    endpoint = only_result(compare(declared, [live]))

    assert endpoint.state == "in_sync"
    assert endpoint.differences == []


def test_a_declared_section_key_that_differs_is_changed_with_its_line() -> None:
    declared = declare(
        "name: chat\n"
        "worker_config:\n"
        "  max_replicas: 4\n"
        "  idle_timeout: 300\n"
        "policy:\n"
        "  type: queue\n"
        "  value: 30\n"
        "health_check:\n"
        "  path: /health\n"
    )
    live = live_endpoint(
        "ep-1",
        "chat",
        worker_config={"max_replicas": 2, "idle_timeout": 300},
        policy={"type": "concurrency", "value": 30},
        health_check={"path": "/healthz", "port": 8000},
    )

    endpoint = only_result(compare(declared, [live]))

    assert endpoint.state == "drifted"
    assert endpoint.differences == [
        Difference(
            "worker_config.max_replicas",
            "changed",
            4,
            2,
            False,
            Location("spec.yaml", 3),
        ),
        Difference(
            "policy.type",
            "changed",
            "queue",
            "concurrency",
            False,
            Location("spec.yaml", 6),
        ),
        Difference(
            "health_check.path",
            "changed",
            "/health",
            "/healthz",
            False,
            Location("spec.yaml", 9),
        ),
    ]


def test_a_declared_section_key_absent_live_is_missing() -> None:
    declared = declare("name: chat\nworker_config:\n  max_replicas: 4\n  gpu_num: 1\n")
    live = live_endpoint("ep-1", "chat", worker_config={"max_replicas": 4})

    endpoint = only_result(compare(declared, [live]))

    assert records(endpoint) == [("worker_config.gpu_num", "missing", 1, None)]


def test_a_declared_section_absent_live_makes_each_key_missing() -> None:
    declared = declare("name: chat\nhealth_check:\n  path: /health\n  port: 8000\n")

    endpoint = only_result(compare(declared, [live_endpoint("ep-1", "chat")]))

    assert records(endpoint) == [
        ("health_check.path", "missing", "/health", None),
        ("health_check.port", "missing", 8000, None),
    ]


def test_a_declared_top_level_field_absent_live_is_missing() -> None:
    declared = declare("name: chat\nimage: vllm:0.6.3\ncommand: serve --port 8000\n")
    live = live_endpoint("ep-1", "chat", image="vllm:0.6.3")

    endpoint = only_result(compare(declared, [live]))

    assert endpoint.state == "drifted"
    assert endpoint.differences == [
        Difference(
            "command",
            "missing",
            "serve --port 8000",
            None,
            False,
            Location("spec.yaml", 3),
        )
    ]


def test_a_top_level_field_that_differs_is_changed() -> None:
    declared = declare("name: chat\nimage: vllm:0.6.3\n")
    live = live_endpoint("ep-1", "chat", image="vllm:0.6.4")

    endpoint = only_result(compare(declared, [live]))

    assert records(endpoint) == [("image", "changed", "vllm:0.6.3", "vllm:0.6.4")]


def test_live_fields_a_spec_does_not_declare_are_ignored() -> None:
    declared = declare("name: chat\nimage: vllm:0.6.3\n")
    live = live_endpoint(
        "ep-1", "chat", image="vllm:0.6.3", app_name="chat", command="serve"
    )

    assert only_result(compare(declared, [live])).state == "in_sync"


# Strict types


@pytest.mark.parametrize(
    ("spec_line", "live_config", "path", "declared_value", "live_value"),
    [
        pytest.param(
            "max_replicas: 1",
            {"max_replicas": True},
            "worker_config.max_replicas",
            1,
            True,
            id="1 vs true",
        ),
        pytest.param(
            "max_replicas: 2",
            {"max_replicas": 2.0},
            "worker_config.max_replicas",
            2,
            2.0,
            id="2 vs 2.0",
        ),
        pytest.param(
            'min_cuda_version: "12.4"',
            {"min_cuda_version": 12.4},
            "worker_config.min_cuda_version",
            "12.4",
            12.4,
            id="string vs number",
        ),
        pytest.param(
            "gpu_num: 1",
            {"gpu_num": "1"},
            "worker_config.gpu_num",
            1,
            "1",
            id="number vs string",
        ),
    ],
)
def test_values_of_different_types_are_changed(
    spec_line: str,
    live_config: dict[str, Any],
    path: str,
    declared_value: Any,
    live_value: Any,
) -> None:
    declared = declare(f"name: chat\nworker_config:\n  {spec_line}\n")
    live = live_endpoint("ep-1", "chat", worker_config=live_config)

    endpoint = only_result(compare(declared, [live]))

    assert endpoint.state == "drifted"
    ((got_path, kind, got_declared, got_live),) = records(endpoint)
    assert (got_path, kind) == (path, "changed")
    assert type(got_declared) is type(declared_value)
    assert type(got_live) is type(live_value)
    assert (got_declared, got_live) == (declared_value, live_value)


def test_top_level_string_against_a_number_is_changed() -> None:
    declared = declare('name: chat\nproduct_id: "12"\n')
    live = live_endpoint("ep-1", "chat", product_id=12)

    endpoint = only_result(compare(declared, [live]))

    assert records(endpoint) == [("product_id", "changed", "12", 12)]


# Envs


ENVS_SPEC = (
    "name: chat\n"
    "envs:\n"
    '  MODEL: "llama-3-8b"\n'
    '  MAX_MODEL_LEN: "8192"\n'
    '  GPU_MEMORY_UTILIZATION: "0.90"\n'
)


def test_envs_in_any_live_order_are_in_sync() -> None:
    declared = declare(ENVS_SPEC)
    envs = [
        {"key": "MODEL", "value": "llama-3-8b"},
        {"key": "MAX_MODEL_LEN", "value": "8192"},
        {"key": "GPU_MEMORY_UTILIZATION", "value": "0.90"},
    ]
    for seed in range(5):
        shuffled = envs[:]
        random.Random(seed).shuffle(shuffled)
        live = live_endpoint("ep-1", "chat", envs=shuffled)

        assert only_result(compare(declared, [live])).state == "in_sync", shuffled


def test_envs_declared_as_a_list_compare_like_a_mapping() -> None:
    declared = declare(
        "name: chat\n"
        "envs:\n"
        "  - {key: MAX_MODEL_LEN, value: '8192'}\n"
        "  - {key: MODEL, value: llama-3-8b}\n"
    )
    live = live_endpoint(
        "ep-1",
        "chat",
        envs=[
            {"key": "MODEL", "value": "llama-3-8b"},
            {"key": "MAX_MODEL_LEN", "value": "8192"},
        ],
    )

    assert only_result(compare(declared, [live])).state == "in_sync"


def test_envs_compare_as_a_whole_set() -> None:
    declared = declare(ENVS_SPEC)
    live = live_endpoint(
        "ep-1",
        "chat",
        envs=[
            {"key": "LOG_LEVEL", "value": "debug"},
            {"key": "MODEL", "value": "llama-3-8b"},
            {"key": "MAX_MODEL_LEN", "value": "4096"},
        ],
    )

    endpoint = only_result(compare(declared, [live]))

    assert endpoint.state == "drifted"
    assert endpoint.differences == [
        Difference(
            "envs.GPU_MEMORY_UTILIZATION",
            "missing",
            "0.90",
            None,
            False,
            Location("spec.yaml", 5),
        ),
        Difference(
            "envs.LOG_LEVEL", "extra", None, "debug", False, Location("spec.yaml", 2)
        ),
        Difference(
            "envs.MAX_MODEL_LEN",
            "changed",
            "8192",
            "4096",
            False,
            Location("spec.yaml", 4),
        ),
    ]


def test_envs_absent_live_are_all_missing() -> None:
    declared = declare('name: chat\nenvs:\n  MODEL: "m"\n')

    endpoint = only_result(compare(declared, [live_endpoint("ep-1", "chat")]))

    assert records(endpoint) == [("envs.MODEL", "missing", "m", None)]


def test_envs_sharing_no_key_with_live_are_reported_key_by_key() -> None:
    declared = declare('name: chat\nenvs:\n  MODEL: "m"\n  MAX_MODEL_LEN: "8192"\n')
    live = live_endpoint("ep-1", "chat", envs=[{"key": "LOG_LEVEL", "value": "info"}])

    endpoint = only_result(compare(declared, [live]))

    assert records(endpoint) == [
        ("envs.LOG_LEVEL", "extra", None, "info"),
        ("envs.MAX_MODEL_LEN", "missing", "8192", None),
        ("envs.MODEL", "missing", "m", None),
    ]


def test_secrets_stay_hidden_when_live_has_no_envs_at_all() -> None:
    declared = declare(
        'name: chat\nenvs:\n  HF_TOKEN: "hf_declared_secret"\n  MODEL: "m"\n'
    )
    live = live_endpoint("ep-1", "chat", envs=[])

    endpoint = only_result(compare(declared, [live]))

    assert "hf_declared_secret" not in repr(endpoint.differences)
    assert [(d.path, d.kind, d.declared, d.redacted) for d in endpoint.differences] == [
        ("envs.HF_TOKEN", "missing", None, True),
        ("envs.MODEL", "missing", "m", False),
    ]


def test_secrets_stay_hidden_when_few_env_keys_are_shared() -> None:
    declared = declare(
        "name: chat\n"
        "envs:\n"
        '  HF_TOKEN: "hf_declared_secret"\n'
        '  MODEL: "m"\n'
        '  MAX_MODEL_LEN: "8192"\n'
    )
    live = live_endpoint(
        "ep-1",
        "chat",
        envs=[
            {"key": "MODEL", "value": "m"},
            {"key": "DB_PASSWORD", "value": "pw_live_secret"},
            {"key": "OPENAI_API_KEY", "value": "sk_live_secret"},
        ],
    )

    endpoint = only_result(compare(declared, [live]))

    shown = repr(endpoint.differences)
    for secret in ("hf_declared_secret", "pw_live_secret", "sk_live_secret"):
        assert secret not in shown
    assert [(d.path, d.kind, d.redacted) for d in endpoint.differences] == [
        ("envs.DB_PASSWORD", "extra", True),
        ("envs.HF_TOKEN", "missing", True),
        ("envs.MAX_MODEL_LEN", "missing", False),
        ("envs.OPENAI_API_KEY", "extra", True),
    ]


def test_env_key_case_matters() -> None:
    declared = declare('name: chat\nenvs:\n  MODEL: "m"\n')
    live = live_endpoint("ep-1", "chat", envs=[{"key": "model", "value": "m"}])

    endpoint = only_result(compare(declared, [live]))

    assert records(endpoint) == [
        ("envs.MODEL", "missing", "m", None),
        ("envs.model", "extra", None, "m"),
    ]


def test_an_empty_live_section_makes_each_declared_key_missing() -> None:
    declared = declare("name: chat\nworker_config:\n  max_replicas: 4\n  gpu_num: 1\n")
    live = live_endpoint("ep-1", "chat", worker_config={})

    endpoint = only_result(compare(declared, [live]))

    assert endpoint.differences == [
        Difference(
            "worker_config.gpu_num", "missing", 1, None, False, Location("spec.yaml", 4)
        ),
        Difference(
            "worker_config.max_replicas",
            "missing",
            4,
            None,
            False,
            Location("spec.yaml", 3),
        ),
    ]


# Ports and volumes


@pytest.mark.parametrize(
    "live_ports",
    [[8000, 9000], [9000, 8000], [9000, 8000, 9000, 8000]],
    ids=["same", "reordered", "repeated"],
)
def test_ports_compare_as_a_set(live_ports: list[int]) -> None:
    declared = declare("name: chat\nports: [8000, 9000]\n")
    live = live_endpoint("ep-1", "chat", ports=live_ports)

    assert only_result(compare(declared, [live])).state == "in_sync"


def test_a_different_port_set_is_changed() -> None:
    declared = declare("name: chat\nports:\n  - 9000\n  - 8000\n")
    live = live_endpoint("ep-1", "chat", ports=[8000, 8080])

    endpoint = only_result(compare(declared, [live]))

    assert records(endpoint) == [("ports", "changed", [8000, 9000], [8000, 8080])]
    assert endpoint.differences[0].source == Location("spec.yaml", 2)


def test_ports_absent_live_are_missing() -> None:
    declared = declare("name: chat\nports: [8000]\n")

    endpoint = only_result(compare(declared, [live_endpoint("ep-1", "chat")]))

    assert records(endpoint) == [("ports", "missing", [8000], None)]


def test_live_ports_that_are_not_integers_are_shown_as_sent() -> None:
    declared = declare("name: chat\nports: [8000]\n")
    live = live_endpoint("ep-1", "chat", ports=[8000, "8000"])

    endpoint = only_result(compare(declared, [live]))

    assert records(endpoint) == [("ports", "changed", [8000], [8000, "8000"])]


def test_live_envs_and_volumes_of_the_wrong_shape_count_as_absent() -> None:
    declared = declare(
        'name: chat\nenvs:\n  MODEL: "m"\nvolumes:\n  - mount_point: /data\n'
    )
    live = live_endpoint(
        "ep-1",
        "chat",
        envs="MODEL=m",
        volumes=[{"size": 3}, "junk", {"mount_point": "/data"}],
    )

    endpoint = only_result(compare(declared, [live]))

    assert records(endpoint) == [("envs.MODEL", "missing", "m", None)]


VOLUMES_SPEC = (
    "name: chat\n"
    "volumes:\n"
    "  - mount_point: /models\n"
    "    type: network\n"
    "    size: 100\n"
    "  - mount_point: /data\n"
    "    type: local\n"
    "    size: 50\n"
)


def test_reordered_volumes_are_in_sync() -> None:
    declared = declare(VOLUMES_SPEC)
    live = live_endpoint(
        "ep-1",
        "chat",
        volumes=[
            {"id": "vol-2", "mount_point": "/data", "type": "local", "size": 50},
            {"id": "vol-1", "mount_point": "/models", "type": "network", "size": 100},
        ],
    )

    assert only_result(compare(declared, [live])).state == "in_sync"


def test_volume_size_change_is_reported_on_its_mount_point() -> None:
    declared = declare(VOLUMES_SPEC)
    live = live_endpoint(
        "ep-1",
        "chat",
        volumes=[
            {"mount_point": "/models", "type": "network", "size": 100},
            {"mount_point": "/data", "type": "local", "size": 80},
        ],
    )

    endpoint = only_result(compare(declared, [live]))

    assert endpoint.differences == [
        Difference(
            "volumes[/data].size", "changed", 50, 80, False, Location("spec.yaml", 8)
        )
    ]


def test_live_volume_lacking_declared_keys_reports_each_key() -> None:
    declared = declare(
        "name: chat\n"
        "volumes:\n"
        "  - mount_point: /data\n"
        "    id: vol-1\n"
        "    type: local\n"
        "    size: 50\n"
    )
    live = live_endpoint("ep-1", "chat", volumes=[{"mount_point": "/data"}])

    endpoint = only_result(compare(declared, [live]))

    assert records(endpoint) == [
        ("volumes[/data].id", "missing", "vol-1", None),
        ("volumes[/data].size", "missing", 50, None),
        ("volumes[/data].type", "missing", "local", None),
    ]


def test_extra_live_volume_is_extra() -> None:
    declared = declare(VOLUMES_SPEC)
    cache = {"mount_point": "/cache", "type": "local", "size": 10}
    live = live_endpoint(
        "ep-1",
        "chat",
        volumes=[
            {"mount_point": "/models", "type": "network", "size": 100},
            cache,
            {"mount_point": "/data", "type": "local", "size": 50},
        ],
    )

    endpoint = only_result(compare(declared, [live]))

    assert records(endpoint) == [("volumes[/cache]", "extra", None, cache)]
    assert endpoint.differences[0].source == Location("spec.yaml", 2)


def test_declared_volume_absent_live_is_missing() -> None:
    declared = declare(VOLUMES_SPEC)
    live = live_endpoint(
        "ep-1",
        "chat",
        volumes=[{"mount_point": "/models", "type": "network", "size": 100}],
    )

    endpoint = only_result(compare(declared, [live]))

    assert records(endpoint) == [
        (
            "volumes[/data]",
            "missing",
            {"mount_point": "/data", "type": "local", "size": 50},
            None,
        )
    ]
    assert endpoint.differences[0].source == Location("spec.yaml", 6)


# Matching declared to live


def test_match_by_name_when_the_spec_has_no_id() -> None:
    declared = declare("name: chat\nimage: x\n")
    live = [
        live_endpoint("ep-2", "chat-v2", image="x"),
        live_endpoint("ep-1", "chat", image="x"),
    ]

    result = compare(declared, live, unmanaged="ignore")

    assert [(e.name, e.id, e.state) for e in result.endpoints] == [
        ("chat", "ep-1", "in_sync")
    ]


def test_names_match_exactly() -> None:
    declared = declare("name: chat\n")
    live = [live_endpoint("ep-1", "Chat"), live_endpoint("ep-2", "chat ")]

    result = compare(declared, live)

    assert [(e.name, e.id, e.state) for e in result.endpoints] == [
        ("chat", None, "missing"),
        ("Chat", "ep-1", "unmanaged"),
        ("chat ", "ep-2", "unmanaged"),
    ]


def test_match_by_id_reports_a_rename() -> None:
    declared = declare("# pinned\nname: chat\nid: ep-7\nimage: x\n")
    live = live_endpoint("ep-7", "chat-renamed-in-console", image="x")

    result = compare(declared, [live])

    endpoint = only_result(result)
    assert (endpoint.id, endpoint.state) == ("ep-7", "drifted")
    assert endpoint.differences == [
        Difference(
            "name",
            "changed",
            "chat",
            "chat-renamed-in-console",
            False,
            Location("spec.yaml", 2),
        )
    ]


def test_match_by_id_ignores_live_endpoints_with_the_declared_name() -> None:
    declared = declare("name: chat\nid: ep-2\n")
    live = [live_endpoint("ep-1", "chat"), live_endpoint("ep-2", "chat")]

    result = compare(declared, live)

    assert [(e.name, e.id, e.state) for e in result.endpoints] == [
        ("chat", "ep-2", "in_sync"),
        ("chat", "ep-1", "unmanaged"),
    ]


def test_an_id_that_is_not_live_is_missing_even_if_the_name_is() -> None:
    declared = declare("name: chat\nid: ep-gone\n")
    live = [live_endpoint("ep-1", "chat")]

    result = compare(declared, live)

    assert [(e.name, e.id, e.state) for e in result.endpoints] == [
        ("chat", "ep-gone", "missing"),
        ("chat", "ep-1", "unmanaged"),
    ]
    assert result.endpoints[0].source == Location("spec.yaml", 1, 1)


def test_two_live_endpoints_with_the_declared_name_cannot_be_matched() -> None:
    declared = declare("name: other\n---\n# ambiguous\nname: chat\n")
    live = [
        live_endpoint("ep-1", "chat"),
        live_endpoint("ep-2", "other"),
        live_endpoint("ep-3", "chat"),
    ]

    with pytest.raises(MatchError) as caught:
        compare(declared, live)

    assert caught.value.lines() == [
        "spec.yaml:4: chat: 2 live endpoints are named 'chat' (ids 'ep-1', 'ep-3'); "
        "add `id:` to the spec to choose"
    ]


# States, counts and the exit code


def fleet() -> tuple[list[DeclaredEndpoint], list[dict[str, Any]]]:
    declared = declare(
        "endpoints:\n"
        "  - name: chat\n"
        "    image: vllm:0.6.3\n"
        "  - name: embed\n"
        "    image: tei:1.5\n"
        "  - name: rerank\n"
        "    image: tei:1.5\n"
        "  - name: vision\n"
        "    image: vllm:0.6.3\n"
    )
    live = [
        live_endpoint("ep-4", "scratch", image="x"),
        live_endpoint("ep-1", "chat", image="vllm:0.6.3"),
        live_endpoint("ep-2", "embed", image="tei:1.4"),
        live_endpoint("ep-3", "rerank", image="tei:1.5"),
        live_endpoint("ep-5", "playground", image="x"),
    ]
    return declared, live


def test_every_state_and_the_summary() -> None:
    declared, live = fleet()

    result = compare(declared, live)

    assert [(e.name, e.id, e.state) for e in result.endpoints] == [
        ("chat", "ep-1", "in_sync"),
        ("embed", "ep-2", "drifted"),
        ("rerank", "ep-3", "in_sync"),
        ("vision", None, "missing"),
        ("playground", "ep-5", "unmanaged"),
        ("scratch", "ep-4", "unmanaged"),
    ]
    assert result.summary == Summary(
        declared=4, in_sync=2, drifted=1, missing=1, unmanaged=2
    )
    assert result.endpoints[1].live == live[2]
    assert result.exit_code() == EXIT_DRIFT


def test_in_sync_with_unmanaged_warned_exits_zero() -> None:
    declared = declare("name: chat\nimage: x\n")
    live = [live_endpoint("ep-1", "chat", image="x"), live_endpoint("ep-2", "stray")]

    result = compare(declared, live, unmanaged="warn")

    assert result.summary.unmanaged == 1
    assert result.exit_code() == EXIT_IN_SYNC


def test_unmanaged_policy_fail_exits_one() -> None:
    declared = declare("name: chat\nimage: x\n")
    live = [live_endpoint("ep-1", "chat", image="x"), live_endpoint("ep-2", "stray")]

    result = compare(declared, live, unmanaged="fail")

    assert result.summary == Summary(1, 1, 0, 0, 1)
    assert result.exit_code() == EXIT_DRIFT


def test_unmanaged_policy_ignore_drops_them() -> None:
    declared = declare("name: chat\nimage: x\n")
    live = [live_endpoint("ep-1", "chat", image="x"), live_endpoint("ep-2", "stray")]

    result = compare(declared, live, unmanaged="ignore")

    assert [e.name for e in result.endpoints] == ["chat"]
    assert result.summary == Summary(1, 1, 0, 0, 0)
    assert result.exit_code() == EXIT_IN_SYNC


def test_fail_without_unmanaged_exits_zero() -> None:
    declared = declare("name: chat\nimage: x\n")

    result = compare(
        declared, [live_endpoint("ep-1", "chat", image="x")], unmanaged="fail"
    )

    assert result.exit_code() == EXIT_IN_SYNC


def test_a_missing_endpoint_exits_one() -> None:
    declared = declare("name: chat\n")

    result = compare(declared, [], unmanaged="ignore")

    assert result.summary == Summary(1, 0, 0, 1, 0)
    assert result.exit_code() == EXIT_DRIFT


def test_only_limits_declared_and_live_alike() -> None:
    declared, live = fleet()

    result = compare(declared, live, only=["chat", "p*"])

    assert [(e.name, e.state) for e in result.endpoints] == [
        ("chat", "in_sync"),
        ("playground", "unmanaged"),
    ]
    assert result.summary == Summary(1, 1, 0, 0, 1)
    assert result.exit_code() == EXIT_IN_SYNC


def test_only_hides_drift_outside_its_globs() -> None:
    declared, live = fleet()

    result = compare(declared, live, only=["r*"], unmanaged="fail")

    assert [(e.name, e.state) for e in result.endpoints] == [("rerank", "in_sync")]
    assert result.exit_code() == EXIT_IN_SYNC


# Secrets


SENSITIVE_KEYS = [
    "HF_TOKEN",
    "api_key",
    "Db_Password",
    "MY_SECRET_X",
    "AUTH_HEADER",
    "PASSWD",
    "CREDENTIALS",
]


@pytest.mark.parametrize("key", SENSITIVE_KEYS)
def test_sensitive_env_change_is_redacted(key: str) -> None:
    declared = declare(f'name: chat\nenvs:\n  {key}: "declared-secret-value"\n')
    live = live_endpoint("ep-1", "chat", envs=[{"key": key, "value": "live-secret"}])

    endpoint = only_result(compare(declared, [live]))

    assert endpoint.differences == [
        Difference(f"envs.{key}", "changed", None, None, True, Location("spec.yaml", 3))
    ]


@pytest.mark.parametrize("key", SENSITIVE_KEYS)
def test_sensitive_env_missing_live_is_redacted(key: str) -> None:
    declared = declare(f'name: chat\nenvs:\n  {key}: "declared-secret-value"\n')
    live = live_endpoint("ep-1", "chat", envs=[])

    endpoint = only_result(compare(declared, [live]))

    assert records(endpoint) == [(f"envs.{key}", "missing", None, None)]
    assert endpoint.differences[0].redacted is True


@pytest.mark.parametrize("key", SENSITIVE_KEYS)
def test_sensitive_env_extra_live_is_redacted(key: str) -> None:
    declared = declare('name: chat\nenvs:\n  MODEL: "m"\n')
    live = live_endpoint(
        "ep-1",
        "chat",
        envs=[{"key": "MODEL", "value": "m"}, {"key": key, "value": "live-secret"}],
    )

    endpoint = only_result(compare(declared, [live]))

    assert records(endpoint) == [(f"envs.{key}", "extra", None, None)]
    assert endpoint.differences[0].redacted is True


def test_non_sensitive_env_keeps_its_values() -> None:
    declared = declare(
        'name: chat\nenvs:\n  MODEL: "llama-3-8b"\n  LICENSE_SERVER: "a"\n'
    )
    live = live_endpoint(
        "ep-1",
        "chat",
        envs=[
            {"key": "MODEL", "value": "llama-3-70b"},
            {"key": "LICENSE_SERVER", "value": "b"},
        ],
    )

    endpoint = only_result(compare(declared, [live]))

    assert [(d.path, d.declared, d.live, d.redacted) for d in endpoint.differences] == [
        ("envs.LICENSE_SERVER", "a", "b", False),
        ("envs.MODEL", "llama-3-8b", "llama-3-70b", False),
    ]


def test_custom_sensitive_glob_redacts_matching_keys() -> None:
    declared = declare(
        'name: chat\nenvs:\n  LICENSE_SERVER: "lic-a"\n  MODEL: "llama-3-8b"\n'
    )
    live = live_endpoint(
        "ep-1",
        "chat",
        envs=[
            {"key": "LICENSE_SERVER", "value": "lic-b"},
            {"key": "MODEL", "value": "llama-3-70b"},
        ],
    )

    endpoint = only_result(compare(declared, [live], redactor=Redactor(["LICENSE_*"])))

    assert [(d.path, d.declared, d.live, d.redacted) for d in endpoint.differences] == [
        ("envs.LICENSE_SERVER", None, None, True),
        ("envs.MODEL", "llama-3-8b", "llama-3-70b", False),
    ]


def test_no_secret_value_reaches_the_result() -> None:
    declared = declare(
        "name: chat\n"
        "envs:\n"
        '  HF_TOKEN: "hf_declared_secret"\n'
        '  API_KEY: "sk_declared_secret"\n'
    )
    live = live_endpoint(
        "ep-1",
        "chat",
        envs=[
            {"key": "HF_TOKEN", "value": "hf_live_secret"},
            {"key": "DB_PASSWORD", "value": "pw_live_secret"},
        ],
    )

    endpoint = only_result(compare(declared, [live]))

    shown = repr(endpoint.differences)
    for secret in (
        "hf_declared_secret",
        "sk_declared_secret",
        "hf_live_secret",
        "pw_live_secret",
    ):
        assert secret not in shown
    assert [d.path for d in endpoint.differences] == [
        "envs.API_KEY",
        "envs.DB_PASSWORD",
        "envs.HF_TOKEN",
    ]


def test_one_live_endpoint_claimed_by_id_and_by_name_is_an_error() -> None:
    declared = declare(
        "endpoints:\n"
        "  - name: chat\n"
        "    image: a\n"
        "  - name: chat-old\n"
        "    id: ep-1\n"
        "    image: a\n"
    )
    live = live_endpoint("ep-1", "chat", image="a")

    with pytest.raises(MatchError) as caught:
        compare(declared, [live])

    (line,) = caught.value.lines()
    assert line.startswith("spec.yaml:4: chat-old: matches live endpoint 'ep-1'")
    assert "chat at spec.yaml:2 already matches" in line


@pytest.mark.parametrize(
    ("spec", "live_fields", "expected"),
    [
        (
            "worker_config:\n  max_replicas: 4\n",
            {"worker_config": {"max_replicas": 2}},
            ("worker_config", "changed", {"max_replicas": 4}, {"max_replicas": 2}),
        ),
        (
            "envs:\n  HF_TOKEN: declared-token\n",
            {"envs": [{"key": "HF_TOKEN", "value": "live-token"}]},
            ("envs", "changed", None, None),
        ),
        (
            "volumes:\n  - {type: network, size: 50, mount_point: /data}\n",
            {"volumes": [{"type": "network", "size": 80, "mount_point": "/data"}]},
            (
                "volumes[/data]",
                "changed",
                {"type": "network", "size": 50, "mount_point": "/data"},
                {"type": "network", "size": 80, "mount_point": "/data"},
            ),
        ),
    ],
)
def test_a_difference_deepdiff_does_not_itemise_is_still_drift(
    monkeypatch: pytest.MonkeyPatch,
    spec: str,
    live_fields: dict[str, Any],
    expected: tuple[str, str, Any, Any],
) -> None:
    # Should a deepdiff release ever miss a difference the type-strict equality
    # test found, the section must still count as changed, never as in sync.
    import deepdiff

    monkeypatch.setattr(deepdiff, "DeepDiff", lambda *args, **kwargs: {})
    declared = declare(f"name: chat\n{spec}")

    result = compare(declared, [live_endpoint("ep-1", "chat", **live_fields)])

    endpoint = only_result(result)
    assert endpoint.state == "drifted"
    assert records(endpoint) == [expected]
    assert result.exit_code() == EXIT_DRIFT
    assert "declared-token" not in repr(endpoint.differences)


@pytest.mark.parametrize("declared_value", ["debug", "info"])
def test_live_env_key_listed_twice_with_different_values_is_drift(
    declared_value: str,
) -> None:
    # Which of the two the platform applies is unknown; neither may pass as in sync.
    declared = declare(f"name: chat\nenvs:\n  LOG_LEVEL: {declared_value}\n")
    live = live_endpoint(
        "ep-1",
        "chat",
        envs=[
            {"key": "LOG_LEVEL", "value": "info"},
            {"key": "LOG_LEVEL", "value": "debug"},
        ],
    )

    endpoint = only_result(compare(declared, [live]))

    assert endpoint.state == "drifted"
    assert records(endpoint) == [
        ("envs.LOG_LEVEL", "changed", declared_value, ["info", "debug"])
    ]


def test_live_env_key_listed_twice_with_one_value_is_in_sync() -> None:
    declared = declare("name: chat\nenvs:\n  LOG_LEVEL: info\n")
    twice = [{"key": "LOG_LEVEL", "value": "info"}] * 2

    endpoint = only_result(
        compare(declared, [live_endpoint("ep-1", "chat", envs=twice)])
    )

    assert endpoint.state == "in_sync"


def test_sensitive_env_key_listed_twice_stays_redacted() -> None:
    declared = declare("name: chat\nenvs:\n  HF_TOKEN: hf-declared-Kw2\n")
    live = live_endpoint(
        "ep-1",
        "chat",
        envs=[
            {"key": "HF_TOKEN", "value": "hf-declared-Kw2"},
            {"key": "HF_TOKEN", "value": "hf-other-Lp7"},
        ],
    )

    endpoint = only_result(compare(declared, [live]))

    assert records(endpoint) == [("envs.HF_TOKEN", "changed", None, None)]
    assert "hf-" not in repr(endpoint.differences)


def test_two_live_volumes_on_one_mount_point_are_drift() -> None:
    declared = declare("name: chat\nvolumes:\n  - {mount_point: /data, size: 50}\n")
    mounted = [
        {"type": "network", "size": 50, "mount_point": "/data"},
        {"type": "local", "size": 10, "mount_point": "/data"},
    ]

    endpoint = only_result(
        compare(declared, [live_endpoint("ep-1", "chat", volumes=mounted)])
    )

    assert endpoint.state == "drifted"
    assert records(endpoint) == [
        ("volumes[/data]", "changed", {"mount_point": "/data", "size": 50}, mounted)
    ]
