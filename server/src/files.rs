//! The relay's folder of attached files, named by their SHA-256.
//!
//! - `<root>/<first two hex digits>/<hash>`: a file held whole, checked against its hash.
//! - `<root>/partial/<hash>`: the bytes received so far of a file being sent, in order. Every
//!   byte that arrived is kept, even of a request cut short, so a sender resumes from the last
//!   byte the relay has.
//!
//! Invariant: a file is in its final place only after its bytes matched its hash and were
//! synced to disk; it is moved there by a rename, so a reader never sees part of one.
//! Invariant: the folder is the truth of which files are held; the database's `files` table
//! records who sent them and when they stopped being referred to.
//!
//! Blocking: every function here does file I/O; async code calls them through
//! `spawn_blocking`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use giaoban_protocol::BlobHash;
use sha2::{Digest, Sha256};

/// What the relay holds of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Nothing.
    Nothing,
    /// This many bytes from the start, not yet the whole file.
    Part(u64),
    /// The whole file, checked.
    Whole,
}

/// The folder of attached files.
#[derive(Debug, Clone)]
pub struct FileFolder {
    root: PathBuf,
}

impl FileFolder {
    /// The folder at `root`, created if missing (with its `partial` folder).
    pub fn open(root: &Path) -> io::Result<FileFolder> {
        fs::create_dir_all(root.join("partial"))?;
        Ok(FileFolder { root: root.to_path_buf() })
    }

    /// Where the whole file `hash` lives.
    pub fn whole_path(&self, hash: &BlobHash) -> PathBuf {
        let hex = hash.to_hex();
        self.root.join(&hex[..2]).join(hex)
    }

    fn partial_path(&self, hash: &BlobHash) -> PathBuf {
        self.root.join("partial").join(hash.to_hex())
    }

