//! The outcome of a run: what works per direction, the `--require` items that do
//! not hold, and the exit code, computed once from the observations and findings.
//!
//! Exit codes follow the Nagios plugin convention: 0 OK, 1 WARNING, 2 CRITICAL,
//! 3 UNKNOWN (mailcheck could not run at all; see `main`).

use crate::config::{Config, Requirement};
use crate::model::{Combination, Protocol, Security};
use crate::report::{Finding, Login, LoginResult, ProbeReport, Run, Severity, Status, Summary};

/// Every direction probed works securely and no finding is worse than info.
pub const EXIT_OK: i32 = 0;
/// It works, but a finding says something should be fixed.
pub const EXIT_WARNING: i32 = 1;
/// A probed direction has no working secure combination, a login failed, a
/// `--require` item does not hold, or a finding is critical.
pub const EXIT_CRITICAL: i32 = 2;
/// mailcheck itself could not run (bad arguments, bad CA file, …).
pub const EXIT_UNKNOWN: i32 = 3;

/// The status word for an exit code, as the Nagios plugin guidelines name
/// them; any code outside 0–2 is UNKNOWN.
#[must_use]
pub fn status_word(exit_code: i32) -> &'static str {
    match exit_code {
        EXIT_OK => "OK",
        EXIT_WARNING => "WARNING",
        EXIT_CRITICAL => "CRITICAL",
        _ => "UNKNOWN",
    }
}

/// Whether an exit code means the target works (OK or WARNING).
#[must_use]
pub fn works(exit_code: i32) -> bool {
    matches!(exit_code, EXIT_OK | EXIT_WARNING)
}

