//! Minisign public keys (`PublicKey::parse`): whole `.pub` files or the bare
//! base64 line. Both printed forms parse back to the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwax_proto::minisign::PublicKey;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(pk) = PublicKey::parse(text) else {
        return;
    };
    assert_eq!(PublicKey::parse(&pk.to_file_string()), Ok(pk));
    assert_eq!(PublicKey::parse(&pk.to_base64()), Ok(pk));
    assert_eq!(pk.key_id_hex().len(), 16);
    let _ = pk.key_hash();
    assert!(
        pk.verify_raw(b"message", &[0u8; 64]).is_err(),
        "an all-zero signature never verifies"
    );
});
