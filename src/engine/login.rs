//! The login test: after the matrix, at most one login per protocol and host, over
//! the best combination that worked with a verified certificate (RFC 8314 order:
//! implicit TLS, then STARTTLS), so an account is never locked by mailcheck.
//!
//! Credentials only travel over TLS whose certificate verified, unless the user
//! said `--allow-insecure-auth`; then the report marks the secret as exposed.

use super::Context;
use super::probe::{LoginRequest, Task};
use crate::config::secrets::Found;
use crate::config::{AuthConfig, secrets};
use crate::diagnose::{oauth2, refusals};
use crate::model::{Address, Endpoint, Phase, Protocol, Security};
use crate::proto::{AuthPlan, NO_ANSWER, SendTest};
use crate::report::{
    AuthAttempt, Discovery, Explanation, Login, LoginResult, ProbeReport, StartTlsState, Status,
    TokenUse, UsernameForm,
};

/// The combination to log in over: verified TLS first; with `allow_insecure`,
/// unverified TLS, then plaintext.
fn best(
    probes: &[ProbeReport],
    protocol: Protocol,
    host: &str,
    allow_insecure: bool,
) -> Option<Endpoint> {
    let usable = |p: &&ProbeReport| {
        !p.inferred
            && p.protocol == protocol
            && p.host == host
            && matches!(p.status, Status::Ok | Status::Warning)
    };
    let verified = |p: &ProbeReport| {
        p.tls
            .as_ref()
            .and_then(|t| t.certificate.as_ref())
            .is_some_and(|c| c.trusted)
    };
    let rank = |p: &ProbeReport| (p.security != Security::Tls, p.port == 25, p.port);
    let target = |p: &ProbeReport| Endpoint::new(host, p.combination());
    let secure = probes
        .iter()
        .filter(usable)
        .filter(|p| p.security.is_secure() && verified(p))
        .min_by_key(|p| rank(p));
    if let Some(p) = secure {
        return Some(target(p));
    }
    if !allow_insecure {
        return None;
    }
    // Unverified TLS still beats no encryption at all; a combination that only
    // failed on its certificate works otherwise.
    let insecure_rank = |p: &ProbeReport| (!p.security.is_secure(), rank(p));
    let works_but_unverified = |p: &&ProbeReport| {
        !p.inferred
            && p.protocol == protocol
            && p.host == host
            && p.failure.as_ref().is_some_and(|f| f.code.is_certificate())
    };
    probes
        .iter()
        .filter(|p| usable(p) || works_but_unverified(p))
        .min_by_key(|p| insecure_rank(p))
        .map(target)
}

/// The protocol and host pairs a login is tested on, one each.
fn pairs(probes: &[ProbeReport]) -> Vec<(Protocol, String)> {
    let mut pairs: Vec<(Protocol, String)> = probes
        .iter()
        .filter(|p| !p.inferred)
        .map(|p| (p.protocol, p.host.clone()))
        .collect();
    pairs.sort();
    pairs.dedup();
    pairs
}

/// What one login test starts as: not attempted.
fn blank(protocol: Protocol, host: &str) -> Login {
    Login {
        protocol,
        host: host.to_owned(),
        combination: None,
        result: LoginResult::NotAttempted,
        reason: None,
        secret_exposed: false,
        usernames: Vec::new(),
        explanation: None,
        send: None,
        probe: None,
        changed: Vec::new(),
    }
}

/// What to log in with: the secret, and the stored OAuth2 token's record when
/// it is one (to explain a refusal by its scopes).
pub struct Secret<'a> {
    /// The password or token.
    pub found: &'a Found,
    /// The stored token's record.
    pub token: Option<&'a TokenUse>,
}

/// Runs the login tests: one per protocol and host present in `probes`.
pub async fn run(
    ctx: &Context<'_>,
    auth: &AuthConfig,
    secret: &Secret<'_>,
    probes: &[ProbeReport],
) -> Vec<Login> {
    let pairs = pairs(probes);
    let logins = pairs
        .iter()
        .map(|(protocol, host)| login_one(ctx, auth, secret, probes, *protocol, host));
    futures_util::future::join_all(logins).await
}

