//! The login test end to end, against real Dovecot and Postfix (test user alice):
//! logins over the best verified combination only, the username-form retry, at
//! most two attempts per protocol and host, the send test, and no secret in any
//! output.

mod common;

use std::process::{Command, Output};

use common::output::json;
use common::servers::Servers;
use serde_json::Value;

fn password(s: &Servers) -> String {
    std::fs::read_to_string(s.var("MAILCHECK_TEST_PASSWORD_FILE"))
        .unwrap()
        .trim_end()
        .to_owned()
}

/// Runs `mailcheck probe ARGS` with `env` set (and no password variable otherwise).
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailcheck"));
    cmd.arg("probe")
        .args(args)
        .env_remove("MAILCHECK_PASSWORD")
        .env_remove("MAILCHECK_OAUTH2_TOKEN")
        .env("MAILCHECK_TOKEN_STORE", "file")
        .env("MAILCHECK_TOKEN_DIR", common::output::NO_TOKENS);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("mailcheck runs");
    common::output::dump(&out.stdout);
    out
}

fn base_args(s: &Servers) -> Vec<String> {
    [
        "alice@mailcheck.test",
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--timeout",
        "5",
        "-4",
    ]
    .iter()
    .map(ToString::to_string)
    .collect()
}

fn with<'a>(base: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    base.iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .collect()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The secret must not appear in any form in `text`.
fn assert_no_secret(text: &str, secret: &str, user: &str) {
    let forms = [
        secret.to_owned(),
        b64(secret.as_bytes()),
        b64(format!("\0{user}\0{secret}").as_bytes()),
        b64(format!("\0alice\0{secret}").as_bytes()),
    ];
    for f in forms {
        assert!(!text.contains(&f), "secret leaked as {f:?}");
    }
}

fn login<'a>(doc: &'a Value, protocol: &str) -> &'a Value {
    doc["logins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["protocol"] == protocol)
        .unwrap_or_else(|| panic!("no {protocol} login: {}", doc["logins"]))
}

#[test]
fn the_right_password_logs_in_on_all_three_protocols_over_implicit_tls() {
    let s = Servers::get();
    let pw = password(&s);
    let base = base_args(&s);
    let out = run(&with(&base, &["--json"]), &[("MAILCHECK_PASSWORD", &pw)]);
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{}", doc["logins"]);
    for (protocol, via) in [
        ("pop3", "pop3:995:tls"),
        ("imap", "imap:993:tls"),
        ("smtp", "smtp:465:tls"),
    ] {
        let l = login(&doc, protocol);
        assert_eq!(l["result"], "ok", "{protocol}: {l}");
        assert_eq!(
            l["combination"], via,
            "the best verified combination is used"
        );
        assert_eq!(l["usernames"], serde_json::json!(["alice@mailcheck.test"]));
        assert_eq!(l["secret_exposed"], false);
    }
    assert_eq!(
        doc["logins"].as_array().unwrap().len(),
        3,
        "one login per protocol and host"
    );
    assert_eq!(doc["summary"]["logins_ok"], true);
    assert_no_secret(
        &String::from_utf8_lossy(&out.stdout),
        &pw,
        "alice@mailcheck.test",
    );
    assert_no_secret(
        &String::from_utf8_lossy(&out.stderr),
        &pw,
        "alice@mailcheck.test",
    );
}

