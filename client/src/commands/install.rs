//! `sealwax install P/NAME[@V] | URL | FILE`: fetch, verify against the
//! log, decide trust (TOFU or chain of trust), install.

use std::fs::{self, File};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use sealwax_proto::entry::{AuthorizedBy, Entry, KeyStatus, SignatureEntry};
use sealwax_proto::merkle::verify_inclusion;
use sealwax_proto::minisign::PublicKey;
use sealwax_proto::proof::TlogProof;
use sealwax_proto::Hash;

use crate::api::{decode_entry, decode_hash, decode_hashes, LogClient, SignatureRecord};
use crate::atomic::{sync_dir, write_atomic, MODE_PUBLIC};
use crate::checkpoints::Freshness;
use crate::cli::InstallArgs;
use crate::commands::publish::sibling;
use crate::commands::Ctx;
use crate::digest::{hash_stream, Digests};
use crate::error::{ClientError, Result};
use crate::history::{fetch_history, VerifiedHistory};
use crate::home::LogIdentity;
use crate::progress::bytes_bar;
use crate::trust::{TrustSource, TrustStore};
use crate::verify::{check_artifact, leaf_of, SealwaxSignature};

/// What to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A release in the log's artifact store.
    Release {
        /// Publisher.
        publisher: String,
        /// Package.
        package: String,
        /// Version, or the newest.
        version: Option<String>,
    },
    /// A file on a web server, with `.minisig` / `.tlog-proof` beside it.
    Url(String),
    /// A local file, with `.minisig` / `.tlog-proof` beside it.
    File(PathBuf),
}

impl Target {
    /// Classifies an install argument: URL, existing file, or `P/NAME[@V]`.
    pub fn parse(arg: &str) -> Result<Target> {
        if arg.starts_with("http://") || arg.starts_with("https://") {
            return Ok(Target::Url(arg.to_string()));
        }
        if Path::new(arg).is_file() {
            return Ok(Target::File(PathBuf::from(arg)));
        }
        let bad = || ClientError::BadTarget(arg.to_string());
        let (publisher, rest) = arg.split_once('/').ok_or_else(bad)?;
        let (package, version) = match rest.split_once('@') {
            Some((p, v)) => (p, Some(v.to_string())),
            None => (rest, None),
        };
        if publisher.is_empty()
            || package.is_empty()
            || package.contains('/')
            || version.as_deref() == Some("")
        {
            return Err(bad());
        }
        Ok(Target::Release {
            publisher: publisher.to_string(),
            package: package.to_string(),
            version,
        })
    }
}

