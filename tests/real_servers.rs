//! End-to-end: the mailcheck binary against real Dovecot, Postfix and dnsmasq on
//! loopback (started by `scripts/test-servers.sh`), asserting every cell of the
//! default matrix, the DNS failure classes, the JSON schema and the exit codes.

mod common;

use common::output::json;
use common::servers::{Servers, mailcheck};

fn assert_valid(doc: &Value) {
    common::output::assert_valid("probe-report.schema.json", doc);
}
use serde_json::Value;

/// (protocol, port, security) → (status, failure code or "", inferred)
const EXPECTED: [(&str, u64, &str, &str, &str, bool); 16] = [
    ("pop3", 995, "tls", "ok", "", false),
    ("pop3", 995, "plain", "failed", "expects_implicit_tls", true),
    ("pop3", 110, "starttls", "ok", "", false),
    ("pop3", 110, "plain", "ok", "", false),
    ("imap", 993, "tls", "ok", "", false),
    ("imap", 993, "plain", "failed", "expects_implicit_tls", true),
    ("imap", 143, "starttls", "ok", "", false),
    ("imap", 143, "plain", "ok", "", false),
    ("smtp", 465, "tls", "ok", "", false),
    ("smtp", 465, "plain", "failed", "expects_implicit_tls", true),
    ("smtp", 587, "starttls", "ok", "", false),
    ("smtp", 587, "tls", "failed", "tls_got_plaintext", false),
    ("smtp", 587, "plain", "ok", "", false),
    ("smtp", 25, "starttls", "ok", "", false),
    ("smtp", 25, "plain", "ok", "", false),
    ("smtp", 25, "tls", "failed", "tls_got_plaintext", false),
];

