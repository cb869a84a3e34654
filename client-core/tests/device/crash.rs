//! Kill -9 in the middle of a stream of writes: every write that returned Ok is there after
//! reopening, and the store still opens and accepts writes.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crate::common::*;
use giaoban_client_core::protocol::DocId;
use giaoban_client_core::{TaskFilter, TaskScope};

const CHILD_ENV: &str = "GIAOBAN_CRASH_CHILD_STORE";

/// Runs only as the child process: writes until killed, printing each acknowledged write.
#[test]
fn crash_child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let org = org();
    let mut s = open(std::path::Path::new(&path), &clock);
    s.set_unit(org.city).unwrap();
    let out = std::io::stdout();
    for i in 0u64.. {
        let mut d = dispatch_305(org.wards.clone());
        d.subject = format!("V/v văn bản thử số {i}");
        let id = s.issue_directive(d).unwrap();
        writeln!(out.lock(), "created {i} {id}").unwrap();
        s.set_task_text(id, 1, &format!("Nhiệm vụ đã sửa {i}")).unwrap();
        writeln!(out.lock(), "edited {i} {id}").unwrap();
        out.lock().flush().unwrap();
    }
}

#[test]
fn sigkill_mid_writes_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.sqlite");
    let exe = std::env::current_exe().unwrap();
    let mut created: Vec<(u64, DocId)> = Vec::new();
    let mut edited: Vec<DocId> = Vec::new();
    for (round, kill_after) in [37usize, 101, 7, 60].into_iter().enumerate() {
        let mut child = Command::new(&exe)
            .args(["crash::crash_child_writer", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut acked = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some("created"), Some(i), Some(id)) => {
                    created.push((i.parse().unwrap(), id.parse().unwrap()));
                    acked += 1;
                }
                (Some("edited"), Some(_), Some(id)) => {
                    edited.push(id.parse().unwrap());
                    acked += 1;
                }
                _ => continue,
            }
            if acked >= kill_after {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
        let status = child.wait().unwrap();
        assert!(!status.success(), "round {round}: the child must have been killed");

        let clock = TestClock::at_local(2022, 1, 24, 9, 0);
        let mut s = open(&path, &clock);
        for (i, id) in &created {
            let d = s
                .directive(*id)
                .unwrap_or_else(|e| panic!("round {round}: acknowledged directive {i} lost: {e}"));
            assert_eq!(d.subject, format!("V/v văn bản thử số {i}"));
        }
        for id in &edited {
            let d = s.directive(*id).unwrap();
            assert!(
                d.task(1).unwrap().text.starts_with("Nhiệm vụ đã sửa"),
                "round {round}: acknowledged edit lost"
            );
        }
        let listed =
            s.list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..Default::default() }).unwrap();
        assert!(listed.len() >= created.len() * 12, "round {round}: derived tables lag the documents");
        // The store accepts writes after the crash.
        s.set_task_text(created[0].1, 2, "Sửa sau sự cố").unwrap();
    }
    assert!(created.len() > 50);
}
