//! Heads (sets of change hashes) as stored in SQLite: sorted 32-byte hashes, concatenated.

use automerge::ChangeHash;

/// Encodes heads in a canonical order, so equal sets give equal bytes.
pub fn encode(heads: &[ChangeHash]) -> Vec<u8> {
    let mut sorted: Vec<&ChangeHash> = heads.iter().collect();
    sorted.sort();
    let mut out = Vec::with_capacity(32 * sorted.len());
    for h in sorted {
        out.extend_from_slice(&h.0);
    }
    out
}

/// Decodes [`encode`]'s output; `None` if the length is not a multiple of 32.
pub fn decode(bytes: &[u8]) -> Option<Vec<ChangeHash>> {
    if !bytes.len().is_multiple_of(32) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                ChangeHash(h)
            })
            .collect(),
    )
}
