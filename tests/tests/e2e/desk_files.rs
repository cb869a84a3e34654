//! Attached files on the desk against a real relay on 127.0.0.1:0: a ward's photo listed on
//! the office's report page and downloaded byte for byte; every download the member may not
//! have answered alike; a form attached to a dispatch draft, issued, and fetched by a ward's
//! phone; a file over the relay's limit refused beside its field with nothing kept.

use giaoban_client_core::{AttachTo, Opened, Store};
use giaoban_e2e::Relay;
use giaoban_e2e::desk::{Answer, Browser, Part, unescape};
use giaoban_e2e::workload::{house_report, jpeg, photo};
use giaoban_protocol::BlobHash;
use giaoban_relay::Config;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn local_date(days_from_today: i64) -> String {
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    (today + chrono::Duration::days(days_from_today)).format("%d/%m/%Y").to_string()
}

/// A staff member of the unit at `unit`, signed in; their account's id.
fn signed_in(relay: &Relay, unit: usize, login: &str, name: &str) -> (Browser, String) {
    let (account, password) = relay.store.add_staff(relay.org.units[unit].id, login, name).unwrap();
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in(login, &password).status, 303);
    (b, account.id.to_string())
}

/// The first download link of a page.
fn download_link(page: &Answer) -> Option<String> {
    let at = page.body.find("href=\"/desk/files/")? + "href=\"".len();
    Some(unescape(page.body[at..].split('"').next()?))
}

/// Runs the file lane until nothing waits.
fn transfer_all(store: &mut Store) {
    for _ in 0..50 {
        if store.sync_files().unwrap().waiting == 0 {
            return;
        }
    }
    panic!("files still waiting");
}

#[test]
fn a_wards_photo_is_listed_on_the_report_page_and_downloads_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1, "điện thoại cán bộ phường");
    let report = ward.create_report(house_report("Báo cáo kết quả xây dựng nhà Đại đoàn kết")).unwrap();
    let bytes = photo(2_621_440, 11);
    let a = ward.attach_bytes(AttachTo::Report(report), &bytes, jpeg("ảnh nhà ông Lực.jpg")).unwrap();
    ward.sync_now().unwrap();

    let (mut office, _) = signed_in(&relay, 0, "muoi.nv", "Nguyễn Văn Muối");
    // The reference is on the relay, the file not yet: listed, with no link.
    let page = office.get(&format!("/desk/report/{report}"));
    assert_eq!(page.status, 200, "{}", page.body);
    for words in [
        "ảnh nhà ông Lực.jpg",
        "image/jpeg",
        "2,5 MB",
        "Lễ bàn giao nhà Đại đoàn kết",
        "điện thoại cán bộ phường",
        "đang tải lên 0 %",
    ] {
        assert!(page.body.contains(words), "{words} missing");
    }
    assert_eq!(download_link(&page), None, "no link before the file is whole");

    // The first piece arrives: the page says how far the ward's send got.
    let (url, token) = ward.relay().unwrap().unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let piece = agent
        .put(&format!("{url}/v1/files/{}?offset=0", a.hash))
        .header("Authorization", &format!("Bearer {token}"))
        .send(&bytes[..1024 * 1024])
        .unwrap();
    assert_eq!(piece.status().as_u16(), 200);
    let page = office.get(&format!("/desk/report/{report}"));
    assert!(page.body.contains("đang tải lên 40 %"), "{}", page.body);
    assert_eq!(download_link(&page), None);

    transfer_all(&mut ward);
    let page = office.get(&format!("/desk/report/{report}"));
    assert!(page.body.contains("đã có trên máy chủ"), "{}", page.body);
    assert!(!page.body.contains("đang tải lên"));
    let link = download_link(&page).expect("a download link");
    assert!(link.starts_with(&format!("/desk/files/{report}/{}/", a.hash)), "{link}");

    let (status, headers, got) = office.get_bytes(&link);
    assert_eq!(status, 200);
    assert!(got == bytes, "the download is not the file's bytes");
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["content-security-policy"], "sandbox");
    assert_eq!(headers["content-length"], bytes.len().to_string());
    assert_eq!(
        headers["content-disposition"],
        "inline; filename=\"anh nha ong Luc.jpg\"; filename*=UTF-8''%E1%BA%A3nh%20nh%C3%A0%20%C3%B4ng%20L%E1%BB%B1c.jpg"
    );
    // Signed out, the link leads to the sign-in page.
    let mut stranger = Browser::new(&relay.url);
    assert_eq!(stranger.get(&link).location.as_deref(), Some("/desk/sign-in"));
}

