//! Microsoft Autodiscover: how Outlook finds a mailbox's servers, and how a
//! custom domain on Microsoft 365 is recognised.
//!
//! The places asked (MS-OXDSCLI §3.1.5 and the Exchange "Autodiscover for
//! Exchange" page; Thunderbird's `ExchangeAutoDiscover` does the same):
//!
//! 1. the JSON service, `https://autodiscover.<domain>/autodiscover/autodiscover.json/v1.0/<address>?Protocol=AutodiscoverV1`
//!    ([`json`]): where the POX service is;
//! 2. the POX service ([`pox`]), POSTed to at `https://autodiscover.<domain>/autodiscover/autodiscover.xml`
//!    and `https://<domain>/autodiscover/autodiscover.xml`;
//! 3. a plain-HTTP GET of `http://autodiscover.<domain>/autodiscover/autodiscover.xml`,
//!    whose redirect (to an https URL only) names another POX service;
//! 4. the SRV record `_autodiscover._tcp.<domain>`, whose target names one too.
//!
//! All four steps run at once, and the URL each of 1, 3 and 4 names is asked
//! as in 2 as soon as that step has named it. MS-OXDSCLI lists the places in an
//! order of preference, not an order of waiting: every place's answer is
//! reported and the order of trust decides between them (docs/discovery.md),
//! so asking at once changes only the time taken, at most about two fetch
//! timeouts plus any POX answer redirects. Every request goes through
//! the bounded fetcher ([`super::fetch`]: size, redirects, time); a POX
//! answer may also redirect by itself (`redirectUrl`, `redirectAddr`), followed
//! at most [`MAX_ANSWER_REDIRECTS`] times. Redirects to another domain are
//! reported as such; a URL learnt over plain HTTP or from DNS could have been
//! forged, and the report says so. No password is ever sent: a service that
//! wants one (HTTP 401, as Exchange Online does) is reported, and if its host
//! belongs to a known provider ([`providers::by_autodiscover_host`]), that
//! provider's published settings are proposed.

pub mod json;
pub mod pox;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::{OptionFuture, join_all};

use super::cutoff::Cut;
use super::fetch::{FetchError, Fetched, Fetcher, Method, Policy, is_https};
use super::providers::{self, Provider};
use crate::net::resolve::Resolver;
use crate::report::{SourceKind, SourceReport};

/// How many `redirectUrl`/`redirectAddr` answers one attempt follows.
pub const MAX_ANSWER_REDIRECTS: usize = 2;

/// The URLs and names asked; [`Plan::for_domain`] is what clients ask, tests
/// build their own to point at local servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The JSON service's URL (step 1).
    pub json: Option<String>,
    /// The POX services asked directly (step 2), in order.
    pub pox: Vec<String>,
    /// The plain-HTTP URL whose redirect is followed (step 3).
    pub http_redirect: Option<String>,
    /// The SRV name looked up (step 4).
    pub srv: Option<String>,
}

impl Plan {
    /// The places Outlook and Thunderbird ask for `address` at `domain`
    /// (normalised: [`crate::model::Address::domain_ascii`]).
    #[must_use]
    pub fn for_domain(domain: &str, address: &str) -> Plan {
        let pox = |host: &str| format!("https://{host}/autodiscover/autodiscover.xml");
        Plan {
            json: Some(json::url(
                &format!("https://autodiscover.{domain}"),
                address,
            )),
            pox: vec![pox(&format!("autodiscover.{domain}")), pox(domain)],
            http_redirect: Some(format!(
                "http://autodiscover.{domain}/autodiscover/autodiscover.xml"
            )),
            srv: Some(format!("_autodiscover._tcp.{domain}")),
        }
    }
}

