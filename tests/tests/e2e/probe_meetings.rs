//! Meetings and their conclusions, dispatches that carry a conclusion out, the report editor
//! and a consolidation's downloads on the desk, against hostile and odd input: markup, huge
//! and decomposed text, forged ids and ordinals, other units' staff, forms sent twice or at
//! once, stale pages, and what the spreadsheet makes of words that look like formulas.

use std::path::Path;
use std::time::{Duration, Instant};

use giaoban_client_core::protocol::schema::{FigureScope, MeasureUnit, ReportKind, Verdict};
use giaoban_client_core::{
    FigureInput, NewDeadline, NewDirective, NewReport, NewSection, NewTask, Store, TaskFilter, TaskScope,
};
use giaoban_e2e::Relay;
use giaoban_e2e::desk::{Answer, Browser, unescape};
use giaoban_protocol::{DocId, UnitId};

/// Today in Vietnam, dd/mm/yyyy, `days` from now.
fn day(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::hours(7) + chrono::Duration::days(days))
        .format("%d/%m/%Y")
        .to_string()
}

/// A signed-in desk of a new staff member of the unit at `unit` of the organisation.
fn desk(relay: &Relay, unit: usize, login: &str) -> (Browser, giaoban_relay::store::StaffAccount) {
    let (account, password) =
        relay.store.add_staff(relay.org.units[unit].id, login, "Nguyễn Thị Hoa").unwrap();
    let mut b = Browser::new(&relay.url);
    let a = b.sign_in(login, &password);
    assert_eq!(a.location.as_deref(), Some("/desk"), "signed in: {}", a.status);
    (b, account)
}

/// Another browser on the same session (a second tab, or a form sent from two threads).
fn same_session(relay: &Relay, b: &Browser) -> Browser {
    let mut other = Browser::new(&relay.url);
    other.cookies = b.cookies.clone();
    other
}

fn unit(relay: &Relay, i: usize) -> String {
    relay.org.units[i].id.to_string()
}

/// A new meeting form's token and form id.
fn meeting_form(b: &mut Browser) -> (String, String) {
    let page = b.get("/desk/meeting/new");
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.form_token().unwrap();
    let form = page.hidden_fields().into_iter().find(|(k, _)| k == "form").unwrap().1;
    (csrf, form)
}

/// Sends a meeting form with `fields` (kind, title and date defaulted when not given).
fn send_meeting(b: &mut Browser, fields: &[(&str, &str)]) -> Answer {
    let (csrf, form) = meeting_form(b);
    send_meeting_as(b, &csrf, &form, fields)
}

fn send_meeting_as(b: &mut Browser, csrf: &str, form: &str, fields: &[(&str, &str)]) -> Answer {
    let mut all: Vec<(&str, &str)> = vec![("csrf", csrf), ("form", form)];
    for (k, v) in [
        ("kind", "giao-ban-thang"),
        ("title", "Hội nghị giao ban công tác Mặt trận tháng 01 năm 2026"),
        ("held_on", "20/01/2026"),
        ("place", "Hội trường Ủy ban MTTQ tỉnh"),
        ("chair", "Đồng chí Chủ tịch Ủy ban MTTQ tỉnh"),
    ] {
        if !fields.iter().any(|(f, _)| *f == k) {
            all.push((k, v));
        }
    }
    all.extend_from_slice(fields);
    b.post("/desk/meeting/new", &all)
}

/// The meeting a form's answer redirected to.
fn recorded(a: &Answer) -> String {
    let at = a.location.as_deref().unwrap_or_else(|| panic!("not recorded ({}): {}", a.status, errors(a)));
    at.strip_prefix("/desk/meeting/").unwrap().to_string()
}

/// Every error message of a page, for a failing assertion.
fn errors(a: &Answer) -> String {
    a.body
        .split("class=\"error\"")
        .skip(1)
        .filter_map(|s| s.split_once('>').map(|(_, r)| r.split('<').next().unwrap_or_default().to_string()))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// How many meetings the desk lists.
fn meetings_listed(b: &mut Browser) -> usize {
    let page = b.get("/desk/meetings");
    assert_eq!(page.status, 200);
    page.body.matches("<th scope=\"row\"><a href=\"/desk/meeting/").count()
}

/// Words that name something in English, which a Vietnamese page should not show.
fn looks_english(s: &str) -> bool {
    ["meeting", "conclusion", "invalid", "error", "not ", "the ", " no "]
        .iter()
        .any(|w| s.to_lowercase().contains(w))
}

#[test]
fn markup_in_a_meeting_shows_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, _) = desk(&relay, 0, "hoa.tinh");
    let ward = unit(&relay, 1);
    let title = "<script>alert('giao ban')</script> Giao ban & \"tháng\" 01";
    let text = "<img src=x onerror=alert(1)> Rà soát hộ nghèo </p><b>đậm</b>";
    let label = "</strong><a href=\"javascript:alert(1)\">Đối với xã</a>";
    let a = send_meeting(
        &mut b,
        &[
            ("title", title),
            ("c1_label", label),
            ("c1_unit", &ward),
            ("c1_text", text),
            ("place", "<i>Biên Hòa</i>"),
        ],
    );
    let id = recorded(&a);
    for page in [b.get(&format!("/desk/meeting/{id}")), b.get("/desk/meetings")] {
        assert_eq!(page.status, 200);
        for raw in ["<script>alert", "<img src=x", "<b>đậm", "<a href=\"javascript", "<i>Biên"] {
            assert!(!page.body.contains(raw), "{raw} reached the page as markup");
        }
        assert!(unescape(&page.body).contains(title), "the title is shown as typed");
    }
    let page = b.get(&format!("/desk/meeting/{id}"));
    assert!(unescape(&page.body).contains(text.trim()));
    // The ward it is addressed to reads it the same way.
    let (mut w, _) = desk(&relay, 1, "lan.xa");
    let seen = w.get(&format!("/desk/meeting/{id}"));
    assert_eq!(seen.status, 200);
    assert!(!seen.body.contains("<script>alert") && !seen.body.contains("<img src=x"));
}

