//! The office desk at province scale: the matrix of one dispatch with 10 tasks to Đồng Nai's
//! 95 communes and wards, answered in all the ways a morning brings.
//!
//! - server time to render the matrix page (p50, p99) and the bytes it is, over loopback from
//!   a signed-in session (each render syncs the staff member's store first, as every page does);
//! - from a ward's sync starting to the open matrix showing its change: the live event, then
//!   the table fetched again.
//!
//! `cargo bench -p giaoban-e2e --bench desk` (about a minute); without `--bench` (as `cargo test
//! --benches` runs it) a smoke run with 8 wards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::BufRead;
use std::time::{Duration, Instant};

use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::{NewDeadline, NewDirective, NewReport, NewSection, NewTask, Store};
use giaoban_e2e::Relay;
use giaoban_e2e::desk::Browser;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let dir = tempfile::tempdir().unwrap();
    let relay = Relay::start(&dir.path().join("relay"));
    let wards: Vec<_> =
        relay.org.units.iter().skip(1).take(if full { 95 } else { 8 }).map(|u| u.id).collect();
    let mut province = relay.device(&dir.path().join("province.sqlite"), 0, "văn phòng");
    let due = |d: i64| {
        let t = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive() + chrono::Duration::days(d);
        t.format("trước ngày %d/%m/%Y").to_string()
    };
    let directive = province
        .issue_directive(NewDirective {
            number: "20/MTTQ-BTT".into(),
            issuer_name: "Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh Đồng Nai".into(),
            place: "Biên Hòa".into(),
            issued_on: ((chrono::Utc::now() + chrono::Duration::hours(7)).date_naive() - chrono::Duration::days(20))
                .format("%d/%m/%Y")
                .to_string(),
            subject: "V/v triển khai Tháng cao điểm “Vì người nghèo” năm 2026".into(),
            recipients: wards.clone(),
            recipients_label: "Kính gửi: Ban Thường trực Ủy ban MTTQ Việt Nam các xã, phường.".into(),
            body: "Đề nghị các xã, phường triển khai các nội dung sau:".into(),
            tasks: (1..=10)
                .map(|n| NewTask {
                    ordinal: n,
                    text: format!("Nội dung số {n}: tổ chức vận động, thăm hỏi, hỗ trợ hộ nghèo, hộ cận nghèo trên địa bàn."),
                    report_required: n % 3 == 1,
                    // Some already past, some still ahead.
                    deadline: Some(NewDeadline { text: due(n as i64 * 2 - 8), ..Default::default() }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .unwrap();
    province.sync_now().unwrap();

    let t0 = Instant::now();
    let mut phones: Vec<Store> = Vec::new();
    for (i, _) in wards.iter().enumerate() {
        let mut p = relay.device(&dir.path().join(format!("ward{i}.sqlite")), i + 1, "điện thoại");
        p.sync_now().unwrap();
        for n in 1..=10u64 {
            match (i + n as usize) % 5 {
                0 => {}
                1 => p.acknowledge_task(directive, n).unwrap(),
                2 => p.update_task_progress(directive, n, "Đang triển khai").unwrap(),
                3 if n % 3 == 1 => {
                    let r = p
                        .create_report(NewReport {
                            title: format!("Báo cáo nội dung số {n}"),
                            kind: ReportKind::Thematic,
                            period: "năm 2026".into(),
                            answers: Some((directive, n)),
                            audience: vec![],
                            sections: vec![NewSection {
                                key: "ket_qua".into(),
                                heading: "Kết quả".into(),
                                body: "Đã thăm hỏi 40 hộ.".into(),
                            }],
                        })
                        .unwrap();
                    p.submit_report(r).unwrap();
                }
                _ => p.mark_task_not_applicable(directive, n, "Không phát sinh").unwrap(),
            }
        }
        p.sync_now().unwrap();
        phones.push(p);
    }
    println!("{} wards answered in {:.1} s", wards.len(), t0.elapsed().as_secs_f64());

    let (_, password) = relay.store.add_staff(relay.org.units[0].id, "muoi.nv", "Nguyễn Văn Muối").unwrap();
    let mut b = Browser::new(&relay.url);
    assert_eq!(b.sign_in("muoi.nv", &password).status, 303);
    let path = format!("/desk/dispatch/{directive}");
    let first = Instant::now();
    let page = b.get(&path);
    println!("first open (the staff member's store downloads the province): {}", ms(first.elapsed()));
    assert_eq!(page.status, 200);
    let runs = if full { 300 } else { 10 };
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let a = b.get(&path);
        times.push(t.elapsed());
        bytes = a.body.len();
    }
    times.sort();
    // What a browser is sent: it asks for gzip.
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let cookie = format!("giaoban_desk={}", b.cookies["giaoban_desk"]);
    let mut zipped = agent
        .get(&format!("{}{path}", relay.url))
        .header("Cookie", &cookie)
        .header("Accept-Encoding", "gzip")
        .call()
        .unwrap();
    assert_eq!(zipped.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"));
    let transferred = zipped.body_mut().with_config().limit(10 << 20).read_to_vec().unwrap().len();
    println!("page sent gzipped: {transferred} bytes ({:.1} KB)", transferred as f64 / 1024.0);
    println!(
        "matrix {} units x 10 tasks: p50 {}, p99 {}, max {} over {runs} renders; page {} bytes ({:.1} KB)",
        wards.len(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap()),
        bytes,
        bytes as f64 / 1024.0
    );

    // A ward's sync to the open matrix showing it.
    let stream = agent.get(&format!("{}/desk/events", relay.url)).header("Cookie", &cookie).call().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut stream = stream;
        for line in std::io::BufReader::new(stream.body_mut().as_reader()).lines() {
            let Ok(line) = line else { return };
            if line.starts_with("data: ") && tx.send(Instant::now()).is_err() {
                return;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    while rx.try_recv().is_ok() {}
    let rounds = if full { 20 } else { 3 };
    let mut latencies = Vec::new();
    for k in 0..rounds {
        let count = phones.len();
        let i = k % count;
        let before = b.get(&format!("{path}/table")).body.matches("Đã tiếp nhận").count();
        let open: Vec<u64> = (1..=10u64).filter(|n| (i + *n as usize).is_multiple_of(5)).collect();
        let Some(&n) = open.get(k / count) else { continue };
        let ward = &mut phones[i];
        let start = Instant::now();
        ward.acknowledge_task(directive, n).unwrap();
        ward.sync_now().unwrap();
        rx.recv_timeout(Duration::from_secs(10)).expect("the open page was told");
        let table = b.get(&format!("{path}/table")).body;
        assert!(table.matches("Đã tiếp nhận").count() > before, "the change shows");
        latencies.push(start.elapsed());
        while rx.try_recv().is_ok() {}
    }
    latencies.sort();
    println!(
        "a ward's sync to the open matrix showing it: p50 {}, max {} over {} changes",
        ms(percentile(&latencies, 0.5)),
        ms(*latencies.last().unwrap()),
        latencies.len()
    );
}
