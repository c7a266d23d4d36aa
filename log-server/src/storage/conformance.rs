//! The storage conformance suite: every [`Storage`] implementation runs
//! these same cases through [`storage_conformance_tests!`].

use sealwax_proto::merkle::{leaf_hash, CompactRange};

use super::*;

/// A storage under test, with a way to close and reopen it.
pub(crate) trait Backend {
    /// The storage type.
    type S: Storage;
    /// A new, empty instance.
    fn fresh() -> Self;
    /// The storage.
    fn storage(&self) -> &Self::S;
    /// Closes and reopens the same storage (a no-op where nothing persists).
    fn reopen(&mut self);
    /// Lets the storage drop what it may drop (RocksDB: a full compaction).
    fn settle(&self) {}
}

/// Generates one `#[test]` per conformance case for a [`Backend`].
#[macro_export]
#[doc(hidden)]
macro_rules! storage_conformance_tests {
    ($backend:ty) => {
        $crate::storage_conformance_tests!(@cases $backend;
            empty_storage_has_nothing,
            commit_then_read_everything_back,
            batches_extend_the_log_and_survive_reopen,
            out_of_order_batch_is_refused_and_changes_nothing,
            size_mismatch_is_refused,
            checkpoint_for_a_size_is_never_replaced,
            range_reads_stop_at_the_end,
            duplicate_leaf_keeps_first_index,
            lookup_keys_do_not_bleed_into_each_other,
            subtrees_of_complete_tiles_match_their_nodes,
            a_log_without_every_level_has_no_subtrees,
            key_records_are_per_publisher_and_overwritten,
            key_event_pages_start_where_asked,
            publisher_releases_are_paged_once_each,
            directory_nodes_are_read_as_of_a_size,
            directory_versions_below_the_horizon_are_dropped,
        );
    };
    (@cases $backend:ty; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let mut b = <$backend as $crate::storage::conformance::Backend>::fresh();
                $crate::storage::conformance::$case(&mut b);
            }
        )*
    };
}

/// Entry bytes for test index `i`.
fn entry_bytes(tag: &str, i: u64) -> Vec<u8> {
    format!("{tag} entry {i}").into_bytes()
}

/// A batch of `n` entries appended to `range` (which it advances), with
/// node hashes of levels 0 and 8, as sealwax stored them before it kept
/// every level.
fn make_batch(range: &mut CompactRange, tag: &str, n: u64) -> Batch {
    make_batch_levels(range, tag, n, |level| level % 8 == 0)
}

/// A batch of `n` entries with the node hashes of the levels `keep` picks.
fn make_batch_levels(
    range: &mut CompactRange,
    tag: &str,
    n: u64,
    keep: impl Fn(u8) -> bool,
) -> Batch {
    let first = range.size();
    let mut b = Batch {
        first_index: first,
        ..Batch::default()
    };
    for i in first..first + n {
        let bytes = entry_bytes(tag, i);
        let lh = leaf_hash(&bytes);
        range.append(lh, |level, index, hash| {
            if keep(level) {
                b.nodes.push(NodeHash {
                    level,
                    index,
                    hash: *hash,
                });
            }
        });
        b.entries.push(NewEntry {
            bytes,
            leaf_hash: lh,
        });
    }
    b.state = TreeState {
        size: range.size(),
        range: range.hashes().to_vec(),
        checkpoint: format!("checkpoint {tag} {}\n", range.size()),
    };
    b
}

fn sig(index: u64, sha: u8, publisher: &str, package: &str, version: &str) -> SignatureRef {
    SignatureRef {
        index,
        sha256: [sha; 32],
        publisher: publisher.into(),
        package: package.into(),
        version: version.into(),
    }
}

