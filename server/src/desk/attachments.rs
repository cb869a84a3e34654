//! Attached files on the desk: the list a report or a dispatch page shows (name, type, size,
//! caption, who added it, and how far the relay has the file, in words), and the download of
//! one file by a staff member whose unit may read the document that refers to it.
//!
//! Invariant: a file is served only as an attachment of a document the staff member's store
//! holds (what their unit may read), whose owner holds the file whole on the relay (a device
//! of that owner sent every byte, as for a device's fetch). Every other case (unknown
//! document, document out of reach, hash it does not refer to, file not whole) is the same
//! "not found" page, so nothing tells which.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use giaoban_client_core::{CoreError, Store};
use giaoban_protocol::schema::Directive;
use giaoban_protocol::{BlobHash, DeviceId, DocId, UnitId};
use giaoban_vietnamese_text::{ascii_file_name, format_file_size};

use super::{DeskError, local_time, signed_in, with_store};
use crate::files::FileStorage;
use crate::http::AppState;
use crate::store::{RelayStore, StoreError};

/// One attached file as a page lists it.
pub struct FileLine {
    /// Its name (NFC, as the reference holds it).
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// "2,5 MB".
    pub size: String,
    /// Words under it; may be empty.
    pub caption: String,
    /// The device (or desk) that attached it.
    pub who: String,
    /// When it was attached, in Vietnam's time.
    pub when: String,
    /// The task of a dispatch it belongs to.
    pub task: Option<u64>,
    /// Where the file is, in words: "đã có trên máy chủ", "đang tải lên 40 %".
    pub state: String,
    /// The download address, once the relay holds it whole.
    pub link: Option<String>,
}

/// Media types a browser may show in the page's place; anything else is downloaded.
const SHOWN_INLINE: [&str; 4] = ["image/jpeg", "image/png", "image/webp", "image/gif"];

/// Percent-encoding of UTF-8 text, leaving only letters, digits and `-._~` (fit both for a
/// path segment and for RFC 5987's `filename*`).
pub fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The owner unit of a report or dispatch the store holds.
fn owner_of(s: &mut Store, doc: DocId) -> Result<UnitId, DeskError> {
    match s.report(doc) {
        Ok(r) => Ok(r.header.owner),
        Err(CoreError::WrongKind { .. }) => Ok(s.get::<Directive>(doc).map_err(not_found)?.header.owner),
        Err(e) => Err(not_found(e)),
    }
}

fn not_found(e: CoreError) -> DeskError {
    match e {
        CoreError::NotFound { .. } | CoreError::WrongKind { .. } => DeskError::NotFound,
        e => e.into(),
    }
}

/// Whether the relay holds `hash` whole for the documents of `owner`; otherwise how many of
/// its bytes `owner`'s devices have sent so far.
fn held(
    relay: &RelayStore,
    folder: &dyn FileStorage,
    hash: BlobHash,
    owner: UnitId,
) -> Result<(bool, u64), DeskError> {
    if folder.is_whole(&hash) && relay.file_held_by(hash, owner)? {
        return Ok((true, 0));
    }
    let sent = folder
        .partial_len(&hash, owner)
        .map_err(|e| DeskError::Store(format!("the folder of attached files: {e}")))?;
    Ok((false, sent))
}

