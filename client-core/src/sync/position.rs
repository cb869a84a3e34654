//! The sync position as stored in the `meta` table, written in the same transaction as the
//! answer it comes from.

use giaoban_protocol::DocId;
use giaoban_protocol::session::{Position, Reconcile};
use giaoban_protocol::wire::{Epoch, Witness};

use crate::Store;
use crate::error::Result;

const EPOCH: &str = "sync_epoch";
const CURSOR: &str = "sync_cursor";
const WITNESS: &str = "sync_witness";
const OWN_HELD: &str = "sync_own_held";
const LISTING: &str = "sync_listing";

fn u64_of(b: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(b).ok().map(u64::from_le_bytes)
}

impl Store {
    /// The saved position. A position stored damaged is not trusted: the device then starts
    /// from the beginning of its unit's log and lists what it holds, which loses nothing.
    pub(crate) fn load_position(&self) -> Result<Position> {
        match self.read_position()? {
            Some(p) => Ok(p),
            None => {
                tracing::warn!("the stored sync position is damaged; starting over and reconciling");
                Ok(Position { reconcile: Reconcile::Listing { pass: 1, after: None }, ..Position::default() })
            }
        }
    }

    fn read_position(&self) -> Result<Option<Position>> {
        let epoch = match self.meta_get(EPOCH)? {
            None => None,
            Some(b) => match u64_of(&b) {
                Some(e) => Some(Epoch(e)),
                None => return Ok(None),
            },
        };
        let number = |key: &str| -> Result<Option<u64>> {
            Ok(match self.meta_get(key)? {
                None => Some(0),
                Some(b) => u64_of(&b),
            })
        };
        let (Some(cursor), Some(own_held)) = (number(CURSOR)?, number(OWN_HELD)?) else { return Ok(None) };
        let witness = match self.meta_get(WITNESS)? {
            None => Witness::default(),
            Some(b) if b.len() == 24 => {
                let Some(pos) = u64_of(&b[..8]) else { return Ok(None) };
                let mut digest = [0u8; 16];
                digest.copy_from_slice(&b[8..]);
                Witness { pos, digest }
            }
            Some(_) => return Ok(None),
        };
        let reconcile = match self.meta_get(LISTING)? {
            None => Reconcile::Done,
            Some(b) if b.len() == 4 || b.len() == 20 => {
                let mut pass = [0u8; 4];
                pass.copy_from_slice(&b[..4]);
                let after = if b.len() == 20 {
                    match DocId::from_slice(&b[4..]) {
                        Ok(d) => Some(d),
                        Err(_) => return Ok(None),
                    }
                } else {
                    None
                };
                Reconcile::Listing { pass: u32::from_le_bytes(pass), after }
            }
            Some(_) => return Ok(None),
        };
        Ok(Some(Position { epoch, cursor, witness, own_held, reconcile }))
    }

    /// Writes `p` (inside the answer's transaction).
    pub(crate) fn save_position(&self, p: &Position) -> Result<()> {
        match p.epoch {
            Some(e) => self.meta_set(EPOCH, &e.0.to_le_bytes())?,
            None => self.meta_delete(EPOCH)?,
        }
        self.meta_set(CURSOR, &p.cursor.to_le_bytes())?;
        self.meta_set(OWN_HELD, &p.own_held.to_le_bytes())?;
        let mut w = p.witness.pos.to_le_bytes().to_vec();
        w.extend_from_slice(&p.witness.digest);
        self.meta_set(WITNESS, &w)?;
        match p.reconcile {
            Reconcile::Done => self.meta_delete(LISTING)?,
            Reconcile::Listing { pass, after } => {
                // The relay lost history (a restore, a new epoch): it may have lost files too.
                // Each file this device sent is checked with it again before being counted as
                // there.
                self.conn().execute("UPDATE files SET checked_at = 0", [])?;
                let mut b = pass.to_le_bytes().to_vec();
                if let Some(a) = after {
                    b.extend_from_slice(&a.to_bytes());
                }
                self.meta_set(LISTING, &b)?;
            }
        }
        Ok(())
    }
}
