"""`just bench`: the bookstore's servers and front ends measured side by side, in one run.

Each server under test is pinned to one core and the load to the other (as
`taskset -c` does: the affinity is set for the child before it is executed, so
that no `taskset` exec is timed as start-up). Every section repeats in rounds,
alternating the order of what it compares from one round to the next, and the
report gives the median of the rounds with their lowest and highest. A load
run during which the hypervisor stole more than 10 % of the machine's CPU
time is run again, once (the less stolen run is kept).

- gRPC Recommend: the load generator of the workspace (rust/bench/loadgen)
  keeps concurrency 1, 16 and 64 calls in flight over a few HTTP/2
  connections, against our server as it ships (built by `just release`, with
  profile-guided optimisation; metrics, request ids, the access log to a
  file), the notes' Python server, the same servicer under grpc.aio
  (aio_server.py) and a no-logic tonic server (rust/bench/empty-server), with
  tonic's and tokio's defaults and again on our runtime and allocator, built
  as ours is, with profile-guided optimisation (the floor).
  The server's CPU time per call comes from /proc/PID/stat over the measured
  window. Ours and the two no-logic servers, which the CPU targets compare,
  run side by side, idle but for the one under load, and are loaded in turn
  at each concurrency. h2load cross-checks one configuration.
- Homepage `GET /` with wrk: the axum marketplace on our server; the notes'
  Flask app under its dev server and under gunicorn, on either server. An app
  and its gRPC backend share the server core.
- Start-up and memory: exec to first answer (the median of several starts a
  round), idle and peak resident set, and the peak under the production
  issue's hostile page sizes.
- Scale and in-process: the cost of a call as the catalogue grows to a
  million books, and one recommend through the wheel, grpcio and pure Python.

BENCH_ROUNDS sets the rounds of every section (by default 3, and 5 for the
homepage, whose ratio to the notes' stack moves most from round to round);
BENCH_SECONDS (measured seconds a point, default 5) and BENCH_WARMUP (default
1) set their length; BENCH_SERVER_CPU and BENCH_LOAD_CPU (0 and 1) the cores.
It writes docs/bench/report.md, docs/bench/results.json and
docs/bench/chart.png, and prints the tables.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PYTHON = HERE.parent
REPO = PYTHON.parent
RELEASE = REPO / "target" / "release"
sys.path[:0] = [str(PYTHON)]

from bench import analysis  # noqa: E402
from bench.analysis import CpuTicks  # noqa: E402


def _binary(variable: str, name: str) -> Path:
    return Path(os.environ.get(variable, RELEASE / name))


RECOMMENDATIONS_BIN = _binary("RECOMMENDATIONS_BIN", "recommendations")
MARKETPLACE_BIN = _binary("MARKETPLACE_BIN", "marketplace")
EMPTY_SERVER_BIN = _binary("EMPTY_SERVER_BIN", "empty-server")
EMPTY_SERVER_TUNED_BIN = _binary("EMPTY_SERVER_TUNED_BIN", "empty-server-tuned")
LOADGEN_BIN = _binary("LOADGEN_BIN", "loadgen")
GUNICORN = Path(sys.executable).parent / "gunicorn"
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
INT32_MAX = 2**31 - 1
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Settings:
    """How long and where: from the environment, with the defaults of a full run."""

    rounds: int = 3
    # The homepage's rounds cost about 40 s each; its ratio moves most between rounds.
    homepage_rounds: int = 5
    seconds: float = 5.0
    warmup: float = 1.0
    server_cpu: int = 0
    load_cpu: int = 1
    concurrencies: tuple[int, ...] = (1, 16, 64)
    # "A few HTTP/2 connections": never more than the calls in flight.
    connections: int = 4
    # The homepage: wrk's connections (one request in flight on each).
    wrk_connections: int = 16
    # The production issue's hostile page sizes: INT32_MAX books a call, 32 at once.
    hostile_concurrency: int = 32
    catalogue_sizes: tuple[int, ...] = (9, 1_000, 100_000, 1_000_000)
    scale_concurrency: int = 16
    # The configuration h2load cross-checks.
    h2load_concurrency: int = 64
    # A server's start-up in a round: the median of this many starts, as one
    # start of a few milliseconds is at the mercy of any stall.
    startup_samples: int = 5

    @classmethod
    def from_env(cls) -> Settings:
        seconds = float(os.environ.get("BENCH_SECONDS", cls.seconds))
        rounds = os.environ.get("BENCH_ROUNDS")
        return cls(
            rounds=int(rounds) if rounds else cls.rounds,
            homepage_rounds=int(rounds) if rounds else cls.homepage_rounds,
            seconds=seconds,
            warmup=float(os.environ.get("BENCH_WARMUP", min(cls.warmup, seconds))),
            server_cpu=int(os.environ.get("BENCH_SERVER_CPU", cls.server_cpu)),
            load_cpu=int(os.environ.get("BENCH_LOAD_CPU", cls.load_cpu)),
        )


# ---------------------------------------------------------------- processes


def _quiet_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a server gets: ours, without RUST_LOG, so its log level is the default."""
    env = {name: value for name, value in os.environ.items() if name != "RUST_LOG"}
    return {**env, **(extra or {})}


