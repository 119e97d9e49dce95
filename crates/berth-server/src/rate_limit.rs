//! Rate limits: requests per tenant (reads and writes counted apart, writes held lower) and the
//! bytes of events sent to a session, each in fixed one-minute windows.
//!
//! One process (SQLite) counts in memory. Replicas (PostgreSQL) share every window through the
//! store, but not request by request: a replica takes a fiftieth of a window's limit at a time
//! and counts it down locally, so most requests cost no database round trip, and at worst the
//! replicas together admit a few chunks more than the limit at the end of a window. A store
//! that cannot be reached lets requests through (logged): the limits protect the service, they
//! must not take it down.
//!
//! Every limited response carries `anthropic-ratelimit-requests-{limit,remaining,reset}`;
//! a refusal is a `429` `rate_limit_error` with `retry-after`, which the official SDKs honour.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_store::Store;

use crate::documents::{from_micros, micros, now};
use crate::error::ApiError;
use crate::state::AppState;

/// The length of a window, in microseconds.
const WINDOW_MICROS: i64 = 60_000_000;
/// Replicas take this fraction of a limit from the shared window at a time.
const CHUNK_DIVISOR: u64 = 50;
/// Windows kept in memory before old ones are dropped.
const MAX_LOCAL_WINDOWS: usize = 50_000;

/// The limits an operator sets; 0 turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `GET` and `HEAD` requests per tenant per minute.
    pub reads_per_minute: u64,
    /// Every other request (creates, updates, sends, deletes) per tenant per minute.
    pub writes_per_minute: u64,
    /// Bytes of events sent to one session per minute.
    pub session_input_bytes_per_minute: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            reads_per_minute: 12_000,
            writes_per_minute: 3_000,
            session_input_bytes_per_minute: 32 << 20,
        }
    }
}

/// What a check decided, and what to tell the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// When the window ends (microseconds since the epoch).
    pub resets_at: i64,
}

