//! The lane of attached files: sends this device's files to the relay and fetches the files
//! it wants, on their own requests, never inside a document sync (a submitted report reaches
//! the relay at once; its photos follow).
//!
//! - Sending: a file this device's unit attached goes up in pieces from the last byte the
//!   relay holds (the relay keeps every byte that arrived, even of a request cut short, and
//!   says how many it holds). Pieces are sized to about 15 seconds of the link as measured.
//! - Fetching: a file opened here comes first, then files small enough to prefetch; each
//!   resumes from the bytes already in its `.part` file, and counts as here only once its
//!   bytes match its hash.
//! - Order: among files to send or fetch, those of reports whose task is due soonest first.
//!
//! The store lock is taken only around store work, never across a request.

use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use giaoban_protocol::BlobHash;
use rusqlite::params;

use super::RelayClient;
use super::background::StoreAccess;
use super::http::{Fetched, FileAnswer, FileStatus};
use crate::Store;
use crate::domain::FileState;
use crate::error::{CoreError, Result};

/// What one run of the lane did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FilesReport {
    /// Files the relay now holds whole that it did not before this run.
    pub sent: usize,
    /// Files fetched whole.
    pub fetched: usize,
    /// Bytes of files the relay took in this run (what it said it holds more).
    pub bytes_sent: u64,
    /// Bytes of files received.
    pub bytes_received: u64,
    /// Requests made.
    pub requests: u32,
    /// Files left for later: not yet on the relay, refused, or the link went away.
    pub waiting: usize,
}

/// Smallest and largest piece of a file per request.
const PIECE_MIN: u64 = 64 * 1024;
const PIECE_MAX: u64 = giaoban_protocol::wire::FILE_PIECE_BYTES;
/// The first piece, before the link is measured.
const PIECE_FIRST: u64 = 256 * 1024;
/// How long a piece should take on the link as measured.
const PIECE_TIME: Duration = Duration::from_secs(15);

/// Sizes pieces to the link: about [`PIECE_TIME`] of it, as the last piece measured.
struct Pacer {
    piece: u64,
}

impl Pacer {
    fn new() -> Pacer {
        Pacer { piece: PIECE_FIRST }
    }
    fn measured(&mut self, bytes: u64, took: Duration) {
        if bytes < 16 * 1024 || took.is_zero() {
            return;
        }
        let rate = bytes as f64 / took.as_secs_f64();
        self.piece = ((rate * PIECE_TIME.as_secs_f64()) as u64).clamp(PIECE_MIN, PIECE_MAX);
    }
}

/// A reader that counts what it hands out.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// One file to send or fetch.
#[derive(Debug, Clone, Copy)]
struct Job {
    hash: BlobHash,
    size: u64,
    /// What is here of it (fetching; sending asks the relay what it holds).
    at: u64,
}

impl Store {
    /// How many files this device's unit attached (or the units it succeeds) the relay does not
    /// hold whole yet, as far as this device knows.
    pub fn unsent_files_count(&mut self) -> Result<u64> {
        let acting = self.acting_for()?;
        let mut stmt = self.conn().prepare_cached(
            "SELECT f.hash FROM files f JOIN file_refs r ON r.hash = f.hash JOIN documents d ON d.n = r.doc
             WHERE f.here = 1 AND f.problem IS NULL AND f.sent < f.size AND d.owner = ?1",
        )?;
        let mut seen = std::collections::HashSet::new();
        for unit in &acting {
            let rows = stmt.query_map(params![unit.to_bytes().to_vec()], |r| r.get::<_, Vec<u8>>(0))?;
            for h in rows {
                seen.insert(h?);
            }
        }
        Ok(seen.len() as u64)
    }

