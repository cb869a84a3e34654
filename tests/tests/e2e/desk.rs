//! The desk against a real relay on 127.0.0.1:0: staff sign-in and its defences, and the
//! matrix of a dispatch as wards' devices act on it, read through the staff member's own
//! store.

use std::io::BufRead;
use std::time::{Duration, Instant};

use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::{NewReport, NewSection};
use giaoban_e2e::Relay;
use giaoban_e2e::desk::Browser;

fn local_date(days_from_today: i64) -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    (today + chrono::Duration::days(days_from_today)).format("%d/%m/%Y").to_string()
}

fn report_input(directive: giaoban_client_core::protocol::DocId, text: &str) -> NewReport {
    NewReport {
        title: "Báo cáo kết quả rà soát các mô hình của Mặt trận".into(),
        kind: ReportKind::Thematic,
        period: "quý I/2030".into(),
        answers: Some((directive, 3)),
        audience: vec![],
        sections: vec![NewSection {
            key: "ket_qua".into(), heading: "Kết quả".into(), body: text.into()
        }],
    }
}

#[test]
fn staff_sign_in_opens_the_desk_and_sign_out_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let (_, password) = relay.store.add_staff(relay.org.units[0].id, "muoi.nv", "Nguyễn Văn Muối").unwrap();

    let mut b = Browser::new(&relay.url);
    // Not signed in: every page leads to the sign-in page.
    assert_eq!(b.get("/desk").location.as_deref(), Some("/desk/sign-in"));
    assert_eq!(b.get("/").location.as_deref(), Some("/desk"));

    // A sign-in form without the token its page gave is refused, even with the right password.
    let page = b.get("/desk/sign-in");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<html lang=\"vi\">"));
    let refused = b.post("/desk/sign-in", &[("login", "muoi.nv"), ("password", &password), ("csrf", "00")]);
    assert_eq!(refused.status, 403);
    assert!(!b.cookies.contains_key("giaoban_desk"));

    // The login is found whatever its case and Unicode form.
    let ok = b.sign_in(" MUOI.NV ", &password);
    assert_eq!(ok.status, 303, "{}", ok.body);
    let cookie = ok.set_cookies.iter().find(|c| c.starts_with("giaoban_desk=")).unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/desk"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "Secure only behind TLS: {cookie}");
    let home = b.get("/desk");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Nguyễn Văn Muối"));
    assert!(home.body.contains("Ủy ban MTTQ Việt Nam tỉnh Đồng Nai"));
    let csp = &home.headers["content-security-policy"];
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(home.headers["cache-control"], "no-store");

    // Signing out needs the session's form token, and from the desk's own pages.
    let token = home.form_token().unwrap();
    assert_eq!(b.post("/desk/sign-out", &[("csrf", "ab")]).status, 403);
    let other_site = b.post_with("/desk/sign-out", &[("csrf", &token)], &[("Origin", "http://evil.example")]);
    assert_eq!(other_site.status, 403);
    assert_eq!(b.get("/desk").status, 200, "a refused sign-out leaves the session");
    let kept = b.cookies.clone();
    let out = b.post("/desk/sign-out", &[("csrf", &token)]);
    assert_eq!(out.location.as_deref(), Some("/desk/sign-in"));
    assert_eq!(b.get("/desk").location.as_deref(), Some("/desk/sign-in"));

    // The old cookie, kept by someone who copied it, opens nothing; its form is refused.
    let mut copy = Browser::new(&relay.url);
    copy.cookies = kept;
    assert_eq!(copy.get("/desk").location.as_deref(), Some("/desk/sign-in"));
    assert_eq!(copy.post("/desk/sign-out", &[("csrf", &token)]).location.as_deref(), Some("/desk/sign-in"));
}

#[test]
fn wrong_passwords_are_slowed_then_the_account_is_locked() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let (_, password) = relay.store.add_staff(relay.org.units[0].id, "van.thu", "Trần Thị Thu").unwrap();
    let mut b = Browser::new(&relay.url);
    let t0 = Instant::now();
    for i in 1..=4 {
        let a = b.sign_in("van.thu", "sai-mat-khau");
        assert_eq!(a.status, 401, "attempt {i}");
        assert!(a.body.contains("Tên đăng nhập hoặc mật khẩu không đúng."));
        // What was typed as the login stays; the password never comes back.
        assert!(a.body.contains("value=\"van.thu\""));
        assert!(!a.body.contains("sai-mat-khau"));
    }
    assert!(t0.elapsed() >= Duration::from_millis(500 + 1000 + 1500 + 2000), "wrong passwords are slowed");
    let locked = b.sign_in("van.thu", "sai-mat-khau");
    assert_eq!(locked.status, 429);
    assert!(locked.body.contains("tạm khóa"), "{}", locked.body);
    // Locked: even the right password does not open it.
    assert_eq!(b.sign_in("van.thu", &password).status, 429);
    // An unknown login gets the same words as a wrong password.
    let unknown = b.sign_in("khong.co", "x");
    assert_eq!(unknown.status, 401);
    assert!(unknown.body.contains("Tên đăng nhập hoặc mật khẩu không đúng."));

    // The operator resets it: the old password is gone, the new one works.
    let new_password = relay.store.reset_staff("van.thu").unwrap();
    assert_eq!(b.sign_in("van.thu", &password).status, 401);
    assert_eq!(b.sign_in("van.thu", &new_password).status, 303);

    // No password and no session token is in the relay's database in clear.
    let session = b.cookies["giaoban_desk"].clone();
    drop(relay);
    let mut db = Vec::new();
    for f in ["relay.sqlite", "relay.sqlite-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join("relay").join(f)) {
            db.extend(bytes);
        }
    }
    for secret in [&password, &new_password, &session] {
        assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} stored in clear");
    }
}

