//! Entry bundles (`parse_bundle`): an accepted bundle re-encodes to exactly
//! its own bytes, and the exact-width parse agrees with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwax_proto::entry::Entry;
use sealwax_proto::tile::{encode_bundle, parse_bundle, parse_bundle_exact, TILE_WIDTH};

fuzz_target!(|data: &[u8]| {
    let Ok(entries) = parse_bundle(data) else {
        assert!(parse_bundle_exact(data, 1).is_err());
        return;
    };
    assert!(entries.len() as u64 <= TILE_WIDTH);
    let encoded = encode_bundle(entries.iter().copied()).expect("a parsed bundle re-encodes");
    assert_eq!(
        encoded, data,
        "an accepted bundle must re-encode to its own bytes"
    );
    if let Ok(width) = u16::try_from(entries.len()) {
        assert_eq!(parse_bundle_exact(data, width).as_ref(), Ok(&entries));
        assert!(parse_bundle_exact(data, width + 1).is_err());
    }
    for e in &entries {
        let _ = Entry::parse(e);
    }
});
