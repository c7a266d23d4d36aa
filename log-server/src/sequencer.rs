//! The sequencer: the one writer of the log.
//!
//! Handlers parse submissions and the verifier ([`crate::verifier`]) checks
//! their signatures in batches, then queues them here through a
//! bounded channel. The sequencer thread takes them in batches (up to
//! `batch_size`: whatever is queued, waiting at most `batch_wait` for more,
//! which is 0 by default, as the next batch gathers while one is written), and for
//! each batch:
//!
//! 1. checks every entry in order against the publisher key state (earlier
//!    entries of the same batch included) and the global key → publisher
//!    index, rejecting single entries;
//! 2. appends the accepted ones to the compact range, collecting every new
//!    node hash (the tiles are made of those at levels 0, 8, 16, ...);
//! 3. signs the checkpoint for the new size and writes everything, lookup
//!    indexes and tree state included, in one durable [`Storage::commit`];
//! 4. only then publishes the checkpoint and answers each waiter with its
//!    index and an inclusion proof.
//!
//! Invariant: a checkpoint is signed only for a size that grows, and is
//! stored in the same write as the tree it commits to, so the log never
//! signs two checkpoints for one size, across restarts too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sealwax_proto::entry::{Entry, PublisherKeys};
use sealwax_proto::error::Rejection;
use sealwax_proto::merkle::{self, CompactRange};
use sealwax_proto::minisign::SignatureCheck;
use sealwax_proto::Hash;
use tokio::sync::oneshot;

use crate::error::AppError;
use crate::log::{sign_tree, Log, Published};
use crate::metrics::Metrics;
use crate::storage::{Batch, NewEntry, NodeHash, SignatureRef, StorageError};

/// Most publishers whose key state is kept in memory between batches.
const MAX_CACHED_PUBLISHERS: usize = 100_000;

/// A parsed entry waiting to be verified and sequenced.
#[derive(Debug)]
pub struct Submission {
    /// The entry.
    pub entry: Entry,
    /// Its signatures, still to be checked ([`Entry::signature_checks`]);
    /// the verifier empties this once they are.
    pub checks: Vec<SignatureCheck>,
    /// Its exact bytes.
    pub bytes: Vec<u8>,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// When it was queued.
    pub queued_at: Instant,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Result<Sequenced, AppError>>,
}

/// A sequenced (or already logged) entry, with proof.
#[derive(Debug, Clone)]
pub struct Sequenced {
    /// Log index.
    pub index: u64,
    /// Leaf hash.
    pub leaf_hash: Hash,
    /// Size of the checkpoint below.
    pub tree_size: u64,
    /// A signed checkpoint that includes the entry.
    pub checkpoint: Arc<str>,
    /// Inclusion proof at `tree_size`.
    pub inclusion_proof: Vec<Hash>,
    /// Whether the entry had been logged before.
    pub duplicate: bool,
}

/// Sequencer limits.
#[derive(Debug, Clone, Copy)]
pub struct SequencerConfig {
    /// Most entries per batch.
    pub batch_size: usize,
    /// Longest wait for a batch to fill.
    pub batch_wait: Duration,
    /// Most queued submissions.
    pub queue_capacity: usize,
}

