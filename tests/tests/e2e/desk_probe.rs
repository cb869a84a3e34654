//! The desk and the relay against what a hostile device or a crowd of sign-ins sends: labels
//! that would make the office's list or the operator's terminal read otherwise, password checks
//! sent at once from many addresses, reminders too long for every phone to carry.

use giaoban_e2e::Relay;
use giaoban_e2e::desk::Browser;
use giaoban_relay::Config;

/// A device chooses its own label; the office's list and `admin devices` show it. Control
/// characters (which a terminal obeys), direction overrides and decomposed letters are not
/// kept, and neither are labels stored before this rule when they are read.
#[test]
fn a_device_label_is_cleaned_before_anyone_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let unit = relay.org.units[1].id;
    let code = relay.store.create_enrollment(unit, 1).unwrap();
    let hostile =
        "\u{1b}[2J\u{1b}]0;x\u{7}Điện thoại\r\n\u{0}\u{202e}chị Lan\u{202c} Phu\u{31b}o\u{31b}\u{300}ng";
    let body = serde_json::json!({
        "code": code.code,
        "device": "9b0c3a52-4a58-4f7e-9d61-3f1f0e8b2c11",
        "label": format!("{hostile}{}", "x".repeat(5000)),
    });
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let enroll = |body: serde_json::Value| {
        agent
            .post(&format!("{}/v1/enroll", relay.url))
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes())
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(enroll(body), 200);
    let devices = relay.store.devices().unwrap();
    let (_, _, label, _) = devices.iter().find(|(_, u, _, _)| *u == unit).unwrap();
    assert!(label.starts_with("[2J]0;xĐiện thoại chị Lan Phườngx"), "{label:?}");
    assert!(!label.chars().any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)), "{label:?}");
    assert_eq!(label.chars().count(), 200, "at most 200 characters are kept");
    let rows = relay.store.devices_of(&[unit]).unwrap();
    assert_eq!(&rows[0].label, label, "the office's list shows the same");

    // A phone that names itself as the desk's stores are named is named as a phone.
    let other = relay.org.units[2].id;
    let code = relay.store.create_enrollment(other, 1).unwrap();
    let body = serde_json::json!({
        "code": code.code,
        "device": "5d7e1f0a-2b3c-4d5e-8f90-a1b2c3d4e5f6",
        "label": "Ban lam viec: Văn phòng Ban Thường trực",
    });
    assert_eq!(enroll(body), 200);
    let rows = relay.store.devices_of(&[other]).unwrap();
    assert_eq!(rows[0].label, "Điện thoại: Ban lam viec: Văn phòng Ban Thường trực");

    // A label stored before the rule is cleaned when read.
    let db = rusqlite::Connection::open(dir.path().join("relay.sqlite")).unwrap();
    db.execute(
        "UPDATE devices SET label = ?1 WHERE unit = ?2",
        rusqlite::params!["a\u{1b}[31m\u{202e}b", unit.to_bytes().to_vec()],
    )
    .unwrap();
    assert_eq!(relay.store.devices_of(&[unit]).unwrap()[0].label, "a[31mb");
    assert!(relay.store.devices().unwrap().iter().any(|(_, u, label, _)| *u == unit && label == "a[31mb"));
}

/// The memory this process holds, in KiB.
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Each password check takes 19 MiB. Sign-ins sent at once from many addresses (a crowd, or
/// one network's many IPv6 addresses behind a front) wait for one of a few checks' memory
/// rather than each taking its own: the relay does not swell to gigabytes and stay there.
#[test]
fn sign_ins_sent_at_once_do_not_swell_the_relay() {
    if !std::path::Path::new("/proc/self/status").exists() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config =
        Config { data_dir: dir.path().to_path_buf(), trust_forwarded_for: true, ..Config::default() };
    let relay = Relay::start_with(dir.path(), config, true);
    let (_, password) = relay.store.add_staff(relay.org.units[0].id, "vanphong", "Văn phòng").unwrap();
    // Warm: the first sign-in and the first page take what they take once.
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in("vanphong", &password).status, 303);
    let before = resident_kib();
    for round in 0..2 {
        let threads: Vec<_> = (0..150)
            .map(|i| {
                let url = relay.url.clone();
                std::thread::spawn(move || {
                    let mut b = Browser::new(&url);
                    let page = b.get("/desk/sign-in");
                    let token = page.form_token().unwrap();
                    let from = format!("10.{round}.{}.{}", i / 200, i % 200 + 1);
                    let login = format!("khach{round}x{i}");
                    b.post_with(
                        "/desk/sign-in",
                        &[("login", &login), ("password", "sai mật khẩu"), ("csrf", &token)],
                        &[("x-forwarded-for", &from)],
                    )
                    .status
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), 401, "every check answers, wrongly signed in");
        }
    }
    let grew_mib = resident_kib().saturating_sub(before) / 1024;
    assert!(grew_mib < 400, "the relay grew by {grew_mib} MiB after 300 sign-ins at once");
    // And the right password still opens the desk.
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in("vanphong", &password).status, 303);
}

