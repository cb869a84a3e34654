//! Staff accounts of the desk: who may sign in, for which unit, their sessions, and the limits
//! on guessing a password.
//!
//! Passwords are kept only as argon2id hashes and session tokens only as SHA-256 hashes; a
//! password is shown once, when it is made. Each staff member writes through a store of their
//! own, registered here as a device of their unit whose token nobody holds: the desk's changes
//! go through the same checks as a device's, and the history names the staff member.

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use giaoban_protocol::{DeviceId, UnitId};
use rusqlite::{OptionalExtension, params};

use super::{RelayStore, Result, StoreError, sha256};

/// After this many wrong passwords in a row, an account is locked for [`LOCK_MS`].
pub const FAILURES_BEFORE_LOCK: i64 = 5;
/// How long a lock lasts: 15 minutes.
pub const LOCK_MS: i64 = 15 * 60 * 1000;
/// A session not used for this long has ended: 12 hours.
pub const SESSION_IDLE_MS: i64 = 12 * 3600 * 1000;
/// No session lasts longer than this: 7 days.
pub const SESSION_MAX_MS: i64 = 7 * 24 * 3600 * 1000;
/// A session's last use is written at most this often.
const SEEN_EVERY_MS: i64 = 5 * 60 * 1000;

/// A staff account's id (random, not a device id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StaffId(pub [u8; 16]);

impl std::fmt::Display for StaffId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl StaffId {
    fn from_slice(b: &[u8]) -> Result<StaffId> {
        b.try_into().map(StaffId).map_err(|_| StoreError::Invalid("a stored staff id is damaged".into()))
    }
}

/// A staff account as the operator lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffAccount {
    /// Its id.
    pub id: StaffId,
    /// The unit it works for.
    pub unit: UnitId,
    /// The name it signs in with (NFC, lower case).
    pub login: String,
    /// The person's name, as the history shows it.
    pub name: String,
    /// Disabled by the operator.
    pub disabled: bool,
    /// Locked after wrong passwords until this time (UTC ms), if in the future.
    pub locked_until: i64,
    /// The desk's store of this member, once it was first opened.
    pub device: Option<DeviceId>,
}

/// A signed-in staff member, as each desk request sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSession {
    /// The account.
    pub staff: StaffId,
    /// Its unit.
    pub unit: UnitId,
    /// The person's name.
    pub name: String,
    /// The desk's store of this member, once opened.
    pub device: Option<DeviceId>,
    /// The token the form of this session must carry (derived from the session's token, so a
    /// form of another session, or of an ended one, never passes).
    pub csrf: String,
}

/// How a sign-in went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// Signed in: the session token for the cookie, shown to nobody else.
    Ok {
        token: String,
        staff: StaffId,
        /// What the browser keeps so that this account's lock does not keep it out
        /// ([`KNOWN_BROWSER_COOKIE`](crate::desk::auth::KNOWN_BROWSER_COOKIE)).
        known: String,
    },
    /// Wrong login or password (the same answer for both); `failures` in a row so far on this
    /// account, 0 when the login is unknown.
    Wrong { failures: i64 },
    /// The account is locked until this time (UTC ms) after too many wrong passwords.
    Locked { until: i64 },
    /// The operator disabled the account.
    Disabled,
}

/// A made-up password: 4 groups of 4 unambiguous letters and digits (about 80 bits).
fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..4)
        .map(|_| (0..4).map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char).collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// argon2id with the OWASP minimum for a server (19 MiB, 2 passes): about 40 ms here.
fn hasher() -> Argon2<'static> {
    // The parameters are constants that argon2 accepts; a failure would be a bug here.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Password hashes worked out at once in this process. Each needs its own 19 MiB of memory:
/// sign-ins sent at once from many addresses wait for one of these instead of each taking
/// (and giving back to the allocator, which keeps most of it) memory of its own.
pub const HASHES_AT_ONCE: usize = 2;

/// The memory of the password hashes worked out at once: allocated once, used again.
struct HashMemory {
    free: std::sync::Mutex<Vec<Vec<argon2::Block>>>,
    returned: std::sync::Condvar,
}

