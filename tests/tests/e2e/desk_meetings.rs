//! A briefing's conclusions on the desk, against a real relay on 127.0.0.1:0: recorded with
//! the meeting's kind and each conclusion's deadline as a date, addressed to a level of units
//! ("các phường"), then turned into a dispatch's task that links back to the meeting and
//! reaches the wards it names.

use giaoban_client_core::protocol::schema::{ConclusionRef, MeetingKind};
use giaoban_e2e::Relay;
use giaoban_e2e::desk::{Answer, Browser};

fn local_date(days_from_today: i64) -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    (today + chrono::Duration::days(days_from_today)).format("%d/%m/%Y").to_string()
}

fn post(b: &mut Browser, path: &str, pairs: &[(String, String)]) -> Answer {
    let fields: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.post(path, &fields)
}

fn owned(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn a_briefings_conclusion_becomes_a_dispatch_task_for_the_wards_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let units = &relay.org.units;
    let wards: Vec<usize> = (1..units.len()).filter(|&i| units[i].level_label == "phường").collect();
    assert!(wards.len() >= 2, "the demo province has wards");
    let ward_index = wards[0];
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), ward_index, "phường");
    let (_, password) = relay.store.add_staff(units[0].id, "muoi.nv", "Nguyễn Văn Muối").unwrap();
    let mut b = Browser::new(&relay.url);
    b.sign_in("muoi.nv", &password);

    let list = b.get("/desk/meetings");
    assert_eq!(list.status, 200);
    assert!(list.body.contains("Chưa có hội nghị nào được ghi"));
    let form = b.get("/desk/meeting/new");
    assert_eq!(form.status, 200);
    assert!(form.body.contains("value=\"level:phường\"") && form.body.contains("value=\"level:xã\""));
    let hidden = form.hidden_fields();
    let field = |k: &str| hidden.iter().find(|(n, _)| n == k).unwrap().1.clone();
    let (csrf, form_id) = (field("csrf"), field("form"));

    // Wrong fields are each named beside themselves; nothing is recorded.
    let refused = post(
        &mut b,
        "/desk/meeting/new",
        &owned(&[
            ("csrf", &csrf),
            ("form", &form_id),
            ("kind", "giao-ban-quy"),
            ("held_on", "32/12/2025"),
            ("c1_group", "level:phường"),
            ("c1_deadline", "khi nào xong"),
        ]),
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    for id in ["title-error", "held_on-error", "c1_text-error", "c1_deadline-error"] {
        assert!(refused.text_of_id(id).is_some(), "{id}: {}", refused.body);
    }
    assert!(b.get("/desk/meetings").body.contains("Chưa có hội nghị nào được ghi"));

    let due = local_date(20);
    let direct = units[wards[1]].id.to_string();
    let minutes = owned(&[
        ("csrf", &csrf),
        ("form", &form_id),
        ("kind", "giao-ban-quy"),
        ("title", "Hội nghị giao ban công tác Mặt trận quý IV năm 2026"),
        ("held_on", &local_date(0)),
        ("place", "Biên Hòa"),
        ("chair", "đ/c Chủ tịch Ủy ban MTTQ Việt Nam tỉnh"),
        ("conclusions", "3"),
        ("c1_group", "level:phường"),
        ("c1_text", "Rà soát, lập danh sách hộ nghèo cần hỗ trợ nhà Đại đoàn kết."),
        ("c1_deadline", &format!("trước ngày {due}")),
        ("c2_label", "Đối với Ủy ban MTTQ phường có khu công nghiệp"),
        ("c2_unit", &direct),
        ("c2_text", "Nắm tình hình công nhân lao động dịp cuối năm."),
        ("c2_task", "on"),
        ("c3_label", "Chung"),
        ("c3_text", "Tiếp tục phát huy những kết quả đạt được."),
    ]);
    let recorded = post(&mut b, "/desk/meeting/new", &minutes);
    assert_eq!(recorded.status, 303, "{}", recorded.body);
    let meeting_path = recorded.location.clone().unwrap();
    // Sent again (a double click, a replay): the same meeting, nothing more.
    let again = post(&mut b, "/desk/meeting/new", &minutes);
    assert_eq!(again.location.as_deref(), Some(meeting_path.as_str()));
    let list = b.get("/desk/meetings");
    assert_eq!(list.body.matches("<th scope=\"row\"><a href=\"/desk/meeting/").count(), 1, "{}", list.body);
    assert!(list.body.contains("Giao ban quý"));

    let page = b.get(&meeting_path);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Đối với Ban Thường trực Ủy ban MTTQ Việt Nam các phường"), "{}", page.body);
    assert!(page.body.contains(&format!("trước ngày {due}")));
    assert!(page.body.contains(units[ward_index].name.as_str()));
    assert!(page.body.contains("Là nhiệm vụ trực tiếp của các đơn vị trên."));
    // Only the conclusion addressed to units and without a task of its own is dispatched.
    let buttons: Vec<&str> = page.body.matches("/conclusion/").collect();
    assert_eq!(buttons.len(), 1, "{}", page.body);
    assert!(page.body.contains("/conclusion/1/dispatch"));
    let page_csrf = page.form_token().unwrap();

    // The conclusion becomes a draft of the dispatch form, prefilled from it.
    let started =
        post(&mut b, &format!("{meeting_path}/conclusion/1/dispatch"), &owned(&[("csrf", &page_csrf)]));
    assert_eq!(started.status, 303, "{}", started.body);
    let draft_path = started.location.clone().unwrap();
    assert!(draft_path.starts_with("/desk/dispatch/new?draft="));
    let draft = b.get(&draft_path);
    assert!(
        draft.body.contains("V/v thực hiện kết luận tại Hội nghị giao ban công tác Mặt trận quý IV năm 2026")
    );
    assert!(draft.body.contains("Nhiệm vụ này thực hiện một kết luận hội nghị"));
    assert_eq!(draft.body.matches("name=\"recipient\" value=").count(), units.len() - 1);
    let dh = draft.hidden_fields();
    let conclusion = dh.iter().find(|(k, _)| k == "task1_conclusion").unwrap().1.clone();
    let draft_id = dh.iter().find(|(k, _)| k == "draft").unwrap().1.clone();
    let dispatch_csrf = dh.iter().find(|(k, _)| k == "csrf").unwrap().1.clone();
    for w in &wards {
        assert!(
            draft.body.contains(&format!("value=\"{}\" checked", units[*w].id)),
            "every ward of the conclusion is picked"
        );
    }

    let mut dispatch = owned(&[
        ("csrf", &dispatch_csrf),
        ("draft", &draft_id),
        ("issuer", "Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh Đồng Nai"),
        ("number", "15/TB-MTTQ-BTT"),
        ("place", "Biên Hòa"),
        ("issued_on", &local_date(0)),
        ("subject", "V/v thực hiện kết luận tại Hội nghị giao ban công tác Mặt trận quý IV năm 2026"),
        ("recipients_label", "Kính gửi: Ban Thường trực Ủy ban MTTQ Việt Nam các phường."),
        ("body", "Đề nghị các phường thực hiện nội dung sau:"),
        ("tasks", "1"),
        ("task1_text", "Rà soát, lập danh sách hộ nghèo cần hỗ trợ nhà Đại đoàn kết."),
        ("task1_report", "on"),
        ("task1_deadline", &format!("trước ngày {due}")),
        ("signer_title", "TM. BAN THƯỜNG TRỰC"),
        ("signer_name", "Nguyễn Văn Bốn"),
    ]);
    dispatch.extend(wards.iter().map(|w| ("recipient".to_string(), units[*w].id.to_string())));
    // A link to the conclusion that is already a task of its own is refused in words.
    let meeting_id = conclusion.split(':').next().unwrap().to_string();
    let mut twice = dispatch.clone();
    twice.push(("task1_conclusion".into(), format!("{meeting_id}:2")));
    twice.push(("action".into(), "issue".into()));
    let refused = post(&mut b, "/desk/dispatch/new", &twice);
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("Kết luận này đã là nhiệm vụ của các đơn vị được giao"),
        "{}",
        refused.body
    );

    dispatch.push(("task1_conclusion".into(), conclusion.clone()));
    dispatch.push(("action".into(), "issue".into()));
    let issued = post(&mut b, "/desk/dispatch/new", &dispatch);
    assert_eq!(issued.status, 303, "{}", issued.body);
    let matrix_path = issued.location.clone().unwrap();
    let page = b.get(&meeting_path);
    assert!(page.body.contains("Đã giao: <a href=\"/desk/dispatch/"), "{}", page.body);
    assert!(page.body.contains("Văn bản số 15/TB-MTTQ-BTT, nhiệm vụ 1"));
    assert!(page.body.contains("Soạn thêm một văn bản"));

    // The ward receives the dispatch with its link to the conclusion, and the meeting too.
    ward.sync_now().unwrap();
    let directive_id: giaoban_client_core::protocol::DocId =
        matrix_path.trim_start_matches("/desk/dispatch/").parse().unwrap();
    let d = ward.directive(directive_id).unwrap();
    let meeting: giaoban_client_core::protocol::DocId = meeting_id.parse().unwrap();
    assert_eq!(d.task(1).unwrap().from_conclusion, Some(ConclusionRef { meeting, ordinal: 1 }));
    let m = ward.meeting(meeting).unwrap();
    assert_eq!(m.kind, MeetingKind::QuarterlyBriefing);
    assert_eq!(m.conclusions[0].deadline.as_ref().unwrap().due_date.format("%d/%m/%Y").to_string(), due);

    // A ward's staff cannot start a dispatch from the province's meeting.
    let (_, ward_password) = relay.store.add_staff(units[ward_index].id, "lan.tt", "Trần Thị Lan").unwrap();
    let mut wb = Browser::new(&relay.url);
    wb.sign_in("lan.tt", &ward_password);
    let seen = wb.get(&meeting_path);
    assert_eq!(seen.status, 200, "the ward was addressed and may read it");
    assert!(!seen.body.contains("/conclusion/1/dispatch"));
    let token = seen.form_token().unwrap();
    let refused =
        post(&mut wb, &format!("{meeting_path}/conclusion/1/dispatch"), &owned(&[("csrf", &token)]));
    assert_eq!(refused.status, 404);
    assert_eq!(wb.get("/desk/meeting/01900000-0000-7000-8000-000000000000").status, 404);
}
