//! The hostile-server suite: scripted servers that misbehave on purpose, over
//! POP3, IMAP and SMTP in each security mode, at the greeting, after the first
//! command, at STARTTLS, in the TLS handshake and during the login. Every case
//! asserts the same things:
//!
//! - no panic, and the run ends within its deadline;
//! - the failure code names what the server did;
//! - the human report (default and `-v`) carries no raw control, escape or bidi
//!   character, and the JSON is valid against the published schema;
//! - the password never travels over plaintext, nor over TLS that did not
//!   verify.
//!
//! The cases run concurrently, a group per test, each against its own server.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Act, Leaf, Pki, Reply, Rule, Scripted, run, send};
use futures_util::future::join_all;
use mailcheck::config::Format;
use mailcheck::diagnose::Client;
use mailcheck::model::Code;
use mailcheck::output::{self, Options};
use mailcheck::report::{LoginResult, Report};

const ADDRESS: &str = "alice@example.com";
const PASSWORD: &str = "hostile-suite-secret-42";
/// Escape sequences, a C1 CSI, a bidi override and a zero-width space.
const EVIL: &str = "\x1b]0;pwned\x07\x1b[2J\u{9b}31m\u{202e}gnp\u{200b}";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Proto {
    Pop3,
    Imap,
    Smtp,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Tls,
    StartTls,
    Plain,
}

impl Proto {
    const ALL: [Proto; 3] = [Proto::Pop3, Proto::Imap, Proto::Smtp];

    fn name(self) -> &'static str {
        match self {
            Proto::Pop3 => "pop3",
            Proto::Imap => "imap",
            Proto::Smtp => "smtp",
        }
    }

    /// The start of a positive greeting.
    fn ok(self) -> &'static str {
        match self {
            Proto::Pop3 => "+OK",
            Proto::Imap => "* OK",
            Proto::Smtp => "220",
        }
    }

    /// A greeting that refuses service.
    fn refusal(self) -> String {
        match self {
            Proto::Pop3 => format!("-ERR [SYS/TEMP] {EVIL} busy\r\n"),
            Proto::Imap => format!("* BYE {EVIL} busy\r\n"),
            Proto::Smtp => format!("421 4.3.2 {EVIL} busy\r\n"),
        }
    }
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Tls, Mode::StartTls, Mode::Plain];

    fn name(self) -> &'static str {
        match self {
            Mode::Tls => "tls",
            Mode::StartTls => "starttls",
            Mode::Plain => "plain",
        }
    }
}

/// What a case must end in.
#[derive(Clone, Debug)]
enum Expect {
    /// The matrix row fails with one of these codes.
    Fails(Vec<Code>),
    /// The matrix row works (the hostile text is in what the server says).
    Works,
    /// The row works over verified TLS and the login connection breaks, so
    /// the login is a connection failure, not a refused password.
    LoginBreaks,
    /// The row works; the login ends in anything but success.
    LoginNotOk,
}

struct Case {
    name: String,
    proto: Proto,
    mode: Mode,
    script: Vec<Act>,
    expect: Expect,
}

