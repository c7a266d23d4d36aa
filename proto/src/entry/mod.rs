//! Log entries: key registrations, key revocations and signatures.
//!
//! Every entry is a strict, canonical, versioned byte string; the Merkle leaf
//! is exactly these bytes (`leaf = SHA-256(0x00 || entry)`). `docs/FORMATS.md`
//! gives the layout byte by byte so that a third party can write a monitor.
//!
//! ```text
//! entry        = version:u8 (=1) || kind:u8 || body
//! kind 1  key registration
//!   str8 publisher || key:40 || possession:64 || auth:u8
//!   auth 0 claim | 1 chain: by:40 || signature:64 | 2 operator
//! kind 2  key revocation
//!   str8 publisher || key:40 || reason:u8 (1 retired, 2 compromised) || auth:u8
//!   auth 1 key: by:40 || signature:64 | 2 operator
//! kind 3  signature
//!   key:40 || prehash:64 || signature:64 || str16 trusted_comment || global_signature:64
//! key          = Minisign key number (8 bytes) || Ed25519 public key (32 bytes)
//! str8 / str16 = u8 / u16 big-endian length || UTF-8 bytes
//! ```
//!
//! Statements signed with raw Ed25519 by the keys involved are text, one
//! field per line, and begin with a line that names their kind, so that a
//! signature made for one kind of statement, one publisher or one log origin
//! can never pass as another:
//!
//! ```text
//! sealwax/v1 key-possession | key-authorization | key-revocation
//! origin <log origin>
//! publisher <publisher>
//! key <Minisign public key, base64 line>
//! [reason retired|compromised]          (revocations only)
//! ```

use std::fmt;

use crate::merkle::leaf_hash;
use crate::minisign::{PublicKey, SignatureCheck};
use crate::{Error, Hash, Result};

mod codec;
mod names;
mod statement;

pub use names::{validate_origin, validate_package, validate_publisher, validate_version};
pub use statement::{authorization_statement, possession_statement, revocation_statement};

/// The largest entry a tile bundle can carry (its length prefix is 2 bytes).
pub const MAX_ENTRY_SIZE: usize = 65535;

/// The entry format version this crate reads and writes.
pub const ENTRY_VERSION: u8 = 1;

const KIND_REGISTRATION: u8 = 1;
const KIND_REVOCATION: u8 = 2;
const KIND_SIGNATURE: u8 = 3;

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A key joins a publisher.
    KeyRegistration(KeyRegistration),
    /// A key leaves a publisher.
    KeyRevocation(KeyRevocation),
    /// A release signed by a publisher's key.
    Signature(SignatureEntry),
}

/// A key registration: the new key, its proof of possession, and who allowed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRegistration {
    /// The publisher name the key is registered under.
    pub publisher: String,
    /// The new key.
    pub key: PublicKey,
    /// Ed25519 signature by the new key over its [`possession_statement`].
    pub possession: [u8; 64],
    /// What authorised the registration.
    pub authorization: Authorization,
}

/// What authorised a key registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// The publisher's first key: it claims the name.
    Claim,
    /// Chain of trust: an active key of the publisher signed the
    /// [`authorization_statement`] for the new key.
    Chain {
        /// The authorising key.
        by: PublicKey,
        /// Its Ed25519 signature over the authorization statement.
        signature: [u8; 64],
    },
    /// The log operator's admin credential (recovery).
    Operator,
}

impl Authorization {
    /// Its name in JSON and messages: "claim", "chain" or "operator".
    pub fn kind(&self) -> &'static str {
        match self {
            Authorization::Claim => "claim",
            Authorization::Chain { .. } => "chain",
            Authorization::Operator => "operator",
        }
    }
}

/// Why a key was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    /// Taken out of use; signatures logged before the revocation stay valid.
    Retired,
    /// Leaked; none of its signatures are trusted any more.
    Compromised,
}

