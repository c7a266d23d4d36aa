//! Storage of the log: one trait, two implementations ([`RocksStorage`] on
//! disk and [`MemoryStorage`] for tests), one conformance suite both pass.
//!
//! The sequencer is the only writer. It hands [`Storage::commit`] a whole
//! [`Batch`]: the new entries, the node hashes their tiles are made of, the
//! lookup indexes, and the new tree state with its signed checkpoint. A
//! commit is atomic (all of it or none of it survives a crash) and durable
//! (it has reached the disk when `commit` returns).
//!
//! Every node hash of the tree is stored, so a C2SP tile (tile level L holds
//! tree level 8·L) is one range read and a proof node is one point read.
//! A backend may also keep each complete tile's whole [`Subtree`] together
//! (RocksDB does), so that the bottom eight levels of a proof's path take
//! one read whatever the tree size. Logs written before every level was
//! stored lack the other levels for their older entries; readers compute
//! those from the tile levels.
//!
//! Readers never see a half-written batch, but they may see a batch before
//! the sequencer publishes its checkpoint; everything served is therefore
//! bounded by the published tree size, never by what storage holds.

mod memory;
mod rocks;

#[cfg(test)]
pub(crate) mod conformance;

pub use memory::MemoryStorage;
pub use rocks::RocksStorage;

use sealwax_proto::directory::NodePath;
use sealwax_proto::merkle::CompactRange;
use sealwax_proto::tile::{TILE_HEIGHT, TILE_WIDTH};
use sealwax_proto::Hash;
use thiserror::Error;

/// The persisted state of the tree: its size, its right edge and the one
/// checkpoint ever signed for that size.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeState {
    /// Tree size.
    pub size: u64,
    /// The compact range `[0, size)`: one subtree root per set bit of `size`, largest first.
    pub range: Vec<Hash>,
    /// The signed checkpoint (signed-note text) for this size.
    pub checkpoint: String,
}

/// A node hash of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeHash {
    /// Tree level (0 = leaves).
    pub level: u8,
    /// Index within the level.
    pub index: u64,
    /// The hash.
    pub hash: Hash,
}

/// Every node of one complete tile: its 256 base hashes (tree level
/// `8·L`), the 128 above them, and so on up to its root (level `8·L + 8`),
/// 511 hashes in all, level by level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subtree(Vec<u8>);

impl Subtree {
    /// Number of hashes in a subtree.
    pub const LEN: usize = 2 * TILE_WIDTH as usize - 1;

    /// A subtree from its hashes, level by level; `None` unless there are [`LEN`](Subtree::LEN).
    pub fn from_hashes(hashes: &[Hash]) -> Option<Subtree> {
        (hashes.len() == Self::LEN).then(|| Subtree(hashes.concat()))
    }

    /// The hash at height `h` (0 = the tile's base, 8 = its root) and
    /// position `i` within that height, if the subtree has it.
    pub fn get(&self, h: u8, i: u64) -> Option<Hash> {
        let width = TILE_WIDTH.checked_shr(h.into())?;
        if h > TILE_HEIGHT || i >= width {
            return None;
        }
        // Heights below `h` take 256 + 128 + ... = 512 - 512 >> h slots.
        let slot = 2 * TILE_WIDTH - ((2 * TILE_WIDTH) >> h) + i;
        let at = usize::try_from(slot).ok()? * 32;
        self.0.get(at..at + 32)?.try_into().ok()
    }

    /// Assembles the subtree of tile `tile_index` at `tile_level` row by
    /// row, from `row(level, start, end)`: the stored prefix of the node
    /// hashes `[start, end)` of a level. `None` if a row comes back short.
    pub fn assemble(
        tile_level: u8,
        tile_index: u64,
        mut row: impl FnMut(u8, u64, u64) -> StorageResult<Vec<Hash>>,
    ) -> StorageResult<Option<Subtree>> {
        let mut hashes = Vec::with_capacity(Self::LEN);
        for h in 0..=TILE_HEIGHT {
            let width = TILE_WIDTH >> h;
            let Some(start) = tile_index.checked_mul(width) else {
                return Ok(None);
            };
            let got = row(tile_level * TILE_HEIGHT + h, start, start + width)?;
            if got.len() as u64 != width {
                return Ok(None);
            }
            hashes.extend(got);
        }
        Ok(Self::from_hashes(&hashes))
    }

