//! Vietnamese name order (ICU4X collator, locale `vi`): "An, Ân, Âu, Bùi, Dũng, Dương, Đạt,
//! Đinh", where byte order would put every Â, Đ, Ô, Ơ, Ư name last. Primary strength still
//! tells o/ô/ơ and d/đ apart, so it is for sorting only; matching uses the search key.

use std::cmp::Ordering;
use std::sync::LazyLock;

use icu_collator::options::CollatorOptions;
use icu_collator::{Collator, CollatorBorrowed};
use icu_locale_core::locale;

/// Sorts strings the Vietnamese way.
pub struct VietnameseCollator {
    inner: Option<CollatorBorrowed<'static>>,
}

impl VietnameseCollator {
    /// A collator for `vi` from the compiled-in data. Should the data ever be missing it
    /// falls back to comparing search keys, then code points.
    pub fn new() -> Self {
        let inner = Collator::try_new((&locale!("vi")).into(), CollatorOptions::default()).ok();
        VietnameseCollator { inner }
    }

    /// Compares two names.
    pub fn compare(&self, a: &str, b: &str) -> Ordering {
        match &self.inner {
            Some(c) => c.compare(a, b),
            None => crate::search_key(a).cmp(&crate::search_key(b)).then_with(|| a.cmp(b)),
        }
    }

    /// Sorts `items` by the name `key` gives for each.
    pub fn sort_by_name<T>(&self, items: &mut [T], key: impl Fn(&T) -> &str) {
        items.sort_by(|a, b| self.compare(key(a), key(b)));
    }
}

impl Default for VietnameseCollator {
    fn default() -> Self {
        Self::new()
    }
}

static SHARED: LazyLock<VietnameseCollator> = LazyLock::new(VietnameseCollator::new);

/// A shared collator, made once.
pub fn collator() -> &'static VietnameseCollator {
    &SHARED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_like_a_vietnamese_reader() {
        let mut names = vec!["Đinh", "An", "Dương", "Âu", "Bùi", "Ân", "Đạt", "Dũng"];
        collator().sort_by_name(&mut names, |s| s);
        assert_eq!(names, vec!["An", "Ân", "Âu", "Bùi", "Dũng", "Dương", "Đạt", "Đinh"]);
        assert!(collator().inner.is_some(), "compiled collation data for vi is present");
    }
}
