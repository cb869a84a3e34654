//! The desk's stores: one client-core store per staff member, in `desk/` beside the relay's
//! database, registered with the relay as a device of the member's unit.
//!
//! A store syncs in this process, with no socket and no token: its requests are answered by
//! the same code as a device's (`http::answer_sync`), so every desk edit is checked by
//! `check_push` under the owner rule, and the history names the member (the store writes as
//! its own device). What a staff member sees is what their unit may read, by the same rule as
//! a device.
//!
//! Invariant: a desk action is answered only after the sync that carried it was acknowledged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::response::IntoResponse;
use giaoban_client_core::{InProcessExchange, InProcessFiles, Store, StoreOptions, SyncReport};
use giaoban_protocol::BlobHash;
use giaoban_protocol::wire::{self, RelayMessage};

use crate::http::{self, AppState};
use crate::store::{DeviceAuth, StaffId, StaffSession};

/// What opening or syncing a desk store can fail with, in the operator's words.
#[derive(Debug, thiserror::Error)]
pub enum DeskStoreError {
    /// The relay's own storage failed.
    #[error("{0}")]
    Relay(#[from] crate::store::StoreError),
    /// The member's store failed.
    #[error("{0}")]
    Core(#[from] giaoban_client_core::CoreError),
}

/// The open stores of the desk, one per staff member.
pub struct DeskStores {
    dir: PathBuf,
    open: Mutex<HashMap<StaffId, Arc<Mutex<Store>>>>,
}

impl DeskStores {
    /// The stores kept in `dir` (created when first needed).
    pub fn new(dir: PathBuf) -> DeskStores {
        DeskStores { dir, open: Mutex::new(HashMap::new()) }
    }

    fn path_of(&self, staff: StaffId) -> PathBuf {
        self.dir.join(format!("{staff}.sqlite"))
    }

    /// The store of a signed-in member, opened (and registered with the relay) if needed.
    /// Blocking: call it from a blocking thread of the runtime that serves `state`.
    ///
    /// The store kept open is used only while the relay still has it as the member's active
    /// desk store: one the operator revoked, or that a disabled and reset account left behind,
    /// is retired and a new one starts (its writes were all sent: a desk write is answered
    /// only once pushed). A store file that cannot be opened (damaged) is moved aside the same
    /// way; what it held is on the relay.
    pub fn store_for(
        &self,
        state: &AppState,
        handle: &tokio::runtime::Handle,
        session: &StaffSession,
    ) -> Result<Arc<Mutex<Store>>, DeskStoreError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let registered = state.store.staff_device(session.staff)?;
        if let Some(s) = open.get(&session.staff) {
            let id = s.lock().unwrap_or_else(|p| p.into_inner()).device_id();
            if registered == Some((id, true)) {
                return Ok(s.clone());
            }
            // Revoked or replaced since it was opened.
            open.remove(&session.staff);
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| giaoban_client_core::CoreError::DamagedStore {
            detail: format!("cannot create the desk's folder {}: {e}", self.dir.display()),
        })?;
        let path = self.path_of(session.staff);
        // A desk store attaches what the relay takes: its limit on one file is the relay's.
        let open_store = |path: &Path| {
            Store::open_with(
                path,
                StoreOptions { max_file_bytes: state.config.max_file_bytes, ..StoreOptions::default() },
            )
        };
        let mut store = match open_store(&path) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "a desk store cannot be opened; it is moved aside and a new one downloads what the relay holds");
                retire(&path, "damaged")?;
                open_store(&path)?
            }
        };
        if !state.store.register_desk_device(session.staff, store.device_id())? {
            // This store was retired (its account disabled, or the operator revoked it).
            let unsent = store.pending_changes_count().unwrap_or(0);
            drop(store);
            let kept = retire(&path, "retired")?;
            if unsent > 0 {
                tracing::error!(path = %kept.display(), unsent, "a retired desk store held changes the relay never received; they are kept in that file");
            }
            store = open_store(&path)?;
            if !state.store.register_desk_device(session.staff, store.device_id())? {
                return Err(crate::store::StoreError::Internal(
                    "a new desk store's id is already known to the relay".into(),
                )
                .into());
            }
        }
        let auth = DeviceAuth { device: store.device_id(), unit: session.unit };
        store.join_in_process(session.unit, exchange(state, handle.clone(), auth))?;
        store.send_files_in_process(Arc::new(DeskFiles {
            state: state.without_desk(),
            handle: handle.clone(),
            auth,
        }))?;
        let store = Arc::new(Mutex::new(store));
        open.insert(session.staff, store.clone());
        Ok(store)
    }

    /// Brings a member's store up to date with the relay (every round trip the relay has for
    /// it, and pushes anything it holds that the relay lacks).
    pub fn sync(store: &Mutex<Store>) -> Result<SyncReport, DeskStoreError> {
        Ok(giaoban_client_core::sync_shared(store, &|_| {}, &AtomicBool::new(false))?)
    }

    /// Sends the files a member's store attached that the relay does not hold whole yet, by
    /// the lane a device's files take (`sync_files_shared`), answered in process.
    pub fn send_files(store: &Mutex<Store>) -> Result<giaoban_client_core::FilesReport, DeskStoreError> {
        Ok(giaoban_client_core::sync_files_shared(store, &|_, _| {}, &AtomicBool::new(false))?)
    }

    /// Forgets the open store of a member (after the operator disabled the account).
    pub fn close(&self, staff: StaffId) {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).remove(&staff);
    }
}