    /// The subtree's bytes: the hashes concatenated.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Parses [`as_bytes`](Subtree::as_bytes) output.
    pub fn from_bytes(b: &[u8]) -> StorageResult<Subtree> {
        if b.len() != Self::LEN * 32 {
            return Err(StorageError::Corrupt("a stored subtree is not 511 hashes"));
        }
        Ok(Subtree(b.to_vec()))
    }
}

/// One entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// The exact entry bytes (the leaf).
    pub bytes: Vec<u8>,
    /// `SHA-256(0x00 || bytes)`.
    pub leaf_hash: Hash,
}

/// The lookup keys of a logged signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRef {
    /// Log index of the signature entry.
    pub index: u64,
    /// SHA-256 of the signed artifact.
    pub sha256: [u8; 32],
    /// Publisher.
    pub publisher: String,
    /// Package.
    pub package: String,
    /// Version.
    pub version: String,
}

/// Everything one sequencer batch writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// Index of the first new entry (the old tree size).
    pub first_index: u64,
    /// The new entries, at `first_index`, `first_index + 1`, ...
    pub entries: Vec<NewEntry>,
    /// Node hashes completed by the new entries, of every level.
    pub nodes: Vec<NodeHash>,
    /// Key registrations and revocations: (publisher, index).
    pub key_events: Vec<(String, u64)>,
    /// Newly registered keys: (key hash, publisher).
    pub key_owners: Vec<(Hash, String)>,
    /// Newly logged signatures.
    pub signatures: Vec<SignatureRef>,
    /// The key-state record header of every publisher whose keys changed
    /// ([`PublisherKeys::record_header`](sealwax_proto::keys::PublisherKeys::record_header)).
    pub key_states: Vec<(String, Vec<u8>)>,
    /// The record of every key the batch changed: (publisher, key hash,
    /// [`KeyRecord::encode`](sealwax_proto::keys::KeyRecord::encode)).
    pub key_records: Vec<(String, Hash, Vec<u8>)>,
    /// The key directory's groups the batch rewrote (by group path, in the
    /// form [`crate::directory_store::Group::encode`] gives), stored as of
    /// tree size `state.size`; the older versions stay readable.
    pub directory: Vec<(NodePath, Vec<u8>)>,
    /// A new directory horizon ([`Storage::directory_horizon`]), when the
    /// batch moves it on: versions of nodes needed only below it may go.
    pub directory_horizon: Option<u64>,
    /// The tree state after the batch; its checkpoint is also kept by size
    /// ([`Storage::checkpoint_at`]).
    pub state: TreeState,
}

impl Batch {
    /// Appends the entry `bytes` (leaf hash `leaf_hash`) to the batch and to
    /// `range`, the tree the batch extends, with every node hash it completes.
    pub fn append_entry(&mut self, range: &mut CompactRange, bytes: Vec<u8>, leaf_hash: Hash) {
        let nodes = &mut self.nodes;
        range.append(leaf_hash, |level, index, hash| {
            nodes.push(NodeHash {
                level,
                index,
                hash: *hash,
            });
        });
        self.entries.push(NewEntry { bytes, leaf_hash });
    }
}

/// A storage failure. These are the operator's problem, never the client's.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Backend(String),
    /// Stored data that does not decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
    /// A batch that does not start at the stored tree size.
    #[error("batch starts at index {got} but the stored tree has size {expected}")]
    OutOfOrder {
        /// The stored size.
        expected: u64,
        /// The batch's first index.
        got: u64,
    },
    /// A batch whose state size does not match its entries.
    #[error("batch of {entries} entries from index {first} claims tree size {size}")]
    SizeMismatch {
        /// First index.
        first: u64,
        /// Number of entries.
        entries: usize,
        /// Claimed size.
        size: u64,
    },
    /// A second, different checkpoint for a size that already has one.
    #[error("refusing to store a second, different checkpoint for tree size {0}")]
    CheckpointConflict(u64),
}

