//! Cases a well-behaved device and a careful operator never produce: restores in odd orders,
//! a relay restored from another relay's backup, a restored device copy, phones whose clocks are
//! years off, forged changes and vouchers, a ward reaching for other wards' documents or
//! accepting its own report, huge listings and pushes, odd Vietnamese text through sync.

mod common;

mod bounds;
mod clocks;
mod events;
mod forge;
mod reconcile;
mod restored_device;
mod restores;
mod text;
mod trespass;
mod verdicts;
