//! client-core: the Giao Ban device.
//!
//! A [`Store`] keeps the unit's directives, responses, reports, reviews and meetings as
//! Automerge documents in one SQLite file, answers task lists and searches from derived
//! tables, and hands the sync driver exactly the changes the relay has not acknowledged.
//!
//! ```no_run
//! use giaoban_client_core::{Store, TaskFilter};
//! # fn main() -> Result<(), giaoban_client_core::CoreError> {
//! let store = Store::open("giaoban.sqlite")?;
//! for task in store.list_tasks(&TaskFilter::default())? {
//!     println!("{} — {}", task.source_title, task.text);
//! }
//! # Ok(()) }
//! ```
//!
//! Invariant: `Store` is synchronous. Call it from a dedicated thread or `spawn_blocking`,
//! never on an async worker thread.

pub mod demo;
pub mod domain;
pub mod error;
pub mod store;
pub mod sync;

pub use domain::*;
pub use error::{CoreError, Result};
pub use store::{Clock, Durability, Store, StoreOptions};
pub use sync::{
    DeliveryState, FilesReport, InProcessExchange, InProcessFiles, RelayClient, SyncHandle, SyncProblem,
    SyncProblemKind, SyncReport, SyncState, SyncStatus, sync_files_shared, sync_shared,
};

pub use giaoban_protocol as protocol;
