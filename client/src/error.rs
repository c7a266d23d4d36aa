//! The client's one error type, and the exit code each error maps to.
//!
//! Every message says what happened and what to do next. The exit codes are
//! part of the CLI contract (scripts depend on them):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | refused: a signature, proof, key or artifact did not verify, a key is not trusted or was revoked, the log refused an entry, or the user said no |
//! | 2 | usage or local problem: bad flags, nothing configured, an unreadable file, a wrong password |
//! | 3 | the log is unreachable or misbehaving: network error, server error, an answer that does not verify, a fork or a rollback |
//! | 4 | not found: no such file, no `.minisig` or `.tlog-proof` beside it, no such release in the log, a 404 from a URL |

use std::path::{Path, PathBuf};

use thiserror::Error;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: verification failed or something was refused.
pub const EXIT_REFUSED: i32 = 1;
/// Exit code: usage, configuration or local file problem.
pub const EXIT_USAGE: i32 = 2;
/// Exit code: the log could not be reached or misbehaved.
pub const EXIT_LOG: i32 = 3;
/// Exit code: what was asked for does not exist (a file, a release, a URL).
pub const EXIT_NOT_FOUND: i32 = 4;

/// Shorthand for results whose error is [`ClientError`].
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Everything that can go wrong in the `sealwax` client.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    // ----- usage and configuration (exit 2) -----
    /// No log URL was given or configured.
    #[error("no log is configured: pass --log URL (or set SEALWAX_LOG), or save one with `sealwax init --log URL`")]
    NoLogUrl,
    /// No log verifier key was given or configured.
    #[error("no log key is configured: pass --log-key VKEY (the line `sealwax-log key` prints; or set SEALWAX_LOG_KEY), or save it with `sealwax init --log URL --log-key VKEY`")]
    NoLogKey,
    /// The log verifier key does not parse.
    #[error("the log key {value:?} is not a verifier key: {cause}")]
    BadLogKey {
        /// The value given.
        value: String,
        /// Why it does not parse.
        cause: sealwax_proto::Error,
    },
    /// The log URL does not parse.
    #[error("the log URL {0:?} is not an http:// or https:// URL")]
    BadLogUrl(String),
    /// A witness policy file that does not parse.
    #[error("the witness policy {path} is not valid: {cause}; fix the line it names (the syntax is in docs/WITNESS.md)")]
    BadPolicy {
        /// The file.
        path: PathBuf,
        /// Why (it names the line).
        cause: sealwax_proto::Error,
    },
    /// A witness policy that does not list the log's key.
    #[error("the witness policy {path} lists no log with the key {key}: add a `log` line with that key, or check --log-key")]
    PolicyWithoutLog {
        /// The file.
        path: PathBuf,
        /// The log's verifier key.
        key: String,
    },
    /// No home directory could be found.
    #[error("cannot find a home directory for sealwax: pass --home DIR or set SEALWAX_HOME")]
    NoHome,
    /// A state or config file that does not parse.
    #[error("{path} is damaged: {reason}; fix or delete it (sealwax rewrites it)")]
    BadStateFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A local file could not be read or written.
    #[error("cannot {action} {path}: {cause}")]
    Io {
        /// "read", "write", "create", ...
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        cause: std::io::Error,
    },
    /// A key or signature file that does not parse.
    #[error("{path} is not a usable Minisign {what}: {cause}")]
    BadKeyFile {
        /// The file (or the argument as given).
        path: PathBuf,
        /// "public key", "secret key", "signature".
        what: &'static str,
        /// Why.
        cause: sealwax_proto::Error,
    },
    /// A public and a secret key that are not a pair.
    #[error("the secret key {secret} does not belong to the public key {public}: pass the matching pair")]
    KeyPairMismatch {
        /// Secret key file.
        secret: PathBuf,
        /// Public key file.
        public: PathBuf,
    },
    /// An encrypted key and no way to ask for its password.
    #[error("the secret key {0} is encrypted and there is no terminal to ask for its password: pass --password-file F or set SEALWAX_PASSWORD_FILE")]
    PasswordUnavailable(PathBuf),
    /// The password did not decrypt the key.
    #[error("wrong password for {0}: try again (or check the file --password-file / SEALWAX_PASSWORD_FILE names)")]
    WrongPassword(PathBuf),
    /// The two passwords typed for a new key differ.
    #[error("the two passwords differ: run the command again")]
    PasswordMismatch,
    /// A new key without a password and without -W.
    #[error(
        "an empty password is not allowed: type a password, or pass -W for an unencrypted key"
    )]
    EmptyPassword,
    /// No key of the publisher to sign or authorise with.
    #[error("this home has no active key of publisher {publisher:?} for this log: run `sealwax keys generate --publisher {publisher}`, register one with `sealwax keys register`, or pass --key FILE")]
    NoSigningKey {
        /// The publisher.
        publisher: String,
    },
    /// A key file already exists where a new one would go.
    #[error("{0} already exists: choose another directory, or move the old key away first")]
    KeyFileExists(PathBuf),
    /// A name (publisher, package, version) that is not allowed.
    #[error("{0}")]
    InvalidName(sealwax_proto::Error),
    /// An install target that is neither P/NAME[@V], a URL nor a file.
    #[error("cannot install {0:?}: give PUBLISHER/PACKAGE[@VERSION], an http(s):// URL, or the path of a file")]
    BadTarget(String),
    /// A file named on the command line that does not exist.
    #[error("no such file: {path} (the {what} to {action}): check the path")]
    NoSuchFile {
        /// The path as given.
        path: PathBuf,
        /// "artifact", "public key", ...
        what: &'static str,
        /// "publish", "verify", ...
        action: &'static str,
    },
    /// A signature or proof file that is missing.
    #[error("{what} {path} is missing: {hint}")]
    MissingFile {
        /// "signature", "proof".
        what: &'static str,
        /// The expected path.
        path: PathBuf,
        /// What to do.
        hint: &'static str,
    },
    /// The user must say which publisher a key belongs to.
    #[error("cannot tell which publisher key {key_id} belongs to: pass --publisher P")]
    PublisherUnknownForKey {
        /// Key ID of the key.
        key_id: String,
    },
    /// A key ID that names several keys this home knows.
    #[error("key ID {key_id} names more than one key this home knows: {keys}. Pass the public key itself (its base64 line or .pub file)")]
    KeyIdAmbiguous {
        /// The key ID given.
        key_id: String,
        /// The keys it names, with their publishers.
        keys: String,
    },
    /// A key ID that names no key this home knows.
    #[error("no key with ID {key_id} is known to this home for this log (`sealwax keys list` shows its own and trusted keys): pass the public key itself (its base64 line or .pub file)")]
    KeyIdUnknown {
        /// The key ID given.
        key_id: String,
    },
    /// `keys vouch` for a key whose secret this home does not hold.
    #[error("this home does not hold the secret of key {key_id}: pass it with --secret FILE (a re-vouching is signed by the key itself, to prove possession, and by its voucher)")]
    NoSecretForKey {
        /// Key ID (hex).
        key_id: String,
    },

    /// `keys vouch` for a key that is not suspended.
    #[error("key {key_id} of publisher {publisher:?} is {standing}, not suspended: only a key suspended by a compromised voucher can be vouched for again{hint}")]
    NotSuspended {
        /// Key ID (hex).
        key_id: String,
        /// Publisher.
        publisher: String,
        /// Its standing in the log (`active`, `retired`, `compromised`, `unregistered`).
        standing: &'static str,
        /// What to do instead.
        hint: &'static str,
    },

    /// A `.minisig` or `.tlog-proof` of another release where publish would write.
    #[error("{path} belongs to {found}, not to this release: refusing to overwrite it. Move it away, or pass --force to replace it")]
    CompanionTaken {
        /// The file.
        path: PathBuf,
        /// Whose it is, as far as it tells.
        found: String,
    },

    /// A terminal interaction (a password prompt, a question) failed.
    #[error("cannot talk to the terminal: {0}")]
    Terminal(std::io::Error),
    /// A file could not be written durably (see `sealwax_durable`).
    #[error(transparent)]
    Durable(#[from] sealwax_durable::DurableError),

    // ----- refused / verification failed (exit 1) -----
    /// The artifact's SHA-256 is not the one the signature names.
    #[error("{path} does not match its signature: its SHA-256 is {actual}, the signature is for {expected}. The file was changed or damaged: do not use it")]
    DigestMismatch {
        /// The artifact.
        path: PathBuf,
        /// SHA-256 in the trusted comment.
        expected: String,
        /// SHA-256 of the file.
        actual: String,
    },
    /// The Minisign signature does not verify.
    #[error("the signature of {path} does not verify: {cause}. The file or its .minisig was changed: do not use it")]
    BadSignature {
        /// The artifact.
        path: PathBuf,
        /// Why.
        cause: sealwax_proto::Error,
    },
    /// The signature is not a sealwax signature (or not pre-hashed).
    #[error("{path} is not a sealwax signature: {cause}")]
    NotSealwaxSignature {
        /// The .minisig file.
        path: PathBuf,
        /// Why.
        cause: sealwax_proto::Error,
    },
    /// A signature made for another log.
    #[error("the signature was made for log {found:?}, but this client trusts log {expected:?}: pass the right --log / --log-key")]
    WrongLog {
        /// Origin of the configured log.
        expected: String,
        /// Origin named in the signature.
        found: String,
    },
    /// The proof does not show the entry in the log.
    #[error("the transparency proof {path} is not valid: {reason}. The artifact was not shown to be logged: do not use it")]
    BadProof {
        /// The .tlog-proof file (or the log URL).
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A key that is not in the trust store.
    #[error("key {key_id} of publisher {publisher:?} is not trusted by this client: install a package of {publisher:?} with `sealwax install` to be asked about it, or trust it by hand with `sealwax keys import KEY --publisher {publisher}`")]
    UntrustedKey {
        /// The publisher.
        publisher: String,
        /// Key ID.
        key_id: String,
    },
    /// A new key and no terminal to ask on.
    #[error("new key {key_id} of publisher {publisher:?} is not trusted yet and there is no terminal to ask on: rerun with --trust-new-keys to trust it, or import it first with `sealwax keys import {key_b64} --publisher {publisher}`")]
    NewKeyNoTerminal {
        /// The publisher.
        publisher: String,
        /// Key ID.
        key_id: String,
        /// Minisign base64 line.
        key_b64: String,
    },
    /// The user declined to trust a key.
    #[error("key {key_id} of publisher {publisher:?} was not trusted: nothing was installed")]
    TrustDeclined {
        /// The publisher.
        publisher: String,
        /// Key ID.
        key_id: String,
    },
    /// A key revoked as compromised.
    #[error("key {key_id} of publisher {publisher:?} was revoked as compromised at log index {index}: nothing it signed is trusted. Ask the publisher for a release signed with a new key")]
    KeyCompromised {
        /// The publisher.
        publisher: String,
        /// Key ID.
        key_id: String,
        /// Index of the revocation.
        index: u64,
    },
    /// A key whose chain of trust passes through a compromised key.
    #[error("key {key_id} of publisher {publisher:?} is suspended: its chain of trust passes through key {compromised}, which was revoked as compromised at log index {index}, so none of its signatures is trusted. Ask the publisher to have the key vouched for again (`sealwax keys vouch`) or to re-sign the release with a key in good standing")]
    KeySuspended {
        /// The publisher.
        publisher: String,
        /// Key ID.
        key_id: String,
        /// Key hash (hex) of the compromised key.
        compromised: String,
        /// Index of that compromise.
        index: u64,
    },
    /// `--trust-new-keys` was given for a key it may not trust.
    #[error("key {key_id} of publisher {publisher:?} is not trusted, and --trust-new-keys does not trust it: {reason}. To trust it on purpose, check it with {publisher:?} and run `sealwax keys import {key_b64} --publisher {publisher}`, or install on a terminal to be asked")]
    NotFirstUse {
        /// The publisher.
        publisher: String,
        /// Key ID.
        key_id: String,
        /// Minisign base64 line.
        key_b64: String,
        /// Why the flag does not apply.
        reason: String,
    },
    /// A key retired before the signature was logged.
    #[error("key {key_id} of publisher {publisher:?} was retired at log index {index}, before this signature was logged (index {signed_at}): ask the publisher for a release signed with their current key")]
    KeyRetired {
        /// The publisher.
        publisher: String,
        /// Key ID.
        key_id: String,
        /// Index of the revocation.
        index: u64,
        /// Index of the signature.
        signed_at: u64,
    },
    /// A key that the publisher's logged history does not contain.
    #[error("key {key_id} is not a registered key of publisher {publisher:?} in the log (at the time of the signature): refusing")]
    KeyNotInHistory {
        /// The publisher.
        publisher: String,
        /// Key ID.
        key_id: String,
    },
    /// An artifact without a logged signature from a publisher who signs.
    #[error("{what} is not signed and logged, but publisher {publisher:?} has signing keys in the log: refusing an unsigned or unlogged artifact (no downgrade)")]
    Downgrade {
        /// The artifact.
        what: String,
        /// The publisher.
        publisher: String,
    },
    /// An artifact with no signature at all.
    #[error("{0} has no signature: no .minisig beside it and no signature for its SHA-256 in the log. sealwax installs only signed and logged artifacts")]
    Unsigned(String),
    /// No logged release matches what was asked for.
    #[error("the log has no signed release {0}: check the name and version (`sealwax install PUBLISHER/PACKAGE` takes the newest)")]
    NoSuchRelease(String),
    /// A signature whose trusted comment names another release than the one asked for.
    #[error("the signature is for {found}, not for {wanted}: refusing")]
    ReleaseMismatch {
        /// What was asked for.
        wanted: String,
        /// What the signature names.
        found: String,
    },
    /// An artifact over a limit the log announces, refused before anything was logged.
    #[error("{path} is {size} bytes, over the log's {limit}: nothing was logged. Publish it with --no-upload and host it elsewhere, or ask the log's operator to raise {flag}")]
    OverLimit {
        /// The artifact.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The limit, with its numbers.
        limit: String,
        /// The server flag that sets it.
        flag: &'static str,
    },
    /// A version the log already has with another artifact.
    #[error("{release} is already published with another artifact (SHA-256 {sha256}, log index {index}), and a version names one artifact: nothing was logged. Publish it as a new version")]
    VersionTaken {
        /// `publisher/package@version`.
        release: String,
        /// The artifact logged for it.
        sha256: String,
        /// Its log index.
        index: u64,
    },
    /// `init` with a key that does not verify the log's checkpoint.
    #[error("the log at {url} does not sign its checkpoint with the log key {key}: {cause}. Nothing was saved: check --log-key against the key the log's operator published (or check --log)")]
    InitKeyRefused {
        /// The log URL.
        url: String,
        /// The key given, and what the log announces at `/v1/log-key` if that differs.
        key: String,
        /// Why the checkpoint does not open with the key.
        cause: String,
    },
    /// `init` with a log key other than the one already saved.
    #[error("{config} already pins the log key {pinned}, not {new}: nothing was saved. If the log's operator really changed its key, run `sealwax init` again with --force")]
    LogKeyPinned {
        /// The config file.
        config: PathBuf,
        /// The saved key.
        pinned: String,
        /// The key given now.
        new: String,
    },
    /// A `.tlog-proof` whose checkpoint the configured log key did not sign.
    #[error("the .tlog-proof's checkpoint is not signed by the log key you configured ({key}): {cause}. Check --log-key (or `sealwax init`) against the key of the log {path} comes from; the publisher's key was not checked yet")]
    ProofLogKey {
        /// The `.tlog-proof` file.
        path: PathBuf,
        /// The configured log key.
        key: String,
        /// Why its checkpoint does not open.
        cause: String,
    },
    /// The artifact of an interrupted publish changed before it was resumed.
    #[error("{path} changed since the publish of {release} was interrupted (its SHA-256 was {expected}): put the original file back and run `sealwax publish --resume` again, or publish the new file as a new version")]
    PendingFileChanged {
        /// The artifact.
        path: PathBuf,
        /// `publisher/package@version`.
        release: String,
        /// The SHA-256 it had.
        expected: String,
    },
    /// A new key for a publisher whose keys this home cannot chain from.
    #[error("{taken}. {advice}")]
    NoKeyToChain {
        /// The publisher.
        publisher: String,
        /// Why a claim does not do (the name is taken).
        taken: String,
        /// The recovery path, with its commands.
        advice: String,
    },
    /// A signing key the log would refuse: compromised, suspended or retired.
    #[error("key {key_id} of publisher {publisher:?} is {standing} in the log, so the log refuses what it signs: nothing was logged. {advice}")]
    KeyUnusable {
        /// The publisher.
        publisher: String,
        /// Key ID.
        key_id: String,
        /// Its standing, in words.
        standing: String,
        /// The recovery path, with its commands.
        advice: String,
    },
    /// The log refused a submitted entry (4xx).
    #[error("the log refused the {what}: {message}")]
    LogRefused {
        /// What was submitted.
        what: &'static str,
        /// The log's message.
        message: String,
    },

    // ----- log unreachable or misbehaving (exit 3) -----
    /// The mirror's checkpoint does not cover an entry the log named yet.
    #[error("the mirror at {url} is behind the log: its checkpoint (tree size {size}) does not cover entry {index} yet. Retry in a few seconds, or without --tiles")]
    MirrorBehind {
        /// The mirror's URL.
        url: String,
        /// The mirror's tree size.
        size: u64,
        /// The entry.
        index: u64,
    },
    /// The log could not be reached.
    #[error("cannot reach the log at {url}: {reason}. Check the URL (--log) and your network, then retry")]
    LogUnreachable {
        /// The URL.
        url: String,
        /// The transport error and its causes.
        reason: String,
    },
    /// The log answered with an error.
    #[error("the log at {url} answered {status}: {message}")]
    LogHttp {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
    /// The log answered something that does not parse or verify.
    #[error("the log at {url} misbehaved: {reason}. Do not trust its answers; tell its operator")]
    LogMisbehaving {
        /// The URL.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The accepted checkpoint commits to no key directory, so the log's
    /// answers about keys and releases cannot be proven complete.
    #[error("the log at {url} signed its checkpoint at tree size {tree_size} without a key directory: the log is older than this client, or has logged nothing since its upgrade (it signs one with its next entry). Try again once it has, or ask its operator to upgrade it")]
    NoDirectory {
        /// The URL.
        url: String,
        /// The checkpoint's tree size.
        tree_size: u64,
    },
    /// The log's checkpoint is the log's, but not cosigned by a quorum of the policy's witnesses.
    #[error("the checkpoint from {url} (tree size {tree_size}) is not cosigned by a quorum of your policy's witnesses ({cause}). The log may be showing you a history others do not see, or its witnesses are down: nothing was trusted; try again later, and ask the log's operator if it persists")]
    NotCosigned {
        /// The URL.
        url: String,
        /// The checkpoint's tree size.
        tree_size: u64,
        /// Which witnesses verified and which failed.
        cause: sealwax_proto::Error,
    },
    /// A logged entry that no quorate checkpoint covered in time.
    #[error("entry {index} is logged, but no checkpoint cosigned by a quorum of your policy's witnesses covered it within {secs} s (the newest cosigned one has {cosigned_size} entries): the log's witnesses may be down or slow. Nothing is lost: run the same command again later (`sealwax publish --resume` finishes a publish), or raise --cosign-timeout")]
    CosignTimeout {
        /// The entry's index.
        index: u64,
        /// How long it waited.
        secs: u64,
        /// The size of the newest quorate checkpoint seen.
        cosigned_size: u64,
    },
    /// The log's checkpoint is not signed by the trusted key.
    #[error("the log's checkpoint is not signed by the trusted log key ({cause}): is --log-key right for {url}? If it is, the log is not the one you trust")]
    LogKeyMismatch {
        /// The URL.
        url: String,
        /// Why.
        cause: sealwax_proto::Error,
    },
    /// An answer or download was larger than its limit; nothing past the limit was read.
    #[error("{url} sent more than {limit} bytes, so the download was stopped: a log answer that large is misbehaviour; for a genuine artifact over the limit, raise `sealwax install --max-download BYTES`")]
    AnswerTooLarge {
        /// What was fetched.
        url: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A URL to install from answered 404.
    #[error("404 from {url}: there is no file at that URL; check it")]
    UrlNotFound {
        /// The URL.
        url: String,
    },
    /// A URL to install from answered another error status (its body, often
    /// an HTML page, is not shown).
    #[error(
        "{status} from {url}: the server did not send the file; check the URL, or retry later"
    )]
    UrlHttp {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
    },
    /// The signature was logged, then the upload failed.
    #[error("the signature is logged (index {index}) but the upload of the artifact failed: {cause}. Re-run the same `sealwax publish` to upload it (it is not logged twice)")]
    UploadFailed {
        /// Index of the logged signature.
        index: u64,
        /// What went wrong, as well as it is known.
        cause: String,
    },
    /// The log has a signature but not the artifact itself.
    #[error("the log has the signature of {0} but not the artifact (it keeps no artifacts, or it was not uploaded): get the file with its .minisig and .tlog-proof from the publisher and run `sealwax install FILE` or `sealwax install URL`")]
    ArtifactNotStored(String),
    /// The log showed a smaller tree than one seen before.
    #[error("the log at {url} rolled back: it shows a tree of {new_size} entries, but this client already verified a tree of {old_size} entries. Refusing; tell the log's operator (the remembered checkpoint is kept)")]
    Rollback {
        /// The URL.
        url: String,
        /// Remembered size.
        old_size: u64,
        /// Size now shown.
        new_size: u64,
    },
    /// The log's tree is not an extension of the one seen before.
    #[error("the log at {url} forked: its tree of {new_size} entries is not consistent with the tree of {old_size} entries this client verified before ({reason}). Refusing; tell the log's operator (the remembered checkpoint is kept)")]
    Fork {
        /// The URL.
        url: String,
        /// Remembered size.
        old_size: u64,
        /// Size now shown.
        new_size: u64,
        /// Details.
        reason: String,
    },
}

impl ClientError {
    /// The process exit code for this error (see the module docs).
    pub fn exit_code(&self) -> i32 {
        use ClientError::*;
        match self {
            NoLogUrl
            | BadPolicy { .. }
            | PolicyWithoutLog { .. }
            | NoLogKey
            | BadLogKey { .. }
            | BadLogUrl(_)
            | NoHome
            | BadStateFile { .. }
            | Io { .. }
            | BadKeyFile { .. }
            | KeyPairMismatch { .. }
            | PasswordUnavailable(_)
            | WrongPassword(_)
            | PasswordMismatch
            | EmptyPassword
            | NoSigningKey { .. }
            | KeyFileExists(_)
            | InvalidName(_)
            | BadTarget(_)
            | PublisherUnknownForKey { .. }
            | NoSecretForKey { .. }
            | KeyIdAmbiguous { .. }
            | CompanionTaken { .. }
            | Terminal(_)
            | Durable(_) => EXIT_USAGE,
            DigestMismatch { .. }
            | BadSignature { .. }
            | NotSealwaxSignature { .. }
            | WrongLog { .. }
            | BadProof { .. }
            | UntrustedKey { .. }
            | NewKeyNoTerminal { .. }
            | TrustDeclined { .. }
            | KeyCompromised { .. }
            | KeySuspended { .. }
            | NotFirstUse { .. }
            | NotSuspended { .. }
            | KeyRetired { .. }
            | KeyNotInHistory { .. }
            | Downgrade { .. }
            | Unsigned(_)
            | ReleaseMismatch { .. }
            | OverLimit { .. }
            | VersionTaken { .. }
            | InitKeyRefused { .. }
            | LogKeyPinned { .. }
            | ProofLogKey { .. }
            | PendingFileChanged { .. }
            | NoKeyToChain { .. }
            | KeyUnusable { .. }
            | LogRefused { .. } => EXIT_REFUSED,
            LogUnreachable { .. }
            | MirrorBehind { .. }
            | LogHttp { .. }
            | LogMisbehaving { .. }
            | NoDirectory { .. }
            | AnswerTooLarge { .. }
            | LogKeyMismatch { .. }
            | NotCosigned { .. }
            | CosignTimeout { .. }
            | ArtifactNotStored(_)
            | UrlHttp { .. }
            | UploadFailed { .. }
            | Rollback { .. }
            | Fork { .. } => EXIT_LOG,
            NoSuchFile { .. }
            | MissingFile { .. }
            | NoSuchRelease(_)
            | UrlNotFound { .. }
            | KeyIdUnknown { .. } => EXIT_NOT_FOUND,
        }
    }

    /// A stable short name of the error kind, for `--json` output.
    pub fn kind(&self) -> &'static str {
        match self.exit_code() {
            EXIT_REFUSED => "refused",
            EXIT_LOG => "log",
            EXIT_NOT_FOUND => "not-found",
            _ => "usage",
        }
    }

    /// A transport error talking to `url`, with the chain of its causes.
    pub fn unreachable(url: &str, err: reqwest::Error) -> ClientError {
        let mut reason = err.to_string();
        let mut cause = std::error::Error::source(&err);
        while let Some(c) = cause {
            reason.push_str(": ");
            reason.push_str(&c.to_string());
            cause = c.source();
        }
        ClientError::LogUnreachable {
            url: url.to_string(),
            reason,
        }
    }

    /// An error while streaming a download into `path`: the stream's own
    /// [`DownloadTooLarge`](crate::api::DownloadTooLarge) becomes
    /// [`ClientError::AnswerTooLarge`], anything else an I/O error.
    pub fn from_download(path: &Path, source: std::io::Error) -> ClientError {
        match source
            .get_ref()
            .and_then(|e| e.downcast_ref::<crate::api::DownloadTooLarge>())
        {
            Some(t) => ClientError::AnswerTooLarge {
                url: t.url.clone(),
                limit: t.limit,
            },
            None => ClientError::io("download into", path, source),
        }
    }

    /// An I/O error on `path`.
    pub fn io(action: &'static str, path: &Path, cause: std::io::Error) -> ClientError {
        ClientError::Io {
            action,
            path: path.to_path_buf(),
            cause,
        }
    }
}

/// Opens `path`, a file the user named, for reading: a path that does not
/// exist is [`ClientError::NoSuchFile`] (the `what` to `action`), not an I/O
/// error or whatever a later step would make of the missing file.
pub fn open_named(path: &Path, what: &'static str, action: &'static str) -> Result<std::fs::File> {
    std::fs::File::open(path).map_err(|cause| match cause.kind() {
        std::io::ErrorKind::NotFound => ClientError::NoSuchFile {
            path: path.to_path_buf(),
            what,
            action,
        },
        _ => ClientError::io("open", path, cause),
    })
}

#[cfg(test)]
mod tests {
    use std::io;

    use sealwax_proto::Error as ProtoError;

    use super::*;

    /// How often `needle` shows in `e` printed by `sealwax` (`{}`), one-line
    /// through anyhow (`{:#}`) and with anyhow's "Caused by" list (`{:?}`).
    fn printed(e: ClientError, needle: &str) -> [usize; 3] {
        let plain = e.to_string();
        let e = anyhow::Error::new(e).context("sealwax failed");
        [plain, format!("{e:#}"), format!("{e:?}")].map(|s| s.matches(needle).count())
    }

    #[test]
    fn error_chains_print_each_cause_once() {
        let io = |m: &str| io::Error::other(m.to_string());
        let durable = {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("f");
            std::fs::write(&file, "").unwrap();
            crate::atomic::write_atomic(&file.join("x"), b"", 0o644).unwrap_err()
        };
        let durable_cause = match &durable {
            ClientError::Durable(d) => d.cause().to_string(),
            other => panic!("{other}"),
        };
        let cases: Vec<(ClientError, String)> = vec![
            (
                ClientError::io("read", Path::new("/h/trust.toml"), io("the disk is gone")),
                "the disk is gone".into(),
            ),
            (durable, durable_cause),
            (
                ClientError::BadLogKey {
                    value: "x".into(),
                    cause: ProtoError::MalformedVerifierKey("no key ID"),
                },
                "no key ID".into(),
            ),
            (
                ClientError::BadKeyFile {
                    path: "/k.pub".into(),
                    what: "public key",
                    cause: ProtoError::BadBundle("short read"),
                },
                "short read".into(),
            ),
            (
                ClientError::BadSignature {
                    path: "/a.tar".into(),
                    cause: ProtoError::ProofInvalid("the root differs"),
                },
                "the root differs".into(),
            ),
            (
                ClientError::NotSealwaxSignature {
                    path: "/a.tar.minisig".into(),
                    cause: ProtoError::BadTile("odd comment"),
                },
                "odd comment".into(),
            ),
            (
                ClientError::LogKeyMismatch {
                    url: "http://log".into(),
                    cause: ProtoError::MalformedNote("no signature line"),
                },
                "no signature line".into(),
            ),
            (
                ClientError::Terminal(io("the tty hung up")),
                "the tty hung up".into(),
            ),
        ];
        for (e, cause) in cases {
            assert_eq!(printed(e, &cause), [1, 1, 1], "{cause}");
        }
    }
}
