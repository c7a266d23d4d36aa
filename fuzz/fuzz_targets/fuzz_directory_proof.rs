//! Key-directory proofs (`DirectoryProof::decode`): an accepted proof
//! re-encodes to exactly its own bytes and its base64 form round-trips; a
//! verification against any root, key and value answers without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwax_proto::directory::{verify, DirectoryProof};

fuzz_target!(|data: &[u8]| {
    // The first 96 bytes, when there are that many, choose the root, the key
    // and the value; the proof is what follows (or everything).
    let (head, bytes) = if data.len() > 96 {
        data.split_at(96)
    } else {
        (&[][..], data)
    };
    let Ok(proof) = DirectoryProof::decode(bytes) else {
        return;
    };
    assert_eq!(
        proof.encode(),
        bytes,
        "an accepted proof must re-encode to its own bytes"
    );
    let text = proof.to_base64();
    assert_eq!(DirectoryProof::from_base64(&text).as_ref(), Ok(&proof));
    if head.len() == 96 {
        let hash = |i: usize| <[u8; 32]>::try_from(&head[i * 32..(i + 1) * 32]).unwrap();
        let (root, key, value) = (hash(0), hash(1), hash(2));
        let _ = verify(&root, &key, Some(&value), &proof);
        let _ = verify(&root, &key, None, &proof);
    }
});
