"""The fast schema check may only say "valid" where jsonschema agrees."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftcheck import specs
from driftcheck.schemacheck import Unsupported, compile_check

FAST = {name: specs._fast_check(name) for name in ("endpoint", "document")}
SLOW = {name: specs._validator(name) for name in ("endpoint", "document")}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70_000),
    st.floats(allow_nan=True),
    st.text(max_size=6),
    st.sampled_from(["sync", "queue", "local", "network", "a-b", "A", "", "x" * 300]),
    st.dates(),
)
KEYS = ["key", "value", "path", "port", "id", "type", "size", "mount_point"]
KEYS += ["max_replicas", "min_cuda_version", "x", ""]
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    ),
    max_leaves=12,
)
FIELDS = ["name", "id", "type", "app_name", "product_id", "region_id", "image"]
FIELDS += ["registry_auth_id", "entrypoint", "command", "worker_config", "policy"]
FIELDS += ["envs", "health_check", "ports", "volumes", "status", "bogus"]
endpoints = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8).map(
    lambda d: {"name": "n", **d} if len(d) % 3 else d
)


def test_both_definitions_compile() -> None:
    assert FAST["endpoint"] is not None
    assert FAST["document"] is not None


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(endpoints)
def test_fast_valid_means_jsonschema_valid(value: dict[str, Any]) -> None:
    check = FAST["endpoint"]
    assert check is not None
    if check(value):
        assert not list(SLOW["endpoint"].iter_errors(value)), value


@pytest.mark.parametrize(
    "value",
    [
        {"name": "a", "worker_config": {"max_replicas": True}},
        {"name": "a", "worker_config": {"max_replicas": 2.0}},
        {"name": "a", "worker_config": {"max_replicas": 1001}},
        {"name": "a", "envs": {"A": 1}},
        {"name": "a", "envs": [{"key": "A"}]},
        {"name": "a", "ports": [80, 80]},
        {"name": "a", "ports": [0]},
        {"name": "a", "status": "running"},
        {"name": "a", "app_name": "Upper"},
        {"name": ""},
        {"image": "x"},
        {"name": "a", "policy": {"type": "fifo"}},
        {"name": "a", "volumes": [{"size": 1}]},
    ],
)
def test_invalid_specs_are_never_fast_valid(value: dict[str, Any]) -> None:
    check = FAST["endpoint"]
    assert check is not None
    assert list(SLOW["endpoint"].iter_errors(value))
    assert not check(value)


def test_a_realistic_valid_spec_is_fast_valid() -> None:
    value = {
        "name": "chat",
        "type": "sync",
        "image": "registry.example.com/ml/vllm:0.6.3",
        "worker_config": {"max_replicas": 4, "min_cuda_version": "12.4"},
        "policy": {"type": "queue", "value": 30},
        "envs": [{"key": "MODEL", "value": "llama"}],
        "health_check": {"path": "/health", "port": 8000},
        "ports": [8000, 9400],
        "volumes": [{"id": "v", "type": "network", "size": 10, "mount_point": "/m"}],
    }
    check = FAST["endpoint"]
    assert check is not None and check(value)


def test_unknown_keywords_refuse_to_compile() -> None:
    with pytest.raises(Unsupported):
        compile_check({"type": "object", "minProperties": 1})
