"""The client distribution's convenience clients (python/sdk: bookstore_recommendations),
sync and asyncio, against the real Rust server: answers, deadlines, request ids,
TLS and mutual TLS. The certificates are made at test time (tests/certs.py).

Cost: about 2 s, most of it the slow catalogue the deadline tests load.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import grpc.aio
import pytest
from bookstore_recommendations import (
    REQUEST_ID,
    AsyncRecommendationsClient,
    RecommendationsClient,
    Tls,
)
from certs import Pki, make_pki
from notes_catalog import NOTES_BOOKS
from processes import Running, start_recommendations
from recommendations_pb2 import BookCategory, RecommendationRequest, RecommendationResponse
from recommendations_pb2_grpc import RecommendationsServicer, add_RecommendationsServicer_to_server

# A whole-category page of this many books takes the debug server most of a second.
SLOW_BOOKS = 200_000
DEADLINE = 0.02
SLOW_CALL_TIMEOUT = 60.0
# The slow call's user, to find its "received" line in the server's debug log.
SLOW_USER = 4242
ONE_MYSTERY = RecommendationRequest(user_id=1, category=BookCategory.MYSTERY, max_results=1)


def titles(response: RecommendationResponse) -> set[str]:
    return {book.title for book in response.recommendations}


def test_the_sync_client_gets_the_notes_books(recommendations_server: Running) -> None:
    with RecommendationsClient(recommendations_server.address) as client:
        response = client.recommend(1, BookCategory.MYSTERY, 3)
    assert isinstance(response, RecommendationResponse)
    assert titles(response) == set(NOTES_BOOKS[BookCategory.MYSTERY].values())


def test_the_async_client_gets_the_notes_books(recommendations_server: Running) -> None:
    async def ask() -> RecommendationResponse:
        async with AsyncRecommendationsClient(recommendations_server.address) as client:
            return await client.recommend(1, BookCategory.SELF_HELP, 3)

    response = asyncio.run(ask())
    assert titles(response) == set(NOTES_BOOKS[BookCategory.SELF_HELP].values())


def test_errors_are_grpcs_own_with_the_servers_status(recommendations_server: Running) -> None:
    with (
        RecommendationsClient(recommendations_server.address) as client,
        pytest.raises(grpc.RpcError) as raised,
    ):
        client.recommend(1, 7, 3)  # a category the contract does not have
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND

    async def ask() -> None:
        async with AsyncRecommendationsClient(recommendations_server.address) as client:
            await client.recommend(1, BookCategory.MYSTERY, -1)

    with pytest.raises(grpc.aio.AioRpcError) as failed:
        asyncio.run(ask())
    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A server that takes one call at a time per connection, with slow whole pages.

    A call made while a slow one holds the connection's only stream waits in the
    client, so its deadline passes there: DEADLINE_EXCEEDED every time. (A call the
    server has started may instead race the server's own timeout, which answers
    CANCELLED.)
    """
    path = tmp_path_factory.mktemp("catalogue") / "slow.json"
    books = ",".join(
        f'{{"id":{n},"category":"MYSTERY","title":"Book {n}"}}' for n in range(SLOW_BOOKS)
    )
    path.write_text(f'{{"books":[{books}]}}')
    args = ["--catalog", path, "--max-page", str(SLOW_BOOKS), "--max-concurrent-streams", "1"]
    env = {"RUST_LOG": "info,recommendations_server::service=debug"}
    with start_recommendations(*args, env=env) as server:
        yield server


# A whole page of SLOW_BOOKS is larger than grpcio's default 4 MiB receive limit.
UNLIMITED = [("grpc.max_receive_message_length", -1)]
SLOW_CALL_RECEIVED = rf"\buser_id={SLOW_USER}\b.*: received$"


def test_the_default_deadline_bounds_every_call_and_a_call_may_extend_it(
    slow_server: Running,
) -> None:
    with (
        RecommendationsClient(slow_server.address, timeout=DEADLINE, options=UNLIMITED) as client,
        futures.ThreadPoolExecutor(max_workers=1) as pool,
    ):
        client.recommend(1, BookCategory.MYSTERY, 1, timeout=SLOW_CALL_TIMEOUT)  # connected
        # Far longer than the client's default deadline, allowed by its own.
        whole = pool.submit(
            client.recommend, SLOW_USER, BookCategory.MYSTERY, SLOW_BOOKS, timeout=SLOW_CALL_TIMEOUT
        )
        slow_server.wait_for_log(SLOW_CALL_RECEIVED)
        with pytest.raises(grpc.RpcError) as raised:
            client.recommend(1, BookCategory.MYSTERY, 1)
        assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert len(whole.result().recommendations) == SLOW_BOOKS


def test_the_async_clients_deadline_bounds_its_calls(slow_server: Running) -> None:
    async def ask() -> tuple[int, grpc.StatusCode]:
        async with AsyncRecommendationsClient(
            slow_server.address, timeout=DEADLINE, options=UNLIMITED
        ) as client:
            await client.recommend(1, BookCategory.MYSTERY, 1, timeout=SLOW_CALL_TIMEOUT)
            whole = asyncio.create_task(
                client.recommend(
                    SLOW_USER, BookCategory.MYSTERY, SLOW_BOOKS, timeout=SLOW_CALL_TIMEOUT
                )
            )
            await asyncio.to_thread(slow_server.wait_for_log, SLOW_CALL_RECEIVED)
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await client.recommend(1, BookCategory.MYSTERY, 1)
            return len((await whole).recommendations), raised.value.code()

    assert asyncio.run(ask()) == (SLOW_BOOKS, grpc.StatusCode.DEADLINE_EXCEEDED)


