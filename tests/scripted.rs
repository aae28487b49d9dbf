//! Scripted loopback servers that misbehave on purpose: one test per failure class
//! that real servers will not produce on demand. Each runs mailcheck's whole stack
//! in-process against a server on 127.0.0.1 and an ephemeral port.

mod common;

use std::time::{Duration, Instant};

use common::{Act, Leaf, Pki, Scripted, code, probe_one, send};
use mailcheck::model::Code;
use mailcheck::model::Phase;
use mailcheck::report::Status;

const POP3_OK: &str = "+OK ready\r\n";
const CAPA_STLS: &str = "+OK\r\nSTLS\r\nUSER\r\n.\r\n";

fn spec(proto: &str, port: u16, mode: &str) -> String {
    format!("{proto}:{port}:{mode}")
}

/// A POP3 server that greets, answers CAPA and QUIT; enough for a plain probe.
fn pop3_plain() -> Vec<Act> {
    vec![
        send(POP3_OK),
        Act::Read,
        send("+OK\r\nUSER\r\n.\r\n"),
        Act::Read,
        send("+OK bye\r\n"),
    ]
}

#[tokio::test]
async fn a_well_behaved_plain_server_works() {
    let s = Scripted::start(pop3_plain()).await;
    let p = probe_one(&spec("pop3", s.port, "plain"), &[]).await;
    assert_eq!(p.status, Status::Ok, "{:?}", p.failure);
    let session = p.session.unwrap();
    assert_eq!(session.greeting.as_deref(), Some("+OK ready"));
    assert_eq!(session.capabilities, ["USER"]);
    assert_eq!(session.quit_reply.as_deref(), Some("+OK bye"));
}

#[tokio::test]
async fn connect_refused() {
    let p = probe_one(&spec("pop3", common::closed_port(), "plain"), &[]).await;
    assert_eq!(code(&p), "connect_refused");
    assert_eq!(p.failure.unwrap().phase, Phase::Connect);
}

#[tokio::test]
async fn connect_timeout() {
    // A listener whose accept queue is full: Linux drops further SYNs, so the
    // connection attempt hangs like one to a filtered port.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        if let Ok(Ok(c)) = tokio::time::timeout(
            Duration::from_millis(300),
            s.connect(format!("127.0.0.1:{port}").parse().unwrap()),
        )
        .await
        {
            fillers.push(c);
        }
    }
    let p = probe_one(&spec("pop3", port, "plain"), &["--timeout", "1"]).await;
    assert_eq!(code(&p), "connect_timeout", "{:?}", p.failure);
    drop(listener);
}

#[tokio::test]
async fn connection_reset() {
    let port = common::start_reset(b"").await;
    let p = probe_one(&spec("pop3", port, "plain"), &[]).await;
    assert_eq!(code(&p), "connection_reset", "{:?}", p.failure);
}

#[tokio::test]
async fn connection_closed_mid_dialogue() {
    let s = Scripted::start(vec![send(POP3_OK), Act::Read]).await;
    let p = probe_one(&spec("pop3", s.port, "plain"), &[]).await;
    let f = p.failure.unwrap();
    assert_eq!(f.code, Code::ConnectionClosed);
    assert_eq!(f.phase, Phase::Capabilities);
}

#[tokio::test]
async fn tls_got_plaintext() {
    let s = Scripted::start(vec![send("220 mx.example ESMTP\r\n"), Act::Hang]).await;
    let p = probe_one(&spec("smtp", s.port, "tls"), &[]).await;
    let f = p.failure.unwrap();
    assert_eq!(f.code, Code::TlsGotPlaintext);
    assert!(f.message.contains("220 mx.example ESMTP"), "{}", f.message);
    assert!(f.message.contains("STARTTLS"), "{}", f.message);
}

#[tokio::test]
async fn no_greeting_on_tls_port() {
    // A TLS server waits for the ClientHello: a plaintext client hears nothing.
    let s = Scripted::start(vec![Act::Hang]).await;
    let started = Instant::now();
    let p = probe_one(&spec("pop3", s.port, "plain"), &["--timeout", "1"]).await;
    let f = p.failure.unwrap();
    assert_eq!(f.code, Code::NoGreeting);
    assert!(f.message.contains("SSL/TLS"), "{}", f.message);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by --timeout"
    );
}

#[tokio::test]
async fn tls_silent_server() {
    let s = Scripted::start(vec![Act::Hang]).await;
    let p = probe_one(&spec("imap", s.port, "tls"), &["--timeout", "1"]).await;
    assert_eq!(code(&p), "tls_timeout");
}

