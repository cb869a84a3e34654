//! The one error the bindings raise, converted from client-core's errors in one place.
//!
//! Kotlin sees `GiaoBanException.NotFound` …, Swift `GiaoBanError.NotFound` …, Python
//! `GiaoBanError.NotFound` …; each carries a sentence a cadre can read.

use giaoban_client_core::CoreError;

/// What an app needs to tell apart. Every variant carries a sentence a cadre can read
/// (`detail` or `reason`; named so as not to clash with the exception's own `message`).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum GiaoBanError {
    /// The document, task or unit is not on this device (it may not have synced yet).
    #[error("{detail}")]
    NotFound {
        /// What was looked for.
        detail: String,
    },
    /// The input breaks a rule; nothing was changed. `field` names what to correct.
    #[error("{field}: {reason}")]
    InvalidInput {
        /// The field at fault ("tasks[0].deadline", "amount", "id").
        field: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The relay could not be reached or failed. Local work is safe; `retryable` says whether
    /// trying again later may help.
    #[error("{detail}")]
    Network {
        /// What happened.
        detail: String,
        /// Whether a later attempt may succeed.
        retryable: bool,
    },
    /// The relay refused this device (revoked, unknown token), or the device is not enrolled:
    /// the app should send the cadre to enrolment.
    #[error("{detail}")]
    Unauthorized {
        /// Why.
        detail: String,
    },
    /// The relay refused the request or a document; `reason` is the relay's words.
    #[error("{reason}")]
    Rejected {
        /// Why.
        reason: String,
    },
    /// The device's storage failed (disk full, damaged file, written by a newer app).
    #[error("{detail}")]
    Storage {
        /// What failed and what to do.
        detail: String,
    },
    /// A bug: an unexpected state or a panic inside the library. Report it.
    #[error("{detail}")]
    Internal {
        /// What happened.
        detail: String,
    },
}

impl GiaoBanError {
    pub(crate) fn invalid(field: &str, reason: impl Into<String>) -> Self {
        GiaoBanError::InvalidInput { field: field.into(), reason: reason.into() }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        GiaoBanError::Internal { detail: message.into() }
    }
}

impl From<CoreError> for GiaoBanError {
    fn from(e: CoreError) -> Self {
        let detail = e.to_string();
        match e {
            CoreError::NotFound { .. } => GiaoBanError::NotFound { detail },
            CoreError::Invalid(inv) => GiaoBanError::InvalidInput { field: inv.field, reason: inv.reason },
            CoreError::WrongKind { .. } | CoreError::NotOwner { .. } => {
                GiaoBanError::InvalidInput { field: "id".into(), reason: detail }
            }
            CoreError::NotEnrolled | CoreError::Unauthorized(_) => GiaoBanError::Unauthorized { detail },
            CoreError::Network { retryable, .. } => GiaoBanError::Network { detail, retryable },
            CoreError::Protocol(reason) | CoreError::TooLarge(reason) => GiaoBanError::Rejected { reason },
            CoreError::Storage(_)
            | CoreError::Files(_)
            | CoreError::DamagedStore { .. }
            | CoreError::Corrupt { .. }
            | CoreError::NewerStore { .. }
            | CoreError::NewerSchema { .. } => GiaoBanError::Storage { detail },
            CoreError::Automerge(_) | CoreError::Schema { .. } | CoreError::Cancelled => {
                GiaoBanError::Internal { detail }
            }
        }
    }
}

/// Results of binding calls.
pub type Result<T, E = GiaoBanError> = std::result::Result<T, E>;
