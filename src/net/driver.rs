//! The one I/O loop: runs any [`Dialogue`] over a [`BoxStream`], owning the
//! per-phase timeouts, the size bounds, the STARTTLS hand-over and the transcript.
//!
//! When the dialogue asks for STARTTLS, the driver discards whatever the server
//! sent after its go-ahead (CVE-2011-0411 class), runs the handshake itself and
//! lets the caller judge the new session through [`Secure`] (record the
//! certificate, decide whether credentials may now be handed over), then goes on.
//!
//! A server is untrusted input. Every wait is bounded by the phase deadline (a
//! server that dribbles one byte a second still runs into it), every line by
//! [`Limits::line`], every reply by [`Limits::reply`] and the whole dialogue by
//! [`Limits::total`]. Lines must be UTF-8 text without NUL bytes.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::timeout_at;

use super::BoxStream;
use super::tls::{Handshake, HandshakeError, TlsSetup};
pub use super::trace::{Trace, escape};
use crate::model::{Code, Phase};
use crate::proto::{Dialogue, ProtoError, Step};

/// Size bounds for what a server may send.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest line, terminator included (8 KiB).
    pub line: usize,
    /// Longest reply: all lines until the dialogue takes its next step (64 KiB).
    pub reply: usize,
    /// Everything read in one probe (1 MiB).
    pub total: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            line: 8 * 1024,
            reply: 64 * 1024,
            total: 1024 * 1024,
        }
    }
}

/// Why a dialogue could not go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveError {
    /// The failure class.
    pub code: Code,
    /// The phase it happened in.
    pub phase: Phase,
    /// What happened.
    pub message: String,
    /// Whether the connection is still in step, so a polite QUIT makes sense.
    pub in_sync: bool,
}

/// How one stretch of the dialogue ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The dialogue finished.
    Done,
    /// The server accepted STARTTLS: upgrade the stream, then continue.
    StartTls,
}

/// What the driver needs to upgrade a connection when the dialogue asks for it.
#[derive(Clone, Copy)]
pub struct StartTls<'a> {
    /// Trust anchors and verifier.
    pub tls: &'a TlsSetup,
    /// The name to send in SNI and to verify the certificate against.
    pub host: &'a str,
}

/// The caller's judgement of a TLS session the driver set up after STARTTLS.
pub trait Secure {
    /// Records the handshake's outcome (`injected`: plaintext bytes discarded
    /// after the STARTTLS go-ahead) and may hand the dialogue its credentials.
    fn secured(
        &mut self,
        trace: &mut Trace<'_>,
        dialogue: &mut (dyn Dialogue + Send),
        outcome: Result<Handshake, HandshakeError>,
        injected: usize,
    );
}

/// For dialogues that never upgrade.
impl Secure for () {
    fn secured(
        &mut self,
        _: &mut Trace<'_>,
        _: &mut (dyn Dialogue + Send),
        _: Result<Handshake, HandshakeError>,
        _: usize,
    ) {
    }
}

/// Runs dialogues over one connection.
pub struct Driver<'a> {
    stream: Option<BoxStream>,
    starttls: Option<StartTls<'a>>,
    buf: Vec<u8>,
    limits: Limits,
    timeout: Duration,
    deadline: tokio::time::Instant,
    read_total: usize,
    reply_bytes: usize,
}

impl<'a> Driver<'a> {
    /// A driver over `stream`, with `timeout` for each phase; `starttls` says how
    /// to upgrade when the dialogue asks (`None`: such a request is an error).
    #[must_use]
    pub fn new(
        stream: BoxStream,
        limits: Limits,
        timeout: Duration,
        starttls: Option<StartTls<'a>>,
    ) -> Self {
        Driver {
            stream: Some(stream),
            starttls,
            buf: Vec::new(),
            limits,
            timeout,
            deadline: tokio::time::Instant::now() + timeout,
            read_total: 0,
            reply_bytes: 0,
        }
    }