/// The handle handlers use to reach the verifier and sequencer threads.
#[derive(Debug)]
pub struct SequencerHandle {
    tx: SyncSender<Submission>,
    stop: Arc<AtomicBool>,
    failed: Arc<AtomicBool>,
    metrics: Arc<Metrics>,
    capacity: u64,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl SequencerHandle {
    /// Starts the verifier and sequencer threads, continuing from `range`
    /// (as returned by [`Log::open`]).
    pub fn start(
        log: Arc<Log>,
        range: CompactRange,
        config: SequencerConfig,
        metrics: Arc<Metrics>,
    ) -> SequencerHandle {
        let capacity = config.queue_capacity.max(1);
        let (tx, verifier_rx) = mpsc::sync_channel(capacity);
        let (verified_tx, rx) = mpsc::sync_channel(capacity);
        let stop = Arc::new(AtomicBool::new(false));
        let failed = Arc::new(AtomicBool::new(false));
        metrics.tree_size.store(range.size(), Ordering::Relaxed);
        let mut seq = Sequencer {
            log,
            range,
            config,
            metrics: metrics.clone(),
            publishers: HashMap::new(),
            failed: failed.clone(),
        };
        let (stop2, metrics2) = (stop.clone(), metrics.clone());
        let verifier = std::thread::Builder::new()
            .name("verifier".into())
            .spawn(move || {
                crate::verifier::run(
                    verifier_rx,
                    verified_tx,
                    config.batch_size,
                    &stop2,
                    &metrics2,
                )
            })
            .expect("spawn the verifier thread");
        let sequencer = std::thread::Builder::new()
            .name("sequencer".into())
            .spawn(move || seq.run(rx))
            .expect("spawn the sequencer thread");
        SequencerHandle {
            tx,
            stop,
            failed,
            metrics,
            capacity: capacity as u64,
            threads: Mutex::new(vec![verifier, sequencer]),
        }
    }

    /// Queues a submission; fails at once if the queue is full or the sequencer stopped.
    pub fn submit(&self, sub: Submission) -> Result<(), AppError> {
        if self.stop.load(Ordering::SeqCst) {
            return Err(AppError::Unavailable(
                "the log is shutting down; retry in a moment",
            ));
        }
        if self.failed.load(Ordering::SeqCst) {
            return Err(storage_failed());
        }
        // The capacity bounds everything waiting, in the verifier's queue
        // and the sequencer's, so memory stays bounded under a flood.
        let waiting = self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        if waiting >= self.capacity {
            self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
            return Err(AppError::QueueFull);
        }
        match self.tx.try_send(sub) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
                match e {
                    TrySendError::Full(_) => Err(AppError::QueueFull),
                    TrySendError::Disconnected(_) => Err(AppError::Unavailable(
                        "the log is shutting down; retry in a moment",
                    )),
                }
            }
        }
    }

    /// Whether the sequencer can still write.
    pub fn healthy(&self) -> bool {
        !self.failed.load(Ordering::SeqCst) && !self.stop.load(Ordering::SeqCst)
    }

    /// Stops taking submissions, sequences those already queued, and waits
    /// for the thread to finish. Blocking; idempotent.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let threads = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        // The verifier first: it finishes its queue and then lets the
        // sequencer know that nothing more will come.
        for t in threads {
            let name = t.thread().name().unwrap_or("worker").to_string();
            if t.join().is_err() {
                tracing::error!("the {name} thread panicked");
            }
        }
    }
}

impl Drop for SequencerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn storage_failed() -> AppError {
    AppError::Unavailable(
        "the log cannot write to its storage and has stopped accepting entries; the operator must check its log and restart it",
    )
}

struct Sequencer {
    log: Arc<Log>,
    range: CompactRange,
    config: SequencerConfig,
    metrics: Arc<Metrics>,
    /// Key state of recently seen publishers (exactly what storage implies).
    publishers: HashMap<String, PublisherKeys>,
    failed: Arc<AtomicBool>,
}

/// What became of one submission within a batch.
enum Outcome {
    Appended(u64),
    Duplicate(u64),
    Refused(AppError),
}