impl RevocationReason {
    /// `"retired"` or `"compromised"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationReason::Retired => "retired",
            RevocationReason::Compromised => "compromised",
        }
    }

    fn code(self) -> u8 {
        match self {
            RevocationReason::Retired => 1,
            RevocationReason::Compromised => 2,
        }
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRevocation {
    /// The publisher the key belongs to.
    pub publisher: String,
    /// The revoked key.
    pub key: PublicKey,
    /// Retired or compromised.
    pub reason: RevocationReason,
    /// Who revoked it.
    pub authorization: RevocationAuthorization,
}

/// Who authorised a revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationAuthorization {
    /// The revoked key itself or another active key of the publisher, signing
    /// the [`revocation_statement`].
    Key {
        /// The signing key.
        by: PublicKey,
        /// Its Ed25519 signature.
        signature: [u8; 64],
    },
    /// The log operator's admin credential.
    Operator,
}

impl RevocationAuthorization {
    /// Its name in JSON and messages: "key" or "operator".
    pub fn kind(&self) -> &'static str {
        match self {
            RevocationAuthorization::Key { .. } => "key",
            RevocationAuthorization::Operator => "operator",
        }
    }
}

/// A logged release signature: exactly the parts of a pre-hashed Minisign
/// signature, plus the public key and the BLAKE2b-512 digest it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureEntry {
    /// The signing key.
    pub key: PublicKey,
    /// BLAKE2b-512 of the artifact (what an `ED` Minisign signature signs).
    pub prehash: [u8; 64],
    /// Ed25519 signature over `prehash`.
    pub signature: [u8; 64],
    /// The trusted comment: a canonical [`Release`] line.
    pub trusted_comment: String,
    /// Ed25519 signature over `signature || trusted_comment`.
    pub global_signature: [u8; 64],
}

/// What a signature says was released: the trusted comment, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The log origin the signature is meant for.
    pub origin: String,
    /// The publisher.
    pub publisher: String,
    /// The package name.
    pub package: String,
    /// The version.
    pub version: String,
    /// SHA-256 of the artifact.
    pub sha256: [u8; 32],
}

const COMMENT_PREFIX: &str = "sealwax/v1";

impl Release {
    /// The canonical trusted comment:
    /// `sealwax/v1 origin=<o> publisher=<p> package=<n> version=<v> sha256=<hex>`.
    pub fn trusted_comment(&self) -> String {
        format!(
            "{COMMENT_PREFIX} origin={} publisher={} package={} version={} sha256={}",
            self.origin,
            self.publisher,
            self.package,
            self.version,
            hex::encode(self.sha256)
        )
    }

    /// Parse a trusted comment; only the exact canonical form is accepted.
    pub fn parse_trusted_comment(comment: &str) -> Result<Release> {
        let mut parts = comment.split(' ');
        if parts.next() != Some(COMMENT_PREFIX) {
            return Err(Error::BadTrustedComment(
                "it does not start with `sealwax/v1`: sign with `sealwax publish`",
            ));
        }
        let mut field = |name: &'static str| -> Result<&str> {
            let part = parts
                .next()
                .ok_or(Error::BadTrustedComment("a field is missing"))?;
            part.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
                .ok_or(Error::BadTrustedComment(
                    "fields are out of order or misnamed",
                ))
        };
        let origin = field("origin")?.to_string();
        let publisher = field("publisher")?.to_string();
        let package = field("package")?.to_string();
        let version = field("version")?.to_string();
        let sha_hex = field("sha256")?;
        if parts.next().is_some() {
            return Err(Error::BadTrustedComment("it has trailing fields"));
        }
        let mut sha256 = [0u8; 32];
        if sha_hex.len() != 64
            || sha_hex.bytes().any(|b| b.is_ascii_uppercase())
            || hex::decode_to_slice(sha_hex, &mut sha256).is_err()
        {
            return Err(Error::BadTrustedComment(
                "sha256 must be 64 lowercase hex digits",
            ));
        }
        validate_origin(&origin)?;
        validate_publisher(&publisher)?;
        validate_package(&package)?;
        validate_version(&version)?;
        Ok(Release {
            origin,
            publisher,
            package,
            version,
            sha256,
        })
    }
}

