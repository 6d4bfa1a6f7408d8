"""The conformance checker fails when an answer differs from the table in any way it checks.

`just conformance` runs the table itself against every client and server; these
tests only prove that its judge can say no.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance.cases import Case, load
from conformance.check import Verdict, check, expectation, notes_catalogue

CASES = load()
CATALOGUE = notes_catalogue()


def perfect_report(reference: bool) -> dict[str, Any]:
    """The answers the table expects, as a runner would report them."""
    results = []
    for case in CASES:
        expect = expectation(case, reference)
        if expect is None:
            continue
        ids = expect.get("books", [])
        results.append(
            {
                "file": case.file,
                "case": case.name,
                "status": expect["status"],
                "message": expect.get("message", ""),
                "books": [{"id": i, "title": CATALOGUE[i].title} for i in ids],
            }
        )
    return {"client": "test", "results": results}


def judge(report: dict[str, Any], reference: bool = False) -> Verdict:
    return check(CASES, report, CATALOGUE, reference=reference, exact_books=not reference)


def result_of(report: dict[str, Any], case: Case) -> dict[str, Any]:
    return next(r for r in report["results"] if (r["file"], r["case"]) == case.key)


def first_case(status: str) -> Case:
    return next(c for c in CASES if c.expect["status"] == status and c.expect.get("count", 1))


def test_the_table_covers_what_the_contract_promises() -> None:
    requests = [(c.user_id, c.category, c.max_results) for c in CASES]
    assert {c for _, c, _ in requests} >= {0, 1, 2, 3, 7, -1}
    assert {m for _, _, m in requests} >= {0, 1, 3, 4, 1000, 1001, 2**31 - 1, -1}
    assert {u for u, _, _ in requests} >= {-(2**31), 0, 2**31 - 1}
    every_book = {book for c in CASES for book in c.expect.get("books", [])}
    assert every_book == set(CATALOGUE)


@pytest.mark.parametrize("reference", [False, True], ids=["rust", "reference"])
def test_the_expected_answers_pass(reference: bool) -> None:
    verdict = judge(perfect_report(reference), reference)
    assert verdict.failures == []
    assert verdict.passed == verdict.total == len(CASES)


def test_a_wrong_book_fails() -> None:
    report = perfect_report(reference=False)
    case = first_case("OK")
    result_of(report, case)["books"][0] = {"id": 99, "title": "Not in the catalogue"}
    verdict = judge(report)
    assert verdict.passed == verdict.total - 1
    assert [f.case for f in verdict.failures] == [f"{case.file}: {case.name}"] * 2


def test_books_in_another_order_fail_only_where_the_order_is_deterministic() -> None:
    case = next(c for c in CASES if c.expect.get("count", 0) >= 2)
    for reference, failures in [(False, 1), (True, 0)]:
        report = perfect_report(reference)
        result_of(report, case)["books"].reverse()
        assert len(judge(report, reference).failures) == failures


def test_a_wrong_title_fails_on_every_server() -> None:
    for reference in (False, True):
        report = perfect_report(reference)
        result_of(report, first_case("OK"))["books"][0]["title"] = "The Maltese Falcon (abridged)"
        assert len(judge(report, reference).failures) == 1


def test_a_wrong_status_fails() -> None:
    report = perfect_report(reference=False)
    result = result_of(report, first_case("NOT_FOUND"))
    result["status"] = "INVALID_ARGUMENT"
    verdict = judge(report)
    assert verdict.passed == verdict.total - 1
    assert "NOT_FOUND" in verdict.failures[0].expected


def test_a_wrong_message_fails() -> None:
    report = perfect_report(reference=False)
    result_of(report, first_case("NOT_FOUND"))["message"] = "category not found"
    verdict = judge(report)
    assert verdict.passed == verdict.total - 1
    assert "'Category not found'" in verdict.failures[0].expected


def test_a_missing_case_fails() -> None:
    report = perfect_report(reference=False)
    removed = report["results"].pop()
    verdict = judge(report)
    assert verdict.passed == verdict.total - 1
    assert verdict.failures[0].case == f"{removed['file']}: {removed['case']}"


def test_a_result_for_no_case_fails() -> None:
    report = perfect_report(reference=False)
    report["results"].append(copy.deepcopy(report["results"][0]) | {"case": "made up"})
    assert len(judge(report).failures) == 1


def test_the_reference_override_applies_only_to_the_notes_server() -> None:
    case = next(c for c in CASES if isinstance(c.reference, dict))
    rust_report = perfect_report(reference=False)
    # The Rust server answering as the notes' server does is a failure, and vice versa.
    result_of(rust_report, case).update(status=case.reference["status"])
    assert len(judge(rust_report).failures) == 1
    notes_report = perfect_report(reference=True)
    result_of(notes_report, case).update(status=case.expect["status"])
    assert len(judge(notes_report, reference=True).failures) == 1


def test_a_case_marked_not_applicable_is_left_out_only_for_the_notes_server() -> None:
    case = Case("file", "name", 1, 0, 1, {"status": "OK", "count": 1}, "n/a: a reason")
    empty = {"client": "test", "results": []}
    assert check([case], empty, CATALOGUE, reference=True, exact_books=False) == Verdict(0, 0, [])
    assert check([case], empty, CATALOGUE, reference=False, exact_books=True).total == 1
