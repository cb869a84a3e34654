//! Meetings on the desk: the list, the form that records a meeting and its conclusions
//! (`meeting_form.rs`), and a meeting's page, from which a conclusion addressed to the units
//! below becomes a dispatch's task: a draft of the dispatch form, prefilled from the
//! conclusion, whose task links back to it (`TaskSpec.from_conclusion`). The dispatch is then
//! numbered, checked and issued as any other.

use giaoban_protocol::schema::{Meeting, MeetingKind};
use giaoban_vietnamese_text::format_date;

use super::dispatch_form::TaskFields;
use super::meeting_form::{ConclusionFields, MeetingAction, MeetingFields};
use super::*;

struct MeetingLine {
    id: String,
    title: String,
    kind: &'static str,
    held_on: String,
    conclusions: usize,
    own: bool,
    organiser: String,
}

#[derive(Template)]
#[template(path = "desk/meetings.html")]
struct MeetingsPage {
    chrome: Chrome,
    meetings: Vec<MeetingLine>,
}

/// A group as a conclusion block offers it.
struct GroupChoice {
    code: String,
    name: String,
    count: usize,
    checked: bool,
}

/// A unit as a conclusion block offers it.
struct UnitChoice {
    id: String,
    name: String,
    checked: bool,
}

struct ConclusionBlock {
    n: usize,
    f: ConclusionFields,
    groups: Vec<GroupChoice>,
    units: Vec<UnitChoice>,
    name_label: String,
    name_group: String,
    name_unit: String,
    name_text: String,
    name_deadline: String,
    name_task: String,
    err_label: String,
    err_group: String,
    err_unit: String,
    err_text: String,
    err_deadline: String,
}

#[derive(Template)]
#[template(path = "desk/meeting_form.html")]
struct MeetingFormPage {
    chrome: Chrome,
    fields: MeetingFields,
    kinds: Vec<(&'static str, &'static str)>,
    blocks: Vec<ConclusionBlock>,
    problems: dispatch_form::Problems,
}

impl MeetingFormPage {
    fn err(&self, field: &str) -> String {
        self.problems.get(field).cloned().unwrap_or_default()
    }
}

struct ConclusionLine {
    n: u64,
    label: String,
    text: String,
    deadline: String,
    units: Vec<String>,
    own_task: bool,
    /// (dispatch id, "Văn bản 12/CV-MTTQ, nhiệm vụ 1").
    dispatched: Vec<(String, String)>,
    can_dispatch: bool,
}

#[derive(Template)]
#[template(path = "desk/meeting.html")]
struct MeetingPage {
    chrome: Chrome,
    id: String,
    title: String,
    kind: &'static str,
    held_on: String,
    place: String,
    chair: String,
    organiser: String,
    conclusions: Vec<ConclusionLine>,
}

