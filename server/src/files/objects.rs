//! Attached files in an S3-compatible object store (`file_store = "s3://bucket/prefix"`), which
//! several relays can share.
//!
//! Under the prefix:
//! - `partial/<unit>/<hash>/<offset>-<random>`: a unit's send, one object per request that
//!   brought bytes (the offset in 20 digits, so names sort by it). A request cut short still
//!   stores what arrived. No piece is ever written over: two relays taking a piece at the same
//!   offset store two objects. The send holds the pieces that follow on from 0 without a gap,
//!   the longest at each offset; a piece that overlaps them (a request another relay answered
//!   late) is passed over.
//! - `files/<first two hex digits>/<hash>/<finish>/<offset>`: the pieces of a whole file,
//!   copied inside the store (no byte passes through the relay) once the send's bytes matched
//!   its hash, under a name of this finish alone, so two relays finishing the same file at
//!   once never mix their pieces.
//! - `files/<…>/<hash>/manifest.json`: written last: its size, its finish and its pieces. A file
//!   is held when its manifest is there, so a reader never sees part of one. Pieces no manifest
//!   names (a relay stopped while copying, or another finish won) are removed by the collector
//!   after the grace period.
//!
//! - `relay-id`: the relay database whose files these are; another database is refused, since
//!   its collector would remove files only the first one's records refer to.
//!
//! Each relay takes one file's lock in its own process only; two relays taking pieces of one
//! unit's send at once can at worst leave a send whose bytes do not match the hash, which is
//! then dropped and sent again: a wrong file never counts as held.
//!
//! Credentials, region and endpoint come from the `AWS_*` variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT` for a store other than Amazon's,
//! `AWS_ALLOW_HTTP=true` for one without TLS on a private network).

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use giaoban_protocol::{BlobHash, UnitId};
use object_store::path::Path as Key;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

use super::{FileStorage, Held, PieceWriter, WholeFile};

const MANIFEST: &str = "manifest.json";
/// The relay database whose files these are (`FileStorage::claim`).
const OWNER: &str = "relay-id";

/// Attached files in an object store.
#[derive(Clone)]
pub struct ObjectFiles {
    store: Arc<dyn ObjectStore>,
    url: String,
    runtime: tokio::runtime::Handle,
    _own: Arc<OwnRuntime>,
}

/// The runtime the store's requests run on, its own, so that blocking callers on any thread
/// (the relay's blocking pool, a test) can wait for them. Let go without waiting when the
/// last handle goes, which may be inside the relay's own runtime.
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for ObjectFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectFiles").field("url", &self.url).finish()
    }
}

/// The manifest of a whole file.
#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    size: u64,
    /// The name its pieces are under.
    finish: String,
    /// Offset and length of each piece, in order, from 0 without a gap.
    pieces: Vec<(u64, u64)>,
}

fn piece_name(offset: u64) -> String {
    format!("{offset:020}")
}

/// A name no other request or finish has: 16 random hex digits.
fn unique() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The offset a piece's name starts with.
fn offset_of(name: &str) -> Option<u64> {
    name.split('-').next()?.parse().ok()
}

fn send_of(hash: &BlobHash, unit: UnitId) -> Key {
    Key::from(format!("partial/{unit}/{}", hash.to_hex()))
}

fn whole_of(hash: &BlobHash) -> Key {
    let hex = hash.to_hex();
    Key::from(format!("files/{}/{hex}", &hex[..2]))
}

/// The pieces in `metas` that follow on from byte 0 without a gap, the longest at each
/// offset: offset, length, key.
fn chain(metas: &[ObjectMeta]) -> Vec<(u64, u64, Key)> {
    let mut by_offset: Vec<(u64, u64, Key)> = metas
        .iter()
        .filter_map(|m| Some((offset_of(m.location.filename()?)?, m.size, m.location.clone())))
        .collect();
    by_offset.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    let mut next = 0u64;
    let mut out = Vec::new();
    for (offset, len, key) in by_offset {
        if offset == next && len > 0 {
            next += len;
            out.push((offset, len, key));
        } else if offset > next {
            break;
        }
    }
    out
}

