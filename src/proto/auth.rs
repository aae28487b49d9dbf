//! The login step (`Phase::Auth`) as the three dialogues share it: what to try,
//! one SASL exchange at a time (RFC 4422 §3) with a bound on challenges, the record
//! of each attempt, the single retry with the other username form, and the steps
//! that carry credentials.
//!
//! Each dialogue keeps its own framing: POP3 `AUTH` and `+ ` (RFC 5034 §4), IMAP
//! `AUTHENTICATE` and `+ ` (RFC 9051 §6.2.2, SASL-IR from RFC 4959), SMTP `AUTH`
//! and `334` (RFC 4954 §4), and the password commands POP3 `USER`/`PASS`
//! (RFC 1939 §7) and IMAP `LOGIN` (RFC 9051 §6.2.3). Everything sent that carries
//! credentials is a [`Step::SendSecret`] whose shown form is [`Wire::redacted`]
//! (or [`REDACTED_RESPONSE`]): never the secret, never its base64.

use super::sasl::{self, Credentials, Exchange, Mechanism, REDACTED_RESPONSE, Secret, Wire};
use super::{AuthPlan, Step};
use crate::model::Protocol;
use crate::report::AuthAttempt;
use crate::report::AuthOutcome;
use crate::report::Session;
use crate::report::StartTlsState;

/// Most challenges one attempt answers. PLAIN needs at most one, LOGIN two,
/// CRAM-MD5 one, XOAUTH2 and OAUTHBEARER two; a server that goes on is stuck or
/// hostile, and the attempt is abandoned with `*` (RFC 4422 §3.5).
pub(crate) const MAX_CHALLENGES: u8 = 10;

/// The reason recorded until the dialogue knows better: it ended (or was
/// abandoned) before the capabilities in force were known.
const NOT_YET: &str = "the session ended before the capabilities in force were known";

/// How an attempt logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// A SASL mechanism inside the protocol's AUTH/AUTHENTICATE command.
    Sasl(Mechanism),
    /// The protocol's own password command, named as the report names it:
    /// "USER/PASS" (POP3) or "IMAP LOGIN".
    Password(&'static str),
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Sasl(mechanism) => mechanism.name(),
            Method::Password(name) => name,
        }
    }
}

/// What follows the end of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// It failed and the other username form is still to be tried, the same way.
    Retry(Method),
    /// Logged in (`true`) or out of attempts (`false`).
    Done(bool),
}

/// The login of one dialogue: the plan, the attempt in progress and the outcome.
///
/// `Debug` never shows the secret ([`Credentials`] and [`Exchange`] redact it).
#[derive(Debug, Clone)]
pub(crate) struct LoginState {
    plan: AuthPlan,
    outcome: AuthOutcome,
    /// Whether `outcome.not_attempted` holds the final word (a reason, or an attempt
    /// started); until then it says [`NOT_YET`].
    decided: bool,
    username: String,
    method: Option<Method>,
    exchange: Option<Exchange>,
    challenges: u8,
    retried: bool,
    /// An attempt was sent and its answer is still awaited: it is already in
    /// `outcome.attempts` (so a connection that dies now still shows it).
    pending: bool,
}

/// The reply recorded for an attempt whose answer never came.
pub const NO_ANSWER: &str = "(no answer from the server)";

impl LoginState {
    /// Starts with nothing attempted yet.
    pub(crate) fn new(plan: AuthPlan) -> LoginState {
        LoginState {
            username: plan.credentials.username().to_owned(),
            plan,
            outcome: AuthOutcome {
                not_attempted: Some(NOT_YET.to_owned()),
                ..AuthOutcome::default()
            },
            decided: false,
            method: None,
            exchange: None,
            challenges: 0,
            retried: false,
            pending: false,
        }
    }

