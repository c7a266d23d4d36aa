//! `sealwax install P/NAME[@V] | URL | FILE`, as a straight line:
//! resolve the target → fetch the artifact and its signature → verify
//! (signature, inclusion, consistency, key status, all through
//! `sealwax-proto`) → decide trust (`sealwax_proto::trust::decide`) → write.

use std::collections::HashSet;
use std::fs;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use sealwax_proto::checkpoint::Checkpoint;
use sealwax_proto::entry::{
    validate_package, validate_publisher, validate_version, Entry, Release, SignatureEntry,
};
use sealwax_proto::merkle::verify_inclusion;
use sealwax_proto::minisign::PublicKey;
use sealwax_proto::proof::TlogProof;
use sealwax_proto::rules::{ReleaseName, ReleaseRecord};
use sealwax_proto::trust::{decide, NotFirstUse, Trust};
use sealwax_proto::wire::SignatureAnswer;
use sealwax_proto::Hash;

use crate::api::{decode_entry, LogClient};
use crate::atomic::{sync_dir, write_atomic, MODE_PUBLIC};
use crate::checkpoints::{CheckpointTracker, Freshness};
use crate::cli::InstallArgs;
use crate::commands::publish::sibling;
use crate::commands::Ctx;
use crate::digest::{hash_stream, Digests};
use crate::error::{open_named, ClientError, Result};
use crate::history::{fetch_history_at, prove_release, NeedDirectory, VerifiedHistory};
use crate::home::LogIdentity;
use crate::keystate::{release_key, KeyStateStore};
use crate::progress::bytes_bar;
use crate::trust::{TrustSource, TrustStore};
use crate::verify::{
    check_artifact, check_proof, key_of_signature, leaf_of, status_error, SealwaxSignature,
};

/// A release asked for by name: `P/NAME[@V]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Publisher.
    pub publisher: String,
    /// Package.
    pub package: String,
    /// Version, or the newest.
    pub version: Option<String>,
}

impl Wanted {
    /// Parses `P/NAME[@V]`; `None` unless every part is a valid name.
    fn parse(arg: &str) -> Option<Wanted> {
        let (publisher, rest) = arg.split_once('/')?;
        let (package, version) = match rest.split_once('@') {
            Some((p, v)) => (p, Some(v)),
            None => (rest, None),
        };
        validate_publisher(publisher).ok()?;
        validate_package(package).ok()?;
        if let Some(v) = version {
            validate_version(v).ok()?;
        }
        Some(Wanted {
            publisher: publisher.to_string(),
            package: package.to_string(),
            version: version.map(str::to_string),
        })
    }

    /// Whether a signed release is this one.
    fn matches(&self, r: &Release) -> bool {
        r.publisher == self.publisher
            && r.package == self.package
            && self.version.as_ref().is_none_or(|v| *v == r.version)
    }
}

impl std::fmt::Display for Wanted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.publisher, self.package)?;
        if let Some(v) = &self.version {
            write!(f, "@{v}")?;
        }
        Ok(())
    }
}

/// What to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A release in the log's artifact store.
    Release(Wanted),
    /// A file on a web server, with `.minisig` / `.tlog-proof` beside it.
    Url(String),
    /// A local file, with `.minisig` / `.tlog-proof` beside it.
    File {
        /// The file.
        path: PathBuf,
        /// When the argument also reads as `P/NAME[@V]`: the release the
        /// file's signature must be for.
        named: Option<Wanted>,
    },
}

impl Target {
    /// Classifies an install argument: a URL; a path written as one (`/…`,
    /// `./…`, `../…`); `P/NAME[@V]`; or an existing file. An argument that
    /// is both a release name and an existing file installs the file only
    /// if its signature is for that very release.
    pub fn parse(arg: &str) -> Result<Target> {
        if arg.starts_with("http://") || arg.starts_with("https://") {
            return Ok(Target::Url(arg.to_string()));
        }
        let explicit_path = arg.starts_with('/') || arg.starts_with("./") || arg.starts_with("../");
        let is_file = Path::new(arg).is_file();
        if explicit_path || (is_file && Wanted::parse(arg).is_none()) {
            return Ok(Target::File {
                path: PathBuf::from(arg),
                named: None,
            });
        }
        match Wanted::parse(arg) {
            Some(w) if is_file => Ok(Target::File {
                path: PathBuf::from(arg),
                named: Some(w),
            }),
            Some(w) => Ok(Target::Release(w)),
            // Neither a file nor a name, but written like a file name.
            None if arg.contains('.') => Err(ClientError::NoSuchFile {
                path: PathBuf::from(arg),
                what: "artifact",
                action: "install",
            }),
            None => Err(ClientError::BadTarget(arg.to_string())),
        }
    }

