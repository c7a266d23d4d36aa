//! The body of `POST /add-checkpoint` (C2SP tlog-witness), which the log
//! sends and the witness parses:
//!
//! ```text
//! old <size the client thinks the witness has, decimal>\n
//! <base64 consistency proof hash>\n      (0 to 63 lines)
//! \n
//! <the signed checkpoint note>
//! ```

use crate::Hash;
use crate::{Error, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

/// The most consistency proof lines a request may carry.
pub const MAX_PROOF_LINES: usize = 63;

/// A parsed add-checkpoint request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the proof starts from.
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, as sent.
    pub checkpoint: String,
}

/// A decimal without sign or leading zeros ("0" alone is allowed).
fn parse_size(s: &str) -> Option<u64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

/// Splits off the first line of `s` (without its newline).
fn line(s: &str) -> Result<(&str, &str)> {
    s.split_once('\n')
        .ok_or_else(|| Error::MalformedAddCheckpoint("a line does not end with a newline".into()))
}

impl AddCheckpoint {
    /// Parses a request body strictly.
    pub fn parse(body: &str) -> Result<AddCheckpoint> {
        let bad = |m: &str| Error::MalformedAddCheckpoint(m.to_owned());
        let (first, mut rest) = line(body)?;
        let old_size = first
            .strip_prefix("old ")
            .and_then(parse_size)
            .ok_or_else(|| {
                bad("the first line is not `old <decimal size without leading zeros>`")
            })?;
        let mut proof = Vec::new();
        loop {
            let (l, after) = line(rest)?;
            rest = after;
            if l.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 consistency proof lines"));
            }
            let hash = BASE64
                .decode(l)
                .ok()
                .and_then(|h| Hash::try_from(h).ok())
                .ok_or_else(|| bad("a consistency proof line is not the base64 of 32 bytes"))?;
            proof.push(hash);
        }
        Ok(AddCheckpoint {
            old_size,
            proof,
            checkpoint: rest.to_owned(),
        })
    }

    /// The request body.
    pub fn to_body(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for h in &self.proof {
            body.push_str(&BASE64.encode(h));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.checkpoint);
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(old: u64, n: usize) -> AddCheckpoint {
        AddCheckpoint {
            old_size: old,
            proof: (0..n).map(|i| [i as u8; 32]).collect(),
            checkpoint: "o\n1\nAAAA\n\n\u{2014} o AAAA\n".into(),
        }
    }

    #[test]
    fn bodies_round_trip_up_to_63_proof_lines() {
        for (old, n) in [(0, 0), (7, 1), (u64::MAX, MAX_PROOF_LINES)] {
            let r = req(old, n);
            assert_eq!(AddCheckpoint::parse(&r.to_body()).unwrap(), r);
        }
    }

    #[test]
    fn malformed_bodies_are_refused() {
        let good = req(5, 2).to_body();
        let cases = [
            ("no newline at all", "old 5".to_string()),
            ("leading zero", good.replacen("old 5", "old 05", 1)),
            ("sign", good.replacen("old 5", "old +5", 1)),
            ("two spaces", good.replacen("old 5", "old  5", 1)),
            ("not old", good.replacen("old 5", "new 5", 1)),
            (
                "too large",
                good.replacen("old 5", "old 18446744073709551616", 1),
            ),
            ("short hash", good.replacen("AAAAAAAA", "AAAA", 1)),
            ("no blank line", "old 5\n".to_string()),
            ("64 proof lines", req(5, MAX_PROOF_LINES + 1).to_body()),
        ];
        for (what, body) in cases {
            let err = AddCheckpoint::parse(&body).unwrap_err();
            assert!(
                matches!(err, Error::MalformedAddCheckpoint(_)),
                "{what}: {err:?}"
            );
        }
    }
}
