"""The SARIF report: valid SARIF 2.1.0 that GitHub code scanning accepts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator
from jsonschema.validators import validator_for

from driftcheck import __version__
from driftcheck.formats import ReportOptions, render
from driftcheck.formats.sarif import (
    FINGERPRINT_KEY,
    artifact_location,
    fingerprint,
    repository_root,
    to_document,
)
from driftcheck.model import (
    Capacity,
    CheckResult,
    Difference,
    EndpointResult,
    Location,
    Resolved,
    Suppression,
)

from .conftest import REFERENCE, REPO, RunCli

SARIF_SCHEMA = REFERENCE / "sarif-schema-2.1.0.json"
NASTY = "a]]>b<c>&d\x1be[0m\x00f\u202eg\nh\ud800"


@pytest.fixture(scope="module")
def validator() -> Draft4Validator:
    if not SARIF_SCHEMA.is_file():
        pytest.fail(f"the SARIF schema is missing: {SARIF_SCHEMA}")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    # The OASIS schema declares draft-04; validate by the draft it names.
    assert validator_for(schema) is Draft4Validator
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository root that is also the cwd, where relative spec paths start."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def assert_valid(validator: Draft4Validator, document: Any) -> None:
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(
        f"{list(e.absolute_path)}: {e.message}" for e in errors
    )


def assert_code_scanning_ready(document: dict[str, Any]) -> None:
    """What GitHub needs beyond the schema: a file location on every result."""
    run = document["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"]
        assert physical["region"]["startLine"] >= 1
        assert result["partialFingerprints"][FINGERPRINT_KEY]


def strings(value: Any) -> list[str]:
    """Every string in a JSON document, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def run_sarif(run_cli: RunCli, *args: str) -> dict[str, Any]:
    result = run_cli(
        "check",
        "examples/endpoints",
        "--live-file",
        "examples/live-endpoints.json",
        "--format",
        "sarif",
        *args,
        cwd=REPO,
        env={"GITHUB_WORKSPACE": str(REPO)},
    )
    assert result.code == 1, result.stderr
    assert result.stderr == ""
    assert "hf_" not in result.stdout
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def find(document: dict[str, Any], path: str) -> dict[str, Any]:
    (found,) = [
        r
        for r in document["runs"][0]["results"]
        if r.get("properties", {}).get("path") == path
    ]
    return found


# --- end to end ----------------------------------------------------------------------


