//! The monitor's TOML config.
//!
//! ```toml
//! [[watch]]
//! publisher = "alice"                 # a publisher name
//! keys = ["RWQf6LRCGA9i53ml..."]      # the keys expected (Minisign public keys, base64 line,
//!                                     # or key IDs such as "D3B51ED33AC74E98")
//! packages = ["left-pad"]             # optional: alert on every signature for these packages
//!
//! [[watch]]
//! publisher = "bob"
//! learn = true                        # the keys seen first become the expected ones
//!
//! [[watch]]
//! publisher = "*"                     # every publisher: report every key event
//!
//! [verify]
//! all_signatures = false              # also verify signature entries of unwatched publishers
//!
//! [alerts]
//! webhook = "http://127.0.0.1:9000/hook"   # POST one JSON alert per request
//! webhook_retries = 5                      # attempts after the first, with exponential backoff
//! webhook_timeout_secs = 10
//! command = "/usr/local/bin/page-me"       # run with `sh -c`, the alert in SEALWAX_ALERT_* variables
//! command_timeout_secs = 60
//!
//! [health]
//! max_unreachable_secs = 900          # alert when the log could not be read for this long
//! max_stale_secs = 86400              # alert when the log has not grown for this long
//! max_entries_per_poll = 10000000     # read at most this many entries per poll, then resume
//! ```
//!
//! A `[[watch]]` names one publisher (at most once) with either `keys` (an
//! empty list means no key at all is expected: every key is an alert; a
//! key ID, the 16 hex digits `sealwax` prints, stands for the publisher's
//! logged key of that ID while only one of its keys has it) or
//! `learn = true`, not both. `publisher = "*"` (at most once, with neither)
//! reports every key registration and revocation of every publisher not
//! named in another `[[watch]]`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sealwax_proto::entry::{validate_package, validate_publisher};
use sealwax_proto::minisign::PublicKey;
use sealwax_proto::note::NoteVerifier;
use sealwax_proto::policy::Policy;
use sealwax_proto::Hash;
use serde::Deserialize;

use crate::MonitorError;

/// What a watched publisher is expected to have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Exactly these keys (by key hash); any other key is an alert.
    Keys(BTreeMap<Hash, PublicKey>),
    /// The keys seen on the first run become the expected ones.
    Learn,
}

/// One watched publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// The publisher name.
    pub publisher: String,
    /// Its expected keys.
    pub expect: Expect,
    /// Key numbers given as key IDs in `keys`: each expects the one key of
    /// the publisher with that number (none, if two of its keys share it).
    pub key_ids: BTreeSet<[u8; 8]>,
    /// Packages whose every signature is reported.
    pub packages: BTreeSet<String>,
}

/// The `publisher = "*"` watch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WatchAll {
    /// Packages (of any publisher) whose every signature is reported.
    pub packages: BTreeSet<String>,
}

/// Where alerts go besides stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertsConfig {
    /// Webhook URL (http or https).
    pub webhook: Option<String>,
    /// Retries after a failed webhook POST.
    pub webhook_retries: u32,
    /// Timeout of one webhook POST.
    pub webhook_timeout: Duration,
    /// Command run through `sh -c` for each alert.
    pub command: Option<String>,
    /// How long the command may run.
    pub command_timeout: Duration,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        AlertsConfig {
            webhook: None,
            webhook_retries: 5,
            webhook_timeout: Duration::from_secs(10),
            command: None,
            command_timeout: Duration::from_secs(60),
        }
    }
}

/// The default poll budget: entries read per poll (about a minute of catch-up).
pub const DEFAULT_MAX_ENTRIES_PER_POLL: u64 = 10_000_000;

/// Limits for health alerts; `None` disables one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthConfig {
    /// Alert when the log could not be read for this long.
    pub max_unreachable: Option<Duration>,
    /// Alert when the log has not grown for this long.
    pub max_stale: Option<Duration>,
    /// The poll budget: a poll reads at most this many entries (rounded up
    /// to a whole bundle), saves its progress and alerts `outran-poll-budget`.
    pub max_entries_per_poll: u64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            max_unreachable: None,
            max_stale: None,
            max_entries_per_poll: DEFAULT_MAX_ENTRIES_PER_POLL,
        }
    }
}

