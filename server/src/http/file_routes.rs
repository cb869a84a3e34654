//! The routes of attached files (`/v1/files/{hash}`): a piece sent, a range fetched, the
//! status. The handlers' bodies (`receive_piece`, `status_of`) answer the desk's stores in
//! process too, so a desk's file goes the way a device's does.

use super::*;

/// The `?offset=` of a file upload.
#[derive(Debug, serde::Deserialize)]
pub(super) struct Offset {
    offset: u64,
}

fn parse_hash(text: &str) -> Result<BlobHash, ApiError> {
    text.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "'{}' is not a file hash: expected 64 hex digits (the file's SHA-256)",
            text.chars().take(80).collect::<String>()
        ))
    })
}

/// Blocking threads for the work of attached files, at most `FileIo::THREADS` at once: a
/// storage that stops answering (an object store out of reach, a failing disk) holds those
/// and no more, and the syncs of documents keep the rest of the relay's blocking threads.
#[derive(Clone)]
pub(crate) struct FileIo(Arc<tokio::sync::Semaphore>);

impl FileIo {
    /// Of the relay's 16 blocking threads.
    const THREADS: usize = 4;

    pub(crate) fn new() -> FileIo {
        FileIo(Arc::new(tokio::sync::Semaphore::new(FileIo::THREADS)))
    }

    /// Runs `f` on a blocking thread once one of the file threads is free.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> std::io::Result<T> {
        let _permit =
            self.0.acquire().await.map_err(|_| std::io::Error::other("the relay is shutting down"))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|_| std::io::Error::other("the relay is shutting down"))?
    }
}

async fn in_folder<T: Send + 'static>(
    io: &FileIo,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    io.run(f).await.map_err(ApiError::Files)
}

/// What a device of a unit that may read or send `hash` is told it has.
fn held_answer(held: Held, size: u64) -> FileHeld {
    match held {
        Held::Whole => FileHeld { size, have: size, whole: true },
        Held::Part(n) => FileHeld { size, have: n.min(size), whole: false },
        Held::Nothing => FileHeld { size, have: 0, whole: false },
    }
}

const NO_SUCH_FILE: &str =
    "no such file here, or no record this device may read refers to it; sync, then ask again";

/// Bytes of an attached file, from `offset`. Every byte that arrives is kept, even when the
/// request is cut short; the answer (or a status request) says how many the relay holds.
pub(super) async fn put_file(
    State(state): State<AppState>,
    axum::extract::Path(hash): axum::extract::Path<String>,
    axum::extract::Query(Offset { offset }): axum::extract::Query<Offset>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let (auth, hash, access) = file_request(&state, &hash, &headers).await?;
    state
        .file_limits
        .take(auth.device, state.config.max_syncs_per_minute.saturating_mul(4))
        .map_err(ApiError::TooMany)?;
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let held = receive_piece(&state, auth, hash, access, offset, declared, body).await?;
    Ok(axum::Json(held).into_response())
}

