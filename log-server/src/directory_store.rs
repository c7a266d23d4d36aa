//! The key directory in storage, four tree levels to a record.
//!
//! proto's [`update`](sealwax_proto::directory::update) and
//! [`prove`](sealwax_proto::directory::prove) read and write single nodes.
//! Storing each node as its own record would cost one write per level of
//! every changed path (about 24 for ten million keys), which made commits
//! twice as slow. So the store groups them: the *group* of a node is its
//! ancestor at the nearest depth that is a multiple of [`GROUP_LEVELS`],
//! and one record holds every node of a group (at most 15, in slots
//! `2^j - 1 + bits`, where `j` is the node's depth below the group's and
//! `bits` the `j` key bits that lead to it). A batch rewrites each group it
//! touches whole, and a read fetches one record per four levels of a path.

use std::cell::{Ref, RefCell};
use std::collections::{BTreeMap, HashMap};

use sealwax_proto::directory::{key_bit, Node, NodePath, NodeReader};
use sealwax_proto::error::DirectoryError;
use sealwax_proto::Error as ProtoError;

use crate::log_error::LogError;
use crate::storage::{Storage, StorageError};

/// Tree levels per stored group.
pub const GROUP_LEVELS: u16 = 4;

/// Nodes a group can hold: 1 + 2 + 4 + 8.
const SLOTS: usize = (1 << GROUP_LEVELS) - 1;

/// Bytes of one slot in a record: the slot number, then [`Node::encode`].
const SLOT_BYTES: usize = 1 + 65;

/// The group a node is stored in: its ancestor at a multiple of [`GROUP_LEVELS`].
pub fn group_of(path: &NodePath) -> NodePath {
    NodePath::toward(path.prefix(), path.depth() - path.depth() % GROUP_LEVELS)
}

/// The slot of `path` within its group.
fn slot_of(path: &NodePath) -> usize {
    let base = path.depth() - path.depth() % GROUP_LEVELS;
    let below = path.depth() - base;
    let bits = (base..path.depth()).fold(0usize, |acc, d| {
        (acc << 1) | usize::from(key_bit(path.prefix(), d))
    });
    (1 << below) - 1 + bits
}

/// The nodes of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group([Option<Node>; SLOTS]);

impl Group {
    /// The stored form: for each node, `slot:u8 || node:65`, by slot.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SLOTS * SLOT_BYTES);
        for (slot, node) in self.0.iter().enumerate() {
            if let Some(n) = node {
                out.push(slot as u8);
                out.extend_from_slice(&n.encode());
            }
        }
        out
    }

    /// Parses [`encode`](Group::encode) output.
    pub fn decode(bytes: &[u8]) -> Result<Group, StorageError> {
        let bad = || StorageError::Corrupt("a stored key directory group does not decode");
        if !bytes.len().is_multiple_of(SLOT_BYTES) {
            return Err(bad());
        }
        let mut group = Group::default();
        for chunk in bytes.chunks_exact(SLOT_BYTES) {
            let slot = usize::from(chunk[0]);
            let node = Node::decode(&chunk[1..]).ok_or_else(bad)?;
            *group.0.get_mut(slot).ok_or_else(bad)? = Some(node);
        }
        Ok(group)
    }
}

/// Groups by group path: those a batch rewrote.
pub type Groups = BTreeMap<NodePath, Group>;

/// Committed groups the sequencer keeps in memory, by group path.
pub type GroupCache = RefCell<HashMap<NodePath, Group>>;

/// Reads the directory's nodes from storage as of one tree size, a group
/// at a time (each group read once), for proto's `update` and `prove`.
pub struct GroupReader<'a> {
    storage: &'a dyn Storage,
    size: u64,
    /// Committed groups to read before storage (the sequencer's).
    shared: Option<&'a GroupCache>,
    local: GroupCache,
    error: RefCell<Option<StorageError>>,
}

