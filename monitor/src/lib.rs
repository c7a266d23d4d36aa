//! # sealwax-monitor: follow a sealwax log, prove it honest, alert on key events
//!
//! The monitor reads a log the way any third party can: only the C2SP
//! `tlog-tiles` read API (`/checkpoint`, `/tile/<L>/<N>`, `/tile/entries/<N>`),
//! never the log's JSON API. For every new checkpoint it
//!
//! 1. verifies the log's signature on the checkpoint (C2SP `signed-note`);
//! 2. fetches the entry bundles of the new range, parses every entry and
//!    checks it against the publisher's key history ([`sealwax_proto::entry`]);
//! 3. appends the new leaf hashes to the [`CompactRange`] kept in its state
//!    and requires the result to equal the checkpoint's root (RFC 9162 §2.1):
//!    that proves the new tree extends the last verified one and that the
//!    entries it read are the ones the root commits to;
//! 4. fetches the hash tiles of the new range and compares every hash with
//!    the node it recomputed.
//!
//! Anything that does not check out is an [`Alert`] of kind
//! `log-misbehaviour`, never skipped. Key events of watched publishers
//! become alerts too ([`alert::AlertKind`]). Alerts go to stdout, a webhook
//! and a command ([`deliver`]); the state ([`state`]) is saved only after the
//! alerts it implies were delivered, so a crash repeats an alert and never
//! loses one.
//!
//! | module | what |
//! |---|---|
//! | [`config`] | the TOML config: watched publishers, alert channels, health limits |
//! | [`alert`] | what an alert says |
//! | [`deliver`] | stdout, webhook (with retries) and command channels |
//! | [`state`] | the persistent state and its atomic writes |
//! | [`source`] | HTTP reads of checkpoints, tiles and entry bundles |
//! | [`watch`] | key histories of every publisher, and the alert rules |
//! | [`directory`] | the key directory recomputed from the entries, and what differs |
//! | [`follow`] | the verification loop: checkpoint, entries, tree, tiles, directory |
//!
//! [`CompactRange`]: sealwax_proto::merkle::CompactRange
#![warn(missing_docs)]

pub mod alert;
pub mod config;
pub mod deliver;
pub mod directory;
pub mod follow;
pub mod recent;
pub mod source;
pub mod state;
pub mod watch;

pub use alert::Alert;

use std::path::PathBuf;

use thiserror::Error;