    /// What is held of `hash`.
    pub fn held(&self, hash: &BlobHash) -> io::Result<Held> {
        if self.whole_path(hash).is_file() {
            return Ok(Held::Whole);
        }
        match fs::metadata(self.partial_path(hash)) {
            Ok(m) if m.len() > 0 => Ok(Held::Part(m.len())),
            Ok(_) => Ok(Held::Nothing),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Held::Nothing),
            Err(e) => Err(e),
        }
    }

    /// What is held of `hash` as its sender sees it: a whole file counts for a sender only
    /// once its unit has sent every byte (`proven`); until then, its partial send.
    pub fn held_for_sender(&self, hash: &BlobHash, proven: bool) -> io::Result<Held> {
        if proven && self.whole_path(hash).is_file() {
            return Ok(Held::Whole);
        }
        match fs::metadata(self.partial_path(hash)) {
            Ok(m) if m.len() > 0 => Ok(Held::Part(m.len())),
            Ok(_) => Ok(Held::Nothing),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Held::Nothing),
            Err(e) => Err(e),
        }
    }

    /// Opens the partial file of `hash` for appending at `offset`, which must be what it holds.
    /// `Err(Ok(held))` when it holds another length.
    pub fn append_at(&self, hash: &BlobHash, offset: u64) -> io::Result<Result<Appender, u64>> {
        let path = self.partial_path(hash);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let have = file.metadata()?.len();
        if have != offset {
            return Ok(Err(have));
        }
        Ok(Ok(Appender { file, written: have }))
    }

    /// Checks the partial file of `hash` (which holds `size` bytes) against the hash and, when
    /// it matches, moves it to its final place, durably. When it does not, the partial file is
    /// removed (the sender starts again) and `Ok(false)` is returned.
    pub fn finish(&self, hash: &BlobHash, size: u64) -> io::Result<bool> {
        let path = self.partial_path(hash);
        let mut file = File::open(&path)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            total += n as u64;
        }
        let got: [u8; 32] = hasher.finalize().into();
        if got != hash.0 || total != size {
            drop(file);
            fs::remove_file(&path)?;
            return Ok(false);
        }
        file.sync_all()?;
        let whole = self.whole_path(hash);
        let dir = whole.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir)?;
        fs::rename(&path, &whole)?;
        sync_dir(&dir)?;
        sync_dir(&self.root.join("partial"))?;
        Ok(true)
    }

    /// Removes the whole file `hash` (the collector, once no document refers to it).
    pub fn remove_whole(&self, hash: &BlobHash) -> io::Result<()> {
        match fs::remove_file(self.whole_path(hash)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes partial files untouched for longer than `older_than`: a send abandoned for good.
    /// Returns how many.
    pub fn expire_partials(&self, older_than: Duration) -> io::Result<usize> {
        let mut removed = 0;
        let now = SystemTime::now();
        for entry in fs::read_dir(self.root.join("partial"))? {
            let entry = entry?;
            let modified = entry.metadata()?.modified()?;
            if now.duration_since(modified).unwrap_or_default() > older_than {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Opens the whole file `hash` positioned at `from`, with its length.
    pub fn open_whole(&self, hash: &BlobHash, from: u64) -> io::Result<(File, u64)> {
        use std::io::{Seek, SeekFrom};
        let mut file = File::open(self.whole_path(hash))?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(from.min(len)))?;
        Ok((file, len))
    }
}

/// Appends the bytes of one request to a partial file.
pub struct Appender {
    file: File,
    written: u64,
}

impl Appender {
    /// Appends `bytes`.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Makes what was appended durable; returns how many bytes the partial file holds.
    pub fn sync(self) -> io::Result<u64> {
        self.file.sync_data()?;
        Ok(self.written)
    }
}

/// What one pass of the collector removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    /// Whole files no record had referred to for the grace period.
    pub files: usize,
    /// Partial files untouched for the grace period.
    pub partials: usize,
}

/// Removes what no record needs: files no document has referred to for `grace`, files in the
/// folder the database knows nothing of (a database restored from an older backup) that no
/// document refers to and that are older than `grace`, and sends abandoned for `grace`.
/// Blocking.
pub fn collect(
    store: &crate::RelayStore,
    folder: &FileFolder,
    grace: Duration,
) -> Result<Collected, crate::store::StoreError> {
    let io = |e: io::Error| crate::store::StoreError::Internal(format!("the folder of attached files: {e}"));
    let mut out = Collected::default();
    let before = store.now().0 - i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    for hash in store.forget_unreferenced_files(before)? {
        folder.remove_whole(&hash).map_err(io)?;
        out.files += 1;
    }
    let now = SystemTime::now();
    for entry in fs::read_dir(&folder.root).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_name() == "partial" || !entry.file_type().map_err(io)?.is_dir() {
            continue;
        }
        for file in fs::read_dir(entry.path()).map_err(io)? {
            let file = file.map_err(io)?;
            let Some(hash) = file.file_name().to_str().and_then(|n| n.parse::<BlobHash>().ok()) else {
                continue;
            };
            let old = file
                .metadata()
                .and_then(|m| m.modified())
                .map(|m| now.duration_since(m).unwrap_or_default() > grace)
                .map_err(io)?;
            if old && !store.file_referenced(hash)? && !store.file_recorded(hash)? {
                folder.remove_whole(&hash).map_err(io)?;
                out.files += 1;
            }
        }
    }
    out.partials = folder.expire_partials(grace).map_err(io)?;
    Ok(out)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_file_sent_in_pieces_counts_only_once_it_matches_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let folder = FileFolder::open(dir.path()).unwrap();
        let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let hash = BlobHash::of(&bytes);
        assert_eq!(folder.held(&hash).unwrap(), Held::Nothing);
        let mut a = folder.append_at(&hash, 0).unwrap().unwrap();
        a.write(&bytes[..100_000]).unwrap();
        assert_eq!(a.sync().unwrap(), 100_000);
        assert_eq!(folder.held(&hash).unwrap(), Held::Part(100_000));
        // A sender that thinks the relay has less is told what it has.
        assert_eq!(folder.append_at(&hash, 0).unwrap().err(), Some(100_000));
        let mut a = folder.append_at(&hash, 100_000).unwrap().unwrap();
        a.write(&bytes[100_000..]).unwrap();
        assert_eq!(a.sync().unwrap(), 300_000);
        assert!(folder.finish(&hash, 300_000).unwrap());
        assert_eq!(folder.held(&hash).unwrap(), Held::Whole);
        assert_eq!(fs::read(folder.whole_path(&hash)).unwrap(), bytes);
    }

    #[test]
    fn bytes_that_do_not_match_the_hash_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let folder = FileFolder::open(dir.path()).unwrap();
        let hash = BlobHash::of(b"anh nha dai doan ket");
        let mut a = folder.append_at(&hash, 0).unwrap().unwrap();
        a.write(b"something else entirely").unwrap();
        let n = a.sync().unwrap();
        assert!(!folder.finish(&hash, n).unwrap());
        assert_eq!(folder.held(&hash).unwrap(), Held::Nothing);
    }
}
