//! The turn loop's view of the world: the log through the store, appends fenced by the lease,
//! deltas onto the bus.

use std::sync::Arc;

use async_trait::async_trait;
use berth_agent::{Emitted, HostError, LiveDelta, LogEvent, TurnHost};
use berth_protocol::event::{Event, EventKind, ModelUsage};
use berth_protocol::session::SessionStatus;
use berth_store::{ContextScope, Lease, NewEvent, Store, StreamBuffer, TurnEffects, UsageTotals};

use crate::bus::EventBus;
use crate::log::{from_emitted, parse, server_rows};
use crate::redact::Redactor;
use berth_protocol::time::{micros, now};

pub struct RunnerHost {
    pub store: Arc<dyn Store>,
    pub bus: Arc<EventBus>,
    pub lease: Lease,
    pub context: Arc<tokio::sync::Mutex<ContextCache>>,
    pub blobs: berth_blob::BlobStore,
    /// Files already read for this turn's requests (file id → base64 source).
    pub files: std::sync::Mutex<std::collections::HashMap<String, serde_json::Value>>,
    /// Masks the session's secrets in everything this turn stores.
    pub redactor: std::sync::RwLock<Arc<std::sync::RwLock<Redactor>>>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// When the model request in progress started (for its latency).
    pub model_started: std::sync::Mutex<Option<std::time::Instant>>,
}

impl RunnerHost {
    pub fn set_redactor(&self, redactor: Arc<std::sync::RwLock<Redactor>>) {
        if let Ok(mut slot) = self.redactor.write() {
            *slot = redactor;
        }
    }

    /// Model latency and tokens, from the spans the loop writes.
    fn observe(&self, rows: &[NewEvent], usage: Option<&ModelUsage>) {
        let Ok(mut started) = self.model_started.lock() else {
            return;
        };
        for row in rows {
            match row.kind {
                EventKind::SpanModelRequestStart => *started = Some(std::time::Instant::now()),
                EventKind::SpanModelRequestEnd => {
                    if let Some(at) = started.take() {
                        self.metrics.model_request(at.elapsed());
                    }
                }
                _ => {}
            }
        }
        if let Some(u) = usage {
            self.metrics.tokens(
                u.input_tokens,
                u.output_tokens,
                u.cache_read_input_tokens,
                u.cache_creation_input_tokens,
            );
        }
    }

    fn redact(&self, rows: &mut [NewEvent]) {
        if let Ok(slot) = self.redactor.read()
            && let Ok(redactor) = slot.read()
        {
            redactor.events(rows);
        }
    }

    /// Appends events the server wrote (not the loop), redacted and fenced like the rest.
    pub async fn append_events(&self, events: &[Event]) -> Result<(), HostError> {
        let rows = server_rows(events).map_err(|e| HostError::Storage(e.to_string()))?;
        self.store_rows(rows, &TurnEffects::default(), None).await
    }

    /// Events the loop emitted, stored with `effects` (see [`Self::store_rows`]).
    async fn write(
        &self,
        events: &[Emitted],
        effects: &TurnEffects,
        usage: Option<&ModelUsage>,
    ) -> Result<(), HostError> {
        let rows = events
            .iter()
            .map(from_emitted)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| HostError::Storage(e.to_string()))?;
        self.store_rows(rows, effects, usage).await
    }

    /// Redacts rows, records model figures, appends them under the lease (nothing is written
    /// once it is lost) and publishes what was stored.
    async fn store_rows(
        &self,
        mut rows: Vec<NewEvent>,
        effects: &TurnEffects,
        usage: Option<&ModelUsage>,
    ) -> Result<(), HostError> {
        self.redact(&mut rows);
        self.observe(&rows, usage);
        let stored = self
            .store
            .append_turn_events(&self.lease, &rows, effects, micros(now()))
            .await
            .map_err(|e| HostError::Storage(e.to_string()))?
            .ok_or(HostError::LeaseLost)?;
        self.bus.publish_events(&self.lease.session_id, &stored);
        Ok(())
    }
}

