//! The form that issues a dispatch: its fields as the browser sends them, read back into
//! client-core's `NewDirective`, with every problem named beside its field in Vietnamese.
//! Nothing is issued while any field is wrong; the deadlines are read exactly as client-core
//! will read them (`parse_deadline`), and shown back before issuing.

use std::collections::BTreeMap;

use giaoban_client_core::{NewConsolidation, NewDeadline, NewDirective, NewTask, parse_deadline};
use giaoban_protocol::UnitId;
use giaoban_protocol::schema::{ConclusionRef, DocumentKind, LIST_MAX, Person, Unit, phone_ok};
use giaoban_vietnamese_text::{clean_input, clean_multiline, format_date, parse_date, search_key};

/// Tasks a form starts with.
pub const DEFAULT_TASKS: usize = 3;
/// Most tasks one dispatch may have.
pub const MAX_TASKS: usize = 40;
/// Longest one-line field, in characters.
const MAX_LINE: usize = 500;
/// Longest prose field, in characters.
const MAX_PROSE: usize = 20_000;

/// One task's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskFields {
    /// Its words.
    pub text: String,
    /// A report is asked for.
    pub report: bool,
    /// The deadline as the dispatch writes it.
    pub deadline: String,
    /// Who to contact, as the dispatch words it ("qua đ/c Muối-CV").
    pub contact: String,
    /// The contact's full name.
    pub contact_name: String,
    /// The contact's title.
    pub contact_title: String,
    /// The contact's phone.
    pub contact_phone: String,
    /// Organisations to work with, one per line (or separated by ";").
    pub coordinate: String,
    /// Figures to report, comma-separated.
    pub indicators: String,
    /// The office's own step after the reports ("Giao đ/c Muối tổng hợp …").
    pub consolidation: String,
    /// Its deadline.
    pub consolidation_deadline: String,
    /// The meeting conclusion it carries out, as "meeting-id:number" (kept hidden in the form;
    /// empty for a task of its own).
    pub conclusion: String,
}

impl TaskFields {
    fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
            && self.deadline.trim().is_empty()
            && self.contact.trim().is_empty()
            && self.contact_name.trim().is_empty()
            && self.contact_title.trim().is_empty()
            && self.contact_phone.trim().is_empty()
            && self.coordinate.trim().is_empty()
            && self.indicators.trim().is_empty()
            && self.consolidation.trim().is_empty()
            && self.consolidation_deadline.trim().is_empty()
    }
}

/// The form's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchFields {
    /// The draft this form is (hex of 16 random bytes).
    pub draft: String,
    /// The document's kind by code ("cong-van", "ke-hoach" …); empty reads as công văn.
    pub kind: String,
    /// "305/MTTQ-BTT".
    pub number: String,
    /// The issuing body as printed.
    pub issuer: String,
    /// "Long Khánh".
    pub place: String,
    /// "24/01/2022".
    pub issued_on: String,
    /// "V/v …".
    pub subject: String,
    /// The documents it implements, one per line.
    pub basis: String,
    /// The "Kính gửi" line.
    pub recipients_label: String,
    /// Every unit below the issuer receives it.
    pub all_children: bool,
    /// The units picked (ids).
    pub recipients: Vec<String>,
    /// The signer's title ("TM. BAN THƯỜNG TRỰC").
    pub signer_title: String,
    /// The signer's name.
    pub signer_name: String,
    /// "Nơi nhận": where copies go, one per line.
    pub copies: String,
    /// The prose before the tasks.
    pub body: String,
    /// The numbered tasks.
    pub tasks: Vec<TaskFields>,
}

/// What the staff member pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// One more task block.
    AddTask,
    /// Keep the draft.
    Save,
    /// Check everything and show it back.
    Preview,
    /// Issue it.
    Issue,
    /// Back from the preview to the form.
    Edit,
    /// Throw the draft away.
    Delete,
}

/// Problems by field name, in Vietnamese.
pub type Problems = BTreeMap<String, String>;

/// A task's deadline as it will be read: (words, last day, whether the named day counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineShown {
    /// The dispatch's words.
    pub words: String,
    /// The last day work may be received (dd/mm/yyyy).
    pub last_day: String,
    /// "trước ngày": the named day itself is too late.
    pub exclusive: bool,
    /// The named day (dd/mm/yyyy).
    pub named_day: String,
}

