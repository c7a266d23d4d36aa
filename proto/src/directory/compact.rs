//! [`CompactDirectory`]: the key directory's root, kept in about 70 bytes a
//! key instead of [`Directory`](super::Directory)'s 500, for a monitor that
//! recomputes a whole log's directory.
//!
//! The keys are kept sorted in 2^16 buckets by their first 16 bits, and the
//! tree is stored only above that depth: one hash (and whether it holds 0,
//! 1 or more keys) per subtree of the top 16 levels. A bucket's subtree is
//! rehashed from its sorted keys when it changed (about 2.5 hashes a key in
//! it), so [`insert_batch`](CompactDirectory::insert_batch) hashes nothing
//! and [`root`](CompactDirectory::root) rehashes only the buckets and upper
//! paths changed since it was last asked. The root is the one of
//! `docs/FORMATS.md`, whatever the order the keys went in.

use super::{key_bit, leaf_hash, node_hash, Key, EMPTY};
use crate::Hash;

/// Depth of the buckets: the tree is stored above it, recomputed below it.
const BUCKET_BITS: u16 = 16;

/// A subtree above the buckets: its hash and how many keys it holds (0, 1, or 2 for "two or more").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sub {
    hash: Hash,
    keys: u8,
}

const EMPTY_SUB: Sub = Sub {
    hash: EMPTY,
    keys: 0,
};

/// The key directory's leaves, sorted by bucket, and its upper tree.
#[derive(Debug, Clone)]
pub struct CompactDirectory {
    /// The keys and values whose first 16 bits are the bucket's index, sorted by key.
    buckets: Vec<Vec<(Key, Hash)>>,
    /// `levels[d][i]`: the subtree at depth `d` whose path is `i`'s `d` bits.
    levels: Vec<Vec<Sub>>,
    /// Buckets changed since the upper tree was last brought up to date.
    dirty: Vec<u32>,
    len: usize,
}

impl Default for CompactDirectory {
    fn default() -> Self {
        CompactDirectory::new()
    }
}

