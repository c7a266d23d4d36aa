//! The key directory: a sparse Merkle tree over 256-bit keys, committed in
//! every checkpoint, that proves a publisher's whole key state and the one
//! artifact of each release, or that there is none.
//!
//! The log folds entries into two kinds of leaf, and a checkpoint's
//! `sealwax-directory` extension line ([`crate::checkpoint`]) commits to the
//! root as of its tree size:
//!
//! ```text
//! publisher key = SHA-256("sealwax/v1 publisher" || 0x00 || publisher)
//! release key   = SHA-256("sealwax/v1 release" || 0x00 || "P/N@V")
//! key-state value = PublisherKeys::record_hash()  (crate::keys)
//! release value   = ReleaseRecord::record_hash()  (crate::rules)
//!
//! empty subtree = 32 zero bytes
//! leaf hash     = SHA-256("sealwax/v1 directory leaf" || 0x00 || key || value)
//! node hash     = SHA-256("sealwax/v1 directory node" || 0x00 || left || right)
//! ```
//!
//! Bit `d` of a key is bit `7 - d % 8` of byte `d / 8` (most significant
//! first); bit 0 chooses the root's side (0 left, 1 right). The tree's shape
//! depends only on its set of keys: a subtree with no key is empty, a
//! subtree with one key is that key's leaf (at whatever depth), and a
//! subtree with two or more keys is a node of its two halves. So the root
//! is the same whatever order the keys went in, and a path is as long as
//! the key's shortest prefix no other key shares (about log2 of the number
//! of keys, at most 256).
//!
//! A [`DirectoryProof`] walks a key's path from the root: the sibling hashes
//! met on the way, and where the path ends (the key's own leaf, an empty
//! subtree, or another key's leaf). [`verify`] is the one check every
//! party runs. [`update`] and [`prove`] work on nodes read through a
//! [`NodeReader`], so the log can keep them in its store; [`Directory`]
//! keeps them in memory, and [`CompactDirectory`] keeps only the root's
//! upper levels and the sorted leaves (for monitors, which need the root). `docs/FORMATS.md` ("The key directory") has every
//! byte.

mod check;
mod compact;
mod proof;
mod tree;

use sha2::{Digest, Sha256};

use std::collections::BTreeSet;

use crate::entry::Entry;
use crate::keys::PublisherKeys;
use crate::rules::{apply_entry, Applied, ApplyError, MemoryLogState, ReleaseName, ReleaseRecord};
use crate::{Error, Hash};

pub use check::{check_key_state, check_release, KeyStateMismatch, ReleaseMismatch};
pub use compact::CompactDirectory;
pub use proof::{verify, DirectoryProof, Terminal, MAX_PROOF_LEN};
pub use tree::{prove, update, Directory, Node, NodePath, NodeReader, Update};

/// A directory key: 256 bits, the SHA-256 of a publisher's or a release's name.
pub type Key = Hash;

/// The hash of an empty subtree (and the root of the empty directory): 32 zero bytes.
pub const EMPTY: Hash = [0; 32];

/// The most levels a path can have: one per bit of a key.
pub const MAX_DEPTH: u16 = 256;

/// Domain prefix of [`publisher_key`].
pub const PUBLISHER_KEY_DOMAIN: &[u8] = b"sealwax/v1 publisher\0";

/// Domain prefix of [`release_key`].
pub const RELEASE_KEY_DOMAIN: &[u8] = b"sealwax/v1 release\0";

/// Domain prefix of [`leaf_hash`].
pub const LEAF_DOMAIN: &[u8] = b"sealwax/v1 directory leaf\0";

/// Domain prefix of [`node_hash`].
pub const NODE_DOMAIN: &[u8] = b"sealwax/v1 directory node\0";

/// The key of a publisher's key-state leaf: `SHA-256("sealwax/v1 publisher" || 0x00 || publisher)`.
pub fn publisher_key(publisher: &str) -> Key {
    tagged(PUBLISHER_KEY_DOMAIN, publisher.as_bytes(), &[])
}

