//! The document schema: typed views over Automerge documents.
//!
//! One Automerge document per record. Every document's root holds a `header` map that the relay
//! can read without knowing the kind's body: id, kind, owner unit, audience units and schema
//! version. The rest of the root is the kind's body. Types derive autosurgeon's `Reconcile` and
//! `Hydrate`: reconciling writes only what changed, so concurrent edits merge field by field,
//! and prose held in `autosurgeon::Text` merges character by character.

mod attachment;
mod directive;
mod meeting;
mod report;
mod response;
mod review;
mod units;
mod validate;

use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, Reconcile};

pub use attachment::{
    ATTACHMENTS_INPUT_MAX, ATTACHMENTS_MAX, Attachment, CAPTION_MAX, FILE_NAME_MAX, attachment_refs,
    file_name, media_type_ok,
};
pub use directive::{
    ConclusionRef, Consolidation, Directive, DocumentKind, DocumentNumber, LIST_MAX, MAX_REMINDERS,
    NumberScheme, Person, Reminder, Signer, TaskSpec, phone_ok,
};
pub use meeting::{Conclusion, Meeting, MeetingKind};
pub use report::{Figure, FigureScope, MeasureUnit, Period, Qualifier, Report, ReportKind, Section};
pub use response::{Response, TaskProgress, TaskState};
pub use review::{Review, ReviewRound, Verdict};
pub use units::{AdminRef, PEOPLE_MAX, Unit, UnitDirectory, UnitKind};
pub use validate::{Invalid, MERGED_PROSE_MAX, PROSE_MAX, prose_input};

use crate::ids::{DocId, UnitId};

/// The schema version this build writes. Documents with a higher version are read-only here.
pub const SCHEMA_VERSION: u64 = 1;

/// What kind of record a document holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Reconcile, Hydrate)]
pub enum DocKind {
    /// An official dispatch (công văn) with numbered tasks.
    Directive,
    /// A recipient unit's state for each task of one directive.
    Response,
    /// A report: ordered text sections and typed figures.
    Report,
    /// The issuer's verdict on a report.
    Review,
    /// A briefing meeting (giao ban) and its conclusions.
    Meeting,
    /// The organisation's unit tree.
    UnitDirectory,
}

impl DocKind {
    /// Every kind, in a stable order.
    pub const ALL: [DocKind; 6] = [
        DocKind::Directive,
        DocKind::Response,
        DocKind::Report,
        DocKind::Review,
        DocKind::Meeting,
        DocKind::UnitDirectory,
    ];

    /// The stable name stored in SQLite and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Directive => "directive",
            DocKind::Response => "response",
            DocKind::Report => "report",
            DocKind::Review => "review",
            DocKind::Meeting => "meeting",
            DocKind::UnitDirectory => "unit_directory",
        }
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A document kind name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown document kind '{0}'")]
pub struct UnknownKind(pub String);

impl FromStr for DocKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| UnknownKind(s.to_string()))
    }
}

/// The part of every document the relay reads to route and authorise it.
#[derive(Debug, Clone, PartialEq, Eq, Reconcile, Hydrate)]
pub struct Header {
    /// The document's id; equals the store key.
    pub id: DocId,
    /// What the document holds.
    pub kind: DocKind,
    /// The one unit whose devices may write this document.
    pub owner: UnitId,
    /// Units that may read it besides the owner and the owner's ancestors.
    pub audience: Vec<UnitId>,
    /// The schema version it was written with.
    pub schema_version: u64,
}

impl Header {
    /// A header for a new document of `kind`.
    pub fn new(id: DocId, kind: DocKind, owner: UnitId, audience: Vec<UnitId>) -> Self {
        Header { id, kind, owner, audience, schema_version: SCHEMA_VERSION }
    }
}

/// A typed document kind.
pub trait DocumentSchema: Reconcile + Hydrate + Clone + fmt::Debug {
    /// The kind every document of this type has in its header.
    const KIND: DocKind;

    /// The header.
    fn header(&self) -> &Header;

    /// Checks the rules a stored document must keep. Both the device (on input) and the relay
    /// (on every pushed change) call it.
    fn validate(&self) -> Result<(), Invalid>;

    /// A short human title for lists and search results.
    fn title(&self) -> String;

    /// All text a search should find this document by.
    fn search_text(&self) -> String;
}

/// Reads just the header of any document.
pub fn read_header<D: autosurgeon::ReadDoc>(doc: &D) -> Result<Header, autosurgeon::HydrateError> {
    autosurgeon::hydrate_prop(doc, automerge::ROOT, "header")
}
