//! The optional artifact store: files addressed by their SHA-256, kept so
//! that `sealwax install publisher/package@version` works against one server.
//!
//! An upload streams to a temporary file while it is hashed and counted;
//! only a body that hashes to the name it was sent under, and is within the
//! size limit, is fsynced and renamed into place. The API layer accepts
//! uploads only for a SHA-256 that a logged signature names.

use std::path::{Path, PathBuf};

use axum::body::Body;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::log_error::LogError;

/// Where the artifacts live.
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    dir: PathBuf,
    max_bytes: u64,
}

/// Removes a temporary file unless disarmed (also when the upload is cancelled).
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
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
    /// Opens the store in `dir` (created if missing), removing leftover temporary files.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<ArtifactStore> {
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp)?;
        for e in std::fs::read_dir(&tmp)? {
            let _ = std::fs::remove_file(e?.path());
        }
        Ok(ArtifactStore {
            dir: dir.to_path_buf(),
            max_bytes,
        })
    }

    /// The size limit.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn path_for(&self, sha256: &[u8; 32]) -> PathBuf {
        self.dir.join(hex::encode(sha256))
    }

    /// Stores `body` as the artifact `sha256`, refusing a body that is too
    /// large or hashes to something else.
    pub async fn put(&self, sha256: [u8; 32], mut body: Body) -> Result<Stored, LogError> {
        let hex_name = hex::encode(sha256);
        let final_path = self.path_for(&sha256);
        if let Ok(meta) = tokio::fs::metadata(&final_path).await {
            return Ok(Stored {
                size: meta.len(),
                existed: true,
            });
        }
        let tmp_path = self
            .dir
            .join("tmp")
            .join(format!("{hex_name}.{:016x}.part", rand::random::<u64>()));
        let mut guard = TempFile(Some(tmp_path.clone()));
        let mut file = tokio::fs::File::create(&tmp_path)
            .await
            .map_err(|e| LogError::internal("cannot create an artifact temp file", e))?;
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
            if size > self.max_bytes {
                return Err(LogError::TooLarge(format!(
                    "the artifact is larger than this log's limit of {} bytes",
                    self.max_bytes
                )));
            }
            hasher.update(&data);
            file.write_all(&data)
                .await
                .map_err(|e| LogError::internal("cannot write an artifact", e))?;
        }
        let got: [u8; 32] = hasher.finalize().into();
        if got != sha256 {
            return Err(LogError::BadUpload(format!(
                "the uploaded body has SHA-256 {}, not {hex_name}: upload the exact artifact that was signed",
                hex::encode(got)
            )));
        }
        file.sync_all()
            .await
            .map_err(|e| LogError::internal("cannot sync an artifact", e))?;
        drop(file);
        tokio::fs::rename(&tmp_path, &final_path)
            .await
            .map_err(|e| LogError::internal("cannot move an artifact into place", e))?;
        guard.0 = None;
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(dir).and_then(|d| d.sync_all()))
            .await
            .map_err(|e| LogError::internal("artifact dir sync task failed", e))?
            .map_err(|e| LogError::internal("cannot sync the artifact directory", e))?;
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

    #[tokio::test]
    async fn stores_only_matching_bodies_within_the_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(tmp.path(), 10).unwrap();
        let data = b"0123456789".to_vec();
        let st = store
            .put(sha(&data), Body::from(data.clone()))
            .await
            .unwrap();
        assert_eq!(
            st,
            Stored {
                size: 10,
                existed: false
            }
        );
        let again = store
            .put(sha(&data), Body::from(data.clone()))
            .await
            .unwrap();
        assert!(again.existed);
        let (_, len) = store.open_read(&sha(&data)).await.unwrap().unwrap();
        assert_eq!(len, 10);

        let wrong = store
            .put([0; 32], Body::from(b"abc".to_vec()))
            .await
            .unwrap_err();
        assert!(matches!(wrong, LogError::BadUpload(_)), "{wrong}");
        assert!(store.open_read(&[0; 32]).await.unwrap().is_none());

        let big = b"0123456789a".to_vec();
        let err = store
            .put(sha(&big), Body::from(big.clone()))
            .await
            .unwrap_err();
        assert!(matches!(err, LogError::TooLarge(_)), "{err}");
        // No temporary files are left behind.
        assert_eq!(
            std::fs::read_dir(tmp.path().join("tmp")).unwrap().count(),
            0
        );
    }
}
