//! The IMAP dialogue: greeting, CAPABILITY, optional STARTTLS, optional login, LOGOUT.
//!
//! Follows RFC 9051 (`IMAP4rev2`) and RFC 3501 (`IMAP4rev1`), which agree on everything
//! used here: the greeting is an untagged OK, PREAUTH or BYE (§7.1), possibly
//! carrying a `[CAPABILITY …]` response code (§7.1, §7.2.2) that saves a round trip;
//! commands carry tags and end with a tagged OK/NO/BAD (§2.2.1); CAPABILITY (§6.1.1),
//! STARTTLS (§6.2.1, only valid before authentication) and LOGOUT (§6.1.3, an
//! untagged BYE and then the tagged OK). After STARTTLS every capability learned in
//! plaintext is discarded and asked for again (§6.2.1, RFC 2595 §3.1). Keywords are
//! case-insensitive (§9).
//!
//! With an [`AuthPlan`] the dialogue logs in once the capabilities in force are
//! known: `AUTHENTICATE` with the strongest fitting SASL mechanism (§6.2.2; the
//! initial response on the command line only when SASL-IR is advertised, RFC 4959
//! §3; challenges as `+ ` continuations, `*` to cancel), or else `LOGIN` with quoted
//! strings (§6.2.3) when the credentials are a password, never when LOGINDISABLED
//! is advertised (§6.2.3, §7.2.2). Capabilities in the tagged OK after a login are
//! ignored: the dialogue logs out next.

use std::fmt;

mod login;

use super::auth::{self, LoginState};
use super::{
    AuthPlan, Dialogue, MAX_REPLY_LINES, ProtoError, Step, expect_greeting, too_many_lines,
    unexpected,
};
use crate::model::{Phase, Protocol, Security};
use crate::report::Session;
use crate::report::StartTlsState;

/// The commands an IMAP probe sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Capability,
    StartTls,
    Logout,
}

/// A tagged command; `Display` gives the wire form, e.g. `a1 CAPABILITY\r\n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Command {
    tag: u32,
    verb: Verb,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.verb {
            Verb::Capability => "CAPABILITY",
            Verb::StartTls => "STARTTLS",
            Verb::Logout => "LOGOUT",
        };
        write!(f, "a{} {verb}\r\n", self.tag)
    }
}

/// One server line, split as RFC 9051 §2.2.2 describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line<'a> {
    /// `* KEYWORD rest`; the keyword may also be a number (`* 3 EXISTS`).
    Untagged { keyword: &'a str, rest: &'a str },
    /// `+ …`: the server wants more of a command; a probe never sends literals.
    Continuation,
    /// `tag STATUS rest`.
    Tagged {
        tag: &'a str,
        status: &'a str,
        rest: &'a str,
    },
}

impl<'a> Line<'a> {
    /// Splits `line`, or `None` when it has no recognisable shape.
    fn parse(line: &'a str) -> Option<Line<'a>> {
        if let Some(after) = line.strip_prefix("* ") {
            let (keyword, rest) = split_word(after);
            return (!keyword.is_empty()).then_some(Line::Untagged { keyword, rest });
        }
        if line.starts_with('+') {
            return Some(Line::Continuation);
        }
        let (tag, after) = line.split_once(' ')?;
        let (status, rest) = split_word(after);
        (!tag.is_empty() && !status.is_empty()).then_some(Line::Tagged { tag, status, rest })
    }
}

/// The first word of `s` and what follows it, leading spaces removed.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches(' ');
    match s.split_once(' ') {
        Some((word, rest)) => (word, rest.trim_start_matches(' ')),
        None => (s, ""),
    }
}

/// The capabilities in a `[CAPABILITY …]` response code at the start of `text`.
fn capability_code(text: &str) -> Option<Vec<String>> {
    let inner = text.strip_prefix('[')?;
    let (code, _) = inner.split_once(']')?;
    let mut atoms = code.split_ascii_whitespace();
    if !atoms.next()?.eq_ignore_ascii_case("CAPABILITY") {
        return None;
    }
    Some(atoms.map(str::to_owned).collect())
}

/// Where the dialogue stands: which reply it awaits, and for which tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    Capability {
        tag: u32,
    },
    StartTls {
        tag: u32,
    },
    /// STARTTLS was accepted; the TLS handshake is the driver's, no line may arrive.
    Handshake,
    /// AUTHENTICATE (`sasl`) or LOGIN was sent: challenges (SASL only) until the
    /// tagged OK, NO or BAD.
    Auth {
        tag: u32,
        sasl: bool,
    },
    /// The exchange was abandoned with `*`; waiting for the tagged BAD (§6.2.2).
    AuthCancel {
        tag: u32,
    },
    /// Waiting for LOGOUT's BYE and tagged reply. When the driver abandoned the
    /// dialogue, tagged replies to earlier commands may still come first.
    Logout {
        tag: u32,
        abandoned: bool,
    },
    Done,
}

/// An IMAP probe dialogue.
#[derive(Debug, Clone)]
pub struct Imap {
    security: Security,
    state: State,
    /// Tag number of the next command (`a1`, `a2`, …).
    next_tag: u32,
    /// Whether the STARTTLS upgrade happened.
    upgraded: bool,
    /// The greeting was PREAUTH: the session is already authenticated.
    preauth: bool,
    /// Untagged lines ignored while waiting for the current tagged reply.
    untagged: usize,
    /// The login, when an [`AuthPlan`] was given.
    login: Option<LoginState>,
    session: Session,
}

