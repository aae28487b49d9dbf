//! What a server said in one session: greeting, capabilities, STARTTLS, the login
//! and the send test, as the protocol dialogues learned it.

use serde::Serialize;

/// Everything a dialogue learned from the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Session {
    /// The greeting, all lines joined with "\n" (SMTP greetings may be multi-line).
    pub greeting: Option<String>,
    /// Set when the greeting refuses service (SMTP 554/421, POP3 -ERR, IMAP * BYE):
    /// the refusing text.
    pub greeting_rejected: Option<String>,
    /// Capabilities learned before TLS (empty when there was no STARTTLS upgrade).
    pub capabilities_before_tls: Vec<String>,
    /// The capabilities in force now (after TLS when upgraded), as the server wrote
    /// them, one entry per capability (SMTP: one per EHLO line after the first).
    pub capabilities: Vec<String>,
    /// Whether the server answered the capability request at all (POP3 CAPA is
    /// optional, RFC 2449; SMTP may only know HELO).
    pub capabilities_supported: bool,
    /// SMTP only: EHLO was rejected and HELO worked instead.
    pub helo_fallback: bool,
    /// IMAP only: the greeting carried the capability list.
    pub capabilities_in_greeting: bool,
    /// What happened when STARTTLS/STLS was asked for.
    pub starttls: StartTlsState,
    /// The server's reply to QUIT/LOGOUT, if it sent one.
    pub quit_reply: Option<String>,
    /// The login, when an [`crate::proto::AuthPlan`] was given.
    pub auth: Option<AuthOutcome>,
    /// The SMTP send test, when one was asked for.
    pub send: Option<SendOutcome>,
}

/// Outcome of asking for STARTTLS/STLS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reply", rename_all = "snake_case")]
pub enum StartTlsState {
    /// The combination does not use STARTTLS.
    #[default]
    NotAttempted,
    /// The server did not list STARTTLS/STLS among its capabilities; it was not tried.
    NotAdvertised,
    /// The server answered the request with a refusal (e.g. SMTP 454); the reply text.
    Refused(String),
    /// The server agreed; the TLS handshake follows.
    Accepted,
}

/// What happened to the login.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuthOutcome {
    /// Attempts made, in order (at most two: the retry uses the other username form).
    pub attempts: Vec<AuthAttempt>,
    /// Whether one of them succeeded.
    pub ok: bool,
    /// When no attempt was made, why (e.g. "LOGINDISABLED", "no mechanism fits
    /// the credentials: server offers …").
    pub not_attempted: Option<String>,
    /// What the server offered, as it named it.
    pub offered: Vec<String>,
}

/// One login attempt and what the server answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthAttempt {
    /// Username used (never the secret).
    pub username: String,
    /// Mechanism or command: "PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2",
    /// "OAUTHBEARER", "USER/PASS" (POP3), "IMAP LOGIN".
    pub mechanism: String,
    /// Whether the server accepted it.
    pub ok: bool,
    /// The server's final reply to it, verbatim (multi-line joined with "\n").
    pub reply: String,
    /// XOAUTH2/OAUTHBEARER: the server's JSON error challenge, parsed.
    pub oauth_error: Option<OAuthError>,
}

/// The error a server reports inside an XOAUTH2 or OAUTHBEARER challenge
/// (RFC 7628 §3.2.2; Google's XOAUTH2 sends the same shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthError {
    /// The failure: an HTTP status such as "401" (Google) or an RFC 6750 §3.1 error
    /// code such as "invalid_token".
    pub status: String,
    /// The authentication schemes the server accepts ("Bearer"), Google's XOAUTH2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schemes: Option<String>,
    /// The scope the token needs (`https://mail.google.com/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Where to discover the authorization server (RFC 7628 §3.2.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub openid_configuration: Option<String>,
}

/// What the SMTP send test found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SendOutcome {
    /// Reply to MAIL FROM.
    pub mail_from: Option<String>,
    /// Reply to RCPT TO.
    pub rcpt_to: Option<String>,
    /// Whether the server would take the message (MAIL and RCPT accepted).
    pub accepted: bool,
    /// Reply to the end of DATA, when a message was delivered.
    pub data: Option<String>,
}
