//! The bodies the proxy answers with and forwards: one boxed type for a refusal's text, a body
//! passed on as it streams, and a body rewritten as it streams.

use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Frame, Incoming};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Every body the proxy sends, either way.
pub(crate) type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

pub(crate) fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A body of `frames`.
pub(crate) fn streamed<S>(frames: S) -> ProxyBody
where
    S: Stream<Item = Result<Frame<Bytes>, BoxError>> + Send + 'static,
{
    StreamBody::new(frames).boxed_unsync()
}

/// Nothing arrived on a body for too long.
#[derive(Debug, thiserror::Error)]
#[error("nothing arrived for {} s", .0.as_secs())]
pub(crate) struct Stalled(pub Duration);

/// The frames of `incoming`, failing when none comes for `idle`.
pub(crate) fn frames(
    incoming: Incoming,
    idle: Duration,
) -> impl Stream<Item = Result<Frame<Bytes>, BoxError>> + Send + 'static {
    futures::stream::unfold(Some(incoming), move |state| async move {
        let mut incoming = state?;
        match tokio::time::timeout(idle, incoming.frame()).await {
            Err(_) => Some((Err(BoxError::from(Stalled(idle))), None)),
            Ok(None) => None,
            Ok(Some(Err(e))) => Some((Err(BoxError::from(e)), None)),
            Ok(Some(Ok(frame))) => Some((Ok(frame), Some(incoming))),
        }
    })
}

/// `incoming` passed on as it comes, failing when nothing comes for `idle`.
pub(crate) fn relayed(incoming: Incoming, idle: Duration) -> ProxyBody {
    streamed(frames(incoming, idle))
}
