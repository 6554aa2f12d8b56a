"""End-to-end tests of driftcheck.yaml: where it is found, what it sets, how it fails.

Every test runs the real command in a throwaway repository under `tmp_path` (a `.git`
directory marks its root), with the live side read from a saved file or served by
the fake PPIO API on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import UNREACHABLE_API_URL, CliResult, RunCli
from .fake_ppio import FakePPIO, make_endpoint, slow, status
from .specdata import spec_for

API_KEY = "sk-config-Hq3Wn8Zt5Lc2Vb7Rx"


def write_yaml(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def write_live(path: Path, endpoints: list[dict[str, Any]]) -> Path:
    body = {"data": endpoints, "next_cursor": "", "has_more": False}
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


class Repo:
    """A git checkout with specs under deploy/specs and a saved live list.

    alpha is declared as it runs; beta is declared with one more max replica than
    it runs with; gamma runs but no spec declares it.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / ".git").mkdir(parents=True)
        self.alpha = make_endpoint("alpha", envs={"LOG_LEVEL": "info"})
        self.beta = make_endpoint("beta")
        self.gamma = make_endpoint("gamma")
        self.live = [self.alpha, self.beta, self.gamma]
        self.specs = root / "deploy" / "specs"
        write_yaml(self.specs / "alpha.yaml", spec_for(self.alpha))
        write_yaml(
            self.specs / "beta.yaml",
            spec_for(self.beta, worker_config={"max_replicas": 3}),
        )
        self.live_file = write_live(root / "live.json", self.live)

    def config(self, text: str, where: str = "driftcheck.yaml") -> Path:
        path = self.root / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def subdir(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


def states(result: CliResult) -> dict[str, str]:
    report = json.loads(result.stdout)
    return {e["name"]: e["state"] for e in report["endpoints"]}


def api_env(fake: FakePPIO) -> dict[str, str | None]:
    return {"PPIO_API_URL": fake.url, "PPIO_API_KEY": API_KEY}


def config_env() -> dict[str, str | None]:
    """No PPIO_API_URL: the config's api_url is the one that applies."""
    return {"PPIO_API_URL": None, "PPIO_API_KEY": API_KEY}


@pytest.fixture
def fake(fake_api: FakePPIO, repo: Repo) -> FakePPIO:
    fake_api.endpoints = repo.live
    fake_api.api_key = API_KEY
    return fake_api


# -- where the config is found ---------------------------------------------------------


def test_bare_check_at_the_repository_root_uses_the_config(
    run_cli: RunCli, repo: Repo
) -> None:
    repo.config("paths: [deploy/specs]\nformat: json\nunmanaged: ignore\n")

    result = run_cli("check", "--live-file", "live.json", cwd=repo.root)

    assert result.code == 1, result
    assert result.stderr == ""
    assert states(result) == {"alpha": "in_sync", "beta": "drifted"}


def test_config_is_found_from_a_subdirectory_and_its_paths_are_relative_to_it(
    run_cli: RunCli, repo: Repo
) -> None:
    repo.config("paths: [deploy/specs/alpha.yaml]\nformat: json\nunmanaged: ignore\n")
    here = repo.subdir("services", "web", "src")

    result = run_cli("check", "--live-file", repo.live_file, cwd=here)

    assert result.code == 0, result
    report = json.loads(result.stdout)
    assert states(result) == {"alpha": "in_sync"}
    # Files are named as seen from where driftcheck runs.
    assert report["endpoints"][0]["source"]["file"] == (
        "../../../deploy/specs/alpha.yaml"
    )


def test_config_above_the_git_root_is_not_found(
    run_cli: RunCli, tmp_path: Path
) -> None:
    outer = tmp_path / "outer"
    repo = Repo(outer / "checkout")
    # Would make the run pass if it were read: the parent of the git root is
    # another project's territory.
    (outer / "driftcheck.yaml").write_text(
        "paths: [checkout/deploy/specs/alpha.yaml]\nunmanaged: ignore\n",
        encoding="utf-8",
    )

    result = run_cli("check", "--live-file", "live.json", cwd=repo.root)

    assert result.code == 2, result
    assert result.stdout == ""
    assert "no spec paths" in result.stderr


def test_git_root_as_a_file_still_bounds_the_search(
    run_cli: RunCli, tmp_path: Path
) -> None:
    # Worktrees and submodules have a `.git` file, not a directory.
    outer = tmp_path / "outer"
    checkout = outer / "checkout"
    checkout.mkdir(parents=True)
    (checkout / ".git").write_text("gitdir: ../.git/worktrees/x\n", encoding="utf-8")
    (outer / "driftcheck.yaml").write_text("paths: [nowhere]\n", encoding="utf-8")

    result = run_cli("check", cwd=checkout)

    assert result.code == 2
    assert "no spec paths" in result.stderr


def test_explicit_config_path_is_read_and_its_paths_are_relative_to_it(
    run_cli: RunCli, repo: Repo, tmp_path: Path
) -> None:
    # Found by --config even outside the repository and the working directory.
    elsewhere = tmp_path / "ci" / "settings" / "driftcheck-prod.yaml"
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_text(
        "paths: [../../repo/deploy/specs]\nformat: json\nunmanaged: ignore\n",
        encoding="utf-8",
    )
    # A config in the working directory is not read when one is named.
    repo.config("paths: [nowhere]\n")

    result = run_cli(
        "check", "--config", elsewhere, "--live-file", repo.live_file, cwd=repo.root
    )

    assert result.code == 1, result
    assert states(result) == {"alpha": "in_sync", "beta": "drifted"}


def test_named_config_that_does_not_exist_exits_2(run_cli: RunCli, repo: Repo) -> None:
    result = run_cli(
        "check",
        "--config",
        "nope.yaml",
        "deploy/specs",
        "--live-file",
        "live.json",
        cwd=repo.root,
    )

    assert result.code == 2
    assert result.stdout == ""
    assert "nope.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_empty_config_changes_nothing(run_cli: RunCli, repo: Repo) -> None:
    repo.config("# nothing set yet\n")

    result = run_cli("check", "deploy/specs", "--live-file", "live.json", cwd=repo.root)

    assert result.code == 1, result
    assert result.stderr == ""
    # The built-in defaults: a text report, unmanaged endpoints listed.
    assert "unmanaged  gamma" in result.stdout


# -- what the config sets, and what overrides it --------------------------------------


def test_command_line_paths_replace_the_configs(run_cli: RunCli, repo: Repo) -> None:
    repo.config("paths: [deploy/specs]\nformat: json\nunmanaged: ignore\n")

    result = run_cli(
        "check", "deploy/specs/alpha.yaml", "--live-file", "live.json", cwd=repo.root
    )

    assert result.code == 0, result
    assert states(result) == {"alpha": "in_sync"}


@pytest.mark.parametrize(
    ("option", "code", "expected"),
    [
        ((), 1, {"alpha": "in_sync", "beta": "drifted", "gamma": "unmanaged"}),
        (("--unmanaged", "ignore"), 1, {"alpha": "in_sync", "beta": "drifted"}),
    ],
)
def test_unmanaged_from_the_config_and_its_override(
    run_cli: RunCli,
    repo: Repo,
    option: tuple[str, ...],
    code: int,
    expected: dict[str, str],
) -> None:
    repo.config("paths: [deploy/specs]\nformat: json\nunmanaged: fail\n")

    result = run_cli("check", "--live-file", "live.json", *option, cwd=repo.root)

    assert result.code == code, result
    assert states(result) == expected


def test_unmanaged_fail_in_the_config_fails_an_otherwise_clean_run(
    run_cli: RunCli, repo: Repo
) -> None:
    repo.config("paths: [deploy/specs/alpha.yaml]\nunmanaged: fail\n")

    result = run_cli("check", "--live-file", "live.json", cwd=repo.root)

    assert result.code == 1, result
    assert "unmanaged  beta" in result.stdout
    assert "unmanaged  gamma" in result.stdout


@pytest.mark.parametrize(
    ("option", "starts_with"),
    [((), "{"), (("-f", "text"), "drifted  beta"), (("--format", "junit"), "<?xml")],
)
def test_format_from_the_config_and_its_override(
    run_cli: RunCli, repo: Repo, option: tuple[str, ...], starts_with: str
) -> None:
    repo.config("paths: [deploy/specs]\nformat: json\nunmanaged: ignore\n")

    result = run_cli("check", "--live-file", "live.json", *option, cwd=repo.root)

    assert result.code == 1, result
    assert result.stdout.startswith(starts_with), result.stdout[:200]


def test_reports_from_the_config_are_written_relative_to_it(
    run_cli: RunCli, repo: Repo
) -> None:
    repo.config(
        "paths: [../deploy/specs]\n"
        "unmanaged: ignore\n"
        "reports:\n"
        "  - {format: json, path: ../out/drift.json}\n"
        "  - {format: junit, path: ../out/drift.xml}\n",
        where="ci/driftcheck.yaml",
    )
    repo.subdir("out")
    here = repo.subdir("ci", "jobs")

    result = run_cli(
        "check",
        "--config",
        "../driftcheck.yaml",
        "--live-file",
        repo.live_file,
        "--report",
        "markdown:extra.md",
        cwd=here,
    )

    assert result.code == 1, result
    assert result.stdout.rstrip().endswith("drift found")
    report = json.loads((repo.root / "out" / "drift.json").read_text("utf-8"))
    assert report["summary"]["drifted"] == 1
    assert "<testsuites" in (repo.root / "out" / "drift.xml").read_text("utf-8")
    # The command line's reports add to the config's; theirs stay relative to cwd.
    assert "beta" in (here / "extra.md").read_text("utf-8")


def test_sensitive_env_from_the_config_adds_to_the_command_line(
    run_cli: RunCli, repo: Repo
) -> None:
    value_a, value_b = "corp-internal-a-1f9e", "corp-internal-b-77c2"
    live = make_endpoint("alpha", envs={"ORG_ROUTE": value_a, "TENANT": value_b})
    write_live(repo.live_file, [live])
    write_yaml(
        repo.specs / "alpha.yaml",
        spec_for(live, envs={"ORG_ROUTE": "old-a", "TENANT": "old-b"}),
    )
    repo.config("paths: [deploy/specs/alpha.yaml]\nsensitive_env: [ORG_*]\n")

    result = run_cli(
        "check",
        "--live-file",
        "live.json",
        "--sensitive-env",
        "TENANT",
        "-f",
        "json",
        cwd=repo.root,
    )

    assert result.code == 1, result
    assert value_a not in result.stdout and "old-a" not in result.stdout
    assert value_b not in result.stdout and "old-b" not in result.stdout
    differences = json.loads(result.stdout)["endpoints"][0]["differences"]
    assert {d["path"]: d["redacted"] for d in differences} == {
        "envs.ORG_ROUTE": True,
        "envs.TENANT": True,
    }


def test_api_url_from_the_config_when_the_environment_sets_none(
    run_cli: RunCli, repo: Repo, fake: FakePPIO
) -> None:
    repo.config(
        f"paths: [deploy/specs]\napi_url: {fake.url}\nformat: json\nunmanaged: ignore\n"
    )

    result = run_cli("check", env=config_env(), cwd=repo.root)

    assert result.code == 1, result
    assert result.stderr == ""
    assert states(result) == {"alpha": "in_sync", "beta": "drifted"}
    assert len(fake.requests) == 1


def test_ppio_api_url_in_the_environment_overrides_the_config(
    run_cli: RunCli, repo: Repo, fake: FakePPIO
) -> None:
    repo.config(
        f"paths: [deploy/specs]\napi_url: {UNREACHABLE_API_URL}\nformat: json\n"
        "retries: 0\n"
    )

    result = run_cli("check", env=api_env(fake), cwd=repo.root)

    assert result.code == 1, result
    assert len(fake.requests) == 1


def test_api_url_option_overrides_environment_and_config(
    run_cli: RunCli, repo: Repo, fake: FakePPIO
) -> None:
    repo.config(f"paths: [deploy/specs]\napi_url: {UNREACHABLE_API_URL}\nretries: 0\n")

    result = run_cli(
        "check",
        "--api-url",
        fake.url,
        env={"PPIO_API_URL": UNREACHABLE_API_URL, "PPIO_API_KEY": API_KEY},
        cwd=repo.root,
    )

    assert result.code == 1, result
    assert len(fake.requests) == 1


def test_config_api_url_is_held_to_the_same_http_rule(
    run_cli: RunCli, repo: Repo
) -> None:
    repo.config("paths: [deploy/specs]\napi_url: http://api.example.com\n")

    result = run_cli("check", env=config_env(), cwd=repo.root)

    assert result.code == 2
    assert "plain http to api.example.com" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("config", "option"), [(7, ()), (100, ("--page-size", "9"))])
