//! Upgrading a store from every older schema version gives exactly the schema of a fresh
//! store, keeps the documents and rebuilds the derived tables.

use crate::common::*;
use giaoban_client_core::protocol::DocKind;
use giaoban_client_core::store::migrations::{MIGRATIONS, latest_version, migrate_to};
use giaoban_client_core::{TaskFilter, TaskScope};
use rusqlite::Connection;

fn schema(conn: &Connection) -> Vec<(String, String, String)> {
    let mut stmt = conn
        .prepare("SELECT type, name, IFNULL(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(|r| r.unwrap()).collect()
}

#[test]
fn upgrading_equals_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let mut fresh = Connection::open(dir.path().join("fresh.sqlite")).unwrap();
    migrate_to(&mut fresh, latest_version()).unwrap();
    let want = schema(&fresh);
    assert!(want.iter().any(|(_, name, _)| name == "search"));

    for start in 0..latest_version() {
        let mut conn = Connection::open(dir.path().join(format!("from-{start}.sqlite"))).unwrap();
        migrate_to(&mut conn, start).unwrap();
        let found = migrate_to(&mut conn, latest_version()).unwrap();
        assert_eq!(found, start);
        assert_eq!(schema(&conn), want, "upgrade from version {start}");
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }
}

#[test]
fn documents_written_at_version_1_are_indexed_after_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let org = org();
    let id = {
        let mut s = open(&path, &clock);
        s.set_unit(org.city).unwrap();
        s.issue_directive(dispatch_305(org.wards.clone())).unwrap()
    };
    // Take the file back to schema 1: drop the derived tables, as an old app version had it.
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE tasks; DROP TABLE task_states; DROP TABLE report_reviews; DROP TABLE search;
             DROP TABLE rejections; DROP TABLE receipts; DROP TABLE sync_problems;
             DROP INDEX documents_dirty; DROP INDEX documents_by_owner;
             DELETE FROM meta WHERE key = 'needs_reindex'; PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let mut s = open(&path, &clock);
    assert_eq!(s.directive(id).unwrap().tasks.len(), 4);
    let tasks = s.list_tasks(&TaskFilter { scope: TaskScope::IssuedByMe, ..Default::default() }).unwrap();
    assert_eq!(tasks.len(), 12);
    assert_eq!(s.search("muoi", 5).unwrap().len(), 1);
}

/// A store of schema 5 indexed "Cư M’gar" with the old search key, which kept the apostrophe
/// ("cu m'gar") so the index held "m" and "gar". Opening it with this version rebuilds the
/// index with the new key, and "mgar" finds the directive.
#[test]
fn a_search_index_of_the_old_key_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let clock = TestClock::at_local(2022, 1, 24, 9, 0);
    let org = org();
    let id = {
        let mut s = open(&path, &clock);
        s.set_unit(org.city).unwrap();
        let mut d = dispatch_305(org.wards.clone());
        d.subject = "V/v hỗ trợ đồng bào huyện Cư M’gar".into();
        s.issue_directive(d).unwrap()
    };
    {
        let conn = Connection::open(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT n FROM documents WHERE id = ?1", [id.to_bytes().to_vec()], |r| r.get(0))
            .unwrap();
        // The row as the old key wrote it.
        conn.execute(
            "UPDATE search SET title = replace(title, 'mgar', 'm''gar'), body = replace(body, 'mgar', 'm''gar')
             WHERE rowid = ?1",
            [n],
        )
        .unwrap();
        let old_hits: i64 = conn
            .query_row("SELECT count(*) FROM search WHERE search MATCH '\"mgar\"*'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(old_hits, 0, "the old key's row does not answer 'mgar'");
        conn.execute_batch("DELETE FROM meta WHERE key = 'needs_reindex'; PRAGMA user_version = 5;").unwrap();
    }
    let s = open(&path, &clock);
    let hits = s.search("mgar", 5).unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!((hits[0].id, hits[0].kind), (id, DocKind::Directive));
}