impl Imap {
    /// A dialogue for a connection protected by `security` (for [`Security::Tls`] the
    /// driver has finished the handshake before the greeting).
    #[must_use]
    pub fn new(security: Security) -> Imap {
        Imap {
            security,
            state: State::Greeting,
            next_tag: 1,
            upgraded: false,
            preauth: false,
            untagged: 0,
            login: None,
            session: Session::default(),
        }
    }

    /// The next command with a fresh tag, as a wire string and its tag number.
    fn command(&mut self, verb: Verb) -> (String, u32) {
        let tag = self.fresh_tag();
        (Command { tag, verb }.to_string(), tag)
    }

    /// The tag number for the next command; untagged data counts anew.
    fn fresh_tag(&mut self) -> u32 {
        let tag = self.next_tag;
        self.next_tag = self.next_tag.saturating_add(1);
        self.untagged = 0;
        tag
    }

    /// LOGOUT, recording why there was no login if one was planned.
    fn logout(&mut self) -> Step {
        if let Some(login) = &mut self.login {
            login.skip(auth::reason_to_skip(&self.session));
        }
        self.send(Verb::Logout)
    }

    fn send(&mut self, verb: Verb) -> Step {
        let (wire, tag) = self.command(verb);
        self.state = match verb {
            Verb::Capability => State::Capability { tag },
            Verb::StartTls => State::StartTls { tag },
            Verb::Logout => State::Logout {
                tag,
                abandoned: false,
            },
        };
        Step::Send(wire)
    }

    fn on_greeting(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        expect_greeting(Protocol::Imap, line)?;
        let Some(Line::Untagged { keyword, rest }) = Line::parse(line) else {
            return Err(unexpected(Phase::Greeting, line));
        };
        self.session.greeting = Some(line.to_owned());
        if keyword.eq_ignore_ascii_case("BYE") {
            // §7.1.5: the server closes the connection right away.
            self.session.greeting_rejected = Some(line.to_owned());
            self.state = State::Done;
            return Ok(Some(Step::Done));
        }
        self.preauth = keyword.eq_ignore_ascii_case("PREAUTH");
        if !self.preauth && !keyword.eq_ignore_ascii_case("OK") {
            return Err(unexpected(Phase::Greeting, line));
        }
        if let Some(capabilities) = capability_code(rest) {
            self.session.capabilities = capabilities;
            self.session.capabilities_in_greeting = true;
            self.session.capabilities_supported = true;
            return Ok(Some(self.after_capabilities()));
        }
        Ok(Some(self.send(Verb::Capability)))
    }

    /// Untagged data while a command runs: BYE means the server is leaving,
    /// anything else unrelated is ignored, up to a bound.
    fn on_untagged(&mut self, keyword: &str, line: &str) -> Result<Option<Step>, ProtoError> {
        if keyword.eq_ignore_ascii_case("BYE") {
            return Err(ProtoError::Refused {
                phase: self.phase(),
                reply: line.to_owned(),
            });
        }
        self.untagged += 1;
        if self.untagged > MAX_REPLY_LINES {
            return Err(too_many_lines(self.phase()));
        }
        Ok(None)
    }

    /// The tagged reply to the command with tag `tag`, as its status.
    fn tagged_status<'a>(&self, tag: u32, line: &'a str) -> Result<Status<'a>, ProtoError> {
        match Line::parse(line) {
            Some(Line::Tagged {
                tag: got,
                status,
                rest,
            }) if got == format!("a{tag}") => {
                Status::of(status, rest).ok_or_else(|| unexpected(self.phase(), line))
            }
            _ => Err(unexpected(self.phase(), line)),
        }
    }

    fn on_capability(&mut self, tag: u32, line: &str) -> Result<Option<Step>, ProtoError> {
        match Line::parse(line) {
            Some(Line::Untagged { keyword, rest })
                if keyword.eq_ignore_ascii_case("CAPABILITY") =>
            {
                let atoms = rest.split_ascii_whitespace().map(str::to_owned);
                self.session.capabilities.extend(atoms);
                // Counted like other untagged data: endless CAPABILITY lines
                // must not hold the dialogue (found by fuzzing).
                self.on_untagged(keyword, line)
            }
            Some(Line::Untagged { keyword, .. }) => self.on_untagged(keyword, line),
            _ => match self.tagged_status(tag, line)? {
                Status::Ok(rest) => {
                    if self.session.capabilities.is_empty() {
                        self.session.capabilities = capability_code(rest).unwrap_or_default();
                    }
                    self.session.capabilities_supported = true;
                    Ok(Some(self.after_capabilities()))
                }
                Status::Failed => {
                    self.session.capabilities_supported = false;
                    Ok(Some(self.after_capabilities()))
                }
            },
        }
    }

    fn wants_starttls(&self) -> bool {
        self.security == Security::StartTls && !self.upgraded
    }

    fn advertises_starttls(&self) -> bool {
        self.session
            .capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case("STARTTLS"))
    }

    fn after_capabilities(&mut self) -> Step {
        if !self.wants_starttls() {
            return self.log_in();
        }
        if self.preauth {
            // STARTTLS is only valid before authentication (§6.2.1): a PREAUTH
            // greeting in plaintext makes the upgrade impossible, so record the
            // greeting as the refusal.
            let greeting = self.session.greeting.clone().unwrap_or_default();
            self.session.starttls = StartTlsState::Refused(greeting);
            return self.logout();
        }
        if self.advertises_starttls() {
            self.send(Verb::StartTls)
        } else {
            self.session.starttls = StartTlsState::NotAdvertised;
            self.logout()
        }
    }

    fn on_starttls(&mut self, tag: u32, line: &str) -> Result<Option<Step>, ProtoError> {
        if let Some(Line::Untagged { keyword, .. }) = Line::parse(line) {
            return self.on_untagged(keyword, line);
        }
        match self.tagged_status(tag, line)? {
            // Capabilities in this OK are pre-TLS data and are ignored on purpose.
            Status::Ok(_) => {
                self.session.starttls = StartTlsState::Accepted;
                self.state = State::Handshake;
                Ok(Some(Step::StartTls))
            }
            Status::Failed => {
                self.session.starttls = StartTlsState::Refused(line.to_owned());
                Ok(Some(self.logout()))
            }
        }
    }

    fn record_quit_line(&mut self, line: &str) {
        let reply = self.session.quit_reply.get_or_insert_with(String::new);
        if !reply.is_empty() {
            reply.push('\n');
        }
        reply.push_str(line);
    }

    /// LOGOUT (§6.1.3): untagged BYE, then the tagged OK. After an early abandon,
    /// tagged replies to earlier commands are skipped.
    ///
    /// Everything read before the tagged OK counts towards [`MAX_REPLY_LINES`]:
    /// a server repeating BYE, or tagged replies to earlier commands, forever
    /// must not hold the dialogue (found by fuzzing; see the tests named
    /// `endless_*`).
    fn on_logout(
        &mut self,
        tag: u32,
        abandoned: bool,
        line: &str,
    ) -> Result<Option<Step>, ProtoError> {
        let bye = match Line::parse(line) {
            Some(Line::Untagged { keyword, .. }) => keyword.eq_ignore_ascii_case("BYE"),
            Some(Line::Tagged { tag: got, .. }) if got == format!("a{tag}") => {
                self.record_quit_line(line);
                self.state = State::Done;
                return Ok(Some(Step::Done));
            }
            Some(Line::Tagged { tag: got, .. }) if abandoned && is_earlier_tag(got, tag) => false,
            _ => return Err(unexpected(Phase::Quit, line)),
        };
        self.untagged += 1;
        if self.untagged > MAX_REPLY_LINES {
            return Err(too_many_lines(Phase::Quit));
        }
        if bye {
            self.record_quit_line(line);
        }
        Ok(None)
    }
}

