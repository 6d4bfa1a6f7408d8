"""The arithmetic of `just bench`, kept apart from the processes it measures.

Everything here is pure: it turns what the kernel, the load generators and the
rounds report into the figures of the report and decides each target's pass or
fail, so the tests can check it without starting anything.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MIB = 1024 * 1024


@dataclass(frozen=True)
class CpuTicks:
    """User and system CPU time of a process (all its threads), in clock ticks."""

    utime: int
    stime: int

    @property
    def total(self) -> int:
        return self.utime + self.stime


def parse_proc_stat(text: str) -> CpuTicks:
    """utime and stime (fields 14 and 15) of a `/proc/PID/stat` line.

    The command name (field 2) is in parentheses and may itself hold spaces or
    parentheses, so fields are counted from the last `)`.
    """
    closing = text.rfind(")")
    if closing < 0:
        raise ValueError(f"not a /proc/PID/stat line: {text[:80]!r}")
    # After the name: field 3 (state) onwards.
    fields = text[closing + 1 :].split()
    if len(fields) < 13:
        raise ValueError(f"a /proc/PID/stat line too short: {text[:80]!r}")
    return CpuTicks(utime=int(fields[11]), stime=int(fields[12]))


def cpu_seconds(start: CpuTicks, end: CpuTicks, ticks_per_second: int) -> float:
    """CPU seconds spent between two samples of the same process."""
    spent = end.total - start.total
    if spent < 0:
        raise ValueError(f"CPU time went backwards: {start} then {end}")
    return spent / ticks_per_second


def cpu_per_call_us(
    start: CpuTicks, end: CpuTicks, calls: int, ticks_per_second: int
) -> float | None:
    """Microseconds of CPU per call over a window; None when no call was made."""
    if calls <= 0:
        return None
    return cpu_seconds(start, end, ticks_per_second) / calls * 1e6


def kernel_share(start: CpuTicks, end: CpuTicks) -> float | None:
    """The part of a process's CPU time over a window spent in the kernel
    (system time): on loopback, mostly its sockets. None when it spent none."""
    spent = end.total - start.total
    if spent <= 0:
        return None
    return (end.stime - start.stime) / spent


def busy_fraction(start: CpuTicks, end: CpuTicks, seconds: float, ticks_per_second: int) -> float:
    """How busy a process kept one core over `seconds` of wall time (1.0 = one whole core)."""
    return cpu_seconds(start, end, ticks_per_second) / seconds


def machine_ticks(proc_stat: str) -> tuple[int, int]:
    """(steal, all) clock ticks of the whole machine, from `/proc/stat`'s `cpu` line.

    Steal is the time the hypervisor ran someone else while this machine's
    CPUs wanted to run: on a shared virtual machine, the noise under every
    figure of a run. `all` adds user, nice, system, idle, iowait, irq, softirq
    and steal (guest time is already counted in user).
    """
    for line in proc_stat.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            if len(fields) < 9:
                raise ValueError(f"a /proc/stat cpu line too short: {line!r}")
            ticks = [int(field) for field in fields[1:9]]
            return ticks[7], sum(ticks)
    raise ValueError("no cpu line in /proc/stat")


def steal_fraction(start: tuple[int, int], end: tuple[int, int]) -> float | None:
    """The share of the machine's CPU time stolen between two `machine_ticks` samples."""
    spent = end[1] - start[1]
    if spent <= 0:
        return None
    return (end[0] - start[0]) / spent


# A measurement during which the hypervisor took more than this share of the
# machine's CPU time is run again: on a shared virtual machine, a stall of
# the host shows as steal, and it moved one round's figures threefold. The
# limit is above the few percent a busy host steals all the time, so that
# the run stays short.
STEAL_LIMIT = 0.10
# At most this many runs again; then the least stolen run is kept.
STEAL_RETRIES = 1


