"""Reading spec files as YAML: documents, positions, and what a spec may not contain."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftcheck.errors import SpecError
from driftcheck.specs import load_specs
from driftcheck.yamlsrc import MAX_DEPTH, YamlProblem, parse


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from tmp_path so that problems name files as a user would see them."""
    monkeypatch.chdir(tmp_path)


def spec_file(tmp_path: Path, text: str | bytes, name: str = "spec.yaml") -> Path:
    """Write `text` under tmp_path; return its path relative to tmp_path."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return Path(name)


def error_lines(*paths: Path) -> list[str]:
    """The lines load_specs would print for `paths`; fails if they load cleanly."""
    with pytest.raises(SpecError) as caught:
        load_specs([str(p) for p in paths])
    return caught.value.lines()


def only_error(path: Path) -> str:
    lines = error_lines(path)
    assert len(lines) == 1, lines
    return lines[0]


# Documents


def test_several_documents_in_one_file_each_declare_endpoints(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path,
        "name: first\n"
        "---\n"
        "endpoints:\n"
        "  - name: second\n"
        "  - name: third\n"
        "---\n"
        "name: fourth\n",
    )

    specs = load_specs([str(path)])

    assert [e.name for e in specs.endpoints] == ["first", "second", "third", "fourth"]
    assert [e.source.line for e in specs.endpoints] == [1, 4, 5, 7]


def test_empty_documents_are_skipped(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path,
        "---\n---\n# only a comment in this one\n---\nname: solo\n---\n",
    )

    specs = load_specs([str(path)])

    assert [e.name for e in specs.endpoints] == ["solo"]
    assert specs.warnings == []


def test_parse_yields_only_non_empty_documents_with_their_start() -> None:
    documents = list(parse("x.yaml", b"---\n---\nname: a\n---\n\n---\nname: b\n"))

    assert [d.value for d in documents] == [{"name": "a"}, {"name": "b"}]
    assert [(d.line, d.column) for d in documents] == [(3, 1), (7, 1)]


def test_parse_records_where_each_key_and_item_was_written() -> None:
    data = b"name: a\nworker_config:\n  max_replicas: 2\nports:\n  - 80\n  - 443\n"

    (document,) = parse("x.yaml", data)

    assert document.positions[("name",)] == (1, 1)
    assert document.positions[("worker_config", "max_replicas")] == (3, 3)
    assert document.positions[("ports", 1)] == (6, 5)


def test_plain_anchors_and_aliases_still_load(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path,
        "endpoints:\n"
        "  - name: a\n"
        "    image: &image registry.example.com/ml/vllm:0.6.3\n"
        "  - name: b\n"
        "    image: *image\n",
    )

    specs = load_specs([str(path)])

    assert [e.fields["image"] for e in specs.endpoints] == [
        "registry.example.com/ml/vllm:0.6.3",
        "registry.example.com/ml/vllm:0.6.3",
    ]


# Duplicate keys


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "name: a\nimage: x\nname: b\n",
            "spec.yaml:3:1: duplicate key 'name' (first at line 1)",
            id="top level",
        ),
        pytest.param(
            "name: a\n"
            "worker_config:\n"
            "  max_replicas: 2\n"
            "  gpu_num: 1\n"
            "  max_replicas: 4\n",
            "spec.yaml:5:3: duplicate key 'max_replicas' (first at line 3)",
            id="worker_config",
        ),
        pytest.param(
            'name: a\nenvs:\n  HF_TOKEN: "one"\n  MODEL: "m"\n  HF_TOKEN: "two"\n',
            "spec.yaml:5:3: duplicate key 'HF_TOKEN' (first at line 3)",
            id="envs mapping",
        ),
        pytest.param(
            "endpoints:\n  - name: a\nendpoints:\n  - name: b\n",
            "spec.yaml:3:1: duplicate key 'endpoints' (first at line 1)",
            id="document wrapper",
        ),
    ],
)
def test_duplicate_keys_are_refused_with_both_lines(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = spec_file(tmp_path, text)

    line = only_error(path)

    assert line.startswith(expected)
    assert "keep only the last" in line


def test_a_duplicate_env_value_is_not_printed(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path,
        "name: a\n"
        "envs:\n"
        '  HF_TOKEN: "hf_first_secret"\n'
        '  HF_TOKEN: "hf_second_secret"\n',
    )

    line = only_error(path)

    assert "hf_first_secret" not in line
    assert "hf_second_secret" not in line


def test_a_key_yaml_reads_as_a_number_must_be_quoted(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "name: a\nenvs:\n  8080: x\n")

    assert only_error(path) == (
        "spec.yaml:3:3: key '8080' is not a string (YAML reads it as int); quote it"
    )


# Syntax errors


def test_syntax_error_reports_the_parser_line_and_column(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "name: a\n  image: indented\n")

    assert only_error(path) == (
        "spec.yaml:2:8: YAML syntax error: mapping values are not allowed in this "
        "context"
    )


def test_unclosed_flow_sequence_is_a_syntax_error(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "name: a\nports: [8000, 9000\n")

    line = only_error(path)

    assert line.startswith("spec.yaml:3:1: YAML syntax error: ")


def test_tab_indentation_is_a_syntax_error_on_its_line(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "name: a\nworker_config:\n\tmax_replicas: 2\n")

    line = only_error(path)

    assert line.startswith("spec.yaml:3:1: YAML syntax error: ")


def test_every_broken_file_is_reported_in_one_run(tmp_path: Path) -> None:
    good = spec_file(tmp_path, "name: fine\n", "a-good.yaml")
    syntax = spec_file(tmp_path, "name: a\n  image: x\n", "b-syntax.yaml")
    schema = spec_file(
        tmp_path,
        "name: c\nworker_config:\n  max_replicas: two\n",
        "c-schema.yaml",
    )

    lines = error_lines(good, syntax, schema)

    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{syntax}:2:8: YAML syntax error:")
    assert lines[1] == (
        f"{schema}:3:3: c: worker_config.max_replicas: expected an integer, got 'two'"
    )


def test_every_broken_file_in_a_directory_is_reported(tmp_path: Path) -> None:
    spec_file(tmp_path, "name: a\nimage: [x\n", "specs/one.yaml")
    spec_file(tmp_path, "name: b\n\tbad: tab\n", "specs/two.yml")

    lines = error_lines(Path("specs"))

    files = [line.split(":", 1)[0] for line in lines]
    assert files == [
        os.path.join("specs", "one.yaml"),
        os.path.join("specs", "two.yml"),
    ]


# What safe loading refuses


def test_python_object_tag_is_refused_and_nothing_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "pwned"
    calls: list[object] = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(args) or 0)
    path = spec_file(
        tmp_path,
        f'name: a\ncommand: !!python/object/apply:os.system ["touch {marker}"]\n',
    )

    line = only_error(path)

    assert line == (
        "spec.yaml:2:10: tag '!!python/object/apply:os.system' is not allowed in "
        "specs (only plain YAML values are)"
    )
    assert calls == []
    assert not marker.exists()


def test_python_object_tag_as_the_whole_document_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = spec_file(tmp_path, f'!!python/object/apply:os.system ["touch {marker}"]\n')

    line = only_error(path)

    assert line.startswith(f"{path}:1:1: tag '!!python/object/apply:os.system'")
    assert not marker.exists()


def test_custom_tag_is_refused(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "name: a\nimage: !Ref ImageParam\n")

    assert only_error(path) == (
        f"{path}:2:8: tag '!Ref' is not allowed in specs (only plain YAML values are)"
    )


def test_explicit_binary_tag_is_refused(tmp_path: Path) -> None:
    path = spec_file(tmp_path, "name: a\nimage: !!binary aGVsbG8=\n")

    assert "tag '!!binary' is not allowed" in only_error(path)


# Merge keys


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "a: &a {image: x, envs: {K: v}}\nb:\n  <<: *a\n  image: y\n",
            {"image": "y", "envs": {"K": "v"}},
            id="a written key wins over a merged one",
        ),
        pytest.param(
            "a: &a {image: x}\nb:\n  image: y\n  <<: *a\n",
            {"image": "y"},
            id="it wins wherever the merge is written",
        ),
        pytest.param(
            "a: &a {p: 1, q: 1}\nc: &c {p: 2, r: 2}\nb: {<<: [*a, *c]}\n",
            {"p": 1, "q": 1, "r": 2},
            id="the earlier of a list wins",
        ),
        pytest.param(
            "a: &a {p: 1}\nc: &c {<<: *a, q: 2}\nb: {<<: *c, r: 3}\n",
            {"p": 1, "q": 2, "r": 3},
            id="merged mappings merge in turn",
        ),
        pytest.param(
            # PyYAML 6.0 reads p: 0 here, although it reads c itself as {p: 1}.
            "a: &a {p: 0}\nc: &c {<<: *a, p: 1}\nb: {<<: *c}\n",
            {"p": 1},
            id="a merged mapping is merged as it reads, overrides included",
        ),
        pytest.param(
            "a: &a {worker_config: {gpu_num: 1, max_replicas: 2}}\n"
            "b: {<<: *a, worker_config: {max_replicas: 4}}\n",
            {"worker_config": {"max_replicas": 4}},
            id="shallow: a written section replaces the merged one whole",
        ),
        pytest.param(
            "b: {<<: [], p: 1}\n", {"p": 1}, id="an empty list merges nothing"
        ),
        pytest.param("b: {'<<': 1}\n", {"<<": 1}, id="a quoted << is an ordinary key"),
    ],
)
def test_merge_keys_merge_as_yaml_defines(text: str, expected: dict[str, Any]) -> None:
    (document,) = parse("x.yaml", text.encode())

    assert document.value["b"] == expected


KEYS = st.sampled_from(["p", "q", "r", "s"])
Flat = dict[str, int]


@st.composite
def merging_documents(draw: st.DrawFn) -> tuple[str, dict[str, Flat]]:
    """Anchored mappings, each free to merge earlier ones, and one that merges some.

    Returns the YAML text and the value each top-level key must have, worked out
    from what was drawn: written keys first, then each merged mapping in order.
    """
    lines: list[str] = []
    values: dict[str, Flat] = {}
    count = draw(st.integers(1, 4))
    for index in range(count + 1):
        name = f"a{index}" if index < count else "target"
        own = draw(st.dictionaries(KEYS, st.integers(0, 9), max_size=4))
        merged = draw(
            st.lists(st.integers(0, index - 1), min_size=name == "target", max_size=3)
            if index
            else st.just([])
        )
        entries = [f"{key}: {value}" for key, value in own.items()]
        if merged:
            aliases = [f"*a{m}" for m in merged]
            merge = aliases[0] if len(aliases) == 1 else f"[{', '.join(aliases)}]"
            entries.insert(draw(st.integers(0, len(entries))), f"<<: {merge}")
        anchor = f" &{name}" if index < count else ""
        lines.append(f"{name}:{anchor} {{{', '.join(entries)}}}")
        value = dict(own)
        for m in merged:
            for key, merged_value in values[f"a{m}"].items():
                value.setdefault(key, merged_value)
        values[name] = value
    return "\n".join(lines) + "\n", values


@settings(max_examples=300, deadline=None)
@given(merging_documents())
def test_any_merge_gives_the_mapping_it_describes(
    drawn: tuple[str, dict[str, Flat]],
) -> None:
    text, expected = drawn

    (document,) = parse("x.yaml", text.encode())

    assert document.value == expected


def test_a_merged_field_is_compared_and_reported_where_it_is_written(
    tmp_path: Path,
) -> None:
    path = spec_file(
        tmp_path,
        "endpoints:\n"
        "  - &llm\n"
        "    name: chat-a\n"
        "    worker_config: &workers\n"
        "      max_replicas: 4\n"
        "      gpu_num: one\n"
        "  - <<: *llm\n"
        "    name: chat-b\n"
        "    worker_config:\n"
        "      <<: *workers\n"
        "      max_replicas: two\n",
    )

    assert error_lines(path) == [
        "spec.yaml:6:7: chat-a: worker_config.gpu_num: expected an integer, got 'one'",
        "spec.yaml:6:7: chat-b: worker_config.gpu_num: expected an integer, got 'one'",
        "spec.yaml:11:7: chat-b: worker_config.max_replicas: "
        "expected an integer, got 'two'",
    ]


def test_merged_endpoints_declare_the_merged_fields(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path,
        "endpoints:\n"
        "  - &llm\n"
        "    name: chat-a\n"
        "    image: registry.example.com/ml/vllm:0.6.3\n"
        "    envs: {MODEL: a}\n"
        "  - <<: *llm\n"
        "    name: chat-b\n"
        "    envs: {MODEL: b}\n",
    )

    a, b = load_specs([str(path)]).endpoints

    assert (b.name, b.fields["image"], b.fields["envs"]) == (
        "chat-b",
        "registry.example.com/ml/vllm:0.6.3",
        {"MODEL": "b"},
    )
    assert (a.lines["image"], b.lines["image"]) == (4, 4)
    assert (a.lines["envs.MODEL"], b.lines["envs.MODEL"]) == (5, 8)


def test_positions_of_a_merged_value_that_lost_are_dropped() -> None:
    (document,) = parse(
        "x.yaml",
        b"a: &a {envs: {K: v, L: w}}\nb:\n  <<: *a\n  envs: {K: v}\n",
    )

    assert document.positions[("b", "envs")] == (4, 3)
    assert document.positions[("b", "envs", "K")] == (4, 10)
    assert ("b", "envs", "L") not in document.positions


def test_an_endpoint_merged_without_a_new_name_is_a_duplicate(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path,
        "endpoints:\n  - &llm\n    name: chat\n    image: x\n  - <<: *llm\n",
    )

    assert only_error(path) == (
        "spec.yaml:5:5: chat: endpoint declared twice: also at spec.yaml:2"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "name: a\n<<: registry.example.com/x\n",
            "spec.yaml:2:5: '<<' merges a mapping or a list of mappings, nothing else",
            id="a scalar",
        ),
        pytest.param(
            "base: &b {image: x}\nname: a\n<<: [*b, x]\n",
            "spec.yaml:3:5: '<<' merges a mapping or a list of mappings, nothing else",
            id="a list holding a scalar",
        ),
        pytest.param(
            "b: &b {image: x}\nname: a\n<<: *b\n<<: *b\n",
            "spec.yaml:4:1: duplicate key '<<' (first at line 3); "
            "merge several mappings with a list: <<: [*a, *b]",
            id="two merge keys",
        ),
        pytest.param(
            "name: a\nenvs: &e\n  <<: *e\n",
            f"nesting deeper than {MAX_DEPTH} levels; refused",
            id="a mapping merging itself",
        ),
    ],
)
def test_a_merge_yaml_would_not_make_is_refused(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = spec_file(tmp_path, text)

    assert expected in only_error(path)


def billion_laughs(levels: int = 9) -> str:
    text = 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        text += f"l{level}: &l{level} [{refs}]\n"
    return text + "name: bomb\n"


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = spec_file(tmp_path, billion_laughs())

    started = time.monotonic()
    line = only_error(path)
    elapsed = time.monotonic() - started

    assert "aliases expand to too many nodes" in line
    assert line.startswith(f"{path}:")
    assert elapsed < 5


def test_ten_thousand_levels_of_nesting_are_refused(tmp_path: Path) -> None:
    depth = 10_000
    path = spec_file(tmp_path, "name: a\nimage: " + "[" * depth + "]" * depth + "\n")

    line = only_error(path)

    assert line.startswith(f"{path}:2:")
    assert "nesting" in line


def test_nesting_past_the_limit_is_refused_even_when_yaml_allows_it(
    tmp_path: Path,
) -> None:
    depth = MAX_DEPTH + 10
    path = spec_file(tmp_path, "name: a\nimage: " + "[" * depth + "]" * depth + "\n")

    line = only_error(path)

    assert line.startswith(f"{path}:2:")
    assert line.endswith(f"nesting deeper than {MAX_DEPTH} levels; refused")


def test_yaml_problem_carries_the_location() -> None:
    with pytest.raises(YamlProblem) as caught:
        list(parse("x.yaml", b"name: a\nimage: !Ref x\n"))

    problem = caught.value.problem
    assert (problem.file, problem.line, problem.column) == ("x.yaml", 2, 8)


# Encodings and line endings


def test_byte_order_mark_loads_with_the_right_lines(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path, b"\xef\xbb\xbfname: a\nworker_config:\n  max_replicas: two\n"
    )

    assert only_error(path) == (
        f"{path}:3:3: a: worker_config.max_replicas: expected an integer, got 'two'"
    )


def test_byte_order_mark_file_loads(tmp_path: Path) -> None:
    path = spec_file(tmp_path, b"\xef\xbb\xbfname: a\nimage: x\n")

    (endpoint,) = load_specs([str(path)]).endpoints

    assert endpoint.name == "a"
    assert endpoint.lines == {"name": 1, "image": 2}


def test_crlf_line_endings_load_with_the_right_lines(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path,
        b"name: a\r\nimage: x\r\nworker_config:\r\n  max_replicas: 2\r\n",
    )

    (endpoint,) = load_specs([str(path)]).endpoints

    assert endpoint.fields == {"image": "x", "worker_config": {"max_replicas": 2}}
    assert endpoint.lines["worker_config.max_replicas"] == 4


def test_crlf_error_points_at_the_right_line(tmp_path: Path) -> None:
    path = spec_file(
        tmp_path, b"name: a\r\nworker_config:\r\n  min_cuda_version: 12.10\r\n"
    )

    line = only_error(path)

    assert line.startswith(f"{path}:3:3: a: worker_config.min_cuda_version: ")
    assert line.endswith('quote it: "12.10"')


def test_invalid_utf8_is_reported_with_its_line(tmp_path: Path) -> None:
    path = spec_file(tmp_path, b"name: a\nimage: caf\xe9\n")

    line = only_error(path)

    assert line.startswith(f"{path}:2:")
    assert "not valid UTF-8" in line
    assert "0xe9" in line
