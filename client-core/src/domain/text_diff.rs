//! A whole new text for a section, turned into as few and as whole edits as possible.
//!
//! When a cadre pastes or retypes a section, only the new value is known. Diffing it by
//! character (autosurgeon's `Text::update`) keeps every letter the old and new words happen to
//! share, so two devices that each rewrite the same sentence offline merge into interleaved
//! letters that read as neither. Here the diff is by word, and then tidied in the spirit of
//! diff-match-patch's semantic cleanup: an unchanged run between two changes is folded into one
//! replacement when it is only white space, or no longer than the two changes around it are on
//! average.
//! A rewritten sentence becomes one contiguous delete and insert, and a merge with another
//! device's rewrite keeps each device's sentence whole, side by side.

use std::ops::Range;
use std::time::Duration;

use autosurgeon::Text;
use similar::{DiffTag, TextDiff};

/// Longest the diff searches for the smallest edit; past it, it settles for a larger (still
/// correct) one, so a pasted book never stalls the phone.
const DIFF_TIMEOUT: Duration = Duration::from_millis(200);

/// One replacement in the old text: the bytes `start..start + delete` become `insert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Replacement {
    /// Byte offset in the old text.
    pub start: usize,
    /// Bytes of the old text removed.
    pub delete: usize,
    /// What takes their place.
    pub insert: String,
}

/// A stretch of both texts: byte ranges in the old and the new text, either equal or changed.
#[derive(Debug, Clone)]
struct Segment {
    changed: bool,
    old: Range<usize>,
    new: Range<usize>,
}

/// The replacements that turn `old` into `new`, in increasing, non-overlapping order of
/// `start`, each starting and ending on a word or white-space boundary.
pub(crate) fn word_replacements(old: &str, new: &str) -> Vec<Replacement> {
    if old == new {
        return Vec::new();
    }
    let diff = TextDiff::configure().timeout(DIFF_TIMEOUT).diff_words(old, new);
    let old_at = offsets(diff.old_slices());
    let new_at = offsets(diff.new_slices());
    let mut segments: Vec<Segment> = Vec::new();
    // Ops come in order and tile both texts; only their lengths are used, because the position
    // similar reports on the untouched side of a pure deletion or insertion is not always where
    // the op sits.
    let (mut o, mut n) = (0, 0);
    for op in diff.ops() {
        let (tag, old_tokens, new_tokens) = op.as_tag_tuple();
        let (o_end, n_end) = (o + old_tokens.len(), n + new_tokens.len());
        let segment = Segment {
            changed: tag != DiffTag::Equal,
            old: old_at[o]..old_at[o_end],
            new: new_at[n]..new_at[n_end],
        };
        (o, n) = (o_end, n_end);
        if segment.old.is_empty() && segment.new.is_empty() {
            continue;
        }
        push(&mut segments, segment, old, new);
    }
    lead_with_space(&mut segments, old, new);
    segments
        .into_iter()
        .filter(|s| s.changed)
        .map(|s| Replacement { start: s.old.start, delete: s.old.len(), insert: new[s.new].to_string() })
        .collect()
}

/// Sets `text` to `new` through word replacements (see the module comment).
pub(crate) fn replace_text(text: &mut Text, new: &str) {
    let replacements = word_replacements(text.as_str(), new);
    // From the end backwards, so each start is still a byte offset of the untouched old text.
    for r in replacements.iter().rev() {
        text.splice(r.start, r.delete as isize, &r.insert);
    }
}

