//! `sealwax publish`: hash once, sign pre-hashed, log, verify the log's
//! answer, write `FILE.minisig` and `FILE.tlog-proof`, upload.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::json;

use sealwax_proto::entry::{
    validate_package, validate_publisher, validate_version, Entry, Release, SignatureEntry,
};
use sealwax_proto::keys::{KeyStanding, PublisherKeys};
use sealwax_proto::minisign::{PublicKey, SecretKey};
use sealwax_proto::proof::TlogProof;

use crate::api::{LogClient, UploadOutcome};
use crate::atomic::{read_optional, write_atomic, MODE_PUBLIC};
use crate::cli::PublishArgs;
use crate::commands::keys::recovery_advice;
use crate::commands::{hash_file, submit_entry, Ctx, Logged};
use crate::digest::Digests;
use crate::error::{open_named, ClientError, Result};
use crate::history::fetch_history;
use crate::home::LogIdentity;
use crate::keyring::load_secret_key;
use crate::pending::{PendingPublish, PendingStore};
use crate::progress::bytes_bar;
use crate::verify::SealwaxSignature;

/// One release to publish: from the command line, or a publish to finish.
#[derive(Debug, Clone)]
pub struct Job {
    /// The artifact to sign.
    pub file: PathBuf,
    /// Publisher name.
    pub publisher: String,
    /// Package name.
    pub package: String,
    /// Package version.
    pub version: String,
    /// `--key`.
    pub key: Option<PathBuf>,
    /// `--no-upload`.
    pub no_upload: bool,
    /// `--force`.
    pub force: bool,
    /// The SHA-256 (hex) the artifact had when an interrupted publish started.
    pub expect_sha256: Option<String>,
}

/// The publish manifest, read from the current directory.
pub const MANIFEST: &str = "sealwax.toml";

/// `sealwax.toml`: what `publish` takes when the command line leaves it out.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Publisher name.
    pub publisher: Option<String>,
    /// Package name.
    pub package: Option<String>,
    /// Release version.
    pub version: Option<String>,
}

impl Manifest {
    /// Reads `dir/sealwax.toml`: `None` if there is none; a malformed one
    /// is an error naming the file, the line and what to do.
    pub fn load(dir: &Path) -> std::result::Result<Option<Manifest>, String> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        toml::from_str(&text).map(Some).map_err(|e| {
            let line = e
                .span()
                .map_or(1, |s| 1 + text[..s.start].matches('\n').count());
            format!(
                "{} line {line}: {}. Fix that line (the manifest holds publisher, package and version, each a string such as version = \"1.0.0\"), or move the file away and pass --publisher, --package and --release-version",
                path.display(),
                e.message().trim_end()
            )
        })
    }
}

/// Splits a RELEASE argument, `[PUBLISHER/]PACKAGE@VERSION`.
fn split_release(arg: &str) -> std::result::Result<(Option<&str>, &str, &str), String> {
    let (publisher, rest) = match arg.split_once('/') {
        Some((p, rest)) => (Some(p), rest),
        None => (None, arg),
    };
    match rest.split_once('@') {
        Some((package, version)) => Ok((publisher, package, version)),
        None => Err(format!(
            "the release {arg:?} is not PACKAGE@VERSION or PUBLISHER/PACKAGE@VERSION: write it as hello@1.0.0, or pass --package and --release-version"
        )),
    }
}

/// The one value of a name given two ways on the command line.
fn one_of(
    a: Option<String>,
    b: Option<String>,
    what: &str,
) -> std::result::Result<Option<String>, String> {
    match (a, b) {
        (Some(a), Some(b)) if a != b => {
            Err(format!("two {what}s given, {a:?} and {b:?}: give it once"))
        }
        (a, b) => Ok(a.or(b)),
    }
}

