//! [`Storage`] on RocksDB.
//!
//! Schema (one column family each; integers are big-endian so that byte
//! order is numeric order; `str16` is a u16 big-endian length and UTF-8):
//!
//! | column family | key | value |
//! |---|---|---|
//! | `entries`    | index:u64 | entry bytes |
//! | `leaves`     | leaf hash:32 | index:u64 |
//! | `nodes`      | level:u8 · index:u64 | hash:32 (every level) |
//! | `subtrees`   | tile level:u8 · tile index:u64 | 511 × hash:32, a complete tile's [`Subtree`] |
//! | `key_events` | str16 publisher · index:u64 | empty |
//! | `key_owners` | key hash:32 | publisher |
//! | `key_states` | publisher | key-state record header (proto `keys`); a log written before `key_records` holds the whole record |
//! | `key_records`| str16 publisher · key hash:32 | one key's canonical encoding (proto `KeyRecord::encode`) |
//! | `sig_sha256` | sha256:32 · index:u64 | empty |
//! | `sig_release`| str16 publisher · str16 package · str16 version · index:u64 | empty |
//! | `directory`  | group depth:u16 · prefix:32 · (2^64 − 1 − size):u64 | the group's nodes (`directory_store::Group::encode`) |
//! | `checkpoints`| size:u64 | checkpoint text (every batch's) |
//! | `meta`       | `tree_state` | size:u64 · n:u8 · n×hash:32 · checkpoint text |
//! | `meta`       | `directory_horizon` | size:u64 |
//!
//! The directory keeps every version of a node group: a batch writes the
//! groups it changed under its new tree size, and a read at size N seeks to the
//! node's path with N inverted, landing on the newest version at or below
//! N. A 34-byte prefix extractor (the path) gives those seeks a bloom filter.
//! Versions that only reads below the directory horizon (`meta`
//! `directory_horizon`, the sequencer's window) could reach are dropped by a
//! compaction filter.
//!
//! A batch is one `WriteBatch` written with `sync = true`: the write-ahead
//! log makes it atomic across column families and durable on return.
//!
//! `subtrees` duplicates `nodes` so that a proof reads the bottom eight
//! levels of its path with one `get` (16 KiB, one block) instead of eight
//! reads spread over the key space: a tile's subtree is written in the
//! batch that completes it, that is, the batch holding its root node.

use std::ffi::CStr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rocksdb::compaction_filter::{CompactionFilter, Decision as CompactionDecision};
use rocksdb::compaction_filter_factory::{CompactionFilterContext, CompactionFilterFactory};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, Direction,
    IteratorMode, Options, ReadOptions, SliceTransform, WriteBatch, WriteOptions, DB,
};
use sealwax_proto::directory::NodePath;
use sealwax_proto::Hash;

use super::{
    check_batch, decode_state, encode_state, Batch, PublisherRelease, Storage, StorageError,
    StorageResult, Subtree, TreeState,
};
use sealwax_proto::tile::TILE_HEIGHT;

const CF_ENTRIES: &str = "entries";
const CF_LEAVES: &str = "leaves";
const CF_NODES: &str = "nodes";
const CF_KEY_EVENTS: &str = "key_events";
const CF_KEY_OWNERS: &str = "key_owners";
const CF_KEY_STATES: &str = "key_states";
const CF_KEY_RECORDS: &str = "key_records";
const CF_SIG_SHA256: &str = "sig_sha256";
const CF_SIG_RELEASE: &str = "sig_release";
const CF_META: &str = "meta";
const CF_SUBTREES: &str = "subtrees";
const CF_DIRECTORY: &str = "directory";
const CF_CHECKPOINTS: &str = "checkpoints";
const ALL_CFS: [&str; 13] = [
    CF_ENTRIES,
    CF_LEAVES,
    CF_NODES,
    CF_SUBTREES,
    CF_KEY_EVENTS,
    CF_KEY_OWNERS,
    CF_KEY_STATES,
    CF_KEY_RECORDS,
    CF_SIG_SHA256,
    CF_SIG_RELEASE,
    CF_DIRECTORY,
    CF_CHECKPOINTS,
    CF_META,
];
const KEY_TREE_STATE: &[u8] = b"tree_state";
const KEY_DIRECTORY_HORIZON: &[u8] = b"directory_horizon";

/// Shared block cache size, unless the caller picks one.
const BLOCK_CACHE_BYTES: usize = 64 << 20;
/// Total memtable budget across column families.
const WRITE_BUFFER_BYTES: usize = 64 << 20;