impl CompactDirectory {
    /// The empty directory (its root is [`EMPTY`]).
    pub fn new() -> CompactDirectory {
        let levels = (0..=BUCKET_BITS).map(|d| vec![EMPTY_SUB; 1 << d]).collect();
        CompactDirectory {
            buckets: vec![Vec::new(); 1 << BUCKET_BITS],
            levels,
            dirty: Vec::new(),
            len: 0,
        }
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sets every key of `changes` to its value (a key given twice to the last); hashes nothing yet.
    pub fn insert_batch(&mut self, changes: impl IntoIterator<Item = (Key, Hash)>) {
        for (key, value) in changes {
            let b = bucket_of(&key);
            let bucket = &mut self.buckets[b];
            match bucket.binary_search_by(|(k, _)| k.cmp(&key)) {
                Ok(i) => bucket[i].1 = value,
                Err(i) => {
                    bucket.insert(i, (key, value));
                    self.len += 1;
                }
            }
            self.dirty.push(b as u32);
        }
    }

    /// Sets `key` to `value`, inserting it or replacing its value.
    pub fn insert(&mut self, key: Key, value: Hash) {
        self.insert_batch([(key, value)]);
    }

    /// The value of `key`, if it is in the directory.
    pub fn get(&self, key: &Key) -> Option<Hash> {
        let bucket = &self.buckets[bucket_of(key)];
        let i = bucket.binary_search_by(|(k, _)| k.cmp(key)).ok()?;
        Some(bucket[i].1)
    }

    /// The root hash, rehashing what changed since it was last asked for.
    pub fn root(&mut self) -> Hash {
        let mut dirty = std::mem::take(&mut self.dirty);
        dirty.sort_unstable();
        dirty.dedup();
        let bottom = usize::from(BUCKET_BITS);
        for &b in &dirty {
            let keys = &self.buckets[b as usize];
            self.levels[bottom][b as usize] = Sub {
                hash: subtree_hash(BUCKET_BITS, keys),
                keys: keys.len().min(2) as u8,
            };
        }
        for depth in (0..bottom).rev() {
            for b in dirty.iter_mut() {
                *b >>= 1;
            }
            dirty.dedup();
            let (upper, lower) = self.levels.split_at_mut(depth + 1);
            for &i in &dirty {
                let i = i as usize;
                upper[depth][i] = combine(lower[0][2 * i], lower[0][2 * i + 1]);
            }
        }
        self.levels[0][0].hash
    }
}

/// The bucket of `key`: its first 16 bits.
fn bucket_of(key: &Key) -> usize {
    usize::from(u16::from_be_bytes([key[0], key[1]]))
}

/// The subtree of two halves: empty, the one key's leaf (it collapses), or a node.
fn combine(left: Sub, right: Sub) -> Sub {
    match left.keys + right.keys {
        0 => EMPTY_SUB,
        1 if left.keys == 1 => left,
        1 => right,
        _ => Sub {
            hash: node_hash(&left.hash, &right.hash),
            keys: 2,
        },
    }
}

/// The hash of the subtree at `depth` holding exactly `items` (sorted, unique).
fn subtree_hash(depth: u16, items: &[(Key, Hash)]) -> Hash {
    match items {
        [] => EMPTY,
        [(key, value)] => leaf_hash(key, value),
        _ => {
            let at = items.partition_point(|(k, _)| !key_bit(k, depth));
            let (l, r) = items.split_at(at);
            node_hash(&subtree_hash(depth + 1, l), &subtree_hash(depth + 1, r))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Directory;
    use super::*;
    use sha2::{Digest, Sha256};

    fn h(tag: &str, i: u64) -> Hash {
        let mut s = Sha256::new();
        s.update(tag.as_bytes());
        s.update(i.to_be_bytes());
        s.finalize().into()
    }

    /// Keys that share long prefixes, above and below the bucket depth.
    fn tricky_keys() -> Vec<Key> {
        let mut out = Vec::new();
        for (i, bit) in [3u16, 9, 15, 16, 17, 40, 255].into_iter().enumerate() {
            let mut k = h("base", i as u64);
            out.push(k);
            k[usize::from(bit / 8)] ^= 0x80 >> (bit % 8);
            out.push(k);
        }
        out
    }

    #[test]
    fn same_root_as_the_full_directory_at_every_step() {
        let mut full = Directory::new();
        let mut compact = CompactDirectory::new();
        assert_eq!(compact.root(), EMPTY);
        let mut keys = tricky_keys();
        keys.extend((0..300).map(|i| h("key", i)));
        for (i, chunk) in keys.chunks(7).enumerate() {
            let batch: Vec<_> = chunk.iter().map(|k| (*k, h("v", i as u64))).collect();
            full.insert_batch(batch.clone());
            compact.insert_batch(batch);
            assert_eq!(compact.root(), full.root(), "after batch {i}");
            assert_eq!(compact.len(), full.len());
        }
        // Changing values, a key given twice (the last wins), and a root asked twice.
        let again = [(keys[3], [1; 32]), (keys[40], [2; 32]), (keys[3], [3; 32])];
        full.insert_batch(again);
        compact.insert_batch(again);
        assert_eq!(compact.root(), full.root());
        assert_eq!(compact.root(), full.root());
        assert_eq!(compact.get(&keys[3]), Some([3; 32]));
        assert_eq!(compact.get(&h("absent", 0)), None);
    }

    #[test]
    fn one_key_is_its_leaf_and_two_in_one_bucket_are_a_node_chain() {
        let mut c = CompactDirectory::new();
        let k = h("only", 0);
        c.insert(k, [9; 32]);
        assert_eq!(c.root(), leaf_hash(&k, &[9; 32]));
        let mut k2 = k;
        k2[31] ^= 1;
        c.insert(k2, [9; 32]);
        let mut d = Directory::new();
        d.insert_batch([(k, [9; 32]), (k2, [9; 32])]);
        assert_eq!(c.root(), d.root());
        assert_ne!(c.root(), leaf_hash(&k, &[9; 32]));
    }
}
