//! Where the relay keeps attached files, named by their SHA-256: a folder beside the database
//! by default (`folder.rs`), or an S3-compatible object store that several relays share
//! (`objects.rs`). Both keep the same promises, which one suite (`tests/tests/e2e/file_storage.rs`)
//! runs against each:
//!
//! - a unit's partial send is its own (no unit can spoil or learn another's), kept from the
//!   start without gaps, and every piece that arrived stays, even of a request cut short, so
//!   a sender resumes from the last byte the relay has;
//! - a file counts as held only after its bytes matched its hash and were stored durably, and
//!   it appears all at once (a rename in the folder, a manifest written last in the object
//!   store), so a reader never sees part of one;
//! - the storage is the truth of which files are held; the database's `files` table records
//!   who sent them and when they stopped being referred to.
//!
//! Blocking: every method does I/O (the object store's on threads of its own, waited for);
//! async code calls them through `spawn_blocking`, never on an async worker.

mod folder;
mod objects;

use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use giaoban_protocol::{BlobHash, UnitId};

pub use folder::FileFolder;
pub use objects::{ObjectFiles, s3_bucket};

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

/// The relay's attached files, wherever they are kept.
pub type Files = Arc<dyn FileStorage>;

/// A whole file being read, and its length.
pub type WholeFile = (Box<dyn Read + Send>, u64);

/// Keeps the bytes of one request, appended to a unit's partial send.
pub trait PieceWriter: Send {
    /// Appends `bytes`.
    fn write(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Appends `bytes`, which a writer that keeps them until it stores them takes as they are.
    fn write_bytes(&mut self, bytes: bytes::Bytes) -> io::Result<()> {
        self.write(&bytes)
    }
    /// Makes what was appended durable; returns how many bytes the partial send holds.
    fn sync(self: Box<Self>) -> io::Result<u64>;
}

/// A store of attached files. Blocking.
pub trait FileStorage: Send + Sync + std::fmt::Debug {
    /// Where the files are, for the operator ("the folder /var/lib/…", "s3://bucket/prefix").
    fn describe(&self) -> String;

    /// Makes sure these files are the relay database `relay_id`'s (`RelayStore::relay_id`):
    /// a storage that could be shared records the first database that uses it and refuses
    /// any other, whose collector would remove files it does not know to be referred to.
    /// `Ok(Err(why))` when it holds another database's files.
    fn claim(&self, relay_id: &str) -> io::Result<Result<(), String>> {
        let _ = relay_id;
        Ok(Ok(()))
    }

    /// The length of the whole file `hash`, when it is held.
    fn whole_len(&self, hash: &BlobHash) -> io::Result<Option<u64>>;

    /// Whether the whole file `hash` is held (a storage that cannot be read counts as not).
    fn is_whole(&self, hash: &BlobHash) -> bool {
        matches!(self.whole_len(hash), Ok(Some(_)))
    }

    /// Bytes of `hash` that devices of `unit` sent so far, from the start (0 when none).
    fn partial_len(&self, hash: &BlobHash, unit: UnitId) -> io::Result<u64>;

    /// What is held of `hash` as a sender of `unit` sees it: a whole file counts for it only
    /// once its unit has sent every byte (`proven`); until then, its own partial send.
    fn held_for_sender(&self, hash: &BlobHash, unit: UnitId, proven: bool) -> io::Result<Held> {
        if proven && self.is_whole(hash) {
            return Ok(Held::Whole);
        }
        Ok(match self.partial_len(hash, unit)? {
            0 => Held::Nothing,
            n => Held::Part(n),
        })
    }

    /// Bytes held in partial sends of `unit` (for its limit).
    fn partial_bytes_of(&self, unit: UnitId) -> io::Result<u64>;

    /// Removes `unit`'s partial send of `hash` (its size no longer fits the file's).
    fn drop_partial(&self, hash: &BlobHash, unit: UnitId) -> io::Result<()>;

    /// A writer appending to `unit`'s partial send of `hash` at `offset`, which must be what
    /// it holds. `Err(held)` when it holds another length.
    fn append_at(
        &self,
        hash: &BlobHash,
        unit: UnitId,
        offset: u64,
    ) -> io::Result<Result<Box<dyn PieceWriter>, u64>>;

    /// Checks `unit`'s partial send of `hash` (which holds `size` bytes) against the hash and,
    /// when it matches, makes it the whole file, durably (a file already whole has the same
    /// bytes: the partial send is dropped). When it does not match, the partial send is
    /// removed (the sender starts again) and `Ok(false)` is returned.
    fn finish(&self, hash: &BlobHash, unit: UnitId, size: u64) -> io::Result<bool>;

    /// Removes the whole file `hash` (the collector, once no document refers to it).
    fn remove_whole(&self, hash: &BlobHash) -> io::Result<()>;

    /// Removes partial sends untouched for longer than `older_than` (abandoned for good), and
    /// any leftovers of a file that was being made whole when the relay stopped. Returns how
    /// many sends.
    fn expire_partials(&self, older_than: Duration) -> io::Result<usize>;

    /// Every whole file held, with its length (for the collector).
    fn whole_files(&self) -> io::Result<Vec<(BlobHash, u64)>>;

