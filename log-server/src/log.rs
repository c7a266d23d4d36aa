//! The log as readers see it: the published checkpoint, proofs and tiles,
//! all computed from [`Storage`] and bounded by the published tree size.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sealwax_proto::checkpoint::{open_checkpoint, sign_checkpoint, Checkpoint};
use sealwax_proto::directory::{self, DirectoryProof, LeafFold};
use sealwax_proto::entry::Entry;
use sealwax_proto::keys::PublisherKeys;
use sealwax_proto::merkle::{self, node_hash, CompactRange, HashReader};
use sealwax_proto::note::Note;
use sealwax_proto::rules::{ReleaseName, ReleaseRecord};
use sealwax_proto::tile::{encode_bundle, TileId, TileLevel, TILE_HEIGHT, TILE_WIDTH};
use sealwax_proto::{Error as ProtoError, Hash};
use thiserror::Error;

use crate::datadir::LogKey;
use crate::directory_store::GroupReader;
use crate::log_error::LogError;
use crate::storage::{Batch, NodeHash, Storage, StorageError, Subtree, TreeState};

/// The newest checkpoint, as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The key directory root the checkpoint commits to; `None` for a
    /// checkpoint signed before the log had a directory.
    pub directory_root: Option<Hash>,
    /// The signed checkpoint text.
    pub checkpoint: Arc<str>,
}

/// Why the stored log cannot be opened.
#[derive(Debug, Error)]
pub enum OpenError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The stored state contradicts itself or the key.
    #[error("the stored log is inconsistent: {0}; restore the data directory from a backup")]
    Inconsistent(String),
}

/// The log: storage, signing key and the published checkpoint.
pub struct Log {
    storage: Arc<dyn Storage>,
    key: LogKey,
    published: RwLock<Arc<Published>>,
    /// The nodes of the levels above the bottom tile, in memory.
    top: RwLock<TopTree>,
}

/// The lowest tree level [`TopTree`] keeps: everything above the bottom tile.
const TOP_LEVEL: u8 = TILE_HEIGHT;

/// The complete nodes of tree levels [`TOP_LEVEL`] and up, in memory
/// (32 bytes per 128 entries: 2.5 MB for 10 million), so that a proof's
/// path above its bottom tile costs no storage read at any tree size.
#[derive(Debug, Default)]
struct TopTree {
    /// `levels[k]` holds level `TOP_LEVEL + k`, from index 0, without gaps.
    levels: Vec<Vec<Hash>>,
}

impl TopTree {
    /// Loads the stored nodes of a tree of `size`. A log from before every
    /// level was stored lacks some levels; those stay empty here and
    /// proofs read or compute them as before.
    fn load(storage: &dyn Storage, size: u64) -> Result<TopTree, StorageError> {
        let mut levels = Vec::new();
        for level in TOP_LEVEL..64 {
            let count = size >> level;
            if count == 0 {
                break;
            }
            levels.push(storage.node_hashes(level, 0, count)?);
        }
        Ok(TopTree { levels })
    }

    fn get(&self, level: u8, index: u64) -> Option<Hash> {
        let row = self
            .levels
            .get(usize::from(level.checked_sub(TOP_LEVEL)?))?;
        row.get(usize::try_from(index).ok()?).copied()
    }

    /// Adds a committed batch's nodes; a node that would leave a gap (its
    /// level is missing from an older log) is left to storage.
    fn extend(&mut self, nodes: &[NodeHash]) {
        for n in nodes.iter().filter(|n| n.level >= TOP_LEVEL) {
            let k = usize::from(n.level - TOP_LEVEL);
            if self.levels.len() <= k {
                self.levels.resize_with(k + 1, Vec::new);
            }
            let row = &mut self.levels[k];
            if row.len() as u64 == n.index {
                row.push(n.hash);
            }
        }
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("origin", &self.key.origin())
            .field("published", &self.published())
            .finish_non_exhaustive()
    }
}

/// Signs the checkpoint for a tree state; the only place the log signs.
pub(crate) fn sign_tree(
    key: &LogKey,
    size: u64,
    root: Hash,
    directory_root: Option<&Hash>,
) -> Result<String, ProtoError> {
    let mut cp = Checkpoint::new(key.origin(), size, root);
    if let Some(d) = directory_root {
        cp.set_directory_root(d);
    }
    sign_checkpoint(&cp, key.signer())
}

