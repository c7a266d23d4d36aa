//! Release trusted comments (`Release::parse_trusted_comment`): only the
//! canonical form is accepted, so it prints back to exactly itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealwax_proto::entry::Release;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(release) = Release::parse_trusted_comment(text) else {
        return;
    };
    let printed = release.trusted_comment();
    assert_eq!(
        printed, text,
        "an accepted trusted comment must print back to itself"
    );
    assert_eq!(
        Release::parse_trusted_comment(&printed).as_ref(),
        Ok(&release)
    );
});