pub(crate) fn empty_storage_has_nothing(b: &mut impl Backend) {
    let s = b.storage();
    assert_eq!(s.tree_state().unwrap(), None);
    assert_eq!(s.entry(0).unwrap(), None);
    assert!(s.entries(0, 10).unwrap().is_empty());
    assert_eq!(s.leaf_index(&[7; 32]).unwrap(), None);
    assert!(s.node_hashes(0, 0, 256).unwrap().is_empty());
    assert!(s.key_events("alice").unwrap().is_empty());
    assert_eq!(s.key_owner(&[1; 32]).unwrap(), None);
    assert_eq!(s.key_state("alice").unwrap(), None);
    assert!(s.key_records("alice").unwrap().is_empty());
    assert!(s.key_events_page("alice", 0, 10).unwrap().is_empty());
    assert!(s.signatures_by_sha256(&[1; 32]).unwrap().is_empty());
    assert!(s
        .signatures_by_release("alice", "p", None)
        .unwrap()
        .is_empty());
}

pub(crate) fn commit_then_read_everything_back(b: &mut impl Backend) {
    let mut range = CompactRange::new();
    let mut batch = make_batch(&mut range, "a", 300);
    batch.key_events = vec![("alice".into(), 0), ("alice".into(), 5)];
    batch.key_owners = vec![([9; 32], "alice".into())];
    batch.key_states = vec![("alice".into(), b"record one".to_vec())];
    batch.signatures = vec![sig(7, 1, "alice", "tool", "1.0")];
    let s = b.storage();
    s.commit(&batch).unwrap();

    assert_eq!(s.tree_state().unwrap(), Some(batch.state.clone()));
    assert_eq!(s.entry(0).unwrap(), Some(entry_bytes("a", 0)));
    assert_eq!(s.entry(299).unwrap(), Some(entry_bytes("a", 299)));
    assert_eq!(s.entry(300).unwrap(), None);
    let all = s.entries(0, 300).unwrap();
    assert_eq!(all.len(), 300);
    assert_eq!(all[123], entry_bytes("a", 123));
    for i in [0u64, 1, 255, 299] {
        assert_eq!(
            s.leaf_index(&leaf_hash(&entry_bytes("a", i))).unwrap(),
            Some(i)
        );
    }
    let leaves = s.node_hashes(0, 0, 300).unwrap();
    assert_eq!(leaves.len(), 300);
    assert_eq!(leaves[42], leaf_hash(&entry_bytes("a", 42)));
    // 300 leaves complete exactly one level-8 node: the root of the first 256.
    let l8 = s.node_hashes(8, 0, 2).unwrap();
    assert_eq!(l8.len(), 1);
    let want = sealwax_proto::merkle::root_from_leaves(&leaves[..256]);
    assert_eq!(l8[0], want);
    assert!(
        s.node_hashes(1, 0, 10).unwrap().is_empty(),
        "only the levels written are stored"
    );
    // Point reads agree with range reads, and miss what is not stored.
    assert_eq!(s.node_hash(0, 42).unwrap(), Some(leaves[42]));
    assert_eq!(s.node_hash(8, 0).unwrap(), Some(want));
    assert_eq!(s.node_hash(8, 1).unwrap(), None);
    assert_eq!(s.node_hash(1, 0).unwrap(), None);
    assert_eq!(s.node_hash(0, u64::MAX).unwrap(), None);
    assert_eq!(s.key_events("alice").unwrap(), vec![0, 5]);
    assert_eq!(s.key_owner(&[9; 32]).unwrap().as_deref(), Some("alice"));
    assert_eq!(
        s.key_state("alice").unwrap().as_deref(),
        Some(&b"record one"[..])
    );
    assert_eq!(s.key_state("bob").unwrap(), None);
    assert_eq!(s.signatures_by_sha256(&[1; 32]).unwrap(), vec![7]);
    assert_eq!(
        s.signatures_by_release("alice", "tool", Some("1.0"))
            .unwrap(),
        vec![7]
    );
    assert_eq!(
        s.signatures_by_release("alice", "tool", None).unwrap(),
        vec![7]
    );
}

