//! The monitor's persistent state, in `--state DIR`.
//!
//! `DIR/state.json` holds the last verified checkpoint (verbatim signed note),
//! the compact range of its tree, every publisher's key-state record (the
//! canonical one of `sealwax_proto::keys`), the keys learned for
//! `learn = true` watches, and health bookkeeping. It is written
//! atomically (`sealwax_durable`): to a temporary file beside it, fsync,
//! rename over `state.json`, fsync of the directory. The releases bound so far (`P/N@V` → artifact) are
//! appended to `DIR/releases.bin` and synced before `state.json` names
//! their count, so a crash leaves at most an unused tail, cut on load; the
//! key directory's leaf changes go to `DIR/directory.bin` the same way
//! ([`crate::directory`]). `DIR/lock` is held (advisory lock) while a monitor runs,
//! so two monitors never share a state.
//!
//! A catch-up saves its [`Progress`] on the way (at the end of a bundle
//! about once a second, and when the poll budget runs out): the checkpoint it is catching up to, the tree and key histories of
//! the entries read so far. They sit beside the verified ones, which stay
//! as they were until the whole tree checks out, so a tree that turns out
//! inconsistent is dropped without losing the last verified state. The
//! progress's releases extend the verified ones in `releases.bin`.
//!
//! Invariant: the state only ever holds a checkpoint the monitor verified
//! (the progress's target is signature-checked; its tree is marked as not
//! yet verified), and it is saved only after the alerts that led to it were
//! delivered.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sealwax_durable::MODE_PUBLIC;
use sealwax_proto::keys::PublisherKeys;
use sealwax_proto::merkle::CompactRange;
use sealwax_proto::rules::{MemoryLogState, ReleaseRecord};
use sealwax_proto::Hash;
use serde::{Deserialize, Serialize};

use crate::MonitorError;

/// Version of the state file format.
pub const STATE_VERSION: u32 = 3;

/// Bound releases, append-only: 72-byte records (name digest, first
/// index, SHA-256); `state.json` says how many belong to the state.
const RELEASES_FILE: &str = "releases.bin";
const RELEASE_RECORD: usize = 72;
const STATE_FILE: &str = "state.json";
const LOCK_FILE: &str = "lock";

/// Health bookkeeping (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Health {
    /// Last time the log answered with a checkpoint.
    pub last_contact: u64,
    /// Last time the log's size grew (or the monitor first saw it).
    pub last_growth: u64,
    /// An unreachable alert was sent and the log has not answered since.
    pub unreachable_alerted: bool,
    /// A stale alert was sent and the log has not grown since.
    pub stale_alerted: bool,
}

/// Everything the monitor remembers between runs.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// The log verifier key string this state belongs to.
    pub log_key: String,
    /// The log's origin.
    pub origin: String,
    /// The last verified checkpoint (signed note text), if any.
    pub checkpoint: Option<String>,
    /// The tree of the last verified checkpoint.
    pub range: CompactRange,
    /// Every publisher's key history at that checkpoint.
    pub keys: MemoryLogState,
    /// For `learn = true` watches that finished learning: the expected key hashes.
    pub learned: BTreeMap<String, BTreeSet<Hash>>,
    /// Health bookkeeping.
    pub health: Health,
    /// A catch-up under way: how far it got.
    pub progress: Option<Progress>,
    /// How many records of `directory.bin` (leaf changes) hold the key
    /// directory at the verified checkpoint ([`crate::directory`]).
    pub directory_leaves: u64,
    /// A verified checkpoint carried a `sealwax-directory` line: one without
    /// it from now on is misbehaviour.
    pub directory_seen: bool,
}

/// A catch-up that stopped before reaching its checkpoint: where it got to.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The checkpoint being caught up to (signature verified, tree not yet).
    pub checkpoint: String,
    /// The tree of the entries read so far (checked against no root yet).
    pub range: CompactRange,
    /// Every publisher's key history after those entries.
    pub keys: MemoryLogState,
    /// Learned key sets after those entries.
    pub learned: BTreeMap<String, BTreeSet<Hash>>,
    /// `learn = true` watches still learning, with the keys seen so far.
    pub learning: BTreeMap<String, BTreeSet<Hash>>,
    /// The entry a `duplicate-entry` alert of this catch-up reported: its
    /// leaf hash and first index (later copies of it are skipped, also after
    /// a resume).
    pub duplicate: Option<(Hash, u64)>,
    /// An `outran-poll-budget` alert was delivered during this catch-up.
    pub budget_alerted: bool,
    /// How many records of `directory.bin` hold the directory of the entries read so far.
    pub directory_leaves: u64,
}

