//! What the operator sees at `GET /metrics`: the relay's counters, gauges and histograms in
//! the Prometheus text format, and who may read them.
//!
//! One recorder per process ([`get`]): installed as the global `metrics` recorder the first
//! time anything records, and kept with its handle in a `OnceLock`, so a process that starts
//! many relays (the tests do) shares one and never installs twice. Should the process already
//! have a recorder of its own, the relay's series still count (their handles are registered on
//! the relay's recorder before it is offered as the global one); only the per-route request
//! series then go to the other recorder.
//!
//! The series (every label has a small fixed set of values; no device, unit, document or raw
//! path ever becomes a label):
//! - `giaoban_relay_http_requests_total` and `giaoban_relay_http_request_duration_seconds`
//!   (histogram, time to the response's head): by `method`, `route` (the route template, such
//!   as `/v1/files/{hash}`, or `unmatched`) and `status` (`2xx`, `4xx`, ...).
//! - `giaoban_relay_documents_accepted_total`, `giaoban_relay_changes_accepted_total`: pushed
//!   documents and changes stored (counted once their batch committed).
//! - `giaoban_relay_documents_refused_total{reason}`: pushed documents refused, by
//!   `RejectCode` (`not_owner`, `header_changed`, `invalid`, `foreign_actor`, `corrupt`); a
//!   document stored in part counts as accepted and as refused.
//! - `giaoban_relay_documents_wanted_total`: pushed documents that build on changes the relay
//!   lacks (asked for in full).
//! - `giaoban_relay_syncs_refused_total{reason}`: whole sync requests refused before any
//!   document was looked at: `unreadable`, `too_large`, `rate_limited`.
//! - `giaoban_relay_sync_received_bytes_total`, `giaoban_relay_sync_sent_bytes_total`: bodies
//!   of sync requests and answers, as on the wire.
//! - `giaoban_relay_file_received_bytes_total`, `giaoban_relay_file_sent_bytes_total`: bytes
//!   of attached files received in pieces from devices and sent to devices and the desk;
//!   `giaoban_relay_files_received_total{outcome}`: files completed (`whole`) or dropped because
//!   their bytes did not match their hash (`mismatch`).
//! - `giaoban_relay_connections` and `giaoban_relay_event_streams`: open connections and live
//!   notification streams.
//! - `giaoban_relay_writer_queue_depth`: jobs waiting for the writer;
//!   `giaoban_relay_writer_batch_seconds` (a batch from its first job to its commit),
//!   `giaoban_relay_writer_commit_seconds` (the commit alone), `giaoban_relay_writer_batch_jobs`.
//! - `giaoban_relay_store_bytes{file}`: the database (`database`, `wal`) and the attached
//!   files held whole (`files`, from the store's own table: no walk of the folder), read when
//!   `/metrics` is asked.
//!
//! Who may read them ([`may_read`]): a request from loopback that did not come through a
//! front (no `X-Forwarded-For`, `Forwarded` or `X-Real-IP` header), or one carrying
//! `Authorization: Bearer <metrics_token>` when the configuration has a token. Anyone else gets
//! the same 404 as an unknown path.

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use giaoban_protocol::wire::RejectCode;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sha2::{Digest, Sha256};

use crate::config::Config;

const HTTP_REQUESTS: &str = "giaoban_relay_http_requests_total";
const HTTP_DURATION: &str = "giaoban_relay_http_request_duration_seconds";

/// Request latencies, in seconds.
const HTTP_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
/// Writer batches and commits, in seconds (a commit waits for the disk).
const WRITER_BUCKETS: &[f64] =
    &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
/// Jobs committed together (the writer takes at most 256).
const BATCH_JOB_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Why a whole sync request was refused.
#[derive(Debug, Clone, Copy)]
pub enum SyncRefusal {
    /// Its frame could not be read.
    Unreadable,
    /// It carried more than a round trip may.
    TooLarge,
    /// Its device had used up its requests for the minute.
    RateLimited,
}

