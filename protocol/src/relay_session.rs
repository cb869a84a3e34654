//! The relay's rules for answering a sync request, sans I/O: where to answer a device from,
//! when it must reconcile, and what it may claim to hold of its own changes. The relay's HTTP
//! handler authenticates, reads what these rules need from its store, calls them, and encodes.

use crate::wire::{Epoch, SyncRequest};

/// The smallest page a device may ask for.
pub const MIN_PAGE_BYTES: u32 = 4 * 1024;
/// The largest page a device may ask for.
pub const MAX_PAGE_BYTES: u32 = 4 * 1024 * 1024;

/// Where the answer to a request starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The page starts after this position of the unit's log.
    pub cursor: u64,
    /// The device's own changes up to here are left out of the page.
    pub own_held: u64,
    /// The device must list what it holds so the relay can ask for what it lost.
    pub reconcile: bool,
}

/// Where to answer `req` from, given the relay's `epoch` and whether the request's witness is a
/// point of the unit's log as the relay holds it.
///
/// - A device that never synced starts at the beginning.
/// - A witness the relay does not hold means the device saw history the relay no longer has
///   (it was restored from an older backup after the device synced) or never had: the device
///   starts again from the beginning and reconciles, and its claims about its own changes no
///   longer count. This is noticed by whichever device reaches the relay first, however the
///   backup was taken, and only that device starts over.
/// - Another epoch (the operator asked every device to reconcile): the device keeps its place
///   and reconciles.
pub fn start(req: &SyncRequest, epoch: Epoch, witness_holds: bool) -> Start {
    let Some(req_epoch) = req.epoch else {
        return Start { cursor: 0, own_held: 0, reconcile: false };
    };
    if !witness_holds || req.cursor > req.witness.pos {
        return Start { cursor: 0, own_held: 0, reconcile: true };
    }
    Start { cursor: req.cursor, own_held: req.own_held, reconcile: req_epoch != epoch }
}

/// What the device may claim to hold of its own changes after this answer.
///
/// It held its own changes up to `start.own_held`, and holds what it just pushed. When every
/// own change the relay had before this push is covered by that claim, or by the page it is
/// being sent (pages carry its own changes after the claim), it holds all of them up to the
/// newest; otherwise (a device restored from an older copy of its store, or one whose earlier
/// answer was lost) the claim stays until its cursor passes them.
pub fn own_held_after(start: Start, own_top_before: u64, own_top_after: u64, page_cursor: u64) -> u64 {
    if own_top_before <= start.own_held || page_cursor >= own_top_before {
        own_top_after
    } else {
        start.own_held
    }
}

/// Up to which position of the log the device's own changes are left out of its page: when it
/// held every own change the relay had before this push, everything up to the newest (what it
/// just pushed included, so a push is never echoed back); otherwise only up to its claim, and
/// the rest comes back to it.
pub fn own_left_out(start: Start, own_top_before: u64, own_top_after: u64) -> u64 {
    if own_top_before <= start.own_held { own_top_after.max(start.own_held) } else { start.own_held }
}

/// The page size a device gets for the size it asked.
pub fn page_bytes(asked: u32) -> u32 {
    asked.clamp(MIN_PAGE_BYTES, MAX_PAGE_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Witness;

    fn req(epoch: Option<u64>, cursor: u64, witness_pos: u64, own_held: u64) -> SyncRequest {
        SyncRequest {
            epoch: epoch.map(Epoch),
            cursor,
            witness: Witness { pos: witness_pos, digest: [1; 16] },
            own_held,
            push: vec![],
            page_bytes: 0,
            have: vec![],
            refetch: vec![],
        }
    }

    #[test]
    fn a_new_device_starts_at_the_beginning() {
        assert_eq!(
            start(&req(None, 0, 0, 0), Epoch(7), true),
            Start { cursor: 0, own_held: 0, reconcile: false }
        );
    }

    #[test]
    fn a_device_that_saw_lost_history_starts_over_and_reconciles() {
        let s = start(&req(Some(7), 40, 50, 30), Epoch(7), false);
        assert_eq!(s, Start { cursor: 0, own_held: 0, reconcile: true });
        let beyond = start(&req(Some(7), 60, 50, 30), Epoch(7), true);
        assert!(beyond.reconcile && beyond.cursor == 0, "a cursor past its own witness is not believed");
    }

    #[test]
    fn another_epoch_reconciles_in_place() {
        assert_eq!(
            start(&req(Some(6), 40, 50, 30), Epoch(7), true),
            Start { cursor: 40, own_held: 30, reconcile: true }
        );
        assert_eq!(
            start(&req(Some(7), 40, 50, 30), Epoch(7), true),
            Start { cursor: 40, own_held: 30, reconcile: false }
        );
    }

    #[test]
    fn own_changes_are_claimed_only_once_delivered() {
        let s = Start { cursor: 10, own_held: 10, reconcile: false };
        assert_eq!(own_held_after(s, 10, 14, 14), 14, "nothing missing: the new push counts");
        assert_eq!(own_held_after(s, 12, 14, 11), 10, "own changes 11..12 not yet delivered back");
        assert_eq!(own_held_after(s, 12, 14, 12), 14, "the page reached them");
    }

    #[test]
    fn a_push_is_not_echoed_back_unless_own_changes_are_missing() {
        let fresh = Start { cursor: 0, own_held: 0, reconcile: false };
        assert_eq!(own_left_out(fresh, 0, 40), 40, "a first push is left out of its own page");
        let restored = Start { cursor: 5, own_held: 10, reconcile: false };
        assert_eq!(own_left_out(restored, 25, 40), 10, "own changes 11..40 come back");
    }

    #[test]
    fn pages_are_clamped() {
        assert_eq!(page_bytes(0), MIN_PAGE_BYTES);
        assert_eq!(page_bytes(u32::MAX), MAX_PAGE_BYTES);
    }
}
