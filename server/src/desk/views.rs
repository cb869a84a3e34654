//! What the desk's pages show, read from a staff member's store through client-core's domain
//! API and derived tables (never from the relay's tables): the dispatches the unit issued, and
//! for one dispatch the matrix of units and tasks.

use std::collections::{BTreeMap, HashMap};

use giaoban_client_core::{Store, TaskFilter, TaskScope, TaskView};
use giaoban_protocol::schema::{TaskState, Verdict};
use giaoban_protocol::{DeadlineStanding, DocId, UnitId};
use giaoban_vietnamese_text::{collator, format_date, search_key};

/// One cell's words, icon and style class: where a unit stands on a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// What the unit has done ("Đã báo cáo").
    pub state: &'static str,
    /// A symbol beside the words (never the only sign).
    pub icon: &'static str,
    /// A class for the cell's colour.
    pub class: &'static str,
    /// The deadline standing in the Government Office's terms, when the task has a deadline.
    pub standing: Option<&'static str>,
    /// When the relay received the submission (dd/mm/yyyy).
    pub received: Option<String>,
    /// The report answering the task.
    pub report: Option<String>,
}

/// The four terms offices report deadlines in.
pub const ON_TIME: &str = "Hoàn thành đúng hạn";
/// Done after the deadline.
pub const LATE: &str = "Hoàn thành quá hạn";
/// Not done, deadline not yet passed.
pub const OPEN_IN_TIME: &str = "Chưa hoàn thành – trong hạn";
/// Not done, deadline passed.
pub const OPEN_OVERDUE: &str = "Chưa hoàn thành – quá hạn";

fn standing_words(s: DeadlineStanding) -> &'static str {
    match s {
        DeadlineStanding::DoneOnTime => ON_TIME,
        DeadlineStanding::DoneLate => LATE,
        DeadlineStanding::Upcoming | DeadlineStanding::DueSoon => OPEN_IN_TIME,
        DeadlineStanding::Overdue => OPEN_OVERDUE,
    }
}

/// The cell of one task view; `delivered` says whether the dispatch reached any device of the
/// unit (it matters only while the unit has not answered).
pub fn cell(t: &TaskView, delivered: bool) -> Cell {
    let (state, icon, class) = match (t.state, &t.review) {
        (None, _) if delivered => ("Đã đến máy, chưa phản hồi", "◌", "delivered"),
        (None, _) => ("Chưa đến máy nào", "○", "none"),
        (Some(TaskState::Received), _) => ("Đã nhận", "◔", "received"),
        (Some(TaskState::Acknowledged), _) => ("Đã tiếp nhận", "◑", "acknowledged"),
        (Some(TaskState::InProgress), _) => ("Đang thực hiện", "◕", "progress"),
        (Some(TaskState::NotApplicable), _) => ("Không áp dụng", "—", "na"),
        (Some(TaskState::Submitted), Some((Verdict::Accepted, _))) => ("Đã duyệt", "✔", "accepted"),
        (Some(TaskState::Submitted), Some((Verdict::Returned, _))) => ("Trả lại", "↩", "returned"),
        (Some(TaskState::Submitted), None) if t.submissions > 1 => {
            ("Đã báo cáo lại, chờ duyệt", "✉", "reported")
        }
        (Some(TaskState::Submitted), None) => ("Đã báo cáo", "✉", "reported"),
    };
    Cell {
        state,
        icon,
        class,
        standing: t.standing.map(standing_words),
        received: t.received_at.map(|r| format_date(r.local_date())),
        report: t.report.map(|r| r.to_string()),
    }
}

/// A dispatch's own words beside its matrix: its kind, where copies went, and who to contact
/// and work with for each task.
#[derive(Debug, Clone)]
pub struct DispatchText {
    /// "Công văn", "Kế hoạch" …
    pub kind: &'static str,
    /// "Số: 305/MTTQ-BTT".
    pub number: String,
    /// "24/01/2022".
    pub issued_on: String,
    /// The "Kính gửi" line.
    pub recipients_label: String,
    /// "Nơi nhận", one line each.
    pub copies_to: Vec<String>,
    /// Tasks that name a contact or organisations to work with.
    pub tasks: Vec<TaskText>,
}

