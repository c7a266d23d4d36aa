//! Checkpoints (`Checkpoint::parse`), as a bare body and inside a signed note:
//! an accepted body prints back to exactly itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwax_proto::checkpoint::{open_checkpoint, Checkpoint};
use sealwax_proto::note::{Note, NoteVerifier};

const LOG_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

fn round_trip(body: &str) {
    let Ok(cp) = Checkpoint::parse(body) else {
        return;
    };
    let printed = cp.to_body();
    assert_eq!(
        printed, body,
        "an accepted checkpoint must print back to itself"
    );
    assert_eq!(Checkpoint::parse(&printed).as_ref(), Ok(&cp));
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    round_trip(text);
    if let Ok(note) = Note::parse(text) {
        round_trip(&note.text);
        let verifier = NoteVerifier::parse(LOG_VKEY).expect("the example key parses");
        if let Ok(cp) = Checkpoint::parse(&note.text) {
            let _ = open_checkpoint(text, &cp.origin, &verifier);
        }
    }
});
