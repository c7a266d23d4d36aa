//! Property tests of the Merkle math: proofs verify and tampering breaks
//! them, the incremental code agrees with the from-scratch definition, an
//! independent implementation (`rs_merkle`) agrees on roots and paths, and
//! proofs in a 2^40-leaf tree read O(log n) stored hashes.

use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use sha2::{Digest, Sha256};

use sealwax_proto::merkle::{
    leaf_hash, node_hash, perfect_subtrees, prove_consistency, prove_inclusion, root_from_leaves,
    tree_root, verify_consistency, verify_inclusion, CompactRange, HashReader, MemoryHashStore,
    EMPTY_ROOT,
};
use sealwax_proto::{Error, Hash, Result};

fn leaves(n: u64, salt: u64) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(&[salt.to_le_bytes(), i.to_le_bytes()].concat()))
        .collect()
}

fn store_of(leaves: &[Hash]) -> MemoryHashStore {
    let mut s = MemoryHashStore::new();
    for l in leaves {
        s.append(*l);
    }
    s
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut h = *h;
    h[(bit / 8) % 32] ^= 1 << (bit % 8);
    h
}

fn ceil_log2(n: u64) -> u32 {
    if n <= 1 {
        0
    } else {
        64 - (n - 1).leading_zeros()
    }
}

/// Counts the reads it passes through to another reader.
struct Counting<R> {
    inner: R,
    reads: Cell<u64>,
}

impl<R: HashReader> HashReader for Counting<R> {
    fn read_hash(&self, level: u8, index: u64) -> Result<Hash> {
        self.reads.set(self.reads.get() + 1);
        self.inner.read_hash(level, index)
    }
}

fn counting<R>(inner: R) -> Counting<R> {
    Counting {
        inner,
        reads: Cell::new(0),
    }
}