/// Where the sequencer continues from: the stored tree's right edge and
/// the key directory's root as of its size.
#[derive(Debug, Clone)]
pub struct Tip {
    /// The compact range of the stored tree.
    pub range: CompactRange,
    /// The key directory root as of the stored tree size.
    pub directory_root: Hash,
}

/// The artifact a logged release is bound to: its first signature's (in
/// storage, which may hold a batch not yet published).
pub(crate) fn bound_release(
    storage: &dyn Storage,
    name: &ReleaseName,
) -> Result<Option<ReleaseRecord>, StorageError> {
    let Some(&index) = storage
        .signatures_by_release(&name.publisher, &name.package, Some(&name.version))?
        .first()
    else {
        return Ok(None);
    };
    let bytes = storage.entry(index)?.ok_or(StorageError::Corrupt(
        "a release's signature entry is missing",
    ))?;
    match Entry::parse(&bytes) {
        Ok(Entry::Signature(s)) => {
            let release = s
                .release()
                .map_err(|_| StorageError::Corrupt("a logged signature has a bad comment"))?;
            Ok(Some(ReleaseRecord {
                index,
                sha256: release.sha256,
            }))
        }
        _ => Err(StorageError::Corrupt(
            "a release index points at an entry that is not a signature",
        )),
    }
}

/// The key state of `publisher` from its key events below index `below`,
/// replayed with the key rules: as it was at tree size `below`.
pub(crate) fn replay_key_events(
    storage: &dyn Storage,
    publisher: &str,
    below: u64,
) -> Result<PublisherKeys, StorageError> {
    let mut keys = PublisherKeys::new(publisher);
    for index in storage.key_events(publisher)? {
        if index >= below {
            break;
        }
        let bytes = storage
            .entry(index)?
            .ok_or(StorageError::Corrupt("a key event's entry is missing"))?;
        let entry = Entry::parse(&bytes)
            .map_err(|_| StorageError::Corrupt("a logged key event does not parse"))?;
        keys.apply(&entry, index)
            .map_err(|_| StorageError::Corrupt("a logged key event breaks the key rules"))?;
    }
    Ok(keys)
}

/// Entries read at a time while building a directory.
const BUILD_CHUNK: u64 = 4096;

/// Leaf changes gathered before a directory being built is written out:
/// the build holds one such update in memory, never the whole tree.
const BUILD_CHANGES: usize = 1 << 17;

/// Builds the key directory of a log written before it had one, from its
/// entries, and stores it as of the stored tree size; returns its root.
///
/// The leaves go to storage in updates of [`BUILD_CHANGES`], each one
/// commit, as the sequencer writes them. An interrupted build leaves
/// nodes no root reaches (the checkpoint still commits to no directory),
/// and the next start builds again from the empty root.
fn build_directory(storage: &dyn Storage, state: &TreeState) -> Result<Hash, OpenError> {
    let started = std::time::Instant::now();
    tracing::info!(
        entries = state.size,
        "building the key directory of a log written before it had one (once, from every entry; /healthz answers when it is done)"
    );
    let mut fold = LeafFold::new();
    let mut root = directory::EMPTY;
    let mut pending = Vec::new();
    let mut index = 0;
    while index < state.size {
        let end = (index + BUILD_CHUNK).min(state.size);
        let entries = storage.entries(index, end)?;
        if entries.len() as u64 != end - index {
            return Err(OpenError::Inconsistent(format!(
                "entry {} is missing",
                index + entries.len() as u64
            )));
        }
        for bytes in entries {
            let bad = |e: ProtoError| {
                OpenError::Inconsistent(format!("logged entry {index} cannot be replayed: {e}"))
            };
            let entry = Entry::parse(&bytes).map_err(bad)?;
            fold.apply(&entry, index).map_err(bad)?;
            index += 1;
        }
        pending.extend(fold.take_changes());
        if pending.len() >= BUILD_CHANGES || index == state.size {
            root = store_changes(storage, state, &root, std::mem::take(&mut pending))?;
            tracing::info!(
                entries = index,
                of = state.size,
                "building the key directory"
            );
        }
    }
    tracing::info!(
        entries = state.size,
        seconds = started.elapsed().as_secs_f64(),
        "built the key directory of a log written before it had one"
    );
    Ok(root)
}

