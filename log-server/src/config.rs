//! Command line, environment and config-file settings of `sealwax-log`.
//!
//! Every `serve` setting can come from a flag, from an environment variable
//! `SEALWAX_LOG_<NAME>`, or from the TOML file named by `--config`; the
//! first one present wins, in that order, and a built-in default fills the
//! rest. [`ServeArgs::resolve`] turns the three layers into a [`ServeConfig`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;
use thiserror::Error;

use crate::sequencer::DEFAULT_DIRECTORY_WINDOW;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default largest number of entries sequenced in one batch.
pub const DEFAULT_BATCH_SIZE: usize = 256;
/// Default longest wait for a batch to fill, in milliseconds.
pub const DEFAULT_BATCH_WAIT_MS: u64 = 0;
/// Default number of submissions that may wait for the sequencer.
pub const DEFAULT_QUEUE_CAPACITY: usize = 4096;
/// Default size limit of a stored artifact (256 MiB).
pub const DEFAULT_MAX_ARTIFACT_BYTES: u64 = 256 << 20;
/// Default time limit for one request, in seconds.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
/// Default time limit for an artifact upload or download, in seconds.
pub const DEFAULT_ARTIFACT_TIMEOUT_SECS: u64 = 600;
/// Default time a client has to send its request headers, in seconds.
pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
/// Default limit of simultaneous connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default sustained writes per second from one client.
pub const DEFAULT_WRITE_RATE: u32 = 50;
/// Default burst of writes from one client.
pub const DEFAULT_WRITE_BURST: u32 = 500;
/// Default size of RocksDB's block cache, in MiB.
pub const DEFAULT_CACHE_MIB: usize = 64;
/// Where the artifact store lives inside the data directory by default.
pub const DEFAULT_ARTIFACT_SUBDIR: &str = "artifacts";
/// Default total size of the artifact store (10 GiB).
pub const DEFAULT_ARTIFACT_QUOTA_BYTES: u64 = 10 << 30;
/// Default share of the artifact store one publisher may fill (1 GiB).
pub const DEFAULT_ARTIFACT_PUBLISHER_QUOTA_BYTES: u64 = 1 << 30;
/// Default limit of simultaneous artifact uploads and downloads.
pub const DEFAULT_MAX_ARTIFACT_TRANSFERS: usize = 32;
/// Default slowest artifact transfer kept, in bytes per second.
pub const DEFAULT_ARTIFACT_MIN_RATE: u64 = 4096;
/// Default time a response may wait for the client to read it, in seconds.
pub const DEFAULT_SEND_TIMEOUT_SECS: u64 = 30;

/// `sealwax-log`: the sealwax transparency log server.
///
/// It accepts key registrations, key revocations and release signatures,
/// appends them to an append-only Merkle log stored in RocksDB, and serves
/// signed checkpoints, C2SP tiles and proofs.
#[derive(Debug, Parser)]
#[command(name = "sealwax-log", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the log server (creates the data directory, signing key and database on first start).
    Serve(Box<ServeArgs>),
    /// Print the log's verifier key (`<origin>+<key ID>+<base64 key>`), for clients and monitors.
    Key(KeyArgs),
}

/// Arguments of `sealwax-log key`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Data directory of the log (the one given to `serve`).
    #[arg(long, env = "SEALWAX_LOG_DATA_DIR", value_name = "DIR")]
    pub data_dir: PathBuf,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Arguments of `sealwax-log serve`. Unset values fall back to the config
