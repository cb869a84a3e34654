//! The wire: typed, versioned binary messages, one enum per direction.
//!
//! A frame is `"GB"`, the protocol version (u16, little endian), a flags byte, then the message
//! encoded with postcard. With flag bit 0 set the message is zstd-compressed; senders compress
//! bodies over [`COMPRESS_OVER`] bytes. See PROTOCOL.md for the exchange.

use serde::{Deserialize, Serialize};

use crate::ids::{DeviceId, DocId, UnitId};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 2;
/// First bytes of every frame.
pub const MAGIC: [u8; 2] = *b"GB";
/// Bodies larger than this are compressed.
pub const COMPRESS_OVER: usize = 256;
/// The largest frame either side accepts, compressed or not (16 MiB).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;
/// The default page size a device asks for: 256 KiB of changes per answer.
pub const DEFAULT_PAGE_BYTES: u32 = 256 * 1024;
/// The most change bytes a device pushes in one request by default (1 MiB); a device with more
/// unsent work pushes it a page at a time, each page acknowledged before the next.
pub const DEFAULT_PUSH_BYTES: u32 = 1024 * 1024;
/// The most documents a device lists in one reconcile page (`have`).
pub const HAVE_PAGE_DOCS: usize = 2_000;
/// The most documents a device asks to receive whole in one request (`refetch`).
pub const REFETCH_DOCS: usize = 8;

const FLAG_ZSTD: u8 = 1;

/// A relay's identity in time. Changing it makes every device reconcile (`admin new-epoch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Epoch(pub u64);

/// A change hash (SHA-256 of an Automerge change).
pub type Hash = [u8; 32];

/// A relay's seal on a fact it vouches for (truncated HMAC-SHA256 under the relay's key).
pub type Seal = [u8; 16];

/// A point in the log of changes a unit may read: its position and the digest of the log up to
/// it. Every digest chains all the entries before it (each change with its receipt time), so two
/// relays (or one relay before and after a restore from an older backup) that agree on a witness
/// agree on the whole log up to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Witness {
    /// Position in the unit's log; 0 is the empty log.
    pub pos: u64,
    /// Digest of the log up to and including `pos` (all zero for position 0).
    pub digest: [u8; 16],
}

/// The relay's voucher for one change it stored: when it received it, sealed with its key. A
/// device keeps vouchers for the changes it receives and shows them when it pushes those
/// changes back to a relay restored from an older backup: the relay then accepts changes
/// written by another device (it once accepted them itself), even from a device of a unit that
/// only reads the document, and keeps their original receipt time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voucher {
    /// The change.
    pub hash: Hash,
    /// When the relay received it (UTC ms, relay clock).
    pub received_at: i64,
    /// The relay's seal over the document, the change and the time.
    pub seal: Seal,
}

/// Device → relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceMessage {
    /// Push what the relay lacks and pull what is new: one round trip.
    Sync(SyncRequest),
}

/// What a device says about itself with each sync request, for the office's list of devices:
/// postcard-encoded after the [`DeviceMessage`] in the same frame body. A relay that predates it
/// reads the message and ignores the bytes after it; a frame without it (an older app) is read
/// as before, with no status. See PROTOCOL.md, "Device status".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeviceStatus {
    /// The app's name and version as the app gives it ("Giao Ban Android 1.4.2"); empty if
    /// the app never said. At most [`STATUS_TEXT_MAX`] characters are kept.
    pub app_version: String,
    /// The version of the client-core library the app embeds.
    pub core_version: String,
    /// Documents with changes the relay has not acknowledged, not counting those pushed in
    /// this request.
    pub unsent_docs: u64,
    /// Attached files of the device's unit the relay does not hold whole yet.
    pub unsent_files: u64,
}

/// The most characters of [`DeviceStatus`] text a relay keeps.
pub const STATUS_TEXT_MAX: usize = 64;

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
    /// The position in its unit's log up to which this device has applied everything.
    pub cursor: u64,
    /// The furthest point of its unit's log this relay has shown the device.
    pub witness: Witness,
    /// Position in its unit's log up to which the device holds every change it wrote itself;
    /// the relay leaves those out of pages and sends back any later ones (a device restored
    /// from an older copy of its own store gets back what it wrote since).
    pub own_held: u64,
    /// Changes of documents the relay has not acknowledged: one page of the dirty documents, at
    /// most about [`DEFAULT_PUSH_BYTES`] of changes (always at least one document).
    pub push: Vec<DocChanges>,
    /// The most change bytes the device wants in this answer.
    pub page_bytes: u32,
    /// Sent while reconciling: the heads of up to [`HAVE_PAGE_DOCS`] documents it holds (owned
    /// by its unit or only read), so the relay can say which it lacks.
    pub have: Vec<DocHeads>,
    /// Documents whose changes this device could not apply; the relay sends them whole.
    pub refetch: Vec<DocId>,
}

