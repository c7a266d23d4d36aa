//! The key directory: proofs of presence and absence verify for random and
//! crafted trees, any change to a proof, value or root breaks them, the root
//! depends only on the set of leaves, the checkpoint line round-trips, and
//! the committed vectors still hold.

use std::time::Instant;

use proptest::prelude::*;
use rand::SeedableRng as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use sealwax_proto::checkpoint::{directory_line, Checkpoint};
use sealwax_proto::directory::{
    common_prefix_bits, key_bit, leaf_hash, node_hash, prove, publisher_key, release_key, update,
    verify, Directory, DirectoryProof, Key, Node, NodePath, NodeReader, Terminal, Update, EMPTY,
    MAX_PROOF_LEN,
};
use sealwax_proto::entry::{Entry, KeyRegistration, KeyRevocation, RevocationReason};
use sealwax_proto::keys::{record_hash, PublisherKeys};
use sealwax_proto::minisign::SecretKey;
use sealwax_proto::rules::{ReleaseName, ReleaseRecord};
use sealwax_proto::{DirectoryError, Error, Hash};

fn sha(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The root straight from the definition, hashing with the bytes of
/// `docs/FORMATS.md` by hand; `items` are sorted, unique and share `depth` bits.
fn reference_root(items: &[(Key, Hash)], depth: u16) -> Hash {
    match items {
        [] => EMPTY,
        [(k, v)] => sha(&[b"sealwax/v1 directory leaf\0", k, v]),
        _ => {
            let split = items.partition_point(|(k, _)| !key_bit(k, depth));
            let (l, r) = items.split_at(split);
            let (l, r) = (reference_root(l, depth + 1), reference_root(r, depth + 1));
            sha(&[b"sealwax/v1 directory node\0", &l, &r])
        }
    }
}

/// The first `bits` bits of `base`, then the rest of `tail`: keys that share long prefixes.
fn share_prefix(base: &Key, tail: &Key, bits: u16) -> Key {
    let mut k = *tail;
    for d in 0..usize::from(bits) {
        let mask = 0x80u8 >> (d % 8);
        k[d / 8] = (k[d / 8] & !mask) | (base[d / 8] & mask);
    }
    k
}

fn keys_strategy() -> impl Strategy<Value = (Vec<(Key, Hash)>, Vec<Key>)> {
    let item = (any::<[u8; 32]>(), 0u16..=256, any::<[u8; 32]>());
    (
        any::<[u8; 32]>(),
        prop::collection::vec(item, 1..40),
        prop::collection::vec((any::<[u8; 32]>(), 0u16..=256), 1..10),
    )
        .prop_map(|(base, items, absent)| {
            let items = items
                .into_iter()
                .map(|(tail, bits, v)| (share_prefix(&base, &tail, bits), v))
                .collect();
            let absent = absent
                .into_iter()
                .map(|(tail, bits)| share_prefix(&base, &tail, bits))
                .collect();
            (items, absent)
        })
}

/// The last value given for each key, sorted by key.
fn final_set(items: &[(Key, Hash)]) -> Vec<(Key, Hash)> {
    let map: std::collections::BTreeMap<Key, Hash> = items.iter().copied().collect();
    map.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every key's proof verifies, and every absent key's, after random batches.
    #[test]
    fn every_inclusion_and_non_inclusion_proof_verifies(
        (items, absent) in keys_strategy(),
        batch in 1usize..8,
    ) {
        let mut dir = Directory::new();
        for chunk in items.chunks(batch) {
            dir.insert_batch(chunk.iter().copied());
        }
        let set = final_set(&items);
        prop_assert_eq!(dir.len(), set.len());
        prop_assert_eq!(dir.root(), reference_root(&set, 0));
        for (k, v) in &set {
            let (found, proof) = dir.prove(k);
            prop_assert_eq!(found, Some(*v));
            prop_assert_eq!(proof.terminal, Terminal::Leaf);
            prop_assert_eq!(verify(&dir.root(), k, Some(v), &proof), Ok(()));
            prop_assert!(verify(&dir.root(), k, None, &proof).is_err());
            prop_assert_eq!(DirectoryProof::decode(&proof.encode()), Ok(proof.clone()));
        }
        for k in absent.iter().filter(|k| set.binary_search_by(|(x, _)| x.cmp(k)).is_err()) {
            let (found, proof) = dir.prove(k);
            prop_assert_eq!(found, None);
            prop_assert_eq!(verify(&dir.root(), k, None, &proof), Ok(()));
            prop_assert!(verify(&dir.root(), k, Some(&[7; 32]), &proof).is_err());
            prop_assert_eq!(proof.to_base64().parse::<DirectoryProof>(), Ok(proof.clone()));
        }
    }

    /// The same leaves in another order, in other batches, through overwrites, give the same root.
    #[test]
    fn the_root_depends_only_on_the_final_leaves(
        (items, _) in keys_strategy(),
        seed in any::<u64>(),
        overwrite in any::<[u8; 32]>(),
    ) {
        let mut a = Directory::new();
        a.insert_batch(items.iter().copied());
        let mut shuffled = final_set(&items);
        let n = shuffled.len();
        for i in 0..n {
            shuffled.swap(i, (seed.wrapping_mul(i as u64 + 1) % n as u64) as usize);
        }
        let mut b = Directory::new();
        for (k, _) in &shuffled {
            b.insert(*k, overwrite); // a first value, overwritten below
        }
        for (k, v) in shuffled.iter().rev() {
            b.insert(*k, *v);
        }
        prop_assert_eq!(a.root(), b.root());
        prop_assert_eq!(a.len(), b.len());
    }
}

proptest! {
    /// Any bytes either fail to parse or are the one encoding of what they parse to.
    #[test]
    fn a_parsed_proof_has_exactly_one_encoding(
        kind in 0u8..4,
        depth in 0u16..300,
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let bytes = [&[kind][..], &depth.to_be_bytes(), &body].concat();
        if let Ok(proof) = DirectoryProof::decode(&bytes) {
            prop_assert_eq!(proof.encode(), bytes);
        }
        if let Ok(proof) = DirectoryProof::decode(&body) {
            prop_assert_eq!(proof.encode(), body);
        }
    }
}

/// A small directory and a few of its proofs, present and absent.
fn sample() -> (Directory, Vec<(Key, Option<Hash>, DirectoryProof)>) {
    let mut dir = Directory::new();
    let base = sha(&[b"base"]);
    for i in 0..24u8 {
        let key = share_prefix(&base, &sha(&[&[i]]), u16::from(i) * 5);
        dir.insert(key, sha(&[b"value", &[i]]));
    }
    let probes = [0u8, 5, 23, 100, 101, 102]
        .map(|i| share_prefix(&base, &sha(&[&[i]]), u16::from(i % 26) * 5 + 3));
    let mut out = Vec::new();
    for key in [share_prefix(&base, &sha(&[&[7]]), 35), sha(&[&[0]])]
        .into_iter()
        .chain(probes)
    {
        let (value, proof) = dir.prove(&key);
        out.push((key, value, proof));
    }
    (dir, out)
}

#[test]
fn flipping_any_bit_of_a_proof_its_value_or_the_root_breaks_it() {
    let (dir, proofs) = sample();
    let root = dir.root();
    assert!(proofs.iter().any(|p| p.1.is_some()) && proofs.iter().any(|p| p.1.is_none()));
    for (key, value, proof) in &proofs {
        assert_eq!(verify(&root, key, value.as_ref(), proof), Ok(()));
        let bytes = proof.encode();
        for bit in 0..bytes.len() * 8 {
            let mut bad = bytes.clone();
            bad[bit / 8] ^= 0x80 >> (bit % 8);
            if let Ok(p) = DirectoryProof::decode(&bad) {
                assert!(verify(&root, key, value.as_ref(), &p).is_err(), "bit {bit}");
            }
        }
        for bit in 0..256 {
            let mut r = root;
            r[bit / 8] ^= 0x80 >> (bit % 8);
            assert!(verify(&r, key, value.as_ref(), proof).is_err());
            // Another key: on another path, or (when present) in another leaf. An
            // absent key's proof also proves absent every key that shares its path.
            let mut k = *key;
            k[bit / 8] ^= 0x80 >> (bit % 8);
            if value.is_some() || bit < proof.siblings.len() {
                assert!(verify(&root, &k, value.as_ref(), proof).is_err());
            }
            if let Some(v) = value {
                let mut v = *v;
                v[bit / 8] ^= 0x80 >> (bit % 8);
                assert!(verify(&root, key, Some(&v), proof).is_err());
            }
        }
    }
}

#[test]
fn keys_that_differ_only_in_their_last_bits_have_256_level_proofs() {
    let base = sha(&[b"long prefixes"]);
    let mut last = base;
    last[31] ^= 1;
    let mut second_last = base;
    second_last[31] ^= 2;
    let mut dir = Directory::new();
    for (i, k) in [base, last, second_last].iter().enumerate() {
        dir.insert(*k, [i as u8 + 1; 32]);
    }
    let (value, proof) = dir.prove(&last);
    assert_eq!(value, Some([2; 32]));
    assert_eq!(proof.siblings.len(), 256);
    assert_eq!(proof.siblings.iter().filter(|s| **s != EMPTY).count(), 2);
    assert_eq!(proof.encode().len(), 3 + 32 + 2 * 32);
    assert_eq!(verify(&dir.root(), &last, Some(&[2; 32]), &proof), Ok(()));
    // Absent, sharing 254 bits with the others: the path ends at the leaf
    // of the one key whose bit 254 it shares.
    let mut absent = base;
    absent[31] ^= 3;
    let (value, proof) = dir.prove(&absent);
    let other = Terminal::OtherLeaf {
        key: second_last,
        value: [3; 32],
    };
    assert_eq!(
        (value, proof.terminal, proof.siblings.len()),
        (None, other, 255)
    );
    assert_eq!(verify(&dir.root(), &absent, None, &proof), Ok(()));
    // Absent, leaving the others' path at bit 100: an empty subtree, one non-empty sibling.
    let mut absent = base;
    absent[12] ^= 0x08;
    let (value, proof) = dir.prove(&absent);
    assert_eq!(
        (value, proof.terminal, proof.siblings.len()),
        (None, Terminal::Empty, 101)
    );
    assert_eq!(proof.encode().len(), 3 + 13 + 32);
    assert_eq!(verify(&dir.root(), &absent, None, &proof), Ok(()));
    assert_eq!(common_prefix_bits(&base, &last), 255);
    assert_eq!(common_prefix_bits(&base, &base), 256);
}

#[test]
fn an_absent_key_ends_at_another_keys_leaf_or_an_empty_subtree() {
    let empty = Directory::new();
    let alice = publisher_key("alice");
    let (value, proof) = empty.prove(&alice);
    assert_eq!((value, &proof.terminal), (None, &Terminal::Empty));
    assert_eq!(proof.encode(), [1, 0, 0]);
    assert_eq!(verify(&EMPTY, &alice, None, &proof), Ok(()));

    let mut one = Directory::new();
    one.insert(alice, [9; 32]);
    assert_eq!(one.root(), leaf_hash(&alice, &[9; 32]));
    let bob = publisher_key("bob");
    let (value, proof) = one.prove(&bob);
    assert_eq!(value, None);
    let other = Terminal::OtherLeaf {
        key: alice,
        value: [9; 32],
    };
    assert_eq!(proof.terminal, other);
    assert_eq!(verify(&one.root(), &bob, None, &proof), Ok(()));
    // The leaf of the key itself, shown as another's, is refused.
    assert!(verify(&one.root(), &alice, None, &proof).is_err());
}

/// Proofs whose hashes would check out but whose shape no tree has are refused.
#[test]
fn a_path_no_tree_has_is_refused() {
    let (a, b) = ([0u8; 32], [0xffu8; 32]);
    let root = node_hash(&leaf_hash(&a, &[1; 32]), &leaf_hash(&b, &[2; 32]));
    let good = DirectoryProof {
        siblings: vec![leaf_hash(&b, &[2; 32])],
        terminal: Terminal::Leaf,
    };
    assert_eq!(verify(&root, &a, Some(&[1; 32]), &good), Ok(()));
    // A node with one leaf and one empty side, which the tree collapses.
    let padded_root = node_hash(&root, &EMPTY);
    let mut padded = good.clone();
    padded.siblings.push(EMPTY);
    let padded_key = a;
    assert!(matches!(
        verify(&padded_root, &padded_key, Some(&[1; 32]), &padded),
        Err(DirectoryError::ProofInvalid(_))
    ));
    // Another key's leaf, off the queried key's path.
    let off_path = DirectoryProof {
        siblings: vec![leaf_hash(&b, &[2; 32])],
        terminal: Terminal::OtherLeaf {
            key: b,
            value: [2; 32],
        },
    };
    let c = [0x01u8; 32]; // bit 0 is 0, like a
    assert!(verify(&root, &c, None, &off_path).is_err());
}

#[test]
fn the_encoding_is_parsed_strictly() {
    let (_, proofs) = sample();
    let bytes = proofs[0].2.encode();
    let mut trailing = bytes.clone();
    trailing.push(0);
    let mut listed_empty = vec![0u8, 0, 1, 0x80];
    listed_empty.extend_from_slice(&EMPTY);
    let mut padding = vec![1u8, 0, 1, 0x40];
    padding.extend_from_slice(&[5; 32]);
    let cases: [(&str, Vec<u8>); 8] = [
        ("empty", vec![]),
        ("short header", vec![1, 0]),
        ("trailing byte", trailing),
        ("truncated", bytes[..bytes.len() - 1].to_vec()),
        ("unknown kind", vec![3, 0, 0]),
        ("257 levels", [vec![1, 1, 1], vec![0; 33]].concat()),
        ("empty hash listed", listed_empty),
        ("padding bit set", padding),
    ];
    for (desc, bytes) in cases {
        assert!(
            matches!(
                DirectoryProof::decode(&bytes),
                Err(DirectoryError::MalformedProof(_))
            ),
            "{desc}"
        );
    }
    let text = proofs[0].2.to_base64();
    let unpadded = match text.strip_suffix('=') {
        Some(t) => t.to_string(),
        None => format!("{text}="),
    };
    for bad in [
        format!("{text}\n"),
        format!(" {text}"),
        unpadded,
        "AQAA=".into(),
    ] {
        assert!(
            bad != text && bad.parse::<DirectoryProof>().is_err(),
            "{bad:?}"
        );
    }
    let huge = "A".repeat(MAX_PROOF_LEN * 2);
    assert!(huge.parse::<DirectoryProof>().is_err());
    let json = serde_json::to_string(&proofs[0].2).unwrap();
    assert_eq!(json, format!("\"{text}\""));
    assert_eq!(
        serde_json::from_str::<DirectoryProof>(&json).unwrap(),
        proofs[0].2
    );
    assert!(serde_json::from_str::<DirectoryProof>("\"AQAAAA==\"").is_err());
}

#[test]
fn keys_and_values_are_the_documented_hashes() {
    assert_eq!(
        publisher_key("alice"),
        sha(&[b"sealwax/v1 publisher", &[0], b"alice"])
    );
    let name = ReleaseName {
        publisher: "alice".into(),
        package: "tool".into(),
        version: "1.0.0".into(),
    };
    assert_eq!(
        release_key(&name),
        sha(&[b"sealwax/v1 release", &[0], b"alice/tool@1.0.0"])
    );
    let rec = ReleaseRecord {
        index: 0x0102_0304_0506_0708,
        sha256: [0xab; 32],
    };
    let encoded = [&[1u8, 2, 3, 4, 5, 6, 7, 8][..], &[0xab; 32]].concat();
    assert_eq!(rec.encode().as_slice(), encoded.as_slice());
    assert_eq!(
        rec.record_hash(),
        sha(&[b"sealwax/v1 release-record", &[0], &encoded])
    );
    assert_ne!(publisher_key("alice"), release_key(&name));
}

#[test]
fn an_update_rewrites_only_the_changed_paths() {
    let mut dir = Directory::new();
    dir.insert_batch((0..2000u32).map(|i| (sha(&[&i.to_be_bytes()]), [1; 32])));
    let key = sha(&[b"new"]);
    let done = update(&dir, &dir.root(), [(key, [2; 32])]).unwrap();
    let (_, proof) = prove(&Updated(&dir, &done), &done.root, &key).unwrap();
    // The new leaf, the leaf it displaced and the nodes above them.
    assert!(
        done.nodes.len() <= proof.siblings.len() + 2,
        "{}",
        done.nodes.len()
    );
    assert_eq!(done.added, 1);
    let again = update(&dir, &dir.root(), [(sha(&[&7u32.to_be_bytes()]), [1; 32])]).unwrap();
    assert_eq!((again.root, again.added), (dir.root(), 0));
    for (path, node) in &done.nodes {
        assert_eq!(Node::decode(&node.encode()), Some(*node));
        assert_eq!(
            path.prefix(),
            NodePath::toward(path.prefix(), path.depth()).prefix()
        );
    }
    assert_eq!(Node::decode(&[2; 65]), None);
    // Two keys sharing 13 bits meet at one path down to depth 13, and part there.
    let (a, b) = (
        [0b1010_1010u8; 32],
        share_prefix(&[0b1010_1010u8; 32], &[0x55; 32], 13),
    );
    let paths: std::collections::HashSet<NodePath> = (0..=14)
        .flat_map(|d| [NodePath::toward(&a, d), NodePath::toward(&b, d)])
        .collect();
    assert_eq!(paths.len(), 14 + 2);
    assert_eq!(NodePath::toward(&a, 256).prefix(), &a);
    assert_eq!(NodePath::toward(&a, 0), NodePath::ROOT);
}

/// The nodes an update wrote, over the directory it updated: the tree after the update.
struct Updated<'a>(&'a Directory, &'a Update);

impl NodeReader for Updated<'_> {
    fn read_node(&self, path: &NodePath) -> sealwax_proto::Result<Node> {
        match self.1.nodes.iter().find(|(p, _)| p == path) {
            Some((_, n)) => Ok(*n),
            None => self.0.read_node(path),
        }
    }
}