/// Every login test not attempted, for one reason (no usable token).
#[must_use]
pub fn none_attempted(
    probes: &[ProbeReport],
    reason: &str,
    explanation: Option<&Explanation>,
) -> Vec<Login> {
    pairs(probes)
        .iter()
        .map(|(protocol, host)| {
            let mut login = blank(*protocol, host);
            login.reason = Some(reason.to_owned());
            login.explanation = explanation.cloned();
            login
        })
        .collect()
}

/// The logins a run ended during (`why`: "deadline", "interrupted"): each that
/// had a combination to log in over may have sent the credentials, so it says
/// so rather than nothing; one that had none sent nothing.
#[must_use]
pub fn cancelled(probes: &[ProbeReport], auth: &AuthConfig, why: &str) -> Vec<Login> {
    pairs(probes)
        .iter()
        .filter(|(protocol, host)| best(probes, *protocol, host, auth.allow_insecure).is_some())
        .map(|(protocol, host)| {
            let mut login = blank(*protocol, host);
            login.result = LoginResult::Cancelled;
            login.reason = Some(format!(
                "the run ended ({why}) during the login test: the credentials may have been \
                 sent, but no answer was seen"
            ));
            login
        })
        .collect()
}

async fn login_one(
    ctx: &Context<'_>,
    auth: &AuthConfig,
    secret: &Secret<'_>,
    probes: &[ProbeReport],
    protocol: Protocol,
    host: &str,
) -> Login {
    let mut login = blank(protocol, host);
    let what = secret_word(secret.found);
    let Some(endpoint) = best(probes, protocol, host, auth.allow_insecure) else {
        login.reason = Some(format!(
            "no {protocol} combination on {host} worked over TLS with a verified certificate, so the {what} was not sent{}",
            if auth.allow_insecure {
                ""
            } else {
                " (--allow-insecure-auth would allow plaintext or unverified TLS)"
            }
        ));
        return login;
    };
    login.combination = Some(endpoint.combination);
    let request = LoginRequest {
        plan: auth_plan(ctx, auth, secret.found, &endpoint),
        allow_insecure: auth.allow_insecure,
    };
    let report = ctx.connect(&endpoint, Task::Login(request)).await;
    judge(&mut login, &report, ctx.discovery, protocol);
    if let (Some(token), Some(last)) = (secret.token, last_refusal(&report)) {
        // A refused stored token: its scopes may say why better than the reply.
        if let Some(e) = token_refusal(last, token) {
            login.explanation = Some(e);
        }
    }
    if let Some(first) = probes.iter().find(|p| p.endpoint() == endpoint) {
        login.changed = changes(first, &report);
    }
    if !login.changed.is_empty() && login.result == LoginResult::NotAttempted {
        login.reason = Some(format!(
            "the second connection was not the same as the first ({}), so the {what} was not sent",
            login.changed.join("; ")
        ));
    }
    login.probe = Some(report);
    login
}

/// The secret in words, for the reasons it was not sent.
fn secret_word(found: &Found) -> &'static str {
    match found {
        Found::Password(_) => "password",
        Found::Token(_) => "OAuth2 token",
    }
}

/// What to log in with on `endpoint`, and what to do after.
fn auth_plan(ctx: &Context<'_>, auth: &AuthConfig, found: &Found, endpoint: &Endpoint) -> AuthPlan {
    let (protocol, host) = (endpoint.protocol(), endpoint.host.as_str());
    let (username, alt) = usernames(auth, ctx.address, ctx.discovery, protocol, host);
    AuthPlan {
        credentials: secrets::credentials(username, found.clone()),
        // A token names its account itself: the other username form cannot
        // make it valid, and a second refusal only adds the server's delay.
        alt_username: alt.filter(|_| !matches!(found, Found::Token(_))),
        forced: auth.forced,
        send_test: (protocol == Protocol::Smtp && auth.send_test)
            .then(|| send_test(ctx.address, auth.deliver))
            .flatten(),
        server: (host.to_owned(), endpoint.port()),
    }
}

