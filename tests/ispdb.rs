//! Thunderbird's ISPDB in mailcheck: the pinned snapshot against the source XML
//! it was converted from (fixtures/ispdb/, read with mailcheck's own
//! config-v1.1 parser, an implementation independent of the conversion
//! script), `settings --offline` for a sample of its domains, and the online
//! ISPDB against a local HTTPS server serving recorded answers (fixtures/
//! ispdb-online/): found, disagreeing, redirected, oversized, silent, malformed.
//! Nothing here leaves loopback: names resolve through a DNS server that
//! answers SERVFAIL to everything.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::http::{HttpServer, Reply};
use common::output::{assert_valid, binary as mailcheck, binary_async, json};
use common::{Leaf, Pki, dns};
use mailcheck::discover::autoconfig::{self, Outcome, ParseError};
use mailcheck::discover::fetch::{FetchError, Fetcher};
use mailcheck::discover::{ispdb, providers};
use mailcheck::net::resolve::Resolver;
use mailcheck::report::Setting;
use serde_json::Value;

fn fixture(path: &str) -> Vec<u8> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every source file, parsed by the autoconfig parser for an address at its
/// first domain: file name → (domains, settings).
fn sources() -> BTreeMap<String, (Vec<String>, Vec<Setting>, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/ispdb");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "xml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let xml = std::fs::read_to_string(&path).unwrap();
        let first = autoconfig::parse(&xml, "probe@invalid")
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .domains[0]
            .to_lowercase();
        let address = format!("someone@{first}");
        let config = autoconfig::parse(&xml, &address).unwrap();
        let settings = config.incoming.into_iter().chain(config.outgoing).collect();
        let domains = config.domains.iter().map(|d| d.to_lowercase()).collect();
        out.insert(name, (domains, settings, address));
    }
    out
}

#[test]
fn the_snapshot_matches_its_source_files_domain_by_domain() {
    let snapshot = providers::snapshot();
    let sources = sources();
    assert_eq!(sources.len(), snapshot.entries.len(), "one entry per file");
    let mut checked = 0;
    for entry in &snapshot.entries {
        let (domains, settings, address) = &sources[&entry.file];
        assert_eq!(&entry.settings_for(address), settings, "{}", entry.file);
        for d in &entry.domains {
            assert!(
                domains.contains(d),
                "{}: {d} is not in the source",
                entry.file
            );
            // The domain answers with this entry: the same servers as the file.
            let at = snapshot.by_domain(d).unwrap();
            assert_eq!(at.file, entry.file, "{d}");
            checked += 1;
        }
        for d in domains {
            assert!(
                entry.domains.contains(d) || snapshot.by_domain(d).is_some(),
                "{}: {d} was dropped",
                entry.file
            );
        }
    }
    assert!(checked >= 900, "{checked} domains checked");
}

#[test]
fn the_snapshot_records_the_upstream_commit() {
    let source = &providers::snapshot().source;
    let text = String::from_utf8(fixture("../data/ispdb.toml")).unwrap();
    assert!(
        text.contains("Mozilla Public"),
        "the MPL-2.0 notice is in the file"
    );
    assert!(text.contains(&source.commit));
    assert_eq!(
        source.repository,
        "https://github.com/thunderbird/autoconfig"
    );
}

