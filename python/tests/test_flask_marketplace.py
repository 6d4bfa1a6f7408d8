"""The notes' integration test, run against both marketplaces and both servers,
and the Flask marketplace's error pages."""

import importlib.util
import re
import sys
from collections.abc import Iterator
from types import ModuleType
from urllib.request import urlopen

import grpc
import pytest
from flask.testing import FlaskClient
from marketplaces import PYTHON, start_axum_marketplace, start_flask_marketplace
from notes_catalog import NOTES_BOOKS
from processes import Running
from recommendations_pb2 import BookCategory


def notes_integration_test(url: str) -> None:
    """The notes' marketplace_integration_test.py, with the address as a parameter."""
    homepage_html = urlopen(url).read().decode("utf-8")
    assert "<title>Online Books For You</title>" in homepage_html
    assert homepage_html.count("<li>") == 3


def listed_titles(html: str) -> set[str]:
    return set(re.findall(r"<li>\s*([^<]*?)\s*</li>", html))


def test_the_flask_marketplace_passes_the_notes_integration_test_with_the_rust_server(
    recommendations_server: Running,
) -> None:
    with start_flask_marketplace(recommendations_server) as marketplace:
        notes_integration_test(f"http://{marketplace.address}")


def test_the_flask_marketplace_passes_the_notes_integration_test_with_the_python_server(
    python_server: Running,
) -> None:
    with start_flask_marketplace(python_server) as marketplace:
        notes_integration_test(f"http://{marketplace.address}")


def test_the_axum_marketplace_passes_the_notes_integration_test_with_the_rust_server(
    recommendations_server: Running,
) -> None:
    with start_axum_marketplace(recommendations_server) as marketplace:
        notes_integration_test(f"http://{marketplace.address}")


def test_the_flask_homepage_lists_the_three_mystery_books(
    recommendations_server: Running,
) -> None:
    with start_flask_marketplace(recommendations_server) as marketplace:
        html = urlopen(f"http://{marketplace.address}/").read().decode("utf-8")
    assert "<h1>Mystery books you may like</h1>" in html
    assert listed_titles(html) == set(NOTES_BOOKS[BookCategory.MYSTERY].values())


# The homepage only ever asks for three mystery books, which no server refuses,
# so the other statuses are checked in process, with a client that fails.


class FailedCall(grpc.RpcError):
    """What a grpcio stub raises when a call ends with `code`."""

    def __init__(self, code: grpc.StatusCode) -> None:
        super().__init__()
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return "as the test asked"


class FailingClient:
    def __init__(self, code: grpc.StatusCode) -> None:
        self.code = code

    def Recommend(self, request: object, **kwargs: object) -> None:
        raise FailedCall(self.code)


@pytest.fixture(scope="module")
def marketplace_module() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location(
        "marketplace", PYTHON / "marketplace" / "marketplace.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as patch:
        # Flask finds the templates next to the module it is created in.
        patch.setitem(sys.modules, "marketplace", module)
        spec.loader.exec_module(module)
        yield module
    module.recommendations_channel.close()


@pytest.fixture
def client(marketplace_module: ModuleType) -> FlaskClient:
    return marketplace_module.app.test_client()


@pytest.mark.parametrize(
    ("code", "status", "headline"),
    [
        (grpc.StatusCode.UNAVAILABLE, 503, "Recommendations unavailable"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 503, "Recommendations unavailable"),
        (grpc.StatusCode.INVALID_ARGUMENT, 400, "Bad request"),
        (grpc.StatusCode.NOT_FOUND, 404, "Nothing found"),
        (grpc.StatusCode.INTERNAL, 502, "Recommendations failed"),
        (grpc.StatusCode.UNKNOWN, 502, "Recommendations failed"),
    ],
)
def test_a_failed_call_gives_a_short_page_with_a_fitting_status(
    client: FlaskClient,
    marketplace_module: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    code: grpc.StatusCode,
    status: int,
    headline: str,
) -> None:
    monkeypatch.setattr(marketplace_module, "recommendations_client", FailingClient(code))
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert f"<h1>{headline}</h1>" in html
    assert "Traceback" not in html
    assert "<li>" not in html
    assert (response.headers.get("Retry-After") == "5") == (status == 503)
