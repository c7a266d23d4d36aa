//! The verification loop: checkpoint, entries, tree, tiles.
//!
//! One [`Follower::poll`] reads `/checkpoint` and, if the log grew, catches
//! up from the last verified tree size `old` to the new size `new`:
//!
//! - the checkpoint must carry a valid signature by the log key, be for the
//!   log's origin, be no smaller than the last verified one (else
//!   `rollback`) and, at the same size, have the same root (else `fork`):
//!   the rule of [`sealwax_proto::checkpoint::relate`];
//! - entry bundles `old/256 ..= (new-1)/256` are fetched a few ahead of use
//!   (bounded prefetch) and processed one at a time, so memory does not grow
//!   with the log: each entry is parsed, checked and turned into alerts
//!   ([`crate::watch::Tracker`]), and its leaf hash appended to a copy of
//!   the saved [`CompactRange`];
//! - every hash tile touched by the new range is fetched and compared, hash
//!   by hash, with the leaf hashes and with the level-8k nodes that the
//!   compact range completes; the positions that were already in the old
//!   tree are checked by hashing them up to the old compact range's
//!   right-edge nodes (`bad-tile`);
//! - finally the compact range's root must equal the checkpoint's root
//!   (`inconsistent-tree`). Only then is the new state kept.
//!
//! Alerts are delivered as they are found, bundle by bundle, and the
//! catch-up's [`Progress`] is saved at the end of a bundle about once a
//! second: a monitor killed mid catch-up resumes near where it was, and a
//! crash between delivery and save repeats the alerts of that second (same
//! ids), never loses one. The tree read so far is kept apart from the verified one
//! until the root checks out.
//!
//! A poll reads at most `[health] max_entries_per_poll` entries (rounded up
//! to a whole bundle). A log that grew by more is caught up over several
//! polls: the poll saves its progress, alerts `outran-poll-budget` once per
//! target checkpoint, and ends; the next poll goes on from there. A saved
//! catch-up is finished before a newer checkpoint is started.
//!
//! Duplicate entries: an honest log never appends the same entry twice. The
//! catch-up remembers the leaf hashes of at least the last [`DUPLICATE_WINDOW`]
//! entries ([`crate::recent`], about 6 MiB); a leaf seen again is one
//! `duplicate-entry` alert per catch-up, and the copy is not judged again
//! (its bytes were judged at their first index). A log padded with one
//! repeated entry is thus reported at its first copy instead of producing an
//! alert per entry. The reported entry is saved with the progress, so a
//! resumed catch-up skips its copies too.
//!
//! A panic while parsing or checking a bundle's entries (a bug, or a bundle
//! crafted to trigger one) is a `bad-bundle` alert and fails the catch-up;
//! the process keeps running.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use sealwax_proto::checkpoint::{open_checkpoint, relate, Checkpoint, Relation};
use sealwax_proto::merkle::{perfect_subtrees, root_from_leaves, CompactRange};
use sealwax_proto::note::NoteVerifier;
use sealwax_proto::policy::{open_accepted, Policy};
use sealwax_proto::tile::{parse_bundle_exact, TileId, TileLevel, TILE_HEIGHT, TILE_WIDTH};
use sealwax_proto::{Error as ProtoError, Hash};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use crate::alert::{Alert, AlertKind, Problem};
use crate::config::Config;
use crate::deliver::Dispatcher;
use crate::directory::{probe, Audit, ProbeResult};
use crate::recent::RecentLeaves;
use crate::source::LogSource;
use crate::state::{Progress, ProgressView, State, StateDir};
use crate::watch::{prepare_bundle, PreparedEntry, Tracker};
use crate::{unix_now, MonitorError};

/// How a [`Follower`] runs.
#[derive(Debug, Clone)]
pub struct FollowerOptions {
    /// Show a progress bar for catch-ups (only if stderr is a terminal).
    pub progress: bool,
    /// Test hook: abort the process after delivering alerts and before saving state.
    pub crash_after_alert: bool,
    /// How many entry bundles to fetch ahead of processing.
    pub prefetch: usize,
    /// The log's origin, if not the log key's name.
    pub origin: Option<String>,
    /// Alert on entries logged twice ([`DUPLICATE_WINDOW`]); off only to measure its cost.
    pub duplicate_check: bool,
    /// Save the catch-up's progress on the way; off only to measure its cost.
    pub save_progress: bool,
    /// Test hook: panic (once) while parsing entry bundle N.
    pub panic_in_bundle: Option<u64>,
    /// Recompute the key directory and check every checkpoint's
    /// `sealwax-directory` line; off only to measure its cost.
    pub directory_check: bool,
    /// `--policy`: accept only checkpoints cosigned by a quorum of its witnesses.
    pub policy: Option<Arc<Policy>>,
}

impl Default for FollowerOptions {
    fn default() -> Self {
        FollowerOptions {
            progress: true,
            crash_after_alert: false,
            prefetch: 16,
            origin: None,
            duplicate_check: true,
            save_progress: true,
            panic_in_bundle: None,
            directory_check: true,
            policy: None,
        }
    }
}

/// How many of the latest leaf hashes a catch-up checks new ones against (at least).
pub use crate::recent::WINDOW as DUPLICATE_WINDOW;

/// How often a catch-up saves its progress.
const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The test hook panics once per process.
static PANICKED: AtomicBool = AtomicBool::new(false);

/// What one poll did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollOutcome {
    /// Alerts delivered.
    pub alerts: u64,
    /// Entries read (verified, or saved as progress towards a checkpoint).
    pub entries: u64,
    /// The verified tree size after the poll.
    pub size: u64,
}

/// Follows one log with one config and state.
pub struct Follower {
    source: LogSource,
    verifier: NoteVerifier,
    origin: String,
    config: Arc<Config>,
    dispatcher: Dispatcher,
    state_dir: StateDir,
    state: State,
    options: FollowerOptions,
    /// Checkpoints already reported as bad in this process (not re-alerted every poll).
    reported: HashSet<Hash>,
    /// `last_contact` as last saved.
    saved_contact: u64,
    /// The key directory of the entries read ([`crate::directory`]).
    audit: Audit,
    /// The log's checkpoints carry no directory, and this was said once.
    warned_no_directory: bool,
}