/// A task's contact and the organisations it asks to work with.
#[derive(Debug, Clone)]
pub struct TaskText {
    /// Its number.
    pub ordinal: u64,
    /// The contact as it reads: the dispatch's words, then the person's line.
    pub contact: String,
    /// Organisations to work with.
    pub coordinate_with: Vec<String>,
}

/// A task's contact as the desk shows it: the dispatch's words, then the person's line
/// (once, when the words are that line); empty when it names nobody.
pub fn contact_line(words: Option<&str>, person: Option<&giaoban_protocol::schema::Person>) -> String {
    match (words, person) {
        (Some(w), Some(p)) if w != p.line() => format!("{w} – {}", p.line()),
        (_, Some(p)) => p.line(),
        (Some(w), None) => w.to_string(),
        (None, None) => String::new(),
    }
}

/// The words of dispatch `id` for its matrix page.
pub fn dispatch_text(store: &mut Store, id: DocId) -> giaoban_client_core::Result<DispatchText> {
    let d = store.directive(id)?;
    let tasks = d
        .tasks
        .iter()
        .map(|t| TaskText {
            ordinal: t.ordinal,
            contact: contact_line(t.contact.as_deref(), t.contact_person.as_ref()),
            coordinate_with: t.coordinate_with.clone(),
        })
        .filter(|t| !t.contact.is_empty() || !t.coordinate_with.is_empty())
        .collect();
    Ok(DispatchText {
        kind: d.document_kind.name_vi(),
        number: d.number.raw,
        issued_on: format_date(d.issued_on),
        recipients_label: d.recipients_label,
        copies_to: d.copies_to,
        tasks,
    })
}

/// A task as the matrix's column head shows it.
#[derive(Debug, Clone)]
pub struct Column {
    /// Its number.
    pub ordinal: u64,
    /// Its words.
    pub text: String,
    /// The deadline as the dispatch wrote it, and its last day.
    pub deadline: Option<(String, String)>,
    /// Whether the task asks for a report (so its figures can be consolidated).
    pub report_required: bool,
    /// Cells in each of the four terms: on time, late, open in time, open overdue.
    pub totals: [usize; 4],
}

/// A unit's row.
#[derive(Debug, Clone)]
pub struct Row {
    /// The unit's id.
    pub id: String,
    /// The unit's name.
    pub unit: String,
    /// A task past its deadline not done, or one nobody at the unit has taken on: a unit to
    /// remind.
    pub to_remind: bool,
    /// "Đã đôn đốc lúc …" and whether it reached a phone; empty when never reminded.
    pub reminded: String,
    /// "đồng bộ lần cuối 02/12/2026 10:05", or why there is none.
    pub last_sync: String,
    /// One cell per column, `None` where the task is not addressed to this unit.
    pub cells: Vec<Option<Cell>>,
}

/// Which rows to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowFilter {
    /// All units.
    #[default]
    All,
    /// Units with a task past its deadline and not done.
    Overdue,
    /// Units that have not answered a task at all.
    NoAnswer,
    /// Units whose devices have not received the dispatch.
    NotDelivered,
    /// Units with a report waiting for the office's verdict.
    AwaitingReview,
}

impl RowFilter {
    /// From the page's `?show=`.
    pub fn parse(s: Option<&str>) -> RowFilter {
        match s {
            Some("overdue") => RowFilter::Overdue,
            Some("no-answer") => RowFilter::NoAnswer,
            Some("not-delivered") => RowFilter::NotDelivered,
            Some("review") => RowFilter::AwaitingReview,
            _ => RowFilter::All,
        }
    }

    /// The `?show=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            RowFilter::All => "",
            RowFilter::Overdue => "overdue",
            RowFilter::NoAnswer => "no-answer",
            RowFilter::NotDelivered => "not-delivered",
            RowFilter::AwaitingReview => "review",
        }
    }

    fn keeps(self, cells: &[Option<Cell>]) -> bool {
        let any = |f: &dyn Fn(&Cell) -> bool| cells.iter().flatten().any(f);
        match self {
            RowFilter::All => true,
            RowFilter::Overdue => any(&|c| c.standing == Some(OPEN_OVERDUE)),
            RowFilter::NoAnswer => any(&|c| c.class == "none" || c.class == "delivered"),
            RowFilter::NotDelivered => any(&|c| c.class == "none"),
            RowFilter::AwaitingReview => any(&|c| c.class == "reported"),
        }
    }
}