/// The rules of a server that answers everything, refusing the login with
/// hostile words (`auth` replaces the refusal when given).
fn session(p: Proto, tls: &Arc<rustls::ServerConfig>, auth: Option<&Reply>) -> Vec<Rule> {
    let text = |prefix: &'static str, reply: String| Rule {
        prefix,
        reply: Reply::Text(reply),
    };
    let refusal = |default: Reply| auth.cloned().unwrap_or(default);
    match p {
        Proto::Pop3 => vec![
            text("CAPA", "+OK\r\nSTLS\r\nSASL PLAIN\r\nUSER\r\n.\r\n".into()),
            Rule {
                prefix: "STLS",
                reply: Reply::StartTls("+OK go ahead\r\n".into(), tls.clone()),
            },
            Rule {
                prefix: "AUTH",
                reply: refusal(Reply::Text(format!("-ERR [AUTH] {EVIL} no\r\n"))),
            },
            Rule {
                prefix: "USER",
                reply: refusal(Reply::Text(format!("-ERR [AUTH] {EVIL} no\r\n"))),
            },
            text("QUIT", "+OK bye\r\n".into()),
        ],
        Proto::Imap => vec![
            Rule {
                prefix: "CAPABILITY",
                reply: Reply::Tagged(
                    "* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR\r\n".into(),
                    "OK done\r\n".into(),
                ),
            },
            Rule {
                prefix: "STARTTLS",
                reply: Reply::StartTlsTagged("OK go ahead\r\n".into(), tls.clone()),
            },
            Rule {
                prefix: "AUTHENTICATE",
                reply: refusal(Reply::Tagged(
                    String::new(),
                    format!("NO [AUTHENTICATIONFAILED] {EVIL}\r\n"),
                )),
            },
            Rule {
                prefix: "LOGIN",
                reply: Reply::Tagged(String::new(), format!("NO {EVIL}\r\n")),
            },
            Rule {
                prefix: "LOGOUT",
                reply: Reply::Tagged("* BYE bye\r\n".into(), "OK\r\n".into()),
            },
        ],
        Proto::Smtp => vec![
            text(
                "EHLO",
                "250-mx.example.test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n".into(),
            ),
            Rule {
                prefix: "STARTTLS",
                reply: Reply::StartTls("220 go ahead\r\n".into(), tls.clone()),
            },
            Rule {
                prefix: "AUTH",
                reply: refusal(Reply::Text(format!("535 5.7.8 {EVIL}\r\n"))),
            },
            text("QUIT", "221 bye\r\n".into()),
        ],
    }
}

/// The start of every script: TLS first in implicit mode.
fn opening(mode: Mode, tls: &Arc<rustls::ServerConfig>) -> Vec<Act> {
    if mode == Mode::Tls {
        vec![Act::Tls(tls.clone())]
    } else {
        Vec::new()
    }
}

/// Misbehaviour at the greeting, for every protocol and mode.
fn greeting_cases(tls: &Arc<rustls::ServerConfig>) -> Vec<Case> {
    let mut cases = Vec::new();
    for p in Proto::ALL {
        for m in Mode::ALL {
            let start = opening(m, tls);
            let with = |acts: Vec<Act>| {
                let mut s = start.clone();
                s.extend(acts);
                s
            };
            let ok = p.ok();
            let drip: Vec<Act> = (0..30)
                .flat_map(|_| [send("x"), Act::Sleep(Duration::from_millis(100))])
                .collect();
            let huge = match p {
                Proto::Smtp => "220-spam spam spam spam spam spam\r\n".repeat(4000),
                Proto::Imap => "* OK spam spam spam spam spam spam\r\n".repeat(4000),
                Proto::Pop3 => "+OK spam spam spam spam spam spam".repeat(4000),
            };
            let greeting = format!("{ok} mx {EVIL} ready\r\n");
            let fails = |codes: &[Code]| Expect::Fails(codes.to_vec());
            let list: Vec<(&str, Vec<Act>, Expect)> = vec![
                ("silence", vec![Act::Hang], fails(&[Code::NoGreeting])),
                ("slow drip", with_hang(drip), fails(&[Code::NoGreeting])),
                (
                    "endless line",
                    vec![Act::Send(vec![b'A'; 200_000]), Act::Hang],
                    fails(&[Code::LineTooLong]),
                ),
                (
                    "NUL bytes",
                    vec![
                        Act::Send(format!("{ok} \0 evil\r\n").into_bytes()),
                        Act::Hang,
                    ],
                    fails(&[Code::InvalidBytes]),
                ),
                (
                    "invalid UTF-8",
                    vec![
                        Act::Send([ok.as_bytes(), b" \xff\xfe\xfd\r\n"].concat()),
                        Act::Hang,
                    ],
                    fails(&[Code::InvalidBytes]),
                ),
                (
                    "hang up",
                    Vec::new(),
                    fails(&[Code::ConnectionClosed, Code::ConnectionReset]),
                ),
                (
                    "SSH banner",
                    vec![send("SSH-2.0-OpenSSH_9.2p1\r\n"), Act::Hang],
                    fails(&[Code::WrongProtocol]),
                ),
                (
                    "refusal with escapes",
                    vec![send(&p.refusal()), Act::Read, send("+OK\r\n")],
                    fails(&[Code::GreetingRejected]),
                ),
                (
                    "flood",
                    vec![send(&huge), Act::Hang],
                    fails(&[Code::ReplyTooLong, Code::LineTooLong, Code::ProbeTooLarge]),
                ),
                (
                    "escapes in every reply",
                    vec![send(&greeting), Act::Serve(session(p, tls, None))],
                    if m == Mode::Plain {
                        Expect::Works
                    } else {
                        Expect::LoginNotOk
                    },
                ),
            ];
            for (what, acts, expect) in list {
                cases.push(Case {
                    name: format!("{} {} {what}", p.name(), m.name()),
                    proto: p,
                    mode: m,
                    script: with(acts),
                    expect,
                });
            }
        }
    }
    cases
}

