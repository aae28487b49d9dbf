//! One combination, start to finish: resolve → connect (each address family) →
//! implicit TLS → greeting → capabilities → STARTTLS → capabilities again →
//! (login, send or relay test) → QUIT.
//!
//! A failed probe is data, not an error: everything that happens ends up in the
//! [`ProbeReport`], which is filled in as the probe goes so that a run cut short
//! keeps what was learned. The I/O itself, STARTTLS included, is the driver's;
//! this module decides what the connection's outcomes mean.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cert;
use crate::model::{Code, Endpoint, Phase, Protocol, Security};
use crate::net::BoxStream;
use crate::net::connect::{self, Attempt};
use crate::net::driver::{DriveError, Driver, Limits, Secure, StartTls, Trace};
use crate::net::limit::{PerServer, Slots};
use crate::net::resolve::Resolution;
use crate::net::tls::{Captured, Handshake, HandshakeError, TlsSetup};
use crate::proto::{AuthPlan, Dialogue, SendTest, imap::Imap, pop3::Pop3, smtp::Smtp};
use crate::report::{
    ChainReport, ConnectAttempt, ProbeReport, StartTlsState, Status, TlsReport, Verdict,
};

/// What every probe of a run shares.
pub struct Env {
    /// Trust anchors and verifier (shared by the runs of a batch or exporter).
    pub tls: Arc<TlsSetup>,
    /// Bound for each phase.
    pub timeout: Duration,
    /// Size bounds.
    pub limits: Limits,
    /// A greeting slower than this is flagged.
    pub slow_greeting: Duration,
    /// The cap on connections per server address, shared with the other runs
    /// of a batch or an exporter (`None`: a single run, no cap).
    pub per_server: Option<Arc<PerServer>>,
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

/// What a connection does once it is open, besides looking.
pub enum Task {
    /// Greeting, capabilities, STARTTLS, goodbye: one row of the matrix.
    Look,
    /// Log in when the connection turns out safe enough.
    Login(LoginRequest),
    /// SMTP: try this envelope without logging in (does the server relay for
    /// anyone?); RSET follows, nothing is sent.
    Relay(SendTest),
}

/// Runs one combination, writing everything into `report`. `resolution` is the
/// (possibly shared) lookup of the endpoint's host; `clock` is the start of the
/// time line the phases are measured on.
pub async fn run(
    env: &Env,
    endpoint: &Endpoint,
    resolution: impl Future<Output = Resolution>,
    clock: Instant,
    task: Task,
    report: &mut ProbeReport,
) {
    let mut trace = Trace::new(report, clock);
    trace.begin(Phase::Resolve);
    let resolution = resolution.await;
    if let Some(connection) = resolve_and_connect(env, endpoint, &resolution, &mut trace).await {
        let mut probe = Probe {
            env,
            endpoint,
            login: None,
        };
        probe.converse(connection, &mut trace, task).await;
    }
    finish(report, clock);
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

async fn resolve_and_connect(
    env: &Env,
    endpoint: &Endpoint,
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
        trace.fail(f.code, Phase::Resolve, f.message.clone());
        return None;
    }
    trace.end(true, detail);

    let addresses = connect::per_family(&resolution.addresses);
    // Waiting for a slot under the per-server cap is not the server's time.
    let slots = Slots::take(env.per_server.as_deref(), &addresses).await;
    trace.begin(Phase::Connect);
    let attempts = connect::connect_all(&addresses, endpoint.port(), env.timeout, slots).await;
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
            let message = format!("{message} (another address family works)");
            trace.warn(code, Phase::Connect, message);
        }
        return Some((stream, addr, local));
    }
    let message = failures
        .iter()
        .map(|(_, m)| m.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let code = failures.first().map_or(Code::ConnectRefused, |(c, _)| *c);
    trace.end(false, Some(message.clone()));
    trace.fail(code, Phase::Connect, message);
    None
}