/// A piece of file `hash` from `offset` sent by an authenticated device (`declared`: the
/// length its request said it carries), kept byte for byte; what the relay holds after it.
/// `PUT /v1/files/{hash}` and the desk's stores, in process, are answered by this.
pub(crate) async fn receive_piece(
    state: &AppState,
    auth: DeviceAuth,
    hash: BlobHash,
    access: crate::store::FileAccess,
    offset: u64,
    declared: Option<u64>,
    body: axum::body::Body,
) -> Result<FileHeld, ApiError> {
    let unit = auth.unit;
    let Some(size) = access.send_size else {
        drain(body).await;
        return Err(ApiError::NotFound(
            "no record of this device's unit refers to this file; sync the record it is attached to first"
                .into(),
        ));
    };
    if let Err(e) = within_limit(state, size) {
        drain(body).await;
        return Err(e);
    }
    let guard = state.file_locks.lock(hash).await;
    let folder = state.files.clone();
    // A file held whole counts for this unit only once it has sent every byte: until then
    // it sends them, checked like any others, before its records may show the relay's copy.
    let proven = access.proven;
    let held = {
        let folder = folder.clone();
        in_folder(&state.file_io, move || {
            let held = folder.held_for_sender(&hash, unit, proven)?;
            // A partial send longer than the file now is (the reference changed): start over.
            if matches!(held, Held::Part(n) if n > size) {
                folder.drop_partial(&hash, unit)?;
                return Ok(Held::Nothing);
            }
            Ok(held)
        })
        .await?
    };
    let have = match held {
        Held::Whole => {
            drain(body).await;
            return Ok(held_answer(held, size));
        }
        Held::Part(n) => n,
        Held::Nothing => 0,
    };
    if have == 0 && state.config.max_unit_file_bytes > 0 {
        let recorded = blocking(&state.store, move |s| s.unit_file_bytes(unit)).await?;
        let f = folder.clone();
        let sending = in_folder(&state.file_io, move || f.partial_bytes_of(unit)).await?;
        let used = recorded.saturating_add(sending);
        if used.saturating_add(size) > state.config.max_unit_file_bytes {
            drain(body).await;
            return Err(ApiError::NoRoom(format!(
                "this unit's files already take {} of the {} the relay gives it (max_unit_file_bytes); the office can raise the limit or remove old files",
                mb(used),
                mb(state.config.max_unit_file_bytes)
            )));
        }
    }
    if offset != have {
        drain(body).await;
        return Err(ApiError::WrongOffset { held: held_answer(held, size) });
    }
    // At most one piece per request, and never past the end of the file.
    let remaining = size.saturating_sub(have).min(giaoban_protocol::wire::FILE_PIECE_BYTES);
    if declared.is_some_and(|n| n > remaining) {
        drain(body).await;
        return Err(ApiError::BadRequest(format!(
            "{} bytes sent from offset {offset}; at most {remaining} are taken (the rest of the file, and at most 1 MiB a request)",
            declared.unwrap_or_default()
        )));
    }
    // The bytes go to a task that appends them, a blocking thread taken only while a frame is
    // written (a piece crawling in over a 2G link holds none while it waits); it holds the
    // file's lock until they are stored, even if this request is dropped half way.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let store = state.store.clone();
    let io = state.file_io.clone();
    let writer = tokio::spawn(async move {
        let _guard = guard;
        let f = folder.clone();
        let mut appender = match io.run(move || f.append_at(&hash, unit, have)).await? {
            Ok(a) => a,
            Err(now) => return Ok((now, None)),
        };
        // Each frame is written as it arrives, so a relay killed half way through a piece
        // still holds every byte that reached it in the folder (an object store keeps a
        // request's bytes as one object when the request ends: a kill loses that request's).
        while let Some(bytes) = rx.recv().await {
            appender = io.run(move || appender.write_bytes(bytes).map(|()| appender)).await?;
        }
        io.run(move || -> std::io::Result<(u64, Option<bool>)> {
            let now = appender.sync()?;
            if now < size {
                return Ok((now, None));
            }
            let matched = folder.finish(&hash, unit, size)?;
            if matched && let Err(e) = store.record_file(hash, size, unit) {
                // The storage is the truth of what is held; the record only serves the per-unit
                // limit and the collector, which also looks at the storage.
                tracing::warn!(error = %e, %hash, "a whole file is not recorded in the database");
            }
            Ok((now, Some(matched)))
        })
        .await
    });
    let mut stream = body.into_data_stream();
    let mut sent = 0u64;
    let mut too_many = false;
    while let Some(frame) = stream.next().await {
        let Ok(mut bytes) = frame else { break };
        if sent + bytes.len() as u64 > remaining {
            bytes.truncate((remaining - sent) as usize);
            too_many = true;
        }
        sent += bytes.len() as u64;
        if tx.send(bytes).await.is_err() || too_many {
            break;
        }
    }
    drop(tx);
    crate::metrics::get().file_received_bytes.increment(sent);
    if too_many {
        // Read (and drop) a bounded rest, so the answer reaches a sender still writing instead
        // of a reset connection.
        let mut extra = 0u64;
        while let Some(Ok(frame)) = stream.next().await {
            extra += frame.len() as u64;
            if extra > giaoban_protocol::wire::FILE_PIECE_BYTES {
                break;
            }
        }
    }
    let (now, finished) =
        writer.await.map_err(|_| ApiError::Store(StoreError::Closed))?.map_err(ApiError::Files)?;
    match finished {
        Some(false) => {
            crate::metrics::get().files_mismatched.increment(1);
            tracing::warn!(device = %auth.device, %hash, "a file's bytes did not match its hash; dropped");
            return Err(ApiError::Mismatch(
                "the bytes sent do not match the file's hash (SHA-256); nothing of them is kept: send the file again from the start".into(),
            ));
        }
        Some(true) => {
            crate::metrics::get().files_whole.increment(1);
            tracing::info!(device = %auth.device, %hash, size, "file received whole");
        }
        None => {}
    }
    if too_many {
        return Err(ApiError::BadRequest(format!(
            "more bytes sent than the {remaining} taken from offset {offset} (the rest of the file, and at most 1 MiB a request); those are kept"
        )));
    }
    let held = if finished == Some(true) { Held::Whole } else { Held::Part(now) };
    Ok(held_answer(held, size))
}

