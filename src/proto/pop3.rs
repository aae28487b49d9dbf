//! The POP3 dialogue: greeting, CAPA, optional STLS, optional login, QUIT.
//!
//! Follows RFC 1939 (status indicators §3, greeting §4, QUIT §6, multi-line
//! responses and byte-stuffing §3), RFC 2449 (CAPA, §5; a server that does not know it
//! answers `-ERR`) and RFC 2595 §4 (STLS; capabilities learned before TLS are
//! discarded, §4 and §3.1). Status indicators are case-sensitive per RFC 1939, but
//! they are read leniently here: a probe reports what servers do, it does not police
//! them.
//!
//! With an [`AuthPlan`] the dialogue logs in once the capabilities in force are
//! known: `AUTH` with the strongest fitting SASL mechanism (RFC 5034 §4; the initial
//! response on the command line when it fits in 255 octets, challenges as `+ `
//! lines, `*` to cancel), or else `USER`/`PASS` (RFC 1939 §7) when the credentials
//! are a password and CAPA lists USER or is unsupported (RFC 2449 §6.4).

use std::fmt;

use super::auth::{self, After, LoginState, Method};
use super::{
    AuthPlan, Dialogue, MAX_REPLY_LINES, ProtoError, Step, expect_greeting, too_many_lines,
    unexpected,
};
use crate::model::{Phase, Protocol, Security};
use crate::report::Session;
use crate::report::StartTlsState;

/// A POP3 command; `Display` gives the wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    /// RFC 2449 §5.
    Capa,
    /// RFC 2595 §4.
    Stls,
    /// RFC 1939 §6.
    Quit,
}

/// The report's name for the USER/PASS login (RFC 1939 §7).
const USER_PASS: &str = "USER/PASS";

/// RFC 5034 §4 (after RFC 2449 §4): an AUTH command line, CRLF included, is at most
/// 255 octets; a longer initial response waits for the server's empty challenge.
const MAX_AUTH_LINE: usize = 255;

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Command::Capa => "CAPA\r\n",
            Command::Stls => "STLS\r\n",
            Command::Quit => "QUIT\r\n",
        })
    }
}

/// The first line of a POP3 reply: `+OK` or `-ERR` (RFC 1939 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Err,
}

impl Status {
    /// The status of `line`, or `None` when it is no status line.
    fn of(line: &str) -> Option<Status> {
        let starts = |prefix: &str| {
            line.get(..prefix.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
        };
        if starts("+OK") {
            Some(Status::Ok)
        } else if starts("-ERR") {
            Some(Status::Err)
        } else {
            None
        }
    }
}

/// Where the dialogue stands: which reply it awaits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Greeting,
    /// The status line answering CAPA.
    CapaStatus,
    /// The capability lines after `+OK`, up to the terminating ".".
    CapaList,
    Stls,
    /// STLS was accepted; the TLS handshake is the driver's, no line may arrive.
    Handshake,
    /// AUTH was sent: `+ ` challenges until `+OK` or `-ERR` (RFC 5034 §4).
    Auth,
    /// The exchange was abandoned with `*`; waiting for the `-ERR`.
    AuthCancel,
    /// USER was sent (RFC 1939 §7).
    User,
    /// PASS was sent.
    Pass,
    /// Waiting for the QUIT reply. `skip` status lines answer earlier commands
    /// (the driver abandoned the dialogue mid-way) and come first.
    Quit {
        skip: u8,
    },
    Done,
}

/// A POP3 probe dialogue.
#[derive(Debug, Clone)]
pub struct Pop3 {
    security: Security,
    state: State,
    /// Whether the STARTTLS upgrade happened (capabilities now come over TLS).
    upgraded: bool,
    /// Lines of the current multi-line reply, or lines ignored while quitting.
    lines_read: usize,
    /// The login, when an [`AuthPlan`] was given.
    login: Option<LoginState>,
    session: Session,
}

impl Pop3 {
    /// A dialogue for a connection protected by `security` (for [`Security::Tls`] the
    /// driver has finished the handshake before the greeting).
    #[must_use]
    pub fn new(security: Security) -> Pop3 {
        Pop3 {
            security,
            state: State::Greeting,
            upgraded: false,
            lines_read: 0,
            login: None,
            session: Session::default(),
        }
    }

    fn send(&mut self, command: Command, state: State) -> Step {
        self.state = state;
        Step::Send(command.to_string())
    }

    fn quit(&mut self) -> Step {
        if let Some(login) = &mut self.login {
            login.skip(auth::reason_to_skip(&self.session));
        }
        self.send(Command::Quit, State::Quit { skip: 0 })
    }

    fn on_greeting(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        expect_greeting(Protocol::Pop3, line)?;
        self.session.greeting = Some(line.to_owned());
        match Status::of(line) {
            Some(Status::Ok) => Ok(Some(self.send(Command::Capa, State::CapaStatus))),
            Some(Status::Err) => {
                self.session.greeting_rejected = Some(line.to_owned());
                Ok(Some(self.quit()))
            }
            None => Err(unexpected(Phase::Greeting, line)),
        }
    }