#[test]
fn sign_ins_from_one_address_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut b = Browser::new(&relay.url);
    // Unknown logins do not lock any account, but the address is held back after 20 tries.
    let mut statuses = Vec::new();
    for i in 0..21 {
        statuses.push(b.sign_in(&format!("doan.{i}"), "x").status);
    }
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    let held = b.sign_in("doan.21", "x");
    assert_eq!(held.status, 429);
    assert!(held.body.contains("quá nhiều lần đăng nhập"), "{}", held.body);
}

#[test]
fn a_device_token_does_not_open_the_desk_and_a_disabled_account_is_out_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let ward = relay.device(&dir.path().join("ward.sqlite"), 1, "ward");
    let (_, token) = ward.relay().unwrap().unwrap();
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let as_bearer = agent
        .get(&format!("{}/desk", relay.url))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(as_bearer.status().as_u16(), 303);
    let as_cookie = agent
        .get(&format!("{}/desk", relay.url))
        .header("Cookie", &format!("giaoban_desk={token}"))
        .call()
        .unwrap();
    assert_eq!(as_cookie.status().as_u16(), 303);

    // A session does not sync as a device.
    let (_, password) = relay.store.add_staff(relay.org.units[0].id, "muoi.nv", "Nguyễn Văn Muối").unwrap();
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in("muoi.nv", &password).status, 303);
    assert_eq!(b.get("/desk").status, 200);
    let session = b.cookies["giaoban_desk"].clone();
    let sync = agent
        .post(&format!("{}/v1/sync", relay.url))
        .header("Authorization", &format!("Bearer {session}"))
        .header("Cookie", &format!("giaoban_desk={session}"))
        .send(&b"GB"[..])
        .unwrap();
    assert_eq!(sync.status().as_u16(), 401);

    relay.store.disable_staff("muoi.nv").unwrap();
    assert_eq!(b.get("/desk").location.as_deref(), Some("/desk/sign-in"));
    let again = b.sign_in("muoi.nv", &password);
    assert_eq!(again.status, 403);
    assert!(again.body.contains("đã bị người quản trị khóa"));
}

#[test]
fn the_matrix_shows_where_each_ward_stands_and_changes_while_open() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let units = &relay.org.units;
    let mut province = relay.device(&dir.path().join("province.sqlite"), 0, "văn phòng");
    let mut wards: Vec<_> =
        (1..=3).map(|i| relay.device(&dir.path().join(format!("ward{i}.sqlite")), i, "phường")).collect();
    // The fourth ward has no device yet.
    let recipients: Vec<_> = (1..=4).map(|i| units[i].id).collect();
    // Task 3's report was due yesterday in Vietnam.
    let directive =
        province.issue_directive(dispatch_305(recipients, &local_date(-1), &local_date(2))).unwrap();
    province.sync_now().unwrap();
    for w in &mut wards {
        w.sync_now().unwrap();
    }
    wards[0].acknowledge_task(directive, 1).unwrap();
    wards[0].sync_now().unwrap();
    let report = wards[1].create_report(report_input(directive, "Đã rà soát 12 mô hình.")).unwrap();
    wards[1].submit_report(report).unwrap();
    wards[1].sync_now().unwrap();

    let (_, password) = relay.store.add_staff(units[0].id, "muoi.nv", "Nguyễn Văn Muối").unwrap();
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in("muoi.nv", &password).status, 303);
    let home = b.get("/desk");
    assert!(home.body.contains("305/MTTQ-BTT"), "{}", home.body);
    // Found without diacritics.
    assert!(b.get("/desk?q=thuc+hien+thong+bao").body.contains("305/MTTQ-BTT"));
    assert!(!b.get("/desk?q=khong+co+van+ban+nay").body.contains("305/MTTQ-BTT"));

    let path = format!("/desk/dispatch/{directive}");
    let page = b.get(&path);
    assert_eq!(page.status, 200);
    let body = &page.body;
    for name in [&units[1].name, &units[2].name, &units[3].name] {
        assert!(body.contains(name.as_str()), "{name} missing");
    }
    // Rows in Vietnamese order, as the collator puts the three names.
    let mut names = vec![units[1].name.clone(), units[2].name.clone(), units[3].name.clone()];
    giaoban_vietnamese_text::collator().sort_by_name(&mut names, |n| n);
    let at: Vec<usize> = names
        .iter()
        .map(|n| body.find(&format!(">{n}<span class=\"visually-hidden\">: diễn biến")).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "rows not in Vietnamese order");
    assert!(body.contains("Đã tiếp nhận"));
    assert!(body.contains("Đã báo cáo"));
    // The third ward's phone has the dispatch but nobody answered; the fourth has no phone.
    assert!(body.contains("Đã đến máy, chưa phản hồi"));
    assert!(body.contains("Chưa đến máy nào") && body.contains("chưa có thiết bị nào"));
    assert!(body.contains("đồng bộ lần cuối"));
    // Each unit's name leads to its steps; a unit the dispatch did not address has none.
    let steps = b.get(&format!("{path}/unit/{}", units[1].id));
    assert_eq!(steps.status, 200);
    assert!(steps.body.contains("diễn biến thực hiện") && steps.body.contains("Ban hành, giao nhiệm vụ"));
    assert_eq!(b.get(&format!("{path}/unit/{}", units[0].id)).status, 404);
    assert_eq!(b.get(&format!("{path}/unit/not-a-unit")).status, 404);
    let undelivered = b.get(&format!("{path}?show=not-delivered")).body;
    assert!(undelivered.contains(units[4].name.as_str()) && !undelivered.contains(units[3].name.as_str()));
    // The report came after its deadline; the third ward has not done it and it is past due.
    assert!(body.contains("Hoàn thành quá hạn"));
    assert!(body.contains("Chưa hoàn thành – quá hạn"));
    let overdue = b.get(&format!("{path}?show=overdue")).body;
    assert!(overdue.contains(units[3].name.as_str()) && !overdue.contains(&format!(">{}<", units[2].name)));

    // The open page listens; a ward that acknowledges wakes it, and the table it fetches shows
    // the change.
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let cookie = format!("giaoban_desk={}", b.cookies["giaoban_desk"]);
    let stream = agent.get(&format!("{}/desk/events", relay.url)).header("Cookie", &cookie).call().unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut stream = stream;
        let reader = std::io::BufReader::new(stream.body_mut().as_reader());
        for line in reader.lines() {
            let Ok(line) = line else { return };
            // A browser dispatches an event only if it carries data.
            if line.starts_with("data: ") && line.len() > "data: ".len() && tx.send(()).is_err() {
                return;
            }
        }
    });
    // The stream's first value may be an immediate "changed".
    std::thread::sleep(Duration::from_millis(300));
    while rx.try_recv().is_ok() {}
    wards[2].acknowledge_task(directive, 3).unwrap();
    wards[2].sync_now().unwrap();
    rx.recv_timeout(Duration::from_secs(10)).expect("the open page was not told");
    let table = b.get(&format!("{path}/table"));
    assert_eq!(table.status, 200);
    assert!(!table.body.contains("<html"), "the table alone");
    assert!(!table.body.contains("Đã đến máy, chưa phản hồi"), "every ward with a phone has answered now");
    // Signed out, the table is not given.
    let mut stranger = Browser::new(&relay.url);
    assert_eq!(stranger.get(&format!("{path}/table")).status, 401);
    assert_eq!(stranger.get("/desk/events").status, 401);
}

