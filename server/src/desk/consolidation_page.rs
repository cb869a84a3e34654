//! A task's consolidation (tổng hợp số liệu): its units' figures summed per indicator, with
//! the choice of whom to count, the units not counted and why, and how exact each total is.
//! Read from the staff member's store (`Store::consolidation`), so it is as current as the
//! page's sync.

use giaoban_client_core::protocol::schema::{FigureScope, Qualifier};
use giaoban_client_core::{Consolidation, Counting, IndicatorTotal, Sum, format_figure};
use giaoban_vietnamese_text::format_date;

use axum::extract::RawQuery;

use super::*;

/// A column as the page heads it.
struct ColumnHead {
    /// The indicator's code ("quy_vnn_vnd").
    indicator: String,
    /// "đ", "căn", … or empty.
    measure: &'static str,
    /// "trong kỳ", or "lũy kế" with the day it counts from when every unit said the same one.
    scope: String,
    /// The total in words ("khoảng 870.000.000 đ").
    total: String,
    /// Why the total is not exact, or what it mixes; empty when it is plain.
    note: String,
}

struct UnitLine {
    name: String,
    /// Its report's page.
    report: Option<String>,
    /// "đã duyệt" / "đã báo cáo, chờ duyệt".
    standing: &'static str,
    /// One per column: the figure as shown, and the words it was written in when they differ.
    cells: Vec<Option<(String, String)>>,
}

#[derive(Template)]
#[template(path = "desk/consolidation.html")]
struct ConsolidationPage {
    chrome: Chrome,
    dispatch: String,
    dispatch_title: String,
    ordinal: u64,
    task_text: String,
    /// The dispatch's own words for the office's step ("Giao đ/c Muối tổng hợp …") and its
    /// deadline; empty when it names none.
    step: String,
    step_deadline: String,
    all: bool,
    columns: Vec<ColumnHead>,
    rows: Vec<UnitLine>,
    not_counted: Vec<(String, &'static str)>,
    missing: Vec<String>,
}

/// A task's number from the address; anything else is "not found", as a task out of reach.
fn task_number(s: &str) -> Result<u64, DeskError> {
    s.parse().map_err(|_| DeskError::NotFound)
}

/// Whether the address asks to count all reports submitted (`counting=all`, the first one
/// given); anything else counts accepted reports only.
fn counts_all(query: Option<&str>) -> bool {
    query
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "counting"))
        .is_some_and(|(_, v)| v == "all")
}

fn total_note(col: &IndicatorTotal) -> String {
    let mut parts = Vec::new();
    let n = giaoban_vietnamese_text::format_number;
    if let Sum::Value { qualifier, .. } = col.sum
        && qualifier != Qualifier::Exact
    {
        let mut approx = Vec::new();
        for (count, word) in [(col.under, "“gần”"), (col.over, "“hơn”"), (col.about, "“khoảng”")]
        {
            if count > 0 {
                approx.push(format!("{} số liệu {word}", n(count as i64)));
            }
        }
        let lean = match qualifier {
            Qualifier::Under => "tổng thực tế thấp hơn một chút",
            Qualifier::Over => "tổng thực tế cao hơn một chút",
            _ => "tổng chỉ là ước tính",
        };
        parts.push(format!("Số gần đúng: cộng {}; {lean}.", approx.join(", ")));
    }
    if col.key.scope == FigureScope::Cumulative && col.since.len() > 1 {
        let days: Vec<String> = col.since.iter().map(|d| format_date(*d)).collect();
        parts.push(format!("Các đơn vị tính lũy kế từ các ngày khác nhau: {}.", days.join(", ")));
    }
    parts.join(" ")
}

