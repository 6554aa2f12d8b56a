"""A fast yes/no check compiled from the spec JSON Schema, for the common valid case.

jsonschema walks a schema generically and builds an error object for every step; for
tens of thousands of valid endpoints that walk costs more than reading the YAML. The
checker compiled here answers only "certainly valid" (True) or "ask jsonschema"
(False), so every message still comes from jsonschema, and a False for a valid value
costs time, never correctness. It knows the keywords the schema file uses and refuses
to compile a schema with any other, leaving jsonschema to do all the work.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

# Keywords that never make a value invalid.
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "$defs",
        "title",
        "description",
        "default",
        "examples",
        "readOnly",
        "writeOnly",
        "deprecated",
    }
)
_OBJECT_KEYWORDS = frozenset(
    {"properties", "additionalProperties", "propertyNames", "required"}
)
_ARRAY_KEYWORDS = frozenset({"items", "uniqueItems"})
_STRING_KEYWORDS = frozenset({"minLength", "maxLength", "pattern"})
_NUMBER_KEYWORDS = frozenset({"minimum", "maximum"})
_KEYWORDS = (
    frozenset({"$ref", "type", "enum", "not", "if", "then", "else"})
    | _OBJECT_KEYWORDS
    | _ARRAY_KEYWORDS
    | _STRING_KEYWORDS
    | _NUMBER_KEYWORDS
)
_REF_PREFIX = "#/$defs/"


class Unsupported(Exception):
    """The schema uses something this compiler does not know; use jsonschema."""


def compile_check(root: dict[str, Any]) -> Check:
    """A function that returns True only for values `root` certainly accepts.

    `root` may reference its own `$defs` as `#/$defs/NAME`; raises Unsupported for
    anything else the compiler cannot reproduce exactly.
    """
    return _Compiler(root.get("$defs", {})).compile(root)


def _is_integer(value: Any) -> bool:
    # Only a plain int: jsonschema also takes 2.0, but leaving that to it is safe.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _not_a_number(value: Any) -> bool:
    """True for what jsonschema's number keywords skip (booleans and non-numbers)."""
    return isinstance(value, bool) or not isinstance(value, numbers.Number)


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


class _Compiler:
    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs
        self.compiled: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        unknown = set(schema) - _ANNOTATIONS - _KEYWORDS
        if unknown:
            raise Unsupported(f"keywords {sorted(unknown)}")

        checks: list[Check] = []
        if "$ref" in schema:
            checks.append(self._ref(schema["$ref"]))
        if "enum" in schema:
            checks.append(_enum(schema["enum"]))
        if "not" in schema:
            checks.append(_negate(self.compile(schema["not"])))
        if "if" in schema:
            checks.append(self._conditional(schema))
        checks.extend(self._typed(schema))
        return _all(checks)

    def _typed(self, schema: dict[str, Any]) -> list[Check]:
        """The type and the keywords for each type, as few checks as possible.

        With one `type`, a single check tests the type and that type's keywords;
        keywords for other types cannot fail and are left out.
        """
        kind = schema.get("type")
        if kind == "string":
            return [_string(schema)]
        if kind == "integer":
            return [_integer(schema)]
        if kind == "object":
            return [self._object(schema, typed=True)]
        if kind == "array":
            return [self._array(schema, typed=True)]

        checks: list[Check] = []
        if "type" in schema:
            checks.append(_type(kind))
        if _STRING_KEYWORDS & schema.keys():
            string = _string(schema)
            checks.append(lambda v: not isinstance(v, str) or string(v))
        if _NUMBER_KEYWORDS & schema.keys():
            number = _number(schema)
            checks.append(lambda v: number(v) if _is_number(v) else _not_a_number(v))
        if _OBJECT_KEYWORDS & schema.keys():
            checks.append(self._object(schema, typed=False))
        if _ARRAY_KEYWORDS & schema.keys():
            checks.append(self._array(schema, typed=False))
        return checks

    def _ref(self, ref: Any) -> Check:
        if not isinstance(ref, str) or not ref.startswith(_REF_PREFIX):
            raise Unsupported(f"$ref {ref!r}")
        name = ref[len(_REF_PREFIX) :]
        if "/" in name or "~" in name or name not in self.defs:
            raise Unsupported(f"$ref {ref!r}")
        if name not in self.compiled:
            # Recursive references find the name already taken and call through it.
            self.compiled[name] = lambda v: target(v)
            target = self.compile(self.defs[name])
            self.compiled[name] = target
        return self.compiled[name]

    def _conditional(self, schema: dict[str, Any]) -> Check:
        test = self.compile(schema["if"])
        then = self.compile(schema.get("then", True))
        otherwise = self.compile(schema.get("else", True))
        return lambda v: then(v) if test(v) else otherwise(v)

    def _object(self, schema: dict[str, Any], typed: bool) -> Check:
        properties = {
            key: self.compile(sub) for key, sub in schema.get("properties", {}).items()
        }
        additional = schema.get("additionalProperties", True)
        extra = None if additional is False else self.compile(additional)
        names = self.compile(schema.get("propertyNames", True))
        required = list(schema.get("required", []))

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return not typed
            for key, item in value.items():
                sub = properties.get(key, extra)
                if sub is None or not sub(item):
                    return False
            if names is not _always and not all(names(key) for key in value):
                return False
            return all(key in value for key in required)

        return check

    def _array(self, schema: dict[str, Any], typed: bool) -> Check:
        items = self.compile(schema.get("items", True))
        unique = schema.get("uniqueItems", False) is True

        def check(value: Any) -> bool:
            if not isinstance(value, list):
                return not typed
            if not all(items(item) for item in value):
                return False
            return not unique or _certainly_unique(value)

        return check