pub(crate) fn batches_extend_the_log_and_survive_reopen(b: &mut impl Backend) {
    let mut range = CompactRange::new();
    let mut b1 = make_batch(&mut range, "x", 200);
    b1.key_events = vec![("bob".into(), 3)];
    b1.signatures = vec![
        sig(10, 2, "bob", "pkg", "2.0"),
        sig(11, 2, "bob", "pkg", "1.0"),
    ];
    let mut b2 = make_batch(&mut range, "x", 100);
    b2.key_events = vec![("bob".into(), 250)];
    b2.signatures = vec![sig(260, 2, "bob", "pkg", "1.5")];
    b.storage().commit(&b1).unwrap();
    b.storage().commit(&b2).unwrap();
    b.reopen();
    let s = b.storage();
    assert_eq!(s.tree_state().unwrap(), Some(b2.state.clone()));
    let got = s.entries(190, 210).unwrap();
    assert_eq!(got.len(), 20, "a range read crosses batches");
    assert_eq!(got[15], entry_bytes("x", 205));
    assert_eq!(s.node_hashes(8, 0, 1).unwrap().len(), 1);
    assert_eq!(s.key_events("bob").unwrap(), vec![3, 250]);
    assert_eq!(s.signatures_by_sha256(&[2; 32]).unwrap(), vec![10, 11, 260]);
    assert_eq!(
        s.signatures_by_release("bob", "pkg", None).unwrap(),
        vec![10, 11, 260],
        "all versions, ordered by index"
    );
    assert_eq!(
        s.signatures_by_release("bob", "pkg", Some("1.0")).unwrap(),
        vec![11]
    );
    // The tree state reloads into a compact range with the same root.
    let st = s.tree_state().unwrap().unwrap();
    let cr = CompactRange::from_hashes(st.size, st.range).unwrap();
    assert_eq!(cr.root(), range.root());
}

pub(crate) fn out_of_order_batch_is_refused_and_changes_nothing(b: &mut impl Backend) {
    let mut range = CompactRange::new();
    let b1 = make_batch(&mut range, "o", 5);
    let s = b.storage();
    s.commit(&b1).unwrap();
    // A batch that starts at 3 (overlapping) and one that skips ahead.
    let mut r2 = CompactRange::new();
    for i in 0..3 {
        r2.append(leaf_hash(&entry_bytes("o", i)), |_, _, _| {});
    }
    let overlap = make_batch(&mut r2, "z", 4);
    assert!(matches!(
        s.commit(&overlap),
        Err(StorageError::OutOfOrder {
            expected: 5,
            got: 3
        })
    ));
    let mut ahead = make_batch(&mut range.clone(), "z", 1);
    ahead.first_index = 9;
    assert!(s.commit(&ahead).is_err());
    assert_eq!(s.tree_state().unwrap(), Some(b1.state.clone()));
    assert_eq!(s.entry(3).unwrap(), Some(entry_bytes("o", 3)));
    assert_eq!(s.entry(5).unwrap(), None);
    assert_eq!(
        s.leaf_index(&leaf_hash(&entry_bytes("z", 3))).unwrap(),
        None
    );
}

pub(crate) fn size_mismatch_is_refused(b: &mut impl Backend) {
    let mut range = CompactRange::new();
    let mut bad = make_batch(&mut range, "m", 4);
    bad.state.size = 5;
    let s = b.storage();
    assert!(matches!(
        s.commit(&bad),
        Err(StorageError::SizeMismatch { .. })
    ));
    assert_eq!(s.tree_state().unwrap(), None);
    assert_eq!(s.entry(0).unwrap(), None);
}

pub(crate) fn checkpoint_for_a_size_is_never_replaced(b: &mut impl Backend) {
    let mut range = CompactRange::new();
    let empty = make_batch(&mut range, "c", 0);
    let s = b.storage();
    s.commit(&empty).unwrap();
    // The same checkpoint again is harmless.
    s.commit(&empty).unwrap();
    let mut other = empty.clone();
    other.state.checkpoint = "another checkpoint for size 0\n".into();
    assert!(matches!(
        s.commit(&other),
        Err(StorageError::CheckpointConflict(0))
    ));
    assert_eq!(s.tree_state().unwrap(), Some(empty.state.clone()));
}

