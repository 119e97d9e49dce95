//! Memory stores attached to a session, as folders in its sandbox: each store appears at
//! `/mnt/memory/<name>/` (read-only stores read-only), filled from the store before the turn,
//! and what the agent writes there is saved as new memory versions, attributed to the session,
//! at the end of every tool call that can change files ([`router::WithMemory`]) and, after a
//! crash, when the session is recovered ([`sync_leftovers`]). The stores' descriptions and the
//! attachments' instructions go into the system prompt.

mod files;
mod router;
mod sync;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_memory::MemoryIndex;
use berth_protocol::memory::{MemoryStore, is_format_or_separator};
use berth_protocol::session::{MemoryAccess, Resource, SessionStatic};
use berth_sandbox::{ExtraMount, SandboxDirs};
use berth_store::{Collection, Store};

pub use router::WithMemory;
use sync::{Folder, MountState, SyncContext};

/// Where memory stores appear in the sandbox.
pub const MEMORY_MOUNT: &str = "/mnt/memory";
/// Longest folder name, in bytes.
const MAX_DIR_BYTES: usize = 100;

/// A store a new session attaches, as the session records it.
#[derive(Debug, Clone)]
pub struct AttachedStore {
    pub name: String,
    pub description: String,
    /// `/mnt/memory/<folder>`.
    pub mount_path: String,
}

/// A folder name for a store: its name with separators, control and invisible characters
/// replaced, cut to [`MAX_DIR_BYTES`], and suffixed `-2`, `-3`… when another store of the
/// session has it. The id when nothing usable is left.
pub fn unique_folder(name: &str, id: &str, taken: &mut HashSet<String>) -> String {
    let mut base: String = name
        .trim()
        .chars()
        .map(|c| {
            let invisible = c.is_control() || is_format_or_separator(c);
            if c == '/' || c == '\\' || invisible || c.is_whitespace() && c != ' ' {
                '_'
            } else {
                c
            }
        })
        .collect();
    while base.len() > MAX_DIR_BYTES {
        base.pop();
    }
    let base = base.trim().trim_start_matches('.').to_owned();
    let base = if base.is_empty() { id.to_owned() } else { base };
    let mut folder = base.clone();
    let mut n = 2;
    while !taken.insert(folder.clone()) {
        folder = format!("{base}-{n}");
        n += 1;
    }
    folder
}

/// One store mounted in a session's sandbox.
struct Mounted {
    name: String,
    description: String,
    instructions: Option<String>,
    read_write: bool,
    mount_path: String,
    host: PathBuf,
    state_file: PathBuf,
}

/// A session's mounted memory stores for one turn.
pub struct SessionMemory {
    store: Arc<dyn Store>,
    index: MemoryIndex,
    tenant_id: String,
    session_id: String,
    owner: Option<(u32, u32)>,
    mounts: Vec<Mounted>,
    /// Syncs of one session run one at a time.
    syncing: tokio::sync::Mutex<()>,
}

fn state_dir(dirs: &SandboxDirs) -> PathBuf {
    dirs.root.join("memory-state")
}

impl SessionMemory {
    /// Mounts the session's memory stores: folders created, leftovers of a crashed turn saved,
    /// the stores' current memories brought in. `None` when the session has no stores.
    pub async fn prepare(
        store: Arc<dyn Store>,
        index: MemoryIndex,
        dirs: &SandboxDirs,
        tenant_id: &str,
        session: &SessionStatic,
        owner: Option<(u32, u32)>,
    ) -> Option<Self> {
        let mut mounts = Vec::new();
        let mut taken: HashSet<String> = session
            .resources
            .iter()
            .filter_map(|r| match r {
                Resource::MemoryStore {
                    mount_path: Some(p),
                    ..
                } => p.rsplit('/').next().map(str::to_owned),
                _ => None,
            })
            .collect();
        for resource in &session.resources {
            let Resource::MemoryStore {
                memory_store_id,
                access,
                instructions,
                name,
                description,
                mount_path,
                ..
            } = resource
            else {
                continue;
            };
            // The store as it is now: renamed descriptions show, archived stores turn read-only.
            let current = match store
                .get_document(Collection::MemoryStores, tenant_id, memory_store_id)
                .await
            {
                Ok(Some(doc)) => serde_json::from_str::<MemoryStore>(&doc.body)
                    .ok()
                    .map(|s| (s, doc.archived_at.is_some())),
                Ok(None) => {
                    tracing::info!(session_id = %session.id, memory_store_id, "an attached memory store is gone; not mounted");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(session_id = %session.id, memory_store_id, error = %e, "cannot read an attached memory store");
                    continue;
                }
            };
            let archived = current.as_ref().is_some_and(|(_, a)| *a);
            // Sessions made before stores had folders get one now.
            let mount_path = mount_path.clone().unwrap_or_else(|| {
                let named = current
                    .as_ref()
                    .map_or(memory_store_id.as_str(), |(s, _)| &s.name);
                let folder = unique_folder(named, memory_store_id, &mut taken);
                format!("{MEMORY_MOUNT}/{folder}")
            });
            let folder = mount_path
                .rsplit('/')
                .next()
                .unwrap_or(memory_store_id.as_str())
                .to_owned();
            let mounted = Mounted {
                name: current
                    .as_ref()
                    .map(|(s, _)| s.name.clone())
                    .or_else(|| name.clone())
                    .unwrap_or_else(|| folder.clone()),
                description: current
                    .as_ref()
                    .map(|(s, _)| s.description.clone())
                    .or_else(|| description.clone())
                    .unwrap_or_default(),
                instructions: instructions.clone(),
                read_write: *access == MemoryAccess::ReadWrite && !archived,
                host: dirs.root.join("memory").join(&folder),
                state_file: state_dir(dirs).join(format!("{folder}.json")),
                mount_path,
            };
            if let Err(e) = create_folders(&mounted, owner) {
                tracing::warn!(session_id = %session.id, memory_store_id, error = %e, "cannot make a memory folder");
                continue;
            }
            let state = MountState::load(&mounted.state_file)
                .filter(|s| s.store_id == *memory_store_id)
                .unwrap_or_else(|| MountState::new(memory_store_id, mounted.read_write));
            MountState {
                read_write: mounted.read_write,
                ..state
            }
            .save(&mounted.state_file);
            mounts.push(mounted);
        }
        if mounts.is_empty() {
            return None;
        }
        let memory = Self {
            store,
            index,
            tenant_id: tenant_id.to_owned(),
            session_id: session.id.clone(),
            owner,
            mounts,
            syncing: tokio::sync::Mutex::new(()),
        };
        let notes = memory.sync().await;
        if !notes.is_empty() {
            tracing::info!(session_id = %session.id, ?notes, "memory files left unsaved");
        }
        Some(memory)
    }