/// A borrowed [`Progress`], to save a catch-up's progress without copying it.
#[derive(Debug, Clone, Copy)]
pub struct ProgressView<'a> {
    /// See [`Progress::checkpoint`].
    pub checkpoint: &'a str,
    /// See [`Progress::range`].
    pub range: &'a CompactRange,
    /// See [`Progress::keys`].
    pub keys: &'a MemoryLogState,
    /// See [`Progress::learned`].
    pub learned: &'a BTreeMap<String, BTreeSet<Hash>>,
    /// See [`Progress::learning`].
    pub learning: &'a BTreeMap<String, BTreeSet<Hash>>,
    /// See [`Progress::duplicate`].
    pub duplicate: Option<(Hash, u64)>,
    /// See [`Progress::budget_alerted`].
    pub budget_alerted: bool,
    /// See [`Progress::directory_leaves`].
    pub directory_leaves: u64,
}

impl Progress {
    /// This progress, borrowed.
    pub fn view(&self) -> ProgressView<'_> {
        ProgressView {
            checkpoint: &self.checkpoint,
            range: &self.range,
            keys: &self.keys,
            learned: &self.learned,
            learning: &self.learning,
            duplicate: self.duplicate,
            budget_alerted: self.budget_alerted,
            directory_leaves: self.directory_leaves,
        }
    }
}

fn hash_sets(sets: &BTreeMap<String, BTreeSet<Hash>>) -> BTreeMap<String, Vec<String>> {
    sets.iter()
        .map(|(p, keys)| (p.clone(), keys.iter().map(hex::encode).collect()))
        .collect()
}

fn parse_hash_sets(
    sets: BTreeMap<String, Vec<String>>,
) -> Result<BTreeMap<String, BTreeSet<Hash>>, String> {
    let mut out = BTreeMap::new();
    for (publisher, hashes) in sets {
        let set = hashes
            .iter()
            .map(|h| parse_hash(h))
            .collect::<Result<BTreeSet<_>, _>>()?;
        out.insert(publisher, set);
    }
    Ok(out)
}

fn publisher_records(keys: &MemoryLogState) -> BTreeMap<String, String> {
    keys.publishers()
        .map(|p| (p.publisher.clone(), B64.encode(p.to_record())))
        .collect()
}

/// Key histories from their records and the first `count` release records.
fn parse_keys(
    records: BTreeMap<String, String>,
    count: u64,
    releases: &[u8],
) -> Result<MemoryLogState, String> {
    let mut keys = MemoryLogState::default();
    for (publisher, record) in records {
        let bytes = B64
            .decode(record)
            .map_err(|e| format!("publisher {publisher:?}: the record is not base64: {e}"))?;
        let pk = PublisherKeys::from_record(&bytes)
            .map_err(|e| format!("publisher {publisher:?}: {e}"))?;
        if pk.publisher != publisher {
            return Err(format!(
                "the record under {publisher:?} names {:?}",
                pk.publisher
            ));
        }
        keys.insert_publisher(pk).map_err(|e| e.to_string())?;
    }
    let want = usize::try_from(count)
        .ok()
        .and_then(|n| n.checked_mul(RELEASE_RECORD))
        .filter(|&n| n <= releases.len())
        .ok_or_else(|| {
            format!(
                "the state names {count} releases but {RELEASES_FILE} holds {}",
                releases.len() / RELEASE_RECORD
            )
        })?;
    for r in releases[..want].chunks_exact(RELEASE_RECORD) {
        let (digest, rest) = r.split_at(32);
        let (index, sha) = rest.split_at(8);
        keys.insert_release(
            digest.try_into().expect("32 bytes"),
            ReleaseRecord {
                index: u64::from_be_bytes(index.try_into().expect("8 bytes")),
                sha256: sha.try_into().expect("32 bytes"),
            },
        );
    }
    Ok(keys)
}

