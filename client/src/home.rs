//! The client's home: where its config, key pairs, trust stores and
//! remembered checkpoints live.
//!
//! ```text
//! <config dir>/config.toml          log URL and log key, so they need not be repeated
//! <data dir>/keys/                  key pairs made by `keys generate` / `keys rotate`
//!                                   (<publisher>-<KEYID>.pub, .key with mode 0600)
//! <data dir>/logs/<log>/trust.toml  trusted publisher keys for that log
//! <data dir>/logs/<log>/own-keys.toml   this home's own registered keys
//! <data dir>/logs/<log>/checkpoint  the newest checkpoint verified for that log
//! ```
//!
//! With `--home DIR` (or `SEALWAX_HOME`) the config and data dirs are both
//! `DIR`; otherwise they are the XDG directories (`~/.config/sealwax`,
//! `~/.local/share/sealwax` on Linux). `<log>` is the log's origin made
//! file-name safe plus its key ID, so two logs (or a log that changed its
//! key) never share state.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use sealwax_proto::checkpoint::Checkpoint;
use sealwax_proto::note::{Note, NoteVerifier};
use sealwax_proto::policy::{open_accepted, Policy};

use crate::atomic::{read_optional, write_atomic, MODE_PUBLIC};
use crate::error::{ClientError, Result};

/// The directories of one client home.
#[derive(Debug, Clone)]
pub struct Home {
    /// The config file, `config.toml`.
    pub config_file: PathBuf,
    /// Where keys, trust stores and checkpoints live.
    pub data_dir: PathBuf,
}

impl Home {
    /// `--home DIR` / `SEALWAX_HOME` if given, else the XDG directories.
    pub fn resolve(explicit: Option<&Path>) -> Result<Home> {
        if let Some(dir) = explicit {
            return Ok(Home::at(dir));
        }
        let dirs = directories::ProjectDirs::from("", "", "sealwax").ok_or(ClientError::NoHome)?;
        Ok(Home {
            config_file: dirs.config_dir().join("config.toml"),
            data_dir: dirs.data_dir().to_path_buf(),
        })
    }

    /// A home with everything in `dir`.
    pub fn at(dir: &Path) -> Home {
        Home {
            config_file: dir.join("config.toml"),
            data_dir: dir.to_path_buf(),
        }
    }

    /// Where generated key pairs go by default.
    pub fn keys_dir(&self) -> PathBuf {
        self.data_dir.join("keys")
    }

    /// The state directory of one log.
    pub fn log_dir(&self, log: &LogIdentity) -> PathBuf {
        self.data_dir.join("logs").join(log.dir_name())
    }

    /// Loads `config.toml` (an empty config if there is none).
    pub fn load_config(&self) -> Result<Config> {
        match read_optional(&self.config_file)? {
            None => Ok(Config::default()),
            Some(text) => toml::from_str(&text).map_err(|e| ClientError::BadStateFile {
                path: self.config_file.clone(),
                reason: e.to_string(),
            }),
        }
    }

    /// Writes `config.toml` atomically.
    pub fn save_config(&self, config: &Config) -> Result<()> {
        let mut text = String::from(
            "# sealwax client configuration (written by `sealwax init`).\n\
             # --log / --log-key on the command line override these.\n",
        );
        text.push_str(&toml::to_string(config).expect("config serialises"));
        write_atomic(&self.config_file, text.as_bytes(), MODE_PUBLIC)
    }
}

/// The contents of `config.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Base URL of the log, e.g. `https://log.example.com`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// The log's verifier key (`<name>+<key ID>+<base64>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_key: Option<String>,
    /// The log's origin, if it is not the verifier key's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The witness policy file (Sigsum syntax) every checkpoint must meet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PathBuf>,
}

/// What identifies a log: the key that signs its checkpoints and its origin line.
#[derive(Debug, Clone)]
pub struct LogIdentity {
    /// The verifier of its checkpoint signatures.
    pub verifier: NoteVerifier,
    /// Its origin (first checkpoint line; also in every trusted comment).
    pub origin: String,
    /// The witness policy its checkpoints must meet, if one is configured.
    pub policy: Option<Arc<Policy>>,
}

