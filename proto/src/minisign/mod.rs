//! Minisign public keys, secret keys and signatures.
//!
//! Byte-compatible with `minisign` (C, 0.11 and later) and `rsign2`: a key made
//! by either tool parses here, and a signature written here verifies with
//! `minisign -Vm FILE -p KEY.pub`. All multi-byte integers are little-endian;
//! every binary blob is standard base64 with `=` padding, on a line of its own.
//!
//! ## Public key (`.pub`)
//! ```text
//! untrusted comment: minisign public key <key ID>\n
//! base64( "Ed" || keynum[8] || ed25519_pk[32] )\n          (42 bytes, 56 chars)
//! ```
//! The key ID is `keynum` read as a little-endian `u64`, printed in upper-case
//! hex. minisign 0.12 pads it to 16 digits, minisign 0.11 does not, and rsign2
//! writes `minisign public key: <ID>` (with a colon). The comment is untrusted
//! and ignored when parsing; the bare base64 line is accepted too.
//!
//! ## Secret key (`.key`)
//! ```text
//! untrusted comment: <anything>\n
//! base64( "Ed" || kdf_alg[2] || "B2" || salt[32] || opslimit u64 || memlimit u64
//!         || keynum[8] || ed25519_sk[64] || chk[32] )\n    (158 bytes, 212 chars)
//! ```
//! `ed25519_sk` is libsodium's `seed[32] || pk[32]`, and
//! `chk = BLAKE2b-256("Ed" || keynum || ed25519_sk)`. `kdf_alg` is `"Sc"` when
//! encrypted or two zero bytes when not (salt and limits are then zero, and
//! minisign leaves `chk` zero too, which is accepted; the public half is
//! always checked against the seed). When
//! encrypted, the 104 bytes `keynum || ed25519_sk || chk` are XORed with
//! `scrypt(password, salt, N, r, p)` of 104 bytes, where `N, r, p` come from
//! `(opslimit, memlimit)` by libsodium's `crypto_pwhash_scryptsalsa208sha256`
//! rule (see [`KdfParams::scrypt_cost`]). minisign uses [`KdfParams::SENSITIVE`]
//! (N = 2^20, r = 8, p = 1, 1 GiB).
//!
//! ## Signature (`.minisig`)
//! ```text
//! untrusted comment: <text>\n
//! base64( "ED" || keynum[8] || sig[64] )\n                 (74 bytes, 100 chars)
//! trusted comment: <text>\n
//! base64( global_sig[64] )\n                               (64 bytes, 88 chars)
//! ```
//! With `"ED"` (pre-hashed), `sig = Ed25519(BLAKE2b-512(file))`; the legacy
//! `"Ed"` form signs the file itself and is refused by
//! [`SignatureBox::verify_prehashed`]. `global_sig = Ed25519(sig || trusted
//! comment bytes)`, so the trusted comment cannot be changed without the key.
//!
//! Parsing is strict: exact lengths, known algorithms, the line structure
//! above, `\n` or `\r\n` line ends (like minisign) and an optional missing
//! final newline, nothing after the last line. Signify (OpenBSD) keys and
//! signatures look alike (`"Ed"` blobs of the same sizes) and are refused with
//! [`Error::SignifyNotSupported`] where they can be told apart: by their
//! comment line, by the missing trusted comment of a signature, by the `"BK"`
//! KDF of a secret key. A bare base64 signify public key cannot be told apart
//! from a Minisign one and is, byte for byte, a valid Minisign key.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use blake2::Digest;
use zeroize::Zeroizing;

use crate::{Error, Result};

mod public;
mod secret;
mod signature;

/// Streaming BLAKE2b-512, the pre-hash of `ED` signatures: feed it the file, then `finalize`.
pub use blake2::Blake2b512 as Prehasher;
pub use public::{PublicKey, SignatureCheck};
pub use secret::{KdfParams, SecretKey};
pub use signature::{SignatureAlgorithm, SignatureBox};

/// The prefix of the first line of every Minisign file.
pub const UNTRUSTED_COMMENT_PREFIX: &str = "untrusted comment: ";
/// The prefix of the third line of a signature file.
pub const TRUSTED_COMMENT_PREFIX: &str = "trusted comment: ";
/// The longest untrusted comment minisign can read back (its 1024-byte line buffer).
pub const MAX_UNTRUSTED_COMMENT_LEN: usize = 1003;
/// The longest trusted comment minisign accepts (its 8192-byte line buffer).
pub const MAX_TRUSTED_COMMENT_LEN: usize = 8173;
/// The untrusted comment minisign puts on signatures.
pub const DEFAULT_UNTRUSTED_COMMENT: &str = "signature from minisign secret key";

const SIGALG: [u8; 2] = *b"Ed";
const SIGALG_PREHASHED: [u8; 2] = *b"ED";
const KDFALG_SCRYPT: [u8; 2] = *b"Sc";
const KDFALG_NONE: [u8; 2] = [0, 0];
const KDFALG_SIGNIFY_BCRYPT: [u8; 2] = *b"BK";
const CHKALG: [u8; 2] = *b"B2";

const PUBLIC_KEY_BYTES: usize = 2 + 8 + 32;
const SIGNATURE_LINE_BYTES: usize = 2 + 8 + 64;
const SALT_BYTES: usize = 32;
/// `keynum || ed25519_sk || chk`: the part of a secret key that is encrypted.
const KEYNUM_SK_BYTES: usize = 8 + 64 + 32;
const SECRET_KEY_BYTES: usize = 2 + 2 + 2 + SALT_BYTES + 8 + 8 + KEYNUM_SK_BYTES;
/// A signify secret key: "Ed" "BK" rounds[4] salt[16] checksum[8] keynum[8] sk[64].
const SIGNIFY_SECRET_KEY_BYTES: usize = 104;

