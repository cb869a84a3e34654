//! A deterministic simulation of devices and the relay over a faulty network, with no sockets.
//!
//! Devices are real [`Store`]s on SQLite files driven through the sans-IO sync steps
//! (`sync_session`, `prepare_sync`, `wire::encode`/`decode`, `apply_sync_response`); the relay is
//! the real [`giaoban_relay::app`] router over a [`RelayStore`] in a temporary folder, called
//! directly with `tower::ServiceExt::oneshot`. One seeded RNG decides everything: who edits
//! what, who syncs when, and what the network does to each message (lose a request before the
//! relay sees it, lose an answer after the relay committed, cut a body short, hold an answer back
//! and deliver it after newer ones, replay a request later). After the network heals, every
//! replica must hold the same documents as the relay and every edit must be there exactly once.
//!
//! Device ids are derived from the seed, so a seed replays the same schedule and the same
//! Automerge actors; document ids are UUIDv7 and differ between runs, which changes no decision.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use automerge::{AutoCommit, ChangeHash};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::schema::{FigureScope, MeasureUnit, ReportKind, Verdict};
use giaoban_client_core::protocol::session::{DeviceSession, Sent};
use giaoban_client_core::protocol::wire::{self, DeviceMessage, EnrollRequest, Enrolled, RelayMessage};
use giaoban_client_core::protocol::{DeviceId, DocId, DocKind, Timestamp, UnitId};
use giaoban_client_core::{
    Clock, CoreError, FigureInput, NewReport, NewSection, Store, StoreOptions, SyncReport,
};
use giaoban_relay::{AppState, Config, RelayStore};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tower::ServiceExt;

/// How often each fault happens, per message.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    /// A request lost before it reaches the relay.
    pub lose_request: f64,
    /// A request cut short on its way (the relay sees a truncated body).
    pub cut_request: f64,
    /// An answer lost after the relay committed.
    pub lose_answer: f64,
    /// An answer cut short.
    pub cut_answer: f64,
    /// An answer held back, to be delivered later (after newer ones).
    pub hold_answer: f64,
    /// A request kept to be replayed to the relay later.
    pub keep_for_replay: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            lose_request: 0.10,
            cut_request: 0.05,
            lose_answer: 0.12,
            cut_answer: 0.06,
            hold_answer: 0.08,
            keep_for_replay: 0.10,
        }
    }
}

/// What one seed did.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Actions taken (edits, sends, deliveries) before the network healed.
    pub steps: u32,
    /// Edits made on devices.
    pub edits: u32,
    /// Of those, acknowledged by the relay while the network was faulty.
    pub acked_edits: u32,
    /// Round trips whose answer was applied.
    pub applied: u32,
    /// Faults injected, by kind.
    pub faults: BTreeMap<&'static str, u32>,
    /// Documents on the relay at the end.
    pub documents: usize,
}

/// The real relay router over a store in a temporary folder, on a single-threaded runtime.
struct SimRelay {
    rt: tokio::runtime::Runtime,
    router: Router,
    store: RelayStore,
}

impl SimRelay {
    fn new(dir: &Path) -> (SimRelay, Vec<UnitId>) {
        let store = RelayStore::open(dir).unwrap();
        let org = store.create_units_from_reference("Đồng Nai").unwrap();
        let config =
            Config { data_dir: dir.to_path_buf(), max_syncs_per_minute: 1_000_000, ..Config::default() };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let state = AppState::new(store.clone(), config).unwrap();
        let router = giaoban_relay::app(state);
        (SimRelay { rt, router, store }, org.units.iter().map(|u| u.id).collect())
    }

    fn call(&self, req: Request<Body>) -> (StatusCode, Vec<u8>) {
        self.rt.block_on(async {
            let resp = self.router.clone().oneshot(req).await.unwrap();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
            (status, body.to_vec())
        })
    }

