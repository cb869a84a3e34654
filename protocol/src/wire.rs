//! The wire: typed, versioned binary messages, one enum per direction.
//!
//! A frame is `"GB"`, the protocol version (u16, little endian), a flags byte, then the message
//! encoded with postcard. With flag bit 0 set the message is zstd-compressed; senders compress
//! bodies over [`COMPRESS_OVER`] bytes. See PROTOCOL.md for the exchange.

use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, DocId, UnitId};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// First bytes of every frame.
pub const MAGIC: [u8; 2] = *b"GB";
/// Bodies larger than this are compressed.
pub const COMPRESS_OVER: usize = 256;
/// The largest frame either side accepts, compressed or not (16 MiB).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;
/// The default page size a device asks for: 256 KiB of changes per answer.
pub const DEFAULT_PAGE_BYTES: u32 = 256 * 1024;

const FLAG_ZSTD: u8 = 1;

/// A relay's identity in time. A relay restored from a backup gets a new epoch, and devices
/// stop trusting their cursors into the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Epoch(pub u64);

/// A change hash (SHA-256 of an Automerge change).
pub type Hash = [u8; 32];

/// Device → relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceMessage {
    /// Push what the relay lacks and pull what is new: one round trip.
    Sync(SyncRequest),
}

/// Relay → device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RelayMessage {
    /// The answer to [`DeviceMessage::Sync`].
    Sync(SyncResponse),
}

/// One sync round trip from the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// The epoch `cursor` belongs to; `None` for a device that has never synced.
    pub epoch: Option<Epoch>,
    /// The relay sequence number up to which this device has everything it may read.
    pub cursor: u64,
    /// Changes of documents the relay has not acknowledged, all dirty documents at once.
    pub push: Vec<DocChanges>,
    /// The most change bytes the device wants in this answer.
    pub page_bytes: u32,
    /// Sent when reconciling after an epoch change: the heads of every document the device
    /// holds, so the relay can say what it lacks.
    pub have: Vec<DocHeads>,
}

/// Changes of one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocChanges {
    /// The document.
    pub doc: DocId,
    /// Encoded Automerge changes, in causal order.
    #[serde(with = "byte_vecs")]
    pub changes: Vec<Vec<u8>>,
}

/// The heads of one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocHeads {
    /// The document.
    pub doc: DocId,
    /// Its heads.
    pub heads: Vec<Hash>,
}

/// The relay stored a pushed document's changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocAck {
    /// The document.
    pub doc: DocId,
    /// The relay's heads for it after storing: everything up to these is durable.
    pub heads: Vec<Hash>,
    /// When the relay received it (UTC ms, relay clock).
    pub received_at: i64,
}

/// Why a pushed document was refused. Nothing of it was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectCode {
    /// The device's unit does not own the document.
    NotOwner,
    /// A change tries to alter the header.
    HeaderChanged,
    /// The document would break a schema rule.
    Invalid,
    /// A change is signed by another actor than the pushing device.
    ForeignActor,
    /// A change cannot be decoded.
    Corrupt,
    /// The changes depend on changes the relay does not have; push from scratch.
    MissingDependencies,
}

/// A refused document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocReject {
    /// The document.
    pub doc: DocId,
    /// Machine-readable reason.
    pub code: RejectCode,
    /// What was wrong, for a person.
    pub reason: String,
}

/// Changes from the relay to a device, with the relay's receipt time of the latest one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayChanges {
    /// The document.
    pub doc: DocId,
    /// Encoded Automerge changes, in relay order.
    #[serde(with = "byte_vecs")]
    pub changes: Vec<Vec<u8>>,
    /// When the relay received the last of them (UTC ms).
    pub received_at: i64,
}

