//! What a scrape asks to probe, and the patterns that say what may be probed
//! (the exporter's `allow` list, a module's `targets`). Both sides are kept in
//! one normal form — host names lower-case, without a trailing dot, IPv6 without
//! brackets, international names in their ASCII (IDNA, RFC 5891) form — so that
//! `Mail.Example.COM.`, `[::1]` or `bücher.example` match the pattern an
//! operator wrote however either side was spelt.

use crate::config::{UsageError, validate_host};
use crate::model::address::{self, Address};

/// What a scrape asks to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An address: its servers are discovered.
    Address(Address),
    /// A host (normal form): every protocol on it.
    Host(String),
}

impl Target {
    /// Parses a `target=` value: an address if it has an '@', else a host name or
    /// IP address. Anything else (an option, a URL) is refused.
    pub fn parse(s: &str) -> Result<Target, UsageError> {
        if s.contains('@') {
            Ok(Target::Address(address::parse(s)?))
        } else {
            host(s, "target").map(Target::Host)
        }
    }

    /// The target as typed (an address) or in normal form (a host).
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Target::Address(a) => &a.input,
            Target::Host(h) => h,
        }
    }

    /// The normal form patterns are compared with: a host as [`Target::Host`]
    /// holds it, an address as `local@domain` with the domain in ASCII and
    /// everything lower-case.
    #[must_use]
    pub fn normal(&self) -> String {
        match self {
            Target::Address(a) => normal_address(a),
            Target::Host(h) => h.clone(),
        }
    }
}

fn normal_address(a: &Address) -> String {
    format!("{}@{}", a.local.to_lowercase(), a.domain_ascii)
}

/// A host name or IP address in normal form: what [`validate_host`] returns,
/// after an international name is turned into its ASCII form.
fn host(s: &str, what: &str) -> Result<String, UsageError> {
    let first = validate_host(s, what);
    if first.is_ok() {
        return first;
    }
    match idna::domain_to_ascii(s.trim_end_matches('.')) {
        Ok(ascii) => validate_host(&ascii, what).or(first),
        Err(_) => first,
    }
}

/// One pattern, in normal form.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `*`: anything.
    Any,
    /// `mail.example.com`: that host.
    Host(String),
    /// `*.example.com`: any name below it (held as `.example.com`).
    Below(String),
    /// `alice@example.com`: that address.
    Address(String),
    /// `*@example.com`: any address at that domain (held as `example.com`).
    AtDomain(String),
}

impl Pattern {
    fn parse(item: &str, key: &str) -> Result<Pattern, UsageError> {
        let item = item.trim();
        let bad = || {
            UsageError(format!(
                "{key}: {item:?} is not a target pattern; expected a host, an address, \
                 \"*.example.com\", \"*@example.com\" or \"*\""
            ))
        };
        if item == "*" {
            return Ok(Pattern::Any);
        }
        if let Some(domain) = item.strip_prefix("*.") {
            let d = host(domain, key).map_err(|_| bad())?;
            return Ok(Pattern::Below(format!(".{d}")));
        }
        if let Some(domain) = item.strip_prefix("*@") {
            let a = address::parse(&format!("postmaster@{domain}")).map_err(|_| bad())?;
            return Ok(Pattern::AtDomain(a.domain_ascii));
        }
        match Target::parse(item).map_err(|_| bad())? {
            Target::Address(a) => Ok(Pattern::Address(normal_address(&a))),
            Target::Host(h) => Ok(Pattern::Host(h)),
        }
    }

    fn matches(&self, target: &Target) -> bool {
        match (self, target) {
            (Pattern::Any, _) => true,
            (Pattern::Host(p), Target::Host(h)) => p == h,
            (Pattern::Below(suffix), Target::Host(h)) => h.ends_with(suffix.as_str()),
            (Pattern::Address(p), Target::Address(a)) => *p == normal_address(a),
            (Pattern::AtDomain(d), Target::Address(a)) => *d == a.domain_ascii,
            _ => false,
        }
    }
}

/// A list of target patterns: exact hosts or addresses, `*.example.com` (any
/// name below it), `*@example.com` (any address at it), or `*` (anything).
#[derive(Debug, Clone)]
pub struct Allow(Vec<Pattern>);

impl Allow {
    /// Parses the items of the list `key` (named in messages).
    pub fn parse(items: &[String], key: &str) -> Result<Allow, UsageError> {
        items
            .iter()
            .map(|i| Pattern::parse(i, key))
            .collect::<Result<_, _>>()
            .map(Allow)
    }

    /// Whether `target` matches a pattern of the list.
    #[must_use]
    pub fn permits(&self, target: &Target) -> bool {
        self.0.iter().any(|p| p.matches(target))
    }

    /// Whether the list holds `*`.
    #[must_use]
    pub fn any(&self) -> bool {
        self.0.contains(&Pattern::Any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(items: &[&str]) -> Allow {
        Allow::parse(
            &items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            "allow",
        )
        .unwrap()
    }

    #[test]
    fn the_allow_list_matches_hosts_and_addresses() {
        let allow = allow(&[
            "*.example.com",
            "*@example.org",
            "mail.example.net",
            "bob@example.net",
        ]);
        let ok = |s: &str| allow.permits(&Target::parse(s).unwrap());
        assert!(ok("imap.example.com") && ok("MAIL.Example.COM"));
        assert!(!ok("example.com"), "*.example.com is the names below it");
        assert!(!ok("evil-example.com"));
        assert!(ok("alice@example.org") && !ok("alice@sub.example.org"));
        assert!(ok("mail.example.net") && !ok("imap.example.net"));
        assert!(ok("bob@example.net") && !ok("alice@example.net"));
        assert!(
            !ok("alice@example.com"),
            "host patterns do not cover addresses"
        );
    }

    #[test]
    fn both_sides_are_compared_in_normal_form() {
        let allow = allow(&[
            "Mail.Example.NET.",
            "[::1]",
            "*.bücher.example",
            "*@Bücher.Example",
            "Bob@Example.NET.",
        ]);
        let ok = |s: &str| allow.permits(&Target::parse(s).unwrap());
        assert!(ok("mail.example.net") && ok("mail.example.net."));
        assert!(ok("::1") && ok("[::1]"));
        assert!(ok("imap.xn--bcher-kva.example") && ok("imap.bücher.example"));
        assert!(ok("jörg@xn--bcher-kva.example") && ok("jörg@bücher.example."));
        assert!(ok("bob@example.net") && ok("BOB@example.net."));
        assert!(!ok("bücher.example"), "only names below it");
        assert_eq!(
            Target::parse("Imap.Bücher.Example.").unwrap(),
            Target::Host("imap.xn--bcher-kva.example".into())
        );
    }

    #[test]
    fn targets_cannot_smuggle_options() {
        for bad in ["--ca-file=/etc/passwd", "-4", "http://x", "a b", ""] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        for bad in ["-x", "*.", "*@", "**", "*.a b"] {
            let e = Allow::parse(&[bad.to_owned()], "allow").unwrap_err().0;
            assert!(e.contains("not a target pattern"), "{bad}: {e}");
        }
    }
}
