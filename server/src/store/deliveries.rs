//! What reached which unit's devices: each device's last sync and how far into its unit's log
//! the relay's last answer took it, and from that whether a record was delivered to any device
//! of a unit. For the desk; nothing here is part of a sync's answer.

use std::collections::HashMap;

use giaoban_protocol::wire::{DeviceStatus, STATUS_TEXT_MAX};
use giaoban_protocol::{DeviceId, DocId, UnitId};
use rusqlite::{OptionalExtension, params};

use super::{RelayStore, Result, StoreError};

/// Where a unit stands with one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnitDelivery {
    /// Some device of the unit (not a desk store, not revoked) has the record.
    pub delivered: bool,
    /// Some device of the unit has the record's latest change (a reminder, say).
    pub latest_delivered: bool,
    /// The last sync of any of its devices (relay clock, UTC ms).
    pub last_sync_at: Option<i64>,
    /// Devices it has enrolled and not revoked (desk stores not counted).
    pub devices: usize,
}

/// A device as the desk lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// The device.
    pub id: DeviceId,
    /// Its unit.
    pub unit: UnitId,
    /// The label it enrolled with.
    pub label: String,
    /// When it enrolled (UTC ms).
    pub enrolled_at: i64,
    /// Its last sync (UTC ms).
    pub last_sync_at: Option<i64>,
    /// Revoked.
    pub revoked: bool,
    /// A desk store of a staff member.
    pub desk: bool,
    /// What it last said of itself at a sync, and when (UTC ms); `None` for an app too old to
    /// say, or one that has not synced since.
    pub status: Option<(DeviceStatus, i64)>,
}

impl RelayStore {
    /// Records a device's sync: the answer took it up to `upto` in its unit's log, and it said
    /// `status` of itself (`None`: an app too old to say, whose last status is kept). The
    /// dispatches, meetings and reviews this takes the unit's devices to for the first time are
    /// noted as delivered now. Through the writer.
    pub async fn note_device_sync(
        &self,
        device: DeviceId,
        upto: u64,
        status: Option<DeviceStatus>,
    ) -> Result<()> {
        self.writer()
            .run(move |ctx| {
                let id = device.to_bytes().to_vec();
                let row: Option<(Vec<u8>, bool)> = ctx
                    .tx
                    .prepare_cached(
                        "SELECT unit, revoked_at IS NULL AND id NOT IN (SELECT device FROM staff WHERE device IS NOT NULL)
                         FROM devices WHERE id = ?1",
                    )?
                    .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let Some((unit, counts)) = row else { return Ok(()) };
                if counts {
                    // Only what no device of the unit had reached before.
                    let reached: i64 = ctx
                        .tx
                        .prepare_cached(
                            "SELECT COALESCE(MAX(synced_upto), 0) FROM devices
                             WHERE unit = ?1 AND revoked_at IS NULL
                               AND id NOT IN (SELECT device FROM staff WHERE device IS NOT NULL)",
                        )?
                        .query_row(params![unit], |r| r.get(0))?;
                    if (upto as i64) > reached {
                        ctx.tx
                            .prepare_cached(
                                "INSERT OR IGNORE INTO first_deliveries(unit, doc, at)
                                 SELECT DISTINCT ?1, c.doc, ?4 FROM unit_log ul
                                 JOIN changes c ON c.seq = ul.change JOIN docs d ON d.n = c.doc
                                 WHERE ul.unit = ?1 AND ul.pos > ?2 AND ul.pos <= ?3
                                   AND d.kind IN ('directive', 'meeting', 'review')",
                            )?
                            .execute(params![unit, reached, upto as i64, ctx.now])?;
                    }
                }
                ctx.tx.execute(
                    "UPDATE devices SET last_sync_at = ?2, synced_upto = ?3 WHERE id = ?1",
                    params![id, ctx.now, upto as i64],
                )?;
                if let Some(st) = status {
                    let text = |t: &str| -> String {
                        giaoban_vietnamese_text::clean_input(t).chars().take(STATUS_TEXT_MAX).collect()
                    };
                    ctx.tx.execute(
                        "UPDATE devices SET app_version = ?2, core_version = ?3, unsent_docs = ?4,
                                            unsent_files = ?5, status_at = ?6 WHERE id = ?1",
                        params![
                            id,
                            text(&st.app_version),
                            text(&st.core_version),
                            st.unsent_docs.min(i64::MAX as u64) as i64,
                            st.unsent_files.min(i64::MAX as u64) as i64,
                            ctx.now
                        ],
                    )?;
                }
                Ok(())
            })
            .await
    }