/// Which side each inclusion-path sibling is on, nearest first (true =
/// left), from the recursive PATH definition of RFC 9162 §2.1.3.1.
fn path_shape(index: u64, size: u64) -> Vec<bool> {
    if size <= 1 {
        return Vec::new();
    }
    let k = 1u64 << (63 - (size - 1).leading_zeros());
    let (mut shape, side) = if index < k {
        (path_shape(index, k), false)
    } else {
        (path_shape(index - k, size - k), true)
    };
    shape.push(side);
    shape
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn inclusion_proofs_verify_and_read_log_n_hashes(
        size in 1u64..2000, index_seed in any::<u64>(), salt in any::<u64>(),
    ) {
        let leaves = leaves(size, salt);
        let store = counting(store_of(&leaves));
        let index = index_seed % size;
        let root = root_from_leaves(&leaves);
        prop_assert_eq!(tree_root(&store, size).unwrap(), root);
        store.reads.set(0);
        let proof = prove_inclusion(&store, index, size).unwrap();
        prop_assert!(store.reads.get() <= 2 * u64::from(ceil_log2(size)),
            "{} reads for size {}", store.reads.get(), size);
        prop_assert!(proof.len() as u32 <= ceil_log2(size));
        prop_assert_eq!(verify_inclusion(&leaves[index as usize], index, size, &proof, &root), Ok(()));
    }

    #[test]
    fn tampered_inclusion_proofs_fail(
        size in 1u64..2000, index_seed in any::<u64>(), other_seed in any::<u64>(),
        other_size in 1u64..4000, bit in 0usize..256, salt in any::<u64>(),
    ) {
        let leaves = leaves(size, salt);
        let store = store_of(&leaves);
        let index = index_seed % size;
        let leaf = leaves[index as usize];
        let root = store.root();
        let proof = prove_inclusion(&store, index, size).unwrap();

        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i] = flip(&bad[i], bit);
            prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err(), "proof[{}] flipped", i);
        }
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &flip(&root, bit)).is_err());
        prop_assert!(verify_inclusion(&flip(&leaf, bit), index, size, &proof, &root).is_err());
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(&leaf, index, size, &longer, &root).is_err());
        if !proof.is_empty() {
            prop_assert!(verify_inclusion(&leaf, index, size, &proof[..proof.len() - 1], &root).is_err());
        }

        let other_index = other_seed % (size + 1);
        if other_index != index {
            prop_assert!(verify_inclusion(&leaf, other_index, size, &proof, &root).is_err(),
                "index {} accepted for a proof of {}", other_index, index);
        }
        // RFC 9162 proofs do not commit to the size by themselves: another
        // size verifies exactly when its path has the same shape (then the
        // computation is the same); the checkpoint binds size and root.
        if other_size != size {
            let same_shape = index < other_size
                && path_shape(index, other_size) == path_shape(index, size);
            let got = verify_inclusion(&leaf, index, other_size, &proof, &root);
            prop_assert_eq!(got.is_ok(), same_shape, "size {} -> {}: {:?}", size, other_size, got);
        }
    }

    #[test]
    fn consistency_proofs_verify_and_detect_rewrites(
        size in 1u64..2000, from_seed in any::<u64>(), changed_seed in any::<u64>(),
        bit in 0usize..256, salt in any::<u64>(),
    ) {
        let from = 1 + from_seed % size;
        let leaves = leaves(size, salt);
        let store = counting(store_of(&leaves));
        let root1 = root_from_leaves(&leaves[..from as usize]);
        let root2 = root_from_leaves(&leaves);
        let proof = prove_consistency(&store, from, size).unwrap();
        prop_assert!(store.reads.get() <= 2 * u64::from(ceil_log2(size)) + 1,
            "{} reads for {} -> {}", store.reads.get(), from, size);
        prop_assert_eq!(verify_consistency(from, size, &proof, &root1, &root2), Ok(()));

        prop_assert!(verify_consistency(from, size, &proof, &flip(&root1, bit), &root2).is_err());
        prop_assert!(verify_consistency(from, size, &proof, &root1, &flip(&root2, bit)).is_err());
        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i] = flip(&bad[i], bit);
            prop_assert!(verify_consistency(from, size, &bad, &root1, &root2).is_err(), "proof[{}] flipped", i);
        }

        // Rewrite one of the first `from` leaves: the new tree is not an
        // extension of the old one, whichever proof is offered.
        let changed = (changed_seed % from) as usize;
        let mut rewritten = leaves.clone();
        rewritten[changed] = flip(&rewritten[changed], bit);
        let forged = store_of(&rewritten);
        let forged_root = forged.root();
        prop_assert_ne!(forged_root, root2);
        prop_assert!(verify_consistency(from, size, &proof, &root1, &forged_root).is_err());
        let forged_proof = prove_consistency(&forged, from, size).unwrap();
        prop_assert!(verify_consistency(from, size, &forged_proof, &root1, &forged_root).is_err());
    }

    #[test]
    fn compact_range_matches_reference(
        entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 0..700),
    ) {
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        let mut range = CompactRange::new();
        let mut store = MemoryHashStore::new();
        let mut reported = BTreeMap::new();
        prop_assert_eq!(range.root(), EMPTY_ROOT);
        for (i, leaf) in leaves.iter().enumerate() {
            range.append(*leaf, |level, index, hash| {
                let fresh = reported.insert((level, index), *hash).is_none();
                assert!(fresh, "node ({level}, {index}) reported twice");
            });
            store.append(*leaf);
            prop_assert_eq!(range.size(), i as u64 + 1);
            prop_assert_eq!(range.hashes().len() as u32, range.size().count_ones());
            if i < 64 || i % 61 == 0 {
                prop_assert_eq!(range.root(), root_from_leaves(&leaves[..=i]), "after {} leaves", i + 1);
            }
        }
        prop_assert_eq!(range.root(), root_from_leaves(&leaves));
        // Every complete subtree was reported exactly once, with its hash.
        let n = leaves.len() as u64;
        prop_assert_eq!(reported.len() as u64, 2 * n - u64::from(n.count_ones()));
        for ((level, index), hash) in &reported {
            prop_assert_eq!(store.read_hash(*level, *index).unwrap(), *hash);
        }
        let rebuilt = CompactRange::from_hashes(n, range.hashes().to_vec()).unwrap();
        prop_assert_eq!(&rebuilt, &range);
        prop_assert_eq!(CompactRange::from_reader(&store, n).unwrap(), range);
    }

    #[test]
    fn perfect_subtrees_tile_the_tree_and_fold_to_its_root(
        size in any::<u64>(),
        small in 0u64..300,
    ) {
        // Contiguous from 0, strictly decreasing powers of two, each aligned.
        let subtrees: Vec<(u64, u64)> = perfect_subtrees(size).collect();
        prop_assert_eq!(subtrees.len() as u32, size.count_ones());
        let mut next = 0u64;
        for (i, &(start, n)) in subtrees.iter().enumerate() {
            prop_assert!(n.is_power_of_two());
            prop_assert_eq!(start, next);
            prop_assert_eq!(start % n, 0);
            if i > 0 {
                prop_assert!(n < subtrees[i - 1].1);
            }
            next = start + n;
        }
        prop_assert_eq!(next, size);
        // The right fold of the subtrees' roots is the tree root.
        let leaves = leaves(small, 7);
        let roots: Vec<Hash> = perfect_subtrees(small)
            .map(|(start, n)| root_from_leaves(&leaves[start as usize..(start + n) as usize]))
            .collect();
        let folded = roots.iter().rev().copied().reduce(|acc, h| node_hash(&h, &acc));
        prop_assert_eq!(folded.unwrap_or(EMPTY_ROOT), root_from_leaves(&leaves));
    }
}

