"""Finding spec files, validating them, and the declared endpoints they give."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from driftcheck.errors import SpecError
from driftcheck.model import DeclaredEndpoint, Location
from driftcheck.specs import READ_ONLY_FIELDS, load_specs, schema_text

from .conftest import REPO


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from tmp_path so that problems name files as a user would see them."""
    monkeypatch.chdir(tmp_path)


def write(name: str, text: str) -> str:
    """Write a spec file relative to the working directory and return its path."""
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return name


def error_lines(*paths: str) -> list[str]:
    """The lines load_specs would print for `paths`; fails if they load cleanly."""
    with pytest.raises(SpecError) as caught:
        load_specs(list(paths))
    return caught.value.lines()


def only_error(text: str, name: str = "spec.yaml") -> str:
    lines = error_lines(write(name, text))
    assert len(lines) == 1, lines
    return lines[0]


def load_one(text: str, name: str = "spec.yaml") -> DeclaredEndpoint:
    (endpoint,) = load_specs([write(name, text)]).endpoints
    return endpoint


# Finding files


def test_directory_is_searched_recursively_in_sorted_order() -> None:
    write("specs/z.yaml", "name: from-z\n")
    write("specs/m/a.yaml", "name: from-m-a\n")
    write("specs/m/deeper/b.yml", "name: from-m-deeper-b\n")
    write("specs/a.yml", "name: from-a\n")

    specs = load_specs(["specs"])

    assert specs.files == [
        os.path.join("specs", "a.yml"),
        os.path.join("specs", "m", "a.yaml"),
        os.path.join("specs", "m", "deeper", "b.yml"),
        os.path.join("specs", "z.yaml"),
    ]
    assert [e.name for e in specs.endpoints] == [
        "from-a",
        "from-m-a",
        "from-m-deeper-b",
        "from-z",
    ]


def test_directory_search_ignores_other_suffixes() -> None:
    write("specs/a.yaml", "name: a\n")
    write("specs/notes.txt", "name: not-a-spec\n")
    write("specs/b.json", '{"name": "not-a-spec-either"}\n')

    specs = load_specs(["specs"])

    assert [e.name for e in specs.endpoints] == ["a"]


def test_hidden_directories_and_files_are_skipped() -> None:
    write("specs/a.yaml", "name: visible\n")
    write("specs/.git/config.yaml", "name: in-git\n")
    write("specs/team/.cache/old.yaml", "name: cached\n")
    write("specs/.draft.yaml", "name: draft\n")

    specs = load_specs(["specs"])

    assert [e.name for e in specs.endpoints] == ["visible"]


def test_a_hidden_directory_named_directly_is_searched() -> None:
    write(".specs/a.yaml", "name: a\n")

    assert [e.name for e in load_specs([".specs"]).endpoints] == ["a"]


def test_a_file_named_directly_loads_whatever_its_suffix() -> None:
    write("endpoint.spec", "name: a\n")

    assert [e.name for e in load_specs(["endpoint.spec"]).endpoints] == ["a"]


def test_the_same_file_given_twice_is_loaded_once() -> None:
    write("specs/a.yaml", "name: a\n")

    specs = load_specs(["specs/a.yaml", "specs", "./specs/a.yaml"])

    assert specs.files == ["specs/a.yaml"]
    assert [e.name for e in specs.endpoints] == ["a"]


