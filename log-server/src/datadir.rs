//! The data directory: the log's signing key, its origin and its database.
//!
//! ```text
//! <data dir>/            mode 0700
//!   signing.key          mode 0600: PRIVATE+KEY+<origin>+<8 hex key ID>+<base64(0x01 || 32-byte seed)>
//!   db/                  RocksDB
//!   artifacts/           content-addressed artifact store (when enabled)
//! ```
//!
//! The key file uses the Go `sumdb/note` private-key form, so its key name is
//! the log's origin: the origin is stored once, with the key it belongs to.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::SigningKey;
use sealwax_durable::{DurableError, MODE_PRIVATE};
use sealwax_proto::note::{self, NoteSigner, NoteVerifier, SIG_TYPE_ED25519};
use thiserror::Error;

/// File name of the signing key inside the data directory.
pub const KEY_FILE: &str = "signing.key";

/// Problems with the data directory or the key in it.
///
/// A cause shown in a message is not also its `source`, so `{:#}` and
/// anyhow's "Caused by" print it once.
#[derive(Debug, Error)]
pub enum DataDirError {
    /// A file system operation failed.
    #[error("{action} {path}: {cause}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why it failed.
        cause: std::io::Error,
    },
    /// The data directory or a new key file could not be written.
    #[error(transparent)]
    Durable(#[from] DurableError),
    /// The key file can be read by other users.
    #[error("the signing key {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}` and check who may have copied it")]
    KeyFileReadable {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file does not parse.
    #[error("the signing key {path} is damaged: {reason}")]
    MalformedKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// No key yet, for a command that needs one.
    #[error("there is no log in {dir}: start `sealwax-log serve --data-dir {dir} --origin ORIGIN` once to create it")]
    NoKey {
        /// The data directory.
        dir: PathBuf,
    },
    /// First start without an origin.
    #[error("the first start needs the log's origin: pass --origin (e.g. --origin log.example.com/sealwax)")]
    OriginRequired,
    /// The origin asked for is not the one the log was created with.
    #[error("this data directory holds the log {stored:?}, not {given:?}: a log's origin never changes; use another --data-dir for a new log")]
    OriginMismatch {
        /// The stored origin.
        stored: String,
        /// The one given.
        given: String,
    },
    /// The origin cannot be a key name.
    #[error("invalid origin {0:?}: use 1-255 printable ASCII characters without spaces, '+' or '=' (e.g. log.example.com/sealwax)")]
    InvalidOrigin(String),
}

/// The log's signing key and origin.
#[derive(Clone)]
pub struct LogKey {
    signer: NoteSigner,
}

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogKey")
            .field("origin", &self.origin())
            .finish_non_exhaustive()
    }
}

impl LogKey {
    /// A key for `origin` from a signing key.
    pub fn new(origin: &str, key: SigningKey) -> Result<LogKey, DataDirError> {
        let signer = NoteSigner::new(origin, key)
            .map_err(|_| DataDirError::InvalidOrigin(origin.to_string()))?;
        Ok(LogKey { signer })
    }

    /// A fresh key for `origin`.
    pub fn generate(origin: &str) -> Result<LogKey, DataDirError> {
        LogKey::new(origin, SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// The origin (the key name).
    pub fn origin(&self) -> &str {
        self.signer.name()
    }

    /// The note signer.
    pub fn signer(&self) -> &NoteSigner {
        &self.signer
    }

    /// The verifier.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// The verifier key string `<origin>+<key ID>+<base64>`.
    pub fn vkey(&self) -> String {
        self.verifier().to_string()
    }

    /// The key file text (Go `sumdb/note` private key form).
    fn to_file_string(&self) -> String {
        let mut data = vec![SIG_TYPE_ED25519];
        data.extend_from_slice(self.signer.signing_key().as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}\n",
            self.origin(),
            hex::encode(self.signer.key_id()),
            B64.encode(&data)
        )
    }

    /// Parses the key file text.
    fn parse(text: &str, path: &Path) -> Result<LogKey, DataDirError> {
        let bad = |reason| DataDirError::MalformedKey {
            path: path.to_path_buf(),
            reason,
        };
        let rest = text
            .trim_end_matches('\n')
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("it does not start with PRIVATE+KEY+"))?;
        // The name has no '+'; the base64 key data may.
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected PRIVATE+KEY+<name>+<key ID>+<key>"));
        };
        let data = B64.decode(data).map_err(|_| bad("the key is not base64"))?;
        let seed: [u8; 32] = match data.as_slice() {
            [SIG_TYPE_ED25519, seed @ ..] => seed
                .try_into()
                .map_err(|_| bad("the key is not 32 bytes"))?,
            _ => return Err(bad("not an Ed25519 (type 0x01) key")),
        };
        let key = LogKey::new(name, SigningKey::from_bytes(&seed))?;
        let want_id = note::key_id(
            name,
            SIG_TYPE_ED25519,
            key.signer.signing_key().verifying_key().as_bytes(),
        );
        if hex::decode(id).ok().as_deref() != Some(&want_id[..]) {
            return Err(bad("the key ID does not match the key"));
        }
        Ok(key)
    }
}

/// A data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError {
    let path = path.to_path_buf();
    move |cause| DataDirError::Io {
        action,
        path,
        cause,
    }
}

impl DataDir {
    /// Opens `root`, creating it (mode 0700) if it does not exist.
    pub fn create(root: &Path) -> Result<DataDir, DataDirError> {
        sealwax_durable::create_dir_private(root)?;
        Ok(DataDir {
            root: root.to_path_buf(),
        })
    }