/// Shorthand for storage results.
pub type StorageResult<T> = Result<T, StorageError>;

/// The log's storage. All methods are blocking; calls are short except
/// [`commit`](Storage::commit), which waits for the disk.
pub trait Storage: Send + Sync + 'static {
    /// The stored tree state; `None` before the first commit.
    fn tree_state(&self) -> StorageResult<Option<TreeState>>;

    /// Writes a batch atomically and durably. Fails without writing anything
    /// if the batch does not start at the stored size, if its state does not
    /// match its entries, or if it would replace the checkpoint of a size
    /// with a different one.
    fn commit(&self, batch: &Batch) -> StorageResult<()>;

    /// The entry at `index`.
    fn entry(&self, index: u64) -> StorageResult<Option<Vec<u8>>>;

    /// The entries from `start` up to `end` (exclusive), stopping at the first missing one.
    fn entries(&self, start: u64, end: u64) -> StorageResult<Vec<Vec<u8>>>;

    /// The index of the entry with this leaf hash.
    fn leaf_index(&self, leaf_hash: &Hash) -> StorageResult<Option<u64>>;

    /// Stored node hashes of `level` from `start` up to `end` (exclusive),
    /// stopping at the first missing one. Levels that are multiples of 8
    /// (the tiles) are always stored; a log written before sealwax stored
    /// every level lacks the others for its older entries.
    fn node_hashes(&self, level: u8, start: u64, end: u64) -> StorageResult<Vec<Hash>>;

    /// The stored node hash at `level`, `index`: a point read, as proofs make.
    fn node_hash(&self, level: u8, index: u64) -> StorageResult<Option<Hash>> {
        match index.checked_add(1) {
            Some(end) => Ok(self.node_hashes(level, index, end)?.first().copied()),
            None => Ok(None),
        }
    }

    /// The whole subtree of a complete tile, as [`Subtree`] lays it out:
    /// `None` while the tile is partial or a node of it is missing. Proofs
    /// read the eight bottom levels of their path with this one read.
    /// The default assembles it from [`node_hashes`](Storage::node_hashes).
    fn subtree(&self, tile_level: u8, tile_index: u64) -> StorageResult<Option<Subtree>> {
        Subtree::assemble(tile_level, tile_index, |level, start, end| {
            self.node_hashes(level, start, end)
        })
    }

    /// The key directory's group record at `group` as of tree size `size`:
    /// the newest version written by a batch that ended at or below `size`.
    fn directory_group(&self, group: &NodePath, size: u64) -> StorageResult<Option<Vec<u8>>>;

    /// The smallest tree size the directory can still be read at: a node
    /// version superseded at or below it may be dropped (RocksDB drops them
    /// as it compacts). 0 until a batch sets it.
    fn directory_horizon(&self) -> StorageResult<u64>;

    /// The checkpoint signed for tree size `size`, if one was (every
    /// batch's is kept).
    fn checkpoint_at(&self, size: u64) -> StorageResult<Option<String>>;

    /// Indexes of the key registrations and revocations of a publisher, ascending.
    fn key_events(&self, publisher: &str) -> StorageResult<Vec<u64>>;

    /// Indexes of a publisher's key events from index `from` on, ascending,
    /// at most `limit` of them: one page of [`key_events`](Storage::key_events).
    fn key_events_page(&self, publisher: &str, from: u64, limit: usize) -> StorageResult<Vec<u64>>;

    /// The stored key-state record header of a publisher; `None` if it has
    /// none, or its log was written before records were stored. A log
    /// written before per-key records were stored holds the whole record
    /// here (the header followed by every key).
    fn key_state(&self, publisher: &str) -> StorageResult<Option<Vec<u8>>>;

    /// The stored record of every key of a publisher, in key-hash order.
    fn key_records(&self, publisher: &str) -> StorageResult<Vec<Vec<u8>>>;

    /// The publisher a key (by key hash) is registered to.
    fn key_owner(&self, key_hash: &Hash) -> StorageResult<Option<String>>;

    /// Indexes of the signatures of an artifact, ascending.
    fn signatures_by_sha256(&self, sha256: &[u8; 32]) -> StorageResult<Vec<u64>>;

    /// Indexes of the signatures of a package (of one version, if given), ascending.
    fn signatures_by_release(
        &self,
        publisher: &str,
        package: &str,
        version: Option<&str>,
    ) -> StorageResult<Vec<u64>>;

    /// One page of a publisher's releases, ordered by package then version
    /// (each name compared by length, then bytes): at most `limit` of them,
    /// starting after the release `after` (package, version). Each is
    /// (package, version, index of its first signature).
    fn publisher_releases(
        &self,
        publisher: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> StorageResult<Vec<PublisherRelease>>;
}