#[test]
fn every_download_the_member_may_not_have_is_the_same_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    // Ward 1's photo, whole on the relay, in a report ward 2 may not read.
    let mut ward1 = relay.device(&dir.path().join("ward1.sqlite"), 1, "phường 1");
    let theirs = ward1.create_report(house_report("Báo cáo nhà Đại đoàn kết phường 1")).unwrap();
    let bytes = photo(40_000, 3);
    let a = ward1.attach_bytes(AttachTo::Report(theirs), &bytes, jpeg("ảnh bàn giao.jpg")).unwrap();
    ward1.sync_now().unwrap();
    transfer_all(&mut ward1);
    // Ward 2's own report, which refers to no file.
    let mut ward2 = relay.device(&dir.path().join("ward2.sqlite"), 2, "phường 2");
    let ours = ward2.create_report(house_report("Báo cáo nhà Đại đoàn kết phường 2")).unwrap();
    // And one that names ward 1's photo as its own without ever sending its bytes.
    let forged = ward2.create_report(house_report("Báo cáo mượn ảnh của phường 1")).unwrap();
    ward2.attach_bytes(AttachTo::Report(forged), &bytes, jpeg("ảnh của tôi.jpg")).unwrap();
    ward2.sync_now().unwrap();

    let (mut office, _) = signed_in(&relay, 0, "muoi.nv", "Nguyễn Văn Muối");
    let ok = office.get_bytes(&format!("/desk/files/{theirs}/{}/a.jpg", a.hash));
    assert_eq!((ok.0, ok.2 == bytes), (200, true), "the province reads ward 1's report");

    let (mut staff2, _) = signed_in(&relay, 2, "lan.tt", "Trần Thị Lan");
    let unknown = BlobHash::of(b"khong co tep nay");
    let missing_doc = giaoban_protocol::DocId::from_parts(1_700_000_000_000, [7; 10]);
    let cases = [
        ("unknown hash", format!("/desk/files/{ours}/{unknown}/a.jpg")),
        ("another unit's report", format!("/desk/files/{theirs}/{}/a.jpg", a.hash)),
        ("a report that does not refer to it", format!("/desk/files/{ours}/{}/a.jpg", a.hash)),
        ("no such document", format!("/desk/files/{missing_doc}/{}/a.jpg", a.hash)),
        ("a reference to a file its unit never sent", format!("/desk/files/{forged}/{}/a.jpg", a.hash)),
        ("not a document id", format!("/desk/files/x/{}/a.jpg", a.hash)),
    ];
    let answers: Vec<(u16, Vec<u8>)> = cases
        .iter()
        .map(|(_, path)| {
            let (status, _, body) = staff2.get_bytes(path);
            (status, body)
        })
        .collect();
    for ((what, _), (status, body)) in cases.iter().zip(&answers) {
        assert_eq!(*status, 404, "{what}");
        assert_eq!(body, &answers[0].1, "{what} answered otherwise than an unknown hash");
        assert!(String::from_utf8_lossy(body).contains("Không tìm thấy"), "{what}");
    }
    // Ward 2's own report page lists nothing of ward 1's.
    let page = staff2.get(&format!("/desk/report/{ours}"));
    assert!(page.body.contains("Không có tệp đính kèm."), "{}", page.body);
    // The borrowed reference is listed as not yet sent, with no link, though the relay holds
    // ward 1's copy whole.
    let page = staff2.get(&format!("/desk/report/{forged}"));
    assert!(page.body.contains("ảnh của tôi.jpg") && page.body.contains("đang tải lên 0 %"), "{}", page.body);
    assert_eq!(download_link(&page), None);
}

/// The dispatch form's fields, as the page gave them, filled in for the first two wards.
fn dispatch_fields(relay: &Relay, form: &Answer) -> Vec<(String, String)> {
    let u = &relay.org.units;
    let mut fields: Vec<(String, String)> =
        form.hidden_fields().into_iter().filter(|(k, _)| k == "csrf" || k == "draft").collect();
    // The sign-out form's token comes first; the dispatch form's is the same.
    fields.dedup_by(|a, b| a.0 == b.0);
    let due = format!("trước ngày {}", local_date(7));
    for (k, v) in [
        ("issuer", "Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh Đồng Nai"),
        ("number", "12/MTTQ-BTT"),
        ("place", "Biên Hòa"),
        ("issued_on", &local_date(0)),
        ("subject", "V/v rà soát danh sách hộ nghèo"),
        ("recipient", &u[1].id.to_string()),
        ("recipient", &u[2].id.to_string()),
        ("tasks", "1"),
        ("task1_text", "Rà soát, cập nhật danh sách hộ nghèo theo mẫu đính kèm."),
        ("task1_report", "on"),
        ("task1_deadline", &due),
    ] {
        fields.push((k.to_string(), v.to_string()));
    }
    fields
}