def test_a_symlink_to_a_file_already_loaded_is_skipped() -> None:
    write("specs/a.yaml", "name: a\n")
    os.symlink("a.yaml", "specs/link.yaml")

    specs = load_specs(["specs"])

    assert [e.name for e in specs.endpoints] == ["a"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_is_refused_rather_than_read() -> None:
    os.mkfifo("pipe.yaml")

    assert error_lines("pipe.yaml") == [
        "pipe.yaml: not a regular file; name a spec file"
    ]


def test_a_missing_path_is_an_error() -> None:
    assert error_lines("nowhere") == ["nowhere: no such file or directory"]


def test_a_directory_without_yaml_is_an_error() -> None:
    write("specs/readme.txt", "nothing here\n")

    assert error_lines("specs") == ["specs: no .yaml or .yml files in this directory"]


def test_path_problems_do_not_hide_each_other() -> None:
    write("empty/readme.txt", "nothing here\n")
    write("good.yaml", "name: a\n")

    lines = error_lines("good.yaml", "nowhere", "empty")

    assert lines == [
        "nowhere: no such file or directory",
        "empty: no .yaml or .yml files in this directory",
    ]


# Documents and endpoints


def test_list_form_and_single_endpoint_form_declare_the_same() -> None:
    listed = load_one(
        "endpoints:\n  - name: a\n    image: x\n    worker_config:\n      gpu_num: 1\n",
        "listed.yaml",
    )
    single = load_one(
        "name: a\nimage: x\nworker_config:\n  gpu_num: 1\n", "single.yaml"
    )

    assert listed.name == single.name == "a"
    assert (
        listed.fields
        == single.fields
        == {
            "image": "x",
            "worker_config": {"gpu_num": 1},
        }
    )


def test_name_and_id_are_kept_apart_from_fields() -> None:
    endpoint = load_one("name: a\nid: ep-123\nimage: x\n")

    assert (endpoint.name, endpoint.id) == ("a", "ep-123")
    assert endpoint.fields == {"image": "x"}


def test_source_is_where_the_endpoint_starts() -> None:
    specs = load_specs(
        [write("spec.yaml", "# comment\nendpoints:\n  - name: a\n\n  - name: b\n")]
    )

    assert [e.source for e in specs.endpoints] == [
        Location("spec.yaml", 3, 5),
        Location("spec.yaml", 5, 5),
    ]


def test_file_with_only_comments_warns_that_it_declares_nothing() -> None:
    write("specs/a.yaml", "name: a\n")
    write("specs/b.yaml", "# yaml-language-server: $schema=../schema.json\n# soon\n")

    specs = load_specs(["specs"])

    assert [e.name for e in specs.endpoints] == ["a"]
    assert specs.warnings == [
        f"{os.path.join('specs', 'b.yaml')}: declares no endpoints"
    ]


def test_no_endpoints_anywhere_is_an_error() -> None:
    write("specs/a.yaml", "# nothing yet\n")
    write("specs/b.yaml", "---\n---\n")

    assert error_lines("specs") == [
        "specs: no endpoints declared; a spec document is `endpoints:` with a list, "
        "or one endpoint with `name:`"
    ]


def test_an_empty_endpoints_list_declares_nothing() -> None:
    assert error_lines(write("spec.yaml", "endpoints: []\n")) == [
        "spec.yaml: no endpoints declared; a spec document is `endpoints:` with a "
        "list, or one endpoint with `name:`"
    ]


def test_a_document_that_is_a_list_is_refused() -> None:
    assert only_error("- name: a\n") == (
        "spec.yaml:1:1: a spec document must be a mapping: either `endpoints:` with "
        "a list, or one endpoint with `name:`; got a list"
    )


def test_endpoints_must_be_a_list() -> None:
    assert only_error("endpoints:\n  name: a\n") == (
        "spec.yaml:1:1: endpoints: expected a list, got a mapping"
    )


def test_document_wrapper_allows_nothing_beside_endpoints() -> None:
    assert only_error("endpoints:\n  - name: a\nimage: x\n") == (
        "spec.yaml:3:1: image: unknown field 'image'"
    )


# The example every user meets first


TEAM_YAML = """\
# yaml-language-server: $schema=../schemas/endpoint-spec.schema.json
# Search team endpoints: the reranker and the embedder behind it.
endpoints:
  - name: reranker
    image: registry.example.com/search/rerank:1.2
    worker_config:
      max_replicas: 2
    envs:
      MODEL: "bge-reranker-v2"

  - name: embedder
    image: registry.example.com/search/embed:3.0
    worker_config:
      max_replicas: two
"""


@pytest.mark.parametrize("given", ["endpoints", "endpoints/team.yaml"])
def test_the_documented_error_line(given: str) -> None:
    write("endpoints/team.yaml", TEAM_YAML)

    assert error_lines(given) == [
        "endpoints/team.yaml:14:7: embedder: worker_config.max_replicas: "
        "expected an integer, got 'two'"
    ]


def test_problems_name_the_endpoint_by_its_position_when_it_has_no_name() -> None:
    text = "endpoints:\n  - name: a\n  - image: x\n    worker_config: {gpu_num: one}\n"

    lines = error_lines(write("spec.yaml", text))

    assert lines == [
        "spec.yaml:3:5: endpoints[1]: missing required field 'name'",
        "spec.yaml:4:21: endpoints[1]: worker_config.gpu_num: expected an integer, "
        "got 'one'",
    ]


def test_problems_of_one_file_come_in_line_order() -> None:
    text = (
        "endpoints:\n"
        "  - name: a\n"
        "    imgae: x\n"
        "  - name: b\n"
        "    worker_config:\n"
        "      max_replicas: two\n"
        "  - name: c\n"
        "    type: batch\n"
    )

    lines = error_lines(write("spec.yaml", text))

    assert [line.split(": ", 2)[:2] for line in lines] == [
        ["spec.yaml:3:5", "a"],
        ["spec.yaml:6:7", "b"],
        ["spec.yaml:8:5", "c"],
    ]


# Envs


def test_envs_mapping_and_list_forms_mean_the_same() -> None:
    mapping = load_one(
        'name: a\nenvs:\n  MODEL: "m"\n  HF_TOKEN: "t"\n', "mapping.yaml"
    )
    listed = load_one(
        "name: a\n"
        "envs:\n"
        "  - key: MODEL\n"
        '    value: "m"\n'
        "  - {key: HF_TOKEN, value: t}\n",
        "list.yaml",
    )

    assert (
        mapping.fields["envs"]
        == listed.fields["envs"]
        == {
            "MODEL": "m",
            "HF_TOKEN": "t",
        }
    )


@pytest.mark.parametrize(
    ("raw", "yaml_type"),
    [("yes", "a boolean"), ("8080", "an integer"), ("12.4", "a number")],
)
def test_unquoted_env_value_must_be_quoted_and_is_not_printed(
    raw: str, yaml_type: str
) -> None:
    line = only_error(f"name: a\nenvs:\n  MODEL: m\n  PORT_OR_FLAG: {raw}\n")

    assert line == (
        f"spec.yaml:4:3: a: envs.PORT_OR_FLAG: expected a string, got {yaml_type} "
        f"(YAML reads the unquoted value as {yaml_type}); quote it"
    )
    assert raw not in line


@pytest.mark.parametrize(
    ("raw", "yaml_type"),
    [("yes", "a boolean"), ("8080", "an integer"), ("12.4", "a number")],
)
def test_unquoted_env_value_in_list_form_must_be_quoted_and_is_not_printed(
    raw: str, yaml_type: str
) -> None:
    line = only_error(f"name: a\nenvs:\n  - key: SETTING\n    value: {raw}\n")

    assert line == (
        f"spec.yaml:4:5: a: envs[0].value: expected a string, got {yaml_type} "
        f"(YAML reads the unquoted value as {yaml_type}); quote it"
    )
    assert raw not in line


def test_a_secret_env_value_of_the_wrong_type_is_never_printed() -> None:
    line = only_error("name: a\nenvs:\n  HF_TOKEN: 918273645546372819\n")

    assert "918273645546372819" not in line
    assert line.startswith("spec.yaml:3:3: a: envs.HF_TOKEN: expected a string")


def test_envs_that_are_one_string_do_not_print_it() -> None:
    line = only_error("name: a\nenvs: HF_TOKEN=hf_abcdef\n")

    assert "hf_abcdef" not in line
    assert line.startswith("spec.yaml:2:1: a: envs: ")


def test_unquoted_date_like_env_value_must_be_quoted() -> None:
    # YAML turns 2024-06-01 into a date just as it turns 8080 into a number.
    line = only_error('name: a\nenvs:\n  MODEL: "m"\n  MODEL_REVISION: 2024-06-01\n')

    assert line == (
        "spec.yaml:4:3: a: envs.MODEL_REVISION: expected a string, got a date "
        "(YAML reads the unquoted value as a date); quote it"
    )


def test_duplicate_env_key_in_list_form_names_both_lines() -> None:
    text = (
        "name: a\n"
        "envs:\n"
        "  - key: HF_TOKEN\n"
        '    value: "first"\n'
        "  - key: MODEL\n"
        '    value: "m"\n'
        "  - key: HF_TOKEN\n"
        '    value: "second"\n'
    )

    line = only_error(text)

    assert line == (
        "spec.yaml:7: a: envs[2]: env 'HF_TOKEN' is declared twice (first at line 3)"
    )


def test_duplicate_env_key_in_mapping_form_is_a_duplicate_key() -> None:
    line = only_error('name: a\nenvs:\n  MODEL: "a"\n  MODEL: "b"\n')

    assert line.startswith("spec.yaml:4:3: duplicate key 'MODEL' (first at line 3)")


def test_empty_env_name_is_refused() -> None:
    line = only_error('name: a\nenvs:\n  "": "x"\n')

    assert line.startswith("spec.yaml:2:1: a: envs: ")
    assert "empty" in line


# Other field checks


def test_min_cuda_version_written_as_a_number_shows_how_to_quote_it() -> None:
    line = only_error("name: a\nworker_config:\n  min_cuda_version: 12.10\n")

    assert line == (
        "spec.yaml:3:3: a: worker_config.min_cuda_version: expected a string, "
        'got 12.1 (YAML reads the unquoted value as a number); quote it: "12.10"'
    )


def test_unquoted_date_outside_envs_shows_how_to_quote_it() -> None:
    assert only_error("name: a\nimage: 2024-06-01\n") == (
        "spec.yaml:2:1: a: image: expected a string, got 2024-06-01 (YAML reads the "
        'unquoted value as a date); quote it: "2024-06-01"'
    )


def test_quote_hint_ignores_a_trailing_comment_and_flow_braces() -> None:
    block = only_error(
        "name: a\nworker_config:\n  min_cuda_version: 12.10  # driver 550\n",
        "block.yaml",
    )
    flow = only_error(
        "name: a\nworker_config: {gpu_num: 1, min_cuda_version: 12.10}\n",
        "flow.yaml",
    )

    assert block.endswith('quote it: "12.10"')
    assert flow.startswith("flow.yaml:2:29: ")
    assert flow.endswith('quote it: "12.10"')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "name: a\nworker_config:\n  max_replica: 2\n",
            "spec.yaml:3:3: a: worker_config.max_replica: unknown field "
            "'max_replica' (did you mean 'max_replicas'?)",
            id="max_replica",
        ),
        pytest.param(
            "name: a\nimgae: x\n",
            "spec.yaml:2:1: a: imgae: unknown field 'imgae' (did you mean 'image'?)",
            id="imgae",
        ),
        pytest.param(
            "name: a\nhealth_check:\n  paht: /health\n",
            "spec.yaml:3:3: a: health_check.paht: unknown field 'paht' "
            "(did you mean 'path'?)",
            id="health_check.paht",
        ),
    ],
)
def test_unknown_field_suggests_the_closest_known_one(text: str, expected: str) -> None:
    assert only_error(text) == expected


