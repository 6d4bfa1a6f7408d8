"""The conformance matrix: every client's runner against every server it applies to.

    python -m conformance [--cases DIR] [--markdown FILE] [--client NAME ...]

Starts the Rust server (RECOMMENDATIONS_BIN, default target/debug/recommendations),
the notes' Python server, and one axum marketplace (MARKETPLACE_BIN) in front of
each for the browser; builds nothing (`just conformance` builds first). Each
runner prints what its calls gave, `check` judges it against proto/cases, and the
matrix of cases passed is printed, then every failure. Exit status 1 on any
failure, a missing runner included.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from conformance.cases import CASES, REPO, Case, load
from conformance.check import Failure, Verdict, check, expectation, notes_catalogue

# The helpers the tests start the real programs with.
sys.path.insert(0, str(REPO / "python" / "tests"))

from marketplaces import start_axum_marketplace, start_python_recommendations
from processes import start_recommendations

RUST, NOTES, IN_PROCESS = "Rust server", "notes' Python server", "in-process"
SERVERS = (RUST, NOTES, IN_PROCESS)
CONFORMANCE_CLIENT_BIN = Path(
    os.environ.get("CONFORMANCE_CLIENT_BIN", REPO / "target" / "debug" / "conformance-client")
)
TS = REPO / "ts"
TS_RUNNER = TS / "conformance" / "run.ts"
# The browser runner drives Chromium through every case: minutes, not seconds.
RUNNER_TIMEOUT = 600.0


@dataclass(frozen=True)
class Targets:
    """Where the running servers listen: HOST:PORT of each, and of the marketplaces in front."""

    rust: str
    notes: str
    rust_marketplace: str
    notes_marketplace: str


@dataclass(frozen=True)
class Client:
    """A row of the matrix: how to run its runner against each server, or why it cannot."""

    name: str
    # server column -> (the runner's argv for these targets), for the servers it applies to
    commands: dict[str, Callable[[Targets], list[str]]]
    cwd: Path
    missing: Callable[[], str | None]

    def applies(self, server: str) -> bool:
        return server in self.commands


def _python(client: str, target: Callable[[Targets], str] | None) -> Callable[[Targets], list[str]]:
    def argv(targets: Targets) -> list[str]:
        command = [sys.executable, "-m", "conformance.client", "--client", client]
        command += ["--cases", "{cases}"]
        return command + (["--target", target(targets)] if target else [])

    return argv


def _rust(target: Callable[[Targets], str]) -> Callable[[Targets], list[str]]:
    def argv(targets: Targets) -> list[str]:
        return [str(CONFORMANCE_CLIENT_BIN), "--cases", "{cases}", "--target", target(targets)]

    return argv


def _ts(client: str, target: Callable[[Targets], str]) -> Callable[[Targets], list[str]]:
    def argv(targets: Targets) -> list[str]:
        # From ts/, where node resolves `tsx` in ts/node_modules.
        command = ["node", "--import", "tsx", str(TS_RUNNER.relative_to(TS))]
        return [*command, "--client", client, "--cases", "{cases}", "--target", target(targets)]

    return argv


def _rust_missing() -> str | None:
    if CONFORMANCE_CLIENT_BIN.exists():
        return None
    return f"runner missing: {CONFORMANCE_CLIENT_BIN} (run `just conformance`, which builds it)"


def _ts_missing() -> str | None:
    if not TS_RUNNER.exists():
        return f"runner missing: {TS_RUNNER.relative_to(REPO)}"
    if shutil.which("node") is None:
        return "runner missing: node is not on PATH"
    return None


def _no_missing() -> str | None:
    return None


def _http(address: str) -> str:
    return f"http://{address}"


CLIENTS = (
    Client(
        "rust-tonic",
        {RUST: _rust(lambda t: _http(t.rust)), NOTES: _rust(lambda t: _http(t.notes))},
        REPO,
        _rust_missing,
    ),
    Client(
        "python-grpcio",
        {
            RUST: _python("python-grpcio", lambda t: t.rust),
            NOTES: _python("python-grpcio", lambda t: t.notes),
        },
        REPO / "python",
        _no_missing,
    ),
    Client(
        "python-aio",
        {
            RUST: _python("python-aio", lambda t: t.rust),
            NOTES: _python("python-aio", lambda t: t.notes),
        },
        REPO / "python",
        _no_missing,
    ),
    Client(
        "ts-grpc",
        {
            RUST: _ts("ts-grpc", lambda t: _http(t.rust)),
            NOTES: _ts("ts-grpc", lambda t: _http(t.notes)),
        },
        TS,
        _ts_missing,
    ),
    Client("ts-grpc-web", {RUST: _ts("ts-grpc-web", lambda t: _http(t.rust))}, TS, _ts_missing),
    Client(
        "browser",
        {
            RUST: _ts("browser", lambda t: _http(t.rust_marketplace)),
            NOTES: _ts("browser", lambda t: _http(t.notes_marketplace)),
        },
        TS,
        _ts_missing,
    ),
    Client("wheel", {IN_PROCESS: _python("wheel", None)}, REPO / "python", _no_missing),
)
# Why the n/a cells are n/a, printed under the matrix.
NOT_APPLICABLE = (
    "ts-grpc-web against the notes' Python server, which speaks no gRPC-Web; "
    "the network clients in-process and the wheel against a server."
)


@dataclass(frozen=True)
class Cell:
    client: str
    server: str
    verdict: Verdict | None  # None: n/a
    seconds: float = 0.0

    @property
    def text(self) -> str:
        if self.verdict is None:
            return "n/a"
        return f"{self.verdict.passed}/{self.verdict.total}"


def run_cell(
    client: Client, server: str, targets: Targets, cases: Sequence[Case], cases_dir: Path
) -> Cell:
    """Runs `client`'s runner against `server` and judges its report."""
    reference = server == NOTES
    total = sum(expectation(case, reference) is not None for case in cases)
    started = time.monotonic()

    def failed(got: str) -> Cell:
        failure = Failure("(the runner)", "a report of every case", got)
        return Cell(client.name, server, Verdict(0, total, [failure]), time.monotonic() - started)

    if missing := client.missing():
        return failed(missing)
    argv = [arg.replace("{cases}", str(cases_dir)) for arg in client.commands[server](targets)]
    try:
        done = subprocess.run(
            argv, cwd=client.cwd, capture_output=True, text=True, timeout=RUNNER_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return failed(f"no report within {RUNNER_TIMEOUT:.0f}s: {' '.join(argv)}")
    except OSError as error:
        return failed(f"runner missing: {error}")
    if done.returncode != 0:
        return failed(f"exit status {done.returncode}: {_tail(done.stderr)}")
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        return failed(f"no JSON on stdout ({error}): {_tail(done.stdout)}")
    if report.get("client") != client.name:
        return failed(f"a report of client {report.get('client')!r}")
    verdict = check(
        cases, report, notes_catalogue(), reference=reference, exact_books=not reference
    )
    return Cell(client.name, server, verdict, time.monotonic() - started)


def _where(server: str) -> str:
    return server if server == IN_PROCESS else f"against the {server}"


def _tail(text: str, keep: int = 8) -> str:
    """The first and last lines of a runner's output: where errors are told, in node and Python."""
    lines = text.strip().splitlines()
    if len(lines) > 2 * keep:
        lines = [*lines[:keep], "...", *lines[-keep:]]
    return "\n".join(lines) or "(no output)"


@contextmanager
def servers() -> Iterator[Targets]:
    """Both servers on free ports, each with an axum marketplace in front for the browser."""
    with ExitStack() as stack:
        rust = stack.enter_context(start_recommendations())
        notes = stack.enter_context(start_python_recommendations())
        rust_marketplace = stack.enter_context(start_axum_marketplace(rust, timeout=10.0))
        notes_marketplace = stack.enter_context(start_axum_marketplace(notes, timeout=10.0))
        yield Targets(
            rust.address, notes.address, rust_marketplace.address, notes_marketplace.address
        )


def markdown(cells: Sequence[Cell], clients: Sequence[Client]) -> str:
    """The matrix as a markdown table, columns padded so it reads as plain text too."""
    by_key = {(cell.client, cell.server): cell for cell in cells}
    rows = [["client", *SERVERS]]
    rows += [[c.name, *(by_key[(c.name, s)].text for s in SERVERS)] for c in clients]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            + " |"
        )

    separator = "| " + " | ".join("-" * width for width in widths) + " |"
    return "\n".join([line(rows[0]), separator, *(line(row) for row in rows[1:])])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance", description=__doc__)
    parser.add_argument("--cases", type=Path, default=CASES, help="the folder of case files")
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="also write the matrix to FILE (a relative path is from the repository root)",
    )
    parser.add_argument(
        "--client",
        action="append",
        choices=[client.name for client in CLIENTS],
        help="only this client's row (repeatable); every row by default",
    )
    args = parser.parse_args(argv)
    cases_dir = args.cases.resolve()
    cases = load(cases_dir)
    clients = [c for c in CLIENTS if not args.client or c.name in args.client]
    started = time.monotonic()
    with servers() as targets, ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            (client.name, server): pool.submit(run_cell, client, server, targets, cases, cases_dir)
            for client in clients
            for server in SERVERS
            if client.applies(server)
        }
        cells = [
            futures[(c.name, s)].result() if (c.name, s) in futures else Cell(c.name, s, None)
            for c in clients
            for s in SERVERS
        ]
    table = markdown(cells, clients)
    print(f"Conformance: {len(cases)} cases in {cases_dir.relative_to(REPO)}, cases passed\n")
    print(table)
    print(f"\nn/a: {NOT_APPLICABLE}")
    timings = ", ".join(
        f"{c.client} {_where(c.server)} {c.seconds:.1f}s" for c in cells if c.verdict
    )
    print(f"Runners: {timings}. In all {time.monotonic() - started:.1f}s.")
    if args.markdown:
        (REPO / args.markdown).write_text(table + "\n", encoding="utf-8")
    failed = [cell for cell in cells if cell.verdict and cell.verdict.failures]
    for cell in failed:
        assert cell.verdict is not None
        print(f"\nFAILED {cell.client} {_where(cell.server)}:")
        for failure in cell.verdict.failures:
            print(f"  {failure}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
