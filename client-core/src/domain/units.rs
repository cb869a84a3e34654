//! The unit tree, stored as a UnitDirectory document.

pub use giaoban_protocol::reference::unit_directory_from_reference;

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
        let id = self
            .document_ids(Some(DocKind::UnitDirectory))?
            .into_iter()
            .next()
            .ok_or_else(|| CoreError::not_found("unit directory", "of this organisation"))?;
        self.get(id)
    }

    /// The children of `parent`, sorted by name the Vietnamese way.
    pub fn child_units(&mut self, parent: UnitId) -> Result<Vec<Unit>> {
        let dir = self.unit_directory()?;
        let mut units: Vec<Unit> = dir.children(parent).cloned().collect();
        let c = collator();
        units.sort_by(|a, b| c.compare(&a.short_name, &b.short_name));
        Ok(units)
    }
}