/// Reads the login connection's record into the login's result.
fn judge(
    login: &mut Login,
    report: &ProbeReport,
    discovery: Option<&Discovery>,
    protocol: Protocol,
) {
    let outcome = report.session.as_ref().and_then(|s| s.auth.clone());
    login.send = report.session.as_ref().and_then(|s| s.send.clone());
    if let Some(o) = outcome {
        login.usernames = o.attempts.iter().map(|a| a.username.clone()).collect();
        // Judged on the login connection itself: was a secret written, and did
        // that connection's own certificate verify?
        login.secret_exposed = report.secret_sent && !verified(report);
        // A login is refused only when the server said so.
        let refused = o
            .attempts
            .iter()
            .rev()
            .find(|a| !a.ok && a.reply != NO_ANSWER);
        login.result = if o.ok {
            LoginResult::Ok
        } else if refused.is_some() {
            LoginResult::Failed
        } else if o.attempts.is_empty() {
            LoginResult::NotAttempted
        } else {
            LoginResult::ConnectionFailed
        };
        login.reason.clone_from(&o.not_attempted);
        if let Some(f) = report.failure.as_ref().filter(|f| f.phase == Phase::Auth) {
            // Sent, but the connection broke before (another) answer came.
            if login.result != LoginResult::Failed {
                login.result = LoginResult::ConnectionFailed;
            }
            login.reason = Some(format!(
                "the connection broke during the login, before the server answered: {}",
                f.message
            ));
        } else if let Some(f) = report.failure.as_ref().filter(|_| !report.secret_sent) {
            login.result = LoginResult::NotAttempted;
            login.reason = Some(failed_before(f));
        }
        if let Some(last) = refused {
            login.explanation = Some(explanation(report, discovery, protocol, last));
        }
    } else {
        // The credentials were never handed over (the connection failed, or its
        // certificate did not verify this time).
        login.result = LoginResult::NotAttempted;
        login.secret_exposed = report.secret_sent;
        login.reason = report.failure.as_ref().map(failed_before);
    }
}

fn failed_before(f: &crate::report::Failure) -> String {
    format!(
        "the login connection failed before any credentials were sent: {}",
        f.message
    )
}

fn verified(report: &ProbeReport) -> bool {
    report
        .tls
        .as_ref()
        .and_then(|t| t.certificate.as_ref())
        .is_some_and(|c| c.trusted)
}

/// What a refusal means, for the provider this server is known to be (by its
/// host, the address's provider, its certificate or greeting; never by the
/// refusal's wording alone). Token logins have their own rules.
fn explanation(
    report: &ProbeReport,
    discovery: Option<&Discovery>,
    protocol: Protocol,
    last: &AuthAttempt,
) -> Explanation {
    let discovered = discovery
        .and_then(|d| d.provider.as_ref())
        .map(|p| p.id.as_str());
    let cert_names = report
        .tls
        .as_ref()
        .and_then(|t| t.certificate.as_ref())
        .and_then(|c| c.certificates.first())
        .map(|leaf| leaf.subject_alt_names.clone())
        .unwrap_or_default();
    let provider = refusals::identify(&report.host, discovered, &cert_names);
    let greeting = report.session.as_ref().and_then(|s| s.greeting.as_deref());
    let (reply, provider) = (&last.reply, provider.as_deref());
    if matches!(last.mechanism.as_str(), "XOAUTH2" | "OAUTHBEARER") {
        let challenged = last.oauth_error.is_some();
        refusals::explain_token(protocol, reply, challenged, provider, greeting)
    } else {
        refusals::explain(protocol, reply, provider, greeting)
    }
}

/// The last login attempt of a login connection, when it was refused.
fn last_refusal(report: &ProbeReport) -> Option<&AuthAttempt> {
    report
        .session
        .as_ref()
        .and_then(|s| s.auth.as_ref())
        .and_then(|a| a.attempts.last())
        .filter(|a| !a.ok)
}