/// A reminder goes to every device of the units reminded: like a review's note, its words are
/// held to 5,000 characters, said in Vietnamese beside the form, and nothing is sent.
#[test]
fn a_reminder_too_long_is_refused_in_vietnamese() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (_, password) = relay.store.add_staff(relay.org.units[0].id, "vanphong", "Văn phòng").unwrap();
    let ward = relay.org.units[1].id.to_string();
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in("vanphong", &password).status, 303);
    let form = b.get("/desk/dispatch/new");
    let mut fields: Vec<(String, String)> = form.hidden_fields();
    for (k, v) in [
        ("issuer", "Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh Đồng Nai"),
        ("issued_on", "01/12/2026"),
        ("recipients_label", "Kính gửi: Ban Thường trực các xã, phường."),
        ("signer_title", "TM. BAN THƯỜNG TRỰC"),
        ("signer_name", "Nguyễn Văn A"),
        ("number", "12/MTTQ-BTT"),
        ("place", "Long Khánh"),
        ("subject", "V/v rà soát"),
        ("recipient", ward.as_str()),
        ("tasks", "1"),
        ("task1_text", "Rà soát các mô hình"),
        ("task1_deadline", "trước ngày 31/12/2030"),
        ("action", "issue"),
    ] {
        fields.retain(|(name, _)| name != k || k == "recipient");
        fields.push((k.into(), v.into()));
    }
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let issued = b.post("/desk/dispatch/new", &pairs);
    assert_eq!(issued.status, 303, "{}", issued.body);
    let page = issued.location.unwrap();
    let token = b.get(&page).form_token().unwrap();
    let long = "Đề nghị khẩn trương báo cáo. ".repeat(200);
    let refused = b.post(&format!("{page}/remind"), &[("csrf", &token), ("unit", &ward), ("note", &long)]);
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("Lời nhắc dài quá 5.000 ký tự"), "{}", refused.body);
    let sent =
        b.post(&format!("{page}/remind"), &[("csrf", &token), ("unit", &ward), ("note", "Đề nghị báo cáo")]);
    assert_eq!(sent.status, 303);
}

/// Anyone who knows a login can lock its account with five wrong passwords, every quarter of
/// an hour, from anywhere. The browser the staff member signed in from before still gets in
/// with the right password; a browser that never signed in to it, even with the right
/// password, waits out the lock.
#[test]
fn a_lock_set_by_someone_guessing_does_not_keep_the_staff_member_out() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        Config { data_dir: dir.path().to_path_buf(), trust_forwarded_for: true, ..Config::default() };
    let relay = Relay::start_with(dir.path(), config, true);
    let (_, password) = relay.store.add_staff(relay.org.units[0].id, "muoi.nv", "Nguyễn Văn Muối").unwrap();
    let mut office = Browser::new(&relay.url);
    assert_eq!(office.sign_in("muoi.nv", &password).status, 303);
    let token = office.get("/desk").form_token().unwrap();
    assert_eq!(office.post("/desk/sign-out", &[("csrf", &token)]).status, 303);

    let mut guesser = Browser::new(&relay.url);
    let mut last = 0;
    for i in 0..5 {
        let page = guesser.get("/desk/sign-in");
        let token = page.form_token().unwrap();
        let wrong = format!("doan-{i}");
        last = guesser
            .post_with(
                "/desk/sign-in",
                &[("login", "muoi.nv"), ("password", &wrong), ("csrf", &token)],
                &[("x-forwarded-for", "203.0.113.9")],
            )
            .status;
    }
    assert_eq!(last, 429, "locked");
    assert_eq!(Browser::new(&relay.url).sign_in("muoi.nv", &password).status, 429, "a new browser waits");
    assert_eq!(guesser.sign_in("muoi.nv", &password).status, 429, "the guesser too, even with it");
    let back = office.sign_in("muoi.nv", &password);
    assert_eq!(back.status, 303, "the office's browser gets in: {}", back.body);
    assert_eq!(office.get("/desk").status, 200);
}