/// Changes of one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocChanges {
    /// The document.
    pub doc: DocId,
    /// Encoded Automerge changes, in causal order.
    #[serde(with = "byte_vecs")]
    pub changes: Vec<Vec<u8>>,
    /// Vouchers the device holds for some of these changes (written by other devices, or
    /// received before a restore); empty in ordinary pushes.
    pub vouchers: Vec<Voucher>,
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
    /// For documents whose receipt times matter (responses, where deadlines are judged by
    /// them): a voucher for every pushed change, with the time the relay first received it.
    pub vouchers: Vec<Voucher>,
}

/// Why a pushed document was refused. Nothing of it was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RejectCode {
    /// The device's unit does not own the document.
    NotOwner,
    /// A change tries to alter the header.
    HeaderChanged,
    /// The document would break a schema rule.
    Invalid,
    /// A change is signed by another actor than the pushing device, and no voucher of the
    /// relay's covers it.
    ForeignActor,
    /// A change cannot be decoded.
    Corrupt,
    /// The changes depend on changes the relay does not have. Relays answer this with
    /// [`SyncResponse::wanted`] instead; the code remains for what `check_push` reports.
    MissingDependencies,
}

impl RejectCode {
    /// Every code, in a stable order.
    pub const ALL: [RejectCode; 6] = [
        RejectCode::NotOwner,
        RejectCode::HeaderChanged,
        RejectCode::Invalid,
        RejectCode::ForeignActor,
        RejectCode::Corrupt,
        RejectCode::MissingDependencies,
    ];

    /// The stable name stored on devices and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::NotOwner => "not_owner",
            RejectCode::HeaderChanged => "header_changed",
            RejectCode::Invalid => "invalid",
            RejectCode::ForeignActor => "foreign_actor",
            RejectCode::Corrupt => "corrupt",
            RejectCode::MissingDependencies => "missing_dependencies",
        }
    }

    /// Parses [`RejectCode::as_str`].
    pub fn parse(s: &str) -> Option<RejectCode> {
        RejectCode::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for RejectCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

/// What the relay knows about one change it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeMeta {
    /// When the relay received the change (UTC ms, relay clock).
    pub received_at: i64,
    /// The relay's seal over the document, the change and that time (see [`Voucher`]); the
    /// relay seals every change it sends, and `None` means no voucher.
    pub seal: Option<Seal>,
}

/// Changes from the relay to a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayChanges {
    /// The document.
    pub doc: DocId,
    /// Encoded Automerge changes, in log order.
    #[serde(with = "byte_vecs")]
    pub changes: Vec<Vec<u8>>,
    /// One entry per change (a device ignores a list of another length).
    pub meta: Vec<ChangeMeta>,
}

/// The relay's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// The relay's epoch.
    pub epoch: Epoch,
    /// The relay's clock when it answered (UTC ms). Devices judge deadlines by it, never by
    /// their own clock.
    pub now: i64,
    /// Pushed documents stored.
    pub acks: Vec<DocAck>,
    /// Pushed documents refused.
    pub rejects: Vec<DocReject>,
    /// Documents the refetch asked for, then a page of changes the device may read after its
    /// cursor.
    pub changes: Vec<RelayChanges>,
    /// The cursor after this page.
    pub cursor: u64,
    /// The newest point of the unit's log when this answer was made.
    pub witness: Witness,
    /// The device's new `own_held`.
    pub own_held: u64,
    /// More pages are waiting.
    pub more: bool,
    /// Documents the relay lacks wholly or partly (from `have`, or pushed changes whose
    /// dependencies it lacks); the device pushes them in full next.
    pub wanted: Vec<DocId>,
    /// The device's witness is not in this relay's history (the relay was restored from an
    /// older backup after the device synced), or the epoch changed: this answer's page starts
    /// from the start of the log, and the device should list what it holds (`have`) so the
    /// relay can ask for what it lost.
    pub reconcile: bool,
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

