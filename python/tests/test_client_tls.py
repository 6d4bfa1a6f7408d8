"""Both marketplaces as clients of a Recommendations server that demands mutual
TLS: pages over mTLS end to end, and a clear 503 page (never a 500) for a
marketplace that has no client certificate. The certificates are made at test
time (tests/certs.py)."""

import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import grpc
import pytest
from certs import Pki, make_pki
from marketplaces import MARKETPLACE_BIN, get, start_axum_marketplace, start_flask_marketplace
from notes_catalog import NOTES_BOOKS
from processes import Running, start_recommendations
from recommendations_pb2 import BookCategory

# A marketplace started against a server, trusting `ca` and presenting
# `cert`/`key` when given.
Launcher = Callable[..., AbstractContextManager[Running]]


def flask_over_tls(
    server: Running, ca: Path, cert: Path | None = None, key: Path | None = None
) -> AbstractContextManager[Running]:
    env = {"RECOMMENDATIONS_CA": str(ca)}
    if cert and key:
        env |= {"RECOMMENDATIONS_CLIENT_CERT": str(cert), "RECOMMENDATIONS_CLIENT_KEY": str(key)}
    return start_flask_marketplace(server, env=env)


def axum_over_tls(
    server: Running, ca: Path, cert: Path | None = None, key: Path | None = None
) -> AbstractContextManager[Running]:
    args: list[str | Path] = ["--recommendations-ca", ca]
    if cert and key:
        args += ["--recommendations-client-cert", cert, "--recommendations-client-key", key]
    return start_axum_marketplace(server, args=args, scheme="https")


LAUNCHERS = {"flask": flask_over_tls, "axum": axum_over_tls}


@pytest.fixture(params=list(LAUNCHERS))
def launch(request: pytest.FixtureRequest) -> Launcher:
    return LAUNCHERS[request.param]


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


@pytest.fixture
def mtls_server(pki: Pki) -> Iterator[Running]:
    """The Rust server accepting only clients with a certificate of the test CA."""
    args = ["--tls-cert", pki.server_cert, "--tls-key", pki.server_key, "--client-ca", pki.ca]
    health = grpc.ssl_channel_credentials(
        root_certificates=pki.ca.read_bytes(),
        private_key=pki.client_key.read_bytes(),
        certificate_chain=pki.client_cert.read_bytes(),
    )
    with start_recommendations(*args, credentials=health) as server:
        yield server


def listed_titles(html: str) -> set[str]:
    return set(re.findall(r"<li>\s*([^<]*?)\s*</li>", html))


def test_a_marketplace_with_a_client_certificate_serves_books_over_mutual_tls(
    launch: Launcher, mtls_server: Running, pki: Pki
) -> None:
    with launch(mtls_server, pki.ca, pki.client_cert, pki.client_key) as marketplace:
        page = get(f"http://{marketplace.address}/")
    assert page.status == 200, page
    assert "<h1>Mystery books you may like</h1>" in page.html
    assert listed_titles(page.html) == set(NOTES_BOOKS[BookCategory.MYSTERY].values())


def test_a_marketplace_without_a_client_certificate_gets_a_503_page(
    launch: Launcher, mtls_server: Running, pki: Pki
) -> None:
    with launch(mtls_server, pki.ca) as marketplace:
        page = get(f"http://{marketplace.address}/")
    assert page.status == 503, page
    assert "<h1>Recommendations unavailable</h1>" in page.html
    assert "Traceback" not in page.html


def test_a_marketplace_with_another_cas_certificate_gets_a_503_page(
    launch: Launcher, mtls_server: Running, pki: Pki
) -> None:
    cert, key = pki.other_client_cert, pki.other_client_key
    with launch(mtls_server, pki.ca, cert, key) as marketplace:
        page = get(f"http://{marketplace.address}/")
    assert page.status == 503, page


def start_axum_expecting_failure(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Runs the axum marketplace with `args`, which must stop it at start-up."""
    argv = [MARKETPLACE_BIN, "--listen", "127.0.0.1:0", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


def test_the_axum_marketplace_refuses_to_start_with_an_unreadable_ca(tmp_path: Path) -> None:
    missing = tmp_path / "missing-ca.pem"
    url = "https://127.0.0.1:50051"
    ended = start_axum_expecting_failure(
        "--recommendations-url", url, "--recommendations-ca", missing
    )
    assert ended.returncode != 0
    assert f"cannot read the CA file {missing}" in ended.stderr, ended.stderr


def test_the_axum_marketplace_refuses_a_client_certificate_without_its_key(pki: Pki) -> None:
    ended = start_axum_expecting_failure("--recommendations-client-cert", pki.client_cert)
    assert ended.returncode == 2, ended.stderr  # clap's usage error
    assert "--recommendations-client-key" in ended.stderr, ended.stderr
