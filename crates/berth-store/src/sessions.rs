//! Sessions, their event logs, and the leases that let exactly one runner work on a session.
//!
//! The log is append-only with a gapless per-session sequence. Inputs (`user.message`, tool
//! results and confirmations) are stored the moment they arrive but stay *pending* — no
//! `processed_at` — until a turn picks them up. Their place in the model's context is fixed at
//! that moment (`ctx_order`), so a message sent mid-turn is seen by the model after that turn,
//! even though its sequence number is earlier.

pub use berth_protocol::event::EventKind;
pub use berth_protocol::session::SessionStatus;

use crate::documents::SortOrder;
use crate::error::{StoreError, StoreResult};

/// A status as a backend stored it; text it does not know means the data is corrupt.
pub fn stored_status(text: &str) -> StoreResult<SessionStatus> {
    SessionStatus::parse(text)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown session status {text:?}")))
}

/// A session row. `body` is the static part of the API object; the rest are live columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub tenant_id: String,
    pub agent_id: String,
    pub agent_version: i64,
    pub environment_id: String,
    pub status: SessionStatus,
    /// Bumped by every change to `body` (optimistic concurrency for updates).
    pub version: i64,
    pub body: String,
    /// Sealed material that never leaves the server (e.g. repository tokens).
    pub private: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
    pub last_seq: i64,
    pub pending_inputs: i64,
    pub usage: UsageTotals,
    /// Time spent running, not counting the turn in progress.
    pub active_micros: i64,
    pub turn_started_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageTotals {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_input_tokens: i64,
    pub cache_creation_input_tokens: i64,
}

impl UsageTotals {
    pub fn add(&mut self, other: &UsageTotals) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_input_tokens += other.cache_read_input_tokens;
        self.cache_creation_input_tokens += other.cache_creation_input_tokens;
    }
}

/// An event to append. `body` is its JSON without `processed_at` (which the log owns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub id: String,
    pub kind: EventKind,
    pub body: String,
    /// Context the log keeps but never shows (thinking text and signatures).
    pub private: Option<String>,
    /// Inputs wait in the queue; everything else is processed on append.
    pub queued: bool,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub session_id: String,
    pub seq: i64,
    pub id: String,
    pub kind: EventKind,
    pub body: String,
    pub private: Option<String>,
    pub created_at: i64,
    pub processed_at: Option<i64>,
    pub cancelled_at: Option<i64>,
    /// Position in the model's context; `None` while queued or when cancelled.
    pub ctx_order: Option<i64>,
}

/// Which events a context read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextScope {
    /// Every processed event (recovery needs statuses and spans).
    All,
    /// Only the types a model's context is built from.
    Model,
}

/// Filters for `GET /v1/sessions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionQuery {
    pub limit: u32,
    pub order: SortOrder,
    /// Rows after this id in `order`…
    pub after: Option<String>,
    /// …or, for a `prev_page` cursor, rows before this id (returned in `order`).
    pub before: Option<String>,
    pub include_archived: bool,
    pub created_from: Option<i64>,
    pub created_until: Option<i64>,
    pub agent_id: Option<String>,
    pub agent_version: Option<i64>,
    pub statuses: Vec<SessionStatus>,
    pub environment_id: Option<String>,
    /// Only sessions with this memory store among their resources.
    pub memory_store_id: Option<String>,
}

/// Filters for `GET /v1/sessions/{id}/events`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    pub limit: u32,
    pub order: SortOrder,
    /// Events after this sequence number in `order` (`after_seq`, or a page cursor).
    pub after_seq: Option<i64>,
    pub types: Vec<String>,
    /// Leave out Berth's own extension events (`session.warning`), which only clients that
    /// opt in see.
    pub hide_extensions: bool,
    /// Bounds on `processed_at` (the contract's `created_at[…]` filters compare against it).
    pub processed_from: Option<i64>,
    pub processed_until: Option<i64>,
    /// Stop once the events' bodies add up to this many bytes (the event that crosses it is
    /// the last one; at least one event is returned), so no page can grow without bound.
    pub max_bytes: Option<u64>,
}

