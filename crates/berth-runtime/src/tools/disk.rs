//! The disk quota of sessions' sandboxes: a session's own, and what its tenant's other
//! sessions leave of the tenant's. Each session's use is recorded in the store (so the tenant's
//! total counts every replica), but only when it moved by a step: a command that changes
//! nothing costs no write. The tenant's total is read at most every few seconds per tenant.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_store::Store;
use berth_tools::DiskBudget;

/// A session's use is written again only when it moved by this much: the tenant's total is
/// right to within a mebibyte per session.
const RECORD_STEP: u64 = 1 << 20;
/// How long a tenant's total is trusted before it is read again.
const TENANT_TOTAL_TTL: Duration = Duration::from_secs(5);
/// Entries each cache keeps before it starts afresh.
const MAX_ENTRIES: usize = 10_000;

/// What this replica knows of sessions' and tenants' disk use.
pub struct DiskLedger {
    session_quota: u64,
    tenant_quota: u64,
    /// The use last written for each session.
    recorded: Mutex<HashMap<String, u64>>,
    /// Each tenant's total as last read.
    totals: Mutex<HashMap<String, (Instant, u64)>>,
}

impl DiskLedger {
    pub fn new(session_quota: u64, tenant_quota: u64) -> Self {
        Self {
            session_quota,
            tenant_quota,
            recorded: Mutex::new(HashMap::new()),
            totals: Mutex::new(HashMap::new()),
        }
    }

    /// The use last written for a session, if this replica wrote one.
    fn recorded(&self, session_id: &str) -> Option<u64> {
        self.recorded.lock().ok()?.get(session_id).copied()
    }

    /// Remembers what was written for a session, and moves its tenant's remembered total by
    /// the change, so this replica's own changes count at once.
    fn remember(&self, tenant_id: &str, session_id: &str, used: u64) {
        let Ok(mut recorded) = self.recorded.lock() else {
            return;
        };
        if recorded.len() >= MAX_ENTRIES {
            recorded.clear();
        }
        let previous = recorded.insert(session_id.to_owned(), used).unwrap_or(0);
        drop(recorded);
        if let Ok(mut totals) = self.totals.lock()
            && let Some((_, total)) = totals.get_mut(tenant_id)
        {
            *total = total.saturating_sub(previous).saturating_add(used);
        }
    }

    fn fresh_total(&self, tenant_id: &str) -> Option<u64> {
        let totals = self.totals.lock().ok()?;
        let (read_at, total) = totals.get(tenant_id)?;
        (read_at.elapsed() < TENANT_TOTAL_TTL).then_some(*total)
    }

    fn remember_total(&self, tenant_id: &str, total: u64) {
        if let Ok(mut totals) = self.totals.lock() {
            if totals.len() >= MAX_ENTRIES {
                totals.clear();
            }
            totals.insert(tenant_id.to_owned(), (Instant::now(), total));
        }
    }
}

/// One session's view of the ledger, handed to its tools.
pub struct SessionDisk {
    ledger: Arc<DiskLedger>,
    store: Arc<dyn Store>,
    tenant_id: String,
    session_id: String,
}

impl SessionDisk {
    pub fn new(
        ledger: Arc<DiskLedger>,
        store: Arc<dyn Store>,
        tenant_id: &str,
        session_id: &str,
    ) -> Self {
        Self {
            ledger,
            store,
            tenant_id: tenant_id.to_owned(),
            session_id: session_id.to_owned(),
        }
    }
}

#[async_trait::async_trait]
impl DiskBudget for SessionDisk {
    async fn limit(&self, used: u64) -> u64 {
        self.record(used).await;
        let recorded = self.ledger.recorded(&self.session_id).unwrap_or(used);
        let total = match self.ledger.fresh_total(&self.tenant_id) {
            Some(total) => total,
            None => match self.store.tenant_sandbox_disk_use(&self.tenant_id).await {
                Ok(total) => {
                    self.ledger.remember_total(&self.tenant_id, total);
                    total
                }
                Err(e) => {
                    tracing::warn!(session_id = %self.session_id, error = %e, "cannot read the tenant's disk use");
                    recorded
                }
            },
        };
        let others = total.saturating_sub(recorded);
        self.ledger
            .session_quota
            .min(self.ledger.tenant_quota.saturating_sub(others))
    }

    async fn record(&self, used: u64) {
        let unchanged = self
            .ledger
            .recorded(&self.session_id)
            .is_some_and(|last| last.abs_diff(used) < RECORD_STEP);
        if unchanged {
            return;
        }
        match self
            .store
            .record_sandbox_disk_use(&self.session_id, used)
            .await
        {
            Ok(()) => self
                .ledger
                .remember(&self.tenant_id, &self.session_id, used),
            Err(e) => {
                tracing::warn!(session_id = %self.session_id, error = %e, "cannot record the sandbox's disk use");
            }
        }
    }
}
