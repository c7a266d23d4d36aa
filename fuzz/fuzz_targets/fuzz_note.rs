//! Signed notes (`Note::parse`, `open_note`): an accepted note prints back to
//! exactly its own text, and opening it with known keys never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwax_proto::note::{open_note, CosignatureVerifier, Note, NoteVerifier};

/// The C2SP signed-note example key (its example note is in the seed corpus).
const EXAMPLE_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let verifier = NoteVerifier::parse(EXAMPLE_VKEY).expect("the example key parses");
    let opened = open_note(text, &[&verifier]);
    let Ok(note) = Note::parse(text) else {
        assert!(
            opened.is_err(),
            "open_note accepted a note Note::parse refuses"
        );
        return;
    };
    let printed = note.to_string();
    assert_eq!(
        printed, text,
        "an accepted note must print back to its own text"
    );
    assert_eq!(Note::parse(&printed).as_ref(), Ok(&note));
    if let Ok(verified) = opened {
        assert_eq!(verified.text, note.text);
        assert!(!verified.signatures.is_empty());
        assert!(verified
            .signatures
            .iter()
            .all(|s| note.signatures.contains(s)));
    }
    // A cosigner key under the same name: verification of every line must not panic.
    let cosigner = CosignatureVerifier::new("example.com/foo", *verifier.public_key())
        .expect("valid key name");
    for sig in &note.signatures {
        let _ = cosigner.verify(&note.text, sig);
        let _ = verifier.verify(&note.text, sig);
    }
});
