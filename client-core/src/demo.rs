//! The demo data the product ships: dispatch 305/MTTQ-BTT of Long Khánh's Front committee
//! (24/01/2022), four tasks, the third asking the communes and wards to report through đ/c
//! Muối, who consolidates three days later. Used by the demo and by tests.

use giaoban_protocol::UnitId;

use crate::{NewConsolidation, NewDeadline, NewDirective, NewTask};

/// Dispatch 305/MTTQ-BTT to `recipients`, with the report due "trước ngày `report_due`" and the
/// consolidation "trước ngày `consolidation_due`" (dd/mm/yyyy; the original: 08/02/2022 and
/// 11/02/2022).
pub fn dispatch_305(recipients: Vec<UnitId>, report_due: &str, consolidation_due: &str) -> NewDirective {
    NewDirective {
        document_kind: giaoban_protocol::schema::DocumentKind::OfficialLetter,
        number: "Số: 305/MTTQ-BTT".into(),
        issuer_name: "Ban Thường trực Ủy ban MTTQ Việt Nam thành phố Long Khánh".into(),
        place: "Long Khánh".into(),
        issued_on: "ngày   24   tháng  01  năm 2022".into(),
        subject: "V/v thực hiện Thông báo số 161-TB/TU ngày 07/01/2022 của BTV Thành ủy".into(),
        basis: vec!["Thông báo số 161-TB/TU ngày 07/01/2022 của Ban Thường vụ Thành ủy Long Khánh".into()],
        recipients,
        recipients_label: "Kính gửi: Ban Thường trực UBMTTQVN các xã, phường.".into(),
        copies_to: vec![
            "Như trên;".into(),
            "Ban Dân vận Thành ủy (b/c);".into(),
            "Văn phòng Thành ủy (b/c);".into(),
            "Lưu: VT.".into(),
        ],
        signer: None,
        body: "Ban Thường trực Ủy ban MTTQ Việt Nam thành phố đề nghị Ban Thường trực Ủy ban MTTQ Việt Nam các xã, phường phối hợp các tổ chức chính trị - xã hội cùng cấp triển khai một số nội dung sau:".into(),
        tasks: vec![
            NewTask {
                ordinal: 1,
                text: "Tiếp tục đẩy mạnh công tác tập hợp quần chúng trong độ tuổi vào tổ chức, có giải pháp nâng cao chất lượng hoạt động.".into(),
                ..NewTask::default()
            },
            NewTask {
                ordinal: 2,
                text: "Chủ động theo dõi, nắm bắt và tổng hợp tình hình Nhân dân, tình hình doanh nghiệp và công nhân lao động.".into(),
                ..NewTask::default()
            },
            NewTask {
                ordinal: 3,
                text: format!("Rà soát, đánh giá hiệu quả hoạt động các mô hình của Mặt trận; báo cáo kết quả thực hiện cho Ban Thường trực Ủy ban MTTQ Việt Nam thành phố (qua đ/c Muối-CV) trước ngày {report_due}."),
                report_required: true,
                deadline: Some(NewDeadline { text: format!("trước ngày {report_due}"), due: None, exclusive: None }),
                contact: Some("đ/c Muối-CV".into()),
                contact_person: None,
                coordinate_with: Vec::new(),
                indicators: vec!["mo_hinh_ra_soat".into(), "mo_hinh_giai_the".into(), "mo_hinh_nhan_rong".into()],
                consolidation: Some(NewConsolidation {
                    text: "Giao đ/c Muối tổng hợp, báo cáo cho Ban Thường trực Ủy ban MTTQ Việt Nam thành phố, Ban Dân vận Thành ủy và Văn phòng Thành ủy.".into(),
                    contact: Some("đ/c Muối".into()),
                    deadline: NewDeadline { text: format!("trước ngày {consolidation_due}"), due: None, exclusive: None },
                    report_to: vec!["Ban Dân vận Thành ủy".into(), "Văn phòng Thành ủy".into()],
                }),
                from_conclusion: None,
            },
            NewTask {
                ordinal: 4,
                text: "Rà soát, căn cứ nhiệm vụ năm 2022 để xây dựng kế hoạch thực hiện các nội dung giám sát, phản biện xã hội.".into(),
                ..NewTask::default()
            },
        ],
    }
}

/// Task document number `i` of the anchor workload the sync targets are stated for: a
/// one-task directive of a handful of scalar fields and ~80 characters of task text.
pub fn anchor_task(i: usize, recipient: UnitId) -> NewDirective {
    NewDirective {
        number: format!("{}/MTTQ-BTT", 100 + i),
        issuer_name: "UBMTTQ tỉnh Đồng Nai".into(),
        place: "Biên Hòa".into(),
        issued_on: "24/01/2022".into(),
        subject: format!("V/v nhiệm vụ số {i}"),
        recipients: vec![recipient],
        tasks: vec![NewTask {
            ordinal: 1,
            text: format!("Rà soát mô hình số {i:04} và báo cáo kết quả qua đ/c Muối trước ngày hạn định."),
            report_required: true,
            deadline: Some(NewDeadline { text: "trước ngày 08/02/2030".into(), ..Default::default() }),
            ..Default::default()
        }],
        ..Default::default()
    }
}
