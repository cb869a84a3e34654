//! The pages of the dispatch form: a new or drafted form, and what a sent form leads to
//! (saved, refused beside its fields, previewed, issued once, deleted). The fields and their
//! checks are `dispatch_form.rs`'s.

use super::*;

#[derive(Template)]
#[template(path = "desk/dispatch_form.html")]
struct DispatchFormPage {
    chrome: Chrome,
    fields: DispatchFields,
    kinds: Vec<KindChoice>,
    /// The member's unit's people, offered as contacts.
    people: Vec<giaoban_protocol::schema::Person>,
    files: Vec<DraftFileLine>,
    max_file: String,
    tasks: Vec<TaskBlock>,
    choices: Vec<dispatch_form::Choice>,
    problems: dispatch_form::Problems,
    notice: String,
}

impl DispatchFormPage {
    fn err(&self, field: &str) -> &str {
        self.problems.get(field).map(String::as_str).unwrap_or("")
    }
}

/// Why the draft's files would not fit in what the relay gives the member's unit
/// (`max_unit_file_bytes`, counting what the unit's devices and desks already sent and are
/// sending); `None` when they fit. Checked before issuing: a dispatch whose files the relay
/// would then refuse is not issued. Blocking.
fn no_room_for(
    relay: &crate::RelayStore,
    folder: &dyn crate::files::FileStorage,
    files: &super::draft_files::DraftFiles,
    quota: u64,
    unit: giaoban_protocol::UnitId,
    staff: crate::store::StaffId,
    draft: [u8; 16],
) -> Result<Option<String>, DeskError> {
    if quota == 0 {
        return Ok(None);
    }
    let mut new_bytes = 0u64;
    for f in files.list(staff, draft).map_err(|e| DeskError::Store(format!("a draft's files: {e}")))? {
        let held =
            f.hash.parse::<giaoban_protocol::BlobHash>().ok().map(|h| relay.file_recorded(h)).transpose()?;
        if held != Some(true) {
            new_bytes = new_bytes.saturating_add(f.size);
        }
    }
    if new_bytes == 0 {
        return Ok(None);
    }
    let sending =
        folder.partial_bytes_of(unit).map_err(|e| DeskError::Store(format!("the relay's files: {e}")))?;
    let used = relay.unit_file_bytes(unit)?.saturating_add(sending);
    if used.saturating_add(new_bytes) <= quota {
        return Ok(None);
    }
    Ok(Some(format!(
        "Văn bản chưa được ban hành: các tệp đính kèm ({}) vượt quá chỗ còn lại cho đơn vị trên máy chủ (đã dùng {} trong {}). Hãy gỡ bớt tệp, hoặc đề nghị người quản trị máy chủ nâng mức max_unit_file_bytes.",
        giaoban_vietnamese_text::format_file_size(new_bytes),
        giaoban_vietnamese_text::format_file_size(used),
        giaoban_vietnamese_text::format_file_size(quota)
    )))
}

/// One document kind in the form's list.
struct KindChoice {
    code: &'static str,
    name: &'static str,
    chosen: bool,
}

fn kind_choices(fields: &DispatchFields) -> Vec<KindChoice> {
    let chosen = giaoban_protocol::schema::DocumentKind::from_code(&fields.kind).unwrap_or_default();
    giaoban_protocol::schema::DocumentKind::ALL
        .into_iter()
        .map(|k| KindChoice { code: k.code(), name: k.name_vi(), chosen: k == chosen })
        .collect()
}

/// One task's block of the form, with its field names and problems.
struct TaskBlock {
    n: usize,
    f: dispatch_form::TaskFields,
    name_text: String,
    name_report: String,
    name_deadline: String,
    name_contact: String,
    name_contactname: String,
    name_contacttitle: String,
    name_contactphone: String,
    name_coordinate: String,
    name_indicators: String,
    name_consolidation: String,
    name_consolidationdeadline: String,
    err_text: String,
    err_deadline: String,
    err_contact: String,
    err_contactname: String,
    err_contacttitle: String,
    err_contactphone: String,
    err_coordinate: String,
    err_consolidation: String,
    err_consolidationdeadline: String,
}