/// The largest scrypt `log2(N)` accepted when decrypting (N = 2^20 is minisign's 1 GiB).
const MAX_SCRYPT_LOG_N: u8 = 20;
/// The largest scrypt `p` accepted when decrypting (minisign and rsign2 always use 1).
const MAX_SCRYPT_P: u32 = 16;

fn malformed(what: &'static str, reason: &'static str) -> Error {
    Error::MalformedMinisign { what, reason }
}

/// BLAKE2b-512 of `data`: what an `ED` (pre-hashed) signature signs.
pub fn prehash(data: &[u8]) -> [u8; 64] {
    Prehasher::digest(data).into()
}

/// Minisign's key ID text: `keynum` as a little-endian u64, 16 upper-case hex digits.
fn key_id_hex(keynum: &[u8; 8]) -> String {
    format!("{:016X}", u64::from_le_bytes(*keynum))
}

/// Splits a Minisign file into at most `max` lines: `\n` or `\r\n` ends, the
/// final one optional; no other carriage return, no empty input.
fn split_lines<'a>(text: &'a str, what: &'static str, max: usize) -> Result<Vec<&'a str>> {
    let body = match text.strip_suffix('\n') {
        Some(rest) => rest.strip_suffix('\r').unwrap_or(rest),
        None => text,
    };
    if body.is_empty() {
        return Err(malformed(what, "the input is empty"));
    }
    let mut lines = Vec::with_capacity(max);
    for line in body.split('\n') {
        if lines.len() == max {
            return Err(malformed(what, "unexpected text after the last line"));
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.contains('\r') {
            return Err(malformed(what, "a line contains a stray carriage return"));
        }
        lines.push(line);
    }
    Ok(lines)
}

/// The text after `untrusted comment: `, within minisign's length limit.
fn untrusted_comment<'a>(line: &'a str, what: &'static str) -> Result<&'a str> {
    let comment = line
        .strip_prefix(UNTRUSTED_COMMENT_PREFIX)
        .ok_or(malformed(
            what,
            "the first line must start with \"untrusted comment: \"",
        ))?;
    if comment.len() > MAX_UNTRUSTED_COMMENT_LEN {
        return Err(malformed(
            what,
            "the untrusted comment is longer than minisign can read (1003 bytes)",
        ));
    }
    Ok(comment)
}

/// Decodes one base64 line that must hold exactly `N` bytes.
fn decode_fixed<const N: usize>(line: &str, what: &'static str) -> Result<Zeroizing<[u8; N]>> {
    let bad_length = malformed(what, "the base64 line does not have the expected length");
    if line.len() != N.div_ceil(3) * 4 {
        return Err(bad_length);
    }
    let decoded = Zeroizing::new(
        B64.decode(line)
            .map_err(|_| malformed(what, "the base64 line is not valid standard base64"))?,
    );
    let mut out = Zeroizing::new([0u8; N]);
    if decoded.len() != N {
        return Err(bad_length);
    }
    out.copy_from_slice(&decoded);
    Ok(out)
}

fn is_signify_comment(comment: &str) -> bool {
    comment.starts_with("signify ")
}

fn check_comment(
    comment: &str,
    max: usize,
    not_one_line: &'static str,
    too_long: &'static str,
) -> Result<()> {
    if comment.contains(['\n', '\r']) {
        return Err(malformed("signature", not_one_line));
    }
    if comment.len() > max {
        return Err(malformed("signature", too_long));
    }
    Ok(())
}

/// Replaces line breaks by spaces and cuts to `max` bytes on a character boundary.
fn one_line(comment: &str, max: usize) -> String {
    let mut out: String = comment
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if out.len() > max {
        let mut cut = max;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrypt_cost_matches_libsodium_pickparams() {
        assert_eq!(KdfParams::SENSITIVE.scrypt_cost(), (20, 8, 1));
        assert_eq!(KdfParams::INTERACTIVE.scrypt_cost(), (14, 8, 1));
        // rsign2's defaults: opslimit 2^20, memlimit 2^25.
        let rsign = KdfParams {
            opslimit: 1_048_576,
            memlimit: 33_554_432,
        };
        assert_eq!(rsign.scrypt_cost(), (15, 8, 1));
        // opslimit < memlimit / 32: N from opslimit, p = 1.
        let ops_bound = KdfParams {
            opslimit: 1 << 16,
            memlimit: 1 << 30,
        };
        assert_eq!(ops_bound.scrypt_cost(), (11, 8, 1));
    }

    #[test]
    fn costly_kdf_params_are_refused() {
        let huge = KdfParams {
            opslimit: u64::MAX,
            memlimit: u64::MAX,
        };
        assert!(huge.scrypt_params().is_err());
        assert!(KdfParams::SENSITIVE.scrypt_params().is_ok());
    }

    #[test]
    fn one_line_strips_breaks_and_cuts_on_char_boundary() {
        assert_eq!(one_line("a\nb\r\nc", 100), "a b  c");
        assert_eq!(one_line("ééé", 3), "é");
    }

    #[test]
    fn split_lines_accepts_crlf_and_missing_final_newline() {
        assert_eq!(split_lines("a\r\nb", "x", 2).unwrap(), ["a", "b"]);
        assert_eq!(split_lines("a\nb\n", "x", 2).unwrap(), ["a", "b"]);
        assert!(split_lines("a\nb\n\n", "x", 2).is_err());
        assert!(split_lines("a\rb", "x", 2).is_err());
        assert!(split_lines("", "x", 2).is_err());
    }
}
