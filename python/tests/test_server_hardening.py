"""The `recommendations` binary under hostile and heavy use: bounded pages on a
million-book catalogue, deadlines, load shedding, request ids, the access log,
Prometheus metrics, and malformed calls. Everything runs on loopback, with
bounded numbers of calls."""

import re
import subprocess
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from processes import RECOMMENDATIONS_BIN, Running, start_recommendations
from recommendations_pb2 import BookCategory, RecommendationRequest, RecommendationResponse
from recommendations_pb2_grpc import RecommendationsStub

MILLION = 1_000_000
INT32_MAX = 2**31 - 1
RECOMMEND = "/Recommendations/Recommend"


@pytest.fixture(scope="module")
def million_books(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalogue of a million science-fiction books, written once for the module."""
    path = tmp_path_factory.mktemp("catalogue") / "million.json"
    books = ",".join(
        f'{{"id":{n},"category":"SCIENCE_FICTION","title":"Book {n}"}}' for n in range(MILLION)
    )
    path.write_text(f'{{"books":[{books}]}}')
    return path


def memory_kib(server: Running, field: str) -> int:
    """`VmHWM` (peak resident set) or `VmRSS` of the server process, in KiB."""
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE).group(1))


def request(max_results: int, category: int = BookCategory.SCIENCE_FICTION, user_id: int = 1):
    return RecommendationRequest(user_id=user_id, category=category, max_results=max_results)


def still_serves(address: str) -> None:
    """A normal call still works (every catalogue here has science fiction)."""
    with grpc.insecure_channel(address) as channel:
        reply = RecommendationsStub(channel).Recommend(request(2), timeout=10)
    assert len(reply.recommendations) == 2


def test_hostile_pages_on_a_million_books_cost_one_page_each(million_books: Path) -> None:
    with start_recommendations("--catalog", million_books) as server:
        # Parsing the file peaks far above the loaded catalogue: reset the peak
        # to the current resident set, so that it measures the calls alone.
        Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")
        peak_before = memory_kib(server, "VmHWM")
        with (
            grpc.insecure_channel(server.address) as channel,
            ThreadPoolExecutor(max_workers=32) as pool,
        ):
            stub = RecommendationsStub(channel)
            replies = list(
                pool.map(
                    lambda user: stub.Recommend(request(INT32_MAX, user_id=user), timeout=60),
                    range(32),
                )
            )
        peak_after = memory_kib(server, "VmHWM")
        rss_after = memory_kib(server, "VmRSS")

    assert [len(reply.recommendations) for reply in replies] == [1000] * 32
    growth_mib = (peak_after - peak_before) / 1024
    print(
        f"\npeak RSS with a million books loaded (reset after loading): "
        f"{peak_before / 1024:.1f} MiB; after 32 "
        f"concurrent max_results={INT32_MAX} calls: {peak_after / 1024:.1f} MiB "
        f"(+{growth_mib:.1f} MiB), RSS now {rss_after / 1024:.1f} MiB"
    )
    assert growth_mib < 16


def test_max_page_is_a_documented_flag(million_books: Path) -> None:
    with (
        start_recommendations("--catalog", million_books, "--max-page", "25") as server,
        grpc.insecure_channel(server.address) as channel,
    ):
        stub = RecommendationsStub(channel)
        assert len(stub.Recommend(request(INT32_MAX), timeout=10).recommendations) == 25
        assert len(stub.Recommend(request(24), timeout=10).recommendations) == 24


def test_deadlines_are_honoured_and_late_calls_abandoned(million_books: Path) -> None:
    # Whole-category pages make calls take far longer than their deadline. One worker
    # thread: tokio's current-thread scheduler, as the server runs on a single core,
    # with those pages on the blocking pool.
    args = ["--catalog", million_books, "--max-page", str(MILLION), "--worker-threads", "1"]
    with (
        start_recommendations(*args) as server,
        grpc.insecure_channel(
            server.address, options=[("grpc.max_receive_message_length", -1)]
        ) as channel,
    ):
        stub = RecommendationsStub(channel)
        stub.Recommend(request(1), timeout=10)  # connected before the clocks start
        for request_id, deadline in [("late-1ms", 0.001), *((f"late-{n}", 0.05) for n in range(3))]:
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as raised:
                stub.Recommend(
                    request(MILLION), timeout=deadline, metadata=(("x-request-id", request_id),)
                )
            took = time.monotonic() - started
            assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert took < 0.5, (request_id, took)
        # The server dropped each call when its deadline passed, and answers again. Its own
        # timer answers DEADLINE_EXCEEDED; a client whose timer fires first cancels the call.
        for n in range(3):
            server.wait_for_log(
                rf'handled .*request_id="late-{n}" code=(DeadlineExceeded|Cancelled)'
            )
        still_serves(server.address)


def metrics_text(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as reply:
        assert reply.status == 200
        return reply.read().decode()


def metric(text: str, name: str, **labels: str) -> float:
    """The value of the sample `name` whose labels include `labels`, 0 if none."""
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def observed_server() -> Iterator[tuple[Running, str]]:
    """The server with metrics on; yields it and the metrics address."""
    with start_recommendations("--metrics-listen", "127.0.0.1:0") as server:
        yield server, server.wait_for_log(r"metrics addr=(\S+)").group(1)


def test_metrics_count_calls_by_method_and_code(observed_server: tuple[Running, str]) -> None:
    server, metrics_address = observed_server
    recommend = {"grpc_service": "Recommendations", "grpc_method": "Recommend"}
    before = metrics_text(metrics_address)
    with grpc.insecure_channel(server.address) as channel:
        stub = RecommendationsStub(channel)
        for _ in range(3):
            stub.Recommend(request(2), timeout=10)
        with pytest.raises(grpc.RpcError):
            stub.Recommend(request(1, category=42), timeout=10)
    after = metrics_text(metrics_address)

    def moved(name: str, **labels: str) -> float:
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert moved("grpc_server_started_total", grpc_type="unary", **recommend) == 4
    assert moved("grpc_server_handled_total", grpc_code="OK", **recommend) == 3
    assert moved("grpc_server_handled_total", grpc_code="NotFound", **recommend) == 1
    assert moved("grpc_server_handling_seconds_count", **recommend) == 4
    assert metric(after, "grpc_server_in_flight_calls", **recommend) == 0
    # The health checks the test harness made are counted under their own names.
    assert metric(after, "grpc_server_handled_total", grpc_method="Check", grpc_code="OK") >= 1
    assert "# TYPE grpc_server_handling_seconds histogram" in after


def test_metrics_are_off_by_default(recommendations_server: Running) -> None:
    assert not any("metrics" in line for line in recommendations_server.log)


def test_a_request_id_comes_back_and_is_in_the_access_log(
    observed_server: tuple[Running, str],
) -> None:
    server, _ = observed_server
    with grpc.insecure_channel(server.address) as channel:
        stub = RecommendationsStub(channel)
        _, call = stub.Recommend.with_call(
            request(1), timeout=10, metadata=(("x-request-id", "order-4711"),)
        )
        assert dict(call.initial_metadata())["x-request-id"] == "order-4711"
        _, call = stub.Recommend.with_call(request(1), timeout=10)
        made = dict(call.initial_metadata())["x-request-id"]
        assert uuid.UUID(made)
        with pytest.raises(grpc.RpcError) as raised:
            stub.Recommend(request(-1), timeout=10, metadata=(("x-request-id", "bad-4712"),))
        assert dict(raised.value.trailing_metadata())["x-request-id"] == "bad-4712"

    line = server.wait_for_log(r'handled .*request_id="order-4711"').string
    assert 'path="/Recommendations/Recommend"' in line
    assert "code=Ok" in line
    assert "duration_us=" in line
    server.wait_for_log(rf'handled .*request_id="{made}" code=Ok')
    # A refused call's own line, written before its access line, names it too.
    server.wait_for_log(r'refused request_id="bad-4712" error=')
    server.wait_for_log(r'handled .*request_id="bad-4712" code=InvalidArgument')


def test_excess_calls_are_shed_at_once_and_counted(million_books: Path) -> None:
    args = ["--catalog", million_books, "--max-page", "200000", "--max-concurrent-calls", "1"]
    with (
        start_recommendations(*args, "--metrics-listen", "127.0.0.1:0") as server,
        grpc.insecure_channel(
            server.address, options=[("grpc.max_receive_message_length", -1)]
        ) as channel,
        ThreadPoolExecutor(max_workers=48) as pool,
    ):
        metrics_address = server.wait_for_log(r"metrics addr=(\S+)").group(1)
        stub = RecommendationsStub(channel)
        stub.Recommend(request(1), timeout=10)

        def call(user: int) -> tuple[grpc.StatusCode, str, float]:
            started = time.monotonic()
            try:
                stub.Recommend(request(INT32_MAX, user_id=user), timeout=60)
                return grpc.StatusCode.OK, "", time.monotonic() - started
            except grpc.RpcError as error:
                return error.code(), error.details(), time.monotonic() - started

        outcomes = list(pool.map(call, range(48)))
        text = metrics_text(metrics_address)
        still_serves(server.address)

    shed = [outcome for outcome in outcomes if outcome[0] == grpc.StatusCode.UNAVAILABLE]
    answered = [outcome for outcome in outcomes if outcome[0] == grpc.StatusCode.OK]
    print(
        f"\n48 concurrent calls, --max-concurrent-calls 1: {len(answered)} answered, "
        f"{len(shed)} shed, slowest shed {max((s[2] for s in shed), default=0):.3f}s"
    )
    assert len(shed) + len(answered) == 48, outcomes
    assert shed, "nothing was shed"
    assert answered
    assert {details for _, details, _ in shed} == {
        "the server is at its limit of 1 concurrent calls; retry with backoff"
    }
    assert max(took for _, _, took in shed) < 2.0
    assert metric(text, "grpc_server_shed_total", grpc_service="Recommendations") == len(shed)
    assert metric(
        text, "grpc_server_handled_total", grpc_method="Recommend", grpc_code="Unavailable"
    ) == len(shed)


def http2_post(
    host: str, port: int, path: str, content_type: str, body: bytes
) -> tuple[int, dict[str, str]]:
    """A bare HTTP/2 POST (curl, prior knowledge): grpcio always sends application/grpc.

    Returns the HTTP status and the response headers, where a gRPC error's status is.
    """
    curl = ["curl", "--silent", "--show-error", "--http2-prior-knowledge", "--max-time", "10"]
    result = subprocess.run(
        [
            *curl,
            *("--request", "POST", "--header", f"content-type: {content_type}"),
            *("--data-binary", "@-", "--dump-header", "-", "--output", "/dev/null"),
            f"http://{host}:{port}{path}",
        ],
        input=body,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr.decode()
    status_line, *lines = result.stdout.decode().strip().splitlines()
    headers = dict(line.split(": ", 1) for line in lines if ": " in line)
    return int(status_line.split()[1]), {name.lower(): value for name, value in headers.items()}


def raw_call(channel: grpc.Channel, path: str, body: bytes, **kwargs) -> grpc.RpcError:
    """Sends `body` as the request message of `path`, bypassing protobuf; returns the error."""
    call = channel.unary_unary(path, request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as raised:
        call(body, timeout=10, **kwargs)
    return raised.value


def test_a_malformed_protobuf_body_is_refused(recommendations_server: Running) -> None:
    with grpc.insecure_channel(recommendations_server.address) as channel:
        # Field 1 announced as a length-delimited field longer than the message.
        error = raw_call(channel, RECOMMEND, b"\x0a\xff\xff\xff\x0f\x01")
    assert error.code() == grpc.StatusCode.INTERNAL
    assert "decode" in error.details().lower(), error.details()
    still_serves(recommendations_server.address)


def test_an_unknown_method_is_unimplemented(recommendations_server: Running) -> None:
    with grpc.insecure_channel(recommendations_server.address) as channel:
        for path in ["/Recommendations/Forget", "/NoSuchService/Recommend"]:
            error = raw_call(channel, path, b"")
            assert error.code() == grpc.StatusCode.UNIMPLEMENTED, path
    still_serves(recommendations_server.address)


def test_a_message_over_the_size_limit_is_refused(recommendations_server: Running) -> None:
    too_big = b"\x00" * (4 * 1024 * 1024 + 1)
    with grpc.insecure_channel(recommendations_server.address) as channel:
        error = raw_call(channel, RECOMMEND, too_big)
    assert error.code() == grpc.StatusCode.OUT_OF_RANGE
    assert "too large" in error.details(), error.details()
    still_serves(recommendations_server.address)


def test_a_wrong_content_type_is_refused_with_the_type_named(
    recommendations_server: Running,
) -> None:
    # grpcio always sends application/grpc; a plain HTTP/2 POST does not.
    host, port = recommendations_server.address.rsplit(":", 1)
    # No body: the server answers on the headers alone, and a body still on its
    # way when it does would race with the reset that ends the upload.
    status, headers = http2_post(host, int(port), RECOMMEND, "application/json", b"")
    assert status == 415
    assert headers["grpc-status"] == "3"
    assert "content-type" in urllib.parse.unquote(headers["grpc-message"])
    still_serves(recommendations_server.address)


@pytest.mark.parametrize(
    ("max_results", "category", "code", "details"),
    [
        (
            -1,
            BookCategory.MYSTERY,
            grpc.StatusCode.INVALID_ARGUMENT,
            "max_results must be zero or more, got -1",
        ),
        (3, 42, grpc.StatusCode.NOT_FOUND, "Category not found"),
    ],
)
def test_bad_arguments_get_their_status(
    stub: RecommendationsStub, max_results: int, category: int, code, details: str
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stub.Recommend(request(max_results, category=category), timeout=10)
    assert (raised.value.code(), raised.value.details()) == (code, details)
    assert len(stub.Recommend(request(2, BookCategory.MYSTERY), timeout=10).recommendations) == 2


def test_a_huge_max_results_gets_the_whole_small_category(stub: RecommendationsStub) -> None:
    reply: RecommendationResponse = stub.Recommend(request(INT32_MAX), timeout=10)
    assert len(reply.recommendations) == 3


def test_help_documents_the_hardening_flags() -> None:
    result = subprocess.run(
        [RECOMMENDATIONS_BIN, "--help"], capture_output=True, text=True, check=True
    )
    for flag, env, default in [
        ("--max-page", "RECOMMENDATIONS_MAX_PAGE", "1000"),
        ("--max-concurrent-calls", "RECOMMENDATIONS_MAX_CONCURRENT_CALLS", "256"),
        ("--max-concurrent-streams", "RECOMMENDATIONS_MAX_CONCURRENT_STREAMS", "100"),
        ("--http2-keepalive-interval", "RECOMMENDATIONS_HTTP2_KEEPALIVE_INTERVAL", "60"),
        ("--http2-keepalive-timeout", "RECOMMENDATIONS_HTTP2_KEEPALIVE_TIMEOUT", "20"),
    ]:
        assert re.search(
            rf"{flag} .*\n(.*\n)*?.*\[env: {env}=\]\n.*\[default: {default}\]", result.stdout
        ), flag
    assert re.search(
        r"--worker-threads <N>\n(.*\n)*?.*\[env: RECOMMENDATIONS_WORKER_THREADS=\]", result.stdout
    )
    for flag in ["--tls-cert", "--tls-key", "--client-ca", "--metrics-listen"]:
        assert flag in result.stdout