    fn sync(&self, token: &str, frame: Vec<u8>) -> (StatusCode, Vec<u8>) {
        let req = Request::post("/v1/sync")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/x-giaoban")
            .body(Body::from(frame))
            .unwrap();
        self.call(req)
    }

    fn enroll(&self, unit: UnitId, device: DeviceId, label: &str) -> Enrolled {
        let code = self.store.create_enrollment(unit, 1).unwrap();
        let body =
            serde_json::to_vec(&EnrollRequest { code: code.code, device, label: label.into() }).unwrap();
        let req = Request::post("/v1/enroll")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        let (status, body) = self.call(req);
        assert_eq!(status, StatusCode::OK, "enroll: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }

    /// Every document the relay holds: its heads and the units that may read it.
    fn documents(&self) -> BTreeMap<DocId, (Vec<ChangeHash>, BTreeSet<UnitId>)> {
        self.store
            .read(|c| {
                let mut out = BTreeMap::new();
                let mut docs = c.prepare("SELECT n, id FROM docs")?;
                let rows: Vec<(i64, Vec<u8>)> =
                    docs.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
                for (n, id) in rows {
                    let mut doc = AutoCommit::new();
                    let mut ch = c.prepare("SELECT bytes FROM changes WHERE doc = ?1 ORDER BY seq")?;
                    let changes: Vec<automerge::Change> = ch
                        .query_map([n], |r| r.get::<_, Vec<u8>>(0))?
                        .map(|b| automerge::Change::from_bytes(b.unwrap()).unwrap())
                        .collect();
                    doc.apply_changes(changes).unwrap();
                    let mut heads = doc.get_heads();
                    heads.sort();
                    let mut rd = c.prepare("SELECT unit FROM readers WHERE doc = ?1")?;
                    let readers = rd
                        .query_map([n], |r| r.get::<_, Vec<u8>>(0))?
                        .map(|b| UnitId::from_slice(&b.unwrap()).unwrap())
                        .collect();
                    out.insert(DocId::from_slice(&id).unwrap(), (heads, readers));
                }
                Ok(out)
            })
            .unwrap()
    }

    /// Whether the relay stores the change `hash` of `doc`.
    fn has_change(&self, doc: DocId, hash: &ChangeHash) -> bool {
        self.store
            .read(|c| {
                Ok(c.query_row(
                    "SELECT count(*) FROM changes c JOIN docs d ON d.n = c.doc WHERE d.id = ?1 AND c.hash = ?2",
                    rusqlite::params![doc.to_bytes().to_vec(), hash.0.to_vec()],
                    |r| r.get::<_, i64>(0),
                )? > 0)
            })
            .unwrap()
    }
}

/// An answer on its way back to a device, and what the device had written when it asked.
struct Pending {
    body: Vec<u8>,
    /// How many of this device's edits existed when the request was prepared.
    edits_before: usize,
    /// What the request carried.
    sent: Sent,
    /// When it left (device clock).
    sent_at: Timestamp,
}

struct Device {
    name: String,
    unit: UnitId,
    store: Store,
    token: String,
    /// The sync in progress (sessions live in memory during a sync, as in `sync_now`).
    session: Option<DeviceSession>,
    /// The answer to the request in flight: `None` inside when it was lost.
    in_flight: Option<Option<Pending>>,
    /// Answers held back by the network, delivered later.
    held: Vec<Pending>,
}

/// One edit: which device, which document, the heads right after it, and for section splices
/// the words inserted (which must appear exactly once everywhere in the end).
struct Edit {
    device: usize,
    doc: DocId,
    heads: Vec<ChangeHash>,
    words: Option<(String, String)>,
    acked: bool,
}

const PHRASES: &[&str] = &[
    "Vận động Quỹ Vì người nghèo được gần 850 triệu đồng",
    "Xây dựng 3 căn nhà Đại đoàn kết cho hộ khó khăn",
    "Tổ chức hội nghị giao ban tại Nhà văn hóa khu phố",
    "Rà soát 12 mô hình, nhân rộng mô hình hiệu quả",
    "Phối hợp Đoàn Thanh niên, Hội Phụ nữ, Hội Nông dân",
    "Kết nạp hơn 20 đoàn viên, hội viên mới",
    "Đề nghị Ủy ban MTTQ thành phố hỗ trợ kinh phí",
];

const SECTIONS: &[(&str, &str)] =
    &[("ket_qua", "Kết quả"), ("han_che", "Hạn chế"), ("kien_nghi", "Kiến nghị")];

struct Sim {
    rng: StdRng,
    relay: SimRelay,
    units: Vec<UnitId>,
    devices: Vec<Device>,
    edits: Vec<Edit>,
    /// Request frames kept for a later replay, with the device that sent them.
    replays: Vec<(usize, Vec<u8>, Sent)>,
    faults: Faults,
    out: Outcome,
    clock: Arc<AtomicI64>,
    dir: std::path::PathBuf,
    /// The network no longer fails.
    healed: bool,
}

fn device_id(seed: u64, i: usize) -> DeviceId {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&seed.to_le_bytes());
    b[8..].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    DeviceId::from_bytes(b)
}

/// Opens a store at `path` whose device id is `id` (the store picks a random one on creation;
/// the simulation fixes it so a seed replays the same actors).
fn open_device(path: &Path, id: DeviceId, clock: &Arc<AtomicI64>) -> Store {
    drop(Store::open(path).unwrap());
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute("UPDATE meta SET value = ?1 WHERE key = 'device'", [id.to_bytes().to_vec()]).unwrap();
    drop(conn);
    let c = clock.clone();
    let opts = StoreOptions {
        clock: Clock::from_fn(move || Timestamp(c.load(Ordering::Relaxed))),
        compact_after: 8,
        ..StoreOptions::default()
    };
    let store = Store::open_with(path, opts).unwrap();
    assert_eq!(store.device_id(), id);
    store
}

impl Sim {
    fn count(&mut self, fault: &'static str) {
        *self.out.faults.entry(fault).or_default() += 1;
    }

