//! Crash-safe file writes, through `sealwax-durable`: every state file is
//! written to a temporary file in the same directory, flushed to disk,
//! renamed over the old one, and the directory is flushed too. A reader sees
//! the old file or the new one, never a half-written one, even if the
//! machine loses power mid-write. Also the client's plain file reads.

use std::fs;
use std::path::Path;

use crate::error::{ClientError, Result};

/// File mode of files only the owner may read (secret keys).
pub const MODE_SECRET: u32 = sealwax_durable::MODE_PRIVATE;
/// File mode of ordinary state files.
pub const MODE_PUBLIC: u32 = sealwax_durable::MODE_PUBLIC;

/// Creates `dir` and its parents (mode 0700 for new directories).
pub fn create_dir_private(dir: &Path) -> Result<()> {
    Ok(sealwax_durable::create_dir_private(dir)?)
}

/// Writes `data` to `path` atomically with file mode exactly `mode` (see
/// [`sealwax_durable::write_atomic`]: a secret is never readable by others,
/// not even briefly, and a failed write leaves the old file).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    Ok(sealwax_durable::write_atomic(path, data, mode)?)
}

/// Flushes a directory's entries (after a rename into it).
pub fn sync_dir(dir: &Path) -> Result<()> {
    Ok(sealwax_durable::sync_dir(dir)?)
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
    fn read_optional_missing_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_optional(&dir.path().join("nope")).unwrap().is_none());
    }

    #[test]
    fn write_errors_are_local_file_problems() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "old").unwrap();
        let err = write_atomic(&file.join("x"), b"new", MODE_PUBLIC).unwrap_err();
        assert!(matches!(err, ClientError::Durable(_)), "{err}");
        assert_eq!(err.exit_code(), crate::error::EXIT_USAGE);
        assert!(
            err.to_string().contains(&file.display().to_string()),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&file).unwrap(), "old");
    }
}
