"""Start the project's real binaries as child processes and wait until they serve.

Servers are started on port 0 (or a port the test chooses) and report the
address they bound in their log; nothing here sleeps for a fixed time.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
RECOMMENDATIONS_BIN = Path(
    os.environ.get("RECOMMENDATIONS_BIN", REPO / "target" / "debug" / "recommendations")
)
BUF = Path(os.environ.get("BUF", REPO / ".tools/npm/node_modules/.bin/buf"))
START_TIMEOUT = 30.0
# TEST_LOG=1 (any value but empty or 0): children's log lines go to stderr too, as `[name] line`.
TEST_LOG = os.environ.get("TEST_LOG", "") not in ("", "0")


@dataclass
class Running:
    """A started child process and the log lines it has written so far."""

    process: subprocess.Popen[str]
    address: str
    lines: queue.Queue[str | None] = field(repr=False)
    log: list[str] = field(default_factory=list, repr=False)

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def wait_for_log(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match[str]:
        """Blocks until a log line matches `pattern`, returning the match."""
        return _wait_for_line(self, re.compile(pattern), timeout)

    def logged_so_far(self) -> list[str]:
        """Every line logged until now, without waiting for more."""
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return self.log
            if line is None:
                self.lines.put(None)  # keep the end of output for later readers
                return self.log
            self.log.append(line)

    def pause(self, timeout: float = START_TIMEOUT) -> None:
        """Stops the process with SIGSTOP and returns once every thread of it has stopped.

        `kill` returns before that: one thread takes the signal and stops the
        others when it next runs, and on a busy machine the rest may answer
        calls for a while yet.
        """
        self.process.send_signal(signal.SIGSTOP)
        threads = Path(f"/proc/{self.process.pid}/task")
        deadline = time.monotonic() + timeout
        while not all(_thread_state(stat) == "T" for stat in threads.glob("*/stat")):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.process.args[0]} did not stop in {timeout}s")
            time.sleep(0.01)

    def resume(self) -> None:
        """Lets a paused process run on (SIGCONT)."""
        self.process.send_signal(signal.SIGCONT)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = START_TIMEOUT) -> int:
        """Sends `sig` and returns the exit status (killing the process if it hangs)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def _thread_state(stat: Path) -> str:
    """A thread's state letter in /proc: `T` when stopped, and for a thread gone,
    which answers nothing either."""
    try:
        # The name, in parentheses, may hold spaces and parentheses itself.
        return stat.read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "T"


def _pump(stream, lines: queue.Queue[str | None], name: str) -> None:
    for line in stream:
        line = line.rstrip("\n")
        lines.put(line)
        if TEST_LOG:
            print(f"[{name}] {line}", file=sys.stderr, flush=True)
    lines.put(None)  # end of output: the process closed it, so it is exiting


def _wait_for_line(running: Running, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
    while True:
        try:
            line = running.lines.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(
                f"no log line matched {pattern.pattern!r} in {timeout}s; log so far:\n"
                + "\n".join(running.log)
            ) from None
        if line is None:
            # Not `poll()`: the exit may not be reaped yet when the output ends.
            running.process.wait(timeout=timeout)
            raise RuntimeError(
                f"process exited with {running.process.returncode} before logging "
                f"{pattern.pattern!r}; its log:\n" + "\n".join(running.log)
            )
        running.log.append(line)
        if match := pattern.search(line):
            return match


@contextmanager
def start_process(
    argv: Sequence[str | os.PathLike[str]],
    ready_pattern: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    name: str | None = None,
) -> Iterator[Running]:
    """Starts `argv`, waits for a log line whose first group is the bound address.

    `name` (by default the program's file name) prefixes the lines TEST_LOG echoes.
    """
    process = subprocess.Popen(
        [str(arg) for arg in argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    name = name or Path(argv[0]).name
    pump = threading.Thread(target=_pump, args=(process.stdout, lines, name), daemon=True)
    pump.start()
    running = Running(process=process, address="", lines=lines)
    try:
        running.address = running.wait_for_log(ready_pattern).group(1)
        yield running
    finally:
        if process.poll() is None:
            running.stop()
        pump.join(timeout=START_TIMEOUT)
        process.stdout.close()


def _channel(address: str, credentials: grpc.ChannelCredentials | None) -> grpc.Channel:
    if credentials is None:
        return grpc.insecure_channel(address)
    return grpc.secure_channel(address, credentials)


def wait_for_health(
    address: str,
    service: str = "",
    timeout: float = START_TIMEOUT,
    credentials: grpc.ChannelCredentials | None = None,
) -> None:
    """Waits until the gRPC health service at `address` reports `service` SERVING.

    `credentials` (grpc.ssl_channel_credentials) for a server that serves TLS.
    """
    with _channel(address, credentials) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout, wait_for_ready=True
        )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, reply


@contextmanager
def start_recommendations(
    *args: str | os.PathLike[str],
    port: int = 0,
    env: dict[str, str] | None = None,
    credentials: grpc.ChannelCredentials | None = None,
) -> Iterator[Running]:
    """Starts the Rust `recommendations` server on 127.0.0.1 and waits for gRPC health.

    `credentials` are what the health check connects with when the server serves TLS.
    """
    if not RECOMMENDATIONS_BIN.exists():
        raise FileNotFoundError(f"{RECOMMENDATIONS_BIN} is missing: run `just build` first")
    argv = [RECOMMENDATIONS_BIN, "--listen", f"127.0.0.1:{port}", *args]
    with start_process(argv, r"listening addr=(\S+)", env=env) as running:
        wait_for_health(running.address, "Recommendations", credentials=credentials)
        yield running
