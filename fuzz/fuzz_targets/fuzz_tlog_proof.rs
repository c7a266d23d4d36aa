//! tlog-proof files (`TlogProof::parse`): an accepted proof prints back to
//! exactly its own text; verifying it against a key never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwax_proto::note::NoteVerifier;
use sealwax_proto::proof::TlogProof;

const LOG_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(proof) = TlogProof::parse(text) else {
        return;
    };
    let printed = proof.to_string();
    assert_eq!(
        printed, text,
        "an accepted proof must print back to its own text"
    );
    assert_eq!(TlogProof::parse(&printed).as_ref(), Ok(&proof));
    let verifier = NoteVerifier::parse(LOG_VKEY).expect("the example key parses");
    let _ = proof.verify(&[0u8; 32], "example.com/foo", &verifier, None);
});
