//! A real Prometheus (Debian's package, started on loopback by
//! scripts/test-servers.sh with fixtures/servers/prometheus.yml.in) scrapes a
//! `mailcheck serve` this test starts where that configuration expects it, with
//! the multi-target relabelling the shipped example uses; the test asks
//! Prometheus' HTTP query API what it stored. The shipped examples themselves
//! are checked with promtool, the alert rules with their unit tests.

mod common;

use std::time::Duration;

use common::exporter::{Exporter, promtool, query, server_cert_expiry, test_config, wait_for};
use common::servers::Servers;
use serde_json::Value;

/// The value of one series of a query result (here always a whole number).
fn value(series: &Value) -> i64 {
    let v: f64 = series["value"][1].as_str().unwrap().parse().unwrap();
    v.round() as i64
}

/// `promql`, keeping only samples newer than `since` (Unix time): Prometheus
/// keeps what earlier runs of the suite stored, and before the exporter is up
/// its scrapes fail.
fn fresh(promql: &str, since: u64) -> String {
    format!("({promql}) and (timestamp({promql}) > {since})")
}

/// Waits until `promql` returns at least `n` series.
fn series(prometheus: &str, promql: &str, n: usize) -> Vec<Value> {
    wait_for(Duration::from_secs(90), promql, || {
        let r = query(prometheus, promql);
        (r.len() >= n).then_some(r)
    })
}

#[test]
fn prometheus_scrapes_the_exporter() {
    let s = Servers::get();
    let prometheus = s.var("MAILCHECK_TEST_PROMETHEUS").to_owned();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let _exporter = Exporter::start(&test_config(&s), s.var("MAILCHECK_TEST_EXPORTER"));

    // The scrapes themselves succeed, for the failing target too.
    let up = fresh(r#"up{job=~"mailcheck.*"} == 1"#, since);
    series(&prometheus, &up, 4);

    let success = fresh(r#"mailcheck_probe_success{job="mailcheck"}"#, since);
    let success = series(&prometheus, &success, 2);
    for s in &success {
        let expected = match s["metric"]["instance"].as_str().unwrap() {
            "mail.mailcheck.test" => 1,
            "nothere.mailcheck.test" => 0,
            other => panic!("unexpected instance {other}"),
        };
        assert_eq!(value(s), expected, "{s}");
    }

    let expiry = fresh(
        r#"mailcheck_tls_cert_expiry_timestamp_seconds{job="mailcheck"}"#,
        since,
    );
    let expiry = query(&prometheus, &expiry);
    let seen: Vec<(&str, &str, i64)> = expiry
        .iter()
        .map(|s| {
            (
                s["metric"]["instance"].as_str().unwrap(),
                s["metric"]["port"].as_str().unwrap(),
                value(s),
            )
        })
        .collect();
    let not_after = server_cert_expiry(&s);
    let mut ports: Vec<&str> = seen.iter().map(|(_, p, _)| *p).collect();
    ports.sort_unstable();
    assert_eq!(ports, ["465", "587", "993"], "{seen:?}");
    for (instance, port, at) in &seen {
        assert_eq!(
            *instance, "mail.mailcheck.test",
            "no certificate for a failing target"
        );
        assert_eq!(*at, not_after, "port {port}");
    }

    let logins = series(&prometheus, &fresh("mailcheck_login_success", since), 2);
    for login in &logins {
        assert_eq!(login["metric"]["instance"], "alice@mailcheck.test");
        assert_eq!(value(login), 1, "{login}");
    }

    // The shipped rule sees the failing target's required combinations down
    // (pending for its `for:` period, firing after).
    let alerts = fresh(
        r#"ALERTS{alertname="MailcheckRequiredCombinationDown"}"#,
        since,
    );
    let alerts = series(&prometheus, &alerts, 2);
    for a in &alerts {
        assert_eq!(a["metric"]["instance"], "nothere.mailcheck.test", "{a}");
    }
}

fn examples() -> String {
    format!("{}/examples/prometheus", env!("CARGO_MANIFEST_DIR"))
}

fn assert_success(args: &[&str]) {
    let out = promtool(args, "");
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_shipped_scrape_config_and_rules_are_valid() {
    let dir = examples();
    assert_success(&["check", "config", &format!("{dir}/prometheus.yml")]);
    assert_success(&["check", "rules", &format!("{dir}/alerts.yml")]);
    assert_success(&["test", "rules", &format!("{dir}/alerts.test.yml")]);
}
