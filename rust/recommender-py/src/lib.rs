//! Python bindings for the recommender core: the native module
//! `bookstore_recommender._recommender` inside the `bookstore-recommender` wheel.
//!
//! Only glue lives here. The core decides what to recommend, the pure-Python
//! package around this module (`python/bookstore_recommender`) gives the public
//! API its shape (the `Category` enum, the exception classes), and every core
//! error becomes a Python exception in one place, [`Error`]'s `From` impl.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple};
use recommender::{CatalogProblem, Category, RecommendError};

// The exception classes are plain Python classes (`_errors.py`), so that they can
// inherit from both `RecommenderError` and the built-in they specialise; they are
// imported when first raised, by which time the package is loaded.
pyo3::import_exception!(bookstore_recommender._errors, CatalogError);
pyo3::import_exception!(bookstore_recommender._errors, CategoryNotFoundError);
pyo3::import_exception!(bookstore_recommender._errors, InvalidArgumentError);

/// The notes' catalogue, parsed once and shared by `recommend()`, `Catalog()`
/// and `Catalog.notes()`.
static NOTES: LazyLock<Arc<recommender::Catalog>> =
    LazyLock::new(|| Arc::new(recommender::Catalog::notes()));

/// Any failure of the core, on its way to Python.
#[derive(Debug)]
enum Error {
    Recommend(RecommendError),
    Catalog(recommender::CatalogError),
}

impl From<RecommendError> for Error {
    fn from(error: RecommendError) -> Self {
        Self::Recommend(error)
    }
}

impl From<recommender::CatalogError> for Error {
    fn from(error: recommender::CatalogError) -> Self {
        Self::Catalog(error)
    }
}

/// The one mapping from core errors to Python exceptions; the messages are the
/// core's own, so Python, the server and the logs all say the same thing.
impl From<Error> for PyErr {
    fn from(error: Error) -> Self {
        match error {
            Error::Recommend(error @ RecommendError::UnknownCategory(_)) => {
                CategoryNotFoundError::new_err(error.to_string())
            }
            Error::Recommend(error @ RecommendError::NegativeMaxResults(_)) => {
                InvalidArgumentError::new_err(error.to_string())
            }
            // A file the OS would not read is an `OSError`, as `open()` would raise:
            // calling `OSError(errno, strerror, filename)` picks the subclass
            // (`FileNotFoundError`, `PermissionError`, ...) from the errno.
            Error::Catalog(recommender::CatalogError {
                origin,
                problem: CatalogProblem::Unreadable(io_error),
            }) if io_error.raw_os_error().is_some() => {
                let errno = io_error.raw_os_error().unwrap_or_default();
                PyOSError::new_err((errno, os_message(&io_error), origin))
            }
            // Whatever is wrong inside the file (including text that is not UTF-8).
            Error::Catalog(error) => CatalogError::new_err(error.to_string()),
        }
    }
}

/// The OS's description of an I/O error, without the " (os error N)" that Rust
/// appends and that `OSError` shows as `[Errno N]` already.
fn os_message(error: &std::io::Error) -> String {
    let message = error.to_string();
    match message.rfind(" (os error ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// A book the store can recommend: immutable, hashable and equal by value.
#[pyclass(frozen, eq, hash, get_all, module = "bookstore_recommender")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Book {
    /// The book's id, unique in its catalogue.
    id: i32,
    /// The book's title.
    title: String,
}

impl From<&recommender::Book> for Book {
    fn from(book: &recommender::Book) -> Self {
        Self {
            id: book.id,
            title: book.title.clone(),
        }
    }
}

#[pymethods]
impl Book {
    #[new]
    fn new(id: i32, title: String) -> Self {
        Self { id, title }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        // Python's own repr of the title, so that quotes in it are escaped as Python escapes them.
        let title = PyString::new(py, &self.title).repr()?;
        Ok(format!("Book(id={}, title={title})", self.id))
    }

    /// Lets `pickle` and `copy` rebuild the book through the constructor.
    fn __getnewargs__(&self) -> (i32, String) {
        (self.id, self.title.clone())
    }
}

/// A catalogue of books by category: the notes' nine books by default, or one
/// loaded from a JSON file in the format of the server's `--catalog`.
#[pyclass(frozen, module = "bookstore_recommender")]
#[derive(Debug)]
struct Catalog {
    core: Arc<recommender::Catalog>,
}

#[pymethods]
impl Catalog {
    /// The notes' catalogue, like `Catalog.notes()`.
    #[new]
    fn new() -> Self {
        Self::notes()
    }

    /// The notes' catalogue: nine books, three per category.
    #[staticmethod]
    fn notes() -> Self {
        Self {
            core: Arc::clone(&NOTES),
        }
    }

    /// Loads a catalogue file, releasing the GIL while it is read and parsed.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let core = py
            .detach(move || recommender::Catalog::load(&path))
            .map_err(Error::from)?;
        Ok(Self {
            core: Arc::new(core),
        })
    }

    /// The books of `category`, ordered by id.
    fn books(&self, category: i32) -> PyResult<Vec<Book>> {
        let category = category_from(category)?;
        Ok(self.core.books(category).iter().map(Book::from).collect())
    }

    /// Up to `max_results` books of `category` for `user_id`; the same books, in
    /// the same order, as the Recommendations server gives for this catalogue.
    fn recommend(&self, user_id: i32, category: i32, max_results: i32) -> PyResult<Vec<Book>> {
        recommend_from(&self.core, user_id, category, max_results)
    }

    /// The number of books, in every category.
    fn __len__(&self) -> usize {
        Category::ALL
            .into_iter()
            .map(|category| self.core.books(category).len())
            .sum()
    }

    fn __repr__(&self) -> String {
        let counts: Vec<String> = Category::ALL
            .into_iter()
            .map(|category| format!("{category}={}", self.core.books(category).len()))
            .collect();
        format!("<Catalog {}>", counts.join(" "))
    }
}

/// The category Python numbers `value` (an `IntEnum`, grpc's `BookCategory` or a plain int).
fn category_from(value: i32) -> Result<Category, Error> {
    Category::try_from(value).map_err(|unknown| Error::from(RecommendError::from(unknown)))
}

fn recommend_from(
    catalog: &recommender::Catalog,
    user_id: i32,
    category: i32,
    max_results: i32,
) -> PyResult<Vec<Book>> {
    let books = catalog
        .recommend(user_id, category_from(category)?, max_results)
        .map_err(Error::from)?;
    Ok(books.into_iter().map(Book::from).collect())
}

/// Up to `max_results` books of `category` for `user_id` from the notes' catalogue.
#[pyfunction]
fn recommend(user_id: i32, category: i32, max_results: i32) -> PyResult<Vec<Book>> {
    recommend_from(&NOTES, user_id, category, max_results)
}

/// The native module; `bookstore_recommender` re-exports what users need.
#[pymodule]
fn _recommender(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Book>()?;
    module.add_class::<Catalog>()?;
    module.add_function(wrap_pyfunction!(recommend, module)?)?;
    // The core's categories, so that the Python enum can be checked against them.
    let categories: Vec<(&str, i32)> = Category::ALL
        .into_iter()
        .map(|category| (category.name(), category.value()))
        .collect();
    module.add("CATEGORIES", PyTuple::new(module.py(), categories)?)?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
