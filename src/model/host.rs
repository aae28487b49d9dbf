//! What counts as a host name: one rule for the command line (`--host`) and for
//! the names servers and documents hand mailcheck (autoconfig, Autodiscover).

use std::net::{Ipv4Addr, Ipv6Addr};

/// Whether `name` is a DNS host name: at most 253 characters, an optional root
/// dot, and labels of 1 to 63 letters, digits, hyphens and underscores that
/// neither start nor end with a hyphen (RFC 1123 §2.1; the underscore because
/// real records use it, as in SRV owner names).
#[must_use]
pub fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !name.is_empty() && name.len() <= 253 && name.split('.').all(label_ok)
}

/// Whether `host` can stand for a server in a URL or a `host:port`: a DNS
/// name ([`is_dns_name`]), an IPv4 address, or an IPv6 address in brackets
/// (bare, its colons would read as a port).
#[must_use]
pub fn is_host(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<Ipv6Addr>().is_ok();
    }
    host.parse::<Ipv4Addr>().is_ok() || is_dns_name(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_follow_rfc_1123_labels() {
        for good in [
            "mail.example.com",
            "Mail.Example.COM.",
            "_srv.example",
            "a",
            "x-1.y",
        ] {
            assert!(is_dns_name(good), "{good}");
        }
        let long_label = format!("{}.example", "a".repeat(64));
        let long_name = ["abcdefghi"; 26].join(".");
        for bad in [
            "",
            ".",
            "a..b",
            "-a.example",
            "a-.example",
            "a b",
            "a/b",
            "h:993",
            &long_label,
            &long_name,
        ] {
            assert!(!is_dns_name(bad), "{bad}");
        }
    }

    #[test]
    fn hosts_are_names_or_addresses_with_ipv6_in_brackets() {
        for good in ["mail.example.com", "192.0.2.1", "[::1]", "[2001:db8::1]"] {
            assert!(is_host(good), "{good}");
        }
        for bad in [
            "::1",
            "[not-v6]",
            "[192.0.2.1]",
            "imap.example.com/evil",
            "",
        ] {
            assert!(!is_host(bad), "{bad}");
        }
    }
}
