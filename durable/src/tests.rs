use std::error::Error as _;
use std::process::Command;

use super::*;

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn writes_replace_and_keep_mode() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sub/state.toml");
    write_atomic(&p, b"one", MODE_PRIVATE).unwrap();
    write_atomic(&p, b"two", MODE_PRIVATE).unwrap();
    assert_eq!(fs::read_to_string(&p).unwrap(), "two");
    assert_eq!(mode_of(&p), 0o600);
    assert_eq!(
        mode_of(p.parent().unwrap()),
        0o700,
        "new directories are private"
    );
    // No temporary files are left behind.
    assert_eq!(names(p.parent().unwrap()), ["state.toml"]);
}

#[test]
fn a_failed_write_leaves_the_old_content_and_no_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    // The target's parent is a file: nothing can be written under it.
    let file = dir.path().join("state");
    fs::write(&file, "old").unwrap();
    let err = write_atomic(&file.join("x"), b"new", MODE_PUBLIC).unwrap_err();
    assert_eq!(err.op(), "create directory", "{err}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "old");
    // The target is a directory: the temp file is written, the rename fails.
    let target = dir.path().join("t");
    fs::create_dir(&target).unwrap();
    fs::write(target.join("inner"), "old").unwrap();
    let err = write_atomic(&target, b"new", MODE_PUBLIC).unwrap_err();
    assert_eq!(err.op(), "replace", "{err}");
    assert_eq!(err.path(), target);
    assert_eq!(fs::read_to_string(target.join("inner")).unwrap(), "old");
    assert_eq!(
        names(dir.path()),
        ["state", "t"],
        "the temp file is removed"
    );
}

#[test]
fn write_new_never_replaces_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("signing.key");
    write_new(&p, b"first", MODE_PRIVATE).unwrap();
    assert_eq!(mode_of(&p), 0o600);
    let err = write_new(&p, b"second", MODE_PRIVATE).unwrap_err();
    assert_eq!(err.cause().kind(), io::ErrorKind::AlreadyExists, "{err}");
    assert_eq!(fs::read_to_string(&p).unwrap(), "first");
    assert_eq!(names(dir.path()), ["signing.key"]);
}

#[test]
fn a_dropped_stage_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("artifact");
    let mut staged = Staged::create(&p, MODE_PUBLIC).unwrap();
    staged.write_all(b"half of it").unwrap();
    assert!(staged.temp_path().exists());
    drop(staged);
    assert!(names(dir.path()).is_empty(), "{:?}", names(dir.path()));
    // An existing file is untouched by an abandoned new version of it.
    fs::write(&p, "old").unwrap();
    let mut staged = Staged::create(&p, MODE_PUBLIC).unwrap();
    staged.write_all(b"new").unwrap();
    drop(staged);
    assert_eq!(fs::read_to_string(&p).unwrap(), "old");
    assert_eq!(names(dir.path()), ["artifact"]);
}

#[test]
fn a_stage_streams_through_a_second_handle_and_commits() {
    let dir = tempfile::tempdir().unwrap();
    let temps = dir.path().join("tmp");
    fs::create_dir(&temps).unwrap();
    let p = dir.path().join("big");
    fs::write(&p, "old").unwrap();
    let staged = Staged::create_in(&temps, &p, MODE_PUBLIC).unwrap();
    assert_eq!(staged.temp_path().parent(), Some(temps.as_path()));
    assert_eq!(staged.target(), p);
    let mut handle = staged.handle().unwrap();
    for chunk in [&b"one "[..], b"two ", b"three"] {
        handle.write_all(chunk).unwrap();
    }
    drop(handle);
    assert_eq!(fs::read_to_string(&p).unwrap(), "old", "not before commit");
    staged.commit().unwrap();
    assert_eq!(fs::read_to_string(&p).unwrap(), "one two three");
    assert_eq!(mode_of(&p), 0o644);
    assert!(names(&temps).is_empty());
}

#[test]
fn temp_names_are_unique_per_process_and_write() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("state.json");
    let a = Staged::create(&p, MODE_PUBLIC).unwrap();
    let b = Staged::create(&p, MODE_PUBLIC).unwrap();
    assert_ne!(a.temp_path(), b.temp_path());
    let prefix = format!(".state.json.tmp-{}-", std::process::id());
    for s in [&a, &b] {
        let name = s.temp_path().file_name().unwrap().to_string_lossy();
        assert!(name.starts_with(&prefix), "{name}");
    }
}

#[test]
fn the_error_says_what_failed_where_and_what_to_do_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    fs::write(&file, "").unwrap();
    let err = write_atomic(&file.join("x"), b"", MODE_PUBLIC).unwrap_err();
    let msg = err.to_string();
    let cause = err.cause().to_string();
    assert!(
        msg.starts_with(&format!("cannot create directory {}: ", file.display())),
        "{msg}"
    );
    assert_eq!(msg.matches(&cause).count(), 1, "{msg}");
    assert!(msg.contains("move it away"), "{msg}");
    assert!(err.source().is_none(), "the cause is in the message only");
}

/// Environment variable that tells a re-executed test which umask it runs under.
const UMASK_CHILD: &str = "SEALWAX_DURABLE_TEST_UMASK";
const MODES_TEST: &str = "tests::modes_are_exact_whatever_the_umask";

/// Checks that files get exactly their mode under the current umask.
fn check_exact_modes() {
    let dir = tempfile::tempdir().unwrap();
    for mode in [0o600, 0o644, 0o666, 0o640] {
        let p = dir.path().join(format!("f{mode:o}"));
        // A secret is never readable by others, not even before its first byte.
        let staged = Staged::create(&p, mode).unwrap();
        assert_eq!(mode_of(staged.temp_path()), mode, "temp file of {mode:o}");
        staged.commit().unwrap();
        assert_eq!(mode_of(&p), mode);
        write_atomic(&p, b"again", mode).unwrap();
        assert_eq!(mode_of(&p), mode);
    }
}

#[test]
fn modes_are_exact_whatever_the_umask() {
    if let Ok(umask) = std::env::var(UMASK_CHILD) {
        // Re-executed below: first check the umask is the one asked for.
        let dir = tempfile::tempdir().unwrap();
        let probe = dir.path().join("probe");
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&probe)
            .unwrap();
        let want = 0o666 & !u32::from_str_radix(&umask, 8).unwrap();
        assert_eq!(mode_of(&probe), want, "umask {umask}");
        check_exact_modes();
        return;
    }
    check_exact_modes();
    // Again in a copy of this test under a permissive and a strict umask.
    let exe = std::env::current_exe().unwrap();
    for umask in ["000", "077"] {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
            .arg(&exe)
            .args(["--exact", MODES_TEST, "--test-threads", "1"])
            .env(UMASK_CHILD, umask)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "umask {umask}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
