//! What this client has verified about each publisher of a log: its key
//! state (the canonical record of `sealwax_proto::keys`) at the newest tree
//! size it was proven at, and the artifact of every release it installed.
//!
//! Every later answer of the log must extend it: a key, re-vouching or
//! revocation recorded here that the log's answer lacks, or a release that
//! now names other bytes, is the log misbehaving (exit 3), whatever proofs
//! the answer carries. Offline `verify` decides with it too, so `install`
//! and `verify` apply the same revocations.
//!
//! One file per publisher, `publishers/<publisher>.json`, written atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use sealwax_proto::keys::PublisherKeys;
use sealwax_proto::rules::{ReleaseName, ReleaseRecord};

use crate::atomic::{read_optional, write_atomic, MODE_PUBLIC};
use crate::error::{ClientError, Result};

/// The recorded state of one publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Its key state, as proven.
    pub keys: PublisherKeys,
    /// The tree size it was proven at.
    pub tree_size: u64,
    /// Releases installed: `package@version` → artifact.
    pub releases: BTreeMap<String, ReleaseRecord>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    tree_size: u64,
    /// The canonical key-state record, base64.
    record: String,
    #[serde(default)]
    releases: BTreeMap<String, ReleaseFile>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseFile {
    index: u64,
    sha256: String,
}

/// The per-publisher records of one log.
#[derive(Debug, Clone)]
pub struct KeyStateStore {
    dir: PathBuf,
}

impl KeyStateStore {
    /// The store in `dir` (`<log dir>/publishers`).
    pub fn new(dir: &Path) -> KeyStateStore {
        KeyStateStore {
            dir: dir.to_path_buf(),
        }
    }

    fn path(&self, publisher: &str) -> PathBuf {
        // Publisher names are validated by proto: a file name is safe.
        self.dir.join(format!("{publisher}.json"))
    }

    /// The recorded state of `publisher`, if any.
    pub fn load(&self, publisher: &str) -> Result<Option<Recorded>> {
        let path = self.path(publisher);
        let Some(text) = read_optional(&path)? else {
            return Ok(None);
        };
        let bad = |reason: String| ClientError::BadStateFile {
            path: path.clone(),
            reason,
        };
        let f: File = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let bytes = B64
            .decode(&f.record)
            .map_err(|e| bad(format!("the record is not base64: {e}")))?;
        let keys = PublisherKeys::from_record(&bytes).map_err(|e| bad(e.to_string()))?;
        if keys.publisher != publisher {
            return Err(bad(format!("it describes publisher {:?}", keys.publisher)));
        }
        let mut releases = BTreeMap::new();
        for (name, r) in f.releases {
            let mut sha256 = [0u8; 32];
            hex::decode_to_slice(&r.sha256, &mut sha256)
                .map_err(|_| bad(format!("release {name}: sha256 is not 64 hex digits")))?;
            releases.insert(
                name,
                ReleaseRecord {
                    index: r.index,
                    sha256,
                },
            );
        }
        Ok(Some(Recorded {
            keys,
            tree_size: f.tree_size,
            releases,
        }))
    }

    /// Writes the record of `publisher` atomically.
    pub fn save(&self, rec: &Recorded) -> Result<()> {
        let f = File {
            tree_size: rec.tree_size,
            record: B64.encode(rec.keys.to_record()),
            releases: rec
                .releases
                .iter()
                .map(|(n, r)| {
                    (
                        n.clone(),
                        ReleaseFile {
                            index: r.index,
                            sha256: hex::encode(r.sha256),
                        },
                    )
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&f).expect("the record serialises");
        write_atomic(
            &self.path(&rec.keys.publisher),
            text.as_bytes(),
            MODE_PUBLIC,
        )
    }
}

impl Recorded {
    /// Checks that `name` is bound to `record`'s artifact if this client saw
    /// it before; the contradiction, if not.
    pub fn contradicts_release(
        &self,
        name: &ReleaseName,
        record: &ReleaseRecord,
    ) -> Option<String> {
        let seen = self.releases.get(&release_key(name))?;
        (seen.sha256 != record.sha256).then(|| {
            format!(
                "{name} was installed before with SHA-256 {} (index {}), and the log now shows SHA-256 {} (index {}): a version names one artifact for ever",
                hex::encode(seen.sha256),
                seen.index,
                hex::encode(record.sha256),
                record.index
            )
        })
    }
}

/// The key for a release in [`Recorded::releases`]: `package@version`.
pub fn release_key(name: &ReleaseName) -> String {
    format!("{}@{}", name.package, name.version)
}
