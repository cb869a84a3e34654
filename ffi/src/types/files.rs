//! Attached files: what to attach to, what is attached, and how far each file's transfer got.

use giaoban_client_core as core;

use super::doc_id;
use crate::error::{GiaoBanError, Result};

/// What a file is attached to.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum AttachmentTarget {
    /// A report of this device's unit.
    Report {
        /// The report's id.
        id: String,
    },
    /// A dispatch this device's unit issued (the signed scan, an appendix).
    Directive {
        /// The dispatch's id.
        id: String,
    },
    /// One task of a dispatch this device's unit issued (the form to fill in).
    Task {
        /// The dispatch's id.
        directive: String,
        /// The task's number.
        ordinal: u64,
    },
}

impl AttachmentTarget {
    pub(crate) fn into_core(self) -> Result<core::AttachTo> {
        Ok(match self {
            AttachmentTarget::Report { id } => core::AttachTo::Report(doc_id("id", &id)?),
            AttachmentTarget::Directive { id } => core::AttachTo::Directive(doc_id("id", &id)?),
            AttachmentTarget::Task { directive, ordinal } => {
                core::AttachTo::Task { directive: doc_id("directive", &directive)?, ordinal }
            }
        })
    }
}

/// A file a person picked.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttachmentInput {
    /// Its name as picked; folders and control characters are dropped.
    pub name: String,
    /// "image/jpeg", "application/pdf" …
    pub media_type: String,
    /// Words shown under it; may be empty.
    pub caption: String,
}

impl From<AttachmentInput> for core::NewAttachment {
    fn from(a: AttachmentInput) -> Self {
        core::NewAttachment { name: a.name, media_type: a.media_type, caption: a.caption }
    }
}

/// How far an attached file's transfer got.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FileTransfer {
    /// The file's size in bytes.
    pub size: u64,
    /// Whole on this device.
    pub here: bool,
    /// Bytes the relay holds, as far as this device knows.
    pub sent: u64,
    /// Bytes fetched so far while downloading.
    pub got: u64,
    /// Opened while not here: fetched before anything else.
    pub wanted: bool,
    /// Why the relay refused it, if it did.
    pub problem: Option<String>,
    /// What to show beside it: "đang tải lên 40 %", "đã gửi", "chưa tải về".
    pub sentence: String,
}

impl From<&core::FileState> for FileTransfer {
    fn from(s: &core::FileState) -> Self {
        FileTransfer {
            size: s.size,
            here: s.here,
            sent: s.sent,
            got: s.got,
            wanted: s.wanted,
            problem: s.problem.clone(),
            sentence: s.sentence(),
        }
    }
}

/// One attachment of a document.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AttachmentItem {
    /// The file's SHA-256 (64 hex digits): what to open it by.
    pub hash: String,
    /// Its name.
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Words shown under it.
    pub caption: String,
    /// The device that attached it.
    pub added_by: String,
    /// When (ms since 1970 UTC, that device's clock).
    pub added_at_ms: i64,
    /// The task it belongs to, for a dispatch's task.
    pub task: Option<u64>,
    /// How far its transfer got.
    pub transfer: FileTransfer,
}

impl From<core::AttachmentView> for AttachmentItem {
    fn from(v: core::AttachmentView) -> Self {
        let a = v.attachment;
        AttachmentItem {
            hash: a.hash.to_hex(),
            name: a.name,
            media_type: a.media_type,
            size: a.size,
            caption: a.caption,
            added_by: a.added_by.to_string(),
            added_at_ms: a.added_at.0,
            task: v.task,
            transfer: FileTransfer::from(&v.state),
        }
    }
}

/// What opening an attachment gave.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum OpenedFile {
    /// The file is here: read it at this path (do not move or change it).
    Here {
        /// Its path.
        path: String,
    },
    /// Not here yet; it is fetched first on the next transfer (`sync_files`, or background
    /// sync). Listen for its transfer to know when it is here.
    Fetching {
        /// How far it got.
        transfer: FileTransfer,
    },
}

impl From<core::Opened> for OpenedFile {
    fn from(o: core::Opened) -> Self {
        match o {
            core::Opened::Here(p) => OpenedFile::Here { path: p.to_string_lossy().into_owned() },
            core::Opened::Fetching(s) => OpenedFile::Fetching { transfer: FileTransfer::from(&s) },
        }
    }
}

/// What one run of the file transfers did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FilesSummary {
    /// Files the relay now holds whole.
    pub sent: u32,
    /// Files fetched whole.
    pub fetched: u32,
    /// Files left for later (not on the relay yet, refused, or the link went).
    pub waiting: u32,
    /// Bytes the relay took.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
}

impl From<core::FilesReport> for FilesSummary {
    fn from(r: core::FilesReport) -> Self {
        FilesSummary {
            sent: r.sent as u32,
            fetched: r.fetched as u32,
            waiting: r.waiting as u32,
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
        }
    }
}

pub(crate) fn file_hash(field: &str, s: &str) -> Result<core::protocol::BlobHash> {
    s.trim()
        .parse()
        .map_err(|_| GiaoBanError::invalid(field, format!("'{s}' is not a file hash (64 hex digits)")))
}
