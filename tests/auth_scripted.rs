//! Login tests against scripted servers: provider-specific refusals, OAuth2 error
//! challenges, a server that hangs mid-login and one that offers AUTH before
//! STARTTLS. The servers count what reaches them.

mod common;

use common::{Act, Leaf, Pki, Reply, Rule, Scripted, rule, send};
use mailcheck::report::LoginResult;
use mailcheck::report::Report;

const ADDRESS: &str = "alice@example.test";

/// Runs a login test for `ADDRESS` against the scripted server on 127.0.0.1, the
/// secret ("password" or "token", value) read from a temporary file.
async fn login_run(pki: &Pki, spec: &str, secret: (&str, &str), extra: &[&str]) -> Report {
    let ca = pki.ca_path();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), secret.1).unwrap();
    let path = file.path().display().to_string();
    let flag = if secret.0 == "token" {
        "--oauth2-token-file"
    } else {
        "--password-file"
    };
    let mut args = vec![
        ADDRESS,
        "--host",
        "127.0.0.1",
        "--only",
        spec,
        "--ca-file",
        &ca,
        "--timeout",
        "2",
        flag,
        &path,
    ];
    args.extend_from_slice(extra);
    common::run(&args).await
}

fn smtp_server(pki: &Pki, auth_rules: Vec<Rule>) -> Vec<Act> {
    smtp_greeting(
        pki,
        "220 mx.example.test Microsoft ESMTP MAIL Service ready\r\n",
        auth_rules,
    )
}

fn smtp_greeting(pki: &Pki, greeting: &str, auth_rules: Vec<Rule>) -> Vec<Act> {
    let mut rules = vec![rule(
        "EHLO",
        "250-mx.example.test\r\n250-AUTH LOGIN PLAIN XOAUTH2\r\n250 8BITMIME\r\n",
    )];
    rules.extend(auth_rules);
    rules.push(rule("QUIT", "221 bye\r\n"));
    vec![
        Act::Tls(pki.server(&Leaf::default())),
        send(greeting),
        Act::Serve(rules),
    ]
}

fn auth_lines(server: &Scripted) -> Vec<String> {
    server
        .received
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("AUTH"))
        .cloned()
        .collect()
}

#[tokio::test]
async fn microsoft_basic_auth_disabled_is_explained_and_tried_only_twice() {
    let pki = Pki::new("ca");
    let refusal = "535 5.7.139 Authentication unsuccessful, basic authentication is disabled. [AM0PR01CA0001.eurprd01.prod.exchangelabs.com]\r\n";
    let server = Scripted::start(smtp_server(&pki, vec![rule("AUTH", refusal)])).await;
    let spec = format!("smtp:{}:tls", server.port);
    let report = login_run(&pki, &spec, ("password", "hunter2-very-secret"), &[]).await;
    let l = &report.run.logins[0];
    assert_eq!(l.result, LoginResult::Failed);
    assert_eq!(
        l.usernames,
        [ADDRESS, "alice"],
        "the other username form once"
    );
    let e = l.explanation.as_ref().unwrap();
    assert_eq!(e.code, "microsoft_basic_auth_disabled");
    assert!(e.fix.contains("OAuth2"), "{}", e.fix);
    // Counted at the server: exactly two logins, never more.
    assert_eq!(auth_lines(&server).len(), 2, "{:?}", auth_lines(&server));
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains("hunter2-very-secret"));
}

#[tokio::test]
async fn an_xoauth2_error_challenge_is_read_and_explained() {
    let pki = Pki::new("ca");
    // {"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"}
    let challenge = "334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n";
    let refusal = "535-5.7.8 Username and Password not accepted. For more information, go to\r\n535 5.7.8  https://support.google.com/mail/?p=BadCredentials - gsmtp\r\n";
    let rules = vec![rule("AUTH XOAUTH2", challenge), rule("", refusal)];
    let server = Scripted::start(smtp_server(&pki, rules)).await;
    let spec = format!("smtp:{}:tls", server.port);
    let report = login_run(
        &pki,
        &spec,
        ("token", "ya29.secret-token-value"),
        &["--user", ADDRESS],
    )
    .await;
    let l = &report.run.logins[0];
    assert_eq!(l.result, LoginResult::Failed);
    assert_eq!(l.usernames, [ADDRESS], "--user: no other form");
    let attempt = &l
        .probe
        .as_ref()
        .unwrap()
        .session
        .as_ref()
        .unwrap()
        .auth
        .as_ref()
        .unwrap()
        .attempts[0];
    assert_eq!(attempt.mechanism, "XOAUTH2");
    let err = attempt
        .oauth_error
        .as_ref()
        .expect("the JSON error challenge is parsed");
    assert_eq!(err.status, "401");
    // The client answered the challenge with an empty line, as Google requires.
    assert!(server.received.lock().unwrap().iter().any(String::is_empty));
    assert!(l.explanation.is_some());
    assert!(
        !serde_json::to_string(&report)
            .unwrap()
            .contains("ya29.secret-token-value")
    );
}

