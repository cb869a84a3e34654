//! Realistic workloads for benchmarks and load tests: directives, reports and answers built
//! from the sentences of real dispatches and reports (the seed documents), varied by a seeded
//! generator so no two documents repeat one sentence with a number changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use giaoban_client_core::protocol::UnitId;
use giaoban_client_core::protocol::schema::{FigureScope, MeasureUnit, Person, ReportKind};
use giaoban_client_core::{FigureInput, NewDeadline, NewDirective, NewReport, NewSection, NewTask};
use rand::Rng;
use rand::rngs::StdRng;

/// Sentences of the seed documents (dispatches, briefing conclusions, reports), as written.
pub const SENTENCES: &[&str] = &[
    "V/v thực hiện Thông báo số 161-TB/TU ngày 07/01/2022 của BTV Thành ủy",
    "Ban Thường trực UBMTTQVN các xã, phường.",
    "Thực hiện Thông báo số 161-TB/TU ngày 07/01/2022 của Ban Thường vụ Thành ủy Long Khánh về kết luận của đồng chí Phó Bí thư Thường trực Thành ủy tại hội nghị giao ban khối dân vận năm 2021.",
    "Ban Thường trực Ủy ban MTTQ Việt Nam thành phố đề nghị Ban Thường trực Ủy ban MTTQ Việt Nam các xã, phường phối hợp các tổ chức chính trị - xã hội cùng cấp triển khai một số nội dung sau:",
    "Đẩy mạnh tuyên truyền, vận động đoàn viên, hội viên và Nhân dân thực hiện nghiêm 5K trong phòng, chống dịch Covid-19 theo khuyến cáo của bộ Y tế;",
    "tích cực tham gia khắc phục những khó khăn, các giải pháp thực hiện “mục tiêu kép” vừa phòng, chống dịch bệnh Covid-19, vừa phục hồi phát triển kinh tế - xã hội, đảm bảo quốc phòng - an ninh, xây dựng đảng, xây dựng hệ thống chính trị.",
    "Rà soát, đánh giá hiệu quả hoạt động các mô hình của Mặt trận, có giải pháp nâng cao chất lượng hoặc tiến hành giải thể đối với các mô hình hoạt động không hiệu quả, đồng thời nhân rộng, phát huy hơn nữa các mô hình hiệu quả;",
    "báo cáo kết quả thực hiện cho Ban Thường trực Ủy ban MTTQ Việt Nam thành phố (qua đ/c Muối-CV) trước ngày 08/02/2022.",
    "Giao đ/c Muối tổng hợp, báo cáo cho Ban Thường trực Ủy ban MTTQ Việt Nam thành phố, Ban Dân vận Thành ủy và Văn phòng Thành ủy trước ngày 11/02/2022.",
    "Rà soát, căn cứ nhiệm vụ năm 2022 để xây dựng kế hoạch thực hiện các nội dung giám sát, phản biện xã hội sát với tình hình thực tế và nhu cầu của Nhân dân, đem lại hiệu quả thiết thực, góp phần hoàn thành thắng lợi thi đua.",
    "Ban Thường trực Ủy ban MTTQ Việt Nam thành phố đề nghị Ban Thường trực Ủy ban MTTQ Việt Nam các xã, phường quan tâm triển khai thực hiện./.",
    "Hội nghị giao ban công tác Mặt trận quý IV- năm 2020",
    "Ngày 18-12, tại huyện Ninh Sơn, Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh tổ chức Hội nghị giao ban công tác Mặt trận quý IV năm 2020 và đề ra một số nhiệm vụ trọng tâm công tác Mặt trận năm 2021.",
    "Trong quý IV, Mặt trận các cấp đã tích cực phối hợp với các ngành, chức năng thực hiện tốt nhiệm vụ chính trị được giao.",
    "Tiếp tục triển khai sâu rộng, đồng bộ, có chất lượng, hiệu quả các cuộc vận động “Toàn dân đoàn kết xây dựng nông thôn mới, đô thị văn minh” gắn với giảm nghèo bền vững;",
    "đẩy mạnh tuyên truyền về Tháng cao điểm vì người nghèo và phong trào “Cả nước chung tay vì người nghèo – Không để ai bị bỏ lại phía sau”;",
    "tổ chức đa dạng các hoạt động hưởng ứng Ngày hội “Đại đoàn kết toàn dân tộc” ở khu dân cư;",
    "phối hợp các ban, ngành tuyên truyền Luật Nghĩa vụ quân sự, vận động thanh niên trong độ tuổi tham gia khám tuyển nghĩa vụ quân sự theo quy định.",
    "Thực hiện tốt nhiệm vụ giám sát, phản biện xã hội của Mặt trận và các đoàn thể.",
    "Công tác chăm lo cho người nghèo và các hoạt động an sinh xã hội được Mặt trận các cấp phối hợp triển khai hiệu quả.",
    "Tính đến nay, quỹ “Vì người nghèo” đã tiếp nhận được 6,4 tỷ đồng, hỗ trợ sửa chữa và xây mới 93 nhà Đại đoàn kết cho hộ nghèo khó khăn về nhà ở.",
    "Đặc biệt trước thiệt hại do mưa, lũ gây ra tại các tỉnh miền Trung – Tây Nguyên, Ủy ban MTTQ Việt Nam tỉnh vận động và tiếp nhận gần 850 triệu đồng từ các cơ quan, đoàn thể, cá nhân ủng hộ.",
    "Ủy ban MTTQ Việt Nam tỉnh tổ chức Hội nghị giao ban công tác Mặt trận quý IV năm 2020.",
    "Tiếp tục phát huy những kết quả đạt được, trong năm 2021, Ủy ban MTTQ các cấp tiếp tục nâng cao hiệu quả công tác tuyên truyền, vận động, tập hợp các tầng lớp nhân dân, củng cố và phát huy sức mạnh đại đoàn kết toàn dân tộc.",
    "Trong đó, tập trung vào nội dung tuyên truyền, quán triệt nhân dân tích cực tham gia thực hiện có hiệu quả Nghị quyết Đại hội Đảng các cấp;",
    "nâng cao ý thức cảnh giác, chủ động thực hiện các phương pháp phòng, chống dịch COVID-19.",
    "Tiếp tục tổ chức thực hiện có hiệu quả các phong trào thi đua yêu nước, triển khai sâu rộng cuộc vận động “Toàn dân đoàn kết xây dựng nông thôn mới, đô thị văn minh”;",
    "cuộc vận động “Người Việt Nam ưu tiên dùng hàng Việt Nam”;",
    "tổ chức các hoạt động chăm lo cho người nghèo, đồng bào vùng bị ảnh hưởng do thiên tai, dịch bệnh;",
    "triển khai thực hiện có hiệu quả công tác giám sát, phản biện xã hội;",
    "chủ động nắm bắt tình hình, nguyện vọng của các các tầng lớp nhân dân;",
    "thực hiện tốt các quy chế, chương trình phối hợp giữa Ủy ban MTTQ các cấp với các cơ quan Nhà nước và các tổ chức thành viên cùng cấp.",
    "Hoạt động Đảng - Ủy ban MTTQ và các Đoàn thể",
    "Hội nghị giao ban Mặt trận các xã tháng 6/2018.",
    "Ngày 03/7/2018, Ban Thường trực Ủy ban MTTQ Việt Nam huyện tổ chức Hội nghị giao ban cùng Ban Thường trực Ủy ban MTTQ Việt Nam các xã nhằm đánh giá kết quả thực hiện một số nhiệm vụ trọng tâm tháng 6 và phương hướng nhiệm vụ tháng 7/2018.",
    "Sau khi nghe báo cáo kết quả triển khai công tác phối hợp tổ chức thực hiện nhiệm vụ trong tháng 6 và phương hướng nhiệm vụ tháng 7/2018;",
    "qua các ý kiến đóng góp của Ban Thường trực Ủy ban MTTQ Việt Nam các xã, Ban Công tác Mặt trận của xã Lai Hưng.",
    "Ông Nguyễn Thành Tốt - Chủ trì Hội nghị đã biểu dương MTTQ các xã có cố gắng hoàn thành nhiệm vụ trong tháng 6, ghi nhận các ý kiến đóng góp của Ban Thường trực Ủy ban MTTQ Việt Nam các xã, 4 Ban Công tác Mặt trận của xã Lai Hưng và kết luận chỉ đạo như sau:",
    "Đối với Ban Thường trực Ủy ban MTTQ Việt Nam huyện:",
    "Tăng cường đi cơ sở, tiếp tục theo dõi nắm bắt dư luận xã hội về để có định hướng tuyên truyền;",
    "nắm sát tình hình tâm tư, nguyện vọng của nhân dân trên địa bàn huyện để phản ảnh kịp thời, đồng thời theo dõi việc trả lời của các ngành chức năng qua kiến nghị cử tri.",
    "Hướng dẫn đề cương xây dựng Văn kiện Đại hội MTTQ Việt Nam nhiệm kỳ 2019-2024 cho Ban Thường trực Ủy ban MTTQ Việt Nam các xã.",
    "Đối với Ban Thường trực Ủy ban MTTQ Việt Nam các xã:",
    "Thường xuyên theo dõi và báo cáo tâm tư, nguyện vọng của nhân dân, kịp thời tuyên truyền cho nhân dân về âm mưu và thủ đoạn của thế lực thù địch.",
    "Đẩy nhanh viết tin, bài trên các trang thông tin điện tử của tỉnh, huyện đối với các xã ít tham gia hoặc chưa tham gia, thường xuyên truy cập, trao đổi thông tin hai chiều qua trang Web và địa chỉ mail của Mặt trận.",
    "Phối hợp với các ngành xã cùng Ban Công tác Mặt trận ấp kiểm tra, rà soát hộ nghèo để có hướng giúp đở thoát nghèo, vươn lên trong cuộc sống.Tiếp tục vận động gắn “Camera an ninh” để phục vụ cho công tác an ninh trật tự ở địa phương;",
    "thực hiện mô hình “Ánh sáng an ninh” được nhân rộng hiệu quả ở các xã.",
    "Các xã khẩn trương xem xét, chọn lựa nhân sự để xây dựng lực lượng nòng cốt trong hệ thống Mặt trận theo hướng dẫn.",
    "Xây dựng kế hoạch nội dung văn kiện Đại hội MTTQ Việt Nam xã nhiệm kỳ 2019-2024, thành lập các tiểu ban của Đại hội theo hướng dẫn của Ban Thường trực Ủy ban MTTQ Việt Nam huyện.",
    "Quán triệt trong cán bộ Mặt trận từ xã đến ấp an tâm công tác, phấn đấu hoàn thành nhiệm vụ được giao.",
    "Thường trực Thị uỷ tổ chức trực báo quý I/2022 với Mặt trận và các tổ chức chính trị - xã hội thị xã",
    "Chiều ngày 07/4/2022, đồng chí Bùi Văn Lý, Phó Bí thư Thường trực Thị ủy chủ trì trực báo quý I/2022 với Mặt trận và các tổ chức chính trị - xã hội thị xã để đánh giá tình hình, kết quả thực hiện nhiệm vụ quý I và triển khai nhiệm vụ trọng tâm quý II/2022.",
    "Tham dự buổi trực báo có lãnh đạo Ban Dân vận Thị ủy, Văn phòng thị xã, lãnh đạo Ủy ban MTTQ Việt Nam và các tổ chức chính trị - xã hội thị xã.",
    "Trong quý I/2022, Mặt trận và các tổ chức chính trị - xã hội thị xã đã bám sát nhiệm vụ chính trị của Đảng bộ thị xã và chương trình của hội, đoàn thể cấp trên để phát động, tổ chức các hoạt động đạt hiệu quả, chất lượng;",
    "xây dựng chương trình giám sát, phản biện xã hội và kế hoạch tổ chức các hoạt động trong năm 2022 và đã tập trung tổ chức triển khai thực hiện sau khi có ý kiến thống nhất của Ban Thường vụ, Thường trực Thị ủy;",
    "tiếp tục quan tâm, chăm lo công tác phát triển đoàn viên, hội viên;",
    "tích cực tuyên truyền đoàn viên, hội viên, các tầng lớp nhân dân tích cực tham gia các cuộc vận động, phong trào thi đua yêu nước, thực hiện tốt các chủ trương của Đảng, chính sách, pháp luật của Nhà nước;",
    "cùng cấp ủy, chính quyền chuẩn bị, chăm lo Tết Nguyên đán Nhâm Dần 2022 cho Nhân dân thị xã;",
    "tham gia vào công tác phòng, chống dịch bệnh Covid-19 trên địa bàn thị xã trong trạng thái bình thường mới;",
    "phối hợp vận động thanh niên lên đường nhập ngũ;",
    "nắm chắc tình hình, tâm trạng của người dân nơi có Dự án đi qua để kịp thời thông tin đến các cơ quan chức năng;",
    "tiếp tục tập trung thực hiện chương trình giám sát, phản biện xã hội, tích cực tham gia xây dựng Đảng và chính quyền;",
    "thực hiện công tác quy hoạch cán bộ đảm bảo các mốc thời gian theo kế hoạch của Ban Thường vụ Thị ủy;",
    "tham gia phối hợp tổ chức diễn tập khu vực phòng thủ kết hợp phòng thủ dân sự thị xã năm 2022;",
    "tiếp tục tổ chức thực hiện các hoạt động, phong trào có nội dung thiết thực, bám sát nội dung, mục tiêu phát triển chung của thị xã.",
    "Riêng đối với Hội Cựu chiến binh thị xã và Thị đoàn, trong quý II cần tập trung tối đa cho công tác chỉ đạo, tổ chức Đại hội đại biểu Hội Cựu chiến binh và Đại hội Đoàn Thanh niên Cộng sản Hồ Chí Minh các cấp trong thị xã nhiệm kỳ 2022 - 2027.",
    "Lương Văn Thuận, chuyên viên Văn phòng thị xã",
    "Hội nghị tổng kết công tác Mặt trận năm 2022, triển khai chương trình phối hợp thống nhất hành động năm 2023",
    "Sáng ngày 18/11, UBMTTQ xã tổ chức hội nghị tổng kết công tác Mặt trận năm 2022, triển khai chương trình phối hợp thống nhất hành động năm 2023.",
    "Năm 2022, Ủy ban MTTQ xã và các tổ chức thành viên đã bám sát nhiệm vụ chính trị của địa phương, triển khai toàn diện, có hiệu quả chương trình phối hợp thống nhất hành động năm 2022.",
    "Theo đó, MTTQ các cấp đã làm tốt công tác tuyên truyền, vận động Nhân dân thực hiện có hiệu quả “Mục tiêu kép” vừa phát triển kinh tế, vừa phòng chống dịch COVID-19;",
    "các quy định mới của TW, của tỉnh, huyện.",
    "Ban Thường trực Ủy ban MTTQ xã đã xây dựng kế hoạch phát động các cơ quan, tổ chức, đơn vị, các tầng lớp nhân dân trong xã tham gia ủng hộ các gia đình có hoàn cảnh khó khăn, tai nạ đột xuất với số tiền hơn 20 triệu đồng.",
    "Công tác tham gia bầu cử trưởng thôn nhiệm kỳ 2022-2025 được UBMTTQ các cấp trong xã tổ chức thực hiện đảm bảo đúng quy định của pháp luật, .",
    "Phối hợp hướng dẫn các xóm, tổ dân phố lấy ý kiến đồng thuận của người dân trong việc thực hiện xây dựng NTM nâng cao, thôn kiểu mẫu.",
    "Hướng dẫn quy trình kiện toàn Ban công tác Mặt trận sau khi có thay đổi.",
    "Thường xuyên nắm bắt tâm tư, nguyện vọng của nhân dân phản ánh tới các cấp chính quyền, đáp ứng nguyện vọng của nhân dân.Công tác tuyên truyền, vận động, tập hợp các tầng lớp Nhân dân;",
    "củng cố, tăng cường, phát huy sức mạnh đại đoàn kết toàn dân tộc được quan tâm.",
    "Làm tốt công tác tuyên truyền, vận động chức sắc, chức việc và tín đồ các tôn giáo tham gia thực hiện tốt chủ trương, đường lối của Đảng, chính sách, pháp luật của Nhà nước.",
    "Thực hiện tốt công tác xây dựng đảng, xây dựng chính quyền, thực hiện Pháp lệnh dân chủ, qua đó phát huy dân chủ, nâng cao nhận thức của nhân dân, tạo sự đồng thuận xã hội, giữ vững an ninh chính trị và trật tự an toàn xã hội trên địa bàn xã.",
    "Các phong trào, các cuộc vận động tiếp tục được triển khai, nhất là cuộc vận động \"Toàn dân đoàn kết xây dựng nông thôn mới, đô thị văn minh\";",
    "tham gia đóng góp ủng hộ xây dựng nông thôn mới, thực hiện nếp sống văn hóa trong việc cưới, việc tang, hoàn thiện các tiêu chí xây dựng nông thôn mới nâng cao, nông thôn mới kiểu mẫu.",
    "Công tác phòng, chống dịch bệnh được đảm bảo, Nhân dân tích cực ủng hộ Quỹ Ngày vì người nghèo;",
    "thực hiện tốt chương trình an sinh xã hội, chăm lo tết cho người nghèo, các đối tượng chính sách.",
    "Thạm dự hội nghị Đ/c Nguyễn Văn Bốn BT.ĐU-CTHĐND phát biểu gi nhận những kết quả của MTTQ xã yêu cầu phát huy những kết quả đạt được khắc phục những tồn tại hạn chế.",
    "MTTQ luôn phải đi đầu trong các phong trào xây dựng của địa phương.",
    "Tăng cường công tác đại đoàn kết trong nhân dân",
    "Tại hội nghị, đã khen thưởng cho các tập thể và cá nhân có thành tích xuất sắc trong công tác Mặt trận năm 2022./.",
];