def test_page_size_from_the_config_and_its_override(
    run_cli: RunCli,
    repo: Repo,
    fake: FakePPIO,
    config: int,
    option: tuple[str, ...],
) -> None:
    fake.endpoints = [make_endpoint(f"extra-{i:02d}") for i in range(20)] + repo.live
    repo.config(f"paths: [deploy/specs]\npage_size: {config}\nunmanaged: ignore\n")

    result = run_cli("check", *option, env=api_env(fake), cwd=repo.root)

    assert result.code == 1, result
    size = int(option[1]) if option else config
    assert {r.query["limit"] for r in fake.requests} == {str(size)}
    assert len(fake.requests) == -(-23 // size)


@pytest.mark.parametrize(("retries", "code"), [(0, 2), (1, 1)])
def test_retries_from_the_config(
    run_cli: RunCli, repo: Repo, fake: FakePPIO, retries: int, code: int
) -> None:
    fake.add_fault(status(503), on_request=1)
    repo.config(f"paths: [deploy/specs]\nretries: {retries}\nunmanaged: ignore\n")

    result = run_cli("check", env=api_env(fake), cwd=repo.root)

    assert result.code == code, result
    assert len(fake.requests) == retries + 1


def test_timeout_from_the_config(run_cli: RunCli, repo: Repo, fake: FakePPIO) -> None:
    fake.always(slow(5))
    repo.config("paths: [deploy/specs]\ntimeout: 0.5\nretries: 0\n")

    result = run_cli("check", env=api_env(fake), cwd=repo.root, timeout=30)

    assert result.code == 2, result
    assert result.stdout == ""
    assert "no answer within 0.5s" in result.stderr, result.stderr


# -- a broken config -------------------------------------------------------------------

BROKEN = [
    pytest.param(
        "paths: [deploy/specs]\nunmanged: fail\n",
        r"driftcheck\.yaml:2:1: unmanged: unknown field 'unmanged' "
        r"\(did you mean 'unmanaged'\?\)",
        id="unknown-key",
    ),
    pytest.param(
        "paths: deploy/specs\n",
        r"driftcheck\.yaml:1:\d+: paths: expected a list",
        id="wrong-type",
    ),
    pytest.param(
        "paths: [deploy/specs]\npage_size: '50'\n",
        r"driftcheck\.yaml:2:\d+: page_size: expected an integer",
        id="quoted-integer",
    ),
    pytest.param(
        "paths: [deploy/specs]\nformat: jsn\n",
        r"driftcheck\.yaml:2:\d+: format: expected one of .*'json'",
        id="bad-choice",
    ),
    pytest.param(
        "paths: [a]\nunmanaged: warn\npaths: [b]\n",
        r"driftcheck\.yaml:3:1: duplicate key 'paths' \(first at line 1\)",
        id="duplicate-key",
    ),
    pytest.param(
        "paths: [deploy/specs]\nignore:\n  - paths: [image]\n",
        r"driftcheck\.yaml:3:5: ignore\[0\]: missing required field 'reason'",
        id="ignore-without-reason",
    ),
    pytest.param(
        "ignore:\n  - paths: [image]\n    reason: pinned by ops\n    endpoint: [a]\n",
        r"driftcheck\.yaml:4:5: ignore\[0\]\.endpoint: unknown field 'endpoint' "
        r"\(did you mean 'endpoints'\?\)",
        id="ignore-unknown-key",
    ),
    pytest.param(
        "reports:\n  - {format: json}\n",
        r"driftcheck\.yaml:2:5: reports\[0\]: missing required field 'path'",
        id="report-without-path",
    ),
    pytest.param(
        "- paths\n", r"driftcheck\.yaml:1:1: expected a mapping", id="not-a-mapping"
    ),
    pytest.param(
        "paths: [deploy/specs\n",
        r"driftcheck\.yaml:\d+:\d+: YAML syntax error",
        id="syntax",
    ),
]


@pytest.mark.parametrize(("text", "message"), BROKEN)
def test_broken_config_exits_2_naming_file_line_and_column(
    run_cli: RunCli, repo: Repo, text: str, message: str
) -> None:
    repo.config(text)

    result = run_cli("check", "deploy/specs", "--live-file", "live.json", cwd=repo.root)

    assert result.code == 2, result
    assert result.stdout == ""
    assert re.search("^error: " + message, result.stderr, re.MULTILINE), result.stderr
    assert "Traceback" not in result.stderr


def test_every_problem_of_a_broken_config_is_reported(
    run_cli: RunCli, repo: Repo
) -> None:
    repo.config(
        "pths: [deploy/specs]\n"
        "retries: many\n"
        "ignore:\n"
        "  - paths: [image]\n"
        "  - reason: no paths\n"
    )

    result = run_cli("check", "--live-file", "live.json", cwd=repo.root)

    assert result.code == 2
    lines = result.stderr.splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "driftcheck.yaml:1:1",
        "driftcheck.yaml:2:1",
        "driftcheck.yaml:4:5",
        "driftcheck.yaml:5:5",
    ], result.stderr


def test_broken_config_found_by_search_is_named_as_seen_from_cwd(
    run_cli: RunCli, repo: Repo
) -> None:
    repo.config("unmanaged: sometimes\n")
    here = repo.subdir("deploy")

    result = run_cli("check", "specs", "--live-file", repo.live_file, cwd=here)

    assert result.code == 2
    assert result.stderr.startswith("error: ../driftcheck.yaml:1:"), result.stderr