fn shown(d: &giaoban_protocol::Deadline) -> DeadlineShown {
    DeadlineShown {
        words: d.original_text.clone(),
        last_day: format_date(d.last_day()),
        exclusive: d.exclusive,
        named_day: format_date(d.due_date),
    }
}

impl DispatchFields {
    /// A new form for a unit named `issuer`, dated `today` (dd/mm/yyyy).
    pub fn blank(issuer: &str, today: &str) -> DispatchFields {
        DispatchFields {
            draft: new_draft_id(),
            kind: DocumentKind::default().code().into(),
            copies: "Như trên;\nLưu: VT.".into(),
            issuer: format!("Ban Thường trực {issuer}"),
            issued_on: today.to_string(),
            recipients_label: "Kính gửi: Ban Thường trực Ủy ban MTTQ Việt Nam các xã, phường.".into(),
            signer_title: "TM. BAN THƯỜNG TRỰC".into(),
            tasks: vec![TaskFields::default(); DEFAULT_TASKS],
            ..DispatchFields::default()
        }
    }

    /// The fields of a form as sent (pairs in order) and the button pressed.
    pub fn from_pairs(pairs: &[(String, String)]) -> (DispatchFields, Action) {
        let mut f = DispatchFields::default();
        let mut action = Action::Save;
        let mut tasks: BTreeMap<usize, TaskFields> = BTreeMap::new();
        let mut task_count = 0usize;
        for (k, v) in pairs {
            match k.as_str() {
                "draft" => f.draft = v.clone(),
                "kind" => f.kind = v.clone(),
                "copies" => f.copies = v.clone(),
                "number" => f.number = v.clone(),
                "issuer" => f.issuer = v.clone(),
                "place" => f.place = v.clone(),
                "issued_on" => f.issued_on = v.clone(),
                "subject" => f.subject = v.clone(),
                "basis" => f.basis = v.clone(),
                "recipients_label" => f.recipients_label = v.clone(),
                "all_children" => f.all_children = !v.is_empty(),
                "recipient" => {
                    if f.recipients.len() < 10_000 {
                        f.recipients.push(v.clone());
                    }
                }
                "signer_title" => f.signer_title = v.clone(),
                "signer_name" => f.signer_name = v.clone(),
                "body" => f.body = v.clone(),
                "tasks" => task_count = v.parse().unwrap_or(0).min(MAX_TASKS),
                "action" => {
                    action = match v.as_str() {
                        "add-task" => Action::AddTask,
                        "preview" => Action::Preview,
                        "issue" => Action::Issue,
                        "edit" => Action::Edit,
                        "delete" => Action::Delete,
                        _ => Action::Save,
                    }
                }
                other => {
                    let Some(rest) = other.strip_prefix("task") else { continue };
                    let Some((n, field)) = rest.split_once('_') else { continue };
                    let Ok(n) = n.parse::<usize>() else { continue };
                    if n == 0 || n > MAX_TASKS {
                        continue;
                    }
                    let t = tasks.entry(n).or_default();
                    match field {
                        "text" => t.text = v.clone(),
                        "report" => t.report = !v.is_empty(),
                        "deadline" => t.deadline = v.clone(),
                        "contact" => t.contact = v.clone(),
                        "contactname" => t.contact_name = v.clone(),
                        "contacttitle" => t.contact_title = v.clone(),
                        "contactphone" => t.contact_phone = v.clone(),
                        "coordinate" => t.coordinate = v.clone(),
                        "indicators" => t.indicators = v.clone(),
                        "consolidation" => t.consolidation = v.clone(),
                        "consolidationdeadline" => t.consolidation_deadline = v.clone(),
                        "conclusion" => t.conclusion = v.clone(),
                        _ => {}
                    }
                }
            }
        }
        let count = task_count.max(tasks.keys().next_back().copied().unwrap_or(0)).clamp(1, MAX_TASKS);
        f.tasks = (1..=count).map(|n| tasks.remove(&n).unwrap_or_default()).collect();
        if action == Action::AddTask && f.tasks.len() < MAX_TASKS {
            f.tasks.push(TaskFields::default());
        }
        (f, action)
    }