/// Fills in the publisher, package and release version of `args`: RELEASE
/// and the flags first, then `dir/sealwax.toml`. The old `--version V`
/// stands for `--release-version V` (with a warning). Errors are for the
/// user, to be shown as usage errors.
pub fn settle_names(args: &mut PublishArgs, dir: &Path) -> std::result::Result<(), String> {
    if args.resume {
        return Ok(());
    }
    if let Some(Some(v)) = args.version.take() {
        eprintln!("warning: `publish --version {v}` is the old spelling: write `--release-version {v}` (or RELEASE, `hello@{v}`)");
        args.release_version = one_of(args.release_version.take(), Some(v), "release version")?;
    }
    if let Some(release) = args.release.take() {
        let (publisher, package, version) = split_release(&release)?;
        args.publisher = one_of(
            args.publisher.take(),
            publisher.map(str::to_string),
            "publisher",
        )?;
        args.package = Some(package.to_string());
        args.release_version = Some(version.to_string());
    }
    if args.file.is_none() {
        return Err("the artifact to sign is missing: `sealwax publish FILE [RELEASE]`".into());
    }
    if args.publisher.is_some() && args.package.is_some() && args.release_version.is_some() {
        return Ok(());
    }
    let m = Manifest::load(dir)?.unwrap_or_default();
    let fill = |field: &mut Option<String>, from: Option<String>, flag: &str, key: &str| {
        *field = field.take().or(from);
        field.is_some().then_some(()).ok_or(format!(
            "no {key} given: pass {flag}, or put {key} = \"...\" in {MANIFEST} in the current directory"
        ))
    };
    fill(
        &mut args.publisher,
        m.publisher,
        "--publisher P",
        "publisher",
    )?;
    fill(
        &mut args.package,
        m.package,
        "--package NAME (or RELEASE, hello@1.0.0)",
        "package",
    )?;
    fill(
        &mut args.release_version,
        m.version,
        "--release-version V (or RELEASE, hello@1.0.0)",
        "version",
    )
}

impl Job {
    /// The job of a `sealwax publish FILE --publisher ...` command line
    /// whose names were settled ([`settle_names`]).
    fn from_args(args: PublishArgs) -> Option<Job> {
        Some(Job {
            file: args.file?,
            publisher: args.publisher?,
            package: args.package?,
            version: args.release_version?,
            key: args.key,
            no_upload: args.no_upload,
            force: args.force,
            expect_sha256: None,
        })
    }

    /// The job that finishes the interrupted publish `p`.
    fn resuming(p: PendingPublish, force: bool) -> Job {
        Job {
            file: p.file,
            publisher: p.publisher,
            package: p.package,
            version: p.version,
            key: p.key,
            no_upload: p.no_upload,
            force,
            expect_sha256: Some(p.sha256),
        }
    }

    /// The marker saying this publish was started.
    fn pending(&self, sha256: &[u8; 32]) -> PendingPublish {
        PendingPublish {
            file: std::path::absolute(&self.file).unwrap_or_else(|_| self.file.clone()),
            publisher: self.publisher.clone(),
            package: self.package.clone(),
            version: self.version.clone(),
            sha256: hex::encode(sha256),
            key: self
                .key
                .as_ref()
                .map(|k| std::path::absolute(k).unwrap_or_else(|_| k.clone())),
            no_upload: self.no_upload,
        }
    }
}

/// `path` with `suffix` appended to its file name.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The secret key file to sign with: `--key`, else the publisher's current
/// key in this home. Only found here; it is decrypted after the cheap checks.
fn signing_key_file(ctx: &Ctx, log: &LogIdentity, args: &Job) -> Result<PathBuf> {
    match &args.key {
        Some(k) => {
            open_named(k, "secret key", "sign with")?;
            Ok(k.clone())
        }
        None => ctx
            .own_keys(log)?
            .current(&args.publisher)
            .map(|k| k.secret_file.clone())
            .ok_or_else(|| ClientError::NoSigningKey {
                publisher: args.publisher.clone(),
            }),
    }
}

/// `FILE.minisig` and `FILE.tlog-proof` may be overwritten only by a
/// re-run of the same release (or with `--force`): one of another version,
/// publisher, package, file hash or log is refused.
fn check_companions(args: &Job, log: &LogIdentity, release: &Release) -> Result<()> {
    if args.force {
        return Ok(());
    }
    let sig_path = sibling(&args.file, ".minisig");
    let proof_path = sibling(&args.file, ".tlog-proof");
    let Some(text) = read_optional(&sig_path)? else {
        if proof_path.exists() {
            return Err(ClientError::CompanionTaken {
                path: proof_path,
                found: "an unknown release (there is no .minisig beside it)".into(),
            });
        }
        return Ok(());
    };
    let found = match SealwaxSignature::parse(&text, &sig_path, log) {
        Ok(s) if s.release == *release => return Ok(()),
        Ok(s) => format!("{} (SHA-256 {})", s.name(), hex::encode(s.release.sha256)),
        Err(ClientError::WrongLog { found, .. }) => format!("a release on another log, {found:?}"),
        Err(_) => "no release of sealwax (it is not a sealwax signature)".into(),
    };
    Err(ClientError::CompanionTaken {
        path: sig_path,
        found,
    })
}