def spawn(
    argv: Sequence[str | os.PathLike[str]],
    cpu: int,
    *,
    stdout: Any = subprocess.DEVNULL,
    stderr: Any = subprocess.DEVNULL,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    text: bool = False,
) -> subprocess.Popen[Any]:
    """Starts `argv` pinned to `cpu`: the child inherits this thread's affinity, set for it."""
    mine = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        return subprocess.Popen(
            [str(arg) for arg in argv],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=env,
            cwd=cwd,
            text=text,
        )
    finally:
        os.sched_setaffinity(0, mine)


def run_pinned(argv: Sequence[str | os.PathLike[str]], cpu: int, timeout: float) -> str:
    """Runs `argv` pinned to `cpu` to its end; its standard output, or an error with its stderr."""
    process = spawn(argv, cpu, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    if process.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited with {process.returncode}:\n{err}{out}")
    return out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children(pid: int) -> list[int]:
    """`pid` and every process below it, from each process's parent in /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            parent = int(text[text.rfind(")") + 1 :].split()[1])
            parents.setdefault(parent, []).append(int(stat.parent.name))
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        tree.append(current)
        queue.extend(parents.get(current, []))
    return tree


def cpu_ticks(pids: Sequence[int]) -> CpuTicks:
    """CPU ticks of `pids` added up."""
    samples = [analysis.parse_proc_stat(Path(f"/proc/{pid}/stat").read_text()) for pid in pids]
    return CpuTicks(sum(s.utime for s in samples), sum(s.stime for s in samples))


def machine_ticks() -> tuple[int, int]:
    """The machine's (steal, all) CPU ticks so far."""
    return analysis.machine_ticks(Path("/proc/stat").read_text())


def memory_kib(pids: Sequence[int], field_name: str) -> int:
    """`VmRSS` or `VmHWM` of `pids` added up (pages shared between them count for each)."""
    return sum(
        analysis.proc_status_kib(Path(f"/proc/{pid}/status").read_text(), field_name)
        for pid in pids
    )


def reset_peak(pids: Sequence[int]) -> None:
    """Resets `VmHWM` to the current resident set (writing 5 to clear_refs)."""
    for pid in pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5")


@dataclass
class Started:
    """A process of the benchmark, ready: it answered its first call."""

    name: str
    process: subprocess.Popen[Any]
    address: str
    log: Path
    startup_ms: float

    @property
    def pid(self) -> int:
        return self.process.pid

    def pids(self) -> list[int]:
        return children(self.pid)

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


@contextlib.contextmanager
def started(
    name: str,
    argv: Sequence[str | os.PathLike[str]],
    port: int,
    settings: Settings,
    logs: Path,
    *,
    http: bool = False,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[Started]:
    """Starts a server on the server core and times it from exec to its first answer.

    The probe runs first, on the load core, retrying a call every fraction of
    a millisecond; the server is started once the probe says it is probing.
    """
    address = f"127.0.0.1:{port}"
    target = ["--http", f"http://{address}/"] if http else ["--target", f"http://{address}"]
    probe = spawn(
        [LOADGEN_BIN, "probe", *target, "--timeout", str(START_TIMEOUT)],
        settings.load_cpu,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert probe.stderr is not None
    probe.stderr.readline()  # "probing"
    log = logs / f"{name}.log"
    with log.open("ab") as log_file:
        exec_ns = time.time_ns()
        process = spawn(
            argv,
            settings.server_cpu,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env or _quiet_env(),
            cwd=cwd,
        )
    running = Started(name, process, address, log, startup_ms=math.nan)
    try:
        while probe.poll() is None:
            if process.poll() is not None:
                probe.kill()
                raise RuntimeError(
                    f"{name} exited with {process.returncode}:\n{running.log_tail()}"
                )
            time.sleep(0.01)
        out, err = probe.communicate()
        if probe.returncode != 0:
            raise RuntimeError(f"{name} never answered: {err.strip()}\n{running.log_tail()}")
        running.startup_ms = (json.loads(out)["unix_ns"] - exec_ns) / 1e6
        yield running
    finally:
        if probe.poll() is None:
            probe.kill()
            probe.communicate()
        stop(process)


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---------------------------------------------------------------- what is measured


@dataclass(frozen=True)
class Server:
    """A gRPC server under test: how to start it listening on an address."""

    key: str
    label: str
    argv: Callable[[str], list[str | os.PathLike[str]]]
    env: Callable[[str], dict[str, str]] = field(default=lambda _address: {})
    cwd: Path | None = None


def _ours(*extra: str | os.PathLike[str]) -> Server:
    # As it ships: metrics on, request ids, the access log at the default level.
    return Server(
        "ours",
        "ours (Rust)",
        lambda address: [
            RECOMMENDATIONS_BIN,
            "--listen",
            address,
            "--metrics-listen",
            "127.0.0.1:0",
            *extra,
        ],
    )


SERVERS = {
    "ours": _ours(),
    "empty": Server(
        "empty",
        "no-logic tonic server",
        lambda address: [EMPTY_SERVER_BIN, "--listen", address],
    ),
    # Not a target's yardstick: the floor under our server's cost (see analysis.cpu_floor).
    "empty-tuned": Server(
        "empty-tuned",
        "no-logic tonic server, our runtime, allocator and PGO",
        lambda address: [EMPTY_SERVER_TUNED_BIN, "--listen", address],
    ),
    "notes": Server(
        "notes",
        "notes' Python (grpcio, 10 threads)",
        lambda _address: [sys.executable, "recommendations.py"],
        env=lambda address: {"RECOMMENDATIONS_LISTEN": address},
        cwd=PYTHON / "recommendations",
    ),
    "notes-aio": Server(
        "notes-aio",
        "notes' servicer on grpc.aio",
        lambda _address: [sys.executable, HERE / "aio_server.py"],
        env=lambda address: {"RECOMMENDATIONS_LISTEN": address},
    ),
}


@dataclass(frozen=True)
class FrontEnd:
    """A homepage server: how to start it on a port, against a backend address."""

    key: str
    label: str
    argv: Callable[[int, str], list[str | os.PathLike[str]]]
    env: Callable[[str], dict[str, str]] = field(default=lambda _backend: {})
    cwd: Path | None = None


def _flask_env(backend: str) -> dict[str, str]:
    host, port = backend.rsplit(":", 1)
    return {"RECOMMENDATIONS_HOST": host, "RECOMMENDATIONS_PORT": port}


FRONT_ENDS = {
    "axum": FrontEnd(
        "axum",
        "axum marketplace",
        lambda port, backend: [
            MARKETPLACE_BIN,
            "--listen",
            f"127.0.0.1:{port}",
            "--recommendations-url",
            f"http://{backend}",
        ],
    ),
    "flask": FrontEnd(
        "flask",
        "Flask dev server",
        lambda port, _backend: [
            sys.executable,
            *("-m", "flask", "--app", "marketplace", "run"),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        env=_flask_env,
        cwd=PYTHON / "marketplace",
    ),
    # The container's command (python/marketplace/Dockerfile), with 4 threads a worker.
    "gunicorn": FrontEnd(
        "gunicorn",
        "gunicorn 2x4",
        lambda port, _backend: [
            GUNICORN,
            *("--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4"),
            *("--worker-tmp-dir", "/dev/shm", "--access-logfile", "-", "marketplace:app"),
        ],
        env=_flask_env,
        cwd=PYTHON / "marketplace",
    ),
}

# (front end, backend) of each homepage stack; the notes' stack is Flask dev on the notes' server.
STACKS = [
    ("axum", "ours"),
    ("flask", "ours"),
    ("gunicorn", "ours"),
    ("flask", "notes"),
    ("gunicorn", "notes"),
]


def stack_key(front_end: str, backend: str) -> str:
    return f"{front_end}->{backend}"


@contextlib.contextmanager
def start_server(
    server: Server, settings: Settings, logs: Path, name: str | None = None
) -> Iterator[Started]:
    port = free_port()
    address = f"127.0.0.1:{port}"
    with started(
        name or server.key,
        server.argv(address),
        port,
        settings,
        logs,
        env=_quiet_env(server.env(address)),
        cwd=server.cwd,
    ) as running:
        yield running


def startup_ms(server: Server, settings: Settings, logs: Path) -> float:
    """One start of `server` to its first answer, and its stop."""
    with start_server(server, settings, logs) as running:
        return running.startup_ms


def alternate(items: Sequence[Any], round_number: int) -> list[Any]:
    """The items in order in even rounds, reversed in odd ones."""
    return list(items) if round_number % 2 == 0 else list(reversed(items))


def grpc_load(
    settings: Settings,
    server: Started,
    concurrency: int,
    *,
    max_results: int = 3,
    seconds: float | None = None,
    warmup: float | None = None,
) -> dict[str, Any]:
    """One closed-loop run of the load generator; the figures of its window
    (run again if the hypervisor stole much of the machine during it)."""
    return analysis.steady(
        lambda: _grpc_load_once(settings, server, concurrency, max_results, seconds, warmup),
        machine_ticks,
    )


def _grpc_load_once(
    settings: Settings,
    server: Started,
    concurrency: int,
    max_results: int,
    seconds: float | None,
    warmup: float | None,
) -> dict[str, Any]:
    seconds = settings.seconds if seconds is None else seconds
    warmup = settings.warmup if warmup is None else warmup
    argv = [
        LOADGEN_BIN,
        *("--target", f"http://{server.address}"),
        *("--concurrency", str(concurrency)),
        *("--connections", str(min(settings.connections, concurrency))),
        *("--duration", str(seconds), "--warmup", str(warmup)),
        *("--max-results", str(max_results), "--server-pid", str(server.pid)),
    ]
    report = json.loads(run_pinned(argv, settings.load_cpu, timeout=seconds + warmup + 120))
    server_stat, own_stat = report.pop("server_stat"), report.pop("loadgen_stat")
    start, end = (analysis.parse_proc_stat(server_stat[key]) for key in ("start", "end"))
    own = [analysis.parse_proc_stat(own_stat[key]) for key in ("start", "end")]
    latency = report["latency"]
    return {
        "concurrency": concurrency,
        "connections": report["connections"],
        "max_results": max_results,
        "requests_per_second": report["requests_per_second"],
        "cpu_us_per_call": analysis.cpu_per_call_us(start, end, report["calls"], TICKS_PER_SECOND),
        "kernel_share": analysis.kernel_share(start, end),
        "p50_us": latency["p50_us"],
        "p90_us": latency["p90_us"],
        "p99_us": latency["p99_us"],
        "max_us": latency["max_us"],
        "calls": report["calls"],
        "errors": report["errors"] + sum(report["warmup_errors_by_kind"].values()),
        "errors_by_kind": report["errors_by_kind"],
        "warmup_errors_by_kind": report["warmup_errors_by_kind"],
        "loadgen_busy": analysis.busy_fraction(*own, report["seconds"], TICKS_PER_SECOND),
        "seconds": report["seconds"],
        "server_ticks": [start.total, end.total],
    }


def h2load(settings: Settings, server: Started, concurrency: int, body: Path) -> dict[str, Any]:
    """h2load on the same call; HTTP-level only: a gRPC error would still be a 200."""
    connections = min(settings.connections, concurrency)
    argv = [
        "h2load",
        *("-c", str(connections), "-m", str(math.ceil(concurrency / connections))),
        *("-D", f"{round(settings.seconds * 1000)}ms", "-d", str(body)),
        *("-H", "content-type: application/grpc", "-H", "te: trailers"),
        f"http://{server.address}/Recommendations/Recommend",
    ]
    before = cpu_ticks([server.pid])
    out = run_pinned(argv, settings.load_cpu, timeout=settings.seconds + 120)
    after = cpu_ticks([server.pid])
    result = analysis.parse_h2load(out)
    return {
        "concurrency": concurrency,
        "connections": connections,
        "requests_per_second": result.requests_per_second,
        "cpu_us_per_call": analysis.cpu_per_call_us(before, after, result.done, TICKS_PER_SECOND),
        "mean_us": result.mean_ms * 1e3,
        "calls": result.done,
        "errors": result.errors,
    }


def wrk(settings: Settings, url: str, stack_pids: Callable[[], list[int]]) -> dict[str, Any]:
    """wrk on `url` (after a warm-up run); pages/s and the whole stack's CPU per
    page (run again if the hypervisor stole much of the machine during it)."""
    return analysis.steady(lambda: _wrk_once(settings, url, stack_pids), machine_ticks)


def _wrk_once(settings: Settings, url: str, stack_pids: Callable[[], list[int]]) -> dict[str, Any]:
    base = ["wrk", "-t1", f"-c{settings.wrk_connections}", "--latency"]
    if settings.warmup > 0:
        warmup = max(1, round(settings.warmup))
        run_pinned([*base, f"-d{warmup}s", url], settings.load_cpu, timeout=warmup + 60)
    seconds = max(1, round(settings.seconds))
    pids = stack_pids()
    before = cpu_ticks(pids)
    out = run_pinned([*base, f"-d{seconds}s", url], settings.load_cpu, timeout=seconds + 60)
    after = cpu_ticks(pids)
    result = analysis.parse_wrk(out)
    return {
        "pages_per_second": result.requests_per_second,
        "cpu_us_per_page": analysis.cpu_per_call_us(
            before, after, result.requests, TICKS_PER_SECOND
        ),
        "p50_ms": result.p50_ms,
        "p90_ms": result.p90_ms,
        "p99_ms": result.p99_ms,
        "pages": result.requests,
        "errors": result.errors,
    }


def kib_to_mib(kib: int) -> float:
    return kib / 1024


def hostile(settings: Settings, server: Started) -> dict[str, Any]:
    """Peak RSS over calls asking for INT32_MAX books each (the server pages them)."""
    reset_peak([server.pid])
    run = grpc_load(
        settings,
        server,
        settings.hostile_concurrency,
        max_results=INT32_MAX,
        seconds=max(0.5, settings.seconds / 2),
        warmup=0,
    )
    return {
        "hostile_peak_mib": kib_to_mib(memory_kib([server.pid], "VmHWM")),
        "hostile_calls": run["calls"],
        "hostile_errors": run["errors"],
    }


# ---------------------------------------------------------------- the sections


# The servers the CPU targets compare. They run side by side in a round,
# each idle but for the one under load, so that at each concurrency their
# loads follow one another within seconds: this machine's speed drifts over
# minutes, and ratios of runs minutes apart carried that drift.
PAIRED_SERVERS = ("ours", "empty", "empty-tuned")


def section_grpc(settings: Settings, logs: Path, body: Path, results: dict[str, Any]) -> None:
    for round_number in range(settings.rounds):
        order = alternate(list(SERVERS), round_number)
        paired = [key for key in order if key in PAIRED_SERVERS]
        # The paired servers go where the first of them falls in this round's order.
        groups = [
            paired if key == paired[0] else [key]
            for key in order
            if key not in PAIRED_SERVERS or key == paired[0]
        ]
        for group in groups:
            with contextlib.ExitStack() as running:
                servers = {
                    key: _grpc_server_up(key, settings, logs, running, round_number)
                    for key in group
                }
                for concurrency in settings.concurrencies:
                    for key, (server, _memory) in servers.items():
                        _grpc_run(settings, server, key, concurrency, round_number, results)
                for key, (server, memory) in servers.items():
                    _grpc_server_done(settings, server, memory, key, round_number, body, results)


def _grpc_server_up(
    key: str, settings: Settings, logs: Path, running: contextlib.ExitStack, round_number: int
) -> tuple[Started, dict[str, Any]]:
    """Starts `key` (after timing other starts of it) and notes its idle memory."""
    starts = [startup_ms(SERVERS[key], settings, logs) for _ in range(settings.startup_samples - 1)]
    server = running.enter_context(start_server(SERVERS[key], settings, logs))
    starts.append(server.startup_ms)
    time.sleep(0.2)
    memory = {
        "round": round_number,
        "server": key,
        "startup_ms": statistics.median(starts),
        "startup_samples_ms": starts,
        "idle_rss_mib": kib_to_mib(memory_kib([server.pid], "VmRSS")),
    }
    return server, memory


def _grpc_run(
    settings: Settings,
    server: Started,
    key: str,
    concurrency: int,
    round_number: int,
    results: dict[str, Any],
) -> None:
    row = grpc_load(settings, server, concurrency)
    results["grpc"].append({"round": round_number, "server": key, **row})
    print(_progress("grpc", round_number, key, row), flush=True)


def _grpc_server_done(
    settings: Settings,
    server: Started,
    memory: dict[str, Any],
    key: str,
    round_number: int,
    body: Path,
    results: dict[str, Any],
) -> None:
    """The peak memory of the loads, then h2load's cross-check and the hostile pages."""
    memory["peak_rss_mib"] = kib_to_mib(memory_kib([server.pid], "VmHWM"))
    if key in ("ours", "empty"):
        row = h2load(settings, server, settings.h2load_concurrency, body)
        results["h2load"].append({"round": round_number, "server": key, **row})
        print(_progress("h2load", round_number, key, row), flush=True)
    memory.update(hostile(settings, server))
    results["servers"].append(memory)


def section_homepage(settings: Settings, logs: Path, results: dict[str, Any]) -> None:
    for round_number in range(settings.homepage_rounds):
        for front_key, backend_key in alternate(STACKS, round_number):
            front_end = FRONT_ENDS[front_key]
            key = stack_key(front_key, backend_key)
            with start_server(SERVERS[backend_key], settings, logs, f"{key}-backend") as backend:
                port = free_port()
                with started(
                    key,
                    front_end.argv(port, backend.address),
                    port,
                    settings,
                    logs,
                    http=True,
                    env=_quiet_env(front_end.env(backend.address)),
                    cwd=front_end.cwd,
                ) as app:
                    time.sleep(0.2)
                    idle = kib_to_mib(memory_kib(app.pids(), "VmRSS"))
                    row = wrk(
                        settings, f"http://{app.address}/", lambda: [*app.pids(), backend.pid]
                    )
                    row.update(
                        round=round_number,
                        stack=key,
                        startup_ms=app.startup_ms,
                        idle_rss_mib=idle,
                        peak_rss_mib=kib_to_mib(memory_kib(app.pids(), "VmHWM")),
                    )
                    results["homepage"].append(row)
                    print(_progress("homepage", round_number, key, row), flush=True)


def section_scale(settings: Settings, logs: Path, scratch: Path, results: dict[str, Any]) -> None:
    catalogues = {}
    for books in settings.catalogue_sizes:
        catalogues[books] = scratch / f"catalogue-{books}.json"
        catalogues[books].write_text(analysis.catalogue_json(books))
    largest = max(settings.catalogue_sizes)
    for round_number in range(settings.rounds):
        for books in alternate(settings.catalogue_sizes, round_number):
            server_kind = _ours("--catalog", catalogues[books])
            with start_server(server_kind, settings, logs, f"ours-{books}-books") as server:
                # Parsing the file peaks far above the loaded catalogue: the peaks
                # below are of the calls alone.
                reset_peak([server.pid])
                row = grpc_load(settings, server, settings.scale_concurrency)
                row.update(
                    round=round_number,
                    books=books,
                    startup_ms=server.startup_ms,
                    loaded_rss_mib=kib_to_mib(memory_kib([server.pid], "VmRSS")),
                    peak_rss_mib=kib_to_mib(memory_kib([server.pid], "VmHWM")),
                )
                if books == largest:
                    row.update(hostile(settings, server))
                results["scale"].append(row)
                print(_progress("scale", round_number, f"{books} books", row), flush=True)


def section_inprocess(settings: Settings, logs: Path, results: dict[str, Any]) -> None:
    from bench import bench_recommend

    with start_server(SERVERS["ours"], settings, logs, "ours-inprocess") as server:
        timings = bench_recommend.measure(
            server.address,
            rounds=max(3, 2 * settings.rounds + 1),
            share=min(1.0, settings.seconds / 5),
        )
    results["inprocess"] = {way: [s * 1e6 for s in rounds] for way, rounds in timings.items()}
    for way, rounds in results["inprocess"].items():
        print(f"[inprocess] {way}: {analysis.spread(rounds).format(3)} µs", flush=True)


def _progress(section: str, round_number: int, what: str, row: dict[str, Any]) -> str:
    shown = {
        key: round(value, 2) if isinstance(value, float) else value
        for key, value in row.items()
        if key
        in (
            "concurrency",
            "requests_per_second",
            "cpu_us_per_call",
            "p99_us",
            "pages_per_second",
            "cpu_us_per_page",
            "errors",
            "loadgen_busy",
            "steal",
            "set_aside",
        )
    }
    return f"[{section}] round {round_number + 1}: {what} {shown}"


# ---------------------------------------------------------------- the machine


def _command(argv: Sequence[str]) -> str:
    """What `argv` prints, stdout then stderr (`wrk --version` exits 1 after its version)."""
    with contextlib.suppress(OSError):
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return (done.stdout + done.stderr).strip() or "unknown"
    return "unknown"


def machine() -> dict[str, Any]:
    lscpu = _command(["lscpu"])
    model = next(
        (line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line),
        platform.processor() or "unknown",
    )
    status = _command(["git", "-C", str(REPO), "status", "--porcelain"])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "rustc": _command(["rustc", "--version"]),
        "python": platform.python_version(),
        "commit": _command(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
        + (" (with uncommitted changes)" if status not in ("", "unknown") else ""),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "wrk": _command(["wrk", "--version"]).splitlines()[0],
        "h2load": _command(["h2load", "--version"]).splitlines()[0],
    }


# ---------------------------------------------------------------- main

SECTIONS = ("grpc", "homepage", "scale", "inprocess")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "bench")
    parser.add_argument(
        "--only",
        choices=SECTIONS,
        action="append",
        help="run only this section (repeatable); the report has what was run",
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    sections = args.only or list(SECTIONS)
    for binary in (
        RECOMMENDATIONS_BIN,
        MARKETPLACE_BIN,
        EMPTY_SERVER_BIN,
        EMPTY_SERVER_TUNED_BIN,
        LOADGEN_BIN,
    ):
        if not binary.exists():
            parser.error(f"{binary} is missing: `just bench` builds it")
    for tool in ("wrk", "h2load"):
        if not shutil.which(tool):
            parser.error(f"{tool} is missing: `just bench` installs it")
    if os.cpu_count() is None or max(settings.server_cpu, settings.load_cpu) >= os.cpu_count():
        parser.error("BENCH_SERVER_CPU and BENCH_LOAD_CPU must name cores of this machine")
    # This process (and what it starts unpinned) stays off the server's core.
    os.sched_setaffinity(0, {settings.load_cpu})

    started_at = time.monotonic()
    ticks_at_start = machine_ticks()
    results: dict[str, Any] = {
        "machine": machine(),
        "settings": asdict(settings),
        "sections": sections,
        "grpc": [],
        "h2load": [],
        "servers": [],
        "homepage": [],
        "scale": [],
        "inprocess": {},
    }
    from recommendations_pb2 import BookCategory, RecommendationRequest

    with tempfile.TemporaryDirectory(prefix="bench-") as scratch_name:
        scratch = Path(scratch_name)
        logs = scratch / "logs"
        logs.mkdir()
        body = scratch / "request.bin"
        body.write_bytes(
            analysis.grpc_frame(
                RecommendationRequest(
                    user_id=1, category=BookCategory.MYSTERY, max_results=3
                ).SerializeToString()
            )
        )
        if "grpc" in sections:
            section_grpc(settings, logs, body, results)
        if "homepage" in sections:
            section_homepage(settings, logs, results)
        if "scale" in sections:
            section_scale(settings, logs, scratch, results)
        if "inprocess" in sections:
            section_inprocess(settings, logs, results)
    results["bench_seconds"] = time.monotonic() - started_at
    results["steal_fraction"] = analysis.steal_fraction(ticks_at_start, machine_ticks())

    from bench import chart, report

    targets = analysis.targets(results)
    results["targets"] = [{**asdict(t), "passed": t.passed} for t in targets]
    floors = analysis.cpu_floor(results)
    results["cpu_floor"] = [asdict(floor) for floor in floors]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    chart.draw(results, args.out / "chart.png")
    markdown = report.markdown(results, targets, floors)
    (args.out / "report.md").write_text(markdown)
    print()
    print(markdown)
    print(f"Wrote {args.out}/report.md, results.json and chart.png.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
