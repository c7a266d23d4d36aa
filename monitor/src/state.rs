//! The monitor's persistent state, in `--state DIR`.
//!
//! `DIR/state.json` holds the last verified checkpoint (verbatim signed note),
//! the compact range of its tree, every publisher's key history, the keys
//! learned for `learn = true` watches, and health bookkeeping. It is written
//! atomically: to `state.json.tmp`, fsync, rename over `state.json`, fsync
//! of the directory. `DIR/lock` is held (advisory lock) while a monitor runs,
//! so two monitors never share a state.
//!
//! Invariant: the state only ever holds a checkpoint the monitor verified,
//! and it is saved only after the alerts that led to it were delivered.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use sealwax_proto::entry::{
    AuthorizedBy, KeyRecord, PublisherKeys, RevocationReason, RevocationRecord,
};
use sealwax_proto::merkle::CompactRange;
use sealwax_proto::minisign::PublicKey;
use sealwax_proto::Hash;
use serde::{Deserialize, Serialize};

use crate::watch::KeyBook;
use crate::MonitorError;

/// Version of the state file format.
pub const STATE_VERSION: u32 = 1;

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
    pub keys: KeyBook,
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
            keys: KeyBook::default(),
            learned: BTreeMap::new(),
            health: Health::default(),
        }
    }

    /// The size of the last verified tree.
    pub fn size(&self) -> u64 {
        self.range.size()
    }

    /// Serialises to the file format.
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
                .map(|p| {
                    (
                        p.publisher.clone(),
                        p.keys.iter().map(KeyFile::from).collect(),
                    )
                })
                .collect(),
            learned: self
                .learned
                .iter()
                .map(|(p, keys)| (p.clone(), keys.iter().map(hex::encode).collect()))
                .collect(),
            health: self.health,
        };
        serde_json::to_vec_pretty(&file).expect("the state always serialises")
    }

    /// Parses the file format; `Err` says what is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<State, String> {
        let file: StateFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
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
        let mut keys = KeyBook::default();
        for (publisher, records) in file.publishers {
            let mut pk = PublisherKeys::new(&publisher);
            for r in records {
                pk.keys.push(
                    r.to_record()
                        .map_err(|e| format!("publisher {publisher:?}: {e}"))?,
                );
            }
            keys.insert(pk).map_err(|e| e.to_string())?;
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
    publishers: BTreeMap<String, Vec<KeyFile>>,
    learned: BTreeMap<String, Vec<String>>,
    health: Health,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    /// Minisign public key, base64 line.
    key: String,
    registered_at: u64,
    /// "claim", "chain" or "operator".
    authorization: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorized_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked: Option<RevokedFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokedFile {
    index: u64,
    /// "retired" or "compromised".
    reason: String,
    /// Key hash of the revoking key; absent for the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    by: Option<String>,
}

impl From<&KeyRecord> for KeyFile {
    fn from(r: &KeyRecord) -> KeyFile {
        let authorized_by = match r.authorization {
            AuthorizedBy::Chain(h) => Some(hex::encode(h)),
            AuthorizedBy::Claim | AuthorizedBy::Operator => None,
        };
        KeyFile {
            key: r.key.to_base64(),
            registered_at: r.registered_at,
            authorization: r.authorization.kind().to_string(),
            authorized_by,
            revoked: r.revoked.map(|v| RevokedFile {
                index: v.index,
                reason: v.reason.as_str().to_string(),
                by: v.by.map(hex::encode),
            }),
        }
    }
}

impl KeyFile {
    fn to_record(&self) -> Result<KeyRecord, String> {
        let key = PublicKey::parse(&self.key).map_err(|e| e.to_string())?;
        let authorization = match (self.authorization.as_str(), &self.authorized_by) {
            ("claim", None) => AuthorizedBy::Claim,
            ("operator", None) => AuthorizedBy::Operator,
            ("chain", Some(h)) => AuthorizedBy::Chain(parse_hash(h)?),
            (other, _) => return Err(format!("bad authorization {other:?}")),
        };
        let revoked = match &self.revoked {
            None => None,
            Some(r) => Some(RevocationRecord {
                index: r.index,
                reason: match r.reason.as_str() {
                    "retired" => RevocationReason::Retired,
                    "compromised" => RevocationReason::Compromised,
                    other => return Err(format!("bad revocation reason {other:?}")),
                },
                by: r.by.as_deref().map(parse_hash).transpose()?,
            }),
        };
        Ok(KeyRecord {
            key_hash: key.key_hash(),
            key,
            registered_at: self.registered_at,
            authorization,
            revoked,
        })
    }
}

/// The state directory, locked for as long as this value lives.
#[derive(Debug)]
pub struct StateDir {
    path: PathBuf,
    _lock: File,
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
        State::from_json(&bytes)
            .map(Some)
            .map_err(|reason| MonitorError::StateCorrupt { path: file, reason })
    }

    /// Saves `state` atomically (temp file, fsync, rename, fsync of the directory).
    pub fn save(&self, state: &State) -> Result<(), MonitorError> {
        let tmp = self.path.join(STATE_TMP);
        let dst = self.path.join(STATE_FILE);
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| MonitorError::StateIo { path: p, source }
        };
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&state.to_json()).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, &dst).map_err(io(&dst))?;
        File::open(&self.path)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.path))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealwax_proto::entry::{Entry, KeyRegistration, KeyRevocation};
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
            s.keys.apply(e, &e.publisher(), i as u64 + 1).unwrap();
        }
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
        let back = State::from_json(&s.to_json()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.range.root(), s.range.root());
        let alice = back.keys.get("alice").unwrap();
        assert_eq!(alice.keys.len(), 2);
        assert!(alice.keys[0].revoked.is_some());
        assert!(matches!(
            alice.keys[1].authorization,
            AuthorizedBy::Chain(_)
        ));
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