/// A downloaded (or copied) artifact in the destination directory, deleted
/// unless it is installed.
struct Staged {
    path: PathBuf,
    keep: bool,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Streams `reader` into a staged file in `dir` while hashing it.
fn stage(
    ctx: &Ctx,
    dir: &Path,
    reader: impl std::io::Read,
    len: Option<u64>,
    what: &str,
) -> Result<(Staged, Digests)> {
    let path = dir.join(format!(".sealwax-staged-{:016x}", rand::random::<u64>()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| ClientError::io("create", &path, e))?;
    let staged = Staged { path, keep: false };
    let bar = bytes_bar(ctx.progress(), len, what);
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, &mut file);
    let digests = hash_stream(reader, Some(&mut writer), |n| bar.inc(n))
        .map_err(|e| ClientError::io("download into", &staged.path, e))?;
    writer
        .flush()
        .map_err(|e| ClientError::io("write", &staged.path, e))?;
    drop(writer);
    file.sync_all()
        .map_err(|e| ClientError::io("flush", &staged.path, e))?;
    bar.finish_and_clear();
    Ok((staged, digests))
}

/// The signature to check, however it was found.
struct Signed {
    sig: SealwaxSignature,
    /// The full key, when the log's entry named it.
    key: Option<PublicKey>,
    /// The log index, when known before checking the proof.
    index: Option<u64>,
    /// A `.tlog-proof` that came with the artifact.
    proof: Option<(TlogProof, PathBuf)>,
}

/// A logged signature record, parsed and checked against the log's own claims.
fn signed_from_record(api: &LogClient, log: &LogIdentity, rec: &SignatureRecord) -> Result<Signed> {
    let url = api.url();
    let bad = |reason: String| ClientError::LogMisbehaving {
        url: url.to_string(),
        reason,
    };
    let bytes = decode_entry(url, &rec.entry)?;
    let Entry::Signature(se) = Entry::parse(&bytes)
        .map_err(|e| bad(format!("signature entry {} does not parse: {e}", rec.index)))?
    else {
        return Err(bad(format!(
            "entry {} is listed as a signature but is not one",
            rec.index
        )));
    };
    let release = se.release().map_err(|e| {
        bad(format!(
            "signature entry {} has a bad trusted comment: {e}",
            rec.index
        ))
    })?;
    if release.origin != log.origin {
        return Err(bad(format!(
            "signature entry {} names another log, {:?}",
            rec.index, release.origin
        )));
    }
    if release.publisher != rec.publisher
        || release.package != rec.package
        || release.version != rec.version
        || hex::encode(release.sha256) != rec.sha256
    {
        return Err(bad(format!(
            "signature record {} does not match its own entry",
            rec.index
        )));
    }
    Ok(Signed {
        sig: SealwaxSignature {
            sigbox: se.to_signature_box(),
            release,
        },
        key: Some(se.key),
        index: Some(rec.index),
        proof: None,
    })
}

/// The signature of an artifact found by URL or as a file: its `.minisig`
/// (and `.tlog-proof`) if present, else a logged signature for its SHA-256.
fn signed_from_companions(
    api: &LogClient,
    log: &LogIdentity,
    what: &str,
    minisig: Option<(String, PathBuf)>,
    proof: Option<(String, PathBuf)>,
    digests: &Digests,
) -> Result<Signed> {
    let proof = match proof {
        None => None,
        Some((text, path)) => Some((
            TlogProof::parse(&text).map_err(|e| ClientError::BadProof {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            path,
        )),
    };
    let Some((text, path)) = minisig else {
        let records = api.signatures_by_sha256(&digests.sha256)?;
        let rec = records
            .iter()
            .max_by_key(|r| r.index)
            .ok_or_else(|| ClientError::Unsigned(what.to_string()))?;
        return signed_from_record(api, log, rec);
    };
    let sig = SealwaxSignature::parse(&text, &path, log)?;
    Ok(Signed {
        sig,
        key: None,
        index: proof.as_ref().map(|(p, _)| p.index),
        proof,
    })
}

/// The publisher key that made `sig`: the one the log entry names, else the
/// one of the publisher's logged keys whose key ID matches and whose
/// signature verifies.
/// Whether the signature entry of `rec` is by a key whose status makes it
/// valid at its index (active, or retired after it).
fn signed_by_valid_key(url: &str, rec: &SignatureRecord, history: &VerifiedHistory) -> bool {
    let Ok(bytes) = decode_entry(url, &rec.entry) else {
        return false;
    };
    match Entry::parse(&bytes) {
        Ok(Entry::Signature(se)) => history
            .keys
            .status_for_signature(&se.key.key_hash(), rec.index)
            .is_valid(),
        _ => false,
    }
}

fn key_from_history(signed: &Signed, history: &VerifiedHistory) -> Result<PublicKey> {
    let sb = &signed.sig.sigbox;
    if let Some(k) = signed.key {
        return Ok(k);
    }
    let mut msg = sb.signature.to_vec();
    msg.extend_from_slice(sb.trusted_comment.as_bytes());
    history
        .keys
        .keys
        .iter()
        .map(|r| r.key)
        .filter(|k| k.keynum == sb.keynum)
        .find(|k| k.verify_raw(&msg, &sb.global_signature).is_ok())
        .ok_or_else(|| ClientError::KeyNotInHistory {
            publisher: signed.sig.release.publisher.clone(),
            key_id: sb.key_id_hex(),
        })
}

/// Finds the log index of `entry` by asking the log for signatures of its SHA-256.
fn find_logged_index(
    api: &LogClient,
    entry: &SignatureEntry,
    sha256: &[u8; 32],
) -> Result<Option<u64>> {
    let bytes = Entry::Signature(entry.clone()).to_bytes();
    for rec in api.signatures_by_sha256(sha256)? {
        if decode_entry(api.url(), &rec.entry)? == bytes {
            return Ok(Some(rec.index));
        }
    }
    Ok(None)
}

/// How a key came to be trusted in this install.
enum Trusted {
    Already(TrustSource),
    Chain { from: Hash, at: u64 },
    New,
}

/// Follows the logged chain of trust from `key_hash` back to a trusted key.
/// A link made by a key later revoked as compromised does not count.
fn chain_to_trusted(
    history: &VerifiedHistory,
    trust: &TrustStore,
    publisher: &str,
    key_hash: &Hash,
) -> Option<(Hash, u64)> {
    let mut current = history.keys.key(key_hash)?;
    let first_link = match current.authorization {
        AuthorizedBy::Chain(by) => (by, current.registered_at),
        _ => return None,
    };
    for _ in 0..history.keys.keys.len() {
        let AuthorizedBy::Chain(by) = current.authorization else {
            return None;
        };
        let parent = history.keys.key(&by)?;
        if matches!(
            history
                .keys
                .status_for_signature(&by, current.registered_at),
            KeyStatus::Compromised(_)
        ) {
            return None;
        }
        if trust
            .find(publisher, &by)
            .is_some_and(|t| t.revoked.as_ref().is_none_or(|r| r.reason != "compromised"))
        {
            return Some(first_link);
        }
        current = parent;
    }
    None
}

/// Asks on the terminal whether to trust a new key.
fn ask_trust(key: &PublicKey, release_name: &str) -> Result<bool> {
    let mut err = std::io::stderr();
    let stdin = std::io::stdin();
    for _ in 0..3 {
        let _ = write!(
            err,
            "New public key encountered: {} {} while installing {release_name}.\nWould you like to trust this key? [y/n] ",
            key.key_id_hex(),
            key.to_base64()
        );
        let _ = err.flush();
        let mut line = String::new();
        if stdin
            .lock()
            .read_line(&mut line)
            .map_err(ClientError::Terminal)?
            == 0
        {
            return Ok(false);
        }
        match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return Ok(true),
            "n" | "no" => return Ok(false),
            _ => {}
        }
    }
    Ok(false)
}

/// Installs one target.
pub fn run(ctx: &Ctx, args: InstallArgs) -> Result<serde_json::Value> {
    let log = ctx.log()?;
    let api = ctx.api()?;
    let target = Target::parse(&args.target)?;
    fs::create_dir_all(&args.to).map_err(|e| ClientError::io("create directory", &args.to, e))?;
    let mut tracker = ctx.tracker(&log)?;

    // 0. The log's current checkpoint, proven consistent with the newest one
    //    this client saw, before anything else: a forked or rolled-back log
    //    is refused before a byte is downloaded.
    let mut cp_text = api.checkpoint()?;
    let mut cp = tracker.accept(&api, &cp_text, Freshness::Current)?;
    tracker.commit()?;

    // 1. The artifact (staged beside its destination, hashed as it streams)
    //    and its signature.
    let (staged, digests, signed, dest_name, what) = match &target {
        Target::Release {
            publisher,
            package,
            version,
        } => {
            let wanted = format!(
                "{publisher}/{package}{}",
                version
                    .as_deref()
                    .map(|v| format!("@{v}"))
                    .unwrap_or_default()
            );
            let records = api.signatures_by_release(publisher, package, version.as_deref())?;
            let mut candidates: Vec<&SignatureRecord> = records
                .iter()
                .filter(|r| {
                    &r.publisher == publisher
                        && &r.package == package
                        && version.as_ref().is_none_or(|v| &r.version == v)
                })
                .collect();
            candidates.sort_by_key(|r| std::cmp::Reverse(r.index));
            let newest = *candidates
                .first()
                .ok_or_else(|| ClientError::NoSuchRelease(wanted.clone()))?;
            // Without a version: the newest release whose key still vouches
            // for it, so a release by a since-revoked key does not block the
            // package. Whatever is picked is fully checked below.
            let rec = if version.is_none() && candidates.len() > 1 {
                let history = fetch_history(&api, &mut tracker, &log, publisher)?;
                tracker.commit()?;
                history
                    .and_then(|h| {
                        candidates
                            .iter()
                            .copied()
                            .find(|r| signed_by_valid_key(api.url(), r, &h))
                    })
                    .unwrap_or(newest)
            } else {
                newest
            };
            let signed = signed_from_record(&api, &log, rec)?;
            let sha = decode_hash(api.url(), "sha256", &rec.sha256)?;
            let (reader, len) = api.download_artifact(&sha).map_err(|e| match e {
                ClientError::LogHttp { status: 404, .. } => {
                    ClientError::ArtifactNotStored(wanted.clone())
                }
                other => other,
            })?;
            let (staged, digests) = stage(ctx, &args.to, reader, len, "downloading")?;
            let name = format!(
                "{}-{}",
                signed.sig.release.package, signed.sig.release.version
            );
            (staged, digests, signed, name, wanted)
        }
        Target::Url(url) => {
            let (reader, len) = api.download(url)?;
            let (staged, digests) = stage(ctx, &args.to, reader, len, "downloading")?;
            let sig_url = format!("{url}.minisig");
            let proof_url = format!("{url}.tlog-proof");
            let minisig = api
                .fetch_text(&sig_url)?
                .map(|t| (t, PathBuf::from(&sig_url)));
            let proof = api
                .fetch_text(&proof_url)?
                .map(|t| (t, PathBuf::from(&proof_url)));
            let signed = signed_from_companions(&api, &log, url, minisig, proof, &digests)?;
            let name = reqwest::Url::parse(url)
                .ok()
                .and_then(|u| {
                    u.path_segments()
                        .and_then(|mut s| s.next_back().map(str::to_string))
                })
                .filter(|n| !n.is_empty() && n != "." && n != "..")
                .unwrap_or_else(|| {
                    format!(
                        "{}-{}",
                        signed.sig.release.package, signed.sig.release.version
                    )
                });
            (staged, digests, signed, name, url.clone())
        }
        Target::File(path) => {
            let f = File::open(path).map_err(|e| ClientError::io("open", path, e))?;
            let len = f.metadata().map(|m| m.len()).ok();
            let (staged, digests) = stage(ctx, &args.to, f, len, "copying")?;
            let read = |p: PathBuf| -> Result<Option<(String, PathBuf)>> {
                Ok(crate::atomic::read_optional(&p)?.map(|t| (t, p)))
            };
            let minisig = read(sibling(path, ".minisig"))?;
            let proof = read(sibling(path, ".tlog-proof"))?;
            let what = path.display().to_string();
            let signed = signed_from_companions(&api, &log, &what, minisig, proof, &digests)?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| {
                    format!(
                        "{}-{}",
                        signed.sig.release.package, signed.sig.release.version
                    )
                });
            (staged, digests, signed, name, what)
        }
    };
    let release = signed.sig.release.clone();
    let publisher = release.publisher.clone();
    if let Target::Release {
        publisher: p,
        package,
        version,
    } = &target
    {
        if &release.publisher != p
            || &release.package != package
            || version.as_ref().is_some_and(|v| v != &release.version)
        {
            return Err(ClientError::ReleaseMismatch {
                wanted: what.clone(),
                found: format!(
                    "{}/{}@{}",
                    release.publisher, release.package, release.version
                ),
            });
        }
    }

    // 2. The publisher's logged key history, every event proven in the log.
    let history = fetch_history(&api, &mut tracker, &log, &publisher)?;
    tracker.commit()?;
    let Some(history) = history else {
        return Err(ClientError::KeyNotInHistory {
            publisher,
            key_id: signed.sig.sigbox.key_id_hex(),
        });
    };

    // 3. The signature over the artifact, by a key of that history.
    let key = key_from_history(&signed, &history)?;
    let entry = check_artifact(&staged.path, &signed.sig, &key, &digests).map_err(|e| match e {
        ClientError::DigestMismatch {
            expected, actual, ..
        } => ClientError::DigestMismatch {
            path: PathBuf::from(&what),
            expected,
            actual,
        },
        ClientError::BadSignature { source, .. } => ClientError::BadSignature {
            path: PathBuf::from(&what),
            source,
        },
        other => other,
    })?;
    let leaf = leaf_of(&entry);

    // 4. The entry is in the log: its index, a proof file that came with it
    //    (checked against its own checkpoint, proven a prefix of the log),
    //    and a fresh inclusion proof at the log's current checkpoint.
    let index = match signed.index {
        Some(i) => i,
        None => match find_logged_index(&api, &entry, &digests.sha256)? {
            Some(i) => i,
            None => {
                return Err(ClientError::Downgrade {
                    what: what.clone(),
                    publisher,
                })
            }
        },
    };
    if let Some((proof, path)) = &signed.proof {
        let cp = tracker
            .accept(&api, &proof.checkpoint, Freshness::Historical)
            .map_err(|e| match e {
                ClientError::LogKeyMismatch { source, .. } => ClientError::BadProof {
                    path: path.clone(),
                    reason: format!(
                        "its checkpoint is not signed by the trusted log key ({source})"
                    ),
                },
                other => other,
            })?;
        verify_inclusion(&leaf, proof.index, cp.size, &proof.inclusion, &cp.root).map_err(|e| {
            ClientError::BadProof {
                path: path.clone(),
                reason: format!(
                    "the signature's entry is not at index {} of the logged tree: {e}",
                    proof.index
                ),
            }
        })?;
    }
    if index >= cp.size {
        // Logged after the checkpoint read at the start: read a newer one.
        cp_text = api.checkpoint()?;
        cp = tracker.accept(&api, &cp_text, Freshness::Current)?;
        tracker.commit()?;
    }
    let answer = api.inclusion_proof(index, cp.size)?;
    let inclusion = decode_hashes(api.url(), "inclusion proof hash", &answer.proof)?;
    verify_inclusion(&leaf, index, cp.size, &inclusion, &cp.root).map_err(|e| {
        ClientError::LogMisbehaving {
            url: api.url().to_string(),
            reason: format!(
                "its inclusion proof for the signature at index {index} does not verify: {e}"
            ),
        }
    })?;

    // 5. The key's status in the logged history at the signature's index.
    let key_hash = key.key_hash();
    let key_id = key.key_id_hex();
    let mut trust = ctx.trust_store(&log)?;
    for rec in &history.keys.keys {
        if let Some(r) = rec.revoked {
            trust.mark_revoked(&publisher, &rec.key_hash, r.reason, r.index);
        }
    }
    trust.save()?;
    match history.keys.status_for_signature(&key_hash, index) {
        KeyStatus::Active | KeyStatus::RetiredAfter(_) => {}
        KeyStatus::Retired(at) => {
            return Err(ClientError::KeyRetired {
                publisher,
                key_id,
                index: at,
                signed_at: index,
            })
        }
        KeyStatus::Compromised(at) => {
            return Err(ClientError::KeyCompromised {
                publisher,
                key_id,
                index: at,
            })
        }
        KeyStatus::Unknown => return Err(ClientError::KeyNotInHistory { publisher, key_id }),
    }

    // 6. Trust: known, chained from a trusted key, or new (TOFU).
    let trusted = if let Some(t) = trust.find(&publisher, &key_hash) {
        Trusted::Already(t.source)
    } else if let Some((from, at)) = chain_to_trusted(&history, &trust, &publisher, &key_hash) {
        Trusted::Chain { from, at }
    } else {
        Trusted::New
    };
    match trusted {
        Trusted::Already(_) => {}
        Trusted::Chain { from, at } => {
            let from_id = history
                .keys
                .key(&from)
                .map(|r| r.key.key_id_hex())
                .unwrap_or_default();
            ctx.say(format_args!(
                "Key {key_id} of {publisher:?} was rotated in by trusted key {from_id} (chain of trust logged at index {at}): trusting it"
            ));
            trust.add(&publisher, &key, TrustSource::Chain, Some(&from));
            ctx.say(format_args!(
                "Importing key \"{key_id}\" for user \"{publisher}\""
            ));
        }
        Trusted::New => {
            // Before the prompt: what the log says about where this key came from.
            if let Some(rec) = history.keys.key(&key_hash) {
                if rec.authorization == AuthorizedBy::Operator {
                    ctx.warn(format_args!(
                        "key {key_id} was registered for {publisher:?} by the log's operator (with the admin token, log index {}), not by a key of {publisher:?}: trust it only if {publisher:?} told you about it",
                        rec.registered_at
                    ));
                }
            }
            if trust.knows_publisher(&publisher) {
                ctx.warn(format_args!(
                    "you already trust other keys of {publisher:?}, and none of them authorised key {key_id} (no chain of trust in the log)"
                ));
            }
            let name = format!("{}@{}", release.package, release.version);
            let yes = if args.trust_new_keys {
                true
            } else if std::io::stdin().is_terminal() {
                ask_trust(&key, &name)?
            } else {
                return Err(ClientError::NewKeyNoTerminal {
                    publisher,
                    key_id,
                    key_b64: key.to_base64(),
                });
            };
            if !yes {
                return Err(ClientError::TrustDeclined { publisher, key_id });
            }
            trust.add(&publisher, &key, TrustSource::Tofu, None);
            ctx.say(format_args!(
                "Importing key \"{key_id}\" for user \"{publisher}\""
            ));
        }
    }
    trust.save()?;

    // 7. Install: the staged copy takes its name, with a fresh proof beside it.
    let dest = args.to.join(&dest_name);
    let mut sigbox = signed.sig.sigbox.clone();
    if sigbox.untrusted_comment.is_empty() {
        sigbox.untrusted_comment = "signature from sealwax".into();
    }
    let proof = TlogProof {
        extra: None,
        index,
        inclusion,
        checkpoint: cp_text,
    };
    write_atomic(
        &sibling(&dest, ".minisig"),
        sigbox.to_file_string().as_bytes(),
        MODE_PUBLIC,
    )?;
    write_atomic(
        &sibling(&dest, ".tlog-proof"),
        proof.to_string().as_bytes(),
        MODE_PUBLIC,
    )?;
    let mut staged = staged;
    fs::rename(&staged.path, &dest).map_err(|e| ClientError::io("install", &dest, e))?;
    staged.keep = true;
    sync_dir(&args.to)?;

    ctx.say(format_args!(
        "Signature of package {}@{} verified!",
        release.package, release.version
    ));
    ctx.say(format_args!(
        "Package installed successfully to {}",
        dest.display()
    ));
    Ok(json!({
        "installed": dest,
        "publisher": publisher,
        "package": release.package,
        "version": release.version,
        "sha256": hex::encode(digests.sha256),
        "size": digests.len,
        "key_id": key_id,
        "key_hash": hex::encode(key_hash),
        "index": index,
        "tree_size": cp.size,
        "key_authorization": history.keys.key(&key_hash).map(|r| r.authorization.kind()),
        "trust": match trusted {
            Trusted::Already(s) => s.as_str(),
            Trusted::Chain { .. } => "chain",
            Trusted::New => "tofu",
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_classified() {
        assert_eq!(
            Target::parse("alice/hello@1.0").unwrap(),
            Target::Release {
                publisher: "alice".into(),
                package: "hello".into(),
                version: Some("1.0".into())
            }
        );
        assert_eq!(
            Target::parse("alice/hello").unwrap(),
            Target::Release {
                publisher: "alice".into(),
                package: "hello".into(),
                version: None
            }
        );
        assert_eq!(
            Target::parse("https://x.example/a.tgz").unwrap(),
            Target::Url("https://x.example/a.tgz".into())
        );
        for bad in ["alice", "alice/", "/hello", "alice/hello@", "a/b/c"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
