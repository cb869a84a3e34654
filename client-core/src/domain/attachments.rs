//! Attached files: photos of a handed-over house, a signed scan, the filled-in form a dispatch
//! asked for. The file goes into the folder beside the store first (durably, under its
//! SHA-256), then the reference goes into the document; the bytes travel on their own lane
//! (`crate::sync::files`) and never enter a document.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use giaoban_protocol::schema::{
    ATTACHMENTS_INPUT_MAX, Attachment, Directive, Report, file_name, media_type_ok,
};
use giaoban_protocol::{BlobHash, DocId, DocKind};
use giaoban_vietnamese_text::clean_input;
use rusqlite::{OptionalExtension, params};

use crate::Store;
use crate::error::{CoreError, Result};
use crate::store::files::{FileFolder, TakeIn};

/// A file a person picked, to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    /// Its name as picked ("IMG_2041.jpg", "ảnh nhà ông Lực.jpg"); folders and control
    /// characters are dropped (see [`file_name`]).
    pub name: String,
    /// "image/jpeg", "application/pdf" …
    pub media_type: String,
    /// Words shown under it; may be empty.
    pub caption: String,
}

/// What a file is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachTo {
    /// A report (its unit's evidence).
    Report(DocId),
    /// A dispatch itself (the signed scan).
    Directive(DocId),
    /// One task of a dispatch (the form to fill in).
    Task {
        /// The dispatch.
        directive: DocId,
        /// The task's number.
        ordinal: u64,
    },
}

impl AttachTo {
    fn doc(self) -> DocId {
        match self {
            AttachTo::Report(id) | AttachTo::Directive(id) | AttachTo::Task { directive: id, .. } => id,
        }
    }
}

/// Where an attached file is, and how far its transfer got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    /// The file's size in bytes.
    pub size: u64,
    /// Whole on this device, checked against its hash.
    pub here: bool,
    /// Bytes the relay holds, as far as this device knows (`size` once it holds all).
    pub sent: u64,
    /// Bytes fetched so far while downloading.
    pub got: u64,
    /// Opened while not here: it is fetched before anything else.
    pub wanted: bool,
    /// Why the relay refused it, in words to show (too large, no room left).
    pub problem: Option<String>,
}

impl FileState {
    /// What a cadre sees beside the file: "ảnh đang tải lên 40 %", "đã gửi", "chưa tải về".
    pub fn sentence(&self) -> String {
        let pct = |n: u64| n.saturating_mul(100).checked_div(self.size).unwrap_or(100);
        if let Some(p) = &self.problem {
            return format!("máy chủ không nhận tệp: {p}");
        }
        match (self.here, self.sent >= self.size) {
            (true, true) => "đã gửi".to_string(),
            (true, false) if self.sent == 0 => "chờ gửi".to_string(),
            (true, false) => format!("đang tải lên {} %", pct(self.sent)),
            (false, _) if self.got > 0 => format!("đang tải về {} %", pct(self.got)),
            // Its sender is still sending it to the relay.
            (false, false) if self.sent > 0 => format!("đang tải lên {} %", pct(self.sent)),
            (false, _) if self.wanted => "chờ tải về".to_string(),
            (false, _) => "chưa tải về".to_string(),
        }
    }
}

/// An attachment of a document, with where its file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentView {
    /// The reference the document holds.
    pub attachment: Attachment,
    /// The task it belongs to, for a dispatch's task attachment.
    pub task: Option<u64>,
    /// Where the file is.
    pub state: FileState,
}

/// What opening an attachment gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// The file is here, at this path (read it, do not move it).
    Here(PathBuf),
    /// The file is not here yet; it is fetched first on the next transfer.
    Fetching(FileState),
}

/// How long a file that no document refers to stays in the folder before it is removed.
pub const FILE_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Files up to this size are fetched without being opened, unless the device says otherwise.
pub const DEFAULT_PREFETCH_BYTES: u64 = 512 * 1024;

fn size_text(bytes: u64) -> String {
    if bytes < 1024 * 1024 {
        format!("{} KB", bytes.div_ceil(1024))
    } else {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    }
}