fn with_hang(mut acts: Vec<Act>) -> Vec<Act> {
    acts.push(Act::Hang);
    acts
}

/// The plaintext greeting and first reply of a STARTTLS session, up to the
/// server's go-ahead.
fn up_to_go_ahead(p: Proto) -> Vec<Act> {
    match p {
        Proto::Pop3 => vec![
            send("+OK ready\r\n"),
            Act::Read,
            send("+OK\r\nSTLS\r\n.\r\n"),
            Act::Read,
        ],
        Proto::Imap => vec![
            send("* OK ready\r\n"),
            Act::Read,
            send("* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\n"),
            Act::Read,
        ],
        Proto::Smtp => vec![
            send("220 ready\r\n"),
            Act::Read,
            send("250-mx\r\n250 STARTTLS\r\n"),
            Act::Read,
        ],
    }
}

fn go_ahead(p: Proto) -> &'static str {
    match p {
        Proto::Pop3 => "+OK go ahead\r\n",
        Proto::Imap => "a2 OK go ahead\r\n",
        Proto::Smtp => "220 go ahead\r\n",
    }
}

/// Misbehaviour after the first command (an endless capability list, garbage),
/// at STARTTLS (data injected, plaintext instead of a handshake), and in the
/// implicit TLS handshake (an alert, garbage, plaintext, a chain too long, a
/// certificate with a thousand names).
fn protocol_cases(pki: &Pki, tls: &Arc<rustls::ServerConfig>) -> Vec<Case> {
    let mut cases = Vec::new();
    for p in Proto::ALL {
        cases.extend(reply_cases(p, tls));
        cases.extend(starttls_cases(p, tls));
    }
    cases.extend(handshake_cases(pki, tls));
    cases
}

fn case(p: Proto, mode: Mode, what: &str, script: Vec<Act>, expect: Expect) -> Case {
    Case {
        name: format!("{} {} {what}", p.name(), mode.name()),
        proto: p,
        mode,
        script,
        expect,
    }
}

fn greeting_of(p: Proto) -> &'static str {
    match p {
        Proto::Pop3 => "+OK ready\r\n",
        Proto::Imap => "* OK ready\r\n",
        Proto::Smtp => "220 ready\r\n",
    }
}