/// Moves a store (and its write-ahead log) aside as `<file>.<why>-<time>`, keeping it for the
/// operator; returns where it went.
fn retire(path: &Path, why: &str) -> Result<PathBuf, DeskStoreError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let kept = PathBuf::from(format!("{}.{why}-{stamp}", path.display()));
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", path.display()));
        if from.exists() {
            let to = PathBuf::from(format!("{}{suffix}", kept.display()));
            std::fs::rename(&from, &to).map_err(|e| giaoban_client_core::CoreError::DamagedStore {
                detail: format!("cannot move the desk store {} aside: {e}", from.display()),
            })?;
        }
    }
    Ok(kept)
}

/// The in-process round trip of one desk store: the relay's sync answer, as HTTP would carry
/// it. A store the operator revoked is refused as a device would be.
fn exchange(state: &AppState, handle: tokio::runtime::Handle, auth: DeviceAuth) -> Arc<InProcessExchange> {
    let state = state.without_desk();
    Arc::new(move |frame: &[u8]| {
        let body = Bytes::copy_from_slice(frame);
        handle.block_on(async {
            let answer = match state.store.device_active(auth.device) {
                Ok(true) => http::answer_sync(&state, auth, body).await,
                Ok(false) => Err(http::ApiError::Forbidden("this desk store was revoked by the office")),
                Err(e) => Err(e.into()),
            };
            match answer {
                Ok(answer) => (200, wire::encode(&RelayMessage::Sync(answer))),
                Err(e) => {
                    let resp = e.into_response();
                    let status = resp.status().as_u16();
                    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024).await.unwrap_or_default();
                    (status, body.to_vec())
                }
            }
        })
    })
}

/// The file lane of one desk store, answered in process by the relay's own handlers for a
/// file's status and its pieces (`http::status_of`, `http::receive_piece`), as HTTP would
/// carry them. A store the operator revoked is refused as a device would be.
struct DeskFiles {
    state: AppState,
    handle: tokio::runtime::Handle,
    auth: DeviceAuth,
}

impl DeskFiles {
    fn answer(&self, hash: BlobHash, piece: Option<(u64, Vec<u8>)>) -> (u16, Vec<u8>) {
        let (state, auth) = (&self.state, self.auth);
        self.handle.block_on(async {
            let answer = async {
                if !state.store.device_active(auth.device)? {
                    return Err(http::ApiError::Forbidden("this desk store was revoked by the office"));
                }
                let access = http::access_of(state, auth, hash).await?;
                match piece {
                    None => http::status_of(state, auth, hash, access).await,
                    Some((offset, bytes)) => {
                        let declared = Some(bytes.len() as u64);
                        let body = axum::body::Body::from(bytes);
                        http::receive_piece(state, auth, hash, access, offset, declared, body).await
                    }
                }
            };
            match answer.await {
                Ok(held) => (200, serde_json::to_vec(&held).unwrap_or_default()),
                Err(e) => {
                    let resp = e.into_response();
                    let status = resp.status().as_u16();
                    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024).await.unwrap_or_default();
                    (status, body.to_vec())
                }
            }
        })
    }
}

impl InProcessFiles for DeskFiles {
    fn status(&self, hash: &BlobHash) -> (u16, Vec<u8>) {
        self.answer(*hash, None)
    }

    fn piece(&self, hash: &BlobHash, offset: u64, body: Vec<u8>) -> (u16, Vec<u8>) {
        self.answer(*hash, Some((offset, body)))
    }
}