/// What one read of a session's log holds at most (but for one event larger than this): pages,
/// replays and relays read the log in pieces of this size, so their memory is bounded whatever
/// the log holds.
pub const EVENT_PAGE_BYTES: u64 = 4 << 20;

/// Keeps the rows a byte budget allows: every row until the one that reaches `max_bytes`
/// (included). Backends call it row by row while reading, so what is left unread is never
/// loaded.
#[derive(Debug, Clone, Copy)]
pub struct ByteBudget {
    left: Option<u64>,
}

impl ByteBudget {
    pub fn new(max_bytes: Option<u64>) -> Self {
        Self { left: max_bytes }
    }

    /// Counts a row of `bytes`; `false` once the budget is spent (before this row).
    pub fn admit(&mut self, bytes: usize) -> bool {
        match &mut self.left {
            None => true,
            Some(0) => false,
            Some(left) => {
                *left = left.saturating_sub(bytes as u64);
                true
            }
        }
    }
}

/// A change to a session's stored body, applied only if `expected_version` still holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionChange {
    pub tenant_id: String,
    pub id: String,
    pub expected_version: i64,
    pub body: String,
    pub now: i64,
    /// Refuse while a turn runs (agent tool changes).
    pub require_idle: bool,
    /// Events that record the change, appended in the same transaction.
    pub events: Vec<NewEvent>,
    /// A new value for the session's sealed material; `None` keeps it.
    pub private: Option<String>,
    /// The memory stores among the session's resources when they changed; `None` keeps them.
    pub memory_store_ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOutcome {
    Applied(Vec<StoredEvent>),
    NotFound,
    /// Another writer changed the session first; reload and retry.
    Stale,
    Running,
}

/// A queued input an interrupt cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelledInput {
    pub id: String,
    pub seq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The events as stored, and the queued inputs an interrupt among them cancelled.
    Appended {
        stored: Vec<StoredEvent>,
        cancelled: Vec<CancelledInput>,
    },
    NotFound,
    Archived,
    Terminated,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteSessionOutcome {
    Deleted(Vec<StoredEvent>),
    NotFound,
    Running,
}

/// The right to run one session's turns, until `expires_at`. Every write made under a lease
/// checks `generation`, so a runner that lost its lease cannot write another event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub session_id: String,
    pub tenant_id: String,
    pub owner: String,
    pub generation: i64,
    /// The session's status when the lease was taken (`running` means an interrupted turn).
    pub status_at_claim: SessionStatus,
}

/// What [`crate::Store::begin_turn`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnStart {
    /// Inputs were promoted and the turn's opening events appended.
    Started {
        promoted: Vec<StoredEvent>,
        appended: Vec<StoredEvent>,
    },
    /// Nothing is pending.
    NothingPending,
    /// The lease is no longer ours.
    LeaseLost,
}

/// Side effects on the session row of a runner's append.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TurnEffects {
    pub usage: Option<UsageTotals>,
    /// New status, if it changes.
    pub status: Option<SessionStatus>,
    /// The turn is over: fold its running time into `active_micros`.
    pub end_turn: bool,
    /// The streamed text these events finalise can be forgotten.
    pub clear_stream_buffers: bool,
}

/// Text streamed so far for an event not yet written, kept so a crash can close it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamBuffer {
    pub event_id: String,
    pub kind: EventKind,
    pub text: String,
}

/// Sessions' own rows: create, read, list, change, archive, delete.
#[async_trait::async_trait]
pub trait SessionRecords: Send + Sync {
    /// Creates a session, records the memory stores among its resources and appends its first
    /// events (e.g. `initial_events`), atomically.
    async fn create_session(
        &self,
        row: &SessionRow,
        memory_store_ids: &[String],
        events: &[NewEvent],
    ) -> StoreResult<Vec<StoredEvent>>;

    /// A session of the tenant; deleted sessions are not found.
    async fn get_session(&self, tenant_id: &str, id: &str) -> StoreResult<Option<SessionRow>>;

    async fn list_sessions(
        &self,
        tenant_id: &str,
        query: &SessionQuery,
    ) -> StoreResult<Vec<SessionRow>>;

    /// Replaces the session body (title, metadata, agent tools) if unchanged since read.
    async fn change_session(&self, change: &SessionChange) -> StoreResult<ChangeOutcome>;

