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

use crate::error::Rejection;
use crate::merkle::leaf_hash;
use crate::minisign::{PublicKey, SecretKey, SignatureAlgorithm, SignatureBox, SignatureCheck};
use crate::{Error, Hash, Result};

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

// ----- names -----

fn check_name(
    what: &'static str,
    value: &str,
    rule: &'static str,
    extra: &[u8],
    max: usize,
) -> Result<()> {
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= max
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what,
            value: value.to_string(),
            rule,
        })
    }
}

/// Check a publisher name: 1–64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn validate_publisher(name: &str) -> Result<()> {
    check_name(
        "publisher",
        name,
        "use 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        b"._-",
        64,
    )
}

/// Check a package name: same rule as publishers, up to 128 characters.
pub fn validate_package(name: &str) -> Result<()> {
    check_name(
        "package",
        name,
        "use 1-128 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        b"._-",
        128,
    )
}

/// Check a version: 1–64 of `a-z 0-9 . _ - +`, starting with a letter or digit.
pub fn validate_version(version: &str) -> Result<()> {
    check_name(
        "version",
        version,
        "use 1-64 lowercase letters, digits, '.', '_', '-' or '+', starting with a letter or digit",
        b"._-+",
        64,
    )
}

/// Check a log origin: 1–255 printable ASCII characters without spaces.
pub fn validate_origin(origin: &str) -> Result<()> {
    let ok = !origin.is_empty()
        && origin.len() <= 255
        && origin.bytes().all(|c| c.is_ascii_graphic() && c != b'=');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what: "origin",
            value: origin.to_string(),
            rule: "use 1-255 printable ASCII characters, no spaces or '='",
        })
    }
}

// ----- statements -----

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

// ----- encoding -----

fn put_str8(out: &mut Vec<u8>, s: &str) {
    debug_assert!(s.len() <= 255);
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn put_key(out: &mut Vec<u8>, k: &PublicKey) {
    out.extend_from_slice(&k.keynum);
    out.extend_from_slice(&k.key);
}

impl Entry {
    /// The canonical bytes of this entry (what the log stores and hashes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![ENTRY_VERSION];
        match self {
            Entry::KeyRegistration(r) => {
                out.push(KIND_REGISTRATION);
                put_str8(&mut out, &r.publisher);
                put_key(&mut out, &r.key);
                out.extend_from_slice(&r.possession);
                match &r.authorization {
                    Authorization::Claim => out.push(0),
                    Authorization::Chain { by, signature } => {
                        out.push(1);
                        put_key(&mut out, by);
                        out.extend_from_slice(signature);
                    }
                    Authorization::Operator => out.push(2),
                }
            }
            Entry::KeyRevocation(r) => {
                out.push(KIND_REVOCATION);
                put_str8(&mut out, &r.publisher);
                put_key(&mut out, &r.key);
                out.push(r.reason.code());
                match &r.authorization {
                    RevocationAuthorization::Key { by, signature } => {
                        out.push(1);
                        put_key(&mut out, by);
                        out.extend_from_slice(signature);
                    }
                    RevocationAuthorization::Operator => out.push(2),
                }
            }
            Entry::Signature(s) => {
                out.push(KIND_SIGNATURE);
                put_key(&mut out, &s.key);
                out.extend_from_slice(&s.prehash);
                out.extend_from_slice(&s.signature);
                let c = s.trusted_comment.as_bytes();
                out.extend_from_slice(&(c.len() as u16).to_be_bytes());
                out.extend_from_slice(c);
                out.extend_from_slice(&s.global_signature);
            }
        }
        out
    }

    /// Parse canonical entry bytes; every other byte string is refused.
    pub fn parse(bytes: &[u8]) -> Result<Entry> {
        if bytes.len() > MAX_ENTRY_SIZE {
            return Err(Error::EntryTooLarge(bytes.len()));
        }
        let mut r = Reader { buf: bytes };
        let version = r.u8()?;
        if version != ENTRY_VERSION {
            return Err(Error::MalformedEntry(
                "unknown entry version (this sealwax reads version 1)",
            ));
        }
        let entry = match r.u8()? {
            KIND_REGISTRATION => {
                let publisher = r.str8()?;
                validate_publisher(&publisher)?;
                let key = r.key()?;
                let possession = r.array::<64>()?;
                let authorization = match r.u8()? {
                    0 => Authorization::Claim,
                    1 => Authorization::Chain {
                        by: r.key()?,
                        signature: r.array::<64>()?,
                    },
                    2 => Authorization::Operator,
                    _ => return Err(Error::MalformedEntry("unknown registration authorization")),
                };
                Entry::KeyRegistration(KeyRegistration {
                    publisher,
                    key,
                    possession,
                    authorization,
                })
            }
            KIND_REVOCATION => {
                let publisher = r.str8()?;
                validate_publisher(&publisher)?;
                let key = r.key()?;
                let reason = match r.u8()? {
                    1 => RevocationReason::Retired,
                    2 => RevocationReason::Compromised,
                    _ => return Err(Error::MalformedEntry("unknown revocation reason")),
                };
                let authorization = match r.u8()? {
                    1 => RevocationAuthorization::Key {
                        by: r.key()?,
                        signature: r.array::<64>()?,
                    },
                    2 => RevocationAuthorization::Operator,
                    _ => return Err(Error::MalformedEntry("unknown revocation authorization")),
                };
                Entry::KeyRevocation(KeyRevocation {
                    publisher,
                    key,
                    reason,
                    authorization,
                })
            }
            KIND_SIGNATURE => {
                let key = r.key()?;
                let prehash = r.array::<64>()?;
                let signature = r.array::<64>()?;
                let len = u16::from_be_bytes(r.array::<2>()?) as usize;
                let comment = std::str::from_utf8(r.take(len)?)
                    .map_err(|_| Error::MalformedEntry("trusted comment is not UTF-8"))?
                    .to_string();
                let global_signature = r.array::<64>()?;
                let s = SignatureEntry {
                    key,
                    prehash,
                    signature,
                    trusted_comment: comment,
                    global_signature,
                };
                s.release()?;
                Entry::Signature(s)
            }
            _ => return Err(Error::MalformedEntry("unknown entry kind")),
        };
        if !r.buf.is_empty() {
            return Err(Error::MalformedEntry("trailing bytes after the entry"));
        }
        Ok(entry)
    }

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

    /// `"key-registration"`, `"key-revocation"` or `"signature"`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Entry::KeyRegistration(_) => "key-registration",
            Entry::KeyRevocation(_) => "key-revocation",
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
    /// one; a log may check many entries' at once with [`verify_batch`](crate::minisign::verify_batch).
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

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(Error::MalformedEntry("entry is truncated"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn str8(&mut self) -> Result<String> {
        let n = self.u8()? as usize;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| Error::MalformedEntry("name is not UTF-8"))
    }
    fn key(&mut self) -> Result<PublicKey> {
        Ok(PublicKey {
            keynum: self.array::<8>()?,
            key: self.array::<32>()?,
        })
    }
}

// ----- key state -----

/// How a key came to be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizedBy {
    /// It claimed a new publisher name.
    Claim,
    /// An active key (this key hash) authorised it.
    Chain(Hash),
    /// The log operator registered it.
    Operator,
}

