//! A dispatch's page: its matrix of units and tasks (also sent alone for the live refresh),
//! its own words and files, and the reminders sent from it.

use super::*;

#[derive(Template)]
#[template(path = "desk/matrix.html")]
struct MatrixPage {
    chrome: Chrome,
    m: Matrix,
    text: Option<views::DispatchText>,
    files: Vec<attachments::FileLine>,
    notice: String,
    error: String,
}

#[derive(Template)]
#[template(path = "desk/matrix_table.html")]
struct MatrixTable {
    m: Matrix,
}

#[derive(serde::Deserialize, Default)]
pub(super) struct MatrixQuery {
    #[serde(default)]
    show: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

async fn load_matrix(
    state: &AppState,
    signed: &Signed,
    id: &str,
    query: &MatrixQuery,
    with_text: bool,
) -> Result<((Matrix, Vec<attachments::FileLine>, Option<views::DispatchText>), String, String), DeskError> {
    let id: DocId = id.parse().map_err(|_| DeskError::NotFound)?;
    let filter = RowFilter::parse(query.show.as_deref());
    let relay = state.store.clone();
    let folder = state.files.clone();
    let ((m, files, text), unit, warning) = with_store(state, &signed.session, move |s| {
        let deliveries = |units: &[giaoban_protocol::UnitId]| match relay.deliveries(id, units) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "what reached the units' devices could not be read");
                Default::default()
            }
        };
        let m = views::matrix(s, id, filter, &deliveries)?;
        let files = if m.is_some() { attachments::lines(s, &relay, &*folder, id)? } else { Vec::new() };
        // The page shows the dispatch's own words; should they not read, the matrix still shows.
        let text = match (&m, with_text) {
            (Some(_), true) => views::dispatch_text(s, id)
                .inspect_err(
                    |e| tracing::warn!(error = %e, "a dispatch's words could not be read for its page"),
                )
                .ok(),
            _ => None,
        };
        Ok((m, files, text))
    })
    .await?;
    Ok(((m.ok_or(DeskError::NotFound)?, files, text), unit, warning))
}

pub(super) async fn matrix_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<MatrixQuery>,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let ((m, files, text), unit, warning) = load_matrix(&state, &signed, &id, &query, true).await?;
    let title = m.title.clone();
    let notice = match query.done.as_deref() {
        Some("reminded") => {
            "Đã gửi nhắc nhở. Mỗi đơn vị thấy lời nhắc trên nhiệm vụ khi điện thoại của họ đồng bộ; cột đơn vị ghi khi lời nhắc đã đến máy."
        }
        _ => "",
    };
    let page = MatrixPage {
        chrome: chrome(&title, &signed, unit, warning),
        m,
        text,
        files,
        notice: notice.into(),
        error: String::new(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// The matrix's table alone, for the page's script to put in place when units sync.
pub(super) async fn matrix_table(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<MatrixQuery>,
) -> Result<Response, Response> {
    let signed = signed_in(&state, &headers)
        .await
        .map_err(|_| (StatusCode::UNAUTHORIZED, "signed out").into_response())?;
    let ((m, _, _), _, _) =
        load_matrix(&state, &signed, &id, &query, false).await.map_err(IntoResponse::into_response)?;
    Ok(render(StatusCode::OK, &MatrixTable { m }))
}

/// Sends a reminder (đôn đốc) of a dispatch to the units ticked, through the member's store.
pub(super) async fn remind_sent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, DeskError> {
    let signed = signed_in(&state, &headers).await?;
    let pairs: Vec<(String, String)> =
        form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let csrf = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or("");
    check_form(&state, &headers, &signed, csrf)?;
    let doc: DocId = id.parse().map_err(|_| DeskError::NotFound)?;
    let units: Vec<giaoban_protocol::UnitId> =
        pairs.iter().filter(|(k, _)| k == "unit").filter_map(|(_, v)| v.parse().ok()).take(10_000).collect();
    let note = pairs.iter().find(|(k, _)| k == "note").map(|(_, v)| v.clone()).unwrap_or_default();
    let problem = if units.is_empty() {
        "Chọn ít nhất một đơn vị để nhắc."
    } else if giaoban_vietnamese_text::clean_multiline(&note).is_empty() {
        "Viết lời nhắc."
    } else if giaoban_vietnamese_text::clean_multiline(&note).chars().count() > 5000 {
        // Like a review's note: every device of the units reminded receives it.
        "Lời nhắc dài quá 5.000 ký tự; hãy viết gọn lại."
    } else {
        ""
    };
    let outcome = if problem.is_empty() {
        let (outcome, _, _) = with_store_for(&state, &signed.session, Use::Write, move |s| {
            match s.remind(doc, &units, &note) {
                Ok(()) => Ok(Ok(())),
                Err(giaoban_client_core::CoreError::NotFound { .. }) => Err(DeskError::NotFound),
                Err(giaoban_client_core::CoreError::NotOwner { .. }) => Err(DeskError::NotFound),
                Err(giaoban_client_core::CoreError::Invalid(inv)) => Ok(Err(inv.reason)),
                Err(e) => Err(e.into()),
            }
        })
        .await?;
        outcome
    } else {
        Err(problem.to_string())
    };
    match outcome {
        Ok(()) => {
            push_now(&state, &signed.session).await?;
            Ok(Redirect::to(&format!("/desk/dispatch/{doc}?done=reminded")).into_response())
        }
        Err(reason) => {
            let ((m, files, text), unit, warning) =
                load_matrix(&state, &signed, &id, &MatrixQuery::default(), true).await?;
            let title = m.title.clone();
            let error = if reason.contains("not a recipient") {
                "Có đơn vị được chọn không nhận văn bản này.".to_string()
            } else if reason.contains("as many reminders") {
                "Văn bản này đã được nhắc đến số lần tối đa; không gửi thêm được lời nhắc.".to_string()
            } else {
                reason
            };
            let page = MatrixPage {
                chrome: chrome(&title, &signed, unit, warning),
                m,
                text,
                files,
                notice: String::new(),
                error,
            };
            Ok(render(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
    }
}
