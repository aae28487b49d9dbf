//! Microsoft Autodiscover against in-process HTTPS (and one plain HTTP) servers
//! on 127.0.0.1 serving recorded real-format answers (fixtures/autodiscover/):
//! the JSON service's pointer, POX settings, HTTP and answer redirects, errors,
//! an oversized answer, silence, malformed XML and JSON, the plain-HTTP
//! redirect step, and Microsoft 365 recognised from its Autodiscover host.
//! Names resolve through a DNS server that answers SERVFAIL to everything, so
//! nothing leaves loopback (the Microsoft host named in a recorded answer is
//! never reached); the last test uses the real test zone (dnsmasq).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use common::http::{HttpServer, Reply};
use common::output::{assert_valid, binary_async, candidate, json, source_kinds};
use common::servers::Servers;
use common::{Leaf, Pki, dns};
use mailcheck::discover::autodiscover::{self, Found, Plan};
use mailcheck::discover::cutoff::Cut;
use mailcheck::discover::fetch::Fetcher;
use mailcheck::model::{Protocol, Security};
use mailcheck::net::resolve::Resolver;
use mailcheck::report::{SourceKind, SourceReport, UsernameForm};

const ADDRESS: &str = "alice@ad.mailcheck.test";
const DOMAIN: &str = "ad.mailcheck.test";

fn fixture(name: &str, base: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/autodiscover")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.replace("@BASE@", base).into_bytes()
}

/// The routes: the path decides the answer.
fn route(base: String) -> impl Fn(&str) -> Reply + Send + Sync + 'static {
    move |target: &str| {
        let path = target.split('?').next().unwrap_or_default();
        let json =
            |name: &str| Reply::Typed(200, "application/json; charset=utf-8", fixture(name, &base));
        if path.starts_with("/autodiscover/autodiscover.json/v1.0/") {
            return json("json-local.json");
        }
        match path {
            "/json/exchange-online" => json("json-exchange-online.json"),
            "/json/invalid-protocol" => Reply::Typed(
                400,
                "application/json",
                fixture("json-invalid-protocol.json", &base),
            ),
            "/json/malformed" => json("json-malformed.json"),
            "/json/error" => json("json-invalid-protocol.json"),
            "/autodiscover/autodiscover.xml" | "/pox/settings" => {
                Reply::Body(200, fixture("pox-settings.xml", &base))
            }
            "/pox/moved" => Reply::Redirect(302, "/pox/settings".into()),
            "/pox/redirect-url" => Reply::Body(200, fixture("pox-redirect-url.xml", &base)),
            "/pox/redirect-addr" => Reply::Body(200, fixture("pox-redirect-addr.xml", &base)),
            "/pox/error" => Reply::Body(200, fixture("pox-error.xml", &base)),
            "/pox/malformed" => Reply::Body(200, fixture("pox-malformed.xml", &base)),
            "/pox/huge" => Reply::Declared(32 * 1024 * 1024),
            "/pox/slow" => Reply::Slow(Duration::from_secs(10)),
            "/pox/password" => Reply::Body(401, Vec::new()),
            _ => Reply::Body(404, b"<html>404</html>".to_vec()),
        }
    }
}

struct Setup {
    pki: Pki,
    https: HttpServer,
    resolver: Arc<Resolver>,
}

impl Setup {
    async fn start() -> Setup {
        let pki = Pki::new("Autodiscover Test CA");
        // The port is only known once bound: bind first, then serve with it.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let base = format!("https://127.0.0.1:{port}");
        let https = HttpServer::start_on(
            &format!("127.0.0.1:{port}"),
            Some(pki.server(&Leaf::default())),
            route(base),
        )
        .await;
        let dns_port = dns::start(dns::Behaviour::ServFail).await;
        let addr: SocketAddr = ([127, 0, 0, 1], dns_port).into();
        let resolver = Arc::new(Resolver::new(Some(addr), Duration::from_secs(2)).unwrap());
        Setup {
            pki,
            https,
            resolver,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.https.port)
    }

    fn fetcher(&self, timeout: Duration) -> Fetcher {
        Fetcher::new(
            self.resolver.clone(),
            Some(self.pki.ca_file.path()),
            timeout,
        )
        .unwrap()
    }

