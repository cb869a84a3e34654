//! The desk as someone who had not read its tests broke it: many pages at once, stores the
//! operator revoked, a form issued twice or after a crash, guessed logins, a session that
//! ended while its live stream was open, deadlines read two ways, drafts too long to keep, a
//! damaged store file. Each case is what they did; each must now hold.

use std::io::BufRead;
use std::time::{Duration, Instant};

use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::{TaskFilter, TaskScope};
use giaoban_e2e::Relay;
use giaoban_e2e::desk::Browser;

fn local_date(days_from_today: i64) -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    (today + chrono::Duration::days(days_from_today)).format("%d/%m/%Y").to_string()
}

fn signed_in(relay: &Relay, unit: usize, login: &str) -> Browser {
    let (_, password) = relay.store.add_staff(relay.org.units[unit].id, login, "Nguyễn Văn Muối").unwrap();
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in(login, &password).status, 303);
    b
}

/// A good dispatch form to the first two wards, with `draft` as its draft id.
fn form(relay: &Relay, csrf: &str, draft: &str, action: &str) -> Vec<(String, String)> {
    let u = &relay.org.units;
    let due = format!("trước ngày {}", local_date(7));
    [
        ("csrf", csrf),
        ("draft", draft),
        ("issuer", "Ban Thường trực"),
        ("number", "91/MTTQ-BTT"),
        ("place", "Biên Hòa"),
        ("issued_on", &local_date(0)),
        ("subject", "V/v rà soát"),
        ("recipient", &u[1].id.to_string()),
        ("recipient", &u[2].id.to_string()),
        ("tasks", "1"),
        ("task1_text", "Rà soát danh sách hộ nghèo."),
        ("task1_report", "on"),
        ("task1_deadline", &due),
        ("action", action),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn post(b: &mut Browser, path: &str, fields: &[(String, String)]) -> giaoban_e2e::desk::Answer {
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    b.post(path, &f)
}

fn issued_count(relay: &Relay, dir: &std::path::Path, name: &str) -> usize {
    let mut ward = relay.device(&dir.join(name), 1, "phường");
    ward.sync_now().unwrap();
    let tasks = ward.list_tasks(&TaskFilter { scope: TaskScope::Mine, ..Default::default() }).unwrap();
    let mut sources: Vec<_> = tasks.iter().map(|t| t.source).collect();
    sources.sort();
    sources.dedup();
    sources.len()
}

#[test]
fn many_pages_at_once_for_one_member_do_not_starve_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let b = signed_in(&relay, 0, "muoi.nv");
    let cookie = format!("giaoban_desk={}", b.cookies["giaoban_desk"]);
    let url = relay.url.clone();
    let started = Instant::now();
    let pages: Vec<_> = (0..40)
        .map(|_| {
            let (cookie, url) = (cookie.clone(), url.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(50)))
                    .build()
                    .into();
                agent
                    .get(&format!("{url}/desk"))
                    .header("Cookie", &cookie)
                    .call()
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    let statuses: Vec<_> = pages.into_iter().map(|p| p.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| matches!(s, Ok(200))), "{statuses:?}");
    assert!(started.elapsed() < Duration::from_secs(45));
    // And devices are still served.
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1, "phường");
    ward.sync_now().unwrap();
}

#[test]
fn a_desk_store_the_operator_revoked_is_replaced_and_nothing_is_issued_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut b = signed_in(&relay, 0, "vp2");
    let page = b.get("/desk/dispatch/new");
    let csrf = page.form_token().unwrap();
    // The operator revokes the member's desk store, as `admin revoke` would.
    let desk = relay.store.devices().unwrap().into_iter().find(|d| d.2.starts_with("Bàn làm việc")).unwrap();
    relay.store.revoke_device(desk.0).unwrap();
    let issued = post(&mut b, "/desk/dispatch/new", &form(&relay, &csrf, &"ab".repeat(16), "issue"));
    assert_eq!(issued.status, 303, "{}", issued.body);
    assert_eq!(issued_count(&relay, dir.path(), "w1.sqlite"), 1, "the dispatch reached the relay");
    let retired = std::fs::read_dir(dir.path().join("relay/desk"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".retired-"))
        .count();
    assert!(retired >= 1, "the revoked store was moved aside");

    // Disabled, then reset, while its store is open: the same.
    relay.store.disable_staff("vp2").unwrap();
    let password = relay.store.reset_staff("vp2").unwrap();
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in("vp2", &password).status, 303);
    let csrf = b.get("/desk").form_token().unwrap();
    let mut second = form(&relay, &csrf, &"cd".repeat(16), "issue");
    second.iter_mut().find(|(k, _)| k == "number").unwrap().1 = "92/MTTQ-BTT".into();
    assert_eq!(post(&mut b, "/desk/dispatch/new", &second).status, 303);
    assert_eq!(issued_count(&relay, dir.path(), "w2.sqlite"), 2);
}