/// A dispatch's matrix.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// The dispatch.
    pub id: DocId,
    /// "305/MTTQ-BTT V/v …".
    pub title: String,
    /// Task columns.
    pub columns: Vec<Column>,
    /// Unit rows (after the filter), in Vietnamese name order.
    pub rows: Vec<Row>,
    /// Units addressed in all.
    pub units: usize,
    /// The filter applied.
    pub filter: RowFilter,
}

impl Matrix {
    /// Per deadline term, the count of each column's cells in it (tasks with a deadline).
    pub fn totals(&self) -> Vec<(&'static str, Vec<usize>)> {
        [ON_TIME, LATE, OPEN_IN_TIME, OPEN_OVERDUE]
            .iter()
            .enumerate()
            .map(|(i, term)| (*term, self.columns.iter().map(|c| c.totals[i]).collect()))
            .collect()
    }
}

/// A unit's name as this store knows it from the unit directory.
pub fn unit_names(store: &mut Store) -> HashMap<UnitId, String> {
    match store.shared_unit_directory() {
        Ok(dir) => dir.units.iter().map(|u| (u.id, u.name.clone())).collect(),
        Err(_) => HashMap::new(),
    }
}

fn name_of(names: &HashMap<UnitId, String>, u: UnitId) -> String {
    names.get(&u).cloned().unwrap_or_else(|| format!("Đơn vị {u}"))
}

/// How the relay saw each unit's devices for one dispatch.
pub type Deliveries = HashMap<UnitId, crate::store::UnitDelivery>;

/// "đồng bộ lần cuối …", or why there is none; empty when the relay says nothing of the unit.
pub fn last_sync_words(d: Option<&crate::store::UnitDelivery>) -> String {
    match d {
        None => String::new(),
        Some(d) if d.devices == 0 => "chưa có thiết bị nào".into(),
        Some(crate::store::UnitDelivery { last_sync_at: Some(t), .. }) => {
            format!("đồng bộ lần cuối {}", super::local_time(*t))
        }
        Some(_) => "chưa đồng bộ lần nào".into(),
    }
}

/// The matrix of a dispatch this store's unit issued; `None` when there is no such dispatch
/// here (or it is not this unit's). `deliveries` tells, for the units addressed, what reached
/// their devices.
pub fn matrix(
    store: &mut Store,
    id: DocId,
    filter: RowFilter,
    deliveries: &dyn Fn(&[UnitId]) -> Deliveries,
) -> giaoban_client_core::Result<Option<Matrix>> {
    let tasks = store.list_tasks(&TaskFilter {
        scope: TaskScope::IssuedByMe,
        source: Some(id),
        ..TaskFilter::default()
    })?;
    let Some(first) = tasks.first() else { return Ok(None) };
    let title = first.source_title.clone();
    let names = unit_names(store);
    let mut assignees: Vec<UnitId> = tasks.iter().map(|t| t.assignee).collect();
    assignees.sort_unstable();
    assignees.dedup();
    let delivered = deliveries(&assignees);
    let mut columns: BTreeMap<u64, Column> = BTreeMap::new();
    let mut by_unit: HashMap<UnitId, HashMap<u64, Cell>> = HashMap::new();
    let mut reminded: HashMap<UnitId, giaoban_protocol::Timestamp> = HashMap::new();
    for t in &tasks {
        if let Some((at, _)) = &t.reminded {
            reminded.insert(t.assignee, *at);
        }
        let c = cell(t, delivered.get(&t.assignee).is_some_and(|d| d.delivered));
        let col = columns.entry(t.ordinal).or_insert_with(|| Column {
            ordinal: t.ordinal,
            text: t.text.clone(),
            deadline: t.deadline.as_ref().map(|d| (d.original_text.clone(), format_date(d.last_day()))),
            report_required: t.report_required,
            totals: [0; 4],
        });
        if let Some(s) = c.standing {
            let i = [ON_TIME, LATE, OPEN_IN_TIME, OPEN_OVERDUE].iter().position(|w| *w == s).unwrap_or(2);
            col.totals[i] += 1;
        }
        by_unit.entry(t.assignee).or_default().insert(t.ordinal, c);
    }
    let ordinals: Vec<u64> = columns.keys().copied().collect();
    let mut rows: Vec<Row> = by_unit
        .into_iter()
        .map(|(u, mut cells)| {
            let cells: Vec<Option<Cell>> = ordinals.iter().map(|o| cells.remove(o)).collect();
            let to_remind = cells.iter().flatten().any(|c| {
                c.standing == Some(OPEN_OVERDUE) || matches!(c.class, "none" | "delivered" | "received")
            });
            let reminded = match reminded.get(&u) {
                None => String::new(),
                Some(at) => {
                    let reached = if delivered.get(&u).is_some_and(|d| d.latest_delivered) {
                        "đã đến máy"
                    } else {
                        "chưa đến máy"
                    };
                    format!("đã đôn đốc lúc {}, {reached}", super::local_time(at.0))
                }
            };
            Row {
                id: u.to_string(),
                unit: name_of(&names, u),
                to_remind,
                reminded,
                last_sync: last_sync_words(delivered.get(&u)),
                cells,
            }
        })
        .collect();
    let units = rows.len();
    collator().sort_by_name(&mut rows, |r| &r.unit);
    rows.retain(|r| filter.keeps(&r.cells));
    Ok(Some(Matrix { id, title, columns: columns.into_values().collect(), rows, units, filter }))
}

