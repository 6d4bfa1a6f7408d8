"""The convenience clients: a channel, its deadline, request ids and TLS in one object."""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import grpc
import grpc.aio
from recommendations_pb2 import BookCategory, RecommendationRequest, RecommendationResponse
from recommendations_pb2_grpc import RecommendationsStub

if TYPE_CHECKING:
    # Names that exist only in the type stubs: what a continuation returns, and
    # the type of the generated stub on a grpc.aio channel.
    from grpc import _CallFuture
    from recommendations_pb2_grpc import RecommendationsAsyncStub

DEFAULT_TIMEOUT = 10.0
"""Seconds a call may take unless the client or the call says otherwise."""

REQUEST_ID = "x-request-id"
"""The metadata key of the request id; the Recommendations server logs it and sends it back."""

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
# (key, value) pairs for grpcio's `options=`, e.g. ("grpc.max_receive_message_length", -1).
ChannelOptions = Sequence[tuple[str, Any]]


def _with_request_id(
    metadata: Sequence[tuple[str, str | bytes]] | None,
) -> list[tuple[str, str | bytes]]:
    """The call's metadata, plus a fresh uuid4 request id when the caller gave none."""
    pairs = list(metadata or ())
    if not any(key.lower() == REQUEST_ID for key, _ in pairs):
        pairs.append((REQUEST_ID, str(uuid.uuid4())))
    return pairs


class _CallDetails(grpc.ClientCallDetails):
    """A call's details with other metadata (grpcio's class cannot be copied)."""

    def __init__(
        self, details: grpc.ClientCallDetails, metadata: Sequence[tuple[str, str | bytes]]
    ) -> None:
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = tuple(metadata)
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


class RequestIdInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Gives every unary call an `x-request-id`: a fresh uuid4 unless the call carries one.

    For a channel of your own: `grpc.intercept_channel(channel, RequestIdInterceptor())`.
    """

    def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.ClientCallDetails, _Request], _CallFuture[_Response]],
        client_call_details: grpc.ClientCallDetails,
        request: _Request,
    ) -> _CallFuture[_Response]:
        metadata = _with_request_id(client_call_details.metadata)
        return continuation(_CallDetails(client_call_details, metadata), request)


class AsyncRequestIdInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """`RequestIdInterceptor` for grpc.aio:
    `grpc.aio.insecure_channel(target, interceptors=[AsyncRequestIdInterceptor()])`."""

    async def intercept_unary_unary(
        self,
        continuation: Callable[
            [grpc.aio.ClientCallDetails, _Request],
            Awaitable[grpc.aio.UnaryUnaryCall[_Request, _Response]],
        ],
        client_call_details: grpc.aio.ClientCallDetails,
        request: _Request,
    ) -> grpc.aio.UnaryUnaryCall[_Request, _Response]:
        metadata = _with_request_id(list(client_call_details.metadata or ()))
        details = grpc.aio.ClientCallDetails(
            client_call_details.method,
            client_call_details.timeout,
            grpc.aio.Metadata(*metadata),
            client_call_details.credentials,
            getattr(client_call_details, "wait_for_ready", None),
        )
        return await continuation(details, request)


def _read(path: str | os.PathLike[str] | None) -> bytes | None:
    return None if path is None else Path(path).read_bytes()


@dataclass(frozen=True)
class Tls:
    """TLS for the channel; mutual TLS with `certificate_chain` and `private_key`.

    All PEM bytes. Without `root_certificates`, grpcio trusts its default roots.
    `server_name` overrides the name the server's certificate must have (by default
    the target's host), for example when connecting by IP address.
    """

    root_certificates: bytes | None = None
    certificate_chain: bytes | None = None
    private_key: bytes | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if (self.certificate_chain is None) != (self.private_key is None):
            raise ValueError(
                "certificate_chain and private_key go together: give both for mutual TLS"
            )

    @classmethod
    def from_files(
        cls,
        *,
        ca: str | os.PathLike[str] | None = None,
        cert: str | os.PathLike[str] | None = None,
        key: str | os.PathLike[str] | None = None,
        server_name: str | None = None,
    ) -> Tls:
        """TLS from PEM files: the CA to trust, and the client's certificate and key."""
        return cls(_read(ca), _read(cert), _read(key), server_name)

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.root_certificates,
            private_key=self.private_key,
            certificate_chain=self.certificate_chain,
        )

    def options(self) -> list[tuple[str, Any]]:
        if self.server_name is None:
            return []
        return [("grpc.ssl_target_name_override", self.server_name)]


