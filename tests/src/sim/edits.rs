//! What the devices write: directives, subjects and reviews at the city; acknowledgements,
//! progress, tasks marked not applicable, reports with Vietnamese text, figures and submissions
//! at the wards. Every store call is fallible, so an edit can run with a storage fault armed:
//! an edit is recorded only once the call that made it returned `Ok`.

use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::DocId;
use giaoban_client_core::protocol::DocKind;
use giaoban_client_core::protocol::schema::{FigureScope, MeasureUnit, ReportKind, Response, Verdict};
use giaoban_client_core::{CoreError, FigureInput, NewReport, NewSection};
use rand::Rng;

use super::{Edit, Sim};

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

type Result<T = ()> = std::result::Result<T, CoreError>;

impl Sim {
    /// Records an edit of `doc` by `device` that returned `Ok`, with the heads right after it.
    fn record(&mut self, device: usize, doc: DocId, words: Option<(String, String)>) -> Result {
        let heads = self.devices[device].store().heads(doc)?;
        self.note(|| {
            let h: Vec<String> = heads.iter().map(|h| h.to_string()[..8].to_owned()).collect();
            format!("{} edited {doc} -> {h:?}", self.devices[device].name)
        });
        self.edits.push(Edit { device, doc, heads, words, acked: false });
        self.out.edits += 1;
        Ok(())
    }

    fn words(&mut self, device: usize) -> String {
        let phrase = PHRASES[self.rng.random_range(0..PHRASES.len())];
        // A tag without spaces: splices land only after a space, so no later edit splits it.
        format!(" {phrase} [d{device}.{}]", self.edits.len())
    }

    /// Documents of `kind` this device holds, in the order it received them.
    fn docs(&mut self, device: usize, kind: DocKind, own: bool) -> Result<Vec<DocId>> {
        let d = &mut self.devices[device];
        let unit = d.unit;
        let store = d.store();
        let mut out = Vec::new();
        for id in store.document_ids(Some(kind))? {
            if !own || store.header(id)?.owner == unit {
                out.push(id);
            }
        }
        Ok(out)
    }

    fn pick(&mut self, ids: &[DocId]) -> Option<DocId> {
        if ids.is_empty() { None } else { Some(ids[self.rng.random_range(0..ids.len())]) }
    }

    /// One random edit by `device`, if it has something to edit. An error is a storage error (a
    /// fault was armed); the edit then did not happen.
    pub(super) fn edit(&mut self, device: usize) -> Result {
        let is_city = self.devices[device].unit == self.units[0];
        if is_city { self.city_edit(device) } else { self.ward_edit(device) }
    }

    pub(super) fn city_edit(&mut self, device: usize) -> Result {
        let directives = self.docs(device, DocKind::Directive, true)?;
        let choice = self.rng.random_range(0..10);
        if directives.is_empty() || choice < 2 {
            let wards = self.units[1..4].to_vec();
            let id = self.devices[device].store().issue_directive(dispatch_305(
                wards,
                "08/02/2030",
                "11/02/2030",
            ))?;
            self.record(device, id, None)
        } else if choice < 5 {
            let d = self.pick(&directives).unwrap();
            let subject = format!("V/v thực hiện Thông báo số {}-TB/TU của BTV Thành ủy", self.edits.len());
            self.devices[device].store().set_directive_subject(d, &subject)?;
            self.record(device, d, None)
        } else {
            // Review a submitted report addressed to the city.
            let reports = self.docs(device, DocKind::Report, false)?;
            let Some(r) = self.pick(&reports) else { return Ok(()) };
            let (verdict, note) = if self.rng.random_bool(0.5) {
                (Verdict::Accepted, "")
            } else {
                (Verdict::Returned, "Bổ sung số liệu mô hình giải thể.")
            };
            match self.devices[device].store().review_report(r, verdict, note) {
                Ok(id) => self.record(device, id, None),
                Err(CoreError::Invalid(_)) => Ok(()), // still a draft
                Err(e) => Err(e),
            }
        }
    }

