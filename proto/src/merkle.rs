//! Merkle tree math: RFC 9162 §2.1 (the same tree as RFC 6962 §2.1).
//!
//! The log is a Merkle Tree Hash (MTH) over the list of entries
//! `D[n] = {d[0], …, d[n-1]}`, with SHA-256 and one-byte domain separation
//! (RFC 9162 §2.1.1):
//!
//! ```text
//! MTH({})      = SHA-256()                                  = EMPTY_ROOT (e3b0c442…b855)
//! MTH({d[0]})  = SHA-256(0x00 || d[0])                      = leaf_hash(d[0])
//! MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])) = node_hash(..), n > 1,
//!                where k is the largest power of two smaller than n
//! ```
//!
//! The tree is left-balanced: every left subtree is complete. Stored hashes
//! are addressed the way C2SP `tlog-tiles` and Go's `tlog` do: node
//! `(level, index)` is the hash of the complete subtree of `2^level` leaves
//! that starts at leaf `index << level`. A [`HashReader`] serves those hashes;
//! [`tree_root`], [`prove_inclusion`] and [`prove_consistency`] read
//! O(log n) of them, never the whole tree.
//!
//! Proofs are the ones of RFC 9162 §2.1.3.1 (inclusion path, nearest sibling
//! first) and §2.1.4.1 (consistency path), and are checked with the
//! algorithms of §2.1.3.2 ([`verify_inclusion`]) and §2.1.4.2
//! ([`verify_consistency`]).
//!
//! [`CompactRange`] holds only the right edge of the tree (one hash per set
//! bit of the size), so a sequencer can append leaves and compute each new
//! root in O(log n) without reading the tree back.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::{Error, Hash, Result};

/// The root of the empty tree: `SHA-256("")` (RFC 9162 §2.1.1).
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// Leaf hash of an entry: `SHA-256(0x00 || entry)` (RFC 9162 §2.1.1).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(entry);
    h.finalize().into()
}

/// Interior node hash: `SHA-256(0x01 || left || right)` (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly smaller than `n` (the `k` of RFC 9162 §2.1.1); `n >= 2`.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The tree root over the given leaf hashes, computed from scratch by the
/// recursive definition of RFC 9162 §2.1.1. The reference the incremental
/// code is tested against, and the root of a perfect subtree from its
/// bottom row (as in a tile); O(n).
pub fn root_from_leaves(leaf_hashes: &[Hash]) -> Hash {
    match leaf_hashes.len() {
        0 => EMPTY_ROOT,
        1 => leaf_hashes[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(
                &root_from_leaves(&leaf_hashes[..k]),
                &root_from_leaves(&leaf_hashes[k..]),
            )
        }
    }
}

/// A source of stored hashes of complete subtrees.
pub trait HashReader {
    /// The hash of the complete subtree of `2^level` leaves starting at leaf
    /// `index << level` (level 0 = leaf hashes). Fails with
    /// [`Error::HashUnavailable`] when the source does not have it.
    fn read_hash(&self, level: u8, index: u64) -> Result<Hash>;
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn read_hash(&self, level: u8, index: u64) -> Result<Hash> {
        (**self).read_hash(level, index)
    }
}

impl<R: HashReader + ?Sized> HashReader for Arc<R> {
    fn read_hash(&self, level: u8, index: u64) -> Result<Hash> {
        (**self).read_hash(level, index)
    }
}

/// The perfect subtrees `[0, size)` splits into, as `(start, size)`, largest first: 13 gives (0, 8), (8, 4), (12, 1).
pub fn perfect_subtrees(size: u64) -> impl Iterator<Item = (u64, u64)> {
    (0..64u32)
        .rev()
        .map(|bit| 1u64 << bit)
        .filter(move |n| size & n != 0)
        // The subtree of bit `n` starts after those of the higher bits.
        .map(move |n| (size & !(n | (n - 1)), n))
}

/// The roots of the perfect subtrees of `[start, start + size)`, largest
/// first, read from `r` (`start` is a multiple of the largest of them).
fn read_subtrees(r: &impl HashReader, start: u64, size: u64) -> Result<Vec<Hash>> {
    perfect_subtrees(size)
        .map(|(offset, n)| {
            let level = n.trailing_zeros() as u8;
            r.read_hash(level, (start + offset) >> level)
        })
        .collect()
}

/// `MTH(D[start:end])` for a range that is a subtree of an RFC 9162 tree
/// (`start` is a multiple of the largest power of two `<= end - start`).
///
/// The range splits into complete subtrees of decreasing size, one per set
/// bit of `end - start` ([`perfect_subtrees`]); the hash is their right fold
/// `node_hash(c1, node_hash(c2, … c_last))`. Reads popcount(end - start) hashes.
fn range_hash(r: &impl HashReader, start: u64, end: u64) -> Result<Hash> {
    debug_assert!(start < end);
    Ok(fold_right(&read_subtrees(r, start, end - start)?))
}