def test_unknown_field_without_a_close_match_has_no_suggestion() -> None:
    assert only_error("name: a\nzebra_stripes: 4\n") == (
        "spec.yaml:2:1: a: zebra_stripes: unknown field 'zebra_stripes'"
    )


@pytest.mark.parametrize("field", READ_ONLY_FIELDS)
def test_read_only_fields_are_refused(field: str) -> None:
    assert only_error(f"name: a\n{field}: anything\n") == (
        f"spec.yaml:2:1: a: {field}: read-only: the API reports this field, "
        "a spec cannot declare it"
    )


def test_every_read_only_field_the_api_reports_is_listed() -> None:
    assert set(READ_ONLY_FIELDS) == {
        "status",
        "url",
        "workers",
        "member_id",
        "owner_id",
        "created_at",
    }


def test_name_is_required() -> None:
    assert only_error("image: x\n") == "spec.yaml:1:1: missing required field 'name'"


def test_name_must_not_be_empty() -> None:
    assert (
        only_error('name: ""\nimage: x\n') == "spec.yaml:1:1: name: must not be empty"
    )


def test_name_written_as_a_number_must_be_quoted() -> None:
    assert only_error("name: 2024\n") == (
        "spec.yaml:1:1: name: expected a string, got 2024 (YAML reads the unquoted "
        'value as an integer); quote it: "2024"'
    )


