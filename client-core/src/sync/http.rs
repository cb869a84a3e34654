//! The HTTP side of sync: a small blocking client (ureq) for the relay's API.

use std::time::Duration;

use giaoban_protocol::wire::{EnrollRequest, Enrolled, FileHeld, MAX_FRAME};
use giaoban_protocol::{BlobHash, DeviceId};

use crate::error::{CoreError, Result};

/// A round trip answered in the same process (the relay's own desk): the request frame in,
/// the HTTP status and body out, read exactly as an answer over HTTP would be.
pub type InProcessExchange = dyn Fn(&[u8]) -> (u16, Vec<u8>) + Send + Sync;

/// The file lane answered in the same process (the relay's own desk): what a request for a
/// file's status or a piece of it would answer over HTTP, as status and body.
pub trait InProcessFiles: Send + Sync {
    /// `GET /v1/files/{hash}/status`.
    fn status(&self, hash: &BlobHash) -> (u16, Vec<u8>);
    /// `PUT /v1/files/{hash}?offset=N` with `body`.
    fn piece(&self, hash: &BlobHash, offset: u64, body: Vec<u8>) -> (u16, Vec<u8>);
}

/// The address an in-process client stands for.
pub(crate) const IN_PROCESS: &str = "in-process:";

/// A client for one relay.
#[derive(Clone)]
pub struct RelayClient {
    base: String,
    token: Option<String>,
    /// Connections of document sync.
    agent: ureq::Agent,
    /// Connections of the file lane, a pool of their own: a file piece (or the status
    /// question after a cut) never takes the idle connection the next sync would reuse, so a
    /// report written while a file goes up pays no new handshake.
    file_agent: ureq::Agent,
    local: Option<std::sync::Arc<InProcessExchange>>,
    local_files: Option<std::sync::Arc<dyn InProcessFiles>>,
}

impl std::fmt::Debug for RelayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayClient").field("base", &self.base).finish()
    }
}

/// An agent keeping its connections for reuse. The relay closes a connection idle for its
/// request timeout (60 s by default): kept 50 s, one connection carries the syncs of a minute.
fn pooled_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_global(Some(Duration::from_secs(120)))
        .max_idle_age(Duration::from_secs(50))
        .http_status_as_error(false)
        .build()
        .into()
}

fn network(e: ureq::Error) -> CoreError {
    CoreError::Network { message: e.to_string(), retryable: true }
}

impl RelayClient {
    /// A client for the relay at `base` ("http://10.0.0.5:8080").
    pub fn new(base: &str) -> Self {
        RelayClient {
            base: base.trim_end_matches('/').to_string(),
            token: None,
            agent: pooled_agent(),
            file_agent: pooled_agent(),
            local: None,
            local_files: None,
        }
    }

    /// A client whose sync round trips are answered by `exchange` in this process, with no
    /// socket: the relay's desk syncs its staff's stores this way, through the same checks
    /// as a device's request. Enrollment, live notifications and files are not offered.
    pub fn in_process(exchange: std::sync::Arc<InProcessExchange>) -> Self {
        let mut c = RelayClient::new(IN_PROCESS).with_token(IN_PROCESS);
        c.local = Some(exchange);
        c
    }

    /// The same client, its files sent through `files` in this process (an in-process client
    /// only; fetching is not offered: what the desk shows of a file it reads from the relay).
    pub fn with_files_in_process(mut self, files: std::sync::Arc<dyn InProcessFiles>) -> Self {
        self.local_files = Some(files);
        self
    }

