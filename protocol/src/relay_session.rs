//! The relay's rules for answering a sync request, sans I/O: where to answer a device from,
//! when it must reconcile, and what it may claim to hold of its own changes. The relay's HTTP
//! handler authenticates, reads what these rules need from its store, calls them, and encodes.

use crate::DocId;
use crate::wire::{self, DocAck, DocReject, Epoch, RelayChanges, SyncRequest, SyncResponse, Witness};

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

/// The most heads a reconcile listing may name in all (documents edited on several devices at
/// once have several heads; a page of 2,000 documents has far fewer than this).
pub const MAX_LISTED_HEADS: usize = 8 * wire::HAVE_PAGE_DOCS;

/// Refuses a request larger than what a device sends in one round trip, saying why: a listing
/// of more than [`wire::HAVE_PAGE_DOCS`] documents or [`MAX_LISTED_HEADS`] heads, or a push of
/// several documents with more than [`wire::DEFAULT_PUSH_BYTES`] of changes (a single document
/// may be larger: it goes alone). Such a request would hold a read connection, or the single
/// writer, for everyone. The device sends it again in smaller pages.
pub fn check_bounds(req: &SyncRequest) -> Result<(), String> {
    if req.have.len() > wire::HAVE_PAGE_DOCS {
        return Err(format!(
            "a reconcile listing names at most {} documents; this one names {}",
            wire::HAVE_PAGE_DOCS,
            req.have.len()
        ));
    }
    let heads: usize = req.have.iter().map(|h| h.heads.len()).sum();
    if heads > MAX_LISTED_HEADS {
        return Err(format!(
            "a reconcile listing names at most {MAX_LISTED_HEADS} heads; this one names {heads}"
        ));
    }
    let pushed: usize = req.push.iter().flat_map(|d| d.changes.iter()).map(Vec::len).sum();
    if req.push.len() > 1 && pushed > wire::DEFAULT_PUSH_BYTES as usize {
        return Err(format!(
            "a push of several documents carries at most {} bytes of changes; this one carries {pushed}",
            wire::DEFAULT_PUSH_BYTES
        ));
    }
    Ok(())
}

/// What the relay stored of a request's push.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Documents stored.
    pub acks: Vec<DocAck>,
    /// Documents refused; nothing of them was stored.
    pub rejects: Vec<DocReject>,
    /// Documents whose changes depend on changes the relay lacks.
    pub wanted: Vec<DocId>,
    /// The pushing device's newest own change, in its unit's log, before this push.
    pub own_top_before: u64,
}

/// A page of a unit's log, read for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogPage {
    /// Documents the device asked to receive whole, then the page's changes grouped by
    /// document, in log order.
    pub changes: Vec<RelayChanges>,
    /// The cursor after this page.
    pub cursor: u64,
    /// More pages wait.
    pub more: bool,
    /// The newest point of the unit's log.
    pub top: Witness,
    /// The device's newest own change, as a position in the log.
    pub own_top: u64,
}

/// The answer to a request that started at `start`: what its push did (`None` when it pushed
/// nothing), the documents its reconcile listing names that the relay lacks, and the page read
/// for it. Each wanted document is named once.
pub fn answer(
    start: Start,
    epoch: Epoch,
    now: i64,
    pushed: Option<Pushed>,
    wanted_from_listing: Vec<DocId>,
    page: LogPage,
) -> SyncResponse {
    let own_top_before = pushed.as_ref().map_or(page.own_top, |p| p.own_top_before);
    let Pushed { acks, rejects, mut wanted, .. } = pushed.unwrap_or_default();
    for d in wanted_from_listing {
        if !wanted.contains(&d) {
            wanted.push(d);
        }
    }
    SyncResponse {
        epoch,
        now,
        acks,
        rejects,
        own_held: own_held_after(start, own_top_before, page.own_top, page.cursor),
        changes: page.changes,
        cursor: page.cursor,
        witness: page.top,
        more: page.more,
        wanted,
        reconcile: start.reconcile,
    }
}

/// Whether answering `answer` costs the device none of its rate limit: a page of a paged
/// download (`more` set) that takes the device further than any page before it in this epoch
/// (`furthest`). A download of many pages then goes at the speed of the link, while a device
/// that keeps starting over, or asks again and again with nothing new, is held to its limit.
pub fn page_is_free(answer: &SyncResponse, furthest: Option<(Epoch, u64)>) -> bool {
    answer.more && furthest.is_none_or(|(epoch, cursor)| epoch != answer.epoch || answer.cursor > cursor)
}

