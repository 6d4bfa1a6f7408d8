"""A typed client of the bookstore's Recommendations service, for grpcio and grpc.aio.

The generated stubs are the top-level modules `recommendations_pb2` and
`recommendations_pb2_grpc`, imported as the notes import them; this package adds
clients with a default deadline, an `x-request-id` on every call and TLS options.
"""

from bookstore_recommendations._client import (
    DEFAULT_TIMEOUT,
    REQUEST_ID,
    AsyncRecommendationsClient,
    AsyncRequestIdInterceptor,
    RecommendationsClient,
    RequestIdInterceptor,
    Tls,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "REQUEST_ID",
    "AsyncRecommendationsClient",
    "AsyncRequestIdInterceptor",
    "RecommendationsClient",
    "RequestIdInterceptor",
    "Tls",
]
