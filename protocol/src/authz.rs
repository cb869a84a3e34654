//! Who may read and write what, and the check the relay runs on every pushed change before it
//! stores anything.
//!
//! Read rule: a device of unit U reads document D when U owns D, U is an ancestor of D's owner,
//! or U is in D's audience; and units that change keep their records reachable: a successor
//! reads whatever its predecessors read (transitively), and the ancestors of a successor of the
//! owner read the owner's records, as if the successor had always owned them. Readers follow
//! the tree as it is now ([`UnitTree::readers`]).
//!
//! Write rule: U owns D, or U succeeds D's owner (a merged commune's successor answers its
//! open tasks, in the predecessor's own response documents: `Response::id_for(directive,
//! predecessor)`, so the issuer's tracking of each recipient is unchanged). Headers never
//! change. A device that only reads D may still carry back changes of D that the relay once
//! accepted (proven by its vouchers), which is how a relay restored from an older backup gets
//! them again when no device of the owner unit holds them.

use std::collections::{HashMap, HashSet};

use automerge::{AutoCommit, Change, ChangeHash};

use crate::ids::{DeviceId, DocId, UnitId};
use crate::schema::{
    Directive, DocKind, DocumentSchema, Header, Meeting, Report, Response, Review, UnitDirectory, read_header,
};
use crate::wire::{DocReject, RejectCode};

/// The unit tree as the relay knows it: each unit's parent, and the successors of units that
/// were merged or split.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitTree {
    parents: HashMap<UnitId, Option<UnitId>>,
    successors: HashMap<UnitId, Vec<UnitId>>,
}

impl UnitTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or moves `unit` under `parent`.
    pub fn insert(&mut self, unit: UnitId, parent: Option<UnitId>) {
        self.parents.insert(unit, parent);
    }

    /// Records that `successor` took over (part of) the work of `unit`.
    pub fn add_successor(&mut self, unit: UnitId, successor: UnitId) {
        let list = self.successors.entry(unit).or_default();
        if !list.contains(&successor) {
            list.push(successor);
        }
    }

    /// Whether the tree knows `unit`.
    pub fn contains(&self, unit: UnitId) -> bool {
        self.parents.contains_key(&unit)
    }

    /// The parent of `unit`, if it has one.
    pub fn parent(&self, unit: UnitId) -> Option<UnitId> {
        self.parents.get(&unit).copied().flatten()
    }

    /// The direct successors of `unit` (empty while it has none).
    pub fn direct_successors(&self, unit: UnitId) -> &[UnitId] {
        self.successors.get(&unit).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Every unit that succeeds `unit`, directly or through a chain of mergers, nearest first
    /// (`unit` itself left out; cycles are cut).
    pub fn successors_of(&self, unit: UnitId) -> Vec<UnitId> {
        let mut out: Vec<UnitId> = Vec::new();
        let mut next = 0;
        let mut frontier = vec![unit];
        while let Some(u) = frontier.get(next).copied() {
            next += 1;
            for s in self.direct_successors(u) {
                if *s != unit && !out.contains(s) {
                    out.push(*s);
                    frontier.push(*s);
                }
            }
        }
        out
    }

    /// Whether `successor` succeeds `unit`, directly or through a chain.
    pub fn succeeds(&self, successor: UnitId, unit: UnitId) -> bool {
        self.successors_of(unit).contains(&successor)
    }

    /// Whether a device of `unit` may write a document owned by `owner`: the owner itself, or
    /// a unit that succeeds it.
    pub fn may_write(&self, unit: UnitId, owner: UnitId) -> bool {
        unit == owner || self.succeeds(unit, owner)
    }

    /// Whether `ancestor` is `unit` or one of its ancestors.
    pub fn is_ancestor_or_self(&self, ancestor: UnitId, unit: UnitId) -> bool {
        self.lineage(unit).contains(&ancestor)
    }

    /// `unit` and its ancestors, nearest first (cycles are cut).
    pub fn lineage(&self, unit: UnitId) -> Vec<UnitId> {
        let mut out = vec![unit];
        let mut cur = self.parents.get(&unit).copied().flatten();
        while let Some(u) = cur {
            if out.contains(&u) {
                break;
            }
            out.push(u);
            cur = self.parents.get(&u).copied().flatten();
        }
        out
    }

    /// Every unit that may read a document with this header, in the tree as it is now: the
    /// lineage of the owner and of each unit that succeeds the owner, the audience, and every
    /// unit that succeeds one of those.
    pub fn readers(&self, header: &Header) -> Vec<UnitId> {
        let mut out: Vec<UnitId> = Vec::new();
        let add = |u: UnitId, out: &mut Vec<UnitId>| {
            if !out.contains(&u) {
                out.push(u);
            }
        };
        for u in self.lineage(header.owner) {
            add(u, &mut out);
        }
        for s in self.successors_of(header.owner) {
            for u in self.lineage(s) {
                add(u, &mut out);
            }
        }
        for u in &header.audience {
            add(*u, &mut out);
        }
        let base = out.clone();
        for u in base {
            for s in self.successors_of(u) {
                add(s, &mut out);
            }
        }
        out
    }

    /// Whether `unit` may read a document with this header.
    pub fn may_read(&self, unit: UnitId, header: &Header) -> bool {
        self.readers(header).contains(&unit)
    }
}