/// Largest file inlined into a model request.
const MAX_INLINE_FILE_BYTES: u64 = 32 << 20;

/// The model's view of the log, kept while the session's task runs and topped up from the log
/// before every step. Context positions only grow, so only new rows are read; the cache is
/// dropped when the session goes idle.
#[derive(Default)]
pub struct ContextCache {
    events: Arc<Vec<LogEvent>>,
    after: i64,
    bytes: usize,
}

impl ContextCache {
    /// Roughly how much memory the context holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

pub fn usage_totals(u: ModelUsage) -> UsageTotals {
    UsageTotals {
        input_tokens: u.input_tokens as i64,
        output_tokens: u.output_tokens as i64,
        cache_read_input_tokens: u.cache_read_input_tokens as i64,
        cache_creation_input_tokens: u.cache_creation_input_tokens as i64,
    }
}

#[async_trait]
impl TurnHost for RunnerHost {
    async fn context(&self) -> Result<Arc<Vec<LogEvent>>, HostError> {
        let mut cache = self.context.lock().await;
        let rows = self
            .store
            .context_events(&self.lease.session_id, cache.after, ContextScope::Model)
            .await
            .map_err(|e| HostError::Storage(e.to_string()))?;
        if let Some(last) = rows.iter().filter_map(|r| r.ctx_order).max() {
            cache.after = cache.after.max(last);
            cache.bytes += rows
                .iter()
                .map(|r| r.body.len() + r.private.as_ref().map_or(0, String::len))
                .sum::<usize>();
            Arc::make_mut(&mut cache.events).extend(rows.iter().filter_map(parse));
        }
        Ok(Arc::clone(&cache.events))
    }

    async fn append(
        &self,
        events: Vec<Emitted>,
        usage: Option<ModelUsage>,
    ) -> Result<(), HostError> {
        let effects = TurnEffects {
            usage: usage.map(usage_totals),
            status: None,
            end_turn: false,
            clear_stream_buffers: true,
        };
        self.write(&events, &effects, usage.as_ref()).await
    }

    async fn transition(
        &self,
        events: Vec<Emitted>,
        status: SessionStatus,
    ) -> Result<(), HostError> {
        let effects = TurnEffects {
            usage: None,
            status: Some(status),
            end_turn: false,
            clear_stream_buffers: false,
        };
        self.write(&events, &effects, None).await
    }

    async fn file_source(&self, file_id: &str) -> Result<serde_json::Value, String> {
        if let Some(cached) = self.files.lock().ok().and_then(|f| f.get(file_id).cloned()) {
            return Ok(cached);
        }
        let row = self
            .store
            .get_file(&self.lease.tenant_id, file_id, micros(now()))
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the file does not exist (or has expired)".to_owned())?;
        let file = crate::files::object_of(&row).map_err(|e| e.to_string())?;
        if file.size_bytes > MAX_INLINE_FILE_BYTES {
            return Err(format!(
                "the file is {} bytes, more than a model request can carry",
                file.size_bytes
            ));
        }
        let bytes = self
            .blobs
            .read(&crate::files::file_key(&self.lease.tenant_id, file_id))
            .await
            .map_err(|e| e.to_string())?;
        use base64::Engine;
        let source = serde_json::json!({
            "type": "base64",
            "media_type": file.mime_type,
            "data": base64::engine::general_purpose::STANDARD.encode(&bytes),
        });
        if let Ok(mut files) = self.files.lock() {
            files.insert(file_id.to_owned(), source.clone());
        }
        Ok(source)
    }

    fn publish(&self, delta: LiveDelta) {
        self.bus.publish_live(&self.lease.session_id, &delta);
    }

    async fn save_partial(&self, event_id: &str, kind: EventKind, text: &str) {
        let buffer = StreamBuffer {
            event_id: event_id.to_owned(),
            kind,
            text: text.to_owned(),
        };
        if let Err(e) = self.store.save_stream_buffer(&self.lease, &buffer).await {
            tracing::debug!(error = %e, "cannot checkpoint streamed text");
        }
    }
}