const PLACES: &[&str] = &[
    "khu phố 1",
    "khu phố 3",
    "ấp Đồng Sổ",
    "ấp Suối Tre",
    "thôn Bình Lộc",
    "tổ dân phố 7",
    "xóm Chợ",
    "khu dân cư Hòa Bình",
    "ấp Lai Hưng",
    "buôn Ea H’Leo",
    "bản Nà Lừa",
    "khóm Thạnh Mỹ",
];

const INDICATORS: &[(&str, MeasureUnit)] = &[
    ("quy_vi_nguoi_ngheo_vnd", MeasureUnit::Vnd),
    ("ung_ho_thien_tai_vnd", MeasureUnit::Vnd),
    ("nha_dai_doan_ket", MeasureUnit::Houses),
    ("ho_ngheo_duoc_ho_tro", MeasureUnit::Households),
    ("doan_vien_ket_nap", MeasureUnit::People),
    ("cuoc_giam_sat", MeasureUnit::Events),
];

/// Between `count.start` and `count.end - 1` sentences of the seeds, sometimes followed by a
/// place and a number.
pub fn prose(rng: &mut StdRng, count: std::ops::Range<usize>) -> String {
    let n = rng.random_range(count);
    let mut out = String::new();
    for i in 0..n {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(SENTENCES[rng.random_range(0..SENTENCES.len())]);
        if rng.random_bool(0.3) {
            out.push_str(&format!(
                " Tại {} có {} hộ tham gia.",
                PLACES[rng.random_range(0..PLACES.len())],
                rng.random_range(3..400)
            ));
        }
    }
    out
}

