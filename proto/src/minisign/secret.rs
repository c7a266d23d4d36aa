//! Minisign secret keys (`.key`), plain or scrypt-encrypted.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use ed25519_dalek::{Signer, SigningKey};
use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{
    check_comment, decode_fixed, is_signify_comment, key_id_hex, malformed, one_line, split_lines,
    untrusted_comment, PublicKey, SignatureAlgorithm, SignatureBox, CHKALG, KDFALG_NONE,
    KDFALG_SCRYPT, KDFALG_SIGNIFY_BCRYPT, KEYNUM_SK_BYTES, MAX_SCRYPT_LOG_N, MAX_SCRYPT_P,
    MAX_TRUSTED_COMMENT_LEN, MAX_UNTRUSTED_COMMENT_LEN, SALT_BYTES, SECRET_KEY_BYTES, SIGALG,
    SIGNIFY_SECRET_KEY_BYTES, UNTRUSTED_COMMENT_PREFIX,
};
use crate::{Error, Result};

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
    pub(super) fn scrypt_params(&self) -> Result<scrypt::Params> {
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