/// The objects under `files/`, by the hash (hex) they belong to: for each, whether it has a
/// manifest, and its pieces by the finish they are under.
type WholeListing = BTreeMap<String, (bool, BTreeMap<String, Vec<ObjectMeta>>)>;

fn by_whole(metas: Vec<ObjectMeta>) -> WholeListing {
    let mut out = WholeListing::new();
    for m in metas {
        let parts: Vec<String> = m.location.parts().map(|p| p.as_ref().to_string()).collect();
        // files / hh / hash / (manifest.json | finish / offset)
        if parts.len() < 4 {
            continue;
        }
        let entry = out.entry(parts[2].clone()).or_default();
        if parts.len() == 4 && parts[3] == MANIFEST {
            entry.0 = true;
        } else {
            entry.1.entry(parts[3].clone()).or_default().push(m);
        }
    }
    out
}

/// A client of the S3 bucket `bucket`, with `options` (by their `object_store` names) over
/// the `AWS_*` variables.
pub fn s3_bucket(
    bucket: &str,
    options: &std::collections::BTreeMap<String, String>,
) -> Result<object_store::aws::AmazonS3, String> {
    // reqwest leaves the choice of TLS crypto to the program: ring, as ureq uses. Another
    // already installed is kept.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A store out of reach is given up on within about half a minute (the default keeps
    // retrying for three), so a device is told to come back instead of waiting.
    let retry = object_store::RetryConfig {
        max_retries: 3,
        retry_timeout: std::time::Duration::from_secs(20),
        ..Default::default()
    };
    use object_store::ClientConfigKey::{ConnectTimeout, Timeout};
    use object_store::aws::AmazonS3ConfigKey::Client;
    let mut builder = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry)
        .with_config(Client(ConnectTimeout), "5s")
        .with_config(Client(Timeout), "60s");
    for (key, value) in options {
        let key = key.parse::<object_store::aws::AmazonS3ConfigKey>().map_err(|_| {
            format!(
                "file_store_options: '{key}' is not a setting of an S3 store (aws_endpoint, aws_region, aws_allow_http, …)"
            )
        })?;
        builder = builder.with_config(key, value);
    }
    builder.build().map_err(|e| e.to_string())
}

