//! A dispatch form sent with a file (multipart): its fields, checked against the session's
//! form token before any byte of the file is kept, and the file streamed into the draft's
//! folder (`draft_files.rs`) up to the relay's limit on one file (`max_file_bytes`). On issue,
//! the dispatch is written through the member's store with every file of its draft attached
//! (`files_to_issue`), so they reach the relay by the same lane as a device's files.

use std::time::Duration;

use axum::Router;
use axum::extract::FromRequest;
use axum::extract::multipart::Field;
use axum::routing::get;
use giaoban_client_core::NewAttachment;
use giaoban_protocol::schema::{ATTACHMENTS_INPUT_MAX, CAPTION_MAX, file_name, media_type_ok};
use giaoban_vietnamese_text::{clean_input, format_file_size};

use super::draft_files::{DraftFile, DraftFiles};
use super::{DeskError, Signed, check_form};
use crate::http::AppState;
use crate::store::{DraftForFiles, StaffId};

/// The longest a dispatch form with its file may take to arrive: 25 MB over a link of
/// 256 kbit/s, with room to spare.
pub const FORM_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// The dispatch form's routes: a body of its fields and one file of up to `max_file_bytes`
/// (a larger one is cut off and said so beside the field), given [`FORM_TIMEOUT`] (or
/// `timeout`, if longer) to arrive rather than the other requests' `timeout`.
pub fn form_routes(max_file_bytes: u64, timeout: Duration) -> Router<AppState> {
    let limit = usize::try_from(max_file_bytes.saturating_add(2 * 1024 * 1024)).unwrap_or(usize::MAX);
    Router::new()
        .route(
            "/desk/dispatch/new",
            get(super::dispatch_page::dispatch_form_page).post(super::dispatch_page::dispatch_form_sent),
        )
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout.max(FORM_TIMEOUT),
        ))
}

/// Reads a multipart dispatch form: its fields in order (with `csrf`, already checked) and,
/// when a file came with it and could not be kept, what to say beside the file field.
pub(super) async fn read_form(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    signed: &Signed,
    request: axum::extract::Request,
) -> Result<(Vec<(String, String)>, Option<String>), DeskError> {
    let mut form =
        axum::extract::Multipart::from_request(request, state).await.map_err(|_| DeskError::BadForm)?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut checked = false;
    let mut problem = None;
    // The words of the form are held in memory: together no more than any other form's body,
    // and before the token is checked only as much as the token and a few fields take.
    let mut text_left = state.config.max_body_bytes;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => {
                // Cut off (or larger than a form and one file): what came before is kept.
                problem.get_or_insert_with(incomplete);
                break;
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        if name != "file" {
            let read_so_far = state.config.max_body_bytes.saturating_sub(text_left);
            let allowed =
                if checked { text_left } else { text_left.min(UNCHECKED_TEXT.saturating_sub(read_so_far)) };
            let text = match read_text(field, allowed).await {
                Text::Whole(t) => t,
                Text::Refused => return Err(DeskError::BadForm),
                Text::Cut => {
                    problem.get_or_insert_with(incomplete);
                    break;
                }
            };
            text_left = text_left.saturating_sub(text.len());
            if name == "csrf" {
                check_form(state, headers, signed, &text)?;
                checked = true;
            } else if name == "draft" && pairs.iter().any(|(k, _)| k == "draft") {
                // Two drafts named in one form: its file and its fields could go apart.
                return Err(DeskError::BadForm);
            } else if pairs.len() < 20_000 {
                pairs.push((name, text));
            }
            continue;
        }
        // The token and the draft come before the file in the form: no byte is kept for a
        // form that is not this session's.
        if !checked {
            return Err(DeskError::BadForm);
        }
        let draft = pairs
            .iter()
            .find(|(k, _)| k == "draft")
            .and_then(|(_, v)| hex::decode(v.trim()).ok())
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .ok_or(DeskError::BadForm)?;
        let picked = field.file_name().unwrap_or_default().to_string();
        if picked.trim().is_empty() {
            // No file chosen: the browser sends an empty part.
            continue;
        }
        let caption = pairs.iter().rev().find(|(k, _)| k == "file_caption").map(|(_, v)| clean_input(v));
        if let Err(p) = receive(
            state,
            signed.session.staff,
            signed.session.unit,
            draft,
            field,
            &picked,
            caption.unwrap_or_default(),
        )
        .await?
        {
            problem = Some(p);
        }
    }
    if !checked {
        return Err(DeskError::BadForm);
    }
    Ok((pairs, problem))
}

/// The most bytes of form fields read before the form's token has been checked.
const UNCHECKED_TEXT: usize = 16 * 1024;

enum Text {
    Whole(String),
    Refused,
    Cut,
}

