//! Sync: enrolment, delivery, what a sync did, and the status a UI shows.

use giaoban_client_core as core;

/// Where a document stands with the relay.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Delivery {
    /// It has changes only this device holds.
    OnlyOnDevice,
    /// The relay holds all of it.
    OnRelay,
    /// The relay refused it; the local edits are kept.
    Rejected {
        /// The relay's reason.
        reason: String,
    },
}

impl From<core::DeliveryState> for Delivery {
    fn from(d: core::DeliveryState) -> Self {
        match d {
            core::DeliveryState::OnlyOnDevice => Delivery::OnlyOnDevice,
            core::DeliveryState::OnRelay => Delivery::OnRelay,
            core::DeliveryState::Rejected { reason } => Delivery::Rejected { reason },
        }
    }
}

/// What enrolment gave this device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Enrollment {
    /// This device's id.
    pub device: String,
    /// The unit it writes for.
    pub unit: String,
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncSummary {
    /// Round trips made.
    pub round_trips: u32,
    /// Documents pushed.
    pub pushed: u64,
    /// Documents the relay stored.
    pub acknowledged: u64,
    /// Documents the relay refused, with reasons ("id: reason").
    pub rejected: Vec<String>,
    /// Documents changed by other devices.
    pub changed: Vec<String>,
    /// Bytes sent and received (frames).
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
}

impl From<core::SyncReport> for SyncSummary {
    fn from(r: core::SyncReport) -> Self {
        SyncSummary {
            round_trips: r.round_trips,
            pushed: r.pushed as u64,
            acknowledged: r.acked as u64,
            rejected: r.rejected.iter().map(|j| format!("{}: {}", j.doc, j.reason)).collect(),
            changed: r.changed.iter().map(ToString::to_string).collect(),
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
        }
    }
}

/// What the sync machinery is doing.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum SyncPhase {
    /// Not enrolled with a relay yet.
    NotEnrolled,
    /// No sync has run in this session yet.
    Idle,
    /// Syncing; round trips so far.
    Syncing {
        /// Round trips completed.
        round_trips: u32,
    },
    /// Everything new is stored; documents that came are still being read into the lists
    /// and search (a first download of many). Show "đang chuẩn bị N văn bản".
    Preparing {
        /// Documents still to prepare.
        left: u64,
    },
    /// Everything is on the relay and everything from it is here.
    UpToDate,
    /// The relay cannot be reached; local work is safe and sync will retry.
    Offline {
        /// Why.
        message: String,
    },
    /// The relay refused this device or a request; needs a person.
    Failed {
        /// Why.
        message: String,
    },
}

/// The sync status a UI shows.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncStatus {
    /// What is happening.
    pub phase: SyncPhase,
    /// Documents with changes not yet on the relay.
    pub pending: u64,
    /// When a sync last completed (ms since 1970 UTC).
    pub last_success_ms: Option<i64>,
    /// Documents from the relay this device could not save or cannot show yet, one sentence
    /// each, for the app to show; empty when all is well.
    pub problems: Vec<String>,
}

impl From<&core::SyncState> for SyncPhase {
    fn from(s: &core::SyncState) -> Self {
        match s {
            core::SyncState::NotEnrolled => SyncPhase::NotEnrolled,
            core::SyncState::Syncing { round_trips } => SyncPhase::Syncing { round_trips: *round_trips },
            core::SyncState::Preparing { left } => SyncPhase::Preparing { left: *left },
            core::SyncState::UpToDate => SyncPhase::UpToDate,
            core::SyncState::Offline { message } => SyncPhase::Offline { message: message.clone() },
            core::SyncState::Error { message } => SyncPhase::Failed { message: message.clone() },
        }
    }
}

impl From<&core::SyncStatus> for SyncStatus {
    fn from(s: &core::SyncStatus) -> Self {
        SyncStatus {
            phase: SyncPhase::from(&s.state),
            pending: s.pending,
            last_success_ms: s.last_success.map(|t| t.0),
            problems: s.problems.iter().map(core::SyncProblem::sentence).collect(),
        }
    }
}