/// Storage in a RocksDB database.
pub struct RocksStorage {
    db: DB,
    /// The directory horizon, shared with the compaction filter.
    horizon: Arc<AtomicU64>,
    /// Serialises commits (the state check and the write).
    commit_lock: Mutex<()>,
}

impl From<rocksdb::Error> for StorageError {
    fn from(e: rocksdb::Error) -> Self {
        StorageError::Backend(e.into_string())
    }
}

fn str16(out: &mut Vec<u8>, s: &str) {
    // Names are validated by proto to be far shorter than 64 KiB; clamp anyway.
    let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

fn node_key(level: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Makes, for each compaction of the `directory` column family, a filter
/// that drops the node versions no read at or above the horizon reaches.
struct SupersededVersions {
    horizon: Arc<AtomicU64>,
}

impl CompactionFilterFactory for SupersededVersions {
    type Filter = DropSuperseded;

    fn create(&mut self, _context: CompactionFilterContext) -> DropSuperseded {
        DropSuperseded {
            horizon: self.horizon.load(Ordering::SeqCst),
            newer: None,
        }
    }

    fn name(&self) -> &CStr {
        c"sealwax-directory-superseded"
    }
}

/// Drops a node version when the compaction has just seen a newer version
/// of the same path written at or below the horizon: every read at a size
/// at or above the horizon finds that newer one first. Keys sort by path,
/// then newest first, so the newer version always comes just before; one
/// in another level, outside this compaction, is never seen, and then
/// the older version is kept (only space is lost).
struct DropSuperseded {
    horizon: u64,
    /// The path and size of the last version kept.
    newer: Option<([u8; DIRECTORY_PATH_LEN], u64)>,
}

impl CompactionFilter for DropSuperseded {
    fn filter(&mut self, _level: u32, key: &[u8], _value: &[u8]) -> CompactionDecision {
        let Some((path, size)) = split_directory_key(key) else {
            return CompactionDecision::Keep;
        };
        if matches!(self.newer, Some((p, s)) if p == path && s <= self.horizon) {
            return CompactionDecision::Remove;
        }
        self.newer = Some((path, size));
        CompactionDecision::Keep
    }

    fn name(&self) -> &CStr {
        c"sealwax-directory-superseded"
    }
}

/// The path and tree size of a `directory` key.
fn split_directory_key(key: &[u8]) -> Option<([u8; DIRECTORY_PATH_LEN], u64)> {
    let key: &[u8; DIRECTORY_PATH_LEN + 8] = key.try_into().ok()?;
    let path = key[..DIRECTORY_PATH_LEN].try_into().ok()?;
    let inverted = u64::from_be_bytes(key[DIRECTORY_PATH_LEN..].try_into().ok()?);
    Some((path, u64::MAX - inverted))
}

/// Length of a directory key's path part (the prefix extractor's).
const DIRECTORY_PATH_LEN: usize = 34;

/// The `directory` key of the version of `path` written at tree size `size`.
fn directory_key(path: &NodePath, size: u64) -> [u8; DIRECTORY_PATH_LEN + 8] {
    let mut k = [0u8; DIRECTORY_PATH_LEN + 8];
    k[..DIRECTORY_PATH_LEN].copy_from_slice(&path.to_bytes());
    k[DIRECTORY_PATH_LEN..].copy_from_slice(&(u64::MAX - size).to_be_bytes());
    k
}

fn release_prefix(publisher: &str, package: &str, version: Option<&str>) -> Vec<u8> {
    let mut k = Vec::new();
    str16(&mut k, publisher);
    str16(&mut k, package);
    if let Some(v) = version {
        str16(&mut k, v);
    }
    k
}

/// Splits the rest of a release key after its publisher: package, version, index.
fn decode_release_key(rest: &[u8]) -> StorageResult<(String, String, u64)> {
    const BAD: StorageError = StorageError::Corrupt("a release index key is malformed");
    fn take16<'a>(b: &mut &'a [u8]) -> Option<&'a [u8]> {
        let n = u16::from_be_bytes(b.get(..2)?.try_into().ok()?) as usize;
        let s = b.get(2..2 + n)?;
        *b = &b[2 + n..];
        Some(s)
    }
    let mut b = rest;
    let package = take16(&mut b).ok_or(BAD)?;
    let version = take16(&mut b).ok_or(BAD)?;
    let index: [u8; 8] = b.try_into().map_err(|_| BAD)?;
    let text = |s: &[u8]| String::from_utf8(s.to_vec()).map_err(|_| BAD);
    Ok((text(package)?, text(version)?, u64::from_be_bytes(index)))
}

