//! Attachments: references to files (photos, signed scans, filled-in forms) held by a dispatch,
//! a task or a report. The bytes never enter a document: they travel on their own lane, named
//! by their SHA-256, and a document holds only this reference.

use automerge::{ObjType, ReadDoc, Value};
use autosurgeon::{Hydrate, Reconcile};
use unicode_normalization::UnicodeNormalization;

use super::DocKind;
use super::validate::{self, Invalid, LINE_MAX};
use crate::ids::{BlobHash, DeviceId};
use crate::time::Timestamp;

/// The longest file name kept, in characters.
pub const FILE_NAME_MAX: usize = 200;

/// Attachments a person may add to one document (or one task).
pub const ATTACHMENTS_INPUT_MAX: usize = 100;

/// Attachments one document (or one task) may hold: above [`ATTACHMENTS_INPUT_MAX`], so that
/// what several devices of a unit attached at once still merges into a valid document.
pub const ATTACHMENTS_MAX: usize = 1000;

/// The list of attachments `list` at `field` is well-formed.
pub fn validate_list(field: &str, list: &[Attachment]) -> Result<(), Invalid> {
    if list.len() > ATTACHMENTS_MAX {
        return Err(Invalid::new(
            field,
            format!("{} attachments; at most {ATTACHMENTS_MAX} may be held", list.len()),
        ));
    }
    for (i, a) in list.iter().enumerate() {
        a.validate(&format!("{field}[{i}]"))?;
    }
    Ok(())
}

/// One attached file.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Attachment {
    /// The SHA-256 of the bytes. Two devices attaching the same file merge into one entry.
    #[key]
    pub hash: BlobHash,
    /// The file's name as shown ("ảnh nhà ông Lực.jpg"): NFC, no folders, no control
    /// characters (see [`file_name`]).
    pub name: String,
    /// "image/jpeg", "application/pdf" …
    pub media_type: String,
    /// Bytes.
    pub size: u64,
    /// Words shown under it ("Bàn giao nhà Đại đoàn kết cho hộ ông Lực").
    pub caption: String,
    /// The device that attached it.
    pub added_by: DeviceId,
    /// When, on that device's clock.
    pub added_at: Timestamp,
}

impl Attachment {
    /// The reference is well-formed; `field` names where it sits ("attachments[2]").
    pub fn validate(&self, field: &str) -> Result<(), Invalid> {
        if file_name(&self.name) != self.name {
            return Err(Invalid::new(
                format!("{field}.name"),
                "a file name may not be empty, hold a folder, control characters or non-NFC text",
            ));
        }
        if self.size == 0 {
            return Err(Invalid::new(format!("{field}.size"), "an attached file may not be empty"));
        }
        if !media_type_ok(&self.media_type) {
            return Err(Invalid::new(
                format!("{field}.media_type"),
                format!("'{}' is not a media type such as image/jpeg", self.media_type.escape_debug()),
            ));
        }
        validate::text(&format!("{field}.caption"), &self.caption, CAPTION_MAX)
    }
}

/// The longest caption of an attached file, in characters.
pub const CAPTION_MAX: usize = LINE_MAX;

/// A harmless name for a file a person picked: NFC, only the last part of a path (no folders,
/// so "../../etc/passwd" is "passwd"), without control or format characters, trimmed, at most
/// [`FILE_NAME_MAX`] characters (the extension kept), and "tệp đính kèm" when nothing is left.
/// The name is only shown and exported: files are stored under their hash.
pub fn file_name(picked: &str) -> String {
    let last = picked.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = last.chars().filter(|c| !invisible(*c)).collect();
    // Normalised after the removals, so what is kept is NFC; a combining mark with nothing
    // to sit on, leading dots and spaces go (repeatedly: ". .jpg" has nothing left before
    // "jpg" to stand for a name).
    let nfc: String = kept.nfc().collect();
    let mut name = nfc.as_str();
    loop {
        let before = name;
        name = name.trim_start_matches(|c: char| c.is_whitespace() || c == '.' || combining(c)).trim_end();
        if name == before {
            break;
        }
    }
    let name = if name.is_empty() { "tệp đính kèm".to_string() } else { name.to_string() };
    if name.chars().count() <= FILE_NAME_MAX {
        return name;
    }
    // Keep a short extension; cut the stem.
    let ext: String = match name.rfind('.') {
        Some(i) if name[i..].chars().count() <= 12 => name[i..].to_string(),
        _ => String::new(),
    };
    let stem: String = name.chars().take(FILE_NAME_MAX - ext.chars().count()).collect();
    let stem = stem.trim_end();
    format!("{stem}{ext}")
}

/// Characters that show nothing or change how the rest shows: controls, line and paragraph
/// separators, and the format characters (soft hyphen, zero-width and direction marks).
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00ad}'
                | '\u{061c}'
                | '\u{180e}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