def _all(checks: list[Check]) -> Check:
    if not checks:
        return _always
    first = checks[0]
    if len(checks) == 1:
        return first
    rest = _all(checks[1:])
    return lambda v: first(v) and rest(v)


def _negate(check: Check) -> Check:
    return lambda v: not check(v)


def _type(names: Any) -> Check:
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not names:
        raise Unsupported(f"type {names!r}")
    try:
        checks = [_TYPES[name] for name in names]
    except (KeyError, TypeError):
        raise Unsupported(f"type {names!r}") from None
    if len(checks) == 1:
        return checks[0]
    return lambda v: any(check(v) for check in checks)


def _enum(options: Any) -> Check:
    # Only plain scalars compared with their exact type: jsonschema's equality (1 ==
    # 1.0, but True != 1) is then the same as Python's.
    if not isinstance(options, list) or not all(
        isinstance(o, (str, int)) and not isinstance(o, bool) for o in options
    ):
        raise Unsupported(f"enum {options!r}")
    allowed = {(type(o), o) for o in options}
    return lambda v: (type(v), v) in allowed if isinstance(v, (str, int)) else False


def _string(schema: dict[str, Any]) -> Check:
    """A string within the schema's length and pattern; False for anything else."""
    low = _count(schema.get("minLength", 0))
    high = _count(schema["maxLength"]) if "maxLength" in schema else None
    pattern = schema.get("pattern")
    if pattern is not None and not isinstance(pattern, str):
        raise Unsupported(f"pattern {pattern!r}")
    search = re.compile(pattern).search if pattern is not None else None
    if not low and high is None and search is None:
        return _TYPES["string"]

    def check(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        size = len(value)
        if size < low or (high is not None and size > high):
            return False
        return search is None or search(value) is not None

    return check


def _integer(schema: dict[str, Any]) -> Check:
    """A plain int within the schema's bounds; False for anything else."""
    if not _NUMBER_KEYWORDS & schema.keys():
        return _is_integer
    number = _number(schema)
    return lambda v: _is_integer(v) and number(v)


def _number(schema: dict[str, Any]) -> Check:
    """Whether an int or float is within the schema's bounds."""
    low = _bound(schema["minimum"]) if "minimum" in schema else None
    high = _bound(schema["maximum"]) if "maximum" in schema else None
    if high is None:
        return lambda v: v >= low
    if low is None:
        return lambda v: v <= high
    return lambda v: low <= v <= high


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Unsupported(f"length {value!r}")
    return value


def _bound(value: Any) -> int | float:
    if not _is_number(value):
        raise Unsupported(f"bound {value!r}")
    bound: int | float = value
    return bound


def _certainly_unique(items: list[Any]) -> bool:
    """True when no two items are equal; False also when unsure (mixed types)."""
    kinds = {type(item) for item in items}
    if len(kinds) > 1 or not kinds <= {str, int}:
        return not items
    return len(set(items)) == len(items)