impl AuthorizedBy {
    /// Its name in JSON and messages: "claim", "chain" or "operator".
    pub fn kind(&self) -> &'static str {
        match self {
            AuthorizedBy::Claim => "claim",
            AuthorizedBy::Chain(_) => "chain",
            AuthorizedBy::Operator => "operator",
        }
    }
}

/// A logged revocation of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationRecord {
    /// Index of the revocation entry.
    pub index: u64,
    /// Retired or compromised.
    pub reason: RevocationReason,
    /// The key hash that signed it, or `None` for the operator.
    pub by: Option<Hash>,
}

/// One key of a publisher, as its logged history defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The public key.
    pub key: PublicKey,
    /// Its identity: SHA-256 of the whole Minisign public key.
    pub key_hash: Hash,
    /// Index of its registration entry.
    pub registered_at: u64,
    /// What authorised it.
    pub authorization: AuthorizedBy,
    /// Its revocation, if any.
    pub revoked: Option<RevocationRecord>,
}

impl KeyRecord {
    /// Whether the key is registered and not revoked.
    pub fn is_active(&self) -> bool {
        self.revoked.is_none()
    }
}

/// Whether a signature by a key, logged at some index, is to be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// The key is active.
    Active,
    /// The key was retired at this index, after the signature was logged: still valid.
    RetiredAfter(u64),
    /// The key was retired at this index, before the signature: not valid.
    Retired(u64),
    /// The key was revoked as compromised at this index: nothing it signed is valid.
    Compromised(u64),
    /// The key was registered after the signature, or never: not valid.
    Unknown,
}

impl KeyStatus {
    /// Whether a signature with this status is to be trusted.
    pub fn is_valid(self) -> bool {
        matches!(self, KeyStatus::Active | KeyStatus::RetiredAfter(_))
    }
}

/// A publisher's key history, folded into its current state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublisherKeys {
    /// The publisher.
    pub publisher: String,
    /// Every key ever registered, in log order.
    pub keys: Vec<KeyRecord>,
}

impl PublisherKeys {
    /// An empty history for `publisher`.
    pub fn new(publisher: &str) -> Self {
        PublisherKeys {
            publisher: publisher.to_string(),
            keys: Vec::new(),
        }
    }

    /// The record of a key, by key hash.
    pub fn key(&self, key_hash: &Hash) -> Option<&KeyRecord> {
        self.keys.iter().find(|k| &k.key_hash == key_hash)
    }

    /// The keys not revoked.
    pub fn active_keys(&self) -> impl Iterator<Item = &KeyRecord> {
        self.keys.iter().filter(|k| k.is_active())
    }

