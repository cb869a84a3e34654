//! The Giao Ban relay: run by the city office, it stores every change its units' devices push
//! (after checking who may write what), and hands each device, in one round trip, everything
//! new that it may read.
//!
//! The server is [`http::app`] over [`http::AppState`], run by [`run`] on any listener; tests bind
//! `127.0.0.1:0`.

pub mod config;
pub mod http;
pub mod store;

use std::future::{Future, IntoFuture};

use tokio::net::TcpListener;

pub use config::Config;
pub use http::{AppState, app};
pub use store::RelayStore;

/// How long open requests (and live-notification streams) get to finish after shutdown begins.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Serves the relay on `listener` until `shutdown` completes, then lets open requests finish
/// for at most [`SHUTDOWN_GRACE`] (live-notification streams never finish by themselves).
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (begun_tx, begun_rx) = tokio::sync::oneshot::channel::<()>();
    let serve = axum::serve(listener, app(state)).with_graceful_shutdown(async move {
        shutdown.await;
        // The grace timer starts now; if nobody waits for it, the server is already done.
        let _ = begun_tx.send(());
    });
    let mut server = tokio::spawn(serve.into_future());
    let joined = |r: Result<std::io::Result<()>, tokio::task::JoinError>| {
        r.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    };
    tokio::select! {
        r = &mut server => return joined(r),
        _ = begun_rx => {}
    }
    match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
        Ok(r) => joined(r),
        Err(_) => {
            tracing::info!("shutdown grace period over; closing the remaining connections");
            server.abort();
            Ok(())
        }
    }
}