    fn on_capa_status(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        match Status::of(line) {
            Some(Status::Ok) => {
                self.session.capabilities_supported = true;
                self.lines_read = 0;
                self.state = State::CapaList;
                Ok(None)
            }
            // RFC 2449 §5: a server without CAPA says -ERR; nothing is known, so a
            // STLS request is the only way to find out (RFC 2595 §4 predates CAPA).
            Some(Status::Err) => {
                self.session.capabilities_supported = false;
                if self.wants_starttls() {
                    Ok(Some(self.send(Command::Stls, State::Stls)))
                } else {
                    Ok(Some(self.log_in()))
                }
            }
            None => Err(unexpected(self.phase(), line)),
        }
    }

    fn on_capa_line(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        if line == "." {
            // The list ended normally: nothing is left over for the QUIT reply.
            self.lines_read = 0;
            return Ok(Some(self.after_capabilities()));
        }
        self.lines_read += 1;
        if self.lines_read > MAX_REPLY_LINES {
            return Err(too_many_lines(self.phase()));
        }
        // RFC 1939 §3: a line starting with "." was byte-stuffed.
        let capability = line.strip_prefix('.').unwrap_or(line);
        if !capability.trim().is_empty() {
            self.session.capabilities.push(capability.to_owned());
        }
        Ok(None)
    }

    /// Whether the dialogue still has to ask for STLS.
    fn wants_starttls(&self) -> bool {
        self.security == Security::StartTls && !self.upgraded
    }

    fn advertises_stls(&self) -> bool {
        self.session.capabilities.iter().any(|c| {
            c.split_ascii_whitespace()
                .next()
                .is_some_and(|keyword| keyword.eq_ignore_ascii_case("STLS"))
        })
    }

    fn after_capabilities(&mut self) -> Step {
        if !self.wants_starttls() {
            return self.log_in();
        }
        if self.advertises_stls() {
            self.send(Command::Stls, State::Stls)
        } else {
            self.session.starttls = StartTlsState::NotAdvertised;
            self.quit()
        }
    }

    fn on_stls(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        match Status::of(line) {
            Some(Status::Ok) => {
                self.session.starttls = StartTlsState::Accepted;
                self.state = State::Handshake;
                Ok(Some(Step::StartTls))
            }
            Some(Status::Err) => {
                self.session.starttls = StartTlsState::Refused(line.to_owned());
                Ok(Some(self.quit()))
            }
            None => Err(unexpected(Phase::StartTls, line)),
        }
    }

    /// The capabilities in force are known: log in when a plan says so, then QUIT.
    fn log_in(&mut self) -> Step {
        let allows_user = self.allows_user_pass();
        let Some(login) = &mut self.login else {
            return self.quit();
        };
        match login.choose(Protocol::Pop3, &self.session.capabilities) {
            Ok(mechanism) => self.start(Method::Sasl(mechanism)),
            Err(_) if allows_user => self.start(Method::Password(USER_PASS)),
            Err(e) => {
                let also = if login.password_command_allowed() {
                    "; CAPA does not list USER either"
                } else {
                    ""
                };
                login.skip(format!("{e}{also}"));
                self.quit()
            }
        }
    }

    /// USER/PASS may stand in for SASL: a password, no forced mechanism, and CAPA
    /// lists USER (RFC 2449 §6.4) or is unsupported (RFC 1939 servers).
    fn allows_user_pass(&self) -> bool {
        let lists_user = self
            .session
            .capabilities
            .iter()
            .any(|c| c.trim().eq_ignore_ascii_case("USER"));
        self.login
            .as_ref()
            .is_some_and(LoginState::password_command_allowed)
            && (lists_user || !self.session.capabilities_supported)
    }

    /// Sends the first command of an attempt with `method`.
    fn start(&mut self, method: Method) -> Step {
        let Some(login) = &mut self.login else {
            return self.quit();
        };
        match (login.start(method), method) {
            (Err(reason), _) => {
                login.skip(reason);
                self.quit()
            }
            (Ok(initial), Method::Sasl(mechanism)) => {
                self.state = State::Auth;
                auth::sasl_command("AUTH", mechanism, initial.as_ref(), MAX_AUTH_LINE)
            }
            (Ok(_), Method::Password(_)) => {
                self.state = State::User;
                Step::Send(format!("USER {}\r\n", login.username()))
            }
        }
    }

    /// A line during AUTH: a challenge to answer, or the final status.
    fn on_auth(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        if let Some(challenge) = auth::continuation(line) {
            return Ok(Some(self.answer(challenge)));
        }
        match Status::of(line) {
            Some(status) => Ok(Some(self.attempt_ended(status == Status::Ok, line))),
            None => Err(unexpected(Phase::Auth, line)),
        }
    }

    fn answer(&mut self, challenge: &str) -> Step {
        let Some(login) = &mut self.login else {
            return self.quit();
        };
        match login.challenge(challenge) {
            Ok(wire) => auth::response(&wire),
            Err(reason) => {
                login.give_up(reason);
                self.state = State::AuthCancel;
                auth::cancel()
            }
        }
    }

