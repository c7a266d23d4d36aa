//! End-to-end tests: the files in `deploy/`.
//!
//! - `deploy/nginx/sealwax.conf` run by the real nginx in front of the real
//!   `sealwax-log`: clients publish, install and verify through it, the
//!   monitor follows the log through it, full tiles are served immutable and
//!   cached.
//! - `deploy/systemd/*.service` checked by the real `systemd-analyze verify`,
//!   and their `ExecStart=` lines run against the built binaries.
//! - `deploy/compose.yaml`: every flag of every sealwax command exists, and
//!   its witness wiring (the key and policy script, two witnesses, the log
//!   with `--witness-policy`) run here without containers ends in a
//!   checkpoint meeting the 2-of-2 quorum.
//! - `deploy/examples/*.policy` parse with `Policy::parse`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sealwax_proto::entry::{Entry, KeyRegistration};
use sealwax_proto::minisign::SecretKey;
use sealwax_tests::{
    bin, fill_log, free_port, generated_pub, have_tool, path_str as s, read_public_key,
    submit_entry, write_artifact, Client, LogServer, Monitor, ServerOptions,
};

/// The repository's `deploy/` directory.
fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .join("deploy")
}

/// Replaces the one occurrence of `from` in `text` by `to`; panics if there
/// is not exactly one, so a changed deploy file is noticed here.
fn replace_once(text: &str, from: &str, to: &str, file: &str) -> String {
    let n = text.matches(from).count();
    assert_eq!(
        n, 1,
        "{file}: expected `{from}` exactly once (found {n}); update this test with the file"
    );
    text.replacen(from, to, 1)
}

// ----- nginx -----

/// The nginx binary: Debian's, or one on PATH.
pub(crate) fn nginx_binary() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/sbin/nginx");
    if debian.exists() {
        return Some(debian);
    }
    if have_tool("nginx") {
        return Some(PathBuf::from("nginx"));
    }
    None
}

/// The temporary directory each compiled-in `--http-*-temp-path` of this
/// nginx build is moved to, as `(directive, sub-directory)`.
fn nginx_temp_paths(nginx: &Path) -> Vec<(&'static str, &'static str)> {
    let out = Command::new(nginx).arg("-V").output().expect("nginx -V");
    let info = String::from_utf8_lossy(&out.stderr).into_owned();
    [
        ("client-body", "client_body_temp_path", "body"),
        ("proxy", "proxy_temp_path", "proxy"),
        ("fastcgi", "fastcgi_temp_path", "fastcgi"),
        ("uwsgi", "uwsgi_temp_path", "uwsgi"),
        ("scgi", "scgi_temp_path", "scgi"),
    ]
    .into_iter()
    .filter(|(flag, _, _)| info.contains(&format!("--http-{flag}-temp-path=")))
    .filter(|(flag, _, _)| {
        let module = flag.replace('-', "_");
        !info.contains(&format!("--without-http_{module}_module"))
    })
    .map(|(_, directive, dir)| (directive, dir))
    .collect()
}

/// nginx running a conf of `deploy/nginx/`, killed on drop.
pub(crate) struct Nginx {
    child: Child,
    /// Its base URL.
    pub(crate) url: String,
    dir: PathBuf,
    /// The path `wait_up` polls until it answers 200.
    probe: String,
}

impl Nginx {
    /// Starts nginx with `deploy/nginx/sealwax.conf`, everything under
    /// `dir`, proxying to the log on `upstream_port`.
    fn start(nginx: &Path, dir: &Path, upstream_port: u16) -> Nginx {
        let port = free_port();
        Nginx::start_conf(
            nginx,
            dir,
            "sealwax.conf",
            port,
            &[
                (
                    "server 127.0.0.1:7380;",
                    format!("server 127.0.0.1:{upstream_port};"),
                ),
                ("listen 8080;", format!("listen 127.0.0.1:{port};")),
                (
                    "proxy_cache_path /var/cache/nginx/sealwax ",
                    format!("proxy_cache_path {} ", s(&dir.join("cache"))),
                ),
            ],
            "/healthz",
        )
    }