fn too_many(held: usize) -> CoreError {
    CoreError::invalid(
        "attachments",
        format!(
            "{held} files are attached already; at most {ATTACHMENTS_INPUT_MAX} may be: remove some, or put them in one file"
        ),
    )
}

impl Store {
    /// The folder of attached files beside this store.
    pub(crate) fn files(&self) -> FileFolder {
        FileFolder::beside(self.path())
    }

    /// Attaches a file read from `path`, streamed (never whole in memory). Returns the
    /// reference; attaching the same file twice to one document returns the first reference.
    pub fn attach_file(&mut self, to: AttachTo, path: &Path, file: NewAttachment) -> Result<Attachment> {
        let f = std::fs::File::open(path)
            .map_err(|e| CoreError::Files(format!("cannot open {} to attach it ({e})", path.display())))?;
        self.attach_from(to, f, file)
    }

    /// Attaches `bytes`. See [`Store::attach_file`].
    pub fn attach_bytes(&mut self, to: AttachTo, bytes: &[u8], file: NewAttachment) -> Result<Attachment> {
        self.attach_from(to, bytes, file)
    }

    fn attach_from(&mut self, to: AttachTo, reader: impl Read, file: NewAttachment) -> Result<Attachment> {
        // The document must be one this device may change before any bytes are kept.
        let id = to.doc();
        let row = self.row(id)?;
        let expected = match to {
            AttachTo::Report(_) => DocKind::Report,
            AttachTo::Directive(_) | AttachTo::Task { .. } => DocKind::Directive,
        };
        if row.kind != expected {
            return Err(CoreError::WrongKind { id, expected, found: row.kind });
        }
        if !self.writes_for(row.owner)? {
            return Err(CoreError::NotOwner { id });
        }
        let held = match to {
            AttachTo::Report(id) => self.get::<Report>(id)?.attachments.len(),
            AttachTo::Directive(id) => self.get::<Directive>(id)?.attachments.len(),
            AttachTo::Task { directive, ordinal } => {
                self.get::<Directive>(directive)?.task(ordinal).map(|t| t.attachments.len()).ok_or_else(
                    || CoreError::not_found("task", format!("{ordinal} of directive {directive}")),
                )?
            }
        };
        if held >= ATTACHMENTS_INPUT_MAX {
            return Err(too_many(held));
        }
        let attachment = self.take_in_file(reader, file)?;
        let now = self.now();
        self.write(|s| {
            s.note_file_here(&attachment, now)?;
            let a = attachment.clone();
            let keep = |list: &mut Vec<Attachment>| -> Attachment {
                match list.iter().find(|x| x.hash == a.hash) {
                    Some(existing) => existing.clone(),
                    None => {
                        list.push(a.clone());
                        a.clone()
                    }
                }
            };
            match to {
                AttachTo::Report(id) => s.modify::<Report, _>(id, |r| Ok(keep(&mut r.attachments))),
                AttachTo::Directive(id) => s.modify::<Directive, _>(id, |d| Ok(keep(&mut d.attachments))),
                AttachTo::Task { directive, ordinal } => s.modify::<Directive, _>(directive, |d| {
                    let task = d.tasks.iter_mut().find(|t| t.ordinal == ordinal).ok_or_else(|| {
                        CoreError::not_found("task", format!("{ordinal} of directive {directive}"))
                    })?;
                    Ok(keep(&mut task.attachments))
                }),
            }
        })
        .inspect(|a| tracing::info!(doc = %id, hash = %a.hash, size = a.size, "file attached"))
    }