/// Whether `got` is one of this dialogue's tags sent before tag number `tag`.
fn is_earlier_tag(got: &str, tag: u32) -> bool {
    got.strip_prefix('a')
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n >= 1 && n < tag)
}

/// The outcome of a tagged reply: OK (with its text) or NO/BAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status<'a> {
    Ok(&'a str),
    Failed,
}

impl<'a> Status<'a> {
    fn of(status: &str, rest: &'a str) -> Option<Status<'a>> {
        if status.eq_ignore_ascii_case("OK") {
            Some(Status::Ok(rest))
        } else if status.eq_ignore_ascii_case("NO") || status.eq_ignore_ascii_case("BAD") {
            Some(Status::Failed)
        } else {
            None
        }
    }
}

impl Dialogue for Imap {
    fn phase(&self) -> Phase {
        match self.state {
            State::Greeting => Phase::Greeting,
            State::Capability { .. } if self.upgraded => Phase::CapabilitiesAfterTls,
            State::Capability { .. } => Phase::Capabilities,
            State::StartTls { .. } => Phase::StartTls,
            State::Handshake => Phase::Tls,
            State::Auth { .. } | State::AuthCancel { .. } => Phase::Auth,
            State::Logout { .. } | State::Done => Phase::Quit,
        }
    }

    fn on_line(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        let step = match self.state {
            State::Greeting => self.on_greeting(line),
            State::Capability { tag } => self.on_capability(tag, line),
            State::StartTls { tag } => self.on_starttls(tag, line),
            State::Auth { tag, sasl } => self.on_auth(tag, sasl, line),
            State::AuthCancel { tag } => self.on_auth_cancel(tag, line),
            State::Logout { tag, abandoned } => self.on_logout(tag, abandoned, line),
            // Nothing may arrive before the TLS handshake (plaintext injected after
            // the STARTTLS OK would be read as if it came over TLS), nor after the end.
            State::Handshake | State::Done => Err(unexpected(self.phase(), line)),
        };
        if let Some(login) = &self.login {
            self.session.auth = Some(login.outcome().clone());
        }
        step
    }

    fn after_tls(&mut self) -> Step {
        self.upgraded = true;
        self.session.discard_pre_tls_capabilities();
        self.send(Verb::Capability)
    }

    fn quit_command(&mut self) -> String {
        let (wire, tag) = self.command(Verb::Logout);
        self.state = State::Logout {
            tag,
            abandoned: true,
        };
        wire
    }

    fn session(&self) -> &Session {
        &self.session
    }

