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
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{Error, Hash, Result};

/// Streaming BLAKE2b-512, the pre-hash of `ED` signatures: feed it the file, then `finalize`.
pub use blake2::Blake2b512 as Prehasher;

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

/// A Minisign Ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey {
    /// The 8-byte key number (a random hint, not unique).
    pub keynum: [u8; 8],
    /// The Ed25519 public key.
    pub key: [u8; 32],
}

impl PublicKey {
    /// Parses a whole `.pub` file (comment line and base64 line) or just the base64 line.
    pub fn parse(text: &str) -> Result<PublicKey> {
        const WHAT: &str = "public key";
        let lines = split_lines(text, WHAT, 2)?;
        let b64 = match lines.as_slice() {
            [line] if line.starts_with("untrusted comment:") => {
                return Err(malformed(
                    WHAT,
                    "the base64 key line after the comment is missing",
                ))
            }
            [line] => *line,
            [comment, line] => {
                if is_signify_comment(untrusted_comment(comment, WHAT)?) {
                    return Err(Error::SignifyNotSupported("public key"));
                }
                *line
            }
            _ => return Err(malformed(WHAT, "unexpected line structure")),
        };
        let bytes = decode_fixed::<PUBLIC_KEY_BYTES>(b64, WHAT)?;
        if bytes[..2] != SIGALG {
            return Err(malformed(
                WHAT,
                "unknown signature algorithm (expected \"Ed\")",
            ));
        }
        let mut pk = PublicKey {
            keynum: [0; 8],
            key: [0; 32],
        };
        pk.keynum.copy_from_slice(&bytes[2..10]);
        pk.key.copy_from_slice(&bytes[10..]);
        let vk = VerifyingKey::from_bytes(&pk.key)
            .map_err(|_| malformed(WHAT, "the 32 key bytes are not an Ed25519 point"))?;
        if vk.to_edwards().compress().to_bytes() != pk.key {
            return Err(malformed(
                WHAT,
                "the key is not a canonical Ed25519 point encoding",
            ));
        }
        if vk.is_weak() {
            return Err(malformed(
                WHAT,
                "the key is a weak (small-order) Ed25519 point",
            ));
        }
        Ok(pk)
    }

    /// The 42 bytes `"Ed" || keynum || key`.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_BYTES] {
        let mut out = [0u8; PUBLIC_KEY_BYTES];
        out[..2].copy_from_slice(&SIGALG);
        out[2..10].copy_from_slice(&self.keynum);
        out[10..].copy_from_slice(&self.key);
        out
    }

    /// The base64 line, as `minisign -P` takes it.
    pub fn to_base64(&self) -> String {
        B64.encode(self.to_bytes())
    }

    /// The `.pub` file: `untrusted comment: minisign public key <ID>\n<base64>\n`.
    pub fn to_file_string(&self) -> String {
        format!(
            "{UNTRUSTED_COMMENT_PREFIX}minisign public key {}\n{}\n",
            self.key_id_hex(),
            self.to_base64()
        )
    }

    /// The key ID as minisign 0.12 prints it: 16 upper-case hex digits, e.g. `9D92931126AE543F`.
    pub fn key_id_hex(&self) -> String {
        key_id_hex(&self.keynum)
    }

    /// SHA-256(`"Ed" || keynum || key`): the key's identity in sealwax.
    pub fn key_hash(&self) -> Hash {
        Sha256::digest(self.to_bytes()).into()
    }

    /// Checks an Ed25519 signature by this key over `msg` (strict, as libsodium checks).
    pub fn verify_raw(&self, msg: &[u8], sig: &[u8; 64]) -> Result<()> {
        let vk = VerifyingKey::from_bytes(&self.key)
            .map_err(|_| Error::BadSignature("the public key is not an Ed25519 point"))?;
        vk.verify_strict(msg, &Signature::from_bytes(sig))
            .map_err(|_| Error::BadSignature("the Ed25519 signature is not valid for this key"))
    }
}

/// One Ed25519 signature by a Minisign key over a message, not yet checked:
/// what an entry carries, checked strictly with [`SignatureCheck::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The key that must have signed.
    pub key: PublicKey,
    /// The signed message.
    pub message: Vec<u8>,
    /// The signature.
    pub signature: [u8; 64],
    /// The error to report when the signature is not valid.
    pub failure: Error,
}