    /// The fields as pairs, for keeping a draft.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = [
            ("draft", &self.draft),
            ("kind", &self.kind),
            ("number", &self.number),
            ("issuer", &self.issuer),
            ("place", &self.place),
            ("issued_on", &self.issued_on),
            ("subject", &self.subject),
            ("basis", &self.basis),
            ("recipients_label", &self.recipients_label),
            ("signer_title", &self.signer_title),
            ("signer_name", &self.signer_name),
            ("body", &self.body),
            ("copies", &self.copies),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
        if self.all_children {
            out.push(("all_children".into(), "on".into()));
        }
        out.extend(self.recipients.iter().map(|r| ("recipient".to_string(), r.clone())));
        out.push(("tasks".into(), self.tasks.len().to_string()));
        for (i, t) in self.tasks.iter().enumerate() {
            let n = i + 1;
            let mut push = |field: &str, v: &str| out.push((format!("task{n}_{field}"), v.to_string()));
            push("text", &t.text);
            if t.report {
                push("report", "on");
            }
            push("deadline", &t.deadline);
            push("contact", &t.contact);
            push("contactname", &t.contact_name);
            push("contacttitle", &t.contact_title);
            push("contactphone", &t.contact_phone);
            push("coordinate", &t.coordinate);
            push("indicators", &t.indicators);
            push("consolidation", &t.consolidation);
            push("consolidationdeadline", &t.consolidation_deadline);
            if !t.conclusion.is_empty() {
                push("conclusion", &t.conclusion);
            }
        }
        out
    }

    /// The draft's title on the first page: number and subject so far.
    pub fn title(&self) -> String {
        let t = format!("{} {}", clean_input(&self.number), clean_input(&self.subject)).trim().to_string();
        if t.is_empty() { crate::store::UNTITLED.into() } else { t.chars().take(200).collect() }
    }

    /// The draft id as bytes, if the form carries a well-formed one.
    pub fn draft_id(&self) -> Option<[u8; 16]> {
        let bytes = hex::decode(self.draft.trim()).ok()?;
        bytes.try_into().ok()
    }

    /// Reads the form into a directive to `children` (the units below the issuer), or says
    /// what is wrong with each field. Also returns each task's deadline as it will be read.
    pub fn check(&self, children: &[Unit]) -> Result<(NewDirective, Vec<Option<DeadlineShown>>), Problems> {
        let mut p = Problems::new();
        let line = |p: &mut Problems, name: &str, v: &str, required: Option<&str>| -> String {
            let v = clean_input(v);
            if v.chars().count() > MAX_LINE {
                p.insert(name.into(), format!("Dài quá {MAX_LINE} ký tự; hãy viết gọn lại."));
            } else if v.is_empty()
                && let Some(msg) = required
            {
                p.insert(name.into(), msg.into());
            }
            v
        };
        let number =
            line(&mut p, "number", &self.number, Some("Nhập số và ký hiệu văn bản, ví dụ 305/MTTQ-BTT."));
        let issuer = line(&mut p, "issuer", &self.issuer, Some("Nhập tên cơ quan ban hành."));
        let place = line(&mut p, "place", &self.place, Some("Nhập địa danh, ví dụ Long Khánh."));
        let subject = line(
            &mut p,
            "subject",
            &self.subject,
            Some("Nhập trích yếu, ví dụ “V/v thực hiện Thông báo số 161-TB/TU”."),
        );
        let recipients_label = line(&mut p, "recipients_label", &self.recipients_label, None);
        let signer_title = line(&mut p, "signer_title", &self.signer_title, None);
        let signer_name = line(&mut p, "signer_name", &self.signer_name, None);
        let issued_on = clean_input(&self.issued_on);
        if issued_on.is_empty() {
            p.insert("issued_on".into(), "Nhập ngày ban hành, ví dụ 24/01/2022.".into());
        } else if parse_date(&issued_on).is_err() {
            p.insert(
                "issued_on".into(),
                format!(
                    "Không đọc được ngày “{issued_on}”; viết theo dạng ngày/tháng/năm, ví dụ 24/01/2022."
                ),
            );
        }
        let body = clean_multiline(&self.body);
        if body.chars().count() > MAX_PROSE {
            p.insert("body".into(), format!("Dài quá {MAX_PROSE} ký tự."));
        }
        let document_kind = if self.kind.trim().is_empty() {
            DocumentKind::default()
        } else {
            DocumentKind::from_code(&self.kind).unwrap_or_else(|| {
                p.insert("kind".into(), "Chọn loại văn bản trong danh sách.".into());
                DocumentKind::default()
            })
        };
        let copies_to: Vec<String> = self.copies.lines().map(clean_input).filter(|l| !l.is_empty()).collect();
        if copies_to.len() > LIST_MAX || copies_to.iter().any(|c| c.chars().count() > MAX_LINE) {
            p.insert(
                "copies".into(),
                format!("Tối đa {LIST_MAX} nơi nhận, mỗi dòng tối đa {MAX_LINE} ký tự."),
            );
        }
        let basis: Vec<String> = self.basis.lines().map(clean_input).filter(|l| !l.is_empty()).collect();
        if basis.iter().any(|b| b.chars().count() > MAX_LINE) {
            p.insert("basis".into(), format!("Mỗi dòng căn cứ tối đa {MAX_LINE} ký tự."));
        }

        let recipients: Vec<UnitId> = if self.all_children {
            children.iter().filter(|u| u.valid_to.is_none()).map(|u| u.id).collect()
        } else {
            let mut out = Vec::new();
            for r in &self.recipients {
                match r.parse::<UnitId>() {
                    Ok(id) if children.iter().any(|u| u.id == id) => out.push(id),
                    _ => {
                        p.insert(
                            "recipients".into(),
                            "Có đơn vị nhận không thuộc cấp dưới của đơn vị bạn.".into(),
                        );
                    }
                }
            }
            out
        };
        if recipients.is_empty() && !p.contains_key("recipients") {
            p.insert(
                "recipients".into(),
                "Chọn ít nhất một đơn vị nhận, hoặc chọn tất cả các xã, phường.".into(),
            );
        }

        let mut tasks = Vec::new();
        let mut shown_deadlines = Vec::new();
        for (i, t) in self.tasks.iter().enumerate() {
            let n = i + 1;
            if t.is_blank() {
                shown_deadlines.push(None);
                continue;
            }
            let f = |field: &str| format!("task{n}_{field}");
            let text = clean_multiline(&t.text);
            if text.is_empty() {
                p.insert(f("text"), "Nhập nội dung nhiệm vụ, hoặc xóa hết các ô của nhiệm vụ này.".into());
            } else if text.chars().count() > MAX_PROSE {
                p.insert(f("text"), format!("Dài quá {MAX_PROSE} ký tự."));
            }
            let deadline = read_deadline(&mut p, &f("deadline"), &t.deadline);
            let read = deadline.as_ref().and_then(|d| parse_deadline(d).ok());
            if let (Some(d), Ok(issued)) = (&read, parse_date(&issued_on))
                && d.last_day() < issued
            {
                p.insert(
                    f("deadline"),
                    format!(
                        "Hạn cuối ({}) sớm hơn ngày ban hành ({}); kiểm tra lại ngày.",
                        format_date(d.last_day()),
                        format_date(issued)
                    ),
                );
            }
            if t.report && t.deadline.trim().is_empty() {
                p.insert(
                    f("deadline"),
                    "Nhiệm vụ có yêu cầu báo cáo: nhập thời hạn, ví dụ “trước ngày 08/02/2022”.".into(),
                );
            }
            shown_deadlines.push(read.as_ref().map(shown));
            let consolidation = if t.consolidation.trim().is_empty() {
                if !t.consolidation_deadline.trim().is_empty() {
                    p.insert(
                        f("consolidation"),
                        "Có thời hạn tổng hợp: nhập cả nội dung bước tổng hợp.".into(),
                    );
                }
                None
            } else {
                if t.consolidation_deadline.trim().is_empty() {
                    p.insert(
                        f("consolidationdeadline"),
                        "Nhập thời hạn tổng hợp, ví dụ “trước ngày 11/02/2022”.".into(),
                    );
                }
                let c = read_deadline(&mut p, &f("consolidationdeadline"), &t.consolidation_deadline);
                if let (Some(cd), Some(td)) = (c.as_ref().and_then(|c| parse_deadline(c).ok()), &read)
                    && cd.cutoff() < td.cutoff()
                {
                    p.insert(
                        f("consolidationdeadline"),
                        "Hạn tổng hợp phải sau hạn báo cáo của các đơn vị.".into(),
                    );
                }
                c.map(|deadline| NewConsolidation {
                    text: clean_multiline(&t.consolidation),
                    contact: None,
                    deadline,
                    report_to: Vec::new(),
                })
            };
            let contact = line(&mut p, &f("contact"), &t.contact, None);
            let person = Person {
                name: line(&mut p, &f("contactname"), &t.contact_name, None),
                title: line(&mut p, &f("contacttitle"), &t.contact_title, None),
                phone: line(&mut p, &f("contactphone"), &t.contact_phone, None),
            };
            let contact_person = if person.name.is_empty()
                && person.title.is_empty()
                && person.phone.is_empty()
            {
                None
            } else {
                if person.name.is_empty() {
                    p.insert(
                        f("contactname"),
                        "Nhập họ tên người đầu mối, hoặc để trống cả chức vụ và điện thoại.".into(),
                    );
                }
                if !person.phone.is_empty() && !phone_ok(&person.phone) {
                    p.insert(
                        f("contactphone"),
                        format!("Không đọc được số điện thoại “{}”; chỉ ghi chữ số, ví dụ 0251 3877 123 hoặc 0912 345 678.", person.phone),
                    );
                }
                Some(person)
            };
            let coordinate_with: Vec<String> =
                t.coordinate.split([';', '\n']).map(clean_input).filter(|s| !s.is_empty()).collect();
            if coordinate_with.len() > LIST_MAX
                || coordinate_with.iter().any(|o| o.chars().count() > MAX_LINE)
            {
                p.insert(
                    f("coordinate"),
                    format!("Tối đa {LIST_MAX} tổ chức, mỗi tên tối đa {MAX_LINE} ký tự."),
                );
            }
            if t.consolidation.chars().count() > MAX_PROSE {
                p.insert(f("consolidation"), format!("Dài quá {MAX_PROSE} ký tự."));
            }
            let indicators: Vec<String> =
                t.indicators.split([',', ';', '\n']).map(clean_input).filter(|s| !s.is_empty()).collect();
            if indicators.len() > 100 || indicators.iter().any(|i| i.chars().count() > 120) {
                p.insert(f("indicators"), "Tối đa 100 chỉ tiêu, mỗi chỉ tiêu tối đa 120 ký tự.".into());
            }
            let from_conclusion = if t.conclusion.trim().is_empty() {
                None
            } else {
                let parsed = t.conclusion.trim().split_once(':').and_then(|(m, c)| {
                    Some(ConclusionRef {
                        meeting: m.parse().ok()?,
                        ordinal: c.parse().ok().filter(|c| *c > 0)?,
                    })
                });
                if parsed.is_none() {
                    p.insert(f("text"), "Không đọc được kết luận hội nghị mà nhiệm vụ này thực hiện.".into());
                }
                parsed
            };
            tasks.push(NewTask {
                from_conclusion,
                ordinal: n as u64,
                text,
                report_required: t.report,
                deadline,
                contact: (!contact.is_empty()).then_some(contact),
                contact_person,
                coordinate_with,
                indicators,
                consolidation,
            });
        }
        if tasks.is_empty() {
            p.insert("task1_text".into(), "Một văn bản giao việc cần ít nhất một nhiệm vụ.".into());
        }
        if !p.is_empty() {
            return Err(p);
        }
        let signer = (!signer_name.is_empty()).then_some((signer_title, signer_name));
        let directive = NewDirective {
            document_kind,
            copies_to,
            number,
            issuer_name: issuer,
            place,
            issued_on,
            subject,
            basis,
            recipients,
            recipients_label,
            signer,
            body,
            tasks,
        };
        Ok((directive, shown_deadlines))
    }
}

