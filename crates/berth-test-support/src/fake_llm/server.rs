//! The fake's HTTP side: routes, key and model checks, scripted completions and streaming.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use super::openai::masked_key;
use super::{
    FakeState, FrameObserver, ModelReply, RecordedRequest, Wire, anthropic, openai, script,
};

pub(super) fn router(state: Arc<FakeState>) -> Router {
    let anthropic = post(|s, h, b| complete(Wire::Anthropic, s, h, b));
    let openai = post(|s, h, b| complete(Wire::OpenAi, s, h, b));
    Router::new()
        .route("/v1/messages", anthropic)
        .route("/v1/chat/completions", openai)
        .route("/__fake/replies", post(push_replies))
        .route("/__fake/requests", axum::routing::get(list_requests))
        .with_state(state)
}

/// `POST /__fake/replies` with a JSON array of replies queues them, so tests written in other
/// languages (the SDK suites) can script the fake too; see `script::reply_from_json` for the
/// shapes.
async fn push_replies(State(state): State<Arc<FakeState>>, body: Bytes) -> Response {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "expected a JSON array of replies").into_response();
    };
    let mut parsed = Vec::with_capacity(items.len());
    for item in &items {
        match script::reply_from_json(item) {
            Some(reply) => parsed.push(reply),
            None => {
                return (StatusCode::BAD_REQUEST, format!("not a reply: {item}")).into_response();
            }
        }
    }
    if let Ok(mut script) = state.script.lock() {
        script.extend(parsed);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn list_requests(State(state): State<Arc<FakeState>>) -> Response {
    let bodies: Vec<Value> = state
        .requests
        .lock()
        .map(|r| r.iter().map(|r| r.body.clone()).collect())
        .unwrap_or_default();
    axum::Json(bodies).into_response()
}

pub(super) fn presented_key(headers: &HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("x-api-key").map(str::to_owned).or_else(|| {
        header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned)
    })
}

fn error_response(
    wire: Wire,
    status: u16,
    error_type: &str,
    message: &str,
    code: Option<&str>,
    retry_after: Option<u64>,
) -> Response {
    let body = match wire {
        Wire::Anthropic => anthropic::error_body(error_type, message),
        Wire::OpenAi => openai::error_body(error_type, message, code),
    };
    let mut response = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response();
    if let Some(secs) = retry_after
        && let Ok(v) = secs.to_string().parse()
    {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

/// The provider's answer to a key it does not accept, or `None` if the key is fine.
fn check_key(state: &FakeState, wire: Wire, headers: &HeaderMap) -> Option<Response> {
    let key = presented_key(headers);
    let allowed = state.keys.lock().ok().and_then(|k| k.clone());
    let accepted = match (&key, &allowed) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(key), Some(allowed)) => allowed.contains(key),
    };
    if accepted {
        return None;
    }
    Some(match wire {
        Wire::Anthropic => error_response(
            wire,
            401,
            "authentication_error",
            "invalid x-api-key",
            None,
            None,
        ),
        Wire::OpenAi => {
            let message = match &key {
                Some(key) => format!(
                    "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
                    masked_key(key)
                ),
                None => "You didn't provide an API key.".to_owned(),
            };
            error_response(
                wire,
                401,
                "invalid_request_error",
                &message,
                Some("invalid_api_key"),
                None,
            )
        }
    })
}

fn check_model(state: &FakeState, wire: Wire, model: &str) -> Option<Response> {
    let known = state.models.lock().ok().and_then(|m| m.clone())?;
    if known.iter().any(|m| m == model) {
        return None;
    }
    Some(match wire {
        Wire::Anthropic => error_response(
            wire,
            404,
            "not_found_error",
            &format!("model: {model}"),
            None,
            None,
        ),
        Wire::OpenAi => error_response(
            wire,
            404,
            "invalid_request_error",
            &format!("The model `{model}` does not exist or you do not have access to it."),
            Some("model_not_found"),
            None,
        ),
    })
}

async fn complete(
    wire: Wire,
    State(state): State<Arc<FakeState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrived = std::time::Instant::now();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let streaming = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("fake")
        .to_owned();
    let recorded = RecordedRequest {
        wire,
        headers: headers.clone(),
        body,
    };
    let echo = format!("echo: {}", recorded.last_user_text());
    let ruled = state
        .rule
        .lock()
        .ok()
        .and_then(|r| r.clone())
        .map(|rule| rule(&recorded));
    if let Ok(mut requests) = state.requests.lock() {
        requests.push(recorded);
    }
    state.arrived.notify_waiters();
    if let Some(refusal) =
        check_key(&state, wire, &headers).or_else(|| check_model(&state, wire, &model))
    {
        return refusal;
    }
    let queue = if streaming {
        &state.script
    } else {
        &state.probe_script
    };
    let reply = queue
        .lock()
        .ok()
        .and_then(|mut s| s.pop_front())
        .or(if streaming { ruled } else { None })
        .unwrap_or_else(|| ModelReply::text(if streaming { echo } else { "pong".to_owned() }));
    match reply {
        ModelReply::Error {
            status,
            error_type,
            message,
            retry_after_secs,
        } => error_response(wire, status, &error_type, &message, None, retry_after_secs),
        ModelReply::StreamError {
            error_type,
            message,
        } => {
            let frames = match wire {
                Wire::Anthropic => anthropic::stream_error_frames(&model, &error_type, &message),
                Wire::OpenAi => openai::stream_error_frames(&model, &error_type, &message),
            };
            sse_response(frames_stream(frames, Duration::ZERO, None, None))
        }
        ModelReply::Message(message) if streaming => {
            let frames = match wire {
                Wire::Anthropic => anthropic::message_frames(&model, &message),
                Wire::OpenAi => openai::message_frames(&model, &message, include_usage),
            };
            let observer = state.observer.lock().ok().and_then(|o| o.clone());
            sse_response(frames_stream(
                frames,
                message.frame_delay,
                Some((Arc::clone(&state), arrived)),
                observer,
            ))
        }
        ModelReply::Message(message) => {
            let whole = match wire {
                Wire::Anthropic => anthropic::whole_message(&model, &message),
                Wire::OpenAi => openai::whole_completion(&model, &message),
            };
            (StatusCode::OK, axum::Json(whole)).into_response()
        }
    }
}

type Timing = Option<(Arc<FakeState>, std::time::Instant)>;

/// Sends frames with `delay` between them; a `None` frame holds the stream open until the
/// client goes away.
fn frames_stream(
    frames: Vec<Option<Bytes>>,
    delay: Duration,
    timing: Timing,
    observer: Option<FrameObserver>,
) -> mpsc::Receiver<Result<Bytes, Infallible>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        for f in frames {
            let Some(f) = f else {
                tx.closed().await;
                return;
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if let Some(observe) = &observer {
                observe(&f);
            }
            if tx.send(Ok(f)).await.is_err() {
                return;
            }
        }
        if let Some((state, arrived)) = timing
            && let Ok(mut served) = state.served.lock()
        {
            served.push(arrived.elapsed());
        }
    });
    rx
}

fn sse_response(rx: mpsc::Receiver<Result<Bytes, Infallible>>) -> Response {
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx));
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
