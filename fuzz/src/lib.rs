//! The fuzz targets' bodies, shared by the libFuzzer binaries (`cargo fuzz run <target>`) and by
//! this crate's own tests, which run them over seeded random inputs without libFuzzer.

use std::sync::OnceLock;

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};
use autosurgeon::Text;
use giaoban_protocol::authz::{check_push as relay_check, validate_kind};
use giaoban_protocol::schema::{
    Figure, FigureScope, Header, MeasureUnit, Qualifier, Report, ReportKind, Section, read_header,
};
use giaoban_protocol::wire::{self, DeviceMessage, RelayMessage};
use giaoban_protocol::{DeviceId, DocId, DocKind, UnitId};

/// Decodes `data` as both message kinds. Whatever decodes must encode to a frame that decodes to
/// the same message.
pub fn wire_decode(data: &[u8]) {
    if let Ok(m) = wire::decode::<DeviceMessage>(data) {
        let again: DeviceMessage = wire::decode(&wire::encode(&m)).expect("a re-encoded request decodes");
        assert_eq!(again, m);
    }
    if let Ok((m, Some(status))) = wire::decode_with_status(data) {
        let again = wire::decode_with_status(&wire::encode_with_status(&m, &status))
            .expect("a re-encoded request with its status decodes");
        assert_eq!(again, (m, Some(status)));
    }
    if let Ok(m) = wire::decode::<RelayMessage>(data) {
        let again: RelayMessage = wire::decode(&wire::encode(&m)).expect("a re-encoded answer decodes");
        assert_eq!(again, m);
    }
}

/// The units and devices of the fixture: a city, the ward that owns the report, another ward.
pub struct Fixture {
    /// The city committee (the report's audience).
    pub city: UnitId,
    /// The ward that owns the report.
    pub ward: UnitId,
    /// A ward with no rights on it.
    pub other: UnitId,
    /// The device of `ward` that pushes.
    pub device: DeviceId,
    /// Another device of `ward`, which wrote the report.
    pub sibling: DeviceId,
    /// The report's id.
    pub doc: DocId,
    /// The report.
    pub report: Report,
    /// The report as the relay holds it.
    pub saved: Vec<u8>,
}

/// The fixture, built once.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let city = UnitId::from_bytes([1; 16]);
        let ward = UnitId::from_bytes([2; 16]);
        let other = UnitId::from_bytes([3; 16]);
        let device = DeviceId::from_bytes([4; 16]);
        let sibling = DeviceId::from_bytes([5; 16]);
        let doc = DocId::from_bytes([6; 16]);
        let report = Report {
            header: Header::new(doc, DocKind::Report, ward, vec![city]),
            title: "Báo cáo kết quả rà soát các mô hình của Mặt trận".into(),
            kind: ReportKind::Thematic,
            period: None,
            directive: None,
            task_ordinal: None,
            sections: vec![
                Section {
                    key: "ket_qua".into(),
                    heading: "Kết quả".into(),
                    body: Text::with_value("Rà soát 12 mô hình; nhân rộng 3 mô hình hiệu quả."),
                    edited_concurrently: false,
                },
                Section {
                    key: "kien_nghi".into(),
                    heading: "Đề xuất, kiến nghị".into(),
                    body: Text::with_value("Đề nghị hỗ trợ kinh phí."),
                    edited_concurrently: false,
                },
            ],
            figures: vec![Figure {
                indicator: "quy_vi_nguoi_ngheo_vnd".into(),
                value: 850_000_000,
                unit: MeasureUnit::Vnd,
                qualifier: Qualifier::Under,
                scope: FigureScope::Cumulative,
                note: String::new(),
                written: String::new(), since: None,
            }],
            submitted_at_device: None,
            attachments: Vec::new(),
            submitted_by: String::new(),
            due: None,
        };
        let mut d = AutoCommit::new().with_actor(sibling.actor_id());
        autosurgeon::reconcile(&mut d, &report).expect("the fixture reconciles");
        d.commit();
        Fixture { city, ward, other, device, sibling, doc, saved: d.save(), report }
    })
}

/// Reads bytes of the input as a little program.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }

    fn text(&mut self) -> String {
        let n = usize::from(self.byte() % 24);
        String::from_utf8_lossy(self.bytes(n)).into_owned()
    }

    fn int(&mut self) -> i64 {
        let b = self.bytes(8);
        let mut a = [0u8; 8];
        a[..b.len()].copy_from_slice(b);
        i64::from_le_bytes(a)
    }
}

/// Finds the object at `key` of `obj`, if it is one.
fn child(d: &AutoCommit, obj: &automerge::ObjId, key: &str) -> Option<automerge::ObjId> {
    d.get(obj, key).ok().flatten().map(|(_, id)| id)
}

