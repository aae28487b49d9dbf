//! Domain names as mail clients reason about them: the registrable ("base")
//! domain of a host by the Public Suffix List, and the parent of an MX host.
//!
//! Thunderbird's account setup asks the ISPDB and autoconfig for the base
//! domain of a domain's MX host and, since Thunderbird 115, for the MX host's
//! parent domain as well (so that `contoso-com.mail.protection.outlook.com`
//! finds `mail.protection.outlook.com`, Microsoft 365, rather than only
//! `outlook.com`). "The last two labels" is wrong for `example.co.uk` or
//! `example.com.au`; the Public Suffix List (<https://publicsuffix.org/>),
//! embedded by the `psl` crate, is what browsers and Thunderbird use.

/// The registrable domain of `host` (`mx1.mail.example.co.uk` →
/// `example.co.uk`), lower case, without a trailing dot; `None` for a public
/// suffix itself, a single label or an IP address.
#[must_use]
pub fn base_domain(host: &str) -> Option<String> {
    let host = normalise(host);
    if host.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    psl::domain_str(&host).map(str::to_owned)
}

/// `host` without its first label, if that is still at or below the base
/// domain (`a.mail.protection.outlook.com` → `mail.protection.outlook.com`);
/// `None` when the host is its own base domain.
#[must_use]
pub fn parent_domain(host: &str) -> Option<String> {
    let host = normalise(host);
    let base = base_domain(&host)?;
    let (_, parent) = host.split_once('.')?;
    (parent.len() >= base.len()).then(|| parent.to_owned())
}

/// The domains the ISPDB is asked for on behalf of an MX host, as Thunderbird
/// does: the parent domain, then the base domain; without repeats and without
/// `domain` itself (asking it again would tell nothing new).
#[must_use]
pub fn mx_lookup_domains(mx_host: &str, domain: &str) -> Vec<String> {
    let domain = normalise(domain);
    let mut out: Vec<String> = Vec::new();
    for d in [parent_domain(mx_host), base_domain(mx_host)]
        .into_iter()
        .flatten()
    {
        if d != domain && !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// Whether two host names belong to the same registrable domain (an HTTP
/// redirect between them stays with the same owner).
#[must_use]
pub fn same_site(a: &str, b: &str) -> bool {
    match (base_domain(a), base_domain(b)) {
        (Some(x), Some(y)) => x == y,
        _ => normalise(a) == normalise(b),
    }
}

/// Lower case, without a trailing dot.
#[must_use]
pub fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_domains_follow_the_public_suffix_list() {
        for (host, base) in [
            ("mx1.mail.hoster.net", "hoster.net"),
            ("hoster.net.", "hoster.net"),
            ("MX.Example.CO.UK", "example.co.uk"),
            ("mail.isp.com.au", "isp.com.au"),
            ("a.b.example.co.jp", "example.co.jp"),
            ("contoso-com.mail.protection.outlook.com", "outlook.com"),
        ] {
            assert_eq!(base_domain(host).as_deref(), Some(base), "{host}");
        }
        for none in ["localhost", "co.uk", "com", "127.0.0.1", "::1", ""] {
            assert_eq!(base_domain(none), None, "{none}");
        }
    }

    #[test]
    fn parent_domains_stop_at_the_base_domain() {
        assert_eq!(
            parent_domain("contoso-com.mail.protection.outlook.com").as_deref(),
            Some("mail.protection.outlook.com")
        );
        assert_eq!(
            parent_domain("mx1.example.co.uk").as_deref(),
            Some("example.co.uk")
        );
        assert_eq!(parent_domain("example.co.uk"), None);
        assert_eq!(parent_domain("localhost"), None);
    }

    #[test]
    fn mx_lookups_ask_the_parent_then_the_base_domain() {
        assert_eq!(
            mx_lookup_domains("contoso-com.mail.protection.outlook.com", "contoso.com"),
            ["mail.protection.outlook.com", "outlook.com"]
        );
        assert_eq!(
            mx_lookup_domains("mx1.hoster.net", "example.com"),
            ["hoster.net"]
        );
        assert!(mx_lookup_domains("mail.example.com", "example.com").is_empty());
        assert!(mx_lookup_domains("localhost", "example.com").is_empty());
    }

    #[test]
    fn same_site_compares_registrable_domains() {
        assert!(same_site("autodiscover.example.co.uk", "example.co.uk"));
        assert!(!same_site("autodiscover.example.co.uk", "other.co.uk"));
        assert!(!same_site(
            "autodiscover.example.com",
            "autodiscover-s.outlook.com"
        ));
        assert!(same_site("127.0.0.1", "127.0.0.1"));
    }
}