    fn set_auth(&mut self, plan: AuthPlan) {
        self.login = Some(LoginState::attach(plan, &mut self.session));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::testing::{self, run, send};

    const DOVECOT: &str = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.";
    const BARE: &str = "* OK IMAP4rev1 Service Ready";
    const LOGOUT_BYE: &str = "* BYE Logging out";

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn tls_with_greeting_capabilities_goes_straight_to_logout() {
        let mut d = Imap::new(Security::Tls);
        let steps = run(
            &mut d,
            &[
                DOVECOT,
                LOGOUT_BYE,
                "a1 OK Logout completed (0.001 + 0.000 secs).",
            ],
        )
        .unwrap();
        assert_eq!(steps, [send("a1 LOGOUT\r\n"), Step::Done]);
        let s = d.session();
        assert!(s.capabilities_in_greeting);
        assert!(s.capabilities_supported);
        assert_eq!(
            s.capabilities,
            words("IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN")
        );
        assert_eq!(
            s.quit_reply.as_deref(),
            Some("* BYE Logging out\na1 OK Logout completed (0.001 + 0.000 secs).")
        );
        assert_eq!(s.starttls, StartTlsState::NotAttempted);
    }

    #[test]
    fn plain_without_greeting_capabilities_asks_for_them() {
        let mut d = Imap::new(Security::Plain);
        let steps = run(
            &mut d,
            &[
                BARE,
                "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED",
                "a1 OK Pre-login capabilities listed, post-login capabilities have more.",
                LOGOUT_BYE,
                "a2 OK Logout completed.",
            ],
        )
        .unwrap();
        assert_eq!(
            steps,
            [send("a1 CAPABILITY\r\n"), send("a2 LOGOUT\r\n"), Step::Done]
        );
        assert!(!d.session().capabilities_in_greeting);
        assert_eq!(
            d.session().capabilities,
            words("IMAP4rev1 STARTTLS LOGINDISABLED")
        );
    }

    #[test]
    fn starttls_upgrade_discards_greeting_capabilities() {
        let mut d = Imap::new(Security::StartTls);
        let steps = run(
            &mut d,
            &[
                DOVECOT,
                "a1 OK [CAPABILITY IMAP4rev1 EVIL] Begin TLS negotiation now.",
                "* CAPABILITY IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN",
                "a2 OK Pre-login capabilities listed, post-login capabilities have more.",
                LOGOUT_BYE,
                "a3 OK Logout completed.",
            ],
        )
        .unwrap();
        assert_eq!(
            steps,
            [
                send("a1 STARTTLS\r\n"),
                Step::StartTls,
                send("a2 CAPABILITY\r\n"),
                send("a3 LOGOUT\r\n"),
                Step::Done
            ]
        );
        let s = d.session();
        assert_eq!(s.starttls, StartTlsState::Accepted);
        assert!(s.capabilities_before_tls.contains(&"STARTTLS".to_owned()));
        assert_eq!(
            s.capabilities,
            words("IMAP4rev1 SASL-IR ID ENABLE IDLE LITERAL+ AUTH=PLAIN AUTH=LOGIN")
        );
        assert!(!s.capabilities.contains(&"EVIL".to_owned()));
    }

    #[test]
    fn phases_follow_the_dialogue() {
        let mut d = Imap::new(Security::StartTls);
        assert_eq!(d.phase(), Phase::Greeting);
        d.on_line(BARE).unwrap();
        assert_eq!(d.phase(), Phase::Capabilities);
        d.on_line("* CAPABILITY IMAP4rev1 STARTTLS").unwrap();
        d.on_line("a1 OK done").unwrap();
        assert_eq!(d.phase(), Phase::StartTls);
        assert_eq!(d.on_line("a2 OK go"), Ok(Some(Step::StartTls)));
        assert_eq!(d.phase(), Phase::Tls);
        assert_eq!(d.after_tls(), send("a3 CAPABILITY\r\n"));
        assert_eq!(d.phase(), Phase::CapabilitiesAfterTls);
        d.on_line("a3 OK").unwrap();
        assert_eq!(d.phase(), Phase::Quit);
    }

    #[test]
    fn starttls_not_advertised_is_not_tried() {
        let mut d = Imap::new(Security::StartTls);
        let greeting = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready";
        let steps = run(&mut d, &[greeting, "a1 OK bye"]).unwrap();
        assert_eq!(steps, [send("a1 LOGOUT\r\n"), Step::Done]);
        assert_eq!(d.session().starttls, StartTlsState::NotAdvertised);
    }

    #[test]
    fn starttls_refused_with_no_or_bad() {
        for refusal in [
            "a1 NO [UNAVAILABLE] TLS not available",
            "a1 BAD Unknown command",
        ] {
            let mut d = Imap::new(Security::StartTls);
            let steps = run(&mut d, &[DOVECOT, refusal, "a2 OK"]).unwrap();
            assert_eq!(
                steps,
                [send("a1 STARTTLS\r\n"), send("a2 LOGOUT\r\n"), Step::Done]
            );
            assert_eq!(
                d.session().starttls,
                StartTlsState::Refused(refusal.to_owned())
            );
        }
    }

    #[test]
    fn capabilities_from_the_tagged_ok_code() {
        let mut d = Imap::new(Security::StartTls);
        let steps = run(
            &mut d,
            &[BARE, "a1 OK [CAPABILITY IMAP4rev2 STARTTLS] done"],
        )
        .unwrap();
        assert_eq!(steps, [send("a1 CAPABILITY\r\n"), send("a2 STARTTLS\r\n")]);
        assert_eq!(d.session().capabilities, words("IMAP4rev2 STARTTLS"));
    }

    #[test]
    fn keywords_are_case_insensitive() {
        let mut d = Imap::new(Security::StartTls);
        let steps = run(
            &mut d,
            &[
                "* ok hello",
                "* capability imap4rev1 starttls",
                "a1 ok",
                "a2 ok",
            ],
        )
        .unwrap();
        assert_eq!(
            steps,
            [
                send("a1 CAPABILITY\r\n"),
                send("a2 STARTTLS\r\n"),
                Step::StartTls,
                send("a3 CAPABILITY\r\n")
            ]
        );
        assert_eq!(
            d.session().capabilities_before_tls,
            words("imap4rev1 starttls")
        );
    }

    #[test]
    fn capability_refused_is_recorded_not_fatal() {
        let mut d = Imap::new(Security::StartTls);
        let steps = run(&mut d, &[BARE, "a1 BAD unknown", "a2 OK"]).unwrap();
        assert_eq!(
            steps,
            [send("a1 CAPABILITY\r\n"), send("a2 LOGOUT\r\n"), Step::Done]
        );
        assert!(!d.session().capabilities_supported);
        assert_eq!(d.session().starttls, StartTlsState::NotAdvertised);
    }

    #[test]
    fn unrelated_untagged_lines_are_ignored() {
        let mut d = Imap::new(Security::Plain);
        let steps = run(
            &mut d,
            &[
                BARE,
                "* ID NIL",
                "* 3 EXISTS",
                "* CAPABILITY IMAP4rev1",
                "* OK [ALERT] hi",
                "a1 OK",
            ],
        )
        .unwrap();
        assert_eq!(steps, [send("a1 CAPABILITY\r\n"), send("a2 LOGOUT\r\n")]);
        assert_eq!(d.session().capabilities, words("IMAP4rev1"));
    }

    #[test]
    fn bye_greeting_is_a_rejection() {
        let mut d = Imap::new(Security::StartTls);
        let line = "* BYE Too many connections from your IP";
        assert_eq!(run(&mut d, &[line]).unwrap(), [Step::Done]);
        assert_eq!(d.session().greeting_rejected.as_deref(), Some(line));
        assert_eq!(d.on_line("a1 OK"), Err(unexpected(Phase::Quit, "a1 OK")));
    }

    #[test]
    fn preauth_greeting_is_valid() {
        let mut d = Imap::new(Security::Tls);
        let steps = run(
            &mut d,
            &["* PREAUTH [CAPABILITY IMAP4rev1] welcome", "a1 OK"],
        )
        .unwrap();
        assert_eq!(steps, [send("a1 LOGOUT\r\n"), Step::Done]);
        assert!(d.session().greeting_rejected.is_none());
    }

    #[test]
    fn preauth_in_plaintext_makes_starttls_impossible() {
        let greeting = "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] logged in as alice";
        let mut d = Imap::new(Security::StartTls);
        let steps = run(&mut d, &[greeting]).unwrap();
        assert_eq!(steps, [send("a1 LOGOUT\r\n")]);
        assert_eq!(
            d.session().starttls,
            StartTlsState::Refused(greeting.to_owned())
        );
    }

    fn wrong_protocol(line: &str) -> &'static str {
        testing::wrong_protocol(Imap::new(Security::Plain), Protocol::Imap, line)
    }

