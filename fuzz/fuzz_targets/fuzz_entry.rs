//! Log entries (`Entry::parse`): the encoding is canonical, so every accepted
//! input must re-encode to exactly its own bytes; nothing may panic, including
//! signature checks and the key-history rules on whatever was parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwax_proto::entry::Entry;
use sealwax_proto::keys::PublisherKeys;

fuzz_target!(|data: &[u8]| {
    let Ok(entry) = Entry::parse(data) else {
        return;
    };
    let bytes = entry.to_bytes();
    assert_eq!(
        bytes, data,
        "an accepted entry must be in its canonical encoding"
    );
    assert_eq!(Entry::parse(&bytes).as_ref(), Ok(&entry));
    assert_eq!(entry.leaf_hash(), sealwax_proto::merkle::leaf_hash(data));
    let _ = (entry.kind_name(), entry.needs_operator());
    let origin = match &entry {
        Entry::Signature(s) => s.release().expect("parse checked the release").origin,
        _ => "example.com/log".to_string(),
    };
    let _ = entry.verify_signatures(&origin);
    let mut keys = PublisherKeys::new(&entry.publisher());
    let _ = keys.check(&entry);
    if keys.apply(&entry, 7).is_ok() {
        let _ = keys.check(&entry);
    }
});
