"""Security properties: the key stays secret, TLS stays on, output stays inert.

Most cases run the real CLI against the fake PPIO API on 127.0.0.1; the secrets
property runs the core in-process (compare, then every registered format).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import string
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from driftcheck.compare import compare
from driftcheck.errors import UsageError
from driftcheck.formats import FORMATS, ReportOptions, render
from driftcheck.live import check_api_url
from driftcheck.model import DeclaredEndpoint, Location
from driftcheck.redact import DEFAULT_SENSITIVE_WORDS, Redactor

from .conftest import CliResult, RunCli, interrupt_during_fetch
from .fake_ppio import (
    FakePPIO,
    broken_json,
    make_endpoint,
    redirect,
    slow,
    status,
)

SENTINEL = "sk-SENTINEL-7f3a9c21d4e5"
TIMEOUT = 20


def run_check(
    run_cli: RunCli,
    cwd: Path,
    *args: str,
    api_url: str,
    key: str = SENTINEL,
    key_via: str = "env",
    env: Mapping[str, str] | None = None,
) -> CliResult:
    """`driftcheck check` with the key passed in the environment or as an option."""
    options = ["--api-key", key] if key_via == "option" else []
    variables = {"PPIO_API_URL": api_url, **(env or {})}
    if key_via == "env":
        variables["PPIO_API_KEY"] = key
    return run_cli("check", *args, *options, env=variables, cwd=cwd, timeout=TIMEOUT)


def every_file(root: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path, path.read_text(encoding="utf-8", errors="replace")


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- the API key never appears in any output -------------------------------------------


def _scenario(name: str, fake: FakePPIO) -> str:
    """Script the fake for one scenario; return the API URL to use."""
    fake.endpoints = [
        make_endpoint("chat"),
        # A live value that happens to hold the key must not print it either.
        make_endpoint("embed", image=f"registry.example.com/{SENTINEL}:1"),
    ]
    if name == "wrong_key_401":
        fake.api_key = "another-key"
    elif name == "401_echoing_the_key":
        fake.always(status(401, {"message": f"invalid key Bearer {SENTINEL}"}))
    elif name == "500_echoing_the_key_gives_up":
        fake.always(status(500, {"message": f"upstream said {SENTINEL}"}))
    elif name == "403_echoing_the_key":
        fake.always(status(403, {"message": f"key {SENTINEL} may not list"}))
    elif name == "redirect_carrying_the_key":
        fake.always(redirect(f"http://127.0.0.1:9/login?key={SENTINEL}"))
    elif name == "timeout":
        fake.always(slow(3))
    elif name == "broken_json":
        fake.always(broken_json())
    elif name == "connection_refused":
        return f"http://127.0.0.1:{closed_port()}"
    return fake.url


KEY_SCENARIOS = [
    "success",
    "wrong_key_401",
    "401_echoing_the_key",
    "403_echoing_the_key",
    "500_echoing_the_key_gives_up",
    "redirect_carrying_the_key",
    "timeout",
    "broken_json",
    "connection_refused",
]


@pytest.mark.parametrize("key_via", ["env", "option"])
@pytest.mark.parametrize("scenario", KEY_SCENARIOS)
def test_api_key_never_appears_in_any_output(
    scenario: str,
    key_via: str,
    run_cli: RunCli,
    fake_api: FakePPIO,
    tmp_path: Path,
) -> None:
    fake_api.api_key = SENTINEL
    api_url = _scenario(scenario, fake_api)
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "chat.yaml").write_text(
        'name: chat\nimage: "registry.example.com/other:2"\n', encoding="utf-8"
    )
    out = tmp_path / "out"
    out.mkdir()
    reports = [f"--report={name}:{out / f'report.{name}'}" for name in FORMATS]

    result = run_check(
        run_cli,
        tmp_path,
        "specs",
        "--verbose",
        "--retries",
        "1",
        "--timeout",
        "0.5",
        "-f",
        "github",
        "-o",
        str(out / "stdout-report"),
        *reports,
        api_url=api_url,
        key_via=key_via,
        env={"GITHUB_STEP_SUMMARY": str(out / "summary.md")},
    )

    assert "Traceback" not in result.stderr
    assert SENTINEL not in result.stdout
    assert SENTINEL not in result.stderr
    for path, text in every_file(tmp_path):
        assert SENTINEL not in text, path
    if scenario == "success":
        assert result.code == 1, result.stderr
        assert len(list(out.iterdir())) == len(FORMATS) + 2
        # Each request carried the key, and only in the Authorization header.
        assert fake_api.requests
        for request in fake_api.requests:
            assert request.headers["authorization"] == f"Bearer {SENTINEL}"
            assert SENTINEL not in json.dumps(request.query)
            assert SENTINEL not in request.path
    else:
        assert result.code == 2, result.stderr
        assert result.stdout == ""
        assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    "key",
    [f"{SENTINEL}\n", f"{SENTINEL}\r\nX-Injected: 1", f"{SENTINEL}\u00e9"],
    ids=["trailing_newline", "header_injection", "non_ascii"],
)
def test_api_key_a_header_cannot_carry_is_refused_without_echo(
    key: str, run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    (tmp_path / "spec.yaml").write_text("name: chat\n", encoding="utf-8")

    result = run_check(run_cli, tmp_path, "spec.yaml", api_url=fake_api.url, key=key)

    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: the API key holds a line break, control or non-ASCII character, "
        "which an HTTP header cannot carry; check PPIO_API_KEY\n"
    )
    assert fake_api.requests == []


# -- plain http and TLS ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://api.ppio.com",
        "http://127.0.0.1.nip.example",
        "http://localhost.example.com",
        "http://10.0.0.1:8080",
        "http://0x7f000001",
    ],
)
def test_plain_http_to_a_non_loopback_host_is_refused(
    url: str, run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "spec.yaml").write_text("name: chat\n", encoding="utf-8")

    for key_via in ("env", "option"):
        result = run_check(run_cli, tmp_path, "spec.yaml", api_url=url, key_via=key_via)

        assert result.code == 2
        assert result.stdout == ""
        assert "refusing to send the API key over plain http to" in result.stderr
        assert "--allow-insecure-http" in result.stderr
        assert SENTINEL not in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://api.example.com", False),
        ("http://127.0.0.2:8080", True),
        ("http://[::1]:8080", True),
        ("http://localhost", True),
        ("https://api.example.com", True),
    ],
)
def test_allow_insecure_http_is_what_lets_plain_http_leave_loopback(
    url: str, allowed: bool
) -> None:
    # In-process: the CLI would go on to connect, and tests stay off the network.
    assert check_api_url(url, allow_insecure_http=True) == url
    if allowed:
        assert check_api_url(url, allow_insecure_http=False) == url
    else:
        with pytest.raises(UsageError, match="--allow-insecure-http"):
            check_api_url(url, allow_insecure_http=False)


def test_credentials_in_the_api_url_are_refused(
    run_cli: RunCli, tmp_path: Path
) -> None:
    (tmp_path / "spec.yaml").write_text("name: chat\n", encoding="utf-8")

    result = run_check(
        run_cli, tmp_path, "spec.yaml", api_url=f"https://user:{SENTINEL}@x.example"
    )

    assert result.code == 2
    assert "must not carry credentials; use PPIO_API_KEY" in result.stderr
    assert SENTINEL not in result.stderr


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_plain_http_to_loopback_is_allowed(
    host: str, run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    fake_api.api_key = SENTINEL
    fake_api.endpoints = [make_endpoint("chat")]
    (tmp_path / "spec.yaml").write_text("name: chat\n", encoding="utf-8")

    url = fake_api.url.replace("127.0.0.1", host)
    result = run_check(run_cli, tmp_path, "spec.yaml", api_url=url)

    assert result.code == 0, result.stderr
    assert result.stderr == ""


def test_no_option_turns_tls_verification_off(run_cli: RunCli) -> None:
    result = run_cli("check", "--help", timeout=TIMEOUT)

    assert result.code == 0
    options = set(re.findall(r"(?<![\w-])--?[\w-]+", result.stdout))
    assert "--ca-bundle" in options
    forbidden = re.compile(r"verify|insecure(?!-http)|no-tls|skip-tls|no-ssl|^-k$")
    assert [o for o in options if forbidden.search(o)] == []


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(key), "-out", str(cert), "-days", "2",
            "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,digitalSignature,keyCertSign",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_api(self_signed: tuple[Path, Path]) -> Iterator[tuple[FakePPIO, str]]:
    """The fake API behind TLS with a certificate no system store trusts."""
    cert, key = self_signed
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FakePPIO([make_endpoint("chat")], api_key=SENTINEL) as fake:
        # Wrapped before any client connects: every accepted connection speaks TLS.
        server = fake._server
        assert server is not None
        server.socket = context.wrap_socket(server.socket, server_side=True)
        yield fake, fake.url.replace("http://", "https://")


@pytest.fixture
def chat_spec(tmp_path: Path) -> Path:
    (tmp_path / "spec.yaml").write_text("name: chat\n", encoding="utf-8")
    return tmp_path


def test_tls_certificate_is_verified(
    run_cli: RunCli, https_api: tuple[FakePPIO, str], chat_spec: Path
) -> None:
    fake, url = https_api

    result = run_check(run_cli, chat_spec, "spec.yaml", api_url=url)

    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert re.fullmatch(
        rf"error: {re.escape(url)}/gpus/v2/endpoints: the server's TLS certificate "
        r"cannot be verified \(.*\)\. If a private CA signed it, pass that CA with "
        r"--ca-bundle\n",
        result.stderr,
    )
    # The handshake failed, so no request (and no key) reached the server; and a
    # certificate that fails once is not tried again.
    assert fake.requests == []


def test_allow_insecure_http_does_not_weaken_tls(
    run_cli: RunCli, https_api: tuple[FakePPIO, str], chat_spec: Path
) -> None:
    fake, url = https_api

    result = run_check(
        run_cli, chat_spec, "spec.yaml", "--allow-insecure-http", api_url=url
    )

    assert result.code == 2
    assert "TLS certificate cannot be verified" in result.stderr
    assert fake.requests == []


def test_ca_bundle_makes_a_private_ca_trusted(
    run_cli: RunCli,
    https_api: tuple[FakePPIO, str],
    self_signed: tuple[Path, Path],
    chat_spec: Path,
) -> None:
    fake, url = https_api

    result = run_check(
        run_cli, chat_spec, "spec.yaml", "--ca-bundle", str(self_signed[0]), api_url=url
    )

    assert result.code == 0, result.stderr
    assert result.stderr == ""
    assert len(fake.requests) == 1


def test_ssl_cert_file_is_honoured(
    run_cli: RunCli,
    https_api: tuple[FakePPIO, str],
    self_signed: tuple[Path, Path],
    chat_spec: Path,
) -> None:
    _, url = https_api

    result = run_check(
        run_cli,
        chat_spec,
        "spec.yaml",
        api_url=url,
        env={"SSL_CERT_FILE": str(self_signed[0])},
    )

    assert result.code == 0, result.stderr


def test_ca_bundle_that_does_not_exist_is_a_usage_error(
    run_cli: RunCli, fake_api: FakePPIO, chat_spec: Path
) -> None:
    result = run_check(
        run_cli, chat_spec, "spec.yaml", "--ca-bundle", "nope.pem", api_url=fake_api.url
    )

    assert result.code == 2
    assert result.stdout == ""
    assert "'--ca-bundle'" in result.stderr
    assert "'nope.pem' does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert fake_api.requests == []


@pytest.mark.parametrize("how", ["--ca-bundle", "SSL_CERT_FILE"])
def test_garbage_ca_bundle_is_a_clear_error(
    how: str, run_cli: RunCli, fake_api: FakePPIO, chat_spec: Path
) -> None:
    garbage = chat_spec / "garbage.pem"
    garbage.write_text("this is not a certificate\n", encoding="utf-8")
    options = ("--ca-bundle", str(garbage)) if how == "--ca-bundle" else ()
    env = {"SSL_CERT_FILE": str(garbage)} if how == "SSL_CERT_FILE" else {}

    result = run_check(
        run_cli, chat_spec, "spec.yaml", *options, api_url=fake_api.url, env=env
    )

    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: cannot use CA bundle {garbage}: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert fake_api.requests == []


# -- output injection through every format ---------------------------------------------

PAYLOADS = [
    "\x1b[31m",
    "\r",
    "\x07",
    "::error::pwned",
    "%0A",
    "</td><script>alert(1)</script>",
    "| a | b |",
    "]]>",
    "<&>",
    "\u202e",
    "\n::warning::pwned2",
]
HOSTILE = "x" + "".join(PAYLOADS) + "y"
RAW_CONTROLS = ("\x1b", "\r", "\x07", "\u202e")


def _yaml_quoted(text: str) -> str:
    # JSON strings are valid YAML double-quoted scalars.
    return json.dumps(text)


@pytest.fixture
def hostile_run(fake_api: FakePPIO, tmp_path: Path) -> tuple[Path, FakePPIO]:
    """Specs and a live list where names, images and env values carry payloads."""
    fake_api.api_key = SENTINEL
    fake_api.endpoints = [
        # Matched by name, differing in image and env: drifted.
        make_endpoint(
            "chat",
            image=f"img{HOSTILE}",
            envs={"MODE": f"live{HOSTILE}", "EXTRA": HOSTILE},
        ),
        # Only live: unmanaged, with a hostile name and id.
        make_endpoint(f"live{HOSTILE}", id=f"ep-{HOSTILE}"),
        # Matched by id, named differently: a hostile `name` difference.
        make_endpoint(f"renamed{HOSTILE}", id="ep-pinned"),
    ]
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "chat.yaml").write_text(
        "endpoints:\n"
        "  - name: chat\n"
        f"    image: {_yaml_quoted('decl' + HOSTILE)}\n"
        "    envs:\n"
        f"      MODE: {_yaml_quoted('decl' + HOSTILE)}\n"
        f"  - name: {_yaml_quoted('missing' + HOSTILE)}\n"
        "  - name: pinned\n"
        "    id: ep-pinned\n",
        encoding="utf-8",
    )
    # A file name may carry payloads too (anything but `/` and NUL).
    hostile_file = "spec-\x1b[31m-::error::f-%0A-<script>-]]>-<&>-\u202e.yaml"
    (specs / hostile_file).write_text(
        f"name: {_yaml_quoted('file' + HOSTILE)}\n", encoding="utf-8"
    )
    return tmp_path, fake_api


def _check_format(name: str, text: str, expected_lines: int) -> None:
    if name == "text":
        for char in RAW_CONTROLS:
            assert char not in text, (name, char)
    elif name == "github":
        for char in RAW_CONTROLS:
            assert char not in text, (name, char)
        commands = [line for line in text.split("\n") if line.startswith("::")]
        # One command per problem plus the summary notice: none smuggled in.
        assert len(commands) == expected_lines, commands
        assert all(re.match(r"::(error|warning|notice)[ :]", c) for c in commands)
        assert not any("::pwned" in c.split("::", 2)[1] for c in commands)
    elif name in ("json", "sarif"):
        json.loads(text)
    elif name == "junit":
        ET.fromstring(text.encode("utf-8"))
    elif name == "markdown":
        assert "<script" not in text.lower()
        assert "</td>" not in text
        for char in RAW_CONTROLS:
            assert char not in text, (name, char)
    # Every format: no terminal escape, whatever else it allows.
    assert "\x1b" not in text, name
    assert "\x07" not in text, name


@pytest.mark.parametrize("report_format", list(FORMATS))
def test_hostile_names_and_values_cannot_break_any_format(
    report_format: str,
    run_cli: RunCli,
    hostile_run: tuple[Path, FakePPIO],
) -> None:
    root, fake = hostile_run
    out = root / "out"
    out.mkdir()
    summary = out / "summary.md"

    result = run_check(
        run_cli,
        root,
        "specs",
        "-f",
        report_format,
        "--report",
        f"json:{out / 'report.json'}",
        api_url=fake.url,
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )

    assert result.code == 1, result.stderr
    assert "Traceback" not in result.stderr
    for char in RAW_CONTROLS:
        assert char not in result.stderr
    document = json.loads((out / "report.json").read_text(encoding="utf-8"))
    states = sorted(e["state"] for e in document["endpoints"])
    assert states == ["drifted", "drifted", "missing", "missing", "unmanaged"]
    # The JSON report keeps names exactly: escaping is for display, not data.
    names = {e["name"] for e in document["endpoints"]}
    assert {f"missing{HOSTILE}", f"live{HOSTILE}", f"file{HOSTILE}"} <= names
    problems = sum(max(1, len(e["differences"])) for e in document["endpoints"])

    _check_format(report_format, result.stdout, problems + 1)
    if report_format == "github":
        _check_format("markdown", summary.read_text(encoding="utf-8"), 0)


def test_hostile_text_in_spec_errors_cannot_reach_the_terminal(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    (tmp_path / "spec-\x1b[31m\x07.yaml").write_text(
        f"name: {_yaml_quoted(HOSTILE)}\nimgae: x\n", encoding="utf-8"
    )

    result = run_check(run_cli, tmp_path, ".", api_url=fake_api.url)

    assert result.code == 2
    assert result.stdout == ""
    for char in RAW_CONTROLS:
        assert char not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ./spec-\\x1b[31m\\x07.yaml:2:1: x\\x1b[31m")
    assert lines[0].endswith("imgae: unknown field 'imgae' (did you mean 'image'?)")


def test_hostile_text_from_the_api_cannot_reach_the_terminal(
    run_cli: RunCli, fake_api: FakePPIO, tmp_path: Path
) -> None:
    fake_api.always(status(403, {"message": HOSTILE}))
    (tmp_path / "spec.yaml").write_text("name: chat\n", encoding="utf-8")

    result = run_check(run_cli, tmp_path, "spec.yaml", api_url=fake_api.url)

    assert result.code == 2
    assert result.stderr.count("\n") == 1
    for char in RAW_CONTROLS:
        assert char not in result.stderr


# -- secret env values, property-based -------------------------------------------------

# Base64-like, as real tokens are; nothing any format escapes, so a leak shows as is.
SECRET_ALPHABET = string.ascii_letters + string.digits + "+/=-"
CUSTOM_GLOB = "internal_*_cfg"


@st.composite
def sensitive_keys(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        # Matches the custom glob, case-insensitively, without a built-in word.
        middle = draw(st.text(alphabet="BCDFGHJLMNPQRVWXZ", min_size=1, max_size=6))
        key = f"INTERNAL_{middle}_CFG"
    else:
        word = draw(st.sampled_from(DEFAULT_SENSITIVE_WORDS))
        prefix = draw(st.text(alphabet=string.ascii_uppercase + "_", max_size=6))
        suffix = draw(st.text(alphabet=string.ascii_uppercase + "_0123", max_size=6))
        key = prefix + word + suffix
    flips = draw(st.lists(st.booleans(), min_size=len(key), max_size=len(key)))
    return "".join(c.lower() if f else c for c, f in zip(key, flips, strict=True))


secret_values = st.text(alphabet=SECRET_ALPHABET, min_size=6, max_size=40)
# One secret env: its kind, and its declared and live values (None: not on that side).
secret_envs = st.tuples(
    sensitive_keys(),
    st.sampled_from(["changed", "missing", "extra"]),
    secret_values,
    secret_values,
)


def _declared(name: str, envs: dict[str, str]) -> DeclaredEndpoint:
    return DeclaredEndpoint(
        name=name,
        id=None,
        fields={"envs": envs},
        source=Location("specs/app.yaml", 1, 1),
        lines={f"envs.{key}": 2 + n for n, key in enumerate(envs)},
    )


def _live(name: str, envs: dict[str, str]) -> dict[str, Any]:
    return make_endpoint(name, envs=envs)


def _render_all(declared: list[DeclaredEndpoint], live: list[dict[str, Any]]) -> str:
    result = compare(declared, live, redactor=Redactor([CUSTOM_GLOB]))
    return "\n".join(
        render(name, result, ReportOptions(color=False)) for name in FORMATS
    )


@settings(max_examples=60, deadline=None)
@given(envs=st.lists(secret_envs, min_size=1, max_size=4, unique_by=lambda e: e[0]))
def test_sensitive_env_values_never_appear_in_any_format(
    envs: list[tuple[str, str, str, str]],
) -> None:
    declared_envs = {"MODE": "declared-mode"}
    live_envs = {"MODE": "live-mode", "LOG_LEVEL": "info"}
    secrets: list[str] = []
    for key, kind, declared_value, live_value in envs:
        assume(declared_value != live_value)
        if kind in ("changed", "missing"):
            declared_envs[key] = declared_value
            secrets.append(declared_value)
        if kind in ("changed", "extra"):
            live_envs[key] = live_value
            secrets.append(live_value)

    declared = [_declared("app", declared_envs), _declared("gone", declared_envs)]
    live = [_live("app", live_envs), _live("stray", live_envs)]
    # A value that the report prints anyway (a name, a count, a word) proves nothing.
    baseline = _render_all(
        [_declared("app", {"MODE": "declared-mode"}), _declared("gone", {})],
        [_live("app", {"MODE": "live-mode"}), _live("stray", {})],
    )
    for secret in secrets:
        assume(secret not in baseline and not secret.isdigit())

    output = _render_all(declared, live)

    assert "declared-mode" in output  # the ordinary difference is shown
    for secret in secrets:
        assert secret not in output


# -- Ctrl-C ----------------------------------------------------------------------------


def test_ctrl_c_during_a_fetch_exits_130_with_one_line(
    fake_api: FakePPIO, tmp_path: Path
) -> None:
    fake_api.endpoints = [make_endpoint("chat")]
    fake_api.always(slow(10))
    (tmp_path / "spec.yaml").write_text("name: chat\n", encoding="utf-8")
    env = {"PPIO_API_KEY": SENTINEL, "PPIO_API_URL": fake_api.url}
    fake_api.api_key = SENTINEL

    result = interrupt_during_fetch(
        fake_api, "check", "spec.yaml", env=env, cwd=tmp_path
    )

    assert result.code == 130
    assert result.stdout == ""
    assert result.stderr == "driftcheck: interrupted\n"
