//! Retrying failed model requests: 429, 5xx, 529, timeouts and dropped connections are tried
//! again after a backoff that honours the provider's `retry-after`. While it waits the session is
//! `rescheduling`; the events say why and for how long.

use std::time::Duration;

use berth_llm::ModelError;
use berth_protocol::event::{Event, EventBody, RetryStatus, SessionErrorObject};
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::session::SessionStatus;
use rand::Rng;
use tokio_util::sync::CancellationToken;

use crate::{Emitted, HostError, TurnEnd, TurnHost};

/// The longest `retry-after` honoured; a provider asking for more is retried after this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// How failed model requests are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first failure of a request; 0 disables retrying.
    pub max_retries: u32,
    /// Delay before the first retry; each further retry doubles it.
    pub base_delay: Duration,
    /// Cap on the doubled delay (not on `retry-after`, which is capped at two minutes).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1-based): the provider's `retry-after` when it
    /// sent one, else exponential backoff with ±20% jitter.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(after) = retry_after {
            return after.min(MAX_RETRY_AFTER);
        }
        let doubled = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        let jitter = rand::thread_rng().gen_range(0.8..1.2);
        doubled.mul_f64(jitter)
    }
}

/// Counts consecutive failures within a turn; a successful request resets it.
pub(crate) struct Retrier<'a> {
    policy: &'a RetryPolicy,
    failures: u32,
}

fn server_event(body: EventBody) -> Emitted {
    Emitted::public(Event {
        id: new_id(prefix::EVENT),
        body,
    })
}

fn error_event(error: &ModelError, retry_status: RetryStatus) -> Emitted {
    server_event(EventBody::SessionError {
        error: SessionErrorObject {
            kind: error.session_error_type().to_owned(),
            message: error.message.clone(),
            retry_status,
            mcp_server_name: None,
        },
    })
}

/// The `session.error` that ends a turn whose retries ran out.
pub fn exhausted_error(error: &ModelError) -> Emitted {
    error_event(error, RetryStatus::Exhausted)
}

impl<'a> Retrier<'a> {
    pub(crate) fn new(policy: &'a RetryPolicy) -> Self {
        Self {
            policy,
            failures: 0,
        }
    }

    pub(crate) fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// Handles a failed request: waits and returns `Ok(())` to try again, or the turn's end.
    pub(crate) async fn failed(
        &mut self,
        host: &dyn TurnHost,
        error: ModelError,
        cancel: &CancellationToken,
    ) -> Result<(), TurnEnd> {
        if !error.is_retryable() {
            return Err(TurnEnd::ModelFailed(error));
        }
        if self.failures >= self.policy.max_retries {
            return Err(TurnEnd::RetriesExhausted(error));
        }
        self.failures += 1;
        let delay = self.policy.delay(self.failures, error.retry_after);
        tracing::info!(attempt = self.failures, delay_ms = delay.as_millis() as u64, error = %error, "retrying the model request");
        let waiting = vec![
            error_event(&error, RetryStatus::Retrying),
            server_event(EventBody::SessionStatusRescheduled {}),
        ];
        host.transition(waiting, SessionStatus::Rescheduling)
            .await
            .map_err(TurnEnd::Host)?;
        tokio::select! {
            () = cancel.cancelled() => return Err(TurnEnd::Interrupted),
            () = tokio::time::sleep(delay) => {}
        }
        host.transition(
            vec![server_event(EventBody::SessionStatusRunning {})],
            SessionStatus::Running,
        )
        .await
        .map_err(|e: HostError| TurnEnd::Host(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_wins_and_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay(3, Some(Duration::from_millis(1500))),
            Duration::from_millis(1500)
        );
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(3600))),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let policy = RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        for (attempt, nominal) in [
            (1, 100u64),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (9, 1000),
        ] {
            let d = policy.delay(attempt, None).as_millis() as u64;
            assert!(
                d >= nominal * 8 / 10 && d <= nominal * 12 / 10,
                "attempt {attempt}: {d} ms"
            );
        }
    }
}
