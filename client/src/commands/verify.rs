//! `sealwax verify FILE`: everything checked offline; with `--online`,
//! also the live log's key directory (the same key-state and release
//! proofs `install` makes).

use std::path::{Path, PathBuf};

use serde_json::json;

use sealwax_proto::checkpoint::{open_checkpoint, relate, Checkpoint, Relation};
use sealwax_proto::minisign::PublicKey;
use sealwax_proto::proof::TlogProof;
use sealwax_proto::rules::{ReleaseName, ReleaseRecord};
use sealwax_proto::trust::{decide, Trust};

use crate::atomic::read_optional;
use crate::checkpoints::Freshness;
use crate::cli::VerifyArgs;
use crate::commands::publish::sibling;
use crate::commands::{hash_file, Ctx};
use crate::error::{open_named, ClientError, Result};
use crate::history::{fetch_history_at, prove_release, NeedDirectory};
use crate::home::LogIdentity;
use crate::keystate::Recorded;
use crate::trust::TrustStore;
use crate::verify::{
    check_artifact, check_proof, key_of_signature, leaf_of, status_error, SealwaxSignature,
};
/// Reads a required companion file.
pub fn read_companion(path: &Path, what: &'static str, hint: &'static str) -> Result<String> {
    read_optional(path)?.ok_or_else(|| ClientError::MissingFile {
        what,
        path: path.to_path_buf(),
        hint,
    })
}

/// The signature and proof files of an artifact, read and parsed.
struct Companions {
    sig: SealwaxSignature,
    proof: TlogProof,
    proof_path: PathBuf,
}

impl Companions {
    /// Reads `FILE.minisig` and `FILE.tlog-proof` (or the paths given).
    fn read(args: &VerifyArgs, log: &LogIdentity) -> Result<Companions> {
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
        let sig = SealwaxSignature::parse(&sig_text, &sig_path, log)?;
        let proof = TlogProof::parse(&proof_text).map_err(|e| ClientError::BadProof {
            path: proof_path.clone(),
            reason: e.to_string(),
        })?;
        // The log key first: with the wrong one, this home's trust store
        // and key history for the log are not found either, and the
        // publisher's key would be blamed.
        if let Err(cause) = open_checkpoint(&proof.checkpoint, &log.origin, &log.verifier) {
            return Err(ClientError::ProofLogKey {
                path: proof_path,
                key: log.verifier.to_string(),
                cause: cause.to_string(),
            });
        }
        Ok(Companions {
            sig,
            proof,
            proof_path,
        })
    }
}

/// The key that made `sig`: one the log's proven history holds, else a key
/// trusted by hand.
fn signing_key(
    sig: &SealwaxSignature,
    recorded: Option<&Recorded>,
    trust: &TrustStore,
) -> Result<PublicKey> {
    let publisher = &sig.release.publisher;
    let in_history =
        recorded.and_then(|r| key_of_signature(r.keys.keys().iter().map(|k| &k.key), sig));
    let trusted_keys: Vec<_> = trust
        .candidates(publisher, &sig.sigbox.keynum)
        .into_iter()
        .map(|(_, pk)| pk)
        .collect();
    in_history
        .or_else(|| key_of_signature(&trusted_keys, sig))
        .ok_or_else(|| ClientError::UntrustedKey {
            publisher: publisher.clone(),
            key_id: sig.sigbox.key_id_hex(),
        })
}

/// Offline, a fork shows only as two checkpoints of one size with two
/// roots: the proof's and the one this client remembers.
fn check_not_forked(ctx: &Ctx, log: &LogIdentity, c: &Companions, cp: &Checkpoint) -> Result<()> {
    let tracker = ctx.tracker(log)?;
    let Some(seen) = tracker.remembered() else {
        return Ok(());
    };
    match relate((seen.size, seen.root), (cp.size, cp.root), None) {
        Relation::Fork(_) => Err(ClientError::Fork {
            url: log.origin.clone(),
            old_size: seen.size,
            new_size: cp.size,
            reason: format!(
                "{} holds a checkpoint of the same size with another root",
                c.proof_path.display()
            ),
        }),
        _ => Ok(()),
    }
}