/// Right fold of subtree roots, largest (leftmost) first, into one root.
fn fold_right(pieces: &[Hash]) -> Hash {
    let mut iter = pieces.iter().rev();
    let Some(last) = iter.next() else {
        return EMPTY_ROOT;
    };
    iter.fold(*last, |acc, h| node_hash(h, &acc))
}

/// The root of the tree of the first `size` leaves, read from `r`:
/// popcount(size) hash reads. `size == 0` gives [`EMPTY_ROOT`].
pub fn tree_root(r: &impl HashReader, size: u64) -> Result<Hash> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    range_hash(r, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves:
/// `PATH(index, D[size])` of RFC 9162 §2.1.3.1, nearest sibling first.
///
/// Reads at most `2·⌈log2(size)⌉` hashes: one per level for the complete
/// siblings, plus the pieces of the single incomplete right sibling.
pub fn prove_inclusion(r: &impl HashReader, index: u64, size: u64) -> Result<Vec<Hash>> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    // Walk from the root down to the leaf; siblings come out top-down.
    let mut path = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index - lo < k {
            path.push(range_hash(r, lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(r.read_hash(k.trailing_zeros() as u8, lo >> k.trailing_zeros())?);
            lo += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof from the tree of `from` leaves to the tree of `to`
/// leaves: `PROOF(from, D[to]) = SUBPROOF(from, D[to], true)` of RFC 9162
/// §2.1.4.1. Empty when `from == to`.
///
/// RFC 9162 defines consistency proofs for `0 < from`: a proof from the
/// empty tree is refused with [`Error::ConsistencyFromEmpty`], and
/// `from > to` with [`Error::BadConsistencyRange`]. Reads O(log to) hashes.
pub fn prove_consistency(r: &impl HashReader, from: u64, to: u64) -> Result<Vec<Hash>> {
    if from > to {
        return Err(Error::BadConsistencyRange { from, to });
    }
    if from == 0 {
        return Err(Error::ConsistencyFromEmpty { to });
    }
    let mut path = Vec::new();
    if from == to {
        return Ok(path);
    }
    // SUBPROOF(m, D[lo:hi], b), iteratively; hashes come out top-down.
    let (mut lo, mut hi, mut m, mut whole_is_known) = (0u64, to, from, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !whole_is_known {
                path.push(range_hash(r, lo, hi)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            path.push(range_hash(r, lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(r.read_hash(k.trailing_zeros() as u8, lo >> k.trailing_zeros())?);
            lo += k;
            m -= k;
            whole_is_known = false;
        }
    }
    path.reverse();
    Ok(path)
}

/// Checks an inclusion proof with the algorithm of RFC 9162 §2.1.3.2: that
/// `leaf` (a [`leaf_hash`]) is leaf `index` of the tree of `size` leaves
/// whose root is `root`.
///
/// The proof alone does not bind `size` (index 0 of sizes 3 and 4 share a
/// path shape); a signed checkpoint binds size and root together.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<()> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(Error::ProofInvalid(
                "the inclusion proof has more hashes than a tree of this size needs",
            ));
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(Error::ProofInvalid(
            "the inclusion proof has fewer hashes than a tree of this size needs",
        ));
    }
    if r != *root {
        return Err(Error::ProofInvalid(
            "the inclusion proof does not lead to the tree root: the entry is not at this index of this tree",
        ));
    }
    Ok(())
}

/// Checks a consistency proof with the algorithm of RFC 9162 §2.1.4.2: that
/// the tree of `from` leaves with root `from_root` is a prefix of the tree of
/// `to` leaves with root `to_root`.
///
/// `from == to` needs an empty proof and equal roots. `from == 0` is refused
/// ([`Error::ConsistencyFromEmpty`]): RFC 9162 defines the proof for
/// `0 < from` only, and the shared test vectors expect the refusal.
pub fn verify_consistency(
    from: u64,
    to: u64,
    proof: &[Hash],
    from_root: &Hash,
    to_root: &Hash,
) -> Result<()> {
    if from > to {
        return Err(Error::BadConsistencyRange { from, to });
    }
    if from == 0 {
        return Err(Error::ConsistencyFromEmpty { to });
    }
    if from == to {
        if !proof.is_empty() {
            return Err(Error::ProofInvalid(
                "a consistency proof between equal sizes must be empty",
            ));
        }
        if from_root != to_root {
            return Err(Error::ProofInvalid(
                "two different roots for the same tree size: the log forked",
            ));
        }
        return Ok(());
    }
    // Step 1: an empty path never proves 0 < from < to.
    let Some((first, rest)) = proof.split_first() else {
        return Err(Error::ProofInvalid("the consistency proof is empty"));
    };
    // Step 2: if `from` is a power of two, the path implicitly starts with from_root.
    let (start, rest) = if from.is_power_of_two() {
        (*from_root, proof)
    } else {
        (*first, rest)
    };
    // Steps 3-5.
    let (mut f_n, mut s_n) = (from - 1, to - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (start, start);
    // Step 6.
    for c in rest {
        if s_n == 0 {
            return Err(Error::ProofInvalid(
                "the consistency proof has more hashes than these sizes need",
            ));
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 7.
    if s_n != 0 {
        return Err(Error::ProofInvalid(
            "the consistency proof has fewer hashes than these sizes need",
        ));
    }
    if fr != *from_root {
        return Err(Error::ProofInvalid(
            "the consistency proof does not lead to the older root",
        ));
    }
    if sr != *to_root {
        return Err(Error::ProofInvalid(
            "the consistency proof does not lead to the newer root: the log rewrote history or the proof is wrong",
        ));
    }
    Ok(())
}

/// The right edge of a tree that starts at leaf 0: one complete-subtree root
/// per set bit of the size, largest first (a "compact range" `[0, size)`).
///
/// Appending a leaf merges equal-sized subtrees like a binary counter, so
/// [`append`](Self::append) is amortised O(1) hashes and [`root`](Self::root)
/// O(log n); the tree itself is never read back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactRange {
    size: u64,
    hashes: Vec<Hash>,
}

impl CompactRange {
    /// The empty range (tree size 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a range from its size and right-edge hashes (largest first,
    /// as [`hashes`](Self::hashes) returns them).
    pub fn from_hashes(size: u64, hashes: Vec<Hash>) -> Result<Self> {
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(Error::CompactRangeMismatch {
                size,
                expected,
                found: hashes.len(),
            });
        }
        Ok(Self { size, hashes })
    }

    /// Rebuilds the range of the first `size` leaves from stored hashes
    /// (popcount(size) reads), e.g. when a sequencer restarts.
    pub fn from_reader(r: &impl HashReader, size: u64) -> Result<Self> {
        let hashes = read_subtrees(r, 0, size)?;
        Ok(Self { size, hashes })
    }

    /// The number of leaves appended so far (the tree size).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The right-edge subtree roots, largest (leftmost) first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The tree root at the current size ([`EMPTY_ROOT`] when empty).
    pub fn root(&self) -> Hash {
        fold_right(&self.hashes)
    }

    /// Appends a leaf hash. Calls `on_node(level, index, hash)` for the leaf
    /// itself (level 0, index = the old size) and then for every complete
    /// subtree the leaf completes, lowest level first, so a server can store
    /// the level-0 and level-8k nodes its tiles are made of.
    ///
    /// # Panics
    /// If the tree already holds `u64::MAX` leaves.
    pub fn append(&mut self, leaf: Hash, mut on_node: impl FnMut(u8, u64, &Hash)) {
        let old = self.size;
        self.size = old.checked_add(1).expect("Merkle tree size overflows u64");
        on_node(0, old, &leaf);
        let mut h = leaf;
        let mut level = 0u8;
        // Each trailing one bit of the old size is a subtree of the same size
        // as the one just completed: merge them, like a carry.
        while (old >> level) & 1 == 1 {
            let left = self
                .hashes
                .pop()
                .expect("a compact range holds one hash per set bit of its size");
            h = node_hash(&left, &h);
            level += 1;
            on_node(level, old >> level, &h);
        }
        self.hashes.push(h);
    }
}

/// Every node of a tree, in memory: the reference [`HashReader`] for tests,
/// benchmarks and small tools (a tree of n leaves takes about 64·n bytes).
#[derive(Clone, Debug, Default)]
pub struct MemoryHashStore {
    /// `levels[l][i]` is node `(l, i)`.
    levels: Vec<Vec<Hash>>,
}

impl MemoryHashStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash and stores every node it completes.
    pub fn append(&mut self, leaf: Hash) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let mut level = 0;
        while self.levels[level].len() & 1 == 0 {
            let nodes = &self.levels[level];
            let h = node_hash(&nodes[nodes.len() - 2], &nodes[nodes.len() - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(h);
            level += 1;
        }
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        tree_root(self, self.size()).expect("a memory store holds every complete subtree")
    }
}

impl HashReader for MemoryHashStore {
    fn read_hash(&self, level: u8, index: u64) -> Result<Hash> {
        self.levels
            .get(level as usize)
            .and_then(|nodes| nodes.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(Error::HashUnavailable { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        for n in 2u64..1000 {
            let k = split_point(n);
            assert!(k.is_power_of_two() && k < n && n <= 2 * k, "n={n} k={k}");
        }
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn perfect_subtrees_tile_the_size_largest_first() {
        assert_eq!(
            perfect_subtrees(13).collect::<Vec<_>>(),
            vec![(0, 8), (8, 4), (12, 1)]
        );
        assert_eq!(perfect_subtrees(0).count(), 0);
        let all = perfect_subtrees(u64::MAX).collect::<Vec<_>>();
        assert_eq!(all.len(), 64);
        assert_eq!(all[0], (0, 1 << 63));
        assert_eq!(all[63], (u64::MAX - 1, 1));
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT, <[u8; 32]>::from(Sha256::digest(b"")));
    }
}