#[test]
fn decomposed_vietnamese_and_control_characters_are_stored_composed_and_clean() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, _) = desk(&relay, 0, "hoa.tinh");
    // "Hội nghị giao ban tháng" decomposed (NFD), with a bell, a NUL and a zero-width space.
    let nfd_title = "Ho\u{323}\u{302}i nghi\u{323} giao ban tha\u{301}ng\u{7}\u{0} 01\u{200b}";
    let nfd_text =
        "Ra\u{300} soa\u{301}t ho\u{323}\u{302} nghe\u{300}o\u{1b}[31m tre\u{302}n đi\u{323}a ba\u{300}n";
    let a =
        send_meeting(&mut b, &[("title", nfd_title), ("c1_text", nfd_text), ("c1_unit", &unit(&relay, 1))]);
    let id = recorded(&a);
    let page = unescape(&b.get(&format!("/desk/meeting/{id}")).body);
    assert!(page.contains("Hội nghị giao ban tháng"), "the title is stored composed");
    assert!(page.contains("Rà soát hộ nghèo"), "the conclusion is stored composed");
    for c in ['\u{7}', '\u{0}', '\u{1b}', '\u{323}', '\u{302}'] {
        assert!(!page.contains(c), "{:?} reached the page", c);
    }
}

#[test]
fn stacked_combining_marks_are_answered_in_vietnamese_not_with_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, _) = desk(&relay, 0, "hoa.tinh");
    let stacked = format!("Giao ban a{}", "\u{301}\u{300}\u{303}\u{309}\u{323}".repeat(200));
    let text = format!("Kết luận {}", "ệ\u{302}\u{302}\u{302}\u{302}".repeat(2000));
    let a = send_meeting(&mut b, &[("title", &stacked), ("c1_text", &text)]);
    assert!(
        a.status == 303 || a.status == 422,
        "answered {}: {}",
        a.status,
        &a.body[..a.body.len().min(400)]
    );
    if a.status == 422 {
        let e = errors(&a);
        assert!(!e.is_empty() && !looks_english(&e), "said beside a field in Vietnamese: {e}");
    } else {
        assert_eq!(b.get(&format!("/desk/meeting/{}", recorded(&a))).status, 200);
    }
}

#[test]
fn a_conclusion_cannot_be_due_before_the_meeting_was_held() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, _) = desk(&relay, 0, "hoa.tinh");
    let a = send_meeting(
        &mut b,
        &[
            ("held_on", "20/01/2026"),
            ("c1_unit", &unit(&relay, 1)),
            ("c1_text", "Báo cáo kết quả rà soát hộ nghèo."),
            ("c1_deadline", "trước ngày 05/01/2026"),
            ("c1_task", "on"),
        ],
    );
    assert_eq!(a.status, 422, "a deadline fifteen days before the meeting was recorded");
    assert!(a.text_of_id("c1_deadline-error").is_some_and(|e| !e.is_empty()));
    assert_eq!(meetings_listed(&mut b), 0);
}

#[test]
fn over_long_fields_are_refused_beside_them_with_the_words_kept() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, _) = desk(&relay, 0, "hoa.tinh");
    let title = "Hội nghị giao ban ".repeat(28); // 504 characters
    let text = format!("{}kết thúc", "Vận động quỹ Vì người nghèo. ".repeat(700));
    let label = "Đối với các xã ".repeat(40);
    let a = send_meeting(
        &mut b,
        &[("title", &title), ("c1_label", &label), ("c1_text", &text), ("c1_unit", &unit(&relay, 1))],
    );
    assert_eq!(a.status, 422);
    for field in ["title", "c1_text", "c1_label"] {
        let e = a.text_of_id(&format!("{field}-error")).unwrap_or_default();
        assert!(!e.is_empty() && !looks_english(&e), "{field}: {e:?}");
    }
    let body = unescape(&a.body);
    assert!(body.contains(title.trim()) && body.contains(&text), "the words typed come back");
    assert_eq!(meetings_listed(&mut b), 0);
}

#[test]
fn a_forty_first_conclusion_is_not_dropped_without_a_word() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, _) = desk(&relay, 0, "hoa.tinh");
    let texts: Vec<(String, String)> = (1..=41)
        .map(|n| (format!("c{n}_text"), format!("Kết luận số {n}: thực hiện tốt phong trào.")))
        .collect();
    let mut fields: Vec<(&str, &str)> = vec![("conclusions", "41")];
    fields.extend(texts.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let a = send_meeting(&mut b, &fields);
    if a.status == 303 {
        let page = b.get(&format!("/desk/meeting/{}", recorded(&a)));
        assert!(
            page.body.contains("Kết luận số 41"),
            "recorded with {} conclusions; the 41st was dropped and nobody was told",
            page.body.matches("<li value=").count()
        );
    } else {
        assert_eq!(a.status, 422);
        assert!(unescape(&a.body).contains("Kết luận số 41"), "the 41st comes back to be moved");
    }
}

#[test]
fn ten_thousand_unit_ids_are_answered_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, _) = desk(&relay, 0, "hoa.tinh");
    let ward = unit(&relay, 1);
    let mut fields: Vec<(&str, &str)> = vec![("c1_text", "Tổ chức Ngày hội Đại đoàn kết toàn dân tộc.")];
    fields.extend(std::iter::repeat_n(("c1_unit", ward.as_str()), 10_000));
    let t = Instant::now();
    let a = send_meeting(&mut b, &fields);
    assert!(t.elapsed() < Duration::from_secs(20), "took {:?}", t.elapsed());
    let id = recorded(&a);
    let page = unescape(&b.get(&format!("/desk/meeting/{id}")).body);
    assert!(page.contains("Đơn vị thực hiện (1)"), "10,000 copies of one ward are one unit");
    let junk: Vec<String> = (0..10_000).map(|i| format!("{i:032x}")).collect();
    let mut fields: Vec<(&str, &str)> = vec![("c1_text", "Kết luận.")];
    fields.extend(junk.iter().map(|j| ("c1_unit", j.as_str())));
    let t = Instant::now();
    let a = send_meeting(&mut b, &fields);
    assert!(t.elapsed() < Duration::from_secs(20), "took {:?}", t.elapsed());
    assert_eq!(a.status, 422);
    assert!(a.text_of_id("c1_unit-error").is_some());
}