    /// Checks a picked file's name, media type and caption, then keeps its bytes in the folder
    /// beside the store (durably, under their hash) and returns its reference. Nothing refers
    /// to it yet: until a document does, the collector may remove it after [`FILE_GRACE`].
    pub(crate) fn take_in_file(&mut self, reader: impl Read, file: NewAttachment) -> Result<Attachment> {
        let name = file_name(&file.name);
        let media_type = file.media_type.trim().to_ascii_lowercase();
        if !media_type_ok(&media_type) {
            return Err(CoreError::invalid(
                "media_type",
                format!("'{}' is not a media type such as image/jpeg", file.media_type.escape_debug()),
            ));
        }
        let caption = clean_input(&file.caption);
        // Everything but the bytes is checked before any byte is kept.
        let probe = Attachment {
            hash: BlobHash([0; 32]),
            name: name.clone(),
            media_type: media_type.clone(),
            size: 1,
            caption: caption.clone(),
            added_by: self.device_id(),
            added_at: self.now(),
        };
        probe.validate("file")?;
        let max = self.options().max_file_bytes;
        let (hash, size) = match self.files().take_in(reader, max, rand::random())? {
            TakeIn::Held(h, s) => (h, s),
            TakeIn::Empty => {
                return Err(CoreError::invalid("file", "the file is empty; pick the file again"));
            }
            TakeIn::TooLarge(n) => {
                return Err(CoreError::invalid(
                    "file",
                    format!(
                        "the file is {}; at most {} can be attached: make it smaller (a photo at a lower resolution, a scan in black and white) and attach it again",
                        size_text(n),
                        size_text(max)
                    ),
                ));
            }
        };
        Ok(Attachment {
            hash,
            name,
            media_type,
            size,
            caption,
            added_by: self.device_id(),
            added_at: self.now(),
        })
    }

    /// Records that the file of `a` is here, whole, to be sent. Inside a write.
    pub(crate) fn note_file_here(&mut self, a: &Attachment, now: giaoban_protocol::Timestamp) -> Result<()> {
        // A file attached again is checked with the relay again: it may have removed it
        // while no record referred to it.
        self.conn().execute(
            "INSERT INTO files(hash, size, here, sent, added_at) VALUES (?1, ?2, 1, 0, ?3)
             ON CONFLICT(hash) DO UPDATE SET here = 1, sent = 0, got = 0, problem = NULL",
            params![a.hash.0.to_vec(), a.size as i64, now.0],
        )?;
        Ok(())
    }

    /// Removes the attachment `hash` from `from`. The file stays in the folder while another
    /// document refers to it, and for [`FILE_GRACE`] after the last one stops.
    pub fn remove_attachment(&mut self, from: AttachTo, hash: BlobHash) -> Result<()> {
        match from {
            AttachTo::Report(id) => self.modify::<Report, _>(id, |r| {
                r.attachments.retain(|a| a.hash != hash);
                Ok(())
            }),
            AttachTo::Directive(id) => self.modify::<Directive, _>(id, |d| {
                d.attachments.retain(|a| a.hash != hash);
                Ok(())
            }),
            AttachTo::Task { directive, ordinal } => self.modify::<Directive, _>(directive, |d| {
                if let Some(t) = d.tasks.iter_mut().find(|t| t.ordinal == ordinal) {
                    t.attachments.retain(|a| a.hash != hash);
                }
                Ok(())
            }),
        }
    }

    /// The attachments of document `id` (a report, or a dispatch and its tasks), each with
    /// where its file is.
    pub fn attachments(&mut self, id: DocId) -> Result<Vec<AttachmentView>> {
        let row = self.row(id)?;
        let mut out: Vec<(Attachment, Option<u64>)> = Vec::new();
        match row.kind {
            DocKind::Report => {
                let r: Report = self.get(id)?;
                out.extend(r.attachments.into_iter().map(|a| (a, None)));
            }
            DocKind::Directive => {
                let d: Directive = self.get(id)?;
                out.extend(d.attachments.into_iter().map(|a| (a, None)));
                for t in d.tasks {
                    out.extend(t.attachments.into_iter().map(|a| (a, Some(t.ordinal))));
                }
            }
            _ => {}
        }
        out.into_iter()
            .map(|(a, task)| {
                let state = self.file_state_or(a.hash, a.size)?;
                Ok(AttachmentView { attachment: a, task, state })
            })
            .collect()
    }

    fn file_state_or(&self, hash: BlobHash, size: u64) -> Result<FileState> {
        Ok(self.file_row(hash)?.unwrap_or(FileState {
            size,
            here: false,
            sent: 0,
            got: 0,
            wanted: false,
            problem: None,
        }))
    }