#[tokio::test]
async fn a_refused_token_is_tried_once_and_explained_as_a_token() {
    let pki = Pki::new("ca");
    // {"status":"invalid_token"}: an RFC 7628 §3.2.2 error challenge, then
    // Dovecot's final reply, which reads like a wrong password.
    let challenge = "334 eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=\r\n";
    let refusal = "535 5.7.8 Error: authentication failed: (reason unavailable)\r\n";
    let rules = vec![rule("AUTH XOAUTH2", challenge), rule("", refusal)];
    let server = Scripted::start(smtp_server(&pki, rules)).await;
    let spec = format!("smtp:{}:tls", server.port);
    let report = login_run(&pki, &spec, ("token", "opaque-secret-token"), &[]).await;
    let l = &report.run.logins[0];
    assert_eq!(l.result, LoginResult::Failed);
    assert_eq!(
        l.usernames,
        [ADDRESS],
        "a token names its account: no other username form"
    );
    assert_eq!(auth_lines(&server).len(), 1, "{:?}", auth_lines(&server));
    let e = l.explanation.as_ref().unwrap();
    assert_eq!(e.code, "oauth2_token_rejected", "not the password wording");
    assert!(
        !serde_json::to_string(&report)
            .unwrap()
            .contains("opaque-secret-token")
    );
}

#[tokio::test]
async fn a_server_that_hangs_mid_login_is_bounded_by_the_timeout() {
    let pki = Pki::new("ca");
    let rules = vec![Rule {
        prefix: "AUTH",
        reply: Reply::Hang,
    }];
    let server = Scripted::start(smtp_server(&pki, rules)).await;
    let spec = format!("smtp:{}:tls", server.port);
    let started = std::time::Instant::now();
    let report = login_run(&pki, &spec, ("password", "pw-123456"), &[]).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "bounded"
    );
    let l = &report.run.logins[0];
    // Nothing was refused: the connection failed during the login.
    assert_eq!(l.result, LoginResult::ConnectionFailed);
    assert!(
        l.reason
            .as_deref()
            .unwrap_or("")
            .contains("before the server answered"),
        "{:?}",
        l.reason
    );
    // Regression: the attempt whose answer never came is still recorded.
    assert_eq!(l.usernames, [ADDRESS]);
    let attempt = &l
        .probe
        .as_ref()
        .unwrap()
        .session
        .as_ref()
        .unwrap()
        .auth
        .as_ref()
        .unwrap()
        .attempts[0];
    assert_eq!(attempt.reply, "(no answer from the server)");
}

#[tokio::test]
async fn auth_offered_before_starttls_is_never_used_before_tls() {
    let pki = Pki::new("ca");
    let tls = pki.server(&Leaf::default());
    let rules = vec![
        rule("EHLO", "250-mx\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n"),
        Rule {
            prefix: "STARTTLS",
            reply: Reply::StartTls("220 go ahead\r\n".into(), tls),
        },
        rule("AUTH", "235 2.7.0 Authentication successful\r\n"),
        rule("QUIT", "221 bye\r\n"),
    ];
    let server = Scripted::start(vec![send("220 mx ESMTP\r\n"), Act::Serve(rules)]).await;
    let spec = format!("smtp:{}:starttls", server.port);
    let report = login_run(&pki, &spec, ("password", "pw-abcdef"), &[]).await;
    assert_eq!(
        report.run.logins[0].result,
        LoginResult::Ok,
        "{:?}",
        report.run.logins[0].reason
    );
    let lines = server.received.lock().unwrap().clone();
    let starttls = lines
        .iter()
        .position(|l| l == "STARTTLS")
        .expect("STARTTLS sent");
    let auth = lines
        .iter()
        .position(|l| l.starts_with("AUTH"))
        .expect("AUTH sent");
    assert!(
        starttls < auth,
        "credentials only after the TLS upgrade: {lines:?}"
    );
}

