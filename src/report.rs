//! The report model: everything a run observed, as plain serde data.
//!
//! This is the contract with CI: the JSON renderer serialises it as-is, and
//! `docs/schema/probe-report.schema.json` describes it. Bump [`SCHEMA_VERSION`]
//! whenever a field changes meaning or disappears.

use std::net::SocketAddr;

use serde::Serialize;

use crate::cert::ChainReport;
use crate::discover::run::Discovery;
use crate::login::{Login, RelayTest};
use crate::model::{Phase, Protocol, Security};
use crate::proto::Session;

/// Version of the JSON document; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 2;

/// The output of `mailcheck settings`.
#[derive(Debug, Clone, Serialize)]
pub struct SettingsReport {
    /// See [`SCHEMA_VERSION`].
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
            schema_version: SCHEMA_VERSION,
            mailcheck_version: env!("CARGO_PKG_VERSION").to_owned(),
            discovery,
        }
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
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
    /// `--send-test` without credentials: does each SMTP host refuse to relay?
    pub relay_tests: Vec<RelayTest>,
    /// Set when the run was cut short ("deadline" or "interrupted").
    pub cut_short: Option<String>,
    /// One entry per combination, in plan order.
    pub probes: Vec<ProbeReport>,
    /// What works, in one place.
    pub summary: Summary,
    /// What the run means: stable codes, severities, causes and fixes, most
    /// severe first (docs/findings.md).
    pub findings: Vec<crate::diagnose::Finding>,
    /// The settings to type in, in RFC 8314 order (never plaintext).
    pub recommendation: crate::diagnose::Recommendation,
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

/// How one combination ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Everything worked.
    Ok,
    /// It worked, with something worth a look (slow greeting, …).
    Warning,
    /// It did not work; see `failure`.
    Failed,
    /// The run ended (deadline, Ctrl-C) before this combination finished.
    Cancelled,
}

/// One combination's record.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// Protocol.
    pub protocol: Protocol,
    /// Host name or address as given.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Security mode.
    pub security: Security,
    /// True when the result was inferred from another combination rather than tried
    /// (plain on an implicit-TLS port).
    pub inferred: bool,
    /// The overall result.
    pub status: Status,
    /// Why it failed (absent when it worked).
    pub failure: Option<Failure>,
    /// Non-fatal observations worth flagging.
    pub warnings: Vec<Failure>,
    /// The phases, in order, each timed.
    pub phases: Vec<PhaseRecord>,
    /// Addresses the name resolved to.
    pub addresses: Vec<String>,
    /// One connection attempt per address family tried.
    pub connects: Vec<ConnectAttempt>,
    /// The address the dialogue ran over.
    pub peer: Option<String>,
    /// The TLS session, if one was set up.
    pub tls: Option<TlsReport>,
    /// What the server said.
    pub session: Option<Session>,
    /// The dialogue, line by line (credentials are never in it).
    pub transcript: Vec<TranscriptLine>,
    /// Whether credentials were written on this connection.
    pub secret_sent: bool,
    /// Wall time of this combination.
    pub duration_ms: u64,
}

/// A failure or a warning: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// Stable code, documented in docs/failure-codes.md.
    pub code: Code,
    /// The phase in which it happened.
    pub phase: Phase,
    /// What happened, in plain words, with the server's own reply where there is one.
    pub message: String,
}

/// One timed phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseRecord {
    /// Which phase.
    pub phase: Phase,
    /// Start, in milliseconds from the start of the combination.
    pub start_ms: u64,
    /// How long it took.
    pub duration_ms: u64,
    /// Whether it succeeded.
    pub ok: bool,
    /// Short detail (e.g. the reply, the address, the error).
    pub detail: Option<String>,
}

/// One TCP connection attempt.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectAttempt {
    /// Address tried.
    pub address: String,
    /// "ipv4" or "ipv6".
    pub family: String,
    /// Whether it connected.
    pub ok: bool,
    /// How long it took.
    pub duration_ms: u64,
    /// Failure code when it did not connect.
    pub code: Option<Code>,
    /// The operating system's words when it did not connect.
    pub error: Option<String>,
}

