//! Units that change: merging units into a successor, giving a unit a successor, moving a unit
//! under another parent. Each command is one job on the writer, so one transaction: the tree,
//! the unit directory documents, the readers of every document concerned and the unit logs
//! change together or not at all.
//!
//! Invariant (readers follow the tree): after every command, the readers of each document are
//! exactly `UnitTree::readers` of its header in the tree as it is now. A unit that becomes a
//! reader gets the document's existing changes appended to its log (chained like live changes,
//! with their receipt times), so its devices receive them on their next sync, witness intact; a
//! unit that stops being a reader gets none of its later changes, and what its log already
//! holds stays there (the log is append-only).

use std::collections::{BTreeMap, HashMap};

use automerge::AutoCommit;
use automerge::transaction::CommitOptions;
use giaoban_protocol::schema::{DocKind, DocumentSchema, Unit, UnitDirectory, UnitKind, read_header};
use giaoban_protocol::{DeviceId, DocId, Timestamp, UnitId};
use rusqlite::{OptionalExtension, params};

use super::writer::Ctx;
use super::{RelayStore, Result, StoreError};

/// What an admin command changed in who reads what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeChange {
    /// Units that now read documents they did not, with how many documents; their logs grew
    /// by those documents' changes.
    pub gained: BTreeMap<UnitId, u64>,
    /// Units that stopped reading documents, with how many: they get none of their later
    /// changes.
    pub lost: BTreeMap<UnitId, u64>,
    /// Units whose logs grew (their devices have something to pull).
    pub grown: Vec<UnitId>,
}

/// Whether a successor ends the predecessor (a merger) or is one more successor (a split, or a
/// unit taking over part of another's work).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Succession {
    Merge,
    Successor,
}

impl RelayStore {
    /// Merges `predecessors` into `successor`: each ends today and names `successor` as the unit
    /// that took over its work. The successor's devices receive the predecessors' records on
    /// their next sync and may answer their open tasks. Blocking.
    pub fn merge_units(&self, predecessors: Vec<UnitId>, successor: UnitId) -> Result<TreeChange> {
        self.writer()
            .run_blocking(move |ctx| succession_job(ctx, &predecessors, successor, Succession::Merge))
    }

    /// Gives `unit` one more successor (a split: call once per successor). Like a merger, the
    /// successor reads what `unit` reads and may act for it. Blocking.
    pub fn add_successor(&self, unit: UnitId, successor: UnitId) -> Result<TreeChange> {
        self.writer().run_blocking(move |ctx| succession_job(ctx, &[unit], successor, Succession::Successor))
    }

    /// Moves `unit` (and everything under it) under `parent`. The new parent's devices receive
    /// its records; the old parent (and whoever no longer is above it) gets none of their new
    /// changes. Blocking.
    pub fn move_unit(&self, unit: UnitId, parent: UnitId) -> Result<TreeChange> {
        self.writer().run_blocking(move |ctx| move_job(ctx, unit, parent))
    }

    /// The direct successors of each unit that has some.
    pub fn successors(&self) -> Result<HashMap<UnitId, Vec<UnitId>>> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT unit, successor FROM unit_successors ORDER BY since, successor")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
            let mut out: HashMap<UnitId, Vec<UnitId>> = HashMap::new();
            for r in rows {
                let (u, s) = r?;
                out.entry(unit_id(&u)?).or_default().push(unit_id(&s)?);
            }
            Ok(out)
        })
    }
}

/// A unit to add under an existing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUnit {
    /// Full name ("Hội Liên hiệp Phụ nữ phường Xuân Trung").
    pub name: String,
    /// Short name for lists; empty takes the full name.
    pub short_name: String,
    /// What sort of body (a member organisation, a work team …).
    pub kind: UnitKind,
    /// Level label ("phường"); empty takes the parent's.
    pub level_label: String,
}