/// The relay's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// The relay's epoch. If it differs from the request's, the cursor was reset to 0.
    pub epoch: Epoch,
    /// Pushed documents stored.
    pub acks: Vec<DocAck>,
    /// Pushed documents refused.
    pub rejects: Vec<DocReject>,
    /// A page of changes the device may read, after its cursor.
    pub changes: Vec<RelayChanges>,
    /// The cursor after this page.
    pub cursor: u64,
    /// More pages are waiting.
    pub more: bool,
    /// When reconciling: documents the device holds that the relay lacks wholly or partly;
    /// the device pushes them in full next.
    pub wanted: Vec<DocId>,
}

/// Answer to an enrollment (JSON, over HTTP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    /// The device's id; its Automerge actor id is derived from it.
    pub device: DeviceId,
    /// The unit the device writes for.
    pub unit: UnitId,
    /// The bearer token (shown once; the relay keeps only its hash).
    pub token: String,
}

/// Request body of an enrollment (JSON, over HTTP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// The one-time code the office gave.
    pub code: String,
    /// The id the device chose for itself.
    pub device: DeviceId,
    /// A label for the office's list ("điện thoại chị Lan").
    pub label: String,
}

/// A frame that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Shorter than the 5-byte frame header.
    #[error("the message is truncated ({0} bytes)")]
    Truncated(usize),
    /// Does not start with "GB".
    #[error("not a Giao Ban message")]
    BadMagic,
    /// A version this build does not speak.
    #[error(
        "protocol version {found} is not supported (this side speaks {PROTOCOL_VERSION}); update the app or the relay"
    )]
    UnsupportedVersion {
        /// The version in the frame.
        found: u16,
    },
    /// Larger than [`MAX_FRAME`] once decompressed.
    #[error("the message is larger than {MAX_FRAME} bytes")]
    TooLarge,
    /// The body does not decode.
    #[error("the message body is malformed: {0}")]
    Malformed(String),
}

/// Encodes a message into a frame.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    // postcard cannot fail on these types: no maps with non-string keys, no unbounded recursion.
    let body = postcard::to_stdvec(msg).unwrap_or_default();
    let mut out = Vec::with_capacity(5 + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    if body.len() > COMPRESS_OVER
        && let Ok(z) = zstd::bulk::compress(&body, 3)
        && z.len() < body.len()
    {
        out.push(FLAG_ZSTD);
        out.extend_from_slice(&z);
        return out;
    }
    out.push(0);
    out.extend_from_slice(&body);
    out
}

/// Decodes a frame.
pub fn decode<T: for<'de> Deserialize<'de>>(frame: &[u8]) -> Result<T, FrameError> {
    if frame.len() < 5 {
        return Err(FrameError::Truncated(frame.len()));
    }
    if frame[..2] != MAGIC {
        return Err(FrameError::BadMagic);
    }
    let version = u16::from_le_bytes([frame[2], frame[3]]);
    if version != PROTOCOL_VERSION {
        return Err(FrameError::UnsupportedVersion { found: version });
    }
    let flags = frame[4];
    let body = &frame[5..];
    if flags & FLAG_ZSTD != 0 {
        let raw = zstd::bulk::decompress(body, MAX_FRAME).map_err(|e| {
            if e.to_string().contains("too small") {
                FrameError::TooLarge
            } else {
                FrameError::Malformed(e.to_string())
            }
        })?;
        postcard::from_bytes(&raw).map_err(|e| FrameError::Malformed(e.to_string()))
    } else {
        postcard::from_bytes(body).map_err(|e| FrameError::Malformed(e.to_string()))
    }
}

/// Serde for `Vec<Vec<u8>>` as byte strings (compact in postcard).
mod byte_vecs {
    use serde::de::{SeqAccess, Visitor};
    use serde::ser::SerializeSeq;
    use serde::{Deserializer, Serializer};

