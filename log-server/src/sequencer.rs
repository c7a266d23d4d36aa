//! The sequencer: the one writer of the log.
//!
//! Handlers parse submissions and the verifiers ([`crate::verifier`]) check
//! their signatures strictly, then queue them here through a bounded
//! channel. The sequencer thread takes them in batches (up to
//! `batch_size`: whatever is queued, waiting at most `batch_wait` for more,
//! which is 0 by default, as the next batch gathers while one is written), and for
//! each batch:
//!
//! 1. judges every entry in order with [`apply_entry`], the same function
//!    installers and monitors fold the log with, against the log's state
//!    as of the entry before it (earlier entries of the batch included);
//! 2. appends the accepted ones to the compact range, collecting every new
//!    node hash (the tiles are made of those at levels 0, 8, 16, ...);
//! 3. signs the checkpoint for the new size and writes everything, lookup
//!    indexes, tree state and, for key state, each touched publisher's
//!    record header and the records of the keys the batch changed (never a
//!    publisher's whole state), in one durable [`Storage::commit`];
//! 4. only then publishes the checkpoint and answers each waiter with its
//!    index and an inclusion proof.
//!
//! Invariant: a checkpoint is signed only for a size that grows, and is
//! stored in the same write as the tree it commits to, so the log never
//! signs two checkpoints for one size, across restarts too.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sealwax_proto::directory::{self, publisher_leaf, release_leaf};
use sealwax_proto::entry::Entry;
use sealwax_proto::keys::PublisherKeys;
use sealwax_proto::merkle::{self, CompactRange};
use sealwax_proto::minisign::SignatureCheck;
use sealwax_proto::rules::{apply_entry, ApplyError, LogState, ReleaseName, ReleaseRecord};
use sealwax_proto::Hash;
use tokio::sync::oneshot;

use crate::directory_store::{GroupCache, GroupReader, Groups};
use crate::log::{bound_release, replay_key_events, sign_tree, Log, Published, Tip};
use crate::log_error::LogError;
use crate::metrics::Metrics;
use crate::storage::{Batch, SignatureRef, Storage, StorageError};

/// Set (to anything), the sequencer keeps no key directory: the
/// benchmark's baseline for the directory's cost, never for a real log.
pub const NO_DIRECTORY_VAR: &str = "SEALWAX_LOG_BENCH_NO_DIRECTORY";

/// Whether [`NO_DIRECTORY_VAR`] is set: the log keeps no key directory.
pub fn directory_off() -> bool {
    std::env::var_os(NO_DIRECTORY_VAR).is_some()
}

/// How a batch failed: the error each of its waiters gets.
type Failure = fn() -> LogError;

/// The deepest key directory group the sequencer keeps in memory (groups
/// at depths 0, 4, 8 and 12: at most 4,369 of about 1 KB), which covers all
/// but the last few levels of every path in a directory of millions of keys.
const UPPER_GROUP_DEPTH: u16 = 12;

/// Most publishers whose key state is kept in memory between batches.
const MAX_CACHED_PUBLISHERS: usize = 100_000;

/// Loading the key state of a publisher with at least this many keys is logged.
const LOG_LOADS_FROM_KEYS: usize = 1_000;

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
    pub reply: oneshot::Sender<Result<Sequenced, LogError>>,
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
    /// Verifier threads (0: one per core).
    pub verifiers: usize,
    /// How long a signed checkpoint stays provable in the key directory:
    /// node versions only checkpoints older than this need are dropped.
    pub directory_window: Duration,
}

