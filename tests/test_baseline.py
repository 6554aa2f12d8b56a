"""End-to-end tests of `driftcheck check --baseline` and `--fail-on`.

A scheduled job keeps each run's JSON report and hands it to the next run: drift
seen before is known and keeps the time it was first seen, drift absent from the
earlier report is new, and what the earlier report had and this run has not is
resolved. SOURCE_DATE_EPOCH stands for the time of each run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from .conftest import REPORT_SCHEMA, CliResult, RunCli
from .fake_ppio import FakePPIO, make_endpoint

API_KEY = "sk-baseline-Rv2Kq9Xs4Tn7"
HF_DECLARED = "hf-declared-Bw3Qe6"
HF_LIVE = "hf-rotated-by-hand-Mz8Lu2"

# Three days in a row, at midnight UTC.
T1, T1_TEXT = "1796083200", "2026-12-01T00:00:00Z"
T2, T2_TEXT = "1796169600", "2026-12-02T00:00:00Z"
T3, T3_TEXT = "1796256000", "2026-12-03T00:00:00Z"

CHAT_IMAGE = "registry.example.com/ml/chat:1.0.0"
HOTFIX_IMAGE = "registry.example.com/ml/chat:1.0.0-hotfix1"


# -- declared and live -----------------------------------------------------------------


SPECS = {
    "endpoints": [
        {
            "name": "chat",
            "image": CHAT_IMAGE,
            "worker_config": {"max_replicas": 2, "gpu_num": 1},
            "envs": {"LOG_LEVEL": "info", "HF_TOKEN": HF_DECLARED},
        },
        {"name": "embed", "image": "registry.example.com/ml/embed:2.0.0"},
        # Declared, never deployed.
        {"name": "gone", "image": "registry.example.com/ml/gone:1.0.0"},
    ]
}


def chat(**changes: Any) -> dict[str, Any]:
    """Live chat with the image hotfixed by hand, then `changes`."""
    fields: dict[str, Any] = {
        "image": HOTFIX_IMAGE,
        "envs": {"LOG_LEVEL": "info", "HF_TOKEN": HF_DECLARED},
    }
    fields.update(changes)
    return make_endpoint("chat", id="ep-chat", **fields)


def embed(**changes: Any) -> dict[str, Any]:
    return make_endpoint(
        "embed", id="ep-embed", image="registry.example.com/ml/embed:2.0.0", **changes
    )


def stray() -> dict[str, Any]:
    return make_endpoint("stray", id="ep-stray")


# The first run: chat's image drifted, gone is missing, stray is unmanaged.
DAY_ONE = (chat(), embed(), stray())


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    path = tmp_path / "endpoints.yaml"
    path.write_text(yaml.safe_dump(SPECS, sort_keys=False), encoding="utf-8")
    return path


def save_live(path: Path, *endpoints: Mapping[str, Any]) -> Path:
    body = {"data": list(endpoints), "next_cursor": "", "has_more": False}
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


class Runs:
    """Check the specs against one live list after another, at chosen times."""

    def __init__(self, run_cli: RunCli, specs: Path, tmp_path: Path) -> None:
        self.run_cli = run_cli
        self.specs = specs
        self.dir = tmp_path
        self.count = 0

    def check(
        self, when: str, *live: Mapping[str, Any], args: tuple[str, ...] = ()
    ) -> CliResult:
        self.count += 1
        live_file = save_live(self.dir / f"live-{self.count}.json", *live)
        return self.run_cli(
            "check",
            self.specs.name,
            "--live-file",
            live_file.name,
            *args,
            env={"SOURCE_DATE_EPOCH": when},
            cwd=self.dir,
        )

    def report(
        self,
        when: str,
        *live: Mapping[str, Any],
        baseline: Path | None = None,
        args: tuple[str, ...] = (),
    ) -> tuple[CliResult, Path]:
        """A run that also writes its JSON report, for the next run to compare with."""
        out = self.dir / f"report-{self.count + 1}.json"
        extra = ("--baseline", str(baseline)) if baseline is not None else ()
        result = self.check(
            when, *live, args=(*extra, "--report", f"json:{out}", *args)
        )
        return result, out


@pytest.fixture
def runs(run_cli: RunCli, specs: Path, tmp_path: Path) -> Runs:
    return Runs(run_cli, specs, tmp_path)


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator(json.loads(REPORT_SCHEMA.read_text("utf-8"))).validate(
        document
    )
    return document


def findings(document: Mapping[str, Any]) -> dict[tuple[str, str], tuple[Any, Any]]:
    """Every finding as (endpoint, path or state) -> (status, first_seen)."""
    found: dict[tuple[str, str], tuple[Any, Any]] = {}
    for endpoint in document["endpoints"]:
        if endpoint["state"] in ("missing", "unmanaged"):
            found[endpoint["name"], endpoint["state"]] = (
                endpoint["status"],
                endpoint["first_seen"],
            )
        for difference in endpoint["differences"]:
            found[endpoint["name"], difference["path"]] = (
                difference["status"],
                difference["first_seen"],
            )
    return found


def assert_clean(result: CliResult, code: int) -> None:
    assert result.code == code, result
    assert result.stderr == "", result.stderr
    assert HF_DECLARED not in result.stdout
    assert HF_LIVE not in result.stdout


# -- known, new, resolved --------------------------------------------------------------


def test_first_run_sees_everything_at_its_own_time(runs: Runs) -> None:
    result, out = runs.report(T1, *DAY_ONE)

    assert_clean(result, 1)
    document = load(out)
    assert (document["checked_at"], document["baseline"]) == (T1_TEXT, None)
    assert findings(document) == {
        ("chat", "image"): (None, T1_TEXT),
        ("gone", "missing"): (None, T1_TEXT),
        ("stray", "unmanaged"): (None, T1_TEXT),
    }
    assert document["resolved"] == []


def test_second_run_marks_known_new_and_resolved(runs: Runs) -> None:
    _, first = runs.report(T1, *DAY_ONE)
    # A day later: the hotfix is still live, someone scaled chat up and rotated its
    # token by hand, and the stray endpoint was deleted.
    day_two = (
        chat(
            worker_config={"max_replicas": 4},
            envs={"LOG_LEVEL": "info", "HF_TOKEN": HF_LIVE},
        ),
        embed(),
    )

    result, second = runs.report(T2, *day_two, baseline=first)

    assert_clean(result, 1)
    document = load(second)
    assert document["checked_at"] == T2_TEXT
    assert document["baseline"] == str(first)
    assert findings(document) == {
        ("chat", "image"): ("known", T1_TEXT),
        ("chat", "worker_config.max_replicas"): ("new", T2_TEXT),
        ("chat", "envs.HF_TOKEN"): ("new", T2_TEXT),
        ("gone", "missing"): ("known", T1_TEXT),
    }
    assert document["resolved"] == [
        {"endpoint": "stray", "path": "", "kind": "unmanaged", "first_seen": T1_TEXT}
    ]
    summary = document["summary"]
    assert (summary["new"], summary["resolved"]) == (2, 1)
    # The secret stays out of both reports, known or new.
    for path in (first, second):
        text = path.read_text(encoding="utf-8")
        assert HF_DECLARED not in text
        assert HF_LIVE not in text


def test_text_report_shows_new_known_and_resolved(runs: Runs) -> None:
    _, first = runs.report(T1, *DAY_ONE)
    day_two = (chat(worker_config={"max_replicas": 4}), embed())

    result = runs.check(T2, *day_two, args=("--baseline", str(first)))

    assert_clean(result, 1)
    lines = result.stdout.splitlines()
    assert lines[0] == "drifted  chat (ep-chat)  endpoints.yaml:2"
    assert lines[1].startswith("  image ")
    assert lines[1].endswith(f"[known since {T1_TEXT}]  (line 3)")
    assert lines[2].startswith("  worker_config.max_replicas  changed: declared 2, ")
    assert lines[2].endswith("live 4 [new]  (line 5)")
    assert (
        f"missing  gone  endpoints.yaml:12: declared, but no live endpoint matches "
        f"[known since {T1_TEXT}]"
    ) in lines
    assert f"resolved  stray: unmanaged (first seen {T1_TEXT})" in lines
    assert lines[-1] == (
        "3 declared: 1 in sync, 1 drifted, 1 missing; 0 unmanaged; 1 new, "
        "1 resolved; GPU capacity +2 from drift. drift found"
    )


def test_resolved_difference_of_a_matched_endpoint(runs: Runs) -> None:
    _, first = runs.report(T1, *DAY_ONE)
    # The hotfix was rolled back: chat's image matches again.
    rolled_back = (chat(image=CHAT_IMAGE), embed(), stray())

    result, second = runs.report(T2, *rolled_back, baseline=first)

    assert_clean(result, 1)  # gone is still missing
    document = load(second)
    assert document["resolved"] == [
        {"endpoint": "chat", "path": "image", "kind": "changed", "first_seen": T1_TEXT}
    ]
    assert ("chat", "image") not in findings(document)


def test_first_seen_is_carried_across_many_runs(runs: Runs) -> None:
    _, first = runs.report(T1, *DAY_ONE)
    _, second = runs.report(T2, *DAY_ONE, baseline=first)
    # The hotfix is rolled back on day three and applied again by day four.
    _, third = runs.report(
        T3, chat(image=CHAT_IMAGE), embed(), stray(), baseline=second
    )
    fourth_time = str(int(T3) + 86400)

    _, fourth = runs.report(fourth_time, *DAY_ONE, baseline=third)

    assert findings(load(second))["chat", "image"] == ("known", T1_TEXT)
    assert findings(load(second))["stray", "unmanaged"] == ("known", T1_TEXT)
    assert [r["path"] for r in load(third)["resolved"]] == ["image"]
    # Drift that went away and came back is new again, from when it came back.
    assert findings(load(fourth))["chat", "image"] == ("new", "2026-12-04T00:00:00Z")
    assert findings(load(fourth))["gone", "missing"] == ("known", T1_TEXT)


def test_a_known_difference_stays_known_when_its_value_moves(runs: Runs) -> None:
    """A finding is its endpoint, path and kind; the values may change under it."""
    _, first = runs.report(T1, *DAY_ONE)

    result, second = runs.report(
        T2,
        chat(image="registry.example.com/ml/chat:1.0.0-hotfix2"),
        embed(),
        stray(),
        baseline=first,
        args=("--fail-on", "new"),
    )

    assert_clean(result, 0)
    assert findings(load(second))["chat", "image"] == ("known", T1_TEXT)


# -- --fail-on -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("something_new", "fail_on", "code"),
    [
        (False, "new", 0),
        (False, "any", 1),
        (False, None, 1),  # the default fails on any drift, known or not
        (True, "new", 1),
        (True, "any", 1),
    ],
)
def test_fail_on(
    runs: Runs, something_new: bool, fail_on: str | None, code: int
) -> None:
    _, first = runs.report(T1, *DAY_ONE)
    live = (
        (chat(worker_config={"max_replicas": 3}), *DAY_ONE[1:])
        if something_new
        else DAY_ONE
    )

    result = runs.check(
        T2,
        *live,
        args=(
            "--baseline",
            str(first),
            *(("--fail-on", fail_on) if fail_on else ()),
        ),
    )

    assert_clean(result, code)
    verdict = result.stdout.splitlines()[-1]
    if code == 0:
        assert verdict.endswith("no new drift (known drift does not fail)")
    else:
        assert verdict.endswith("drift found")


@pytest.mark.parametrize(
    ("day_two", "unmanaged", "code"),
    [
        # A declared endpoint that disappeared from live overnight.
        ((chat(), stray()), "warn", 1),
        # A new live endpoint nobody declared, when those fail the run.
        ((*DAY_ONE, make_endpoint("side-project", id="ep-side")), "fail", 1),
        # ... and when they are only listed.
        ((*DAY_ONE, make_endpoint("side-project", id="ep-side")), "warn", 0),
        # The known unmanaged endpoint does not fail a --fail-on new run.
        (DAY_ONE, "fail", 0),
    ],
)
def test_fail_on_new_with_missing_and_unmanaged_endpoints(
    runs: Runs, day_two: tuple[dict[str, Any], ...], unmanaged: str, code: int
) -> None:
    _, first = runs.report(T1, *DAY_ONE)

    result, second = runs.report(
        T2,
        *day_two,
        baseline=first,
        args=("--fail-on", "new", "--unmanaged", unmanaged),
    )

    assert_clean(result, code)
    found = findings(load(second))
    new = {key for key, (status, _) in found.items() if status == "new"}
    if code and unmanaged == "warn":
        assert new == {("embed", "missing")}
        assert found["embed", "missing"] == ("new", T2_TEXT)
    elif code:
        assert new == {("side-project", "unmanaged")}


def test_fail_on_new_without_a_baseline_counts_everything_as_new(runs: Runs) -> None:
    result, out = runs.report(T1, *DAY_ONE, args=("--fail-on", "new"))

    assert_clean(result, 1)
    assert load(out)["baseline"] is None


def test_ignored_difference_never_fails_a_fail_on_new_run(runs: Runs) -> None:
    _, first = runs.report(T1, *DAY_ONE)

    result = runs.check(
        T2,
        chat(worker_config={"max_replicas": 3}),
        *DAY_ONE[1:],
        args=(
            "--baseline",
            str(first),
            "--fail-on",
            "new",
            "--ignore",
            "worker_config.max_replicas",
        ),
    )

    assert_clean(result, 0)


# -- where the baseline lives ----------------------------------------------------------


def test_baseline_and_report_may_be_the_same_file(runs: Runs) -> None:
    """The report is read first, then replaced: one file tracks the drift."""
    _, tracked = runs.report(T1, *DAY_ONE)
    day_two = (chat(worker_config={"max_replicas": 3}), embed(), stray())

    result = runs.check(
        T2,
        *day_two,
        args=("--baseline", str(tracked), "--report", f"json:{tracked}"),
    )

    assert_clean(result, 1)
    document = load(tracked)
    assert document["checked_at"] == T2_TEXT
    assert findings(document)["chat", "image"] == ("known", T1_TEXT)
    assert findings(document)["chat", "worker_config.max_replicas"] == ("new", T2_TEXT)


@pytest.mark.parametrize(
    ("args", "left_out"),
    [
        # gone and stray lie outside the glob; chat's image is looked at again.
        (("--endpoint", "chat"), 2),
        (("--endpoint", "c*", "--endpoint", "embed"), 2),
        # stray is unmanaged, which the run no longer looks at.
        (("--unmanaged", "ignore"), 1),
    ],
)
def test_a_narrower_run_does_not_call_what_it_skipped_resolved(
    runs: Runs, args: tuple[str, ...], left_out: int
) -> None:
    _, first = runs.report(T1, *DAY_ONE)
    # chat's hotfix was rolled back, which the narrower run does see.
    day_two = (chat(image=CHAT_IMAGE), embed(), stray())

    result, second = runs.report(T2, *day_two, baseline=first, args=args)

    document = load(second)
    assert document["resolved"] == [
        {"endpoint": "chat", "path": "image", "kind": "changed", "first_seen": T1_TEXT}
    ]
    assert document["summary"]["resolved"] == 1
    assert result.stderr == (
        f"driftcheck: warning: {left_out} finding(s) of the baseline concern "
        "endpoints this run's filters (--endpoint, --unmanaged ignore, --keyword, "
        "--member-ids) left out; they were not checked again and are not listed "
        "as resolved\n"
    )


def test_an_endpoint_gone_from_both_sides_is_resolved(runs: Runs, specs: Path) -> None:
    _, first = runs.report(T1, *DAY_ONE)
    # Nobody declares `gone` any more, and stray was deleted: both are resolved.
    document = yaml.safe_load(specs.read_text(encoding="utf-8"))
    document["endpoints"] = document["endpoints"][:2]
    specs.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    result, second = runs.report(T2, chat(image=CHAT_IMAGE), embed(), baseline=first)

    assert_clean(result, 0)
    assert [(r["endpoint"], r["kind"]) for r in load(second)["resolved"]] == [
        ("chat", "changed"),
        ("gone", "missing"),
        ("stray", "unmanaged"),
    ]


def test_a_run_filtered_by_the_api_resolves_only_what_it_listed(
    run_cli: RunCli, fake_api: FakePPIO, specs: Path, tmp_path: Path
) -> None:
    fake_api.endpoints = [chat(), embed(), stray()]
    fake_api.api_key = API_KEY
    env = {"PPIO_API_URL": fake_api.url, "PPIO_API_KEY": API_KEY}
    first = tmp_path / "first.json"
    run_cli("check", specs, "--report", f"json:{first}", env=env)

    # Only chat matches the keyword; the API never lists gone or stray.
    result = run_cli(
        "check", specs, "-f", "json", "--keyword", "cha", "--baseline", first, env=env
    )

    assert result.code == 1, result
    assert json.loads(result.stdout)["resolved"] == []
    assert "2 finding(s) of the baseline concern endpoints" in result.stderr


def test_same_inputs_give_the_same_report(runs: Runs) -> None:
    _, first = runs.report(T1, *DAY_ONE)

    _, second = runs.report(T2, *DAY_ONE, baseline=first)
    _, again = runs.report(T2, *DAY_ONE, baseline=first)

    assert second.read_bytes() == again.read_bytes()


def test_baseline_against_the_api(
    run_cli: RunCli, fake_api: FakePPIO, specs: Path, tmp_path: Path
) -> None:
    fake_api.endpoints = list(DAY_ONE)
    fake_api.api_key = API_KEY
    env = {"PPIO_API_URL": fake_api.url, "PPIO_API_KEY": API_KEY}
    first = tmp_path / "first.json"
    run_cli(
        "check",
        specs,
        "--report",
        f"json:{first}",
        env={**env, "SOURCE_DATE_EPOCH": T1},
    )
    fake_api.endpoints = [chat(worker_config={"max_replicas": 3}), embed(), stray()]

    result = run_cli(
        "check",
        specs,
        "-f",
        "json",
        "--baseline",
        first,
        "--fail-on",
        "new",
        env={**env, "SOURCE_DATE_EPOCH": T2},
    )

    assert_clean(result, 1)
    document = json.loads(result.stdout)
    assert findings(document)["chat", "worker_config.max_replicas"] == (
        "new",
        T2_TEXT,
    )
    assert findings(document)["chat", "image"] == ("known", T1_TEXT)
    assert len(fake_api.requests) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        ("[]", "not a driftcheck JSON report"),
        ('{"schema_version": 2, "endpoints": []}', "not a driftcheck JSON report"),
        ('{"schema_version": 1, "endpoints": {}}', "not a driftcheck JSON report"),
        ("<testsuites/>", "not valid JSON"),
    ],
)
def test_invalid_baseline_exits_2_with_one_clear_line(
    runs: Runs, tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    baseline = tmp_path / "previous.json"
    if isinstance(content, bytes):
        baseline.write_bytes(content)
    elif content is not None:
        baseline.write_text(content, encoding="utf-8")
    stale = tmp_path / "drift.json"
    stale.write_text("{}", encoding="utf-8")

    result = runs.check(
        T2,
        *DAY_ONE,
        args=("--baseline", str(baseline), "--report", f"json:{stale}"),
    )

    assert result.code == 2, result
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: --baseline {baseline}: "), line
    assert message in line
    assert not stale.exists()  # no report from a run that did not happen


def test_baseline_that_is_a_directory_exits_2(runs: Runs, tmp_path: Path) -> None:
    result = runs.check(T2, *DAY_ONE, args=("--baseline", str(tmp_path)))

    assert result.code == 2, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert "--baseline" in result.stderr


def test_baseline_of_another_format_names_the_fix(runs: Runs, tmp_path: Path) -> None:
    _, first = runs.report(T1, *DAY_ONE)
    sarif = tmp_path / "report.sarif"
    runs.check(T1, *DAY_ONE, args=("--report", f"sarif:{sarif}"))

    result = runs.check(T2, *DAY_ONE, args=("--baseline", str(sarif)))

    assert result.code == 2
    assert "--format json" in result.stderr
    assert load(first)  # a JSON report, by contrast, is accepted
