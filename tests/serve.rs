//! `mailcheck serve` end to end against the real test servers: the metrics of
//! a working, a failing and a login target (values, and `promtool check
//! metrics` on every answer), requests refused before any probe, and the status
//! page as a real headless Chromium renders it; clients that send nothing or
//! half a header, and the cap on connections.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::exporter::{Exporter, chromium_dom, promtool, sample, server_cert_expiry, test_config};
use common::servers::Servers;

/// Fails unless promtool parses `text` and its linter (naming conventions,
/// HELP on every metric, `_total` only on counters) has nothing to say.
fn assert_promtool_clean(text: &str) {
    let out = promtool(&["check", "metrics"], text);
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}\n{text}"
    );
}

const IMAP: &str = r#"{host="mail.mailcheck.test",port="993",protocol="imap",security="tls"}"#;

#[test]
fn probes_answer_in_the_text_format_and_promtool_agrees() {
    let s = Servers::get();
    let exporter = Exporter::start(&test_config(&s), "127.0.0.1:0");

    let good = exporter.get("/probe?target=mail.mailcheck.test&module=mail");
    assert_eq!(good.status, 200, "{}", good.body);
    assert!(
        good.headers
            .contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{}",
        good.headers
    );
    let m = &good.body;
    assert_eq!(sample(m, "mailcheck_probe_success"), Some(1.0), "{m}");
    assert_eq!(sample(m, "mailcheck_probe_exit_code"), Some(0.0));
    assert_eq!(
        sample(m, &format!("mailcheck_combination_success{IMAP}")),
        Some(1.0)
    );
    let expiry = sample(
        m,
        &format!("mailcheck_tls_cert_expiry_timestamp_seconds{IMAP}"),
    );
    assert_eq!(expiry, Some(server_cert_expiry(&s) as f64), "{m}");
    let met = r#"mailcheck_requirement_met{requirement="smtp:587:starttls"}"#;
    assert_eq!(sample(m, met), Some(1.0));
    let tls = r#"mailcheck_tls_version_info{host="mail.mailcheck.test",port="993",protocol="imap",security="tls",version="TLSv1.3"}"#;
    assert_eq!(sample(m, tls), Some(1.0), "{m}");
    assert!(m.contains("mailcheck_combination_phase_duration_seconds{"));
    assert_promtool_clean(m);

    let bad = exporter.get("/probe?target=nothere.mailcheck.test&module=mail");
    assert_eq!(
        bad.status, 200,
        "a failing target is data, not an HTTP error"
    );
    let m = &bad.body;
    assert_eq!(sample(m, "mailcheck_probe_success"), Some(0.0), "{m}");
    assert_eq!(sample(m, "mailcheck_probe_exit_code"), Some(2.0));
    let unmet = r#"mailcheck_requirement_met{requirement="imap:993:tls"}"#;
    assert_eq!(sample(m, unmet), Some(0.0));
    assert!(!m.contains("mailcheck_tls_cert_expiry_timestamp_seconds{"));
    assert_promtool_clean(m);

    let login = exporter.get("/probe?target=alice@mailcheck.test&module=login");
    let m = &login.body;
    let ok = r#"mailcheck_login_success{host="mail.mailcheck.test",protocol="imap"}"#;
    assert_eq!(sample(m, ok), Some(1.0), "{m}");
    assert!(!m.contains("correct horse"), "never the password");
    assert_promtool_clean(m);

    let own = exporter.get("/metrics");
    assert_eq!(own.status, 200);
    let m = &own.body;
    let probes = |module: &str, result: &str| {
        sample(
            m,
            &format!("mailcheck_exporter_probes_total{{module=\"{module}\",result=\"{result}\"}}"),
        )
    };
    assert_eq!(probes("mail", "success"), Some(1.0), "{m}");
    assert_eq!(probes("mail", "failure"), Some(1.0));
    assert_eq!(probes("login", "success"), Some(1.0));
    assert_eq!(sample(m, "mailcheck_exporter_probes_in_flight"), Some(0.0));
    assert_promtool_clean(m);
}