pub(super) async fn meetings_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let own_unit = signed.session.unit;
    let (meetings, unit, warning) = with_store(&state, &signed.session, move |s| {
        let names = views::unit_names(s);
        Ok(s.meetings()?
            .into_iter()
            .map(|m| MeetingLine {
                id: m.header.id.to_string(),
                kind: m.kind.name_vi(),
                held_on: format_date(m.held_on),
                conclusions: m.conclusions.len(),
                own: m.header.owner == own_unit,
                organiser: names.get(&m.header.owner).cloned().unwrap_or_default(),
                title: m.title,
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(render(StatusCode::OK, &MeetingsPage { chrome: chrome("Hội nghị", &signed, unit, warning), meetings }))
}

fn blocks(
    fields: &MeetingFields,
    children: &[giaoban_protocol::schema::Unit],
    problems: &dispatch_form::Problems,
) -> Vec<ConclusionBlock> {
    let groups = meeting_form::groups(children);
    fields
        .conclusions
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let n = i + 1;
            let name = |f: &str| format!("c{n}_{f}");
            let err = |f: &str| problems.get(&name(f)).cloned().unwrap_or_default();
            ConclusionBlock {
                n,
                f: c.clone(),
                groups: groups
                    .iter()
                    .map(|g| GroupChoice {
                        code: g.code.clone(),
                        name: g.name.clone(),
                        count: g.units.len(),
                        checked: c.groups.contains(&g.code),
                    })
                    .collect(),
                units: children
                    .iter()
                    .filter(|u| u.valid_to.is_none())
                    .map(|u| {
                        let id = u.id.to_string();
                        UnitChoice { checked: c.units.contains(&id), name: u.name.clone(), id }
                    })
                    .collect(),
                name_label: name("label"),
                name_group: name("group"),
                name_unit: name("unit"),
                name_text: name("text"),
                name_deadline: name("deadline"),
                name_task: name("task"),
                err_label: err("label"),
                err_group: err("group"),
                err_unit: err("unit"),
                err_text: err("text"),
                err_deadline: err("deadline"),
            }
        })
        .collect()
}

fn form_page(
    signed: &Signed,
    unit: String,
    warning: String,
    fields: MeetingFields,
    children: &[giaoban_protocol::schema::Unit],
    problems: dispatch_form::Problems,
) -> Response {
    let status = if problems.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = MeetingFormPage {
        chrome: chrome("Ghi hội nghị", signed, unit, warning),
        blocks: blocks(&fields, children, &problems),
        kinds: MeetingKind::ALL.iter().map(|k| (k.code(), k.name_vi())).collect(),
        fields,
        problems,
    };
    render(status, &page)
}

pub(super) async fn meeting_form_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let unit_id = signed.session.unit;
    let (children, unit, warning) =
        with_store(&state, &signed.session, move |s| Ok(s.child_units(unit_id).unwrap_or_default())).await?;
    let today = super::dispatch_page::today_in_vietnam();
    Ok(form_page(&signed, unit, warning, MeetingFields::blank(&today), &children, Default::default()))
}

/// What a sent meeting form leads to.
enum Recorded {
    Form(Box<MeetingFields>, dispatch_form::Problems),
    Done(DocId),
}

pub(super) async fn meeting_form_sent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let csrf = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or("");
    check_form(&state, &headers, &signed, csrf)?;
    let (mut fields, action) = MeetingFields::from_pairs(&pairs);
    if fields.form_id().is_none() {
        fields.form = dispatch_form::new_draft_id();
    }
    let unit_id = signed.session.unit;
    let usage = if action == MeetingAction::Record { Use::Write } else { Use::Read };
    let ((recorded, children), unit, warning) = with_store_for(&state, &signed.session, usage, move |s| {
        let children = s.child_units(unit_id).unwrap_or_default();
        if action == MeetingAction::AddConclusion {
            return Ok((Recorded::Form(Box::new(fields), Default::default()), children));
        }
        let input = match fields.check(&children) {
            Ok(m) => m,
            Err(p) => return Ok((Recorded::Form(Box::new(fields), p), children)),
        };
        let id = meeting_form::meeting_id(unit_id, fields.form_id().ok_or(DeskError::BadForm)?);
        // This form was recorded before: the same words again are that meeting; changed words
        // are not dropped without a word.
        if let Ok(h) = s.header(id)
            && h.kind == giaoban_protocol::DocKind::Meeting
            && h.owner == unit_id
        {
            if meeting_form::same_meeting(&s.meeting(id)?, &input) {
                return Ok((Recorded::Done(id), children));
            }
            let mut p = dispatch_form::Problems::new();
            p.insert(
                "form".into(),
                format!(
                    "Hội nghị này đã được ghi từ biểu mẫu này (xem tại /desk/meeting/{id}); những thay đổi vừa gõ chưa được ghi. Muốn ghi một hội nghị khác, hãy mở “Ghi hội nghị mới”."
                ),
            );
            return Ok((Recorded::Form(Box::new(fields), p), children));
        }
        match s.record_meeting_as(id, input) {
            Ok(id) => Ok((Recorded::Done(id), children)),
            Err(giaoban_client_core::CoreError::Invalid(inv)) => {
                let mut p = dispatch_form::Problems::new();
                p.insert(meeting_form::field_of(&inv.field), dispatch_form::in_vietnamese(&inv.reason));
                Ok((Recorded::Form(Box::new(fields), p), children))
            }
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    match recorded {
        Recorded::Form(fields, problems) => {
            Ok(form_page(&signed, unit, warning, *fields, &children, problems))
        }
        Recorded::Done(id) => {
            push_now(&state, &signed.session).await?;
            Ok(Redirect::to(&format!("/desk/meeting/{id}")).into_response())
        }
    }
}

/// The meeting `id` if this store holds it, else "not found".
fn meeting_here(s: &mut Store, id: DocId) -> Result<Meeting, DeskError> {
    match s.header(id) {
        Ok(h) if h.kind == giaoban_protocol::DocKind::Meeting => Ok(s.meeting(id)?),
        Ok(_) | Err(giaoban_client_core::CoreError::NotFound { .. }) => Err(DeskError::NotFound),
        Err(e) => Err(e.into()),
    }
}

fn deadline_words(d: &giaoban_protocol::Deadline) -> String {
    if d.original_text.contains(&format_date(d.due_date)) {
        d.original_text.clone()
    } else {
        format!("{} (ngày {})", d.original_text, format_date(d.due_date))
    }
}

pub(super) async fn meeting_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let id: DocId = id.parse().map_err(|_| DeskError::NotFound)?;
    let own_unit = signed.session.unit;
    let ((m, lines, organiser), unit, warning) = with_store(&state, &signed.session, move |s| {
        let m = meeting_here(s, id)?;
        let own = m.header.owner == own_unit;
        let dispatched = if own { s.dispatched_from(id)? } else { Vec::new() };
        let names = views::unit_names(s);
        let name = |u: &giaoban_protocol::UnitId| {
            names.get(u).cloned().unwrap_or_else(|| "(đơn vị không còn trong danh bạ)".into())
        };
        let lines = m
            .conclusions
            .iter()
            .map(|c| {
                let done: Vec<(String, String)> = dispatched
                    .iter()
                    .filter(|d| d.conclusion == c.ordinal)
                    .map(|d| {
                        (d.directive.to_string(), format!("Văn bản số {}, nhiệm vụ {}", d.number, d.task))
                    })
                    .collect();
                ConclusionLine {
                    n: c.ordinal,
                    label: c.target_label.clone(),
                    text: c.text.clone(),
                    deadline: c.deadline.as_ref().map(deadline_words).unwrap_or_default(),
                    units: c.target_units.iter().map(name).collect(),
                    own_task: c.creates_task,
                    can_dispatch: own && !c.creates_task && !c.target_units.is_empty(),
                    dispatched: done,
                }
            })
            .collect::<Vec<_>>();
        let organiser = name(&m.header.owner);
        Ok((m, lines, organiser))
    })
    .await?;
    let page = MeetingPage {
        chrome: chrome(&m.title, &signed, unit, warning),
        id: id.to_string(),
        kind: m.kind.name_vi(),
        held_on: format_date(m.held_on),
        place: m.place,
        chair: m.chair,
        organiser,
        conclusions: lines,
        title: m.title,
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(serde::Deserialize)]
pub(super) struct PlainForm {
    #[serde(default)]
    csrf: String,
}

/// The dispatch form's fields for carrying out conclusion `ordinal` of `m`, from `issuer`.
fn dispatch_from(m: &Meeting, ordinal: u64, issuer: &str, today: &str) -> Option<DispatchFields> {
    let c = m.conclusions.iter().find(|c| c.ordinal == ordinal)?;
    let mut f = DispatchFields::blank(issuer, today);
    let held = format_date(m.held_on);
    let addressed =
        c.target_label.trim().strip_prefix("Đối với").map(str::trim).unwrap_or(c.target_label.trim());
    f.subject = format!("V/v thực hiện kết luận tại {}", m.title).chars().take(400).collect();
    // Within the form's 500 characters a line, however long the meeting's title.
    let title: String = m.title.chars().take(440).collect();
    f.basis = format!("Kết luận tại {title} ngày {held}");
    if !addressed.is_empty() {
        f.recipients_label = format!("Kính gửi: {addressed}.").chars().take(480).collect();
    }
    f.recipients = c.target_units.iter().map(ToString::to_string).collect();
    f.body = format!(
        "Thực hiện kết luận tại {} ngày {held}, {} đề nghị các đơn vị thực hiện nội dung sau:",
        m.title, f.issuer
    );
    f.tasks = vec![TaskFields {
        text: c.text.clone(),
        report: c.deadline.is_some(),
        deadline: c.deadline.as_ref().map(|d| d.original_text.clone()).unwrap_or_default(),
        conclusion: format!("{}:{}", m.header.id, c.ordinal),
        ..TaskFields::default()
    }];
    Some(f)
}

/// Starts a dispatch that carries out a conclusion: a new draft of the dispatch form,
/// prefilled, for the member to number, check and issue.
pub(super) async fn conclusion_dispatch_sent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, ordinal)): Path<(String, String)>,
    Form(form): Form<PlainForm>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    check_form(&state, &headers, &signed, &form.csrf)?;
    let id: DocId = id.parse().map_err(|_| DeskError::NotFound)?;
    let ordinal: u64 = ordinal.parse().map_err(|_| DeskError::NotFound)?;
    let own_unit = signed.session.unit;
    let today = super::dispatch_page::today_in_vietnam();
    let (fields, _, _) = with_store(&state, &signed.session, move |s| {
        let m = meeting_here(s, id)?;
        let c = m.conclusions.iter().find(|c| c.ordinal == ordinal).ok_or(DeskError::NotFound)?;
        if m.header.owner != own_unit || c.creates_task || c.target_units.is_empty() {
            return Err(DeskError::NotFound);
        }
        let issuer = views::unit_names(s).remove(&own_unit).unwrap_or_default();
        dispatch_from(&m, ordinal, &issuer, &today).ok_or(DeskError::NotFound)
    })
    .await?;
    let draft = fields.draft_id().ok_or(DeskError::BadForm)?;
    let staff = signed.session.staff;
    let (title, pairs) = (fields.title(), fields.to_pairs());
    let saved = on_relay(&state, move |relay| relay.save_draft(staff, draft, &title, &pairs)).await?;
    if !saved {
        return Err(DeskError::BadForm);
    }
    Ok(Redirect::to(&format!("/desk/dispatch/new?draft={}", fields.draft)).into_response())
}