/// `publisher/package@version`.
fn release_name(r: &Release) -> String {
    format!("{}/{}@{}", r.publisher, r.package, r.version)
}

/// The checks against the log that cost no key decryption and write
/// nothing: the version is not taken by another artifact, and the file is
/// within every limit the log announces. A re-run of this very release
/// skips the limits: it logs nothing new, and its upload tells the truth.
fn preflight(api: &LogClient, args: &Job, release: &Release, size: u64) -> Result<()> {
    let logged: Vec<_> = api
        .signatures_by_release(&release.publisher, &release.package, Some(&release.version))?
        .into_iter()
        .filter(|r| {
            (&r.publisher, &r.package, &r.version)
                == (&release.publisher, &release.package, &release.version)
        })
        .collect();
    if let Some(other) = logged.iter().find(|r| r.sha256 != release.sha256) {
        return Err(ClientError::VersionTaken {
            release: release_name(release),
            sha256: hex::encode(other.sha256),
            index: other.index,
        });
    }
    if logged.is_empty() && !args.no_upload {
        if let Some(over) = over_limit(api, &args.publisher, &args.file, size)? {
            return Err(over);
        }
    }
    Ok(())
}

/// The limit the log announces that an upload of `size` bytes would go
/// over, if any (`None` too from a log that announces none).
fn over_limit(
    api: &LogClient,
    publisher: &str,
    path: &Path,
    size: u64,
) -> Result<Option<ClientError>> {
    let Some(l) = api.limits(publisher)?.filter(|l| l.artifacts) else {
        return Ok(None);
    };
    let over = |limit: String, flag| {
        Some(ClientError::OverLimit {
            path: path.to_path_buf(),
            size,
            limit,
            flag,
        })
    };
    if let Some(max) = l.max_artifact_bytes.filter(|m| size > *m) {
        return Ok(over(
            format!("artifact size limit of {max} bytes"),
            "--max-artifact-bytes",
        ));
    }
    if let (Some(quota), Some(used)) = (l.publisher_quota_bytes, l.publisher_used_bytes) {
        if used.saturating_add(size) > quota {
            return Ok(over(
                format!("quota of {quota} bytes per publisher, of which {publisher:?} already uses {used}"),
                "--artifact-publisher-quota-bytes",
            ));
        }
    }
    if let (Some(quota), Some(used)) = (l.artifact_quota_bytes, l.artifact_used_bytes) {
        if used.saturating_add(size) > quota {
            return Ok(over(
                format!("artifact store quota of {quota} bytes, of which {used} are used"),
                "--artifact-quota-bytes",
            ));
        }
    }
    Ok(None)
}

/// Writes `FILE.minisig` and `FILE.tlog-proof` for the logged signature;
/// returns their paths.
fn write_companions(
    args: &Job,
    sk: &SecretKey,
    sig: &SignatureEntry,
    logged: &Logged,
) -> Result<(PathBuf, PathBuf)> {
    let mut sigbox = sig.to_signature_box();
    sigbox.untrusted_comment = format!(
        "signature from sealwax key {} for {}@{} by {}",
        sk.public_key().key_id_hex(),
        args.package,
        args.version,
        args.publisher
    );
    let sig_path = sibling(&args.file, ".minisig");
    let proof_path = sibling(&args.file, ".tlog-proof");
    write_atomic(&sig_path, sigbox.to_file_string().as_bytes(), MODE_PUBLIC)?;
    let proof = TlogProof {
        extra: None,
        index: logged.index,
        inclusion: logged.inclusion.clone(),
        checkpoint: logged.checkpoint_text.clone(),
    };
    write_atomic(&proof_path, proof.to_string().as_bytes(), MODE_PUBLIC)?;
    Ok((sig_path, proof_path))
}

/// Uploads the artifact to the log's artifact store, unless `--no-upload`;
/// what became of it, for the JSON output.
fn upload(
    ctx: &Ctx,
    api: &LogClient,
    args: &Job,
    digests: &Digests,
    index: u64,
) -> Result<&'static str> {
    if args.no_upload {
        return Ok("skipped");
    }
    let body = File::open(&args.file).map_err(|e| ClientError::io("open", &args.file, e))?;
    let bar = bytes_bar(ctx.progress(), Some(digests.len), "uploading");
    let reader = bar.wrap_read(body);
    let outcome = api.upload_artifact(&digests.sha256, reader, digests.len);
    bar.finish_and_clear();
    let outcome = outcome.map_err(|e| upload_failed(api, args, digests.len, index, e))?;
    Ok(match outcome {
        UploadOutcome::Stored => {
            ctx.say("Uploaded the artifact to the log's artifact store.");
            "stored"
        }
        UploadOutcome::AlreadyStored => {
            ctx.say("The log's artifact store already has this artifact.");
            "already-stored"
        }
        UploadOutcome::NotKept(status) => {
            ctx.warn(format_args!(
                "the log keeps no artifacts (it answered {status} to the upload): \
                 publish {} yourself, with its .minisig and .tlog-proof beside it",
                args.file.display()
            ));
            "not-kept"
        }
    })
}

