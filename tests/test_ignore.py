"""End-to-end tests of ignore rules: suppressed differences count for nothing, yet
every report still shows them with the reason and the rule that let them through."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import specdata
from .conftest import CliResult, RunCli
from .fake_ppio import FakePPIO, make_endpoint

API_KEY = "sk-ignore-Mv4Pq9Xs2Jd6Tn1Ka"
SECRET = "hf_live_secret_Qz8Rw2Ny"
DECLARED_SECRET = "hf_declared_secret_Lk5Vc9"

# alpha's live side. Its spec below differs on exactly three fields, all of them
# ones a team may let move: the autoscaler's floor and two build stamps.
ALPHA = make_endpoint(
    "alpha",
    envs={
        "LOG_LEVEL": "info",
        "BUILD_ID": "live-build-42",
        "BUILD_SHA": "1f2e3d",
        "HF_TOKEN": SECRET,
    },
)
BETA = make_endpoint("beta")
MOVABLE = ["envs.BUILD_ID", "envs.BUILD_SHA", "worker_config.min_replicas"]


def spec_for(endpoint: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What `endpoint` holds, with mapping `changes` merged into its sections."""
    spec = specdata.spec_for(endpoint)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return spec


ALPHA_SPEC = spec_for(
    ALPHA,
    worker_config={"min_replicas": 1},
    envs={
        "LOG_LEVEL": "info",
        "BUILD_ID": "declared-build-41",
        "BUILD_SHA": "0a0b0c",
        "HF_TOKEN": SECRET,
    },
)

# The standard rules: line 3 lets alpha's scaling floor move, line 6 every build
# stamp of every endpoint.
RULES = """\
paths: [specs]
ignore:
  - endpoints: [alph*]
    paths: [worker_config.min_replicas]
    reason: the autoscaler owns the floor
  - paths: [envs.BUILD_*]
    reason: stamped by the deploy job
"""