impl State {
    /// A fresh state: nothing verified yet (tree size 0).
    pub fn new(log_key: &str, origin: &str) -> State {
        State {
            log_key: log_key.to_string(),
            origin: origin.to_string(),
            checkpoint: None,
            range: CompactRange::new(),
            keys: MemoryLogState::default(),
            learned: BTreeMap::new(),
            health: Health::default(),
            progress: None,
            directory_leaves: 0,
            directory_seen: false,
        }
    }

    /// The size of the last verified tree.
    pub fn size(&self) -> u64 {
        self.range.size()
    }

    /// Serialises to the file format (everything but the releases, which
    /// [`StateDir::save`] appends to their own file).
    pub fn to_json(&self) -> Vec<u8> {
        self.to_json_with(self.progress.as_ref().map(Progress::view))
    }

    /// Serialises with `progress` in place of [`State::progress`].
    pub fn to_json_with(&self, progress: Option<ProgressView<'_>>) -> Vec<u8> {
        let file = StateFile {
            version: STATE_VERSION,
            log_key: self.log_key.clone(),
            origin: self.origin.clone(),
            checkpoint: self.checkpoint.clone(),
            tree_size: self.range.size(),
            compact_range: self.range.hashes().iter().map(hex::encode).collect(),
            publishers: publisher_records(&self.keys),
            releases: self.keys.releases().len() as u64,
            learned: hash_sets(&self.learned),
            health: self.health,
            directory_leaves: self.directory_leaves,
            directory_seen: self.directory_seen,
            catch_up: progress.map(|p| ProgressFile {
                checkpoint: p.checkpoint.to_string(),
                tree_size: p.range.size(),
                compact_range: p.range.hashes().iter().map(hex::encode).collect(),
                publishers: publisher_records(p.keys),
                releases: p.keys.releases().len() as u64,
                learned: hash_sets(p.learned),
                learning: hash_sets(p.learning),
                duplicate: p.duplicate.map(|(h, first)| DuplicateFile {
                    leaf_hash: hex::encode(h),
                    first_index: first,
                }),
                budget_alerted: p.budget_alerted,
                directory_leaves: p.directory_leaves,
            }),
        };
        serde_json::to_vec_pretty(&file).expect("the state always serialises")
    }

    /// Parses the file format, with the releases file's first records;
    /// `Err` says what is wrong.
    pub fn from_json(bytes: &[u8], releases: &[u8]) -> Result<State, String> {
        let file: StateFile = serde_json::from_slice(bytes).map_err(|e| {
            if serde_json::from_slice::<serde_json::Value>(bytes)
                .ok()
                .and_then(|v| v["version"].as_u64())
                .is_some_and(|v| v != u64::from(STATE_VERSION))
            {
                format!("it is in an older format; move the state directory away and run `sealwax-monitor --once` to verify the log from the start (alerts about old entries will be repeated): {e}")
            } else {
                e.to_string()
            }
        })?;
        if file.version != STATE_VERSION {
            return Err(format!(
                "state format version {} is not the one this monitor writes ({STATE_VERSION})",
                file.version
            ));
        }
        let hashes = file
            .compact_range
            .iter()
            .map(|h| parse_hash(h))
            .collect::<Result<Vec<_>, _>>()?;
        let range = CompactRange::from_hashes(file.tree_size, hashes).map_err(|e| e.to_string())?;
        let keys = parse_keys(file.publishers, file.releases, releases)?;
        let learned = parse_hash_sets(file.learned)?;
        let progress = match file.catch_up {
            None => None,
            Some(p) => {
                let hashes = p
                    .compact_range
                    .iter()
                    .map(|h| parse_hash(h))
                    .collect::<Result<Vec<_>, _>>()?;
                let range = CompactRange::from_hashes(p.tree_size, hashes)
                    .map_err(|e| format!("catch_up: {e}"))?;
                if p.releases < file.releases {
                    return Err("catch_up names fewer releases than the verified state".into());
                }
                Some(Progress {
                    checkpoint: p.checkpoint,
                    range,
                    keys: parse_keys(p.publishers, p.releases, releases)
                        .map_err(|e| format!("catch_up: {e}"))?,
                    learned: parse_hash_sets(p.learned)?,
                    learning: parse_hash_sets(p.learning)?,
                    duplicate: p
                        .duplicate
                        .map(|d| parse_hash(&d.leaf_hash).map(|h| (h, d.first_index)))
                        .transpose()?,
                    budget_alerted: p.budget_alerted,
                    directory_leaves: p.directory_leaves,
                })
            }
        };
        Ok(State {
            log_key: file.log_key,
            origin: file.origin,
            checkpoint: file.checkpoint,
            range,
            keys,
            learned,
            health: file.health,
            progress,
            directory_leaves: file.directory_leaves,
            directory_seen: file.directory_seen,
        })
    }
}