/// The form's draft id.
fn draft_of(fields: &[(String, String)]) -> String {
    fields.iter().find(|(k, _)| k == "draft").unwrap().1.clone()
}

/// Sends the form's `fields` with the button `action` pressed.
fn press(b: &mut Browser, fields: &[(String, String)], action: &str) -> Answer {
    let mut pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.push(("action", action));
    b.post("/desk/dispatch/new", &pairs)
}

/// The tasks a ward's fresh phone receives.
fn ward_tasks(relay: &Relay, dir: &std::path::Path) -> Vec<giaoban_client_core::TaskView> {
    let mut ward = relay.device(&dir.join("ward.sqlite"), 1, "phường");
    ward.sync_now().unwrap();
    let mine =
        giaoban_client_core::TaskFilter { scope: giaoban_client_core::TaskScope::Mine, ..Default::default() };
    ward.list_tasks(&mine).unwrap()
}

fn with_file<'a>(fields: &'a [(String, String)], file: Part<'a>, action: &'a str) -> Vec<Part<'a>> {
    let mut parts: Vec<Part<'a>> = fields.iter().map(|(k, v)| Part::Text(k, v)).collect();
    parts.push(Part::Text("file_caption", "Biểu mẫu rà soát"));
    parts.push(file);
    parts.push(Part::Text("action", action));
    parts
}

#[test]
fn a_form_attached_to_a_draft_goes_with_the_dispatch_to_the_wards_phone() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let (mut b, staff) = signed_in(&relay, 0, "muoi.nv", "Nguyễn Văn Muối");
    let form = b.get("/desk/dispatch/new");
    assert_eq!(form.status, 200);
    assert!(form.body.contains("enctype=\"multipart/form-data\""));
    let fields = dispatch_fields(&relay, &form);
    let draft = draft_of(&fields);
    let draft_dir = relay.dir.join("desk").join("draft-files").join(&staff).join(&draft);

    // The name as a Mac sends it (decomposed): kept in NFC.
    let picked = "Ma\u{0302}\u{0303}u danh sa\u{0301}ch ho\u{0323}\u{0302} nghe\u{0300}o.xlsx";
    let sheet = photo(700_000, 5);
    let sheet_hash = BlobHash::of(&sheet);
    let file = Part::File { name: "file", file_name: picked, media_type: XLSX, bytes: &sheet };
    let page = b.post_multipart("/desk/dispatch/new", &with_file(&fields, file, "attach"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Mẫu danh sách hộ nghèo.xlsx"), "listed in NFC: {}", page.body);
    assert!(page.body.contains("684 KB") && page.body.contains("Biểu mẫu rà soát"));
    assert_eq!(std::fs::read(draft_dir.join(sheet_hash.to_hex())).unwrap(), sheet, "kept whole on disk");

    // A second file, then removed with its button.
    let extra = photo(1000, 9);
    let file =
        Part::File { name: "file", file_name: "ảnh thừa.jpg", media_type: "image/jpeg", bytes: &extra };
    let page = b.post_multipart("/desk/dispatch/new", &with_file(&fields, file, "attach"));
    assert!(page.body.contains("ảnh thừa.jpg"));
    let mut parts: Vec<Part<'_>> = fields.iter().map(|(k, v)| Part::Text(k, v)).collect();
    let extra_hash = BlobHash::of(&extra).to_hex();
    parts.push(Part::Text("remove_file", &extra_hash));
    let page = b.post_multipart("/desk/dispatch/new", &parts);
    assert!(!page.body.contains("ảnh thừa.jpg"), "removed");
    assert!(page.body.contains("Mẫu danh sách hộ nghèo.xlsx"));
    // A remove without the session's form token removes nothing.
    let mut forged: Vec<Part<'_>> =
        fields.iter().filter(|(k, _)| k != "csrf").map(|(k, v)| Part::Text(k, v)).collect();
    forged.insert(0, Part::Text("csrf", "00"));
    let sheet_hex = sheet_hash.to_hex();
    forged.push(Part::Text("remove_file", &sheet_hex));
    assert_eq!(b.post_multipart("/desk/dispatch/new", &forged).status, 403);
    assert!(draft_dir.join(sheet_hash.to_hex()).is_file());

    // The preview says what goes with the dispatch.
    let page = press(&mut b, &fields, "preview");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Xem lại trước khi ban hành") && page.body.contains("Mẫu danh sách hộ nghèo.xlsx")
    );

    // Issued: the dispatch carries the form, the relay holds it whole, the draft's files go.
    let issued = press(&mut b, &fields, "issue");
    assert_eq!(issued.status, 303, "{}", issued.body);
    let at = issued.location.clone().unwrap();
    assert!(!draft_dir.exists(), "the draft's files are removed once issued");
    let page = b.get(&at);
    assert!(page.body.contains("Mẫu danh sách hộ nghèo.xlsx") && page.body.contains("đã có trên máy chủ"));
    assert!(page.body.contains("Bàn làm việc: Nguyễn Văn Muối"), "{}", page.body);
    let link = download_link(&page).unwrap();
    let (status, headers, got) = b.get_bytes(&link);
    assert_eq!(status, 200);
    assert!(got == sheet);
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert!(headers["content-disposition"].starts_with(
        "attachment; filename=\"Mau danh sach ho ngheo.xlsx\"; filename*=UTF-8''M%E1%BA%ABu%20danh"
    ));

    // A ward's phone receives the dispatch and fetches the form's exact bytes.
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1, "phường");
    ward.sync_now().unwrap();
    let id: giaoban_protocol::DocId = at.trim_start_matches("/desk/dispatch/").parse().unwrap();
    let seen = ward.attachments(id).unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].attachment.name, "Mẫu danh sách hộ nghèo.xlsx");
    assert_eq!(seen[0].attachment.media_type, XLSX);
    assert_eq!(seen[0].attachment.caption, "Biểu mẫu rà soát");
    assert!(matches!(ward.open_attachment(sheet_hash).unwrap(), Opened::Fetching(_)));
    transfer_all(&mut ward);
    let Opened::Here(path) = ward.open_attachment(sheet_hash).unwrap() else { panic!("not fetched") };
    assert!(std::fs::read(path).unwrap() == sheet, "the ward's copy is not the form's bytes");
}

