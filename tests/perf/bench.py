"""How fast driftcheck is, measured against floors taken in the same run.

    python tests/perf/bench.py [--sizes 1000,10000,50000] [--runs 5] [--quick]

Synthetic specs and the matching live list are written to a temporary directory.
Every measurement is a fresh process; each run goes round-robin over all of them,
so noise on a shared machine falls on floors and driftcheck alike. A ratio is the
median over runs of (driftcheck / floor) within the same run; absolute times are
printed for context only. Exits 1 when a target is missed, 2 when a command fails.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DRIFTCHECK = str(BIN / "driftcheck")
API_KEY = "bench-key-0123456789"

FILES = 10
DRIFT_EVERY = 50  # 2% of the endpoints drift
DRIFT_SECTIONS = ("image", "worker_config", "policy", "envs", "health_check")
# Throughput targets are meant for real spec sets; below this, start-up dominates.
TARGET_MIN_N = 10_000
DEFAULT_SIZES = (1_000, 10_000, 50_000)
QUICK_SIZES = (200, 1_000)
API_PAGE_SIZE = 100

# The floors: what any tool reading the same inputs with PyYAML's C loader pays.
YAML_FLOOR = """\
import glob, os, sys, yaml
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.yaml"))):
    with open(path, "rb") as handle:
        list(yaml.load_all(handle, Loader=yaml.CSafeLoader))
"""
YAML_JSON_FLOOR = (
    YAML_FLOOR
    + """\
import json
with open(sys.argv[2], "rb") as handle:
    json.load(handle)