fn dialogue_for(endpoint: &Endpoint, local: &str) -> Box<dyn Dialogue + Send> {
    let security = endpoint.security();
    match endpoint.protocol() {
        Protocol::Pop3 => Box::new(Pop3::new(security)),
        Protocol::Imap => Box::new(Imap::new(security)),
        Protocol::Smtp => Box::new(Smtp::new(security, local.to_owned())),
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

/// One open connection: what it is for, and the credentials still waiting for
/// a safe moment.
struct Probe<'a> {
    env: &'a Env,
    endpoint: &'a Endpoint,
    login: Option<LoginRequest>,
}

impl Probe<'_> {
    async fn converse(
        &mut self,
        (stream, peer, local): Connection,
        trace: &mut Trace<'_>,
        task: Task,
    ) {
        let env = self.env;
        let endpoint = self.endpoint;
        let mut stream = stream;
        if endpoint.security() == Security::Tls {
            trace.begin(Phase::Tls);
            match env.tls.handshake(stream, &endpoint.host, env.timeout).await {
                Ok((tls, hs)) => {
                    stream = tls;
                    self.record_tls(trace, false, hs, 0);
                }
                Err(e) => {
                    self.tls_failed(trace, e);
                    return;
                }
            }
        }
        let mut dialogue = dialogue_for(endpoint, &ehlo_literal(peer, local));
        match task {
            Task::Look => {}
            Task::Login(request) => self.login = Some(request),
            Task::Relay(test) => dialogue.set_relay_test(test),
        }
        if endpoint.security() != Security::StartTls {
            self.hand_over(trace, dialogue.as_mut());
        }
        let starttls = StartTls {
            tls: &env.tls,
            host: &endpoint.host,
        };
        let mut driver = Driver::new(stream, env.limits, env.timeout, Some(starttls));
        trace.begin(Phase::Greeting);
        if let Err(e) = driver.run(dialogue.as_mut(), trace, self).await {
            self.failed(trace, &e);
            if e.in_sync {
                let quit = dialogue.quit_command();
                let _ = driver.send(&quit, Phase::Quit, trace).await;
            }
        }
        driver.close().await;
        judge_session(env, endpoint, dialogue.as_ref(), trace);
    }

    /// Records why the dialogue stopped.
    fn failed(&self, trace: &mut Trace<'_>, e: &DriveError) {
        trace.end(false, Some(e.message.clone()));
        let rude_goodbye = matches!(
            e.code,
            Code::ConnectionClosed | Code::ConnectionReset | Code::ReplyTimeout
        );
        if e.phase == Phase::Quit && rude_goodbye {
            // Everything that matters worked; a server that hangs up or goes
            // quiet at goodbye is worth a note, not a failure. Garbage, floods
            // or protocol errors are failures wherever they come.
            trace.warn(e.code, e.phase, format!("at QUIT/LOGOUT: {}", e.message));
        } else {
            trace.fail(e.code, e.phase, explain(self.endpoint, e));
        }
    }

    /// Gives the dialogue the credentials if, and only if, this connection may
    /// carry them now.
    fn hand_over(&mut self, trace: &Trace<'_>, dialogue: &mut (dyn Dialogue + Send)) {
        let verified = trace
            .report
            .tls
            .as_ref()
            .and_then(|t| t.certificate.as_ref())
            .is_some_and(|c| c.trusted);
        let safe = verified && trace.report.failure.is_none();
        if let Some(l) = self.login.take_if(|l| safe || l.allow_insecure) {
            dialogue.set_auth(l.plan);
        }
    }

    fn record_tls(
        &self,
        trace: &mut Trace<'_>,
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
        let certificate = captured.as_ref().map(|c| analyse(c, &self.endpoint.host));
        let detail = format!(
            "{} {}",
            version.as_deref().unwrap_or("TLS"),
            cipher_suite.as_deref().unwrap_or("")
        );
        trace.end(true, Some(detail.trim().to_owned()));
        if injected > 0 {
            trace.fail(
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
                let message = format!("{} ({reason})", cert::describe(chain.verdict));
                trace.fail(cert_code(chain.verdict), Phase::Tls, message);
            }
            Some(_) => {}
            // Every full handshake shows a certificate; without one nothing was verified.
            None => trace.fail(
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

    fn tls_failed(&self, trace: &mut Trace<'_>, e: HandshakeError) {
        trace.end(false, Some(e.message.clone()));
        let certificate = e.captured.as_ref().map(|c| analyse(c, &self.endpoint.host));
        trace.fail(e.code, Phase::Tls, e.message);
        if certificate.is_some() {
            trace.report.tls = Some(TlsReport {
                via_starttls: self.endpoint.security() == Security::StartTls,
                version: None,
                cipher_suite: None,
                sni: None,
                certificate,
                injected_bytes_discarded: 0,
            });
        }
    }
}

impl Secure for Probe<'_> {
    fn secured(
        &mut self,
        trace: &mut Trace<'_>,
        dialogue: &mut (dyn Dialogue + Send),
        outcome: Result<Handshake, HandshakeError>,
        injected: usize,
    ) {
        match outcome {
            Ok(hs) => {
                self.record_tls(trace, true, hs, injected);
                self.hand_over(trace, dialogue);
            }
            Err(e) => self.tls_failed(trace, e),
        }
    }
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

/// Maps a certificate verdict to its failure code.
#[must_use]
pub fn cert_code(v: Verdict) -> Code {
    match v {
        Verdict::Trusted | Verdict::Invalid | Verdict::ChainTooLong => Code::CertInvalid,
        Verdict::Expired => Code::CertExpired,
        Verdict::NotYetValid => Code::CertNotYetValid,
        Verdict::NameMismatch => Code::CertNameMismatch,
        Verdict::SelfSigned => Code::CertSelfSigned,
        Verdict::Untrusted => Code::CertUntrusted,
        Verdict::IncompleteChain => Code::CertIncompleteChain,
    }
}

/// Adds the hint a person needs to a driver error.
fn explain(endpoint: &Endpoint, e: &DriveError) -> String {
    match e.code {
        Code::NoGreeting if endpoint.security() != Security::Tls => format!(
            "{}: the server stayed silent. A server that waits for the client to speak first on port {} most likely expects SSL/TLS from the first byte",
            e.message,
            endpoint.port()
        ),
        _ => e.message.clone(),
    }
}

/// Turns what the dialogue learned into failures and warnings.
fn judge_session(env: &Env, endpoint: &Endpoint, dialogue: &dyn Dialogue, trace: &mut Trace<'_>) {
    let session = dialogue.session().clone();
    if let Some(p) = trace
        .report
        .phases
        .iter()
        .find(|p| p.phase == Phase::Greeting && p.ok)
    {
        let took = Duration::from_millis(p.duration_ms);
        if took >= env.slow_greeting {
            trace.warn(
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
        let message = format!("the server refuses service: {text:?}");
        trace.fail(Code::GreetingRejected, Phase::Greeting, message);
    }
    match &session.starttls {
        StartTlsState::NotAdvertised => trace.fail(
            Code::StartTlsNotAdvertised,
            Phase::Capabilities,
            format!(
                "{} on port {} does not offer STARTTLS",
                endpoint.protocol(),
                endpoint.port()
            ),
        ),
        StartTlsState::Refused(reply) => trace.fail(
            Code::StartTlsRefused,
            Phase::StartTls,
            format!("the server advertises STARTTLS but refused it: {reply:?}"),
        ),
        StartTlsState::NotAttempted | StartTlsState::Accepted => {}
    }
    trace.report.session = Some(session);
}
