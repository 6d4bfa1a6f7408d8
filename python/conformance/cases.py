"""Reading the conformance table: every `*.json` file of a folder, in file-name order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "proto" / "cases"


@dataclass(frozen=True)
class Case:
    """One row of the table: a request, the expected answer and the reference server's."""

    file: str
    name: str
    user_id: int
    category: int
    max_results: int
    expect: dict[str, Any]
    reference: dict[str, Any] | str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.file, self.name)


def load(folder: Path = CASES) -> list[Case]:
    """Every case of every `*.json` file in `folder`, files in name order, cases in file order."""
    cases: list[Case] = []
    for path in sorted(folder.glob("*.json")):
        cases.extend(_cases_in(path))
    if not cases:
        raise ValueError(f"no cases in {folder}")
    return cases


def _cases_in(path: Path) -> Iterator[Case]:
    document = json.loads(path.read_text(encoding="utf-8"))
    for entry in document["cases"]:
        request = entry["request"]
        yield Case(
            file=path.stem,
            name=entry["name"],
            user_id=request["user_id"],
            category=request["category"],
            max_results=request["max_results"],
            expect=entry["expect"],
            reference=entry.get("reference"),
        )
