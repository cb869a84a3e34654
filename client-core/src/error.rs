//! The errors client-core returns. Each says what went wrong and what the caller can do.

use giaoban_protocol::{DocId, DocKind, Invalid};

/// Anything a store or domain call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// No such document, task or unit on this device.
    #[error("{what} {id} is not on this device; it may not have been synced yet")]
    NotFound {
        /// What was looked for ("document", "task 3 of directive", "unit").
        what: &'static str,
        /// Its id as text.
        id: String,
    },

    /// The input breaks a rule; nothing was changed.
    #[error("invalid input: {0}")]
    Invalid(#[from] Invalid),

    /// An id names a document of another kind than the call expects.
    #[error("document {id} is a {found}, not a {expected}")]
    WrongKind {
        /// The document.
        id: DocId,
        /// The kind the call works on.
        expected: DocKind,
        /// The kind the document is.
        found: DocKind,
    },

    /// The call needs a unit identity and the device has none yet.
    #[error("this device is not enrolled with a unit yet; enrol it before writing documents")]
    NotEnrolled,

    /// Only devices of the owner unit may write a document.
    #[error("document {id} belongs to another unit; only its owner unit can change it")]
    NotOwner {
        /// The document.
        id: DocId,
    },

    /// A stored document cannot be read back. The rest of the store is unaffected.
    #[error(
        "document {id} is damaged in storage ({detail}); other documents are unaffected, and a sync can restore it from the relay"
    )]
    Corrupt {
        /// The document.
        id: DocId,
        /// What could not be read.
        detail: String,
    },

    /// The document was written by a newer version of the app.
    #[error("document {id} uses schema version {version}, newer than this app understands; update the app")]
    NewerSchema {
        /// The document.
        id: DocId,
        /// Its schema version.
        version: u64,
    },

    /// The store file itself is damaged in a way no sync can repair (its device identity is
    /// unreadable, say). Nothing was changed.
    #[error(
        "the store on this device is damaged ({detail}); nothing was changed; restore the app's data from a backup or enrol the device again"
    )]
    DamagedStore {
        /// What could not be read.
        detail: String,
    },

    /// SQLite failed: disk full, read-only file, I/O error.
    #[error("storage error: {0}; check free space and that the app may write its data folder")]
    Storage(#[from] rusqlite::Error),

    /// The folder of attached files beside the store failed (full disk, no permission), or a
    /// file to attach cannot be read. Nothing was attached.
    #[error(
        "attached files: {0}; check free space and that the app may read the file and write its data folder"
    )]
    Files(String),

    /// The store file was written by a newer version of the app.
    #[error(
        "the store was created by a newer app (schema {found}, this app knows up to {known}); update the app"
    )]
    NewerStore {
        /// The file's schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },

    /// Automerge rejected an operation or remote change bytes.
    #[error("document data rejected: {0}")]
    Automerge(#[from] automerge::AutomergeError),

    /// The relay could not be reached or answered with a server error. Local work is safe.
    #[error("cannot sync now: {message}")]
    Network {
        /// What happened.
        message: String,
        /// Whether trying again later may succeed.
        retryable: bool,
    },

    /// The relay refused this device's credentials.
    #[error("the relay refused this device: {0}")]
    Unauthorized(String),

    /// The relay refused a request as too large; the sync loop answers with smaller pages.
    #[error("the relay refused a request as too large: {0}")]
    TooLarge(String),

    /// The relay refused a request as malformed (a bug or a version mismatch).
    #[error("the relay refused the request: {0}")]
    Protocol(String),

    /// The caller gave up on the call (a cancelled coroutine or task). Nothing half-done
    /// remains: every round trip already made was applied whole, the rest was not started.
    #[error("the operation was cancelled")]
    Cancelled,

    /// The document's content does not match the schema.
    #[error("document {id} does not match the expected layout: {detail}")]
    Schema {
        /// The document.
        id: DocId,
        /// What did not match.
        detail: String,
    },
}

impl CoreError {
    pub(crate) fn not_found(what: &'static str, id: impl ToString) -> Self {
        CoreError::NotFound { what, id: id.to_string() }
    }

    pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CoreError::Invalid(Invalid::new(field, reason))
    }
}

/// Results of client-core calls.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
