"""End-to-end tests of `driftcheck check --base-ref`: planned changes versus drift.

Each test builds a real git repository in tmp_path (a base commit on main, a pull
request branch on top), serves or saves the live side, and runs the real command
from inside the working tree. A difference is planned when the pull request makes
it, drift when someone changed live by hand, and a conflict when both happened.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from .conftest import REPORT_SCHEMA, CliResult, RunCli
from .fake_ppio import FakePPIO, make_endpoint

API_KEY = "sk-threeway-Hq4Nc8Vb2Lx6Rm1"
# Distinctive, so that a leak anywhere in the output is found by a plain search.
BASE_TOKEN = "hf-base-secret-Tq3Wz8"
HEAD_TOKEN = "hf-head-secret-Pk5Mv1"
HAND_TOKEN = "hf-hand-secret-Yd7Jc4"
SECRETS = (BASE_TOKEN, HEAD_TOKEN, HAND_TOKEN, API_KEY)

# Git reads no config but the repository's own, and no variable of an outer git
# (a test run from a hook would otherwise work on the outer repository).
GIT_ISOLATION: dict[str, str | None] = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_DIR": None,
    "GIT_WORK_TREE": None,
    "GIT_INDEX_FILE": None,
    "GIT_OBJECT_DIRECTORY": None,
    "GIT_CEILING_DIRECTORIES": None,
}


# -- a real repository -----------------------------------------------------------------


class Repo:
    """A git repository in a directory, driven by the real git command."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str, cwd: Path | None = None) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update({k: v for k, v in GIT_ISOLATION.items() if v is not None})
        done = subprocess.run(
            ["git", *args],
            cwd=cwd or self.root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
        return done.stdout

    @classmethod
    def init(cls, root: Path) -> Repo:
        root.mkdir(parents=True, exist_ok=True)
        repo = cls(root)
        repo.git("init", "--quiet", "--initial-branch=main")
        repo.git("config", "user.name", "Spec Author")
        repo.git("config", "user.email", "author@example.com")
        repo.git("config", "commit.gpgsign", "false")
        return repo

    def write(self, path: str, text: str) -> Path:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def write_specs(self, path: str, *specs: Mapping[str, Any]) -> Path:
        text = yaml.safe_dump({"endpoints": list(specs)}, sort_keys=False)
        return self.write(path, text)

    def commit(self, message: str) -> str:
        self.git("add", "--all")
        self.git("commit", "--quiet", "--message", message)
        return self.git("rev-parse", "HEAD").strip()

    def branch(self, name: str) -> None:
        self.git("checkout", "--quiet", "-b", name)

    def state(self) -> dict[str, Any]:
        """What a check must leave alone: files, index, HEAD, refs and stashes."""
        files = {
            str(path.relative_to(self.root)): hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
            for path in sorted(self.root.rglob("*"))
            if path.is_file() and ".git" not in path.relative_to(self.root).parts
        }
        return {
            "files": files,
            "status": self.git("status", "--porcelain=v1", "--untracked-files=all"),
            "head": self.git("rev-parse", "HEAD"),
            "branch": self.git("symbolic-ref", "--short", "HEAD"),
            "refs": self.git("for-each-ref"),
            "stash": self.git("stash", "list"),
            "staged": self.git("diff", "--cached", "--name-status"),
        }


# -- declared and live -----------------------------------------------------------------


def chat(**changes: Any) -> dict[str, Any]:
    """The chat endpoint as the base commit declares it, then `changes`."""
    spec: dict[str, Any] = {
        "name": "chat",
        "image": "registry.example.com/ml/chat:1.0.0",
        "worker_config": {"max_replicas": 2, "gpu_num": 1},
        "envs": {"LOG_LEVEL": "info", "HF_TOKEN": BASE_TOKEN},
        "ports": [8080],
        "volumes": [{"type": "network", "size": 50, "mount_point": "/data"}],
    }
    spec.update(changes)
    return spec


def live_chat(**changes: Any) -> dict[str, Any]:
    """The live chat endpoint, as deployed from the base commit, then `changes`."""
    fields: dict[str, Any] = {
        "image": "registry.example.com/ml/chat:1.0.0",
        "envs": {"LOG_LEVEL": "info", "HF_TOKEN": BASE_TOKEN},
        "ports": [8080],
        "volumes": [
            {"id": "vol-chat", "type": "network", "size": 50, "mount_point": "/data"}
        ],
    }
    fields.update(changes)
    return make_endpoint("chat", id="ep-chat", **fields)


def workers(max_replicas: int) -> dict[str, int]:
    return {"max_replicas": max_replicas, "gpu_num": 1}


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """A repository whose main branch declares `chat` as deployed live."""
    repo = Repo.init(tmp_path / "specs-repo")
    repo.write_specs("endpoints/chat.yaml", chat())
    repo.write("README.md", "endpoint specs\n")
    repo.commit("Declare chat")
    return repo


def pull_request(repo: Repo, *specs: Mapping[str, Any], name: str = "pr") -> str:
    """Commit `specs` as endpoints/chat.yaml on a new branch, checked out."""
    repo.branch(name)
    repo.write_specs("endpoints/chat.yaml", *specs)
    return repo.commit("Change the specs")


def serve(fake: FakePPIO, *endpoints: dict[str, Any]) -> dict[str, str | None]:
    """Serve `endpoints` and return the environment a run against them needs."""
    fake.endpoints = list(endpoints)
    fake.api_key = API_KEY
    return {"PPIO_API_URL": fake.url, "PPIO_API_KEY": API_KEY, **GIT_ISOLATION}


def save_live(path: Path, *endpoints: dict[str, Any]) -> Path:
    body = {"data": list(endpoints), "next_cursor": "", "has_more": False}
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def check(
    run_cli: RunCli,
    repo: Repo,
    *args: str | os.PathLike[str],
    env: Mapping[str, str | None] | None = None,
    cwd: Path | None = None,
    paths: tuple[str, ...] = ("endpoints",),
    base_ref: str = "main",
) -> CliResult:
    return run_cli(
        "check",
        *paths,
        "--base-ref",
        base_ref,
        *args,
        env={**GIT_ISOLATION, **(env or {})},
        cwd=cwd or repo.root,
    )


def report(result: CliResult) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(result.stdout)
    Draft202012Validator(json.loads(REPORT_SCHEMA.read_text("utf-8"))).validate(
        document
    )
    return document


def endpoint(document: Mapping[str, Any], name: str) -> dict[str, Any]:
    [found] = [e for e in document["endpoints"] if e["name"] == name]
    return dict(found)


def changes(document: Mapping[str, Any], name: str) -> dict[str, tuple[str, str]]:
    """Each difference of endpoint `name` as path -> (kind, change)."""
    return {
        d["path"]: (d["kind"], d["change"])
        for d in endpoint(document, name)["differences"]
    }


def line_of(path: Path, text: str) -> int:
    """The 1-based number of the first line of `path` holding `text`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if text in line)


def assert_clean(result: CliResult, code: int) -> None:
    assert result.code == code, result
    assert result.stderr == "", result.stderr
    for secret in SECRETS:
        assert secret not in result.stdout


def assert_error(result: CliResult, *fragments: str) -> str:
    """Exit 2 with one error line holding every fragment, and no report."""
    assert result.code == 2, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    for fragment in fragments:
        assert fragment in line, line
    return line


# -- one field: planned, drift, conflict -----------------------------------------------


@pytest.mark.parametrize(
    ("head", "live", "change", "state", "code"),
    [
        # The pull request raises max_replicas; live still runs the base value.
        (4, 2, "planned", "planned", 0),
        # Someone scaled live by hand; the pull request leaves the field alone.
        (2, 3, "drift", "drifted", 1),
        # Both: the deploy would overwrite a hand change nobody reviewed.
        (4, 3, "conflict", "drifted", 1),
        # The pull request adopts the hand change: nothing differs any more.
        (3, 3, None, "in_sync", 0),
    ],
)
def test_max_replicas_base_2_against_head_and_live(
    run_cli: RunCli,
    fake_api: FakePPIO,
    repo: Repo,
    head: int,
    live: int,
    change: str | None,
    state: str,
    code: int,
) -> None:
    # The pull request also bumps the image, so the branch always changes the file.
    pull_request(
        repo,
        chat(image="registry.example.com/ml/chat:1.1.0", worker_config=workers(head)),
    )
    env = serve(fake_api, live_chat(worker_config={"max_replicas": live}))

    result = check(run_cli, repo, "--format", "json", env=env)

    assert_clean(result, code)
    document = report(result)
    assert document["base_ref"] == "main"
    expected = {"image": ("changed", "planned")}
    if change is not None:
        expected["worker_config.max_replicas"] = ("changed", change)
    assert changes(document, "chat") == expected
    chat_result = endpoint(document, "chat")
    assert chat_result["plan"] == "update"
    # The image is planned either way, so only a counting difference drifts it.
    assert chat_result["state"] == ("planned" if state == "in_sync" else state)
    assert document["summary"]["drifted"] == (1 if code else 0)
    assert document["summary"]["planned"] == (0 if code else 1)


def test_text_report_tags_each_difference(
    run_cli: RunCli, fake_api: FakePPIO, repo: Repo
) -> None:
    pull_request(
        repo,
        chat(
            image="registry.example.com/ml/chat:1.1.0",
            worker_config=workers(4),
        ),
    )
    env = serve(
        fake_api,
        live_chat(
            worker_config={"max_replicas": 3},
            envs={"LOG_LEVEL": "debug", "HF_TOKEN": BASE_TOKEN},
        ),
    )

    result = check(run_cli, repo, env=env)

    assert_clean(result, 1)
    lines = result.stdout.splitlines()
    assert lines[0] == "drifted  chat (ep-chat)  endpoints/chat.yaml:2"
    tagged = {line.split()[0]: line for line in lines[1:4]}
    assert tagged["image"].endswith(
        '"registry.example.com/ml/chat:1.0.0" [planned]  (line 3)'
    )
    assert "declared 4, live 3 [conflict]" in tagged["worker_config.max_replicas"]
    assert 'declared "info", live "debug" [drift]' in tagged["envs.LOG_LEVEL"]
    assert lines[-1].endswith("drift found")


def test_all_planned_exits_0_and_says_so(
    run_cli: RunCli, fake_api: FakePPIO, repo: Repo
) -> None:
    pull_request(repo, chat(worker_config=workers(4)))
    env = serve(fake_api, live_chat())

    result = check(run_cli, repo, env=env)

    assert_clean(result, 0)
    assert result.stdout == (
        "planned  chat (ep-chat)  endpoints/chat.yaml:2\n"
        "  worker_config.max_replicas  changed: declared 4, live 2 [planned]"
        "  (line 5)\n"
        "\n"
        "1 declared: 0 in sync, 0 drifted, 1 planned, 0 missing; 0 unmanaged. "
        "in sync apart from planned changes\n"
    )


def test_without_base_ref_the_same_change_is_drift(
    run_cli: RunCli, fake_api: FakePPIO, repo: Repo
) -> None:
    pull_request(repo, chat(worker_config=workers(4)))
    env = serve(fake_api, live_chat())

    result = run_cli("check", "endpoints", "-f", "json", env=env, cwd=repo.root)

    assert_clean(result, 1)
    document = report(result)
    assert document["base_ref"] is None
    assert changes(document, "chat") == {
        "worker_config.max_replicas": ("changed", None)
    }


def test_live_file_and_api_agree(
    run_cli: RunCli, fake_api: FakePPIO, repo: Repo, tmp_path: Path
) -> None:
    pull_request(repo, chat(worker_config=workers(4)))
    live = live_chat(worker_config={"max_replicas": 3})
    live_file = save_live(tmp_path / "live.json", live)

    from_api = check(run_cli, repo, "-f", "json", env=serve(fake_api, live))
    from_file = check(run_cli, repo, "-f", "json", "--live-file", str(live_file))

    assert_clean(from_api, 1)
    assert_clean(from_file, 1)
    assert from_api.stdout == from_file.stdout


# -- envs, volumes, ports --------------------------------------------------------------


@pytest.mark.parametrize("key", ["LOG_LEVEL", "HF_TOKEN"])
@pytest.mark.parametrize(
    ("head_value", "live_value", "change", "code"),
    [
        ("head", "base", "planned", 0),
        ("base", "hand", "drift", 1),
        ("head", "hand", "conflict", 1),
    ],
)
def test_env_value(
    run_cli: RunCli,
    fake_api: FakePPIO,
    repo: Repo,
    key: str,
    head_value: str,
    live_value: str,
    change: str,
    code: int,
) -> None:
    values = {
        "LOG_LEVEL": {"base": "info", "head": "warning", "hand": "debug"},
        "HF_TOKEN": {"base": BASE_TOKEN, "head": HEAD_TOKEN, "hand": HAND_TOKEN},
    }[key]
    declared_envs = {"LOG_LEVEL": "info", "HF_TOKEN": BASE_TOKEN}
    live_envs = dict(declared_envs)
    declared_envs[key] = values[head_value]
    live_envs[key] = values[live_value]
    # The pull request touches the file even when it leaves this env alone.
    pull_request(repo, chat(envs=declared_envs, command="python -m serve"))
    env = serve(fake_api, live_chat(envs=live_envs, command="python -m serve"))

    text = check(run_cli, repo, env=env)
    result = check(run_cli, repo, "-f", "json", env=env)

    assert_clean(text, code)
    assert_clean(result, code)
    document = report(result)
    [difference] = endpoint(document, "chat")["differences"]
    assert difference["path"] == f"envs.{key}"
    assert difference["change"] == change
    sensitive = key == "HF_TOKEN"
    assert difference["redacted"] is sensitive
    if sensitive:
        assert difference["declared"] is None
        assert difference["live"] is None
    else:
        assert difference["declared"] == values[head_value]
        assert difference["live"] == values[live_value]


def test_env_added_and_removed_by_the_pull_request_are_planned(
    run_cli: RunCli, fake_api: FakePPIO, repo: Repo
) -> None:
    # The base declares LOG_LEVEL and HF_TOKEN; the pull request drops LOG_LEVEL
    # and adds an API key. Live also holds an env nobody declared.
    pull_request(
        repo, chat(envs={"HF_TOKEN": BASE_TOKEN, "RESULTS_API_KEY": HEAD_TOKEN})
    )
    env = serve(
        fake_api,
        live_chat(
            envs={"LOG_LEVEL": "info", "HF_TOKEN": BASE_TOKEN, "DEBUG_DUMP": "1"}
        ),
    )

    result = check(run_cli, repo, "-f", "json", env=env)

    assert_clean(result, 1)
    assert changes(report(result), "chat") == {
        "envs.LOG_LEVEL": ("extra", "planned"),
        "envs.RESULTS_API_KEY": ("missing", "planned"),
        "envs.DEBUG_DUMP": ("extra", "drift"),
    }


@pytest.mark.parametrize(
    ("live_value", "change", "code"), [(BASE_TOKEN, None, 0), (HAND_TOKEN, "drift", 1)]
)
def test_env_read_from_the_environment_at_both_sides(
    run_cli: RunCli,
    fake_api: FakePPIO,
    tmp_path: Path,
    live_value: str,
    change: str | None,
    code: int,
) -> None:
    repo = Repo.init(tmp_path / "specs-repo")
    # DEPLOY_SECRET names no sensitive word: it is hidden because CI provides it.
    references = {"LOG_LEVEL": "info", "DEPLOY_SECRET": "${DEPLOY_SECRET}"}
    repo.write_specs("endpoints/chat.yaml", chat(envs=references))
    repo.commit("Declare chat")
    pull_request(repo, chat(envs=references, worker_config=workers(4)))
    env = serve(
        fake_api,
        live_chat(envs={"LOG_LEVEL": "info", "DEPLOY_SECRET": live_value}),
    )

    result = check(
        run_cli, repo, "-f", "json", env={**env, "DEPLOY_SECRET": BASE_TOKEN}
    )

    assert_clean(result, code)
    found = endpoint(report(result), "chat")["differences"]
    by_path = {d["path"]: d for d in found}
    assert by_path.pop("worker_config.max_replicas")["change"] == "planned"
    if change is None:
        assert by_path == {}
    else:
        secret = by_path["envs.DEPLOY_SECRET"]
        assert (secret["change"], secret["redacted"]) == (change, True)
        assert (secret["declared"], secret["live"]) == (None, None)


@pytest.mark.parametrize(
    ("environ", "live_value", "change", "code"),
    [
        # Only the new name is set, and live holds its value: nothing differs.
        ({"NEW_TOKEN": BASE_TOKEN}, BASE_TOKEN, None, 0),
        # Only the new name is set and live holds something else: the base value
        # is unknown, so a hand change cannot be ruled out; fail safe.
        ({"NEW_TOKEN": HEAD_TOKEN}, HAND_TOKEN, "conflict", 1),
        # Both set: live still holds the base value, so the rotation is planned.
        ({"OLD_TOKEN": BASE_TOKEN, "NEW_TOKEN": HEAD_TOKEN}, BASE_TOKEN, "planned", 0),
        # Both set, and live holds neither: a real conflict.
        ({"OLD_TOKEN": BASE_TOKEN, "NEW_TOKEN": HEAD_TOKEN}, HAND_TOKEN, "conflict", 1),
    ],
)
def test_pull_request_renaming_the_variable_an_env_reads(
    run_cli: RunCli,
    fake_api: FakePPIO,
    tmp_path: Path,
    environ: dict[str, str],
    live_value: str,
    change: str | None,
    code: int,
) -> None:
    repo = Repo.init(tmp_path / "specs-repo")
    repo.write_specs("endpoints/chat.yaml", chat(envs={"TOKEN": "${OLD_TOKEN}"}))
    repo.commit("Declare chat")
    pull_request(repo, chat(envs={"TOKEN": "${NEW_TOKEN}"}))
    env = serve(fake_api, live_chat(envs={"TOKEN": live_value}))

    result = check(run_cli, repo, "-f", "json", env={**env, **environ})

    assert result.code == code, result
    for secret in SECRETS:
        assert secret not in result.stdout + result.stderr
    found = changes(report(result), "chat")
    if change is None:
        assert found == {}
    else:
        assert found == {"envs.TOKEN": ("changed", change)}
    if "OLD_TOKEN" in environ or change is None:
        assert result.stderr == ""
    else:
        assert result.stderr == (
            "driftcheck: warning: chat: envs.TOKEN: at main the spec reads it "
            "from ${OLD_TOKEN}, which is not set, so whether this change is "
            "planned cannot be told; it is counted as a conflict (set OLD_TOKEN "
            "to tell planned from drift)\n"
        )


@pytest.mark.parametrize(
    ("head_volumes", "live_size", "expected", "code"),
    [
        # The pull request grows the volume; live is still at the base size.
        (
            [{"type": "network", "size": 100, "mount_point": "/data"}],
            50,
            {"volumes[/data].size": ("changed", "planned")},
            0,
        ),
        # Live was resized by hand.
        (
            [{"type": "network", "size": 50, "mount_point": "/data"}],
            80,
            {"volumes[/data].size": ("changed", "drift")},
            1,
        ),
        # Both.
        (
            [{"type": "network", "size": 100, "mount_point": "/data"}],
            80,
            {"volumes[/data].size": ("changed", "conflict")},
            1,
        ),
        # The pull request adds a volume the deploy will create.
        (
            [
                {"type": "network", "size": 50, "mount_point": "/data"},
                {"type": "local", "size": 20, "mount_point": "/cache"},
            ],
            50,
            {"volumes[/cache]": ("missing", "planned")},
            0,
        ),
        # The pull request removes the only volume, which is still mounted live.
        ([], 50, {"volumes[/data]": ("extra", "planned")}, 0),
    ],
)
def test_volumes(
    run_cli: RunCli,
    fake_api: FakePPIO,
    repo: Repo,
    head_volumes: list[dict[str, Any]],
    live_size: int,
    expected: dict[str, tuple[str, str]],
    code: int,
) -> None:
    pull_request(repo, chat(volumes=head_volumes, command="python -m serve"))
    live_volume = {"id": "vol-chat", "type": "network", "size": live_size}
    env = serve(
        fake_api,
        live_chat(
            volumes=[{**live_volume, "mount_point": "/data"}], command="python -m serve"
        ),
    )

    result = check(run_cli, repo, "-f", "json", env=env)

    assert_clean(result, code)
    assert changes(report(result), "chat") == expected


@pytest.mark.parametrize(
    ("head_ports", "live_ports", "change", "code"),
    [
        ([8080, 9000], [8080], "planned", 0),
        ([8080], [8081], "drift", 1),
        ([8080, 9000], [8081], "conflict", 1),
    ],
)
def test_ports(
    run_cli: RunCli,
    fake_api: FakePPIO,
    repo: Repo,
    head_ports: list[int],
    live_ports: list[int],
    change: str,
    code: int,
) -> None:
    pull_request(repo, chat(ports=head_ports, command="python -m serve"))
    env = serve(fake_api, live_chat(ports=live_ports, command="python -m serve"))

    result = check(run_cli, repo, "-f", "json", env=env)

    assert_clean(result, code)
    assert changes(report(result), "chat") == {"ports": ("changed", change)}


def test_reordered_ports_do_not_turn_drift_into_a_conflict(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    repo = Repo.init(tmp_path / "specs-repo")
    repo.write_specs("endpoints/chat.yaml", chat(ports=[8080, 9000]))
    repo.commit("Declare chat")
    pull_request(repo, chat(ports=[9000, 8080], command="python -m serve"))
    env = serve(fake_api, live_chat(ports=[8080], command="python -m serve"))

    result = check(run_cli, repo, "-f", "json", env=env)

    assert_clean(result, 1)
    assert changes(report(result), "chat") == {"ports": ("changed", "drift")}


# -- whole endpoints: creation and deletion --------------------------------------------


def test_endpoint_added_by_the_pull_request_is_a_planned_creation(
    run_cli: RunCli, fake_api: FakePPIO, repo: Repo
) -> None:
    embed = {"name": "embed", "image": "registry.example.com/ml/embed:1.0.0"}
    pull_request(repo, chat(), embed)
    env = serve(fake_api, live_chat())

    json_result = check(run_cli, repo, "-f", "json", env=env)
    text_result = check(run_cli, repo, env=env)

    assert_clean(json_result, 0)
    document = report(json_result)
    added = endpoint(document, "embed")
    assert (added["state"], added["plan"], added["differences"]) == (
        "planned",
        "create",
        [],
    )
    line = line_of(repo.root / "endpoints/chat.yaml", "name: embed")
    assert added["source"] == {"file": "endpoints/chat.yaml", "line": line}
    assert endpoint(document, "chat")["state"] == "in_sync"
    assert endpoint(document, "chat")["plan"] is None
    summary = document["summary"]
    assert (summary["declared"], summary["planned"], summary["missing"]) == (2, 1, 0)

    assert_clean(text_result, 0)
    assert (
        f"planned  embed  endpoints/chat.yaml:{line}: added by this change; "
        "the deploy will create it"
    ) in text_result.stdout.splitlines()


def test_endpoint_declared_at_base_and_not_live_is_still_missing(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    repo = Repo.init(tmp_path / "specs-repo")
    embed = {"name": "embed", "image": "registry.example.com/ml/embed:1.0.0"}
    repo.write_specs("endpoints/chat.yaml", chat(), embed)
    repo.commit("Declare chat and embed")
    pull_request(repo, chat(worker_config=workers(4)), embed)
    env = serve(fake_api, live_chat())

    result = check(run_cli, repo, "-f", "json", env=env)

    assert_clean(result, 1)
    missing = endpoint(report(result), "embed")
    assert (missing["state"], missing["plan"]) == ("missing", None)


# `ignore` hides endpoints nobody declares; this one the base declared.
@pytest.mark.parametrize("policy", ["warn", "fail", "ignore"])
def test_endpoint_removed_by_the_pull_request_is_a_planned_deletion(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path, policy: str
) -> None:
    repo = Repo.init(tmp_path / "specs-repo")
    old = {"name": "old-chat", "image": "registry.example.com/ml/chat:0.9.0"}
    repo.write_specs("endpoints/chat.yaml", chat(), old)
    repo.commit("Declare chat and old-chat")
    line = line_of(repo.root / "endpoints/chat.yaml", "name: old-chat")
    pull_request(repo, chat())
    live_old = make_endpoint("old-chat", id="ep-old", image=old["image"])
    env = serve(fake_api, live_chat(), live_old)

    result = check(run_cli, repo, "-f", "json", "--unmanaged", policy, env=env)

    assert_clean(result, 0)
    document = report(result)
    removed = endpoint(document, "old-chat")
    assert (removed["state"], removed["plan"], removed["id"]) == (
        "planned",
        "delete",
        "ep-old",
    )
    # Where the base declared it, so a reviewer can find what was removed.
    assert removed["source"] == {"file": "main:endpoints/chat.yaml", "line": line}
    summary = document["summary"]
    assert (summary["declared"], summary["unmanaged"], summary["planned"]) == (1, 0, 1)

    text = check(run_cli, repo, "--unmanaged", policy, env=env)
    assert_clean(text, 0)
    assert (
        f"planned  old-chat (ep-old)  main:endpoints/chat.yaml:{line}: removed by this "
        "change but still live; the deploy will delete it"
    ) in text.stdout.splitlines()


@pytest.mark.parametrize("pinned", [True, False])
def test_renamed_endpoint(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path, pinned: bool
) -> None:
    repo = Repo.init(tmp_path / "specs-repo")
    pin = {"id": "ep-chat"} if pinned else {}
    repo.write_specs("endpoints/chat.yaml", {"name": "chat", **pin, **chat()})
    repo.commit("Declare chat")
    renamed = {"name": "chat-v2", **pin, **chat(name="chat-v2")}
    pull_request(repo, renamed)
    env = serve(fake_api, live_chat())

    result = check(run_cli, repo, "-f", "json", env=env)

    assert_clean(result, 0)
    document = report(result)
    if pinned:
        # The same live endpoint under a new name: the deploy renames it.
        assert changes(document, "chat-v2") == {"name": ("changed", "planned")}
        assert endpoint(document, "chat-v2")["plan"] == "update"
    else:
        # Matched by name, a new name is a new endpoint and the old one goes.
        assert endpoint(document, "chat-v2")["plan"] == "create"
        assert endpoint(document, "chat")["plan"] == "delete"


def test_live_endpoint_no_side_declares_is_still_unmanaged(
    run_cli: RunCli, fake_api: FakePPIO, repo: Repo
) -> None:
    pull_request(repo, chat(worker_config=workers(4)))
    stray = make_endpoint("stray", id="ep-stray")
    env = serve(fake_api, live_chat(), stray)

    result = check(run_cli, repo, "-f", "json", "--unmanaged", "fail", env=env)

    assert_clean(result, 1)
    found = endpoint(report(result), "stray")
    assert (found["state"], found["plan"]) == ("unmanaged", None)


def test_unmanaged_ignore_still_hides_what_no_side_declares(
    run_cli: RunCli, fake_api: FakePPIO, repo: Repo
) -> None:
    pull_request(repo, chat(worker_config=workers(4)))
    env = serve(fake_api, live_chat(), make_endpoint("stray", id="ep-stray"))

    result = check(run_cli, repo, "-f", "json", "--unmanaged", "ignore", env=env)

    assert_clean(result, 0)
    document = report(result)
    assert [e["name"] for e in document["endpoints"]] == ["chat"]
    assert document["summary"]["unmanaged"] == 0


def test_spec_folder_new_at_head_plans_everything(
    run_cli: RunCli, fake_api: FakePPIO, repo: Repo
) -> None:
    # The pull request moves the specs to a folder the base does not have.
    repo.branch("pr")
    repo.git("rm", "--quiet", "-r", "endpoints")
    embed = {"name": "embed", "image": "registry.example.com/ml/embed:1.0.0"}
    repo.write_specs("deploy/ppio/all.yaml", chat(worker_config=workers(4)), embed)
    repo.commit("Move the specs")
    env = serve(fake_api, live_chat())

    result = check(run_cli, repo, "-f", "json", env=env, paths=("deploy/ppio",))

    assert_clean(result, 0)
    document = report(result)
    assert changes(document, "chat") == {
        "worker_config.max_replicas": ("changed", "planned")
    }
    states = {e["name"]: (e["state"], e["plan"]) for e in document["endpoints"]}
    assert states == {"chat": ("planned", "update"), "embed": ("planned", "create")}


def test_spec_folder_new_at_head_leaves_an_in_sync_endpoint_unplanned(
    run_cli: RunCli, fake_api: FakePPIO, repo: Repo
) -> None:
    repo.branch("pr")
    repo.write_specs("deploy/ppio/chat.yaml", chat())
    repo.commit("Add a second spec folder")
    env = serve(fake_api, live_chat())

    result = check(run_cli, repo, "-f", "json", env=env, paths=("deploy/ppio",))

    assert_clean(result, 0)
    found = endpoint(report(result), "chat")
    assert (found["state"], found["plan"]) == ("in_sync", None)


# -- git: the working tree, refs, paths ------------------------------------------------


def test_the_working_tree_is_never_touched(
    run_cli: RunCli, fake_api: FakePPIO, repo: Repo
) -> None:
    pull_request(repo, chat(worker_config=workers(4)))
    # Uncommitted work of every kind: a modified spec, a staged one, an untracked one.
    repo.write_specs("endpoints/chat.yaml", chat(worker_config=workers(5)))
    repo.write_specs("endpoints/staged.yaml", {"name": "staged", "image": "x:1"})
    repo.git("add", "endpoints/staged.yaml")
    repo.write_specs("endpoints/untracked.yaml", {"name": "untracked", "image": "y:1"})
    env = serve(fake_api, live_chat())
    before = repo.state()

    result = check(run_cli, repo, "-f", "json", env=env)

    assert repo.state() == before
    assert_clean(result, 0)
    document = report(result)
    # The declared side is the working tree as it is, uncommitted changes included.
    [difference] = endpoint(document, "chat")["differences"]
    assert (difference["declared"], difference["change"]) == (5, "planned")
    plans = {e["name"]: e["plan"] for e in document["endpoints"]}
    assert plans == {"chat": "update", "staged": "create", "untracked": "create"}


def test_base_ref_may_be_a_commit_a_tag_or_relative(
    run_cli: RunCli, fake_api: FakePPIO, repo: Repo
) -> None:
    base = repo.git("rev-parse", "main").strip()
    repo.git("tag", "deployed", base)
    pull_request(repo, chat(worker_config=workers(4)))
    env = serve(fake_api, live_chat(worker_config={"max_replicas": 3}))

    for ref in (base, base[:12], "deployed", "HEAD~1", "main"):
        result = check(run_cli, repo, "-f", "json", env=env, base_ref=ref)
        assert_clean(result, 1)
        document = report(result)
        assert document["base_ref"] == ref
        assert changes(document, "chat") == {
            "worker_config.max_replicas": ("changed", "conflict")
        }


def test_unknown_ref_exits_2_and_says_to_fetch(
    run_cli: RunCli, fake_api: FakePPIO, repo: Repo, tmp_path: Path
) -> None:
    pull_request(repo, chat(worker_config=workers(4)))
    report_file = tmp_path / "report.json"
    report_file.write_text("stale", encoding="utf-8")
    env = serve(fake_api, live_chat())

    result = check(
        run_cli,
        repo,
        "--report",
        f"json:{report_file}",
        env=env,
        base_ref="origin/main",
    )

    assert_error(result, "'origin/main'", "fetch", "fetch-depth: 0")
    assert fake_api.requests == []  # nothing asked of the API for a run that fails
    assert not report_file.exists()  # no stale report passed off as this run's


def test_shallow_clone_without_the_base_branch_exits_2(
    run_cli: RunCli, repo: Repo, tmp_path: Path
) -> None:
    """What actions/checkout gives by default: one commit of the pull request."""
    pull_request(repo, chat(worker_config=workers(4)))
    live_file = save_live(tmp_path / "live.json", live_chat())
    clone = tmp_path / "clone"
    repo.git(
        "clone",
        "--quiet",
        "--depth",
        "1",
        "--branch",
        "pr",
        repo.root.as_uri(),
        str(clone),
    )
    shallow = Repo(clone)

    result = check(
        run_cli, shallow, "--live-file", str(live_file), base_ref="origin/main"
    )

    assert_error(result, "origin/main", "fetch-depth: 0")

    # Fetching the base branch, as the step before driftcheck should, fixes it.
    shallow.git(
        "fetch", "--quiet", "--depth", "1", "origin", "main:refs/remotes/origin/main"
    )
    fetched = check(
        run_cli, shallow, "--live-file", str(live_file), base_ref="origin/main"
    )
    assert_clean(fetched, 0)
    assert "[planned]" in fetched.stdout


def test_outside_a_git_repository_exits_2(run_cli: RunCli, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "chat.yaml").write_text(
        yaml.safe_dump({"endpoints": [chat()]}), encoding="utf-8"
    )
    live_file = save_live(tmp_path / "live.json", live_chat())

    result = run_cli(
        "check",
        "chat.yaml",
        "--live-file",
        live_file,
        "--base-ref",
        "main",
        env={**GIT_ISOLATION, "GIT_CEILING_DIRECTORIES": str(tmp_path)},
        cwd=plain,
    )

    assert_error(result, "--base-ref", "git repository")


def test_ref_that_looks_like_an_option_is_refused(
    run_cli: RunCli, repo: Repo, tmp_path: Path
) -> None:
    live_file = save_live(tmp_path / "live.json", live_chat())

    result = check(run_cli, repo, "--live-file", str(live_file), base_ref="--output=x")

    assert_error(result, "not a git ref")
    assert not (repo.root / "x").exists()


@pytest.mark.parametrize(
    ("where", "paths", "shown"),
    [
        ("endpoints", (".",), "chat.yaml"),
        ("endpoints", ("chat.yaml",), "chat.yaml"),
        ("docs/notes", ("../../endpoints",), "../../endpoints/chat.yaml"),
        (".", (".",), "endpoints/chat.yaml"),
    ],
)
def test_spec_paths_from_a_subdirectory(
    run_cli: RunCli,
    repo: Repo,
    tmp_path: Path,
    where: str,
    paths: tuple[str, ...],
    shown: str,
) -> None:
    repo.write("docs/notes/README.md", "notes\n")
    repo.commit("Add notes")
    pull_request(repo, chat(worker_config=workers(4)))
    live_file = save_live(
        tmp_path / "live.json", live_chat(image="registry.example.com/ml/chat:1.0.1")
    )

    result = check(
        run_cli,
        repo,
        "-f",
        "json",
        "--live-file",
        str(live_file),
        cwd=repo.root / where,
        paths=paths,
    )

    assert_clean(result, 1)
    document = report(result)
    assert changes(document, "chat") == {
        "image": ("changed", "drift"),
        "worker_config.max_replicas": ("changed", "planned"),
    }
    assert endpoint(document, "chat")["source"]["file"].endswith(shown)


def test_spec_path_through_a_symlink(
    run_cli: RunCli, repo: Repo, tmp_path: Path
) -> None:
    pull_request(repo, chat(worker_config=workers(4)))
    live_file = save_live(
        tmp_path / "live.json", live_chat(image="registry.example.com/ml/chat:1.0.1")
    )
    # The same checkout reached by another name, as some CI workspaces are.
    alias = tmp_path / "workspace"
    alias.symlink_to(repo.root, target_is_directory=True)

    result = check(
        run_cli,
        repo,
        "-f",
        "json",
        "--live-file",
        str(live_file),
        paths=(str(alias / "endpoints"),),
    )

    assert_clean(result, 1)
    assert changes(report(result), "chat") == {
        "image": ("changed", "drift"),
        "worker_config.max_replicas": ("changed", "planned"),
    }


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="giving the checkout to another user needs root",
)
def test_checkout_git_distrusts_names_the_fix(
    run_cli: RunCli, repo: Repo, tmp_path: Path
) -> None:
    """As in a container job whose checkout belongs to the runner's user."""
    pull_request(repo, chat(worker_config=workers(4)))
    live_file = save_live(tmp_path / "live.json", live_chat())
    for path in [repo.root, *repo.root.rglob("*")]:
        os.lchown(path, 65534, 65534)

    result = check(run_cli, repo, "--live-file", str(live_file))

    assert_error(result, "dubious ownership", "safe.directory")


def test_specs_in_a_hidden_folder_are_read_at_the_base_too(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    repo = Repo.init(tmp_path / "specs-repo")
    repo.write_specs(".deploy/endpoints/chat.yaml", chat())
    # Hidden below the given folder: skipped on both sides, as in the working tree.
    repo.write_specs(".deploy/endpoints/.draft.yaml", {"name": "draft", "image": "d:1"})
    repo.commit("Declare chat")
    repo.branch("pr")
    repo.write_specs(".deploy/endpoints/chat.yaml", chat(worker_config=workers(4)))
    repo.commit("Raise max_replicas")
    env = serve(fake_api, live_chat(image="registry.example.com/ml/chat:1.0.1"))

    result = check(run_cli, repo, "-f", "json", env=env, paths=(".deploy/endpoints",))

    assert_clean(result, 1)
    document = report(result)
    assert [e["name"] for e in document["endpoints"]] == ["chat"]
    assert changes(document, "chat") == {
        "image": ("changed", "drift"),
        "worker_config.max_replicas": ("changed", "planned"),
    }


def test_invalid_spec_at_the_base_exits_2_naming_ref_file_and_line(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    repo = Repo.init(tmp_path / "specs-repo")
    repo.write(
        "endpoints/chat.yaml",
        "endpoints:\n"
        "  - name: chat\n"
        "    image: registry.example.com/ml/chat:1.0.0\n"
        "    worker_config:\n"
        "      max_replicas: two\n",
    )
    repo.commit("A broken spec")
    pull_request(repo, chat())
    env = serve(fake_api, live_chat())

    result = check(run_cli, repo, env=env)

    line = assert_error(result, "main:endpoints/chat.yaml:5:")
    assert "worker_config.max_replicas" in line
    assert fake_api.requests == []


def test_every_invalid_base_file_is_reported(run_cli: RunCli, tmp_path: Path) -> None:
    repo = Repo.init(tmp_path / "specs-repo")
    repo.write("endpoints/a.yaml", "endpoints:\n  - name: a\n    ports: [http]\n")
    repo.write("endpoints/b.yaml", "endpoints: [\n")
    repo.commit("Two broken specs")
    # The pull request fixes both, so only the base is invalid.
    pull_request(repo, chat())
    repo.write_specs("endpoints/a.yaml", {"name": "a", "ports": [8080]})
    repo.git("rm", "--quiet", "endpoints/b.yaml")
    repo.commit("Fix the specs")
    live_file = save_live(tmp_path / "live.json", live_chat())

    result = check(run_cli, repo, "--live-file", str(live_file))

    assert result.code == 2
    assert result.stdout == ""
    errors = result.stderr
    assert "main:endpoints/a.yaml:3:" in errors
    assert "main:endpoints/b.yaml:" in errors


# -- every format, and capacity --------------------------------------------------------


@pytest.mark.parametrize(
    "fmt", ["text", "json", "markdown", "github", "sarif", "junit"]
)
@pytest.mark.parametrize(("live", "code"), [(2, 0), (3, 1)])
def test_exit_code_is_the_same_in_every_format(
    run_cli: RunCli,
    repo: Repo,
    tmp_path: Path,
    fmt: str,
    live: int,
    code: int,
) -> None:
    pull_request(repo, chat(worker_config=workers(4)))
    live_file = save_live(
        tmp_path / "live.json", live_chat(worker_config={"max_replicas": live})
    )

    result = check(run_cli, repo, "-f", fmt, "--live-file", str(live_file))

    assert_clean(result, code)
    assert result.stdout


def test_planned_capacity_change_is_not_counted_as_drift(
    run_cli: RunCli, fake_api: FakePPIO, repo: Repo
) -> None:
    pull_request(repo, chat(worker_config=workers(4)))
    # max_replicas is planned (2 -> 4); only the image drifted by hand.
    env = serve(fake_api, live_chat(image="registry.example.com/ml/chat:1.0.1"))

    result = check(run_cli, repo, "-f", "json", env=env)

    assert_clean(result, 1)
    document = report(result)
    assert endpoint(document, "chat")["gpu_capacity"] == {
        "declared": 4,
        "live": 2,
        "change": -2,
    }
    assert document["summary"]["gpu_capacity_change"] == 0