#[test]
fn hostile_words_are_shown_as_words_and_a_ward_sees_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let units = &relay.org.units;
    let mut province = relay.device(&dir.path().join("province.sqlite"), 0, "văn phòng");
    let mut d = dispatch_305(vec![units[1].id, units[2].id], &local_date(5), &local_date(8));
    d.subject = "V/v <script>alert('x')</script> & \"trích dẫn\"".into();
    d.tasks[0].text = "<img src=x onerror=alert(1)>".into();
    let directive = province.issue_directive(d).unwrap();
    province.sync_now().unwrap();

    let (_, password) = relay.store.add_staff(units[0].id, "muoi.nv", "Nguyễn Văn Muối").unwrap();
    let mut b = Browser::new(&relay.url);
    b.sign_in("muoi.nv", &password);
    for path in ["/desk".to_string(), format!("/desk/dispatch/{directive}")] {
        let page = b.get(&path).body;
        assert!(!page.contains("<script>alert"), "{path}");
        assert!(!page.contains("<img src=x"), "{path}");
        assert!(page.contains("&#60;script&#62;"), "{path}: {page}");
    }

    // A ward's staff: the dispatch reached the ward, but it is not the ward's to track.
    let (_, ward_password) = relay.store.add_staff(units[1].id, "phuong.1", "Lê Văn Một").unwrap();
    let mut w = Browser::new(&relay.url);
    assert_eq!(w.sign_in("phuong.1", &ward_password).status, 303);
    let ward_home = w.get("/desk");
    assert!(!ward_home.body.contains("305/MTTQ-BTT"));
    assert!(!ward_home.body.contains("Ban hành văn bản mới"), "a ward has no unit below it to address");
    // A draft link cut short is not found, not a blank form.
    assert_eq!(w.get("/desk/dispatch/new?draft=0a1b2c").status, 404);
    let other = w.get(&format!("/desk/dispatch/{directive}"));
    assert_eq!(other.status, 404);
    // A made-up id and a malformed one get the same answer.
    assert_eq!(w.get("/desk/dispatch/0190a0b4-0000-7000-8000-000000000000").status, 404);
    assert_eq!(w.get("/desk/dispatch/..%2F..%2Fetc%2Fpasswd").status, 404);
}

