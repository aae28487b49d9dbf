//! The IMAP login (RFC 9051 §6.2.2 AUTHENTICATE, §6.2.3 LOGIN), kept apart from
//! the rest of the dialogue so that each file stays readable.
//!
//! AUTHENTICATE carries the initial response on the command line only when the
//! server advertises SASL-IR (RFC 4959 §3); otherwise the server asks for it with
//! an empty `+ ` continuation. Challenges are `+ base64` continuations, `*` cancels
//! (the server answers BAD), and the tagged OK, NO or BAD ends the attempt. LOGIN
//! sends quoted strings and is never used when LOGINDISABLED is advertised.

use super::{Imap, Line, State, Status};
use crate::model::{Phase, Protocol};
use crate::proto::auth::{self, After, Method};
use crate::proto::sasl::Secret;
use crate::proto::{ProtoError, Step, unexpected};

impl Imap {
    /// The capabilities in force are known: log in when a plan says so, then LOGOUT.
    pub(super) fn log_in(&mut self) -> Step {
        let login_disabled = self.advertises("LOGINDISABLED");
        let Some(login) = &mut self.login else {
            return self.logout();
        };
        if self.preauth {
            login.skip("the server greeted with PREAUTH: the session is logged in already");
            return self.logout();
        }
        match login.choose(Protocol::Imap, &self.session.capabilities) {
            Ok(mechanism) => self.start(Method::Sasl(mechanism)),
            Err(e) if login.password_command_allowed() && login_disabled => {
                login.skip(format!(
                    "the server advertises LOGINDISABLED, so LOGIN may not be used, and {e}"
                ));
                self.logout()
            }
            Err(_) if login.password_command_allowed() => self.start(Method::Password(LOGIN)),
            Err(e) => {
                login.skip(e.to_string());
                self.logout()
            }
        }
    }

    fn advertises(&self, capability: &str) -> bool {
        self.session
            .capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case(capability))
    }

    /// Sends the command that starts an attempt with `method`.
    fn start(&mut self, method: Method) -> Step {
        let sasl_ir = self.advertises("SASL-IR");
        let Some(login) = &mut self.login else {
            return self.logout();
        };
        let initial = match login.start(method) {
            Ok(initial) => initial,
            Err(reason) => {
                login.skip(reason);
                return self.logout();
            }
        };
        let user = quoted(login.username());
        let password = login.password().cloned();
        let tag = self.fresh_tag();
        self.state = State::Auth {
            tag,
            sasl: matches!(method, Method::Sasl(_)),
        };
        match (method, password) {
            (Method::Sasl(mechanism), _) => {
                let initial = initial.filter(|_| sasl_ir);
                auth::sasl_command(
                    &format!("a{tag} AUTHENTICATE"),
                    mechanism,
                    initial.as_ref(),
                    usize::MAX,
                )
            }
            (Method::Password(_), Some(password)) => {
                let quoted_password = Secret::new(quoted(password.expose()));
                auth::secret_command(&format!("a{tag} LOGIN {user} "), &quoted_password)
            }
            (Method::Password(_), None) => self.logout(),
        }
    }

    /// A line during AUTHENTICATE or LOGIN.
    pub(super) fn on_auth(
        &mut self,
        tag: u32,
        sasl: bool,
        line: &str,
    ) -> Result<Option<Step>, ProtoError> {
        if let Some(challenge) = auth::continuation(line) {
            // LOGIN sends no literal, so nothing may be continued.
            return if sasl {
                Ok(Some(self.answer(tag, challenge)))
            } else {
                Err(unexpected(Phase::Auth, line))
            };
        }
        match Line::parse(line) {
            Some(Line::Untagged { keyword, .. }) if keyword.eq_ignore_ascii_case("BYE") => {
                Ok(Some(self.server_left(line)))
            }
            Some(Line::Untagged { keyword, .. }) => self.on_untagged(keyword, line),
            _ => {
                let ok = matches!(self.tagged_status(tag, line)?, Status::Ok(_));
                Ok(Some(self.attempt_ended(ok, line)))
            }
        }
    }

    fn answer(&mut self, tag: u32, challenge: &str) -> Step {
        let Some(login) = &mut self.login else {
            return self.logout();
        };
        match login.challenge(challenge) {
            Ok(wire) => auth::response(&wire),
            Err(reason) => {
                login.give_up(reason);
                self.state = State::AuthCancel { tag };
                auth::cancel()
            }
        }
    }

    /// `* BYE` during a login (§7.1.5): some servers hang up after a failure. The
    /// attempt failed with that reply, and there is no LOGOUT to send.
    fn server_left(&mut self, line: &str) -> Step {
        if let Some(login) = &mut self.login {
            login.give_up(line.to_owned());
        }
        self.state = State::Done;
        Step::Done
    }

    /// The tagged reply to `*` (§6.2.2: BAD), then LOGOUT.
    pub(super) fn on_auth_cancel(
        &mut self,
        tag: u32,
        line: &str,
    ) -> Result<Option<Step>, ProtoError> {
        match Line::parse(line) {
            Some(Line::Untagged { keyword, .. }) if keyword.eq_ignore_ascii_case("BYE") => {
                self.state = State::Done;
                Ok(Some(Step::Done))
            }
            Some(Line::Untagged { keyword, .. }) => self.on_untagged(keyword, line),
            _ => {
                self.tagged_status(tag, line)?;
                if let Some(login) = &mut self.login {
                    login.cancelled(line);
                }
                Ok(Some(self.logout()))
            }
        }
    }

    /// After an attempt: one retry with the other username form, else LOGOUT.
    fn attempt_ended(&mut self, ok: bool, line: &str) -> Step {
        let after = self.login.as_mut().map(|l| l.finish(ok, line.to_owned()));
        match after {
            Some(After::Retry(method)) => self.start(method),
            Some(After::Done(_)) | None => self.logout(),
        }
    }
}

/// The report's name for the LOGIN command (§6.2.3).
const LOGIN: &str = "IMAP LOGIN";

/// `s` as an IMAP quoted string (§4.3, `quoted`): `"` and `\` escaped. The caller
/// has made sure that it holds no CR, LF or NUL, which no quoted string may carry.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