class Setup:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / ".git").mkdir(parents=True)
        (root / "specs").mkdir()
        self.specs([ALPHA_SPEC, spec_for(BETA)])
        self.live([ALPHA, BETA])

    def specs(self, specs: list[dict[str, Any]]) -> None:
        text = yaml.safe_dump({"endpoints": specs}, sort_keys=False)
        (self.root / "specs" / "endpoints.yaml").write_text(text, encoding="utf-8")

    def live(self, endpoints: list[dict[str, Any]]) -> None:
        body = {"data": endpoints, "next_cursor": "", "has_more": False}
        (self.root / "live.json").write_text(json.dumps(body), encoding="utf-8")

    def config(self, text: str) -> None:
        (self.root / "driftcheck.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path / "repo")


def check(run_cli: RunCli, setup: Setup, *args: str) -> CliResult:
    return run_cli("check", "--live-file", "live.json", *args, cwd=setup.root)


def endpoint(report: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [e for e in report["endpoints"] if e["name"] == name]
    return found


def suppressed(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        f"{e['name']}:{d['path']}": d["suppressed"]
        for e in report["endpoints"]
        for d in e["differences"]
        if d["suppressed"] is not None
    }


# -- suppressed differences do not count, and are counted ------------------------------


def test_only_ignored_differences_exit_0_and_are_listed_in_json(
    run_cli: RunCli, setup: Setup
) -> None:
    setup.config(RULES)

    result = check(run_cli, setup, "-f", "json")

    assert result.code == 0, result
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert report["summary"]["ignored"] == 3
    assert report["summary"]["in_sync"] == 2
    assert report["summary"]["drifted"] == 0
    assert endpoint(report, "alpha")["state"] == "in_sync"
    floor = {"reason": "the autoscaler owns the floor", "rule": "driftcheck.yaml:3"}
    stamp = {"reason": "stamped by the deploy job", "rule": "driftcheck.yaml:6"}
    assert suppressed(report) == {
        "alpha:worker_config.min_replicas": floor,
        "alpha:envs.BUILD_ID": stamp,
        "alpha:envs.BUILD_SHA": stamp,
    }
    # The values stay there for the reader to judge.
    (floor_difference,) = [
        d
        for d in endpoint(report, "alpha")["differences"]
        if d["path"] == "worker_config.min_replicas"
    ]
    assert floor_difference["declared"] == 1
    assert floor_difference["live"] == 0
    assert floor_difference["source"]["file"] == "specs/endpoints.yaml"


def test_text_counts_ignored_differences_and_lists_them_only_when_asked(
    run_cli: RunCli, setup: Setup
) -> None:
    setup.config(RULES)

    quiet = check(run_cli, setup)
    shown = check(run_cli, setup, "--show-ignored")

    assert quiet.code == shown.code == 0
    (summary,) = quiet.stdout.splitlines()  # nothing but the summary
    assert summary.startswith("2 declared: 2 in sync, 0 drifted, 0 missing")
    assert "; 3 ignored differences" in summary
    assert summary.endswith(" in sync")
    lines = shown.stdout.splitlines()
    assert lines[0] == f"in sync  alpha ({ALPHA['id']})  specs/endpoints.yaml:2"
    body = "\n".join(lines[1:4])
    assert "worker_config.min_replicas" in body
    assert (
        "envs.BUILD_ID" in body
        and '"declared-build-41"' in body
        and '"live-build-42"' in body
    )
    assert body.count("[ignored: stamped by the deploy job]") == 2
    assert body.count("[ignored: the autoscaler owns the floor]") == 1
    assert lines[-1] == quiet.stdout.rstrip("\n")


def test_one_ignored_difference_is_counted_in_the_singular(
    run_cli: RunCli, setup: Setup
) -> None:
    setup.specs([spec_for(ALPHA, worker_config={"min_replicas": 1}), spec_for(BETA)])
    setup.config(RULES.split("  - paths: [envs")[0])

    result = check(run_cli, setup, "--unmanaged", "ignore")

    assert result.code == 0, result
    (summary,) = result.stdout.splitlines()
    assert re.search(r"; 1 ignored difference\b(?!s)", summary), summary
    assert summary.endswith(" in sync")


def test_an_ignored_difference_beside_a_real_one_still_fails(
    run_cli: RunCli, setup: Setup
) -> None:
    setup.specs(
        [
            spec_for(
                ALPHA,
                worker_config={"min_replicas": 1, "max_replicas": 9},
                envs={**ALPHA_SPEC["envs"]},
            ),
            spec_for(BETA),
        ]
    )
    setup.config(RULES)

    result = check(run_cli, setup, "-f", "json")

    assert result.code == 1, result
    report = json.loads(result.stdout)
    alpha = endpoint(report, "alpha")
    assert alpha["state"] == "drifted"
    counted = [d["path"] for d in alpha["differences"] if d["suppressed"] is None]
    assert counted == ["worker_config.max_replicas"]
    summary = report["summary"]
    assert summary["declared"] == 2
    assert (summary["in_sync"], summary["drifted"]) == (1, 1)
    assert (summary["unknown"], summary["missing"], summary["unmanaged"]) == (0, 0, 0)
    assert summary["ignored"] == 3


def test_text_report_of_a_failed_run_still_hides_ignored_lines_by_default(
    run_cli: RunCli, setup: Setup
) -> None:
    setup.specs([spec_for(ALPHA, worker_config={"min_replicas": 1, "max_replicas": 9})])
    setup.config(RULES.split("  - paths: [envs")[0])

    result = check(run_cli, setup, "--unmanaged", "ignore")

    assert result.code == 1
    assert "worker_config.max_replicas" in result.stdout
    assert "worker_config.min_replicas" not in result.stdout
    summary = result.stdout.splitlines()[-1]
    assert re.search(r"; 1 ignored difference\b(?!s)", summary), summary
    assert summary.endswith("drift found")


def test_endpoint_globs_limit_a_rule(run_cli: RunCli, setup: Setup) -> None:
    beta_spec = spec_for(BETA, worker_config={"min_replicas": 1})
    setup.specs([ALPHA_SPEC, beta_spec])
    setup.config(RULES)

    result = check(run_cli, setup, "-f", "json")

    assert result.code == 1, result
    report = json.loads(result.stdout)
    assert endpoint(report, "alpha")["state"] == "in_sync"
    (beta_floor,) = endpoint(report, "beta")["differences"]
    assert beta_floor["path"] == "worker_config.min_replicas"
    assert beta_floor["suppressed"] is None


def test_a_rule_on_a_section_covers_every_key_in_it(
    run_cli: RunCli, setup: Setup
) -> None:
    changed = {"min_replicas": 1, "max_replicas": 7, "idle_timeout": 5}
    setup.specs([spec_for(BETA, worker_config=changed)])
    setup.config(
        "paths: [specs]\nunmanaged: ignore\nignore:\n"
        "  - paths: [worker_config]\n    reason: scaling is tuned in the console\n"
    )

    result = check(run_cli, setup, "-f", "json")

    assert result.code == 0, result
    report = json.loads(result.stdout)
    assert sorted(suppressed(report)) == [
        "beta:worker_config.idle_timeout",
        "beta:worker_config.max_replicas",
        "beta:worker_config.min_replicas",
    ]


def test_the_first_matching_rule_gives_the_reason(
    run_cli: RunCli, setup: Setup
) -> None:
    setup.config(
        "paths: [specs]\nignore:\n"
        "  - paths: [envs.BUILD_ID]\n    reason: first\n"
        "  - paths: [envs.*]\n    reason: second\n"
        "  - paths: [worker_config.*]\n    reason: third\n"
    )

    result = check(run_cli, setup, "-f", "json")

    assert result.code == 0, result
    reasons = {k: v["reason"] for k, v in suppressed(json.loads(result.stdout)).items()}
    assert reasons == {
        "alpha:envs.BUILD_ID": "first",
        "alpha:envs.BUILD_SHA": "second",
        "alpha:worker_config.min_replicas": "third",
    }


def test_an_ignored_secret_stays_redacted(run_cli: RunCli, setup: Setup) -> None:
    spec = spec_for(ALPHA, envs={**ALPHA_SPEC["envs"], "HF_TOKEN": DECLARED_SECRET})
    setup.specs([spec, spec_for(BETA)])
    setup.config(RULES + "  - paths: [envs.HF_TOKEN]\n    reason: rotated by vault\n")

    outputs = [
        check(run_cli, setup, "-f", name, "--show-ignored")
        for name in ("text", "json", "markdown", "sarif", "junit", "github")
    ]

    for result in outputs:
        assert result.code == 0, result
        assert SECRET not in result.stdout + result.stderr
        assert DECLARED_SECRET not in result.stdout + result.stderr
    report = json.loads(outputs[1].stdout)
    (token,) = [
        d
        for d in endpoint(report, "alpha")["differences"]
        if d["path"] == "envs.HF_TOKEN"
    ]
    assert token["redacted"] is True
    assert token["declared"] is None and token["live"] is None
    assert token["suppressed"] == {
        "reason": "rotated by vault",
        "rule": "driftcheck.yaml:8",
    }
    assert "[ignored: rotated by vault]" in outputs[0].stdout


def test_ignore_rules_do_not_excuse_a_missing_endpoint(
    run_cli: RunCli, setup: Setup
) -> None:
    setup.live([ALPHA])
    setup.config(RULES + "  - endpoints: ['*']\n    paths: ['*']\n    reason: all\n")

    result = check(run_cli, setup, "-f", "json")

    assert result.code == 1
    assert endpoint(json.loads(result.stdout), "beta")["state"] == "missing"


# -- every report shows what was suppressed --------------------------------------------


def test_markdown_lists_suppressed_differences_with_reason_and_rule(
    run_cli: RunCli, setup: Setup
) -> None:
    setup.config(RULES)

    result = check(run_cli, setup, "-f", "markdown")

    assert result.code == 0, result
    assert "the autoscaler owns the floor" in result.stdout
    assert "stamped by the deploy job" in result.stdout
    assert "driftcheck.yaml:3" in result.stdout
    assert "driftcheck.yaml:6" in result.stdout


def test_sarif_marks_suppressed_results(run_cli: RunCli, setup: Setup) -> None:
    setup.config(RULES)

    result = check(run_cli, setup, "-f", "sarif")

    assert result.code == 0, result
    results = json.loads(result.stdout)["runs"][0]["results"]
    justified = {
        r["properties"]["path"]: [
            (s["kind"], s["justification"]) for s in r["suppressions"]
        ]
        for r in results
        if r.get("suppressions")
    }
    assert justified == {
        "worker_config.min_replicas": [
            ("external", "the autoscaler owns the floor (driftcheck.yaml:3)")
        ],
        "envs.BUILD_ID": [
            ("external", "stamped by the deploy job (driftcheck.yaml:6)")
        ],
        "envs.BUILD_SHA": [
            ("external", "stamped by the deploy job (driftcheck.yaml:6)")
        ],
    }


def test_junit_mentions_suppressed_differences(run_cli: RunCli, setup: Setup) -> None:
    setup.config(RULES)

    result = check(run_cli, setup, "-f", "junit")

    assert result.code == 0, result
    assert "<failure" not in result.stdout
    assert "the autoscaler owns the floor" in result.stdout


# -- rules that matched nothing, and rules from the command line -----------------------


def test_a_rule_that_matched_nothing_is_a_warning_naming_its_line(
    run_cli: RunCli, setup: Setup
) -> None:
    setup.config(
        RULES + "  - endpoints: [gamma]\n    paths: [image]\n    reason: retired\n"
    )

    result = check(run_cli, setup, "-f", "json")

    assert result.code == 0, result
    json.loads(result.stdout)  # the report is untouched by the warning
    (warning,) = result.stderr.splitlines()
    assert warning.startswith("driftcheck: warning: ignore rule at driftcheck.yaml:8 ")
    assert "matched nothing" in warning
    assert "image" in warning


def test_rule_origin_is_named_as_seen_from_the_working_directory(
    run_cli: RunCli, setup: Setup
) -> None:
    setup.config(RULES)
    here = setup.root / "specs"

    result = run_cli(
        "check",
        "--live-file",
        "../live.json",
        "-f",
        "json",
        "--endpoint",
        "beta",
        cwd=here,
    )

    assert result.code == 0, result
    # Both rules are idle when only beta is checked.
    assert "ignore rule at ../driftcheck.yaml:3" in result.stderr
    assert "ignore rule at ../driftcheck.yaml:6" in result.stderr


def test_ignore_option_adds_a_rule_from_the_command_line(
    run_cli: RunCli, setup: Setup
) -> None:
    setup.config(RULES.split("  - paths: [envs")[0])

    without = check(run_cli, setup, "-f", "json")
    result = check(run_cli, setup, "-f", "json", "--ignore", "envs.BUILD_*")

    assert without.code == 1
    assert result.code == 0, result
    assert result.stderr == ""
    found = suppressed(json.loads(result.stdout))
    assert found["alpha:envs.BUILD_ID"] == {
        "reason": "--ignore on the command line",
        "rule": "--ignore",
    }
    assert found["alpha:worker_config.min_replicas"]["rule"] == "driftcheck.yaml:3"


def test_ignore_option_works_without_a_config(run_cli: RunCli, setup: Setup) -> None:
    result = check(
        run_cli,
        setup,
        "specs",
        "--ignore",
        "envs.BUILD_*",
        "--ignore",
        "worker_config.min_replicas",
        "--show-ignored",
    )

    assert result.code == 0, result
    assert result.stdout.count("[ignored: --ignore on the command line]") == 3


def test_an_unused_ignore_option_is_a_warning(run_cli: RunCli, setup: Setup) -> None:
    setup.config(RULES)

    result = check(run_cli, setup, "--ignore", "health_check.*")

    assert result.code == 0
    assert "health_check.*" in result.stderr
    assert "matched nothing" in result.stderr


def test_ignore_rules_apply_to_a_run_against_the_api(
    run_cli: RunCli, setup: Setup, fake_api: FakePPIO
) -> None:
    fake_api.endpoints = [ALPHA, BETA]
    fake_api.api_key = API_KEY
    setup.config(RULES)

    result = run_cli(
        "check",
        "-f",
        "json",
        env={"PPIO_API_URL": fake_api.url, "PPIO_API_KEY": API_KEY},
        cwd=setup.root,
    )

    assert result.code == 0, result
    assert result.stderr == ""
    assert json.loads(result.stdout)["summary"]["ignored"] == 3