#[test]
fn a_wrong_password_is_tried_once_per_username_form_and_no_more() {
    let s = Servers::get();
    let base = base_args(&s);
    let wrong = "not-the-password-42";
    // Dovecot delays failed logins (auth_failure_delay), as real servers do:
    // give the phase room.
    let out = run(
        &with(&base, &["--json", "--timeout", "30"]),
        &[("MAILCHECK_PASSWORD", wrong)],
    );
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(2));
    for protocol in ["pop3", "imap", "smtp"] {
        let l = login(&doc, protocol);
        assert_eq!(l["result"], "failed", "{l}");
        assert_eq!(
            l["usernames"],
            serde_json::json!(["alice@mailcheck.test", "alice"]),
            "the other form once"
        );
    }
    // One cause, one finding: the refused password, listing every protocol.
    let refused: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "login_failed")
        .collect();
    assert_eq!(refused.len(), 1, "{:#}", doc["findings"]);
    assert_eq!(
        refused[0]["affects"]["protocols"].as_array().unwrap().len(),
        3
    );
    assert_eq!(doc["verdict"]["status"], "critical");
    assert!(
        doc["recommendation"]["incoming"].is_null(),
        "nothing proven, nothing recommended"
    );
    // Count every credential-carrying command mailcheck sent, in every connection
    // of the run: the matrix sends none; each login connection at most two.
    let mut sent = 0;
    let rows = doc["probes"].as_array().unwrap().iter().chain(
        doc["logins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| &l["probe"]),
    );
    for p in rows {
        for line in p["transcript"].as_array().unwrap() {
            let t = line["text"].as_str().unwrap();
            let first = t
                .split_whitespace()
                .nth(usize::from(t.starts_with(|c: char| c.is_ascii_lowercase())))
                .unwrap_or("");
            if line["from"] == "client"
                && matches!(first, "AUTH" | "AUTHENTICATE" | "LOGIN" | "USER")
            {
                sent += 1;
            }
        }
    }
    assert!(
        sent <= 6,
        "at most 2 attempts x 3 protocols reached the servers, saw {sent}"
    );
    assert!(sent >= 3, "the logins were tried: {sent}");
    assert_no_secret(
        &String::from_utf8_lossy(&out.stdout),
        wrong,
        "alice@mailcheck.test",
    );
}

#[test]
fn no_password_travels_without_a_verified_certificate() {
    let s = Servers::get();
    let pw = password(&s);
    // Without the test CA the servers' certificates do not verify.
    let out = run(
        &[
            "alice@mailcheck.test",
            "--dns-server",
            s.dns(),
            "--json",
            "-4",
            "--only",
            "imap:993:tls,imap:143:plain",
        ],
        &[("MAILCHECK_PASSWORD", &pw)],
    );
    let doc = json(&out);
    let l = login(&doc, "imap");
    assert_eq!(l["result"], "not_attempted", "{l}");
    assert!(
        l["reason"]
            .as_str()
            .unwrap()
            .contains("verified certificate"),
        "{l}"
    );
    assert_eq!(out.status.code(), Some(2));
    // The consequence folds into its cause: the untrusted certificate says
    // no password was sent; no separate "not attempted" finding.
    let findings = doc["findings"].as_array().unwrap();
    assert!(
        !findings.iter().any(|f| f["code"] == "login_not_attempted"),
        "{findings:#?}"
    );
    let cert = findings
        .iter()
        .find(|f| f["code"] == "cert_untrusted")
        .expect("the certificate finding");
    assert!(
        cert["evidence"].as_array().unwrap().iter().any(|e| e
            .as_str()
            .unwrap()
            .contains("IMAP login was not tried: no password or token was sent")),
        "{cert:#}"
    );

    // --allow-insecure-auth: it is sent, and the report says the secret was exposed.
    let out = run(
        &[
            "alice@mailcheck.test",
            "--dns-server",
            s.dns(),
            "--json",
            "-4",
            "--only",
            "imap:993:tls",
            "--allow-insecure-auth",
        ],
        &[("MAILCHECK_PASSWORD", &pw)],
    );
    let doc = json(&out);
    let l = login(&doc, "imap");
    assert_eq!(l["result"], "ok", "{l}");
    assert_eq!(l["secret_exposed"], true);
}

#[test]
fn plaintext_imap_never_gets_a_login_when_logindisabled() {
    let s = Servers::get();
    let pw = password(&s);
    let base = base_args(&s);
    // Only the plaintext combination exists, and insecure login is allowed:
    // Dovecot advertises LOGINDISABLED there, so nothing may be sent.
    let out = run(
        &with(
            &base,
            &[
                "--only",
                "imap:143:plain",
                "--allow-insecure-auth",
                "--json",
            ],
        ),
        &[("MAILCHECK_PASSWORD", &pw)],
    );
    let doc = json(&out);
    let l = login(&doc, "imap");
    assert_eq!(l["result"], "not_attempted", "{l}");
    let reason = l["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("LOGINDISABLED") || reason.contains("mechanism"),
        "{reason}"
    );
}

#[test]
fn passwords_come_from_a_file_or_a_command() {
    let s = Servers::get();
    let base = base_args(&s);
    let file = s.var("MAILCHECK_TEST_PASSWORD_FILE").to_owned();
    let out = run(
        &with(
            &base,
            &[
                "--only",
                "smtp:587:starttls",
                "--password-file",
                &file,
                "--json",
            ],
        ),
        &[],
    );
    assert_eq!(login(&json(&out), "smtp")["result"], "ok");
    let cmd = format!("cat {file}");
    let out = run(
        &with(
            &base,
            &["--only", "pop3:995:tls", "--password-cmd", &cmd, "--json"],
        ),
        &[],
    );
    assert_eq!(login(&json(&out), "pop3")["result"], "ok");
}

