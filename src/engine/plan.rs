//! The plan of a run: which host each protocol is probed on, which combinations
//! are tried there, and which rows are inferred instead of tried (plain on an
//! implicit-TLS port, judged from the SSL/TLS try on the same port).

use crate::config::{Config, Requirement};
use crate::discover::providers;
use crate::model::{Code, Combination, Endpoint, Phase, Protocol, Security};
use crate::report::{Discovery, Failure, ProbeReport, Status};

/// `(protocol, port, security, inferred)` of the default matrix, in report order.
const MATRIX: [(Protocol, u16, Security, bool); 16] = [
    (Protocol::Pop3, 995, Security::Tls, false),
    (Protocol::Pop3, 995, Security::Plain, true),
    (Protocol::Pop3, 110, Security::StartTls, false),
    (Protocol::Pop3, 110, Security::Plain, false),
    (Protocol::Imap, 993, Security::Tls, false),
    (Protocol::Imap, 993, Security::Plain, true),
    (Protocol::Imap, 143, Security::StartTls, false),
    (Protocol::Imap, 143, Security::Plain, false),
    (Protocol::Smtp, 465, Security::Tls, false),
    (Protocol::Smtp, 465, Security::Plain, true),
    (Protocol::Smtp, 587, Security::StartTls, false),
    (Protocol::Smtp, 587, Security::Tls, false),
    (Protocol::Smtp, 587, Security::Plain, false),
    (Protocol::Smtp, 25, Security::StartTls, false),
    (Protocol::Smtp, 25, Security::Plain, false),
    (Protocol::Smtp, 25, Security::Tls, false),
];

/// The default matrix: what a person might choose in a mail client, right or
/// wrong. `(combination, inferred)`: plain on an implicit-TLS port is inferred
/// from the TLS result instead of waiting out a silent server.
#[must_use]
pub fn default_matrix() -> Vec<(Combination, bool)> {
    MATRIX
        .iter()
        .map(|&(p, port, s, inferred)| (Combination::new(p, port, s), inferred))
        .collect()
}

/// One row of the plan.
#[derive(Debug, Clone)]
pub struct Planned {
    /// What to probe (or infer).
    pub endpoint: Endpoint,
    /// Inferred from the implicit-TLS row on the same port instead of tried.
    pub inferred: bool,
}

/// The host probed for each protocol: from the flags, else from discovery.
#[derive(Debug, Clone, Default)]
pub struct Hosts {
    /// POP3.
    pub pop3: Option<String>,
    /// IMAP.
    pub imap: Option<String>,
    /// SMTP.
    pub smtp: Option<String>,
}

impl Hosts {
    /// Flags first; discovery's most trusted candidate for the rest.
    #[must_use]
    pub fn choose(config: &Config, discovery: Option<&Discovery>) -> Hosts {
        let pick = |p: Protocol| {
            config
                .host_for(p)
                .or_else(|| discovery.and_then(|d| d.host_for(p)))
                .map(str::to_owned)
        };
        Hosts {
            pop3: pick(Protocol::Pop3),
            imap: pick(Protocol::Imap),
            smtp: pick(Protocol::Smtp),
        }
    }

    /// The host for `protocol`.
    #[must_use]
    pub fn get(&self, protocol: Protocol) -> Option<&str> {
        match protocol {
            Protocol::Pop3 => self.pop3.as_deref(),
            Protocol::Imap => self.imap.as_deref(),
            Protocol::Smtp => self.smtp.as_deref(),
        }
    }
}

/// The rows for the hosts, in report order: `--only`, or the default matrix plus
/// any other combination discovery proposed for the chosen hosts (e.g. a
/// provider's non-standard port). A required combination is always tried.
#[must_use]
pub fn plan(config: &Config, hosts: &Hosts, discovery: Option<&Discovery>) -> Vec<Planned> {
    let mut rows: Vec<(Combination, bool)> = if config.only.is_empty() {
        let mut rows = default_matrix();
        for c in discovered(discovery, hosts) {
            if !rows.iter().any(|(r, _)| *r == c) {
                rows.push((c, false));
            }
        }
        rows
    } else {
        config.only.iter().map(|c| (*c, false)).collect()
    };
    for r in &config.require {
        if let Requirement::Combination(c) = r
            && !rows.iter().any(|(row, inferred)| row == c && !inferred)
        {
            rows.push((*c, false));
        }
    }
    rows.into_iter()
        .filter_map(|(c, inferred)| {
            let host = hosts.get(c.protocol)?;
            Some(Planned {
                endpoint: Endpoint::new(host, c),
                inferred,
            })
        })
        .collect()
}

