//! One module per verb; [`Ctx`] carries what they all need.

pub mod init;
pub mod install;
pub mod keys;
pub mod publish;
pub mod verify;

use std::fmt::Display;
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sealwax_proto::checkpoint::Checkpoint;
use sealwax_proto::display::escape_controls;
use sealwax_proto::entry::Entry;
use sealwax_proto::merkle::verify_inclusion;
use sealwax_proto::Hash;

use crate::api::LogClient;
use crate::checkpoints::{CheckpointTracker, Freshness};
use crate::cli::{Cli, Command, KeysCommand};
use crate::digest::{hash_stream, Digests};
use crate::error::{ClientError, Result};
use crate::home::{normalise_url, Config, Home, LogIdentity};
use crate::keyring::OwnKeys;
use crate::password::PasswordSource;
use crate::progress::{bytes_bar, spinner};
use crate::trust::TrustStore;

/// What every command needs: the home, the output mode, where passwords
/// come from, and the log as configured or given by flags.
#[derive(Debug)]
pub struct Ctx {
    /// The client's home.
    pub home: Home,
    /// `--json`: stdout carries one JSON object, messages go to stderr.
    pub json: bool,
    /// Where passwords come from.
    pub passwords: PasswordSource,
    /// `config.toml`.
    pub config: Config,
    log_flag: Option<String>,
    log_key_flag: Option<String>,
    policy_flag: Option<PathBuf>,
    /// `--cosign-timeout`: how long a write waits for a cosigned checkpoint.
    pub cosign_timeout: Duration,
}

/// The first failure to write the output for people (other than a closed pipe).
static STDOUT_FAILURE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Why the output for people could not all be written (a full disk), if it could not.
pub fn stdout_failure() -> Option<&'static str> {
    STDOUT_FAILURE.get().map(String::as_str)
}

impl Ctx {
    /// Builds the context from the parsed command line.
    pub fn from_cli(cli: &Cli) -> Result<Ctx> {
        let home = Home::resolve(cli.home.as_deref())?;
        let config = home.load_config()?;
        Ok(Ctx {
            home,
            json: cli.json,
            passwords: PasswordSource::new(cli.password_file.clone()),
            config,
            log_flag: cli.log.clone(),
            log_key_flag: cli.log_key.clone(),
            policy_flag: cli.policy.clone(),
            cosign_timeout: Duration::from_secs(cli.cosign_timeout),
        })
    }

    /// The log's identity (verifier key, origin and witness policy), from
    /// flags or config.
    pub fn log(&self) -> Result<LogIdentity> {
        let log = self.log_key()?;
        match self.policy_path() {
            Some(path) => log.with_policy_file(&path),
            None => Ok(log),
        }
    }

    /// The witness policy file given by flag or config, if any.
    pub fn policy_path(&self) -> Option<PathBuf> {
        self.policy_flag
            .clone()
            .or_else(|| self.config.policy.clone())
    }

    /// The log's verifier key and origin, from flags or config.
    fn log_key(&self) -> Result<LogIdentity> {
        match (&self.log_key_flag, &self.config.log_key) {
            (Some(k), Some(ck)) if k.trim() == ck.trim() => {
                LogIdentity::new(k, self.config.origin.as_deref())
            }
            (Some(k), _) => LogIdentity::new(k, None),
            (None, Some(ck)) => LogIdentity::new(ck, self.config.origin.as_deref()),
            (None, None) => Err(ClientError::NoLogKey),
        }
    }

    /// The verifier key string given by flag or config, if any.
    pub fn log_key_flag_or_config(&self) -> Option<String> {
        self.log_key_flag
            .clone()
            .or_else(|| self.config.log_key.clone())
    }

    /// The log's URL, from flags or config.
    pub fn log_url(&self) -> Result<String> {
        let url = self
            .log_flag
            .as_ref()
            .or(self.config.log.as_ref())
            .ok_or(ClientError::NoLogUrl)?;
        normalise_url(url)
    }

    /// An HTTP client for the log.
    pub fn api(&self) -> Result<LogClient> {
        LogClient::new(&self.log_url()?)
    }

    /// An HTTP client for the log that reads its checkpoint and tiles from
    /// the mirror `tiles` (`--tiles`), when given.
    pub fn api_reading(&self, tiles: Option<&str>) -> Result<LogClient> {
        let api = self.api()?;
        Ok(match tiles {
            Some(t) => api.with_tiles(&normalise_url(t)?),
            None => api,
        })
    }