#[test]
fn the_send_test_checks_the_envelope_and_sends_nothing() {
    let s = Servers::get();
    let pw = password(&s);
    let base = base_args(&s);
    let out = run(
        &with(
            &base,
            &["--only", "smtp:587:starttls", "--send-test", "--json"],
        ),
        &[("MAILCHECK_PASSWORD", &pw)],
    );
    let doc = json(&out);
    let send = &login(&doc, "smtp")["send"];
    assert_eq!(send["accepted"], true, "{send}");
    assert!(send["mail_from"].as_str().unwrap().starts_with("250"));
    assert!(send["rcpt_to"].as_str().unwrap().starts_with("250"));
    assert_eq!(send["data"], Value::Null, "nothing sent without --deliver");
}

#[test]
fn verbose_transcripts_redact_credentials() {
    let s = Servers::get();
    let pw = password(&s);
    let base = base_args(&s);
    let out = run(
        &with(&base, &["--only", "smtp:465:tls,imap:993:tls", "-v"]),
        &[("MAILCHECK_PASSWORD", &pw)],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[credentials redacted]"), "{text}");
    assert_no_secret(&text, &pw, "alice@mailcheck.test");
}

#[test]
fn login_flags_without_a_secret_are_a_usage_error() {
    let out = run(
        &[
            "alice@example.com",
            "--host",
            "127.0.0.1",
            "--send-test",
            "--deliver",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a password or token"));
    let out = run(&["--host", "127.0.0.1"], &[("MAILCHECK_PASSWORD", "x")]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no username"));
}

#[test]
fn without_credentials_the_send_test_checks_that_postfix_refuses_to_relay() {
    let s = Servers::get();
    let base = base_args(&s);
    let out = run(
        &with(
            &base,
            &[
                "--only",
                "smtp:25:starttls,smtp:25:plain",
                "--send-test",
                "--json",
            ],
        ),
        &[],
    );
    let doc = json(&out);
    let tests = doc["relay_tests"].as_array().unwrap();
    assert_eq!(tests.len(), 1, "one per SMTP host");
    let t = &tests[0];
    assert_eq!(t["result"], "refused", "{t}");
    assert_eq!(
        t["combination"], "smtp:25:starttls",
        "port 25, STARTTLS first"
    );
    assert!(t["rcpt_to"].as_str().unwrap().starts_with("554"), "{t}");
    assert_eq!(
        doc["logins"],
        serde_json::json!([]),
        "no credentials, no login"
    );
}

#[test]
fn deliver_sends_one_labelled_message_to_the_address_itself() {
    let s = Servers::get();
    let pw = password(&s);
    let base = base_args(&s);
    let maildir = std::path::Path::new(
        &std::env::var("MAILCHECK_TEST_SERVERS")
            .unwrap_or_else(|_| "/tmp/mailcheck-test-servers".into()),
    )
    .join("mail/mailcheck.test/alice/Maildir");
    let count = |dir: &str| std::fs::read_dir(maildir.join(dir)).map_or(0, Iterator::count);
    let before = count("new") + count("cur");
    let out = run(
        &with(
            &base,
            &[
                "--only",
                "smtp:465:tls",
                "--send-test",
                "--deliver",
                "--json",
            ],
        ),
        &[("MAILCHECK_PASSWORD", &pw)],
    );
    let doc = json(&out);
    let send = &login(&doc, "smtp")["send"];
    assert!(send["data"].as_str().unwrap().starts_with("250"), "{send}");
    // Local delivery through LMTP takes a moment.
    let started = std::time::Instant::now();
    while count("new") + count("cur") == before
        && started.elapsed() < std::time::Duration::from_secs(10)
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(
        count("new") + count("cur"),
        before + 1,
        "exactly one message delivered"
    );
    let newest = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .filter_map(Result::ok)
        .max_by_key(|e| e.metadata().unwrap().modified().unwrap())
        .unwrap();
    let text = std::fs::read_to_string(newest.path()).unwrap();
    assert!(text.contains("Subject: mailcheck test message"), "{text}");
    assert!(!text.contains(&pw));
}