/// The fields of a good dispatch to the first two wards, as the form sends them.
fn dispatch_fields(csrf: &str, draft: &str, w1: &str, w2: &str, due: &str) -> Vec<(String, String)> {
    [
        ("csrf", csrf),
        ("draft", draft),
        ("issuer", "Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh Đồng Nai"),
        ("number", "12/MTTQ-BTT"),
        ("place", "Biên Hòa"),
        ("issued_on", "02/12/2026"),
        ("subject", "V/v rà soát hộ nghèo cuối năm"),
        ("recipients_label", "Kính gửi: Ban Thường trực Ủy ban MTTQ Việt Nam các xã, phường."),
        ("recipient", w1),
        ("recipient", w2),
        ("body", "Đề nghị các xã, phường thực hiện các nội dung sau:"),
        ("tasks", "2"),
        ("task1_text", "Rà soát danh sách hộ nghèo, hộ cận nghèo trên địa bàn."),
        ("task1_report", "on"),
        ("task1_deadline", due),
        ("task1_contact", "đ/c Muối-CV"),
        ("task1_contactname", "Nguyễn Văn Muối"),
        ("task1_contacttitle", "Chuyên viên"),
        ("task1_contactphone", "0251 3877 123"),
        ("task1_coordinate", "Hội Cựu chiến binh\nĐoàn Thanh niên; Công an phường"),
        ("kind", "ke-hoach"),
        ("copies", "Như trên;\nBan Dân vận Tỉnh ủy (b/c);\nLưu: VT."),
        ("task2_text", "Tuyên truyền Tháng cao điểm “Vì người nghèo”."),
        ("signer_title", "TM. BAN THƯỜNG TRỰC"),
        ("signer_name", "Nguyễn Văn Bốn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn post_pairs(
    b: &mut Browser,
    path: &str,
    pairs: &[(String, String)],
    action: &str,
) -> giaoban_e2e::desk::Answer {
    let mut fields: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    fields.push(("action", action));
    b.post(path, &fields)
}

#[test]
fn the_office_issues_a_dispatch_from_the_desk_and_wards_receive_it() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let units = &relay.org.units;
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1, "phường");
    let (_, password) = relay.store.add_staff(units[0].id, "muoi.nv", "Nguyễn Văn Muối").unwrap();
    let mut b = Browser::new(&relay.url);
    b.sign_in("muoi.nv", &password);

    // The office's people, kept by the operator, are offered as contacts.
    let muoi = giaoban_protocol::schema::Person {
        name: "Nguyễn Văn Muối".into(),
        title: "Chuyên viên".into(),
        phone: "0251 3877 123".into(),
    };
    relay.store.add_person(units[0].id, muoi).unwrap();
    let form = b.get("/desk/dispatch/new");
    assert_eq!(form.status, 200);
    assert!(
        form.body.contains(
            r#"<option value="Nguyễn Văn Muối" data-title="Chuyên viên" data-phone="0251 3877 123">"#
        ),
        "{}",
        form.body
    );
    assert!(form.body.contains(r#"list="people""#));
    // Every ward and commune of the province is offered, with a key to filter without diacritics.
    assert_eq!(form.body.matches("name=\"recipient\"").count(), units.len() - 1);
    assert!(form.body.contains("data-key=\"uy ban mttq viet nam phuong"), "search keys");
    let hidden = form.hidden_fields();
    let csrf = hidden.iter().find(|(k, _)| k == "csrf").unwrap().1.clone();
    let draft = hidden.iter().find(|(k, _)| k == "draft").unwrap().1.clone();
    let (w1, w2) = (units[1].id.to_string(), units[2].id.to_string());

    // Wrong fields: each named beside itself, in Vietnamese; nothing issued, what was typed kept.
    let mut bad = dispatch_fields(&csrf, &draft, &w1, &w2, "sớm nhất có thể");
    bad.retain(|(k, _)| k != "number");
    bad.push(("issued_on".into(), "31/02/2026".into()));
    let refused = post_pairs(&mut b, "/desk/dispatch/new", &bad, "issue");
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.text_of_id("number-error").unwrap().contains("số và ký hiệu"));
    assert!(refused.text_of_id("issued_on-error").unwrap().contains("31/02/2026"));
    assert!(refused.text_of_id("task1_deadline-error").unwrap().contains("sớm nhất có thể"));
    // A phone written as words, and a contact's title without a name, are said beside them.
    let mut odd = dispatch_fields(&csrf, &draft, &w1, &w2, "trước ngày 08/02/2030");
    for (k, v) in odd.iter_mut() {
        match k.as_str() {
            "task1_contactphone" => *v = "gọi anh Lực".into(),
            "task1_contactname" => v.clear(),
            "kind" => *v = "thư tay".into(),
            _ => {}
        }
    }
    let refused_contact = post_pairs(&mut b, "/desk/dispatch/new", &odd, "issue");
    assert_eq!(refused_contact.status, 422);
    assert!(refused_contact.text_of_id("task1_contactphone-error").unwrap().contains("gọi anh Lực"));
    assert!(refused_contact.text_of_id("task1_contactname-error").unwrap().contains("họ tên"));
    assert!(refused_contact.text_of_id("kind-error").is_some());
    assert!(refused.body.contains("Rà soát danh sách hộ nghèo"), "typed words kept");
    assert!(refused.body.contains("aria-invalid=\"true\""));
    // A recipient that is not below the office (another province's unit id) is refused too.
    let stranger =
        dispatch_fields(&csrf, &draft, &w1, "01900000-0000-7000-8000-000000000000", "trước ngày 08/02/2030");
    let refused = post_pairs(&mut b, "/desk/dispatch/new", &stranger, "issue");
    assert_eq!(refused.status, 422);
    assert!(refused.text_of_id("recipients-error").is_some());
    assert!(!b.get("/desk").body.contains("<table class=\"issued\">"), "nothing issued");

    // Kept as a draft, listed on the first page and opened again as it was.
    let good = dispatch_fields(&csrf, &draft, &w1, &w2, "trước ngày 08/02/2030");
    let saved = post_pairs(&mut b, "/desk/dispatch/new", &good, "save");
    assert_eq!(saved.status, 200);
    assert!(saved.body.contains("Đã lưu nháp"));
    let home = b.get("/desk");
    assert!(
        home.body.contains("Bản nháp chưa ban hành")
            && home.body.contains("12/MTTQ-BTT V/v rà soát hộ nghèo cuối năm")
    );
    let reopened = b.get(&format!("/desk/dispatch/new?draft={draft}"));
    assert!(reopened.body.contains("value=\"trước ngày 08/02/2030\""));

    // The preview reads the deadline back: "trước ngày 08/02" means the 7th is the last day.
    let preview = post_pairs(&mut b, "/desk/dispatch/new", &good, "preview");
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview.body.contains("hạn cuối là ngày <strong>07/02/2030</strong>"), "{}", preview.body);
    assert!(preview.body.contains("nhận vào ngày 08/02/2030 là quá hạn"));
    assert!(preview.body.contains("Kế hoạch – Ban Thường trực"), "the kind is shown back");
    assert!(preview.body.contains("Ban Dân vận Tỉnh ủy (b/c);"));
    assert!(preview.body.contains("đ/c Muối-CV – Nguyễn Văn Muối (Chuyên viên), ĐT 0251 3877 123"));
    assert!(preview.body.contains("Hội Cựu chiến binh; Đoàn Thanh niên; Công an phường"));
    let carried = preview.hidden_fields();
    let issued = post_pairs(&mut b, "/desk/dispatch/new", &carried, "issue");
    assert_eq!(issued.status, 303, "{}", issued.body);
    let matrix_path = issued.location.clone().unwrap();
    assert!(matrix_path.starts_with("/desk/dispatch/"));
    // The same form sent again (a double click, a replay) issues nothing more.
    let again = post_pairs(&mut b, "/desk/dispatch/new", &carried, "issue");
    assert_eq!(again.location.as_deref(), Some(matrix_path.as_str()));
    let home = b.get("/desk");
    assert_eq!(
        home.body.matches("12/MTTQ-BTT").count(),
        1,
        "one dispatch, and the draft is gone: {}",
        home.body
    );

    // The ward's device receives it as any dispatch, with the deadline as read.
    ward.sync_now().unwrap();
    let tasks = ward.list_tasks(&giaoban_client_core::TaskFilter::default()).unwrap();
    assert_eq!(tasks.len(), 2);
    let t1 = tasks.iter().find(|t| t.ordinal == 1).unwrap();
    assert_eq!(t1.deadline.as_ref().unwrap().original_text, "trước ngày 08/02/2030");
    assert!(t1.deadline.as_ref().unwrap().exclusive);
    assert!(t1.report_required);
    let directive = ward.directive(t1.source).unwrap();
    assert_eq!(directive.number.raw, "12/MTTQ-BTT");
    assert_eq!(directive.signer.as_ref().unwrap().name, "Nguyễn Văn Bốn");
    assert_eq!(directive.document_kind, giaoban_protocol::schema::DocumentKind::Plan);
    assert_eq!(directive.copies_to, ["Như trên;", "Ban Dân vận Tỉnh ủy (b/c);", "Lưu: VT."]);
    let task1 = directive.task(1).unwrap();
    let person = task1.contact_person.clone().unwrap();
    assert_eq!((person.name.as_str(), person.phone.as_str()), ("Nguyễn Văn Muối", "0251 3877 123"));
    assert_eq!(task1.coordinate_with, ["Hội Cựu chiến binh", "Đoàn Thanh niên", "Công an phường"]);
    assert!(directive.task(2).unwrap().contact_person.is_none());
    // The ward's phone has the office's people with the unit list, offline.
    let dir = ward.unit_directory().unwrap();
    let office = dir.unit(units[0].id).unwrap();
    assert_eq!(office.people.iter().map(|p| p.phone.as_str()).collect::<Vec<_>>(), ["0251 3877 123"]);

    // The history names the staff member: the change was written by the desk's store of
    // Nguyễn Văn Muối, a device of the province's unit.
    let devices = relay.store.devices().unwrap();
    let desk = devices.iter().find(|(_, _, label, _)| label == "Bàn làm việc: Nguyễn Văn Muối").unwrap();
    assert_eq!(desk.1, units[0].id);
    let doc = ward.save_document(t1.source).unwrap();
    let am = automerge::AutoCommit::load(&doc).unwrap();
    let authors: std::collections::BTreeSet<_> =
        am.clone().get_changes(&[]).iter().map(|c| c.actor_id().to_bytes()[..16].to_vec()).collect();
    assert_eq!(authors.into_iter().collect::<Vec<_>>(), vec![desk.0.to_bytes().to_vec()]);

    // The matrix shows the two wards.
    let m = b.get(&matrix_path);
    assert!(m.body.contains(units[1].name.as_str()) && m.body.contains(units[2].name.as_str()));
    assert!(m.body.contains("Kế hoạch số 12/MTTQ-BTT"), "{}", m.body);
    assert!(m.body.contains("Phối hợp với: Hội Cựu chiến binh; Đoàn Thanh niên; Công an phường"));
}

