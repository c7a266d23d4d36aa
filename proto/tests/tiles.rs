//! C2SP tlog-tiles: paths, entry bundles, which tiles change as the tree
//! grows, and reading tree nodes back from tiles.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use proptest::prelude::*;

use sealwax_proto::merkle::{
    leaf_hash, prove_consistency, prove_inclusion, tree_root, HashReader, MemoryHashStore,
};
use sealwax_proto::tile::{
    changed_tiles, encode_bundle, encode_index, hash_tile_data, parse_bundle, parse_bundle_exact,
    parse_index, tiles_for_size, TileHashReader, TileId, TileLevel, TileReader, TILE_WIDTH,
};
use sealwax_proto::Error;

fn hashes(level: u8, index: u64, width: u16) -> TileId {
    TileId {
        level: TileLevel::Hashes(level),
        index,
        width,
    }
}

fn entries(index: u64, width: u16) -> TileId {
    TileId {
        level: TileLevel::Entries,
        index,
        width,
    }
}

#[test]
fn paths_known_answers() {
    let cases = [
        (hashes(0, 1_234_067, 256), "tile/0/x001/x234/067"),
        (hashes(0, 0, 256), "tile/0/000"),
        (hashes(0, 999, 256), "tile/0/999"),
        (hashes(0, 1000, 256), "tile/0/x001/000"),
        (hashes(1, 5, 17), "tile/1/005.p/17"),
        (hashes(63, 1000, 255), "tile/63/x001/000.p/255"),
        (entries(5, 7), "tile/entries/005.p/7"),
        (entries(1_234_067, 256), "tile/entries/x001/x234/067"),
        (
            entries(u64::MAX, 1),
            "tile/entries/x018/x446/x744/x073/x709/x551/615.p/1",
        ),
    ];
    for (id, path) in cases {
        assert_eq!(id.path(), path, "{id:?}");
        assert_eq!(TileId::parse_path(path), Ok(id), "{path}");
    }
    assert_eq!(encode_index(1_234_067), "x001/x234/067");
    assert_eq!(parse_index("x001/x234/067"), Ok(1_234_067));
}

#[test]
fn bad_paths_are_refused() {
    let cases = [
        ("", "empty"),
        ("tile", "no levels"),
        ("tile/", "no level"),
        ("/tile/0/000", "leading slash"),
        ("xtile/0/000", "leading junk"),
        (" tile/0/000", "leading space"),
        ("tiles/0/000", "wrong prefix"),
        ("tile/0", "no index"),
        ("tile/0/", "empty index"),
        ("tile/0/0", "1-digit element"),
        ("tile/0/00", "2-digit element"),
        ("tile/0/0000", "4-digit element"),
        ("tile/0/00a", "non-digit"),
        ("tile/0/abc", "letters"),
        ("tile/0/+01", "sign"),
        ("tile/0/\u{661}\u{662}\u{663}", "non-ASCII digits"),
        ("tile/0/x001", "x on the last element"),
        ("tile/0/001/000", "missing x prefix"),
        ("tile/0/x001/x000", "x on the last of two"),
        ("tile/0/X001/000", "capital X"),
        ("tile/0/xx01/000", "double x"),
        ("tile/0/x1000/000", "4 digits after x"),
        ("tile/0/x000/001", "redundant leading x000"),
        ("tile/0/../000", ".. element"),
        ("tile/0/x001/../000", ".. in the middle"),
        ("tile/0//000", "empty element"),
        ("tile/0/x001//000", "empty middle element"),
        ("tile/0/000/", "trailing slash"),
        ("tile/0/000 ", "trailing space"),
        ("tile/0/000?x=1", "query"),
        (
            "tile/0/x018/x446/x744/x073/x709/x551/616",
            "index overflows u64",
        ),
        ("tile/64/000", "level 64"),
        ("tile/00/000", "level with a leading zero"),
        ("tile/01/000", "level 1 with a leading zero"),
        ("tile/-1/000", "negative level"),
        ("tile/+1/000", "level with a sign"),
        ("tile/100/000", "3-digit level"),
        ("tile/Entries/000", "capitalised entries"),
        ("tile/entry/000", "misspelt entries"),
        ("tile/../000", ".. as level"),
        ("tile/0/000.p/0", "width 0"),
        ("tile/0/000.p/256", "width 256 (a full tile has no .p)"),
        ("tile/entries/000.p/256", "bundle width 256"),
        ("tile/0/000.p/300", "width over 256"),
        ("tile/0/000.p/007", "width with leading zeros"),
        ("tile/0/000.p/", "empty width"),
        ("tile/0/000.p", "no width"),
        ("tile/0/000.p/5/6", "junk after the width"),
        ("tile/0/000.p/5.p/6", "two .p"),
        ("tile/0/000.p/-5", "negative width"),
        ("tile/0/000.P/5", "capital P"),
        ("tile/0/x001.p/5/000", ".p in the middle"),
    ];
    for (path, desc) in cases {
        match TileId::parse_path(path) {
            Err(Error::BadTilePath { path: p, reason }) => {
                assert_eq!(p, path, "{desc}");
                assert!(!reason.is_empty(), "{desc}");
            }
            other => panic!("{desc}: {path:?} gave {other:?}"),
        }
    }
    for bad in [
        "", "1", "01", "0001", "x001", "x001/", "001/002", "/001", "x000/001",
    ] {
        assert!(parse_index(bad).is_err(), "{bad:?}");
    }
}

