//! Minisign signatures (`.minisig`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use super::{
    decode_fixed, key_id_hex, malformed, split_lines, untrusted_comment, PublicKey, SignatureCheck,
    MAX_TRUSTED_COMMENT_LEN, SIGALG, SIGALG_PREHASHED, SIGNATURE_LINE_BYTES,
    TRUSTED_COMMENT_PREFIX, UNTRUSTED_COMMENT_PREFIX,
};
use crate::{Error, Result};

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
