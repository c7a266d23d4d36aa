//! The command line: verbs, flags and their help texts.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const ABOUT: &str = "Sign, publish, verify and install packages, with every key and signature in a transparency log";

const LONG_ABOUT: &str = "\
sealwax signs packages with Minisign keys and records every key registration,
key revocation and signature in an append-only transparency log. Installers
check the Minisign signature, a Merkle proof that the signature is in the log,
that the log never rewrote its history, and the status of the signing key.

A publisher's first steps:
  sealwax init --log https://log.example.com --log-key 'log.example.com+1a2b3c4d+AQ...'
  sealwax keys generate --publisher alice
  sealwax publish hello.tar.gz alice/hello@1.0.0

An installer's:
  sealwax init --log https://log.example.com --log-key 'log.example.com+1a2b3c4d+AQ...'
  sealwax install alice/hello@1.0.0 --to ./packages
  sealwax verify ./packages/hello-1.0.0        (offline, any time later)";

const AFTER_HELP: &str = "\
Environment:
  SEALWAX_LOG, SEALWAX_LOG_KEY, SEALWAX_HOME, SEALWAX_PASSWORD_FILE stand for the flags of the same name.

Exit codes:
  0  success
  1  refused: a signature, proof, key or artifact did not verify, a key is untrusted
     or revoked, the log refused an entry, or you answered no
  2  usage or local problem: bad flags, nothing configured, an unreadable file,
     a wrong password
  3  the log is unreachable or misbehaving: network or server error, an answer that
     does not verify, a forked or rolled-back log
  4  not found: no such file, no .minisig or .tlog-proof beside it, no such release
     in the log, a 404 from a URL";

