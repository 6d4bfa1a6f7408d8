"""The checks `just e2e-containers` makes from this machine against the containers.

Run with python/.venv's Python (which has the stubs installed) and PYTHONPATH=python/tests:
    check.py page URL              the notes' integration test, and the three mystery books
    check.py grpc HOST:PORT        gRPC health, then the notes' Recommend call
    check.py answers URL           any HTTP answer (a pod whose dependencies may be missing)
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from marketplaces import poll_until_ok
from notes_catalog import NOTES_BOOKS
from recommendations_pb2 import BookCategory, RecommendationRequest
from recommendations_pb2_grpc import RecommendationsStub
from test_flask_marketplace import listed_titles, notes_integration_test

WITHIN = 30.0
MYSTERY = set(NOTES_BOOKS[BookCategory.MYSTERY].values())


def page(url: str) -> str:
    # A freshly published port may refuse for a moment; a page may be 503 while
    # the marketplace's channel connects.
    answer = poll_until_ok(url, within=WITHIN)
    if answer.status != 200:
        raise SystemExit(f"{url} answered {answer.status}:\n{answer.html[:500]}")
    notes_integration_test(url)
    titles = listed_titles(answer.html)
    if titles != MYSTERY:
        raise SystemExit(f"{url} lists {sorted(titles)}, not the notes' mystery books")
    return "the notes' integration test passed; it lists " + ", ".join(sorted(titles))


def grpc_call(address: str) -> str:
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="Recommendations"),
            timeout=WITHIN,
            wait_for_ready=True,
        )
        if health.status != health_pb2.HealthCheckResponse.SERVING:
            raise SystemExit(f"{address}: health says {health}")
        reply = RecommendationsStub(channel).Recommend(
            RecommendationRequest(user_id=1, category=BookCategory.MYSTERY, max_results=3),
            timeout=WITHIN,
        )
    titles = {book.title for book in reply.recommendations}
    if titles != MYSTERY:
        raise SystemExit(f"{address}: Recommend gave {sorted(titles)}, not the mystery books")
    return "health SERVING; Recommend gave " + ", ".join(sorted(titles))


def answers(url: str) -> str:
    deadline = time.monotonic() + WITHIN
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return f"HTTP {response.status}"
        except urllib.error.HTTPError as error:
            return f"HTTP {error.code}"
        except OSError as error:
            if time.monotonic() > deadline:
                raise SystemExit(f"{url}: no answer in {WITHIN:.0f} s ({error})") from None
            time.sleep(0.2)


CHECKS = {"page": page, "grpc": grpc_call, "answers": answers}

if __name__ == "__main__":
    check, target = sys.argv[1:]
    print(f"    {target}: {CHECKS[check](target)}", file=sys.stderr)