/// What the relay holds of an attached file: the answer (JSON) of every file endpoint but a
/// download. A sender resumes from `have`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileHeld {
    /// The file's size, as the documents referring to it give it.
    pub size: u64,
    /// Bytes held from the start (all of them once `whole`).
    pub have: u64,
    /// Held whole and checked against its hash: devices may fetch it.
    pub whole: bool,
}

/// The largest piece of a file a device sends in one request: a request cut short keeps what
/// arrived, so this bounds only how long one request takes (about 22 s at 384 kbit/s).
pub const FILE_PIECE_BYTES: u64 = 1024 * 1024;

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

/// Encodes a device's message with its status after it, in one frame.
pub fn encode_with_status(msg: &DeviceMessage, status: &DeviceStatus) -> Vec<u8> {
    encode(&(msg, status))
}

/// Decodes a device's frame and the status after its message, if there is one. A status that
/// does not decode is dropped (`None`): it never makes the message unreadable.
pub fn decode_with_status(frame: &[u8]) -> Result<(DeviceMessage, Option<DeviceStatus>), FrameError> {
    let body = frame_body(frame)?;
    let (msg, rest) = postcard::take_from_bytes::<DeviceMessage>(&body)
        .map_err(|e| FrameError::Malformed(e.to_string()))?;
    let status = if rest.is_empty() { None } else { postcard::from_bytes::<DeviceStatus>(rest).ok() };
    Ok((msg, status))
}

/// Decodes a frame.
pub fn decode<T: for<'de> Deserialize<'de>>(frame: &[u8]) -> Result<T, FrameError> {
    postcard::from_bytes(&frame_body(frame)?).map_err(|e| FrameError::Malformed(e.to_string()))
}

