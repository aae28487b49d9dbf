//! Files a domain's administrator can publish so clients find the recommended
//! settings themselves: a Mozilla autoconfig file (config-v1.1.xml, as
//! Thunderbird reads from `autoconfig.<domain>`) and RFC 6186 / RFC 8314 SRV
//! records.

use std::fmt::Write as _;

use crate::model::{Address, Protocol, Security};
use crate::report::Recommendation;
use crate::report::Recommended;

/// What `--export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    /// Mozilla config-v1.1.xml.
    Autoconfig,
    /// RFC 6186 / RFC 8314 SRV zone lines.
    Srv,
}

/// The working settings as a file an administrator can publish, for the
/// address's domain (or, with hosts only, the mail host's parent domain);
/// `None` when nothing worked securely, so there is nothing worth publishing.
#[must_use]
pub fn export(what: Export, rec: &Recommendation, address: Option<&Address>) -> Option<String> {
    let first = rec.incoming.as_ref().or(rec.outgoing.as_ref())?;
    let domain = address.map_or_else(|| parent_domain(&first.host), |a| a.domain_ascii.clone());
    let address = address.map_or_else(|| format!("%EMAILLOCALPART%@{domain}"), Address::ascii);
    Some(match what {
        Export::Autoconfig => export_autoconfig(rec, &address, &domain),
        Export::Srv => export_srv(rec, &domain),
    })
}

/// The mail domain of a host: its parent (mail.example.com → example.com), but
/// never a bare top-level domain.
fn parent_domain(host: &str) -> String {
    let host = host.trim_end_matches('.');
    match host.split_once('.') {
        Some((_, parent)) if parent.contains('.') => parent.to_owned(),
        _ => host.to_owned(),
    }
}

/// A Mozilla autoconfig document (clientConfig version 1.1) for the recommendation.
///
/// The username is `%EMAILADDRESS%` when it is the whole address,
/// `%EMAILLOCALPART%` when it is the part before the @, and the literal name
/// otherwise. Every value is XML-escaped.
#[must_use]
pub fn export_autoconfig(rec: &Recommendation, address: &str, domain: &str) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str("<clientConfig version=\"1.1\">\n");
    let _ = writeln!(x, "  <emailProvider id=\"{}\">", escape(domain));
    let _ = writeln!(x, "    <domain>{}</domain>", escape(domain));
    let _ = writeln!(x, "    <displayName>{}</displayName>", escape(domain));
    let _ = writeln!(
        x,
        "    <displayShortName>{}</displayShortName>",
        escape(domain)
    );
    for (tag, r) in [
        ("incomingServer", &rec.incoming),
        ("outgoingServer", &rec.outgoing),
    ] {
        if let Some(r) = r {
            server(&mut x, tag, r, address);
        }
    }
    x.push_str("  </emailProvider>\n</clientConfig>\n");
    x
}

fn server(x: &mut String, tag: &str, r: &Recommended, address: &str) {
    let kind = match r.protocol {
        Protocol::Pop3 => "pop3",
        Protocol::Imap => "imap",
        Protocol::Smtp => "smtp",
    };
    let socket = match r.security {
        Security::Tls => "SSL",
        Security::StartTls => "STARTTLS",
        Security::Plain => "plain",
    };
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    let username = match r.username.as_deref() {
        None => "%EMAILADDRESS%".to_owned(),
        Some(u) if u.eq_ignore_ascii_case(address) => "%EMAILADDRESS%".to_owned(),
        Some(u) if u == local => "%EMAILLOCALPART%".to_owned(),
        Some(u) => escape(u),
    };
    let auth = if r.authentication.eq_ignore_ascii_case("oauth2") {
        "OAuth2"
    } else {
        "password-cleartext"
    };
    let _ = writeln!(x, "    <{tag} type=\"{kind}\">");
    let _ = writeln!(x, "      <hostname>{}</hostname>", escape(&r.host));
    let _ = writeln!(x, "      <port>{}</port>", r.port);
    let _ = writeln!(x, "      <socketType>{socket}</socketType>");
    let _ = writeln!(x, "      <username>{username}</username>");
    let _ = writeln!(x, "      <authentication>{auth}</authentication>");
    let _ = writeln!(x, "    </{tag}>");
}