#[test]
fn a_missing_node_is_an_error_not_a_wrong_answer() {
    let mut dir = Directory::new();
    dir.insert_batch([([0; 32], [1; 32]), ([0xff; 32], [1; 32])]);
    let empty = Directory::new();
    assert_eq!(
        prove(&empty, &dir.root(), &[0; 32]).unwrap_err(),
        Error::Directory(DirectoryError::NodeMissing { depth: 0 })
    );
}

#[test]
fn a_checkpoint_carries_at_most_one_directory_root() {
    let root = sha(&[b"directory"]);
    let mut cp = Checkpoint::new("example.com/log", 5, [3; 32]);
    assert_eq!(cp.directory_root(), Ok(None));
    cp.extensions.push("other extension".into());
    cp.set_directory_root(&[1; 32]);
    cp.set_directory_root(&root);
    assert_eq!(cp.extensions.len(), 2);
    let parsed = Checkpoint::parse(&cp.to_body()).unwrap();
    assert_eq!(parsed.directory_root(), Ok(Some(root)));
    assert!(cp
        .to_body()
        .ends_with(&format!("{}\n", directory_line(&root))));

    let line = directory_line(&root);
    let bad = [
        vec![line.clone(), line.clone()],
        vec![format!("{line}=")],
        vec![line.replacen(' ', "  ", 1)],
        vec!["sealwax-directory".into()],
        vec![format!("{} AAAA", line)],
        vec![line[..line.len() - 2].to_string() + "B="],
    ];
    for extensions in bad {
        let cp = Checkpoint {
            extensions: extensions.clone(),
            ..cp.clone()
        };
        assert!(cp.directory_root().is_err(), "{extensions:?}");
    }
    let other_word = Checkpoint {
        extensions: vec![format!("sealwax-directoryx {}", &line[18..])],
        ..cp
    };
    assert_eq!(other_word.directory_root(), Ok(None));
}