/// `sealwax`: the publisher and installer CLI.
#[derive(Debug, Parser)]
#[command(name = "sealwax", version, propagate_version = true, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    /// Base URL of the log (saved by `sealwax init`)
    #[arg(
        long,
        global = true,
        env = "SEALWAX_LOG",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub log: Option<String>,

    /// The log's verifier key, `<name>+<key ID>+<base64>`, as `sealwax-log key` prints it
    #[arg(
        long = "log-key",
        global = true,
        env = "SEALWAX_LOG_KEY",
        hide_env_values = true,
        value_name = "VKEY"
    )]
    pub log_key: Option<String>,

    /// Accept only checkpoints cosigned by a quorum of this witness policy (Sigsum syntax; saved by `sealwax init --policy`)
    #[arg(
        long,
        global = true,
        env = "SEALWAX_POLICY",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub policy: Option<PathBuf>,

    /// With a witness policy: how long a write waits for a checkpoint cosigned by its quorum
    #[arg(
        long = "cosign-timeout",
        global = true,
        env = "SEALWAX_COSIGN_TIMEOUT",
        value_name = "SECS",
        default_value_t = 30
    )]
    pub cosign_timeout: u64,

    /// Directory for config, keys, trust store and checkpoints [default: the XDG directories]
    #[arg(
        long,
        global = true,
        env = "SEALWAX_HOME",
        hide_env_values = true,
        value_name = "DIR"
    )]
    pub home: Option<PathBuf>,

    /// Print one JSON object on stdout instead of text (messages go to stderr)
    #[arg(long, global = true)]
    pub json: bool,

    /// Read the password of encrypted secret keys from the first line of FILE
    #[arg(
        long = "password-file",
        global = true,
        env = "SEALWAX_PASSWORD_FILE",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub password_file: Option<PathBuf>,

    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Save the log URL and key in the config, so they need not be repeated
    #[command(long_about = "Save the log URL and key in config.toml.\n\n\
        Without --log-key the key is fetched from the log and printed: compare it with the one\n\
        the log's operator published before you rely on it. The key must verify the log's\n\
        current checkpoint, and a different key already saved is replaced only with --force.")]
    Init(InitArgs),

    /// Make, register, import, list, revoke and rotate keys
    #[command(subcommand)]
    Keys(KeysCommand),

    /// Sign a file, log the signature, write FILE.minisig and FILE.tlog-proof
    #[command(
        long_about = "Sign a file and record the signature in the log.\n\n\
        The file is read once to compute its SHA-256 and BLAKE2b-512. The signature is a stock\n\
        pre-hashed Minisign signature whose trusted comment names the publisher, package,\n\
        version and SHA-256, so `minisign -Vm FILE -p KEY.pub` shows what was signed. The log's\n\
        answer is verified (inclusion proof, checkpoint signature, consistency), then FILE.minisig\n\
        and FILE.tlog-proof are written beside FILE and the file is uploaded where the log keeps\n\
        artifacts. A publish interrupted before its upload finished is remembered in the home:\n\
        every command says so, and `sealwax publish --resume` finishes it.\n\n\
        The release is RELEASE (`hello@1.0.0`, `alice/hello@1.0.0`) or --package and\n\
        --release-version; whatever the command line leaves out is read from sealwax.toml in the\n\
        current directory (`publisher = \"alice\"`, `package = \"hello\"`, `version = \"1.0.0\"`).",
        disable_version_flag = true
    )]
    Publish(PublishArgs),

    /// Check a file against its .minisig and .tlog-proof, offline
    #[command(
        long_about = "Check a file offline: its Minisign signature by a key in the trust store, the log\n\
        entry rebuilt from the signature, its inclusion proof, and the checkpoint signature by the\n\
        trusted log key. Nothing is fetched, unless --online: then the live log's key directory must\n\
        also prove the publisher's current key state (every revocation) and bind the release to this\n\
        artifact."
    )]
    Verify(VerifyArgs),

    /// Fetch a package, verify it against the log, and install it
    #[command(long_about = "Fetch and verify a package, then install it.\n\n\
        TARGET is PUBLISHER/PACKAGE[@VERSION] (fetched from the log's artifact store), an\n\
        http(s) URL (with URL.minisig and URL.tlog-proof beside it), or a local FILE (with\n\
        FILE.minisig and FILE.tlog-proof beside it, or its signature found in the log).\n\n\
        Install checks everything `verify` checks, proves the log's checkpoint consistent with\n\
        the newest one this client saw (a forked or rolled-back log is refused), and checks the\n\
        key's status in the publisher's logged key history: a compromised key is refused, a\n\
        retired one only for signatures logged before it was retired. The first key seen for a\n\
        publisher is asked about on a terminal (trust on first use); a key rotated in from a\n\
        trusted key through a logged chain of trust is trusted without asking.")]
    Install(InstallArgs),
}

/// `sealwax init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The log's origin line, if it differs from its key's name
    #[arg(long, value_name = "ORIGIN")]
    pub origin: Option<String>,
    /// Replace a log key already saved in the config by a different one
    #[arg(long)]
    pub force: bool,
}

/// `sealwax keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new Minisign key pair and register it in the log
    #[command(
        long_about = "Make a new Minisign key pair (encrypted with a password unless -W) in DIR, and\n\
        register it for the publisher. The first key of a publisher name claims the name; a\n\
        later key is authorised by this home's newest key of the publisher in good standing\n\
        (chain of trust), or with --admin-token-file by the log operator (recovery)."
    )]
    Generate(GenerateArgs),
    /// Register an existing Minisign or rsign2 key pair
    #[command(
        long_about = "Register an existing key pair made by `minisign -G` or `rsign generate`. The\n\
        private key proves possession; it never leaves this machine. With --admin-token-file the\n\
        registration goes through the log operator's path (recovery when every key was lost)."
    )]
    Register(RegisterArgs),
    /// Trust a publisher's public key by hand
    Import(ImportArgs),
    /// List this home's own keys and its trusted keys
    List,
    /// Revoke a key (retired, or --compromised)
    #[command(
        long_about = "Revoke one of a publisher's keys. A retired key's earlier logged signatures stay\n\
        valid; a --compromised key's signatures are all refused. The revocation is signed by the\n\
        key itself if its secret is in this home, else by another active key of the publisher,\n\
        or (with --admin-token-file) by the log operator."
    )]
    Revoke(RevokeArgs),
    /// Make a new key authorised by the current one (chain of trust)
    #[command(
        long_about = "Make a new key pair for the publisher and register it with a chain-of-trust\n\
        signature from the current key. Installers who trust the old key trust the new one\n\
        without being asked. With --retire-old the old key is then retired."
    )]
    Rotate(RotateArgs),
    /// Vouch again for a key suspended by a compromised voucher
    #[command(
        long_about = "A key whose chain of trust passes through a key revoked as compromised is\n\
        suspended: nothing it signed is valid. If the suspended key is yours and was not stolen,\n\
        vouch for it again: the log records a registration of it, signed by the key itself and\n\
        by another key of the publisher in good standing (this home's newest), or by the log\n\
        operator with --admin-token-file. Its signatures, earlier and later, are valid again and\n\
        it hangs from the new voucher from then on. If the key is the thief's, revoke it instead:\n\
        `sealwax keys revoke KEY --compromised`."
    )]
    Vouch(VouchArgs),
}