/// The default [`SequencerConfig::directory_window`]: ten minutes, far
/// longer than a cosigned or mirrored checkpoint lags.
pub const DEFAULT_DIRECTORY_WINDOW: Duration = Duration::from_secs(600);

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
    /// Starts the verifier and sequencer threads, continuing from `tip`
    /// (as returned by [`Log::open`]).
    pub fn start(
        log: Arc<Log>,
        tip: Tip,
        config: SequencerConfig,
        metrics: Arc<Metrics>,
    ) -> SequencerHandle {
        let capacity = config.queue_capacity.max(1);
        let (tx, verifier_rx) = mpsc::sync_channel(capacity);
        let (verified_tx, rx) = mpsc::sync_channel(capacity);
        let stop = Arc::new(AtomicBool::new(false));
        let failed = Arc::new(AtomicBool::new(false));
        metrics.tree_size.store(tip.range.size(), Ordering::Relaxed);
        let directory = !directory_off();
        if !directory {
            tracing::warn!(
                "{NO_DIRECTORY_VAR} is set: checkpoints commit to no key directory and clients will refuse them (a benchmark baseline only)"
            );
        }
        let mut seq = Sequencer {
            log,
            range: tip.range,
            directory_root: tip.directory_root,
            upper_groups: GroupCache::default(),
            signed: VecDeque::new(),
            directory,
            config,
            metrics: metrics.clone(),
            publishers: HashMap::new(),
            failed: failed.clone(),
        };
        let verifiers = match config.verifiers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let mut threads = crate::verifier::start(
            verifier_rx,
            verified_tx,
            verifiers,
            config.batch_size,
            stop.clone(),
            failed.clone(),
            metrics.clone(),
        );
        let sequencer_failed = failed.clone();
        threads.push(
            std::thread::Builder::new()
                .name("sequencer".into())
                .spawn(move || {
                    // A panic here must not leave /healthz answering 200.
                    let outcome =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| seq.run(rx)));
                    if outcome.is_err() {
                        sequencer_failed.store(true, Ordering::SeqCst);
                        tracing::error!(
                            "the sequencer thread panicked; the log stops accepting entries"
                        );
                    }
                })
                .expect("spawn the sequencer thread"),
        );
        SequencerHandle {
            tx,
            stop,
            failed,
            metrics,
            capacity: capacity as u64,
            threads: Mutex::new(threads),
        }
    }

    /// Queues a submission; fails at once if the queue is full or the sequencer stopped.
    pub fn submit(&self, sub: Submission) -> Result<(), LogError> {
        if self.stop.load(Ordering::SeqCst) {
            return Err(LogError::ShuttingDown);
        }
        if self.failed.load(Ordering::SeqCst) {
            return Err(LogError::Stopped);
        }
        // The capacity bounds everything waiting, in the verifiers' queue
        // and the sequencer's, so memory stays bounded under a flood.
        let waiting = self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        if waiting >= self.capacity {
            self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
            return Err(LogError::QueueFull);
        }
        match self.tx.try_send(sub) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
                match e {
                    TrySendError::Full(_) => Err(LogError::QueueFull),
                    TrySendError::Disconnected(_) => Err(LogError::ShuttingDown),
                }
            }
        }
    }

    /// Whether the log can still take entries: no worker thread died, the
    /// sequencer can write, and it is not shutting down.
    pub fn healthy(&self) -> bool {
        let alive = self
            .threads
            .lock()
            .map(|t| t.iter().all(|t| !t.is_finished()))
            .unwrap_or(false);
        alive && !self.failed.load(Ordering::SeqCst) && !self.stop.load(Ordering::SeqCst)
    }

    /// Stops taking submissions, sequences those already queued, and waits
    /// for the threads to finish. Blocking; idempotent.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let threads = self
            .threads
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default();
        // The verifiers first: they finish their queue and then let the
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

struct Sequencer {
    log: Arc<Log>,
    range: CompactRange,
    /// The key directory root as of `range`'s size.
    directory_root: Hash,
    /// The directory's upper groups as last committed, so that an update
    /// reads from storage only the few deep groups of each changed path.
    upper_groups: GroupCache,
    /// The sizes of the checkpoints signed since the start, and when, oldest
    /// first, back to the newest that is older than the directory window.
    signed: VecDeque<(u64, Instant)>,
    /// Whether the directory is kept (off only for the benchmark's baseline).
    directory: bool,
    config: SequencerConfig,
    metrics: Arc<Metrics>,
    /// Key state of recently seen publishers, as of the last committed batch.
    publishers: HashMap<String, PublisherKeys>,
    failed: Arc<AtomicBool>,
}