#[tokio::test]
async fn tls_alert() {
    // Alert record: fatal (2), handshake_failure (40).
    let s = Scripted::start(vec![Act::AfterHello(vec![
        0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 40,
    ])])
    .await;
    let p = probe_one(&spec("imap", s.port, "tls"), &[]).await;
    assert_eq!(code(&p), "tls_alert", "{:?}", p.failure);
}

#[tokio::test]
async fn tls_version_too_old() {
    // What a TLS 1.0-only server answers to a TLS 1.2/1.3 ClientHello:
    // alert protocol_version (70) in a TLS 1.0 record.
    let s = Scripted::start(vec![Act::AfterHello(vec![
        0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 70,
    ])])
    .await;
    let p = probe_one(&spec("pop3", s.port, "tls"), &[]).await;
    assert_eq!(code(&p), "tls_version_too_old", "{:?}", p.failure);
}

/// An implicit-TLS POP3 server presenting `config`'s certificate.
fn pop3_tls(config: std::sync::Arc<rustls::ServerConfig>) -> Vec<Act> {
    let mut script = vec![Act::Tls(config)];
    script.extend(pop3_plain());
    script
}

async fn cert_probe(
    config: std::sync::Arc<rustls::ServerConfig>,
    pki: &Pki,
) -> mailcheck::report::ProbeReport {
    let s = Scripted::start(pop3_tls(config)).await;
    let ca = pki.ca_path();
    let p = probe_one(&spec("pop3", s.port, "tls"), &["--ca-file", &ca]).await;
    // The session goes on past a bad certificate, so the rest is still observed.
    assert!(
        p.session.as_ref().is_some_and(|s| s.greeting.is_some()),
        "greeting observed"
    );
    p
}

#[tokio::test]
async fn a_trusted_certificate_verifies() {
    let pki = Pki::new("mailcheck test CA");
    let p = cert_probe(pki.server(&Leaf::default()), &pki).await;
    assert_eq!(p.status, Status::Ok, "{:?}", p.failure);
    let tls = p.tls.unwrap();
    let chain = tls.certificate.unwrap();
    assert!(chain.trusted);
    assert!(chain.host_name_matches);
    assert_eq!(tls.sni, None, "no SNI for an IP literal");
    assert!(tls.version.unwrap().starts_with("TLSv1."));
    assert!((88..=90).contains(&chain.certificates[0].days_left));
}

#[tokio::test]
async fn cert_expired() {
    let pki = Pki::new("ca");
    let leaf = Leaf {
        from_days: -100,
        to_days: -3,
        ..Leaf::default()
    };
    let p = cert_probe(pki.server(&leaf), &pki).await;
    assert_eq!(code(&p), "cert_expired");
    let days = p.tls.unwrap().certificate.unwrap().certificates[0].days_left;
    assert!((-4..=-3).contains(&days), "{days}");
}

#[tokio::test]
async fn cert_not_yet_valid() {
    let pki = Pki::new("ca");
    let leaf = Leaf {
        from_days: 5,
        to_days: 90,
        ..Leaf::default()
    };
    let p = cert_probe(pki.server(&leaf), &pki).await;
    assert_eq!(code(&p), "cert_not_yet_valid");
    assert!(
        p.failure.unwrap().message.to_lowercase().contains("clock"),
        "clock-skew hint"
    );
}

#[tokio::test]
async fn cert_name_mismatch() {
    let pki = Pki::new("ca");
    let leaf = Leaf {
        names: &["mail.other.example"],
        ..Leaf::default()
    };
    let p = cert_probe(pki.server(&leaf), &pki).await;
    assert_eq!(code(&p), "cert_name_mismatch");
    assert!(!p.tls.unwrap().certificate.unwrap().host_name_matches);
}

#[tokio::test]
async fn cert_self_signed() {
    let pki = Pki::new("ca");
    let p = cert_probe(
        common::self_signed_server(&["localhost", "127.0.0.1"]),
        &pki,
    )
    .await;
    assert_eq!(code(&p), "cert_self_signed", "{:?}", p.failure);
    assert!(p.tls.unwrap().certificate.unwrap().certificates[0].self_signed);
}

