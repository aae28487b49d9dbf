//! Target `driver`: the one bounded I/O loop ([`Driver::run`]) over arbitrary
//! server bytes, with a real dialogue on top and, in STARTTLS mode, the real TLS
//! hand-over (rustls reading whatever follows the go-ahead); optionally the
//! implicit-TLS handshake first, as the probe does it on a TLS port.
//!
//! The server is an in-memory stream that is always ready: it hands out the
//! input in chunks of a chosen size and then reports the end of the stream, and
//! takes every byte written. Nothing waits, so a run is fast and every timeout
//! the driver sets is never reached; a driver that loops without reading shows
//! up as a hang to the fuzzer.
//!
//! Input: four configuration bytes, then the bytes the server sends. Byte 0:
//! bits 0-1 the protocol (SMTP, POP3, IMAP, IMAP), bit 2 an implicit-TLS
//! handshake before anything else (TLS mode only); bytes 1 and 2 are the
//! dialogue's flags and mechanism ([`Setup::new`]); byte 3 the read chunk size
//! (0: 4 KiB, n: 16n - 15 bytes, so 1 byte at a time too).
//!
//! Invariants: the run ends; the transcript holds no raw control character and
//! never a credential; credentials are sent only with a login plan and never
//! on a STARTTLS connection (no upgrade can verify here: the fuzzer cannot
//! complete a handshake, so every one fails); what the client
//! writes and what the report keeps stay bounded by what the server sent.

use std::io;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use mailcheck::model::{Combination, Endpoint, Phase, Protocol, Security};
use mailcheck::net::driver::{Driver, Limits, Secure, StartTls, Trace};
use mailcheck::net::tls::{Handshake, HandshakeError, TlsSetup, plaintext_line};
use mailcheck::proto::{AuthPlan, Dialogue};
use mailcheck::report::ProbeReport;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::runtime::Runtime;

use super::dialogue::{Setup, dialogue};
use super::input::{self, carries_secret};

/// The host the probe "connected" to: the TLS server name.
const HOST: &str = "mail.example.com";

/// Runs one input.
pub fn run(data: &[u8]) {
    let ([target, flags, mechanism, chunk], rest) = input::split::<4>(data);
    check_plaintext_line(rest);
    let protocol = [Protocol::Smtp, Protocol::Pop3, Protocol::Imap][usize::from(target & 3) % 3];
    let setup = Setup::new(protocol, [flags, mechanism, 0]);
    let chunk = match chunk {
        0 => 4096,
        n => 16 * usize::from(n) - 15,
    };
    let server = Server {
        bytes: rest.to_vec(),
        at: 0,
        chunk,
        written: 0,
    };
    let implicit_tls = target & 4 != 0 && setup.security == Security::Tls;
    let report = RUNTIME.with(|rt| rt.block_on(drive(protocol, &setup, server, implicit_tls)));
    check_report(&report, &setup, rest.len());
}

thread_local! {
    /// One runtime per thread (the property tests run on several), made once.
    static RUNTIME: Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
}

/// The one TLS setup of the process: loading the trust anchors is slow.
fn tls() -> &'static TlsSetup {
    static TLS: OnceLock<TlsSetup> = OnceLock::new();
    TLS.get_or_init(|| TlsSetup::new(None).expect("trust anchors"))
}

