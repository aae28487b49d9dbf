//! The diagnosis end to end, against scripted loopback servers that show each
//! class of failure a person meets: one cause per finding, named specifically
//! (no catch-all), on the side of the path where it lies, with the server's own
//! words as evidence; and DNS failures told apart by scripted DNS servers.

mod common;

use common::dns::{self, Behaviour};
use common::{Act, Leaf, Pki, Scripted, run, send};
use mailcheck::report::{Category, Finding, Report, Severity, SourceKind};

fn finding<'a>(r: &'a Report, code: &str) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| {
            let codes: Vec<&str> = r.findings.iter().map(|f| f.code.as_str()).collect();
            panic!("no {code} in {codes:?}")
        })
}

fn only(specs: &[String]) -> Vec<String> {
    vec![
        "--host".into(),
        "127.0.0.1".into(),
        "--only".into(),
        specs.join(","),
        "--timeout".into(),
        "2".into(),
    ]
}

async fn run_only(specs: &[String], extra: &[&str]) -> Report {
    let mut args = only(specs);
    args.extend(extra.iter().map(ToString::to_string));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args).await
}

fn pop3_plain() -> Vec<Act> {
    vec![
        send("+OK ready\r\n"),
        Act::Read,
        send("+OK\r\nUSER\r\n.\r\n"),
        Act::Read,
        send("+OK bye\r\n"),
    ]
}

#[tokio::test]
async fn a_refused_port_while_another_answers_is_a_closed_port() {
    let open = Scripted::start(pop3_plain()).await;
    let closed = common::closed_port();
    let r = run_only(
        &[
            format!("pop3:{}:plain", open.port),
            format!("pop3:{closed}:plain"),
        ],
        &[],
    )
    .await;
    let f = finding(&r, "port_closed");
    assert!(f.cause.contains(&format!("port {closed}")), "{}", f.cause);
    assert!(!r.findings.iter().any(|f| f.code == "server_down"));
}

#[tokio::test]
async fn ssh_or_http_on_a_mail_port_is_named() {
    for (greeting, name) in [
        ("SSH-2.0-OpenSSH_9.2p1\r\n", "SSH"),
        ("HTTP/1.1 400 Bad Request\r\n", "HTTP"),
    ] {
        let s = Scripted::start(vec![send(greeting), Act::Hang]).await;
        let r = run_only(&[format!("smtp:{}:starttls", s.port)], &[]).await;
        let f = finding(&r, "wrong_service");
        assert!(f.cause.contains(name), "{}", f.cause);
        assert!(
            f.evidence.iter().any(|e| e.contains(greeting.trim())),
            "{:?}",
            f.evidence
        );
    }
}

#[tokio::test]
async fn a_blocklist_refusal_names_the_list_and_this_networks_side() {
    let s = Scripted::start(vec![
        send("554 5.7.1 Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.7\r\n"),
        Act::Read,
        send("221 bye\r\n"),
    ])
    .await;
    let r = run_only(&[format!("smtp:{}:starttls", s.port)], &[]).await;
    let f = finding(&r, "address_blocklisted");
    assert_eq!(f.category, Category::Local);
    assert!(f.cause.contains("zen.spamhaus.org"), "{}", f.cause);
    assert!(f.evidence[0].contains("blocked using"), "{:?}", f.evidence);
}

#[tokio::test]
async fn temporary_refusals_of_each_protocol_are_service_unavailable() {
    for (proto, greeting) in [
        (
            "pop3",
            "-ERR [SYS/TEMP] Service temporarily unavailable\r\n",
        ),
        ("imap", "* BYE Too many connections, try again later\r\n"),
        (
            "smtp",
            "421 4.3.2 Service not available, closing transmission channel\r\n",
        ),
    ] {
        let s = Scripted::start(vec![send(greeting), Act::Read, send("+OK\r\n")]).await;
        let r = run_only(&[format!("{proto}:{}:plain", s.port)], &[]).await;
        let f = finding(&r, "service_unavailable");
        assert!(
            f.evidence.iter().any(|e| e.contains(greeting.trim())),
            "{proto}: {:?}",
            f.evidence
        );
    }
}