#[test]
fn units_outside_the_office_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, _) = desk(&relay, 0, "hoa.tinh");
    // A unit merged into another no longer exists.
    relay.store.merge_units(vec![relay.org.units[3].id], relay.org.units[4].id).unwrap();
    let elsewhere =
        giaoban_protocol::reference::unit_directory_from_reference("Thanh Hóa").unwrap().units[1].id;
    let made_up = UnitId::from_bytes([7; 16]).to_string();
    for (what, id) in [
        ("the office itself", unit(&relay, 0)),
        ("a commune of Thanh Hóa", elsewhere.to_string()),
        ("a merged commune", unit(&relay, 3)),
        ("an id nobody has", made_up),
        ("not an id", "xã Bảo Quang".to_string()),
    ] {
        let a = send_meeting(&mut b, &[("c1_text", "Rà soát hộ nghèo."), ("c1_unit", &id)]);
        assert_eq!(a.status, 422, "{what} was accepted");
        let e = a.text_of_id("c1_unit-error").unwrap_or_default();
        assert!(!e.is_empty() && !looks_english(&e), "{what}: {e:?}");
    }
    // Nor through a dispatch-less direct task.
    let a =
        send_meeting(&mut b, &[("c1_text", "Rà soát."), ("c1_unit", &unit(&relay, 3)), ("c1_task", "on")]);
    assert_eq!(a.status, 422);
    assert_eq!(meetings_listed(&mut b), 0);
}

#[test]
fn unknown_groups_kinds_and_a_direct_task_without_units_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, _) = desk(&relay, 0, "hoa.tinh");
    let a = send_meeting(
        &mut b,
        &[
            ("kind", "hop-kin"),
            ("c1_group", "level:thị trấn"),
            ("c1_text", "Kết luận một."),
            ("c2_group", "kind:party-body"),
            ("c2_text", "Kết luận hai."),
            ("c3_text", "Kết luận ba."),
            ("c3_task", "on"),
            ("held_on", "32/13/2026"),
        ],
    );
    assert_eq!(a.status, 422);
    for field in ["kind", "c1_group", "c2_group", "c3_unit", "held_on"] {
        let e = a.text_of_id(&format!("{field}-error")).unwrap_or_default();
        assert!(!e.is_empty() && !looks_english(&e), "{field}: {e:?}");
    }
    assert_eq!(meetings_listed(&mut b), 0);
}

#[test]
fn the_same_form_sent_twice_or_from_four_threads_records_one_meeting() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, _) = desk(&relay, 0, "hoa.tinh");
    let ward = unit(&relay, 1);
    let (csrf, form) = meeting_form(&mut b);
    let fields = [("c1_text", "Chăm lo Tết cho hộ nghèo."), ("c1_unit", ward.as_str())];
    let first = recorded(&send_meeting_as(&mut b, &csrf, &form, &fields));
    let again = recorded(&send_meeting_as(&mut b, &csrf, &form, &fields));
    assert_eq!(first, again);
    let (csrf, form) = meeting_form(&mut b);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mut t = same_session(&relay, &b);
            let (csrf, form, ward, barrier) = (csrf.clone(), form.clone(), ward.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let a = send_meeting_as(
                    &mut t,
                    &csrf,
                    &form,
                    &[("title", "Hội nghị sơ kết 6 tháng"), ("c1_text", "Kết luận."), ("c1_unit", &ward)],
                );
                recorded(&a)
            })
        })
        .collect();
    let ids: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    assert_eq!(meetings_listed(&mut b), 2);
}

#[test]
fn a_form_sent_again_with_changes_does_not_drop_them_silently() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, _) = desk(&relay, 0, "hoa.tinh");
    let ward = unit(&relay, 1);
    let (csrf, form) = meeting_form(&mut b);
    let first =
        recorded(&send_meeting_as(&mut b, &csrf, &form, &[("c1_text", "Chăm lo Tết."), ("c1_unit", &ward)]));
    // Back in the browser, a conclusion corrected and added, sent again.
    let a = send_meeting_as(
        &mut b,
        &csrf,
        &form,
        &[
            ("c1_text", "Chăm lo Tết cho hộ nghèo, hộ cận nghèo."),
            ("c1_unit", &ward),
            ("c2_text", "Kết luận bổ sung."),
        ],
    );
    assert_eq!(meetings_listed(&mut b), 1, "one meeting");
    let page = unescape(&b.get(&format!("/desk/meeting/{first}")).body);
    let kept = page.contains("Kết luận bổ sung.");
    let told = a.status != 303;
    assert!(kept || told, "the corrected form was answered as recorded and its changes were dropped");
}

#[test]
fn a_meeting_form_without_its_token_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, _) = desk(&relay, 0, "hoa.tinh");
    let (mut other, _) = desk(&relay, 0, "mai.tinh");
    let (other_csrf, _) = meeting_form(&mut other);
    let (_, form) = meeting_form(&mut b);
    let ward = unit(&relay, 1);
    let fields: Vec<(&str, &str)> = vec![("c1_text", "Kết luận."), ("c1_unit", &ward)];
    for csrf in ["", "00", other_csrf.as_str()] {
        let a = send_meeting_as(&mut b, csrf, &form, &fields);
        assert_eq!(a.status, 403, "token {csrf:?}");
    }
    let (csrf, form) = meeting_form(&mut b);
    let mut all: Vec<(&str, &str)> =
        vec![("csrf", &csrf), ("form", &form), ("kind", "khac"), ("title", "Họp")];
    all.extend(fields.iter().copied());
    all.push(("held_on", "20/01/2026"));
    let a = b.post_with("/desk/meeting/new", &all, &[("Origin", "http://evil.example")]);
    assert_eq!(a.status, 403, "another site's form");
    // Signed out: to the sign-in page.
    let mut stranger = Browser::new(&relay.url);
    assert_eq!(stranger.post("/desk/meeting/new", &all).location.as_deref(), Some("/desk/sign-in"));
    assert_eq!(meetings_listed(&mut b), 0);
}

