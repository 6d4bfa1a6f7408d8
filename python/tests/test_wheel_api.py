"""The installed wheel's Python API, as a Python user meets it."""

import copy
import doctest
import json
import pickle
import threading
import time
from importlib import resources
from pathlib import Path

import pytest
from notes_catalog import NOTES_BOOKS, NOTES_CATALOG_FILE
from recommendations_pb2 import BookCategory
from recommender_wheel import require_installed

require_installed()

import bookstore_recommender  # noqa: E402
from bookstore_recommender import (  # noqa: E402
    Book,
    Catalog,
    CatalogError,
    Category,
    CategoryNotFoundError,
    InvalidArgumentError,
    RecommenderError,
    recommend,
)
from bookstore_recommender import _recommender as native  # noqa: E402

# The notes' books by category, ordered by id as a catalogue lists them.
NOTES = {
    Category(category): [Book(book_id, title) for book_id, title in sorted(books.items())]
    for category, books in NOTES_BOOKS.items()
}
NOTES_IDS = {category: [book.id for book in books] for category, books in NOTES.items()}


def write_catalog(path: Path, books: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"books": books}), encoding="utf-8")
    return path


# The package


def test_the_public_names_are_curated() -> None:
    assert sorted(bookstore_recommender.__all__) == sorted(
        [
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
    )
    assert all(hasattr(bookstore_recommender, name) for name in bookstore_recommender.__all__)


def test_it_is_the_installed_wheel_not_the_source_tree() -> None:
    location = Path(bookstore_recommender.__file__)
    assert "site-packages" in location.parts
    assert Path(native.__file__).name.endswith(".abi3.so")


def test_types_ship_with_the_package() -> None:
    package = resources.files("bookstore_recommender")
    assert package.joinpath("py.typed").is_file()
    assert package.joinpath("_recommender.pyi").is_file()


def test_the_package_docstring_example_holds() -> None:
    results = doctest.testmod(bookstore_recommender)
    assert (results.attempted, results.failed) == (2, 0)


def test_the_version_is_the_crates() -> None:
    assert bookstore_recommender.__version__ == "0.1.0"


# Book


def test_a_book_has_an_id_a_title_and_a_repr_that_rebuilds_it() -> None:
    book = Book(7, 'The "Best" Book\'s Title')
    assert (book.id, book.title) == (7, 'The "Best" Book\'s Title')
    assert repr(book) == "Book(id=7, title='The \"Best\" Book\\'s Title')"
    assert eval(repr(book), {"Book": Book}) == book


def test_books_are_frozen() -> None:
    book = Book(1, "The Maltese Falcon")
    with pytest.raises(AttributeError):
        book.id = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        book.title = "Another"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        book.author = "Hammett"  # type: ignore[attr-defined]


def test_books_are_equal_and_hashable_by_value() -> None:
    assert Book(1, "A") == Book(1, "A")
    assert Book(1, "A") != Book(1, "B")
    assert Book(1, "A") != Book(2, "A")
    assert Book(1, "A") != (1, "A")
    assert len({Book(1, "A"), Book(1, "A"), Book(2, "A")}) == 2
    assert recommend(5, Category.MYSTERY, 3)[0] in set(Catalog().books(Category.MYSTERY))


def test_books_survive_pickle_and_copy() -> None:
    book = Book(3, "The Hound of the Baskervilles")
    assert pickle.loads(pickle.dumps(book)) == book
    assert copy.copy(book) == book
    assert copy.deepcopy(book) == book


def test_book_type_is_named_for_the_package() -> None:
    assert Book.__module__ == "bookstore_recommender"
    assert Book.__qualname__ == "Book"


# Category


def test_categories_are_an_int_enum_with_the_contract_names_and_numbers() -> None:
    assert [(category.name, category.value) for category in Category] == [
        ("MYSTERY", 0),
        ("SCIENCE_FICTION", 1),
        ("SELF_HELP", 2),
    ]
    assert Category.SELF_HELP == 2
    assert Category(1) is Category.SCIENCE_FICTION
    assert Category["MYSTERY"] is Category.MYSTERY


def test_the_enum_matches_the_core_and_the_contract() -> None:
    assert tuple((category.name, category.value) for category in Category) == native.CATEGORIES
    assert {category.name: category.value for category in Category} == dict(BookCategory.items())


@pytest.mark.parametrize("category", list(Category))
def test_a_category_can_be_the_enum_a_plain_int_or_the_grpc_constant(category: Category) -> None:
    grpc_constant = BookCategory.Value(category.name)
    expected = recommend(11, category, 3)
    assert recommend(11, int(category), 3) == expected
    assert recommend(11, grpc_constant, 3) == expected
    assert sorted(book.id for book in expected) == NOTES_IDS[category]


# recommend and Catalog


def test_the_notes_unit_test_gets_one_mystery_book() -> None:
    books = recommend(1, Category.MYSTERY, 1)
    assert len(books) == 1
    assert isinstance(books[0], Book)
    assert books[0].id in NOTES_IDS[Category.MYSTERY]


def test_recommend_is_deterministic_and_a_prefix_of_a_larger_request() -> None:
    three = recommend(42, Category.SELF_HELP, 3)
    assert recommend(42, Category.SELF_HELP, 3) == three
    assert recommend(42, Category.SELF_HELP, 2) == three[:2]
    assert recommend(42, Category.SELF_HELP, 0) == []
    assert recommend(42, Category.SELF_HELP, 100) == three


def test_arguments_can_be_given_by_keyword() -> None:
    assert recommend(user_id=3, category=Category.MYSTERY, max_results=2) == recommend(
        3, Category.MYSTERY, 2
    )
    assert Catalog().recommend(user_id=3, category=Category.MYSTERY, max_results=2) == recommend(
        3, Category.MYSTERY, 2
    )


def test_the_default_catalogue_is_the_notes() -> None:
    for catalog in (Catalog(), Catalog.notes()):
        assert len(catalog) == 9
        assert repr(catalog) == "<Catalog MYSTERY=3 SCIENCE_FICTION=3 SELF_HELP=3>"
        assert {
            category: [book.id for book in catalog.books(category)] for category in Category
        } == (NOTES_IDS)
        assert {category: catalog.books(category) for category in Category} == NOTES
        assert catalog.recommend(9, Category.MYSTERY, 3) == recommend(9, Category.MYSTERY, 3)


def test_a_loaded_catalogue_lists_books_by_id(tmp_path: Path) -> None:
    path = write_catalog(
        tmp_path / "store.json",
        [
            {"id": 20, "category": "SELF_HELP", "title": "Zen"},
            {"id": 10, "category": "SELF_HELP", "title": "Atomic Habits"},
            {"id": 5, "category": "MYSTERY", "title": "Rebecca"},
        ],
    )
    for catalog in (Catalog.load(path), Catalog.load(str(path))):
        assert len(catalog) == 3
        assert catalog.books(Category.SELF_HELP) == [Book(10, "Atomic Habits"), Book(20, "Zen")]
        assert catalog.books(Category.SCIENCE_FICTION) == []
        assert catalog.recommend(1, Category.SCIENCE_FICTION, 5) == []
        assert catalog.recommend(1, Category.MYSTERY, 5) == [Book(5, "Rebecca")]


def test_the_server_catalogue_file_loads(tmp_path: Path) -> None:
    catalog = Catalog.load(NOTES_CATALOG_FILE)
    for category in Category:
        assert catalog.books(category) == Catalog().books(category)


# Errors


def test_the_exceptions_form_a_small_hierarchy() -> None:
    assert issubclass(RecommenderError, Exception)
    assert issubclass(InvalidArgumentError, RecommenderError)
    assert issubclass(InvalidArgumentError, ValueError)
    assert issubclass(CatalogError, RecommenderError)
    assert issubclass(CatalogError, ValueError)
    assert issubclass(CategoryNotFoundError, RecommenderError)
    assert issubclass(CategoryNotFoundError, LookupError)


@pytest.mark.parametrize("category", [3, 7, -1, 2**31 - 1])
def test_an_unknown_category_is_not_found(category: int) -> None:
    with pytest.raises(CategoryNotFoundError, match=r"^Category not found$"):
        recommend(1, category, 3)
    with pytest.raises(LookupError, match=r"^Category not found$"):
        Catalog().books(category)


def test_a_negative_max_results_is_a_value_error_saying_what_to_fix() -> None:
    with pytest.raises(InvalidArgumentError, match=r"^max_results must be zero or more, got -1$"):
        recommend(1, Category.MYSTERY, -1)
    with pytest.raises(ValueError, match=r"got -5$"):
        Catalog().recommend(1, Category.MYSTERY, -5)


def test_numbers_outside_the_contracts_int32_overflow() -> None:
    with pytest.raises(OverflowError):
        recommend(2**31, Category.MYSTERY, 1)
    with pytest.raises(OverflowError):
        recommend(1, Category.MYSTERY, 2**31)


def test_a_non_integer_category_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        recommend(1, "MYSTERY", 1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("books", "problem"),
    [
        (
            [{"id": 1, "category": "MYSTERY", "title": "A"}] * 2,
            "book 2 (id 1): id 1 is already used by book 1",
        ),
        (
            [{"id": 4, "category": "ROMANCE", "title": "A"}],
            'book 1 (id 4): unknown category "ROMANCE", '
            "expected MYSTERY, SCIENCE_FICTION or SELF_HELP",
        ),
        ([{"id": 4, "category": "MYSTERY", "title": " "}], "book 1 (id 4): the title is empty"),
    ],
)
def test_a_bad_catalogue_names_the_file_and_the_entry(
    tmp_path: Path, books: list[dict[str, object]], problem: str
) -> None:
    path = write_catalog(tmp_path / "store.json", books)
    with pytest.raises(CatalogError) as raised:
        Catalog.load(path)
    assert str(raised.value) == f"{path}: {problem}"


def test_a_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    path.write_text('{"books": [\n  {"id": 1,, }\n]}', encoding="utf-8")
    with pytest.raises(ValueError, match=r": line 2, column \d+: ") as raised:
        Catalog.load(path)
    assert isinstance(raised.value, CatalogError)
    assert str(raised.value).startswith(f"{path}: ")


def test_a_file_that_is_not_utf8_is_a_catalog_error(tmp_path: Path) -> None:
    path = tmp_path / "store.json"
    path.write_bytes(b'{"books": [{"id": 1, "category": "MYSTERY", "title": "\xff"}]}')
    with pytest.raises(CatalogError, match="cannot read the file"):
        Catalog.load(path)


def test_a_missing_file_is_file_not_found_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    with pytest.raises(FileNotFoundError) as raised:
        Catalog.load(path)
    assert raised.value.filename == str(path)
    assert raised.value.errno == 2
    assert str(path) in str(raised.value)


def test_a_directory_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        Catalog.load(tmp_path)


# The GIL


def test_loading_a_catalogue_lets_other_threads_run(tmp_path: Path) -> None:
    # Long enough to load (tenths of a second) that a held GIL would stall the main thread.
    path = write_catalog(
        tmp_path / "big.json",
        [{"id": n, "category": "SCIENCE_FICTION", "title": f"Book {n}"} for n in range(400_000)],
    )
    span: list[float] = []
    loaded: list[Catalog] = []

    def load() -> None:
        span.append(time.perf_counter())
        loaded.append(Catalog.load(path))
        span.append(time.perf_counter())

    ticks: list[float] = []
    loader = threading.Thread(target=load)
    loader.start()
    while loader.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    loader.join()
    assert len(loaded[0]) == 400_000
    start, end = span
    middle = [tick for tick in ticks if start + (end - start) / 4 < tick < end - (end - start) / 4]
    # With the GIL held for the whole load, the main thread could not tick in between.
    assert middle, f"the main thread never ran during a {end - start:.3f}s load"