    /// The binds of the mounted folders.
    pub fn extra_mounts(&self) -> Vec<ExtraMount> {
        self.mounts
            .iter()
            .map(|m| ExtraMount {
                sandbox: m.mount_path.clone(),
                host: m.host.clone(),
                writable: m.read_write,
            })
            .collect()
    }

    /// The system prompt's section about the mounted stores.
    pub fn prompt(&self) -> String {
        let mut text = String::from(
            "## Memory\n\nThese memory stores are mounted in the sandbox as folders of text files \
             that outlive this session. Read them before starting work; to remember something, \
             write or edit files there with your file tools or bash. Changes are saved as new \
             versions when each tool call ends, and other sessions attached to a store see them.\n",
        );
        for m in &self.mounts {
            let access = if m.read_write {
                "read-write"
            } else {
                "read-only: read these files, do not try to change them"
            };
            text.push_str(&format!(
                "\n### Memory store: {}\nMounted at {}/ ({access}).\n",
                m.name, m.mount_path
            ));
            if !m.description.is_empty() {
                text.push_str(&format!("{}\n", m.description));
            }
            if let Some(instructions) = m.instructions.as_deref().filter(|i| !i.is_empty()) {
                text.push_str(&format!("Instructions: {instructions}\n"));
            }
        }
        text
    }

    /// Saves what the agent changed in read-write folders, then brings every folder up to date
    /// with its store. Returns what could not be saved or placed, one line per file.
    pub async fn sync(&self) -> Vec<String> {
        let _one_at_a_time = self.syncing.lock().await;
        let context = SyncContext {
            store: self.store.as_ref(),
            index: &self.index,
            tenant_id: &self.tenant_id,
            session_id: &self.session_id,
            owner: self.owner,
        };
        let mut notes = Vec::new();
        for m in &self.mounts {
            let folder = Folder {
                host: &m.host,
                state_file: &m.state_file,
            };
            let prefix = format!("{}/", m.mount_path);
            let Some(mut state) = MountState::load(&m.state_file) else {
                notes.push(format!(
                    "{prefix}: the folder's sync state cannot be read; nothing in it was saved"
                ));
                continue;
            };
            let out = context.sync_out(&folder, &mut state).await;
            let into = context.sync_in(&folder, &mut state).await;
            notes.extend(out.into_iter().chain(into).map(|n| format!("{prefix}{n}")));
        }
        notes
    }
}

fn create_folders(mounted: &Mounted, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = mounted.state_file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::create_dir_all(&mounted.host)?;
    std::fs::set_permissions(&mounted.host, std::fs::Permissions::from_mode(0o755))?;
    if let Some((uid, gid)) = owner.filter(|_| mounted.read_write) {
        std::os::unix::fs::chown(&mounted.host, Some(uid), Some(gid))?;
    }
    Ok(())
}

/// Saves what a session's agent left in its read-write memory folders (after a crash), from
/// the state files alone.
pub async fn sync_leftovers(
    store: &dyn Store,
    index: &MemoryIndex,
    dirs: &SandboxDirs,
    tenant_id: &str,
    session_id: &str,
) {
    let Ok(entries) = std::fs::read_dir(state_dir(dirs)) else {
        return;
    };
    let context = SyncContext {
        store,
        index,
        tenant_id,
        session_id,
        owner: None,
    };
    for entry in entries.flatten() {
        let state_file = entry.path();
        let Some(folder) = state_file
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|_| state_file.extension().is_some_and(|e| e == "json"))
            .map(|s| dirs.root.join("memory").join(s))
        else {
            continue;
        };
        let Some(mut state) = MountState::load(&state_file) else {
            continue;
        };
        let notes = context
            .sync_out(
                &Folder {
                    host: Path::new(&folder),
                    state_file: &state_file,
                },
                &mut state,
            )
            .await;
        if !notes.is_empty() {
            tracing::info!(
                session_id,
                ?notes,
                "memory files left unsaved after recovery"
            );
        }
    }
}
