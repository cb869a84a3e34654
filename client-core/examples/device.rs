//! A device on the command line: enroll with a relay, sync, see and answer tasks, write and
//! submit reports, review, search. Each `--store` file is one phone.
//!
//! ```sh
//! cargo run --release -p giaoban-relay -- serve --demo          # prints enrollment codes
//! D="cargo run -q -p giaoban-client-core --example device --"
//! $D --store city.sqlite enroll http://127.0.0.1:8080 <the province committee's code>
//! $D --store city.sqlite issue-305 <ward unit id> ...          # the seed dispatch
//! $D --store city.sqlite sync
//! $D --store lan.sqlite enroll http://127.0.0.1:8080 <a ward's code>
//! $D --store lan.sqlite sync
//! $D --store lan.sqlite tasks
//! ```

use giaoban_client_core::demo::dispatch_305;
use giaoban_client_core::protocol::schema::{FigureScope, MeasureUnit, ReportKind, TaskState, Verdict};
use giaoban_client_core::protocol::{DeadlineStanding, DocId, UnitId};
use giaoban_client_core::{FigureInput, NewReport, NewSection, Store, TaskFilter, TaskScope};
use giaoban_vietnamese_text::format_date;

const USAGE: &str = "giaoban device [--store FILE] COMMAND
  enroll URL CODE [LABEL]          đăng ký thiết bị với relay / enrol with a relay
  sync                             đồng bộ / sync now
  status                           trạng thái / identity, relay, pending changes
  tasks [--issued]                 nhiệm vụ / my tasks, or those my unit issued
  issue-305 UNIT_ID...             ban hành công văn mẫu 305/MTTQ-BTT / issue the seed dispatch
  ack SOURCE ORDINAL               tiếp nhận / acknowledge a task
  progress SOURCE ORDINAL NOTE...  đang thực hiện / record progress
  na SOURCE ORDINAL REASON...      không phát sinh / not applicable
  report SOURCE ORDINAL TITLE...   tạo báo cáo / create a report answering a task
  write REPORT SECTION TEXT...     viết mục báo cáo (ket_qua, kien_nghi) / write a section
  figure REPORT INDICATOR AMOUNT [vnd|people|houses|households|events|items]
  submit REPORT                    gửi báo cáo / submit
  review REPORT accept|return NOTE...
  search QUERY...                  tìm kiếm / search";

/// The command line is not one of the forms in [`USAGE`].
#[derive(Debug)]
struct UsageError;

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("usage")
    }
}

impl std::error::Error for UsageError {}

fn main() {
    match run() {
        Ok(()) => {}
        Err(e) if e.is::<UsageError>() => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
        Err(e) => {
            eprintln!("lỗi / error: {e}");
            std::process::exit(1);
        }
    }
}

type Res<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn arg(args: &[String], i: usize) -> Result<&str, UsageError> {
    args.get(i).map(String::as_str).ok_or(UsageError)
}

fn rest(args: &[String], from: usize) -> Result<String, UsageError> {
    if args.len() <= from { Err(UsageError) } else { Ok(args[from..].join(" ")) }
}

fn doc(s: &str) -> Res<DocId> {
    Ok(s.parse::<DocId>()?)
}

fn ordinal(s: &str) -> Res<u64> {
    s.parse::<u64>().map_err(|_| format!("'{s}' is not a task number").into())
}