/// Combinations discovery proposed for the chosen hosts.
fn discovered(discovery: Option<&Discovery>, hosts: &Hosts) -> Vec<Combination> {
    discovery
        .map(|d| {
            d.candidates
                .iter()
                .filter(|c| hosts.get(c.setting.protocol) == Some(c.setting.host.as_str()))
                .map(|c| Combination::new(c.setting.protocol, c.setting.port, c.setting.security))
                .collect()
        })
        .unwrap_or_default()
}

/// A host name a provider retired (e.g. pop3.live.com) still works sometimes and
/// then stops; say which names replace it.
#[must_use]
pub fn retired_notes(hosts: &Hosts) -> Vec<String> {
    let mut notes = Vec::new();
    for p in Protocol::ALL {
        let Some(r) = hosts.get(p).and_then(providers::retired_host) else {
            continue;
        };
        let current: Vec<String> = r
            .replacements
            .iter()
            .map(|s| format!("{}:{} {}", s.host, s.port, s.security))
            .collect();
        let note = format!(
            "{} is a retired {} name for {}; use {} instead",
            r.host,
            r.protocol,
            r.provider.name,
            current.join(" or ")
        );
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    notes
}

/// Puts tried and inferred rows together, in plan order. An inferred row always
/// follows the SSL/TLS row it is inferred from.
#[must_use]
pub fn assemble(planned: &[Planned], reports: Vec<ProbeReport>) -> Vec<ProbeReport> {
    let mut tried = reports.into_iter();
    let mut out: Vec<ProbeReport> = Vec::with_capacity(planned.len());
    for p in planned {
        if p.inferred {
            let e = &p.endpoint;
            let basis = out.iter().find(|r| {
                r.host == e.host
                    && r.combination() == Combination::new(e.protocol(), e.port(), Security::Tls)
            });
            out.push(infer_plain(e, basis));
        } else {
            out.extend(tried.next());
        }
    }
    out
}

/// Plain on an implicit-TLS port, judged from the SSL/TLS try on the same port.
#[must_use]
pub fn infer_plain(endpoint: &Endpoint, basis: Option<&ProbeReport>) -> ProbeReport {
    let mut report = ProbeReport::blank(endpoint);
    report.inferred = true;
    let Some(tls) = basis else {
        report.failure = Some(Failure {
            code: Code::Cancelled,
            phase: Phase::Greeting,
            message: "nothing to infer from: the SSL/TLS combination on this port was not tried"
                .into(),
        });
        return report;
    };
    report.addresses.clone_from(&tls.addresses);
    let (status, failure, warning) = inferred_outcome(endpoint.port(), tls);
    report.status = status;
    report.failure = failure;
    report.warnings.extend(warning);
    report
}

/// Status, failure and warning of plain on `port`, from the SSL/TLS row `tls`.
fn inferred_outcome(port: u16, tls: &ProbeReport) -> (Status, Option<Failure>, Option<Failure>) {
    let from = format!("inferred from the SSL/TLS try on port {port}");
    let failure = |code, phase, message: String| Failure {
        code,
        phase,
        message: format!("{from}: {message}"),
    };
    let expects_tls = || {
        failure(
            Code::ExpectsImplicitTls,
            Phase::Greeting,
            format!(
                "port {port} speaks TLS from the first byte, so a client set to 'None' or STARTTLS waits for a greeting that never comes; choose SSL/TLS"
            ),
        )
    };
    // TLS got under way: a handshake completed, a certificate arrived, or the
    // server answered with a TLS alert.
    let spoke_tls = tls.tls.is_some()
        || tls.failure.as_ref().is_some_and(|f| {
            matches!(f.code, Code::TlsAlert | Code::TlsVersionTooOld)
                || !matches!(f.phase, Phase::Resolve | Phase::Connect | Phase::Tls)
        });
    match &tls.failure {
        None => (Status::Failed, Some(expects_tls()), None),
        Some(f) if f.code == Code::Cancelled => (
            Status::Cancelled,
            Some(failure(f.code, f.phase, f.message.clone())),
            None,
        ),
        Some(f) if f.code == Code::TlsGotPlaintext => {
            let note = format!(
                "the port answers in plaintext, so a client set to 'None' gets a greeting ({})",
                f.message
            );
            let warning = failure(Code::TlsGotPlaintext, Phase::Greeting, note);
            (Status::Ok, None, Some(warning))
        }
        Some(f) if f.code == Code::TlsTimeout => {
            let note = "the server stays silent, so a plaintext client would wait for a greeting that never comes";
            let silent = failure(Code::NoGreeting, Phase::Greeting, note.into());
            (Status::Failed, Some(silent), None)
        }
        Some(_) if spoke_tls => (Status::Failed, Some(expects_tls()), None),
        Some(f) => {
            let message = format!(
                "{} (nothing showed whether this port speaks TLS; a plaintext client likely fails the same way)",
                f.message
            );
            (
                Status::Failed,
                Some(failure(f.code, f.phase, message)),
                None,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::TlsReport;

    fn endpoint(port: u16, security: Security) -> Endpoint {
        Endpoint::new("h", Combination::new(Protocol::Imap, port, security))
    }

    fn tls_row(status: Status, failure: Option<(Code, Phase)>, tls: bool) -> ProbeReport {
        let mut r = ProbeReport::blank(&endpoint(993, Security::Tls));
        r.status = status;
        r.failure = failure.map(|(code, phase)| Failure {
            code,
            phase,
            message: "m".into(),
        });
        r.tls = tls.then_some(TlsReport {
            via_starttls: false,
            version: None,
            cipher_suite: None,
            sni: None,
            certificate: None,
            injected_bytes_discarded: 0,
        });
        r
    }

    fn inferred(basis: &ProbeReport) -> (Status, Option<Code>) {
        let r = infer_plain(&endpoint(993, Security::Plain), Some(basis));
        assert!(r.inferred);
        (r.status, r.failure.map(|f| f.code))
    }

    #[test]
    fn plain_is_inferred_to_fail_where_tls_works() {
        let ok = tls_row(Status::Ok, None, true);
        assert_eq!(
            inferred(&ok),
            (Status::Failed, Some(Code::ExpectsImplicitTls))
        );
        let bad_cert = tls_row(Status::Failed, Some((Code::CertExpired, Phase::Tls)), true);
        assert_eq!(inferred(&bad_cert).1, Some(Code::ExpectsImplicitTls));
        let alert = tls_row(Status::Failed, Some((Code::TlsAlert, Phase::Tls)), false);
        assert_eq!(inferred(&alert).1, Some(Code::ExpectsImplicitTls));
    }

    #[test]
    fn plain_is_inferred_to_work_where_the_port_spoke_plaintext() {
        let r = tls_row(
            Status::Failed,
            Some((Code::TlsGotPlaintext, Phase::Tls)),
            false,
        );
        assert_eq!(inferred(&r), (Status::Ok, None));
    }

    #[test]
    fn nothing_is_claimed_without_evidence() {
        let reset = tls_row(
            Status::Failed,
            Some((Code::ConnectionReset, Phase::Tls)),
            false,
        );
        assert_eq!(
            inferred(&reset),
            (Status::Failed, Some(Code::ConnectionReset))
        );
        let refused = tls_row(
            Status::Failed,
            Some((Code::ConnectRefused, Phase::Connect)),
            false,
        );
        assert_eq!(inferred(&refused).1, Some(Code::ConnectRefused));
        let silent = tls_row(Status::Failed, Some((Code::TlsTimeout, Phase::Tls)), false);
        assert_eq!(inferred(&silent).1, Some(Code::NoGreeting));
        let cut = tls_row(
            Status::Cancelled,
            Some((Code::Cancelled, Phase::Tls)),
            false,
        );
        assert_eq!(inferred(&cut), (Status::Cancelled, Some(Code::Cancelled)));
    }

    #[test]
    fn retired_host_names_are_pointed_out() {
        let hosts = Hosts {
            pop3: Some("pop3.live.com".into()),
            imap: Some("imap.example.com".into()),
            smtp: Some("smtp-mail.outlook.com".into()),
        };
        let notes = retired_notes(&hosts);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].starts_with("pop3.live.com is a retired POP3 name for Outlook.com"),
            "{}",
            notes[0]
        );
        assert!(
            notes[0].contains("outlook.office365.com:995 SSL/TLS"),
            "{}",
            notes[0]
        );
    }

    #[test]
    fn the_default_matrix_infers_only_after_its_tls_row() {
        let matrix = default_matrix();
        for (i, (c, inferred)) in matrix.iter().enumerate() {
            if *inferred {
                assert_eq!(c.security, Security::Plain);
                let prev = matrix[i - 1].0;
                assert_eq!(prev, Combination::new(c.protocol, c.port, Security::Tls));
            }
        }
    }
}
