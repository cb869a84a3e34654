//! A report on the desk: its sections and figures as the unit wrote them, who changed it and
//! when (by device or staff name), and the office's verdict: accept, or return with a note.
//! The verdict is a review written through the staff member's store (`review_report`), so it
//! reaches the ward's devices like any record.

use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use giaoban_client_core::format_figure;
use giaoban_protocol::schema::{Report, Verdict};
use giaoban_protocol::{DeviceId, DocId};
use giaoban_vietnamese_text::clean_multiline;

use super::{
    Chrome, DeskError, Signed, Use, check_form, chrome, push_now, render, signed_in, with_store,
    with_store_for,
};
use crate::http::AppState;

/// A section as shown.
struct SectionView {
    /// Its key in the report ("tong_hop"), the form's field for it.
    key: String,
    heading: String,
    body: String,
    edited_concurrently: bool,
    /// What the section read when the page was made (`section_mark`), so a save finds a
    /// change made elsewhere meanwhile.
    mark: String,
    /// Said beside the section's box when it could not be saved.
    error: String,
    /// The words typed that were not saved (shown beside what the section reads now).
    typed: String,
}

/// A short fingerprint of a section's words: what the editor's page was made from.
fn section_mark(text: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..8])
}

/// A figure: its indicator, the words a reader reads ("gần 850 triệu đồng") and its note.
struct FigureView {
    indicator: String,
    written: String,
    note: String,
}

/// One step of the history: who, when, what.
pub struct HistoryLine {
    /// "02/12/2026 14:05".
    pub when: String,
    /// A device's label or "Bàn làm việc: <staff name>".
    pub who: String,
    /// What changed, in words.
    pub what: String,
}

/// A verdict given.
struct VerdictView {
    accepted: bool,
    note: String,
    /// The reviewer's clock ("14:05 ngày 02/12/2026").
    when: String,
    /// Another round judged the same submission otherwise, written without seeing this one.
    disputed: bool,
    /// Who wrote it (device label or desk member).
    who: String,
    /// The round that stands (the last).
    standing: bool,
}

/// Where a review's round was written: its writer, and the change that wrote it with every
/// change that change had seen.
struct RoundWriter {
    actor: Vec<u8>,
    change: automerge::ChangeHash,
    seen: std::collections::HashSet<automerge::ChangeHash>,
}

impl RoundWriter {
    /// Neither writer had seen the other's round.
    fn concurrent_with(&self, other: &RoundWriter) -> bool {
        self.change != other.change
            && !self.seen.contains(&other.change)
            && !other.seen.contains(&self.change)
    }
}

/// For each round, whether another round judged the same submission otherwise without either
/// writer having seen the other's.
fn disputed(rounds: &[giaoban_protocol::schema::ReviewRound], written: &[RoundWriter]) -> Vec<bool> {
    (0..rounds.len())
        .map(|i| {
            (0..rounds.len()).any(|j| {
                j != i
                    && rounds[j].submission == rounds[i].submission
                    && rounds[j].verdict != rounds[i].verdict
                    && written.get(i).zip(written.get(j)).is_some_and(|(a, b)| a.concurrent_with(b))
            })
        })
        .collect()
}

/// The submission of report `id` a verdict given now judges: its task's count of submissions
/// as this store sees it (at least 1), as `review_report` records it.
fn current_submission(s: &mut giaoban_client_core::Store, id: DocId) -> giaoban_client_core::Result<u64> {
    let report = s.report(id)?;
    let Some(directive) = report.directive else { return Ok(1) };
    let tasks = s.list_tasks(&giaoban_client_core::TaskFilter {
        scope: giaoban_client_core::TaskScope::IssuedByMe,
        source: Some(directive),
        ..Default::default()
    })?;
    Ok(tasks.iter().find(|t| t.report == Some(id)).map_or(1, |t| t.submissions.max(1)))
}