    /// Archives a session, which terminates it: its queued inputs are cancelled, `events` (its
    /// `session.status_terminated`) are appended, its status becomes `terminated` for good, and
    /// it takes no new events. Archiving an archived session changes nothing (no events).
    /// `None` if not found.
    async fn archive_session(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
        events: &[NewEvent],
    ) -> StoreResult<Option<Vec<StoredEvent>>>;

    /// Soft-deletes an idle session, appending `events` (its last words) first.
    async fn delete_session(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
        events: &[NewEvent],
    ) -> StoreResult<DeleteSessionOutcome>;
}

/// A session's event log as clients write and read it.
#[async_trait::async_trait]
pub trait EventLog: Send + Sync {
    /// Appends client events. Inputs are queued; a `user.interrupt` also cancels the inputs
    /// queued before it.
    async fn append_client_events(
        &self,
        tenant_id: &str,
        session_id: &str,
        events: &[NewEvent],
        now: i64,
    ) -> StoreResult<AppendOutcome>;

    async fn list_events(
        &self,
        tenant_id: &str,
        session_id: &str,
        query: &EventQuery,
    ) -> StoreResult<Vec<StoredEvent>>;

    /// Events with `seq > after_seq`, oldest first, at most `limit` and (but for the first)
    /// about `max_bytes` of bodies (replay and gap filling for streams; the caller has already
    /// checked the session belongs to the tenant).
    async fn read_events(
        &self,
        session_id: &str,
        after_seq: i64,
        limit: u32,
        max_bytes: u64,
    ) -> StoreResult<Vec<StoredEvent>>;

    async fn get_event(&self, session_id: &str, event_id: &str)
    -> StoreResult<Option<StoredEvent>>;

    /// The inputs that wait for a turn, oldest first, at most `limit` (the caller has already
    /// checked the session belongs to the tenant).
    async fn queued_inputs(&self, session_id: &str, limit: u32) -> StoreResult<Vec<StoredEvent>>;
    /// The processed, uncancelled events in the order the model sees them, after the context
    /// position `after` (0 for all). Context positions only grow, so a reader can keep what it
    /// has and ask for the rest. `scope` limits the rows to what the model reads.
    async fn context_events(
        &self,
        session_id: &str,
        after: i64,
        scope: ContextScope,
    ) -> StoreResult<Vec<StoredEvent>>;
}

/// What runners do: find runnable sessions, hold leases, run turns and checkpoint streamed text.
#[async_trait::async_trait]
pub trait TurnLeases: Send + Sync {
    /// Sessions with work and no live lease: pending inputs, or a turn that was running when its
    /// runner stopped. Leases expiring before `lease_cutoff` count as free.
    async fn runnable_sessions(&self, lease_cutoff: i64, limit: u32) -> StoreResult<Vec<String>>;

    /// Takes the session's lease if it is free (or expired before `lease_cutoff`).
    async fn claim_session(
        &self,
        session_id: &str,
        owner: &str,
        lease_cutoff: i64,
        expires_at: i64,
    ) -> StoreResult<Option<Lease>>;

    /// Extends a lease; false if it was lost.
    async fn renew_lease(&self, lease: &Lease, expires_at: i64) -> StoreResult<bool>;

    async fn release_lease(&self, lease: &Lease) -> StoreResult<()>;

    /// Promotes the oldest pending input (with the tool answers queued right behind it) and
    /// appends `opening` (e.g. `session.status_running`), marking the session running.
    async fn begin_turn(
        &self,
        lease: &Lease,
        now: i64,
        opening: &[NewEvent],
    ) -> StoreResult<TurnStart>;

    /// Appends events under a lease; `None` if the lease was lost (nothing is written).
    async fn append_turn_events(
        &self,
        lease: &Lease,
        events: &[NewEvent],
        effects: &TurnEffects,
        now: i64,
    ) -> StoreResult<Option<Vec<StoredEvent>>>;

    async fn save_stream_buffer(&self, lease: &Lease, buffer: &StreamBuffer) -> StoreResult<()>;

    async fn stream_buffers(&self, session_id: &str) -> StoreResult<Vec<StreamBuffer>>;
}