/// Reads a deadline field as client-core will, or says beside `field` why it does not read.
pub fn read_deadline(p: &mut Problems, field: &str, words: &str) -> Option<NewDeadline> {
    let words = clean_input(words);
    if words.is_empty() {
        return None;
    }
    // "không trước ngày", "sau ngày": a start, not a deadline; read as one it would be wrong.
    let key = search_key(&words);
    if key.contains("khong truoc")
        || key.starts_with("sau ")
        || key.contains(" sau ngay")
        || key.starts_with("tu ngay")
    {
        p.insert(
            field.into(),
            format!("“{words}” không phải một thời hạn; viết “trước ngày 08/02/2022” hoặc “chậm nhất ngày 11/02/2022”."),
        );
        return None;
    }
    let d = NewDeadline { text: words.clone(), due: None, exclusive: None };
    match parse_deadline(&d) {
        Ok(_) => Some(d),
        Err(_) => {
            p.insert(
                field.into(),
                format!(
                    "Không đọc được ngày trong “{words}”; viết như văn bản vẫn viết: “trước ngày 08/02/2022” hoặc “chậm nhất ngày 11/02/2022”."
                ),
            );
            None
        }
    }
}

/// A new draft id: the time it was made (ms, 6 bytes) and 10 random bytes, so the dispatch
/// issued from it (`dispatch_id`) sorts by when its form was begun.
pub fn new_draft_id() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    let mut id = [0u8; 16];
    id[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    id[6..].copy_from_slice(&rand::random::<[u8; 10]>());
    hex::encode(id)
}

