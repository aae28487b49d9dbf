//! The shared vocabulary of every layer: protocols, security modes, combinations,
//! endpoints, the phases a probe goes through, failure codes, addresses and
//! host names.
//! Imports nothing else of mailcheck.

pub mod address;
mod code;
pub mod host;

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

pub use address::Address;
pub use code::Code;

/// A mail access or submission protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// POP3, RFC 1939 (with CAPA from RFC 2449 and STLS from RFC 2595).
    Pop3,
    /// IMAP4rev1/rev2, RFC 3501 and RFC 9051.
    Imap,
    /// SMTP submission and relay, RFC 5321 (with STARTTLS from RFC 3207).
    Smtp,
}

impl Protocol {
    /// Every protocol, in report order.
    pub const ALL: [Protocol; 3] = [Protocol::Pop3, Protocol::Imap, Protocol::Smtp];

    /// Lower-case name used in `--only` specs and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Pop3 => "pop3",
            Protocol::Imap => "imap",
            Protocol::Smtp => "smtp",
        }
    }

    /// Whether this protocol reads mail (POP3, IMAP) rather than sends it (SMTP).
    #[must_use]
    pub fn is_incoming(self) -> bool {
        !matches!(self, Protocol::Smtp)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Pop3 => "POP3",
            Protocol::Imap => "IMAP",
            Protocol::Smtp => "SMTP",
        })
    }
}

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// TLS from the first byte (RFC 8314 "implicit TLS"; clients call it "SSL/TLS").
    Tls,
    /// Plaintext greeting, then STARTTLS (IMAP, SMTP) or STLS (POP3).
    StartTls,
    /// No encryption at all (clients call it "None").
    Plain,
}

impl Security {
    /// Lower-case name used in `--only` specs and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Tls => "tls",
            Security::StartTls => "starttls",
            Security::Plain => "plain",
        }
    }

    /// Whether the mode protects the session with TLS.
    #[must_use]
    pub fn is_secure(self) -> bool {
        !matches!(self, Security::Plain)
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Security::Tls => "SSL/TLS",
            Security::StartTls => "STARTTLS",
            Security::Plain => "none",
        })
    }
}

/// One thing a person might type into a client: protocol, port and security mode.
/// Written (and serialised) as its label, `imap:993:tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Combination {
    /// Protocol spoken.
    pub protocol: Protocol,
    /// TCP port.
    pub port: u16,
    /// Security mode.
    pub security: Security,
}

impl Combination {
    /// A combination from its parts.
    #[must_use]
    pub const fn new(protocol: Protocol, port: u16, security: Security) -> Self {
        Combination {
            protocol,
            port,
            security,
        }
    }
}

impl fmt::Display for Combination {
    /// The one formatter of the label: `imap:993:tls`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.protocol.as_str(),
            self.port,
            self.security.as_str()
        )
    }
}

impl Serialize for Combination {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A combination on one host: what one probe connects to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    /// Host name or IP literal.
    pub host: String,
    /// Protocol, port and security mode.
    pub combination: Combination,
}

impl Endpoint {
    /// `combination` on `host`.
    #[must_use]
    pub fn new(host: impl Into<String>, combination: Combination) -> Self {
        Endpoint {
            host: host.into(),
            combination,
        }
    }

    /// The protocol spoken.
    #[must_use]
    pub fn protocol(&self) -> Protocol {
        self.combination.protocol
    }

    /// The TCP port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.combination.port
    }

    /// The security mode.
    #[must_use]
    pub fn security(&self) -> Security {
        self.combination.security
    }
}

impl fmt::Display for Endpoint {
    /// `imap:993:tls@mail.example.com`, the form findings list endpoints in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.combination, self.host)
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The phases of one probe, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Looking up A and AAAA records.
    Resolve,
    /// Opening the TCP connection.
    Connect,
    /// TLS handshake (implicit TLS, or after STARTTLS).
    Tls,
    /// Waiting for the server's greeting.
    Greeting,
    /// Asking for capabilities (CAPA, CAPABILITY, EHLO).
    Capabilities,
    /// Asking to upgrade with STARTTLS or STLS.
    #[serde(rename = "starttls")]
    StartTls,
    /// Asking for capabilities again over TLS.
    CapabilitiesAfterTls,
    /// Logging in (AUTH, AUTHENTICATE, LOGIN, USER/PASS).
    Auth,
    /// SMTP only: MAIL FROM / RCPT TO / RSET (or DATA), after login.
    SendTest,
    /// Saying goodbye (QUIT, LOGOUT).
    Quit,
}

impl Phase {
    /// Snake-case name used in JSON and the transcript.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Resolve => "resolve",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Greeting => "greeting",
            Phase::Capabilities => "capabilities",
            Phase::StartTls => "starttls",
            Phase::CapabilitiesAfterTls => "capabilities_after_tls",
            Phase::Auth => "auth",
            Phase::SendTest => "send_test",
            Phase::Quit => "quit",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
