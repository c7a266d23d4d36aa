//! In-memory [`Storage`], for tests: the same contract as RocksDB, nothing durable.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::RwLock;

use sealwax_proto::directory::NodePath;
use sealwax_proto::Hash;

use super::{
    check_batch, Batch, PublisherRelease, Storage, StorageError, StorageResult, TreeState,
};

#[derive(Default)]
struct Inner {
    state: Option<TreeState>,
    entries: Vec<Vec<u8>>,
    leaves: HashMap<Hash, u64>,
    nodes: BTreeMap<(u8, u64), Hash>,
    key_events: HashMap<String, BTreeSet<u64>>,
    key_owners: HashMap<Hash, String>,
    key_states: HashMap<String, Vec<u8>>,
    key_records: BTreeMap<(String, Hash), Vec<u8>>,
    /// (node path, tree size written at) -> node
    directory: BTreeMap<(NodePath, u64), Vec<u8>>,
    checkpoints: BTreeMap<u64, String>,
    directory_horizon: u64,
    by_sha256: HashMap<[u8; 32], BTreeSet<u64>>,
    /// (publisher, package) -> version -> indexes
    by_release: HashMap<(String, String), BTreeMap<String, BTreeSet<u64>>>,
}

/// Drops every node version no read at a size at or above `horizon` can
/// reach: one superseded by a newer version written at or below `horizon`
/// (at once, where RocksDB drops them as it compacts).
fn prune_directory(directory: &mut BTreeMap<(NodePath, u64), Vec<u8>>, horizon: u64) {
    let mut newer: Option<(NodePath, u64)> = None;
    // Each path's versions sort oldest first: walk them newest first.
    let keys: Vec<(NodePath, u64)> = directory.keys().rev().copied().collect();
    for (path, size) in keys {
        let superseded = matches!(newer, Some((p, s)) if p == path && s <= horizon);
        if superseded {
            directory.remove(&(path, size));
        } else {
            newer = Some((path, size));
        }
    }
}

/// Storage in memory; everything is lost when it is dropped.
#[derive(Default)]
pub struct MemoryStorage {
    inner: RwLock<Inner>,
}

impl MemoryStorage {
    /// Empty storage.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    fn read(&self) -> StorageResult<std::sync::RwLockReadGuard<'_, Inner>> {
        self.inner
            .read()
            .map_err(|_| StorageError::Backend("memory storage lock poisoned".into()))
    }
}

impl Storage for MemoryStorage {
    fn tree_state(&self) -> StorageResult<Option<TreeState>> {
        Ok(self.read()?.state.clone())
    }

    fn commit(&self, batch: &Batch) -> StorageResult<()> {
        let mut g = self
            .inner
            .write()
            .map_err(|_| StorageError::Backend("memory storage lock poisoned".into()))?;
        check_batch(g.state.as_ref(), batch)?;
        let inner = &mut *g;
        for (i, e) in batch.entries.iter().enumerate() {
            let index = batch.first_index + i as u64;
            inner.entries.push(e.bytes.clone());
            inner.leaves.entry(e.leaf_hash).or_insert(index);
        }
        for n in &batch.nodes {
            inner.nodes.insert((n.level, n.index), n.hash);
        }
        for (path, node) in &batch.directory {
            inner
                .directory
                .insert((*path, batch.state.size), node.clone());
        }
        inner
            .checkpoints
            .insert(batch.state.size, batch.state.checkpoint.clone());
        if let Some(h) = batch.directory_horizon {
            inner.directory_horizon = inner.directory_horizon.max(h);
            prune_directory(&mut inner.directory, inner.directory_horizon);
        }
        for (p, i) in &batch.key_events {
            inner.key_events.entry(p.clone()).or_default().insert(*i);
        }
        for (k, p) in &batch.key_owners {
            inner.key_owners.insert(*k, p.clone());
        }
        for (p, r) in &batch.key_states {
            inner.key_states.insert(p.clone(), r.clone());
        }
        for (p, h, r) in &batch.key_records {
            inner.key_records.insert((p.clone(), *h), r.clone());
        }
        for s in &batch.signatures {
            inner.by_sha256.entry(s.sha256).or_default().insert(s.index);
            inner
                .by_release
                .entry((s.publisher.clone(), s.package.clone()))
                .or_default()
                .entry(s.version.clone())
                .or_default()
                .insert(s.index);
        }
        inner.state = Some(batch.state.clone());
        Ok(())
    }

    fn entry(&self, index: u64) -> StorageResult<Option<Vec<u8>>> {
        let g = self.read()?;
        Ok(usize::try_from(index)
            .ok()
            .and_then(|i| g.entries.get(i))
            .cloned())
    }