/// Moves the white space before each replacement into it, so the replacement reads " new
/// words" rather than "new words". Two devices that rewrite the same sentence then each insert
/// their own separating space, and the merge reads "…dịp Tết. Các chi hội…" instead of
/// "…dịp Tết.Các chi hội…". Pure insertions are left as they are: they keep every old letter.
fn lead_with_space(segments: &mut Vec<Segment>, old: &str, new: &str) {
    let starts_with_word = |s: &str| s.chars().next().is_some_and(|c| !c.is_whitespace());
    let mut i = 1;
    while i < segments.len() {
        let (before, rest) = segments.split_at_mut(i);
        let (equal, change) = (&mut before[i - 1], &mut rest[0]);
        if change.changed
            && !equal.changed
            && starts_with_word(&old[change.old.clone()])
            && starts_with_word(&new[change.new.clone()])
        {
            let same = &old[equal.old.clone()];
            let space = same.len() - same.trim_end_matches(char::is_whitespace).len();
            equal.old.end -= space;
            equal.new.end -= space;
            change.old.start -= space;
            change.new.start -= space;
            if equal.old.is_empty() {
                // Only the first segment can be all white space: between two changes it was
                // folded into them already.
                segments.remove(i - 1);
                continue;
            }
        }
        i += 1;
    }
}

/// Byte offset of each token, plus the total length, for tokens that tile the text.
fn offsets(tokens: &[&str]) -> Vec<usize> {
    let mut at = Vec::with_capacity(tokens.len() + 1);
    let mut n = 0;
    at.push(0);
    for t in tokens {
        n += t.len();
        at.push(n);
    }
    at
}

/// Appends `segment`, joining it to a neighbour of the same kind, then folds unchanged runs
/// that the cleanup rule says belong to the changes around them. Folding can make a change
/// long enough to swallow the unchanged run before it, so it repeats down the stack.
fn push(out: &mut Vec<Segment>, segment: Segment, old: &str, new: &str) {
    match out.last_mut() {
        Some(last) if last.changed == segment.changed => {
            last.old.end = segment.old.end;
            last.new.end = segment.new.end;
        }
        _ => out.push(segment),
    }
    while let [.., left, between, right] = out.as_slice()
        && left.changed
        && !between.changed
        && right.changed
        && folds(left, between, right, old, new)
    {
        let merged =
            Segment { changed: true, old: left.old.start..right.old.end, new: left.new.start..right.new.end };
        out.truncate(out.len() - 3);
        out.push(merged);
    }
}

