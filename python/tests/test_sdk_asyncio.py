"""A thousand concurrent calls on one grpc.aio channel, every answer checked.

The asyncio client (bookstore_recommendations) calls the real Rust server; the
`bookstore-recommender` wheel, the same core in-process, says which books each
call must get, in which order. Cost: about 0.5 s on the debug server.
"""

from __future__ import annotations

import asyncio

from bookstore_recommendations import AsyncRecommendationsClient
from processes import Running
from recommendations_pb2 import RecommendationResponse
from recommender_wheel import require_installed

require_installed()

from bookstore_recommender import Category, recommend  # noqa: E402

CALLS = 1000
CATEGORIES = list(Category)


def request(n: int) -> tuple[int, Category, int]:
    """The n-th call's user, category and size: users on both sides of zero, sizes
    from none to more than a category holds."""
    return n - CALLS // 2, CATEGORIES[n % len(CATEGORIES)], n % 5


def test_a_thousand_concurrent_calls_on_one_channel_get_the_cores_books(
    recommendations_server: Running,
) -> None:
    async def ask_all() -> tuple[list[RecommendationResponse], int]:
        async with AsyncRecommendationsClient(recommendations_server.address) as client:
            in_flight = peak = 0

            async def ask(n: int) -> RecommendationResponse:
                nonlocal in_flight, peak
                user_id, category, max_results = request(n)
                in_flight += 1
                peak = max(peak, in_flight)
                try:
                    return await client.recommend(user_id, int(category), max_results)
                finally:
                    in_flight -= 1

            # One client: one channel, and every call on it at once.
            responses = await asyncio.gather(*(ask(n) for n in range(CALLS)))
            return responses, peak

    responses, peak = asyncio.run(ask_all())
    assert peak == CALLS, "the calls were not all in flight at once"
    for n, response in enumerate(responses):
        user_id, category, max_results = request(n)
        expected = [(book.id, book.title) for book in recommend(user_id, category, max_results)]
        got = [(book.id, book.title) for book in response.recommendations]
        assert got == expected, (n, user_id, category, max_results)
    assert sum(len(response.recommendations) for response in responses) > CALLS
