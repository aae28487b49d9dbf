//! One combination's record: how it ended, its phases, connections, TLS session,
//! what the server said and the transcript.

use serde::Serialize;

use super::ChainReport;
use super::session::Session;
use crate::model::{Code, Combination, Endpoint, Phase, Protocol, Security};

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
    /// When this combination ended, in milliseconds from the start of the run
    /// (its phases say how long it took itself).
    pub duration_ms: u64,
}

impl ProbeReport {
    /// How long this combination took itself: the sum of its phases. Unlike
    /// `duration_ms` (its end on the run's time line) this leaves out the run's
    /// time before it started and any wait for a turn under the per-server cap.
    #[must_use]
    pub fn took_ms(&self) -> u64 {
        self.phases.iter().map(|p| p.duration_ms).sum()
    }

    /// Whether the server sent bytes between its STARTTLS go-ahead and the
    /// handshake (a failure or warning said so, or the bytes were discarded).
    #[must_use]
    pub fn starttls_injected(&self) -> bool {
        self.failure
            .iter()
            .chain(&self.warnings)
            .any(|f| f.code == Code::StartTlsInjection)
            || self
                .tls
                .as_ref()
                .is_some_and(|t| t.injected_bytes_discarded > 0)
    }

    /// An empty record for `endpoint`, filled in as the probe goes.
    #[must_use]
    pub fn blank(endpoint: &Endpoint) -> Self {
        ProbeReport {
            protocol: endpoint.protocol(),
            host: endpoint.host.clone(),
            port: endpoint.port(),
            security: endpoint.security(),
            inferred: false,
            status: Status::Cancelled,
            failure: None,
            warnings: Vec::new(),
            phases: Vec::new(),
            addresses: Vec::new(),
            connects: Vec::new(),
            peer: None,
            tls: None,
            session: None,
            transcript: Vec::new(),
            secret_sent: false,
            duration_ms: 0,
        }
    }

    /// Protocol, port and security mode.
    #[must_use]
    pub fn combination(&self) -> Combination {
        Combination::new(self.protocol, self.port, self.security)
    }

    /// The combination on its host.
    #[must_use]
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.host.clone(), self.combination())
    }
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
    /// Start, in milliseconds from the start of the run.
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
    /// Milliseconds from the start of the run.
    pub t_ms: u64,
    /// "server", "client" or "note" (TLS upgrades, timeouts).
    pub from: &'static str,
    /// The line, non-printable bytes escaped.
    pub text: String,
}