    fn ward_edit(&mut self, device: usize) -> Result {
        let directives = self.docs(device, DocKind::Directive, false)?;
        let Some(directive) = self.pick(&directives) else { return Ok(()) };
        let reports = self.docs(device, DocKind::Report, true)?;
        let response = Response::id_for(directive, self.devices[device].unit);
        let choice = self.rng.random_range(0..13);
        if choice < 2 {
            let ordinal = self.rng.random_range(1..=4);
            self.devices[device].store().acknowledge_task(directive, ordinal)?;
            self.record(device, response, None)
        } else if choice < 3 {
            let note = format!("Đang triển khai đợt {}", self.edits.len());
            let ordinal = self.rng.random_range(1..=4);
            self.devices[device].store().update_task_progress(directive, ordinal, &note)?;
            self.record(device, response, None)
        } else if choice < 4 {
            let ordinal = self.rng.random_range(1..=4);
            let reason = format!("Không phát sinh trên địa bàn ({})", self.edits.len());
            match self.devices[device].store().mark_task_not_applicable(directive, ordinal, &reason) {
                Ok(()) => self.record(device, response, None),
                Err(CoreError::Invalid(_)) => Ok(()), // already submitted
                Err(e) => Err(e),
            }
        } else if reports.is_empty() || choice < 5 {
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
            let id = self.devices[device].store().create_report(input)?;
            self.record(device, id, None)
        } else if choice < 11 {
            let r = self.pick(&reports).unwrap();
            let (key, _) = SECTIONS[self.rng.random_range(0..SECTIONS.len())];
            let words = self.words(device);
            let report = self.devices[device].store().report(r)?;
            let body = report.sections.iter().find(|s| s.key == key).unwrap().body.as_str().to_owned();
            let chars: Vec<char> = body.chars().collect();
            let spots: Vec<usize> =
                (0..=chars.len()).filter(|&i| i == chars.len() || (i > 0 && chars[i - 1] == ' ')).collect();
            let at = spots[self.rng.random_range(0..spots.len())];
            self.devices[device].store().splice_report_section(r, key, at, 0, &words)?;
            let tag = words.rsplit(' ').next().unwrap().to_owned();
            self.record(device, r, Some((key.to_owned(), tag)))
        } else if choice < 12 {
            let r = self.pick(&reports).unwrap();
            let amount =
                ["gần 850 triệu", "hơn 20 triệu", "6,4 tỷ", "khoảng 93"][self.rng.random_range(0..4)];
            let input = FigureInput {
                indicator: "ung_ho_quy_vnd".into(),
                amount: amount.into(),
                unit: MeasureUnit::Vnd,
                scope: FigureScope::Cumulative,
                note: String::new(),
                since: String::new(),
            };
            match self.devices[device].store().set_report_figure(r, input) {
                Ok(()) => self.record(device, r, None),
                // The office accepted it and the verdict is here: its figures are what the
                // office counted, and stay as they are.
                Err(CoreError::Invalid(inv)) if inv.field == "figures" => Ok(()),
                Err(e) => Err(e),
            }
        } else {
            let r = self.pick(&reports).unwrap();
            let store = self.devices[device].store();
            match store.submit_report(r) {
                Ok(()) => {}
                // The dispatch it answers has not reached this device (a colleague's report
                // came first): nothing changed; submitted after a later sync.
                Err(CoreError::NotFound { what: "dispatch this report answers", .. }) => return Ok(()),
                Err(e) => return Err(e),
            }
            let answered = store.report(r)?.directive;
            self.record(device, r, None)?;
            // Submitting also marks the answered task in this unit's response.
            match answered {
                Some(d) => self.record(device, Response::id_for(d, self.devices[device].unit), None),
                None => Ok(()),
            }
        }
    }
}
