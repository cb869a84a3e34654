//! What a Giao Ban device and the relay share: identifiers, the document schema (typed views
//! over Automerge documents), and the deadline rules.
//!
//! Invariant: this crate does no I/O and reads no clock; time and randomness come in as
//! arguments.

pub mod authz;
pub mod ids;
pub mod reference;
pub mod relay_session;
pub mod schema;
pub mod seal;
pub mod session;
pub mod time;
pub mod wire;

pub use ids::{BlobHash, DeviceId, DocId, IdParseError, UnitId};
pub use schema::{DocKind, DocumentSchema, Header, Invalid, SCHEMA_VERSION};
pub use time::{Deadline, DeadlineStanding, Timestamp};