    /// A release asked for by a name that also reads as a file name
    /// (`dir/hello.tar.gz`): when the log has no such release, the message
    /// says there is no such file either.
    fn not_found(&self, e: ClientError) -> ClientError {
        match (self, e) {
            (Target::Release(w), ClientError::NoSuchRelease(name)) if w.package.contains('.') => {
                ClientError::NoSuchRelease(format!("{name} (and no such file: {w})"))
            }
            (_, e) => e,
        }
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
    let path = dir.join(format!("{STAGED_PREFIX}{:016x}", rand::random::<u64>()));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| ClientError::io("create", &path, e))?;
    let staged = Staged { path, keep: false };
    let bar = bytes_bar(ctx.progress(), len, what);
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, &mut file);
    let digests = hash_stream(reader, Some(&mut writer), |n| bar.inc(n))
        .map_err(|e| ClientError::from_download(&staged.path, e))?;
    writer
        .flush()
        .map_err(|e| ClientError::io("write", &staged.path, e))?;
    drop(writer);
    file.sync_all()
        .map_err(|e| ClientError::io("flush", &staged.path, e))?;
    bar.finish_and_clear();
    Ok((staged, digests))
}

/// The log, as this install sees it: its API, the checkpoint tracker (the
/// current checkpoint accepted consistent with the remembered one) and
/// what this client recorded about publishers.
struct Session {
    log: LogIdentity,
    api: LogClient,
    tracker: CheckpointTracker,
    cp: Checkpoint,
    cp_text: String,
    states: KeyStateStore,
}

impl Session {
    /// The log's current checkpoint, proven consistent with the newest one
    /// this client saw, before anything else: a forked or rolled-back log
    /// is refused before a byte is downloaded.
    fn start(ctx: &Ctx, max_download: u64, tiles: Option<&str>) -> Result<Session> {
        let log = ctx.log()?;
        let api = ctx.api_reading(tiles)?.with_max_download(max_download);
        let mut tracker = ctx.tracker(&log)?;
        let (cp, cp_text) = tracker.current(&api)?;
        tracker.commit()?;
        let states = ctx.key_states(&log);
        Ok(Session {
            log,
            api,
            tracker,
            cp,
            cp_text,
            states,
        })
    }

    fn misbehaving(&self, reason: String) -> ClientError {
        self.api.misbehaving(reason)
    }

    /// The publisher's key history at the session's checkpoint, proven
    /// against its key directory and checked against what was recorded.
    fn history(&mut self, publisher: &str) -> Result<Option<VerifiedHistory>> {
        fetch_history_at(
            &self.api,
            &self.log,
            &self.states,
            publisher,
            &self.cp,
            NeedDirectory::Required,
        )
    }

    /// The history `h` again if the session's checkpoint moved past it (a
    /// signature logged after the session started).
    fn history_at_checkpoint(&mut self, h: VerifiedHistory) -> Result<VerifiedHistory> {
        if h.tree_size == self.cp.size {
            return Ok(h);
        }
        let publisher = h.keys.publisher.clone();
        self.history(&publisher)?.ok_or_else(|| {
            self.misbehaving(format!(
                "publisher {publisher:?} had keys at tree size {} and has none at {}",
                h.tree_size, self.cp.size
            ))
        })
    }

