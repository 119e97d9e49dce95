//! Server-sent event streams of a session: a live tail, optionally preceded by a replay of the
//! log, with gaps filled from the log so a client sees every durable event exactly once, in
//! sequence order.
//!
//! The subscription is taken *before* the replay is read, and every durable frame is compared
//! with the last sequence number delivered: anything already sent is skipped, anything missed
//! (a lagging subscriber, a frame published before the replay finished) is read back from the
//! log. Frames: `event: <type>`, `id: <seq>` for durable events, one JSON `data:` line.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use berth_agent::live::Audience;
use berth_protocol::event::EventKind;
use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};

use crate::state::AppState;
use berth_runtime::bus::{BusItem, DurableFrame};

/// Most waiting inputs announced to a subscriber when its stream opens.
const QUEUED_ANNOUNCED: u32 = 100;

/// Events read from the log per query while replaying or filling a gap.
const REPLAY_PAGE: u32 = 500;
/// Frames buffered towards one client before the writer waits for it.
const CLIENT_BUFFER: usize = 256;

/// What a stream delivers and when it ends.
#[derive(Debug, Clone)]
pub struct StreamRequest {
    pub session_id: String,
    /// Replay events with `seq` above this before tailing (`?replay=1` is 0, `Last-Event-ID: N`
    /// is N); `None` tails only what happens from now on.
    pub replay_after: Option<i64>,
    pub message_previews: bool,
    pub thinking_previews: bool,
    /// `include=chunks`: extension events and OMA chunk frames too.
    pub chunks: bool,
    /// For `POST …/messages`: deliver only the turn that processes this event, then close.
    pub turn_of: Option<String>,
}

pub fn response(state: Arc<AppState>, request: StreamRequest, current_seq: i64) -> Response {
    let (tx, rx) = mpsc::channel::<Result<Bytes, Infallible>>(CLIENT_BUFFER);
    let subscription = state.runtime.subscribe(&request.session_id, current_seq);
    let tasks = state.runtime.tasks.clone();
    tasks.spawn("event stream", async move {
        let mut writer = Writer {
            state,
            tx,
            last: request.replay_after.unwrap_or(current_seq),
            turn: request.turn_of.as_ref().map(|_| TurnState::Waiting),
            request,
        };
        if let Err(Closed) = writer.run(subscription).await {
            tracing::debug!("stream closed");
        }
    });
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-transform"),
    );
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The client went away (or the stream is over).
struct Closed;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TurnState {
    Waiting,
    Active,
}

struct Writer {
    state: Arc<AppState>,
    tx: mpsc::Sender<Result<Bytes, Infallible>>,
    request: StreamRequest,
    /// The last durable seq delivered (or skipped as already known).
    last: i64,
    turn: Option<TurnState>,
}

enum Flow {
    Continue,
    End,
}

