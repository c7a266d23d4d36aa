//! The key directory audit: the monitor's own copy of the log's directory.
//!
//! Every entry the monitor replays sets directory leaves through the log's
//! own fold ([`sealwax_proto::directory::LeafFold`], in [`crate::watch`]);
//! they go into a [`CompactDirectory`] (about 70 bytes a leaf, only its
//! root's upper levels stored). At every checkpoint the monitor verifies,
//! the directory's root must be the one its `sealwax-directory` line signs
//! ([`crate::follow`] raises `directory-mismatch` otherwise).
//!
//! To name what differs, the monitor asks the log's JSON API for the
//! directory proofs, at the checkpoint's size, of the leaves that changed
//! since the last checkpoint that matched ([`PROBE_LIMIT`] at most,
//! publishers first), and checks each against the signed root: with the
//! monitor's value (the leaf agrees), with the log's own value (the leaf
//! differs: the log's directory holds another value), or with neither (the
//! log's proofs do not lead to the root it signed).
//!
//! State: every leaf change is appended, 64 bytes (key, value), to
//! `DIR/directory.bin` and synced before `state.json` counts it, as
//! `releases.bin` is; a restart rebuilds the directory from the counted
//! records (the last value of a key wins) instead of replaying the log.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use sealwax_proto::directory::{verify, CompactDirectory, DirectoryProof, Key};
use sealwax_proto::keys::record_hash;
use sealwax_proto::rules::{ReleaseName, ReleaseRecord};
use sealwax_proto::wire::{PublisherKeysAnswer, ReleaseAnswer};
use sealwax_proto::Hash;

use crate::source::LogSource;
use crate::MonitorError;

/// The leaf changes file in the state directory.
pub const DIRECTORY_FILE: &str = "directory.bin";

/// Bytes of one record: key, value.
const RECORD: usize = 64;

/// At most this many leaves are probed to name the one that differs.
pub const PROBE_LIMIT: usize = 64;

/// The monitor's directory and its journal of leaf changes.
#[derive(Debug)]
pub struct Audit {
    tree: CompactDirectory,
    path: PathBuf,
    /// Records in the file that belong to the last saved state.
    saved: u64,
    /// Changes in `tree` not yet in the file.
    unsaved: Vec<(Key, Hash)>,
    /// Publishers and releases whose leaves changed since the last
    /// verified checkpoint (releases: the first [`PROBE_LIMIT`]).
    changed: Changed,
}

/// Names of changed leaves, to probe.
#[derive(Debug, Default)]
pub struct Changed {
    /// Publishers whose key state changed.
    pub publishers: BTreeSet<String>,
    /// Releases bound, the first [`PROBE_LIMIT`].
    pub releases: Vec<ReleaseName>,
}

impl Changed {
    /// Adds the names `other` noted.
    pub fn merge(&mut self, other: Changed) {
        self.publishers.extend(other.publishers);
        let room = PROBE_LIMIT.saturating_sub(self.releases.len());
        self.releases.extend(other.releases.into_iter().take(room));
    }

    /// Notes a changed publisher (`Some`) or a bound release.
    pub fn note(&mut self, publisher: Option<&str>, release: Option<ReleaseName>) {
        if let Some(p) = publisher {
            self.publishers.insert(p.to_string());
        }
        if let Some(r) = release.filter(|_| self.releases.len() < PROBE_LIMIT) {
            self.releases.push(r);
        }
    }
}

impl Audit {
    /// Loads the first `count` records of `dir/directory.bin` (none if it is absent).
    pub fn load(dir: &Path, count: u64) -> Result<Audit, MonitorError> {
        let path = dir.join(DIRECTORY_FILE);
        let mut audit = Audit {
            tree: CompactDirectory::new(),
            path,
            saved: 0,
            unsaved: Vec::new(),
            changed: Changed::default(),
        };
        audit.rebuild(count)?;
        Ok(audit)
    }

    /// Rebuilds the tree from the first `count` records of the file.
    fn rebuild(&mut self, count: u64) -> Result<(), MonitorError> {
        self.tree = CompactDirectory::new();
        self.unsaved.clear();
        self.saved = count;
        if count == 0 {
            return Ok(());
        }
        let corrupt = |reason: String| MonitorError::StateCorrupt {
            path: self.path.clone(),
            reason,
        };
        let mut f = std::fs::File::open(&self.path)
            .map_err(|e| corrupt(format!("the state counts {count} directory leaves: {e}")))?;
        let mut buf = vec![0u8; RECORD * 4096];
        let mut left = count as usize;
        while left > 0 {
            let n = left.min(4096);
            f.read_exact(&mut buf[..n * RECORD]).map_err(|e| {
                corrupt(format!(
                    "it holds fewer than the {count} leaves the state counts: {e}"
                ))
            })?;
            self.tree
                .insert_batch(buf[..n * RECORD].chunks_exact(RECORD).map(split));
            left -= n;
        }
        Ok(())
    }