def steady(
    measure: Callable[[], dict[str, Any]],
    machine: Callable[[], tuple[int, int]],
    *,
    limit: float = STEAL_LIMIT,
    retries: int = STEAL_RETRIES,
) -> dict[str, Any]:
    """`measure`'s row, run again while more than `limit` of the machine's CPU
    time was stolen during it, at most `retries` more times.

    `machine` reads the machine's `machine_ticks`. The row kept is the calm
    one, or else the least stolen; it gets `steal` (its share stolen) and
    `set_aside` (the shares stolen during the runs not kept).
    """
    runs: list[tuple[float | None, dict[str, Any]]] = []
    while True:
        start = machine()
        row = measure()
        stolen = steal_fraction(start, machine())
        runs.append((stolen, row))
        if stolen is None or stolen <= limit or len(runs) > retries:
            break
    kept = min(range(len(runs)), key=lambda i: runs[i][0] or 0.0)
    set_aside = [stolen or 0.0 for i, (stolen, _) in enumerate(runs) if i != kept]
    stolen, row = runs[kept]
    return {**row, "steal": stolen, "set_aside": set_aside}


@dataclass(frozen=True)
class Repeats:
    """How many measurements of a run were repeated for steal, and how many
    stayed over the limit."""

    measurements: int
    repeated: int
    still_stolen: int


def repeats(results: dict[str, Any], limit: float = STEAL_LIMIT) -> Repeats:
    """The steal checks of every `steady` row of `results`."""
    rows = [
        row
        for section in ("grpc", "homepage", "scale")
        for row in results.get(section, [])
        if "set_aside" in row
    ]
    return Repeats(
        measurements=len(rows),
        repeated=sum(1 for row in rows if row["set_aside"]),
        still_stolen=sum(1 for row in rows if (row.get("steal") or 0.0) > limit),
    )


@dataclass(frozen=True)
class Spread:
    """The median of the rounds, and their lowest and highest."""

    median: float
    low: float
    high: float

    def format(self, digits: int = 1, scale: float = 1.0) -> str:
        """`median (low-high)` (an en dash), each divided by `scale` (1000 for thousands)."""
        median, low, high = (value / scale for value in (self.median, self.low, self.high))
        if low == high:
            return f"{median:,.{digits}f}"
        return f"{median:,.{digits}f} ({low:,.{digits}f}\N{EN DASH}{high:,.{digits}f})"


def spread(values: Iterable[float | None]) -> Spread | None:
    """The spread of the rounds' values, ignoring rounds without one; None if none has one."""
    present = [value for value in values if value is not None]
    if not present:
        return None
    return Spread(statistics.median(present), min(present), max(present))


def ratios(numerators: Sequence[float | None], denominators: Sequence[float | None]) -> list[float]:
    """Round by round `numerator / denominator`, for the rounds where both were measured.

    A ratio is taken within a round, so that both figures share the machine's
    state at the time; the rounds' ratios are then summarised with `spread`.
    """
    if len(numerators) != len(denominators):
        raise ValueError(f"{len(numerators)} rounds against {len(denominators)}")
    return [
        top / bottom
        for top, bottom in zip(numerators, denominators, strict=True)
        if top is not None and bottom is not None and bottom != 0
    ]


@dataclass(frozen=True)
class Target:
    """A target of the issue, as measured: `value` must be `<=` or `>=` `limit`."""

    name: str
    value: float | None
    limit: float
    direction: str
    unit: str = "x"
    detail: str = ""

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        if self.direction == "<=":
            return self.value <= self.limit
        if self.direction == ">=":
            return self.value >= self.limit
        raise ValueError(f"unknown direction {self.direction!r}")

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "not measured"
        return "pass" if self.passed else "FAIL"

    def by_how_much(self) -> str:
        """How far from the limit: `2.1x over` a ceiling, `3.0x short of` a floor."""
        if self.value is None or self.passed or self.value == 0 or self.limit == 0:
            return ""
        if self.direction == "<=":
            return f"{self.value / self.limit:.2f}x the limit"
        return f"{self.limit / self.value:.2f}x short"


