//! A 25 MB file goes up and comes down streamed: the memory of the process holding both the
//! device and the relay grows by less than 8 MB while it does (peak resident set, reset
//! before each transfer).

use std::io::Write;

use giaoban_client_core::protocol::schema::ReportKind;
use giaoban_client_core::{AttachTo, NewAttachment, NewReport, NewSection, Opened};
use giaoban_e2e::Relay;

/// (resident, peak resident) in KB.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Sets the peak back to what is resident now (Linux: "5" to clear_refs).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

#[test]
fn a_25_mb_file_goes_up_and_down_in_less_than_8_mb_of_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let relay = Relay::start(&tmp.path().join("relay"));
    moves_in_little_memory(&tmp, relay);
}

#[test]
fn a_25_mb_file_goes_up_and_down_an_object_store_in_less_than_8_mb_of_memory() {
    let Some(server) = giaoban_e2e::s3::S3Server::start("giaoban-memory") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let relay = server.relay(&tmp.path().join("relay"), "giaoban-memory");
    moves_in_little_memory(&tmp, relay);
}

/// Attaches, sends and fetches a 25 MB file, the peak memory measured at each step.
fn moves_in_little_memory(tmp: &tempfile::TempDir, relay: Relay) {
    let mut ward = relay.device(&tmp.path().join("ward.sqlite"), 1, "điện thoại cán bộ xã");
    let mut office = relay.device(&tmp.path().join("office.sqlite"), 0, "máy văn phòng tỉnh");
    let id = ward
        .create_report(NewReport {
            title: "Báo cáo kèm bản quét hồ sơ".into(),
            kind: ReportKind::Thematic,
            period: String::new(),
            answers: None,
            audience: Vec::new(),
            sections: vec![NewSection {
                key: "ket_qua".into(),
                heading: "Kết quả".into(),
                body: "Kèm bản quét hồ sơ 93 hộ được hỗ trợ.".into(),
            }],
        })
        .unwrap();
    // 25 MB written to disk in pieces, never whole in memory.
    let size: u64 = 25 * 1024 * 1024;
    let path = tmp.path().join("ho-so.pdf");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut s = 7u64;
        let mut buf = vec![0u8; 64 * 1024];
        for _ in 0..size / buf.len() as u64 {
            for b in buf.iter_mut() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                *b = (s >> 24) as u8;
            }
            f.write_all(&buf).unwrap();
        }
    }
    let input = NewAttachment {
        name: "hồ sơ 93 hộ.pdf".into(),
        media_type: "application/pdf".into(),
        caption: String::new(),
    };
    reset_peak();
    let (before, _) = rss();
    let a = ward.attach_file(AttachTo::Report(id), &path, input).unwrap();
    let (_, peak) = rss();
    println!("attach: peak {} KB above the start", peak.saturating_sub(before));
    assert!(peak - before < 8 * 1024, "attaching took {} KB", peak - before);
    ward.sync_now().unwrap();
    office.sync_now().unwrap();

    reset_peak();
    let (before, _) = rss();
    let r = ward.sync_files().unwrap();
    assert_eq!(r.sent, 1);
    let (_, peak) = rss();
    println!("send: peak {} KB above the start", peak.saturating_sub(before));
    assert!(peak - before < 8 * 1024, "sending took {} KB", peak - before);

    office.open_attachment(a.hash).unwrap();
    reset_peak();
    let (before, _) = rss();
    assert_eq!(office.sync_files().unwrap().fetched, 1);
    let (_, peak) = rss();
    println!("fetch: peak {} KB above the start", peak.saturating_sub(before));
    assert!(peak - before < 8 * 1024, "fetching took {} KB", peak - before);
    let Opened::Here(got) = office.open_attachment(a.hash).unwrap() else { panic!("here") };
    assert_eq!(std::fs::metadata(got).unwrap().len(), size);
}