/// The process's recorder and the handles of the series the relay updates on its hot paths:
/// each update is an atomic add on a handle, with no lookup, lock or allocation.
pub struct Metrics {
    handle: PrometheusHandle,
    /// Pushed documents stored.
    pub documents_accepted: Counter,
    /// Pushed changes stored.
    pub changes_accepted: Counter,
    /// Pushed documents refused, one counter per [`RejectCode::ALL`] entry.
    documents_refused: [Counter; RejectCode::ALL.len()],
    /// Pushed documents asked for in full.
    pub documents_wanted: Counter,
    syncs_refused: [Counter; 3],
    /// Bytes of sync request bodies.
    pub sync_received_bytes: Counter,
    /// Bytes of sync answers.
    pub sync_sent_bytes: Counter,
    /// Bytes of attached files received.
    pub file_received_bytes: Counter,
    /// Bytes of attached files sent.
    pub file_sent_bytes: Counter,
    /// Files received whole.
    pub files_whole: Counter,
    /// Files whose bytes did not match their hash.
    pub files_mismatched: Counter,
    /// Open connections.
    pub connections: Gauge,
    /// Live-notification streams open.
    pub event_streams: Gauge,
    /// Jobs queued for the writer and not yet taken.
    pub writer_queue: Gauge,
    /// A writer batch, from its first job to its commit, in seconds.
    pub writer_batch_seconds: Histogram,
    /// A writer batch's commit, in seconds.
    pub writer_commit_seconds: Histogram,
    /// Jobs in a writer batch.
    pub writer_batch_jobs: Histogram,
    store_database: Gauge,
    store_wal: Gauge,
    store_files: Gauge,
}

static METRICS: OnceLock<Metrics> = OnceLock::new();

/// The process's metrics, set up (and the recorder installed) on first use.
pub fn get() -> &'static Metrics {
    METRICS.get_or_init(Metrics::install)
}

const META: Metadata<'static> = Metadata::new("giaoban_relay", metrics::Level::INFO, Some(module_path!()));

fn counter(r: &impl Recorder, name: &'static str, labels: &'static [Label]) -> Counter {
    r.register_counter(&Key::from_static_parts(name, labels), &META)
}

fn gauge(r: &impl Recorder, name: &'static str, labels: &'static [Label]) -> Gauge {
    r.register_gauge(&Key::from_static_parts(name, labels), &META)
}

fn histogram(r: &impl Recorder, name: &'static str) -> Histogram {
    r.register_histogram(&Key::from_static_name(name), &META)
}

macro_rules! labels {
    ($($k:literal => $v:expr),* $(,)?) => {{
        const L: &[Label] = &[$(Label::from_static_parts($k, $v)),*];
        L
    }};
}

