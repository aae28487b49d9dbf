//! Pure protocol dialogues: lines in, next step out, no sockets.
//!
//! Each dialogue (POP3, IMAP, SMTP) walks the same path: greeting → capabilities →
//! optional STARTTLS → capabilities again over TLS → polite goodbye. The I/O driver
//! (`net::driver`) reads bounded lines from the socket, hands each one to
//! [`Dialogue::on_line`], writes what the dialogue asks for, and performs the TLS
//! upgrade when asked. Everything the server said that matters is kept in the
//! dialogue's [`Session`], which the probe turns into observations.

mod auth;
pub mod imap;
pub mod pop3;
pub mod sasl;
pub mod smtp;

pub use auth::NO_ANSWER;
use thiserror::Error;

use crate::model::{Phase, Protocol};
use crate::report::Session;

/// What the driver must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Write this command (wire form, ending in CRLF), then read the reply.
    Send(String),
    /// The server accepted STARTTLS/STLS: perform the TLS handshake now, then call
    /// [`Dialogue::after_tls`].
    StartTls,
    /// The dialogue is over; close the connection.
    Done,
    /// Write `wire` (it carries credentials), then read the reply. Transcripts and
    /// anything else that is shown use `shown`, which never contains the secret
    /// or any encoding of it.
    SendSecret {
        /// What goes on the wire, CRLF included.
        wire: String,
        /// What a transcript may show, without CRLF.
        shown: String,
    },
}

/// What to do once the capabilities are known, when the probe decided that this
/// connection may carry credentials (verified TLS, or the user's explicit opt-in).
#[derive(Debug, Clone)]
pub struct AuthPlan {
    /// Username and password or token.
    pub credentials: sasl::Credentials,
    /// The other username form (local part vs full address), tried once if the
    /// first login fails, as Thunderbird does. `None`: no retry.
    pub alt_username: Option<String>,
    /// `--auth-mech`: the mechanism to use instead of the strongest offered.
    pub forced: Option<sasl::Mechanism>,
    /// SMTP only: after a successful login, test the envelope.
    pub send_test: Option<SendTest>,
    /// Host and port, for OAUTHBEARER's optional fields.
    pub server: (String, u16),
}

/// SMTP envelope test after login: MAIL FROM, RCPT TO, then RSET, or DATA with
/// `message` when the user asked for delivery.
#[derive(Debug, Clone)]
pub struct SendTest {
    /// Envelope sender (the user's address).
    pub from: String,
    /// Envelope recipient (the user's own address).
    pub to: String,
    /// The full message (headers and body, CRLF line ends, not yet dot-stuffed)
    /// when `--deliver` was given; `None` sends nothing (RSET after RCPT).
    pub message: Option<String>,
}

/// A pure protocol state machine.
pub trait Dialogue {
    /// The phase whose reply the dialogue is waiting for now.
    fn phase(&self) -> Phase;

    /// Feed one line from the server, without its line ending (CRLF or LF).
    ///
    /// `Ok(None)` means "read another line"; `Ok(Some(step))` is the next action.
    fn on_line(&mut self, line: &str) -> Result<Option<Step>, ProtoError>;

    /// The TLS upgrade after [`Step::StartTls`] succeeded: every capability learned
    /// before TLS is discarded (RFC 3207 §4.2, RFC 2595 §3.1) and the dialogue says
    /// what to send first over TLS.
    fn after_tls(&mut self) -> Step;

    /// The command that ends the session politely (QUIT, LOGOUT), used by the driver
    /// when it abandons a dialogue early.
    fn quit_command(&mut self) -> String;

    /// What the server said so far.
    fn session(&self) -> &Session;

    /// Log in (and for SMTP optionally test sending) once the capabilities in
    /// force are known. Called before the capabilities that precede the login
    /// arrive (the probe hands it over only once the connection is known safe);
    /// without it the dialogue never authenticates.
    fn set_auth(&mut self, plan: AuthPlan);

    /// SMTP only: without logging in, try `test`'s envelope (MAIL FROM, RCPT TO,
    /// then RSET) to see whether the server relays for anyone. POP3 and IMAP have
    /// nothing to relay; the default ignores it.
    fn set_relay_test(&mut self, test: SendTest) {
        let _ = test;
    }
}

/// A reply that breaks the protocol: the session cannot go on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtoError {
    /// The greeting is that of another protocol.
    #[error("expected a {expected} greeting, but the server sent {found} ({line:?})")]
    WrongProtocol {
        /// Protocol that was expected.
        expected: Protocol,
        /// What the greeting looks like: "POP3", "IMAP", "SMTP", "HTTP", "SSH", …
        found: &'static str,
        /// The offending line.
        line: String,
    },
    /// A reply that makes no sense at this point of the dialogue.
    #[error("unexpected reply during {phase}: {line:?}")]
    Unexpected {
        /// Phase the dialogue was in.
        phase: Phase,
        /// The offending line.
        line: String,
    },
    /// A reply the server sent to refuse a request the dialogue cannot do without
    /// (e.g. both EHLO and HELO rejected).
    #[error("server refused {phase}: {reply:?}")]
    Refused {
        /// Phase the dialogue was in.
        phase: Phase,
        /// The server's reply.
        reply: String,
    },
    /// A reply went on past 1000 lines (an endless capability
    /// list, endless untagged data or continuation lines).
    #[error("more than {limit} lines in one reply during {phase}")]
    TooManyLines {
        /// The phase it happened in.
        phase: Phase,
        /// The limit.
        limit: usize,
    },
}