/// A desk's store is a staff member's, ended with their account (`admin staff disable`). The
/// devices page shows no revoke button for it; a revoke sent for it anyway (a colleague's form
/// edited by hand) is refused and says why, and the store keeps syncing: revoking it would
/// leave whatever it had not sent yet in a file set aside.
#[test]
fn a_colleagues_desk_store_is_not_revoked_from_the_devices_page() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let province = relay.org.units[0].id;
    let (muoi, first) = relay.store.add_staff(province, "muoi.nv", "Nguyễn Văn Muối").unwrap();
    let (_, second) = relay.store.add_staff(province, "lan.tt", "Trần Thị Lan").unwrap();
    let mut a = Browser::new(&relay.url);
    assert_eq!(a.sign_in("muoi.nv", &first).status, 303);
    assert_eq!(a.get("/desk").status, 200);
    let (desk, active) = relay.store.staff_device(muoi.id).unwrap().unwrap();
    assert!(active);
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in("lan.tt", &second).status, 303);
    let token = b.get("/desk/devices").form_token().unwrap();
    let refused = b.post("/desk/devices/revoke", &[("csrf", &token), ("device", &desk.to_string())]);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("bàn làm việc của một cán bộ"), "{}", refused.body);
    assert!(relay.store.device_active(desk).unwrap());
    assert_eq!(relay.store.staff_device(muoi.id).unwrap(), Some((desk, true)));
}

/// The first page lists the 100 drafts saved last; a member with more is told how many and
/// reaches every one of them, rather than losing sight of the older ones.
#[test]
fn every_draft_can_be_reached_however_many_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let (account, password) =
        relay.store.add_staff(relay.org.units[0].id, "muoi.nv", "Nguyễn Văn Muối").unwrap();
    for i in 0..105u8 {
        let mut id = [0u8; 16];
        id[0] = i;
        id[15] = 7;
        assert!(relay.store.save_draft(account.id, id, &format!("Nháp số {i}"), &[]).unwrap());
    }
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in("muoi.nv", &password).status, 303);
    let home = b.get("/desk");
    assert_eq!(home.body.matches("/desk/dispatch/new?draft=").count(), 100);
    assert!(home.body.contains("trong 105 bản nháp"), "{}", home.body);
    assert!(home.body.contains("href=\"/desk?drafts=all\""));
    let all = b.get("/desk?drafts=all");
    assert_eq!(all.body.matches("/desk/dispatch/new?draft=").count(), 105);
    let oldest = hex::encode({
        let mut id = [0u8; 16];
        id[15] = 7;
        id
    });
    assert!(all.body.contains(&oldest), "the first draft saved is there too");
}

/// Two members of the office judge the same submission at once, one accepting and one
/// returning it: both verdicts are kept, the one the merge puts last stands, and the report's
/// page says that two verdicts disagree instead of telling each member theirs stood.
#[test]
fn two_verdicts_given_at_once_are_both_shown_and_said_to_disagree() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1, "Điện thoại phường An Lộc");
    let mut first = relay.device(&dir.path().join("a.sqlite"), 0, "Máy chị Lan");
    let mut second = relay.device(&dir.path().join("b.sqlite"), 0, "Máy anh Muối");
    let mut input = giaoban_e2e::workload::house_report("Báo cáo kết quả xây dựng nhà Đại đoàn kết");
    input.audience = vec![relay.org.units[0].id];
    let report = ward.create_report(input).unwrap();
    ward.submit_report(report).unwrap();
    ward.sync_now().unwrap();
    first.sync_now().unwrap();
    second.sync_now().unwrap();
    use giaoban_protocol::schema::Verdict;
    first.review_report(report, Verdict::Accepted, "").unwrap();
    second.review_report(report, Verdict::Returned, "Thiếu số liệu hộ được hỗ trợ.").unwrap();
    first.sync_now().unwrap();
    second.sync_now().unwrap();

    let (_, password) = relay.store.add_staff(relay.org.units[0].id, "thu.tt", "Trần Thị Thu").unwrap();
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in("thu.tt", &password).status, 303);
    let page = b.get(&format!("/desk/report/{report}"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Đã duyệt") && page.body.contains("Thiếu số liệu hộ được hỗ trợ."),
        "{}",
        page.body
    );
    assert!(page.body.contains("Có hai ý kiến khác nhau về cùng một lần nộp"), "{}", page.body);
    assert!(
        page.body.contains("Máy chị Lan") && page.body.contains("Máy anh Muối"),
        "each verdict names its writer"
    );
    assert_eq!(page.body.matches("ý kiến có hiệu lực)").count(), 1, "one verdict stands");

    // A verdict given after both settles it: the page no longer says they disagree about it.
    let token = page.form_token().unwrap();
    let again = b.post(
        &format!("/desk/report/{report}/review"),
        &[("csrf", &token), ("verdict", "accept"), ("note", "")],
    );
    assert_eq!(again.status, 303, "{}", again.body);
    let settled = b.get(&format!("/desk/report/{report}"));
    assert!(!settled.body.contains("Có hai ý kiến khác nhau"), "{}", settled.body);
    assert!(settled.body.contains("Bàn làm việc: Trần Thị Thu"), "{}", settled.body);

    // Verdicts given one after the other, each writer having seen the last, are a change of
    // mind, not a disagreement.
    first.sync_now().unwrap();
    first.review_report(report, Verdict::Returned, "Bổ sung ảnh nhà bàn giao.").unwrap();
    first.sync_now().unwrap();
    assert!(!b.get(&format!("/desk/report/{report}")).body.contains("Có hai ý kiến khác nhau"));
}

