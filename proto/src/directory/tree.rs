//! The directory's nodes, where they are read from, and the two walks over
//! them: [`update`] (a batch of changes to a new root) and [`prove`].

use std::collections::HashMap;

use super::{key_bit, leaf_hash, node_hash, DirectoryProof, Key, Terminal, EMPTY, MAX_DEPTH};
use crate::error::DirectoryError;
use crate::{Hash, Result};

/// One key and its value.
type Item = (Key, Hash);

/// Where a node sits: its depth and the first `depth` bits of every key below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NodePath {
    depth: u16,
    /// The first `depth` bits, left-aligned; every later bit is zero.
    prefix: Key,
}

impl std::hash::Hash for NodePath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // The later bits are zero, so the bytes holding the first `depth`
        // bits identify the path: a few bytes to hash instead of 32.
        state.write_u16(self.depth);
        state.write(&self.prefix[..usize::from(self.depth).div_ceil(8)]);
    }
}

impl NodePath {
    /// The root's path.
    pub const ROOT: NodePath = NodePath {
        depth: 0,
        prefix: EMPTY,
    };

    /// The path at `depth` toward `key`: its first `depth` bits, the rest zero. Panics above depth 256.
    pub fn toward(key: &Key, depth: u16) -> NodePath {
        assert!(depth <= MAX_DEPTH, "a key has 256 bits");
        let mut prefix = *key;
        let (full, rem) = (usize::from(depth / 8), depth % 8);
        if full < 32 {
            prefix[full] &= !(0xffu8 >> rem);
            prefix[full + 1..].fill(0);
        }
        NodePath { depth, prefix }
    }

    /// Its depth: 0 for the root.
    pub fn depth(&self) -> u16 {
        self.depth
    }

    /// The bits that lead here, left-aligned, the rest zero.
    pub fn prefix(&self) -> &Key {
        &self.prefix
    }

    /// The path of its left (`false`) or right (`true`) child; none below depth 256.
    pub fn child(&self, right: bool) -> Option<NodePath> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        let mut prefix = self.prefix;
        let d = usize::from(self.depth);
        if right {
            prefix[d / 8] |= 0x80 >> (d % 8);
        }
        Some(NodePath {
            depth: self.depth + 1,
            prefix,
        })
    }

    /// The storage form: `depth:u16 (big-endian) || prefix:32`.
    pub fn to_bytes(&self) -> [u8; 34] {
        let mut out = [0u8; 34];
        out[..2].copy_from_slice(&self.depth.to_be_bytes());
        out[2..].copy_from_slice(&self.prefix);
        out
    }
}

/// A stored node of the directory tree. Empty subtrees are not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// Two or more keys below: the hashes of its two children ([`EMPTY`] for an empty side).
    Internal {
        /// Hash of the left child (keys whose next bit is 0).
        left: Hash,
        /// Hash of the right child (keys whose next bit is 1).
        right: Hash,
    },
    /// Exactly one key below.
    Leaf {
        /// The key.
        key: Key,
        /// Its value.
        value: Hash,
    },
}

impl Node {
    /// The node's hash: [`node_hash`] or [`leaf_hash`].
    pub fn hash(&self) -> Hash {
        match self {
            Node::Internal { left, right } => node_hash(left, right),
            Node::Leaf { key, value } => leaf_hash(key, value),
        }
    }

    /// The storage form: `0x00 || key || value` for a leaf, `0x01 || left || right` for a node.
    pub fn encode(&self) -> [u8; 65] {
        let (tag, a, b) = match self {
            Node::Leaf { key, value } => (0, key, value),
            Node::Internal { left, right } => (1, left, right),
        };
        let mut out = [0u8; 65];
        out[0] = tag;
        out[1..33].copy_from_slice(a);
        out[33..].copy_from_slice(b);
        out
    }

    /// Parses the storage form; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Node> {
        let bytes: &[u8; 65] = bytes.try_into().ok()?;
        let a: Hash = bytes[1..33].try_into().expect("32 bytes");
        let b: Hash = bytes[33..].try_into().expect("32 bytes");
        match bytes[0] {
            0 => Some(Node::Leaf { key: a, value: b }),
            1 => Some(Node::Internal { left: a, right: b }),
            _ => None,
        }
    }
}