fn tile_id() -> impl Strategy<Value = TileId> {
    let level = prop_oneof![
        (0u8..=63).prop_map(TileLevel::Hashes),
        Just(TileLevel::Entries)
    ];
    let index = prop_oneof![0u64..2000, any::<u64>()];
    (level, index, 1u16..=256).prop_map(|(level, index, width)| TileId {
        level,
        index,
        width,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn paths_round_trip(id in tile_id()) {
        let path = id.path();
        prop_assert_eq!(TileId::parse_path(&path), Ok(id));
        prop_assert_eq!(path.contains(".p/"), !id.is_full());
    }

    #[test]
    fn indexes_round_trip(n in any::<u64>()) {
        let s = encode_index(n);
        prop_assert_eq!(parse_index(&s), Ok(n));
        // Every element is 3 digits; all but the last have an x.
        let elements: Vec<&str> = s.split('/').collect();
        for (i, e) in elements.iter().enumerate() {
            let digits = if i + 1 < elements.len() { e.strip_prefix('x').unwrap() } else { e };
            prop_assert!(digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit()), "{}", s);
        }
    }

    #[test]
    fn bundles_round_trip_and_refuse_damage(
        list in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..=256),
        extra in prop::collection::vec(any::<u8>(), 1..4),
    ) {
        let data = encode_bundle(list.iter().map(Vec::as_slice)).unwrap();
        let want: Vec<&[u8]> = list.iter().map(Vec::as_slice).collect();
        prop_assert_eq!(parse_bundle(&data).unwrap(), want.clone());
        let width = list.len() as u16;
        prop_assert_eq!(parse_bundle_exact(&data, width).unwrap(), want);
        prop_assert!(parse_bundle_exact(&data, width + 1).is_err());
        prop_assert!(parse_bundle_exact(&data, width - 1).is_err());

        // Cut anywhere: an error, unless the cut falls between entries, in
        // which case it is a shorter bundle that the width check refuses.
        let mut boundaries = BTreeMap::new();
        let mut pos = 0;
        for (i, e) in list.iter().enumerate() {
            boundaries.insert(pos, i);
            pos += 2 + e.len();
        }
        let cuts: BTreeSet<usize> = boundaries
            .keys()
            .flat_map(|&b| [b, b + 1, b + 2, b + 3, b + 2 + (data.len() - b) / 7])
            .chain([data.len() - 1])
            .filter(|&c| c < data.len())
            .collect();
        for cut in cuts {
            match (parse_bundle(&data[..cut]), boundaries.get(&cut)) {
                (Ok(got), Some(&n)) => prop_assert_eq!(got.len(), n),
                (Err(Error::BadBundle(_)), None) => {}
                (got, b) => prop_assert!(false, "cut at {}: {:?} (boundary {:?})", cut, got, b),
            }
            prop_assert!(parse_bundle_exact(&data[..cut], width).is_err(), "cut at {}", cut);
        }

        // Trailing bytes: never the same bundle.
        let mut longer = data.clone();
        longer.extend_from_slice(&extra);
        prop_assert!(parse_bundle_exact(&longer, width).is_err());
        if list.len() == 256 {
            prop_assert!(parse_bundle(&longer).is_err());
        }
    }
}