    #[test]
    fn other_protocols_greetings_are_named() {
        assert_eq!(wrong_protocol("+OK Dovecot (Debian) ready."), "POP3");
        assert_eq!(
            wrong_protocol("220 host ESMTP Postfix (Debian/GNU)"),
            "SMTP"
        );
        assert_eq!(wrong_protocol("SSH-2.0-OpenSSH_9.2"), "SSH");
        assert_eq!(wrong_protocol("HTTP/1.1 400 Bad Request"), "HTTP");
    }

    #[test]
    fn garbage_or_empty_greeting_is_unexpected() {
        for line in ["", "*", "* ", "hello", "* OKAY then", "a1 OK"] {
            let err = Imap::new(Security::Plain).on_line(line).unwrap_err();
            assert_eq!(err, unexpected(Phase::Greeting, line), "{line:?}");
        }
    }

    #[test]
    fn wrong_tag_is_unexpected() {
        let mut d = Imap::new(Security::Plain);
        run(&mut d, &[BARE]).unwrap();
        assert_eq!(
            d.on_line("a9 OK done"),
            Err(unexpected(Phase::Capabilities, "a9 OK done"))
        );
    }

    #[test]
    fn garbage_lines_are_unexpected() {
        for line in ["", "garbage", "a1", "a1 MAYBE", "+ go ahead", "A1 OK"] {
            let mut d = Imap::new(Security::StartTls);
            run(&mut d, &[DOVECOT]).unwrap();
            assert_eq!(
                d.on_line(line),
                Err(unexpected(Phase::StartTls, line)),
                "{line:?}"
            );
        }
    }

    #[test]
    fn bye_during_a_command_is_a_refusal() {
        let mut d = Imap::new(Security::Plain);
        run(&mut d, &[BARE]).unwrap();
        let line = "* BYE Server shutting down";
        assert_eq!(
            d.on_line(line),
            Err(ProtoError::Refused {
                phase: Phase::Capabilities,
                reply: line.to_owned()
            })
        );
    }

    #[test]
    fn logout_with_only_bye_waits_for_eof() {
        let mut d = Imap::new(Security::Tls);
        let steps = run(&mut d, &[DOVECOT, LOGOUT_BYE]).unwrap();
        assert_eq!(steps, [send("a1 LOGOUT\r\n")]);
        assert_eq!(d.phase(), Phase::Quit);
        assert_eq!(d.session().quit_reply.as_deref(), Some(LOGOUT_BYE));
    }

    #[test]
    fn logout_with_wrong_tag_is_unexpected() {
        let mut d = Imap::new(Security::Tls);
        run(&mut d, &[DOVECOT]).unwrap();
        assert_eq!(d.on_line("a7 OK"), Err(unexpected(Phase::Quit, "a7 OK")));
    }

    #[test]
    fn early_logout_skips_replies_to_earlier_commands() {
        let mut d = Imap::new(Security::Plain);
        run(&mut d, &[BARE, "* CAPABILITY IMAP4rev1"]).unwrap();
        assert_eq!(d.quit_command(), "a2 LOGOUT\r\n");
        assert_eq!(d.phase(), Phase::Quit);
        let steps = run(&mut d, &["a1 OK done", LOGOUT_BYE, "a2 OK bye"]).unwrap();
        assert_eq!(steps, [Step::Done]);
        assert_eq!(
            d.session().quit_reply.as_deref(),
            Some("* BYE Logging out\na2 OK bye")
        );
    }