    /// Files this device's unit attached that the relay does not hold whole yet, due soonest
    /// first.
    fn files_to_send(&mut self) -> Result<Vec<Job>> {
        let mut acting = vec![self.my_unit()?];
        acting.extend(self.acting_for()?);
        let units: Vec<Vec<u8>> = acting.iter().map(|u| u.to_bytes().to_vec()).collect();
        let mut stmt = self.conn().prepare_cached(
            "SELECT f.hash, f.size, f.sent,
                    MIN(COALESCE((SELECT MIN(t.sort_key) FROM tasks t WHERE t.report = d.id), 9223372036854775807))
             FROM files f JOIN file_refs r ON r.hash = f.hash JOIN documents d ON d.n = r.doc
             WHERE f.here = 1 AND f.problem IS NULL AND d.owner = ?1
               AND (f.sent < f.size OR f.checked_at < ?2)
             GROUP BY f.hash
             LIMIT 500",
        )?;
        let mut out: Vec<(Job, i64)> = Vec::new();
        // A file the relay held once is asked about again after a day: a relay whose folder
        // was restored from an older copy may have lost it, and only this device can tell.
        let stale = self.now().0 - 24 * 3600 * 1000;
        for unit in &units {
            let rows = stmt.query_map(params![unit, stale], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?))
            })?;
            for row in rows {
                let (h, size, sent, due) = row?;
                let Ok(hash) = BlobHash::from_slice(&h) else { continue };
                if out.iter().any(|(j, _)| j.hash == hash) {
                    continue;
                }
                out.push((Job { hash, size: size.max(0) as u64, at: sent.max(0) as u64 }, due));
            }
        }
        out.sort_by_key(|(j, due)| (*due, j.size));
        Ok(out.into_iter().map(|(j, _)| j).collect())
    }

    /// Files to fetch: opened ones first, then those small enough to prefetch, due soonest
    /// first.
    fn files_to_fetch(&mut self) -> Result<Vec<Job>> {
        let prefetch = self.prefetch_limit()?;
        let folder = self.files();
        let mut stmt = self.conn().prepare_cached(
            "SELECT f.hash, f.size, f.wanted,
                    MIN(COALESCE((SELECT MIN(t.sort_key) FROM tasks t WHERE t.report = d.id), 9223372036854775807))
             FROM files f JOIN file_refs r ON r.hash = f.hash JOIN documents d ON d.n = r.doc
             WHERE f.here = 0 AND (f.wanted = 1 OR f.size <= ?1)
             GROUP BY f.hash
             ORDER BY f.wanted DESC, 4, f.size",
        )?;
        let rows = stmt.query_map(params![i64::try_from(prefetch).unwrap_or(i64::MAX)], |r| {
            Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (h, size) = row?;
            let Ok(hash) = BlobHash::from_slice(&h) else { continue };
            out.push(Job { hash, size: size.max(0) as u64, at: folder.part_len(&hash) });
        }
        Ok(out)
    }

    fn set_file(&self, hash: &BlobHash, column: &str, value: i64) -> Result<()> {
        // `column` is one of ours, never input.
        self.conn().execute(
            &format!("UPDATE files SET {column} = ?2 WHERE hash = ?1"),
            params![hash.0.to_vec(), value],
        )?;
        Ok(())
    }

    fn set_file_problem(&self, hash: &BlobHash, problem: Option<&str>) -> Result<()> {
        self.conn()
            .execute("UPDATE files SET problem = ?2 WHERE hash = ?1", params![hash.0.to_vec(), problem])?;
        Ok(())
    }

    /// The relay said it holds all of `hash` for this unit.
    fn file_held_by_relay(&self, hash: &BlobHash, size: u64) -> Result<()> {
        self.conn().execute(
            "UPDATE files SET sent = ?2, checked_at = ?3 WHERE hash = ?1",
            params![hash.0.to_vec(), size as i64, self.now().0],
        )?;
        Ok(())
    }

    /// A fetched file matched its hash and is in place: here, and held by the relay.
    fn file_fetched(&self, hash: &BlobHash, size: u64) -> Result<()> {
        self.conn().execute(
            "UPDATE files SET here = 1, got = ?2, sent = ?2, wanted = 0 WHERE hash = ?1",
            params![hash.0.to_vec(), size as i64],
        )?;
        Ok(())
    }

    /// Sends and fetches attached files until nothing is left to do or the link fails. See
    /// the module documentation.
    pub fn sync_files(&mut self) -> Result<FilesReport> {
        let cell = std::cell::RefCell::new(self);
        run_files(&cell, &|_, _| {}, &AtomicBool::new(false))
    }
}

