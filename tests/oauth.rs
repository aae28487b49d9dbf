//! OAuth2 sign-in end to end, against the real test servers: oidc-provider (the
//! authorization server), and Dovecot validating tokens with its oauth2 passdb
//! (introspection), Postfix asking Dovecot for SMTP AUTH.
//!
//! `mailcheck login` runs as a process; the tests read the code or the URL it
//! prints and click through the server's pages like a person (common::oauth).
//! Then `mailcheck probe` logs in with the stored token (XOAUTH2, OAUTHBEARER;
//! IMAP, POP3, SMTP), refreshes an expired one, and explains a revoked refresh
//! token, a token without the mail scope and an expired one without a refresh
//! token. No token, refresh token or client secret may appear in any output.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::oauth::{Browser, Consent};
use common::output::{assert_valid, json};
use common::servers::Servers;
use reqwest::Url;
use serde_json::Value;

const USER: &str = "alice@mailcheck.test";
const ALL: &str = "imap:993:tls,pop3:995:tls,smtp:465:tls";

/// `mailcheck ARGS` with the token store in `dir` and no secret inherited.
fn command(args: &[&str], dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mailcheck"));
    cmd.args(args)
        .env("MAILCHECK_TOKEN_STORE", "file")
        .env("MAILCHECK_TOKEN_DIR", dir.join("tokens"))
        .env_remove("MAILCHECK_PASSWORD")
        .env_remove("MAILCHECK_OAUTH2_TOKEN")
        .env_remove("MAILCHECK_OAUTH2_CLIENT_ID")
        .env_remove("MAILCHECK_OAUTH2_CLIENT_SECRET")
        .env_remove("BROWSER")
        .env_remove("NO_COLOR");
    cmd
}

fn run(args: &[&str], dir: &Path) -> Output {
    let out = command(args, dir).output().expect("mailcheck runs");
    common::output::dump(&out.stdout);
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `mailcheck login` for the test user with the test issuer and `extra` flags.
fn login_args<'a>(s: &'a Servers, client: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "login",
        USER,
        "--issuer",
        s.var("MAILCHECK_TEST_OAUTH_ISSUER"),
        "--client-id",
        client,
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--wait",
        "60",
    ];
    args.extend_from_slice(extra);
    args
}