/// The error of an upload that failed after the signature was logged at
/// `index`: the log's own answer, or when the connection broke off (a log
/// that refuses early stops reading), the limit the log now announces that
/// the file is over, if any.
fn upload_failed(
    api: &LogClient,
    args: &Job,
    size: u64,
    index: u64,
    e: ClientError,
) -> ClientError {
    let cause = match e {
        ClientError::LogUnreachable { .. } => {
            match over_limit(api, &args.publisher, &args.file, size) {
                Ok(Some(ClientError::OverLimit { limit, flag, .. })) => format!(
                    "the file is {size} bytes, over the log's {limit} (set by its operator's {flag})"
                ),
                _ => e.to_string(),
            }
        }
        ClientError::LogHttp { .. } => e.to_string(),
        other => return other,
    };
    ClientError::UploadFailed { index, cause }
}

/// The publisher's proven key history, if the log has one.
fn key_history(
    ctx: &Ctx,
    api: &LogClient,
    log: &LogIdentity,
    publisher: &str,
) -> Result<Option<PublisherKeys>> {
    let mut tracker = ctx.tracker(log)?;
    let history = fetch_history(api, &mut tracker, log, &ctx.key_states(log), publisher)?;
    tracker.commit()?;
    Ok(history.map(|h| h.keys))
}

/// The signing key file, or, when this home has no usable key of a
/// publisher whose name is taken, the way to get one.
fn usable_key_file(
    ctx: &Ctx,
    log: &LogIdentity,
    args: &Job,
    keys: Option<&PublisherKeys>,
) -> Result<PathBuf> {
    match (signing_key_file(ctx, log, args), keys) {
        (Err(ClientError::NoSigningKey { publisher }), Some(keys)) => Err(ClientError::NoKeyToChain {
            taken: format!("this home has no active key of publisher {publisher:?} for this log, and the name is claimed"),
            publisher,
            advice: recovery_advice(&ctx.own_keys(log)?, keys, None),
        }),
        (other, _) => other,
    }
}

/// Refuses, before anything is logged, a key the publisher's logged
/// history says is compromised or suspended, with the way out (a retired
/// key is left to the log, whose refusal says it was revoked).
fn check_standing(
    ctx: &Ctx,
    log: &LogIdentity,
    keys: Option<&PublisherKeys>,
    pk: &PublicKey,
) -> Result<()> {
    let Some(keys) = keys else {
        return Ok(());
    };
    let Some(rec) = keys.key(&pk.key_hash()) else {
        return Ok(());
    };
    if rec.in_good_standing() {
        return Ok(());
    }
    let standing = match rec.standing() {
        KeyStanding::Compromised(i) => format!("revoked as compromised at index {i}"),
        KeyStanding::Retired(_) => return Ok(()),
        KeyStanding::Suspended(s) => format!(
            "suspended (its chain of trust passes through a key revoked as compromised at index {})",
            s.at
        ),
        KeyStanding::Active => "not in good standing".to_string(),
    };
    Err(ClientError::KeyUnusable {
        publisher: keys.publisher.clone(),
        key_id: pk.key_id_hex(),
        standing,
        advice: recovery_advice(&ctx.own_keys(log)?, keys, Some(pk)),
    })
}

/// Checks that the artifact an interrupted publish started with is the one
/// there now.
fn check_unchanged(args: &Job, digests: &Digests) -> Result<()> {
    match &args.expect_sha256 {
        Some(expected) if *expected != hex::encode(digests.sha256) => {
            Err(ClientError::PendingFileChanged {
                path: args.file.clone(),
                release: format!("{}/{}@{}", args.publisher, args.package, args.version),
                expected: expected.clone(),
            })
        }
        _ => Ok(()),
    }
}