    /// The same client, authenticating with `token`.
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_string());
        self
    }

    /// Whether this client talks to the relay at `base` as the holder of `token`.
    pub(crate) fn is_for(&self, base: &str, token: &str) -> bool {
        self.base == base.trim_end_matches('/') && self.token.as_deref() == Some(token)
    }

    /// The relay's address.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn check(status: u16, body: &[u8]) -> Result<()> {
        let text = || String::from_utf8_lossy(body).chars().take(500).collect::<String>();
        match status {
            200..=299 => Ok(()),
            401 | 403 => Err(CoreError::Unauthorized(text())),
            429 => Err(CoreError::Network { message: text(), retryable: true }),
            413 => Err(CoreError::TooLarge(text())),
            400..=499 => Err(CoreError::Protocol(format!("{status}: {}", text()))),
            _ => Err(CoreError::Network {
                message: format!("relay answered {status}: {}", text()),
                retryable: true,
            }),
        }
    }

    /// Trades a one-time code for a token.
    pub fn enroll(&self, code: &str, device: DeviceId, label: &str) -> Result<Enrolled> {
        let body = serde_json::to_vec(&EnrollRequest {
            code: code.trim().to_string(),
            device,
            label: label.to_string(),
        })
        .map_err(|e| CoreError::Protocol(e.to_string()))?;
        let mut resp = self
            .agent
            .post(&format!("{}/v1/enroll", self.base))
            .header("Content-Type", "application/json")
            .send(&body[..])
            .map_err(network)?;
        let status = resp.status().as_u16();
        let bytes = resp.body_mut().with_config().limit(64 * 1024).read_to_vec().map_err(network)?;
        Self::check(status, &bytes)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| CoreError::Protocol(format!("enrollment answer unreadable: {e}")))
    }

    /// One sync round trip: sends a frame, returns the answer's frame.
    pub fn sync(&self, frame: &[u8]) -> Result<Vec<u8>> {
        if let Some(exchange) = &self.local {
            let (status, body) = exchange(frame);
            Self::check(status, &body)?;
            return Ok(body);
        }
        let token = self.token.as_deref().ok_or(CoreError::NotEnrolled)?;
        let mut resp = self
            .agent
            .post(&format!("{}/v1/sync", self.base))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Content-Type", "application/x-giaoban")
            .send(frame)
            .map_err(network)?;
        let status = resp.status().as_u16();
        let bytes = resp.body_mut().with_config().limit(MAX_FRAME as u64).read_to_vec().map_err(network)?;
        Self::check(status, &bytes)?;
        Ok(bytes)
    }

    /// Opens the live notification stream and calls `on_line` for each line it receives (with
    /// `true` for a "changed" event, `false` for anything else, such as keep-alives) until the
    /// stream ends or `on_line` returns false.
    pub fn listen(&self, mut on_line: impl FnMut(bool) -> bool) -> Result<()> {
        use std::io::BufRead;
        let token = self.token.as_deref().ok_or(CoreError::NotEnrolled)?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(15)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut resp = agent
            .get(&format!("{}/v1/events", self.base))
            .header("Authorization", &format!("Bearer {token}"))
            .header("Accept", "text/event-stream")
            .call()
            .map_err(network)?;
        let status = resp.status().as_u16();
        if status != 200 {
            let bytes = resp.body_mut().with_config().limit(64 * 1024).read_to_vec().map_err(network)?;
            return Self::check(status, &bytes);
        }
        let reader = std::io::BufReader::new(resp.body_mut().as_reader());
        for line in reader.lines() {
            let line = line.map_err(|e| CoreError::Network { message: e.to_string(), retryable: true })?;
            if !on_line(line.starts_with("event: changed")) {
                break;
            }
        }
        Ok(())
    }

    fn bearer(&self) -> Result<String> {
        Ok(format!("Bearer {}", self.token.as_deref().ok_or(CoreError::NotEnrolled)?))
    }

    /// What the relay holds of file `hash`.
    pub(crate) fn file_status(&self, hash: &BlobHash) -> Result<FileStatus> {
        let (status, bytes) = if self.local.is_some() {
            match &self.local_files {
                Some(files) => files.status(hash),
                None => return Ok(FileStatus::Unknown),
            }
        } else {
            let mut resp = self
                .file_agent
                .get(&format!("{}/v1/files/{hash}/status", self.base))
                .header("Authorization", &self.bearer()?)
                .call()
                .map_err(network)?;
            let status = resp.status().as_u16();
            (status, resp.body_mut().with_config().limit(64 * 1024).read_to_vec().map_err(network)?)
        };
        match status {
            404 => Ok(FileStatus::Unknown),
            413 => Ok(FileStatus::Refused(String::from_utf8_lossy(&bytes).chars().take(500).collect())),
            _ => {
                Self::check(status, &bytes)?;
                serde_json::from_slice(&bytes)
                    .map(FileStatus::Held)
                    .map_err(|e| CoreError::Protocol(format!("file status unreadable: {e}")))
            }
        }
    }

    /// Sends the bytes `body` yields as file `hash` from `offset`.
    pub(crate) fn send_file_piece(
        &self,
        hash: &BlobHash,
        offset: u64,
        body: impl std::io::Read + Send + 'static,
    ) -> Result<FileAnswer> {
        let (status, bytes) = if self.local.is_some() {
            let Some(files) = &self.local_files else {
                return Ok(FileAnswer::NotReferenced("files are not sent from this store".into()));
            };
            // A piece is at most 1 MiB: read whole, as the relay would receive it.
            let mut piece = Vec::new();
            std::io::Read::read_to_end(
                &mut std::io::Read::take(body, giaoban_protocol::wire::FILE_PIECE_BYTES + 1),
                &mut piece,
            )
            .map_err(|e| CoreError::Files(format!("cannot read a file to send it ({e})")))?;
            files.piece(hash, offset, piece)
        } else {
            let mut resp = self
                .file_agent
                .put(&format!("{}/v1/files/{hash}?offset={offset}", self.base))
                .header("Authorization", &self.bearer()?)
                .header("Content-Type", "application/octet-stream")
                .send(ureq::SendBody::from_owned_reader(body))
                .map_err(network)?;
            let status = resp.status().as_u16();
            (status, resp.body_mut().with_config().limit(64 * 1024).read_to_vec().map_err(network)?)
        };
        let text = || String::from_utf8_lossy(&bytes).chars().take(500).collect::<String>();
        match status {
            200 | 409 => serde_json::from_slice(&bytes)
                .map(FileAnswer::Held)
                .map_err(|e| CoreError::Protocol(format!("file answer unreadable: {e}"))),
            404 => Ok(FileAnswer::NotReferenced(text())),
            413 | 507 => Ok(FileAnswer::Refused(text())),
            422 => Ok(FileAnswer::Mismatch(text())),
            _ => Self::check(status, &bytes).and(Err(CoreError::Protocol(format!("{status}: {}", text())))),
        }
    }

    /// Fetches file `hash` from byte `from` up to (not including) `to`, writing what arrives
    /// to `out` as it arrives and reporting each piece's length to `progress`.
    pub(crate) fn fetch_file(
        &self,
        hash: &BlobHash,
        from: u64,
        to: u64,
        out: &mut dyn std::io::Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Fetched> {
        if self.local.is_some() {
            return Ok(Fetched::NotThere("files are not fetched into this store".into()));
        }
        let mut resp = self
            .file_agent
            .get(&format!("{}/v1/files/{hash}", self.base))
            .header("Authorization", &self.bearer()?)
            .header("Range", &format!("bytes={from}-{}", to.saturating_sub(1)))
            .call()
            .map_err(network)?;
        let status = resp.status().as_u16();
        if status != 200 && status != 206 {
            let bytes = resp.body_mut().with_config().limit(64 * 1024).read_to_vec().map_err(network)?;
            let text = String::from_utf8_lossy(&bytes).chars().take(500).collect::<String>();
            if status == 404 {
                return Ok(Fetched::NotThere(text));
            }
            Self::check(status, &bytes)?;
            return Err(CoreError::Protocol(format!("{status}: {text}")));
        }
        // A relay that ignores the range sends the file from its start.
        let skip = if status == 200 { from } else { 0 };
        let want = to - from;
        let mut reader = resp.body_mut().with_config().limit(want + skip + 1).reader();
        let mut buf = vec![0u8; 64 * 1024];
        let (mut skipped, mut got) = (0u64, 0u64);
        while got < want {
            let n = match std::io::Read::read(&mut reader, &mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if got > 0 || skipped > 0 => {
                    tracing::debug!(error = %e, got, "a file fetch was cut; resuming later");
                    break;
                }
                Err(e) => return Err(CoreError::Network { message: e.to_string(), retryable: true }),
            };
            let mut piece = &buf[..n];
            if skipped < skip {
                let drop = (skip - skipped).min(n as u64) as usize;
                skipped += drop as u64;
                piece = &piece[drop..];
            }
            let piece = &piece[..piece.len().min((want - got) as usize)];
            if piece.is_empty() {
                continue;
            }
            out.write_all(piece)
                .map_err(|e| CoreError::Files(format!("writing a fetched file failed ({e})")))?;
            got += piece.len() as u64;
            progress(piece.len() as u64);
        }
        Ok(Fetched::Got(got))
    }
}

/// What the relay answered to a piece of a file sent.
#[derive(Debug)]
pub(crate) enum FileAnswer {
    /// What it holds now (also the answer when the piece started at another offset than it
    /// holds).
    Held(FileHeld),
    /// No record of this device's unit refers to the file (yet: the record is not synced).
    NotReferenced(String),
    /// Too large, or no room left for the unit: a person must act.
    Refused(String),
    /// The bytes did not match the hash; the relay dropped them.
    Mismatch(String),
}

/// What the relay says of a file.
#[derive(Debug)]
pub(crate) enum FileStatus {
    /// What it holds.
    Held(FileHeld),
    /// No record this device may read or send refers to it (yet).
    Unknown,
    /// Larger than the relay takes: the relay's words.
    Refused(String),
}

/// What a fetch got.
#[derive(Debug)]
pub(crate) enum Fetched {
    /// This many bytes (fewer than asked when the link was cut).
    Got(u64),
    /// Not on the relay (yet), or not for this device: the relay's words.
    NotThere(String),
}
