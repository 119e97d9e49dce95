//! An event's `type` as a value: every type Berth writes or the contract names, and any other
//! text kept as it came. The session rules (what queues, what an interrupt cancels, what a turn
//! takes, what the model sees) ask an [`EventKind`], never compare strings.

macro_rules! event_kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// The `type` of an event.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($(#[$doc])* $variant,)*
            /// A type this server does not model (a future or foreign event).
            Other(String),
        }

        impl EventKind {
            /// The wire name (`"user.message"`).
            pub fn as_str(&self) -> &str {
                match self {
                    $(EventKind::$variant => $name,)*
                    EventKind::Other(name) => name,
                }
            }

            /// The kind a wire name denotes; unknown names are kept as [`EventKind::Other`].
            pub fn parse(name: &str) -> EventKind {
                match name {
                    $($name => EventKind::$variant,)*
                    other => EventKind::Other(other.to_owned()),
                }
            }
        }
    };
}

event_kinds! {
    UserMessage => "user.message",
    UserInterrupt => "user.interrupt",
    UserToolConfirmation => "user.tool_confirmation",
    UserCustomToolResult => "user.custom_tool_result",
    UserToolResult => "user.tool_result",
    UserDefineOutcome => "user.define_outcome",
    SystemMessage => "system.message",
    AgentMessage => "agent.message",
    AgentThinking => "agent.thinking",
    AgentToolUse => "agent.tool_use",
    AgentToolResult => "agent.tool_result",
    AgentCustomToolUse => "agent.custom_tool_use",
    AgentMcpToolUse => "agent.mcp_tool_use",
    AgentMcpToolResult => "agent.mcp_tool_result",
    AgentThreadMessageSent => "agent.thread_message_sent",
    AgentThreadMessageReceived => "agent.thread_message_received",
    AgentThreadContextCompacted => "agent.thread_context_compacted",
    SessionStatusRunning => "session.status_running",
    SessionStatusIdle => "session.status_idle",
    SessionStatusRescheduled => "session.status_rescheduled",
    SessionStatusTerminated => "session.status_terminated",
    SessionError => "session.error",
    SessionUpdated => "session.updated",
    SessionUsage => "session.usage",
    SessionDeleted => "session.deleted",
    /// Extension: not part of the contract's union.
    SessionWarning => "session.warning",
    SessionThreadCreated => "session.thread_created",
    SessionThreadStatusRunning => "session.thread_status_running",
    SessionThreadStatusIdle => "session.thread_status_idle",
    SessionThreadStatusRescheduled => "session.thread_status_rescheduled",
    SessionThreadStatusTerminated => "session.thread_status_terminated",
    SpanModelRequestStart => "span.model_request_start",
    SpanModelRequestEnd => "span.model_request_end",
    SpanOutcomeEvaluationStart => "span.outcome_evaluation_start",
    SpanOutcomeEvaluationOngoing => "span.outcome_evaluation_ongoing",
    SpanOutcomeEvaluationEnd => "span.outcome_evaluation_end",
    WorkflowRunCreated => "workflow_run.created",
    WorkflowRunStatusRunning => "workflow_run.status_running",
    WorkflowRunStatusIdle => "workflow_run.status_idle",
    WorkflowRunPhaseStarted => "workflow_run.phase_started",
    WorkflowRunPhaseEnded => "workflow_run.phase_ended",
    WorkflowRunStatusEnded => "workflow_run.status_ended",
    WorkflowRunError => "workflow_run.error",
}

impl EventKind {
    /// The types a model's context is built from; everything else (statuses, spans, errors) is
    /// for watchers only.
    pub const MODEL_CONTEXT: &'static [EventKind] = &[
        EventKind::UserMessage,
        EventKind::SystemMessage,
        EventKind::UserCustomToolResult,
        EventKind::UserToolResult,
        EventKind::UserToolConfirmation,
        EventKind::AgentMessage,
        EventKind::AgentThinking,
        EventKind::AgentToolUse,
        EventKind::AgentToolResult,
        EventKind::AgentCustomToolUse,
        EventKind::AgentMcpToolUse,
        EventKind::AgentMcpToolResult,
        EventKind::AgentThreadContextCompacted,
    ];

    /// Inputs wait in the session's queue until a turn takes them; everything else is processed
    /// as it is appended.
    pub fn is_queued_input(&self) -> bool {
        matches!(self, EventKind::UserMessage) || self.answers_tool_call()
    }

    /// An answer to a pending tool call: several queued in a row resume one turn together.
    pub fn answers_tool_call(&self) -> bool {
        matches!(
            self,
            EventKind::UserToolConfirmation
                | EventKind::UserCustomToolResult
                | EventKind::UserToolResult
        )
    }

    /// An interrupt cancels the inputs queued before it and stops the running turn.
    pub fn is_interrupt(&self) -> bool {
        matches!(self, EventKind::UserInterrupt)
    }

    pub fn enters_model_context(&self) -> bool {
        EventKind::MODEL_CONTEXT.contains(self)
    }

    /// Part of the contract's event union (what the default stream and list carry).
    pub fn is_contract_type(&self) -> bool {
        !matches!(self, EventKind::SessionWarning | EventKind::Other(_))
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for EventKind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for EventKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in crate::event::CONTRACT_EVENT_TYPES {
            let kind = EventKind::parse(name);
            assert!(
                !matches!(kind, EventKind::Other(_)),
                "{name} is not modelled"
            );
            assert_eq!(kind.as_str(), *name);
            assert!(kind.is_contract_type());
        }
        let foreign = EventKind::parse("vendor.thing");
        assert_eq!(foreign, EventKind::Other("vendor.thing".into()));
        assert_eq!(foreign.as_str(), "vendor.thing");
        assert!(!foreign.is_contract_type());
        assert!(!EventKind::SessionWarning.is_contract_type());
    }

    #[test]
    fn rules_of_the_queue() {
        assert!(EventKind::UserMessage.is_queued_input());
        assert!(EventKind::UserToolResult.is_queued_input());
        assert!(!EventKind::UserInterrupt.is_queued_input());
        assert!(!EventKind::SystemMessage.is_queued_input());
        assert!(EventKind::UserCustomToolResult.answers_tool_call());
        assert!(!EventKind::UserMessage.answers_tool_call());
        assert!(EventKind::AgentThinking.enters_model_context());
        assert!(!EventKind::SessionStatusIdle.enters_model_context());
    }
}