#[test]
fn the_office_accepts_one_report_and_returns_another_and_the_wards_see_it() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let units = &relay.org.units;
    let mut province = relay.device(&dir.path().join("province.sqlite"), 0, "văn phòng");
    let mut w1 = relay.device(&dir.path().join("w1.sqlite"), 1, "Điện thoại chị Lan");
    let mut w2 = relay.device(&dir.path().join("w2.sqlite"), 2, "Điện thoại anh Hùng");
    let directive = province
        .issue_directive(dispatch_305(vec![units[1].id, units[2].id], &local_date(10), &local_date(13)))
        .unwrap();
    province.sync_now().unwrap();
    let mut reports = Vec::new();
    for (w, words) in
        [(&mut w1, "Đã rà soát 12 mô hình, nhân rộng 3."), (&mut w2, "Chưa có số liệu <b>đầy đủ</b>.")]
    {
        w.sync_now().unwrap();
        let r = w.create_report(report_input(directive, words)).unwrap();
        w.set_report_figure(
            r,
            giaoban_client_core::FigureInput {
                indicator: "quy_vnn_tiep_nhan_vnd".into(),
                amount: "gần 850 triệu".into(),
                unit: giaoban_client_core::protocol::schema::MeasureUnit::Vnd,
                scope: giaoban_client_core::protocol::schema::FigureScope::Period,
                note: String::new(),
                since: String::new(),
            },
        )
        .unwrap();
        w.submit_report(r).unwrap();
        w.sync_now().unwrap();
        reports.push(r);
    }

    let (_, password) = relay.store.add_staff(units[0].id, "muoi.nv", "Nguyễn Văn Muối").unwrap();
    let mut b = Browser::new(&relay.url);
    b.sign_in("muoi.nv", &password);
    let matrix = b.get(&format!("/desk/dispatch/{directive}")).body;
    assert!(matrix.contains(&format!("/desk/report/{}", reports[0])), "cells link to reports");

    let page = b.get(&format!("/desk/report/{}", reports[0]));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Đã rà soát 12 mô hình, nhân rộng 3."));
    assert!(page.body.contains("gần 850.000.000 đ"), "the figure: {}", page.body);
    // Who changed it and when: the ward's phone by its label.
    assert!(page.body.contains("Điện thoại chị Lan"));
    assert!(page.body.contains("Tạo báo cáo"));
    let csrf = page.form_token().unwrap();

    let path0 = format!("/desk/report/{}/review", reports[0]);
    let path1 = format!("/desk/report/{}/review", reports[1]);
    // Returning without a note is refused beside the note; nothing written.
    let refused = b.post(&path1, &[("csrf", &csrf), ("verdict", "return"), ("note", "  ")]);
    assert_eq!(refused.status, 422);
    assert!(refused.text_of_id("note-error").unwrap().contains("ghi rõ"));
    // A form without the session's token writes nothing either.
    assert_eq!(b.post(&path0, &[("csrf", "x"), ("verdict", "accept")]).status, 403);

    // The task's figures summed: nothing accepted yet; all submitted adds both "gần".
    let figures = format!("/desk/dispatch/{directive}/task/3/figures");
    assert!(matrix.contains(&figures), "the matrix links to the consolidation");
    let none = b.get(&figures);
    assert_eq!(none.status, 200, "{}", none.body);
    assert!(none.body.contains("Chưa có báo cáo nào được duyệt"), "{}", none.body);
    assert!(none.body.contains("đã báo cáo, chờ duyệt"));
    let both = b.get(&format!("{figures}?counting=all")).body;
    assert!(both.contains("gần 1.700.000.000 đ"), "{both}");
    assert!(both.contains("Số gần đúng: cộng 2 số liệu “gần”"), "{both}");
    assert!(both.contains("ghi: “gần 850 triệu”"), "the words as written: {both}");

    let ok = b.post(&path0, &[("csrf", &csrf), ("verdict", "accept"), ("note", "")]);
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert!(b.get(ok.location.as_deref().unwrap()).body.contains("Đã duyệt báo cáo"));
    let back = b.post(
        &path1,
        &[("csrf", &csrf), ("verdict", "return"), ("note", "Đề nghị bổ sung ảnh nhà Đại đoàn kết bàn giao.")],
    );
    assert_eq!(back.status, 303);
    let shown = b.get(&format!("/desk/report/{}", reports[1])).body;
    assert!(shown.contains("Trả lại") && shown.contains("Đề nghị bổ sung ảnh nhà Đại đoàn kết bàn giao."));
    assert!(shown.contains("Chưa có số liệu &#60;b&#62;đầy đủ&#60;/b&#62;."), "the ward's words are words");

    // Accepted only: the first ward; the returned one is named, in both countings.
    for path in [figures.clone(), format!("{figures}?counting=all")] {
        let page = b.get(&path).body;
        assert!(page.contains("gần 850.000.000 đ") && !page.contains("1.700.000.000"), "{page}");
        assert!(page.contains("bị trả lại, chờ báo cáo lại"), "{page}");
    }
    crate::desk_downloads::check_downloads(&mut b, directive, reports[0], &units[1].name);
    // The office's own report drafted from the table, then its page.
    let draft_path = format!("/desk/dispatch/{directive}/task/3/draft-report");
    assert_eq!(b.post(&draft_path, &[("csrf", "khong-dung"), ("counting", "accepted")]).status, 403);
    let drafted = b.post(&draft_path, &[("csrf", &csrf), ("counting", "accepted")]);
    assert_eq!(drafted.status, 303, "{}", drafted.body);
    let draft_page = b.get(drafted.location.as_deref().unwrap()).body;
    assert!(draft_page.contains("Báo cáo tổng hợp kết quả thực hiện nhiệm vụ 3"), "{draft_page}");
    assert!(draft_page.contains("bản nháp") && draft_page.contains("gần 850.000.000 đ"), "{draft_page}");
    // The office edits its draft on the desk: each section's words saved; a section changed
    // elsewhere since the page was made is not overwritten, the words typed are kept beside
    // what it now reads; then it is submitted in the staff member's name.
    let report_path = drafted.location.clone().unwrap();
    let report_id: giaoban_client_core::protocol::DocId =
        report_path.trim_start_matches("/desk/report/").parse().unwrap();
    let editor = b.get(&report_path);
    let fields = editor.hidden_fields();
    let keys: Vec<String> = fields.iter().filter(|(k, _)| k == "section").map(|(_, v)| v.clone()).collect();
    assert!(keys.len() >= 2, "{}", editor.body);
    let mark = |key: &str| fields.iter().find(|(k, _)| *k == format!("mark_{key}")).unwrap().1.clone();
    let summary = "Ban Thường trực đã tổng hợp kết quả rà soát các mô hình của hai phường.";
    let form = |text: &str, mark: &str, action: &str| -> Vec<(String, String)> {
        vec![
            ("csrf".into(), csrf.clone()),
            ("section".into(), keys[0].clone()),
            (format!("mark_{}", keys[0]), mark.to_string()),
            (format!("text_{}", keys[0]), text.to_string()),
            ("action".into(), action.to_string()),
        ]
    };
    let send = |b: &mut Browser, pairs: &[(String, String)]| {
        let f: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        b.post(&format!("{report_path}/edit"), &f)
    };
    let stale = mark(&keys[0]);
    let saved = send(&mut b, &form(summary, &stale, "save"));
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = b.get(saved.location.as_deref().unwrap()).body;
    assert!(page.contains("Đã lưu báo cáo") && page.contains(summary), "{page}");
    let conflict = send(&mut b, &form("Lời gõ trên trang cũ.", &stale, "submit"));
    assert_eq!(conflict.status, 409, "{}", conflict.body);
    assert!(conflict.body.contains("Lời gõ trên trang cũ.") && conflict.body.contains(summary));
    assert!(conflict.body.contains("Chưa nộp"));
    assert!(province.sync_now().is_ok());
    assert!(province.report(report_id).unwrap().submitted_at_device.is_none(), "not submitted");
    let fresh = b.get(&report_path).hidden_fields();
    let now = fresh.iter().find(|(k, _)| *k == format!("mark_{}", keys[0])).unwrap().1.clone();
    let submitted = send(&mut b, &form(summary, &now, "submit"));
    assert_eq!(submitted.status, 303, "{}", submitted.body);
    let page = b.get(submitted.location.as_deref().unwrap()).body;
    assert!(page.contains("Đã nộp báo cáo") && !page.contains("/edit\""), "no editor once submitted");
    province.sync_now().unwrap();
    let r = province.report(report_id).unwrap();
    assert_eq!(r.submitted_by, "Nguyễn Văn Muối");
    assert_eq!(r.sections.iter().find(|x| x.key == keys[0]).unwrap().body.as_str(), summary);
    // Another unit's report has no editor, and its edit is "not found".
    assert!(!b.get(&format!("/desk/report/{}", reports[0])).body.contains("/edit\""));
    let mut other = form("Sửa báo cáo của phường.", "0", "save");
    other[1].1 = "ket_qua".into();
    let tried = b.post(
        &format!("/desk/report/{}/edit", reports[0]),
        &other.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>(),
    );
    assert_eq!(tried.status, 404, "{}", tried.body);
    assert_eq!(b.get(&format!("/desk/dispatch/{directive}/task/99/figures")).status, 404);
    assert_eq!(b.get("/desk/dispatch/khong-phai-ma/task/3/figures").status, 404);

    // The matrix says so, and so do the wards' devices.
    let matrix = b.get(&format!("/desk/dispatch/{directive}")).body;
    assert!(matrix.contains("Đã duyệt") && matrix.contains("Trả lại"));
    w1.sync_now().unwrap();
    w2.sync_now().unwrap();
    let verdict = |w: &giaoban_client_core::Store| {
        w.list_tasks(&giaoban_client_core::TaskFilter::default())
            .unwrap()
            .into_iter()
            .find(|t| t.ordinal == 3)
            .unwrap()
            .review
    };
    assert_eq!(verdict(&w1).map(|(v, _)| v), Some(giaoban_client_core::protocol::schema::Verdict::Accepted));
    let (v, note) = verdict(&w2).unwrap();
    assert_eq!(v, giaoban_client_core::protocol::schema::Verdict::Returned);
    assert_eq!(note, "Đề nghị bổ sung ảnh nhà Đại đoàn kết bàn giao.");
    // The history says the ward submitted it.
    let page = b.get(&format!("/desk/report/{}", reports[1])).body;
    assert!(page.contains("Tạo báo cáo, nộp báo cáo"), "{page}");

    // A ward's staff may read its own report but not review it, nor the other ward's.
    let (_, ward_password) = relay.store.add_staff(units[1].id, "phuong.1", "Lê Thị Lan").unwrap();
    let mut w = Browser::new(&relay.url);
    w.sign_in("phuong.1", &ward_password);
    let own = w.get(&format!("/desk/report/{}", reports[0]));
    assert_eq!(own.status, 200);
    assert!(!own.body.contains("Duyệt báo cáo</button>"));
    assert_eq!(w.get(&format!("/desk/report/{}", reports[1])).status, 404);
    let token = own.form_token().unwrap();
    let tried = w.post(&path1, &[("csrf", &token), ("verdict", "accept")]);
    assert_eq!(tried.status, 404, "{}", tried.body);
    assert_eq!(w.get(&figures).status, 404, "a ward does not consolidate what it did not issue");
    let tried = w.post(&draft_path, &[("csrf", &token), ("counting", "all")]);
    assert_eq!(tried.status, 404, "nor draft the office's report: {}", tried.body);
}

