"""The notes' Recommendations servicer under `grpc.aio`, for `just bench` only.

The same catalogue and the same selection as python/recommendations/recommendations.py
(the notes' server, on a ThreadPoolExecutor of 10), served by grpcio's asyncio
server instead: a coroutine per call on one event loop, no thread pool. Its
launch is the notes' too: RECOMMENDATIONS_LISTEN (default "[::]:50051") and a
"listening addr=HOST:PORT" line once bound.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from pathlib import Path

import grpc
import recommendations_pb2_grpc
from recommendations_pb2 import RecommendationRequest, RecommendationResponse

# The notes' catalogue, from the notes' server itself.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recommendations"))
from recommendations import books_by_category


class AsyncRecommendationService(recommendations_pb2_grpc.RecommendationsServicer):
    """The notes' RecommendationService.Recommend, line for line, as a coroutine."""

    async def Recommend(
        self, request: RecommendationRequest, context: grpc.aio.ServicerContext
    ) -> RecommendationResponse:
        if request.category not in books_by_category:
            await context.abort(grpc.StatusCode.NOT_FOUND, "Category not found")
        books_for_category = books_by_category[request.category]
        num_results = min(request.max_results, len(books_for_category))
        books_to_recommend = random.sample(books_for_category, num_results)
        return RecommendationResponse(recommendations=books_to_recommend)


async def serve() -> None:
    server = grpc.aio.server()
    recommendations_pb2_grpc.add_RecommendationsServicer_to_server(
        AsyncRecommendationService(), server
    )
    listen = os.getenv("RECOMMENDATIONS_LISTEN", "[::]:50051")
    port = server.add_insecure_port(listen)
    await server.start()
    print(f"listening addr={listen.rsplit(':', 1)[0]}:{port}", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(serve())