/// Where the directory's nodes are read from: memory ([`Directory`]) or the log's store.
pub trait NodeReader {
    /// The node at `path`. Only nodes the tree says exist are asked for; a
    /// reader that lacks one fails with [`DirectoryError::NodeMissing`].
    fn read_node(&self, path: &NodePath) -> Result<Node>;
}

impl<R: NodeReader + ?Sized> NodeReader for &R {
    fn read_node(&self, path: &NodePath) -> Result<Node> {
        (**self).read_node(path)
    }
}

/// What [`update`] did: the new root, and the nodes to store for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The new root.
    pub root: Hash,
    /// Nodes written, each replacing what was at its path; a node is never removed.
    pub nodes: Vec<(NodePath, Node)>,
    /// How many of the changed keys were not in the directory before.
    pub added: usize,
}

/// Applies `changes` (each key set to its value, a key given twice to the
/// last) to the directory with root `root`, whose nodes `reader` serves.
///
/// Only the paths of changed keys are read and rewritten: a batch of `k`
/// changes in a directory of `n` keys costs about `k·log2(n)` node hashes.
pub fn update<R: NodeReader>(
    reader: &R,
    root: &Hash,
    changes: impl IntoIterator<Item = (Key, Hash)>,
) -> Result<Update> {
    let changes = sorted_last_wins(changes);
    let mut out = Update {
        root: *root,
        nodes: Vec::new(),
        added: 0,
    };
    if !changes.is_empty() {
        out.root = update_at(reader, NodePath::ROOT, root, &changes, &mut out)?;
    }
    Ok(out)
}

/// The changes sorted by key, one per key, the last given winning.
fn sorted_last_wins(changes: impl IntoIterator<Item = (Key, Hash)>) -> Vec<Item> {
    let mut changes: Vec<Item> = changes.into_iter().collect();
    // A stable sort keeps equal keys in the order given.
    changes.sort_by_key(|c| c.0);
    let mut out: Vec<Item> = Vec::with_capacity(changes.len());
    for c in changes {
        match out.last_mut() {
            Some(last) if last.0 == c.0 => *last = c,
            _ => out.push(c),
        }
    }
    out
}

/// The new hash of the subtree at `path`, now `hash`, after `changes`
/// (sorted, unique, non-empty, all below `path`).
fn update_at<R: NodeReader>(
    reader: &R,
    path: NodePath,
    hash: &Hash,
    changes: &[Item],
    out: &mut Update,
) -> Result<Hash> {
    if *hash == EMPTY {
        out.added += changes.len();
        return Ok(build(path, changes, &mut out.nodes));
    }
    match reader.read_node(&path)? {
        Node::Leaf { key, value } => {
            let mut merged = changes.to_vec();
            if let Err(at) = changes.binary_search_by(|c| c.0.cmp(&key)) {
                merged.insert(at, (key, value));
                out.added += changes.len();
            } else {
                out.added += changes.len() - 1;
            }
            Ok(build(path, &merged, &mut out.nodes))
        }
        Node::Internal { left, right } => {
            let damaged = DirectoryError::NodeMissing { depth: path.depth };
            let (l, r) = split(path.depth, changes);
            let mut side = |right: bool, hash: Hash, changes: &[Item]| {
                if changes.is_empty() {
                    return Ok(hash);
                }
                let child = path.child(right).ok_or(damaged.clone())?;
                update_at(reader, child, &hash, changes, out)
            };
            let node = Node::Internal {
                left: side(false, left, l)?,
                right: side(true, right, r)?,
            };
            out.nodes.push((path, node));
            Ok(node.hash())
        }
    }
}

/// The keys of `items` (sorted, all below a node at `depth`) whose bit `depth` is 0, and those whose bit is 1.
fn split(depth: u16, items: &[Item]) -> (&[Item], &[Item]) {
    items.split_at(items.partition_point(|(k, _)| !key_bit(k, depth)))
}