impl SignatureCheck {
    /// Checks this one signature strictly (as libsodium does).
    pub fn verify(&self) -> Result<()> {
        self.key
            .verify_raw(&self.message, &self.signature)
            .map_err(|_| self.failure.clone())
    }
}

impl std::str::FromStr for PublicKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<PublicKey> {
        PublicKey::parse(s)
    }
}

/// scrypt cost of an encrypted secret key, as libsodium's `opslimit` and `memlimit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// libsodium `opslimit`.
    pub opslimit: u64,
    /// libsodium `memlimit` in bytes.
    pub memlimit: u64,
}

impl KdfParams {
    /// What minisign uses: N = 2^20, r = 8, p = 1 (1 GiB, about a second or more).
    pub const SENSITIVE: KdfParams = KdfParams {
        opslimit: 33_554_432,
        memlimit: 1_073_741_824,
    };
    /// libsodium's interactive level: N = 2^14, r = 8, p = 1 (16 MiB); cheap, for tests.
    pub const INTERACTIVE: KdfParams = KdfParams {
        opslimit: 524_288,
        memlimit: 16_777_216,
    };

    /// `(log2 N, r, p)` from `(opslimit, memlimit)`, exactly as libsodium's `pickparams`.
    pub fn scrypt_cost(&self) -> (u8, u32, u32) {
        let opslimit = self.opslimit.max(32_768);
        let r: u64 = 8;
        let smallest_log_n_above = |max_n: u64| {
            let mut log_n = 1u8;
            while log_n < 63 && (1u64 << log_n) <= max_n / 2 {
                log_n += 1;
            }
            log_n
        };
        if opslimit < self.memlimit / 32 {
            let log_n = smallest_log_n_above(opslimit / (r * 4));
            (log_n, 8, 1)
        } else {
            let log_n = smallest_log_n_above(self.memlimit / (r * 128));
            let max_rp = ((opslimit / 4) >> log_n).min(0x3fff_ffff);
            // max_rp <= 0x3fff_ffff, so max_rp / 8 fits in u32.
            (log_n, 8, u32::try_from(max_rp / r).unwrap_or(u32::MAX))
        }
    }

    /// The scrypt parameters, refused when they are invalid or costlier than sealwax allows.
    fn scrypt_params(&self) -> Result<scrypt::Params> {
        let (log_n, r, p) = self.scrypt_cost();
        if log_n > MAX_SCRYPT_LOG_N || p > MAX_SCRYPT_P {
            return Err(malformed(
                "secret key",
                "its scrypt parameters ask for more than 1 GiB of memory or too much work",
            ));
        }
        scrypt::Params::new(log_n, r, p, scrypt::Params::RECOMMENDED_LEN)
            .map_err(|_| malformed("secret key", "its scrypt parameters are invalid"))
    }

    /// The 104-byte scrypt stream that encrypts `keynum || sk || chk`.
    fn stream(
        &self,
        password: &[u8],
        salt: &[u8; SALT_BYTES],
    ) -> Result<Zeroizing<[u8; KEYNUM_SK_BYTES]>> {
        let params = self.scrypt_params()?;
        let mut stream = Zeroizing::new([0u8; KEYNUM_SK_BYTES]);
        scrypt::scrypt(password, salt, &params, stream.as_mut_slice())
            .map_err(|_| malformed("secret key", "scrypt could not derive the key stream"))?;
        Ok(stream)
    }
}

/// The fields of a secret key file before decryption.
struct RawSecretKey {
    kdf_alg: [u8; 2],
    salt: [u8; SALT_BYTES],
    kdf: KdfParams,
    /// `keynum || ed25519_sk || chk`, possibly encrypted.
    keynum_sk: Zeroizing<[u8; KEYNUM_SK_BYTES]>,
}