impl Metrics {
    fn install() -> Metrics {
        let builder = PrometheusBuilder::new()
            .set_buckets(HTTP_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Prefix("giaoban_relay_writer_".into()), WRITER_BUCKETS)
            })
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("giaoban_relay_writer_batch_jobs".into()),
                    BATCH_JOB_BUCKETS,
                )
            });
        let builder = match builder {
            Ok(b) => b,
            // Only empty bucket lists are refused, and these are constants.
            Err(e) => {
                tracing::error!(error = %e, "metric buckets refused; histograms are summaries");
                PrometheusBuilder::new()
            }
        };
        let r = builder.build_recorder();
        let handle = r.handle();
        describe(&r);
        const REFUSED: &str = "giaoban_relay_documents_refused_total";
        const SYNCS_REFUSED: &str = "giaoban_relay_syncs_refused_total";
        const STORE: &str = "giaoban_relay_store_bytes";
        const FILES: &str = "giaoban_relay_files_received_total";
        let m = Metrics {
            handle,
            documents_accepted: counter(&r, "giaoban_relay_documents_accepted_total", &[]),
            changes_accepted: counter(&r, "giaoban_relay_changes_accepted_total", &[]),
            documents_refused: RejectCode::ALL.map(|code| {
                let labels: &'static [Label] = match code {
                    RejectCode::NotOwner => labels!("reason" => "not_owner"),
                    RejectCode::HeaderChanged => labels!("reason" => "header_changed"),
                    RejectCode::Invalid => labels!("reason" => "invalid"),
                    RejectCode::ForeignActor => labels!("reason" => "foreign_actor"),
                    RejectCode::Corrupt => labels!("reason" => "corrupt"),
                    RejectCode::MissingDependencies => labels!("reason" => "missing_dependencies"),
                };
                counter(&r, REFUSED, labels)
            }),
            documents_wanted: counter(&r, "giaoban_relay_documents_wanted_total", &[]),
            syncs_refused: [
                counter(&r, SYNCS_REFUSED, labels!("reason" => "unreadable")),
                counter(&r, SYNCS_REFUSED, labels!("reason" => "too_large")),
                counter(&r, SYNCS_REFUSED, labels!("reason" => "rate_limited")),
            ],
            sync_received_bytes: counter(&r, "giaoban_relay_sync_received_bytes_total", &[]),
            sync_sent_bytes: counter(&r, "giaoban_relay_sync_sent_bytes_total", &[]),
            file_received_bytes: counter(&r, "giaoban_relay_file_received_bytes_total", &[]),
            file_sent_bytes: counter(&r, "giaoban_relay_file_sent_bytes_total", &[]),
            files_whole: counter(&r, FILES, labels!("outcome" => "whole")),
            files_mismatched: counter(&r, FILES, labels!("outcome" => "mismatch")),
            connections: gauge(&r, "giaoban_relay_connections", &[]),
            event_streams: gauge(&r, "giaoban_relay_event_streams", &[]),
            writer_queue: gauge(&r, "giaoban_relay_writer_queue_depth", &[]),
            writer_batch_seconds: histogram(&r, "giaoban_relay_writer_batch_seconds"),
            writer_commit_seconds: histogram(&r, "giaoban_relay_writer_commit_seconds"),
            writer_batch_jobs: histogram(&r, "giaoban_relay_writer_batch_jobs"),
            store_database: gauge(&r, STORE, labels!("file" => "database")),
            store_wal: gauge(&r, STORE, labels!("file" => "wal")),
            store_files: gauge(&r, STORE, labels!("file" => "files")),
        };
        if metrics::set_global_recorder(r).is_err() {
            tracing::warn!(
                "this process already has a metrics recorder; /metrics shows the relay's own series but not its requests per route"
            );
        }
        m
    }

    /// Counts a pushed document refused with `code`.
    pub fn refused(&self, code: RejectCode) {
        if let Some(i) = RejectCode::ALL.iter().position(|c| *c == code)
            && let Some(c) = self.documents_refused.get(i)
        {
            c.increment(1);
        }
    }

    /// Counts a whole sync request refused.
    pub fn sync_refused(&self, why: SyncRefusal) {
        let i = match why {
            SyncRefusal::Unreadable => 0,
            SyncRefusal::TooLarge => 1,
            SyncRefusal::RateLimited => 2,
        };
        self.syncs_refused[i].increment(1);
    }

    /// Sets the store's sizes, then renders every series as Prometheus text.
    pub fn render(&self, sizes: StoreSizes) -> String {
        self.store_database.set(sizes.database as f64);
        self.store_wal.set(sizes.wal as f64);
        self.store_files.set(sizes.files as f64);
        self.handle.render()
    }

    /// Drains recorded histogram samples into their buckets (memory stays bounded between
    /// scrapes). `run` calls it every few seconds.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

