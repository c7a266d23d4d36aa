//! The statements keys sign with raw Ed25519 (possession, authorization,
//! revocation), and the builders that make signed entries.

use super::*;
use crate::minisign::{PublicKey, SecretKey, SignatureAlgorithm, SignatureBox};

fn statement(kind: &str, origin: &str, publisher: &str, key: &PublicKey) -> String {
    format!(
        "sealwax/v1 {kind}\norigin {origin}\npublisher {publisher}\nkey {}\n",
        key.to_base64()
    )
}

/// What a new key signs to prove it is held by the registrant.
pub fn possession_statement(origin: &str, publisher: &str, key: &PublicKey) -> Vec<u8> {
    statement("key-possession", origin, publisher, key).into_bytes()
}

/// What an active key signs to bring a new key into its publisher (chain of trust).
pub fn authorization_statement(origin: &str, publisher: &str, new_key: &PublicKey) -> Vec<u8> {
    statement("key-authorization", origin, publisher, new_key).into_bytes()
}

/// What a key signs to revoke a key (itself or another of its publisher).
pub fn revocation_statement(
    origin: &str,
    publisher: &str,
    key: &PublicKey,
    reason: RevocationReason,
) -> Vec<u8> {
    let mut s = statement("key-revocation", origin, publisher, key);
    s.push_str("reason ");
    s.push_str(reason.as_str());
    s.push('\n');
    s.into_bytes()
}

// ----- builders -----

impl KeyRegistration {
    /// The first key of a publisher, claiming the name.
    pub fn claim(origin: &str, publisher: &str, new_key: &SecretKey) -> Result<Self> {
        Self::build(origin, publisher, new_key, |_| Ok(Authorization::Claim))
    }

    /// A new key authorised by an active key of the publisher.
    pub fn chain(
        origin: &str,
        publisher: &str,
        new_key: &SecretKey,
        authoriser: &SecretKey,
    ) -> Result<Self> {
        Self::build(origin, publisher, new_key, |pk| {
            Ok(Authorization::Chain {
                by: authoriser.public_key(),
                signature: authoriser.sign_raw(&authorization_statement(origin, publisher, pk)),
            })
        })
    }

    /// A new key registered through the operator path.
    pub fn operator(origin: &str, publisher: &str, new_key: &SecretKey) -> Result<Self> {
        Self::build(origin, publisher, new_key, |_| Ok(Authorization::Operator))
    }

    fn build(
        origin: &str,
        publisher: &str,
        new_key: &SecretKey,
        auth: impl FnOnce(&PublicKey) -> Result<Authorization>,
    ) -> Result<Self> {
        validate_origin(origin)?;
        validate_publisher(publisher)?;
        let key = new_key.public_key();
        let possession = new_key.sign_raw(&possession_statement(origin, publisher, &key));
        let authorization = auth(&key)?;
        Ok(KeyRegistration {
            publisher: publisher.to_string(),
            key,
            possession,
            authorization,
        })
    }
}

impl KeyRevocation {
    /// A revocation signed by `authoriser` (the revoked key or another active key).
    pub fn by_key(
        origin: &str,
        publisher: &str,
        key: PublicKey,
        reason: RevocationReason,
        authoriser: &SecretKey,
    ) -> Result<Self> {
        validate_origin(origin)?;
        validate_publisher(publisher)?;
        let signature = authoriser.sign_raw(&revocation_statement(origin, publisher, &key, reason));
        Ok(KeyRevocation {
            publisher: publisher.to_string(),
            key,
            reason,
            authorization: RevocationAuthorization::Key {
                by: authoriser.public_key(),
                signature,
            },
        })
    }

    /// A revocation through the operator path.
    pub fn by_operator(publisher: &str, key: PublicKey, reason: RevocationReason) -> Result<Self> {
        validate_publisher(publisher)?;
        Ok(KeyRevocation {
            publisher: publisher.to_string(),
            key,
            reason,
            authorization: RevocationAuthorization::Operator,
        })
    }
}

impl SignatureEntry {
    /// Sign a release pre-hashed (`prehash` = BLAKE2b-512 of the artifact).
    pub fn sign(key: &SecretKey, release: &Release, prehash: [u8; 64]) -> Result<Self> {
        validate_origin(&release.origin)?;
        validate_publisher(&release.publisher)?;
        validate_package(&release.package)?;
        validate_version(&release.version)?;
        let comment = release.trusted_comment();
        let sig = key.sign_prehashed(&prehash, &comment, "signature from sealwax");
        Self::from_signature_box(&sig, key.public_key(), prehash)
    }

    /// Rebuild the entry from a `.minisig`, the signer's key and the artifact's BLAKE2b-512.
    pub fn from_signature_box(
        sig: &SignatureBox,
        key: PublicKey,
        prehash: [u8; 64],
    ) -> Result<Self> {
        if sig.algorithm != SignatureAlgorithm::Prehashed {
            return Err(Error::LegacySignature);
        }
        if sig.keynum != key.keynum {
            return Err(Error::KeyIdMismatch {
                key_id: key.key_id_hex(),
                sig_key_id: PublicKey {
                    keynum: sig.keynum,
                    key: [0; 32],
                }
                .key_id_hex(),
            });
        }
        Ok(SignatureEntry {
            key,
            prehash,
            signature: sig.signature,
            trusted_comment: sig.trusted_comment.clone(),
            global_signature: sig.global_signature,
        })
    }

    /// The `.minisig` this entry was made from (stock Minisign format).
    pub fn to_signature_box(&self) -> SignatureBox {
        SignatureBox {
            untrusted_comment: "signature from sealwax".to_string(),
            algorithm: SignatureAlgorithm::Prehashed,
            keynum: self.key.keynum,
            signature: self.signature,
            trusted_comment: self.trusted_comment.clone(),
            global_signature: self.global_signature,
        }
    }

    /// The release named by the trusted comment.
    pub fn release(&self) -> Result<Release> {
        Release::parse_trusted_comment(&self.trusted_comment)
    }
}
