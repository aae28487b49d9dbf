//! The command line as CI and packagers see it: completions, the man page, the
//! Nagios plugin line and `--require`.

mod common;

use common::output::binary as mailcheck;
use common::servers::Servers;

#[test]
fn completions_and_man_page_come_from_the_clap_definitions() {
    let bash = mailcheck(&["completions", "bash"]);
    assert!(bash.status.success());
    let text = String::from_utf8(bash.stdout).unwrap();
    for word in ["probe", "settings", "--only", "--password-cmd", "--require"] {
        assert!(text.contains(word), "bash completion lacks {word}");
    }
    let man = mailcheck(&["man"]);
    let text = String::from_utf8(man.stdout).unwrap();
    assert!(text.contains(".TH mailcheck 1"), "roff header");
    assert!(text.contains("probe"));
}

/// `MAILCHECK STATUS - text | 'label'=value[UOM];[warn];[crit];[min];[max] ...`
fn assert_nagios_grammar(line: &str) -> (String, Vec<(String, String)>) {
    let rest = line.strip_prefix("MAILCHECK ").expect("service name first");
    let (status, rest) = rest.split_once(" - ").expect("' - ' after the status");
    assert!(
        ["OK", "WARNING", "CRITICAL", "UNKNOWN"].contains(&status),
        "{status}"
    );
    let (text, perf) = rest.split_once(" | ").unwrap_or((rest, ""));
    assert!(!text.contains('|') && !text.is_empty());
    let mut data = Vec::new();
    for item in perf.split_whitespace() {
        let (label, value) = item.rsplit_once('=').expect("label=value");
        assert!(
            label.starts_with('\'') && label.ends_with('\''),
            "quoted label: {label}"
        );
        let fields: Vec<&str> = value.split(';').collect();
        assert!(fields.len() <= 5, "{value}");
        let number = fields[0].trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == '%');
        assert!(number.parse::<f64>().is_ok(), "numeric value: {value}");
        let unit = &fields[0][number.len()..];
        assert!(
            ["", "s", "ms", "us", "%", "B", "KB", "MB", "TB", "c"].contains(&unit),
            "unit {unit}"
        );
        data.push((label.trim_matches('\'').to_owned(), value.to_owned()));
    }
    (status.to_owned(), data)
}

#[test]
fn the_nagios_format_follows_the_plugin_grammar() {
    let s = Servers::get();
    let out = mailcheck(&[
        "probe",
        "--host",
        s.name(),
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--format",
        "nagios",
        "-4",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {text}");
    let (status, perf) = assert_nagios_grammar(lines[0]);
    assert_eq!(
        out.status.code(),
        Some(match status.as_str() {
            "OK" => 0,
            "WARNING" => 1,
            "CRITICAL" => 2,
            _ => 3,
        })
    );
    assert!(
        perf.iter()
            .any(|(l, _)| l == "imap_993_tls@mail.mailcheck.test"),
        "{perf:?}"
    );
    let days = perf
        .iter()
        .find(|(l, _)| l == "imap_993_tls@mail.mailcheck.test_cert_days")
        .unwrap();
    assert!(days.1.ends_with(";21:;7:;0"), "{}", days.1);
}

#[test]
fn require_makes_a_missing_combination_critical() {
    let s = Servers::get();
    let base = [
        "probe",
        "--host",
        s.name(),
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--json",
        "-4",
    ];
    let run = |require: &str| {
        let mut args = base.to_vec();
        args.extend(["--require", require]);
        let out = mailcheck(&args);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            out.status.code(),
            doc["summary"]["unmet_requirements"].clone(),
        )
    };
    let (code, unmet) = run("imap:993:tls,smtp:587:starttls,incoming,outgoing");
    assert_eq!(unmet, serde_json::json!([]));
    assert_ne!(code, Some(2), "all requirements hold");
    let (code, unmet) = run("smtp:587:tls");
    assert_eq!(unmet, serde_json::json!(["smtp:587:tls"]));
    assert_eq!(code, Some(2));
    let bad = mailcheck(&["probe", "--host", "x.test", "--require", "imap:993"]);
    assert_eq!(bad.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--require"));
}

#[test]
fn export_writes_what_works_as_autoconfig_and_srv() {
    let s = Servers::get();
    let base = [
        "probe",
        "alice@mailcheck.test",
        "--host",
        s.name(),
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "-4",
    ];
    let mut args = base.to_vec();
    args.extend(["--export", "autoconfig"]);
    let xml = String::from_utf8(mailcheck(&args).stdout).unwrap();
    let config = mailcheck::discover::autoconfig::parse(&xml, "alice@mailcheck.test")
        .expect("our own parser reads it back");
    assert_eq!(config.incoming[0].host, "mail.mailcheck.test");
    assert_eq!(config.incoming[0].port, 993);
    assert_eq!(config.outgoing[0].port, 465);
    let mut args = base.to_vec();
    args.extend(["--export", "srv"]);
    let zone = String::from_utf8(mailcheck(&args).stdout).unwrap();
    assert!(
        zone.contains("_imaps._tcp.mailcheck.test.") && zone.contains(" 993 mail.mailcheck.test."),
        "{zone}"
    );
    assert!(
        zone.contains("_submissions._tcp.mailcheck.test.")
            && zone.contains(" 465 mail.mailcheck.test."),
        "{zone}"
    );
}

#[test]
fn the_settings_block_speaks_the_clients_language() {
    let s = Servers::get();
    let run = |client: &str| {
        let out = mailcheck(&[
            "probe",
            "--host",
            s.name(),
            "--dns-server",
            s.dns(),
            "--ca-file",
            s.ca(),
            "-4",
            "--client",
            client,
        ]);
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(run("thunderbird").contains("Connection security: SSL/TLS"));
    assert!(run("claws").contains("SSL/TLS"));
    assert!(run("ios").contains("Use SSL: on"));
}