pub(super) async fn consolidation_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, ordinal)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let ordinal = task_number(&ordinal)?;
    let id: DocId = id.parse().map_err(|_| DeskError::NotFound)?;
    let all = counts_all(query.as_deref());
    let counting = if all { Counting::AllSubmitted } else { Counting::AcceptedOnly };
    let (page, member_unit, warning) = with_store(&state, &signed.session, move |s| {
        let c: Consolidation = match s.consolidation(id, ordinal, counting) {
            Ok(c) => c,
            Err(giaoban_client_core::CoreError::NotFound { .. }) => return Err(DeskError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let d = s.directive(id).map_err(|_| DeskError::NotFound)?;
        let task = d.task(ordinal).ok_or(DeskError::NotFound)?;
        let (step, step_deadline) = match &task.consolidation {
            Some(c) => (c.text.clone(), c.deadline.original_text.clone()),
            None => (String::new(), String::new()),
        };
        let names = views::unit_names(s);
        let name = |u| names.get(&u).cloned().unwrap_or_else(|| format!("Đơn vị {u}"));
        let columns = c
            .columns
            .iter()
            .map(|col| ColumnHead {
                indicator: col.key.indicator.clone(),
                measure: col.key.unit.vietnamese(),
                scope: col.scope_words(),
                total: col.total_words(),
                note: total_note(col),
            })
            .collect();
        let rows = c
            .rows
            .iter()
            .map(|r| UnitLine {
                name: name(r.unit),
                report: r.report.map(|r| r.to_string()),
                standing: r.standing.vietnamese(),
                cells: r
                    .cells
                    .iter()
                    .map(|f| {
                        f.as_ref().map(|f| {
                            let shown = format_figure(f);
                            let written = if f.written.is_empty() || f.written == shown {
                                String::new()
                            } else {
                                f.written.clone()
                            };
                            (shown, written)
                        })
                    })
                    .collect(),
            })
            .collect();
        let not_counted = c.not_counted.iter().map(|(u, s)| (name(*u), s.vietnamese())).collect();
        Ok((
            giaoban_client_core::protocol::schema::DocumentSchema::title(&d),
            task.text.clone(),
            step,
            step_deadline,
            columns,
            rows,
            not_counted,
            c.missing_indicators,
        ))
    })
    .await?;
    let (dispatch_title, task_text, step, step_deadline, columns, rows, not_counted, missing) = page;
    let page = ConsolidationPage {
        chrome: chrome(
            &format!("Tổng hợp nhiệm vụ {ordinal} – {dispatch_title}"),
            &signed,
            member_unit,
            warning,
        ),
        dispatch: id.to_string(),
        dispatch_title,
        ordinal,
        task_text,
        step,
        step_deadline,
        all,
        columns,
        rows,
        not_counted,
        missing,
    };
    Ok(render(StatusCode::OK, &page))
}

/// Reads what a download needs from the member's store: the consolidation, the dispatch and
/// the unit directory.
async fn consolidation_parts(
    state: &AppState,
    signed: &Signed,
    id: &str,
    ordinal: u64,
    all: bool,
) -> Result<
    (
        Consolidation,
        giaoban_client_core::protocol::schema::Directive,
        Option<std::sync::Arc<giaoban_client_core::protocol::schema::UnitDirectory>>,
    ),
    DeskError,
> {
    let id: DocId = id.parse().map_err(|_| DeskError::NotFound)?;
    let counting = if all { Counting::AllSubmitted } else { Counting::AcceptedOnly };
    let (parts, _, _) = with_store(state, &signed.session, move |s| {
        let c = match s.consolidation(id, ordinal, counting) {
            Ok(c) => c,
            Err(giaoban_client_core::CoreError::NotFound { .. }) => return Err(DeskError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let d = s.directive(id).map_err(|_| DeskError::NotFound)?;
        Ok((c, d, s.shared_unit_directory().ok()))
    })
    .await?;
    Ok(parts)
}

fn export_failed(e: giaoban_export::ExportError) -> DeskError {
    DeskError::Unprintable(e.to_string())
}

/// `…/figures.xlsx`: the consolidation as a sheet.
pub(super) async fn consolidation_xlsx(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, ordinal)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let ordinal = task_number(&ordinal)?;
    let all = counts_all(query.as_deref());
    let (c, d, dir) = consolidation_parts(&state, &signed, &id, ordinal, all).await?;
    let name = |u| super::printed::unit_called(dir.as_deref(), u);
    let title = format!("Tổng hợp nhiệm vụ {ordinal} {}", d.number.raw);
    let table = super::printed::consolidation_table(&c, &name, &title);
    let bytes = giaoban_export::xlsx(&format!("Nhiệm vụ {ordinal}"), &table).map_err(export_failed)?;
    Ok(super::printed::download(bytes, &title, "xlsx"))
}

/// `…/report.docx`: the office's consolidated report drafted from the consolidation.
pub(super) async fn consolidated_docx(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, ordinal)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let ordinal = task_number(&ordinal)?;
    let all = counts_all(query.as_deref());
    let (c, d, dir) = consolidation_parts(&state, &signed, &id, ordinal, all).await?;
    let name = |u| super::printed::unit_called(dir.as_deref(), u);
    let title = format!("Số liệu tổng hợp nhiệm vụ {ordinal}");
    let mut table = super::printed::consolidation_table(&c, &name, &title);
    if table.columns.len() > giaoban_export::Table::MAX_COLUMNS {
        // Wider than a page's table can be: a row per unit and indicator instead.
        table = super::printed::consolidation_long_table(&c, &name, &title);
    }
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    let letter = super::printed::consolidated_letter(&d, ordinal, table, dir.as_deref(), today);
    super::printed::docx_download(&letter, &format!("Bao cao tong hop {}", d.number.raw))
}

#[derive(serde::Deserialize)]
pub(super) struct DraftForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    counting: Option<String>,
}

/// `…/draft-report` (POST): the office's own consolidated report drafted from the
/// consolidation, in the member's store and sent to the relay; then its page.
pub(super) async fn draft_report_sent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, ordinal)): Path<(String, String)>,
    Form(form): Form<DraftForm>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    check_form(&state, &headers, &signed, &form.csrf)?;
    let ordinal = task_number(&ordinal)?;
    let id: DocId = id.parse().map_err(|_| DeskError::NotFound)?;
    let counting =
        if form.counting.as_deref() == Some("all") { Counting::AllSubmitted } else { Counting::AcceptedOnly };
    let (draft, _, _) = with_store_for(&state, &signed.session, Use::Write, move |s| {
        match s.draft_consolidated_report(id, ordinal, counting) {
            Ok(d) => Ok(d),
            Err(
                giaoban_client_core::CoreError::NotFound { .. }
                | giaoban_client_core::CoreError::WrongKind { .. },
            ) => Err(DeskError::NotFound),
            Err(e) => Err(e.into()),
        }
    })
    .await?;
    push_now(&state, &signed.session).await?;
    Ok(Redirect::to(&format!("/desk/report/{draft}")).into_response())
}
