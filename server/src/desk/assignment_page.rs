//! One unit's assignment under a dispatch, step by step with times: issued, when it first
//! reached a device of the unit, reminders, acknowledged, in progress, each submission, the
//! verdicts. Read from the staff member's store (`Store::assignment_history`) and, for the
//! first delivery, from the relay's own record of what its devices were sent.

use std::collections::HashMap;

use giaoban_client_core::{AssignmentEvent, AssignmentStep, TaskFilter, TaskScope};
use giaoban_protocol::{DeviceId, UnitId};

use super::*;

/// A task's line at the top: where the unit stands on it now.
struct TaskNow {
    ordinal: u64,
    text: String,
    cell: views::Cell,
}

/// One step as the page shows it.
struct StepLine {
    /// "14:05 ngày 02/12/2026".
    when: String,
    /// The time is the writer's clock (moved onto the relay's), not a receipt: shown as such.
    by_device_clock: bool,
    /// "Nhiệm vụ 2", or "Cả văn bản".
    task: String,
    /// What happened, in words.
    what: String,
    /// Its words (a reminder, a reason, a verdict's note); empty when none.
    note: String,
    /// The device or staff member that wrote it; empty when unknown.
    who: String,
}

#[derive(Template)]
#[template(path = "desk/assignment.html")]
struct AssignmentPage {
    chrome: Chrome,
    dispatch: String,
    dispatch_title: String,
    unit: String,
    last_sync: String,
    tasks: Vec<TaskNow>,
    steps: Vec<StepLine>,
}

fn step_words(step: &AssignmentStep) -> (String, String) {
    match step {
        AssignmentStep::Issued => ("Ban hành, giao nhiệm vụ".into(), String::new()),
        AssignmentStep::Reminded { note } => ("Đôn đốc".into(), note.clone()),
        AssignmentStep::Acknowledged => ("Đơn vị tiếp nhận".into(), String::new()),
        AssignmentStep::InProgress => ("Đang thực hiện".into(), String::new()),
        AssignmentStep::Submitted { count: 1 } => ("Nộp báo cáo".into(), String::new()),
        AssignmentStep::Submitted { count } => (
            format!("Nộp lại báo cáo (lần {})", giaoban_vietnamese_text::format_number(*count as i64)),
            String::new(),
        ),
        AssignmentStep::NotApplicable { reason } => ("Báo không áp dụng".into(), reason.clone()),
        AssignmentStep::Accepted { note } => ("Duyệt báo cáo".into(), note.clone()),
        AssignmentStep::Returned { note } => ("Trả lại báo cáo".into(), note.clone()),
    }
}

fn step_line(e: &AssignmentEvent, label_of: &dyn Fn(DeviceId) -> String) -> StepLine {
    let (what, note) = step_words(&e.step);
    StepLine {
        when: local_time(e.when().0),
        by_device_clock: e.received_at.is_none(),
        task: match e.ordinal {
            Some(o) => format!("Nhiệm vụ {o}"),
            None => "Cả văn bản".into(),
        },
        what,
        note,
        who: e.by.map(label_of).unwrap_or_default(),
    }
}

/// `/desk/dispatch/{id}/unit/{unit}`: the page, for a dispatch this member's unit issued and a
/// unit it addressed; anything else is "not found", as for a record out of reach.
pub(super) async fn assignment_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, unit)): Path<(String, String)>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let id: DocId = id.parse().map_err(|_| DeskError::NotFound)?;
    let unit: UnitId = unit.parse().map_err(|_| DeskError::NotFound)?;
    let relay = state.store.clone();
    let (page, member_unit, warning) = with_store(&state, &signed.session, move |s| {
        let tasks: Vec<_> = s
            .list_tasks(&TaskFilter {
                scope: TaskScope::IssuedByMe,
                source: Some(id),
                ..TaskFilter::default()
            })?
            .into_iter()
            .filter(|t| t.assignee == unit)
            .collect();
        let Some(first) = tasks.first() else { return Err(DeskError::NotFound) };
        let dispatch_title = first.source_title.clone();
        let delivery = relay.deliveries(id, &[unit])?.remove(&unit);
        let delivered = delivery.as_ref().is_some_and(|d| d.delivered);
        let mut tasks_now: Vec<TaskNow> = tasks
            .iter()
            .map(|t| TaskNow { ordinal: t.ordinal, text: t.text.clone(), cell: views::cell(t, delivered) })
            .collect();
        tasks_now.sort_by_key(|t| t.ordinal);
        let labels: HashMap<DeviceId, String> =
            relay.devices()?.into_iter().map(|(d, _, label, _)| (d, label)).collect();
        let label_of = |d: DeviceId| labels.get(&d).cloned().unwrap_or_else(|| format!("Thiết bị {d}"));
        let history = s.assignment_history(id, unit)?;
        let mut steps: Vec<(i64, StepLine)> =
            history.iter().map(|e| (e.when().0, step_line(e, &label_of))).collect();
        if let Some(at) = relay.first_deliveries(id, &[unit])?.remove(&unit) {
            steps.push((
                at,
                StepLine {
                    when: local_time(at),
                    by_device_clock: false,
                    task: "Cả văn bản".into(),
                    what: "Văn bản đến máy đầu tiên của đơn vị".into(),
                    note: String::new(),
                    who: String::new(),
                },
            ));
        }
        // Stable: steps the history ordered keep their order within a second.
        steps.sort_by_key(|(at, _)| *at);
        let unit_name = views::unit_names(s).remove(&unit).unwrap_or_else(|| format!("Đơn vị {unit}"));
        let last_sync = match views::last_sync_words(delivery.as_ref()) {
            w if w.is_empty() => w,
            w => format!("Thiết bị của đơn vị: {w}."),
        };
        Ok((dispatch_title, unit_name, last_sync, tasks_now, steps.into_iter().map(|(_, l)| l).collect()))
    })
    .await?;
    let (dispatch_title, unit_name, last_sync, tasks, steps) = page;
    let page = AssignmentPage {
        chrome: chrome(&format!("{unit_name} – {dispatch_title}"), &signed, member_unit, warning),
        dispatch: id.to_string(),
        dispatch_title,
        unit: unit_name,
        last_sync,
        tasks,
        steps,
    };
    Ok(render(StatusCode::OK, &page))
}