    /// The server's answer to `*` (RFC 5034 §4: `-ERR`), then QUIT.
    fn on_auth_cancel(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        if Status::of(line).is_none() {
            return Err(unexpected(Phase::Auth, line));
        }
        if let Some(login) = &mut self.login {
            login.cancelled(line);
        }
        Ok(Some(self.quit()))
    }

    /// The reply to USER: `+OK` asks for PASS, `-ERR` ends the attempt.
    fn on_user(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        match (
            Status::of(line),
            self.login.as_ref().and_then(LoginState::password),
        ) {
            (Some(Status::Ok), Some(password)) => {
                let step = auth::secret_command("PASS ", password);
                self.state = State::Pass;
                Ok(Some(step))
            }
            (Some(_), _) => Ok(Some(self.attempt_ended(false, line))),
            (None, _) => Err(unexpected(Phase::Auth, line)),
        }
    }

    fn on_pass(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        match Status::of(line) {
            Some(status) => Ok(Some(self.attempt_ended(status == Status::Ok, line))),
            None => Err(unexpected(Phase::Auth, line)),
        }
    }

    /// After an attempt: one retry with the other username form, else QUIT (a
    /// server that hangs up after a failure then does so in the Quit phase).
    fn attempt_ended(&mut self, ok: bool, line: &str) -> Step {
        let after = self.login.as_mut().map(|l| l.finish(ok, line.to_owned()));
        match after {
            Some(After::Retry(method)) => self.start(method),
            Some(After::Done(_)) | None => self.quit(),
        }
    }

    /// The QUIT reply (RFC 1939 §6). After an early abandon, replies to earlier
    /// commands and the rest of a capability list may come first; they are skipped.
    fn on_quit(&mut self, skip: u8, line: &str) -> Result<Option<Step>, ProtoError> {
        let abandoned = skip > 0 || self.lines_read > 0;
        match Status::of(line) {
            Some(_) if skip > 0 => {
                self.state = State::Quit { skip: skip - 1 };
                Ok(None)
            }
            Some(_) => {
                self.session.quit_reply = Some(line.to_owned());
                self.state = State::Done;
                Ok(Some(Step::Done))
            }
            None if abandoned && self.lines_read <= MAX_REPLY_LINES => {
                self.lines_read += 1;
                Ok(None)
            }
            None => Err(unexpected(Phase::Quit, line)),
        }
    }
}

impl Dialogue for Pop3 {
    fn phase(&self) -> Phase {
        match self.state {
            State::Greeting => Phase::Greeting,
            State::CapaStatus | State::CapaList if self.upgraded => Phase::CapabilitiesAfterTls,
            State::CapaStatus | State::CapaList => Phase::Capabilities,
            State::Stls => Phase::StartTls,
            State::Handshake => Phase::Tls,
            State::Auth | State::AuthCancel | State::User | State::Pass => Phase::Auth,
            State::Quit { .. } | State::Done => Phase::Quit,
        }
    }