/// A province meeting: conclusion 1 to ward 1 (to be dispatched), 2 a direct task of ward 1,
/// 3 to nobody. Its id.
fn province_meeting(relay: &Relay, b: &mut Browser) -> String {
    let ward = unit(relay, 1);
    let a = send_meeting(
        b,
        &[
            ("c1_label", "Đối với Ban Thường trực Ủy ban MTTQ các xã"),
            ("c1_unit", &ward),
            ("c1_text", "Rà soát, báo cáo số hộ nghèo trên địa bàn."),
            ("c1_deadline", &format!("trước ngày {}", day(20))),
            ("c2_unit", &ward),
            ("c2_text", "Tổ chức Ngày hội Đại đoàn kết."),
            ("c2_task", "on"),
            ("c3_text", "Tiếp tục phát huy những kết quả đạt được."),
        ],
    );
    recorded(&a)
}

#[test]
fn a_ward_reads_a_meeting_addressed_to_it_and_dispatches_none_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, _) = desk(&relay, 0, "hoa.tinh");
    let id = province_meeting(&relay, &mut b);
    let (mut ward, ward_account) = desk(&relay, 1, "lan.xa");
    let page = ward.get(&format!("/desk/meeting/{id}"));
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains("/conclusion/"),
        "a ward is offered no dispatch of the province's conclusion"
    );
    let csrf = page.form_token().unwrap();
    for n in ["1", "2", "3"] {
        let a = ward.post(&format!("/desk/meeting/{id}/conclusion/{n}/dispatch"), &[("csrf", &csrf)]);
        assert_eq!(a.status, 404, "conclusion {n}");
    }
    assert_eq!(relay.store.draft_count(ward_account.id).unwrap(), 0, "no draft for the ward");
    let (mut far, _) = desk(&relay, 2, "binh.xa");
    assert_eq!(far.get(&format!("/desk/meeting/{id}")).status, 404, "a ward it is not addressed to");
    assert_eq!(meetings_listed(&mut far), 0);
}

#[test]
fn odd_ordinals_and_ids_that_are_not_meetings_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, account) = desk(&relay, 0, "hoa.tinh");
    let id = province_meeting(&relay, &mut b);
    let csrf = b.get("/desk/meetings").form_token().unwrap();
    for n in ["0", "4", "-1", "abc", "1.0", "18446744073709551615", "18446744073709551616", "%20", "2", "3"] {
        let a = b.post(&format!("/desk/meeting/{id}/conclusion/{n}/dispatch"), &[("csrf", &csrf)]);
        assert_eq!(a.status, 404, "ordinal {n}: {}", a.status);
    }
    assert_eq!(relay.store.draft_count(account.id).unwrap(), 0);
    // Without the token nothing is drafted either.
    let a = b.post(&format!("/desk/meeting/{id}/conclusion/1/dispatch"), &[("csrf", "x")]);
    assert_eq!(a.status, 403);
    assert_eq!(relay.store.draft_count(account.id).unwrap(), 0);
    // A dispatch's id, a made-up id and garbage are not meetings.
    let dispatch = issue_from_conclusion(&relay, &mut b, &account, &id, 1);
    for other in [dispatch.as_str(), &DocId::from_bytes([5; 16]).to_string(), "..%2F..%2Fdesk", "x"] {
        assert_eq!(b.get(&format!("/desk/meeting/{other}")).status, 404, "{other}");
        let a = b.post(&format!("/desk/meeting/{other}/conclusion/1/dispatch"), &[("csrf", &csrf)]);
        assert_eq!(a.status, 404, "{other}");
    }
    let page = unescape(&b.get(&format!("/desk/meeting/{id}")).body);
    assert!(page.contains("Đã giao"), "the conclusion dispatched says so");
}

/// Presses "Soạn văn bản giao nhiệm vụ" on conclusion `n` of meeting `id`, numbers the draft and
/// issues it as the form the browser shows sends it. The dispatch's id.
fn issue_from_conclusion(
    relay: &Relay,
    b: &mut Browser,
    account: &giaoban_relay::store::StaffAccount,
    id: &str,
    n: u64,
) -> String {
    let (a, _) = issue_attempt(relay, b, account, id, n, &[]);
    let at = a.location.clone().unwrap_or_else(|| panic!("not issued ({}): {}", a.status, errors(&a)));
    at.strip_prefix("/desk/dispatch/").unwrap().to_string()
}

fn issue_attempt(
    relay: &Relay,
    b: &mut Browser,
    account: &giaoban_relay::store::StaffAccount,
    id: &str,
    n: u64,
    change: &[(&str, &str)],
) -> (Answer, [u8; 16]) {
    let csrf = b.get(&format!("/desk/meeting/{id}")).form_token().unwrap();
    let a = b.post(&format!("/desk/meeting/{id}/conclusion/{n}/dispatch"), &[("csrf", &csrf)]);
    let draft = a.location.unwrap().split("draft=").nth(1).unwrap().to_string();
    let bytes: [u8; 16] = hex::decode(&draft).unwrap().try_into().unwrap();
    let stored = relay.store.draft(account.id, bytes).unwrap().unwrap();
    // What the member types before issuing: the number and the place.
    let mut pairs: Vec<(String, String)> =
        stored.fields.into_iter().filter(|(k, _)| k != "number" && k != "place").collect();
    pairs.push(("number".into(), "12/TB-MTTQ-BTT".into()));
    pairs.push(("place".into(), "Đồng Nai".into()));
    for (k, v) in change {
        pairs.retain(|(f, _)| f != k);
        pairs.push((k.to_string(), v.to_string()));
    }
    pairs.push(("csrf".into(), csrf));
    pairs.push(("action".into(), "issue".into()));
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    (b.post("/desk/dispatch/new", &pairs), bytes)
}

#[test]
fn a_conclusion_of_a_long_titled_meeting_is_issued_as_prefilled() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, account) = desk(&relay, 0, "hoa.tinh");
    // A title within the form's 500 characters.
    let title: String = "Hội nghị giao ban công tác Mặt trận tháng 01 năm 2026 và triển khai nhiệm vụ "
        .repeat(7)
        .chars()
        .take(495)
        .collect();
    let a = send_meeting(
        &mut b,
        &[("title", title.trim()), ("c1_unit", &unit(&relay, 1)), ("c1_text", "Rà soát hộ nghèo.")],
    );
    let id = recorded(&a);
    let (a, _) = issue_attempt(&relay, &mut b, &account, &id, 1, &[]);
    assert_eq!(a.status, 303, "the prefilled dispatch was refused: {}", errors(&a));
}

