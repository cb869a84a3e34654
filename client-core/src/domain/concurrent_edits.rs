//! Which sections of a report two devices changed at once.
//!
//! Two cadres of one ward may both work on "Kết quả" offline. Their edits merge without loss,
//! but the merged words may read oddly (each kept a sentence the other rewrote), so the section
//! is flagged for a reader's eye. This module answers the question from the document alone,
//! after remote changes were applied: which sections' words did the remote side change, and
//! which did this side change that the remote side had not seen? A section in both answers was
//! edited concurrently.

use std::collections::HashSet;

use automerge::{AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};

/// The keys of the sections of report `doc` whose words both sides changed since their common
/// history. `doc` is the report after remote changes were applied, `before` its heads before
/// they were, and `incoming` the hashes of the changes just applied (hashes it does not hold
/// are ignored). Each key appears once, in document order.
///
/// When this side had nothing the remote side lacked (every head of `before` is now beneath an
/// incoming change), nothing can have been concurrent and the answer is empty without looking
/// at the document's history: the common case, a device catching up. "This side" means changes
/// written by the document's actor (this device); a device that only passes other devices'
/// concurrent branches along answers empty.
pub(crate) fn concurrently_edited_sections(
    doc: &mut AutoCommit,
    before: &[ChangeHash],
    incoming: &[ChangeHash],
) -> Vec<String> {
    let after = doc.get_heads();
    if incoming.is_empty() || before.iter().all(|h| !after.contains(h)) {
        return Vec::new();
    }
    let remote = remote_heads(doc, incoming);
    if remote.is_empty() {
        return Vec::new();
    }
    // "This side" is this device: changes it only relays (two other devices' branches arriving
    // in separate pages, say) are not its edits, and those devices flag their own merge.
    // Any session of this device counts (see `DeviceId::session_actor`).
    let Some(me) = giaoban_protocol::DeviceId::from_actor_id(doc.get_actor()) else {
        return Vec::new();
    };
    if !doc.get_changes(&remote).iter().any(|c| me.owns_actor(c.actor_id())) {
        return Vec::new();
    }
    let bodies = section_bodies(doc);
    if bodies.is_empty() {
        return Vec::new();
    }
    // From this side's state to the merge: what the remote side brought. From the remote
    // side's state to the merge: what this side had that the remote side had not seen.
    let by_remote: HashSet<ObjId> = doc.diff(before, &after).into_iter().map(|p| p.obj).collect();
    let by_local: HashSet<ObjId> = doc.diff(&remote, &after).into_iter().map(|p| p.obj).collect();
    let mut keys: Vec<String> = Vec::new();
    for (key, body) in bodies {
        if by_remote.contains(&body) && by_local.contains(&body) && !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// The incoming changes no other incoming change depends on: the remote side's heads.
fn remote_heads(doc: &mut AutoCommit, incoming: &[ChangeHash]) -> Vec<ChangeHash> {
    let mut known = Vec::with_capacity(incoming.len());
    let mut depended_on = HashSet::new();
    for h in incoming {
        if let Some(meta) = doc.get_change_meta_by_hash(h) {
            depended_on.extend(meta.deps.iter().copied());
            known.push(*h);
        }
    }
    known.retain(|h| !depended_on.contains(h));
    known.sort();
    known.dedup();
    known
}

/// Each section's key and the id of its body's text object, as the document now holds them.
/// Entries that are not shaped like a section are skipped: the schema check reports those.
fn section_bodies(doc: &AutoCommit) -> Vec<(String, ObjId)> {
    let Ok(Some((Value::Object(ObjType::List), sections))) = doc.get(ROOT, "sections") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for i in 0..doc.length(&sections) {
        let Ok(Some((Value::Object(ObjType::Map), section))) = doc.get(&sections, i) else {
            continue;
        };
        let key = match doc.get(&section, "key") {
            Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
                ScalarValue::Str(k) => k.to_string(),
                _ => continue,
            },
            _ => continue,
        };
        if let Ok(Some((Value::Object(ObjType::Text), body))) = doc.get(&section, "body") {
            out.push((key, body));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use automerge::ActorId;
    use autosurgeon::Text;
    use giaoban_protocol::schema::{
        Figure, FigureScope, Header, MeasureUnit, Qualifier, Report, ReportKind, Section,
    };
    use giaoban_protocol::{DocId, DocKind, UnitId};

    fn section(key: &str, heading: &str, body: &str) -> Section {
        Section {
            key: key.into(),
            heading: heading.into(),
            body: Text::with_value(body),
            edited_concurrently: false,
        }
    }

    /// A ward's monthly report, and a second device's copy of it.
    fn two_replicas() -> (AutoCommit, AutoCommit) {
        let report = Report {
            header: Header::new(
                DocId::from_bytes([6; 16]),
                DocKind::Report,
                UnitId::from_bytes([2; 16]),
                Vec::new(),
            ),
            title: "Báo cáo công tác Mặt trận tháng 6/2018".into(),
            kind: ReportKind::Monthly,
            period: None,
            directive: None,
            task_ordinal: None,
            sections: vec![
                section(
                    "ket_qua",
                    "Kết quả",
                    "Mặt trận phường đã vận động Quỹ Vì người nghèo được 20 triệu đồng.",
                ),
                section("kien_nghi", "Đề xuất, kiến nghị", "Đề nghị hỗ trợ kinh phí."),
            ],
            figures: vec![Figure {
                indicator: "quy_vi_nguoi_ngheo_vnd".into(),
                value: 20_000_000,
                unit: MeasureUnit::Vnd,
                qualifier: Qualifier::Exact,
                scope: FigureScope::Period,
                note: String::new(),
                written: String::new(),
                since: None,
            }],
            submitted_at_device: None,
            attachments: Vec::new(),
            submitted_by: String::new(),
            due: None,
        };
        let mut a = AutoCommit::new().with_actor(ActorId::from([0xA; 16].as_slice()));
        autosurgeon::reconcile(&mut a, &report).unwrap();
        a.commit();
        let b = a.fork().with_actor(ActorId::from([0xB; 16].as_slice()));
        (a, b)
    }

    fn edit(doc: &mut AutoCommit, f: impl FnOnce(&mut Report)) {
        let mut r: Report = autosurgeon::hydrate(doc).unwrap();
        f(&mut r);
        autosurgeon::reconcile(doc, &r).unwrap();
        doc.commit();
    }

    /// Inserts `words` at the end of section `key`'s words.
    fn append(doc: &mut AutoCommit, key: &str, words: &str) {
        edit(doc, |r| {
            let s = r.sections.iter_mut().find(|s| s.key == key).unwrap();
            let end = s.body.as_str().len();
            s.body.splice(end, 0, words);
        });
    }

    /// Applies to `to` the changes of `from` it lacks, and asks which sections were edited on
    /// both sides.
    fn receive(to: &mut AutoCommit, from: &mut AutoCommit) -> Vec<String> {
        let before = to.get_heads();
        let changes = to.get_changes_added(from);
        let hashes: Vec<ChangeHash> = changes.iter().map(|c| c.hash()).collect();
        to.apply_changes(changes).unwrap();
        concurrently_edited_sections(to, &before, &hashes)
    }

    #[test]
    fn the_same_section_on_two_devices() {
        let (mut a, mut b) = two_replicas();
        append(&mut a, "ket_qua", " Tổ chức thăm hỏi 15 hộ.");
        append(&mut b, "ket_qua", " Trao 30 suất quà Tết.");
        let mut a_copy = a.fork();
        assert_eq!(receive(&mut a, &mut b), vec!["ket_qua".to_string()]);
        assert_eq!(receive(&mut b, &mut a_copy), vec!["ket_qua".to_string()], "and seen from the other side");
    }

    #[test]
    fn different_sections_on_two_devices() {
        let (mut a, mut b) = two_replicas();
        append(&mut a, "ket_qua", " Tổ chức thăm hỏi 15 hộ.");
        append(&mut b, "kien_nghi", " Đề nghị bổ sung kinh phí sửa nhà.");
        assert!(receive(&mut a, &mut b).is_empty());
        assert!(receive(&mut b, &mut a).is_empty());
    }

    #[test]
    fn catching_up_is_not_concurrent() {
        let (mut a, mut b) = two_replicas();
        append(&mut b, "ket_qua", " Trao 30 suất quà Tết.");
        append(&mut b, "ket_qua", " Thăm hỏi 15 hộ.");
        assert!(receive(&mut a, &mut b).is_empty());
        // A then edits on top of what it received, and B catches up in turn.
        append(&mut a, "ket_qua", " Kết quả được ghi nhận.");
        assert!(receive(&mut b, &mut a).is_empty());
        assert!(receive(&mut a, &mut b).is_empty(), "nothing new");
    }

    #[test]
    fn a_figure_on_one_device_and_words_on_the_other() {
        let (mut a, mut b) = two_replicas();
        append(&mut a, "ket_qua", " Tổ chức thăm hỏi 15 hộ.");
        edit(&mut b, |r| r.figures[0].value = 25_000_000);
        let mut a_copy = a.fork();
        assert!(receive(&mut a, &mut b).is_empty());
        assert!(receive(&mut b, &mut a_copy).is_empty());
    }

    #[test]
    fn a_heading_is_not_the_words() {
        let (mut a, mut b) = two_replicas();
        append(&mut a, "ket_qua", " Tổ chức thăm hỏi 15 hộ.");
        edit(&mut b, |r| r.sections[0].heading = "Kết quả thực hiện".into());
        assert!(receive(&mut a, &mut b).is_empty());
    }

    #[test]
    fn after_the_merge_new_edits_are_judged_afresh() {
        let (mut a, mut b) = two_replicas();
        append(&mut a, "ket_qua", " Tổ chức thăm hỏi 15 hộ.");
        append(&mut b, "ket_qua", " Trao 30 suất quà Tết.");
        assert_eq!(receive(&mut a, &mut b), vec!["ket_qua".to_string()]);
        assert_eq!(receive(&mut b, &mut a), vec!["ket_qua".to_string()], "B sees it too");
        // Both now hold the merge; B edits the other section while A edits "Kết quả" again.
        append(&mut a, "ket_qua", " Kết quả được ghi nhận.");
        append(&mut b, "kien_nghi", " Đề nghị bổ sung kinh phí.");
        assert!(receive(&mut a, &mut b).is_empty());
    }
}