/// The result of a catch-up.
enum CatchUp {
    Verified {
        range: CompactRange,
        keys: sealwax_proto::rules::MemoryLogState,
        learned: std::collections::BTreeMap<String, std::collections::BTreeSet<Hash>>,
    },
    /// The poll budget ran out; the progress is in the state.
    Paused,
    Failed,
}

/// A hash tile being filled with the nodes this run computes.
struct PendingTile {
    index: u64,
    first: usize,
    hashes: Vec<Hash>,
}

/// A fetched bundle with its level-0 tile, its entries prepared (or what
/// is wrong with the bundle).
struct FetchedBundle {
    tile0: Vec<u8>,
    entries: Result<Vec<PreparedEntry>, String>,
}

/// What a panic said.
fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string()),
        Err(e) => e.to_string(),
    }
}

fn panicked(what: &str, e: tokio::task::JoinError) -> String {
    format!(
        "could not be checked: {what} panicked ({}). This is a bug in sealwax-monitor, or a bundle crafted to trigger one: keep the bundle as evidence and report it. The monitor keeps running and tries again when the log serves a new checkpoint",
        panic_message(e)
    )
}

type Fetched = Result<FetchedBundle, MonitorError>;

/// How reading a catch-up's bundles ended.
enum Ended {
    /// Every bundle up to the checkpoint was read.
    Reached,
    /// The poll budget is spent; the progress was saved.
    Paused,
    /// A bundle could not be checked (and was alerted).
    Failed,
}

/// One poll's bookkeeping.
struct Poll {
    /// When the log answered.
    now: u64,
    /// The state changed and must be saved at the end of the poll.
    dirty: bool,
    /// What the poll did so far.
    outcome: PollOutcome,
    /// The SHA-256 of the checkpoint served, remembered if it is bad.
    text_hash: Hash,
}

/// A catch-up's working state: the tree and key histories read so far, and
/// the buffers reused from bundle to bundle.
struct Run<'c> {
    /// The size of the checkpoint caught up to.
    new: u64,
    /// The tree size the catch-up started from in this poll.
    old: u64,
    /// The tree of the entries read so far.
    range: CompactRange,
    /// The key histories and alert rules, over the entries read so far.
    tracker: Tracker<'c>,
    /// The entry a `duplicate-entry` alert reported: leaf hash and first index.
    duplicate: Option<(Hash, u64)>,
    /// An `outran-poll-budget` alert was delivered during this catch-up.
    budget_alerted: bool,
    /// Entries this poll may still read.
    budget: u64,
    /// The old tree's right-edge nodes, by level.
    old_nodes: HashMap<u8, Hash>,
    /// The hash tiles being filled, by tile level.
    pending: Vec<Option<PendingTile>>,
    /// Alerts found and not yet delivered.
    alerts: Vec<Alert>,
    /// The level-8k nodes the current bundle completed: tile level, index, hash.
    nodes: Vec<(u8, u64, Hash)>,
    /// The current bundle's leaf hashes.
    leaves: Vec<Hash>,
    /// The latest leaf hashes, for the duplicate check (if on).
    recent: Option<RecentLeaves>,
    /// For each entry of the current bundle, the index of an earlier copy.
    copies: Vec<Option<u64>>,
    /// The progress bar, if one is shown.
    bar: Option<ProgressBar>,
    /// When the progress was last saved.
    last_save: Instant,
    /// Alerts were delivered since the progress was last saved.
    unsaved_alerts: bool,
}

impl Run<'_> {
    /// Entries read in this poll.
    fn read(&self) -> u64 {
        self.range.size() - self.old
    }

    /// The progress so far towards `checkpoint`, borrowed, to save.
    fn view<'a>(&'a self, checkpoint: &'a str, directory_leaves: u64) -> ProgressView<'a> {
        ProgressView {
            checkpoint,
            range: &self.range,
            keys: self.tracker.keys(),
            learned: self.tracker.learned(),
            learning: self.tracker.learning(),
            duplicate: self.duplicate,
            budget_alerted: self.budget_alerted,
            directory_leaves,
        }
    }

    /// The progress so far towards `checkpoint`, to keep in the state.
    fn into_progress(self, checkpoint: &str, directory_leaves: u64) -> Progress {
        let (keys, learned, learning) = self.tracker.pause();
        Progress {
            checkpoint: checkpoint.to_string(),
            range: self.range,
            keys,
            learned,
            learning,
            duplicate: self.duplicate,
            budget_alerted: self.budget_alerted,
            directory_leaves,
        }
    }
}

/// Entry bundles fetched and prepared ahead of use, in order; those still
/// under way when it is dropped are aborted.
struct Prefetch {
    /// The bundles under way, oldest first.
    queue: VecDeque<JoinHandle<Fetched>>,
    /// The next bundle to fetch.
    next: u64,
    /// The catch-up's last bundle.
    last: u64,
    /// How many bundles may be under way.
    window: u64,
}

impl Prefetch {
    /// Starts fetching bundles so that those up to `k + window - 1` are under way.
    fn top_up(&mut self, follower: &Follower, k: u64, new: u64) {
        while self.next <= self.last && self.next < k + self.window {
            self.queue.push_back(follower.spawn_fetch(self.next, new));
            self.next += 1;
        }
    }

    /// The next bundle, in order; a panic while fetching it is what is wrong with it.
    async fn next(&mut self) -> Fetched {
        let handle = self
            .queue
            .pop_front()
            .expect("the queue holds the next bundle");
        handle.await.unwrap_or_else(|e| {
            Ok(FetchedBundle {
                tile0: Vec::new(),
                entries: Err(panicked("fetching it", e)),
            })
        })
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        for h in &self.queue {
            h.abort();
        }
    }
}

