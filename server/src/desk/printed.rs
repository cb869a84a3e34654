//! The desk's downloads: a dispatch, a unit's report and a task's consolidation as the office
//! prints them (DOCX in the layout of Decree 30/2020, the consolidation also as XLSX). The
//! documents come from the member's store; `giaoban-export` lays them out.

use giaoban_client_core::protocol::schema::{
    Directive, DocumentKind, DocumentSchema, FigureScope, MeasureUnit, Qualifier, Report, UnitDirectory,
};
use giaoban_client_core::{Consolidation, Counting, Sum, format_figure};
use giaoban_export::{Block, Cell, Column, ColumnKind, Letter, Signer, Table};
use giaoban_protocol::UnitId;
use giaoban_vietnamese_text::format_date;

use super::*;

/// Upper case as a heading prints it, Vietnamese letters included ("ỦY BAN", "ĐỒNG NAI").
fn upper(s: &str) -> String {
    s.to_uppercase()
}

/// "Ban Thường trực Ủy ban MTTQ Việt Nam thành phố Long Khánh" → the body above
/// ("ỦY BAN MTTQ VIỆT NAM" / "THÀNH PHỐ LONG KHÁNH") and the issuer ("BAN THƯỜNG TRỰC"), as
/// MTTQ documents print their header. A name of another shape is the issuer alone, under the
/// unit's parent when the tree has one.
fn header_lines(issuer_name: &str, parent: Option<&str>) -> (String, String) {
    let key = giaoban_vietnamese_text::search_key(issuer_name);
    if let Some(rest) = key.strip_prefix("ban thuong truc ")
        && !rest.is_empty()
    {
        let body: String = issuer_name.chars().skip("Ban Thường trực ".chars().count()).collect();
        return (split_place(&upper(&body)), "BAN THƯỜNG TRỰC".into());
    }
    (parent.map(|p| split_place(&upper(p))).unwrap_or_default(), upper(issuer_name))
}

/// "ỦY BAN MTTQ VIỆT NAM THÀNH PHỐ LONG KHÁNH" printed on two lines before the place's level.
fn split_place(body: &str) -> String {
    for level in [
        " TỈNH ",
        " THÀNH PHỐ ",
        " THỊ XÃ ",
        " HUYỆN ",
        " QUẬN ",
        " PHƯỜNG ",
        " XÃ ",
        " THỊ TRẤN ",
        " ĐẶC KHU ",
    ] {
        if let Some(at) = body.find(level)
            && at > 0
        {
            return format!("{}\n{}", &body[..at], &body[at + 1..]);
        }
    }
    body.to_string()
}

fn unit_name(dir: Option<&UnitDirectory>, u: UnitId) -> Option<String> {
    dir.and_then(|d| d.unit(u)).map(|u| u.name.clone())
}

/// A unit's name, or "Đơn vị <id>" for one the tree does not hold.
pub(super) fn unit_called(dir: Option<&UnitDirectory>, u: UnitId) -> String {
    unit_name(dir, u).unwrap_or_else(|| format!("Đơn vị {u}"))
}

fn parent_name(dir: Option<&UnitDirectory>, u: UnitId) -> Option<String> {
    let dir = dir?;
    let parent = dir.unit(u)?.parent?;
    dir.unit(parent).map(|p| p.name.clone())
}

/// A dispatch as printed.
pub(super) fn dispatch_letter(d: &Directive, dir: Option<&UnitDirectory>) -> Letter {
    let (parent_body, issuer) = header_lines(&d.issuer_name, parent_name(dir, d.header.owner).as_deref());
    let mut body = Vec::new();
    for text in d.body.as_str().split('\n').filter(|l| !l.trim().is_empty()) {
        body.push(Block::Paragraph(text.to_string()));
    }
    let mut tasks: Vec<_> = d.tasks.iter().collect();
    tasks.sort_by_key(|t| t.ordinal);
    for t in tasks {
        let mut text = t.text.clone();
        if let Some(c) = &t.consolidation {
            text = format!("{text} {}", c.text);
        }
        body.push(Block::Numbered { number: t.ordinal.to_string(), text });
    }
    // A dispatch ends with "./." after its last words.
    match body.last_mut() {
        Some(Block::Paragraph(t) | Block::Numbered { text: t, .. }) if !t.trim_end().ends_with("./.") => {
            t.push_str("./.");
        }
        _ => {}
    }
    let kind_title = match d.document_kind {
        DocumentKind::OfficialLetter => None,
        k => Some(upper(k.name_vi())),
    };
    let recipients = d
        .recipients_label
        .trim()
        .trim_start_matches("Kính gửi:")
        .trim_start_matches("Kính gửi")
        .trim()
        .to_string();
    Letter {
        parent_body,
        issuer,
        number: d.number.raw.clone(),
        place: d.place.clone(),
        date: d.issued_on,
        kind_title,
        subject: d.subject.clone(),
        recipients: if recipients.is_empty() { Vec::new() } else { vec![recipients] },
        body,
        copies_to: d.copies_to.clone(),
        signer: dispatch_signer(d),
    }
}

