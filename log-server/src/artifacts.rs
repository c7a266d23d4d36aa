//! The optional artifact store: files addressed by their SHA-256, kept so
//! that `sealwax install publisher/package@version` works against one server.
//!
//! An upload streams to a temporary file while it is hashed and counted;
//! only a body that hashes to the name it was sent under, and is within the
//! size limit, is fsynced and renamed into place. The API layer accepts
//! uploads only for a SHA-256 that a logged signature names.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use http_body_util::BodyExt;
use sealwax_durable::{DurableError, Staged, MODE_PUBLIC};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::log_error::LogError;

/// The store's size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArtifactLimits {
    /// Largest single artifact, in bytes.
    pub max_bytes: u64,
    /// Most bytes the whole store holds.
    pub quota_bytes: u64,
    /// Most bytes one publisher's artifacts take.
    pub publisher_quota_bytes: u64,
}

impl ArtifactLimits {
    /// Only a size limit per artifact, no quotas.
    pub fn max_only(max_bytes: u64) -> ArtifactLimits {
        ArtifactLimits {
            max_bytes,
            quota_bytes: u64::MAX,
            publisher_quota_bytes: u64::MAX,
        }
    }
}

/// Where the artifacts live.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    dir: PathBuf,
    limits: ArtifactLimits,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Bytes stored or being uploaded, in all and per publisher.
    usage: Mutex<Usage>,
    /// The artifacts being uploaded right now.
    uploading: Mutex<HashSet<[u8; 32]>>,
}

#[derive(Debug, Default)]
struct Usage {
    total: u64,
    by_publisher: HashMap<String, u64>,
}

/// Marks an artifact as being uploaded until dropped.
struct Uploading<'a>(&'a Shared, [u8; 32]);

impl Drop for Uploading<'_> {
    fn drop(&mut self) {
        lock(&self.0.uploading).remove(&self.1);
    }
}

/// Bytes counted against the quotas for one upload; given back on drop
/// unless the upload was stored.
struct Reservation<'a> {
    store: &'a ArtifactStore,
    publisher: &'a str,
    bytes: u64,
    kept: bool,
}

impl Reservation<'_> {
    /// Counts `n` more bytes, or says which limit they would break.
    fn grow_to(&mut self, size: u64) -> Result<(), LogError> {
        let limits = &self.store.limits;
        if size > limits.max_bytes {
            return Err(LogError::TooLarge(format!(
                "the artifact is larger than this log's limit of {} bytes",
                limits.max_bytes
            )));
        }
        let Some(n) = size.checked_sub(self.bytes).filter(|n| *n > 0) else {
            return Ok(());
        };
        let mut usage = lock(&self.store.shared.usage);
        if usage.total.saturating_add(n) > limits.quota_bytes {
            return Err(LogError::StoreFull(format!(
                "the artifact store is full ({} of its {} bytes are taken): the signature is logged regardless; \
                 host the artifact elsewhere, or ask the log's operator to raise --artifact-quota-bytes or to free space",
                usage.total, limits.quota_bytes
            )));
        }
        let mine = usage
            .by_publisher
            .entry(self.publisher.to_string())
            .or_default();
        if mine.saturating_add(n) > limits.publisher_quota_bytes {
            return Err(LogError::TooLarge(format!(
                "publisher {:?} already has {} of its {} bytes of artifacts on this log: the signature is logged \
                 regardless; host the artifact elsewhere, or ask the log's operator to raise --artifact-publisher-quota-bytes",
                self.publisher, *mine, limits.publisher_quota_bytes
            )));
        }
        *mine += n;
        usage.total += n;
        self.bytes = size;
        Ok(())
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.kept && self.bytes > 0 {
            self.store.release(self.publisher, self.bytes);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether `e` says the disk (or the user's disk quota) is full.
fn disk_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(28 | 122)) // ENOSPC, EDQUOT
}

/// The store being full, because its disk is (`e` says so).
fn full_disk(e: &dyn std::fmt::Display) -> LogError {
    tracing::warn!(error = %e, "the artifact store's disk is full");
    LogError::StoreFull(
        "the artifact store's disk is full: the signature is logged regardless; host the artifact \
         elsewhere, and tell the log's operator (--artifact-quota-bytes should be below what its disk holds)"
            .into(),
    )
}

/// A write error: a full disk is the store being full, anything else internal.
fn write_error(context: &str, e: std::io::Error) -> LogError {
    if disk_full(&e) {
        full_disk(&e)
    } else {
        LogError::internal(context, e)
    }
}

/// Runs a durable file operation of an upload off the async threads; its
/// error, like [`write_error`]'s, is a full store or an internal one.
async fn durably<T: Send + 'static>(
    op: impl FnOnce() -> Result<T, DurableError> + Send + 'static,
) -> Result<T, LogError> {
    let done = tokio::task::spawn_blocking(op)
        .await
        .map_err(|e| LogError::internal("artifact file task failed", e))?;
    done.map_err(|e| {
        if disk_full(e.cause()) {
            full_disk(&e)
        } else {
            LogError::internal("cannot store an artifact", e)
        }
    })
}

