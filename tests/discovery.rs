//! End-to-end discovery: `mailcheck settings` and `mailcheck probe ADDRESS` against
//! the real test DNS server (dnsmasq, zone mailcheck.test) and the built-in
//! provider table. Nothing here talks to a real provider: the test zone answers
//! every name, and dnsmasq forwards nothing.

mod common;

use common::output::{
    assert_valid, binary as mailcheck, binary_async, candidate, json, source_kinds,
};
use common::servers::Servers;

#[test]
fn offline_settings_come_from_the_built_in_provider_data_alone() {
    let out = mailcheck(&["settings", "alice@gmail.com", "--offline", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    assert_valid("settings.schema.json", &doc);
    assert_eq!(doc["provider"]["id"], "gmail");
    assert_eq!(doc["offline"], true);
    assert_eq!(
        source_kinds(&doc),
        ["provider", "ispdb_snapshot"],
        "no network source consulted"
    );
    let imap = doc["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["protocol"] == "imap")
        .unwrap();
    assert_eq!(
        (
            imap["host"].as_str(),
            imap["port"].as_u64(),
            imap["security"].as_str()
        ),
        (Some("imap.gmail.com"), Some(993), Some("tls"))
    );
}

#[test]
fn offline_settings_for_an_unknown_domain_say_so() {
    let out = mailcheck(&["settings", "jörg@bücher.example", "--offline"]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("xn--bcher-kva.example"),
        "both forms of an IDN are shown: {text}"
    );
    assert!(text.contains("not a known provider"), "{text}");
}

#[test]
fn bad_addresses_are_usage_errors() {
    for (arg, needle) in [
        ("alice", "expected something like alice@example.com"),
        ("a@exa_mple.com", "not a valid domain name"),
    ] {
        let out = mailcheck(&["settings", arg, "--offline"]);
        assert_eq!(out.status.code(), Some(3), "{arg}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{arg}"
        );
    }
}

#[test]
fn srv_records_are_discovered_with_their_sources() {
    let s = Servers::get();
    let out = mailcheck(&[
        "settings",
        "alice@mailcheck.test",
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--json",
        "--timeout",
        "3",
    ]);
    let doc = json(&out);
    assert_valid("settings.schema.json", &doc);
    assert_eq!(out.status.code(), Some(0));
    let find = |proto: &str, port: u64| {
        doc["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["protocol"] == proto && c["port"] == port)
            .cloned()
    };
    let imaps = find("imap", 993).expect("_imaps._tcp found");
    assert_eq!(imaps["host"], "mail.mailcheck.test");
    assert_eq!(imaps["security"], "tls");
    let sources: Vec<&str> = imaps["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(sources, ["srv", "guess"], "SRV first, confirmed by a guess");
    assert_eq!(find("smtp", 587).unwrap()["security"], "starttls");
    // _pop3._tcp has target ".": POP3 with STARTTLS is deliberately not offered.
    assert_eq!(
        doc["not_offered"],
        serde_json::json!([{"protocol": "pop3", "security": "starttls", "service": "_pop3._tcp"}])
    );
    // Every source was consulted and timed.
    let kinds = source_kinds(&doc);
    for kind in [
        "provider",
        "ispdb_snapshot",
        "ispdb",
        "srv",
        "mx",
        "autoconfig",
        "autodiscover_json",
        "autodiscover_pox",
        "guess",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} consulted: {kinds:?}"
        );
    }
}

#[test]
fn a_hosted_domain_is_recognised_from_its_mx() {
    let s = Servers::get();
    let out = mailcheck(&[
        "settings",
        "bob@hosted.mailcheck.test",
        "--dns-server",
        s.dns(),
        "--json",
        "--timeout",
        "3",
    ]);
    let doc = json(&out);
    assert_valid("settings.schema.json", &doc);
    assert_eq!(doc["provider"]["via"], "mx");
    assert_eq!(
        doc["provider"]["id"], "google_workspace",
        "{}",
        doc["provider"]
    );
    assert!(
        doc["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["host"] == "imap.gmail.com")
    );
    // The provider is known from its MX: its web server is not asked for the
    // address (the ISPDB, a third party, is).
    let queries: Vec<&str> = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["query"].as_str().unwrap())
        .collect();
    assert!(
        !queries.iter().any(|q| q.contains("autoconfig.google.com")),
        "{queries:?}"
    );
}

#[test]
fn probe_finds_the_servers_from_the_address() {
    let s = Servers::get();
    let out = mailcheck(&[
        "probe",
        "alice@mailcheck.test",
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--json",
        "--timeout",
        "5",
    ]);
    let doc = json(&out);
    assert_valid("probe-report.schema.json", &doc);
    // WARNING: over [::1] (preferred) Dovecot treats the client as local and
    // offers login before TLS (auth_before_tls).
    assert_eq!(out.status.code(), Some(1), "{}", doc["summary"]);
    assert_eq!(
        doc["discovery"]["address"]["domain_ascii"],
        "mailcheck.test"
    );
    let hosts: Vec<&str> = doc["probes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["host"].as_str().unwrap())
        .collect();
    assert!(
        hosts.iter().all(|h| *h == "mail.mailcheck.test"),
        "{hosts:?}"
    );
    assert_eq!(hosts.len(), 16, "the default matrix on the discovered host");

    // A host flag overrides discovery for its protocol only.
    let out = mailcheck(&[
        "probe",
        "alice@mailcheck.test",
        "--smtp-host",
        "127.0.0.2",
        "--only",
        "smtp:465:tls,imap:993:tls",
        "--dns-server",
        s.dns(),
        "--ca-file",
        s.ca(),
        "--json",
    ]);
    let doc = json(&out);
    let host = |proto: &str| {
        doc["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["protocol"] == proto)
            .unwrap()["host"]
            .clone()
    };
    assert_eq!(host("smtp"), "127.0.0.2");
    assert_eq!(host("imap"), "mail.mailcheck.test");
}

#[test]
fn a_domain_without_servers_fails_clearly() {
    let s = Servers::get();
    let out = mailcheck(&[
        "probe",
        "alice@nowhere.mailcheck.test",
        "--dns-server",
        s.dns(),
        "--json",
        "--timeout",
        "3",
    ]);
    let doc = json(&out);
    assert_valid("probe-report.schema.json", &doc);
    assert_eq!(doc["probes"], serde_json::json!([]));
    assert_eq!(out.status.code(), Some(2), "nothing found is not a success");
}

#[tokio::test(flavor = "multi_thread")]
async fn autoconfig_is_fetched_over_https_through_the_chosen_dns_server() {
    let s = Servers::get();
    let pki = common::Pki::new("autoconfig test CA");
    let tls = pki.server(&common::Leaf {
        names: &["autoconfig.auto.mailcheck.test"],
        ..common::Leaf::default()
    });
    let config = r#"<?xml version="1.0"?>
<clientConfig version="1.1">
  <emailProvider id="auto.mailcheck.test">
    <domain>auto.mailcheck.test</domain>
    <incomingServer type="imap">
      <hostname>mail.mailcheck.test</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>mail.mailcheck.test</hostname><port>587</port><socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>"#;
    let server = common::http::HttpServer::start_on("127.0.0.3:443", Some(tls), move |_| {
        common::http::Reply::Body(200, config.as_bytes().to_vec())
    })
    .await;
    let ca = pki.ca_path();
    // The server runs on this test's runtime: the binary runs on another thread.
    let out = binary_async(&[
        "settings",
        "bob@auto.mailcheck.test",
        "--dns-server",
        s.dns(),
        "--ca-file",
        &ca,
        "--json",
        "--timeout",
        "3",
    ])
    .await;
    let doc = json(&out);
    assert_valid("settings.schema.json", &doc);
    let imap = candidate(&doc, "imap", None).expect("IMAP from autoconfig");
    assert_eq!(imap["host"], "mail.mailcheck.test");
    assert_eq!(imap["username"], "local_part");
    assert_eq!(imap["sources"], serde_json::json!(["autoconfig"]));
    let targets = server.targets();
    assert!(
        targets
            .iter()
            .any(|t| t.contains("emailaddress=bob%40auto.mailcheck.test")),
        "{targets:?}"
    );
}
