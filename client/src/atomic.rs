//! Crash-safe file writes: every state file is written to a temporary file in
//! the same directory, flushed to disk, renamed over the old one, and the
//! directory is flushed too. A reader sees the old file or the new one, never
//! a half-written one, even if the machine loses power mid-write.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::error::{ClientError, Result};

/// File mode of files only the owner may read (secret keys).
pub const MODE_SECRET: u32 = 0o600;
/// File mode of ordinary state files.
pub const MODE_PUBLIC: u32 = 0o644;

/// Creates `dir` and its parents (mode 0700 for new directories).
pub fn create_dir_private(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| ClientError::io("create directory", dir, e))
}

/// Writes `data` to `path` atomically with file mode `mode`.
///
/// Temporary file (created with `mode`, so a secret is never readable by
/// others, not even briefly) → write → fsync → rename → fsync the directory.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    create_dir_private(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(
        ".{name}.tmp-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| ClientError::io("create", &tmp, e))?;
        // The umask may have narrowed the mode; make it exact.
        f.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| ClientError::io("set permissions of", &tmp, e))?;
        f.write_all(data)
            .map_err(|e| ClientError::io("write", &tmp, e))?;
        f.sync_all()
            .map_err(|e| ClientError::io("flush", &tmp, e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| ClientError::io("replace", path, e))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Flushes a directory's entries (after a rename into it).
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ClientError::io("flush directory", dir, e))
}

/// Reads a file to a string; `Ok(None)` if it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ClientError::io("read", path, e)),
    }
}

/// Reads a file to a string.
pub fn read_to_string(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| ClientError::io("read", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_and_keep_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/state.toml");
        write_atomic(&p, b"one", MODE_SECRET).unwrap();
        write_atomic(&p, b"two", MODE_SECRET).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two");
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn read_optional_missing_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_optional(&dir.path().join("nope")).unwrap().is_none());
    }
}