def _request(
    user_id: int, category: BookCategory.ValueType | int, max_results: int
) -> RecommendationRequest:
    return RecommendationRequest(
        user_id=user_id, category=BookCategory.ValueType(category), max_results=max_results
    )


def _check_timeout(timeout: float) -> float:
    if not timeout > 0:
        raise ValueError(f"the deadline must be a positive number of seconds, not {timeout}")
    return timeout


class RecommendationsClient:
    """A grpcio client of the Recommendations service, on one channel it owns.

    `target` is grpcio's, e.g. "localhost:50051". Every call gets a deadline
    (`timeout` seconds, or the call's own `timeout=`) and an `x-request-id`. A
    failed call raises grpcio's `grpc.RpcError`, with `code()` and `details()`.
    Close it with `close()` or use it as a context manager.
    """

    def __init__(
        self,
        target: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        tls: Tls | None = None,
        options: ChannelOptions = (),
    ) -> None:
        self.timeout = _check_timeout(timeout)
        if tls is None:
            self._channel = grpc.insecure_channel(target, options=list(options))
        else:
            self._channel = grpc.secure_channel(
                target, tls.credentials(), options=[*tls.options(), *options]
            )
        self._stub = RecommendationsStub(
            grpc.intercept_channel(self._channel, RequestIdInterceptor())
        )

    @property
    def stub(self) -> RecommendationsStub:
        """The generated stub on this client's channel: its calls carry request ids too,
        but get no default deadline."""
        return self._stub

    def recommend(
        self,
        user_id: int,
        category: BookCategory.ValueType | int,
        max_results: int,
        *,
        timeout: float | None = None,
        request_id: str | None = None,
    ) -> RecommendationResponse:
        """Up to `max_results` books of `category` for `user_id`.

        `timeout` overrides the client's deadline for this call; `request_id` is
        sent as `x-request-id` instead of a fresh uuid4.
        """
        metadata = None if request_id is None else ((REQUEST_ID, request_id),)
        return self._stub.Recommend(
            _request(user_id, category, max_results),
            timeout=self.timeout if timeout is None else timeout,
            metadata=metadata,
        )

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncRecommendationsClient:
    """`RecommendationsClient` for asyncio, on one `grpc.aio` channel.

    Create it inside the event loop that uses it. Calls may run concurrently on
    the one channel. A failed call raises `grpc.aio.AioRpcError` (a `grpc.RpcError`).
    """

    def __init__(
        self,
        target: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        tls: Tls | None = None,
        options: ChannelOptions = (),
    ) -> None:
        self.timeout = _check_timeout(timeout)
        interceptors = [AsyncRequestIdInterceptor()]
        if tls is None:
            self._channel = grpc.aio.insecure_channel(
                target, options=list(options), interceptors=interceptors
            )
        else:
            self._channel = grpc.aio.secure_channel(
                target,
                tls.credentials(),
                options=[*tls.options(), *options],
                interceptors=interceptors,
            )
        self._stub: RecommendationsAsyncStub = RecommendationsStub(self._channel)

    @property
    def stub(self) -> RecommendationsAsyncStub:
        """The generated stub on this client's channel: its calls carry request ids too,
        but get no default deadline."""
        return self._stub

    async def recommend(
        self,
        user_id: int,
        category: BookCategory.ValueType | int,
        max_results: int,
        *,
        timeout: float | None = None,
        request_id: str | None = None,
    ) -> RecommendationResponse:
        """Up to `max_results` books of `category` for `user_id`; see
        `RecommendationsClient.recommend`."""
        metadata = None if request_id is None else grpc.aio.Metadata((REQUEST_ID, request_id))
        return await self._stub.Recommend(
            _request(user_id, category, max_results),
            timeout=self.timeout if timeout is None else timeout,
            metadata=metadata,
        )

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