    /// The whole file `hash` from byte `from` (at most its length), with its length; read as
    /// it goes, never whole in memory.
    fn open_whole(&self, hash: &BlobHash, from: u64) -> io::Result<WholeFile>;
}

/// The relay's files as its configuration says: `file_store` empty for the folder `files/`
/// in `data` (the default), or `s3://bucket/prefix` for an S3-compatible object store, its
/// credentials, region and endpoint from `file_store_options` and the usual `AWS_*` variables.
pub fn open(config: &crate::Config, data: &Path) -> Result<Files, String> {
    open_storage(config, data)
}

fn open_storage(config: &crate::Config, data: &Path) -> Result<Files, String> {
    let file_store = config.file_store.as_str();
    if file_store.is_empty() {
        let folder = data.join("files");
        let files = FileFolder::open(&folder).map_err(|e| {
            format!(
                "cannot create the folder of attached files {} ({e}); let the user running the relay write the data folder",
                folder.display()
            )
        })?;
        return Ok(Arc::new(files));
    }
    Ok(Arc::new(ObjectFiles::from_url(file_store, &config.file_store_options)?))
}

/// The relay's files as its configuration says (see [`open`]), claimed for the database
/// `relay_id`: an object store already holding another database's files is refused.
pub fn open_for(config: &crate::Config, data: &Path, relay_id: &str) -> Result<Files, String> {
    let files = open_storage(config, data)?;
    match files.claim(relay_id) {
        Ok(Ok(())) => Ok(files),
        Ok(Err(why)) => Err(why),
        Err(e) => Err(format!("{} cannot be used: {e}", files.describe())),
    }
}

/// How far a copy of files from one storage to another has gone.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Files looked at so far.
    pub files: usize,
    /// Files there are.
    pub of: usize,
    /// Files the destination already held whole (from an earlier run), so not copied.
    pub already: usize,
    /// Bytes copied.
    pub bytes: u64,
    /// Files whose bytes at the source do not match their hash: not copied.
    pub damaged: usize,
}

/// The unit a copy stages its sends under: no device's.
fn copying_unit() -> UnitId {
    UnitId::from_bytes([0xff; 16])
}

/// Copies every whole file of `from` that `to` does not hold whole, in pieces, each checked
/// against its hash at `to` before it counts; `progress` is told after each file. A run that
/// stopped (killed, the network down) is taken up again by the next: files already whole are
/// passed over, and a file half copied goes on from the last piece `to` holds. Blocking.
pub fn copy_files(
    from: &dyn FileStorage,
    to: &dyn FileStorage,
    mut progress: impl FnMut(&Copied),
) -> io::Result<Copied> {
    let unit = copying_unit();
    let all = from.whole_files()?;
    let mut done = Copied { of: all.len(), ..Copied::default() };
    let mut buf = vec![0u8; giaoban_protocol::wire::FILE_PIECE_BYTES as usize];
    for (hash, len) in all {
        done.files += 1;
        if to.is_whole(&hash) {
            done.already += 1;
            progress(&done);
            continue;
        }
        let mut at = to.partial_len(&hash, unit)?;
        if at > len {
            to.drop_partial(&hash, unit)?;
            at = 0;
        }
        let (mut reader, _) = from.open_whole(&hash, at)?;
        while at < len {
            let want = usize::try_from((len - at).min(buf.len() as u64)).unwrap_or(buf.len());
            reader.read_exact(&mut buf[..want])?;
            let mut writer = to.append_at(&hash, unit, at)?.map_err(|held| {
                io::Error::other(format!(
                    "{hash}: the destination holds {held} bytes, not {at}: run the copy again"
                ))
            })?;
            writer.write(&buf[..want])?;
            at = writer.sync()?;
            done.bytes += want as u64;
        }
        if !to.finish(&hash, unit, len)? {
            // Damaged where it was: not copied; a device holding it sends it again.
            done.damaged += 1;
        }
        progress(&done);
    }
    Ok(done)
}

/// What one pass of the collector removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    /// Whole files no record had referred to for the grace period.
    pub files: usize,
    /// Partial sends untouched for the grace period.
    pub partials: usize,
}

/// Removes what no record needs: files no document has referred to for `grace` (a file held
/// that the database knows nothing of, after a restore from an older backup, counts from when
/// the collector first sees it), and sends abandoned for `grace`. Blocking.
pub fn collect(
    store: &crate::RelayStore,
    files: &dyn FileStorage,
    grace: Duration,
) -> Result<Collected, crate::store::StoreError> {
    let io = |e: io::Error| crate::store::StoreError::Internal(format!("the attached files: {e}"));
    let mut out = Collected::default();
    let before = store.now().0 - i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    for hash in store.forget_unreferenced_files(before)? {
        files.remove_whole(&hash).map_err(io)?;
        out.files += 1;
    }
    for (hash, len) in files.whole_files().map_err(io)? {
        // A file the database does not know (it was restored from an older backup) is
        // recorded as found today: it is removed only after a whole grace period without a
        // document referring to it, so devices have that long to send their records again.
        if !store.file_recorded(hash)? {
            store.record_found_file(hash, len)?;
        }
    }
    out.partials = files.expire_partials(grace).map_err(io)?;
    Ok(out)
}