/// The attached files of `doc` (a report, or a dispatch and its tasks) as the page lists
/// them. Blocking: called with the member's store.
pub(super) fn lines(
    s: &mut Store,
    relay: &RelayStore,
    folder: &dyn FileStorage,
    doc: DocId,
) -> Result<Vec<FileLine>, DeskError> {
    let views = s.attachments(doc).map_err(not_found)?;
    if views.is_empty() {
        return Ok(Vec::new());
    }
    let owner = owner_of(s, doc)?;
    let labels: std::collections::HashMap<DeviceId, String> =
        relay.devices()?.into_iter().map(|(d, _, label, _)| (d, label)).collect();
    let mut out = Vec::with_capacity(views.len());
    for v in views {
        let a = v.attachment;
        let (whole, sent) = held(relay, folder, a.hash, owner)?;
        let state = if whole {
            "đã có trên máy chủ".to_string()
        } else {
            let pct = sent.min(a.size).saturating_mul(100).checked_div(a.size).unwrap_or(0).min(99);
            format!("đang tải lên {pct} %")
        };
        out.push(FileLine {
            link: whole.then(|| format!("/desk/files/{doc}/{}/{}", a.hash, percent(&a.name))),
            who: labels.get(&a.added_by).cloned().unwrap_or_else(|| format!("Thiết bị {}", a.added_by)),
            when: local_time(a.added_at.0),
            size: format_file_size(a.size),
            name: a.name,
            media_type: a.media_type,
            caption: a.caption,
            task: v.task,
            state,
        });
    }
    Ok(out)
}

/// `GET /desk/files/{doc}/{hash}/{name}`: the file `hash` attached to `doc`, streamed. The
/// name in the address is only for the browser; the reference's own name is given.
pub(super) async fn download(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((doc, hash, _name)): Path<(String, String, String)>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let doc: DocId = doc.parse().map_err(|_| DeskError::NotFound)?;
    let hash: BlobHash = hash.parse().map_err(|_| DeskError::NotFound)?;
    let (found, _, _) = with_store(&state, &signed.session, move |s| {
        let views = s.attachments(doc).map_err(not_found)?;
        let Some(v) = views.into_iter().find(|v| v.attachment.hash == hash) else {
            return Ok(None);
        };
        Ok(Some((v.attachment, owner_of(s, doc)?)))
    })
    .await?;
    let (a, owner) = found.ok_or(DeskError::NotFound)?;
    let (relay, folder) = (state.store.clone(), state.files.clone());
    let unit = signed.session.unit;
    let opened =
        tokio::task::spawn_blocking(move || -> Result<Option<crate::files::WholeFile>, StoreError> {
            // The relay's own rule as it stands now, as a device of the member's unit would be
            // answered: the member's store may still hold a record the unit no longer reads.
            if !relay.file_held_by(hash, owner)? || relay.file_access(unit, hash)?.read_size.is_none() {
                return Ok(None);
            }
            match folder.open_whole(&hash, 0) {
                Ok(f) => Ok(Some(f)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(StoreError::Internal(format!("the attached files: {e}"))),
            }
        })
        .await
        .map_err(|_| DeskError::Store("the relay is shutting down".into()))??;
    let (file, len) = opened.ok_or(DeskError::NotFound)?;
    let inline = SHOWN_INLINE.contains(&a.media_type.as_str());
    let mut resp = Response::new(crate::http::stream_file(&state.file_io, file, len));
    let h = resp.headers_mut();
    let content_type = if inline { a.media_type.as_str() } else { "application/octet-stream" };
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CONTENT_DISPOSITION, disposition(&a.name, inline));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    *resp.status_mut() = StatusCode::OK;
    Ok(resp)
}

/// `inline` or `attachment`, with an ASCII name for old software and the name itself as
/// RFC 5987's `filename*`.
fn disposition(name: &str, inline: bool) -> HeaderValue {
    let kind = if inline { "inline" } else { "attachment" };
    let text = format!("{kind}; filename=\"{}\"; filename*=UTF-8''{}", ascii_file_name(name), percent(name));
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_vietnamese_name_is_given_twice_and_never_breaks_the_header() {
        let v = disposition("Mẫu danh sách hộ nghèo.xlsx", false);
        assert_eq!(
            v.to_str().unwrap(),
            "attachment; filename=\"Mau danh sach ho ngheo.xlsx\"; filename*=UTF-8''M%E1%BA%ABu%20danh%20s%C3%A1ch%20h%E1%BB%99%20ngh%C3%A8o.xlsx"
        );
        let v = disposition("a\"b\r\n.jpg", true);
        assert!(v.to_str().unwrap().starts_with("inline; filename=\"a_b__.jpg\""));
    }
}