fn index_suffix(key: &[u8]) -> StorageResult<u64> {
    key.len()
        .checked_sub(8)
        .map(|at| u64::from_be_bytes(key[at..].try_into().expect("8 bytes")))
        .ok_or(StorageError::Corrupt("an index key is too short"))
}

impl RocksStorage {
    /// Opens (or creates) the database at `path`, with a 64 MiB block cache.
    pub fn open(path: &Path) -> StorageResult<RocksStorage> {
        Self::open_with_cache(path, BLOCK_CACHE_BYTES)
    }

    /// Opens (or creates) the database at `path`, with a block cache of `cache_bytes`.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> StorageResult<RocksStorage> {
        let cache = Cache::new_lru_cache(cache_bytes);
        let horizon = Arc::new(AtomicU64::new(0));
        let cf_opts = |name: &str| {
            let mut table = BlockBasedOptions::default();
            table.set_block_cache(&cache);
            // Point lookups (leaf hashes, key owners, proof nodes) benefit from bloom filters.
            if matches!(name, CF_LEAVES | CF_KEY_OWNERS | CF_NODES | CF_SUBTREES) {
                table.set_bloom_filter(10.0, false);
            }
            let mut o = Options::default();
            if name == CF_DIRECTORY {
                table.set_bloom_filter(10.0, false);
                table.set_whole_key_filtering(false);
                o.set_prefix_extractor(SliceTransform::create_fixed_prefix(DIRECTORY_PATH_LEN));
                o.set_compaction_filter_factory(SupersededVersions {
                    horizon: horizon.clone(),
                });
            }
            o.set_block_based_table_factory(&table);
            // Subtrees and directory nodes are nothing but hashes: compressing them is wasted work.
            o.set_compression_type(if matches!(name, CF_SUBTREES | CF_DIRECTORY) {
                DBCompressionType::None
            } else {
                DBCompressionType::Lz4
            });
            o
        };
        let cfs = ALL_CFS
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, cf_opts(name)));
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_db_write_buffer_size(WRITE_BUFFER_BYTES);
        opts.set_max_open_files(512);
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        let stored = match db.get_pinned_cf(
            db.cf_handle(CF_META)
                .ok_or(StorageError::Corrupt("a column family is missing"))?,
            KEY_DIRECTORY_HORIZON,
        )? {
            Some(v) => u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| StorageError::Corrupt("the directory horizon is not 8 bytes"))?,
            ),
            None => 0,
        };
        horizon.store(stored, Ordering::SeqCst);
        Ok(RocksStorage {
            db,
            horizon,
            commit_lock: Mutex::new(()),
        })
    }

    /// The subtrees of the tiles `batch` completes: those whose root is
    /// among its nodes. Their other nodes come from the batch or, for
    /// those written by earlier batches, from the database. A tile whose
    /// nodes are not all available (a log from before every level was
    /// stored) gets no subtree; proofs then read its nodes one by one.
    fn completed_subtrees(&self, batch: &Batch) -> StorageResult<Vec<(u8, u64, Subtree)>> {
        let roots: Vec<_> = batch
            .nodes
            .iter()
            .filter(|n| n.level >= TILE_HEIGHT && n.level.is_multiple_of(TILE_HEIGHT))
            .collect();
        if roots.is_empty() {
            return Ok(Vec::new());
        }
        let in_batch: std::collections::HashMap<(u8, u64), Hash> = batch
            .nodes
            .iter()
            .map(|n| ((n.level, n.index), n.hash))
            .collect();
        let mut out = Vec::new();
        for root in roots {
            let (tile_level, tile_index) = (root.level / TILE_HEIGHT - 1, root.index);
            // Earlier batches' nodes are a prefix of each row, this batch's the rest.
            let subtree = Subtree::assemble(tile_level, tile_index, |level, start, end| {
                let mut row = self.node_hashes(level, start, end)?;
                let from = start + row.len() as u64;
                row.extend((from..end).map_while(|i| in_batch.get(&(level, i)).copied()));
                Ok(row)
            })?;
            out.extend(subtree.map(|st| (tile_level, tile_index, st)));
        }
        Ok(out)
    }

    /// Compacts every column family fully, as RocksDB's background
    /// compactions would in time (used by benchmarks to measure a settled log).
    pub fn compact(&self) -> StorageResult<()> {
        for name in ALL_CFS {
            self.db
                .compact_range_cf(self.cf(name)?, None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }

    fn cf(&self, name: &'static str) -> StorageResult<&ColumnFamily> {
        self.db
            .cf_handle(name)
            .ok_or(StorageError::Corrupt("a column family is missing"))
    }

    /// Keys starting with `prefix`, each ending in an index; the indexes ascending.
    fn indexes_with_prefix(&self, cf: &'static str, prefix: &[u8]) -> StorageResult<Vec<u64>> {
        let cf = self.cf(cf)?;
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(cf, IteratorMode::From(prefix, Direction::Forward))
        {
            let (k, _) = item?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push(index_suffix(&k)?);
        }
        Ok(out)
    }

    /// Reads consecutive keys `[start, end)` of a column family keyed by
    /// `key(i)`, stopping at the first gap.
    fn range<T>(
        &self,
        cf: &'static str,
        start: u64,
        end: u64,
        key: impl Fn(u64) -> Vec<u8>,
        value: impl Fn(&[u8]) -> StorageResult<T>,
    ) -> StorageResult<Vec<T>> {
        if start >= end {
            return Ok(Vec::new());
        }
        let cf = self.cf(cf)?;
        let first = key(start);
        let mut out = Vec::new();
        let iter = self
            .db
            .iterator_cf(cf, IteratorMode::From(&first, Direction::Forward));
        for (want, item) in (start..end).zip(iter) {
            let (k, v) = item?;
            if *k != *key(want) {
                break;
            }
            out.push(value(&v)?);
        }
        Ok(out)
    }
}

fn hash_value(v: &[u8]) -> StorageResult<Hash> {
    v.try_into()
        .map_err(|_| StorageError::Corrupt("a stored hash is not 32 bytes"))
}

impl Storage for RocksStorage {
    fn tree_state(&self) -> StorageResult<Option<TreeState>> {
        match self.db.get_pinned_cf(self.cf(CF_META)?, KEY_TREE_STATE)? {
            Some(v) => decode_state(&v).map(Some),
            None => Ok(None),
        }
    }

    fn commit(&self, batch: &Batch) -> StorageResult<()> {
        let _guard = self
            .commit_lock
            .lock()
            .map_err(|_| StorageError::Backend("commit lock poisoned".into()))?;
        check_batch(self.tree_state()?.as_ref(), batch)?;
        let mut wb = WriteBatch::default();
        let (entries, leaves, nodes) = (
            self.cf(CF_ENTRIES)?,
            self.cf(CF_LEAVES)?,
            self.cf(CF_NODES)?,
        );
        let mut seen = std::collections::HashSet::new();
        for (i, e) in batch.entries.iter().enumerate() {
            let index = (batch.first_index + i as u64).to_be_bytes();
            wb.put_cf(entries, index, &e.bytes);
            // The sequencer never appends a duplicate; keep the first index regardless.
            if seen.insert(e.leaf_hash) && self.db.get_pinned_cf(leaves, e.leaf_hash)?.is_none() {
                wb.put_cf(leaves, e.leaf_hash, index);
            }
        }
        for n in &batch.nodes {
            wb.put_cf(nodes, node_key(n.level, n.index), n.hash);
        }
        let subtrees = self.cf(CF_SUBTREES)?;
        for (tile_level, tile_index, subtree) in self.completed_subtrees(batch)? {
            wb.put_cf(
                subtrees,
                node_key(tile_level, tile_index),
                subtree.as_bytes(),
            );
        }
        let key_events = self.cf(CF_KEY_EVENTS)?;
        for (publisher, index) in &batch.key_events {
            let mut k = Vec::new();
            str16(&mut k, publisher);
            k.extend_from_slice(&index.to_be_bytes());
            wb.put_cf(key_events, k, []);
        }
        let key_owners = self.cf(CF_KEY_OWNERS)?;
        for (key_hash, publisher) in &batch.key_owners {
            wb.put_cf(key_owners, key_hash, publisher.as_bytes());
        }
        let key_states = self.cf(CF_KEY_STATES)?;
        for (publisher, record) in &batch.key_states {
            wb.put_cf(key_states, publisher.as_bytes(), record);
        }
        let key_records = self.cf(CF_KEY_RECORDS)?;
        for (publisher, key_hash, record) in &batch.key_records {
            let mut k = Vec::with_capacity(34 + publisher.len());
            str16(&mut k, publisher);
            k.extend_from_slice(key_hash);
            wb.put_cf(key_records, k, record);
        }
        let (by_sha, by_release) = (self.cf(CF_SIG_SHA256)?, self.cf(CF_SIG_RELEASE)?);
        for s in &batch.signatures {
            let mut k = s.sha256.to_vec();
            k.extend_from_slice(&s.index.to_be_bytes());
            wb.put_cf(by_sha, k, []);
            let mut k = release_prefix(&s.publisher, &s.package, Some(&s.version));
            k.extend_from_slice(&s.index.to_be_bytes());
            wb.put_cf(by_release, k, []);
        }
        let directory = self.cf(CF_DIRECTORY)?;
        for (path, node) in &batch.directory {
            wb.put_cf(directory, directory_key(path, batch.state.size), node);
        }
        if let Some(h) = batch.directory_horizon {
            wb.put_cf(self.cf(CF_META)?, KEY_DIRECTORY_HORIZON, h.to_be_bytes());
        }
        wb.put_cf(
            self.cf(CF_CHECKPOINTS)?,
            batch.state.size.to_be_bytes(),
            batch.state.checkpoint.as_bytes(),
        );
        wb.put_cf(
            self.cf(CF_META)?,
            KEY_TREE_STATE,
            encode_state(&batch.state),
        );
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(wb, &wo)?;
        if let Some(h) = batch.directory_horizon {
            self.horizon.fetch_max(h, Ordering::SeqCst);
        }
        Ok(())
    }

    fn entry(&self, index: u64) -> StorageResult<Option<Vec<u8>>> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_ENTRIES)?, index.to_be_bytes())?
            .map(|v| v.to_vec()))
    }

    fn entries(&self, start: u64, end: u64) -> StorageResult<Vec<Vec<u8>>> {
        self.range(
            CF_ENTRIES,
            start,
            end,
            |i| i.to_be_bytes().to_vec(),
            |v| Ok(v.to_vec()),
        )
    }

    fn leaf_index(&self, leaf_hash: &Hash) -> StorageResult<Option<u64>> {
        match self.db.get_pinned_cf(self.cf(CF_LEAVES)?, leaf_hash)? {
            Some(v) => Ok(Some(u64::from_be_bytes(v.as_ref().try_into().map_err(
                |_| StorageError::Corrupt("a stored leaf index is not 8 bytes"),
            )?))),
            None => Ok(None),
        }
    }

    fn node_hash(&self, level: u8, index: u64) -> StorageResult<Option<Hash>> {
        match self
            .db
            .get_pinned_cf(self.cf(CF_NODES)?, node_key(level, index))?
        {
            Some(v) => hash_value(&v).map(Some),
            None => Ok(None),
        }
    }

    fn subtree(&self, tile_level: u8, tile_index: u64) -> StorageResult<Option<Subtree>> {
        match self
            .db
            .get_pinned_cf(self.cf(CF_SUBTREES)?, node_key(tile_level, tile_index))?
        {
            Some(v) => Subtree::from_bytes(&v).map(Some),
            None => Ok(None),
        }
    }

    fn node_hashes(&self, level: u8, start: u64, end: u64) -> StorageResult<Vec<Hash>> {
        self.range(
            CF_NODES,
            start,
            end,
            |i| node_key(level, i).to_vec(),
            hash_value,
        )
    }

    fn directory_group(&self, group: &NodePath, size: u64) -> StorageResult<Option<Vec<u8>>> {
        let mut ro = ReadOptions::default();
        ro.set_prefix_same_as_start(true);
        let key = directory_key(group, size);
        let mut iter = self.db.iterator_cf_opt(
            self.cf(CF_DIRECTORY)?,
            ro,
            IteratorMode::From(&key, Direction::Forward),
        );
        match iter.next() {
            Some(item) => {
                let (k, v) = item?;
                if k[..].len() != key.len() || k[..DIRECTORY_PATH_LEN] != key[..DIRECTORY_PATH_LEN]
                {
                    return Ok(None);
                }
                Ok(Some(v.to_vec()))
            }
            None => Ok(None),
        }
    }

    fn directory_horizon(&self) -> StorageResult<u64> {
        Ok(self.horizon.load(Ordering::SeqCst))
    }

    fn checkpoint_at(&self, size: u64) -> StorageResult<Option<String>> {
        match self
            .db
            .get_pinned_cf(self.cf(CF_CHECKPOINTS)?, size.to_be_bytes())?
        {
            Some(v) => String::from_utf8(v.to_vec())
                .map(Some)
                .map_err(|_| StorageError::Corrupt("a stored checkpoint is not UTF-8")),
            None => Ok(None),
        }
    }

    fn key_events(&self, publisher: &str) -> StorageResult<Vec<u64>> {
        let mut prefix = Vec::new();
        str16(&mut prefix, publisher);
        self.indexes_with_prefix(CF_KEY_EVENTS, &prefix)
    }

    fn key_events_page(&self, publisher: &str, from: u64, limit: usize) -> StorageResult<Vec<u64>> {
        let mut prefix = Vec::new();
        str16(&mut prefix, publisher);
        let mut first = prefix.clone();
        first.extend_from_slice(&from.to_be_bytes());
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(CF_KEY_EVENTS)?,
            IteratorMode::From(&first, Direction::Forward),
        );
        for item in iter {
            if out.len() >= limit {
                break;
            }
            let (k, _) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            out.push(index_suffix(&k)?);
        }
        Ok(out)
    }

    fn key_records(&self, publisher: &str) -> StorageResult<Vec<Vec<u8>>> {
        let mut prefix = Vec::new();
        str16(&mut prefix, publisher);
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(CF_KEY_RECORDS)?,
            IteratorMode::From(&prefix, Direction::Forward),
        );
        for item in iter {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            if k.len() != prefix.len() + 32 {
                return Err(StorageError::Corrupt(
                    "a key record's key is not publisher and key hash",
                ));
            }
            out.push(v.to_vec());
        }
        Ok(out)
    }

    fn key_state(&self, publisher: &str) -> StorageResult<Option<Vec<u8>>> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(CF_KEY_STATES)?, publisher.as_bytes())?
            .map(|v| v.to_vec()))
    }

    fn key_owner(&self, key_hash: &Hash) -> StorageResult<Option<String>> {
        match self.db.get_pinned_cf(self.cf(CF_KEY_OWNERS)?, key_hash)? {
            Some(v) => String::from_utf8(v.to_vec())
                .map(Some)
                .map_err(|_| StorageError::Corrupt("a stored publisher name is not UTF-8")),
            None => Ok(None),
        }
    }

    fn signatures_by_sha256(&self, sha256: &[u8; 32]) -> StorageResult<Vec<u64>> {
        self.indexes_with_prefix(CF_SIG_SHA256, sha256)
    }

    fn signatures_by_release(
        &self,
        publisher: &str,
        package: &str,
        version: Option<&str>,
    ) -> StorageResult<Vec<u64>> {
        let prefix = release_prefix(publisher, package, version);
        let mut out = self.indexes_with_prefix(CF_SIG_RELEASE, &prefix)?;
        // Without a version the keys are ordered by version first.
        out.sort_unstable();
        Ok(out)
    }

    fn publisher_releases(
        &self,
        publisher: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> StorageResult<Vec<PublisherRelease>> {
        let mut prefix = Vec::new();
        str16(&mut prefix, publisher);
        let start = match after {
            Some((package, version)) => release_prefix(publisher, package, Some(version)),
            None => prefix.clone(),
        };
        let cf = self.cf(CF_SIG_RELEASE)?;
        let mut out: Vec<PublisherRelease> = Vec::new();
        for item in self
            .db
            .iterator_cf(cf, IteratorMode::From(&start, Direction::Forward))
        {
            let (k, _) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            let (package, version, index) = decode_release_key(&k[prefix.len()..])?;
            if after == Some((package.as_str(), version.as_str())) {
                continue;
            }
            // A release's signatures sort by index: its first one comes first.
            if out
                .last()
                .is_some_and(|r| r.package == package && r.version == version)
            {
                continue;
            }
            if out.len() == limit {
                break;
            }
            out.push(PublisherRelease {
                package,
                version,
                first_index: index,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::conformance::Backend;

    struct Rocks {
        dir: tempfile::TempDir,
        db: Option<RocksStorage>,
    }

    impl Backend for Rocks {
        type S = RocksStorage;
        fn fresh() -> Self {
            let dir = tempfile::tempdir().expect("tempdir");
            let db = RocksStorage::open(&dir.path().join("db")).expect("open rocksdb");
            Rocks { dir, db: Some(db) }
        }
        fn storage(&self) -> &RocksStorage {
            self.db.as_ref().expect("open")
        }
        fn reopen(&mut self) {
            self.db = None; // close (releases the lock) before opening again
            self.db = Some(RocksStorage::open(&self.dir.path().join("db")).expect("reopen"));
        }
        fn settle(&self) {
            self.storage().compact().expect("compact");
        }
    }

    crate::storage_conformance_tests!(Rocks);
}