fn reject(doc: DocId, code: RejectCode, reason: impl Into<String>) -> DocReject {
    DocReject { doc, code, reason: reason.into() }
}

/// A push that passed [`check_push`].
#[derive(Debug)]
pub struct Checked {
    /// The document with the pushed changes applied.
    pub doc: AutoCommit,
    /// The pushed changes the relay did not hold before, in causal order (every change after
    /// the changes it builds on): what the relay stores.
    pub new: Vec<Change>,
    /// Why the rest of the push was not let in, when only part of it was: a change in another
    /// device's name that no voucher covers, and whatever was built on it.
    pub refused: Option<DocReject>,
    /// The document's header (the same before and after the push).
    pub header: Header,
}

/// Checks changes a device of `unit` pushed for `doc` and applies them to `current` (the
/// relay's copy, or `None` for a new document). Returns the document with the changes applied
/// and the changes that are new, or why nothing may be stored. `current` itself is never
/// modified.
///
/// Every change the relay does not hold yet must be written by the pushing device, be the
/// deterministic first change of a response or review, or be in `carried`: changes the relay
/// once accepted itself, proven by a voucher it sealed (the caller verifies the seals). So a
/// device may carry changes back to a relay restored from an older backup, but never forge new
/// changes in another device's name. A device of a unit that does not own the document may push
/// only carried changes (or changes the relay holds): it gives back, it never writes.
///
/// Automerge 0.12 can panic on some well-formed but unusual change sets (fuzzing found one in
/// its batch apply); such a push is refused as corrupt instead of unwinding into the relay's
/// single writer thread, which would stop it storing anything for anyone.
pub fn check_push(
    current: Option<&AutoCommit>,
    doc: DocId,
    changes: &[Vec<u8>],
    carried: &HashSet<ChangeHash>,
    device: DeviceId,
    unit: UnitId,
) -> Result<Checked, DocReject> {
    check_push_in(&UnitTree::new(), current.cloned(), doc, changes, carried, device, unit)
}

/// [`check_push`] in the unit tree `tree`: a device of a unit that succeeds the document's
/// owner writes it too ([`UnitTree::may_write`]). It takes the relay's copy itself, so a
/// relay checking many pushes does not copy each document first; a refused push consumes it.
pub fn check_push_in(
    tree: &UnitTree,
    current: Option<AutoCommit>,
    doc: DocId,
    changes: &[Vec<u8>],
    carried: &HashSet<ChangeHash>,
    device: DeviceId,
    unit: UnitId,
) -> Result<Checked, DocReject> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check(tree, current, doc, changes, carried, device, unit)
    }))
    .unwrap_or_else(|_| Err(reject(doc, RejectCode::Corrupt, "the changes cannot be applied")))
}

