//! `mailcheck batch` end to end: good, failing and malformed targets against the
//! real test servers, JSON Lines and the table, standard input, the batch's
//! deadline, one login per account, and the per-server cap as the server sees it
//! (Postfix's connection limit on the capped port).

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::output::{assert_valid, binary};
use common::servers::Servers;
use serde_json::Value;

/// Options for every line: the test DNS and CA, IPv4 only.
fn defaults(s: &Servers) -> Vec<String> {
    ["--dns-server", s.dns(), "--ca-file", s.ca(), "-4"]
        .map(str::to_owned)
        .to_vec()
}

/// Writes `lines` to a list file and runs `mailcheck batch FILE ARGS -- DEFAULTS`.
fn batch(lines: &[&str], args: &[&str], defaults: &[String]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("targets.txt");
    std::fs::write(&list, lines.join("\n") + "\n").unwrap();
    let mut all = vec!["batch", list.to_str().unwrap()];
    all.extend_from_slice(args);
    all.push("--");
    all.extend(defaults.iter().map(String::as_str));
    binary(&all)
}

/// The JSON Lines records, each checked against the schemas, by line number.
fn records(out: &Output) -> Vec<Value> {
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let mut records: Vec<Value> = text
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {l}"))
        })
        .collect();
    for r in &records {
        assert_valid("batch-record.schema.json", r);
        if let Some(report) = r.get("report") {
            assert_valid("probe-report.schema.json", report);
        }
    }
    records.sort_by_key(|r| r["line"].as_u64());
    records
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const MIXED: &[&str] = &[
    "# customers, one per line",
    "--host mail.mailcheck.test --only imap:993:tls,smtp:587:starttls",
    "",
    "--host nothere.mailcheck.test --only imap:993:tls",
    "--host mail.mailcheck.test --only ftp:21:tls",
    "   # indented comment",
    "--host mail.mailcheck.test --no-such-option",
    "--host 'mail.mailcheck.test --only imap:993:tls",
    "alice@mailcheck.test --only imap:993:tls,smtp:465:tls  # discovered through SRV",
];

#[test]
fn good_failing_and_malformed_targets_as_json_lines() {
    let s = Servers::get();
    let out = batch(MIXED, &["--json"], &defaults(&s));
    assert_eq!(
        out.status.code(),
        Some(2),
        "worst is CRITICAL: {}",
        stderr(&out)
    );
    let r = records(&out);
    let lines: Vec<u64> = r.iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 4, 5, 7, 8, 9], "one record per target line");

    let good = &r[0];
    assert_eq!(good["target"], "mail.mailcheck.test");
    assert_eq!(good["exit_code"], 0, "{good}");
    assert_eq!(good["report"]["summary"]["exit_code"], 0);
    assert_eq!(good["report"]["probes"].as_array().unwrap().len(), 2);

    let failing = &r[1];
    assert_eq!(failing["exit_code"], 2);
    let probe = &failing["report"]["probes"][0];
    assert_eq!(probe["status"], "failed");
    assert_eq!(probe["failure"]["phase"], "resolve");

    for (rec, needle) in [
        (&r[2], "unknown protocol \"ftp\""),
        (&r[3], "--no-such-option"),
        (&r[4], "quote"),
    ] {
        assert_eq!(rec["exit_code"], 3, "{rec}");
        assert!(rec.get("report").is_none());
        let e = rec["error"].as_str().unwrap();
        assert!(e.contains(needle), "line {}: {e}", rec["line"]);
    }

    let discovered = &r[5];
    assert_eq!(discovered["target"], "alice@mailcheck.test");
    assert_eq!(
        discovered["exit_code"], 0,
        "{}",
        discovered["report"]["findings"]
    );
    assert!(stderr(&out).contains("6 targets"), "{}", stderr(&out));
}

