"""Both marketplaces against a Recommendations server that stops, hangs and
comes back: a clear 503 page within the deadline, then pages again as soon as
the server is back, without restarting the marketplace."""

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from marketplaces import MARKETPLACES, get, poll_until_ok
from processes import Running, start_recommendations

# The marketplaces' per-call deadline in these tests, in seconds.
DEADLINE = 1.0
# Room for process scheduling on a busy machine; a correctness bound, not a benchmark.
MARGIN = 3.0
# How long a marketplace may take to notice that the server is back.
RECOVERY = 15.0

Launcher = Callable[..., AbstractContextManager[Running]]


@pytest.fixture(params=list(MARKETPLACES))
def launch(request: pytest.FixtureRequest) -> Launcher:
    return MARKETPLACES[request.param]


def assert_unavailable_within_the_deadline(url: str) -> None:
    page = get(url)
    assert page.status == 503, page
    assert "<h1>Recommendations unavailable</h1>" in page.html
    assert "Traceback" not in page.html
    assert page.seconds < DEADLINE + MARGIN, page.seconds


def test_a_stopped_server_gives_a_quick_503_and_pages_return_when_it_restarts(
    launch: Launcher,
) -> None:
    with start_recommendations() as server, launch(server, timeout=DEADLINE) as marketplace:
        url = f"http://{marketplace.address}/"
        assert get(url).status == 200
        port = server.port

        server.stop()
        assert_unavailable_within_the_deadline(url)
        assert_unavailable_within_the_deadline(url)

        with start_recommendations(port=port):
            page = poll_until_ok(url, within=RECOVERY)
            assert page.status == 200, page
            assert page.html.count("<li>") == 3
            assert marketplace.process.poll() is None  # the same process, never restarted


def test_a_hung_server_gives_a_503_within_the_deadline_and_pages_return_when_it_resumes(
    launch: Launcher,
) -> None:
    with start_recommendations() as server, launch(server, timeout=DEADLINE) as marketplace:
        url = f"http://{marketplace.address}/"
        assert get(url).status == 200

        server.pause()
        try:
            assert_unavailable_within_the_deadline(url)
        finally:
            server.resume()

        page = poll_until_ok(url, within=RECOVERY)
        assert page.status == 200, page
        assert marketplace.process.poll() is None


def test_a_marketplace_started_before_its_server_serves_once_the_server_is_up(
    launch: Launcher,
) -> None:
    with start_recommendations() as first:
        port = first.port
    # `first` has stopped: nothing listens on `port` now.
    with launch(first, timeout=DEADLINE) as marketplace:
        url = f"http://{marketplace.address}/"
        assert_unavailable_within_the_deadline(url)
        with start_recommendations(port=port):
            page = poll_until_ok(url, within=RECOVERY)
            assert page.status == 200, page
