"""Shared fixtures: a fake PPIO API, a real CLI runner and a network guard."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .fake_ppio import FakePPIO

# Variables that change what the CLI does; a test sets them explicitly or not at all.
STRIPPED_ENV = (
    "PPIO_API_KEY",
    "PPIO_API_URL",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_ACTIONS",
    "GITHUB_SERVER_URL",
    "GITHUB_REPOSITORY",
    "GITHUB_SHA",
    "GITHUB_WORKSPACE",
    "NO_COLOR",
    "FORCE_COLOR",
    "CI",
)
REPO = Path(__file__).resolve().parents[1]
# The published SARIF and JUnit schemas, kept unchanged in the repository.
REFERENCE = REPO / "tests" / "reference"
REPORT_SCHEMA = REPO / "schemas" / "report.schema.json"
# The README's main command on the bundled example, run from REPO.
EXAMPLES = ("examples/endpoints", "--live-file", "examples/live-endpoints.json")
# The discard port: a CLI run that forgets --api-url fails fast and stays local.
UNREACHABLE_API_URL = "http://127.0.0.1:9"
# 2026-12-01T00:00:00Z
FIXED_EPOCH = "1796083200"


@pytest.fixture
def fake_api() -> Iterator[FakePPIO]:
    """A running FakePPIO; fails the test if the fake itself hit a bug."""
    with FakePPIO() as fake:
        yield fake
    if fake.errors:
        pytest.fail("fake PPIO server raised:\n" + "\n".join(fake.errors))


@dataclass(frozen=True)
class CliResult:
    """Outcome of one ``python -m driftcheck`` run."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str


RunCli = Callable[..., CliResult]


def _default_sigint() -> None:
    """Run in a child before exec: give it Ctrl-C's default disposition.

    A test run started in the background by a shell without job control inherits
    SIGINT ignored and passes that on; the child's Python would then never raise
    KeyboardInterrupt, and a Ctrl-C test would test the launcher, not driftcheck.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_during_fetch(
    fake: FakePPIO,
    *args: str | os.PathLike[str],
    env: Mapping[str, str | None],
    cwd: str | os.PathLike[str],
) -> CliResult:
    """Run the CLI, press Ctrl-C once its first request reaches `fake`, and wait.

    `fake` must be slow to answer, so that the run is still fetching.
    """
    argv = tuple(os.fspath(a) for a in args)
    process = subprocess.Popen(
        [sys.executable, "-m", "driftcheck", *argv],
        cwd=cwd,
        env=child_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + 20
        while not fake.requests and time.monotonic() < deadline:
            if process.poll() is not None:
                break
            time.sleep(0.02)
        assert fake.requests, "the CLI never reached the fake API"
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return CliResult(argv, process.returncode, stdout, stderr)


def child_env(overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The environment a CLI run gets: ours, cleaned, then ``overrides``."""
    env = {k: v for k, v in os.environ.items() if k not in STRIPPED_ENV}
    env["PPIO_API_URL"] = UNREACHABLE_API_URL
    # Reports carry the time of the run; a fixed one keeps two runs comparable.
    env["SOURCE_DATE_EPOCH"] = FIXED_EPOCH
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@pytest.fixture
def run_cli() -> RunCli:
    """Run ``python -m driftcheck *args`` as a real subprocess."""

    def run(
        *args: str | os.PathLike[str],
        env: Mapping[str, str | None] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        input: str | None = None,
        timeout: float = 60,
    ) -> CliResult:
        argv = tuple(os.fspath(a) for a in args)
        command = [sys.executable, "-m", "driftcheck", *argv]
        try:
            completed = subprocess.run(
                command,
                env=child_env(env),
                cwd=cwd,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                encoding="utf-8",
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            pytest.fail(
                f"driftcheck {' '.join(argv)} did not finish in {timeout}s\n"
                f"stdout:\n{_text(exc.stdout)}\nstderr:\n{_text(exc.stderr)}"
            )
        return CliResult(argv, completed.returncode, completed.stdout, completed.stderr)

    return run


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", "replace")
    return output or ""


class NetworkAccessBlocked(RuntimeError):
    """A test tried to reach a host other than loopback."""


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


def _refuse(address: Any) -> NetworkAccessBlocked:
    return NetworkAccessBlocked(
        f"test tried to connect to {address!r}; tests may only reach loopback "
        "(127.0.0.0/8, ::1, localhost)"
    )


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any connection to a non-loopback address fail the test loudly."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create_connection = socket.create_connection
    inet = (socket.AF_INET, socket.AF_INET6)

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in inet and not _is_loopback(address[0]):
            raise _refuse(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if self.family in inet and not _is_loopback(address[0]):
            raise _refuse(address)
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        # Checked before name resolution, so no DNS query leaves either.
        if not _is_loopback(address[0]):
            raise _refuse(address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