fn task_blocks(fields: &DispatchFields, problems: &dispatch_form::Problems) -> Vec<TaskBlock> {
    fields
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let n = i + 1;
            let name = |f: &str| format!("task{n}_{f}");
            let err = |f: &str| problems.get(&name(f)).cloned().unwrap_or_default();
            TaskBlock {
                n,
                f: t.clone(),
                name_text: name("text"),
                name_report: name("report"),
                name_deadline: name("deadline"),
                name_contact: name("contact"),
                name_contactname: name("contactname"),
                name_contacttitle: name("contacttitle"),
                name_contactphone: name("contactphone"),
                name_coordinate: name("coordinate"),
                name_indicators: name("indicators"),
                name_consolidation: name("consolidation"),
                name_consolidationdeadline: name("consolidationdeadline"),
                err_text: err("text"),
                err_deadline: err("deadline"),
                err_contact: err("contact"),
                err_contactname: err("contactname"),
                err_contacttitle: err("contacttitle"),
                err_contactphone: err("contactphone"),
                err_coordinate: err("coordinate"),
                err_consolidation: err("consolidation"),
                err_consolidationdeadline: err("consolidationdeadline"),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "desk/dispatch_preview.html")]
struct DispatchPreviewPage {
    chrome: Chrome,
    fields: DispatchFields,
    kind: &'static str,
    copies: Vec<String>,
    issued_long: String,
    recipients: Vec<String>,
    tasks: Vec<PreviewTask>,
    files: Vec<DraftFileLine>,
    pairs: Vec<(String, String)>,
}

struct PreviewTask {
    n: u64,
    text: String,
    report: bool,
    deadline: Option<dispatch_form::DeadlineShown>,
    /// The contact as it will read: the person's line, or the dispatch's words.
    contact: String,
    coordinate_with: Vec<String>,
}

#[derive(serde::Deserialize, Default)]
pub(super) struct DraftQuery {
    #[serde(default)]
    draft: Option<String>,
}

pub(super) fn today_in_vietnam() -> String {
    local_time(chrono::Utc::now().timestamp_millis()).rsplit(' ').next().unwrap_or_default().to_string()
}

/// The units below the member's unit, and the unit's name.
/// The units a form may address (those below the member's unit) and the people of the
/// member's unit it may name as contacts, from the member's store.
struct FormUnits {
    children: Vec<giaoban_protocol::schema::Unit>,
    people: Vec<giaoban_protocol::schema::Person>,
}

fn form_units(s: &mut Store, unit: giaoban_protocol::UnitId) -> FormUnits {
    let people = s
        .shared_unit_directory()
        .ok()
        .and_then(|d| d.unit(unit).map(|u| u.people.clone()))
        .unwrap_or_default();
    FormUnits { children: s.child_units(unit).unwrap_or_default(), people }
}

/// A file on a draft, as the form lists it.
struct DraftFileLine {
    hash: String,
    name: String,
    media_type: String,
    size: String,
    caption: String,
}

