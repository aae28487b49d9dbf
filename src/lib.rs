//! mailcheck: which mail settings work for an address, from this network, and if
//! something fails, exactly why.
//!
//! Layers, each calling only the one below: `cli` → `config` → `check` → `probe` →
//! {`net`, `proto`, `cert`}; `report` is the serde model, `output` renders it.

pub mod cert;
pub mod check;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod diagnose;
pub mod discover;
pub mod explain;
pub mod login;
pub mod model;
pub mod net;
pub mod output;
pub mod probe;
pub mod progress;
pub mod proto;
pub mod report;