    fn add_device(&mut self, seed: u64, unit_index: usize, name: &str) -> usize {
        let i = self.devices.len();
        let id = device_id(seed, i);
        let mut store = open_device(&self.dir.join(format!("{name}.sqlite")), id, &self.clock);
        let enrolled = self.relay.enroll(self.units[unit_index], id, name);
        store.set_unit(enrolled.unit).unwrap();
        self.devices.push(Device {
            name: name.into(),
            unit: enrolled.unit,
            store,
            token: enrolled.token,
            session: None,
            in_flight: None,
            held: Vec::new(),
        });
        i
    }

    fn record(&mut self, device: usize, doc: DocId, words: Option<(String, String)>) {
        let heads = self.devices[device].store.heads(doc).unwrap();
        self.edits.push(Edit { device, doc, heads, words, acked: false });
        self.out.edits += 1;
    }

    fn words(&mut self, device: usize) -> String {
        let phrase = PHRASES[self.rng.random_range(0..PHRASES.len())];
        // A tag without spaces: splices land only after a space, so no later edit splits it.
        format!(" {phrase} [d{device}.{}]", self.edits.len())
    }

    /// Documents of `kind` this device holds, in the order it received them.
    fn docs(&mut self, device: usize, kind: DocKind, own: bool) -> Vec<DocId> {
        let d = &mut self.devices[device];
        let ids = d.store.document_ids(Some(kind)).unwrap();
        ids.into_iter().filter(|id| !own || d.store.header(*id).is_ok_and(|h| h.owner == d.unit)).collect()
    }

    fn pick(&mut self, ids: &[DocId]) -> Option<DocId> {
        if ids.is_empty() { None } else { Some(ids[self.rng.random_range(0..ids.len())]) }
    }

    /// One random edit by `device`, if it has something to edit.
    fn edit(&mut self, device: usize) {
        let is_city = self.devices[device].unit == self.units[0];
        if is_city { self.city_edit(device) } else { self.ward_edit(device) }
    }