/// What a line sent first by a server looks like, by protocol.
///
/// `None` when it looks like nothing known.
#[must_use]
pub fn identify_greeting(line: &str) -> Option<&'static str> {
    let upper = line.to_ascii_uppercase();
    if upper.starts_with("+OK") || upper.starts_with("-ERR") {
        Some("POP3")
    } else if upper.starts_with("* OK")
        || upper.starts_with("* PREAUTH")
        || upper.starts_with("* BYE")
    {
        Some("IMAP")
    } else if upper.starts_with("SSH-") {
        Some("SSH")
    } else if upper.starts_with("HTTP/")
        || upper.starts_with("<!DOCTYPE")
        || upper.starts_with("<HTML")
    {
        Some("HTTP")
    } else if is_smtp_like(line) {
        if upper.contains("FTP") {
            Some("FTP")
        } else {
            Some("SMTP")
        }
    } else {
        None
    }
}

/// Three digits followed by a space, a hyphen or the end of the line.
fn is_smtp_like(line: &str) -> bool {
    smtp::parse_reply_line(line).is_some()
}

/// Most lines one reply may carry (capability lists, multi-line replies, unrelated
/// untagged IMAP data). A server that goes on past this is not answering the question
/// asked, so the dialogue stops with [`ProtoError::Unexpected`] instead of waiting.
///
/// Public so that the fuzz harness (`fuzz/`) can hold every dialogue to it.
pub const MAX_REPLY_LINES: usize = 1000;

impl Session {
    /// The TLS upgrade happened: what the server advertised in plaintext no longer
    /// counts (RFC 3207 §4.2, RFC 2595 §3.1 and §4) but is kept for the report.
    pub(crate) fn discard_pre_tls_capabilities(&mut self) {
        self.capabilities_before_tls = std::mem::take(&mut self.capabilities);
    }
}

/// Checks that the first line a server sent is a greeting of `expected`.
///
/// Another protocol's greeting is [`ProtoError::WrongProtocol`]; a line that looks
/// like nothing known is [`ProtoError::Unexpected`] in [`Phase::Greeting`].
pub(crate) fn expect_greeting(expected: Protocol, line: &str) -> Result<(), ProtoError> {
    match identify_greeting(line) {
        Some(found) if found == expected.to_string() => Ok(()),
        Some(found) => Err(ProtoError::WrongProtocol {
            expected,
            found,
            line: line.to_owned(),
        }),
        None => Err(unexpected(Phase::Greeting, line)),
    }
}

/// [`ProtoError::Unexpected`] for `line` in `phase`.
/// A reply longer than [`MAX_REPLY_LINES`] lines.
pub(crate) fn too_many_lines(phase: Phase) -> ProtoError {
    ProtoError::TooManyLines {
        phase,
        limit: MAX_REPLY_LINES,
    }
}

pub(crate) fn unexpected(phase: Phase, line: &str) -> ProtoError {
    ProtoError::Unexpected {
        phase,
        line: line.to_owned(),
    }
}

/// Test support: feeds a transcript to a dialogue the way the driver would.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Dialogue, ProtoError, Step};

    /// Feeds `lines` one by one and returns every step the dialogue asked for. When
    /// it asks for [`Step::StartTls`], the handshake is taken to succeed and the step
    /// from [`Dialogue::after_tls`] follows in the list.
    pub(crate) fn run(d: &mut impl Dialogue, lines: &[&str]) -> Result<Vec<Step>, ProtoError> {
        let mut steps = Vec::new();
        for line in lines {
            if let Some(step) = d.on_line(line)? {
                let upgrade = step == Step::StartTls;
                steps.push(step);
                if upgrade {
                    steps.push(d.after_tls());
                }
            }
        }
        Ok(steps)
    }

    /// Shorthand for `Step::Send(s.to_owned())`.
    pub(crate) fn send(s: &str) -> Step {
        Step::Send(s.to_owned())
    }

    /// What a fresh dialogue expecting `expected` calls the greeting `line`;
    /// panics unless it is [`ProtoError::WrongProtocol`] quoting the line.
    pub(crate) fn wrong_protocol(
        mut d: impl Dialogue,
        expected: crate::model::Protocol,
        line: &str,
    ) -> &'static str {
        match d.on_line(line) {
            Err(ProtoError::WrongProtocol {
                expected: e,
                found,
                line: l,
            }) if e == expected && l == line => found,
            other => panic!("{line:?} gave {other:?}"),
        }
    }
}
