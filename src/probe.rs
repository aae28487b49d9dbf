//! One combination, start to finish: resolve → connect (each address family) →
//! implicit TLS → greeting → capabilities → STARTTLS → capabilities again → QUIT.
//!
//! A failed probe is data, not an error: everything that happens ends up in the
//! [`ProbeReport`], which is filled in as the probe goes so that a run cut short
//! keeps what was learned.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::cert;
use crate::model::Code;
use crate::model::{Phase, Protocol, Security};
use crate::net::BoxStream;
use crate::net::connect::{self, Attempt};
use crate::net::driver::{DriveError, Driver, End, Limits, Trace};
use crate::net::resolve::Resolution;
use crate::net::tls::{Captured, Handshake, HandshakeError, TlsSetup};
use crate::proto::{AuthPlan, Dialogue, SendTest, imap::Imap, pop3::Pop3, smtp::Smtp};
use crate::report::StartTlsState;
use crate::report::{ChainReport, Verdict};
use crate::report::{ConnectAttempt, Failure, ProbeReport, Status, TlsReport};

/// What every probe of a run shares.
pub struct Env {
    /// Trust anchors and verifier.
    pub tls: TlsSetup,
    /// Bound for each phase.
    pub timeout: Duration,
    /// Size bounds.
    pub limits: Limits,
    /// A greeting slower than this is flagged.
    pub slow_greeting: Duration,
}

/// What to probe.
#[derive(Debug, Clone)]
pub struct Target {
    /// Protocol.
    pub protocol: Protocol,
    /// Host name or IP literal.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Security mode.
    pub security: Security,
}

impl Target {
    /// An empty report for this target, to be filled in by [`run`].
    #[must_use]
    pub fn blank_report(&self) -> ProbeReport {
        ProbeReport {
            protocol: self.protocol,
            host: self.host.clone(),
            port: self.port,
            security: self.security,
            inferred: false,
            status: Status::Cancelled,
            failure: None,
            warnings: Vec::new(),
            phases: Vec::new(),
            addresses: Vec::new(),
            connects: Vec::new(),
            peer: None,
            tls: None,
            session: None,
            transcript: Vec::new(),
            secret_sent: false,
            duration_ms: 0,
        }
    }
}

/// Credentials for one connection. They reach the dialogue only once the
/// connection is known to be safe: TLS with a verified certificate and nothing
/// flagged, or anything at all when the user allowed insecure login.
pub struct LoginRequest {
    /// What to log in with, and what to do after.
    pub plan: AuthPlan,
    /// `--allow-insecure-auth`.
    pub allow_insecure: bool,
}

/// Runs one combination, writing everything into `report`. `resolution` is the
/// (possibly shared) lookup of the target's host; `clock` is the start of the run.
pub async fn run(
    env: &Env,
    target: &Target,
    resolution: impl Future<Output = Resolution>,
    clock: Instant,
    report: &mut ProbeReport,
) {
    run_inner(env, target, resolution, clock, report, None, None).await;
}

/// As [`run`], then (SMTP) try `test`'s envelope without logging in: does the
/// server relay for anyone? RSET follows; nothing is sent.
pub async fn run_relay_test(
    env: &Env,
    target: &Target,
    resolution: impl Future<Output = Resolution>,
    report: &mut ProbeReport,
    test: SendTest,
) {
    run_inner(
        env,
        target,
        resolution,
        Instant::now(),
        report,
        None,
        Some(test),
    )
    .await;
}

/// As [`run`], logging in when the connection turns out safe enough.
pub async fn run_login(
    env: &Env,
    target: &Target,
    resolution: impl Future<Output = Resolution>,
    report: &mut ProbeReport,
    login: LoginRequest,
) {
    run_inner(
        env,
        target,
        resolution,
        Instant::now(),
        report,
        Some(login),
        None,
    )
    .await;
}

async fn run_inner(
    env: &Env,
    target: &Target,
    resolution: impl Future<Output = Resolution>,
    clock: Instant,
    report: &mut ProbeReport,
    mut login: Option<LoginRequest>,
    relay: Option<SendTest>,
) {
    let mut trace = Trace::new(report, clock);
    trace.begin(Phase::Resolve);
    let resolution = resolution.await;
    if let Some(stream) = resolve_and_connect(env, target, &resolution, &mut trace).await {
        converse(env, target, stream, &mut trace, &mut login, relay).await;
    }
    finish(report, clock);
}