    /// Starts a login for a dialogue: the session shows it as pending from now on.
    pub(crate) fn attach(plan: AuthPlan, session: &mut crate::report::Session) -> LoginState {
        let login = LoginState::new(plan);
        session.auth = Some(login.outcome().clone());
        login
    }

    /// What happened so far.
    pub(crate) fn outcome(&self) -> &AuthOutcome {
        &self.outcome
    }

    /// The username of the attempt in progress (or the next one).
    pub(crate) fn username(&self) -> &str {
        &self.username
    }

    /// The password, when the credentials are one (not a token).
    pub(crate) fn password(&self) -> Option<&Secret> {
        match &self.plan.credentials {
            Credentials::Password { password, .. } => Some(password),
            Credentials::OAuth2 { .. } => None,
        }
    }

    /// Whether a protocol password command may stand in for SASL: the credentials
    /// are a password and the user did not force a mechanism with `--auth-mech`.
    pub(crate) fn password_command_allowed(&self) -> bool {
        self.password().is_some() && self.plan.forced.is_none()
    }

    /// Records why nothing is sent. The first reason given wins, and none is
    /// recorded once an attempt has started.
    pub(crate) fn skip(&mut self, reason: impl Into<String>) {
        if !self.decided {
            self.decided = true;
            self.outcome.not_attempted = Some(reason.into());
        }
    }

    /// Records what the server offers and chooses a mechanism from it.
    pub(crate) fn choose(
        &mut self,
        protocol: Protocol,
        capabilities: &[String],
    ) -> Result<Mechanism, sasl::ChooseError> {
        // Names, not just the mechanisms mailcheck runs, so that an error lists
        // everything the server offers.
        self.outcome.offered = sasl::offered_names(protocol, capabilities);
        sasl::choose(
            &self.outcome.offered,
            &self.plan.credentials,
            self.plan.forced,
        )
    }

    /// Starts an attempt with `method` and the current username. Returns the SASL
    /// initial response, if the mechanism has one; `Err` says why the credentials
    /// cannot go through `method` (nothing was sent).
    pub(crate) fn start(&mut self, method: Method) -> Result<Option<Wire>, String> {
        let creds = self.credentials();
        let initial = match method {
            Method::Sasl(mechanism) => {
                let (host, port) = &self.plan.server;
                let exchange = Exchange::new(mechanism, &creds)
                    .map_err(|e| e.to_string())?
                    .with_server(host, *port);
                let initial = exchange.initial_response();
                self.exchange = Some(exchange);
                initial
            }
            Method::Password(name) => {
                if [creds.username(), creds.secret().expose()]
                    .iter()
                    .any(|s| s.contains(['\r', '\n', '\0']))
                {
                    return Err(format!(
                        "{name} cannot carry this username or password: it contains CR, LF or NUL"
                    ));
                }
                self.exchange = None;
                None
            }
        };
        self.decided = true;
        self.outcome.not_attempted = None;
        self.method = Some(method);
        self.challenges = 0;
        self.outcome.attempts.push(AuthAttempt {
            username: self.username.clone(),
            mechanism: method.name().to_owned(),
            ok: false,
            reply: NO_ANSWER.to_owned(),
            oauth_error: None,
        });
        self.pending = true;
        Ok(initial)
    }

    /// The answer to a challenge (the base64 after `+ ` or `334 `), or `Err` with the
    /// reason to give up: too many challenges, or one the mechanism cannot answer.
    pub(crate) fn challenge(&mut self, base64: &str) -> Result<Wire, String> {
        self.challenges = self.challenges.saturating_add(1);
        if self.challenges > MAX_CHALLENGES {
            return Err(format!(
                "(mailcheck gave up after {MAX_CHALLENGES} challenges)"
            ));
        }
        let Some(exchange) = self.exchange.as_mut() else {
            return Err("(mailcheck gave up: a challenge to a password command)".to_owned());
        };
        exchange
            .on_challenge(base64)
            .map_err(|e| format!("(mailcheck gave up: {e})"))
    }

