//! The verification loop: checkpoint, entries, tree, tiles.
//!
//! One [`Follower::poll`] reads `/checkpoint` and, if the log grew, catches
//! up from the last verified tree size `old` to the new size `new`:
//!
//! - the checkpoint must carry a valid signature by the log key, be for the
//!   log's origin, be no smaller than the last verified one (else
//!   `rollback`) and, at the same size, have the same root (else `fork`);
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
use sealwax_proto::checkpoint::{open_checkpoint, Checkpoint};
use sealwax_proto::merkle::{node_hash, CompactRange};
use sealwax_proto::note::NoteVerifier;
use sealwax_proto::tile::{parse_bundle_exact, TileId, TileLevel, TILE_HEIGHT, TILE_WIDTH};
use sealwax_proto::{Error as ProtoError, Hash};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use crate::alert::{Alert, AlertKind, Problem};
use crate::config::Config;
use crate::deliver::Dispatcher;
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
        self.state_dir.save(&self.state)?;
        self.saved_contact = self.state.health.last_contact;
        Ok(())
    }

    /// Reads the checkpoint and, if the log grew, verifies the new entries and tree.
    pub async fn poll(&mut self) -> Result<PollOutcome, MonitorError> {
        let text = self.source.checkpoint().await?;
        let now = unix_now();
        let mut dirty = self.state.health.unreachable_alerted || now >= self.saved_contact + 60;
        self.state.health.last_contact = now;
        self.state.health.unreachable_alerted = false;
        let old = self.state.size();
        let mut outcome = PollOutcome {
            size: old,
            ..PollOutcome::default()
        };
        let text_hash: Hash = Sha256::digest(text.as_bytes()).into();
        if self.reported.contains(&text_hash) {
            tracing::debug!("the log still serves a checkpoint already reported as bad");
            if dirty {
                self.save(0)?;
            }
            return Ok(outcome);
        }
        let mut alerts = Vec::new();
        let cp = match open_checkpoint(&text, &self.origin, &self.verifier) {
            Ok((cp, _)) => cp,
            Err(e) => {
                alerts.push(self.checkpoint_alert(&e, &text));
                self.reported.insert(text_hash);
                outcome.alerts = self.deliver(&mut alerts).await?;
                self.save(outcome.alerts)?;
                return Ok(outcome);
            }
        };
        // The latest checkpoint known good: a catch-up's target, or the verified one.
        let target = self.progress_target();
        let (known_size, known_root, known_text) = match &target {
            Some(t) => (
                t.size,
                t.root,
                self.state.progress.as_ref().map(|p| p.checkpoint.clone()),
            ),
            None => (old, self.state.range.root(), self.state.checkpoint.clone()),
        };
        if cp.size < known_size {
            let mut a = Alert::misbehaviour(
                Problem::Rollback,
                &self.origin,
                format!(
                    "the log's checkpoint has size {} but it already signed a checkpoint of size {known_size}: the log rolled back (or a mirror serves an old state). Keep both checkpoints as evidence",
                    cp.size
                ),
            );
            a.tree_size = Some(cp.size);
            a.checkpoint = Some(text.clone());
            a.previous_checkpoint = known_text;
            alerts.push(a.seal());
        } else if cp.size == known_size && cp.root != known_root {
            let mut a = Alert::misbehaviour(
                Problem::Fork,
                &self.origin,
                format!(
                    "the log signed two different roots for tree size {known_size}: the log forked (shows different histories to different readers). Keep both checkpoints as evidence"
                ),
            );
            a.tree_size = Some(cp.size);
            a.checkpoint = Some(text.clone());
            a.previous_checkpoint = known_text;
            alerts.push(a.seal());
        } else if cp.size == old && target.is_none() {
            if self.state.checkpoint.is_none() {
                // The empty log: remember its verified checkpoint.
                self.state.checkpoint = Some(text.clone());
                dirty = true;
            }
            if let Some(a) = self.stale_alert(now) {
                alerts.push(a);
                self.state.health.stale_alerted = true;
                dirty = true;
            }
        } else {
            // Finish a saved catch-up first, then go on to this checkpoint.
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
                    None => (cp.clone(), text.clone()),
                };
                let before = self.state.size();
                match self
                    .catch_up(&goal, &goal_text, &mut budget, &mut outcome)
                    .await?
                {
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
                        self.state.health.last_growth = now;
                        self.state.health.stale_alerted = false;
                        tracing::debug!(from = before, to = goal.size, "caught up");
                        dirty = true;
                        if goal.size >= cp.size {
                            break;
                        }
                    }
                    CatchUp::Paused => {
                        dirty = true;
                        break;
                    }
                    CatchUp::Failed => {
                        self.reported.insert(text_hash);
                        dirty = true;
                        break;
                    }
                }
            }
            outcome.size = self.state.size();
        }
        if !alerts.is_empty() {
            if alerts[0].kind == AlertKind::LogMisbehaviour {
                self.reported.insert(text_hash);
            }
            outcome.alerts += self.deliver(&mut alerts).await?;
        }
        if dirty || outcome.alerts > 0 {
            self.save(outcome.alerts)?;
        }
        Ok(outcome)
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
        &self,
        view: ProgressView<'_>,
        alerts_delivered: bool,
    ) -> Result<(), MonitorError> {
        if alerts_delivered && self.options.crash_after_alert {
            eprintln!("sealwax-monitor: SEALWAX_MONITOR_CRASH_AFTER_ALERT is set: aborting after delivering alerts, before saving state");
            std::process::abort();
        }
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
        let new = cp.size;
        let config = Arc::clone(&self.config);
        let saved = self.state.progress.take();
        let resumed = saved.is_some();
        let (mut range, mut tracker, mut duplicate, mut budget_alerted) = match saved {
            Some(p) => (
                p.range,
                Tracker::resume(&config, &self.origin, new, p.keys, p.learned, p.learning),
                p.duplicate,
                p.budget_alerted,
            ),
            None => (
                self.state.range.clone(),
                Tracker::new(
                    &config,
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
        let old_nodes = right_edge_nodes(&range);
        let mut pending: Vec<Option<PendingTile>> = (0..TILE_HEIGHT).map(|_| None).collect();
        let first_bundle = old / TILE_WIDTH;
        let last_bundle = (new - 1) / TILE_WIDTH;
        let progress = self.progress_bar(new - old);
        let mut queue: VecDeque<JoinHandle<Fetched>> = VecDeque::new();
        let mut next = first_bundle;
        let mut alerts = Vec::new();
        let mut nodes: Vec<(u8, u64, Hash)> = Vec::new();
        let mut leaves: Vec<Hash> = Vec::with_capacity(TILE_WIDTH as usize);
        let mut recent = self.options.duplicate_check.then(RecentLeaves::new);
        let mut copies: Vec<Option<u64>> = Vec::with_capacity(TILE_WIDTH as usize);
        let window = self.options.prefetch.max(1) as u64;
        let mut last_save = Instant::now();
        let mut unsaved_alerts = false;
        // Ok(None): reached `new`; Ok(Some(true)): paused; Ok(Some(false)): failed.
        let result = async {
            for k in first_bundle..=last_bundle {
                while next <= last_bundle && next < k + window {
                    queue.push_back(self.spawn_fetch(next, new));
                    next += 1;
                }
                let fetched = queue
                    .pop_front()
                    .expect("the queue holds bundle k")
                    .await
                    .map_err(|e| panicked("fetching it", e));
                let bundle_id = TileId::for_size(TileLevel::Entries, k, new).expect("bundle within the tree");
                let (tile0, entries) = match fetched {
                    Ok(f) => {
                        let FetchedBundle { tile0, entries } = f?;
                        (tile0, entries)
                    }
                    Err(why) => (Vec::new(), Err(why)),
                };
                let width = usize::from(bundle_id.width);
                let entries = match entries {
                    Ok(e) => e,
                    Err(why) => {
                        let mut a = Alert::misbehaviour(
                            Problem::BadBundle,
                            &self.origin,
                            format!(
                                "the entry bundle {} {why}: the log serves entries that cannot be checked against its checkpoint of size {new}",
                                bundle_id.path()
                            ),
                        );
                        a.tree_size = Some(new);
                        a.tile = Some(bundle_id.path());
                        alerts.push(a.seal());
                        outcome.alerts += self.deliver(&mut alerts).await?;
                        return Ok(Some(false));
                    }
                };
                leaves.clear();
                leaves.extend(entries.iter().map(|e| e.leaf));
                let tile0_id = TileId::for_size(TileLevel::Hashes(0), k, new).expect("tile within the tree");
                let start = if k == first_bundle { (old % TILE_WIDTH) as usize } else { 0 };
                // One alert per tile at most: the first problem found.
                let tile_alert = self
                    .compare_tile(tile0_id, &tile0, 0, &leaves, new, Some(bundle_id))
                    .or_else(|| {
                        (start > 0)
                            .then(|| self.check_old_positions(tile0_id, &tile0, start, &old_nodes, new))
                            .flatten()
                    });
                alerts.extend(tile_alert);
                // One tight pass over the bundle's leaves first, so that the
                // window's memory reads overlap instead of waiting in turn.
                copies.clear();
                if let Some(r) = &mut recent {
                    let base = k * TILE_WIDTH;
                    copies.extend(leaves.iter().enumerate().skip(start).map(|(i, l)| r.seen(l, base + i as u64)));
                }
                for (i, entry) in entries.into_iter().enumerate().skip(start) {
                    let index = k * TILE_WIDTH + i as u64;
                    let leaf = entry.leaf;
                    let copy_of = match duplicate {
                        _ if recent.is_none() => None,
                        // The copy already reported (maybe before a resume).
                        Some((h, first)) if h == leaf => Some(first),
                        _ => copies[i - start],
                    };
                    match copy_of {
                        None => tracker.apply(index, entry, &mut alerts),
                        Some(first) if duplicate.is_none() => {
                            duplicate = Some((leaf, first));
                            alerts.push(self.duplicate_alert(index, first, &leaf, bundle_id, new));
                        }
                        Some(_) => {}
                    }
                    range.append(leaf, |level, idx, h| {
                        if level > 0 && level % TILE_HEIGHT == 0 {
                            nodes.push((level / TILE_HEIGHT, idx, *h));
                        }
                    });
                }
                for (tl, idx, h) in nodes.drain(..) {
                    let slot = &mut pending[usize::from(tl)];
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
                        if let Some(a) = self.fetch_and_check(tl, p, &old_nodes, new).await? {
                            alerts.push(a);
                        }
                    }
                }
                let delivered = self.deliver(&mut alerts).await?;
                outcome.alerts += delivered;
                unsaved_alerts |= delivered > 0;
                if let Some(pb) = &progress {
                    pb.inc((width - start) as u64);
                }
                if k == last_bundle {
                    break;
                }
                let read = range.size() - old;
                let out_of_budget = read >= *budget;
                if out_of_budget && !budget_alerted {
                    let mut a = Alert::new(
                        AlertKind::LogUnhealthy,
                        &self.origin,
                        format!(
                            "the log outran the poll budget: its checkpoint of size {new} is {} entries ahead, more than one poll reads ([health] max_entries_per_poll = {}). Verified up to entry {} so far; the next poll goes on from there. If the log is honest and this persists, raise the budget; a log that keeps growing faster than it can be read may be burying entries out of sight (see any duplicate-entry alert)",
                            new - self.state.size(),
                            self.config.health.max_entries_per_poll,
                            range.size()
                        ),
                    );
                    a.problem = Some(Problem::OutranPollBudget);
                    a.tree_size = Some(new);
                    a.index = Some(range.size());
                    a.checkpoint = Some(text.to_string());
                    let mut v = vec![a.seal()];
                    outcome.alerts += self.deliver(&mut v).await?;
                    budget_alerted = true;
                    unsaved_alerts = true;
                }
                if out_of_budget || (self.options.save_progress && last_save.elapsed() >= SAVE_EVERY) {
                    let view = ProgressView {
                        checkpoint: text,
                        range: &range,
                        keys: tracker.keys(),
                        learned: tracker.learned(),
                        learning: tracker.learning(),
                        duplicate,
                        budget_alerted,
                    };
                    self.save_progress(view, unsaved_alerts)?;
                    last_save = Instant::now();
                    unsaved_alerts = false;
                }
                if out_of_budget {
                    tracing::info!(at = range.size(), to = new, "poll budget spent; progress saved");
                    return Ok(Some(true));
                }
            }
            for tl in 1..TILE_HEIGHT {
                if let Some(p) = pending[usize::from(tl)].take() {
                    if let Some(a) = self.fetch_and_check(tl, p, &old_nodes, new).await? {
                        alerts.push(a);
                    }
                }
            }
            outcome.alerts += self.deliver(&mut alerts).await?;
            Ok::<Option<bool>, MonitorError>(None)
        }
        .await;
        for h in &queue {
            h.abort();
        }
        if let Some(pb) = progress {
            pb.finish_and_clear();
        }
        let read = range.size() - old;
        outcome.entries += read;
        *budget = budget.saturating_sub(read);
        let keep_progress = |range: CompactRange, tracker: Tracker<'_>| {
            let (keys, learned, learning) = tracker.pause();
            Progress {
                checkpoint: text.to_string(),
                range,
                keys,
                learned,
                learning,
                duplicate,
                budget_alerted,
            }
        };
        let failed = match result {
            Ok(None) => None,
            Ok(Some(true)) => {
                self.state.progress = Some(keep_progress(range, tracker));
                return Ok(CatchUp::Paused);
            }
            Ok(Some(false)) => Some(Ok(CatchUp::Failed)),
            Err(e) => Some(Err(e)),
        };
        if let Some(failed) = failed {
            // Keep what was read before the failing bundle, to resume from.
            if range.size() > self.state.size() && range.size() < new {
                self.state.progress = Some(keep_progress(range, tracker));
            }
            return failed;
        }
        if range.root() != cp.root {
            let mut a = Alert::misbehaviour(
                Problem::InconsistentTree,
                &self.origin,
                format!(
                    "the log's entries {}..{new} do not hash to its signed root for size {new} (starting from the verified tree of size {}, they give root {}, the checkpoint says {}): the checkpoint is not consistent with the history already verified, or the entries served are not the ones logged. Keep both checkpoints as evidence",
                    self.state.size(),
                    self.state.size(),
                    hex::encode(range.root()),
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
        let (keys, learned) = tracker.finish();
        tracing::info!(size = new, keys = keys.key_count(), "verified checkpoint");
        Ok(CatchUp::Verified {
            range,
            keys,
            learned,
        })
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
        let mut offset = 0usize;
        for b in (0..TILE_HEIGHT).rev() {
            let n = 1usize << b;
            if count & n == 0 {
                continue;
            }
            let got = subtree_root(&hashes[offset..offset + n]);
            let level = tl * TILE_HEIGHT + b;
            if old_nodes.get(&level) != Some(&got) {
                return Some(self.bad_tile(
                    id,
                    format!(
                        "its positions {offset}..{} hash to {}, which is not the node of the tree already verified",
                        offset + n,
                        hex::encode(got)
                    ),
                    new,
                ));
            }
            offset += n;
        }
        None
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

/// The node hashes of a compact range, by tree level.
fn right_edge_nodes(range: &CompactRange) -> HashMap<u8, Hash> {
    let size = range.size();
    let levels = (0..64u8).rev().filter(|l| (size >> l) & 1 == 1);
    levels.zip(range.hashes().iter().copied()).collect()
}

/// The root of a perfect subtree given its 2^k bottom hashes.
fn subtree_root(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        level = level
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
    }
    level[0]
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
    use sealwax_proto::merkle::{leaf_hash, root_from_leaves};

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
        assert_eq!(subtree_root(&leaves[..8]), nodes[&3]);
    }
}