/// The id of the dispatch `unit` issues from draft `draft`: the same every time, so a form
/// issued twice (sent again, or after a crash) is one dispatch. Time-ordered like any new
/// record's id (a name-based id is reserved by the relay for responses and reviews).
pub fn dispatch_id(unit: UnitId, draft: [u8; 16]) -> giaoban_protocol::DocId {
    form_doc_id(b"giaoban desk dispatch", unit, draft)
}

/// The id of the record `unit` makes from a form whose id is `form` (a draft's, a meeting
/// form's), distinct for each `purpose`: time-ordered by when the form was begun (its first
/// six bytes), the rest derived, so the same form sent again names the same record.
pub fn form_doc_id(purpose: &[u8], unit: UnitId, form: [u8; 16]) -> giaoban_protocol::DocId {
    use sha2::Digest;
    let mut ms = [0u8; 8];
    ms[2..].copy_from_slice(&form[..6]);
    let mut h = sha2::Sha256::new();
    h.update(purpose);
    h.update(unit.to_bytes());
    h.update(form);
    let digest = h.finalize();
    let mut random = [0u8; 10];
    random.copy_from_slice(&digest[..10]);
    giaoban_protocol::DocId::from_parts(u64::from_be_bytes(ms), random)
}

/// The form's field for a field path of client-core's validation ("tasks[3].deadline" is
/// "task3_deadline"); "form" for one that has no field of its own.
pub fn field_of(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("tasks[")
        && let Some((n, tail)) = rest.split_once(']')
        && n.parse::<usize>().is_ok()
    {
        let field = match tail.trim_start_matches('.') {
            "deadline" => "deadline",
            "consolidation.deadline" => "consolidationdeadline",
            "consolidation" | "consolidation.text" => "consolidation",
            "contact" => "contact",
            "contact_person.name" => "contactname",
            "contact_person.title" => "contacttitle",
            "contact_person.phone" => "contactphone",
            t if t.starts_with("coordinate_with") => "coordinate",
            _ => "text",
        };
        return format!("task{n}_{field}");
    }
    match path {
        "number" | "issuer" | "place" | "issued_on" | "subject" | "basis" | "recipients_label" | "body" => {
            path.into()
        }
        "issuer_name" => "issuer".into(),
        p if p.starts_with("copies_to") => "copies".into(),
        "recipients" => "recipients".into(),
        _ => "form".into(),
    }
}