    fn entries(&self, start: u64, end: u64) -> StorageResult<Vec<Vec<u8>>> {
        let g = self.read()?;
        let len = g.entries.len() as u64;
        let (s, e) = (start.min(len) as usize, end.min(len) as usize);
        Ok(if s < e {
            g.entries[s..e].to_vec()
        } else {
            Vec::new()
        })
    }

    fn leaf_index(&self, leaf_hash: &Hash) -> StorageResult<Option<u64>> {
        Ok(self.read()?.leaves.get(leaf_hash).copied())
    }

    fn node_hashes(&self, level: u8, start: u64, end: u64) -> StorageResult<Vec<Hash>> {
        let g = self.read()?;
        let mut out = Vec::new();
        let range = g.nodes.range((level, start)..(level, end.max(start)));
        for (want, (&(_, i), h)) in (start..).zip(range) {
            if i != want {
                break;
            }
            out.push(*h);
        }
        Ok(out)
    }

    fn directory_group(&self, group: &NodePath, size: u64) -> StorageResult<Option<Vec<u8>>> {
        let g = self.read()?;
        Ok(g.directory
            .range((*group, 0)..=(*group, size))
            .next_back()
            .map(|(_, n)| n.clone()))
    }

    fn directory_horizon(&self) -> StorageResult<u64> {
        Ok(self.read()?.directory_horizon)
    }

    fn checkpoint_at(&self, size: u64) -> StorageResult<Option<String>> {
        Ok(self.read()?.checkpoints.get(&size).cloned())
    }

    fn key_events(&self, publisher: &str) -> StorageResult<Vec<u64>> {
        Ok(self
            .read()?
            .key_events
            .get(publisher)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default())
    }

    fn key_events_page(&self, publisher: &str, from: u64, limit: usize) -> StorageResult<Vec<u64>> {
        Ok(self
            .read()?
            .key_events
            .get(publisher)
            .map(|s| s.range(from..).take(limit).copied().collect())
            .unwrap_or_default())
    }

    fn key_state(&self, publisher: &str) -> StorageResult<Option<Vec<u8>>> {
        Ok(self.read()?.key_states.get(publisher).cloned())
    }

    fn key_records(&self, publisher: &str) -> StorageResult<Vec<Vec<u8>>> {
        let g = self.read()?;
        let from = (publisher.to_string(), [0u8; 32]);
        Ok(g.key_records
            .range(from..)
            .take_while(|((p, _), _)| p == publisher)
            .map(|(_, r)| r.clone())
            .collect())
    }

    fn key_owner(&self, key_hash: &Hash) -> StorageResult<Option<String>> {
        Ok(self.read()?.key_owners.get(key_hash).cloned())
    }

    fn signatures_by_sha256(&self, sha256: &[u8; 32]) -> StorageResult<Vec<u64>> {
        Ok(self
            .read()?
            .by_sha256
            .get(sha256)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default())
    }

    fn signatures_by_release(
        &self,
        publisher: &str,
        package: &str,
        version: Option<&str>,
    ) -> StorageResult<Vec<u64>> {
        let g = self.read()?;
        let Some(versions) = g
            .by_release
            .get(&(publisher.to_string(), package.to_string()))
        else {
            return Ok(Vec::new());
        };
        let mut out: Vec<u64> = match version {
            Some(v) => versions
                .get(v)
                .map(|s| s.iter().copied().collect())
                .unwrap_or_default(),
            None => versions.values().flatten().copied().collect(),
        };
        out.sort_unstable();
        Ok(out)
    }

    fn publisher_releases(
        &self,
        publisher: &str,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> StorageResult<Vec<PublisherRelease>> {
        let g = self.read()?;
        // The order RocksDB's length-prefixed keys give.
        let order = |p: &str, v: &str| (p.len(), p.to_string(), v.len(), v.to_string());
        let mut all: Vec<PublisherRelease> = g
            .by_release
            .iter()
            .filter(|((p, _), _)| p == publisher)
            .flat_map(|((_, package), versions)| {
                versions.iter().filter_map(move |(version, idx)| {
                    Some(PublisherRelease {
                        package: package.clone(),
                        version: version.clone(),
                        first_index: *idx.first()?,
                    })
                })
            })
            .collect();
        all.sort_by_key(|r| order(&r.package, &r.version));
        let start = after.map(|(p, v)| order(p, v));
        Ok(all
            .into_iter()
            .filter(|r| {
                start
                    .as_ref()
                    .is_none_or(|s| order(&r.package, &r.version) > *s)
            })
            .take(limit)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::conformance::Backend;

    struct Memory(MemoryStorage);

    impl Backend for Memory {
        type S = MemoryStorage;
        fn fresh() -> Self {
            Memory(MemoryStorage::new())
        }
        fn storage(&self) -> &MemoryStorage {
            &self.0
        }
        fn reopen(&mut self) {}
    }

    crate::storage_conformance_tests!(Memory);
}