#[test]
fn devices_are_revoked_and_enrolled_from_the_desk_within_reach_only() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let units = &relay.org.units;
    let mut phone =
        relay.device(&dir.path().join("phone.sqlite"), 1, "<script>alert('máy')</script> chị Lan");
    phone.sync_now().unwrap();
    let mut other = relay.device(&dir.path().join("other.sqlite"), 2, "Máy anh Hùng");
    other.sync_now().unwrap();
    let (_, password) = relay.store.add_staff(units[0].id, "muoi.nv", "Nguyễn Văn Muối").unwrap();
    let mut b = Browser::new(&relay.url);
    b.sign_in("muoi.nv", &password);

    let page = b.get("/desk/devices");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("&#60;script&#62;alert(&#39;máy&#39;)&#60;/script&#62; chị Lan"),
        "labels are words"
    );
    assert!(!page.body.contains("<script>alert"));
    // Searchable without diacritics.
    let found = b.get("/desk/devices?q=an+loc").body;
    assert!(found.contains(units[1].name.as_str()) || !units[1].name.contains("An Lộc"));
    let csrf = page.form_token().unwrap();

    // A ward's staff cannot revoke a device of another ward: the same answer as no device.
    let (_, ward_password) = relay.store.add_staff(units[2].id, "phuong.2", "Lê Văn Hai").unwrap();
    let mut w = Browser::new(&relay.url);
    w.sign_in("phuong.2", &ward_password);
    let wcsrf = w.get("/desk/devices").form_token().unwrap();
    let (device, _) = phone.relay().unwrap().map(|_| (phone.device_id(), ())).unwrap();
    let refused = w.post("/desk/devices/revoke", &[("csrf", &wcsrf), ("device", &device.to_string())]);
    assert_eq!(refused.status, 404);
    phone.sync_now().expect("still enrolled");
    // Nor make a code for a unit outside its reach.
    assert_eq!(
        w.post("/desk/devices/enroll", &[("csrf", &wcsrf), ("unit", &units[1].id.to_string())]).status,
        404
    );

    // The office revokes it: its next sync is refused.
    let done = b.post("/desk/devices/revoke", &[("csrf", &csrf), ("device", &device.to_string())]);
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(b.get(done.location.as_deref().unwrap()).body.contains("Đã thu hồi"));
    let err = phone.sync_now().unwrap_err();
    assert!(matches!(err, giaoban_client_core::CoreError::Unauthorized(_)), "{err}");
    other.sync_now().expect("the other ward's phone carries on");

    // A code made on the desk, shown with its QR, enrolls a new phone once.
    let code_page = b.post("/desk/devices/enroll", &[("csrf", &csrf), ("unit", &units[1].id.to_string())]);
    assert_eq!(code_page.status, 200, "{}", code_page.body);
    assert_eq!(code_page.headers["cache-control"], "no-store");
    assert!(code_page.body.contains("<svg role=\"img\""), "a QR code");
    let code = code_page.text_of_id("code").or_else(|| {
        let at = code_page.body.find("<p class=\"code\">")? + "<p class=\"code\">".len();
        Some(code_page.body[at..].split('<').next()?.to_string())
    });
    let code = code.unwrap();
    assert!(code_page.body.contains(&format!("code={code}")), "the QR's link holds the code");
    let mut new_phone = giaoban_client_core::Store::open(dir.path().join("new.sqlite")).unwrap();
    new_phone.enroll(&relay.url, &code, "Máy mới chị Lan").unwrap();
    new_phone.sync_now().unwrap();
    let mut third = giaoban_client_core::Store::open(dir.path().join("third.sqlite")).unwrap();
    assert!(third.enroll(&relay.url, &code, "máy thứ ba").is_err(), "a code enrolls one device");
}