/// Builds the subtree at `path` holding exactly `items` (sorted, unique,
/// non-empty), pushing its nodes to `nodes`, and returns its hash.
fn build(path: NodePath, items: &[Item], nodes: &mut Vec<(NodePath, Node)>) -> Hash {
    if let [(key, value)] = items {
        let node = Node::Leaf {
            key: *key,
            value: *value,
        };
        nodes.push((path, node));
        return node.hash();
    }
    let (l, r) = split(path.depth, items);
    // Two distinct keys differ in some bit, so a node with two keys is above depth 256.
    let mut side = |right: bool, items: &[Item]| match path.child(right) {
        Some(child) if !items.is_empty() => build(child, items, nodes),
        _ => EMPTY,
    };
    let node = Node::Internal {
        left: side(false, l),
        right: side(true, r),
    };
    nodes.push((path, node));
    node.hash()
}

/// The value of `key` in the directory with root `root`, and the proof of it
/// (or of its absence), reading one node per level of its path.
pub fn prove<R: NodeReader>(
    reader: &R,
    root: &Hash,
    key: &Key,
) -> Result<(Option<Hash>, DirectoryProof)> {
    let mut siblings = Vec::new();
    let mut hash = *root;
    let mut path = NodePath::ROOT;
    loop {
        if hash == EMPTY {
            let proof = DirectoryProof {
                siblings,
                terminal: Terminal::Empty,
            };
            return Ok((None, proof));
        }
        match reader.read_node(&path)? {
            Node::Leaf { key: k, value } => {
                let (found, terminal) = if k == *key {
                    (Some(value), Terminal::Leaf)
                } else {
                    (None, Terminal::OtherLeaf { key: k, value })
                };
                return Ok((found, DirectoryProof { siblings, terminal }));
            }
            Node::Internal { left, right } => {
                let right_side = key_bit(key, path.depth);
                let (next, sibling) = if right_side {
                    (right, left)
                } else {
                    (left, right)
                };
                siblings.push(sibling);
                hash = next;
                path = path
                    .child(right_side)
                    .ok_or(DirectoryError::NodeMissing { depth: path.depth })?;
            }
        }
    }
}

/// A key directory held in memory: every node in a hash map, the root at hand.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    nodes: HashMap<NodePath, Node>,
    root: Hash,
    len: usize,
}

impl Directory {
    /// The empty directory (its root is [`EMPTY`]).
    pub fn new() -> Directory {
        Directory::default()
    }

    /// The root hash, which a checkpoint's `sealwax-directory` line commits to.
    pub fn root(&self) -> Hash {
        self.root
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets `key` to `value`, inserting it or replacing its value.
    pub fn insert(&mut self, key: Key, value: Hash) {
        self.insert_batch([(key, value)]);
    }

    /// Sets every key of `changes` to its value (a key given twice to the last), rehashing each changed path once.
    pub fn insert_batch(&mut self, changes: impl IntoIterator<Item = (Key, Hash)>) {
        let done = update(&*self, &self.root, changes)
            .expect("an in-memory directory has every node its tree names");
        self.nodes.extend(done.nodes);
        self.root = done.root;
        self.len += done.added;
    }

    /// Every stored node, in no particular order (to write the directory out).
    pub fn nodes(&self) -> impl Iterator<Item = (&NodePath, &Node)> {
        self.nodes.iter()
    }

    /// The value of `key`, if it is in the directory.
    pub fn get(&self, key: &Key) -> Option<Hash> {
        self.prove(key).0
    }

    /// The value of `key` and the proof of it, or of its absence, against [`root`](Self::root).
    pub fn prove(&self, key: &Key) -> (Option<Hash>, DirectoryProof) {
        prove(self, &self.root, key).expect("an in-memory directory has every node its tree names")
    }
}

impl NodeReader for Directory {
    fn read_node(&self, path: &NodePath) -> Result<Node> {
        self.nodes
            .get(path)
            .copied()
            .ok_or(DirectoryError::NodeMissing { depth: path.depth }.into())
    }
}
