//! A person at a browser, for the OAuth2 tests: a small HTTP user agent (a
//! cookie jar, redirects, HTML forms) that drives the test authorization
//! server's real pages (oidc-provider's device pages, the login and consent
//! pages of fixtures/oauth/server.mjs) the way a person would click through them.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mailcheck::net::resolve::{Families, Resolver};
use reqwest::Url;

use super::servers::Servers;

/// What the person does on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    /// Allow.
    Allow,
    /// Deny.
    Deny,
}

/// A browser with a cookie jar.
pub struct Browser {
    client: reqwest::Client,
    cookies: BTreeMap<String, String>,
    user: String,
    password: String,
}

/// One page after redirects: where it ended and what it said.
#[derive(Debug)]
pub struct Page {
    /// The final URL.
    pub url: Url,
    /// The status.
    pub status: u16,
    /// The body.
    pub body: String,
}

impl Browser {
    /// A browser trusting the test CA, resolving through the test DNS, signing
    /// in as the test servers' first user.
    pub fn new(s: &Servers) -> Browser {
        let dns = s.dns().parse().expect("DNS address");
        let resolver = Arc::new(Resolver::new(Some(dns), Duration::from_secs(5)).unwrap());
        let (roots, _) = mailcheck::net::tls::root_store(Some(Path::new(s.ca()))).unwrap();
        let client = mailcheck::net::http::client(resolver, Families::V4, roots).unwrap();
        let password = std::fs::read_to_string(s.var("MAILCHECK_TEST_PASSWORD_FILE")).unwrap();
        Browser {
            client,
            cookies: BTreeMap::new(),
            user: s.var("MAILCHECK_TEST_USER").to_owned(),
            password,
        }
    }

    fn remember(&mut self, response: &reqwest::Response) {
        for v in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let Some((name, value)) = v
                .to_str()
                .unwrap_or("")
                .split(';')
                .next()
                .and_then(|c| c.split_once('='))
            else {
                continue;
            };
            let cleared = v
                .to_str()
                .unwrap_or("")
                .to_ascii_lowercase()
                .contains("expires=thu, 01 jan 1970");
            if cleared || value.is_empty() {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_owned(), value.to_owned());
            }
        }
    }

    async fn send(&mut self, url: &Url, form: Option<&[(String, String)]>) -> reqwest::Response {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = match form {
            Some(fields) => {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(fields)
                    .finish();
                self.client
                    .post(url.clone())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
            }
            None => self.client.get(url.clone()),
        };
        if !cookie.is_empty() {
            request = request.header("cookie", cookie);
        }
        let response = tokio::time::timeout(Duration::from_secs(20), request.send())
            .await
            .expect("the page answers within 20 s")
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        self.remember(&response);
        response
    }

    /// Loads `url` (GET, or POST of `form`) and follows redirects (at most 10).
    pub async fn open(&mut self, url: &Url, form: Option<&[(String, String)]>) -> Page {
        let mut response = self.send(url, form).await;
        let mut at = url.clone();
        for _ in 0..10 {
            if !response.status().is_redirection() {
                break;
            }
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            at = at.join(&location).unwrap();
            response = self.send(&at, None).await;
        }
        let status = response.status().as_u16();
        let body = String::from_utf8_lossy(&response.bytes().await.unwrap()).into_owned();
        Page {
            url: at,
            status,
            body,
        }
    }

    /// Clicks through the sign-in from `start` (the device page or the
    /// authorization URL): the code when asked, the device confirmation, the
    /// login form, the consent page. Returns the last page (for the browser flow:
    /// mailcheck's own loopback page).
    pub async fn sign_in(
        &mut self,
        start: &Url,
        user_code: Option<&str>,
        consent: Consent,
    ) -> Page {
        let mut page = self.open(start, None).await;
        for _ in 0..8 {
            let fields: Vec<(String, String)>;
            // The confirmation form carries the code too: look for it first.
            let form = if page.body.contains("op.deviceConfirmForm") {
                fields = Vec::new();
                0
            } else if page.body.contains("name=\"user_code\"") {
                fields = vec![("user_code".into(), user_code.expect("a user code").into())];
                0
            } else if page.body.contains("name=\"password\"") {
                fields = vec![
                    ("login".into(), self.user.clone()),
                    ("password".into(), self.password.clone()),
                ];
                0
            } else if page.body.contains("/confirm\"") {
                // The last page the person acts on.
                let (action, fields) = form_at(&page.body, usize::from(consent == Consent::Deny));
                let target = page.url.join(&action).unwrap();
                return self.open(&target, Some(&fields)).await;
            } else {
                return page;
            };
            let (action, mut all) = form_at(&page.body, form);
            all.extend(fields);
            let target = page.url.join(&action).unwrap();
            page = self.open(&target, Some(&all)).await;
        }
        panic!(
            "the sign-in did not end after 8 pages; last: {} {}",
            page.url, page.body
        );
    }
}

/// The `index`-th form of a page: its action and hidden fields.
fn form_at(body: &str, index: usize) -> (String, Vec<(String, String)>) {
    let start = body
        .match_indices("<form")
        .nth(index)
        .unwrap_or_else(|| panic!("no form {index} in {body}"))
        .0;
    let end = body[start..]
        .find("</form>")
        .map_or(body.len(), |e| start + e);
    let html = &body[start..end];
    let tag_end = html.find('>').unwrap();
    let action = attr(&html[..tag_end], "action").unwrap_or_default();
    let hidden = html
        .match_indices("<input")
        .filter_map(|(i, _)| {
            let tag = &html[i..i + html[i..].find('>')?];
            if attr(tag, "type").as_deref() != Some("hidden") {
                return None;
            }
            Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
        })
        .collect();
    (action.replace("&amp;", "&"), hidden)
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_owned())
}