impl RawSecretKey {
    fn parse(text: &str) -> Result<RawSecretKey> {
        const WHAT: &str = "secret key";
        let lines = split_lines(text, WHAT, 2)?;
        let [comment, b64] = lines.as_slice() else {
            return Err(malformed(
                WHAT,
                "expected two lines: an untrusted comment and the base64 key",
            ));
        };
        let comment = untrusted_comment(comment, WHAT)?;
        let signify_sized = b64.len() == SIGNIFY_SECRET_KEY_BYTES.div_ceil(3) * 4;
        if is_signify_comment(comment)
            || (signify_sized
                && decode_fixed::<SIGNIFY_SECRET_KEY_BYTES>(b64, WHAT)
                    .is_ok_and(|b| b[..2] == SIGALG && b[2..4] == KDFALG_SIGNIFY_BCRYPT))
        {
            return Err(Error::SignifyNotSupported("secret key"));
        }
        let bytes = decode_fixed::<SECRET_KEY_BYTES>(b64, WHAT)?;
        if bytes[..2] != SIGALG {
            return Err(malformed(
                WHAT,
                "unknown signature algorithm (expected \"Ed\")",
            ));
        }
        let mut kdf_alg = [0u8; 2];
        kdf_alg.copy_from_slice(&bytes[2..4]);
        if kdf_alg != KDFALG_SCRYPT && kdf_alg != KDFALG_NONE {
            return Err(malformed(
                WHAT,
                "unknown key derivation function (expected \"Sc\" or none)",
            ));
        }
        if bytes[4..6] != CHKALG {
            return Err(malformed(
                WHAT,
                "unknown checksum algorithm (expected \"B2\")",
            ));
        }
        let mut salt = [0u8; SALT_BYTES];
        salt.copy_from_slice(&bytes[6..38]);
        let u64_at = |at: usize| {
            let mut le = [0u8; 8];
            le.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(le)
        };
        let kdf = KdfParams {
            opslimit: u64_at(38),
            memlimit: u64_at(46),
        };
        let mut keynum_sk = Zeroizing::new([0u8; KEYNUM_SK_BYTES]);
        keynum_sk.copy_from_slice(&bytes[54..]);
        Ok(RawSecretKey {
            kdf_alg,
            salt,
            kdf,
            keynum_sk,
        })
    }
}

/// BLAKE2b-256(`"Ed" || keynum || ed25519_sk`): the checksum inside a secret key.
fn secret_key_checksum(keynum: &[u8], sk: &[u8]) -> [u8; 32] {
    let mut h = Blake2b::<U32>::new();
    h.update(SIGALG);
    h.update(keynum);
    h.update(sk);
    h.finalize().into()
}

fn xor_in_place(data: &mut [u8], stream: &[u8]) {
    for (d, s) in data.iter_mut().zip(stream) {
        *d ^= s;
    }
}

/// A Minisign secret key; its bytes are wiped from memory when it is dropped.
pub struct SecretKey {
    keynum: [u8; 8],
    signing_key: SigningKey,
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        // `SigningKey` wipes itself on drop; wipe the key number too.
        self.keynum.zeroize();
    }
}

