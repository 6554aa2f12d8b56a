"""Load declared endpoint specs from YAML files, checking them against the JSON Schema.

Every problem in every file is collected, each with the file, line and column of the
node at fault, so one run shows everything a user must fix.
"""

from __future__ import annotations

import difflib
import json
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from driftcheck.errors import Problem, SpecError
from driftcheck.model import DeclaredEndpoint, Location
from driftcheck.schemacheck import Check, Unsupported, compile_check
from driftcheck.yamlsrc import Document, Path, YamlProblem, parse

SPEC_SUFFIXES = (".yaml", ".yml")
MAX_SPEC_BYTES = 10 * 1024 * 1024
MAPPING_SECTIONS = ("worker_config", "policy", "health_check")
READ_ONLY_FIELDS = ("status", "url", "workers", "member_id", "owner_id", "created_at")


@dataclass
class SpecSet:
    """The endpoints a set of spec files declares, in file order."""

    endpoints: list[DeclaredEndpoint]
    files: list[str]
    warnings: list[str] = field(default_factory=list)


def load_specs(paths: Sequence[str]) -> SpecSet:
    """Find, parse and validate every spec file; raise SpecError on any problem."""
    problems: list[Problem] = []
    files = discover(paths, problems)
    return _load(files, lambda file: _read(file, problems), problems, paths)


def load_spec_data(sources: Sequence[tuple[str, bytes]]) -> SpecSet:
    """Parse and validate specs given as (name, content), e.g. read from a git ref.

    Unlike `load_specs`, declaring no endpoint at all is allowed.
    """
    contents = dict(sources)
    return _load(list(contents), contents.get, [], [], allow_empty=True)


def _load(
    files: list[str],
    read: Callable[[str], bytes | None],
    problems: list[Problem],
    paths: Sequence[str],
    allow_empty: bool = False,
) -> SpecSet:
    endpoints: list[DeclaredEndpoint] = []
    warnings: list[str] = []

    for file in files:
        loaded = _load_file(file, read(file), problems)
        if loaded is not None:
            if not loaded:
                warnings.append(f"{file}: declares no endpoints")
            endpoints.extend(loaded)

    _check_unique(endpoints, problems)
    if problems:
        raise SpecError(problems)
    if not endpoints and not allow_empty:
        raise SpecError(
            [
                Problem(
                    ", ".join(paths),
                    None,
                    None,
                    "no endpoints declared; a spec document is `endpoints:` with a "
                    "list, or one endpoint with `name:`",
                )
            ]
        )
    return SpecSet(endpoints, files, warnings)


def discover(paths: Sequence[str], problems: list[Problem]) -> list[str]:
    """Spec files named by `paths`: files as given, directories searched recursively."""
    found: list[str] = []
    seen: set[str] = set()

    for given in paths:
        if os.path.isdir(given):
            in_dir = _walk(given, problems)
            if not in_dir:
                problems.append(
                    Problem(
                        given, None, None, "no .yaml or .yml files in this directory"
                    )
                )
            candidates = in_dir
        elif os.path.lexists(given):
            candidates = [given]
        else:
            problems.append(Problem(given, None, None, "no such file or directory"))
            continue
        for file in candidates:
            real = os.path.realpath(file)
            if real not in seen:
                seen.add(real)
                found.append(file)
    return found


