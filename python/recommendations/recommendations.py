# The notes' Recommendations server (recommendations/recommendations.py), kept as
# the notes write it. It is the reference implementation the Rust server is
# compared against. Changes from the notes, each marked "Change:" below:
#   - the listen address can be overridden with RECOMMENDATIONS_LISTEN (default
#     the notes' "[::]:50051"), so tests can run it on a free port (port 0);
#   - after binding it prints "listening addr=HOST:PORT" with the bound port, so
#     a launcher started on port 0 learns the port;
#   - it also serves the standard gRPC health service (an addition, so
#     launchers can wait for it to be ready).
import os
import random
from concurrent import futures

import grpc
import recommendations_pb2_grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from recommendations_pb2 import (
    BookCategory,
    BookRecommendation,
    RecommendationResponse,
)

books_by_category = {
    BookCategory.MYSTERY: [
        BookRecommendation(id=1, title="The Maltese Falcon"),
        BookRecommendation(id=2, title="Murder on the Orient Express"),
        BookRecommendation(id=3, title="The Hound of the Baskervilles"),
    ],
    BookCategory.SCIENCE_FICTION: [
        BookRecommendation(id=4, title="The Hitchhiker's Guide to the Galaxy"),
        BookRecommendation(id=5, title="Ender's Game"),
        BookRecommendation(id=6, title="The Dune Chronicles"),
    ],
    BookCategory.SELF_HELP: [
        BookRecommendation(id=7, title="The 7 Habits of Highly Effective People"),
        BookRecommendation(id=8, title="How to Win Friends and Influence People"),
        BookRecommendation(id=9, title="Man's Search for Meaning"),
    ],
}


class RecommendationService(recommendations_pb2_grpc.RecommendationsServicer):
    def Recommend(self, request, context):
        if request.category not in books_by_category:
            context.abort(grpc.StatusCode.NOT_FOUND, "Category not found")
        books_for_category = books_by_category[request.category]
        num_results = min(request.max_results, len(books_for_category))
        books_to_recommend = random.sample(books_for_category, num_results)
        return RecommendationResponse(recommendations=books_to_recommend)


def serve():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))
    recommendations_pb2_grpc.add_RecommendationsServicer_to_server(RecommendationService(), server)
    # Change: the notes hard-code "[::]:50051"; tests need a free port.
    listen = os.getenv("RECOMMENDATIONS_LISTEN", "[::]:50051")
    port = server.add_insecure_port(listen)
    # Addition: gRPC health, SERVING for the whole server and for Recommendations.
    health_servicer = health.HealthServicer()
    for service in ("", "Recommendations"):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.start()
    # Change: report the bound address (the real port when asked for port 0).
    print(f"listening addr={listen.rsplit(':', 1)[0]}:{port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    serve()
