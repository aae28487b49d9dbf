//! Targets `smtp`, `pop3` and `imap`: the protocol dialogues
//! ([`Dialogue::on_line`] and [`Dialogue::after_tls`]), in every security mode,
//! with and without a login plan, so that the capability, STARTTLS, SASL,
//! password-command, send-test, relay-test and goodbye paths all read server
//! lines.
//!
//! Input: three configuration bytes, then the server's side of the transcript
//! as text (see [`Setup::new`] for the bits). The lines are fed as the driver
//! would: a STARTTLS step is taken to succeed and [`Dialogue::after_tls`]
//! follows; the run ends at [`Step::Done`] or an error. When the lines run out
//! first, the last one is repeated (an endless server), so every input also
//! checks that the dialogue cannot be kept reading forever.
//!
//! Invariants:
//! - at most [`MAX_LINES_WITHOUT_STEP`] lines without a step, and at most
//!   [`MAX_STEPS`] steps: a hostile server can neither hold a dialogue nor make
//!   it talk forever;
//! - every command is one CRLF-terminated line (the SMTP message block aside),
//!   so no server text can smuggle in a second command;
//! - credentials only with a login plan, never before the STARTTLS upgrade in
//!   STARTTLS mode, never in a plain [`Step::Send`], never in what a transcript
//!   shows;
//! - STARTTLS only in STARTTLS mode and only once, followed by a command;
//! - what the session keeps grows at most linearly with what the server sent.

use mailcheck::model::{Protocol, Security};
use mailcheck::proto::imap::Imap;
use mailcheck::proto::pop3::Pop3;
use mailcheck::proto::sasl::{Credentials, Mechanism, Secret};
use mailcheck::proto::smtp::Smtp;
use mailcheck::proto::{AuthPlan, Dialogue, MAX_REPLY_LINES, SendTest, Step};

use super::input::{self, PASSWORD, TOKEN, assert_one_line, carries_secret};

/// The address used as username, envelope sender and recipient.
pub const ADDRESS: &str = "alice@example.com";

/// Most lines a dialogue may read without taking a step: one reply of at most
/// [`MAX_REPLY_LINES`] lines and, after the driver abandoned the dialogue, the
/// reply to one earlier command before it.
pub const MAX_LINES_WITHOUT_STEP: usize = 2 * MAX_REPLY_LINES + 2;

/// Most steps in one dialogue. The longest honest one (STARTTLS, two login
/// attempts that each answer the most challenges, a delivered send test) takes
/// about 35.
pub const MAX_STEPS: usize = 64;

/// The message of a send test that delivers: dot-stuffing and line ends included.
const MESSAGE: &str = "Subject: fuzz\r\n\r\n.leading dot\r\nbody\r\n";

/// Target `smtp`.
pub fn smtp(data: &[u8]) {
    run(Protocol::Smtp, data);
}

/// Target `pop3`.
pub fn pop3(data: &[u8]) {
    run(Protocol::Pop3, data);
}

/// Target `imap`.
pub fn imap(data: &[u8]) {
    run(Protocol::Imap, data);
}

/// Runs one input through a fresh dialogue of `protocol`.
pub fn run(protocol: Protocol, data: &[u8]) {
    let (config, rest) = input::split::<3>(data);
    let setup = Setup::new(protocol, config);
    let text = String::from_utf8_lossy(rest);
    let lines = input::lines(&text);
    Run::start(protocol, setup).feed(&lines);
}

/// What the configuration bytes ask for.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The security mode of the connection.
    pub security: Security,
    /// The login, if any.
    pub plan: Option<AuthPlan>,
    /// Whether the plan is handed over before the greeting. The probe does so
    /// for TLS and plain connections; with STARTTLS it waits for the upgrade,
    /// but the dialogue must not rely on that, so some inputs hand it early.
    pub early: bool,
    /// SMTP without a login: the relay test.
    pub relay: Option<SendTest>,
    /// Call [`Dialogue::quit_command`] before this line (the driver abandoning).
    pub abandon_at: Option<usize>,
}

impl Setup {
    /// Reads `[flags, mechanism, abandon]`. Flags, from bit 0: two bits of
    /// security (0 TLS, 2 plain, else STARTTLS), a login plan, an OAuth2 token
    /// instead of a password, a second username form, an SMTP send test (a relay
    /// test without a plan), a message to deliver, the plan handed over early.
    /// `mechanism % 8` below 5 forces that [`Mechanism`]; `abandon`, when not 0,
    /// is the line before which the dialogue is abandoned.
    #[must_use]
    pub fn new(protocol: Protocol, [flags, mechanism, abandon]: [u8; 3]) -> Setup {
        let bit = |n: u8| flags & (1 << n) != 0;
        let security = match flags & 3 {
            0 => Security::Tls,
            2 => Security::Plain,
            _ => Security::StartTls,
        };
        let test = (protocol == Protocol::Smtp && bit(5)).then(|| SendTest {
            from: ADDRESS.to_owned(),
            to: ADDRESS.to_owned(),
            message: bit(6).then(|| MESSAGE.to_owned()),
        });
        let plan = bit(2).then(|| AuthPlan {
            credentials: credentials(bit(3), ADDRESS),
            alt_username: bit(4).then(|| "alice".to_owned()),
            forced: Mechanism::ALL.get(usize::from(mechanism % 8)).copied(),
            send_test: test.clone(),
            server: ("mail.example.com".to_owned(), 587),
        });
        Setup {
            security,
            early: bit(7) || security != Security::StartTls,
            relay: if plan.is_none() { test } else { None },
            plan,
            abandon_at: (abandon != 0).then_some(usize::from(abandon)),
        }
    }
}

