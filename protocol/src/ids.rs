//! Identifiers. Every id is a newtype over a UUID with its own parse error, so a unit id can
//! never be passed where a document id is expected.
//!
//! Ids are made from a timestamp and random bytes handed in by the caller (this crate reads no
//! clock and draws no randomness): see [`DocId::from_parts`].

use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, Reconcile};
use uuid::Uuid;

/// An id string that is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a valid {what} id: expected a UUID such as 0190f3c4-8a2b-7c3d-9e4f-0123456789ab")]
pub struct IdParseError {
    /// Which kind of id was expected.
    pub what: &'static str,
    /// The text that failed to parse (cut to 64 chars).
    pub input: String,
}

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Reconcile)]
        pub struct $name(Uuid);

        // Written by hand: the derived impl only reads a value in place, and `Option<$name>`
        // reads through `hydrate_bytes`.
        impl Hydrate for $name {
            fn hydrate_bytes(bytes: &[u8]) -> Result<Self, autosurgeon::HydrateError> {
                Uuid::hydrate_bytes(bytes).map(Self)
            }
        }

        impl $name {
            /// A time-ordered id (UUIDv7) from milliseconds since the Unix epoch and 10 random bytes.
            pub fn from_parts(unix_millis: u64, random: [u8; 10]) -> Self {
                Self(uuid::Builder::from_unix_timestamp_millis(unix_millis, &random).into_uuid())
            }
            /// A name-based id (UUIDv5) derived from `namespace` and `name`: the same inputs give
            /// the same id on every device, so a record two devices create independently (one
            /// unit's response to one directive) is one document.
            pub fn derived(namespace: &Uuid, name: &[u8]) -> Self {
                Self(Uuid::new_v5(namespace, name))
            }
            /// Wraps an existing UUID.
            pub const fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }
            /// The UUID inside.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
            /// The 16 raw bytes, as stored in SQLite and on the wire.
            pub fn to_bytes(self) -> [u8; 16] {
                *self.0.as_bytes()
            }
            /// From 16 raw bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
            /// From a byte slice that must be exactly 16 bytes long.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, IdParseError> {
                Uuid::from_slice(bytes).map(Self).map_err(|_| IdParseError {
                    what: $what,
                    input: format!("<{} bytes>", bytes.len()),
                })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.collect_str(self)
                } else {
                    self.0.as_bytes().serialize(s)
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = String::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                } else {
                    <[u8; 16]>::deserialize(d).map(Self::from_bytes)
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| IdParseError {
                    what: $what,
                    input: s.chars().take(64).collect(),
                })
            }
        }
    };
}

uuid_id!(
    /// A document: one directive, response, report, review, meeting or unit directory.
    DocId,
    "document"
);
uuid_id!(
    /// A unit of the organisation tree: a committee, a member organisation, a work team.
    UnitId,
    "unit"
);
uuid_id!(
    /// One enrolled device (a phone or the office's computer).
    DeviceId,
    "device"
);

impl DeviceId {
    /// The Automerge actor id this device writes with. Binding the actor to the device lets the
    /// history say truthfully which device wrote each change.
    pub fn actor_id(&self) -> automerge::ActorId {
        automerge::ActorId::from(self.0.as_bytes().as_slice())
    }

    /// The actor this device writes with during one session of its store: the device's id
    /// followed by `session`, 8 bytes the store draws each time it opens. A store put back from
    /// an older copy (a phone restored from its backup) would otherwise number its next change
    /// as the relay already holds another change of the same actor, and Automerge keeps only
    /// one change per actor and number: one of the two would be lost.
    pub fn session_actor(&self, session: [u8; 8]) -> automerge::ActorId {
        let mut bytes = [0u8; 24];
        bytes[..16].copy_from_slice(self.0.as_bytes());
        bytes[16..].copy_from_slice(&session);
        automerge::ActorId::from(bytes.as_slice())
    }

    /// Whether changes of `actor` are this device's: its plain actor id or one of its
    /// session actors.
    pub fn owns_actor(&self, actor: &automerge::ActorId) -> bool {
        let b = actor.to_bytes();
        (b.len() == 16 || b.len() == 24) && b[..16] == *self.0.as_bytes()
    }