    /// A checkpoint at least as new as `index + 1` entries.
    fn covering(&mut self, index: u64) -> Result<()> {
        if index >= self.cp.size {
            (self.cp, self.cp_text) = self.tracker.current(&self.api)?;
            self.tracker.commit()?;
        }
        // A mirror lags the log by its upload interval (about a second):
        // wait a little for it before giving up.
        let started = std::time::Instant::now();
        while index >= self.cp.size && self.api.reads_mirror() {
            if started.elapsed() > MIRROR_GRACE {
                return Err(ClientError::MirrorBehind {
                    url: self.api.checkpoint_url().to_string(),
                    size: self.cp.size,
                    index,
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
            (self.cp, self.cp_text) = self.tracker.current(&self.api)?;
            self.tracker.commit()?;
        }
        Ok(())
    }
}

/// How long an install waits for a mirror (`--tiles`) to cover an entry
/// the log named.
const MIRROR_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

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

/// The artifact, staged, with its signature.
struct Fetched {
    staged: Staged,
    digests: Digests,
    signed: Signed,
    /// The name to install it under.
    dest_name: String,
    /// What was asked for, for messages.
    what: String,
}

/// A logged signature record, parsed and checked against the log's own claims.
fn signed_from_record(s: &Session, rec: &SignatureAnswer) -> Result<Signed> {
    let bytes = decode_entry(s.api.url(), &rec.entry)?;
    let Entry::Signature(se) = Entry::parse(&bytes)
        .map_err(|e| s.misbehaving(format!("signature entry {} does not parse: {e}", rec.index)))?
    else {
        return Err(s.misbehaving(format!(
            "entry {} is listed as a signature but is not one",
            rec.index
        )));
    };
    let release = se.release().map_err(|e| {
        s.misbehaving(format!(
            "signature entry {} has a bad trusted comment: {e}",
            rec.index
        ))
    })?;
    if release.origin != s.log.origin {
        return Err(s.misbehaving(format!(
            "signature entry {} names another log, {:?}",
            rec.index, release.origin
        )));
    }
    if release.publisher != rec.publisher
        || release.package != rec.package
        || release.version != rec.version
        || release.sha256 != rec.sha256
    {
        return Err(s.misbehaving(format!(
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
/// (and `.tlog-proof`) if present, else a logged signature for its SHA-256,
/// preferring publishers this client already trusts.
fn signed_from_companions(
    ctx: &Ctx,
    s: &Session,
    trust: &TrustStore,
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
        let records = s.api.signatures_by_sha256(&digests.sha256)?;
        let rec = records
            .iter()
            .max_by_key(|r| (trust.knows_publisher(&r.publisher), r.index))
            .ok_or_else(|| ClientError::Unsigned(what.to_string()))?;
        let publishers: HashSet<&str> = records.iter().map(|r| r.publisher.as_str()).collect();
        ctx.say(format_args!(
            "{what} has no .minisig: using the logged signature by publisher {:?} (index {}){}",
            rec.publisher,
            rec.index,
            if publishers.len() > 1 {
                format!(
                    ", one of {} publishers who signed these bytes{}",
                    publishers.len(),
                    if trust.knows_publisher(&rec.publisher) {
                        ", and one you already trust"
                    } else {
                        ""
                    }
                )
            } else {
                String::new()
            }
        ));
        return signed_from_record(s, rec);
    };
    let sig = SealwaxSignature::parse(&text, &path, &s.log)?;
    Ok(Signed {
        sig,
        key: None,
        index: proof.as_ref().map(|(p, _)| p.index),
        proof,
    })
}

/// Picks the logged signature of a release asked for by name: the newest
/// one, or without a version the newest whose key is valid at its index
/// (so a release by a since-revoked key does not block the package).
fn pick_release(s: &mut Session, wanted: &Wanted) -> Result<Signed> {
    let records = s.api.signatures_by_release(
        &wanted.publisher,
        &wanted.package,
        wanted.version.as_deref(),
    )?;
    let mut candidates: Vec<&SignatureAnswer> = records
        .iter()
        .filter(|r| {
            r.publisher == wanted.publisher
                && r.package == wanted.package
                && wanted.version.as_ref().is_none_or(|v| &r.version == v)
        })
        .collect();
    candidates.sort_by_key(|r| std::cmp::Reverse(r.index));
    let newest = *candidates
        .first()
        .ok_or_else(|| ClientError::NoSuchRelease(wanted.to_string()))?;
    if wanted.version.is_some() {
        // A version names one artifact: a log listing two is lying.
        if let Some(other) = candidates.iter().find(|r| r.sha256 != newest.sha256) {
            return Err(s.misbehaving(format!(
                "it lists two artifacts for {wanted}: SHA-256 {} (index {}) and {} (index {})",
                hex::encode(other.sha256),
                other.index,
                hex::encode(newest.sha256),
                newest.index
            )));
        }
    }
    if wanted.version.is_some() || candidates.len() == 1 {
        return signed_from_record(s, newest);
    }
    let Some(history) = s.history(&wanted.publisher)? else {
        return signed_from_record(s, newest);
    };
    let url = s.api.url().to_string();
    let valid = candidates.iter().copied().find(|r| {
        let Ok(Ok(Entry::Signature(se))) = decode_entry(&url, &r.entry).map(|b| Entry::parse(&b))
        else {
            return false;
        };
        history
            .keys
            .status_for_signature(&se.key.key_hash(), r.index)
            .is_valid()
    });
    signed_from_record(s, valid.unwrap_or(newest))
}

/// An error answer of a URL that is not the log's: its status, never its
/// body (often an HTML page).
fn from_url(url: &str, e: ClientError) -> ClientError {
    match e {
        ClientError::LogHttp { status: 404, .. } => ClientError::UrlNotFound {
            url: url.to_string(),
        },
        ClientError::LogHttp { status, .. } => ClientError::UrlHttp {
            url: url.to_string(),
            status,
        },
        other => other,
    }
}

/// Phase 1: the artifact, staged beside its destination and hashed as it
/// streams, and its signature.
fn fetch(ctx: &Ctx, s: &mut Session, target: &Target, to: &Path) -> Result<Fetched> {
    let trust = ctx.trust_store(&s.log)?;
    let release_name = |signed: &Signed| {
        format!(
            "{}-{}",
            signed.sig.release.package, signed.sig.release.version
        )
    };
    let (staged, digests, signed, dest_name, what) = match target {
        Target::Release(wanted) => {
            let signed = pick_release(s, wanted)?;
            let sha = signed.sig.release.sha256;
            let (reader, len) = s.api.download_artifact(&sha).map_err(|e| match e {
                ClientError::LogHttp { status: 404, .. } => {
                    ClientError::ArtifactNotStored(wanted.to_string())
                }
                other => other,
            })?;
            let (staged, digests) = stage(ctx, to, reader, len, "downloading")?;
            let dest_name = release_name(&signed);
            (staged, digests, signed, dest_name, wanted.to_string())
        }
        Target::Url(url) => {
            let (reader, len) = s.api.download(url).map_err(|e| from_url(url, e))?;
            let (staged, digests) = stage(ctx, to, reader, len, "downloading")?;
            let fetch = |suffix: &str| -> Result<Option<(String, PathBuf)>> {
                let u = format!("{url}{suffix}");
                let text = s.api.fetch_text(&u).map_err(|e| from_url(&u, e))?;
                Ok(text.map(|t| (t, PathBuf::from(&u))))
            };
            let (minisig, proof) = (fetch(".minisig")?, fetch(".tlog-proof")?);
            let signed = signed_from_companions(ctx, s, &trust, url, minisig, proof, &digests)?;
            let dest_name = reqwest::Url::parse(url)
                .ok()
                .and_then(|u| {
                    u.path_segments()
                        .and_then(|mut p| p.next_back().map(str::to_string))
                })
                .filter(|n| !n.is_empty() && n != "." && n != "..")
                .unwrap_or_else(|| release_name(&signed));
            (staged, digests, signed, dest_name, url.clone())
        }
        Target::File { path, .. } => {
            let f = open_named(path, "artifact", "install")?;
            let len = f.metadata().map(|m| m.len()).ok();
            let (staged, digests) = stage(ctx, to, f, len, "copying")?;
            let read = |p: PathBuf| -> Result<Option<(String, PathBuf)>> {
                Ok(crate::atomic::read_optional(&p)?.map(|t| (t, p)))
            };
            let minisig = read(sibling(path, ".minisig"))?;
            let proof = read(sibling(path, ".tlog-proof"))?;
            let what = path.display().to_string();
            let signed = signed_from_companions(ctx, s, &trust, &what, minisig, proof, &digests)?;
            let dest_name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| release_name(&signed));
            (staged, digests, signed, dest_name, what)
        }
    };
    Ok(Fetched {
        staged,
        digests,
        signed,
        dest_name,
        what,
    })
}

/// What phase 2 proved.
struct Checked {
    history: VerifiedHistory,
    key: PublicKey,
    index: u64,
    inclusion: Vec<Hash>,
}

/// The release signed is the one asked for by name, if it was.
fn check_named(target: &Target, release: &Release) -> Result<()> {
    let (wanted, is_file) = match target {
        Target::Release(w) => (w, false),
        Target::File { named: Some(w), .. } => (w, true),
        _ => return Ok(()),
    };
    if wanted.matches(release) {
        return Ok(());
    }
    Err(ClientError::ReleaseMismatch {
        wanted: if is_file {
            format!(
                "{wanted} (a file of that name exists here; to install the file itself, write ./{wanted})"
            )
        } else {
            wanted.to_string()
        },
        found: format!(
            "{}/{}@{}",
            release.publisher, release.package, release.version
        ),
    })
}

/// The publisher's proven key history and, in it, the key that made the signature.
fn history_and_key(s: &mut Session, signed: &Signed) -> Result<(VerifiedHistory, PublicKey)> {
    let publisher = &signed.sig.release.publisher;
    let not_in_history = || ClientError::KeyNotInHistory {
        publisher: publisher.clone(),
        key_id: signed.sig.sigbox.key_id_hex(),
    };
    let history = s.history(publisher)?.ok_or_else(not_in_history)?;
    let key = match signed.key {
        Some(k) => k,
        None => key_of_signature(history.keys.keys().iter().map(|r| &r.key), &signed.sig)
            .ok_or_else(not_in_history)?,
    };
    Ok((history, key))
}

/// Checks the staged artifact against the signature made by `key`, naming
/// what was asked for (not the staged file) in a refusal.
fn check_fetched(f: &Fetched, key: &PublicKey) -> Result<SignatureEntry> {
    check_artifact(&f.staged.path, &f.signed.sig, key, &f.digests).map_err(|e| match e {
        ClientError::DigestMismatch {
            expected, actual, ..
        } => ClientError::DigestMismatch {
            path: PathBuf::from(&f.what),
            expected,
            actual,
        },
        ClientError::BadSignature { cause, .. } => ClientError::BadSignature {
            path: PathBuf::from(&f.what),
            cause,
        },
        other => other,
    })
}

/// Phase 2: the release is the one asked for; the signature is by a key
/// of the publisher's proven history and verifies over the artifact; the
/// entry is in the log (its own proof, if any, and a fresh one); the
/// artifact is the one this client saw for the release before.
fn check(s: &mut Session, target: &Target, f: &Fetched) -> Result<Checked> {
    let release = &f.signed.sig.release;
    check_named(target, release)?;
    let publisher = release.publisher.clone();
    if let Some(i) = f.signed.index {
        s.covering(i)?;
    }
    let (history, key) = history_and_key(s, &f.signed)?;
    let entry = check_fetched(f, &key)?;
    let leaf = leaf_of(&entry);

    let index = match f.signed.index {
        Some(i) => i,
        None => find_logged_index(&s.api, &entry, &f.digests.sha256)?.ok_or_else(|| {
            ClientError::Downgrade {
                what: f.what.clone(),
                publisher: publisher.clone(),
            }
        })?,
    };
    if let Some((proof, path)) = &f.signed.proof {
        check_proof(path, proof, &leaf, &s.log)?;
        s.tracker
            .accept(&s.api, &proof.checkpoint, Freshness::Historical)?;
    }
    s.covering(index)?;
    let history = s.history_at_checkpoint(history)?;
    prove_release(&s.api, &s.log, &s.cp, release, index)?;
    let answer = s.api.inclusion_proof(index, s.cp.size)?;
    let inclusion = answer.proof;
    verify_inclusion(&leaf, index, s.cp.size, &inclusion, &s.cp.root).map_err(|e| {
        s.misbehaving(format!(
            "its inclusion proof for the signature at index {index} does not verify: {e}"
        ))
    })?;

    if let Some(recorded) = s.states.load(&publisher)? {
        let record = ReleaseRecord {
            index,
            sha256: release.sha256,
        };
        if let Some(why) = recorded.contradicts_release(&ReleaseName::of(release), &record) {
            return Err(s.misbehaving(why));
        }
    }
    Ok(Checked {
        history,
        key,
        index,
        inclusion,
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

/// How the key came to be trusted in this install.
enum Trusted {
    /// A root of trust already.
    Already(TrustSource),
    /// Chained from a trusted root.
    Chain { root: Hash, path: Vec<Hash> },
    /// `--trust-new-keys`: the publisher's claim key, on first use.
    FirstUse { root: Hash },
    /// The user said yes at the prompt.
    Prompted,
}

impl Trusted {
    fn as_str(&self) -> &'static str {
        match self {
            Trusted::Already(s) => s.as_str(),
            Trusted::Chain { .. } => "chain",
            Trusted::FirstUse { .. } => "first-use",
            Trusted::Prompted => "tofu",
        }
    }
}

/// Phase 3: the key's status at the signature's index, and whether this
/// client trusts it — one call to `sealwax_proto::trust::decide` — then the
/// prompt or `--trust-new-keys` for a key nobody trusted yet.
fn decide_trust(
    ctx: &Ctx,
    s: &Session,
    f: &Fetched,
    c: &Checked,
    trust_new_keys: bool,
) -> Result<Trusted> {
    let release = &f.signed.sig.release;
    let publisher = &release.publisher;
    let key_hash = c.key.key_hash();
    let key_id = c.key.key_id_hex();
    let trust = ctx.trust_store(&s.log)?;
    let keys = &c.history.keys;
    let new = match decide(keys, &key_hash, c.index, &trust.roots(publisher)) {
        Err(status) => return Err(status_error(publisher, &c.key, c.index, status)),
        Ok(Trust::Direct) => {
            let source = trust
                .find(publisher, &key_hash)
                .map_or(TrustSource::Import, |t| t.source);
            return Ok(Trusted::Already(source));
        }
        Ok(Trust::Chain { root, path }) => return Ok(Trusted::Chain { root, path }),
        Ok(Trust::New(n)) => n,
    };
    // Before any prompt: what the log says about where this key came from.
    if let Some(op) = new.operator {
        let rec = keys.key(&op).expect("the chain's keys are the publisher's");
        let at = rec.vouchings.last().map_or(rec.registered_at, |v| v.index);
        let whose = if op == key_hash {
            format!("key {key_id}")
        } else {
            format!("key {key_id} chains to key {}, which", rec.key.key_id_hex())
        };
        ctx.warn(format_args!(
            "{whose} was registered for {publisher:?} by the log's operator (with the admin token, log index {at}), not by a key of {publisher:?}: trust it only if {publisher:?} told you about it"
        ));
    }
    if new.publisher_known {
        ctx.warn(format_args!(
            "you already trust other keys of {publisher:?}, and none of them authorised key {key_id} (no chain of trust in the log)"
        ));
    }
    let terminal = std::io::stdin().is_terminal();
    let name = format!("{publisher}/{}@{}", release.package, release.version);
    if trust_new_keys {
        match new.first_use() {
            Ok(root) => return Ok(Trusted::FirstUse { root }),
            Err(why) if !terminal => {
                let reason = match why {
                    NotFirstUse::Operator(_) => "it trusts only a publisher's own first key, never one the log's operator registered or vouched for".to_string(),
                    NotFirstUse::PublisherKnown => format!("it trusts only the first key of a publisher you have never trusted, and you already trust keys of {publisher:?}"),
                };
                return Err(ClientError::NotFirstUse {
                    publisher: publisher.clone(),
                    key_id,
                    key_b64: c.key.to_base64(),
                    reason,
                });
            }
            Err(_) => {}
        }
    }
    if !terminal {
        return Err(ClientError::NewKeyNoTerminal {
            publisher: publisher.clone(),
            key_id,
            key_b64: c.key.to_base64(),
        });
    }
    if ask_trust(&c.key, &name)? {
        Ok(Trusted::Prompted)
    } else {
        Err(ClientError::TrustDeclined {
            publisher: publisher.clone(),
            key_id,
        })
    }
}

/// Asks on the terminal whether to trust a new key (the WAPM prompt).
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

/// Records the trust decision in the trust store, saying what it did.
fn record_trust(
    ctx: &Ctx,
    s: &Session,
    c: &Checked,
    publisher: &str,
    trusted: &Trusted,
) -> Result<()> {
    let mut trust = ctx.trust_store(&s.log)?;
    let keys = &c.history.keys;
    let id = |h: &Hash| keys.key(h).map(|r| r.key.key_id_hex()).unwrap_or_default();
    let key_id = c.key.key_id_hex();
    let imported = || {
        ctx.say(format_args!(
            "Importing key \"{key_id}\" for user \"{publisher}\""
        ))
    };
    match trusted {
        Trusted::Already(_) => return Ok(()),
        Trusted::Chain { root, path } => {
            ctx.say(format_args!(
                "Key {key_id} of {publisher:?} was rotated in by trusted key {} (chain of trust logged at index {}): trusting it",
                id(root),
                keys.key(&c.key.key_hash()).map_or(0, |r| r.registered_at)
            ));
            trust.add(publisher, &c.key, TrustSource::Chain, path.get(1));
            imported();
        }
        Trusted::FirstUse { root } => {
            let root_key = keys
                .key(root)
                .expect("the chain's keys are the publisher's")
                .key;
            ctx.say(format_args!(
                "Trusting {publisher:?} on first use (--trust-new-keys): its first key {} claimed the name at index {}",
                root_key.key_id_hex(),
                keys.key(root).map_or(0, |r| r.registered_at)
            ));
            trust.add(publisher, &root_key, TrustSource::Tofu, None);
            if *root != c.key.key_hash() {
                ctx.say(format_args!(
                    "Key {key_id} chains to it through logged chain-of-trust signatures: trusting it"
                ));
                let voucher = keys.key(&c.key.key_hash()).map(|r| r.voucher());
                trust.add(
                    publisher,
                    &c.key,
                    TrustSource::Chain,
                    voucher.as_ref().and_then(|v| v.key()),
                );
            }
            imported();
        }
        Trusted::Prompted => {
            trust.add(publisher, &c.key, TrustSource::Tofu, None);
            imported();
        }
    }
    trust.save()
}

/// Phase 4: the staged copy takes its name, with its `.minisig` and a fresh
/// `.tlog-proof` beside it; the release's artifact is recorded.
fn write(ctx: &Ctx, s: &Session, to: &Path, f: Fetched, c: &Checked) -> Result<PathBuf> {
    let dest = to.join(&f.dest_name);
    let mut sigbox = f.signed.sig.sigbox.clone();
    if sigbox.untrusted_comment.is_empty() {
        sigbox.untrusted_comment = "signature from sealwax".into();
    }
    let proof = TlogProof {
        extra: None,
        index: c.index,
        inclusion: c.inclusion.clone(),
        checkpoint: s.cp_text.clone(),
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
    let mut staged = f.staged;
    if let Err(e) = fs::rename(&staged.path, &dest) {
        // The artifact did not take its name: its companions go too.
        let _ = fs::remove_file(sibling(&dest, ".minisig"));
        let _ = fs::remove_file(sibling(&dest, ".tlog-proof"));
        return Err(ClientError::io("install", &dest, e));
    }
    staged.keep = true;
    sync_dir(to)?;
    let release = &f.signed.sig.release;
    if let Some(mut recorded) = s.states.load(&release.publisher)? {
        recorded
            .releases
            .entry(release_key(&ReleaseName::of(release)))
            .or_insert(ReleaseRecord {
                index: c.index,
                sha256: release.sha256,
            });
        s.states.save(&recorded)?;
    }
    ctx.say(format_args!(
        "Signature of package {}/{}@{} verified!",
        release.publisher, release.package, release.version
    ));
    ctx.say(format_args!(
        "Package installed successfully to {}",
        dest.display()
    ));
    Ok(dest)
}

/// The prefix of an artifact being downloaded or copied into `--to`.
const STAGED_PREFIX: &str = ".sealwax-staged-";

/// How old a staged file must be to count as left behind by an install
/// that was killed (a younger one may belong to an install under way).
const STALE_STAGED: std::time::Duration = std::time::Duration::from_secs(3600);

/// Creates `dir` and its missing parents; returns the ones it created,
/// deepest first.
fn create_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut next = Some(dir);
    while let Some(d) = next.filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        missing.push(d.to_path_buf());
        next = d.parent();
    }
    fs::create_dir_all(dir).map_err(|e| ClientError::io("create directory", dir, e))?;
    Ok(missing)
}

/// Removes the directories a failed install created, deepest first, as
/// long as they are empty.
fn remove_created(dirs: &[PathBuf]) {
    for d in dirs {
        if fs::remove_dir(d).is_err() {
            break;
        }
    }
}

/// Removes the staged files in `dir` older than [`STALE_STAGED`]: what an
/// install that was killed left behind.
fn remove_stale_staged(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(std::result::Result::ok) {
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_STAGED);
        if stale && e.file_name().to_string_lossy().starts_with(STAGED_PREFIX) {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Installs one target. A failure leaves nothing behind: the staged copy is
/// removed, and so is the `--to` directory if this install created it.
pub fn run(ctx: &Ctx, args: InstallArgs) -> Result<serde_json::Value> {
    let target = Target::parse(&args.target)?;
    if let Target::File { path, .. } = &target {
        // Before any network: a missing file is "no such file".
        open_named(path, "artifact", "install")?;
    }
    let mut session = Session::start(ctx, args.max_download, args.tiles.as_deref())?;
    let created = create_dirs(&args.to)?;
    remove_stale_staged(&args.to);
    install_into(ctx, &mut session, &target, &args).inspect_err(|_| remove_created(&created))
}

/// Fetches, checks and installs `target` into the existing `--to` directory.
fn install_into(
    ctx: &Ctx,
    session: &mut Session,
    target: &Target,
    args: &InstallArgs,
) -> Result<serde_json::Value> {
    let fetched = fetch(ctx, session, target, &args.to).map_err(|e| target.not_found(e))?;
    let checked = check(session, target, &fetched)?;
    let trusted = decide_trust(ctx, session, &fetched, &checked, args.trust_new_keys)?;
    let release = fetched.signed.sig.release.clone();
    record_trust(ctx, session, &checked, &release.publisher, &trusted)?;
    let (sha256, size) = (fetched.digests.sha256, fetched.digests.len);
    let dest = write(ctx, session, &args.to, fetched, &checked)?;
    let key_hash = checked.key.key_hash();
    // The shape `verify --json` prints too, plus what only an install knows.
    Ok(json!({
        "verified": true,
        "installed": dest,
        "publisher": release.publisher,
        "package": release.package,
        "version": release.version,
        "sha256": hex::encode(sha256),
        "size": size,
        "key_id": checked.key.key_id_hex(),
        "key_hash": hex::encode(key_hash),
        "index": checked.index,
        "tree_size": session.cp.size,
        "cosigned_by": session.log.cosigners(&session.cp_text),
        "key_authorization": checked.history.keys.key(&key_hash).map(|r| r.voucher().kind()),
        "trust": trusted.as_str(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_classified() {
        let w = |p: &str, n: &str, v: Option<&str>| Wanted {
            publisher: p.into(),
            package: n.into(),
            version: v.map(Into::into),
        };
        assert_eq!(
            Target::parse("alice/hello@1.0").unwrap(),
            Target::Release(w("alice", "hello", Some("1.0")))
        );
        assert_eq!(
            Target::parse("alice/hello").unwrap(),
            Target::Release(w("alice", "hello", None))
        );
        assert_eq!(
            Target::parse("https://x.example/a.tgz").unwrap(),
            Target::Url("https://x.example/a.tgz".into())
        );
        assert_eq!(
            Target::parse("./alice/hello@1.0").unwrap(),
            Target::File {
                path: "./alice/hello@1.0".into(),
                named: None
            }
        );
        for bad in [
            "alice",
            "alice/",
            "/hello",
            "alice/hello@",
            "a/b/c",
            "Alice/hello",
        ] {
            assert!(
                !matches!(Target::parse(bad), Ok(Target::Release(_))),
                "{bad}"
            );
        }
    }
}
