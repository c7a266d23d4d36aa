//! # sealwax-witness: a C2SP tlog-witness
//!
//! It cosigns (C2SP `tlog-cosignature`, `cosignature/v1`) the checkpoints of
//! the logs it trusts, over `POST /add-checkpoint` (C2SP `tlog-witness`),
//! and only ever a checkpoint consistent with the last one it cosigned for
//! that log, which it keeps on disk before it answers. Its only I/O is its
//! own data directory and its listener.
//!
//! | module | what |
//! |---|---|
//! | [`request`] | the add-checkpoint request body |
//! | [`witness`] | the check against the stored state, the cosignature, the durable update |
//! | [`datadir`] | the key file and the per-log state files |
//! | [`api`] | the HTTP router |
//! | [`server`] | the listener |
//! | [`metrics`] | Prometheus metrics |
//! | [`error`] | the one error type, with each refusal's HTTP status |
#![warn(missing_docs)]

pub mod api;
pub mod datadir;
pub mod error;
pub mod metrics;
pub mod request;
pub mod server;
pub mod witness;

pub use error::WitnessError;
