//! proto is pure: no I/O crates among its dependencies and no I/O in its
//! source, so the log, the installer and the monitor share rules, not
//! side effects. This is the guardrail ARCHITECTURE.md names.

use std::path::{Path, PathBuf};

const CRATE: &str = env!("CARGO_MANIFEST_DIR");

/// Crates that do I/O (or pull in a runtime) and must stay out of proto.
const FORBIDDEN_CRATES: [&str; 8] = [
    "tokio", "reqwest", "rocksdb", "axum", "hyper", "tempfile", "rustix", "libc",
];

/// Paths into the standard library's I/O, and process and clock access.
const FORBIDDEN_PATHS: [&str; 7] = [
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    "std::io::stdin",
    "std::time::SystemTime",
    "std::thread",
];

/// The `[dependencies]` table of proto's manifest, as dependency names.
fn dependencies() -> Vec<String> {
    let manifest = std::fs::read_to_string(Path::new(CRATE).join("Cargo.toml")).unwrap();
    let mut in_deps = false;
    let mut names = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['.', '=', ' ']).next().unwrap();
            names.push(name.to_string());
        }
    }
    names
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn proto_depends_on_no_io_crate() {
    let deps = dependencies();
    assert!(
        deps.iter().any(|d| d == "sha2"),
        "the manifest was read: {deps:?}"
    );
    for d in &deps {
        assert!(
            !FORBIDDEN_CRATES.contains(&d.as_str()),
            "proto must stay pure, but depends on {d}: move the I/O to the crate that needs it"
        );
    }
}

#[test]
fn proto_source_does_no_io() {
    let mut files = Vec::new();
    sources(&Path::new(CRATE).join("src"), &mut files);
    assert!(files.len() > 5, "the sources were found: {files:?}");
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap();
            for bad in FORBIDDEN_PATHS {
                assert!(
                    !code.contains(bad),
                    "{}:{}: proto must do no I/O, but uses {bad}: pass the data in from the caller",
                    f.display(),
                    n + 1
                );
            }
        }
    }
}
