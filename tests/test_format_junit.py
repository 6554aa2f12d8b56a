"""The JUnit XML report: valid against Jenkins' junit-10 schema, whatever the input."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest
import xmlschema

from driftcheck.formats import ReportOptions, render
from driftcheck.formats.junit import to_element
from driftcheck.model import (
    Capacity,
    Change,
    CheckResult,
    Difference,
    EndpointResult,
    Location,
    State,
    Suppression,
)

from .conftest import REFERENCE, REPO, RunCli

JUNIT_XSD = REFERENCE / "junit-10.xsd"
NASTY = "a]]>b<c>&d\x1be[0m\x00f\u202eg\nh\ud800\r"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema10:
    if not JUNIT_XSD.is_file():
        pytest.fail(f"the JUnit schema is missing: {JUNIT_XSD}")
    return xmlschema.XMLSchema10(str(JUNIT_XSD))


def parse(schema: xmlschema.XMLSchema10, text: str) -> ET.Element:
    """Parse the report as any XML reader would, and validate it."""
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text.encode("utf-8"))
    schema.validate(root)
    return root


def run_junit(run_cli: RunCli, *args: str) -> str:
    result = run_cli(
        "check",
        "examples/endpoints",
        "--live-file",
        "examples/live-endpoints.json",
        "--format",
        "junit",
        *args,
        cwd=REPO,
    )
    assert result.code == 1, result.stderr
    assert result.stderr == ""
    assert "hf_" not in result.stdout
    return result.stdout


# --- end to end ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "tests", "failures", "skipped"),
    [("ignore", 8, 5, 0), ("warn", 10, 5, 2), ("fail", 10, 7, 0)],
)
def test_cli_report_is_valid_junit(
    run_cli: RunCli,
    schema: xmlschema.XMLSchema10,
    policy: str,
    tests: int,
    failures: int,
    skipped: int,
) -> None:
    root = parse(schema, run_junit(run_cli, "--unmanaged", policy))

    assert root.tag == "testsuites"
    (suite,) = root
    assert suite.tag == "testsuite"
    assert suite.get("name") == "driftcheck"
    cases = suite.findall("testcase")
    declared = [c for c in cases if c.get("classname") != "live"]
    # 8 declared endpoints: 3 in sync, 4 drifted, 1 missing; 2 live ones unmanaged.
    assert len(declared) == 8
    assert len(cases) == tests
    assert suite.get("tests") == root.get("tests") == str(tests)
    assert suite.get("failures") == root.get("failures") == str(failures)
    assert suite.get("errors") == "0"
    assert suite.get("skipped") == str(skipped)
    assert len(suite.findall("testcase/failure")) == failures
    assert len(suite.findall("testcase/skipped")) == skipped


def test_cli_report_describes_each_endpoint(
    run_cli: RunCli, schema: xmlschema.XMLSchema10
) -> None:
    suite = parse(schema, run_junit(run_cli))[0]
    cases = {c.get("name"): c for c in suite.findall("testcase")}

    chat = cases["chat-qwen2-72b"]
    assert chat.get("classname") == "examples/endpoints/llm/chat.yaml"
    failure = chat.find("failure")
    assert failure is not None
    assert failure.get("type") == "drift"
    assert failure.get("message") == "3 fields differ from the spec"
    lines = (failure.text or "").splitlines()
    assert "worker_config.max_replicas: declared 3, live 6 (line 48)" in lines
    assert any(
        line.startswith("envs.HF_TOKEN: ") and "withheld" in line for line in lines
    )

    canary = cases["chat-mistral-7b-canary"].find("failure")
    assert canary is not None
    assert canary.get("type") == "missing"
    assert "no live endpoint" in (canary.get("message") or "")

    assert list(cases["chat-llama-3-8b"]) == []
    stray = cases["demo-gradio-sd15"]
    assert stray.get("classname") == "live"
    skipped = stray.find("skipped")
    assert skipped is not None
    assert "ep-a6c2e813" in (skipped.get("message") or "")


# --- in memory -----------------------------------------------------------------------


def nasty_result(policy: str = "fail") -> CheckResult:
    spec = Location(f"specs/{NASTY}.yaml", 3)
    return CheckResult(
        [
            EndpointResult(
                NASTY,
                NASTY,
                "drifted",
                spec,
                [
                    Difference(f"envs.{NASTY}", "changed", NASTY, [NASTY], False, spec),
                    Difference("envs.API_KEY", "changed", "s3cr3t", "s3cr3t-2", True),
                    Difference("ports", "missing", [1], None, False, None),
                    Difference("volumes[/x]", "extra", None, {"a": NASTY}, False),
                ],
            ),
            EndpointResult(NASTY, None, "missing", spec),
            EndpointResult(NASTY, NASTY, "unmanaged", None),
        ],
        unmanaged_policy=policy,  # type: ignore[arg-type]
    )


def test_nasty_strings_parse_back(schema: xmlschema.XMLSchema10) -> None:
    text = render("junit", nasty_result(), ReportOptions())

    root = parse(schema, text)
    suite = root[0]
    assert suite.get("failures") == "3"
    drifted, missing, stray = suite.findall("testcase")
    visible = "a]]>b<c>&d\\x1be[0m\\x00f\\u202eg\\nh\\ud800\\x0d"
    assert drifted.get("name") == visible
    assert drifted.get("classname") == f"specs/{visible}.yaml"
    failure = drifted.find("failure")
    assert failure is not None
    body = failure.text or ""
    assert body.splitlines()[0].startswith(f"envs.{visible}: declared ")
    assert "s3cr3t" not in text
    assert "withheld" in body
    assert missing.get("name") == visible
    assert stray.get("classname") == "live"
    assert stray.find("failure") is not None


def test_nothing_illegal_in_xml_reaches_the_output() -> None:
    text = render("junit", nasty_result(), ReportOptions())

    text.encode("utf-8")  # no lone surrogate survives
    allowed = {"\t", "\n"}
    assert all(ch.isprintable() or ch in allowed for ch in text)


def test_in_sync_passes(schema: xmlschema.XMLSchema10) -> None:
    result = CheckResult(
        [EndpointResult("ok", "ep-1", "in_sync", Location("a.yaml", 1))]
    )

    suite = parse(schema, render("junit", result, ReportOptions()))[0]

    assert suite.get("tests") == "1"
    assert suite.get("failures") == "0"
    assert suite.get("skipped") == "0"
    (case,) = suite
    assert (case.get("classname"), case.get("name")) == ("a.yaml", "ok")
    assert list(case) == []


def settled(*differences: Difference, name: str = "api") -> EndpointResult:
    endpoint = EndpointResult(name, "ep-1", "drifted", Location("a.yaml", 1))
    endpoint.differences = list(differences)
    endpoint.settle()
    return endpoint


def changed(path: str = "image", line: int = 5) -> Difference:
    return Difference(path, "changed", "v1", "v2", False, Location("a.yaml", line))


def ignored(difference: Difference, reason: str = "pinned by ops") -> Difference:
    difference.suppressed = Suppression(reason, "driftcheck.yaml:7")
    return difference


def unknown(path: str = "envs.HF_TOKEN", line: int = 12) -> Difference:
    return Difference(path, "unknown", None, None, True, Location("a.yaml", line))


def suite_of(schema: xmlschema.XMLSchema10, *endpoints: EndpointResult) -> ET.Element:
    text = render("junit", CheckResult(list(endpoints)), ReportOptions())
    return parse(schema, text)[0]


def test_suppressed_difference_does_not_fail_and_is_listed(
    schema: xmlschema.XMLSchema10,
) -> None:
    endpoint = settled(changed("worker_config.max_replicas", 9), ignored(changed()))
    suite = suite_of(schema, endpoint)

    assert suite.get("failures") == "1"
    (case,) = suite
    assert [child.tag for child in case] == ["failure", "system-out"]
    failure, out = case
    assert failure.get("message") == "1 field differs from the spec"
    assert (
        failure.text == 'worker_config.max_replicas: declared "v1", live "v2" (line 9)'
    )
    assert out.text == (
        'ignored: image: declared "v1", live "v2" (line 5); pinned by ops '
        "(driftcheck.yaml:7)"
    )


def test_endpoint_whose_only_difference_is_suppressed_passes(
    schema: xmlschema.XMLSchema10,
) -> None:
    endpoint = settled(ignored(changed()))
    suite = suite_of(schema, endpoint)

    assert endpoint.state == "in_sync"
    assert suite.get("failures") == "0"
    assert suite.get("skipped") == "0"
    (case,) = suite
    assert [child.tag for child in case] == ["system-out"]
    assert "pinned by ops (driftcheck.yaml:7)" in (case[0].text or "")


def test_unknown_endpoint_is_skipped(schema: xmlschema.XMLSchema10) -> None:
    endpoint = settled(unknown(), unknown("envs.B", 13))
    suite = suite_of(schema, endpoint)

    assert endpoint.state == "unknown"
    assert suite.get("failures") == "0"
    assert suite.get("skipped") == "1"
    (case,) = suite
    (skipped,) = case
    assert skipped.tag == "skipped"
    assert skipped.get("message") == (
        "not fully compared: a redacted snapshot withheld the live values of 2 fields"
    )
    assert (skipped.text or "").splitlines() == [
        "envs.HF_TOKEN: live value withheld in a redacted snapshot, not compared "
        "(line 12)",
        "envs.B: live value withheld in a redacted snapshot, not compared (line 13)",
    ]


def test_unknown_field_of_a_drifted_endpoint_goes_to_system_out(
    schema: xmlschema.XMLSchema10,
) -> None:
    endpoint = settled(unknown(), changed(), ignored(changed("ports", 8)))
    (case,) = suite_of(schema, endpoint)

    assert [child.tag for child in case] == ["failure", "system-out"]
    assert case[0].get("message") == "1 field differs from the spec"
    assert (case[1].text or "").splitlines() == [
        "envs.HF_TOKEN: live value withheld in a redacted snapshot, not compared "
        "(line 12)",
        'ignored: ports: declared "v1", live "v2" (line 8); pinned by ops '
        "(driftcheck.yaml:7)",
    ]


def test_ignored_secret_and_hostile_reason_stay_safe(
    schema: xmlschema.XMLSchema10,
) -> None:
    secret = Difference("envs.KEY", "changed", "s3cr3t", "s3cr3t-2", True)
    endpoint = settled(ignored(secret, NASTY), name=NASTY)
    text = render("junit", CheckResult([endpoint]), ReportOptions())

    (case,) = parse(schema, text)[0]
    assert "s3cr3t" not in text
    assert all(ch.isprintable() or ch in {"\t", "\n"} for ch in text)
    out = case.find("system-out")
    assert out is not None
    visible = "a]]>b<c>&d\\x1be[0m\\x00f\\u202eg\\nh\\ud800\\x0d"
    assert out.text == (
        "ignored: envs.KEY: the values differ (withheld: sensitive); "
        f"{visible} (driftcheck.yaml:7)"
    )


def test_timestamp_is_utc_without_zone(schema: xmlschema.XMLSchema10) -> None:
    now = datetime(2024, 5, 1, 14, 30, 5, 123, tzinfo=timezone.utc)

    root = to_element(CheckResult([]), now)

    assert root[0].get("timestamp") == "2024-05-01T14:30:05"
    schema.validate(root)


def test_timestamp_is_the_time_of_the_run(schema: xmlschema.XMLSchema10) -> None:
    result = CheckResult([], checked_at="2026-12-01T08:15:00Z")

    root = parse(schema, render("junit", result, ReportOptions()))

    assert root[0].get("timestamp") == "2026-12-01T08:15:00"


# --- against a base ref --------------------------------------------------------------


def suite_for(schema: xmlschema.XMLSchema10, result: CheckResult) -> ET.Element:
    return parse(schema, render("junit", result, ReportOptions()))[0]


def classified(difference: Difference, change: Change) -> Difference:
    difference.change = change
    return difference


def test_planned_changes_pass_and_conflicts_fail_like_drift(
    schema: xmlschema.XMLSchema10,
) -> None:
    endpoint = settled(
        classified(changed("image", 5), "planned"),
        classified(changed("worker_config.max_replicas", 9), "drift"),
        classified(changed("worker_config.gpu_num", 10), "conflict"),
    )
    suite = suite_for(schema, CheckResult([endpoint], base_ref="main"))

    assert suite.get("failures") == "1"
    (case,) = suite
    assert [child.tag for child in case] == ["failure", "system-out"]
    failure, out = case
    assert failure.get("message") == (
        "2 fields differ from the spec (1 in conflict with this change)"
    )
    assert (failure.text or "").splitlines() == [
        'worker_config.max_replicas: declared "v1", live "v2" (line 9)',
        'worker_config.gpu_num: declared "v1", live "v2" (line 10) [conflict]',
    ]
    assert out.text == 'planned: image: declared "v1", live "v2" (line 5)'


def test_only_planned_changes_pass(schema: xmlschema.XMLSchema10) -> None:
    endpoint = settled(classified(changed(), "planned"))
    suite = suite_for(schema, CheckResult([endpoint], base_ref="main"))

    assert endpoint.state == "planned"
    assert (suite.get("failures"), suite.get("skipped")) == ("0", "0")
    (case,) = suite
    assert [child.tag for child in case] == ["system-out"]


def test_planned_creation_and_deletion_pass(schema: xmlschema.XMLSchema10) -> None:
    created = EndpointResult(
        "new", None, "planned", Location("a.yaml", 3), plan="create"
    )
    deleted = EndpointResult(
        "old", "ep-5", "planned", Location("main:old.yaml", 2), plan="delete"
    )
    suite = suite_for(schema, CheckResult([created, deleted], base_ref="main"))

    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == (
        "2",
        "0",
        "0",
    )
    create, delete = suite
    assert create.get("classname") == "a.yaml"
    assert create.findtext("system-out") == (
        "planned: added by this change; the deploy will create it"
    )
    assert delete.get("classname") == "main:old.yaml"
    assert delete.findtext("system-out") == (
        "planned: removed by this change but still live; the deploy will delete it"
    )


# --- against a baseline --------------------------------------------------------------


def test_failure_marks_each_difference_new_or_known(
    schema: xmlschema.XMLSchema10,
) -> None:
    known = changed("image", 5)
    known.status, known.first_seen = "known", "2026-11-28T00:00:00Z"
    new = classified(changed("ports", 6), "conflict")
    new.status, new.first_seen = "new", "2026-12-01T00:00:00Z"
    missing = EndpointResult(
        "canary",
        None,
        "missing",
        Location("a.yaml", 30),
        status="known",
        first_seen="2026-11-01T00:00:00Z",
    )
    suite = suite_for(schema, CheckResult([settled(known, new), missing], baseline="b"))

    drifted, gone = suite
    assert (drifted.findtext("failure") or "").splitlines() == [
        'image: declared "v1", live "v2" (line 5) '
        "[known, first seen 2026-11-28T00:00:00Z]",
        'ports: declared "v1", live "v2" (line 6) '
        "[conflict; new, first seen 2026-12-01T00:00:00Z]",
    ]
    assert gone.findtext("failure") == (
        "a.yaml:30: canary is declared, but not live "
        "[known, first seen 2026-11-01T00:00:00Z]"
    )


def test_known_findings_pass_under_fail_on_new(schema: xmlschema.XMLSchema10) -> None:
    known = changed()
    known.status, known.first_seen = "known", "2026-11-28T00:00:00Z"
    missing = EndpointResult(
        "canary", None, "missing", Location("a.yaml", 30), status="known"
    )
    stray = EndpointResult("stray", "ep-9", "unmanaged", None, status="known")
    result = CheckResult(
        [settled(known), missing, stray],
        baseline="b",
        fail_on="new",
        unmanaged_policy="fail",
    )
    suite = suite_for(schema, result)

    assert result.exit_code() == 0
    assert suite.get("failures") == "0"
    drifted, gone, live = suite
    assert (drifted.findtext("system-out") or "").splitlines() == [
        "known drift (--fail-on new): 1 field differs from the spec",
        'image: declared "v1", live "v2" (line 5) '
        "[known, first seen 2026-11-28T00:00:00Z]",
    ]
    assert gone.findtext("system-out") == (
        "known (--fail-on new): a.yaml:30: canary is declared, but not live [known]"
    )
    assert [child.tag for child in live] == ["skipped"]


# --- health and capacity -------------------------------------------------------------


def unhealthy(*warnings: str, state: State = "in_sync") -> EndpointResult:
    endpoint = EndpointResult("api", "ep-1", state, Location("a.yaml", 1))
    endpoint.health = list(warnings)
    return endpoint


def test_health_warnings_are_listed_and_do_not_fail(
    schema: xmlschema.XMLSchema10,
) -> None:
    endpoint = unhealthy('status is "failed": oom', 'worker "w-1" is unhealthy')
    suite = suite_for(schema, CheckResult([endpoint]))

    assert suite.get("failures") == "0"
    (case,) = suite
    assert [child.tag for child in case] == ["system-out"]
    assert (case.findtext("system-out") or "").splitlines() == [
        'health: status is "failed": oom',
        'health: worker "w-1" is unhealthy',
    ]


def test_health_warnings_fail_under_require_healthy(
    schema: xmlschema.XMLSchema10,
) -> None:
    healthy_otherwise = unhealthy('status is "stopped"')
    drifted = settled(changed())
    drifted.health = ['worker "w-2" is unhealthy']
    unknown_too = unhealthy('status is "failed"', state="unknown")
    unknown_too.differences = [unknown()]
    result = CheckResult(
        [healthy_otherwise, drifted, unknown_too], require_healthy=True
    )
    suite = suite_for(schema, result)

    assert (suite.get("failures"), suite.get("skipped")) == ("3", "0")
    first, second, third = suite
    failure = first.find("failure")
    assert failure is not None
    assert failure.get("type") == "unhealthy"
    assert failure.get("message") == "1 health warning"
    assert failure.text == 'health: status is "stopped"'
    # One failure a case: the drift's, with the health warnings after it.
    (failure,) = second.findall("failure")
    assert failure.get("type") == "drift"
    assert (failure.text or "").splitlines()[-1] == 'health: worker "w-2" is unhealthy'
    # Not skipped: it fails for its health.
    assert [child.tag for child in third] == ["failure", "system-out"]
    assert (third.findtext("system-out") or "").startswith("not fully compared")


def test_hostile_health_text_stays_valid(schema: xmlschema.XMLSchema10) -> None:
    text = render("junit", CheckResult([unhealthy(NASTY)]), ReportOptions())

    (case,) = parse(schema, text)[0]
    assert all(ch.isprintable() or ch in {"\t", "\n"} for ch in text)
    visible = "a]]>b<c>&d\\x1be[0m\\x00f\\u202eg\\nh\\ud800\\x0d"
    assert case.findtext("system-out") == f"health: {visible}"


def test_gpu_capacity_follows_the_drift(schema: xmlschema.XMLSchema10) -> None:
    endpoint = settled(changed("worker_config.max_replicas", 9))
    endpoint.capacity = Capacity(declared=6, live=12)
    (case,) = suite_for(schema, CheckResult([endpoint]))

    assert (case.findtext("failure") or "").splitlines() == [
        'worker_config.max_replicas: declared "v1", live "v2" (line 9)',
        "GPU capacity (gpu_num x max_replicas): declared 6, live 12 (+6)",
    ]
