//! The relay's integration tests, one module per subject, all in one test binary so that the
//! dependency graph is linked once. `cargo nextest` still runs each test in its own process; run
//! one subject with its module path, e.g. `cargo test -p giaoban-relay --test relay operator::`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod crash;
mod export;
mod file_crash;
mod migrations;
mod operator;
mod read_only;
mod secrets;
mod units_change;
mod writer_copies;