#[test]
fn a_form_issued_twice_without_a_saved_draft_issues_once() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut b = signed_in(&relay, 0, "muoi.nv");
    let csrf = b.get("/desk").form_token().unwrap();
    let fields = form(&relay, &csrf, &"ef".repeat(16), "issue");
    let cookie = format!("giaoban_desk={}", b.cookies["giaoban_desk"]);
    let body = fields
        .iter()
        .map(|(k, v)| format!("{}={}", giaoban_e2e::desk::encode(k), giaoban_e2e::desk::encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let sends: Vec<_> = (0..3)
        .map(|_| {
            let (cookie, body, url) = (cookie.clone(), body.clone(), relay.url.clone());
            std::thread::spawn(move || {
                let agent: ureq::Agent =
                    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
                agent
                    .post(&format!("{url}/desk/dispatch/new"))
                    .header("Cookie", &cookie)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .send(body.as_bytes())
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for s in sends {
        assert_eq!(s.join().unwrap(), 303);
    }
    assert_eq!(post(&mut b, "/desk/dispatch/new", &fields).status, 303);
    assert_eq!(issued_count(&relay, dir.path(), "w.sqlite"), 1, "one dispatch for one form");
}

#[test]
fn logins_nobody_has_are_answered_and_locked_like_real_ones() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let (_, password) = relay.store.add_staff(relay.org.units[0].id, "that.su", "Lê Thật").unwrap();
    relay.store.add_staff(relay.org.units[0].id, "nghi.viec", "Trần Nghỉ").unwrap();
    relay.store.disable_staff("nghi.viec").unwrap();
    let mut b = Browser::new(&relay.url);
    for login in ["that.su", "khong.co.ai"] {
        let answers: Vec<_> = (0..5).map(|_| b.sign_in(login, "sai")).collect();
        assert!(answers[..4].iter().all(|a| a.status == 401), "{login}");
        assert_eq!(answers[4].status, 429, "{login}: locked on the fifth");
        assert!(answers[4].body.contains("tạm khóa"), "{login}");
    }
    // A disabled account tells only the right password that it is disabled.
    let wrong = b.sign_in("nghi.viec", "sai");
    assert_eq!(wrong.status, 401);
    assert!(!wrong.body.contains("người quản trị khóa"));
    let _ = password;
}

#[test]
fn wrong_passwords_sent_at_once_are_held_to_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let (_, password) = relay.store.add_staff(relay.org.units[0].id, "muoi.nv", "Nguyễn Văn Muối").unwrap();
    let store = relay.store.clone();
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || store.sign_in("muoi.nv", "sai-mat-khau").unwrap())
        })
        .collect();
    let outcomes: Vec<_> = attempts.into_iter().map(|a| a.join().unwrap()).collect();
    let checked = outcomes.iter().filter(|o| matches!(o, giaoban_relay::store::SignIn::Wrong { .. })).count();
    assert!(checked < 5, "at most five passwords are checked before the lock ({checked} answered 'wrong')");
    assert!(matches!(
        store.sign_in("muoi.nv", &password).unwrap(),
        giaoban_relay::store::SignIn::Locked { .. }
    ));
}

