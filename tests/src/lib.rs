//! Fixtures for the end-to-end tests: they run the real `sealwax-log`,
//! `sealwax` and `sealwax-monitor` binaries on loopback.
//!
//! Build the binaries first (`cargo build --workspace --bins`); the README's
//! test command does that.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub mod mixed_order;
pub mod padlog;
pub mod proxy;
pub mod seaweed;
pub mod slow;

/// Path of a workspace binary, next to the test executable's `deps/` folder,
/// or in `SEALWAX_BIN_DIR` when set (to run the attacks against another build).
pub fn bin(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("SEALWAX_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first with `cargo build --workspace --bins --all-features`",
        path.display()
    );
    path
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running `sealwax-log serve` on loopback, killed on drop.
pub struct LogServer {
    /// The child process.
    pub child: Child,
    /// Base URL, e.g. `http://127.0.0.1:4321`.
    pub url: String,
    /// The data directory (kept by the caller's tempdir).
    pub data_dir: PathBuf,
    /// The log's origin.
    pub origin: String,
    /// The verifier key string printed by `sealwax-log key`.
    pub vkey: String,
    /// Admin token file, if the operator path is enabled.
    pub admin_token_file: Option<PathBuf>,
}

/// Options for [`LogServer::start`].
#[derive(Default, Clone)]
pub struct ServerOptions {
    /// Enable the operator path with this token.
    pub admin_token: Option<String>,
    /// Extra arguments for `serve`.
    pub extra_args: Vec<String>,
    /// The `sealwax-log` binary to run; [`bin`]`("sealwax-log")` when unset.
    pub log_bin: Option<PathBuf>,
    /// Append the server's stderr to this file instead of forwarding it to ours.
    pub server_log: Option<PathBuf>,
    /// Listen on this loopback port instead of a free one (to serve another
    /// data directory at the same URL).
    pub port: Option<u16>,
    /// Extra environment variables for the server (such as the `AWS_*` of a mirror).
    pub env: Vec<(&'static str, String)>,
}

impl LogServer {
    /// Start a server with its data in `data_dir` (created if missing).
    pub fn start(data_dir: &Path, opts: &ServerOptions) -> LogServer {
        LogServer::try_start(data_dir, opts).unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Like [`LogServer::start`], but a server that does not come up is an error, not a panic.
    pub fn try_start(data_dir: &Path, opts: &ServerOptions) -> anyhow::Result<LogServer> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        let log_bin = opts.log_bin.clone().unwrap_or_else(|| bin("sealwax-log"));
        let port = opts.port.unwrap_or_else(free_port);
        let origin = "sealwax.test/log".to_string();
        let mut cmd = Command::new(&log_bin);
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--origin")
            .arg(&origin)
            .args(&opts.extra_args)
            .envs(opts.env.iter().map(|(k, v)| (*k, v.as_str())))
            // Tests put load on the log from one address; a test of the
            // per-client limit passes `--write-rate`, which wins over this.
            .env("SEALWAX_LOG_WRITE_RATE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        match &opts.server_log {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open the server log {}", path.display()))?;
                cmd.stderr(file);
            }
            None => {
                cmd.stderr(Stdio::piped());
            }
        }
        let admin_token_file = match &opts.admin_token {
            Some(t) => {
                let p = data_dir.with_extension("admin-token");
                std::fs::write(&p, t).context("cannot write the admin token file")?;
                cmd.arg("--admin-token-file").arg(&p);
                Some(p)
            }
            None => None,
        };
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot run {}", log_bin.display()))?;
        // Forward the server's log to our stderr so failures are debuggable.
        if let Some(err) = child.stderr.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    eprintln!("[sealwax-log] {line}");
                }
            });
        }
        let url = format!("http://127.0.0.1:{port}");
        // From here on the child is killed on drop, whatever fails.
        let mut server = LogServer {
            child,
            url,
            data_dir: data_dir.to_path_buf(),
            origin,
            vkey: String::new(),
            admin_token_file,
        };
        try_wait_healthy(&server.url, &mut server.child)?;
        let out = Command::new(&log_bin)
            .arg("key")
            .arg("--data-dir")
            .arg(data_dir)
            .output()
            .context("cannot run sealwax-log key")?;
        if !out.status.success() {
            bail!(
                "sealwax-log key failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        server.vkey = String::from_utf8(out.stdout)
            .context("sealwax-log key printed no UTF-8")?
            .trim()
            .to_string();
        Ok(server)
    }

    /// Kill the server with SIGKILL and wait for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LogServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Wait until `GET /healthz` answers 200, or panic after 30 s.
pub fn wait_healthy(url: &str, child: &mut Child) {
    try_wait_healthy(url, child).unwrap_or_else(|e| panic!("{e:#}"));
}

/// Wait until `GET /healthz` answers 200; an error if the server exits or 30 s pass.
pub fn try_wait_healthy(url: &str, child: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .context("cannot build an HTTP client")?;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            bail!("the server at {url} exited early with {status}: read its log above");
        }
        if let Ok(r) = client.get(format!("{url}/healthz")).send() {
            if r.status().is_success() {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            bail!("the server at {url} never became healthy within 30 s: read its log above");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `sealwax` client with its own home directory, pointed at one log.
pub struct Client {
    /// The client's home (`--home`).
    pub home: PathBuf,
    /// Log URL.
    pub log: String,
    /// Log verifier key.
    pub log_key: String,
}

impl Client {
    /// A client with home `home`, talking to `server`.
    pub fn new(home: &Path, server: &LogServer) -> Client {
        std::fs::create_dir_all(home).expect("home");
        Client {
            home: home.to_path_buf(),
            log: server.url.clone(),
            log_key: server.vkey.clone(),
        }
    }

    /// A `sealwax` command with `--home`, `--log` and `--log-key` set.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(bin("sealwax"));
        c.arg("--home")
            .arg(&self.home)
            .arg("--log")
            .arg(&self.log)
            .arg("--log-key")
            .arg(&self.log_key)
            .stdin(Stdio::null());
        c
    }

    /// Run `sealwax <args>` and return its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run sealwax")
    }

    /// Run `sealwax <args>`, assert success, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        succeeds(self.run(args), &format!("sealwax {args:?}"))
    }

    /// Run `sealwax <args>`, assert failure, return stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "sealwax {args:?} should have failed:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// `go build -o OUT TARGET` in `dir`, offline (no proxy, no workspace, its
/// caches in `dir`), with `GOFLAGS` set to `goflags`; panics with Go's
/// output if the build fails.
pub fn go_build_offline(dir: &Path, target: &Path, out_bin: &Path, goflags: &str) {
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(out_bin)
        .arg(target)
        .current_dir(dir)
        .env("GOPROXY", "off")
        .env("GOFLAGS", goflags)
        .env("GOWORK", "off")
        .env("GO111MODULE", "on")
        .env("GOCACHE", dir.join("gocache"))
        .env("GOPATH", dir.join("gopath"))
        .output()
        .expect("run go build");
    assert!(
        out.status.success(),
        "go build {} failed (is golang-go, and for modules golang-golang-x-mod-dev, installed?):\n{}",
        target.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether an external tool is on PATH; prints why a test is skipped if not.
pub fn have_tool(name: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!("SKIP: `{name}` is not installed (.ci/run installs it)");
    }
    found
}

// ----- helpers shared by the scenario and deploy tests -----

/// `p` as `&str`; test paths are UTF-8.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Writes `len` pseudo-random bytes (another `seed`, other bytes) to `path`.
pub fn write_artifact(path: &Path, len: usize, seed: u8) -> PathBuf {
    let data: Vec<u8> = (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect();
    std::fs::write(path, data).expect("write artifact");
    path.to_path_buf()
}

/// The public key file `sealwax keys generate` / `keys rotate` says it wrote.
pub fn generated_pub(stdout: &str) -> PathBuf {
    let line = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("public: "))
        .unwrap_or_else(|| panic!("no `public: FILE` line in:\n{stdout}"));
    PathBuf::from(line)
}

/// The Minisign public key in a `.pub` file.
pub fn read_public_key(pub_file: &Path) -> sealwax_proto::minisign::PublicKey {
    let text = std::fs::read_to_string(pub_file).expect("read .pub file");
    sealwax_proto::minisign::PublicKey::parse(&text).expect("a Minisign public key")
}

/// Writes a new unencrypted Minisign key pair `<stem>.pub` / `<stem>.key` into `dir`.
pub fn write_key_pair(dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
    let sk = sealwax_proto::minisign::SecretKey::generate(&mut rand::rngs::OsRng);
    let (public, secret) = (
        dir.join(format!("{stem}.pub")),
        dir.join(format!("{stem}.key")),
    );
    std::fs::write(&public, sk.public_key().to_file_string()).expect("write .pub");
    std::fs::write(&secret, sk.to_file_string(None, &mut rand::rngs::OsRng)).expect("write .key");
    (public, secret)
}

/// The tree size of the log's current checkpoint (`GET /checkpoint`).
pub fn tree_size(url: &str) -> u64 {
    let text = reqwest::blocking::get(format!("{url}/checkpoint"))
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.text())
        .unwrap_or_else(|e| panic!("GET {url}/checkpoint: {e}"));
    text.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("no tree size in the checkpoint:\n{text}"))
}

