//! The verifier: checks the Ed25519 signatures of queued submissions in
//! batches, between the HTTP handlers and the sequencer.
//!
//! Handlers parse a submission and run every rule that needs no curve
//! arithmetic, then queue it here with its [`SignatureCheck`]s. The verifier
//! thread takes whatever is queued (up to a batch), checks all those
//! signatures with one Ed25519 batch verification, and forwards the
//! submissions to the sequencer. If the batch fails, it checks each
//! signature on its own and answers the submissions with a bad one. One
//! batch verification costs about 40% of verifying the same signatures one
//! at a time, and the handoff is one thread wake-up per batch instead of
//! one per request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use sealwax_proto::minisign::{verify_batch, SignatureCheck};

use crate::error::AppError;
use crate::metrics::Metrics;
use crate::sequencer::Submission;

/// Poll interval for the stop flag while nothing is queued.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// Runs the verifier loop until `stop` is set and the queue is empty (or
/// every sender is gone), forwarding verified submissions to `out`.
/// Returning drops `out`, which tells the sequencer that no more will come.
pub(crate) fn run(
    rx: Receiver<Submission>,
    out: SyncSender<Submission>,
    batch_size: usize,
    stop: &AtomicBool,
    metrics: &Metrics,
) {
    loop {
        let first = match rx.recv_timeout(IDLE_POLL) {
            Ok(s) => s,
            Err(RecvTimeoutError::Timeout) if stop.load(Ordering::SeqCst) => break,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut batch = vec![first];
        batch.extend(rx.try_iter().take(batch_size.saturating_sub(1)));
        for sub in verify(batch, metrics) {
            if out.send(sub).is_err() {
                tracing::error!("the sequencer stopped; the verifier stops too");
                return;
            }
        }
    }
    // Submissions queued before the stop are still verified and sequenced.
    while let Ok(sub) = rx.try_recv() {
        for sub in verify(vec![sub], metrics) {
            let _ = out.send(sub);
        }
    }
}

/// Checks the signatures of `batch`, answers the submissions that carry a
/// bad one, and returns the rest (with their checks emptied).
fn verify(mut batch: Vec<Submission>, metrics: &Metrics) -> Vec<Submission> {
    let counts: Vec<usize> = batch.iter().map(|s| s.checks.len()).collect();
    let all: Vec<SignatureCheck> = batch
        .iter_mut()
        .flat_map(|s| std::mem::take(&mut s.checks))
        .collect();
    if verify_batch(&all) {
        return batch;
    }
    // Someone's signature is bad: find whose, one check at a time.
    let mut checks = all.into_iter();
    let mut good = Vec::with_capacity(batch.len());
    for (sub, count) in batch.into_iter().zip(counts) {
        let mine: Vec<SignatureCheck> = checks.by_ref().take(count).collect();
        match mine.iter().try_for_each(SignatureCheck::verify) {
            Ok(()) => good.push(sub),
            Err(e) => {
                metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
                metrics.rejected_total.fetch_add(1, Ordering::Relaxed);
                let _ = sub.reply.send(Err(AppError::from_entry_error(e)));
            }
        }
    }
    good
}