/// The body of a frame, decompressed.
fn frame_body(frame: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, FrameError> {
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
    if body.len() > MAX_FRAME {
        return Err(FrameError::TooLarge);
    }
    if flags & FLAG_ZSTD != 0 {
        Ok(std::borrow::Cow::Owned(decompress(body)?))
    } else {
        Ok(std::borrow::Cow::Borrowed(body))
    }
}

/// Decompresses a body, refusing to produce more than [`MAX_FRAME`] bytes: it reads at most one
/// byte past the limit, so a small hostile frame cannot make the reader allocate more.
fn decompress(body: &[u8]) -> Result<Vec<u8>, FrameError> {
    use std::io::Read;
    let decoder = zstd::stream::read::Decoder::with_buffer(body)
        .map_err(|e| FrameError::Malformed(format!("not a zstd body: {e}")))?;
    let mut raw = Vec::new();
    decoder
        .take(MAX_FRAME as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| FrameError::Malformed(format!("the compressed body is damaged: {e}")))?;
    if raw.len() > MAX_FRAME {
        return Err(FrameError::TooLarge);
    }
    Ok(raw)
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

    fn voucher() -> impl Strategy<Value = Voucher> {
        (any::<[u8; 32]>(), any::<i64>(), any::<[u8; 16]>()).prop_map(|(hash, received_at, seal)| Voucher {
            hash,
            received_at,
            seal,
        })
    }

    fn changes() -> impl Strategy<Value = DocChanges> {
        (
            doc_id(),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..4),
            prop::collection::vec(voucher(), 0..2),
        )
            .prop_map(|(doc, changes, vouchers)| DocChanges { doc, changes, vouchers })
    }

    fn witness() -> impl Strategy<Value = Witness> {
        (any::<u64>(), any::<[u8; 16]>()).prop_map(|(pos, digest)| Witness { pos, digest })
    }

    fn request() -> impl Strategy<Value = SyncRequest> {
        (
            (prop::option::of(any::<u64>().prop_map(Epoch)), any::<u64>(), witness(), any::<u64>()),
            prop::collection::vec(changes(), 0..4),
            any::<u32>(),
            prop::collection::vec((doc_id(), prop::collection::vec(any::<[u8; 32]>(), 0..3)), 0..3),
            prop::collection::vec(doc_id(), 0..3),
        )
            .prop_map(|((epoch, cursor, witness, own_held), push, page_bytes, have, refetch)| {
                SyncRequest {
                    epoch,
                    cursor,
                    witness,
                    own_held,
                    push,
                    page_bytes,
                    have: have.into_iter().map(|(doc, heads)| DocHeads { doc, heads }).collect(),
                    refetch,
                }
            })
    }

    fn relay_changes() -> impl Strategy<Value = RelayChanges> {
        (
            doc_id(),
            prop::collection::vec(
                (
                    prop::collection::vec(any::<u8>(), 0..200),
                    any::<i64>(),
                    prop::option::of(any::<[u8; 16]>()),
                ),
                0..4,
            ),
            any::<bool>(),
        )
            .prop_map(|(doc, items, with_meta)| RelayChanges {
                doc,
                meta: if with_meta {
                    items
                        .iter()
                        .map(|(_, received_at, seal)| ChangeMeta { received_at: *received_at, seal: *seal })
                        .collect()
                } else {
                    Vec::new()
                },
                changes: items.into_iter().map(|(c, _, _)| c).collect(),
            })
    }

    fn response() -> impl Strategy<Value = SyncResponse> {
        (
            (any::<u64>(), any::<i64>(), any::<u64>(), witness(), any::<u64>(), any::<bool>(), any::<bool>()),
            prop::collection::vec(
                (
                    doc_id(),
                    prop::collection::vec(any::<[u8; 32]>(), 0..3),
                    prop::collection::vec(voucher(), 0..2),
                ),
                0..3,
            ),
            prop::collection::vec(
                (doc_id(), prop::sample::select(RejectCode::ALL.to_vec()), ".{0,40}"),
                0..2,
            ),
            prop::collection::vec(relay_changes(), 0..3),
            prop::collection::vec(doc_id(), 0..3),
        )
            .prop_map(
                |(
                    (epoch, now, cursor, witness, own_held, more, reconcile),
                    acks,
                    rejects,
                    changes,
                    wanted,
                )| {
                    SyncResponse {
                        epoch: Epoch(epoch),
                        now,
                        acks: acks
                            .into_iter()
                            .map(|(doc, heads, vouchers)| DocAck { doc, heads, vouchers })
                            .collect(),
                        rejects: rejects
                            .into_iter()
                            .map(|(doc, code, reason)| DocReject { doc, code, reason })
                            .collect(),
                        changes,
                        cursor,
                        witness,
                        own_held,
                        more,
                        wanted,
                        reconcile,
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn requests_round_trip(req in request()) {
            let msg = DeviceMessage::Sync(req);
            let frame = encode(&msg);
            prop_assert_eq!(decode::<DeviceMessage>(&frame).unwrap(), msg);
        }

        #[test]
        fn responses_round_trip(resp in response()) {
            let msg = RelayMessage::Sync(resp);
            let frame = encode(&msg);
            prop_assert_eq!(decode::<RelayMessage>(&frame).unwrap(), msg);
        }

        #[test]
        fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode::<DeviceMessage>(&bytes);
            let mut framed = b"GB\x02\x00\x00".to_vec();
            framed.extend_from_slice(&bytes);
            let _ = decode::<RelayMessage>(&framed);
            let mut zstd_framed = b"GB\x02\x00\x01".to_vec();
            zstd_framed.extend_from_slice(&bytes);
            let _ = decode::<RelayMessage>(&zstd_framed);
        }
    }

    #[test]
    fn a_no_change_sync_is_tiny() {
        let witness = Witness { pos: 1_000_000, digest: [7; 16] };
        let req = DeviceMessage::Sync(SyncRequest {
            epoch: Some(Epoch(0x0123_4567_89ab_cdef)),
            cursor: 1_000_000,
            witness,
            own_held: 999_000,
            push: vec![],
            page_bytes: DEFAULT_PAGE_BYTES,
            have: vec![],
            refetch: vec![],
        });
        let frame = encode(&req);
        assert!(frame.len() < 48, "{} bytes", frame.len());
        let resp = RelayMessage::Sync(SyncResponse {
            epoch: Epoch(0x0123_4567_89ab_cdef),
            now: 1_767_600_000_000,
            acks: vec![],
            rejects: vec![],
            changes: vec![],
            cursor: 1_000_000,
            witness,
            own_held: 999_000,
            more: false,
            wanted: vec![],
            reconcile: false,
        });
        let frame = encode(&resp);
        assert!(frame.len() < 56, "{} bytes", frame.len());
    }

    fn quiet_sync() -> DeviceMessage {
        DeviceMessage::Sync(SyncRequest {
            epoch: Some(Epoch(7)),
            cursor: 12,
            witness: Witness { pos: 12, digest: [3; 16] },
            own_held: 10,
            push: vec![],
            page_bytes: DEFAULT_PAGE_BYTES,
            have: vec![],
            refetch: vec![],
        })
    }

    #[test]
    fn a_device_status_rides_after_the_message_and_older_readers_ignore_it() {
        let status = DeviceStatus {
            app_version: "Giao Ban Android 1.4.2 (bản thử)".into(),
            core_version: "0.1.0".into(),
            unsent_docs: 3,
            unsent_files: 1,
        };
        let frame = encode_with_status(&quiet_sync(), &status);
        assert_eq!(decode_with_status(&frame), Ok((quiet_sync(), Some(status.clone()))));
        // A relay that predates the status reads the message alone.
        assert_eq!(decode::<DeviceMessage>(&frame), Ok(quiet_sync()));
        // An older app's frame has none.
        assert_eq!(decode_with_status(&encode(&quiet_sync())), Ok((quiet_sync(), None)));
        // A damaged status is dropped, the message still read.
        let mut damaged = encode(&quiet_sync());
        damaged.extend_from_slice(&[0xff, 0xff, 0xff]);
        assert_eq!(decode_with_status(&damaged), Ok((quiet_sync(), None)));
        // Compressed frames carry it too.
        let long = DeviceStatus { app_version: "x".repeat(400), ..status };
        let frame = encode_with_status(&quiet_sync(), &long);
        assert_eq!(frame[4], FLAG_ZSTD);
        assert_eq!(decode_with_status(&frame), Ok((quiet_sync(), Some(long))));
    }

    #[test]
    fn bad_frames_say_why() {
        assert_eq!(decode::<DeviceMessage>(b"GB"), Err(FrameError::Truncated(2)));
        assert_eq!(decode::<DeviceMessage>(b"XX\x02\x00\x00"), Err(FrameError::BadMagic));
        assert_eq!(
            decode::<DeviceMessage>(b"GB\x09\x00\x00"),
            Err(FrameError::UnsupportedVersion { found: 9 })
        );
        assert_eq!(
            decode::<DeviceMessage>(b"GB\x01\x00\x00"),
            Err(FrameError::UnsupportedVersion { found: 1 }),
            "the first version is no longer spoken"
        );
        assert!(matches!(decode::<DeviceMessage>(b"GB\x02\x00\x00\xff\xff"), Err(FrameError::Malformed(_))));
        assert!(matches!(decode::<DeviceMessage>(b"GB\x02\x00\x01\xff\xff"), Err(FrameError::Malformed(_))));
    }

    #[test]
    fn a_small_frame_that_expands_past_the_limit_is_too_large() {
        let zeros = vec![0u8; MAX_FRAME + 10];
        let bomb = zstd::bulk::compress(&zeros, 3).unwrap();
        assert!(bomb.len() < 4096, "{} bytes", bomb.len());
        let mut frame = b"GB\x02\x00\x01".to_vec();
        frame.extend_from_slice(&bomb);
        assert_eq!(decode::<DeviceMessage>(&frame), Err(FrameError::TooLarge));
    }

    #[test]
    fn large_bodies_are_compressed() {
        let text = "Rà soát, đánh giá hiệu quả hoạt động các mô hình của Mặt trận. ".repeat(50);
        let msg = DeviceMessage::Sync(SyncRequest {
            epoch: None,
            cursor: 0,
            witness: Witness::default(),
            own_held: 0,
            push: vec![DocChanges {
                doc: DocId::from_bytes([1; 16]),
                changes: vec![text.into_bytes()],
                vouchers: vec![],
            }],
            page_bytes: 1,
            have: vec![],
            refetch: vec![],
        });
        let frame = encode(&msg);
        assert_eq!(frame[4], FLAG_ZSTD);
        assert!(frame.len() < 400, "{}", frame.len());
        assert_eq!(decode::<DeviceMessage>(&frame).unwrap(), msg);
    }

    #[test]
    fn reject_codes_have_stable_names() {
        for c in RejectCode::ALL {
            assert_eq!(RejectCode::parse(c.as_str()), Some(c));
        }
        assert_eq!(RejectCode::parse("NotOwner"), None);
    }
}
