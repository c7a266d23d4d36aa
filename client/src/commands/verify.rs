//! `sealwax verify FILE`: everything checked offline.

use std::fs::File;
use std::path::Path;

use serde_json::json;

use sealwax_proto::checkpoint::{relate, Relation};
use sealwax_proto::proof::TlogProof;

use crate::atomic::read_optional;
use crate::cli::VerifyArgs;
use crate::commands::publish::sibling;
use crate::commands::Ctx;
use crate::digest::hash_stream;
use crate::error::{ClientError, Result};
use crate::progress::bytes_bar;
use crate::verify::{
    check_artifact, check_proof, key_of_signature, leaf_of, status_error, SealwaxSignature,
};
use sealwax_proto::rules::{ReleaseName, ReleaseRecord};
use sealwax_proto::trust::{decide, Trust};

/// Reads a required companion file.
pub fn read_companion(path: &Path, what: &'static str, hint: &'static str) -> Result<String> {
    read_optional(path)?.ok_or_else(|| ClientError::MissingFile {
        what,
        path: path.to_path_buf(),
        hint,
    })
}

/// Verifies one artifact offline.
pub fn run(ctx: &Ctx, args: VerifyArgs) -> Result<serde_json::Value> {
    let log = ctx.log()?;
    let sig_path = args
        .signature
        .clone()
        .unwrap_or_else(|| sibling(&args.file, ".minisig"));
    let proof_path = args
        .proof
        .clone()
        .unwrap_or_else(|| sibling(&args.file, ".tlog-proof"));
    let sig_text = read_companion(&sig_path, "signature", "pass its path with --signature F")?;
    let proof_text = read_companion(
        &proof_path,
        "transparency proof",
        "pass its path with --proof F",
    )?;
    let sig = SealwaxSignature::parse(&sig_text, &sig_path, &log)?;
    let proof = TlogProof::parse(&proof_text).map_err(|e| ClientError::BadProof {
        path: proof_path.clone(),
        reason: e.to_string(),
    })?;
    let publisher = sig.release.publisher.clone();
    let trust = ctx.trust_store(&log)?;
    let recorded = ctx.key_states(&log).load(&publisher)?;
    // The key: one the log's proven history holds, else a key trusted by hand.
    let in_history = recorded
        .as_ref()
        .and_then(|r| key_of_signature(r.keys.keys().iter().map(|k| &k.key), &sig));
    let trusted_keys: Vec<_> = trust
        .candidates(&publisher, &sig.sigbox.keynum)
        .into_iter()
        .map(|(_, pk)| pk)
        .collect();
    let pk = in_history
        .or_else(|| key_of_signature(&trusted_keys, &sig))
        .ok_or_else(|| ClientError::UntrustedKey {
            publisher: publisher.clone(),
            key_id: sig.sigbox.key_id_hex(),
        })?;

    let file = File::open(&args.file).map_err(|e| ClientError::io("open", &args.file, e))?;
    let len = file.metadata().map(|m| m.len()).ok();
    let bar = bytes_bar(ctx.progress(), len, "hashing");
    let digests = hash_stream(file, None, |n| bar.inc(n))
        .map_err(|e| ClientError::io("read", &args.file, e))?;
    bar.finish_and_clear();

    let entry = check_artifact(&args.file, &sig, &pk, &digests)?;
    let tracker = ctx.tracker(&log)?;
    let cp = check_proof(&proof_path, &proof, &leaf_of(&entry), &log)?;
    // Offline, a fork shows only as two checkpoints of one size with two roots.
    if let Some(seen) = tracker.remembered() {
        if let Relation::Fork(_) = relate((seen.size, seen.root), (cp.size, cp.root), None) {
            return Err(ClientError::Fork {
                url: log.origin.clone(),
                old_size: seen.size,
                new_size: cp.size,
                reason: format!(
                    "{} holds a checkpoint of the same size with another root",
                    proof_path.display()
                ),
            });
        }
    }
    // The same decision as install, from what this client recorded.
    let key_hash = pk.key_hash();
    let how = match recorded.as_ref().filter(|r| r.keys.key(&key_hash).is_some()) {
        Some(r) => {
            let record = ReleaseRecord {
                index: proof.index,
                sha256: sig.release.sha256,
            };
            if let Some(why) = r.contradicts_release(&ReleaseName::of(&sig.release), &record) {
                return Err(ClientError::LogMisbehaving {
                    url: log.origin.clone(),
                    reason: why,
                });
            }
            match decide(&r.keys, &key_hash, proof.index, &trust.roots(&publisher)) {
                Err(status) => return Err(status_error(&publisher, &pk, proof.index, status)),
                Ok(Trust::Direct) => "trusted".to_string(),
                Ok(Trust::Chain { root, .. }) => format!(
                    "chained from trusted key {}",
                    r.keys.key(&root).map(|k| k.key.key_id_hex()).unwrap_or_default()
                ),
                Ok(Trust::New(_)) => {
                    return Err(ClientError::UntrustedKey {
                        publisher,
                        key_id: pk.key_id_hex(),
                    })
                }
            }
        }
        None => match trust.find(&publisher, &key_hash) {
            Some(t) => format!(
                "trusted ({}); no key history of {publisher:?} is recorded here, so revocations were not checked (`sealwax install` records it)",
                t.source.as_str()
            ),
            None => {
                return Err(ClientError::UntrustedKey {
                    publisher,
                    key_id: pk.key_id_hex(),
                })
            }
        },
    };
    ctx.say(format_args!(
        "Signature of package {} verified!",
        sig.name()
    ));
    ctx.say(format_args!(
        "  publisher {} key {} ({how}), logged at index {} of {} (tree size {})",
        sig.release.publisher,
        pk.key_id_hex(),
        proof.index,
        log.origin,
        cp.size
    ));
    Ok(json!({
        "verified": true,
        "file": args.file,
        "publisher": sig.release.publisher,
        "package": sig.release.package,
        "version": sig.release.version,
        "sha256": hex::encode(digests.sha256),
        "key_id": pk.key_id_hex(),
        "key_hash": hex::encode(key_hash),
        "index": proof.index,
        "tree_size": cp.size,
    }))
}