/// `settings --offline` for a sample of 60 snapshot domains (every n-th, in
/// file order), each against the source XML: the same servers, from the
/// snapshot, with its commit as provenance.
#[test]
fn settings_offline_answers_a_sample_of_domains_from_the_snapshot() {
    let snapshot = providers::snapshot();
    let all: Vec<(&str, &str)> = snapshot
        .entries
        .iter()
        .flat_map(|e| e.domains.iter().map(move |d| (e.file.as_str(), d.as_str())))
        .collect();
    let step = all.len() / 60;
    let commit = snapshot.source.short_commit();
    let mut sampled = 0;
    for (file, domain) in all.iter().step_by(step).take(60) {
        let address = format!("someone@{domain}");
        let out = mailcheck(&["settings", &address, "--offline", "--json"]);
        let doc = json(&out);
        assert_valid("settings.schema.json", &doc);
        let report = doc["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["kind"] == "ispdb_snapshot")
            .unwrap_or_else(|| panic!("{domain}: no snapshot report"));
        assert!(
            report["query"].as_str().unwrap().contains(commit),
            "{domain}"
        );
        assert!(
            report["outcome"].as_str().unwrap().contains(file),
            "{domain}"
        );
        let xml = String::from_utf8(fixture(&format!("ispdb/{file}"))).unwrap();
        let config = autoconfig::parse(&xml, &address).unwrap();
        let expected: Vec<(String, u64, String)> = config
            .incoming
            .iter()
            .chain(&config.outgoing)
            .map(|s| (s.host.clone(), u64::from(s.port), s.security.to_string()))
            .collect();
        let got: Vec<(String, u64, String)> = report["settings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let sec = match s["security"].as_str().unwrap() {
                    "tls" => "SSL/TLS",
                    "starttls" => "STARTTLS",
                    _ => "none",
                };
                (
                    s["host"].as_str().unwrap().to_owned(),
                    s["port"].as_u64().unwrap(),
                    sec.to_owned(),
                )
            })
            .collect();
        assert_eq!(got, expected, "{domain} ({file})");
        let candidate_sources = doc["candidates"][0]["sources"].to_string();
        assert!(
            candidate_sources.contains("ispdb_snapshot"),
            "{domain}: {candidate_sources}"
        );
        sampled += 1;
    }
    assert!(sampled >= 50, "{sampled}");
}

