"""driftcheck.yaml: defaults for `check` that a repository keeps beside its specs.

Found in the working directory or its parents up to the git root, or named with
--config. Validated by schemas/config.schema.json with the same file:line messages as
specs. Paths in it are relative to the file itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from driftcheck.errors import ConfigError, Problem
from driftcheck.ignore import IgnoreRule
from driftcheck.specs import _FileChecker, schema_text
from driftcheck.yamlsrc import YamlProblem, parse

CONFIG_NAME = "driftcheck.yaml"
MAX_CONFIG_BYTES = 1024 * 1024


@dataclass
class Config:
    """Validated settings from one config file; `values` holds only what it sets."""

    file: str
    values: dict[str, Any] = field(default_factory=dict)
    ignore: list[IgnoreRule] = field(default_factory=list)


def find_config(start: str | None = None) -> str | None:
    """The nearest driftcheck.yaml from `start` up to the git root, if any."""
    here = os.path.abspath(start or os.getcwd())
    while True:
        candidate = os.path.join(here, CONFIG_NAME)
        if os.path.isfile(candidate):
            return _shown(candidate)
        parent = os.path.dirname(here)
        if os.path.exists(os.path.join(here, ".git")) or parent == here:
            return None
        here = parent


def _shown(path: str) -> str:
    """A path relative to the working directory, as spec paths are printed."""
    return os.path.relpath(path)


def load_config(file: str) -> Config:
    """Read and validate a config file; raise ConfigError naming file:line."""
    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            [Problem(file, None, None, f"cannot read: {exc.strerror or exc}")]
        ) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError([Problem(file, None, None, "config file over 1 MiB")])

    checker = _FileChecker(file, data)
    try:
        documents = list(parse(file, data))
    except YamlProblem as exc:
        raise ConfigError([exc.problem]) from None
    if len(documents) > 1:
        raise ConfigError(
            [Problem(file, documents[1].line, None, "holds more than one document")]
        )
    if not documents:
        return Config(file)

    document = documents[0]
    if not isinstance(document.value, dict):
        raise ConfigError(
            [Problem(file, document.line, document.column, "expected a mapping")]
        )
    for error in _validator().iter_errors(document.value):
        checker._schema_error(error, (), document, None, (document.line, 1))
    if checker.problems:
        raise ConfigError(sorted(checker.problems, key=lambda p: p.line or 0))

    values = dict(document.value)
    base = os.path.dirname(file)
    if "paths" in values:
        values["paths"] = [_relative(base, p) for p in values["paths"]]
    if "reports" in values:
        values["reports"] = [
            (r["format"], _relative(base, r["path"])) for r in values["reports"]
        ]
    rules = [
        IgnoreRule(
            paths=tuple(rule["paths"]),
            reason=rule["reason"],
            endpoints=tuple(rule.get("endpoints", ("*",))),
            origin=f"{file}:{document.positions[('ignore', index)][0]}",
        )
        for index, rule in enumerate(values.pop("ignore", []))
    ]
    return Config(file, values, rules)


def _relative(base: str, path: str) -> str:
    if os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base, path)) if base else path


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema_text("config.schema.json")))
