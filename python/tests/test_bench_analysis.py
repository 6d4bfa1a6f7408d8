"""The arithmetic `just bench` decides its targets with (python/bench/analysis.py),
and how its report names the rounds.

Only the pure parts: /proc samples, medians and spreads, the load tools'
reports, the targets' verdicts. Nothing here starts a process or times anything.
"""

import json
import math
import sys
from pathlib import Path

import pytest

# python/, so that the bench package imports as `just bench` runs it.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import analysis, report
from bench.analysis import CpuTicks, Spread, Target


def stat_line(name: str, utime: int, stime: int) -> str:
    """A /proc/PID/stat line as the kernel writes it (fields 1 to 20 or so)."""
    return f"4242 ({name}) S 1 4242 4242 0 -1 4194560 1234 0 0 0 {utime} {stime} 0 0 20 0 5 0\n"


def test_cpu_ticks_are_read_after_the_command_name_even_when_it_has_spaces_and_parens() -> None:
    assert analysis.parse_proc_stat(stat_line("recommendations", 150, 30)) == CpuTicks(150, 30)
    assert analysis.parse_proc_stat(stat_line("a (b) c)", 7, 3)) == CpuTicks(7, 3)


def test_a_line_that_is_not_a_stat_line_is_refused() -> None:
    with pytest.raises(ValueError, match="not a /proc"):
        analysis.parse_proc_stat("no parenthesis here")
    with pytest.raises(ValueError, match="too short"):
        analysis.parse_proc_stat("1 (x) S 1 2")


def test_cpu_per_call_is_user_plus_system_time_over_the_calls() -> None:
    start, end = CpuTicks(1000, 200), CpuTicks(1400, 300)
    # 500 ticks at 100 a second are 5 s of CPU; over 500,000 calls, 10 µs each.
    assert analysis.cpu_per_call_us(start, end, 500_000, 100) == pytest.approx(10.0)
    assert analysis.cpu_seconds(start, end, 100) == pytest.approx(5.0)
    assert analysis.busy_fraction(start, end, 10.0, 100) == pytest.approx(0.5)
    # 100 of the 500 ticks were system time.
    assert analysis.kernel_share(start, end) == pytest.approx(0.2)
    assert analysis.kernel_share(start, start) is None


def test_no_calls_means_no_cost_per_call_rather_than_a_division_by_zero() -> None:
    assert analysis.cpu_per_call_us(CpuTicks(1, 1), CpuTicks(2, 2), 0, 100) is None


def test_cpu_time_going_backwards_is_an_error() -> None:
    with pytest.raises(ValueError, match="backwards"):
        analysis.cpu_seconds(CpuTicks(10, 10), CpuTicks(5, 10), 100)


def test_a_spread_is_the_median_with_the_lowest_and_highest_round() -> None:
    assert analysis.spread([3.0, 1.0, 2.0, None]) == Spread(2.0, 1.0, 3.0)
    assert analysis.spread([4.0, 1.0]) == Spread(2.5, 1.0, 4.0)
    assert analysis.spread([None, None]) is None
    assert Spread(2.0, 1.0, 3.0).format(1) == "2.0 (1.0\N{EN DASH}3.0)"
    assert Spread(93_100.0, 92_000.0, 94_200.0).format(0) == "93,100 (92,000\N{EN DASH}94,200)"
    assert Spread(5.0, 5.0, 5.0).format(2) == "5.00"


def test_ratios_pair_the_rounds_and_skip_a_round_missing_either_figure() -> None:
    assert analysis.ratios([10.0, 20.0, None, 9.0], [5.0, 10.0, 4.0, None]) == [2.0, 2.0]
    with pytest.raises(ValueError, match="rounds"):
        analysis.ratios([1.0], [1.0, 2.0])


