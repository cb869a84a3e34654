//! The device's folder of attached files, beside the store: `<store file>.files/`.
//!
//! - `<hash>`: a file held whole, checked against its SHA-256.
//! - `<hash>.part`: the bytes fetched so far of a file being downloaded, in order.
//! - `in-<random>`: a file being attached, copied in while its hash is computed.
//!
//! Invariant: a file is under its hash only once its bytes matched the hash and were synced to
//! disk; it gets there by a rename, and the folder is synced after. A document refers to a file
//! only after that (attaching writes the file first, then commits the reference).
//! Invariant: nothing here holds a whole file in memory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use giaoban_protocol::BlobHash;
use sha2::{Digest, Sha256};

use crate::error::{CoreError, Result};

/// The folder of attached files of one store.
#[derive(Debug, Clone)]
pub(crate) struct FileFolder {
    root: PathBuf,
}

pub(crate) fn files_error(what: &str, path: &Path, e: io::Error) -> CoreError {
    CoreError::Files(format!("{what} {} failed ({e})", path.display()))
}

/// Why copying a file in stopped.
pub(crate) enum TakeIn {
    /// Held whole under its hash, with its size.
    Held(BlobHash, u64),
    /// Larger than the limit; nothing was kept.
    TooLarge(u64),
    /// Empty; nothing was kept.
    Empty,
}

impl FileFolder {
    /// The folder beside the store file `db`.
    pub(crate) fn beside(db: &Path) -> FileFolder {
        let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".files");
        FileFolder { root: db.with_file_name(name) }
    }

    fn ensure(&self) -> Result<()> {
        fs::create_dir_all(&self.root).map_err(|e| files_error("creating", &self.root, e))
    }

    /// Where the whole file `hash` is (or would be).
    pub(crate) fn whole(&self, hash: &BlobHash) -> PathBuf {
        self.root.join(hash.to_hex())
    }

    fn part(&self, hash: &BlobHash) -> PathBuf {
        self.root.join(format!("{}.part", hash.to_hex()))
    }

    /// Copies `reader` in, hashing as it goes, keeping at most `max` bytes: durable under its
    /// hash when this returns `Held`. A file already here is not stored twice.
    pub(crate) fn take_in(&self, mut reader: impl Read, max: u64, tag: u64) -> Result<TakeIn> {
        self.ensure()?;
        let tmp = self.root.join(format!("in-{tag:016x}"));
        let fail = |e: io::Error| files_error("writing", &tmp, e);
        let mut out = File::create(&tmp).map_err(fail)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    return Err(CoreError::Files(format!("the file to attach cannot be read ({e})")));
                }
            };
            size += n as u64;
            if size > max {
                drop(out);
                let _ = fs::remove_file(&tmp);
                // Count the rest without keeping it, to say how large the file is.
                let rest = io::copy(&mut reader, &mut io::sink()).unwrap_or(0);
                return Ok(TakeIn::TooLarge(size + rest));
            }
            hasher.update(&buf[..n]);
            if let Err(e) = out.write_all(&buf[..n]) {
                let _ = fs::remove_file(&tmp);
                return Err(fail(e));
            }
        }
        if size == 0 {
            drop(out);
            let _ = fs::remove_file(&tmp);
            return Ok(TakeIn::Empty);
        }
        let hash = BlobHash(hasher.finalize().into());
        let whole = self.whole(&hash);
        if whole.is_file() {
            drop(out);
            let _ = fs::remove_file(&tmp);
            return Ok(TakeIn::Held(hash, size));
        }
        out.sync_all().map_err(fail)?;
        drop(out);
        fs::rename(&tmp, &whole).map_err(|e| files_error("moving into place", &whole, e))?;
        self.sync_folder()?;
        Ok(TakeIn::Held(hash, size))
    }

    fn sync_folder(&self) -> Result<()> {
        File::open(&self.root).and_then(|d| d.sync_all()).map_err(|e| files_error("syncing", &self.root, e))
    }

    /// Bytes fetched so far of `hash`.
    pub(crate) fn part_len(&self, hash: &BlobHash) -> u64 {
        fs::metadata(self.part(hash)).map(|m| m.len()).unwrap_or(0)
    }

    /// The partial file of `hash`, cut to `from` bytes and open for appending there.
    pub(crate) fn append_part(&self, hash: &BlobHash, from: u64) -> Result<File> {
        self.ensure()?;
        let path = self.part(hash);
        let fail = |e: io::Error| files_error("writing", &path, e);
        let mut f = OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(fail)?;
        f.set_len(from).map_err(fail)?;
        f.seek(SeekFrom::Start(from)).map_err(fail)?;
        Ok(f)
    }

    /// Checks the partial file of `hash` against the hash and, when it matches, moves it into
    /// place, durably. When it does not, it is removed (the fetch starts again) and `false`
    /// is returned.
    pub(crate) fn finish_part(&self, hash: &BlobHash) -> Result<bool> {
        let path = self.part(hash);
        let fail = |e: io::Error| files_error("checking", &path, e);
        let mut f = File::open(&path).map_err(fail)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf).map_err(fail)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let got: [u8; 32] = hasher.finalize().into();
        if got != hash.0 {
            drop(f);
            fs::remove_file(&path).map_err(fail)?;
            return Ok(false);
        }
        f.sync_all().map_err(fail)?;
        drop(f);
        fs::rename(&path, self.whole(hash)).map_err(fail)?;
        self.sync_folder()?;
        Ok(true)
    }

    /// The files in the folder (whole ones, by hash; partial ones; files half copied in), with
    /// how long ago each was last written.
    pub(crate) fn entries(&self) -> Result<Vec<(PathBuf, Option<BlobHash>, std::time::Duration)>> {
        let mut out = Vec::new();
        let dir = match fs::read_dir(&self.root) {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(files_error("listing", &self.root, e)),
        };
        let now = std::time::SystemTime::now();
        for entry in dir {
            let entry = entry.map_err(|e| files_error("listing", &self.root, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let hash = name.parse::<BlobHash>().ok();
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .map(|m| now.duration_since(m).unwrap_or_default())
                .unwrap_or_default();
            out.push((entry.path(), hash, age));
        }
        Ok(out)
    }
}