#[test]
fn settings_offline_for_163_com() {
    let out = mailcheck(&["settings", "alice@163.com", "--offline"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("imap.163.com"), "{text}");
    assert!(text.contains("smtp.163.com"), "{text}");
    assert!(text.contains("ISPDB snapshot"), "{text}");
    assert!(
        text.contains(providers::snapshot().source.short_commit()),
        "{text}"
    );
}

// ---------------------------------------------------------------------------
// The ISPDB online, against a local HTTPS server.

fn route(target: &str) -> Reply {
    let Some(domain) = target.strip_prefix("/v1.1/") else {
        return Reply::Body(404, b"not found".to_vec());
    };
    match domain {
        "163.com" => Reply::Body(200, fixture("ispdb-online/163.com")),
        d if d.starts_with("newer.example/") => {
            Reply::Body(200, fixture("ispdb-online/163.com-newer"))
        }
        "moved.example" => Reply::Redirect(302, "/v1.1/163.com".into()),
        "huge.example" => Reply::Declared(32 * 1024 * 1024),
        "slow.example" => Reply::Slow(Duration::from_secs(10)),
        "broken.example" => Reply::Body(200, fixture("ispdb-online/malformed")),
        _ => Reply::Body(404, b"<html>404 Not Found</html>".to_vec()),
    }
}

struct Online {
    pki: Pki,
    server: HttpServer,
    dns_port: u16,
}

impl Online {
    async fn start() -> Online {
        let pki = Pki::new("ISPDB Test CA");
        let server = HttpServer::start(Some(pki.server(&Leaf::default())), route).await;
        let dns_port = dns::start(dns::Behaviour::ServFail).await;
        Online {
            pki,
            server,
            dns_port,
        }
    }

    fn base(&self) -> String {
        format!("https://127.0.0.1:{}/v1.1/", self.server.port)
    }

    fn fetcher(&self, timeout: Duration) -> Fetcher {
        let addr: SocketAddr = ([127, 0, 0, 1], self.dns_port).into();
        let resolver = Arc::new(Resolver::new(Some(addr), Duration::from_secs(2)).unwrap());
        Fetcher::new(resolver, Some(self.pki.ca_file.path()), timeout).unwrap()
    }

    async fn ask(&self, domain: &str, timeout: Duration) -> autoconfig::Attempt {
        ispdb::lookup(
            &self.fetcher(timeout),
            &self.base(),
            domain,
            "alice@163.com",
        )
        .await
    }
}

#[tokio::test]
async fn online_lookups_read_found_redirected_and_missing_answers() {
    let o = Online::start().await;
    let a = o.ask("163.com", Duration::from_secs(5)).await;
    let Outcome::Found(config) = &a.outcome else {
        panic!("{:?}", a.outcome)
    };
    assert_eq!(config.incoming[0].host, "imap.163.com");
    assert_eq!(a.url, format!("{}163.com", o.base()));
    let a = o.ask("moved.example", Duration::from_secs(5)).await;
    assert!(matches!(a.outcome, Outcome::Found(_)), "{:?}", a.outcome);
    assert_eq!(a.redirects.len(), 1);
    assert!(a.redirects[0].to.ends_with("/v1.1/163.com"));
    let a = o.ask("unknown.example", Duration::from_secs(5)).await;
    assert!(matches!(
        a.outcome,
        Outcome::FetchFailed(FetchError::Status(404))
    ));
}

#[tokio::test]
async fn online_lookups_survive_huge_silent_and_malformed_answers() {
    let o = Online::start().await;
    let a = o.ask("huge.example", Duration::from_secs(5)).await;
    assert!(
        matches!(a.outcome, Outcome::FetchFailed(FetchError::TooLarge)),
        "{:?}",
        a.outcome
    );
    let started = std::time::Instant::now();
    let a = o.ask("slow.example", Duration::from_millis(500)).await;
    assert!(
        matches!(a.outcome, Outcome::FetchFailed(FetchError::Timeout(_))),
        "{:?}",
        a.outcome
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let a = o.ask("broken.example", Duration::from_secs(5)).await;
    assert!(
        matches!(a.outcome, Outcome::Invalid(ParseError::Xml(_))),
        "{:?}",
        a.outcome
    );
}

/// The binary, pointed at the local ISPDB: the online answer is one more
/// source beside the snapshot, and when it says otherwise, the report says so.
#[tokio::test(flavor = "multi_thread")]
async fn settings_asks_the_online_ispdb_and_reports_disagreement() {
    let o = Online::start().await;
    let ca = o.pki.ca_path();
    let dns = format!("127.0.0.1:{}", o.dns_port);
    let run = |base: String| {
        let args = [
            "settings",
            "alice@163.com",
            "--ispdb-url",
            &base,
            "--ca-file",
            &ca,
            "--dns-server",
            &dns,
            "--timeout",
            "3",
            "--json",
        ]
        .map(str::to_owned);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            json(&binary_async(&args).await)
        }
    };
    let doc = run(o.base()).await;
    assert_valid("settings.schema.json", &doc);
    let online = kind(&doc, "ispdb");
    assert_eq!(online["query"], format!("{}163.com", o.base()));
    assert_eq!(online["settings"][0]["host"], "imap.163.com");
    let imap = &doc["candidates"][0];
    assert_eq!(
        imap["sources"],
        serde_json::json!(["ispdb_snapshot", "ispdb"])
    );
    assert_eq!(doc["disagreements"], serde_json::json!([]));

    // A newer upstream answer (served here under another path) disagrees.
    let newer = format!("https://127.0.0.1:{}/v1.1/newer.example/", o.server.port);
    let doc = run(newer).await;
    assert_valid("settings.schema.json", &doc);
    let d = doc["disagreements"].to_string();
    assert!(
        d.contains("the ISPDB snapshot says imap.163.com:993 SSL/TLS")
            && d.contains("the ISPDB online says imap.163.com:143 STARTTLS"),
        "{d}"
    );
}

fn kind<'a>(doc: &'a Value, kind: &str) -> &'a Value {
    doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} report: {doc}"))
}

#[test]
fn a_bad_ispdb_url_is_a_usage_error() {
    let out = mailcheck(&["settings", "a@163.com", "--ispdb-url", "ftp://x.example/"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--ispdb-url") && err.contains("only http and https"),
        "{err}"
    );
}
