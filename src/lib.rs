//! mailcheck: which mail settings work for an address, from this network, and if
//! something fails, exactly why.
//!
//! The modules, from the bottom up; each imports only modules listed before it
//! (`tests/layout.rs` checks this):
//!
//! - [`model`]: the shared vocabulary: protocols, security modes, combinations,
//!   endpoints, phases, failure codes, addresses.
//! - [`report`]: everything a run observed and concluded, as plain serde data.
//! - [`cert`]: pure certificate analysis.
//! - [`proto`]: pure POP3, IMAP, SMTP and SASL dialogues: lines in, next step out.
//! - [`net`]: resolving, connecting, TLS, and the one bounded I/O driver that runs
//!   any dialogue (and owns the STARTTLS hand-over and the transcript).
//! - [`discover`]: from an address to candidate servers, each with its provenance.
//! - [`oauth`]: OAuth2 sign-in (device flow, PKCE with a loopback redirect),
//!   refresh and revocation against the provider's endpoints, and the token store.
//! - [`diagnose`]: pure functions from observations to findings, the recommended
//!   settings, refusal explanations and exports.
//! - [`cli`]: the command-line arguments as clap types, nothing else.
//! - [`config`]: validated configuration and secrets, built from [`cli`]'s types.
//! - [`engine`]: one run, from [`config::Config`] to a finished [`report::Report`].
//! - [`output`]: human, JSON, Nagios and Prometheus renderers, the batch table
//!   and JSON Lines, and the progress line.
//! - [`batch`]: many targets from a list, a few at a time, streamed as each ends.
//! - [`serve`]: the Prometheus exporter: one probe per scrape, and a status page.

pub mod model;

pub mod report;

pub mod cert;
pub mod proto;

pub mod net;

pub mod discover;

pub mod oauth;

pub mod diagnose;

pub mod cli;

pub mod config;

pub mod engine;

pub mod output;

pub mod batch;
pub mod serve;