/// Gives the dialogue the credentials if, and only if, this connection may carry
/// them now.
fn hand_over(
    trace: &Trace<'_>,
    dialogue: &mut (dyn Dialogue + Send),
    login: &mut Option<LoginRequest>,
) {
    let verified = trace
        .report
        .tls
        .as_ref()
        .and_then(|t| t.certificate.as_ref())
        .is_some_and(|c| c.trusted);
    let safe = verified && trace.report.failure.is_none();
    if let Some(l) = login.take_if(|l| safe || l.allow_insecure) {
        dialogue.set_auth(l.plan);
    }
}

fn finish(report: &mut ProbeReport, clock: Instant) {
    report.duration_ms = clock.elapsed().as_millis() as u64;
    report.status = if report.failure.is_some() {
        Status::Failed
    } else if report.warnings.is_empty() {
        Status::Ok
    } else {
        Status::Warning
    };
}

/// Records the first failure (later ones are consequences), and marks the phase
/// it happened in as failed.
fn fail(trace: &mut Trace<'_>, code: Code, phase: Phase, message: String) {
    if let Some(rec) = trace
        .report
        .phases
        .iter_mut()
        .rev()
        .find(|p| p.phase == phase)
    {
        rec.ok = false;
    }
    if trace.report.failure.is_none() {
        trace.report.failure = Some(Failure {
            code,
            phase,
            message,
        });
    }
}

fn warn(trace: &mut Trace<'_>, code: Code, phase: Phase, message: String) {
    trace.report.warnings.push(Failure {
        code,
        phase,
        message,
    });
}

async fn resolve_and_connect(
    env: &Env,
    target: &Target,
    resolution: &Resolution,
    trace: &mut Trace<'_>,
) -> Option<Connection> {
    trace.report.addresses = resolution.addresses.iter().map(IpAddr::to_string).collect();
    let detail = if resolution.literal {
        Some("IP address given, no DNS needed".to_owned())
    } else {
        Some(trace.report.addresses.join(", "))
    };
    if let Some(f) = &resolution.failure {
        trace.end(false, Some(f.message.clone()));
        fail(trace, f.code, Phase::Resolve, f.message.clone());
        return None;
    }
    trace.end(true, detail);

    trace.begin(Phase::Connect);
    let addresses = connect::per_family(&resolution.addresses);
    let attempts = connect::connect_all(&addresses, target.port, env.timeout).await;
    pick_connection(trace, attempts)
}

/// A connected stream, its peer and our own address.
type Connection = (BoxStream, SocketAddr, Option<SocketAddr>);

/// Keeps every attempt in the report and returns the connection to talk over:
/// IPv6 when it works (as mail clients prefer it), IPv4 otherwise.
fn pick_connection(trace: &mut Trace<'_>, attempts: Vec<Attempt>) -> Option<Connection> {
    let mut chosen: Option<Connection> = None;
    let mut failures = Vec::new();
    for a in attempts {
        let family = if a.addr.is_ipv4() { "ipv4" } else { "ipv6" };
        let mut rec = ConnectAttempt {
            address: a.addr.to_string(),
            family: family.into(),
            ok: a.result.is_ok(),
            duration_ms: a.duration.as_millis() as u64,
            code: None,
            error: None,
        };
        match a.result {
            Ok(stream) => {
                if chosen.is_none() || a.addr.is_ipv6() {
                    let local = stream.local_addr().ok();
                    chosen = Some((Box::new(stream), a.addr, local));
                }
            }
            Err((code, message)) => {
                rec.code = Some(code);
                rec.error = Some(message.clone());
                failures.push((code, format!("{}: {message}", a.addr)));
            }
        }
        trace.report.connects.push(rec);
    }
    if let Some((stream, addr, local)) = chosen {
        trace.end(true, Some(format!("connected to {addr}")));
        trace.report.peer = Some(addr.to_string());
        for (code, message) in failures {
            warn(
                trace,
                code,
                Phase::Connect,
                format!("{message} (another address family works)"),
            );
        }
        Some((stream, addr, local))
    } else {
        {
            let message = failures
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            let code = failures.first().map_or(Code::ConnectRefused, |(c, _)| *c);
            trace.end(false, Some(message.clone()));
            fail(trace, code, Phase::Connect, message);
            None
        }
    }
}

fn dialogue_for(target: &Target, local: &str) -> Box<dyn Dialogue + Send> {
    match target.protocol {
        Protocol::Pop3 => Box::new(Pop3::new(target.security)),
        Protocol::Imap => Box::new(Imap::new(target.security)),
        Protocol::Smtp => Box::new(Smtp::new(target.security, local.to_owned())),
    }
}