/// One bound release in `releases.bin`: name digest, first index, SHA-256.
fn encode_release(digest: &Hash, r: &ReleaseRecord) -> [u8; RELEASE_RECORD] {
    let mut out = [0u8; RELEASE_RECORD];
    out[..32].copy_from_slice(digest);
    out[32..40].copy_from_slice(&r.index.to_be_bytes());
    out[40..].copy_from_slice(&r.sha256);
    out
}

fn parse_hash(h: &str) -> Result<Hash, String> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(h, &mut out).map_err(|_| format!("{h:?} is not a 64-digit hex hash"))?;
    Ok(out)
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    log_key: String,
    origin: String,
    checkpoint: Option<String>,
    tree_size: u64,
    compact_range: Vec<String>,
    /// Each publisher's canonical key-state record, base64.
    publishers: BTreeMap<String, String>,
    /// How many records of `releases.bin` belong to this state.
    releases: u64,
    learned: BTreeMap<String, Vec<String>>,
    health: Health,
    /// How many records of `directory.bin` hold the verified directory.
    directory_leaves: u64,
    directory_seen: bool,
    /// A catch-up under way (absent when caught up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    catch_up: Option<ProgressFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgressFile {
    checkpoint: String,
    tree_size: u64,
    compact_range: Vec<String>,
    publishers: BTreeMap<String, String>,
    releases: u64,
    learned: BTreeMap<String, Vec<String>>,
    learning: BTreeMap<String, Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    duplicate: Option<DuplicateFile>,
    budget_alerted: bool,
    directory_leaves: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DuplicateFile {
    leaf_hash: String,
    first_index: u64,
}

/// The state directory, locked for as long as this value lives.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    _lock: File,
    /// Release records in `releases.bin` that belong to the saved state.
    releases_saved: std::sync::atomic::AtomicU64,
}

