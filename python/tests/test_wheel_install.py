"""The wheel file, installed with pip into a fresh virtual environment, works there.

This is the Python user's path: `python -m venv`, `pip install` the wheel that
`just wheel` built, then import it. Nothing from the source tree or python/.venv
is on the path of the interpreter that runs the checks (`python -I`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from notes_catalog import NOTES_BOOKS
from processes import REPO, Running
from recommendations_pb2 import BookCategory, RecommendationRequest
from recommendations_pb2_grpc import RecommendationsStub
from recommender_wheel import WHEEL_ENV, wheel_file


def readme_example() -> str:
    """The README's Python example for the wheel, read from the README itself so
    that what users copy is what is tested."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The recommender as a Python wheel", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README.md has no Python example in its wheel section"
    return match.group(1)


# Run in the fresh environment; prints what the test compares with the server.
CHECKS = """\
import json, sys
from importlib import metadata, resources

import bookstore_recommender as br

try:
    br.recommend(1, 7, 3)
except br.CategoryNotFoundError as error:
    not_found = str(error)
print(json.dumps({
    "prefix": sys.prefix,
    "file": br.__file__,
    "version": metadata.version("bookstore-recommender"),
    "typed": resources.files("bookstore_recommender").joinpath("py.typed").is_file(),
    "not_found": not_found,
    "books": {
        f"{user}/{category.name}": [[b.id, b.title] for b in br.recommend(user, category, 3)]
        for user in range(-5, 25)
        for category in br.Category
    },
}))
"""


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a new virtual environment holding only pip and the wheel."""
    wheel = wheel_file()
    if wheel is None:
        pytest.skip(f"{WHEEL_ENV} is not set: run `just test-python`, which builds the wheel")
    assert wheel.is_file(), f"{WHEEL_ENV} names {wheel}, which does not exist"
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    # --no-index: the wheel has no dependencies, and the test must not need the network.
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-index", wheel], check=True)
    return python


def run_isolated(python: Path, code: str, cwd: Path) -> str:
    result = subprocess.run(
        [python, "-I", "-c", code], check=True, capture_output=True, text=True, cwd=cwd
    )
    return result.stdout


def test_the_readme_example_works_as_written(fresh_python: Path, tmp_path: Path) -> None:
    example = readme_example()
    assert "from bookstore_recommender import" in example
    output = run_isolated(fresh_python, example, tmp_path)
    assert output.startswith("[Book(id=")
    assert output.count("Book(") == 3
    assert all(title in output for title in NOTES_BOOKS[BookCategory.MYSTERY].values())


def test_the_installed_wheel_agrees_with_the_server(
    fresh_python: Path, tmp_path: Path, recommendations_server: Running
) -> None:
    report = json.loads(run_isolated(fresh_python, CHECKS, tmp_path))
    venv = fresh_python.parent.parent.resolve()
    assert Path(report["prefix"]).resolve() == venv
    assert Path(report["file"]).resolve().is_relative_to(venv / "lib")
    assert report["version"] == "0.1.0"
    assert report["typed"] is True
    assert report["not_found"] == "Category not found"
    with grpc.insecure_channel(recommendations_server.address) as channel:
        stub = RecommendationsStub(channel)
        for key, books in report["books"].items():
            user, category = key.split("/")
            request = RecommendationRequest(
                user_id=int(user), category=BookCategory.Value(category), max_results=3
            )
            response = stub.Recommend(request)
            assert books == [[book.id, book.title] for book in response.recommendations], key
