//! A bounded cache of loaded documents. A loaded Automerge document costs on the order of
//! 18 KB, so a store of 10k documents keeps only the recently used ones in memory.

use std::num::NonZeroUsize;

use automerge::AutoCommit;
use giaoban_protocol::DocId;
use lru::LruCache;

pub(crate) struct DocCache {
    docs: LruCache<DocId, AutoCommit>,
}

impl DocCache {
    pub fn new(capacity: usize) -> Self {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        DocCache { docs: LruCache::new(cap) }
    }

    pub fn contains(&self, id: DocId) -> bool {
        self.docs.contains(&id)
    }

    pub fn get_mut(&mut self, id: DocId) -> Option<&mut AutoCommit> {
        self.docs.get_mut(&id)
    }

    pub fn put(&mut self, id: DocId, doc: AutoCommit) {
        self.docs.put(id, doc);
    }

    pub fn remove(&mut self, id: DocId) {
        self.docs.pop(&id);
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }
}
