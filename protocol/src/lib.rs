//! What a Giao Ban device and the relay share: identifiers, the document schema (typed views
//! over Automerge documents), and the deadline rules.
//!
//! Invariant: this crate does no I/O and reads no clock; time and randomness come in as
//! arguments.

pub mod authz;
pub mod ids;
pub mod reference;
pub mod relay_session;
pub mod schema;
pub mod seal;
pub mod session;
pub mod time;
pub mod wire;

pub use ids::{BlobHash, DeviceId, DocId, IdParseError, UnitId};
pub use schema::{DocKind, DocumentSchema, Header, Invalid, SCHEMA_VERSION};
pub use time::{Deadline, DeadlineStanding, Timestamp};

/// Whether `doc` holds change `hash`: a lookup in the document's change graph, where
/// Automerge's `get_change_by_hash` rebuilds the whole change from the document's operations.
pub fn holds_change(doc: &automerge::AutoCommit, hash: &automerge::ChangeHash) -> bool {
    // A change the document holds has no missing dependency; one it lacks is missing itself,
    // and one it keeps queued (waiting for a dependency) still lacks that dependency.
    automerge::ReadDoc::get_missing_deps(doc, std::slice::from_ref(hash)).is_empty()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use automerge::{AutoCommit, ROOT, transaction::Transactable};

    use super::holds_change;

    #[test]
    fn a_change_is_held_once_applied_and_not_while_it_waits_for_its_dependency() {
        let mut author = AutoCommit::new();
        author.put(ROOT, "title", "Báo cáo tháng 6").unwrap();
        let first = author.commit().unwrap();
        author.put(ROOT, "title", "Báo cáo tháng 6 (sửa)").unwrap();
        let second = author.commit().unwrap();
        let changes = author.get_changes(&[]);
        assert!(holds_change(&author, &first) && holds_change(&author, &second));

        let mut relay = AutoCommit::new();
        assert!(!holds_change(&relay, &first), "an unknown change is not held");
        // The second change alone waits for the first.
        relay.apply_changes(vec![changes[1].clone()]).unwrap();
        assert!(!holds_change(&relay, &second), "a change waiting for its dependency is not held");
        relay.apply_changes(vec![changes[0].clone()]).unwrap();
        assert!(holds_change(&relay, &first) && holds_change(&relay, &second));
    }
}