/// The harness's password, or its OAuth2 token, for `username`.
#[must_use]
pub fn credentials(token: bool, username: &str) -> Credentials {
    if token {
        Credentials::OAuth2 {
            username: username.to_owned(),
            token: Secret::new(TOKEN),
        }
    } else {
        Credentials::Password {
            username: username.to_owned(),
            password: Secret::new(PASSWORD),
        }
    }
}

/// A fresh dialogue of `protocol` over a connection protected by `security`.
#[must_use]
pub fn dialogue(protocol: Protocol, security: Security) -> Box<dyn Dialogue + Send> {
    match protocol {
        Protocol::Smtp => Box::new(Smtp::new(security, "[127.0.0.1]".to_owned())),
        Protocol::Pop3 => Box::new(Pop3::new(security)),
        Protocol::Imap => Box::new(Imap::new(security)),
    }
}

/// One dialogue being fed, with what the checks need to know.
struct Run {
    setup: Setup,
    dialogue: Box<dyn Dialogue + Send>,
    /// The plan still to hand over at the upgrade.
    pending: Option<AuthPlan>,
    upgraded: bool,
    steps: usize,
    /// Lines read since the last step.
    quiet: usize,
    /// Bytes fed so far, line ends counted.
    fed: usize,
}

impl Run {
    fn start(protocol: Protocol, setup: Setup) -> Run {
        let mut dialogue = dialogue(protocol, setup.security);
        if let Some(test) = setup.relay.clone() {
            dialogue.set_relay_test(test);
        }
        let mut pending = setup.plan.clone();
        if let Some(plan) = pending.take_if(|_| setup.early) {
            dialogue.set_auth(plan);
        }
        Run {
            setup,
            dialogue,
            pending,
            upgraded: false,
            steps: 0,
            quiet: 0,
            fed: 0,
        }
    }

    /// Feeds `lines`, then repeats the last one until the dialogue ends; the
    /// bounds on lines and steps make sure it does.
    fn feed(mut self, lines: &[&str]) {
        let endless = lines.last().into_iter().cycle();
        for (i, line) in lines.iter().chain(endless).enumerate() {
            if self.setup.abandon_at == Some(i) {
                let quit = self.dialogue.quit_command();
                assert_one_line(&quit);
            }
            let _ = self.dialogue.phase();
            self.fed += line.len() + 2;
            match self.dialogue.on_line(line) {
                Err(_) => break,
                Ok(None) => {
                    self.quiet += 1;
                    assert!(
                        self.quiet <= MAX_LINES_WITHOUT_STEP,
                        "{} lines without a step, the last {line:?}",
                        self.quiet
                    );
                }
                Ok(Some(step)) => {
                    self.quiet = 0;
                    if !self.step(step) {
                        break;
                    }
                }
            }
        }
        self.check_size();
    }

    /// Checks one step; `false` when the dialogue is over.
    fn step(&mut self, step: Step) -> bool {
        self.steps += 1;
        assert!(self.steps <= MAX_STEPS, "more than {MAX_STEPS} steps");
        self.check_size();
        match step {
            Step::Send(command) => {
                assert!(!carries_secret(&command), "a secret in {command:?}");
                let message_block = self.delivers() && command.ends_with("\r\n.\r\n");
                if !message_block {
                    assert_one_line(&command);
                }
                true
            }
            Step::SendSecret { wire, shown } => {
                assert!(self.setup.plan.is_some(), "credentials without a plan");
                assert!(
                    self.upgraded || self.setup.security != Security::StartTls,
                    "credentials before the STARTTLS upgrade: {shown:?}"
                );
                assert!(!carries_secret(&shown), "a secret shown in {shown:?}");
                assert!(!shown.contains(['\r', '\n']), "{shown:?}");
                assert_one_line(&wire);
                true
            }
            Step::StartTls => self.upgrade(),
            Step::Done => false,
        }
    }

    /// The STARTTLS hand-over as the driver and the probe do it.
    fn upgrade(&mut self) -> bool {
        assert_eq!(self.setup.security, Security::StartTls, "STARTTLS asked");
        assert!(!self.upgraded, "a second STARTTLS");
        self.upgraded = true;
        if let Some(plan) = self.pending.take() {
            self.dialogue.set_auth(plan);
        }
        let first = self.dialogue.after_tls();
        assert!(
            matches!(first, Step::Send(_)),
            "after TLS the dialogue must ask again: {first:?}"
        );
        self.step(first)
    }

    fn delivers(&self) -> bool {
        self.setup
            .plan
            .as_ref()
            .and_then(|p| p.send_test.as_ref())
            .is_some_and(|t| t.message.is_some())
    }

    /// What the session keeps is at most a few times what was fed (a server
    /// line may be kept in two places, and JSON escapes a control character in
    /// six bytes).
    fn check_size(&self) {
        let kept = serde_json::to_string(self.dialogue.session())
            .expect("a session serialises")
            .len();
        assert!(
            kept <= 16 * self.fed + 16 * 1024,
            "{kept} bytes kept from {} fed",
            self.fed
        );
    }
}