    pub(crate) fn file_row(&self, hash: BlobHash) -> Result<Option<FileState>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT size, here, sent, got, wanted, problem FROM files WHERE hash = ?1")?
            .query_row(params![hash.0.to_vec()], |r| {
                Ok(FileState {
                    size: r.get::<_, i64>(0)?.max(0) as u64,
                    here: r.get(1)?,
                    sent: r.get::<_, i64>(2)?.max(0) as u64,
                    got: r.get::<_, i64>(3)?.max(0) as u64,
                    wanted: r.get(4)?,
                    problem: r.get(5)?,
                })
            })
            .optional()?)
    }

    /// Where the file `hash` is. `NotFound` when no document here refers to it.
    pub fn file_state(&self, hash: BlobHash) -> Result<FileState> {
        self.file_row(hash)?.ok_or_else(|| CoreError::not_found("attached file", hash))
    }

    /// Opens the file `hash`: its path when it is here, otherwise it is marked to be fetched
    /// first on the next transfer (start one with `sync_files`, or let the background sync).
    pub fn open_attachment(&mut self, hash: BlobHash) -> Result<Opened> {
        let state = self.file_state(hash)?;
        let path = self.files().whole(&hash);
        if state.here && path.is_file() {
            return Ok(Opened::Here(path));
        }
        self.conn()
            .execute("UPDATE files SET wanted = 1, here = 0 WHERE hash = ?1", params![hash.0.to_vec()])?;
        Ok(Opened::Fetching(self.file_state(hash)?))
    }

    /// Stops wanting the file `hash` (a fetch started by opening it). What was fetched so far
    /// is kept for a later attempt.
    pub fn cancel_fetch(&mut self, hash: BlobHash) -> Result<()> {
        self.conn().execute("UPDATE files SET wanted = 0 WHERE hash = ?1", params![hash.0.to_vec()])?;
        Ok(())
    }

    /// Files of at most this many bytes are fetched as soon as a document refers to them;
    /// larger ones when opened. 0: only when opened. Default [`DEFAULT_PREFETCH_BYTES`].
    pub fn set_prefetch_limit(&mut self, bytes: u64) -> Result<()> {
        self.meta_set("file_prefetch_bytes", &bytes.to_le_bytes())
    }

    /// See [`Store::set_prefetch_limit`].
    pub fn prefetch_limit(&self) -> Result<u64> {
        Ok(match self.meta_get("file_prefetch_bytes")? {
            Some(b) if b.len() == 8 => u64::from_le_bytes(b.try_into().unwrap_or_default()),
            _ => DEFAULT_PREFETCH_BYTES,
        })
    }

    /// Removes files that no document here has referred to for `grace` (and files half
    /// copied in by an attach that never finished). Returns how many were removed.
    pub fn collect_files(&mut self, grace: Duration) -> Result<usize> {
        let folder = self.files();
        let mut removed = 0;
        for (path, hash, age) in folder.entries()? {
            if age < grace {
                continue;
            }
            let referenced = match hash {
                Some(h) => self
                    .conn()
                    .prepare_cached("SELECT 1 FROM file_refs WHERE hash = ?1 LIMIT 1")?
                    .exists(params![h.0.to_vec()])?,
                // A `.part` file of a file still referred to is kept; anything else is a
                // leftover.
                None => path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".part"))
                    .and_then(|n| n.parse::<BlobHash>().ok())
                    .map(|h| {
                        self.conn()
                            .prepare_cached("SELECT 1 FROM file_refs WHERE hash = ?1 LIMIT 1")
                            .and_then(|mut s| s.exists(params![h.0.to_vec()]))
                    })
                    .transpose()?
                    .unwrap_or(false),
            };
            if referenced {
                continue;
            }
            if let Some(h) = hash {
                self.conn().execute("DELETE FROM files WHERE hash = ?1", params![h.0.to_vec()])?;
            }
            std::fs::remove_file(&path)
                .map_err(|e| crate::store::files::files_error("removing", &path, e))?;
            removed += 1;
        }
        Ok(removed)
    }
}