/// An RFC 6962 hasher for `rs_merkle`. rs_merkle builds its tree bottom-up
/// and promotes an unpaired last node unchanged, which yields the same
/// left-balanced shape as RFC 9162; only the interior hash needs the 0x01
/// prefix. Leaf hashes are computed here with `sha2` directly, not with
/// `sealwax_proto`, so the two sides share no code but SHA-256.
#[derive(Clone)]
struct Rfc6962;

impl rs_merkle::Hasher for Rfc6962 {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(right) => Sha256::new()
                .chain_update([0x01])
                .chain_update(left)
                .chain_update(right)
                .finalize()
                .into(),
            None => *left,
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn rs_merkle_agrees(
        entries in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..16), 1..1500),
        index_seed in any::<usize>(),
    ) {
        let independent: Vec<[u8; 32]> = entries
            .iter()
            .map(|e| Sha256::new().chain_update([0x00]).chain_update(e).finalize().into())
            .collect();
        let ours: Vec<Hash> = entries.iter().map(|e| leaf_hash(e)).collect();
        prop_assert_eq!(&ours, &independent);

        let tree = rs_merkle::MerkleTree::<Rfc6962>::from_leaves(&independent);
        let their_root = tree.root().unwrap();
        prop_assert_eq!(root_from_leaves(&ours), their_root);
        let store = store_of(&ours);
        let n = ours.len();
        prop_assert_eq!(tree_root(&store, n as u64).unwrap(), their_root);

        // Same inclusion path, and each side accepts the other's proof.
        let index = index_seed % n;
        let our_proof = prove_inclusion(&store, index as u64, n as u64).unwrap();
        let their_proof = tree.proof(&[index]);
        prop_assert_eq!(their_proof.proof_hashes(), our_proof.as_slice());
        prop_assert!(rs_merkle::MerkleProof::<Rfc6962>::new(our_proof.clone())
            .verify(their_root, &[index], &[independent[index]], n));
        prop_assert_eq!(
            verify_inclusion(&ours[index], index as u64, n as u64, their_proof.proof_hashes(), &their_root),
            Ok(())
        );
    }
}

/// A virtual tree of `size` identical leaves: the hash of a complete subtree
/// depends only on its level, so no node needs storing. Every read is
/// counted and must name a complete subtree of the tree.
struct UniformTree {
    size: u64,
    by_level: Vec<Hash>,
    reads: Cell<u64>,
}

impl UniformTree {
    fn new(size: u64, leaf: Hash) -> Self {
        let mut by_level = vec![leaf];
        for l in 1..64 {
            let below = by_level[l - 1];
            by_level.push(node_hash(&below, &below));
        }
        UniformTree {
            size,
            by_level,
            reads: Cell::new(0),
        }
    }
}

impl HashReader for UniformTree {
    fn read_hash(&self, level: u8, index: u64) -> Result<Hash> {
        self.reads.set(self.reads.get() + 1);
        assert!(
            level < 64 && index < self.size >> level,
            "read of ({level}, {index}), which is not a complete subtree of a tree of {}",
            self.size
        );
        Ok(self.by_level[level as usize])
    }
}

/// From-scratch reference over identical leaves, memoised by size: exact,
/// because MTH of n identical leaves depends only on n.
struct UniformReference {
    leaf: Hash,
    memo: HashMap<u64, Hash>,
}

impl UniformReference {
    fn mth(&mut self, n: u64) -> Hash {
        if n == 1 {
            return self.leaf;
        }
        if let Some(h) = self.memo.get(&n) {
            return *h;
        }
        let k = 1u64 << (63 - (n - 1).leading_zeros());
        let h = node_hash(&self.mth(k), &self.mth(n - k));
        self.memo.insert(n, h);
        h
    }

