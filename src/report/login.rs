//! The login tests and the unauthenticated relay tests: which combination carried
//! each, what came of it, and what a refusal means.

use serde::Serialize;

use super::probe::ProbeReport;
use super::session::SendOutcome;
use crate::model::{Combination, Protocol};

/// One login test: which combination carried it, and what came of it.
#[derive(Debug, Clone, Serialize)]
pub struct Login {
    /// Protocol.
    pub protocol: Protocol,
    /// Host.
    pub host: String,
    /// The combination used, e.g. "imap:993:tls" (absent when none could be used).
    pub combination: Option<Combination>,
    /// "ok", "failed", "connection_failed" or "not_attempted".
    pub result: LoginResult,
    /// Why no login was attempted, in words.
    pub reason: Option<String>,
    /// True when the secret went over plaintext or unverified TLS (`--allow-insecure-auth`).
    pub secret_exposed: bool,
    /// Usernames tried, in order (at most two: the other form is tried once).
    pub usernames: Vec<String>,
    /// What the refusal means and what to do, when the login failed.
    pub explanation: Option<Explanation>,
    /// The SMTP send test, when asked for.
    pub send: Option<SendOutcome>,
    /// The login connection's full record (its transcript has credentials redacted).
    pub probe: Option<ProbeReport>,
    /// What differed between the login connection and the first connection of
    /// the same combination (certificate, STARTTLS, data injected after
    /// STARTTLS): a sign that something on the path intercepts.
    pub changed: Vec<String>,
}

impl Login {
    /// The secret it carried, in words: "OAuth2 token" when its attempts used
    /// a token mechanism (XOAUTH2, OAUTHBEARER), else "password".
    #[must_use]
    pub fn secret_word(&self) -> &'static str {
        let token = self
            .probe
            .as_ref()
            .and_then(|p| p.session.as_ref())
            .and_then(|s| s.auth.as_ref())
            .is_some_and(|a| {
                a.attempts
                    .iter()
                    .any(|t| matches!(t.mechanism.as_str(), "XOAUTH2" | "OAUTHBEARER"))
            });
        if token { "OAuth2 token" } else { "password" }
    }
}

/// How a login test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginResult {
    /// The server accepted the credentials.
    Ok,
    /// The server refused them.
    Failed,
    /// The credentials were sent, but the connection broke before the server
    /// answered (reset, closed, no answer, a reply over the limits): nothing was
    /// refused.
    ConnectionFailed,
    /// Nothing was sent (no safe combination, no usable mechanism, …).
    NotAttempted,
    /// The run ended (`--deadline`, Ctrl-C) during the login test: the
    /// credentials may have been sent, but no answer was seen.
    Cancelled,
}

/// An unauthenticated relay test on one SMTP host.
#[derive(Debug, Clone, Serialize)]
pub struct RelayTest {
    /// Host.
    pub host: String,
    /// The combination used, e.g. "smtp:25:starttls".
    pub combination: Option<Combination>,
    /// The outside recipient tried.
    pub recipient: String,
    /// What came of it.
    pub result: RelayResult,
    /// Reply to MAIL FROM.
    pub mail_from: Option<String>,
    /// Reply to RCPT TO.
    pub rcpt_to: Option<String>,
    /// Why it was not tested, in words.
    pub reason: Option<String>,
    /// The connection's full record.
    pub probe: Option<ProbeReport>,
}

/// How a relay test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayResult {
    /// The server refused to relay without a login, as it should.
    Refused,
    /// The server accepted an outside recipient without a login: an open relay.
    OpenRelay,
    /// No SMTP combination worked, or the envelope never got to RCPT TO.
    NotTested,
}

/// What a refused login means, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// Stable identifier of the rule that matched (`microsoft_basic_auth_disabled`),
    /// or [`crate::diagnose::refusals::FALLBACK_CODE`].
    pub code: String,
    /// One plain sentence: why the login failed.
    pub cause: String,
    /// What to do.
    pub fix: String,
    /// Whether the explanation comes from a provider's own rule.
    pub provider_specific: bool,
    /// The text of an IMAP `[ALERT]`, which RFC 9051 §7.1 says the client must
    /// show the user (control characters removed, length capped).
    pub alert: Option<String>,
}