    /// The server's final reply to the attempt in progress.
    pub(crate) fn finish(&mut self, ok: bool, reply: String) -> After {
        self.record(ok, reply);
        if ok {
            self.outcome.ok = true;
            return After::Done(true);
        }
        let alt = self.plan.alt_username.clone();
        match (alt, self.method) {
            (Some(alt), Some(method)) if !self.retried && alt != self.username => {
                self.retried = true;
                self.username = alt;
                After::Retry(method)
            }
            _ => After::Done(false),
        }
    }

    /// Abandons the attempt in progress, recording `reason` as its reply; no retry
    /// follows (the server misbehaves, or is leaving).
    pub(crate) fn give_up(&mut self, reason: String) {
        self.record(false, reason);
        self.retried = true;
    }

    /// Adds the server's answer to a cancelled exchange to the last attempt's reply.
    pub(crate) fn cancelled(&mut self, reply: &str) {
        if let Some(last) = self.outcome.attempts.last_mut() {
            last.reply.push('\n');
            last.reply.push_str(reply);
        }
    }

    fn record(&mut self, ok: bool, reply: String) {
        let oauth_error = self.exchange.take().and_then(|e| e.server_error().cloned());
        let attempt = AuthAttempt {
            username: self.username.clone(),
            mechanism: self.method.map_or("", Method::name).to_owned(),
            ok,
            reply,
            oauth_error,
        };
        match self.outcome.attempts.last_mut().filter(|_| self.pending) {
            Some(last) => *last = attempt,
            None => self.outcome.attempts.push(attempt),
        }
        self.pending = false;
    }

    /// The plan's credentials with the current username.
    fn credentials(&self) -> Credentials {
        let username = self.username.clone();
        match &self.plan.credentials {
            Credentials::Password { password, .. } => Credentials::Password {
                username,
                password: password.clone(),
            },
            Credentials::OAuth2 { token, .. } => Credentials::OAuth2 {
                username,
                token: token.clone(),
            },
        }
    }
}

/// Why a dialogue quits without logging in, judged from what it learned: the
/// greeting refused service, or STARTTLS did not happen (credentials never travel
/// on a connection that was meant to be upgraded and was not).
pub(crate) fn reason_to_skip(session: &Session) -> &'static str {
    if session.greeting_rejected.is_some() {
        "the server refused service in its greeting"
    } else if matches!(
        session.starttls,
        StartTlsState::NotAdvertised | StartTlsState::Refused(_)
    ) {
        "STARTTLS did not succeed, and credentials are never sent without it"
    } else {
        NOT_YET
    }
}

/// The SASL command with its optional initial response: `{verb} {mechanism}
/// [{response}]`, an empty response written `=` (RFC 4954 §4, RFC 5034 §4,
/// RFC 4959 §3). The response is left out when the line would exceed `max_line`
/// octets with its CRLF (RFC 5034 §4: 255; RFC 4954 §4 with RFC 5321 §4.5.3.1.4:
/// 512); the server then asks for it with an empty challenge (RFC 4422 §3.3).
pub(crate) fn sasl_command(
    verb: &str,
    mechanism: Mechanism,
    initial: Option<&Wire>,
    max_line: usize,
) -> Step {
    let plain = format!("{verb} {mechanism}");
    let Some(initial) = initial else {
        return Step::Send(format!("{plain}\r\n"));
    };
    let (text, shown) = if initial.text.is_empty() {
        ("=", "=")
    } else {
        (initial.text.as_str(), initial.redacted.as_str())
    };
    if plain.len() + 1 + text.len() + 2 > max_line {
        return Step::Send(format!("{plain}\r\n"));
    }
    Step::SendSecret {
        wire: format!("{plain} {text}\r\n"),
        shown: format!("{plain} {shown}"),
    }
}

