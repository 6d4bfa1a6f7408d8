use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::select::{sample_indices, seed};
use crate::{CatalogError, CatalogProblem, Category, RecommendError};

/// The notes' nine books, in the catalogue file format.
const NOTES_CATALOG: &str = include_str!("../catalog/notes.json");

/// A book the store can recommend.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Book {
    /// Unique within its catalogue.
    pub id: i32,
    /// As the catalogue spells it; never empty.
    pub title: String,
}

/// The books on sale, by category.
///
/// Within a category, books are kept ordered by id: the selection algorithm
/// is defined on that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    by_category: [Vec<Book>; Category::ALL.len()],
}

/// The catalogue file format: `{"books": [{"id": 1, "category": "MYSTERY", "title": "..."}]}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    books: Vec<BookEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BookEntry {
    id: i32,
    // A string rather than the enum, so that an unknown name is reported by entry.
    category: String,
    title: String,
}

impl Catalog {
    /// The notes' catalogue: nine books, three per category.
    #[must_use]
    pub fn notes() -> Self {
        Self::from_json(NOTES_CATALOG, "built-in notes catalogue")
            .expect("the built-in catalogue is valid (tested)")
    }

    /// Loads a catalogue file (JSON, in the format of `catalog/notes.json`).
    pub fn load(path: &Path) -> Result<Self, CatalogError> {
        let origin = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_json(&text, &origin),
            Err(error) => Err(CatalogError {
                origin,
                problem: CatalogProblem::Unreadable(error),
            }),
        }
    }

    /// Parses a catalogue; `origin` names its source in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, CatalogError> {
        let fail = |problem| CatalogError {
            origin: origin.to_owned(),
            problem,
        };
        let file: CatalogFile = serde_json::from_str(text).map_err(|error| {
            fail(CatalogProblem::Syntax {
                line: error.line(),
                column: error.column(),
                message: strip_position(&error.to_string()),
            })
        })?;

        let mut first_entry_of_id = HashMap::with_capacity(file.books.len());
        let mut by_category: [Vec<Book>; Category::ALL.len()] = Default::default();
        for (entry, book) in (1..).zip(file.books) {
            let id = book.id;
            if let Some(&first_entry) = first_entry_of_id.get(&id) {
                return Err(fail(CatalogProblem::DuplicateId {
                    entry,
                    id,
                    first_entry,
                }));
            }
            first_entry_of_id.insert(id, entry);
            let Some(category) = Category::from_name(&book.category) else {
                return Err(fail(CatalogProblem::UnknownCategory {
                    entry,
                    id,
                    name: book.category,
                }));
            };
            if book.title.trim().is_empty() {
                return Err(fail(CatalogProblem::EmptyTitle { entry, id }));
            }
            by_category[category.index()].push(Book {
                id,
                title: book.title,
            });
        }
        for books in &mut by_category {
            books.sort_unstable_by_key(|book| book.id);
        }
        Ok(Self { by_category })
    }

    /// The books of `category`, ordered by id.
    #[must_use]
    pub fn books(&self, category: Category) -> &[Book] {
        &self.by_category[category.index()]
    }

    /// Every book in the catalogue.
    pub fn iter(&self) -> impl Iterator<Item = (Category, &Book)> {
        Category::ALL.into_iter().flat_map(move |category| {
            self.books(category)
                .iter()
                .map(move |book| (category, book))
        })
    }

    /// Up to `max_results` distinct books of `category` for `user_id`.
    ///
    /// The same arguments always give the same books in the same order;
    /// different users get different selections. `max_results = 0` gives no
    /// books; a negative one is an error. The algorithm is specified step by
    /// step in `select.rs` and costs O(`max_results`), however large the
    /// category.
    pub fn recommend(
        &self,
        user_id: i32,
        category: Category,
        max_results: i32,
    ) -> Result<Vec<&Book>, RecommendError> {
        let wanted = u64::try_from(max_results)
            .map_err(|_| RecommendError::NegativeMaxResults(max_results))?;
        let books = self.books(category);
        let picked = sample_indices(seed(user_id, category.value()), books.len() as u64, wanted);
        Ok(picked
            .into_iter()
            .map(|index| &books[usize::try_from(index).expect("index < books.len()")])
            .collect())
    }
}