def test_per_round_places_each_rows_figure_at_its_round() -> None:
    rows = [
        {"round": 1, "server": "ours", "concurrency": 64, "p99_us": 9.0},
        {"round": 0, "server": "ours", "concurrency": 64, "p99_us": 8.0},
        {"round": 0, "server": "ours", "concurrency": 16, "p99_us": 1.0},
        {"round": 2, "server": "empty", "concurrency": 64, "p99_us": 7.0},
    ]
    # The section ran three rounds: ours has no row in the last.
    got = analysis.per_round(rows, "p99_us", server="ours", concurrency=64)
    assert got == [8.0, 9.0, None]
    assert analysis.per_round([], "p99_us", server="ours") == []


def test_a_ceiling_passes_at_the_limit_and_says_by_how_much_it_fails() -> None:
    assert Target("cpu", 0.6, 0.6, "<=").passed
    over = Target("cpu", 1.2, 0.6, "<=")
    assert (over.passed, over.verdict, over.by_how_much()) == (False, "FAIL", "2.00x the limit")


def test_a_floor_passes_at_the_limit_and_says_how_far_short_it_falls() -> None:
    assert Target("pages", 30.0, 30, ">=").verdict == "pass"
    short = Target("pages", 10.0, 30, ">=")
    assert (short.passed, short.by_how_much()) == (False, "3.00x short")


def test_a_target_not_measured_fails_and_says_so() -> None:
    missing = Target("startup", None, 10, "<=", "ms")
    assert (missing.passed, missing.verdict) == (False, "not measured")
    assert analysis.evaluate([Target("a", 1, 2, "<="), missing]) == (
        [Target("a", 1, 2, "<="), missing],
        False,
    )
    with pytest.raises(ValueError, match="direction"):
        _ = Target("x", 1, 1, "==").passed


WRK = """\
Running 5s test @ http://127.0.0.1:40001/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   694.31us  120.00us   3.00ms   90.00%
    Req/Sec    23.05k     1.00k   25.00k    70.00%
  Latency Distribution
     50%  680.00us
     75%  720.00us
     90%  800.00us
     99%    1.20ms
  115321 requests in 5.00s, 300.00MB read
  Non-2xx or 3xx responses: 12
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  23064.20
Transfer/sec:     60.00MB
"""


def test_wrk_reports_rates_percentiles_in_ms_and_every_kind_of_error() -> None:
    result = analysis.parse_wrk(WRK)
    assert result.requests == 115_321
    assert result.seconds == pytest.approx(5.0)
    assert result.requests_per_second == pytest.approx(23_064.2)
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == pytest.approx((0.68, 0.8, 1.2))
    assert (result.non_2xx, result.socket_errors, result.errors) == (12, 3, 15)


def test_a_clean_wrk_run_has_no_errors() -> None:
    clean = WRK.replace("  Non-2xx or 3xx responses: 12\n", "").replace("read 2", "read 0")
    assert analysis.parse_wrk(clean.replace("timeout 1", "timeout 0")).errors == 0


H2LOAD = """\
starting benchmark...
finished in 5.00s, 95012.40 req/s, 9.87MB/s
requests: 475062 total, 475062 started, 475062 done, 475060 succeeded, 2 failed, 1 errored, \
0 timeout
status codes: 475060 2xx, 0 3xx, 0 4xx, 2 5xx
time for request:       63us      4.91ms       667us       121us    91.20%
"""


def test_h2load_reports_its_rate_mean_and_http_failures() -> None:
    result = analysis.parse_h2load(H2LOAD)
    assert result.requests_per_second == pytest.approx(95_012.4)
    assert result.done == 475_062
    assert result.mean_ms == pytest.approx(0.667)
    assert result.errors == 2  # failed: the non-2xx and the errored alike


def test_a_report_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="wrk"):
        analysis.parse_wrk("connection refused")
    with pytest.raises(ValueError, match="h2load"):
        analysis.parse_h2load("")


def test_a_grpc_frame_is_the_message_after_a_flag_and_its_big_endian_length() -> None:
    assert analysis.grpc_frame(b"\x08\x01") == b"\x00\x00\x00\x00\x02\x08\x01"


def test_memory_comes_from_proc_status_in_kib() -> None:
    status = "Name:\tx\nVmHWM:\t   12345 kB\nVmRSS:\t    6000 kB\n"
    assert analysis.proc_status_kib(status, "VmHWM") == 12_345
    with pytest.raises(ValueError, match="VmSwap"):
        analysis.proc_status_kib(status, "VmSwap")