#[test]
fn a_dispatch_naming_a_conclusion_it_cannot_carry_out_is_not_issued() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, account) = desk(&relay, 0, "hoa.tinh");
    let id = province_meeting(&relay, &mut b);
    let dispatch = issue_from_conclusion(&relay, &mut b, &account, &id, 1);
    // The ward's own meeting (no units below it to address, conclusions of its own).
    let (mut ward, _) = desk(&relay, 1, "lan.xa");
    let ward_meeting = recorded(&send_meeting(&mut ward, &[("c1_text", "Kết luận của xã.")]));
    let made_up = DocId::from_bytes([9; 16]).to_string();
    for (what, value) in [
        ("a made-up meeting", format!("{made_up}:1")),
        ("a dispatch, not a meeting", format!("{dispatch}:1")),
        ("the ward's meeting", format!("{ward_meeting}:1")),
        ("a direct task", format!("{id}:2")),
        ("no such conclusion", format!("{id}:99")),
        ("ordinal 0", format!("{id}:0")),
        ("a negative ordinal", format!("{id}:-1")),
        ("garbage", "hội nghị tháng 1".to_string()),
        ("an ordinal past u64", format!("{id}:18446744073709551616")),
    ] {
        let (a, draft) = issue_attempt(&relay, &mut b, &account, &id, 1, &[("task1_conclusion", &value)]);
        assert_ne!(a.status, 303, "{what}: issued");
        assert_eq!(a.status, 422, "{what}: {}", a.status);
        let e = a.text_of_id("task1_text-error").unwrap_or_default();
        assert!(!e.is_empty(), "{what}: refused, said beside the task: {}", errors(&a));
        assert!(!looks_english(&e) && !e.contains("Không ban hành được:"), "{what}: not in Vietnamese: {e}");
        let would_be = giaoban_relay::desk::dispatch_form::dispatch_id(relay.org.units[0].id, draft);
        assert_eq!(b.get(&format!("/desk/dispatch/{would_be}")).status, 404, "{what}: nothing issued");
    }
}

#[test]
fn two_tasks_carrying_out_one_conclusion_are_both_listed_under_it() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, account) = desk(&relay, 0, "hoa.tinh");
    let id = province_meeting(&relay, &mut b);
    let reference = format!("{id}:1");
    let (a, _) = issue_attempt(
        &relay,
        &mut b,
        &account,
        &id,
        1,
        &[
            ("tasks", "2"),
            ("task2_text", "Báo cáo bổ sung số hộ cận nghèo."),
            ("task2_conclusion", &reference),
        ],
    );
    assert_eq!(a.status, 303, "{}", errors(&a));
    let page = unescape(&b.get(&format!("/desk/meeting/{id}")).body);
    assert!(
        page.contains("nhiệm vụ 1") && page.contains("nhiệm vụ 2"),
        "both tasks are shown under conclusion 1"
    );
}

#[test]
fn a_meeting_form_sent_again_after_a_restart_records_one_meeting() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (mut b, _) = desk(&relay, 0, "hoa.tinh");
    let (csrf, form) = meeting_form(&mut b);
    let ward = unit(&relay, 1);
    let fields: Vec<(&str, &str)> = vec![("c1_text", "Chăm lo Tết cho hộ nghèo."), ("c1_unit", &ward)];
    let first = recorded(&send_meeting_as(&mut b, &csrf, &form, &fields));
    let relay = relay.restart();
    let again = recorded(&send_meeting_as(&mut b, &csrf, &form, &fields));
    assert_eq!(first, again);
    assert_eq!(meetings_listed(&mut b), 1);
    drop(relay);
}

// ---- The report editor ----

/// A province dispatch to ward 1 asking for figures, and the ward's report answering it (a
/// draft written on the ward's device): the relay, the devices and the ids.
struct Answered {
    relay: Relay,
    province: Store,
    ward: Store,
    dispatch: DocId,
    report: DocId,
}

fn answered(dir: &Path, indicators: Vec<String>) -> Answered {
    let relay = Relay::start(dir);
    let mut province = relay.device(&dir.join("tinh.sqlite"), 0, "Máy Văn phòng tỉnh");
    let dispatch = province
        .issue_directive(NewDirective {
            number: "305/MTTQ-BTT".into(),
            issuer_name: "Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh Đồng Nai".into(),
            place: "Đồng Nai".into(),
            issued_on: day(0),
            subject: "V/v báo cáo kết quả vận động Quỹ Vì người nghèo".into(),
            recipients: vec![relay.org.units[1].id, relay.org.units[2].id],
            tasks: vec![NewTask {
                ordinal: 1,
                text: "Báo cáo kết quả vận động Quỹ Vì người nghèo.".into(),
                report_required: true,
                deadline: Some(NewDeadline {
                    text: format!("trước ngày {}", day(10)),
                    due: None,
                    exclusive: None,
                }),
                indicators,
                ..NewTask::default()
            }],
            ..NewDirective::default()
        })
        .unwrap();
    province.sync_now().unwrap();
    let mut ward = relay.device(&dir.join("xa.sqlite"), 1, "Máy xã");
    ward.sync_now().unwrap();
    let report = ward
        .create_report(NewReport {
            title: "Báo cáo kết quả vận động Quỹ Vì người nghèo".into(),
            kind: ReportKind::Monthly,
            period: String::new(),
            answers: Some((dispatch, 1)),
            audience: Vec::new(),
            sections: vec![
                NewSection {
                    key: "ket_qua".into(),
                    heading: "Kết quả thực hiện".into(),
                    body: "Đã vận động được 120 triệu đồng.".into(),
                },
                NewSection { key: "kien_nghi".into(), heading: "Kiến nghị".into(), body: String::new() },
            ],
        })
        .unwrap();
    ward.sync_now().unwrap();
    Answered { relay, province, ward, dispatch, report }
}

