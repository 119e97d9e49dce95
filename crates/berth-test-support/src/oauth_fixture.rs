//! A fixture OAuth token endpoint on loopback: answers `grant_type=refresh_token` requests that
//! carry the expected refresh token with a new access token, and records what it was sent.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// A request's form fields and its `Authorization` header.
type SeenRequest = (Vec<(String, String)>, Option<String>);

#[derive(Default)]
struct EndpointState {
    refresh_token: Mutex<String>,
    next_access_token: Mutex<String>,
    /// Each request's form fields and `Authorization` header.
    seen: Mutex<Vec<SeenRequest>>,
}

/// A running token endpoint; dropped, it stops.
pub struct TokenEndpoint {
    /// `http://127.0.0.1:<port>/token`.
    pub url: String,
    state: Arc<EndpointState>,
    shutdown: CancellationToken,
}

impl TokenEndpoint {
    /// Trades `refresh_token` for `access_token` (with `expires_in: 3600`); anything else gets
    /// `400 invalid_grant`.
    pub async fn start(refresh_token: &str, access_token: &str) -> Self {
        let state = Arc::new(EndpointState::default());
        *state.refresh_token.lock().expect("lock") = refresh_token.to_owned();
        *state.next_access_token.lock().expect("lock") = access_token.to_owned();
        let app = Router::new()
            .route("/token", post(token))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind token endpoint");
        let url = format!("http://{}/token", listener.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            // Small SSE frames must not wait for delayed ACKs.
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        Self {
            url,
            state,
            shutdown,
        }
    }

    /// How many refresh requests arrived.
    pub fn request_count(&self) -> usize {
        self.state.seen.lock().expect("lock").len()
    }

    /// The form fields of every request.
    pub fn forms(&self) -> Vec<Vec<(String, String)>> {
        self.state
            .seen
            .lock()
            .expect("lock")
            .iter()
            .map(|(form, _)| form.clone())
            .collect()
    }
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn token(
    State(state): State<Arc<EndpointState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    state
        .seen
        .lock()
        .expect("lock")
        .push((form.clone(), authorization));
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let expected = state.refresh_token.lock().expect("lock").clone();
    if field("grant_type") != Some("refresh_token") || field("refresh_token") != Some(&expected) {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    let access = state.next_access_token.lock().expect("lock").clone();
    axum::Json(json!({"access_token": access, "token_type": "Bearer", "expires_in": 3600}))
        .into_response()
}