pub(crate) fn range_reads_stop_at_the_end(b: &mut impl Backend) {
    let mut range = CompactRange::new();
    let s = b.storage();
    s.commit(&make_batch(&mut range, "r", 10)).unwrap();
    assert_eq!(s.entries(8, 100).unwrap().len(), 2);
    assert!(s.entries(10, 20).unwrap().is_empty());
    assert!(s.entries(5, 5).unwrap().is_empty());
    assert!(s.entries(7, 3).unwrap().is_empty());
    assert!(s.entries(u64::MAX - 1, u64::MAX).unwrap().is_empty());
    assert_eq!(s.node_hashes(0, 4, 1000).unwrap().len(), 6);
    assert!(s.node_hashes(0, u64::MAX - 1, u64::MAX).unwrap().is_empty());
    assert!(s.node_hashes(255, 0, u64::MAX).unwrap().is_empty());
    assert_eq!(s.entry(u64::MAX).unwrap(), None);
}

pub(crate) fn duplicate_leaf_keeps_first_index(b: &mut impl Backend) {
    let mut range = CompactRange::new();
    let mut batch = make_batch(&mut range, "d", 2);
    // Append entry 0's bytes again as a third entry.
    let again = batch.entries[0].clone();
    let mut r = CompactRange::new();
    for e in &batch.entries {
        r.append(e.leaf_hash, |_, _, _| {});
    }
    r.append(again.leaf_hash, |_, _, _| {});
    batch.entries.push(again.clone());
    batch.nodes.push(NodeHash {
        level: 0,
        index: 2,
        hash: again.leaf_hash,
    });
    batch.state = TreeState {
        size: 3,
        range: r.hashes().to_vec(),
        checkpoint: "cp 3\n".into(),
    };
    let s = b.storage();
    s.commit(&batch).unwrap();
    assert_eq!(s.leaf_index(&again.leaf_hash).unwrap(), Some(0));
}

pub(crate) fn lookup_keys_do_not_bleed_into_each_other(b: &mut impl Backend) {
    let mut range = CompactRange::new();
    let mut batch = make_batch(&mut range, "k", 6);
    batch.key_events = vec![("a".into(), 0), ("ab".into(), 1)];
    batch.signatures = vec![
        sig(2, 3, "a", "p", "1"),
        sig(3, 3, "a", "p", "10"),
        sig(4, 4, "a", "p2", "1"),
        sig(5, 5, "ab", "p", "1"),
    ];
    let s = b.storage();
    s.commit(&batch).unwrap();
    assert_eq!(s.key_events("a").unwrap(), vec![0]);
    assert_eq!(s.key_events("ab").unwrap(), vec![1]);
    assert!(s.key_events("").unwrap().is_empty());
    assert_eq!(
        s.signatures_by_release("a", "p", Some("1")).unwrap(),
        vec![2]
    );
    assert_eq!(s.signatures_by_release("a", "p", None).unwrap(), vec![2, 3]);
    assert_eq!(s.signatures_by_release("a", "p2", None).unwrap(), vec![4]);
    assert_eq!(s.signatures_by_release("ab", "p", None).unwrap(), vec![5]);
    assert!(s.signatures_by_release("a", "", None).unwrap().is_empty());
    assert_eq!(s.signatures_by_sha256(&[3; 32]).unwrap(), vec![2, 3]);
}