/// The editor's form of a report page: (token, [(section, mark)]).
fn editor(page: &Answer) -> (String, Vec<(String, String)>) {
    let hidden = page.hidden_fields();
    let csrf = page.form_token().unwrap();
    let marks = hidden
        .iter()
        .filter(|(k, _)| k == "section")
        .map(|(_, key)| {
            let mark = hidden.iter().find(|(k, _)| *k == format!("mark_{key}")).unwrap().1.clone();
            (key.clone(), mark)
        })
        .collect();
    (csrf, marks)
}

/// Sends the editor with `texts` for its sections (the others as they were) and `action`.
fn send_edit(
    b: &mut Browser,
    report: DocId,
    csrf: &str,
    marks: &[(String, String)],
    texts: &[(&str, &str)],
    submit: bool,
) -> Answer {
    let mut owned: Vec<(String, String)> = vec![("csrf".into(), csrf.into())];
    for (key, mark) in marks {
        owned.push(("section".into(), key.clone()));
        owned.push((format!("mark_{key}"), mark.clone()));
        if let Some((_, t)) = texts.iter().find(|(k, _)| k == key) {
            owned.push((format!("text_{key}"), t.to_string()));
        }
    }
    if submit {
        owned.push(("action".into(), "submit".into()));
    }
    let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.post(&format!("/desk/report/{report}/edit"), &pairs)
}

fn section_text(store: &mut Store, report: DocId, key: &str) -> String {
    store.sync_now().unwrap();
    let r = store.report(report).unwrap();
    r.sections.iter().find(|s| s.key == key).unwrap().body.as_str().to_string()
}

#[test]
fn another_units_staff_cannot_edit_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = answered(dir.path(), Vec::new());
    let (mut own, _) = desk(&t.relay, 1, "lan.xa");
    let (csrf_own, marks) = editor(&own.get(&format!("/desk/report/{}", t.report)));
    for (unit, login) in [(0, "hoa.tinh"), (2, "binh.xa")] {
        let (mut other, _) = desk(&t.relay, unit, login);
        let page = other.get(&format!("/desk/report/{}", t.report));
        assert!(!page.body.contains("/edit\""), "unit {unit} is offered the editor");
        let csrf = other.get("/desk").form_token().unwrap();
        let a = send_edit(&mut other, t.report, &csrf, &marks, &[("ket_qua", "Sửa trộm.")], true);
        assert_eq!(a.status, 404, "unit {unit}");
        // Its own token on another's session does not help either.
        let a = send_edit(&mut other, t.report, &csrf_own, &marks, &[("ket_qua", "Sửa trộm.")], true);
        assert_eq!(a.status, 403, "unit {unit}");
    }
    assert_eq!(section_text(&mut t.ward, t.report, "ket_qua"), "Đã vận động được 120 triệu đồng.");
    assert!(t.ward.report(t.report).unwrap().submitted_at_device.is_none());
}

#[test]
fn a_stale_page_never_overwrites_and_gives_the_words_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = answered(dir.path(), Vec::new());
    let (mut b, _) = desk(&t.relay, 1, "lan.xa");
    let (csrf, marks) = editor(&b.get(&format!("/desk/report/{}", t.report)));
    t.ward.set_report_section_text(t.report, "ket_qua", "Đã vận động được 150 triệu đồng (số mới).").unwrap();
    t.ward.sync_now().unwrap();
    let typed = "Đã vận động được 130 triệu đồng, hỗ trợ 5 hộ <nghèo> & cận nghèo.";
    let a = send_edit(
        &mut b,
        t.report,
        &csrf,
        &marks,
        &[("ket_qua", typed), ("kien_nghi", "Đề nghị tỉnh hỗ trợ.")],
        true,
    );
    assert_eq!(a.status, 409);
    let body = unescape(&a.body);
    assert!(body.contains(typed), "the words typed come back");
    assert!(body.contains("150 triệu đồng (số mới)"), "beside what it now reads");
    assert!(a.text_of_id("text_ket_qua-error").is_some_and(|e| !e.is_empty()));
    assert_eq!(section_text(&mut t.ward, t.report, "ket_qua"), "Đã vận động được 150 triệu đồng (số mới).");
    assert!(t.ward.report(t.report).unwrap().submitted_at_device.is_none(), "not submitted");
    // Without the token: nothing.
    let (_, marks) = editor(&b.get(&format!("/desk/report/{}", t.report)));
    for csrf in ["", "sai"] {
        let a = send_edit(&mut b, t.report, csrf, &marks, &[("ket_qua", "Không được lưu.")], true);
        assert_eq!(a.status, 403);
    }
    assert_eq!(section_text(&mut t.ward, t.report, "ket_qua"), "Đã vận động được 150 triệu đồng (số mới).");
}

