//! `sealwax verify FILE`: everything checked offline.

use std::fs::File;
use std::path::Path;

use serde_json::json;

use sealwax_proto::proof::TlogProof;

use crate::atomic::read_optional;
use crate::cli::VerifyArgs;
use crate::commands::publish::sibling;
use crate::commands::Ctx;
use crate::digest::hash_stream;
use crate::error::{ClientError, Result};
use crate::progress::bytes_bar;
use crate::verify::{
    check_artifact, check_local_status, check_proof, leaf_of, trusted_key_for, SealwaxSignature,
};

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
    let trust = ctx.trust_store(&log)?;
    let (tk, pk) = trusted_key_for(&trust, &sig)?;

    let file = File::open(&args.file).map_err(|e| ClientError::io("open", &args.file, e))?;
    let len = file.metadata().map(|m| m.len()).ok();
    let bar = bytes_bar(ctx.progress(), len, "hashing");
    let digests = hash_stream(file, None, |n| bar.inc(n))
        .map_err(|e| ClientError::io("read", &args.file, e))?;
    bar.finish_and_clear();

    let entry = check_artifact(&args.file, &sig, &pk, &digests)?;
    let tracker = ctx.tracker(&log)?;
    let cp = check_proof(&proof_path, &proof, &leaf_of(&entry), |t| tracker.open(t))?;
    // Offline, a fork shows only as two checkpoints of one size with two roots.
    if let Some(seen) = tracker.remembered() {
        if seen.size == cp.size && seen.root != cp.root {
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
    check_local_status(tk, proof.index)?;

    ctx.say(format_args!(
        "Signature of package {} verified!",
        sig.name()
    ));
    ctx.say(format_args!(
        "  publisher {} key {} ({}), logged at index {} of {} (tree size {})",
        sig.release.publisher,
        tk.key_id,
        tk.source.as_str(),
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
        "key_id": tk.key_id,
        "key_hash": tk.key_hash,
        "index": proof.index,
        "tree_size": cp.size,
    }))
}