fn element(d: &AutoCommit, list: &automerge::ObjId, i: usize) -> Option<automerge::ObjId> {
    d.get(list, i).ok().flatten().map(|(_, id)| id)
}

/// Edits a copy of the report as the input says, then pushes the resulting changes (raw or
/// damaged as the input says) through the relay's `check_push`. Whatever is accepted must be a
/// valid report with the same header, every new change written by the pushing device, and the
/// same push again must be accepted without changing anything.
pub fn check_push(data: &[u8]) {
    let f = fixture();
    let mut input = Input { data };
    let mode = input.byte();
    let base = AutoCommit::load(&f.saved).expect("the fixture loads");
    let unit = match mode >> 6 {
        0 | 1 => f.ward,
        2 => f.city,
        _ => f.other,
    };
    let as_new = mode & 1 == 1;
    let changes: Vec<Vec<u8>> = if mode & 2 == 2 {
        // Raw bytes as changes: [len][bytes]...
        let mut out = Vec::new();
        while !input.data.is_empty() && out.len() < 8 {
            let n = usize::from(input.byte()) * 4;
            out.push(input.bytes(n).to_vec());
        }
        out
    } else {
        edited_changes(&base, &mut input, as_new)
    };
    let current = if as_new { None } else { Some(&base) };
    let carried = std::collections::HashSet::new();
    let Ok(checked) = relay_check(current, f.doc, &changes, &carried, f.device, unit) else { return };
    let refused = checked.refused.clone();
    let next = checked.doc;

    // Accepted: it must be a valid report of the same header; a unit that does not own it may
    // only have pushed what the relay held already (nothing is carried here), storing nothing.
    let header = read_header(&next).expect("an accepted document has a header");
    assert!(
        header.owner == unit || checked.new.is_empty(),
        "accepted new changes from a unit that does not own the document"
    );
    assert_eq!(header.id, f.doc);
    if !as_new {
        assert_eq!(header, read_header(&base).expect("fixture header"), "accepted a header change");
    }
    validate_kind(&next, &header).expect("an accepted document is valid");
    let genesis = ActorId::from(f.doc.to_bytes().as_slice());
    let mut next_mut = next.clone();
    let before = if as_new { Vec::new() } else { base.clone().get_heads() };
    for c in next_mut.get_changes(&before) {
        assert!(
            f.device.owns_actor(c.actor_id()) || *c.actor_id() == genesis,
            "accepted a change by another actor"
        );
    }
    // What the relay would store is exactly the changes it lacked, each after its dependencies.
    let new: std::collections::HashSet<_> = checked.new.iter().map(|c| c.hash()).collect();
    let lacked: std::collections::HashSet<_> =
        next_mut.get_changes(&before).iter().map(|c| c.hash()).collect();
    assert_eq!(new, lacked, "the changes to store are not the ones the relay lacked");
    let mut stored: std::collections::HashSet<_> = std::collections::HashSet::new();
    for c in &checked.new {
        assert!(
            c.deps()
                .iter()
                .all(|d| stored.contains(d) || base.clone().get_change_by_hash(d).is_some() && !as_new),
            "a change to store comes before one it builds on"
        );
        stored.insert(c.hash());
    }
    // Idempotent: the same push again stores nothing. A push let in only in part is refused
    // for the same reason the second time, since what it let in is held now.
    match relay_check(Some(&next), f.doc, &changes, &carried, f.device, unit) {
        Ok(again) => {
            assert!(again.new.is_empty(), "the same push again stores nothing");
            assert_eq!(again.doc.clone().get_heads(), next_mut.get_heads());
        }
        Err(again) => {
            let first = refused.expect("the same push again refused though the first was let in whole");
            assert_eq!(again.code, first.code, "the same push again refused for another reason");
        }
    }
}

