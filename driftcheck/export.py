"""Turn live endpoints into spec YAML, and save the live list as a snapshot.

Both write what driftcheck itself reads back: exported specs load with `check`, and
a snapshot loads with `--live-file`. Neither ever writes a sensitive env value.
"""

from __future__ import annotations

import copy
import fnmatch
import os
import re
from collections.abc import Callable, Sequence
from typing import Any

from driftcheck import __version__
from driftcheck.baseline import now_utc
from driftcheck.compare import same
from driftcheck.envrefs import escape_reference
from driftcheck.errors import UsageError
from driftcheck.redact import REDACTED_MARKER, Redactor
from driftcheck.textsafe import clean

DECLARABLE_FIELDS = (
    "name",
    "type",
    "app_name",
    "product_id",
    "region_id",
    "image",
    "registry_auth_id",
    "entrypoint",
    "command",
    "worker_config",
    "policy",
    "envs",
    "health_check",
    "ports",
    "volumes",
)
_SECTION_KEYS = {
    "worker_config": (
        "max_replicas",
        "min_replicas",
        "idle_timeout",
        "max_concurrent_per_worker",
        "gpu_num",
        "rootfs_size_gb",
        "request_timeout",
        "min_cuda_version",
    ),
    "policy": ("type", "value"),
    "health_check": ("path", "port"),
}
_VOLUME_KEYS = ("id", "type", "size", "mount_point")
SCHEMA_FILE = "endpoint-spec.schema.json"


def snapshot_document(
    live: list[dict[str, Any]], redactor: Redactor, source: str
) -> dict[str, Any]:
    """The live list as an API response object, sensitive env values replaced."""
    data = []
    for endpoint in live:
        endpoint = copy.deepcopy(endpoint)
        envs = endpoint.get("envs")
        if isinstance(envs, list):
            for item in envs:
                if isinstance(item, dict) and redactor.is_sensitive(
                    str(item.get("key", ""))
                ):
                    item["value"] = REDACTED_MARKER
        data.append(endpoint)
    return {
        "data": data,
        "next_cursor": "",
        "has_more": False,
        "snapshot": {
            "taken_at": now_utc(),
            "source": source,
            "driftcheck": __version__,
            "redacted_marker": REDACTED_MARKER,
        },
    }


def env_reference(endpoint_name: str, key: str) -> str:
    """The environment variable an exported spec reads a secret env value from."""
    raw = f"{endpoint_name}_{key}".upper()
    name = re.sub(r"[^A-Z0-9_]", "_", raw)
    if name[0].isdigit():
        name = "_" + name
    return name


