//! Merging what the discovery sources proposed: one candidate per setting,
//! keeping every source that proposed it in the order of trust, and the
//! sources' disagreements in words (docs/discovery.md).

use crate::model::Protocol;
use crate::report::{Candidate, Setting, SourceKind, SourceReport};

/// One candidate per (protocol, host, port, security), in the order the most
/// trusted source proposed it.
pub(super) fn merge(sources: &[SourceReport]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut ordered: Vec<&SourceReport> = sources.iter().collect();
    ordered.sort_by_key(|r| r.kind);
    for report in ordered {
        for s in &report.settings {
            let same = |c: &&mut Candidate| {
                (
                    c.setting.protocol,
                    c.setting.host.as_str(),
                    c.setting.port,
                    c.setting.security,
                ) == (s.protocol, s.host.as_str(), s.port, s.security)
            };
            match out.iter_mut().find(same) {
                Some(c) => {
                    if !c.sources.contains(&report.kind) {
                        c.sources.push(report.kind);
                    }
                    c.setting.username = c.setting.username.or(s.username);
                    c.setting.auth = c.setting.auth.or(s.auth);
                }
                None => out.push(Candidate {
                    setting: s.clone(),
                    sources: vec![report.kind],
                }),
            }
        }
    }
    out
}

/// Per protocol, each source's first choice; where they differ, say so.
pub(super) fn disagreements(sources: &[SourceReport]) -> Vec<String> {
    let mut out = Vec::new();
    for protocol in Protocol::ALL {
        let mut firsts: Vec<(SourceKind, &Setting)> = Vec::new();
        for r in sources.iter().filter(|r| r.kind != SourceKind::Guess) {
            let first = r.settings.iter().find(|s| s.protocol == protocol);
            if let Some(s) = first.filter(|_| !firsts.iter().any(|(k, _)| *k == r.kind)) {
                firsts.push((r.kind, s));
            }
        }
        let differ = firsts.windows(2).any(|w| {
            (w[0].1.host.as_str(), w[0].1.port, w[0].1.security)
                != (w[1].1.host.as_str(), w[1].1.port, w[1].1.security)
        });
        if differ {
            let said: Vec<String> = firsts
                .iter()
                .map(|(k, s)| {
                    format!(
                        "{} says {}:{} {}",
                        source_name(*k),
                        s.host,
                        s.port,
                        s.security
                    )
                })
                .collect();
            out.push(format!("{protocol}: {}", said.join("; ")));
        }
    }
    out
}

/// A source's name in a sentence.
#[must_use]
pub fn source_name(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::Provider => "the provider overrides",
        SourceKind::IspdbSnapshot => "the ISPDB snapshot",
        SourceKind::Ispdb => "the ISPDB online",
        SourceKind::Srv => "SRV",
        SourceKind::Mx => "the MX provider",
        SourceKind::Autoconfig => "autoconfig",
        SourceKind::AutodiscoverJson => "Autodiscover (JSON)",
        SourceKind::AutodiscoverPox => "Autodiscover",
        SourceKind::Guess => "a guess",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Security;

    fn setting(protocol: Protocol, host: &str, port: u16, security: Security) -> Setting {
        Setting {
            protocol,
            host: host.into(),
            port,
            security,
            username: None,
            auth: None,
        }
    }

    fn report(kind: SourceKind, settings: Vec<Setting>) -> SourceReport {
        let mut r = SourceReport::new(kind, "q".into());
        r.settings = settings;
        r
    }

    #[test]
    fn merging_keeps_every_source_and_the_most_trusted_order() {
        let imap = setting(Protocol::Imap, "imap.example.com", 993, Security::Tls);
        let guess = setting(Protocol::Imap, "mail.example.com", 993, Security::Tls);
        let sources = [
            report(SourceKind::Guess, vec![guess.clone(), imap.clone()]),
            report(SourceKind::Srv, vec![imap.clone()]),
        ];
        let merged = merge(&sources);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].setting, imap, "SRV outranks a guess");
        assert_eq!(merged[0].sources, [SourceKind::Srv, SourceKind::Guess]);
        assert_eq!(merged[1].sources, [SourceKind::Guess]);
    }

    #[test]
    fn disagreeing_sources_are_named() {
        let sources = [
            report(
                SourceKind::Provider,
                vec![setting(
                    Protocol::Smtp,
                    "smtp.example.com",
                    465,
                    Security::Tls,
                )],
            ),
            report(
                SourceKind::Srv,
                vec![setting(
                    Protocol::Smtp,
                    "smtp.example.com",
                    587,
                    Security::StartTls,
                )],
            ),
            report(
                SourceKind::Autoconfig,
                vec![setting(
                    Protocol::Imap,
                    "imap.example.com",
                    993,
                    Security::Tls,
                )],
            ),
        ];
        let d = disagreements(&sources);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].starts_with("SMTP:"), "{}", d[0]);
        assert!(
            d[0].contains("the provider overrides says smtp.example.com:465 SSL/TLS"),
            "{}",
            d[0]
        );
        assert!(
            d[0].contains("SRV says smtp.example.com:587 STARTTLS"),
            "{}",
            d[0]
        );
    }

    #[test]
    fn agreeing_sources_and_guesses_raise_nothing() {
        let s = setting(Protocol::Imap, "imap.example.com", 993, Security::Tls);
        let sources = [
            report(SourceKind::Provider, vec![s.clone()]),
            report(SourceKind::Srv, vec![s]),
            report(
                SourceKind::Guess,
                vec![setting(
                    Protocol::Imap,
                    "mail.example.com",
                    993,
                    Security::Tls,
                )],
            ),
        ];
        assert!(disagreements(&sources).is_empty());
    }
}