/// Memory of [`HashMemory`] lent to one hash; given back when dropped.
struct Lent<'a> {
    pool: &'a HashMemory,
    blocks: Vec<argon2::Block>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let blocks = std::mem::take(&mut self.blocks);
        self.pool.free.lock().unwrap_or_else(|p| p.into_inner()).push(blocks);
        self.pool.returned.notify_one();
    }
}

fn hash_memory() -> Lent<'static> {
    static POOL: std::sync::OnceLock<HashMemory> = std::sync::OnceLock::new();
    let pool = POOL.get_or_init(|| HashMemory {
        free: std::sync::Mutex::new((0..HASHES_AT_ONCE).map(|_| Vec::new()).collect()),
        returned: std::sync::Condvar::new(),
    });
    let mut free = pool.free.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if let Some(blocks) = free.pop() {
            return Lent { pool, blocks };
        }
        free = pool.returned.wait(free).unwrap_or_else(|p| p.into_inner());
    }
}

/// The argon2 output of `password` under `argon` and `salt`, in memory lent by the pool.
fn hash_output(argon: &Argon2<'_>, password: &str, salt: &[u8], len: usize) -> Option<Output> {
    let mut memory = hash_memory();
    let blocks = argon.params().block_count();
    if memory.blocks.len() < blocks {
        memory.blocks.resize(blocks, argon2::Block::default());
    }
    Output::init_with(len, |out| {
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory.blocks[..blocks])
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .ok()
}

fn hash_password(password: &str) -> Result<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| StoreError::Internal(e.to_string()))?;
    let argon = hasher();
    let len = argon.params().output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = hash_output(&argon, password, &salt_bytes, len)
        .ok_or_else(|| StoreError::Internal("cannot hash a password".into()))?;
    let params = argon2::password_hash::ParamsString::try_from(argon.params())
        .map_err(|e| StoreError::Internal(format!("cannot hash a password: {e}")))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

fn password_matches(password: &str, stored: &str) -> bool {
    let Ok(h) = PasswordHash::new(stored) else { return false };
    let (Some(expected), Some(salt)) = (h.hash, h.salt) else { return false };
    let Ok(algorithm) = Algorithm::try_from(h.algorithm) else { return false };
    let version = match h.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&h) else { return false };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let argon = Argon2::new(algorithm, version, params);
    // `Output`'s comparison takes the same time wherever the outputs differ.
    hash_output(&argon, password, salt, expected.len()).is_some_and(|out| out == expected)
}

/// A hash nobody's password matches, verified for unknown logins so that they take as long as
/// known ones.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&new_password()).unwrap_or_default())
}

/// Wrong attempts at logins nobody has, as (failures, locked until): they lock like real
/// accounts, so the answers do not tell which logins exist.
fn unknown_logins() -> &'static std::sync::Mutex<std::collections::HashMap<String, (i64, i64)>> {
    static SEEN: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<String, (i64, i64)>>> =
        std::sync::OnceLock::new();
    SEEN.get_or_init(Default::default)
}

/// A login as stored: NFC, trimmed, lower case.
pub fn normalise_login(login: &str) -> String {
    giaoban_vietnamese_text::clean_input(login).to_lowercase()
}

/// What a browser that signed in to an account keeps: while the account is locked after wrong
/// passwords (which anyone who knows the login can cause, again and again), the right
/// password from that browser still opens it. Derived from the account's password hash, which
/// never leaves the relay: a new password (`admin staff reset`) ends every one of them.
fn known_browser(staff: &[u8], password_hash: &str) -> String {
    hex::encode(sha256(&format!("giaoban desk known browser:{}:{password_hash}", hex::encode(staff))))
}

/// The form token of a session.
fn csrf_of(token: &str) -> String {
    hex::encode(&sha256(&format!("giaoban desk form:{token}"))[..16])
}

type StaffRow = (Vec<u8>, Vec<u8>, String, String, Option<i64>, i64, Option<Vec<u8>>);

fn account(row: StaffRow) -> Result<StaffAccount> {
    let (id, unit, login, name, disabled, locked_until, device) = row;
    Ok(StaffAccount {
        id: StaffId::from_slice(&id)?,
        unit: UnitId::from_slice(&unit).map_err(|e| StoreError::Invalid(e.to_string()))?,
        login,
        name,
        disabled: disabled.is_some(),
        locked_until,
        device: device
            .map(|d| DeviceId::from_slice(&d))
            .transpose()
            .map_err(|e| StoreError::Invalid(e.to_string()))?,
    })
}

