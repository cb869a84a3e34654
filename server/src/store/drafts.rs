//! Drafts of the desk: dispatches a staff member is writing, kept as the form holds them until
//! issued. A draft is the desk's own state, not a record: nothing in it syncs, and issuing one
//! goes through the member's store like every desk write.

use giaoban_protocol::DocId;
use rusqlite::{OptionalExtension, params};

use super::{RelayStore, Result, StaffId, StoreError};

/// A draft as the desk's first page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftSummary {
    /// Its id (random, made when the form was first shown).
    pub id: [u8; 16],
    /// When last saved (UTC ms).
    pub saved_at: i64,
    /// Its number and subject so far.
    pub title: String,
}

/// A draft's fields, and the directive issued from it if it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The form's fields, in order, as (name, value).
    pub fields: Vec<(String, String)>,
    /// The directive issued from this draft.
    pub issued: Option<DocId>,
}

/// Where a draft stands when a file is sent to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftForFiles {
    /// The member's draft, not yet issued: the file may be kept.
    Open,
    /// Issued already: it takes no more files.
    Issued,
    /// Another member's draft has this id: nothing is kept.
    NotTheirs,
}

/// The title of a draft with no number or subject yet.
pub const UNTITLED: &str = "(chưa có số và trích yếu)";

/// Largest draft kept, in bytes of JSON: far more than any dispatch's words.
pub const MAX_DRAFT_BYTES: usize = 4 * 1024 * 1024;

impl RelayStore {
    /// Makes sure a member's draft exists before a file is kept for it: a draft the relay has
    /// not heard of yet is recorded (with no fields), so its files are never taken for those
    /// of a draft gone, even if saving the form with them then fails.
    pub fn draft_for_files(&self, staff: StaffId, id: [u8; 16]) -> Result<DraftForFiles> {
        self.writer().run_blocking(move |ctx| {
            ctx.tx.execute(
                "INSERT INTO desk_drafts(id, staff, saved_at, title, fields) VALUES (?1, ?2, ?3, ?4, '[]')
                 ON CONFLICT(id) DO NOTHING",
                params![id.to_vec(), staff.0.to_vec(), ctx.now, UNTITLED],
            )?;
            let (owner, issued): (Vec<u8>, Option<Vec<u8>>) = ctx.tx.query_row(
                "SELECT staff, issued FROM desk_drafts WHERE id = ?1",
                params![id.to_vec()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(if owner != staff.0.to_vec() {
                DraftForFiles::NotTheirs
            } else if issued.is_some() {
                DraftForFiles::Issued
            } else {
                DraftForFiles::Open
            })
        })
    }

    /// Saves (or replaces) a member's draft; `false` when the id is another member's draft (or
    /// one issued already), which is left as it is.
    pub fn save_draft(
        &self,
        staff: StaffId,
        id: [u8; 16],
        title: &str,
        fields: &[(String, String)],
    ) -> Result<bool> {
        let json = serde_json::to_string(fields).map_err(|e| StoreError::Internal(e.to_string()))?;
        if json.len() > MAX_DRAFT_BYTES {
            return Err(StoreError::Invalid(format!(
                "{} KB, tối đa {} KB",
                json.len() / 1024,
                MAX_DRAFT_BYTES / 1024
            )));
        }
        let title = title.to_string();
        self.writer().run_blocking(move |ctx| {
            let changed = ctx.tx.execute(
                "INSERT INTO desk_drafts(id, staff, saved_at, title, fields) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET saved_at = excluded.saved_at, title = excluded.title,
                     fields = excluded.fields
                 WHERE desk_drafts.staff = excluded.staff AND desk_drafts.issued IS NULL",
                params![id.to_vec(), staff.0.to_vec(), ctx.now, title, json],
            )?;
            Ok(changed > 0)
        })
    }

    /// A member's draft, if it is theirs.
    pub fn draft(&self, staff: StaffId, id: [u8; 16]) -> Result<Option<Draft>> {
        let row: Option<(String, Option<Vec<u8>>)> = self.read(|c| {
            Ok(c.query_row(
                "SELECT fields, issued FROM desk_drafts WHERE id = ?1 AND staff = ?2",
                params![id.to_vec(), staff.0.to_vec()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })?;
        let Some((json, issued)) = row else { return Ok(None) };
        let fields = serde_json::from_str(&json)
            .map_err(|e| StoreError::Invalid(format!("a stored draft is damaged: {e}")))?;
        let issued = issued
            .map(|b| DocId::from_slice(&b))
            .transpose()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        Ok(Some(Draft { fields, issued }))
    }

    /// Whether the draft id `id` is another member's.
    pub fn draft_is_others(&self, staff: StaffId, id: [u8; 16]) -> Result<bool> {
        self.read(|c| {
            let owner: Option<Vec<u8>> = c
                .query_row("SELECT staff FROM desk_drafts WHERE id = ?1", params![id.to_vec()], |r| r.get(0))
                .optional()?;
            Ok(owner.is_some_and(|o| o != staff.0.to_vec()))
        })
    }

    /// A member's drafts not yet issued, newest first: the 100 saved last.
    pub fn drafts(&self, staff: StaffId) -> Result<Vec<DraftSummary>> {
        self.drafts_up_to(staff, Some(100))
    }

    /// How many drafts a member has not issued.
    pub fn draft_count(&self, staff: StaffId) -> Result<u64> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM desk_drafts WHERE staff = ?1 AND issued IS NULL",
                params![staff.0.to_vec()],
                |r| r.get::<_, i64>(0),
            )?
            .max(0) as u64)
        })
    }

