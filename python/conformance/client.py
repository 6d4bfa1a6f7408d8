"""The Python clients' runner for the conformance table.

    python -m conformance.client --client python-grpcio --cases ../proto/cases --target HOST:PORT

`python-grpcio` calls with the grpcio stub on a blocking channel, one case after
another; `python-aio` with the same stub on one `grpc.aio` channel, every case
at once; `wheel` calls `bookstore_recommender` in-process (no `--target`). It
prints one JSON document of what each call gave and leaves the judging to the
checker. A server it cannot reach is an `UNAVAILABLE` answer per case.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from conformance.cases import Case, load

CLIENTS = ("python-grpcio", "python-aio", "wheel")
DEADLINE_SECONDS = 10.0

Result = dict[str, Any]


def _result(case: Case, status: str, message: str = "", books: Sequence[Any] = ()) -> Result:
    return {
        "file": case.file,
        "case": case.name,
        "status": status,
        "message": message,
        "books": [{"id": book.id, "title": book.title} for book in books],
    }


def _request(case: Case) -> Any:
    from recommendations_pb2 import BookCategory, RecommendationRequest

    return RecommendationRequest(
        user_id=case.user_id,
        # Any number, as the case has it: unknown categories are cases too.
        category=BookCategory.ValueType(case.category),
        max_results=case.max_results,
    )


def run_grpcio(cases: Sequence[Case], target: str) -> list[Result]:
    import grpc
    from recommendations_pb2_grpc import RecommendationsStub

    results = []
    with grpc.insecure_channel(target) as channel:
        stub = RecommendationsStub(channel)
        for case in cases:
            try:
                response = stub.Recommend(_request(case), timeout=DEADLINE_SECONDS)
            except grpc.RpcError as error:
                results.append(_result(case, error.code().name, error.details() or ""))
            else:
                results.append(_result(case, "OK", books=response.recommendations))
    return results


def run_aio(cases: Sequence[Case], target: str) -> list[Result]:
    import grpc
    from recommendations_pb2_grpc import RecommendationsStub

    # The generated stub is typed for blocking channels; on an aio channel its calls are awaitable.
    async def call(stub: Any, case: Case) -> Result:
        try:
            response = await stub.Recommend(_request(case), timeout=DEADLINE_SECONDS)
        except grpc.aio.AioRpcError as error:
            return _result(case, error.code().name, error.details() or "")
        return _result(case, "OK", books=response.recommendations)

    async def run_all() -> list[Result]:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = RecommendationsStub(channel)
            return list(await asyncio.gather(*(call(stub, case) for case in cases)))

    return asyncio.run(run_all())


def run_wheel(cases: Sequence[Case]) -> list[Result]:
    """In-process; the recommender's exceptions stand for the statuses the server sends."""
    try:
        from bookstore_recommender import CategoryNotFoundError, InvalidArgumentError, recommend
    except ImportError as error:
        raise SystemExit(
            f"{error}: install the wheel first (`just conformance` builds and installs it)"
        ) from None

    results = []
    for case in cases:
        try:
            books = recommend(case.user_id, case.category, case.max_results)
        except InvalidArgumentError as error:
            results.append(_result(case, "INVALID_ARGUMENT", str(error)))
        except CategoryNotFoundError as error:
            results.append(_result(case, "NOT_FOUND", str(error)))
        except Exception as error:  # reported as it is: the checker judges it
            results.append(_result(case, "UNKNOWN", f"{type(error).__name__}: {error}"))
        else:
            results.append(_result(case, "OK", books=books))
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m conformance.client", description=__doc__)
    parser.add_argument("--client", choices=CLIENTS, required=True)
    parser.add_argument("--cases", type=Path, required=True, help="the folder of case files")
    parser.add_argument("--target", help="HOST:PORT of the server (not for the wheel)")
    args = parser.parse_args(argv)
    if args.client != "wheel" and not args.target:
        parser.error(f"--target is required for {args.client}")
    cases = load(args.cases)
    if args.client == "python-grpcio":
        results = run_grpcio(cases, args.target)
    elif args.client == "python-aio":
        results = run_aio(cases, args.target)
    else:
        results = run_wheel(cases)
    json.dump({"client": args.client, "results": results}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