/// The most and the mean proof size (bytes) of `keys`, and proving times (µs) p50, p99.
fn measure(dir: &Directory, keys: &[Key], present: bool) -> (usize, f64, f64, f64) {
    let mut sizes = Vec::new();
    let mut times = Vec::new();
    for k in keys {
        let t = Instant::now();
        let (value, proof) = dir.prove(k);
        times.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(value.is_some(), present);
        assert_eq!(verify(&dir.root(), k, value.as_ref(), &proof), Ok(()));
        sizes.push(proof.encode().len());
    }
    times.sort_by(f64::total_cmp);
    let max = *sizes.iter().max().unwrap();
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    (
        max,
        mean,
        times[times.len() / 2],
        times[times.len() * 99 / 100],
    )
}

fn report(what: &str, dir: &Directory, keys: &[Key], present: bool) {
    let (max, mean, p50, p99) = measure(dir, keys, present);
    println!(
        "{what}: {} leaves; proofs of {} keys: max {max} B, mean {mean:.0} B; prove p50 {p50:.1} µs, p99 {p99:.1} µs",
        dir.len(),
        keys.len()
    );
    assert!(max <= 1536, "a proof of {max} bytes is over 1.5 KiB");
}

#[test]
#[ignore = "a million leaves: run in release, with --ignored --nocapture"]
fn proof_size_and_build_time_at_one_million_publishers() {
    let keys: Vec<Key> = (0..1_000_000u32)
        .map(|i| publisher_key(&format!("publisher-{i}")))
        .collect();
    let t = Instant::now();
    let mut dir = Directory::new();
    dir.insert_batch(keys.iter().map(|k| (*k, sha(&[k]))));
    println!(
        "built 1M leaves in one batch in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let extra: Vec<Key> = (0..5000u32)
        .map(|i| publisher_key(&format!("new-{i}")))
        .collect();
    let t = Instant::now();
    dir.insert_batch(extra.iter().map(|k| (*k, [1; 32])));
    println!(
        "added a batch of 5000 in {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let absent: Vec<Key> = (0..10_000u32)
        .map(|i| publisher_key(&format!("absent-{i}")))
        .collect();
    report("1M publishers, present", &dir, &keys[..10_000], true);
    report("1M publishers, absent", &dir, &absent, false);
}

#[test]
#[ignore = "eleven million leaves, some GB of memory: run in release, with --ignored --nocapture"]
fn proof_size_at_one_million_publishers_and_ten_million_releases() {
    let mut dir = Directory::new();
    let publishers: Vec<Key> = (0..1_000_000u32)
        .map(|i| publisher_key(&format!("p{i}")))
        .collect();
    dir.insert_batch(publishers.iter().map(|k| (*k, [1; 32])));
    let release = |i: u32| {
        release_key(&ReleaseName {
            publisher: format!("p{}", i % 1_000_000),
            package: "pkg".into(),
            version: format!("{}.0.0", i / 1_000_000),
        })
    };
    let t = Instant::now();
    for chunk in 0..10u32 {
        let start = chunk * 1_000_000;
        dir.insert_batch((start..start + 1_000_000).map(|i| (release(i), [2; 32])));
    }
    println!(
        "added 10M releases in batches of 1M in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let releases: Vec<Key> = (0..10_000u32).map(|i| release(i * 997)).collect();
    let absent: Vec<Key> = (0..10_000u32)
        .map(|i| publisher_key(&format!("absent-{i}")))
        .collect();
    report("11M leaves, publishers", &dir, &publishers[..10_000], true);
    report("11M leaves, releases", &dir, &releases, true);
    report("11M leaves, absent", &dir, &absent, false);
}

// ----- vectors: proto/tests/vectors/directory/*.json -----

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/directory");

/// One leaf of a vector tree: a publisher with its key-state record, a
/// release with its record, or a bare crafted key.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorLeaf {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    publisher: Option<String>,
    /// The canonical key-state record, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    record: Option<String>,
    /// `P/N@V`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    release: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    key: String,
    value: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorProof {
    desc: String,
    key: String,
    /// The value proven, hex; null for a proof of absence.
    value: Option<String>,
    /// The canonical encoding, standard base64.
    proof: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    desc: String,
    leaves: Vec<VectorLeaf>,
    root: String,
    proofs: Vec<VectorProof>,
}

fn unhex(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// Checks a vector leaf's key and value against its name and record.
fn check_leaf(leaf: &VectorLeaf) -> (Key, Hash) {
    let (key, value) = (unhex(&leaf.key), unhex(&leaf.value));
    if let Some(p) = &leaf.publisher {
        assert_eq!(key, publisher_key(p), "key of publisher {p}");
        let record = hex::decode(leaf.record.as_ref().unwrap()).unwrap();
        let state = PublisherKeys::from_record(&record).unwrap();
        assert_eq!(&state.publisher, p);
        assert_eq!((state.record_hash(), record_hash(&record)), (value, value));
    }
    if let Some(r) = &leaf.release {
        let (publisher, rest) = r.split_once('/').unwrap();
        let (package, version) = rest.split_once('@').unwrap();
        let name = ReleaseName {
            publisher: publisher.into(),
            package: package.into(),
            version: version.into(),
        };
        assert_eq!(key, release_key(&name), "key of release {r}");
        let rec = ReleaseRecord {
            index: leaf.index.unwrap(),
            sha256: unhex(leaf.sha256.as_ref().unwrap()),
        };
        assert_eq!(value, rec.record_hash(), "value of release {r}");
    }
    (key, value)
}

#[test]
fn the_committed_vectors_hold() {
    let mut files: Vec<_> = std::fs::read_dir(VECTORS)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "the vectors were found: {files:?}");
    for f in files {
        let v: VectorFile = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let leaves: Vec<(Key, Hash)> = v.leaves.iter().map(check_leaf).collect();
        let mut dir = Directory::new();
        dir.insert_batch(leaves.iter().copied());
        let root = unhex(&v.root);
        assert_eq!(dir.root(), root, "{}: {}", f.display(), v.desc);
        assert_eq!(reference_root(&final_set(&leaves), 0), root, "{}", v.desc);
        for p in &v.proofs {
            let (key, value) = (unhex(&p.key), p.value.as_deref().map(unhex));
            let proof: DirectoryProof = p.proof.parse().unwrap();
            assert_eq!(
                verify(&root, &key, value.as_ref(), &proof),
                Ok(()),
                "{}",
                p.desc
            );
            assert_eq!(dir.prove(&key), (value, proof), "{}", p.desc);
        }
    }
}

/// Rewrites the vector files from the inputs below, when
/// `SEALWAX_WRITE_VECTORS=1` is set; otherwise checks that every tree the
/// writer would make still proves what its file says.
#[test]
fn the_vector_writer_agrees_with_the_files() {
    let write = std::env::var_os("SEALWAX_WRITE_VECTORS").is_some();
    for (name, v) in vector_files() {
        let path = format!("{VECTORS}/{name}.json");
        if write {
            let text = serde_json::to_string_pretty(&v).unwrap() + "\n";
            std::fs::write(&path, text).unwrap();
            continue;
        }
        let committed: VectorFile = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(committed.desc, v.desc);
        // Key-state records hold freshly made keys, so compare the rest.
        let shape = |f: &VectorFile| f.proofs.iter().map(|p| p.desc.clone()).collect::<Vec<_>>();
        assert_eq!(shape(&committed), shape(&v), "{name}");
        if v.leaves.iter().all(|l| l.publisher.is_none()) {
            assert_eq!(committed.root, v.root, "{name}");
        }
    }
}

fn hexed(h: &Hash) -> String {
    hex::encode(h)
}

/// A key-state record made by a real history: a claim, then `more` chained keys, the first revoked as `reason` if given.
fn key_state(
    publisher: &str,
    seed: u64,
    more: usize,
    reason: Option<RevocationReason>,
) -> PublisherKeys {
    const ORIGIN: &str = "sealwax.test/log";
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let first = SecretKey::generate(&mut rng);
    let mut st = PublisherKeys::new(publisher);
    let claim = KeyRegistration::claim(ORIGIN, publisher, &first).unwrap();
    st.apply(&Entry::KeyRegistration(claim), seed * 10).unwrap();
    for i in 0..more {
        let k = SecretKey::generate(&mut rng);
        let chain = KeyRegistration::chain(ORIGIN, publisher, &k, &first).unwrap();
        st.apply(&Entry::KeyRegistration(chain), seed * 10 + 1 + i as u64)
            .unwrap();
    }
    if let Some(reason) = reason {
        let rev = KeyRevocation::by_key(ORIGIN, publisher, first.public_key(), reason, &first);
        st.apply(&Entry::KeyRevocation(rev.unwrap()), seed * 10 + 9)
            .unwrap();
    }
    st
}

fn publisher_leaf(st: &PublisherKeys) -> VectorLeaf {
    VectorLeaf {
        publisher: Some(st.publisher.clone()),
        record: Some(hex::encode(st.to_record())),
        release: None,
        index: None,
        sha256: None,
        key: hexed(&publisher_key(&st.publisher)),
        value: hexed(&st.record_hash()),
    }
}

fn release_leaf(text: &str, index: u64) -> VectorLeaf {
    let (publisher, rest) = text.split_once('/').unwrap();
    let (package, version) = rest.split_once('@').unwrap();
    let name = ReleaseName {
        publisher: publisher.into(),
        package: package.into(),
        version: version.into(),
    };
    let rec = ReleaseRecord {
        index,
        sha256: sha(&[b"artifact ", text.as_bytes()]),
    };
    VectorLeaf {
        publisher: None,
        record: None,
        release: Some(text.into()),
        index: Some(index),
        sha256: Some(hexed(&rec.sha256)),
        key: hexed(&release_key(&name)),
        value: hexed(&rec.record_hash()),
    }
}

fn raw_leaf(key: Key, value: Hash) -> VectorLeaf {
    VectorLeaf {
        publisher: None,
        record: None,
        release: None,
        index: None,
        sha256: None,
        key: hexed(&key),
        value: hexed(&value),
    }
}

/// A vector file: the tree of `leaves` and a proof for each `(desc, key)` asked.
fn vector_file(desc: &str, leaves: Vec<VectorLeaf>, asked: &[(&str, Key)]) -> VectorFile {
    let mut dir = Directory::new();
    dir.insert_batch(leaves.iter().map(|l| (unhex(&l.key), unhex(&l.value))));
    let proofs = asked
        .iter()
        .map(|(desc, key)| {
            let (value, proof) = dir.prove(key);
            VectorProof {
                desc: (*desc).into(),
                key: hexed(key),
                value: value.as_ref().map(hexed),
                proof: proof.to_base64(),
            }
        })
        .collect();
    VectorFile {
        desc: desc.into(),
        leaves,
        root: hexed(&dir.root()),
        proofs,
    }
}

fn release_name_key(text: &str) -> Key {
    unhex(&release_leaf(text, 0).key)
}

/// Three publishers with real key histories and four releases.
fn mixed_vector() -> VectorFile {
    let alice = key_state("alice", 1, 0, None);
    let bob = key_state("bob", 2, 2, Some(RevocationReason::Compromised));
    let carol = key_state("carol", 3, 1, Some(RevocationReason::Retired));
    let releases = [
        ("alice/tool@1.0.0", 11),
        ("alice/tool@1.1.0", 12),
        ("bob/lib@0.1.0+build.5", 21),
        ("carol/x@2", 31),
    ];
    let mut leaves: Vec<VectorLeaf> = [&alice, &bob, &carol].map(publisher_leaf).into();
    leaves.extend(releases.iter().map(|(r, i)| release_leaf(r, *i)));
    vector_file(
        "three publishers (a claim; a compromised claim key with two suspended chained keys; a retired key) and four releases",
        leaves,
        &[
            ("publisher alice is present", publisher_key("alice")),
            ("publisher bob is present", publisher_key("bob")),
            ("release bob/lib@0.1.0+build.5 is present", release_name_key("bob/lib@0.1.0+build.5")),
            ("release carol/x@2 is present", release_name_key("carol/x@2")),
            ("publisher dave is absent", publisher_key("dave")),
            ("release alice/tool@2.0.0 is absent", release_name_key("alice/tool@2.0.0")),
            ("release alice/other@1.0.0 is absent", release_name_key("alice/other@1.0.0")),
        ],
    )
}

/// Crafted keys around one base key, each differing from it in one bit.
fn long_prefix_vector() -> VectorFile {
    let base = sha(&[b"sealwax directory vectors: long prefixes"]);
    let flip = |bits: &[usize]| {
        let mut k = base;
        for bit in bits {
            k[bit / 8] ^= 0x80 >> (bit % 8);
        }
        k
    };
    let keys = [
        base,
        flip(&[255]),
        flip(&[254]),
        flip(&[200]),
        flip(&[0]),
        flip(&[1]),
    ];
    let leaves = keys
        .iter()
        .enumerate()
        .map(|(i, k)| raw_leaf(*k, sha(&[b"value", &[i as u8]])))
        .collect();
    vector_file(
        "crafted keys that share up to 255 leading bits: paths of up to 256 levels, mostly empty siblings",
        leaves,
        &[
            ("present, sharing 255 bits with a neighbour: 256 levels", flip(&[255])),
            ("present, alone below depth 255", flip(&[254])),
            ("present, differing from the others in bit 0: depth 1", flip(&[0])),
            ("absent, sharing 255 bits with the key alone at depth 255: ends at that key's leaf", flip(&[254, 255])),
            ("absent, leaving the others' path at bit 100: ends at an empty subtree at depth 101", flip(&[100])),
        ],
    )
}

fn vector_files() -> Vec<(&'static str, VectorFile)> {
    let alice = key_state("alice", 1, 0, None);
    let empty = vector_file(
        "the empty directory: root 32 zero bytes, every key absent at depth 0",
        vec![],
        &[
            ("publisher alice is absent", publisher_key("alice")),
            (
                "release alice/tool@1.0.0 is absent",
                release_name_key("alice/tool@1.0.0"),
            ),
        ],
    );
    let one = vector_file(
        "one publisher: the root is its leaf hash",
        vec![publisher_leaf(&alice)],
        &[
            ("publisher alice is present", publisher_key("alice")),
            (
                "publisher bob is absent: the path ends at alice's leaf",
                publisher_key("bob"),
            ),
        ],
    );
    vec![
        ("empty", empty),
        ("one-publisher", one),
        ("publishers-and-releases", mixed_vector()),
        ("long-prefixes", long_prefix_vector()),
    ]
}