/// Changes made by editing a copy of `base` (or a new document) with the ops the input spells.
fn edited_changes(base: &AutoCommit, input: &mut Input<'_>, as_new: bool) -> Vec<Vec<u8>> {
    let f = fixture();
    // A new document is written by the pushing device from scratch.
    let mut d = if as_new {
        let mut d = AutoCommit::new().with_actor(f.device.actor_id());
        autosurgeon::reconcile(&mut d, &f.report).expect("the fixture reconciles");
        d
    } else {
        base.clone()
    };
    let start = if as_new { Vec::new() } else { d.get_heads() };
    d.set_actor(f.device.actor_id());
    for _ in 0..32 {
        if input.data.is_empty() {
            break;
        }
        let op = input.byte();
        let sections = child(&d, &ROOT, "sections");
        let figures = child(&d, &ROOT, "figures");
        let header = child(&d, &ROOT, "header");
        let _ = match op % 16 {
            0 | 1 | 2 => {
                // Splice a section's text.
                let Some(s) = sections.as_ref().and_then(|l| element(&d, l, usize::from(input.byte() % 3)))
                else {
                    continue;
                };
                let Some(body) = child(&d, &s, "body") else { continue };
                let len = d.length(&body);
                let at = usize::from(input.byte()) % (len + 1);
                let del = isize::from(input.byte() % 4).min((len - at) as isize);
                let text = input.text();
                d.splice_text(&body, at, del, &text)
            }
            3 => d.put(&ROOT, "title", input.text()),
            4 => {
                let key =
                    ["owner", "kind", "id", "schema_version", "audience"][usize::from(input.byte() % 5)];
                let Some(h) = header else { continue };
                match input.byte() % 3 {
                    0 => d.put(&h, key, ScalarValue::Bytes(input.bytes(16).to_vec())),
                    1 => d.put(&h, key, input.text()),
                    _ => d.put(&h, key, ScalarValue::Uint(input.int() as u64)),
                }
            }
            5 => {
                // A new figure, maybe negative, maybe a duplicate indicator.
                let Some(l) = figures else { continue };
                let at = d.length(&l);
                match d.insert_object(&l, at, ObjType::Map) {
                    Ok(m) => {
                        let ind = if input.byte() % 2 == 0 {
                            "quy_vi_nguoi_ngheo_vnd".into()
                        } else {
                            input.text()
                        };
                        let _ = d.put(&m, "indicator", ind);
                        let _ = d.put(&m, "value", input.int());
                        let _ = d.put(
                            &m,
                            "unit",
                            ["Vnd", "Houses", "People", "Items", "Bogus"][usize::from(input.byte() % 5)],
                        );
                        let _ = d.put(&m, "qualifier", "Under");
                        let _ = d.put(&m, "scope", "Cumulative");
                        d.put(&m, "note", input.text())
                    }
                    Err(e) => Err(e),
                }
            }
            6 => match sections {
                Some(l) if d.length(&l) > 0 => d.delete(&l, usize::from(input.byte()) % d.length(&l)),
                _ => continue,
            },
            7 => {
                let key = input.text();
                d.put(&ROOT, key.as_str(), input.int())
            }
            8 => {
                d.commit();
                Ok(())
            }
            9 => {
                // Write as the sibling device, as the genesis actor, or as the device.
                let actor = match input.byte() % 3 {
                    0 => f.sibling.actor_id(),
                    1 => ActorId::from(f.doc.to_bytes().as_slice()),
                    _ => f.device.actor_id(),
                };
                d.commit();
                d.set_actor(actor);
                Ok(())
            }
            10 => d.put(&ROOT, "submitted_at_device", input.text()),
            11 => {
                let Some(l) = sections else { continue };
                match d.insert_object(&l, 0, ObjType::Map) {
                    Ok(m) => {
                        let _ = d.put(
                            &m,
                            "key",
                            if input.byte() % 2 == 0 { "ket_qua".into() } else { input.text() },
                        );
                        let _ = d.put(&m, "heading", input.text());
                        d.put_object(&m, "body", ObjType::Text).map(|_| ())
                    }
                    Err(e) => Err(e),
                }
            }
            12 => d.put_object(&ROOT, "sections", ObjType::Map).map(|_| ()),
            13 => match figures {
                Some(l) if d.length(&l) > 0 => {
                    let i = usize::from(input.byte()) % d.length(&l);
                    match element(&d, &l, i) {
                        Some(m) => d.put(&m, "value", input.int()),
                        None => continue,
                    }
                }
                _ => continue,
            },
            14 => d.delete(&ROOT, "header"),
            _ => d.put(&ROOT, "kind", input.text()),
        };
    }
    d.commit();
    let mut changes: Vec<Vec<u8>> =
        d.get_changes(&start).into_iter().map(|c| c.raw_bytes().to_vec()).collect();
    // Damage: drop one (missing dependencies), swap two, or flip a bit.
    match input.byte() % 8 {
        0 if !changes.is_empty() => {
            changes.remove(0);
        }
        1 if changes.len() > 1 => changes.swap(0, 1),
        2 if !changes.is_empty() => {
            let c = &mut changes[0];
            let i = usize::from(input.byte()) % c.len().max(1);
            if let Some(b) = c.get_mut(i) {
                *b ^= 1 << (input.byte() % 8);
            }
        }
        _ => {}
    }
    changes
}

