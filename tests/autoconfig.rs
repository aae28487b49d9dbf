//! Mozilla autoconfig against in-process HTTP(S) servers on 127.0.0.1: valid,
//! malformed, oversized, redirecting and silent documents; trust anchors; names
//! resolved through the DNS server mailcheck was given (a SERVFAIL server here,
//! the real dnsmasq test zone in the last tests).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::Notify;

use common::http::{HttpServer, Reply};
use common::servers::Servers;
use common::{Leaf, Pki, dns};
use mailcheck::discover::autoconfig::{self, Attempt, Outcome, ParseError};
use mailcheck::discover::fetch::{
    FetchError, Fetched, Fetcher, MAX_BODY, MAX_REDIRECTS, Method, Policy, Redirect,
};
use mailcheck::model::{Protocol, Security};
use mailcheck::net::resolve::Resolver;

const ADDRESS: &str = "alice@example.com";

const DOCUMENT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.com">
    <domain>example.com</domain>
    <displayName>Example</displayName>
    <incomingServer type="imap">
      <hostname>imap.%EMAILDOMAIN%</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.com</hostname>
      <port>465</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"#;

/// Routes shared by the tests: the path decides the misbehaviour.
fn route(target: &str) -> Reply {
    let path = target.split('?').next().unwrap_or_default();
    if let Some(n) = path.strip_prefix("/hop/") {
        let n: u32 = n.parse().unwrap();
        return if n == 0 {
            Reply::Body(200, DOCUMENT.into())
        } else {
            Reply::Redirect(302, format!("/hop/{}", n - 1))
        };
    }
    match path {
        "/mail/config-v1.1.xml" | "/good" => Reply::Body(200, DOCUMENT.into()),
        "/malformed" => Reply::Body(200, b"<clientConfig><emailProvider>".to_vec()),
        "/huge-chunked" => Reply::Chunked(32 * 1024 * 1024),
        "/huge-declared" => Reply::Declared(32 * 1024 * 1024),
        "/just-fits" => Reply::Declared(MAX_BODY),
        "/slow" => Reply::Slow(Duration::from_secs(10)),
        "/to-file" => Reply::Redirect(301, "file:///etc/passwd".into()),
        _ => Reply::Body(404, b"not found".to_vec()),
    }
}

/// A DNS server that answers SERVFAIL to everything: any name lookup that the
/// fetcher makes fails visibly, and none leaves the machine.
async fn servfail_resolver() -> Arc<Resolver> {
    let port = dns::start(dns::Behaviour::ServFail).await;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    Arc::new(Resolver::new(Some(addr), Duration::from_secs(2)).unwrap())
}

struct Setup {
    pki: Pki,
    https: HttpServer,
    fetcher: Fetcher,
}

async fn setup(timeout: Duration) -> Setup {
    let pki = Pki::new("Autoconfig Test CA");
    let https = HttpServer::start(Some(pki.server(&Leaf::default())), route).await;
    let fetcher = Fetcher::new(servfail_resolver().await, Some(pki.ca_file.path()), timeout)
        .expect("fetcher");
    Setup {
        pki,
        https,
        fetcher,
    }
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.https.port)
    }

    async fn get(&self, path: &str) -> Fetched {
        self.fetcher.fetch(&self.url(path)).await
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test]
async fn valid_document_over_https() {
    let s = setup(secs(5)).await;
    let f = s.get("/good").await;
    assert_eq!(f.body.as_deref().map(<[u8]>::len), Ok(DOCUMENT.len()));
    assert_eq!(f.status, Some(200));
    assert!(!f.plain_http);
    assert!(f.redirects.is_empty());
    assert_eq!(f.final_url, s.url("/good"));
}

#[tokio::test]
async fn lookup_reports_every_attempt_up_to_the_first_configuration() {
    let s = setup(secs(5)).await;
    let candidates = vec![
        (s.url("/missing"), false),
        (s.url("/malformed"), false),
        (
            s.url("/mail/config-v1.1.xml?emailaddress=alice%40example.com"),
            false,
        ),
        (s.url("/good"), false),
    ];
    let attempts =
        autoconfig::lookup_urls(&s.fetcher, &candidates, ADDRESS, Policy::DOCUMENT).await;
    assert_eq!(attempts.len(), 3, "{attempts:#?}");
    assert!(matches!(
        attempts[0].outcome,
        Outcome::FetchFailed(FetchError::Status(404))
    ));
    assert!(matches!(
        attempts[1].outcome,
        Outcome::Invalid(ParseError::Xml(_))
    ));
    let Outcome::Found(config) = &attempts[2].outcome else {
        panic!("{:?}", attempts[2].outcome)
    };
    assert_eq!(config.incoming[0].protocol, Protocol::Imap);
    assert_eq!(config.incoming[0].host, "imap.example.com");
    assert_eq!(config.outgoing[0].security, Security::Tls);
    assert!(attempts.iter().all(|a| !a.plain_http));
}