fn check(
    tree: &UnitTree,
    current: Option<AutoCommit>,
    doc: DocId,
    changes: &[Vec<u8>],
    carried: &HashSet<ChangeHash>,
    device: DeviceId,
    unit: UnitId,
) -> Result<Checked, DocReject> {
    let mut decoded = Vec::with_capacity(changes.len());
    for (i, bytes) in changes.iter().enumerate() {
        let c = Change::from_bytes(bytes.clone())
            .map_err(|e| reject(doc, RejectCode::Corrupt, format!("change {i} cannot be decoded: {e}")))?;
        decoded.push(c);
    }
    // The first change of a response or review is written by an actor derived from the
    // document's id so that every device of the unit writes the same one (see Response::id_for).
    let genesis_actor = automerge::ActorId::from(doc.to_bytes().as_slice());
    let before = current.as_ref().map(|d| read_header_of(d, doc)).transpose()?;
    let next = current.unwrap_or_default();
    let known: Vec<bool> = decoded.iter().map(|c| crate::holds_change(&next, &c.hash())).collect();
    let mut only_carried = true;
    // Whether a new change is let in only as a genesis change: allowed for the kinds whose
    // first change is deterministic, checked once the header is known.
    let mut genesis_used = None;
    // A change in another device's name that no voucher covers is not let in, nor anything
    // built on it; the changes before it are. Two devices that wrote a report in turns and
    // reach a relay that cannot vouch for either (one set up anew) each get their own changes
    // in this way, one push after the other, instead of being refused for ever.
    let pushed: HashSet<ChangeHash> = decoded.iter().map(|c| c.hash()).collect();
    let mut accepted: HashSet<ChangeHash> = HashSet::new();
    let mut foreign: Option<ChangeHash> = None;
    for (c, already) in decoded.iter().zip(&known) {
        if *already {
            accepted.insert(c.hash());
            continue;
        }
        let by_device = device.owns_actor(c.actor_id());
        let genesis = *c.actor_id() == genesis_actor && c.seq() == 1 && c.deps().is_empty();
        let is_carried = carried.contains(&c.hash());
        let allowed = by_device || genesis || is_carried;
        // A dependency pushed but not let in holds this change back; one the push lacks
        // altogether is the relay's to ask for (below).
        let held_back = c.deps().iter().any(|d| pushed.contains(d) && !accepted.contains(d));
        if !allowed {
            foreign.get_or_insert(c.hash());
            continue;
        }
        // Over every allowed change, let in or not: stricter, never looser.
        only_carried &= is_carried;
        if genesis && !by_device && !is_carried {
            genesis_used = Some(c.hash());
        }
        if !held_back {
            accepted.insert(c.hash());
        }
    }
    if let Some(h) = foreign {
        let kept: Vec<bool> =
            decoded.iter().zip(&known).map(|(c, k)| !k && accepted.contains(&c.hash())).collect();
        if !kept.iter().any(|k| *k) {
            return Err(reject(
                doc,
                RejectCode::ForeignActor,
                format!(
                    "change {} was not written by this device and no voucher of this relay covers it",
                    hex_hash(&h.0)
                ),
            ));
        }
        let mut keep = kept.into_iter();
        decoded.retain(|_| keep.next().unwrap_or(false));
        let mut checked = check_accepted(tree, next, before, doc, decoded, genesis_used, only_carried, unit)?;
        checked.refused = Some(reject(
            doc,
            RejectCode::ForeignActor,
            format!(
                "change {} was not written by this device and no voucher of this relay covers it; the changes before it were stored",
                hex_hash(&h.0)
            ),
        ));
        return Ok(checked);
    }
    check_accepted(tree, next, before, doc, decoded, genesis_used, only_carried, unit)
}

