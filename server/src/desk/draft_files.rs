//! Files attached to a dispatch draft before it is issued: kept under the relay's data folder
//! (`desk/draft-files/<staff>/<draft>/`), one file per SHA-256 with its name, media type and
//! caption beside it (`<hash>.json`). They enter no document until the draft is issued; then
//! each is attached to the new dispatch through the member's store and the folder is removed.
//!
//! Invariant: a file is listed on its draft only once its bytes and its description are synced
//! to disk; a file cut off or over the limit leaves nothing behind. The relay's hourly
//! collector removes the folders of drafts issued or deleted, and files cut off mid-way by a
//! stop (`DraftFiles::collect`).
//!
//! Blocking: everything here does file I/O; async code calls it through `spawn_blocking`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use giaoban_protocol::BlobHash;
use sha2::{Digest, Sha256};

use crate::store::StaffId;

/// What is kept of a file beside its bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DraftFile {
    /// Its SHA-256 (hex): the bytes' own name in the folder.
    pub hash: String,
    /// Its name as picked, made harmless (`schema::file_name`: NFC, no folders).
    pub name: String,
    /// Its media type as the browser said it.
    pub media_type: String,
    /// Words under it; may be empty.
    pub caption: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was added (UTC ms), for its place in the list.
    pub added_at: i64,
}

/// The folder of every draft's files.
#[derive(Debug, Clone)]
pub struct DraftFiles {
    root: PathBuf,
}

impl DraftFiles {
    /// The drafts' files kept under `root` (created when first needed).
    pub fn new(root: PathBuf) -> DraftFiles {
        DraftFiles { root }
    }

    /// The folder of one draft's files.
    pub fn dir(&self, staff: StaffId, draft: [u8; 16]) -> PathBuf {
        self.root.join(staff.to_string()).join(hex::encode(draft))
    }

    /// A new file arriving for a draft, written into its folder under a temporary name.
    pub fn incoming(&self, staff: StaffId, draft: [u8; 16]) -> io::Result<Incoming> {
        let dir = self.dir(staff, draft);
        fs::create_dir_all(&dir)?;
        let path = dir.join(format!(".incoming-{}", hex::encode(rand::random::<[u8; 8]>())));
        Ok(Incoming { file: File::create(&path)?, path, dir, hasher: Sha256::new(), size: 0, kept: false })
    }

