//! The unit tree, stored as a UnitDirectory document.

pub use giaoban_protocol::reference::unit_directory_from_reference;

use std::sync::Arc;

use giaoban_protocol::schema::{Unit, UnitDirectory};
use giaoban_protocol::{DocId, DocKind, UnitId};
use giaoban_vietnamese_text::collator;

use crate::Store;
use crate::error::{CoreError, Result};

impl Store {
    /// Stores a unit directory owned by this device's unit.
    pub fn create_unit_directory(&mut self, directory: &UnitDirectory) -> Result<DocId> {
        self.create(directory, false)?;
        Ok(directory.header.id)
    }

    /// The unit directory on this device (the first one, if several).
    pub fn unit_directory(&mut self) -> Result<UnitDirectory> {
        Ok(UnitDirectory::clone(&*self.shared_unit_directory()?))
    }

    /// The unit directory on this device, shared rather than copied: it is read from its
    /// document again only when the document changed, so asking often is cheap.
    pub fn shared_unit_directory(&mut self) -> Result<Arc<UnitDirectory>> {
        let id = self
            .document_ids(Some(DocKind::UnitDirectory))?
            .into_iter()
            .next()
            .ok_or_else(|| CoreError::not_found("unit directory", "of this organisation"))?;
        self.directory(id)
    }

    /// The units this device writes for: its own unit first, then every unit its unit succeeds
    /// (directly or through a chain of mergers), as the unit directories on this device say.
    /// A merged commune's successor answers the predecessor's open tasks in the predecessor's
    /// own responses; list them with `TaskScope::Unit(predecessor)`.
    pub fn acting_for(&mut self) -> Result<Vec<UnitId>> {
        let me = self.my_unit()?;
        let mut out = vec![me];
        for id in self.document_ids(Some(DocKind::UnitDirectory))? {
            let dir = match self.directory(id) {
                Ok(d) => d,
                Err(e @ (CoreError::Storage(_) | CoreError::DamagedStore { .. })) => return Err(e),
                // A damaged or newer directory reports itself when opened; it grants nothing.
                Err(_) => continue,
            };
            let mut tree = giaoban_protocol::authz::UnitTree::new();
            for u in &dir.units {
                tree.insert(u.id, u.parent);
                for s in &u.successors {
                    tree.add_successor(u.id, *s);
                }
            }
            for u in &dir.units {
                if tree.succeeds(me, u.id) && !out.contains(&u.id) {
                    out.push(u.id);
                }
            }
        }
        Ok(out)
    }

    /// Whether this device may write documents owned by `owner`: its own unit's, or those of a
    /// unit its unit succeeds.
    pub(crate) fn writes_for(&mut self, owner: UnitId) -> Result<bool> {
        if self.my_unit()? == owner {
            return Ok(true);
        }
        Ok(self.acting_for()?.contains(&owner))
    }

    /// The children of `parent`, sorted by name the Vietnamese way.
    pub fn child_units(&mut self, parent: UnitId) -> Result<Vec<Unit>> {
        let dir = self.shared_unit_directory()?;
        let mut units: Vec<Unit> = dir.children(parent).cloned().collect();
        let c = collator();
        units.sort_by(|a, b| c.compare(&a.short_name, &b.short_name));
        Ok(units)
    }
}
