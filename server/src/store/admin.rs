//! What the office's operator does: create the unit tree, enrol and revoke devices, and the
//! enrollment exchange itself.

use automerge::AutoCommit;
use automerge::transaction::CommitOptions;
use giaoban_protocol::reference::unit_directory_from_reference;
use giaoban_protocol::schema::UnitDirectory;
use giaoban_protocol::wire::{Enrolled, Epoch};
use giaoban_protocol::{DeviceId, UnitId};
use rusqlite::{OptionalExtension, params};

use super::{RelayStore, Result, StoreError, sha256};

/// The most characters of a device's label the relay keeps.
pub const DEVICE_LABEL_MAX: usize = 200;

/// A device's label as the relay keeps and shows it: the device chose it, so it is cleaned like
/// typed input (NFC; no control characters, which an operator's terminal would obey, and no
/// direction marks, which would make the office's list read otherwise than it is stored) and
/// cut to [`DEVICE_LABEL_MAX`] characters. Labels stored before this rule are cleaned when read.
pub fn device_label(raw: &str) -> String {
    giaoban_vietnamese_text::clean_input(raw).chars().take(DEVICE_LABEL_MAX).collect()
}

/// A one-time enrollment code, shown once to the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentCode {
    /// "KH7QW-3MZPA".
    pub code: String,
    /// The unit it enrols a device for.
    pub unit: UnitId,
    /// When it stops working (UTC ms).
    pub expires_at: i64,
}

/// An enrollment as stored: unit, expiry, when used, by which device.
type EnrollmentRow = (Vec<u8>, i64, Option<i64>, Option<Vec<u8>>);

/// Unambiguous letters and digits (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

fn new_code() -> String {
    let raw: Vec<char> =
        (0..10).map(|_| CODE_ALPHABET[rand::random_range(0..CODE_ALPHABET.len())] as char).collect();
    format!("{}-{}", raw[..5].iter().collect::<String>(), raw[5..].iter().collect::<String>())
}

fn normalise_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

impl RelayStore {
    /// Creates a province's committee and the committees of its communes and wards from the
    /// reference data, and stores the unit directory document every device reads.
    pub fn create_units_from_reference(&self, province: &str) -> Result<UnitDirectory> {
        let dir = unit_directory_from_reference(province).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let for_writer = dir.clone();
        self.writer().run_blocking(move |ctx| {
            let mut stmt = ctx
                .tx
                .prepare_cached("INSERT OR REPLACE INTO units(id, parent, name) VALUES (?1, ?2, ?3)")?;
            for u in &for_writer.units {
                stmt.execute(params![
                    u.id.to_bytes().to_vec(),
                    u.parent.map(|p| p.to_bytes().to_vec()),
                    u.name
                ])?;
            }
            drop(stmt);
            let relay: Vec<u8> =
                ctx.tx.query_row("SELECT value FROM meta WHERE key = 'relay_device'", [], |r| r.get(0))?;
            let relay = DeviceId::from_slice(&relay).map_err(|e| StoreError::Invalid(e.to_string()))?;
            let id = for_writer.header.id;
            let existing = ctx.load(id)?;
            let (row, current) = match existing {
                Some((n, d)) => (Some(n), Some(d)),
                None => (None, None),
            };
            let mut next = current.clone().unwrap_or_else(AutoCommit::new).with_actor(relay.actor_id());
            autosurgeon::reconcile(&mut next, &for_writer).map_err(|e| StoreError::Invalid(e.to_string()))?;
            next.commit_with(CommitOptions::default().with_time(ctx.now / 1000));
            let current_heads = current.map(|mut d| d.get_heads()).unwrap_or_default();
            let new = next.get_changes(&current_heads);
            // The tree was just written: readers of the directory need it.
            ctx.refresh_tree()?;
            ctx.store(id, row, &new, &for_writer.header, next, relay, &Default::default())?;
            Ok(())
        })?;
        Ok(dir)
    }