/// Applies `changes` to the directory with root `root` stored as of
/// `state`'s size, stores the nodes that changed in one commit (of
/// `state` unchanged), and returns the new root.
fn store_changes(
    storage: &dyn Storage,
    state: &TreeState,
    root: &Hash,
    changes: Vec<(directory::Key, Hash)>,
) -> Result<Hash, OpenError> {
    let reader = GroupReader::new(storage, u64::MAX);
    let update = directory::update(&reader, root, changes).map_err(|e| {
        OpenError::Inconsistent(format!(
            "the key directory being built cannot be read back: {}",
            reader.fail(e)
        ))
    })?;
    let groups = reader.regroup(update.nodes)?;
    storage.commit(&Batch {
        first_index: state.size,
        directory: groups.iter().map(|(p, g)| (*p, g.encode())).collect(),
        state: state.clone(),
        ..Batch::default()
    })?;
    Ok(update.root)
}

impl Log {
    /// Opens the log in `storage`, creating the empty log (one checkpoint
    /// for size 0, signed and stored) on the first start. Returns the log
    /// and the tip the sequencer continues from.
    ///
    /// The stored checkpoint is checked against the key and the tree state
    /// and then served as it is: it is never signed again. A log written
    /// before the key directory has its directory built here, once, from
    /// its entries; its checkpoints commit to it from the next batch on.
    pub fn open(storage: Arc<dyn Storage>, key: LogKey) -> Result<(Log, Tip), OpenError> {
        let state = match storage.tree_state()? {
            Some(s) => s,
            None => {
                let checkpoint = sign_tree(&key, 0, merkle::EMPTY_ROOT, Some(&directory::EMPTY))
                    .map_err(|e| OpenError::Inconsistent(format!("cannot sign: {e}")))?;
                let state = TreeState {
                    size: 0,
                    range: Vec::new(),
                    checkpoint,
                };
                storage.commit(&Batch {
                    state: state.clone(),
                    ..Batch::default()
                })?;
                tracing::info!(origin = key.origin(), "created an empty log");
                state
            }
        };
        let range = CompactRange::from_hashes(state.size, state.range.clone())
            .map_err(|e| OpenError::Inconsistent(format!("bad tree state: {e}")))?;
        let (cp, _) =
            open_checkpoint(&state.checkpoint, key.origin(), &key.verifier()).map_err(|e| {
                OpenError::Inconsistent(format!(
                    "the stored checkpoint does not verify with this data directory's key: {e}"
                ))
            })?;
        if cp.size != state.size || cp.root != range.root() {
            return Err(OpenError::Inconsistent(format!(
                "the stored checkpoint (size {}) does not match the stored tree (size {})",
                cp.size, state.size
            )));
        }
        let committed = cp
            .directory_root()
            .map_err(|e| OpenError::Inconsistent(format!("the stored checkpoint: {e}")))?;
        let directory_root = match committed {
            Some(r) => r,
            // The benchmark's baseline keeps no directory: nothing to build
            // (so that a data directory can take turns with and without it).
            None if crate::sequencer::directory_off() => directory::EMPTY,
            None => build_directory(&*storage, &state)?,
        };
        let published = Published {
            size: state.size,
            root: cp.root,
            directory_root: committed,
            checkpoint: state.checkpoint.into(),
        };
        let top = TopTree::load(&*storage, state.size)?;
        Ok((
            Log {
                storage,
                key,
                published: RwLock::new(Arc::new(published)),
                top: RwLock::new(top),
            },
            Tip {
                range,
                directory_root,
            },
        ))
    }

    /// The storage.
    pub fn storage(&self) -> &dyn Storage {
        &*self.storage
    }

    /// The storage, shared.
    pub fn storage_arc(&self) -> Arc<dyn Storage> {
        self.storage.clone()
    }

    /// The signing key.
    pub fn key(&self) -> &LogKey {
        &self.key
    }

    /// The origin.
    pub fn origin(&self) -> &str {
        self.key.origin()
    }