/// A ward corrects a returned report and submits it again; the office returns it again with
/// the same words. That is a new verdict on the new submission, not the old one sent twice:
/// the ward's phone sees it, and the report no longer waits for review.
#[test]
fn the_same_verdict_on_a_resubmission_is_a_new_verdict() {
    use giaoban_protocol::schema::{ReportKind, Verdict};
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(dir.path());
    let ward_unit = relay.org.units[1].id;
    let mut city = relay.device(&dir.path().join("city.sqlite"), 0, "Máy văn phòng");
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1, "Điện thoại phường An Lộc");
    let d = city
        .issue_directive(giaoban_client_core::demo::dispatch_305(
            vec![ward_unit],
            "trước ngày 08/02/2099",
            "trước ngày 11/02/2099",
        ))
        .unwrap();
    city.sync_now().unwrap();
    ward.sync_now().unwrap();
    let report = ward
        .create_report(giaoban_client_core::NewReport {
            title: "Báo cáo kết quả rà soát các mô hình".into(),
            kind: ReportKind::Thematic,
            period: "tháng 01/2022".into(),
            answers: Some((d, 1)),
            audience: vec![],
            sections: vec![giaoban_client_core::NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả thực hiện".into(),
                body: "Rà soát 12 mô hình.".into(),
            }],
        })
        .unwrap();
    ward.submit_report(report).unwrap();
    ward.sync_now().unwrap();

    let (_, password) = relay.store.add_staff(relay.org.units[0].id, "thu.tt", "Trần Thị Thu").unwrap();
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in("thu.tt", &password).status, 303);
    let note = "Đề nghị bổ sung danh sách mô hình.";
    let give = |b: &mut Browser| {
        let token = b.get(&format!("/desk/report/{report}")).form_token().unwrap();
        let sent = b.post(
            &format!("/desk/report/{report}/review"),
            &[("csrf", &token), ("verdict", "return"), ("note", note)],
        );
        assert_eq!(sent.status, 303, "{}", sent.body);
    };
    give(&mut b);
    give(&mut b); // sent twice: one round
    ward.sync_now().unwrap();
    let returned = |ward: &giaoban_client_core::Store| {
        let t = ward
            .list_tasks(&giaoban_client_core::TaskFilter {
                scope: giaoban_client_core::TaskScope::Unit(ward_unit),
                source: Some(d),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .find(|t| t.ordinal == 1)
            .unwrap();
        (t.submissions, t.review.map(|(v, _)| v))
    };
    assert_eq!(returned(&ward), (1, Some(Verdict::Returned)));
    let rounds = |ward: &mut giaoban_client_core::Store| {
        ward.review_of(report, relay.org.units[0].id).unwrap().unwrap().rounds.len()
    };
    assert_eq!(rounds(&mut ward), 1);

    ward.submit_report(report).unwrap();
    ward.sync_now().unwrap();
    assert_eq!(returned(&ward), (2, None), "the resubmission awaits review");
    give(&mut b);
    ward.sync_now().unwrap();
    assert_eq!(rounds(&mut ward), 2);
    assert_eq!(returned(&ward), (2, Some(Verdict::Returned)), "the new verdict stands on the new submission");
}
