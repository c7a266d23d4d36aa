//! The body of `POST /add-checkpoint`: the format lives in
//! [`sealwax_proto::witness_request`], shared with the log that sends it.

pub use sealwax_proto::witness_request::{AddCheckpoint, MAX_PROOF_LINES};

use crate::error::WitnessError;

/// A malformed request body is a 400 (the only proto error a request parse gives).
impl From<sealwax_proto::Error> for WitnessError {
    fn from(e: sealwax_proto::Error) -> Self {
        match e {
            sealwax_proto::Error::MalformedAddCheckpoint(m) => WitnessError::Malformed(m),
            other => WitnessError::Malformed(other.to_string()),
        }
    }
}