/// What became of one submission within a batch.
enum Outcome {
    Appended(u64),
    Duplicate(u64),
    Refused(LogError),
}

/// The log's state while a batch is being sequenced: storage as of the last
/// commit, the sequencer's key-state cache (updated in place; entries of
/// publishers touched by a batch that fails to commit are dropped), and
/// what the batch adds.
struct BatchState<'a> {
    storage: &'a dyn Storage,
    cache: &'a mut HashMap<String, PublisherKeys>,
    /// Publishers whose key state this batch changed.
    touched: HashSet<String>,
    owners: HashMap<Hash, String>,
    releases: HashMap<ReleaseName, ReleaseRecord>,
    leaves: HashMap<Hash, u64>,
    range: CompactRange,
    batch: Batch,
}

impl LogState for BatchState<'_> {
    type Error = StorageError;

    fn publisher_keys(&mut self, publisher: &str) -> Result<&mut PublisherKeys, StorageError> {
        if !self.cache.contains_key(publisher) {
            let keys = load_publisher(self.storage, publisher)?;
            self.cache.insert(publisher.to_string(), keys);
        }
        Ok(self.cache.get_mut(publisher).expect("inserted above"))
    }

    fn key_owner(&mut self, key_hash: &Hash) -> Result<Option<String>, StorageError> {
        match self.owners.get(key_hash) {
            Some(o) => Ok(Some(o.clone())),
            None => self.storage.key_owner(key_hash),
        }
    }

    fn release(&mut self, name: &ReleaseName) -> Result<Option<ReleaseRecord>, StorageError> {
        if let Some(r) = self.releases.get(name) {
            return Ok(Some(*r));
        }
        bound_release(self.storage, name)
    }

    fn set_key_owner(&mut self, key_hash: Hash, publisher: &str) {
        self.owners.insert(key_hash, publisher.to_string());
    }

    fn set_release(&mut self, name: ReleaseName, record: ReleaseRecord) {
        self.releases.insert(name, record);
    }
}

/// The key state of `publisher`, from its stored header and key records:
/// one pass over its keys. A log written before key records were stored
/// holds the whole record, and one written before that only the key
/// events, which are replayed; either state is marked to be written out
/// whole by the next batch that changes it.
fn load_publisher(storage: &dyn Storage, publisher: &str) -> Result<PublisherKeys, StorageError> {
    let started = Instant::now();
    let keys = match storage.key_state(publisher)? {
        Some(stored) => {
            let header_len = 6 + publisher.len();
            let mut keys = if stored.len() == header_len {
                let records = storage.key_records(publisher)?;
                PublisherKeys::from_parts(&stored, records.iter().map(Vec::as_slice))
                    .map_err(|_| StorageError::Corrupt("the stored key records do not parse"))?
            } else {
                let mut keys = PublisherKeys::from_record(&stored).map_err(|_| {
                    StorageError::Corrupt("a stored key-state record does not parse")
                })?;
                keys.mark_all_changed();
                keys
            };
            if keys.publisher != publisher {
                return Err(StorageError::Corrupt(
                    "a stored key-state record names another publisher",
                ));
            }
            // Nothing was changed by reading it, except to move it to key records.
            if stored.len() == header_len {
                keys.take_changed();
            }
            keys
        }
        None => replay_key_events(storage, publisher, u64::MAX)?,
    };
    if keys.keys().len() >= LOG_LOADS_FROM_KEYS {
        tracing::info!(
            publisher,
            keys = keys.keys().len(),
            ms = started.elapsed().as_secs_f64() * 1e3,
            "loaded a publisher's key state"
        );
    }
    Ok(keys)
}

impl Sequencer {
    /// Sequences verified submissions until the verifiers hang up.
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