/// A running `mailcheck login`: its stderr is read line by line.
struct Login {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Login {
    fn start(args: &[&str], dir: &Path) -> Login {
        let mut child = command(args, dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mailcheck login starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Login {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The first stderr line that has `needle`, within 20 s.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "mailcheck login never printed {needle:?}; it printed {:?}",
            self.seen
        );
    }

    /// Waits for the process (at most 60 s) and returns all it printed.
    fn finish(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_mins(1);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("mailcheck login did not end; it printed {:?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut out = String::new();
        std::io::Read::read_to_string(self.child.stdout.as_mut().unwrap(), &mut out).unwrap();
        self.seen.extend(self.lines.try_iter());
        (status.code(), format!("{out}\n{}", self.seen.join("\n")))
    }
}

/// Signs in with the device flow, answering the consent page with `consent`.
async fn device_login(
    s: &Servers,
    dir: &Path,
    client: &str,
    extra: &[&str],
    consent: Consent,
) -> (Option<i32>, String) {
    let mut args = login_args(s, client, &["--flow", "device"]);
    args.extend_from_slice(extra);
    let mut login = Login::start(&args, dir);
    let page = login.wait_for("To sign in, open");
    let code_line = login.wait_for("enter the code");
    let url = page
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap();
    let code = code_line.rsplit(' ').next().unwrap();
    let done = Browser::new(s)
        .sign_in(&Url::parse(url).unwrap(), Some(code), consent)
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    tokio::task::spawn_blocking(move || login.finish())
        .await
        .unwrap()
}

/// Signs in the test user as the test client with the test scopes (device
/// flow), answering the consent page with `consent`.
async fn device_login_as_test_client(
    s: &Servers,
    dir: &Path,
    consent: Consent,
) -> (Option<i32>, String) {
    let scope = s.var("MAILCHECK_TEST_OAUTH_SCOPE").to_owned();
    let client = s.var("MAILCHECK_TEST_OAUTH_CLIENT");
    device_login(s, dir, client, &["--scope", &scope], consent).await
}

/// Runs `mailcheck login ARGS` (the browser flow, `--no-browser`), opens the
/// page it prints and signs in there like a person, allowing access; the page,
/// and how mailcheck ended.
async fn browser_login(s: &Servers, args: &[&str], dir: &Path) -> (Url, Option<i32>, String) {
    let mut login = Login::start(args, dir);
    login.wait_for("open this page in a browser");
    let url = login.wait_for("https://");
    let url = Url::parse(url.trim()).unwrap();
    let done = Browser::new(s).sign_in(&url, None, Consent::Allow).await;
    assert!(
        done.url.as_str().starts_with("http://127.0.0.1:"),
        "ends at mailcheck's loopback: {}",
        done.url
    );
    assert!(done.body.contains("mailcheck received"), "{}", done.body);
    let (code, out) = tokio::task::spawn_blocking(move || login.finish())
        .await
        .unwrap();
    (url, code, out)
}

/// A fresh token store where the test user signed in with the device flow as
/// the client named by `client_var`, with the test scopes.
async fn signed_in(s: &Servers, client_var: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let scope = s.var("MAILCHECK_TEST_OAUTH_SCOPE").to_owned();
    let extra = ["--scope", scope.as_str()];
    let (code, out) = device_login(s, dir.path(), s.var(client_var), &extra, Consent::Allow).await;
    assert_eq!(code, Some(0), "{out}");
    dir
}

/// The stored record of the test user.
fn record(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(token_file(dir)).unwrap()).unwrap()
}

fn token_file(dir: &Path) -> PathBuf {
    dir.join("tokens").join(format!("{USER}.json"))
}

/// Writes the test user's token file as mailcheck would (mode 0600), in place
/// of any there.
fn write_raw(dir: &Path, text: &str) {
    use std::io::Write as _;
    let path = token_file(dir);
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new();
    f.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut f, 0o600);
    f.open(path).unwrap().write_all(text.as_bytes()).unwrap();
}

fn write_record(dir: &Path, record: &Value) {
    write_raw(dir, &serde_json::to_string(record).unwrap());
}

/// The secrets of a record, and every form they could leak in: raw, base64,
/// and the XOAUTH2 and OAUTHBEARER initial responses that carry them.
fn secrets_of(record: &Value) -> Vec<String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut out = Vec::new();
    for key in ["access_token", "refresh_token", "client_secret"] {
        let Some(secret) = record[key].as_str() else {
            continue;
        };
        out.push(secret.to_owned());
        out.push(b64(secret));
        out.push(b64(&format!("user={USER}\x01auth=Bearer {secret}\x01\x01")));
        out.push(b64(&format!("n,a={USER},\x01auth=Bearer {secret}\x01\x01")));
    }
    out
}

fn assert_no_secret(text: &str, secrets: &[String]) {
    for s in secrets {
        assert!(
            !text.contains(s.as_str()),
            "a secret leaked: {}…",
            &s[..8.min(s.len())]
        );
    }
}

/// `mailcheck probe` of the test user on `only`, with a generous phase timeout:
/// Dovecot answers a failed login after 2 s, and the machine may be busy.
fn probe_on<'a>(s: &'a Servers, only: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "probe",
        USER,
        "--host",
        s.name(),
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--only",
        only,
        "-4",
        "--timeout",
        "30",
    ];
    args.extend_from_slice(extra);
    args
}