/// file, then to the defaults shown.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (snake_case keys, e.g. `data_dir = "/var/lib/sealwax"`);
    /// flags and environment variables override it.
    #[arg(long, env = "SEALWAX_LOG_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory for the signing key, the database and (unless --artifact-dir says otherwise)
    /// artifacts (created, mode 0700, if missing). Required.
    #[arg(long, env = "SEALWAX_LOG_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SEALWAX_LOG_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// The log's origin, e.g. `log.example.com/sealwax`: the first line of every checkpoint and the
    /// name of its key. Required on the first start; later starts read it from the data directory
    /// and refuse a different one.
    #[arg(long, env = "SEALWAX_LOG_ORIGIN", value_name = "ORIGIN")]
    pub origin: Option<String>,

    /// File holding the operator's admin token (surrounding white space is ignored). Enables
    /// operator key registrations and revocations, sent with `Authorization: Bearer <token>`.
    #[arg(long, env = "SEALWAX_LOG_ADMIN_TOKEN_FILE", value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// Most entries sequenced, written and signed in one batch [default: 256].
    #[arg(long, env = "SEALWAX_LOG_BATCH_SIZE", value_name = "N")]
    pub batch_size: Option<usize>,

    /// Longest time the sequencer waits for a batch to fill once the queue is empty, in milliseconds
    /// [default: 0: write what is queued at once; under load the next batch gathers while this one
    /// is being written (group commit)].
    #[arg(long, env = "SEALWAX_LOG_BATCH_WAIT_MS", value_name = "MS")]
    pub batch_wait_ms: Option<u64>,

    /// Most submissions waiting for the sequencer; past this the log answers 503 with Retry-After
    /// [default: 4096].
    #[arg(long, env = "SEALWAX_LOG_QUEUE_CAPACITY", value_name = "N")]
    pub queue_capacity: Option<usize>,

    /// How long each signed checkpoint stays provable in the key directory, in seconds: a
    /// client can ask for directory proofs at the size of any checkpoint signed this recently
    /// (a witness-cosigned or mirrored one lags the newest) [default: 600]. Older node versions
    /// are dropped as RocksDB compacts.
    #[arg(long, env = "SEALWAX_LOG_DIRECTORY_WINDOW_SECS", value_name = "SECS")]
    pub directory_window_secs: Option<u64>,

    /// Largest artifact the artifact store accepts, in bytes [default: 268435456 (256 MiB)].
    #[arg(long, env = "SEALWAX_LOG_MAX_ARTIFACT_BYTES", value_name = "BYTES")]
    pub max_artifact_bytes: Option<u64>,

    /// Turn the artifact store off (`PUT/GET /v1/artifacts/...` answer 404).
    #[arg(long, env = "SEALWAX_LOG_NO_ARTIFACTS")]
    pub no_artifacts: bool,

    /// Directory of the artifact store; put it on its own file system to keep artifacts from
    /// filling the database's disk [default: <data dir>/artifacts].
    #[arg(long, env = "SEALWAX_LOG_ARTIFACT_DIR", value_name = "DIR")]
    pub artifact_dir: Option<PathBuf>,

    /// Most bytes the artifact store holds in all; past it uploads get 507 (signatures are still
    /// logged) [default: 10737418240 (10 GiB)].
    #[arg(long, env = "SEALWAX_LOG_ARTIFACT_QUOTA_BYTES", value_name = "BYTES")]
    pub artifact_quota_bytes: Option<u64>,

    /// Most bytes of the artifact store one publisher's artifacts may take; past it that
    /// publisher's uploads get 413 [default: 1073741824 (1 GiB)].
    #[arg(
        long,
        env = "SEALWAX_LOG_ARTIFACT_PUBLISHER_QUOTA_BYTES",
        value_name = "BYTES"
    )]
    pub artifact_publisher_quota_bytes: Option<u64>,

    /// Most artifact uploads and downloads at once, on connections apart from --max-connections;
    /// past it artifact requests get 503 with Retry-After [default: 32].
    #[arg(long, env = "SEALWAX_LOG_MAX_ARTIFACT_TRANSFERS", value_name = "N")]
    pub max_artifact_transfers: Option<usize>,

    /// Slowest artifact upload or download kept, in bytes per second over each 10 s; a slower one
    /// is cut off. 0 turns the check off [default: 4096].
    #[arg(long, env = "SEALWAX_LOG_ARTIFACT_MIN_RATE", value_name = "BYTES")]
    pub artifact_min_rate: Option<u64>,

    /// Time a response may wait for the client to read any of it before the connection is
    /// closed, in seconds [default: 30].
    #[arg(long, env = "SEALWAX_LOG_SEND_TIMEOUT_SECS", value_name = "SECS")]
    pub send_timeout_secs: Option<u64>,

    /// Time limit for one request, in seconds [default: 30].
    #[arg(long, env = "SEALWAX_LOG_REQUEST_TIMEOUT_SECS", value_name = "SECS")]
    pub request_timeout_secs: Option<u64>,

    /// Time limit for an artifact upload or download, in seconds [default: 600].
    #[arg(long, env = "SEALWAX_LOG_ARTIFACT_TIMEOUT_SECS", value_name = "SECS")]
    pub artifact_timeout_secs: Option<u64>,

    /// Time a client has to send its request headers before the connection is closed, in seconds
    /// [default: 10].
    #[arg(long, env = "SEALWAX_LOG_HEADER_TIMEOUT_SECS", value_name = "SECS")]
    pub header_timeout_secs: Option<u64>,

    /// Most simultaneous client connections; more wait to be accepted [default: 1024].
    #[arg(long, env = "SEALWAX_LOG_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,

    /// Log output format [default: text]. The level is set with RUST_LOG (default `info`).
    #[arg(long, env = "SEALWAX_LOG_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Sustained writes (POST and PUT) per second one client may make; past its burst a client gets
    /// 429 with Retry-After. 0 turns the limit off [default: 50].
    #[arg(long, env = "SEALWAX_LOG_WRITE_RATE", value_name = "N")]
    pub write_rate: Option<u32>,

    /// Writes one client may make at once before --write-rate applies [default: 500].
    #[arg(long, env = "SEALWAX_LOG_WRITE_BURST", value_name = "N")]
    pub write_burst: Option<u32>,

    /// Take the client address for --write-rate from this request header (e.g. X-Real-IP) instead
    /// of the TCP peer. Set it only when a proxy you trust sets that header, as deploy/nginx does.
    #[arg(long, env = "SEALWAX_LOG_CLIENT_IP_HEADER", value_name = "HEADER")]
    pub client_ip_header: Option<String>,

    /// RocksDB's block cache, in MiB. Proofs read one 16 KiB subtree per 256 entries of the log
    /// (about 64 MiB per million entries): a cache that holds them keeps proofs off the disk, at
    /// that cost in memory [default: 64].
    #[arg(long, env = "SEALWAX_LOG_CACHE_MIB", value_name = "MIB")]
    pub cache_mib: Option<usize>,

    /// Sigsum policy file naming this log and its witnesses: the log asks each witness with a URL
    /// to cosign, and /checkpoint serves the newest checkpoint that meets the quorum.
    #[arg(long, env = "SEALWAX_LOG_WITNESS_POLICY", value_name = "FILE")]
    pub witness_policy: Option<PathBuf>,

    /// Copy every tile, entry bundle and then the checkpoint to this S3 location
    /// (s3://BUCKET or s3://BUCKET/PREFIX), for readers and CDNs. The endpoint and credentials
    /// come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION.
    #[arg(long, env = "SEALWAX_LOG_MIRROR", value_name = "S3_URL")]
    pub mirror: Option<String>,

    /// /healthz fails when the --mirror's checkpoint has been behind the log's for longer than
    /// this [default: 300].
    #[arg(long, env = "SEALWAX_LOG_MIRROR_STUCK_SECS", value_name = "SECS")]
    pub mirror_stuck_secs: Option<u64>,
}