    /// Feeds `line` until the dialogue refuses it; how many were taken. Panics
    /// when it takes more than one reply's worth without a step.
    fn feed_forever(d: &mut Imap, line: &str) -> usize {
        for n in 0..=MAX_REPLY_LINES {
            match d.on_line(line) {
                Ok(None) => {}
                Err(e) => {
                    assert_eq!(e, too_many_lines(d.phase()));
                    return n;
                }
                other => panic!("{line:?} gave {other:?}"),
            }
        }
        panic!("{line:?} was read forever")
    }

    /// Found by fuzzing (fuzz/seeds/imap/endless_capability): CAPABILITY lines
    /// were not counted, so a server sending them forever held the dialogue and
    /// grew its capability list without bound.
    #[test]
    fn endless_capability_lines_are_bounded() {
        let mut d = Imap::new(Security::Tls);
        run(&mut d, &[BARE]).unwrap();
        let taken = feed_forever(&mut d, "* CAPABILITY IMAP4rev1 X-ENDLESS");
        assert_eq!(taken, MAX_REPLY_LINES);
        assert_eq!(d.session().capabilities.len(), 2 * (MAX_REPLY_LINES + 1));
    }

    /// Found by fuzzing (scripts/fuzz.sh, target imap): BYE lines during
    /// LOGOUT were not counted, and each one grew the recorded quit reply.
    #[test]
    fn endless_bye_during_logout_is_bounded() {
        let mut d = Imap::new(Security::Tls);
        run(&mut d, &[DOVECOT]).unwrap();
        assert_eq!(feed_forever(&mut d, LOGOUT_BYE), MAX_REPLY_LINES);
        let kept = d.session().quit_reply.as_deref().unwrap_or_default();
        assert!(kept.len() <= MAX_REPLY_LINES * (LOGOUT_BYE.len() + 1));
    }

    /// Found by fuzzing (scripts/fuzz.sh, target imap): after an abandon,
    /// tagged replies to earlier commands were skipped without limit.
    #[test]
    fn endless_replies_to_earlier_tags_after_abandon_are_bounded() {
        let mut d = Imap::new(Security::Plain);
        run(&mut d, &[BARE]).unwrap();
        assert_eq!(d.quit_command(), "a2 LOGOUT\r\n");
        assert_eq!(feed_forever(&mut d, "a1 OK"), MAX_REPLY_LINES);
    }

    #[test]
    fn lines_during_the_handshake_are_refused() {
        let mut d = Imap::new(Security::StartTls);
        run(&mut d, &[DOVECOT]).unwrap();
        assert_eq!(d.on_line("a1 OK Begin TLS"), Ok(Some(Step::StartTls)));
        let injected = "* CAPABILITY IMAP4rev1 AUTH=PLAIN";
        assert_eq!(d.on_line(injected), Err(unexpected(Phase::Tls, injected)));
    }

    #[test]
    fn endless_untagged_data_is_cut_off() {
        let mut d = Imap::new(Security::Plain);
        run(&mut d, &[BARE]).unwrap();
        let result = (0..=MAX_REPLY_LINES)
            .map(|_| d.on_line("* 1 EXISTS"))
            .find(Result::is_err);
        assert_eq!(result, Some(Err(too_many_lines(Phase::Capabilities))));
    }

    #[test]
    fn non_ascii_lines_do_not_panic() {
        let mut d = Imap::new(Security::Plain);
        run(&mut d, &[BARE]).unwrap();
        let line = "\u{e9}\u{1F4E7} OK";
        assert_eq!(d.on_line(line), Err(unexpected(Phase::Capabilities, line)));
        assert_eq!(capability_code("[\u{e9}"), None);
    }

    // --- Login ---------------------------------------------------------------------

    use crate::proto::AuthPlan;
    use crate::proto::auth::testing::{
        PASSWORD, TOKEN, assert_secret_hidden, password_plan, token_plan, wires,
    };
    use crate::proto::sasl::Credentials;
    use crate::report::AuthOutcome;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    /// TLS greeting without SASL-IR: the initial response waits for `+ `.
    const NO_IR: &str = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN] ready";
    const FAILED: &str = "a1 NO [AUTHENTICATIONFAILED] Authentication failed.";

    fn with_plan(security: Security, plan: AuthPlan) -> Imap {
        let mut d = Imap::new(security);
        d.set_auth(plan);
        d
    }

    fn outcome(d: &Imap) -> &AuthOutcome {
        d.session().auth.as_ref().expect("a plan was given")
    }

    fn plain_ir(user: &str) -> String {
        STANDARD.encode(format!("\0{user}\0{PASSWORD}"))
    }

    fn reason(d: &Imap) -> String {
        outcome(d).not_attempted.clone().expect("not attempted")
    }

    #[test]
    fn authenticate_plain_with_sasl_ir() {
        let mut d = with_plan(Security::Tls, password_plan("alice"));
        let ok = "a1 OK [CAPABILITY IMAP4rev1 X-POSTLOGIN] Logged in";
        let steps = run(&mut d, &[DOVECOT, ok, LOGOUT_BYE, "a2 OK"]).unwrap();
        assert_eq!(
            steps,
            [
                Step::SendSecret {
                    wire: format!("a1 AUTHENTICATE PLAIN {}\r\n", plain_ir("alice")),
                    shown: "a1 AUTHENTICATE PLAIN [credentials redacted]".to_owned()
                },
                send("a2 LOGOUT\r\n"),
                Step::Done
            ]
        );
        assert_secret_hidden(&steps, PASSWORD);
        let o = outcome(&d);
        assert!(o.ok);
        assert_eq!(o.offered, ["PLAIN"]);
        assert_eq!(o.attempts[0].reply, ok);
        // The post-login capabilities are not taken for the pre-login ones.
        assert!(!d.session().capabilities.contains(&"X-POSTLOGIN".to_owned()));
    }

