"""How the tests reach the `bookstore-recommender` wheel.

`just test-python` builds the wheel (`just wheel`), installs it into python/.venv
after `uv sync` and names the wheel file in BOOKSTORE_RECOMMENDER_WHEEL. The
wheel's tests then import the installed package, never the source tree, and one
of them installs the same file into a fresh virtual environment of its own.

Run without that recipe (plain `pytest` after `uv sync`, which removes the wheel),
the wheel's tests are skipped with a reason instead of failing to import; with the
variable set, a missing wheel is an error.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

WHEEL_ENV = "BOOKSTORE_RECOMMENDER_WHEEL"


def wheel_file() -> Path | None:
    """The wheel `just wheel` built, if the run was started by `just test-python`."""
    named = os.environ.get(WHEEL_ENV, "")
    return Path(named) if named else None


def require_installed() -> None:
    """Skips the calling test module when the wheel is neither installed nor expected."""
    try:
        import bookstore_recommender  # noqa: F401
    except ImportError:
        if wheel_file() is not None:
            raise
        pytest.skip(
            "bookstore_recommender is not installed: run `just test-python`",
            allow_module_level=True,
        )