#[tokio::test]
async fn a_server_that_aborts_every_tls_handshake_gets_no_other_port_suggested() {
    let alert = || Act::AfterHello(vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 40]);
    let a = Scripted::start(vec![alert()]).await;
    let b = Scripted::start(vec![
        send("220 mail ESMTP\r\n"),
        Act::Read,
        send("250-mail\r\n250 STARTTLS\r\n"),
        Act::Read,
        send("220 go ahead\r\n"),
        alert(),
    ])
    .await;
    let r = run_only(
        &[
            format!("smtp:{}:tls", a.port),
            format!("smtp:{}:starttls", b.port),
        ],
        &[],
    )
    .await;
    let f = finding(&r, "tls_refused");
    assert!(f.cause.contains("every TLS handshake"), "{}", f.cause);
    assert!(!f.fix.contains(&a.port.to_string()), "{}", f.fix);
    assert_eq!(f.severity, Severity::Critical);
}

#[tokio::test]
async fn silence_after_connecting_is_said() {
    let s = Scripted::start(vec![Act::Hang]).await;
    let r = run_only(&[format!("imap:{}:starttls", s.port)], &["--timeout", "1"]).await;
    let f = finding(&r, "server_silent");
    assert!(f.cause.contains("never says a word"), "{}", f.cause);
}

#[tokio::test]
async fn a_firewall_that_masks_smtp_is_this_networks_doing() {
    let s = Scripted::start(vec![
        send("220 **********************************************\r\n"),
        Act::Read,
        send("250-mail.example.com\r\n250-XXXXXXXA\r\n250 8BITMIME\r\n"),
        Act::Read,
        send("221 bye\r\n"),
    ])
    .await;
    let r = run_only(&[format!("smtp:{}:starttls", s.port)], &[]).await;
    let f = finding(&r, "smtp_inspection");
    assert_eq!(f.category, Category::Local);
    assert!(f.fix.contains("465"), "{}", f.fix);
    assert!(!r.findings.iter().any(|f| f.code == "starttls_not_offered"));
}

#[tokio::test]
async fn a_certificate_from_a_security_product_is_interception_here() {
    let pki = Pki::new("Avast Web/Mail Shield Root");
    let mut script = vec![Act::Tls(pki.server(&Leaf::default()))];
    script.extend(pop3_plain());
    let s = Scripted::start(script).await;
    let ca = pki.ca_path();
    let r = run_only(&[format!("pop3:{}:tls", s.port)], &["--ca-file", &ca]).await;
    let f = finding(&r, "tls_interception");
    assert_eq!(
        (f.category, f.severity),
        (Category::Local, Severity::Critical)
    );
    assert!(
        f.evidence.iter().any(|e| e.contains("Avast")),
        "{:?}",
        f.evidence
    );
}

#[tokio::test]
async fn challenge_response_only_before_tls_is_not_a_password_in_clear() {
    let s = Scripted::start(vec![
        send("+OK mail.example.com Cyrus POP3 v3.6 server ready <1896.697170952@mail.example.com>\r\n"),
        Act::Read,
        send("+OK\r\nSASL CRAM-MD5 SCRAM-SHA-256\r\nSTLS\r\n.\r\n"),
        Act::Read,
        send("+OK bye\r\n"),
    ])
    .await;
    let r = run_only(&[format!("pop3:{}:plain", s.port)], &[]).await;
    let f = finding(&r, "challenge_login_before_tls");
    assert_eq!(f.severity, Severity::Info);
    assert!(!r.findings.iter().any(|f| f.code == "password_in_clear"));
    assert!(
        !r.findings
            .iter()
            .any(|f| f.fix.contains("Postfix") || f.fix.contains("Dovecot"))
    );
}

#[tokio::test]
async fn a_dns_server_that_never_answers_costs_one_timeout_and_is_named() {
    let port = dns::start(Behaviour::Silent).await;
    let server = format!("127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let r = run(&[
        "alice@example.com",
        "--dns-server",
        &server,
        "--timeout",
        "1",
    ])
    .await;
    let f = finding(&r, "dns_not_answering");
    assert_eq!(r.findings[0].code, "dns_not_answering", "root cause first");
    assert_eq!(f.category, Category::Local);
    // Discovery's many lookups and the control lookup share one timeout: the
    // resolver gives up on a server that has answered nothing.
    assert!(
        started.elapsed() < std::time::Duration::from_millis(2800),
        "{:?}",
        started.elapsed()
    );
    assert!(r.run.dns_check.is_some());
}