/// A TLS session.
#[derive(Debug, Clone, Serialize)]
pub struct TlsReport {
    /// Implicit TLS or after STARTTLS.
    pub via_starttls: bool,
    /// "TLSv1.3", "TLSv1.2".
    pub version: Option<String>,
    /// IANA-style suite name.
    pub cipher_suite: Option<String>,
    /// Server name sent in SNI (absent for IP literals, which SNI cannot carry).
    pub sni: Option<String>,
    /// The certificate chain, analysed whether or not it verified.
    pub certificate: Option<ChainReport>,
    /// Bytes the server sent after its STARTTLS reply and before the handshake,
    /// discarded unread (CVE-2011-0411 class).
    pub injected_bytes_discarded: usize,
}

/// One line of the dialogue.
#[derive(Debug, Clone, Serialize)]
pub struct TranscriptLine {
    /// Milliseconds from the start of the combination.
    pub t_ms: u64,
    /// "server", "client" or "note" (TLS upgrades, timeouts).
    pub from: &'static str,
    /// The line, non-printable bytes escaped.
    pub text: String,
}

/// What works, per direction.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Secure incoming combinations (POP3/IMAP over TLS or STARTTLS) that worked.
    pub secure_incoming: Vec<String>,
    /// Secure outgoing combinations (SMTP over TLS or STARTTLS) that worked.
    pub secure_outgoing: Vec<String>,
    /// With credentials: whether every login test succeeded.
    pub logins_ok: Option<bool>,
    /// `--require` items that did not hold.
    pub unmet_requirements: Vec<String>,
    /// Whether the run meets the exit-code contract (see docs/usage.md).
    pub ok: bool,
    /// The process exit code.
    pub exit_code: i32,
}

/// Stable failure and warning codes. Each is documented in docs/failure-codes.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// The name does not exist (NXDOMAIN).
    DnsNameNotFound,
    /// The name exists but has no A/AAAA record.
    DnsNoAddress,
    /// The DNS server did not answer in time.
    DnsTimeout,
    /// The DNS server answered with an error (SERVFAIL, REFUSED, …).
    DnsServerFailure,
    /// Nothing listens on the port (RST to our SYN).
    ConnectRefused,
    /// No answer to the connection attempt: the port is filtered or the host is down.
    ConnectTimeout,
    /// No route to the address (network or host unreachable).
    NetworkUnreachable,
    /// The connection was reset mid-dialogue.
    ConnectionReset,
    /// The server closed the connection before the dialogue finished.
    ConnectionClosed,
    /// Implicit TLS was tried but the server spoke plaintext first.
    TlsGotPlaintext,
    /// The server sent a TLS alert during the handshake.
    TlsAlert,
    /// The TLS handshake failed for another reason.
    TlsHandshakeFailed,
    /// The server did not answer the TLS handshake in time.
    TlsTimeout,
    /// The server only offers TLS older than 1.2.
    TlsVersionTooOld,
    /// The certificate has expired.
    CertExpired,
    /// The certificate is not valid yet.
    CertNotYetValid,
    /// The certificate does not name the host.
    CertNameMismatch,
    /// The certificate is self-signed.
    CertSelfSigned,
    /// The chain ends in an untrusted root.
    CertUntrusted,
    /// The chain is missing an intermediate (or comes from an unknown CA).
    CertIncompleteChain,
    /// Certificate rejected for another reason.
    CertInvalid,
    /// No greeting within the timeout (on a plaintext try: the port likely wants implicit TLS).
    NoGreeting,
    /// The greeting arrived, but very late (a tarpit or an overloaded server).
    SlowGreeting,
    /// The greeting is that of another protocol.
    WrongProtocol,
    /// The greeting refuses service (554, 421, -ERR, * BYE).
    GreetingRejected,
    /// STARTTLS/STLS is not advertised.
    #[serde(rename = "starttls_not_advertised")]
    StartTlsNotAdvertised,
    /// STARTTLS/STLS was refused.
    #[serde(rename = "starttls_refused")]
    StartTlsRefused,
    /// Bytes arrived after the STARTTLS reply and before the handshake.
    #[serde(rename = "starttls_injection")]
    StartTlsInjection,
    /// A line longer than the line bound.
    LineTooLong,
    /// A reply longer than the reply bound.
    ReplyTooLong,
    /// A dialogue larger than the probe bound.
    ProbeTooLarge,
    /// Bytes that are not text (NUL, invalid UTF-8).
    InvalidBytes,
    /// A reply that breaks the protocol.
    ProtocolViolation,
    /// The server stopped answering mid-dialogue.
    ReplyTimeout,
    /// Plain on an implicit-TLS port: inferred from the TLS result, not tried.
    ExpectsImplicitTls,
    /// The run ended before this combination finished.
    Cancelled,
}

