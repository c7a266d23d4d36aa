//! The one error type of `sealwax-proto`.
//!
//! Each module adds its variants in its own section below. Messages are
//! written for the person who will read them: they say what was wrong and,
//! where there is one, what to do next.

use thiserror::Error;

/// Everything that can go wrong while parsing or verifying sealwax data.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    // ----- merkle -----
    /// A proof was asked for or checked with an index outside the tree.
    #[error("index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof was asked for between sizes that do not fit.
    #[error("cannot prove consistency from size {from} to size {to}: the first size must not be larger than the second")]
    BadConsistencyRange {
        /// The older size.
        from: u64,
        /// The newer size.
        to: u64,
    },
    /// An inclusion or consistency proof did not verify.
    #[error("the Merkle proof does not verify: {0}")]
    ProofInvalid(&'static str),
    /// A hash source could not provide a hash the computation needed.
    #[error("hash at level {level}, index {index} is not available")]
    HashUnavailable {
        /// Level in the tree (0 = leaves).
        level: u8,
        /// Index at that level.
        index: u64,
    },
    /// A consistency proof from the empty tree was asked for or checked.
    #[error("no consistency proof exists from tree size 0 to size {to} (RFC 9162 defines them for a first size of at least 1): every tree extends the empty tree, so check the size-{to} checkpoint's signature on its own")]
    ConsistencyFromEmpty {
        /// The newer size.
        to: u64,
    },
    /// A compact range rebuilt from a hash count that does not fit its size.
    #[error("a compact range of tree size {size} has {expected} right-edge hashes (one per set bit of the size), but {found} were given: the stored tree state is damaged or from another size")]
    CompactRangeMismatch {
        /// The tree size.
        size: u64,
        /// The number of hashes that size needs.
        expected: usize,
        /// The number given.
        found: usize,
    },

    // ----- tile -----
    /// A tile or entry-bundle path that is not in the C2SP form.
    #[error("bad tile path {path:?}: {reason}")]
    BadTilePath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An entry bundle that does not parse.
    #[error("bad entry bundle: {0}")]
    BadBundle(&'static str),
    /// Tile data of the wrong length.
    #[error("bad tile: {0}")]
    BadTile(&'static str),

    // ----- note / checkpoint / proof -----
    /// A signed note that does not parse.
    #[error("malformed signed note: {0}")]
    MalformedNote(&'static str),
    /// A verifier key string that does not parse.
    #[error("malformed verifier key: {0} (expected <name>+<8 hex key ID>+<base64 of 0x01 || 32-byte Ed25519 key>)")]
    MalformedVerifierKey(&'static str),
    /// No signature by the expected key verifies on a note.
    #[error(
        "no valid signature by {0} on the note: is this the right log, and the right --log-key?"
    )]
    NoteNotSigned(String),
    /// A checkpoint body that does not parse.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// A checkpoint for another log than the one expected.
    #[error("checkpoint is for origin {found:?}, expected {expected:?}")]
    WrongOrigin {
        /// The origin that was expected.
        expected: String,
        /// The origin the checkpoint names.
        found: String,
    },
    /// A tlog-proof bundle that does not parse.
    #[error("malformed tlog-proof: {0}")]
    MalformedProof(&'static str),
    /// A key name that is empty or contains white space or `+`.
    #[error("invalid key name {0:?}: a key name must be non-empty and contain no spaces or '+' (use a schema-less URL such as example.com/log)")]
    InvalidKeyName(String),
    /// A verifier key of another signature type than the one needed here.
    #[error("verifier key has signature type 0x{found:02x}, but {what} keys have type 0x{expected:02x}: check that this is the right kind of key")]
    WrongKeyType {
        /// The type byte needed (0x01 note signer, 0x04 cosigner).
        expected: u8,
        /// The type byte the key has.
        found: u8,
        /// What kind of key was needed.
        what: &'static str,
    },
    /// A signature by a known key (same name and key ID) that does not verify.
    #[error("the note's signature by {name} (key ID {key_id}) does not verify: the note was altered or not signed by that key; do not trust it")]
    NoteSignatureInvalid {
        /// The key name on the signature line.
        name: String,
        /// The key ID (8 hex digits).
        key_id: String,
    },

    /// A private key string (`PRIVATE+KEY+...`) that does not parse.
    #[error("malformed private key: {0} (expected PRIVATE+KEY+<name>+<8 hex key ID>+<base64 of type || 32-byte Ed25519 seed>)")]
    MalformedPrivateKey(&'static str),

    // ----- policy -----
    /// A policy file line that does not parse or does not fit the lines before it.
    #[error("policy line {line}: {reason}")]
    PolicySyntax {
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// A malformed `POST /add-checkpoint` body (C2SP tlog-witness).
    #[error("malformed add-checkpoint request: {0}")]
    MalformedAddCheckpoint(String),
    /// A policy file without a `quorum` line.
    #[error("the policy has no quorum line: add `quorum none` (no cosignatures needed) or `quorum NAME` (a witness or group defined above it)")]
    PolicyNoQuorum,
    /// A checkpoint that no log of the policy signed.
    #[error("the checkpoint of {0:?} is not signed by any log of the policy: is this the right log, and the right policy file?")]
    PolicyNoLog(String),
    /// A checkpoint whose valid cosignatures do not meet the policy's quorum.
    #[error("the checkpoint's cosignatures do not meet the policy's quorum: verified {verified:?}, failed to verify {failed:?}; ask the log for a checkpoint its witnesses cosigned, or check the policy's witness keys")]
    PolicyQuorumNotMet {
        /// The witnesses whose cosignature verified.
        verified: Vec<String>,
        /// The witnesses with a cosignature line that did not verify.
        failed: Vec<String>,
    },

    // ----- minisign -----
    /// A Minisign key or signature file that does not parse.
    #[error("malformed Minisign {what}: {reason}")]
    MalformedMinisign {
        /// Which file kind: "public key", "secret key", "signature".
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Signify (OpenBSD) input where Minisign was expected.
    #[error("this is a signify {0}, not a Minisign one: sealwax only accepts Minisign (Ed25519) keys and signatures; make a Minisign key with `sealwax keys generate` or `minisign -G`")]
    SignifyNotSupported(&'static str),
    /// A legacy (non pre-hashed) Minisign signature.
    #[error("this is a legacy Minisign signature (algorithm `Ed`, not pre-hashed); sealwax only logs pre-hashed `ED` signatures: re-sign with `sealwax publish`, or with `minisign -S` (0.11 pre-hashes by default; do not pass -l)")]
    LegacySignature,
    /// The password did not decrypt a secret key.
    #[error("wrong password for the secret key (its checksum does not match after decryption)")]
    WrongPassword,
    /// An encrypted secret key was used without a password.
    #[error("the secret key is encrypted: a password is needed")]
    PasswordRequired,
    /// A signature made by another key than the one given.
    #[error("the signature was made by key {sig_key_id}, not by key {key_id}")]
    KeyIdMismatch {
        /// Minisign key ID of the key given (16 hex digits).
        key_id: String,
        /// Minisign key ID named in the signature.
        sig_key_id: String,
    },
    /// An Ed25519 signature that does not verify.
    #[error("signature does not verify: {0}")]
    BadSignature(&'static str),

    // ----- entry -----
    /// An entry that is not in the canonical encoding.
    #[error("malformed entry: {0}")]
    MalformedEntry(&'static str),
    /// An entry larger than a tile bundle can carry.
    #[error("entry is {0} bytes; the most an entry may be is 65535")]
    EntryTooLarge(usize),
    /// A publisher, package or version name that is not allowed.
    #[error("invalid {what} {value:?}: {rule}")]
    InvalidName {
        /// "publisher", "package" or "version".
        what: &'static str,
        /// The value given.
        value: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// A trusted comment that is not the canonical sealwax one.
    #[error("trusted comment is not a sealwax statement: {0}")]
    BadTrustedComment(&'static str),
    /// A release signature whose trusted comment names another log.
    #[error("the signature was made for log {found:?}, not for this log {expected:?}: re-sign the release for this log with `sealwax publish`")]
    SignatureForOtherLog {
        /// This log's origin.
        expected: String,
        /// The origin in the trusted comment.
        found: String,
    },
    /// An entry that breaks a rule of the log given the publisher's key history.
    #[error(transparent)]
    Rejected(#[from] Rejection),

    // ----- keys -----
    /// A key-state record that is not canonical, or that no history could produce.
    #[error("malformed key-state record: {0}")]
    MalformedKeyRecord(&'static str),

    // ----- directory -----
    /// A key-directory proof that does not parse or verify, or a directory store missing a node.
    #[error(transparent)]
    Directory(#[from] DirectoryError),

    // ----- wire -----
    /// A JSON body of the HTTP API that does not decode into its type.
    #[error("{}{cause}", crate::wire::at_path(path))]
    BadJson {
        /// Where in the body: `events[2].inclusion_proof[0]`, or `.` for the whole body.
        path: String,
        /// What was wrong there (serde's message).
        cause: String,
    },
}

impl Error {
    /// Whether this is a checkpoint refused for its witnesses, not its log
    /// signature: the policy's quorum is not met, or no policy log signed
    /// it ([`crate::policy::open_accepted`]).
    pub fn is_not_cosigned(&self) -> bool {
        matches!(
            self,
            Error::PolicyQuorumNotMet { .. } | Error::PolicyNoLog(_)
        )
    }
}

/// Why a well-formed entry is refused, given the current key state.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The publisher name already has keys and the new key is not authorised.
    #[error("publisher {0:?} is already claimed: a new key must be authorised by one of its active keys (`sealwax keys rotate`) or by the log operator")]
    NameTaken(String),
    /// A chain-of-trust or revocation authoriser that is not an active key of the publisher.
    #[error("key {key} is not an active key of publisher {publisher:?}")]
    AuthoriserNotActive {
        /// The publisher.
        publisher: String,
        /// Key hash (hex) of the authoriser.
        key: String,
    },
    /// A key already registered (or revoked) cannot be registered again.
    #[error("key {key} is already registered to publisher {publisher:?}{}", if *.revoked { " and was revoked: generate a new key" } else { "" })]
    KeyAlreadyRegistered {
        /// Its publisher.
        publisher: String,
        /// Key hash (hex).
        key: String,
        /// Whether it was revoked since.
        revoked: bool,
    },
    /// A signature or revocation by a key the log does not know.
    #[error("key {key} is not registered for publisher {publisher:?}: register it first with `sealwax keys register` or `sealwax keys generate`")]
    UnknownKey {
        /// The publisher.
        publisher: String,
        /// Key hash (hex).
        key: String,
    },
    /// A signature by a revoked key, or a revocation of a revoked key.
    #[error("key {key} of publisher {publisher:?} was revoked ({reason}) at index {index}; sign with an active key")]
    KeyRevoked {
        /// The publisher.
        publisher: String,
        /// Key hash (hex).
        key: String,
        /// "retired" or "compromised".
        reason: &'static str,
        /// The index of the revocation.
        index: u64,
    },
    /// A signature or vouching by a key whose chain passes through a compromised key.
    #[error("key {key} of publisher {publisher:?} is suspended: its chain of trust passes through key {compromised}, revoked as compromised at index {at}. A key in good standing of {publisher:?} (or the log operator) must vouch for it again (`sealwax keys vouch`) before it may sign")]
    KeySuspended {
        /// The publisher.
        publisher: String,
        /// Key hash (hex) of the suspended key.
        key: String,
        /// Key hash (hex) of the compromised key on its chain.
        compromised: String,
        /// Index of that compromise.
        at: u64,
    },
    /// A publisher at its key limit.
    #[error("publisher {publisher:?} already has {max} keys, the most a publisher may register")]
    TooManyKeys {
        /// The publisher.
        publisher: String,
        /// The limit.
        max: usize,
    },
    /// A key at its re-vouching limit.
    #[error("key {key} of publisher {publisher:?} was already vouched for again {max} times, the most allowed: register a new key instead")]
    TooManyVouchings {
        /// The publisher.
        publisher: String,
        /// Key hash (hex).
        key: String,
        /// The limit.
        max: usize,
    },
    /// A second artifact for a release name already bound to another.
    #[error("{release} is already published, with SHA-256 {sha256} (index {index}); a version names one artifact for ever: publish the new bytes under a new version")]
    ReleaseConflict {
        /// `publisher/package@version`.
        release: String,
        /// Index of its first signature.
        index: u64,
        /// SHA-256 (hex) it is bound to.
        sha256: String,
    },
    /// A publisher with no keys at all, where one was needed.
    #[error("publisher {0:?} has no keys in this log")]
    UnknownPublisher(String),
    /// The operator path was needed or used where not allowed.
    #[error("{0}")]
    OperatorOnly(&'static str),
}

/// What is wrong with a key-directory proof or store ([`crate::directory`]).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DirectoryError {
    /// A proof's bytes or text are not the canonical encoding of a directory proof.
    #[error("malformed key-directory proof: {0}; the log sent a proof no sealwax log writes, do not trust its answer")]
    MalformedProof(&'static str),
    /// A well-formed proof that does not lead to the checkpoint's directory root.
    #[error("the key-directory proof does not verify: {0}; the log's answer does not match the directory root its checkpoint commits to, so it is misbehaving: do not trust it")]
    ProofInvalid(&'static str),
    /// A node the tree says exists is not in the store.
    #[error("the key directory's node at depth {depth} is missing from the store: the stored directory is damaged; rebuild it from the log's entries")]
    NodeMissing {
        /// Depth of the node (0 = the root).
        depth: u16,
    },
}