impl<'a> GroupReader<'a> {
    /// The directory as of tree size `size` (`u64::MAX`: the newest).
    pub fn new(storage: &'a dyn Storage, size: u64) -> GroupReader<'a> {
        GroupReader {
            storage,
            size,
            shared: None,
            local: GroupCache::default(),
            error: RefCell::new(None),
        }
    }

    /// Reads the groups `shared` holds from it (they must be the newest, committed ones).
    pub fn with_shared(mut self, shared: &'a GroupCache) -> GroupReader<'a> {
        self.shared = Some(shared);
        self
    }

    /// The group at `group` (empty if none is stored).
    pub fn group(&self, group: &NodePath) -> Result<Group, StorageError> {
        self.with_group(group, Group::clone)
    }

    /// `f` of the group at `group`, read from storage (once) if no cache holds it.
    fn with_group<T>(
        &self,
        group: &NodePath,
        f: impl FnOnce(&Group) -> T,
    ) -> Result<T, StorageError> {
        if let Some(g) = self.lookup(group) {
            return Ok(f(&g));
        }
        let g = match self.storage.directory_group(group, self.size)? {
            Some(bytes) => Group::decode(&bytes)?,
            None => Group::default(),
        };
        let mut local = self.local.borrow_mut();
        Ok(f(local.entry(*group).or_insert(g)))
    }

    /// The group at `group` if the shared or the local cache holds it, without a copy.
    fn lookup(&self, group: &NodePath) -> Option<Ref<'_, Group>> {
        self.shared
            .and_then(|s| Ref::filter_map(s.borrow(), |m| m.get(group)).ok())
            .or_else(|| Ref::filter_map(self.local.borrow(), |m| m.get(group)).ok())
    }

    /// The groups to store for `nodes` (an update's): each touched group as
    /// stored, with the update's nodes put in, by group path.
    pub fn regroup(
        &self,
        nodes: impl IntoIterator<Item = (NodePath, Node)>,
    ) -> Result<Groups, StorageError> {
        let mut out = Groups::new();
        for (path, node) in nodes {
            let g = group_of(&path);
            let group = match out.entry(g) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => v.insert(self.group(&g)?),
            };
            group.0[slot_of(&path)] = Some(node);
        }
        Ok(out)
    }

    /// Turns a failed directory read into a [`LogError`]: the storage
    /// failure if there was one, else a damaged directory (internal).
    pub fn fail(&self, e: ProtoError) -> LogError {
        match self.error.borrow_mut().take() {
            Some(se) => se.into(),
            None => LogError::internal("the stored key directory is damaged", e),
        }
    }
}

impl NodeReader for GroupReader<'_> {
    fn read_node(&self, path: &NodePath) -> Result<Node, ProtoError> {
        let missing = || DirectoryError::NodeMissing {
            depth: path.depth(),
        };
        match self.with_group(&group_of(path), |g| g.0[slot_of(path)]) {
            Ok(node) => node.ok_or_else(|| missing().into()),
            Err(e) => {
                *self.error.borrow_mut() = Some(e);
                Err(missing().into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealwax_proto::directory::{Directory, NodeReader};

    #[test]
    fn slots_number_the_fifteen_nodes_of_a_group() {
        let key = [0b1011_0110; 32];
        let slots: Vec<usize> = (0..=8)
            .map(|d| slot_of(&NodePath::toward(&key, d)))
            .collect();
        // Bits 1,0,1,1,0,1,1,0: depth 1 has bits "1" (slot 1 + 1), depth 2 "10" (3 + 2),
        // depth 3 "101" (7 + 5); depth 4 starts a group, depth 5 has "0" (1 + 0).
        assert_eq!(slots, [0, 2, 5, 12, 0, 1, 4, 10, 0]);
        assert_eq!(
            group_of(&NodePath::toward(&key, 7)),
            NodePath::toward(&key, 4)
        );
    }

    #[test]
    fn a_grouped_directory_reads_back_every_node() {
        let mut dir = Directory::new();
        for i in 0..300u32 {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
            dir.insert(k, [i as u8; 32]);
        }
        let storage = crate::storage::MemoryStorage::new();
        let groups = GroupReader::new(&storage, u64::MAX)
            .regroup(dir.nodes().map(|(p, n)| (*p, *n)))
            .unwrap();
        for (g, group) in &groups {
            let back = Group::decode(&group.encode()).unwrap();
            assert_eq!(&back, group, "group {g:?} round-trips");
        }
        let stored: HashMap<NodePath, Group> = groups.into_iter().collect();
        for (path, node) in dir.nodes() {
            let g = &stored[&group_of(path)];
            assert_eq!(g.0[slot_of(path)], Some(*node));
        }
        assert!(Group::decode(&[0; 65]).is_err());
        assert!(Group::decode(&[15; 66]).is_err(), "slot 15 does not exist");
        let _ = NodeReader::read_node(&dir, &NodePath::ROOT).unwrap();
    }
}
