# The notes' marketplace (marketplace/marketplace.py), kept as the notes write
# it: one global channel to the Recommendations service, reused by every
# request. It imports the buf-generated stubs as the notes do, from the installed
# client distribution (python/sdk). Changes from the notes, each marked "Change:" below:
#   - RECOMMENDATIONS_PORT (default the notes' 50051) so tests can point it at a
#     server on a free port;
#   - each call has a deadline, RECOMMENDATIONS_TIMEOUT seconds (default 2), so
#     a slow or hung service cannot hold a page forever;
#   - the channel retries a lost connection at least every second, so pages come
#     back as soon as the service does, without a restart;
#   - a failed call gives a short HTML page with a fitting status (503 when the
#     service is down or slow, 400/404 when it rejects the request) instead of
#     a 500 with a stack trace;
#   - RECOMMENDATIONS_CA, RECOMMENDATIONS_CLIENT_CERT and RECOMMENDATIONS_CLIENT_KEY
#     (PEM files) switch the channel to TLS, with a client certificate for mutual TLS;
#   - every call carries the page's request id as x-request-id metadata.
import os
import uuid

import grpc
from flask import Flask, has_request_context, render_template, request
from recommendations_pb2 import BookCategory, RecommendationRequest
from recommendations_pb2_grpc import RecommendationsStub

app = Flask(__name__)

recommendations_host = os.getenv("RECOMMENDATIONS_HOST", "localhost")
# Change: the notes hard-code port 50051.
recommendations_port = os.getenv("RECOMMENDATIONS_PORT", "50051")
# Change: per-call deadline in seconds; without one a call to a hung service never returns.
recommendations_timeout = float(os.getenv("RECOMMENDATIONS_TIMEOUT", "2"))
# Change: grpc's reconnect backoff may grow to 120 s by default, which could keep
# a channel that lost its server failing for long after the server is back.
# Capping it at 1 s bounds that wait to about a second.
reconnect_options = [
    ("grpc.initial_reconnect_backoff_ms", 1000),
    ("grpc.min_reconnect_backoff_ms", 1000),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


# Change: TLS when any of the PEM files is given; the notes' plaintext channel otherwise.
def read_pem(variable):
    path = os.getenv(variable)
    if not path:
        return None
    with open(path, "rb") as pem:
        return pem.read()


recommendations_ca = read_pem("RECOMMENDATIONS_CA")
recommendations_client_cert = read_pem("RECOMMENDATIONS_CLIENT_CERT")
recommendations_client_key = read_pem("RECOMMENDATIONS_CLIENT_KEY")
if (recommendations_client_cert is None) != (recommendations_client_key is None):
    raise SystemExit(
        "RECOMMENDATIONS_CLIENT_CERT and RECOMMENDATIONS_CLIENT_KEY go together: set both"
    )
recommendations_target = f"{recommendations_host}:{recommendations_port}"
if recommendations_ca or recommendations_client_cert:
    # Without a CA file, grpc trusts its default roots.
    credentials = grpc.ssl_channel_credentials(
        root_certificates=recommendations_ca,
        private_key=recommendations_client_key,
        certificate_chain=recommendations_client_cert,
    )
    recommendations_channel = grpc.secure_channel(
        recommendations_target, credentials, options=reconnect_options
    )
else:
    recommendations_channel = grpc.insecure_channel(
        recommendations_target, options=reconnect_options
    )


# Change: the page's request id goes with every call, so the service logs the same id.
class RequestIdInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Adds x-request-id metadata: the incoming X-Request-Id header, or a fresh uuid4."""

    def intercept_unary_unary(self, continuation, client_call_details, request_message):
        metadata = [*(client_call_details.metadata or []), ("x-request-id", request_id())]
        return continuation(CallDetails(client_call_details, metadata), request_message)


class CallDetails(grpc.ClientCallDetails):
    """The call's details, with other metadata."""

    def __init__(self, details, metadata):
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = details.wait_for_ready
        self.compression = details.compression


def request_id():
    incoming = request.headers.get("X-Request-Id", "") if has_request_context() else ""
    # Only printable ASCII can be gRPC metadata; anything else gets a fresh id.
    if incoming and incoming.isascii() and incoming.isprintable():
        return incoming
    return str(uuid.uuid4())


recommendations_channel = grpc.intercept_channel(recommendations_channel, RequestIdInterceptor())
recommendations_client = RecommendationsStub(recommendations_channel)


@app.route("/")
def render_homepage():
    recommendations_request = RecommendationRequest(
        user_id=1, category=BookCategory.MYSTERY, max_results=3
    )
    # Change: timeout= bounds the call; wait_for_ready=False (grpc's default,
    # spelled out) fails at once while the service is down instead of waiting.
    recommendations_response = recommendations_client.Recommend(
        recommendations_request, timeout=recommendations_timeout, wait_for_ready=False
    )
    return render_template(
        "homepage.html", recommendations=recommendations_response.recommendations
    )


# Change: the notes let a failed call become a 500 with a stack trace.
UNAVAILABLE = "Recommendations are unavailable right now, please try again shortly."
ERROR_PAGES = {
    grpc.StatusCode.UNAVAILABLE: (503, "Recommendations unavailable", UNAVAILABLE),
    grpc.StatusCode.DEADLINE_EXCEEDED: (503, "Recommendations unavailable", UNAVAILABLE),
    grpc.StatusCode.INVALID_ARGUMENT: (
        400,
        "Bad request",
        "The Recommendations service refused this request.",
    ),
    grpc.StatusCode.NOT_FOUND: (
        404,
        "Nothing found",
        "The Recommendations service does not know this category.",
    ),
}
OTHER_ERROR = (
    502,
    "Recommendations failed",
    "The Recommendations service could not answer, please try again later.",
)


@app.errorhandler(grpc.RpcError)
def render_recommendations_error(error):
    status, headline, message = ERROR_PAGES.get(error.code(), OTHER_ERROR)
    app.logger.warning("Recommend failed: %s %s", error.code(), error.details())
    headers = {"Retry-After": "5"} if status == 503 else {}
    page = render_template("unavailable.html", headline=headline, message=message)
    return page, status, headers
