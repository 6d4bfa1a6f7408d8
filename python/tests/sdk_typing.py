"""Typed use of the installed distribution, for `just lint-python-types` (mypy --strict).

mypy reads types of modules in site-packages only through PEP 561 markers, so
this passes only if the wheel's stub packages for the generated modules are
seen: each `assert_type` needs the real types, and each `type: ignore` below is
an error mypy must find (--strict reports an ignore that is not needed).
"""

import asyncio
from typing import assert_type

import grpc
from bookstore_recommendations import AsyncRecommendationsClient, RecommendationsClient, Tls
from recommendations_pb2 import (
    BookCategory,
    BookRecommendation,
    RecommendationRequest,
    RecommendationResponse,
)
from recommendations_pb2_grpc import RecommendationsStub


def notes_style(channel: grpc.Channel) -> list[str]:
    request = RecommendationRequest(user_id=1, category=BookCategory.MYSTERY, max_results=3)
    response = RecommendationsStub(channel).Recommend(request, timeout=5)
    assert_type(response, RecommendationResponse)
    RecommendationRequest(user_id="one")  # type: ignore[arg-type]
    return [book.title for book in response.recommendations]


def convenience(tls: Tls) -> BookRecommendation:
    with RecommendationsClient("localhost:50051", tls=tls) as client:
        response = client.recommend(1, BookCategory.SCIENCE_FICTION, 1, timeout=2)
        assert_type(response.recommendations[0].id, int)
        client.recommend(1, "MYSTERY", 1)  # type: ignore[arg-type]
        return response.recommendations[0]


async def asynchronous() -> list[int]:
    async with AsyncRecommendationsClient("localhost:50051") as client:
        responses = await asyncio.gather(
            *(client.recommend(user, BookCategory.SELF_HELP, 2) for user in range(3))
        )
        assert_type(responses, list[RecommendationResponse])
        return [book.id for response in responses for book in response.recommendations]