#[tokio::test]
async fn cert_untrusted_root() {
    let pki = Pki::new("ca");
    let other = Pki::new("some other CA");
    let (leaf, key) = other.leaf(&Leaf::default());
    let config = common::server_config(vec![leaf, other.ca_der()], key);
    let p = cert_probe(config, &pki).await;
    assert_eq!(code(&p), "cert_untrusted");
    assert_eq!(p.tls.unwrap().certificate.unwrap().chain_length, 2);
}

#[tokio::test]
async fn cert_incomplete_chain() {
    let pki = Pki::new("ca");
    let p = cert_probe(pki.server_via_intermediate(false), &pki).await;
    assert_eq!(code(&p), "cert_incomplete_chain");
    let full = cert_probe(pki.server_via_intermediate(true), &pki).await;
    assert_eq!(full.status, Status::Ok, "{:?}", full.failure);
}

#[tokio::test]
async fn wrong_protocol_imap_on_pop3_port() {
    let s = Scripted::start(vec![
        send("* OK [CAPABILITY IMAP4rev1] ready\r\n"),
        Act::Hang,
    ])
    .await;
    let p = probe_one(&spec("pop3", s.port, "plain"), &[]).await;
    let f = p.failure.unwrap();
    assert_eq!(f.code, Code::WrongProtocol);
    assert!(f.message.contains("IMAP"), "{}", f.message);
}

#[tokio::test]
async fn wrong_protocol_ssh_and_http() {
    for (greeting, name) in [
        ("SSH-2.0-OpenSSH_9.2p1\r\n", "SSH"),
        ("HTTP/1.1 400 Bad Request\r\n", "HTTP"),
    ] {
        let s = Scripted::start(vec![send(greeting), Act::Hang]).await;
        let p = probe_one(&spec("smtp", s.port, "plain"), &[]).await;
        let f = p.failure.unwrap();
        assert_eq!(f.code, Code::WrongProtocol, "{greeting}");
        assert!(f.message.contains(name), "{}", f.message);
    }
}

#[tokio::test]
async fn greeting_rejected_smtp_554() {
    let s = Scripted::start(vec![
        send("554 5.7.1 Service unavailable; client host blocked\r\n"),
        Act::Read,
        send("221 bye\r\n"),
    ])
    .await;
    let p = probe_one(&spec("smtp", s.port, "starttls"), &[]).await;
    let f = p.failure.unwrap();
    assert_eq!(f.code, Code::GreetingRejected);
    assert!(f.message.contains("client host blocked"), "{}", f.message);
}

#[tokio::test]
async fn greeting_rejected_pop3_and_imap() {
    let s = Scripted::start(vec![
        send("-ERR too many connections\r\n"),
        Act::Read,
        send("+OK\r\n"),
    ])
    .await;
    assert_eq!(
        code(&probe_one(&spec("pop3", s.port, "plain"), &[]).await),
        "greeting_rejected"
    );
    let s = Scripted::start(vec![send("* BYE server shutting down\r\n")]).await;
    assert_eq!(
        code(&probe_one(&spec("imap", s.port, "plain"), &[]).await),
        "greeting_rejected"
    );
}

#[tokio::test]
async fn slow_greeting() {
    // --timeout 4: greetings slower than 2 s are flagged; this one takes 2.5 s.
    let mut script = vec![Act::Sleep(Duration::from_millis(2500))];
    script.extend(pop3_plain());
    let s = Scripted::start(script).await;
    let p = probe_one(&spec("pop3", s.port, "plain"), &["--timeout", "4"]).await;
    assert_eq!(p.status, Status::Warning, "{:?}", p.failure);
    assert_eq!(p.warnings[0].code, Code::SlowGreeting);
}

#[tokio::test]
async fn starttls_not_advertised() {
    let s = Scripted::start(pop3_plain()).await;
    let p = probe_one(&spec("pop3", s.port, "starttls"), &[]).await;
    assert_eq!(code(&p), "starttls_not_advertised");
}

#[tokio::test]
async fn starttls_refused() {
    let s = Scripted::start(vec![
        send("220 mx ESMTP\r\n"),
        Act::Read,
        send("250-mx\r\n250-STARTTLS\r\n250 8BITMIME\r\n"),
        Act::Read,
        send("454 4.7.0 TLS not available due to local problem\r\n"),
        Act::Read,
        send("221 bye\r\n"),
    ])
    .await;
    let p = probe_one(&spec("smtp", s.port, "starttls"), &[]).await;
    let f = p.failure.unwrap();
    assert_eq!(f.code, Code::StartTlsRefused);
    assert!(f.message.contains("454 4.7.0"), "{}", f.message);
}

