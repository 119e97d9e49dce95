//! Sessions' sandbox users, allocated in the store so that no two live sessions share one on
//! any replica; a session keeps its user across replicas and restarts. This replica remembers
//! the users it has looked up (a live session's user never changes).

use std::collections::HashMap;
use std::sync::Mutex;

use berth_sandbox::SANDBOX_UIDS;
use berth_store::SandboxRecords;

/// Users remembered before the cache starts afresh.
const MAX_REMEMBERED: usize = 10_000;

#[derive(Default)]
pub struct SandboxUsers {
    known: Mutex<HashMap<String, u32>>,
}

impl SandboxUsers {
    /// The session's user, allocated if it has none yet; `None` (logged) when none can be had.
    pub async fn of(
        &self,
        store: &dyn SandboxRecords,
        tenant_id: &str,
        session_id: &str,
    ) -> Option<u32> {
        if let Some(uid) = self
            .known
            .lock()
            .ok()
            .and_then(|k| k.get(session_id).copied())
        {
            return Some(uid);
        }
        let uid = match store
            .sandbox_uid(tenant_id, session_id, SANDBOX_UIDS, legacy_uid(session_id))
            .await
        {
            Ok(Some(uid)) => uid,
            Ok(None) => {
                tracing::error!(
                    session_id,
                    "every sandbox user is taken: delete finished sessions to free some"
                );
                return None;
            }
            Err(e) => {
                tracing::warn!(session_id, error = %e, "cannot allocate the session's sandbox user");
                return None;
            }
        };
        if let Ok(mut known) = self.known.lock() {
            if known.len() >= MAX_REMEMBERED {
                known.clear();
            }
            known.insert(session_id.to_owned(), uid);
        }
        Some(uid)
    }

    /// Forgets a deleted session's user (the store has freed it).
    pub fn forget(&self, session_id: &str) {
        if let Ok(mut known) = self.known.lock() {
            known.remove(session_id);
        }
    }
}

/// The user earlier builds derived from the session id (FNV-1a of the id, modulo the range).
/// Preferring it when free keeps an existing session's files owned by its user.
fn legacy_uid(session_id: &str) -> u32 {
    let hash = session_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let span = u64::from(SANDBOX_UIDS.end - SANDBOX_UIDS.start);
    SANDBOX_UIDS.start + (hash % span) as u32
}