/// The files of the form's draft, as listed.
async fn draft_file_lines(state: &AppState, signed: &Signed, fields: &DispatchFields) -> Vec<DraftFileLine> {
    let Some(draft) = fields.draft_id() else { return Vec::new() };
    let (files, staff) = (state.desk.draft_files.clone(), signed.session.staff);
    let listed = tokio::task::spawn_blocking(move || files.list(staff, draft)).await;
    match listed {
        Ok(Ok(list)) => list
            .into_iter()
            .map(|f| DraftFileLine {
                size: giaoban_vietnamese_text::format_file_size(f.size),
                hash: f.hash,
                name: f.name,
                media_type: f.media_type,
                caption: f.caption,
            })
            .collect(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "a draft's files cannot be listed");
            Vec::new()
        }
        Err(_) => Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    state: &AppState,
    signed: &Signed,
    unit: String,
    warning: String,
    fields: DispatchFields,
    units: &FormUnits,
    problems: dispatch_form::Problems,
    notice: String,
) -> Response {
    let status = if problems.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let choices = dispatch_form::choices(&units.children, &fields.recipients);
    let tasks = task_blocks(&fields, &problems);
    let files = draft_file_lines(state, signed, &fields).await;
    let page = DispatchFormPage {
        chrome: chrome("Ban hành văn bản", signed, unit, warning),
        files,
        max_file: giaoban_vietnamese_text::format_file_size(state.config.max_file_bytes),
        kinds: kind_choices(&fields),
        people: units.people.clone(),
        fields,
        tasks,
        choices,
        problems,
        notice,
    };
    render(status, &page)
}

pub(super) async fn dispatch_form_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<DraftQuery>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let unit_id = signed.session.unit;
    let (units, unit, warning) =
        with_store(&state, &signed.session, move |s| Ok(form_units(s, unit_id))).await?;
    let mut fields = DispatchFields::blank(&unit, &today_in_vietnam());
    // A draft link that does not read (cut short when copied) is "not found", not a blank form
    // the member could take for their draft emptied.
    let asked = match q.draft.as_deref() {
        None => None,
        Some(d) => Some(
            hex::decode(d.trim())
                .ok()
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .ok_or(DeskError::NotFound)?,
        ),
    };
    if let Some(id) = asked {
        let staff = signed.session.staff;
        let draft =
            on_relay(&state, move |relay| relay.draft(staff, id)).await?.ok_or(DeskError::NotFound)?;
        if let Some(doc) = draft.issued {
            return Ok(Redirect::to(&format!("/desk/dispatch/{doc}")).into_response());
        }
        fields = DispatchFields::from_pairs(&draft.fields).0;
    }
    Ok(form_page(&state, &signed, unit, warning, fields, &units, Default::default(), String::new()).await)
}

/// What a sent dispatch form leads to, decided under the member's store lock.
enum Sent {
    Form {
        fields: DispatchFields,
        problems: dispatch_form::Problems,
        notice: String,
    },
    Preview {
        fields: DispatchFields,
        directive: Box<giaoban_client_core::NewDirective>,
        deadlines: Vec<Option<dispatch_form::DeadlineShown>>,
    },
    Issued(DocId),
    Deleted,
}