impl RelayStore {
    /// Adds a unit under `parent` (a member organisation of a ward, a work team of a
    /// residential area): it enters the tree and the unit directory, its devices receive the
    /// directory on their first sync, and from then on dispatches may address it and it may
    /// report like any unit. Returns its id. Blocking.
    pub fn add_unit(&self, parent: UnitId, unit: NewUnit) -> Result<(UnitId, TreeChange)> {
        let name = giaoban_vietnamese_text::clean_input(&unit.name);
        if name.is_empty() {
            return Err(StoreError::Invalid("give the unit's full name (--name)".into()));
        }
        let short = giaoban_vietnamese_text::clean_input(&unit.short_name);
        let level = giaoban_vietnamese_text::clean_input(&unit.level_label);
        self.writer().run_blocking(move |ctx| {
            let names = names(ctx)?;
            let parent_name = known(&names, parent)?.to_string();
            let key = giaoban_vietnamese_text::search_key(&name);
            if names.values().any(|n| giaoban_vietnamese_text::search_key(n) == key) {
                return Err(StoreError::Invalid(format!("a unit named {name} exists already")));
            }
            let id = UnitId::from_parts(ctx.now.max(0) as u64, rand::random());
            ctx.tx.execute(
                "INSERT INTO units(id, parent, name) VALUES (?1, ?2, ?3)",
                params![id.to_bytes().to_vec(), parent.to_bytes().to_vec(), name],
            )?;
            ctx.refresh_tree()?;
            let today = Timestamp(ctx.now).local_date();
            let grown = update_directories(ctx, &[parent], &names, |dir| {
                let level_label = if level.is_empty() {
                    dir.unit(parent).map(|p| p.level_label.clone()).unwrap_or_default()
                } else {
                    level.clone()
                };
                dir.units.push(Unit {
                    id,
                    name: name.clone(),
                    short_name: if short.is_empty() { name.clone() } else { short.clone() },
                    kind: unit.kind,
                    level_label,
                    parent: Some(parent),
                    admin_ref: None,
                    valid_from: Some(today),
                    valid_to: None,
                    successors: Vec::new(),
                    people: Vec::new(),
                });
                if !dir.header.audience.contains(&id) {
                    dir.header.audience.push(id);
                }
            })?;
            if grown.is_empty() {
                return Err(StoreError::Invalid(format!(
                    "{parent_name} is in no unit directory; create the province's units first"
                )));
            }
            // The new unit reads the directory now in its audience: its log receives the
            // directory's whole history, so its first device can read it.
            let change = follow_readers(ctx, &[parent])?;
            tracing::warn!(unit = %name, parent = %parent_name, "unit added");
            Ok((id, with_grown(change, grown)))
        })
    }
}

fn unit_id(bytes: &[u8]) -> Result<UnitId> {
    UnitId::from_slice(bytes).map_err(|e| StoreError::Invalid(format!("a stored unit id is damaged: {e}")))
}

/// Units' names, for sentences.
pub(super) fn names(ctx: &Ctx<'_>) -> Result<HashMap<UnitId, String>> {
    let mut stmt = ctx.tx.prepare_cached("SELECT id, name FROM units")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = HashMap::new();
    for r in rows {
        let (id, name) = r?;
        out.insert(unit_id(&id)?, name);
    }
    Ok(out)
}

pub(super) fn known(names: &HashMap<UnitId, String>, unit: UnitId) -> Result<&str> {
    names.get(&unit).map(String::as_str).ok_or_else(|| {
        StoreError::NotFound(format!(
            "no unit has id {unit}; list the units with `giaoban-relay admin units`"
        ))
    })
}