    struct Bytes<'a>(&'a [u8]);

    impl serde::Serialize for Bytes<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    pub fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(&Bytes(b))?;
        }
        seq.end()
    }

    struct ByteBuf(Vec<u8>);

    impl<'de> serde::Deserialize<'de> for ByteBuf {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = ByteBuf;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
                    Ok(ByteBuf(v.to_vec()))
                }
                fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<ByteBuf, E> {
                    Ok(ByteBuf(v.to_vec()))
                }
                fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                    Ok(ByteBuf(v))
                }
            }
            d.deserialize_bytes(V)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<Vec<u8>>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of byte strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                // Cap the preallocation: the length comes from the sender.
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(ByteBuf(b)) = seq.next_element()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use proptest::prelude::*;

    use super::*;

    fn doc_id() -> impl Strategy<Value = DocId> {
        any::<[u8; 16]>().prop_map(DocId::from_bytes)
    }

    fn changes() -> impl Strategy<Value = DocChanges> {
        (doc_id(), prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..4))
            .prop_map(|(doc, changes)| DocChanges { doc, changes })
    }

    fn request() -> impl Strategy<Value = SyncRequest> {
        (
            prop::option::of(any::<u64>().prop_map(Epoch)),
            any::<u64>(),
            prop::collection::vec(changes(), 0..4),
            any::<u32>(),
            prop::collection::vec((doc_id(), prop::collection::vec(any::<[u8; 32]>(), 0..3)), 0..3),
        )
            .prop_map(|(epoch, cursor, push, page_bytes, have)| SyncRequest {
                epoch,
                cursor,
                push,
                page_bytes,
                have: have.into_iter().map(|(doc, heads)| DocHeads { doc, heads }).collect(),
            })
    }

    proptest! {
        #[test]
        fn requests_round_trip(req in request()) {
            let msg = DeviceMessage::Sync(req);
            let frame = encode(&msg);
            prop_assert_eq!(decode::<DeviceMessage>(&frame).unwrap(), msg);
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode::<DeviceMessage>(&bytes);
            let mut framed = b"GB\x01\x00\x00".to_vec();
            framed.extend_from_slice(&bytes);
            let _ = decode::<RelayMessage>(&framed);
        }
    }

    #[test]
    fn a_no_change_sync_is_tiny() {
        let req = DeviceMessage::Sync(SyncRequest {
            epoch: Some(Epoch(0x0123_4567_89ab_cdef)),
            cursor: 1_000_000,
            push: vec![],
            page_bytes: DEFAULT_PAGE_BYTES,
            have: vec![],
        });
        let frame = encode(&req);
        assert!(frame.len() < 32, "{} bytes", frame.len());
        let resp = RelayMessage::Sync(SyncResponse {
            epoch: Epoch(0x0123_4567_89ab_cdef),
            acks: vec![],
            rejects: vec![],
            changes: vec![],
            cursor: 1_000_000,
            more: false,
            wanted: vec![],
        });
        assert!(encode(&resp).len() < 32);
    }

    #[test]
    fn bad_frames_say_why() {
        assert_eq!(decode::<DeviceMessage>(b"GB"), Err(FrameError::Truncated(2)));
        assert_eq!(decode::<DeviceMessage>(b"XX\x01\x00\x00"), Err(FrameError::BadMagic));
        assert_eq!(
            decode::<DeviceMessage>(b"GB\x09\x00\x00"),
            Err(FrameError::UnsupportedVersion { found: 9 })
        );
        assert!(matches!(decode::<DeviceMessage>(b"GB\x01\x00\x00\xff\xff"), Err(FrameError::Malformed(_))));
    }

    #[test]
    fn large_bodies_are_compressed() {
        let text = "Rà soát, đánh giá hiệu quả hoạt động các mô hình của Mặt trận. ".repeat(50);
        let msg = DeviceMessage::Sync(SyncRequest {
            epoch: None,
            cursor: 0,
            push: vec![DocChanges { doc: DocId::from_bytes([1; 16]), changes: vec![text.into_bytes()] }],
            page_bytes: 1,
            have: vec![],
        });
        let frame = encode(&msg);
        assert_eq!(frame[4], FLAG_ZSTD);
        assert!(frame.len() < 400, "{}", frame.len());
        assert_eq!(decode::<DeviceMessage>(&frame).unwrap(), msg);
    }
}
