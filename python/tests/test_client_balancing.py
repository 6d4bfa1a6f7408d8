"""The axum marketplace with a `dns:///HOST:PORT` Recommendations URL, as real
processes: it resolves `localhost` itself, serves the notes' books (in plain
HTTP/2 and in TLS checked against the host name), and finds a server killed
and restarted on its port again. How calls spread over several addresses is
tested in Rust (rust/marketplace/tests/api/balancing.rs), where the name can
resolve to two servers without touching /etc/hosts."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import grpc
from certs import make_pki
from marketplaces import MARKETPLACE_BIN, get, poll_until_ok
from notes_catalog import NOTES_BOOKS
from processes import Running, start_process, start_recommendations
from recommendations_pb2 import BookCategory

RESOLVE_INTERVAL_MS = 100


@contextmanager
def balanced_marketplace(server: Running, *args: str | Path) -> Iterator[Running]:
    """The axum marketplace reaching `server` through `dns:///localhost:PORT`."""
    argv: Sequence[str | Path] = [
        MARKETPLACE_BIN,
        "--listen",
        "127.0.0.1:0",
        "--recommendations-url",
        f"dns:///localhost:{server.port}",
        "--recommendations-resolve-interval-ms",
        str(RESOLVE_INTERVAL_MS),
        "--deadline-ms",
        "1000",
        *args,
    ]
    with start_process(argv, r"listening addr=(\S+)") as running:
        yield running


def listed_titles(html: str) -> set[str]:
    return set(re.findall(r"<li>\s*([^<]*?)\s*</li>", html))


def test_a_dns_url_serves_the_books_and_finds_a_restarted_server() -> None:
    with start_recommendations() as server:
        port = server.port
        with balanced_marketplace(server) as marketplace:
            assert "balancing over every address" in "\n".join(marketplace.log)
            page = poll_until_ok(f"http://{marketplace.address}/", within=10)
            assert page.status == 200, page
            assert listed_titles(page.html) == set(NOTES_BOOKS[BookCategory.MYSTERY].values())

            server.stop(signal.SIGKILL)
            assert get(f"http://{marketplace.address}/").status == 503
            with start_recommendations(port=port):
                page = poll_until_ok(f"http://{marketplace.address}/", within=10)
            assert page.status == 200, page


def test_a_dns_url_with_a_ca_speaks_tls_checked_against_the_host_name(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    health = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())
    tls = ["--tls-cert", pki.server_cert, "--tls-key", pki.server_key]
    with start_recommendations(*tls, credentials=health) as server:
        with balanced_marketplace(server, "--recommendations-ca", pki.ca) as marketplace:
            assert "tls=on" in "\n".join(marketplace.log)
            page = poll_until_ok(f"http://{marketplace.address}/", within=10)
        assert page.status == 200, page
        # A name the certificate does not carry: no page, though the address answers.
        wrong_name = ["--recommendations-ca", pki.ca, "--recommendations-tls-name", "elsewhere"]
        with balanced_marketplace(server, *wrong_name) as marketplace:
            assert get(f"http://{marketplace.address}/").status == 503