    /// The device whose actor id this is, if it is one of ours (its plain or a session actor).
    pub fn from_actor_id(actor: &automerge::ActorId) -> Option<Self> {
        let b = actor.to_bytes();
        if b.len() != 16 && b.len() != 24 {
            return None;
        }
        Uuid::from_slice(&b[..16]).ok().map(Self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        let id = DocId::from_parts(1_700_000_000_000, [7; 10]);
        let s = id.to_string();
        assert_eq!(s.parse::<DocId>().unwrap(), id);
        assert_eq!(id.as_uuid().get_version_num(), 7);
    }

    #[test]
    fn session_actors_belong_to_their_device_only() {
        let d = DeviceId(Uuid::from_bytes([3; 16]));
        let other = DeviceId(Uuid::from_bytes([4; 16]));
        let a = d.session_actor([1; 8]);
        assert_ne!(a, d.session_actor([2; 8]));
        assert!(d.owns_actor(&a) && d.owns_actor(&d.actor_id()));
        assert!(!other.owns_actor(&a));
        assert_eq!(DeviceId::from_actor_id(&a), Some(d));
        let odd = automerge::ActorId::from([3u8; 20].as_slice());
        assert!(!d.owns_actor(&odd));
        assert_eq!(DeviceId::from_actor_id(&odd), None);
    }

    #[test]
    fn ids_sort_by_time() {
        let a = DocId::from_parts(1_000, [255; 10]);
        let b = DocId::from_parts(2_000, [0; 10]);
        assert!(a < b);
    }

    #[test]
    fn bad_id_says_what_was_expected() {
        let err = "không-phải-id".parse::<UnitId>().unwrap_err();
        assert_eq!(err.what, "unit");
        assert!(err.to_string().contains("không-phải-id"));
    }

    #[test]
    fn device_actor_round_trip() {
        let d = DeviceId::from_parts(5, [1; 10]);
        assert_eq!(DeviceId::from_actor_id(&d.actor_id()), Some(d));
    }
}

#[cfg(test)]
mod document_tests {
    #![allow(clippy::unwrap_used)]
    use autosurgeon::{Hydrate, Reconcile};

    use super::*;
    use crate::time::Timestamp;

    #[derive(Debug, Clone, PartialEq, Reconcile, Hydrate)]
    struct Holder {
        some: Option<DocId>,
        none: Option<UnitId>,
        list: Vec<UnitId>,
        at: Option<Timestamp>,
        plain: Timestamp,
    }

    #[test]
    fn ids_and_times_round_trip_through_documents() {
        let v = Holder {
            some: Some(DocId::from_parts(1, [1; 10])),
            none: None,
            list: vec![UnitId::from_parts(2, [2; 10])],
            at: Some(Timestamp(1_643_000_000_000)),
            plain: Timestamp(-5),
        };
        let mut doc = automerge::AutoCommit::new();
        autosurgeon::reconcile(&mut doc, &v).unwrap();
        let back: Holder = autosurgeon::hydrate(&doc).unwrap();
        assert_eq!(back, v);
    }
}

/// The SHA-256 of a file's bytes: the name of an attached file everywhere (documents hold it,
/// devices and the relay store the bytes under it). Written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobHash(pub [u8; 32]);

impl BlobHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> BlobHash {
        use sha2::Digest;
        BlobHash(sha2::Sha256::digest(bytes).into())
    }

    /// From a byte slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<BlobHash, IdParseError> {
        <[u8; 32]>::try_from(bytes)
            .map(BlobHash)
            .map_err(|_| IdParseError { what: "file hash", input: format!("<{} bytes>", bytes.len()) })
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        use fmt::Write;
        let mut s = String::with_capacity(64);
        for b in self.0 {
            let _ = write!(s, "{b:02x}");
        }
        s
    }
}

// Stored as 32 bytes; a list of attachments is keyed by it, so two devices attaching the
// same file merge into one entry.
impl Reconcile for BlobHash {
    type Key<'a> = BlobHash;

    fn reconcile<R: autosurgeon::Reconciler>(&self, reconciler: R) -> Result<(), R::Error> {
        autosurgeon::bytes::ByteArray::from(self.0).reconcile(reconciler)
    }

    fn key(&self) -> autosurgeon::reconcile::LoadKey<Self::Key<'_>> {
        autosurgeon::reconcile::LoadKey::Found(*self)
    }

    fn hydrate_key<'a, D: autosurgeon::ReadDoc>(
        doc: &D,
        obj: &automerge::ObjId,
        prop: autosurgeon::Prop<'_>,
    ) -> Result<autosurgeon::reconcile::LoadKey<Self::Key<'a>>, autosurgeon::ReconcileError> {
        use autosurgeon::reconcile::LoadKey;
        Ok(match doc.get(obj, &prop)? {
            Some((automerge::Value::Scalar(s), _)) => match s.as_ref() {
                automerge::ScalarValue::Bytes(b) => {
                    BlobHash::from_slice(b).map(LoadKey::Found).unwrap_or(LoadKey::KeyNotFound)
                }
                _ => LoadKey::KeyNotFound,
            },
            _ => LoadKey::KeyNotFound,
        })
    }
}

impl Hydrate for BlobHash {
    fn hydrate_bytes(bytes: &[u8]) -> Result<Self, autosurgeon::HydrateError> {
        BlobHash::from_slice(bytes)
            .map_err(|_| autosurgeon::HydrateError::unexpected("32 bytes", format!("{} bytes", bytes.len())))
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({})", self.to_hex())
    }
}

impl FromStr for BlobHash {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || IdParseError { what: "file hash", input: s.chars().take(64).collect() };
        let s = s.trim();
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(BlobHash(out))
    }
}
