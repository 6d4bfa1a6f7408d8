"""The book categories, numbered as the Recommendations contract numbers them."""

from enum import IntEnum

__all__ = ["Category"]


class Category(IntEnum):
    """A book category.

    An `IntEnum`, so that wherever a category is expected a plain `int` or the
    grpc stubs' `BookCategory.MYSTERY` works too.
    """

    MYSTERY = 0
    SCIENCE_FICTION = 1
    SELF_HELP = 2
