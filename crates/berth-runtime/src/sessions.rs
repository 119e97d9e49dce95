//! What the server asks of the runtime for a session. Each operation writes to the session's
//! log and then acts on what it wrote — publishes it to this process's streams (other replicas
//! hear of it through the database's announcements), interrupts a running turn, wakes the runner
//! for queued input — so no caller ever stores an event without the rest.

use std::sync::Arc;

use berth_agent::LiveDelta;
use berth_protocol::event::EventBody;
use berth_protocol::time::{micros, now};
use berth_store::{
    AppendOutcome, CancelledInput, ChangeOutcome, DeleteSessionOutcome, NewEvent, SessionChange,
    SessionRow, StoreResult, StoredEvent,
};
use tokio::sync::broadcast;

use crate::Runtime;
use crate::bus::BusItem;
use crate::log::server_event;

impl Runtime {
    /// Stores a new session (with the memory stores among its resources) and its first
    /// events, and wakes the runner if one is input.
    pub async fn create_session(
        &self,
        row: &SessionRow,
        memory_store_ids: &[String],
        events: &[NewEvent],
    ) -> StoreResult<()> {
        let stored = self
            .store
            .create_session(row, memory_store_ids, events)
            .await?;
        self.act_on(&row.id, &stored);
        Ok(())
    }

    /// Stores events a client sent (queued inputs, interrupts, system messages) and acts on
    /// them.
    pub async fn append_client_events(
        &self,
        tenant_id: &str,
        session_id: &str,
        rows: &[NewEvent],
    ) -> StoreResult<AppendOutcome> {
        let at = micros(now());
        let outcome = self
            .store
            .append_client_events(tenant_id, session_id, rows, at)
            .await?;
        if let AppendOutcome::Appended { stored, cancelled } = &outcome {
            self.act_on(session_id, stored);
            self.announce_queue(session_id, stored, cancelled, at);
        }
        Ok(outcome)
    }

    /// Applies a change to a session's stored object (with the events recording it) and
    /// publishes those events.
    pub async fn change_session(&self, change: &SessionChange) -> StoreResult<ChangeOutcome> {
        let outcome = self.store.change_session(change).await?;
        if let ChangeOutcome::Applied(stored) = &outcome {
            self.act_on(&change.id, stored);
        }
        Ok(outcome)
    }

    /// Deletes a session: its log closes with `session.deleted` (ending every stream), what
    /// this process keeps for it goes (context, sandbox, user), and its MCP connections, files
    /// and snapshots follow in the background.
    pub async fn delete_session(
        self: &Arc<Self>,
        tenant_id: &str,
        session_id: &str,
    ) -> StoreResult<DeleteSessionOutcome> {
        let last_words = [server_event(EventBody::SessionDeleted {})
            .map_err(|e| berth_store::StoreError::Backend(e.to_string()))?];
        let outcome = self
            .store
            .delete_session(tenant_id, session_id, micros(now()), &last_words)
            .await?;
        if let DeleteSessionOutcome::Deleted(stored) = &outcome {
            self.act_on(session_id, stored);
            self.runner.forget(session_id);
            let runtime = Arc::clone(self);
            let (tenant_id, session_id) = (tenant_id.to_owned(), session_id.to_owned());
            self.tasks.spawn("deleted session cleanup", async move {
                runtime.tools.mcp.close_session(&session_id).await;
                crate::files::delete_session_files(
                    runtime.store.as_ref(),
                    &runtime.blobs,
                    &tenant_id,
                    &session_id,
                )
                .await;
                runtime
                    .tools
                    .delete_snapshots(&tenant_id, &session_id)
                    .await;
            });
        }
        Ok(outcome)
    }

    /// Archives a session, which terminates it: its log gains `session.status_terminated`
    /// (ending every stream and the SDK's tool runners), queued inputs are cancelled, a running
    /// turn is interrupted, and it takes no new events. `None` if not found.
    pub async fn archive_session(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> StoreResult<Option<Vec<StoredEvent>>> {
        let last_words = [server_event(EventBody::SessionStatusTerminated {})
            .map_err(|e| berth_store::StoreError::Backend(e.to_string()))?];
        let archived = self
            .store
            .archive_session(tenant_id, session_id, micros(now()), &last_words)
            .await?;
        if let Some(stored) = archived.as_ref().filter(|stored| !stored.is_empty()) {
            self.act_on(session_id, stored);
            self.runner.interrupt(session_id);
        }
        Ok(archived)
    }

    /// Tells `include=chunks` watchers what happened to the session's queue: inputs that now
    /// wait, and inputs an interrupt cancelled.
    fn announce_queue(
        &self,
        session_id: &str,
        stored: &[StoredEvent],
        cancelled: &[CancelledInput],
        at: i64,
    ) {
        for event in stored.iter().filter(|e| e.processed_at.is_none()) {
            self.bus.publish_live(session_id, &pending_delta(event));
        }
        for input in cancelled {
            let delta = LiveDelta::input_cancelled(&input.id, input.seq, at / 1000);
            self.bus.publish_live(session_id, &delta);
        }
    }

    /// A session's live events from now on (`seen_seq`: the last one the subscriber has).
    pub fn subscribe(&self, session_id: &str, seen_seq: i64) -> broadcast::Receiver<BusItem> {
        self.bus.subscribe(session_id, seen_seq)
    }

    /// Publishes events just stored, and has the runner act on them: an interrupt stops the
    /// running turn, queued input wakes a runner.
    fn act_on(&self, session_id: &str, stored: &[StoredEvent]) {
        self.bus.publish_events(session_id, stored);
        if stored.iter().any(|e| e.kind.is_interrupt()) {
            self.runner.interrupt(session_id);
        }
        if stored.iter().any(|e| e.processed_at.is_none()) {
            self.runner.wake(session_id);
        }
    }
}

/// `system.user_message_pending` for a queued input.
pub fn pending_delta(event: &StoredEvent) -> LiveDelta {
    let json =
        serde_json::from_str(&crate::render::event_json(event)).unwrap_or(serde_json::Value::Null);
    LiveDelta::input_pending(&event.id, event.seq, event.created_at / 1000, json)
}
