"""Start the notes' Python programs and the marketplaces as real child processes.

Each starts on a free port (port 0) and is ready when it logs the address it
bound; nothing here sleeps for a fixed time.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from processes import REPO, Running, start_process, wait_for_health

PYTHON = REPO / "python"
MARKETPLACE_BIN = Path(os.environ.get("MARKETPLACE_BIN", REPO / "target" / "debug" / "marketplace"))


@contextmanager
def start_python_recommendations(port: int = 0) -> Iterator[Running]:
    """Starts the notes' Python server on 127.0.0.1 and waits for gRPC health."""
    with start_process(
        [sys.executable, "recommendations.py"],
        r"listening addr=(\S+)",
        env={"RECOMMENDATIONS_LISTEN": f"127.0.0.1:{port}"},
        cwd=PYTHON / "recommendations",
        name="recommendations.py",
    ) as running:
        wait_for_health(running.address, "Recommendations")
        yield running


@contextmanager
def start_flask_marketplace(
    recommendations: Running, timeout: float = 2.0, env: Mapping[str, str] | None = None
) -> Iterator[Running]:
    """Starts the notes' Flask marketplace against `recommendations`, as `flask run` does.

    `env` adds to its environment, for example RECOMMENDATIONS_CA for TLS.
    """
    host, port = recommendations.address.rsplit(":", 1)
    argv = [sys.executable, "-m", "flask", "--app", "marketplace"]
    with start_process(
        [*argv, "run", "--host", "127.0.0.1", "--port", "0"],
        r"Running on http://(\S+)",
        env={
            "RECOMMENDATIONS_HOST": host,
            "RECOMMENDATIONS_PORT": port,
            "RECOMMENDATIONS_TIMEOUT": str(timeout),
            **(env or {}),
        },
        cwd=PYTHON / "marketplace",
        name="flask",
    ) as running:
        yield running


@contextmanager
def start_axum_marketplace(
    recommendations: Running,
    timeout: float = 2.0,
    args: Sequence[str | os.PathLike[str]] = (),
    scheme: str = "http",
) -> Iterator[Running]:
    """Starts the Rust axum marketplace against `recommendations`.

    `scheme` is the Recommendations URL's (`https` for TLS); `args` are more flags.
    """
    if not MARKETPLACE_BIN.exists():
        raise FileNotFoundError(f"{MARKETPLACE_BIN} is missing: run `just build` first")
    argv = [
        MARKETPLACE_BIN,
        "--listen",
        "127.0.0.1:0",
        "--recommendations-url",
        f"{scheme}://{recommendations.address}",
        "--deadline-ms",
        str(round(timeout * 1000)),
        *args,
    ]
    with start_process(argv, r"listening addr=(\S+)") as running:
        yield running


MARKETPLACES = {"flask": start_flask_marketplace, "axum": start_axum_marketplace}


@dataclass(frozen=True)
class Page:
    """One HTTP answer: its status, its body, how long it took to arrive and its headers."""

    status: int
    html: str
    seconds: float
    headers: Mapping[str, str] = field(default_factory=dict)


def get(url: str, timeout: float = 30.0, headers: Mapping[str, str] | None = None) -> Page:
    """GETs `url` with `headers`, returning error statuses as pages instead of raising."""
    started = time.monotonic()
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, body, answer_headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        with error:
            status, body, answer_headers = error.code, error.read(), error.headers
    return Page(status, body.decode("utf-8"), time.monotonic() - started, answer_headers)


def poll_until_ok(url: str, within: float, interval: float = 0.1) -> Page:
    """GETs `url` every `interval` seconds until it answers 200, for at most `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        page = get(url, timeout=within)
        if page.status == 200 or time.monotonic() > deadline:
            return page
        time.sleep(interval)