/// [`Store::sync_files`] for a store shared between threads: the lock is taken only around
/// store work, never across a request. `on_file` is told each file's state as its transfer
/// moves (on the calling thread); `cancel` stops the run between pieces, with every piece the
/// relay took kept and counted.
pub fn sync_files_shared(
    store: &std::sync::Mutex<Store>,
    on_file: &dyn Fn(BlobHash, &FileState),
    cancel: &AtomicBool,
) -> Result<FilesReport> {
    run_files(store, on_file, cancel)
}

/// One run of the lane with the store lock taken only around store work. `on_file` is told
/// each file's state as its transfer moves; `cancel` is checked between pieces.
pub(crate) fn run_files<A: StoreAccess>(
    store: &A,
    on_file: &dyn Fn(BlobHash, &FileState),
    cancel: &AtomicBool,
) -> Result<FilesReport> {
    let tell = |hash: &BlobHash| {
        if let Ok(state) = store.with(|s| s.file_state(*hash)) {
            on_file(*hash, &state);
        }
    };
    let mut lane = Lane {
        client: store.with(|s| s.relay_client())?,
        pacer: Pacer::new(),
        report: FilesReport::default(),
        tell: &tell,
        cancel,
    };
    let sends = store.with(|s| s.files_to_send())?;
    for job in sends {
        lane.check_cancel()?;
        match lane.send_one(store, job).or_else(|e| one_file_failed(store, &job, e))? {
            true => lane.report.sent += 1,
            false => lane.report.waiting += 1,
        }
    }
    let fetches = store.with(|s| s.files_to_fetch())?;
    for job in fetches {
        lane.check_cancel()?;
        match lane.fetch_one(store, job).or_else(|e| one_file_failed(store, &job, e))? {
            true => lane.report.fetched += 1,
            false => lane.report.waiting += 1,
        }
    }
    Ok(lane.report)
}

/// A transfer that failed for this file alone (a bad reference from another unit, a file
/// missing from the folder) does not stop the others: it waits for the next run. The link
/// going away, a cancel, the store failing or the device being refused stop the run.
fn one_file_failed<A: StoreAccess>(store: &A, job: &Job, e: CoreError) -> Result<bool> {
    match e {
        CoreError::Network { .. }
        | CoreError::Cancelled
        | CoreError::Storage(_)
        | CoreError::Unauthorized(_)
        | CoreError::NotEnrolled => Err(e),
        e => {
            tracing::warn!(hash = %job.hash, error = %e, "a file's transfer failed; the others go on");
            let _ = store.with(|s| s.set_file(&job.hash, "got", 0));
            Ok(false)
        }
    }
}

/// One run of the lane: the relay, the link as measured, what was done, whom to tell.
struct Lane<'a> {
    client: RelayClient,
    pacer: Pacer,
    report: FilesReport,
    tell: &'a dyn Fn(&BlobHash),
    cancel: &'a AtomicBool,
}

