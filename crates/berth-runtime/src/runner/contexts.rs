//! Recently used model contexts, so a busy session does not re-read and re-parse its whole log
//! before every turn.
//!
//! Bounded by count and by size, and entries idle for a minute are dropped by the runner's
//! sweep, so memory stays flat however many sessions exist; a session that falls out simply
//! reads its context from the log again. Entries are never wrong: context positions only grow,
//! so a cached prefix plus a read of what came after it is always the current context.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::host::ContextCache;

/// Sessions whose contexts are kept.
const MAX_ENTRIES: usize = 64;
/// Total size of kept contexts (stored JSON bytes, a fair proxy for their parsed size).
const MAX_BYTES: usize = 16 * 1024 * 1024;
/// A context unused this long is dropped.
pub const IDLE_EVICTION: Duration = Duration::from_secs(60);

pub type SharedContext = Arc<tokio::sync::Mutex<ContextCache>>;

struct Entry {
    context: SharedContext,
    last_used: Instant,
}

#[derive(Default)]
pub struct RecentContexts {
    entries: Mutex<HashMap<String, Entry>>,
}

impl RecentContexts {
    /// The session's kept context, or a new empty one (which the caller fills from the log).
    pub fn get(&self, session_id: &str) -> SharedContext {
        let Ok(mut entries) = self.entries.lock() else {
            return SharedContext::default();
        };
        let entry = entries
            .entry(session_id.to_owned())
            .or_insert_with(|| Entry {
                context: SharedContext::default(),
                last_used: Instant::now(),
            });
        entry.last_used = Instant::now();
        let context = Arc::clone(&entry.context);
        Self::trim(&mut entries);
        context
    }

    pub fn forget(&self, session_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(session_id);
        }
    }

    /// Drops contexts nobody used for [`IDLE_EVICTION`].
    pub fn evict_idle(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|_, e| e.last_used.elapsed() < IDLE_EVICTION);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }

    fn trim(entries: &mut HashMap<String, Entry>) {
        let size = |entries: &HashMap<String, Entry>| -> usize {
            entries
                .values()
                .filter_map(|e| e.context.try_lock().ok().map(|c| c.bytes()))
                .sum()
        };
        while entries.len() > MAX_ENTRIES || (entries.len() > 1 && size(entries) > MAX_BYTES) {
            let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone())
            else {
                return;
            };
            entries.remove(&oldest);
        }
    }
}