const ACCOUNT_COLUMNS: &str = "id, unit, login, name, disabled_at, locked_until, device";

fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StaffRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
}

impl RelayStore {
    /// Creates a staff account of `unit` and returns it with its password, shown only now.
    pub fn add_staff(&self, unit: UnitId, login: &str, name: &str) -> Result<(StaffAccount, String)> {
        let login = normalise_login(login);
        let name = giaoban_vietnamese_text::clean_input(name);
        if login.is_empty() || login.chars().count() > 64 || login.chars().any(char::is_whitespace) {
            return Err(StoreError::Invalid(
                "a login is one word of at most 64 letters, digits or signs (no spaces), such as 'muoi.nv'"
                    .into(),
            ));
        }
        if name.is_empty() || name.chars().count() > 120 {
            return Err(StoreError::Invalid("give the person's full name (at most 120 letters)".into()));
        }
        let password = new_password();
        let hash = hash_password(&password)?;
        let id = StaffId(rand::random());
        let for_writer = (login.clone(), name.clone());
        self.writer().run_blocking(move |ctx| {
            let (login, name) = for_writer;
            let known: bool = ctx
                .tx
                .query_row("SELECT 1 FROM units WHERE id = ?1", params![unit.to_bytes().to_vec()], |_| Ok(true))
                .optional()?
                .unwrap_or(false);
            if !known {
                return Err(StoreError::NotFound(format!("no unit has id {unit}")));
            }
            let taken: bool = ctx
                .tx
                .query_row("SELECT 1 FROM staff WHERE login = ?1", params![login], |_| Ok(true))
                .optional()?
                .unwrap_or(false);
            if taken {
                return Err(StoreError::Invalid(format!(
                    "the login '{login}' is taken; choose another, or reset that account's password"
                )));
            }
            ctx.tx.execute(
                "INSERT INTO staff(id, unit, login, name, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id.0.to_vec(), unit.to_bytes().to_vec(), login, name, hash, ctx.now],
            )?;
            Ok(())
        })?;
        let account = StaffAccount { id, unit, login, name, disabled: false, locked_until: 0, device: None };
        Ok((account, password))
    }

