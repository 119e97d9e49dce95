//! Keeping a mounted memory folder and its store in step.
//!
//! Each mounted store has a state file beside the sandbox's folders (out of the sandbox's
//! view) recording, for every file as last synced, its memory, digest, size and modification
//! time. Syncing out compares the folder with it: new and changed files become new versions
//! of their memories, removed files delete them. Syncing in brings the store's changes (other
//! sessions', the API's) into the folder, leaving alone files the agent changed since. The
//! state file names its store and access, so a crashed turn's writes can be synced out from
//! disk alone.
//!
//! Concurrent sessions writing one memory: each write records a version and the last one
//! stays (no precondition); a deletion only goes through if nobody changed the memory since
//! this session last saw it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use berth_memory::MemoryIndex;
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::memory::{
    Actor, MAX_CONTENT_BYTES, MAX_MEMORIES_PER_STORE, content_sha256, normalize_path,
};
use berth_store::{
    DeleteMemory, MemoryChange, MemoryQuery, MemoryRow, MemoryVersionStamp, MemoryWrite, NewMemory,
    SortOrder, Store,
};
use serde::{Deserialize, Serialize};

use super::files::{self, Stamp};
use berth_protocol::time::{micros, now};

/// Memories read per query when syncing in.
const PAGE: u32 = 500;

/// One mounted store's record of what was last synced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct MountState {
    pub store_id: String,
    pub read_write: bool,
    /// By memory path (`/a/b.md`).
    pub files: BTreeMap<String, SyncedFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SyncedFile {
    pub memory_id: String,
    pub sha256: String,
    pub size: u64,
    pub mtime_ns: i128,
}

impl SyncedFile {
    fn stamp(&self) -> Stamp {
        Stamp {
            size: self.size,
            mtime_ns: self.mtime_ns,
        }
    }
}

impl MountState {
    pub fn new(store_id: &str, read_write: bool) -> Self {
        Self {
            store_id: store_id.to_owned(),
            read_write,
            files: BTreeMap::new(),
        }
    }

    pub fn load(path: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn save(&self, path: &Path) {
        let result = serde_json::to_vec(self)
            .map_err(std::io::Error::other)
            .and_then(|bytes| {
                let partial = path.with_extension("partial");
                std::fs::write(&partial, bytes)?;
                std::fs::rename(&partial, path)
            });
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), error = %e, "cannot save a memory folder's state");
        }
    }

    fn record(&mut self, path: &str, row: &MemoryRow, stamp: Stamp) {
        self.files.insert(
            path.to_owned(),
            SyncedFile {
                memory_id: row.id.clone(),
                sha256: row.content_sha256.clone(),
                size: stamp.size,
                mtime_ns: stamp.mtime_ns,
            },
        );
    }
}

/// A memory path as a path below the folder (`/a/b.md` → `a/b.md`).
fn relative(path: &str) -> &str {
    path.strip_prefix('/').unwrap_or(path)
}

/// Who and what a sync works for.
pub(super) struct SyncContext<'a> {
    pub store: &'a dyn Store,
    pub index: &'a MemoryIndex,
    pub tenant_id: &'a str,
    pub session_id: &'a str,
    /// The sandbox's user, who must own what the server writes into a read-write folder.
    pub owner: Option<(u32, u32)>,
}

/// A mounted folder and its state file.
pub(super) struct Folder<'a> {
    pub host: &'a Path,
    pub state_file: &'a PathBuf,
}

impl Folder<'_> {
    /// Where files are written before they are renamed into the folder: beside the state file,
    /// out of the sandbox's view, on the same filesystem.
    fn scratch(&self) -> &Path {
        self.state_file.parent().unwrap_or(self.host)
    }
}