def test_cli_report_is_valid_sarif(run_cli: RunCli, validator: Draft4Validator) -> None:
    document = run_sarif(run_cli)

    assert_valid(validator, document)
    assert_code_scanning_ready(document)
    driver = document["runs"][0]["tool"]["driver"]
    assert driver["name"] == "driftcheck"
    assert driver["version"] == __version__
    assert {"DC001", "DC004", "DC005"} <= {rule["id"] for rule in driver["rules"]}

    replicas = find(document, "worker_config.max_replicas")
    physical = replicas["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {
        "uri": "examples/endpoints/llm/chat.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    assert physical["region"]["startLine"] == 48
    assert replicas["ruleId"] == "DC001"
    assert replicas["level"] == "error"
    assert "3" in replicas["message"]["text"]
    assert "6" in replicas["message"]["text"]


def test_cli_counts_every_finding(run_cli: RunCli) -> None:
    results = run_sarif(run_cli)["runs"][0]["results"]

    by_rule: dict[str, int] = {}
    for result in results:
        by_rule[result["ruleId"]] = by_rule.get(result["ruleId"], 0) + 1
    # 11 differences on 4 drifted endpoints, 1 missing, 2 unmanaged.
    assert sum(by_rule.get(r, 0) for r in ("DC001", "DC002", "DC003")) == 11
    assert by_rule["DC004"] == 1
    assert by_rule["DC005"] == 2
    missing = next(r for r in results if r["ruleId"] == "DC004")
    region = missing["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == 71


def test_cli_fingerprints_are_stable_across_runs(run_cli: RunCli) -> None:
    first = run_sarif(run_cli)["runs"][0]["results"]
    second = run_sarif(run_cli)["runs"][0]["results"]

    prints = [r["partialFingerprints"] for r in first]
    assert prints == [r["partialFingerprints"] for r in second]
    values = [p[FINGERPRINT_KEY] for p in prints]
    assert len(set(values)) == len(values)


def test_cli_redacts_secrets(run_cli: RunCli) -> None:
    token = find(run_sarif(run_cli), "envs.HF_TOKEN")

    assert "withheld" in token["message"]["text"]
    assert "hf_" not in json.dumps(token)


def test_cli_paths_are_relative_to_the_enclosing_repository(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / ".git").mkdir()
    deploy = tmp_path / "deploy"
    shutil.copytree(REPO / "examples" / "endpoints", deploy / "specs")
    shutil.copy(REPO / "examples" / "live-endpoints.json", deploy / "live.json")

    result = run_cli(
        "check",
        "specs",
        "--live-file",
        "live.json",
        "--format",
        "sarif",
        cwd=deploy,
        env={"GITHUB_WORKSPACE": None},
    )

    assert result.code == 1, result.stderr
    replicas = find(json.loads(result.stdout), "worker_config.max_replicas")
    physical = replicas["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "deploy/specs/llm/chat.yaml"
    assert physical["region"]["startLine"] == 48


# --- in memory -----------------------------------------------------------------------


def nasty_result(policy: str = "warn") -> CheckResult:
    spec = Location(f"specs/{NASTY}.yaml", 3)
    return CheckResult(
        [
            EndpointResult(
                NASTY,
                NASTY,
                "drifted",
                spec,
                [
                    Difference(
                        f"envs.{NASTY}",
                        "changed",
                        NASTY,
                        [NASTY, 1],
                        False,
                        Location(spec.file, 9),
                    ),
                    Difference("envs.API_TOKEN", "changed", None, None, True, None),
                    Difference("ports", "missing", [1], None, False, spec),
                    Difference("volumes[/x]", "extra", None, {"a": NASTY}, False, spec),
                ],
            ),
            EndpointResult("gone", None, "missing", Location("specs/b.yaml", 0)),
            EndpointResult(NASTY, "ep-1", "unmanaged", None),
        ],
        unmanaged_policy=policy,  # type: ignore[arg-type]
    )


def test_nasty_strings_stay_valid(validator: Draft4Validator, root: Path) -> None:
    result = nasty_result()
    text = json.dumps(to_document(result, root))

    document = json.loads(text)
    assert_valid(validator, document)
    assert_code_scanning_ready(document)
    assert all(text.isprintable() for text in strings(document))
    messages = [r["message"]["text"] for r in document["runs"][0]["results"]]
    assert "\\x1b" in messages[0]
    assert "\\x00" in messages[0]
    assert "a]]>b<c>&d" in messages[0]


def test_embedded_links_are_escaped(root: Path) -> None:
    result = CheckResult([EndpointResult("[x](0)", None, "missing", Location("a", 1))])

    (found,) = to_document(result, root)["runs"][0]["results"]

    assert found["message"]["text"].startswith("\\[x\\](0) is declared")


def test_render_is_json_with_nasty_strings(
    validator: Draft4Validator, monkeypatch: pytest.MonkeyPatch, root: Path
) -> None:
    monkeypatch.setenv("GITHUB_WORKSPACE", str(root))

    text = render("sarif", nasty_result(), ReportOptions())

    assert text.endswith("}\n")
    text.encode("utf-8")  # no lone surrogate survives
    assert_valid(validator, json.loads(text))


def test_redacted_values_never_appear(root: Path) -> None:
    result = CheckResult(
        [
            EndpointResult(
                "e",
                "ep-1",
                "drifted",
                Location("a.yaml", 1),
                [Difference("envs.KEY", "changed", "s3cr3t-d", "s3cr3t-l", True)],
            )
        ]
    )
    text = json.dumps(to_document(result, root))

    assert "s3cr3t" not in text
    assert "withheld" in text


@pytest.mark.parametrize(("policy", "level"), [("warn", "warning"), ("fail", "error")])
def test_unmanaged_level_follows_policy(policy: str, level: str, root: Path) -> None:
    document = to_document(nasty_result(policy), root)

    (unmanaged,) = [r for r in document["runs"][0]["results"] if r["ruleId"] == "DC005"]
    assert unmanaged["level"] == level
    location = unmanaged["locations"][0]
    # Anchored at the first spec file of the run, named logically as well.
    assert location["physicalLocation"]["region"] == {"startLine": 1}
    assert location["physicalLocation"]["artifactLocation"]["uri"].startswith("specs/")
    assert location["logicalLocations"][0]["kind"] == "resource"


def test_unmanaged_without_any_spec_file_become_notifications(
    validator: Draft4Validator, root: Path
) -> None:
    result = CheckResult(
        [EndpointResult("stray", "ep-9", "unmanaged", None)], unmanaged_policy="fail"
    )
    document = to_document(result, root)

    assert_valid(validator, document)
    run = document["runs"][0]
    assert run["results"] == []
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "error"
    assert note["associatedRule"]["id"] == "DC005"
    assert "stray (ep-9)" in note["message"]["text"]


def test_in_sync_has_empty_results(validator: Draft4Validator, root: Path) -> None:
    result = CheckResult(
        [EndpointResult("ok", "ep-1", "in_sync", Location("a.yaml", 1))]
    )
    document = to_document(result, root)

    assert_valid(validator, document)
    assert document["runs"][0]["results"] == []
    assert "invocations" not in document["runs"][0]


# --- suppressed and unknown ----------------------------------------------------------


def one_endpoint(*differences: Difference) -> CheckResult:
    endpoint = EndpointResult("e", "ep-1", "drifted", Location("a.yaml", 1))
    endpoint.differences = list(differences)
    endpoint.settle()
    return CheckResult([endpoint])


def results_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = document["runs"][0]["results"]
    return found


def test_suppressed_difference_is_a_dismissed_result(
    validator: Draft4Validator, root: Path
) -> None:
    image = Difference("image", "changed", "v1", "v2", False, Location("a.yaml", 5))
    image.suppressed = Suppression("pinned by the platform team", "driftcheck.yaml:7")
    replicas = Difference("worker_config.max_replicas", "changed", 3, 6)
    document = to_document(one_endpoint(image, replicas), root)

    assert_valid(validator, document)
    assert_code_scanning_ready(document)
    ignored, counted = results_of(document)
    assert ignored["suppressions"] == [
        {
            "kind": "external",
            "justification": "pinned by the platform team (driftcheck.yaml:7)",
        }
    ]
    assert "suppressions" not in counted
    assert ignored["ruleId"] == "DC001"
    assert ignored["level"] == "error"
    region = ignored["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 5}


def test_endpoint_whose_only_difference_is_suppressed_keeps_its_result(
    validator: Draft4Validator, root: Path
) -> None:
    ports = Difference("ports", "missing", [80], None, False, Location("a.yaml", 4))
    ports.suppressed = Suppression("ports move", "--ignore")
    result = one_endpoint(ports)
    document = to_document(result, root)

    assert result.endpoints[0].state == "in_sync"
    assert_valid(validator, document)
    (found,) = results_of(document)
    assert found["ruleId"] == "DC002"
    assert found["suppressions"] == [
        {"kind": "external", "justification": "ports move (--ignore)"}
    ]


def test_suppression_keeps_the_fingerprint(root: Path) -> None:
    plain = Difference("image", "changed", "v1", "v2", False, Location("a.yaml", 5))
    ignored = Difference("image", "changed", "v1", "v2", False, Location("a.yaml", 5))
    ignored.suppressed = Suppression("why", "--ignore")

    assert print_of(one_endpoint(ignored), root) == print_of(one_endpoint(plain), root)
    assert print_of(one_endpoint(plain), root) == fingerprint("DC001", "e", "image")


def test_suppressed_secret_and_hostile_reason_stay_safe(
    validator: Draft4Validator, root: Path
) -> None:
    token = Difference("envs.TOKEN", "changed", "s3cr3t-d", "s3cr3t-l", True)
    token.suppressed = Suppression(NASTY, f"{NASTY}.yaml:3")
    text = json.dumps(to_document(one_endpoint(token), root))

    document = json.loads(text)
    assert_valid(validator, document)
    assert "s3cr3t" not in text
    assert all(text.isprintable() for text in strings(document))
    (found,) = results_of(document)
    justification = found["suppressions"][0]["justification"]
    assert justification.startswith("a]]>b<c>&d\\x1be[0m\\x00f")


def test_unknown_difference_is_a_note_with_its_own_rule(
    validator: Draft4Validator, root: Path
) -> None:
    token = Difference("envs.HF_TOKEN", "unknown", None, None, True)
    token.source = Location("a.yaml", 12)
    result = one_endpoint(token)
    document = to_document(result, root)

    assert result.endpoints[0].state == "unknown"
    assert_valid(validator, document)
    assert_code_scanning_ready(document)
    (found,) = results_of(document)
    assert found["ruleId"] == "DC006"
    assert found["level"] == "note"
    assert "suppressions" not in found
    assert found["message"]["text"] == (
        "e (ep-1): envs.HF_TOKEN was not compared: its live value was withheld in a "
        "redacted snapshot"
    )
    assert found["partialFingerprints"][FINGERPRINT_KEY] == fingerprint(
        "DC006", "e", "envs.HF_TOKEN"
    )
    rule = document["runs"][0]["tool"]["driver"]["rules"][found["ruleIndex"]]
    assert rule["name"] == "FieldUnknown"
    assert rule["defaultConfiguration"] == {"level": "note"}
    assert "redacted snapshot" in rule["fullDescription"]["text"]
    assert "not a snapshot" in rule["help"]["text"]


def test_existing_rules_keep_their_index() -> None:
    document = to_document(CheckResult([]), Path("."))
    rules = [rule["id"] for rule in document["runs"][0]["tool"]["driver"]["rules"]]
    assert rules[:6] == ["DC001", "DC002", "DC003", "DC004", "DC005", "DC006"]
    assert rules[6:] == ["DC007", "DC008", "DC009", "DC010"]


# --- fingerprints --------------------------------------------------------------------


def drifted(path: str, line: int, declared: Any, live: Any) -> CheckResult:
    difference = Difference(
        path, "changed", declared, live, False, Location("a.yaml", line)
    )
    return CheckResult(
        [EndpointResult("e", "ep-1", "drifted", Location("a.yaml", 1), [difference])]
    )


def print_of(result: CheckResult, root: Path) -> str:
    document = to_document(result, root)
    value: str = document["runs"][0]["results"][0]["partialFingerprints"][
        FINGERPRINT_KEY
    ]
    return value


def test_fingerprint_ignores_lines_and_values(root: Path) -> None:
    base = print_of(drifted("worker_config.max_replicas", 48, 3, 6), root)

    assert print_of(drifted("worker_config.max_replicas", 48, 3, 6), root) == base
    assert print_of(drifted("worker_config.max_replicas", 52, 3, 6), root) == base
    assert print_of(drifted("worker_config.max_replicas", 48, 3, 7), root) == base


def test_fingerprint_differs_by_path_endpoint_and_rule(root: Path) -> None:
    base = print_of(drifted("worker_config.max_replicas", 48, 3, 6), root)

    assert print_of(drifted("worker_config.min_replicas", 48, 3, 6), root) != base
    assert fingerprint("DC001", "e", "a.b") != fingerprint("DC001", "f", "a.b")
    assert fingerprint("DC001", "e", "a.b") != fingerprint("DC002", "e", "a.b")
    # Parts are delimited: moving text from one part to the next changes the print.
    assert fingerprint("DC001", "ab", "c") != fingerprint("DC001", "a", "bc")


# --- paths ---------------------------------------------------------------------------


def test_root_is_github_workspace_when_set(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    workspace = tmp_path / "ws"

    root = repository_root({"GITHUB_WORKSPACE": str(workspace)}, tmp_path)

    assert root == workspace


def test_root_is_nearest_parent_with_git(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)

    assert repository_root({}, inner) == tmp_path
    assert repository_root({"GITHUB_WORKSPACE": ""}, inner) == tmp_path


def test_root_accepts_a_git_file(tmp_path: Path) -> None:
    # A worktree or submodule has a .git file, not a directory.
    (tmp_path / ".git").write_text("gitdir: elsewhere\n")
    inner = tmp_path / "sub"
    inner.mkdir()

    assert repository_root({}, inner) == tmp_path


def test_root_defaults_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parents_with_git = [p for p in tmp_path.parents if (p / ".git").exists()]
    if parents_with_git:
        pytest.fail(f"tmp_path lies inside a git repository: {parents_with_git[0]}")
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)

    assert repository_root() == tmp_path
    assert repository_root({}, tmp_path) == tmp_path


def test_artifact_location_is_relative_to_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs = tmp_path / "deploy" / "specs"
    specs.mkdir(parents=True)
    monkeypatch.chdir(specs)

    assert artifact_location("llm/chat.yaml", tmp_path) == {
        "uri": "deploy/specs/llm/chat.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    assert artifact_location(str(specs / "a b#c.yaml"), tmp_path) == {
        "uri": "deploy/specs/a%20b%23c.yaml",
        "uriBaseId": "%SRCROOT%",
    }
    assert artifact_location("../specs/./x:y.yaml", tmp_path)["uri"] == (
        "deploy/specs/x%3Ay.yaml"
    )


def test_artifact_location_outside_root_is_absolute(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    outside = tmp_path / "elsewhere.yaml"

    location = artifact_location(str(outside), root)

    assert location == {"uri": outside.resolve().as_uri()}


# --- against a base ref --------------------------------------------------------------


def rule_of(document: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = document["runs"][0]["tool"]["driver"]["rules"][
        result["ruleIndex"]
    ]
    return rule


def pull_request() -> CheckResult:
    image = Difference("image", "changed", "v2", "v1", False, Location("a.yaml", 5))
    image.change = "planned"
    replicas = Difference("worker_config.max_replicas", "changed", 3, 6)
    replicas.change = "drift"
    gpus = Difference("worker_config.gpu_num", "changed", 2, 1)
    gpus.change = "conflict"
    result = one_endpoint(image, replicas, gpus)
    result.base_ref = "origin/main"
    return result


def test_planned_changes_are_notes_and_conflicts_errors_of_their_own(
    validator: Draft4Validator, root: Path
) -> None:
    document = to_document(pull_request(), root)

    assert_valid(validator, document)
    assert_code_scanning_ready(document)
    planned, drift, conflict = results_of(document)
    assert (planned["ruleId"], planned["level"]) == ("DC007", "note")
    assert planned["message"]["text"] == (
        'e (ep-1): image is "v2" in the spec but "v1" live; this change sets it, '
        "and the deploy will apply it"
    )
    assert planned["properties"]["change"] == "planned"
    assert rule_of(document, planned)["name"] == "FieldChangePlanned"
    assert (drift["ruleId"], drift["level"]) == ("DC001", "error")
    assert (conflict["ruleId"], conflict["level"]) == ("DC008", "error")
    assert conflict["message"]["text"].endswith(
        "; conflict: live differs both from origin/main and from this change"
    )
    assert rule_of(document, conflict)["defaultConfiguration"] == {"level": "error"}


def test_fingerprints_do_not_follow_planned_drift_or_conflict(root: Path) -> None:
    classified = results_of(to_document(pull_request(), root))
    plain = pull_request()
    for difference in plain.endpoints[0].differences:
        difference.change = None
    unclassified = results_of(to_document(plain, root))

    prints = [r["partialFingerprints"] for r in classified]
    assert prints == [r["partialFingerprints"] for r in unclassified]
    assert prints[2][FINGERPRINT_KEY] == fingerprint(
        "DC001", "e", "worker_config.gpu_num"
    )


def test_planned_creation_and_deletion_are_notes(
    validator: Draft4Validator, root: Path
) -> None:
    deleted = EndpointResult(
        "old", "ep-5", "planned", Location("main:specs/old.yaml", 2), plan="delete"
    )
    created = EndpointResult(
        "new", None, "planned", Location("specs/new.yaml", 3), plan="create"
    )
    result = CheckResult([deleted, created], base_ref="main")
    document = to_document(result, root)

    assert_valid(validator, document)
    assert_code_scanning_ready(document)
    delete, create = results_of(document)
    assert {delete["ruleId"], create["ruleId"]} == {"DC009"}
    assert {delete["level"], create["level"]} == {"note"}
    assert create["message"]["text"] == (
        "new is added by this change and not live yet; the deploy will create it"
    )
    assert create["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": "specs/new.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 3},
    }
    assert delete["message"]["text"] == (
        "old (ep-5) is removed by this change (declared at main:specs/old.yaml:2) "
        "but still live; the deploy will delete it"
    )
    # The deleted spec is at the base ref only: anchored in a file of the checkout.
    physical = delete["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"] == "specs/new.yaml"
    assert physical["region"] == {"startLine": 1}
    # The same identity as the missing and the unmanaged endpoint they would be.
    assert create["partialFingerprints"][FINGERPRINT_KEY] == fingerprint(
        "DC004", "new", ""
    )
    assert delete["partialFingerprints"][FINGERPRINT_KEY] == fingerprint(
        "DC005", "ep-5", ""
    )


def test_planned_deletion_alone_is_a_notification(
    validator: Draft4Validator, root: Path
) -> None:
    deleted = EndpointResult(
        "old", "ep-5", "planned", Location("main:old.yaml", 2), plan="delete"
    )
    document = to_document(CheckResult([deleted], base_ref="main"), root)

    assert_valid(validator, document)
    run = document["runs"][0]
    assert run["results"] == []
    (note,) = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "note"
    assert note["associatedRule"] == {"id": "DC009", "index": 8}


# --- against a baseline --------------------------------------------------------------


def test_baseline_state_says_new_or_unchanged(
    validator: Draft4Validator, root: Path
) -> None:
    known = Difference("image", "changed", "v1", "v2", False, Location("a.yaml", 5))
    known.status, known.first_seen = "known", "2026-11-28T00:00:00Z"
    new = Difference("ports", "missing", [80], None, False, Location("a.yaml", 6))
    new.status, new.first_seen = "new", "2026-12-01T00:00:00Z"
    result = one_endpoint(known, new)
    result.endpoints.append(
        EndpointResult("gone", None, "missing", Location("b.yaml", 1), status="known")
    )
    result.baseline = "drift.json"
    result.resolved = [Resolved("e", "envs.A", "extra", None)]
    document = to_document(result, root)

    assert_valid(validator, document)
    assert [r["baselineState"] for r in results_of(document)] == [
        "unchanged",
        "new",
        "unchanged",
    ]
    assert results_of(document)[0]["properties"]["first_seen"] == (
        "2026-11-28T00:00:00Z"
    )

    result.baseline = None
    assert all("baselineState" not in r for r in results_of(to_document(result, root)))


def test_baseline_state_leaves_the_fingerprint_alone(root: Path) -> None:
    difference = Difference("image", "changed", "v1", "v2", False, Location("a", 5))
    before = print_of(one_endpoint(difference), root)
    difference.status = "new"
    result = one_endpoint(difference)
    result.baseline = "b.json"
    assert print_of(result, root) == before


# --- health and capacity -------------------------------------------------------------


def unhealthy(*warnings: str, required: bool = False) -> CheckResult:
    endpoint = EndpointResult("e", "ep-1", "in_sync", Location("a.yaml", 4))
    endpoint.health = list(warnings)
    return CheckResult([endpoint], require_healthy=required)


@pytest.mark.parametrize(("required", "level"), [(False, "warning"), (True, "error")])
def test_health_warnings_are_one_result_at_the_endpoint(
    validator: Draft4Validator, root: Path, required: bool, level: str
) -> None:
    result = unhealthy(
        'status is "failed": oom', 'worker "w-1" is unhealthy', required=required
    )
    document = to_document(result, root)

    assert_valid(validator, document)
    assert_code_scanning_ready(document)
    (found,) = results_of(document)
    assert (found["ruleId"], found["level"]) == ("DC010", level)
    assert rule_of(document, found)["defaultConfiguration"] == {"level": "warning"}
    assert found["message"]["text"] == (
        'e (ep-1) is not healthy: status is "failed": oom; worker "w-1" is unhealthy'
    )
    assert found["locations"][0]["physicalLocation"]["region"] == {"startLine": 4}
    assert found["partialFingerprints"][FINGERPRINT_KEY] == fingerprint(
        "DC010", "e", ""
    )


def test_hostile_health_text_stays_valid(
    validator: Draft4Validator, root: Path
) -> None:
    text = json.dumps(to_document(unhealthy(NASTY, "[x](javascript:1)"), root))

    document = json.loads(text)
    assert_valid(validator, document)
    assert all(value.isprintable() for value in strings(document))
    (found,) = results_of(document)
    assert "\\x1b" in found["message"]["text"]
    assert "\\[x\\](javascript:1)" in found["message"]["text"]


def test_capacity_fields_say_what_their_drift_does_to_gpus(root: Path) -> None:
    replicas = Difference("worker_config.max_replicas", "changed", 3, 6)
    timeout = Difference("worker_config.idle_timeout", "changed", 60, 30)
    result = one_endpoint(replicas, timeout)
    result.endpoints[0].capacity = Capacity(declared=6, live=12)
    with_capacity, without = results_of(to_document(result, root))

    assert with_capacity["message"]["text"].endswith(
        "; GPU capacity (gpu_num x max_replicas): declared 6, live 12 (+6)"
    )
    assert with_capacity["properties"]["gpu_capacity"] == {
        "declared": 6,
        "live": 12,
        "change": 6,
    }
    assert "GPU" not in without["message"]["text"]
    assert "gpu_capacity" not in without["properties"]