    fn require_active(&self, key: &PublicKey) -> Result<&KeyRecord> {
        let h = key.key_hash();
        let rec = self.key(&h).ok_or_else(|| Rejection::UnknownKey {
            publisher: self.publisher.clone(),
            key: hex::encode(h),
        })?;
        if let Some(rev) = rec.revoked {
            return Err(Rejection::KeyRevoked {
                publisher: self.publisher.clone(),
                key: hex::encode(h),
                reason: rev.reason.as_str(),
                index: rev.index,
            }
            .into());
        }
        Ok(rec)
    }

    /// Check an entry against the rules given this state. Signatures are
    /// assumed verified ([`Entry::verify_signatures`]); whether an operator
    /// entry carried the operator's credential is the caller's to check.
    pub fn check(&self, entry: &Entry) -> Result<()> {
        if entry.publisher() != self.publisher {
            return Err(Error::MalformedEntry(
                "entry checked against another publisher's keys",
            ));
        }
        match entry {
            Entry::KeyRegistration(r) => {
                let h = r.key.key_hash();
                if let Some(rec) = self.key(&h) {
                    return Err(Rejection::KeyAlreadyRegistered {
                        publisher: self.publisher.clone(),
                        key: hex::encode(h),
                        revoked: rec.revoked.is_some(),
                    }
                    .into());
                }
                match &r.authorization {
                    Authorization::Claim => {
                        if !self.keys.is_empty() {
                            return Err(Rejection::NameTaken(self.publisher.clone()).into());
                        }
                    }
                    Authorization::Chain { by, .. } => {
                        self.require_active(by)
                            .map_err(|_| Rejection::AuthoriserNotActive {
                                publisher: self.publisher.clone(),
                                key: hex::encode(by.key_hash()),
                            })?;
                    }
                    Authorization::Operator => {}
                }
                Ok(())
            }
            Entry::KeyRevocation(r) => {
                if self.keys.is_empty() {
                    return Err(Rejection::UnknownPublisher(self.publisher.clone()).into());
                }
                // A retired key that later leaks may be revoked again as
                // compromised (escalation); any other revocation needs an
                // active key.
                let escalation = self.key(&r.key.key_hash()).is_some_and(|rec| {
                    matches!(
                        rec.revoked,
                        Some(RevocationRecord {
                            reason: RevocationReason::Retired,
                            ..
                        })
                    ) && r.reason == RevocationReason::Compromised
                });
                if !escalation {
                    self.require_active(&r.key)?;
                }
                if let RevocationAuthorization::Key { by, .. } = &r.authorization {
                    // The key may always report itself; other signers must be active.
                    if by.key_hash() == r.key.key_hash() && escalation {
                        return Ok(());
                    }
                    self.require_active(by)
                        .map_err(|_| Rejection::AuthoriserNotActive {
                            publisher: self.publisher.clone(),
                            key: hex::encode(by.key_hash()),
                        })?;
                }
                Ok(())
            }
            Entry::Signature(s) => {
                if self.keys.is_empty() {
                    return Err(Rejection::UnknownPublisher(self.publisher.clone()).into());
                }
                self.require_active(&s.key)?;
                Ok(())
            }
        }
    }

    /// Check `entry` and, if it passes, record it as logged at `index`.
    pub fn apply(&mut self, entry: &Entry, index: u64) -> Result<()> {
        self.check(entry)?;
        match entry {
            Entry::KeyRegistration(r) => self.keys.push(KeyRecord {
                key: r.key,
                key_hash: r.key.key_hash(),
                registered_at: index,
                authorization: match &r.authorization {
                    Authorization::Claim => AuthorizedBy::Claim,
                    Authorization::Chain { by, .. } => AuthorizedBy::Chain(by.key_hash()),
                    Authorization::Operator => AuthorizedBy::Operator,
                },
                revoked: None,
            }),
            Entry::KeyRevocation(r) => {
                let h = r.key.key_hash();
                let by = match &r.authorization {
                    RevocationAuthorization::Key { by, .. } => Some(by.key_hash()),
                    RevocationAuthorization::Operator => None,
                };
                if let Some(rec) = self.keys.iter_mut().find(|k| k.key_hash == h) {
                    rec.revoked = Some(RevocationRecord {
                        index,
                        reason: r.reason,
                        by,
                    });
                }
            }
            Entry::Signature(_) => {}
        }
        Ok(())
    }

    /// Whether a signature by `key_hash` logged at `index` is to be trusted.
    pub fn status_for_signature(&self, key_hash: &Hash, index: u64) -> KeyStatus {
        let Some(rec) = self.key(key_hash) else {
            return KeyStatus::Unknown;
        };
        if rec.registered_at > index {
            return KeyStatus::Unknown;
        }
        match rec.revoked {
            None => KeyStatus::Active,
            Some(RevocationRecord {
                reason: RevocationReason::Compromised,
                index: at,
                ..
            }) => KeyStatus::Compromised(at),
            Some(RevocationRecord { index: at, .. }) if index < at => KeyStatus::RetiredAfter(at),
            Some(RevocationRecord { index: at, .. }) => KeyStatus::Retired(at),
        }
    }
}
