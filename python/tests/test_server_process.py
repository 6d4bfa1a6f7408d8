"""The `recommendations` binary as an operator runs it: flags, signals, logs,
reflection for generic tools, and clear start-up errors."""

import json
import signal
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from notes_catalog import NOTES_BOOKS
from processes import (
    BUF,
    RECOMMENDATIONS_BIN,
    Running,
    start_process,
    start_recommendations,
    wait_for_health,
)
from recommendations_pb2 import BookCategory, RecommendationRequest
from recommendations_pb2_grpc import RecommendationsStub


def test_help_documents_every_option() -> None:
    result = subprocess.run(
        [RECOMMENDATIONS_BIN, "--help"], capture_output=True, text=True, check=True
    )
    for option in ["--listen", "--catalog", "--log-format", "RUST_LOG", "[::]:50051"]:
        assert option in result.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_exits_cleanly_with_a_client_connected(sig: signal.Signals) -> None:
    with start_recommendations() as server, grpc.insecure_channel(server.address) as channel:
        stub = RecommendationsStub(channel)
        stub.Recommend(RecommendationRequest(user_id=1, max_results=1))
        assert server.stop(sig) == 0
        server.wait_for_log(r"INFO .*stopped")


def test_a_call_in_flight_at_shutdown_still_gets_its_answer(tmp_path: Path) -> None:
    # A big category makes the call slow enough to still be running when the
    # signal lands; the server logs "received" as it starts on the call.
    size = 400_000
    books = [{"id": n, "category": "MYSTERY", "title": f"Book {n}"} for n in range(size)]
    catalog = tmp_path / "big.json"
    catalog.write_text(json.dumps({"books": books}))
    env = {"RUST_LOG": "info,recommendations_server::service=debug"}
    with (
        # The whole category in one call: above the default --max-page.
        start_recommendations("--catalog", catalog, "--max-page", str(size), env=env) as server,
        grpc.insecure_channel(
            server.address, options=[("grpc.max_receive_message_length", -1)]
        ) as channel,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        stub = RecommendationsStub(channel)
        request = RecommendationRequest(user_id=3, category=BookCategory.MYSTERY, max_results=size)
        answer = pool.submit(stub.Recommend, request, timeout=60)
        server.wait_for_log(r"received")
        server.process.send_signal(signal.SIGTERM)

        assert len(answer.result().recommendations) == size
        assert server.process.wait(timeout=30) == 0
        server.wait_for_log(r"INFO .*stopped")
    # The call really was in flight: shutdown began before it was answered.
    shutting_down = next(i for i, line in enumerate(server.log) if "shutting down" in line)
    answered = next(i for i, line in enumerate(server.log) if "answered" in line)
    assert shutting_down < answered, "\n".join(server.log)


def test_reflection_lets_generic_tools_list_and_call_the_service(
    recommendations_server: Running,
) -> None:
    url = f"http://{recommendations_server.address}"
    curl = [BUF, "curl", "--protocol", "grpc", "--http2-prior-knowledge"]
    for reflection in ["grpc-v1", "grpc-v1alpha"]:
        listed = subprocess.run(
            [*curl, "--reflect-protocol", reflection, "--list-services", url],
            capture_output=True,
            text=True,
            check=True,
        )
        assert {"Recommendations", "grpc.health.v1.Health"} <= set(listed.stdout.split())
    called = subprocess.run(
        [
            *curl,
            "-d",
            '{"user_id": 1, "category": "SELF_HELP", "max_results": 2}',
            f"{url}/Recommendations/Recommend",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    books = json.loads(called.stdout)["recommendations"]
    assert len(books) == 2
    assert {book["id"] for book in books} <= set(NOTES_BOOKS[BookCategory.SELF_HELP])


def test_a_bad_catalogue_stops_start_up_with_a_clear_message(tmp_path: Path) -> None:
    catalog = tmp_path / "store.json"
    catalog.write_text(
        '{"books": [\n {"id": 1, "category": "MYSTERY", "title": "A"},\n'
        ' {"id": 1, "category": "MYSTERY", "title": "B"}\n]}'
    )
    result = subprocess.run(
        [RECOMMENDATIONS_BIN, "--listen", "127.0.0.1:0", "--catalog", catalog],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert f"{catalog}: book 2 (id 1): id 1 is already used by book 1" in result.stderr
    assert "panicked" not in result.stderr


def test_json_logs_are_one_object_per_line() -> None:
    argv = [RECOMMENDATIONS_BIN, "--listen", "127.0.0.1:0", "--log-format", "json"]
    with start_process(argv, r'"addr":"([^"]+)"') as server:
        wait_for_health(server.address)
        assert server.stop() == 0
        server.wait_for_log(r'"message":"stopped"')
    records = [json.loads(line) for line in server.log]
    assert records[0]["fields"]["message"] == "listening"
    assert records[0]["level"] == "INFO"
