//! Target `autoconfig`: [`autoconfig::parse`], the reader of the config-v1.1
//! documents a mail domain's web server hands out.
//!
//! Input: text; its first line is the address the placeholders stand for, the
//! rest is the document.
//!
//! Invariants: what parses names only IMAP or POP3 servers as incoming and SMTP
//! servers as outgoing, each with a port from 1 to 65535 and a host name that
//! is letters, digits, dots, hyphens and underscores (at most 253) or a
//! bracketed IPv6 literal, whatever the placeholders expanded to; and the
//! result is at most a few times the size of the input.

use mailcheck::discover::autoconfig;
use mailcheck::model::Protocol;

use super::dialogue::ADDRESS;

/// Runs one input.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (address, xml) = text.split_once('\n').unwrap_or((ADDRESS, &text));
    let Ok(config) = autoconfig::parse(xml, address) else {
        return;
    };
    for (settings, allowed) in [
        (&config.incoming, &[Protocol::Imap, Protocol::Pop3][..]),
        (&config.outgoing, &[Protocol::Smtp][..]),
    ] {
        for setting in settings {
            assert!(allowed.contains(&setting.protocol), "{setting:?}");
            assert_ne!(setting.port, 0, "{setting:?}");
            assert!(is_host(&setting.host), "{setting:?}");
        }
    }
    let kept = serde_json::to_string(&config)
        .expect("a configuration serialises")
        .len();
    assert!(
        kept <= 8 * data.len() + 4096,
        "{kept} bytes from {}",
        data.len()
    );
}

fn is_host(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    (1..=253).contains(&host.len())
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}
