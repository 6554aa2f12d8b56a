"""The Markdown format: summary, sections, escaping, the size cap."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from driftcheck.formats import ReportOptions, render
from driftcheck.formats.markdown import SIZE_LIMIT, VALUE_LIMIT
from driftcheck.model import (
    Capacity,
    CheckResult,
    Difference,
    EndpointResult,
    Location,
    Resolved,
    Status,
    Suppression,
    UnmanagedPolicy,
)

from .conftest import EXAMPLES, REPO, RunCli

SPEC = "specs/api.yaml"
TABLE_HEAD = "| path | declared | live | line |"
CUT = "**Report cut to stay under 60,000 characters:**"


def markdown(endpoints: list[EndpointResult], policy: UnmanagedPolicy = "warn") -> str:
    result = CheckResult(endpoints, unmanaged_policy=policy)
    return render("markdown", result, ReportOptions())


def drifted(
    *differences: Difference, name: str = "api", id: str = "ep-1"
) -> EndpointResult:
    return EndpointResult(name, id, "drifted", Location(SPEC, 4), list(differences))


def changed(declared: object = 3, live: object = 6, line: int = 12) -> Difference:
    return Difference(
        "worker_config.max_replicas",
        "changed",
        declared,
        live,
        False,
        Location(SPEC, line),
    )


def in_sync(name: str = "ok", id: str = "ep-2") -> EndpointResult:
    return EndpointResult(name, id, "in_sync", Location(SPEC, 40))


def unmanaged(name: str = "stray", id: str = "ep-9") -> EndpointResult:
    return EndpointResult(name, id, "unmanaged", None)


def rows(report: str) -> list[str]:
    """The difference rows of every table in the report."""
    return [line for line in report.splitlines() if line.startswith("| <code>")]


def test_title_summary_table_and_verdict() -> None:
    missing = EndpointResult("canary", None, "missing", Location(SPEC, 30))
    report = markdown([drifted(changed()), missing, in_sync(), unmanaged()])

    assert report.splitlines()[:7] == [
        "## driftcheck report",
        "",
        "| declared | in sync | drifted | missing | unmanaged | coverage |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        "| 3 | 1 | 1 | 1 | 1 | 75% |",
        "",
        "**Drift found:** 1 drifted (1 difference), 1 missing.",
    ]


def test_verdict_in_sync_mentions_unmanaged_that_do_not_fail() -> None:
    assert (
        "\n**In sync:** 1 declared endpoint matches live. 1 unmanaged endpoint does "
        "not fail the run.\n"
    ) in markdown([in_sync(), unmanaged()])
    assert "\n**In sync:** 2 declared endpoints match live.\n" in markdown(
        [in_sync("a", "ep-a"), in_sync("b", "ep-b")]
    )


def test_verdict_counts_unmanaged_under_policy_fail() -> None:
    report = markdown([in_sync(), unmanaged()], policy="fail")
    assert "**Drift found:** 1 unmanaged (`--unmanaged fail`)." in report
    assert "They fail the run (`--unmanaged fail`)." in report


@pytest.mark.parametrize(
    ("declared", "stray", "coverage"),
    [
        (8, 2, "80%"),
        (3, 0, "100%"),
        (0, 4, "0%"),
        (2, 1, "66.6%"),
        (1999, 1, "99.9%"),
    ],
)
def test_coverage_is_declared_over_all_live(
    declared: int, stray: int, coverage: str
) -> None:
    endpoints = [in_sync(f"ok-{n}", f"ep-{n}") for n in range(declared)]
    endpoints += [unmanaged(f"stray-{n}", f"ep-s{n}") for n in range(stray)]
    line = markdown(endpoints).splitlines()[4]
    assert line == f"| {declared} | {declared} | 0 | 0 | {stray} | {coverage} |"


def test_coverage_is_na_with_nothing_to_count() -> None:
    assert markdown([]).splitlines()[4] == "| 0 | 0 | 0 | 0 | 0 | n/a |"


def test_policy_ignore_says_unmanaged_were_not_checked() -> None:
    line = markdown([in_sync()], policy="ignore").splitlines()[4]
    assert line == "| 1 | 1 | 0 | 0 | not checked | n/a |"


def test_drifted_section_links_spec_and_lists_differences() -> None:
    image = Difference("image", "changed", "v1", "v2", source=Location(SPEC, 5))
    report = markdown([drifted(changed(), image)])
    lines = report.splitlines()
    start = lines.index("### Drifted: <code>api</code> (<code>ep-1</code>)")

    assert lines[start : start + 8] == [
        "### Drifted: <code>api</code> (<code>ep-1</code>)",
        "",
        "Spec: [`specs/api.yaml:4`](specs/api.yaml#L4)",
        "",
        TABLE_HEAD,
        "| --- | --- | --- | --- |",
        "| <code>worker&#95;config.max&#95;replicas</code> | <code>3</code> "
        "| <code>6</code> | [12](specs/api.yaml#L12) |",
        '| <code>image</code> | <code>"v1"</code> | <code>"v2"</code> '
        "| [5](specs/api.yaml#L5) |",
    ]


def test_missing_and_extra_values_say_so() -> None:
    gone = Difference("envs.MODE", "missing", "fast", None, source=Location(SPEC, 8))
    added = Difference("envs.DEBUG", "extra", None, "1", source=Location(SPEC, 9))
    assert rows(markdown([drifted(gone, added)])) == [
        '| <code>envs.MODE</code> | <code>"fast"</code> | *(absent)* '
        "| [8](specs/api.yaml#L8) |",
        '| <code>envs.DEBUG</code> | *(not declared)* | <code>"1"</code> '
        "| [9](specs/api.yaml#L9) |",
    ]


def test_redacted_differences_never_show_a_value() -> None:
    secrets = [
        Difference("envs.TOKEN", kind, "hf_declared", "hf_live", redacted=True)
        for kind in ("changed", "missing", "extra")
    ]
    report = markdown([drifted(*secrets)])

    assert "hf" not in report
    assert rows(report) == [
        "| <code>envs.TOKEN</code> | *(redacted)* | *(redacted)* | - |",
        "| <code>envs.TOKEN</code> | *(redacted)* | *(absent)* | - |",
        "| <code>envs.TOKEN</code> | *(not declared)* | *(redacted)* | - |",
    ]


def test_missing_endpoint_section() -> None:
    by_name = EndpointResult("canary", None, "missing", Location(SPEC, 30))
    by_id = EndpointResult("pinned", "ep-7", "missing", Location(SPEC, 50))
    report = markdown([by_name, by_id])

    assert (
        "### Missing: <code>canary</code>\n\n"
        "Declared in [`specs/api.yaml:30`](specs/api.yaml#L30), but not live: "
        "no live endpoint has this name.\n"
    ) in report
    assert "no live endpoint has id <code>ep-7</code>." in report


def test_unmanaged_section_lists_each_endpoint() -> None:
    report = markdown([in_sync(), unmanaged("a", "ep-a"), unmanaged("b", "ep-b")])
    assert (
        "### Unmanaged: 2 live endpoints no spec declares\n\n"
        "- <code>a</code> (<code>ep-a</code>)\n"
        "- <code>b</code> (<code>ep-b</code>)\n"
    ) in report
    assert "They fail the run" not in report


def test_no_unmanaged_section_without_unmanaged_endpoints() -> None:
    assert "Unmanaged" not in markdown([in_sync()], policy="ignore")


def test_in_sync_endpoints_fold_into_details() -> None:
    report = markdown([drifted(changed()), in_sync("a", "ep-a"), in_sync("b", "ep-b")])
    assert report.endswith(
        "<details><summary>2 in sync</summary>\n\n"
        "- <code>a</code> (<code>ep-a</code>), "
        "[`specs/api.yaml:40`](specs/api.yaml#L40)\n"
        "- <code>b</code> (<code>ep-b</code>), "
        "[`specs/api.yaml:40`](specs/api.yaml#L40)\n"
        "\n</details>\n"
    )
    assert "<details>" not in markdown([drifted(changed())])


def ignored(
    difference: Difference, reason: str = "scaled by the autoscaler"
) -> Difference:
    difference.suppressed = Suppression(reason, "driftcheck.yaml:7")
    return difference


def unknown(path: str = "envs.HF_TOKEN", line: int = 20) -> Difference:
    return Difference(path, "unknown", None, None, True, Location(SPEC, line))


def settled(endpoint: EndpointResult) -> EndpointResult:
    endpoint.settle()
    return endpoint


SUPPRESSED_HEAD = "| endpoint | path | declared | live | line | reason | rule |"


def test_suppressed_difference_is_listed_with_its_rule_but_not_counted() -> None:
    image = Difference("image", "changed", "v1", "v2", source=Location(SPEC, 5))
    endpoint = settled(drifted(changed(), ignored(image)))
    report = markdown([endpoint, in_sync()])
    lines = report.splitlines()

    assert lines[2:5] == [
        "| declared | in sync | drifted | missing | unmanaged | coverage "
        "| ignored differences |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        "| 2 | 1 | 1 | 0 | 0 | 100% | 1 |",
    ]
    assert lines[6] == (
        "**Drift found:** 1 drifted (1 difference). 1 ignored difference does not "
        "count."
    )
    start = lines.index("### Drifted: <code>api</code> (<code>ep-1</code>)")
    assert lines[start + 4 : start + 9] == [
        "Also 1 ignored difference, listed under *Suppressed differences*.",
        "",
        TABLE_HEAD,
        "| --- | --- | --- | --- |",
        "| <code>worker&#95;config.max&#95;replicas</code> | <code>3</code> "
        "| <code>6</code> | [12](specs/api.yaml#L12) |",
    ]
    assert lines[start + 9] == ""
    assert (
        "### Suppressed differences\n\n"
        "1 difference matched an ignore rule: shown here, but not counted as drift."
        f"\n\n{SUPPRESSED_HEAD}\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n"
        "| <code>api</code> (<code>ep-1</code>) | <code>image</code> "
        '| <code>"v1"</code> | <code>"v2"</code> | [5](specs/api.yaml#L5) '
        "| <code>scaled by the autoscaler</code> "
        "| [`driftcheck.yaml:7`](driftcheck.yaml#L7) |\n"
    ) in report


def test_endpoint_whose_only_difference_is_ignored_is_in_sync() -> None:
    endpoint = settled(drifted(ignored(changed())))
    report = markdown([endpoint])

    assert endpoint.state == "in_sync"
    assert report.splitlines()[4] == "| 1 | 1 | 0 | 0 | 0 | 100% | 1 |"
    assert (
        "\n**In sync:** 1 declared endpoint matches live. 1 ignored difference does "
        "not count.\n"
    ) in report
    assert "### Drifted" not in report
    (row,) = rows(report)
    assert row.startswith("| <code>api</code> (<code>ep-1</code>) | <code>worker")
    assert report.endswith(
        "<details><summary>1 in sync</summary>\n\n"
        "- <code>api</code> (<code>ep-1</code>), "
        "[`specs/api.yaml:4`](specs/api.yaml#L4) (1 ignored difference)\n"
        "\n</details>\n"
    )
    assert report.index("### Suppressed differences") < report.index("<details>")


def test_ignored_secret_stays_redacted_and_rule_from_the_command_line() -> None:
    secret = Difference("envs.TOKEN", "changed", "hf_a", "hf_b", redacted=True)
    secret.suppressed = Suppression("--ignore on the command line", "--ignore")
    report = markdown([settled(drifted(secret))])

    assert "hf" not in report
    (row,) = rows(report)
    assert row == (
        "| <code>api</code> (<code>ep-1</code>) | <code>envs.TOKEN</code> "
        "| *(redacted)* | *(redacted)* | - "
        "| <code>--ignore on the command line</code> | <code>--ignore</code> |"
    )


def test_unknown_endpoint_has_its_own_section_and_no_drift_verdict() -> None:
    endpoint = settled(drifted(unknown(), name="chat", id="ep-3"))
    report = markdown([endpoint, in_sync()])
    lines = report.splitlines()

    assert endpoint.state == "unknown"
    assert lines[2:5] == [
        "| declared | in sync | drifted | unknown | missing | unmanaged | coverage |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        "| 2 | 1 | 0 | 1 | 0 | 0 | 100% |",
    ]
    assert lines[6] == (
        "**No drift found:** 1 of 2 declared endpoints matches live. 1 unknown "
        "endpoint could not be fully compared: the live list was a redacted "
        "snapshot, which withholds secret values."
    )
    assert "In sync:" not in report
    assert (
        "### Unknown: <code>chat</code> (<code>ep-3</code>)\n\n"
        "Spec: [`specs/api.yaml:4`](specs/api.yaml#L4)\n\n"
        "Not fully compared: the live list was a redacted snapshot, which withholds "
        "the live values below. A check against the API compares them.\n\n"
        f"{TABLE_HEAD}\n| --- | --- | --- | --- |\n"
        "| <code>envs.HF&#95;TOKEN</code> | *(redacted)* "
        "| *unknown (withheld in snapshot)* | [20](specs/api.yaml#L20) |\n"
    ) in report
    assert "### Drifted" not in report


def test_unknown_difference_of_a_drifted_endpoint_shows_in_its_table() -> None:
    mode = Difference("envs.MODE", "unknown", "fast", None, source=Location(SPEC, 9))
    endpoint = settled(drifted(changed(), mode))
    report = markdown([endpoint])

    assert endpoint.state == "drifted"
    assert "**Drift found:** 1 drifted (1 difference).\n" in report
    assert rows(report)[1] == (
        '| <code>envs.MODE</code> | <code>"fast"</code> '
        "| *unknown (withheld in snapshot)* | [9](specs/api.yaml#L9) |"
    )
    assert "### Unknown" not in report
    assert "unknown |" not in report.splitlines()[2]


HOSTILE = [
    "a|b",
    "<script>alert(1)</script>",
    "line one\nline two",
    "cr\rhere",
    "`code` and ``more``",
    "\\|escaped pipe",
    "**bold** _it_ ~~gone~~",
    "[link](javascript:alert(1))",
    "![img](http://x/y.png)",
    "<img src=x onerror=alert(1)>",
    "&lt;script&gt;",
    "\x1b[31mred\u202e",
    "# heading\n- item",
    "$x^2$",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_stays_inside_its_cell(text: str) -> None:
    difference = Difference(
        text, "changed", text, {"k": text}, False, Location(SPEC, 3)
    )
    report = markdown([drifted(difference, name=text, id=text)])

    (row,) = rows(report)
    assert row.count("|") == 5
    assert "<script" not in report
    assert "<img" not in report
    assert "`" not in row
    assert "*" not in row
    assert "[" not in row.rpartition(" | ")[0]
    assert "\r" not in report
    assert not any(line.startswith(("# ", "- item")) for line in report.splitlines())
    heading = next(line for line in report.splitlines() if line.startswith("###"))
    assert heading.count("<code>") == 2
    assert "<" not in heading.replace("<code>", "").replace("</code>", "")


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_ignore_reason_and_rule_stay_inside_their_cells(text: str) -> None:
    difference = changed()
    difference.suppressed = Suppression(text, text)
    report = markdown([settled(drifted(difference))])

    (row,) = rows(report)
    assert row.count("|") == 8
    assert "<script" not in report
    assert "<img" not in report
    assert "\r" not in report
    reason, rule = row.removesuffix(" |").split(" | ")[-2:]
    assert reason == rule
    assert reason.startswith("<code>")
    assert reason.endswith("</code>")
    assert reason.count("<code>") == 1
    assert "`" not in reason
    assert "[" not in reason


def test_ignore_reason_cannot_mention_anyone() -> None:
    difference = changed()
    difference.suppressed = Suppression("ask @octocat, see #12", "--ignore")
    (row,) = rows(markdown([settled(drifted(difference))]))
    assert "| <code>ask @octocat, see &#35;12</code> |" in row


def test_ignore_rule_at_a_hostile_file_name_links_inertly() -> None:
    difference = changed()
    difference.suppressed = Suppression("why", "x](javascript:alert(1)).yaml:3")
    (row,) = rows(markdown([settled(drifted(difference))]))
    assert row.endswith(
        "| [<code>x&#93;(javascript:alert(1)).yaml:3</code>]"
        "(x%5D%28javascript%3Aalert%281%29%29.yaml#L3) |"
    )


def test_hostile_file_names_cannot_make_a_link_of_their_own() -> None:
    location = Location("javascript:alert(1) a].yaml", 3)
    endpoint = EndpointResult("api", "ep-1", "missing", location)
    report = markdown([endpoint])
    assert (
        "[<code>javascript:alert(1) a&#93;.yaml:3</code>]"
        "(javascript%3Aalert%281%29%20a%5D.yaml#L3)"
    ) in report


def test_long_values_are_shortened() -> None:
    report = markdown([drifted(changed("x" * 5000, "y" * 5000))])
    (row,) = rows(report)
    assert '"' + "x" * (VALUE_LIMIT - 2) + "…" in row
    assert "x" * VALUE_LIMIT not in row
    assert len(row) < 3 * VALUE_LIMIT


def test_report_under_the_cap_is_whole() -> None:
    report = markdown([drifted(changed()) for _ in range(10)])
    assert CUT not in report
    assert len(rows(report)) == 10


def _many(endpoints: int, differences: int) -> list[EndpointResult]:
    value = "v" * 150
    return [
        drifted(
            *(changed(value, value + "w", line) for line in range(differences)),
            name=f"endpoint-{n}",
            id=f"ep-{n}",
        )
        for n in range(endpoints)
    ]


def test_report_over_the_cap_says_what_it_left_out() -> None:
    endpoints = _many(100, 5) + [in_sync(), unmanaged()]
    report = markdown(endpoints)

    assert len(report) <= SIZE_LIMIT
    assert report.splitlines()[4] == "| 101 | 1 | 100 | 0 | 1 | 99% |"
    shown_endpoints = report.count("### Drifted:")
    shown_rows = len(rows(report))
    assert 0 < shown_endpoints < 100
    left_endpoints = 100 - shown_endpoints + 2
    left_rows = 500 - shown_rows
    assert report.endswith(
        f"\n\n{CUT} {left_endpoints} endpoints and {left_rows} differences not "
        "shown. The JSON report (`--format json` or `--report json:PATH`) holds "
        "them all.\n"
    )
    assert "<details>" not in report
    assert "Unmanaged" not in report


def test_a_long_list_is_cut_between_items() -> None:
    strays = [unmanaged(f"stray-{n:05}", f"ep-{n:05}") for n in range(3000)]
    report = markdown([in_sync(), *strays])

    assert len(report) <= SIZE_LIMIT
    listed = len(re.findall(r"^- <code>stray-", report, re.MULTILINE))
    assert 0 < listed < 3000
    assert f"{CUT} {3000 - listed + 1} endpoints not shown." in report


def test_end_to_end_on_the_examples(run_cli: RunCli) -> None:
    result = run_cli("check", *EXAMPLES, "--format", "markdown", cwd=REPO)

    assert result.code == 1
    assert result.stderr == ""
    report = result.stdout
    assert report.startswith("## driftcheck report\n")
    assert "| 8 | 3 | 4 | 1 | 2 | 80% |" in report
    assert "**Drift found:** 4 drifted (11 differences), 1 missing." in report
    assert (
        "### Drifted: <code>chat-qwen2-72b</code> (<code>ep-b21d5e90</code>)\n\n"
        "Spec: [`examples/endpoints/llm/chat.yaml:38`]"
        "(examples/endpoints/llm/chat.yaml#L38)\n"
    ) in report
    assert (
        "| <code>worker&#95;config.max&#95;replicas</code> | <code>3</code> "
        "| <code>6</code> | [48](examples/endpoints/llm/chat.yaml#L48) |"
    ) in report
    assert (
        "| <code>envs.HF&#95;TOKEN</code> | *(redacted)* | *(redacted)* "
        "| [63](examples/endpoints/llm/chat.yaml#L63) |"
    ) in report
    assert "### Missing: <code>chat-mistral-7b-canary</code>" in report
    assert "<details><summary>3 in sync</summary>" in report
    assert "hf_" not in report
    assert "hf&#95;" not in report


def test_links_are_absolute_under_a_web_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "deploy").mkdir()
    monkeypatch.chdir(tmp_path / "deploy")
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    base = "https://github.com/acme/platform/blob/0123abc/"
    result = CheckResult([drifted(changed(line=12))])

    report = render("markdown", result, ReportOptions(link_base=base))

    assert f"[`{SPEC}:4`]({base}deploy/{SPEC}#L4)" in report
    assert f"[12]({base}deploy/{SPEC}#L12)" in report


def test_job_summary_links_point_at_the_commit_on_github(
    run_cli: RunCli, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    env = {
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/platform",
        "GITHUB_SHA": "0123abc",
        "GITHUB_WORKSPACE": str(REPO),
    }

    result = run_cli("check", *EXAMPLES, "--format", "github", env=env, cwd=REPO)

    assert result.code == 1
    text = summary.read_text(encoding="utf-8")
    blob = "https://github.com/acme/platform/blob/0123abc/"
    assert f"[48]({blob}examples/endpoints/llm/chat.yaml#L48)" in text


# --- against a base ref --------------------------------------------------------------


def pull_request() -> CheckResult:
    """A pull request that changes the image, while live drifted on two fields."""
    image = Difference("image", "changed", "v2", "v1", source=Location(SPEC, 5))
    image.change = "planned"
    replicas = changed()
    replicas.change = "drift"
    gpus = Difference(
        "worker_config.gpu_num", "changed", 2, 1, False, Location(SPEC, 13)
    )
    gpus.change = "conflict"
    api = settled(drifted(image, replicas, gpus))
    api.plan = "update"
    return CheckResult([api, in_sync()], base_ref="origin/main")


def section(report: str, heading: str) -> str:
    """The text under a heading, up to the next heading of the same or a higher
    level, or the in-sync list."""
    level = heading.split(" ")[0]
    start = report.index(f"\n{heading}\n") + 1
    marks = ["<details>", *(f"{'#' * n} " for n in range(2, len(level) + 1))]
    ends = [report.find(f"\n{mark}", start + len(heading)) for mark in marks]
    end = min((e for e in ends if e != -1), default=len(report))
    return report[start:end]


def test_pull_request_shows_the_plan_apart_from_the_drift() -> None:
    report = render("markdown", pull_request(), ReportOptions())
    lines = report.splitlines()

    assert lines[2:5] == [
        "| declared | in sync | drifted | planned | missing | unmanaged | coverage |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        "| 2 | 1 | 1 | 0 | 0 | 0 | 100% |",
    ]
    assert lines[6] == "**Drift found:** 1 drifted (2 differences, 1 conflict)."
    assert report.index("### Planned changes") < report.index("### Drift\n")

    planned = section(report, "### Planned changes")
    assert "live still matches <code>origin/main</code>" in planned
    assert "They do not fail the run." in planned
    assert "#### Update: <code>api</code> (<code>ep-1</code>)" in planned
    assert rows(planned) == [
        '| <code>image</code> | <code>"v2"</code> | <code>"v1"</code> '
        "| [5](specs/api.yaml#L5) |"
    ]
    drift = section(report, "### Drift")
    assert "#### Drifted: <code>api</code> (<code>ep-1</code>)" in drift
    conflict = "**Conflict:** on 1 field, live differs both from <code>origin/main"
    assert conflict in drift
    assert "Also 1 planned change, listed under *Planned changes*." in drift
    assert "| path | declared | live | line | change |" in drift
    assert rows(drift) == [
        "| <code>worker&#95;config.max&#95;replicas</code> | <code>3</code> "
        "| <code>6</code> | [12](specs/api.yaml#L12) | drift |",
        "| <code>worker&#95;config.gpu&#95;num</code> | <code>2</code> "
        "| <code>1</code> | [13](specs/api.yaml#L13) | **conflict** |",
    ]


def test_only_planned_changes_are_in_sync_apart_from_them() -> None:
    image = Difference("image", "changed", "v2", "v1", source=Location(SPEC, 5))
    image.change = "planned"
    api = settled(drifted(image))
    report = render("markdown", CheckResult([api], base_ref="main"), ReportOptions())

    assert api.state == "planned"
    assert report.splitlines()[4] == "| 1 | 0 | 0 | 1 | 0 | 0 | 100% |"
    assert (
        "\n**In sync apart from planned changes:** 1 declared endpoint matches live, "
        "or will once the deploy applies this change.\n"
    ) in report
    assert "### Drift" not in report
    assert "#### Update: <code>api</code>" in report


def test_planned_creation_and_deletion_are_listed_not_missing_or_unmanaged() -> None:
    created = EndpointResult("new", None, "planned", Location(SPEC, 30), plan="create")
    deleted = EndpointResult(
        "old", "ep-5", "planned", Location("main:specs/old.yaml", 2), plan="delete"
    )
    result = CheckResult([created, in_sync(), deleted], base_ref="main")
    report = render("markdown", result, ReportOptions())

    assert report.splitlines()[4] == "| 2 | 1 | 0 | 2 | 0 | 0 | 100% |"
    assert report.splitlines()[6].startswith("**In sync apart from planned changes:**")
    assert (
        "- Create <code>new</code>: added in "
        "[`specs/api.yaml:30`](specs/api.yaml#L30), not live yet; the deploy will "
        "create it.\n"
        "- Delete <code>old</code> (<code>ep-5</code>): removed by this change "
        "(declared at <code>main:specs/old.yaml:2</code>) but still live; the deploy "
        "will delete it.\n"
    ) in report
    # A spec at the base ref is no file to link to.
    assert "](main" not in report
    assert "Missing" not in report
    assert "Unmanaged" not in report


def test_missing_under_a_base_ref_is_drift() -> None:
    missing = EndpointResult("canary", None, "missing", Location(SPEC, 30))
    result = CheckResult([missing], base_ref="main")
    report = render("markdown", result, ReportOptions())

    assert "### Planned changes" not in report
    assert "### Drift\n" in report
    assert "\n#### Missing: <code>canary</code>\n" in report


# --- against a baseline --------------------------------------------------------------

NOW = "2026-12-01T00:00:00Z"


def seen(difference: Difference, status: Status, first_seen: str) -> Difference:
    difference.status = status
    difference.first_seen = first_seen
    return difference


def test_baseline_ages_each_finding_and_lists_the_resolved() -> None:
    old = seen(changed(), "known", "2026-11-28T00:00:00Z")
    recent = seen(
        Difference("image", "changed", "v1", "v2", source=Location(SPEC, 5)),
        "known",
        "2026-11-30T19:00:00Z",
    )
    fresh = seen(Difference("envs.A", "extra", None, "1"), "new", NOW)
    gone = EndpointResult(
        "canary",
        None,
        "missing",
        Location(SPEC, 30),
        status="known",
        first_seen="2026-11-01T00:00:00Z",
    )
    stray = EndpointResult(
        "stray", "ep-9", "unmanaged", None, status="new", first_seen=NOW
    )
    result = CheckResult(
        [settled(drifted(old, recent, fresh)), gone, stray],
        baseline="drift.json",
        checked_at=NOW,
        resolved=[
            Resolved("api", "envs.MODE", "missing", "2026-11-20T00:00:00Z"),
            Resolved("retired", "", "missing", None),
        ],
    )
    report = render("markdown", result, ReportOptions())
    lines = report.splitlines()

    assert lines[2:5] == [
        "| declared | in sync | drifted | missing | unmanaged | coverage | new "
        "| resolved |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        "| 2 | 0 | 1 | 1 | 1 | 66.6% | 2 | 2 |",
    ]
    assert "| path | declared | live | line | age |" in report
    assert [row.rpartition(" | ")[2] for row in rows(report)] == [
        "3 days |",
        "5 hours |",
        "new |",
    ]
    assert "no live endpoint has this name. Known for 30 days.\n" in report
    assert "- <code>stray</code> (<code>ep-9</code>) (new)\n" in report
    assert (
        "### Resolved since the baseline\n\n"
        "2 findings of the baseline are gone in this run.\n\n"
        "- <code>api</code>: <code>envs.MODE</code> (missing), first seen "
        "<code>2026-11-20T00:00:00Z</code> (11 days ago)\n"
        "- <code>retired</code>: missing\n"
    ) in report


def test_known_drift_under_fail_on_new_does_not_fail() -> None:
    known = seen(changed(), "known", "2026-11-30T23:59:30Z")
    result = CheckResult(
        [settled(drifted(known))], baseline="b.json", checked_at=NOW, fail_on="new"
    )
    report = render("markdown", result, ReportOptions())

    assert result.exit_code() == 0
    assert (
        "\n**No new drift:** every finding is known from the baseline, and known "
        "drift does not fail the run (`--fail-on new`).\n"
    ) in report
    assert rows(report)[0].endswith(" | under a minute |")


def test_new_drift_under_fail_on_new_says_what_fails() -> None:
    known = seen(changed(), "known", "2026-11-30T00:00:00Z")
    fresh = seen(Difference("image", "changed", "a", "b"), "new", NOW)
    result = CheckResult(
        [settled(drifted(known, fresh))],
        baseline="b.json",
        checked_at=NOW,
        fail_on="new",
    )
    report = render("markdown", result, ReportOptions())

    assert (
        "**Drift found:** 1 drifted (2 differences). Of these, only the 1 finding "
        "new since the baseline fails the run (`--fail-on new`).\n"
    ) in report


@pytest.mark.parametrize("first_seen", [None, "", "yesterday", "2026-13-40T00:00:00Z"])
def test_an_unreadable_first_seen_is_known_without_an_age(
    first_seen: str | None,
) -> None:
    difference = changed()
    difference.status = "known"
    difference.first_seen = first_seen
    result = CheckResult([settled(drifted(difference))], baseline="b", checked_at=NOW)
    assert rows(render("markdown", result, ReportOptions()))[0].endswith(" | known |")


# --- health and capacity -------------------------------------------------------------


def unhealthy(*warnings: str) -> EndpointResult:
    endpoint = in_sync()
    endpoint.health = list(warnings)
    return endpoint


def test_health_warnings_have_their_own_section_and_do_not_fail() -> None:
    endpoint = unhealthy(
        'status is "failed": out of memory', 'worker "w-1" is unhealthy'
    )
    result = CheckResult([endpoint])
    report = render("markdown", result, ReportOptions())

    assert report.splitlines()[4] == "| 1 | 1 | 0 | 0 | 0 | 100% | 1 |"
    assert "| coverage | unhealthy |" in report.splitlines()[2]
    assert (
        "**In sync:** 1 declared endpoint matches live. 1 endpoint has health "
        "warnings, listed under *Health*; they do not fail the run.\n"
    ) in report
    assert (
        "### Health\n\n"
        "Warnings about the live endpoints, not drift: they do not fail the run "
        "unless `--require-healthy` is given.\n\n"
        '- <code>ok</code> (<code>ep-2</code>): status is "failed": out of memory\n'
        '- <code>ok</code> (<code>ep-2</code>): worker "w-1" is unhealthy\n'
    ) in report


def test_health_warnings_fail_under_require_healthy() -> None:
    result = CheckResult([unhealthy('status is "stopped"')], require_healthy=True)
    report = render("markdown", result, ReportOptions())

    assert report.splitlines()[6] == (
        "**Unhealthy endpoints fail the run:** 1 endpoint with health warnings "
        "(`--require-healthy`)."
    )
    assert "Live endpoints that are not healthy fail the run" in report
    both = CheckResult(
        [settled(drifted(changed())), unhealthy("x")], require_healthy=True
    )
    assert (
        "**Drift found:** 1 drifted (1 difference), 1 unhealthy (`--require-healthy`)."
    ) in render("markdown", both, ReportOptions())


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_health_text_stays_inert(text: str) -> None:
    report = render("markdown", CheckResult([unhealthy(text)]), ReportOptions())
    health = section(report, "### Health").splitlines()
    (line,) = [line for line in health if line.startswith("- ")]

    assert "<script" not in report
    assert "<img" not in report
    assert "\r" not in report
    assert "`" not in line
    assert "[" not in line
    assert not any(line.startswith(("# ", "- item")) for line in report.splitlines())


def test_gpu_capacity_of_a_drifted_endpoint_and_in_total() -> None:
    scaled = settled(drifted(changed()))
    scaled.capacity = Capacity(declared=6, live=12)
    shrunk = settled(drifted(changed(), name="b", id="ep-b"))
    shrunk.capacity = Capacity(declared=8, live=4)
    report = markdown([scaled, shrunk])

    assert report.splitlines()[2].endswith("| coverage | GPU capacity change |")
    assert report.splitlines()[4] == "| 2 | 0 | 2 | 0 | 0 | 100% | +2 |"
    assert (
        "| [12](specs/api.yaml#L12) |\n\n"
        "GPU capacity (gpu_num \N{MULTIPLICATION SIGN} max_replicas): declared 6, "
        "live 12 (+6)\n\n"
        "### Drifted: <code>b</code>"
    ) in report
    assert "declared 8, live 4 (-4)\n" in report


def test_gpu_capacity_is_left_out_when_it_does_not_change() -> None:
    level = settled(drifted(changed()))
    level.capacity = Capacity(declared=6, live=6)
    report = markdown([level])

    assert "GPU capacity change" not in report
    assert "declared 6, live 6 (+0)" in report