impl Follower {
    /// Opens the state in `state_dir` (or starts a fresh one) for the log at `source`.
    pub fn open(
        source: LogSource,
        verifier: NoteVerifier,
        config: Config,
        dispatcher: Dispatcher,
        state_dir: StateDir,
        options: FollowerOptions,
    ) -> Result<Follower, MonitorError> {
        let origin = options
            .origin
            .clone()
            .unwrap_or_else(|| verifier.name().to_string());
        let vkey = verifier.to_string();
        let state = match state_dir.load()? {
            Some(s) => {
                if s.log_key != vkey {
                    return Err(MonitorError::StateForAnotherLog {
                        path: state_dir.path().to_path_buf(),
                        stored: s.log_key,
                        given: vkey,
                    });
                }
                check_saved(&s, &origin, &verifier).map_err(|reason| {
                    MonitorError::StateCorrupt {
                        path: state_dir.path().join("state.json"),
                        reason,
                    }
                })?;
                s
            }
            None => {
                let mut s = State::new(&vkey, &origin);
                let now = unix_now();
                s.health.last_contact = now;
                s.health.last_growth = now;
                state_dir.save(&s)?;
                s
            }
        };
        let saved_contact = state.health.last_contact;
        let leaves = state
            .progress
            .as_ref()
            .map_or(state.directory_leaves, |p| p.directory_leaves);
        let audit = Audit::load(state_dir.path(), leaves)?;
        Ok(Follower {
            source,
            verifier,
            origin,
            config: Arc::new(config),
            dispatcher,
            state_dir,
            state,
            options,
            reported: HashSet::new(),
            saved_contact,
            audit,
            warned_no_directory: false,
        })
    }

    /// The current (last saved) state.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The checkpoint a saved catch-up is heading for (checked on load).
    fn progress_target(&self) -> Option<Checkpoint> {
        let p = self.state.progress.as_ref()?;
        open_checkpoint(&p.checkpoint, &self.origin, &self.verifier)
            .ok()
            .map(|(cp, _)| cp)
    }

    async fn deliver(&mut self, alerts: &mut Vec<Alert>) -> Result<u64, MonitorError> {
        let n = alerts.len() as u64;
        for a in alerts.drain(..) {
            self.dispatcher.deliver(&a).await?;
        }
        Ok(n)
    }

    fn save(&mut self, alerts_delivered: u64) -> Result<(), MonitorError> {
        if alerts_delivered > 0 && self.options.crash_after_alert {
            eprintln!("sealwax-monitor: SEALWAX_MONITOR_CRASH_AFTER_ALERT is set: aborting after delivering alerts, before saving state");
            std::process::abort();
        }
        self.audit.flush()?;
        self.state_dir.save(&self.state)?;
        self.saved_contact = self.state.health.last_contact;
        Ok(())
    }

    /// Reads the checkpoint and, if the log grew, verifies the new entries and tree.
    pub async fn poll(&mut self) -> Result<PollOutcome, MonitorError> {
        let text = self.source.checkpoint().await?;
        let mut poll = self.record_contact(&text);
        if self.reported.contains(&poll.text_hash) {
            tracing::debug!("the log still serves a checkpoint already reported as bad");
            return self.end_poll(poll, Vec::new()).await;
        }
        let policy = self.options.policy.as_deref();
        let alerts = match open_accepted(&text, &self.origin, &self.verifier, policy) {
            Ok((cp, _)) => self.judge(&cp, &text, &mut poll).await?,
            Err(e) => vec![self.checkpoint_alert(&e, &text)],
        };
        self.end_poll(poll, alerts).await
    }

    /// Notes that the log answered with `text`: the start of a poll from the verified size.
    fn record_contact(&mut self, text: &str) -> Poll {
        let now = unix_now();
        let dirty = self.state.health.unreachable_alerted || now >= self.saved_contact + 60;
        self.state.health.last_contact = now;
        self.state.health.unreachable_alerted = false;
        Poll {
            now,
            dirty,
            outcome: PollOutcome {
                size: self.state.size(),
                ..PollOutcome::default()
            },
            text_hash: Sha256::digest(text.as_bytes()).into(),
        }
    }

    /// Relates a checkpoint whose signature verified to the latest one known
    /// good (a catch-up's target, or the verified one) with
    /// [`relate`], and acts on it. Returns the alerts to deliver.
    async fn judge(
        &mut self,
        cp: &Checkpoint,
        text: &str,
        poll: &mut Poll,
    ) -> Result<Vec<Alert>, MonitorError> {
        let target = self.progress_target();
        let (known, known_text) = match &target {
            Some(t) => (
                (t.size, t.root),
                self.state.progress.as_ref().map(|p| p.checkpoint.clone()),
            ),
            None => (
                (self.state.size(), self.state.range.root()),
                self.state.checkpoint.clone(),
            ),
        };
        // No proof is fetched: a larger tree is proven by recomputing it from
        // the entries, and a monitor accepts no smaller one, proven or not.
        let alert = match relate(known, (cp.size, cp.root), None) {
            Relation::Older | Relation::Rollback => {
                self.history_alert(Problem::Rollback, cp.size, known.0, text, known_text)
            }
            Relation::Fork(_) => {
                self.history_alert(Problem::Fork, cp.size, known.0, text, known_text)
            }
            Relation::Same if target.is_none() => return Ok(self.unchanged(text, poll)),
            Relation::Same | Relation::Extends | Relation::Unproven => {
                self.catch_up_to(cp, text, poll).await?;
                return Ok(Vec::new());
            }
        };
        Ok(vec![alert])
    }

    /// The log still serves the verified tree: remembers the empty log's
    /// checkpoint, and alerts if the log has not grown for too long.
    fn unchanged(&mut self, text: &str, poll: &mut Poll) -> Vec<Alert> {
        if self.state.checkpoint.is_none() {
            // The empty log: remember its verified checkpoint.
            self.state.checkpoint = Some(text.to_string());
            poll.dirty = true;
        }
        let Some(a) = self.stale_alert(poll.now) else {
            return Vec::new();
        };
        self.state.health.stale_alerted = true;
        poll.dirty = true;
        vec![a]
    }

    /// Finishes a saved catch-up first, then catches up to `cp` (served as
    /// `text`), as far as the poll budget goes.
    async fn catch_up_to(
        &mut self,
        cp: &Checkpoint,
        text: &str,
        poll: &mut Poll,
    ) -> Result<(), MonitorError> {
        let mut budget = self.config.health.max_entries_per_poll;
        loop {
            let (goal, goal_text) = match self.progress_target() {
                Some(t) => {
                    let text = self
                        .state
                        .progress
                        .as_ref()
                        .map(|p| p.checkpoint.clone())
                        .expect("a target has a progress");
                    (t, text)
                }
                None => (cp.clone(), text.to_string()),
            };
            let before = self.state.size();
            let caught = self
                .catch_up(&goal, &goal_text, &mut budget, &mut poll.outcome)
                .await?;
            poll.dirty = true;
            match caught {
                CatchUp::Verified {
                    range,
                    keys,
                    learned,
                } => {
                    self.state.range = range;
                    self.state.keys = keys;
                    self.state.learned = learned;
                    self.state.checkpoint = Some(goal_text);
                    self.state.progress = None;
                    self.state.directory_leaves = self.audit.count();
                    self.audit.verified();
                    self.state.health.last_growth = poll.now;
                    self.state.health.stale_alerted = false;
                    tracing::debug!(from = before, to = goal.size, "caught up");
                    if goal.size >= cp.size {
                        break;
                    }
                }
                CatchUp::Paused => break,
                CatchUp::Failed => {
                    self.reported.insert(poll.text_hash);
                    break;
                }
            }
        }
        poll.outcome.size = self.state.size();
        Ok(())
    }

