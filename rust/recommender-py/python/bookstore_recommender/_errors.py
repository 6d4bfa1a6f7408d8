"""The exceptions the recommender raises.

Each one is a `RecommenderError` and also the built-in exception a Python caller
would expect for that mistake, so both `except RecommenderError` and
`except ValueError` (or `LookupError`) catch it. The native module raises them.
"""

__all__ = ["CatalogError", "CategoryNotFoundError", "InvalidArgumentError", "RecommenderError"]


class RecommenderError(Exception):
    """Base class of the recommender's own exceptions."""


class InvalidArgumentError(RecommenderError, ValueError):
    """An argument the recommender refuses, such as a negative `max_results`."""


class CategoryNotFoundError(RecommenderError, LookupError):
    """A category number that is not one of `Category`'s; the message is "Category not found"."""


class CatalogError(RecommenderError, ValueError):
    """A catalogue file whose content is wrong; the message names the file and the entry.

    A file that cannot be read at all raises `OSError` (`FileNotFoundError`,
    `PermissionError`, ...) instead, as `open()` would.
    """
