//! # sealwax client
//!
//! The library behind the `sealwax` CLI: publishers make and register
//! Minisign keys and publish signed, logged artifacts; installers verify an
//! artifact's signature, its inclusion in the transparency log, the log's
//! consistency with what they saw before, and the signing key's logged
//! status, trusting new keys on first use or through a logged chain of trust.
//!
//! Every rule about formats and entries lives in `sealwax-proto`; this crate
//! adds the I/O: the home directory and its state files ([`home`],
//! [`trust`], [`keyring`], [`checkpoints`], all written with [`atomic`]),
//! HTTP ([`api`]), streaming hashes ([`digest`]) and the verbs
//! ([`commands`]).
#![warn(missing_docs)]

pub mod api;
pub mod atomic;
pub mod checkpoints;
pub mod cli;
pub mod commands;
pub mod digest;
pub mod error;
pub mod history;
pub mod home;
pub mod keyring;
pub mod keystate;
pub mod password;
pub mod pending;
pub mod progress;
pub mod trust;
pub mod verify;

pub use error::{ClientError, Result};
