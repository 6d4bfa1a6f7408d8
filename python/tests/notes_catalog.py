"""The notes' nine books, read from the catalogue the Rust core embeds.

`rust/recommender/catalog/notes.json` is the one copy of the books: the server and
the wheel build it in, and the tests read it here instead of keeping their own.
"""

from __future__ import annotations

import json

from processes import REPO
from recommendations_pb2 import BookCategory

NOTES_CATALOG_FILE = REPO / "rust/recommender/catalog/notes.json"


def notes_catalog() -> list[dict]:
    """The catalogue's entries as in the file: `id`, `category` (its contract name), `title`."""
    return json.loads(NOTES_CATALOG_FILE.read_text(encoding="utf-8"))["books"]


def books_by_category() -> dict[int, dict[int, str]]:
    """Each contract category number, in catalogue order, mapped to its books' ids and titles."""
    books: dict[int, dict[int, str]] = {}
    for book in notes_catalog():
        books.setdefault(BookCategory.Value(book["category"]), {})[book["id"]] = book["title"]
    return books


# The notes' books by category, as their server hands them out:
# {BookCategory.MYSTERY: {1: "The Maltese Falcon", ...}, ...}.
NOTES_BOOKS = books_by_category()