    /// Autodiscover with only these places asked.
    async fn ask(&self, plan: Plan, timeout: Duration) -> Found {
        autodiscover::lookup(
            &self.fetcher(timeout),
            &self.resolver,
            &plan,
            DOMAIN,
            ADDRESS,
            None,
        )
        .await
    }

    async fn pox(&self, paths: &[&str]) -> Found {
        let plan = Plan {
            pox: paths.iter().map(|p| self.url(p)).collect(),
            ..nothing()
        };
        self.ask(plan, Duration::from_secs(5)).await
    }

    /// Only the JSON service at `url`.
    async fn json(&self, url: String, timeout: Duration) -> Found {
        let plan = Plan {
            json: Some(url),
            ..nothing()
        };
        self.ask(plan, timeout).await
    }
}

/// A plan that asks nothing, to fill in.
fn nothing() -> Plan {
    Plan {
        json: None,
        pox: Vec::new(),
        http_redirect: None,
        srv: None,
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test]
async fn the_json_service_points_at_the_pox_service_which_gives_the_settings() {
    let s = Setup::start().await;
    let found = s
        .json(autodiscover::json::url(&s.url(""), ADDRESS), secs(5))
        .await;
    assert_eq!(found.reports.len(), 2, "{:#?}", found.reports);
    let json = &found.reports[0];
    assert_eq!(json.kind, SourceKind::AutodiscoverJson);
    assert!(
        json.outcome
            .contains("the POX service is https://127.0.0.1"),
        "{}",
        json.outcome
    );
    let pox = &found.reports[1];
    assert_eq!(pox.kind, SourceKind::AutodiscoverPox);
    assert_eq!(
        pox.outcome,
        "3 server settings (also EXCH, which mailcheck does not probe)"
    );
    let imap = &pox.settings[0];
    assert_eq!(
        (imap.protocol, imap.host.as_str(), imap.port),
        (Protocol::Imap, "mail.mailcheck.test", 993)
    );
    assert_eq!(imap.security, Security::Tls);
    assert_eq!(imap.username, Some(UsernameForm::Address));
    let smtp = pox
        .settings
        .iter()
        .find(|x| x.protocol == Protocol::Smtp)
        .unwrap();
    assert_eq!((smtp.port, smtp.security), (587, Security::StartTls));
    assert!(found.provider.is_none());
    // The JSON request carried the address; the POX request was a POST with
    // Outlook's request schema.
    let requests = s.https.requests();
    assert!(
        requests[0]
            .1
            .contains("alice@ad.mailcheck.test?Protocol=AutodiscoverV1"),
        "{requests:?}"
    );
    let (method, _, body) = &requests[1];
    assert_eq!(method, "POST");
    assert!(
        body.contains("<EMailAddress>alice@ad.mailcheck.test</EMailAddress>"),
        "{body}"
    );
    assert!(body.contains("outlook/responseschema/2006a"), "{body}");
}

#[tokio::test]
async fn microsoft_365_is_recognised_from_its_autodiscover_host() {
    let s = Setup::start().await;
    let found = s.json(s.url("/json/exchange-online"), secs(3)).await;
    let (provider, via) = found.provider.expect("Microsoft 365 recognised");
    assert_eq!(
        (provider.id.as_str(), via),
        ("microsoft365", SourceKind::AutodiscoverJson)
    );
    let json = &found.reports[0];
    assert!(
        json.outcome
            .contains("Microsoft 365's Autodiscover service"),
        "{}",
        json.outcome
    );
    assert!(
        json.settings
            .iter()
            .any(|x| x.host == "outlook.office365.com")
    );
    // The POX service it named was asked, and could not be reached: its name
    // resolves nowhere here.
    let pox = &found.reports[1];
    assert_eq!(
        pox.query,
        "POST https://autodiscover-s.outlook.com/autodiscover/autodiscover.xml"
    );
    assert!(pox.outcome.contains("DNS"), "{}", pox.outcome);
}

#[tokio::test]
async fn http_redirects_are_followed_with_the_same_post() {
    let s = Setup::start().await;
    let found = s.pox(&["/pox/moved"]).await;
    let r = &found.reports[0];
    assert_eq!(r.settings.len(), 3, "{}", r.outcome);
    assert!(
        r.outcome
            .starts_with("redirected (302) to https://127.0.0.1:"),
        "{}",
        r.outcome
    );
    assert!(
        r.outcome.contains("another domain (127.0.0.1)"),
        "{}",
        r.outcome
    );
    let posts: Vec<_> = s
        .https
        .requests()
        .into_iter()
        .filter(|q| q.0 == "POST")
        .collect();
    assert_eq!(posts.len(), 2);
    assert!(posts.iter().all(|q| q.2.contains("<EMailAddress>")));
}

#[tokio::test]
async fn answer_redirects_are_followed_and_bounded() {
    let s = Setup::start().await;
    let found = s.pox(&["/pox/redirect-url"]).await;
    let r = &found.reports[0];
    assert_eq!(r.settings.len(), 3, "{}", r.outcome);
    assert!(
        r.outcome
            .contains("the answer redirects to https://127.0.0.1"),
        "{}",
        r.outcome
    );
    // redirectAddr: the address's domain is asked next, which resolves nowhere.
    let found = s.pox(&["/pox/redirect-addr"]).await;
    let r = &found.reports[0];
    assert!(
        r.outcome.contains(
            "the answer redirects to https://autodiscover.elsewhere.mailcheck.test/autodiscover/autodiscover.xml for alice@elsewhere.mailcheck.test"
        ),
        "{}",
        r.outcome
    );
    assert!(r.settings.is_empty());
}

#[tokio::test]
async fn errors_401_and_malformed_answers_are_reported_not_trusted() {
    let s = Setup::start().await;
    let found = s
        .pox(&["/pox/error", "/pox/password", "/pox/malformed", "/missing"])
        .await;
    let outcome = |i: usize| found.reports[i].outcome.clone();
    assert!(
        outcome(0).contains("the service answered error 600: Invalid Request"),
        "{}",
        outcome(0)
    );
    assert!(
        outcome(1).starts_with("HTTP 401: https://127.0.0.1"),
        "{}",
        outcome(1)
    );
    assert!(
        outcome(1).contains("mailcheck sends none"),
        "{}",
        outcome(1)
    );
    assert!(
        outcome(2).starts_with("unusable answer: not a well-formed XML document"),
        "{}",
        outcome(2)
    );
    assert_eq!(outcome(3), "the server answered HTTP 404");
    assert!(found.reports.iter().all(|r| r.settings.is_empty()));
    // No request carried credentials: the server saw no Authorization header
    // because none is ever built; the bodies hold the address only.
    assert!(s.https.requests().iter().all(|q| !q.2.contains("assword")));
}

#[tokio::test]
async fn oversized_and_silent_answers_are_cut_off() {
    let s = Setup::start().await;
    let plan = Plan {
        json: Some(s.url("/json/malformed")),
        pox: vec![s.url("/pox/huge"), s.url("/pox/slow")],
        ..nothing()
    };
    let started = std::time::Instant::now();
    let found = s.ask(plan, Duration::from_millis(700)).await;
    assert!(started.elapsed() < secs(5), "bounded by the timeout");
    let by_query =
        |q: &str| -> &SourceReport { found.reports.iter().find(|r| r.query.contains(q)).unwrap() };
    assert!(
        by_query("/json/malformed")
            .outcome
            .starts_with("unusable answer: not an Autodiscover JSON answer")
    );
    assert!(
        by_query("/pox/huge").outcome.contains("larger than"),
        "{}",
        by_query("/pox/huge").outcome
    );
    assert!(
        by_query("/pox/slow")
            .outcome
            .contains("no complete answer within"),
        "{}",
        by_query("/pox/slow").outcome
    );
}

#[tokio::test]
async fn json_errors_are_reported() {
    let s = Setup::start().await;
    let found = s.json(s.url("/json/invalid-protocol"), secs(5)).await;
    assert_eq!(found.reports[0].outcome, "the server answered HTTP 400");
    let found = s.json(s.url("/json/error"), secs(5)).await;
    assert!(
        found.reports[0]
            .outcome
            .starts_with("the service answered InvalidProtocol: The given protocol value"),
        "{}",
        found.reports[0].outcome
    );
    assert_eq!(found.reports.len(), 1, "nothing to follow");
}

/// Discovery's deadline passes while a POX service stays silent: that POST is
/// reported cut short, and what the JSON step had learnt is kept.
#[tokio::test]
async fn the_deadline_cuts_a_silent_pox_service_and_keeps_the_steps() {
    let s = Setup::start().await;
    let pointer = format!(
        r#"{{"Protocol":"AutodiscoverV1","Url":"{}"}}"#,
        s.url("/pox/slow")
    );
    let server = HttpServer::start(Some(s.pki.server(&Leaf::default())), move |_| {
        Reply::Typed(200, "application/json", pointer.clone().into_bytes())
    })
    .await;
    let plan = Plan {
        json: Some(format!("https://127.0.0.1:{}/json", server.port)),
        pox: vec![s.url("/pox/slow")],
        ..nothing()
    };
    let started = std::time::Instant::now();
    let found = autodiscover::lookup(
        &s.fetcher(secs(8)),
        &s.resolver,
        &plan,
        DOMAIN,
        ADDRESS,
        Some(Cut::after(Duration::from_millis(500))),
    )
    .await;
    assert!(started.elapsed() < secs(5), "{:?}", started.elapsed());
    let outcomes: Vec<(&str, &str)> = found
        .reports
        .iter()
        .map(|r| (r.query.as_str(), r.outcome.as_str()))
        .collect();
    assert_eq!(outcomes.len(), 2, "{outcomes:#?}");
    assert!(
        outcomes[0].1.starts_with("the POX service is "),
        "{outcomes:#?}"
    );
    assert!(
        outcomes[1]
            .1
            .starts_with("cut short: discovery's deadline (0.5 s"),
        "{outcomes:#?}"
    );
}

/// The POX service the JSON step names is asked while the plain-HTTP step
/// still waits: that step's server answers only once the POX service has been
/// asked. Asked after every step, the plain-HTTP step would time out.
#[tokio::test]
async fn a_named_pox_service_is_asked_while_the_other_steps_run() {
    let s = Setup::start().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let base = format!("https://127.0.0.1:{port}");
    let gate = Arc::new(Notify::new());
    let opened = gate.clone();
    let pointer = format!(r#"{{"Protocol":"AutodiscoverV1","Url":"{base}/pox"}}"#);
    let settings = fixture("pox-settings.xml", &base);
    let server = HttpServer::start_on(
        &format!("127.0.0.1:{port}"),
        Some(s.pki.server(&Leaf::default())),
        move |target| match target {
            "/json" => Reply::Typed(200, "application/json", pointer.clone().into_bytes()),
            "/pox" => {
                opened.notify_one();
                Reply::Body(200, settings.clone())
            }
            _ => Reply::Gated(gate.clone(), 404, Vec::new()),
        },
    )
    .await;
    let plan = Plan {
        json: Some(format!("{base}/json")),
        http_redirect: Some(format!("{base}/redirect")),
        ..nothing()
    };
    let found = s.ask(plan, secs(3)).await;
    let step = found
        .reports
        .iter()
        .find(|r| r.query.starts_with("GET "))
        .unwrap();
    assert!(step.outcome.contains("HTTP 404"), "{:#?}", found.reports);
    let post = found
        .reports
        .iter()
        .find(|r| r.query == format!("POST {base}/pox"))
        .unwrap();
    assert_eq!(post.settings.len(), 3, "{}", post.outcome);
    assert_eq!(server.targets().len(), 3);
}

#[tokio::test]
async fn the_plain_http_redirect_step_names_an_https_service_and_is_flagged() {
    let s = Setup::start().await;
    let target = s.url("/pox/settings");
    let plain = HttpServer::start(None, move |_| Reply::Redirect(302, target.clone())).await;
    let plan = Plan {
        http_redirect: Some(format!(
            "http://127.0.0.1:{}/autodiscover/autodiscover.xml",
            plain.port
        )),
        srv: Some("_autodiscover._tcp.ad.mailcheck.test".into()),
        ..nothing()
    };
    let found = s.ask(plan, secs(5)).await;
    let get = found
        .reports
        .iter()
        .find(|r| r.query.starts_with("GET http://"))
        .unwrap();
    assert!(
        get.outcome.contains("could have been forged"),
        "{}",
        get.outcome
    );
    let srv = found
        .reports
        .iter()
        .find(|r| r.query.starts_with("SRV "))
        .unwrap();
    assert!(!srv.outcome.is_empty() && srv.settings.is_empty());
    let post = found
        .reports
        .iter()
        .find(|r| r.query == format!("POST {}", s.url("/pox/settings")))
        .unwrap();
    assert!(post.plain_http, "the URL came over plain HTTP");
    assert_eq!(post.settings.len(), 3);
    assert!(
        post.outcome.contains("could have been forged"),
        "{}",
        post.outcome
    );
    // The redirect's target was read from the Location header, not fetched:
    // the service there got the POST alone.
    let methods: Vec<String> = s.https.requests().into_iter().map(|q| q.0).collect();
    assert_eq!(methods, ["POST"]);
}

#[tokio::test]
async fn a_plain_http_redirect_to_plain_http_is_reported_not_followed() {
    let s = Setup::start().await;
    let elsewhere = HttpServer::start(None, route(s.url(""))).await;
    let to = format!("http://127.0.0.1:{}/pox/settings", elsewhere.port);
    let plain = HttpServer::start(None, move |_| Reply::Redirect(301, to.clone())).await;
    let plan = Plan {
        http_redirect: Some(format!(
            "http://127.0.0.1:{}/autodiscover/autodiscover.xml",
            plain.port
        )),
        ..nothing()
    };
    let found = s.ask(plan, secs(5)).await;
    assert_eq!(found.reports.len(), 1, "{:#?}", found.reports);
    let get = &found.reports[0];
    assert_eq!(
        get.outcome,
        format!(
            "redirects (301) to http://127.0.0.1:{}/pox/settings, which is not https: not followed",
            elsewhere.port
        )
    );
    assert!(
        elsewhere.requests().is_empty(),
        "{:?}",
        elsewhere.requests()
    );
}

/// A JSON answer that came over plain HTTP could have been forged, and so could
/// the settings of the POX service it names: both reports say so.
#[tokio::test]
async fn a_json_answer_over_plain_http_marks_the_pox_settings_it_leads_to() {
    let s = Setup::start().await;
    let plain = HttpServer::start(None, route(s.url(""))).await;
    let base = format!("http://127.0.0.1:{}", plain.port);
    let found = s
        .json(autodiscover::json::url(&base, ADDRESS), secs(5))
        .await;
    assert_eq!(found.reports.len(), 2, "{:#?}", found.reports);
    assert!(found.reports[0].plain_http);
    let pox = &found.reports[1];
    assert_eq!(
        pox.query,
        format!("POST {}", s.url("/autodiscover/autodiscover.xml"))
    );
    assert_eq!(pox.settings.len(), 3, "{}", pox.outcome);
    assert!(pox.plain_http, "the POX URL came over plain HTTP");
    assert!(
        pox.outcome.contains("could have been forged"),
        "{}",
        pox.outcome
    );
}

/// An https service redirecting to plain HTTP: for the JSON service, the
/// address in its URL and the pointer in its answer would travel unencrypted.
#[tokio::test]
async fn a_json_service_redirecting_to_plain_http_is_not_followed() {
    let s = Setup::start().await;
    let plain = HttpServer::start(None, route(s.url(""))).await;
    let to = format!(
        "http://127.0.0.1:{}/autodiscover/autodiscover.json/v1.0/{ADDRESS}?Protocol=AutodiscoverV1",
        plain.port
    );
    let https = HttpServer::start(Some(s.pki.server(&Leaf::default())), move |_: &str| {
        Reply::Redirect(302, to.clone())
    })
    .await;
    let url = format!("https://127.0.0.1:{}/json", https.port);
    let found = s.json(url, secs(5)).await;
    assert_eq!(
        found.reports.len(),
        1,
        "nothing to follow: {:#?}",
        found.reports
    );
    let json = &found.reports[0];
    assert!(
        json.outcome.contains("plain HTTP: not followed"),
        "{}",
        json.outcome
    );
    assert!(plain.requests().is_empty(), "{:?}", plain.requests());
}

/// A POX service redirecting to plain HTTP: the POST carries the address, so
/// it is not repeated there.
#[tokio::test]
async fn a_pox_service_redirecting_to_plain_http_gets_no_post() {
    let s = Setup::start().await;
    let plain = HttpServer::start(None, route(s.url(""))).await;
    let to = format!("http://127.0.0.1:{}/pox/settings", plain.port);
    let https = HttpServer::start(Some(s.pki.server(&Leaf::default())), move |_: &str| {
        Reply::Redirect(307, to.clone())
    })
    .await;
    let plan = Plan {
        pox: vec![format!("https://127.0.0.1:{}/pox", https.port)],
        ..nothing()
    };
    let found = s.ask(plan, secs(5)).await;
    let pox = &found.reports[0];
    assert!(
        pox.outcome.contains("plain HTTP: not followed"),
        "{}",
        pox.outcome
    );
    assert!(pox.settings.is_empty());
    assert!(plain.requests().is_empty(), "{:?}", plain.requests());
}

/// The binary against the real test zone: autodiscover.ad.mailcheck.test is
/// 127.0.0.4 there, where this test serves the JSON and POX services on 443.
#[tokio::test(flavor = "multi_thread")]
async fn settings_finds_a_domain_by_autodiscover_alone() {
    let servers = Servers::get();
    let pki = Pki::new("Autodiscover zone CA");
    let tls = pki.server(&Leaf {
        names: &["autodiscover.ad.mailcheck.test"],
        ..Leaf::default()
    });
    let base = "https://autodiscover.ad.mailcheck.test".to_owned();
    let server = HttpServer::start_on("127.0.0.4:443", Some(tls), route(base)).await;
    let out = binary_async(&[
        "settings",
        ADDRESS,
        "--dns-server",
        servers.dns(),
        "--ca-file",
        &pki.ca_path(),
        "--ispdb-url",
        "https://127.0.0.1:9/v1.1/",
        "--json",
        "--timeout",
        "3",
    ])
    .await;
    let doc = json(&out);
    assert_valid("settings.schema.json", &doc);
    let imap = candidate(&doc, "imap", Some(993))
        .unwrap_or_else(|| panic!("IMAP from Autodiscover: {doc}"));
    assert_eq!(imap["host"], "mail.mailcheck.test");
    assert_eq!(imap["sources"][0], "autodiscover_pox");
    let kinds = source_kinds(&doc);
    for kind in ["ispdb", "autodiscover_json", "autodiscover_pox"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind}: {kinds:?}");
    }
    assert!(server.requests().iter().any(|q| q.0 == "POST"));
}

/// How Outlook finds a custom domain on Microsoft 365: its plain-HTTP
/// Autodiscover URL redirects to Exchange Online's. (That host resolves
/// nowhere here, so nothing is sent to it.)
#[tokio::test]
async fn microsoft_365_is_recognised_from_the_plain_http_redirect() {
    let s = Setup::start().await;
    let plain = HttpServer::start(None, |_| {
        Reply::Redirect(
            302,
            "https://autodiscover-s.outlook.com/autodiscover/autodiscover.xml".into(),
        )
    })
    .await;
    let plan = Plan {
        http_redirect: Some(format!(
            "http://127.0.0.1:{}/autodiscover/autodiscover.xml",
            plain.port
        )),
        ..nothing()
    };
    let found = s.ask(plan, secs(3)).await;
    let (provider, _) = found.provider.expect("recognised");
    assert_eq!(provider.id, "microsoft365");
    let get = &found.reports[0];
    assert!(
        get.outcome.contains("another domain (outlook.com)"),
        "{}",
        get.outcome
    );
    assert!(
        get.outcome.contains("could have been forged"),
        "{}",
        get.outcome
    );
    let post = &found.reports[1];
    assert!(post.plain_http);
    assert!(
        post.settings
            .iter()
            .any(|x| x.host == "outlook.office365.com")
    );
}
