//! # sealwax durable
//!
//! Crash-safe file writes, the one implementation every sealwax crate uses.
//! A new version of a file is written to a temporary file (created with its
//! final mode, so a secret is never readable by others, not even briefly),
//! flushed to disk, renamed over the old file, and the directory is flushed
//! too. A reader sees the old file or the new one, never a half-written one,
//! even if the machine loses power mid-write; a write that fails leaves the
//! old file as it was and removes its temporary file.
//!
//! [`write_atomic`] writes a whole file at once; [`Staged`] is the streaming
//! form for large files, written by the caller and then [committed]
//! (`Staged::commit`). [`write_new`] creates a file that must not exist yet.
//!
//! `sealwax-proto` stays free of I/O; this crate holds the file system side.
#![warn(missing_docs)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// File mode of files only the owner may read (secret keys).
pub const MODE_PRIVATE: u32 = 0o600;
/// File mode of ordinary files (state, signatures, artifacts).
pub const MODE_PUBLIC: u32 = 0o644;

/// Shorthand for results whose error is [`DurableError`].
pub type Result<T, E = DurableError> = std::result::Result<T, E>;

/// A file system operation of a durable write failed.
///
/// The message shows the cause, so the cause is not also the `source`:
/// `{:#}` and anyhow's "Caused by" print it once.
#[derive(Debug, Error)]
#[error("cannot {op} {path}: {cause}; {hint}", hint = hint(.cause))]
pub struct DurableError {
    op: &'static str,
    path: PathBuf,
    cause: io::Error,
}

impl DurableError {
    fn new(op: &'static str, path: &Path, cause: io::Error) -> DurableError {
        DurableError {
            op,
            path: path.to_path_buf(),
            cause,
        }
    }

    /// What was being done: "create", "write", "flush", "replace", ...
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// The file or directory it was done to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The operating system's error.
    pub fn cause(&self) -> &io::Error {
        &self.cause
    }
}

/// What the user can do about `cause`.
fn hint(cause: &io::Error) -> &'static str {
    use io::ErrorKind::*;
    match cause.kind() {
        PermissionDenied | ReadOnlyFilesystem => {
            "check that this user may write there (or choose another directory), then retry"
        }
        StorageFull | QuotaExceeded => "free some disk space, then retry",
        NotFound | NotADirectory => {
            "check that the directory exists and is a directory, then retry"
        }
        AlreadyExists => "something is already there: move it away first if it should be replaced",
        IsADirectory | DirectoryNotEmpty => "a directory is in the way: move it away, then retry",
        _ => "check the disk and the directory's permissions, then retry",
    }
}

/// Maps an I/O error of `op` on `path` into a [`DurableError`].
fn fail<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> DurableError + 'a {
    move |cause| DurableError::new(op, path, cause)
}

/// The directory `path` is in (`.` for a bare file name).
fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// A temporary name for a new version of `target`, unique to this process
/// and this write: `.<name>.tmp-<pid>-<random>`.
fn temp_name(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    format!(
        ".{name}.tmp-{}-{:016x}",
        std::process::id(),
        rand::random::<u64>()
    )
}

/// Creates `dir` and its missing parents, new ones with mode 0700.
pub fn create_dir_private(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(fail("create directory", dir))
}

/// Flushes a directory's entries to disk (after a rename into it).
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(fail("flush directory", dir))
}

/// Writes `data` to `path` atomically, with file mode exactly `mode`,
/// creating missing parent directories (mode 0700).
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let mut staged = Staged::create(path, mode)?;
    staged.write_all(data)?;
    staged.commit()
}

/// Writes `data` to `path`, which must not exist yet (an existing file is
/// never replaced: the error's [`cause`](DurableError::cause) is
/// `AlreadyExists`), as durably as [`write_atomic`].
pub fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let mut staged = Staged::create(path, mode)?;
    staged.write_all(data)?;
    staged.commit_new()
}

/// A new version of a file, being written to a temporary file; dropping it
/// uncommitted removes the temporary file and leaves the target as it was.
#[derive(Debug)]
pub struct Staged {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    /// The temporary file is gone (renamed or removed).
    done: bool,
}

impl Staged {
    /// Starts a new version of `target` in a temporary file beside it, with
    /// file mode exactly `mode` from the first byte; creates missing parent
    /// directories (mode 0700).
    pub fn create(target: &Path, mode: u32) -> Result<Staged> {
        let dir = parent_of(target);
        create_dir_private(dir)?;
        Staged::create_in(dir, target, mode)
    }

    /// Like [`Staged::create`], with the temporary file in `temp_dir`, which
    /// must exist and be on the same file system as `target`.
    pub fn create_in(temp_dir: &Path, target: &Path, mode: u32) -> Result<Staged> {
        let temp = temp_dir.join(temp_name(target));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)
            .map_err(fail("create", &temp))?;
        let staged = Staged {
            file,
            temp,
            target: target.to_path_buf(),
            done: false,
        };
        // The umask may have narrowed the mode; make it exact.
        staged
            .file
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(fail("set the permissions of", &staged.temp))?;
        Ok(staged)
    }

    /// The temporary file, to write the new content to.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// A second handle to the temporary file, for a writer that needs to own
    /// one (`tokio::fs::File::from_std`); flush and drop it before
    /// [`commit`](Staged::commit).
    pub fn handle(&self) -> Result<File> {
        self.file.try_clone().map_err(fail("open", &self.temp))
    }

    /// The temporary file's path.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The file this will replace.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Appends `data` to the temporary file.
    pub fn write_all(&mut self, data: &[u8]) -> Result<()> {
        self.file.write_all(data).map_err(fail("write", &self.temp))
    }

    /// Makes the new version the file: flushes it, renames it over the
    /// target and flushes the target's directory.
    pub fn commit(mut self) -> Result<()> {
        self.flush()?;
        fs::rename(&self.temp, &self.target).map_err(fail("replace", &self.target))?;
        self.done = true;
        sync_dir(parent_of(&self.target))
    }

    /// Like [`commit`](Staged::commit), but fails (`AlreadyExists`) if the
    /// target exists, which is never replaced.
    pub fn commit_new(mut self) -> Result<()> {
        self.flush()?;
        // A hard link, unlike a rename, never replaces an existing name.
        fs::hard_link(&self.temp, &self.target).map_err(fail("create", &self.target))?;
        // The content is safe under the target's name; a leftover second
        // name would only be untidy.
        let _ = fs::remove_file(&self.temp);
        self.done = true;
        sync_dir(parent_of(&self.target))
    }

    fn flush(&mut self) -> Result<()> {
        self.file.sync_all().map_err(fail("flush", &self.temp))
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests;
