//! Prometheus metrics in the text exposition format: counters and histograms updated where
//! things happen (requests, turns, model requests), and gauges (queue depth, leases,
//! subscribers) read from the runtime when scraped. The server serves them on a listener of
//! their own.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histograms, in seconds.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// A histogram with fixed buckets.
#[derive(Default)]
struct Histogram {
    /// Cumulative counts per bucket of [`BUCKETS`], then `+Inf`.
    counts: Vec<AtomicU64>,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new() -> Self {
        Self {
            counts: (0..=BUCKETS.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        let index = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        for bucket in self.counts.iter().skip(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros
            .fetch_add(value.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in BUCKETS.iter().enumerate() {
            let count = self.counts.get(i).map_or(0, |c| c.load(Ordering::Relaxed));
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
        }
        let total = self.counts.last().map_or(0, |c| c.load(Ordering::Relaxed));
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {total}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {total}");
    }
}

/// Every metric the server keeps.
pub struct Metrics {
    /// `(route, method, status)` → count.
    requests: Mutex<HashMap<(String, String, u16), u64>>,
    request_seconds: Histogram,
    turn_seconds: Histogram,
    model_seconds: Histogram,
    /// input, output, cache read, cache creation.
    tokens: [AtomicU64; 4],
    turns: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Mutex::new(HashMap::new()),
            request_seconds: Histogram::new(),
            turn_seconds: Histogram::new(),
            model_seconds: Histogram::new(),
            tokens: Default::default(),
            turns: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests
                .entry((route.to_owned(), method.to_owned(), status))
                .or_default() += 1;
        }
        self.request_seconds.observe(took);
    }

    pub fn turn(&self, took: Duration) {
        self.turns.fetch_add(1, Ordering::Relaxed);
        self.turn_seconds.observe(took);
    }

    pub fn model_request(&self, took: Duration) {
        self.model_seconds.observe(took);
    }

    pub fn tokens(&self, input: u64, output: u64, cache_read: u64, cache_creation: u64) {
        for (slot, n) in self
            .tokens
            .iter()
            .zip([input, output, cache_read, cache_creation])
        {
            slot.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// The exposition text, with the gauges as read now.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP berth_http_requests_total HTTP requests by route, method and status.\n# TYPE berth_http_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            let mut rows: Vec<_> = requests.iter().collect();
            rows.sort();
            for ((route, method, status), count) in rows {
                let route = route.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(
                    out,
                    "berth_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {count}"
                );
            }
        }
        out.push_str("# HELP berth_http_request_duration_seconds Time to the response head.\n# TYPE berth_http_request_duration_seconds histogram\n");
        self.request_seconds
            .render(&mut out, "berth_http_request_duration_seconds", "");
        out.push_str("# HELP berth_turn_duration_seconds Turns from claim to idle.\n# TYPE berth_turn_duration_seconds histogram\n");
        self.turn_seconds
            .render(&mut out, "berth_turn_duration_seconds", "");
        out.push_str("# HELP berth_model_request_duration_seconds Model requests, first byte to last.\n# TYPE berth_model_request_duration_seconds histogram\n");
        self.model_seconds
            .render(&mut out, "berth_model_request_duration_seconds", "");
        out.push_str(
            "# HELP berth_model_tokens_total Tokens used by model requests.\n# TYPE berth_model_tokens_total counter\n",
        );
        for (kind, slot) in ["input", "output", "cache_read", "cache_creation"]
            .iter()
            .zip(&self.tokens)
        {
            let _ = writeln!(
                out,
                "berth_model_tokens_total{{kind=\"{kind}\"}} {}",
                slot.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP berth_turns_total Turns finished.\n# TYPE berth_turns_total counter\nberth_turns_total {}",
            self.turns.load(Ordering::Relaxed)
        );
        for (name, help, value) in [
            (
                "berth_queue_depth",
                "Sessions with queued input and no live lease.",
                gauges.queue_depth,
            ),
            (
                "berth_active_leases",
                "Sessions this process holds a lease on.",
                gauges.active_leases,
            ),
            (
                "berth_sse_subscribers",
                "Open event streams on this process.",
                gauges.sse_subscribers,
            ),
            (
                "berth_watched_sessions",
                "Sessions with at least one open stream on this process.",
                gauges.watched_sessions,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

/// What a scrape reads off the runtime at that moment.
pub struct Gauges {
    pub queue_depth: usize,
    pub active_leases: usize,
    pub sse_subscribers: usize,
    pub watched_sessions: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let h = Histogram::new();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(500));
        let mut out = String::new();
        h.render(&mut out, "x", "");
        assert!(out.contains("x_bucket{le=\"0.001\"} 0"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.005\"} 1"), "{out}");
        assert!(out.contains("x_bucket{le=\"120\"} 1"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 2"), "{out}");
        assert!(out.contains("x_count 2"), "{out}");
    }
}
