//! Prometheus metrics, rendered in the text exposition format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A histogram with fixed bucket upper bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: Vec<f64>,
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    sum: Mutex<f64>,
}

impl Histogram {
    /// A histogram with these upper bounds (ascending); `+Inf` is implied.
    pub fn new(bounds: &[f64]) -> Histogram {
        Histogram {
            bounds: bounds.to_vec(),
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: Mutex::new(0.0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut s) = self.sum.lock() {
            *s += v;
        }
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = self.count();
        let sum = self.sum.lock().map(|s| *s).unwrap_or(0.0);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// Everything the server counts.
#[derive(Debug)]
pub struct Metrics {
    /// Entries appended to the log.
    pub entries_total: AtomicU64,
    /// Submissions answered as duplicates.
    pub duplicates_total: AtomicU64,
    /// Submissions refused by the sequencer's rules or the verifier.
    pub rejected_total: AtomicU64,
    /// Writes refused by the per-client rate limit.
    pub rate_limited_total: AtomicU64,
    /// Current tree size.
    pub tree_size: AtomicU64,
    /// Submissions waiting for the sequencer.
    pub queue_depth: AtomicU64,
    /// Entries per committed batch.
    pub batch_size: Histogram,
    /// Seconds from a submission entering the queue to its durable commit.
    pub sequencing_seconds: Histogram,
    /// Seconds spent writing one batch (with fsync).
    pub commit_seconds: Histogram,
    /// Seconds spent updating the key directory for one batch (node reads and hashing).
    pub directory_seconds: Histogram,
    http: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

impl Metrics {
    /// All zero.
    pub fn new() -> Metrics {
        Metrics {
            entries_total: AtomicU64::new(0),
            duplicates_total: AtomicU64::new(0),
            rejected_total: AtomicU64::new(0),
            rate_limited_total: AtomicU64::new(0),
            tree_size: AtomicU64::new(0),
            queue_depth: AtomicU64::new(0),
            batch_size: Histogram::new(&[
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
            ]),
            sequencing_seconds: Histogram::new(&LATENCY_BUCKETS),
            commit_seconds: Histogram::new(&LATENCY_BUCKETS),
            directory_seconds: Histogram::new(&LATENCY_BUCKETS),
            http: Mutex::new(BTreeMap::new()),
        }
    }

    /// Counts one HTTP request by route template, method and status.
    pub fn http_request(&self, route: &str, method: &str, status: u16) {
        if let Ok(mut m) = self.http.lock() {
            *m.entry((route.to_string(), method.to_string(), status))
                .or_default() += 1;
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64, kind: &str| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                v.load(Ordering::Relaxed)
            );
        };
        counter(
            &mut out,
            "sealwax_entries_total",
            "Entries appended to the log.",
            &self.entries_total,
            "counter",
        );
        counter(
            &mut out,
            "sealwax_duplicates_total",
            "Submissions answered as duplicates of a logged entry.",
            &self.duplicates_total,
            "counter",
        );
        counter(
            &mut out,
            "sealwax_rejected_total",
            "Submissions refused by the log's key rules or for a bad signature.",
            &self.rejected_total,
            "counter",
        );
        counter(
            &mut out,
            "sealwax_rate_limited_total",
            "Writes refused by the per-client rate limit (429).",
            &self.rate_limited_total,
            "counter",
        );
        counter(
            &mut out,
            "sealwax_tree_size",
            "Size of the published tree.",
            &self.tree_size,
            "gauge",
        );
        counter(
            &mut out,
            "sealwax_queue_depth",
            "Submissions waiting for the sequencer.",
            &self.queue_depth,
            "gauge",
        );
        self.batch_size.render(
            &mut out,
            "sealwax_batch_size",
            "Entries per committed batch.",
        );
        self.sequencing_seconds.render(
            &mut out,
            "sealwax_sequencing_seconds",
            "Time from a submission entering the queue to its durable commit.",
        );
        self.commit_seconds.render(
            &mut out,
            "sealwax_commit_seconds",
            "Time to write one batch to storage, fsync included.",
        );
        self.directory_seconds.render(
            &mut out,
            "sealwax_directory_update_seconds",
            "Time to update the key directory for one batch.",
        );
        let _ = writeln!(
            out,
            "# HELP sealwax_http_requests_total HTTP requests by route, method and status.\n# TYPE sealwax_http_requests_total counter"
        );
        if let Ok(m) = self.http.lock() {
            for ((route, method, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "sealwax_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
                    escape_label(route),
                    escape_label(method)
                );
            }
        }
        out
    }
}

/// Escapes a label value (backslash, quote, newline).
fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::new();
        m.batch_size.observe(1.0);
        m.batch_size.observe(3.0);
        m.batch_size.observe(3000.0);
        m.http_request("/v1/entries", "POST", 200);
        m.http_request("/v1/entries", "POST", 200);
        m.http_request("a\"b", "GET", 404);
        let text = m.render();
        assert!(
            text.contains("sealwax_batch_size_bucket{le=\"1\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("sealwax_batch_size_bucket{le=\"4\"} 2\n"));
        assert!(text.contains("sealwax_batch_size_bucket{le=\"1024\"} 2\n"));
        assert!(text.contains("sealwax_batch_size_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("sealwax_batch_size_count 3\n"));
        assert!(text.contains(
            "sealwax_http_requests_total{route=\"/v1/entries\",method=\"POST\",status=\"200\"} 2\n"
        ));
        assert!(text.contains("route=\"a\\\"b\""));
    }
}
