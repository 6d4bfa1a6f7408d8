"""The client distribution (python/sdk), built and installed as its users install it.

`uv build` makes the sdist and, from it, the wheel; the wheel goes into a brand-new
virtual environment with its pinned dependencies and nothing else. There, with
no PYTHONPATH and nothing from the source tree or python/.venv on the path
(`python -I`), the notes' imports, the convenience client and the README's
Python examples run against the real Rust server.

Cost: about 2 s (the build and the new environment, grpcio and protobuf coming
from uv's cache, about 0.7 s each; each example well under a second).
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from notes_catalog import NOTES_BOOKS
from processes import REPO, Running
from recommendations_pb2 import BookCategory

SDK = REPO / "python" / "sdk"
UV = Path(os.environ.get("UV", REPO / ".tools" / "uv" / "bin" / "uv"))
# The children's environment: the caller's, minus any PYTHONPATH.
CLEAN_ENV = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


@dataclass(frozen=True)
class Dist:
    wheel: Path
    sdist: Path


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """The sdist and the wheel built from it, with the backend python/.venv has pinned."""
    if not UV.exists():
        pytest.fail(f"{UV} is missing: run through `just test-python`, which installs uv")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            UV,
            "build",
            "--quiet",
            "--no-build-isolation",
            "--python",
            sys.executable,
            "-o",
            out,
            SDK,
        ],
        check=True,
        env=CLEAN_ENV,
    )
    (wheel,) = out.glob("bookstore_recommendations-*.whl")
    (sdist,) = out.glob("bookstore_recommendations-*.tar.gz")
    return Dist(wheel, sdist)


@pytest.fixture(scope="module")
def fresh_python(dist: Dist, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment holding the wheel and its dependencies only."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([UV, "venv", "--quiet", "--python", sys.executable, venv], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [UV, "pip", "install", "--quiet", "--python", python, dist.wheel], check=True, env=CLEAN_ENV
    )
    return python


def run_isolated(python: Path, code: str, cwd: Path) -> str:
    result = subprocess.run(
        [python, "-I", "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=CLEAN_ENV,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_wheel_holds_the_stubs_their_types_and_the_typed_client(dist: Dist) -> None:
    names = set(zipfile.ZipFile(dist.wheel).namelist())
    assert {
        "recommendations_pb2.py",
        "recommendations_pb2_grpc.py",
        # PEP 561 stub-only packages: how mypy finds types of top-level modules.
        "recommendations_pb2-stubs/__init__.pyi",
        "recommendations_pb2_grpc-stubs/__init__.pyi",
        "bookstore_recommendations/__init__.py",
        "bookstore_recommendations/py.typed",
    } <= names
    assert not [name for name in names if "__pycache__" in name or name.startswith("src/")]
    for stub in ("recommendations_pb2", "recommendations_pb2_grpc"):
        packaged = zipfile.ZipFile(dist.wheel).read(f"{stub}-stubs/__init__.pyi")
        assert packaged == (SDK / "src" / f"{stub}.pyi").read_bytes()


def test_the_sdist_holds_the_sources_the_wheel_is_built_from(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for source in SDK.joinpath("src").rglob("*"):
        if source.is_file() and "__pycache__" not in source.parts:
            assert str(source.relative_to(SDK)) in names
    assert "pyproject.toml" in names


# Run in the fresh environment: the notes' imports, word for word, and the
# convenience client; prints what the test compares.
CHECKS = """\
import json, sys
from importlib import metadata, resources

import grpc
from recommendations_pb2 import BookCategory, RecommendationRequest
from recommendations_pb2_grpc import RecommendationsStub

import bookstore_recommendations
import recommendations_pb2
from bookstore_recommendations import RecommendationsClient

target = sys.argv[1]
channel = grpc.insecure_channel(target)
client = RecommendationsStub(channel)
request = RecommendationRequest(user_id=1, category=BookCategory.SCIENCE_FICTION, max_results=3)
notes = [book.title for book in client.Recommend(request).recommendations]
with RecommendationsClient(target) as convenient:
    response = convenient.recommend(1, BookCategory.SELF_HELP, 3)
try:
    with RecommendationsClient(target) as convenient:
        convenient.recommend(1, 7, 3)
except grpc.RpcError as error:
    not_found = [error.code().name, error.details()]
print(json.dumps({
    "prefix": sys.prefix,
    "files": [recommendations_pb2.__file__, bookstore_recommendations.__file__],
    "requires": sorted(metadata.requires("bookstore-recommendations")),
    "typed": resources.files("bookstore_recommendations").joinpath("py.typed").is_file(),
    "notes": notes,
    "convenient": [book.title for book in response.recommendations],
    "not_found": not_found,
}))
"""


def test_the_notes_imports_and_the_client_work_with_no_pythonpath(
    fresh_python: Path, tmp_path: Path, recommendations_server: Running
) -> None:
    code = f"import sys; sys.argv[1:] = [{recommendations_server.address!r}]\n" + CHECKS
    report = json.loads(run_isolated(fresh_python, code, tmp_path))
    venv = fresh_python.parent.parent.resolve()
    assert Path(report["prefix"]).resolve() == venv
    for file in report["files"]:
        assert Path(file).resolve().is_relative_to(venv / "lib"), file
    pinned = tomllib.loads((SDK / "pyproject.toml").read_text())["project"]["dependencies"]
    assert report["requires"] == sorted(pinned)
    assert report["typed"] is True
    assert set(report["notes"]) == set(NOTES_BOOKS[BookCategory.SCIENCE_FICTION].values())
    assert set(report["convenient"]) == set(NOTES_BOOKS[BookCategory.SELF_HELP].values())
    assert report["not_found"] == ["NOT_FOUND", "Category not found"]


# The README's sections whose Python examples run here, each printing lists of titles.
README_SECTIONS = ["### Python: the client distribution", "### Python: asyncio"]


def readme_examples(readme: str, heading: str) -> list[str]:
    """The Python examples under `heading` in `readme`: what users copy is what is tested."""
    assert heading + "\n" in readme, f"README.md has no section {heading!r}"
    lines: list[str] = []
    fenced = False
    for line in readme.split(heading + "\n", 1)[1].splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,3} ", line):
            break  # the next section
        lines.append(line)
    examples = re.findall(r"```python\n(.*?)```", "".join(lines), re.DOTALL)
    assert examples, f"README.md has no Python example under {heading!r}"
    return examples


@pytest.mark.parametrize("heading", README_SECTIONS)
def test_the_readmes_python_examples_work_as_written(
    heading: str, fresh_python: Path, tmp_path: Path, recommendations_server: Running
) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    notes_titles = {title for books in NOTES_BOOKS.values() for title in books.values()}
    for example in readme_examples(readme, heading):
        assert "localhost:50051" in example
        # The only change: the test server's address for the one `just up` uses.
        code = example.replace("localhost:50051", recommendations_server.address)
        output = run_isolated(fresh_python, code, tmp_path)
        printed = [ast.literal_eval(line) for line in output.splitlines()]
        assert printed, example
        for titles in printed:
            assert titles, output
            assert set(titles) <= notes_titles, output