#[tokio::test]
async fn starttls_injection() {
    let pki = Pki::new("ca");
    let s = Scripted::start(vec![
        send("+OK ready\r\n"),
        Act::Read,
        send(CAPA_STLS),
        Act::Read,
        // The reply and an injected command arrive in one segment.
        send("+OK Begin TLS\r\nUSER evil\r\n"),
        Act::Tls(pki.server(&Leaf::default())),
        Act::Read,
        send("+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
        Act::Read,
        send("+OK bye\r\n"),
    ])
    .await;
    let ca = pki.ca_path();
    let p = probe_one(&spec("pop3", s.port, "starttls"), &["--ca-file", &ca]).await;
    assert_eq!(code(&p), "starttls_injection", "{:?}", p.failure);
    let tls = p.tls.unwrap();
    assert_eq!(tls.injected_bytes_discarded, "USER evil\r\n".len());
    // The injected line was never read as a reply.
    assert!(!p.transcript.iter().any(|l| l.text.contains("USER evil")));
}

#[tokio::test]
async fn starttls_upgrade_discards_pre_tls_capabilities() {
    let pki = Pki::new("ca");
    let s = Scripted::start(vec![
        send("+OK ready\r\n"),
        Act::Read,
        send("+OK\r\nSTLS\r\nSASL PLAIN\r\n.\r\n"),
        Act::Read,
        send("+OK Begin TLS\r\n"),
        Act::Tls(pki.server(&Leaf::default())),
        Act::Read,
        send("+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n"),
        Act::Read,
        send("+OK bye\r\n"),
    ])
    .await;
    let ca = pki.ca_path();
    let p = probe_one(&spec("pop3", s.port, "starttls"), &["--ca-file", &ca]).await;
    assert_eq!(p.status, Status::Ok, "{:?}", p.failure);
    let session = p.session.unwrap();
    assert_eq!(session.capabilities_before_tls, ["STLS", "SASL PLAIN"]);
    assert_eq!(session.capabilities, ["USER", "SASL PLAIN LOGIN"]);
    assert!(p.tls.unwrap().via_starttls);
}

#[tokio::test]
async fn endless_line() {
    let s = Scripted::start(vec![Act::Send(vec![b'x'; 100_000]), Act::Hang]).await;
    let p = probe_one(&spec("smtp", s.port, "plain"), &[]).await;
    assert_eq!(code(&p), "line_too_long");
}

#[tokio::test]
async fn endless_reply() {
    let s = Scripted::start(vec![Act::Send(b"220-more\r\n".repeat(10_000)), Act::Hang]).await;
    let p = probe_one(&spec("smtp", s.port, "plain"), &[]).await;
    let c = code(&p);
    // Either bound may trip first depending on the dialogue's own line cap.
    assert!(c == "reply_too_long" || c == "protocol_violation", "{c}");
}

#[tokio::test]
async fn invalid_bytes() {
    let s = Scripted::start(vec![Act::Send(b"+OK \xff\xfe\x00\r\n".to_vec()), Act::Hang]).await;
    let p = probe_one(&spec("pop3", s.port, "plain"), &[]).await;
    assert_eq!(code(&p), "invalid_bytes");
}

#[tokio::test]
async fn protocol_violation() {
    let s = Scripted::start(vec![
        send("* OK ready\r\n"),
        Act::Read,
        send("zz9 OK who are you\r\n"),
        Act::Hang,
    ])
    .await;
    let p = probe_one(&spec("imap", s.port, "plain"), &[]).await;
    assert_eq!(code(&p), "protocol_violation");
}

#[tokio::test]
async fn reply_timeout() {
    let s = Scripted::start(vec![send(POP3_OK), Act::Read, Act::Hang]).await;
    let p = probe_one(&spec("pop3", s.port, "plain"), &["--timeout", "1"]).await;
    let f = p.failure.unwrap();
    assert_eq!(f.code, Code::ReplyTimeout);
    assert_eq!(f.phase, Phase::Capabilities);
}

#[tokio::test]
async fn deadline_keeps_partial_results() {
    let silent = Scripted::start(vec![Act::Hang]).await;
    let fine = Scripted::start(pop3_plain()).await;
    let only = format!("pop3:{}:plain,pop3:{}:plain", silent.port, fine.port);
    let started = Instant::now();
    let report = common::run(&[
        "--host",
        "127.0.0.1",
        "--only",
        &only,
        "--timeout",
        "30",
        "--deadline",
        "1",
    ])
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the deadline ends the run"
    );
    assert_eq!(report.run.cut_short.as_deref(), Some("deadline"));
    let [stuck, ok] = &report.run.probes[..] else {
        panic!("two rows")
    };
    assert_eq!(stuck.status, Status::Cancelled);
    assert_eq!(code(stuck), "cancelled");
    assert!(
        stuck
            .phases
            .iter()
            .any(|p| p.phase == Phase::Connect && p.ok),
        "partial phases kept"
    );
    assert_eq!(
        ok.status,
        Status::Ok,
        "one stuck server does not hold up another"
    );
}