impl ObjectFiles {
    /// The store at `url` (`s3://bucket` or `s3://bucket/prefix`), with `options` over the
    /// `AWS_*` variables.
    pub fn from_url(
        url: &str,
        options: &std::collections::BTreeMap<String, String>,
    ) -> Result<ObjectFiles, String> {
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(format!(
                "file_store '{url}' is not understood: leave it empty for the folder beside the database, or give s3://bucket/prefix"
            ));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("file_store '{url}' names no bucket: give s3://bucket/prefix"));
        }
        let s3 =
            s3_bucket(bucket, options).map_err(|e| format!("the object store {url} cannot be used: {e}"))?;
        let prefix = prefix.trim_matches('/');
        let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
        };
        ObjectFiles::new(store, url)
    }

    /// Files in `store` (named `url` to the operator).
    pub fn new(store: Arc<dyn ObjectStore>, url: &str) -> Result<ObjectFiles, String> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("giaoban-files")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the threads of the object store {url}: {e}"))?;
        Ok(ObjectFiles {
            store,
            url: url.to_string(),
            runtime: rt.handle().clone(),
            _own: Arc::new(OwnRuntime(Some(rt))),
        })
    }

    fn error(&self, e: object_store::Error) -> io::Error {
        match e {
            object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e.to_string()),
            e => io::Error::other(format!("the object store {}: {e}", self.url)),
        }
    }

    fn wait<T>(&self, f: impl Future<Output = Result<T, object_store::Error>>) -> io::Result<T> {
        self.runtime.block_on(f).map_err(|e| self.error(e))
    }

    fn list(&self, prefix: &Key) -> io::Result<Vec<ObjectMeta>> {
        self.wait(self.store.list(Some(prefix)).try_collect::<Vec<_>>())
    }

    fn delete_all(&self, metas: &[ObjectMeta]) -> io::Result<()> {
        for m in metas {
            match self.wait(self.store.delete(&m.location)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    fn manifest(&self, hash: &BlobHash) -> io::Result<Option<Manifest>> {
        let key = whole_of(hash).join(MANIFEST);
        let bytes = match self.wait(async { self.store.get(&key).await?.bytes().await }) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            io::Error::other(format!("the manifest of {hash} in {} is unreadable: {e}", self.url))
        })
    }

    /// Whether every piece `manifest` names is in the store, each of its length.
    fn pieces_present(&self, hash: &BlobHash, manifest: &Manifest) -> io::Result<bool> {
        let under = whole_of(hash).join(manifest.finish.as_str());
        for (offset, len) in &manifest.pieces {
            match self.wait(self.store.head(&under.clone().join(piece_name(*offset)))) {
                Ok(meta) if meta.size == *len => {}
                Ok(_) => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// A manifest whose pieces are gone is removed (best effort): the file is then not held,
    /// so its sender's devices send it again and readers wait for it.
    fn forget_lost(&self, hash: &BlobHash) {
        tracing::warn!(%hash, store = %self.url, "pieces of a file held are missing from the object store; it counts as not held until sent again");
        if let Err(e) = self.wait(self.store.delete(&whole_of(hash).join(MANIFEST))) {
            tracing::warn!(error = %e, %hash, "the manifest of a lost file could not be removed");
        }
    }

    /// Reads every byte of `pieces` in order into `hasher`; how many there were.
    fn hash_pieces(&self, pieces: &[(u64, u64, Key)], hasher: &mut Sha256) -> io::Result<u64> {
        let mut total = 0u64;
        for (_, _, key) in pieces {
            let mut stream = self.wait(async { Ok(self.store.get(key).await?.into_stream()) })?;
            while let Some(chunk) = self.runtime.block_on(stream.next()) {
                let chunk = chunk.map_err(|e| self.error(e))?;
                hasher.update(&chunk);
                total += chunk.len() as u64;
            }
        }
        Ok(total)
    }
}

impl FileStorage for ObjectFiles {
    fn describe(&self) -> String {
        format!("the object store {}", self.url)
    }

    fn claim(&self, relay_id: &str) -> io::Result<Result<(), String>> {
        let key = Key::from(OWNER);
        let found = match self.wait(async { self.store.get(&key).await?.bytes().await }) {
            Ok(b) => Some(String::from_utf8_lossy(&b).trim().to_string()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        match found {
            Some(owner) if owner == relay_id => Ok(Ok(())),
            Some(owner) => Ok(Err(format!(
                "{} holds the files of another relay database ({owner}; this one is {relay_id}). Relays with databases of their own must not share a prefix: the collector of one would remove files only the other's records refer to. Give this relay a prefix of its own (file_store = \"s3://bucket/another-prefix\"); relays that share one database share its files.",
                self.describe()
            ))),
            None => {
                self.wait(self.store.put(&key, PutPayload::from(relay_id.as_bytes().to_vec())))?;
                Ok(Ok(()))
            }
        }
    }

    fn whole_len(&self, hash: &BlobHash) -> io::Result<Option<u64>> {
        Ok(self.manifest(hash)?.map(|m| m.size))
    }

    fn held_for_sender(&self, hash: &BlobHash, unit: UnitId, proven: bool) -> io::Result<Held> {
        // A sender is told a file is held only when its pieces are all there: it is the one
        // that can send it again if they were lost.
        if proven && let Some(manifest) = self.manifest(hash)? {
            if self.pieces_present(hash, &manifest)? {
                return Ok(Held::Whole);
            }
            self.forget_lost(hash);
        }
        Ok(match self.partial_len(hash, unit)? {
            0 => Held::Nothing,
            n => Held::Part(n),
        })
    }

    fn partial_len(&self, hash: &BlobHash, unit: UnitId) -> io::Result<u64> {
        let metas = self.list(&send_of(hash, unit))?;
        Ok(chain(&metas).last().map_or(0, |(offset, len, _)| offset + len))
    }

    fn partial_bytes_of(&self, unit: UnitId) -> io::Result<u64> {
        let metas = self.list(&Key::from(format!("partial/{unit}")))?;
        Ok(metas.iter().map(|m| m.size).sum())
    }

    fn drop_partial(&self, hash: &BlobHash, unit: UnitId) -> io::Result<()> {
        let metas = self.list(&send_of(hash, unit))?;
        self.delete_all(&metas)
    }

    fn append_at(
        &self,
        hash: &BlobHash,
        unit: UnitId,
        offset: u64,
    ) -> io::Result<Result<Box<dyn PieceWriter>, u64>> {
        let have = self.partial_len(hash, unit)?;
        if have != offset {
            return Ok(Err(have));
        }
        Ok(Ok(Box::new(ObjectPiece {
            files: self.clone(),
            key: send_of(hash, unit).join(format!("{}-{}", piece_name(offset), unique())),
            offset,
            bytes: Vec::new(),
        })))
    }

    fn finish(&self, hash: &BlobHash, unit: UnitId, size: u64) -> io::Result<bool> {
        let send = self.list(&send_of(hash, unit))?;
        let pieces = chain(&send);
        let mut hasher = Sha256::new();
        let total = self.hash_pieces(&pieces, &mut hasher)?;
        let got: [u8; 32] = hasher.finalize().into();
        if got != hash.0 || total != size {
            self.delete_all(&send)?;
            return Ok(false);
        }
        if let Some(held) = self.manifest(hash)? {
            if self.pieces_present(hash, &held)? {
                self.delete_all(&send)?;
                return Ok(true);
            }
            // Its pieces are gone (removed by hand, a lifecycle rule): this send stands in.
            self.forget_lost(hash);
        }
        // Under a name of this finish's own: another relay finishing the same file at once
        // copies beside these, never over them, and the manifest written last names its own.
        let finish = unique();
        let under = whole_of(hash).join(finish.as_str());
        for (offset, _, key) in &pieces {
            self.wait(self.store.copy(key, &under.clone().join(piece_name(*offset))))?;
        }
        let whole = whole_of(hash);
        let manifest = Manifest { size, finish, pieces: pieces.iter().map(|(o, l, _)| (*o, *l)).collect() };
        let json = serde_json::to_vec(&manifest).map_err(io::Error::other)?;
        self.wait(self.store.put(&whole.join(MANIFEST), PutPayload::from(json)))?;
        self.delete_all(&send)?;
        Ok(true)
    }

    fn remove_whole(&self, hash: &BlobHash) -> io::Result<()> {
        let whole = whole_of(hash);
        // The manifest first: from then on the file is not held, whatever is left of it.
        match self.wait(self.store.delete(&whole.clone().join(MANIFEST))) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let rest = self.list(&whole)?;
        self.delete_all(&rest)
    }

    fn expire_partials(&self, older_than: Duration) -> io::Result<usize> {
        let cutoff =
            chrono::Utc::now() - chrono::Duration::from_std(older_than).unwrap_or(chrono::Duration::MAX);
        let mut removed = 0;
        // Sends, grouped by unit and hash: a send goes only when its newest piece is old.
        let mut sends: BTreeMap<String, Vec<ObjectMeta>> = BTreeMap::new();
        for m in self.list(&Key::from("partial"))? {
            let parts: Vec<_> = m.location.parts().collect();
            if parts.len() >= 3 {
                let group = format!("{}/{}", parts[1].as_ref(), parts[2].as_ref());
                sends.entry(group).or_default().push(m);
            }
        }
        for metas in sends.values() {
            if metas.iter().all(|m| m.last_modified < cutoff) {
                self.delete_all(metas)?;
                removed += 1;
            }
        }
        // Pieces no manifest names: a relay stopped while making the file whole, or another
        // finish of the same file won.
        for (hex, (has_manifest, finishes)) in by_whole(self.list(&Key::from("files"))?) {
            let current = match (has_manifest, finishes.len()) {
                (false, _) => None,
                // One finish and a manifest: the manifest's (the usual case, read for nothing).
                (true, 1) => continue,
                (true, _) => match hex.parse::<BlobHash>().ok().map(|h| self.manifest(&h)).transpose()? {
                    Some(Some(m)) => Some(m.finish),
                    _ => continue,
                },
            };
            for (finish, metas) in finishes {
                if Some(&finish) != current.as_ref() && metas.iter().all(|m| m.last_modified < cutoff) {
                    self.delete_all(&metas)?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    fn whole_files(&self) -> io::Result<Vec<(BlobHash, u64)>> {
        let mut out = Vec::new();
        for (hex, (has_manifest, finishes)) in by_whole(self.list(&Key::from("files"))?) {
            let Some(hash) = hex.parse::<BlobHash>().ok().filter(|_| has_manifest) else { continue };
            let len = match finishes.len() {
                // One finish: its pieces are the file's.
                1 => finishes.values().flatten().map(|m| m.size).sum(),
                _ => match self.manifest(&hash)? {
                    Some(m) => m.size,
                    None => continue,
                },
            };
            out.push((hash, len));
        }
        Ok(out)
    }

    fn open_whole(&self, hash: &BlobHash, from: u64) -> io::Result<WholeFile> {
        let manifest = self.manifest(hash)?.ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("{hash} is not held in {}", self.url))
        })?;
        let under = whole_of(hash).join(manifest.finish.as_str());
        let pieces = manifest
            .pieces
            .iter()
            .filter(|(offset, len)| offset + len > from)
            .map(|(offset, len)| {
                (under.clone().join(piece_name(*offset)), from.saturating_sub(*offset), *len)
            })
            .collect();
        let mut reader =
            PiecesReader { files: self.clone(), hash: *hash, pieces, current: None, chunk: Bytes::new() };
        // The first piece is asked for now, so a file whose pieces are gone is answered as not
        // held (404) instead of a body that breaks off.
        reader.next_piece()?;
        Ok((Box::new(reader), manifest.size))
    }
}

/// The bytes of one request, stored as one piece when they are all in (at most one request's
/// worth: the route takes at most 1 MiB).
struct ObjectPiece {
    files: ObjectFiles,
    key: Key,
    offset: u64,
    /// The request's frames as they came (no copy), stored as one object.
    bytes: Vec<Bytes>,
}

impl PieceWriter for ObjectPiece {
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.bytes.push(Bytes::copy_from_slice(bytes));
        Ok(())
    }

    fn write_bytes(&mut self, bytes: Bytes) -> io::Result<()> {
        self.bytes.push(bytes);
        Ok(())
    }

    fn sync(self: Box<Self>) -> io::Result<u64> {
        let n: u64 = self.bytes.iter().map(|b| b.len() as u64).sum();
        if n > 0 {
            let payload: PutPayload = self.bytes.into_iter().collect();
            self.files.wait(self.files.store.put(&self.key, payload))?;
        }
        Ok(self.offset + n)
    }
}

/// A whole file read piece after piece, each streamed as the store sends it.
struct PiecesReader {
    files: ObjectFiles,
    hash: BlobHash,
    /// Each piece still to read: its key, the first byte wanted in it, its length.
    pieces: VecDeque<(Key, u64, u64)>,
    current: Option<BoxStream<'static, object_store::Result<Bytes>>>,
    chunk: Bytes,
}

impl Read for PiecesReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.chunk.is_empty() {
                let n = buf.len().min(self.chunk.len());
                buf[..n].copy_from_slice(&self.chunk.split_to(n));
                return Ok(n);
            }
            if let Some(stream) = &mut self.current {
                match self.files.runtime.block_on(stream.next()) {
                    Some(chunk) => self.chunk = chunk.map_err(|e| self.files.error(e))?,
                    None => self.current = None,
                }
                continue;
            }
            if !self.next_piece()? {
                return Ok(0);
            }
        }
    }
}

impl PiecesReader {
    /// Starts reading the next piece with bytes wanted; `false` when none is left. A piece
    /// the store no longer has makes the file not held.
    fn next_piece(&mut self) -> io::Result<bool> {
        while let Some((key, start, len)) = self.pieces.pop_front() {
            if start >= len {
                continue;
            }
            let store = self.files.store.clone();
            let options = GetOptions { range: Some(GetRange::Bounded(start..len)), ..Default::default() };
            match self.files.wait(async move { Ok(store.get_opts(&key, options).await?.into_stream()) }) {
                Ok(stream) => {
                    self.current = Some(stream);
                    return Ok(true);
                }
                Err(e) => {
                    if e.kind() == io::ErrorKind::NotFound {
                        self.files.forget_lost(&self.hash);
                    }
                    return Err(e);
                }
            }
        }
        Ok(false)
    }
}
