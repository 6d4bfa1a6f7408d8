//! The shelves: one page per category of the contract, its URL slug and how
//! the pages name it.

use recommendations_proto::BookCategory;

/// Every category, in contract order: the shelves, as the pages list them.
pub const ALL: [BookCategory; 3] = [
    BookCategory::Mystery,
    BookCategory::ScienceFiction,
    BookCategory::SelfHelp,
];

/// The path of a category's page (the URL slug is the contract name in
/// lower-case kebab form, for example `science-fiction`).
#[must_use]
pub fn path(category: BookCategory) -> &'static str {
    match category {
        BookCategory::Mystery => "/category/mystery",
        BookCategory::ScienceFiction => "/category/science-fiction",
        BookCategory::SelfHelp => "/category/self-help",
    }
}

/// The category whose page is `/category/{slug}`.
#[must_use]
pub fn from_slug(slug: &str) -> Option<BookCategory> {
    ALL.into_iter()
        .find(|&category| path(category).strip_prefix("/category/") == Some(slug))
}

/// How a category is named on the pages.
#[must_use]
pub fn label(category: BookCategory) -> &'static str {
    match category {
        BookCategory::Mystery => "Mystery",
        BookCategory::ScienceFiction => "Science fiction",
        BookCategory::SelfHelp => "Self-help",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_of_the_contract_has_a_shelf_in_contract_order() {
        let numbered: Vec<_> = (0..)
            .map_while(|number| BookCategory::try_from(number).ok())
            .collect();
        assert_eq!(numbered, ALL);
    }

    #[test]
    fn slugs_are_the_contract_names_in_kebab_case() {
        for category in ALL {
            let kebab = category.as_str_name().to_lowercase().replace('_', "-");
            assert_eq!(path(category), format!("/category/{kebab}"));
        }
    }

    #[test]
    fn slugs_and_paths_round_trip() {
        for category in ALL {
            let slug = path(category).strip_prefix("/category/").unwrap();
            assert_eq!(from_slug(slug), Some(category));
        }
        assert_eq!(from_slug("romance"), None);
        assert_eq!(from_slug("MYSTERY"), None);
    }
}