fn reply_cases(p: Proto, tls: &Arc<rustls::ServerConfig>) -> Vec<Case> {
    let endless = match p {
        Proto::Pop3 => format!("+OK\r\n{}", "CAP\r\n".repeat(20_000)),
        Proto::Imap => "* CAPABILITY X\r\n".repeat(20_000),
        Proto::Smtp => "250-CAP\r\n".repeat(20_000),
    };
    let mut cases = Vec::new();
    for m in Mode::ALL {
        let mut endless_script = opening(m, tls);
        endless_script.extend([send(greeting_of(p)), Act::Read, send(&endless), Act::Hang]);
        cases.push(case(
            p,
            m,
            "endless capability list",
            endless_script,
            Expect::Fails(vec![Code::ReplyTooLong, Code::ProbeTooLarge]),
        ));
        let mut garbage = opening(m, tls);
        garbage.extend([
            send(greeting_of(p)),
            Act::Read,
            Act::Send(b"\x00\x01\x02\xff garbage \x1b[2J\r\n".to_vec()),
            Act::Hang,
        ]);
        cases.push(case(
            p,
            m,
            "garbage reply",
            garbage,
            Expect::Fails(vec![Code::InvalidBytes]),
        ));
        // 10 MB in lines of 1,000 bytes, each line within the line limit.
        let line = format!("{}{}\r\n", continuation(p), "x".repeat(996));
        let first = if p == Proto::Pop3 { "+OK\r\n" } else { "" };
        let mut big = opening(m, tls);
        big.extend([
            send(greeting_of(p)),
            Act::Read,
            send(&format!("{first}{}", line.repeat(10_000))),
            Act::Hang,
        ]);
        cases.push(case(
            p,
            m,
            "a 10 MB reply",
            big,
            Expect::Fails(vec![Code::ReplyTooLong, Code::ProbeTooLarge]),
        ));
        if p == Proto::Imap {
            // A literal announcing 999,999,999 bytes, then 1 MB without a line end.
            let mut literal = opening(m, tls);
            literal.extend([
                send(greeting_of(p)),
                Act::Read,
                send(&format!(
                    "* CAPABILITY IMAP4rev1 {{999999999}}\r\n{}",
                    "y".repeat(1 << 20)
                )),
                Act::Hang,
            ]);
            cases.push(case(
                p,
                m,
                "a literal of 999,999,999 bytes",
                literal,
                Expect::Fails(vec![
                    Code::LineTooLong,
                    Code::ReplyTooLong,
                    Code::ProbeTooLarge,
                ]),
            ));
        }
    }
    cases
}

/// What starts a line that continues a reply.
fn continuation(p: Proto) -> &'static str {
    match p {
        Proto::Pop3 => "",
        Proto::Imap => "* ",
        Proto::Smtp => "250-",
    }
}

fn starttls_cases(p: Proto, tls: &Arc<rustls::ServerConfig>) -> Vec<Case> {
    let mut injected = up_to_go_ahead(p);
    injected.extend([
        send(&format!("{}{} injected\r\n", go_ahead(p), p.ok())),
        Act::Tls(tls.clone()),
        Act::Hang,
    ]);
    let mut plaintext = up_to_go_ahead(p);
    plaintext.extend([
        send(go_ahead(p)),
        Act::Sleep(Duration::from_millis(100)),
        send(&format!("{} still plaintext\r\n", p.ok())),
        Act::Hang,
    ]);
    vec![
        case(
            p,
            Mode::StartTls,
            "injection after STARTTLS",
            injected,
            Expect::Fails(vec![Code::StartTlsInjection]),
        ),
        case(
            p,
            Mode::StartTls,
            "plaintext instead of a handshake",
            plaintext,
            Expect::Fails(vec![Code::StartTlsInjection, Code::TlsGotPlaintext]),
        ),
    ]
}

