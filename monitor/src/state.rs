//! The monitor's persistent state, in `--state DIR`.
//!
//! `DIR/state.json` holds the last verified checkpoint (verbatim signed note),
//! the compact range of its tree, every publisher's key-state record (the
//! canonical one of `sealwax_proto::keys`), the keys learned for
//! `learn = true` watches, and health bookkeeping. It is written
//! atomically: to `state.json.tmp`, fsync, rename over `state.json`, fsync
//! of the directory. The releases bound so far (`P/N@V` → artifact) are
//! appended to `DIR/releases.bin` and synced before `state.json` names
//! their count, so a crash leaves at most an unused tail, cut on load. `DIR/lock` is held (advisory lock) while a monitor runs,
//! so two monitors never share a state.
//!
//! Invariant: the state only ever holds a checkpoint the monitor verified,
//! and it is saved only after the alerts that led to it were delivered.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sealwax_proto::keys::PublisherKeys;
use sealwax_proto::merkle::CompactRange;
use sealwax_proto::rules::{MemoryLogState, ReleaseRecord};
use sealwax_proto::Hash;
use serde::{Deserialize, Serialize};

use crate::MonitorError;

/// Version of the state file format.
pub const STATE_VERSION: u32 = 2;

/// Bound releases, append-only: 72-byte records (name digest, first
/// index, SHA-256); `state.json` says how many belong to the state.
const RELEASES_FILE: &str = "releases.bin";
const RELEASE_RECORD: usize = 72;
const STATE_FILE: &str = "state.json";
const STATE_TMP: &str = "state.json.tmp";
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
        }
    }

    /// The size of the last verified tree.
    pub fn size(&self) -> u64 {
        self.range.size()
    }

    /// Serialises to the file format (everything but the releases, which
    /// [`StateDir::save`] appends to their own file).
    pub fn to_json(&self) -> Vec<u8> {
        let file = StateFile {
            version: STATE_VERSION,
            log_key: self.log_key.clone(),
            origin: self.origin.clone(),
            checkpoint: self.checkpoint.clone(),
            tree_size: self.range.size(),
            compact_range: self.range.hashes().iter().map(hex::encode).collect(),
            publishers: self
                .keys
                .publishers()
                .map(|p| (p.publisher.clone(), B64.encode(p.to_record())))
                .collect(),
            releases: self.keys.releases().len() as u64,
            learned: self
                .learned
                .iter()
                .map(|(p, keys)| (p.clone(), keys.iter().map(hex::encode).collect()))
                .collect(),
            health: self.health,
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
        let mut keys = MemoryLogState::default();
        for (publisher, record) in file.publishers {
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
        let want = usize::try_from(file.releases)
            .ok()
            .and_then(|n| n.checked_mul(RELEASE_RECORD))
            .filter(|&n| n <= releases.len())
            .ok_or_else(|| {
                format!(
                    "the state names {} releases but {RELEASES_FILE} holds {}",
                    file.releases,
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
        let mut learned = BTreeMap::new();
        for (publisher, hashes) in file.learned {
            let set = hashes
                .iter()
                .map(|h| parse_hash(h))
                .collect::<Result<BTreeSet<_>, _>>()?;
            learned.insert(publisher, set);
        }
        Ok(State {
            log_key: file.log_key,
            origin: file.origin,
            checkpoint: file.checkpoint,
            range,
            keys,
            learned,
            health: file.health,
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
            move |source| MonitorError::StateIo { path: p, source }
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
            Err(source) => return Err(MonitorError::StateIo { path: file, source }),
        };
        let releases_path = self.path.join(RELEASES_FILE);
        let releases = match std::fs::read(&releases_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(source) => {
                return Err(MonitorError::StateIo {
                    path: releases_path,
                    source,
                })
            }
        };
        let state = State::from_json(&bytes, &releases)
            .map_err(|reason| MonitorError::StateCorrupt { path: file, reason })?;
        let n = state.keys.releases().len() as u64;
        self.releases_saved
            .store(n, std::sync::atomic::Ordering::SeqCst);
        Ok(Some(state))
    }

    /// Saves `state` atomically (temp file, fsync, rename, fsync of the directory).
    pub fn save(&self, state: &State) -> Result<(), MonitorError> {
        let tmp = self.path.join(STATE_TMP);
        let dst = self.path.join(STATE_FILE);
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| MonitorError::StateIo { path: p, source }
        };
        // The releases first: appended after the saved ones (a crash's
        // leftover tail is cut), synced before state.json counts them.
        let saved = self
            .releases_saved
            .load(std::sync::atomic::Ordering::SeqCst);
        let all = state.keys.releases();
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
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&state.to_json()).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, &dst).map_err(io(&dst))?;
        File::open(&self.path)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.path))?;
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
        assert!(
            !dir.path().join(STATE_TMP).exists(),
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