/// `serde_json` appends " at line L column C", which the error already reports.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    fn titles(books: &[&Book]) -> Vec<String> {
        books.iter().map(|book| book.title.clone()).collect()
    }

    #[test]
    fn the_notes_catalogue_has_the_notes_books() {
        let catalog = Catalog::notes();
        let expected = [
            (Category::Mystery, 1, "The Maltese Falcon"),
            (Category::Mystery, 2, "Murder on the Orient Express"),
            (Category::Mystery, 3, "The Hound of the Baskervilles"),
            (
                Category::ScienceFiction,
                4,
                "The Hitchhiker's Guide to the Galaxy",
            ),
            (Category::ScienceFiction, 5, "Ender's Game"),
            (Category::ScienceFiction, 6, "The Dune Chronicles"),
            (
                Category::SelfHelp,
                7,
                "The 7 Habits of Highly Effective People",
            ),
            (
                Category::SelfHelp,
                8,
                "How to Win Friends and Influence People",
            ),
            (Category::SelfHelp, 9, "Man's Search for Meaning"),
        ];
        let actual: Vec<_> = catalog
            .iter()
            .map(|(category, book)| (category, book.id, book.title.as_str()))
            .collect();
        assert_eq!(actual, expected);
    }

    #[test]
    fn the_notes_unit_test_gets_one_mystery_book() {
        let catalog = Catalog::notes();
        let books = catalog.recommend(1, Category::Mystery, 1).unwrap();
        assert_eq!(books.len(), 1);
        assert!((1..=3).contains(&books[0].id));
    }

    #[test]
    fn zero_max_results_gives_no_books() {
        assert!(
            Catalog::notes()
                .recommend(1, Category::SelfHelp, 0)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn negative_max_results_is_refused_with_what_to_fix() {
        let error = Catalog::notes()
            .recommend(1, Category::Mystery, -2)
            .unwrap_err();
        assert_eq!(error, RecommendError::NegativeMaxResults(-2));
        assert_eq!(
            error.to_string(),
            "max_results must be zero or more, got -2"
        );
    }

    #[test]
    fn an_unknown_category_number_is_not_found() {
        let error = RecommendError::from(Category::try_from(7).unwrap_err());
        assert_eq!(error.to_string(), "Category not found");
    }

    #[test]
    fn more_than_the_category_holds_gives_the_whole_category() {
        let catalog = Catalog::notes();
        let books = catalog
            .recommend(5, Category::ScienceFiction, 1_000)
            .unwrap();
        let ids: HashSet<_> = books.iter().map(|book| book.id).collect();
        assert_eq!(ids, HashSet::from([4, 5, 6]));
    }

    #[test]
    fn users_get_different_selections() {
        let catalog = Catalog::notes();
        let selections: HashSet<_> = (0..50)
            .map(|user| titles(&catalog.recommend(user, Category::Mystery, 2).unwrap()))
            .collect();
        // Six ordered pairs exist; fifty users should see more than one of them.
        assert!(selections.len() > 1, "every user got {selections:?}");
    }

    #[test]
    fn a_million_book_category_is_sampled_without_touching_every_book() {
        let books = (1..=1_000_000)
            .map(|id| format!(r#"{{"id":{id},"category":"SCIENCE_FICTION","title":"Book {id}"}}"#))
            .collect::<Vec<_>>()
            .join(",");
        let catalog =
            Catalog::from_json(&format!(r#"{{"books":[{books}]}}"#), "generated").unwrap();
        let picked = catalog.recommend(99, Category::ScienceFiction, 5).unwrap();
        assert_eq!(picked.len(), 5);
        assert_eq!(
            picked
                .iter()
                .map(|book| book.id)
                .collect::<HashSet<_>>()
                .len(),
            5
        );
        assert!(
            catalog
                .recommend(99, Category::Mystery, 5)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_file_catalogue_is_loaded_and_ordered_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.json");
        std::fs::write(
            &path,
            r#"{"books": [
                {"id": 20, "category": "SELF_HELP", "title": "B"},
                {"id": 10, "category": "SELF_HELP", "title": "A"}
            ]}"#,
        )
        .unwrap();
        let catalog = Catalog::load(&path).unwrap();
        let ids: Vec<_> = catalog
            .books(Category::SelfHelp)
            .iter()
            .map(|book| book.id)
            .collect();
        assert_eq!(ids, [10, 20]);
        assert!(catalog.books(Category::Mystery).is_empty());
    }

    fn load_error(text: &str) -> String {
        Catalog::from_json(text, "store.json")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_duplicate_id_names_both_entries() {
        let message = load_error(
            r#"{"books": [{"id": 1, "category": "MYSTERY", "title": "A"},
                          {"id": 1, "category": "MYSTERY", "title": "B"}]}"#,
        );
        assert_eq!(
            message,
            "store.json: book 2 (id 1): id 1 is already used by book 1"
        );
    }

    #[test]
    fn an_unknown_category_names_the_entry_and_the_choices() {
        let message = load_error(r#"{"books": [{"id": 4, "category": "ROMANCE", "title": "A"}]}"#);
        assert_eq!(
            message,
            "store.json: book 1 (id 4): unknown category \"ROMANCE\", expected MYSTERY, SCIENCE_FICTION or SELF_HELP"
        );
    }

    #[test]
    fn an_empty_title_names_the_entry() {
        let message = load_error(r#"{"books": [{"id": 4, "category": "MYSTERY", "title": "  "}]}"#);
        assert_eq!(message, "store.json: book 1 (id 4): the title is empty");
    }

    #[test]
    fn a_syntax_error_names_the_line() {
        let message = load_error("{\"books\": [\n  {\"id\": 1,, }\n]}");
        assert!(
            message.starts_with("store.json: line 2, column "),
            "{message}"
        );
    }

    #[test]
    fn a_misspelt_field_is_reported_not_ignored() {
        let message = load_error(r#"{"books": [{"id": 1, "category": "MYSTERY", "titel": "A"}]}"#);
        assert!(message.contains("unknown field `titel`"), "{message}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let error = Catalog::load(Path::new("/nonexistent/store.json")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("/nonexistent/store.json: cannot read the file")
        );
    }

    proptest! {
        #[test]
        fn recommendations_are_distinct_books_of_the_category(
            user_id: i32,
            category in prop::sample::select(Category::ALL.to_vec()),
            max_results in 0i32..10,
        ) {
            let catalog = Catalog::notes();
            let books = catalog.recommend(user_id, category, max_results).unwrap();
            let expected_len = usize::try_from(max_results).unwrap().min(catalog.books(category).len());
            prop_assert_eq!(books.len(), expected_len);
            prop_assert!(books.iter().all(|book| catalog.books(category).contains(book)));
            prop_assert_eq!(books.iter().map(|book| book.id).collect::<HashSet<_>>().len(), books.len());
        }

        #[test]
        fn the_same_request_always_gets_the_same_answer(
            user_id: i32,
            category in prop::sample::select(Category::ALL.to_vec()),
            max_results in 0i32..5,
        ) {
            let catalog = Catalog::notes();
            prop_assert_eq!(
                catalog.recommend(user_id, category, max_results).unwrap(),
                catalog.recommend(user_id, category, max_results).unwrap()
            );
        }

        #[test]
        fn negative_max_results_is_always_refused(user_id: i32, max_results in i32::MIN..0) {
            let catalog = Catalog::notes();
            prop_assert_eq!(
                catalog.recommend(user_id, Category::Mystery, max_results),
                Err(RecommendError::NegativeMaxResults(max_results))
            );
        }
    }
}