/// The control lookup ("is it this computer's DNS?") runs after the probes;
/// it must not take the run past its deadline. Every name fails at once here
/// but the control name, which is never answered (5 s, twice).
#[tokio::test]
async fn the_dns_check_keeps_to_the_deadline() {
    let control = mailcheck::discover::providers::control_host();
    let port = dns::start(Behaviour::SilentFor(control)).await;
    let server = format!("127.0.0.1:{port}");
    let r = run(&[
        "alice@example.com",
        "--dns-server",
        &server,
        "--timeout",
        "5",
        "--deadline",
        "1",
    ])
    .await;
    assert!(
        r.run.dns_check.is_none(),
        "the check outlived the deadline: {:?}",
        r.run.dns_check
    );
}

/// A run's --deadline shorter than discovery's own (3 × --timeout) cuts the
/// sources still running, and keeps what the others found in time: here the
/// built-in provider data, while every DNS query goes unanswered.
#[tokio::test]
async fn a_short_deadline_keeps_what_discovery_found_in_time() {
    let port = dns::start(Behaviour::Silent).await;
    let server = format!("127.0.0.1:{port}");
    let r = run(&[
        "alice@outlook.com",
        "--dns-server",
        &server,
        "--ispdb-url",
        "https://ispdb.mailcheck.test/v1.1/",
        "--timeout",
        "10",
        "--deadline",
        "2",
    ])
    .await;
    let d = r.run.discovery.as_ref().expect("discovery is kept");
    assert!(
        d.sources
            .iter()
            .any(|s| s.kind == SourceKind::Provider && !s.settings.is_empty()),
        "{:#?}",
        d.sources
    );
    let cut: Vec<&str> = d
        .sources
        .iter()
        .map(|s| s.outcome.as_str())
        .filter(|o| o.starts_with("cut short"))
        .collect();
    assert!(!cut.is_empty(), "{:#?}", d.sources);
    for o in cut {
        assert!(o.contains("the run's --deadline"), "{o}");
    }
}

/// Once the deadline has cut a run short, the person wants the answer now: the
/// control lookup is skipped, though this DNS server would answer it at once
/// (and does, for the same run given the time).
#[tokio::test]
async fn a_run_cut_short_skips_the_dns_check() {
    let control = mailcheck::discover::providers::control_host();
    let port = dns::start(Behaviour::OnlyName(control, [127, 0, 0, 1])).await;
    let server = format!("127.0.0.1:{port}");
    // IMAP on a server that never says a word; SMTP on a name that fails.
    let silent = Scripted::start(vec![Act::Hang]).await;
    let only = format!("imap:{}:tls,smtp:465:tls", silent.port);
    let run_with = |extra: &'static [&'static str]| {
        let (server, only) = (server.clone(), only.clone());
        async move {
            let mut args = vec![
                "--imap-host",
                "127.0.0.1",
                "--smtp-host",
                "mail.broken.test",
                "--only",
                &only,
                "--dns-server",
                &server,
            ];
            args.extend_from_slice(extra);
            run(&args).await
        }
    };
    let cut = run_with(&["--timeout", "5", "--deadline", "1"]).await;
    assert!(cut.run.cut_short.is_some(), "the deadline cut it short");
    assert!(
        cut.run.dns_check.is_none(),
        "checked after the deadline: {:?}",
        cut.run.dns_check
    );
    let whole = run_with(&["--timeout", "1"]).await;
    assert!(whole.run.cut_short.is_none());
    let check = whole.run.dns_check.expect("the check, given the time");
    assert!(check.ok, "{check:?}");
}

#[tokio::test]
async fn every_name_failing_is_this_computers_dns_one_name_failing_is_that_domains() {
    // One host name looked up through a DNS server that fails as told.
    async fn broken_host(behaviour: Behaviour) -> Report {
        let port = dns::start(behaviour).await;
        let server = format!("127.0.0.1:{port}");
        let args = ["--host", "mail.broken.test", "--only", "imap:993:tls"];
        run(&[&args[..], &["--dns-server", &server, "--timeout", "2"]].concat()).await
    }
    let r = broken_host(Behaviour::ServFail).await;
    finding(&r, "dns_everything_fails");
    let control = mailcheck::discover::providers::control_host();
    let r = broken_host(Behaviour::OnlyName(control, [127, 0, 0, 1])).await;
    let f = finding(&r, "domain_dns_failing");
    assert!(f.cause.contains("mail.broken.test"), "{}", f.cause);
    assert!(
        !r.findings.iter().any(|f| f.category == Category::Local),
        "{:?}",
        r.findings
    );
}
