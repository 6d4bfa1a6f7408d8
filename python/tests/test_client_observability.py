"""What the marketplaces tell operators: the request id that follows a page to
the Recommendations server's log, and the axum marketplace's /metrics."""

import re
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from marketplaces import MARKETPLACES, get, start_axum_marketplace
from processes import Running, start_recommendations

Launcher = Callable[..., AbstractContextManager[Running]]

# How long a log line may take to show up.
LOG_WAIT = 15.0


@pytest.fixture(params=list(MARKETPLACES))
def launch(request: pytest.FixtureRequest) -> Launcher:
    return MARKETPLACES[request.param]


def test_a_pages_request_id_reaches_the_servers_log(launch: Launcher) -> None:
    with start_recommendations() as server, launch(server) as marketplace:
        page = get(f"http://{marketplace.address}/", headers={"X-Request-Id": "abc-123"})
        assert page.status == 200, page
        server.wait_for_log(r"abc-123", timeout=LOG_WAIT)


def test_the_axum_marketplace_logs_and_returns_the_request_id() -> None:
    with start_recommendations() as server, start_axum_marketplace(server) as marketplace:
        page = get(f"http://{marketplace.address}/", headers={"X-Request-Id": "abc-123"})
        assert page.headers["x-request-id"] == "abc-123"
        marketplace.wait_for_log(r"request_id=abc-123.*status=200", timeout=LOG_WAIT)


def test_the_axum_marketplace_gives_a_request_without_an_id_a_fresh_one_and_passes_it_on() -> None:
    with start_recommendations() as server, start_axum_marketplace(server) as marketplace:
        page = get(f"http://{marketplace.address}/")
        assert page.status == 200, page
        fresh = page.headers["x-request-id"]
        assert uuid.UUID(fresh).version == 4
        marketplace.wait_for_log(rf"request_id={fresh}.*status=200", timeout=LOG_WAIT)
        server.wait_for_log(fresh, timeout=LOG_WAIT)


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name` whose labels include `labels`, if any."""
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if labels.items() <= found.items():
            return float(match.group(3))
    return None


def test_the_axum_marketplace_counts_pages_and_upstream_calls_and_errors() -> None:
    with start_recommendations() as server, start_axum_marketplace(server) as marketplace:
        base = f"http://{marketplace.address}"
        assert get(f"{base}/").status == 200
        metrics = get(f"{base}/metrics")
        assert metrics.status == 200
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = metrics.html
        assert metric(text, "http_requests_total", route="/", status="200") == 1, text
        recommend = {"grpc_service": "Recommendations", "grpc_method": "Recommend"}
        assert metric(text, "grpc_client_handling_seconds_count", **recommend) == 1, text
        assert metric(text, "grpc_client_handled_total", grpc_code="OK", **recommend) == 1, text

        server.stop()
        assert get(f"{base}/").status == 503
        text = get(f"{base}/metrics").html
        errors = [
            line
            for line in text.splitlines()
            if line.startswith("grpc_client_handled_total{") and 'grpc_code="OK"' not in line
        ]
        assert errors, text
        assert metric(text, "http_requests_total", route="/", status="503") == 1, text