#[tokio::test]
async fn an_open_relay_is_flagged() {
    let rules = vec![
        rule("EHLO", "250-mx\r\n250 8BITMIME\r\n"),
        rule("MAIL", "250 2.1.0 Ok\r\n"),
        rule("RCPT", "250 2.1.5 Ok\r\n"),
        rule("RSET", "250 2.0.0 Ok\r\n"),
        rule("QUIT", "221 bye\r\n"),
    ];
    let server = Scripted::start(vec![send("220 mx ESMTP\r\n"), Act::Serve(rules)]).await;
    let spec = format!("smtp:{}:plain", server.port);
    let report = common::run(&[
        ADDRESS,
        "--host",
        "127.0.0.1",
        "--only",
        &spec,
        "--send-test",
        "--timeout",
        "2",
    ])
    .await;
    let t = &report.run.relay_tests[0];
    assert_eq!(t.result, mailcheck::report::RelayResult::OpenRelay);
    let lines = server.received.lock().unwrap().clone();
    assert!(
        lines
            .iter()
            .any(|l| l == "RCPT TO:<mailcheck-relay-test@example.net>"),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l == "RSET"),
        "nothing is sent: {lines:?}"
    );
    assert!(!lines.iter().any(|l| l == "DATA"));
}

fn plain_smtp(auth_reply: Reply) -> Vec<Act> {
    vec![
        send("220 mx ESMTP\r\n"),
        Act::Serve(vec![
            rule("EHLO", "250-mx\r\n250 AUTH PLAIN\r\n"),
            Rule {
                prefix: "AUTH",
                reply: auth_reply,
            },
            rule("MAIL", "250 2.1.0 Ok\r\n"),
            rule("RCPT", "451 4.7.1 Greylisted, try again later\r\n"),
            rule("RSET", "250 2.0.0 Ok\r\n"),
            rule("QUIT", "221 bye\r\n"),
        ]),
    ]
}

#[tokio::test]
async fn a_password_sent_in_clear_is_marked_exposed_even_without_an_answer() {
    // Regression: exposure was judged from the matrix and the recorded attempts;
    // a secret written on a plaintext connection whose server never answers is
    // exposed all the same.
    let server = Scripted::start(plain_smtp(Reply::Hang)).await;
    let spec = format!("smtp:{}:plain", server.port);
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "pw-in-clear").unwrap();
    let path = file.path().display().to_string();
    let report = common::run(&[
        ADDRESS,
        "--host",
        "127.0.0.1",
        "--only",
        &spec,
        "--password-file",
        &path,
        "--allow-insecure-auth",
        "--timeout",
        "1",
    ])
    .await;
    let l = &report.run.logins[0];
    assert!(l.secret_exposed, "{l:?}");
    assert_eq!(l.result, LoginResult::ConnectionFailed);
}

#[tokio::test]
async fn the_deadline_also_bounds_the_login_phase() {
    let pki = Pki::new("ca");
    let rules = vec![Rule {
        prefix: "AUTH",
        reply: Reply::Hang,
    }];
    let server = Scripted::start(smtp_server(&pki, rules)).await;
    let spec = format!("smtp:{}:tls", server.port);
    let started = std::time::Instant::now();
    let report = login_run(
        &pki,
        &spec,
        ("password", "pw-123456"),
        &["--timeout", "30", "--deadline", "1.5"],
    )
    .await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.run.cut_short.as_deref(), Some("deadline"));
    // AUTH went out and no answer came: the report says the login was cut
    // short and the password may have been sent, not that none was tried.
    let [l] = &report.run.logins[..] else {
        panic!("one login record: {:?}", report.run.logins)
    };
    assert_eq!(l.result, LoginResult::Cancelled, "{l:?}");
    assert!(
        l.reason
            .as_deref()
            .is_some_and(|r| r.contains("may have been sent")),
        "{l:?}"
    );
}

#[tokio::test]
async fn a_temporary_refusal_says_nothing_about_relaying() {
    let server = Scripted::start(plain_smtp(Reply::Hang)).await;
    let spec = format!("smtp:{}:plain", server.port);
    let report = common::run(&[
        ADDRESS,
        "--host",
        "127.0.0.1",
        "--only",
        &spec,
        "--send-test",
        "--timeout",
        "2",
    ])
    .await;
    let t = &report.run.relay_tests[0];
    assert_eq!(t.result, mailcheck::report::RelayResult::NotTested, "{t:?}");
    assert!(t.reason.as_deref().unwrap_or("").contains("temporary"));
}