#[test]
fn a_file_over_the_relays_limit_is_refused_beside_its_field_and_nothing_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    // Requests elsewhere are held to less than one file: the form takes a whole file anyway.
    let config = Config {
        data_dir: data.clone(),
        max_file_bytes: 256 * 1024,
        max_body_bytes: 128 * 1024,
        ..Config::default()
    };
    let relay = Relay::start_with(&data, config, true);
    let (mut b, staff) = signed_in(&relay, 0, "muoi.nv", "Nguyễn Văn Muối");
    let form = b.get("/desk/dispatch/new");
    assert!(form.body.contains("Mỗi tệp tối đa 256 KB"), "the limit is said before choosing");
    let fields = dispatch_fields(&relay, &form);
    let draft = draft_of(&fields);

    let big = photo(256 * 1024 + 1, 2);
    let file = Part::File {
        name: "file",
        file_name: "Bản quét công văn.pdf",
        media_type: "application/pdf",
        bytes: &big,
    };
    // Pressed "issue" with it: nothing is issued while the file is refused.
    let page = b.post_multipart("/desk/dispatch/new", &with_file(&fields, file, "issue"));
    assert_eq!(page.status, 422, "{}", page.body);
    let error = page.text_of_id("file-error").expect("an error beside the file field");
    assert!(error.contains("lớn hơn 256 KB") && error.contains("Bản quét công văn.pdf"), "{error}");
    assert!(page.body.contains("Chưa có tệp nào."));
    // Every word typed stays on the page.
    assert!(page.body.contains("Rà soát, cập nhật danh sách hộ nghèo theo mẫu đính kèm."));
    let draft_dir = relay.dir.join("desk").join("draft-files").join(&staff).join(&draft);
    let left: Vec<_> = std::fs::read_dir(&draft_dir).map(|d| d.flatten().collect()).unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    // No dispatch was issued.
    assert!(ward_tasks(&relay, dir.path()).is_empty());

    // A file at the limit is kept.
    let fits = photo(256 * 1024, 4);
    let file =
        Part::File {
            name: "file", file_name: "Bản quét.pdf", media_type: "application/pdf", bytes: &fits
        };
    let page = b.post_multipart("/desk/dispatch/new", &with_file(&fields, file, "attach"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Bản quét.pdf"));
}

#[test]
fn a_form_with_its_file_on_a_slow_link_is_not_cut_off_by_the_request_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let config = Config { data_dir: data.clone(), request_timeout_secs: 1, ..Config::default() };
    let relay = Relay::start_with(&data, config, true);
    let (mut b, _) = signed_in(&relay, 0, "muoi.nv", "Nguyễn Văn Muối");
    let form = b.get("/desk/dispatch/new");
    let fields = dispatch_fields(&relay, &form);
    let scan = photo(8 * 32 * 1024, 6);
    let file = Part::File {
        name: "file",
        file_name: "Công văn đã ký.pdf",
        media_type: "application/pdf",
        bytes: &scan,
    };
    // About three seconds to arrive, three times the other requests' limit.
    let page = b.post_multipart_paced(
        "/desk/dispatch/new",
        &with_file(&fields, file, "attach"),
        std::time::Duration::from_millis(300),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Công văn đã ký.pdf"));
}

#[test]
fn a_browser_closed_mid_upload_leaves_nothing_and_an_issued_draft_takes_no_more_files() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let (mut b, staff) = signed_in(&relay, 0, "muoi.nv", "Nguyễn Văn Muối");
    let form = b.get("/desk/dispatch/new");
    let fields = dispatch_fields(&relay, &form);
    let draft = draft_of(&fields);
    let staff_dir = relay.dir.join("desk").join("draft-files").join(&staff);

    // Closed after the fields and 300 KB of a 700 KB scan: nothing of it stays on disk.
    let scan = photo(700_000, 12);
    let file =
        Part::File {
            name: "file", file_name: "Bản quét.pdf", media_type: "application/pdf", bytes: &scan
        };
    let parts = with_file(&fields, file, "attach");
    let head: usize = fields.iter().map(|(k, v)| k.len() + v.len() + 80).sum();
    b.post_multipart_cut("/desk/dispatch/new", &parts, head + 300_000);
    let files_left = || -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        let mut dirs = vec![staff_dir.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    dirs.push(e.path());
                } else {
                    out.push(e.path());
                }
            }
        }
        out
    };
    let t0 = std::time::Instant::now();
    while !files_left().is_empty() && t0.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(files_left().is_empty(), "left behind by a closed upload: {:?}", files_left());

    // A caption longer than a dispatch takes is refused beside the field, the file not kept.
    let long = "chú thích ".repeat(101);
    let mut parts: Vec<Part<'_>> = fields.iter().map(|(k, v)| Part::Text(k, v)).collect();
    parts.push(Part::Text("file_caption", &long));
    let small = photo(2_000, 13);
    parts.push(Part::File { name: "file", file_name: "ảnh.jpg", media_type: "image/jpeg", bytes: &small });
    parts.push(Part::Text("action", "attach"));
    let page = b.post_multipart("/desk/dispatch/new", &parts);
    let error = page.text_of_id("file-error").unwrap_or_default();
    assert!(error.contains("Chú thích") && error.contains("1000"), "{error} {}", page.body);
    assert!(files_left().is_empty(), "kept with a caption the dispatch refuses: {:?}", files_left());

    // Issued; then a file sent to the same draft (Back in the browser) is refused and said so.
    let issued = press(&mut b, &fields, "issue");
    assert_eq!(issued.status, 303, "{}", issued.body);
    let late = photo(5_000, 14);
    let file =
        Part::File {
            name: "file", file_name: "Phụ lục.pdf", media_type: "application/pdf", bytes: &late
        };
    let page = b.post_multipart("/desk/dispatch/new", &with_file(&fields, file, "attach"));
    assert!(
        page.body.contains("đã ban hành") && page.body.contains("Phụ lục.pdf"),
        "{} {}",
        page.status,
        page.body
    );
    assert!(!staff_dir.join(&draft).exists(), "a file kept for an issued draft");
}

