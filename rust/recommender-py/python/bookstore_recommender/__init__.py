"""The bookstore's book recommender, in-process.

The same Rust core as the Recommendations gRPC server, so it recommends the same
books in the same order::

    >>> from bookstore_recommender import Category, recommend
    >>> [book.id for book in recommend(1, Category.MYSTERY, 3)]
    [2, 3, 1]

`recommend` uses the notes' nine books; `Catalog.load(path)` reads a catalogue
file in the server's `--catalog` format. Errors are `RecommenderError`s:
`InvalidArgumentError` (a `ValueError`), `CategoryNotFoundError` (a
`LookupError`) and `CatalogError` (a `ValueError`); a catalogue file that cannot
be read raises `OSError`. Integers outside the contract's int32 range raise
`OverflowError`.
"""

from bookstore_recommender._category import Category
from bookstore_recommender._errors import (
    CatalogError,
    CategoryNotFoundError,
    InvalidArgumentError,
    RecommenderError,
)
from bookstore_recommender._recommender import Book, Catalog, __version__, recommend

__all__ = [
    "Book",
    "Catalog",
    "CatalogError",
    "Category",
    "CategoryNotFoundError",
    "InvalidArgumentError",
    "RecommenderError",
    "__version__",
    "recommend",
]
