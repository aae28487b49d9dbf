//! The SMTP dialogue: greeting, EHLO (or HELO), optional STARTTLS, optional login
//! and send test, QUIT.
//!
//! Follows RFC 5321: replies are a three-digit code, then `-` on every line but the
//! last and a space (or nothing) on the last, all lines with the same code (§4.2,
//! §4.2.1); the greeting is 220, or 554 / 421 to refuse service (§3.1, §3.8, §4.3.2);
//! EHLO lists one extension keyword per line after the first (§4.1.1.1) and a server
//! that does not know EHLO answers 5xx, after which HELO is the fallback (§3.2);
//! QUIT (§4.1.1.10). STARTTLS follows RFC 3207 §4 (220 to go ahead, 454 when TLS is
//! unavailable) and §4.2 (everything learned before TLS is discarded and EHLO is sent
//! again).
//!
//! With an [`AuthPlan`] the dialogue logs in once the capabilities in force are
//! known (RFC 4954, in `smtp/login.rs`) and, when asked, tests the envelope after a
//! successful login (RFC 5321 §3.3, in `smtp/send.rs`).

use std::fmt;

mod login;
mod send;

use super::auth::{self, LoginState};
use super::{
    AuthPlan, Dialogue, MAX_REPLY_LINES, ProtoError, SendTest, Step, expect_greeting,
    identify_greeting, too_many_lines, unexpected,
};
use crate::model::{Phase, Protocol, Security};
use crate::report::Session;
use crate::report::StartTlsState;

/// An SMTP command; `Display` gives the wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command<'a> {
    Ehlo(&'a str),
    Helo(&'a str),
    StartTls,
    Quit,
}

impl fmt::Display for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Ehlo(name) => write!(f, "EHLO {name}\r\n"),
            Command::Helo(name) => write!(f, "HELO {name}\r\n"),
            Command::StartTls => f.write_str("STARTTLS\r\n"),
            Command::Quit => f.write_str("QUIT\r\n"),
        }
    }
}

/// One complete reply: its code and every line as the server wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    /// All lines joined with "\n", as stored in the [`Session`].
    fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// The text of each line, after the code and its separator.
    fn texts(&self) -> impl Iterator<Item = &str> {
        // Byte 3 of a checked line is ASCII, so 4 is a character boundary.
        self.lines.iter().map(|line| line.get(4..).unwrap_or(""))
    }

    /// The reply class: 2 for success, 4 for transient and 5 for permanent failure.
    fn class(&self) -> u16 {
        self.code / 100
    }
}

/// Splits a reply line into its code and whether it is the last line, or `None`
/// when it is not three digits followed by a space, a hyphen or the end (§4.2).
/// One line of an SMTP reply (RFC 5321 §4.2): a three-digit code, then `-` on
/// every line but the last and a space (or nothing) on the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLine<'a> {
    /// The reply code, e.g. 250.
    pub code: u16,
    /// Whether this is the reply's last line.
    pub last: bool,
    /// What follows the code and its separator.
    pub text: &'a str,
}

impl ReplyLine<'_> {
    /// The code's first digit: 2 success, 3 go on, 4 temporary, 5 permanent
    /// failure (RFC 5321 §4.2.1).
    #[must_use]
    pub fn class(&self) -> u16 {
        self.code / 100
    }
}

/// Reads one SMTP reply line; `None` when it does not start with a reply code.
/// The one parser of reply codes: the dialogue, greeting recognition, refusal
/// explanations and the relay test all read codes through it.
#[must_use]
pub fn parse_reply_line(line: &str) -> Option<ReplyLine<'_>> {
    let bytes = line.as_bytes();
    let digits = bytes.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let code = digits.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0'));
    let last = match bytes.get(3) {
        None | Some(b' ') => true,
        Some(b'-') => false,
        Some(_) => return None,
    };
    // Byte 3 is ASCII (or absent), so 4 is a character boundary.
    let text = line.get(4..).unwrap_or("");
    Some(ReplyLine { code, last, text })
}

/// Collects the lines of a multi-line reply.
#[derive(Debug, Clone, Default)]
struct ReplyReader {
    lines: Vec<String>,
    code: Option<u16>,
}

impl ReplyReader {
    /// Adds `line`; the whole reply once its last line arrived, `None` before.
    fn push(&mut self, line: &str, phase: Phase) -> Result<Option<Reply>, ProtoError> {
        let ReplyLine { code, last, .. } =
            parse_reply_line(line).ok_or_else(|| unexpected(phase, line))?;
        if self.lines.len() >= MAX_REPLY_LINES {
            return Err(too_many_lines(phase));
        }
        if self.code.is_some_and(|first| first != code) {
            return Err(unexpected(phase, line));
        }
        self.code = Some(code);
        self.lines.push(line.to_owned());
        if !last {
            return Ok(None);
        }
        self.code = None;
        let lines = std::mem::take(&mut self.lines);
        Ok(Some(Reply { code, lines }))
    }

    fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Where the dialogue stands: which reply it awaits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    /// STARTTLS was accepted; the TLS handshake is the driver's, no line may arrive.
    Handshake,
    /// AUTH was sent: 334 challenges until 235 or a failure (RFC 4954 §4, §6).
    Auth,
    /// The exchange was abandoned with `*`; waiting for the 501 (RFC 4954 §4).
    AuthCancel,
    /// MAIL FROM was sent (RFC 5321 §4.1.1.2).
    Mail,
    /// RCPT TO was sent (§4.1.1.3).
    Rcpt,
    /// DATA was sent; waiting for 354 (§4.1.1.4).
    Data,
    /// The message and its final dot were sent; waiting for the verdict.
    Message,
    /// RSET was sent (§4.1.1.5).
    Rset,
    /// Waiting for the QUIT reply; `skip` replies to earlier commands come first
    /// (the driver abandoned the dialogue mid-way).
    Quit {
        skip: u8,
    },
    Done,
}