    /// Delivers a poll's `alerts` (a checkpoint they report as misbehaving is
    /// not judged again) and saves the state if the poll changed it.
    async fn end_poll(
        &mut self,
        mut poll: Poll,
        mut alerts: Vec<Alert>,
    ) -> Result<PollOutcome, MonitorError> {
        if !alerts.is_empty() {
            if alerts[0].kind == AlertKind::LogMisbehaviour {
                self.reported.insert(poll.text_hash);
            }
            poll.outcome.alerts += self.deliver(&mut alerts).await?;
        }
        if poll.dirty || poll.outcome.alerts > 0 {
            self.save(poll.outcome.alerts)?;
        }
        Ok(poll.outcome)
    }

    /// The `rollback` or `fork` alert: the log serves a checkpoint of `size`
    /// (`text`) that contradicts the `known_size` one it signed before
    /// (`known_text`): smaller, or the same size with another root.
    fn history_alert(
        &self,
        problem: Problem,
        size: u64,
        known_size: u64,
        text: &str,
        known_text: Option<String>,
    ) -> Alert {
        let detail = if problem == Problem::Fork {
            format!("the log signed two different roots for tree size {known_size}: the log forked (shows different histories to different readers)")
        } else {
            format!("the log's checkpoint has size {size} but it already signed a checkpoint of size {known_size}: the log rolled back (or a mirror serves an old state)")
        };
        let mut a = Alert::misbehaviour(
            problem,
            &self.origin,
            format!("{detail}. Keep both checkpoints as evidence"),
        );
        a.tree_size = Some(size);
        a.checkpoint = Some(text.to_string());
        a.previous_checkpoint = known_text;
        a.seal()
    }

    /// Handles a failed poll: sends a `log-unhealthy` alert once the log has
    /// been unreachable for longer than `[health] max_unreachable_secs`.
    /// Returns the number of alerts delivered.
    pub async fn report_unreachable(&mut self, err: &MonitorError) -> Result<u64, MonitorError> {
        let Some(max) = self.config.health.max_unreachable else {
            return Ok(0);
        };
        let now = unix_now();
        let since = self.state.health.last_contact;
        if self.state.health.unreachable_alerted || now.saturating_sub(since) < max.as_secs() {
            return Ok(0);
        }
        let mut a = Alert::new(
            AlertKind::LogUnhealthy,
            &self.origin,
            format!(
                "the log at {} has not answered for {} s (limit {} s): {err}. Check that it is up; the monitor keeps trying",
                self.source.url(),
                now.saturating_sub(since),
                max.as_secs()
            ),
        );
        a.problem = Some(Problem::Unreachable);
        a.tree_size = Some(self.state.size());
        let mut alerts = vec![a.seal()];
        let n = self.deliver(&mut alerts).await?;
        self.state.health.unreachable_alerted = true;
        self.save(n)?;
        Ok(n)
    }

    fn stale_alert(&self, now: u64) -> Option<Alert> {
        let max = self.config.health.max_stale?;
        let since = self.state.health.last_growth;
        if self.state.health.stale_alerted || now.saturating_sub(since) < max.as_secs() {
            return None;
        }
        let mut a = Alert::new(
            AlertKind::LogUnhealthy,
            &self.origin,
            format!(
                "the log has not grown for {} s (limit {} s) and still serves tree size {}: it may be stuck, or be hiding new entries from this monitor",
                now.saturating_sub(since),
                max.as_secs(),
                self.state.size()
            ),
        );
        a.problem = Some(Problem::Stale);
        a.tree_size = Some(self.state.size());
        Some(a.seal())
    }

    fn checkpoint_alert(&self, e: &ProtoError, text: &str) -> Alert {
        let (problem, advice) = match e {
            ProtoError::NoteSignatureInvalid { .. } => (
                Problem::BadCheckpointSignature,
                "the checkpoint was altered or signed by someone else with the log's key name",
            ),
            ProtoError::NoteNotSigned(_) => (
                Problem::CheckpointNotSigned,
                "either --log-key is not this log's key, or the log is not the one it claims to be",
            ),
            ProtoError::WrongOrigin { .. } => (
                Problem::WrongOrigin,
                "the URL serves another log, or --origin is wrong",
            ),
            e if e.is_not_cosigned() => (
                Problem::NotCosigned,
                "a log with witnesses serves only checkpoints its quorum cosigned, so this one may be a view of the log that the witnesses never saw (a split view); or --policy names other witnesses than the log's",
            ),
            _ => (
                Problem::MalformedCheckpoint,
                "the log serves a checkpoint that does not parse",
            ),
        };
        let mut a = Alert::misbehaviour(
            problem,
            &self.origin,
            format!(
                "the checkpoint at {}checkpoint is not acceptable: {e}; {advice}",
                self.source.url()
            ),
        );
        a.checkpoint = Some(text.to_string());
        a.previous_checkpoint = self.state.checkpoint.clone();
        a.seal()
    }