/// The TOML config file: the same settings as the `serve` flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// See `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// See `--listen`.
    pub listen: Option<SocketAddr>,
    /// See `--origin`.
    pub origin: Option<String>,
    /// See `--admin-token-file`.
    pub admin_token_file: Option<PathBuf>,
    /// See `--batch-size`.
    pub batch_size: Option<usize>,
    /// See `--batch-wait-ms`.
    pub batch_wait_ms: Option<u64>,
    /// See `--queue-capacity`.
    pub queue_capacity: Option<usize>,
    /// See `--directory-window-secs`.
    pub directory_window_secs: Option<u64>,
    /// See `--max-artifact-bytes`.
    pub max_artifact_bytes: Option<u64>,
    /// `false` is `--no-artifacts`.
    pub artifacts: Option<bool>,
    /// See `--artifact-dir`.
    pub artifact_dir: Option<PathBuf>,
    /// See `--artifact-quota-bytes`.
    pub artifact_quota_bytes: Option<u64>,
    /// See `--artifact-publisher-quota-bytes`.
    pub artifact_publisher_quota_bytes: Option<u64>,
    /// See `--max-artifact-transfers`.
    pub max_artifact_transfers: Option<usize>,
    /// See `--artifact-min-rate`.
    pub artifact_min_rate: Option<u64>,
    /// See `--send-timeout-secs`.
    pub send_timeout_secs: Option<u64>,
    /// See `--request-timeout-secs`.
    pub request_timeout_secs: Option<u64>,
    /// See `--artifact-timeout-secs`.
    pub artifact_timeout_secs: Option<u64>,
    /// See `--header-timeout-secs`.
    pub header_timeout_secs: Option<u64>,
    /// See `--max-connections`.
    pub max_connections: Option<usize>,
    /// See `--log-format`.
    pub log_format: Option<LogFormat>,
    /// See `--write-rate`.
    pub write_rate: Option<u32>,
    /// See `--write-burst`.
    pub write_burst: Option<u32>,
    /// See `--client-ip-header`.
    pub client_ip_header: Option<String>,
    /// See `--cache-mib`.
    pub cache_mib: Option<usize>,
    /// See `--witness-policy`.
    pub witness_policy: Option<PathBuf>,
    /// See `--mirror`.
    pub mirror: Option<String>,
    /// See `--mirror-stuck-secs`.
    pub mirror_stuck_secs: Option<u64>,
}