/// An SMTP probe dialogue.
#[derive(Debug, Clone)]
pub struct Smtp {
    security: Security,
    /// The name sent with EHLO/HELO: an address literal such as `[127.0.0.1]`.
    ehlo_name: String,
    state: State,
    /// Whether the STARTTLS upgrade happened.
    upgraded: bool,
    reader: ReplyReader,
    /// The login, when an [`AuthPlan`] was given.
    login: Option<LoginState>,
    /// The envelope test to run after a successful login.
    send_test: Option<SendTest>,
    session: Session,
}

impl Smtp {
    /// A dialogue for a connection protected by `security` (for [`Security::Tls`] the
    /// driver has finished the handshake before the greeting), introducing itself as
    /// `ehlo_name`, e.g. `"[127.0.0.1]"` or `"[IPv6:::1]"` (RFC 5321 §4.1.3).
    #[must_use]
    pub fn new(security: Security, ehlo_name: String) -> Smtp {
        Smtp {
            security,
            ehlo_name,
            state: State::Greeting,
            upgraded: false,
            reader: ReplyReader::default(),
            login: None,
            send_test: None,
            session: Session::default(),
        }
    }

    fn send(&mut self, wire: String, state: State) -> Step {
        self.state = state;
        Step::Send(wire)
    }

    fn ehlo(&mut self) -> Step {
        let wire = Command::Ehlo(&self.ehlo_name).to_string();
        self.send(wire, State::Ehlo)
    }

    fn quit(&mut self) -> Step {
        if let Some(login) = &mut self.login {
            login.skip(auth::reason_to_skip(&self.session));
        }
        self.send(Command::Quit.to_string(), State::Quit { skip: 0 })
    }

    fn refused(&self, reply: &Reply) -> ProtoError {
        ProtoError::Refused {
            phase: self.phase(),
            reply: reply.text(),
        }
    }

    fn unexpected_reply(&self, reply: &Reply) -> ProtoError {
        unexpected(self.phase(), &reply.text())
    }

    fn on_greeting(&mut self, reply: &Reply) -> Result<Step, ProtoError> {
        self.session.greeting = Some(reply.text());
        match reply.code {
            220 => Ok(self.ehlo()),
            // §3.8: 421 means the server closes the connection now.
            421 => {
                self.session.greeting_rejected = Some(reply.text());
                self.state = State::Done;
                Ok(Step::Done)
            }
            // §3.1: after 554 the server waits for QUIT.
            _ if matches!(reply.class(), 4 | 5) => {
                self.session.greeting_rejected = Some(reply.text());
                Ok(self.quit())
            }
            _ => Err(self.unexpected_reply(reply)),
        }
    }

    fn on_ehlo(&mut self, reply: &Reply) -> Result<Step, ProtoError> {
        match (reply.code, reply.class()) {
            (250, _) => {
                self.session.capabilities_supported = true;
                // The first line names the server; each further line is one keyword.
                self.session.capabilities = reply
                    .texts()
                    .skip(1)
                    .filter(|c| !c.trim().is_empty())
                    .map(str::to_owned)
                    .collect();
                Ok(self.after_capabilities())
            }
            (_, 5) => {
                let wire = Command::Helo(&self.ehlo_name).to_string();
                Ok(self.send(wire, State::Helo))
            }
            (_, 4) => Err(self.refused(reply)),
            _ => Err(self.unexpected_reply(reply)),
        }
    }

    fn on_helo(&mut self, reply: &Reply) -> Result<Step, ProtoError> {
        if reply.code != 250 {
            return Err(self.refused(reply));
        }
        self.session.helo_fallback = true;
        self.session.capabilities_supported = false;
        self.session.capabilities.clear();
        Ok(self.after_capabilities())
    }

    fn advertises_starttls(&self) -> bool {
        self.session.capabilities.iter().any(|c| {
            c.split_ascii_whitespace()
                .next()
                .is_some_and(|keyword| keyword.eq_ignore_ascii_case("STARTTLS"))
        })
    }

    fn after_capabilities(&mut self) -> Step {
        if self.security != Security::StartTls || self.upgraded {
            return self.log_in();
        }
        if self.advertises_starttls() {
            self.send(Command::StartTls.to_string(), State::StartTls)
        } else {
            self.session.starttls = StartTlsState::NotAdvertised;
            self.quit()
        }
    }

    fn on_starttls(&mut self, reply: &Reply) -> Step {
        if reply.code == 220 {
            self.session.starttls = StartTlsState::Accepted;
            self.state = State::Handshake;
            Step::StartTls
        } else {
            self.session.starttls = StartTlsState::Refused(reply.text());
            self.quit()
        }
    }

    fn on_quit(&mut self, skip: u8, reply: &Reply) -> Option<Step> {
        if skip > 0 {
            self.state = State::Quit { skip: skip - 1 };
            return None;
        }
        self.session.quit_reply = Some(reply.text());
        self.state = State::Done;
        Some(Step::Done)
    }

    /// One line in: the reply it completes, handled by the state awaiting it.
    fn step(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        match self.state {
            // Nothing may arrive before the TLS handshake (RFC 3207 §4.2: plaintext
            // injected after the 220 must not be taken as coming over TLS), nor
            // after the end.
            State::Handshake | State::Done => return Err(unexpected(self.phase(), line)),
            State::Greeting if self.reader.is_empty() => Smtp::check_greeting(line)?,
            _ => {}
        }
        let Some(reply) = self.reader.push(line, self.phase())? else {
            return Ok(None);
        };
        match self.state {
            State::Greeting => self.on_greeting(&reply).map(Some),
            State::Ehlo => self.on_ehlo(&reply).map(Some),
            State::Helo => self.on_helo(&reply).map(Some),
            State::StartTls => Ok(Some(self.on_starttls(&reply))),
            State::Auth => Ok(Some(self.on_auth(&reply))),
            State::AuthCancel => self.on_auth_cancel(&reply).map(Some),
            State::Mail => Ok(Some(self.on_mail(&reply))),
            State::Rcpt => Ok(Some(self.on_rcpt(&reply))),
            State::Data => Ok(Some(self.on_data(&reply))),
            State::Message => Ok(Some(self.on_message(&reply))),
            State::Rset => Ok(Some(self.quit())),
            State::Quit { skip } => Ok(self.on_quit(skip, &reply)),
            State::Handshake | State::Done => Err(unexpected(self.phase(), line)),
        }
    }