fn probe_args<'a>(s: &'a Servers, extra: &[&'a str]) -> Vec<&'a str> {
    probe_on(s, ALL, extra)
}

fn logins(doc: &Value) -> Vec<&Value> {
    doc["logins"].as_array().unwrap().iter().collect()
}

fn mechanisms(login: &Value) -> Vec<String> {
    login["probe"]["session"]["auth"]["attempts"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["mechanism"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_device_flow_signs_in_and_every_protocol_takes_the_token_with_both_mechanisms() {
    let s = Servers::get();
    let dir = tempfile::tempdir().unwrap();
    let (code, login_out) = device_login_as_test_client(&s, dir.path(), Consent::Allow).await;
    assert_eq!(code, Some(0), "{login_out}");
    assert!(
        login_out.contains("Signed in as alice@mailcheck.test"),
        "{login_out}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode(&token_file(dir.path())),
            0o600,
            "the token file is the user's only"
        );
        assert_eq!(mode(&dir.path().join("tokens")), 0o700, "made by mailcheck");
    }
    let stored = record(dir.path());
    let secrets = secrets_of(&stored);
    assert_no_secret(&login_out, &secrets);
    for mech in ["XOAUTH2", "OAUTHBEARER"] {
        let out = run(
            &probe_args(&s, &["--json", "--auth-mech", mech]),
            dir.path(),
        );
        let doc = json(&out);
        assert_valid("probe-report.schema.json", &doc);
        assert_eq!(doc["summary"]["exit_code"], 0, "{}", text(&out));
        let l = logins(&doc);
        assert_eq!(l.len(), 3, "one login per protocol");
        for login in l {
            assert_eq!(login["result"], "ok", "{mech}: {login}");
            assert_eq!(mechanisms(login), [mech], "{login}");
        }
        for direction in ["incoming", "outgoing"] {
            let rec = &doc["recommendation"][direction];
            assert_eq!(rec["authentication"], "OAuth2", "{direction}: {rec}");
            assert_eq!(rec["login_verified"], true, "{direction}: {rec}");
        }
        let token = &doc["oauth2_token"];
        assert_eq!(token["account"], USER);
        assert_eq!(token["refreshed"], false);
        assert_eq!(token["scopes_granted"], serde_json::json!(["mail"]));
        assert!(
            token["store"].as_str().unwrap().starts_with("file "),
            "{token}"
        );
        assert_no_secret(&text(&out), &secrets);
    }
    // The human report says which token it used (with -v, beside the logins).
    let human = text(&run(&probe_args(&s, &["-v"]), dir.path()));
    let words = human.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains(
            "The OAuth2 token for the login test: the one stored for alice@mailcheck.test"
        ),
        "{human}"
    );
    assert_no_secret(&human, &secrets);
    // Every other output format, with transcripts.
    for format in [&["-v"][..], &["--format", "nagios"], &["--json", "-v"]] {
        let out = run(&probe_args(&s, format), dir.path());
        assert_no_secret(&text(&out), &secrets);
    }
}

#[tokio::test]
async fn the_browser_flow_with_pkce_and_a_client_secret_signs_in() {
    let s = Servers::get();
    let dir = tempfile::tempdir().unwrap();
    let scope = s.var("MAILCHECK_TEST_OAUTH_SCOPE").to_owned();
    let secret_file = s.var("MAILCHECK_TEST_OAUTH_CLIENT_SECRET_FILE").to_owned();
    let client_secret = std::fs::read_to_string(&secret_file).unwrap();
    let args = login_args(
        &s,
        s.var("MAILCHECK_TEST_OAUTH_SECRET_CLIENT"),
        &[
            "--flow",
            "browser",
            "--no-browser",
            "--scope",
            &scope,
            "--client-secret-file",
            &secret_file,
        ],
    );
    let (url, code, out) = browser_login(&s, &args, dir.path()).await;
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert!(
        query.contains(&("code_challenge_method".into(), "S256".into())),
        "{url}"
    );
    assert!(query.iter().any(|(k, _)| k == "state"), "{url}");
    assert_eq!(code, Some(0), "{out}");
    let stored = record(dir.path());
    assert_eq!(
        stored["client_secret"].as_str(),
        Some(client_secret.as_str()),
        "kept for refreshing"
    );
    let secrets = secrets_of(&stored);
    assert_no_secret(&out, &secrets);
    let out = run(&probe_args(&s, &["--json", "--oauth2"]), dir.path());
    let doc = json(&out);
    for login in logins(&doc) {
        assert_eq!(login["result"], "ok", "{login}");
    }
    assert_no_secret(&text(&out), &secrets);
}

/// The regression: with endpoint URLs but no `--issuer`, mailcheck held the
/// redirect's `iss` (which oidc-provider sends, RFC 9207) to an empty issuer
/// and refused every answer.
#[tokio::test]
async fn the_browser_flow_works_with_endpoint_urls_and_no_issuer() {
    let s = Servers::get();
    let dir = tempfile::tempdir().unwrap();
    let issuer = s.var("MAILCHECK_TEST_OAUTH_ISSUER");
    let (auth, token) = (format!("{issuer}/auth"), format!("{issuer}/token"));
    let scope = s.var("MAILCHECK_TEST_OAUTH_SCOPE");
    let args = [
        "login",
        USER,
        "--authorization-url",
        &auth,
        "--token-url",
        &token,
        "--client-id",
        s.var("MAILCHECK_TEST_OAUTH_CLIENT"),
        "--scope",
        scope,
        "--flow",
        "browser",
        "--no-browser",
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--wait",
        "60",
    ];
    let (_, code, out) = browser_login(&s, &args, dir.path()).await;
    assert_eq!(code, Some(0), "{out}");
    let stored = record(dir.path());
    assert_eq!(
        stored["issuer"].as_str(),
        Some(issuer),
        "the token endpoint's origin names the server"
    );
    assert_no_secret(&out, &secrets_of(&stored));
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_and_the_rotated_refresh_token_saved() {
    let s = Servers::get();
    let dir = signed_in(&s, "MAILCHECK_TEST_OAUTH_SHORT_CLIENT").await;
    let before = record(dir.path());
    // This client's access tokens live 2 s: after 3 s the mail server must refuse it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let raw = dir.path().join("raw-token");
    std::fs::write(&raw, before["access_token"].as_str().unwrap()).unwrap();
    let raw_arg = raw.to_str().unwrap();
    let out = run(
        &probe_on(
            &s,
            "imap:993:tls",
            &["--json", "--oauth2-token-file", raw_arg],
        ),
        dir.path(),
    );
    let doc = json(&out);
    let l = logins(&doc);
    assert_eq!(
        l[0]["result"], "failed",
        "the server refuses the expired token: {}",
        l[0]
    );
    assert_eq!(
        l[0]["explanation"]["code"], "oauth2_token_rejected",
        "{}",
        l[0]
    );
    // The stored token is refreshed first, and the logins work.
    let out = run(&probe_args(&s, &["--json"]), dir.path());
    let doc = json(&out);
    assert_eq!(
        doc["oauth2_token"]["refreshed"], true,
        "{}",
        doc["oauth2_token"]
    );
    for login in logins(&doc) {
        assert_eq!(login["result"], "ok", "{login}");
    }
    let after = record(dir.path());
    assert_ne!(
        after["access_token"], before["access_token"],
        "the new access token is saved"
    );
    assert_ne!(
        after["refresh_token"], before["refresh_token"],
        "the rotated refresh token is saved"
    );
    let mut secrets = secrets_of(&before);
    secrets.extend(secrets_of(&after));
    assert_no_secret(&text(&out), &secrets);
}

/// `mailcheck logout` for the test user, which must revoke the tokens at the
/// server (RFC 7009) and delete the record; what it printed.
fn logout_revokes(s: &Servers, dir: &Path) -> Output {
    let out = run(
        &["logout", USER, "--dns-server", s.dns(), "--ca-file", s.ca()],
        dir,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("revoked the tokens"), "{}", text(&out));
    assert!(!token_file(dir).exists(), "deleted");
    out
}

#[tokio::test]
async fn a_revoked_refresh_token_is_explained_and_no_login_is_attempted() {
    let s = Servers::get();
    let dir = signed_in(&s, "MAILCHECK_TEST_OAUTH_SHORT_CLIENT").await;
    let saved = std::fs::read_to_string(token_file(dir.path())).unwrap();
    // logout revokes the refresh token at the server (RFC 7009) and deletes it.
    logout_revokes(&s, dir.path());
    // Put the revoked record back: the refresh must fail, and be explained.
    write_raw(dir.path(), &saved);
    let out = run(&probe_args(&s, &["--json"]), dir.path());
    let doc = json(&out);
    assert_valid("probe-report.schema.json", &doc);
    assert_eq!(doc["summary"]["exit_code"], 2, "{}", text(&out));
    assert!(
        doc["oauth2_token"]["error"]
            .as_str()
            .unwrap()
            .contains("could not be refreshed")
    );
    for login in logins(&doc) {
        assert_eq!(login["result"], "not_attempted", "{login}");
        assert_eq!(
            login["explanation"]["code"], "oauth2_invalid_grant",
            "{login}"
        );
        assert!(
            login["explanation"]["fix"]
                .as_str()
                .unwrap()
                .contains("mailcheck login")
        );
    }
    let human = text(&run(&probe_args(&s, &[]), dir.path()));
    let words = human.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("Fix: Run mailcheck login again"), "{human}");
    assert_eq!(
        words.matches("could not be refreshed").count(),
        2,
        "one finding for the three logins, and the verdict: {human}"
    );
    assert_no_secret(
        &text(&out),
        &secrets_of(&serde_json::from_str(&saved).unwrap()),
    );
}

/// A token file others could read is refused for logins (its tokens may have
/// leaked), which is exactly why logout must still revoke them.
#[cfg(unix)]
#[tokio::test]
async fn logout_revokes_the_tokens_of_a_file_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let s = Servers::get();
    let dir = signed_in(&s, "MAILCHECK_TEST_OAUTH_CLIENT").await;
    let saved = record(dir.path());
    std::fs::set_permissions(
        token_file(dir.path()),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = logout_revokes(&s, dir.path());
    assert_no_secret(&text(&out), &secrets_of(&saved));
    // The refresh token is dead at the server: refreshing with it is refused.
    let mut client = saved.clone();
    client["expires_at"] = serde_json::json!(1);
    write_record(dir.path(), &client);
    let doc = json(&run(&probe_on(&s, "imap:993:tls", &["--json"]), dir.path()));
    assert!(
        doc["oauth2_token"]["error"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{}",
        doc["oauth2_token"]
    );
}

#[test]
fn logout_says_when_it_cannot_revoke_and_deletes_anyway() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tokens")).unwrap();
    write_raw(dir.path(), "{\"version\": 1, \"access_token\": ");
    let out = run(&["logout", USER], dir.path());
    assert!(out.status.success(), "{}", text(&out));
    let words = text(&out);
    assert!(
        words.contains("Revocation: not attempted (the token record in")
            && words.contains("is damaged"),
        "{words}"
    );
    assert!(words.contains("Deleted the OAuth2 token"), "{words}");
    assert!(!token_file(dir.path()).exists(), "deleted");
}

/// Without `--oauth2` a stored token is only used if it is there: one that
/// cannot be read must not stop the probe (it did, as a usage error); the
/// report says why, once.
#[test]
fn an_unreadable_stored_token_does_not_stop_a_probe_that_does_not_need_it() {
    let s = Servers::get();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tokens")).unwrap();
    write_raw(dir.path(), "{\"version\": 1, \"access_token\": ");
    let out = run(&probe_on(&s, "imap:993:tls", &["--json"]), dir.path());
    let doc = json(&out);
    assert_valid("probe-report.schema.json", &doc);
    assert_eq!(doc["summary"]["exit_code"], 1, "a warning: {}", text(&out));
    assert!(logins(&doc).is_empty(), "no login without a token");
    let about: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["cause"].as_str().unwrap().contains("could not be read"))
        .collect();
    assert_eq!(about.len(), 1, "said once: {}", doc["findings"]);
    assert_eq!(about[0]["code"], "oauth2_token_unreadable");
    assert!(
        about[0]["cause"].as_str().unwrap().contains("is damaged"),
        "{}",
        about[0]
    );
    // With --oauth2 the token is required: that is the usage error.
    let out = run(&probe_on(&s, "imap:993:tls", &["--oauth2"]), dir.path());
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("is damaged"), "{}", text(&out));
}