/// The same trust decision as install, from what this client recorded;
/// says how the key is trusted.
fn decide_offline(
    log: &LogIdentity,
    c: &Companions,
    pk: &PublicKey,
    recorded: Option<&Recorded>,
    trust: &TrustStore,
) -> Result<String> {
    let publisher = &c.sig.release.publisher;
    let key_hash = pk.key_hash();
    let untrusted = || ClientError::UntrustedKey {
        publisher: publisher.clone(),
        key_id: pk.key_id_hex(),
    };
    let Some(r) = recorded.filter(|r| r.keys.key(&key_hash).is_some()) else {
        return match trust.find(publisher, &key_hash) {
            Some(t) => Ok(format!(
                "trusted ({}); no key history of {publisher:?} is recorded here, so revocations were not checked (`sealwax install` records it)",
                t.source.as_str()
            )),
            None => Err(untrusted()),
        };
    };
    let index = c.proof.index;
    let record = ReleaseRecord {
        index,
        sha256: c.sig.release.sha256,
    };
    if let Some(why) = r.contradicts_release(&ReleaseName::of(&c.sig.release), &record) {
        return Err(ClientError::LogMisbehaving {
            url: log.origin.clone(),
            reason: why,
        });
    }
    match decide(&r.keys, &key_hash, index, &trust.roots(publisher)) {
        Err(status) => Err(status_error(publisher, pk, index, status)),
        Ok(Trust::Direct) => Ok("trusted".to_string()),
        Ok(Trust::Chain { root, .. }) => Ok(format!(
            "chained from trusted key {}",
            r.keys
                .key(&root)
                .map(|k| k.key.key_id_hex())
                .unwrap_or_default()
        )),
        Ok(Trust::New(_)) => Err(untrusted()),
    }
}

/// `--online`: the live log's checkpoint (consistent with the remembered
/// one, and the proof's checkpoint a prefix of it), the publisher's key
/// history at it proven against its key directory and recorded (so the
/// trust decision that follows sees every revocation), and the release
/// proven bound to this artifact. Returns the live tree size.
fn check_online(ctx: &Ctx, log: &LogIdentity, c: &Companions, tiles: Option<&str>) -> Result<u64> {
    let api = ctx.api_reading(tiles)?;
    let mut tracker = ctx.tracker(log)?;
    let (cp, _) = tracker.current(&api)?;
    tracker.accept(&api, &c.proof.checkpoint, Freshness::Historical)?;
    tracker.commit()?;
    let publisher = &c.sig.release.publisher;
    let states = ctx.key_states(log);
    fetch_history_at(&api, log, &states, publisher, &cp, NeedDirectory::Required)?;
    prove_release(&api, log, &cp, &c.sig.release, c.proof.index)?;
    Ok(cp.size)
}

/// Verifies one artifact offline: its companions → the key → the
/// artifact's digests and signature → the proof (proto) → no fork → the
/// trust decision (proto).
pub fn run(ctx: &Ctx, args: VerifyArgs) -> Result<serde_json::Value> {
    // The artifact first: a missing one is "no such file", not a missing .minisig.
    open_named(&args.file, "artifact", "verify")?;
    let log = ctx.log()?;
    let c = Companions::read(&args, &log)?;
    let online = match args.online {
        true => Some(check_online(ctx, &log, &c, args.tiles.as_deref())?),
        false => None,
    };
    let trust = ctx.trust_store(&log)?;
    let recorded = ctx.key_states(&log).load(&c.sig.release.publisher)?;
    let pk = signing_key(&c.sig, recorded.as_ref(), &trust)?;
    let digests = hash_file(ctx, &args.file)?;
    let entry = check_artifact(&args.file, &c.sig, &pk, &digests)?;
    let cp = check_proof(&c.proof_path, &c.proof, &leaf_of(&entry), &log)?;
    check_not_forked(ctx, &log, &c, &cp)?;
    let how = decide_offline(&log, &c, &pk, recorded.as_ref(), &trust)?;
    let release = &c.sig.release;
    ctx.say(format_args!(
        "Signature of package {} verified!",
        c.sig.name()
    ));
    ctx.say(format_args!(
        "  publisher {} key {} ({how}), logged at index {} of {} (tree size {})",
        release.publisher,
        pk.key_id_hex(),
        c.proof.index,
        log.origin,
        cp.size
    ));
    let cosigned_by = log.cosigners(&c.proof.checkpoint);
    if let Some(names) = &cosigned_by {
        ctx.say(format_args!(
            "  checkpoint cosigned by {} of your policy's witnesses: {}",
            names.len(),
            names.join(", ")
        ));
    }
    Ok(json!({
        "verified": true,
        "cosigned_by": cosigned_by,
        "file": args.file,
        "publisher": release.publisher,
        "package": release.package,
        "version": release.version,
        "sha256": hex::encode(digests.sha256),
        "size": digests.len,
        "key_id": pk.key_id_hex(),
        "key_hash": hex::encode(pk.key_hash()),
        "index": c.proof.index,
        "tree_size": cp.size,
        "online_tree_size": online,
    }))
}
