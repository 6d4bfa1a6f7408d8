"""Judging one runner's report against the table, for one server.

A case's `expect` holds for every server; for the notes' reference server its
`reference` fields override those (or `"n/a: reason"` leaves the case out).
Exact `books` are only checked against deterministic servers (the Rust server and
the wheel); the notes' server picks at random, so there only the count, the
category and the titles count.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.cases import REPO, Case

NOTES_CATALOGUE = REPO / "rust" / "recommender" / "catalog" / "notes.json"


@dataclass(frozen=True)
class Book:
    category: int
    title: str


@dataclass(frozen=True)
class Failure:
    """A case whose answer differs from the table (or that has no answer)."""

    case: str
    expected: str
    got: str

    def __str__(self) -> str:
        return f"{self.case}\n    expected: {self.expected}\n    got:      {self.got}"


@dataclass(frozen=True)
class Verdict:
    passed: int
    total: int
    failures: list[Failure]


def notes_catalogue(path: Path = NOTES_CATALOGUE) -> dict[int, Book]:
    """The notes' nine books by id, with their category's enum number."""
    from recommendations_pb2 import BookCategory

    document = json.loads(path.read_text(encoding="utf-8"))
    return {
        book["id"]: Book(BookCategory.Value(book["category"]), book["title"])
        for book in document["books"]
    }


def expectation(case: Case, reference: bool) -> dict[str, Any] | None:
    """What `case` expects of a server; None when it does not apply there."""
    if not reference or case.reference is None:
        return dict(case.expect)
    if isinstance(case.reference, str):
        return None
    return {**case.expect, **case.reference}


def check(
    cases: Sequence[Case],
    report: Mapping[str, Any],
    catalogue: Mapping[int, Book],
    *,
    reference: bool,
    exact_books: bool,
) -> Verdict:
    """Every applicable case against its result in `report` (a runner's JSON document)."""
    results: dict[tuple[str, str], Mapping[str, Any]] = {}
    failures = []
    for result in report.get("results", []):
        key = (str(result.get("file")), str(result.get("case")))
        if key in results:
            failures.append(Failure(_label(key), "one result", "two results for the case"))
        results[key] = result
    known = {case.key for case in cases}
    for key in results.keys() - known:
        failures.append(Failure(_label(key), "no such case", "a result for it"))
    total = 0
    failed_cases = set()
    for case in cases:
        expect = expectation(case, reference)
        if expect is None:
            continue
        total += 1
        result = results.get(case.key)
        if result is None:
            problems = [("a result", "none: the case is missing from the report")]
        else:
            problems = _compare(expect, result, catalogue, exact_books)
        for expected, got in problems:
            failures.append(Failure(_label(case.key), expected, got))
            failed_cases.add(case.key)
    return Verdict(total - len(failed_cases), total, failures)


def _label(key: tuple[str, str]) -> str:
    return f"{key[0]}: {key[1]}"


def _compare(
    expect: Mapping[str, Any],
    result: Mapping[str, Any],
    catalogue: Mapping[int, Book],
    exact_books: bool,
) -> list[tuple[str, str]]:
    status, message = result.get("status"), result.get("message", "")
    if status != expect["status"]:
        return [
            (
                f"{expect['status']} {expect.get('message', '')!r}".rstrip(),
                f"{status} {message!r}",
            )
        ]
    problems = []
    if "message" in expect and message != expect["message"]:
        problems.append((f"message {expect['message']!r}", f"message {message!r}"))
    books = result.get("books", [])
    ids = [book.get("id") for book in books]
    if "count" in expect and len(books) != expect["count"]:
        problems.append((f"{expect['count']} books", f"{len(books)} books: {ids}"))
    if len(set(ids)) != len(ids):
        problems.append(("distinct books", f"{ids}"))
    for book in books:
        known = catalogue.get(book.get("id"))
        if known is None:
            problems.append(("books of the notes' catalogue", f"book {book}"))
        elif book.get("title") != known.title:
            problems.append((f"book {book.get('id')} titled {known.title!r}", f"{book}"))
        elif "category" in expect and known.category != expect["category"]:
            problems.append((f"books of category {expect['category']}", f"book {book}"))
    if exact_books and "books" in expect and ids != expect["books"]:
        problems.append((f"books {expect['books']}", f"books {ids}"))
    return problems