    /// Finds a unit by id or by (part of) its name, ignoring diacritics.
    pub fn find_unit(&self, query: &str) -> Result<(UnitId, String)> {
        if let Ok(id) = query.parse::<UnitId>() {
            let name: Option<String> = self.read(|c| {
                Ok(c.query_row(
                    "SELECT name FROM units WHERE id = ?1",
                    params![id.to_bytes().to_vec()],
                    |r| r.get(0),
                )
                .optional()?)
            })?;
            return name.map(|n| (id, n)).ok_or_else(|| StoreError::NotFound(format!("no unit has id {id}")));
        }
        let key = giaoban_vietnamese_key(query);
        let units: Vec<(Vec<u8>, String)> = self.read(|c| {
            let mut stmt = c.prepare("SELECT id, name FROM units")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })?;
        // A name given in full picks that unit, even when it is part of another's name
        // ("phường Bình Lộc" beside "phường Bình Lộc A").
        let exact: Vec<_> = units.iter().filter(|(_, n)| giaoban_vietnamese_key(n) == key).cloned().collect();
        let matches: Vec<_> = if exact.len() == 1 {
            exact
        } else {
            units.into_iter().filter(|(_, n)| giaoban_vietnamese_key(n).contains(&key)).collect()
        };
        match matches.as_slice() {
            [(id, name)] => {
                Ok((UnitId::from_slice(id).map_err(|e| StoreError::Invalid(e.to_string()))?, name.clone()))
            }
            [] => {
                Err(StoreError::NotFound(format!("no unit matches '{query}'; list them with `admin units`")))
            }
            many => Err(StoreError::Invalid(format!(
                "'{query}' matches {} units ({}…); be more specific or give the unit id",
                many.len(),
                many.iter().take(3).map(|(_, n)| n.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// All units, as (id, parent, name).
    pub fn units(&self) -> Result<Vec<(UnitId, Option<UnitId>, String)>> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT id, parent, name FROM units ORDER BY parent IS NOT NULL, name")?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Option<Vec<u8>>>(1)?, r.get(2)?))
            })?;
            let mut out = Vec::new();
            for r in rows {
                let (id, parent, name) = r?;
                let parse = |b: &[u8]| {
                    UnitId::from_slice(b)
                        .map_err(|e| StoreError::Invalid(format!("a stored unit id is damaged: {e}")))
                };
                out.push((parse(&id)?, parent.as_deref().map(parse).transpose()?, name));
            }
            Ok(out)
        })
    }

    /// A one-time code that enrols one device for `unit`, valid for `valid_hours`.
    pub fn create_enrollment(&self, unit: UnitId, valid_hours: u32) -> Result<EnrollmentCode> {
        let code = new_code();
        let hash = sha256(&normalise_code(&code));
        let expires_at = self.now().0 + i64::from(valid_hours) * 3_600_000;
        self.writer().run_blocking(move |ctx| {
            let known: bool = ctx
                .tx
                .query_row("SELECT 1 FROM units WHERE id = ?1", params![unit.to_bytes().to_vec()], |_| {
                    Ok(true)
                })
                .optional()?
                .unwrap_or(false);
            if !known {
                return Err(StoreError::NotFound(format!("no unit has id {unit}")));
            }
            // A merged unit's work is done by its successor: new devices go there.
            let successors: Vec<String> = ctx
                .tx
                .prepare_cached(
                    "SELECT u.name FROM unit_successors s JOIN units u ON u.id = s.successor
                     WHERE s.unit = ?1 ORDER BY s.since, u.name",
                )?
                .query_map(params![unit.to_bytes().to_vec()], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<_>>()?;
            if !successors.is_empty() {
                let name: String = ctx.tx.query_row(
                    "SELECT name FROM units WHERE id = ?1",
                    params![unit.to_bytes().to_vec()],
                    |r| r.get(0),
                )?;
                return Err(StoreError::Invalid(format!(
                    "{name} was merged into {}; enrol the device for that unit",
                    successors.join(", ")
                )));
            }
            ctx.tx.execute(
                "INSERT INTO enrollments(code_hash, unit, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![hash, unit.to_bytes().to_vec(), ctx.now, expires_at],
            )?;
            Ok(())
        })?;
        Ok(EnrollmentCode { code, unit, expires_at })
    }

    /// Trades a one-time code for a device token. The code stops working; only hashes of the
    /// code and the token are stored.
    pub async fn enroll(&self, code: &str, device: DeviceId, label: &str) -> Result<Enrolled> {
        let hash = sha256(&normalise_code(code));
        let token = new_token();
        let token_hash = sha256(&token);
        let mut label = device_label(label);
        // "Bàn làm việc: <name>" is how the desk's own stores are named in a report's history
        // and the list of devices: a phone that calls itself so is named as a phone.
        if giaoban_vietnamese_text::search_key(&label).starts_with("ban lam viec") {
            label = device_label(&format!("Điện thoại: {label}"));
        }
        let unit = self
            .writer()
            .run(move |ctx| {
                let row: Option<EnrollmentRow> = ctx
                    .tx
                    .query_row(
                        "SELECT unit, expires_at, used_at, device FROM enrollments WHERE code_hash = ?1",
                        params![hash],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    )
                    .optional()?;
                let unit = match row {
                    None => return Err(StoreError::Enrollment("this enrollment code is not valid".into())),
                    Some((_, expires, _, _)) if expires <= ctx.now => {
                        return Err(StoreError::Enrollment(
                            "this enrollment code has expired; ask the office for a new one".into(),
                        ));
                    }
                    // The same device asking again (its first answer was lost on the way): a
                    // new token replaces the one it never received.
                    Some((unit, _, Some(_), Some(by))) if by == device.to_bytes().to_vec() => {
                        let n = ctx.tx.execute(
                            "UPDATE devices SET token_hash = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                            params![device.to_bytes().to_vec(), token_hash],
                        )?;
                        if n == 0 {
                            return Err(StoreError::Enrollment("this device was revoked".into()));
                        }
                        return UnitId::from_slice(&unit).map_err(|e| StoreError::Invalid(e.to_string()));
                    }
                    Some((_, _, Some(_), _)) => {
                        return Err(StoreError::Enrollment("this enrollment code was already used".into()));
                    }
                    Some((unit, _, None, _)) => unit,
                };
                let taken = ctx
                    .tx
                    .query_row("SELECT 1 FROM devices WHERE id = ?1", params![device.to_bytes().to_vec()], |_| Ok(()))
                    .optional()?
                    .is_some();
                if taken {
                    return Err(StoreError::Enrollment("this device is already enrolled".into()));
                }
                ctx.tx.execute(
                    "INSERT INTO devices(id, unit, token_hash, label, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![device.to_bytes().to_vec(), unit, token_hash, label, ctx.now],
                )?;
                ctx.tx.execute(
                    "UPDATE enrollments SET used_at = ?2, device = ?3 WHERE code_hash = ?1",
                    params![hash, ctx.now, device.to_bytes().to_vec()],
                )?;
                UnitId::from_slice(&unit).map_err(|e| StoreError::Invalid(e.to_string()))
            })
            .await?;
        Ok(Enrolled { device, unit, token })
    }

    /// Revokes a device: its token stops working at once.
    pub fn revoke_device(&self, device: DeviceId) -> Result<()> {
        self.writer().run_blocking(move |ctx| {
            let n = ctx.tx.execute(
                "UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![device.to_bytes().to_vec(), ctx.now],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("no active device has id {device}")));
            }
            Ok(())
        })
    }

    /// Enrolled devices: (id, unit, label, revoked).
    pub fn devices(&self) -> Result<Vec<(DeviceId, UnitId, String, bool)>> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT id, unit, label, revoked_at IS NOT NULL FROM devices ORDER BY created_at")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, bool>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for r in rows {
                let (d, u, label, revoked) = r?;
                let d = DeviceId::from_slice(&d)
                    .map_err(|e| StoreError::Invalid(format!("a stored device id is damaged: {e}")))?;
                let u = UnitId::from_slice(&u)
                    .map_err(|e| StoreError::Invalid(format!("a stored unit id is damaged: {e}")))?;
                out.push((d, u, device_label(&label), revoked));
            }
            Ok(out)
        })
    }

    /// Writes a consistent copy of the relay's database to `path` while it keeps serving
    /// (`VACUUM INTO`). A relay restored from such a copy (or from any older copy of its
    /// folder) is noticed by each device that synced after the copy was made: its witness is
    /// not in the restored history, so it starts over and pushes back what the relay lost.
    pub fn backup_to(&self, path: &std::path::Path) -> Result<()> {
        if path.exists() {
            return Err(StoreError::Invalid(format!("{} already exists; choose a new file", path.display())));
        }
        let target = path.to_string_lossy().into_owned();
        self.read(move |c| {
            c.execute("VACUUM INTO ?1", params![target])?;
            Ok(())
        })
    }

    /// Gives the relay a new epoch: every device lists what it holds on its next sync and pushes
    /// whatever the relay lacks. Restores are noticed without it; this is for an operator who
    /// wants every device checked (after repairing the database by hand, say).
    pub async fn new_epoch(&self) -> Result<Epoch> {
        self.writer().run(new_epoch_job).await
    }

    /// [`RelayStore::new_epoch`] from blocking code.
    pub fn new_epoch_blocking(&self) -> Result<Epoch> {
        self.writer().run_blocking(new_epoch_job)
    }
}

fn new_epoch_job(ctx: &mut super::writer::Ctx<'_>) -> Result<Epoch> {
    let epoch = (rand::random::<u64>() >> 1).max(1);
    ctx.tx.execute("UPDATE meta SET value = ?1 WHERE key = 'epoch'", params![epoch as i64])?;
    tracing::warn!(epoch, "relay epoch changed; devices will reconcile");
    Ok(Epoch(epoch))
}

fn giaoban_vietnamese_key(s: &str) -> String {
    giaoban_vietnamese_text::search_key(s)
}
