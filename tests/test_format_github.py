"""The GitHub Actions format: annotations, exact escaping, the summary notice."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftcheck.formats import ReportOptions, render
from driftcheck.formats.github import escape_data, escape_property
from driftcheck.model import (
    Capacity,
    CheckResult,
    Difference,
    EndpointResult,
    Location,
    Resolved,
    Suppression,
    UnmanagedPolicy,
)

from .conftest import EXAMPLES, REPO, RunCli

SPEC = "specs/api.yaml"
OURS = ("::error file=", "::error title=unmanaged endpoint::", "::warning title=")
NOTICE = "::notice title=driftcheck summary::"


def github(endpoints: list[EndpointResult], policy: UnmanagedPolicy = "warn") -> str:
    result = CheckResult(endpoints, unmanaged_policy=policy)
    return render("github", result, ReportOptions())


def drifted(
    *differences: Difference, name: str = "api", id: str = "ep-1"
) -> EndpointResult:
    return EndpointResult(name, id, "drifted", Location(SPEC, 4), list(differences))


def changed(path: str = "worker_config.max_replicas", line: int = 12) -> Difference:
    return Difference(path, "changed", 3, 6, source=Location(SPEC, line))


def unmanaged(name: str = "stray", id: str = "ep-9") -> EndpointResult:
    return EndpointResult(name, id, "unmanaged", None)


def parse(line: str) -> tuple[str, dict[str, str], str]:
    """Read a command line back the way the Actions runner does."""
    assert line.startswith("::")
    name_and_props, sep, data = line[2:].partition("::")
    assert sep
    name, _, props = name_and_props.partition(" ")
    properties = {}
    for pair in filter(None, props.split(",")):
        key, _, value = pair.partition("=")
        properties[key] = _unescape(value, ("%0D", "\r"), ("%0A", "\n"))
        properties[key] = _unescape(properties[key], ("%3A", ":"), ("%2C", ","))
        properties[key] = properties[key].replace("%25", "%")
    message = _unescape(data, ("%0D", "\r"), ("%0A", "\n")).replace("%25", "%")
    return name, properties, message


def _unescape(text: str, *pairs: tuple[str, str]) -> str:
    for token, char in pairs:
        text = text.replace(token, char)
    return text


def test_difference_is_an_error_at_its_declared_line() -> None:
    lines = github([drifted(changed())]).splitlines()

    assert lines[0] == (
        "::error file=specs/api.yaml,line=12,"
        "title=drift%3A api worker_config.max_replicas"
        "::api (ep-1): worker_config.max_replicas is declared 3, live 6"
    )
    assert len(lines) == 2
    assert lines[1].startswith(NOTICE)


@pytest.mark.parametrize(
    ("difference", "message"),
    [
        (
            Difference("image", "changed", "v1", "v2"),
            'image is declared "v1", live "v2"',
        ),
        (
            Difference("envs.MODE", "missing", "fast", None),
            'envs.MODE is declared "fast" but absent live',
        ),
        (
            Difference("envs.DEBUG", "extra", None, "1"),
            'envs.DEBUG is set live to "1" but not declared',
        ),
    ],
)
def test_each_kind_of_difference_reads_plainly(
    difference: Difference, message: str
) -> None:
    line = github([drifted(difference)]).splitlines()[0]
    assert parse(line)[2] == f"api (ep-1): {message}"


def test_a_difference_without_a_line_points_at_the_endpoint() -> None:
    difference = Difference("name", "changed", "a", "b")
    line = github([drifted(difference)]).splitlines()[0]
    assert line.startswith("::error file=specs/api.yaml,line=4,title=")


def test_redacted_differences_never_show_a_value() -> None:
    secrets = [
        Difference("envs.HF_TOKEN", kind, "hf_declared", "hf_live", redacted=True)
        for kind in ("changed", "missing", "extra")
    ]
    output = github([drifted(*secrets)])

    assert "hf_" not in output
    messages = [parse(line)[2] for line in output.splitlines()[:3]]
    assert messages == [
        "api (ep-1): envs.HF_TOKEN differs between declared and live (value redacted)",
        "api (ep-1): envs.HF_TOKEN is declared but absent live (value redacted)",
        "api (ep-1): envs.HF_TOKEN is set live but not declared (value redacted)",
    ]


def test_missing_endpoint_is_an_error_at_its_spec() -> None:
    missing = EndpointResult("canary", None, "missing", Location(SPEC, 30))
    assert github([missing]).splitlines()[0] == (
        "::error file=specs/api.yaml,line=30,title=missing%3A canary"
        "::canary is declared, but no live endpoint matches"
    )


def test_unmanaged_endpoint_is_a_warning_without_a_file() -> None:
    assert github([unmanaged()]).splitlines()[0] == (
        "::warning title=unmanaged endpoint::stray (ep-9) is live, but no spec "
        "declares it"
    )


def test_unmanaged_endpoint_is_an_error_under_policy_fail() -> None:
    assert github([unmanaged()], policy="fail").splitlines()[0] == (
        "::error title=unmanaged endpoint::stray (ep-9) is live, but no spec "
        "declares it (--unmanaged fail)"
    )


def test_policy_ignore_leaves_unmanaged_out_of_the_notice() -> None:
    in_sync = EndpointResult("api", "ep-1", "in_sync", Location(SPEC, 4))
    assert github([in_sync], policy="ignore") == (
        f"{NOTICE}1 declared: 1 in sync, 0 drifted, 0 missing; 0 differences. "
        "In sync.\n"
    )


def test_notice_sums_everything_up_once_at_the_end() -> None:
    missing = EndpointResult("canary", None, "missing", Location(SPEC, 30))
    in_sync = EndpointResult("ok", "ep-2", "in_sync", Location(SPEC, 40))
    endpoints = [drifted(changed(), changed("image", 5)), missing, in_sync, unmanaged()]
    lines = github(endpoints).splitlines()

    assert lines[-1] == (
        f"{NOTICE}3 declared: 1 in sync, 1 drifted, 1 missing; 1 unmanaged; "
        "2 differences. Drift found."
    )
    assert sum(line.startswith("::notice") for line in lines) == 1
    assert len(lines) == 5


def test_notice_says_where_to_find_errors_past_the_tenth() -> None:
    differences = [changed(f"envs.VAR_{n}", n) for n in range(12)]
    lines = github([drifted(*differences)]).splitlines()

    assert len(lines) == 13
    assert all(line.startswith("::error file=") for line in lines[:12])
    assert lines[12].startswith(NOTICE)
    assert "12 differences" in lines[12]
    assert "at most 10 error and 10 warning annotations per step" in lines[12]
    assert "this run has 12 errors and 0 warnings" in lines[12]


def test_notice_stays_short_at_ten_errors() -> None:
    differences = [changed(f"envs.VAR_{n}", n) for n in range(10)]
    notice = github([drifted(*differences)]).splitlines()[-1]
    assert "at most" not in notice


def ignored(difference: Difference, reason: str = "autoscaled") -> Difference:
    difference.suppressed = Suppression(reason, "driftcheck.yaml:7")
    return difference


def unknown(path: str = "envs.HF_TOKEN", line: int = 20) -> Difference:
    return Difference(path, "unknown", None, None, True, Location(SPEC, line))


def settled(endpoint: EndpointResult) -> EndpointResult:
    endpoint.settle()
    return endpoint


def test_suppressed_difference_gets_no_annotation_but_is_counted() -> None:
    endpoint = settled(drifted(changed(), ignored(changed("image", 5), "pinned")))
    lines = github([endpoint]).splitlines()

    assert len(lines) == 2
    assert lines[0].startswith("::error file=specs/api.yaml,line=12,")
    assert "image" not in lines[0]
    assert lines[1] == (
        f"{NOTICE}1 declared: 0 in sync, 1 drifted, 0 missing; 0 unmanaged; "
        "1 difference; 1 ignored difference. Drift found."
    )


def test_endpoint_whose_only_difference_is_suppressed_is_in_sync() -> None:
    endpoint = settled(drifted(ignored(changed()), ignored(changed("image", 5))))
    output = github([endpoint])

    assert endpoint.state == "in_sync"
    assert output == (
        f"{NOTICE}1 declared: 1 in sync, 0 drifted, 0 missing; 0 unmanaged; "
        "0 differences; 2 ignored differences. In sync.\n"
    )


def test_unknown_field_is_a_notice_at_its_line() -> None:
    endpoint = settled(drifted(unknown(), name="chat", id="ep-3"))
    lines = github([endpoint]).splitlines()

    assert endpoint.state == "unknown"
    assert lines == [
        "::notice file=specs/api.yaml,line=20,title=unknown%3A chat envs.HF_TOKEN"
        "::chat (ep-3): envs.HF_TOKEN was not compared: its live value was withheld "
        "(redacted snapshot)",
        f"{NOTICE}1 declared: 0 in sync, 0 drifted, 1 unknown, 0 missing; "
        "0 unmanaged; 0 differences; 1 unknown field. No drift found, but unknown "
        "endpoints could not be fully compared: the live list was a redacted "
        "snapshot.",
    ]


def test_unknown_field_of_a_drifted_endpoint_follows_the_errors() -> None:
    endpoint = settled(drifted(unknown(), changed(), ignored(unknown("envs.B", 21))))
    lines = github([endpoint]).splitlines()

    assert endpoint.state == "drifted"
    assert [parse(line)[0] for line in lines] == ["error", "notice", "notice"]
    assert parse(lines[1])[1]["line"] == "20"
    assert "envs.B" not in "".join(lines[:2])
    assert lines[2].endswith(
        "; 1 difference; 1 unknown field; 1 ignored difference. Drift found."
    )


def test_unknown_notices_leave_room_for_the_summary() -> None:
    fields = [unknown(f"envs.K{n}", n + 1) for n in range(9)]
    lines = github([settled(drifted(*fields))]).splitlines()
    assert len(lines) == 10
    assert all(line.startswith("::notice file=") for line in lines[:9])

    fields = [unknown(f"envs.K{n}", n + 1) for n in range(12)]
    lines = github([settled(drifted(*fields))]).splitlines()
    assert len(lines) == 10
    assert all(line.startswith("::notice file=") for line in lines[:8])
    assert lines[8] == (
        "::notice title=unknown fields::4 more fields were not compared, their live "
        "values withheld in a redacted snapshot: api (ep-1): envs.K8; "
        "api (ep-1): envs.K9; api (ep-1): envs.K10; api (ep-1): envs.K11"
    )
    assert lines[9].startswith(NOTICE)
    assert "12 unknown fields" in lines[9]


def test_escaping_is_exactly_the_toolkits() -> None:
    assert escape_data("100% a\r\nb: c, d") == "100%25 a%0D%0Ab: c, d"
    assert escape_property("100% a\r\nb: c, d") == "100%25 a%0D%0Ab%3A c%2C d"
    assert escape_data("%0A") == "%250A"
    assert escape_property("%3A") == "%253A"


def test_other_control_characters_become_visible() -> None:
    assert escape_data("\x1b[31mred\ttab\x07\u2028\u202e") == (
        "\\x1b[31mred\\ttab\\x07\\u2028\\u202e"
    )


def test_escaped_properties_read_back_whole() -> None:
    name = "a:b,c%d\r\ne"
    path = "envs.X:Y,Z"
    difference = Difference(path, "changed", "1", "2", source=Location("s,p:c.yaml", 7))
    line = github([drifted(difference, name=name)]).splitlines()[0]

    command, properties, message = parse(line)
    assert command == "error"
    assert properties == {
        "file": "s,p:c.yaml",
        "line": "7",
        "title": f"drift: {name} {path}",
    }
    assert message == f'{name} (ep-1): {path} is declared "1", live "2"'


HOSTILE = [
    "x\n::error::pwned",
    "x\r::error::pwned",
    "x\r\n::add-mask::pwned",
    "%0A::error::pwned",
    "x\x85::error::pwned",
    "x\u2028::error::pwned",
    "x\x0b::error::pwned",
    "x\n##[error]pwned",
    "x::error::pwned",
]


@pytest.mark.parametrize("policy", ["warn", "fail"])
@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_never_starts_a_command(
    text: str, policy: UnmanagedPolicy
) -> None:
    endpoints = [
        drifted(
            Difference(text, "changed", text, [text], source=Location(text, 3)),
            name=text,
            id=text,
        ),
        EndpointResult(text, text, "missing", Location(text, 9)),
        unmanaged(text, text),
    ]
    output = github(endpoints, policy=policy)
    lines = output.splitlines()

    assert len(lines) == 4
    assert all(line.startswith(OURS) for line in lines[:3])
    assert lines[3].startswith(NOTICE)
    assert "\r" not in output
    assert output.count("\n") == 4


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_in_unknown_fields_never_starts_a_command(text: str) -> None:
    fields = [
        Difference(text, "unknown", None, None, True, Location(text, n + 1))
        for n in range(12)
    ]
    endpoint = settled(drifted(*fields, name=text, id=text))
    endpoint.differences.append(ignored(changed(), text))
    output = github([endpoint])

    assert len(output.splitlines()) == 10
    assert all(line.startswith("::notice ") for line in output.splitlines())
    assert "\r" not in output
    assert output.count("\n") == 10


def test_end_to_end_on_the_examples(run_cli: RunCli) -> None:
    result = run_cli("check", *EXAMPLES, "--format", "github", cwd=REPO)

    assert result.code == 1
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert (
        "::error file=examples/endpoints/llm/chat.yaml,line=48,"
        "title=drift%3A chat-qwen2-72b worker_config.max_replicas"
        "::chat-qwen2-72b (ep-b21d5e90): worker_config.max_replicas is declared 3, "
        "live 6; GPU capacity (gpu_num x max_replicas): declared 12, live 24 (+12)"
    ) in lines
    assert (
        "::error file=examples/endpoints/llm/chat.yaml,line=71,"
        "title=missing%3A chat-mistral-7b-canary"
        "::chat-mistral-7b-canary is declared, but no live endpoint matches"
    ) in lines
    assert all(line.startswith(("::error ", "::warning ")) for line in lines[:-1])
    assert lines[-1].startswith(NOTICE)
    assert "hf_" not in result.stdout


def test_job_summary_gets_the_markdown_report(run_cli: RunCli, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")

    github_run = run_cli(
        "check",
        *EXAMPLES,
        "--format",
        "github",
        cwd=REPO,
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    markdown_run = run_cli("check", *EXAMPLES, "--format", "markdown", cwd=REPO)

    assert github_run.code == 1
    assert github_run.stderr == ""
    assert all(line.startswith("::") for line in github_run.stdout.splitlines())
    text = summary.read_text(encoding="utf-8")
    assert text == "earlier step\n" + markdown_run.stdout
    assert "| <code>worker&#95;config.max&#95;replicas</code> | <code>3</code>" in text


def test_job_summary_stays_under_one_mib(run_cli: RunCli, tmp_path: Path) -> None:
    limit = 1024 * 1024
    summary = tmp_path / "summary.md"
    summary.write_bytes(b"x" * (limit - 1000))

    result = run_cli(
        "check",
        *EXAMPLES,
        "--format",
        "github",
        cwd=REPO,
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )

    assert result.code == 1
    assert result.stderr == ""
    size = summary.stat().st_size
    assert limit - 1000 < size <= limit
    assert summary.read_bytes().endswith(b"limited to 1 MiB._\n")


# --- against a base ref --------------------------------------------------------------


def pull_request() -> CheckResult:
    image = Difference("image", "changed", "v2", "v1", source=Location(SPEC, 5))
    image.change = "planned"
    replicas = changed()
    replicas.change = "drift"
    gpus = changed("worker_config.gpu_num", 13)
    gpus.change = "conflict"
    api = settled(drifted(image, replicas, gpus))
    api.plan = "update"
    return CheckResult([api], base_ref="origin/main")


def test_planned_is_a_notice_and_conflict_an_error_that_says_so() -> None:
    lines = render("github", pull_request(), ReportOptions()).splitlines()

    assert [parse(line)[0] for line in lines] == ["error", "error", "notice", "notice"]
    assert parse(lines[0])[1]["title"] == "drift: api worker_config.max_replicas"
    _, properties, message = parse(lines[1])
    assert properties == {
        "file": SPEC,
        "line": "13",
        "title": "conflict: api worker_config.gpu_num",
    }
    assert message == (
        "api (ep-1): worker_config.gpu_num is declared 3, live 6; live differs both "
        "from origin/main and from this change, and the deploy would overwrite the "
        "change made by hand"
    )
    assert lines[2] == (
        "::notice file=specs/api.yaml,line=5,title=planned%3A api image"
        '::api (ep-1): image is declared "v2", live "v1"; this change sets it, and '
        "the deploy will apply it"
    )
    assert lines[3] == (
        f"{NOTICE}1 declared: 0 in sync, 1 drifted, 0 planned, 0 missing; "
        "0 unmanaged; 2 differences (1 conflict); 1 planned change. Drift found."
    )


def test_only_planned_changes_are_in_sync_apart_from_them() -> None:
    image = Difference("image", "changed", "v2", "v1", source=Location(SPEC, 5))
    image.change = "planned"
    output = render(
        "github",
        CheckResult([settled(drifted(image))], base_ref="main"),
        ReportOptions(),
    )

    assert [parse(line)[0] for line in output.splitlines()] == ["notice", "notice"]
    assert output.endswith(
        "1 declared: 0 in sync, 0 drifted, 1 planned, 0 missing; 0 unmanaged; "
        "0 differences; 1 planned change. In sync apart from planned changes.\n"
    )


def test_planned_creation_and_deletion_are_notices() -> None:
    created = EndpointResult("new", None, "planned", Location(SPEC, 30), plan="create")
    deleted = EndpointResult(
        "old", "ep-5", "planned", Location("main:specs/old.yaml", 2), plan="delete"
    )
    lines = render(
        "github", CheckResult([created, deleted], base_ref="main"), ReportOptions()
    ).splitlines()

    assert lines[:2] == [
        "::notice file=specs/api.yaml,line=30,title=planned create%3A new"
        "::new is added by this change and not live yet; the deploy will create it",
        # The spec is at the base ref, not in the checkout: no file to point at.
        "::notice title=planned delete%3A old::old (ep-5) is removed by this change "
        "(declared at main:specs/old.yaml:2) but still live; the deploy will delete it",
    ]
    assert lines[2].startswith(f"{NOTICE}1 declared: 0 in sync, 0 drifted, 2 planned,")
    assert lines[2].endswith(". In sync apart from planned changes.")


def test_planned_and_unknown_notices_fold_by_kind_past_the_limit() -> None:
    planned = []
    for n in range(9):
        difference = changed(f"envs.P{n}", n + 1)
        difference.change = "planned"
        planned.append(difference)
    fields = [unknown(f"envs.K{n}", n + 20) for n in range(3)]
    endpoint = settled(drifted(*planned, *fields))
    lines = render(
        "github", CheckResult([endpoint], base_ref="main"), ReportOptions()
    ).splitlines()

    assert len(lines) == 10
    assert all(line.startswith("::notice file=") for line in lines[:7])
    # A folded notice for each kind past the first seven, then the summary.
    assert lines[7] == (
        "::notice title=planned changes::2 more planned changes the deploy will "
        "apply: api (ep-1): envs.P7; api (ep-1): envs.P8"
    )
    assert lines[8] == (
        "::notice title=unknown fields::3 more fields were not compared, their live "
        "values withheld in a redacted snapshot: api (ep-1): envs.K0; "
        "api (ep-1): envs.K1; api (ep-1): envs.K2"
    )
    assert lines[9].startswith(NOTICE)
    assert "9 planned changes; 3 unknown fields" in lines[9]


# --- against a baseline --------------------------------------------------------------


def test_findings_say_whether_they_are_new_and_the_summary_counts() -> None:
    known = changed()
    known.status, known.first_seen = "known", "2026-11-28T00:00:00Z"
    new = changed("image", 5)
    new.status, new.first_seen = "new", "2026-12-01T00:00:00Z"
    missing = EndpointResult(
        "canary",
        None,
        "missing",
        Location(SPEC, 30),
        status="known",
        first_seen="2026-11-01T00:00:00Z",
    )
    result = CheckResult(
        [settled(drifted(known, new)), missing],
        baseline="drift.json",
        resolved=[Resolved("api", "envs.A", "extra", None)],
    )
    lines = render("github", result, ReportOptions()).splitlines()

    assert parse(lines[0])[2].endswith(" (known since 2026-11-28T00:00:00Z)")
    assert parse(lines[1])[2].endswith(" live 6 (new since the baseline)")
    assert parse(lines[2])[2].endswith(" (known since 2026-11-01T00:00:00Z)")
    assert lines[3].endswith(
        "; 2 differences; 1 new, 1 resolved since the baseline. Drift found."
    )


def test_known_drift_under_fail_on_new_is_no_new_drift() -> None:
    known = changed()
    known.status = "known"
    result = CheckResult([settled(drifted(known))], baseline="b.json", fail_on="new")
    notice = render("github", result, ReportOptions()).splitlines()[-1]

    assert notice.endswith(
        "; 0 new, 0 resolved since the baseline. No new drift; known drift does not "
        "fail the run (--fail-on new)."
    )


# --- health and capacity -------------------------------------------------------------


def unhealthy(*warnings: str) -> EndpointResult:
    endpoint = EndpointResult("ok", "ep-2", "in_sync", Location(SPEC, 40))
    endpoint.health = list(warnings)
    return endpoint


@pytest.mark.parametrize(("required", "name"), [(False, "warning"), (True, "error")])
def test_health_warnings_are_annotations_at_the_spec(required: bool, name: str) -> None:
    endpoint = unhealthy('status is "failed": oom', 'worker "w-1" is unhealthy')
    result = CheckResult([endpoint], require_healthy=required)
    lines = render("github", result, ReportOptions()).splitlines()

    command, properties, message = parse(lines[0])
    assert command == name
    assert properties == {"file": SPEC, "line": "40", "title": "unhealthy: ok"}
    expected = 'ok (ep-2) is not healthy: status is "failed": oom; worker "w-1" is '
    expected += "unhealthy"
    assert message == expected + (" (--require-healthy)" if required else "")
    assert "; 1 unhealthy endpoint. " in lines[1]
    assert lines[1].endswith(
        "Unhealthy endpoints fail the run (--require-healthy)."
        if required
        else "In sync."
    )


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_health_text_never_starts_a_command(text: str) -> None:
    output = render("github", CheckResult([unhealthy(text, text)]), ReportOptions())
    lines = output.splitlines()

    assert len(lines) == 2
    assert lines[0].startswith("::warning file=specs/api.yaml,line=40,title=")
    assert lines[1].startswith(NOTICE)
    assert "\r" not in output
    assert output.count("\n") == 2


def test_capacity_fields_say_what_their_drift_does_to_gpus() -> None:
    endpoint = settled(drifted(changed(), changed("worker_config.idle_timeout", 14)))
    endpoint.capacity = Capacity(declared=6, live=12)
    lines = render("github", CheckResult([endpoint]), ReportOptions()).splitlines()

    assert parse(lines[0])[2].endswith(
        "; GPU capacity (gpu_num x max_replicas): declared 6, live 12 (+6)"
    )
    assert "GPU" not in lines[1]
    assert lines[2].endswith(
        "; 2 differences; GPU capacity +6 from drift. Drift found."
    )
