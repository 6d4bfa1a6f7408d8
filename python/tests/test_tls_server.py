"""The real `recommendations` binary serving TLS and mutual TLS to grpcio clients,
with certificates made at test time (tests/certs.py)."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from certs import Pki, make_pki
from processes import RECOMMENDATIONS_BIN, Running, start_recommendations
from recommendations_pb2 import BookCategory, RecommendationRequest
from recommendations_pb2_grpc import RecommendationsStub

REQUEST = RecommendationRequest(user_id=1, category=BookCategory.MYSTERY, max_results=2)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


def credentials(pki: Pki, cert: Path | None = None, key: Path | None = None):
    """Trusts the test CA; presents `cert` and `key` when given."""
    return grpc.ssl_channel_credentials(
        root_certificates=pki.ca.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )


def client_credentials(pki: Pki):
    return credentials(pki, pki.client_cert, pki.client_key)


@pytest.fixture
def tls_server(pki: Pki) -> Iterator[Running]:
    args = ["--tls-cert", pki.server_cert, "--tls-key", pki.server_key]
    with start_recommendations(*args, credentials=credentials(pki)) as server:
        yield server


@pytest.fixture
def mtls_server(pki: Pki) -> Iterator[Running]:
    args = ["--tls-cert", pki.server_cert, "--tls-key", pki.server_key, "--client-ca", pki.ca]
    with start_recommendations(*args, credentials=client_credentials(pki)) as server:
        yield server


def recommend(address: str, creds) -> int:
    with grpc.secure_channel(address, creds) as channel:
        reply = RecommendationsStub(channel).Recommend(REQUEST, timeout=10)
    return len(reply.recommendations)


def test_a_tls_server_answers_an_ssl_channel_and_says_so(tls_server: Running, pki: Pki) -> None:
    assert recommend(tls_server.address, credentials(pki)) == 2
    assert "tls=on" in tls_server.log[0], tls_server.log[0]


def test_a_tls_server_refuses_plaintext(tls_server: Running) -> None:
    with (
        grpc.insecure_channel(tls_server.address) as channel,
        pytest.raises(grpc.RpcError) as raised,
    ):
        RecommendationsStub(channel).Recommend(REQUEST, timeout=5)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_serves_a_client_of_the_ca(mtls_server: Running, pki: Pki) -> None:
    assert recommend(mtls_server.address, client_credentials(pki)) == 2
    assert "tls=mutual" in mtls_server.log[0], mtls_server.log[0]


def test_mutual_tls_refuses_a_client_without_a_certificate(mtls_server: Running, pki: Pki) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        recommend(mtls_server.address, credentials(pki))
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_refuses_a_certificate_of_another_ca(mtls_server: Running, pki: Pki) -> None:
    stranger = credentials(pki, pki.other_client_cert, pki.other_client_key)
    with pytest.raises(grpc.RpcError) as raised:
        recommend(mtls_server.address, stranger)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    # The server still serves its own clients afterwards.
    assert recommend(mtls_server.address, client_credentials(pki)) == 2


def run_server(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RECOMMENDATIONS_BIN, "--listen", "127.0.0.1:0", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    "flags",
    [["--tls-cert"], ["--tls-key"], ["--client-ca"], ["--client-ca", "--tls-key"]],
)
def test_incomplete_tls_flags_are_a_usage_error(pki: Pki, flags: list[str]) -> None:
    files = {"--tls-cert": pki.server_cert, "--tls-key": pki.server_key, "--client-ca": pki.ca}
    result = run_server(*[part for flag in flags for part in (flag, files[flag])])
    assert result.returncode == 2, result.stderr
    assert "required" in result.stderr


def test_a_garbage_key_stops_start_up_naming_the_file(pki: Pki) -> None:
    pki.server_key.write_text("not a key\n")
    result = run_server("--tls-cert", pki.server_cert, "--tls-key", pki.server_key)
    assert result.returncode == 1
    assert f"the TLS key (--tls-key) {pki.server_key} is not usable" in result.stderr
    assert "panicked" not in result.stderr


def test_a_key_that_does_not_match_the_certificate_stops_start_up(pki: Pki) -> None:
    result = run_server("--tls-cert", pki.server_cert, "--tls-key", pki.client_key)
    assert result.returncode == 1
    assert f"--tls-cert {pki.server_cert} and --tls-key {pki.client_key}" in result.stderr


def test_a_missing_client_ca_stops_start_up_naming_the_file(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    tls = ["--tls-cert", pki.server_cert, "--tls-key", pki.server_key]
    result = run_server(*tls, "--client-ca", missing)
    assert result.returncode == 1
    assert f"cannot read the client CA file (--client-ca) {missing}" in result.stderr
