//! Verifier keys (`NoteVerifier::parse`, `CosignatureVerifier::parse`): an
//! accepted key string prints back to exactly itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwax_proto::note::{CosignatureVerifier, NoteVerifier};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = NoteVerifier::parse(text) {
        let printed = v.to_string();
        assert_eq!(
            printed, text,
            "a note verifier key must print back to itself"
        );
        assert_eq!(NoteVerifier::parse(&printed).as_ref(), Ok(&v));
        assert!(
            CosignatureVerifier::parse(text).is_err(),
            "a key has one type"
        );
    }
    if let Ok(v) = CosignatureVerifier::parse(text) {
        let printed = v.to_string();
        assert_eq!(printed, text, "a cosigner key must print back to itself");
        assert_eq!(CosignatureVerifier::parse(&printed).as_ref(), Ok(&v));
    }
});