/// Who asks about which file, and what their unit may do with it.
async fn file_request(
    state: &AppState,
    hash: &str,
    headers: &HeaderMap,
) -> Result<(DeviceAuth, BlobHash, crate::store::FileAccess), ApiError> {
    let auth = authenticate(state, headers).await?;
    let hash = parse_hash(hash)?;
    let unit = auth.unit;
    let access = blocking(&state.store, move |s| s.file_access(unit, hash)).await?;
    Ok((auth, hash, access))
}

/// What an authenticated device's unit may do with `hash` (the desk's stores ask in process).
pub(crate) async fn access_of(
    state: &AppState,
    auth: DeviceAuth,
    hash: BlobHash,
) -> Result<crate::store::FileAccess, ApiError> {
    let unit = auth.unit;
    blocking(&state.store, move |s| s.file_access(unit, hash)).await
}

/// Refuses a file larger than the relay takes.
fn within_limit(state: &AppState, size: u64) -> Result<(), ApiError> {
    let max = state.config.max_file_bytes;
    if size > max {
        return Err(ApiError::TooLarge(format!(
            "the file is {}; the relay takes files of at most {} (max_file_bytes): make it smaller (a photo at a lower resolution, say) and attach it again",
            mb(size),
            mb(max)
        )));
    }
    Ok(())
}

/// Reads and drops what is left of a request body (at most one piece), so that an answer
/// given before reading it reaches a sender still writing, instead of a reset connection.
async fn drain(body: axum::body::Body) {
    let mut stream = body.into_data_stream();
    let mut n = 0u64;
    while let Some(Ok(frame)) = stream.next().await {
        n += frame.len() as u64;
        if n > giaoban_protocol::wire::FILE_PIECE_BYTES {
            break;
        }
    }
}

/// What the relay holds of a file, for a device that may send or read it.
pub(super) async fn file_status(
    State(state): State<AppState>,
    axum::extract::Path(hash): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (auth, hash, access) = file_request(&state, &hash, &headers).await?;
    Ok(axum::Json(status_of(&state, auth, hash, access).await?).into_response())
}

/// What the relay holds of `hash` for an authenticated device whose unit has `access` to it.
/// `GET /v1/files/{hash}/status` and the desk's stores, in process, are answered by this.
pub(crate) async fn status_of(
    state: &AppState,
    auth: DeviceAuth,
    hash: BlobHash,
    access: crate::store::FileAccess,
) -> Result<FileHeld, ApiError> {
    let folder = state.files.clone();
    if let Some(size) = access.send_size {
        // A sender learns of the limit before it sends a byte, and sees its own send.
        within_limit(state, size)?;
        let (unit, proven) = (auth.unit, access.proven);
        // After the piece in flight is stored (a request cut short a moment ago may still be
        // storing what reached it): an answer from before would send those bytes again.
        let _guard = state.file_locks.lock(hash).await;
        let held = in_folder(&state.file_io, move || folder.held_for_sender(&hash, unit, proven)).await?;
        return Ok(held_answer(held, size));
    }
    if access.read_size.is_none() {
        // A reader of a document whose owner is still sending the file: how far it has come.
        let (owner, size) = access.coming_from.ok_or_else(|| ApiError::NotFound(NO_SUCH_FILE.into()))?;
        let have = in_folder(&state.file_io, move || folder.partial_len(&hash, owner)).await?;
        return Ok(FileHeld { size, have: have.min(size), whole: false });
    }
    // A reader: its document's owner holds the file, so it is whole (unless the folder lost it);
    // the size is the file's own.
    let len = in_folder(&state.file_io, move || Ok(folder.whole_len(&hash).ok().flatten())).await?;
    let held = match len {
        Some(len) => FileHeld { size: len, have: len, whole: true },
        None => FileHeld { size: access.read_size.unwrap_or_default(), have: 0, whole: false },
    };
    Ok(held)
}

