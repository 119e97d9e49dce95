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
//! How limits reach clients is the HTTP side's ([`crate::throttle`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::HeaderValue;
use berth_protocol::time::from_micros;
use berth_store::Store;

/// The length of a window, in microseconds.
const WINDOW_MICROS: i64 = 60_000_000;
/// Replicas take this fraction of a limit from the shared window at a time.
const CHUNK_DIVISOR: u64 = 50;
/// Windows kept in memory before old ones are dropped.
const MAX_LOCAL_WINDOWS: usize = 50_000;

/// What a window counts; each kind has windows of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A tenant's `GET` and `HEAD` requests.
    Reads,
    /// A tenant's other requests.
    Writes,
    /// Bytes of events sent to a session.
    SessionInput,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Reads, Kind::Writes, Kind::SessionInput];

    fn index(self) -> usize {
        self as usize
    }

    /// The name of the shared window in the store.
    fn shared_key(self, scope: &str) -> String {
        match self {
            Kind::Reads => format!("tenant:{scope}:read"),
            Kind::Writes => format!("tenant:{scope}:write"),
            Kind::SessionInput => format!("session:{scope}:input_bytes"),
        }
    }
}

/// What a check decided, and what to tell the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// When the window ends (microseconds since the epoch).
    pub resets_at: i64,
    /// The same, as the `…-reset` header shows it (made once per window).
    pub reset_header: HeaderValue,
}

impl Verdict {
    /// Seconds until the window ends, at least one.
    pub fn retry_after_secs(&self, now_micros: i64) -> u64 {
        let left = (self.resets_at - now_micros).max(0) as u64;
        left.div_ceil(1_000_000).max(1)
    }
}

#[derive(Debug, Clone)]
struct LocalWindow {
    start: i64,
    /// Units this process may hand out in the window (the whole limit when alone).
    granted: u64,
    /// Units it has handed out.
    used: u64,
    /// Units every replica had taken from the shared window at this process's last take.
    shared_used: u64,
    reset_header: HeaderValue,
}

impl LocalWindow {
    fn new(start: i64, granted: u64) -> Self {
        let reset =
            from_micros(start + WINDOW_MICROS).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Self {
            start,
            granted,
            used: 0,
            shared_used: 0,
            reset_header: HeaderValue::from_str(&reset)
                .unwrap_or_else(|_| HeaderValue::from_static("")),
        }
    }
}

/// The windows of this process: one map per kind, keyed by tenant or session id (looked up
/// without allocating).
pub struct RateLimiter {
    /// The shared windows, when replicas share a database.
    shared: Option<Arc<dyn Store>>,
    windows: [Mutex<HashMap<String, LocalWindow>>; 3],
}

impl RateLimiter {
    pub fn new(shared: Option<Arc<dyn Store>>) -> Self {
        Self {
            shared,
            windows: Kind::ALL.map(|_| Mutex::new(HashMap::new())),
        }
    }

    /// Takes `units` from the `kind` window of `scope` (a tenant or session id), which holds
    /// `limit` a minute, at `now` (micros).
    pub async fn check(
        &self,
        kind: Kind,
        scope: &str,
        limit: u64,
        units: u64,
        now: i64,
    ) -> Verdict {
        let start = now - now.rem_euclid(WINDOW_MICROS);
        match self.take_local(kind, scope, limit, units, start) {
            Ok(verdict) => verdict,
            Err(refused) => {
                let Some(store) = &self.shared else {
                    return refused;
                };
                let want = units.max(limit / CHUNK_DIVISOR).max(1);
                match store
                    .take_rate_units(&kind.shared_key(scope), start, want, limit)
                    .await
                {
                    Ok(take) => {
                        if let Ok(mut windows) = self.windows[kind.index()].lock()
                            && let Some(window) = windows.get_mut(scope)
                            && window.start == start
                        {
                            window.granted += take.granted;
                            window.shared_used = take.used;
                        }
                        self.take_local(kind, scope, limit, units, start)
                            .unwrap_or_else(|refused| refused)
                    }
                    Err(e) => {
                        tracing::warn!(scope, error = %e, "cannot reach the shared rate limits; letting the request through");
                        Verdict {
                            allowed: true,
                            ..refused
                        }
                    }
                }
            }
        }
    }

    /// Takes from what this process holds; `Err` with the refusal when it holds too little
    /// (and may ask the shared window for more).
    fn take_local(
        &self,
        kind: Kind,
        scope: &str,
        limit: u64,
        units: u64,
        start: i64,
    ) -> Result<Verdict, Verdict> {
        let alone = self.shared.is_none();
        let fresh = || LocalWindow::new(start, if alone { limit } else { 0 });
        let Ok(mut windows) = self.windows[kind.index()].lock() else {
            let window = fresh();
            return Ok(verdict_of(&window, limit, true, alone));
        };
        if !windows.contains_key(scope) {
            if windows.len() >= MAX_LOCAL_WINDOWS {
                windows.retain(|_, w| w.start >= start);
            }
            windows.insert(scope.to_owned(), fresh());
        }
        let Some(window) = windows.get_mut(scope) else {
            return Ok(verdict_of(&fresh(), limit, true, alone));
        };
        if window.start != start {
            *window = fresh();
        }
        if window.used + units > window.granted {
            return Err(verdict_of(window, limit, false, alone));
        }
        window.used += units;
        Ok(verdict_of(window, limit, true, alone))
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
        reset_header: window.reset_header.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_window_admits_its_limit_then_refuses_until_the_next() {
        let limiter = RateLimiter::new(None);
        let minute = 10 * WINDOW_MICROS;
        for n in 0..3 {
            let v = limiter.check(Kind::Reads, "k", 3, 1, minute + n).await;
            assert!(v.allowed);
            assert_eq!(v.remaining, 2 - n as u64);
        }
        let refused = limiter
            .check(Kind::Reads, "k", 3, 1, minute + 5_000_000)
            .await;
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after_secs(minute + 5_000_000), 55);
        assert!(
            limiter
                .check(Kind::Reads, "other", 3, 1, minute)
                .await
                .allowed,
            "keys are apart"
        );
        assert!(
            limiter
                .check(Kind::Reads, "k", 3, 1, minute + WINDOW_MICROS)
                .await
                .allowed
        );
        // Units larger than one: a request bigger than what is left is refused whole.
        assert!(
            limiter
                .check(Kind::SessionInput, "bytes", 100, 60, minute)
                .await
                .allowed
        );
        assert!(
            !limiter
                .check(Kind::SessionInput, "bytes", 100, 60, minute)
                .await
                .allowed
        );
        assert!(
            limiter
                .check(Kind::SessionInput, "bytes", 100, 40, minute)
                .await
                .allowed
        );
    }
}