impl StateDir {
    /// Creates (if needed) and locks the state directory.
    pub fn open(path: &Path) -> Result<StateDir, MonitorError> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |cause| MonitorError::StateIo { path: p, cause }
        };
        std::fs::create_dir_all(path).map_err(io(path))?;
        let lock_path = path.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(MonitorError::StateLocked {
                    path: path.to_path_buf(),
                })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
        }
        Ok(StateDir {
            path: path.to_path_buf(),
            _lock: lock,
            releases_saved: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the saved state, or `None` if there is none yet.
    pub fn load(&self) -> Result<Option<State>, MonitorError> {
        let file = self.path.join(STATE_FILE);
        let bytes = match std::fs::read(&file) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(cause) => return Err(MonitorError::StateIo { path: file, cause }),
        };
        let releases_path = self.path.join(RELEASES_FILE);
        let releases = match std::fs::read(&releases_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(cause) => {
                return Err(MonitorError::StateIo {
                    path: releases_path,
                    cause,
                })
            }
        };
        let state = State::from_json(&bytes, &releases)
            .map_err(|reason| MonitorError::StateCorrupt { path: file, reason })?;
        let n = match &state.progress {
            Some(p) => p.keys.releases().len(),
            None => state.keys.releases().len(),
        } as u64;
        self.releases_saved
            .store(n, std::sync::atomic::Ordering::SeqCst);
        Ok(Some(state))
    }

    /// Saves `state` atomically (temp file, fsync, rename, fsync of the directory).
    pub fn save(&self, state: &State) -> Result<(), MonitorError> {
        self.save_with(state, state.progress.as_ref().map(Progress::view))
    }

    /// Saves `state` with `progress` in place of its own, atomically.
    pub fn save_with(
        &self,
        state: &State,
        progress: Option<ProgressView<'_>>,
    ) -> Result<(), MonitorError> {
        let dst = self.path.join(STATE_FILE);
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |cause| MonitorError::StateIo { path: p, cause }
        };
        // The releases first: appended after the saved ones (a crash's
        // leftover tail is cut), synced before state.json counts them.
        let saved = self
            .releases_saved
            .load(std::sync::atomic::Ordering::SeqCst);
        let all = match progress {
            Some(p) => p.keys.releases(),
            None => state.keys.releases(),
        };
        let rel = self.path.join(RELEASES_FILE);
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&rel)
            .map_err(io(&rel))?;
        let keep = (saved as usize).min(all.len());
        f.set_len((keep * RELEASE_RECORD) as u64)
            .map_err(io(&rel))?;
        use std::io::Seek as _;
        f.seek(std::io::SeekFrom::End(0)).map_err(io(&rel))?;
        let mut buf = Vec::with_capacity((all.len() - keep) * RELEASE_RECORD);
        for (digest, r) in &all[keep..] {
            buf.extend_from_slice(&encode_release(digest, r));
        }
        f.write_all(&buf).map_err(io(&rel))?;
        f.sync_all().map_err(io(&rel))?;
        drop(f);
        sealwax_durable::write_atomic(&dst, &state.to_json_with(progress), MODE_PUBLIC)?;
        self.releases_saved
            .store(all.len() as u64, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealwax_proto::entry::{Entry, KeyRegistration, KeyRevocation, RevocationReason};
    use sealwax_proto::merkle::leaf_hash;
    use sealwax_proto::minisign::SecretKey;

    const ORIGIN: &str = "sealwax.test/log";

    fn sample_state() -> State {
        let mut rng = rand::thread_rng();
        let mut s = State::new("sealwax.test/log+01020304+AQ==", ORIGIN);
        for i in 0..13u64 {
            s.range.append(leaf_hash(&i.to_be_bytes()), |_, _, _| {});
        }
        let a1 = SecretKey::generate(&mut rng);
        let a2 = SecretKey::generate(&mut rng);
        let a3 = SecretKey::generate(&mut rng);
        let entries = [
            Entry::KeyRegistration(KeyRegistration::claim(ORIGIN, "alice", &a1).unwrap()),
            Entry::KeyRegistration(KeyRegistration::chain(ORIGIN, "alice", &a2, &a1).unwrap()),
            Entry::KeyRevocation(
                KeyRevocation::by_key(
                    ORIGIN,
                    "alice",
                    a1.public_key(),
                    RevocationReason::Compromised,
                    &a2,
                )
                .unwrap(),
            ),
            Entry::KeyRegistration(KeyRegistration::operator(ORIGIN, "bob", &a3).unwrap()),
        ];
        for (i, e) in entries.iter().enumerate() {
            s.keys.apply(e, i as u64 + 1).unwrap();
        }
        let release = sealwax_proto::entry::Release {
            origin: ORIGIN.into(),
            publisher: "bob".into(),
            package: "tool".into(),
            version: "1.0.0".into(),
            sha256: [5; 32],
        };
        let sig = sealwax_proto::entry::SignatureEntry::sign(&a3, &release, [6; 64]).unwrap();
        s.keys.apply(&Entry::Signature(sig), 5).unwrap();
        s.checkpoint = Some("sealwax.test/log\n13\nAAAA\n\n— x AAAA\n".into());
        s.learned
            .insert("alice".into(), BTreeSet::from([a2.public_key().key_hash()]));
        s.health = Health {
            last_contact: 100,
            last_growth: 90,
            unreachable_alerted: false,
            stale_alerted: true,
        };
        s.directory_leaves = 5;
        s.directory_seen = true;
        s
    }

    #[test]
    fn round_trip_through_json() {
        let s = sample_state();
        let releases: Vec<u8> = s
            .keys
            .releases()
            .iter()
            .flat_map(|(d, r)| encode_release(d, r))
            .collect();
        let back = State::from_json(&s.to_json(), &releases).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.range.root(), s.range.root());
        let alice = back.keys.get("alice").unwrap();
        assert_eq!(alice.keys().len(), 2);
        assert!(alice.keys()[0].compromised_at.is_some());
        assert!(
            alice.keys()[1].suspended.is_some(),
            "chained from the compromised key"
        );
        assert_eq!(back.keys.releases().len(), 1);
        // Fewer release records than the state names: refused.
        assert!(State::from_json(&s.to_json(), &releases[..10]).is_err());
    }

    #[test]
    fn save_and_load_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::open(dir.path()).unwrap();
        assert_eq!(sd.load().unwrap(), None);
        let s = sample_state();
        sd.save(&s).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [LOCK_FILE, RELEASES_FILE, STATE_FILE],
            "the temp file was renamed"
        );
        assert_eq!(sd.load().unwrap(), Some(s.clone()));
        let mut s2 = s;
        s2.range.append([7; 32], |_, _, _| {});
        sd.save(&s2).unwrap();
        assert_eq!(sd.load().unwrap().unwrap().size(), 14);
        // A crash's leftover tail in releases.bin is ignored, then cut.
        let rel = dir.path().join(RELEASES_FILE);
        let mut f = OpenOptions::new().append(true).open(&rel).unwrap();
        f.write_all(&[9; 100]).unwrap();
        drop(f);
        let loaded = sd.load().unwrap().unwrap();
        assert_eq!(loaded, s2);
        sd.save(&loaded).unwrap();
        assert_eq!(
            std::fs::metadata(&rel).unwrap().len(),
            RELEASE_RECORD as u64
        );
    }

    #[test]
    fn progress_round_trips_beside_the_verified_state() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::open(dir.path()).unwrap();
        let verified = sample_state();
        let mut progress_keys = verified.keys.clone();
        progress_keys.insert_release(
            [8; 32],
            ReleaseRecord {
                index: 20,
                sha256: [9; 32],
            },
        );
        let mut range = verified.range.clone();
        range.append([7; 32], |_, _, _| {});
        let mut s = verified.clone();
        s.progress = Some(Progress {
            checkpoint: "target".into(),
            range,
            keys: progress_keys,
            learned: BTreeMap::new(),
            learning: BTreeMap::from([("bob".to_string(), BTreeSet::from([[4; 32]]))]),
            duplicate: Some(([5; 32], 3)),
            budget_alerted: false,
            directory_leaves: 9,
        });
        sd.save(&s).unwrap();
        let back = sd.load().unwrap().unwrap();
        assert_eq!(back, s);
        assert_eq!(back.keys.releases().len(), 1, "the verified releases");
        assert_eq!(back.progress.as_ref().unwrap().keys.releases().len(), 2);
        // Dropping the progress cuts its releases off again.
        let mut dropped = back;
        dropped.progress = None;
        sd.save(&dropped).unwrap();
        assert_eq!(sd.load().unwrap().unwrap(), verified);
        assert_eq!(
            std::fs::metadata(dir.path().join(RELEASES_FILE))
                .unwrap()
                .len(),
            RELEASE_RECORD as u64
        );
    }

    #[test]
    fn second_monitor_is_locked_out() {
        let dir = tempfile::tempdir().unwrap();
        let _first = StateDir::open(dir.path()).unwrap();
        let err = StateDir::open(dir.path()).unwrap_err();
        assert!(matches!(err, MonitorError::StateLocked { .. }), "{err}");
    }

    #[test]
    fn damaged_state_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::open(dir.path()).unwrap();
        let mut json: serde_json::Value =
            serde_json::from_slice(&sample_state().to_json()).unwrap();
        json["tree_size"] = 12.into();
        std::fs::write(
            dir.path().join(STATE_FILE),
            serde_json::to_vec(&json).unwrap(),
        )
        .unwrap();
        let err = sd.load().unwrap_err().to_string();
        assert!(
            err.contains("damaged") && err.contains("right-edge"),
            "{err}"
        );
        std::fs::write(dir.path().join(STATE_FILE), b"{").unwrap();
        assert!(matches!(
            sd.load().unwrap_err(),
            MonitorError::StateCorrupt { .. }
        ));
    }
}