    /// Opens an existing data directory without creating anything.
    pub fn open(root: &Path) -> DataDir {
        DataDir {
            root: root.to_path_buf(),
        }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The key file.
    pub fn key_path(&self) -> PathBuf {
        self.root.join(KEY_FILE)
    }

    /// The RocksDB directory.
    pub fn db_path(&self) -> PathBuf {
        self.root.join("db")
    }

    /// The artifact store directory.
    pub fn artifacts_path(&self) -> PathBuf {
        self.root.join("artifacts")
    }

    /// Reads the key; fails if it is missing, damaged or readable by others.
    pub fn load_key(&self) -> Result<LogKey, DataDirError> {
        let path = self.key_path();
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DataDirError::NoKey {
                    dir: self.root.clone(),
                })
            }
            Err(e) => return Err(io_err("cannot read", &path)(e)),
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(DataDirError::KeyFileReadable { path, mode });
        }
        let text = fs::read_to_string(&path).map_err(io_err("cannot read", &path))?;
        LogKey::parse(&text, &path)
    }

    /// Loads the key, or creates it on the first start. `origin`, if given,
    /// must match the stored one; it is required when there is no key yet.
    pub fn load_or_create_key(&self, origin: Option<&str>) -> Result<LogKey, DataDirError> {
        match self.load_key() {
            Ok(key) => {
                if let Some(given) = origin {
                    if given != key.origin() {
                        return Err(DataDirError::OriginMismatch {
                            stored: key.origin().to_string(),
                            given: given.to_string(),
                        });
                    }
                }
                Ok(key)
            }
            Err(DataDirError::NoKey { .. }) => {
                let origin = origin.ok_or(DataDirError::OriginRequired)?;
                sealwax_proto::entry::validate_origin(origin)
                    .map_err(|_| DataDirError::InvalidOrigin(origin.to_string()))?;
                let key = LogKey::generate(origin)?;
                self.write_key(&key)?;
                tracing::info!(origin, path = %self.key_path().display(), "created the log's signing key");
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }

    /// Writes a new key file (mode 0600 from its first byte, fsynced, whole
    /// or not at all, never overwriting one).
    fn write_key(&self, key: &LogKey) -> Result<(), DataDirError> {
        let text = key.to_file_string();
        sealwax_durable::write_new(&self.key_path(), text.as_bytes(), MODE_PRIVATE)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_created_once_with_mode_0600_and_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::create(&tmp.path().join("d")).unwrap();
        assert!(matches!(
            dir.load_or_create_key(None),
            Err(DataDirError::OriginRequired)
        ));
        let k1 = dir.load_or_create_key(Some("example.com/log")).unwrap();
        let mode = fs::metadata(dir.key_path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dmode = fs::metadata(dir.root()).unwrap().permissions().mode() & 0o777;
        assert_eq!(dmode, 0o700);
        let k2 = dir.load_or_create_key(None).unwrap();
        assert_eq!(k1.vkey(), k2.vkey());
        assert!(k1.vkey().starts_with("example.com/log+"));
        let k3 = dir.load_or_create_key(Some("example.com/log")).unwrap();
        assert_eq!(k1.vkey(), k3.vkey());
        // The stored vkey parses back with proto.
        let v = NoteVerifier::parse(&k1.vkey()).unwrap();
        assert_eq!(v.name(), "example.com/log");
    }

    #[test]
    fn an_existing_key_is_never_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::create(tmp.path()).unwrap();
        let key = dir.load_or_create_key(Some("a.example/log")).unwrap();
        let before = fs::read_to_string(dir.key_path()).unwrap();
        let other = LogKey::generate("a.example/log").unwrap();
        let err = dir.write_key(&other).unwrap_err();
        assert!(
            matches!(&err, DataDirError::Durable(d) if d.cause().kind() == std::io::ErrorKind::AlreadyExists),
            "{err}"
        );
        assert_eq!(fs::read_to_string(dir.key_path()).unwrap(), before);
        assert_eq!(dir.load_key().unwrap().vkey(), key.vkey());
        // Nothing but the key is left in the directory.
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn another_origin_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::create(tmp.path()).unwrap();
        dir.load_or_create_key(Some("a.example/log")).unwrap();
        let err = dir.load_or_create_key(Some("b.example/log")).unwrap_err();
        assert!(matches!(err, DataDirError::OriginMismatch { .. }), "{err}");
    }

    #[test]
    fn readable_key_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::create(tmp.path()).unwrap();
        dir.load_or_create_key(Some("a.example/log")).unwrap();
        fs::set_permissions(dir.key_path(), fs::Permissions::from_mode(0o640)).unwrap();
        let err = dir.load_key().unwrap_err();
        assert!(
            matches!(err, DataDirError::KeyFileReadable { mode: 0o640, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"));
    }

    #[test]
    fn damaged_key_file_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::create(tmp.path()).unwrap();
        let key = dir.load_or_create_key(Some("a.example/log")).unwrap();
        let good = key.to_file_string();
        // Flip the key ID.
        let bad = good.replacen(&hex::encode(key.signer().key_id()), "00000000", 1);
        fs::write(dir.key_path(), bad).unwrap();
        assert!(matches!(
            dir.load_key(),
            Err(DataDirError::MalformedKey { .. })
        ));
        fs::write(dir.key_path(), "garbage").unwrap();
        assert!(matches!(
            dir.load_key(),
            Err(DataDirError::MalformedKey { .. })
        ));
    }

    #[test]
    fn invalid_origin_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::create(tmp.path()).unwrap();
        assert!(matches!(
            dir.load_or_create_key(Some("has space")),
            Err(DataDirError::InvalidOrigin(_))
        ));
        assert!(!dir.key_path().exists());
    }
}