/// One release of a publisher, as [`Storage::publisher_releases`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherRelease {
    /// The package.
    pub package: String,
    /// The version.
    pub version: String,
    /// The index of its first signature entry.
    pub first_index: u64,
}

/// Checks the parts of a batch that do not depend on the stored data
/// beyond the current state; shared by both implementations.
fn check_batch(current: Option<&TreeState>, batch: &Batch) -> StorageResult<()> {
    let expected = current.map_or(0, |s| s.size);
    if batch.first_index != expected {
        return Err(StorageError::OutOfOrder {
            expected,
            got: batch.first_index,
        });
    }
    let size = batch.state.size;
    if batch.first_index.checked_add(batch.entries.len() as u64) != Some(size) {
        return Err(StorageError::SizeMismatch {
            first: batch.first_index,
            entries: batch.entries.len(),
            size,
        });
    }
    if batch.state.range.len() != size.count_ones() as usize {
        return Err(StorageError::Corrupt(
            "the batch's compact range does not match its tree size",
        ));
    }
    if batch.directory_horizon.is_some_and(|h| h > size) {
        return Err(StorageError::Corrupt(
            "a directory horizon beyond the batch's tree size",
        ));
    }
    if let Some(cur) = current {
        if cur.size == size && cur.checkpoint != batch.state.checkpoint {
            return Err(StorageError::CheckpointConflict(size));
        }
    }
    Ok(())
}

/// Binary form of a [`TreeState`]: `size:u64be || n:u8 || n*32 hash bytes || checkpoint UTF-8`.
fn encode_state(s: &TreeState) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + 32 * s.range.len() + s.checkpoint.len());
    out.extend_from_slice(&s.size.to_be_bytes());
    out.push(s.range.len() as u8);
    for h in &s.range {
        out.extend_from_slice(h);
    }
    out.extend_from_slice(s.checkpoint.as_bytes());
    out
}

/// Inverse of [`encode_state`].
fn decode_state(b: &[u8]) -> StorageResult<TreeState> {
    let bad = StorageError::Corrupt("the stored tree state does not decode");
    if b.len() < 9 {
        return Err(bad);
    }
    let size = u64::from_be_bytes(b[..8].try_into().expect("8 bytes"));
    let n = b[8] as usize;
    let hashes_end = 9 + 32 * n;
    if b.len() < hashes_end || n != size.count_ones() as usize {
        return Err(bad);
    }
    let range = b[9..hashes_end]
        .chunks_exact(32)
        .map(|c| c.try_into().expect("32 bytes"))
        .collect();
    let checkpoint = String::from_utf8(b[hashes_end..].to_vec()).map_err(|_| bad)?;
    Ok(TreeState {
        size,
        range,
        checkpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_state_round_trips_and_rejects_garbage() {
        let s = TreeState {
            size: 5,
            range: vec![[1; 32], [2; 32]],
            checkpoint: "o\n5\nAAAA\n\n— o abc\n".into(),
        };
        assert_eq!(decode_state(&encode_state(&s)).unwrap(), s);
        assert!(decode_state(&[0; 4]).is_err());
        let mut b = encode_state(&s);
        b[8] = 3; // wrong number of hashes for size 5
        assert!(decode_state(&b).is_err());
    }
}
