//! Lookups by the words a person has at hand rather than an id, for an address typed by hand
//! and for scripts (`giaoban-relay export`): a dispatch by its number as printed
//! (`/desk/find/dispatch?number=305/MTTQ-BTT`) and the report a unit sent under it
//! (`/desk/find/report?number=305/MTTQ-BTT&unit=P. Xuân Trung`, `&task=3` when it answered
//! several tasks). Each answers with a redirect to the page found (303), "not found" in words
//! (404), or the pages to choose from when more than one fits (300). Read from the member's
//! store like every page, so only among the dispatches the member's unit issued.

use giaoban_client_core::{TaskFilter, TaskScope};
use giaoban_protocol::UnitId;

use super::*;

#[derive(serde::Deserialize, Default)]
pub(super) struct FindQuery {
    #[serde(default)]
    number: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    task: Option<String>,
}

/// One of several pages that fit.
struct Choice {
    href: String,
    label: String,
    note: String,
}

#[derive(Template)]
#[template(path = "desk/choices.html")]
struct ChoicesPage {
    chrome: Chrome,
    heading: String,
    text: String,
    choices: Vec<Choice>,
}

/// What a lookup found.
enum Found {
    /// The page to go to.
    One(String),
    /// Nothing: the heading and sentence to say so.
    Nothing(&'static str, String),
    /// Several: the sentence and the pages.
    Several(String, Vec<Choice>),
}

fn numbered_choices(found: &[views::Numbered]) -> Vec<Choice> {
    found
        .iter()
        .map(|d| Choice {
            href: format!("/desk/dispatch/{}", d.id),
            label: d.title.clone(),
            note: format!("ban hành ngày {}", d.issued_on),
        })
        .collect()
}

/// The one dispatch numbered `number`, or what to say instead.
fn one_dispatch(s: &mut Store, number: &str) -> Result<Result<views::Numbered, Found>, DeskError> {
    let number = giaoban_vietnamese_text::clean_input(number);
    if views::number_key(&number).is_empty() {
        return Ok(Err(Found::Nothing(
            "Chưa có số văn bản",
            "Hãy ghi số văn bản như in trên văn bản, ví dụ “305/MTTQ-BTT”.".into(),
        )));
    }
    let mut found = views::issued_numbered(s, &number)?;
    Ok(match found.len() {
        0 => Err(Found::Nothing(
            "Không tìm thấy văn bản",
            format!(
                "Đơn vị bạn chưa ban hành văn bản nào số “{number}” (hoặc bàn làm việc chưa nhận được văn bản đó). Hãy xem lại số văn bản như in trên văn bản, ví dụ “305/MTTQ-BTT”."
            ),
        )),
        1 => Ok(found.remove(0)),
        n => Err(Found::Several(
            format!(
                "Đơn vị bạn đã ban hành {n} văn bản cùng số “{number}”. Hãy chọn một văn bản theo ngày ban hành."
            ),
            numbered_choices(&found),
        )),
    })
}

/// The answer to a lookup: a redirect, "not found", or the choices.
fn answer(found: Found, signed: &Signed, unit: String, warning: String) -> Response {
    match found {
        Found::One(href) => Redirect::to(&href).into_response(),
        Found::Nothing(heading, text) => message(StatusCode::NOT_FOUND, heading, &text, "/desk"),
        Found::Several(text, choices) => {
            let heading = "Có nhiều kết quả".to_string();
            let page =
                ChoicesPage { chrome: chrome(&heading, signed, unit, warning), heading, text, choices };
            render(StatusCode::MULTIPLE_CHOICES, &page)
        }
    }
}

/// `GET /desk/find/dispatch?number=…`: the page of the dispatch the member's unit issued under
/// that number.
pub(super) async fn find_dispatch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<FindQuery>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let (found, unit, warning) = with_store(&state, &signed.session, move |s| {
        Ok(match one_dispatch(s, &query.number)? {
            Ok(d) => Found::One(format!("/desk/dispatch/{}", d.id)),
            Err(f) => f,
        })
    })
    .await?;
    Ok(answer(found, &signed, unit, warning))
}

/// `GET /desk/find/report?number=…&unit=…[&task=N]`: the report the unit named sent under the
/// dispatch of that number (for task N, when it answered several).
pub(super) async fn find_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<FindQuery>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let (found, unit, warning) = with_store(&state, &signed.session, move |s| report_of(s, &query)).await?;
    Ok(answer(found, &signed, unit, warning))
}