    /// Every staff account, by login.
    pub fn staff(&self) -> Result<Vec<StaffAccount>> {
        let rows: Vec<StaffRow> = self.read(|c| {
            let mut stmt = c.prepare(&format!("SELECT {ACCOUNT_COLUMNS} FROM staff ORDER BY login"))?;
            let rows = stmt.query_map([], account_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })?;
        rows.into_iter().map(account).collect()
    }

    /// The account signing in as `login`.
    pub fn staff_by_login(&self, login: &str) -> Result<StaffAccount> {
        let login = normalise_login(login);
        let row: Option<StaffRow> = self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM staff WHERE login = ?1"),
                params![login],
                account_row,
            )
            .optional()?)
        })?;
        row.map(account).transpose()?.ok_or_else(|| {
            StoreError::NotFound(format!(
                "no staff account signs in as '{login}'; list them with `admin staff list`"
            ))
        })
    }

    /// Disables an account: its sessions end at once and its desk store can no longer sync.
    pub fn disable_staff(&self, login: &str) -> Result<()> {
        let account = self.staff_by_login(login)?;
        self.writer().run_blocking(move |ctx| {
            ctx.tx.execute(
                "UPDATE staff SET disabled_at = COALESCE(disabled_at, ?2) WHERE id = ?1",
                params![account.id.0.to_vec(), ctx.now],
            )?;
            ctx.tx.execute("DELETE FROM staff_sessions WHERE staff = ?1", params![account.id.0.to_vec()])?;
            if let Some(device) = account.device {
                ctx.tx.execute(
                    "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                    params![device.to_bytes().to_vec(), ctx.now],
                )?;
            }
            Ok(())
        })
    }

    /// Gives an account a new password (returned, shown only now), ends its sessions, lifts a
    /// lock and enables it again.
    pub fn reset_staff(&self, login: &str) -> Result<String> {
        let account = self.staff_by_login(login)?;
        let password = new_password();
        let hash = hash_password(&password)?;
        self.writer().run_blocking(move |ctx| {
            ctx.tx.execute(
                "UPDATE staff SET password_hash = ?2, disabled_at = NULL, failures = 0, locked_until = 0
                 WHERE id = ?1",
                params![account.id.0.to_vec(), hash],
            )?;
            ctx.tx.execute("DELETE FROM staff_sessions WHERE staff = ?1", params![account.id.0.to_vec()])?;
            // A disabled account's desk store was revoked: the next opening registers a new one.
            if let Some(device) = account.device {
                ctx.tx.execute(
                    "UPDATE staff SET device = NULL WHERE id = ?1 AND EXISTS
                     (SELECT 1 FROM devices WHERE id = ?2 AND revoked_at IS NOT NULL)",
                    params![account.id.0.to_vec(), device.to_bytes().to_vec()],
                )?;
            }
            Ok(())
        })?;
        Ok(password)
    }

    /// Checks a login and password; on success opens a session. Blocking (the hash takes tens
    /// of milliseconds).
    ///
    /// Each attempt is counted before its password is checked, so attempts sent at once are
    /// held to the lock like attempts one by one: at most [`FAILURES_BEFORE_LOCK`] are checked
    /// before the account locks. A login nobody has is counted and locked alike (in memory),
    /// and a disabled account says so only to the right password: the answers never tell
    /// which logins exist.
    pub fn sign_in(&self, login: &str, password: &str) -> Result<SignIn> {
        self.sign_in_from(login, password, None)
    }

    /// [`RelayStore::sign_in`] from a browser that says it signed in to this account before
    /// (`known`, what [`SignIn::Ok`] gave it): a lock set by wrong passwords from elsewhere does
    /// not refuse it, though its own wrong passwords count and slow it like any other's.
    pub fn sign_in_from(&self, login: &str, password: &str, known: Option<&str>) -> Result<SignIn> {
        let login = normalise_login(login);
        let for_writer = login.clone();
        let known = known.map(str::to_string);
        // id, password hash, disabled at, failures, locked until.
        type AttemptRow = (Vec<u8>, String, Option<i64>, i64, i64);
        // (id, hash, disabled) of the account, with its attempt counted; or why not checked.
        type Reserved = Option<std::result::Result<(Vec<u8>, String, bool, i64), i64>>;
        let reserved: Reserved = self.writer().run_blocking(move |ctx| {
            let row: Option<AttemptRow> = ctx
                .tx
                .query_row(
                    "SELECT id, password_hash, disabled_at, failures, locked_until FROM staff WHERE login = ?1",
                    params![for_writer],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            let Some((id, hash, disabled, failures, locked_until)) = row else { return Ok(None) };
            let known_here =
                known.as_deref().is_some_and(|k| crate::desk::auth::tokens_equal(k, &known_browser(&id, &hash)));
            if locked_until > ctx.now && !known_here {
                return Ok(Some(Err(locked_until)));
            }
            let failures = failures + 1;
            let lock = if failures % FAILURES_BEFORE_LOCK == 0 {
                ctx.now + LOCK_MS
            } else if known_here {
                // A lock set by others stays for them.
                locked_until
            } else {
                0
            };
            ctx.tx.execute(
                "UPDATE staff SET failures = ?2, locked_until = ?3 WHERE id = ?1",
                params![id, failures, lock],
            )?;
            Ok(Some(Ok((id, hash, disabled.is_some(), failures))))
        })?;
        let now = self.now().0;
        let (id, hash, disabled, failures) = match reserved {
            Some(Ok(r)) => r,
            Some(Err(until)) => return Ok(SignIn::Locked { until }),
            None => {
                password_matches(password, decoy_hash());
                return Ok(self.inner_unknown_login(&login, now));
            }
        };
        let staff = StaffId::from_slice(&id)?;
        let known = known_browser(&id, &hash);
        if !password_matches(password, &hash) {
            return Ok(if failures % FAILURES_BEFORE_LOCK == 0 {
                SignIn::Locked { until: now + LOCK_MS }
            } else {
                SignIn::Wrong { failures }
            });
        }
        // The right password: the attempts before it no longer count, and a lock this very
        // attempt set is lifted.
        self.writer().run_blocking(move |ctx| {
            ctx.tx.execute(
                "UPDATE staff SET failures = 0, locked_until = 0 WHERE id = ?1",
                params![staff.0.to_vec()],
            )?;
            Ok(())
        })?;
        if disabled {
            return Ok(SignIn::Disabled);
        }
        let token = hex::encode(rand::random::<[u8; 32]>());
        let token_hash = sha256(&token);
        self.writer().run_blocking(move |ctx| {
            // Ended sessions of everyone go when anyone signs in.
            ctx.tx.execute(
                "DELETE FROM staff_sessions WHERE expires_at <= ?1 OR seen_at <= ?2",
                params![ctx.now, ctx.now - SESSION_IDLE_MS],
            )?;
            ctx.tx.execute(
                "INSERT INTO staff_sessions(token_hash, staff, created_at, seen_at, expires_at) VALUES (?1, ?2, ?3, ?3, ?4)",
                params![token_hash, staff.0.to_vec(), ctx.now, ctx.now + SESSION_MAX_MS],
            )?;
            Ok(())
        })?;
        Ok(SignIn::Ok { token, staff, known })
    }

    /// A sign-in with a login nobody has, answered as a wrong password would be, lock included.
    fn inner_unknown_login(&self, login: &str, now: i64) -> SignIn {
        let mut seen = unknown_logins().lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 10_000 {
            seen.retain(|_, (_, until)| *until > now);
            if seen.len() > 10_000 {
                seen.clear();
            }
        }
        let entry = seen.entry(login.to_string()).or_insert((0, 0));
        if entry.1 > now {
            return SignIn::Locked { until: entry.1 };
        }
        entry.0 += 1;
        if entry.0 % FAILURES_BEFORE_LOCK == 0 {
            entry.1 = now + LOCK_MS;
            return SignIn::Locked { until: entry.1 };
        }
        SignIn::Wrong { failures: entry.0 }
    }

    /// The session a desk cookie holds, if it is current and its account enabled. Blocking.
    pub fn staff_session(&self, token: &str) -> Result<Option<StaffSession>> {
        let token_hash = sha256(token);
        let now = self.now().0;
        type Row = (Vec<u8>, Vec<u8>, String, Option<Vec<u8>>, i64);
        let row: Option<Row> = self.read(|c| {
            Ok(c.query_row(
                "SELECT s.id, s.unit, s.name, s.device, ss.seen_at FROM staff_sessions ss
                 JOIN staff s ON s.id = ss.staff
                 WHERE ss.token_hash = ?1 AND ss.expires_at > ?2 AND ss.seen_at > ?3 AND s.disabled_at IS NULL",
                params![token_hash, now, now - SESSION_IDLE_MS],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?)
        })?;
        let Some((id, unit, name, device, seen_at)) = row else { return Ok(None) };
        if now - seen_at > SEEN_EVERY_MS {
            let token_hash = token_hash.clone();
            self.writer().run_blocking(move |ctx| {
                ctx.tx.execute(
                    "UPDATE staff_sessions SET seen_at = ?2 WHERE token_hash = ?1",
                    params![token_hash, ctx.now],
                )?;
                Ok(())
            })?;
        }
        Ok(Some(StaffSession {
            staff: StaffId::from_slice(&id)?,
            unit: UnitId::from_slice(&unit).map_err(|e| StoreError::Invalid(e.to_string()))?,
            name,
            device: device
                .map(|d| DeviceId::from_slice(&d))
                .transpose()
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
            csrf: csrf_of(token),
        }))
    }

    /// Ends the session a desk cookie holds.
    pub fn sign_out(&self, token: &str) -> Result<()> {
        let token_hash = sha256(token);
        self.writer().run_blocking(move |ctx| {
            ctx.tx.execute("DELETE FROM staff_sessions WHERE token_hash = ?1", params![token_hash])?;
            Ok(())
        })
    }

    /// Registers `device`, the desk's new store for a staff member, as a device of their unit
    /// that no token opens, and retires the member's previous store, if any. False when the
    /// relay knows `device` already as something else (a store retired earlier): the desk
    /// then starts a new store.
    pub fn register_desk_device(&self, staff: StaffId, device: DeviceId) -> Result<bool> {
        let nobody_holds = sha256(&hex::encode(rand::random::<[u8; 32]>()));
        self.writer().run_blocking(move |ctx| {
            let (unit, name, old): (Vec<u8>, String, Option<Vec<u8>>) = ctx
                .tx
                .query_row(
                    "SELECT unit, name, device FROM staff WHERE id = ?1 AND disabled_at IS NULL",
                    params![staff.0.to_vec()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?
                .ok_or_else(|| StoreError::NotFound("this staff account is disabled or gone".into()))?;
            let current: Option<Option<i64>> = ctx
                .tx
                .query_row(
                    "SELECT revoked_at FROM devices WHERE id = ?1",
                    params![device.to_bytes().to_vec()],
                    |r| r.get(0),
                )
                .optional()?;
            if old.as_deref() == Some(device.to_bytes().as_slice()) && current == Some(None) {
                return Ok(true);
            }
            if current.is_some() {
                return Ok(false);
            }
            if let Some(old) = old {
                ctx.tx.execute(
                    "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                    params![old, ctx.now],
                )?;
            }
            ctx.tx.execute(
                "INSERT INTO devices(id, unit, token_hash, label, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    device.to_bytes().to_vec(),
                    unit,
                    nobody_holds,
                    format!("Bàn làm việc: {name}"),
                    ctx.now
                ],
            )?;
            ctx.tx.execute(
                "UPDATE staff SET device = ?2 WHERE id = ?1",
                params![staff.0.to_vec(), device.to_bytes().to_vec()],
            )?;
            Ok(true)
        })
    }

    /// The desk store a staff member is registered with, and whether it is still active.
    /// Blocking.
    pub fn staff_device(&self, staff: StaffId) -> Result<Option<(DeviceId, bool)>> {
        let row: Option<(Option<Vec<u8>>, Option<bool>)> = self.read(|c| {
            Ok(c.query_row(
                "SELECT s.device, d.revoked_at IS NULL FROM staff s LEFT JOIN devices d ON d.id = s.device
                 WHERE s.id = ?1",
                params![staff.0.to_vec()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })?;
        match row {
            Some((Some(d), active)) => Ok(Some((
                DeviceId::from_slice(&d).map_err(|e| StoreError::Invalid(e.to_string()))?,
                active.unwrap_or(false),
            ))),
            _ => Ok(None),
        }
    }

    /// Whether `device` is enrolled and not revoked. Blocking.
    pub fn device_active(&self, device: DeviceId) -> Result<bool> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT 1 FROM devices WHERE id = ?1 AND revoked_at IS NULL",
                params![device.to_bytes().to_vec()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
        })
    }

    /// Whether `device` is a desk store (so its sync requests come only from this process).
    pub fn is_desk_device(&self, device: DeviceId) -> Result<bool> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT 1 FROM staff WHERE device = ?1",
                params![device.to_bytes().to_vec()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_password_is_hashed_with_argon2id_and_checked() {
        let h = hash_password("mật khẩu").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(password_matches("mật khẩu", &h));
        assert!(!password_matches("mat khau", &h));
        assert!(!password_matches("mật khẩu", "not a hash"));
    }

    #[test]
    fn hashes_made_before_the_memory_was_lent_still_match_and_the_other_way_round() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let old = hasher().hash_password("mật khẩu".as_bytes(), &salt).unwrap().to_string();
        assert!(password_matches("mật khẩu", &old));
        assert!(!password_matches("mật khẩu ", &old));
        let new = hash_password("mật khẩu").unwrap();
        assert!(hasher().verify_password("mật khẩu".as_bytes(), &PasswordHash::new(&new).unwrap()).is_ok());
        // Checks at once from many threads all answer, and rightly.
        let checks: Vec<_> = (0..8)
            .map(|i| {
                let new = new.clone();
                std::thread::spawn(move || {
                    password_matches(if i % 2 == 0 { "mật khẩu" } else { "sai" }, &new)
                })
            })
            .collect();
        let answers: Vec<bool> = checks.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(answers, (0..8).map(|i| i % 2 == 0).collect::<Vec<_>>());
    }

    #[test]
    fn logins_are_kept_in_one_form() {
        assert_eq!(normalise_login("  Muoi.NV "), "muoi.nv");
        // Decomposed "ố" (o + U+0302 + U+0301) is the same login as the composed one.
        assert_eq!(normalise_login("to\u{302}\u{301}"), normalise_login("tố"));
    }

    #[test]
    fn form_tokens_differ_per_session() {
        assert_ne!(csrf_of("a"), csrf_of("b"));
        assert_eq!(csrf_of("a").len(), 32);
    }
}