/// What Autodiscover found: one report per place asked, in the order above,
/// and the provider whose Autodiscover service answered, if one did.
#[derive(Debug, Clone)]
pub struct Found {
    /// Every request and lookup, in words.
    pub reports: Vec<SourceReport>,
    /// A provider recognised by where its Autodiscover service is, and which
    /// source showed it.
    pub provider: Option<(&'static Provider, SourceKind)>,
}

/// Where a POX URL came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Direct,
    Json,
    HttpRedirect,
    Srv,
}

/// A POX URL to ask, where it came from, and whether plain HTTP carried it (a
/// URL learnt over plain HTTP could have been forged, and so could whatever its
/// service answers).
struct Pointer {
    url: String,
    origin: Origin,
    plain_http: bool,
}

impl Pointer {
    fn direct(url: &str) -> Pointer {
        Pointer {
            url: url.to_owned(),
            origin: Origin::Direct,
            plain_http: false,
        }
    }
}

/// One place asked: its report, and the provider its Autodiscover host
/// belongs to, if known.
struct Asked {
    report: SourceReport,
    provider: Option<&'static Provider>,
}

impl Asked {
    fn new(kind: SourceKind, query: String) -> Asked {
        Asked {
            report: SourceReport::new(kind, query),
            provider: None,
        }
    }
}

/// Asks every place of `plan` for `address` (whose domain is `domain`). A
/// POX service still being asked when discovery's deadline (`cut`) passes is
/// reported cut short, with what it had answered so far; the steps, each one
/// request, end within a timeout anyway.
pub async fn lookup(
    fetcher: &Fetcher,
    resolver: &Resolver,
    plan: &Plan,
    domain: &str,
    address: &str,
    cut: Option<Cut>,
) -> Found {
    let ask = Asker {
        fetcher,
        domain,
        address,
        cut,
    };
    // Each step's POX URL is asked as soon as that step has named it, while the
    // other steps still run; a URL named twice is asked once, for the step
    // that named it first.
    let claimed = Mutex::new(plan.pox.clone());
    let then_pox = |step| ask.then_pox(step, &claimed);
    let json: OptionFuture<_> = plan.json.as_deref().map(|u| then_pox(Step::Json(u))).into();
    let direct = join_all(plan.pox.iter().map(|u| ask.pox(Pointer::direct(u))));
    let redirect: OptionFuture<_> = plan
        .http_redirect
        .as_deref()
        .map(|u| then_pox(Step::HttpRedirect(u)))
        .into();
    let srv: OptionFuture<_> = plan
        .srv
        .as_deref()
        .map(|n| then_pox(Step::Srv(resolver, n)))
        .into();
    let (json, direct, redirect, srv) = tokio::join!(json, direct, redirect, srv);
    let (mut asked, pointed): (Vec<Asked>, Vec<Option<Asked>>) =
        [json, redirect, srv].into_iter().flatten().unzip();
    asked.extend(pointed.into_iter().flatten());
    asked.extend(direct);
    let provider = asked
        .iter()
        .find_map(|a| a.provider.map(|p| (p, a.report.kind)));
    Found {
        reports: asked.into_iter().map(|a| a.report).collect(),
        provider,
    }
}

/// What a POX answer leads to.
enum Next {
    /// Nothing more to ask; the words say what came of it.
    Done(String),
    /// Ask again: this URL, for this address.
    Follow(String, String),
}

struct Asker<'a> {
    fetcher: &'a Fetcher,
    domain: &'a str,
    address: &'a str,
    cut: Option<Cut>,
}