fn staff_id(hex_id: &str) -> giaoban_relay::store::StaffId {
    giaoban_relay::store::StaffId(hex::decode(hex_id).unwrap().try_into().unwrap())
}

fn draft_id(hex_id: &str) -> [u8; 16] {
    hex::decode(hex_id).unwrap().try_into().unwrap()
}

/// The files the relay's collector would leave of a member's drafts, once it has run.
fn after_collection(relay: &Relay, staff: &str, draft: &str) -> Vec<std::path::PathBuf> {
    let files = giaoban_relay::desk::draft_files::DraftFiles::new(relay.dir.join("desk").join("draft-files"));
    files.collect(&relay.store, std::time::Duration::ZERO).unwrap();
    let dir = relay.dir.join("desk").join("draft-files").join(staff).join(draft);
    let mut left: Vec<_> = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).collect();
    left.sort();
    left
}

#[test]
fn a_file_sent_with_a_form_too_long_to_save_stays_on_its_draft() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let (mut b, staff) = signed_in(&relay, 0, "muoi.nv", "Nguyễn Văn Muối");
    let form = b.get("/desk/dispatch/new");
    let mut fields = dispatch_fields(&relay, &form);
    let draft = draft_of(&fields);
    // A body pasted twice over from a long document: more than a draft keeps.
    fields.push(("body".into(), "Căn cứ tình hình thực tế tại địa phương. ".repeat(110_000)));
    let scan = photo(40_000, 21);
    let file =
        Part::File {
            name: "file", file_name: "Bản quét.pdf", media_type: "application/pdf", bytes: &scan
        };
    let page = b.post_multipart("/desk/dispatch/new", &with_file(&fields, file, "attach"));
    assert!(page.body.contains("Không lưu được bản nháp"), "{} {}", page.status, &page.body[..2000]);
    assert!(page.body.contains("Bản quét.pdf"), "the file is listed on the form");
    // The draft is on record, so the collector keeps the file it was said to hold.
    let draft_on_record = relay.store.draft(staff_id(&staff), draft_id(&draft)).unwrap();
    assert!(draft_on_record.is_some_and(|d| d.issued.is_none()));
    let left = after_collection(&relay, &staff, &draft);
    assert!(left.iter().any(|p| p.ends_with(BlobHash::of(&scan).to_hex())), "collected: {left:?}");
    // And the member finds it among their drafts.
    let home = b.get("/desk");
    assert!(home.body.contains(&draft), "the draft is not listed: {}", home.body);
}