/// The https candidates are asked at once: the first answers only once the
/// second has been asked. One after the other, the first would time out.
#[tokio::test]
async fn the_https_candidates_are_asked_at_once() {
    let s = setup(secs(3)).await;
    let gate = Arc::new(Notify::new());
    let opener = gate.clone();
    let server = HttpServer::start(Some(s.pki.server(&Leaf::default())), move |target| {
        if target == "/first" {
            return Reply::Gated(gate.clone(), 200, DOCUMENT.into());
        }
        opener.notify_one();
        Reply::Body(404, b"not found".to_vec())
    })
    .await;
    let url = |path: &str| format!("https://127.0.0.1:{}{path}", server.port);
    let candidates = [(url("/first"), false), (url("/second"), false)];
    let attempts =
        autoconfig::lookup_urls(&s.fetcher, &candidates, ADDRESS, Policy::DOCUMENT).await;
    assert!(attempts[0].found(), "{:?}", attempts[0].outcome);
    assert_eq!(
        attempts.len(),
        1,
        "the first candidate's configuration is used"
    );
}

/// The plain-HTTP candidates wait for the https ones, and are asked only if
/// none of those gave a configuration.
#[tokio::test]
async fn plain_http_candidates_are_a_fallback_only() {
    let s = setup(secs(5)).await;
    let http = HttpServer::start(None, route).await;
    let plain = format!("http://127.0.0.1:{}/good", http.port);
    let candidates = [(s.url("/good"), false), (plain.clone(), true)];
    let attempts =
        autoconfig::lookup_urls(&s.fetcher, &candidates, ADDRESS, Policy::DOCUMENT).await;
    assert_eq!(attempts.len(), 1);
    assert!(http.targets().is_empty(), "{:?}", http.targets());
    let candidates = [(s.url("/missing"), false), (plain, true)];
    let attempts =
        autoconfig::lookup_urls(&s.fetcher, &candidates, ADDRESS, Policy::DOCUMENT).await;
    assert_eq!(attempts.len(), 2);
    assert!(attempts[1].found() && attempts[1].plain_http);
}

#[tokio::test]
async fn oversized_body_with_content_length_fails_before_reading() {
    let s = setup(secs(10)).await;
    let f = s.get("/huge-declared").await;
    assert_eq!(f.body, Err(FetchError::TooLarge));
    assert_eq!(f.status, Some(200));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!s.https.log.completed.load(Ordering::SeqCst));
}

