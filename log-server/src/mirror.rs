//! The object storage mirror (`--mirror s3://BUCKET[/PREFIX]`): a background
//! task copies every new hash tile, entry bundle and then the checkpoint
//! `/checkpoint` serves to an S3-compatible bucket, at the C2SP tlog-tiles
//! paths under PREFIX, so that readers (or a CDN) need only static files.
//!
//! - **Order:** a round uploads every tile the new checkpoint needs before
//!   the checkpoint, so a reader of the bucket never sees a checkpoint whose
//!   tiles are missing.
//! - **Off the write path:** the task reads [`Log::published`] about once a
//!   second; the sequencer never waits for it. A slow or absent store only
//!   makes the mirror lag, and a later round catches up in one go.
//! - **Write once:** full tiles and bundles are put with `If-None-Match: *`;
//!   an object already there with other bytes is an alarm (the mirror stops
//!   and `/healthz` says why), never an overwrite.
//! - **Restart:** the task starts from the bucket's checkpoint (after checking
//!   it is this log's, and that its root is this log's root at that size).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, Attributes, ClientOptions, ObjectStore, PutMode, PutOptions, RetryConfig,
};
use sealwax_proto::checkpoint::{open_checkpoint, Checkpoint};
use sealwax_proto::merkle;
use sealwax_proto::note::Note;
use sealwax_proto::tile::{changed_tiles, TileId};
use thiserror::Error;

use crate::api::{CACHE_IMMUTABLE, CACHE_SHORT};
use crate::cosign::Witnessing;
use crate::log::Log;

/// How often the mirror looks for a newer checkpoint.
pub const MIRROR_INTERVAL: Duration = Duration::from_secs(1);
/// How often the log's served size is noted for the lag metrics, apart
/// from the rounds (which may take long while catching up).
const LAG_SAMPLE: Duration = Duration::from_millis(100);
/// The default of `--mirror-stuck-secs`.
pub const DEFAULT_MIRROR_STUCK_SECS: u64 = 300;
/// Most objects uploaded at once.
const PARALLEL_UPLOADS: usize = 16;
/// Tiles read from storage and uploaded per step of a round.
const STEP: usize = 64;

/// A `s3://BUCKET[/PREFIX]` mirror location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorTarget {
    /// The bucket.
    pub bucket: String,
    /// The key prefix, without leading or trailing slashes (empty for none).
    pub prefix: String,
}

impl MirrorTarget {
    /// Parses `s3://BUCKET[/PREFIX]`.
    pub fn parse(s: &str) -> Result<MirrorTarget, String> {
        let rest = s.strip_prefix("s3://").ok_or_else(|| {
            format!("{s:?} is not an S3 location: write it as s3://BUCKET or s3://BUCKET/PREFIX")
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
        if bucket.len() < 3 || bucket.len() > 63 || !bucket.chars().all(valid) {
            return Err(format!(
                "{bucket:?} is not an S3 bucket name: use 3 to 63 lower-case letters, digits, '-' and '.'"
            ));
        }
        let prefix = prefix.trim_matches('/').to_owned();
        if prefix.split('/').any(|p| p == "." || p == "..") {
            return Err(format!(
                "the prefix {prefix:?} has a '.' or '..' segment: name a plain folder"
            ));
        }
        Ok(MirrorTarget {
            bucket: bucket.to_owned(),
            prefix,
        })
    }

    /// The location as `s3://BUCKET[/PREFIX]`.
    pub fn url(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.prefix)
        }
    }
}

/// Why a mirror round stopped.
#[derive(Debug, Error)]
pub enum MirrorError {
    /// The store failed or could not be reached; the next round retries.
    #[error("the object store failed: {0}")]
    Store(#[from] object_store::Error),
    /// The log could not read a tile it should have.
    #[error("the log could not read {0} from its storage")]
    Log(String),
    /// The bucket holds something this log did not write: the mirror stops.
    #[error("{0}")]
    Conflict(String),
}

impl MirrorError {
    /// The `kind` label of the failure metric.
    fn kind(&self) -> &'static str {
        match self {
            MirrorError::Store(_) => "store",
            MirrorError::Log(_) => "log",
            MirrorError::Conflict(_) => "conflict",
        }
    }
}