    /// Fetches bundle `index` and its level-0 tile, then parses, hashes and
    /// verifies its entries on the blocking pool (in parallel with the others).
    fn spawn_fetch(&self, index: u64, new: u64) -> JoinHandle<Fetched> {
        let source = self.source.clone();
        let config = Arc::clone(&self.config);
        let origin = self.origin.clone();
        let panic_now = self.options.panic_in_bundle == Some(index);
        let skip_copies = self.options.duplicate_check;
        let bundle =
            TileId::for_size(TileLevel::Entries, index, new).expect("bundle within the tree");
        let tile =
            TileId::for_size(TileLevel::Hashes(0), index, new).expect("tile within the tree");
        tokio::spawn(async move {
            let (b, t) = tokio::join!(source.tile(bundle), source.tile(tile));
            let (bundle_bytes, tile0) = (b?, t?);
            let parsed = tokio::task::spawn_blocking(move || {
                if panic_now && !PANICKED.swap(true, Ordering::SeqCst) {
                    panic!("SEALWAX_MONITOR_PANIC_IN_BUNDLE={index}: test panic while parsing entry bundle {index}");
                }
                parse_bundle_exact(&bundle_bytes, bundle.width)
                    .map(|es| prepare_bundle(&config, &origin, &es, skip_copies))
                    .map_err(|e: ProtoError| format!("does not parse ({e})"))
            })
            .await;
            let entries = match parsed {
                Ok(r) => r,
                Err(e) => Err(panicked("parsing it", e)),
            };
            Ok(FetchedBundle { tile0, entries })
        })
    }

    /// Saves the state with a catch-up's progress (after the alerts that led
    /// to it were delivered).
    fn save_progress(
        &mut self,
        view: ProgressView<'_>,
        alerts_delivered: bool,
    ) -> Result<(), MonitorError> {
        if alerts_delivered && self.options.crash_after_alert {
            eprintln!("sealwax-monitor: SEALWAX_MONITOR_CRASH_AFTER_ALERT is set: aborting after delivering alerts, before saving state");
            std::process::abort();
        }
        self.audit.flush()?;
        self.state_dir.save_with(&self.state, Some(view))
    }

    /// Catches up from the verified tree (or the saved progress towards
    /// `cp`) to `cp`, reading at most about `budget` entries.
    async fn catch_up(
        &mut self,
        cp: &Checkpoint,
        text: &str,
        budget: &mut u64,
        outcome: &mut PollOutcome,
    ) -> Result<CatchUp, MonitorError> {
        let config = Arc::clone(&self.config);
        let mut run = self.start_run(&config, cp.size, *budget);
        let ended = self.read_bundles(&mut run, text, outcome).await;
        if let Some(pb) = run.bar.take() {
            pb.finish_and_clear();
        }
        outcome.entries += run.read();
        *budget = budget.saturating_sub(run.read());
        let failed = match ended {
            Ok(Ended::Reached) => {
                let caught = self.check_root(run, cp, text, outcome).await?;
                if matches!(caught, CatchUp::Failed) {
                    self.revert_directory()?;
                }
                return Ok(caught);
            }
            Ok(Ended::Paused) => {
                self.state.progress = Some(run.into_progress(text, self.audit.count()));
                return Ok(CatchUp::Paused);
            }
            Ok(Ended::Failed) => Ok(CatchUp::Failed),
            Err(e) => Err(e),
        };
        // Keep what was read before the failing bundle, to resume from.
        if run.range.size() > self.state.size() && run.range.size() < cp.size {
            self.state.progress = Some(run.into_progress(text, self.audit.count()));
        }
        self.revert_directory()?;
        failed
    }

