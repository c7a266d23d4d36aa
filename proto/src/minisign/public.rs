//! Minisign public keys (`.pub`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use blake2::Digest;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::Sha256;

use super::{
    decode_fixed, is_signify_comment, key_id_hex, malformed, split_lines, untrusted_comment,
    PUBLIC_KEY_BYTES, SIGALG, UNTRUSTED_COMMENT_PREFIX,
};
use crate::{Error, Hash, Result};

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
