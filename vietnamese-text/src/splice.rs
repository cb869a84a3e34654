//! Keystrokes into NFC text, normalised where they land.
//!
//! A phone keyboard in decomposed mode sends "Muối" as M, u, o, U+0302 (circumflex), U+0301
//! (acute), i. Normalising each keystroke on its own leaves the lone marks as they are, and the
//! text after "o" + U+0302 is no longer NFC. Here the edit is normalised together with the
//! letters it touches: from the last starter (a character of canonical combining class 0)
//! before the edit to the end of the combining marks after it. Typing U+0302 after "o" becomes
//! "replace o with ô", and the text stays NFC after every keystroke.

use unicode_normalization::char::canonical_combining_class;
use unicode_normalization::{UnicodeNormalization, is_nfc};

/// An edit of a text as it is to be applied, in NFC in its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NfcSplice {
    /// Byte offset in the old text where the replaced bytes start.
    pub start_byte: usize,
    /// How many bytes of the old text are replaced.
    pub delete_bytes: usize,
    /// What replaces them (NFC in context).
    pub insert: String,
    /// Where a caret belongs afterwards, in characters of the new text: just after what was
    /// inserted. This can be less than `at + insert.chars().count()`, since inserted marks
    /// compose with the letter before them ("o" then U+0302 is the one character "ô").
    pub cursor: usize,
}

/// Deletes `delete` characters of `text` at character `at`, inserts `insert` there, and
/// normalises the result around the edit so that it is NFC wherever `text` was. `None` when
/// `at..at + delete` is not within `text`.
///
/// If the result is still not NFC (text that was not NFC to begin with, which a merge of
/// concurrent keystrokes can produce, or scripts whose letters compose with each other), the
/// whole text is normalised and the splice covers what that changes.
pub fn nfc_splice(text: &str, at: usize, delete: usize, insert: &str) -> Option<NfcSplice> {
    let mut bounds = text.char_indices().map(|(b, _)| b).chain(std::iter::once(text.len()));
    let start = bounds.nth(at)?;
    let end = if delete == 0 { start } else { bounds.nth(delete - 1)? };

    // The edit's context: back to the starter that marks inserted here would join, and on past
    // the marks after the edit that a letter inserted here would take.
    let region_start = text[..start]
        .char_indices()
        .rev()
        .find(|(_, c)| canonical_combining_class(*c) == 0)
        .map_or(0, |(i, _)| i);
    let region_end = text[end..]
        .char_indices()
        .find(|(_, c)| canonical_combining_class(*c) == 0)
        .map_or(text.len(), |(i, _)| end + i);

    let typed = format!("{}{insert}", &text[region_start..start]);
    let edited = format!("{typed}{}", &text[end..region_end]);
    let composed: String = edited.nfc().collect();
    let region_chars = text[..region_start].chars().count();
    let caret = region_chars + typed.nfc().count().min(composed.chars().count());

    let splice = minimal(text, region_start..region_end, &composed, caret);
    let result = apply(text, &splice);
    if is_nfc(&result) {
        return Some(splice);
    }
    let whole: String = result.nfc().collect();
    let caret = result.char_indices().nth(caret).map_or(result.as_str(), |(b, _)| &result[..b]).nfc().count();
    Some(minimal(text, 0..text.len(), &whole, caret))
}

/// The splice that turns `text[range]` into `replacement`, without the characters both share
/// at either end (so typing "i" after "ố" inserts "i" and leaves "ố" alone).
fn minimal(text: &str, range: std::ops::Range<usize>, replacement: &str, cursor: usize) -> NfcSplice {
    let old = &text[range.clone()];
    let prefix: usize =
        old.chars().zip(replacement.chars()).take_while(|(a, b)| a == b).map(|(a, _)| a.len_utf8()).sum();
    let (old_rest, new_rest) = (&old[prefix..], &replacement[prefix..]);
    let suffix: usize = old_rest
        .chars()
        .rev()
        .zip(new_rest.chars().rev())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a.len_utf8())
        .sum();
    NfcSplice {
        start_byte: range.start + prefix,
        delete_bytes: old_rest.len() - suffix,
        insert: new_rest[..new_rest.len() - suffix].to_string(),
        cursor,
    }
}