impl SyncContext<'_> {
    fn stamp(&self) -> Result<MemoryVersionStamp, String> {
        let actor = Actor::SessionActor {
            session_id: self.session_id.to_owned(),
        };
        Ok(MemoryVersionStamp {
            id: new_id(prefix::MEMORY_VERSION),
            actor: serde_json::to_string(&actor).map_err(|e| e.to_string())?,
            created_at: micros(now()),
        })
    }

    /// Saves the folder's new and changed files as memory versions and deletes the memories
    /// of removed files. Returns what could not be saved, one line per file.
    pub async fn sync_out(&self, folder: &Folder<'_>, state: &mut MountState) -> Vec<String> {
        let mut notes = Vec::new();
        if !state.read_write {
            return notes;
        }
        let walked = files::walk(folder.host);
        let mut present = std::collections::HashSet::new();
        for (rel, why) in walked.skipped {
            notes.push(format!("{rel}: not saved ({why})"));
            present.insert(format!("/{rel}"));
        }
        for (rel, stamp) in walked.files {
            let path = format!("/{rel}");
            present.insert(path.clone());
            if state.files.get(&path).is_some_and(|s| s.stamp() == stamp) {
                continue;
            }
            match self.save_file(folder, state, &rel, &path, stamp).await {
                Ok(()) => {}
                Err(why) => notes.push(format!("{rel}: not saved ({why})")),
            }
        }
        // A file the walk did not reach may still be there: only a complete walk deletes.
        let removed: Vec<(String, SyncedFile)> = state
            .files
            .iter()
            .filter(|_| walked.complete)
            .filter(|(path, _)| !present.contains(*path))
            .map(|(p, s)| (p.clone(), s.clone()))
            .collect();
        for (path, synced) in removed {
            match self.delete(state, &synced).await {
                Ok(()) => {
                    state.files.remove(&path);
                }
                Err(why) => notes.push(format!("{}: not deleted ({why})", relative(&path))),
            }
        }
        state.save(folder.state_file);
        notes
    }

    async fn save_file(
        &self,
        folder: &Folder<'_>,
        state: &mut MountState,
        rel: &str,
        path: &str,
        stamp: Stamp,
    ) -> Result<(), String> {
        match normalize_path(path) {
            Ok(normal) if normal == path => {}
            Ok(_) => return Err("its name is not in Unicode NFC form".into()),
            Err(e) => return Err(format!("not a valid memory path: {}", e.message)),
        }
        let limit = MAX_CONTENT_BYTES as u64;
        let bytes = files::read_file(folder.host, rel, limit)
            .map_err(|e| format!("cannot read it: {e}"))?
            .ok_or_else(|| format!("larger than {MAX_CONTENT_BYTES} bytes"))?;
        let text = String::from_utf8(bytes).map_err(|_| "its content is not UTF-8 text")?;
        if state
            .files
            .get(path)
            .is_some_and(|s| s.sha256 == content_sha256(&text))
        {
            // Touched, not changed.
            if let Some(synced) = state.files.get_mut(path) {
                (synced.size, synced.mtime_ns) = (stamp.size, stamp.mtime_ns);
            }
            return Ok(());
        }
        // Embedded only now that it is known to be a change.
        let content = self.index.content(text).await;
        let row = self.write(&state.store_id, path, content).await?;
        state.record(path, &row, stamp);
        Ok(())
    }

    /// Creates the memory at `path` or records a new version of it (last writer wins).
    async fn write(
        &self,
        store_id: &str,
        path: &str,
        content: berth_store::MemoryContent,
    ) -> Result<MemoryRow, String> {
        let mut existing = self
            .store
            .get_memory_by_path(self.tenant_id, store_id, path)
            .await
            .map_err(|e| e.to_string())?
            .map(|m| m.id);
        // Two rounds: a create can lose a race for the path to another session's, and an
        // update can find its memory just deleted.
        for _ in 0..2 {
            let outcome = match &existing {
                Some(id) => {
                    let change = MemoryChange {
                        path: None,
                        content: Some(content.clone()),
                    };
                    let stamp = self.stamp()?;
                    self.store
                        .update_memory(self.tenant_id, store_id, id, &change, None, &stamp)
                        .await
                }
                None => {
                    let new = NewMemory {
                        id: new_id(prefix::MEMORY),
                        tenant_id: self.tenant_id.to_owned(),
                        store_id: store_id.to_owned(),
                        path: path.to_owned(),
                        content: content.clone(),
                    };
                    let stamp = self.stamp()?;
                    self.store
                        .create_memory(&new, &stamp, MAX_MEMORIES_PER_STORE)
                        .await
                }
            }
            .map_err(|e| e.to_string())?;
            match outcome {
                MemoryWrite::Written(row) | MemoryWrite::Unchanged(row) => return Ok(row),
                MemoryWrite::PathTaken { existing_id } => existing = Some(existing_id),
                MemoryWrite::NotFound => existing = None,
                MemoryWrite::NoStore => {
                    return Err("the memory store is archived or gone and takes no writes".into());
                }
                MemoryWrite::StoreFull => {
                    return Err(format!(
                        "the store already holds {MAX_MEMORIES_PER_STORE} memories, its limit"
                    ));
                }
                MemoryWrite::PreconditionFailed { .. } => {
                    return Err("the memory changed while it was being saved".into());
                }
            }
        }
        Err("another session kept changing the memory; try again".into())
    }

    async fn delete(&self, state: &MountState, synced: &SyncedFile) -> Result<(), String> {
        let stamp = self.stamp()?;
        match self
            .store
            .delete_memory(
                self.tenant_id,
                &state.store_id,
                &synced.memory_id,
                Some(&synced.sha256),
                &stamp,
            )
            .await
            .map_err(|e| e.to_string())?
        {
            DeleteMemory::Deleted | DeleteMemory::NotFound => Ok(()),
            // Someone changed it since this session saw it: their version stays, and syncing
            // in brings it back.
            DeleteMemory::PreconditionFailed { .. } => Ok(()),
            DeleteMemory::NoStore => {
                Err("the memory store is archived or gone and takes no writes".into())
            }
        }
    }

    /// Brings the store's memories into the folder: new and changed ones are written (unless
    /// the agent changed the file since the last sync), deleted ones removed. Returns what
    /// could not be placed.
    pub async fn sync_in(&self, folder: &Folder<'_>, state: &mut MountState) -> Vec<String> {
        let mut notes = Vec::new();
        let remote = match self.list_all(&state.store_id).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(store_id = %state.store_id, error = %e, "cannot list a mounted memory store");
                return notes;
            }
        };
        let owner = if state.read_write { self.owner } else { None };
        let stale: Vec<String> = remote
            .values()
            .filter(|m| {
                state
                    .files
                    .get(&m.path)
                    .is_none_or(|s| s.sha256 != m.content_sha256 || s.memory_id != m.id)
            })
            .map(|m| m.id.clone())
            .collect();
        for ids in stale.chunks(100) {
            let rows = match self
                .store
                .memories_by_ids(self.tenant_id, &state.store_id, ids)
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(store_id = %state.store_id, error = %e, "cannot read mounted memories");
                    continue;
                }
            };
            for row in rows {
                let rel = relative(&row.path);
                // Never over a file the agent changed since the last sync (one that could not be
                // saved): it keeps its work and is told.
                let local = files::stamp_of(folder.host, rel);
                let recorded = state.files.get(&row.path).map(SyncedFile::stamp);
                if local.is_some() && local != recorded {
                    notes.push(format!(
                        "{rel}: changed here and in the store; the store's version was not placed"
                    ));
                    continue;
                }
                let bytes = row.content.as_bytes();
                match files::write_file(folder.host, folder.scratch(), rel, bytes, owner) {
                    Ok(stamp) => state.record(&row.path, &row, stamp),
                    Err(e) => {
                        notes.push(format!("{rel}: the store's version cannot be placed ({e})"))
                    }
                }
            }
        }
        let gone: Vec<(String, SyncedFile)> = state
            .files
            .iter()
            .filter(|(path, _)| !remote.contains_key(*path))
            .map(|(p, s)| (p.clone(), s.clone()))
            .collect();
        for (path, synced) in gone {
            if let Err(e) = files::remove_if_unchanged(folder.host, relative(&path), synced.stamp())
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::debug!(path, error = %e, "a deleted memory's file stays");
            }
            state.files.remove(&path);
        }
        state.save(folder.state_file);
        notes
    }

    /// Every memory of the store, by path, without content.
    async fn list_all(&self, store_id: &str) -> Result<BTreeMap<String, MemoryRow>, String> {
        let mut all = BTreeMap::new();
        let mut after = None;
        loop {
            let query = MemoryQuery {
                path_prefix: None,
                after: after.clone(),
                limit: PAGE,
                order: SortOrder::Asc,
                with_content: false,
            };
            let rows = self
                .store
                .list_memories(self.tenant_id, store_id, &query)
                .await
                .map_err(|e| e.to_string())?;
            let done = rows.len() < PAGE as usize;
            after = rows.last().map(|r| r.path.clone());
            all.extend(rows.into_iter().map(|r| (r.path.clone(), r)));
            if done {
                return Ok(all);
            }
        }
    }
}