def test_type_must_be_sync_or_async() -> None:
    assert only_error("name: a\ntype: batch\n") == (
        "spec.yaml:2:1: a: type: expected one of 'sync', 'async', got 'batch'"
    )


def test_policy_type_must_be_queue_or_concurrency() -> None:
    assert only_error("name: a\npolicy:\n  type: fifo\n  value: 3\n") == (
        "spec.yaml:3:3: a: policy.type: expected one of 'queue', 'concurrency', "
        "got 'fifo'"
    )


def test_ports_out_of_range_are_each_reported() -> None:
    lines = error_lines(write("spec.yaml", "name: a\nports: [0, 8000, 65536]\n"))

    assert lines == [
        "spec.yaml:2:9: a: ports[0]: must be at least 1, got 0",
        "spec.yaml:2:18: a: ports[2]: must be at most 65535, got 65536",
    ]


def test_health_check_port_out_of_range() -> None:
    assert only_error("name: a\nhealth_check:\n  port: 70000\n") == (
        "spec.yaml:3:3: a: health_check.port: must be at most 65535, got 70000"
    )


def test_negative_replicas_are_refused() -> None:
    assert only_error("name: a\nworker_config:\n  min_replicas: -1\n") == (
        "spec.yaml:3:3: a: worker_config.min_replicas: must be at least 0, got -1"
    )


