//! Pushes checked before the writer's turn, on the threads that received them: against the
//! writer's committed copy of each document (taken out of the cache it shares) and the unit
//! tree it publishes. The writer (`writer/push.rs`) uses a result only if the document and the tree
//! are still as they were checked, and checks the push itself otherwise.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use super::doc_cache::DocCache;
use automerge::ChangeHash;
use giaoban_protocol::authz::{Checked, UnitTree, check_push_in};
use giaoban_protocol::seal::RelayKey;
use giaoban_protocol::wire::{DocChanges, DocReject};
use giaoban_protocol::{DeviceId, DocId, UnitId};

/// The writer's committed documents, shared with the threads that check pushes before the
/// writer's turn. Only the writer puts a document in, and only once its batch has committed.
pub struct SharedCache(pub(super) Mutex<DocCache>);

impl SharedCache {
    /// The cache; one left poisoned by a panic is emptied, since a document in it may be
    /// half-changed.
    pub(super) fn lock(&self) -> MutexGuard<'_, DocCache> {
        match self.0.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                let mut g = poisoned.into_inner();
                g.clear();
                self.0.clear_poison();
                g
            }
        }
    }
}

/// What a push is checked with before the writer's turn: the writer's committed documents,
/// the unit tree it checks with (and that tree's generation), the relay's key for vouchers.
#[derive(Clone)]
pub struct Prechecker {
    pub(super) cache: Arc<SharedCache>,
    pub(super) tree: Arc<Mutex<Option<PublishedTree>>>,
    pub(super) key: RelayKey,
}

/// The unit tree the writer checks with, and its generation (a new one whenever it changes).
pub(super) type PublishedTree = (u64, Arc<UnitTree>);

/// A push checked before the writer's turn. Each document the writer held in memory was
/// checked against that copy; the writer uses the result only if the document's heads are
/// still those of the copy and the unit tree is the one it was checked in, and checks the
/// document itself otherwise. So the single writer spends its time storing, while decoding,
/// applying and validating run on as many threads as there are pushes.
pub struct Prechecked {
    pub(super) device: DeviceId,
    pub(super) unit: UnitId,
    pub(super) tree_gen: Option<u64>,
    pub(super) docs: Vec<PreDoc>,
}

pub(super) struct PreDoc {
    pub(super) changes: DocChanges,
    /// Changes a voucher of this relay covers, and when the relay first had them.
    pub(super) received: HashMap<ChangeHash, i64>,
    pub(super) early: Option<Early>,
}

/// A document checked before the writer's turn: the heads of the copy it was checked against
/// and the result.
pub(super) struct Early {
    pub(super) heads: Vec<u8>,
    pub(super) result: std::result::Result<Checked, DocReject>,
}

impl Prechecker {
    /// Checks `docs` pushed by `device` of `unit` against the committed copies in memory.
    /// A document not in memory (or being checked by another push right now) is left to the
    /// writer.
    pub fn precheck(&self, device: DeviceId, unit: UnitId, docs: Vec<DocChanges>) -> Prechecked {
        let published = self.tree.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut seen: HashSet<DocId> = HashSet::new();
        let docs = docs
            .into_iter()
            .map(|dc| {
                let received = verified_vouchers(&self.key, device, &dc);
                let mut pre = PreDoc { changes: dc, received, early: None };
                let first = seen.insert(pre.changes.doc);
                if let (true, Some((_, tree))) = (first, &published) {
                    // Taken out rather than copied: the writer reads the database for a push
                    // that arrives while this one holds the copy.
                    let copy = self.cache.lock().pop(&pre.changes.doc);
                    if let Some(mut copy) = copy {
                        let heads: Vec<u8> = copy.get_heads().iter().flat_map(|h| h.0).collect();
                        let carried: HashSet<ChangeHash> = pre.received.keys().copied().collect();
                        let result = check_push_in(
                            tree,
                            Some(copy),
                            pre.changes.doc,
                            &pre.changes.changes,
                            &carried,
                            device,
                            unit,
                        );
                        pre.early = Some(Early { heads, result });
                    }
                }
                pre
            })
            .collect();
        Prechecked { device, unit, tree_gen: published.map(|(g, _)| g), docs }
    }
}

impl Prechecked {
    /// A push the writer checks whole.
    pub fn unchecked(key: &RelayKey, device: DeviceId, unit: UnitId, docs: Vec<DocChanges>) -> Prechecked {
        let docs = docs
            .into_iter()
            .map(|dc| PreDoc { received: verified_vouchers(key, device, &dc), changes: dc, early: None })
            .collect();
        Prechecked { device, unit, tree_gen: None, docs }
    }
}

/// Vouchers this relay sealed: the changes they name were accepted here before (by another
/// device of the unit, or before a restore) and keep their receipt time.
fn verified_vouchers(key: &RelayKey, device: DeviceId, dc: &DocChanges) -> HashMap<ChangeHash, i64> {
    let mut received = HashMap::new();
    for v in &dc.vouchers {
        if key.verify(dc.doc, v) {
            received.insert(ChangeHash(v.hash), v.received_at);
        } else {
            tracing::info!(doc = %dc.doc, %device, "a voucher that this relay did not seal was ignored");
        }
    }
    received
}