/// The settings of a running server, all resolved.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// Origin asked for (None: take the stored one).
    pub origin: Option<String>,
    /// Admin token file.
    pub admin_token_file: Option<PathBuf>,
    /// Sequencer batch limit.
    pub batch_size: usize,
    /// Sequencer batch wait.
    pub batch_wait: Duration,
    /// Submission queue capacity.
    pub queue_capacity: usize,
    /// How long a checkpoint stays provable in the key directory.
    pub directory_window: Duration,
    /// Artifact size limit; `None` when the artifact store is off.
    pub max_artifact_bytes: Option<u64>,
    /// Artifact store directory.
    pub artifact_dir: PathBuf,
    /// Total artifact store quota, in bytes.
    pub artifact_quota_bytes: u64,
    /// Per-publisher artifact store quota, in bytes.
    pub artifact_publisher_quota_bytes: u64,
    /// Simultaneous artifact transfers.
    pub max_artifact_transfers: usize,
    /// Slowest artifact transfer kept, in bytes per second (0: any).
    pub artifact_min_rate: u64,
    /// Longest wait for a client to read a response.
    pub send_timeout: Duration,
    /// Per-request time limit.
    pub request_timeout: Duration,
    /// Artifact transfer time limit.
    pub artifact_timeout: Duration,
    /// Header read time limit.
    pub header_timeout: Duration,
    /// Connection limit.
    pub max_connections: usize,
    /// Log output format.
    pub log_format: LogFormat,
    /// Per-client write limit.
    pub write_limit: crate::ratelimit::WriteLimit,
    /// Header with the client address, set by a trusted proxy.
    pub client_ip_header: Option<axum::http::HeaderName>,
    /// RocksDB block cache size, in bytes.
    pub cache_bytes: usize,
    /// The witness policy file, if witnessing is on.
    pub witness_policy: Option<PathBuf>,
    /// The object storage mirror, if on.
    pub mirror: Option<crate::mirror::MirrorTarget>,
    /// How long the mirror may lag before /healthz fails.
    pub mirror_stuck: Duration,
}