/// The whole, validated config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// Named publishers, by name.
    pub watches: BTreeMap<String, Watch>,
    /// The `publisher = "*"` watch, if configured.
    pub watch_all: Option<WatchAll>,
    /// Verify the signatures of every signature entry, not only those of
    /// named publishers (key events are always verified).
    pub verify_all_signatures: bool,
    /// Alert channels.
    pub alerts: AlertsConfig,
    /// Health limits.
    pub health: HealthConfig,
    /// The `[log]` table: the log to follow, if the config names it.
    pub log: LogConfig,
}

/// Reads a witness policy for the log `verifier` checks: it must parse and
/// list that log.
pub fn load_policy(path: &Path, verifier: &NoteVerifier) -> Result<Policy, MonitorError> {
    let bad = |reason: String| MonitorError::Policy {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
    let policy = Policy::parse(&text).map_err(|e| bad(format!("{e}; fix the line it names")))?;
    if !policy.lists_log(verifier) {
        return Err(bad(format!(
            "it lists no log with the key {verifier}: add a `log` line with that key, or check --log-key"
        )));
    }
    Ok(policy)
}

/// Which log to follow: `[log]` of the monitor's config, or the
/// `config.toml` that `sealwax init` writes. Flags override both.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Base URL of the log.
    pub url: Option<String>,
    /// The log's verifier key.
    pub key: Option<String>,
    /// The log's origin, if it is not the name in the key.
    pub origin: Option<String>,
    /// The witness policy every checkpoint must meet.
    pub policy: Option<PathBuf>,
    /// A mirror (bucket or CDN) to read the checkpoint and tiles from.
    pub tiles: Option<String>,
}

/// The part of the client's `config.toml` the monitor reads.
#[derive(Deserialize)]
struct ClientConfig {
    log: Option<String>,
    log_key: Option<String>,
    origin: Option<String>,
    policy: Option<PathBuf>,
}