#[test]
fn a_file_refused_at_issue_leaves_nothing_issued_and_the_next_issue_takes_the_edits() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let (mut b, staff) = signed_in(&relay, 0, "muoi.nv", "Nguyễn Văn Muối");
    let form = b.get("/desk/dispatch/new");
    let mut fields = dispatch_fields(&relay, &form);
    let draft = draft_of(&fields);
    let good = photo(30_000, 31);
    let file = Part::File { name: "file", file_name: "Biểu mẫu.xlsx", media_type: XLSX, bytes: &good };
    assert_eq!(b.post_multipart("/desk/dispatch/new", &with_file(&fields, file, "attach")).status, 200);
    let bad = photo(20_000, 32);
    let file = Part::File {
        name: "file",
        file_name: "Phụ lục hỏng.pdf",
        media_type: "application/pdf",
        bytes: &bad,
    };
    assert_eq!(b.post_multipart("/desk/dispatch/new", &with_file(&fields, file, "attach")).status, 200);
    // The second file is emptied on disk (a damaged disk, a careless hand).
    let draft_dir = relay.dir.join("desk").join("draft-files").join(&staff).join(&draft);
    std::fs::write(draft_dir.join(BlobHash::of(&bad).to_hex()), b"").unwrap();

    let page = press(&mut b, &fields, "issue");
    assert_eq!(page.status, 422, "{}", page.body);
    let error = page.text_of_id("file-error").unwrap_or_default();
    assert!(error.contains("chưa được ban hành") && error.contains("Phụ lục hỏng.pdf"), "{error}");
    let mut ward = relay.device(&dir.path().join("ward.sqlite"), 1, "phường");
    ward.sync_now().unwrap();
    let mine =
        giaoban_client_core::TaskFilter { scope: giaoban_client_core::TaskScope::Mine, ..Default::default() };
    assert!(ward.list_tasks(&mine).unwrap().is_empty(), "a dispatch went out without its files");

    // The damaged file removed and the subject corrected: the dispatch issued is the edited one.
    let bad_hex = BlobHash::of(&bad).to_hex();
    let mut parts: Vec<Part<'_>> = fields.iter().map(|(k, v)| Part::Text(k, v)).collect();
    parts.push(Part::Text("remove_file", &bad_hex));
    assert_eq!(b.post_multipart("/desk/dispatch/new", &parts).status, 200);
    for (k, v) in fields.iter_mut() {
        if k == "subject" {
            *v = "V/v rà soát, bổ sung danh sách hộ nghèo".into();
        }
    }
    let issued = press(&mut b, &fields, "issue");
    assert_eq!(issued.status, 303, "{}", issued.body);
    let page = b.get(issued.location.as_deref().unwrap());
    assert!(page.body.contains("V/v rà soát, bổ sung danh sách hộ nghèo"), "{}", page.body);
    assert!(page.body.contains("Biểu mẫu.xlsx") && !page.body.contains("Phụ lục hỏng.pdf"));
    ward.sync_now().unwrap();
    let tasks = ward.list_tasks(&mine).unwrap();
    assert_eq!(tasks.len(), 1);
    let id = tasks[0].source;
    let seen = ward.attachments(id).unwrap();
    assert_eq!(seen.iter().map(|a| a.attachment.name.as_str()).collect::<Vec<_>>(), ["Biểu mẫu.xlsx"]);
}