def test_duplicate_mount_point_names_both_lines() -> None:
    text = (
        "name: a\n"
        "volumes:\n"
        "  - mount_point: /data\n"
        "    size: 10\n"
        "  - mount_point: /models\n"
        "  - mount_point: /data\n"
        "    size: 20\n"
    )

    assert only_error(text) == (
        "spec.yaml:6: a: volumes[2]: mount_point '/data' is declared twice "
        "(first at line 3)"
    )


def test_volume_needs_a_mount_point() -> None:
    assert only_error("name: a\nvolumes:\n  - size: 10\n") == (
        "spec.yaml:3:5: a: volumes[0]: missing required field 'mount_point'"
    )


# Names and ids across the run


def test_same_name_twice_in_one_file_names_both_places() -> None:
    text = "endpoints:\n  - name: chat\n    image: x\n  - name: chat\n    image: y\n"

    assert error_lines(write("spec.yaml", text)) == [
        "spec.yaml:4:5: chat: endpoint declared twice: also at spec.yaml:2"
    ]


def test_same_name_in_two_files_names_both_places() -> None:
    write("specs/a.yaml", "# first\nname: chat\n")
    write("specs/b.yaml", "name: other\n---\nname: chat\n")

    assert error_lines("specs") == [
        f"{os.path.join('specs', 'b.yaml')}:3:1: chat: endpoint declared twice: "
        f"also at {os.path.join('specs', 'a.yaml')}:2"
    ]


def test_same_id_twice_names_both_places() -> None:
    write("a.yaml", "name: chat\nid: ep-1\n")
    write("b.yaml", "name: chat-v2\nid: ep-1\n")

    assert error_lines("a.yaml", "b.yaml") == [
        "b.yaml:1:1: chat-v2: id 'ep-1' is declared twice: also at a.yaml:1 (chat)"
    ]


def test_problems_from_every_file_are_reported_together() -> None:
    write("specs/a.yaml", "name: a\ntype: batch\n")
    write("specs/b.yaml", "name: b\nstatus: running\n")

    lines = error_lines("specs")

    assert [line.split(":", 1)[0] for line in lines] == [
        os.path.join("specs", "a.yaml"),
        os.path.join("specs", "b.yaml"),
    ]


