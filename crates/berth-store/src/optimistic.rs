//! Optimistic writes: read a row, decide its next state, write it only if its version is
//! unchanged, and start over when another writer got in between — a few times, then give up
//! so the caller can answer "retry" instead of spinning.

/// How many times an optimistic write is tried before it gives up.
pub const OPTIMISTIC_ATTEMPTS: usize = 3;

/// What one attempt of an optimistic write came to.
#[derive(Debug)]
pub enum Attempt<T> {
    /// The attempt finished (it wrote, or found nothing to write) with this answer.
    Done(T),
    /// Another writer changed the row between the read and the write; read it again.
    Lost,
}

impl<T> Attempt<T> {
    /// `Done` with `answer()` when the conditional write went through, `Lost` when it did not.
    pub fn won_if(written: bool, answer: impl FnOnce() -> T) -> Self {
        if written {
            Attempt::Done(answer())
        } else {
            Attempt::Lost
        }
    }
}

/// Runs `attempt` until it finishes or has lost [`OPTIMISTIC_ATTEMPTS`] races in a row;
/// `Ok(None)` means it never won. Errors end the loop at once.
///
/// Each attempt is a fresh future that borrows nothing from `attempt` itself (write it as
/// `|| async move { … }` over references), so a handler that awaits this stays `Send`.
pub async fn optimistically<T, E, F>(mut attempt: impl FnMut() -> F) -> Result<Option<T>, E>
where
    F: Future<Output = Result<Attempt<T>, E>>,
{
    for _ in 0..OPTIMISTIC_ATTEMPTS {
        if let Attempt::Done(answer) = attempt().await? {
            return Ok(Some(answer));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn retries_lost_races_and_then_gives_up() {
        let mut tries = 0;
        let won: Result<Option<u32>, ()> = optimistically(|| {
            tries += 1;
            let this_try = tries;
            async move {
                Ok(if this_try == 2 {
                    Attempt::Done(7)
                } else {
                    Attempt::Lost
                })
            }
        })
        .await;
        assert_eq!(won, Ok(Some(7)));
        assert_eq!(tries, 2);

        let mut tries = 0;
        let never: Result<Option<u32>, ()> = optimistically(|| {
            tries += 1;
            async { Ok(Attempt::Lost) }
        })
        .await;
        assert_eq!(never, Ok(None));
        assert_eq!(tries, OPTIMISTIC_ATTEMPTS);
    }

    #[tokio::test]
    async fn an_error_ends_the_loop() {
        let mut tries = 0;
        let failed: Result<Option<u32>, &str> = optimistically(|| {
            tries += 1;
            async { Err("broken") }
        })
        .await;
        assert_eq!(failed, Err("broken"));
        assert_eq!(tries, 1);
    }
}