    /// The newest published checkpoint.
    pub fn published(&self) -> Arc<Published> {
        match self.published.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The checkpoint signed for tree size `size` (the published one, or an
    /// earlier batch's), for answers proven at a size a client holds.
    pub fn signed_at(&self, size: u64) -> Result<SignedAt, LogError> {
        let published = self.published();
        if size > published.size {
            return Err(LogError::OutOfRange(format!(
                "tree_size {size} is larger than the log ({} entries); fetch /checkpoint for the current size",
                published.size
            )));
        }
        self.check_horizon(size)?;
        let checkpoint = if size == published.size {
            published.checkpoint.to_string()
        } else {
            self.storage.checkpoint_at(size)?.ok_or_else(|| {
                LogError::NotFound(format!(
                    "the log signed no checkpoint at tree size {size}; ask at the size of a checkpoint it served (/checkpoint)"
                ))
            })?
        };
        let cp = Note::parse(&checkpoint)
            .and_then(|n| Checkpoint::parse(&n.text))
            .map_err(|e| LogError::internal("a stored checkpoint does not parse", e))?;
        let directory_root = cp
            .directory_root()
            .map_err(|e| LogError::internal("a stored checkpoint's directory line", e))?;
        Ok(SignedAt {
            size,
            checkpoint,
            directory_root,
        })
    }

    /// The value of `key` in the key directory as of `at`, and its proof;
    /// `None` when `at` commits to no directory.
    pub fn prove_directory(
        &self,
        at: &SignedAt,
        key: &directory::Key,
    ) -> Result<Option<(Option<Hash>, DirectoryProof)>, LogError> {
        let Some(root) = at.directory_root else {
            return Ok(None);
        };
        let reader = GroupReader::new(&*self.storage, at.size);
        match directory::prove(&reader, &root, key) {
            Ok(proven) => Ok(Some(proven)),
            // The horizon may have passed the size while the proof was read.
            Err(e) => Err(self
                .check_horizon(at.size)
                .err()
                .unwrap_or_else(|| reader.fail(e))),
        }
    }

    /// Refuses a tree size below the key directory's horizon, whose node
    /// versions may be gone.
    fn check_horizon(&self, size: u64) -> Result<(), LogError> {
        let horizon = self.storage.directory_horizon()?;
        if size < horizon {
            return Err(LogError::NotFound(format!(
                "tree size {size} is older than the key directory keeps (from tree size {horizon} on, the sizes of the checkpoints of the last --directory-window-secs); fetch /checkpoint and ask at its size"
            )));
        }
        Ok(())
    }

    /// Publishes a new checkpoint (after its batch is durable).
    pub(crate) fn publish(&self, p: Published) {
        let p = Arc::new(p);
        match self.published.write() {
            Ok(mut g) => *g = p,
            Err(poisoned) => *poisoned.into_inner() = p,
        }
    }

    /// Keeps a committed batch's upper nodes in memory, for proofs.
    pub(crate) fn remember_nodes(&self, nodes: &[NodeHash]) {
        match self.top.write() {
            Ok(mut t) => t.extend(nodes),
            Err(poisoned) => poisoned.into_inner().extend(nodes),
        }
    }

    /// A hash reader over storage for one request or batch.
    pub fn reader(&self) -> StorageHashReader<'_> {
        StorageHashReader {
            top: Some(&self.top),
            ..StorageHashReader::new(&*self.storage)
        }
    }

    /// The inclusion proof of leaf `index` in the tree of `size` (which must
    /// not exceed the published size), and the leaf hash.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<(Hash, Vec<Hash>), LogError> {
        let published = self.published().size;
        if size > published {
            return Err(LogError::OutOfRange(format!(
                "tree_size {size} is larger than the log ({published} entries); fetch /checkpoint for the current size"
            )));
        }
        if index >= size {
            return Err(LogError::OutOfRange(format!(
                "index {index} is not in a tree of size {size}: the index must be smaller than tree_size"
            )));
        }
        let r = self.reader();
        let leaf = r.read_hash(0, index).map_err(|e| r.fail(e))?;
        let proof = merkle::prove_inclusion(&r, index, size).map_err(|e| r.fail(e))?;
        Ok((leaf, proof))
    }

    /// The consistency proof from tree size `from` to `to` (`0 < from <= to <= published`).
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, LogError> {
        let published = self.published().size;
        if from > to {
            return Err(LogError::OutOfRange(format!(
                "from ({from}) must not be larger than to ({to})"
            )));
        }
        if to > published {
            return Err(LogError::OutOfRange(format!(
                "to = {to} is larger than the log ({published} entries); fetch /checkpoint for the current size"
            )));
        }
        if from == 0 {
            return Err(LogError::OutOfRange(
                "from must be at least 1: every tree is consistent with the empty tree, there is nothing to prove".into(),
            ));
        }
        let r = self.reader();
        merkle::prove_consistency(&r, from, to).map_err(|e| r.fail(e))
    }

