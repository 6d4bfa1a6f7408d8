from collections.abc import Iterator

import grpc
import pytest
from marketplaces import start_python_recommendations
from processes import Running, start_recommendations
from recommendations_pb2_grpc import RecommendationsStub


@pytest.fixture(scope="session")
def recommendations_server() -> Iterator[Running]:
    """The real Rust server with the notes' catalogue, shared by the tests that only read."""
    with start_recommendations() as server:
        yield server


@pytest.fixture(scope="session")
def python_server() -> Iterator[Running]:
    """The notes' own Python server (python/recommendations), shared by the tests that only read."""
    with start_python_recommendations() as server:
        yield server


@pytest.fixture
def channel(recommendations_server: Running) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(recommendations_server.address) as channel:
        yield channel


@pytest.fixture
def stub(channel: grpc.Channel) -> RecommendationsStub:
    """A client made exactly as the notes make one."""
    return RecommendationsStub(channel)
