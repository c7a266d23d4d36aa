//! Publisher, package, version and origin names: what each may contain.

use crate::{Error, Result};

fn check_name(
    what: &'static str,
    value: &str,
    rule: &'static str,
    extra: &[u8],
    max: usize,
) -> Result<()> {
    let b = value.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= max
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what,
            value: value.to_string(),
            rule,
        })
    }
}

/// Check a publisher name: 1–64 of `a-z 0-9 . _ -`, starting with a letter or digit.
pub fn validate_publisher(name: &str) -> Result<()> {
    check_name(
        "publisher",
        name,
        "use 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        b"._-",
        64,
    )
}

/// Check a package name: same rule as publishers, up to 128 characters.
pub fn validate_package(name: &str) -> Result<()> {
    check_name(
        "package",
        name,
        "use 1-128 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        b"._-",
        128,
    )
}

/// Check a version: 1–64 of `a-z 0-9 . _ - +`, starting with a letter or digit.
pub fn validate_version(version: &str) -> Result<()> {
    check_name(
        "version",
        version,
        "use 1-64 lowercase letters, digits, '.', '_', '-' or '+', starting with a letter or digit",
        b"._-+",
        64,
    )
}

/// Check a log origin: 1–255 printable ASCII characters without spaces.
pub fn validate_origin(origin: &str) -> Result<()> {
    let ok = !origin.is_empty()
        && origin.len() <= 255
        && origin.bytes().all(|c| c.is_ascii_graphic() && c != b'=');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what: "origin",
            value: origin.to_string(),
            rule: "use 1-255 printable ASCII characters, no spaces or '='",
        })
    }
}