/// Regression: a connection closed right after AUTH, or a reply line over the
/// 8 KiB limit, was "the server refused the login … check the password".
#[tokio::test]
async fn a_connection_that_breaks_during_login_is_not_a_refused_password() {
    let pki = Pki::new("ca");
    let long = format!("535 {}\r\n", "x".repeat(10_000));
    for reply in [Reply::Close, Reply::Text(long)] {
        let rules = vec![Rule {
            prefix: "AUTH",
            reply,
        }];
        let server = Scripted::start(smtp_server(&pki, rules)).await;
        let spec = format!("smtp:{}:tls", server.port);
        let report = login_run(&pki, &spec, ("password", "pw-123456"), &[]).await;
        let l = &report.run.logins[0];
        assert_eq!(l.result, LoginResult::ConnectionFailed, "{l:?}");
        assert!(l.explanation.is_none(), "no refusal to explain");
        let codes: Vec<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
        assert!(codes.contains(&"login_connection_failed"), "{codes:?}");
        assert!(!codes.contains(&"login_failed"), "{codes:?}");
        assert!(
            !report
                .findings
                .iter()
                .any(|f| f.fix.contains("Check the username")),
            "{:#?}",
            report.findings
        );
    }
}

/// Regression: a server that is not Google, answering with Google's words, got
/// Google's app-password advice. Provider advice needs the provider's identity.
#[tokio::test]
async fn provider_advice_needs_the_providers_identity_not_its_words() {
    let pki = Pki::new("ca");
    let refusal = "535-5.7.8 Username and Password not accepted. For more information, go to\r\n535 5.7.8 https://support.google.com/mail/?p=BadCredentials\r\n";
    let server = Scripted::start(smtp_greeting(
        &pki,
        "220 mx.example.test ESMTP ready\r\n",
        vec![rule("AUTH", refusal)],
    ))
    .await;
    let spec = format!("smtp:{}:tls", server.port);
    let report = login_run(&pki, &spec, ("password", "pw-123456"), &[]).await;
    let e = report.run.logins[0].explanation.as_ref().unwrap();
    assert!(!e.provider_specific, "{e:?}");
    assert!(!e.fix.contains("apppasswords"), "{}", e.fix);
    // The same words from a server that greets as Gmail do get Google's advice.
    let server = Scripted::start(smtp_greeting(
        &pki,
        "220 smtp.gmail.com ESMTP d9443c01a7336 - gsmtp\r\n",
        vec![rule("AUTH", refusal)],
    ))
    .await;
    let spec = format!("smtp:{}:tls", server.port);
    let report = login_run(&pki, &spec, ("password", "pw-123456"), &[]).await;
    let e = report.run.logins[0].explanation.as_ref().unwrap();
    assert!(e.provider_specific && e.code.starts_with("gmail_"), "{e:?}");
}

/// A second connection unlike the first (another certificate, from an
/// authority nobody trusts) is interception: its own critical finding with
/// both fingerprints, the password withheld, and the combination not
/// recommended. It used to be "the login connection failed … fix the findings
/// above", with none above, and the combination recommended.
#[tokio::test]
async fn a_second_connection_unlike_the_first_is_interception() {
    let pki = Pki::new("ca");
    let rogue = Pki::new("Gateway Inspection CA");
    let first = smtp_server(&pki, vec![rule("AUTH", "235 ok\r\n")]);
    let mut second = smtp_server(&pki, vec![rule("AUTH", "235 ok\r\n")]);
    second[0] = Act::Tls(rogue.server(&Leaf::default()));
    let server = Scripted::start_each(vec![first, second]).await;
    let spec = format!("smtp:{}:tls", server.port);
    let report = login_run(&pki, &spec, ("password", "pw-never-sent"), &[]).await;
    let l = &report.run.logins[0];
    assert_eq!(l.result, LoginResult::NotAttempted, "{l:?}");
    assert!(
        l.changed
            .iter()
            .any(|c| c.starts_with("certificate changed")),
        "{:?}",
        l.changed
    );
    let f = report
        .findings
        .iter()
        .find(|f| f.code == "connection_changed")
        .expect("the interception finding");
    assert_eq!(f.severity, mailcheck::report::Severity::Critical);
    assert!(
        f.evidence.iter().any(|e| e.contains("SHA-256")),
        "{:?}",
        f.evidence
    );
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.code == "login_not_attempted")
    );
    assert!(report.recommendation.outgoing.is_none());
    assert!(auth_lines(&server).is_empty(), "the password was not sent");
}