"""
)

# driftcheck pauses the cycle collector while it works; the plain floors pay for it.
# This one does not, for a ratio of the work alone (reported, not a target).
NO_GC_FLOOR = "import gc\ngc.disable()\n" + YAML_JSON_FLOOR


# ---------------------------------------------------------------------------
# Synthetic data


def _name(i: int) -> str:
    return f"svc-{i:06d}"


def _endpoint_id(i: int) -> str:
    return f"ep-{i:012x}"


def _declared(i: int) -> dict[str, Any]:
    """What the spec for endpoint `i` declares."""
    name = _name(i)
    return {
        "name": name,
        "id": _endpoint_id(i) if i % 2 else None,  # half pinned by id, half by name
        "image": f"registry.example.com/ml/{name}:1.{i % 7}.0",
        "product_id": str(1 + i % 4),
        "region_id": f"region-{1 + i % 3}",
        "worker_config": {
            "max_replicas": 2 + i % 5,
            "min_replicas": i % 2,
            "idle_timeout": 300,
            "max_concurrent_per_worker": 10,
            "gpu_num": 1,
            "rootfs_size_gb": 20,
            "request_timeout": 60,
            "min_cuda_version": "12.4",
        },
        "policy": {"type": "queue" if i % 3 else "concurrency", "value": 100},
        "envs": {
            "LOG_LEVEL": "info",
            "MODEL_NAME": name,
            "MAX_BATCH": str(8 + i % 8),
            "CACHE_DIR": "/data/cache",
            "HF_TOKEN": f"hf_{i:08d}secret",
        },
        "health_check": {"path": "/healthz", "port": 8080},
        "ports": [8080, 9090] if i % 4 == 0 else [8080],
    }


def _live(i: int) -> dict[str, Any]:
    """The live endpoint for `i` as the list call returns it, drifted for 2%."""
    spec = _declared(i)
    name = spec["name"]
    endpoint_id = _endpoint_id(i)
    envs = dict(spec["envs"])
    worker_config = dict(spec["worker_config"])
    policy = dict(spec["policy"])
    health_check = dict(spec["health_check"])
    image = spec["image"]

    if i % DRIFT_EVERY == 0:
        section = DRIFT_SECTIONS[(i // DRIFT_EVERY) % len(DRIFT_SECTIONS)]
        if section == "image":
            image = image.replace(":1.", ":2.")
        elif section == "worker_config":
            worker_config["max_replicas"] += 1
        elif section == "policy":
            policy["value"] = 50
        elif section == "envs":
            envs["HF_TOKEN"] = "hf_rotated"
            envs["DEBUG"] = "1"
        else:
            health_check["port"] = 8081

    return {
        "id": endpoint_id,
        "name": name,
        "app_name": name,
        "status": {"status": "running", "error": "", "message": ""},
        "url": f"https://serverless.example.com/{endpoint_id}",
        "product_id": spec["product_id"],
        "worker_config": worker_config,
        "policy": policy,
        "image": image,
        "registry_auth_id": "",
        "entrypoint": "",
        "command": "python -m server",
        "volumes": [],
        "envs": [{"key": k, "value": v} for k, v in envs.items()],
        "ports": spec["ports"],
        "workers": [
            {
                "id": f"wk-{i:012x}",
                "status": {"status": "ready", "error": "", "message": ""},
                "log": f"https://logs.example.com/wk-{i:012x}",
                "health": True,
                "drain": False,
            }
        ],
        "health_check": health_check,
        "region_id": spec["region_id"],
        "member_id": "member-0001",
        "owner_id": "55555555-e29b-41d4-a716-446655440000",
        "created_at": 1710000000 + i,
    }


def _spec_yaml(i: int, indent: str) -> list[str]:
    """One endpoint as a person would write it; envs alternate between both forms."""
    spec = _declared(i)
    wc = spec["worker_config"]
    lines = [f"- name: {spec['name']}"]
    if spec["id"]:
        lines.append(f"  id: {spec['id']}")
    lines += [
        f"  image: {spec['image']}",
        f'  product_id: "{spec["product_id"]}"',
        f"  region_id: {spec['region_id']}",
        "  worker_config:",
        *(f"    {k}: {v}" for k, v in wc.items() if k != "min_cuda_version"),
        f'    min_cuda_version: "{wc["min_cuda_version"]}"',
        "  policy:",
        f"    type: {spec['policy']['type']}",
        f"    value: {spec['policy']['value']}",
        "  envs:",
    ]
    if (i // FILES) % 2 == 0:  # both forms in every file
        lines += [f'    {k}: "{v}"' for k, v in spec["envs"].items()]
    else:
        for key, value in spec["envs"].items():
            lines += [f"    - key: {key}", f'      value: "{value}"']
    lines += [
        "  health_check:",
        f"    path: {spec['health_check']['path']}",
        f"    port: {spec['health_check']['port']}",
        f"  ports: [{', '.join(str(p) for p in spec['ports'])}]",
    ]
    return [indent + line for line in lines]


def write_data(directory: Path, n: int) -> tuple[Path, Path, int]:
    """Spec files under directory/specs and the live list; returns the drift count."""
    specs = directory / "specs"
    specs.mkdir(parents=True)
    for f in range(FILES):
        lines = [
            "# yaml-language-server: $schema=../schemas/endpoint-spec.schema.json",
            f"# Endpoints of team {f}.",
            "endpoints:",
        ]
        for i in range(f, n, FILES):
            lines += _spec_yaml(i, "  ")
        (specs / f"team-{f:02d}.yaml").write_text("\n".join(lines) + "\n")

    live = directory / "live.json"
    body = {"data": [_live(i) for i in range(n)], "next_cursor": "", "has_more": False}
    live.write_text(json.dumps(body))
    drifted = len(range(0, n, DRIFT_EVERY))
    return specs, live, drifted


# ---------------------------------------------------------------------------
# The fake API, in a process of its own


def serve(live_file: str) -> None:
    """Serve `live_file` with tests/fake_ppio until stdin closes."""
    sys.path.insert(0, str(ROOT))
    from tests import fake_ppio

    with open(live_file, "rb") as handle:
        endpoints = json.load(handle)["data"]
    # The fake deep-copies each page it serves, so that tests may change its list
    # while pages are served. Nothing changes the list here: serve it uncopied, so
    # the ratio measures the client, not the copying.
    fake_ppio.copy = types.SimpleNamespace(deepcopy=lambda value: value)
    fake = fake_ppio.FakePPIO(endpoints, api_key=API_KEY, page_cap=None)
    with fake:
        print(fake.url, flush=True)
        sys.stdin.read()


class BenchError(Exception):
    """A command the benchmark runs failed or gave a wrong answer."""


class ApiServer:
    def __init__(self, live_file: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(live_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.close()
            raise BenchError(f"the fake API did not start ({self.url!r})")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---------------------------------------------------------------------------
# Measuring


@dataclass
class Command:
    """One command line measured in every run, with what it must exit with."""

    key: str
    argv: list[str]
    expect: int = 0
    env: dict[str, str] | None = None
    seconds: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)


def run_once(command: Command) -> tuple[float, int]:
    """Wall time and peak RSS (KiB) of one run of `command`.

    os.wait4 reports the rusage of exactly the child it reaps, so the peak RSS is
    that process's own, not a maximum over every child the benchmark ever ran.
    """
    start = time.perf_counter()
    process = subprocess.Popen(
        command.argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=command.env,
    )
    assert process.stderr is not None
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    if process.returncode != command.expect:
        sys.stderr.write(stderr.decode("utf-8", "replace"))
        raise BenchError(
            f"{' '.join(command.argv)} exited {process.returncode}, "
            f"expected {command.expect}"
        )
    return elapsed, usage.ru_maxrss  # KiB on Linux


def run_rounds(commands: Sequence[Command], runs: int) -> None:
    """One warm-up, then `runs` rounds over every command, each round rotated."""
    for command in commands:
        run_once(command)
    for round_number in range(runs):
        shift = round_number % len(commands)
        for command in [*commands[shift:], *commands[:shift]]:
            seconds, rss = run_once(command)
            command.seconds.append(seconds)
            command.rss_kib.append(rss)
        sys.stderr.write(f"bench: round {round_number + 1}/{runs} done\n")


def check_output(argv: list[str], env: dict[str, str] | None) -> dict[str, Any]:
    done = subprocess.run(argv, capture_output=True, env=env, check=False)
    if done.returncode != 1:
        sys.stderr.write(done.stderr.decode("utf-8", "replace"))
        raise BenchError(f"{' '.join(argv)} exited {done.returncode}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


# ---------------------------------------------------------------------------
# Results


@dataclass
class Row:
    name: str
    floor: str
    measured: str
    ratio: float
    target: float | None  # None: for context only

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        return "PASS" if self.ratio <= self.target else "FAIL"


def ratio_of(measured: Command, floor: Command) -> float:
    """Median over runs of the per-run ratio: both sides saw the same noise."""
    pairs = zip(measured.seconds, floor.seconds, strict=True)
    return statistics.median(m / f for m, f in pairs)


def ms(command: Command) -> str:
    return f"{statistics.median(command.seconds) * 1000:.0f} ms"


def mib(command: Command) -> str:
    return f"{statistics.median(command.rss_kib) / 1024:.0f} MiB"


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| measurement | floor (median) | driftcheck (median) | ratio | target "
        "| result |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        target = f"<= {row.target:g}" if row.target is not None else "-"
        lines.append(
            f"| {row.name} | {row.floor} | {row.measured} | {row.ratio:.2f} | "
            f"{target} | {row.verdict} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", help="comma-separated endpoint counts")
    parser.add_argument("--runs", type=int, default=5, help="interleaved runs (>= 5)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run with small N; targets not applied",
    )
    parser.add_argument(
        "--api-sizes",
        help="endpoint counts to also check through the fake API "
        "(default: every size from 10000 up, or the largest size with --quick; "
        "'none' to skip)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument("--serve", metavar="LIVE_FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sizes:
        args.sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",")})
    else:
        args.sizes = list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.api_sizes == "none":
        args.api_sizes = []
    elif args.api_sizes:
        args.api_sizes = sorted(
            {int(s.replace("_", "")) for s in args.api_sizes.split(",")}
        )
    else:
        targeted = [n for n in args.sizes if n >= TARGET_MIN_N]
        args.api_sizes = targeted if targeted and not args.quick else args.sizes[-1:]
    unknown = set(args.api_sizes) - set(args.sizes)
    if unknown:
        parser.error(f"--api-sizes {sorted(unknown)} not among --sizes")
    if not args.quick and args.runs < 5:
        parser.error("--runs must be at least 5 (medians of fewer runs mislead)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    if not os.path.exists(DRIFTCHECK):
        print(f"bench: no driftcheck next to {sys.executable}", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="driftcheck-bench-"))
    servers: list[ApiServer] = []
    try:
        return _bench(args, work, servers)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    finally:
        for server in servers:
            server.close()
        if args.keep:
            sys.stderr.write(f"bench: data kept in {work}\n")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _bench(args: argparse.Namespace, work: Path, servers: list[ApiServer]) -> int:
    py = sys.executable
    # A fixed clock, so that reports from the file and from the API compare equal.
    env = {
        **os.environ,
        "PPIO_API_KEY": API_KEY,
        "NO_COLOR": "1",
        "SOURCE_DATE_EPOCH": "1767225600",
    }
    for variable in ("PPIO_API_URL", "GITHUB_STEP_SUMMARY"):
        env.pop(variable, None)

    commands: list[Command] = [
        Command("python", [py, "-c", "pass"]),
        Command("version", [DRIFTCHECK, "--version"]),
        Command("help", [DRIFTCHECK, "--help"]),
    ]
    sizes: list[int] = args.sizes
    api_sizes: list[int] = args.api_sizes
    for n in sizes:
        sys.stderr.write(f"bench: writing {n} endpoints\n")
        specs, live, drifted = write_data(work / f"n{n}", n)
        check = [DRIFTCHECK, "check", str(specs), "--format", "json"]
        commands += [
            Command(f"floor_yaml_json/{n}", [py, "-c", YAML_JSON_FLOOR, specs, live]),
            Command(f"floor_yaml/{n}", [py, "-c", YAML_FLOOR, str(specs)]),
            Command(f"floor_no_gc/{n}", [py, "-c", NO_GC_FLOOR, specs, live]),
            Command(f"check_file/{n}", [*check, "--live-file", str(live)], 1, env),
            Command(f"validate/{n}", [DRIFTCHECK, "validate", str(specs)], 0, env),
        ]
        report = check_output([*check, "--live-file", str(live)], env)
        if report["summary"]["drifted"] != drifted:
            raise BenchError(
                f"bench: expected {drifted} drifted endpoints at N={n}, the report "
                f"says {report['summary']}"
            )
        if n in api_sizes:
            server = ApiServer(live)
            servers.append(server)
            api = [*check, "--api-url", server.url, "--page-size", str(API_PAGE_SIZE)]
            if check_output(api, env) != report:
                raise BenchError(f"API and live-file reports differ at N={n}")
            commands.append(Command(f"check_api/{n}", api, 1, env))

    for command in commands:
        command.argv = [str(a) for a in command.argv]
    by_key = {c.key: c for c in commands}
    sys.stderr.write(
        f"bench: {len(commands)} commands x {args.runs} interleaved runs\n"
    )
    run_rounds(commands, args.runs)

    rows = _rows(by_key, sizes, api_sizes, args.quick)
    print()
    print(
        f"driftcheck performance, {datetime.date.today().isoformat()}, "
        f"os.cpu_count() = {os.cpu_count()}, Python {sys.version.split()[0]}, "
        f"median of {args.runs} interleaved runs"
    )
    print()
    print(table(rows))
    failed = [row for row in rows if row.verdict == "FAIL"]
    for row in failed:
        print(f"FAIL: {row.name}: {row.ratio:.2f} > {row.target:g}", file=sys.stderr)
    return 1 if failed else 0


def _rows(
    by_key: dict[str, Command], sizes: list[int], api_sizes: list[int], quick: bool
) -> list[Row]:
    def target(value: float, n: int | None = None) -> float | None:
        """Start-up targets always apply; the others only to real spec set sizes."""
        if n is not None and (quick or n < TARGET_MIN_N):
            return None
        return value

    def timed(name: str, measured: str, floor: str, goal: float | None) -> Row:
        m, f = by_key[measured], by_key[floor]
        return Row(name, ms(f), ms(m), ratio_of(m, f), goal)

    rows = [
        timed(f"start-up: `driftcheck {label}` vs `python -c pass`", key, "python", 4.0)
        for key, label in (("version", "--version"), ("help", "--help"))
    ]
    # (row name, measured, floor, target, sizes): one row per size.
    per_size: list[tuple[str, str, str, float | None, list[int]]] = [
        (
            "check --live-file, N={n:,} vs YAML+JSON load",
            "check_file",
            "floor_yaml_json",
            2.0,
            sizes,
        ),
        (
            "(context) check --live-file, N={n:,} vs YAML+JSON load, collector off",
            "check_file",
            "floor_no_gc",
            None,
            sizes,
        ),
        ("validate, N={n:,} vs YAML load", "validate", "floor_yaml", 1.5, sizes),
        (
            f"check via fake API (page size {API_PAGE_SIZE}), N={{n:,}} vs --live-file",
            "check_api",
            "check_file",
            1.3,
            api_sizes,
        ),
    ]
    for name, measured, floor, goal, counts in per_size:
        rows += [
            timed(
                name.format(n=n),
                f"{measured}/{n}",
                f"{floor}/{n}",
                None if goal is None else target(goal, n),
            )
            for n in counts
        ]
    if len(sizes) >= 2:
        small, large = sizes[-2], sizes[-1]
        # Linear scaling plus 10%: 5.5 for 10,000 -> 50,000.
        rows.append(
            timed(
                f"growth: check --live-file N={large:,} / N={small:,}",
                f"check_file/{large}",
                f"check_file/{small}",
                target(1.1 * large / small, small),
            )
        )
    n = sizes[-1]
    floor = by_key[f"floor_yaml_json/{n}"]
    check = by_key[f"check_file/{n}"]
    rows.append(
        Row(
            f"peak RSS: check --live-file, N={n:,} vs YAML+JSON load",
            mib(floor),
            mib(check),
            statistics.median(
                m / f for m, f in zip(check.rss_kib, floor.rss_kib, strict=True)
            ),
            target(2.0, n),
        )
    )
    return rows


if __name__ == "__main__":
    sys.exit(main())
