"""The notes' Python Recommendations server, run as the notes run it, over gRPC."""

from collections.abc import Iterator

import grpc
import pytest
from notes_catalog import NOTES_BOOKS
from processes import Running
from recommendations_pb2 import BookCategory, RecommendationRequest
from recommendations_pb2_grpc import RecommendationsStub


@pytest.fixture
def python_stub(python_server: Running) -> Iterator[RecommendationsStub]:
    with grpc.insecure_channel(python_server.address) as channel:
        yield RecommendationsStub(channel)


def test_the_notes_unit_test_expectation_holds_over_grpc(python_stub: RecommendationsStub) -> None:
    request = RecommendationRequest(user_id=1, category=BookCategory.MYSTERY, max_results=1)
    assert len(python_stub.Recommend(request).recommendations) == 1


@pytest.mark.parametrize("category", list(NOTES_BOOKS))
def test_each_category_serves_the_notes_books(
    python_stub: RecommendationsStub, category: int
) -> None:
    request = RecommendationRequest(user_id=1, category=category, max_results=3)
    books = {book.id: book.title for book in python_stub.Recommend(request).recommendations}
    assert books == NOTES_BOOKS[category]


def test_an_unknown_category_is_not_found(python_stub: RecommendationsStub) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        python_stub.Recommend(RecommendationRequest(user_id=1, category=7, max_results=3))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert raised.value.details() == "Category not found"


def test_the_server_logs_the_address_it_bound(python_server: Running) -> None:
    host, port = python_server.address.rsplit(":", 1)
    assert host == "127.0.0.1"
    assert int(port) > 0