/// The rest of [`check`], for the changes let in.
#[allow(clippy::too_many_arguments)]
fn check_accepted(
    tree: &UnitTree,
    mut next: AutoCommit,
    before: Option<Header>,
    doc: DocId,
    decoded: Vec<Change>,
    genesis_used: Option<ChangeHash>,
    only_carried: bool,
    unit: UnitId,
) -> Result<Checked, DocReject> {
    let known: Vec<bool> = decoded.iter().map(|c| crate::holds_change(&next, &c.hash())).collect();
    // The new changes in the order the device sent them, if that order is causal (it is, from
    // a device's `get_changes`); otherwise the relay's own order after applying them.
    let heads_before = next.get_heads();
    let mut seen: HashSet<ChangeHash> = HashSet::new();
    let mut causal = true;
    let mut new: Vec<Change> = Vec::new();
    for (c, already) in decoded.iter().zip(&known) {
        if *already || !seen.insert(c.hash()) {
            continue;
        }
        if c.deps().iter().any(|d| !seen.contains(d) && !crate::holds_change(&next, d)) {
            causal = false;
        }
        new.push(c.clone());
    }
    next.apply_changes(decoded)
        .map_err(|e| reject(doc, RejectCode::Corrupt, format!("changes cannot be applied: {e}")))?;
    if !next.get_missing_deps(&[]).is_empty() {
        return Err(reject(
            doc,
            RejectCode::MissingDependencies,
            "the changes build on changes the relay does not have; push the document in full",
        ));
    }
    let header = read_header_of(&next, doc)?;
    match before {
        Some(b) if b != header => {
            return Err(reject(doc, RejectCode::HeaderChanged, "a document's header cannot be changed"));
        }
        None if header.id != doc => {
            return Err(reject(doc, RejectCode::Invalid, format!("the header names document {}", header.id)));
        }
        _ => {}
    }
    // The genesis actor is the document's id: of any other kind, a "genesis" change is a change
    // in the name of whatever device has that id.
    if let Some(h) = genesis_used
        && !matches!(header.kind, DocKind::Response | DocKind::Review)
    {
        return Err(reject(
            doc,
            RejectCode::ForeignActor,
            format!(
                "change {} was not written by this device; only a response or a review starts with a change in no device's name",
                hex_hash(&h.0)
            ),
        ));
    }
    if !tree.may_write(unit, header.owner) && !only_carried {
        return Err(reject(
            doc,
            RejectCode::NotOwner,
            "only devices of the owner unit (or of a unit that succeeds it) may write this document",
        ));
    }
    validate_kind(&next, &header).map_err(|reason| reject(doc, RejectCode::Invalid, reason))?;
    if !causal {
        new = next.get_changes(&heads_before);
    }
    Ok(Checked { doc: next, new, refused: None, header })
}

fn read_header_of(d: &AutoCommit, doc: DocId) -> Result<Header, DocReject> {
    read_header(d).map_err(|e| reject(doc, RejectCode::Invalid, format!("no valid header: {e}")))
}

fn typed<T: DocumentSchema>(d: &AutoCommit) -> Result<(), String> {
    let v: T = autosurgeon::hydrate(d).map_err(|e| format!("does not match the {} layout: {e}", T::KIND))?;
    v.validate().map_err(|e| e.to_string())
}

/// Hydrates the document as its header's kind and runs that kind's rules.
pub fn validate_kind(d: &AutoCommit, header: &Header) -> Result<(), String> {
    if header.schema_version > crate::SCHEMA_VERSION {
        return Err(format!("schema version {} is newer than this relay understands", header.schema_version));
    }
    match header.kind {
        DocKind::Directive => typed::<Directive>(d),
        DocKind::Response => {
            typed::<Response>(d)?;
            let r: Response = autosurgeon::hydrate(d).map_err(|e| e.to_string())?;
            if Response::id_for(r.directive, header.owner) != header.id {
                return Err("a response's id must be derived from its directive and unit".into());
            }
            Ok(())
        }
        DocKind::Report => typed::<Report>(d),
        DocKind::Review => {
            typed::<Review>(d)?;
            let r: Review = autosurgeon::hydrate(d).map_err(|e| e.to_string())?;
            if Review::id_for(r.report, header.owner) != header.id {
                return Err("a review's id must be derived from its report and unit".into());
            }
            Ok(())
        }
        DocKind::Meeting => typed::<Meeting>(d),
        DocKind::UnitDirectory => typed::<UnitDirectory>(d),
    }
}

