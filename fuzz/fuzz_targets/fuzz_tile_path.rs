//! Tile paths (`TileId::parse_path`, `parse_index`): there is one path per
//! tile, so an accepted path prints back to exactly itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwax_proto::tile::{encode_index, parse_index, TileId, TileLevel, TILE_WIDTH};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = TileId::parse_path(text) {
        assert_eq!(
            id.path(),
            text,
            "an accepted tile path must print back to itself"
        );
        assert_eq!(TileId::parse_path(&id.path()), Ok(id));
        assert!(id.width >= 1 && u64::from(id.width) <= TILE_WIDTH);
        if let TileLevel::Hashes(l) = id.level {
            assert!(l <= 63);
        }
        assert!(!text.contains(".."), "a tile path never has a .. element");
    }
    if let Ok(n) = parse_index(text) {
        assert_eq!(
            encode_index(n),
            text,
            "an accepted index must print back to itself"
        );
    }
});