impl Verdict {
    /// Seconds until the window ends, at least one.
    pub fn retry_after_secs(&self, now_micros: i64) -> u64 {
        let left = (self.resets_at - now_micros).max(0) as u64;
        left.div_ceil(1_000_000).max(1)
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct LocalWindow {
    start: i64,
    /// Units this process may hand out in the window (the whole limit when alone).
    granted: u64,
    /// Units it has handed out.
    used: u64,
    /// Units every replica had taken from the shared window at this process's last take.
    shared_used: u64,
}

/// The windows of this process.
pub struct RateLimiter {
    /// The shared windows, when replicas share a database.
    shared: Option<Arc<dyn Store>>,
    windows: Mutex<HashMap<String, LocalWindow>>,
}

impl RateLimiter {
    pub fn new(shared: Option<Arc<dyn Store>>) -> Self {
        Self {
            shared,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `units` from `key`'s window (which holds `limit` a minute) at `now` (micros).
    pub async fn check(&self, key: &str, limit: u64, units: u64, now: i64) -> Verdict {
        let start = now - now.rem_euclid(WINDOW_MICROS);
        let alone = self.shared.is_none();
        if let Some(verdict) = self.take_local(key, limit, units, start, alone) {
            return verdict;
        }
        let Some(store) = &self.shared else {
            return self.verdict(key, limit, start, false);
        };
        let want = units.max(limit / CHUNK_DIVISOR).max(1);
        match store.take_rate_units(key, start, want, limit).await {
            Ok(take) => {
                if let Ok(mut windows) = self.windows.lock()
                    && let Some(window) = windows.get_mut(key)
                    && window.start == start
                {
                    window.granted += take.granted;
                    window.shared_used = take.used;
                }
                self.take_local(key, limit, units, start, alone)
                    .unwrap_or_else(|| self.verdict(key, limit, start, false))
            }
            Err(e) => {
                tracing::warn!(key, error = %e, "cannot reach the shared rate limits; letting the request through");
                Verdict {
                    allowed: true,
                    limit,
                    remaining: 0,
                    resets_at: start + WINDOW_MICROS,
                }
            }
        }
    }

    /// Takes from what this process holds; `None` when it holds too little (and may ask the
    /// shared window for more).
    fn take_local(
        &self,
        key: &str,
        limit: u64,
        units: u64,
        start: i64,
        alone: bool,
    ) -> Option<Verdict> {
        let mut windows = self.windows.lock().ok()?;
        if windows.len() >= MAX_LOCAL_WINDOWS {
            windows.retain(|_, w| w.start >= start);
        }
        let window = windows.entry(key.to_owned()).or_default();
        if window.start != start {
            *window = LocalWindow {
                start,
                granted: if alone { limit } else { 0 },
                ..LocalWindow::default()
            };
        }
        if window.used + units > window.granted {
            return None;
        }
        window.used += units;
        Some(verdict_of(window, limit, true, alone))
    }

    fn verdict(&self, key: &str, limit: u64, start: i64, allowed: bool) -> Verdict {
        let alone = self.shared.is_none();
        let window = self
            .windows
            .lock()
            .ok()
            .and_then(|w| w.get(key).copied())
            .filter(|w| w.start == start)
            .unwrap_or(LocalWindow {
                start,
                ..LocalWindow::default()
            });
        verdict_of(&window, limit, allowed, alone)
    }
}

fn verdict_of(window: &LocalWindow, limit: u64, allowed: bool, alone: bool) -> Verdict {
    let unspent = window.granted - window.used.min(window.granted);
    let remaining = if alone {
        limit.saturating_sub(window.used)
    } else {
        limit.saturating_sub(window.shared_used) + unspent
    };
    Verdict {
        allowed,
        limit,
        remaining,
        resets_at: window.start + WINDOW_MICROS,
    }
}

/// Limits every authenticated request of `/v1` per tenant. Requests without a valid key pass
/// on to be refused by authentication.
pub async fn middleware(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let limits = state.config.rate_limits;
    let (class, limit) = if matches!(*request.method(), Method::GET | Method::HEAD) {
        ("read", limits.reads_per_minute)
    } else {
        ("write", limits.writes_per_minute)
    };
    if limit == 0 {
        return next.run(request).await;
    }
    let Some(tenant_id) = tenant_of(&state, request.headers()).await else {
        return next.run(request).await;
    };
    let now = micros(now());
    let verdict = state
        .rate_limiter
        .check(&format!("tenant:{tenant_id}:{class}"), limit, 1, now)
        .await;
    let mut response = if verdict.allowed {
        next.run(request).await
    } else {
        refusal(
            format!(
                "this tenant sent more than {limit} {}s in a minute; retry after the time in retry-after",
                if class == "read" { "read" } else { "write" }
            ),
            &verdict,
            now,
        )
    };
    set_headers(response.headers_mut(), &verdict);
    response
}

/// A `429` for a spent window.
pub fn refusal(message: String, verdict: &Verdict, now: i64) -> Response {
    let mut response = ApiError::rate_limited(message).into_response();
    if let Ok(value) = HeaderValue::from_str(&verdict.retry_after_secs(now).to_string()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
}

fn set_headers(headers: &mut HeaderMap, verdict: &Verdict) {
    let reset = from_micros(verdict.resets_at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for (name, value) in [
        (
            "anthropic-ratelimit-requests-limit",
            verdict.limit.to_string(),
        ),
        (
            "anthropic-ratelimit-requests-remaining",
            verdict.remaining.to_string(),
        ),
        ("anthropic-ratelimit-requests-reset", reset),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

/// The tenant of the request's API key, if it has a valid one.
async fn tenant_of(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let raw = crate::auth::presented_key(headers).ok()?;
    state
        .keys
        .authenticate(&state.store, raw)
        .await
        .ok()
        .map(|caller| caller.tenant_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_window_admits_its_limit_then_refuses_until_the_next() {
        let limiter = RateLimiter::new(None);
        let minute = 10 * WINDOW_MICROS;
        for n in 0..3 {
            let v = limiter.check("k", 3, 1, minute + n).await;
            assert!(v.allowed);
            assert_eq!(v.remaining, 2 - n as u64);
        }
        let refused = limiter.check("k", 3, 1, minute + 5_000_000).await;
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs(minute + 5_000_000), 55);
        assert!(
            limiter.check("other", 3, 1, minute).await.allowed,
            "keys are apart"
        );
        assert!(
            limiter
                .check("k", 3, 1, minute + WINDOW_MICROS)
                .await
                .allowed
        );
        // Units larger than one: a request bigger than what is left is refused whole.
        assert!(limiter.check("bytes", 100, 60, minute).await.allowed);
        assert!(!limiter.check("bytes", 100, 60, minute).await.allowed);
        assert!(limiter.check("bytes", 100, 40, minute).await.allowed);
    }
}