    fn city_edit(&mut self, device: usize) {
        let directives = self.docs(device, DocKind::Directive, true);
        let choice = self.rng.random_range(0..10);
        if directives.is_empty() || choice < 2 {
            let wards = self.units[1..4].to_vec();
            let id =
                self.devices[device].store.issue_directive(dispatch_305(wards, "08/02/2030", "11/02/2030"));
            let id = id.unwrap();
            self.record(device, id, None);
        } else if choice < 5 {
            let d = self.pick(&directives).unwrap();
            let subject = format!("V/v thực hiện Thông báo số {}-TB/TU của BTV Thành ủy", self.edits.len());
            self.devices[device].store.set_directive_subject(d, &subject).unwrap();
            self.record(device, d, None);
        } else {
            // Review a submitted report addressed to the city.
            let reports = self.docs(device, DocKind::Report, false);
            let Some(r) = self.pick(&reports) else { return };
            let (verdict, note) = if self.rng.random_bool(0.5) {
                (Verdict::Accepted, "")
            } else {
                (Verdict::Returned, "Bổ sung số liệu mô hình giải thể.")
            };
            match self.devices[device].store.review_report(r, verdict, note) {
                Ok(id) => self.record(device, id, None),
                Err(CoreError::Invalid(_)) => {} // still a draft
                Err(e) => panic!("review: {e}"),
            }
        }
    }

    fn ward_edit(&mut self, device: usize) {
        let directives = self.docs(device, DocKind::Directive, false);
        let Some(directive) = self.pick(&directives) else { return };
        let reports = self.docs(device, DocKind::Report, true);
        let choice = self.rng.random_range(0..12);
        let store = &mut self.devices[device].store;
        if choice < 2 {
            let ordinal = self.rng.random_range(1..=4);
            store.acknowledge_task(directive, ordinal).unwrap();
            let id = store.response(directive).unwrap().header.id;
            self.record(device, id, None);
        } else if choice < 3 {
            let note = format!("Đang triển khai đợt {}", self.edits.len());
            store.update_task_progress(directive, self.rng.random_range(1..=4), &note).unwrap();
            let id = store.response(directive).unwrap().header.id;
            self.record(device, id, None);
        } else if reports.is_empty() || choice < 4 {
            let input = NewReport {
                title: "Báo cáo kết quả rà soát các mô hình của Mặt trận".into(),
                kind: ReportKind::Thematic,
                period: "quý I/2030".into(),
                answers: Some((directive, 3)),
                audience: vec![],
                sections: SECTIONS
                    .iter()
                    .map(|(k, h)| NewSection {
                        key: (*k).into(),
                        heading: (*h).into(),
                        body: "Tình hình:".into(),
                    })
                    .collect(),
            };
            let id = store.create_report(input).unwrap();
            self.record(device, id, None);
        } else if choice < 10 {
            let r = self.pick(&reports).unwrap();
            let (key, _) = SECTIONS[self.rng.random_range(0..SECTIONS.len())];
            let words = self.words(device);
            let store = &mut self.devices[device].store;
            let body = store
                .report(r)
                .unwrap()
                .sections
                .iter()
                .find(|s| s.key == key)
                .unwrap()
                .body
                .as_str()
                .to_owned();
            let chars: Vec<char> = body.chars().collect();
            let spots: Vec<usize> =
                (0..=chars.len()).filter(|&i| i == chars.len() || (i > 0 && chars[i - 1] == ' ')).collect();
            let at = spots[self.rng.random_range(0..spots.len())];
            let store = &mut self.devices[device].store;
            store.splice_report_section(r, key, at, 0, &words).unwrap();
            let tag = words.rsplit(' ').next().unwrap().to_owned();
            self.record(device, r, Some((key.to_owned(), tag)));
        } else if choice < 11 {
            let r = self.pick(&reports).unwrap();
            let amount =
                ["gần 850 triệu", "hơn 20 triệu", "6,4 tỷ", "khoảng 93"][self.rng.random_range(0..4)];
            let input = FigureInput {
                indicator: "ung_ho_quy_vnd".into(),
                amount: amount.into(),
                unit: MeasureUnit::Vnd,
                scope: FigureScope::Cumulative,
                note: String::new(),
            };
            self.devices[device].store.set_report_figure(r, input).unwrap();
            self.record(device, r, None);
        } else {
            let r = self.pick(&reports).unwrap();
            let store = &mut self.devices[device].store;
            store.submit_report(r).unwrap();
            let answered = store.report(r).unwrap().directive;
            self.record(device, r, None);
            // Submitting also marks the answered task in this unit's response.
            if let Some(id) = answered.and_then(|d| self.devices[device].store.response(d).ok()) {
                self.record(device, id.header.id, None);
            }
        }
    }
}

impl Sim {
    /// Sends `i`'s next request through the network; the answer waits in flight.
    fn send(&mut self, i: usize) {
        let edits_before = self.edits.len();
        let d = &mut self.devices[i];
        let session = match d.session.take() {
            Some(s) => s,
            None => d.store.sync_session().unwrap(),
        };
        let (req, sent) = d.store.prepare_sync(&session).unwrap();
        let sent_at = d.store.now();
        d.session = Some(session);
        let frame = wire::encode(&DeviceMessage::Sync(req));
        let roll: f64 = self.rng.random();
        let f = self.faults;
        if roll < f.lose_request {
            self.count("request lost");
            self.devices[i].in_flight = Some(None);
        } else if roll < f.lose_request + f.cut_request {
            self.count("request cut short");
            let keep = self.rng.random_range(0..frame.len());
            let (status, body) = self.relay.sync(&self.devices[i].token, frame[..keep].to_vec());
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "a request cut to {keep} of {} bytes: {}",
                frame.len(),
                String::from_utf8_lossy(&body)
            );
            self.devices[i].in_flight = Some(None);
        } else {
            if self.rng.random_bool(f.keep_for_replay) {
                self.replays.push((i, frame.clone(), sent.clone()));
            }
            let (status, body) = self.relay.sync(&self.devices[i].token, frame);
            assert_eq!(
                status,
                StatusCode::OK,
                "{}: {}",
                self.devices[i].name,
                String::from_utf8_lossy(&body)
            );
            self.devices[i].in_flight = Some(Some(Pending { body, edits_before, sent, sent_at }));
        }
    }