/// For each round of a review's bytes, in list order, who wrote it and what they had seen.
/// Empty when the bytes do not read as a review.
fn round_writers(bytes: &[u8]) -> Vec<RoundWriter> {
    use automerge::ReadDoc;
    let Ok(mut doc) = automerge::AutoCommit::load(bytes) else { return Vec::new() };
    let Ok(Some((_, rounds))) = doc.get(automerge::ROOT, "rounds") else { return Vec::new() };
    type ChangeRow = (Vec<u8>, u64, u64, automerge::ChangeHash, Vec<automerge::ChangeHash>);
    let changes: Vec<ChangeRow> = doc
        .get_changes(&[])
        .iter()
        .map(|c| {
            (c.actor_id().to_bytes().to_vec(), c.start_op().get(), c.max_op(), c.hash(), c.deps().to_vec())
        })
        .collect();
    let deps: std::collections::HashMap<automerge::ChangeHash, &[automerge::ChangeHash]> =
        changes.iter().map(|(_, _, _, h, d)| (*h, d.as_slice())).collect();
    let ancestors = |from: automerge::ChangeHash| {
        let mut seen = std::collections::HashSet::new();
        let mut todo: Vec<automerge::ChangeHash> = deps.get(&from).map(|d| d.to_vec()).unwrap_or_default();
        while let Some(h) = todo.pop() {
            if seen.insert(h) {
                todo.extend(deps.get(&h).into_iter().flat_map(|d| d.iter()).copied());
            }
        }
        seen
    };
    (0..doc.length(&rounds))
        .filter_map(|i| {
            let Ok(Some((_, automerge::ObjId::Id(counter, actor, _)))) = doc.get(&rounds, i) else {
                return None;
            };
            let actor = actor.to_bytes().to_vec();
            let (_, _, _, change, _) = changes
                .iter()
                .find(|(a, start, max, _, _)| *a == actor && (*start..=*max).contains(&counter))?;
            Some(RoundWriter { actor, change: *change, seen: ancestors(*change) })
        })
        .collect()
}

#[derive(Template)]
#[template(path = "desk/report.html")]
struct ReportPage {
    chrome: Chrome,
    id: String,
    title: String,
    unit: String,
    period: String,
    submitted: bool,
    sections: Vec<SectionView>,
    figures: Vec<FigureView>,
    history: Vec<HistoryLine>,
    verdicts: Vec<VerdictView>,
    /// The verdict that stands was given at once with one that disagrees.
    disputed: bool,
    files: Vec<super::attachments::FileLine>,
    may_review: bool,
    /// The staff member's unit wrote it and may still change it: a draft, or returned.
    editable: bool,
    dispatch: Option<String>,
    note: String,
    error: String,
    notice: String,
}

/// What the history groups: a run of changes by one author within this many seconds.
const RUN_SECS: i64 = 600;

/// The report's history: its changes in causal order, a run of one author's changes within
/// ten minutes told as one line, each with the parts of the report it changed.
pub fn history(doc: &mut automerge::AutoCommit, label_of: &dyn Fn(&[u8]) -> String) -> Vec<HistoryLine> {
    let changes: Vec<(Vec<u8>, i64, automerge::ChangeHash)> = doc
        .get_changes(&[])
        .iter()
        .map(|c| (c.actor_id().to_bytes().to_vec(), c.timestamp(), c.hash()))
        .collect();
    let mut out = Vec::new();
    let mut seen: Vec<automerge::ChangeHash> = Vec::new();
    let mut i = 0;
    while i < changes.len() {
        let (actor, start, _) = &changes[i];
        let author = &actor[..actor.len().min(16)];
        let mut j = i;
        while j + 1 < changes.len() {
            let (next_actor, t, _) = &changes[j + 1];
            if &next_actor[..next_actor.len().min(16)] != author || t - start > RUN_SECS {
                break;
            }
            j += 1;
        }
        let before = doc.get_heads_of(&seen);
        seen.extend(changes[i..=j].iter().map(|c| c.2));
        let after = doc.get_heads_of(&seen);
        let what = describe(doc, &before, &after, i == 0);
        let when = chrono::DateTime::from_timestamp(start.saturating_add(7 * 3600), 0)
            .map(|t| t.format("%d/%m/%Y %H:%M").to_string())
            .unwrap_or_default();
        out.push(HistoryLine { when, who: label_of(author), what });
        i = j + 1;
    }
    out
}

