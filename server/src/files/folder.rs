//! The relay's folder of attached files (the default storage).
//!
//! - `<root>/<first two hex digits>/<hash>`: a file held whole, checked against its hash.
//! - `<root>/partial/<hash>.<unit>`: the bytes a unit's devices sent so far of a file, in
//!   order, one partial file per unit, byte for byte (even of a request cut short).
//!
//! A whole file is synced to disk, then moved into place by a rename.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use giaoban_protocol::{BlobHash, UnitId};
use sha2::{Digest, Sha256};

use super::{FileStorage, PieceWriter, WholeFile};

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
}

impl FileStorage for FileFolder {
    fn describe(&self) -> String {
        format!("the folder {}", self.root.display())
    }

    fn is_whole(&self, hash: &BlobHash) -> bool {
        self.whole_path(hash).is_file()
    }

    fn whole_len(&self, hash: &BlobHash) -> io::Result<Option<u64>> {
        match fs::metadata(self.whole_path(hash)) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn partial_len(&self, hash: &BlobHash, unit: UnitId) -> io::Result<u64> {
        match fs::metadata(self.partial_path(hash, unit)) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }

    fn partial_bytes_of(&self, unit: UnitId) -> io::Result<u64> {
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

    fn drop_partial(&self, hash: &BlobHash, unit: UnitId) -> io::Result<()> {
        match fs::remove_file(self.partial_path(hash, unit)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn append_at(
        &self,
        hash: &BlobHash,
        unit: UnitId,
        offset: u64,
    ) -> io::Result<Result<Box<dyn PieceWriter>, u64>> {
        let path = self.partial_path(hash, unit);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let have = file.metadata()?.len();
        if have != offset {
            return Ok(Err(have));
        }
        Ok(Ok(Box::new(Appender { file, written: have })))
    }

    fn finish(&self, hash: &BlobHash, unit: UnitId, size: u64) -> io::Result<bool> {
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

    fn remove_whole(&self, hash: &BlobHash) -> io::Result<()> {
        match fs::remove_file(self.whole_path(hash)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn expire_partials(&self, older_than: Duration) -> io::Result<usize> {
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

    fn whole_files(&self) -> io::Result<Vec<(BlobHash, u64)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            if entry.file_name() == "partial" || !entry.file_type()?.is_dir() {
                continue;
            }
            for file in fs::read_dir(entry.path())? {
                let file = file?;
                let Some(hash) = file.file_name().to_str().and_then(|n| n.parse::<BlobHash>().ok()) else {
                    continue;
                };
                out.push((hash, file.metadata()?.len()));
            }
        }
        Ok(out)
    }

    fn open_whole(&self, hash: &BlobHash, from: u64) -> io::Result<WholeFile> {
        let mut file = File::open(self.whole_path(hash))?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(from.min(len)))?;
        Ok((Box::new(file), len))
    }
}

/// Appends the bytes of one request to a partial file.
struct Appender {
    file: File,
    written: u64,
}

impl PieceWriter for Appender {
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn sync(self: Box<Self>) -> io::Result<u64> {
        self.file.sync_data()?;
        Ok(self.written)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