    fn process(&mut self, subs: Vec<Submission>) {
        let old_size = self.range.size();
        if self.publishers.len() > MAX_CACHED_PUBLISHERS {
            self.publishers.clear();
        }
        let storage = self.log.storage_arc();
        let mut state = BatchState {
            storage: &*storage,
            cache: &mut self.publishers,
            touched: HashSet::new(),
            owners: HashMap::new(),
            releases: HashMap::new(),
            leaves: HashMap::new(),
            range: self.range.clone(),
            batch: Batch {
                first_index: old_size,
                ..Batch::default()
            },
        };
        let outcomes: Vec<Outcome> = subs
            .iter()
            .map(|sub| sequence_one(sub, &mut state).unwrap_or_else(Outcome::Refused))
            .collect();
        let BatchState {
            touched,
            releases,
            range,
            mut batch,
            ..
        } = state;

        let mut published = self.log.published();
        if !batch.entries.is_empty() {
            let committed = self
                .update_directory(&mut batch, &touched, &releases)
                .and_then(|(root, groups)| {
                    Ok((
                        self.commit(&mut batch, &range, &touched, root)?,
                        (root, groups),
                    ))
                });
            match committed {
                Ok((p, (root, groups))) => {
                    self.remember_upper_groups(groups);
                    self.range = range;
                    if let Some(r) = root {
                        self.directory_root = r;
                    }
                    published = p;
                }
                Err(e) => {
                    for p in &touched {
                        self.publishers.remove(p);
                    }
                    return fail_all(subs, e);
                }
            }
        }
        self.answer(subs, outcomes, &published);
    }

    /// Sets the key directory's leaves the batch changed (each touched
    /// publisher's key state, each newly bound release) and puts the groups
    /// that changed in the batch; returns the new root (`None` when the
    /// directory is off) and those groups, decoded.
    fn update_directory(
        &self,
        batch: &mut Batch,
        touched: &HashSet<String>,
        releases: &HashMap<ReleaseName, ReleaseRecord>,
    ) -> Result<(Option<Hash>, Groups), Failure> {
        if !self.directory {
            return Ok((None, Groups::new()));
        }
        let keys = touched
            .iter()
            .filter_map(|p| self.publishers.get(p))
            .map(publisher_leaf);
        let changes: Vec<_> = releases
            .iter()
            .map(|(name, record)| release_leaf(name, record))
            .chain(keys)
            .collect();
        let started = Instant::now();
        let reader = GroupReader::new(self.log.storage(), u64::MAX).with_shared(&self.upper_groups);
        let internal = |e| {
            tracing::error!(error = %e, "cannot update the key directory");
            (|| LogError::Internal) as fn() -> LogError
        };
        let update = directory::update(&reader, &self.directory_root, changes).map_err(|e| {
            reader.fail(e);
            (|| LogError::Internal) as fn() -> LogError
        })?;
        let groups = reader.regroup(update.nodes).map_err(internal)?;
        self.metrics
            .directory_seconds
            .observe(started.elapsed().as_secs_f64());
        batch.directory = groups.iter().map(|(p, g)| (*p, g.encode())).collect();
        Ok((Some(update.root), groups))
    }

    /// The directory horizon to store with the batch that ends at `size`:
    /// the newest size signed at least the window ago (so every checkpoint
    /// younger than the window stays provable), if that moves it on.
    /// Sizes signed before a restart keep the horizon stored then until the
    /// window has passed again.
    fn horizon_after(&mut self, size: u64) -> Option<u64> {
        if self.config.directory_window.is_zero() {
            return Some(size);
        }
        let now = Instant::now();
        let mut horizon = None;
        while let Some(&(s, at)) = self.signed.front() {
            if now.duration_since(at) < self.config.directory_window {
                break;
            }
            horizon = Some(s);
            self.signed.pop_front();
        }
        horizon
    }

    /// Keeps the upper groups a committed batch wrote (the cache must only
    /// ever hold committed groups: a failed batch's never reach it).
    fn remember_upper_groups(&self, groups: Groups) {
        let mut upper = self.upper_groups.borrow_mut();
        for (path, group) in groups {
            if path.depth() <= UPPER_GROUP_DEPTH {
                upper.insert(path, group);
            }
        }
    }