/// SMTP EHLO argument: our own address as an address literal (RFC 5321 §4.1.3).
fn ehlo_literal(peer: SocketAddr, stream_local: Option<SocketAddr>) -> String {
    match stream_local.map(|a| a.ip()) {
        Some(IpAddr::V4(ip)) => format!("[{ip}]"),
        Some(IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
        None if peer.is_ipv6() => "[IPv6:::1]".to_owned(),
        None => "[127.0.0.1]".to_owned(),
    }
}

async fn converse(
    env: &Env,
    target: &Target,
    (stream, peer, local): Connection,
    trace: &mut Trace<'_>,
    login: &mut Option<LoginRequest>,
    relay: Option<SendTest>,
) {
    let mut stream = stream;
    if target.security == Security::Tls {
        trace.begin(Phase::Tls);
        match env.tls.handshake(stream, &target.host, env.timeout).await {
            Ok((tls, hs)) => {
                stream = tls;
                record_tls(trace, target, false, hs, 0);
            }
            Err(e) => {
                tls_failed(trace, target, e);
                return;
            }
        }
    }
    let mut dialogue = dialogue_for(target, &ehlo_literal(peer, local));
    if let Some(test) = relay {
        dialogue.set_relay_test(test);
    }
    if target.security != Security::StartTls {
        hand_over(trace, dialogue.as_mut(), login);
    }
    let mut driver = Driver::new(stream, env.limits, env.timeout);
    trace.begin(Phase::Greeting);
    let outcome = drive(env, target, &mut driver, dialogue.as_mut(), trace, login).await;
    if let Err(e) = outcome {
        trace.end(false, Some(e.message.clone()));
        if e.phase == Phase::Quit {
            // Everything that matters worked; a server that is rude at goodbye
            // is worth a note, not a failure.
            warn(
                trace,
                e.code,
                e.phase,
                format!("at QUIT/LOGOUT: {}", e.message),
            );
        } else {
            fail(trace, e.code, e.phase, explain(target, &e));
        }
        if e.in_sync {
            let quit = dialogue.quit_command();
            let _ = driver.send(&quit, Phase::Quit, trace).await;
        }
    }
    driver.close().await;
    judge_session(env, target, dialogue.as_ref(), trace);
}

async fn drive(
    env: &Env,
    target: &Target,
    driver: &mut Driver,
    dialogue: &mut (dyn Dialogue + Send),
    trace: &mut Trace<'_>,
    login: &mut Option<LoginRequest>,
) -> Result<(), DriveError> {
    if driver.run(dialogue, trace).await? == End::Done {
        return Ok(());
    }
    let injected = driver.discard_buffered();
    if injected > 0 {
        trace.line(
            "note",
            &format!("{injected} bytes after the STARTTLS reply discarded unread"),
        );
    }
    trace.begin(Phase::Tls);
    let raw = driver.take_stream();
    match env.tls.handshake(raw, &target.host, env.timeout).await {
        Ok((tls, hs)) => {
            trace.line("note", "TLS established");
            record_tls(trace, target, true, hs, injected);
            driver.put_stream(tls);
            hand_over(trace, dialogue, login);
        }
        Err(mut e) => {
            if let Some(line) = e.plaintext_line.take() {
                // STARTTLS was accepted, yet plaintext followed instead of a
                // handshake: injected, whether in the reply's segment or later.
                e.code = Code::StartTlsInjection;
                e.message = format!(
                    "after accepting STARTTLS the server sent plaintext instead of a TLS handshake: {line:?}. \
                     This is the CVE-2011-0411 class of flaw (or someone on the path injecting commands)"
                );
            }
            tls_failed(trace, target, e);
            return Ok(());
        }
    }
    match dialogue.after_tls() {
        crate::proto::Step::Send(cmd) => {
            trace.begin(dialogue.phase());
            driver.send(&cmd, dialogue.phase(), trace).await?;
        }
        _ => return Ok(()),
    }
    match driver.run(dialogue, trace).await? {
        End::Done => Ok(()),
        End::StartTls => Err(DriveError {
            code: Code::ProtocolViolation,
            phase: Phase::StartTls,
            message: "the dialogue asked for a second TLS upgrade".into(),
            in_sync: false,
        }),
    }
}

fn record_tls(
    trace: &mut Trace<'_>,
    target: &Target,
    via_starttls: bool,
    hs: Handshake,
    injected: usize,
) {
    let Handshake {
        version,
        cipher_suite,
        sni,
        captured,
    } = hs;
    let certificate = captured.as_ref().map(|c| analyse(c, &target.host));
    let detail = format!(
        "{} {}",
        version.as_deref().unwrap_or("TLS"),
        cipher_suite.as_deref().unwrap_or("")
    );
    trace.end(true, Some(detail.trim().to_owned()));
    if injected > 0 {
        fail(
            trace,
            Code::StartTlsInjection,
            Phase::StartTls,
            format!(
                "the server sent {injected} bytes after its STARTTLS reply, before the TLS handshake; \
                 they were discarded unread. This is the CVE-2011-0411 class of flaw (or someone on the path injecting commands)"
            ),
        );
    }
    match &certificate {
        Some(chain) if chain.verdict != Verdict::Trusted => {
            let reason = chain.verifier_error.clone().unwrap_or_default();
            fail(
                trace,
                cert_code(chain.verdict),
                Phase::Tls,
                format!("{} ({reason})", cert::describe(chain.verdict)),
            );
        }
        Some(_) => {}
        // Every full handshake shows a certificate; without one nothing was verified.
        None => fail(
            trace,
            Code::CertInvalid,
            Phase::Tls,
            "the TLS session completed without a certificate to verify".into(),
        ),
    }
    trace.report.tls = Some(TlsReport {
        via_starttls,
        version,
        cipher_suite,
        sni,
        certificate,
        injected_bytes_discarded: injected,
    });
}

fn analyse(captured: &Captured, host: &str) -> ChainReport {
    let now = time::OffsetDateTime::now_utc();
    cert::analyse(
        &captured.chain,
        host,
        now,
        captured.verdict.as_ref().copied(),
    )
}

fn tls_failed(trace: &mut Trace<'_>, target: &Target, e: HandshakeError) {
    trace.end(false, Some(e.message.clone()));
    let certificate = e.captured.as_ref().map(|c| analyse(c, &target.host));
    fail(trace, e.code, Phase::Tls, e.message);
    if certificate.is_some() {
        trace.report.tls = Some(TlsReport {
            via_starttls: target.security == Security::StartTls,
            version: None,
            cipher_suite: None,
            sni: None,
            certificate,
            injected_bytes_discarded: 0,
        });
    }
}

/// Maps a certificate verdict to its failure code.
#[must_use]
pub fn cert_code(v: Verdict) -> Code {
    match v {
        Verdict::Trusted | Verdict::Invalid => Code::CertInvalid,
        Verdict::Expired => Code::CertExpired,
        Verdict::NotYetValid => Code::CertNotYetValid,
        Verdict::NameMismatch => Code::CertNameMismatch,
        Verdict::SelfSigned => Code::CertSelfSigned,
        Verdict::Untrusted => Code::CertUntrusted,
        Verdict::IncompleteChain => Code::CertIncompleteChain,
    }
}

/// Adds the hint a person needs to a driver error.
fn explain(target: &Target, e: &DriveError) -> String {
    match e.code {
        Code::NoGreeting if target.security != Security::Tls => format!(
            "{}: the server stayed silent. A server that waits for the client to speak first on port {} most likely expects SSL/TLS from the first byte",
            e.message, target.port
        ),
        Code::ProtocolViolation if e.phase == Phase::Greeting => e.message.clone(),
        _ => e.message.clone(),
    }
}

/// Turns what the dialogue learned into failures and warnings.
fn judge_session(env: &Env, target: &Target, dialogue: &dyn Dialogue, trace: &mut Trace<'_>) {
    let session = dialogue.session().clone();
    if let Some(p) = trace
        .report
        .phases
        .iter()
        .find(|p| p.phase == Phase::Greeting && p.ok)
    {
        let took = Duration::from_millis(p.duration_ms);
        if took >= env.slow_greeting {
            warn(
                trace,
                Code::SlowGreeting,
                Phase::Greeting,
                format!(
                    "the greeting took {:.1}s (a tarpit or an overloaded server; clients may give up)",
                    took.as_secs_f32()
                ),
            );
        }
    }
    if let Some(text) = &session.greeting_rejected {
        fail(
            trace,
            Code::GreetingRejected,
            Phase::Greeting,
            format!("the server refuses service: {text:?}"),
        );
    }
    match &session.starttls {
        StartTlsState::NotAdvertised => fail(
            trace,
            Code::StartTlsNotAdvertised,
            Phase::Capabilities,
            format!(
                "{} on port {} does not offer STARTTLS",
                target.protocol, target.port
            ),
        ),
        StartTlsState::Refused(reply) => fail(
            trace,
            Code::StartTlsRefused,
            Phase::StartTls,
            format!("the server advertises STARTTLS but refused it: {reply:?}"),
        ),
        StartTlsState::NotAttempted | StartTlsState::Accepted => {}
    }
    trace.report.session = Some(session);
}