/// What the probe does with one connection, minus resolving and connecting.
async fn drive(
    protocol: Protocol,
    setup: &Setup,
    server: Server,
    implicit_tls: bool,
) -> ProbeReport {
    let timeout = Duration::from_secs(5);
    let endpoint = Endpoint::new(HOST, Combination::new(protocol, 1, setup.security));
    let mut report = ProbeReport::blank(&endpoint);
    let mut stream: mailcheck::net::BoxStream = Box::new(server);
    if implicit_tls {
        match tls().handshake(stream, HOST, timeout).await {
            Ok((tls_stream, _)) => stream = tls_stream,
            Err(e) => {
                check_handshake_error(&e);
                return report;
            }
        }
    }
    let mut dialogue = dialogue(protocol, setup.security);
    if let Some(test) = setup.relay.clone() {
        dialogue.set_relay_test(test);
    }
    let mut hand_over = HandOver(setup.plan.clone());
    if setup.early {
        hand_over.give(dialogue.as_mut());
    }
    let mut trace = Trace::new(&mut report, Instant::now());
    let starttls = StartTls {
        tls: tls(),
        host: HOST,
    };
    let mut driver = Driver::new(stream, Limits::default(), timeout, Some(starttls));
    trace.begin(Phase::Greeting);
    if let Err(e) = driver
        .run(dialogue.as_mut(), &mut trace, &mut hand_over)
        .await
    {
        assert!(!e.message.is_empty(), "{e:?}");
        if e.in_sync {
            let quit = dialogue.quit_command();
            let _ = driver.send(&quit, Phase::Quit, &mut trace).await;
        }
    }
    driver.close().await;
    report
}

/// Hands the plan over after an upgrade whose certificate verified, as the
/// probe does.
struct HandOver(Option<AuthPlan>);

impl HandOver {
    fn give(&mut self, dialogue: &mut (dyn Dialogue + Send)) {
        if let Some(plan) = self.0.take() {
            dialogue.set_auth(plan);
        }
    }
}

impl Secure for HandOver {
    fn secured(
        &mut self,
        _: &mut Trace<'_>,
        dialogue: &mut (dyn Dialogue + Send),
        outcome: Result<Handshake, HandshakeError>,
        injected: usize,
    ) {
        match outcome {
            Ok(handshake) => {
                let verified = handshake
                    .captured
                    .is_some_and(|c| c.verdict.is_ok() && injected == 0);
                if verified {
                    self.give(dialogue);
                }
            }
            Err(e) => check_handshake_error(&e),
        }
    }
}

fn check_handshake_error(e: &HandshakeError) {
    assert!(!e.message.is_empty(), "{e:?}");
    if let Some(line) = &e.plaintext_line {
        assert!(line.len() <= 120, "{line:?}");
    }
}

/// The first line of bytes that are not a TLS record: at most 120 printable
/// ASCII characters.
fn check_plaintext_line(bytes: &[u8]) {
    if let Some(line) = plaintext_line(bytes) {
        assert!(!line.is_empty() && line.len() <= 120, "{line:?}");
        assert!(line.bytes().all(|b| b.is_ascii_graphic() || b == b' '));
        assert!(!(0x14..=0x18).contains(&bytes[0]));
    }
}

fn check_report(report: &ProbeReport, setup: &Setup, sent: usize) {
    if report.secret_sent {
        assert!(setup.plan.is_some(), "credentials without a plan");
        assert_ne!(
            setup.security,
            Security::StartTls,
            "credentials on a STARTTLS connection that was never upgraded"
        );
    }
    for line in &report.transcript {
        assert!(
            !line.text.chars().any(char::is_control),
            "raw control character in {:?}",
            line.text
        );
        assert!(!carries_secret(&line.text), "{:?}", line.text);
    }
    let kept = serde_json::to_string(report)
        .expect("a report serialises")
        .len();
    assert!(
        kept <= 32 * sent + 64 * 1024,
        "{kept} bytes kept from {sent}"
    );
}

/// The server's side: hands out `bytes` `chunk` at a time, then the end of the
/// stream; swallows what the client writes.
struct Server {
    bytes: Vec<u8>,
    at: usize,
    chunk: usize,
    written: usize,
}

/// Most bytes a client may write in one run: commands, two login attempts with
/// their challenges, the message of a send test, a TLS ClientHello.
const MAX_WRITTEN: usize = 64 * 1024;

impl AsyncRead for Server {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let n = this
            .chunk
            .min(buf.remaining())
            .min(this.bytes.len() - this.at);
        buf.put_slice(&this.bytes[this.at..this.at + n]);
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Server {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written += buf.len();
        assert!(
            self.written <= MAX_WRITTEN,
            "{} bytes written",
            self.written
        );
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