def test_a_deadline_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        RecommendationsClient("localhost:50051", timeout=0)


def test_a_given_request_id_reaches_the_servers_log_and_comes_back(
    recommendations_server: Running,
) -> None:
    with RecommendationsClient(recommendations_server.address) as client:
        client.recommend(1, BookCategory.MYSTERY, 1, request_id="sdk-sync-4711")
        # The raw stub on the client's channel keeps a caller's id too.
        _, call = client.stub.Recommend.with_call(
            ONE_MYSTERY, timeout=10, metadata=((REQUEST_ID, "sdk-stub-4712"),)
        )
    assert dict(call.initial_metadata())[REQUEST_ID] == "sdk-stub-4712"

    async def ask() -> None:
        async with AsyncRecommendationsClient(recommendations_server.address) as client:
            await client.recommend(1, BookCategory.MYSTERY, 1, request_id="sdk-aio-4713")

    asyncio.run(ask())
    for request_id in ("sdk-sync-4711", "sdk-stub-4712", "sdk-aio-4713"):
        recommendations_server.wait_for_log(rf'handled .*request_id="{request_id}" code=Ok')


class Recorder(RecommendationsServicer):
    """A stand-in server that keeps the x-request-id of every call it gets."""

    def __init__(self) -> None:
        self.request_ids: list[str] = []

    def Recommend(self, request, context):
        self.request_ids.append(dict(context.invocation_metadata()).get(REQUEST_ID, ""))
        return RecommendationResponse()


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, str]]:
    servicer = Recorder()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    add_RecommendationsServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


def test_every_call_without_an_id_gets_a_fresh_uuid4(recorder: tuple[Recorder, str]) -> None:
    servicer, address = recorder
    with RecommendationsClient(address) as client:
        for _ in range(3):
            client.recommend(1, BookCategory.MYSTERY, 1)
        client.stub.Recommend(ONE_MYSTERY, timeout=10)

    async def ask() -> None:
        async with AsyncRecommendationsClient(address) as client:
            await asyncio.gather(*(client.recommend(1, BookCategory.MYSTERY, 1) for _ in range(3)))

    asyncio.run(ask())
    assert len(servicer.request_ids) == 7
    assert len(set(servicer.request_ids)) == 7
    assert all(uuid.UUID(made).version == 4 for made in servicer.request_ids)


# TLS and mutual TLS.


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(pki: Pki) -> Iterator[Running]:
    args = ["--tls-cert", pki.server_cert, "--tls-key", pki.server_key]
    health = Tls.from_files(ca=pki.ca).credentials()
    with start_recommendations(*args, credentials=health) as server:
        yield server


@pytest.fixture(scope="module")
def mtls_server(pki: Pki) -> Iterator[Running]:
    args = ["--tls-cert", pki.server_cert, "--tls-key", pki.server_key, "--client-ca", pki.ca]
    health = Tls.from_files(ca=pki.ca, cert=pki.client_cert, key=pki.client_key).credentials()
    with start_recommendations(*args, credentials=health) as server:
        yield server


def test_tls_with_the_servers_ca(tls_server: Running, pki: Pki) -> None:
    with RecommendationsClient(tls_server.address, tls=Tls.from_files(ca=pki.ca)) as client:
        assert len(client.recommend(1, BookCategory.MYSTERY, 2).recommendations) == 2


def test_the_server_name_can_be_overridden(tls_server: Running, pki: Pki) -> None:
    # The server's certificate names localhost and 127.0.0.1, not this name.
    port = tls_server.port
    wrong = Tls.from_files(ca=pki.ca, server_name="recommendations.example")
    with (
        RecommendationsClient(f"127.0.0.1:{port}", tls=wrong, timeout=5) as client,
        pytest.raises(grpc.RpcError) as raised,
    ):
        client.recommend(1, BookCategory.MYSTERY, 1)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    right = Tls.from_files(ca=pki.ca, server_name="localhost")
    with RecommendationsClient(f"127.0.0.1:{port}", tls=right) as client:
        assert len(client.recommend(1, BookCategory.MYSTERY, 1).recommendations) == 1


def test_mutual_tls_with_a_client_certificate(mtls_server: Running, pki: Pki) -> None:
    tls = Tls.from_files(ca=pki.ca, cert=pki.client_cert, key=pki.client_key)
    with RecommendationsClient(mtls_server.address, tls=tls) as client:
        assert len(client.recommend(1, BookCategory.MYSTERY, 3).recommendations) == 3

    async def ask() -> int:
        async with AsyncRecommendationsClient(mtls_server.address, tls=tls) as client:
            return len((await client.recommend(1, BookCategory.SELF_HELP, 2)).recommendations)

    assert asyncio.run(ask()) == 2


def test_mutual_tls_refuses_a_client_without_a_certificate(mtls_server: Running, pki: Pki) -> None:
    with (
        RecommendationsClient(mtls_server.address, tls=Tls.from_files(ca=pki.ca)) as client,
        pytest.raises(grpc.RpcError) as raised,
    ):
        client.recommend(1, BookCategory.MYSTERY, 1)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_client_certificate_needs_its_key(pki: Pki) -> None:
    with pytest.raises(ValueError, match="go together"):
        Tls.from_files(ca=pki.ca, cert=pki.client_cert)


def test_tls_reads_its_pem_files(pki: Pki) -> None:
    tls = Tls.from_files(ca=pki.ca, cert=Path(pki.client_cert), key=str(pki.client_key))
    assert tls.root_certificates == pki.ca.read_bytes()
    assert tls.certificate_chain == pki.client_cert.read_bytes()
    assert tls.private_key == pki.client_key.read_bytes()
