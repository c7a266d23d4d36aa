//! Minisign signature files (`SignatureBox::parse`): an accepted signature
//! written back out parses to the same signature; verifying it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwax_proto::entry::SignatureEntry;
use sealwax_proto::minisign::{prehash, PublicKey, SignatureBox};

/// The key of the pre-hashed minisign signature in the seed corpus (over `Hello, World!\n`).
const KEY: &str = "RWRIeCI9VBgUB0FAABABUrdfRVLBsRhOC63S9bDOAeWkCmnT38a1sUDb";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(sig) = SignatureBox::parse(text) else {
        return;
    };
    let written = sig.to_file_string();
    assert_eq!(SignatureBox::parse(&written).as_ref(), Ok(&sig));
    let pk = PublicKey::parse(KEY).expect("the vector key parses");
    let digest = prehash(b"Hello, World!\n");
    let _ = sig.verify_prehashed(&pk, &digest);
    if let Ok(entry) = SignatureEntry::from_signature_box(&sig, pk, digest) {
        assert_eq!(entry.to_signature_box().signature, sig.signature);
    }
});