/// Reads a text field of at most `limit` bytes, never holding more.
async fn read_text(mut field: Field<'_>, limit: usize) -> Text {
    let mut bytes = Vec::new();
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > limit {
                    return Text::Refused;
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(_) => return Text::Cut,
        }
    }
    match String::from_utf8(bytes) {
        Ok(t) => Text::Whole(t),
        Err(_) => Text::Refused,
    }
}

fn incomplete() -> String {
    "Tệp chưa được gửi trọn vẹn nên không được lưu. Hãy chọn lại tệp và gửi lại.".into()
}

/// Streams one file into the draft's folder; `Ok(Err(sentence))` when it is not kept.
#[allow(clippy::too_many_arguments)]
async fn receive(
    state: &AppState,
    staff: StaffId,
    unit: giaoban_protocol::UnitId,
    draft: [u8; 16],
    mut field: Field<'_>,
    picked: &str,
    caption: String,
) -> Result<Result<(), String>, DeskError> {
    let limit = state.config.max_file_bytes;
    let media_type = field.content_type().map(|m| m.trim().to_ascii_lowercase()).unwrap_or_default();
    let media_type = if media_type_ok(&media_type) { media_type } else { "application/octet-stream".into() };
    let mut name = file_name(picked);
    if name.is_empty() {
        name = "tệp đính kèm".into();
    }
    // Checked as the dispatch will check it, so a file kept here is never refused at issue.
    let caption_len = caption.chars().count();
    if caption_len > CAPTION_MAX {
        drain(&mut field).await;
        return Ok(Err(format!(
            "Chú thích của tệp “{name}” dài {caption_len} ký tự, quá mức {CAPTION_MAX} ký tự. Hãy viết ngắn lại rồi đính kèm lại."
        )));
    }
    // The draft is recorded before any byte is kept, so its files are never taken for a
    // stray's (should saving the form then fail). A draft issued takes no more files: its
    // dispatch is out.
    let relay = state.store.clone();
    let standing = tokio::task::spawn_blocking(move || relay.draft_for_files(staff, draft))
        .await
        .map_err(|_| DeskError::Store("the relay is shutting down".into()))??;
    match standing {
        DraftForFiles::Open => {}
        DraftForFiles::Issued => {
            drain(&mut field).await;
            return Ok(Err(format!(
                "Văn bản này đã ban hành nên tệp “{name}” không được đính kèm. Muốn gửi thêm tệp, hãy soạn một văn bản mới."
            )));
        }
        DraftForFiles::NotTheirs => return Err(DeskError::BadForm),
    }
    let files = state.desk.draft_files.clone();
    let quota = state.config.max_unit_file_bytes;
    let incoming = blocking(move || {
        if files.list(staff, draft)?.len() >= ATTACHMENTS_INPUT_MAX {
            return Ok(None);
        }
        // A member's drafts hold no more than their unit may keep on the relay, since every
        // file becomes the unit's once the dispatch is issued.
        files.incoming(staff, draft).map(|i| Some((i, files.bytes_of(staff))))
    })
    .await?;
    let Some((mut incoming, drafts_bytes)) = incoming else {
        drain(&mut field).await;
        return Ok(Err(format!(
            "Bản nháp đã có {ATTACHMENTS_INPUT_MAX} tệp, không đính kèm thêm được. Hãy gỡ bớt, hoặc gộp các tệp lại."
        )));
    };
    let room = if quota == 0 {
        u64::MAX
    } else {
        let relay = state.store.clone();
        let unit_bytes = tokio::task::spawn_blocking(move || relay.unit_file_bytes(unit))
            .await
            .map_err(|_| DeskError::Store("the relay is shutting down".into()))??;
        quota.saturating_sub(
            unit_bytes
                .saturating_add(drafts_bytes.map_err(|e| DeskError::Store(format!("a draft's files: {e}")))?),
        )
    };
    // The bytes are gathered into pieces and each piece appended by a short blocking task, so
    // a slow upload holds no thread while it waits for the network. Should the browser go
    // away, `incoming` is dropped and what it received removed.
    let (mut size, mut over, mut cut, mut full) = (0u64, false, false, false);
    let mut piece: Vec<u8> = Vec::new();
    loop {
        match field.chunk().await {
            Ok(Some(bytes)) => {
                size += bytes.len() as u64;
                // Over the limit: the rest is read and dropped, so the answer reaches the
                // browser; nothing of it is kept.
                over |= size > limit;
                full |= size > room;
                if !over && !full {
                    piece.extend_from_slice(&bytes);
                    if piece.len() >= WRITE_PIECE {
                        incoming = append(incoming, std::mem::take(&mut piece)).await?;
                    }
                }
            }
            Ok(None) => break,
            Err(_) => {
                cut = true;
                break;
            }
        }
    }
    if !over && !full && !cut && !piece.is_empty() {
        incoming = append(incoming, piece).await?;
    }
    if over || full || cut || incoming.size() == 0 {
        blocking(move || {
            incoming.abandon();
            Ok(())
        })
        .await?;
        return Ok(Err(if over {
            format!(
                "Tệp “{name}” lớn hơn {}, mức tối đa máy chủ nhận cho một tệp, nên không được lưu. Hãy giảm dung lượng (ảnh chụp độ phân giải thấp hơn, bản quét đen trắng) rồi đính kèm lại.",
                format_file_size(limit)
            )
        } else if full {
            format!(
                "Tệp của đơn vị trên máy chủ cùng các bản nháp của bạn đã dùng gần hết {} mà đơn vị được lưu, nên tệp “{name}” không được lưu. Hãy gỡ tệp ở các bản nháp không dùng nữa, hoặc đề nghị người quản trị máy chủ nâng mức, rồi đính kèm lại.",
                format_file_size(quota)
            )
        } else if cut {
            incomplete()
        } else {
            format!("Tệp “{name}” trống, không có gì để đính kèm. Hãy chọn lại tệp.")
        }));
    }
    let describe =
        DraftFile { hash: String::new(), name: name.clone(), media_type, caption, size: 0, added_at: 0 };
    let now = chrono::Utc::now().timestamp_millis();

    // The draft may have been issued (from another tab) while the file arrived: its folder is
    // gone, or about to go with the files the dispatch took. Either way the member is told the
    // file is not on the dispatch, never shown it as kept.
    let kept = tokio::task::spawn_blocking(move || incoming.keep(describe, now))
        .await
        .map_err(|_| DeskError::Store("the relay is shutting down".into()))?;
    let relay = state.store.clone();
    let standing = tokio::task::spawn_blocking(move || relay.draft(staff, draft))
        .await
        .map_err(|_| DeskError::Store("the relay is shutting down".into()))??;
    let issued = standing.as_ref().is_none_or(|d| d.issued.is_some());
    let issued_meanwhile = || {
        if standing.is_none() {
            format!("Bản nháp đã bị xoá trong lúc tệp “{name}” đang tải lên, nên tệp không được lưu.")
        } else {
            format!(
                "Văn bản này đã được ban hành trong lúc tệp “{name}” đang tải lên, nên tệp không được đính kèm. Muốn gửi thêm tệp, hãy soạn một văn bản mới."
            )
        }
    };
    match kept {
        Ok(f) if issued => {
            let files = state.desk.draft_files.clone();
            let removed = tokio::task::spawn_blocking(move || files.remove(staff, draft, &f.hash)).await;
            if !matches!(removed, Ok(Ok(()))) {
                tracing::warn!(
                    "a file sent to a draft issued meanwhile was not removed; the collector takes it"
                );
            }
            Ok(Err(issued_meanwhile()))
        }
        Ok(_) => Ok(Ok(())),
        Err(_) if issued => Ok(Err(issued_meanwhile())),
        Err(e) => Err(DeskError::Store(format!("a draft's files: {e}"))),
    }
}