/// Combining marks that cannot stand at the start of a name.
fn combining(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036f}' | '\u{1ab0}'..='\u{1aff}' | '\u{1dc0}'..='\u{1dff}' | '\u{20d0}'..='\u{20ff}' | '\u{fe20}'..='\u{fe2f}')
}

/// "type/subtype" in the characters RFC 6838 allows, at most 127 bytes, lowercase.
pub fn media_type_ok(m: &str) -> bool {
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$&^_.+-".contains(&b))
    };
    m.len() <= 127 && matches!(m.split_once('/'), Some((t, s)) if ok_part(t) && ok_part(s))
}

/// Every file a document of `kind` refers to where its kind holds attachments (a report's
/// root; a dispatch's root and each of its tasks), read with Automerge's own accessors (no
/// hydration of the document), in document order, without repeats, with the size each
/// reference gives.
pub fn attachment_refs(doc: &impl ReadDoc, kind: DocKind) -> Vec<(BlobHash, u64)> {
    let mut out: Vec<(BlobHash, u64)> = Vec::new();
    if !matches!(kind, DocKind::Report | DocKind::Directive) {
        return out;
    }
    collect(doc, &automerge::ROOT, &mut out);
    if kind != DocKind::Directive {
        return out;
    }
    if let Some(tasks) = object(doc, &automerge::ROOT, "tasks", ObjType::List) {
        for i in 0..doc.length(&tasks) {
            if let Ok(Some((Value::Object(ObjType::Map), task))) = doc.get(&tasks, i) {
                collect(doc, &task, &mut out);
            }
        }
    }
    out
}

fn object(doc: &impl ReadDoc, obj: &automerge::ObjId, key: &str, want: ObjType) -> Option<automerge::ObjId> {
    match doc.get(obj, key) {
        Ok(Some((Value::Object(t), id))) if t == want => Some(id),
        _ => None,
    }
}

fn collect(doc: &impl ReadDoc, obj: &automerge::ObjId, out: &mut Vec<(BlobHash, u64)>) {
    let Some(list) = object(doc, obj, "attachments", ObjType::List) else { return };
    for i in 0..doc.length(&list) {
        let Ok(Some((Value::Object(ObjType::Map), item))) = doc.get(&list, i) else { continue };
        let hash = match doc.get(&item, "hash") {
            Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
                automerge::ScalarValue::Bytes(b) => BlobHash::from_slice(b).ok(),
                _ => None,
            },
            _ => None,
        };
        let size = match doc.get(&item, "size") {
            Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
                automerge::ScalarValue::Uint(u) => Some(*u),
                automerge::ScalarValue::Int(i) => u64::try_from(*i).ok(),
                _ => None,
            },
            _ => None,
        };
        if let (Some(h), Some(s)) = (hash, size)
            && !out.iter().any(|(x, _)| *x == h)
        {
            out.push((h, s));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn picked_names_become_harmless() {
        assert_eq!(file_name("../../etc/passwd"), "passwd");
        assert_eq!(file_name("C:\\Users\\cán bộ\\ảnh.jpg"), "ảnh.jpg");
        assert_eq!(file_name("ba\u{0300}n giao\u{0007}.jpg"), "bàn giao.jpg");
        assert_eq!(file_name("..."), "tệp đính kèm");
        assert_eq!(file_name("  .hidden  "), "hidden");
        assert_eq!(file_name("a\u{202e}gpj.exe"), "agpj.exe");
        let long = format!("{}.pdf", "Đ".repeat(400));
        let cut = file_name(&long);
        assert_eq!(cut.chars().count(), FILE_NAME_MAX);
        assert!(cut.ends_with(".pdf"));
        // Already harmless names stay as they are.
        assert_eq!(file_name("Biên bản bàn giao.pdf"), "Biên bản bàn giao.pdf");
        // Names that once came out invalid.
        for picked in [
            ". .jpg",
            " . .x",
            "..  ..jpg",
            "ba\u{0007}\u{0300}n giao.jpg",
            "ba\u{200b}\u{0300}n.jpg",
            "\u{301}b.jpg",
            "\u{301}",
            "a\u{2028}b\u{061c}c\u{00ad}.pdf",
        ] {
            let name = file_name(picked);
            assert_eq!(file_name(&name), name, "{picked:?} gives {name:?}, which changes again");
            assert!(unicode_normalization::is_nfc(&name), "{name:?}");
            assert!(!name.starts_with('.') && !name.chars().any(invisible), "{name:?}");
        }
        assert_eq!(file_name("ba\u{0007}\u{0300}n giao.jpg"), "bàn giao.jpg");
    }

    #[test]
    fn media_types_are_checked() {
        assert!(media_type_ok("image/jpeg"));
        assert!(media_type_ok("application/vnd.openxmlformats-officedocument.wordprocessingml.document"));
        assert!(!media_type_ok("image"));
        assert!(!media_type_ok("image/"));
        assert!(!media_type_ok("Image/JPEG"));
        assert!(!media_type_ok("text/html; charset=utf-8"));
    }
}
