//! Rules about certificates: expiry, names, trust (RFC 5280, RFC 9525), a
//! different certificate on the two ports of one service, and signs that an
//! antivirus or firewall product intercepts TLS.

use super::by_host;
use crate::diagnose::Options;
use crate::model::Protocol;
use crate::report::ChainReport;
use crate::report::Finding;
use crate::report::Severity;
use crate::report::Verdict;
use crate::report::{ProbeReport, Run};

/// Products that intercept TLS by re-signing certificates with their own CA,
/// as words that appear in that CA's name (issuer O or CN). Multi-word names
/// are matched as consecutive words, so "eset" does not match "reset".
const INTERCEPTORS: &[&str] = &[
    "avast",
    "avg",
    "kaspersky",
    "eset",
    "bitdefender",
    "norton",
    "symantec",
    "mcafee",
    "sophos",
    "fortinet",
    "fortigate",
    "palo alto",
    "zscaler",
    "cisco umbrella",
    "check point",
    "checkpoint",
    "watchguard",
    "barracuda",
    "netskope",
];

/// The two ports of one service on which the same certificate is expected.
const PAIRS: &[(Protocol, u16, u16)] = &[
    (Protocol::Imap, 993, 143),
    (Protocol::Pop3, 995, 110),
    (Protocol::Smtp, 465, 587),
];

pub(super) fn check(report: &Run, opts: &Options, raw: &mut Vec<Finding>) {
    for (host, ps) in by_host(report) {
        let chains: Vec<(&ProbeReport, &ChainReport)> = ps
            .iter()
            .filter(|p| !p.inferred)
            .filter_map(|p| Some((*p, p.tls.as_ref()?.certificate.as_ref()?)))
            .filter(|(_, c)| !c.certificates.is_empty())
            .collect();
        for (p, c) in &chains {
            expiry(host, p, c, opts, raw);
            trust(host, p, c, raw);
            interception_by_name(host, p, c, raw);
        }
        certificate_differs(host, &chains, raw);
        issuer_differs(host, &chains, raw);
    }
}

fn expiry(host: &str, p: &ProbeReport, c: &ChainReport, opts: &Options, raw: &mut Vec<Finding>) {
    let Some(soonest) = c.certificates.iter().min_by_key(|i| i.days_left) else {
        return;
    };
    let days = soonest.days_left;
    let evidence = format!(
        "{}: not after {} ({days} days)",
        soonest.subject, soonest.not_after
    );
    if c.verdict == Verdict::Expired || days < 0 {
        raw.push(
            Finding::new(
                "cert_expired",
                Severity::Critical,
                Some(host),
                format!("The certificate of {host} has expired, so clients refuse to connect"),
                "Server: install a renewed certificate. If it expired only just, check this computer's clock.",
            )
            .with(p)
            .because(evidence),
        );
    } else if days <= opts.warn_days {
        let severity = if days <= opts.crit_days {
            Severity::Critical
        } else {
            Severity::Warning
        };
        raw.push(
            Finding::new(
                "cert_expiring",
                severity,
                Some(host),
                format!("The certificate of {host} expires in {days} days"),
                "Server: renew the certificate now (and check that automatic renewal runs).",
            )
            .with(p)
            .because(evidence),
        );
    }
}

fn trust(host: &str, p: &ProbeReport, c: &ChainReport, raw: &mut Vec<Finding>) {
    if !c.host_name_matches || c.verdict == Verdict::NameMismatch {
        let names = c.certificates[0].subject_alt_names.join(", ");
        raw.push(
            Finding::new(
                "cert_name_mismatch",
                Severity::Critical,
                Some(host),
                format!("The certificate of {host} does not name {host}, so clients refuse it"),
                "Use a server name the certificate names; server: put this name in the certificate.",
            )
            .with(p)
            .because(format!("names: {names}")),
        );
    }
    let (code, fix) = match c.verdict {
        Verdict::SelfSigned | Verdict::Untrusted => (
            "cert_untrusted",
            "Server: use a certificate from a public CA. A private CA: pass it with --ca-file. \
             Otherwise suspect interception.",
        ),
        Verdict::IncompleteChain => (
            "cert_untrusted",
            "Server: send the full chain (leaf and intermediate certificates).",
        ),
        Verdict::Invalid => (
            "cert_untrusted",
            "Server: replace the certificate; the evidence names what the verifier rejected.",
        ),
        Verdict::NotYetValid => (
            "cert_not_yet_valid",
            "Check this computer's date and time; server: the certificate was installed too early.",
        ),
        Verdict::Trusted | Verdict::Expired | Verdict::NameMismatch => return,
    };
    raw.push(
        Finding::new(
            code,
            Severity::Critical,
            Some(host),
            format!(
                "{} ({host})",
                crate::cert::describe(c.verdict).trim_end_matches('.')
            ),
            fix,
        )
        .with(p)
        .because(
            c.verifier_error
                .clone()
                .unwrap_or_else(|| format!("issuer: {}", c.certificates[0].issuer)),
        ),
    );
}

