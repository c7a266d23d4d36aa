//! Merkle and tile costs, against one Ed25519 verification as the in-run
//! baseline: a proof check should cost a few signature checks at most.
//!
//! Run with `cargo bench -p sealwax-proto --bench merkle`.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use ed25519_dalek::{Signer, SigningKey, Verifier};

use sealwax_proto::merkle::{
    leaf_hash, prove_consistency, prove_inclusion, tree_root, verify_consistency, verify_inclusion,
    CompactRange, HashReader, MemoryHashStore,
};
use sealwax_proto::tile::{hash_tile_data, tiles_for_size, TileHashReader, TileLevel, TileReader};
use sealwax_proto::{Error, Result};

/// A tree of a million leaves: not a power of two, so proofs take the
/// incomplete right edge too.
const SIZE: u64 = 1_000_000;

/// Hash tiles held in memory, as a log's tile store would hand them out
/// (a copy per read).
struct MemoryTiles(HashMap<(u8, u64, u16), Vec<u8>>);

impl TileReader for MemoryTiles {
    fn read_tile(&self, level: u8, index: u64, width: u16) -> Result<Vec<u8>> {
        self.0
            .get(&(level, index, width))
            .cloned()
            .ok_or(Error::BadTile("no such tile"))
    }
}

/// Spreads benchmark indices over the tree.
fn index_at(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % SIZE
}

fn benches(c: &mut Criterion) {
    let mut store = MemoryHashStore::new();
    for i in 0..SIZE {
        store.append(leaf_hash(&i.to_le_bytes()));
    }
    let root = store.root();
    let tiles = MemoryTiles(
        tiles_for_size(SIZE)
            .into_iter()
            .map(|t| {
                let TileLevel::Hashes(level) = t.level else {
                    unreachable!("tiles_for_size lists hash tiles only")
                };
                let data = hash_tile_data(&store, level, t.index, t.width).unwrap();
                ((level, t.index, t.width), data)
            })
            .collect(),
    );

    let key = SigningKey::from_bytes(&[7; 32]);
    let message = [42u8; 120];
    let signature = key.sign(&message);
    let public = key.verifying_key();
    c.bench_function("baseline: ed25519 verify", |b| {
        b.iter(|| {
            public
                .verify(black_box(&message), black_box(&signature))
                .unwrap()
        })
    });

    let mut range = CompactRange::new();
    let mut n = 0u64;
    c.bench_function("CompactRange append", |b| {
        b.iter(|| {
            n += 1;
            range.append(leaf_hash(&n.to_le_bytes()), |l, i, h| {
                black_box((l, i, h));
            });
        })
    });
    c.bench_function("CompactRange append + root", |b| {
        b.iter(|| {
            n += 1;
            range.append(leaf_hash(&n.to_le_bytes()), |_, _, _| {});
            black_box(range.root())
        })
    });

    let mut i = 0u64;
    c.bench_function("prove inclusion, memory store, 1M leaves", |b| {
        b.iter(|| {
            i += 1;
            prove_inclusion(&store, index_at(i), SIZE).unwrap()
        })
    });
    c.bench_function("prove inclusion, fresh TileHashReader, 1M leaves", |b| {
        b.iter(|| {
            i += 1;
            let reader = TileHashReader::new(&tiles, SIZE);
            prove_inclusion(&reader, index_at(i), SIZE).unwrap()
        })
    });
    c.bench_function("prove consistency, memory store, 1M leaves", |b| {
        b.iter(|| {
            i += 1;
            prove_consistency(&store, 1 + index_at(i), SIZE).unwrap()
        })
    });

    let index = index_at(12_345);
    let leaf = store.read_hash(0, index).unwrap();
    let proof = prove_inclusion(&store, index, SIZE).unwrap();
    c.bench_function("verify inclusion, 1M leaves", |b| {
        b.iter(|| verify_inclusion(&leaf, index, SIZE, black_box(&proof), &root).unwrap())
    });

    let from = 777_777;
    let from_root = tree_root(&store, from).unwrap();
    let proof = prove_consistency(&store, from, SIZE).unwrap();
    c.bench_function("verify consistency, 777,777 -> 1M leaves", |b| {
        b.iter(|| verify_consistency(from, SIZE, black_box(&proof), &from_root, &root).unwrap())
    });
}

criterion_group! {
    name = merkle;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(merkle);