/// The page size a device gets for the size it asked.
pub fn page_bytes(asked: u32) -> u32 {
    asked.clamp(MIN_PAGE_BYTES, MAX_PAGE_BYTES)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn only_a_page_that_takes_a_device_further_is_free() {
        let page = |more: bool, cursor: u64| SyncResponse {
            epoch: Epoch(7),
            now: 0,
            acks: vec![],
            rejects: vec![],
            changes: vec![],
            cursor,
            witness: Witness { pos: cursor, digest: [0; 16] },
            own_held: 0,
            more,
            wanted: vec![],
            reconcile: false,
        };
        assert!(page_is_free(&page(true, 10), None), "the first page of a download");
        assert!(page_is_free(&page(true, 20), Some((Epoch(7), 10))), "the next one");
        assert!(!page_is_free(&page(true, 10), Some((Epoch(7), 20))), "starting over");
        assert!(!page_is_free(&page(true, 20), Some((Epoch(7), 20))), "the same page again");
        assert!(!page_is_free(&page(false, 30), Some((Epoch(7), 20))), "the last page");
        assert!(page_is_free(&page(true, 5), Some((Epoch(6), 20))), "a new epoch starts afresh");
    }

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
    fn requests_larger_than_one_round_trip_are_refused_with_the_reason() {
        let mut r = req(Some(7), 0, 0, 0);
        assert!(check_bounds(&r).is_ok());
        r.have = (0..=wire::HAVE_PAGE_DOCS)
            .map(|i| wire::DocHeads {
                doc: DocId::from_parts(1, [(i % 256) as u8, (i / 256) as u8, 0, 0, 0, 0, 0, 0, 0, 1]),
                heads: vec![[0; 32]],
            })
            .collect();
        assert!(check_bounds(&r).unwrap_err().contains("at most 2000 documents"));
        r.have.truncate(10);
        r.have[0].heads = vec![[0; 32]; MAX_LISTED_HEADS + 1];
        assert!(check_bounds(&r).unwrap_err().contains("heads"));
        r.have.clear();
        let big = vec![0u8; wire::DEFAULT_PUSH_BYTES as usize];
        let doc = |i: u8, changes: Vec<Vec<u8>>| wire::DocChanges {
            doc: DocId::from_parts(2, [i; 10]),
            changes,
            vouchers: vec![],
        };
        r.push = vec![doc(1, vec![big.clone()])];
        assert!(check_bounds(&r).is_ok(), "one large document goes alone");
        r.push.push(doc(2, vec![vec![1]]));
        assert!(check_bounds(&r).unwrap_err().contains("several documents"));
    }

    #[test]
    fn an_answer_names_each_wanted_document_once_and_claims_own_changes_only_when_delivered() {
        let (a, b) = (DocId::from_parts(3, [1; 10]), DocId::from_parts(3, [2; 10]));
        let start = Start { cursor: 10, own_held: 10, reconcile: true };
        let page = LogPage {
            cursor: 11,
            own_top: 14,
            top: Witness { pos: 20, digest: [2; 16] },
            ..Default::default()
        };
        let pushed = Pushed { wanted: vec![a], own_top_before: 12, ..Default::default() };
        let r = answer(start, Epoch(7), 99, Some(pushed), vec![b, a], page.clone());
        assert_eq!(r.wanted, vec![a, b]);
        assert_eq!(r.own_held, 10, "own changes 11..12 are not yet delivered back");
        assert!(r.reconcile);
        assert_eq!((r.epoch, r.now, r.cursor, r.witness.pos), (Epoch(7), 99, 11, 20));
        let r = answer(start, Epoch(7), 99, None, vec![], page.clone());
        assert_eq!(r.own_held, 10, "without a push, own changes 11..14 still wait for the page");
        let r = answer(start, Epoch(7), 99, None, vec![], LogPage { cursor: 14, ..page });
        assert_eq!(r.own_held, 14, "the page reached them");
    }

    #[test]
    fn pages_are_clamped() {
        assert_eq!(page_bytes(0), MIN_PAGE_BYTES);
        assert_eq!(page_bytes(u32::MAX), MAX_PAGE_BYTES);
    }
}