    /// Prints a line for people: stdout, or stderr under `--json`. Control
    /// characters in it (it may quote a log or a publisher) are escaped. A
    /// closed or full stream is no reason to stop a command half-way (a
    /// publish piped into `head -1` still finishes); a failure other than a
    /// reader gone away (a full disk) is kept for [`stdout_failure`], so the
    /// command still ends with an error instead of losing its output quietly.
    pub fn say(&self, msg: impl Display) {
        let msg = msg.to_string();
        let msg = escape_controls(&msg);
        let written = if self.json {
            writeln!(std::io::stderr(), "{msg}")
        } else {
            writeln!(std::io::stdout(), "{msg}").and_then(|()| std::io::stdout().flush())
        };
        if let Err(e) = written {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                let _ = STDOUT_FAILURE.set(e.to_string());
            }
        }
    }

    /// Prints a warning on stderr, control characters escaped.
    pub fn warn(&self, msg: impl Display) {
        let msg = msg.to_string();
        let _ = writeln!(std::io::stderr(), "warning: {}", escape_controls(&msg));
    }

    /// Whether progress bars may be drawn.
    pub fn progress(&self) -> bool {
        !self.json
    }

    /// The trust store of `log`.
    pub fn trust_store(&self, log: &LogIdentity) -> Result<TrustStore> {
        TrustStore::load(&self.home.log_dir(log).join("trust.toml"))
    }

    /// What this client verified about each publisher of `log`.
    pub fn key_states(&self, log: &LogIdentity) -> crate::keystate::KeyStateStore {
        crate::keystate::KeyStateStore::new(&self.home.log_dir(log).join("publishers"))
    }

    /// This home's own keys in `log`.
    pub fn own_keys(&self, log: &LogIdentity) -> Result<OwnKeys> {
        OwnKeys::load(&self.home.log_dir(log).join("own-keys.toml"))
    }

    /// The publishes of `log` that were started and not finished.
    pub fn pending(&self, log: &LogIdentity) -> crate::pending::PendingStore {
        crate::pending::PendingStore::new(&self.home.log_dir(log).join("pending"))
    }

    /// Prints a note on stderr, control characters escaped.
    pub fn note(&self, msg: impl Display) {
        let msg = msg.to_string();
        let _ = writeln!(std::io::stderr(), "note: {}", escape_controls(&msg));
    }

    /// Says, one line each, which publishes of the configured log were
    /// interrupted, except the release `skip` (being published now). A
    /// home without a log or with an unreadable marker says nothing here:
    /// the command itself reports what matters to it.
    pub fn notify_pending(&self, skip: Option<&str>) {
        let Ok(log) = self.log() else {
            return;
        };
        for p in self.pending(&log).list().unwrap_or_default() {
            if Some(p.name().as_str()) != skip {
                self.note(p.notice());
            }
        }
    }

    /// The remembered checkpoint of `log`.
    pub fn tracker(&self, log: &LogIdentity) -> Result<CheckpointTracker> {
        CheckpointTracker::load(&self.home, log)
    }
}

/// Reads `path` once, with a progress bar, for its digests.
pub fn hash_file(ctx: &Ctx, path: &Path) -> Result<Digests> {
    let file = File::open(path).map_err(|e| ClientError::io("open", path, e))?;
    let len = file.metadata().map(|m| m.len()).ok();
    let bar = bytes_bar(ctx.progress(), len, "hashing");
    let digests =
        hash_stream(file, None, |n| bar.inc(n)).map_err(|e| ClientError::io("read", path, e))?;
    bar.finish_and_clear();
    Ok(digests)
}

/// Runs the command; returns the JSON result (printed under `--json`).
pub fn run(cli: Cli) -> Result<serde_json::Value> {
    let ctx = Ctx::from_cli(&cli)?;
    match &cli.command {
        Command::Publish(a) if a.resume => {}
        Command::Publish(a) => {
            let name = match (&a.publisher, &a.package, &a.release_version) {
                (Some(p), Some(n), Some(v)) => Some(format!("{p}/{n}@{v}")),
                _ => None,
            };
            ctx.notify_pending(name.as_deref());
        }
        _ => ctx.notify_pending(None),
    }
    match cli.command {
        Command::Init(a) => init::run(&ctx, a),
        Command::Keys(k) => match k {
            KeysCommand::Generate(a) => keys::generate(&ctx, a),
            KeysCommand::Register(a) => keys::register(&ctx, a),
            KeysCommand::Import(a) => keys::import(&ctx, a),
            KeysCommand::List => keys::list(&ctx),
            KeysCommand::Revoke(a) => keys::revoke(&ctx, a),
            KeysCommand::Rotate(a) => keys::rotate(&ctx, a),
            KeysCommand::Vouch(a) => keys::vouch(&ctx, a),
        },
        Command::Publish(a) => publish::run(&ctx, a),
        Command::Verify(a) => verify::run(&ctx, a),
        Command::Install(a) => install::run(&ctx, a),
    }
}