impl Code {
    /// Whether the code is about the certificate (the TLS session itself worked).
    #[must_use]
    pub fn is_certificate(self) -> bool {
        matches!(
            self,
            Code::CertExpired
                | Code::CertNotYetValid
                | Code::CertNameMismatch
                | Code::CertSelfSigned
                | Code::CertUntrusted
                | Code::CertIncompleteChain
                | Code::CertInvalid
        )
    }

    /// The stable snake-case form.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Code::DnsNameNotFound => "dns_name_not_found",
            Code::DnsNoAddress => "dns_no_address",
            Code::DnsTimeout => "dns_timeout",
            Code::DnsServerFailure => "dns_server_failure",
            Code::ConnectRefused => "connect_refused",
            Code::ConnectTimeout => "connect_timeout",
            Code::NetworkUnreachable => "network_unreachable",
            Code::ConnectionReset => "connection_reset",
            Code::ConnectionClosed => "connection_closed",
            Code::TlsGotPlaintext => "tls_got_plaintext",
            Code::TlsAlert => "tls_alert",
            Code::TlsHandshakeFailed => "tls_handshake_failed",
            Code::TlsTimeout => "tls_timeout",
            Code::TlsVersionTooOld => "tls_version_too_old",
            Code::CertExpired => "cert_expired",
            Code::CertNotYetValid => "cert_not_yet_valid",
            Code::CertNameMismatch => "cert_name_mismatch",
            Code::CertSelfSigned => "cert_self_signed",
            Code::CertUntrusted => "cert_untrusted",
            Code::CertIncompleteChain => "cert_incomplete_chain",
            Code::CertInvalid => "cert_invalid",
            Code::NoGreeting => "no_greeting",
            Code::SlowGreeting => "slow_greeting",
            Code::WrongProtocol => "wrong_protocol",
            Code::GreetingRejected => "greeting_rejected",
            Code::StartTlsNotAdvertised => "starttls_not_advertised",
            Code::StartTlsRefused => "starttls_refused",
            Code::StartTlsInjection => "starttls_injection",
            Code::LineTooLong => "line_too_long",
            Code::ReplyTooLong => "reply_too_long",
            Code::ProbeTooLarge => "probe_too_large",
            Code::InvalidBytes => "invalid_bytes",
            Code::ProtocolViolation => "protocol_violation",
            Code::ReplyTimeout => "reply_timeout",
            Code::ExpectsImplicitTls => "expects_implicit_tls",
            Code::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    /// Regression: serde's snake_case made `start_tls_*` of the STARTTLS codes,
    /// while the docs, the schema and `as_str` say `starttls_*`.
    #[test]
    fn every_code_serialises_as_its_stable_name() {
        let all = [
            Code::DnsNameNotFound,
            Code::DnsNoAddress,
            Code::DnsTimeout,
            Code::DnsServerFailure,
            Code::ConnectRefused,
            Code::ConnectTimeout,
            Code::NetworkUnreachable,
            Code::ConnectionReset,
            Code::ConnectionClosed,
            Code::TlsGotPlaintext,
            Code::TlsAlert,
            Code::TlsHandshakeFailed,
            Code::TlsTimeout,
            Code::TlsVersionTooOld,
            Code::CertExpired,
            Code::CertNotYetValid,
            Code::CertNameMismatch,
            Code::CertSelfSigned,
            Code::CertUntrusted,
            Code::CertIncompleteChain,
            Code::CertInvalid,
            Code::NoGreeting,
            Code::SlowGreeting,
            Code::WrongProtocol,
            Code::GreetingRejected,
            Code::StartTlsNotAdvertised,
            Code::StartTlsRefused,
            Code::StartTlsInjection,
            Code::LineTooLong,
            Code::ReplyTooLong,
            Code::ProbeTooLarge,
            Code::InvalidBytes,
            Code::ProtocolViolation,
            Code::ReplyTimeout,
            Code::ExpectsImplicitTls,
            Code::Cancelled,
        ];
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../docs/schema/probe-report.schema.json")).unwrap();
        let listed = schema["$defs"]["code"]["enum"].as_array().unwrap();
        assert_eq!(listed.len(), all.len(), "the schema lists every code");
        for code in all {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                code.as_str(),
                "{code:?}"
            );
            assert!(
                listed.iter().any(|v| v == code.as_str()),
                "{code:?} missing from the schema"
            );
        }
    }
}