def evaluate(targets: Iterable[Target]) -> tuple[list[Target], bool]:
    """The targets in order, and whether every one of them passed."""
    listed = list(targets)
    return listed, all(target.passed for target in listed)


# wrk prints durations with a unit, as `694.31us`, `1.20ms` or `2.00s`.
_DURATION = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _DURATION[match.group(2)]


@dataclass(frozen=True)
class WrkResult:
    """What `wrk --latency` reports."""

    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def parse_wrk(output: str) -> WrkResult:
    """Parses `wrk --latency`'s report."""
    done = re.search(r"^\s*(\d+) requests in ([\d.]+\w+),", output, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if not done or not rate:
        raise ValueError(f"not a wrk report:\n{output}")
    percentiles = {
        int(share): _seconds(value) * 1e3
        for share, value in re.findall(r"^\s+(50|90|99)%\s+(\S+)", output, re.MULTILINE)
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=int(done.group(1)),
        seconds=_seconds(done.group(2)),
        requests_per_second=float(rate.group(1)),
        p50_ms=percentiles.get(50, 0.0),
        p90_ms=percentiles.get(90, 0.0),
        p99_ms=percentiles.get(99, 0.0),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(count) for count in sockets.groups()) if sockets else 0,
    )


@dataclass(frozen=True)
class H2loadResult:
    """What `h2load` reports: HTTP-level figures (it cannot see a gRPC status)."""

    requests_per_second: float
    done: int
    succeeded: int
    failed: int
    errored: int
    mean_ms: float

    @property
    def errors(self) -> int:
        # h2load's `failed` includes its `errored` (network failures, resets) and non-2xx.
        return self.failed


def parse_h2load(output: str) -> H2loadResult:
    """Parses h2load's report."""
    rate = re.search(r"^finished in [\d.]+\w+, ([\d.]+) req/s", output, re.MULTILINE)
    counts = re.search(
        r"^requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored",
        output,
        re.MULTILINE,
    )
    timing = re.search(r"^time for request:\s+(\S+)\s+(\S+)\s+(\S+)", output, re.MULTILINE)
    if not rate or not counts or not timing:
        raise ValueError(f"not an h2load report:\n{output}")
    done, succeeded, failed, errored = (int(count) for count in counts.groups())
    return H2loadResult(
        requests_per_second=float(rate.group(1)),
        done=done,
        succeeded=succeeded,
        failed=failed,
        errored=errored,
        mean_ms=_seconds(timing.group(3)) * 1e3,
    )