/// "TM. BAN THƯỜNG TRỰC / PHÓ CHỦ TỊCH" → its two printed lines, and the name.
fn signer_lines(signer: Option<(&str, &str)>) -> (String, String, String) {
    let Some((title, name)) = signer else { return Default::default() };
    let mut parts = title.split(['/', '\n']).map(str::trim).filter(|p| !p.is_empty());
    match (parts.next(), parts.next()) {
        (Some(a), Some(p)) => (upper(a), upper(p), name.to_string()),
        (Some(p), None) => (String::new(), upper(p), name.to_string()),
        _ => (String::new(), String::new(), name.to_string()),
    }
}

fn measure_heading(unit: MeasureUnit) -> &'static str {
    match unit {
        MeasureUnit::Vnd => "đồng",
        MeasureUnit::Houses => "căn",
        MeasureUnit::Households => "hộ",
        MeasureUnit::People => "người",
        MeasureUnit::Events => "cuộc",
        MeasureUnit::Items => "",
    }
}

fn qualifier_words(q: Qualifier) -> &'static str {
    match q {
        Qualifier::Exact => "",
        Qualifier::Under => "gần",
        Qualifier::Over => "hơn",
        Qualifier::About => "khoảng",
    }
}

/// A unit's report as printed: its sections, its figures as a table, who submitted it.
pub(super) fn report_letter(r: &Report, dir: Option<&UnitDirectory>) -> Letter {
    let owner = unit_name(dir, r.header.owner).unwrap_or_default();
    let (parent_body, issuer) = header_lines(&owner, parent_name(dir, r.header.owner).as_deref());
    let mut body = Vec::new();
    if let Some(p) = &r.period {
        body.push(Block::Paragraph(format!(
            "Kỳ báo cáo: {} (từ ngày {} đến ngày {}).",
            p.label,
            format_date(p.from),
            format_date(p.to)
        )));
    }
    for s in &r.sections {
        body.push(Block::Heading(s.heading.clone()));
        for text in s.body.as_str().split('\n').filter(|l| !l.trim().is_empty()) {
            body.push(Block::Paragraph(text.to_string()));
        }
    }
    let figures: Vec<_> = r
        .figures
        .iter()
        .enumerate()
        .filter(|(i, f)| r.figures[..*i].iter().all(|g| g.indicator != f.indicator))
        .map(|(_, f)| f)
        .collect();
    if !figures.is_empty() {
        body.push(Block::Table(Table {
            title: Some("SỐ LIỆU".into()),
            columns: vec![
                Column { heading: "Chỉ tiêu".into(), kind: ColumnKind::Text },
                Column { heading: "Số liệu".into(), kind: ColumnKind::Text },
                Column { heading: "Như báo cáo ghi".into(), kind: ColumnKind::Text },
                Column { heading: "Ghi chú".into(), kind: ColumnKind::Text },
            ],
            rows: figures
                .iter()
                .map(|f| {
                    let scope = match (f.scope, f.counts_since()) {
                        (FigureScope::Period, _) => String::new(),
                        (FigureScope::Cumulative, Some(d)) => format!("lũy kế từ {}", format_date(d)),
                        (FigureScope::Cumulative, None) => "lũy kế".into(),
                    };
                    let note = [scope.as_str(), f.note.as_str()]
                        .iter()
                        .filter(|s| !s.is_empty())
                        .copied()
                        .collect::<Vec<_>>()
                        .join("; ");
                    vec![
                        Cell::Text(f.indicator.clone()),
                        Cell::Text(format_figure(f)),
                        Cell::Text(f.written.clone()),
                        Cell::Text(note),
                    ]
                })
                .collect(),
            totals: None,
            notes: Vec::new(),
        }));
    }
    let date =
        r.submitted_at_device.map(|t| t.local_date()).unwrap_or_else(|| chrono::Utc::now().date_naive());
    let audience: Vec<String> = r.header.audience.iter().filter_map(|u| unit_name(dir, *u)).collect();
    Letter {
        parent_body,
        issuer,
        number: String::new(),
        place: String::new(),
        date,
        kind_title: Some("BÁO CÁO".into()),
        subject: r.title.clone(),
        recipients: Vec::new(),
        body,
        copies_to: audience.into_iter().map(|a| format!("{a};")).collect(),
        signer: Signer { authority: String::new(), position: String::new(), name: r.submitted_by.clone() },
    }
}