/// The mirror: where it writes and what it has done, for `/metrics` and `/healthz`.
pub struct Mirror {
    target: MirrorTarget,
    store: Arc<dyn ObjectStore>,
    stuck_after: Duration,
    /// Size of the checkpoint in the bucket (as far as this process knows).
    mirrored: AtomicU64,
    /// Size of the newest checkpoint the log serves, as last seen.
    published: AtomicU64,
    /// Sizes served but not mirrored yet, with when they were first seen.
    pending: Mutex<VecDeque<(u64, Instant)>>,
    uploads: AtomicU64,
    upload_bytes: AtomicU64,
    /// Partial tiles deleted once their full tile was mirrored.
    deleted: AtomicU64,
    failures: Mutex<BTreeMap<&'static str, u64>>,
    /// Set when the bucket holds what this log did not write.
    conflict: Mutex<Option<String>>,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Mirror {
    /// A mirror to `target`, with the endpoint and credentials from the
    /// standard `AWS_*` variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`).
    pub fn from_env(target: MirrorTarget, stuck_after: Duration) -> Result<Mirror, MirrorError> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
        // A store that is down fails a round in seconds (the next round
        // retries), rather than holding it in retries for minutes. The
        // client options go first: setting them replaces `allow_http`.
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&target.bucket)
            .with_retry(RetryConfig {
                max_retries: 2,
                retry_timeout: Duration::from_secs(10),
                ..Default::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(3))
                    .with_timeout(Duration::from_secs(20)),
            );
        if endpoint.starts_with("http://") {
            b = b.with_allow_http(true);
        }
        if std::env::var_os("AWS_REGION").is_none() {
            b = b.with_region("us-east-1");
        }
        let store = b.build()?;
        Ok(Mirror::new(target, Arc::new(store), stuck_after))
    }

    /// A mirror to `target` writing through `store`.
    pub fn new(target: MirrorTarget, store: Arc<dyn ObjectStore>, stuck_after: Duration) -> Mirror {
        Mirror {
            target,
            store,
            stuck_after,
            mirrored: AtomicU64::new(0),
            published: AtomicU64::new(0),
            pending: Mutex::new(VecDeque::new()),
            uploads: AtomicU64::new(0),
            upload_bytes: AtomicU64::new(0),
            deleted: AtomicU64::new(0),
            failures: Mutex::new(BTreeMap::new()),
            conflict: Mutex::new(None),
        }
    }

    /// The mirror location.
    pub fn target(&self) -> &MirrorTarget {
        &self.target
    }

    /// The object key of `rel` (`checkpoint`, `tile/0/000`) under the prefix.
    fn key(&self, rel: &str) -> ObjectPath {
        if self.target.prefix.is_empty() {
            ObjectPath::from(rel)
        } else {
            ObjectPath::from(format!("{}/{rel}", self.target.prefix))
        }
    }

    /// How long the oldest checkpoint not mirrored yet has waited.
    fn lag(&self) -> Duration {
        let p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        p.front().map_or(Duration::ZERO, |(_, at)| at.elapsed())
    }

    /// Notes that the log serves a checkpoint of `size`.
    fn saw(&self, size: u64) {
        self.published.store(size, Ordering::Relaxed);
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let newer = p
            .back()
            .map_or(size > self.mirrored.load(Ordering::Relaxed), |(s, _)| {
                size > *s
            });
        if newer {
            p.push_back((size, Instant::now()));
        }
    }

    /// Notes that the bucket's checkpoint is now of `size`.
    fn mirrored_to(&self, size: u64) {
        self.mirrored.store(size, Ordering::Relaxed);
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        while p.front().is_some_and(|(s, _)| *s <= size) {
            p.pop_front();
        }
    }

    /// Counts a failed round.
    fn failed(&self, e: &MirrorError) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        *f.entry(e.kind()).or_default() += 1;
    }

    /// `Err` with what to do when the mirror found a conflict or has been
    /// stuck for longer than `--mirror-stuck-secs`.
    pub fn health(&self) -> Result<(), String> {
        if let Some(c) = self
            .conflict
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Err(format!("the mirror to {} stopped: {c}", self.target.url()));
        }
        let lag = self.lag();
        if lag > self.stuck_after {
            return Err(format!(
                "the mirror to {} is stuck: its newest checkpoint is {} entries and {} s behind the log (more than --mirror-stuck-secs {}); check that the object store is up and the credentials are valid",
                self.target.url(),
                self.published
                    .load(Ordering::Relaxed)
                    .saturating_sub(self.mirrored.load(Ordering::Relaxed)),
                lag.as_secs(),
                self.stuck_after.as_secs()
            ));
        }
        Ok(())
    }

    /// The mirror metrics in Prometheus text.
    pub fn render(&self, out: &mut String) {
        let mirrored = self.mirrored.load(Ordering::Relaxed);
        let published = self.published.load(Ordering::Relaxed);
        let _ = writeln!(out, "# HELP sealwax_mirror_tree_size Size of the checkpoint in the mirror bucket.\n# TYPE sealwax_mirror_tree_size gauge\nsealwax_mirror_tree_size {mirrored}");
        let _ = writeln!(out, "# HELP sealwax_mirror_lag_entries Entries the log serves that the mirror's checkpoint does not cover yet.\n# TYPE sealwax_mirror_lag_entries gauge\nsealwax_mirror_lag_entries {}", published.saturating_sub(mirrored));
        let _ = writeln!(out, "# HELP sealwax_mirror_lag_seconds Age of the oldest checkpoint not mirrored yet (0 when up to date).\n# TYPE sealwax_mirror_lag_seconds gauge\nsealwax_mirror_lag_seconds {:.3}", self.lag().as_secs_f64());
        let _ = writeln!(out, "# HELP sealwax_mirror_uploads_total Objects uploaded to the mirror.\n# TYPE sealwax_mirror_uploads_total counter\nsealwax_mirror_uploads_total {}", self.uploads.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP sealwax_mirror_upload_bytes_total Bytes uploaded to the mirror.\n# TYPE sealwax_mirror_upload_bytes_total counter\nsealwax_mirror_upload_bytes_total {}", self.upload_bytes.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP sealwax_mirror_partials_deleted_total Partial tiles deleted from the mirror once their full tile was there.\n# TYPE sealwax_mirror_partials_deleted_total counter\nsealwax_mirror_partials_deleted_total {}", self.deleted.load(Ordering::Relaxed));
        let _ = writeln!(out, "# HELP sealwax_mirror_failures_total Failed mirror rounds, per kind (store, log, conflict).\n# TYPE sealwax_mirror_failures_total counter");
        let f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for kind in ["store", "log", "conflict"] {
            let n = f.get(kind).copied().unwrap_or(0);
            let _ = writeln!(out, "sealwax_mirror_failures_total{{kind=\"{kind}\"}} {n}");
        }
        let stopped = u8::from(
            self.conflict
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some(),
        );
        let _ = writeln!(out, "# HELP sealwax_mirror_stopped 1 when the mirror stopped on a conflict in the bucket.\n# TYPE sealwax_mirror_stopped gauge\nsealwax_mirror_stopped {stopped}");
    }

    /// Attributes of an uploaded object.
    fn attributes(content_type: &'static str, cache: &'static str) -> Attributes {
        let mut a = Attributes::new();
        a.insert(Attribute::ContentType, content_type.into());
        a.insert(Attribute::CacheControl, cache.into());
        a
    }

    /// Uploads one tile: a full one at most once (an object already there
    /// must hold the same bytes), a partial one over whatever is there (its
    /// path names its width, so its bytes never change either).
    async fn put_tile(&self, id: TileId, data: Vec<u8>) -> Result<(), MirrorError> {
        let key = self.key(&id.path());
        let len = data.len() as u64;
        if !id.is_full() {
            let opts = PutOptions {
                attributes: Self::attributes("application/octet-stream", CACHE_SHORT),
                ..Default::default()
            };
            self.store.put_opts(&key, data.into(), opts).await?;
            self.counted(len);
            return Ok(());
        }
        let opts = PutOptions {
            mode: PutMode::Create,
            attributes: Self::attributes("application/octet-stream", CACHE_IMMUTABLE),
            ..Default::default()
        };
        match self.store.put_opts(&key, data.clone().into(), opts).await {
            Ok(_) => {
                self.counted(len);
                Ok(())
            }
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {
                let there = self.store.get(&key).await?.bytes().await?;
                if there.as_ref() == data.as_slice() {
                    Ok(())
                } else {
                    Err(MirrorError::Conflict(format!(
                        "the bucket already holds {key} with other bytes than this log's tile ({} bytes there, {len} here); someone else wrote to the mirror, or it mirrors another log: find out which, and point --mirror at an empty location",
                        there.len()
                    )))
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Counts one uploaded object of `len` bytes.
    /// Deletes the partial tiles `gone`, whose full tiles the bucket's
    /// checkpoint already covers: a reader that still asks for one (with an
    /// older checkpoint) gets 404 and reads the full tile, as C2SP
    /// tlog-tiles requires of readers. A failed delete only leaves an object.
    async fn delete_partials(&self, gone: &[TileId]) {
        for id in gone {
            match self.store.delete(&self.key(&id.path())).await {
                Ok(()) => {
                    self.deleted.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::debug!(tile = %id.path(), error = %e, "a partial tile was not deleted")
                }
            }
        }
    }

    fn counted(&self, len: u64) {
        self.uploads.fetch_add(1, Ordering::Relaxed);
        self.upload_bytes.fetch_add(len, Ordering::Relaxed);
    }

    /// The size of the bucket's checkpoint, after checking it is this log's
    /// and its root is this log's root at that size (0 when there is none).
    async fn resume(&self, log: &Arc<Log>) -> Result<u64, MirrorError> {
        let text = match self.store.get(&self.key("checkpoint")).await {
            Ok(r) => r.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let foreign = |why: String| {
            MirrorError::Conflict(format!(
                "the bucket's checkpoint {why}; point --mirror at this log's own location, or at an empty one"
            ))
        };
        let text = std::str::from_utf8(&text).map_err(|_| foreign("is not text".into()))?;
        let (cp, _) = open_checkpoint(text, log.origin(), &log.key().verifier())
            .map_err(|e| foreign(format!("is not this log's: {e}")))?;
        let size = log.published().size;
        if cp.size > size {
            return Err(foreign(format!(
                "is of size {}, larger than this log ({size} entries): was the data directory restored from an older backup?",
                cp.size
            )));
        }
        let l = log.clone();
        let root = tokio::task::spawn_blocking(move || {
            let r = l.reader();
            merkle::tree_root(&r, cp.size).map_err(|e| r.fail(e))
        })
        .await
        .map_err(|_| MirrorError::Log("the tree root".into()))?
        .map_err(|e| MirrorError::Log(format!("the tree root: {e}")))?;
        if root != cp.root {
            return Err(foreign(format!(
                "has another root than this log at size {}",
                cp.size
            )));
        }
        Ok(cp.size)
    }

    /// Uploads the tiles of `todo` that `done` does not hold, a step at a time.
    async fn put_tiles(
        self: &Arc<Self>,
        log: &Arc<Log>,
        todo: &[TileId],
        done: &mut HashSet<TileId>,
    ) -> Result<(), MirrorError> {
        let todo: Vec<TileId> = todo.iter().filter(|t| !done.contains(t)).copied().collect();
        for step in todo.chunks(STEP) {
            let ids = step.to_vec();
            let l = log.clone();
            let tiles = tokio::task::spawn_blocking(move || {
                ids.into_iter()
                    .map(|id| l.tile(&id).map(|d| (id, d)).map_err(|_| id.path()))
                    .collect::<Result<Vec<_>, String>>()
            })
            .await
            .map_err(|_| MirrorError::Log("tiles".into()))?
            .map_err(MirrorError::Log)?;
            let mut set = tokio::task::JoinSet::new();
            let mut first_err = None;
            for (id, data) in tiles {
                if set.len() >= PARALLEL_UPLOADS {
                    if let Some(r) = set.join_next().await {
                        collect(r, done, &mut first_err);
                    }
                }
                let m = self.clone();
                set.spawn(async move { m.put_tile(id, data).await.map(|()| id) });
            }
            while let Some(r) = set.join_next().await {
                collect(r, done, &mut first_err);
            }
            if let Some(e) = first_err {
                return Err(e);
            }
        }
        Ok(())
    }
}

/// Records one finished upload: the tile in `done`, or the first error.
fn collect(
    r: Result<Result<TileId, MirrorError>, tokio::task::JoinError>,
    done: &mut HashSet<TileId>,
    first_err: &mut Option<MirrorError>,
) {
    match r {
        Ok(Ok(id)) => {
            done.insert(id);
        }
        Ok(Err(e)) => {
            // A conflict outranks a store failure.
            if first_err
                .as_ref()
                .is_none_or(|f| !matches!(f, MirrorError::Conflict(_)))
            {
                *first_err = Some(e);
            }
        }
        Err(_) => {
            first_err.get_or_insert(MirrorError::Log("an upload task".into()));
        }
    }
}

/// An error with its causes, each once (object_store's messages repeat some).
struct DisplayChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let more = c.to_string();
            if !text.contains(&more) {
                text.push_str(": ");
                text.push_str(&more);
            }
            cause = c.source();
        }
        f.write_str(&text)
    }
}

/// The checkpoint `/checkpoint` serves: the log's newest, or with a witness
/// policy the newest one a quorum cosigned (`None` before the first).
pub fn served_checkpoint(log: &Log, witnessing: Option<&Witnessing>) -> Option<Arc<str>> {
    match witnessing {
        None => Some(log.published().checkpoint.clone()),
        Some(w) => w.cosigned(),
    }
}

/// The tree size of a served checkpoint.
fn checkpoint_size(note: &str) -> Option<u64> {
    let n = Note::parse(note).ok()?;
    Checkpoint::parse(&n.text).ok().map(|c| c.size)
}

/// The state of the mirror task between rounds.
struct Progress {
    /// The bucket's checkpoint size, once read at start.
    mirrored: Option<u64>,
    /// The checkpoint text last uploaded.
    note: Option<Arc<str>>,
    /// Full and partial tiles uploaded towards the next checkpoint.
    done: HashSet<TileId>,
    /// Partial tiles this process uploaded that are still in the bucket.
    partials: Vec<TileId>,
}

/// One round: uploads what the served checkpoint needs, then the checkpoint.
async fn round(
    m: &Arc<Mirror>,
    log: &Arc<Log>,
    w: Option<&Witnessing>,
    p: &mut Progress,
) -> Result<(), MirrorError> {
    let from = match p.mirrored {
        Some(s) => s,
        None => {
            let s = m.resume(log).await?;
            tracing::info!(mirror = %m.target.url(), tree_size = s, "the mirror resumes from the bucket's checkpoint");
            m.mirrored_to(s);
            p.mirrored = Some(s);
            s
        }
    };
    let Some(note) = served_checkpoint(log, w) else {
        return Ok(());
    };
    let Some(size) = checkpoint_size(&note) else {
        return Err(MirrorError::Log("the served checkpoint".into()));
    };
    m.saw(size);
    if size < from || p.note.as_ref() == Some(&note) {
        return Ok(());
    }
    let todo = changed_tiles(from, size);
    m.put_tiles(log, &todo, &mut p.done).await?;
    let opts = PutOptions {
        attributes: Mirror::attributes("text/plain; charset=utf-8", CACHE_SHORT),
        ..Default::default()
    };
    let len = note.len() as u64;
    m.store
        .put_opts(&m.key("checkpoint"), note.as_bytes().to_vec().into(), opts)
        .await?;
    m.counted(len);
    m.mirrored_to(size);
    p.mirrored = Some(size);
    p.note = Some(note);
    p.done.clear();
    // Partial tiles whose full tile this checkpoint needs are garbage now.
    p.partials
        .extend(todo.iter().filter(|t| !t.is_full()).copied());
    let (gone, keep): (Vec<TileId>, Vec<TileId>) = p
        .partials
        .drain(..)
        .partition(|t| TileId::for_size(t.level, t.index, size).is_some_and(|f| f.is_full()));
    p.partials = keep;
    m.delete_partials(&gone).await;
    Ok(())
}

/// The mirror task: a round about once a second, until the runtime stops or
/// the bucket shows a conflict.
pub async fn run(m: Arc<Mirror>, log: Arc<Log>, witnessing: Option<Arc<Witnessing>>) {
    let mut tick = tokio::time::interval(MIRROR_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut p = Progress {
        mirrored: None,
        note: None,
        done: HashSet::new(),
        partials: Vec::new(),
    };
    let mut failing = false;
    // The lag in seconds counts from when the log first served a size, not
    // from when a round noticed it.
    let watcher = {
        let (m, log, w) = (m.clone(), log.clone(), witnessing.clone());
        tokio::spawn(async move {
            let mut t = tokio::time::interval(LAG_SAMPLE);
            t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                t.tick().await;
                if let Some(size) =
                    served_checkpoint(&log, w.as_deref()).and_then(|n| checkpoint_size(&n))
                {
                    m.saw(size);
                }
            }
        })
    };
    loop {
        tick.tick().await;
        match round(&m, &log, witnessing.as_deref(), &mut p).await {
            Ok(()) => {
                if failing {
                    tracing::info!(mirror = %m.target.url(), "the mirror uploads again");
                    failing = false;
                }
            }
            Err(e) => {
                m.failed(&e);
                if let MirrorError::Conflict(c) = &e {
                    tracing::error!(mirror = %m.target.url(), error = %c, "the mirror stops");
                    *m.conflict.lock().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
                    watcher.abort();
                    return;
                }
                if !failing {
                    tracing::warn!(mirror = %m.target.url(), error = %DisplayChain(&e), "a mirror round failed; retrying every second (the log goes on)");
                    failing = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t = MirrorTarget::parse("s3://my-bucket/a/b/").unwrap();
        assert_eq!(t.bucket, "my-bucket");
        assert_eq!(t.prefix, "a/b");
        assert_eq!(t.url(), "s3://my-bucket/a/b");
        assert_eq!(MirrorTarget::parse("s3://tiles").unwrap().prefix, "");
        for bad in [
            "tiles",
            "s3://",
            "s3://UPPER",
            "s3://b/../x",
            "http://tiles",
        ] {
            assert!(MirrorTarget::parse(bad).is_err(), "{bad}");
        }
    }
}