#[test]
fn the_table_has_one_row_per_target_and_the_counts() {
    let s = Servers::get();
    let out = batch(MIXED, &["--color", "never"], &defaults(&s));
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert!(rows[0].starts_with("STATUS    TARGET"), "{text}");
    let row = |needle: &str| {
        rows.iter()
            .find(|r| r.contains(needle))
            .unwrap_or_else(|| panic!("no row for {needle}:\n{text}"))
    };
    let good = row("mail.mailcheck.test ");
    assert!(good.starts_with("OK "), "{good}");
    assert!(good.contains("IMAP 993 SSL/TLS") && good.contains("SMTP 587 STARTTLS"));
    assert!(good.contains("d  "), "certificate days: {good}");
    assert!(row("nothere.mailcheck.test").starts_with("CRITICAL"));
    let bad = row("line 5 ");
    assert!(bad.starts_with("UNKNOWN") && bad.contains("ftp"), "{bad}");
    assert!(
        text.contains("6 targets in ") && text.contains("2 OK, 0 WARNING, 1 CRITICAL, 3 UNKNOWN"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colour in a pipe");
}

#[test]
fn the_list_can_come_from_standard_input() {
    let s = Servers::get();
    let mut args = vec!["--json".to_owned(), "--".to_owned()];
    args.extend(defaults(&s));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (child, mut stdin) = batch_on_a_pipe(&args);
    stdin
        .write_all(b"--host mail.mailcheck.test --only imap:993:tls\n")
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = records(&out);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["line"], 1);
}

#[test]
fn one_login_per_account() {
    let s = Servers::get();
    let line = format!(
        "{} --password-file {} --only imap:993:tls,smtp:465:tls",
        s.var("MAILCHECK_TEST_USER"),
        s.var("MAILCHECK_TEST_PASSWORD_FILE")
    );
    let out = batch(
        &[&line, &line],
        &["--json", "--parallel", "1"],
        &defaults(&s),
    );
    let r = records(&out);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["exit_code"], 0, "{}", r[0]["report"]["findings"]);
    let logins = r[0]["report"]["logins"].as_array().unwrap();
    assert_eq!(logins.len(), 2, "one per protocol and host: {logins:?}");
    assert!(logins.iter().all(|l| l["result"] == "ok"), "{logins:?}");
    let again = r[1]["error"].as_str().unwrap();
    assert!(again.contains("same account as line 1"), "{again}");
    assert_eq!(out.status.code(), Some(3), "UNKNOWN beats OK");
}

#[test]
fn a_password_in_the_environment_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_mailcheck"))
        .args(["batch", "-"])
        .env("MAILCHECK_PASSWORD", "secret")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let e = stderr(&out);
    assert!(
        e.contains("MAILCHECK_PASSWORD") && e.contains("--password-file"),
        "{e}"
    );
    assert!(!e.contains("secret"), "never print the secret: {e}");
}

/// Three targets on a server that never answers; the batch's
/// deadline ends the running one and the others are not started.
#[tokio::test(flavor = "multi_thread")]
async fn the_batch_deadline_bounds_the_whole_run() {
    let silent = common::Scripted::start(vec![common::Act::Hang]).await;
    let line = format!(
        "--host 127.0.0.1 --only pop3:{}:plain --timeout 30",
        silent.port
    );
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        let lines = [line.as_str(); 3];
        batch(
            &lines,
            &["--json", "--parallel", "1", "--deadline", "1"],
            &[],
        )
    })
    .await
    .unwrap();
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    let r = records(&out);
    assert_eq!(r.len(), 3);
    assert_eq!(r[0]["report"]["cut_short"], "deadline", "{}", r[0]);
    for later in &r[1..] {
        let e = later["error"].as_str().unwrap();
        assert!(e.contains("--deadline passed"), "{e}");
    }
}