/// Everything that stops the monitor from doing its job. Log misbehaviour is
/// not an error: it is an [`Alert`].
///
/// A cause shown in a message is not also its `source`, so `{:#}` and
/// anyhow's "Caused by" print it once.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MonitorError {
    /// The config file could not be read.
    #[error("cannot read the config file {path}: {cause}")]
    ConfigRead {
        /// The config path.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown or mistyped fields.
    #[error("the config file {path} does not parse: {cause}")]
    ConfigSyntax {
        /// The config path.
        path: PathBuf,
        /// What the TOML parser said.
        cause: Box<toml::de::Error>,
    },
    /// The config parses but says something impossible.
    #[error("the config file {path} is invalid: {problem}")]
    ConfigInvalid {
        /// The config path.
        path: PathBuf,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The `--log-key` string does not parse.
    #[error(
        "the log key {vkey:?} does not parse: {cause} (pass the string `sealwax-log key` prints)"
    )]
    LogKey {
        /// The key given.
        vkey: String,
        /// The parse error.
        cause: sealwax_proto::Error,
    },
    /// The witness policy file cannot be read or does not parse.
    #[error("the witness policy {path} is not usable: {reason}")]
    Policy {
        /// The file.
        path: PathBuf,
        /// Why (for a parse error, the line).
        reason: String,
    },
    /// The `--log` URL does not parse.
    #[error("the log URL {url:?} is not a valid http(s) URL")]
    LogUrl {
        /// The URL given.
        url: String,
    },
    /// The state directory could not be read or written.
    #[error("state directory {path}: {cause}")]
    StateIo {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The state file exists but cannot be understood.
    #[error("the state file {path} is damaged ({reason}); move it away to start over (the monitor then re-reads the whole log)")]
    StateCorrupt {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The state file could not be written durably (see `sealwax_durable`).
    #[error(transparent)]
    StateWrite(#[from] sealwax_durable::DurableError),
    /// Another monitor holds the state directory.
    #[error("the state directory {path} is in use by another sealwax-monitor; give each monitor its own --state")]
    StateLocked {
        /// The state directory.
        path: PathBuf,
    },
    /// The state directory belongs to another log.
    #[error("the state in {path} is for the log key {stored:?}, not {given:?}: use another --state directory for another log")]
    StateForAnotherLog {
        /// The state directory.
        path: PathBuf,
        /// The log key recorded in the state.
        stored: String,
        /// The log key given on the command line.
        given: String,
    },
    /// The log could not be reached, or did not serve what it must.
    #[error("cannot read {url}: {reason}")]
    Unreachable {
        /// The URL requested.
        url: String,
        /// What went wrong (connection error, HTTP status).
        reason: String,
    },
    /// The log sent a body larger than anything it may serve at that URL.
    #[error("{url} sent more than {limit} bytes, the limit for {what}: the monitor stopped reading it. The log is misbehaving, or --log is not a sealwax log")]
    TooLarge {
        /// The URL requested.
        url: String,
        /// What was requested ("a checkpoint", "an entry bundle", ...).
        what: &'static str,
        /// The most bytes such a body can have.
        limit: usize,
    },
    /// An alert could not be delivered; the state was not advanced.
    #[error("could not deliver an alert to the {channel}: {reason}; the state was not advanced, so the alert will be sent again")]
    Delivery {
        /// "webhook", "command" or "stdout".
        channel: &'static str,
        /// What went wrong.
        reason: String,
    },
}

impl MonitorError {
    /// Whether this error means the log could not be read (for health alerts).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            MonitorError::Unreachable { .. } | MonitorError::TooLarge { .. }
        )
    }
}

/// Unix time in seconds, now.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The tokio runtime the monitor runs on. Entry bundles are parsed, hashed
/// and verified on the blocking pool ([`follow`]); it gets two threads per
/// core, enough to keep every core busy while bounding the number of threads
/// (and their allocator arenas) whatever the size of the catch-up.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(2 * cores)
        .build()
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    /// How often `needle` shows in `e` printed one-line (`{:#}`) and with
    /// anyhow's "Caused by" list (`{:?}`).
    fn printed(e: MonitorError, needle: &str) -> [usize; 2] {
        let e = anyhow::Error::from(e).context("sealwax-monitor stopped");
        [format!("{e:#}"), format!("{e:?}")].map(|s| s.matches(needle).count())
    }

    #[test]
    fn error_chains_print_each_cause_once() {
        let io = |m: &str| io::Error::other(m.to_string());
        let toml_error = toml::from_str::<toml::Table>("watch = [").unwrap_err();
        // Its first line: anyhow indents the lines of a multi-line cause.
        let toml_text = toml_error.message().lines().next().unwrap().to_string();
        let key_error = sealwax_proto::note::NoteVerifier::parse("not a key").unwrap_err();
        let key_text = key_error.to_string();
        let cases = vec![
            (
                MonitorError::ConfigRead {
                    path: "/etc/monitor.toml".into(),
                    cause: io("no such file"),
                },
                "no such file".to_string(),
            ),
            (
                MonitorError::ConfigSyntax {
                    path: "/etc/monitor.toml".into(),
                    cause: Box::new(toml_error),
                },
                toml_text,
            ),
            (
                MonitorError::LogKey {
                    vkey: "not a key".into(),
                    cause: key_error,
                },
                key_text,
            ),
            (
                MonitorError::StateIo {
                    path: "/var/lib/monitor/state.json".into(),
                    cause: io("permission denied"),
                },
                "permission denied".to_string(),
            ),
            (
                MonitorError::Unreachable {
                    url: "http://127.0.0.1:1/checkpoint".into(),
                    reason: "connection refused (after 3 attempts)".into(),
                },
                "connection refused".to_string(),
            ),
        ];
        for (e, cause) in cases {
            assert!(!cause.is_empty());
            assert_eq!(printed(e, &cause), [1, 1], "{cause}");
        }
    }
}
