//! The leaf hashes of a catch-up's latest entries, to find entries logged twice.
//!
//! A catch-up asks about every entry, so this is on the monitor's hot path
//! (P4: 200,000 entries/s on two cores). Leaf hashes are SHA-256 outputs, so
//! their own bytes serve as the table hash; no hasher runs. The set is two
//! generations of open-addressed slots of 8 bytes (a 31-bit tag and the low
//! 32 bits of the entry's index): each generation takes [`WINDOW`] entries,
//! then becomes the old one and the older one is cleared. A lookup reads one
//! slot run in each generation (about 2 MiB in all, against about 5 MiB for
//! a `HashMap` with a queue of evictions), and nothing is ever deleted one
//! slot at a time. A tag match is confirmed against the full leaf hash, kept
//! in a ring of the latest 2 × [`WINDOW`] leaves, so a report is never a
//! tag collision.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use sealwax_proto::Hash;

/// Every entry is checked against at least this many entries before it.
pub const WINDOW: usize = 65_536;

/// Slots per generation: twice the entries it takes, so a table is at most half full.
const SLOTS: usize = 2 * WINDOW;

/// Leaves remembered in the ring: both generations.
const RING: usize = 2 * WINDOW;

/// The leaf hashes of at least the latest [`WINDOW`] entries, with their indexes.
pub struct RecentLeaves {
    /// The generation being filled, then the previous one.
    tables: [Vec<u64>; 2],
    /// Which of `tables` is being filled.
    current: usize,
    /// Entries in the current generation.
    filled: usize,
    /// `ring[i % RING]` is the leaf of entry `i`, for the latest `RING` entries added.
    ring: Vec<Hash>,
}

impl Default for RecentLeaves {
    fn default() -> Self {
        RecentLeaves::new()
    }
}

impl RecentLeaves {
    /// An empty set (about 6 MiB: two tables of 1 MiB and the ring of 4 MiB).
    pub fn new() -> RecentLeaves {
        RecentLeaves {
            tables: [vec![0; SLOTS], vec![0; SLOTS]],
            current: 0,
            filled: 0,
            ring: vec![[0; 32]; RING],
        }
    }

    /// Records `leaf` as entry `at` (entries come in increasing order) and
    /// returns the index of an earlier copy among the entries it remembers,
    /// if there is one. A copy is not recorded: the earlier index stays the
    /// one reported.
    pub fn seen(&mut self, leaf: &Hash, at: u64) -> Option<u64> {
        let (home, tag) = slot_of(leaf);
        for t in [self.current, 1 - self.current] {
            if let Some(first) = self.find(t, home, tag, leaf, at) {
                return Some(first);
            }
        }
        if self.filled == WINDOW {
            self.current = 1 - self.current;
            self.tables[self.current].fill(0);
            self.filled = 0;
        }
        let table = &mut self.tables[self.current];
        let mut i = home;
        while table[i] != 0 {
            i = (i + 1) % SLOTS;
        }
        table[i] = (u64::from(tag) << 32) | (at & 0xffff_ffff);
        self.filled += 1;
        self.ring[(at % RING as u64) as usize] = *leaf;
        None
    }

    /// The index of `leaf` in table `t`, if it holds it.
    fn find(&self, t: usize, home: usize, tag: u32, leaf: &Hash, at: u64) -> Option<u64> {
        let table = &self.tables[t];
        let mut i = home;
        loop {
            let slot = table[i];
            if slot == 0 {
                return None;
            }
            if (slot >> 32) as u32 == tag {
                // The entry index from its low 32 bits: the latest one at or before `at`.
                let back = (at as u32).wrapping_sub(slot as u32);
                // The ring may have moved on past it (then the hashes differ):
                // only a full match is a copy.
                if let Some(first) = at.checked_sub(u64::from(back)) {
                    if self.ring[(first % RING as u64) as usize] == *leaf {
                        return Some(first);
                    }
                }
            }
            i = (i + 1) % SLOTS;
        }
    }
}

/// The home slot and the (never zero) tag of a leaf hash, from its own bytes.
fn slot_of(leaf: &Hash) -> (usize, u32) {
    let mut a = [0u8; 8];
    a.copy_from_slice(&leaf[..8]);
    let mut b = [0u8; 4];
    b.copy_from_slice(&leaf[8..12]);
    let home = (u64::from_le_bytes(a) % SLOTS as u64) as usize;
    (home, u32::from_le_bytes(b) | 1)
}

/// A set of leaf hashes, hashed by their own first 8 bytes (they are SHA-256 outputs).
pub type LeafSet = HashSet<Hash, BuildHasherDefault<LeafHasher>>;

/// A [`Hasher`] for SHA-256 outputs: their first 8 bytes are already uniform.
#[derive(Default)]
pub struct LeafHasher(u64);

impl Hasher for LeafHasher {
    fn write(&mut self, bytes: &[u8]) {
        // A `[u8; 32]` hashes as its length (`write_usize`, ignored) then its bytes.
        let mut a = [0u8; 8];
        let n = bytes.len().min(8);
        a[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(a);
    }

    fn write_usize(&mut self, _len: usize) {}

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn leaf(n: u64) -> Hash {
        Sha256::digest(n.to_le_bytes()).into()
    }

    #[test]
    fn leaf_sets_tell_leaves_apart() {
        let mut s = LeafSet::default();
        assert!(s.insert(leaf(1)));
        assert!(s.insert(leaf(2)));
        assert!(!s.insert(leaf(1)));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn finds_copies_within_the_window() {
        let mut r = RecentLeaves::new();
        for i in 0..(3 * WINDOW as u64) {
            assert_eq!(r.seen(&leaf(i), i), None, "entry {i} is new");
        }
        let at = 3 * WINDOW as u64;
        // Every one of the latest WINDOW entries is found, at its own index.
        for back in 1..=WINDOW as u64 {
            let first = at - back;
            assert_eq!(r.seen(&leaf(first), at), Some(first), "{back} back");
        }
    }

    #[test]
    fn forgets_what_is_out_of_both_generations() {
        let mut r = RecentLeaves::new();
        for i in 0..(5 * WINDOW as u64) {
            r.seen(&leaf(i), i);
        }
        // Entries older than 2 × WINDOW are gone, and no tag match is reported.
        let at = 5 * WINDOW as u64;
        for old in 0..(WINDOW as u64) {
            assert_eq!(r.seen(&leaf(old), at + old), None);
        }
    }

    #[test]
    fn tag_collisions_are_confirmed_against_the_full_hash() {
        let mut r = RecentLeaves::new();
        let a = leaf(1);
        let mut b = a;
        b[31] ^= 1; // same home slot and tag, another hash
        assert_eq!(r.seen(&a, 10), None);
        assert_eq!(r.seen(&b, 11), None);
        assert_eq!(r.seen(&b, 12), Some(11));
        assert_eq!(r.seen(&a, 13), Some(10));
    }

    #[test]
    fn a_repeated_entry_reports_its_first_index() {
        let mut r = RecentLeaves::new();
        let x = leaf(7);
        assert_eq!(r.seen(&x, 0), None);
        // Copies are not recorded and do not fill a generation, so the first
        // index is reported however long the run of copies is.
        for i in 1..(3 * WINDOW as u64) {
            assert_eq!(r.seen(&x, i), Some(0), "entry {i}");
        }
    }
}