/// Seed inputs from real frames and edit programs: (target, file name, bytes).
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    use giaoban_protocol::wire::{
        ChangeMeta, DocAck, DocChanges, DocHeads, DocReject, Epoch, RejectCode, RelayChanges, SyncRequest,
        SyncResponse, Voucher, Witness,
    };
    let f = fixture();
    let mut d = AutoCommit::load(&f.saved).expect("the fixture loads");
    let changes: Vec<Vec<u8>> = d.get_changes(&[]).into_iter().map(|c| c.raw_bytes().to_vec()).collect();
    let heads: Vec<[u8; 32]> = d.get_heads().iter().map(|h| h.0).collect();
    let big: Vec<Vec<u8>> = (0..40).map(|_| changes[0].clone()).collect();
    let req = |push: Vec<Vec<u8>>, have: bool| {
        wire::encode(&DeviceMessage::Sync(SyncRequest {
            epoch: Some(Epoch(7)),
            cursor: 42,
            witness: Witness { pos: 42, digest: [3; 16] },
            own_held: 40,
            push: vec![DocChanges {
                doc: f.doc,
                changes: push,
                vouchers: vec![Voucher { hash: heads[0], received_at: 1_767_600_000_000, seal: [5; 16] }],
            }],
            page_bytes: 256 * 1024,
            have: if have { vec![DocHeads { doc: f.doc, heads: heads.clone() }] } else { vec![] },
            refetch: vec![f.doc],
        }))
    };
    let resp = |changes: Vec<Vec<u8>>| {
        let meta = vec![ChangeMeta { received_at: 1_767_600_000_000, seal: Some([9; 16]) }; changes.len()];
        wire::encode(&RelayMessage::Sync(SyncResponse {
            epoch: Epoch(7),
            now: 1_767_600_000_000,
            acks: vec![DocAck {
                doc: f.doc,
                heads: heads.clone(),
                vouchers: vec![Voucher { hash: heads[0], received_at: 1_767_600_000_000, seal: [5; 16] }],
            }],
            rejects: vec![DocReject {
                doc: f.doc,
                code: RejectCode::NotOwner,
                reason: "chỉ đơn vị sở hữu".into(),
            }],
            changes: vec![RelayChanges { doc: f.doc, changes, meta }],
            cursor: 99,
            witness: Witness { pos: 120, digest: [4; 16] },
            own_held: 80,
            more: true,
            wanted: vec![f.doc],
            reconcile: true,
        }))
    };
    let empty = wire::encode(&DeviceMessage::Sync(SyncRequest {
        epoch: None,
        cursor: 0,
        witness: Witness::default(),
        own_held: 0,
        push: vec![],
        page_bytes: 0,
        have: vec![],
        refetch: vec![],
    }));
    let mut out = vec![
        ("wire_decode", "request-empty".to_string(), empty),
        ("wire_decode", "request-push".into(), req(changes.clone(), false)),
        ("wire_decode", "request-reconcile".into(), req(changes.clone(), true)),
        ("wire_decode", "request-compressed".into(), req(big.clone(), false)),
        ("wire_decode", "answer".into(), resp(changes.clone())),
        ("wire_decode", "answer-compressed".into(), resp(big)),
    ];
    // Edit programs: splices, a figure, a header change, raw change bytes.
    out.push(("check_push", "splice".into(), vec![0, 0, 0, 5, 0, 6, b'x', 0xc3, 0xa2, b'y', 0xe1, 0xbb]));
    out.push((
        "check_push",
        "figure".into(),
        vec![0, 5, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1],
    ));
    out.push(("check_push", "header".into(), vec![0, 4, 0, 0, 1, 2, 3]));
    out.push(("check_push", "foreign".into(), vec![0, 9, 0, 0, 0, 0, 3, b'a', b'b', b'c']));
    out.push(("check_push", "new".into(), vec![1, 3, 4, b'B', b'C', b'x', b'y']));
    let mut raw = vec![2u8];
    for c in &changes {
        raw.push((c.len() / 4) as u8);
        raw.extend_from_slice(c);
    }
    out.push(("check_push", "raw".into(), raw));
    out
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// Writes the seed inputs to `GIAOBAN_FUZZ_WRITE_SEEDS`/<target>/ when that is set; always
    /// runs each through its target.
    #[test]
    fn seed_inputs() {
        for (target, name, bytes) in super::seeds() {
            if target == "wire_decode" {
                super::wire_decode(&bytes);
            } else {
                super::check_push(&bytes);
            }
            if let Ok(dir) = std::env::var("GIAOBAN_FUZZ_WRITE_SEEDS") {
                let dir = std::path::Path::new(&dir).join(target);
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    }

    /// Every committed seed, including inputs that once found a bug (`regression-*`).
    #[test]
    fn committed_seeds() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        for (target, run) in
            [("wire_decode", super::wire_decode as fn(&[u8])), ("check_push", super::check_push)]
        {
            for entry in std::fs::read_dir(root.join(target)).unwrap() {
                run(&std::fs::read(entry.unwrap().path()).unwrap());
            }
        }
    }

    /// Without libFuzzer: the same bodies over seeded random inputs.
    #[test]
    fn random_inputs() {
        let n: usize = std::env::var("GIAOBAN_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..n {
            let len = rng.random_range(0..256);
            let data: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            super::wire_decode(&data);
            super::check_push(&data);
        }
    }
}