/// A reason client-core gave, in the desk's words where it is one the form can meet.
pub fn in_vietnamese(reason: &str) -> String {
    let known = [
        ("the deadline is before the dispatch's own date", "Thời hạn sớm hơn ngày ban hành."),
        (
            "consolidation cannot be due before the units' reports",
            "Hạn tổng hợp phải sau hạn báo cáo của các đơn vị.",
        ),
        ("text must be in Unicode NFC form", "Văn bản chứa ký tự không hợp lệ."),
        ("the deadline is before the meeting was held", "Thời hạn sớm hơn ngày họp."),
        ("no such meeting on this device", "Không tìm thấy hội nghị mà nhiệm vụ này thực hiện kết luận."),
        ("the meeting has no conclusion", "Hội nghị không có kết luận mà nhiệm vụ này ghi."),
        ("the meeting was held by another unit", "Hội nghị này do đơn vị khác tổ chức."),
        (
            "already a task of its own",
            "Kết luận này đã là nhiệm vụ của các đơn vị được giao; không giao lại bằng văn bản.",
        ),
    ];
    match known.iter().find(|(en, _)| reason.contains(en)) {
        Some((_, vi)) => (*vi).to_string(),
        None => format!("Không ban hành được: {reason}"),
    }
}

/// A unit the form offers, with the key its filter box matches (diacritics ignored).
#[derive(Debug, Clone)]
pub struct Choice {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its search key ("xa an phuoc").
    pub key: String,
    /// Picked.
    pub checked: bool,
}

