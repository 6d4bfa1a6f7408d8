use thiserror::Error;

/// A number that names no category of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("no category is numbered {0}")]
pub struct UnknownCategory(pub i32);

/// Why a recommendation request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecommendError {
    /// The category number is not one the contract defines. The message is the
    /// notes' own, which clients may already match on; the number is in the source.
    #[error("Category not found")]
    UnknownCategory(#[from] UnknownCategory),
    /// A negative `max_results`; zero (the proto3 default) is allowed and gives no books.
    #[error("max_results must be zero or more, got {0}")]
    NegativeMaxResults(i32),
}

/// A catalogue that could not be loaded: where, and what is wrong.
#[derive(Debug, Error)]
#[error("{origin}: {problem}")]
pub struct CatalogError {
    /// The file (or other source) the catalogue came from.
    pub origin: String,
    /// What is wrong with it.
    pub problem: CatalogProblem,
}

/// What is wrong with a catalogue. Entries are numbered from 1, in file order.
#[derive(Debug, Error)]
#[allow(
    missing_docs,
    reason = "the fields are named by the messages they fill"
)]
pub enum CatalogProblem {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Unreadable(#[source] std::io::Error),
    /// The text is not JSON in the catalogue format.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// Two books share an id.
    #[error("book {entry} (id {id}): id {id} is already used by book {first_entry}")]
    DuplicateId {
        entry: usize,
        id: i32,
        first_entry: usize,
    },
    /// A book's category is not a contract name.
    #[error(
        "book {entry} (id {id}): unknown category {name:?}, expected MYSTERY, SCIENCE_FICTION or SELF_HELP"
    )]
    UnknownCategory { entry: usize, id: i32, name: String },
    /// A book's title is empty or blank.
    #[error("book {entry} (id {id}): the title is empty")]
    EmptyTitle { entry: usize, id: i32 },
}