/// Whether `name` contains `product` as whole consecutive words.
fn names_product(name: &str, product: &str) -> bool {
    let words: Vec<String> = name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let wanted: Vec<&str> = product.split(' ').collect();
    words
        .windows(wanted.len())
        .any(|w| w.iter().zip(&wanted).all(|(a, b)| a == b))
}

fn interception_by_name(host: &str, p: &ProbeReport, c: &ChainReport, raw: &mut Vec<Finding>) {
    for cert in &c.certificates {
        let Some(product) = INTERCEPTORS
            .iter()
            .find(|prod| names_product(&cert.issuer, prod))
        else {
            continue;
        };
        raw.push(
            Finding::new(
                "tls_interception_suspected",
                Severity::Critical,
                Some(host),
                format!("The certificate for {host} was issued by a security product ({product}), which intercepts and re-encrypts mail traffic"),
                "Turn off the product's mail or TLS scanning (\"mail shield\", \"SSL inspection\") for mail ports, or ask the network's administrator.",
            )
            .with(p)
            .because(format!("issuer: {}", cert.issuer)),
        );
        return;
    }
}

/// A different leaf on the implicit-TLS and the STARTTLS port of one service.
fn certificate_differs(
    host: &str,
    chains: &[(&ProbeReport, &ChainReport)],
    raw: &mut Vec<Finding>,
) {
    for (protocol, implicit, starttls) in PAIRS {
        let leaf = |port: u16| {
            chains
                .iter()
                .find(|(p, _)| p.protocol == *protocol && p.port == port)
                .map(|(p, c)| (*p, c.certificates[0].sha256.as_str()))
        };
        let (Some((a, sa)), Some((b, sb))) = (leaf(*implicit), leaf(*starttls)) else {
            continue;
        };
        if sa == sb {
            continue;
        }
        raw.push(
            Finding::new(
                "certificate_differs",
                Severity::Warning,
                Some(host),
                format!("{host} shows a different certificate on port {implicit} than on port {starttls}"),
                "Server: install the same certificate on both ports; if the server has one, suspect something on the path.",
            )
            .with(a)
            .with(b)
            .because(format!("{implicit}: {sa}"))
            .because(format!("{starttls}: {sb}")),
        );
    }
}

/// Leaves from different issuers on ports of one host: one port may be intercepted.
fn issuer_differs(host: &str, chains: &[(&ProbeReport, &ChainReport)], raw: &mut Vec<Finding>) {
    let issuer = |c: &ChainReport| c.certificates[0].issuer.clone();
    let Some((first, c0)) = chains.first() else {
        return;
    };
    let odd: Vec<&(&ProbeReport, &ChainReport)> = chains
        .iter()
        .filter(|(_, c)| issuer(c) != issuer(c0))
        .collect();
    if odd.is_empty() {
        return;
    }
    let mut f = Finding::new(
        "tls_interception_suspected",
        Severity::Warning,
        Some(host),
        format!("Ports of {host} present certificates from different issuers, as when something on the path intercepts some ports"),
        "Compare the issuers below; if the server uses one CA, turn off TLS scanning in antivirus or firewall products.",
    )
    .with(first)
    .because(format!("port {}: {}", first.port, issuer(c0)));
    for (p, c) in odd {
        f = f.with(p).because(format!("port {}: {}", p.port, issuer(c)));
    }
    raw.push(f);
}