#[tokio::test]
async fn dns_server_failure() {
    let dns = common::dns::start(common::dns::Behaviour::ServFail).await;
    let server = format!("127.0.0.1:{dns}");
    let report = common::run(&[
        "--host",
        "mail.example.test",
        "--only",
        "pop3:995:tls",
        "--dns-server",
        &server,
        "--timeout",
        "2",
    ])
    .await;
    assert_eq!(code(&report.run.probes[0]), "dns_server_failure");
}

#[tokio::test]
async fn dns_timeout() {
    let dns = common::dns::start(common::dns::Behaviour::Silent).await;
    let server = format!("127.0.0.1:{dns}");
    let report = common::run(&[
        "--host",
        "mail.example.test",
        "--only",
        "pop3:995:tls",
        "--dns-server",
        &server,
        "--timeout",
        "2",
    ])
    .await;
    assert_eq!(code(&report.run.probes[0]), "dns_timeout");
}

/// Sends Ctrl-C (SIGINT) to a running `mailcheck probe --json`; its exit code
/// and its report, which must come soon and whole.
async fn interrupt(child: tokio::process::Child) -> (Option<i32>, serde_json::Value) {
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("mailcheck ends soon after Ctrl-C")
        .unwrap();
    let doc = serde_json::from_slice(&out.stdout).expect("a complete JSON report");
    (out.status.code(), doc)
}