pub(super) async fn dispatch_form_sent(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (pairs, upload) = if multipart {
        super::draft_upload::read_form(&state, &headers, &signed, request).await?
    } else {
        let body = axum::body::to_bytes(request.into_body(), state.config.max_body_bytes)
            .await
            .map_err(|_| DeskError::BadForm)?;
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let csrf = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or("");
        check_form(&state, &headers, &signed, csrf)?;
        (pairs, None)
    };
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "csrf").collect();
    let (mut fields, action) = DispatchFields::from_pairs(&pairs);
    if fields.draft_id().is_none() {
        fields.draft = dispatch_form::new_draft_id();
    }
    let unit_id = signed.session.unit;
    let staff = signed.session.staff;
    if let Some(draft) = fields.draft_id() {
        let removed: Vec<String> =
            pairs.iter().filter(|(k, _)| k == "remove_file").map(|(_, v)| v.clone()).take(100).collect();
        if !removed.is_empty() {
            let files = state.desk.draft_files.clone();
            tokio::task::spawn_blocking(move || {
                removed.iter().try_for_each(|h| files.remove(staff, draft, h))
            })
            .await
            .map_err(|_| DeskError::Store("the relay is shutting down".into()))?
            .map_err(|e| DeskError::Store(format!("a draft's file cannot be removed: {e}")))?;
        }
    }
    // A file that did not arrive whole is said beside its field; nothing is previewed or
    // issued without it.
    let action = match (&upload, action) {
        (Some(_), Action::Preview | Action::Issue) => Action::Save,
        (_, a) => a,
    };
    let draft_files = state.desk.draft_files.clone();
    let relay = state.store.clone();
    let folder = state.files.clone();
    let quota = state.config.max_unit_file_bytes;
    let usage = if action == Action::Issue { Use::Write } else { Use::Read };
    let ((sent, units), unit, warning) = with_store_for(&state, &signed.session, usage, move |s| {
        let units = form_units(s, unit_id);
        let mut draft_id = fields.draft_id().ok_or(DeskError::BadForm)?;
        // Another member's draft id (a form copied from their page): nothing of theirs is
        // touched, and this form goes on as a new draft of this member.
        if relay.draft_is_others(staff, draft_id)? {
            fields.draft = dispatch_form::new_draft_id();
            draft_id = fields.draft_id().ok_or(DeskError::BadForm)?;
        }
        // Under the store's lock, so a form sent twice at once issues one dispatch.
        if let Some(d) = relay.draft(staff, draft_id)?
            && let Some(doc) = d.issued
        {
            return Ok((Sent::Issued(doc), units));
        }
        let checked = match action {
            Action::Preview | Action::Issue => Some(fields.check(&units.children)),
            _ => None,
        };
        if action == Action::Delete {
            relay.delete_draft(staff, draft_id)?;
            if let Err(e) = draft_files.remove_all(staff, draft_id) {
                tracing::warn!(error = %e, "a deleted draft's files were not removed");
            }
            return Ok((Sent::Deleted, units));
        }
        if action != Action::Issue {
            match relay.save_draft(staff, draft_id, &fields.title(), &fields.to_pairs()) {
                Ok(true) => {}
                // Taken by another member between the check above and now.
                Ok(false) => return Err(DeskError::BadForm),
                // Too long to keep: said beside the form, which still holds every word typed.
                Err(crate::store::StoreError::Invalid(why)) => {
                    let mut problems = checked.and_then(Result::err).unwrap_or_default();
                    problems.insert(
                        "form".into(),
                        format!("Không lưu được bản nháp: văn bản quá dài ({why}). Nội dung vẫn ở trên trang; hãy rút gọn."),
                    );
                    return Ok((Sent::Form { fields, problems, notice: String::new() }, units));
                }
                Err(e) => return Err(e.into()),
            }
        }
        let sent = match (action, checked) {
            (_, Some(Err(problems))) => Sent::Form { fields, problems, notice: String::new() },
            (Action::Preview, Some(Ok((directive, deadlines)))) => {
                Sent::Preview { fields, directive: Box::new(directive), deadlines }
            }
            // The dispatch's id comes from the draft's: the same form issued again (sent
            // twice, or after a crash between issuing and marking the draft) is issued once.
            (Action::Issue, Some(Ok((directive, _))))
                if let Some(problem) = no_room_for(&relay, &*folder, &draft_files, quota, unit_id, staff, draft_id)? =>
            {
                let mut problems = dispatch_form::Problems::new();
                problems.insert("file".into(), problem);
                let _ = directive;
                Sent::Form { fields, problems, notice: String::new() }
            }
            (Action::Issue, Some(Ok((directive, _)))) => match s.issue_directive_with_files(
                dispatch_form::dispatch_id(unit_id, draft_id),
                directive,
                super::draft_upload::files_to_issue(&draft_files, staff, draft_id)?,
            ) {
                // Written with all its files, or not at all: a file refused leaves nothing
                // issued, and the form as it was.
                Ok(doc) => {
                    relay.mark_draft_issued(staff, draft_id, &fields.title(), &fields.to_pairs(), doc)?;
                    if let Err(e) = draft_files.remove_all(staff, draft_id) {
                        tracing::warn!(error = %e, "an issued draft's files were not removed");
                    }
                    Sent::Issued(doc)
                }
                Err(giaoban_client_core::CoreError::Invalid(inv)) if inv.field.starts_with("files") => {
                    let mut problems = dispatch_form::Problems::new();
                    problems.insert(
                        "file".into(),
                        format!(
                            "Văn bản chưa được ban hành vì một tệp đính kèm không được nhận ({}). Hãy gỡ tệp đó rồi bấm ban hành lại.",
                            inv.reason
                        ),
                    );
                    Sent::Form { fields, problems, notice: String::new() }
                }
                Err(giaoban_client_core::CoreError::Invalid(inv)) => {
                    let mut problems = dispatch_form::Problems::new();
                    problems.insert(dispatch_form::field_of(&inv.field), dispatch_form::in_vietnamese(&inv.reason));
                    Sent::Form { fields, problems, notice: String::new() }
                }
                Err(e) => return Err(e.into()),
            },
            (Action::Save, _) => Sent::Form {
                fields,
                problems: Default::default(),
                notice: format!("Đã lưu nháp lúc {}.", local_time(chrono::Utc::now().timestamp_millis())),
            },
            (Action::AddTask, _) if fields.tasks.len() >= dispatch_form::MAX_TASKS => Sent::Form {
                fields,
                problems: Default::default(),
                notice: format!("Một văn bản có tối đa {} nhiệm vụ.", dispatch_form::MAX_TASKS),
            },
            (_, _) => Sent::Form { fields, problems: Default::default(), notice: String::new() },
        };
        Ok((sent, units))
    })
    .await?;
    match sent {
        Sent::Deleted => Ok(Redirect::to("/desk").into_response()),
        Sent::Issued(doc) => {
            // Sent to the relay before the office is told it is issued. Should that fail, the
            // dispatch is kept in the member's store and goes with the next page's sync.
            push_now(&state, &signed.session).await?;
            // A file sent to a draft already issued (Back in the browser) is not attached:
            // the member is told so rather than taken to the dispatch as if it were.
            if let Some(problem) = upload {
                return Ok(super::message(
                    StatusCode::CONFLICT,
                    "Văn bản đã ban hành",
                    &problem,
                    &format!("/desk/dispatch/{doc}"),
                ));
            }
            Ok(Redirect::to(&format!("/desk/dispatch/{doc}")).into_response())
        }
        Sent::Form { fields, mut problems, notice } => {
            if let Some(problem) = upload {
                problems.insert("file".into(), problem);
            }
            Ok(form_page(&state, &signed, unit, warning, fields, &units, problems, notice).await)
        }
        Sent::Preview { fields, directive, deadlines } => {
            let names: std::collections::HashMap<_, _> =
                units.children.iter().map(|u| (u.id, u.name.clone())).collect();
            let mut recipients: Vec<String> = directive
                .recipients
                .iter()
                .map(|r| names.get(r).cloned().unwrap_or_else(|| r.to_string()))
                .collect();
            giaoban_vietnamese_text::collator().sort_by_name(&mut recipients, |n| n);
            let issued_long = giaoban_vietnamese_text::parse_date(&directive.issued_on)
                .map(giaoban_vietnamese_text::format_long_date)
                .unwrap_or_default();
            let tasks = directive
                .tasks
                .iter()
                .map(|t| PreviewTask {
                    n: t.ordinal,
                    text: t.text.clone(),
                    report: t.report_required,
                    deadline: deadlines.get(t.ordinal as usize - 1).cloned().flatten(),
                    contact: super::views::contact_line(t.contact.as_deref(), t.contact_person.as_ref()),
                    coordinate_with: t.coordinate_with.clone(),
                })
                .collect();
            let pairs = fields.to_pairs();
            let files = draft_file_lines(&state, &signed, &fields).await;
            let page = DispatchPreviewPage {
                chrome: chrome("Xem lại trước khi ban hành", &signed, unit, warning),
                kind: directive.document_kind.name_vi(),
                copies: directive.copies_to.clone(),
                fields,
                issued_long,
                recipients,
                tasks,
                files,
                pairs,
            };
            Ok(render(StatusCode::OK, &page))
        }
    }
}