impl LogIdentity {
    /// Parses a verifier key; the origin defaults to the key's name (C2SP convention).
    pub fn new(vkey: &str, origin: Option<&str>) -> Result<LogIdentity> {
        let verifier =
            NoteVerifier::parse(vkey.trim()).map_err(|source| ClientError::BadLogKey {
                value: vkey.to_string(),
                cause: source,
            })?;
        let origin = origin.unwrap_or(verifier.name()).to_string();
        Ok(LogIdentity {
            verifier,
            origin,
            policy: None,
        })
    }

    /// Requires every checkpoint to meet the policy in `path`, which must
    /// list this log's key.
    pub fn with_policy_file(mut self, path: &Path) -> Result<LogIdentity> {
        let policy = read_policy(path)?;
        if !policy.lists_log(&self.verifier) {
            return Err(ClientError::PolicyWithoutLog {
                path: path.to_path_buf(),
                key: self.verifier.to_string(),
            });
        }
        self.policy = Some(Arc::new(policy));
        Ok(self)
    }

    /// Under a policy, the policy's witnesses whose cosignatures on
    /// `checkpoint` verify (for output; the decision is [`LogIdentity::open`]).
    pub fn cosigners(&self, checkpoint: &str) -> Option<Vec<String>> {
        let q = self.policy.as_ref()?.verify_checkpoint(checkpoint).ok()?;
        Some(q.cosigned.into_iter().map(|(name, _)| name).collect())
    }

    /// Opens a checkpoint of this log: signed by its key and, under a
    /// policy, cosigned by a quorum (`sealwax_proto::policy::open_accepted`).
    pub fn open(&self, text: &str) -> sealwax_proto::Result<(Checkpoint, Note)> {
        open_accepted(text, &self.origin, &self.verifier, self.policy.as_deref())
    }

    /// A file-name-safe directory name: the origin's safe characters and the key ID.
    pub fn dir_name(&self) -> String {
        let safe: String = self
            .origin
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{safe}-{}", hex::encode(self.verifier.key_id()))
    }
}

/// Reads and parses a witness policy file.
pub fn read_policy(path: &Path) -> Result<Policy> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ClientError::NoSuchFile {
                what: "witness policy",
                path: path.to_path_buf(),
                action: "read",
            })
        }
        Err(e) => return Err(ClientError::io("read", path, e)),
    };
    Policy::parse(&text).map_err(|cause| ClientError::BadPolicy {
        path: path.to_path_buf(),
        cause,
    })
}

/// Checks that a log URL is http(s) and drops a trailing slash.
pub fn normalise_url(url: &str) -> Result<String> {
    let u = url.trim();
    if !(u.starts_with("http://") || u.starts_with("https://")) || reqwest::Url::parse(u).is_err() {
        return Err(ClientError::BadLogUrl(url.to_string()));
    }
    Ok(u.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        assert_eq!(home.load_config().unwrap(), Config::default());
        let cfg = Config {
            log: Some("http://127.0.0.1:1".into()),
            log_key: Some("k+01020304+AQ==".into()),
            origin: None,
            policy: Some(dir.path().join("policy")),
        };
        home.save_config(&cfg).unwrap();
        assert_eq!(home.load_config().unwrap(), cfg);
    }

    #[test]
    fn damaged_config_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        std::fs::write(&home.config_file, "log = [").unwrap();
        let err = home.load_config().unwrap_err();
        assert!(err.to_string().contains("config.toml"), "{err}");
        assert_eq!(err.exit_code(), crate::error::EXIT_USAGE);
    }

    #[test]
    fn urls_must_be_http() {
        assert_eq!(normalise_url("http://a:1/").unwrap(), "http://a:1");
        assert!(normalise_url("ftp://a").is_err());
        assert!(normalise_url("a.example").is_err());
    }
}
