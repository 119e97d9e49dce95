//! The session state machine, written once for both backends. A backend reads the session row
//! and the queue, asks these rules what follows, and writes what they answer; no backend decides
//! on its own which inputs a session admits, what an interrupt cancels, where an event sits in
//! the log and in the model's context, which queued inputs a turn takes, or how a turn's end
//! changes the session.
//!
//! Positions: every event gets the next sequence number. One processed on append enters the
//! model's context at `2 * seq`; queued inputs get their context position when a turn takes
//! them, `2 * last_seq + 1`, so they follow everything logged before the turn began (a message
//! sent mid-turn is seen after that turn) and precede everything the turn writes.

use berth_protocol::event::EventKind;

use crate::sessions::{
    AppendOutcome, NewEvent, SessionStatus, StoredEvent, TurnEffects, UsageTotals,
};

/// What the rules need of a session row before clients append to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionHead {
    pub status: SessionStatus,
    pub archived: bool,
    pub last_seq: i64,
    pub pending_inputs: i64,
}

impl SessionHead {
    /// Why the session refuses client events, if it does: archived and terminated sessions
    /// take none.
    pub fn refusal(&self) -> Option<AppendOutcome> {
        if self.archived {
            Some(AppendOutcome::Archived)
        } else if self.status == SessionStatus::Terminated {
            Some(AppendOutcome::Terminated)
        } else {
            None
        }
    }
}

/// An interrupt cancels every input queued before it (what follows it still runs).
pub fn cancels_queued_inputs(event: &NewEvent) -> bool {
    event.kind.is_interrupt()
}

/// Where one appended event goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub seq: i64,
    /// `None` while a queued input waits for its turn.
    pub processed_at: Option<i64>,
    /// Its position in the model's context; `None` while queued.
    pub ctx_order: Option<i64>,
}

impl Placement {
    /// The event as stored at this place.
    pub fn stored(&self, session_id: &str, event: &NewEvent, now: i64) -> StoredEvent {
        StoredEvent {
            session_id: session_id.to_owned(),
            seq: self.seq,
            id: event.id.clone(),
            kind: event.kind.clone(),
            body: event.body.clone(),
            private: event.private.clone(),
            created_at: now,
            processed_at: self.processed_at,
            cancelled_at: None,
            ctx_order: self.ctx_order,
        }
    }
}

/// The end of a session's log as events are appended to it: the last sequence number and the
/// count of queued inputs, which the backend writes back to the session row when it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogTail {
    pub last_seq: i64,
    pub pending_inputs: i64,
}

impl LogTail {
    pub fn new(last_seq: i64, pending_inputs: i64) -> Self {
        Self {
            last_seq,
            pending_inputs,
        }
    }

    /// Places the next event: queued inputs wait, everything else is processed now.
    pub fn place(&mut self, event: &NewEvent, now: i64) -> Placement {
        self.last_seq += 1;
        if event.queued {
            self.pending_inputs += 1;
            Placement {
                seq: self.last_seq,
                processed_at: None,
                ctx_order: None,
            }
        } else {
            Placement {
                seq: self.last_seq,
                processed_at: Some(now),
                ctx_order: Some(2 * self.last_seq),
            }
        }
    }

    /// The backend cancelled `rows` queued inputs (see [`cancels_queued_inputs`]).
    pub fn cancelled(&mut self, rows: u64) {
        self.pending_inputs -= i64::try_from(rows).unwrap_or(i64::MAX);
    }

    /// A turn took `inputs` queued inputs.
    pub fn taken(&mut self, inputs: usize) {
        self.pending_inputs -= i64::try_from(inputs).unwrap_or(i64::MAX);
    }
}

/// How many of the oldest queued inputs a backend reads for [`turn_inputs`] to choose from.
pub const TURN_INPUT_CANDIDATES: u32 = 64;

/// Which queued inputs (oldest first, as `(seq, kind)`) the next turn takes: the oldest, and if
/// it answers a tool call, every answer queued right behind it, so one turn resumes with all of
/// them. Empty when nothing is queued.
pub fn turn_inputs(queued: &[(i64, EventKind)]) -> Vec<i64> {
    let Some((first_seq, first_kind)) = queued.first() else {
        return Vec::new();
    };
    let mut seqs = vec![*first_seq];
    if first_kind.answers_tool_call() {
        seqs.extend(
            queued
                .iter()
                .skip(1)
                .take_while(|(_, kind)| kind.answers_tool_call())
                .map(|(seq, _)| *seq),
        );
    }
    seqs
}

/// The context position of the inputs a turn takes, when the log ends at `last_seq`.
pub fn taken_inputs_ctx_order(last_seq: i64) -> i64 {
    2 * last_seq + 1
}

/// What a turn's start does to the session row: it runs, and its running time counts from the
/// first turn start that is not yet folded into the active time.
pub fn turn_started_at(current: Option<i64>, now: i64) -> i64 {
    current.unwrap_or(now)
}

/// What a runner's append does to the session row's live columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnUpdate {
    pub status: SessionStatus,
    pub usage: UsageTotals,
    /// Running time to add to `active_micros`.
    pub active_micros_added: i64,
    pub turn_started_at: Option<i64>,
}