#[cfg(test)]
mod tests {
    use crate::diagnose::testing::{ok, report};
    use crate::diagnose::{Options, findings};
    use crate::report::Finding;
    use crate::report::ProbeReport;
    use crate::report::Severity;
    use crate::report::Verdict;

    fn find(probes: Vec<ProbeReport>, code: &str) -> Option<Finding> {
        findings(&report(probes), &Options::default())
            .into_iter()
            .find(|f| f.code == code)
    }

    fn with_leaf(spec: &str, edit: impl Fn(&mut crate::report::ChainReport)) -> ProbeReport {
        let mut p = ok(spec);
        edit(p.tls.as_mut().unwrap().certificate.as_mut().unwrap());
        p
    }

    #[test]
    fn cert_expiring_warns_then_turns_critical() {
        let at = |days| with_leaf("imap:993:tls", |c| c.certificates[0].days_left = days);
        assert!(find(vec![at(22)], "cert_expiring").is_none());
        assert_eq!(
            find(vec![at(21)], "cert_expiring").unwrap().severity,
            Severity::Warning
        );
        assert_eq!(
            find(vec![at(7)], "cert_expiring").unwrap().severity,
            Severity::Critical
        );
        assert!(find(vec![at(-1)], "cert_expiring").is_none());
        assert!(find(vec![at(-1)], "cert_expired").is_some());
    }

    #[test]
    fn cert_expired_from_the_verdict() {
        let p = with_leaf("smtp:465:tls", |c| c.verdict = Verdict::Expired);
        assert_eq!(
            find(vec![p], "cert_expired").unwrap().severity,
            Severity::Critical
        );
    }

    #[test]
    fn cert_name_mismatch_lists_the_names() {
        let p = with_leaf("imap:993:tls", |c| {
            c.host_name_matches = false;
            c.verdict = Verdict::NameMismatch;
        });
        let f = find(vec![p], "cert_name_mismatch").unwrap();
        assert_eq!(f.evidence, ["names: mail.example.com"]);
    }

    #[test]
    fn self_signed_untrusted_and_incomplete_are_cert_untrusted() {
        for v in [
            Verdict::SelfSigned,
            Verdict::Untrusted,
            Verdict::IncompleteChain,
        ] {
            let p = with_leaf("imap:993:tls", |c| c.verdict = v);
            assert!(find(vec![p], "cert_untrusted").is_some(), "{v:?}");
        }
        let p = with_leaf("imap:993:tls", |c| c.verdict = Verdict::NotYetValid);
        assert!(find(vec![p], "cert_not_yet_valid").is_some());
        assert!(find(vec![ok("imap:993:tls")], "cert_untrusted").is_none());
    }

    #[test]
    fn an_antivirus_issuer_is_interception() {
        let p = with_leaf("imap:993:tls", |c| {
            c.certificates[0].issuer = "CN=Avast Web/Mail Shield Root,O=Avast".into();
        });
        let f = find(vec![p], "tls_interception_suspected").unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.cause.contains("avast"));
        // Word match only: "Preset" does not name ESET.
        let q = with_leaf("imap:993:tls", |c| {
            c.certificates[0].issuer = "CN=Preset CA".into();
        });
        assert!(find(vec![q], "tls_interception_suspected").is_none());
    }

    #[test]
    fn issuers_differing_between_ports_is_suspected_interception() {
        let other = with_leaf("smtp:465:tls", |c| {
            c.certificates[0].issuer = "CN=Other".into();
        });
        let f = find(
            vec![ok("imap:993:tls"), other],
            "tls_interception_suspected",
        )
        .unwrap();
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.combinations.len(), 2);
    }

    #[test]
    fn certificate_differs_between_993_and_143() {
        let other = with_leaf("imap:143:starttls", |c| {
            c.certificates[0].sha256 = "BB".into();
        });
        let f = find(vec![ok("imap:993:tls"), other], "certificate_differs").unwrap();
        assert_eq!(f.evidence, ["993: AA:01", "143: BB"]);
        assert!(
            find(
                vec![ok("imap:993:tls"), ok("imap:143:starttls")],
                "certificate_differs"
            )
            .is_none()
        );
    }
}