/// The key of a release's leaf: `SHA-256("sealwax/v1 release" || 0x00 || "P/N@V")`.
///
/// Valid names contain no `/` or `@`, so the text names one release.
pub fn release_key(name: &ReleaseName) -> Key {
    tagged(RELEASE_KEY_DOMAIN, name.to_string().as_bytes(), &[])
}

/// The key-state leaf of a publisher: its key and the hash of its record.
pub fn publisher_leaf(keys: &PublisherKeys) -> (Key, Hash) {
    (publisher_key(&keys.publisher), keys.record_hash())
}

/// The leaf of a release bound to `record`: its key and the record's hash.
pub fn release_leaf(name: &ReleaseName, record: &ReleaseRecord) -> (Key, Hash) {
    (release_key(name), record.record_hash())
}

/// Folds log entries into the directory leaves they set, with the same
/// rules ([`apply_entry`]) the log sequences them with: a key event sets
/// its publisher's key-state leaf, a release's first signature sets the
/// release's leaf, and a later signature of a release sets nothing.
///
/// Monitors and the crash-loop harness recompute a log's directory with
/// it; the log itself, whose state lives in its store, sets the same
/// leaves through [`publisher_leaf`] and [`release_leaf`].
#[derive(Debug, Default)]
pub struct LeafFold {
    state: MemoryLogState,
    touched: BTreeSet<String>,
    releases: Vec<(Key, Hash)>,
}

impl LeafFold {
    /// An empty log.
    pub fn new() -> LeafFold {
        LeafFold::default()
    }

    /// Goes on from `state`, a log folded before (its leaves already taken).
    pub fn resume(state: MemoryLogState) -> LeafFold {
        LeafFold {
            state,
            ..LeafFold::default()
        }
    }

    /// The log state folded so far, to keep (changes not taken are dropped).
    pub fn into_state(self) -> MemoryLogState {
        self.state
    }

    /// Applies `entry` (its signatures already verified) at `index`; on a
    /// broken rule nothing changes.
    pub fn apply(&mut self, entry: &Entry, index: u64) -> std::result::Result<Applied, Error> {
        let applied = apply_entry(&mut self.state, entry, index).map_err(|e| match e {
            ApplyError::Rule(e) => e,
            ApplyError::State(never) => match never {},
        })?;
        match &applied {
            Applied::Key { publisher, .. } => {
                self.touched.insert(publisher.clone());
            }
            Applied::Signature { release, first } => {
                if *first {
                    let name = ReleaseName::of(release);
                    let record = self
                        .state
                        .release_record(&name)
                        .expect("a release is bound by its first signature");
                    self.releases.push(release_leaf(&name, &record));
                }
            }
        }
        Ok(applied)
    }

    /// The leaves set since the last call, each once with its latest value.
    pub fn take_changes(&mut self) -> Vec<(Key, Hash)> {
        let mut out = std::mem::take(&mut self.releases);
        for p in std::mem::take(&mut self.touched) {
            if let Some(keys) = self.state.get(&p) {
                out.push(publisher_leaf(keys));
            }
        }
        out
    }

    /// The log state folded so far.
    pub fn state(&self) -> &MemoryLogState {
        &self.state
    }
}

/// The hash of the leaf of `key` holding `value`.
pub fn leaf_hash(key: &Key, value: &Hash) -> Hash {
    tagged(LEAF_DOMAIN, key, value)
}

/// The hash of a node whose children hash to `left` and `right` ([`EMPTY`] for an empty side).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    tagged(NODE_DOMAIN, left, right)
}

/// Bit `depth` of `key`, most significant first: `true` is the right side.
pub fn key_bit(key: &Key, depth: u16) -> bool {
    let d = usize::from(depth);
    key[d / 8] & (0x80 >> (d % 8)) != 0
}

/// How many leading bits `a` and `b` share (256 when they are equal).
pub fn common_prefix_bits(a: &Key, b: &Key) -> u16 {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let diff = x ^ y;
        if diff != 0 {
            return (i * 8) as u16 + diff.leading_zeros() as u16;
        }
    }
    MAX_DEPTH
}

fn tagged(domain: &[u8], a: &[u8], b: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(domain);
    h.update(a);
    h.update(b);
    h.finalize().into()
}