/// The consolidation as a table: a row per unit counted, for each column the figure and, in
/// its own column, how exact it is; the totals; notes on what the totals mix.
pub(super) fn consolidation_table(c: &Consolidation, name: &dyn Fn(UnitId) -> String, title: &str) -> Table {
    let mut columns = vec![Column { heading: "Đơn vị".into(), kind: ColumnKind::Text }];
    for col in &c.columns {
        let scope = col.scope_words();
        let measure = measure_heading(col.key.unit);
        let heading = if measure.is_empty() {
            format!("{} ({scope})", col.key.indicator)
        } else {
            format!("{} ({measure}, {scope})", col.key.indicator)
        };
        let kind = if col.key.unit == MeasureUnit::Vnd { ColumnKind::Vnd } else { ColumnKind::Count };
        columns.push(Column { heading, kind });
        columns.push(Column { heading: "Mức chính xác".into(), kind: ColumnKind::Text });
    }
    let rows = c
        .rows
        .iter()
        .map(|r| {
            let mut row = vec![Cell::Text(name(r.unit))];
            for cell in &r.cells {
                match cell {
                    Some(f) => {
                        row.push(Cell::Number(f.value));
                        row.push(Cell::Text(qualifier_words(f.qualifier).into()));
                    }
                    None => {
                        row.push(Cell::Empty);
                        row.push(Cell::Text("không ghi".into()));
                    }
                }
            }
            row
        })
        .collect();
    let mut totals = vec![Cell::Text("Tổng cộng".into())];
    let mut notes = vec![match c.counting {
        Counting::AcceptedOnly => format!("Tính {} đơn vị có báo cáo đã duyệt.", c.rows.len()),
        Counting::AllSubmitted => {
            format!("Tính {} đơn vị đã nộp báo cáo, kể cả báo cáo đang chờ duyệt.", c.rows.len())
        }
    }];
    for col in &c.columns {
        match col.sum {
            Sum::Value { value, qualifier } => {
                totals.push(Cell::Number(value));
                totals.push(Cell::Text(qualifier_words(qualifier).into()));
                if qualifier != Qualifier::Exact {
                    notes.push(format!(
                        "{}: tổng là số gần đúng ({}), vì cộng {} số liệu “gần”, {} “hơn”, {} “khoảng”.",
                        col.key.indicator,
                        qualifier_words(qualifier),
                        col.under,
                        col.over,
                        col.about
                    ));
                }
            }
            Sum::TooLarge => {
                totals.push(Cell::Empty);
                totals.push(Cell::Text("quá lớn, không cộng được".into()));
            }
        }
    }
    if !c.not_counted.is_empty() {
        let names: Vec<String> =
            c.not_counted.iter().map(|(u, s)| format!("{} ({})", name(*u), s.vietnamese())).collect();
        notes.push(format!("Chưa tính: {}.", names.join("; ")));
    }
    Table { title: Some(upper(title)), columns, rows, totals: Some(totals), notes }
}

/// The consolidation as a long table, for a document too narrow for a column per indicator:
/// a row per unit and indicator, then the totals, one row per indicator.
pub(super) fn consolidation_long_table(
    c: &Consolidation,
    name: &dyn Fn(UnitId) -> String,
    title: &str,
) -> Table {
    let columns = vec![
        Column { heading: "Đơn vị".into(), kind: ColumnKind::Text },
        Column { heading: "Chỉ tiêu".into(), kind: ColumnKind::Text },
        Column { heading: "Số liệu".into(), kind: ColumnKind::Count },
        Column { heading: "Mức chính xác".into(), kind: ColumnKind::Text },
    ];
    let mut rows = Vec::new();
    for r in &c.rows {
        for (col, cell) in c.columns.iter().zip(&r.cells) {
            if let Some(f) = cell {
                rows.push(vec![
                    Cell::Text(name(r.unit)),
                    Cell::Text(col.key.indicator.clone()),
                    Cell::Number(f.value),
                    Cell::Text(qualifier_words(f.qualifier).into()),
                ]);
            }
        }
    }
    for col in &c.columns {
        let (value, q) = match col.sum {
            Sum::Value { value, qualifier } => (Cell::Number(value), qualifier_words(qualifier)),
            Sum::TooLarge => (Cell::Empty, "quá lớn, không cộng được"),
        };
        rows.push(vec![
            Cell::Text("Tổng cộng".into()),
            Cell::Text(col.key.indicator.clone()),
            value,
            Cell::Text(q.into()),
        ]);
    }
    Table { title: Some(upper(title)), columns, rows, totals: None, notes: Vec::new() }
}

