//! Passwords for encrypted secret keys: typed on the terminal (never echoed),
//! or read from the file `--password-file` / `SEALWAX_PASSWORD_FILE` names
//! (its first line, without the line break) when there is no terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::error::{ClientError, Result};

/// Where passwords come from.
#[derive(Debug, Clone, Default)]
pub struct PasswordSource {
    /// A file holding the password, if one was given.
    pub file: Option<PathBuf>,
}

impl PasswordSource {
    /// Passwords from `file` if given, else from the terminal.
    pub fn new(file: Option<PathBuf>) -> PasswordSource {
        PasswordSource { file }
    }

    /// Whether a password can be typed (standard input is a terminal).
    pub fn interactive(&self) -> bool {
        self.file.is_none() && std::io::stdin().is_terminal()
    }

    fn read_file(&self, file: &Path) -> Result<Zeroizing<String>> {
        let text = Zeroizing::new(
            std::fs::read_to_string(file).map_err(|e| ClientError::io("read", file, e))?,
        );
        let line = text.split('\n').next().unwrap_or("");
        Ok(Zeroizing::new(
            line.strip_suffix('\r').unwrap_or(line).to_string(),
        ))
    }

    /// The password of the existing key at `key_path`.
    pub fn existing(&self, key_path: &Path) -> Result<Zeroizing<String>> {
        if let Some(f) = &self.file {
            return self.read_file(f);
        }
        if !self.interactive() {
            return Err(ClientError::PasswordUnavailable(key_path.to_path_buf()));
        }
        rpassword::prompt_password(format!("Password for {}: ", key_path.display()))
            .map(Zeroizing::new)
            .map_err(ClientError::Terminal)
    }

    /// A password for a new key: from the file, or typed twice.
    pub fn new_password(&self, what: &Path) -> Result<Zeroizing<String>> {
        let pw = if let Some(f) = &self.file {
            self.read_file(f)?
        } else {
            if !self.interactive() {
                return Err(ClientError::PasswordUnavailable(what.to_path_buf()));
            }
            let a = rpassword::prompt_password(format!(
                "Password for the new secret key {}: ",
                what.display()
            ))
            .map(Zeroizing::new)
            .map_err(ClientError::Terminal)?;
            let b = rpassword::prompt_password("Password (again): ")
                .map(Zeroizing::new)
                .map_err(ClientError::Terminal)?;
            if a != b {
                return Err(ClientError::PasswordMismatch);
            }
            a
        };
        if pw.is_empty() {
            return Err(ClientError::EmptyPassword);
        }
        Ok(pw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_first_line_without_newline() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret\r\nignored\n").unwrap();
        let src = PasswordSource::new(Some(f.clone()));
        assert_eq!(src.existing(Path::new("k")).unwrap().as_str(), "s3cret");
        assert_eq!(src.new_password(Path::new("k")).unwrap().as_str(), "s3cret");
        std::fs::write(&f, "\n").unwrap();
        assert!(matches!(
            src.new_password(Path::new("k")),
            Err(ClientError::EmptyPassword)
        ));
    }
}