#[test]
fn another_members_draft_is_never_written_nor_given_files() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let (mut a, a_staff) = signed_in(&relay, 0, "muoi.nv", "Nguyễn Văn Muối");
    let form = a.get("/desk/dispatch/new");
    let a_fields = dispatch_fields(&relay, &form);
    let draft = draft_of(&a_fields);
    assert_eq!(press(&mut a, &a_fields, "save").status, 200);
    let before = relay.store.draft(staff_id(&a_staff), draft_id(&draft)).unwrap().unwrap();

    // A colleague at the same office sends a form carrying that draft's id.
    let (mut b, b_staff) = signed_in(&relay, 0, "lan.tt", "Trần Thị Lan");
    let form = b.get("/desk/dispatch/new");
    let mut b_fields = dispatch_fields(&relay, &form);
    for (k, v) in b_fields.iter_mut() {
        if k == "draft" {
            *v = draft.clone();
        }
        if k == "subject" {
            *v = "V/v một việc khác".into();
        }
    }
    let page = press(&mut b, &b_fields, "save");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Đã lưu nháp"));
    assert_eq!(relay.store.draft(staff_id(&a_staff), draft_id(&draft)).unwrap().unwrap(), before);
    // Kept as a draft of the colleague's own, under a new id.
    let theirs = relay.store.drafts(staff_id(&b_staff)).unwrap();
    assert_eq!(theirs.len(), 1);
    assert_ne!(hex::encode(theirs[0].id), draft);
    assert!(theirs[0].title.contains("V/v một việc khác"));

    // A file sent to that id is refused before any byte is kept.
    let scan = photo(10_000, 41);
    let file =
        Part::File {
            name: "file", file_name: "Bản quét.pdf", media_type: "application/pdf", bytes: &scan
        };
    assert_eq!(b.post_multipart("/desk/dispatch/new", &with_file(&b_fields, file, "attach")).status, 403);
    let b_dir = relay.dir.join("desk").join("draft-files").join(&b_staff).join(&draft);
    let kept: Vec<_> = std::fs::read_dir(b_dir).into_iter().flatten().flatten().collect();
    assert!(kept.is_empty(), "kept for another's draft: {kept:?}");
}

#[test]
fn a_members_drafts_hold_no_more_files_than_their_unit_may_keep() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let config = Config {
        data_dir: data.clone(),
        max_file_bytes: 256 * 1024,
        max_unit_file_bytes: 400 * 1024,
        ..Config::default()
    };
    let relay = Relay::start_with(&data, config, true);
    let (mut b, staff) = signed_in(&relay, 0, "muoi.nv", "Nguyễn Văn Muối");
    let first = photo(200 * 1024, 51);
    let form = b.get("/desk/dispatch/new");
    let fields = dispatch_fields(&relay, &form);
    let file = Part::File { name: "file", file_name: "Ảnh 1.jpg", media_type: "image/jpeg", bytes: &first };
    assert_eq!(b.post_multipart("/desk/dispatch/new", &with_file(&fields, file, "attach")).status, 200);
    // A second draft (a fresh id each time): the room is counted over all of them.
    let form = b.get("/desk/dispatch/new");
    let fields = dispatch_fields(&relay, &form);
    let draft = draft_of(&fields);
    let second = photo(250 * 1024, 52);
    let file =
        Part::File { name: "file", file_name: "Ảnh 2.jpg", media_type: "image/jpeg", bytes: &second };
    let page = b.post_multipart("/desk/dispatch/new", &with_file(&fields, file, "attach"));
    let error = page.text_of_id("file-error").unwrap_or_default();
    assert!(error.contains("Ảnh 2.jpg") && error.contains("400 KB"), "{error} {}", page.status);
    let left = after_collection(&relay, &staff, &draft);
    assert!(left.is_empty(), "kept over the limit: {left:?}");
    // One that fits the room left is kept.
    let third = photo(150 * 1024, 53);
    let file = Part::File { name: "file", file_name: "Ảnh 3.jpg", media_type: "image/jpeg", bytes: &third };
    let page = b.post_multipart("/desk/dispatch/new", &with_file(&fields, file, "attach"));
    assert!(page.text_of_id("file-error").is_none(), "{}", page.body);
    assert!(page.body.contains("Ảnh 3.jpg"));
}