/// The worse of two exit codes, as monitoring ranks states (Checkmk's
/// "worst state"): CRITICAL over UNKNOWN over WARNING over OK.
#[must_use]
pub fn worst(a: i32, b: i32) -> i32 {
    let rank = |c: i32| match c {
        EXIT_OK => 0,
        EXIT_WARNING => 1,
        EXIT_CRITICAL => 3,
        _ => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// What the run was asked to prove.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// Incoming mail must work (an address implies both directions).
    pub incoming: bool,
    /// Outgoing mail must work.
    pub outgoing: bool,
    /// Credentials were given: a combination counts only where a login worked.
    pub logins: bool,
    /// `--require`.
    pub require: Vec<Requirement>,
    /// Services the domain says it does not offer (SRV target "."): their
    /// failures do not count.
    pub not_offered: Vec<(Protocol, Security)>,
}

impl Expectations {
    /// What `config` asks for.
    #[must_use]
    pub fn of(config: &Config) -> Self {
        Expectations {
            incoming: config.expects_incoming(),
            outgoing: config.expects_outgoing(),
            logins: config.auth.is_some(),
            require: config.require.clone(),
            not_offered: Vec::new(),
        }
    }

    /// As asked, with what the run's discovery says the domain does not offer:
    /// a direction whose every service is declared not offered is not expected.
    #[must_use]
    pub fn given(&self, run: &Run) -> Expectations {
        let mut e = self.clone();
        if let Some(d) = &run.discovery {
            e.not_offered = d
                .not_offered
                .iter()
                .map(|n| (n.protocol, n.security))
                .collect();
        }
        let all_declared = |incoming: bool| {
            let protocols: &[Protocol] = if incoming {
                &[Protocol::Imap, Protocol::Pop3]
            } else {
                &[Protocol::Smtp]
            };
            protocols.iter().all(|p| {
                [Security::Tls, Security::StartTls]
                    .iter()
                    .all(|s| e.not_offered.contains(&(*p, *s)))
            })
        };
        e.incoming = e.incoming && !all_declared(true);
        e.outgoing = e.outgoing && !all_declared(false);
        e
    }

    /// Whether the domain says it does not offer `p`'s protocol in its mode.
    #[must_use]
    pub fn declared_not_offered(&self, p: &ProbeReport) -> bool {
        self.not_offered.contains(&(p.protocol, p.security))
    }

    /// Whether a direction is judged: expected, or probed for a service the
    /// domain did not declare not offered.
    #[must_use]
    pub fn judges(&self, incoming: bool, probes: &[ProbeReport]) -> bool {
        let expected = if incoming {
            self.incoming
        } else {
            self.outgoing
        };
        expected
            || probes
                .iter()
                .any(|p| p.protocol.is_incoming() == incoming && !self.declared_not_offered(p))
    }
}

/// What works, per direction, and the exit code that follows.
#[must_use]
pub fn summarise(
    expect: &Expectations,
    probes: &[ProbeReport],
    logins: &[Login],
    findings: &[Finding],
) -> Summary {
    let mut incoming = secure(probes, true);
    let mut outgoing = secure(probes, false);
    let judged = |incoming: bool| expect.judges(incoming, probes);
    let mut ok =
        (!judged(true) || !incoming.is_empty()) && (!judged(false) || !outgoing.is_empty());
    let mut logins_ok = None;
    if expect.logins && !logins.is_empty() {
        // With credentials, a combination counts as working only when a login
        // over its protocol and host succeeded.
        // A refused send test means sending does not work, login or not.
        let logged_in = |c: &Combination| {
            probes.iter().any(|p| {
                p.combination() == *c
                    && logins.iter().any(|l| {
                        l.protocol == p.protocol
                            && l.host == p.host
                            && l.result == LoginResult::Ok
                            && l.send.as_ref().is_none_or(|s| s.accepted)
                    })
            })
        };
        incoming.retain(logged_in);
        outgoing.retain(logged_in);
        logins_ok = Some(logins.iter().all(|l| l.result == LoginResult::Ok));
        let probed = |incoming: bool| {
            probes
                .iter()
                .any(|p| p.protocol.is_incoming() == incoming && !expect.declared_not_offered(p))
        };
        ok = ok
            && (!probed(true) || !incoming.is_empty())
            && (!probed(false) || !outgoing.is_empty());
    }
    let unmet_requirements = unmet(&expect.require, probes, &incoming, &outgoing);
    ok = ok && unmet_requirements.is_empty();
    Summary {
        secure_incoming: incoming,
        secure_outgoing: outgoing,
        logins_ok,
        unmet_requirements,
        ok,
        exit_code: exit_code(ok, findings),
    }
}

/// The combinations of one direction tried that worked over TLS or STARTTLS.
fn secure(probes: &[ProbeReport], incoming: bool) -> Vec<Combination> {
    probes
        .iter()
        .filter(|r| {
            !r.inferred
                && r.security.is_secure()
                && r.protocol.is_incoming() == incoming
                && matches!(r.status, Status::Ok | Status::Warning)
        })
        .map(ProbeReport::combination)
        .collect()
}

/// `--require`: the items that do not hold.
fn unmet(
    require: &[Requirement],
    probes: &[ProbeReport],
    incoming: &[Combination],
    outgoing: &[Combination],
) -> Vec<String> {
    let works = |c: &Combination| {
        probes.iter().any(|p| {
            !p.inferred && p.combination() == *c && matches!(p.status, Status::Ok | Status::Warning)
        })
    };
    require
        .iter()
        .filter(|r| match r {
            Requirement::Incoming => incoming.is_empty(),
            Requirement::Outgoing => outgoing.is_empty(),
            Requirement::Combination(c) => !works(c),
        })
        .map(ToString::to_string)
        .collect()
}

/// The one place the exit code is decided: a direction that does not work, an
/// unmet `--require` or a critical finding is CRITICAL; a warning finding is
/// WARNING.
#[must_use]
pub fn exit_code(ok: bool, findings: &[Finding]) -> i32 {
    let worst = findings.iter().map(|f| f.severity).max();
    if !ok || worst == Some(Severity::Critical) {
        EXIT_CRITICAL
    } else if worst == Some(Severity::Warning) {
        EXIT_WARNING
    } else {
        EXIT_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Endpoint;

    #[test]
    fn the_worst_state_wins() {
        assert_eq!(worst(0, 1), 1);
        assert_eq!(worst(1, 3), 3);
        assert_eq!(worst(3, 2), 2);
        assert_eq!(worst(2, 3), 2);
        assert_eq!(worst(2, 0), 2);
        assert_eq!(worst(0, 0), 0);
    }

    #[test]
    fn ok_and_warning_work() {
        assert!(works(EXIT_OK) && works(EXIT_WARNING));
        assert!(!works(EXIT_CRITICAL) && !works(EXIT_UNKNOWN) && !works(-1));
    }

    fn expect(incoming: bool, outgoing: bool) -> Expectations {
        Expectations {
            incoming,
            outgoing,
            ..Expectations::default()
        }
    }

    fn row(protocol: Protocol, security: Security, status: Status) -> ProbeReport {
        let port = if protocol == Protocol::Smtp { 465 } else { 993 };
        let endpoint = Endpoint::new("h", Combination::new(protocol, port, security));
        let mut r = ProbeReport::blank(&endpoint);
        r.status = status;
        r
    }

    #[test]
    fn the_exit_code_needs_a_secure_combination_per_probed_direction() {
        let both = expect(true, true);
        let imap = row(Protocol::Imap, Security::Tls, Status::Ok);
        let smtp = row(Protocol::Smtp, Security::Tls, Status::Ok);
        let code = |probes: &[ProbeReport]| summarise(&both, probes, &[], &[]).exit_code;
        assert_eq!(code(&[imap.clone(), smtp.clone()]), EXIT_OK);
        assert_eq!(
            summarise(&expect(true, false), std::slice::from_ref(&imap), &[], &[]).exit_code,
            EXIT_OK,
            "SMTP not probed"
        );
        assert_eq!(
            summarise(&both, std::slice::from_ref(&imap), &[], &[]).exit_code,
            EXIT_CRITICAL,
            "SMTP expected but not probed"
        );
        let failed = row(Protocol::Smtp, Security::Tls, Status::Failed);
        assert_eq!(code(&[imap, failed]), EXIT_CRITICAL);
        // Plain never counts as secure, however well it works.
        let plain = row(Protocol::Imap, Security::Plain, Status::Ok);
        assert_eq!(code(&[plain, smtp]), EXIT_CRITICAL);
    }

    #[test]
    fn findings_decide_between_ok_warning_and_critical() {
        let finding = |severity| Finding {
            code: "x".into(),
            severity,
            category: crate::report::Category::Advice,
            cause: String::new(),
            fix: String::new(),
            affects: crate::report::Affects::default(),
            evidence: Vec::new(),
        };
        assert_eq!(exit_code(true, &[finding(Severity::Info)]), EXIT_OK);
        assert_eq!(exit_code(true, &[finding(Severity::Warning)]), EXIT_WARNING);
        assert_eq!(
            exit_code(true, &[finding(Severity::Critical)]),
            EXIT_CRITICAL
        );
        assert_eq!(exit_code(false, &[]), EXIT_CRITICAL);
    }
}
