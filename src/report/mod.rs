//! The report model: everything a run observed and what it means, as plain serde
//! data. It imports nothing of mailcheck but [`crate::model`]; the layers above
//! fill it in and the renderers read it.
//!
//! This is the contract with CI: the JSON renderer serialises it as-is, and
//! `docs/schema/probe-report.schema.json` describes it. Bump [`SCHEMA_VERSION`]
//! whenever a field changes meaning or disappears.

mod batch;
mod cert;
mod diagnosis;
mod discovery;
mod login;
mod oauth2;
mod probe;
mod session;

use std::net::SocketAddr;

use serde::Serialize;

use crate::model::{Code, Combination};

pub use batch::{BatchRecord, BatchTotals};
pub use cert::{CertificateInfo, ChainReport, Verdict};
pub use diagnosis::{
    Affects, Category, Direction, Finding, Recommendation, Recommended, RunVerdict, Severity,
};
pub use discovery::{
    AuthMethod, Candidate, Discovery, NotOffered, Note, ProviderMatch, Setting, SourceKind,
    SourceReport, UsernameForm,
};
pub use login::{Explanation, Login, LoginResult, RelayResult, RelayTest};
pub use oauth2::{
    LOOPBACK_REDIRECT_HOST, NON_MAIL_SCOPES, OAuth2Flow, OAuth2Settings, TokenUse, mail_scopes,
};
pub use probe::{
    ConnectAttempt, Failure, PhaseRecord, ProbeReport, Status, TlsReport, TranscriptLine,
};
pub use session::{AuthAttempt, AuthOutcome, OAuthError, SendOutcome, Session, StartTlsState};

/// Version of the JSON document; bumped on any incompatible change.
///
/// 3: findings are causes with a `category` and what they `affect`, a top-level
/// `verdict`, `dns_check`, `login.changed`, `recommended.login_verified`; the
/// discovery sources `ispdb_snapshot`, `ispdb`, `autodiscover_json` and
/// `autodiscover_pox`, and `provider` now means mailcheck's overrides on the
/// ISPDB snapshot (a provider may be recognised `via` the snapshot or
/// Autodiscover); a login the run ended during is `cancelled`.
pub const SCHEMA_VERSION: u32 = 3;

/// Version of the `mailcheck settings` JSON document
/// (`docs/schema/settings.schema.json`); 3 for the discovery changes above.
pub const SETTINGS_SCHEMA_VERSION: u32 = 3;

/// The output of `mailcheck settings`.
#[derive(Debug, Clone, Serialize)]
pub struct SettingsReport {
    /// See [`SETTINGS_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// mailcheck's own version.
    pub mailcheck_version: String,
    /// What discovery found.
    #[serde(flatten)]
    pub discovery: Discovery,
}

impl SettingsReport {
    /// Wraps a discovery with the version fields.
    #[must_use]
    pub fn new(discovery: Discovery) -> Self {
        SettingsReport {
            schema_version: SETTINGS_SCHEMA_VERSION,
            mailcheck_version: env!("CARGO_PKG_VERSION").to_owned(),
            discovery,
        }
    }
}

/// The whole report: what the run observed, what it means, and how it ends.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What the run observed (its fields sit at the top level of the JSON).
    #[serde(flatten)]
    pub run: Run,
    /// How it came out, in one line and per direction.
    pub verdict: RunVerdict,
    /// What works, in one place, and the exit code.
    pub summary: Summary,
    /// What the run means: stable codes, severities, causes and fixes, most
    /// severe first (docs/findings.md).
    pub findings: Vec<Finding>,
    /// The settings to type in, in RFC 8314 order (never plaintext).
    pub recommendation: Recommendation,
}

/// What one run observed, before any judgement: the input of diagnosis.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// See [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// mailcheck's own version.
    pub mailcheck_version: String,
    /// When the run started, RFC 3339 UTC.
    pub started_at: String,
    /// Wall time of the whole run.
    pub duration_ms: u64,
    /// What was asked for.
    pub inputs: Inputs,
    /// Run-level notes in words (e.g. a retired host name in use).
    pub notes: Vec<String>,
    /// Where the servers came from, when they were discovered from the address.
    pub discovery: Option<Discovery>,
    /// The login tests, when credentials were given: at most one per protocol and host.
    pub logins: Vec<Login>,
    /// The stored OAuth2 token the logins used (`mailcheck login`), if any.
    pub oauth2_token: Option<TokenUse>,
    /// `--send-test` without credentials: does each SMTP host refuse to relay?
    pub relay_tests: Vec<RelayTest>,
    /// Set when the run was cut short ("deadline" or "interrupted").
    pub cut_short: Option<String>,
    /// One entry per combination, in plan order.
    pub probes: Vec<ProbeReport>,
    /// When no name of the run could be looked up: a lookup of a well-known
    /// name, to tell "this computer's DNS fails" from "that domain fails".
    pub dns_check: Option<DnsCheck>,
}

/// A control lookup of a well-known name through the run's DNS server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsCheck {
    /// The name looked up (a large provider's server).
    pub name: String,
    /// Whether it resolved.
    pub ok: bool,
    /// The failure class when it did not.
    pub code: Option<Code>,
    /// What happened, in words.
    pub message: String,
}

/// The inputs of the run, as validated.
#[derive(Debug, Clone, Serialize)]
pub struct Inputs {
    /// The address given, if any.
    pub address: Option<String>,
    /// Host per protocol (absent when that protocol is not probed).
    pub pop3_host: Option<String>,
    /// Host for IMAP.
    pub imap_host: Option<String>,
    /// Host for SMTP.
    pub smtp_host: Option<String>,
    /// `--only` specs, as given.
    pub only: Vec<String>,
    /// DNS server used instead of the system's.
    pub dns_server: Option<SocketAddr>,
    /// Extra trust anchors file.
    pub ca_file: Option<String>,
    /// Where the trusted roots came from, e.g. "system (146 roots) + 1 from ca.pem".
    pub trust_anchors: String,
    /// Per-phase timeout in milliseconds.
    pub timeout_ms: u64,
    /// Whole-run deadline in milliseconds.
    pub deadline_ms: Option<u64>,
    /// "any", "ipv4" or "ipv6".
    pub address_family: String,
}

/// What works, per direction.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Secure incoming combinations (POP3/IMAP over TLS or STARTTLS) that worked.
    pub secure_incoming: Vec<Combination>,
    /// Secure outgoing combinations (SMTP over TLS or STARTTLS) that worked.
    pub secure_outgoing: Vec<Combination>,
    /// With credentials: whether every login test succeeded.
    pub logins_ok: Option<bool>,
    /// `--require` items that did not hold.
    pub unmet_requirements: Vec<String>,
    /// Whether the run meets the exit-code contract (see docs/usage.md).
    pub ok: bool,
    /// The process exit code.
    pub exit_code: i32,
}
