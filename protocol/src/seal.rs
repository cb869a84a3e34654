//! What lets a relay recognise its own history after a restore: the digest chain of each unit's
//! log, and the seals on the vouchers it gives devices.
//!
//! - Every entry of a unit's log carries a digest of everything before it
//!   ([`chain_digest`]): each change with the receipt time the relay gives it. A device
//!   remembers the furthest point it was shown (a [`Witness`](crate::wire::Witness)); a relay
//!   that does not hold that exact digest at that position has lost or rewritten history the
//!   device saw, whoever reaches it first.
//! - A [`Voucher`](crate::wire::Voucher) is sealed with the relay's key ([`RelayKey`]), which
//!   lives in the relay's database and so travels with its backups. Only the relay can make a
//!   seal; any device can carry one back.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::ids::DocId;
use crate::wire::{Hash, Seal, Voucher};

/// The digest of a unit's log after appending the change `hash` of `doc`, received at
/// `received_at`, at `pos`, given the digest before it.
///
/// The receipt time is part of the entry: devices take it from the log (deadlines are judged by
/// it), and a relay restored from an older backup may store the same changes again in the same
/// order but at later times. Its log is then another history, and a device that was shown the
/// first times reconciles and is shown the relay's.
pub fn chain_digest(prev: &[u8; 16], pos: u64, doc: DocId, hash: &Hash, received_at: i64) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(b"giaoban unit log 2");
    h.update(prev);
    h.update(pos.to_le_bytes());
    h.update(doc.to_bytes());
    h.update(hash);
    h.update(received_at.to_le_bytes());
    let full = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// The relay's secret for sealing vouchers (32 random bytes, drawn by the relay).
#[derive(Clone)]
pub struct RelayKey([u8; 32]);

impl std::fmt::Debug for RelayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RelayKey(…)")
    }
}

impl RelayKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> RelayKey {
        RelayKey(bytes)
    }

    fn mac(&self, doc: DocId, hash: &Hash, received_at: i64) -> Seal {
        // HMAC accepts keys of any length; 32 bytes never fails.
        let mut m = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => return [0; 16],
        };
        m.update(b"giaoban voucher 1");
        m.update(&doc.to_bytes());
        m.update(hash);
        m.update(&received_at.to_le_bytes());
        let full = m.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        out
    }

    /// Seals the fact that this relay received change `hash` of `doc` at `received_at`.
    pub fn seal(&self, doc: DocId, hash: &Hash, received_at: i64) -> Seal {
        self.mac(doc, hash, received_at)
    }

    /// A voucher for change `hash` of `doc`.
    pub fn voucher(&self, doc: DocId, hash: Hash, received_at: i64) -> Voucher {
        Voucher { hash, received_at, seal: self.seal(doc, &hash, received_at) }
    }

    /// Whether `v` is a voucher this key sealed for `doc`. Compared in constant time.
    pub fn verify(&self, doc: DocId, v: &Voucher) -> bool {
        let Ok(mut m) = Hmac::<Sha256>::new_from_slice(&self.0) else { return false };
        m.update(b"giaoban voucher 1");
        m.update(&doc.to_bytes());
        m.update(&v.hash);
        m.update(&v.received_at.to_le_bytes());
        m.verify_truncated_left(&v.seal).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vouchers_verify_only_under_their_key_document_and_time() {
        let key = RelayKey::from_bytes([7; 32]);
        let doc = DocId::from_bytes([1; 16]);
        let v = key.voucher(doc, [9; 32], 1_767_600_000_000);
        assert!(key.verify(doc, &v));
        assert!(!RelayKey::from_bytes([8; 32]).verify(doc, &v), "another relay's key");
        assert!(!key.verify(DocId::from_bytes([2; 16]), &v), "another document");
        assert!(!key.verify(doc, &Voucher { received_at: v.received_at - 1, ..v }), "an earlier time");
        assert!(!key.verify(doc, &Voucher { hash: [8; 32], ..v }), "another change");
        let mut forged = v;
        forged.seal[15] ^= 1;
        assert!(!key.verify(doc, &forged));
    }

    #[test]
    fn the_chain_depends_on_every_entry() {
        let doc = DocId::from_bytes([1; 16]);
        let a = chain_digest(&[0; 16], 1, doc, &[1; 32], 10);
        let b = chain_digest(&a, 2, doc, &[2; 32], 20);
        let b_other = chain_digest(&chain_digest(&[0; 16], 1, doc, &[3; 32], 10), 2, doc, &[2; 32], 20);
        assert_ne!(b, b_other, "a different first entry changes every later digest");
        assert_ne!(chain_digest(&a, 3, doc, &[2; 32], 20), b, "the position is part of the digest");
        assert_ne!(
            chain_digest(&a, 2, doc, &[2; 32], 21),
            b,
            "the same change received at another time is another entry"
        );
    }
}