/// A dispatch of `tasks` tasks to `recipients`, numbered `number`, the report task due
/// "trước ngày `due`".
pub fn directive(rng: &mut StdRng, number: usize, recipients: Vec<UnitId>, due: &str) -> NewDirective {
    let tasks = rng.random_range(2..6);
    NewDirective {
        number: format!("Số: {number}/MTTQ-BTT"),
        issuer_name: "Ban Thường trực Ủy ban MTTQ Việt Nam tỉnh Đồng Nai".into(),
        place: "Biên Hòa".into(),
        issued_on: format!("ngày {} tháng {:02} năm 2029", rng.random_range(1..28), rng.random_range(1..13)),
        subject: format!("V/v {}", prose(rng, 1..2).chars().take(160).collect::<String>()),
        basis: vec![],
        recipients,
        recipients_label: "Kính gửi: Ban Thường trực UBMTTQVN các xã, phường.".into(),
        signer: Some(("TM. BAN THƯỜNG TRỰC".into(), "Nguyễn Văn Bốn".into())),
        body: prose(rng, 2..3),
        tasks: (1..=tasks)
            .map(|ordinal| NewTask {
                ordinal,
                text: prose(rng, 1..3),
                report_required: ordinal == 1,
                deadline: (ordinal == 1)
                    .then(|| NewDeadline { text: format!("trước ngày {due}"), ..Default::default() }),
                contact: (ordinal == 1).then(|| "đ/c Muối-CV".to_string()),
                contact_person: (ordinal == 1).then(|| Person {
                    name: "Nguyễn Văn Muối".into(),
                    title: "Chuyên viên".into(),
                    phone: "0251 3877 123".into(),
                }),
                coordinate_with: if ordinal == 2 {
                    vec!["Hội Cựu chiến binh".into()]
                } else {
                    Vec::new()
                },
                ..Default::default()
            })
            .collect(),
        copies_to: vec!["Như trên;".into(), "Lưu: VT.".into()],
        ..Default::default()
    }
}

