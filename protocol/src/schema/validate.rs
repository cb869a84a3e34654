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

/// Text that devices edit character by character (an Automerge `Text`: bodies, sections, task
/// notes). Two devices' valid edits merge into text neither wrote: two long pastes into one longer
/// than either device could type, a letter typed on one phone between a letter and the accent the
/// other phone had just typed after it ("Mu" + "x" + U+0301). A document rule that such a merge
/// breaks would make the relay refuse the second device's work for ever, so the document rule
/// only bounds the merged text ([`MERGED_PROSE_MAX`]); NFC and [`PROSE_MAX`] are rules of input
/// ([`prose_input`]), applied where a person types.
pub(crate) fn merged_text(field: &str, value: &str) -> Result<(), Invalid> {
    let n = value.chars().count();
    if n > MERGED_PROSE_MAX {
        return Err(Invalid::new(
            field,
            format!("is {n} characters long; at most {MERGED_PROSE_MAX} are allowed"),
        ));
    }
    Ok(())
}

/// The rule for prose a person enters: NFC and at most [`PROSE_MAX`] characters. An edit that
/// does not make the text longer is allowed whatever its length, so text that merged past the
/// limit can still be shortened.
pub fn prose_input(field: &str, before_chars: usize, after: &str) -> Result<(), Invalid> {
    if !is_nfc(after) {
        return Err(Invalid::new(field, "text must be in Unicode NFC form"));
    }
    let n = after.chars().count();
    if n > PROSE_MAX && n > before_chars {
        return Err(Invalid::new(
            field,
            format!("would be {n} characters long; at most {PROSE_MAX} can be entered"),
        ));
    }
    Ok(())
}

/// Longest single-line field (names, subjects).
pub(crate) const LINE_MAX: usize = 1_000;
/// Longest prose a person may enter in one field (bodies, sections, notes).
pub const PROSE_MAX: usize = 200_000;
/// Longest prose field a document may hold after merges of several devices' edits.
pub const MERGED_PROSE_MAX: usize = 1_000_000;
