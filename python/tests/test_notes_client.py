"""The notes' own client code, run unchanged against the Rust server."""

import grpc
import pytest
from notes_catalog import NOTES_BOOKS
from recommendations_pb2 import BookCategory, RecommendationRequest
from recommendations_pb2_grpc import RecommendationsStub


def test_the_notes_unit_test_expectation_holds_over_grpc(stub: RecommendationsStub) -> None:
    request = RecommendationRequest(user_id=1, category=BookCategory.MYSTERY, max_results=1)
    response = stub.Recommend(request)
    assert len(response.recommendations) == 1


@pytest.mark.parametrize("category", list(NOTES_BOOKS))
def test_each_category_serves_the_notes_books(stub: RecommendationsStub, category: int) -> None:
    request = RecommendationRequest(user_id=1, category=category, max_results=3)
    response = stub.Recommend(request)
    books = {book.id: book.title for book in response.recommendations}
    assert books == NOTES_BOOKS[category]


def test_unset_max_results_gives_no_books(stub: RecommendationsStub) -> None:
    request = RecommendationRequest(user_id=1, category=BookCategory.SCIENCE_FICTION)
    assert request.max_results == 0
    assert list(stub.Recommend(request).recommendations) == []


def test_an_unknown_category_is_not_found(stub: RecommendationsStub) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.Recommend(RecommendationRequest(user_id=1, category=7, max_results=3))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert raised.value.details() == "Category not found"


def test_a_negative_max_results_is_an_invalid_argument(stub: RecommendationsStub) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.Recommend(
            RecommendationRequest(user_id=1, category=BookCategory.MYSTERY, max_results=-1)
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == "max_results must be zero or more, got -1"


def test_the_same_request_gets_the_same_books(stub: RecommendationsStub) -> None:
    request = RecommendationRequest(user_id=77, category=BookCategory.SELF_HELP, max_results=2)
    first = stub.Recommend(request)
    assert all(stub.Recommend(request) == first for _ in range(20))


def test_different_users_get_different_selections(stub: RecommendationsStub) -> None:
    selections = {
        tuple(
            book.id
            for book in stub.Recommend(
                RecommendationRequest(user_id=user, category=BookCategory.MYSTERY, max_results=1)
            ).recommendations
        )
        for user in range(30)
    }
    assert selections == {(book_id,) for book_id in NOTES_BOOKS[BookCategory.MYSTERY]}


def test_thousands_of_calls_share_one_channel(stub: RecommendationsStub) -> None:
    # The notes keep one global channel on purpose; it must carry any number of calls.
    for user in range(3000):
        response = stub.Recommend(
            RecommendationRequest(user_id=user, category=user % 3, max_results=user % 4)
        )
        assert len(response.recommendations) == min(user % 4, 3)
        assert {book.id for book in response.recommendations} <= set(NOTES_BOOKS[user % 3])


def test_without_a_server_the_call_is_unavailable() -> None:
    # As the notes show before the server exists: UNAVAILABLE, not a hang.
    with grpc.insecure_channel("127.0.0.1:1") as channel:
        client = RecommendationsStub(channel)
        with pytest.raises(grpc.RpcError) as raised:
            client.Recommend(
                RecommendationRequest(user_id=1, category=BookCategory.MYSTERY, max_results=3),
                timeout=10,
            )
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