fn list(names: &HashMap<UnitId, String>, units: &[UnitId]) -> String {
    units
        .iter()
        .map(|u| names.get(u).cloned().unwrap_or_else(|| u.to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn succession_job(
    ctx: &mut Ctx<'_>,
    predecessors: &[UnitId],
    successor: UnitId,
    how: Succession,
) -> Result<TreeChange> {
    let names = names(ctx)?;
    let successor_name = known(&names, successor)?.to_string();
    if predecessors.is_empty() {
        return Err(StoreError::Invalid("name at least one unit to merge".into()));
    }
    let mut preds: Vec<UnitId> = Vec::new();
    for p in predecessors {
        known(&names, *p)?;
        if !preds.contains(p) {
            preds.push(*p);
        }
    }
    let tree = ctx.tree().clone();
    for p in &preds {
        if tree.succeeds(*p, successor) {
            let name = &names[p];
            return Err(StoreError::Invalid(format!(
                "{name} already took over the work of {successor_name}; making {successor_name} its successor would make a cycle of successions"
            )));
        }
    }
    let later = tree.direct_successors(successor);
    if !later.is_empty() {
        return Err(StoreError::Invalid(format!(
            "{successor_name} was itself merged into {}; merge into that unit instead",
            list(&names, later)
        )));
    }
    for p in &preds {
        let name = &names[p];
        if *p == successor {
            return Err(StoreError::Invalid(format!("{name} cannot be merged into itself")));
        }
        let already = tree.direct_successors(*p);
        match how {
            Succession::Merge if !already.is_empty() => {
                return Err(StoreError::Invalid(format!(
                    "{name} was already merged into {}; a merged unit cannot be merged again",
                    list(&names, already)
                )));
            }
            Succession::Successor if already.contains(&successor) => {
                return Err(StoreError::Invalid(format!(
                    "{successor_name} is already a successor of {name}"
                )));
            }
            _ => {}
        }
    }
    let today = Timestamp(ctx.now).local_date();
    {
        let mut insert = ctx
            .tx
            .prepare_cached("INSERT INTO unit_successors(unit, successor, since) VALUES (?1, ?2, ?3)")?;
        for p in &preds {
            insert.execute(params![p.to_bytes().to_vec(), successor.to_bytes().to_vec(), ctx.now])?;
        }
    }
    ctx.refresh_tree()?;
    let change = follow_readers(ctx, &preds)?;
    let mut involved = preds.clone();
    involved.push(successor);
    let grown = update_directories(ctx, &involved, &names, |dir| {
        for u in dir.units.iter_mut() {
            if preds.contains(&u.id) {
                if !u.successors.contains(&successor) {
                    u.successors.push(successor);
                }
                if u.valid_to.is_none() {
                    // A unit that starts today and is merged today still existed for a day.
                    u.valid_to = Some(u.valid_from.map_or(today, |f| today.max(f)));
                }
            }
        }
    })?;
    tracing::warn!(predecessors = %list(&names, &preds), successor = %successor_name, "units merged");
    Ok(with_grown(change, grown))
}

fn move_job(ctx: &mut Ctx<'_>, unit: UnitId, parent: UnitId) -> Result<TreeChange> {
    let names = names(ctx)?;
    let name = known(&names, unit)?.to_string();
    let parent_name = known(&names, parent)?.to_string();
    if unit == parent {
        return Err(StoreError::Invalid(format!("{name} cannot be placed under itself")));
    }
    let tree = ctx.tree().clone();
    if tree.is_ancestor_or_self(unit, parent) {
        return Err(StoreError::Invalid(format!(
            "{parent_name} is under {name}; moving {name} under it would make a cycle in the tree"
        )));
    }
    if tree.parent(unit) == Some(parent) {
        return Err(StoreError::Invalid(format!("{name} is already under {parent_name}")));
    }
    ctx.tx.execute(
        "UPDATE units SET parent = ?2 WHERE id = ?1",
        params![unit.to_bytes().to_vec(), parent.to_bytes().to_vec()],
    )?;
    ctx.refresh_tree()?;
    let change = follow_readers(ctx, &[unit])?;
    let grown = update_directories(ctx, &[unit, parent], &names, |dir| {
        for u in dir.units.iter_mut() {
            if u.id == unit {
                u.parent = Some(parent);
            }
        }
    })?;
    tracing::warn!(unit = %name, parent = %parent_name, "unit moved");
    Ok(with_grown(change, grown))
}

fn with_grown(mut change: TreeChange, more: Vec<UnitId>) -> TreeChange {
    for u in more {
        if !change.grown.contains(&u) {
            change.grown.push(u);
        }
    }
    change.grown.sort();
    change
}

/// Makes the readers of every document that `changed` read follow the (already updated) tree:
/// a unit that changed place or succession reads all the documents whose readers can change.
fn follow_readers(ctx: &mut Ctx<'_>, changed: &[UnitId]) -> Result<TreeChange> {
    let mut docs: BTreeMap<i64, DocId> = BTreeMap::new();
    {
        let mut stmt = ctx
            .tx
            .prepare_cached("SELECT d.n, d.id FROM readers r JOIN docs d ON d.n = r.doc WHERE r.unit = ?1")?;
        for u in changed {
            let rows = stmt.query_map(params![u.to_bytes().to_vec()], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            for r in rows {
                let (n, id) = r?;
                let id = DocId::from_slice(&id)
                    .map_err(|e| StoreError::Invalid(format!("a stored document id is damaged: {e}")))?;
                docs.insert(n, id);
            }
        }
    }
    let mut out = TreeChange::default();
    for (n, id) in docs {
        let Some((_, doc)) = ctx.load(id)? else { continue };
        let header = read_header(&doc)
            .map_err(|e| StoreError::Invalid(format!("the stored document {id} has no valid header: {e}")))?;
        let now: Vec<UnitId> = ctx.tree().readers(&header);
        let before: Vec<UnitId> = ctx
            .tx
            .prepare_cached("SELECT unit FROM readers WHERE doc = ?1")?
            .query_map(params![n], |r| r.get::<_, Vec<u8>>(0))?
            .map(|r| r.map_err(StoreError::from).and_then(|b| unit_id(&b)))
            .collect::<Result<_>>()?;
        let mut added: Vec<UnitId> = now.iter().copied().filter(|u| !before.contains(u)).collect();
        let mut removed: Vec<UnitId> = before.iter().copied().filter(|u| !now.contains(u)).collect();
        added.sort();
        removed.sort();
        for u in added {
            let ub = u.to_bytes().to_vec();
            ctx.tx
                .prepare_cached("INSERT OR IGNORE INTO readers(unit, doc) VALUES (?1, ?2)")?
                .execute(params![ub, n])?;
            // What its log already holds of this document from an earlier time as a reader.
            let upto: i64 = ctx
                .tx
                .prepare_cached("SELECT upto FROM former_readers WHERE unit = ?1 AND doc = ?2")?
                .query_row(params![ub, n], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            ctx.tx
                .prepare_cached("DELETE FROM former_readers WHERE unit = ?1 AND doc = ?2")?
                .execute(params![ub, n])?;
            let appended = ctx.append_to_log(u, n, id, upto)?;
            *out.gained.entry(u).or_default() += 1;
            if appended > 0 && !out.grown.contains(&u) {
                out.grown.push(u);
            }
        }
        for u in removed {
            let ub = u.to_bytes().to_vec();
            ctx.tx
                .prepare_cached("DELETE FROM readers WHERE unit = ?1 AND doc = ?2")?
                .execute(params![ub, n])?;
            let upto: i64 = ctx
                .tx
                .prepare_cached("SELECT IFNULL(MAX(seq), 0) FROM changes WHERE doc = ?1")?
                .query_row(params![n], |r| r.get(0))?;
            ctx.tx
                .prepare_cached(
                    "INSERT INTO former_readers(unit, doc, upto) VALUES (?1, ?2, ?3)
                     ON CONFLICT(unit, doc) DO UPDATE SET upto = excluded.upto",
                )?
                .execute(params![ub, n, upto])?;
            *out.lost.entry(u).or_default() += 1;
        }
    }
    Ok(out)
}

/// Applies `edit` to every unit directory document that lists one of `involved`, as the relay
/// writes them, and stores the change. Every unit of `involved` must be in that directory.
/// Returns the units whose logs grew.
pub(super) fn update_directories(
    ctx: &mut Ctx<'_>,
    involved: &[UnitId],
    names: &HashMap<UnitId, String>,
    edit: impl Fn(&mut UnitDirectory),
) -> Result<Vec<UnitId>> {
    let dirs: Vec<(i64, Vec<u8>)> = ctx
        .tx
        .prepare_cached("SELECT n, id FROM docs WHERE kind = ?1 ORDER BY n")?
        .query_map(params![DocKind::UnitDirectory.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let relay: Vec<u8> =
        ctx.tx.query_row("SELECT value FROM meta WHERE key = 'relay_device'", [], |r| r.get(0))?;
    let relay = DeviceId::from_slice(&relay).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut grown = Vec::new();
    for (n, id) in dirs {
        let id = DocId::from_slice(&id)
            .map_err(|e| StoreError::Invalid(format!("a stored document id is damaged: {e}")))?;
        let Some((_, current)) = ctx.load(id)? else { continue };
        let mut dir: UnitDirectory = autosurgeon::hydrate(&current)
            .map_err(|e| StoreError::Invalid(format!("the unit directory {id} cannot be read: {e}")))?;
        let listed: Vec<UnitId> = involved.iter().copied().filter(|u| dir.unit(*u).is_some()).collect();
        if listed.is_empty() {
            continue;
        }
        if listed.len() < involved.len() {
            let missing: Vec<UnitId> = involved.iter().copied().filter(|u| !listed.contains(u)).collect();
            return Err(StoreError::Invalid(format!(
                "{} and {} are in different unit directories (different provinces); units can only be merged or moved within one",
                list(names, &listed),
                list(names, &missing)
            )));
        }
        edit(&mut dir);
        dir.validate()
            .map_err(|e| StoreError::Invalid(format!("the unit directory would be invalid: {e}")))?;
        let heads = current.clone().get_heads();
        let mut next: AutoCommit = current.with_actor(relay.actor_id());
        autosurgeon::reconcile(&mut next, &dir).map_err(|e| StoreError::Invalid(e.to_string()))?;
        next.commit_with(CommitOptions::default().with_time(ctx.now / 1000));
        let new = next.get_changes(&heads);
        let header = read_header(&next).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let (_, readers) = ctx.store(id, Some(n), &new, &header, next, relay, &Default::default())?;
        grown.extend(readers);
    }
    Ok(grown)
}
