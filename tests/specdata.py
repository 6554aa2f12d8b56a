"""Spec documents that declare what a live endpoint holds, for end-to-end tests.

The declarable fields are read from the spec schema, not from driftcheck's code, so
a test that compares an export with them checks the code against the schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .conftest import REPO

SPEC_SCHEMA = REPO / "schemas" / "endpoint-spec.schema.json"


def _declarable() -> tuple[str, ...]:
    schema = json.loads(SPEC_SCHEMA.read_text(encoding="utf-8"))
    properties = schema["$defs"]["endpoint"]["properties"]
    read_only = {"$ref": "#/$defs/read_only"}
    return tuple(key for key, rule in properties.items() if rule != read_only)


# What a spec may declare, in the schema's order, which is the order specs use.
DECLARABLE = _declarable()


def spec_for(
    endpoint: Mapping[str, Any],
    *,
    pin_id: bool = False,
    envs_as_list: bool = False,
    **changes: Any,
) -> dict[str, Any]:
    """A spec declaring exactly what `endpoint` holds, then `changes`.

    Fields the API sends empty are left out, as export does; `id` only when pinned.
    envs are written as a mapping unless `envs_as_list` keeps the API's list form.
    """
    spec = {
        key: endpoint[key]
        for key in DECLARABLE
        if key in endpoint and endpoint[key] != "" and (key != "id" or pin_id)
    }
    if "envs" in spec and not envs_as_list:
        spec["envs"] = {e["key"]: e["value"] for e in spec["envs"]}
    spec.update(changes)
    return spec
