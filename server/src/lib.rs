//! The Giao Ban relay: run by the city office, it stores every change its units' devices push
//! (after checking who may write what), and hands each device, in one round trip, everything
//! new that it may read.
//!
//! The server is [`http::app`] over [`http::AppState`], run by [`run`] on any listener; tests bind
//! `127.0.0.1:0`.

pub mod config;
pub mod http;
pub mod store;

use std::future::Future;

use tokio::net::TcpListener;

pub use config::Config;
pub use http::{AppState, app};
pub use store::RelayStore;

/// Serves the relay on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}