    /// PATH(m, D[n]) of RFC 9162 §2.1.3.1.
    fn path(&mut self, m: u64, n: u64) -> Vec<Hash> {
        if n == 1 {
            return Vec::new();
        }
        let k = 1u64 << (63 - (n - 1).leading_zeros());
        if m < k {
            let mut p = self.path(m, k);
            p.push(self.mth(n - k));
            p
        } else {
            let mut p = self.path(m - k, n - k);
            p.push(self.mth(k));
            p
        }
    }

    /// SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1.
    fn subproof(&mut self, m: u64, n: u64, b: bool) -> Vec<Hash> {
        if m == n {
            return if b { Vec::new() } else { vec![self.mth(n)] };
        }
        let k = 1u64 << (63 - (n - 1).leading_zeros());
        if m <= k {
            let mut p = self.subproof(m, k, b);
            p.push(self.mth(n - k));
            p
        } else {
            let mut p = self.subproof(m - k, n - k, false);
            p.push(self.mth(k));
            p
        }
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn proofs_in_a_2_pow_40_tree_read_log_n_hashes(
        size_choice in 0usize..5, random_size in (1u64 << 39)..=(1u64 << 40),
        index_seed in any::<u64>(), from_seed in any::<u64>(),
    ) {
        let size = [1u64 << 40, (1 << 40) - 1, (1 << 40) - 12_345, (1 << 39) + (1 << 20) + 7, random_size][size_choice];
        let leaf = leaf_hash(b"the same entry everywhere");
        let tree = UniformTree::new(size, leaf);
        let mut reference = UniformReference { leaf, memo: HashMap::new() };
        let root = reference.mth(size);
        let max_reads = 2 * 40 + 2;

        prop_assert_eq!(tree_root(&tree, size).unwrap(), root);
        prop_assert_eq!(tree.reads.get(), u64::from(size.count_ones()));

        let index = index_seed % size;
        tree.reads.set(0);
        let proof = prove_inclusion(&tree, index, size).unwrap();
        prop_assert!(tree.reads.get() <= max_reads, "inclusion of {} in {}: {} reads", index, size, tree.reads.get());
        prop_assert_eq!(&proof, &reference.path(index, size));
        prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root), Ok(()));

        let from = 1 + from_seed % size;
        tree.reads.set(0);
        let proof = prove_consistency(&tree, from, size).unwrap();
        prop_assert!(tree.reads.get() <= max_reads, "consistency {} -> {}: {} reads", from, size, tree.reads.get());
        prop_assert_eq!(&proof, &reference.subproof(from, size, true));
        let from_root = reference.mth(from);
        prop_assert_eq!(verify_consistency(from, size, &proof, &from_root, &root), Ok(()));
    }
}

#[test]
fn refusals_say_what_was_wrong() {
    let store = store_of(&leaves(10, 1));
    struct Case {
        desc: &'static str,
        got: Result<Vec<Hash>>,
        want: Error,
    }
    let cases = [
        Case {
            desc: "inclusion of an index past the end",
            got: prove_inclusion(&store, 10, 10),
            want: Error::IndexOutOfRange {
                index: 10,
                size: 10,
            },
        },
        Case {
            desc: "inclusion in the empty tree",
            got: prove_inclusion(&store, 0, 0),
            want: Error::IndexOutOfRange { index: 0, size: 0 },
        },
        Case {
            desc: "consistency backwards",
            got: prove_consistency(&store, 5, 4),
            want: Error::BadConsistencyRange { from: 5, to: 4 },
        },
        Case {
            desc: "consistency from the empty tree",
            got: prove_consistency(&store, 0, 4),
            want: Error::ConsistencyFromEmpty { to: 4 },
        },
        Case {
            desc: "a tree larger than the store",
            got: prove_inclusion(&store, 3, 11),
            want: Error::HashUnavailable {
                level: 0,
                index: 10,
            },
        },
    ];
    for case in cases {
        assert_eq!(case.got, Err(case.want), "{}", case.desc);
    }
    assert_eq!(prove_consistency(&store, 7, 7), Ok(vec![]));
    assert_eq!(
        CompactRange::from_hashes(5, vec![[0; 32]]),
        Err(Error::CompactRangeMismatch {
            size: 5,
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        verify_consistency(0, 0, &[], &EMPTY_ROOT, &EMPTY_ROOT),
        Err(Error::ConsistencyFromEmpty { to: 0 })
    );
}
