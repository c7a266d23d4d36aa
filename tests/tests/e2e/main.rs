//! End-to-end tests: one binary, a module per area. They drive the real
//! binaries over real HTTP on loopback.

mod client;
mod monitor;
mod server;
