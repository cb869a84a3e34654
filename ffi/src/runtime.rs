//! The library's own threads. Every call that touches SQLite or the network runs here, never
//! on the caller's thread (on Android that may be the UI thread).
//!
//! One runtime serves every store. Async exports spawn their work onto its blocking pool and
//! await the handle, so the foreign language's executor (Kotlin coroutines, Swift tasks,
//! Python asyncio) only polls a ready flag. When the caller's coroutine or task is cancelled,
//! the future is dropped, which sets the work's cancel flag: work not yet started never runs,
//! and a sync stops before its next round trip.

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::runtime::Runtime;

use crate::error::{GiaoBanError, Result};

static RUNTIME: OnceLock<std::result::Result<Runtime, String>> = OnceLock::new();

fn runtime() -> Result<&'static Runtime> {
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .max_blocking_threads(32)
                .thread_name("giaoban-worker")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| GiaoBanError::internal(format!("cannot start the library's threads: {e}")))
}

/// Set when the caller stops waiting for the work.
#[derive(Clone, Default)]
pub(crate) struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub(crate) fn as_atomic(&self) -> &AtomicBool {
        &self.0
    }
}

/// Sets its flag when dropped: when the awaiting future is dropped, that is, cancelled.
struct CancelOnDrop(CancelFlag);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.0.store(true, Ordering::SeqCst);
    }
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs `work` on the library's blocking pool and waits for it without blocking the caller's
/// thread. A panic in `work` becomes [`GiaoBanError::Internal`]. Dropping the returned future
/// sets the flag `work` receives.
pub(crate) async fn off_thread<T, F>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&CancelFlag) -> Result<T> + Send + 'static,
{
    let flag = CancelFlag::default();
    let guard = CancelOnDrop(flag.clone());
    let handle = runtime()?.spawn_blocking(move || {
        if flag.is_set() {
            return Err(GiaoBanError::internal("cancelled before it started"));
        }
        work(&flag)
    });
    let outcome = handle.await;
    drop(guard);
    match outcome {
        Ok(r) => r,
        Err(e) if e.is_panic() => {
            let msg = panic_message(&*e.into_panic());
            tracing::error!(panic = %msg, "a call panicked");
            Err(GiaoBanError::internal(format!("the library failed unexpectedly ({msg}); please report it")))
        }
        Err(e) => Err(GiaoBanError::internal(format!("the call was stopped: {e}"))),
    }
}

/// Runs `work` on the library's blocking pool and blocks this thread until it is done; for
/// the few synchronous calls (opening a store) that must not touch SQLite on the caller's
/// thread yet return a value at once.
pub(crate) fn off_thread_blocking<T, F>(work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let rt = runtime()?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn_blocking(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|p| {
            Err(GiaoBanError::internal(format!(
                "the library failed unexpectedly ({}); please report it",
                panic_message(&*p)
            )))
        });
        // The receiver waits below; if it is gone there is nobody to tell.
        let _unheard = tx.send(r);
    });
    rx.recv().map_err(|_| GiaoBanError::internal("the library's worker stopped"))?
}

/// Spawns `work` on the library's blocking pool without waiting for it.
pub(crate) fn detach(work: impl FnOnce() + Send + 'static) {
    match runtime() {
        Ok(rt) => {
            rt.spawn_blocking(work);
        }
        Err(e) => tracing::error!(error = %e, "cannot run background work"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let r: Result<()> = block_on(off_thread(|_| panic!("chỉ số âm")));
        match r {
            Err(GiaoBanError::Internal { detail }) => assert!(detail.contains("chỉ số âm"), "{detail}"),
            other => panic!("expected Internal, got {other:?}"),
        }
        let r: Result<()> = off_thread_blocking(|| panic!("boom"));
        assert!(matches!(r, Err(GiaoBanError::Internal { .. })));
    }

    #[test]
    fn work_runs_off_the_calling_thread() {
        let caller = std::thread::current().id();
        let worker = block_on(off_thread(|_| Ok(std::thread::current().id()))).unwrap();
        assert_ne!(caller, worker);
    }

    #[test]
    fn dropping_the_future_sets_the_flag() {
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let fut = off_thread(move |flag| {
            started_tx.send(()).unwrap();
            for _ in 0..500 {
                if flag.is_set() {
                    seen_tx.send(true).unwrap();
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            seen_tx.send(false).unwrap();
            Ok(())
        });
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            tokio::select! {
                _ = fut => panic!("the work should still be running"),
                _ = async { while started_rx.try_recv().is_err() { tokio::task::yield_now().await } } => {}
            }
        });
        assert!(seen_rx.recv().unwrap(), "the work did not see the cancellation");
    }
}