    /// Records in the journal: saved and not yet saved.
    pub fn count(&self) -> u64 {
        self.saved + self.unsaved.len() as u64
    }

    /// Applies leaf changes (the values of a checkpoint not yet verified).
    pub fn apply(&mut self, changes: Vec<(Key, Hash)>) {
        self.tree.insert_batch(changes.iter().copied());
        self.unsaved.extend(changes);
    }

    /// Where the names of changed leaves are noted.
    pub fn changed_mut(&mut self) -> &mut Changed {
        &mut self.changed
    }

    /// The root of the directory as applied so far.
    pub fn root(&mut self) -> Hash {
        self.tree.root()
    }

    /// The value of `key`.
    pub fn get(&self, key: &Key) -> Option<Hash> {
        self.tree.get(key)
    }

    /// The directory matched a verified checkpoint: forget the changed names.
    pub fn verified(&mut self) {
        self.changed = Changed::default();
    }

    /// Goes back to the first `count` records (a checkpoint that did not
    /// verify), rereading them from the file if the tree went beyond.
    pub fn revert_to(&mut self, count: u64) -> Result<(), MonitorError> {
        if self.count() == count {
            return Ok(());
        }
        if count >= self.saved {
            self.unsaved.truncate((count - self.saved) as usize);
            let (saved, unsaved) = (self.saved, std::mem::take(&mut self.unsaved));
            self.rebuild(saved)?;
            self.apply(unsaved);
            return Ok(());
        }
        self.rebuild(count)
    }

    /// Appends the unsaved records after the saved ones (cutting a crash's
    /// leftover tail) and syncs them: call before `state.json` counts them.
    pub fn flush(&mut self) -> Result<(), MonitorError> {
        let io = |cause| MonitorError::StateIo {
            path: self.path.clone(),
            cause,
        };
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.path)
            .map_err(io)?;
        f.set_len(self.saved * RECORD as u64).map_err(io)?;
        f.seek(std::io::SeekFrom::End(0)).map_err(io)?;
        let mut buf = Vec::with_capacity(self.unsaved.len() * RECORD);
        for (k, v) in &self.unsaved {
            buf.extend_from_slice(k);
            buf.extend_from_slice(v);
        }
        f.write_all(&buf).map_err(io)?;
        f.sync_all().map_err(io)?;
        self.saved += self.unsaved.len() as u64;
        self.unsaved.clear();
        Ok(())
    }
}

fn split(record: &[u8]) -> (Key, Hash) {
    let (k, v) = record.split_at(32);
    (
        k.try_into().expect("32 bytes"),
        v.try_into().expect("32 bytes"),
    )
}

/// A leaf whose proof at the checkpoint does not agree with the monitor's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// `publisher P` or `release P/N@V`.
    pub leaf: String,
    /// The publisher.
    pub publisher: String,
    /// The release, for a release leaf.
    pub release: Option<ReleaseName>,
    /// What the log's proof shows.
    pub finding: String,
}

/// What probing the changed leaves found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeResult {
    /// A leaf differs.
    Differs(Difference),
    /// Every probed leaf's proof leads to the signed root with the monitor's value.
    NoneDiffers(usize),
    /// The log's JSON API could not be asked (a mirror serves no proofs).
    Unavailable(String),
}

/// Asks the log for the proofs at `size` of the leaves in `changed` and
/// checks them against `signed` (the checkpoint's directory root) and
/// `ours` (the monitor's), with the monitor's values from `audit`.
pub async fn probe(
    source: &LogSource,
    audit: &Audit,
    size: u64,
    signed: &Hash,
    ours: &Hash,
) -> ProbeResult {
    let c = &audit.changed;
    let publishers = c.publishers.iter().map(|p| (p.clone(), None));
    let releases = c.releases.iter().map(|r| (r.publisher.clone(), Some(r)));
    let mut probed = 0;
    for (publisher, release) in publishers.chain(releases).take(PROBE_LIMIT) {
        let asked = match release {
            None => ask_publisher(source, &publisher, size).await,
            Some(r) => ask_release(source, r, size).await,
        };
        let (key, theirs, proof) = match asked {
            Ok(a) => a,
            Err(e) => return ProbeResult::Unavailable(e.to_string()),
        };
        probed += 1;
        let mine = audit.get(&key);
        if verify(signed, &key, mine.as_ref(), &proof).is_ok() {
            continue;
        }
        let leaf = match release {
            None => format!("publisher {publisher:?}"),
            Some(r) => format!("release {r}"),
        };
        let finding = judge(signed, ours, &key, mine, theirs, &proof);
        return ProbeResult::Differs(Difference {
            leaf,
            publisher,
            release: release.cloned(),
            finding,
        });
    }
    ProbeResult::NoneDiffers(probed)
}