impl Lane<'_> {
    fn check_cancel(&self) -> Result<()> {
        if self.cancel.load(Ordering::SeqCst) { Err(CoreError::Cancelled) } else { Ok(()) }
    }

    /// Sends one file until the relay holds it whole (`true`) or it must wait (`false`).
    fn send_one<A: StoreAccess>(&mut self, store: &A, job: Job) -> Result<bool> {
        let Lane { client, pacer, report, tell, cancel } = self;
        let tell = *tell;
        let hash = job.hash;
        let path = store.with(|s| s.files().whole(&hash));
        let mut mismatches = 0;
        // What the relay holds is asked once at the start: another device of the unit may have
        // sent the same file, and a restored relay may hold less than this device was told.
        report.requests += 1;
        let mut offset = match client.file_status(&hash)? {
            FileStatus::Held(held) if held.whole => {
                store.with(|s| s.file_held_by_relay(&hash, job.size))?;
                tell(&hash);
                return Ok(true);
            }
            FileStatus::Held(held) => held.have.min(job.size),
            FileStatus::Unknown => {
                tracing::debug!(%hash, "the relay knows no record of this unit that refers to this file yet");
                return Ok(false);
            }
            FileStatus::Refused(why) => {
                store.with(|s| s.set_file_problem(&hash, Some(&why)))?;
                tell(&hash);
                return Ok(false);
            }
        };
        // Pieces cut before the relay kept a byte more: after a few, the link is left for later.
        let mut fruitless = 0;
        loop {
            if cancel.load(Ordering::SeqCst) {
                return Err(CoreError::Cancelled);
            }
            let piece = pacer.piece.min(job.size - offset);
            let mut file = std::fs::File::open(&path)
                .map_err(|e| CoreError::Files(format!("cannot read {} to send it ({e})", path.display())))?;
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| CoreError::Files(format!("cannot read {} to send it ({e})", path.display())))?;
            let count = Arc::new(AtomicU64::new(0));
            let body = Counting { inner: file.take(piece), count: count.clone() };
            let started = Instant::now();
            report.requests += 1;
            let answer = client.send_file_piece(&hash, offset, body);
            tracing::trace!(%hash, offset, read = count.load(Ordering::Relaxed), "a piece of a file sent");
            match answer {
                Ok(FileAnswer::Held(held)) => {
                    report.bytes_sent += held.have.saturating_sub(offset);
                    pacer.measured(held.have.saturating_sub(offset), started.elapsed());
                    offset = held.have;
                    store.with(|s| s.set_file(&hash, "sent", held.have as i64))?;
                    tell(&hash);
                    if held.whole {
                        store.with(|s| s.file_held_by_relay(&hash, job.size))?;
                        tracing::info!(%hash, size = job.size, "file sent");
                        return Ok(true);
                    }
                }
                Ok(FileAnswer::NotReferenced(why)) => {
                    tracing::debug!(%hash, %why, "the relay does not take this file yet");
                    return Ok(false);
                }
                Ok(FileAnswer::Refused(why)) => {
                    store.with(|s| s.set_file_problem(&hash, Some(&why)))?;
                    tell(&hash);
                    return Ok(false);
                }
                Ok(FileAnswer::Mismatch(why)) => {
                    // Another device's bad bytes, or this one's file changed under it: once more
                    // from the start, then wait.
                    mismatches += 1;
                    tracing::warn!(%hash, %why, "the relay found a file's bytes wrong");
                    if mismatches > 1 {
                        return Ok(false);
                    }
                    offset = 0;
                    store.with(|s| s.set_file(&hash, "sent", 0))?;
                }
                Err(CoreError::Network { message, .. }) => {
                    // The link went: what arrived is kept on the relay; ask how much.
                    tracing::debug!(%hash, %message, "a piece of a file was cut");
                    // The question may be cut too: it is small, so a few tries.
                    let mut asked = client.file_status(&hash);
                    for _ in 0..2 {
                        if !matches!(asked, Err(CoreError::Network { .. })) {
                            break;
                        }
                        report.requests += 1;
                        asked = client.file_status(&hash);
                    }
                    report.requests += 1;
                    match asked? {
                        FileStatus::Held(held) => {
                            report.bytes_sent += held.have.saturating_sub(offset);
                            if held.have <= offset {
                                fruitless += 1;
                                if fruitless >= 3 {
                                    return Err(CoreError::Network { message, retryable: true });
                                }
                            } else {
                                fruitless = 0;
                            }
                            offset = held.have.min(job.size);
                            store.with(|s| s.set_file(&hash, "sent", held.have as i64))?;
                            tell(&hash);
                            if held.whole {
                                store.with(|s| s.file_held_by_relay(&hash, job.size))?;
                                return Ok(true);
                            }
                            pacer.piece = (pacer.piece / 2).max(PIECE_MIN);
                        }
                        FileStatus::Unknown => return Ok(false),
                        FileStatus::Refused(why) => {
                            store.with(|s| s.set_file_problem(&hash, Some(&why)))?;
                            tell(&hash);
                            return Ok(false);
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Fetches one file until it is here (`true`) or it must wait (`false`).
    fn fetch_one<A: StoreAccess>(&mut self, store: &A, job: Job) -> Result<bool> {
        let Lane { client, pacer, report, tell, cancel } = self;
        let tell = *tell;
        let hash = job.hash;
        let folder = store.with(|s| s.files());
        // The size a reference gives may be wrong (another unit's document can name any size):
        // the relay says the file's own.
        report.requests += 1;
        // What the relay holds is kept as this device knows it: while the file's sender is
        // still sending, that is how far it has come ("đang tải lên 40 %").
        let relay_has = |have: u64| -> Result<()> {
            if store.with(|s| s.file_state(hash))?.sent != have {
                store.with(|s| s.set_file(&hash, "sent", i64::try_from(have).unwrap_or(i64::MAX)))?;
                tell(&hash);
            }
            Ok(())
        };
        let size = match client.file_status(&hash)? {
            FileStatus::Held(held) if held.whole && held.size > 0 => {
                relay_has(held.size)?;
                held.size
            }
            FileStatus::Held(held) => {
                relay_has(held.have.min(held.size))?;
                return Ok(false);
            }
            _ => return Ok(false),
        };
        if size != job.size {
            store.with(|s| s.set_file(&hash, "size", size as i64))?;
        }
        let job = Job { size, ..job };
        let mut got = job.at.min(job.size);
        if got >= job.size && folder.part_len(&hash) != job.size {
            got = 0;
        }
        let mut mismatches = 0;
        loop {
            if cancel.load(Ordering::SeqCst) {
                return Err(CoreError::Cancelled);
            }
            if got >= job.size {
                if store.with(|_| folder.finish_part(&hash))? {
                    store.with(|s| s.file_fetched(&hash, job.size))?;
                    tell(&hash);
                    tracing::info!(%hash, size = job.size, "file fetched");
                    return Ok(true);
                }
                mismatches += 1;
                tracing::warn!(%hash, "a fetched file did not match its hash; fetching it again");
                got = 0;
                store.with(|s| s.set_file(&hash, "got", 0))?;
                if mismatches > 1 {
                    return Ok(false);
                }
                continue;
            }
            let to = (got + pacer.piece).min(job.size);
            let mut out = store.with(|_| folder.append_part(&hash, got))?;
            let started = Instant::now();
            report.requests += 1;
            let fetched = client.fetch_file(&hash, got, to, &mut out, &mut |_| {});
            out.flush()
                .and_then(|()| out.sync_data())
                .map_err(|e| CoreError::Files(format!("saving a fetched file failed ({e})")))?;
            drop(out);
            match fetched {
                Ok(Fetched::Got(n)) => {
                    report.bytes_received += n;
                    pacer.measured(n, started.elapsed());
                    got += n;
                    store.with(|s| s.set_file(&hash, "got", got as i64))?;
                    tell(&hash);
                    if n == 0 {
                        // The link gave nothing: try again later.
                        return Ok(false);
                    }
                }
                Ok(Fetched::NotThere(why)) => {
                    tracing::debug!(%hash, %why, "a file is not on the relay yet");
                    return Ok(false);
                }
                Err(CoreError::Network { message, .. }) => {
                    tracing::debug!(%hash, %message, "a file fetch failed; resuming later");
                    return Err(CoreError::Network { message, retryable: true });
                }
                Err(e) => return Err(e),
            }
        }
    }
}