    /// Runs `dialogue` to its end, upgrading the connection to TLS (once) when
    /// it asks for STARTTLS; `secure` judges the new session. A failed handshake
    /// ends the dialogue without an error: `secure` has recorded why.
    pub async fn run(
        &mut self,
        dialogue: &mut (dyn Dialogue + Send),
        trace: &mut Trace<'_>,
        secure: &mut (dyn Secure + Send),
    ) -> Result<(), DriveError> {
        let mut upgraded = false;
        loop {
            match self.run_until_upgrade(dialogue, trace).await? {
                End::Done => return Ok(()),
                End::StartTls if upgraded || self.starttls.is_none() => {
                    return Err(self.error(
                        Code::ProtocolViolation,
                        Phase::StartTls,
                        "the dialogue asked for a second TLS upgrade".into(),
                        false,
                    ));
                }
                End::StartTls => {
                    upgraded = true;
                    if !self.upgrade(dialogue, trace, secure).await? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// The STARTTLS hand-over: discard what arrived after the go-ahead, run the
    /// handshake, let `secure` judge it, and send the dialogue's first command
    /// over TLS. `Ok(false)` when the dialogue cannot go on.
    async fn upgrade(
        &mut self,
        dialogue: &mut (dyn Dialogue + Send),
        trace: &mut Trace<'_>,
        secure: &mut (dyn Secure + Send),
    ) -> Result<bool, DriveError> {
        let injected = self.discard_buffered();
        if injected > 0 {
            trace.line(
                "note",
                &format!("{injected} bytes after the STARTTLS reply discarded unread"),
            );
        }
        trace.begin(Phase::Tls);
        let Some(StartTls { tls, host }) = self.starttls else {
            return Ok(false);
        };
        let raw = self.take_stream();
        let outcome = match tls.handshake(raw, host, self.timeout).await {
            Ok((stream, handshake)) => {
                trace.line("note", "TLS established");
                self.put_stream(stream);
                Ok(handshake)
            }
            Err(e) => Err(injected_instead_of_tls(e)),
        };
        let established = outcome.is_ok();
        secure.secured(trace, dialogue, outcome, injected);
        if !established {
            return Ok(false);
        }
        match dialogue.after_tls() {
            Step::Send(cmd) => {
                let phase = dialogue.phase();
                trace.begin(phase);
                self.send(&cmd, phase, trace).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Runs `dialogue` until it is done or asks for STARTTLS.
    async fn run_until_upgrade(
        &mut self,
        dialogue: &mut (dyn Dialogue + Send),
        trace: &mut Trace<'_>,
    ) -> Result<End, DriveError> {
        loop {
            let phase = dialogue.phase();
            let Some(line) = self.read_line(phase, trace).await? else {
                // EOF. A server may hang up right after QUIT without a word.
                trace.line("note", "connection closed by the server");
                return if phase == Phase::Quit {
                    trace.end(true, Some("closed without a reply".into()));
                    Ok(End::Done)
                } else {
                    Err(self.error(Code::ConnectionClosed, phase, closed_message(phase), false))
                };
            };
            let step = dialogue.on_line(&line).map_err(|e| {
                let code = match e {
                    ProtoError::WrongProtocol { .. } => Code::WrongProtocol,
                    ProtoError::Unexpected { .. } | ProtoError::Refused { .. } => {
                        Code::ProtocolViolation
                    }
                    ProtoError::TooManyLines { .. } => Code::ReplyTooLong,
                };
                self.error(code, phase, e.to_string(), true)
            })?;
            let Some(step) = step else { continue };
            self.reply_bytes = 0;
            // Keep what was learned in the report at every step, so a run cut
            // short still shows it.
            trace.report.session = Some(dialogue.session().clone());
            match step {
                Step::Send(cmd) => {
                    let next = dialogue.phase();
                    trace.begin(next);
                    self.send(&cmd, next, trace).await?;
                }
                Step::SendSecret { wire, shown } => {
                    let next = dialogue.phase();
                    trace.begin(next);
                    trace.report.secret_sent = true;
                    self.send_shown(&wire, &shown, next, trace).await?;
                }
                Step::StartTls => {
                    trace.end(true, None);
                    return Ok(End::StartTls);
                }
                Step::Done => {
                    trace.end(true, None);
                    return Ok(End::Done);
                }
            }
        }
    }

    /// Writes one command, bounded by the phase deadline.
    pub async fn send(
        &mut self,
        cmd: &str,
        phase: Phase,
        trace: &mut Trace<'_>,
    ) -> Result<(), DriveError> {
        self.send_shown(cmd, cmd.trim_end_matches(['\r', '\n']), phase, trace)
            .await
    }

    /// Writes `cmd` while the transcript records `shown` (credentials redacted).
    async fn send_shown(
        &mut self,
        cmd: &str,
        shown: &str,
        phase: Phase,
        trace: &mut Trace<'_>,
    ) -> Result<(), DriveError> {
        self.deadline = tokio::time::Instant::now() + self.timeout;
        trace.line("client", shown);
        let deadline = self.deadline;
        let stream = self.stream_mut();
        let write = async {
            stream.write_all(cmd.as_bytes()).await?;
            stream.flush().await
        };
        match timeout_at(deadline, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.io_error(&e, phase)),
            Err(_) => Err(self.error(
                Code::ReplyTimeout,
                phase,
                "could not send within the phase timeout".into(),
                false,
            )),
        }
    }

    /// Bytes already received but not yet read as lines; they are discarded.
    ///
    /// After a positive STARTTLS reply nothing may follow in plaintext: anything
    /// here was injected (CVE-2011-0411 class) and must never be used.
    fn discard_buffered(&mut self) -> usize {
        let n = self.buf.len();
        self.buf.clear();
        n
    }

    /// Hands the stream over (for the TLS upgrade).
    ///
    /// # Panics
    /// When called twice without [`Driver::put_stream`] in between (a bug in mailcheck).
    fn take_stream(&mut self) -> BoxStream {
        self.stream.take().expect("stream taken twice")
    }

    /// Puts the (upgraded) stream back and restarts the phase clock.
    fn put_stream(&mut self, stream: BoxStream) {
        self.stream = Some(stream);
        self.deadline = tokio::time::Instant::now() + self.timeout;
    }

    /// Closes the connection, briefly waiting for TLS close_notify to go out.
    pub async fn close(&mut self) {
        if let Some(mut s) = self.stream.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), s.shutdown()).await;
        }
    }

    fn stream_mut(&mut self) -> &mut BoxStream {
        self.stream.as_mut().expect("stream present while driving")
    }

    /// Reads one line (without its terminator); `None` at end of stream.
    async fn read_line(
        &mut self,
        phase: Phase,
        trace: &mut Trace<'_>,
    ) -> Result<Option<String>, DriveError> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=pos).collect();
                return self.accept_line(&raw, phase, trace).map(Some);
            }
            if self.buf.len() >= self.limits.line {
                return Err(self.too_long(phase));
            }
            let mut chunk = [0u8; 4096];
            let deadline = self.deadline;
            let read = timeout_at(deadline, self.stream_mut().read(&mut chunk)).await;
            let n = match read {
                Err(_) => return Err(self.timed_out(phase)),
                Ok(Err(e)) => return Err(self.io_error(&e, phase)),
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                return Ok(None);
            }
            if phase == Phase::Greeting && self.buf.is_empty() && tls_record(&chunk[..n]) {
                return Err(self.error(
                    Code::ExpectsImplicitTls,
                    phase,
                    "the server answered with a TLS record instead of a greeting: this port speaks SSL/TLS from the first byte"
                        .into(),
                    false,
                ));
            }
            self.read_total += n;
            if self.read_total > self.limits.total {
                return Err(self.error(
                    Code::ProbeTooLarge,
                    phase,
                    format!(
                        "the server sent more than {} bytes in one probe",
                        self.limits.total
                    ),
                    false,
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn accept_line(
        &mut self,
        raw: &[u8],
        phase: Phase,
        trace: &mut Trace<'_>,
    ) -> Result<String, DriveError> {
        if raw.len() > self.limits.line {
            return Err(self.too_long(phase));
        }
        self.reply_bytes += raw.len();
        if self.reply_bytes > self.limits.reply {
            return Err(self.error(
                Code::ReplyTooLong,
                phase,
                format!("a reply longer than {} bytes", self.limits.reply),
                false,
            ));
        }
        let body = raw.strip_suffix(b"\n").unwrap_or(raw);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        let text = match std::str::from_utf8(body) {
            Ok(t) if !t.contains('\0') => t.to_owned(),
            _ => {
                let shown = String::from_utf8_lossy(body);
                trace.line("server", &shown);
                return Err(self.error(
                    Code::InvalidBytes,
                    phase,
                    format!(
                        "the server sent bytes that are not text: {:?}",
                        escape(&shown)
                    ),
                    false,
                ));
            }
        };
        trace.line("server", &text);
        Ok(text)
    }

    fn too_long(&self, phase: Phase) -> DriveError {
        self.error(
            Code::LineTooLong,
            phase,
            format!("a line longer than {} bytes", self.limits.line),
            false,
        )
    }

    fn timed_out(&self, phase: Phase) -> DriveError {
        let secs = self.timeout.as_secs_f32();
        if phase == Phase::Greeting {
            let partial = if self.buf.is_empty() {
                ""
            } else {
                " (only part of a line)"
            };
            self.error(
                Code::NoGreeting,
                phase,
                format!("no greeting within {secs}s{partial}"),
                false,
            )
        } else {
            self.error(
                Code::ReplyTimeout,
                phase,
                format!("no complete reply within {secs}s while waiting for {phase}"),
                false,
            )
        }
    }

    fn io_error(&self, e: &std::io::Error, phase: Phase) -> DriveError {
        let code = match e.kind() {
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                Code::ConnectionReset
            }
            _ => Code::ConnectionClosed,
        };
        self.error(code, phase, format!("{e} while waiting for {phase}"), false)
    }

    #[allow(clippy::unused_self)]
    fn error(&self, code: Code, phase: Phase, message: String, in_sync: bool) -> DriveError {
        DriveError {
            code,
            phase,
            message,
            in_sync,
        }
    }
}

/// A handshake after an accepted STARTTLS that met plaintext instead: injected,
/// whether in the reply's segment or later.
fn injected_instead_of_tls(mut e: HandshakeError) -> HandshakeError {
    if let Some(line) = e.plaintext_line.take() {
        e.code = Code::StartTlsInjection;
        e.message = format!(
            "after accepting STARTTLS the server sent plaintext instead of a TLS handshake: {line:?}. \
             This is the CVE-2011-0411 class of flaw (or someone on the path injecting commands)"
        );
    }
    e
}

/// Whether `bytes` start like a TLS record (RFC 8446 §5.1): a content type
/// (change_cipher_spec, alert, handshake, application_data) and a 3.x version.
fn tls_record(bytes: &[u8]) -> bool {
    matches!(bytes, [0x14..=0x17, 0x03, 0x00..=0x04, ..])
}

fn closed_message(phase: Phase) -> String {
    format!("the server closed the connection while we waited for {phase}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Combination, Endpoint, Protocol, Security};
    use crate::report::ProbeReport;
    use crate::report::Session;
    use std::time::Instant;
    use tokio::io::AsyncWriteExt;

    /// Waits for one greeting line, then says QUIT and waits for the reply.
    struct Echo {
        phase: Phase,
        session: Session,
    }

    impl Dialogue for Echo {
        fn phase(&self) -> Phase {
            self.phase
        }
        fn on_line(&mut self, line: &str) -> Result<Option<Step>, ProtoError> {
            match self.phase {
                Phase::Greeting => {
                    self.session.greeting = Some(line.to_owned());
                    self.phase = Phase::Quit;
                    Ok(Some(Step::Send("QUIT\r\n".into())))
                }
                _ => Ok(Some(Step::Done)),
            }
        }
        fn after_tls(&mut self) -> Step {
            Step::Done
        }
        fn quit_command(&mut self) -> String {
            "QUIT\r\n".into()
        }
        fn session(&self) -> &Session {
            &self.session
        }
        fn set_auth(&mut self, _plan: crate::proto::AuthPlan) {}
    }

    fn report() -> ProbeReport {
        let pop3 = Combination::new(Protocol::Pop3, 110, Security::Plain);
        ProbeReport::blank(&Endpoint::new("test", pop3))
    }

    async fn drive_with(
        server_bytes: Vec<u8>,
        limits: Limits,
        timeout: Duration,
    ) -> (Result<(), DriveError>, ProbeReport) {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        tokio::spawn(async move {
            let _ = server.write_all(&server_bytes).await;
            // Keep the connection open, silent, until the test ends.
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(server);
        });
        let mut rep = report();
        let mut trace = Trace::new(&mut rep, Instant::now());
        let mut driver = Driver::new(Box::new(client), limits, timeout, None);
        let mut d = Echo {
            phase: Phase::Greeting,
            session: Session::default(),
        };
        trace.begin(Phase::Greeting);
        let r = driver.run(&mut d, &mut trace, &mut ()).await;
        (r, rep)
    }

    #[tokio::test]
    async fn a_normal_exchange_is_recorded() {
        let (r, rep) = drive_with(
            b"+OK hi\r\n+OK bye\r\n".to_vec(),
            Limits::default(),
            Duration::from_secs(2),
        )
        .await;
        r.unwrap();
        let texts: Vec<&str> = rep.transcript.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["+OK hi", "QUIT", "+OK bye"]);
        assert_eq!(rep.phases.len(), 2);
        assert!(rep.phases.iter().all(|p| p.ok));
    }

    #[tokio::test]
    async fn an_endless_line_is_cut_at_the_line_bound() {
        let (r, _) = drive_with(
            vec![b'A'; 20_000],
            Limits::default(),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(r.unwrap_err().code, Code::LineTooLong);
    }

    #[tokio::test]
    async fn a_reply_beyond_its_bound_is_refused() {
        // The greeting never ends ("220-" continuation lines forever, in effect):
        // Echo's greeting handler is bypassed by a swallowing dialogue.
        let mut bytes = Vec::new();
        for _ in 0..10 {
            bytes.extend_from_slice(b"220-filler filler filler filler filler filler\r\n");
        }
        let limits = Limits {
            line: 100,
            reply: 250,
            total: 10_000,
        };
        let (r, _) = drive_swallowing(bytes, limits).await;
        assert_eq!(r.unwrap_err().code, Code::ReplyTooLong);
    }

    #[tokio::test]
    async fn a_dialogue_beyond_the_probe_bound_is_refused() {
        let bytes = b"220-filler filler filler filler filler filler\r\n".repeat(10);
        let limits = Limits {
            line: 100,
            reply: 10_000,
            total: 200,
        };
        let (r, _) = drive_swallowing(bytes, limits).await;
        assert_eq!(r.unwrap_err().code, Code::ProbeTooLarge);
    }

    /// A dialogue that reads lines forever without taking a step.
    struct Swallow(Session);

    impl Dialogue for Swallow {
        fn phase(&self) -> Phase {
            Phase::Greeting
        }
        fn on_line(&mut self, _line: &str) -> Result<Option<Step>, ProtoError> {
            Ok(None)
        }
        fn after_tls(&mut self) -> Step {
            Step::Done
        }
        fn quit_command(&mut self) -> String {
            "QUIT\r\n".into()
        }
        fn session(&self) -> &Session {
            &self.0
        }
        fn set_auth(&mut self, _plan: crate::proto::AuthPlan) {}
    }

    async fn drive_swallowing(
        bytes: Vec<u8>,
        limits: Limits,
    ) -> (Result<(), DriveError>, ProbeReport) {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        tokio::spawn(async move {
            let _ = server.write_all(&bytes).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let mut rep = report();
        let mut trace = Trace::new(&mut rep, Instant::now());
        let mut driver = Driver::new(Box::new(client), limits, Duration::from_secs(2), None);
        let r = driver
            .run(&mut Swallow(Session::default()), &mut trace, &mut ())
            .await;
        (r, rep)
    }

    #[tokio::test]
    async fn nul_bytes_are_invalid() {
        let (r, _) = drive_with(
            b"+OK \0evil\r\n".to_vec(),
            Limits::default(),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(r.unwrap_err().code, Code::InvalidBytes);
    }

    #[tokio::test]
    async fn invalid_utf8_is_invalid() {
        let (r, _) = drive_with(
            b"+OK \xff\xfe\r\n".to_vec(),
            Limits::default(),
            Duration::from_secs(2),
        )
        .await;
        assert_eq!(r.unwrap_err().code, Code::InvalidBytes);
    }

    #[tokio::test]
    async fn silence_is_no_greeting_within_the_phase_timeout() {
        let started = Instant::now();
        let (r, _) = drive_with(Vec::new(), Limits::default(), Duration::from_millis(300)).await;
        assert_eq!(r.unwrap_err().code, Code::NoGreeting);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_partial_greeting_line_still_times_out() {
        let (r, _) = drive_with(
            b"+OK no end of line".to_vec(),
            Limits::default(),
            Duration::from_millis(300),
        )
        .await;
        let e = r.unwrap_err();
        assert_eq!(e.code, Code::NoGreeting);
        assert!(e.message.contains("part of a line"), "{}", e.message);
    }

    #[tokio::test]
    async fn tls_records_in_place_of_a_greeting_say_the_port_speaks_tls() {
        // A TLS alert (fatal, protocol_version), as some servers send at once.
        let (r, _) = drive_with(
            vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 70],
            Limits::default(),
            Duration::from_secs(5),
        )
        .await;
        let e = r.unwrap_err();
        assert_eq!(e.code, Code::ExpectsImplicitTls, "{e:?}");
        assert!(e.message.contains("speaks SSL/TLS"), "{}", e.message);
    }

    #[test]
    fn control_characters_are_escaped_in_transcripts() {
        assert_eq!(escape("a\tb\u{1b}[31m"), "a\\tb\\u{1b}[31m");
        assert_eq!(escape("plain \"quoted\" text"), "plain \"quoted\" text");
    }
}
