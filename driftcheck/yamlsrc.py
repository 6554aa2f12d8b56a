"""YAML loading that keeps where every key was written and refuses what YAML hides.

libyaml (when available) parses; driftcheck builds the Python values itself, so that it
can record line numbers, reject duplicate keys and object tags, and bound what aliases
and nesting may cost before any of it reaches validation or comparison.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

from driftcheck.errors import Problem

MAX_DEPTH = 64
# Aliases may repeat parts of a document; beyond this many nodes over the file's own
# size, the document is an alias bomb and is refused rather than expanded.
ALIAS_ALLOWANCE = 100_000

_STR = "tag:yaml.org,2002:str"
_SCALAR_TAGS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}
_MAP = "tag:yaml.org,2002:map"
_MERGE = "tag:yaml.org,2002:merge"
_SEQ = "tag:yaml.org,2002:seq"

Path = tuple[str | int, ...]
Position = tuple[int, int]


@dataclass
class Document:
    """One YAML document: its value, where it starts, and where each path was written.

    `positions` maps a path (mapping keys and sequence indexes) to the 1-based line and
    column of the key that introduced it, or of the sequence item.
    """

    value: Any
    line: int
    column: int
    positions: dict[Path, Position]


class _Abort(Exception):
    def __init__(self, problem: Problem) -> None:
        self.problem = problem


class _Builder:
    def __init__(self, file: str, budget: int) -> None:
        self.file = file
        self.budget = budget
        self.positions: dict[Path, Position] = {}
        self.constructor = SafeConstructor()
        self.constructors = {
            tag: SafeConstructor.yaml_constructors[tag] for tag in _SCALAR_TAGS
        }
        # Every endpoint repeats the same keys; one string each keeps specs small.
        self.keys: dict[str, str] = {}

    def fail(self, node: Node, message: str) -> _Abort:
        mark = node.start_mark
        return _Abort(Problem(self.file, mark.line + 1, mark.column + 1, message))

    def build(self, node: Node, path: Path, depth: int) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise self.fail(
                node, "aliases expand to too many nodes (an alias bomb?); refused"
            )
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels; refused")

        tag = node.tag
        if isinstance(node, ScalarNode):
            if tag == _STR:
                return node.value
            construct = self.constructors.get(tag)
            if construct is None:
                raise self._bad_tag(node)
            try:
                return construct(self.constructor, node)
            except Exception as exc:
                # PyYAML's scalar constructors assume the resolver already
                # matched the value, so an explicit tag on a malformed value
                # (`!!bool maybe`, an empty `!!int`, `!!timestamp 2024-13-1`)
                # fails with KeyError, IndexError or AttributeError as well as
                # ConstructorError. Each is the file's fault, not ours.
                # The value is not echoed: it may be an env var's secret.
                raise self.fail(
                    node,
                    f"value is not a valid {_short_tag(tag)}; "
                    "quote it if it is meant as a string",
                ) from exc

        if isinstance(node, SequenceNode):
            if tag != _SEQ:
                raise self._bad_tag(node)
            items = []
            for index, item in enumerate(node.value):
                where = path + (index,)
                mark = item.start_mark
                self.positions[where] = (mark.line + 1, mark.column + 1)
                items.append(self.build(item, where, depth + 1))
            return items

        if isinstance(node, MappingNode):
            if tag != _MAP:
                raise self._bad_tag(node)
            mapping: dict[str, Any] = {}
            merge: tuple[Node, Node] | None = None
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    if merge is not None:
                        first = merge[0].start_mark.line + 1
                        raise self.fail(
                            key_node,
                            f"duplicate key '<<' (first at line {first}); "
                            "merge several mappings with a list: <<: [*a, *b]",
                        )
                    merge = (key_node, value_node)
                    continue
                key = self._key(key_node)
                key = self.keys.setdefault(key, key)
                where = path + (key,)
                if key in mapping:
                    first = self.positions[where][0]
                    raise self.fail(
                        key_node,
                        f"duplicate key {key!r} (first at line {first}); "
                        "YAML would silently keep only the last",
                    )
                mark = key_node.start_mark
                self.positions[where] = (mark.line + 1, mark.column + 1)
                mapping[key] = self.build(value_node, where, depth + 1)
            if merge is not None:
                self._merge(mapping, merge[1], path, depth)
            return mapping

        raise self.fail(node, "unsupported YAML node")  # pragma: no cover

    def _merge(
        self, mapping: dict[str, Any], value: Node, path: Path, depth: int
    ) -> None:
        """Add the keys that `<<: value` merges into `mapping`, as YAML 1.1 does.

        Merging is shallow: a key written in the mapping itself wins over a merged
        one, whole, and among `<<: [*a, *b]` the earlier mapping wins. Each merged
        key keeps the position where it was written, inside the merged mapping; the
        positions of what lost are dropped, so no report points at a value that is
        not the one in effect.
        """
        sources = value.value if isinstance(value, SequenceNode) else [value]
        if not all(isinstance(s, MappingNode) for s in sources):
            raise self.fail(
                value, "'<<' merges a mapping or a list of mappings, nothing else"
            )
        level = len(path)
        own = self.positions
        for source in sources:
            # The merged mapping is built on its own so that its positions can be
            # kept for the keys it supplies and dropped for those it does not.
            self.positions = {}
            try:
                built = self.build(source, path, depth + 1)
                supplied = [key for key in built if key not in mapping]
                for key in supplied:
                    mapping[key] = built[key]
                taken = set(supplied)
                kept = {
                    where: position
                    for where, position in self.positions.items()
                    if where[level] in taken
                }
            finally:
                self.positions = own
            own.update(kept)

    def _key(self, node: Node) -> str:
        if isinstance(node, ScalarNode) and node.tag == _STR:
            return str(node.value)
        if isinstance(node, ScalarNode) and node.tag in _SCALAR_TAGS:
            raise self.fail(
                node,
                f"key {node.value!r} is not a string (YAML reads it as "
                f"{node.tag.rsplit(':', 1)[-1]}); quote it",
            )
        raise self.fail(node, "mapping keys must be plain strings")

    def _bad_tag(self, node: Node) -> _Abort:
        return self.fail(
            node,
            f"tag {_short_tag(node.tag)!r} is not allowed in specs "
            "(only plain YAML values are)",
        )


def _short_tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else tag


def parse(file: str, data: bytes) -> Iterator[Document]:
    """Yield the non-empty documents of `data`; raise YamlProblem on the first error."""
    builder = _Builder(file, budget=len(data) + ALIAS_ALLOWANCE)
    loader = _Loader(data)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
                continue
            builder.positions = {}
            value = builder.build(node, (), 0)
            mark = node.start_mark
            yield Document(value, mark.line + 1, mark.column + 1, builder.positions)
    except _Abort as abort:
        raise YamlProblem(abort.problem) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        column = mark.column + 1 if mark else None
        message = f"YAML syntax error: {exc.problem or exc.context}"
        if mark and _char_at(data, mark.line, mark.column) == "\t":
            message += "" if "tab" in message else " (a tab)"
            message += "; YAML indents with spaces only"
        raise YamlProblem(Problem(file, line, column, message)) from None
    except yaml.reader.ReaderError as exc:
        line, column = _line_and_column(data, exc.position)
        if "UTF" in str(exc.reason) or "octet" in str(exc.reason):
            byte = data[exc.position] if 0 <= exc.position < len(data) else None
            shown = f" (byte 0x{byte:02x})" if byte is not None else ""
            message = f"not valid UTF-8 text: {exc.reason}{shown}; save it as UTF-8"
        else:
            message = f"character not allowed in YAML: {exc.reason}"
        raise YamlProblem(Problem(file, line, column, message)) from None
    except yaml.YAMLError as exc:
        raise YamlProblem(Problem(file, None, None, f"YAML error: {exc}")) from None
    finally:
        loader.dispose()


def _char_at(data: bytes, line: int, column: int) -> str:
    """The character at a 0-based line and column, or "" past the end."""
    lines = data.split(b"\n", line + 1)
    if line >= len(lines):
        return ""
    text = lines[line].decode("utf-8", "replace")
    return text[column] if 0 <= column < len(text) else ""


def _line_and_column(data: bytes, position: int) -> tuple[int, int]:
    # ReaderError positions count characters, but before an invalid byte every byte
    # decoded, so counting newlines in the raw prefix gives the line.
    prefix = data[: max(position, 0) + 1]
    line = prefix.count(b"\n") + 1
    column = len(prefix) - (prefix.rfind(b"\n") + 1)
    return line, max(column, 1)


class YamlProblem(Exception):
    """A file that cannot be read as YAML, with where it broke."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))