/// Checks `subtree(tile_level, tile_index)` node by node against point reads.
fn assert_subtree_matches_nodes(s: &impl Storage, tile_level: u8, tile_index: u64) {
    let st = s
        .subtree(tile_level, tile_index)
        .unwrap()
        .unwrap_or_else(|| panic!("tile {tile_level}/{tile_index} is complete"));
    assert_eq!(st.as_bytes().len(), Subtree::LEN * 32);
    for h in 0..=8u8 {
        let width = 256u64 >> h;
        for i in 0..width {
            assert_eq!(
                st.get(h, i),
                s.node_hash(tile_level * 8 + h, tile_index * width + i)
                    .unwrap(),
                "tile {tile_level}/{tile_index}, height {h}, position {i}"
            );
        }
    }
    assert_eq!(st.get(9, 0), None, "a subtree is nine levels high");
    assert_eq!(st.get(8, 1), None, "a subtree has one root");
}

pub(crate) fn subtrees_of_complete_tiles_match_their_nodes(b: &mut impl Backend) {
    let mut range = CompactRange::new();
    // Tile 0/0 completes in the second batch, from nodes of both batches;
    // tile 1/0 (65,536 leaves) in the third.
    let batches = [
        make_batch_levels(&mut range, "t", 200, |_| true),
        make_batch_levels(&mut range, "t", 400, |_| true),
        make_batch_levels(&mut range, "t", 65_536 + 100 - 600, |_| true),
    ];
    for batch in &batches {
        b.storage().commit(batch).unwrap();
    }
    for _ in 0..2 {
        let s = b.storage();
        let leaves = s.node_hashes(0, 0, 256).unwrap();
        assert_eq!(
            s.subtree(0, 0).unwrap().and_then(|st| st.get(8, 0)),
            Some(sealwax_proto::merkle::root_from_leaves(&leaves))
        );
        for (tile_level, tile_index) in [(0, 0), (0, 1), (0, 255), (1, 0)] {
            assert_subtree_matches_nodes(s, tile_level, tile_index);
        }
        // 65,636 leaves: tile 0/256 holds only 100 of its 256 leaves, and
        // the level-2 tile is far from complete.
        assert_eq!(
            s.subtree(0, 256).unwrap(),
            None,
            "a partial tile has no subtree"
        );
        assert_eq!(s.subtree(0, 257).unwrap(), None);
        assert_eq!(s.subtree(1, 1).unwrap(), None);
        assert_eq!(s.subtree(2, 0).unwrap(), None);
        assert_eq!(s.subtree(0, u64::MAX).unwrap(), None);
        b.reopen();
    }
}

pub(crate) fn a_log_without_every_level_has_no_subtrees(b: &mut impl Backend) {
    // Levels 0 and 8 only, as sealwax stored them before it kept every level.
    let mut range = CompactRange::new();
    b.storage()
        .commit(&make_batch(&mut range, "old", 600))
        .unwrap();
    // Then every level, as now: tile 0/2 completes with its lower half from
    // the old layout, so it lacks nodes and gets no subtree either.
    b.storage()
        .commit(&make_batch_levels(&mut range, "new", 600, |_| true))
        .unwrap();
    let s = b.storage();
    assert_eq!(s.node_hashes(8, 0, 5).unwrap().len(), 4);
    for tile_index in [0, 1, 2] {
        assert_eq!(
            s.subtree(0, tile_index).unwrap(),
            None,
            "tile 0/{tile_index}"
        );
    }
    assert_subtree_matches_nodes(s, 0, 3);
}