impl Writer {
    async fn run(&mut self, mut subscription: broadcast::Receiver<BusItem>) -> Result<(), Closed> {
        // Whatever was appended between the caller reading the session and subscribing (here
        // or on another replica) is read back now; the replay, if asked for, is the same read.
        if let Flow::End = self.catch_up(i64::MAX).await? {
            return Ok(());
        }
        if self.request.chunks && self.turn.is_none() {
            self.announce_waiting().await?;
        }
        let mut ping = tokio::time::interval(self.state.config.sse_keepalive);
        ping.reset();
        let shutdown = self.state.runtime.shutdown.clone();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = self.tx.closed() => return Err(Closed),
                _ = ping.tick() => {
                    self.send(Bytes::from_static(b"event: ping\ndata: {}\n\n")).await?;
                }
                item = subscription.recv() => {
                    let flow = match item {
                        Ok(BusItem::Durable(frame)) => self.durable(frame).await?,
                        Ok(BusItem::Live(frame)) => {
                            if self.wants_live(frame.audience) {
                                self.send(frame.frame.clone()).await?;
                            }
                            Flow::Continue
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => self.catch_up(i64::MAX).await?,
                        Err(broadcast::error::RecvError::Closed) => Flow::End,
                    };
                    if let Flow::End = flow {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// `include=chunks`: what already waits in the session's queue when the stream opens.
    async fn announce_waiting(&mut self) -> Result<(), Closed> {
        let waiting = self
            .state
            .store
            .queued_inputs(&self.request.session_id, QUEUED_ANNOUNCED)
            .await
            .unwrap_or_default();
        for event in &waiting {
            let delta = berth_runtime::sessions::pending_delta(event);
            let frame = format!("event: {}\ndata: {}\n\n", delta.event_type, delta.json);
            self.send(Bytes::from(frame)).await?;
        }
        Ok(())
    }

    fn wants_live(&self, audience: Audience) -> bool {
        if self.turn == Some(TurnState::Waiting) {
            return false;
        }
        match audience {
            Audience::MessagePreview => self.request.message_previews,
            Audience::ThinkingPreview => self.request.thinking_previews,
            Audience::Chunks => self.request.chunks,
        }
    }

    async fn durable(&mut self, frame: Arc<DurableFrame>) -> Result<Flow, Closed> {
        if frame.seq <= self.last {
            return Ok(Flow::Continue);
        }
        if frame.seq > self.last + 1
            && let Flow::End = self.catch_up(frame.seq - 1).await?
        {
            return Ok(Flow::End);
        }
        self.deliver(&frame).await
    }

    /// Reads the log from `last` up to `until` (inclusive) and delivers it.
    async fn catch_up(&mut self, until: i64) -> Result<Flow, Closed> {
        loop {
            let page = match self
                .state
                .store
                .read_events(
                    &self.request.session_id,
                    self.last,
                    REPLAY_PAGE,
                    berth_store::EVENT_PAGE_BYTES,
                )
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "stream could not read the log");
                    return Ok(Flow::End);
                }
            };
            // A page may end early on its byte budget: only an empty one means the end.
            if page.is_empty() {
                return Ok(Flow::Continue);
            }
            for event in page {
                if event.seq > until {
                    return Ok(Flow::Continue);
                }
                if let Flow::End = self.deliver(&DurableFrame::new(&event)).await? {
                    return Ok(Flow::End);
                }
            }
        }
    }

    async fn deliver(&mut self, frame: &DurableFrame) -> Result<Flow, Closed> {
        self.last = frame.seq;
        let terminal = matches!(
            frame.kind,
            EventKind::SessionStatusTerminated | EventKind::SessionDeleted
        );
        if let Some(state) = self.turn {
            return self.deliver_turn(frame, state).await;
        }
        if self.request.chunks || frame.kind.is_contract_type() {
            self.send(frame.frame.clone()).await?;
        }
        Ok(if terminal { Flow::End } else { Flow::Continue })
    }

    /// `POST …/messages`: stay quiet until the turn that processes our message starts, then
    /// forward everything until that turn goes idle.
    async fn deliver_turn(
        &mut self,
        frame: &DurableFrame,
        state: TurnState,
    ) -> Result<Flow, Closed> {
        let Some(event_id) = self.request.turn_of.clone() else {
            return Ok(Flow::Continue);
        };
        match state {
            TurnState::Waiting => {
                let relevant = matches!(
                    frame.kind,
                    EventKind::SessionStatusRunning
                        | EventKind::UserInterrupt
                        | EventKind::SessionDeleted
                );
                if !relevant {
                    return Ok(Flow::Continue);
                }
                let ours = self
                    .state
                    .store
                    .get_event(&self.request.session_id, &event_id)
                    .await
                    .ok()
                    .flatten();
                let Some(ours) = ours else {
                    return Ok(Flow::End);
                };
                if ours.cancelled_at.is_some() || frame.kind == EventKind::SessionDeleted {
                    self.send(frame.frame.clone()).await?;
                    return Ok(Flow::End);
                }
                if frame.kind == EventKind::SessionStatusRunning && ours.processed_at.is_some() {
                    self.turn = Some(TurnState::Active);
                    self.send(DurableFrame::new(&ours).frame).await?;
                    self.send(frame.frame.clone()).await?;
                }
                Ok(Flow::Continue)
            }
            TurnState::Active => {
                self.send(frame.frame.clone()).await?;
                Ok(match frame.kind {
                    EventKind::SessionStatusIdle
                    | EventKind::SessionStatusTerminated
                    | EventKind::SessionDeleted => Flow::End,
                    _ => Flow::Continue,
                })
            }
        }
    }

    async fn send(&self, bytes: Bytes) -> Result<(), Closed> {
        self.tx.send(Ok(bytes)).await.map_err(|_| Closed)
    }
}