/// Submits entry bytes to `POST /v1/entries` (as the operator with `admin_token`);
/// the log's index, or its status and answer.
pub fn submit_entry(
    url: &str,
    entry: &[u8],
    admin_token: Option<&str>,
) -> Result<u64, (u16, String)> {
    use base64::Engine as _;
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client");
    let body =
        serde_json::json!({ "entry": base64::engine::general_purpose::STANDARD.encode(entry) });
    let mut req = http.post(format!("{url}/v1/entries")).json(&body);
    if let Some(t) = admin_token {
        req = req.bearer_auth(t);
    }
    let resp = req
        .send()
        .unwrap_or_else(|e| panic!("POST {url}/v1/entries: {e}"));
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err((status, text));
    }
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON answer");
    Ok(v["index"].as_u64().expect("index in the answer"))
}

/// Grows the log at `url` by `n + 1` entries: `publisher` claims a fresh key
/// and signs `n` releases of package `filler`, submitted from 4 threads.
pub fn fill_log(url: &str, origin: &str, publisher: &str, n: usize) {
    use sealwax_proto::entry::{Entry, KeyRegistration, Release, SignatureEntry};
    use sha2::Digest as _;
    let sk = std::sync::Arc::new(sealwax_proto::minisign::SecretKey::generate(
        &mut rand::rngs::OsRng,
    ));
    let claim = Entry::KeyRegistration(KeyRegistration::claim(origin, publisher, &sk).unwrap());
    submit_entry(url, &claim.to_bytes(), None).expect("the log takes the claim");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (sk, url, origin, publisher) = (
                sk.clone(),
                url.to_string(),
                origin.to_string(),
                publisher.to_string(),
            );
            std::thread::spawn(move || {
                for i in (t..n).step_by(4) {
                    let data = format!("{publisher} filler {i}");
                    let release = Release {
                        origin: origin.clone(),
                        publisher: publisher.clone(),
                        package: "filler".into(),
                        version: format!("0.0.{i}"),
                        sha256: sha2::Sha256::digest(data.as_bytes()).into(),
                    };
                    let e = SignatureEntry::sign(
                        &sk,
                        &release,
                        sealwax_proto::minisign::prehash(data.as_bytes()),
                    )
                    .unwrap();
                    submit_entry(&url, &Entry::Signature(e).to_bytes(), None)
                        .unwrap_or_else(|e| panic!("the log refused filler {i}: {e:?}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("filler thread");
    }
}

/// What a `sealwax` run on a pseudo-terminal printed (stdout and stderr together).
pub struct TerminalRun {
    /// Exit code of `sealwax`, as `script -e` passes it on.
    pub code: Option<i32>,
    /// Everything the terminal showed.
    pub text: String,
}

/// Runs `cmd` to its end with its output captured, and how long it took;
/// fails the test, with its stderr, if it runs longer than `limit` (it is
/// killed then). Output is drained as it comes, so a chatty command cannot
/// block on a full pipe.
pub fn run_within(mut cmd: Command, limit: Duration) -> (Output, Duration) {
    use std::io::Read;
    fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut b = Vec::new();
            let _ = r.read_to_end(&mut b);
            b
        })
    }
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {:?}: {e}", cmd.get_program()));
    let out = drain(child.stdout.take().expect("piped stdout"));
    let err = drain(child.stderr.take().expect("piped stderr"));
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for the command") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = String::from_utf8_lossy(&err.join().expect("stderr reader")).into_owned();
            panic!(
                "{:?} did not finish within {limit:?}; stderr:\n{stderr}",
                cmd.get_program()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = start.elapsed();
    let output = Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    };
    (output, took)
}

/// Asserts that a finished command (`what`, for the message) succeeded, and
/// returns its stdout.
pub fn succeeds(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Asserts that a finished command (`what`, for the message) exited with
/// `code`, and returns its stderr.
pub fn fails_with(out: Output, code: i32, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: expected exit {code}\nstdout: {}\nstderr: {err}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

impl Client {
    /// Runs `sealwax <args>`, asserts it exits with `code`, returns its stderr.
    pub fn fails_with(&self, args: &[&str], code: i32) -> String {
        fails_with(self.run(args), code, &format!("sealwax {args:?}"))
    }

    /// Runs `sealwax <args>` on a pseudo-terminal made by `script`, typing
    /// `answer` (if any) once a `[y/n]` question shows; 30 s at most.
    pub fn on_terminal(&self, args: &[&str], answer: Option<&str>) -> TerminalRun {
        use std::io::{Read, Write};
        use std::sync::{Arc, Mutex};
        let quote = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
        let mut cmdline = quote(path_str(&bin("sealwax")));
        for a in [
            "--home",
            path_str(&self.home),
            "--log",
            &self.log,
            "--log-key",
            &self.log_key,
        ]
        .iter()
        .chain(args)
        {
            cmdline.push(' ');
            cmdline.push_str(&quote(a));
        }
        let mut child = Command::new("script")
            .args(["-qec", &cmdline, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run script");
        let text = Arc::new(Mutex::new(String::new()));
        let readers: Vec<_> = [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ]
        .into_iter()
        .map(|mut r| {
            let text = text.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = r.read(&mut buf) {
                    text.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            })
        })
        .collect();
        // Keep the terminal's input open until sealwax exits: `script` ends
        // the session when its input ends.
        let mut stdin = child.stdin.take();
        let mut answer = answer;
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for script") {
                break status;
            }
            if let Some(a) = answer {
                if text.lock().unwrap().contains("[y/n]") {
                    let input = stdin.as_mut().expect("terminal input");
                    input.write_all(a.as_bytes()).expect("type the answer");
                    input.flush().expect("type the answer");
                    answer = None;
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "sealwax {args:?} on a terminal did not finish in 30 s; it showed:\n{}",
                    text.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        drop(stdin);
        for r in readers {
            let _ = r.join();
        }
        let text = text.lock().unwrap().clone();
        TerminalRun {
            code: status.code(),
            text,
        }
    }
}

/// One `sealwax-monitor`: its state directory and config file, pointed at a log.
pub struct Monitor {
    /// `--state`.
    pub state: PathBuf,
    /// `--config`.
    pub config: PathBuf,
    /// `--log` (change it to point the same monitor at another server).
    pub log: String,
    /// `--log-key`.
    pub vkey: String,
}

/// What one `sealwax-monitor --once --json` run did.
pub struct MonitorRun {
    /// The process output.
    pub out: Output,
    /// The alerts, one JSON object per stdout line.
    pub alerts: Vec<serde_json::Value>,
}

impl MonitorRun {
    /// The exit code: 0 nothing alarming, 1 alerts, 2 could not do its job.
    pub fn code(&self) -> Option<i32> {
        self.out.status.code()
    }

    /// Each alert as `kind` or `kind/problem`.
    pub fn kinds(&self) -> Vec<String> {
        self.alerts
            .iter()
            .map(|a| match a["problem"].as_str() {
                Some(p) => format!("{}/{p}", a["kind"].as_str().unwrap_or("?")),
                None => a["kind"].as_str().unwrap_or("?").to_string(),
            })
            .collect()
    }

    /// Status, stdout and stderr, for assertion messages.
    pub fn debug(&self) -> String {
        format!(
            "status {:?}\nstdout:\n{}\nstderr:\n{}",
            self.out.status,
            String::from_utf8_lossy(&self.out.stdout),
            String::from_utf8_lossy(&self.out.stderr)
        )
    }
}

impl Monitor {
    /// A monitor with its state and config (text `config`) in `dir`.
    pub fn new(dir: &Path, log: &str, vkey: &str, config: &str) -> Monitor {
        std::fs::create_dir_all(dir).expect("monitor dir");
        let m = Monitor {
            state: dir.join("monitor-state"),
            config: dir.join("monitor.toml"),
            log: log.to_string(),
            vkey: vkey.to_string(),
        };
        std::fs::write(&m.config, config).expect("write monitor.toml");
        m
    }

    /// `[[watch]]` config for `publisher` expecting exactly `keys`.
    pub fn watch_keys(publisher: &str, keys: &[&sealwax_proto::minisign::PublicKey]) -> String {
        let keys: Vec<String> = keys
            .iter()
            .map(|k| format!("{:?}", k.to_base64()))
            .collect();
        format!(
            "[[watch]]\npublisher = {publisher:?}\nkeys = [{}]\n",
            keys.join(", ")
        )
    }

    /// Runs `sealwax-monitor --once --json` and parses its alerts.
    pub fn run(&self) -> MonitorRun {
        let out = monitor_command(&self.log, &self.vkey, &self.state, &self.config)
            .args(["--once", "--json", "--no-progress"])
            .output()
            .expect("run sealwax-monitor");
        let alerts = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("monitor stdout line {l:?} is not JSON: {e}"))
            })
            .collect();
        MonitorRun { out, alerts }
    }
}

/// `sealwax-monitor` pointed at a log, its key, a state directory and a
/// config file, in no mode yet (stdin closed, `RUST_LOG=sealwax_monitor=info`).
pub fn monitor_command(log: &str, vkey: &str, state: &Path, config: &Path) -> Command {
    let mut c = Command::new(bin("sealwax-monitor"));
    c.arg("--log")
        .arg(log)
        .arg("--log-key")
        .arg(vkey)
        .arg("--state")
        .arg(state)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "sealwax_monitor=info")
        .stdin(Stdio::null());
    c
}

/// Copies directory `from` to `to` (files, sub-directories and permissions).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy");
    std::fs::set_permissions(to, std::fs::metadata(from).unwrap().permissions()).unwrap();
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy file");
        }
    }
}
