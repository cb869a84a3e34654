//! A device's push as a writer job: each document's check made before the writer's turn is
//! used if the document is still as it was checked, and the document is checked here
//! otherwise; then it is stored (`log.rs`) and acknowledged.

use std::collections::HashSet;

use automerge::{AutoCommit, Change, ChangeHash};
use giaoban_protocol::authz::{Checked, UnitTree, check_push_in};
use giaoban_protocol::schema::{DocKind, Header, Review, read_header};
use giaoban_protocol::wire::{DocAck, DocChanges, DocReject, RejectCode};
use giaoban_protocol::{DeviceId, DocId, UnitId};
use rusqlite::{OptionalExtension, params};

use super::super::precheck::{Early, PreDoc, Prechecked};
use super::super::{Result, StoreError};
use super::Ctx;

/// The result of one push.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Documents stored.
    pub acks: Vec<DocAck>,
    /// Documents refused; nothing of them was stored.
    pub rejects: Vec<DocReject>,
    /// Documents whose changes depend on changes the relay lacks; the device pushes them in
    /// full (after a restore from an older backup, say).
    pub wanted: Vec<DocId>,
    /// Units whose logs grew (for live notifications).
    pub grown: Vec<UnitId>,
    /// The pushing device's newest own change, in its unit's log, before this push.
    pub own_top_before: u64,
    /// Changes stored (of the documents in `acks`).
    pub stored_changes: u64,
}