/// A step that may name a POX URL (1, 3 and 4 above).
enum Step<'a> {
    Json(&'a str),
    HttpRedirect(&'a str),
    Srv(&'a Resolver, &'a str),
}

impl Asker<'_> {
    /// Runs `step`, then asks the POX URL it named unless `claimed` holds it
    /// already (asked directly, or named by another step first).
    async fn then_pox(
        &self,
        step: Step<'_>,
        claimed: &Mutex<Vec<String>>,
    ) -> (Asked, Option<Asked>) {
        let (kind, query) = match step {
            Step::Json(url) => (SourceKind::AutodiscoverJson, url.to_owned()),
            Step::HttpRedirect(url) => (SourceKind::AutodiscoverPox, format!("GET {url}")),
            Step::Srv(_, name) => (SourceKind::AutodiscoverPox, format!("SRV {name}")),
        };
        let run = async {
            match step {
                Step::Json(url) => self.json(url).await,
                Step::HttpRedirect(url) => self.http_redirect(url).await,
                Step::Srv(resolver, name) => srv_target(resolver, name).await,
            }
        };
        let (pointer, asked) = match self.cut {
            Some(cut) => {
                let cut_short = || {
                    let report = cut.report(kind, query);
                    (
                        None,
                        Asked {
                            report,
                            provider: None,
                        },
                    )
                };
                cut.bound(run, cut_short).await
            }
            None => run.await,
        };
        let pointer = pointer.filter(|p| {
            let mut claimed = claimed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let new = !claimed.contains(&p.url);
            if new {
                claimed.push(p.url.clone());
            }
            new
        });
        let pox = match pointer {
            Some(p) => Some(Box::pin(self.pox(p)).await),
            None => None,
        };
        (asked, pox)
    }

    /// Step 1: the JSON service; the POX URL it names. The request stays on
    /// https ([`Policy::HTTPS_ONLY`]): the answer says where the address goes next.
    async fn json(&self, url: &str) -> (Option<Pointer>, Asked) {
        let fetched = self
            .fetcher
            .request(url, &Method::Get, Policy::HTTPS_ONLY)
            .await;
        let mut asked = Self::asked(SourceKind::AutodiscoverJson, url.to_owned(), &fetched);
        let mut pointer = None;
        let mut words = vec![match &fetched.body {
            Err(e) => fetch_words(&fetched, e),
            Ok(body) => match json::parse(body) {
                Ok(json::Answer::Url(u)) => {
                    let words = format!("the POX service is {u}{}", self.recognise(&u, &mut asked));
                    pointer = Some(Pointer {
                        url: u,
                        origin: Origin::Json,
                        plain_http: fetched.plain_http,
                    });
                    words
                }
                Ok(json::Answer::Error(e)) => format!("the service answered {e}"),
                Err(e) => format!("unusable answer: {e}"),
            },
        }];
        words.extend(self.redirects(&fetched, &mut asked));
        asked.report.outcome = words.join("; ");
        (pointer, asked)
    }

    /// Step 3: the plain-HTTP GET; the https URL its redirect names, if any.
    /// Only that first `Location` is read, never followed: the service it
    /// names is asked next, with a POST.
    async fn http_redirect(&self, url: &str) -> (Option<Pointer>, Asked) {
        let first_only = Policy {
            max_redirects: 0,
            ..Policy::DOCUMENT
        };
        let fetched = self.fetcher.request(url, &Method::Get, first_only).await;
        let mut asked = Self::asked(SourceKind::AutodiscoverPox, format!("GET {url}"), &fetched);
        let first = match &fetched.body {
            Err(FetchError::TooManyRedirects { refused, .. }) => Some(refused),
            _ => None,
        };
        let target = first.map(|r| r.to.clone()).filter(|t| is_https(t));
        asked.report.outcome = match (first, &target) {
            (Some(r), Some(t)) => format!(
                "{}{}; learnt over plain HTTP, so it could have been forged on the way",
                r.describe(self.domain),
                self.recognise(t, &mut asked)
            ),
            (Some(r), None) => format!(
                "redirects ({}) to {}, which is not https: not followed",
                r.status, r.to
            ),
            (None, _) => match &fetched.body {
                Err(e) => fetch_words(&fetched, e),
                Ok(_) => "no redirect to an Autodiscover service".into(),
            },
        };
        // The redirect's target names the provider, not a settings answer.
        asked.report.settings.clear();
        let pointer = target.map(|url| Pointer {
            url,
            origin: Origin::HttpRedirect,
            plain_http: fetched.plain_http,
        });
        (pointer, asked)
    }

    /// Step 2 and the pointers: one POX service, following its answer's
    /// redirects at most [`MAX_ANSWER_REDIRECTS`] times.
    async fn pox(&self, pointer: Pointer) -> Asked {
        let started = Instant::now();
        let query = format!("POST {}", pointer.url);
        let mut asked = Asked::new(SourceKind::AutodiscoverPox, query);
        asked.report.plain_http = pointer.plain_http;
        let mut words: Vec<String> = Vec::new();
        if pointer.origin == Origin::Srv {
            words.push("URL from an SRV record (unauthenticated DNS)".into());
        }
        let hops = Box::pin(self.pox_hops(pointer.url, &mut asked, &mut words));
        match self.cut {
            Some(cut) => {
                if !cut
                    .bound(
                        async {
                            hops.await;
                            true
                        },
                        || false,
                    )
                    .await
                {
                    words.push(cut.words());
                }
            }
            None => hops.await,
        }
        if asked.report.plain_http && !asked.report.settings.is_empty() {
            words.push(
                "plain HTTP was involved, so the settings could have been forged on the way".into(),
            );
        }
        words.retain(|w| !w.is_empty());
        asked.report.outcome = words.join("; ");
        asked.report.duration_ms = started.elapsed().as_millis() as u64;
        asked
    }

    /// The POSTs of one POX attempt: the first, then each answer's redirect,
    /// at most [`MAX_ANSWER_REDIRECTS`] times.
    async fn pox_hops(&self, first: String, asked: &mut Asked, words: &mut Vec<String>) {
        let (mut url, mut address) = (first, self.address.to_owned());
        for hop in 0..=MAX_ANSWER_REDIRECTS {
            match self.pox_once(&url, &address, asked, words).await {
                Next::Done(last) => {
                    words.push(last);
                    break;
                }
                Next::Follow(..) if hop == MAX_ANSWER_REDIRECTS => {
                    words.push(format!(
                        "more than {MAX_ANSWER_REDIRECTS} redirecting answers"
                    ));
                }
                Next::Follow(next_url, next_address) => {
                    words.push(format!(
                        "the answer redirects to {next_url} for {next_address}"
                    ));
                    (url, address) = (next_url, next_address);
                }
            }
        }
    }

    /// One POST and what its answer leads to. It stays on https
    /// ([`Policy::HTTPS_ONLY`]): the body carries the address.
    async fn pox_once(
        &self,
        url: &str,
        address: &str,
        asked: &mut Asked,
        words: &mut Vec<String>,
    ) -> Next {
        let method = Method::Post {
            body: pox::request_body(address),
            content_type: "text/xml; charset=utf-8",
        };
        let fetched = self.fetcher.request(url, &method, Policy::HTTPS_ONLY).await;
        asked.report.plain_http |= fetched.plain_http;
        words.extend(self.redirects(&fetched, asked));
        let final_recognised = self.recognise(&fetched.final_url, asked);
        match &fetched.body {
            Err(e) => Next::Done(format!("{}{final_recognised}", fetch_words(&fetched, e))),
            Ok(body) => Self::answer(body, address, &mut asked.report),
        }
    }

    /// Reads a POX answer: settings go into the report; a redirect gives the
    /// next URL and address.
    fn answer(body: &[u8], address: &str, report: &mut SourceReport) -> Next {
        let Ok(xml) = std::str::from_utf8(body) else {
            return Next::Done("unusable answer: not UTF-8".into());
        };
        let answer = match pox::parse(xml, address) {
            Ok(a) => a,
            Err(e) => return Next::Done(format!("unusable answer: {e}")),
        };
        match answer {
            pox::Answer::Settings { settings, skipped } => {
                let mut words = format!("{} server settings", settings.len());
                if !skipped.is_empty() {
                    words = format!(
                        "{words} (also {}, which mailcheck does not probe)",
                        skipped.join(", ")
                    );
                }
                report.settings = settings;
                Next::Done(words)
            }
            pox::Answer::RedirectUrl(u) if is_https(&u) => Next::Follow(u, address.to_owned()),
            pox::Answer::RedirectUrl(u) => Next::Done(format!(
                "the answer redirects to {u}, which is not https: not followed"
            )),
            pox::Answer::RedirectAddr(a) => match a.rsplit_once('@') {
                Some((_, d)) if !d.is_empty() && !d.contains('/') => Next::Follow(
                    format!(
                        "https://autodiscover.{}/autodiscover/autodiscover.xml",
                        super::domain::normalise(d)
                    ),
                    a.clone(),
                ),
                _ => Next::Done(format!(
                    "the answer redirects to {a:?}, which is not an address"
                )),
            },
            pox::Answer::Error(e) => Next::Done(format!("the service answered {e}")),
        }
    }

    /// If `url`'s host is a known provider's Autodiscover service, remember the
    /// provider (proposing its published settings if the answer gave none) and
    /// say so.
    fn recognise(&self, url: &str, asked: &mut Asked) -> String {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        let Some(p) = providers::by_autodiscover_host(&host) else {
            return String::new();
        };
        if asked.report.settings.is_empty() {
            asked.report.settings = p.settings_for(self.address);
        }
        asked.provider = Some(p);
        format!(
            " ({}'s Autodiscover service: its published settings apply)",
            p.name
        )
    }

    fn asked(kind: SourceKind, query: String, fetched: &Fetched) -> Asked {
        let mut asked = Asked::new(kind, query);
        asked.report.duration_ms = fetched.duration.as_millis() as u64;
        asked.report.plain_http = fetched.plain_http;
        asked
    }

    /// Every HTTP redirect of a fetch in words (another domain said so).
    fn redirects(&self, fetched: &Fetched, asked: &mut Asked) -> Vec<String> {
        fetched
            .redirects
            .iter()
            .map(|r| {
                format!(
                    "{}{}",
                    r.describe(self.domain),
                    self.recognise(&r.to, asked)
                )
            })
            .collect()
    }
}

