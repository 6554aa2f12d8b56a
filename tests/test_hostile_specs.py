"""Hostile spec files: every one is refused with exit 2 and one line per problem.

Each case runs the real `driftcheck check` against files in tmp_path, with the fake
PPIO API on 127.0.0.1 as the live side, and asserts what a person reading the CI log
gets: the file and line at fault and what to do, no traceback, no report on stdout
and no request to the API (specs are checked before any key leaves the machine).
Cases are kept small; `timeout` bounds each run instead of a timing assertion.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftcheck.formats import FORMATS

from .conftest import CliResult, RunCli
from .fake_ppio import DEFAULT_API_KEY, FakePPIO, make_endpoint

TIMEOUT = 10
# Words a report uses to state a result; none may appear when specs are refused.
CLAIMS = re.compile(r"in sync|in_sync|missing|unmanaged|drift", re.IGNORECASE)


@dataclass(frozen=True)
class Case:
    """Spec files to write, and the problems (file, line, pattern) stderr must show.

    A line of None means the problem names the file but no line.
    """

    files: Mapping[str, str | bytes]
    problems: list[tuple[str, int | None, str]]
    paths: tuple[str, ...] = ()


def spec(text: str) -> dict[str, str]:
    return {"spec.yaml": text}


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8", newline="")


def run_check(
    run_cli: RunCli, fake: FakePPIO, cwd: Path, *paths: str, extra: tuple[str, ...] = ()
) -> CliResult:
    return run_cli(
        "check",
        *paths,
        *extra,
        env={"PPIO_API_KEY": DEFAULT_API_KEY, "PPIO_API_URL": fake.url},
        cwd=cwd,
        timeout=TIMEOUT,
    )


def assert_refused(
    result: CliResult,
    problems: list[tuple[str, int | None, str]],
    *,
    extra_lines: bool = False,
) -> list[str]:
    """Exit 2, nothing on stdout, one `error:` line per expected problem."""
    assert result.code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.endswith("\n")
    lines = result.stderr.splitlines()
    assert all(line.startswith("error: ") for line in lines), lines
    if not extra_lines:
        assert len(lines) == len(problems), lines
    for file, line, pattern in problems:
        where = f"error: {file}:{line}:" if line is not None else f"error: {file}: "
        found = [text for text in lines if text.startswith(where)]
        assert found, f"no problem at {where!r} in {lines}"
        assert any(re.search(pattern, text) for text in found), (pattern, found)
    return lines


def assert_no_claims(result: CliResult) -> None:
    # Problem lines may quote field names; what must not appear is a verdict.
    for line in result.stderr.splitlines():
        message = line.split(": ", 2)[-1]
        assert not re.search(r"\b(in sync|drift found)\b", message), line
    assert not CLAIMS.search(result.stdout)


CASES: dict[str, Case] = {
    # -- syntax errors ------------------------------------------------------------
    "syntax_unclosed_bracket": Case(
        spec("name: a\nports: [80, 81\nimage: x\n"),
        [("spec.yaml", 3, r"YAML syntax error: did not find expected ',' or ']'")],
    ),
    "syntax_bad_indentation": Case(
        spec("name: a\nworker_config:\n  max_replicas: 1\n   gpu_num: 1\n"),
        [("spec.yaml", 4, r"YAML syntax error: mapping values are not allowed")],
    ),
    "syntax_unterminated_quote": Case(
        spec('name: a\nimage: "registry.example.com/x\ncommand: run\n'),
        [("spec.yaml", 4, r"YAML syntax error: .*end of stream")],
    ),
    "syntax_stray_colon": Case(
        spec("name: a\nimage: x: y\n"),
        [("spec.yaml", 2, r"YAML syntax error: mapping values are not allowed")],
    ),
    "syntax_tab_indenting_a_mapping": Case(
        spec("name: a\nworker_config:\n\tmax_replicas: 1\n"),
        [("spec.yaml", 3, r"YAML syntax error: .*\(a tab\); YAML indents with spaces")],
    ),
    "syntax_tab_after_a_key": Case(
        spec("name: a\n\timage: x\n"),
        [("spec.yaml", 2, r"found a tab character.*; YAML indents with spaces only")],
    ),
    # -- duplicate keys, at every level --------------------------------------------
    "duplicate_key_top_level": Case(
        spec("name: a\nimage: x\nimage: y\n"),
        [("spec.yaml", 3, r"duplicate key 'image' \(first at line 2\)")],
    ),
    "duplicate_key_in_endpoints_item": Case(
        spec("endpoints:\n  - name: a\n    type: sync\n    type: async\n"),
        [("spec.yaml", 4, r"duplicate key 'type' \(first at line 3\)")],
    ),
    "duplicate_key_in_worker_config": Case(
        spec("name: a\nworker_config:\n  gpu_num: 1\n  gpu_num: 2\n"),
        [("spec.yaml", 4, r"duplicate key 'gpu_num' \(first at line 3\)")],
    ),
    "duplicate_key_in_policy": Case(
        spec("name: a\npolicy:\n  type: queue\n  value: 1\n  value: 2\n"),
        [("spec.yaml", 5, r"duplicate key 'value' \(first at line 4\)")],
    ),
    "duplicate_key_in_envs_mapping": Case(
        spec('name: a\nenvs:\n  MODEL: "x"\n  MODEL: "y"\n'),
        [("spec.yaml", 4, r"duplicate key 'MODEL' \(first at line 3\)")],
    ),
    "duplicate_key_in_envs_list": Case(
        spec(
            "name: a\nenvs:\n  - key: MODEL\n    value: x\n"
            "  - key: MODEL\n    value: y\n"
        ),
        [("spec.yaml", 5, r"env 'MODEL' is declared twice \(first at line 3\)")],
    ),
    "duplicate_key_in_health_check": Case(
        spec("name: a\nhealth_check:\n  port: 80\n  path: /h\n  port: 81\n"),
        [("spec.yaml", 5, r"duplicate key 'port' \(first at line 3\)")],
    ),
    "duplicate_key_in_volume_item": Case(
        spec("name: a\nvolumes:\n  - mount_point: /d\n    size: 1\n    size: 2\n"),
        [("spec.yaml", 5, r"duplicate key 'size' \(first at line 4\)")],
    ),
    "duplicate_volume_mount_point": Case(
        spec("name: a\nvolumes:\n  - mount_point: /d\n  - mount_point: /d\n"),
        [("spec.yaml", 4, r"mount_point '/d' is declared twice \(first at line 3\)")],
    ),
    "duplicate_key_in_document_wrapper": Case(
        spec("endpoints:\n  - name: a\nendpoints:\n  - name: b\n"),
        [("spec.yaml", 3, r"duplicate key 'endpoints' \(first at line 1\)")],
    ),
    "duplicate_endpoint_name_across_files": Case(
        {
            "a.yaml": "name: chat\n",
            "b.yaml": "endpoints:\n  - name: other\n  - name: chat\n",
        },
        [("b.yaml", 3, r"chat: endpoint declared twice: also at a.yaml:1")],
        paths=("a.yaml", "b.yaml"),
    ),
    "duplicate_endpoint_id_across_files": Case(
        {"a.yaml": "name: one\nid: ep-1\n", "b.yaml": "name: two\nid: ep-1\n"},
        [("b.yaml", 1, r"two: id 'ep-1' is declared twice: also at a\.yaml:1")],
        paths=("a.yaml", "b.yaml"),
    ),
    "duplicate_endpoint_name_across_documents": Case(
        spec("---\nname: a\n---\nname: a\n"),
        [("spec.yaml", 4, r"endpoint declared twice: also at spec\.yaml:2")],
    ),
    # -- wrong types ---------------------------------------------------------------
    "type_name_integer": Case(
        spec("name: 12\n"),
        [("spec.yaml", 1, r'name: expected a string, got 12 .*quote it: "12"')],
    ),
    "type_name_empty": Case(
        spec('name: ""\n'), [("spec.yaml", 1, r"name: must not be empty")]
    ),
    "type_image_list": Case(
        spec("name: a\nimage: [x, y]\n"),
        [("spec.yaml", 2, r"image: expected a string, got a list")],
    ),
    "type_worker_config_int_as_string": Case(
        spec('name: a\nworker_config:\n  max_replicas: "3"\n'),
        [("spec.yaml", 3, r"worker_config.max_replicas: expected an integer")],
    ),
    "type_worker_config_negative": Case(
        spec("name: a\nworker_config:\n  min_replicas: -1\n"),
        [("spec.yaml", 3, r"worker_config.min_replicas: must be at least 0")],
    ),
    "type_min_cuda_version_number": Case(
        spec("name: a\nworker_config:\n  min_cuda_version: 12.4\n"),
        [("spec.yaml", 3, r'min_cuda_version: .*number.*quote it: "12.4"')],
    ),
    "type_policy_value_string": Case(
        spec('name: a\npolicy:\n  type: queue\n  value: "10"\n'),
        [("spec.yaml", 4, r"policy.value: expected an integer, got '10'")],
    ),
    "type_policy_type_unknown": Case(
        spec("name: a\npolicy:\n  type: fifo\n"),
        [("spec.yaml", 3, r"policy.type: expected one of 'queue', 'concurrency'")],
    ),
    "type_ports_strings": Case(
        spec('name: a\nports:\n  - "8080"\n'),
        [("spec.yaml", 3, r"ports\[0\]: expected an integer, got '8080'")],
    ),
    "type_port_out_of_range": Case(
        spec("name: a\nports: [70000]\n"),
        [("spec.yaml", 2, r"ports\[0\]: must be at most 65535")],
    ),
    "type_env_value_integer": Case(
        spec("name: a\nenvs:\n  WORKERS: 4\n"),
        [("spec.yaml", 3, r"envs.WORKERS: expected a string, got an integer.*quote")],
    ),
    "type_envs_not_a_mapping_or_list": Case(
        spec("name: a\nenvs: 4\n"),
        [("spec.yaml", 2, r"envs: expected a list, got an integer")],
    ),
    "type_volumes_not_a_list": Case(
        spec("name: a\nvolumes:\n  mount_point: /d\n"),
        [("spec.yaml", 2, r"volumes: expected a list, got a mapping")],
    ),
    "type_volume_without_mount_point": Case(
        spec("name: a\nvolumes:\n  - size: 1\n"),
        [("spec.yaml", 3, r"volumes\[0\]: missing required field 'mount_point'")],
    ),
    "type_health_check_port_string": Case(
        spec('name: a\nhealth_check:\n  port: "8080"\n'),
        [("spec.yaml", 3, r"health_check.port: expected an integer, got '8080'")],
    ),
    "type_type_enum": Case(
        spec("name: a\ntype: batch\n"),
        [("spec.yaml", 2, r"type: expected one of 'sync', 'async', got 'batch'")],
    ),
    "type_endpoints_not_a_list": Case(
        spec("endpoints:\n  name: a\n"),
        [("spec.yaml", 1, r"endpoints: expected a list, got a mapping")],
    ),
    "type_endpoint_without_name": Case(
        spec("endpoints:\n  - image: x\n"),
        [("spec.yaml", 2, r"endpoints\[0\]: missing required field 'name'")],
    ),
    # -- YAML 1.1 surprises ----------------------------------------------------------
    "yaml11_on_as_key": Case(
        spec("name: a\non: push\n"),
        [("spec.yaml", 2, r"key 'on' is not a string .*bool.*quote it")],
    ),
    "yaml11_octal_product_id": Case(
        spec("name: a\nproduct_id: 012\n"),
        [("spec.yaml", 2, r'product_id: expected a string, got 10 .*quote it: "012"')],
    ),
    "yaml11_cuda_12_10_is_a_number": Case(
        spec("name: a\nworker_config:\n  min_cuda_version: 12.10\n"),
        [("spec.yaml", 3, r'got 12\.1 .*number.*quote it: "12\.10"')],
    ),
    "yaml11_tilde_image": Case(
        spec("name: a\nimage: ~\n"),
        [("spec.yaml", 2, r'image: expected a string, got null .*quote it: "~"')],
    ),
    "yaml11_date_image": Case(
        spec("name: a\nimage: 2024-01-01\n"),
        [("spec.yaml", 2, r"got 2024-01-01 \(YAML reads the unquoted value as a date")],
    ),
    # -- unknown and read-only fields ----------------------------------------------
    "unknown_field_with_suggestion": Case(
        spec("name: a\nimgae: x\n"),
        [("spec.yaml", 2, r"unknown field 'imgae' \(did you mean 'image'\?\)")],
    ),
    "unknown_nested_field_with_suggestion": Case(
        spec("name: a\nworker_config:\n  max_replica: 1\n"),
        [("spec.yaml", 3, r"unknown field 'max_replica' .*'max_replicas'")],
    ),
    "unknown_field_beside_endpoints": Case(
        spec("endpoints:\n  - name: a\nendpoint:\n  - name: b\n"),
        [("spec.yaml", 3, r"unknown field 'endpoint' \(did you mean 'endpoints'\?\)")],
    ),
    "read_only_field": Case(
        spec("name: a\nstatus: running\n"),
        [("spec.yaml", 2, r"status: read-only: the API reports this field")],
    ),
    # -- documents that declare nothing, or are not mappings -------------------------
    "empty_file_alone_declares_no_endpoints": Case(
        spec(""), [("spec.yaml", None, r"no endpoints declared")]
    ),
    "comments_only_file_alone_declares_no_endpoints": Case(
        spec("# nothing yet\n# still nothing\n"),
        [("spec.yaml", None, r"no endpoints declared")],
    ),
    "empty_endpoints_list_alone_declares_no_endpoints": Case(
        spec("endpoints: []\n"), [("spec.yaml", None, r"no endpoints declared")]
    ),
    "document_that_is_a_list_is_refused": Case(
        spec("- name: a\n- name: b\n"),
        [("spec.yaml", 1, r"must be a mapping: .*`endpoints:`.*`name:`; got a list")],
    ),
    "document_that_is_a_scalar_is_refused": Case(
        spec("hello\n"),
        [("spec.yaml", 1, r"must be a mapping: .*got the scalar 'hello'")],
    ),
    # -- encodings -------------------------------------------------------------------
    "invalid_utf8_bytes": Case(
        {"spec.yaml": b"name: a\nimage: caf\xe9\n"},
        [("spec.yaml", 2, r"not valid UTF-8 text.*byte 0xe9.*save it as UTF-8")],
    ),
    "crlf_line_numbers_are_right": Case(
        spec("name: a\r\nimage: x\r\n\r\nimgae: y\r\n"),
        [("spec.yaml", 4, r"unknown field 'imgae'")],
    ),
    "bom_line_numbers_are_right": Case(
        {"spec.yaml": b"\xef\xbb\xbfname: a\nimage: x\nimgae: y\n"},
        [("spec.yaml", 3, r"unknown field 'imgae'")],
    ),
    # -- tags and aliases --------------------------------------------------------------
    "custom_tag_is_refused": Case(
        spec("name: a\nimage: !include other.yaml\n"),
        [("spec.yaml", 2, r"tag '!include' is not allowed in specs")],
    ),
    "binary_tag_is_refused": Case(
        spec("name: a\nimage: !!binary aGVsbG8=\n"),
        [("spec.yaml", 2, r"tag '!!binary' is not allowed in specs")],
    ),
    "merge_of_a_non_mapping_is_refused": Case(
        spec("name: a\n<<: [registry.example.com/x]\n"),
        [
            (
                "spec.yaml",
                2,
                r"'<<' merges a mapping or a list of mappings, nothing else",
            )
        ],
    ),
    # PyYAML's constructors trust the tag, so these once crashed the run.
    "explicit_bool_tag_on_a_non_bool": Case(
        spec("name: a\nimage: x\nenvs:\n  - {key: FLAG, value: !!bool maybe}\n"),
        [("spec.yaml", 4, r"value is not a valid !!bool; quote it if it is meant")],
    ),
    "explicit_int_tag_on_an_empty_value": Case(
        spec("name: a\nimage: x\nworker_config:\n  max_replicas: !!int &x\n"),
        [("spec.yaml", 4, r"value is not a valid !!int; quote it")],
    ),
    "explicit_timestamp_tag_on_a_malformed_date": Case(
        spec("name: a\nimage: !!timestamp 2024-13-1:245\n"),
        [("spec.yaml", 2, r"value is not a valid !!timestamp; quote it")],
    ),
    "plain_impossible_date": Case(
        spec("name: a\nimage: 2024-13-45\n"),
        [("spec.yaml", 2, r"value is not a valid !!timestamp; quote it")],
    ),
    "nesting_deeper_than_the_limit_is_refused": Case(
        spec("name: a\nimage: " + "[" * 100 + "]" * 100 + "\n"),
        [("spec.yaml", 2, r"nesting deeper than \d+ levels; refused")],
    ),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_hostile_spec_is_refused(
    case: Case, run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    write_files(tmp_path, case.files)
    paths = case.paths or tuple(case.files)
    out = tmp_path / "out"
    out.mkdir()
    reports = [f"--report={name}:{out / name}" for name in FORMATS]

    result = run_check(
        run_cli, fake_api, tmp_path, *paths, extra=("-f", "json", *reports)
    )

    assert_refused(result, case.problems)
    assert_no_claims(result)
    assert list(out.iterdir()) == []
    assert fake_api.requests == []


@pytest.mark.parametrize(
    ("value", "reads_as"),
    [
        ("yes", "a boolean"),
        ("no", "a boolean"),
        ("on", "a boolean"),
        ("off", "a boolean"),
        ("012", "an integer"),
        ("12.10", "a number"),
        ("~", "null"),
        ("null", "null"),
    ],
)
def test_yaml11_env_value_must_be_quoted(
    value: str, reads_as: str, run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    write_files(tmp_path, spec(f"name: a\nenvs:\n  FLAG: {value}\n"))

    result = run_check(run_cli, fake_api, tmp_path, "spec.yaml")

    pattern = rf"envs.FLAG: expected a string, got {reads_as} .*; quote it$"
    assert_refused(result, [("spec.yaml", 3, pattern)])
    assert fake_api.requests == []


def test_unreadable_tagged_env_value_is_not_echoed(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    secret = "hf_S3cretTok3nValue"
    write_files(tmp_path, spec(f"name: a\nenvs:\n  HF_TOKEN: !!int {secret}\n"))

    result = run_check(run_cli, fake_api, tmp_path, "spec.yaml")

    assert_refused(result, [("spec.yaml", 3, r"value is not a valid !!int")])
    assert secret not in result.stderr + result.stdout


def test_yaml11_1e3_env_value_is_read_as_the_string_1e3(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    # YAML 1.1 floats need a dot: `1e3` stays the string "1e3", as the API holds it.
    write_files(tmp_path, spec("name: a\nenvs:\n  SCALE: 1e3\n"))
    fake_api.endpoints = [make_endpoint("a", envs=[{"key": "SCALE", "value": "1e3"}])]

    result = run_check(run_cli, fake_api, tmp_path, "spec.yaml")

    assert result.code == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system",
        "!!python/object/new:os.system",
        "!!python/name:os.system",
    ],
)
def test_python_object_tag_is_refused_and_never_run(
    tag: str, run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    marker = tmp_path / "PWNED"
    write_files(tmp_path, spec(f"name: a\nimage: {tag} ['touch {marker}']\n"))

    result = run_check(run_cli, fake_api, tmp_path, "spec.yaml")

    short = re.escape(tag.split(":", 1)[0] if tag.endswith("os.system") else tag)
    assert_refused(result, [("spec.yaml", 2, rf"tag '{short}.*' is not allowed")])
    assert not marker.exists()


def test_alias_bomb_is_refused_not_expanded(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    # Billion laughs: nine levels of nine aliases each, 9**9 strings if expanded.
    lines = ["name: a", "envs:", '  a0: &a0 ["lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"  a{level}: &a{level} [{refs}]")
    write_files(tmp_path, spec("\n".join(lines) + "\n"))

    result = run_check(run_cli, fake_api, tmp_path, "spec.yaml")

    lines = assert_refused(result, [], extra_lines=True)
    assert len(lines) == 1
    assert re.fullmatch(
        r"error: spec\.yaml:\d+:\d+: aliases expand to too many nodes "
        r"\(an alias bomb\?\); refused",
        lines[0],
    )


def test_ten_thousand_levels_of_nesting_are_refused(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    write_files(tmp_path, spec("name: a\nimage: " + "[" * 10_000 + "]" * 10_000))

    result = run_check(run_cli, fake_api, tmp_path, "spec.yaml")

    assert_refused(result, [("spec.yaml", 2, r"nesting depth|nesting deeper")])


def test_twenty_megabyte_file_is_refused_by_size(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    path = tmp_path / "spec.yaml"
    with path.open("wb") as handle:
        handle.write(b"name: a\ncommand: ")
        handle.truncate(20 * 1024 * 1024)

    result = run_check(run_cli, fake_api, tmp_path, "spec.yaml")

    pattern = r"file is 20\.0 MiB; spec files are limited to \d+ MiB \(split it"
    assert_refused(result, [("spec.yaml", None, pattern)])


def test_empty_file_beside_a_valid_one_only_warns(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    write_files(tmp_path, {"a.yaml": "name: a\n", "empty.yaml": ""})
    fake_api.endpoints = [make_endpoint("a")]

    result = run_check(run_cli, fake_api, tmp_path, "a.yaml", "empty.yaml")

    assert result.code == 0, result.stderr
    assert result.stderr == "driftcheck: warning: empty.yaml: declares no endpoints\n"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bom", b"\xef\xbb\xbfname: a\nimage: registry.example.com/ml/a:1.0.0\n"),
        ("crlf", b"name: a\r\nimage: registry.example.com/ml/a:1.0.0\r\n"),
        ("bom_and_crlf", b"\xef\xbb\xbfname: a\r\nimage: x\r\n"),
    ],
)
def test_bom_and_crlf_files_load_and_compare(
    name: str, content: bytes, run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    write_files(tmp_path, {"spec.yaml": content})
    fake_api.endpoints = [make_endpoint("a")]

    result = run_check(run_cli, fake_api, tmp_path, "spec.yaml")

    assert result.code in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    if name == "bom_and_crlf":
        # The drift is reported on the line it was declared on, BOM or not.
        assert result.code == 1
        assert re.search(r"^  image .*\(line 2\)$", result.stdout, re.M)
    else:
        assert result.code == 0
        assert result.stderr == ""


def test_directory_without_yaml_files_is_refused(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    write_files(tmp_path, {"specs/README.md": "# notes\n", "specs/a.json": "{}"})

    result = run_check(run_cli, fake_api, tmp_path, "specs")

    assert_refused(result, [("specs", None, r"no \.yaml or \.yml files")])


def test_path_that_does_not_exist_is_refused(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    result = run_check(run_cli, fake_api, tmp_path, "nowhere/spec.yaml")

    assert_refused(result, [("nowhere/spec.yaml", None, r"no such file or directory")])
    assert fake_api.requests == []


def test_directory_symlink_to_its_parent_is_refused_as_a_loop(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    write_files(
        tmp_path, {"specs/a.yaml": "name: a\n", "specs/team/b.yaml": "name: b\n"}
    )
    (tmp_path / "specs" / "team" / "up").symlink_to("..", target_is_directory=True)

    result = run_check(run_cli, fake_api, tmp_path, "specs")

    assert_refused(result, [("specs/team/up", None, r"symlink loop")])
    assert fake_api.requests == []


def test_a_link_above_the_tree_is_refused_before_walking_out_of_it(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    write_files(
        tmp_path,
        {
            "specs/team/b.yaml": "name: b\n",
            "neighbour/broken.yaml": "name: [unclosed\n",
        },
    )
    (tmp_path / "specs" / "team" / "root").symlink_to(
        tmp_path, target_is_directory=True
    )

    result = run_check(run_cli, fake_api, tmp_path, "specs")

    # Only the link is reported: nothing outside specs/ was read.
    assert_refused(result, [("specs/team/root", None, r"symlink loop")])


def test_file_symlink_to_itself_is_refused(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    write_files(tmp_path, {"specs/a.yaml": "name: a\n"})
    (tmp_path / "specs" / "self.yaml").symlink_to("self.yaml")

    result = run_check(run_cli, fake_api, tmp_path, "specs")

    assert_refused(
        result, [("specs/self.yaml", None, r"cannot read: .*symbolic links")]
    )


def test_fifo_named_like_a_spec_is_refused_without_blocking(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    # Opening a FIFO for reading waits for a writer that never comes.
    write_files(tmp_path, {"specs/a.yaml": "name: a\n"})
    os.mkfifo(tmp_path / "specs" / "pipe.yaml")

    result = run_check(run_cli, fake_api, tmp_path, "specs")

    assert_refused(result, [("specs/pipe.yaml", None, r"not a regular file")])


def test_unreadable_file_is_refused(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("name: a\n", encoding="utf-8")
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip(
            "running as root, where mode 000 still reads; the FIFO case covers "
            "a spec file that cannot be read"
        )
    try:
        result = run_check(run_cli, fake_api, tmp_path, "spec.yaml")
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)

    assert_refused(result, [("spec.yaml", None, r"cannot read: Permission denied")])


def test_every_broken_file_is_reported_in_one_run(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    write_files(
        tmp_path,
        {
            "specs/a-syntax.yaml": "name: a\nimage: [x\n",
            "specs/b-duplicate.yaml": "name: b\nimage: x\nimage: y\n",
            "specs/c-type.yaml": 'name: c\nports: ["80"]\nimgae: x\n',
            "specs/d-utf8.yaml": b"name: d\nimage: \xff\n",
            "specs/e-good.yaml": "name: e\n",
            "specs/f-list.yaml": "- name: f\n",
        },
    )

    result = run_check(run_cli, fake_api, tmp_path, "specs", "nowhere.yaml")

    assert_refused(
        result,
        [
            ("nowhere.yaml", None, r"no such file"),
            ("specs/a-syntax.yaml", 3, r"YAML syntax error"),
            ("specs/b-duplicate.yaml", 3, r"duplicate key 'image'"),
            ("specs/c-type.yaml", 2, r"ports\[0\]: expected an integer"),
            ("specs/c-type.yaml", 3, r"unknown field 'imgae'"),
            ("specs/d-utf8.yaml", 2, r"not valid UTF-8"),
            ("specs/f-list.yaml", 1, r"must be a mapping"),
        ],
    )


def test_validate_refuses_the_same_way_without_network(
    run_cli: RunCli, tmp_path: Path
) -> None:
    write_files(tmp_path, spec("name: a\nimage: x\nimage: y\n"))

    result = run_cli("validate", "spec.yaml", cwd=tmp_path, timeout=TIMEOUT)

    assert_refused(result, [("spec.yaml", 3, r"duplicate key 'image'")])
