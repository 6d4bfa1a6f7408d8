"""What one recommendation costs a Python caller, three ways.

1. The `bookstore-recommender` wheel: the Rust core, in-process.
2. grpcio, with the buf-generated stubs, to the Rust Recommendations server
   started on 127.0.0.1 (a release build: `just bench` builds it).
3. The notes' own selection in pure Python: `random.sample` over their
   dict of nine books (imported from python/recommendations), as their
   RecommendationService does.

Each way asks for 3 books per call, cycling over users and categories. Times are
per call: the best of several rounds (the least disturbed), with the median of
the rounds beside it. `just bench` (bench/run.py) runs `measure` against the
server it started; run alone, this starts its own. A measurement, not a test.
"""

from __future__ import annotations

import itertools
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The test helpers that start the server, and the notes' own Python server, whose
# catalogue the pure-Python way samples from (the stubs are installed, python/sdk).
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "recommendations")]

import grpc  # noqa: E402
from bookstore_recommender import Category, recommend  # noqa: E402
from processes import RECOMMENDATIONS_BIN, start_recommendations  # noqa: E402
from recommendations_pb2 import BookRecommendation, RecommendationRequest  # noqa: E402
from recommendations_pb2_grpc import RecommendationsStub  # noqa: E402

from recommendations import books_by_category  # noqa: E402

MAX_RESULTS = 3
ROUNDS = 7
# Calls per round: enough for a round to last a few tenths of a second.
CALLS = {"wheel": 200_000, "pure Python (notes)": 200_000, "grpcio to Rust server": 4_000}


def notes_recommend(user_id: int, category: int, max_results: int) -> list[BookRecommendation]:
    """The notes' Recommend body, without the gRPC around it (the user is not used)."""
    if category not in books_by_category:
        raise LookupError("Category not found")
    books_for_category = books_by_category[category]
    num_results = min(max_results, len(books_for_category))
    return random.sample(books_for_category, num_results)


def requests(count: int) -> list[tuple[int, Category]]:
    """The same mix of users and categories for every way."""
    categories = itertools.cycle(Category)
    return [(user_id, next(categories)) for user_id in range(count)]


def per_call_seconds(
    call: Callable[[int, Category], object], count: int, rounds: int = ROUNDS
) -> list[float]:
    """Seconds per call, one figure per round, after one warm-up round."""
    work = requests(count)
    results = []
    for round_number in range(rounds + 1):
        start = time.perf_counter()
        for user_id, category in work:
            call(user_id, category)
        elapsed = time.perf_counter() - start
        if round_number:
            results.append(elapsed / count)
    return results


def measure(address: str, rounds: int = ROUNDS, share: float = 1.0) -> dict[str, list[float]]:
    """Seconds per call of each way, one figure per round, the server at `address`.

    `share` scales the calls of a round (1.0: CALLS), for a quicker, rougher run.
    """
    with grpc.insecure_channel(address) as channel:
        stub = RecommendationsStub(channel)

        def over_grpc(user_id: int, category: Category) -> object:
            request = RecommendationRequest(
                user_id=user_id, category=category, max_results=MAX_RESULTS
            )
            return stub.Recommend(request).recommendations

        ways: dict[str, Callable[[int, Category], object]] = {
            "wheel": lambda user_id, category: recommend(user_id, category, MAX_RESULTS),
            "pure Python (notes)": lambda user_id, category: notes_recommend(
                user_id, category, MAX_RESULTS
            ),
            "grpcio to Rust server": over_grpc,
        }
        return {
            name: per_call_seconds(call, max(100, round(CALLS[name] * share)), rounds)
            for name, call in ways.items()
        }


def main() -> None:
    if "release" not in RECOMMENDATIONS_BIN.parts:
        print(f"warning: {RECOMMENDATIONS_BIN} is not a release build", file=sys.stderr)
    with start_recommendations() as server:
        timings = measure(server.address)

    print(f"recommend(user, category, {MAX_RESULTS}) per call, best and median of {ROUNDS} rounds")
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, server {RECOMMENDATIONS_BIN}")
    print()
    best = {name: min(rounds) for name, rounds in timings.items()}
    for name, rounds in timings.items():
        median = statistics.median(rounds)
        print(
            f"  {name:<24} {best[name] * 1e6:10.3f} µs  (median {median * 1e6:.3f} µs,"
            f" {CALLS[name]:,} calls a round)"
        )
    print()
    wheel, python, grpc_call = (
        best["wheel"],
        best["pure Python (notes)"],
        best["grpcio to Rust server"],
    )
    print(f"  grpcio / wheel        {grpc_call / wheel:10.1f}x")
    print(f"  pure Python / wheel   {python / wheel:10.2f}x")
    print(f"  grpcio / pure Python  {grpc_call / python:10.1f}x")


if __name__ == "__main__":
    main()