#[test]
fn two_staff_saving_one_section_at_once_never_both_win_unmarked() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = answered(dir.path(), Vec::new());
    let (a, _) = desk(&t.relay, 1, "lan.xa");
    let (b, _) = desk(&t.relay, 1, "cuc.xa");
    let mut staff = [a, b];
    let mut both = Vec::new();
    for round in 0..6 {
        let forms: Vec<(String, Vec<(String, String)>)> =
            staff.iter_mut().map(|s| editor(&s.get(&format!("/desk/report/{}", t.report)))).collect();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let report = t.report;
        let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
            let handles: Vec<_> = staff
                .iter_mut()
                .zip(forms)
                .enumerate()
                .map(|(i, (s, (csrf, marks)))| {
                    let barrier = barrier.clone();
                    scope.spawn(move || {
                        let text = format!(
                            "Vòng {round}: bản của cán bộ {} — đã vận động {} triệu đồng.",
                            i + 1,
                            100 + i
                        );
                        barrier.wait();
                        (send_edit(s, report, &csrf, &marks, &[("ket_qua", &text)], false).status, text)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let now = section_text(&mut t.ward, t.report, "ket_qua");
        let marked = t.ward.report(t.report).unwrap().sections[0].edited_concurrently;
        let saved: Vec<&String> = answers.iter().filter(|(s, _)| *s == 303).map(|(_, t)| t).collect();
        assert!(answers.iter().all(|(s, _)| *s == 303 || *s == 409), "{answers:?}");
        if saved.len() == 2 {
            both.push((round, now.clone(), marked));
        } else if saved.len() == 1 {
            assert_eq!(&now, saved[0], "round {round}: the one saved is what it reads");
        }
    }
    for (round, now, marked) in &both {
        assert!(
            *marked,
            "round {round}: both staff were told their words were saved; the section reads {now:?} and is not marked as edited at once"
        );
    }
}

#[test]
fn a_report_submitted_elsewhere_is_not_changed_by_an_editor_left_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = answered(dir.path(), Vec::new());
    let (mut b, _) = desk(&t.relay, 1, "lan.xa");
    let (csrf, marks) = editor(&b.get(&format!("/desk/report/{}", t.report)));
    t.ward.submit_report(t.report).unwrap();
    t.ward.sync_now().unwrap();
    let a = send_edit(&mut b, t.report, &csrf, &marks, &[("kien_nghi", "Đề nghị bổ sung kinh phí.")], false);
    assert_ne!(a.status, 303, "a submitted report was changed from a page opened while it was a draft");
    assert!(unescape(&a.body).contains("Đề nghị bổ sung kinh phí."), "the words typed come back");
    assert_eq!(section_text(&mut t.ward, t.report, "kien_nghi"), "");
}

#[test]
fn an_accepted_report_stays_accepted_whatever_an_old_editor_sends() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = answered(dir.path(), Vec::new());
    let (mut b, _) = desk(&t.relay, 1, "lan.xa");
    let (csrf, marks) = editor(&b.get(&format!("/desk/report/{}", t.report)));
    t.ward.submit_report(t.report).unwrap();
    t.ward.sync_now().unwrap();
    t.province.sync_now().unwrap();
    t.province.review_report(t.report, Verdict::Accepted, "").unwrap();
    t.province.sync_now().unwrap();
    let page = b.get(&format!("/desk/report/{}", t.report));
    assert!(!page.body.contains("/edit\""), "the page offers no editor for an accepted report");
    let a = send_edit(&mut b, t.report, &csrf, &marks, &[("ket_qua", "Số liệu đã sửa sau khi duyệt.")], true);
    t.province.sync_now().unwrap();
    let task = t
        .province
        .list_tasks(&TaskFilter {
            scope: TaskScope::IssuedByMe,
            source: Some(t.dispatch),
            ..TaskFilter::default()
        })
        .unwrap()
        .into_iter()
        .find(|x| x.assignee == t.relay.org.units[1].id)
        .unwrap();
    let text = section_text(&mut t.ward, t.report, "ket_qua");
    let seen = (a.status, task.submissions, task.review.clone().map(|r| r.0), text.clone());
    assert!(
        a.status != 303
            && task.submissions == 1
            && task.review.map(|r| r.0) == Some(Verdict::Accepted)
            && text == "Đã vận động được 120 triệu đồng.",
        "an accepted report was changed and submitted again (answer, submissions, verdict standing, words): {seen:?}"
    );
}

#[test]
fn submitting_twice_is_one_submission() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = answered(dir.path(), Vec::new());
    let (mut b, _) = desk(&t.relay, 1, "lan.xa");
    let (csrf, marks) = editor(&b.get(&format!("/desk/report/{}", t.report)));
    let texts = [("kien_nghi", "Đề nghị tỉnh hỗ trợ thêm.")];
    let first = send_edit(&mut b, t.report, &csrf, &marks, &texts, true);
    assert_eq!(first.status, 303);
    // The same form again (a double click, or sent again from the browser's history).
    let _ = send_edit(&mut b, t.report, &csrf, &marks, &texts, true);
    t.province.sync_now().unwrap();
    let task = t
        .province
        .list_tasks(&TaskFilter {
            scope: TaskScope::IssuedByMe,
            source: Some(t.dispatch),
            ..TaskFilter::default()
        })
        .unwrap()
        .into_iter()
        .find(|x| x.assignee == t.relay.org.units[1].id)
        .unwrap();
    assert_eq!(task.submissions, 1, "one submission, counted {} times", task.submissions);
}

#[test]
fn words_for_a_section_the_report_does_not_have_are_not_dropped_silently() {
    let dir = tempfile::tempdir().unwrap();
    let t = answered(dir.path(), Vec::new());
    let (mut b, _) = desk(&t.relay, 1, "lan.xa");
    let (csrf, mut marks) = editor(&b.get(&format!("/desk/report/{}", t.report)));
    marks.push(("phuong_huong".into(), "0000000000000000".into()));
    let a = send_edit(
        &mut b,
        t.report,
        &csrf,
        &marks,
        &[("phuong_huong", "Phương hướng quý tới: tiếp tục vận động.")],
        false,
    );
    assert!(
        a.status != 303 || a.location.as_deref().is_some_and(|l| !l.contains("done=saved")),
        "answered “Đã lưu” while the words for a section it does not have went nowhere"
    );
}

#[test]
fn an_over_long_or_decomposed_section_is_answered_with_the_words_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = answered(dir.path(), Vec::new());
    let (mut b, _) = desk(&t.relay, 1, "lan.xa");
    let (csrf, marks) = editor(&b.get(&format!("/desk/report/{}", t.report)));
    let long = format!("{}hết.", "Lũ lụt. ".repeat(25_001)); // 200,012 characters
    let a = send_edit(
        &mut b,
        t.report,
        &csrf,
        &marks,
        &[("ket_qua", &long), ("kien_nghi", "Đề nghị hỗ trợ.")],
        true,
    );
    assert_eq!(a.status, 409, "{}", a.status);
    let e = a.text_of_id("text_ket_qua-error").unwrap_or_default();
    assert!(!e.is_empty() && !looks_english(&e), "{e:?}");
    assert!(a.body.contains(&long), "the long words come back in their box");
    assert!(t.ward.report(t.report).unwrap().submitted_at_device.is_none());
    // Decomposed text is saved composed, and sending it again changes nothing.
    let (csrf, marks) = editor(&b.get(&format!("/desk/report/{}", t.report)));
    let nfd = "Đa\u{303} va\u{323}\u{302}n đo\u{323}\u{302}ng đươ\u{323}c 125 trie\u{323}\u{302}u đo\u{302}\u{300}ng.";
    let a = send_edit(&mut b, t.report, &csrf, &marks, &[("ket_qua", nfd)], false);
    assert_eq!(a.status, 303);
    assert_eq!(section_text(&mut t.ward, t.report, "ket_qua"), "Đã vận động được 125 triệu đồng.");
    let a = send_edit(&mut b, t.report, &csrf, &marks, &[("ket_qua", nfd)], false);
    assert_eq!(a.status, 303, "the same words again, from the same page: {}", a.status);
}