def test_steal_is_the_stolen_share_of_all_the_machines_cpu_time() -> None:
    stat = "cpu  100 5 40 800 10 0 5 40 7 0\ncpu0 50 2 20 400 5 0 2 20 3 0\nintr 12345\n"
    # user nice system idle iowait irq softirq steal: guest (7) is already in user.
    assert analysis.machine_ticks(stat) == (40, 1000)
    later = (40 + 30, 1000 + 600)
    assert analysis.steal_fraction((40, 1000), later) == pytest.approx(0.05)
    assert analysis.steal_fraction((40, 1000), (40, 1000)) is None
    with pytest.raises(ValueError, match="no cpu line"):
        analysis.machine_ticks("intr 1\n")
    with pytest.raises(ValueError, match="too short"):
        analysis.machine_ticks("cpu  1 2 3\n")


def test_a_bench_catalogue_spreads_its_books_over_the_three_categories() -> None:
    books = json.loads(analysis.catalogue_json(9))["books"]
    assert [book["id"] for book in books] == list(range(1, 10))
    assert {book["category"] for book in books} == {"MYSTERY", "SCIENCE_FICTION", "SELF_HELP"}


def results(**overrides: object) -> dict:
    """The results of a two-round run in which every target is met, with `overrides`."""
    grpc = []
    for round_number in range(2):
        for server, cpu, p99 in (
            ("ours", 5.0, 90.0),
            ("empty", 10.0, 100.0),
            ("empty-tuned", 4.0, 80.0),
        ):
            for concurrency in (16, 64):
                grpc.append(
                    {
                        "round": round_number,
                        "server": server,
                        "concurrency": concurrency,
                        "cpu_us_per_call": cpu,
                        "p99_us": p99,
                        "errors": 0,
                    }
                )
    homepage = [
        {"round": r, "stack": stack, "pages_per_second": pages, "errors": 0}
        for r in range(2)
        for stack, pages in (
            ("axum->ours", 30_000.0),
            ("flask->notes", 900.0),
            ("gunicorn->ours", 2_500.0),
        )
    ]
    servers = [
        {
            "round": r,
            "server": "ours",
            "startup_ms": 6.0,
            "idle_rss_mib": 6.0,
            "peak_rss_mib": 9.0,
            "hostile_errors": 0,
        }
        for r in range(2)
    ]
    scale = [
        {
            "round": r,
            "books": books,
            "cpu_us_per_call": cost,
            "loaded_rss_mib": loaded,
            "hostile_peak_mib": 80.0 if books == 1_000_000 else None,
            "hostile_errors": 0,
        }
        for r in range(2)
        for books, cost, loaded in ((9, 5.0, 6.0), (1_000_000, 6.0, 80.0))
    ]
    found = {
        "settings": {"rounds": 2},
        "grpc": grpc,
        "h2load": [],
        "homepage": homepage,
        "servers": servers,
        "scale": scale,
        "inprocess": {"wheel": [0.5, 0.5], "grpcio to Rust server": [100.0, 110.0]},
    }
    found.update(overrides)
    return found


def verdicts(found: dict) -> dict[str, bool]:
    return {target.name: target.passed for target in analysis.targets(found)}


def test_a_run_that_meets_every_target_passes_them_all() -> None:
    targets, all_passed = analysis.evaluate(analysis.targets(results()))
    assert all_passed, [(t.name, t.value, t.limit) for t in targets if not t.passed]
    by_name = {target.name: target for target in targets}
    cpu = by_name["server CPU per call, c=64: ours / no-logic tonic"]
    assert cpu.value == pytest.approx(0.5)
    assert "ours 5.00 µs" in cpu.detail
    assert "no-logic 10.00 µs" in cpu.detail
    assert by_name["one recommend: grpcio to our server / the wheel in-process"].value == (
        pytest.approx(210.0)
    )
    hostile = by_name[
        "ours: peak RSS under hostile pages on 1,000,000 books, at most 2x idle plus the catalogue"
    ]
    # 2 x 6 MiB idle, plus the catalogue's 80 - 6 MiB.
    assert hostile.limit == pytest.approx(86.0)


