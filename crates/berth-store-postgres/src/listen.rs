//! Cross-replica announcements through `LISTEN/NOTIFY`.
//!
//! Appends announce `<session>:<seq>` on `berth_events.<schema>` in the appending transaction
//! (delivered on commit, so never for a rolled-back write), and `<session>` on
//! `berth_wake.<schema>` when an input was queued (`!<session>` for an interrupt). Live deltas for subscribers on other replicas
//! go on `berth_live.<schema>` (best effort). Notifications carry no event bodies: replicas
//! re-read the log, which stays the truth. [`listen`] keeps one dedicated connection listening,
//! re-establishes it when it drops and then says so ([`Notice::Reconnected`]), so the receiver
//! can re-read whatever it watches.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

use crate::connect::PostgresOptions;

const EVENTS: &str = "berth_events";
const WAKE: &str = "berth_wake";
const LIVE: &str = "berth_live";
/// Longest NOTIFY payload PostgreSQL accepts is 8000 bytes; live batches stay under this.
pub const MAX_LIVE_PAYLOAD: usize = 7900;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What another replica (or this one) announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The session's log has grown to `seq`.
    Event { session_id: String, seq: i64 },
    /// The session has queued input.
    Wake { session_id: String },
    /// A `user.interrupt` was appended: whichever replica runs the session stops its turn.
    Interrupt { session_id: String },
    /// A batch of live deltas (the payload as sent to [`crate::PostgresStore::notify_live`]).
    Live { payload: String },
    /// The listening connection dropped and is back: notices may have been missed.
    Reconnected,
}

/// The SQL an append runs to announce its last seq.
/// Prefix of a wake payload that is an interrupt.
pub(crate) const INTERRUPT_MARK: char = '!';

pub(crate) const ANNOUNCE_EVENT: &str = "SELECT pg_notify('berth_events.' || current_schema(), $1)";
pub(crate) const ANNOUNCE_WAKE: &str = "SELECT pg_notify('berth_wake.' || current_schema(), $1)";
pub(crate) const ANNOUNCE_LIVE: &str = "SELECT pg_notify('berth_live.' || current_schema(), $1)";

fn parse(channel: &str, payload: &str) -> Option<Notice> {
    let kind = channel.split('.').next()?;
    match kind {
        EVENTS => {
            let (session_id, seq) = payload.rsplit_once(':')?;
            Some(Notice::Event {
                session_id: session_id.to_owned(),
                seq: seq.parse().ok()?,
            })
        }
        WAKE => Some(match payload.strip_prefix(INTERRUPT_MARK) {
            Some(session_id) => Notice::Interrupt {
                session_id: session_id.to_owned(),
            },
            None => Notice::Wake {
                session_id: payload.to_owned(),
            },
        }),
        LIVE => Some(Notice::Live {
            payload: payload.to_owned(),
        }),
        _ => None,
    }
}

/// Listens until `stop` fires, sending every notice to `tx`.
pub fn listen(
    options: PostgresOptions,
    tx: mpsc::UnboundedSender<Notice>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        let mut connected_before = false;
        loop {
            let session = tokio::select! {
                () = stop.cancelled() => return,
                s = listen_once(&options, &tx, connected_before) => s,
            };
            match session {
                Ok(()) => {
                    connected_before = true;
                    backoff = Duration::from_millis(100);
                    tracing::warn!("the PostgreSQL notification connection dropped; reconnecting");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for PostgreSQL notifications; retrying");
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            if tx.is_closed() {
                return;
            }
        }
    })
}

/// One connection's life: connect, LISTEN, forward notices until the connection ends.
async fn listen_once(
    options: &PostgresOptions,
    tx: &mpsc::UnboundedSender<Notice>,
    reconnecting: bool,
) -> Result<(), tokio_postgres::Error> {
    let mut config: tokio_postgres::Config = options.url.parse()?;
    if let Some(schema) = &options.schema {
        config.options(format!("-c search_path={schema}"));
    }
    config.application_name("berth-listener");
    config.connect_timeout(Duration::from_secs(10));
    config.keepalives_idle(Duration::from_secs(30));
    let (client, mut connection) = config.connect(NoTls).await?;
    let (messages_tx, mut messages) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut stream = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = stream.next().await {
            match message {
                Ok(AsyncMessage::Notification(n)) => {
                    if messages_tx
                        .send((n.channel().to_owned(), n.payload().to_owned()))
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "notification connection error");
                    return;
                }
            }
        }
    });
    let schema: String = client
        .query_one("SELECT current_schema()", &[])
        .await?
        .get(0);
    let quote = |name: &str| format!("\"{name}.{}\"", schema.replace('"', ""));
    client
        .batch_execute(&format!(
            "LISTEN {}; LISTEN {}; LISTEN {}",
            quote(EVENTS),
            quote(WAKE),
            quote(LIVE)
        ))
        .await?;
    if reconnecting {
        let _ = tx.send(Notice::Reconnected);
    }
    tracing::debug!(schema, "listening for PostgreSQL notifications");
    while let Some((channel, payload)) = messages.recv().await {
        if let Some(notice) = parse(&channel, &payload)
            && tx.send(notice).is_err()
        {
            break;
        }
    }
    driver.abort();
    drop(client);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse() {
        assert_eq!(
            parse("berth_events.public", "sesn_1:42"),
            Some(Notice::Event {
                session_id: "sesn_1".into(),
                seq: 42
            })
        );
        assert_eq!(
            parse("berth_wake.s1", "sesn_2"),
            Some(Notice::Wake {
                session_id: "sesn_2".into()
            })
        );
        assert_eq!(
            parse("berth_wake.s1", "!sesn_3"),
            Some(Notice::Interrupt {
                session_id: "sesn_3".into()
            })
        );
        assert_eq!(parse("berth_events.x", "garbage"), None);
        assert_eq!(parse("other", "x"), None);
    }
}