    /// When each of `units` first had record `doc` on one of its devices, where that is known
    /// (relay clock, UTC ms). Blocking.
    pub fn first_deliveries(&self, doc: DocId, units: &[UnitId]) -> Result<HashMap<UnitId, i64>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT at FROM first_deliveries WHERE unit = ?1 AND doc = (SELECT n FROM docs WHERE id = ?2)",
            )?;
            let mut out = HashMap::new();
            for u in units {
                if let Some(at) = stmt
                    .query_row(params![u.to_bytes().to_vec(), doc.to_bytes().to_vec()], |r| r.get(0))
                    .optional()?
                {
                    out.insert(*u, at);
                }
            }
            Ok(out)
        })
    }

    /// Where each of `units` stands with record `doc`. Blocking.
    pub fn deliveries(&self, doc: DocId, units: &[UnitId]) -> Result<HashMap<UnitId, UnitDelivery>> {
        self.read(|c| {
            let mut first_pos: HashMap<Vec<u8>, (i64, i64)> = HashMap::new();
            let mut stmt = c.prepare_cached(
                "SELECT ul.unit, MIN(ul.pos), MAX(ul.pos) FROM unit_log ul
                 WHERE ul.change IN (SELECT seq FROM changes WHERE doc = (SELECT n FROM docs WHERE id = ?1))
                 GROUP BY ul.unit",
            )?;
            let mut rows = stmt.query(params![doc.to_bytes().to_vec()])?;
            while let Some(r) = rows.next()? {
                first_pos.insert(r.get(0)?, (r.get(1)?, r.get(2)?));
            }
            let mut stmt = c.prepare_cached(
                "SELECT MAX(synced_upto), MAX(last_sync_at), COUNT(*) FROM devices
                 WHERE unit = ?1 AND revoked_at IS NULL
                   AND id NOT IN (SELECT device FROM staff WHERE device IS NOT NULL)",
            )?;
            let mut out = HashMap::new();
            for u in units {
                let key = u.to_bytes().to_vec();
                let (upto, last, devices): (Option<i64>, Option<i64>, i64) =
                    stmt.query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                let (delivered, latest_delivered) = match (first_pos.get(&key), upto) {
                    (Some((first, latest)), Some(upto)) => (upto >= *first, upto >= *latest),
                    _ => (false, false),
                };
                out.insert(
                    *u,
                    UnitDelivery {
                        delivered,
                        latest_delivered,
                        last_sync_at: last,
                        devices: devices as usize,
                    },
                );
            }
            Ok(out)
        })
    }

    /// The devices of `units`, oldest enrollment first. Blocking.
    pub fn devices_of(&self, units: &[UnitId]) -> Result<Vec<DeviceRow>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, unit, label, created_at, last_sync_at, revoked_at IS NOT NULL,
                        id IN (SELECT device FROM staff WHERE device IS NOT NULL),
                        app_version, core_version, unsent_docs, unsent_files, status_at
                 FROM devices WHERE unit = ?1 ORDER BY created_at",
            )?;
            let mut out = Vec::new();
            for u in units {
                let mut rows = stmt.query(params![u.to_bytes().to_vec()])?;
                while let Some(r) = rows.next()? {
                    let id = DeviceId::from_slice(&r.get::<_, Vec<u8>>(0)?)
                        .map_err(|e| StoreError::Invalid(format!("a stored device id is damaged: {e}")))?;
                    out.push(DeviceRow {
                        id,
                        unit: *u,
                        label: super::admin::device_label(&r.get::<_, String>(2)?),
                        enrolled_at: r.get(3)?,
                        last_sync_at: r.get(4)?,
                        revoked: r.get(5)?,
                        desk: r.get(6)?,
                        status: match r.get::<_, Option<i64>>(11)? {
                            Some(at) => Some((
                                DeviceStatus {
                                    app_version: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                                    core_version: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
                                    unsent_docs: r.get::<_, Option<i64>>(9)?.unwrap_or(0).max(0) as u64,
                                    unsent_files: r.get::<_, Option<i64>>(10)?.unwrap_or(0).max(0) as u64,
                                },
                                at,
                            )),
                            None => None,
                        },
                    });
                }
            }
            Ok(out)
        })
    }

    /// The unit of `device`, if it is enrolled. Blocking.
    pub fn unit_of_device(&self, device: DeviceId) -> Result<Option<UnitId>> {
        use rusqlite::OptionalExtension;
        let unit: Option<Vec<u8>> = self.read(|c| {
            Ok(c.query_row(
                "SELECT unit FROM devices WHERE id = ?1",
                params![device.to_bytes().to_vec()],
                |r| r.get(0),
            )
            .optional()?)
        })?;
        unit.map(|u| UnitId::from_slice(&u).map_err(|e| StoreError::Invalid(e.to_string()))).transpose()
    }
}