/// One response line in an exchange (RFC 4422 §3.4): always a [`Step::SendSecret`],
/// shown as [`Wire::redacted`].
pub(crate) fn response(wire: &Wire) -> Step {
    Step::SendSecret {
        wire: format!("{}\r\n", wire.text),
        shown: wire.redacted.clone(),
    }
}

/// The line that abandons an exchange: `*` in all three protocols (RFC 5034 §4,
/// RFC 9051 §6.2.2, RFC 4954 §4).
pub(crate) fn cancel() -> Step {
    Step::Send("*\r\n".to_owned())
}

/// A command line ending in a secret: `wire` is `{shown_part}{secret}\r\n`, the
/// transcript shows `{shown_part}[credentials redacted]`.
pub(crate) fn secret_command(shown_part: &str, secret: &Secret) -> Step {
    Step::SendSecret {
        wire: format!("{shown_part}{}\r\n", secret.expose()),
        shown: format!("{shown_part}{REDACTED_RESPONSE}"),
    }
}

/// The challenge in a POP3 or IMAP continuation line, `+ base64` or a bare `+`
/// (RFC 5034 §4, RFC 9051 §7.5); `None` for any other line, `+OK` included.
pub(crate) fn continuation(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('+')?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix(' ')
    }
}

/// Test support: credentials, plans and the check that nothing shown leaks them.
#[cfg(test)]
pub(crate) mod testing {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::super::sasl::{Credentials, Secret};
    use super::super::{AuthPlan, Step};

    /// A password long enough that any base64 run of it is recognisable.
    pub(crate) const PASSWORD: &str = "Sup3r-Secret-Pa55/unique+0123456789";
    /// An OAuth2 token, likewise.
    pub(crate) const TOKEN: &str = "ya29.Token-Value-unique_0123456789abcdef";

    /// A plan for `username` with [`PASSWORD`].
    pub(crate) fn password_plan(username: &str) -> AuthPlan {
        plan(Credentials::Password {
            username: username.to_owned(),
            password: Secret::new(PASSWORD),
        })
    }

    /// A plan for `username` with [`TOKEN`].
    pub(crate) fn token_plan(username: &str) -> AuthPlan {
        plan(Credentials::OAuth2 {
            username: username.to_owned(),
            token: Secret::new(TOKEN),
        })
    }

    fn plan(credentials: Credentials) -> AuthPlan {
        AuthPlan {
            credentials,
            alt_username: None,
            forced: None,
            send_test: None,
            server: ("mail.example.com".to_owned(), 993),
        }
    }

    /// The secret and every base64 run that encodes part of it whatever its
    /// alignment inside a longer message (offsets 0, 1 and 2).
    fn fragments(secret: &str) -> Vec<String> {
        let mut out = vec![secret.to_owned(), STANDARD.encode(secret)];
        for offset in 0..3 {
            let mut bytes = vec![b'x'; offset];
            bytes.extend_from_slice(secret.as_bytes());
            let encoded = STANDARD.encode(&bytes);
            out.push(encoded[4..encoded.len() - 4].to_owned());
        }
        out
    }

    /// Panics when any `Step::Send` or any `Step::SendSecret.shown` in `steps`
    /// contains `secret` or base64 of it, or when no step carried a secret at all
    /// (the check would then prove nothing).
    pub(crate) fn assert_secret_hidden(steps: &[Step], secret: &str) {
        let needles = fragments(secret);
        let mut secrets = 0;
        for step in steps {
            let shown = match step {
                Step::Send(text) => text,
                Step::SendSecret { shown, .. } => {
                    secrets += 1;
                    shown
                }
                Step::StartTls | Step::Done => continue,
            };
            for needle in &needles {
                assert!(
                    !shown.contains(needle.as_str()),
                    "{shown:?} shows the secret"
                );
            }
        }
        assert!(secrets > 0, "no step carried credentials: {steps:?}");
    }