/// Says what a proof that does not show the monitor's value under the signed root shows instead.
fn judge(
    signed: &Hash,
    ours: &Hash,
    key: &Key,
    mine: Option<Hash>,
    theirs: Option<Hash>,
    proof: &DirectoryProof,
) -> String {
    let show = |v: Option<Hash>| v.map_or("no leaf".to_string(), hex::encode);
    if verify(signed, key, theirs.as_ref(), proof).is_ok() {
        format!(
            "the log's directory holds {} for it where the entries give {}",
            show(theirs),
            show(mine)
        )
    } else if verify(ours, key, mine.as_ref(), proof).is_ok() {
        "the log's own proof for it leads to the root the entries give, not to the one the checkpoint signs: the checkpoint's directory line was replaced".to_string()
    } else {
        "the log's proof for it leads to neither the signed root nor the one the entries give"
            .to_string()
    }
}

/// The publisher's key-state leaf as the log proves it at `size`.
async fn ask_publisher(
    source: &LogSource,
    publisher: &str,
    size: u64,
) -> Result<(Key, Option<Hash>, DirectoryProof), MonitorError> {
    let path = format!("v1/publishers/{publisher}/keys?tree_size={size}");
    let a: PublisherKeysAnswer = source.api_json(&path).await?;
    let bad = |reason: &str| MonitorError::Unreachable {
        url: format!("{}{path}", source.api_url().unwrap_or(source.url())),
        reason: reason.to_string(),
    };
    let proof = a
        .directory_proof
        .ok_or(bad("the answer has no directory proof"))?;
    let theirs = match &a.record {
        Some(r) => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(r)
                .map_err(|_| bad("its record is not base64"))?;
            Some(record_hash(&bytes))
        }
        None => None,
    };
    Ok((
        sealwax_proto::directory::publisher_key(publisher),
        theirs,
        proof,
    ))
}

/// The release's leaf as the log proves it at `size`.
async fn ask_release(
    source: &LogSource,
    r: &ReleaseName,
    size: u64,
) -> Result<(Key, Option<Hash>, DirectoryProof), MonitorError> {
    let path = format!(
        "v1/releases/{}/{}/{}?tree_size={size}",
        r.publisher, r.package, r.version
    );
    let a: ReleaseAnswer = source.api_json(&path).await?;
    let theirs = a.record.map(|rec| {
        ReleaseRecord {
            index: rec.index,
            sha256: rec.sha256,
        }
        .record_hash()
    });
    Ok((
        sealwax_proto::directory::release_key(r),
        theirs,
        a.directory_proof,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(i: u8) -> (Key, Hash) {
        ([i; 32], [i.wrapping_add(100); 32])
    }

    #[test]
    fn the_journal_survives_a_reload_and_reverts() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Audit::load(dir.path(), 0).unwrap();
        a.apply(vec![leaf(1), leaf(2)]);
        a.flush().unwrap();
        let two = a.root();
        a.apply(vec![leaf(3), (leaf(1).0, [7; 32])]);
        a.flush().unwrap();
        let four = a.root();
        assert_ne!(two, four);
        // A reload of the four records: the last value of key 1 wins.
        let mut b = Audit::load(dir.path(), 4).unwrap();
        assert_eq!(b.root(), four);
        assert_eq!(b.get(&leaf(1).0), Some([7; 32]));
        // Back to the state that counted two, saved or not.
        b.apply(vec![leaf(4)]);
        b.revert_to(2).unwrap();
        assert_eq!((b.root(), b.count()), (two, 2));
        b.apply(vec![leaf(5)]);
        b.revert_to(3).unwrap();
        assert_eq!(b.count(), 3);
        // The file is cut back at the next flush: a reload sees three.
        b.flush().unwrap();
        assert_eq!(
            std::fs::metadata(dir.path().join(DIRECTORY_FILE))
                .unwrap()
                .len(),
            3 * RECORD as u64
        );
        let mut c = Audit::load(dir.path(), 3).unwrap();
        assert_eq!(c.root(), b.root());
        assert!(
            Audit::load(dir.path(), 5).is_err(),
            "fewer records than counted"
        );
    }
}