impl LogConfig {
    /// The client config `sealwax init` wrote: `$SEALWAX_HOME/config.toml`
    /// if `home` is given, else the XDG one (`~/.config/sealwax/config.toml`).
    /// `None` if there is none.
    pub fn from_client(home: Option<&Path>) -> Result<Option<(LogConfig, PathBuf)>, MonitorError> {
        let path = match home {
            Some(h) => h.join("config.toml"),
            None => match directories::ProjectDirs::from("", "", "sealwax") {
                Some(d) => d.config_dir().join("config.toml"),
                None => return Ok(None),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(cause) => return Err(MonitorError::ConfigRead { path, cause }),
        };
        let c: ClientConfig = toml::from_str(&text).map_err(|e| MonitorError::ConfigSyntax {
            path: path.clone(),
            cause: Box::new(e),
        })?;
        let log = LogConfig {
            url: c.log,
            key: c.log_key,
            origin: c.origin,
            policy: c.policy,
            tiles: None,
        };
        Ok(Some((log, path)))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    log: LogConfig,
    #[serde(default)]
    watch: Vec<RawWatch>,
    #[serde(default)]
    verify: RawVerify,
    #[serde(default)]
    alerts: RawAlerts,
    #[serde(default)]
    health: RawHealth,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWatch {
    publisher: Option<String>,
    keys: Option<Vec<String>>,
    learn: Option<bool>,
    packages: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawVerify {
    all_signatures: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    webhook: Option<String>,
    webhook_retries: Option<u32>,
    webhook_timeout_secs: Option<u64>,
    command: Option<String>,
    command_timeout_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    max_unreachable_secs: Option<u64>,
    max_stale_secs: Option<u64>,
    max_entries_per_poll: Option<u64>,
}

impl Config {
    /// Reads and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, MonitorError> {
        let text = std::fs::read_to_string(path).map_err(|cause| MonitorError::ConfigRead {
            path: path.to_path_buf(),
            cause,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates config text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Config, MonitorError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| MonitorError::ConfigSyntax {
            path: path.to_path_buf(),
            cause: Box::new(e),
        })?;
        let invalid = |problem: String| MonitorError::ConfigInvalid {
            path: path.to_path_buf(),
            problem,
        };
        let mut config = Config {
            verify_all_signatures: raw.verify.all_signatures.unwrap_or(false),
            log: raw.log,
            ..Config::default()
        };
        for (n, w) in raw.watch.into_iter().enumerate() {
            config.add_watch(&format!("[[watch]] number {}", n + 1), w, &invalid)?;
        }
        config.alerts = raw.alerts.validate(&invalid)?;
        config.health = raw.health.validate(&invalid)?;
        Ok(config)
    }

    /// Adds the `[[watch]]` table `w` (described as `at` in errors).
    fn add_watch(
        &mut self,
        at: &str,
        w: RawWatch,
        invalid: &impl Fn(String) -> MonitorError,
    ) -> Result<(), MonitorError> {
        let publisher = w.publisher.ok_or_else(|| {
            invalid(format!(
                "{at} has no `publisher` (a name, or \"*\" for every publisher)"
            ))
        })?;
        let mut packages = BTreeSet::new();
        for p in w.packages.unwrap_or_default() {
            validate_package(&p).map_err(|e| invalid(format!("{at} ({publisher}): {e}")))?;
            packages.insert(p);
        }
        if publisher == "*" {
            if w.keys.is_some() || w.learn.is_some() {
                return Err(invalid(format!(
                    "{at}: publisher = \"*\" reports every key event and takes no `keys` or `learn`; name the publisher in a [[watch]] of its own to set its keys"
                )));
            }
            if self.watch_all.is_some() {
                return Err(invalid(format!("{at}: publisher = \"*\" is given twice")));
            }
            self.watch_all = Some(WatchAll { packages });
            return Ok(());
        }
        validate_publisher(&publisher).map_err(|e| invalid(format!("{at}: {e}")))?;
        if self.watches.contains_key(&publisher) {
            return Err(invalid(format!(
                "{at}: publisher {publisher:?} is watched twice; merge the two [[watch]] tables"
            )));
        }
        let (expect, key_ids) =
            expectation(at, &publisher, w.keys, w.learn.unwrap_or(false), invalid)?;
        self.watches.insert(
            publisher.clone(),
            Watch {
                publisher,
                expect,
                key_ids,
                packages,
            },
        );
        Ok(())
    }

    /// The named watch for `publisher`, if any.
    pub fn watch(&self, publisher: &str) -> Option<&Watch> {
        self.watches.get(publisher)
    }

    /// Whether anything at all is watched.
    pub fn watches_anything(&self) -> bool {
        !self.watches.is_empty() || self.watch_all.is_some()
    }
}

/// The key number of a key ID as `sealwax` prints it (16 hex digits, the
/// little-endian key number shown most significant byte first).
fn key_id(text: &str) -> Option<[u8; 8]> {
    let t = text.trim();
    if t.len() != 16 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(t, 16).ok().map(u64::to_le_bytes)
}

/// What the `[[watch]]` `at` for `publisher` expects: its `keys` (and the
/// key numbers of those given as key IDs), or `learn = true`.
fn expectation(
    at: &str,
    publisher: &str,
    keys: Option<Vec<String>>,
    learn: bool,
    invalid: &impl Fn(String) -> MonitorError,
) -> Result<(Expect, BTreeSet<[u8; 8]>), MonitorError> {
    match (keys, learn) {
        (Some(_), true) => Err(invalid(format!(
            "{at} ({publisher}): give either `keys` or `learn = true`, not both"
        ))),
        (None, false) => Err(invalid(format!(
            "{at} ({publisher}): say which keys are expected with `keys = [\"RWQ...\"]` (Minisign public keys or key IDs), or `learn = true` to trust the keys seen on the first run"
        ))),
        (None, true) => Ok((Expect::Learn, BTreeSet::new())),
        (Some(keys), false) => {
            let (mut set, mut ids) = (BTreeMap::new(), BTreeSet::new());
            for (k, text) in keys.iter().enumerate() {
                if let Some(id) = key_id(text) {
                    ids.insert(id);
                    continue;
                }
                let pk = PublicKey::parse(text.trim()).map_err(|e| {
                    invalid(format!(
                        "{at} ({publisher}): key number {} is not a Minisign public key or a 16-hex-digit key ID: {e}",
                        k + 1
                    ))
                })?;
                set.insert(pk.key_hash(), pk);
            }
            Ok((Expect::Keys(set), ids))
        }
    }
}

/// A duration setting `name` given in seconds: at least 1 when given.
fn positive(
    name: &str,
    v: Option<u64>,
    invalid: &impl Fn(String) -> MonitorError,
) -> Result<Option<Duration>, MonitorError> {
    match v {
        Some(0) => Err(invalid(format!("{name} must be at least 1 second"))),
        v => Ok(v.map(Duration::from_secs)),
    }
}

impl RawAlerts {
    /// The `[alerts]` table, checked, with defaults for what it leaves out.
    fn validate(
        self,
        invalid: &impl Fn(String) -> MonitorError,
    ) -> Result<AlertsConfig, MonitorError> {
        if let Some(url) = &self.webhook {
            let ok = reqwest::Url::parse(url)
                .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .unwrap_or(false);
            if !ok {
                return Err(invalid(format!(
                    "[alerts] webhook = {url:?} is not an http(s) URL"
                )));
            }
        }
        if let Some(cmd) = &self.command {
            if cmd.trim().is_empty() {
                return Err(invalid("[alerts] command is empty".to_string()));
            }
        }
        let defaults = AlertsConfig::default();
        Ok(AlertsConfig {
            webhook: self.webhook,
            webhook_retries: self.webhook_retries.unwrap_or(defaults.webhook_retries),
            webhook_timeout: positive(
                "[alerts] webhook_timeout_secs",
                self.webhook_timeout_secs,
                invalid,
            )?
            .unwrap_or(defaults.webhook_timeout),
            command: self.command,
            command_timeout: positive(
                "[alerts] command_timeout_secs",
                self.command_timeout_secs,
                invalid,
            )?
            .unwrap_or(defaults.command_timeout),
        })
    }
}

impl RawHealth {
    /// The `[health]` table, checked, with defaults for what it leaves out.
    fn validate(
        self,
        invalid: &impl Fn(String) -> MonitorError,
    ) -> Result<HealthConfig, MonitorError> {
        Ok(HealthConfig {
            max_unreachable: positive(
                "[health] max_unreachable_secs",
                self.max_unreachable_secs,
                invalid,
            )?,
            max_stale: positive("[health] max_stale_secs", self.max_stale_secs, invalid)?,
            max_entries_per_poll: match self.max_entries_per_poll {
                Some(0) => {
                    return Err(invalid(
                        "[health] max_entries_per_poll must be at least 1".to_string(),
                    ))
                }
                Some(n) => n,
                None => DEFAULT_MAX_ENTRIES_PER_POLL,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE_KEY: &str = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";

    fn parse(text: &str) -> Result<Config, MonitorError> {
        Config::parse(text, Path::new("monitor.toml"))
    }

    fn err(text: &str) -> String {
        parse(text)
            .expect_err("config should be refused")
            .to_string()
    }

    #[test]
    fn spec_example_parses() {
        let c = parse(&format!(
            r#"
            [[watch]]
            publisher = "alice"
            keys = ["{ALICE_KEY}"]
            [[watch]]
            publisher = "bob"
            learn = true
            [alerts]
            webhook = "http://127.0.0.1:9000/hook"
            command = "/usr/local/bin/page-me"
            "#
        ))
        .unwrap();
        let alice = c.watch("alice").unwrap();
        let Expect::Keys(keys) = &alice.expect else {
            panic!("alice should have expected keys")
        };
        let pk = PublicKey::parse(ALICE_KEY).unwrap();
        assert_eq!(keys.get(&pk.key_hash()), Some(&pk));
        assert_eq!(c.watch("bob").unwrap().expect, Expect::Learn);
        assert!(c.watch("carol").is_none());
        assert_eq!(
            c.alerts.webhook.as_deref(),
            Some("http://127.0.0.1:9000/hook")
        );
        assert_eq!(c.alerts.command.as_deref(), Some("/usr/local/bin/page-me"));
        assert_eq!(c.alerts.webhook_retries, 5);
        assert!(c.watch_all.is_none());
        assert!(!c.verify_all_signatures);
        assert_eq!(c.health, HealthConfig::default());
    }

    #[test]
    fn additions_parse() {
        let c = parse(
            r#"
            [[watch]]
            publisher = "*"
            packages = ["left-pad"]
            [[watch]]
            publisher = "carol"
            keys = []
            packages = ["tool", "lib"]
            [verify]
            all_signatures = true
            [alerts]
            webhook = "https://hooks.example/x"
            webhook_retries = 2
            webhook_timeout_secs = 3
            command_timeout_secs = 7
            [health]
            max_unreachable_secs = 60
            max_stale_secs = 3600
            max_entries_per_poll = 5000
            "#,
        )
        .unwrap();
        assert_eq!(
            c.watch_all.as_ref().unwrap().packages,
            BTreeSet::from(["left-pad".to_string()])
        );
        let carol = c.watch("carol").unwrap();
        assert_eq!(carol.expect, Expect::Keys(BTreeMap::new()));
        assert_eq!(carol.packages.len(), 2);
        assert!(c.verify_all_signatures);
        assert_eq!(c.alerts.webhook_retries, 2);
        assert_eq!(c.alerts.webhook_timeout, Duration::from_secs(3));
        assert_eq!(c.alerts.command_timeout, Duration::from_secs(7));
        assert_eq!(c.health.max_unreachable, Some(Duration::from_secs(60)));
        assert_eq!(c.health.max_stale, Some(Duration::from_secs(3600)));
        assert_eq!(c.health.max_entries_per_poll, 5000);
        assert!(c.watches_anything());
    }

    #[test]
    fn empty_config_watches_nothing() {
        let c = parse("").unwrap();
        assert!(!c.watches_anything());
    }

    #[test]
    fn bad_configs_are_refused_with_a_reason() {
        let cases: &[(&str, &str, &str)] = &[
            ("not toml", "[[watch]\npublisher=", "does not parse"),
            ("unknown field", "[[watch]]\npublisher = \"a\"\nlearn = true\ncolour = 1", "unknown field"),
            ("missing publisher", "[[watch]]\nlearn = true", "has no `publisher`"),
            ("neither keys nor learn", "[[watch]]\npublisher = \"a\"", "say which keys are expected"),
            ("keys and learn", "[[watch]]\npublisher = \"a\"\nkeys = []\nlearn = true", "not both"),
            ("bad key", "[[watch]]\npublisher = \"a\"\nkeys = [\"RWQnotakey\"]", "key number 1 is not a Minisign public key"),
            ("bad publisher name", "[[watch]]\npublisher = \"Alice!\"\nlearn = true", "invalid publisher"),
            ("twice", "[[watch]]\npublisher = \"a\"\nlearn = true\n[[watch]]\npublisher = \"a\"\nlearn = true", "watched twice"),
            ("star with keys", "[[watch]]\npublisher = \"*\"\nkeys = []", "takes no `keys`"),
            ("star twice", "[[watch]]\npublisher = \"*\"\n[[watch]]\npublisher = \"*\"", "given twice"),
            ("bad package", "[[watch]]\npublisher = \"a\"\nlearn = true\npackages = [\"A B\"]", "invalid package"),
            ("bad webhook", "[alerts]\nwebhook = \"ftp://x/y\"", "not an http(s) URL"),
            ("empty command", "[alerts]\ncommand = \" \"", "command is empty"),
            ("zero health", "[health]\nmax_stale_secs = 0", "at least 1 second"),
            (
                "zero budget",
                "[health]\nmax_entries_per_poll = 0",
                "at least 1",
            ),
            ("wrong type", "[health]\nmax_stale_secs = \"1h\"", "does not parse"),
        ];
        for (desc, text, want) in cases {
            let got = err(text);
            assert!(
                got.contains(want),
                "{desc}: error {got:?} should contain {want:?}"
            );
            assert!(
                got.contains("monitor.toml"),
                "{desc}: error {got:?} should name the file"
            );
        }
    }

    #[test]
    fn full_pub_file_is_accepted_as_a_key() {
        let pk = PublicKey::parse(ALICE_KEY).unwrap();
        let text = format!(
            "[[watch]]\npublisher = \"alice\"\nkeys = [{:?}]\n",
            pk.to_file_string()
        );
        let c = parse(&text).unwrap();
        assert_eq!(
            c.watch("alice").unwrap().expect,
            Expect::Keys(BTreeMap::from([(pk.key_hash(), pk)]))
        );
    }

    #[test]
    fn key_ids_are_accepted_beside_keys() {
        let pk = PublicKey::parse(ALICE_KEY).unwrap();
        let id = pk.key_id_hex();
        let text = format!(
            "[[watch]]\npublisher = \"alice\"\nkeys = [{:?}, {ALICE_KEY:?}]\n",
            id.to_lowercase()
        );
        let c = parse(&text).unwrap();
        let w = c.watch("alice").unwrap();
        assert_eq!(w.key_ids, BTreeSet::from([pk.keynum]));
        assert_eq!(
            w.expect,
            Expect::Keys(BTreeMap::from([(pk.key_hash(), pk)]))
        );
        let e = err("[[watch]]\npublisher = \"a\"\nkeys = [\"D3B51ED33AC74E9\"]");
        assert!(
            e.contains("key number 1 is not a Minisign public key or a 16-hex-digit key ID"),
            "{e}"
        );
    }
}