#[test]
fn a_live_stream_ends_with_its_session() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut b = signed_in(&relay, 0, "muoi.nv");
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1, "phường");
    let mut province = relay.device(&dir.path().join("province.sqlite"), 0, "văn phòng");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let cookie = format!("giaoban_desk={}", b.cookies["giaoban_desk"]);
    let stream = agent.get(&format!("{}/desk/events", relay.url)).header("Cookie", &cookie).call().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut stream = stream;
        for line in std::io::BufReader::new(stream.body_mut().as_reader()).lines() {
            match line {
                Ok(l) if l.starts_with("data: ") => {
                    let _ = tx.send(true);
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let _ = tx.send(false);
    });
    let csrf = b.get("/desk").form_token().unwrap();
    assert_eq!(b.post("/desk/sign-out", &[("csrf", &csrf)]).status, 303);
    // The next change ends the stream instead of telling it.
    let d = province
        .issue_directive(dispatch_305(vec![relay.org.units[1].id], &local_date(5), &local_date(8)))
        .unwrap();
    province.sync_now().unwrap();
    ward.sync_now().unwrap();
    let _ = d;
    let mut ended = false;
    while let Ok(v) = rx.recv_timeout(Duration::from_secs(10)) {
        if !v {
            ended = true;
            break;
        }
    }
    assert!(ended, "the stream of an ended session closed");
}

#[test]
fn deadlines_the_dispatch_cannot_have_are_refused_beside_their_field_before_issuing() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut b = signed_in(&relay, 0, "muoi.nv");
    let csrf = b.get("/desk").form_token().unwrap();
    for (words, expect) in [
        (format!("chậm nhất ngày {}", local_date(-3)), "sớm hơn ngày ban hành"),
        (format!("trước ngày {}", local_date(0)), "sớm hơn ngày ban hành"),
        (format!("không trước ngày {}", local_date(9)), "không phải một thời hạn"),
    ] {
        let mut f = form(&relay, &csrf, &"12".repeat(16), "preview");
        f.iter_mut().find(|(k, _)| k == "task1_deadline").unwrap().1 = words.clone();
        let a = post(&mut b, "/desk/dispatch/new", &f);
        assert_eq!(a.status, 422, "{words}");
        let error = a.text_of_id("task1_deadline-error").unwrap_or_default();
        assert!(error.contains(expect), "{words}: {error}");
    }
}

#[test]
fn a_draft_too_long_to_keep_is_said_so_and_its_words_stay_on_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut b = signed_in(&relay, 0, "muoi.nv");
    let csrf = b.get("/desk").form_token().unwrap();
    // A pasted body of 5 MB: more than a draft keeps (4 MB), less than a request may carry.
    let mut f = form(&relay, &csrf, &"34".repeat(16), "save");
    f.push(("body".into(), "Noi dung dan vao rat dai. ".repeat(200_000)));
    let a = post(&mut b, "/desk/dispatch/new", &f);
    assert_eq!(a.status, 422, "not a 503: {}", &a.body[..a.body.len().min(400)]);
    assert!(a.body.contains("Không lưu được bản nháp"));
    assert!(a.body.contains("Noi dung dan vao rat dai."), "what was typed stays");

    // A draft can be thrown away.
    let mut small = form(&relay, &csrf, &"56".repeat(16), "save");
    assert_eq!(post(&mut b, "/desk/dispatch/new", &small).status, 200);
    assert!(b.get("/desk").body.contains("Bản nháp chưa ban hành"));
    small.iter_mut().find(|(k, _)| k == "action").unwrap().1 = "delete".into();
    assert_eq!(post(&mut b, "/desk/dispatch/new", &small).status, 303);
    assert!(!b.get("/desk").body.contains("Bản nháp chưa ban hành"));
}

#[test]
fn a_damaged_desk_store_is_moved_aside_and_the_member_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut province = relay.device(&dir.path().join("province.sqlite"), 0, "văn phòng");
    province
        .issue_directive(dispatch_305(vec![relay.org.units[1].id], &local_date(5), &local_date(8)))
        .unwrap();
    province.sync_now().unwrap();
    let (_, password) = relay.store.add_staff(relay.org.units[0].id, "muoi.nv", "Nguyễn Văn Muối").unwrap();
    let mut b = Browser::new(&relay.url);
    b.sign_in("muoi.nv", &password);
    assert!(b.get("/desk").body.contains("305/MTTQ-BTT"));
    let relay = relay.restart_with(|data| {
        for e in std::fs::read_dir(data.join("desk")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "sqlite") {
                let mut bytes = std::fs::read(&p).unwrap();
                bytes[..100].fill(0x5a);
                std::fs::write(&p, bytes).unwrap();
            }
            if p.to_string_lossy().ends_with("-wal") {
                std::fs::remove_file(&p).unwrap();
            }
        }
    });
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in("muoi.nv", &password).status, 303);
    let home = b.get("/desk");
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("305/MTTQ-BTT"), "downloaded again");
}