/// The bytes a `Range: bytes=N-` or `bytes=N-M` header asks for: first, and last if given
/// (other forms are answered whole).
fn range_of(headers: &HeaderMap) -> Option<(u64, Option<u64>)> {
    let v = headers.get(header::RANGE)?.to_str().ok()?;
    let rest = v.trim().strip_prefix("bytes=")?;
    let (from, to) = rest.split_once('-')?;
    let from = from.trim().parse().ok()?;
    let to = match to.trim() {
        "" => None,
        t => Some(t.parse::<u64>().ok().filter(|t| *t >= from)?),
    };
    Some((from, to))
}

/// An attached file, streamed (never whole in memory), from `Range: bytes=N-` if asked.
pub(super) async fn get_file(
    State(state): State<AppState>,
    axum::extract::Path(hash): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, hash, access) = file_request(&state, &hash, &headers).await?;
    access.read_size.ok_or_else(|| ApiError::NotFound(NO_SUCH_FILE.into()))?;
    let folder = state.files.clone();
    let range = range_of(&headers);
    let start = range.map_or(0, |(f, _)| f);
    let opened = in_folder(&state.file_io, move || match folder.open_whole(&hash, start) {
        Ok(opened) => Ok(Some(opened)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    })
    .await?;
    let Some((file, len)) = opened else {
        return Err(ApiError::NotFound(
            "not on the relay any more: the device that attached it has to send it again; try again later"
                .into(),
        ));
    };
    if start >= len && !(start == 0 && len == 0) {
        return Ok((
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            "the range starts after the end of the file",
        )
            .into_response());
    }
    // The last byte sent, inclusive.
    let end = range.and_then(|(_, to)| to).map_or(len.saturating_sub(1), |to| to.min(len.saturating_sub(1)));
    let count = if len == 0 { 0 } else { end + 1 - start };
    let mut response = Response::new(stream_file(&state.file_io, file, count));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/octet-stream"));
    h.insert(header::ACCEPT_RANGES, header::HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, header::HeaderValue::from(count));
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(v) = header::HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(response)
}

/// `count` bytes of `file` from where it stands, read 64 KiB at a time as the body is sent
/// (never whole in memory), each read on one of the file threads: a download crawling over a
/// 2G link holds no thread while it waits for the link.
pub(crate) fn stream_file(io: &FileIo, file: Box<dyn std::io::Read + Send>, count: u64) -> axum::body::Body {
    let io = io.clone();
    let chunks = futures_util::stream::unfold((Some(file), count), move |(file, left)| {
        let io = io.clone();
        async move {
            let mut file = file?;
            if left == 0 {
                return None;
            }
            let want = (64 * 1024).min(usize::try_from(left).unwrap_or(usize::MAX));
            let read = io
                .run(move || {
                    use std::io::Read;
                    let mut buf = vec![0u8; want];
                    let n = file.read(&mut buf)?;
                    buf.truncate(n);
                    Ok((file, buf))
                })
                .await;
            match read {
                Ok((_, buf)) if buf.is_empty() => None,
                Ok((file, buf)) => {
                    let n = buf.len() as u64;
                    crate::metrics::get().file_sent_bytes.increment(n);
                    Some((Ok(Bytes::from(buf)), (Some(file), left - n)))
                }
                Err(e) => Some((Err(e), (None, 0))),
            }
        }
    });
    axum::body::Body::from_stream(chunks)
}

/// "3.2 MB".
fn mb(bytes: u64) -> String {
    if bytes < 1024 * 1024 {
        format!("{} KB", bytes.div_ceil(1024))
    } else {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    }
}
