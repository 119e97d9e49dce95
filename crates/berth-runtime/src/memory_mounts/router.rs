//! The turn's tool router with memory folders kept in step: after every built-in tool call
//! that can change files (`bash`, `write`, `edit`), the session's memory folders are synced,
//! and whatever could not be saved is told to the agent at the end of the tool's result.

use std::sync::Arc;

use async_trait::async_trait;
use berth_agent::tools::{ToolCall, ToolKind, ToolOutcome, ToolRouter};
use berth_llm::ToolSpec;
use berth_protocol::agent_tools::PermissionPolicy;
use berth_protocol::content::ContentBlock;
use tokio_util::sync::CancellationToken;

use super::SessionMemory;

/// Built-in tools after which memory folders may have changed.
const WRITING_TOOLS: &[&str] = &["bash", "write", "edit"];

pub struct WithMemory {
    inner: Arc<dyn ToolRouter>,
    memory: Arc<SessionMemory>,
}

impl WithMemory {
    pub fn new(inner: Arc<dyn ToolRouter>, memory: Arc<SessionMemory>) -> Self {
        Self { inner, memory }
    }
}

#[async_trait]
impl ToolRouter for WithMemory {
    fn specs(&self) -> Vec<ToolSpec> {
        self.inner.specs()
    }

    fn kind(&self, name: &str) -> ToolKind {
        self.inner.kind(name)
    }

    fn permission(&self, name: &str) -> PermissionPolicy {
        self.inner.permission(name)
    }

    async fn execute(&self, call: &ToolCall, cancel: &CancellationToken) -> ToolOutcome {
        let outcome = self.inner.execute(call, cancel).await;
        let ToolOutcome::Done {
            mut content,
            is_error,
        } = outcome
        else {
            return outcome;
        };
        if WRITING_TOOLS.contains(&call.name.as_str()) {
            let notes = self.memory.sync().await;
            if !notes.is_empty() {
                content.push(ContentBlock::Text {
                    text: format!(
                        "Memory: some files were not saved to their memory store:\n{}",
                        notes.join("\n")
                    ),
                });
            }
        }
        ToolOutcome::Done { content, is_error }
    }
}
