//! # sealwax-log: the sealwax transparency log server
//!
//! Accepts key registrations, key revocations and release signatures over
//! HTTP, checks them with `sealwax-proto`, sequences them in batches into an
//! RFC 9162 Merkle tree stored in RocksDB, and serves signed checkpoints
//! (C2SP `tlog-checkpoint`), tiles (C2SP `tlog-tiles`) and proofs.
#![warn(missing_docs)]

pub mod api;
pub mod artifacts;
pub mod config;
pub mod cosign;
pub mod datadir;
pub mod directory_store;
pub mod error;
pub mod explorer;
pub mod log;
pub mod log_error;
pub mod metrics;
pub mod mirror;
pub mod openapi;
pub mod ratelimit;
pub mod sequencer;
pub mod server;
pub mod storage;
mod verifier;

pub use api::{app, AppOptions, AppState};
pub use error::AppError;