impl ZeroizeOnDrop for SecretKey {}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("key_id", &key_id_hex(&self.keynum))
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    /// A new random key pair with a random key number.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> SecretKey {
        let mut keynum = [0u8; 8];
        rng.fill_bytes(&mut keynum);
        SecretKey {
            keynum,
            signing_key: SigningKey::generate(rng),
        }
    }

    /// The 8-byte key number.
    pub fn keynum(&self) -> [u8; 8] {
        self.keynum
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            keynum: self.keynum,
            key: self.signing_key.verifying_key().to_bytes(),
        }
    }

    /// A raw Ed25519 signature over `msg`.
    pub fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        self.signing_key.sign(msg).to_bytes()
    }

    /// Whether `text` is a well-formed secret key file that needs a password.
    pub fn is_encrypted(text: &str) -> bool {
        RawSecretKey::parse(text).is_ok_and(|raw| raw.kdf_alg == KDFALG_SCRYPT)
    }

    /// Parses a secret key file, decrypting it with `password` if it is encrypted.
    ///
    /// An unencrypted key ignores `password`. An empty password is a password
    /// (`rsign generate -W` encrypts with one).
    pub fn parse(text: &str, password: Option<&[u8]>) -> Result<SecretKey> {
        const WHAT: &str = "secret key";
        let mut raw = RawSecretKey::parse(text)?;
        let encrypted = raw.kdf_alg == KDFALG_SCRYPT;
        if encrypted {
            let password = password.ok_or(Error::PasswordRequired)?;
            let stream = raw.kdf.stream(password, &raw.salt)?;
            xor_in_place(raw.keynum_sk.as_mut_slice(), stream.as_slice());
        }
        let (keynum, rest) = raw.keynum_sk.split_at(8);
        let (sk, chk) = rest.split_at(64);
        let expected = Zeroizing::new(secret_key_checksum(keynum, sk));
        // minisign (0.11, 0.12) computes the checksum only when it encrypts:
        // its `-G -W` keys carry 32 zero bytes instead.
        let unset = !encrypted && chk.iter().all(|&b| b == 0);
        if expected.as_slice() != chk && !unset {
            return Err(if encrypted {
                Error::WrongPassword
            } else {
                malformed(WHAT, "its checksum does not match: the file is damaged")
            });
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&sk[..32]);
        let signing_key = SigningKey::from_bytes(&seed);
        if signing_key.verifying_key().as_bytes()[..] != sk[32..] {
            return Err(malformed(
                WHAT,
                "its public half does not match its private half",
            ));
        }
        let mut key = SecretKey {
            keynum: [0; 8],
            signing_key,
        };
        key.keynum.copy_from_slice(keynum);
        Ok(key)
    }

    /// The secret key file, encrypted with minisign's default cost if `password` is given.
    pub fn to_file_string(
        &self,
        password: Option<&[u8]>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> String {
        self.file_string(password, KdfParams::SENSITIVE, rng)
            .unwrap_or_else(|_| unreachable!("KdfParams::SENSITIVE is within the accepted limits"))
    }

    /// The secret key file, encrypted with `params` if `password` is given.
    ///
    /// Fails only if `params` are invalid or costlier than [`SecretKey::parse`] accepts.
    pub fn to_file_string_with(
        &self,
        password: Option<&[u8]>,
        params: KdfParams,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<String> {
        self.file_string(password, params, rng)
    }

    fn file_string(
        &self,
        password: Option<&[u8]>,
        params: KdfParams,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<String> {
        let mut bytes = Zeroizing::new([0u8; SECRET_KEY_BYTES]);
        bytes[..2].copy_from_slice(&SIGALG);
        bytes[4..6].copy_from_slice(&CHKALG);
        let body = &mut bytes[54..];
        body[..8].copy_from_slice(&self.keynum);
        body[8..40].copy_from_slice(self.signing_key.as_bytes());
        body[40..72].copy_from_slice(self.signing_key.verifying_key().as_bytes());
        let chk = secret_key_checksum(&body[..8], &body[8..72]);
        body[72..].copy_from_slice(&chk);
        let comment = match password {
            None => "minisign unencrypted secret key",
            Some(password) => {
                let mut salt = [0u8; SALT_BYTES];
                rng.fill_bytes(&mut salt);
                let stream = params.stream(password, &salt)?;
                xor_in_place(&mut bytes[54..], stream.as_slice());
                bytes[2..4].copy_from_slice(&KDFALG_SCRYPT);
                bytes[6..38].copy_from_slice(&salt);
                bytes[38..46].copy_from_slice(&params.opslimit.to_le_bytes());
                bytes[46..54].copy_from_slice(&params.memlimit.to_le_bytes());
                "minisign encrypted secret key"
            }
        };
        let b64 = Zeroizing::new(B64.encode(bytes.as_slice()));
        Ok(format!(
            "{UNTRUSTED_COMMENT_PREFIX}{comment}\n{}\n",
            b64.as_str()
        ))
    }

    /// Signs a BLAKE2b-512 digest ([`prehash`]) as an `ED` signature with a trusted comment.
    ///
    /// The file format is line-based: line breaks in either comment become
    /// spaces and comments are cut to what minisign can read. Use
    /// [`SecretKey::try_sign_prehashed`] to have such comments refused instead.
    pub fn sign_prehashed(
        &self,
        digest: &[u8; 64],
        trusted_comment: &str,
        untrusted_comment: &str,
    ) -> SignatureBox {
        let trusted = one_line(trusted_comment, MAX_TRUSTED_COMMENT_LEN);
        let untrusted = one_line(untrusted_comment, MAX_UNTRUSTED_COMMENT_LEN);
        self.sign_unchecked(digest, trusted, untrusted)
    }

    /// Like [`SecretKey::sign_prehashed`], but refuses comments minisign could not read back.
    pub fn try_sign_prehashed(
        &self,
        digest: &[u8; 64],
        trusted_comment: &str,
        untrusted_comment: &str,
    ) -> Result<SignatureBox> {
        check_comment(
            trusted_comment,
            MAX_TRUSTED_COMMENT_LEN,
            "the trusted comment must be one line",
            "the trusted comment is longer than minisign accepts (8173 bytes)",
        )?;
        check_comment(
            untrusted_comment,
            MAX_UNTRUSTED_COMMENT_LEN,
            "the untrusted comment must be one line",
            "the untrusted comment is longer than minisign can read (1003 bytes)",
        )?;
        Ok(self.sign_unchecked(
            digest,
            trusted_comment.to_owned(),
            untrusted_comment.to_owned(),
        ))
    }

    fn sign_unchecked(
        &self,
        digest: &[u8; 64],
        trusted_comment: String,
        untrusted_comment: String,
    ) -> SignatureBox {
        let signature = self.sign_raw(digest);
        let mut global_msg = Vec::with_capacity(64 + trusted_comment.len());
        global_msg.extend_from_slice(&signature);
        global_msg.extend_from_slice(trusted_comment.as_bytes());
        SignatureBox {
            untrusted_comment,
            algorithm: SignatureAlgorithm::Prehashed,
            keynum: self.keynum,
            signature,
            trusted_comment,
            global_signature: self.sign_raw(&global_msg),
        }
    }
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

/// The algorithm of a Minisign signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// `ED`: Ed25519 over BLAKE2b-512 of the file (minisign 0.11 default).
    Prehashed,
    /// `Ed`: Ed25519 over the whole file (legacy; refused for logging).
    Legacy,
}

impl SignatureAlgorithm {
    /// The two identifier bytes in the signature line.
    pub fn id(self) -> [u8; 2] {
        match self {
            SignatureAlgorithm::Prehashed => SIGALG_PREHASHED,
            SignatureAlgorithm::Legacy => SIGALG,
        }
    }
}

/// A `.minisig` signature file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureBox {
    /// First line after `untrusted comment: ` (not signed).
    pub untrusted_comment: String,
    /// `ED` or `Ed`.
    pub algorithm: SignatureAlgorithm,
    /// Key number of the signing key.
    pub keynum: [u8; 8],
    /// Ed25519 signature over the file (legacy) or its BLAKE2b-512 (pre-hashed).
    pub signature: [u8; 64],
    /// Third line after `trusted comment: ` (signed by the global signature).
    pub trusted_comment: String,
    /// Ed25519 signature over `signature || trusted_comment`.
    pub global_signature: [u8; 64],
}

impl SignatureBox {
    /// Parses a `.minisig` file.
    pub fn parse(text: &str) -> Result<SignatureBox> {
        const WHAT: &str = "signature";
        let lines = split_lines(text, WHAT, 4)?;
        let first = untrusted_comment(lines[0], WHAT)?;
        let Some(sig_line) = lines.get(1) else {
            return Err(malformed(WHAT, "the base64 signature line is missing"));
        };
        let sig = decode_fixed::<SIGNATURE_LINE_BYTES>(sig_line, WHAT);
        let trusted_line = lines
            .get(2)
            .filter(|l| l.starts_with(TRUSTED_COMMENT_PREFIX));
        if trusted_line.is_none() {
            // signify writes just the comment and an "Ed" line (or the message after it).
            let signify_sig = sig.as_ref().is_ok_and(|s| s[..2] == SIGALG);
            if signify_sig || first.starts_with("verify with ") {
                return Err(Error::SignifyNotSupported("signature"));
            }
        }
        let sig = sig?;
        let algorithm = match [sig[0], sig[1]] {
            SIGALG_PREHASHED => SignatureAlgorithm::Prehashed,
            SIGALG => SignatureAlgorithm::Legacy,
            _ => {
                return Err(malformed(
                    WHAT,
                    "unknown signature algorithm (expected \"ED\" or \"Ed\")",
                ))
            }
        };
        let trusted = trusted_line
            .ok_or(malformed(
                WHAT,
                "the third line must start with \"trusted comment: \"",
            ))?
            .strip_prefix(TRUSTED_COMMENT_PREFIX)
            .unwrap_or_default();
        if trusted.len() > MAX_TRUSTED_COMMENT_LEN {
            return Err(malformed(
                WHAT,
                "the trusted comment is longer than minisign accepts (8173 bytes)",
            ));
        }
        let Some(global_line) = lines.get(3) else {
            return Err(malformed(WHAT, "the global signature line is missing"));
        };
        let global = decode_fixed::<64>(global_line, WHAT)?;
        let mut out = SignatureBox {
            untrusted_comment: first.to_owned(),
            algorithm,
            keynum: [0; 8],
            signature: [0; 64],
            trusted_comment: trusted.to_owned(),
            global_signature: *global,
        };
        out.keynum.copy_from_slice(&sig[2..10]);
        out.signature.copy_from_slice(&sig[10..]);
        Ok(out)
    }

    /// The `.minisig` file text, four lines each ending in `\n`.
    pub fn to_file_string(&self) -> String {
        let mut sig_line = [0u8; SIGNATURE_LINE_BYTES];
        sig_line[..2].copy_from_slice(&self.algorithm.id());
        sig_line[2..10].copy_from_slice(&self.keynum);
        sig_line[10..].copy_from_slice(&self.signature);
        format!(
            "{UNTRUSTED_COMMENT_PREFIX}{}\n{}\n{TRUSTED_COMMENT_PREFIX}{}\n{}\n",
            self.untrusted_comment,
            B64.encode(sig_line),
            self.trusted_comment,
            B64.encode(self.global_signature)
        )
    }

    /// The key ID of the signing key, 16 upper-case hex digits.
    pub fn key_id_hex(&self) -> String {
        key_id_hex(&self.keynum)
    }

    /// Verifies an `ED` signature over `digest` ([`prehash`] of the file) and its trusted comment.
    ///
    /// Legacy `Ed` signatures are refused with [`Error::LegacySignature`].
    pub fn verify_prehashed(&self, pk: &PublicKey, digest: &[u8; 64]) -> Result<()> {
        self.prehashed_checks(pk, digest)?
            .iter()
            .try_for_each(SignatureCheck::verify)
    }

    /// The two Ed25519 checks [`verify_prehashed`](Self::verify_prehashed)
    /// makes (the digest signature, then the global signature over the
    /// trusted comment), after the checks that need no curve arithmetic.
    pub fn prehashed_checks(
        &self,
        pk: &PublicKey,
        digest: &[u8; 64],
    ) -> Result<[SignatureCheck; 2]> {
        if self.algorithm == SignatureAlgorithm::Legacy {
            return Err(Error::LegacySignature);
        }
        if self.keynum != pk.keynum {
            return Err(Error::KeyIdMismatch {
                key_id: pk.key_id_hex(),
                sig_key_id: self.key_id_hex(),
            });
        }
        let mut global_msg = Vec::with_capacity(64 + self.trusted_comment.len());
        global_msg.extend_from_slice(&self.signature);
        global_msg.extend_from_slice(self.trusted_comment.as_bytes());
        Ok([
            SignatureCheck {
                key: *pk,
                message: digest.to_vec(),
                signature: self.signature,
                failure: Error::BadSignature("the signature does not match this file and key"),
            },
            SignatureCheck {
                key: *pk,
                message: global_msg,
                signature: self.global_signature,
                failure: Error::BadSignature(
                    "the trusted comment was altered (its global signature does not verify)",
                ),
            },
        ])
    }
}

impl std::str::FromStr for SignatureBox {
    type Err = Error;

    fn from_str(s: &str) -> Result<SignatureBox> {
        SignatureBox::parse(s)
    }
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