def _walk(top: str, problems: list[Problem]) -> list[str]:
    files: list[str] = []
    visited: set[str] = set()

    def onerror(exc: OSError) -> None:
        problems.append(
            Problem(exc.filename or top, None, None, f"cannot read: {exc.strerror}")
        )

    for dirpath, dirnames, filenames in os.walk(top, onerror=onerror, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in visited:
            problems.append(
                Problem(
                    dirpath,
                    None,
                    None,
                    "symlink loop: this directory is reached twice; remove the link",
                )
            )
            dirnames[:] = []
            continue
        visited.add(real)
        kept = []
        for name in sorted(d for d in dirnames if not d.startswith(".")):
            target = os.path.realpath(os.path.join(dirpath, name))
            # A link to a directory above this one would walk out of the tree
            # (and load its neighbours) before coming back round.
            if real == target or real.startswith(target.rstrip(os.sep) + os.sep):
                problems.append(
                    Problem(
                        os.path.join(dirpath, name),
                        None,
                        None,
                        "symlink loop: links to a directory above it; remove the link",
                    )
                )
                continue
            kept.append(name)
        dirnames[:] = kept
        for name in filenames:
            if name.endswith(SPEC_SUFFIXES) and not name.startswith("."):
                files.append(os.path.join(dirpath, name))
    return sorted(files)


def _read(file: str, problems: list[Problem]) -> bytes | None:
    try:
        info = os.stat(file)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(info.st_mode):
            # A FIFO or device would block the run or never end; specs are files.
            problems.append(
                Problem(file, None, None, "not a regular file; name a spec file")
            )
            return None
        size = info.st_size
        if size > MAX_SPEC_BYTES:
            problems.append(
                Problem(
                    file,
                    None,
                    None,
                    f"file is {size / 1_048_576:.1f} MiB; spec files are limited to "
                    f"{MAX_SPEC_BYTES // 1_048_576} MiB (split it into several files)",
                )
            )
            return None
        with open(file, "rb") as handle:
            return handle.read(MAX_SPEC_BYTES + 1)
    except IsADirectoryError:
        problems.append(Problem(file, None, None, "is a directory"))
    except OSError as exc:
        problems.append(
            Problem(file, None, None, f"cannot read: {exc.strerror or exc}")
        )
    return None


def _load_file(
    file: str, data: bytes | None, problems: list[Problem]
) -> list[DeclaredEndpoint] | None:
    if data is None:
        return None
    checker = _FileChecker(file, data)
    try:
        for document in parse(file, data):
            checker.document(document)
    except YamlProblem as exc:
        checker.problems.append(exc.problem)
    problems.extend(sorted(checker.problems, key=_problem_order))
    return None if checker.problems else checker.endpoints


def _problem_order(problem: Problem) -> tuple[int, int]:
    return (problem.line or 0, problem.column or 0)


class _FileChecker:
    """Validates the documents of one file and turns them into declared endpoints."""

    def __init__(self, file: str, data: bytes) -> None:
        self.file = file
        self.data = data
        self.problems: list[Problem] = []
        self.endpoints: list[DeclaredEndpoint] = []
        self._source_lines: list[str] | None = None
        self._shared: dict[str, str] = {}

    def document(self, doc: Document) -> None:
        value = doc.value
        if not isinstance(value, dict):
            kind = "a list" if isinstance(value, list) else f"the scalar {value!r}"
            self._problem(
                doc.line,
                doc.column,
                "a spec document must be a mapping: either `endpoints:` with a list, "
                f"or one endpoint with `name:`; got {kind}",
            )
            return
        if "endpoints" not in value:
            self._endpoint(value, (), doc, (doc.line, doc.column))
            return

        wrapper = dict(value)
        items = value["endpoints"]
        if isinstance(items, list):
            wrapper["endpoints"] = []
        before = len(self.problems)
        for error in _schema_errors("document", wrapper):
            self._schema_error(error, (), doc, None, (doc.line, doc.column))
        if len(self.problems) > before or not isinstance(items, list):
            return
        for index, item in enumerate(items):
            path = ("endpoints", index)
            self._endpoint(item, path, doc, doc.positions[path])

    def _endpoint(
        self, value: Any, prefix: Path, doc: Document, at: tuple[int, int]
    ) -> None:
        name = value.get("name") if isinstance(value, dict) else None
        label = name if isinstance(name, str) and name else _path_text(prefix) or None
        before = len(self.problems)
        for error in _schema_errors("endpoint", value):
            self._schema_error(error, prefix, doc, label, at)
        if len(self.problems) > before:
            return

        fields = dict(value)
        lines: dict[str, int] = {}
        positions = doc.positions

        def line_of(*path: str | int) -> int:
            return positions.get((*prefix, *path), at)[0]

        for key in fields:
            lines[key] = line_of(key)
        for section in MAPPING_SECTIONS:
            for key in fields.get(section) or {}:
                lines[self._share(f"{section}.{key}")] = line_of(section, key)
        if "envs" in fields:
            fields["envs"] = self._envs(fields["envs"], label, line_of, lines)
        if "volumes" in fields:
            self._volumes(fields["volumes"], label, line_of, lines)
        if len(self.problems) > before:
            return

        del fields["name"]
        endpoint_id = fields.pop("id", None)
        self.endpoints.append(
            DeclaredEndpoint(
                name=str(name),
                id=endpoint_id,
                fields=fields,
                source=Location(self.file, at[0], at[1]),
                lines=lines,
            )
        )

    def _envs(
        self, envs: Any, label: str | None, line_of: Any, lines: dict[str, int]
    ) -> dict[str, str]:
        if isinstance(envs, dict):
            for key in envs:
                lines[self._share(f"envs.{key}")] = line_of("envs", key)
            return dict(envs)

        merged: dict[str, str] = {}
        for index, item in enumerate(envs):
            key = self._share(item["key"])
            line = line_of("envs", index)
            if key in merged:
                self._problem(
                    line,
                    None,
                    f"env {key!r} is declared twice "
                    f"(first at line {lines[f'envs.{key}']})",
                    label,
                    f"envs[{index}]",
                )
                continue
            merged[key] = item["value"]
            lines[self._share(f"envs.{key}")] = line
        return merged

    def _volumes(
        self,
        volumes: list[dict[str, Any]],
        label: str | None,
        line_of: Any,
        lines: dict[str, int],
    ) -> None:
        for index, volume in enumerate(volumes):
            mount = volume["mount_point"]
            key = self._share(f"volumes[{mount}]")
            if key in lines:
                self._problem(
                    line_of("volumes", index),
                    None,
                    f"mount_point {mount!r} is declared twice "
                    f"(first at line {lines[key]})",
                    label,
                    f"volumes[{index}]",
                )
                continue
            lines[key] = line_of("volumes", index)
            for field_name in volume:
                lines[self._share(f"{key}.{field_name}")] = line_of(
                    "volumes", index, field_name
                )

    def _share(self, text: str) -> str:
        """One string object per distinct key or path: every endpoint repeats them."""
        return self._shared.setdefault(text, text)

    def _problem(
        self,
        line: int | None,
        column: int | None,
        message: str,
        endpoint: str | None = None,
        path: str | None = None,
    ) -> None:
        self.problems.append(Problem(self.file, line, column, message, endpoint, path))

    def _schema_error(
        self,
        error: Any,
        prefix: Path,
        doc: Document,
        label: str | None,
        at: tuple[int, int],
    ) -> None:
        relative = tuple(error.absolute_path)
        positions = doc.positions

        def position(path: tuple[str | int, ...]) -> tuple[int, int]:
            while path:
                found = positions.get((*prefix, *path))
                if found is not None:
                    return found
                path = path[:-1]
            return at

        for path, message in _messages(error, relative):
            line, column = position(path)
            if message.endswith("{raw}"):
                message = message.replace("{raw}", self._raw(line, column, path))
            self._problem(line, column, message, label, _path_text(path) or None)

    def _raw(self, line: int, column: int, path: tuple[str | int, ...]) -> str:
        """The scalar as written in the file, for a 'quote it' hint."""
        if self._source_lines is None:
            text = self.data.decode("utf-8", "replace")
            self._source_lines = text.splitlines()
        try:
            text = self._source_lines[line - 1][column - 1 :]
        except IndexError:
            return ""
        if path and isinstance(path[-1], str):
            text = text.partition(":")[2]
        text = text.split(" #", 1)[0].strip().lstrip("-").strip().rstrip(",]}")
        return f': "{text}"' if text and '"' not in text else ""


def _messages(error: Any, path: tuple[str | int, ...]) -> Iterable[tuple[Any, str]]:
    """Readable messages for one jsonschema error, each with the path it belongs to."""
    kind = error.validator
    schema = error.schema
    instance = error.instance
    in_envs = bool(path) and path[0] == "envs"

    if kind == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        for key in instance:
            if key in known:
                continue
            hint = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            yield (*path, key), f"unknown field {key!r}{suggestion}"
        return
    if kind == "not" and schema.get("readOnly"):
        yield path, "read-only: the API reports this field, a spec cannot declare it"
        return
    if kind == "required":
        missing = [k for k in error.validator_value if k not in instance]
        for key in missing:
            yield path, f"missing required field {key!r}"
        return
    if kind == "type":
        expected = error.validator_value
        # Env values may be secrets: their type is named, their text never shown.
        got = _type_name(instance) if in_envs else _show(instance)
        message = f"expected {_article(expected)}, got {got}"
        if expected == "string" and (
            instance is None or isinstance(instance, (bool, int, float, date))
        ):
            message += f" (YAML reads the unquoted value as {_type_name(instance)})"
            message += "; quote it" if in_envs else "; quote it{raw}"
        yield path, message
        return
    if kind == "enum":
        options = ", ".join(repr(o) for o in error.validator_value)
        yield path, f"expected one of {options}, got {_show(instance)}"
        return
    if kind == "minLength" and error.validator_value == 1:
        yield path, "must not be empty"
        return
    if kind == "maxLength":
        yield path, f"must be at most {error.validator_value} characters long"
        return
    if kind == "minimum":
        yield path, f"must be at least {error.validator_value}, got {instance}"
        return
    if kind == "maximum":
        yield path, f"must be at most {error.validator_value}, got {instance}"
        return
    if kind == "pattern":
        yield path, f"{_show(instance)} does not match {error.validator_value}"
        return
    if kind == "uniqueItems":
        yield path, "must not list the same value twice"
        return
    yield path, error.message


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return _type_name(value)
    if isinstance(value, date):
        return value.isoformat()
    return repr(value)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _article(expected: Any) -> str:
    names: dict[str, str] = {
        "integer": "an integer",
        "string": "a string",
        "object": "a mapping",
        "array": "a list",
        "boolean": "a boolean",
        "number": "a number",
    }
    if isinstance(expected, list):
        return " or ".join(names.get(e, str(e)) for e in expected)
    return names.get(expected, str(expected))


def _path_text(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _check_unique(endpoints: list[DeclaredEndpoint], problems: list[Problem]) -> None:
    """One declaration per endpoint: per id, and per name unless ids tell them apart.

    The API lets two endpoints share a name; specs pinned by distinct ids can then
    declare both.
    """
    by_name: dict[str, DeclaredEndpoint] = {}
    by_id: dict[str, DeclaredEndpoint] = {}

    for endpoint in endpoints:
        first = by_name.setdefault(endpoint.name, endpoint)
        if first is not endpoint and (first.id is None or endpoint.id is None):
            problems.append(
                Problem(
                    endpoint.source.file,
                    endpoint.source.line,
                    endpoint.source.column,
                    f"endpoint declared twice: also at {first.source}",
                    endpoint.name,
                )
            )
        if endpoint.id is None:
            continue
        first = by_id.setdefault(endpoint.id, endpoint)
        if first is not endpoint:
            problems.append(
                Problem(
                    endpoint.source.file,
                    endpoint.source.line,
                    endpoint.source.column,
                    f"id {endpoint.id!r} is declared twice: also at {first.source} "
                    f"({first.name})",
                    endpoint.name,
                )
            )


def schema_text(name: str) -> str:
    """A JSON Schema shipped in the package, by file name."""
    return resources.files("driftcheck.schemas").joinpath(name).read_text("utf-8")


def _schema_errors(definition: str, value: Any) -> Iterable[Any]:
    """jsonschema's errors for `value`: none, unasked, when the fast check passes."""
    check = _fast_check(definition)
    if check is not None and check(value):
        return ()
    return _validator(definition).iter_errors(value)


def _schema_root(definition: str) -> dict[str, Any]:
    schema = json.loads(schema_text("endpoint-spec.schema.json"))
    return {**schema["$defs"][definition], "$defs": schema["$defs"]}


@cache
def _fast_check(definition: str) -> Check | None:
    try:
        return compile_check(_schema_root(definition))
    except Unsupported:
        return None


@cache
def _validator(definition: str) -> Any:
    from jsonschema import Draft202012Validator, validators

    # JSON Schema counts 2.0 as an integer; the API's integers are never floats,
    # and a declared 2.0 would then differ from a live 2 as a false drift.
    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer",
        lambda _, value: isinstance(value, int) and not isinstance(value, bool),
    )
    strict = validators.extend(Draft202012Validator, type_checker=checker)
    return strict(_schema_root(definition))