/// A refused OAuth2 login explained by what mailcheck knows of the token.
fn token_refusal(attempt: &AuthAttempt, token: &TokenUse) -> Option<Explanation> {
    let challenge = attempt
        .oauth_error
        .as_ref()
        .and_then(|e| e.scope.as_deref());
    oauth2::scope_missing(challenge, token)
}

/// What differs between the first connection of a combination and the login
/// connection: a leaf certificate or STARTTLS that changed, data injected after
/// STARTTLS. A server does not change these between two connections to one
/// address; something on the path that intercepts does.
fn changes(first: &ProbeReport, second: &ProbeReport) -> Vec<String> {
    let mut found = Vec::new();
    let leaf = |p: &ProbeReport| {
        p.tls
            .as_ref()
            .and_then(|t| t.certificate.as_ref())
            .and_then(|c| {
                c.certificates
                    .first()
                    .map(|l| (l.sha256.clone(), l.issuer.clone(), c.trusted))
            })
    };
    if let (Some((a, ai, _)), Some((b, bi, trusted))) = (leaf(first), leaf(second))
        && a != b
    {
        let verdict = if trusted { "verified" } else { "not trusted" };
        found.push(format!(
            "certificate changed: first SHA-256 {a} from {ai}, then {b} from {bi} ({verdict})"
        ));
    }
    let starttls = |p: &ProbeReport| p.session.as_ref().map(|s| s.starttls.clone());
    if let (Some(StartTlsState::Accepted), Some(then)) = (starttls(first), starttls(second))
        && then != StartTlsState::Accepted
        && then != StartTlsState::NotAttempted
    {
        let caps = |p: &ProbeReport| {
            p.session
                .as_ref()
                .map(|s| s.capabilities_before_tls.join(" "))
                .unwrap_or_default()
        };
        found.push(format!(
            "STARTTLS was offered on the first connection ({}) but not on the second ({})",
            caps(first),
            caps(second)
        ));
    }
    if second.starttls_injected() && !first.starttls_injected() {
        found.push("data was injected after STARTTLS on the second connection only".to_owned());
    }
    found
}

/// The username to try first and the other form to retry with once. An explicit
/// `--user` is used as given, without a retry.
fn usernames(
    auth: &AuthConfig,
    address: Option<&Address>,
    discovery: Option<&Discovery>,
    protocol: Protocol,
    host: &str,
) -> (String, Option<String>) {
    if let Some(user) = &auth.user {
        return (user.clone(), None);
    }
    let Some(a) = address else {
        // Config guarantees an address or --user.
        return (String::new(), None);
    };
    let wants_local = discovery
        .and_then(|d| {
            d.candidates
                .iter()
                .find(|c| c.setting.protocol == protocol && c.setting.host == host)
        })
        .and_then(|c| c.setting.username)
        == Some(UsernameForm::LocalPart);
    let (full, local) = (a.ascii(), a.local.clone());
    if wants_local {
        (local, Some(full))
    } else {
        (full, Some(local))
    }
}

fn send_test(address: Option<&Address>, deliver: bool) -> Option<SendTest> {
    let a = address?.ascii();
    let message = deliver.then(|| test_message(&a));
    Some(SendTest {
        from: a.clone(),
        to: a,
        message,
    })
}

/// A small, clearly labelled message to the user's own address.
fn test_message(address: &str) -> String {
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let id = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let domain = address.rsplit_once('@').map_or("localhost", |(_, d)| d);
    format!(
        "From: <{address}>\r\nTo: <{address}>\r\nSubject: mailcheck test message\r\nDate: {date}\r\n\
         Message-ID: <mailcheck.{id}@{domain}>\r\nAuto-Submitted: auto-generated\r\n\
         X-Mailer: mailcheck {}\r\n\r\n\
         This message was sent by mailcheck --send-test --deliver to check that this\r\n\
         account can send mail. It can be deleted.\r\n",
        env!("CARGO_PKG_VERSION")
    )
}