def test_our_cpu_per_call_above_six_tenths_of_the_empty_servers_fails() -> None:
    found = results()
    for row in found["grpc"]:
        if row["server"] == "ours" and row["concurrency"] == 16:
            row["cpu_us_per_call"] = 7.0
    got = verdicts(found)
    assert not got["server CPU per call, c=16: ours / no-logic tonic"]
    assert got["server CPU per call, c=64: ours / no-logic tonic"]


def test_the_floor_is_the_tuned_no_logic_server_against_the_default_and_against_ours() -> None:
    found = results()
    # Round 1: the floor costs 8 µs at c=64, twice round 0's.
    for row in found["grpc"]:
        if (row["round"], row["server"], row["concurrency"]) == (1, "empty-tuned", 64):
            row["cpu_us_per_call"] = 8.0
    floors = {floor.concurrency: floor for floor in analysis.cpu_floor(found)}
    assert list(floors) == [16, 64]
    assert floors[16].floor_to_yardstick == Spread(0.4, 0.4, 0.4)
    assert floors[16].ours_to_floor == Spread(1.25, 1.25, 1.25)
    # Ratios within each round: 4/10 and 8/10; 5/4 and 5/8.
    assert floors[64].floor_to_yardstick == Spread(pytest.approx(0.6), 0.4, 0.8)
    assert floors[64].ours_to_floor == Spread(pytest.approx(0.9375), 0.625, 1.25)


def test_a_run_without_the_floor_server_has_no_floor() -> None:
    found = results()
    found["grpc"] = [row for row in found["grpc"] if row["server"] != "empty-tuned"]
    assert all(
        (floor.floor_to_yardstick, floor.ours_to_floor) == (None, None)
        for floor in analysis.cpu_floor(found)
    )


def test_a_single_error_anywhere_fails_the_errors_target() -> None:
    found = results()
    found["homepage"][3]["errors"] = 1
    assert not verdicts(found)["errors in every run"]
    found = results()
    found["scale"][0]["hostile_errors"] = 2
    assert not verdicts(found)["errors in every run"]


def test_a_run_in_which_nothing_was_answered_counts_as_failed() -> None:
    found = results()
    found["grpc"][0]["calls"] = 0
    by_name = {target.name: target for target in analysis.targets(found)}
    errors = by_name["errors in every run"]
    assert (errors.value, errors.passed, errors.by_how_much()) == (1, False, "")
    assert "1 runs with no answer" in errors.detail


def test_ratios_are_taken_round_by_round() -> None:
    # Round 1 is twice as fast for both stacks: the ratio is 40x in each round.
    found = results()
    for row in found["homepage"]:
        if row["round"] == 1:
            row["pages_per_second"] *= 2
        if row["stack"] == "axum->ours":
            row["pages_per_second"] *= 36_000 / 30_000
    by_name = {target.name: target for target in analysis.targets(found)}
    notes = by_name[
        "homepage pages/s: axum on ours / the notes' stack (Flask dev on the notes' server)"
    ]
    assert notes.value == pytest.approx(40.0)
    assert "ratios" not in notes.detail  # every round gave the same ratio


def test_the_homepage_targets_take_every_round_the_homepage_ran() -> None:
    # Five homepage rounds against two of the rest: the flask stack doubles its
    # pages in the last three, so the median of the five ratios is 16.7x, a fail.
    found = results()
    found["homepage"] = [
        {**row, "round": r, "pages_per_second": row["pages_per_second"] * (2 if r >= 2 else 1)}
        if row["stack"] == "flask->notes"
        else {**row, "round": r}
        for r in range(5)
        for row in found["homepage"]
        if row["round"] == 0
    ]
    by_name = {target.name: target for target in analysis.targets(found)}
    notes = by_name[
        "homepage pages/s: axum on ours / the notes' stack (Flask dev on the notes' server)"
    ]
    assert (notes.value, notes.passed) == (pytest.approx(30_000 / 1_800), False)
    assert "rounds' ratios 16.67\N{EN DASH}33.33" in notes.detail
    assert by_name["server CPU per call, c=64: ours / no-logic tonic"].passed