#[test]
fn a_reminder_reaches_the_late_wards_phones_and_the_desk_says_when() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let units = &relay.org.units;
    let mut province = relay.device(&dir.path().join("province.sqlite"), 0, "văn phòng");
    let mut late = relay.device(&dir.path().join("late.sqlite"), 1, "Máy phường chậm");
    let mut done = relay.device(&dir.path().join("done.sqlite"), 2, "Máy phường xong");
    let directive = province
        .issue_directive(dispatch_305(vec![units[1].id, units[2].id], &local_date(-2), &local_date(1)))
        .unwrap();
    province.sync_now().unwrap();
    late.sync_now().unwrap();
    done.sync_now().unwrap();
    for n in 1..=4 {
        done.acknowledge_task(directive, n).unwrap();
    }
    done.sync_now().unwrap();

    let (_, password) = relay.store.add_staff(units[0].id, "muoi.nv", "Nguyễn Văn Muối").unwrap();
    let mut b = Browser::new(&relay.url);
    b.sign_in("muoi.nv", &password);
    let path = format!("/desk/dispatch/{directive}");
    let page = b.get(&path);
    // The late ward is ticked already; the one that took everything on is not (its report is
    // overdue, so it is ticked too only if a task is past due and not done).
    assert!(
        page.body.contains(&format!(
            "id=\"remind-{}\" name=\"unit\" value=\"{}\" checked",
            units[1].id, units[1].id
        ))
    );
    let csrf = page.form_token().unwrap();

    let none = b.post(&format!("{path}/remind"), &[("csrf", &csrf), ("note", "Nhắc")]);
    assert_eq!(none.status, 422);
    assert!(none.text_of_id("remind-error").unwrap().contains("Chọn ít nhất một đơn vị"));
    let note = "Đề nghị phường khẩn trương báo cáo kết quả rà soát.";
    let sent = b.post(
        &format!("{path}/remind"),
        &[("csrf", &csrf), ("unit", &units[1].id.to_string()), ("note", note)],
    );
    assert_eq!(sent.status, 303, "{}", sent.body);
    let shown = b.get(sent.location.as_deref().unwrap()).body;
    assert!(shown.contains("Đã gửi nhắc nhở"));
    assert!(shown.contains("đã đôn đốc lúc") && shown.contains("chưa đến máy"), "{shown}");

    late.sync_now().unwrap();
    let tasks = late.list_tasks(&giaoban_client_core::TaskFilter::default()).unwrap();
    assert!(tasks.iter().all(|t| t.reminded.as_ref().map(|(_, n)| n.as_str()) == Some(note)), "{tasks:?}");
    done.sync_now().unwrap();
    let others = done.list_tasks(&giaoban_client_core::TaskFilter::default()).unwrap();
    assert!(others.iter().all(|t| t.reminded.is_none()), "only the ward reminded sees it on its tasks");
    let shown = b.get(&path).body;
    assert!(shown.contains("đã đôn đốc lúc") && shown.contains("đã đến máy"), "{shown}");

    // A ward's staff cannot remind for a dispatch it did not issue.
    let (_, ward_password) = relay.store.add_staff(units[1].id, "phuong.1", "Lê Văn Một").unwrap();
    let mut w = Browser::new(&relay.url);
    w.sign_in("phuong.1", &ward_password);
    let wcsrf = w.get("/desk").form_token().unwrap();
    let refused = w.post(
        &format!("{path}/remind"),
        &[("csrf", &wcsrf), ("unit", &units[2].id.to_string()), ("note", "x")],
    );
    assert_eq!(refused.status, 404, "{}", refused.body);
}