impl Sequencer {
    /// Sequences verified submissions until the verifier hangs up.
    fn run(&mut self, rx: mpsc::Receiver<Submission>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            let deadline = Instant::now() + self.config.batch_wait;
            while batch.len() < self.config.batch_size {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(s) => batch.push(s),
                    Err(_) => break,
                }
            }
            self.metrics
                .queue_depth
                .fetch_sub(batch.len() as u64, Ordering::Relaxed);
            self.process(batch);
        }
        tracing::info!(size = self.range.size(), "sequencer stopped");
    }

    /// The key state of `publisher`: from the batch's staged copies, the
    /// cache, or rebuilt from its logged key events.
    fn keys_for<'s>(
        &self,
        staged: &'s mut HashMap<String, PublisherKeys>,
        publisher: &str,
    ) -> Result<&'s mut PublisherKeys, AppError> {
        if !staged.contains_key(publisher) {
            let keys = match self.publishers.get(publisher) {
                Some(k) => k.clone(),
                None => self.load_publisher(publisher)?,
            };
            staged.insert(publisher.to_string(), keys);
        }
        Ok(staged.get_mut(publisher).expect("inserted above"))
    }

    fn load_publisher(&self, publisher: &str) -> Result<PublisherKeys, AppError> {
        let storage = self.log.storage();
        let mut keys = PublisherKeys::new(publisher);
        for index in storage.key_events(publisher)? {
            let bytes = storage
                .entry(index)?
                .ok_or(StorageError::Corrupt("a key event's entry is missing"))?;
            let entry = Entry::parse(&bytes)
                .map_err(|_| StorageError::Corrupt("a logged key event does not parse"))?;
            keys.apply(&entry, index)
                .map_err(|_| StorageError::Corrupt("a logged key event breaks the key rules"))?;
        }
        Ok(keys)
    }

    fn process(&mut self, subs: Vec<Submission>) {
        let old_size = self.range.size();
        let mut range = self.range.clone();
        let mut batch = Batch {
            first_index: old_size,
            ..Batch::default()
        };
        let mut staged: HashMap<String, PublisherKeys> = HashMap::new();
        let mut new_owners: HashMap<Hash, String> = HashMap::new();
        let mut new_leaves: HashMap<Hash, u64> = HashMap::new();
        let mut outcomes = Vec::with_capacity(subs.len());
        for sub in &subs {
            let outcome = self
                .sequence_one(
                    sub,
                    &mut range,
                    &mut batch,
                    &mut staged,
                    &mut new_owners,
                    &mut new_leaves,
                )
                .unwrap_or_else(Outcome::Refused);
            outcomes.push(outcome);
        }

        let mut published = self.log.published();
        if !batch.entries.is_empty() {
            let size = range.size();
            let root = range.root();
            let checkpoint = match sign_tree(self.log.key(), size, root) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "cannot sign a checkpoint");
                    return Self::fail_all(subs, || AppError::Internal);
                }
            };
            batch.state.size = size;
            batch.state.range = range.hashes().to_vec();
            batch.state.checkpoint = checkpoint.clone();
            let started = Instant::now();
            if let Err(e) = self.log.storage().commit(&batch) {
                tracing::error!(error = %e, first_index = old_size, entries = batch.entries.len(), "committing a batch failed");
                self.check_after_failed_commit();
                return Self::fail_all(subs, || AppError::WriteFailed);
            }
            self.metrics
                .commit_seconds
                .observe(started.elapsed().as_secs_f64());
            self.log.remember_nodes(&batch.nodes);
            self.range = range;
            if self.publishers.len() + staged.len() > MAX_CACHED_PUBLISHERS {
                self.publishers.clear();
            }
            self.publishers.extend(staged);
            let p = Published {
                size,
                root,
                checkpoint: checkpoint.into(),
            };
            self.log.publish(p.clone());
            published = Arc::new(p);
            self.metrics.tree_size.store(size, Ordering::Relaxed);
            self.metrics
                .entries_total
                .fetch_add(batch.entries.len() as u64, Ordering::Relaxed);
            self.metrics.batch_size.observe(batch.entries.len() as f64);
        }

        let reader = self.log.reader();
        for (sub, outcome) in subs.into_iter().zip(outcomes) {
            let answer = match outcome {
                Outcome::Refused(e) => {
                    self.metrics.rejected_total.fetch_add(1, Ordering::Relaxed);
                    Err(e)
                }
                Outcome::Appended(index) | Outcome::Duplicate(index) => {
                    let duplicate = matches!(outcome, Outcome::Duplicate(_));
                    if duplicate {
                        self.metrics
                            .duplicates_total
                            .fetch_add(1, Ordering::Relaxed);
                    } else {
                        self.metrics
                            .sequencing_seconds
                            .observe(sub.queued_at.elapsed().as_secs_f64());
                    }
                    merkle::prove_inclusion(&reader, index, published.size)
                        .map(|inclusion_proof| Sequenced {
                            index,
                            leaf_hash: sub.leaf_hash,
                            tree_size: published.size,
                            checkpoint: published.checkpoint.clone(),
                            inclusion_proof,
                            duplicate,
                        })
                        .map_err(|e| reader.fail(e))
                }
            };
            // The waiter may have given up (timeout, closed connection).
            let _ = sub.reply.send(answer);
        }
    }

    fn sequence_one(
        &self,
        sub: &Submission,
        range: &mut CompactRange,
        batch: &mut Batch,
        staged: &mut HashMap<String, PublisherKeys>,
        new_owners: &mut HashMap<Hash, String>,
        new_leaves: &mut HashMap<Hash, u64>,
    ) -> Result<Outcome, AppError> {
        let storage = self.log.storage();
        if let Some(&i) = new_leaves.get(&sub.leaf_hash) {
            return Ok(Outcome::Duplicate(i));
        }
        if let Some(i) = storage.leaf_index(&sub.leaf_hash)? {
            return Ok(Outcome::Duplicate(i));
        }
        let entry = &sub.entry;
        let publisher = entry.publisher();
        if let Entry::KeyRegistration(r) = entry {
            let key_hash = r.key.key_hash();
            let owner = match new_owners.get(&key_hash) {
                Some(o) => Some(o.clone()),
                None => storage.key_owner(&key_hash)?,
            };
            if let Some(owner) = owner.filter(|o| *o != publisher) {
                let revoked = self
                    .keys_for(staged, &owner)?
                    .key(&key_hash)
                    .is_some_and(|k| k.revoked.is_some());
                return Err(AppError::Rejected(
                    Rejection::KeyAlreadyRegistered {
                        publisher: owner,
                        key: hex::encode(key_hash),
                        revoked,
                    }
                    .into(),
                ));
            }
        }
        let index = range.size();
        self.keys_for(staged, &publisher)?
            .apply(entry, index)
            .map_err(AppError::from_entry_error)?;

        // Every node: levels 0, 8, 16, ... make the tiles, and the others
        // let a proof read each hash it needs instead of recomputing it.
        range.append(sub.leaf_hash, |level, i, hash| {
            batch.nodes.push(NodeHash {
                level,
                index: i,
                hash: *hash,
            });
        });
        batch.entries.push(NewEntry {
            bytes: sub.bytes.clone(),
            leaf_hash: sub.leaf_hash,
        });
        new_leaves.insert(sub.leaf_hash, index);
        match entry {
            Entry::KeyRegistration(r) => {
                let key_hash = r.key.key_hash();
                batch.key_events.push((publisher.clone(), index));
                batch.key_owners.push((key_hash, publisher.clone()));
                new_owners.insert(key_hash, publisher);
            }
            Entry::KeyRevocation(_) => batch.key_events.push((publisher, index)),
            Entry::Signature(s) => {
                let release = s.release().map_err(AppError::from_entry_error)?;
                batch.signatures.push(SignatureRef {
                    index,
                    sha256: release.sha256,
                    publisher: release.publisher,
                    package: release.package,
                    version: release.version,
                });
            }
        }
        Ok(Outcome::Appended(index))
    }

    /// Answers every waiter of a batch that could not be written.
    fn fail_all(subs: Vec<Submission>, error: fn() -> AppError) {
        for sub in subs {
            let _ = sub.reply.send(Err(error()));
        }
    }

    /// After a failed commit: if storage still holds the tree the sequencer
    /// knows, the failure left nothing behind and the next batch may try
    /// again; otherwise stop writing for good.
    fn check_after_failed_commit(&self) {
        let ok = matches!(
            self.log.storage().tree_state(),
            Ok(Some(s)) if s.size == self.range.size() && s.range == self.range.hashes()
        );
        if !ok {
            tracing::error!("storage no longer matches the sequencer's tree; refusing further writes until restart");
            self.failed.store(true, Ordering::SeqCst);
        }
    }
}
