//! End-to-end tests: the crash-loop harness. `sealwax-crashloop` kills the
//! real `sealwax-log` with SIGKILL under concurrent load, restarts it on the
//! same data, and checks with the client's and proto's code that no
//! acknowledged entry was lost and nothing unacknowledged half-exists.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use sealwax_tests::bin;
use serde_json::Value;

/// Kill-restart cycles: enough crashes to hit the sequencer at many points
/// (about 50 s on two cores; `--max-seconds` cuts a slower machine short).
const CYCLES: u64 = 50;

/// Runs `sealwax-crashloop --json <args>` with `sealwax-log` (or `log_bin`);
/// its exit status and JSON summary.
fn crashloop(args: &[&str], log_bin: &Path, envs: &[(&str, &Path)]) -> (ExitStatus, Value) {
    let started = Instant::now();
    let mut child = Command::new(bin("sealwax-crashloop"))
        .arg("--json")
        .args(args)
        .arg("--log-bin")
        .arg(log_bin)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run sealwax-crashloop");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    // The harness stops itself (--max-seconds, timeouts on every request);
    // this is the backstop.
    let deadline = started + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for sealwax-crashloop") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sealwax-crashloop ran for more than 300 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = reader.join().unwrap().expect("read the summary");
    let summary: Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("the summary is not JSON ({e}): {out}"));
    eprintln!(
        "crash loop summary ({:.1} s): {summary}",
        started.elapsed().as_secs_f64()
    );
    (status, summary)
}

fn count(summary: &Value, key: &str) -> u64 {
    summary[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is missing: {summary}"))
}

#[test]
fn crash_loop_under_load_loses_no_acknowledged_entry() {
    let cycles = CYCLES.to_string();
    let (status, summary) = crashloop(
        &[
            "--cycles",
            &cycles,
            "--concurrency",
            "16",
            "--max-seconds",
            "150",
        ],
        &bin("sealwax-log"),
        &[],
    );
    assert!(
        status.success(),
        "sealwax-crashloop failed ({status}): {summary}"
    );
    assert_eq!(summary["ok"], true, "{summary}");
    assert_eq!(summary["violations"], Value::Array(vec![]), "{summary}");
    assert_eq!(count(&summary, "entries_lost"), 0, "{summary}");
    assert!(count(&summary, "entries_acked") > 0, "{summary}");
    let run = count(&summary, "cycles_run");
    if summary["time_limit_reached"] == false {
        assert_eq!(run, CYCLES, "{summary}");
    }
    assert!(run >= 5, "too few cycles ran: {summary}");
    // Every kill cuts some submissions off; each must have been classified.
    assert!(
        count(&summary, "unacked_present") + count(&summary, "unacked_absent") > 0,
        "no submission was ever in flight at a kill: {summary}"
    );
    assert!(count(&summary, "checkpoints_checked") > run, "{summary}");
    assert!(
        count(&summary, "consistency_proofs_verified") > 0,
        "{summary}"
    );
    assert!(
        count(&summary, "final_tree_size")
            >= count(&summary, "entries_acked") + count(&summary, "unacked_present"),
        "the tree holds every acknowledged entry: {summary}"
    );
}

/// The harness must notice a log that loses acknowledged entries: here the
/// real `sealwax-log`, whose RocksDB write-ahead log is deleted before its
/// second restart (what a disk that ignores fsync would do).
#[test]
fn crash_loop_catches_a_log_that_loses_its_write_ahead_log() {
    let tmp = tempfile::tempdir().unwrap();
    let wrapper = tmp.path().join("lossy-sealwax-log");
    std::fs::write(
        &wrapper,
        r#"#!/bin/sh
# Runs the real sealwax-log; on the third `serve` of a data directory it
# first deletes that directory's RocksDB write-ahead log files.
if [ "$1" = serve ]; then
  dir=""; prev=""
  for a in "$@"; do
    if [ "$prev" = --data-dir ]; then dir="$a"; fi
    prev="$a"
  done
  n=$(cat "$dir.starts" 2>/dev/null || echo 0)
  n=$((n + 1))
  echo "$n" > "$dir.starts"
  if [ "$n" -eq 3 ]; then rm -f "$dir"/db/*.log; fi
fi
exec "$REAL_SEALWAX_LOG" "$@"
"#,
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (status, summary) = crashloop(
        &["--cycles", "4", "--concurrency", "8", "--max-seconds", "60"],
        &wrapper,
        &[("REAL_SEALWAX_LOG", &bin("sealwax-log"))],
    );
    assert!(!status.success(), "the loss went unnoticed: {summary}");
    assert_eq!(summary["ok"], false, "{summary}");
    let violations = summary["violations"].as_array().expect("violations");
    assert!(!violations.is_empty(), "{summary}");
    // The probe acknowledged after the first restart lived only in the
    // deleted write-ahead log, so at least it is lost (unless RocksDB
    // refuses to open without its log, which the harness reports too).
    let refused_to_start = violations
        .iter()
        .any(|v| v.as_str().unwrap_or("").contains("did not come back"));
    assert!(
        count(&summary, "entries_lost") > 0 || refused_to_start,
        "{summary}"
    );
    assert!(
        count(&summary, "cycles_run") <= 2,
        "it stops at the cycle that lost data: {summary}"
    );
}