pub(crate) fn key_records_are_per_publisher_and_overwritten(b: &mut impl Backend) {
    let mut range = CompactRange::new();
    let mut b1 = make_batch(&mut range, "k", 3);
    b1.key_states = vec![("a".into(), b"header a".to_vec())];
    b1.key_records = vec![
        ("a".into(), [2; 32], b"a2 first".to_vec()),
        ("a".into(), [1; 32], b"a1".to_vec()),
        // "ab" must not show among the records of "a".
        ("ab".into(), [0; 32], b"ab0".to_vec()),
    ];
    b.storage().commit(&b1).unwrap();
    let mut b2 = make_batch(&mut range, "k", 1);
    b2.key_states = vec![("a".into(), b"header a 2".to_vec())];
    b2.key_records = vec![("a".into(), [2; 32], b"a2 second".to_vec())];
    b.storage().commit(&b2).unwrap();
    for _ in 0..2 {
        let s = b.storage();
        assert_eq!(
            s.key_state("a").unwrap().as_deref(),
            Some(&b"header a 2"[..])
        );
        assert_eq!(
            s.key_records("a").unwrap(),
            vec![b"a1".to_vec(), b"a2 second".to_vec()],
            "in key-hash order, the newest record of each key"
        );
        assert_eq!(s.key_records("ab").unwrap(), vec![b"ab0".to_vec()]);
        assert!(s.key_records("b").unwrap().is_empty());
        b.reopen();
    }
}

pub(crate) fn key_event_pages_start_where_asked(b: &mut impl Backend) {
    let mut range = CompactRange::new();
    let mut batch = make_batch(&mut range, "p", 300);
    batch.key_events = [0u64, 3, 256, 257, 299]
        .iter()
        .map(|&i| ("pub".to_string(), i))
        .chain([("pu".to_string(), 1), ("pubs".to_string(), 2)])
        .collect();
    b.storage().commit(&batch).unwrap();
    let s = b.storage();
    assert_eq!(s.key_events_page("pub", 0, 2).unwrap(), vec![0, 3]);
    assert_eq!(s.key_events_page("pub", 4, 2).unwrap(), vec![256, 257]);
    assert_eq!(s.key_events_page("pub", 257, 10).unwrap(), vec![257, 299]);
    assert!(s.key_events_page("pub", 300, 10).unwrap().is_empty());
    assert!(s.key_events_page("pub", 0, 0).unwrap().is_empty());
    assert_eq!(s.key_events_page("pu", 0, 10).unwrap(), vec![1]);
    assert_eq!(s.key_events("pub").unwrap(), vec![0, 3, 256, 257, 299]);
}

pub(crate) fn publisher_releases_are_paged_once_each(b: &mut impl Backend) {
    let mut range = CompactRange::new();
    let mut batch = make_batch(&mut range, "r", 10);
    batch.signatures = vec![
        sig(0, 1, "pub", "tool", "1.0"),
        sig(1, 1, "pub", "tool", "1.0"),
        sig(2, 2, "pub", "tool", "2.0"),
        sig(3, 3, "pub", "ab", "9"),
        sig(4, 4, "pu", "tool", "1.0"),
        sig(5, 5, "pubs", "tool", "1.0"),
    ];
    b.storage().commit(&batch).unwrap();
    let s = b.storage();
    let names = |v: Vec<super::PublisherRelease>| -> Vec<(String, String, u64)> {
        v.into_iter()
            .map(|r| (r.package, r.version, r.first_index))
            .collect()
    };
    let all = names(s.publisher_releases("pub", None, 10).unwrap());
    let want = |p: &str, v: &str, i: u64| (p.to_string(), v.to_string(), i);
    assert_eq!(
        all,
        vec![
            want("ab", "9", 3),
            want("tool", "1.0", 0),
            want("tool", "2.0", 2)
        ]
    );
    let page = names(s.publisher_releases("pub", None, 1).unwrap());
    assert_eq!(page, vec![want("ab", "9", 3)]);
    let page = names(s.publisher_releases("pub", Some(("ab", "9")), 1).unwrap());
    assert_eq!(page, vec![want("tool", "1.0", 0)]);
    let page = names(
        s.publisher_releases("pub", Some(("tool", "1.0")), 5)
            .unwrap(),
    );
    assert_eq!(page, vec![want("tool", "2.0", 2)]);
    assert!(s
        .publisher_releases("pub", Some(("tool", "2.0")), 5)
        .unwrap()
        .is_empty());
    assert!(s.publisher_releases("nobody", None, 5).unwrap().is_empty());
}