#[tokio::test]
async fn oversized_chunked_body_stops_at_the_limit() {
    let s = setup(secs(10)).await;
    let f = s.get("/huge-chunked").await;
    assert_eq!(f.body, Err(FetchError::TooLarge));
    // The client stopped reading: the server could not write its 32 MiB, only
    // what the socket buffers took.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = &s.https.log;
    assert!(!log.completed.load(Ordering::SeqCst));
    assert!(log.body_bytes.load(Ordering::SeqCst) < 32 * 1024 * 1024);
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_is_read() {
    let s = setup(secs(10)).await;
    let f = s.get("/just-fits").await;
    assert_eq!(f.body.map(|b| b.len()), Ok(MAX_BODY));
}

#[tokio::test]
async fn one_redirect_is_followed_and_reported() {
    let s = setup(secs(5)).await;
    let f = s.get("/hop/1").await;
    assert!(f.body.is_ok(), "{:?}", f.body);
    assert_eq!(f.redirects.len(), 1);
    assert_eq!(f.redirects[0].from, s.url("/hop/1"));
    assert_eq!(f.redirects[0].to, s.url("/hop/0"));
    assert_eq!(f.redirects[0].status, 302);
    assert_eq!(f.final_url, s.url("/hop/0"));
}

#[tokio::test]
async fn too_many_redirects_are_refused() {
    let s = setup(secs(5)).await;
    let f = s.get("/hop/5").await;
    assert_eq!(
        f.body,
        Err(FetchError::TooManyRedirects {
            limit: MAX_REDIRECTS,
            refused: Redirect {
                from: s.url("/hop/2"),
                status: 302,
                to: s.url("/hop/1")
            }
        })
    );
    assert_eq!(f.redirects.len(), MAX_REDIRECTS);
    assert_eq!(f.status, Some(302));
    assert!(!s.https.targets().contains(&"/hop/1".to_owned()));
}

#[tokio::test]
async fn a_policy_of_no_redirects_reads_the_first_location_only() {
    let s = setup(secs(5)).await;
    let policy = Policy {
        max_redirects: 0,
        ..Policy::DOCUMENT
    };
    let f = s
        .fetcher
        .request(&s.url("/hop/1"), &Method::Get, policy)
        .await;
    let Err(FetchError::TooManyRedirects { limit: 0, refused }) = &f.body else {
        panic!("{:?}", f.body)
    };
    assert_eq!(refused.to, s.url("/hop/0"));
    assert!(f.redirects.is_empty());
    assert_eq!(
        s.https.targets(),
        ["/hop/1"],
        "the redirect was not followed"
    );
}

#[tokio::test]
async fn redirects_to_other_schemes_are_refused() {
    let s = setup(secs(5)).await;
    let f = s.get("/to-file").await;
    assert!(
        matches!(&f.body, Err(FetchError::BadUrl { url, .. }) if url == "file:///etc/passwd"),
        "{:?}",
        f.body
    );
    assert!(f.redirects.is_empty());
}

#[tokio::test]
async fn a_redirect_to_plain_http_is_flagged() {
    let s = setup(secs(5)).await;
    let http = HttpServer::start(None, route).await;
    let plain = format!("http://127.0.0.1:{}/good", http.port);
    let https = HttpServer::start(Some(s.pki.server(&Leaf::default())), move |_: &str| {
        Reply::Redirect(301, plain.clone())
    })
    .await;
    let url = format!("https://127.0.0.1:{}/start", https.port);
    let attempts =
        autoconfig::lookup_urls(&s.fetcher, &[(url, false)], ADDRESS, Policy::DOCUMENT).await;
    let a: &Attempt = &attempts[0];
    assert!(matches!(a.outcome, Outcome::Found(_)), "{:?}", a.outcome);
    assert!(a.plain_http, "an HTTPS→HTTP redirect must be reported");
    assert_eq!(a.redirects.len(), 1);
}

#[tokio::test]
async fn an_https_only_request_refuses_the_downgrade() {
    let s = setup(secs(5)).await;
    let http = HttpServer::start(None, route).await;
    let plain = format!("http://127.0.0.1:{}/good", http.port);
    let to = plain.clone();
    let https = HttpServer::start(Some(s.pki.server(&Leaf::default())), move |_: &str| {
        Reply::Redirect(301, to.clone())
    })
    .await;
    let url = format!("https://127.0.0.1:{}/start", https.port);
    let f = s
        .fetcher
        .request(&url, &Method::Get, Policy::HTTPS_ONLY)
        .await;
    assert_eq!(
        f.body,
        Err(FetchError::Downgrade {
            from: url.clone(),
            to: plain
        })
    );
    assert!(f.redirects.is_empty() && !f.plain_http);
    assert!(http.targets().is_empty(), "nothing sent over plain HTTP");
}

/// Autoconfig at the MX host's base domain is asked over https or not at all
/// (`lookup_at_mx`): a redirect to plain HTTP is refused, and the plain-HTTP
/// server hears nothing (not the address in the query either).
#[tokio::test]
async fn an_https_only_lookup_refuses_a_redirect_to_plain_http() {
    let s = setup(secs(5)).await;
    let http = HttpServer::start(None, route).await;
    let plain = format!("http://127.0.0.1:{}/good", http.port);
    let https = HttpServer::start(Some(s.pki.server(&Leaf::default())), move |t: &str| {
        Reply::Redirect(
            301,
            format!("{plain}?{}", t.split_once('?').map_or("", |(_, q)| q)),
        )
    })
    .await;
    let url = format!(
        "https://127.0.0.1:{}/start?emailaddress=alice%40example.com",
        https.port
    );
    let attempts =
        autoconfig::lookup_urls(&s.fetcher, &[(url, false)], ADDRESS, Policy::HTTPS_ONLY).await;
    assert!(
        matches!(
            attempts[0].outcome,
            Outcome::FetchFailed(FetchError::Downgrade { .. })
        ),
        "{:?}",
        attempts[0].outcome
    );
    assert!(!attempts[0].plain_http);
    assert!(http.targets().is_empty(), "nothing sent over plain HTTP");
}

#[tokio::test]
async fn plain_http_candidates_are_flagged() {
    let s = setup(secs(5)).await;
    let http = HttpServer::start(None, route).await;
    let url = format!("http://127.0.0.1:{}/good", http.port);
    let attempts =
        autoconfig::lookup_urls(&s.fetcher, &[(url, true)], ADDRESS, Policy::DOCUMENT).await;
    assert!(matches!(attempts[0].outcome, Outcome::Found(_)));
    assert!(attempts[0].plain_http);
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let s = setup(secs(1)).await;
    let f = s.get("/slow").await;
    assert_eq!(f.body, Err(FetchError::Timeout(secs(1))));
    assert!(f.duration < secs(3), "{:?}", f.duration);
}

#[tokio::test]
async fn an_untrusted_certificate_fails() {
    let s = setup(secs(5)).await;
    let stranger = Pki::new("Someone Else");
    let other = HttpServer::start(Some(stranger.server(&Leaf::default())), route).await;
    let f = s
        .fetcher
        .fetch(&format!("https://127.0.0.1:{}/good", other.port))
        .await;
    let Err(FetchError::Request(message)) = &f.body else {
        panic!("{:?}", f.body)
    };
    assert!(message.contains("certificate"), "{message}");
    assert!(
        other.targets().is_empty(),
        "no request over an unverified session"
    );
}

#[tokio::test]
async fn a_missing_ca_file_is_a_setup_error() {
    let resolver = servfail_resolver().await;
    let err = Fetcher::new(resolver, Some(Path::new("/nonexistent/ca.pem")), secs(1))
        .err()
        .unwrap();
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

#[tokio::test]
async fn names_are_resolved_through_the_given_dns_server() {
    let s = setup(secs(5)).await;
    let f = s
        .fetcher
        .fetch(&format!(
            "https://autoconfig.example.com:{}/good",
            s.https.port
        ))
        .await;
    let Err(FetchError::Request(message)) = &f.body else {
        panic!("{:?}", f.body)
    };
    assert!(
        message.contains("autoconfig.example.com: the DNS server answered Server Failure"),
        "{message}"
    );
}

// The real test zone (dnsmasq at 127.0.0.2, started by scripts/test-servers.sh):
// `loopback1.mailcheck.test` has A 127.0.0.1, where the test server listens.

fn zone_resolver(servers: &Servers) -> Arc<Resolver> {
    let addr: SocketAddr = servers.dns().parse().unwrap();
    Arc::new(Resolver::new(Some(addr), secs(3)).unwrap())
}

#[tokio::test]
async fn a_name_from_the_test_zone_reaches_the_server() {
    let servers = Servers::get();
    let pki = Pki::new("Autoconfig Zone CA");
    let leaf = Leaf {
        names: &["loopback1.mailcheck.test"],
        ..Leaf::default()
    };
    let https = HttpServer::start(Some(pki.server(&leaf)), route).await;
    let fetcher = Fetcher::new(zone_resolver(&servers), Some(pki.ca_file.path()), secs(5)).unwrap();
    let url = format!(
        "https://loopback1.mailcheck.test:{}/mail/config-v1.1.xml?emailaddress=alice%40mailcheck.test",
        https.port
    );
    let attempts = autoconfig::lookup_urls(
        &fetcher,
        &[(url, false)],
        "alice@mailcheck.test",
        Policy::DOCUMENT,
    )
    .await;
    let Outcome::Found(config) = &attempts[0].outcome else {
        panic!("{:?}", attempts[0].outcome)
    };
    assert_eq!(config.incoming[0].host, "imap.mailcheck.test");
    assert_eq!(
        https.targets(),
        ["/mail/config-v1.1.xml?emailaddress=alice%40mailcheck.test"]
    );
}

#[tokio::test]
async fn lookup_tries_all_four_urls_when_none_resolves() {
    let servers = Servers::get();
    let fetcher = Fetcher::new(zone_resolver(&servers), None, secs(5)).unwrap();
    let attempts = autoconfig::lookup(&fetcher, "mailcheck.test", "alice@mailcheck.test").await;
    let urls: Vec<(&str, bool)> = attempts
        .iter()
        .map(|a| (a.url.as_str(), a.plain_http))
        .collect();
    assert_eq!(
        urls,
        [
            (
                "https://autoconfig.mailcheck.test/mail/config-v1.1.xml?emailaddress=alice%40mailcheck.test",
                false
            ),
            (
                "https://mailcheck.test/.well-known/autoconfig/mail/config-v1.1.xml",
                false
            ),
            (
                "http://autoconfig.mailcheck.test/mail/config-v1.1.xml?emailaddress=alice%40mailcheck.test",
                true
            ),
            (
                "http://mailcheck.test/.well-known/autoconfig/mail/config-v1.1.xml",
                true
            ),
        ]
    );
    for a in &attempts {
        let Outcome::FetchFailed(FetchError::Request(message)) = &a.outcome else {
            panic!("{}: {:?}", a.url, a.outcome)
        };
        assert!(message.contains("mailcheck.test: the "), "{message}");
    }
    let Outcome::FetchFailed(FetchError::Request(first)) = &attempts[0].outcome else {
        unreachable!()
    };
    assert!(first.contains("NXDOMAIN"), "{first}");
}
