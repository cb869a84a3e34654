//! The writer's cache of committed documents, bounded by memory.

use automerge::{AutoCommit, ReadDoc};
use giaoban_protocol::DocId;
use lru::LruCache;

/// The writer's committed documents, least recently used first out, bounded by an estimate
/// of their memory rather than their number: a report of fifty long sections takes the room
/// of hundreds of small tasks.
pub struct DocCache {
    docs: LruCache<DocId, AutoCommit>,
    weight: usize,
    budget: usize,
}

impl DocCache {
    pub fn new(budget: usize) -> DocCache {
        DocCache { docs: LruCache::unbounded(), weight: 0, budget }
    }

    /// About how much memory `doc` takes, erring high. Measured with Automerge 0.12 on
    /// reports loaded in their thousands: about 31 KB for a report of one change and 96
    /// operations, then some 170 bytes a change and 6 an operation (2,001 changes: 361 KB; 2,001
    /// changes typing 24,096 characters: 489 KB). The fixed part dominates a small document, so
    /// a cache counting only a few kilobytes for it held six times its budget.
    pub fn weight(doc: &AutoCommit) -> usize {
        let stats = doc.stats();
        32 * 1024 + 200 * stats.num_changes as usize + 6 * stats.num_ops as usize
    }

    pub fn get(&mut self, id: &DocId) -> Option<&AutoCommit> {
        self.docs.get(id)
    }

    pub fn pop(&mut self, id: &DocId) -> Option<AutoCommit> {
        let doc = self.docs.pop(id)?;
        self.weight = self.weight.saturating_sub(Self::weight(&doc));
        Some(doc)
    }

    pub fn put(&mut self, id: DocId, doc: AutoCommit) {
        self.pop(&id);
        let w = Self::weight(&doc);
        if w > self.budget {
            return;
        }
        self.weight += w;
        self.docs.put(id, doc);
        while self.weight > self.budget {
            let Some((_, old)) = self.docs.pop_lru() else { break };
            self.weight = self.weight.saturating_sub(Self::weight(&old));
        }
    }

    pub fn clear(&mut self) {
        self.docs.clear();
        self.weight = 0;
    }
}