    fn on_line(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        let step = match self.state {
            State::Greeting => self.on_greeting(line),
            State::CapaStatus => self.on_capa_status(line),
            State::CapaList => self.on_capa_line(line),
            State::Stls => self.on_stls(line),
            State::Auth => self.on_auth(line),
            State::AuthCancel => self.on_auth_cancel(line),
            State::User => self.on_user(line),
            State::Pass => self.on_pass(line),
            State::Quit { skip } => self.on_quit(skip, line),
            // Nothing may arrive before the TLS handshake (RFC 2595 §4: the client
            // must discard anything the server sent in plaintext), nor after the end.
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
        self.state = State::CapaStatus;
        Step::Send(Command::Capa.to_string())
    }

    fn quit_command(&mut self) -> String {
        let (skip, lines_read) = match self.state {
            State::Greeting
            | State::CapaStatus
            | State::Stls
            | State::Auth
            | State::AuthCancel
            | State::User
            | State::Pass => (1, 0),
            // The rest of the list comes first: count it as lines already ignored so
            // that the quit state knows it is not the normal end of the dialogue.
            State::CapaList => (0, 1),
            State::Quit { skip } => (skip, self.lines_read),
            State::Handshake | State::Done => (0, 0),
        };
        self.lines_read = lines_read;
        self.state = State::Quit { skip };
        Command::Quit.to_string()
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

    const GREETING: &str = "+OK Dovecot (Debian) ready.";

    fn caps(list: &[&str]) -> Vec<String> {
        list.iter().map(|&s| s.to_owned()).collect()
    }

    #[test]
    fn tls_happy_path_reads_capa_and_quits() {
        let mut d = Pop3::new(Security::Tls);
        let steps = run(
            &mut d,
            &[
                GREETING,
                "+OK",
                "CAPA",
                "TOP",
                "UIDL",
                "RESP-CODES",
                "PIPELINING",
                "AUTH-RESP-CODE",
                "USER",
                "SASL PLAIN",
                ".",
                "+OK Logging out",
            ],
        )
        .unwrap();
        assert_eq!(steps, [send("CAPA\r\n"), send("QUIT\r\n"), Step::Done]);
        let s = d.session();
        assert_eq!(s.greeting.as_deref(), Some(GREETING));
        assert!(s.capabilities_supported);
        assert!(s.capabilities.contains(&"SASL PLAIN".to_owned()));
        assert_eq!(s.capabilities.len(), 8);
        assert_eq!(s.starttls, StartTlsState::NotAttempted);
        assert_eq!(s.quit_reply.as_deref(), Some("+OK Logging out"));
    }

    #[test]
    fn phases_follow_the_dialogue() {
        let mut d = Pop3::new(Security::StartTls);
        assert_eq!(d.phase(), Phase::Greeting);
        d.on_line(GREETING).unwrap();
        assert_eq!(d.phase(), Phase::Capabilities);
        d.on_line("+OK").unwrap();
        d.on_line("STLS").unwrap();
        assert_eq!(d.phase(), Phase::Capabilities);
        d.on_line(".").unwrap();
        assert_eq!(d.phase(), Phase::StartTls);
        assert_eq!(d.on_line("+OK Begin TLS").unwrap(), Some(Step::StartTls));
        assert_eq!(d.phase(), Phase::Tls);
        d.after_tls();
        assert_eq!(d.phase(), Phase::CapabilitiesAfterTls);
        d.on_line("-ERR").unwrap();
        assert_eq!(d.phase(), Phase::Quit);
    }

    #[test]
    fn plain_mode_never_asks_for_stls_even_when_advertised() {
        let mut d = Pop3::new(Security::Plain);
        let steps = run(&mut d, &[GREETING, "+OK", "STLS", "USER", ".", "+OK"]).unwrap();
        assert_eq!(steps, [send("CAPA\r\n"), send("QUIT\r\n"), Step::Done]);
        assert_eq!(d.session().starttls, StartTlsState::NotAttempted);
    }

    #[test]
    fn starttls_upgrade_discards_plaintext_capabilities() {
        let mut d = Pop3::new(Security::StartTls);
        let steps = run(
            &mut d,
            &[
                GREETING,
                "+OK",
                "USER",
                "STLS",
                ".",
                "+OK Begin TLS negotiation now.",
                "+OK",
                "USER",
                "SASL PLAIN LOGIN",
                ".",
                "+OK Logging out.",
            ],
        )
        .unwrap();
        assert_eq!(
            steps,
            [
                send("CAPA\r\n"),
                send("STLS\r\n"),
                Step::StartTls,
                send("CAPA\r\n"),
                send("QUIT\r\n"),
                Step::Done
            ]
        );
        let s = d.session();
        assert_eq!(s.starttls, StartTlsState::Accepted);
        assert_eq!(s.capabilities_before_tls, caps(&["USER", "STLS"]));
        assert_eq!(s.capabilities, caps(&["USER", "SASL PLAIN LOGIN"]));
    }

    #[test]
    fn stls_not_advertised_is_not_tried() {
        let mut d = Pop3::new(Security::StartTls);
        let steps = run(&mut d, &[GREETING, "+OK", "USER", "TOP", ".", "+OK"]).unwrap();
        assert_eq!(steps, [send("CAPA\r\n"), send("QUIT\r\n"), Step::Done]);
        assert_eq!(d.session().starttls, StartTlsState::NotAdvertised);
    }

    #[test]
    fn stls_refused_is_recorded_and_quits() {
        let mut d = Pop3::new(Security::StartTls);
        let refusal = "-ERR [SYS/TEMP] TLS support isn't enabled.";
        let steps = run(&mut d, &[GREETING, "+OK", "stls", ".", refusal, "+OK"]).unwrap();
        assert_eq!(
            steps,
            [
                send("CAPA\r\n"),
                send("STLS\r\n"),
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
    fn capa_unsupported_still_tries_stls() {
        let mut d = Pop3::new(Security::StartTls);
        let steps = run(&mut d, &[GREETING, "-ERR Unknown command", "+OK Begin TLS"]).unwrap();
        assert_eq!(
            steps,
            [
                send("CAPA\r\n"),
                send("STLS\r\n"),
                Step::StartTls,
                send("CAPA\r\n")
            ]
        );
        assert!(!d.session().capabilities_supported);
        assert!(d.session().capabilities_before_tls.is_empty());
    }

    #[test]
    fn capa_unsupported_in_tls_mode_just_quits() {
        let mut d = Pop3::new(Security::Tls);
        let steps = run(&mut d, &[GREETING, "-ERR no CAPA here", "+OK bye"]).unwrap();
        assert_eq!(steps, [send("CAPA\r\n"), send("QUIT\r\n"), Step::Done]);
        assert!(!d.session().capabilities_supported);
        assert!(d.session().capabilities.is_empty());
    }

    #[test]
    fn dot_stuffed_capability_lines_are_unstuffed() {
        let mut d = Pop3::new(Security::Tls);
        run(
            &mut d,
            &[GREETING, "+OK", "..X-DOTTED", ".SINGLE", "USER", "."],
        )
        .unwrap();
        assert_eq!(
            d.session().capabilities,
            caps(&[".X-DOTTED", "SINGLE", "USER"])
        );
        assert_eq!(d.phase(), Phase::Quit);
    }

    #[test]
    fn empty_capability_lines_are_skipped() {
        let mut d = Pop3::new(Security::Tls);
        run(&mut d, &[GREETING, "+OK", "", "USER", "   ", "."]).unwrap();
        assert_eq!(d.session().capabilities, caps(&["USER"]));
    }

    #[test]
    fn apop_greeting_is_accepted() {
        let greeting = "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>";
        let mut d = Pop3::new(Security::Plain);
        let steps = run(&mut d, &[greeting]).unwrap();
        assert_eq!(steps, [send("CAPA\r\n")]);
        assert_eq!(d.session().greeting.as_deref(), Some(greeting));
    }

    #[test]
    fn lowercase_status_is_read_leniently() {
        let mut d = Pop3::new(Security::Tls);
        let steps = run(&mut d, &["+ok hello", "+ok", ".", "+ok"]).unwrap();
        assert_eq!(steps.last(), Some(&Step::Done));
    }

    #[test]
    fn err_greeting_is_a_rejection() {
        let mut d = Pop3::new(Security::StartTls);
        let line = "-ERR [SYS/TEMP] Too many connections";
        let steps = run(&mut d, &[line, "+OK"]).unwrap();
        assert_eq!(steps, [send("QUIT\r\n"), Step::Done]);
        assert_eq!(d.session().greeting_rejected.as_deref(), Some(line));
        assert_eq!(d.session().starttls, StartTlsState::NotAttempted);
    }

    fn wrong_protocol(line: &str) -> &'static str {
        testing::wrong_protocol(Pop3::new(Security::Plain), Protocol::Pop3, line)
    }

    #[test]
    fn other_protocols_greetings_are_named() {
        assert_eq!(
            wrong_protocol("* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS] Dovecot (Debian) ready."),
            "IMAP"
        );
        assert_eq!(
            wrong_protocol("220 host ESMTP Postfix (Debian/GNU)"),
            "SMTP"
        );
        assert_eq!(wrong_protocol("220 (vsFTPd 3.0.3)"), "FTP");
        assert_eq!(wrong_protocol("SSH-2.0-OpenSSH_9.2"), "SSH");
        assert_eq!(wrong_protocol("HTTP/1.1 400 Bad Request"), "HTTP");
    }

    #[test]
    fn garbage_or_empty_greeting_is_unexpected() {
        for line in ["", "hello there", "\u{1F4E7}+OK", "+"] {
            let err = Pop3::new(Security::Plain).on_line(line).unwrap_err();
            assert_eq!(err, unexpected(Phase::Greeting, line), "{line:?}");
        }
    }

    #[test]
    fn garbage_status_replies_are_unexpected() {
        let mut d = Pop3::new(Security::StartTls);
        run(&mut d, &[GREETING]).unwrap();
        assert_eq!(
            d.on_line("OK fine"),
            Err(unexpected(Phase::Capabilities, "OK fine"))
        );

        let mut d = Pop3::new(Security::StartTls);
        run(&mut d, &[GREETING, "+OK", "STLS", "."]).unwrap();
        assert_eq!(d.on_line(""), Err(unexpected(Phase::StartTls, "")));
    }

    #[test]
    fn lines_during_the_handshake_are_refused() {
        // A server (or attacker) injecting plaintext after "+OK" to STLS.
        let mut d = Pop3::new(Security::StartTls);
        run(&mut d, &[GREETING, "-ERR"]).unwrap();
        assert_eq!(d.on_line("+OK Begin TLS"), Ok(Some(Step::StartTls)));
        assert_eq!(
            d.on_line("+OK injected"),
            Err(unexpected(Phase::Tls, "+OK injected"))
        );
    }

    #[test]
    fn endless_capability_list_is_cut_off() {
        let mut d = Pop3::new(Security::Tls);
        run(&mut d, &[GREETING, "+OK"]).unwrap();
        let mut result = Ok(None);
        for _ in 0..=MAX_REPLY_LINES {
            result = d.on_line("X");
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(too_many_lines(Phase::Capabilities)));
    }

    #[test]
    fn garbage_quit_reply_is_unexpected_and_lines_after_done_too() {
        let mut d = Pop3::new(Security::Tls);
        run(&mut d, &[GREETING, "-ERR"]).unwrap();
        assert_eq!(d.on_line("bye"), Err(unexpected(Phase::Quit, "bye")));

        let mut d = Pop3::new(Security::Tls);
        run(&mut d, &[GREETING, "-ERR", "+OK"]).unwrap();
        assert_eq!(d.on_line("+OK"), Err(unexpected(Phase::Quit, "+OK")));
    }

    #[test]
    fn early_quit_during_capa_list_skips_the_rest() {
        let mut d = Pop3::new(Security::Tls);
        run(&mut d, &[GREETING, "+OK", "USER"]).unwrap();
        assert_eq!(d.quit_command(), "QUIT\r\n");
        assert_eq!(d.phase(), Phase::Quit);
        let steps = run(&mut d, &["TOP", ".", "+OK Logging out."]).unwrap();
        assert_eq!(steps, [Step::Done]);
        assert_eq!(d.session().quit_reply.as_deref(), Some("+OK Logging out."));
    }

    #[test]
    fn early_quit_before_greeting_skips_the_greeting() {
        let mut d = Pop3::new(Security::Plain);
        assert_eq!(d.quit_command(), "QUIT\r\n");
        assert_eq!(run(&mut d, &[GREETING]).unwrap(), []);
        assert_eq!(run(&mut d, &["+OK bye"]).unwrap(), [Step::Done]);
        assert_eq!(d.session().quit_reply.as_deref(), Some("+OK bye"));
    }

    // --- Login ---------------------------------------------------------------------

    use crate::proto::AuthPlan;
    use crate::proto::auth::testing::{
        PASSWORD, TOKEN, assert_secret_hidden, password_plan, token_plan, wires,
    };
    use crate::proto::sasl::{Credentials, Secret};
    use crate::report::AuthOutcome;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    const CAPA_SASL: [&str; 5] = ["+OK", "USER", "SASL PLAIN LOGIN", "TOP", "."];

    fn with_plan(security: Security, plan: AuthPlan) -> Pop3 {
        let mut d = Pop3::new(security);
        d.set_auth(plan);
        d
    }

    fn outcome(d: &Pop3) -> &AuthOutcome {
        d.session().auth.as_ref().expect("a plan was given")
    }

    fn lines<'a>(parts: &[&[&'a str]]) -> Vec<&'a str> {
        parts.concat()
    }