/// A failed fetch in words; a 401 says what it means here.
fn fetch_words(fetched: &Fetched, e: &FetchError) -> String {
    match e {
        FetchError::Status(401) => format!(
            "HTTP 401: {} wants the mailbox's password before it answers (mailcheck sends none to discovery)",
            fetched.final_url
        ),
        other => other.to_string(),
    }
}

/// Step 4: the SRV record's first usable target (RFC 2782 order), as a POX URL.
async fn srv_target(resolver: &Resolver, name: &str) -> (Option<Pointer>, Asked) {
    let started = Instant::now();
    let mut asked = Asked::new(SourceKind::AutodiscoverPox, format!("SRV {name}"));
    let records = resolver.srv(name).await;
    let target = records
        .as_ref()
        .ok()
        .and_then(|rs| rs.iter().find(|r| r.target != "."));
    let url = target.map(|r| {
        let host = r.target.trim_end_matches('.');
        let url = if r.port == 443 {
            format!("https://{host}/autodiscover/autodiscover.xml")
        } else {
            format!("https://{host}:{}/autodiscover/autodiscover.xml", r.port)
        };
        Pointer {
            url,
            origin: Origin::Srv,
            plain_http: false,
        }
    });
    asked.report.outcome = match (&records, target) {
        (Err(f), _) => f.message.clone(),
        (Ok(_), Some(r)) => format!(
            "{}:{} (priority {}, weight {})",
            r.target.trim_end_matches('.'),
            r.port,
            r.priority,
            r.weight
        ),
        (Ok(_), None) => "no usable target".into(),
    };
    asked.report.duration_ms = Duration::as_millis(&started.elapsed()) as u64;
    (url, asked)
}