#[test]
fn default_matrix() {
    let s = Servers::get();
    let out = mailcheck(&[
        "--host",
        s.name(),
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--json",
    ]);
    // WARNING: over [::1] (preferred) Dovecot treats the client as local and
    // offers login before TLS; findings_and_recommendation_… checks IPv4.
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    assert_valid(&doc);
    let probes = doc["probes"].as_array().unwrap();
    assert_eq!(probes.len(), EXPECTED.len());
    for (p, (proto, port, sec, status, code, inferred)) in probes.iter().zip(EXPECTED) {
        let cell = format!("{proto}:{port}:{sec}");
        assert_eq!(
            (
                p["protocol"].as_str().unwrap(),
                p["port"].as_u64().unwrap(),
                p["security"].as_str().unwrap()
            ),
            (proto, port, sec)
        );
        assert_eq!(p["status"], status, "{cell}: {}", p["failure"]);
        assert_eq!(p["failure"]["code"].as_str().unwrap_or(""), code, "{cell}");
        assert_eq!(p["inferred"], inferred, "{cell}");
        if sec != "plain" && status == "ok" {
            let tls = &p["tls"];
            assert_eq!(tls["sni"], s.name(), "{cell}: SNI sent");
            assert_eq!(tls["via_starttls"], sec == "starttls", "{cell}");
            let chain = &tls["certificate"];
            assert_eq!(chain["verdict"], "trusted", "{cell}");
            assert_eq!(chain["host_name_matches"], true, "{cell}");
            assert!(
                chain["certificates"][0]["days_left"].as_i64().unwrap() > 80,
                "{cell}"
            );
            assert!(
                tls["version"].as_str().unwrap().starts_with("TLSv1."),
                "{cell}"
            );
            assert!(
                tls["cipher_suite"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("TLS")),
                "{cell}"
            );
        }
    }
    // Capabilities seen after STARTTLS replace those seen before (RFC 3207, RFC 2595).
    let imap143 = &probes[6]["session"];
    let before: Vec<&str> = imap143["capabilities_before_tls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let after: Vec<&str> = imap143["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(before.contains(&"STARTTLS"), "{before:?}");
    assert!(!after.contains(&"STARTTLS"), "{after:?}");
    // Postfix on 587 only offers AUTH over TLS.
    let smtp587 = &probes[10]["session"];
    assert!(
        smtp587["capabilities_before_tls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c.as_str().unwrap().starts_with("AUTH"))
    );
    assert!(
        smtp587["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().starts_with("AUTH"))
    );
    assert_eq!(doc["summary"]["ok"], true);
}

#[test]
fn findings_and_recommendation_on_the_real_servers() {
    let s = Servers::get();
    // Over IPv4: Dovecot treats a [::1] client as local and offers more there.
    let out = mailcheck(&[
        "--host",
        s.name(),
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--json",
        "-4",
    ]);
    let doc = json(&out);
    assert_valid(&doc);
    let with = |severity: &str| -> Vec<String> {
        let mut codes: Vec<String> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == severity)
            .map(|f| f["code"].as_str().unwrap().to_owned())
            .collect();
        codes.sort();
        codes
    };
    // Dovecot and Postfix as configured offer no login before TLS over IPv4:
    // nothing worse than info, so OK.
    assert_eq!(with("warning"), Vec::<String>::new(), "{}", doc["findings"]);
    assert_eq!(with("critical"), Vec::<String>::new());
    assert_eq!(
        with("info"),
        [
            "plaintext_no_login",
            "wrong_mode_implicit_port",
            "wrong_mode_plaintext_port"
        ]
    );
    assert_eq!(with("ok"), ["incoming_ok", "outgoing_ok"]);
    assert_eq!(out.status.code(), Some(0));
    let rec = &doc["recommendation"];
    assert_eq!(
        (
            rec["incoming"]["protocol"].as_str(),
            rec["incoming"]["port"].as_u64(),
            rec["incoming"]["security"].as_str()
        ),
        (Some("imap"), Some(993), Some("tls"))
    );
    assert_eq!(
        (
            rec["outgoing"]["port"].as_u64(),
            rec["outgoing"]["security"].as_str()
        ),
        (Some(465), Some("tls"))
    );
}

#[test]
fn each_address_family_is_connected_separately() {
    let s = Servers::get();
    let out = mailcheck(&[
        "--host",
        s.name(),
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--only",
        "imap:993:tls",
        "--json",
    ]);
    let doc = json(&out);
    let p = &doc["probes"][0];
    let families: Vec<&str> = p["connects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["family"].as_str().unwrap())
        .collect();
    assert_eq!(families, ["ipv4", "ipv6"]);
    assert!(
        p["connects"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true)
    );

    let out = mailcheck(&[
        "--host",
        s.name(),
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--only",
        "imap:993:tls",
        "--json",
        "-6",
    ]);
    let doc = json(&out);
    let p = &doc["probes"][0];
    assert_eq!(p["addresses"], serde_json::json!(["::1"]));
    assert_eq!(p["peer"], "[::1]:993");
    assert_eq!(p["status"], "ok");
}

#[test]
fn plaintext_imap_forbids_login_until_starttls() {
    // Over IPv4 (Dovecot treats a client whose address equals its own, as on
    // [::1], as secure and would allow plaintext login there).
    let s = Servers::get();
    let out = mailcheck(&[
        "--host",
        s.name(),
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--only",
        "imap:143:starttls",
        "--json",
        "-4",
    ]);
    let doc = json(&out);
    let session = &doc["probes"][0]["session"];
    let caps = |k: &str| -> Vec<String> {
        session[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let before = caps("capabilities_before_tls");
    let after = caps("capabilities");
    assert!(before.iter().any(|c| c == "LOGINDISABLED"), "{before:?}");
    assert!(!after.iter().any(|c| c == "LOGINDISABLED"), "{after:?}");
    assert!(after.iter().any(|c| c == "AUTH=PLAIN"), "{after:?}");
}

#[tokio::test]
async fn a_broken_ipv6_path_shows_while_ipv4_works() {
    let s = Servers::get();
    // A server on 127.0.0.1 only; loopback1.mailcheck.test has A 127.0.0.1 and AAAA ::1.
    let server = common::Scripted::start(vec![
        common::send("+OK ready\r\n"),
        common::Act::Read,
        common::send("+OK\r\nUSER\r\n.\r\n"),
        common::Act::Read,
        common::send("+OK bye\r\n"),
    ])
    .await;
    let only = format!("pop3:{}:plain", server.port);
    let report = common::run(&[
        "--host",
        "loopback1.mailcheck.test",
        "--dns-server",
        s.dns(),
        "--only",
        &only,
    ])
    .await;
    let p = &report.run.probes[0];
    assert_eq!(
        p.status,
        mailcheck::report::Status::Warning,
        "{:?}",
        p.failure
    );
    let w = &p.warnings[0];
    assert_eq!(w.code, mailcheck::model::Code::ConnectRefused);
    assert!(w.message.contains("[::1]"), "{}", w.message);
    assert_eq!(
        p.peer.as_deref(),
        Some(format!("127.0.0.1:{}", server.port).as_str())
    );
}

#[test]
fn an_ip_literal_sends_no_sni_and_matches_the_ip_san() {
    let s = Servers::get();
    let host = s.var("MAILCHECK_TEST_HOST");
    let out = mailcheck(&[
        "--host",
        host,
        "--ca-file",
        s.ca(),
        "--only",
        "pop3:995:tls",
        "--json",
    ]);
    let doc = json(&out);
    let p = &doc["probes"][0];
    assert_eq!(p["status"], "ok", "{}", p["failure"]);
    assert_eq!(p["tls"]["sni"], Value::Null);
    assert_eq!(p["phases"][0]["detail"], "IP address given, no DNS needed");
}

#[test]
fn a_cname_chain_resolves() {
    let s = Servers::get();
    let out = mailcheck(&[
        "--host",
        "alias.mailcheck.test",
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--only",
        "smtp:465:tls",
        "--json",
        "-4",
    ]);
    let doc = json(&out);
    assert_eq!(
        doc["probes"][0]["addresses"],
        serde_json::json!(["127.0.0.2"])
    );
    assert_eq!(
        doc["probes"][0]["status"], "ok",
        "{}",
        doc["probes"][0]["failure"]
    );
}

#[test]
fn dns_name_not_found() {
    let s = Servers::get();
    let out = mailcheck(&[
        "--host",
        "nonexistent.mailcheck.test",
        "--dns-server",
        s.dns(),
        "--only",
        "imap:993:tls",
        "--json",
    ]);
    let doc = json(&out);
    assert_valid(&doc);
    assert_eq!(doc["probes"][0]["failure"]["code"], "dns_name_not_found");
    assert_eq!(doc["probes"][0]["failure"]["phase"], "resolve");
    assert_eq!(out.status.code(), Some(2));
    // The DNS server answered (NXDOMAIN): that name's problem, not this computer's.
    assert_eq!(
        doc["findings"][0]["code"], "host_not_found",
        "{:#}",
        doc["findings"]
    );
    assert!(doc["dns_check"].is_null());
}

/// `-6` on a name with only an A record: said as such, not "the domain's DNS
/// is broken".
#[test]
fn ipv6_only_on_a_name_without_aaaa_says_so() {
    let s = Servers::get();
    let out = mailcheck(&[
        "--host",
        "v4only.mailcheck.test",
        "--dns-server",
        s.dns(),
        "--only",
        "imap:993:tls",
        "-6",
        "--json",
    ]);
    let doc = json(&out);
    assert_valid(&doc);
    let f = &doc["findings"][0];
    assert_eq!(f["code"], "host_no_ipv6", "{:#}", doc["findings"]);
    assert!(f["fix"].as_str().unwrap().contains("without -6"), "{f}");
}

#[test]
fn dns_name_without_address() {
    let s = Servers::get();
    let out = mailcheck(&[
        "--host",
        "noaddr.mailcheck.test",
        "--dns-server",
        s.dns(),
        "--only",
        "imap:993:tls",
        "--json",
    ]);
    let doc = json(&out);
    assert_eq!(doc["probes"][0]["failure"]["code"], "dns_no_address");
    assert_eq!(
        doc["findings"][0]["code"], "host_no_address",
        "{:#}",
        doc["findings"]
    );
}

#[test]
fn the_test_ca_is_needed_to_trust_the_servers() {
    let s = Servers::get();
    let out = mailcheck(&[
        "--host",
        s.name(),
        "--dns-server",
        s.dns(),
        "--only",
        "imap:993:tls",
        "--json",
    ]);
    let doc = json(&out);
    let p = &doc["probes"][0];
    assert_eq!(p["status"], "failed");
    let code = p["failure"]["code"].as_str().unwrap();
    assert!(
        ["cert_incomplete_chain", "cert_untrusted"].contains(&code),
        "{code}"
    );
    // One finding for the certificate, with its fix; the chain was analysed
    // although verification failed.
    let certs: Vec<&serde_json::Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "cert_untrusted")
        .collect();
    assert_eq!(certs.len(), 1, "{:#}", doc["findings"]);
    assert_eq!(certs[0]["category"], "tls");
    assert!(
        p["tls"]["certificate"]["certificates"][0]["subject_alt_names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "mail.mailcheck.test")
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn human_output_fits_80_columns_without_colour_in_a_pipe() {
    let s = Servers::get();
    let out = mailcheck(&[
        "--host",
        s.name(),
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "no escape codes when stdout is a pipe"
    );
    for line in text.lines() {
        assert!(
            line.chars().count() <= 80,
            "too wide ({}): {line}",
            line.chars().count()
        );
    }
    assert!(text.contains("587 SSL/TLS ✗"), "{text}");
    assert!(
        text.contains("\nProblems") && text.contains("\nUse these settings\n"),
        "{text}"
    );
    assert!(
        text.contains("Mail works: read with IMAP 993 SSL/TLS, send with SMTP 465 SSL/TLS"),
        "{text}"
    );

    let coloured = mailcheck(&[
        "--host",
        s.name(),
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--only",
        "smtp:465:tls",
        "--color",
        "always",
    ]);
    assert!(
        String::from_utf8_lossy(&coloured.stdout).contains('\u{1b}'),
        "--color always colours"
    );
}

#[test]
fn verbose_shows_the_transcript_with_tls_marked() {
    let s = Servers::get();
    let out = mailcheck(&[
        "--host",
        s.name(),
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--only",
        "smtp:587:starttls",
        "-v",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("C: STARTTLS"), "{text}");
    assert!(text.contains("-- TLS established"), "{text}");
    assert!(text.contains("S: 220 "), "{text}");
}

#[test]
fn usage_errors_exit_3_with_a_clear_message() {
    for (args, needle) in [
        (vec![], "nothing to probe"),
        (vec!["--host", "mail example.com"], "is not a host name"),
        (
            vec!["--host", "x.test", "--only", "pop3:995"],
            "PROTOCOL:PORT:SECURITY",
        ),
        (vec!["--host", "x.test", "--timeout", "-1"], "--timeout"),
        (
            vec!["--host", "x.test", "--ca-file", "/nonexistent.pem"],
            "/nonexistent.pem",
        ),
        (
            vec!["--smtp-host", "x.test", "--only", "imap:993:tls"],
            "no IMAP host",
        ),
        (
            vec!["not-an-address", "--host", "x.test"],
            "not an email address",
        ),
    ] {
        let out = mailcheck(&args);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// A domain that declares IMAP and POP3 not offered and sends fine is OK: the
/// missing services are not a problem, nor a server "down".
#[test]
fn an_smtp_only_domain_that_works_is_ok() {
    let s = Servers::get();
    let out = mailcheck(&[
        "alice@smtponly.mailcheck.test",
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "-4",
        "--json",
    ]);
    let doc = json(&out);
    assert_valid(&doc);
    assert_eq!(
        doc["verdict"]["incoming"], "not_offered",
        "{:#}",
        doc["verdict"]
    );
    assert_eq!(doc["verdict"]["outgoing"], "works");
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "critical"),
        "{:#}",
        doc["findings"]
    );
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "service_not_offered"),
        "{:#}",
        doc["findings"]
    );
    assert_eq!(out.status.code(), Some(0));
}