/// The office's consolidated report on a task, drafted from the consolidation: its table and
/// the units not yet counted, for staff to complete.
pub(super) fn consolidated_letter(
    d: &Directive,
    ordinal: u64,
    table: Table,
    dir: Option<&UnitDirectory>,
    today: chrono::NaiveDate,
) -> Letter {
    let (parent_body, issuer) = header_lines(&d.issuer_name, parent_name(dir, d.header.owner).as_deref());
    let task = d.task(ordinal);
    let report_to: Vec<String> =
        task.and_then(|t| t.consolidation.as_ref()).map(|c| c.report_to.clone()).unwrap_or_default();
    let symbol = d.number.symbol.clone().map(|s| format!("    /BC-{s}")).unwrap_or_default();
    let mut body = vec![Block::Paragraph(format!(
        "Thực hiện {} số {} ngày {} về {}, {} tổng hợp kết quả thực hiện nhiệm vụ {} như sau:",
        d.document_kind.name_vi().to_lowercase(),
        d.number.raw,
        format_date(d.issued_on),
        d.subject.trim_start_matches("V/v").trim(),
        d.issuer_name,
        ordinal
    ))];
    body.push(Block::Table(table));
    body.push(Block::Paragraph("Trên đây là báo cáo tổng hợp./.".into()));
    Letter {
        parent_body,
        issuer,
        number: symbol,
        place: d.place.clone(),
        date: today,
        kind_title: Some("BÁO CÁO".into()),
        subject: format!("Tổng hợp kết quả thực hiện {}", d.title()),
        recipients: Vec::new(),
        body,
        copies_to: report_to.into_iter().map(|r| format!("{r};")).collect(),
        signer: dispatch_signer(d),
    }
}

fn dispatch_signer(d: &Directive) -> Signer {
    let (authority, position, name) =
        signer_lines(d.signer.as_ref().map(|s| (s.title.as_str(), s.name.as_str())));
    Signer { authority, position, name }
}

/// A file for the browser to save, under a name that survives any browser.
pub(super) fn download(bytes: Vec<u8>, title: &str, ext: &str) -> Response {
    let name = giaoban_export::download_name(title, ext);
    let content_type = match ext {
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        _ => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    };
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&name.content_disposition()) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    r
}

/// `letter` as a Word file to save; one that cannot be laid out is answered with why.
pub(super) fn docx_download(letter: &Letter, title: &str) -> Result<Response, DeskError> {
    let bytes = giaoban_export::docx(letter).map_err(|e| DeskError::Unprintable(e.to_string()))?;
    Ok(download(bytes, title, "docx"))
}

/// `/desk/dispatch/{id}/document.docx`: a dispatch the member's unit may read, as printed.
pub(super) async fn dispatch_docx(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let id: DocId = id.parse().map_err(|_| DeskError::NotFound)?;
    let (letter, _, _) = with_store(&state, &signed.session, move |s| {
        let d = s.directive(id).map_err(|_| DeskError::NotFound)?;
        let dir = s.shared_unit_directory().ok();
        Ok(dispatch_letter(&d, dir.as_deref()))
    })
    .await?;
    let kind = letter.kind_title.clone().unwrap_or_else(|| "Cong van".into());
    docx_download(&letter, &format!("{kind} {}", letter.number))
}

/// `/desk/report/{id}/document.docx`: a report the member's unit may read, as printed.
pub(super) async fn report_docx(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let id: DocId = id.parse().map_err(|_| DeskError::NotFound)?;
    let (letter, _, _) = with_store(&state, &signed.session, move |s| {
        let r = s.report(id).map_err(|_| DeskError::NotFound)?;
        let dir = s.shared_unit_directory().ok();
        Ok(report_letter(&r, dir.as_deref()))
    })
    .await?;
    // Most reports are titled "Báo cáo …" already.
    let title = if giaoban_vietnamese_text::search_key(&letter.subject).starts_with("bao cao") {
        letter.subject.clone()
    } else {
        format!("Bao cao {}", letter.subject)
    };
    docx_download(&letter, &title)
}
