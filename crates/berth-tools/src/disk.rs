//! The disk quota of a session's sandbox, as the tools apply it: a command runs with the room
//! its session (and its tenant) has left, `write` and `edit` refuse what would not fit, and
//! what the files take afterwards is recorded for the tenant's total.

use async_trait::async_trait;
use berth_sandbox::{DiskAllowance, Sandbox};

use crate::ToolContext;
use crate::output::ToolError;

/// Who decides how much disk a session's sandbox may take (the server, from its quotas and the
/// tenant's other sessions).
#[async_trait]
pub trait DiskBudget: Send + Sync {
    /// Records that the session's files take `used` bytes, and returns the most they may take.
    async fn limit(&self, used: u64) -> u64;
    /// Records what the session's files take after a change.
    async fn record(&self, used: u64);
}

impl ToolContext {
    /// The allowance for a change to the sandbox's files, or `None` without a quota.
    pub(crate) async fn disk_allowance(
        &self,
        sandbox: &Sandbox,
    ) -> Result<Option<DiskAllowance>, ToolError> {
        let Some(budget) = &self.disk_budget else {
            return Ok(None);
        };
        let used = sandbox
            .disk_usage()
            .await
            .map_err(|e| ToolError::new(e.to_string()))?;
        Ok(Some(DiskAllowance {
            limit_bytes: budget.limit(used).await,
            used_bytes: used,
        }))
    }

    /// Records what the sandbox's files take after a change.
    pub(crate) async fn record_disk_use(&self, sandbox: &Sandbox) {
        if let Some(budget) = &self.disk_budget
            && let Ok(used) = sandbox.disk_usage().await
        {
            budget.record(used).await;
        }
    }
}

/// Refuses writing `bytes` more when they do not fit the allowance.
pub(crate) fn check_room(allowance: Option<DiskAllowance>, bytes: u64) -> Result<(), ToolError> {
    match allowance {
        Some(a) if a.used_bytes.saturating_add(bytes) > a.limit_bytes => {
            Err(ToolError::new(format!(
                "not written: the session's files take {} KiB of their {} MiB disk quota, and \
                 this needs {} KiB more; delete files (with bash) to make room",
                a.used_bytes >> 10,
                a.limit_bytes >> 20,
                bytes.div_ceil(1024)
            )))
        }
        _ => Ok(()),
    }
}