    /// Delivers (or not) the answer in flight to `i`.
    fn deliver(&mut self, i: usize) {
        let Some(pending) = self.devices[i].in_flight.take() else { return };
        let Some(p) = pending else {
            self.devices[i].session = None;
            return;
        };
        let roll: f64 = self.rng.random();
        let f = self.faults;
        if roll < f.lose_answer {
            self.count("answer lost after commit");
            self.devices[i].session = None;
        } else if roll < f.lose_answer + f.cut_answer {
            self.count("answer cut short");
            let keep = self.rng.random_range(0..p.body.len());
            let cut = wire::decode::<RelayMessage>(&p.body[..keep]);
            assert!(cut.is_err(), "an answer cut to {keep} of {} bytes was read as whole", p.body.len());
            self.devices[i].session = None;
        } else if roll < f.lose_answer + f.cut_answer + f.hold_answer {
            self.count("answer held back");
            self.devices[i].held.push(p);
            self.devices[i].session = None;
        } else {
            let mut session = self.devices[i].session.take().unwrap();
            if self.apply(i, p, &mut session) {
                self.devices[i].session = Some(session);
            }
        }
    }

    /// Delivers an answer the network held back, after newer ones, into `i`'s saved session.
    fn deliver_held(&mut self, i: usize) {
        if self.devices[i].held.is_empty() {
            return;
        }
        let k = self.rng.random_range(0..self.devices[i].held.len());
        let p = self.devices[i].held.remove(k);
        self.count("stale answer delivered");
        let mut session = self.devices[i].store.sync_session().unwrap();
        self.apply(i, p, &mut session);
    }