/// Heads of the document made of `changes` (those not depended on by another of them).
trait HeadsOf {
    fn get_heads_of(&mut self, changes: &[automerge::ChangeHash]) -> Vec<automerge::ChangeHash>;
}

impl HeadsOf for automerge::AutoCommit {
    fn get_heads_of(&mut self, changes: &[automerge::ChangeHash]) -> Vec<automerge::ChangeHash> {
        let mut depended: std::collections::HashSet<automerge::ChangeHash> = std::collections::HashSet::new();
        for h in changes {
            if let Some(c) = self.get_change_by_hash(h) {
                depended.extend(c.deps().iter().copied());
            }
        }
        changes.iter().copied().filter(|h| !depended.contains(h)).collect()
    }
}

/// Whether the report was submitted as of `heads`.
fn submitted_at(doc: &automerge::AutoCommit, heads: &[automerge::ChangeHash]) -> bool {
    use automerge::ReadDoc;
    matches!(
        doc.get_at(automerge::ROOT, "submitted_at_device", heads),
        Ok(Some((automerge::Value::Scalar(v), _))) if !matches!(v.as_ref(), automerge::ScalarValue::Null)
    )
}

/// The parts of a report a run of changes touched, in words.
fn describe(
    doc: &mut automerge::AutoCommit,
    before: &[automerge::ChangeHash],
    after: &[automerge::ChangeHash],
    first: bool,
) -> String {
    let mut parts: Vec<&'static str> = Vec::new();
    if first {
        parts.push("tạo báo cáo");
    } else {
        for p in &doc.diff(before, after) {
            let root_key =
                p.path.first().map(|(_, prop)| prop.to_string()).unwrap_or_else(|| match &p.action {
                    automerge::PatchAction::PutMap { key, .. } => key.clone(),
                    _ => String::new(),
                });
            let word = match root_key.as_str() {
                "sections" => "sửa nội dung",
                "figures" => "sửa số liệu",
                "submitted_at_device" => continue,
                "attachments" => "sửa tệp đính kèm",
                "title" | "period" | "kind" => "sửa tên, kỳ báo cáo",
                _ => "thay đổi khác",
            };
            if !parts.contains(&word) {
                parts.push(word);
            }
        }
    }
    if submitted_at(doc, after) && (first || !submitted_at(doc, before)) {
        parts.push("nộp báo cáo");
    }
    if parts.is_empty() {
        return "Không đổi gì thấy được".into();
    }
    let s = parts.join(", ");
    match s.get(..1) {
        Some(first) => first.to_uppercase() + &s[1..],
        None => s,
    }
}

struct Loaded {
    /// The member may change it here (`may_edit`).
    editable: bool,
    report: Report,
    files: Vec<super::attachments::FileLine>,
    history: Vec<HistoryLine>,
    verdicts: Vec<VerdictView>,
    unit_name: String,
}

