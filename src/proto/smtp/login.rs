//! The SMTP login (RFC 4954), kept apart from the rest of the dialogue.
//!
//! `AUTH mechanism [initial-response]` (§4; an empty initial response is `=`, and
//! none is sent when the command line would pass 512 octets, RFC 5321 §4.5.3.1.4),
//! `334` challenges answered one line each, `*` to cancel (the server answers 501),
//! `235` for success (§6) and 4xx/5xx for failure, kept verbatim because the text is
//! what explains it ("535 5.7.139 Authentication unsuccessful, basic authentication
//! is disabled.").

use super::{Reply, Smtp, State};
use crate::model::Protocol;
use crate::proto::auth::{self, After, Method};
use crate::proto::sasl::Mechanism;
use crate::proto::{ProtoError, Step};

/// RFC 5321 §4.5.3.1.4: a command line, CRLF included, is at most 512 octets, and
/// RFC 4954 §4 keeps AUTH within it.
const MAX_AUTH_LINE: usize = 512;

impl Smtp {
    /// The capabilities in force are known: log in when a plan says so.
    pub(super) fn log_in(&mut self) -> Step {
        let advertised = self.advertises_auth();
        let Some(login) = &mut self.login else {
            // No login: a relay test, if one was asked for, runs unauthenticated.
            return self.start_send_test();
        };
        if !advertised {
            login.skip("the server does not advertise AUTH (RFC 4954 §3)");
            return self.quit();
        }
        match login.choose(Protocol::Smtp, &self.session.capabilities) {
            Ok(mechanism) => self.start(mechanism),
            Err(e) => {
                login.skip(e.to_string());
                self.quit()
            }
        }
    }

    /// The EHLO keyword AUTH (RFC 4954 §3), or the old `AUTH=` form.
    fn advertises_auth(&self) -> bool {
        self.session.capabilities.iter().any(|c| {
            let keyword = c.split_ascii_whitespace().next().unwrap_or("");
            keyword.eq_ignore_ascii_case("AUTH")
                || keyword
                    .get(..5)
                    .is_some_and(|head| head.eq_ignore_ascii_case("AUTH="))
        })
    }

    fn start(&mut self, mechanism: Mechanism) -> Step {
        let Some(login) = &mut self.login else {
            // No login: a relay test, if one was asked for, runs unauthenticated.
            return self.start_send_test();
        };
        match login.start(Method::Sasl(mechanism)) {
            Ok(initial) => {
                self.state = State::Auth;
                auth::sasl_command("AUTH", mechanism, initial.as_ref(), MAX_AUTH_LINE)
            }
            Err(reason) => {
                login.skip(reason);
                self.quit()
            }
        }
    }

    /// A reply during AUTH: 334 is a challenge, anything else ends the attempt.
    pub(super) fn on_auth(&mut self, reply: &Reply) -> Step {
        if reply.code == 334 {
            let challenge = reply.texts().next().unwrap_or("");
            return self.answer(challenge);
        }
        let ok = reply.class() == 2;
        let after = self.login.as_mut().map(|l| l.finish(ok, reply.text()));
        match after {
            Some(After::Retry(Method::Sasl(mechanism))) => self.start(mechanism),
            Some(After::Done(true)) => self.start_send_test(),
            Some(After::Retry(Method::Password(_)) | After::Done(false)) | None => self.quit(),
        }
    }

    fn answer(&mut self, challenge: &str) -> Step {
        let Some(login) = &mut self.login else {
            // No login: a relay test, if one was asked for, runs unauthenticated.
            return self.start_send_test();
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

    /// The reply to `*` (RFC 4954 §4: 501), then QUIT. Another challenge here
    /// breaks the protocol.
    pub(super) fn on_auth_cancel(&mut self, reply: &Reply) -> Result<Step, ProtoError> {
        if reply.code == 334 {
            return Err(self.unexpected_reply(reply));
        }
        if let Some(login) = &mut self.login {
            login.cancelled(&reply.text());
        }
        Ok(self.quit())
    }
}
