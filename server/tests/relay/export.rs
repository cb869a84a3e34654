//! `giaoban-relay export` against the relay binary serving the demo organisation: a staff
//! account made with `admin staff add` while it serves, the seed dispatch 305/MTTQ-BTT the
//! demo plays, and the files a script gets, with each way it can fail said clearly.

use crate::common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_giaoban-relay");

/// The relay binary serving `--demo`, killed when dropped.
struct DemoRelay {
    child: Child,
    port: u16,
    /// Every line the relay printed (its codes and the demo's sign-in among them).
    printed: Vec<String>,
}

impl Drop for DemoRelay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl DemoRelay {
    /// Starts `serve --demo` on `data` and waits until the demo's dispatch has been played.
    fn start(data: &Path) -> DemoRelay {
        let port = common::free_port();
        let mut child = Command::new(BIN)
            .args(["serve", "--demo"])
            .env("GIAOBAN_RELAY_DATA_DIR", data)
            .env("GIAOBAN_RELAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Reads to the end, so the relay never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut relay = DemoRelay { child, port, printed: Vec::new() };
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(180))
                .unwrap_or_else(|_| panic!("the demo did not play its dispatch: {:?}", relay.printed));
            let done = line.starts_with("Văn bản mẫu 305/MTTQ-BTT đã giao");
            relay.printed.push(line);
            if done {
                return relay;
            }
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The enrollment code the demo printed for the unit whose line starts with `unit`.
    fn code_of(&self, unit: &str) -> String {
        let line = self.printed.iter().find(|l| l.trim_start().starts_with(unit)).expect("a code line");
        line.split_whitespace().last().unwrap().to_string()
    }
}

/// `admin staff add` on the serving relay's data: the new account's password.
fn add_staff(data: &Path, login: &str, name: &str) -> String {
    let out = Command::new(BIN)
        .args(["admin", "staff", "add", "--unit", "Đồng Nai", "--login", login, "--name", name])
        .env("GIAOBAN_RELAY_DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find(|l| l.starts_with("Mật khẩu")).expect("the password is printed");
    line.rsplit(": ").next().unwrap().trim().to_string()
}

/// What an export run said.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `giaoban-relay export ARGS` in `dir`, with `password` in the environment (none if `None`).
fn export_in(dir: &Path, password: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.arg("export")
        .args(args)
        .current_dir(dir)
        .env_remove("GIAOBAN_DESK_PASSWORD")
        .env_remove("GIAOBAN_DESK_ACCOUNT")
        .env_remove("GIAOBAN_RELAY_LISTEN")
        .env("RUST_LOG", "warn");
    if let Some(p) = password {
        cmd.env("GIAOBAN_DESK_PASSWORD", p);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd.output().unwrap())
}

/// The text of a DOCX's body, as its XML holds it.
fn docx_text(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a DOCX is a zip");
    let mut xml = String::new();
    zip.by_name("word/document.xml")
        .expect("a DOCX holds word/document.xml")
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// The first column of each row of an XLSX's first sheet, as text.
fn first_column(path: &Path) -> Vec<String> {
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(std::fs::read(path).unwrap())).unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    sheet
        .rows()
        .map(|r| match r.first() {
            Some(calamine::Data::String(s)) => s.clone(),
            _ => String::new(),
        })
        .collect()
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Sessions of `login` the relay holds.
fn sessions_of(data: &Path, login: &str) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        data.join("relay.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.query_row(
        "SELECT count(*) FROM staff_sessions ss JOIN staff s ON s.id = ss.staff WHERE s.login = ?1",
        [login],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn a_script_exports_the_dispatch_its_consolidation_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let files = dir.path().join("xuat");
    std::fs::create_dir(&files).unwrap();
    let relay = DemoRelay::start(&data);
    let url = relay.url();
    let password = add_staff(&data, "muoi.nv", "Nguyễn Văn Muối");
    let pw = Some(password.as_str());
    let export = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--account", "muoi.nv", "--relay", &url]);
        export_in(&files, pw, &all, &[])
    };

    // The dispatch by its number as printed, the relay's address from the configuration's
    // listen address, the file named as the relay names the download.
    let listen = format!("127.0.0.1:{}", relay.port);
    let r = export_in(
        &files,
        pw,
        &["dispatch", "305/MTTQ-BTT", "--account", "muoi.nv"],
        &[("GIAOBAN_RELAY_LISTEN", &listen)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let dispatch = files.join("Cong-van-305-MTTQ-BTT.docx");
    assert!(r.stdout.contains("Cong-van-305-MTTQ-BTT.docx") && r.stdout.contains("bytes"), "{}", r.stdout);
    let xml = docx_text(&dispatch);
    for words in ["Số: 305/MTTQ-BTT", "Long Khánh, ngày 24 tháng 01 năm 2022", "BAN THƯỜNG TRỰC"] {
        assert!(xml.contains(words), "the dispatch holds {words}");
    }

    // The number however it is typed; the same document gives the same bytes.
    let r = export(&["dispatch", "  Số: 305 / mttq-btt ", "--out", "cong-van.docx"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(files.join("cong-van.docx")).unwrap(), std::fs::read(&dispatch).unwrap());

    // Task 3's figures: accepted reports only (none yet), then every report submitted.
    let r = export(&["consolidation", "305/MTTQ-BTT", "--task", "3"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = first_column(&files.join("Tong-hop-nhiem-vu-3-305-MTTQ-BTT.xlsx"));
    assert!(rows.iter().any(|r| r.starts_with("Tính 0 đơn vị")), "{rows:?}");
    assert!(rows.iter().any(|r| r.contains("phường An Lộc (đã báo cáo, chờ duyệt)")), "{rows:?}");
    let r =
        export(&["consolidation", "305/MTTQ-BTT", "--task", "3", "--all-submitted", "--out", "tat-ca.xlsx"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = first_column(&files.join("tat-ca.xlsx"));
    assert!(rows.iter().any(|r| r == "Ủy ban MTTQ Việt Nam phường An Lộc"), "the ward is a row: {rows:?}");
    let r = export(&["consolidation", "305/MTTQ-BTT", "--task", "3", "--format", "docx", "--all-submitted"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let xml = docx_text(&files.join("Bao-cao-tong-hop-305-MTTQ-BTT.docx"));
    assert!(
        xml.contains("Tổng hợp kết quả thực hiện") && xml.contains("phường An Lộc"),
        "the office's report"
    );

    // The ward's report, by the dispatch's number and the ward's short name.
    let r = export(&["report", "305/MTTQ-BTT", "--unit", "P. An Lộc", "--out", "bao-cao-an-loc.docx"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let xml = docx_text(&files.join("bao-cao-an-loc.docx"));
    assert!(xml.contains("Ban Thường trực đã rà soát 12 mô hình"), "the report's words");
    let r = export(&["report", "305/MTTQ-BTT", "--unit", "xã An Phước"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("chưa gửi báo cáo"), "{}", r.stderr);

    let before = names_in(&files);

    // A wrong password: refused, said so, nothing written.
    let r = export_in(
        &files,
        Some("sai-mat-khau"),
        &["dispatch", "305/MTTQ-BTT", "--account", "muoi.nv", "--relay", &url, "--out", "sai.docx"],
        &[],
    );
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("wrong account or password") && r.stderr.contains("GIAOBAN_DESK_PASSWORD"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());

    // A number nobody issued, and a task the dispatch does not have.
    let r = export(&["dispatch", "999/MTTQ-BTT"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("no dispatch numbered 999/MTTQ-BTT"), "{}", r.stderr);
    assert!(r.stderr.contains("Không tìm thấy văn bản"), "the relay's own words: {}", r.stderr);
    let r = export(&["consolidation", "305/MTTQ-BTT", "--task", "9"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("has no task 9"), "{}", r.stderr);

    // An existing file is kept unless --force.
    std::fs::write(files.join("cong-van.docx"), "bản cũ").unwrap();
    let r = export(&["dispatch", "305/MTTQ-BTT", "--out", "cong-van.docx"]);
    assert_eq!(r.code, 8, "{}", r.stderr);
    assert!(r.stderr.contains("exists already") && r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(files.join("cong-van.docx")).unwrap(), "bản cũ");
    let r = export(&["dispatch", "305/MTTQ-BTT"]);
    assert_eq!(r.code, 8, "the relay's name is kept too: {}", r.stderr);
    let r = export(&["dispatch", "305/MTTQ-BTT", "--out", "cong-van.docx", "--force"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(docx_text(&files.join("cong-van.docx")).contains("Số: 305/MTTQ-BTT"));

    // No password in the environment, and no relay at the address.
    let r =
        export_in(&files, None, &["dispatch", "305/MTTQ-BTT", "--account", "muoi.nv", "--relay", &url], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("set GIAOBAN_DESK_PASSWORD"), "{}", r.stderr);
    let nobody = format!("http://127.0.0.1:{}", common::free_port());
    let r =
        export_in(&files, pw, &["dispatch", "305/MTTQ-BTT", "--account", "muoi.nv", "--relay", &nobody], &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("cannot reach the relay at {nobody}")), "{}", r.stderr);

    // Nothing written by the failures, and no temporary file left beside the others.
    assert_eq!(names_in(&files), before);
    assert!(!names_in(&files).iter().any(|n| n.starts_with('.') || n.ends_with(".part")));
    // Every export signed out again.
    assert_eq!(sessions_of(&data, "muoi.nv"), 0);

    // A second dispatch numbered 305/MTTQ-BTT (a new year's count), issued from the province
    // office's phone: the number alone no longer says which, and the export names both.
    let mut phone = giaoban_client_core::Store::open(dir.path().join("van-phong.sqlite")).unwrap();
    phone.enroll(&url, &relay.code_of("Ủy ban MTTQ Việt Nam tỉnh Đồng Nai"), "Điện thoại văn phòng").unwrap();
    phone.sync_now().unwrap();
    let wards: Vec<_> =
        phone.shared_unit_directory().unwrap().units.iter().skip(1).take(2).map(|u| u.id).collect();
    let mut again = giaoban_client_core::demo::dispatch_305(wards, "30/01/2023", "05/02/2023");
    again.issued_on = "ngày 10 tháng 01 năm 2023".into();
    let second = phone.issue_directive(again).unwrap();
    phone.sync_now().unwrap();
    let r = export(&["dispatch", "305/MTTQ-BTT", "--out", "hai.docx"]);
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(r.stderr.contains("several dispatches"), "{}", r.stderr);
    assert!(r.stderr.contains("ngày 24/01/2022") && r.stderr.contains("ngày 10/01/2023"), "{}", r.stderr);
    assert!(r.stderr.contains(&second.to_string()), "{}", r.stderr);
    let r = export(&["dispatch", &second.to_string(), "--out", "hai.docx"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(docx_text(&files.join("hai.docx")).contains("ngày 10 tháng 01 năm 2023"));
}

#[test]
fn an_account_locked_after_wrong_passwords_is_said_to_be() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("relay");
    let port = common::free_port();
    let mut relay = common::start_relay(&data, port, &[]);
    let url = format!("http://127.0.0.1:{port}");
    let mut last = None;
    for _ in 0..giaoban_relay::store::FAILURES_BEFORE_LOCK {
        // A login nobody has is locked alike: the answers never tell which logins exist.
        last = Some(export_in(
            dir.path(),
            Some("doan-bua"),
            &["dispatch", "305/MTTQ-BTT", "--account", "khach.la", "--relay", &url],
            &[],
        ));
    }
    relay.kill().unwrap();
    relay.wait().unwrap();
    let r = last.unwrap();
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(
        r.stderr.contains("is locked") && r.stderr.contains("admin staff reset --login khach.la"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Tài khoản tạm khóa"), "the relay's own words: {}", r.stderr);
}
