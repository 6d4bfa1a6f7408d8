//! The bookstore's recommender core: the catalogue, the categories and the
//! selection of books for a user.
//!
//! It knows nothing of gRPC, the web or Python; the Recommendations server, the
//! marketplaces and the Python wheel are thin shells around it, so all of them
//! give the same answers.
//!
//! ```
//! use recommender::{Catalog, Category};
//!
//! let catalog = Catalog::notes();
//! let books = catalog.recommend(1, Category::Mystery, 2)?;
//! assert_eq!(books.len(), 2);
//! # Ok::<(), recommender::RecommendError>(())
//! ```

#![warn(missing_docs)]

mod catalog;
mod category;
mod error;
mod select;

pub use catalog::{Book, Catalog};
pub use category::Category;
pub use error::{CatalogError, CatalogProblem, RecommendError, UnknownCategory};
