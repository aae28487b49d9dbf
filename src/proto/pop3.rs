//! The POP3 dialogue: greeting, CAPA, optional STLS, QUIT.
//!
//! Follows RFC 1939 (status indicators §3, greeting §4, QUIT §6, multi-line
//! responses and byte-stuffing §3), RFC 2449 (CAPA, §5; a server that does not know it
//! answers `-ERR`) and RFC 2595 §4 (STLS; capabilities learned before TLS are
//! discarded, §4 and §3.1). Status indicators are case-sensitive per RFC 1939, but
//! they are read leniently here: a probe reports what servers do, it does not police
//! them.

use std::fmt;

use super::{
    Dialogue, MAX_REPLY_LINES, ProtoError, Session, StartTlsState, Step, expect_greeting,
    unexpected,
};
use crate::model::{Phase, Protocol, Security};

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
            session: Session::default(),
        }
    }

    fn send(&mut self, command: Command, state: State) -> Step {
        self.state = state;
        Step::Send(command.to_string())
    }

    fn quit(&mut self) -> Step {
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
                    Ok(Some(self.quit()))
                }
            }
            None => Err(unexpected(self.phase(), line)),
        }
    }

    fn on_capa_line(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        if line == "." {
            return Ok(Some(self.after_capabilities()));
        }
        self.lines_read += 1;
        if self.lines_read > MAX_REPLY_LINES {
            return Err(unexpected(self.phase(), line));
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
            return self.quit();
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
            State::Quit { .. } | State::Done => Phase::Quit,
        }
    }

    fn on_line(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
        match self.state {
            State::Greeting => self.on_greeting(line),
            State::CapaStatus => self.on_capa_status(line),
            State::CapaList => self.on_capa_line(line),
            State::Stls => self.on_stls(line),
            State::Quit { skip } => self.on_quit(skip, line),
            // Nothing may arrive before the TLS handshake (RFC 2595 §4: the client
            // must discard anything the server sent in plaintext), nor after the end.
            State::Handshake | State::Done => Err(unexpected(self.phase(), line)),
        }
    }

    fn after_tls(&mut self) -> Step {
        self.upgraded = true;
        self.session.discard_pre_tls_capabilities();
        self.state = State::CapaStatus;
        Step::Send(Command::Capa.to_string())
    }

    fn quit_command(&mut self) -> String {
        let (skip, lines_read) = match self.state {
            State::Greeting | State::CapaStatus | State::Stls => (1, 0),
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
        assert_eq!(result, Err(unexpected(Phase::Capabilities, "X")));
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
}
