//! Who may read and write what, and the check the relay runs on every pushed change before it
//! stores anything.
//!
//! Read rule: a device of unit U reads document D when U owns D, U is an ancestor of D's owner,
//! or U is in D's audience. Write rule: U owns D. Headers never change. A device that only
//! reads D may still carry back changes of D that the relay once accepted (proven by its
//! vouchers), which is how a relay restored from an older backup gets them again when no device
//! of the owner unit holds them.

use std::collections::{HashMap, HashSet};

use automerge::{AutoCommit, Change, ChangeHash};

use crate::ids::{DeviceId, DocId, UnitId};
use crate::schema::{
    Directive, DocKind, DocumentSchema, Header, Meeting, Report, Response, Review, UnitDirectory, read_header,
};
use crate::wire::{DocReject, RejectCode};

/// The unit tree as the relay knows it: each unit's parent.
#[derive(Debug, Clone, Default)]
pub struct UnitTree {
    parents: HashMap<UnitId, Option<UnitId>>,
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

    /// Whether the tree knows `unit`.
    pub fn contains(&self, unit: UnitId) -> bool {
        self.parents.contains_key(&unit)
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

    /// Every unit that may read a document with this header.
    pub fn readers(&self, header: &Header) -> Vec<UnitId> {
        let mut out = self.lineage(header.owner);
        for u in &header.audience {
            if !out.contains(u) {
                out.push(*u);
            }
        }
        out
    }

    /// Whether `unit` may read a document with this header.
    pub fn may_read(&self, unit: UnitId, header: &Header) -> bool {
        header.audience.contains(&unit) || self.lineage(header.owner).contains(&unit)
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
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check(current, doc, changes, carried, device, unit)
    }))
    .unwrap_or_else(|_| Err(reject(doc, RejectCode::Corrupt, "the changes cannot be applied")))
}

fn check(
    current: Option<&AutoCommit>,
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
    let mut next = match current {
        Some(d) => d.clone(),
        None => AutoCommit::new(),
    };
    let before = current.map(|d| read_header_of(d, doc)).transpose()?;
    let known: Vec<bool> = decoded.iter().map(|c| next.get_change_by_hash(&c.hash()).is_some()).collect();
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
        let mut checked = check_accepted(next, before, doc, decoded, genesis_used, only_carried, unit)?;
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
    check_accepted(next, before, doc, decoded, genesis_used, only_carried, unit)
}

/// The rest of [`check`], for the changes let in.
fn check_accepted(
    mut next: AutoCommit,
    before: Option<Header>,
    doc: DocId,
    decoded: Vec<Change>,
    genesis_used: Option<ChangeHash>,
    only_carried: bool,
    unit: UnitId,
) -> Result<Checked, DocReject> {
    let known: Vec<bool> = decoded.iter().map(|c| next.get_change_by_hash(&c.hash()).is_some()).collect();
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
        if c.deps().iter().any(|d| !seen.contains(d) && next.get_change_by_hash(d).is_none()) {
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
    if header.owner != unit && !only_carried {
        return Err(reject(
            doc,
            RejectCode::NotOwner,
            "only devices of the owner unit may write this document",
        ));
    }
    validate_kind(&next, &header).map_err(|reason| reject(doc, RejectCode::Invalid, reason))?;
    if !causal {
        new = next.get_changes(&heads_before);
    }
    Ok(Checked { doc: next, new, refused: None })
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
