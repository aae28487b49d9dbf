//! Stable failure and warning codes: what went wrong with one combination, in a
//! word CI can match on. Each is documented in docs/failure-codes.md; the JSON
//! name and [`Code::as_str`] come from the one table below, so they cannot drift.

use std::fmt;

use serde::{Serialize, Serializer};

/// Declares [`Code`] with its stable names, [`Code::as_str`] and [`Code::ALL`].
macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident => $name:literal,)*) => {
        /// Stable failure and warning codes. Each is documented in docs/failure-codes.md.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &[Code] = &[$(Code::$variant,)*];

            /// The stable snake-case form, as in JSON.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }
        }
    };
}

codes! {
    /// The name does not exist (NXDOMAIN).
    DnsNameNotFound => "dns_name_not_found",
    /// The name exists but has no A/AAAA record.
    DnsNoAddress => "dns_no_address",
    /// The DNS server did not answer in time.
    DnsTimeout => "dns_timeout",
    /// The DNS server answered with an error (SERVFAIL, REFUSED, …).
    DnsServerFailure => "dns_server_failure",
    /// Nothing listens on the port (RST to our SYN).
    ConnectRefused => "connect_refused",
    /// No answer to the connection attempt: the port is filtered or the host is down.
    ConnectTimeout => "connect_timeout",
    /// No route to the address (network or host unreachable).
    NetworkUnreachable => "network_unreachable",
    /// The connection was reset mid-dialogue.
    ConnectionReset => "connection_reset",
    /// The server closed the connection before the dialogue finished.
    ConnectionClosed => "connection_closed",
    /// Implicit TLS was tried but the server spoke plaintext first.
    TlsGotPlaintext => "tls_got_plaintext",
    /// The server sent a TLS alert during the handshake.
    TlsAlert => "tls_alert",
    /// The TLS handshake failed for another reason.
    TlsHandshakeFailed => "tls_handshake_failed",
    /// The server did not answer the TLS handshake in time.
    TlsTimeout => "tls_timeout",
    /// The server only offers TLS older than 1.2.
    TlsVersionTooOld => "tls_version_too_old",
    /// The certificate has expired.
    CertExpired => "cert_expired",
    /// The certificate is not valid yet.
    CertNotYetValid => "cert_not_yet_valid",
    /// The certificate does not name the host.
    CertNameMismatch => "cert_name_mismatch",
    /// The certificate is self-signed.
    CertSelfSigned => "cert_self_signed",
    /// The chain ends in an untrusted root.
    CertUntrusted => "cert_untrusted",
    /// The chain is missing an intermediate (or comes from an unknown CA).
    CertIncompleteChain => "cert_incomplete_chain",
    /// Certificate rejected for another reason.
    CertInvalid => "cert_invalid",
    /// No greeting within the timeout (on a plaintext try: the port likely wants implicit TLS).
    NoGreeting => "no_greeting",
    /// The greeting arrived, but very late (a tarpit or an overloaded server).
    SlowGreeting => "slow_greeting",
    /// The greeting is that of another protocol.
    WrongProtocol => "wrong_protocol",
    /// The greeting refuses service (554, 421, -ERR, * BYE).
    GreetingRejected => "greeting_rejected",
    /// STARTTLS/STLS is not advertised.
    StartTlsNotAdvertised => "starttls_not_advertised",
    /// STARTTLS/STLS was refused.
    StartTlsRefused => "starttls_refused",
    /// Bytes arrived after the STARTTLS reply and before the handshake.
    StartTlsInjection => "starttls_injection",
    /// A line longer than the line bound.
    LineTooLong => "line_too_long",
    /// A reply longer than the reply bound.
    ReplyTooLong => "reply_too_long",
    /// A dialogue larger than the probe bound.
    ProbeTooLarge => "probe_too_large",
    /// Bytes that are not text (NUL, invalid UTF-8).
    InvalidBytes => "invalid_bytes",
    /// A reply that breaks the protocol.
    ProtocolViolation => "protocol_violation",
    /// The server stopped answering mid-dialogue.
    ReplyTimeout => "reply_timeout",
    /// Plain on an implicit-TLS port: inferred from the TLS result, not tried.
    ExpectsImplicitTls => "expects_implicit_tls",
    /// The run ended before this combination finished.
    Cancelled => "cancelled",
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
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn every_code_serialises_as_its_stable_name_and_is_in_the_schema() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/schema/probe-report.schema.json"))
                .unwrap();
        let listed = schema["$defs"]["code"]["enum"].as_array().unwrap();
        assert_eq!(listed.len(), Code::ALL.len(), "the schema lists every code");
        for code in Code::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert!(
                listed.iter().any(|v| v == code.as_str()),
                "{code:?} missing from the schema"
            );
        }
    }
}
