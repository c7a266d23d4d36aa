//! Publishes that were started and not finished: a small marker per release
//! in `<log dir>/pending/`, written before the signature is logged and
//! removed once the artifact is uploaded. A publish killed in between (^C
//! during a long upload) leaves its marker, so the next command can say so
//! and `sealwax publish --resume` can finish it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::atomic::{read_optional, write_atomic, MODE_PUBLIC};
use crate::error::{ClientError, Result};

/// One publish to finish: what `sealwax publish` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingPublish {
    /// The artifact (an absolute path).
    pub file: PathBuf,
    /// Publisher name.
    pub publisher: String,
    /// Package name.
    pub package: String,
    /// Package version.
    pub version: String,
    /// SHA-256 (hex) of the artifact when the publish started.
    pub sha256: String,
    /// The secret key file given with `--key`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Whether `--no-upload` was given.
    #[serde(default)]
    pub no_upload: bool,
}

impl PendingPublish {
    /// `publisher/package@version`.
    pub fn name(&self) -> String {
        format!("{}/{}@{}", self.publisher, self.package, self.version)
    }

    /// The `sealwax publish` command line that finishes it.
    pub fn command(&self) -> String {
        let mut c = format!(
            "sealwax publish {} {}/{}@{}",
            shell_quote(&self.file.display().to_string()),
            self.publisher,
            self.package,
            self.version
        );
        if let Some(k) = &self.key {
            c.push_str(" --key ");
            c.push_str(&shell_quote(&k.display().to_string()));
        }
        if self.no_upload {
            c.push_str(" --no-upload");
        }
        c
    }

    /// The one-line notice that this publish was interrupted.
    pub fn notice(&self) -> String {
        format!(
            "a publish of {} was interrupted: run `{}` again to finish it (or `sealwax publish --resume`)",
            self.name(),
            self.command()
        )
    }
}

/// `s` quoted for a POSIX shell if it needs to be.
fn shell_quote(s: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+=:@,".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The pending publishes of one log.
#[derive(Debug, Clone)]
pub struct PendingStore {
    dir: PathBuf,
}

impl PendingStore {
    /// The markers in `dir`.
    pub fn new(dir: &Path) -> PendingStore {
        PendingStore {
            dir: dir.to_path_buf(),
        }
    }

    /// The marker file of release `name` (`publisher/package@version`).
    fn path(&self, name: &str) -> PathBuf {
        let id = hex::encode(&sha2::Sha256::digest(name.as_bytes())[..8]);
        self.dir.join(format!("{id}.toml"))
    }

    /// Records `p` as started (atomically).
    pub fn save(&self, p: &PendingPublish) -> Result<()> {
        let text = toml::to_string(p).expect("a pending publish serialises");
        write_atomic(&self.path(&p.name()), text.as_bytes(), MODE_PUBLIC)
    }

    /// Forgets the publish of `name`: it finished (or logged nothing).
    pub fn remove(&self, name: &str) -> Result<()> {
        let path = self.path(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(ClientError::io("remove", &path, e))
            }
            _ => Ok(()),
        }
    }

    /// Every pending publish, in file-name order.
    pub fn list(&self) -> Result<Vec<PendingPublish>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ClientError::io("read", &self.dir, e)),
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        let mut out = Vec::new();
        for path in paths {
            let Some(text) = read_optional(&path)? else {
                continue;
            };
            let p = toml::from_str(&text).map_err(|e| ClientError::BadStateFile {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            out.push(p);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PendingPublish {
        PendingPublish {
            file: "/tmp/my dir/hello-1.0.0.tar.gz".into(),
            publisher: "alice".into(),
            package: "hello".into(),
            version: "1.0.0".into(),
            sha256: "00".repeat(32),
            key: None,
            no_upload: false,
        }
    }

    #[test]
    fn markers_are_saved_listed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = PendingStore::new(&dir.path().join("pending"));
        assert!(store.list().unwrap().is_empty());
        let p = sample();
        store.save(&p).unwrap();
        store.save(&p).unwrap();
        assert_eq!(store.list().unwrap(), vec![p.clone()]);
        store.remove(&p.name()).unwrap();
        assert!(store.list().unwrap().is_empty());
        store.remove(&p.name()).unwrap();
    }

    #[test]
    fn the_notice_gives_a_command_that_quotes_the_path() {
        let n = sample().notice();
        assert!(n.starts_with("a publish of alice/hello@1.0.0 was interrupted: run `sealwax publish '/tmp/my dir/hello-1.0.0.tar.gz' alice/hello@1.0.0` again"), "{n}");
    }
}