    /// The first greeting line must look like SMTP. FTP servers greet with 220 too;
    /// a greeting that mentions FTP but also (E)SMTP, such as a mail host called
    /// `ftp.example.com`, is still taken as SMTP.
    fn check_greeting(line: &str) -> Result<(), ProtoError> {
        if identify_greeting(line) == Some("FTP") && line.to_ascii_uppercase().contains("SMTP") {
            return Ok(());
        }
        expect_greeting(Protocol::Smtp, line)
    }
}

impl Dialogue for Smtp {
    fn phase(&self) -> Phase {
        match self.state {
            State::Greeting => Phase::Greeting,
            State::Ehlo | State::Helo if self.upgraded => Phase::CapabilitiesAfterTls,
            State::Ehlo | State::Helo => Phase::Capabilities,
            State::StartTls => Phase::StartTls,
            State::Handshake => Phase::Tls,
            State::Auth | State::AuthCancel => Phase::Auth,
            State::Mail | State::Rcpt | State::Data | State::Message | State::Rset => {
                Phase::SendTest
            }
            State::Quit { .. } | State::Done => Phase::Quit,
        }
    }

    fn on_line(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        let step = self.step(line);
        if let Some(login) = &self.login {
            self.session.auth = Some(login.outcome().clone());
        }
        step
    }

    fn after_tls(&mut self) -> Step {
        self.upgraded = true;
        self.reader = ReplyReader::default();
        self.session.discard_pre_tls_capabilities();
        self.ehlo()
    }

    fn quit_command(&mut self) -> String {
        let skip = match self.state {
            State::Greeting
            | State::Ehlo
            | State::Helo
            | State::StartTls
            | State::Auth
            | State::AuthCancel
            | State::Mail
            | State::Rcpt
            | State::Data
            | State::Message
            | State::Rset => 1,
            State::Quit { skip } => skip,
            State::Handshake | State::Done => 0,
        };
        self.state = State::Quit { skip };
        Command::Quit.to_string()
    }

    fn session(&self) -> &Session {
        &self.session
    }

    fn set_relay_test(&mut self, test: SendTest) {
        self.send_test = Some(test);
    }

    fn set_auth(&mut self, plan: AuthPlan) {
        self.send_test.clone_from(&plan.send_test);
        self.login = Some(LoginState::attach(plan, &mut self.session));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::testing::{self, run, send};

    const GREETING: &str = "220 host ESMTP Postfix (Debian/GNU)";
    const EHLO: &str = "EHLO [127.0.0.1]\r\n";
    const BYE: &str = "221 2.0.0 Bye";

    /// Postfix's EHLO reply on a submission port, with or without STARTTLS.
    fn postfix_ehlo(starttls: bool) -> Vec<&'static str> {
        let mut lines = vec!["250-host", "250-PIPELINING", "250-SIZE 10240000"];
        if starttls {
            lines.push("250-STARTTLS");
        }
        lines.extend([
            "250-AUTH PLAIN LOGIN",
            "250-ENHANCEDSTATUSCODES",
            "250 CHUNKING",
        ]);
        lines
    }