/// A configuration that cannot be used.
///
/// A cause shown in a message is not also its `source`, so `{:#}` and
/// anyhow's "Caused by" print it once.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// `--mirror` is not an S3 location.
    #[error("--mirror: {0}")]
    Mirror(String),
    /// The config file could not be read.
    #[error("cannot read config file {path}: {cause}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: std::io::Error,
    },
    /// The config file is not valid TOML for these settings.
    #[error("config file {path} is not valid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML parser's message.
        message: String,
    },
    /// No data directory anywhere.
    #[error("no data directory: pass --data-dir DIR, set SEALWAX_LOG_DATA_DIR, or put data_dir in the config file")]
    NoDataDir,
    /// A value out of range.
    #[error("invalid setting {name}: {reason}")]
    Invalid {
        /// The setting.
        name: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
}

impl FileConfig {
    /// Reads and parses a TOML config file.
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })
    }
}

impl ServeArgs {
    /// Merges the flags/environment with the config file (if any) and the defaults.
    pub fn resolve(self) -> Result<ServeConfig, ConfigError> {
        let file = match &self.config {
            Some(p) => FileConfig::load(p)?,
            None => FileConfig::default(),
        };
        self.merge(file)
    }

    /// Merges these flags with an already parsed config file and the defaults.
    pub fn merge(self, file: FileConfig) -> Result<ServeConfig, ConfigError> {
        self.over(file).into_config()
    }

    /// Every setting from the flags and environment where given, else from the file.
    fn over(self, file: FileConfig) -> FileConfig {
        macro_rules! first {
            ($($field:ident),* $(,)?) => {
                FileConfig {
                    $($field: self.$field.or(file.$field),)*
                    artifacts: if self.no_artifacts { Some(false) } else { file.artifacts },
                }
            };
        }
        first!(
            data_dir,
            listen,
            origin,
            admin_token_file,
            batch_size,
            batch_wait_ms,
            queue_capacity,
            directory_window_secs,
            max_artifact_bytes,
            artifact_dir,
            artifact_quota_bytes,
            artifact_publisher_quota_bytes,
            max_artifact_transfers,
            artifact_min_rate,
            send_timeout_secs,
            request_timeout_secs,
            artifact_timeout_secs,
            header_timeout_secs,
            max_connections,
            log_format,
            write_rate,
            write_burst,
            client_ip_header,
            cache_mib,
            witness_policy,
            mirror,
            mirror_stuck_secs,
        )
    }
}