def endpoint_spec(
    live: dict[str, Any],
    redactor: Redactor,
    pin_id: bool = False,
    taken: set[str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """A spec mapping for one live endpoint, and the variables its secrets come from.

    Only declarable fields are kept; empty strings and nulls are left out, envs become
    a mapping, and sensitive env values become `${NAME}` references. Variables in
    `taken` belong to other endpoints and are not reused; new ones are added to it.
    """
    taken = set() if taken is None else taken
    spec: dict[str, Any] = {}
    variables: list[str] = []
    for field in DECLARABLE_FIELDS:
        value = live.get(field)
        if value is None or value == "":
            continue
        if field in _SECTION_KEYS:
            if not isinstance(value, dict):
                continue
            value = {
                k: value[k] for k in _SECTION_KEYS[field] if value.get(k) is not None
            }
            if not value:
                continue
        elif field == "envs":
            value, variables = _envs(live, value, redactor, taken)
        elif field == "volumes":
            value = [
                {k: v[k] for k in _VOLUME_KEYS if v.get(k) is not None}
                for v in value
                if isinstance(v, dict)
            ]
        spec[field] = value
        if field == "name" and pin_id:
            spec["id"] = live["id"]
    return spec, variables


def _envs(
    live: dict[str, Any], envs: Any, redactor: Redactor, taken: set[str]
) -> tuple[dict[str, str], list[str]]:
    result: dict[str, str] = {}
    variables: list[str] = []
    secret_keys: set[str] = set()
    for item in envs if isinstance(envs, list) else []:
        if not isinstance(item, dict) or "key" not in item:
            continue
        key = str(item["key"])
        if key in secret_keys:
            continue  # listed again: one variable holds the key's secret
        # A value a snapshot withheld is a secret whatever its key is called.
        if redactor.is_sensitive(key) or item.get("value") == REDACTED_MARKER:
            variable = _free_variable(live, key, taken)
            variables.append(variable)
            secret_keys.add(key)
            result[key] = "${" + variable + "}"
        else:
            result[key] = escape_reference(str(item.get("value", "")))
    return result, variables


def _repeated_env_keys(envs: Any) -> list[str]:
    """Env keys a live list gives more than one distinct value (never the values)."""
    values: dict[str, list[Any]] = {}
    for item in envs if isinstance(envs, list) else []:
        if isinstance(item, dict) and "key" in item:
            values.setdefault(str(item["key"]), []).append(item.get("value"))
    return sorted(k for k, v in values.items() if not all(same(x, v[0]) for x in v))


def _free_variable(live: dict[str, Any], key: str, taken: set[str]) -> str:
    """A variable no other secret uses: names that differ only in punctuation or
    non-ASCII letters, and endpoints sharing a name, would otherwise share one."""
    variable = env_reference(live["name"], key)
    if variable in taken:
        variable = env_reference(f"{live['name']}_{live.get('id', '')}", key)
    base, counter = variable, 2
    while variable in taken:
        variable = f"{base}_{counter}"
        counter += 1
    taken.add(variable)
    return variable


def file_name(endpoint_name: str) -> str:
    """A safe file name for an endpoint's spec."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", endpoint_name).strip(".-") or "endpoint"
    return f"{slug}.yaml"


def _free_file_name(name: str, endpoint_id: str, files: set[str]) -> str:
    """A file name no other exported spec uses, even on a case-blind file system."""
    file = file_name(name)
    if file.casefold() in files:
        file = file_name(f"{name}-{endpoint_id}")
    stem, counter = file.removesuffix(".yaml"), 2
    while file.casefold() in files:
        file = f"{stem}-{counter}.yaml"
        counter += 1
    files.add(file.casefold())
    return file


def write_export(
    live: list[dict[str, Any]],
    *,
    redactor: Redactor,
    source: str,
    output_dir: str,
    only: Sequence[str] = (),
    single_file: bool = False,
    force: bool = False,
    warn: Callable[[str], None] = lambda message: None,
) -> tuple[list[str], list[str]]:
    """Write spec files for the live endpoints; return the files and the variables.

    What a spec cannot say is exported as best it can and passed to `warn`.
    """
    import yaml

    chosen = [e for e in live if not only or _matches(e["name"], only)]
    if not chosen:
        raise UsageError("no live endpoint matches; nothing to export")
    names = [e["name"] for e in chosen]
    duplicated = {n for n in names if names.count(n) > 1}

    specs: list[tuple[str, str, dict[str, Any]]] = []
    variables: list[str] = []
    taken: set[str] = set()
    for endpoint in sorted(chosen, key=lambda e: (e["name"], e["id"])):
        spec, needed = endpoint_spec(
            endpoint, redactor, pin_id=endpoint["name"] in duplicated, taken=taken
        )
        variables.extend(needed)
        specs.append((endpoint["name"], endpoint["id"], spec))
        repeated = _repeated_env_keys(endpoint.get("envs"))
        if repeated:
            warn(
                f"{endpoint['name']}: live lists env {', '.join(repeated)} more than "
                "once with different values; a spec holds one, so the last was "
                "written and check will report the key as drift until live is fixed"
            )

    os.makedirs(output_dir, exist_ok=True)
    schema_path = os.path.join(output_dir, SCHEMA_FILE)
    if single_file:
        outputs = [("endpoints.yaml", {"endpoints": [s for _, _, s in specs]})]
    else:
        outputs = []
        files: set[str] = set()
        for name, endpoint_id, spec in specs:
            file = _free_file_name(name, endpoint_id, files)
            outputs.append((file, spec))

    targets = [os.path.join(output_dir, f) for f, _ in outputs]
    existing = [t for t in targets if os.path.exists(t)]
    if existing and not force:
        shown = ", ".join(existing[:3]) + (", ..." if len(existing) > 3 else "")
        raise UsageError(
            f"refusing to overwrite {len(existing)} existing file(s) ({shown}); "
            "pass --force to replace them"
        )

    header = (
        f"# yaml-language-server: $schema={SCHEMA_FILE}\n"
        f"# Exported from {clean(source)} by driftcheck {__version__} on {now_utc()}.\n"
        "# Sensitive env values are ${NAME} references, read from the environment\n"
        "# when driftcheck checks this spec.\n"
    )
    from driftcheck.runner import write_file
    from driftcheck.specs import schema_text

    if force or not os.path.exists(schema_path):
        write_file(schema_path, schema_text(SCHEMA_FILE))
    for target, (_, document) in zip(targets, outputs, strict=True):
        body = yaml.dump(
            document,
            Dumper=_dumper(),
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
        )
        write_file(target, header + body)
    return targets, sorted(set(variables))


# YAML 1.1 counts these as line breaks. PyYAML, allowed Unicode, writes NEL raw in a
# quoted scalar and reads it back as a break; escaped ("\N", "\L", "\P"), all three
# survive any reader.
_LINE_BREAKS = ("\x85", "\u2028", "\u2029")


def _dumper() -> Any:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = '"' if any(c in value for c in _LINE_BREAKS) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, string)
    return Dumper


def _matches(name: str, globs: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, glob) for glob in globs)