#[test]
fn form_fields_before_the_token_are_not_read_past_a_few_kilobytes() {
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let (mut b, _) = signed_in(&relay, 0, "muoi.nv", "Nguyễn Văn Muối");
    let form = b.get("/desk/dispatch/new");
    let fields = dispatch_fields(&relay, &form);
    let filler = "a".repeat(64 * 1024);
    let mut parts: Vec<Part<'_>> = vec![Part::Text("body", &filler)];
    parts.extend(fields.iter().map(|(k, v)| Part::Text(k, v)));
    parts.push(Part::Text("action", "save"));
    let refused = b.post_multipart_refused("/desk/dispatch/new", &parts);
    assert!(matches!(refused, None | Some(403)), "{refused:?}");
    // Nor many small ones adding up past it.
    let piece = "a".repeat(4 * 1024);
    let mut parts: Vec<Part<'_>> = (0..10).map(|_| Part::Text("basis", piece.as_str())).collect();
    parts.extend(fields.iter().map(|(k, v)| Part::Text(k, v)));
    parts.push(Part::Text("action", "save"));
    let refused = b.post_multipart_refused("/desk/dispatch/new", &parts);
    assert!(matches!(refused, None | Some(403)), "{refused:?}");
    // The same words after the token are a body like any other.
    let mut parts: Vec<Part<'_>> = fields.iter().map(|(k, v)| Part::Text(k, v)).collect();
    parts.push(Part::Text("body", &filler));
    parts.push(Part::Text("action", "save"));
    let page = b.post_multipart("/desk/dispatch/new", &parts);
    assert_eq!(page.status, 200, "{}", page.body);
}

#[test]
fn a_dispatch_whose_files_the_unit_has_no_room_for_is_not_issued() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let config = Config {
        data_dir: data.clone(),
        max_file_bytes: 256 * 1024,
        max_unit_file_bytes: 400 * 1024,
        ..Config::default()
    };
    let relay = Relay::start_with(&data, config, true);
    // Two members of the same office, each with a 250 KB scan on a draft.
    let (mut a, a_staff) = signed_in(&relay, 0, "muoi.nv", "Nguyễn Văn Muối");
    let (mut b, _) = signed_in(&relay, 0, "lan.tt", "Trần Thị Lan");
    let a_fields = dispatch_fields(&relay, &a.get("/desk/dispatch/new"));
    let a_draft = draft_of(&a_fields);
    // A file cut off by a stop lies in the member's folder: it is not theirs to count.
    let a_dir = relay.dir.join("desk").join("draft-files").join(&a_staff).join(&a_draft);
    std::fs::create_dir_all(&a_dir).unwrap();
    std::fs::write(a_dir.join(".incoming-0011223344556677"), photo(300 * 1024, 60)).unwrap();
    let scan_a = photo(250 * 1024, 61);
    let file = Part::File {
        name: "file",
        file_name: "Bản quét A.pdf",
        media_type: "application/pdf",
        bytes: &scan_a,
    };
    let page = a.post_multipart("/desk/dispatch/new", &with_file(&a_fields, file, "attach"));
    assert!(page.text_of_id("file-error").is_none(), "{}", page.body);
    let b_fields = dispatch_fields(&relay, &b.get("/desk/dispatch/new"));
    let scan_b = photo(250 * 1024, 62);
    let file = Part::File {
        name: "file",
        file_name: "Bản quét B.pdf",
        media_type: "application/pdf",
        bytes: &scan_b,
    };
    let page = b.post_multipart("/desk/dispatch/new", &with_file(&b_fields, file, "attach"));
    assert!(page.text_of_id("file-error").is_none(), "{}", page.body);

    // The colleague issues first: the relay now holds 250 KB of the office's 400 KB.
    assert_eq!(press(&mut b, &b_fields, "issue").status, 303);
    // The second dispatch would go out without its scan: it is not issued, and said so.
    let page = press(&mut a, &a_fields, "issue");
    assert_eq!(page.status, 422, "{}", page.body);
    let error = page.text_of_id("file-error").unwrap_or_default();
    assert!(error.contains("chưa được ban hành") && error.contains("400 KB"), "{error}");
    assert!(relay.store.draft(staff_id(&a_staff), draft_id(&a_draft)).unwrap().unwrap().issued.is_none());
    let sources: std::collections::BTreeSet<_> =
        ward_tasks(&relay, dir.path()).into_iter().map(|t| t.source).collect();
    assert_eq!(sources.len(), 1, "only the colleague's dispatch went out");

    // A form naming two drafts is refused before its file is kept anywhere.
    let mut parts: Vec<Part<'_>> = a_fields.iter().map(|(k, v)| Part::Text(k, v)).collect();
    let other = "00112233445566778899aabbccddeeff".to_string();
    parts.insert(2, Part::Text("draft", &other));
    let small = photo(1_000, 63);
    parts.push(Part::File {
        name: "file",
        file_name: "Phụ lục.pdf",
        media_type: "application/pdf",
        bytes: &small,
    });
    parts.push(Part::Text("action", "issue"));
    assert_eq!(a.post_multipart("/desk/dispatch/new", &parts).status, 403);
    assert!(relay.store.draft(staff_id(&a_staff), draft_id(&other)).unwrap().is_none());
}
