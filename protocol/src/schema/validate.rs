//! Validation helpers shared by every document kind.

use unicode_normalization::is_nfc;

use super::{DocKind, Header};

/// A document, or an input, that breaks a rule. Says which field and why, in words a cadre can
/// act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// The field, as a dotted path ("tasks[3].deadline").
    pub field: String,
    /// What is wrong and what is expected.
    pub reason: String,
}

impl Invalid {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Invalid { field: field.into(), reason: reason.into() }
    }
}

/// The header is of `kind` and well-formed.
pub(crate) fn header(h: &Header, kind: DocKind) -> Result<(), Invalid> {
    if h.kind != kind {
        return Err(Invalid::new("header.kind", format!("this document is a {}, not a {}", h.kind, kind)));
    }
    if h.schema_version == 0 {
        return Err(Invalid::new("header.schema_version", "must be 1 or more"));
    }
    Ok(())
}

/// Non-empty after trimming, in NFC, and at most `max` characters.
pub(crate) fn required_text(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    text(field, value, max)
}

/// In NFC and at most `max` characters (may be empty).
pub(crate) fn text(field: &str, value: &str, max: usize) -> Result<(), Invalid> {
    if !is_nfc(value) {
        return Err(Invalid::new(field, "text must be in Unicode NFC form"));
    }
    let n = value.chars().count();
    if n > max {
        return Err(Invalid::new(field, format!("is {n} characters long; at most {max} are allowed")));
    }
    Ok(())
}

/// Longest single-line field (names, subjects).
pub(crate) const LINE_MAX: usize = 1_000;
/// Longest prose field (bodies, sections).
pub(crate) const PROSE_MAX: usize = 200_000;