/// The session row after a runner appends with `effects`: a new status if one is given, usage
/// added, and at a turn's end its running time folded into the active time.
pub fn turn_update(
    status: SessionStatus,
    turn_started_at: Option<i64>,
    effects: &TurnEffects,
    now: i64,
) -> TurnUpdate {
    let (active_micros_added, turn_started_at) = if effects.end_turn {
        (turn_started_at.map_or(0, |t| (now - t).max(0)), None)
    } else {
        (0, turn_started_at)
    };
    TurnUpdate {
        // A terminated session (archived while a turn ran) stays terminated.
        status: if status == SessionStatus::Terminated {
            status
        } else {
            effects.status.unwrap_or(status)
        },
        usage: effects.usage.unwrap_or_default(),
        active_micros_added,
        turn_started_at,
    }
}

/// A session needs a runner when inputs are queued or a turn was left running (its runner
/// stopped); the backends' `runnable_sessions` query selects exactly these rows.
pub fn needs_runner(status: SessionStatus, pending_inputs: i64) -> bool {
    pending_inputs > 0 || status.is_busy()
}

/// The statuses [`needs_runner`] counts as busy, for a backend's query.
pub fn busy_statuses() -> impl Iterator<Item = &'static str> {
    SessionStatus::ALL
        .into_iter()
        .filter(|status| status.is_busy())
        .map(|status| status.as_str())
}

/// The event types Berth writes that are not part of the contract's union, for a backend's
/// query that leaves them out.
pub fn extension_types() -> Vec<String> {
    [EventKind::SessionWarning]
        .iter()
        .filter(|kind| !kind.is_contract_type())
        .map(|kind| kind.as_str().to_owned())
        .collect()
}

/// The event types a model's context is built from, for a backend's query.
pub fn model_context_types() -> impl Iterator<Item = &'static str> {
    EventKind::MODEL_CONTEXT.iter().map(EventKind::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_event(kind: EventKind) -> NewEvent {
        NewEvent {
            id: "sevt_1".into(),
            queued: kind.is_queued_input(),
            kind,
            body: "{}".into(),
            private: None,
        }
    }

    #[test]
    fn archived_and_terminated_sessions_refuse_input() {
        let head = SessionHead {
            status: SessionStatus::Idle,
            archived: false,
            last_seq: 3,
            pending_inputs: 0,
        };
        assert_eq!(head.refusal(), None);
        let archived = SessionHead {
            archived: true,
            ..head
        };
        assert_eq!(archived.refusal(), Some(AppendOutcome::Archived));
        let terminated = SessionHead {
            status: SessionStatus::Terminated,
            ..head
        };
        assert_eq!(terminated.refusal(), Some(AppendOutcome::Terminated));
    }

    #[test]
    fn queued_inputs_wait_and_the_rest_enter_the_context_at_once() {
        let mut tail = LogTail::new(4, 1);
        let message = tail.place(&new_event(EventKind::UserMessage), 100);
        assert_eq!(
            message,
            Placement {
                seq: 5,
                processed_at: None,
                ctx_order: None
            }
        );
        let status = tail.place(&new_event(EventKind::SessionStatusRunning), 100);
        assert_eq!(
            status,
            Placement {
                seq: 6,
                processed_at: Some(100),
                ctx_order: Some(12)
            }
        );
        assert_eq!(tail, LogTail::new(6, 2));
        tail.cancelled(2);
        tail.taken(0);
        assert_eq!(tail.pending_inputs, 0);
        assert!(cancels_queued_inputs(&new_event(EventKind::UserInterrupt)));
        assert!(!cancels_queued_inputs(&new_event(EventKind::UserMessage)));
    }

    #[test]
    fn a_turn_takes_one_message_or_a_run_of_tool_answers() {
        assert!(turn_inputs(&[]).is_empty());
        let queue = [(3, EventKind::UserMessage), (4, EventKind::UserToolResult)];
        assert_eq!(turn_inputs(&queue), vec![3]);
        let answers = [
            (5, EventKind::UserToolConfirmation),
            (6, EventKind::UserCustomToolResult),
            (7, EventKind::UserMessage),
            (8, EventKind::UserToolResult),
        ];
        assert_eq!(turn_inputs(&answers), vec![5, 6]);
        assert_eq!(taken_inputs_ctx_order(9), 19);
    }

    #[test]
    fn a_turns_end_folds_its_running_time() {
        let effects = TurnEffects {
            status: Some(SessionStatus::Idle),
            end_turn: true,
            ..TurnEffects::default()
        };
        let update = turn_update(SessionStatus::Running, Some(40), &effects, 100);
        assert_eq!(update.status, SessionStatus::Idle);
        assert_eq!(update.active_micros_added, 60);
        assert_eq!(update.turn_started_at, None);
        let midway = turn_update(
            SessionStatus::Running,
            Some(40),
            &TurnEffects::default(),
            100,
        );
        assert_eq!(midway.status, SessionStatus::Running);
        assert_eq!(midway.active_micros_added, 0);
        assert_eq!(midway.turn_started_at, Some(40));
        let after_archive = turn_update(SessionStatus::Terminated, Some(40), &effects, 100);
        assert_eq!(after_archive.status, SessionStatus::Terminated);
        assert_eq!(turn_started_at(Some(40), 100), 40);
        assert_eq!(turn_started_at(None, 100), 100);
    }

    #[test]
    fn busy_sessions_and_queued_inputs_need_a_runner() {
        assert!(needs_runner(SessionStatus::Idle, 1));
        assert!(needs_runner(SessionStatus::Running, 0));
        assert!(!needs_runner(SessionStatus::Idle, 0));
        assert_eq!(
            busy_statuses().collect::<Vec<_>>(),
            vec!["running", "rescheduling"]
        );
        assert!(model_context_types().any(|t| t == "agent.thinking"));
    }
}