async fn load(state: &AppState, signed: &Signed, id: DocId) -> Result<(Loaded, String, String), DeskError> {
    let relay = state.store.clone();
    let folder = state.files.clone();
    let me = signed.session.unit;
    with_store(state, &signed.session, move |s| {
        let report: Report = match s.report(id) {
            Ok(r) => r,
            Err(
                giaoban_client_core::CoreError::NotFound { .. }
                | giaoban_client_core::CoreError::WrongKind { .. },
            ) => {
                return Err(DeskError::NotFound);
            }
            Err(e) => return Err(e.into()),
        };
        let labels: std::collections::HashMap<Vec<u8>, String> =
            relay.devices()?.into_iter().map(|(d, _, label, _)| (d.to_bytes().to_vec(), label)).collect();
        let label_of = |actor: &[u8]| match labels.get(actor) {
            Some(l) => l.clone(),
            None => match DeviceId::from_slice(actor) {
                Ok(d) => format!("Thiết bị {d}"),
                Err(_) => "Không rõ".into(),
            },
        };
        let bytes = s.save_document(id)?;
        let mut doc = automerge::AutoCommit::load(&bytes)
            .map_err(|e| DeskError::Store(format!("the report {id} cannot be read: {e}")))?;
        let history = history(&mut doc, &label_of);
        // The reviewer sees its own verdicts; the reporting unit sees those of the units it
        // reports to.
        let reviewers: Vec<giaoban_protocol::UnitId> =
            if report.header.owner == me { report.header.audience.clone() } else { vec![me] };
        let mut verdicts = Vec::new();
        for reviewer in reviewers {
            if let Some(r) = s.review_of(id, reviewer)? {
                // Rounds written at once (neither writer had seen the other's) both stand in the
                // list; the later in the merged list counts, and the page says so when they
                // disagree about the same submission.
                let review_id = giaoban_protocol::schema::Review::id_for(id, reviewer);
                let written = round_writers(&s.save_document(review_id)?);
                let n = r.rounds.len();
                let disputes = disputed(&r.rounds, &written);
                verdicts.extend(r.rounds.into_iter().enumerate().map(|(i, round)| {
                    let disputed = disputes[i];
                    VerdictView {
                        accepted: round.verdict == Verdict::Accepted,
                        disputed,
                        who: written
                            .get(i)
                            .map(|w| label_of(&w.actor[..w.actor.len().min(16)]))
                            .unwrap_or_default(),
                        when: super::local_time(round.at_device.0),
                        standing: i + 1 == n,
                        note: round.note,
                    }
                }));
            }
        }
        let unit_name = super::views::unit_names(s).remove(&report.header.owner).unwrap_or_default();
        let files = super::attachments::lines(s, &relay, &*folder, id)?;
        let editable = may_edit(s, &report, me)?;
        Ok(Loaded { editable, report, files, history, verdicts, unit_name })
    })
    .await
}

/// What the review form says back: the note typed, a problem with it, or what was done.
#[derive(Default)]
struct Said {
    note: String,
    error: String,
    notice: String,
    /// Sections whose words were not saved: (key, the words typed, why).
    kept: Vec<(String, String, String)>,
}

fn page(signed: &Signed, id: DocId, loaded: Loaded, unit: String, warning: String, said: Said) -> ReportPage {
    let r = loaded.report;
    let me = signed.session.unit;
    ReportPage {
        chrome: chrome(&r.title, signed, unit, warning),
        id: id.to_string(),
        title: r.title.clone(),
        unit: loaded.unit_name,
        period: r.period.as_ref().map(|p| p.label.clone()).unwrap_or_default(),
        submitted: r.submitted_at_device.is_some(),
        may_review: r.submitted_at_device.is_some() && r.header.audience.contains(&me),
        dispatch: r.directive.map(|d| d.to_string()),
        editable: loaded.editable,
        sections: r
            .sections
            .iter()
            .map(|s| {
                let body = s.body.as_str().to_string();
                let kept = said.kept.iter().find(|k| k.0 == s.key);
                SectionView {
                    key: s.key.clone(),
                    heading: s.heading.clone(),
                    mark: section_mark(&body),
                    typed: kept.map(|k| k.1.clone()).unwrap_or_default(),
                    body,
                    error: kept.map(|k| k.2.clone()).unwrap_or_default(),
                    edited_concurrently: s.edited_concurrently,
                }
            })
            .collect(),
        figures: r
            .figures
            .iter()
            .map(|f| FigureView {
                indicator: f.indicator.clone(),
                written: format_figure(f),
                note: f.note.clone(),
            })
            .collect(),
        history: loaded.history,
        // Said while the verdict that stands was given without seeing one that disagrees.
        disputed: loaded.verdicts.last().is_some_and(|v| v.disputed),
        verdicts: loaded.verdicts,
        files: loaded.files,
        note: said.note,
        error: said.error,
        notice: said.notice,
    }
}

pub(super) async fn report_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<NoticeQuery>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let id: DocId = id.parse().map_err(|_| DeskError::NotFound)?;
    let (loaded, unit, warning) = load(&state, &signed, id).await?;
    let notice = match q.done.as_deref() {
        Some("accepted") => "Đã duyệt báo cáo. Đơn vị sẽ thấy khi thiết bị của họ đồng bộ.",
        Some("returned") => "Đã trả lại báo cáo kèm ghi chú. Đơn vị sẽ thấy khi thiết bị của họ đồng bộ.",
        Some("saved") => "Đã lưu báo cáo. Báo cáo vẫn là bản nháp cho đến khi nộp.",
        Some("submitted") => "Đã nộp báo cáo. Đơn vị nhận sẽ thấy khi thiết bị của họ đồng bộ.",
        _ => "",
    };
    let p = page(&signed, id, loaded, unit, warning, Said { notice: notice.into(), ..Said::default() });
    Ok(render(StatusCode::OK, &p))
}