fn describe(r: &impl Recorder) {
    let d = |name: &'static str, unit: Option<Unit>, text: &'static str| {
        (KeyName::from_const_str(name), unit, text.into())
    };
    for (name, unit, text) in [
        d(HTTP_REQUESTS, None, "HTTP requests answered, by method, route template and status class."),
        d("giaoban_relay_documents_accepted_total", None, "Pushed documents stored."),
        d("giaoban_relay_changes_accepted_total", None, "Pushed changes stored."),
        d(
            "giaoban_relay_documents_refused_total",
            None,
            "Pushed documents refused, by reason; nothing of them stored.",
        ),
        d(
            "giaoban_relay_documents_wanted_total",
            None,
            "Pushed documents that build on changes the relay lacks (asked for in full).",
        ),
        d("giaoban_relay_syncs_refused_total", None, "Sync requests refused whole, by reason."),
        d("giaoban_relay_sync_received_bytes_total", Some(Unit::Bytes), "Bytes of sync request bodies."),
        d("giaoban_relay_sync_sent_bytes_total", Some(Unit::Bytes), "Bytes of sync answers."),
        d(
            "giaoban_relay_file_received_bytes_total",
            Some(Unit::Bytes),
            "Bytes of attached files received in pieces from devices.",
        ),
        d(
            "giaoban_relay_file_sent_bytes_total",
            Some(Unit::Bytes),
            "Bytes of attached files sent to devices and the desk.",
        ),
        d(
            "giaoban_relay_files_received_total",
            None,
            "Attached files completed, or dropped because their bytes did not match their hash.",
        ),
    ] {
        r.describe_counter(name, unit, text);
    }
    for (name, unit, text) in [
        d("giaoban_relay_connections", None, "Open connections."),
        d("giaoban_relay_event_streams", None, "Live-notification streams open."),
        d("giaoban_relay_writer_queue_depth", None, "Jobs waiting for the relay's writer."),
        d(
            "giaoban_relay_store_bytes",
            Some(Unit::Bytes),
            "Bytes of the store: database, its write-ahead log, attached files held whole.",
        ),
    ] {
        r.describe_gauge(name, unit, text);
    }
    for (name, unit, text) in [
        d(
            HTTP_DURATION,
            Some(Unit::Seconds),
            "Time to the response's head, by method, route template and status class.",
        ),
        d(
            "giaoban_relay_writer_batch_seconds",
            Some(Unit::Seconds),
            "A writer batch, from its first job to its commit.",
        ),
        d("giaoban_relay_writer_commit_seconds", Some(Unit::Seconds), "A writer batch's commit."),
        d("giaoban_relay_writer_batch_jobs", None, "Jobs committed together."),
    ] {
        r.describe_histogram(name, unit, text);
    }
}

/// The store's sizes, in bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreSizes {
    /// The database file.
    pub database: u64,
    /// Its write-ahead log.
    pub wal: u64,
    /// Attached files held whole.
    pub files: u64,
}

/// Counts every request by method, route template and status class, and times it to its
/// response's head (a live-notification stream counts once its head is sent).
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let response = next.run(req).await;
    let status = match response.status().as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    };
    let route = route.unwrap_or_else(|| "unmatched".to_owned());
    let elapsed = start.elapsed().as_secs_f64();
    metrics::counter!(HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "method" => method, "route" => route, "status" => status)
        .record(elapsed);
    response
}

/// The method as a label: one of the standard ones, or `other`.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Whether a request from `peer` with `headers` may read `/metrics`: it carries the
/// configured `metrics_token` as a bearer token, or it comes from loopback and not through a
/// front (a front on the same machine connects from loopback, and says whom it forwards).
pub fn may_read(config: &Config, peer: Option<IpAddr>, headers: &HeaderMap) -> bool {
    if let Some(token) = &config.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if let Some(given) = given {
            return same_secret(given, token.expose());
        }
    }
    let forwarded = ["x-forwarded-for", "forwarded", "x-real-ip"].iter().any(|h| headers.contains_key(*h));
    !forwarded && peer.is_some_and(|p| p.to_canonical().is_loopback())
}

/// Compares two secrets in time that does not depend on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use axum::http::HeaderValue;

    fn loopback() -> Option<IpAddr> {
        Some(IpAddr::from([127, 0, 0, 1]))
    }

    #[test]
    fn loopback_reads_unless_forwarded_and_others_need_the_token() {
        let open = Config::default();
        let mut h = HeaderMap::new();
        assert!(may_read(&open, loopback(), &h));
        let mapped = IpAddr::from(std::net::Ipv4Addr::LOCALHOST.to_ipv6_mapped());
        assert!(may_read(&open, Some(mapped), &h));
        assert!(!may_read(&open, Some(IpAddr::from([10, 0, 0, 5])), &h));
        assert!(!may_read(&open, None, &h));
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
        assert!(!may_read(&open, loopback(), &h), "a front on this machine forwards the internet");

        let with_token =
            Config { metrics_token: Some(Secret::new("s3cret-metrics-token")), ..Config::default() };
        let outside = Some(IpAddr::from([203, 0, 113, 9]));
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer s3cret-metrics-token"));
        assert!(may_read(&with_token, outside, &h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer wrong"));
        assert!(!may_read(&with_token, outside, &h));
        assert!(!may_read(&with_token, loopback(), &h), "a wrong token is refused, even from loopback");
    }
}