fn run() -> Res {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut path = "./giaoban-device.sqlite".to_string();
    if let Some(i) = args.iter().position(|a| a == "--store") {
        path = args.get(i + 1).cloned().ok_or(UsageError)?;
        args.drain(i..=i + 1);
    }
    let mut s = Store::open(&path)?;
    let cmd = arg(&args, 0)?.to_string();
    match cmd.as_str() {
        "enroll" => {
            let label = args.get(3).cloned().unwrap_or_else(|| "giaoban device".into());
            let e = s.enroll(arg(&args, 1)?, arg(&args, 2)?, &label)?;
            println!("đã đăng ký / enrolled: device {} for unit {}", e.device, e.unit);
        }
        "sync" => {
            let r = s.sync_now()?;
            println!(
                "{} round trips, pushed {}, stored {}, received {}, {} B sent, {} B received",
                r.round_trips, r.pushed, r.acked, r.received, r.bytes_sent, r.bytes_received
            );
            for rej in r.rejected {
                println!("  refused {}: {}", rej.doc, rej.reason);
            }
        }
        "status" => {
            println!("device {}", s.device_id());
            println!("unit   {}", s.unit().map_or("(not enrolled)".into(), |u| u.to_string()));
            if let Some((url, _)) = s.relay()? {
                println!("relay  {url}");
            }
            println!("pending documents {}", s.pending_changes_count()?);
            if let Some(t) = s.last_sync()? {
                println!("last sync {} (UTC ms)", t.0);
            }
        }
        "tasks" => {
            let scope =
                if args.iter().any(|a| a == "--issued") { TaskScope::IssuedByMe } else { TaskScope::Mine };
            for t in s.list_tasks(&TaskFilter { scope, ..Default::default() })? {
                let state = match t.state {
                    None | Some(TaskState::Received) => "chưa tiếp nhận",
                    Some(TaskState::Acknowledged) => "đã tiếp nhận",
                    Some(TaskState::InProgress) => "đang thực hiện",
                    Some(TaskState::Submitted) => "đã báo cáo",
                    Some(TaskState::NotApplicable) => "không phát sinh",
                };
                let due = match (&t.deadline, t.standing) {
                    (Some(d), Some(st)) => format!(
                        "hạn {} ({})",
                        format_date(d.last_day()),
                        match st {
                            DeadlineStanding::Upcoming => "còn hạn",
                            DeadlineStanding::DueSoon => "sắp đến hạn",
                            DeadlineStanding::Overdue => "QUÁ HẠN",
                            DeadlineStanding::DoneOnTime => "đúng hạn",
                            DeadlineStanding::DoneLate => "trễ hạn",
                        }
                    ),
                    _ => String::new(),
                };
                let review = match &t.review {
                    Some((Verdict::Accepted, _)) => " [đã tiếp nhận báo cáo]".to_string(),
                    Some((Verdict::Returned, note)) => format!(" [trả lại: {note}]"),
                    None => String::new(),
                };
                let reminded = match &t.reminded {
                    Some((_, note)) => format!(" [đôn đốc: {note}]"),
                    None => String::new(),
                };
                let title: String = t.source_title.chars().take(40).collect();
                println!("{} {} | {title} | {state} {due}{review}{reminded}", t.source, t.ordinal);
            }
        }
        "issue-305" => {
            let units = args[1..].iter().map(|u| u.parse::<UnitId>()).collect::<Result<Vec<_>, _>>()?;
            let id = s.issue_directive(dispatch_305(units, "08/02/2030", "11/02/2030"))?;
            println!("directive {id}");
        }
        "ack" => s.acknowledge_task(doc(arg(&args, 1)?)?, ordinal(arg(&args, 2)?)?)?,
        "progress" => {
            s.update_task_progress(doc(arg(&args, 1)?)?, ordinal(arg(&args, 2)?)?, &rest(&args, 3)?)?
        }
        "na" => {
            s.mark_task_not_applicable(doc(arg(&args, 1)?)?, ordinal(arg(&args, 2)?)?, &rest(&args, 3)?)?
        }
        "report" => {
            let id = s.create_report(NewReport {
                title: rest(&args, 3)?,
                kind: ReportKind::Thematic,
                period: String::new(),
                answers: Some((doc(arg(&args, 1)?)?, ordinal(arg(&args, 2)?)?)),
                audience: vec![],
                sections: vec![
                    NewSection { key: "ket_qua".into(), heading: "Kết quả".into(), body: String::new() },
                    NewSection {
                        key: "kien_nghi".into(),
                        heading: "Đề xuất, kiến nghị".into(),
                        body: String::new(),
                    },
                ],
            })?;
            println!("report {id}");
        }
        "write" => s.set_report_section_text(doc(arg(&args, 1)?)?, arg(&args, 2)?, &rest(&args, 3)?)?,
        "figure" => {
            let unit = match args.get(4).map(String::as_str).unwrap_or("vnd") {
                "vnd" => MeasureUnit::Vnd,
                "people" => MeasureUnit::People,
                "houses" => MeasureUnit::Houses,
                "households" => MeasureUnit::Households,
                "events" => MeasureUnit::Events,
                "items" => MeasureUnit::Items,
                other => return Err(format!("unknown unit '{other}'").into()),
            };
            s.set_report_figure(
                doc(arg(&args, 1)?)?,
                FigureInput {
                    indicator: arg(&args, 2)?.into(),
                    amount: arg(&args, 3)?.into(),
                    unit,
                    scope: FigureScope::Period,
                    note: String::new(),
                    since: String::new(),
                },
            )?;
        }
        "submit" => s.submit_report(doc(arg(&args, 1)?)?)?,
        "review" => {
            let verdict = match arg(&args, 2)? {
                "accept" => Verdict::Accepted,
                "return" => Verdict::Returned,
                _ => return Err(UsageError.into()),
            };
            let note = args.get(3..).map(|r| r.join(" ")).unwrap_or_default();
            s.review_report(doc(arg(&args, 1)?)?, verdict, &note)?;
        }
        "search" => {
            for h in s.search(&rest(&args, 1)?, 20)? {
                println!("{} {:?} {}", h.id, h.kind, h.title);
            }
        }
        _ => return Err(UsageError.into()),
    }
    Ok(())
}