# Where each field was written


def test_lines_map_field_paths_to_their_lines() -> None:
    endpoint = load_one(
        "name: a\n"
        "image: x\n"
        "worker_config:\n"
        "  gpu_num: 1\n"
        "  max_replicas: 3\n"
        "envs:\n"
        '  MODEL: "m"\n'
        '  HF_TOKEN: "t"\n'
        "volumes:\n"
        "  - mount_point: /models\n"
        "  - mount_point: /data\n"
        "    size: 50\n"
    )

    assert endpoint.lines["image"] == 2
    assert endpoint.lines["worker_config"] == 3
    assert endpoint.lines["worker_config.max_replicas"] == 5
    assert endpoint.lines["envs.HF_TOKEN"] == 8
    assert endpoint.lines["volumes[/data]"] == 11
    assert endpoint.lines["volumes[/data].size"] == 12


def test_lines_of_envs_in_list_form_point_at_the_item() -> None:
    endpoint = load_one(
        "name: a\n"
        "envs:\n"
        "  - key: MODEL\n"
        '    value: "m"\n'
        "  - key: HF_TOKEN\n"
        '    value: "t"\n'
    )

    assert endpoint.lines["envs.MODEL"] == 3
    assert endpoint.lines["envs.HF_TOKEN"] == 5


def test_location_of_a_declared_path_is_its_own_line() -> None:
    endpoint = load_one("name: a\nworker_config:\n  gpu_num: 1\n  max_replicas: 3\n")

    assert endpoint.location_of("worker_config.max_replicas") == Location(
        "spec.yaml", 4
    )


def test_location_of_an_undeclared_path_falls_back_to_its_parent() -> None:
    endpoint = load_one(
        "name: a\n"
        "worker_config:\n"
        "  max_replicas: 3\n"
        "envs:\n"
        '  MODEL: "m"\n'
        "volumes:\n"
        "  - mount_point: /data\n"
    )

    assert endpoint.location_of("worker_config.idle_timeout") == Location(
        "spec.yaml", 2
    )
    assert endpoint.location_of("envs.NOT_DECLARED") == Location("spec.yaml", 4)
    assert endpoint.location_of("volumes[/data].size") == Location("spec.yaml", 7)


def test_location_of_an_undeclared_volume_falls_back_to_volumes() -> None:
    endpoint = load_one(
        "name: a\nimage: x\nvolumes:\n  - mount_point: /data\n    size: 10\n"
    )

    assert endpoint.location_of("volumes[/cache]") == Location("spec.yaml", 3)


def test_location_of_a_field_not_declared_at_all_is_the_endpoint() -> None:
    endpoint = load_one("# header\nname: a\nimage: x\n")

    assert endpoint.location_of("command") == endpoint.source
    assert endpoint.source.line == 2


# The schema


def test_the_shipped_schema_is_the_repository_copy() -> None:
    shipped = (
        resources.files("driftcheck.schemas")
        .joinpath("endpoint-spec.schema.json")
        .read_text("utf-8")
    )
    in_repo = (REPO / "schemas" / "endpoint-spec.schema.json").read_text("utf-8")

    assert shipped == in_repo
    assert schema_text("endpoint-spec.schema.json") == in_repo


def test_the_shipped_schema_is_a_valid_json_schema() -> None:
    schema = json.loads(schema_text("endpoint-spec.schema.json"))

    Draft202012Validator.check_schema(schema)
    assert set(schema["$defs"]["endpoint"]["properties"]) >= {
        "name",
        "id",
        "worker_config",
        "envs",
        "volumes",
        *READ_ONLY_FIELDS,
    }


def test_a_float_where_an_integer_belongs_is_refused() -> None:
    # JSON Schema would take 2.0 as an integer; live says 2, so it would then show
    # as a false drift on every run.
    assert only_error("name: a\nworker_config:\n  max_replicas: 2.0\n") == (
        "spec.yaml:3:3: a: worker_config.max_replicas: expected an integer, got 2.0"
    )