fn hex_hash(h: &[u8; 32]) -> String {
    h.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lineage_and_read_rule() {
        let city = UnitId::from_bytes([1; 16]);
        let ward = UnitId::from_bytes([2; 16]);
        let other = UnitId::from_bytes([3; 16]);
        let mut t = UnitTree::new();
        t.insert(city, None);
        t.insert(ward, Some(city));
        t.insert(other, Some(city));
        let report = Header::new(DocId::from_bytes([9; 16]), DocKind::Report, ward, vec![]);
        assert!(t.may_read(ward, &report));
        assert!(t.may_read(city, &report), "an ancestor reads");
        assert!(!t.may_read(other, &report), "a sibling does not");
        let directive = Header::new(DocId::from_bytes([8; 16]), DocKind::Directive, city, vec![ward]);
        assert!(t.may_read(ward, &directive), "the audience reads");
        assert!(!t.may_read(other, &directive));
        assert_eq!(t.readers(&report), vec![ward, city]);
    }

    /// Two communes merged into a third: the successor reads whatever either read (their own
    /// records, what was addressed to them) and so does the successor's parent; it writes their
    /// records; a sibling gains nothing.
    #[test]
    fn a_successor_reads_and_writes_for_its_predecessors() {
        let city = UnitId::from_bytes([1; 16]);
        let long_phuoc = UnitId::from_bytes([2; 16]);
        let phuoc_thai = UnitId::from_bytes([3; 16]);
        let successor = UnitId::from_bytes([4; 16]);
        let other = UnitId::from_bytes([5; 16]);
        let district = UnitId::from_bytes([6; 16]);
        let mut t = UnitTree::new();
        t.insert(city, None);
        t.insert(district, Some(city));
        for u in [long_phuoc, phuoc_thai, other] {
            t.insert(u, Some(city));
        }
        t.insert(successor, Some(district));
        t.add_successor(long_phuoc, successor);
        t.add_successor(phuoc_thai, successor);
        let report = Header::new(DocId::from_bytes([9; 16]), DocKind::Report, long_phuoc, vec![]);
        let directive = Header::new(DocId::from_bytes([8; 16]), DocKind::Directive, city, vec![phuoc_thai]);
        assert!(t.may_read(successor, &report));
        assert!(t.may_read(district, &report), "the successor's parent reads its predecessors' records");
        assert!(t.may_read(successor, &directive), "what was addressed to a predecessor");
        assert!(!t.may_read(district, &directive), "an audience's ancestors do not read it");
        assert!(!t.may_read(other, &report) && !t.may_read(other, &directive));
        assert!(t.may_write(successor, long_phuoc) && t.may_write(successor, phuoc_thai));
        assert!(t.may_write(long_phuoc, long_phuoc), "a predecessor's own devices still write");
        assert!(!t.may_write(long_phuoc, successor), "succession goes one way");
        assert!(!t.may_write(other, long_phuoc));
        // A chain: the successor merged again later.
        let later = UnitId::from_bytes([7; 16]);
        t.insert(later, Some(city));
        t.add_successor(successor, later);
        assert!(t.may_write(later, long_phuoc) && t.may_read(later, &directive));
        assert_eq!(t.successors_of(long_phuoc), vec![successor, later]);
        // A cycle in the succession (refused by the relay's admin commands) cannot loop.
        t.add_successor(later, long_phuoc);
        assert_eq!(t.successors_of(long_phuoc), vec![successor, later]);
    }

    /// A push by a device of the successor to its predecessor's response is accepted in the
    /// tree that says so, and refused in a tree that does not.
    #[test]
    fn the_owner_check_follows_succession() {
        let directory = crate::reference::unit_directory_from_reference("Đồng Nai").unwrap();
        let (predecessor, successor) = (directory.units[1].id, directory.units[2].id);
        let device = DeviceId::from_bytes([3; 16]);
        let mut doc = AutoCommit::new().with_actor(device.actor_id());
        let mut own = directory.clone();
        own.header = Header::new(DocId::from_bytes([4; 16]), DocKind::UnitDirectory, predecessor, vec![]);
        autosurgeon::reconcile(&mut doc, &own).unwrap();
        doc.commit();
        let changes: Vec<Vec<u8>> = doc.get_changes(&[]).iter().map(|c| c.raw_bytes().to_vec()).collect();
        let id = own.header.id;
        let refused = check_push(None, id, &changes, &HashSet::new(), device, successor).unwrap_err();
        assert_eq!(refused.code, RejectCode::NotOwner);
        let mut tree = UnitTree::new();
        for u in &directory.units {
            tree.insert(u.id, u.parent);
        }
        tree.add_successor(predecessor, successor);
        let accepted = check_push_in(&tree, None, id, &changes, &HashSet::new(), device, successor);
        assert!(accepted.is_ok(), "{:?}", accepted.err());
    }

    /// A device of a unit that only reads a document gives back the changes the relay once
    /// accepted (it holds the relay's vouchers for them), and writes nothing of its own.
    #[test]
    fn a_reader_carries_back_only_what_the_relay_once_accepted() {
        let directory = crate::reference::unit_directory_from_reference("Đồng Nai").unwrap();
        let doc = directory.header.id;
        let owner = directory.header.owner;
        let reader = directory.units.iter().map(|u| u.id).find(|u| *u != owner).unwrap();
        let author = DeviceId::from_bytes([1; 16]);
        let carrier = DeviceId::from_bytes([2; 16]);
        let mut written = AutoCommit::new().with_actor(author.actor_id());
        autosurgeon::reconcile(&mut written, &directory).unwrap();
        written.commit();
        let changes: Vec<Vec<u8>> = written.get_changes(&[]).iter().map(|c| c.raw_bytes().to_vec()).collect();
        let carried: HashSet<ChangeHash> = written.get_changes(&[]).iter().map(|c| c.hash()).collect();

        let back = check_push(None, doc, &changes, &carried, carrier, reader);
        assert!(back.is_ok(), "{:?}", back.err());
        let unvouched = check_push(None, doc, &changes, &HashSet::new(), carrier, reader).unwrap_err();
        assert_eq!(unvouched.code, RejectCode::ForeignActor);

        // A change of its own to the document it only reads is refused, vouchers or not.
        let mut edited = written.fork().with_actor(carrier.actor_id());
        let mut units = directory.clone();
        units.units[0].short_name.push_str(" (sửa)");
        autosurgeon::reconcile(&mut edited, &units).unwrap();
        edited.commit();
        let own: Vec<Vec<u8>> =
            edited.get_changes(&written.get_heads()).iter().map(|c| c.raw_bytes().to_vec()).collect();
        let mut all = changes.clone();
        all.extend(own);
        let refused = check_push(None, doc, &all, &carried, carrier, reader).unwrap_err();
        assert_eq!(refused.code, RejectCode::NotOwner);
    }

    /// Two devices of the owner unit wrote a document in turns and reach a relay that vouches
    /// for neither: each push lets in the changes up to the first one in the other device's
    /// name, says why the rest was not, and a session actor counts as its device.
    #[test]
    fn a_push_lets_in_what_comes_before_another_devices_change() {
        let directory = crate::reference::unit_directory_from_reference("Đồng Nai").unwrap();
        let doc = directory.header.id;
        let owner = directory.header.owner;
        let first = DeviceId::from_bytes([1; 16]);
        let second = DeviceId::from_bytes([2; 16]);
        let mut d = AutoCommit::new().with_actor(first.session_actor([7; 8]));
        autosurgeon::reconcile(&mut d, &directory).unwrap();
        d.commit();
        let turn = |d: &mut AutoCommit, who: DeviceId, session: u8, label: &str| {
            d.set_actor(who.session_actor([session; 8]));
            let mut units = directory.clone();
            units.units[0].short_name = label.to_string();
            autosurgeon::reconcile(d, &units).unwrap();
            d.commit();
        };
        turn(&mut d, second, 1, "Máy 2 viết");
        turn(&mut d, first, 8, "Máy 1 viết tiếp");
        let all: Vec<Vec<u8>> = d.get_changes(&[]).iter().map(|c| c.raw_bytes().to_vec()).collect();
        let none = HashSet::new();

        let part = check_push(None, doc, &all, &none, first, owner).unwrap();
        assert_eq!(part.new.len(), 1, "only the first change, before the other device's");
        assert_eq!(part.refused.map(|r| r.code), Some(RejectCode::ForeignActor));
        let nothing = check_push(None, doc, &all, &none, second, owner).unwrap_err();
        assert_eq!(nothing.code, RejectCode::ForeignActor, "the first change is not the second device's");

        let mut relay = part.doc;
        let from_second = check_push(Some(&relay), doc, &all, &none, second, owner).unwrap();
        assert_eq!(from_second.new.len(), 1);
        relay = from_second.doc;
        let mut from_first = check_push(Some(&relay), doc, &all, &none, first, owner).unwrap();
        assert_eq!(from_first.new.len(), 1);
        assert!(from_first.refused.is_none());
        assert_eq!(from_first.doc.get_heads(), d.get_heads(), "the whole document, in three pushes");
    }
}