    /// Starts a catch-up towards a checkpoint of size `new`, from the saved
    /// progress if there is one, else from the verified tree.
    fn start_run<'c>(&mut self, config: &'c Config, new: u64, budget: u64) -> Run<'c> {
        let saved = self.state.progress.take();
        let resumed = saved.is_some();
        let (range, tracker, duplicate, budget_alerted) = match saved {
            Some(p) => (
                p.range,
                Tracker::resume(config, &self.origin, new, p.keys, p.learned, p.learning),
                p.duplicate,
                p.budget_alerted,
            ),
            None => (
                self.state.range.clone(),
                Tracker::new(
                    config,
                    &self.origin,
                    new,
                    self.state.keys.clone(),
                    self.state.learned.clone(),
                ),
                None,
                false,
            ),
        };
        let old = range.size();
        tracing::info!(from = old, to = new, resumed, "verifying new entries");
        Run {
            new,
            old,
            old_nodes: right_edge_nodes(&range),
            range,
            tracker,
            duplicate,
            budget_alerted,
            budget,
            pending: (0..TILE_HEIGHT).map(|_| None).collect(),
            alerts: Vec::new(),
            nodes: Vec::new(),
            leaves: Vec::with_capacity(TILE_WIDTH as usize),
            recent: self.options.duplicate_check.then(RecentLeaves::new),
            copies: Vec::with_capacity(TILE_WIDTH as usize),
            bar: self.progress_bar(new - old),
            last_save: Instant::now(),
            unsaved_alerts: false,
        }
    }

    /// Reads the bundles from `run.old` to `run.new` in order: checks each
    /// one's level-0 tile, applies its entries, checks the hash tiles they
    /// complete and delivers their alerts, then pauses if the budget is spent.
    async fn read_bundles(
        &mut self,
        run: &mut Run<'_>,
        text: &str,
        outcome: &mut PollOutcome,
    ) -> Result<Ended, MonitorError> {
        let (first, last) = (run.old / TILE_WIDTH, (run.new - 1) / TILE_WIDTH);
        let mut prefetch = Prefetch {
            queue: VecDeque::new(),
            next: first,
            last,
            window: self.options.prefetch.max(1) as u64,
        };
        for k in first..=last {
            prefetch.top_up(self, k, run.new);
            let bundle =
                TileId::for_size(TileLevel::Entries, k, run.new).expect("bundle within the tree");
            let FetchedBundle { tile0, entries } = prefetch.next().await?;
            let entries = match entries {
                Ok(e) => e,
                Err(why) => {
                    run.alerts
                        .push(self.bad_bundle_alert(bundle, &why, run.new));
                    outcome.alerts += self.deliver(&mut run.alerts).await?;
                    return Ok(Ended::Failed);
                }
            };
            let start = if k == first {
                (run.old % TILE_WIDTH) as usize
            } else {
                0
            };
            self.check_tile0(run, bundle, &tile0, &entries, start);
            self.apply_bundle(run, bundle, entries, start);
            let (changes, names) = (run.tracker.take_leaf_changes(), run.tracker.take_changed());
            if self.options.directory_check {
                self.audit.apply(changes);
                self.audit.changed_mut().merge(names);
            }
            self.check_filled_tiles(run).await?;
            let delivered = self.deliver(&mut run.alerts).await?;
            outcome.alerts += delivered;
            run.unsaved_alerts |= delivered > 0;
            if let Some(pb) = &run.bar {
                pb.inc((usize::from(bundle.width) - start) as u64);
            }
            if k == last {
                break;
            }
            if self.spend_budget(run, text, outcome).await? {
                return Ok(Ended::Paused);
            }
        }
        for tl in 1..TILE_HEIGHT {
            if let Some(p) = run.pending[usize::from(tl)].take() {
                if let Some(a) = self.fetch_and_check(tl, p, &run.old_nodes, run.new).await? {
                    run.alerts.push(a);
                }
            }
        }
        outcome.alerts += self.deliver(&mut run.alerts).await?;
        Ok(Ended::Reached)
    }

    /// Checks `bundle`'s level-0 tile against its entries' leaf hashes (kept
    /// in `run.leaves`) and, from `start` on, the positions already verified.
    /// One alert per tile at most: the first problem found.
    fn check_tile0(
        &self,
        run: &mut Run<'_>,
        bundle: TileId,
        tile0: &[u8],
        entries: &[PreparedEntry],
        start: usize,
    ) {
        run.leaves.clear();
        run.leaves.extend(entries.iter().map(|e| e.leaf));
        let id = TileId::for_size(TileLevel::Hashes(0), bundle.index, run.new)
            .expect("tile within the tree");
        let alert = self
            .compare_tile(id, tile0, 0, &run.leaves, run.new, Some(bundle))
            .or_else(|| {
                (start > 0)
                    .then(|| self.check_old_positions(id, tile0, start, &run.old_nodes, run.new))
                    .flatten()
            });
        run.alerts.extend(alert);
    }

    /// Applies `bundle`'s entries from `start` on, in order: each is judged
    /// (or, if it is a copy, reported once) and its leaf appended to the
    /// tree, collecting the level-8k nodes it completes in `run.nodes`.
    fn apply_bundle(
        &self,
        run: &mut Run<'_>,
        bundle: TileId,
        entries: Vec<PreparedEntry>,
        start: usize,
    ) {
        let base = bundle.index * TILE_WIDTH;
        // One tight pass over the bundle's leaves first, so that the
        // window's memory reads overlap instead of waiting in turn.
        run.copies.clear();
        if let Some(r) = &mut run.recent {
            let seen = run.leaves.iter().enumerate().skip(start);
            run.copies
                .extend(seen.map(|(i, l)| r.seen(l, base + i as u64)));
        }
        for (i, entry) in entries.into_iter().enumerate().skip(start) {
            let index = base + i as u64;
            let leaf = entry.leaf;
            let copy_of = match run.duplicate {
                _ if run.recent.is_none() => None,
                // The copy already reported (maybe before a resume).
                Some((h, first)) if h == leaf => Some(first),
                _ => run.copies[i - start],
            };
            match copy_of {
                None => run.tracker.apply(index, entry, &mut run.alerts),
                Some(first) if run.duplicate.is_none() => {
                    run.duplicate = Some((leaf, first));
                    let a = self.duplicate_alert(index, first, &leaf, bundle, run.new);
                    run.alerts.push(a);
                }
                Some(_) => {}
            }
            let nodes = &mut run.nodes;
            run.range.append(leaf, |level, idx, h| {
                if level > 0 && level % TILE_HEIGHT == 0 {
                    nodes.push((level / TILE_HEIGHT, idx, *h));
                }
            });
        }
    }

    /// Files the level-8k nodes of `run.nodes` into their pending hash tiles,
    /// and checks each tile they fill against the log's.
    async fn check_filled_tiles(&self, run: &mut Run<'_>) -> Result<(), MonitorError> {
        for (tl, idx, h) in run.nodes.drain(..) {
            let slot = &mut run.pending[usize::from(tl)];
            let pos = (idx % TILE_WIDTH) as usize;
            match slot {
                Some(p) if p.index == idx / TILE_WIDTH => p.hashes.push(h),
                _ => {
                    *slot = Some(PendingTile {
                        index: idx / TILE_WIDTH,
                        first: pos,
                        hashes: vec![h],
                    })
                }
            }
            if pos == TILE_WIDTH as usize - 1 {
                let p = slot.take().expect("just filled");
                if let Some(a) = self.fetch_and_check(tl, p, &run.old_nodes, run.new).await? {
                    run.alerts.push(a);
                }
            }
        }
        Ok(())
    }

    /// After a bundle that was not the last: alerts `outran-poll-budget`
    /// once the budget is spent, and saves the progress then, or when a save
    /// is due. True if the poll must stop here.
    async fn spend_budget(
        &mut self,
        run: &mut Run<'_>,
        text: &str,
        outcome: &mut PollOutcome,
    ) -> Result<bool, MonitorError> {
        let out_of_budget = run.read() >= run.budget;
        if out_of_budget && !run.budget_alerted {
            let mut alerts = vec![self.budget_alert(run, text)];
            outcome.alerts += self.deliver(&mut alerts).await?;
            run.budget_alerted = true;
            run.unsaved_alerts = true;
        }
        if out_of_budget || (self.options.save_progress && run.last_save.elapsed() >= SAVE_EVERY) {
            let leaves = self.audit.count();
            self.save_progress(run.view(text, leaves), run.unsaved_alerts)?;
            run.last_save = Instant::now();
            run.unsaved_alerts = false;
        }
        if out_of_budget {
            tracing::info!(
                at = run.range.size(),
                to = run.new,
                "poll budget spent; progress saved"
            );
        }
        Ok(out_of_budget)
    }

    /// The end of a catch-up that read every entry up to `cp`: its tree must
    /// have the checkpoint's root (else `inconsistent-tree`).
    async fn check_root(
        &mut self,
        run: Run<'_>,
        cp: &Checkpoint,
        text: &str,
        outcome: &mut PollOutcome,
    ) -> Result<CatchUp, MonitorError> {
        let new = cp.size;
        if run.range.root() != cp.root {
            let mut a = Alert::misbehaviour(
                Problem::InconsistentTree,
                &self.origin,
                format!(
                    "the log's entries {}..{new} do not hash to its signed root for size {new} (starting from the verified tree of size {}, they give root {}, the checkpoint says {}): the checkpoint is not consistent with the history already verified, or the entries served are not the ones logged. Keep both checkpoints as evidence",
                    self.state.size(),
                    self.state.size(),
                    hex::encode(run.range.root()),
                    hex::encode(cp.root)
                ),
            );
            a.tree_size = Some(new);
            a.checkpoint = Some(cp.to_body());
            a.previous_checkpoint = self.state.checkpoint.clone();
            let mut alerts = vec![a.seal()];
            outcome.alerts += self.deliver(&mut alerts).await?;
            return Ok(CatchUp::Failed);
        }
        if let Some(a) = self.check_directory(cp, text).await {
            outcome.alerts += self.deliver(&mut vec![a]).await?;
            return Ok(CatchUp::Failed);
        }
        let (keys, learned) = run.tracker.finish();
        tracing::info!(size = new, keys = keys.key_count(), "verified checkpoint");
        Ok(CatchUp::Verified {
            range: run.range,
            keys,
            learned,
        })
    }

    /// Goes back to the directory of the state kept: the catch-up's
    /// progress, or else the verified checkpoint.
    fn revert_directory(&mut self) -> Result<(), MonitorError> {
        let leaves = self
            .state
            .progress
            .as_ref()
            .map_or(self.state.directory_leaves, |p| p.directory_leaves);
        if self.options.directory_check {
            self.audit.revert_to(leaves)?;
        }
        Ok(())
    }

    /// Compares the directory of the entries read with the one `cp` (served
    /// as `text`) signs; the alert if they differ, or if `cp` drops the
    /// directory line the log's earlier checkpoints had.
    async fn check_directory(&mut self, cp: &Checkpoint, text: &str) -> Option<Alert> {
        if !self.options.directory_check {
            return None;
        }
        let signed = match cp.directory_root() {
            Ok(Some(root)) => root,
            Ok(None) if self.state.directory_seen => {
                let why = "carries no sealwax-directory line, but the log's earlier checkpoints did: installers can no longer check key state against it".to_string();
                return Some(self.directory_alert(Problem::DirectoryMissing, cp, text, why));
            }
            Ok(None) => {
                if !std::mem::replace(&mut self.warned_no_directory, true) {
                    tracing::warn!(size = cp.size, "the log's checkpoints carry no sealwax-directory line (a log older than the key directory): the directory is recomputed but cannot be checked until the log signs one");
                }
                return None;
            }
            Err(e) => {
                let why = format!("has a sealwax-directory line that does not parse ({e})");
                return Some(self.directory_alert(Problem::DirectoryMismatch, cp, text, why));
            }
        };
        let ours = self.audit.root();
        if ours == signed {
            self.state.directory_seen = true;
            return None;
        }
        let found = probe(&self.source, &self.audit, cp.size, &signed, &ours).await;
        let mut why = format!(
            "signs key directory root {} but the entries up to it give {}",
            hex::encode(signed),
            hex::encode(ours)
        );
        let named = match &found {
            ProbeResult::Differs(d) => {
                why.push_str(&format!(": {} differs ({})", d.leaf, d.finding));
                Some(d)
            }
            ProbeResult::NoneDiffers(n) => {
                why.push_str(&format!(": the log's proofs for the {n} leaves that changed since the last verified checkpoint agree with the entries, so a leaf that changed earlier differs"));
                None
            }
            ProbeResult::Unavailable(e) => {
                why.push_str(&format!(
                    " (the log could not be asked which leaf differs: {e})"
                ));
                None
            }
        };
        let mut a = self.directory_alert(Problem::DirectoryMismatch, cp, text, why);
        if let Some(d) = named {
            a.publisher = Some(d.publisher.clone());
            a.package = d.release.as_ref().map(|r| r.package.clone());
            a.version = d.release.as_ref().map(|r| r.version.clone());
        }
        Some(a.seal())
    }

    /// A `directory-mismatch` or `directory-missing` alert: the checkpoint `cp` `why`.
    fn directory_alert(&self, problem: Problem, cp: &Checkpoint, text: &str, why: String) -> Alert {
        let mut a = Alert::misbehaviour(
            problem,
            &self.origin,
            format!(
                "the log's checkpoint of size {} {why}. Installers trust key-state and release proofs against that root, so they may be shown keys or artifacts the log never logged. Keep the checkpoint as evidence and tell the log operator",
                cp.size
            ),
        );
        a.tree_size = Some(cp.size);
        a.checkpoint = Some(text.to_string());
        a.previous_checkpoint = self.state.checkpoint.clone();
        a.seal()
    }

    /// The `bad-bundle` alert: entry bundle `bundle` `why` (does not parse, ...).
    fn bad_bundle_alert(&self, bundle: TileId, why: &str, new: u64) -> Alert {
        let mut a = Alert::misbehaviour(
            Problem::BadBundle,
            &self.origin,
            format!(
                "the entry bundle {} {why}: the log serves entries that cannot be checked against its checkpoint of size {new}",
                bundle.path()
            ),
        );
        a.tree_size = Some(new);
        a.tile = Some(bundle.path());
        a.seal()
    }

    /// The `outran-poll-budget` alert, where `run` has got to.
    fn budget_alert(&self, run: &Run<'_>, text: &str) -> Alert {
        let new = run.new;
        let mut a = Alert::new(
            AlertKind::LogUnhealthy,
            &self.origin,
            format!(
                "the log outran the poll budget: its checkpoint of size {new} is {} entries ahead, more than one poll reads ([health] max_entries_per_poll = {}). Verified up to entry {} so far; the next poll goes on from there. If the log is honest and this persists, raise the budget; a log that keeps growing faster than it can be read may be burying entries out of sight (see any duplicate-entry alert)",
                new - self.state.size(),
                self.config.health.max_entries_per_poll,
                run.range.size()
            ),
        );
        a.problem = Some(Problem::OutranPollBudget);
        a.tree_size = Some(new);
        a.index = Some(run.range.size());
        a.checkpoint = Some(text.to_string());
        a.seal()
    }

    fn duplicate_alert(
        &self,
        index: u64,
        first: u64,
        leaf: &Hash,
        bundle: TileId,
        new: u64,
    ) -> Alert {
        let mut a = Alert::misbehaviour(
            Problem::DuplicateEntry,
            &self.origin,
            format!(
                "entry {index} is the very same entry as entry {first} (leaf hash {}): an honest log never logs an entry twice (it answers a resubmission with the first index). Copies can pad a log so that monitors never reach what comes after them; this monitor reads every entry but reports only the first copy of this catch-up. Keep the checkpoint and bundle {} as evidence",
                hex::encode(leaf),
                bundle.path()
            ),
        );
        a.index = Some(index);
        a.tree_size = Some(new);
        a.tile = Some(bundle.path());
        a.seal()
    }

    fn progress_bar(&self, entries: u64) -> Option<ProgressBar> {
        if !self.options.progress || entries < 4 * TILE_WIDTH || !std::io::stderr().is_terminal() {
            return None;
        }
        let pb = ProgressBar::with_draw_target(Some(entries), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(
                "catching up {wide_bar} {human_pos}/{human_len} entries ({rate}, {eta} left)",
            )
            .expect("static template")
            .with_key("rate", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", s.per_sec());
            }),
        );
        Some(pb)
    }

    async fn fetch_and_check(
        &self,
        tile_level: u8,
        p: PendingTile,
        old_nodes: &HashMap<u8, Hash>,
        new: u64,
    ) -> Result<Option<Alert>, MonitorError> {
        let id = TileId::for_size(TileLevel::Hashes(tile_level), p.index, new)
            .expect("tile within the tree");
        let data = self.source.tile(id).await?;
        if let Some(a) = self.compare_tile(id, &data, p.first, &p.hashes, new, None) {
            return Ok(Some(a));
        }
        Ok(if p.first > 0 {
            self.check_old_positions(id, &data, p.first, old_nodes, new)
        } else {
            None
        })
    }

    /// Compares tile `id` with `expected`, the hashes at positions `first..`.
    fn compare_tile(
        &self,
        id: TileId,
        data: &[u8],
        first: usize,
        expected: &[Hash],
        new: u64,
        bundle: Option<TileId>,
    ) -> Option<Alert> {
        let width = usize::from(id.width);
        let what = match bundle {
            Some(b) => format!("the leaf hashes of entry bundle {}", b.path()),
            None => "the nodes recomputed from the entries".to_string(),
        };
        let problem = if data.len() != width * 32 {
            Some(format!(
                "it has {} bytes, a tile of width {width} has {}",
                data.len(),
                width * 32
            ))
        } else {
            expected.iter().enumerate().find_map(|(j, want)| {
                let pos = first + j;
                let got = &data[pos * 32..pos * 32 + 32];
                (got != want).then(|| {
                    format!(
                        "position {pos} is {} where {what} give {}",
                        hex::encode(got),
                        hex::encode(want)
                    )
                })
            })
        }?;
        Some(self.bad_tile(id, problem, new))
    }

    /// Checks the first `count` hashes of tile `id` (already in the old tree)
    /// against the old compact range's right-edge nodes.
    fn check_old_positions(
        &self,
        id: TileId,
        data: &[u8],
        count: usize,
        old_nodes: &HashMap<u8, Hash>,
        new: u64,
    ) -> Option<Alert> {
        let TileLevel::Hashes(tl) = id.level else {
            unreachable!("only hash tiles have old positions to check")
        };
        if data.len() < count * 32 {
            return Some(self.bad_tile(
                id,
                format!("it is too short to hold the {count} hashes already verified"),
                new,
            ));
        }
        let hashes: Vec<Hash> = data[..count * 32]
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32-byte chunk"))
            .collect();
        perfect_subtrees(count as u64).find_map(|(offset, n)| {
            let got = root_from_leaves(&hashes[offset as usize..(offset + n) as usize]);
            let level = tl * TILE_HEIGHT + n.trailing_zeros() as u8;
            (old_nodes.get(&level) != Some(&got)).then(|| {
                self.bad_tile(
                    id,
                    format!(
                        "its positions {offset}..{} hash to {}, which is not the node of the tree already verified",
                        offset + n,
                        hex::encode(got)
                    ),
                    new,
                )
            })
        })
    }

    fn bad_tile(&self, id: TileId, problem: String, new: u64) -> Alert {
        let mut a = Alert::misbehaviour(
            Problem::BadTile,
            &self.origin,
            format!(
                "hash tile {} does not match the tree: {problem}. The log serves tiles that do not hash to its checkpoint root (size {new})",
                id.path()
            ),
        );
        a.tree_size = Some(new);
        a.tile = Some(id.path());
        a.seal()
    }
}