/// A dispatch on the desk's first page.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The dispatch.
    pub id: String,
    /// "305/MTTQ-BTT V/v …".
    pub title: String,
    /// Units addressed.
    pub units: usize,
    /// Tasks.
    pub tasks: usize,
    /// Assignments done (submitted or not applicable) of all.
    pub done: usize,
    /// Of all assignments.
    pub assignments: usize,
    /// Assignments past their deadline and not done.
    pub overdue: usize,
    /// Reports waiting for a verdict.
    pub to_review: usize,
}

/// The dispatches this store's unit issued, newest deadline first as the task list orders
/// them; `query` keeps those whose title holds it, diacritics ignored.
pub fn issued(store: &Store, query: &str) -> giaoban_client_core::Result<Vec<Issued>> {
    let tasks = store.list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..TaskFilter::default() })?;
    let key = search_key(query);
    let mut order: Vec<DocId> = Vec::new();
    let mut by_source: HashMap<DocId, Vec<&TaskView>> = HashMap::new();
    for t in &tasks {
        by_source
            .entry(t.source)
            .or_insert_with(|| {
                order.push(t.source);
                Vec::new()
            })
            .push(t);
    }
    let mut out = Vec::new();
    for id in order {
        let ts = &by_source[&id];
        let title = ts[0].source_title.clone();
        if !key.is_empty() && !search_key(&title).contains(&key) {
            continue;
        }
        let mut units: Vec<UnitId> = ts.iter().map(|t| t.assignee).collect();
        units.sort_unstable();
        units.dedup();
        let mut ordinals: Vec<u64> = ts.iter().map(|t| t.ordinal).collect();
        ordinals.sort_unstable();
        ordinals.dedup();
        out.push(Issued {
            id: id.to_string(),
            title,
            units: units.len(),
            tasks: ordinals.len(),
            done: ts.iter().filter(|t| t.is_done()).count(),
            assignments: ts.len(),
            overdue: ts.iter().filter(|t| t.standing == Some(DeadlineStanding::Overdue)).count(),
            to_review: ts
                .iter()
                .filter(|t| t.state == Some(TaskState::Submitted) && t.review.is_none())
                .count(),
        });
    }
    Ok(out)
}

/// A document number as a lookup compares it: NFC, lower case, without spaces or a leading
/// "Số:", so "Số: 305 / MTTQ-BTT" and "305/mttq-btt" are one number. Marks are kept: "QĐ" is
/// not "QD".
pub fn number_key(number: &str) -> String {
    let spaced = giaoban_vietnamese_text::clean_input(number).to_lowercase();
    let key: String = spaced.chars().filter(|c| !c.is_whitespace()).collect();
    match key.strip_prefix("số:") {
        Some(rest) => rest.to_string(),
        None => key,
    }
}

