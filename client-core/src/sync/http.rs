//! The HTTP side of sync: a small blocking client (ureq) for the relay's API.

use std::time::Duration;

use giaoban_protocol::DeviceId;
use giaoban_protocol::wire::{EnrollRequest, Enrolled, MAX_FRAME};

use crate::error::{CoreError, Result};

/// A client for one relay.
#[derive(Clone)]
pub struct RelayClient {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for RelayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayClient").field("base", &self.base).finish()
    }
}

fn network(e: ureq::Error) -> CoreError {
    CoreError::Network { message: e.to_string(), retryable: true }
}

impl RelayClient {
    /// A client for the relay at `base` ("http://10.0.0.5:8080").
    pub fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_global(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .build()
            .into();
        RelayClient { base: base.trim_end_matches('/').to_string(), token: None, agent }
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
}