#[tokio::test]
async fn a_token_without_the_mail_scope_is_explained() {
    let s = Servers::get();
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = device_login(
        &s,
        dir.path(),
        s.var("MAILCHECK_TEST_OAUTH_CLIENT"),
        &["--scope", "openid,offline_access"],
        Consent::Allow,
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    // One protocol is enough: the scope is the token's, not the protocol's.
    let args = probe_on(&s, "imap:993:tls", &["--json", "--auth-mech", "XOAUTH2"]);
    let doc = json(&run(&args, dir.path()));
    assert_eq!(logins(&doc).len(), 1);
    for login in logins(&doc) {
        assert_eq!(login["result"], "failed", "{login}");
        let e = &login["explanation"];
        assert_eq!(e["code"], "oauth2_scope_missing", "{login}");
        assert!(e["cause"].as_str().unwrap().contains("(mail)"), "{e}");
    }
}

#[tokio::test]
async fn an_expired_token_without_a_refresh_token_is_explained() {
    let s = Servers::get();
    let dir = tempfile::tempdir().unwrap();
    // No offline_access: no refresh token.
    let (code, out) = device_login(
        &s,
        dir.path(),
        s.var("MAILCHECK_TEST_OAUTH_SHORT_CLIENT"),
        &["--scope", "mail"],
        Consent::Allow,
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    assert!(record(dir.path())["refresh_token"].is_null());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let doc = json(&run(&probe_args(&s, &["--json"]), dir.path()));
    for login in logins(&doc) {
        assert_eq!(login["result"], "not_attempted", "{login}");
        assert_eq!(
            login["explanation"]["code"], "oauth2_token_expired",
            "{login}"
        );
    }
}

#[tokio::test]
async fn a_denied_sign_in_is_explained_and_nothing_is_stored() {
    let s = Servers::get();
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = device_login_as_test_client(&s, dir.path(), Consent::Deny).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("access_denied") && out.contains("(oauth2_access_denied)"),
        "{out}"
    );
    assert!(!token_file(dir.path()).exists());
}

/// The sign-in works, but the token directory cannot be made (a file stands
/// where it would go, which stops root too): mailcheck says the sign-in worked,
/// that nothing was kept, where, and what to do, and exits 2.
#[tokio::test]
async fn a_sign_in_whose_token_cannot_be_stored_says_so_and_what_to_do() {
    let s = Servers::get();
    let dir = tempfile::tempdir().unwrap();
    let blocked = dir.path().join("tokens");
    std::fs::write(&blocked, "").unwrap();
    let (code, out) = device_login_as_test_client(&s, dir.path(), Consent::Allow).await;
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("Signed in as alice@mailcheck.test"), "{out}");
    assert!(
        out.contains("the sign-in worked, but the token could not be stored: cannot create")
            && out.contains(&blocked.display().to_string())
            && out.contains("--token-dir")
            && out.contains("then run `mailcheck login alice@mailcheck.test` again"),
        "{out}"
    );
    assert!(!out.contains("now logs in with it"), "{out}");
    // Nobody holds the new tokens: they are revoked rather than left valid.
    assert!(
        out.contains(
            "Revoking the unkept tokens: https://auth.mailcheck.test:9443 revoked the tokens."
        ),
        "{out}"
    );
    assert!(blocked.is_file(), "nothing was written over it");
}