#[test]
fn bundle_limits() {
    let max = vec![7u8; 65_535];
    let data = encode_bundle([max.as_slice()]).unwrap();
    assert_eq!(&data[..2], &[0xff, 0xff]);
    assert_eq!(parse_bundle(&data).unwrap(), vec![max.as_slice()]);

    let over = vec![7u8; 65_536];
    assert_eq!(
        encode_bundle([b"ok".as_slice(), over.as_slice()]),
        Err(Error::EntryTooLarge(65_536))
    );

    let many = vec![b"e".as_slice(); 257];
    assert!(matches!(encode_bundle(many), Err(Error::BadBundle(_))));
    let full = encode_bundle(vec![b"e".as_slice(); 256]).unwrap();
    assert_eq!(parse_bundle(&full).unwrap().len(), 256);
    let mut too_many = full.clone();
    too_many.extend_from_slice(&[0, 1, b'e']);
    assert!(matches!(parse_bundle(&too_many), Err(Error::BadBundle(_))));

    let table: [(&str, &[u8]); 4] = [
        ("one byte", &[0x00]),
        ("length without entry", &[0x00, 0x02, b'a']),
        ("second prefix cut", &[0x00, 0x01, b'a', 0x00]),
        ("length past the end", &[0xff, 0xff, 0, 0, 0]),
    ];
    for (desc, data) in table {
        assert!(
            matches!(parse_bundle(data), Err(Error::BadBundle(_))),
            "{desc}"
        );
    }
    assert_eq!(parse_bundle(&[]).unwrap(), Vec::<&[u8]>::new());
    assert_eq!(parse_bundle(&[0, 0]).unwrap(), vec![&[] as &[u8]]);
}

/// Largest tree used below: spans full and partial tiles at levels 0, 1, 2.
const MAX_SIZE: u64 = 70_000;

fn entry(i: u64) -> Vec<u8> {
    format!("entry number {i}").into_bytes()
}

static STORE: LazyLock<MemoryHashStore> = LazyLock::new(|| {
    let mut s = MemoryHashStore::new();
    for i in 0..MAX_SIZE {
        s.append(leaf_hash(&entry(i)));
    }
    s
});

/// Every tile of a tree of `size`, by brute force: (level, index) -> bytes.
/// Hash tile (L, n) holds nodes (8L, 256n + i); bundle n holds entries
/// 256n + i, each as its 2-byte big-endian length and the bytes.
fn all_tiles(size: u64) -> BTreeMap<(TileLevel, u64), Vec<u8>> {
    let mut tiles = BTreeMap::new();
    for level in 0u8..8 {
        let count = size / 256u64.pow(u32::from(level));
        for n in 0..count.div_ceil(256) {
            let mut data = Vec::new();
            for i in n * 256..(n * 256 + 256).min(count) {
                data.extend_from_slice(&STORE.read_hash(level * 8, i).unwrap());
            }
            tiles.insert((TileLevel::Hashes(level), n), data);
        }
    }
    for n in 0..size.div_ceil(256) {
        let mut data = Vec::new();
        for i in n * 256..(n * 256 + 256).min(size) {
            let e = entry(i);
            data.extend_from_slice(&(e.len() as u16).to_be_bytes());
            data.extend_from_slice(&e);
        }
        tiles.insert((TileLevel::Entries, n), data);
    }
    tiles
}

fn width_of(level: TileLevel, data: &[u8]) -> u16 {
    match level {
        TileLevel::Hashes(_) => (data.len() / 32) as u16,
        TileLevel::Entries => parse_bundle(data).unwrap().len() as u16,
    }
}

fn check_changed_tiles(old: u64, new: u64) {
    let before = all_tiles(old);
    let after = all_tiles(new);
    let want: BTreeSet<TileId> = after
        .iter()
        .filter(|(key, data)| before.get(key) != Some(data))
        .map(|(&(level, index), data)| TileId {
            level,
            index,
            width: width_of(level, data),
        })
        .collect();
    let got_list = changed_tiles(old, new);
    let got: BTreeSet<TileId> = got_list.iter().copied().collect();
    assert_eq!(got.len(), got_list.len(), "duplicates in {old} -> {new}");
    assert_eq!(got, want, "changed tiles {old} -> {new}");

    let hash_tiles: BTreeSet<TileId> = after
        .iter()
        .filter(|((level, _), _)| *level != TileLevel::Entries)
        .map(|(&(level, index), data)| TileId {
            level,
            index,
            width: width_of(level, data),
        })
        .collect();
    let listed: BTreeSet<TileId> = tiles_for_size(new).into_iter().collect();
    assert_eq!(listed, hash_tiles, "tiles_for_size({new})");
}