/// Whether the unchanged run `between` is better read as part of the changes on either side:
/// it is only white space, or it is no longer than the average of its neighbours (each
/// measured by its larger side, in characters). diff-match-patch asks for no longer than each
/// neighbour; a rewritten sentence often keeps a short word ("quà", "cho") next to a change of
/// one short word, and the average folds that too, while a sentence left as it was between two
/// one-word corrections stays untouched.
fn folds(left: &Segment, between: &Segment, right: &Segment, old: &str, new: &str) -> bool {
    let same = &old[between.old.clone()];
    if same.chars().all(char::is_whitespace) {
        return true;
    }
    let chars = |s: &str| s.chars().count();
    let size = |s: &Segment| chars(&old[s.old.clone()]).max(chars(&new[s.new.clone()]));
    2 * chars(same) <= size(left) + size(right)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn apply(old: &str, reps: &[Replacement]) -> String {
        let mut s = old.to_string();
        for r in reps.iter().rev() {
            s.replace_range(r.start..r.start + r.delete, &r.insert);
        }
        s
    }

    const BASE: &str = "Mặt trận phường đã vận động Quỹ Vì người nghèo được 20 triệu đồng. \
                        Tổ chức thăm hỏi, tặng quà 15 hộ gia đình chính sách. \
                        Kết quả được Ủy ban nhân dân ghi nhận.";

    #[test]
    fn a_rewritten_sentence_is_one_replacement() {
        let new = BASE.replace(
            "Tổ chức thăm hỏi, tặng quà 15 hộ gia đình chính sách.",
            "Ban Thường trực trao 30 suất quà cho hộ nghèo trong dịp Tết.",
        );
        let reps = word_replacements(BASE, &new);
        assert_eq!(
            reps,
            vec![Replacement {
                start: BASE.find(" Tổ chức").unwrap(),
                delete: " Tổ chức thăm hỏi, tặng quà 15 hộ gia đình chính sách.".len(),
                insert: " Ban Thường trực trao 30 suất quà cho hộ nghèo trong dịp Tết.".into(),
            }],
            "the shared words 'quà' and 'hộ' stay inside the one replacement"
        );
        assert_eq!(apply(BASE, &reps), new);
    }

    #[test]
    fn one_changed_word_stays_one_word() {
        let new = BASE.replace("20 triệu", "25 triệu");
        let reps = word_replacements(BASE, &new);
        assert_eq!(
            reps,
            vec![Replacement { start: BASE.find(" 20").unwrap(), delete: 3, insert: " 25".into() }]
        );
    }

    #[test]
    fn changes_far_apart_stay_apart() {
        let new = BASE.replace("phường", "xã").replace("ghi nhận", "biểu dương");
        let reps = word_replacements(BASE, &new);
        assert_eq!(reps.len(), 2, "{reps:?}");
        assert_eq!(reps[0].insert, " xã");
        assert_eq!(reps[1].insert, " biểu dương.");
        assert_eq!(apply(BASE, &reps), new);
    }

    #[test]
    fn an_insertion_keeps_every_old_letter() {
        let new = BASE.replace("15 hộ", "15 hộ nghèo và");
        let reps = word_replacements(BASE, &new);
        assert_eq!(reps.len(), 1, "{reps:?}");
        assert_eq!(reps[0].delete, 0, "{reps:?}");
        assert_eq!(apply(BASE, &reps), new);
    }

    #[test]
    fn words_separated_only_by_spaces_are_one_replacement() {
        let reps = word_replacements("Tổ chức thăm hỏi", "Ban trao quà tặng");
        assert_eq!(
            reps,
            vec![Replacement {
                start: 0,
                delete: "Tổ chức thăm hỏi".len(),
                insert: "Ban trao quà tặng".into()
            }]
        );
    }

    #[test]
    fn empty_and_equal_texts() {
        assert!(word_replacements(BASE, BASE).is_empty());
        assert_eq!(
            word_replacements("", "Đề nghị hỗ trợ."),
            vec![Replacement { start: 0, delete: 0, insert: "Đề nghị hỗ trợ.".into() }]
        );
        assert_eq!(
            word_replacements("Đề nghị hỗ trợ.", ""),
            vec![Replacement { start: 0, delete: "Đề nghị hỗ trợ.".len(), insert: String::new() }]
        );
    }

    #[test]
    fn replace_text_splices_an_autosurgeon_text() {
        #[derive(autosurgeon::Reconcile, autosurgeon::Hydrate)]
        struct Doc {
            body: Text,
        }
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, &Doc { body: Text::with_value(BASE) }).unwrap();
        let new = BASE.replace("15 hộ", "18 hộ").replace("Kết quả", "Việc làm này");
        let mut d: Doc = autosurgeon::hydrate(&doc).unwrap();
        replace_text(&mut d.body, &new);
        assert_eq!(d.body.as_str(), new);
        autosurgeon::reconcile(&mut doc, &d).unwrap();
        let back: Doc = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!(back.body.as_str(), new);
    }

    fn prose() -> impl Strategy<Value = String> {
        let word = prop::sample::select(vec![
            "Mặt",
            "trận",
            "phường",
            "hộ",
            "nghèo",
            "quà",
            "Tết",
            "đồng.",
            "20",
            "triệu",
            "Đề",
            "nghị,",
            " ",
            " ",
            "  ",
            "\n",
            "\n\n",
        ]);
        prop::collection::vec(word, 0..40).prop_map(|w| w.concat())
    }

    proptest! {
        #[test]
        fn replacements_rebuild_the_new_text(old in prose(), new in prose()) {
            let reps = word_replacements(&old, &new);
            prop_assert_eq!(apply(&old, &reps), new);
            for w in reps.windows(2) {
                prop_assert!(w[0].start + w[0].delete < w[1].start, "{reps:?}");
            }
            for r in &reps {
                prop_assert!(old.is_char_boundary(r.start) && old.is_char_boundary(r.start + r.delete));
            }
        }
    }
}
