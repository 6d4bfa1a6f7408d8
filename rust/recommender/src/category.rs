use std::fmt;

use crate::UnknownCategory;

/// A book category, numbered as `BookCategory` in the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// `MYSTERY` (0).
    Mystery = 0,
    /// `SCIENCE_FICTION` (1).
    ScienceFiction = 1,
    /// `SELF_HELP` (2).
    SelfHelp = 2,
}

impl Category {
    /// Every category, in contract order.
    pub const ALL: [Category; 3] = [
        Category::Mystery,
        Category::ScienceFiction,
        Category::SelfHelp,
    ];

    /// The number the contract gives this category.
    #[must_use]
    pub fn value(self) -> i32 {
        self as i32
    }

    /// The contract's name for this category, as catalogue files spell it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Category::Mystery => "MYSTERY",
            Category::ScienceFiction => "SCIENCE_FICTION",
            Category::SelfHelp => "SELF_HELP",
        }
    }

    /// The category with the contract name `name` (case-sensitive, as in the contract).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|category| category.name() == name)
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The category the contract numbers `value`, as it arrives over the wire.
impl TryFrom<i32> for Category {
    type Error = UnknownCategory;

    fn try_from(value: i32) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|category| category.value() == value)
            .ok_or(UnknownCategory(value))
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RecommendError;

    #[test]
    fn values_and_names_match_the_contract() {
        let expected = [(0, "MYSTERY"), (1, "SCIENCE_FICTION"), (2, "SELF_HELP")];
        for (category, (value, name)) in Category::ALL.into_iter().zip(expected) {
            assert_eq!(category.value(), value);
            assert_eq!(category.name(), name);
            assert_eq!(Category::try_from(value), Ok(category));
            assert_eq!(Category::from_name(name), Some(category));
        }
    }

    #[test]
    fn an_unknown_value_names_the_number_and_is_category_not_found() {
        let error = Category::try_from(3).unwrap_err();
        assert_eq!(error, UnknownCategory(3));
        assert_eq!(error.to_string(), "no category is numbered 3");
        assert_eq!(
            RecommendError::from(error).to_string(),
            "Category not found"
        );
        assert!(Category::try_from(-1).is_err());
    }

    #[test]
    fn names_are_case_sensitive() {
        assert_eq!(Category::from_name("mystery"), None);
        assert_eq!(Category::from_name(""), None);
    }
}