/// `sealwax keys generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Directory for the new key pair [default: the home's keys/]
    pub dir: Option<PathBuf>,
    /// Publisher name the key signs for
    #[arg(long, value_name = "P")]
    pub publisher: String,
    /// Do not encrypt the secret key (no password)
    #[arg(short = 'W', long = "without-password")]
    pub without_password: bool,
    /// Register through the log operator's path, with the token in FILE (recovery when no key is left)
    #[arg(long = "admin-token-file", value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
}

/// `sealwax keys register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The public key file (minisign.pub, rsign.pub)
    #[arg(long, value_name = "FILE")]
    pub public: PathBuf,
    /// The secret key file (minisign.key, rsign.key)
    #[arg(long, alias = "secret", value_name = "FILE")]
    pub private: PathBuf,
    /// Publisher name the key signs for
    #[arg(long, value_name = "P")]
    pub publisher: String,
    /// Register through the log operator's path, with the token in FILE
    #[arg(long = "admin-token-file", value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
}

/// `sealwax keys import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The public key: its base64 line, or a .pub file
    #[arg(value_name = "KEY|FILE")]
    pub key: String,
    /// The publisher it signs for
    #[arg(long, value_name = "P")]
    pub publisher: String,
}

/// `sealwax keys revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The public key to revoke: its key ID (as `keys list` prints it), base64 line, or .pub file
    #[arg(value_name = "KEY|ID|FILE")]
    pub key: String,
    /// The key leaked: none of its signatures are to be trusted any more
    #[arg(long)]
    pub compromised: bool,
    /// The publisher (found from this home's keys if omitted)
    #[arg(long, value_name = "P")]
    pub publisher: Option<String>,
    /// Revoke through the log operator's path, with the token in FILE
    #[arg(long = "admin-token-file", value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
}

/// `sealwax keys vouch`.
#[derive(Debug, Args)]
pub struct VouchArgs {
    /// The suspended public key: its key ID (as `keys list` prints it), base64 line, or .pub file
    #[arg(value_name = "KEY|ID|FILE")]
    pub key: String,
    /// Its secret key file [default: the one this home recorded for it]
    #[arg(long, value_name = "FILE")]
    pub secret: Option<PathBuf>,
    /// The publisher (found from this home's keys if omitted)
    #[arg(long, value_name = "P")]
    pub publisher: Option<String>,
    /// Vouch through the log operator's path, with the token in FILE
    #[arg(long = "admin-token-file", value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
}

/// `sealwax keys rotate`.
#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Directory for the new key pair [default: the home's keys/]
    pub dir: Option<PathBuf>,
    /// The publisher whose key to rotate
    #[arg(long, value_name = "P")]
    pub publisher: String,
    /// Retire the old key once the new one is registered
    #[arg(long = "retire-old")]
    pub retire_old: bool,
    /// Do not encrypt the new secret key (no password)
    #[arg(short = 'W', long = "without-password")]
    pub without_password: bool,
}

