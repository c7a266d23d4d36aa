//! The verifiers: check the Ed25519 signatures of queued submissions
//! strictly, between the HTTP handlers and the sequencer.
//!
//! Handlers parse a submission and run every rule that needs no curve
//! arithmetic, then queue it here with its [`SignatureCheck`]s. Each
//! verifier thread (one per core by default) takes whatever is queued, up
//! to a batch, checks every signature on its own with the strict check that
//! installers and monitors use ([`SignatureCheck::verify`]: cofactorless,
//! canonical S, no small-order key or nonce), answers the submissions with
//! a bad one and forwards the rest to the sequencer.
//!
//! There is no batch verification: an Ed25519 batch check accepts some
//! signatures (a nonce with a small-order component) that the strict check
//! refuses, and a log that appended one would make its publisher
//! uninstallable. Strict checks on every core are the floor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use sealwax_proto::minisign::SignatureCheck;

use crate::log_error::LogError;
use crate::metrics::Metrics;
use crate::sequencer::Submission;

/// Poll interval for the stop flag while nothing is queued.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// Most submissions one verifier takes at a time, so that under load every
/// verifier thread has work.
const CHUNK: usize = 64;

/// Starts `threads` verifier threads sharing one queue. They stop when
/// `stop` is set and the queue is empty (or every sender is gone); the last
/// one to return drops `out`, which tells the sequencer that no more will
/// come. A verifier that panics sets `failed`.
pub(crate) fn start(
    rx: Receiver<Submission>,
    out: SyncSender<Submission>,
    threads: usize,
    batch_size: usize,
    stop: Arc<AtomicBool>,
    failed: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
) -> Vec<JoinHandle<()>> {
    let rx = Arc::new(Mutex::new(rx));
    (0..threads.max(1))
        .map(|i| {
            let (rx, out, stop, failed, metrics) = (
                rx.clone(),
                out.clone(),
                stop.clone(),
                failed.clone(),
                metrics.clone(),
            );
            std::thread::Builder::new()
                .name(format!("verifier-{i}"))
                .spawn(move || {
                    let run = std::panic::AssertUnwindSafe(|| {
                        run(&rx, &out, batch_size, &stop, &metrics)
                    });
                    if std::panic::catch_unwind(run).is_err() {
                        failed.store(true, Ordering::SeqCst);
                        tracing::error!(
                            "a verifier thread panicked; the log stops accepting entries"
                        );
                    }
                })
                .expect("spawn a verifier thread")
        })
        .collect()
}

/// Takes up to `batch_size` queued submissions (waiting for the first);
/// `None` once the log stops and the queue is empty.
fn take(
    rx: &Mutex<Receiver<Submission>>,
    batch_size: usize,
    stop: &AtomicBool,
) -> Option<Vec<Submission>> {
    let rx = rx.lock().ok()?;
    loop {
        match rx.recv_timeout(IDLE_POLL) {
            Ok(first) => {
                let mut batch = vec![first];
                batch.extend(rx.try_iter().take(batch_size.min(CHUNK).saturating_sub(1)));
                return Some(batch);
            }
            // Submissions queued before the stop are still verified and sequenced.
            Err(RecvTimeoutError::Timeout) if stop.load(Ordering::SeqCst) => return None,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}

fn run(
    rx: &Mutex<Receiver<Submission>>,
    out: &SyncSender<Submission>,
    batch_size: usize,
    stop: &AtomicBool,
    metrics: &Metrics,
) {
    while let Some(batch) = take(rx, batch_size, stop) {
        for sub in verify(batch, metrics) {
            if out.send(sub).is_err() {
                tracing::error!("the sequencer stopped; the verifier stops too");
                return;
            }
        }
    }
}

/// Checks every signature of `batch` strictly, answers the submissions that
/// carry a bad one, and returns the rest (with their checks emptied).
fn verify(batch: Vec<Submission>, metrics: &Metrics) -> Vec<Submission> {
    let mut good = Vec::with_capacity(batch.len());
    for mut sub in batch {
        let checks = std::mem::take(&mut sub.checks);
        match checks.iter().try_for_each(SignatureCheck::verify) {
            Ok(()) => good.push(sub),
            Err(e) => {
                metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
                metrics.rejected_total.fetch_add(1, Ordering::Relaxed);
                let _ = sub.reply.send(Err(LogError::entry(e)));
            }
        }
    }
    good
}