impl FileConfig {
    /// Fills what is unset with the defaults and checks every limit.
    fn into_config(self) -> Result<ServeConfig, ConfigError> {
        let data_dir = self.data_dir.ok_or(ConfigError::NoDataDir)?;
        let artifacts_on = self.artifacts.unwrap_or(true);
        Ok(ServeConfig {
            listen: self.listen.unwrap_or_else(|| {
                DEFAULT_LISTEN
                    .parse()
                    .expect("default listen address parses")
            }),
            origin: self.origin,
            admin_token_file: self.admin_token_file,
            batch_size: at_least_one(self.batch_size, DEFAULT_BATCH_SIZE, "batch_size", ONE)?,
            batch_wait: Duration::from_millis(self.batch_wait_ms.unwrap_or(DEFAULT_BATCH_WAIT_MS)),
            queue_capacity: at_least_one(
                self.queue_capacity,
                DEFAULT_QUEUE_CAPACITY,
                "queue_capacity",
                ONE,
            )?,
            directory_window: self
                .directory_window_secs
                .map_or(DEFAULT_DIRECTORY_WINDOW, Duration::from_secs),
            max_artifact_bytes: artifacts_on.then(|| {
                self.max_artifact_bytes
                    .unwrap_or(DEFAULT_MAX_ARTIFACT_BYTES)
            }),
            artifact_dir: self
                .artifact_dir
                .unwrap_or_else(|| data_dir.join(DEFAULT_ARTIFACT_SUBDIR)),
            data_dir,
            artifact_quota_bytes: self
                .artifact_quota_bytes
                .unwrap_or(DEFAULT_ARTIFACT_QUOTA_BYTES),
            artifact_publisher_quota_bytes: self
                .artifact_publisher_quota_bytes
                .unwrap_or(DEFAULT_ARTIFACT_PUBLISHER_QUOTA_BYTES),
            max_artifact_transfers: at_least_one(
                self.max_artifact_transfers,
                DEFAULT_MAX_ARTIFACT_TRANSFERS,
                "max_artifact_transfers",
                "must be at least 1 (turn the store off with --no-artifacts)",
            )?,
            artifact_min_rate: self.artifact_min_rate.unwrap_or(DEFAULT_ARTIFACT_MIN_RATE),
            send_timeout: seconds(
                self.send_timeout_secs,
                DEFAULT_SEND_TIMEOUT_SECS,
                "send_timeout_secs",
            )?,
            request_timeout: seconds(
                self.request_timeout_secs,
                DEFAULT_REQUEST_TIMEOUT_SECS,
                "request_timeout_secs",
            )?,
            artifact_timeout: seconds(
                self.artifact_timeout_secs,
                DEFAULT_ARTIFACT_TIMEOUT_SECS,
                "artifact_timeout_secs",
            )?,
            header_timeout: seconds(
                self.header_timeout_secs,
                DEFAULT_HEADER_TIMEOUT_SECS,
                "header_timeout_secs",
            )?,
            max_connections: at_least_one(
                self.max_connections,
                DEFAULT_MAX_CONNECTIONS,
                "max_connections",
                ONE,
            )?,
            log_format: self.log_format.unwrap_or_default(),
            write_limit: crate::ratelimit::WriteLimit {
                per_second: self.write_rate.unwrap_or(DEFAULT_WRITE_RATE),
                burst: self.write_burst.unwrap_or(DEFAULT_WRITE_BURST),
            },
            client_ip_header: self.client_ip_header.map(header_name).transpose()?,
            cache_bytes: cache_bytes(self.cache_mib.unwrap_or(DEFAULT_CACHE_MIB))?,
            witness_policy: self.witness_policy,
            mirror: self
                .mirror
                .map(|m| crate::mirror::MirrorTarget::parse(&m))
                .transpose()
                .map_err(ConfigError::Mirror)?,
            mirror_stuck: seconds(
                self.mirror_stuck_secs,
                crate::mirror::DEFAULT_MIRROR_STUCK_SECS,
                "mirror_stuck_secs",
            )?,
        })
    }
}

/// The reason a count of 0 is refused.
const ONE: &str = "must be at least 1";

/// `value` (or `default`), refused with `reason` when it is 0.
fn at_least_one(
    value: Option<usize>,
    default: usize,
    name: &'static str,
    reason: &'static str,
) -> Result<usize, ConfigError> {
    match value.unwrap_or(default) {
        0 => Err(ConfigError::Invalid { name, reason }),
        n => Ok(n),
    }
}

/// A time limit of `value` (or `default`) seconds; 0 is refused.
fn seconds(value: Option<u64>, default: u64, name: &'static str) -> Result<Duration, ConfigError> {
    match value.unwrap_or(default) {
        0 => Err(ConfigError::Invalid {
            name,
            reason: "must be at least 1 second",
        }),
        s => Ok(Duration::from_secs(s)),
    }
}

/// The block cache of `mib` MiB, in bytes: at least 1 MiB, and addressable.
fn cache_bytes(mib: usize) -> Result<usize, ConfigError> {
    match mib.checked_mul(1 << 20) {
        Some(b) if mib >= 1 => Ok(b),
        _ => Err(ConfigError::Invalid {
            name: "cache_mib",
            reason: "must be at least 1 (MiB) and fit in memory",
        }),
    }
}

/// The client-address header a trusted proxy sets, e.g. `X-Real-IP`.
fn header_name(h: String) -> Result<axum::http::HeaderName, ConfigError> {
    axum::http::HeaderName::try_from(h.trim()).map_err(|_| ConfigError::Invalid {
        name: "client_ip_header",
        reason: "must be an HTTP header name, e.g. X-Real-IP",
    })
}

