//! The unauthenticated relay test (`--send-test` without credentials): does each
//! SMTP host refuse an outside recipient from someone who did not log in, as it
//! must (RFC 5321 §3.6.2)? MAIL FROM and RCPT TO only, then RSET: nothing is sent.

use super::Context;
use super::probe::Task;
use crate::model::{Address, Endpoint, Protocol, Security};
use crate::proto::SendTest;
use crate::proto::smtp::parse_reply_line;
use crate::report::{ProbeReport, RelayResult, RelayTest, SendOutcome, Status};

/// Where an unauthenticated relay test sends its RCPT TO: a reserved domain
/// (RFC 2606), so even an open relay delivers nothing anywhere (and RSET follows).
pub const RELAY_RECIPIENT: &str = "mailcheck-relay-test@example.net";

/// Runs one relay test per SMTP host in `probes`, over the combination that
/// matters for relaying: port 25 first (STARTTLS, then plain).
pub async fn run(ctx: &Context<'_>, address: &Address, probes: &[ProbeReport]) -> Vec<RelayTest> {
    let mut hosts: Vec<&str> = probes
        .iter()
        .filter(|p| p.protocol == Protocol::Smtp && !p.inferred)
        .map(|p| p.host.as_str())
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    let tests = hosts
        .into_iter()
        .map(|host| relay_one(ctx, address, probes, host));
    futures_util::future::join_all(tests).await
}

/// The SMTP combination on `host` that worked and matters most for relaying.
fn relay_endpoint(probes: &[ProbeReport], host: &str) -> Option<Endpoint> {
    let rank = |p: &ProbeReport| {
        let mode = match p.security {
            Security::StartTls => 0,
            Security::Plain => 1,
            Security::Tls => 2,
        };
        (p.port != 25, mode, p.port)
    };
    probes
        .iter()
        .filter(|p| p.protocol == Protocol::Smtp && p.host == host && !p.inferred)
        .filter(|p| matches!(p.status, Status::Ok | Status::Warning))
        .min_by_key(|p| rank(p))
        .map(|p| Endpoint::new(host, p.combination()))
}

async fn relay_one(
    ctx: &Context<'_>,
    address: &Address,
    probes: &[ProbeReport],
    host: &str,
) -> RelayTest {
    let mut test = RelayTest {
        host: host.to_owned(),
        combination: None,
        recipient: RELAY_RECIPIENT.to_owned(),
        result: RelayResult::NotTested,
        mail_from: None,
        rcpt_to: None,
        reason: None,
        probe: None,
    };
    let Some(endpoint) = relay_endpoint(probes, host) else {
        test.reason = Some(format!("no SMTP combination on {host} worked"));
        return test;
    };
    test.combination = Some(endpoint.combination);
    let envelope = SendTest {
        from: address.ascii(),
        to: RELAY_RECIPIENT.to_owned(),
        message: None,
    };
    let report = ctx.connect(&endpoint, Task::Relay(envelope)).await;
    match report.session.as_ref().and_then(|s| s.send.clone()) {
        Some(send) => judge(&mut test, send),
        None => {
            test.reason = report
                .failure
                .as_ref()
                .map(|f| format!("the relay test connection failed: {}", f.message));
        }
    }
    test.probe = Some(report);
    test
}

/// Reads the envelope's replies: a 2xx to RCPT TO is an open relay, a 5xx a
/// refusal; a 4xx says nothing either way.
fn judge(test: &mut RelayTest, send: SendOutcome) {
    test.mail_from = send.mail_from;
    test.rcpt_to.clone_from(&send.rcpt_to);
    let class = send
        .rcpt_to
        .as_deref()
        .and_then(parse_reply_line)
        .map(|r| r.class());
    test.result = match class {
        Some(2) => RelayResult::OpenRelay,
        Some(5) => RelayResult::Refused,
        Some(_) => {
            test.reason = Some("a temporary refusal (4xx) says nothing about relaying".into());
            RelayResult::NotTested
        }
        None => RelayResult::NotTested,
    };
    if send.rcpt_to.is_none() {
        test.reason = Some("the server refused the sender, so RCPT TO was not reached".into());
    }
}