impl Ctx<'_> {
    /// The early result for `doc` and its row, if the document is still as it was checked
    /// (its heads in this transaction are the copy's) and `unit` may read it; `None` if the
    /// writer must check it again.
    fn still_current(
        &mut self,
        doc: DocId,
        unit: UnitId,
        early: Early,
    ) -> Result<Option<(i64, std::result::Result<Checked, DocReject>)>> {
        let row: Option<(i64, Vec<u8>)> = self
            .tx
            .prepare_cached("SELECT n, heads FROM docs WHERE id = ?1")?
            .query_row(params![doc.to_bytes().to_vec()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let Some((n, heads)) = row else { return Ok(None) };
        if heads != early.heads || !self.may_read(n, unit)? {
            return Ok(None);
        }
        Ok(Some((n, early.result)))
    }

    /// The newest own change of `device`, as a position in its unit's log. A device revoked
    /// after its token was checked (the revocation committed while its push waited) is
    /// refused here, in the transaction that would store the push.
    fn own_top(&self, device: DeviceId) -> Result<u64> {
        let row: Option<(i64, Option<i64>)> = self
            .tx
            .prepare_cached("SELECT own_top, revoked_at FROM devices WHERE id = ?1")?
            .query_row(params![device.to_bytes().to_vec()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match row {
            Some((_, Some(_))) => Err(StoreError::Revoked),
            Some((top, None)) => Ok(top.max(0) as u64),
            None => Ok(0),
        }
    }

    /// When the relay first received each of `hashes` of document row `n`.
    fn receipt_times(&self, n: i64, hashes: &[ChangeHash]) -> Result<Vec<i64>> {
        let mut stmt =
            self.tx.prepare_cached("SELECT received_at FROM changes WHERE doc = ?1 AND hash = ?2")?;
        let mut out = Vec::with_capacity(hashes.len());
        for h in hashes {
            let at: Option<i64> = stmt.query_row(params![n, h.0.to_vec()], |r| r.get(0)).optional()?;
            out.push(at.unwrap_or(self.now));
        }
        Ok(out)
    }
}

/// Why a new document may not take its id, if it may not. Name-based (UUIDv5) ids belong to the
/// records several devices create independently: responses and reviews, whose ids the schema
/// derives from the owner (a unit cannot take another unit's), and the unit directory of a
/// top-level unit. A directive, report or meeting, or a directory of a unit that has a parent,
/// under such an id would take the place of another unit's future response or review.
fn new_document_refusal(tree: &UnitTree, doc: DocId, header: &Header) -> Option<DocReject> {
    if doc.as_uuid().get_version_num() != 5 {
        return None;
    }
    let allowed = match header.kind {
        DocKind::Response | DocKind::Review => true,
        DocKind::UnitDirectory => tree.contains(header.owner) && tree.lineage(header.owner).len() == 1,
        DocKind::Directive | DocKind::Report | DocKind::Meeting => false,
    };
    (!allowed).then(|| DocReject {
        doc,
        code: RejectCode::Invalid,
        reason: format!(
            "a {} needs an id of its own; this id is reserved for a response or a review",
            header.kind
        ),
    })
}

/// Why a new review may not be stored, if it may not. A verdict is the office's: only a unit
/// other than the report's owner that the report is addressed to, or one above its owner, may
/// judge it. A report the relay does not hold (a review pushed back before its report after a
/// restore) cannot be judged here; devices apply the same rule when they show a verdict.
fn review_refusal(ctx: &mut Ctx<'_>, doc: DocId, checked: &AutoCommit) -> Result<Option<DocReject>> {
    let Ok(review) = autosurgeon::hydrate::<_, Review>(checked) else { return Ok(None) };
    let Some((_, report)) = ctx.load(review.report)? else { return Ok(None) };
    let Ok(report) = read_header(&report) else { return Ok(None) };
    let reviewer = review.header.owner;
    let entitled = reviewer != report.owner
        && (report.audience.contains(&reviewer) || ctx.tree().lineage(report.owner).contains(&reviewer));
    Ok((!entitled).then(|| DocReject {
        doc,
        code: RejectCode::NotOwner,
        reason: "only the unit a report is addressed to, or one above its author, may review it".into(),
    }))
}

/// Checks and stores one device's push.
pub fn push(ctx: &mut Ctx<'_>, device: DeviceId, unit: UnitId, docs: Vec<DocChanges>) -> Result<PushOutcome> {
    let pre = Prechecked::unchecked(ctx.key, device, unit, docs);
    push_prechecked(ctx, pre)
}

/// Stores a push checked before the writer's turn ([`Prechecker::precheck`]): each document's
/// early result is used when the document is still as it was checked, and it is checked here
/// otherwise.
pub fn push_prechecked(ctx: &mut Ctx<'_>, pre: Prechecked) -> Result<PushOutcome> {
    let Prechecked { device, unit, tree_gen, docs } = pre;
    let mut out = PushOutcome { own_top_before: ctx.own_top(device)?, ..PushOutcome::default() };
    let mut seen: HashSet<DocId> = HashSet::new();
    let mut grown: HashSet<UnitId> = HashSet::new();
    // An early result counts only if it was reached in the tree this job sees.
    let same_tree = tree_gen.is_some() && tree_gen == ctx.tree_gen && ctx.fresh_tree.is_none();
    for PreDoc { changes: dc, received, early } in docs {
        if !seen.insert(dc.doc) {
            continue;
        }
        let carried: HashSet<ChangeHash> = received.keys().copied().collect();
        let early = match early {
            Some(e) if same_tree => ctx.still_current(dc.doc, unit, e)?,
            _ => None,
        };
        let (row, checked) = match early {
            Some((n, result)) => (Some(n), result),
            None => {
                let current = ctx.take(dc.doc)?;
                let (row, current_doc) = match current {
                    Some((n, d)) => (Some(n), Some(d)),
                    None => (None, None),
                };
                // A document the pushing unit may not read is checked as if the relay did not
                // hold it, so the answer (wanted, or the reason of a refusal) is the one an
                // unknown id gets and tells nothing about whether it exists.
                let hidden = match row {
                    Some(n) => !ctx.may_read(n, unit)?,
                    None => false,
                };
                let checked = if hidden {
                    check_push_in(ctx.tree(), None, dc.doc, &dc.changes, &carried, device, unit)
                } else {
                    check_push_in(ctx.tree(), current_doc, dc.doc, &dc.changes, &carried, device, unit)
                };
                let checked = match checked {
                    Ok(c) if row.is_none() || hidden => {
                        match new_document_refusal(ctx.tree(), dc.doc, &c.header) {
                            Some(refusal) => Err(refusal),
                            None if hidden => Err(DocReject {
                                doc: dc.doc,
                                code: RejectCode::NotOwner,
                                reason: "only devices of the owner unit (or of a unit that succeeds it) may write this document"
                                    .into(),
                            }),
                            None => Ok(c),
                        }
                    }
                    other => other,
                };
                (row, checked)
            }
        };
        let checked = match checked {
            Ok(c) if row.is_none() && c.header.kind == DocKind::Review => {
                match review_refusal(ctx, dc.doc, &c.doc)? {
                    Some(refusal) => Err(refusal),
                    None => Ok(c),
                }
            }
            other => other,
        };
        match checked {
            Err(rejection) if rejection.code == RejectCode::MissingDependencies => {
                tracing::info!(doc = %dc.doc, %device, "push builds on changes the relay lacks; asking for it in full");
                out.wanted.push(dc.doc);
            }
            Err(rejection) => {
                tracing::info!(doc = %dc.doc, %device, code = %rejection.code, reason = %rejection.reason, "push refused");
                out.rejects.push(rejection);
            }
            Ok(checked) => {
                if let Some(refusal) = checked.refused.clone() {
                    tracing::info!(doc = %dc.doc, %device, reason = %refusal.reason, "push stored in part");
                    out.rejects.push(refusal);
                }
                let kind = Some(checked.header.kind);
                out.stored_changes += checked.new.len() as u64;
                let (heads, readers) =
                    ctx.store(dc.doc, row, &checked.new, &checked.header, checked.doc, device, &received)?;
                grown.extend(readers);
                let n = match row {
                    Some(n) => n,
                    None => ctx
                        .tx
                        .prepare_cached("SELECT n FROM docs WHERE id = ?1")?
                        .query_row(params![dc.doc.to_bytes().to_vec()], |r| r.get(0))?,
                };
                // A voucher may prove an earlier receipt than the relay's own record.
                grown.extend(ctx.restamp(dc.doc, n, &received)?);
                // Deadlines are judged by a response's receipt times: the device keeps a
                // voucher for each change it pushed, with the time the relay first had it.
                let vouchers = if kind == Some(DocKind::Response) {
                    let hashes: Vec<ChangeHash> = dc
                        .changes
                        .iter()
                        .filter_map(|b| Change::from_bytes(b.clone()).ok().map(|c| c.hash()))
                        .collect();
                    let times = ctx.receipt_times(n, &hashes)?;
                    hashes.iter().zip(times).map(|(h, at)| ctx.key.voucher(dc.doc, h.0, at)).collect()
                } else {
                    Vec::new()
                };
                out.acks.push(DocAck { doc: dc.doc, heads: heads.iter().map(|h| h.0).collect(), vouchers });
            }
        }
    }
    out.grown = grown.into_iter().collect();
    Ok(out)
}