fn handshake_cases(pki: &Pki, tls: &Arc<rustls::ServerConfig>) -> Vec<Case> {
    let deep = pki.server_deep_chain(20);
    let names: Vec<String> = (0..1000).map(|i| format!("n{i}.elsewhere.test")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let crowded = pki.server(&Leaf {
        names: &names,
        ..Leaf::default()
    });
    let mut cases = Vec::new();
    for p in Proto::ALL {
        let greet = greeting_of(p);
        let tls_case = |what: &str, script: Vec<Act>, codes: &[Code]| {
            case(p, Mode::Tls, what, script, Expect::Fails(codes.to_vec()))
        };
        let served = |config: &Arc<rustls::ServerConfig>| {
            vec![
                Act::Tls(config.clone()),
                send(greet),
                Act::Serve(session(p, tls, None)),
            ]
        };
        cases.extend([
            tls_case(
                "TLS alert",
                vec![Act::AfterHello(vec![
                    0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 40,
                ])],
                &[Code::TlsAlert],
            ),
            tls_case(
                "garbage instead of a ServerHello",
                vec![
                    Act::AfterHello(b"\x16\x03\x03\x00\x05garbage".to_vec()),
                    Act::Hang,
                ],
                &[Code::TlsHandshakeFailed, Code::TlsAlert],
            ),
            tls_case(
                "plaintext greeting on a TLS port",
                vec![send(greet), Act::Hang],
                &[Code::TlsGotPlaintext],
            ),
            tls_case(
                "a chain of 20 intermediates",
                served(&deep),
                &[
                    Code::CertInvalid,
                    Code::CertIncompleteChain,
                    Code::CertUntrusted,
                ],
            ),
            tls_case(
                "a certificate with 1000 other names",
                served(&crowded),
                &[Code::CertNameMismatch],
            ),
        ]);
    }
    cases
}

/// Misbehaviour during a login over verified TLS: the connection closed after
/// the credentials, a line over the limit in answer, endless SASL challenges.
fn login_cases(tls: &Arc<rustls::ServerConfig>) -> Vec<Case> {
    let mut cases = Vec::new();
    for p in Proto::ALL {
        let challenge = match p {
            Proto::Pop3 | Proto::Imap => "+ Zm9v\r\n".repeat(5000),
            Proto::Smtp => "334 Zm9v\r\n".repeat(5000),
        };
        let long = format!("{} {}\r\n", p.ok(), "x".repeat(10_000));
        for (what, reply, expect) in [
            (
                "connection closed after AUTH",
                Reply::Close,
                Expect::LoginBreaks,
            ),
            (
                "a line over the limit",
                Reply::Text(long),
                Expect::LoginBreaks,
            ),
            (
                "endless challenges",
                Reply::Text(challenge),
                Expect::LoginNotOk,
            ),
        ] {
            let mut script = vec![
                Act::Tls(tls.clone()),
                send(&format!("{} ready\r\n", p.ok())),
            ];
            script.push(Act::Serve(session(p, tls, Some(&reply))));
            cases.push(Case {
                name: format!("{} tls login: {what}", p.name()),
                proto: p,
                mode: Mode::Tls,
                script,
                expect,
            });
        }
    }
    cases
}

/// Every form the password could travel in: as is, and base64 in SASL PLAIN
/// (with either username form) or LOGIN.
fn secret_forms() -> Vec<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    vec![
        PASSWORD.to_owned(),
        b64(PASSWORD),
        b64(&format!("\0{ADDRESS}\0{PASSWORD}")),
        b64(&format!("\0alice\0{PASSWORD}")),
    ]
}

