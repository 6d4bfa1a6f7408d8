//! What the `catalog` fuzz target checks on every input. The regression test
//! `rust/recommender/tests/fuzz_regressions.rs` includes this same file and
//! replays `fuzz/regressions/catalog/` through it, so `cargo test` holds every
//! input the fuzzer ever broke.

use std::collections::HashSet;

use recommender::{Catalog, Category};

/// Readers tried on every catalogue that parses, the extremes included.
const USERS: [i32; 3] = [i32::MIN, 1, i32::MAX];
/// Page sizes tried, ascending: none, one, a few, more than most categories hold.
const MAX_RESULTS: [i32; 5] = [0, 1, 2, 7, 1_000];

/// Parses `data` as a catalogue when it is UTF-8. It must never panic; what
/// parses must hold sound books and give sound recommendations, and what does
/// not must say where it came from. Panics on any broken expectation.
pub(crate) fn check_catalog(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let catalog = match Catalog::from_json(text, "fuzz input") {
        Ok(catalog) => catalog,
        Err(error) => {
            let message = error.to_string();
            assert!(message.starts_with("fuzz input: "), "{message}");
            return;
        }
    };
    let ids: HashSet<i32> = catalog.iter().map(|(_, book)| book.id).collect();
    assert_eq!(ids.len(), catalog.iter().count(), "ids must be unique");
    for category in Category::ALL {
        check_shelf(&catalog, category);
    }
}

fn check_shelf(catalog: &Catalog, category: Category) {
    let shelf = catalog.books(category);
    assert!(
        shelf.windows(2).all(|pair| pair[0].id < pair[1].id),
        "{category}: books must be ordered by id"
    );
    assert!(
        shelf.iter().all(|book| !book.title.trim().is_empty()),
        "{category}: a blank title was accepted"
    );
    for user_id in USERS {
        let mut previous: Vec<i32> = Vec::new();
        for max_results in MAX_RESULTS {
            let books = catalog
                .recommend(user_id, category, max_results)
                .expect("a non-negative max_results is accepted");
            let wanted = usize::try_from(max_results).expect("non-negative");
            let context = format!("user {user_id}, {category}, max {max_results}");
            assert_eq!(books.len(), wanted.min(shelf.len()), "{context}");
            let picked: Vec<i32> = books.iter().map(|book| book.id).collect();
            let distinct: HashSet<i32> = picked.iter().copied().collect();
            assert_eq!(distinct.len(), picked.len(), "{context}: a book repeats");
            for book in &books {
                // The shelf is ordered by id, so the book must be found there, equal.
                let found = shelf.binary_search_by_key(&book.id, |book| book.id);
                assert!(
                    found.is_ok_and(|index| shelf[index] == **book),
                    "{context}: {book:?} is not a book of the category"
                );
            }
            // Asking for more extends the list rather than reshuffling it.
            assert!(picked.starts_with(&previous), "{context}: reshuffled");
            previous = picked;
        }
        assert!(
            catalog.recommend(user_id, category, -1).is_err(),
            "a negative max_results is refused"
        );
    }
}
