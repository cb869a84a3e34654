//! Listeners the app registers, and the subscriptions that end them.
//!
//! Listeners are called on the library's threads, never on the caller's: an Android app posts
//! to its main looper, an iOS app hops to the main actor, before touching the UI. A listener
//! must return quickly and must not block on a call into the same store.

use std::sync::{Arc, Mutex, Weak};

use crate::types::{FileTransfer, SyncStatus};

/// Told whenever the sync status changes.
#[uniffi::export(foreign)]
pub trait SyncStatusListener: Send + Sync {
    /// The new status.
    fn on_status(&self, status: SyncStatus);
}

/// Told when documents changed because of other devices' edits (after a sync made them
/// durable on this device): refresh the screens that show them.
#[uniffi::export(foreign)]
pub trait DocumentChangeListener: Send + Sync {
    /// The ids of the documents that changed.
    fn on_documents_changed(&self, ids: Vec<String>);
}

/// Told each time an attached file's transfer moves: bytes sent or fetched, here at last,
/// refused by the relay.
#[uniffi::export(foreign)]
pub trait FileTransferListener: Send + Sync {
    /// The file (its SHA-256, 64 hex digits) and how far it got.
    fn on_transfer(&self, hash: String, transfer: FileTransfer);
}

/// Registered listeners of one kind.
pub(crate) struct Registry<L: ?Sized> {
    entries: Vec<(u64, Arc<L>)>,
}

impl<L: ?Sized> Default for Registry<L> {
    fn default() -> Self {
        Registry { entries: Vec::new() }
    }
}

impl<L: ?Sized> Registry<L> {
    pub(crate) fn add(&mut self, id: u64, l: Arc<L>) {
        self.entries.push((id, l));
    }

    pub(crate) fn remove(&mut self, id: u64) {
        self.entries.retain(|(i, _)| *i != id);
    }

    /// A copy to call without holding the lock.
    pub(crate) fn snapshot(&self) -> Vec<Arc<L>> {
        self.entries.iter().map(|(_, l)| l.clone()).collect()
    }
}

/// Something that can forget a listener.
pub(crate) trait Unsubscribe: Send + Sync {
    fn unsubscribe(&self, id: u64);
}

/// A registered listener. Cancelling it, or dropping it (Kotlin `close()`, Swift releasing
/// it, Python `del`), unsubscribes.
#[derive(uniffi::Object)]
pub struct Subscription {
    owner: Mutex<Option<(Weak<dyn Unsubscribe>, u64)>>,
}

impl Subscription {
    pub(crate) fn new(owner: Weak<dyn Unsubscribe>, id: u64) -> Arc<Subscription> {
        Arc::new(Subscription { owner: Mutex::new(Some((owner, id))) })
    }
}

#[uniffi::export]
impl Subscription {
    /// Stops the listener. Calling it again does nothing.
    pub fn cancel(&self) {
        let taken = self.owner.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((owner, id)) = taken
            && let Some(o) = owner.upgrade()
        {
            o.unsubscribe(id);
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cancel();
    }
}