/// XML-escapes text and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The SRV service name for a recommended setting (RFC 6186 §3, RFC 8314 §5.1):
/// `_imaps`, `_pop3s`, `_submissions` for implicit TLS; `_imap`, `_pop3`,
/// `_submission` for STARTTLS.
fn service(protocol: Protocol, security: Security) -> &'static str {
    match (protocol, security == Security::Tls) {
        (Protocol::Imap, true) => "_imaps",
        (Protocol::Imap, false) => "_imap",
        (Protocol::Pop3, true) => "_pop3s",
        (Protocol::Pop3, false) => "_pop3",
        (Protocol::Smtp, true) => "_submissions",
        (Protocol::Smtp, false) => "_submission",
    }
}

/// Zone-file lines for the recommended services.
///
/// One live SRV record per recommended setting (priority 0, weight 1). The
/// nothing is said about the other services: a probe knows what works best, not
/// what a domain wants to refuse (RFC 6186 §4's "not offered" records are the
/// administrator's decision).
/// Plain-text settings are never published.
#[must_use]
pub fn export_srv(rec: &Recommendation, domain: &str) -> String {
    let domain = domain.trim_end_matches('.');
    let mut out = format!("; SRV records for {domain} (RFC 6186, RFC 8314), from mailcheck\n");
    for r in [&rec.incoming, &rec.outgoing].into_iter().flatten() {
        if !r.security.is_secure() {
            continue;
        }
        let name = service(r.protocol, r.security);
        let _ = writeln!(
            out,
            "{name}._tcp.{domain}. 3600 IN SRV 0 1 {} {}.",
            r.port,
            r.host.trim_end_matches('.')
        );
    }
    out.push_str(
        "; Only the recommended services are listed; other services that work may be\n\
         ; published too. Say a service is not offered (`0 0 0 .`) only if it is not.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_address_the_domain_is_the_hosts_parent() {
        assert_eq!(parent_domain("mail.example.com."), "example.com");
        assert_eq!(parent_domain("example.com"), "example.com");
        assert_eq!(parent_domain("localhost"), "localhost");
    }

    fn rec() -> Recommendation {
        Recommendation {
            incoming: Some(Recommended {
                protocol: Protocol::Imap,
                host: "imap.example.com".into(),
                port: 993,
                security: Security::Tls,
                username: Some("alice".into()),
                authentication: "normal password".into(),
                login_verified: false,
            }),
            outgoing: Some(Recommended {
                protocol: Protocol::Smtp,
                host: "smtp.example.com".into(),
                port: 587,
                security: Security::StartTls,
                username: Some("alice@example.com".into()),
                authentication: "OAuth2".into(),
                login_verified: false,
            }),
        }
    }

    #[test]
    fn autoconfig_names_servers_with_placeholders_and_escapes() {
        let x = export_autoconfig(&rec(), "alice@example.com", "ex&ample.com");
        assert!(x.contains("<clientConfig version=\"1.1\">"));
        assert!(x.contains("<emailProvider id=\"ex&amp;ample.com\">"));
        assert!(x.contains("<incomingServer type=\"imap\">"));
        assert!(x.contains("<socketType>SSL</socketType>"));
        assert!(x.contains("<username>%EMAILLOCALPART%</username>"));
        assert!(x.contains("<authentication>password-cleartext</authentication>"));
        assert!(x.contains("<socketType>STARTTLS</socketType>"));
        assert!(x.contains("<username>%EMAILADDRESS%</username>"));
        assert!(x.contains("<authentication>OAuth2</authentication>"));
        assert!(roxmltree::Document::parse(&x).is_ok());
    }

    #[test]
    fn srv_lines_for_the_recommended_services_only() {
        let z = export_srv(&rec(), "example.com");
        assert!(z.contains("\n_imaps._tcp.example.com. 3600 IN SRV 0 1 993 imap.example.com.\n"));
        assert!(
            z.contains("\n_submission._tcp.example.com. 3600 IN SRV 0 1 587 smtp.example.com.\n")
        );
        // Regression: suggesting "not offered" for services that work would have
        // an administrator switch off working settings.
        assert!(!z.contains("IN SRV 0 0 0 ."), "{z}");
    }
}
