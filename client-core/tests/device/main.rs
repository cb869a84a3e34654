//! The device's integration tests, one module per subject, all in one test binary so that the
//! dependency graph is linked once. `cargo nextest` still runs each test in its own process; run
//! one subject with its module path, e.g. `cargo test -p giaoban-client-core --test device crash::`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod cadre_flow;
mod consolidation_properties;
mod crash;
mod merge_properties;
mod migrations;
mod store_conformance;
mod vietnamese_text;