/// The units a form offers, in Vietnamese order, marked as picked.
pub fn choices(children: &[Unit], picked: &[String]) -> Vec<Choice> {
    children
        .iter()
        .filter(|u| u.valid_to.is_none())
        .map(|u| {
            let id = u.id.to_string();
            Choice { checked: picked.contains(&id), key: search_key(&u.name), name: u.name.clone(), id }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_draft_gives_one_time_ordered_dispatch_id() {
        let unit = UnitId::from_slice(&[1; 16]).unwrap();
        let draft: [u8; 16] = hex::decode(new_draft_id()).unwrap().try_into().unwrap();
        let id = dispatch_id(unit, draft);
        assert_eq!(id, dispatch_id(unit, draft));
        assert_ne!(id, dispatch_id(UnitId::from_slice(&[2; 16]).unwrap(), draft));
        assert_eq!(id.as_uuid().get_version_num(), 7, "not a name-based id");
    }

    #[test]
    fn a_form_goes_to_pairs_and_back_unchanged() {
        let mut f = DispatchFields::blank("Ủy ban MTTQ Việt Nam thành phố Long Khánh", "24/01/2022");
        f.number = "305/MTTQ-BTT".into();
        f.recipients = vec!["a".into(), "b".into()];
        f.tasks[1].report = true;
        f.tasks[1].deadline = "trước ngày 08/02/2022".into();
        let (back, action) = DispatchFields::from_pairs(&f.to_pairs());
        assert_eq!(back, f);
        assert_eq!(action, Action::Save);
    }

    #[test]
    fn adding_a_task_keeps_what_was_typed_and_the_count_is_bounded() {
        let (f, a) = DispatchFields::from_pairs(&pairs(&[
            ("tasks", "2"),
            ("task2_text", "Rà soát các mô hình"),
            ("action", "add-task"),
        ]));
        assert_eq!(a, Action::AddTask);
        assert_eq!(f.tasks.len(), 3);
        assert_eq!(f.tasks[1].text, "Rà soát các mô hình");
        let (f, _) = DispatchFields::from_pairs(&pairs(&[("tasks", "100000"), ("task99999_text", "x")]));
        assert!(f.tasks.len() <= MAX_TASKS);
    }

    #[test]
    fn every_wrong_field_is_named_in_vietnamese() {
        let (f, _) = DispatchFields::from_pairs(&pairs(&[
            ("issued_on", "31/02/2022"),
            ("tasks", "2"),
            ("task1_text", "Báo cáo kết quả"),
            ("task1_report", "on"),
            ("task2_deadline", "sớm nhất có thể"),
        ]));
        let p = f.check(&[]).unwrap_err();
        for field in [
            "number",
            "place",
            "subject",
            "issued_on",
            "recipients",
            "task1_deadline",
            "task2_text",
            "task2_deadline",
        ] {
            assert!(p.contains_key(field), "{field} not named: {p:?}");
        }
        assert!(p["task2_deadline"].contains("sớm nhất có thể"));
    }
}
