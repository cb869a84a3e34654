//! Mobile bindings over client-core, generated with UniFFI for Kotlin, Swift and Python.
//!
//! The app opens a [`GiaoBanStore`] on a file in its data folder, enrolls it with the office's
//! relay, and calls coarse-grained methods (a screen is one call). Work runs on the library's
//! own threads; async methods become Kotlin `suspend` and Swift `async` functions and are
//! cancelled with the caller. Listeners are called on library threads. Every failure is one
//! [`GiaoBanError`]. See `ffi/README.md`.

uniffi::setup_scaffolding!();

mod error;
mod listeners;
mod runtime;
mod store;
mod types;

pub use error::GiaoBanError;
pub use listeners::{DocumentChangeListener, Subscription, SyncStatusListener};
pub use store::{GiaoBanStore, format_vnd, province_units};
pub use types::*;