    /// Replays a request the network kept; its answer is lost or delivered late.
    fn replay(&mut self) {
        if self.replays.is_empty() {
            return;
        }
        let k = self.rng.random_range(0..self.replays.len());
        let (i, frame, sent) = self.replays.remove(k);
        self.count("request replayed");
        let (status, body) = self.relay.sync(&self.devices[i].token, frame);
        assert_eq!(status, StatusCode::OK, "replay: {}", String::from_utf8_lossy(&body));
        if self.rng.random_bool(0.5) {
            let sent_at = self.devices[i].store.now();
            self.devices[i].held.push(Pending { body, edits_before: 0, sent, sent_at });
        }
    }

    /// Applies an answer; returns whether the device should ask again.
    fn apply(&mut self, i: usize, p: Pending, session: &mut DeviceSession) -> bool {
        let RelayMessage::Sync(resp) = wire::decode(&p.body).unwrap();
        assert!(resp.rejects.is_empty(), "{}: the relay refused {:?}", self.devices[i].name, resp.rejects);
        for ack in &resp.acks {
            for h in &ack.heads {
                assert!(
                    self.relay.has_change(ack.doc, &ChangeHash(*h)),
                    "acknowledged heads not on the relay"
                );
            }
            for e in self.edits[..p.edits_before].iter_mut() {
                if e.device == i && e.doc == ack.doc && !e.acked {
                    e.acked = true;
                    if !self.healed {
                        self.out.acked_edits += 1;
                    }
                    for h in &e.heads {
                        assert!(self.relay.has_change(e.doc, h), "an acknowledged edit is not on the relay");
                    }
                }
            }
        }
        let mut report = SyncReport::default();
        let again = self.devices[i]
            .store
            .apply_sync_response(session, resp, &p.sent, p.sent_at, &mut report)
            .unwrap();
        self.out.applied += 1;
        again
    }

    /// A whole sync over a clean network. Returns whether anything moved.
    fn clean_sync(&mut self, i: usize) -> bool {
        let mut moved = false;
        let mut session = self.devices[i].store.sync_session().unwrap();
        for _ in 0..1000 {
            let edits_before = self.edits.len();
            let (req, sent) = self.devices[i].store.prepare_sync(&session).unwrap();
            let sent_at = self.devices[i].store.now();
            moved |= !req.push.is_empty();
            let (status, body) =
                self.relay.sync(&self.devices[i].token, wire::encode(&DeviceMessage::Sync(req)));
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
            let RelayMessage::Sync(resp) = wire::decode(&body).unwrap();
            moved |= !resp.changes.is_empty();
            if !self.apply(i, Pending { body, edits_before, sent, sent_at }, &mut session) {
                return moved;
            }
        }
        panic!("{}: a sync over a clean network did not finish", self.devices[i].name);
    }

    /// Checks that `d` holds exactly the relay's version of everything its unit may read.
    fn check_replica(relay_docs: &BTreeMap<DocId, (Vec<ChangeHash>, BTreeSet<UnitId>)>, d: &mut Device) {
        let mine: BTreeSet<DocId> = d.store.document_ids(None).unwrap().into_iter().collect();
        let readable: BTreeSet<DocId> =
            relay_docs.iter().filter(|(_, (_, r))| r.contains(&d.unit)).map(|(id, _)| *id).collect();
        assert_eq!(mine, readable, "{} holds other documents than its unit may read on the relay", d.name);
        for id in mine {
            let mut heads = d.store.heads(id).unwrap();
            heads.sort();
            assert_eq!(heads, relay_docs[&id].0, "{}: document {id} differs from the relay's", d.name);
        }
        assert_eq!(d.store.pending_changes_count().unwrap(), 0, "{} still has changes to push", d.name);
    }
}

/// Steps before the network heals, per seed.
pub const STEPS: u32 = 300;

