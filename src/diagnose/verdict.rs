//! The verdict: how the run came out per direction (reading, sending), and one
//! sentence for the first line of a report, naming the root cause when
//! something does not work.

use super::findings::works;
use crate::report::{
    Direction, Finding, LoginResult, Recommendation, Recommended, Run, RunVerdict, Severity,
    Summary,
};

/// The verdict of a judged run. `judged` says, for reading and for sending,
/// whether the direction was asked for or probed (and not declared not offered).
#[must_use]
pub fn verdict(
    run: &Run,
    findings: &[Finding],
    rec: &Recommendation,
    summary: &Summary,
    judged: [bool; 2],
) -> RunVerdict {
    let status = match summary.exit_code {
        0 => Severity::Ok,
        1 => Severity::Warning,
        _ => Severity::Critical,
    };
    let incoming = direction(run, summary, true, judged[0]);
    let outgoing = direction(run, summary, false, judged[1]);
    let headline = headline(status, [incoming, outgoing], findings, rec);
    RunVerdict {
        status,
        headline,
        incoming,
        outgoing,
    }
}

fn direction(run: &Run, summary: &Summary, incoming: bool, judged: bool) -> Direction {
    let of_direction = |p: &&crate::report::ProbeReport| p.protocol.is_incoming() == incoming;
    let probed = run.probes.iter().filter(of_direction).count() > 0;
    let declared = run.discovery.as_ref().is_some_and(|d| {
        d.not_offered
            .iter()
            .any(|n| n.protocol.is_incoming() == incoming)
    });
    if !judged {
        return if declared && !probed {
            Direction::NotOffered
        } else {
            Direction::NotChecked
        };
    }
    let listed = if incoming {
        &summary.secure_incoming
    } else {
        &summary.secure_outgoing
    };
    if !listed.is_empty() {
        return Direction::Works;
    }
    let secure = run
        .probes
        .iter()
        .filter(of_direction)
        .any(|p| p.security.is_secure() && works(p));
    let login_failed = run.logins.iter().any(|l| {
        l.protocol.is_incoming() == incoming
            && (matches!(
                l.result,
                LoginResult::Failed | LoginResult::ConnectionFailed
            ) || l.send.as_ref().is_some_and(|s| !s.accepted))
    });
    let plain = run
        .probes
        .iter()
        .filter(of_direction)
        .any(|p| !p.security.is_secure() && works(p) && (incoming || p.port != 25));
    if secure && login_failed {
        Direction::LoginFails
    } else if !secure && plain {
        Direction::OnlyUnencrypted
    } else {
        Direction::Fails
    }
}

fn said(r: &Recommended) -> String {
    format!("{} {} {}", r.protocol, r.port, r.security)
}

fn headline(
    status: Severity,
    [incoming, outgoing]: [Direction; 2],
    findings: &[Finding],
    rec: &Recommendation,
) -> String {
    let problems: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .collect();
    let first_critical = |only: Option<&str>| {
        problems
            .iter()
            .filter(|f| only.is_none_or(|c| f.code == c))
            .find(|f| f.severity == Severity::Critical)
            .or(problems.first())
            .map(|f| sentence(&f.cause))
    };
    let broken = |d: Direction| matches!(d, Direction::Fails | Direction::OnlyUnencrypted);
    let what = match (broken(incoming), broken(outgoing)) {
        (true, true) => Some("Neither reading nor sending mail works"),
        (true, false) => Some("Reading mail does not work"),
        (false, true) => Some("Sending mail does not work"),
        (false, false) => None,
    };
    let unencrypted = [(incoming, "Reading mail"), (outgoing, "Sending mail")]
        .into_iter()
        .find(|(d, _)| *d == Direction::OnlyUnencrypted);
    if let (Some((_, what)), false) = (
        unencrypted,
        broken(incoming) && broken(outgoing) && incoming != outgoing,
    ) {
        return format!(
            "{what} works only without encryption, which would let anyone on the path read your password and mail: do not use it."
        );
    }
    if let Some(what) = what {
        let cause = first_critical(None);
        return match cause {
            Some(cause) => format!("{what}: {cause}."),
            None => format!("{what}."),
        };
    }
    if [incoming, outgoing].contains(&Direction::LoginFails) {
        return login_fails(&problems);
    }
    works_headline(status, &problems, rec, first_critical(None))
}

fn login_fails(problems: &[&Finding]) -> String {
    let login = problems
        .iter()
        .find(|f| f.category == crate::report::Category::Login && f.severity == Severity::Critical)
        .map(|f| sentence(&f.cause));
    match login {
        Some(cause) => format!("The servers answer, but the login fails: {cause}."),
        None => "The servers answer, but the login fails.".to_owned(),
    }
}

/// "Mail works: read with …, send with …", and what is left to fix.
fn works_headline(
    status: Severity,
    problems: &[&Finding],
    rec: &Recommendation,
    root: Option<String>,
) -> String {
    let settings: Vec<String> = [
        rec.incoming
            .as_ref()
            .map(|r| format!("read with {}", said(r))),
        rec.outgoing
            .as_ref()
            .map(|r| format!("send with {}", said(r))),
    ]
    .into_iter()
    .flatten()
    .collect();
    let works = if settings.is_empty() {
        "Mail works".to_owned()
    } else {
        format!("Mail works: {}", settings.join(", "))
    };
    let root = root.unwrap_or_default();
    match (status, problems.len()) {
        (Severity::Ok | Severity::Info, _) | (_, 0) => format!("{works}."),
        (_, 1) => format!("{works}. To fix: {root}."),
        (_, n) => format!("{works}. {n} things to fix, first: {root}."),
    }
}

/// A finding's cause inside a sentence: without its final period.
fn sentence(cause: &str) -> String {
    cause.trim_end_matches('.').to_owned()
}
