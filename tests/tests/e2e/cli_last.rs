//! End-to-end tests: the last points of issue 18. `--version` means what it
//! means elsewhere, `publish` reads a manifest, the monitor reads the
//! client's config, logs colour only a terminal and name the port bound,
//! `install --json` and `verify --json` share one shape, the install naming
//! rule, and failed URL installs leave nothing behind.

use std::path::Path;
use std::process::Output;

use sealwax_tests::{path_str, succeeds, tree_size, Client};

use crate::cli::World;

/// Exit code of every binary for a usage error.
const EXIT_USAGE: i32 = 2;

/// `sealwax <args>` run by `client` in the directory `cwd`.
fn run_in(client: &Client, cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = client.cmd();
    cmd.current_dir(cwd).args(args);
    cmd.output().expect("run sealwax")
}

/// The release (`publisher/package@version`) `verify --json` reads in `file`'s signature.
fn verified_release(client: &Client, file: &Path) -> String {
    let out = client.ok(&["--json", "verify", path_str(file)]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("verify --json");
    format!(
        "{}/{}@{}",
        v["publisher"].as_str().unwrap_or("?"),
        v["package"].as_str().unwrap_or("?"),
        v["version"].as_str().unwrap_or("?")
    )
}

// ----- 1. --version is sealwax's version -----

#[test]
fn version_prints_the_version_on_every_verb_and_releases_have_their_own_spelling() {
    let w = World::new();
    let alice = w.alice();
    let expected = format!("sealwax {}\n", env!("CARGO_PKG_VERSION"));
    let size = tree_size(&w.server.url);
    for args in [
        &["--version"][..],
        &["-V"],
        &["publish", "--version"],
        &["publish", "-V"],
        &["install", "--version"],
        &["keys", "list", "--version"],
    ] {
        assert_eq!(alice.ok(args), expected, "sealwax {args:?}");
    }
    assert_eq!(
        tree_size(&w.server.url),
        size,
        "printing a version logs nothing"
    );

    let a = w.artifact("a.tgz", 1000, 1);
    alice.ok(&["publish", path_str(&a), "alice/hello@1.0.0"]);
    assert_eq!(verified_release(&alice, &a), "alice/hello@1.0.0");
    let b = w.artifact("b.tgz", 1000, 2);
    alice.ok(&[
        "publish",
        path_str(&b),
        "hello@2.0.0",
        "--publisher",
        "alice",
    ]);
    assert_eq!(verified_release(&alice, &b), "alice/hello@2.0.0");
    let c = w.artifact("c.tgz", 1000, 3);
    let flags = ["--publisher", "alice", "--package", "hello"];
    let mut args = vec!["publish", path_str(&c), "--release-version", "3.0.0"];
    args.extend(flags);
    alice.ok(&args);
    assert_eq!(verified_release(&alice, &c), "alice/hello@3.0.0");

    // The old spelling still publishes (scripts keep working), with a warning.
    let d = w.artifact("d.tgz", 1000, 4);
    let mut args = vec!["publish", path_str(&d), "--version", "4.0.0"];
    args.extend(flags);
    let out = alice.run(&args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    succeeds(out, "publish --version 4.0.0");
    assert!(err.contains("--release-version 4.0.0"), "{err}");
    assert_eq!(verified_release(&alice, &d), "alice/hello@4.0.0");

    // A release given twice, differently, is a usage error and logs nothing.
    let e = w.artifact("e.tgz", 1000, 5);
    let size = tree_size(&w.server.url);
    let err = alice.fails_with(
        &[
            "publish",
            path_str(&e),
            "bob/hello@5.0.0",
            "--publisher",
            "alice",
        ],
        EXIT_USAGE,
    );
    assert!(err.contains("two publishers"), "{err}");
    let err = alice.fails_with(&["publish", path_str(&e), "hello-5.0.0"], EXIT_USAGE);
    assert!(err.contains("PACKAGE@VERSION"), "{err}");
    assert_eq!(tree_size(&w.server.url), size);
}

// ----- 2. the publish manifest -----

#[test]
fn publish_reads_sealwax_toml_and_flags_override_it() {
    let w = World::new();
    let alice = w.alice();
    let project = w.path("project");
    std::fs::create_dir(&project).unwrap();
    std::fs::write(
        project.join("sealwax.toml"),
        "publisher = \"alice\"\npackage = \"hello\"\nversion = \"1.0.0\"\n",
    )
    .unwrap();
    let a = w.artifact("project/a.tgz", 1000, 1);
    succeeds(
        run_in(&alice, &project, &["publish", "a.tgz"]),
        "publish a.tgz",
    );
    assert_eq!(verified_release(&alice, &a), "alice/hello@1.0.0");

    let b = w.artifact("project/b.tgz", 1000, 2);
    let out = run_in(
        &alice,
        &project,
        &[
            "publish",
            "b.tgz",
            "--release-version",
            "2.0.0",
            "--package",
            "other",
        ],
    );
    succeeds(out, "publish b.tgz with flags");
    assert_eq!(verified_release(&alice, &b), "alice/other@2.0.0");
    let c = w.artifact("project/c.tgz", 1000, 3);
    succeeds(
        run_in(&alice, &project, &["publish", "c.tgz", "tool@3.0.0"]),
        "publish RELEASE",
    );
    assert_eq!(verified_release(&alice, &c), "alice/tool@3.0.0");

    // Nothing given anywhere: the message says where to give it.
    let bare = w.path("bare");
    std::fs::create_dir(&bare).unwrap();
    w.artifact("bare/d.tgz", 1000, 4);
    let out = run_in(&alice, &bare, &["publish", "d.tgz", "--publisher", "alice"]);
    let err = sealwax_tests::fails_with(out, EXIT_USAGE, "publish without a package");
    assert!(
        err.contains("--package") && err.contains("sealwax.toml"),
        "{err}"
    );
}

#[test]
fn a_malformed_manifest_names_file_and_line_and_logs_nothing() {
    let w = World::new();
    let alice = w.alice();
    let project = w.path("project");
    std::fs::create_dir(&project).unwrap();
    w.artifact("project/a.tgz", 1000, 1);
    let size = tree_size(&w.server.url);
    for (manifest, line) in [
        ("publisher = \"alice\"\nversion = 1.0\n", "line 2"),
        ("publisher = \"alice\"\n\npakage = \"hello\"\n", "line 3"),
        ("publisher = \"alice\n", "line 1"),
    ] {
        std::fs::write(project.join("sealwax.toml"), manifest).unwrap();
        let out = run_in(&alice, &project, &["publish", "a.tgz", "hello@1.0.0"]);
        let err = sealwax_tests::fails_with(out, EXIT_USAGE, manifest);
        assert!(
            err.contains("sealwax.toml") && err.contains(line),
            "{manifest}: {err}"
        );
        assert!(err.contains("Fix that line"), "{err}");
        assert_eq!(err.matches("error:").count(), 1, "{err}");
    }
    assert_eq!(tree_size(&w.server.url), size, "nothing was logged");
    assert!(!project.join("a.tgz.minisig").exists());
}