#[derive(serde::Deserialize, Default)]
pub(super) struct NoticeQuery {
    #[serde(default)]
    done: Option<String>,
}

#[derive(serde::Deserialize)]
pub(super) struct ReviewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    verdict: String,
    #[serde(default)]
    note: String,
}

pub(super) async fn review_sent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ReviewForm>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    check_form(&state, &headers, &signed, &form.csrf)?;
    let id: DocId = id.parse().map_err(|_| DeskError::NotFound)?;
    let note = clean_multiline(&form.note);
    let verdict = match form.verdict.as_str() {
        "accept" => Verdict::Accepted,
        "return" => Verdict::Returned,
        _ => return Err(DeskError::BadForm),
    };
    let problem = if verdict == Verdict::Returned && note.is_empty() {
        "Khi trả lại, hãy ghi rõ đơn vị cần sửa hoặc bổ sung gì."
    } else if note.chars().count() > 5000 {
        "Ghi chú dài quá 5.000 ký tự."
    } else {
        ""
    };
    if !problem.is_empty() {
        let (loaded, unit, warning) = load(&state, &signed, id).await?;
        let p =
            page(&signed, id, loaded, unit, warning, Said { note, error: problem.into(), ..Said::default() });
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &p));
    }
    let written = note.clone();
    let me = signed.session.unit;
    let (outcome, _, _) = with_store_for(&state, &signed.session, Use::Write, move |s| {
        // The same verdict and note again on the same submission (a double click, a form sent
        // twice) is one round; not when the round standing was given at once with one that
        // disagrees, where giving it again settles it.
        let same = match s.review_of(id, me)? {
            Some(r) if !r.rounds.is_empty() => {
                let last = &r.rounds[r.rounds.len() - 1];
                let writers =
                    round_writers(&s.save_document(giaoban_protocol::schema::Review::id_for(id, me))?);
                let settled = !disputed(&r.rounds, &writers).last().copied().unwrap_or(false);
                settled
                    && last.verdict == verdict
                    && last.note == written
                    && last.submission.max(1) == current_submission(s, id)?
            }
            _ => false,
        };
        if same {
            return Ok(Ok(()));
        }
        match s.review_report(id, verdict, &written) {
            Ok(_) => Ok(Ok(())),
            Err(
                giaoban_client_core::CoreError::NotFound { .. }
                | giaoban_client_core::CoreError::WrongKind { .. },
            ) => Err(DeskError::NotFound),
            Err(giaoban_client_core::CoreError::Invalid(inv)) => Ok(Err(inv.reason)),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    if let Err(reason) = outcome {
        let (loaded, unit, warning) = load(&state, &signed, id).await?;
        let text = if reason.contains("not addressed") {
            "Báo cáo này không gửi cho đơn vị bạn nên bạn không duyệt được.".to_string()
        } else if reason.contains("draft") {
            "Báo cáo còn là bản nháp, đơn vị chưa nộp.".to_string()
        } else {
            format!("Không ghi được ý kiến: {reason}")
        };
        let p = page(&signed, id, loaded, unit, warning, Said { note, error: text, ..Said::default() });
        return Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &p));
    }
    push_now(&state, &signed.session).await?;
    let done = if verdict == Verdict::Accepted { "accepted" } else { "returned" };
    Ok(Redirect::to(&format!("/desk/report/{id}?done={done}")).into_response())
}

/// What saving the editor's sections came to.
enum Edited {
    /// Saved (and submitted, when asked).
    Done,
    /// Sections not saved, with the words typed and why; the others were saved.
    Kept(Vec<(String, String, String)>),
    /// Nothing saved, and why; the words typed come back.
    Refused(Vec<(String, String, String)>, String),
}

