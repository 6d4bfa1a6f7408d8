"""The wheel and the Rust server agree: the same books, in the same order, and the same errors.

The server is called with the buf-generated grpcio stubs, exactly as the notes'
clients call it; the wheel is called in-process. Hypothesis chooses the users,
categories and sizes, for the notes' catalogue and for a generated catalogue file
that the wheel loads and a second server is started with.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from processes import Running, start_recommendations
from recommendations_pb2 import RecommendationRequest
from recommendations_pb2_grpc import RecommendationsStub
from recommender_wheel import require_installed

require_installed()

from bookstore_recommender import (  # noqa: E402
    Catalog,
    Category,
    CategoryNotFoundError,
    InvalidArgumentError,
    recommend,
)

INT32 = st.integers(min_value=-(2**31), max_value=2**31 - 1)
CATEGORIES = st.sampled_from(list(Category))
# Past the largest generated category, so that "more than there are" is exercised too.
SIZES = st.integers(min_value=0, max_value=300)
# Each example is one in-process call and one local gRPC call; a slow first call is no failure.
AGREEMENT = settings(max_examples=300, deadline=None)

# Uneven categories (one of a single book), ids neither dense nor in file order,
# titles that need escaping or are not ASCII.
GENERATED_SIZES = {Category.MYSTERY: 240, Category.SCIENCE_FICTION: 1, Category.SELF_HELP: 57}


def server_books(
    stub: RecommendationsStub, user_id: int, category: int, max_results: int
) -> list[tuple[int, str]]:
    request = RecommendationRequest(user_id=user_id, category=category, max_results=max_results)
    return [(book.id, book.title) for book in stub.Recommend(request).recommendations]


def pairs(books: list) -> list[tuple[int, str]]:
    return [(book.id, book.title) for book in books]


@pytest.fixture(scope="module")
def notes_stub(recommendations_server: Running) -> Iterator[RecommendationsStub]:
    """A stub on the session's notes-catalogue server, shared by every example."""
    with grpc.insecure_channel(recommendations_server.address) as channel:
        yield RecommendationsStub(channel)


@pytest.fixture(scope="module")
def generated_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalogue file of 298 books, the same every run."""
    rng = random.Random(20240229)
    total = sum(GENERATED_SIZES.values())
    ids = rng.sample(range(-1_000_000, 1_000_000), total)
    words = ["Night", "Ça va", "Ōkami", "l'Étranger", 'The "Quoted"', "Back\\slash", "星"]
    books = []
    for category, size in GENERATED_SIZES.items():
        for _ in range(size):
            book_id = ids.pop()
            title = f"{rng.choice(words)} {book_id} {rng.choice(words)}"
            books.append({"id": book_id, "category": category.name, "title": title})
    rng.shuffle(books)
    path = tmp_path_factory.mktemp("catalog") / "generated.json"
    path.write_text(json.dumps({"books": books}, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def generated_stub(generated_catalog: Path) -> Iterator[RecommendationsStub]:
    """A second server, started with the generated catalogue file."""
    with (
        start_recommendations("--catalog", generated_catalog) as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        yield RecommendationsStub(channel)


@pytest.fixture(scope="module")
def loaded(generated_catalog: Path) -> Catalog:
    return Catalog.load(generated_catalog)


def test_the_generated_catalogue_is_loaded_whole(loaded: Catalog) -> None:
    assert len(loaded) == sum(GENERATED_SIZES.values())
    for category, size in GENERATED_SIZES.items():
        ids = [book.id for book in loaded.books(category)]
        assert len(ids) == size
        assert ids == sorted(ids)


@AGREEMENT
@given(user_id=INT32, category=CATEGORIES, max_results=SIZES)
def test_notes_catalogue_same_books_same_order(
    notes_stub: RecommendationsStub, user_id: int, category: Category, max_results: int
) -> None:
    expected = server_books(notes_stub, user_id, category, max_results)
    assert pairs(recommend(user_id, category, max_results)) == expected
    assert pairs(Catalog().recommend(user_id, category, max_results)) == expected


@AGREEMENT
@given(user_id=INT32, category=CATEGORIES, max_results=SIZES)
def test_loaded_catalogue_same_books_same_order(
    generated_stub: RecommendationsStub,
    loaded: Catalog,
    user_id: int,
    category: Category,
    max_results: int,
) -> None:
    expected = server_books(generated_stub, user_id, category, max_results)
    assert pairs(loaded.recommend(user_id, category, max_results)) == expected


def test_every_small_request_agrees(notes_stub: RecommendationsStub) -> None:
    # Hypothesis samples widely; this covers the neighbourhood of zero exhaustively.
    for user_id in range(-40, 40):
        for category in Category:
            for max_results in range(5):
                assert pairs(recommend(user_id, category, max_results)) == server_books(
                    notes_stub, user_id, category, max_results
                )


@settings(max_examples=50, deadline=None)
@given(user_id=INT32, category=INT32.filter(lambda value: value not in (0, 1, 2)))
def test_unknown_categories_fail_alike(
    notes_stub: RecommendationsStub, user_id: int, category: int
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        server_books(notes_stub, user_id, category, 3)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(CategoryNotFoundError) as wheel_raised:
        recommend(user_id, category, 3)
    assert str(wheel_raised.value) == raised.value.details()


@settings(max_examples=50, deadline=None)
@given(user_id=INT32, category=CATEGORIES, max_results=st.integers(-(2**31), -1))
def test_negative_sizes_fail_alike(
    notes_stub: RecommendationsStub, user_id: int, category: Category, max_results: int
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        server_books(notes_stub, user_id, category, max_results)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(InvalidArgumentError) as wheel_raised:
        recommend(user_id, category, max_results)
    assert str(wheel_raised.value) == raised.value.details()
