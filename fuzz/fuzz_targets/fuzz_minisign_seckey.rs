//! Minisign secret keys (`SecretKey::parse`), always without a password: an
//! encrypted key must then be refused before any scrypt work (inputs choose
//! their own scrypt cost, up to 1 GiB), and an unencrypted one written back
//! out parses to the same key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sealwax_proto::minisign::SecretKey;
use sealwax_proto::Error;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = SecretKey::parse(text, None);
    if SecretKey::is_encrypted(text) {
        assert!(
            matches!(parsed, Err(Error::PasswordRequired)),
            "an encrypted key without a password must ask for one, got {parsed:?}"
        );
        return;
    }
    let Ok(sk) = parsed else {
        return;
    };
    let mut rng = StdRng::seed_from_u64(0);
    let written = sk.to_file_string(None, &mut rng);
    let again = SecretKey::parse(&written, None).expect("a written key parses");
    assert_eq!(again.keynum(), sk.keynum());
    assert_eq!(again.public_key(), sk.public_key());
    let sig = sk.sign_raw(data);
    assert_eq!(sk.public_key().verify_raw(data, &sig), Ok(()));
});
