//! Prometheus metrics, in the text exposition format (version 0.0.4).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// What the witness counts.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<u16, u64>>,
    cosignatures: AtomicU64,
    sizes: Mutex<BTreeMap<String, u64>>,
    inconsistent: Mutex<BTreeMap<(String, &'static str), u64>>,
}

/// A Prometheus label value with `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    /// Counts one answered request by its status.
    pub fn request(&self, status: u16) {
        let mut m = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        *m.entry(status).or_default() += 1;
    }

    /// Sets the size last cosigned for `origin`.
    pub fn set_size(&self, origin: &str, size: u64) {
        let mut m = self.sizes.lock().unwrap_or_else(PoisonError::into_inner);
        m.insert(origin.to_owned(), size);
    }

    /// Counts one cosignature issued for `origin` at `size`.
    pub fn cosigned(&self, origin: &str, size: u64) {
        self.cosignatures.fetch_add(1, Ordering::Relaxed);
        self.set_size(origin, size);
    }

    /// Counts one signed checkpoint refused as inconsistent (422) for `origin`, by `reason`.
    pub fn inconsistent(&self, origin: &str, reason: &'static str) {
        let mut m = self
            .inconsistent
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *m.entry((origin.to_owned(), reason)).or_default() += 1;
    }

    /// The number of cosignatures issued.
    pub fn cosignatures(&self) -> u64 {
        self.cosignatures.load(Ordering::Relaxed)
    }

    /// All metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP sealwax_witness_requests_total HTTP requests answered, by status.\n");
        out.push_str("# TYPE sealwax_witness_requests_total counter\n");
        for (status, n) in self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "sealwax_witness_requests_total{{status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP sealwax_witness_cosignatures_total Cosignatures issued.\n# TYPE sealwax_witness_cosignatures_total counter\nsealwax_witness_cosignatures_total {}",
            self.cosignatures()
        );
        out.push_str(
            "# HELP sealwax_witness_tree_size The tree size last cosigned, by log origin.\n",
        );
        out.push_str("# TYPE sealwax_witness_tree_size gauge\n");
        for (origin, size) in self
            .sizes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "sealwax_witness_tree_size{{origin=\"{}\"}} {size}",
                label(origin)
            );
        }
        out.push_str("# HELP sealwax_witness_inconsistent_total Signed checkpoints refused as inconsistent with the one cosigned (422), by log origin and reason; same_size_other_root and bad_proof are evidence of a fork.\n");
        out.push_str("# TYPE sealwax_witness_inconsistent_total counter\n");
        for ((origin, reason), n) in self
            .inconsistent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "sealwax_witness_inconsistent_total{{origin=\"{}\",reason=\"{reason}\"}} {n}",
                label(origin)
            );
        }
        out
    }
}