/// Bytes gathered before they are appended to a draft's file.
const WRITE_PIECE: usize = 256 * 1024;

/// Appends `piece` to `incoming` on a blocking thread.
async fn append(
    mut incoming: super::draft_files::Incoming,
    piece: Vec<u8>,
) -> Result<super::draft_files::Incoming, DeskError> {
    tokio::task::spawn_blocking(move || incoming.write(&piece).map(|()| incoming))
        .await
        .map_err(|_| DeskError::Store("the relay is shutting down".into()))?
        .map_err(|e| DeskError::Store(format!("a draft's file cannot be written: {e}")))
}

async fn drain(field: &mut Field<'_>) {
    while let Ok(Some(_)) = field.chunk().await {}
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, DeskError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| DeskError::Store("the relay is shutting down".into()))?
        .map_err(|e| DeskError::Store(format!("a draft's files: {e}")))
}

/// The files of a draft as the member's store takes them when the dispatch is issued
/// (`Store::issue_directive_with_files`: the dispatch is written with all of them or not at
/// all), with their names to say which one a refusal is about. Blocking.
pub(super) fn files_to_issue(
    files: &DraftFiles,
    staff: StaffId,
    draft: [u8; 16],
) -> Result<Vec<(std::path::PathBuf, NewAttachment)>, DeskError> {
    let listed = files.list(staff, draft).map_err(|e| DeskError::Store(format!("a draft's files: {e}")))?;
    Ok(listed
        .into_iter()
        .map(|f| {
            let path = files.path_of(staff, draft, &f.hash);
            (path, NewAttachment { name: f.name, media_type: f.media_type, caption: f.caption })
        })
        .collect())
}