/// Runs one seed: devices of the city and three wards edit and sync over a faulty network for
/// [`STEPS`] actions, then the network heals and everything is checked. Panics with the reason
/// on any failure.
pub fn run_seed(seed: u64, faults: Faults) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let (relay, units) = SimRelay::new(&dir.path().join("relay"));
    let clock = Arc::new(AtomicI64::new(1_767_600_000_000)); // 2026-01-05
    let mut sim = Sim {
        rng: StdRng::seed_from_u64(seed),
        relay,
        units,
        devices: Vec::new(),
        edits: Vec::new(),
        replays: Vec::new(),
        faults,
        out: Outcome::default(),
        clock,
        dir: dir.path().to_path_buf(),
        healed: false,
    };
    sim.add_device(seed, 0, "thanh-pho");
    sim.add_device(seed, 1, "phuong-1-lan");
    sim.add_device(seed, 1, "phuong-1-duc");
    sim.add_device(seed, 2, "xa-2");
    sim.add_device(seed, 3, "xa-3");
    // The city issues a first directive; the rest is up to the dice.
    sim.city_edit(0);
    let n = sim.devices.len();
    for _ in 0..STEPS {
        let i = sim.rng.random_range(0..n);
        match sim.rng.random_range(0..100) {
            0..30 => sim.edit(i),
            30..62 => {
                if sim.devices[i].in_flight.is_none() {
                    sim.send(i)
                } else {
                    sim.deliver(i)
                }
            }
            62..88 => sim.deliver(i),
            88..94 => sim.deliver_held(i),
            _ => sim.replay(),
        }
        sim.out.steps += 1;
        let dt = sim.rng.random_range(1..60_000);
        sim.clock.fetch_add(dt, Ordering::Relaxed);
    }
    // The network heals: what was in flight is gone; everyone syncs until nothing moves.
    sim.healed = true;
    for d in &mut sim.devices {
        d.in_flight = None;
        d.held.clear();
        d.session = None;
    }
    let mut quiet = false;
    for _ in 0..5 {
        let mut moved = false;
        for i in 0..n {
            moved |= sim.clean_sync(i);
        }
        if !moved {
            quiet = true;
            break;
        }
    }
    assert!(quiet, "still moving after 5 clean rounds");
    let relay_docs = sim.relay.documents();
    for d in &mut sim.devices {
        Sim::check_replica(&relay_docs, d);
    }
    for e in &sim.edits {
        for h in &e.heads {
            assert!(
                sim.relay.has_change(e.doc, h),
                "an edit by {} is not on the relay",
                sim.devices[e.device].name
            );
        }
    }
    // Every inserted passage is in the report exactly once, on every device that reads it.
    for e in &sim.edits {
        let Some((key, tag)) = &e.words else { continue };
        for d in &mut sim.devices {
            if !relay_docs[&e.doc].1.contains(&d.unit) {
                continue;
            }
            let report = d.store.report(e.doc).unwrap();
            let body = report.sections.iter().find(|s| &s.key == key).unwrap().body.as_str().to_owned();
            assert_eq!(body.matches(tag.as_str()).count(), 1, "{}: {tag} in '{body}'", d.name);
        }
    }
    // A new device of each unit gets exactly the relay's view.
    let units: Vec<UnitId> = sim.units[..4].to_vec();
    for (k, unit) in units.into_iter().enumerate() {
        let i = sim.add_device(seed, k, &format!("moi-{k}"));
        assert_eq!(sim.devices[i].unit, unit);
        sim.clean_sync(i);
        Sim::check_replica(&relay_docs, &mut sim.devices[i]);
    }
    sim.out.documents = relay_docs.len();
    sim.out
}

/// Runs `seed`, turning a panic into the message that names the seed and how to replay it.
pub fn run_seed_reporting(seed: u64, faults: Faults) -> Result<Outcome, String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| run_seed(seed, faults))).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        format!(
            "seed {seed} failed: {msg}\nreplay: GIAOBAN_SEED={seed} cargo test -p giaoban-e2e --test simulation -- --nocapture"
        )
    })
}