    #[test]
    fn authenticate_without_sasl_ir_waits_for_the_continuation() {
        let mut d = with_plan(Security::Tls, password_plan("alice"));
        let script = [
            NO_IR,
            "+ ",
            "* CAPABILITY IMAP4rev1 IDLE",
            "a1 OK done",
            "a2 OK",
        ];
        let steps = run(&mut d, &script).unwrap();
        assert_eq!(
            steps,
            [
                send("a1 AUTHENTICATE PLAIN\r\n"),
                Step::SendSecret {
                    wire: format!("{}\r\n", plain_ir("alice")),
                    shown: "[credentials redacted]".to_owned()
                },
                send("a2 LOGOUT\r\n"),
                Step::Done
            ]
        );
        assert_secret_hidden(&steps, PASSWORD);
        assert!(outcome(&d).ok);
    }

    #[test]
    fn failure_then_retry_with_the_other_username_succeeds() {
        let mut plan = password_plan("alice");
        plan.alt_username = Some("alice@example.com".to_owned());
        let mut d = with_plan(Security::Tls, plan);
        let steps = run(&mut d, &[DOVECOT, FAILED, "a2 OK Logged in", "a3 OK"]).unwrap();
        let sent = wires(&steps);
        assert_eq!(
            sent[0],
            format!("a1 AUTHENTICATE PLAIN {}\r\n", plain_ir("alice"))
        );
        assert_eq!(
            sent[1],
            format!(
                "a2 AUTHENTICATE PLAIN {}\r\n",
                plain_ir("alice@example.com")
            )
        );
        assert_eq!(steps[2..], [send("a3 LOGOUT\r\n"), Step::Done]);
        assert_secret_hidden(&steps, PASSWORD);
        let o = outcome(&d);
        assert!(o.ok);
        assert_eq!(o.attempts.len(), 2);
        assert_eq!(o.attempts[0].reply, FAILED);
        assert_eq!(o.attempts[1].username, "alice@example.com");
    }

    #[test]
    fn failing_twice_makes_exactly_two_attempts_then_logs_out() {
        let mut plan = password_plan("alice");
        plan.alt_username = Some("alice@example.com".to_owned());
        let mut d = with_plan(Security::Tls, plan);
        let steps = run(&mut d, &[DOVECOT, FAILED, "a2 NO again"]).unwrap();
        assert_eq!(wires(&steps).len(), 2);
        assert_eq!(steps.last(), Some(&send("a3 LOGOUT\r\n")));
        assert_eq!(d.phase(), Phase::Quit);
        assert_secret_hidden(&steps, PASSWORD);
        let o = outcome(&d);
        assert!(!o.ok);
        assert_eq!(o.attempts.len(), 2);
    }

    #[test]
    fn bye_after_a_failure_ends_the_session_without_an_error() {
        let mut plan = password_plan("alice");
        plan.alt_username = Some("alice@example.com".to_owned());
        let mut d = with_plan(Security::Tls, plan);
        let bye = "* BYE Too many invalid authentication attempts";
        let steps = run(&mut d, &[DOVECOT, FAILED, bye]).unwrap();
        assert_eq!(steps.last(), Some(&Step::Done));
        let o = outcome(&d);
        assert_eq!(o.attempts.len(), 2);
        assert_eq!(o.attempts[1].reply, bye);
    }

    #[test]
    fn no_fitting_mechanism_is_not_attempted() {
        let mut d = with_plan(Security::Tls, token_plan("alice@example.com"));
        let steps = run(&mut d, &[DOVECOT, "a1 OK"]).unwrap();
        assert_eq!(steps, [send("a1 LOGOUT\r\n"), Step::Done]);
        assert!(outcome(&d).attempts.is_empty());
        assert!(reason(&d).contains("OAuth2"), "{}", reason(&d));
    }

    #[test]
    fn logindisabled_forbids_login_when_it_is_all_that_would_fit() {
        let greeting = "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=GSSAPI] ready";
        let mut d = with_plan(Security::Tls, password_plan("alice"));
        let steps = run(&mut d, &[greeting]).unwrap();
        assert_eq!(steps, [send("a1 LOGOUT\r\n")]);
        assert!(
            reason(&d).starts_with("the server advertises LOGINDISABLED"),
            "{}",
            reason(&d)
        );
        assert!(reason(&d).contains("GSSAPI"));
    }