def grpc_frame(message: bytes) -> bytes:
    """One gRPC length-prefixed message: not compressed, 4 bytes of length, the message."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def proc_status_kib(status: str, field: str) -> int:
    """A `VmRSS:`/`VmHWM:` line of `/proc/PID/status`, in KiB."""
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    if not match:
        raise ValueError(f"no {field} in /proc/PID/status")
    return int(match.group(1))


def catalogue_json(books: int) -> str:
    """A catalogue of `books` books spread evenly over the three categories.

    Every category has books, so that every call of the mix succeeds; at 9
    books it is as large as the notes' own.
    """
    categories = ("MYSTERY", "SCIENCE_FICTION", "SELF_HELP")
    entries = ",".join(
        f'{{"id":{n},"category":"{categories[n % 3]}","title":"Book {n}"}}'
        for n in range(1, books + 1)
    )
    return f'{{"books":[{entries}]}}'


def per_round(rows: Sequence[dict[str, Any]], field: str, **match: object) -> list[float | None]:
    """`field` of the row matching `match` in each round of `rows` (None where a round
    has none). The rows of one section give its rounds, so that the figures of one
    section always pair up round by round, however many rounds each section ran."""
    values: list[float | None] = [None] * (1 + max((row["round"] for row in rows), default=-1))
    for row in rows:
        if all(row.get(key) == value for key, value in match.items()):
            values[row["round"]] = row.get(field)
    return values


def _shown(values: Sequence[float | None], unit: str, digits: int = 1) -> str:
    summary = spread(values)
    return "n/a" if summary is None else f"{summary.format(digits)} {unit}".rstrip()


def _ratio_target(
    name: str,
    numerators: Sequence[float | None],
    denominators: Sequence[float | None],
    limit: float,
    direction: str,
    names: tuple[str, str],
    unit: str,
    digits: int = 1,
) -> Target:
    """A target on the per-round ratio of two figures, with both figures as its detail."""
    summary = spread(ratios(numerators, denominators))
    detail = (
        f"{names[0]} {_shown(numerators, unit, digits)}, "
        f"{names[1]} {_shown(denominators, unit, digits)}"
    )
    if summary is not None and summary.low != summary.high:
        detail += f"; rounds' ratios {summary.low:.2f}\N{EN DASH}{summary.high:.2f}"
    return Target(name, summary.median if summary else None, limit, direction, "x", detail)


# The concurrencies the CPU-per-call targets are set at.
CPU_TARGET_CONCURRENCIES = (16, 64)


@dataclass(frozen=True)
class CpuFloor:
    """What the CPU targets are up against at one concurrency.

    The floor is the no-logic server on the runtime and allocator our server
    ships with, built with profile-guided optimisation as ours is: what a
    server on tonic's transport, configured and built as ours is, costs per call
    on the machine with nothing of its own to do. Its ratio to the default
    no-logic server is about the lowest the targets' ratio can reach on that
    transport; ours serves on hyper directly, without tonic's per-call layers.
    """

    concurrency: int
    # Per-round ratios, summarised: the floor / the default no-logic server.
    floor_to_yardstick: Spread | None
    # Ours / the floor: what our middleware and logic add to the transport.
    ours_to_floor: Spread | None


def cpu_floor(results: dict[str, Any]) -> list[CpuFloor]:
    """The floor under the CPU targets, at the concurrencies both targets use."""
    grpc = results["grpc"]

    def cpu(server: str, concurrency: int) -> list[float | None]:
        return per_round(grpc, "cpu_us_per_call", server=server, concurrency=concurrency)

    return [
        CpuFloor(
            concurrency,
            spread(ratios(cpu("empty-tuned", concurrency), cpu("empty", concurrency))),
            spread(ratios(cpu("ours", concurrency), cpu("empty-tuned", concurrency))),
        )
        for concurrency in CPU_TARGET_CONCURRENCIES
    ]


def targets(results: dict[str, Any]) -> list[Target]:
    """The issue's targets, as the run measured them (ratios taken within each round)."""
    grpc, servers = results["grpc"], results["servers"]
    homepage, scale = results["homepage"], results["scale"]
    found: list[Target] = []

    def grpc_figure(field: str, server: str, concurrency: int) -> list[float | None]:
        return per_round(grpc, field, server=server, concurrency=concurrency)

    for concurrency in CPU_TARGET_CONCURRENCIES:
        found.append(
            _ratio_target(
                f"server CPU per call, c={concurrency}: ours / no-logic tonic",
                grpc_figure("cpu_us_per_call", "ours", concurrency),
                grpc_figure("cpu_us_per_call", "empty", concurrency),
                0.6,
                "<=",
                ("ours", "no-logic"),
                "µs",
                2,
            )
        )
    found.append(
        _ratio_target(
            "p99 latency, c=64: ours / no-logic tonic",
            grpc_figure("p99_us", "ours", 64),
            grpc_figure("p99_us", "empty", 64),
            1.0,
            "<=",
            ("ours", "no-logic"),
            "µs",
        )
    )
    runs = [*grpc, *results["h2load"], *homepage]
    errors = sum(row["errors"] for row in runs)
    errors += sum(row.get("hostile_errors", 0) for row in [*servers, *scale])
    # A window in which nothing was answered is a failed run too, not a missing figure.
    stalled = sum(1 for row in runs if not row.get("calls", row.get("pages", 1)))
    found.append(
        Target(
            "errors in every run",
            errors + stalled if runs else None,
            0,
            "<=",
            "",
            f"{len(runs)} load runs; {errors} failed calls, {stalled} runs with no answer",
        )
    )

    def pages(stack: str) -> list[float | None]:
        return per_round(homepage, "pages_per_second", stack=stack)

    found.append(
        _ratio_target(
            "homepage pages/s: axum on ours / the notes' stack (Flask dev on the notes' server)",
            pages("axum->ours"),
            pages("flask->notes"),
            30,
            ">=",
            ("axum", "notes' stack"),
            "pages/s",
            0,
        )
    )
    found.append(
        _ratio_target(
            "homepage pages/s: axum on ours / gunicorn on ours",
            pages("axum->ours"),
            pages("gunicorn->ours"),
            10,
            ">=",
            ("axum", "gunicorn"),
            "pages/s",
            0,
        )
    )

    def ours(field: str) -> list[float | None]:
        return per_round(servers, field, server="ours")

    startup, idle = spread(ours("startup_ms")), spread(ours("idle_rss_mib"))
    found.append(
        Target(
            "ours: start to first answer",
            startup.median if startup else None,
            10,
            "<=",
            "ms",
            _shown(ours("startup_ms"), "ms"),
        )
    )
    found.append(
        Target(
            "ours: idle RSS",
            idle.median if idle else None,
            8,
            "<=",
            "MiB",
            _shown(ours("idle_rss_mib"), "MiB"),
        )
    )
    peak = spread(ours("peak_rss_mib"))
    found.append(
        Target(
            "ours: peak RSS under load (c up to 64), at most 2x idle",
            peak.median if peak and idle else None,
            2 * idle.median if idle else 0,
            "<=",
            "MiB",
            f"peak {_shown(ours('peak_rss_mib'), 'MiB')}, "
            f"idle {_shown(ours('idle_rss_mib'), 'MiB')}",
        )
    )
    sizes = sorted({row["books"] for row in scale})
    if sizes:
        smallest, largest = sizes[0], sizes[-1]

        def at(books: int, field: str) -> list[float | None]:
            return per_round(scale, field, books=books)

        hostile = spread(at(largest, "hostile_peak_mib"))
        loaded_small, loaded_large = (
            spread(at(smallest, "loaded_rss_mib")),
            spread(at(largest, "loaded_rss_mib")),
        )
        # Without the idle figure (the gRPC section), there is no limit to compare with.
        limit = 0.0
        if idle and loaded_small and loaded_large:
            limit = 2 * idle.median + (loaded_large.median - loaded_small.median)
        found.append(
            Target(
                f"ours: peak RSS under hostile pages on {largest:,} books,"
                " at most 2x idle plus the catalogue",
                hostile.median if hostile and limit else None,
                limit,
                "<=",
                "MiB",
                f"loaded {_shown(at(largest, 'loaded_rss_mib'), 'MiB')}, "
                f"with {smallest} books {_shown(at(smallest, 'loaded_rss_mib'), 'MiB')}",
            )
        )
        found.append(
            _ratio_target(
                f"CPU per call: {largest:,} books / {smallest} books",
                at(largest, "cpu_us_per_call"),
                at(smallest, "cpu_us_per_call"),
                1.5,
                "<=",
                (f"{largest:,}", f"{smallest}"),
                "µs",
                2,
            )
        )
    inprocess = results["inprocess"]
    if inprocess:
        found.append(
            _ratio_target(
                "one recommend: grpcio to our server / the wheel in-process",
                inprocess["grpcio to Rust server"],
                inprocess["wheel"],
                100,
                ">=",
                ("grpcio", "wheel"),
                "µs",
                3,
            )
        )
    return found
