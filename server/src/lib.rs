//! The Giao Ban relay: run by the city office, it stores every change its units' devices push
//! (after checking who may write what), and hands each device, in one round trip, everything
//! new that it may read.
//!
//! The server is [`http::app`] over [`http::AppState`], run by [`run`] on any listener; tests bind
//! `127.0.0.1:0`.

pub mod config;
pub mod demo;
pub mod desk;
pub mod export_client;
pub mod files;
pub mod http;
pub mod metrics;
pub mod store;

use std::future::Future;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

pub use config::Config;
pub use http::{AppState, app};
pub use store::RelayStore;

/// Runs the collector of attached files now and every hour.
async fn collect_files_hourly(state: AppState) {
    let grace = Duration::from_secs(state.config.file_grace_hours.saturating_mul(3600));
    loop {
        let (store, folder) = (state.store.clone(), state.files.clone());
        match tokio::task::spawn_blocking(move || files::collect(&store, &*folder, grace)).await {
            Ok(Ok(c)) if c.files + c.partials > 0 => {
                tracing::info!(
                    files = c.files,
                    partials = c.partials,
                    "attached files no record needs removed"
                );
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the collector of attached files failed; it tries again in an hour")
            }
            Err(_) => return,
        }
        let (store, drafts) = (state.store.clone(), state.desk.draft_files.clone());
        match tokio::task::spawn_blocking(move || drafts.collect(&store, grace)).await {
            Ok(Ok(n)) if n > 0 => tracing::info!(removed = n, "files of drafts no longer open removed"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the collector of draft files failed; it tries again in an hour")
            }
            Err(_) => return,
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// One open connection, counted in `giaoban_relay_connections` until dropped.
struct OpenConnection;

impl OpenConnection {
    fn new() -> OpenConnection {
        metrics::get().connections.increment(1.0);
        OpenConnection
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics::get().connections.decrement(1.0);
    }
}

/// How long open requests (and live-notification streams) get to finish after shutdown begins.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Serves the relay on `listener` until `shutdown` completes, then lets open requests finish
/// for at most [`SHUTDOWN_GRACE`] (live-notification streams never finish by themselves).
///
/// Each connection is served by hyper directly so that a client which trickles its request
/// headers is cut off after `request_timeout_secs` like one that trickles its body (the
/// request timeout layer only starts once the headers are in). An idle kept-alive connection
/// is closed after the same time; devices open a new one.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = Duration::from_secs(state.config.request_timeout_secs.max(1));
    let collector = tokio::spawn(collect_files_hourly(state.clone()));
    let upkeep = tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            metrics::get().upkeep();
        }
    });
    let router = app(state);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        // Each request knows its connection's peer (the desk limits sign-ins per address).
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            router.clone(),
            move |mut req: axum::http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(desk::auth::Peer(peer));
                req
            },
        ));
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        let open = OpenConnection::new();
        tokio::spawn(async move {
            let _open = open;
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    collector.abort();
    upkeep.abort();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::info!("shutdown grace period over; closing the remaining connections");
        }
    }
    Ok(())
}