/// An entry the log accepted, with the proof that it is in the log.
#[derive(Debug, Clone)]
pub struct Logged {
    /// Its index.
    pub index: u64,
    /// Its leaf hash.
    pub leaf_hash: Hash,
    /// The checkpoint the proof leads to.
    pub checkpoint: Checkpoint,
    /// That checkpoint's signed note.
    pub checkpoint_text: String,
    /// The inclusion proof.
    pub inclusion: Vec<Hash>,
    /// Whether the log had it already.
    pub duplicate: bool,
}

/// Submits `entry`, then verifies the log's answer: the leaf hash, the
/// checkpoint (signed by the log key and consistent with the remembered
/// one: [`Freshness::Answer`]) and the inclusion proof. Under a witness
/// policy the entry is then proven again in the first checkpoint cosigned
/// by a quorum that covers it ([`wait_cosigned`]), which is saved as the
/// newest seen.
pub fn submit_entry(
    ctx: &Ctx,
    api: &LogClient,
    tracker: &mut CheckpointTracker,
    what: &'static str,
    entry: &Entry,
    admin_token: Option<&str>,
) -> Result<Logged> {
    let bytes = entry.to_bytes();
    let answer = api.submit(what, &bytes, admin_token)?;
    let leaf = entry.leaf_hash();
    if answer.leaf_hash != leaf {
        return Err(api.misbehaving(format!(
            "it answered leaf hash {} for an entry whose leaf hash is {}",
            hex::encode(answer.leaf_hash),
            hex::encode(leaf)
        )));
    }
    let cp = tracker.accept(api, &answer.checkpoint, Freshness::Answer)?;
    let check = |cp: &Checkpoint, inclusion: &[Hash]| {
        verify_inclusion(&leaf, answer.index, cp.size, inclusion, &cp.root).map_err(|e| {
            api.misbehaving(format!(
                "its inclusion proof for the {what} at index {} in tree size {} does not verify: {e}",
                answer.index, cp.size
            ))
        })
    };
    check(&cp, &answer.inclusion_proof)?;
    let mut logged = Logged {
        index: answer.index,
        leaf_hash: leaf,
        checkpoint: cp,
        checkpoint_text: answer.checkpoint,
        inclusion: answer.inclusion_proof,
        duplicate: answer.duplicate,
    };
    if tracker.log().policy.is_some() {
        let (cp, text) = wait_cosigned(ctx, api, tracker, logged.index)?;
        let proof = api.inclusion_proof(logged.index, cp.size)?;
        check(&cp, &proof.proof)?;
        logged.checkpoint = cp;
        logged.checkpoint_text = text;
        logged.inclusion = proof.proof;
    }
    tracker.commit()?;
    Ok(logged)
}

/// How often `/checkpoint` is asked while waiting for witnesses.
const COSIGN_POLL: Duration = Duration::from_millis(200);

/// Waits, up to `--cosign-timeout`, for the log to serve a checkpoint that
/// meets the witness policy and covers entry `index`; it becomes the
/// baseline like any checkpoint the client accepts.
fn wait_cosigned(
    ctx: &Ctx,
    api: &LogClient,
    tracker: &mut CheckpointTracker,
    index: u64,
) -> Result<(Checkpoint, String)> {
    let started = Instant::now();
    let bar = spinner(ctx.progress(), "waiting for the witnesses to cosign");
    let mut cosigned_size = tracker.baseline().map_or(0, |cp| cp.size);
    let result = loop {
        match tracker.current(api) {
            Ok((cp, text)) => {
                cosigned_size = cp.size;
                if cp.size > index {
                    break Ok((cp, text));
                }
            }
            // A log with witnesses answers 503 until it holds a quorate checkpoint.
            Err(ClientError::LogHttp { status: 503, .. }) => {}
            Err(e) => break Err(e),
        }
        if started.elapsed() >= ctx.cosign_timeout {
            break Err(ClientError::CosignTimeout {
                index,
                secs: ctx.cosign_timeout.as_secs(),
                cosigned_size,
            });
        }
        bar.tick();
        std::thread::sleep(COSIGN_POLL);
    };
    bar.finish_and_clear();
    result
}

/// Reads an admin token file (its first line).
pub fn read_admin_token(path: &PathBuf) -> Result<zeroize::Zeroizing<String>> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| ClientError::io("read", path, e))?,
    );
    Ok(zeroize::Zeroizing::new(
        text.lines().next().unwrap_or("").trim().to_string(),
    ))
}