    #[test]
    fn logindisabled_still_allows_authenticate_plain() {
        let greeting = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGINDISABLED AUTH=PLAIN] ready";
        let mut d = with_plan(Security::Tls, password_plan("alice"));
        let steps = run(&mut d, &[greeting, "a1 OK"]).unwrap();
        assert!(
            matches!(&steps[0], Step::SendSecret { shown, .. } if shown.starts_with("a1 AUTHENTICATE PLAIN"))
        );
        assert!(outcome(&d).ok);
    }

    #[test]
    fn login_fallback_quotes_and_escapes() {
        let password = format!("{PASSWORD}\\\"x");
        let mut plan = password_plan("al\"ice");
        plan.credentials = Credentials::Password {
            username: "al\"ice".to_owned(),
            password: crate::proto::sasl::Secret::new(password.clone()),
        };
        let mut d = with_plan(Security::Tls, plan);
        let greeting = "* OK [CAPABILITY IMAP4rev1 AUTH=GSSAPI] ready";
        let steps = run(&mut d, &[greeting, "a1 OK LOGIN completed", "a2 OK"]).unwrap();
        assert_eq!(
            steps[0],
            Step::SendSecret {
                wire: format!("a1 LOGIN \"al\\\"ice\" \"{PASSWORD}\\\\\\\"x\"\r\n"),
                shown: "a1 LOGIN \"al\\\"ice\" [credentials redacted]".to_owned()
            }
        );
        assert_secret_hidden(&steps, &password);
        assert_secret_hidden(&steps, PASSWORD);
        let o = outcome(&d);
        assert!(o.ok);
        assert_eq!(o.attempts[0].mechanism, "IMAP LOGIN");
    }

    #[test]
    fn login_refuses_line_breaks() {
        let mut plan = password_plan("alice");
        plan.credentials = Credentials::Password {
            username: "alice".to_owned(),
            password: crate::proto::sasl::Secret::new("p\r\na2 DELETE INBOX"),
        };
        let mut d = with_plan(Security::Tls, plan);
        let steps = run(&mut d, &["* OK [CAPABILITY IMAP4rev1] hi"]).unwrap();
        assert_eq!(steps, [send("a1 LOGOUT\r\n")]);
        assert!(reason(&d).contains("CR, LF or NUL"), "{}", reason(&d));
    }

    #[test]
    fn cram_md5_challenge_and_response() {
        let mut plan = password_plan("tim");
        plan.credentials = Credentials::Password {
            username: "tim".to_owned(),
            password: crate::proto::sasl::Secret::new("tanstaaftanstaaf"),
        };
        plan.forced = Some(crate::proto::sasl::Mechanism::CramMd5);
        let mut d = with_plan(Security::Tls, plan);
        let greeting = "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=CRAM-MD5] hi";
        let challenge = "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
        let steps = run(&mut d, &[greeting, challenge, "a1 OK"]).unwrap();
        assert_eq!(steps[0], send("a1 AUTHENTICATE CRAM-MD5\r\n"));
        assert_eq!(
            wires(&steps),
            ["dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"]
        );
        assert_secret_hidden(&steps, "tanstaaftanstaaf");
        assert!(outcome(&d).ok);
    }

    #[test]
    fn xoauth2_error_challenge_is_answered_and_recorded() {
        let greeting = "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=PLAIN] Gimap ready";
        let error = "+ eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";
        let failed = "a1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)";
        let mut d = with_plan(Security::Tls, token_plan("alice@gmail.com"));
        let steps = run(&mut d, &[greeting, error, failed, "a2 OK"]).unwrap();
        assert_eq!(
            steps[1],
            Step::SendSecret {
                wire: "\r\n".to_owned(),
                shown: String::new()
            }
        );
        assert_eq!(steps[2], send("a2 LOGOUT\r\n"));
        assert_secret_hidden(&steps, TOKEN);
        let attempt = &outcome(&d).attempts[0];
        assert_eq!(attempt.mechanism, "XOAUTH2");
        assert_eq!(attempt.reply, failed);
        assert_eq!(attempt.oauth_error.as_ref().unwrap().status, "400");
    }

    #[test]
    fn endless_challenges_are_cancelled() {
        let mut d = with_plan(Security::Tls, password_plan("alice"));
        let greeting = "* OK [CAPABILITY IMAP4rev1 AUTH=LOGIN] hi";
        let mut steps = run(&mut d, &[greeting]).unwrap();
        for _ in 0..=crate::proto::auth::MAX_CHALLENGES {
            let step = d.on_line("+ UGFzc3dvcmQ6").unwrap().unwrap();
            steps.push(step.clone());
            if step == send("*\r\n") {
                break;
            }
        }
        assert_eq!(steps.last(), Some(&send("*\r\n")));
        assert_eq!(d.phase(), Phase::Auth);
        let bad = "a1 BAD Authentication canceled";
        assert_eq!(d.on_line(bad), Ok(Some(send("a2 LOGOUT\r\n"))));
        assert_secret_hidden(&steps, PASSWORD);
        let attempt = &outcome(&d).attempts[0];
        assert!(
            attempt.reply.starts_with("(mailcheck gave up"),
            "{attempt:?}"
        );
        assert!(attempt.reply.ends_with(bad));
    }

    #[test]
    fn login_after_starttls_keeps_counting_tags() {
        let mut d = with_plan(Security::StartTls, password_plan("alice"));
        let script = [
            DOVECOT,
            "a1 OK Begin TLS",
            "* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN",
            "a2 OK",
            "a3 OK Logged in",
            "a4 OK",
        ];
        let steps = run(&mut d, &script).unwrap();
        assert!(
            matches!(&steps[3], Step::SendSecret { wire, .. } if wire.starts_with("a3 AUTHENTICATE PLAIN "))
        );
        assert_eq!(steps[4..], [send("a4 LOGOUT\r\n"), Step::Done]);
        assert!(outcome(&d).ok);
    }

    #[test]
    fn no_login_when_preauth_or_starttls_failed() {
        let mut d = with_plan(Security::Tls, password_plan("alice"));
        run(&mut d, &["* PREAUTH [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi"]).unwrap();
        assert!(reason(&d).contains("PREAUTH"), "{}", reason(&d));

        let mut d = with_plan(Security::StartTls, password_plan("alice"));
        let steps = run(&mut d, &["* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi"]).unwrap();
        assert_eq!(steps, [send("a1 LOGOUT\r\n")]);
        assert!(reason(&d).contains("STARTTLS"), "{}", reason(&d));
    }

    #[test]
    fn continuation_to_login_is_unexpected() {
        let mut d = with_plan(Security::Tls, password_plan("alice"));
        run(&mut d, &["* OK [CAPABILITY IMAP4rev1] hi"]).unwrap();
        assert_eq!(d.on_line("+ more"), Err(unexpected(Phase::Auth, "+ more")));
    }
}