/// Logs the signature, with a pending-publish marker in `pending` from
/// before the submission until the caller removes it; a refusal (nothing
/// was logged) removes it at once.
fn log_signature(
    ctx: &Ctx,
    api: &LogClient,
    log: &LogIdentity,
    pending: (&PendingStore, &PendingPublish),
    sig: &SignatureEntry,
) -> Result<Logged> {
    let (store, marker) = pending;
    store.save(marker)?;
    let mut tracker = ctx.tracker(log)?;
    let entry = Entry::Signature(sig.clone());
    let logged = submit_entry(ctx, api, &mut tracker, "signature", &entry, None);
    if let Err(ClientError::LogRefused { .. }) = &logged {
        store.remove(&marker.name())?;
    }
    logged
}

/// Publishes one artifact: the cheap checks first (the file, the names,
/// the companions it would overwrite, the log: version and limits), then
/// the key is decrypted → sign → log (the answer verified) → write the
/// companions → upload. From just before logging until the upload is done
/// a pending-publish marker says the publish is unfinished.
fn publish_one(ctx: &Ctx, args: &Job) -> Result<serde_json::Value> {
    open_named(&args.file, "artifact", "publish")?;
    validate_publisher(&args.publisher).map_err(ClientError::InvalidName)?;
    validate_package(&args.package).map_err(ClientError::InvalidName)?;
    validate_version(&args.version).map_err(ClientError::InvalidName)?;
    let log = ctx.log()?;
    let api = ctx.api()?;
    let keys = key_history(ctx, &api, &log, &args.publisher)?;
    let key_file = usable_key_file(ctx, &log, args, keys.as_ref())?;
    let digests = hash_file(ctx, &args.file)?;
    check_unchanged(args, &digests)?;
    let release = Release {
        origin: log.origin.clone(),
        publisher: args.publisher.clone(),
        package: args.package.clone(),
        version: args.version.clone(),
        sha256: digests.sha256,
    };
    check_companions(args, &log, &release)?;
    preflight(&api, args, &release, digests.len)?;
    let sk = load_secret_key(&key_file, &ctx.passwords)?;
    check_standing(ctx, &log, keys.as_ref(), &sk.public_key())?;
    let sig = SignatureEntry::sign(&sk, &release, digests.blake2b512)
        .map_err(ClientError::InvalidName)?;
    let store = ctx.pending(&log);
    let marker = args.pending(&digests.sha256);
    let logged = log_signature(ctx, &api, &log, (&store, &marker), &sig)?;
    let (sig_path, proof_path) = write_companions(args, &sk, &sig, &logged)?;
    ctx.say(format_args!(
        "Signed {}@{} (sha256 {}) with key {}; logged at index {} of {}{}",
        args.package,
        args.version,
        hex::encode(digests.sha256),
        sk.public_key().key_id_hex(),
        logged.index,
        log.origin,
        if logged.duplicate {
            " (it was already logged)"
        } else {
            ""
        }
    ));
    ctx.say(format_args!(
        "Wrote {} and {}",
        sig_path.display(),
        proof_path.display()
    ));
    let uploaded = upload(ctx, &api, args, &digests, logged.index)?;
    store.remove(&marker.name())?;
    Ok(json!({
        "publisher": args.publisher,
        "package": args.package,
        "version": args.version,
        "sha256": hex::encode(digests.sha256),
        "size": digests.len,
        "key_id": sk.public_key().key_id_hex(),
        "index": logged.index,
        "tree_size": logged.checkpoint.size,
        "duplicate": logged.duplicate,
        "signature_file": sig_path,
        "proof_file": proof_path,
        "upload": uploaded,
    }))
}

/// Finishes every interrupted publish of this home's log, one after the other.
fn resume(ctx: &Ctx, force: bool) -> Result<serde_json::Value> {
    let log = ctx.log()?;
    let pending = ctx.pending(&log).list()?;
    if pending.is_empty() {
        ctx.say("No interrupted publish to finish.");
    }
    let mut done = Vec::new();
    for p in pending {
        ctx.say(format_args!("Finishing the publish of {}", p.name()));
        done.push(publish_one(ctx, &Job::resuming(p, force))?);
    }
    Ok(json!({ "resumed": done }))
}

/// `sealwax publish FILE ...`, or `sealwax publish --resume`.
pub fn run(ctx: &Ctx, args: PublishArgs) -> Result<serde_json::Value> {
    if args.resume {
        return resume(ctx, args.force);
    }
    let job = Job::from_args(args).expect("main settles FILE and the names before running");
    publish_one(ctx, &job)
}
