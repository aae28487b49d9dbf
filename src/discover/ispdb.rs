//! Thunderbird's ISPDB online: the same config-v1.1 documents as the snapshot
//! built into mailcheck, served at `https://autoconfig.thunderbird.net/v1.1/<domain>`
//! from the upstream repository's production branch, so it may be newer.
//!
//! Thunderbird's account setup asks it for the address's domain and, for a
//! domain hosted elsewhere, for the MX host's parent and base domains
//! ([`super::domain::mx_lookup_domains`]); mailcheck does the same, through the
//! bounded fetcher ([`super::fetch`]) and autoconfig's parser. The base URL is an
//! option (`--ispdb-url`), so tests point it at a local HTTPS server.

use thiserror::Error;

use super::autoconfig::{self, Attempt};
use super::fetch::{Fetcher, Policy, is_https};

/// Where Thunderbird looks (its `mailnews.auto_config_url` preference).
pub const DEFAULT_URL: &str = "https://autoconfig.thunderbird.net/v1.1/";

/// A base URL that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{url:?} is not a usable ISPDB base URL: {reason} (expected e.g. {DEFAULT_URL})")]
pub struct BadBaseUrl {
    /// What was given.
    pub url: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Checks a base URL (`--ispdb-url`): http or https, a host, no query or
/// fragment; a missing final `/` is added, since the domain is appended.
pub fn base_url(url: &str) -> Result<String, BadBaseUrl> {
    let bad = |reason| BadBaseUrl {
        url: url.to_owned(),
        reason,
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| bad("not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("only http and https are fetched"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad(
            "the domain is appended to the path, so no query or fragment",
        ));
    }
    let mut out = parsed.to_string();
    if !out.ends_with('/') {
        out.push('/');
    }
    Ok(out)
}

/// The URL of `domain`'s document under a checked base URL; `domain` is
/// normalised ([`crate::model::Address::domain_ascii`], or
/// [`super::domain::mx_lookup_domains`] for the MX host's).
#[must_use]
pub fn url_for(base: &str, domain: &str) -> String {
    format!("{base}{domain}")
}

/// The host of a checked base URL: the ISPDB's own domain, against which its
/// redirects are judged ([`super::fetch::Redirect::describe`]).
#[must_use]
pub fn home(base: &str) -> String {
    reqwest::Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Asks the ISPDB at `base` about `domain` for `address` (placeholders); one
/// attempt, reported like an autoconfig attempt.
pub async fn lookup(fetcher: &Fetcher, base: &str, domain: &str, address: &str) -> Attempt {
    let url = url_for(base, domain);
    autoconfig::lookup_url(fetcher, &url, !is_https(&url), address, Policy::DOCUMENT).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked_and_end_in_a_slash() {
        assert_eq!(base_url(DEFAULT_URL).unwrap(), DEFAULT_URL);
        assert_eq!(
            base_url("https://127.0.0.1:8443/v1.1").unwrap(),
            "https://127.0.0.1:8443/v1.1/"
        );
        for (bad, why) in [
            ("autoconfig.thunderbird.net/v1.1/", "not a URL"),
            ("ftp://x.example/", "only http and https"),
            ("https://x.example/v1.1/?x=1", "no query"),
            ("file:///etc/", "only http and https"),
        ] {
            let err = base_url(bad).unwrap_err();
            assert!(err.to_string().contains(why), "{bad}: {err}");
        }
    }
}
