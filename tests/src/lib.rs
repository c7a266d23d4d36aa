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

/// Path of a workspace binary, next to the test executable's `deps/` folder.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first with `cargo build --workspace --bins`",
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
}

impl LogServer {
    /// Start a server with its data in `data_dir` (created if missing).
    pub fn start(data_dir: &Path, opts: &ServerOptions) -> LogServer {
        std::fs::create_dir_all(data_dir).expect("data dir");
        let port = free_port();
        let origin = "sealwax.test/log".to_string();
        let mut cmd = Command::new(bin("sealwax-log"));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--origin")
            .arg(&origin)
            .args(&opts.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let admin_token_file = opts.admin_token.as_ref().map(|t| {
            let p = data_dir.with_extension("admin-token");
            std::fs::write(&p, t).expect("token file");
            cmd.arg("--admin-token-file").arg(&p);
            p
        });
        let mut child = cmd.spawn().expect("spawn sealwax-log");
        // Forward the server's log to our stderr so failures are debuggable.
        if let Some(err) = child.stderr.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    eprintln!("[sealwax-log] {line}");
                }
            });
        }
        let url = format!("http://127.0.0.1:{port}");
        wait_healthy(&url, &mut child);
        let out = Command::new(bin("sealwax-log"))
            .arg("key")
            .arg("--data-dir")
            .arg(data_dir)
            .output()
            .expect("sealwax-log key");
        assert!(out.status.success(), "sealwax-log key failed: {out:?}");
        let vkey = String::from_utf8(out.stdout).unwrap().trim().to_string();
        LogServer {
            child,
            url,
            data_dir: data_dir.to_path_buf(),
            origin,
            vkey,
            admin_token_file,
        }
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
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::blocking::Client::new();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("server exited early with {status}");
        }
        if let Ok(r) = client.get(format!("{url}/healthz")).send() {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "server at {url} never became healthy"
        );
        std::thread::sleep(Duration::from_millis(50));
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
        let out = self.run(args);
        assert!(
            out.status.success(),
            "sealwax {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
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