    /// The wire text of every `Step::SendSecret`, for checking what was really sent.
    pub(crate) fn wires(steps: &[Step]) -> Vec<&str> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::SendSecret { wire, .. } => Some(wire.as_str()),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn continuation_lines() {
        assert_eq!(continuation("+ VXNlcm5hbWU6"), Some("VXNlcm5hbWU6"));
        assert_eq!(continuation("+ "), Some(""));
        assert_eq!(continuation("+"), Some(""));
        assert_eq!(continuation("+OK"), None);
        assert_eq!(continuation("-ERR"), None);
    }

    #[test]
    fn initial_response_too_long_for_the_line_is_left_out() {
        let wire = |text: &str| Wire {
            text: text.to_owned(),
            redacted: REDACTED_RESPONSE.to_owned(),
        };
        let long = "A".repeat(300);
        assert_eq!(
            sasl_command("AUTH", Mechanism::XOAuth2, Some(&wire(&long)), 255),
            Step::Send("AUTH XOAUTH2\r\n".to_owned())
        );
        let fits = "A".repeat(255 - "AUTH PLAIN \r\n".len());
        assert!(matches!(
            sasl_command("AUTH", Mechanism::Plain, Some(&wire(&fits)), 255),
            Step::SendSecret { .. }
        ));
        let empty = Wire {
            text: String::new(),
            redacted: String::new(),
        };
        assert_eq!(
            sasl_command("AUTH", Mechanism::Plain, Some(&empty), 512),
            Step::SendSecret {
                wire: "AUTH PLAIN =\r\n".to_owned(),
                shown: "AUTH PLAIN =".to_owned()
            }
        );
    }

    #[test]
    fn challenges_are_capped() {
        let mut login = LoginState::new(password_plan("u"));
        login.start(Method::Sasl(Mechanism::Login)).unwrap();
        for _ in 0..2 {
            login.challenge("VXNlcm5hbWU6").unwrap();
        }
        let err = (0..MAX_CHALLENGES).find_map(|_| login.challenge("").err());
        assert!(err.is_some());
    }

    #[test]
    fn password_commands_refuse_line_breaks() {
        let mut plan = password_plan("u");
        plan.credentials = Credentials::Password {
            username: "u".to_owned(),
            password: Secret::new("p\r\nDELE 1"),
        };
        let mut login = LoginState::new(plan);
        let err = login.start(Method::Password("USER/PASS")).unwrap_err();
        assert!(err.contains("CR, LF or NUL"), "{err}");
        assert!(!err.contains("DELE"));
    }

    #[test]
    fn retry_happens_once_and_only_with_a_different_name() {
        let mut plan = password_plan("alice");
        plan.alt_username = Some("alice@example.com".to_owned());
        let mut login = LoginState::new(plan);
        let method = Method::Sasl(Mechanism::Plain);
        login.start(method).unwrap();
        assert_eq!(login.finish(false, "no".into()), After::Retry(method));
        assert_eq!(login.username(), "alice@example.com");
        login.start(method).unwrap();
        assert_eq!(login.finish(false, "no".into()), After::Done(false));
        assert_eq!(login.outcome().attempts.len(), 2);

        let mut same = password_plan("alice");
        same.alt_username = Some("alice".to_owned());
        let mut login = LoginState::new(same);
        login.start(method).unwrap();
        assert_eq!(login.finish(false, "no".into()), After::Done(false));
    }

    #[test]
    fn first_reason_wins_and_none_after_an_attempt() {
        let mut login = LoginState::new(password_plan("u"));
        assert_eq!(login.outcome().not_attempted.as_deref(), Some(NOT_YET));
        login.skip("first");
        login.skip("second");
        assert_eq!(login.outcome().not_attempted.as_deref(), Some("first"));

        let mut login = LoginState::new(password_plan("u"));
        login.start(Method::Sasl(Mechanism::Plain)).unwrap();
        login.skip("late");
        assert_eq!(login.outcome().not_attempted, None);
    }
}