    fn transcript(parts: &[&[&'static str]]) -> Vec<&'static str> {
        parts.concat()
    }

    fn smtp(security: Security) -> Smtp {
        Smtp::new(security, "[127.0.0.1]".to_owned())
    }

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|&s| s.to_owned()).collect()
    }

    #[test]
    fn tls_happy_path_lists_keywords_without_the_name_line() {
        let mut d = smtp(Security::Tls);
        let lines = transcript(&[&[GREETING], &postfix_ehlo(false), &[BYE]]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(steps, [send(EHLO), send("QUIT\r\n"), Step::Done]);
        let s = d.session();
        assert_eq!(s.greeting.as_deref(), Some(GREETING));
        assert!(s.capabilities_supported);
        assert!(!s.helo_fallback);
        assert_eq!(
            s.capabilities,
            strings(&[
                "PIPELINING",
                "SIZE 10240000",
                "AUTH PLAIN LOGIN",
                "ENHANCEDSTATUSCODES",
                "CHUNKING"
            ])
        );
        assert_eq!(s.quit_reply.as_deref(), Some(BYE));
        assert_eq!(s.starttls, StartTlsState::NotAttempted);
    }

    #[test]
    fn plain_mode_never_asks_for_starttls() {
        let mut d = smtp(Security::Plain);
        let lines = transcript(&[&[GREETING], &postfix_ehlo(true), &[BYE]]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(steps, [send(EHLO), send("QUIT\r\n"), Step::Done]);
        assert!(d.session().capabilities.contains(&"STARTTLS".to_owned()));
        assert_eq!(d.session().starttls, StartTlsState::NotAttempted);
    }

    #[test]
    fn starttls_upgrade_discards_plaintext_capabilities() {
        let mut d = smtp(Security::StartTls);
        let lines = transcript(&[
            &[GREETING],
            &postfix_ehlo(true),
            &["220 2.0.0 Ready to start TLS"],
            &postfix_ehlo(false),
            &[BYE],
        ]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(
            steps,
            [
                send(EHLO),
                send("STARTTLS\r\n"),
                Step::StartTls,
                send(EHLO),
                send("QUIT\r\n"),
                Step::Done
            ]
        );
        let s = d.session();
        assert_eq!(s.starttls, StartTlsState::Accepted);
        assert!(s.capabilities_before_tls.contains(&"STARTTLS".to_owned()));
        assert!(!s.capabilities.contains(&"STARTTLS".to_owned()));
        assert!(s.capabilities.contains(&"AUTH PLAIN LOGIN".to_owned()));
    }

    #[test]
    fn phases_follow_the_dialogue() {
        let mut d = smtp(Security::StartTls);
        assert_eq!(d.phase(), Phase::Greeting);
        d.on_line(GREETING).unwrap();
        assert_eq!(d.phase(), Phase::Capabilities);
        d.on_line("250-host").unwrap();
        assert_eq!(d.phase(), Phase::Capabilities);
        d.on_line("250 starttls").unwrap();
        assert_eq!(d.phase(), Phase::StartTls);
        assert_eq!(d.on_line("220 go ahead"), Ok(Some(Step::StartTls)));
        assert_eq!(d.phase(), Phase::Tls);
        d.after_tls();
        assert_eq!(d.phase(), Phase::CapabilitiesAfterTls);
        d.on_line("250 host").unwrap();
        assert_eq!(d.phase(), Phase::Quit);
    }

    #[test]
    fn starttls_keyword_is_case_insensitive() {
        let mut d = smtp(Security::StartTls);
        let steps = run(&mut d, &[GREETING, "250-host", "250 StartTLS"]).unwrap();
        assert_eq!(steps, [send(EHLO), send("STARTTLS\r\n")]);
    }

    #[test]
    fn starttls_not_advertised_is_not_tried() {
        let mut d = smtp(Security::StartTls);
        let lines = transcript(&[&[GREETING], &postfix_ehlo(false), &[BYE]]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(steps, [send(EHLO), send("QUIT\r\n"), Step::Done]);
        assert_eq!(d.session().starttls, StartTlsState::NotAdvertised);
    }

    #[test]
    fn starttls_refused_with_454() {
        let mut d = smtp(Security::StartTls);
        let refusal = "454 4.7.0 TLS not available due to local problem";
        let lines = transcript(&[&[GREETING], &postfix_ehlo(true), &[refusal, BYE]]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(
            steps,
            [
                send(EHLO),
                send("STARTTLS\r\n"),
                send("QUIT\r\n"),
                Step::Done
            ]
        );
        assert_eq!(
            d.session().starttls,
            StartTlsState::Refused(refusal.to_owned())
        );
    }

    #[test]
    fn multi_line_greeting_and_quit_reply_are_joined() {
        let mut d = smtp(Security::Tls);
        let steps = run(
            &mut d,
            &[
                "220-mx.example.org ESMTP",
                "220 no UCE",
                "250 mx.example.org",
                "221-Bye",
                "221 see you",
            ],
        )
        .unwrap();
        assert_eq!(steps, [send(EHLO), send("QUIT\r\n"), Step::Done]);
        let s = d.session();
        assert_eq!(
            s.greeting.as_deref(),
            Some("220-mx.example.org ESMTP\n220 no UCE")
        );
        assert!(s.capabilities.is_empty());
        assert_eq!(s.quit_reply.as_deref(), Some("221-Bye\n221 see you"));
    }

    #[test]
    fn greeting_554_is_a_rejection_then_quit() {
        let mut d = smtp(Security::StartTls);
        let line = "554 5.7.1 host: Client host rejected: Access denied";
        let steps = run(&mut d, &[line, BYE]).unwrap();
        assert_eq!(steps, [send("QUIT\r\n"), Step::Done]);
        assert_eq!(d.session().greeting_rejected.as_deref(), Some(line));
        assert_eq!(d.session().starttls, StartTlsState::NotAttempted);
    }

    #[test]
    fn greeting_421_is_a_rejection_and_the_end() {
        let mut d = smtp(Security::Plain);
        let line = "421 4.3.2 Service shutting down";
        assert_eq!(run(&mut d, &[line]).unwrap(), [Step::Done]);
        assert_eq!(d.session().greeting_rejected.as_deref(), Some(line));
        assert_eq!(d.on_line(BYE), Err(unexpected(Phase::Quit, BYE)));
    }

    #[test]
    fn ehlo_rejected_falls_back_to_helo() {
        let mut d = smtp(Security::StartTls);
        let steps = run(
            &mut d,
            &[
                GREETING,
                "502 5.5.2 Error: command not recognized",
                "250 host",
                BYE,
            ],
        )
        .unwrap();
        assert_eq!(
            steps,
            [
                send(EHLO),
                send("HELO [127.0.0.1]\r\n"),
                send("QUIT\r\n"),
                Step::Done
            ]
        );
        let s = d.session();
        assert!(s.helo_fallback);
        assert!(!s.capabilities_supported);
        assert!(s.capabilities.is_empty());
        assert_eq!(s.starttls, StartTlsState::NotAdvertised);
    }

    #[test]
    fn helo_rejected_too_is_refused() {
        let mut d = smtp(Security::Plain);
        run(&mut d, &[GREETING, "500 5.5.1 unknown"]).unwrap();
        assert_eq!(
            d.on_line("501 5.5.4 bad syntax"),
            Err(ProtoError::Refused {
                phase: Phase::Capabilities,
                reply: "501 5.5.4 bad syntax".to_owned()
            })
        );
    }

    #[test]
    fn ehlo_transient_failure_is_refused() {
        let mut d = smtp(Security::Plain);
        run(&mut d, &[GREETING]).unwrap();
        assert_eq!(
            d.on_line("421 4.7.0 too busy"),
            Err(ProtoError::Refused {
                phase: Phase::Capabilities,
                reply: "421 4.7.0 too busy".to_owned()
            })
        );
    }

    #[test]
    fn ipv6_literal_is_sent_as_given() {
        let mut d = Smtp::new(Security::Plain, "[IPv6:::1]".to_owned());
        assert_eq!(
            run(&mut d, &[GREETING]).unwrap(),
            [send("EHLO [IPv6:::1]\r\n")]
        );
    }

    #[test]
    fn inconsistent_multi_line_codes_are_unexpected() {
        let mut d = smtp(Security::Plain);
        run(&mut d, &[GREETING, "250-host"]).unwrap();
        assert_eq!(
            d.on_line("251 CHUNKING"),
            Err(unexpected(Phase::Capabilities, "251 CHUNKING"))
        );
    }

    #[test]
    fn malformed_reply_lines_are_unexpected() {
        for line in [
            "",
            "25",
            "2500 ok",
            "250x",
            "abc",
            "25O ok",
            "250\tok",
            "2\u{e9}0 ok",
        ] {
            let mut d = smtp(Security::Plain);
            run(&mut d, &[GREETING]).unwrap();
            assert_eq!(
                d.on_line(line),
                Err(unexpected(Phase::Capabilities, line)),
                "{line:?}"
            );
        }
    }

    #[test]
    fn bare_code_line_is_a_complete_reply() {
        let mut d = smtp(Security::Plain);
        let steps = run(&mut d, &[GREETING, "250", "221"]).unwrap();
        assert_eq!(steps, [send(EHLO), send("QUIT\r\n"), Step::Done]);
        assert_eq!(d.session().quit_reply.as_deref(), Some("221"));
    }

    fn wrong_protocol(line: &str) -> &'static str {
        testing::wrong_protocol(smtp(Security::Plain), Protocol::Smtp, line)
    }

    #[test]
    fn other_protocols_greetings_are_named() {
        assert_eq!(wrong_protocol("+OK Dovecot (Debian) ready."), "POP3");
        assert_eq!(
            wrong_protocol("* OK [CAPABILITY IMAP4rev1 STARTTLS] Dovecot (Debian) ready."),
            "IMAP"
        );
        assert_eq!(wrong_protocol("SSH-2.0-OpenSSH_9.2"), "SSH");
        assert_eq!(wrong_protocol("HTTP/1.1 400 Bad Request"), "HTTP");
        assert_eq!(wrong_protocol("220 (vsFTPd 3.0.3)"), "FTP");
    }

    #[test]
    fn mail_host_named_ftp_is_still_smtp() {
        let mut d = smtp(Security::Plain);
        let steps = run(&mut d, &["220 ftp.example.com ESMTP Postfix"]).unwrap();
        assert_eq!(steps, [send(EHLO)]);
    }

    #[test]
    fn garbage_or_empty_greeting_is_unexpected() {
        for line in ["", "hello", "22", "220x"] {
            let err = smtp(Security::Plain).on_line(line).unwrap_err();
            assert_eq!(err, unexpected(Phase::Greeting, line), "{line:?}");
        }
    }

    #[test]
    fn success_code_other_than_220_greeting_is_unexpected() {
        let mut d = smtp(Security::Plain);
        assert_eq!(
            d.on_line("250 hello"),
            Err(unexpected(Phase::Greeting, "250 hello"))
        );
    }

    #[test]
    fn lines_during_the_handshake_are_refused() {
        // Response injection: plaintext sent right after "220 Ready to start TLS".
        let mut d = smtp(Security::StartTls);
        run(&mut d, &[GREETING, "250-host", "250 STARTTLS"]).unwrap();
        assert_eq!(d.on_line("220 Ready"), Ok(Some(Step::StartTls)));
        let injected = "250-AUTH PLAIN";
        assert_eq!(d.on_line(injected), Err(unexpected(Phase::Tls, injected)));
    }

    #[test]
    fn endless_multi_line_reply_is_cut_off() {
        let mut d = smtp(Security::Plain);
        run(&mut d, &[GREETING]).unwrap();
        let result = (0..=MAX_REPLY_LINES)
            .map(|_| d.on_line("250-X"))
            .find(Result::is_err);
        assert_eq!(result, Some(Err(too_many_lines(Phase::Capabilities))));
    }

    #[test]
    fn early_quit_mid_reply_skips_the_rest_of_it() {
        let mut d = smtp(Security::Plain);
        run(&mut d, &[GREETING, "250-host", "250-PIPELINING"]).unwrap();
        assert_eq!(d.quit_command(), "QUIT\r\n");
        assert_eq!(d.phase(), Phase::Quit);
        let steps = run(&mut d, &["250 CHUNKING", BYE]).unwrap();
        assert_eq!(steps, [Step::Done]);
        assert_eq!(d.session().quit_reply.as_deref(), Some(BYE));
    }

    #[test]
    fn parse_line_reads_code_and_continuation() {
        let parse = |l| parse_reply_line(l).map(|r| (r.code, r.last));
        assert_eq!(parse("250-PIPELINING"), Some((250, false)));
        assert_eq!(parse("250 CHUNKING"), Some((250, true)));
        assert_eq!(parse("999"), Some((999, true)));
        assert_eq!(parse("\u{1F4E7}"), None);
        assert_eq!(
            parse_reply_line("535-5.7.8 x").map(|r| r.text),
            Some("5.7.8 x")
        );
        assert_eq!(parse_reply_line("25x"), None);
        assert_eq!(parse_reply_line("250x"), None);
    }

    // --- Login and send test -------------------------------------------------------

    use crate::proto::AuthPlan;
    use crate::proto::auth::testing::{
        PASSWORD, TOKEN, assert_secret_hidden, password_plan, token_plan, wires,
    };
    use crate::proto::sasl::{Credentials, Mechanism, Secret};
    use crate::report::AuthOutcome;
    use crate::report::SendOutcome;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    const OK_235: &str = "235 2.7.0 Authentication successful";
    const ALICE: &str = "alice@example.com";

    fn with_plan(plan: AuthPlan) -> Smtp {
        let mut d = smtp(Security::Tls);
        d.set_auth(plan);
        d
    }

    fn outcome(d: &Smtp) -> &AuthOutcome {
        d.session().auth.as_ref().expect("a plan was given")
    }

    fn reason(d: &Smtp) -> String {
        outcome(d).not_attempted.clone().expect("not attempted")
    }

    fn plain_ir(user: &str) -> String {
        STANDARD.encode(format!("\0{user}\0{PASSWORD}"))
    }

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    /// Greeting and an EHLO reply whose only extension is `auth`.
    fn offering(auth: &'static str) -> Vec<&'static str> {
        vec![GREETING, "250-host", "250-PIPELINING", auth]
    }

    fn send_test_plan(message: Option<&str>) -> AuthPlan {
        let mut plan = password_plan(ALICE);
        plan.send_test = Some(SendTest {
            from: ALICE.to_owned(),
            to: ALICE.to_owned(),
            message: message.map(str::to_owned),
        });
        plan
    }

    #[test]
    fn a_relay_test_runs_without_logging_in_and_sends_nothing() {
        let mut d = smtp(Security::Plain);
        d.set_relay_test(SendTest {
            from: ALICE.to_owned(),
            to: "relay-test@example.net".to_owned(),
            message: None,
        });
        let lines = [
            GREETING,
            "250-host",
            "250 PIPELINING",
            "250 2.1.0 Ok",
            "554 5.7.1 <relay-test@example.net>: Relay access denied",
            "250 2.0.0 Ok",
            BYE,
        ];
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(
            steps,
            [
                send(EHLO),
                send(&format!("MAIL FROM:<{ALICE}>\r\n")),
                send("RCPT TO:<relay-test@example.net>\r\n"),
                send("RSET\r\n"),
                send("QUIT\r\n"),
                Step::Done
            ]
        );
        let outcome = d.session().send.as_ref().unwrap();
        assert!(!outcome.accepted);
        assert!(
            outcome
                .rcpt_to
                .as_deref()
                .unwrap()
                .contains("Relay access denied")
        );
        assert!(d.session().auth.is_none(), "no login without a plan");
    }

    #[test]
    fn plain_with_initial_response_logs_in() {
        let mut d = with_plan(password_plan(ALICE));
        let lines = transcript(&[&[GREETING], &postfix_ehlo(false), &[OK_235, BYE]]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(
            steps,
            [
                send(EHLO),
                Step::SendSecret {
                    wire: format!("AUTH PLAIN {}\r\n", plain_ir(ALICE)),
                    shown: "AUTH PLAIN [credentials redacted]".to_owned()
                },
                send("QUIT\r\n"),
                Step::Done
            ]
        );
        assert_secret_hidden(&steps, PASSWORD);
        let o = outcome(&d);
        assert!(o.ok);
        assert_eq!(o.offered, ["PLAIN", "LOGIN"]);
        assert_eq!(o.attempts[0].reply, OK_235);
        assert_eq!(d.session().send, None);
    }

    #[test]
    fn login_mechanism_answers_334_prompts() {
        let mut d = with_plan(password_plan(ALICE));
        let lines = transcript(&[
            &offering("250 AUTH LOGIN"),
            &["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", OK_235, BYE],
        ]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(steps[1], send("AUTH LOGIN\r\n"));
        assert_eq!(
            wires(&steps),
            [
                format!("{}\r\n", b64(ALICE)),
                format!("{}\r\n", b64(PASSWORD))
            ]
        );
        assert!(
            matches!(&steps[3], Step::SendSecret { shown, .. } if shown == "[credentials redacted]")
        );
        assert_eq!(steps[4..], [send("QUIT\r\n"), Step::Done]);
        assert_secret_hidden(&steps, PASSWORD);
        assert!(outcome(&d).ok);
    }

    #[test]
    fn phases_auth_then_send_test_then_quit() {
        let mut d = with_plan(send_test_plan(None));
        run(&mut d, &offering("250 AUTH PLAIN")).unwrap();
        assert_eq!(d.phase(), Phase::Auth);
        run(&mut d, &[OK_235]).unwrap();
        assert_eq!(d.phase(), Phase::SendTest);
        run(&mut d, &["250 ok", "250 ok", "250 ok"]).unwrap();
        assert_eq!(d.phase(), Phase::Quit);
    }

    #[test]
    fn failure_then_retry_with_the_other_username_succeeds() {
        let mut plan = password_plan("alice");
        plan.alt_username = Some(ALICE.to_owned());
        let mut d = with_plan(plan);
        let failed = "535 5.7.8 Error: authentication failed: authentication failure";
        let lines = transcript(&[&offering("250 AUTH PLAIN"), &[failed, OK_235, BYE]]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(
            wires(&steps),
            [
                format!("AUTH PLAIN {}\r\n", plain_ir("alice")),
                format!("AUTH PLAIN {}\r\n", plain_ir(ALICE))
            ]
        );
        assert_eq!(steps[3..], [send("QUIT\r\n"), Step::Done]);
        assert_secret_hidden(&steps, PASSWORD);
        let o = outcome(&d);
        assert!(o.ok);
        let tried: Vec<_> = o
            .attempts
            .iter()
            .map(|a| (a.username.as_str(), a.ok))
            .collect();
        assert_eq!(tried, [("alice", false), (ALICE, true)]);
        assert_eq!(o.attempts[0].reply, failed);
    }

    #[test]
    fn failing_twice_makes_exactly_two_attempts_then_quits() {
        let mut plan = send_test_plan(Some("Subject: x\r\n\r\nhi\r\n"));
        plan.alt_username = Some("alice".to_owned());
        let mut d = with_plan(plan);
        let lines = transcript(&[
            &offering("250 AUTH PLAIN"),
            &["535 5.7.8 no", "535 5.7.8 no"],
        ]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(wires(&steps).len(), 2);
        assert_eq!(steps.last(), Some(&send("QUIT\r\n")));
        assert_eq!(d.phase(), Phase::Quit);
        assert_secret_hidden(&steps, PASSWORD);
        assert_eq!(outcome(&d).attempts.len(), 2);
        assert!(!outcome(&d).ok);
        // No send test after a failed login.
        assert_eq!(d.session().send, None);
    }

    #[test]
    fn basic_auth_disabled_reply_is_kept_verbatim() {
        let mut d = with_plan(password_plan(ALICE));
        let reply = [
            "535-5.7.139 Authentication unsuccessful, basic authentication is disabled.",
            "535 5.7.139 [BN9PR03CA0123.namprd03.prod.outlook.com 2024-05-01T10:00:00.000Z]",
        ];
        let lines = transcript(&[
            &offering("250 AUTH LOGIN XOAUTH2"),
            &["334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6"],
            &reply,
        ]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(steps.last(), Some(&send("QUIT\r\n")));
        assert_secret_hidden(&steps, PASSWORD);
        let attempt = &outcome(&d).attempts[0];
        assert!(!attempt.ok);
        assert_eq!(attempt.reply, reply.join("\n"));
    }

    #[test]
    fn no_auth_advertised_or_nothing_fitting_is_not_attempted() {
        let mut d = with_plan(password_plan(ALICE));
        let steps = run(&mut d, &[GREETING, "250-host", "250 8BITMIME", BYE]).unwrap();
        assert_eq!(steps, [send(EHLO), send("QUIT\r\n"), Step::Done]);
        assert!(
            reason(&d).contains("does not advertise AUTH"),
            "{}",
            reason(&d)
        );

        let mut d = with_plan(password_plan(ALICE));
        run(&mut d, &[GREETING, "502 no EHLO", "250 host"]).unwrap();
        assert!(
            reason(&d).contains("does not advertise AUTH"),
            "{}",
            reason(&d)
        );

        let mut d = with_plan(token_plan(ALICE));
        let steps = run(&mut d, &offering("250 AUTH PLAIN LOGIN")).unwrap();
        assert_eq!(steps.last(), Some(&send("QUIT\r\n")));
        assert!(reason(&d).contains("PLAIN, LOGIN"), "{}", reason(&d));
        assert!(outcome(&d).attempts.is_empty());
    }

    #[test]
    fn old_auth_equals_form_is_understood() {
        let mut d = with_plan(password_plan(ALICE));
        let steps = run(&mut d, &offering("250 AUTH=LOGIN PLAIN")).unwrap();
        assert!(
            matches!(&steps[1], Step::SendSecret { shown, .. } if shown == "AUTH PLAIN [credentials redacted]")
        );
    }

    /// `{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`
    const XOAUTH2_ERROR: &str = "334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";

    #[test]
    fn xoauth2_error_challenge_is_answered_and_recorded() {
        let mut d = with_plan(token_plan(ALICE));
        let failed = [
            "535-5.7.8 Username and Password not accepted. For more information, go to",
            "535 5.7.8  https://support.google.com/mail/?p=BadCredentials",
        ];
        let lines = transcript(&[
            &offering("250 AUTH LOGIN PLAIN XOAUTH2"),
            &[XOAUTH2_ERROR],
            &failed,
        ]);
        let steps = run(&mut d, &lines).unwrap();
        assert!(
            matches!(&steps[1], Step::SendSecret { shown, .. } if shown == "AUTH XOAUTH2 [credentials redacted]")
        );
        assert_eq!(
            steps[2],
            Step::SendSecret {
                wire: "\r\n".to_owned(),
                shown: String::new()
            }
        );
        assert_eq!(steps[3], send("QUIT\r\n"));
        assert_secret_hidden(&steps, TOKEN);
        let attempt = &outcome(&d).attempts[0];
        assert_eq!(attempt.reply, failed.join("\n"));
        let error = attempt.oauth_error.as_ref().unwrap();
        assert_eq!(error.status, "401");
        assert_eq!(error.schemes.as_deref(), Some("bearer"));
    }

    #[test]
    fn a_long_token_waits_for_the_empty_challenge() {
        let long = "t".repeat(600);
        let mut plan = token_plan(ALICE);
        plan.credentials = Credentials::OAuth2 {
            username: ALICE.to_owned(),
            token: Secret::new(long.clone()),
        };
        let mut d = with_plan(plan);
        let lines = transcript(&[&offering("250 AUTH XOAUTH2"), &["334 ", OK_235]]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(steps[1], send("AUTH XOAUTH2\r\n"));
        assert!(wires(&steps)[0].len() > 512);
        assert_secret_hidden(&steps, &long);
        assert!(outcome(&d).ok);
    }

    #[test]
    fn cram_md5_challenge_and_response() {
        let mut plan = password_plan("tim");
        plan.credentials = Credentials::Password {
            username: "tim".to_owned(),
            password: Secret::new("tanstaaftanstaaf"),
        };
        plan.forced = Some(Mechanism::CramMd5);
        let mut d = with_plan(plan);
        let lines = transcript(&[
            &offering("250 AUTH PLAIN CRAM-MD5"),
            &[
                "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
                OK_235,
            ],
        ]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(steps[1], send("AUTH CRAM-MD5\r\n"));
        assert_eq!(
            wires(&steps),
            ["dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"]
        );
        assert_secret_hidden(&steps, "tanstaaftanstaaf");
        assert!(outcome(&d).ok);
    }

    #[test]
    fn endless_challenges_are_cancelled() {
        let mut plan = password_plan(ALICE);
        plan.alt_username = Some("alice".to_owned());
        let mut d = with_plan(plan);
        let mut steps = run(&mut d, &offering("250 AUTH LOGIN")).unwrap();
        for _ in 0..=crate::proto::auth::MAX_CHALLENGES {
            let step = d.on_line("334 UGFzc3dvcmQ6").unwrap().unwrap();
            steps.push(step.clone());
            if step == send("*\r\n") {
                break;
            }
        }
        assert_eq!(steps.last(), Some(&send("*\r\n")));
        let aborted = "501 5.7.0 Authentication aborted";
        assert_eq!(d.on_line(aborted), Ok(Some(send("QUIT\r\n"))));
        assert_secret_hidden(&steps, PASSWORD);
        let o = outcome(&d);
        assert_eq!(o.attempts.len(), 1);
        assert!(o.attempts[0].reply.starts_with("(mailcheck gave up"));
        assert!(o.attempts[0].reply.ends_with(aborted));

        // A challenge in answer to the cancel breaks the protocol.
        let mut d = with_plan(password_plan(ALICE));
        run(&mut d, &offering("250 AUTH PLAIN")).unwrap();
        run(&mut d, &["334 ", "334 ", "334 "]).unwrap_err();
    }

    #[test]
    fn send_test_checks_the_envelope_and_resets() {
        let mut d = with_plan(send_test_plan(None));
        let lines = transcript(&[
            &offering("250 AUTH PLAIN"),
            &[OK_235, "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok", BYE],
        ]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(
            steps[2..],
            [
                send("MAIL FROM:<alice@example.com>\r\n"),
                send("RCPT TO:<alice@example.com>\r\n"),
                send("RSET\r\n"),
                send("QUIT\r\n"),
                Step::Done
            ]
        );
        assert_secret_hidden(&steps, PASSWORD);
        assert_eq!(
            d.session().send,
            Some(SendOutcome {
                mail_from: Some("250 2.1.0 Ok".to_owned()),
                rcpt_to: Some("250 2.1.5 Ok".to_owned()),
                accepted: true,
                data: None,
            })
        );
    }

    #[test]
    fn send_test_delivers_a_dot_stuffed_message() {
        let message = "Subject: test\r\n\r\n.hidden\r\n..two\nbare lf\r\nend";
        let mut d = with_plan(send_test_plan(Some(message)));
        let queued = "250 2.0.0 Ok: queued as 4F1A2B";
        let lines = transcript(&[
            &offering("250 AUTH PLAIN"),
            &[
                OK_235,
                "250 ok",
                "250 ok",
                "354 End data with <CR><LF>.<CR><LF>",
                queued,
                BYE,
            ],
        ]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(
            steps[4..],
            [
                send("DATA\r\n"),
                send("Subject: test\r\n\r\n..hidden\r\n...two\r\nbare lf\r\nend\r\n.\r\n"),
                send("QUIT\r\n"),
                Step::Done
            ]
        );
        assert_secret_hidden(&steps, PASSWORD);
        let sent = d.session().send.as_ref().unwrap();
        assert!(sent.accepted);
        assert_eq!(sent.data.as_deref(), Some(queued));
    }

    #[test]
    fn refused_envelope_never_reaches_data() {
        let mut d = with_plan(send_test_plan(Some("hi\r\n")));
        let refused = "553 5.7.1 <alice@example.com>: Sender address rejected: not owned by user";
        let lines = transcript(&[&offering("250 AUTH PLAIN"), &[OK_235, refused, "250 ok"]]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(
            steps[2..],
            [
                send("MAIL FROM:<alice@example.com>\r\n"),
                send("RSET\r\n"),
                send("QUIT\r\n")
            ]
        );
        let sent = d.session().send.as_ref().unwrap();
        assert!(!sent.accepted);
        assert_eq!(sent.mail_from.as_deref(), Some(refused));
        assert_eq!(sent.rcpt_to, None);

        let mut d = with_plan(send_test_plan(Some("hi\r\n")));
        let relay = "554 5.7.1 Relay access denied";
        let lines = transcript(&[
            &offering("250 AUTH PLAIN"),
            &[OK_235, "250 ok", relay, "250 ok"],
        ]);
        let steps = run(&mut d, &lines).unwrap();
        assert!(!steps.contains(&send("DATA\r\n")));
        assert_eq!(steps.last(), Some(&send("QUIT\r\n")));
        assert_eq!(
            d.session().send.as_ref().unwrap().rcpt_to.as_deref(),
            Some(relay)
        );
    }

    #[test]
    fn data_refused_is_recorded_then_reset() {
        let mut d = with_plan(send_test_plan(Some("hi\r\n")));
        let refused = "554 5.5.1 Error: no valid recipients";
        let lines = transcript(&[
            &offering("250 AUTH PLAIN"),
            &[OK_235, "250 ok", "250 ok", refused],
        ]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(steps.last(), Some(&send("RSET\r\n")));
        assert_eq!(
            d.session().send.as_ref().unwrap().data.as_deref(),
            Some(refused)
        );
    }

    #[test]
    fn addresses_that_could_inject_commands_are_not_sent() {
        let mut plan = send_test_plan(None);
        if let Some(test) = &mut plan.send_test {
            test.to = "bob@example.com>\r\nRCPT TO:<victim@example.org".to_owned();
        }
        let mut d = with_plan(plan);
        let steps = run(
            &mut d,
            &transcript(&[&offering("250 AUTH PLAIN"), &[OK_235]]),
        )
        .unwrap();
        assert_eq!(steps.last(), Some(&send("QUIT\r\n")));
        let sent = d.session().send.as_ref().unwrap();
        assert!(!sent.accepted);
        assert!(
            sent.mail_from
                .as_deref()
                .unwrap()
                .starts_with("(mailcheck did not send")
        );
    }

    #[test]
    fn login_waits_for_the_ehlo_after_starttls() {
        let mut d = smtp(Security::StartTls);
        d.set_auth(password_plan(ALICE));
        let lines = transcript(&[
            &[GREETING],
            &postfix_ehlo(true),
            &["220 2.0.0 Ready to start TLS"],
            &postfix_ehlo(false),
            &[OK_235],
        ]);
        let steps = run(&mut d, &lines).unwrap();
        assert_eq!(
            steps[..4],
            [send(EHLO), send("STARTTLS\r\n"), Step::StartTls, send(EHLO)]
        );
        assert!(matches!(steps[4], Step::SendSecret { .. }));
        assert!(outcome(&d).ok);

        let mut d = smtp(Security::StartTls);
        d.set_auth(password_plan(ALICE));
        run(
            &mut d,
            &transcript(&[&[GREETING], &postfix_ehlo(true), &["454 4.7.0 no TLS"]]),
        )
        .unwrap();
        assert!(reason(&d).contains("STARTTLS"), "{}", reason(&d));
    }

    #[test]
    fn data_block_normalises_line_ends_and_stuffs_dots() {
        assert_eq!(send::data_block(""), ".\r\n");
        assert_eq!(send::data_block("a\r\n"), "a\r\n.\r\n");
        assert_eq!(send::data_block("."), "..\r\n.\r\n");
        // A smuggled end of data with bare line ends stays inside the message.
        assert_eq!(
            send::data_block("a\n.\nMAIL FROM:<x>\r.\r\nb"),
            "a\r\n..\r\nMAIL FROM:<x>\r\n..\r\nb\r\n.\r\n"
        );
    }
}
