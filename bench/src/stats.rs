//! Latency collection and the printed summary.

use std::time::Duration;

#[derive(Default)]
pub struct Stats {
    pub latencies_micros: Vec<u32>,
    pub errors: u64,
    pub elapsed: Duration,
}

impl Stats {
    pub fn merge(&mut self, other: Stats) {
        self.latencies_micros.extend(other.latencies_micros);
        self.errors += other.errors;
    }

    fn percentile(sorted: &[u32], p: f64) -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
    }

    pub fn report(&mut self, name: &str) -> String {
        self.latencies_micros.sort_unstable();
        let n = self.latencies_micros.len();
        let rate = n as f64 / self.elapsed.as_secs_f64().max(1e-9);
        format!(
            "{name:<34} {rate:>10.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms   n={n} errors={}",
            Self::percentile(&self.latencies_micros, 50.0),
            Self::percentile(&self.latencies_micros, 99.0),
            Self::percentile(&self.latencies_micros, 100.0),
            self.errors
        )
    }
}