    /// The files of a draft, in the order they were added.
    pub fn list(&self, staff: StaffId, draft: [u8; 16]) -> io::Result<Vec<DraftFile>> {
        let dir = self.dir(staff, draft);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Ok(f) = serde_json::from_slice::<DraftFile>(&fs::read(&path)?) else { continue };
            if dir.join(&f.hash).is_file() {
                out.push(f);
            }
        }
        out.sort_by(|a, b| (a.added_at, &a.name).cmp(&(b.added_at, &b.name)));
        Ok(out)
    }

    /// Bytes a member's drafts hold in files kept (not those arriving). Blocking.
    pub fn bytes_of(&self, staff: StaffId) -> io::Result<u64> {
        let staff_dir = self.root.join(staff.to_string());
        let drafts = match fs::read_dir(&staff_dir) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut total = 0u64;
        for draft in drafts {
            let draft = draft?;
            if !draft.file_type()?.is_dir() {
                continue;
            }
            for f in fs::read_dir(draft.path())? {
                let f = f?;
                // Files cut off while arriving (a stop mid-way) are strays the collector takes,
                // not the member's: they do not count.
                let stray = f.file_name().to_str().is_some_and(|n| n.starts_with('.'));
                if !stray && f.path().extension().and_then(|e| e.to_str()) != Some("json") {
                    total = total.saturating_add(f.metadata()?.len());
                }
            }
        }
        Ok(total)
    }

    /// Where the bytes of a draft's file `hash` are.
    pub fn path_of(&self, staff: StaffId, draft: [u8; 16], hash: &str) -> PathBuf {
        self.dir(staff, draft).join(hash)
    }

    /// Removes one file of a draft (`hash` as listed; anything else removes nothing).
    pub fn remove(&self, staff: StaffId, draft: [u8; 16], hash: &str) -> io::Result<()> {
        if hash.parse::<BlobHash>().is_err() {
            return Ok(());
        }
        let dir = self.dir(staff, draft);
        for p in [dir.join(format!("{hash}.json")), dir.join(hash)] {
            match fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        sync_dir(&dir)
    }

    /// Removes every file of a draft (it was issued, or deleted).
    pub fn remove_all(&self, staff: StaffId, draft: [u8; 16]) -> io::Result<()> {
        match fs::remove_dir_all(self.dir(staff, draft)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

impl DraftFiles {
    /// Removes what no draft needs any more: the files of drafts issued or deleted (or never
    /// kept) untouched for `grace`, and files cut off while arriving (a relay stopped mid-way)
    /// older than a day. Returns how many drafts' folders and stray files went. Blocking.
    pub fn collect(
        &self,
        store: &crate::RelayStore,
        grace: Duration,
    ) -> Result<usize, crate::store::StoreError> {
        let io = |e: io::Error| crate::store::StoreError::Internal(format!("the desk's draft files: {e}"));
        let old = |path: &Path, age: Duration| -> bool {
            fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|d| d > age)
        };
        let mut removed = 0;
        let staff_dirs = match fs::read_dir(&self.root) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io(e)),
        };
        for staff_dir in staff_dirs {
            let staff_dir = staff_dir.map_err(io)?.path();
            let Some(staff) = hex_16(&staff_dir).map(StaffId) else { continue };
            for draft_dir in fs::read_dir(&staff_dir).map_err(io)? {
                let draft_dir = draft_dir.map_err(io)?.path();
                let Some(draft) = hex_16(&draft_dir) else { continue };
                for f in fs::read_dir(&draft_dir).map_err(io)? {
                    let f = f.map_err(io)?.path();
                    let stray = f.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
                    if stray && old(&f, Duration::from_secs(24 * 3600)) {
                        fs::remove_file(&f).map_err(io)?;
                        removed += 1;
                    }
                }
                let open = matches!(store.draft(staff, draft)?, Some(d) if d.issued.is_none());
                if !open && old(&draft_dir, grace) {
                    self.remove_all(staff, draft).map_err(io)?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

fn hex_16(path: &Path) -> Option<[u8; 16]> {
    let name = path.file_name()?.to_str()?;
    hex::decode(name).ok()?.try_into().ok()
}

/// A file being received: its bytes appended and hashed as they come.
pub struct Incoming {
    file: File,
    path: PathBuf,
    dir: PathBuf,
    hasher: Sha256,
    size: u64,
    /// Set once the bytes are under their hash (or were there already): until then, dropping
    /// this (a browser gone mid-upload, a failed write) removes what was received.
    kept: bool,
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl Incoming {
    /// Appends `bytes`.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Bytes so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Drops what was received.
    pub fn abandon(self) {
        // Dropped unkept: the file goes.
    }

    /// Makes the file durable under its hash with its description beside it, and returns it.
    /// A file already on the draft keeps its first description.
    pub fn keep(mut self, mut describe: DraftFile, now: i64) -> io::Result<DraftFile> {
        self.file.sync_all()?;
        let hash = hex::encode(std::mem::take(&mut self.hasher).finalize());
        describe.hash = hash.clone();
        describe.size = self.size;
        describe.added_at = now;
        let meta = self.dir.join(format!("{hash}.json"));
        if meta.is_file() && self.dir.join(&hash).is_file() {
            return Ok(describe);
        }
        let bytes = self.dir.join(&hash);
        fs::rename(&self.path, &bytes)?;
        self.kept = true;
        let tmp = self.dir.join(format!(".{hash}.json"));
        let described = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(&serde_json::to_vec(&describe).map_err(io::Error::other)?)?;
            f.sync_all()?;
            fs::rename(&tmp, &meta)?;
            sync_dir(&self.dir)
        })();
        if let Err(e) = described {
            // Not listed without its description: nothing is left that the draft does not show.
            let _ = fs::remove_file(&tmp);
            let _ = fs::remove_file(&bytes);
            return Err(e);
        }
        Ok(describe)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir) {
        Ok(d) => d.sync_all(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn described(name: &str) -> DraftFile {
        DraftFile {
            hash: String::new(),
            name: name.into(),
            media_type: "application/pdf".into(),
            caption: String::new(),
            size: 0,
            added_at: 0,
        }
    }

    #[test]
    fn a_file_is_listed_once_kept_and_gone_once_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let files = DraftFiles::new(tmp.path().to_path_buf());
        let (staff, draft) = (StaffId([1; 16]), [2; 16]);
        let mut i = files.incoming(staff, draft).unwrap();
        i.write(b"Danh s\xc3\xa1ch").unwrap();
        assert!(files.list(staff, draft).unwrap().is_empty(), "not listed while it arrives");
        let kept = i.keep(described("Mẫu.pdf"), 5).unwrap();
        assert_eq!(kept.hash, BlobHash::of("Danh sách".as_bytes()).to_hex());
        assert_eq!(files.list(staff, draft).unwrap(), vec![kept.clone()]);
        let mut cut = files.incoming(staff, draft).unwrap();
        cut.write(b"half").unwrap();
        cut.abandon();
        files.remove(staff, draft, &kept.hash).unwrap();
        assert!(files.list(staff, draft).unwrap().is_empty());
        assert_eq!(fs::read_dir(files.dir(staff, draft)).unwrap().count(), 0, "nothing left behind");
    }

    #[test]
    fn the_collector_removes_the_files_of_drafts_no_longer_open() {
        let tmp = tempfile::tempdir().unwrap();
        let store = crate::RelayStore::open(&tmp.path().join("relay")).unwrap();
        let files = DraftFiles::new(tmp.path().join("draft-files"));
        let (staff, draft) = (StaffId([1; 16]), [2; 16]);
        let mut i = files.incoming(staff, draft).unwrap();
        i.write(b"bieu mau").unwrap();
        i.keep(described("Biểu mẫu.docx"), 1).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(files.collect(&store, Duration::from_secs(3600)).unwrap(), 0, "kept for its grace");
        assert_eq!(files.collect(&store, Duration::ZERO).unwrap(), 1);
        assert!(!files.dir(staff, draft).exists(), "a draft the relay does not have keeps no files");
    }
}