// ---- Downloads ----

#[test]
fn formula_looking_words_and_huge_figures_stay_text_in_the_downloads() {
    let dir = tempfile::tempdir().unwrap();
    let hostile =
        ["=HYPERLINK(\"http://evil.example/?x\")", "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "=1+1"];
    let mut t = answered(dir.path(), hostile.iter().map(|s| s.to_string()).collect());
    for (i, ind) in hostile.iter().enumerate() {
        t.ward
            .set_report_figure(
                t.report,
                FigureInput {
                    indicator: ind.to_string(),
                    amount: if i == 0 { "9.223.372.036.854.775.807".into() } else { format!("{}", 10 + i) },
                    unit: MeasureUnit::Vnd,
                    scope: FigureScope::Period,
                    note: "=HYPERLINK(\"http://evil.example\")".into(),
                    since: String::new(),
                },
            )
            .unwrap();
    }
    t.ward.submit_report(t.report).unwrap();
    t.ward.sync_now().unwrap();
    // The second ward reports the most a figure holds too: the total does not fit.
    let mut second = t.relay.device(&dir.path().join("xa2.sqlite"), 2, "Máy xã 2");
    second.sync_now().unwrap();
    let r2 = second
        .create_report(NewReport {
            title: "Báo cáo".into(),
            kind: ReportKind::Monthly,
            period: String::new(),
            answers: Some((t.dispatch, 1)),
            audience: Vec::new(),
            sections: vec![NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả".into(),
                body: "Xong.".into(),
            }],
        })
        .unwrap();
    second
        .set_report_figure(
            r2,
            FigureInput {
                indicator: hostile[0].into(),
                amount: "9.223.372.036.854.775.807".into(),
                unit: MeasureUnit::Vnd,
                scope: FigureScope::Period,
                note: String::new(),
                since: String::new(),
            },
        )
        .unwrap();
    second.submit_report(r2).unwrap();
    second.sync_now().unwrap();
    let (mut b, _) = desk(&t.relay, 0, "hoa.tinh");
    let base = format!("/desk/dispatch/{}/task/1", t.dispatch);
    let page = b.get(&format!("{base}/figures?counting=all"));
    assert_eq!(page.status, 200);
    let (status, headers, xlsx) = b.get_bytes(&format!("{base}/figures.xlsx?counting=all"));
    assert_eq!(status, 200, "{headers:?}");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx.clone())).unwrap();
    let mut sheet = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut sheet).unwrap();
    assert!(!sheet.contains("<f>") && !sheet.contains("<f "), "a cell holds a formula");
    let mut strings = String::new();
    if let Ok(mut f) = zip.by_name("xl/sharedStrings.xml") {
        std::io::Read::read_to_string(&mut f, &mut strings).unwrap();
    }
    assert!(strings.contains("=HYPERLINK") || sheet.contains("=HYPERLINK"), "the words are kept as text");
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let name = book.sheet_names()[0].clone();
    let formulas = book.worksheet_formula(&name).unwrap();
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()), "no formulas");
    for path in [
        format!("{base}/report.docx?counting=all"),
        format!("/desk/dispatch/{}/document.docx", t.dispatch),
        format!("/desk/report/{}/document.docx", t.report),
    ] {
        let (status, _, bytes) = b.get_bytes(&path);
        assert_eq!(status, 200, "{path}");
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut doc = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("word/document.xml").unwrap(), &mut doc).unwrap();
        assert!(!doc.contains("<w:fldSimple") && !doc.contains("w:instrText"), "{path}: a field code");
    }
    // A ward's staff reaches no consolidation of the province's.
    let (mut ward, _) = desk(&t.relay, 1, "lan.xa");
    for path in [format!("{base}/figures"), format!("{base}/figures.xlsx"), format!("{base}/report.docx")] {
        let (status, _, _) = ward.get_bytes(&path);
        assert_eq!(status, 404, "{path}");
    }
}

#[test]
fn three_hundred_indicators_and_long_words_download_or_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = answered(dir.path(), Vec::new());
    for i in 0..300 {
        t.ward
            .set_report_figure(
                t.report,
                FigureInput {
                    indicator: format!(
                        "chi_tieu_{i:03}_{}",
                        "quỹ vì người nghèo ".repeat(5).trim().replace(' ', "_")
                    ),
                    amount: format!("gần {}", 1000 + i),
                    unit: MeasureUnit::Households,
                    scope: FigureScope::Period,
                    note: "Ghi chú ".repeat(100),
                    since: String::new(),
                },
            )
            .unwrap();
    }
    t.ward.submit_report(t.report).unwrap();
    t.ward.sync_now().unwrap();
    let (mut b, _) = desk(&t.relay, 0, "hoa.tinh");
    let base = format!("/desk/dispatch/{}/task/1", t.dispatch);
    for path in [
        format!("{base}/figures?counting=all"),
        format!("{base}/figures.xlsx?counting=all"),
        format!("{base}/report.docx?counting=all"),
        format!("/desk/report/{}/document.docx", t.report),
    ] {
        let t0 = Instant::now();
        let (status, headers, body) = b.get_bytes(&path);
        assert!(t0.elapsed() < Duration::from_secs(30), "{path}: {:?}", t0.elapsed());
        assert!(status == 200 || status == 422, "{path}: {status}");
        if status == 422 {
            let text = String::from_utf8_lossy(&body);
            assert!(text.contains("Không tạo được tệp"), "{path}: said in Vietnamese");
        } else if path.ends_with(".xlsx") || path.ends_with(".docx") {
            assert!(headers.contains_key("content-disposition"), "{path}");
            zip::ZipArchive::new(std::io::Cursor::new(body)).unwrap();
        }
    }
}