    /// A member's drafts not yet issued, newest first: at most `limit` of them, or all.
    pub fn drafts_up_to(&self, staff: StaffId, limit: Option<u32>) -> Result<Vec<DraftSummary>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT id, saved_at, title FROM desk_drafts WHERE staff = ?1 AND issued IS NULL
                 ORDER BY saved_at DESC LIMIT ?2",
            )?;
            let limit = limit.map_or(-1, i64::from);
            let rows = stmt.query_map(params![staff.0.to_vec(), limit], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, saved_at, title) = row?;
                let id: [u8; 16] = id
                    .as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Invalid("a stored draft id is damaged".into()))?;
                out.push(DraftSummary { id, saved_at, title });
            }
            Ok(out)
        })
    }

    /// Records that `doc` was issued from a member's draft (keeping the draft as it was issued,
    /// even if it was never saved before).
    pub fn mark_draft_issued(
        &self,
        staff: StaffId,
        id: [u8; 16],
        title: &str,
        fields: &[(String, String)],
        doc: DocId,
    ) -> Result<()> {
        let json = serde_json::to_string(fields).map_err(|e| StoreError::Internal(e.to_string()))?;
        let title = title.to_string();
        self.writer().run_blocking(move |ctx| {
            ctx.tx.execute(
                "INSERT INTO desk_drafts(id, staff, saved_at, title, fields, issued) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(id) DO UPDATE SET issued = excluded.issued, saved_at = excluded.saved_at
                 WHERE desk_drafts.staff = excluded.staff",
                params![id.to_vec(), staff.0.to_vec(), ctx.now, title, json, doc.to_bytes().to_vec()],
            )?;
            Ok(())
        })
    }

    /// Removes a member's draft not yet issued.
    pub fn delete_draft(&self, staff: StaffId, id: [u8; 16]) -> Result<()> {
        self.writer().run_blocking(move |ctx| {
            ctx.tx.execute(
                "DELETE FROM desk_drafts WHERE id = ?1 AND staff = ?2 AND issued IS NULL",
                params![id.to_vec(), staff.0.to_vec()],
            )?;
            Ok(())
        })
    }
}
