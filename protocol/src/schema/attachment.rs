//! Attachments: references to files (photos, signed scans, filled-in forms) held by a dispatch,
//! a task or a report. The bytes never enter a document: they travel on their own lane, named
//! by their SHA-256, and a document holds only this reference.

use automerge::{ObjType, ReadDoc, Value};
use autosurgeon::{Hydrate, Reconcile};
use unicode_normalization::UnicodeNormalization;

use super::validate::{self, Invalid, LINE_MAX};
use crate::ids::{BlobHash, DeviceId};
use crate::time::Timestamp;

/// The longest file name kept, in characters.
pub const FILE_NAME_MAX: usize = 200;

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
        if !media_type_ok(&self.media_type) {
            return Err(Invalid::new(
                format!("{field}.media_type"),
                format!("'{}' is not a media type such as image/jpeg", self.media_type.escape_debug()),
            ));
        }
        validate::text(&format!("{field}.caption"), &self.caption, LINE_MAX)
    }
}

/// A harmless name for a file a person picked: NFC, only the last part of a path (no folders,
/// so "../../etc/passwd" is "passwd"), without control or format characters, trimmed, at most
/// [`FILE_NAME_MAX`] characters (the extension kept), and "tệp đính kèm" when nothing is left.
/// The name is only shown and exported: files are stored under their hash.
pub fn file_name(picked: &str) -> String {
    let nfc: String = picked.nfc().collect();
    let last = nfc.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(*c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'))
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let name = if trimmed.is_empty() { "tệp đính kèm".to_string() } else { trimmed.to_string() };
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

/// "type/subtype" in the characters RFC 6838 allows, at most 127 bytes, lowercase.
pub fn media_type_ok(m: &str) -> bool {
    let ok_part = |p: &str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$&^_.+-".contains(&b))
    };
    m.len() <= 127 && matches!(m.split_once('/'), Some((t, s)) if ok_part(t) && ok_part(s))
}

/// Every file a document refers to: in its root's `attachments` and in each task's, read with
/// Automerge's own accessors (no hydration of the document), in document order, without
/// repeats, with the size each reference gives.
pub fn attachment_refs(doc: &impl ReadDoc) -> Vec<(BlobHash, u64)> {
    let mut out: Vec<(BlobHash, u64)> = Vec::new();
    collect(doc, &automerge::ROOT, &mut out);
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