#[test]
fn changed_tiles_edges() {
    for (old, new) in [
        (0, 1),
        (0, 256),
        (255, 256),
        (256, 257),
        (1, 65_536),
        (65_535, 65_536),
        (65_536, 65_537),
        (0, MAX_SIZE),
        (60_000, MAX_SIZE),
    ] {
        check_changed_tiles(old, new);
    }
    assert!(changed_tiles(5, 5).is_empty());
    assert!(changed_tiles(9, 5).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn changed_tiles_match_brute_force(a in 0..=MAX_SIZE, b in 0..=MAX_SIZE, small in 1u64..600) {
        // Half the cases grow a little (the common case), half a lot.
        let (old, new) = if a % 2 == 0 {
            (a.min(MAX_SIZE - small), a.min(MAX_SIZE - small) + small)
        } else {
            (a.min(b), a.max(b))
        };
        check_changed_tiles(old, new);
    }
}

/// Tiles of one tree size, exactly as a log would serve them.
struct ServedTiles(HashMap<(u8, u64, u16), Vec<u8>>);

impl ServedTiles {
    fn of_size(size: u64) -> Self {
        let tiles = all_tiles(size)
            .into_iter()
            .filter_map(|((level, index), data)| match level {
                TileLevel::Hashes(l) => Some(((l, index, width_of(level, &data)), data)),
                TileLevel::Entries => None,
            })
            .collect();
        ServedTiles(tiles)
    }
}

impl TileReader for ServedTiles {
    fn read_tile(&self, level: u8, index: u64, width: u16) -> sealwax_proto::Result<Vec<u8>> {
        self.0
            .get(&(level, index, width))
            .cloned()
            .ok_or(Error::BadTile("no such tile"))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn tile_hash_reader_matches_store(
        size in 1..=MAX_SIZE, picks in prop::collection::vec((0u8..17, any::<u64>()), 40),
        index_seed in any::<u64>(), from_seed in any::<u64>(),
    ) {
        let served = ServedTiles::of_size(size);
        for (&(level, index, width), data) in &served.0 {
            prop_assert_eq!(&hash_tile_data(&*STORE, level, index, width).unwrap(), data);
        }
        let reader = TileHashReader::new(&served, size);
        for (level, seed) in picks {
            let complete = size >> level;
            if complete == 0 {
                prop_assert_eq!(reader.read_hash(level, 0), Err(Error::HashUnavailable { level, index: 0 }));
                continue;
            }
            let index = seed % complete;
            prop_assert_eq!(reader.read_hash(level, index).unwrap(), STORE.read_hash(level, index).unwrap(),
                "node ({}, {}) of size {}", level, index, size);
            // Not a complete subtree of this tree.
            prop_assert_eq!(reader.read_hash(level, complete), Err(Error::HashUnavailable { level, index: complete }));
        }
        prop_assert_eq!(tree_root(&reader, size).unwrap(), tree_root(&*STORE, size).unwrap());
        let index = index_seed % size;
        prop_assert_eq!(prove_inclusion(&reader, index, size).unwrap(),
            prove_inclusion(&*STORE, index, size).unwrap());
        let from = 1 + from_seed % size;
        prop_assert_eq!(prove_consistency(&reader, from, size).unwrap(),
            prove_consistency(&*STORE, from, size).unwrap());
    }
}

#[test]
fn tile_hash_reader_refuses_bad_tiles() {
    struct Short;
    impl TileReader for Short {
        fn read_tile(&self, _: u8, _: u64, width: u16) -> sealwax_proto::Result<Vec<u8>> {
            Ok(vec![0; usize::from(width) * 32 - 1])
        }
    }
    let reader = TileHashReader::new(Short, 1000);
    assert!(matches!(reader.read_hash(0, 3), Err(Error::BadTile(_))));
}

#[test]
fn tile_for_size() {
    let cases = [
        (TileLevel::Hashes(0), 0, 0, None),
        (TileLevel::Hashes(0), 0, 1, Some(1)),
        (TileLevel::Hashes(0), 0, 256, Some(256)),
        (TileLevel::Hashes(0), 1, 256, None),
        (TileLevel::Hashes(0), 273, 70_000, Some(112)),
        (TileLevel::Hashes(1), 1, 70_000, Some(17)),
        (TileLevel::Hashes(2), 0, 70_000, Some(1)),
        (TileLevel::Hashes(3), 0, 70_000, None),
        (TileLevel::Hashes(8), 0, u64::MAX, None),
        (TileLevel::Entries, 273, 70_000, Some(112)),
        (TileLevel::Entries, u64::MAX, u64::MAX, None),
    ];
    for (level, index, size, want) in cases {
        let got = TileId::for_size(level, index, size).map(|t| t.width);
        assert_eq!(got, want, "{level:?} {index} at size {size}");
    }
    assert_eq!(TILE_WIDTH, 256);
}
