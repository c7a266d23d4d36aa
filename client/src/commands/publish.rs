//! `sealwax publish`: hash once, sign pre-hashed, log, verify the log's
//! answer, write `FILE.minisig` and `FILE.tlog-proof`, upload.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde_json::json;

use sealwax_proto::entry::{
    validate_package, validate_publisher, validate_version, Entry, Release, SignatureEntry,
};
use sealwax_proto::minisign::SecretKey;
use sealwax_proto::proof::TlogProof;

use crate::api::{LogClient, UploadOutcome};
use crate::atomic::{write_atomic, MODE_PUBLIC};
use crate::cli::PublishArgs;
use crate::commands::{hash_file, submit_entry, Ctx, Logged};
use crate::digest::Digests;
use crate::error::{open_named, ClientError, Result};
use crate::home::LogIdentity;
use crate::keyring::load_secret_key;
use crate::progress::bytes_bar;

/// `path` with `suffix` appended to its file name.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The secret key to sign with: `--key`, else the publisher's current key in this home.
fn signing_key(ctx: &Ctx, log: &LogIdentity, args: &PublishArgs) -> Result<SecretKey> {
    let key_file = match &args.key {
        Some(k) => k.clone(),
        None => ctx
            .own_keys(log)?
            .current(&args.publisher)
            .map(|k| k.secret_file.clone())
            .ok_or_else(|| ClientError::NoSigningKey {
                publisher: args.publisher.clone(),
            })?,
    };
    load_secret_key(&key_file, &ctx.passwords)
}

/// Writes `FILE.minisig` and `FILE.tlog-proof` for the logged signature;
/// returns their paths.
fn write_companions(
    args: &PublishArgs,
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
    args: &PublishArgs,
    digests: &Digests,
) -> Result<&'static str> {
    if args.no_upload {
        return Ok("skipped");
    }
    let body = File::open(&args.file).map_err(|e| ClientError::io("open", &args.file, e))?;
    let bar = bytes_bar(ctx.progress(), Some(digests.len), "uploading");
    let reader = bar.wrap_read(body);
    let outcome = api.upload_artifact(&digests.sha256, reader, digests.len);
    bar.finish_and_clear();
    Ok(match outcome? {
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

/// Publishes one artifact: hash → sign → log (the answer verified) →
/// write its companions → upload.
pub fn run(ctx: &Ctx, args: PublishArgs) -> Result<serde_json::Value> {
    open_named(&args.file, "artifact", "publish")?;
    validate_publisher(&args.publisher).map_err(ClientError::InvalidName)?;
    validate_package(&args.package).map_err(ClientError::InvalidName)?;
    validate_version(&args.version).map_err(ClientError::InvalidName)?;
    let log = ctx.log()?;
    let api = ctx.api()?;
    let sk = signing_key(ctx, &log, &args)?;
    let digests = hash_file(ctx, &args.file)?;
    let release = Release {
        origin: log.origin.clone(),
        publisher: args.publisher.clone(),
        package: args.package.clone(),
        version: args.version.clone(),
        sha256: digests.sha256,
    };
    let sig = SignatureEntry::sign(&sk, &release, digests.blake2b512)
        .map_err(ClientError::InvalidName)?;
    let mut tracker = ctx.tracker(&log)?;
    let entry = Entry::Signature(sig.clone());
    let logged = submit_entry(&api, &mut tracker, "signature", &entry, None)?;
    let (sig_path, proof_path) = write_companions(&args, &sk, &sig, &logged)?;
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
    let uploaded = upload(ctx, &api, &args, &digests)?;
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