/// Whether the member's unit may still change report `r` on the desk: its own, and a draft,
/// or returned and not submitted again since.
fn may_edit(
    s: &mut giaoban_client_core::Store,
    r: &Report,
    me: giaoban_protocol::UnitId,
) -> Result<bool, DeskError> {
    if r.header.owner != me {
        return Ok(false);
    }
    if r.submitted_at_device.is_none() {
        return Ok(true);
    }
    let id = r.header.id;
    // Only the task the report answers, if any: the unit's other tasks are not read.
    let Some(source) = r.directive else { return returned_since(s, r, 1) };
    let submissions = s
        .list_tasks(&giaoban_client_core::TaskFilter { source: Some(source), ..Default::default() })?
        .iter()
        .find(|t| t.report == Some(id))
        .map_or(1, |t| t.submissions.max(1));
    returned_since(s, r, submissions)
}

/// Whether a reviewer's standing round on `r` returned it, judging submission `submissions`
/// or a later one.
fn returned_since(
    s: &mut giaoban_client_core::Store,
    r: &Report,
    submissions: u64,
) -> Result<bool, DeskError> {
    let id = r.header.id;
    for reviewer in &r.header.audience {
        if let Some(review) = s.review_of(id, *reviewer)?
            && let Some(last) = review.rounds.last()
            && last.verdict == Verdict::Returned
            && last.submission >= submissions
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The office's own report edited on the desk (the consolidated report drafted from a
/// task's figures): each section's words saved, then, when asked, the report submitted in the
/// staff member's name. A section changed elsewhere since the page was made is not
/// overwritten: the page comes back with the words typed beside what it now reads.
pub(super) async fn edit_sent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let csrf = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or("");
    check_form(&state, &headers, &signed, csrf)?;
    let id: DocId = id.parse().map_err(|_| DeskError::NotFound)?;
    let submit = pairs.iter().any(|(k, v)| k == "action" && v == "submit");
    let value = |name: String| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
    // Every section the form names, with its words and the fingerprint its box was made from;
    // a section sent without either is a form this page did not make.
    let typed: Vec<(String, Option<String>, Option<String>)> = pairs
        .iter()
        .filter(|(k, _)| k == "section")
        .take(200)
        .map(|(_, key)| (key.clone(), value(format!("text_{key}")), value(format!("mark_{key}"))))
        .collect();
    let me = signed.session.unit;
    let person = signed.session.name.clone();
    let (edited, _, _) = with_store_for(&state, &signed.session, Use::Write, move |s| {
        let report = match s.report(id) {
            Ok(r) if r.header.owner == me => r,
            Ok(_)
            | Err(
                giaoban_client_core::CoreError::NotFound { .. }
                | giaoban_client_core::CoreError::WrongKind { .. },
            ) => return Err(DeskError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let now_of = |key: &str| report.sections.iter().find(|x| x.key == key).map(|x| x.body.as_str().to_string());
        // Nothing is saved from a form naming a section the report lacks, or one without its
        // words or fingerprint: the words typed come back with the reason.
        let mut strays = Vec::new();
        let mut sections = Vec::new();
        for (key, text, mark) in typed {
            match (now_of(&key), text, mark) {
                (Some(now), Some(text), Some(mark)) => sections.push((key, clean_multiline(&text), mark, now)),
                // Named without words: nothing typed for it, nothing to save.
                (Some(_), None, _) => {}
                (_, text, _) => strays.push((key, text.unwrap_or_default())),
            }
        }
        if !strays.is_empty() {
            let words: Vec<String> = strays.iter().map(|(k, t)| format!("“{k}”: {t}")).collect();
            return Ok(Edited::Refused(
                sections.into_iter().map(|(k, t, _, _)| (k, t, String::new())).collect(),
                format!(
                    "Chưa lưu gì: biểu mẫu gửi nội dung cho phần báo cáo không có hoặc thiếu thông tin của trang ({}). Hãy mở lại trang và sửa lại.",
                    words.join("; ")
                ),
            ));
        }
        // Submitted (or accepted) since the page was made: nothing is changed. The same words
        // submitted again (a double click, a form sent twice) are the one submission.
        if !may_edit(s, &report, me)? {
            if sections.iter().all(|(_, text, _, now)| text == now) && submit {
                return Ok(Edited::Done);
            }
            return Ok(Edited::Refused(
                sections.into_iter().map(|(k, t, _, _)| (k, t, String::new())).collect(),
                "Chưa lưu gì: báo cáo đã được nộp hoặc đã được duyệt sau khi bạn mở trang nên không sửa ở đây được nữa. Lời bạn gõ ở dưới, bên cạnh nội dung đã nộp.".into(),
            ));
        }
        let mut kept = Vec::new();
        for (key, text, mark, now) in sections {
            if text == now {
                continue;
            }
            if section_mark(&now) != mark {
                kept.push((
                    key,
                    text,
                    "Phần này vừa được sửa ở nơi khác sau khi bạn mở trang, nên chưa lưu lời bạn gõ (vẫn ở trong ô). Hãy đọc nội dung mới (tải lại trang ở thẻ khác) rồi sửa lại.".into(),
                ));
                continue;
            }
            match s.set_report_section_text(id, &key, &text) {
                Ok(()) => {}
                Err(giaoban_client_core::CoreError::Invalid(inv)) => {
                    let why = if inv.reason.contains("long") || inv.reason.contains("at most") {
                        "Phần này dài quá mức một báo cáo cho phép; hãy rút gọn.".to_string()
                    } else {
                        format!("Không lưu được phần này: {}", inv.reason)
                    };
                    kept.push((key, text, why));
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !kept.is_empty() {
            return Ok(Edited::Kept(kept));
        }
        if submit {
            s.submit_report_by(id, &person)?;
        }
        Ok(Edited::Done)
    })
    .await?;
    match edited {
        Edited::Refused(kept, error) => {
            let (loaded, unit, warning) = load(&state, &signed, id).await?;
            let said = Said { error, kept, ..Said::default() };
            Ok(render(StatusCode::CONFLICT, &page(&signed, id, loaded, unit, warning, said)))
        }
        Edited::Kept(kept) => {
            push_now(&state, &signed.session).await?;
            let (loaded, unit, warning) = load(&state, &signed, id).await?;
            let error = if submit {
                "Chưa nộp: có phần chưa lưu được (ghi ngay dưới phần đó). Các phần khác đã lưu."
            } else {
                "Có phần chưa lưu được (ghi ngay dưới phần đó). Các phần khác đã lưu."
            };
            let said = Said { error: error.into(), kept, ..Said::default() };
            Ok(render(StatusCode::CONFLICT, &page(&signed, id, loaded, unit, warning, said)))
        }
        Edited::Done => {
            push_now(&state, &signed.session).await?;
            let done = if submit { "submitted" } else { "saved" };
            Ok(Redirect::to(&format!("/desk/report/{id}?done={done}")).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use automerge::transaction::Transactable;

    #[test]
    fn a_run_of_one_authors_changes_is_one_line_and_says_what_it_touched() {
        let a = automerge::ActorId::from([1u8; 24].as_slice());
        let b = automerge::ActorId::from([2u8; 24].as_slice());
        let mut doc = automerge::AutoCommit::new().with_actor(a);
        doc.put(automerge::ROOT, "title", "Báo cáo").unwrap();
        doc.commit_with(automerge::transaction::CommitOptions::default().with_time(1000));
        let sections = doc.put_object(automerge::ROOT, "sections", automerge::ObjType::List).unwrap();
        doc.insert(&sections, 0, "x").unwrap();
        doc.commit_with(automerge::transaction::CommitOptions::default().with_time(1100));
        let mut other = doc.fork().with_actor(b);
        other.put(automerge::ROOT, "submitted_at_device", 5).unwrap();
        other.commit_with(automerge::transaction::CommitOptions::default().with_time(5000));
        doc.merge(&mut other).unwrap();
        let label = |actor: &[u8]| {
            if actor[0] == 1 { "Máy phường".to_string() } else { "Bàn làm việc".to_string() }
        };
        let h = history(&mut doc, &label);
        assert_eq!(h.len(), 2, "two runs");
        assert_eq!(h[0].what, "Tạo báo cáo");
        assert!(!submitted_at(&doc, &[]));
        assert_eq!(h[0].who, "Máy phường");
        assert_eq!(h[1].what, "Nộp báo cáo");
        assert_eq!(h[1].who, "Bàn làm việc");
    }
}