    fn b64(s: &str) -> String {
        STANDARD.encode(s)
    }

    #[test]
    fn plain_with_initial_response_logs_in() {
        let mut d = with_plan(Security::Tls, password_plan("alice"));
        let script = lines(&[&[GREETING], &CAPA_SASL, &["+OK Logged in.", "+OK bye"]]);
        let steps = run(&mut d, &script).unwrap();
        let ir = b64(&format!("\0alice\0{PASSWORD}"));
        assert_eq!(
            steps,
            [
                send("CAPA\r\n"),
                Step::SendSecret {
                    wire: format!("AUTH PLAIN {ir}\r\n"),
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
        assert_eq!(o.not_attempted, None);
        assert_eq!(o.attempts.len(), 1);
        assert_eq!(o.attempts[0].mechanism, "PLAIN");
        assert_eq!(o.attempts[0].username, "alice");
        assert_eq!(o.attempts[0].reply, "+OK Logged in.");
    }

    #[test]
    fn login_mechanism_answers_prompts_without_initial_response() {
        let mut d = with_plan(Security::Tls, password_plan("alice"));
        let script = [
            GREETING,
            "+OK",
            "SASL LOGIN",
            ".",
            "+ VXNlcm5hbWU6",
            "+ UGFzc3dvcmQ6",
            "+OK welcome",
            "+OK",
        ];
        let steps = run(&mut d, &script).unwrap();
        assert_eq!(steps[1], send("AUTH LOGIN\r\n"));
        assert_eq!(
            steps[2],
            Step::SendSecret {
                wire: format!("{}\r\n", b64("alice")),
                shown: b64("alice")
            }
        );
        assert_eq!(wires(&steps)[1], format!("{}\r\n", b64(PASSWORD)));
        assert_eq!(steps[4..], [send("QUIT\r\n"), Step::Done]);
        assert_secret_hidden(&steps, PASSWORD);
        assert!(outcome(&d).ok);
        assert_eq!(d.phase(), Phase::Quit);
    }

    #[test]
    fn phase_is_auth_while_logging_in() {
        let mut d = with_plan(Security::Tls, password_plan("alice"));
        run(&mut d, &[GREETING, "+OK", "SASL LOGIN", "."]).unwrap();
        assert_eq!(d.phase(), Phase::Auth);
        run(&mut d, &["-ERR no"]).unwrap();
        assert_eq!(d.phase(), Phase::Quit);
    }

    #[test]
    fn failure_then_retry_with_the_other_username_succeeds() {
        let mut plan = password_plan("alice");
        plan.alt_username = Some("alice@example.com".to_owned());
        let mut d = with_plan(Security::Tls, plan);
        let failed = "-ERR [AUTH] Authentication failed.";
        let script = lines(&[&[GREETING], &CAPA_SASL, &[failed, "+OK Logged in.", "+OK"]]);
        let steps = run(&mut d, &script).unwrap();
        assert_eq!(steps.len(), 5);
        let sent = wires(&steps);
        assert_eq!(
            sent[0],
            format!("AUTH PLAIN {}\r\n", b64(&format!("\0alice\0{PASSWORD}")))
        );
        assert_eq!(
            sent[1],
            format!(
                "AUTH PLAIN {}\r\n",
                b64(&format!("\0alice@example.com\0{PASSWORD}"))
            )
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
        assert_eq!(tried, [("alice", false), ("alice@example.com", true)]);
        assert_eq!(o.attempts[0].reply, failed);
    }

    #[test]
    fn failing_twice_makes_exactly_two_attempts_then_quits() {
        let mut plan = password_plan("alice");
        plan.alt_username = Some("alice@example.com".to_owned());
        let mut d = with_plan(Security::Tls, plan);
        let script = lines(&[&[GREETING], &CAPA_SASL, &["-ERR one", "-ERR two"]]);
        let steps = run(&mut d, &script).unwrap();
        assert_eq!(wires(&steps).len(), 2);
        assert_eq!(steps.last(), Some(&send("QUIT\r\n")));
        assert_secret_hidden(&steps, PASSWORD);
        // A server that hangs up now does so in the Quit phase, which is fine.
        assert_eq!(d.phase(), Phase::Quit);
        let o = outcome(&d);
        assert!(!o.ok);
        assert_eq!(o.attempts.len(), 2);
        assert_eq!(o.attempts[1].reply, "-ERR two");
    }

    #[test]
    fn no_fitting_mechanism_is_not_attempted() {
        let mut d = with_plan(Security::Tls, token_plan("alice@example.com"));
        let script = lines(&[&[GREETING], &CAPA_SASL, &["+OK"]]);
        let steps = run(&mut d, &script).unwrap();
        assert_eq!(steps, [send("CAPA\r\n"), send("QUIT\r\n"), Step::Done]);
        let o = outcome(&d);
        assert!(o.attempts.is_empty());
        let reason = o.not_attempted.as_deref().unwrap();
        assert!(
            reason.contains("PLAIN, LOGIN") && reason.contains("OAuth2"),
            "{reason}"
        );

        let mut d = with_plan(Security::Tls, password_plan("alice"));
        run(&mut d, &[GREETING, "+OK", "SASL GSSAPI", "."]).unwrap();
        let reason = outcome(&d).not_attempted.clone().unwrap();
        assert!(
            reason.contains("GSSAPI") && reason.contains("USER"),
            "{reason}"
        );
    }

    #[test]
    fn user_pass_when_no_sasl_fits_but_capa_lists_user() {
        let mut d = with_plan(Security::Tls, password_plan("alice"));
        let script = [
            GREETING,
            "+OK",
            "USER",
            "UIDL",
            ".",
            "+OK",
            "+OK maildrop locked",
            "+OK",
        ];
        let steps = run(&mut d, &script).unwrap();
        assert_eq!(
            steps,
            [
                send("CAPA\r\n"),
                send("USER alice\r\n"),
                Step::SendSecret {
                    wire: format!("PASS {PASSWORD}\r\n"),
                    shown: "PASS [credentials redacted]".to_owned()
                },
                send("QUIT\r\n"),
                Step::Done
            ]
        );
        assert_secret_hidden(&steps, PASSWORD);
        let o = outcome(&d);
        assert!(o.ok);
        assert_eq!(o.attempts[0].mechanism, "USER/PASS");
    }

    #[test]
    fn user_pass_when_capa_is_unsupported_and_user_rejected_retries() {
        let mut plan = password_plan("alice");
        plan.alt_username = Some("alice@example.com".to_owned());
        let mut d = with_plan(Security::Tls, plan);
        let script = [
            GREETING,
            "-ERR what?",
            "-ERR no such user",
            "+OK",
            "-ERR bad password",
        ];
        let steps = run(&mut d, &script).unwrap();
        assert_eq!(
            steps[..3],
            [
                send("CAPA\r\n"),
                send("USER alice\r\n"),
                send("USER alice@example.com\r\n")
            ]
        );
        assert_eq!(steps.last(), Some(&send("QUIT\r\n")));
        assert_secret_hidden(&steps, PASSWORD);
        let replies: Vec<_> = outcome(&d)
            .attempts
            .iter()
            .map(|a| a.reply.as_str())
            .collect();
        assert_eq!(replies, ["-ERR no such user", "-ERR bad password"]);
    }

    #[test]
    fn user_pass_refuses_line_breaks_in_the_password() {
        let mut plan = password_plan("alice");
        plan.credentials = Credentials::Password {
            username: "alice".to_owned(),
            password: Secret::new("x\r\nDELE 1"),
        };
        let mut d = with_plan(Security::Tls, plan);
        let steps = run(&mut d, &[GREETING, "+OK", "USER", "."]).unwrap();
        assert_eq!(steps, [send("CAPA\r\n"), send("QUIT\r\n")]);
        let reason = outcome(&d).not_attempted.clone().unwrap();
        assert!(reason.contains("CR, LF or NUL"), "{reason}");
    }

    #[test]
    fn forced_mechanism_never_falls_back_to_user_pass() {
        let mut plan = password_plan("alice");
        plan.forced = Some(crate::proto::sasl::Mechanism::CramMd5);
        let mut d = with_plan(Security::Tls, plan);
        let steps = run(&mut d, &[GREETING, "+OK", "USER", "SASL PLAIN", "."]).unwrap();
        assert_eq!(steps, [send("CAPA\r\n"), send("QUIT\r\n")]);
        let reason = outcome(&d).not_attempted.clone().unwrap();
        assert!(reason.contains("CRAM-MD5 was asked for"), "{reason}");
    }

    #[test]
    fn cram_md5_answers_the_rfc_2195_example() {
        let mut plan = password_plan("tim");
        plan.credentials = Credentials::Password {
            username: "tim".to_owned(),
            password: Secret::new("tanstaaftanstaaf"),
        };
        let mut d = with_plan(Security::Tls, plan);
        let script = [
            GREETING,
            "+OK",
            "SASL CRAM-MD5",
            ".",
            "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
            "+OK",
        ];
        let steps = run(&mut d, &script).unwrap();
        assert_eq!(steps[1], send("AUTH CRAM-MD5\r\n"));
        assert_eq!(
            steps[2],
            Step::SendSecret {
                wire: "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n".to_owned(),
                shown: "[credentials redacted]".to_owned()
            }
        );
        assert_secret_hidden(&steps, "tanstaaftanstaaf");
        assert!(outcome(&d).ok);
    }

    /// `{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`
    const XOAUTH2_ERROR: &str = "+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";

    #[test]
    fn xoauth2_error_challenge_is_answered_and_recorded() {
        let mut d = with_plan(Security::Tls, token_plan("alice@example.com"));
        let failed = "-ERR [AUTH] Invalid credentials";
        let script = [
            GREETING,
            "+OK",
            "SASL XOAUTH2",
            ".",
            XOAUTH2_ERROR,
            failed,
            "+OK",
        ];
        let steps = run(&mut d, &script).unwrap();
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
        assert!(!attempt.ok);
        assert_eq!(attempt.reply, failed);
        let error = attempt.oauth_error.as_ref().unwrap();
        assert_eq!(error.status, "401");
        assert_eq!(error.scope.as_deref(), Some("https://mail.google.com/"));
    }

    #[test]
    fn a_long_token_waits_for_the_empty_challenge() {
        // RFC 5034 §4: no initial response when the AUTH line would pass 255 octets.
        let long = "t".repeat(300);
        let mut plan = token_plan("alice@example.com");
        plan.credentials = Credentials::OAuth2 {
            username: "alice@example.com".to_owned(),
            token: Secret::new(long.clone()),
        };
        let mut d = with_plan(Security::Tls, plan);
        let steps = run(&mut d, &[GREETING, "+OK", "SASL XOAUTH2", ".", "+ ", "+OK"]).unwrap();
        assert_eq!(steps[1], send("AUTH XOAUTH2\r\n"));
        assert!(wires(&steps)[0].len() > 255);
        assert_secret_hidden(&steps, &long);
        assert!(outcome(&d).ok);
    }

    #[test]
    fn endless_challenges_are_cancelled() {
        let mut plan = password_plan("alice");
        plan.alt_username = Some("alice@example.com".to_owned());
        let mut d = with_plan(Security::Tls, plan);
        run(&mut d, &[GREETING, "+OK", "SASL LOGIN", "."]).unwrap();
        let mut steps = Vec::new();
        for _ in 0..=crate::proto::auth::MAX_CHALLENGES {
            let step = d.on_line("+ UGFzc3dvcmQ6").unwrap().unwrap();
            let cancelled = step == send("*\r\n");
            steps.push(step);
            if cancelled {
                break;
            }
        }
        assert_eq!(steps.last(), Some(&send("*\r\n")));
        assert_eq!(d.phase(), Phase::Auth);
        assert_eq!(d.on_line("-ERR cancelled"), Ok(Some(send("QUIT\r\n"))));
        assert_secret_hidden(&steps, PASSWORD);
        let o = outcome(&d);
        assert_eq!(o.attempts.len(), 1, "no retry after giving up");
        assert!(
            o.attempts[0].reply.starts_with("(mailcheck gave up"),
            "{:?}",
            o.attempts[0]
        );
        assert!(o.attempts[0].reply.ends_with("\n-ERR cancelled"));
    }

    #[test]
    fn login_waits_for_the_capabilities_after_stls() {
        let mut d = with_plan(Security::StartTls, password_plan("alice"));
        let script = lines(&[
            &[GREETING, "+OK", "STLS", ".", "+OK Begin TLS"],
            &CAPA_SASL,
            &["+OK"],
        ]);
        let steps = run(&mut d, &script).unwrap();
        assert_eq!(
            steps[..4],
            [
                send("CAPA\r\n"),
                send("STLS\r\n"),
                Step::StartTls,
                send("CAPA\r\n")
            ]
        );
        assert!(matches!(steps[4], Step::SendSecret { .. }));
        assert!(outcome(&d).ok);
    }

    #[test]
    fn no_login_without_the_stls_upgrade_or_after_a_refusing_greeting() {
        let mut d = with_plan(Security::StartTls, password_plan("alice"));
        let steps = run(&mut d, &[GREETING, "+OK", "USER", "SASL PLAIN", ".", "+OK"]).unwrap();
        assert_eq!(steps, [send("CAPA\r\n"), send("QUIT\r\n"), Step::Done]);
        let reason = outcome(&d).not_attempted.clone().unwrap();
        assert!(reason.contains("STARTTLS did not succeed"), "{reason}");

        let mut d = with_plan(Security::Tls, password_plan("alice"));
        run(&mut d, &["-ERR go away"]).unwrap();
        let reason = outcome(&d).not_attempted.clone().unwrap();
        assert!(reason.contains("refused service"), "{reason}");
    }

    #[test]
    fn outcome_is_recorded_before_anything_is_read() {
        let d = with_plan(Security::Tls, password_plan("alice"));
        assert!(d.session().auth.as_ref().unwrap().not_attempted.is_some());
        assert_eq!(Pop3::new(Security::Tls).session().auth, None);
    }
}