/// A ward's report, answering task 1 of `directive` if given, with three or four sections of
/// prose.
pub fn report(rng: &mut StdRng, directive: Option<giaoban_client_core::protocol::DocId>) -> NewReport {
    let mut sections = vec![
        NewSection {
            key: "ket_qua".into(), heading: "Kết quả thực hiện".into(), body: prose(rng, 3..8)
        },
        NewSection {
            key: "han_che".into(), heading: "Hạn chế, nguyên nhân".into(), body: prose(rng, 1..4)
        },
        NewSection {
            key: "phuong_huong".into(), heading: "Phương hướng".into(), body: prose(rng, 1..4)
        },
    ];
    if rng.random_bool(0.5) {
        sections.push(NewSection {
            key: "kien_nghi".into(),
            heading: "Đề xuất, kiến nghị".into(),
            body: prose(rng, 1..2),
        });
    }
    NewReport {
        title: format!(
            "Báo cáo kết quả thực hiện {}",
            ["quý I/2030", "tháng 3/2030", "6 tháng đầu năm 2030"][rng.random_range(0..3)]
        ),
        kind: ReportKind::Thematic,
        period: "quý I/2030".into(),
        answers: directive.map(|d| (d, 1)),
        audience: vec![],
        sections,
    }
}

/// A figure as a cadre types it: "gần 850 triệu", "hơn 20", "93".
pub fn figure(rng: &mut StdRng) -> FigureInput {
    let (indicator, unit) = INDICATORS[rng.random_range(0..INDICATORS.len())];
    let amount = match unit {
        MeasureUnit::Vnd => format!(
            "{}{} triệu",
            ["", "gần ", "hơn ", "khoảng "][rng.random_range(0..4)],
            rng.random_range(5..900)
        ),
        _ => format!("{}{}", ["", "hơn ", "khoảng "][rng.random_range(0..3)], rng.random_range(1..200)),
    };
    FigureInput {
        indicator: indicator.into(),
        amount,
        unit,
        scope: if rng.random_bool(0.2) { FigureScope::Cumulative } else { FigureScope::Period },
        note: String::new(),
        since: String::new(),
    }
}

/// `size` bytes that do not compress, as a JPEG's do, the same for the same `seed`.
pub fn photo(size: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.max(1);
    (0..size)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

/// A photo as a cadre attaches it: `name`, a JPEG, with a caption.
pub fn jpeg(name: &str) -> giaoban_client_core::NewAttachment {
    giaoban_client_core::NewAttachment {
        name: name.into(),
        media_type: "image/jpeg".into(),
        caption: "Lễ bàn giao nhà Đại đoàn kết".into(),
    }
}

/// A short report of a handed-over Đại đoàn kết house, to attach photos to.
pub fn house_report(title: &str) -> NewReport {
    NewReport {
        title: title.into(),
        kind: ReportKind::Thematic,
        period: "quý IV/2025".into(),
        answers: None,
        audience: Vec::new(),
        sections: vec![NewSection {
            key: "ket_qua".into(),
            heading: "Kết quả thực hiện".into(),
            body:
                "Đã bàn giao nhà Đại đoàn kết cho hộ ông Nguyễn Văn Lực, ấp Bảo Định; kinh phí 60 triệu đồng."
                    .into(),
        }],
    }
}