/// The node hashes of a compact range, by tree level: one per perfect
/// subtree of its size, largest first, as the range holds them.
fn right_edge_nodes(range: &CompactRange) -> HashMap<u8, Hash> {
    let levels = perfect_subtrees(range.size()).map(|(_, n)| n.trailing_zeros() as u8);
    levels.zip(range.hashes().iter().copied()).collect()
}

/// Checks a loaded state: its checkpoint verifies and matches its tree.
fn check_saved(s: &State, origin: &str, verifier: &NoteVerifier) -> Result<(), String> {
    if s.origin != origin {
        return Err(format!("it is for origin {:?}, not {origin:?}", s.origin));
    }
    match &s.checkpoint {
        None if s.size() == 0 => Ok(()),
        None => Err("it has a tree but no checkpoint".to_string()),
        Some(text) => {
            let (cp, _) = open_checkpoint(text, origin, verifier)
                .map_err(|e| format!("its checkpoint: {e}"))?;
            if cp.size != s.size() || cp.root != s.range.root() {
                return Err("its tree does not match its checkpoint".to_string());
            }
            Ok(())
        }
    }?;
    if let Some(p) = &s.progress {
        let (cp, _) = open_checkpoint(&p.checkpoint, origin, verifier)
            .map_err(|e| format!("its catch-up checkpoint: {e}"))?;
        if !(s.size() <= p.range.size() && p.range.size() < cp.size) {
            return Err(format!(
                "its catch-up is at size {}, not between the verified size {} and its checkpoint's size {}",
                p.range.size(),
                s.size(),
                cp.size
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealwax_proto::merkle::leaf_hash;

    #[test]
    fn right_edge_nodes_are_by_level() {
        let mut r = CompactRange::new();
        let leaves: Vec<Hash> = (0..13u8).map(|i| leaf_hash(&[i])).collect();
        for l in &leaves {
            r.append(*l, |_, _, _| {});
        }
        let nodes = right_edge_nodes(&r);
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[&3], root_from_leaves(&leaves[..8]));
        assert_eq!(nodes[&2], root_from_leaves(&leaves[8..12]));
        assert_eq!(nodes[&0], leaves[12]);
    }
}