/// `sealwax publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The artifact to sign
    #[arg(required_unless_present_any = ["resume", "version"])]
    pub file: Option<PathBuf>,
    /// The release, `[PUBLISHER/]PACKAGE@VERSION` (as `install` takes it) [default: from sealwax.toml]
    #[arg(value_name = "RELEASE", conflicts_with_all = ["package", "release_version"])]
    pub release: Option<String>,
    /// Publisher name [default: `publisher` in ./sealwax.toml]
    #[arg(long, value_name = "P")]
    pub publisher: Option<String>,
    /// Package name [default: `package` in ./sealwax.toml]
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,
    /// Release version [default: `version` in ./sealwax.toml]
    #[arg(long = "release-version", value_name = "V")]
    pub release_version: Option<String>,
    /// Print sealwax's version. (`--version V` is the old spelling of --release-version V)
    #[arg(short = 'V', long = "version", value_name = "V", num_args = 0..=1)]
    pub version: Option<Option<String>>,
    /// Sign with this secret key file [default: the publisher's current key in this home]
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Do not upload the artifact to the log's artifact store
    #[arg(long = "no-upload")]
    pub no_upload: bool,
    /// Overwrite a FILE.minisig / FILE.tlog-proof of another release
    #[arg(long)]
    pub force: bool,
    /// Finish every publish of this home that was interrupted (^C during an upload)
    #[arg(long, conflicts_with_all = ["file", "release", "publisher", "package", "release_version", "version", "key", "no_upload"])]
    pub resume: bool,
}

/// `sealwax verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The artifact to check
    pub file: PathBuf,
    /// Its signature [default: FILE.minisig]
    #[arg(long, value_name = "FILE")]
    pub signature: Option<PathBuf>,
    /// Its transparency proof [default: FILE.tlog-proof]
    #[arg(long, value_name = "FILE")]
    pub proof: Option<PathBuf>,
    /// Also ask the live log: its key directory must prove the publisher's
    /// current key state and bind the release to this artifact (exit 3 if not)
    #[arg(long)]
    pub online: bool,
    /// With --online: read the checkpoint and hash tiles from this mirror of
    /// the log (the bucket of `sealwax-log --mirror`, or a CDN in front of
    /// it) and compute the consistency proof from them
    #[arg(long, env = "SEALWAX_TILES", value_name = "URL", requires = "online")]
    pub tiles: Option<String>,
}

/// `sealwax install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// PUBLISHER/PACKAGE[@VERSION], an http(s) URL, or a FILE
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Directory to install into
    #[arg(long, value_name = "DIR", default_value = "sealwax_packages")]
    pub to: PathBuf,
    /// Trust a publisher's first key without asking (needed without a terminal)
    #[arg(long = "trust-new-keys")]
    pub trust_new_keys: bool,
    /// Stop a download past this many bytes (the log's announced size is a limit too)
    #[arg(
        long = "max-download",
        env = "SEALWAX_MAX_DOWNLOAD",
        value_name = "BYTES",
        default_value_t = crate::api::DEFAULT_MAX_DOWNLOAD_BYTES
    )]
    pub max_download: u64,
    /// Read the checkpoint and hash tiles from this mirror of the log (the
    /// bucket of `sealwax-log --mirror`, or a CDN in front of it) and compute
    /// inclusion and consistency proofs from them; the log is asked only for
    /// lookups, key directory proofs and the artifact
    #[arg(long, env = "SEALWAX_TILES", value_name = "URL")]
    pub tiles: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn publish_takes_the_old_version_flag_and_a_bare_one() {
        let cli = Cli::try_parse_from([
            "sealwax",
            "publish",
            "f",
            "--publisher",
            "p",
            "--package",
            "n",
            "--version",
            "1.0",
        ])
        .unwrap();
        match cli.command {
            Command::Publish(a) => assert_eq!(a.version, Some(Some("1.0".into()))),
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["sealwax", "publish", "--version"]).unwrap();
        match cli.command {
            Command::Publish(a) => assert_eq!(a.version, Some(None)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_verbs_print_the_version() {
        let err = Cli::try_parse_from(["sealwax", "install", "--version"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayVersion);
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes"), "{help}");
        assert!(help.contains("rolled-back"), "{help}");
    }
}