fn apply(text: &str, s: &NfcSplice) -> String {
    let mut out = String::with_capacity(text.len() + s.insert.len());
    out.push_str(&text[..s.start_byte]);
    out.push_str(&s.insert);
    out.push_str(&text[s.start_byte + s.delete_bytes..]);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::strategy::Strategy;

    /// Applies the splice and returns the new text and the cursor.
    fn type_into(text: &str, at: usize, delete: usize, insert: &str) -> (String, usize) {
        let s = nfc_splice(text, at, delete, insert).unwrap();
        (apply(text, &s), s.cursor)
    }

    #[test]
    fn decomposed_keystrokes_compose_as_they_arrive() {
        let mut text = String::new();
        let mut cursor = 0;
        let mut cursors = Vec::new();
        for key in ["M", "u", "o", "\u{0302}", "\u{0301}", "i"] {
            (text, cursor) = type_into(&text, cursor, 0, key);
            assert!(is_nfc(&text), "{text:?} after {key:?}");
            cursors.push(cursor);
        }
        assert_eq!(text, "Muối");
        assert_eq!(cursors, vec![1, 2, 3, 3, 3, 4], "the marks join the 'o' the caret is after");
    }

    #[test]
    fn a_mark_on_a_letter_replaces_the_letter_only() {
        let s = nfc_splice("Muoi", 3, 0, "\u{0302}").unwrap();
        assert_eq!(s, NfcSplice { start_byte: 2, delete_bytes: 1, insert: "ô".into(), cursor: 3 });
        // A plain letter after a composed one is a plain insertion.
        let s = nfc_splice("Muố", 3, 0, "i").unwrap();
        assert_eq!(s, NfcSplice { start_byte: "Muố".len(), delete_bytes: 0, insert: "i".into(), cursor: 4 });
    }

    #[test]
    fn deleting_a_stray_mark() {
        // A circumflex pressed twice: "ô" has no further circumflex form, so NFC keeps the mark.
        let doubled = "Muô\u{0302}i";
        assert!(is_nfc(doubled));
        assert_eq!(type_into(doubled, 3, 1, ""), ("Muôi".to_string(), 3));
    }

    #[test]
    fn a_letter_typed_before_a_lone_mark_takes_it() {
        let (text, cursor) = type_into("", 0, 0, "\u{0302}");
        assert_eq!((text.as_str(), cursor), ("\u{0302}", 1), "a lone mark at the start stays");
        let (text, cursor) = type_into(&text, 0, 0, "Muo");
        assert_eq!((text.as_str(), cursor), ("Muô", 3));
    }

    #[test]
    fn replacing_a_letter_under_marks() {
        // "Muối": replace the "ố" by a decomposed "ô" (the tone taken off).
        assert_eq!(type_into("Muối", 2, 1, "o\u{0302}"), ("Muôi".to_string(), 3));
        // Deleting the letter a stray mark sat on: the mark joins the letter before, and the
        // caret stays after that letter.
        assert_eq!(type_into("Mo\u{00F4}\u{0302}", 2, 1, ""), ("Mô".to_string(), 2));
    }

    #[test]
    fn out_of_range_is_none() {
        assert!(nfc_splice("Muối", 5, 0, "a").is_none());
        assert!(nfc_splice("Muối", 3, 2, "").is_none());
        assert!(nfc_splice("Muối", 4, 0, ".").is_some());
    }

    fn keystroke() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::sample::select(vec![
            "a",
            "o",
            "u",
            "e",
            "y",
            "d",
            "đ",
            "M",
            " ",
            "ô",
            "ư",
            "\u{0300}",
            "\u{0301}",
            "\u{0302}",
            "\u{0303}",
            "\u{0306}",
            "\u{0309}",
            "\u{031B}",
            "\u{0323}",
            "o\u{0302}\u{0301}",
        ])
        .prop_map(str::to_string)
    }

    proptest::proptest! {
        /// Whatever arrives, wherever: the text stays NFC and the caret stays inside it.
        #[test]
        fn every_splice_leaves_nfc(
            edits in proptest::collection::vec((0usize..=100, 0usize..3, keystroke()), 1..40),
        ) {
            let mut text = String::new();
            for (percent, delete, insert) in edits {
                let len = text.chars().count();
                let at = len * percent / 100 % (len + 1);
                let delete = delete.min(len - at);
                let (next, cursor) = type_into(&text, at, delete, &insert);
                proptest::prop_assert!(is_nfc(&next), "{:?}", next);
                proptest::prop_assert!(cursor <= next.chars().count());
                let expected: String =
                    format!("{}{insert}{}", text.chars().take(at).collect::<String>(), text.chars().skip(at + delete).collect::<String>()).nfc().collect();
                proptest::prop_assert_eq!(&next, &expected, "the same text as normalising all of it");
                text = next;
            }
        }
    }

    #[test]
    fn text_that_was_not_nfc_is_mended() {
        // Two concurrent keystrokes can merge into "o" followed by a lone circumflex.
        let merged = "Muo\u{0302}i";
        let (text, cursor) = type_into(merged, 5, 0, " muối");
        assert_eq!(text, "Muôi muối");
        assert_eq!(cursor, 9);
    }
}