/// Ctrl-C while discovery still waits (here on a DNS server that never
/// answers) ends the run at once, with a report that says it was interrupted.
#[tokio::test]
async fn ctrl_c_during_discovery_ends_the_run() {
    let dns = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = dns.local_addr().unwrap().to_string();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mailcheck"))
        .args([
            "probe",
            "alice@example.com",
            "--dns-server",
            &server,
            "--ispdb-url",
            "https://ispdb.mailcheck.test/v1.1/",
            "--timeout",
            "20",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Discovery has begun once its first query arrives.
    let mut query = [0u8; 512];
    tokio::time::timeout(Duration::from_secs(10), dns.recv_from(&mut query))
        .await
        .expect("a DNS query from discovery")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, doc) = interrupt(child).await;
    assert_eq!(doc["cut_short"], "interrupted");
}

#[tokio::test]
async fn ctrl_c_ends_the_run_with_what_was_learned() {
    let silent = Scripted::start(vec![send(POP3_OK), Act::Hang]).await;
    let only = format!("pop3:{}:plain", silent.port);
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_mailcheck"))
        .args([
            "probe",
            "--host",
            "127.0.0.1",
            "--only",
            &only,
            "--timeout",
            "30",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the greeting went out, then interrupt.
    let started = Instant::now();
    while silent.connections.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "mailcheck never connected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, doc) = interrupt(child).await;
    assert_eq!(doc["cut_short"], "interrupted");
    let p = &doc["probes"][0];
    assert_eq!(p["status"], "cancelled");
    assert_eq!(
        p["session"]["greeting"], "+OK ready",
        "the greeting learned is kept"
    );
    assert!(
        p["transcript"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["text"] == "+OK ready"),
        "what was learned is kept"
    );
    assert_eq!(code, Some(2));
}

#[tokio::test]
async fn starttls_injection_in_a_later_segment() {
    // The injected command follows the STARTTLS reply a little later, so it is
    // not in the client's buffer yet; it then arrives where the handshake should.
    let s = Scripted::start(vec![
        send(POP3_OK),
        Act::Read,
        send(CAPA_STLS),
        Act::Read,
        send("+OK Begin TLS\r\n"),
        Act::Sleep(Duration::from_millis(50)),
        send("USER evil\r\n"),
        Act::Hang,
    ])
    .await;
    let p = probe_one(&spec("pop3", s.port, "starttls"), &[]).await;
    let f = p.failure.unwrap();
    assert_eq!(f.code, Code::StartTlsInjection, "{}", f.message);
    assert!(f.message.contains("USER evil"), "{}", f.message);
}

#[tokio::test]
async fn a_server_that_ignores_quit_gets_a_warning_not_a_failure() {
    let s = Scripted::start(vec![
        send(POP3_OK),
        Act::Read,
        send("+OK\r\nUSER\r\n.\r\n"),
        Act::Read,
        Act::Hang,
    ])
    .await;
    let p = probe_one(&spec("pop3", s.port, "plain"), &["--timeout", "1"]).await;
    assert_eq!(p.status, Status::Warning, "{:?}", p.failure);
    assert_eq!(p.warnings[0].code, Code::ReplyTimeout);
    assert_eq!(p.warnings[0].phase, Phase::Quit);
}

#[tokio::test]
async fn a_hang_up_after_quit_closes_the_quit_phase() {
    let s = Scripted::start(vec![
        send(POP3_OK),
        Act::Read,
        send("+OK\r\nUSER\r\n.\r\n"),
        Act::Read,
    ])
    .await;
    let p = probe_one(&spec("pop3", s.port, "plain"), &[]).await;
    assert_eq!(p.status, Status::Ok, "{:?}", p.failure);
    let quit = p.phases.iter().find(|ph| ph.phase == Phase::Quit).unwrap();
    assert!(quit.ok);
    assert_eq!(quit.detail.as_deref(), Some("closed without a reply"));
    assert!(
        p.phases
            .iter()
            .all(|ph| ph.detail.as_deref() != Some("in progress"))
    );
}

#[tokio::test]
async fn a_refused_starttls_marks_its_phase_failed() {
    let s = Scripted::start(vec![
        send(POP3_OK),
        Act::Read,
        send(CAPA_STLS),
        Act::Read,
        send("-ERR [SYS/TEMP] TLS unavailable\r\n"),
        Act::Read,
        send("+OK bye\r\n"),
    ])
    .await;
    let p = probe_one(&spec("pop3", s.port, "starttls"), &[]).await;
    assert_eq!(code(&p), "starttls_refused");
    let phase = p
        .phases
        .iter()
        .find(|ph| ph.phase == Phase::StartTls)
        .unwrap();
    assert!(!phase.ok);
}

#[tokio::test]
async fn the_deadline_keeps_an_earlier_failure() {
    let pki = Pki::new("ca");
    let s = Scripted::start(vec![
        Act::Tls(common::self_signed_server(&["localhost", "127.0.0.1"])),
        Act::Hang,
    ])
    .await;
    let ca = pki.ca_path();
    let only = spec("pop3", s.port, "tls");
    let report = common::run(&[
        "--host",
        "127.0.0.1",
        "--only",
        &only,
        "--ca-file",
        &ca,
        "--timeout",
        "20",
        "--deadline",
        "1.5",
    ])
    .await;
    let p = &report.run.probes[0];
    assert_eq!(code(p), "cert_self_signed");
    assert_eq!(p.status, Status::Failed);
    assert_eq!(p.warnings.last().unwrap().code, Code::Cancelled);
    let greeting = p
        .phases
        .iter()
        .find(|ph| ph.phase == Phase::Greeting)
        .unwrap();
    assert!(
        greeting.duration_ms >= 1000,
        "the cut phase's time is kept: {greeting:?}"
    );
    assert!(p.duration_ms >= 1400, "{}", p.duration_ms);
}

/// Regression: a server that streamed garbage after a good session got only a
/// warning at QUIT, so the combination counted as working and was recommended.
#[tokio::test]
async fn garbage_at_goodbye_is_a_failure_not_a_warning() {
    for garbage in [
        b"\x00\xff\xfe binary\r\n".to_vec(),
        b"* not a pop3 reply at all\r\n".to_vec(),
    ] {
        let s = Scripted::start(vec![
            send(POP3_OK),
            Act::Read,
            send("+OK\r\nUSER\r\n.\r\n"),
            Act::Read,
            Act::Send(garbage),
            Act::Hang,
        ])
        .await;
        let p = probe_one(&spec("pop3", s.port, "plain"), &["--timeout", "1"]).await;
        assert_eq!(
            p.status,
            Status::Failed,
            "{:?} {:#?}",
            p.warnings,
            p.transcript
        );
        assert!(
            matches!(
                p.failure.as_ref().map(|f| f.code),
                Some(Code::InvalidBytes | Code::ProtocolViolation)
            ),
            "{:?}",
            p.failure
        );
    }
}