    /// The bytes of a tile or entry bundle, if the published tree has it.
    pub fn tile(&self, id: &TileId) -> Result<Vec<u8>, LogError> {
        let size = self.published().size;
        let not_found = || {
            LogError::NotFound(format!(
                "the log (size {size}) has no tile {}: a partial tile cannot be wider than the tree, and a full tile exists only once complete",
                id.path()
            ))
        };
        let tree_level = match id.level {
            TileLevel::Hashes(l) if l < TILE_HEIGHT => l * TILE_HEIGHT,
            TileLevel::Hashes(_) => return Err(not_found()),
            TileLevel::Entries => 0,
        };
        let count = size >> tree_level;
        let width = u64::from(id.width);
        let start = id.index.checked_mul(TILE_WIDTH).ok_or_else(not_found)?;
        let end = start.checked_add(width).ok_or_else(not_found)?;
        if end > count || width == 0 {
            return Err(not_found());
        }
        match id.level {
            TileLevel::Hashes(_) => {
                let hashes = self.storage.node_hashes(tree_level, start, end)?;
                if hashes.len() as u64 != width {
                    return Err(LogError::internal(
                        "tile hashes missing from storage",
                        format!("level {tree_level}, [{start}, {end})"),
                    ));
                }
                Ok(hashes.concat())
            }
            TileLevel::Entries => {
                let entries = self.storage.entries(start, end)?;
                if entries.len() as u64 != width {
                    return Err(LogError::internal(
                        "entries missing from storage",
                        format!("[{start}, {end})"),
                    ));
                }
                encode_bundle(entries.iter().map(Vec::as_slice))
                    .map_err(|e| LogError::internal("cannot encode an entry bundle", e))
            }
        }
    }
}

/// A checkpoint the log signed, with the key directory root it commits to.
#[derive(Debug, Clone)]
pub struct SignedAt {
    /// Its tree size.
    pub size: u64,
    /// The signed checkpoint text.
    pub checkpoint: String,
    /// Its `sealwax-directory` root; `None` for one signed before the log had a directory.
    pub directory_root: Option<Hash>,
}

/// A [`HashReader`] over storage. Every node is read directly where it is
/// stored; a node a log written by an older sealwax lacks (not at a level
/// that is a multiple of 8) is computed from the at most 128 stored nodes
/// below it. Everything read or computed is remembered for the reader's
/// lifetime (one request, or one sequencer batch).
pub struct StorageHashReader<'a> {
    storage: &'a dyn Storage,
    /// The log's upper levels in memory, consulted before storage.
    top: Option<&'a RwLock<TopTree>>,
    memo: RefCell<HashMap<(u8, u64), Hash>>,
    /// Complete tiles' subtrees read so far, by (tile level, tile index); `None` for a partial tile.
    subtrees: RefCell<HashMap<(u8, u64), Option<Subtree>>>,
    error: RefCell<Option<StorageError>>,
}

impl<'a> StorageHashReader<'a> {
    /// A reader with an empty memo.
    pub fn new(storage: &'a dyn Storage) -> Self {
        StorageHashReader {
            storage,
            top: None,
            memo: RefCell::new(HashMap::new()),
            subtrees: RefCell::new(HashMap::new()),
            error: RefCell::new(None),
        }
    }

    /// Turns a failed proof computation into an [`LogError`]: a storage
    /// failure or a missing hash is internal (the tree size was checked).
    pub fn fail(&self, e: ProtoError) -> LogError {
        match self.error.borrow_mut().take() {
            Some(se) => se.into(),
            None => LogError::internal("proof computation failed", e),
        }
    }

    fn compute(&self, level: u8, index: u64) -> Result<Hash, ProtoError> {
        let unavailable = ProtoError::HashUnavailable { level, index };
        let base = level - level % TILE_HEIGHT;
        let span = level - base;
        let count = 1u64 << span;
        let start = index.checked_mul(count).ok_or(unavailable.clone())?;
        let end = start.checked_add(count).ok_or(unavailable.clone())?;
        let mut row = match self.storage.node_hashes(base, start, end) {
            Ok(r) => r,
            Err(e) => {
                *self.error.borrow_mut() = Some(e);
                return Err(unavailable);
            }
        };
        if row.len() as u64 != count {
            return Err(unavailable);
        }
        let mut memo = self.memo.borrow_mut();
        let mut first = start;
        for l in base..=level {
            if l > base {
                row = row
                    .chunks_exact(2)
                    .map(|p| node_hash(&p[0], &p[1]))
                    .collect();
                first >>= 1;
            }
            for (i, h) in row.iter().enumerate() {
                memo.insert((l, first + i as u64), *h);
            }
        }
        Ok(row[0])
    }
}