fn report_of(s: &mut Store, query: &FindQuery) -> Result<Found, DeskError> {
    let task = match query.task.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => match t.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                return Ok(Found::Nothing(
                    "Số nhiệm vụ không hợp lệ",
                    format!("“{t}” không phải số thứ tự của một nhiệm vụ; hãy ghi số, ví dụ 3."),
                ));
            }
        },
    };
    let asked = giaoban_vietnamese_text::clean_input(&query.unit);
    if giaoban_vietnamese_text::search_tokens(&asked).is_empty() {
        return Ok(Found::Nothing(
            "Chưa có tên đơn vị",
            "Hãy ghi tên đơn vị đã báo cáo, ví dụ “P. Xuân Trung”.".into(),
        ));
    }
    let d = match one_dispatch(s, &query.number)? {
        Ok(d) => d,
        Err(f) => return Ok(f),
    };
    let tasks = s.list_tasks(&TaskFilter {
        scope: TaskScope::IssuedByMe,
        source: Some(d.id),
        ..TaskFilter::default()
    })?;
    let mut addressed: Vec<UnitId> = tasks.iter().map(|t| t.assignee).collect();
    addressed.sort_unstable();
    addressed.dedup();
    let dir = s.shared_unit_directory()?;
    let name = |u: UnitId| super::printed::unit_called(Some(&dir), u);
    let units = views::units_called(&dir, &addressed, &asked);
    let unit = match units.as_slice() {
        [] => {
            return Ok(Found::Nothing(
                "Không tìm thấy đơn vị",
                format!("Văn bản {} không giao nhiệm vụ cho đơn vị nào tên “{asked}”.", d.title),
            ));
        }
        [u] => *u,
        several => {
            let mut choices: Vec<Choice> = several
                .iter()
                .map(|u| Choice {
                    href: format!("/desk/dispatch/{}/unit/{u}", d.id),
                    label: name(*u),
                    note: String::new(),
                })
                .collect();
            giaoban_vietnamese_text::collator().sort_by_name(&mut choices, |c| &c.label);
            return Ok(Found::Several(
                format!(
                    "Có {} đơn vị nhận văn bản {} khớp với “{asked}”. Hãy ghi đủ tên đơn vị.",
                    several.len(),
                    d.title
                ),
                choices,
            ));
        }
    };
    let mut reports: Vec<(u64, giaoban_protocol::DocId)> = tasks
        .iter()
        .filter(|t| t.assignee == unit && task.is_none_or(|n| t.ordinal == n))
        .filter_map(|t| t.report.map(|r| (t.ordinal, r)))
        .collect();
    reports.sort_unstable();
    // One report may answer several tasks.
    let mut distinct: Vec<giaoban_protocol::DocId> = reports.iter().map(|(_, r)| *r).collect();
    distinct.sort_unstable();
    distinct.dedup();
    Ok(match distinct.as_slice() {
        [] => {
            let which = match task {
                Some(n) if !tasks.iter().any(|t| t.assignee == unit && t.ordinal == n) => {
                    format!("Văn bản {} không giao nhiệm vụ {n} cho {}.", d.title, name(unit))
                }
                Some(n) => format!("{} chưa gửi báo cáo nhiệm vụ {n} của văn bản {}.", name(unit), d.title),
                None => format!("{} chưa gửi báo cáo nào cho văn bản {}.", name(unit), d.title),
            };
            Found::Nothing("Chưa có báo cáo", which)
        }
        [r] => Found::One(format!("/desk/report/{r}")),
        _ => {
            let mut seen = Vec::new();
            let choices = reports
                .iter()
                .filter(|(_, r)| {
                    let first = !seen.contains(r);
                    seen.push(*r);
                    first
                })
                .map(|(n, r)| Choice {
                    href: format!("/desk/report/{r}"),
                    label: format!("Báo cáo nhiệm vụ {n}"),
                    note: name(unit),
                })
                .collect();
            Found::Several(
                format!(
                    "{} đã gửi báo cáo cho nhiều nhiệm vụ của văn bản {}. Hãy chọn nhiệm vụ.",
                    name(unit),
                    d.title
                ),
                choices,
            )
        }
    })
}