/// Nobody types the code: mailcheck says how long it waits, gives up after
/// `--wait` (the code lives longer), and says what to do.
#[test]
fn an_unfinished_device_sign_in_gives_up_after_wait_and_says_what_to_do() {
    let s = Servers::get();
    let dir = tempfile::tempdir().unwrap();
    let scope = s.var("MAILCHECK_TEST_OAUTH_SCOPE");
    let args = login_args(
        &s,
        s.var("MAILCHECK_TEST_OAUTH_CLIENT"),
        &["--flow", "device", "--scope", scope, "--wait", "3"],
    );
    let out = run(&args, dir.path());
    let text = text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("Waiting up to 3 seconds"), "{text}");
    assert!(
        text.contains("nobody completed the sign-in within 3 s")
            && text.contains("run mailcheck login again, with a longer --wait"),
        "{text}"
    );
    assert!(!token_file(dir.path()).exists());
}

#[test]
fn without_a_stored_token_oauth2_says_to_sign_in_first() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &["probe", USER, "--oauth2", "--host", "127.0.0.2"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out).contains("mailcheck login alice@mailcheck.test"),
        "{}",
        text(&out)
    );
}

/// `mailcheck login` for the test user with endpoint URLs only (no issuer),
/// the scope `mail`, and `extra` flags: for the tests that end before any
/// request.
fn endpoint_login<'a>(token: &'a str, device: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "login",
        USER,
        "--token-url",
        token,
        "--device-url",
        device,
        "--scope",
        "mail",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn without_a_client_id_or_an_issuer_the_message_names_the_token_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(
        &endpoint_login(
            "https://auth.example.com:8443/token",
            "https://auth.example.com:8443/device",
            &[],
        ),
        dir.path(),
    )
    .env("XDG_CONFIG_HOME", dir.path())
    .env("HOME", dir.path())
    .output()
    .unwrap();
    let text = text(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("no OAuth2 client ID for https://auth.example.com:8443: "),
        "{text}"
    );
    assert!(text.contains("give --issuer too"), "{text}");
}

#[test]
fn plain_http_endpoints_off_loopback_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        &endpoint_login(
            "http://auth.example.com/token",
            "https://auth.example.com/device",
            &["--client-id", "x", "--flow", "device"],
        ),
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("plain HTTP would expose the tokens"),
        "{}",
        text(&out)
    );
}
