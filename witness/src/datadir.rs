//! The data directory: the witness's key and, per log, the checkpoint it
//! last cosigned.
//!
//! ```text
//! <data dir>/                          mode 0700
//!   witness.key                        mode 0600: PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x04 || seed)>
//!   logs/<hex SHA-256 of origin>.checkpoint
//!                                      the last cosigned checkpoint: its text, the
//!                                      log's verified signatures, this witness's cosignature
//! ```
//!
//! Every file is replaced atomically (`sealwax-durable`), so a crash leaves
//! the old checkpoint or the new one, never a mix.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sealwax_durable::{MODE_PRIVATE, MODE_PUBLIC};
use sealwax_proto::checkpoint::Checkpoint;
use sealwax_proto::note::{CosignatureSigner, Note};
use sha2::{Digest, Sha256};

use crate::error::WitnessError;

/// File name of the key inside the data directory.
pub const KEY_FILE: &str = "witness.key";
/// Folder of the per-log state files.
pub const LOGS_DIR: &str = "logs";

/// A data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

/// Maps an I/O error of `action` on `path`.
fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> WitnessError {
    let path = path.to_path_buf();
    move |cause| WitnessError::Io {
        action,
        path,
        cause,
    }
}

/// Reads `path`, or `None` if it does not exist.
fn read_optional(path: &Path) -> Result<Option<String>, WitnessError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

impl DataDir {
    /// The data directory at `root` (not created yet).
    pub fn new(root: &Path) -> DataDir {
        DataDir {
            root: root.to_path_buf(),
        }
    }

    /// The key file's path.
    pub fn key_path(&self) -> PathBuf {
        self.root.join(KEY_FILE)
    }

    /// The state file of the log `origin`.
    pub fn state_path(&self, origin: &str) -> PathBuf {
        let name = format!("{}.checkpoint", hex::encode(Sha256::digest(origin)));
        self.root.join(LOGS_DIR).join(name)
    }

    /// Loads the key, or `None` if there is none yet. A key others may read is refused.
    pub fn load_key(&self) -> Result<Option<CosignatureSigner>, WitnessError> {
        let path = self.key_path();
        let Some(text) = read_optional(&path)? else {
            return Ok(None);
        };
        let mode = std::fs::metadata(&path)
            .map_err(io_err("read the mode of", &path))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(WitnessError::KeyFileReadable { path, mode });
        }
        CosignatureSigner::from_private_key(text.trim_end_matches('\n'))
            .map(Some)
            .map_err(|cause| WitnessError::Damaged { path, cause })
    }

    /// Loads the key, creating one named `name` if there is none; a stored
    /// key with another name is refused (`name` `None`: any name).
    pub fn load_or_create_key(
        &self,
        name: Option<&str>,
    ) -> Result<CosignatureSigner, WitnessError> {
        if let Some(key) = self.load_key()? {
            return match name {
                Some(given) if given != key.name() => Err(WitnessError::NameMismatch {
                    stored: key.name().to_owned(),
                    given: given.to_owned(),
                }),
                _ => Ok(key),
            };
        }
        let name = name.ok_or_else(|| WitnessError::NoKey {
            dir: self.root.clone(),
        })?;
        let key = CosignatureSigner::generate(name, &mut rand::rngs::OsRng)
            .map_err(|e| WitnessError::Config(e.to_string()))?;
        sealwax_durable::create_dir_private(&self.root)?;
        let text = format!("{}\n", key.to_private_key());
        sealwax_durable::write_new(&self.key_path(), text.as_bytes(), MODE_PRIVATE)?;
        Ok(key)
    }

    /// The state file of `origin` as it is (the cosigned checkpoint note), if any.
    pub fn load_note(&self, origin: &str) -> Result<Option<String>, WitnessError> {
        read_optional(&self.state_path(origin))
    }

    /// The checkpoint last cosigned for `origin`, if any, from its state file.
    pub fn load_state(&self, origin: &str) -> Result<Option<Checkpoint>, WitnessError> {
        let path = self.state_path(origin);
        let Some(text) = self.load_note(origin)? else {
            return Ok(None);
        };
        let damaged = |cause| WitnessError::Damaged {
            path: path.clone(),
            cause,
        };
        let note = Note::parse(&text).map_err(damaged)?;
        let cp = Checkpoint::parse(&note.text).map_err(damaged)?;
        if cp.origin != origin {
            return Err(damaged(sealwax_proto::Error::WrongOrigin {
                expected: origin.to_owned(),
                found: cp.origin,
            }));
        }
        Ok(Some(cp))
    }

    /// Replaces the state file of `origin` with `note` (atomically, synced).
    pub fn save_state(&self, origin: &str, note: &str) -> Result<(), WitnessError> {
        let path = self.state_path(origin);
        sealwax_durable::write_atomic(&path, note.as_bytes(), MODE_PUBLIC)?;
        Ok(())
    }
}