#[test]
fn requests_are_refused_before_any_probe() {
    let s = Servers::get();
    let exporter = Exporter::start(&test_config(&s), "127.0.0.1:0");
    for (path, status, needle) in [
        (
            "/probe?target=mail.example.com&module=mail",
            403,
            "allow list",
        ),
        (
            "/probe?target=--ca-file%3D%2Fetc%2Fpasswd&module=mail",
            400,
            "not a host name",
        ),
        (
            "/probe?target=mail.mailcheck.test&module=nope",
            400,
            "unknown module",
        ),
        ("/probe?module=mail", 400, "target parameter is missing"),
        // Allowed targets, but not the login module's own: alice's password
        // must not go to another account's or another server's login.
        (
            "/probe?target=bob@mailcheck.test&module=login",
            403,
            "its `targets` list",
        ),
        (
            "/probe?target=mail.mailcheck.test&module=login",
            403,
            "its `targets` list",
        ),
        ("/report?id=999", 404, "not among the recent probes"),
    ] {
        let r = exporter.get(path);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert!(r.body.contains(needle), "{path}: {}", r.body);
    }
    let m = exporter.get("/metrics").body;
    let refused = |reason: &str| {
        sample(
            &m,
            &format!("mailcheck_exporter_probe_refusals_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(refused("denied"), Some(3.0), "{m}");
    assert_eq!(refused("bad_request"), Some(3.0));
    assert!(
        !m.contains("mailcheck_exporter_probes_total{"),
        "no probe ran: {m}"
    );
}

/// Two scrapes of one account at once, then a third within the minute: one
/// probe logs in, the others are answered from it; another module with the
/// same account is refused until the minute is over.
#[test]
fn one_login_per_minute_per_account() {
    let s = Servers::get();
    let config = test_config(&s);
    let again = config
        .split("[modules.login]")
        .nth(1)
        .expect("the test configuration has a login module");
    let exporter = Exporter::start(
        &format!("{config}[modules.login_again]{again}"),
        "127.0.0.1:0",
    );
    let path = "/probe?target=alice@mailcheck.test&module=login";
    let both = std::thread::scope(|scope| {
        let a = scope.spawn(|| exporter.get(path));
        let b = scope.spawn(|| exporter.get(path));
        [a.join().unwrap(), b.join().unwrap()]
    });
    let ok = r#"mailcheck_login_success{host="mail.mailcheck.test",protocol="imap"}"#;
    for r in &both {
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(sample(&r.body, ok), Some(1.0), "{}", r.body);
        assert_promtool_clean(&r.body);
    }
    let third = exporter.get(path);
    let age = sample(&third.body, "mailcheck_probe_result_age_seconds");
    assert!(age.is_some_and(|a| a > 0.0), "{}", third.body);
    assert_eq!(sample(&third.body, ok), Some(1.0));

    let other = exporter.get("/probe?target=alice@mailcheck.test&module=login_again");
    assert_eq!(other.status, 429, "{}", other.body);
    assert!(
        other.body.contains("at most once a minute"),
        "{}",
        other.body
    );
    assert!(other.headers.contains("retry-after: "), "{}", other.headers);

    let m = exporter.get("/metrics").body;
    let probes = r#"mailcheck_exporter_probes_total{module="login",result="success"}"#;
    assert_eq!(sample(&m, probes), Some(1.0), "one login: {m}");
    let limited = r#"mailcheck_exporter_probe_refusals_total{reason="rate_limited"}"#;
    assert_eq!(sample(&m, limited), Some(1.0), "{m}");
}

#[test]
fn the_status_page_renders_in_a_real_browser() {
    let s = Servers::get();
    let exporter = Exporter::start(&test_config(&s), "127.0.0.1:0");
    for target in ["mail.mailcheck.test", "nothere.mailcheck.test"] {
        let r = exporter.get(&format!("/probe?target={target}&module=mail"));
        assert_eq!(r.status, 200);
    }
    let base = format!("http://{}", exporter.addr);
    let dom = chromium_dom(&format!("{base}/"));
    assert!(dom.contains("<h2>Recent probes</h2>"), "{dom}");
    // Chromium puts the rows in a <tbody> of its own: proof it parsed the table.
    assert!(dom.contains("<tbody>"), "{dom}");
    for row in [
        "<td>mail</td><td>mail.mailcheck.test</td><td class=\"ok\">OK</td>",
        "<td>mail</td><td>nothere.mailcheck.test</td><td class=\"critical\">CRITICAL</td>",
    ] {
        assert!(dom.contains(row), "{row} missing from\n{dom}");
    }
    assert!(dom.contains("<a href=\"/report?id=1\">report</a>"), "{dom}");

    let report = chromium_dom(&format!("{base}/report?id=2"));
    assert!(
        report.contains("<h1>nothere.mailcheck.test</h1>"),
        "{report}"
    );
    let pre = report
        .split("<pre>")
        .nth(1)
        .and_then(|r| r.split("</pre>").next())
        .unwrap_or_else(|| panic!("no report text in\n{report}"));
    assert!(pre.contains("nothere.mailcheck.test"), "{pre}");
    assert!(!pre.contains('\x1b'), "no colour codes on the page");
}

#[test]
fn serve_will_not_start_with_a_password_in_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, "allow = [\"*\"]\n[modules.default]\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mailcheck"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .env("MAILCHECK_PASSWORD", "hunter2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("MAILCHECK_PASSWORD is set"), "{e}");
    assert!(!e.contains("hunter2"));
}

/// A configuration that probes nothing (these tests only talk HTTP), with
/// `extra` top-level keys.
fn http_only(extra: &str) -> String {
    format!("{extra}\nallow = [\"*.example.test\"]\n[modules.default]\n")
}

/// What the exporter sent before it closed `s`; fails if it is still open
/// after a minute (far beyond the timeouts these tests configure).
fn read_until_closed(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_mins(1))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!(
                "the exporter kept the connection open ({e}); got {:?}",
                String::from_utf8_lossy(&got)
            ),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// A silent client, one that stops in the middle of its header (slowloris),
/// and an idle kept-alive connection are all disconnected once the header
/// timeout is over, instead of holding a connection for ever.
#[test]
fn slow_and_silent_clients_are_disconnected() {
    let exporter = Exporter::start(&http_only("header_timeout = 0.5"), "127.0.0.1:0");
    let mut silent = TcpStream::connect(exporter.addr).unwrap();
    let mut half = TcpStream::connect(exporter.addr).unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: exporter\r\nAccept: tex")
        .unwrap();
    let mut idle = TcpStream::connect(exporter.addr).unwrap();
    idle.write_all(b"GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n")
        .unwrap();

    let said = read_until_closed(&mut silent);
    assert!(!said.contains(" 200 "), "{said}");
    let said = read_until_closed(&mut half);
    assert!(
        !said.contains(" 200 "),
        "no answer to half a request: {said}"
    );
    let said = read_until_closed(&mut idle);
    assert!(said.starts_with("HTTP/1.1 200 OK\r\n"), "{said}");
    assert!(said.contains("mailcheck_exporter_build_info"), "{said}");
    assert_eq!(exporter.get("/").status, 200, "still serving");
}

/// With `connections = 1`, a second client waits while the first holds the
/// only slot, and is answered once the first goes away.
#[test]
fn connections_beyond_the_cap_wait_their_turn() {
    let exporter = Exporter::start(
        &http_only("connections = 1\nheader_timeout = 600"),
        "127.0.0.1:0",
    );
    let first = TcpStream::connect(exporter.addr).unwrap();
    let mut second = TcpStream::connect(exporter.addr).unwrap();
    second
        .write_all(b"GET / HTTP/1.0\r\nHost: exporter\r\n\r\n")
        .unwrap();
    second
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut buf = [0u8; 64];
    match second.read(&mut buf) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("answered beyond the cap: {other:?}"),
    }
    drop(first);
    let said = read_until_closed(&mut second);
    assert!(said.starts_with("HTTP/1.0 200 OK\r\n"), "{said}");
}

/// A probe whose scrape was abandoned (the client hung up mid-login) may have
/// sent the password: it counts as the account's login for the minute. And an
/// address is one account wherever it logs in: its server named by hand is
/// answered 429 too. Bob's password is wrong here, so each login takes
/// Dovecot's failure delay, and a second one would be a second failure.
#[test]
fn an_abandoned_login_counts_and_an_address_is_one_account() {
    let (exporter, bob, _password) = bob_with_a_wrong_password();
    let in_flight = || {
        sample(
            &exporter.get("/metrics").body,
            "mailcheck_exporter_probes_in_flight",
        )
    };
    let by_host = "/probe?target=mail.mailcheck.test&module=bob";
    let mut client = TcpStream::connect(exporter.addr).unwrap();
    write!(client, "GET {by_host} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    common::exporter::wait_for(Duration::from_secs(30), "the probe to start", || {
        (in_flight() == Some(1.0)).then_some(())
    });
    drop(client);
    common::exporter::wait_for(Duration::from_secs(30), "the probe to be dropped", || {
        (in_flight() == Some(0.0)).then_some(())
    });
    for path in [
        by_host.to_owned(),
        format!("/probe?target={bob}&module=bob"),
    ] {
        let again = exporter.get(&path);
        assert_eq!(again.status, 429, "{path}: {}", again.body);
        assert!(
            again.body.contains("at most once a minute"),
            "{}",
            again.body
        );
    }
}

/// A login probe the scrape timeout cut short may have sent the password
/// (Dovecot takes 2 s to refuse bob's wrong one; the scrape allows about 1 s):
/// it counts as the account's login, and the next scrape within the minute is
/// answered from it instead of logging in again.
#[test]
fn a_login_cut_short_by_the_scrape_timeout_counts() {
    let (exporter, bob, _password) = bob_with_a_wrong_password();
    let path = format!("/probe?target={bob}&module=bob");
    let mut client = TcpStream::connect(exporter.addr).unwrap();
    write!(
        client,
        "GET {path} HTTP/1.0\r\nX-Prometheus-Scrape-Timeout-Seconds: 1.5\r\n\r\n"
    )
    .unwrap();
    let first = read_until_closed(&mut client);
    assert!(first.starts_with("HTTP/1.0 200"), "{first}");
    assert_eq!(
        sample(&first, "mailcheck_probe_cut_short"),
        Some(1.0),
        "{first}"
    );
    let again = exporter.get(&path);
    assert_eq!(again.status, 200, "{}", again.body);
    let age = sample(&again.body, "mailcheck_probe_result_age_seconds");
    assert!(
        age.is_some_and(|a| a > 0.0),
        "a second login: {}",
        again.body
    );
}

/// An exporter whose module `bob` logs in as bob with a wrong password (Dovecot
/// takes 2 s to refuse it), to bob's address or the test server; bob's address,
/// and the directory holding the password file (keep it while the exporter runs).
fn bob_with_a_wrong_password() -> (Exporter, String, tempfile::TempDir) {
    let s = Servers::get();
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.password");
    std::fs::write(&wrong, "not-bobs-password\n").unwrap();
    let bob = s.var("MAILCHECK_TEST_USER2").to_owned();
    let config = format!(
        r#"allow = ["*.mailcheck.test", "*@mailcheck.test"]
[modules.bob]
only = ["imap:993:tls"]
dns_server = "{dns}"
ca_file = "{ca}"
family = "ipv4"
timeout = 10
user = "{bob}"
password_file = "{wrong}"
targets = ["{bob}", "mail.mailcheck.test"]
"#,
        dns = s.dns(),
        ca = s.ca(),
        wrong = wrong.display(),
    );
    (Exporter::start(&config, "127.0.0.1:0"), bob, dir)
}
