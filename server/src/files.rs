//! The relay's folder of attached files, named by their SHA-256.
//!
//! - `<root>/<first two hex digits>/<hash>`: a file held whole, checked against its hash.
//! - `<root>/partial/<hash>.<unit>`: the bytes a unit's devices sent so far of a file, in
//!   order, one partial file per unit, so no unit can spoil or learn another's send. Every
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

use giaoban_protocol::{BlobHash, UnitId};
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

    fn partial_path(&self, hash: &BlobHash, unit: UnitId) -> PathBuf {
        self.root.join("partial").join(format!("{}.{unit}", hash.to_hex()))
    }

    /// Whether the whole file `hash` is held.
    pub fn is_whole(&self, hash: &BlobHash) -> bool {
        self.whole_path(hash).is_file()
    }

    /// Bytes of `hash` that devices of `unit` sent so far (0 when none).
    pub fn partial_len(&self, hash: &BlobHash, unit: UnitId) -> io::Result<u64> {
        match fs::metadata(self.partial_path(hash, unit)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// What is held of `hash` as a sender of `unit` sees it: a whole file counts for it only
    /// once its unit has sent every byte (`proven`); until then, its own partial send.
    pub fn held_for_sender(&self, hash: &BlobHash, unit: UnitId, proven: bool) -> io::Result<Held> {
        if proven && self.is_whole(hash) {
            return Ok(Held::Whole);
        }
        Ok(match self.partial_len(hash, unit)? {
            0 => Held::Nothing,
            n => Held::Part(n),
        })
    }

    /// Bytes held in partial files of `unit` (for its limit).
    pub fn partial_bytes_of(&self, unit: UnitId) -> io::Result<u64> {
        let suffix = format!(".{unit}");
        let mut n = 0;
        for entry in fs::read_dir(self.root.join("partial"))? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().ends_with(&suffix) {
                n += entry.metadata()?.len();
            }
        }
        Ok(n)
    }

    /// Removes `unit`'s partial file of `hash` (its size no longer fits the file's).
    pub fn drop_partial(&self, hash: &BlobHash, unit: UnitId) -> io::Result<()> {
        match fs::remove_file(self.partial_path(hash, unit)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Opens `unit`'s partial file of `hash` for appending at `offset`, which must be what it
    /// holds. `Err(held)` when it holds another length.
    pub fn append_at(&self, hash: &BlobHash, unit: UnitId, offset: u64) -> io::Result<Result<Appender, u64>> {
        let path = self.partial_path(hash, unit);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let have = file.metadata()?.len();
        if have != offset {
            return Ok(Err(have));
        }
        Ok(Ok(Appender { file, written: have }))
    }

    /// Checks `unit`'s partial file of `hash` (which holds `size` bytes) against the hash and,
    /// when it matches, moves it to its final place, durably (a file already whole there has
    /// the same bytes: the partial one is dropped). When it does not match, the partial file
    /// is removed (the sender starts again) and `Ok(false)` is returned.
    pub fn finish(&self, hash: &BlobHash, unit: UnitId, size: u64) -> io::Result<bool> {
        let path = self.partial_path(hash, unit);
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
        if self.is_whole(hash) {
            drop(file);
            fs::remove_file(&path)?;
            return Ok(true);
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

    /// The length of the whole file `hash`.
    pub fn whole_len(&self, hash: &BlobHash) -> io::Result<u64> {
        Ok(fs::metadata(self.whole_path(hash))?.len())
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

/// Removes what no record needs: files no document has referred to for `grace` (a file in the
/// folder the database knows nothing of, after a restore from an older backup, counts from
/// when the collector first sees it), and sends abandoned for `grace`. Blocking.
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
            // A file the database does not know (it was restored from an older backup) is
            // recorded as found today: it is removed only after a whole grace period without a
            // document referring to it, so devices have that long to send their records again.
            if !store.file_recorded(hash)? {
                let len = file.metadata().map_err(io)?.len();
                store.record_found_file(hash, len)?;
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
        let (unit, other) = (UnitId::from_bytes([1; 16]), UnitId::from_bytes([2; 16]));
        assert_eq!(folder.held_for_sender(&hash, unit, true).unwrap(), Held::Nothing);
        let mut a = folder.append_at(&hash, unit, 0).unwrap().unwrap();
        a.write(&bytes[..100_000]).unwrap();
        assert_eq!(a.sync().unwrap(), 100_000);
        assert_eq!(folder.held_for_sender(&hash, unit, true).unwrap(), Held::Part(100_000));
        // Another unit's send is its own.
        assert_eq!(folder.held_for_sender(&hash, other, true).unwrap(), Held::Nothing);
        // A sender that thinks the relay has less is told what it has.
        assert_eq!(folder.append_at(&hash, unit, 0).unwrap().err(), Some(100_000));
        let mut a = folder.append_at(&hash, unit, 100_000).unwrap().unwrap();
        a.write(&bytes[100_000..]).unwrap();
        assert_eq!(a.sync().unwrap(), 300_000);
        assert!(folder.finish(&hash, unit, 300_000).unwrap());
        assert!(folder.is_whole(&hash));
        assert_eq!(folder.held_for_sender(&hash, unit, true).unwrap(), Held::Whole);
        assert_eq!(folder.held_for_sender(&hash, other, false).unwrap(), Held::Nothing);
        assert_eq!(fs::read(folder.whole_path(&hash)).unwrap(), bytes);
    }

    #[test]
    fn bytes_that_do_not_match_the_hash_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let folder = FileFolder::open(dir.path()).unwrap();
        let hash = BlobHash::of(b"anh nha dai doan ket");
        let unit = UnitId::from_bytes([1; 16]);
        let mut a = folder.append_at(&hash, unit, 0).unwrap().unwrap();
        a.write(b"something else entirely").unwrap();
        let n = a.sync().unwrap();
        assert!(!folder.finish(&hash, unit, n).unwrap());
        assert_eq!(folder.held_for_sender(&hash, unit, true).unwrap(), Held::Nothing);
    }
}