impl Entry {
    /// The Merkle leaf hash of this entry.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.to_bytes())
    }

    /// The publisher this entry is about.
    pub fn publisher(&self) -> String {
        match self {
            Entry::KeyRegistration(r) => r.publisher.clone(),
            Entry::KeyRevocation(r) => r.publisher.clone(),
            Entry::Signature(s) => s.release().map(|r| r.publisher).unwrap_or_default(),
        }
    }

    /// Its kind's name, as the HTTP API, JSON and messages use it:
    /// `"registration"`, `"revocation"` or `"signature"`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Entry::KeyRegistration(_) => "registration",
            Entry::KeyRevocation(_) => "revocation",
            Entry::Signature(_) => "signature",
        }
    }

    /// Whether the log may accept this entry only with the operator's credential.
    pub fn needs_operator(&self) -> bool {
        matches!(
            self,
            Entry::KeyRegistration(KeyRegistration {
                authorization: Authorization::Operator,
                ..
            }) | Entry::KeyRevocation(KeyRevocation {
                authorization: RevocationAuthorization::Operator,
                ..
            })
        )
    }

    /// Verify every signature the entry carries, for a log with this origin.
    /// This needs no state; [`PublisherKeys::check`] applies the state rules.
    pub fn verify_signatures(&self, origin: &str) -> Result<()> {
        self.signature_checks(origin)?
            .iter()
            .try_for_each(SignatureCheck::verify)
    }

    /// The Ed25519 signatures the entry carries, for a log with this origin,
    /// each with the error to report if it is bad, after the checks that
    /// need no curve arithmetic (trusted comment, origin, algorithm, key ID).
    /// [`verify_signatures`](Self::verify_signatures) checks them one by
    /// one, strictly. There is deliberately no batch check: a batch can
    /// accept what the strict check refuses (`docs/THREAT-MODEL.md`).
    pub fn signature_checks(&self, origin: &str) -> Result<Vec<SignatureCheck>> {
        match self {
            Entry::KeyRegistration(r) => {
                let mut checks = vec![SignatureCheck {
                    key: r.key,
                    message: possession_statement(origin, &r.publisher, &r.key),
                    signature: r.possession,
                    failure: Error::BadSignature(
                        "the proof of possession was not made by the new key for this publisher and log",
                    ),
                }];
                if let Authorization::Chain { by, signature } = &r.authorization {
                    checks.push(SignatureCheck {
                        key: *by,
                        message: authorization_statement(origin, &r.publisher, &r.key),
                        signature: *signature,
                        failure: Error::BadSignature(
                            "the chain-of-trust signature does not cover this key, publisher and log",
                        ),
                    });
                }
                Ok(checks)
            }
            Entry::KeyRevocation(r) => match &r.authorization {
                RevocationAuthorization::Key { by, signature } => Ok(vec![SignatureCheck {
                    key: *by,
                    message: revocation_statement(origin, &r.publisher, &r.key, r.reason),
                    signature: *signature,
                    failure: Error::BadSignature(
                        "the revocation signature does not cover this key, reason, publisher and log",
                    ),
                }]),
                RevocationAuthorization::Operator => Ok(Vec::new()),
            },
            Entry::Signature(s) => {
                let release = s.release()?;
                if release.origin != origin {
                    return Err(Error::SignatureForOtherLog {
                        expected: origin.to_string(),
                        found: release.origin,
                    });
                }
                let [mut digest, global] =
                    s.to_signature_box().prehashed_checks(&s.key, &s.prehash)?;
                digest.failure = Error::BadSignature(
                    "the signature does not match this artifact digest and key; if it was made by a \
                     legacy (non pre-hashed, `Ed`) signer such as `minisign -S -l`, re-sign with \
                     `sealwax publish`",
                );
                Ok(vec![digest, global])
            }
        }
    }
}
