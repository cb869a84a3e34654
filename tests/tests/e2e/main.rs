//! The end-to-end tests, one module per subject, all in one test binary so that the dependency
//! graph (automerge, axum, rusqlite, ICU) is linked once. `cargo nextest` still runs each test
//! in its own process; run one subject with its module path, e.g.
//! `cargo test -p giaoban-e2e --test e2e bad_link::`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod assignment;
mod attachments;
mod bad_link;
mod bounded;
mod consolidation;
mod consolidation_probe;
mod desk;
mod desk_attacks;
mod desk_downloads;
mod desk_files;
mod desk_meetings;
mod desk_probe;
mod device_crash;
mod edge_cases;
mod file_kills;
mod file_memory;
mod file_storage;
mod listeners;
mod live_and_restore;
mod migrate_postgres;
mod prepare_later;
mod probe_file_storage;
mod probe_meetings;
mod relay_sync;
mod restores;
mod simulation;
mod slow_client;
mod storage_full;
mod sync_apply;
mod sync_turns;
mod trespass;
mod units_change;