/// `mailcheck batch - ARGS` reading a pipe, and the pipe's writing end (kept
/// open and silent, it is a list that never ends).
fn batch_on_a_pipe(args: &[&str]) -> (std::process::Child, std::process::ChildStdin) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailcheck"))
        .arg("batch")
        .arg("-")
        .args(args)
        .env_remove("MAILCHECK_PASSWORD")
        .env_remove("MAILCHECK_OAUTH2_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

/// Waits for `child` to end, for at most a minute (far beyond the deadlines
/// these tests set); kills it and fails if it is still running.
fn ended_within_a_minute(mut child: std::process::Child) -> Output {
    let until = std::time::Instant::now() + std::time::Duration::from_mins(1);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > until {
            let _ = child.kill();
            panic!("mailcheck batch still runs a minute after it should have stopped");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// A list on a standard input that never ends and never says anything: the
/// batch's deadline still ends the run, and says so.
#[test]
fn the_deadline_ends_a_batch_waiting_on_standard_input() {
    let (child, stdin) = batch_on_a_pipe(&["--json", "--deadline", "0.5"]);
    let out = ended_within_a_minute(child);
    drop(stdin);
    let e = stderr(&out);
    assert!(
        e.contains("the batch's --deadline passed; the rest of the target list was not read"),
        "{e}"
    );
    assert!(!e.contains("holds no target"), "{e}");
    assert_eq!(out.status.code(), Some(3), "no target probed: UNKNOWN");
    assert!(out.stdout.is_empty());
}

/// The same on Ctrl-C (SIGINT), once the table's header says the batch runs.
#[test]
fn ctrl_c_ends_a_batch_waiting_on_standard_input() {
    let (mut child, stdin) = batch_on_a_pipe(&[]);
    let mut header = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut header,
    )
    .unwrap();
    assert!(header.contains("TARGET"), "{header}");
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = ended_within_a_minute(child);
    drop(stdin);
    let e = stderr(&out);
    assert!(
        e.contains("mailcheck: interrupted; the rest of the target list was not read"),
        "{e}"
    );
    assert_eq!(out.status.code(), Some(3), "{e}");
}

/// Occurrences of Postfix's refusal on the capped port so far.
fn refusals_logged(s: &Servers) -> usize {
    let log = std::fs::read_to_string(s.var("MAILCHECK_TEST_POSTFIX_LOG")).unwrap();
    let port = s.var("MAILCHECK_TEST_CAPPED_PORT");
    log.lines()
        .filter(|l| {
            l.contains("Connection concurrency limit exceeded") && l.contains(&format!(":{port}"))
        })
        .count()
}

/// Eight domains hosted on one server whose Postfix allows a client two
/// connections at once (and greets after a second, so connections overlap).
/// With `--per-server 2` the server never has to refuse one; with a cap above
/// its limit it does, which shows the check can fail.
#[test]
fn many_domains_on_one_server_stay_under_the_per_server_cap() {
    let s = Servers::get();
    let port = s.var("MAILCHECK_TEST_CAPPED_PORT").to_owned();
    let lines: Vec<String> = (1..=8)
        .map(|i| format!("--host customer{i}.shared.mailcheck.test --only smtp:{port}:starttls"))
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let run = |cap: &str| {
        let before = refusals_logged(&s);
        let args = ["--json", "--parallel", "8", "--per-server", cap];
        let out = batch(&lines, &args, &defaults(&s));
        let r = records(&out);
        assert_eq!(r.len(), 8, "{}", stderr(&out));
        let refused = r
            .iter()
            .filter(|r| r["exit_code"] != 0)
            .map(|r| r["report"]["probes"][0]["failure"]["message"].to_string())
            .collect::<Vec<_>>();
        (refused, refusals_logged(&s) - before)
    };
    let (refused, logged) = run("2");
    assert!(refused.is_empty(), "the server refused: {refused:?}");
    assert_eq!(logged, 0, "Postfix logged refusals under the cap");

    let (refused, logged) = run("8");
    assert!(
        logged > 0,
        "control: a cap above the server's limit is refused"
    );
    assert!(!refused.is_empty());
    assert!(refused.iter().any(|m| m.contains("421")), "{refused:?}");
}
