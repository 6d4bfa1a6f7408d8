"""docs/bench/report.md from the results of a run (see run.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.analysis import (
    STEAL_LIMIT,
    STEAL_RETRIES,
    CpuFloor,
    Repeats,
    Spread,
    Target,
    per_round,
    repeats,
    spread,
)

SERVER_LABELS = {
    "ours": "ours (Rust, as shipped)",
    "notes": "notes' Python (grpcio, ThreadPoolExecutor(10))",
    "notes-aio": "notes' servicer on grpc.aio",
    "empty": "no-logic tonic server",
    "empty-tuned": "no-logic tonic server, our runtime, allocator and PGO",
}
FRONT_END_LABELS = {"axum": "axum", "flask": "Flask dev server", "gunicorn": "gunicorn 2x4"}
# A cell with nothing measured.
NONE = "\N{EN DASH}"
BACKEND_LABELS = {"ours": "ours", "notes": "notes' Python"}


def stack_label(stack: str) -> str:
    front_end, backend = stack.split("->")
    return f"{FRONT_END_LABELS[front_end]} → {BACKEND_LABELS[backend]}"


def _cell(values: Sequence[float | None], digits: int = 1, scale: float = 1.0) -> str:
    summary: Spread | None = spread(values)
    return NONE if summary is None else summary.format(digits, scale)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> str:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _limit(target: Target) -> str:
    unit = f" {target.unit}" if target.unit not in ("", "x") else target.unit
    return f"{target.direction} {target.limit:,.4g}{unit}"


def _measured(target: Target) -> str:
    if target.value is None:
        return NONE
    unit = f" {target.unit}" if target.unit not in ("", "x") else target.unit
    return f"{target.value:,.3g}{unit}" if target.unit else f"{target.value:g}"


def targets_table(targets: Sequence[Target]) -> str:
    rows = [
        [
            target.name,
            _measured(target),
            _limit(target),
            target.verdict + (f" ({target.by_how_much()})" if target.by_how_much() else ""),
            target.detail,
        ]
        for target in targets
    ]
    return _table(["target", "measured", "limit", "verdict", "the numbers (medians)"], rows, 5)


def _steal(fraction: float | None) -> str:
    if fraction is None:
        return NONE
    return (
        f"{fraction * 100:.1f} % of the machine's CPU time during the run (steal in "
        "`/proc/stat`: the hypervisor ran something else while this machine wanted "
        "the CPU); the more, the noisier the figures"
    )


def _startup_samples(settings: dict[str, Any]) -> str:
    samples = settings.get("startup_samples", 1)
    if samples <= 1:
        return ""
    return f"; a server's figure in a round is the median of {samples} starts"


def repeats_text(counted: Repeats) -> str:
    """How many load runs were run again for steal, for the machine table."""
    if counted.measurements == 0:
        # Runs before the check recorded no steal per measurement.
        return NONE
    text = (
        f"{counted.repeated} of {counted.measurements} (a load run is run again, "
        f"{'once' if STEAL_RETRIES == 1 else f'up to {STEAL_RETRIES} times'}, when over "
        f"{STEAL_LIMIT * 100:g} % of the machine's CPU time was stolen during it)"
    )
    if counted.still_stolen:
        text += f"; {counted.still_stolen} still over it after the repeats"
    return text


# How the binaries measured are built (the Justfile's `bench` recipe).
BUILDS = (
    "our server and marketplace as they ship, and the no-logic server on our runtime "
    "and allocator: `just release`, the release profile optimised with a profile of "
    "their hot paths (PGO, `tools/pgo/build.sh`; the floor with one of its own); the default "
    "no-logic server and the load generator: the release profile"
)


def floor_section(floors: Sequence[CpuFloor]) -> str:
    """What bounds the CPU targets: the no-logic server on our runtime and allocator."""
    rows = [
        [
            str(floor.concurrency),
            NONE if floor.floor_to_yardstick is None else floor.floor_to_yardstick.format(2),
            NONE if floor.ours_to_floor is None else floor.ours_to_floor.format(2),
        ]
        for floor in floors
        if floor.floor_to_yardstick is not None or floor.ours_to_floor is not None
    ]
    if not rows:
        return ""
    return "\n".join(
        [
            "### What bounds the CPU targets\n",
            "The no-logic server again, on the runtime and allocator our server ships with "
            "and built as ours is, with a profile of its own hot paths (`empty-server-tuned`, "
            "trained beside ours by `tools/pgo/build.sh`): what a server on tonic's transport, "
            "configured and built as ours is, costs here with nothing of its own to do. Ours "
            "serves on hyper directly, without the layers tonic's server adds to every call, "
            "so ours over it is what our middleware and logic add, less those layers.\n",
            _table(["c", "floor / no-logic tonic", "ours / floor"], rows),
            "",
        ]
    )


def rounds_text(settings: dict[str, Any]) -> str:
    """`3 rounds`, or `3 rounds (5 for the homepage)`: runs before the homepage had
    rounds of its own recorded only one count."""
    rounds = settings["rounds"]
    homepage = settings.get("homepage_rounds", rounds)
    text = f"{rounds} round{'s' if rounds != 1 else ''}"
    return text if homepage == rounds else f"{text} ({homepage} for the homepage)"


def markdown(
    results: dict[str, Any], targets: Sequence[Target], floors: Sequence[CpuFloor] = ()
) -> str:
    machine, settings = results["machine"], results["settings"]
    rounds = rounds_text(settings)
    out: list[str] = []
    add = out.append
    add("# `just bench`: the bookstore side by side\n")
    add(
        "Written by `just bench` (`python/bench/run.py`). Every figure is the median of "
        f"{rounds} with the lowest and highest round in "
        "brackets; ratios are taken within each round, then summarised. Absolute numbers "
        "depend on the machine: the ratios, measured in the same run, are the point.\n"
    )
    add("## The machine\n")
    add(
        _table(
            ["", ""],
            [
                ["CPU", f"{machine['cpu']}, {machine['cores']} cores"],
                ["kernel", machine["kernel"]],
                ["rustc", machine["rustc"]],
                ["Python", machine["python"]],
                ["load tools", f"{machine['wrk']}; {machine['h2load']}"],
                ["commit", machine["commit"]],
                ["date", machine["date"]],
                [
                    "settings",
                    f"{rounds}, {settings['seconds']:g} s "
                    "measured after "
                    f"{settings['warmup']:g} s of warm-up a point; servers pinned to core "
                    f"{settings['server_cpu']}, load to core {settings['load_cpu']}",
                ],
                ["builds", BUILDS],
                ["run time", f"{results.get('bench_seconds', 0) / 60:.1f} min (builds aside)"],
                ["CPU steal", _steal(results.get("steal_fraction"))],
                ["load runs repeated for steal", repeats_text(repeats(results))],
            ],
            2,
        )
    )
    add("")
    passed = sum(target.passed for target in targets)
    add(f"## Targets: {passed} of {len(targets)} met\n")
    add(targets_table(targets))
    add("")
    if section := floor_section(floors):
        add(section)

    grpc = results["grpc"]
    if grpc:
        add("## gRPC Recommend, closed loop\n")
        add(
            "The load generator (`rust/bench/loadgen`, tonic, one thread) keeps *c* calls in "
            "flight over a few HTTP/2 connections, cycling over 1000 users and the three "
            "categories, `max_results` 3; every call must end OK with books. **Server CPU per "
            "call** is the user and system time of the whole server process, all threads, "
            "over the measured window (`/proc/PID/stat`), divided by the calls answered in it: "
            "the figure that counts when the load generator, not the server, is the bottleneck. "
            "*Of it in the kernel* is the system time's share of that CPU: on loopback, "
            "mostly the sockets, whose cost the server's own code does not touch. "
            "*Load core* is how busy the load generator kept its own core.\n"
        )
        rows = []
        for server in SERVER_LABELS:
            for concurrency in settings["concurrencies"]:

                def figure(name: str, server: str = server, c: int = concurrency) -> list:
                    return per_round(grpc, name, server=server, concurrency=c)

                if not any(value is not None for value in figure("calls")):
                    continue
                busy = [None if v is None else v * 100 for v in figure("loadgen_busy")]
                kernel = [None if v is None else v * 100 for v in figure("kernel_share")]
                errors = sum(value or 0 for value in figure("errors"))
                rows.append(
                    [
                        SERVER_LABELS[server],
                        str(concurrency),
                        _cell(figure("requests_per_second"), 0),
                        _cell(figure("cpu_us_per_call"), 2),
                        _cell(kernel, 0) + " %",
                        _cell(figure("p50_us"), 0),
                        _cell(figure("p90_us"), 0),
                        _cell(figure("p99_us"), 0),
                        _cell(busy, 0) + " %",
                        str(errors),
                    ]
                )
        add(
            _table(
                [
                    "server",
                    "c",
                    "requests/s",
                    "server CPU µs/call",
                    "of it in the kernel",
                    "p50 µs",
                    "p90 µs",
                    "p99 µs",
                    "load core",
                    "errors",
                ],
                rows,
            )
        )
        add("")
    h2 = results["h2load"]
    if h2:
        c = settings["h2load_concurrency"]
        add(f"### Cross-check with h2load, c={c}\n")
        add(
            "The same call, a fixed request, from `h2load` (nghttp2): it sees HTTP only, so "
            "a gRPC error inside a 200 would pass it; the load generator's figures beside it.\n"
        )
        rows = []
        for server in ("ours", "empty"):

            def h2fig(name: str, server: str = server) -> list:
                return per_round(h2, name, server=server)

            def ours(name: str, server: str = server) -> list:
                return per_round(grpc, name, server=server, concurrency=c)

            if not any(value is not None for value in h2fig("calls")):
                continue
            rows.append(
                [
                    SERVER_LABELS[server],
                    _cell(h2fig("requests_per_second"), 0),
                    _cell(h2fig("cpu_us_per_call"), 2),
                    _cell(h2fig("mean_us"), 0),
                    str(sum(value or 0 for value in h2fig("errors"))),
                    _cell(ours("requests_per_second"), 0),
                    _cell(ours("cpu_us_per_call"), 2),
                ]
            )
        add(
            _table(
                [
                    "server",
                    "h2load requests/s",
                    "server CPU µs/call",
                    "mean µs",
                    "HTTP errors",
                    "loadgen requests/s",
                    "loadgen: server CPU µs/call",
                ],
                rows,
            )
        )
        add("")

    homepage = results["homepage"]
    if homepage:
        add("## Homepage `GET /`\n")
        add(
            f"`wrk` with {settings['wrk_connections']} connections on the load core; the app "
            "and its gRPC backend together on the server core. *Stack CPU per page* adds "
            "up the app's processes and the backend's.\n"
        )
        rows = []
        for stack in dict.fromkeys(row["stack"] for row in homepage):

            def page(name: str, stack: str = stack) -> list:
                return per_round(homepage, name, stack=stack)

            rows.append(
                [
                    stack_label(stack),
                    _cell(page("pages_per_second"), 0),
                    _cell(page("cpu_us_per_page"), 0),
                    _cell(page("p50_ms"), 2),
                    _cell(page("p99_ms"), 2),
                    str(sum(value or 0 for value in page("errors"))),
                ]
            )
        add(
            _table(
                ["stack", "pages/s", "stack CPU µs/page", "p50 ms", "p99 ms", "errors"],
                rows,
            )
        )
        add("")

    servers = results["servers"]
    if servers or homepage:
        add("## Start-up and memory\n")
        add(
            "Start-up is from exec to the first successful answer (a Recommend call, or a "
            "`GET /` answered 200 for a front end, its backend already up), seen by a probe "
            "retrying every 0.2 ms"
            f"{_startup_samples(settings)}. Idle RSS is read just after; peak RSS "
            "(`VmHWM`) after the load runs above. Hostile pages: calls asking for 2^31-1 "
            "books each, "
            f"{settings['hostile_concurrency']} at once; only our server can load a catalogue, "
            "so the others answer from their own few books. A front end's memory adds up "
            "its processes (gunicorn: the master and both workers).\n"
        )
        rows = []
        for server in SERVER_LABELS:

            def mem(name: str, server: str = server) -> list:
                return per_round(servers, name, server=server)

            if not any(value is not None for value in mem("startup_ms")):
                continue
            rows.append(
                [
                    SERVER_LABELS[server],
                    _cell(mem("startup_ms"), 1),
                    _cell(mem("idle_rss_mib"), 1),
                    _cell(mem("peak_rss_mib"), 1),
                    _cell(mem("hostile_peak_mib"), 1),
                ]
            )
        for stack in dict.fromkeys(row["stack"] for row in homepage):

            def front(name: str, stack: str = stack) -> list:
                return per_round(homepage, name, stack=stack)

            rows.append(
                [
                    stack_label(stack),
                    _cell(front("startup_ms"), 1),
                    _cell(front("idle_rss_mib"), 1),
                    _cell(front("peak_rss_mib"), 1),
                    NONE,
                ]
            )
        add(
            _table(
                [
                    "server / front end",
                    "start to first answer ms",
                    "idle RSS MiB",
                    "peak RSS under load MiB",
                    "peak under hostile pages MiB",
                ],
                rows,
            )
        )
        add("")

    scale = results["scale"]
    if scale:
        add("## Cost of a call as the catalogue grows\n")
        add(
            f"Our server with `--catalog` files of growing size (the books spread over the "
            f"three categories), c={settings['scale_concurrency']}, `max_results` 3. RSS is "
            "read once the catalogue is loaded; at the largest size the hostile pages run "
            "too.\n"
        )
        sizes = sorted({row["books"] for row in scale})
        smallest = sizes[0]
        rows = []
        for books in sizes:

            def at(name: str, books: int = books) -> list:
                return per_round(scale, name, books=books)

            ratio = [
                None if a is None or b is None else a / b
                for a, b in zip(
                    at("cpu_us_per_call"),
                    per_round(scale, "cpu_us_per_call", books=smallest),
                    strict=True,
                )
            ]
            rows.append(
                [
                    f"{books:,}",
                    _cell(at("cpu_us_per_call"), 2),
                    _cell(ratio, 2) + "x",
                    _cell(at("requests_per_second"), 0),
                    _cell(at("p99_us"), 0),
                    _cell(at("startup_ms"), 1),
                    _cell(at("loaded_rss_mib"), 1),
                    _cell(at("hostile_peak_mib"), 1),
                ]
            )
        add(
            _table(
                [
                    "books",
                    "server CPU µs/call",
                    f"vs {smallest} books",
                    "requests/s",
                    "p99 µs",
                    "start to first answer ms",
                    "RSS loaded MiB",
                    "peak under hostile pages MiB",
                ],
                rows,
            )
        )
        add("")

    inprocess = results["inprocess"]
    if inprocess:
        add("## One recommend from Python\n")
        add(
            "`python/bench/bench_recommend.py`: `recommend(user, category, 3)` through the "
            "`bookstore-recommender` wheel (the Rust core in-process), through grpcio to our "
            "server (a blocking call on one channel), and the notes' `random.sample` over "
            "their nine books. Per call, over rounds of many calls.\n"
        )
        wheel = inprocess["wheel"]
        rows = [
            [way, _cell(values, 3), _cell([v / w for v, w in zip(values, wheel, strict=True)], 1)]
            for way, values in inprocess.items()
        ]
        add(_table(["way", "µs per call", "vs the wheel"], rows))
        add("")
    return "\n".join(out)