pub(crate) fn directory_nodes_are_read_as_of_a_size(b: &mut impl Backend) {
    use sealwax_proto::directory::NodePath;
    let leaf = |v: u8| vec![v; 66];
    let near = NodePath::toward(&[0x80; 32], 1);
    // A path whose bytes extend `near`'s: a prefix seek must not stray into it.
    let deeper = NodePath::toward(&[0x80; 32], 2);
    let mut range = CompactRange::new();
    let mut first = make_batch(&mut range, "d", 3);
    first.directory = vec![(NodePath::ROOT, leaf(1)), (near, leaf(2))];
    b.storage().commit(&first).unwrap();
    let mut second = make_batch(&mut range, "d", 2);
    second.directory = vec![(NodePath::ROOT, leaf(3)), (deeper, leaf(4))];
    b.storage().commit(&second).unwrap();
    b.reopen();
    let s = b.storage();
    let at = |path: &NodePath, size| s.directory_group(path, size).unwrap();
    assert_eq!(
        at(&NodePath::ROOT, 2),
        None,
        "nothing before the first batch"
    );
    assert_eq!(at(&NodePath::ROOT, 3), Some(leaf(1)));
    assert_eq!(at(&NodePath::ROOT, 4), Some(leaf(1)));
    assert_eq!(at(&NodePath::ROOT, 5), Some(leaf(3)));
    assert_eq!(at(&NodePath::ROOT, u64::MAX), Some(leaf(3)));
    assert_eq!(
        at(&near, 5),
        Some(leaf(2)),
        "an unchanged node keeps its version"
    );
    assert_eq!(at(&deeper, 3), None);
    assert_eq!(at(&deeper, 5), Some(leaf(4)));
    assert_eq!(at(&NodePath::toward(&[0x40; 32], 1), 5), None);
    assert_eq!(s.checkpoint_at(3).unwrap(), Some(first.state.checkpoint));
    assert_eq!(s.checkpoint_at(5).unwrap(), Some(second.state.checkpoint));
    assert_eq!(s.checkpoint_at(4).unwrap(), None);
}

pub(crate) fn directory_versions_below_the_horizon_are_dropped(b: &mut impl Backend) {
    use sealwax_proto::directory::NodePath;
    let leaf = |v: u8| vec![v; 66];
    let near = NodePath::toward(&[0x80; 32], 1);
    let mut range = CompactRange::new();
    let mut first = make_batch(&mut range, "h", 3);
    first.directory = vec![(NodePath::ROOT, leaf(1)), (near, leaf(2))];
    b.storage().commit(&first).unwrap();
    let mut second = make_batch(&mut range, "h", 2);
    second.directory = vec![(NodePath::ROOT, leaf(3))];
    b.storage().commit(&second).unwrap();
    assert_eq!(b.storage().directory_horizon().unwrap(), 0);
    let mut beyond = make_batch(&mut range.clone(), "h", 2);
    beyond.directory_horizon = Some(8);
    assert!(
        b.storage().commit(&beyond).is_err(),
        "a horizon past the batch"
    );
    let mut third = make_batch(&mut range, "h", 2);
    third.directory = vec![(NodePath::ROOT, leaf(5))];
    third.directory_horizon = Some(5);
    b.storage().commit(&third).unwrap();
    b.settle();
    b.reopen();
    let s = b.storage();
    assert_eq!(s.directory_horizon().unwrap(), 5);
    let at = |path: &NodePath, size| s.directory_group(path, size).unwrap();
    assert_eq!(at(&NodePath::ROOT, 7), Some(leaf(5)));
    assert_eq!(
        at(&NodePath::ROOT, 5),
        Some(leaf(3)),
        "the horizon's own version stays"
    );
    assert_eq!(at(&near, 7), Some(leaf(2)), "a node never superseded stays");
    assert_eq!(
        at(&NodePath::ROOT, 3),
        None,
        "a version superseded at or below the horizon is gone"
    );
}