/// A dispatch a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbered {
    /// The dispatch.
    pub id: DocId,
    /// "305/MTTQ-BTT V/v …".
    pub title: String,
    /// "24/01/2022".
    pub issued_on: String,
}

/// The dispatches this store's unit issued whose number is `number` as [`number_key`] compares
/// it, the earliest issued first. Several when a number was used again (each year starts the
/// count again); none for an empty number.
pub fn issued_numbered(store: &mut Store, number: &str) -> giaoban_client_core::Result<Vec<Numbered>> {
    let key = number_key(number);
    if key.is_empty() {
        return Ok(Vec::new());
    }
    // A dispatch's title starts with its number, so only those whose title does are opened.
    let candidates: Vec<DocId> = issued(store, "")?
        .into_iter()
        .filter(|d| number_key(&d.title).starts_with(&key))
        .filter_map(|d| d.id.parse().ok())
        .collect();
    let mut found = Vec::new();
    for id in candidates {
        // A meeting's tasks are listed too; only a dispatch has a number.
        let Ok(d) = store.directive(id) else { continue };
        if number_key(&d.number.raw) == key {
            let title = giaoban_client_core::protocol::schema::DocumentSchema::title(&d);
            found.push((d.issued_on, Numbered { id, title, issued_on: format_date(d.issued_on) }));
        }
    }
    found.sort_by_key(|(on, n)| (*on, n.id));
    Ok(found.into_iter().map(|(_, n)| n).collect())
}

/// The words of a unit's name as [`units_called`] compares them: diacritics ignored, and the
/// short forms lists use ("P. Xuân Trung", "TT. Trảng Bom") read as the words they stand for.
fn unit_words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in giaoban_vietnamese_text::search_tokens(name) {
        let long: &[&str] = match w.as_str() {
            "p" => &["phuong"],
            "x" => &["xa"],
            "tt" => &["thi", "tran"],
            "tx" => &["thi", "xa"],
            "tp" => &["thanh", "pho"],
            "q" => &["quan"],
            "h" => &["huyen"],
            "dk" => &["dac", "khu"],
            _ => {
                out.push(w);
                continue;
            }
        };
        out.extend(long.iter().map(|l| l.to_string()));
    }
    out
}

/// The units among `units` that `query` names ("P. Xuân Trung", "phường xuan trung"): those
/// whose full or short name has exactly its words, diacritics ignored; if none does, those
/// whose name holds its words in a row.
pub fn units_called(
    dir: &giaoban_protocol::schema::UnitDirectory,
    units: &[UnitId],
    query: &str,
) -> Vec<UnitId> {
    let words = unit_words(query);
    if words.is_empty() {
        return Vec::new();
    }
    let names = |u: &UnitId| {
        dir.unit(*u).map(|u| vec![unit_words(&u.name), unit_words(&u.short_name)]).unwrap_or_default()
    };
    let exact: Vec<UnitId> = units.iter().filter(|u| names(u).contains(&words)).copied().collect();
    if !exact.is_empty() {
        return exact;
    }
    units
        .iter()
        .filter(|u| names(u).iter().any(|n| n.windows(words.len()).any(|w| w == words.as_slice())))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_is_one_number_however_it_is_typed() {
        assert_eq!(number_key("305/MTTQ-BTT"), "305/mttq-btt");
        assert_eq!(number_key("  Số: 305 / mttq-BTT "), "305/mttq-btt");
        // "Số" typed as "So" and two combining marks.
        assert_eq!(number_key("So\u{302}\u{301}: 305/MTTQ-BTT"), "305/mttq-btt");
        assert_eq!(number_key("12/QĐ-UBND"), number_key("12/qđ-ubnd"));
        assert_ne!(number_key("12/QĐ-UBND"), number_key("12/QD-UBND"), "marks are kept");
        assert_eq!(number_key(" Số: "), "");
    }

    #[test]
    fn a_unit_is_named_by_its_short_form_too() {
        assert_eq!(unit_words("P. Xuân Trung"), unit_words("phường xuan trung"));
        assert_eq!(unit_words("TT. Trảng Bom"), ["thi", "tran", "trang", "bom"]);
        assert_eq!(unit_words("Hội LHPN P. Xuân Trung"), ["hoi", "lhpn", "phuong", "xuan", "trung"]);
    }
}