impl ServeConfig {
    /// A configuration with every default, for `data_dir` (used by tests).
    pub fn with_defaults(data_dir: impl Into<PathBuf>) -> ServeConfig {
        ServeArgs {
            data_dir: Some(data_dir.into()),
            ..ServeArgs::default()
        }
        .merge(FileConfig::default())
        .expect("the defaults are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_override_file_and_defaults_fill_the_rest() {
        let cli = Cli::try_parse_from([
            "sealwax-log",
            "serve",
            "--data-dir",
            "/tmp/d",
            "--batch-size",
            "7",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("expected serve")
        };
        let file: FileConfig = toml::from_str(
            "batch_size = 99\nlisten = \"0.0.0.0:9999\"\nartifacts = false\norigin = \"o.example/log\"\ncache_mib = 512\n",
        )
        .unwrap();
        let cfg = (*args).merge(file).unwrap();
        assert_eq!(cfg.batch_size, 7, "the flag wins over the file");
        assert_eq!(
            cfg.listen,
            "0.0.0.0:9999".parse().unwrap(),
            "file over default"
        );
        assert_eq!(
            cfg.max_artifact_bytes, None,
            "artifacts = false turns the store off"
        );
        assert_eq!(cfg.origin.as_deref(), Some("o.example/log"));
        assert_eq!(cfg.queue_capacity, DEFAULT_QUEUE_CAPACITY);
        assert_eq!(cfg.batch_wait, Duration::from_millis(DEFAULT_BATCH_WAIT_MS));
        assert_eq!(cfg.cache_bytes, 512 << 20);
        assert_eq!(
            ServeConfig::with_defaults("/tmp/d").cache_bytes,
            DEFAULT_CACHE_MIB << 20
        );
    }

    #[test]
    fn the_example_config_file_is_valid_and_names_every_setting() {
        let text = include_str!("../../deploy/examples/log.toml");
        let file: FileConfig = toml::from_str(text).unwrap();
        let cfg = ServeArgs::default().merge(file).unwrap();
        assert_eq!(cfg.origin.as_deref(), Some("log.example.org/sealwax"));
        // Uncommented, every setting still parses.
        let all: String = text
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|l| l.contains(" = "))
                    .unwrap_or(l)
            })
            .collect::<Vec<_>>()
            .join("\n");
        let file: FileConfig = toml::from_str(&all).unwrap();
        let cfg = ServeArgs::default().merge(file).unwrap();
        assert_eq!(cfg.cache_bytes, DEFAULT_CACHE_MIB << 20);
        assert_eq!(cfg.batch_size, DEFAULT_BATCH_SIZE);
        assert!(cfg.client_ip_header.is_some());
        for flag in Cli::command()
            .find_subcommand("serve")
            .unwrap()
            .get_arguments()
            .filter_map(|a| a.get_long())
            .filter(|f| !["config", "no-artifacts"].contains(f))
        {
            let key = format!("{} = ", flag.replace('-', "_"));
            assert!(text.contains(&key), "deploy/examples/log.toml lacks {key}");
        }
    }

    #[test]
    fn unknown_file_keys_and_missing_data_dir_are_errors() {
        assert!(toml::from_str::<FileConfig>("no_such_setting = 1\n").is_err());
        let err = ServeArgs::default()
            .merge(FileConfig::default())
            .unwrap_err();
        assert!(matches!(err, ConfigError::NoDataDir), "{err}");
        assert!(err.to_string().contains("--data-dir"));
    }

    #[test]
    fn zero_limits_are_refused() {
        let args = ServeArgs {
            data_dir: Some("/tmp/d".into()),
            batch_size: Some(0),
            ..ServeArgs::default()
        };
        assert!(matches!(
            args.merge(FileConfig::default()),
            Err(ConfigError::Invalid {
                name: "batch_size",
                ..
            })
        ));
        for mib in [0, usize::MAX] {
            let args = ServeArgs {
                data_dir: Some("/tmp/d".into()),
                cache_mib: Some(mib),
                ..ServeArgs::default()
            };
            assert!(matches!(
                args.merge(FileConfig::default()),
                Err(ConfigError::Invalid {
                    name: "cache_mib",
                    ..
                })
            ));
        }
    }
}