fn human(report: &Report, verbose: bool) -> String {
    let opts = Options {
        format: Format::Human,
        verbose,
        client: Client::Generic,
        warn_days: 21,
        crit_days: 7,
    };
    let mut out = Vec::new();
    output::render(report, &opts, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn json(report: &Report) -> serde_json::Value {
    let opts = Options {
        format: Format::Json,
        verbose: false,
        client: Client::Generic,
        warn_days: 21,
        crit_days: 7,
    };
    let mut out = Vec::new();
    output::render(report, &opts, &mut out).unwrap();
    serde_json::from_slice(&out).expect("valid JSON")
}

/// Runs one case and returns what went wrong with it, if anything.
async fn check(case: Case, pki: &Pki, password_file: &str) -> Vec<String> {
    let server = Scripted::start(case.script).await;
    let spec = format!("{}:{}:{}", case.proto.name(), server.port, case.mode.name());
    let ca = pki.ca_path();
    let started = Instant::now();
    let report = run(&[
        ADDRESS,
        "--host",
        "127.0.0.1",
        "--only",
        &spec,
        "--ca-file",
        &ca,
        "--timeout",
        "1",
        "--deadline",
        "8",
        "--password-file",
        password_file,
    ])
    .await;
    let took = started.elapsed();
    let mut problems = Vec::new();
    let mut say = |p: String| problems.push(format!("{}: {p}", case.name));
    if took > Duration::from_secs(10) {
        say(format!("took {took:?}, past the 8 s deadline"));
    }
    let row = &report.run.probes[0];
    let code = row.failure.as_ref().map(|f| f.code);
    let login = report.run.logins.first();
    match &case.expect {
        Expect::Fails(codes) if !code.is_some_and(|c| codes.contains(&c)) => {
            say(format!(
                "expected one of {codes:?}, got {code:?}: {:?}",
                row.failure
            ));
        }
        Expect::Works | Expect::LoginNotOk | Expect::LoginBreaks if code.is_some() => {
            say(format!("expected the row to work, got {:?}", row.failure));
        }
        Expect::LoginBreaks if login.map(|l| l.result) != Some(LoginResult::ConnectionFailed) => {
            say(format!(
                "expected connection_failed, got {:?}",
                login.map(|l| (l.result, &l.reason))
            ));
        }
        Expect::LoginNotOk if login.is_some_and(|l| l.result == LoginResult::Ok) => {
            say("the login must not count as a success".into());
        }
        _ => {}
    }
    for (what, text) in [
        ("human", human(&report, false)),
        ("human -v", human(&report, true)),
    ] {
        let raw: Vec<char> = text
            .chars()
            .filter(|c| *c != '\n' && mailcheck::output::text::unsafe_char(*c))
            .collect();
        if !raw.is_empty() {
            say(format!("{what} output carries raw {raw:?}"));
        }
        if text.len() > 200_000 {
            say(format!("{what} output is {} bytes", text.len()));
        }
    }
    let doc = json(&report);
    common::output::assert_valid("probe-report.schema.json", &doc);
    let received = server.received.lock().unwrap().join("\n");
    let sent = secret_forms().iter().any(|s| received.contains(s.as_str()));
    let verified = login
        .and_then(|l| l.probe.as_ref())
        .and_then(|p| p.tls.as_ref())
        .and_then(|t| t.certificate.as_ref())
        .is_some_and(|c| c.trusted);
    if sent && (case.mode == Mode::Plain || !verified) {
        say("the password reached the server without verified TLS".into());
    }
    if report.run.logins.iter().any(|l| l.secret_exposed) {
        say("a secret was marked exposed".into());
    }
    problems
}

fn tls_config(pki: &Pki) -> Arc<rustls::ServerConfig> {
    pki.server(&Leaf::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_greetings_in_every_protocol_and_mode() {
    let pki = Pki::new("hostile suite CA");
    let cases = greeting_cases(&tls_config(&pki));
    let n = cases.len();
    assert!(n >= 60, "{n} cases");
    run_all_with(pki, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_replies_starttls_and_handshakes() {
    let pki = Pki::new("hostile suite CA");
    let cases = protocol_cases(&pki, &tls_config(&pki));
    run_all_with(pki, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_logins() {
    let pki = Pki::new("hostile suite CA");
    let cases = login_cases(&tls_config(&pki));
    run_all_with(pki, cases).await;
}

/// Runs every case at once against the CA their certificates come from, and
/// lists every problem found.
async fn run_all_with(pki: Pki, cases: Vec<Case>) {
    let pki = Arc::new(pki);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), PASSWORD).unwrap();
    let path = file.path().display().to_string();
    let results = join_all(cases.into_iter().map(|c| {
        let pki = pki.clone();
        let path = path.clone();
        async move { check(c, &pki, &path).await }
    }))
    .await;
    let problems: Vec<String> = results.into_iter().flatten().collect();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_suite_has_over_sixty_cases() {
    let pki = Pki::new("count");
    let tls = tls_config(&pki);
    let n = greeting_cases(&tls).len() + protocol_cases(&pki, &tls).len() + login_cases(&tls).len();
    assert!(n >= 60, "{n}");
}