/// The result of a successful upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// Size in bytes.
    pub size: u64,
    /// Whether the artifact was already there.
    pub existed: bool,
}

impl ArtifactStore {
    /// Opens the store in `dir` with only a size limit (no quotas).
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<ArtifactStore> {
        ArtifactStore::open_with(dir, ArtifactLimits::max_only(max_bytes), |_| None)
    }

    /// Opens the store in `dir` (created if missing), removing leftover
    /// temporary files and counting what is stored against the quotas;
    /// `owner` names the publisher an artifact counts against.
    pub fn open_with(
        dir: &Path,
        limits: ArtifactLimits,
        owner: impl Fn(&[u8; 32]) -> Option<String>,
    ) -> std::io::Result<ArtifactStore> {
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        for e in std::fs::read_dir(&tmp)? {
            let _ = std::fs::remove_file(e?.path());
        }
        let mut usage = Usage::default();
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let mut sha = [0u8; 32];
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.len() != 64 || hex::decode_to_slice(name, &mut sha).is_err() {
                continue;
            }
            let len = e.metadata()?.len();
            usage.total += len;
            if let Some(p) = owner(&sha) {
                *usage.by_publisher.entry(p).or_default() += len;
            }
        }
        Ok(ArtifactStore {
            dir: dir.to_path_buf(),
            limits,
            shared: Arc::new(Shared {
                usage: Mutex::new(usage),
                uploading: Mutex::default(),
            }),
        })
    }

    /// The size limit.
    pub fn max_bytes(&self) -> u64 {
        self.limits.max_bytes
    }

    /// The size limit and the quotas.
    pub fn limits(&self) -> ArtifactLimits {
        self.limits
    }

    /// Bytes `publisher`'s artifacts take (stored and being uploaded).
    pub fn publisher_used_bytes(&self, publisher: &str) -> u64 {
        lock(&self.shared.usage)
            .by_publisher
            .get(publisher)
            .copied()
            .unwrap_or(0)
    }

    /// Bytes stored (and being uploaded), in all.
    pub fn used_bytes(&self) -> u64 {
        lock(&self.shared.usage).total
    }

    fn release(&self, publisher: &str, bytes: u64) {
        let mut usage = lock(&self.shared.usage);
        usage.total = usage.total.saturating_sub(bytes);
        if let Some(b) = usage.by_publisher.get_mut(publisher) {
            *b = b.saturating_sub(bytes);
        }
    }

    fn path_for(&self, sha256: &[u8; 32]) -> PathBuf {
        self.dir.join(hex::encode(sha256))
    }

    /// Stores `body` as the artifact `sha256` of `publisher`, refusing a body
    /// that is too large, over a quota, or hashes to something else, and a
    /// second upload of an artifact still arriving. `expected` (the
    /// Content-Length) is counted against the quotas before any byte is
    /// read; `received` is called once the whole body has arrived.
    pub async fn put(
        &self,
        sha256: [u8; 32],
        publisher: &str,
        expected: Option<u64>,
        mut body: Body,
        received: impl FnOnce(),
    ) -> Result<Stored, LogError> {
        let hex_name = hex::encode(sha256);
        let final_path = self.path_for(&sha256);
        let existing = || async {
            tokio::fs::metadata(&final_path).await.ok().map(|m| Stored {
                size: m.len(),
                existed: true,
            })
        };
        if let Some(s) = existing().await {
            return Ok(s);
        }
        if !lock(&self.shared.uploading).insert(sha256) {
            return Err(LogError::UploadInProgress(format!(
                "another upload of the artifact {hex_name} is in progress: retry once it has finished \
                 (then GET /v1/artifacts/{hex_name} answers 200)"
            )));
        }
        let _uploading = Uploading(&self.shared, sha256);
        if let Some(s) = existing().await {
            return Ok(s);
        }
        let mut reserved = Reservation {
            store: self,
            publisher,
            bytes: 0,
            kept: false,
        };
        if let Some(len) = expected {
            reserved.grow_to(len)?;
        }
        // Dropped unfinished (a refused or cancelled upload), it removes its temp file.
        let (temp_dir, target) = (self.dir.join("tmp"), final_path.clone());
        let staged = durably(move || Staged::create_in(&temp_dir, &target, MODE_PUBLIC)).await?;
        let mut file = tokio::fs::File::from_std(
            staged
                .handle()
                .map_err(|e| LogError::internal("cannot open an artifact temp file", e))?,
        );
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                LogError::BadUpload(format!("the upload was cut off or malformed: {e}"))
            })?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            size += data.len() as u64;
            reserved.grow_to(size)?;
            hasher.update(&data);
            file.write_all(&data)
                .await
                .map_err(|e| write_error("cannot write an artifact", e))?;
        }
        received();
        let got: [u8; 32] = hasher.finalize().into();
        if got != sha256 {
            return Err(LogError::BadUpload(format!(
                "the uploaded body has SHA-256 {}, not {hex_name}: upload the exact artifact that was signed",
                hex::encode(got)
            )));
        }
        // A Content-Length larger than the body reserved too much.
        if reserved.bytes > size {
            self.release(publisher, reserved.bytes - size);
            reserved.bytes = size;
        }
        // Every write has landed before the staged file is synced and renamed.
        file.flush()
            .await
            .map_err(|e| write_error("cannot write an artifact", e))?;
        drop(file);
        let committed = durably(move || staged.commit()).await;
        // Renamed into place, it counts, even if its directory's sync failed.
        reserved.kept = committed.is_ok() || tokio::fs::metadata(&final_path).await.is_ok();
        committed?;
        Ok(Stored {
            size,
            existed: false,
        })
    }

    /// Opens the artifact `sha256` for reading, with its size.
    pub async fn open_read(
        &self,
        sha256: &[u8; 32],
    ) -> Result<Option<(tokio::fs::File, u64)>, LogError> {
        match tokio::fs::File::open(self.path_for(sha256)).await {
            Ok(f) => {
                let len = f
                    .metadata()
                    .await
                    .map_err(|e| LogError::internal("cannot stat an artifact", e))?
                    .len();
                Ok(Some((f, len)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LogError::internal("cannot open an artifact", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    async fn put(store: &ArtifactStore, who: &str, data: &[u8]) -> Result<Stored, LogError> {
        store
            .put(sha(data), who, None, Body::from(data.to_vec()), || {})
            .await
    }

    #[tokio::test]
    async fn stores_only_matching_bodies_within_the_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(tmp.path(), 10).unwrap();
        let data = b"0123456789".to_vec();
        let st = put(&store, "a", &data).await.unwrap();
        assert_eq!(
            st,
            Stored {
                size: 10,
                existed: false
            }
        );
        let again = put(&store, "a", &data).await.unwrap();
        assert!(again.existed);
        let (_, len) = store.open_read(&sha(&data)).await.unwrap().unwrap();
        assert_eq!(len, 10);

        let wrong = store
            .put([0; 32], "a", None, Body::from(b"abc".to_vec()), || {})
            .await
            .unwrap_err();
        assert!(matches!(wrong, LogError::BadUpload(_)), "{wrong}");
        assert!(store.open_read(&[0; 32]).await.unwrap().is_none());

        let err = put(&store, "a", b"0123456789a").await.unwrap_err();
        assert!(matches!(err, LogError::TooLarge(_)), "{err}");
        // No temporary files are left behind.
        assert_eq!(
            std::fs::read_dir(tmp.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[tokio::test]
    async fn quotas_hold_across_publishers_and_restarts() {
        let tmp = tempfile::tempdir().unwrap();
        let limits = ArtifactLimits {
            max_bytes: 100,
            quota_bytes: 25,
            publisher_quota_bytes: 15,
        };
        let store = ArtifactStore::open_with(tmp.path(), limits, |_| None).unwrap();
        put(&store, "a", &[1; 10]).await.unwrap();
        let err = put(&store, "a", &[2; 10]).await.unwrap_err();
        assert!(matches!(err, LogError::TooLarge(_)), "{err}");
        // A refused upload gives its bytes back.
        put(&store, "a", &[3; 5]).await.unwrap();
        put(&store, "b", &[4; 10]).await.unwrap();
        let err = put(&store, "c", &[5; 1]).await.unwrap_err();
        assert!(matches!(err, LogError::StoreFull(_)), "{err}");
        // A Content-Length over the quota is refused before any byte.
        let err = store
            .put(sha(&[6]), "c", Some(1000), Body::from(vec![6]), || {})
            .await
            .unwrap_err();
        assert!(matches!(err, LogError::TooLarge(_)), "{err}");
        assert_eq!(store.used_bytes(), 25);
        let owners: HashMap<[u8; 32], &str> = [
            (sha(&[1; 10]), "a"),
            (sha(&[3; 5]), "a"),
            (sha(&[4; 10]), "b"),
        ]
        .into();
        let reopened = ArtifactStore::open_with(
            tmp.path(),
            ArtifactLimits {
                quota_bytes: 100,
                ..limits
            },
            |s| owners.get(s).map(|p| p.to_string()),
        )
        .unwrap();
        assert_eq!(reopened.used_bytes(), 25);
        let err = put(&reopened, "a", &[7; 1]).await.unwrap_err();
        assert!(
            matches!(err, LogError::TooLarge(_)),
            "a is still at its quota: {err}"
        );
        put(&reopened, "b", &[7; 1]).await.unwrap();
        assert_eq!(
            std::fs::read_dir(tmp.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
