//! The desk's downloads read back by readers that are not the writer's: the dispatch and a
//! ward's report as Word files, a task's consolidation as a sheet and as the office's report.

use giaoban_e2e::desk::Browser;

/// The text of a DOCX's body, as its XML holds it.
fn docx_text(bytes: &[u8]) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a DOCX is a zip");
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("word/document.xml").unwrap(), &mut xml).unwrap();
    xml
}

/// The desk's downloads of a dispatch, a ward's report and the task's consolidation, read back
/// by readers that are not the writer's.
pub(crate) fn check_downloads(
    b: &mut Browser,
    directive: giaoban_client_core::protocol::DocId,
    report: giaoban_client_core::protocol::DocId,
    ward: &str,
) {
    use calamine::Reader;
    let text = |c: &calamine::Data| match c {
        calamine::Data::String(s) => s.clone(),
        _ => String::new(),
    };
    // A number cell, never words that look like one.
    let num = |c: &calamine::Data| match c {
        calamine::Data::Float(f) => Some(*f),
        calamine::Data::Int(i) => Some(*i as f64),
        _ => None,
    };
    let (status, headers, bytes) = b.get_bytes(&format!("/desk/dispatch/{directive}/document.docx"));
    assert_eq!(status, 200);
    let disposition = &headers["content-disposition"];
    assert!(
        disposition.contains("filename=\"") && disposition.contains("filename*=UTF-8''"),
        "{disposition}"
    );
    assert!(disposition.contains("305-MTTQ-BTT"), "{disposition}");
    let xml = docx_text(&bytes);
    for words in [
        "Số: 305/MTTQ-BTT",
        "Long Khánh, ngày 24 tháng 01 năm 2022",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "BAN THƯỜNG TRỰC",
        "Rà soát, đánh giá hiệu quả",
    ] {
        assert!(xml.contains(words), "the dispatch holds {words}");
    }

    let (status, _, bytes) = b.get_bytes(&format!("/desk/report/{report}/document.docx"));
    assert_eq!(status, 200);
    let xml = docx_text(&bytes);
    assert!(
        xml.contains("BÁO CÁO") && xml.contains("Đã rà soát 12 mô hình, nhân rộng 3."),
        "the report's words"
    );
    assert!(xml.contains("gần 850 triệu"), "its figure as written");

    let figures = format!("/desk/dispatch/{directive}/task/3/figures");
    let (status, headers, bytes) = b.get_bytes(&format!("{figures}.xlsx"));
    assert_eq!(status, 200);
    assert!(headers["content-type"].contains("spreadsheetml"));
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    let rows: Vec<Vec<calamine::Data>> = sheet.rows().map(|r| r.to_vec()).collect();
    let row =
        rows.iter().find(|r| r.first().is_some_and(|c| text(c) == ward)).expect("the accepted ward's row");
    assert!(row.iter().any(|c| num(c) == Some(850_000_000.0)), "its figure is a number: {row:?}");
    assert!(row.iter().any(|c| text(c) == "gần"), "its qualifier in its own column: {row:?}");
    let totals = rows.iter().find(|r| r.first().is_some_and(|c| text(c) == "Tổng cộng")).expect("totals");
    assert!(totals.iter().any(|c| num(c) == Some(850_000_000.0)), "{totals:?}");

    let (status, headers, bytes) = b.get_bytes(&format!("/desk/dispatch/{directive}/task/3/report.docx"));
    assert_eq!(status, 200);
    assert!(headers["content-disposition"].contains("Bao-cao-tong-hop-305-MTTQ-BTT.docx"), "{headers:?}");
    let xml = docx_text(&bytes);
    assert!(xml.contains("Tổng hợp kết quả thực hiện") && xml.contains(ward) && xml.contains("850.000.000"));
    assert!(xml.contains("Ban Dân vận Thành ủy"), "sent where the dispatch's step says");
}