    /// Starts nginx with `deploy/nginx/<file>` on `port`, each `(from, to)`
    /// of `edits` made exactly once (only what must change: upstream, port,
    /// cache directory), and waits until `probe` answers 200 through it.
    pub(crate) fn start_conf(
        nginx: &Path,
        dir: &Path,
        file: &str,
        port: u16,
        edits: &[(&str, String)],
        probe: &str,
    ) -> Nginx {
        let name = format!("deploy/nginx/{file}");
        let mut conf = fs::read_to_string(deploy_dir().join("nginx").join(file)).expect(&name);
        for (from, to) in edits {
            conf = replace_once(&conf, from, to, &name);
        }
        for sub in ["logs", "temp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        fs::write(dir.join("sealwax.conf"), conf).unwrap();

        // The file is an http-level snippet (as in conf.d/): wrap it in a
        // main config whose paths all point into `dir`.
        let temp: String = nginx_temp_paths(nginx)
            .into_iter()
            .map(|(directive, sub)| {
                format!("    {directive} {};\n", s(&dir.join("temp").join(sub)))
            })
            .collect();
        // As root, nginx's workers would switch to `nobody`, who cannot write
        // the cache in a private temporary directory.
        let is_root = fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        let main = format!(
            "{user}worker_processes 1;\npid {pid};\nerror_log {err} info;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n    access_log {access};\n{temp}    include {conf};\n}}\n",
            user = if is_root { "user root root;\n" } else { "" },
            pid = s(&dir.join("nginx.pid")),
            err = s(&dir.join("logs/error.log")),
            access = s(&dir.join("logs/access.log")),
            conf = s(&dir.join("sealwax.conf")),
        );
        let main_file = dir.join("nginx.conf");
        fs::write(&main_file, main).unwrap();

        let test = Command::new(nginx)
            .args(["-t", "-q", "-e", s(&dir.join("logs/error.log")), "-p"])
            .arg(dir)
            .arg("-c")
            .arg(&main_file)
            .output()
            .expect("nginx -t");
        assert!(
            test.status.success(),
            "nginx -t refused the config: {}",
            String::from_utf8_lossy(&test.stderr)
        );
        let child = Command::new(nginx)
            .args(["-e", s(&dir.join("logs/error.log")), "-p"])
            .arg(dir)
            .arg("-c")
            .arg(&main_file)
            .args(["-g", "daemon off;"])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run nginx");
        let mut n = Nginx {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir: dir.to_path_buf(),
            probe: probe.to_string(),
        };
        n.wait_up();
        n
    }

    /// Waits until the probe answers through nginx, or panics after 20 s.
    fn wait_up(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nginx exited with {status}:\n{}", self.error_log());
            }
            if let Ok(r) = http.get(format!("{}{}", self.url, self.probe)).send() {
                if r.status().is_success() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "nginx at {} never passed {} through:\n{}",
                self.url,
                self.probe,
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn error_log(&self) -> String {
        fs::read_to_string(self.dir.join("logs/error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    /// Stops nginx's whole process group: killing only the master would
    /// leave its workers and cache processes running.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let signal = |sig: &str| {
            Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|st| st.success())
        };
        // SIGTERM: the master stops its workers, then exits.
        signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut master_gone = false;
        while Instant::now() < deadline {
            master_gone = master_gone || matches!(self.child.try_wait(), Ok(Some(_)));
            // Once the master is reaped, `kill -0` fails when no process of the group is left.
            if master_gone && !signal("-0") {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One GET through nginx: status, Cache-Control, X-Cache-Status and body.
fn get(url: &str) -> (u16, String, Option<String>, Vec<u8>) {
    let r = reqwest::blocking::get(url).unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let header = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let cache_control = header("cache-control").unwrap_or_default();
    let cache_status = header("x-cache-status");
    let status = r.status().as_u16();
    (
        status,
        cache_control,
        cache_status,
        r.bytes().unwrap().to_vec(),
    )
}

#[test]
fn nginx_conf_proxies_publish_install_and_caches_full_tiles() {
    let Some(nginx) = nginx_binary() else {
        eprintln!("SKIP: nginx is not installed (.ci/run installs nginx-light)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = LogServer::start(&dir.path().join("log"), &ServerOptions::default());
    let upstream_port: u16 = server
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap();
    let proxy = Nginx::start(&nginx, &dir.path().join("nginx"), upstream_port);
    let through = |home: &str| {
        let home = dir.path().join(home);
        fs::create_dir_all(&home).unwrap();
        Client {
            home,
            log: proxy.url.clone(),
            log_key: server.vkey.clone(),
        }
    };

    // A publisher registers a key and publishes (with the upload) through nginx.
    let alice = through("alice");
    let out = alice.ok(&["keys", "generate", "--publisher", "alice", "-W"]);
    let key = read_public_key(&generated_pub(&out));
    let file = write_artifact(&dir.path().join("hello.tgz"), 1_500_000, 7);
    let out = alice.ok(&[
        "--json",
        "publish",
        s(&file),
        "--publisher",
        "alice",
        "--package",
        "hello",
        "--release-version",
        "1.0.0",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["upload"], "stored", "{v}");

    // More than a tile of entries, submitted through nginx too.
    fill_log(&proxy.url, &server.origin, "filler", 297);
    let size = sealwax_tests::tree_size(&proxy.url);
    assert_eq!(size, 300);

    // Another home installs and verifies through nginx.
    let bob = through("bob");
    let to = dir.path().join("packages");
    let out = bob.ok(&[
        "install",
        "alice/hello@1.0.0",
        "--to",
        s(&to),
        "--trust-new-keys",
    ]);
    assert!(
        out.contains("Signature of package alice/hello@1.0.0 verified!"),
        "{out}"
    );
    assert_eq!(
        fs::read(to.join("hello-1.0.0")).unwrap(),
        fs::read(&file).unwrap()
    );
    bob.ok(&["verify", s(&to.join("hello-1.0.0"))]);

    // Full tiles and bundles: immutable, fetched once from the log, then
    // served from nginx's cache, byte for byte what the log serves.
    for path in ["/tile/0/000", "/tile/entries/000"] {
        let (status, cc, first, body) = get(&format!("{}{path}", proxy.url));
        assert_eq!(status, 200, "{path}");
        assert_eq!(cc, "public, max-age=31536000, immutable", "{path}");
        assert_eq!(first.as_deref(), Some("MISS"), "{path}: first fetch");
        let (status, cc, second, cached) = get(&format!("{}{path}", proxy.url));
        assert_eq!(status, 200, "{path}");
        assert_eq!(cc, "public, max-age=31536000, immutable", "{path}");
        assert_eq!(second.as_deref(), Some("HIT"), "{path}: second fetch");
        assert_eq!(cached, body, "{path}: the cached copy");
        assert_eq!(get(&format!("{}{path}", server.url)).3, body, "{path}");
    }
    // A partial tile is short-lived, and the checkpoint is never cached.
    let partial = format!("/tile/0/001.p/{}", size - 256);
    let (status, cc, _, _) = get(&format!("{}{partial}", proxy.url));
    assert_eq!(status, 200, "{partial}");
    assert!(!cc.contains("immutable"), "{partial}: {cc}");
    let (status, _, cache_status, body) = get(&format!("{}/checkpoint", proxy.url));
    assert_eq!(status, 200);
    assert_eq!(cache_status, None, "the checkpoint bypasses the cache");
    assert!(String::from_utf8_lossy(&body).contains("\n300\n"));

    // The publisher's monitor follows the log through nginx.
    let m = Monitor::new(
        &dir.path().join("monitor"),
        &proxy.url,
        &server.vkey,
        &Monitor::watch_keys("alice", &[&key]),
    );
    let r = m.run();
    assert_eq!(r.code(), Some(0), "{}", r.debug());
}

// ----- systemd -----

/// The unit files in `deploy/systemd/`.
fn units() -> Vec<PathBuf> {
    let mut units: Vec<PathBuf> = fs::read_dir(deploy_dir().join("systemd"))
        .expect("deploy/systemd")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "service"))
        .collect();
    units.sort();
    assert!(!units.is_empty(), "no units in deploy/systemd");
    units
}

/// A unit's text with `/usr/local/bin/<binary>` pointing at the built binaries.
fn rewrite_binaries(text: &str, name: &str) -> String {
    let mut text = text.to_string();
    for b in [
        "sealwax-log",
        "sealwax-monitor",
        "sealwax-witness",
        "sealwax",
    ] {
        text = text.replace(&format!("/usr/local/bin/{b} "), &format!("{} ", s(&bin(b))));
    }
    assert!(
        !text.contains("/usr/local/bin/"),
        "{name}: a binary path this test does not know; add it to rewrite_binaries"
    );
    text
}

/// `systemd-analyze verify UNIT`: exit status and everything it printed.
fn analyze(unit: &Path) -> (Option<i32>, String) {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(unit)
        .env("SYSTEMD_PAGER", "")
        .stdin(Stdio::null())
        .output()
        .expect("run systemd-analyze");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    if !have_tool("systemd-analyze") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Can it verify at all here? A trivial unit must pass without a word.
    let probe = dir.path().join("sealwax-probe.service");
    fs::write(
        &probe,
        "[Unit]\nDescription=probe\n\n[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();
    let (code, text) = analyze(&probe);
    if code != Some(0) || !text.trim().is_empty() {
        eprintln!(
            "SKIP: systemd-analyze verify cannot run in this environment: a trivial unit gave exit {code:?}:\n{text}"
        );
        return;
    }

    for unit in units() {
        let name = unit.file_name().unwrap().to_str().unwrap().to_string();
        let text = fs::read_to_string(&unit).unwrap();
        assert!(text.contains("ExecStart=/usr/local/bin/"), "{name}");
        let copy = dir.path().join(&name);
        fs::write(&copy, rewrite_binaries(&text, &name)).unwrap();
        let (code, out) = analyze(&copy);
        // Lines about other units of this machine are not ours to judge.
        let about_unit: Vec<&str> = out.lines().filter(|l| l.contains(&name)).collect();
        for l in out.lines().filter(|l| !l.contains(&name)) {
            eprintln!("{name}: ignored, not about this unit: {l}");
        }
        assert_eq!(code, Some(0), "systemd-analyze verify {name}:\n{out}");
        assert!(
            about_unit.is_empty(),
            "systemd-analyze verify warns about {name}:\n{out}"
        );
    }
}

/// A unit's `Environment=` assignments and its `ExecStart=` line, with
/// backslash continuations joined.
fn exec_start(text: &str) -> (BTreeMap<String, String>, String) {
    let joined = text.replace("\\\n", " ");
    let mut env = BTreeMap::new();
    let mut exec = None;
    for line in joined.lines() {
        if let Some(v) = line.strip_prefix("Environment=") {
            assert!(!v.contains('"'), "quoted Environment= is not parsed here");
            for kv in v.split_whitespace() {
                let (k, v) = kv.split_once('=').expect("KEY=VALUE");
                env.insert(k.to_string(), v.to_string());
            }
        }
        if let Some(v) = line.strip_prefix("ExecStart=") {
            assert!(exec.is_none(), "one ExecStart= line");
            exec = Some(v.to_string());
        }
    }
    (env, exec.expect("an ExecStart= line"))
}

/// Splits an `ExecStart=` command line and expands `${VAR}` from `env`.
fn expand(exec: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    assert!(
        !exec.contains('"') && !exec.contains('\''),
        "quoting in ExecStart= is not parsed here"
    );
    exec.split_whitespace()
        .map(|word| {
            let mut w = word.to_string();
            for (k, v) in env {
                w = w.replace(&format!("${{{k}}}"), v);
            }
            assert!(!w.contains("${"), "unset variable in `{word}`");
            w
        })
        .collect()
}

#[test]
fn systemd_exec_start_lines_run_the_built_binaries() {
    let dir = tempfile::tempdir().unwrap();
    let units: BTreeMap<String, String> = units()
        .into_iter()
        .map(|u| {
            let name = u.file_name().unwrap().to_str().unwrap().to_string();
            let text = rewrite_binaries(&fs::read_to_string(&u).unwrap(), &name);
            (name, text)
        })
        .collect();

    // sealwax-log.service, with what systemd provides (the state and
    // credentials directories) and a free port instead of 7380.
    let text = &units["sealwax-log.service"];
    let (mut env, exec) = exec_start(text);
    let state = dir.path().join("state-log");
    let creds = dir.path().join("credentials");
    fs::create_dir_all(&creds).unwrap();
    assert!(text.contains("LoadCredential=admin-token:"));
    fs::write(creds.join("admin-token"), "unit-test-admin-token-5e9b2c\n").unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    env.insert("STATE_DIRECTORY".into(), s(&state).into());
    env.insert("CREDENTIALS_DIRECTORY".into(), s(&creds).into());
    env.insert("SEALWAX_LISTEN".into(), listen.clone());
    let origin = env["SEALWAX_ORIGIN"].clone();
    let argv = expand(&exec, &env);
    let mut log = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the unit's ExecStart");
    let url = format!("http://{listen}");
    sealwax_tests::wait_healthy(&url, &mut log);
    let log = KillOnDrop(log);
    let cp = reqwest::blocking::get(format!("{url}/checkpoint"))
        .unwrap()
        .text()
        .unwrap();
    assert!(cp.starts_with(&format!("{origin}\n0\n")), "{cp}");
    // The admin token comes from the credential: the operator path takes it
    // and only it.
    let sk = SecretKey::generate(&mut rand::rngs::OsRng);
    let reg = Entry::KeyRegistration(KeyRegistration::operator(&origin, "ops", &sk).unwrap());
    let refused = submit_entry(&url, &reg.to_bytes(), Some("not-the-token"));
    assert!(
        matches!(refused, Err((401 | 403, _))),
        "a wrong token: {refused:?}"
    );
    submit_entry(&url, &reg.to_bytes(), Some("unit-test-admin-token-5e9b2c"))
        .expect("the credential's token opens the operator path");
    let vkey = Command::new(bin("sealwax-log"))
        .args(["key", "--data-dir", s(&state)])
        .output()
        .unwrap();
    assert!(vkey.status.success());
    let vkey = String::from_utf8(vkey.stdout).unwrap().trim().to_string();

    // sealwax-monitor.service, with the log key its EnvironmentFile would
    // give and the example config in place of /etc/sealwax/monitor.toml.
    let text = &units["sealwax-monitor.service"];
    let config = dir.path().join("monitor.toml");
    fs::copy(deploy_dir().join("examples/monitor.toml"), &config).unwrap();
    let text = replace_once(
        text,
        "/etc/sealwax/monitor.toml",
        s(&config),
        "sealwax-monitor.service",
    );
    let (mut env, exec) = exec_start(&text);
    let state = dir.path().join("state-monitor");
    env.insert("STATE_DIRECTORY".into(), s(&state).into());
    env.insert("SEALWAX_LOG".into(), url.clone());
    env.insert("SEALWAX_LOG_KEY".into(), vkey.clone());
    let argv = expand(&exec, &env);
    let monitor = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the unit's ExecStart");
    let mut monitor = KillOnDrop(monitor);
    // A daemon: still running after its first poll, with its state written.
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs::read_dir(&state).map(|d| d.count()).unwrap_or(0) == 0 {
        if let Some(status) = monitor.0.try_wait().unwrap() {
            let mut err = String::new();
            use std::io::Read;
            monitor
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("sealwax-monitor from the unit exited with {status}:\n{err}");
        }
        assert!(Instant::now() < deadline, "the monitor wrote no state");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        monitor.0.try_wait().unwrap().is_none(),
        "the monitor stopped"
    );
    let term = Command::new("kill")
        .args(["-TERM", &monitor.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = monitor.0.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "the monitor ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "KillSignal=SIGTERM is a clean stop");

    // sealwax-witness.service, with the log key its EnvironmentFile would give.
    let (mut env, exec) = exec_start(&units["sealwax-witness.service"]);
    let listen = format!("127.0.0.1:{}", free_port());
    env.insert(
        "STATE_DIRECTORY".into(),
        s(&dir.path().join("state-witness")).into(),
    );
    env.insert("SEALWAX_WITNESS_LISTEN".into(), listen.clone());
    env.insert("SEALWAX_LOG_KEY".into(), vkey);
    let argv = expand(&exec, &env);
    let mut witness = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the unit's ExecStart");
    sealwax_tests::wait_healthy(&format!("http://{listen}"), &mut witness);
    drop(KillOnDrop(witness));
    drop(log);
}

/// A child process killed (SIGKILL) on drop.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ----- compose and the example policies -----

/// What one compose service runs: its `entrypoint` and `command`, each a
/// list of words, read from the two forms `deploy/compose.yaml` uses (a
/// flow list of quoted strings, or a block list whose items may be folded
/// `>` scalars). Another form fails the test, so the reader grows with the file.
#[derive(Debug, Default, Clone)]
struct ComposeService {
    /// Built from `deploy/Dockerfile` (not another image).
    ours: bool,
    entrypoint: Vec<String>,
    command: Vec<String>,
}

/// The services of `deploy/compose.yaml`, by name.
fn compose_services() -> BTreeMap<String, ComposeService> {
    let text = fs::read_to_string(deploy_dir().join("compose.yaml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut services = BTreeMap::new();
    let mut in_services = false;
    let mut current: Option<String> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        i += 1;
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if indent(line) == 0 {
            in_services = trimmed == "services:";
            continue;
        }
        if !in_services {
            continue;
        }
        if indent(line) == 2 {
            let name = trimmed.strip_suffix(':').expect("a service name");
            services.insert(name.to_string(), ComposeService::default());
            current = Some(name.to_string());
            continue;
        }
        let Some(name) = &current else { continue };
        if indent(line) == 4 && trimmed.starts_with("build:") {
            services.get_mut(name).unwrap().ours = true;
        }
        let (key, rest) = match trimmed.split_once(':') {
            Some((k, r)) if indent(line) == 4 && (k == "entrypoint" || k == "command") => {
                (k, r.trim())
            }
            _ => continue,
        };
        let words = if rest.starts_with('[') {
            // A flow list of double-quoted strings is JSON.
            let mut flow = rest.to_string();
            while !flow.trim_end().ends_with(']') {
                flow.push(' ');
                flow.push_str(lines[i].trim());
                i += 1;
            }
            serde_json::from_str::<Vec<String>>(&flow)
                .unwrap_or_else(|e| panic!("{name}.{key}: {flow}: {e}"))
        } else {
            assert!(rest.is_empty(), "{name}.{key}: an unknown form `{rest}`");
            let mut items = Vec::new();
            while i < lines.len() && indent(lines[i]) > 4 {
                let item = lines[i].trim();
                i += 1;
                let value = item.strip_prefix("- ").expect("a block list item");
                if value == ">" {
                    let mut folded = Vec::new();
                    while i < lines.len() && indent(lines[i]) > 6 {
                        folded.push(lines[i].trim());
                        i += 1;
                    }
                    items.push(folded.join(" "));
                } else {
                    items.push(value.to_string());
                }
            }
            items
        };
        let svc = services.get_mut(name).unwrap();
        match key {
            "entrypoint" => svc.entrypoint = words,
            _ => svc.command = words,
        }
    }
    services
}

/// The sealwax binaries a service of our image runs, each with its
/// arguments: the image's entrypoint (`sealwax-log`) with `command`, or each invocation
/// inside a `/bin/sh -c` script.
fn invocations(svc: &ComposeService) -> Vec<Vec<String>> {
    const BINARIES: [&str; 4] = [
        "sealwax-log",
        "sealwax-witness",
        "sealwax-monitor",
        "sealwax",
    ];
    if !svc.ours {
        return Vec::new();
    }
    if svc.entrypoint.is_empty() {
        let mut argv = vec!["sealwax-log".to_string()];
        argv.extend(svc.command.iter().cloned());
        return vec![argv];
    }
    assert_eq!(svc.entrypoint, ["/bin/sh", "-c"], "{svc:?}");
    let script = svc.command.join(" ");
    let mut out = Vec::new();
    for simple in script.split([';', '&', '|', '{', '}', '(', ')']) {
        let words: Vec<&str> = simple.split_whitespace().collect();
        let Some(start) = words.iter().position(|w| BINARIES.contains(w)) else {
            continue;
        };
        out.push(words[start..].iter().map(|w| w.to_string()).collect());
    }
    out
}

/// `BINARY [SUBCOMMAND] --help` (none when `sub` is a flag).
fn help_of(binary: &str, sub: &str) -> String {
    let mut cmd = Command::new(bin(binary));
    if !sub.starts_with("--") {
        cmd.arg(sub);
    }
    let out = cmd.arg("--help").output().expect("run --help");
    assert!(out.status.success(), "{binary} {sub} --help");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_example_policy_parses_and_names_its_witnesses() {
    use sealwax_proto::policy::Policy;
    let mut seen = 0;
    for entry in fs::read_dir(deploy_dir().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "policy") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        let policy = Policy::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(policy.logs().len(), 1, "{}", path.display());
        assert!(
            policy.witnesses().iter().all(|w| w.url.is_some()),
            "{}: every witness has a URL for the log",
            path.display()
        );
        assert!(text.contains("\n# "), "{}: commented", path.display());
        seen += 1;
    }
    assert!(seen >= 2, "the 2-of-2 and the nested 2-of-3 examples");
}

#[test]
fn compose_runs_two_witnesses_and_the_log_with_a_two_of_two_policy() {
    use sealwax_proto::policy::Policy;
    let services = compose_services();
    for name in ["witness-keys", "witness-1", "witness-2", "log"] {
        assert!(services.contains_key(name), "compose has {name}");
    }
    // Every flag of every sealwax command in the file exists in that binary.
    for (name, svc) in &services {
        for argv in invocations(svc) {
            let (binary, sub) = (&argv[0], &argv[1]);
            let help = help_of(binary, sub);
            for flag in argv.iter().filter(|w| w.starts_with("--")) {
                assert!(
                    help.contains(&format!("{flag} ")),
                    "{name}: `{binary} {sub}` has no {flag}:\n{help}"
                );
            }
        }
    }
    let witness_serves: Vec<&String> = services
        .iter()
        .filter(|(_, s)| {
            invocations(s)
                .iter()
                .any(|a| a[0] == "sealwax-witness" && a[1] == "serve")
        })
        .map(|(n, _)| n)
        .collect();
    assert_eq!(witness_serves, ["witness-1", "witness-2"]);

    // Run the compose wiring here, without containers: the init script with
    // its paths in a temporary directory, then the witnesses and the log
    // with the commands compose gives them, on free ports.
    let dir = tempfile::tempdir().unwrap();
    let paths = [
        ("/var/lib/sealwax-witness-1", dir.path().join("w1")),
        ("/var/lib/sealwax-witness-2", dir.path().join("w2")),
        ("/var/lib/sealwax", dir.path().join("log")),
        ("/etc/sealwax/witnessing", dir.path().join("witnessing")),
        ("/tmp/first-start", dir.path().join("first-start")),
    ];
    fs::create_dir_all(dir.path().join("witnessing")).unwrap();
    fs::create_dir_all(dir.path().join("log")).unwrap();
    let local = |text: &str| {
        let mut t = text.replace("$$", "$");
        for (from, to) in &paths {
            t = t.replace(from, s(to));
        }
        t
    };
    let bin_dir = bin("sealwax-witness").parent().unwrap().to_path_buf();
    let path = format!("{}:{}", s(&bin_dir), std::env::var("PATH").unwrap());
    let sh = |what: &str, script: &str| {
        let out = Command::new("/bin/sh")
            .args(["-c", script])
            .env("PATH", &path)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{what}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh(
        "admin-token",
        &local(&services["admin-token"].command.join(" ")),
    );
    let init = &services["witness-keys"];
    let script = local(&init.command.join(" "));
    let script = replace_once(
        &script,
        "chown -R sealwax:sealwax",
        "true",
        "compose.yaml witness-keys",
    );
    let script = replace_once(
        &script,
        "127.0.0.1:7389",
        &format!("127.0.0.1:{}", free_port()),
        "compose.yaml witness-keys",
    );
    // A second run (a restart of the stack) keeps the keys and the policy.
    sh("witness-keys", &script);
    let keys = fs::read_to_string(dir.path().join("witnessing/policy")).unwrap();
    sh("witness-keys, again", &script);
    assert_eq!(
        fs::read_to_string(dir.path().join("witnessing/policy")).unwrap(),
        keys
    );
    let policy_file = dir.path().join("witnessing/policy");
    let policy_text = fs::read_to_string(&policy_file).unwrap();
    let policy = Policy::parse(&policy_text).unwrap();
    let urls: Vec<Option<&str>> = policy
        .witnesses()
        .iter()
        .map(|w| w.url.as_deref())
        .collect();
    assert_eq!(
        urls,
        [Some("http://witness-1:7381"), Some("http://witness-2:7381")]
    );
    assert!(policy_text.contains("group both all w1 w2\nquorum both\n"));

    // The witnesses, each on a free port in place of 7381.
    let mut children = Vec::new();
    let mut policy_local = policy_text.clone();
    for name in ["witness-1", "witness-2"] {
        let port = free_port();
        let svc = &services[name];
        let script = local(&svc.command.join(" "));
        let script = replace_once(&script, "0.0.0.0:7381", &format!("127.0.0.1:{port}"), name);
        let mut child = Command::new("/bin/sh")
            .args(["-c", &script])
            .env("PATH", &path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        sealwax_tests::wait_healthy(&format!("http://127.0.0.1:{port}"), &mut child);
        children.push(KillOnDrop(child));
        policy_local = replace_once(
            &policy_local,
            &format!("http://{name}:7381"),
            &format!("http://127.0.0.1:{port}"),
            "the generated policy",
        );
    }
    fs::write(&policy_file, &policy_local).unwrap();
    // The log, with the command compose gives it, on a free port.
    let port = free_port();
    let argv: Vec<String> = invocations(&services["log"])
        .remove(0)
        .iter()
        .map(|w| local(w).replace("0.0.0.0:7380", &format!("127.0.0.1:{port}")))
        .collect();
    let mut log = Command::new(bin(&argv[0]))
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    sealwax_tests::wait_healthy(&url, &mut log);
    let _log = KillOnDrop(log);
    let vkey = fs::read_to_string(dir.path().join("witnessing/log.vkey")).unwrap();
    let origin = vkey.split('+').next().unwrap().to_string();
    fill_log(&url, &origin, "alice", 2);
    // /checkpoint serves a checkpoint both witnesses cosigned.
    let policy = Policy::parse(&policy_local).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, _, body) = get(&format!("{url}/checkpoint"));
        let body = String::from_utf8(body).unwrap();
        if status == 200 && policy.verify_checkpoint(&body).is_ok() && !body.contains("\n0\n") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint meeting the 2-of-2 quorum within 30 s: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