def test_the_report_names_the_homepages_own_rounds() -> None:
    assert report.rounds_text({"rounds": 3, "homepage_rounds": 5}) == (
        "3 rounds (5 for the homepage)"
    )
    assert report.rounds_text({"rounds": 1, "homepage_rounds": 1}) == "1 round"
    # A run written before the homepage had rounds of its own.
    assert report.rounds_text({"rounds": 3}) == "3 rounds"


def test_the_scale_target_compares_the_largest_catalogue_with_the_smallest() -> None:
    found = results()
    for row in found["scale"]:
        if row["books"] == 1_000_000:
            row["cpu_us_per_call"] = 8.0
    by_name = {target.name: target for target in analysis.targets(found)}
    scale = by_name["CPU per call: 1,000,000 books / 9 books"]
    assert (scale.value, scale.passed) == (pytest.approx(1.6), False)


def test_sections_not_run_leave_their_targets_not_measured() -> None:
    found = results(grpc=[], homepage=[], h2load=[], servers=[], scale=[], inprocess={})
    targets = analysis.targets(found)
    assert targets, "the gRPC and homepage targets are always listed"
    assert {target.verdict for target in targets} == {"not measured"}
    assert all(not math.isnan(target.limit) for target in targets)


class Machine:
    """`machine_ticks` readings in which each measurement steals its share in turn."""

    def __init__(self, stolen_shares: list[float]) -> None:
        self.shares = stolen_shares
        self.steal = self.all = 0
        self.readings = 0

    def __call__(self) -> tuple[int, int]:
        # Odd readings end a measurement: it spent 1,000 ticks, its share stolen.
        if self.readings % 2 == 1:
            share = self.shares[self.readings // 2]
            self.steal += round(share * 1000)
            self.all += 1000
        self.readings += 1
        return self.steal, self.all


def measurements() -> object:
    """A measurement that numbers its runs."""
    runs = iter(range(1, 100))
    return lambda: {"run": next(runs)}


def test_a_calm_measurement_runs_once() -> None:
    row = analysis.steady(measurements(), Machine([0.01]))
    assert row == {"run": 1, "steal": pytest.approx(0.01), "set_aside": []}


def test_a_stolen_measurement_is_run_again_and_the_calm_run_kept() -> None:
    row = analysis.steady(measurements(), Machine([0.30, 0.02]))
    assert row["run"] == 2
    assert row["steal"] == pytest.approx(0.02)
    assert row["set_aside"] == [pytest.approx(0.30)]
    # At the limit is calm.
    assert analysis.steady(measurements(), Machine([analysis.STEAL_LIMIT]))["set_aside"] == []


def test_steal_in_every_run_keeps_the_least_stolen_after_the_retries() -> None:
    row = analysis.steady(measurements(), Machine([0.30, 0.15, 0.20, 0.01]), retries=2)
    # Three runs, not the fourth: two retries.
    assert row["run"] == 2
    assert row["steal"] == pytest.approx(0.15)
    assert row["set_aside"] == [pytest.approx(0.30), pytest.approx(0.20)]


def test_the_report_counts_the_runs_repeated_for_steal() -> None:
    found = results()
    assert analysis.repeats(found) == analysis.Repeats(0, 0, 0)
    calm = {"steal": 0.01, "set_aside": []}
    for row in found["grpc"]:
        row.update(calm)
    found["grpc"][0].update(steal=0.02, set_aside=[0.3])
    found["homepage"][0].update(steal=0.2, set_aside=[0.3, 0.25])
    counted = analysis.repeats(found)
    assert counted == analysis.Repeats(measurements=13, repeated=2, still_stolen=1)
    text = report.repeats_text(counted)
    assert text.startswith("2 of 13 (")
    assert text.endswith("; 1 still over it after the repeats")
    # A run written before the check.
    assert report.repeats_text(analysis.Repeats(0, 0, 0)) == report.NONE
