"""The selection algorithm, reimplemented here from its written specification
(rust/recommender/src/select.rs), must give exactly the server's answers: the
documentation is precise enough for another language to reproduce."""

import json
from pathlib import Path

import grpc
import pytest
from notes_catalog import notes_catalog
from processes import start_recommendations
from recommendations_pb2 import RecommendationRequest
from recommendations_pb2_grpc import RecommendationsStub

MASK = (1 << 64) - 1


def splitmix64(state: int):
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield z ^ (z >> 31)


def select(user_id: int, category: int, max_results: int, books: list[dict]) -> list[int]:
    seed = ((user_id & 0xFFFFFFFF) << 32) | (category & 0xFFFFFFFF)
    ordered = sorted(books, key=lambda book: book["id"])
    n = len(ordered)
    draws = splitmix64(seed)
    positions: dict[int, int] = {}
    picked = []
    for i in range(min(max_results, n)):
        j = i + next(draws) % (n - i)
        positions[i], positions[j] = positions.get(j, j), positions.get(i, i)
        picked.append(ordered[positions[i]]["id"])
    return picked


CATEGORY_NAMES = ["MYSTERY", "SCIENCE_FICTION", "SELF_HELP"]
NOTES_CATALOG = notes_catalog()


def books_of(catalog: list[dict], category: int) -> list[dict]:
    return [book for book in catalog if book["category"] == CATEGORY_NAMES[category]]


def server_ids(stub: RecommendationsStub, user_id: int, category: int, max_results: int):
    request = RecommendationRequest(user_id=user_id, category=category, max_results=max_results)
    return [book.id for book in stub.Recommend(request).recommendations]


@pytest.mark.parametrize("user_id", [-(2**31), -1, 0, 1, 2, 3, 99, 12345, 2**31 - 1])
def test_the_specification_reproduces_the_notes_catalogue_answers(
    stub: RecommendationsStub, user_id: int
) -> None:
    for category in range(3):
        for max_results in range(5):
            expected = select(user_id, category, max_results, books_of(NOTES_CATALOG, category))
            assert server_ids(stub, user_id, category, max_results) == expected


def test_the_specification_reproduces_a_large_shuffled_catalogue(tmp_path: Path) -> None:
    # Ids out of order and sparse, so the "ordered by id" step matters.
    catalog = [
        {
            "id": (book * 7919) % 100_003,
            "category": CATEGORY_NAMES[book % 3],
            "title": f"Book {book}",
        }
        for book in range(1, 3001)
    ]
    path = tmp_path / "store.json"
    path.write_text(json.dumps({"books": catalog}))
    with (
        start_recommendations("--catalog", path) as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        stub = RecommendationsStub(channel)
        for user_id in range(0, 400, 7):
            category = user_id % 3
            max_results = user_id % 40
            expected = select(user_id, category, max_results, books_of(catalog, category))
            assert server_ids(stub, user_id, category, max_results) == expected