    /// Signs the checkpoint for the batch's tree (and key directory root,
    /// when kept), writes the batch durably, and publishes the checkpoint.
    fn commit(
        &mut self,
        batch: &mut Batch,
        range: &CompactRange,
        touched: &HashSet<String>,
        directory_root: Option<Hash>,
    ) -> Result<Arc<Published>, fn() -> LogError> {
        let (size, root) = (range.size(), range.root());
        let signed = sign_tree(self.log.key(), size, root, directory_root.as_ref());
        let checkpoint = signed.map_err(|e| {
            tracing::error!(error = %e, "cannot sign a checkpoint");
            (|| LogError::Internal) as fn() -> LogError
        })?;
        batch.state.size = size;
        batch.state.range = range.hashes().to_vec();
        batch.state.checkpoint = checkpoint.clone();
        // Only what changed: each touched publisher's header and the
        // records of the keys this batch changed.
        batch.key_states.clear();
        batch.key_records.clear();
        for p in touched {
            let Some(keys) = self.publishers.get_mut(p) else {
                continue;
            };
            batch.key_states.push((p.clone(), keys.record_header()));
            for h in keys.take_changed() {
                let rec = keys.key(&h).expect("a changed key is a key").encode();
                batch.key_records.push((p.clone(), h, rec));
            }
        }
        batch.directory_horizon = self.horizon_after(size);
        let started = Instant::now();
        if let Err(e) = self.log.storage().commit(batch) {
            tracing::error!(error = %e, first_index = batch.first_index, entries = batch.entries.len(), "committing a batch failed");
            self.check_after_failed_commit();
            return Err(|| LogError::WriteFailed);
        }
        self.metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        self.log.remember_nodes(&batch.nodes);
        self.signed.push_back((size, Instant::now()));
        let p = Published {
            size,
            root,
            directory_root,
            checkpoint: checkpoint.into(),
        };
        self.log.publish(p.clone());
        self.metrics.tree_size.store(size, Ordering::Relaxed);
        self.metrics
            .entries_total
            .fetch_add(batch.entries.len() as u64, Ordering::Relaxed);
        self.metrics.batch_size.observe(batch.entries.len() as f64);
        Ok(Arc::new(p))
    }

    /// Answers every waiter of a committed batch.
    fn answer(&self, subs: Vec<Submission>, outcomes: Vec<Outcome>, published: &Published) {
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

/// Judges one submission with [`apply_entry`] and, if it passes, appends it to the batch.
fn sequence_one(sub: &Submission, state: &mut BatchState<'_>) -> Result<Outcome, LogError> {
    if let Some(&i) = state.leaves.get(&sub.leaf_hash) {
        return Ok(Outcome::Duplicate(i));
    }
    if let Some(i) = state.storage.leaf_index(&sub.leaf_hash)? {
        return Ok(Outcome::Duplicate(i));
    }
    let index = state.range.size();
    let entry = &sub.entry;
    apply_entry(state, entry, index).map_err(|e| match e {
        ApplyError::Rule(e) => LogError::entry(e),
        ApplyError::State(e) => LogError::from(e),
    })?;

    // Every node: levels 0, 8, 16, ... make the tiles, and the others
    // let a proof read each hash it needs instead of recomputing it.
    state
        .batch
        .append_entry(&mut state.range, sub.bytes.clone(), sub.leaf_hash);
    state.leaves.insert(sub.leaf_hash, index);
    let publisher = entry.publisher();
    match entry {
        Entry::KeyRegistration(r) => {
            state.batch.key_events.push((publisher.clone(), index));
            let h = r.key.key_hash();
            if !state.batch.key_owners.iter().any(|(k, _)| *k == h) {
                state.batch.key_owners.push((h, publisher.clone()));
            }
            state.touched.insert(publisher);
        }
        Entry::KeyRevocation(_) => {
            state.batch.key_events.push((publisher.clone(), index));
            state.touched.insert(publisher);
        }
        Entry::Signature(s) => {
            let release = s.release().map_err(LogError::entry)?;
            state.batch.signatures.push(SignatureRef {
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
fn fail_all(subs: Vec<Submission>, error: fn() -> LogError) {
    for sub in subs {
        let _ = sub.reply.send(Err(error()));
    }
}