impl HashReader for StorageHashReader<'_> {
    fn read_hash(&self, level: u8, index: u64) -> Result<Hash, ProtoError> {
        if let Some(h) = self.memo.borrow().get(&(level, index)) {
            return Ok(*h);
        }
        if let Some(top) = self.top.filter(|_| level >= TOP_LEVEL) {
            let found = match top.read() {
                Ok(t) => t.get(level, index),
                Err(poisoned) => poisoned.into_inner().get(level, index),
            };
            if let Some(h) = found {
                return Ok(h);
            }
        }
        // The complete tile holding this node, read once per proof, serves
        // every node of the path in its eight levels.
        let (tile_level, h) = (level / TILE_HEIGHT, level % TILE_HEIGHT);
        let tile = (tile_level, index >> (TILE_HEIGHT - h));
        if !self.subtrees.borrow().contains_key(&tile) {
            match self.storage.subtree(tile.0, tile.1) {
                Ok(s) => {
                    self.subtrees.borrow_mut().insert(tile, s);
                }
                Err(e) => {
                    *self.error.borrow_mut() = Some(e);
                    return Err(ProtoError::HashUnavailable { level, index });
                }
            }
        }
        if let Some(Some(subtree)) = self.subtrees.borrow().get(&tile) {
            let first = tile.1 << (TILE_HEIGHT - h);
            if let Some(hash) = subtree.get(h, index - first) {
                return Ok(hash);
            }
        }
        // Every level is stored since sealwax keeps them all; a node an
        // older log lacks is computed from the tile level below it.
        match self.storage.node_hash(level, index) {
            Ok(Some(h)) => {
                self.memo.borrow_mut().insert((level, index), h);
                Ok(h)
            }
            Ok(None) => self.compute(level, index),
            Err(e) => {
                *self.error.borrow_mut() = Some(e);
                Err(ProtoError::HashUnavailable { level, index })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{MemoryStorage, NewEntry, NodeHash, RocksStorage};
    use sealwax_proto::merkle::{leaf_hash, MemoryHashStore};

    #[test]
    fn a_directory_stored_in_updates_has_the_root_and_proofs_of_one_built_at_once() {
        let storage = MemoryStorage::new();
        let state = TreeState::default();
        let mut whole = directory::Directory::new();
        let mut root = directory::EMPTY;
        let key = |i: u32| directory::publisher_key(&format!("p{i}"));
        // Five updates, each changing some keys of the ones before.
        for round in 0..5u32 {
            let changes: Vec<_> = (round * 150..round * 150 + 400)
                .map(|i| (key(i), [round as u8; 32]))
                .collect();
            whole.insert_batch(changes.clone());
            root = store_changes(&storage, &state, &root, changes).unwrap();
            assert_eq!(root, whole.root(), "round {round}");
        }
        let reader = GroupReader::new(&storage, u64::MAX);
        for i in (0..1000).step_by(37) {
            let (value, proof) = directory::prove(&reader, &root, &key(i)).unwrap();
            assert_eq!(value, whole.get(&key(i)), "key {i}");
            assert_eq!(proof, whole.prove(&key(i)).1, "key {i}");
        }
    }

    /// Fills `s` with `n` leaves, committed in batches of up to 1,000,
    /// storing the tile levels, and every level if `all_levels`. Returns
    /// the reference tree and every node, stored or not, in append order.
    fn fill(s: &dyn Storage, n: u64, all_levels: bool) -> (MemoryHashStore, Vec<NodeHash>) {
        let mut reference = MemoryHashStore::new();
        let mut range = CompactRange::new();
        let mut batch = Batch::default();
        let mut all = Vec::new();
        for i in 0..n {
            let bytes = format!("leaf {i}").into_bytes();
            let lh = leaf_hash(&bytes);
            reference.append(lh);
            range.append(lh, |level, index, hash| {
                all.push(NodeHash {
                    level,
                    index,
                    hash: *hash,
                });
                if all_levels || level.is_multiple_of(8) {
                    batch.nodes.push(NodeHash {
                        level,
                        index,
                        hash: *hash,
                    })
                }
            });
            batch.entries.push(NewEntry {
                bytes,
                leaf_hash: lh,
            });
            if batch.entries.len() == 1000 || i + 1 == n {
                batch.state = TreeState {
                    size: i + 1,
                    range: range.hashes().to_vec(),
                    checkpoint: format!("{}\n", i + 1),
                };
                s.commit(&batch).unwrap();
                batch = Batch {
                    first_index: i + 1,
                    ..Batch::default()
                };
            }
        }
        (reference, all)
    }

    #[test]
    fn storage_reader_matches_the_reference_tree() {
        for all_levels in [false, true] {
            let s = MemoryStorage::new();
            let (reference, _) = fill(&s, 70_000, all_levels);
            reader_matches_the_reference_tree(&StorageHashReader::new(&s), &reference);
        }
    }

    #[test]
    fn the_top_tree_holds_every_upper_node_whether_loaded_or_extended() {
        let s = MemoryStorage::new();
        let (reference, all) = fill(&s, 70_000, true);
        let loaded = TopTree::load(&s, 70_000).unwrap();
        let mut extended = TopTree::default();
        for chunk in all.chunks(777) {
            extended.extend(chunk);
        }
        for top in [&loaded, &extended] {
            for level in TOP_LEVEL..=16 {
                for index in 0..70_000u64 >> level {
                    assert_eq!(
                        top.get(level, index),
                        Some(reference.read_hash(level, index).unwrap()),
                        "node ({level}, {index})"
                    );
                }
                assert_eq!(top.get(level, 70_000 >> level), None, "level {level} ends");
            }
            assert_eq!(top.get(7, 0), None, "the bottom tile is not kept");
            assert_eq!(top.get(17, 0), None);
        }
        // A log whose levels 9..15 were never stored keeps only 8 and 16 in
        // memory, and never a row with a gap.
        let old = MemoryStorage::new();
        let (reference, _) = fill(&old, 70_000, false);
        let mut top = TopTree::load(&old, 70_000).unwrap();
        top.extend(&[NodeHash {
            level: 9,
            index: 200,
            hash: [7; 32],
        }]);
        assert_eq!(top.get(9, 200), None);
        assert_eq!(top.get(9, 0), None);
        assert_eq!(top.get(8, 5), Some(reference.read_hash(8, 5).unwrap()));
        // Readers with the top tree give the same answers.
        for (s, top) in [(&s, loaded), (&old, top)] {
            let top = RwLock::new(top);
            let r = StorageHashReader {
                top: Some(&top),
                ..StorageHashReader::new(s)
            };
            reader_matches_the_reference_tree(&r, &reference);
        }
    }

    #[test]
    fn rocksdb_reader_with_subtrees_matches_the_reference_tree() {
        let dir = tempfile::tempdir().unwrap();
        let s = RocksStorage::open(&dir.path().join("db")).unwrap();
        let (reference, _) = fill(&s, 70_000, true);
        assert!(
            s.subtree(1, 0).unwrap().is_some(),
            "the reader is tested on subtrees"
        );
        reader_matches_the_reference_tree(&StorageHashReader::new(&s), &reference);
    }

    fn reader_matches_the_reference_tree(r: &StorageHashReader<'_>, reference: &MemoryHashStore) {
        let n = 70_000;
        for (level, index) in [
            (0, 5),
            (1, 7),
            (7, 3),
            (8, 1),
            (9, 0),
            (15, 1),
            (16, 0),
            (3, 8749),
        ] {
            assert_eq!(
                r.read_hash(level, index).unwrap(),
                reference.read_hash(level, index).unwrap(),
                "node ({level}, {index})"
            );
        }
        for (i, size) in [(0u64, 1u64), (12_345, 70_000), (69_999, 70_000), (300, 513)] {
            assert_eq!(
                merkle::prove_inclusion(r, i, size).unwrap(),
                merkle::prove_inclusion(&reference, i, size).unwrap()
            );
        }
        assert_eq!(
            merkle::prove_consistency(r, 1000, 70_000).unwrap(),
            merkle::prove_consistency(&reference, 1000, 70_000).unwrap()
        );
        assert_eq!(merkle::tree_root(r, n).unwrap(), reference.root());
        // A node beyond the tree is unavailable, not invented.
        assert!(r.read_hash(16, 1).is_err());
        assert!(r.read_hash(63, u64::MAX).is_err());
        assert!(
            r.read_hash(3, 1 << 62).is_err(),
            "no wrap-around to low indexes"
        );
    }
}
