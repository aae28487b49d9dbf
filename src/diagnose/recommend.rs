//! The settings to type in: the best combination that worked, per direction,
//! agreeing with every test of the run.
//!
//! Order, after RFC 8314 §3 and §5.1: a combination whose login succeeded
//! beats one not tested; then the preferred protocol (IMAP unless
//! `prefer_pop3`); then implicit TLS before STARTTLS; then the submission ports
//! before port 25 (RFC 6409: 25 is for relaying between servers).
//!
//! Never recommended: plaintext; TLS whose certificate did not verify; a
//! combination whose login was refused for a reason a setting cannot fix (a
//! wrong password: the server settings may be right, but nothing was proven);
//! an SMTP combination whose send test was refused; port 25 unless a login
//! worked there. The authentication named is the one that worked, or the one
//! the provider demands (OAuth2, an app password).

use super::Options;
use crate::model::{Protocol, Security};
use crate::report::{
    AuthMethod, Discovery, Login, LoginResult, ProbeReport, Recommendation, Recommended, Run,
    UsernameForm,
};

/// Refusal explanations that say which authentication the provider demands.
const DEMANDS: &[(&str, &str)] = &[
    ("microsoft_basic_auth_disabled", OAUTH),
    ("oauth2_token_rejected", OAUTH),
    ("gmail_app_password_required", APP_PASSWORD),
    ("gmail_web_login_required", APP_PASSWORD),
    ("yahoo_app_password_required", APP_PASSWORD),
    ("mailru_app_password_required", APP_PASSWORD),
    ("smtp_mechanism_too_weak", APP_PASSWORD),
];

const OAUTH: &str = "OAuth2";
const APP_PASSWORD: &str = "app password";
const PASSWORD: &str = "normal password";

/// The best working incoming and outgoing settings in `report`.
#[must_use]
pub fn recommend(report: &Run, opts: &Options) -> Recommendation {
    Recommendation {
        incoming: best(report, opts, true),
        outgoing: best(report, opts, false),
    }
}

/// Whether the combination worked over TLS whose certificate verified.
fn eligible(p: &ProbeReport) -> bool {
    super::findings::verified(p) && p.security.is_secure()
}

fn login_for<'a>(report: &'a Run, p: &ProbeReport) -> Option<&'a Login> {
    report
        .logins
        .iter()
        .find(|l| l.protocol == p.protocol && l.host == p.host)
}

/// What a refusal's explanation says the provider demands instead of the
/// password.
#[must_use]
pub fn demands(explanation_code: &str) -> Option<&'static str> {
    DEMANDS
        .iter()
        .find(|(c, _)| *c == explanation_code)
        .map(|(_, auth)| *auth)
}

/// The provider's family of refusal codes ("gmail", "microsoft").
#[must_use]
pub fn family(explanation_code: &str) -> &str {
    explanation_code
        .split('_')
        .next()
        .unwrap_or(explanation_code)
}

/// What the provider demands instead of the password: said by this login's
/// refusal, or by a clearer refusal of the same provider in this run (Gmail's
/// IMAP says only "invalid credentials" where its SMTP names the app password).
fn demanded_in(report: &Run, login: &Login) -> Option<&'static str> {
    let e = login.explanation.as_ref()?;
    demands(&e.code).or_else(|| {
        report
            .logins
            .iter()
            .filter_map(|l| l.explanation.as_ref())
            .filter(|o| {
                e.provider_specific && o.provider_specific && family(&o.code) == family(&e.code)
            })
            .find_map(|o| demands(&o.code))
    })
}

/// 0: the login worked over this very combination; 1: it worked over another
/// combination of this protocol and host; 2: not tested (or refused with a
/// reason the recommendation answers: OAuth2, an app password); `None`: not
/// to be recommended (refused otherwise, or the send test was refused).
fn login_rank(report: &Run, p: &ProbeReport) -> Option<u8> {
    let Some(login) = login_for(report, p) else {
        return Some(2);
    };
    if login.send.as_ref().is_some_and(|s| !s.accepted) {
        return None;
    }
    // A second connection unlike the first (another certificate, STARTTLS gone):
    // the combination is not to be trusted from here, working or not.
    if !login.changed.is_empty() && login.result != LoginResult::Ok {
        return None;
    }
    match login.result {
        LoginResult::Ok if login.combination == Some(p.combination()) => Some(0),
        LoginResult::Ok => Some(1),
        LoginResult::NotAttempted => Some(2),
        LoginResult::Failed => demanded_in(report, login).map(|_| 2),
        LoginResult::ConnectionFailed | LoginResult::Cancelled => None,
    }
}

/// Port 25 is for clients only where a login was proven to work there.
fn client_port(report: &Run, p: &ProbeReport, rank: u8) -> bool {
    p.port != 25 || (rank == 0 && login_for(report, p).is_some())
}

fn best(report: &Run, opts: &Options, incoming: bool) -> Option<Recommended> {
    let protocol_rank = |p: Protocol| match (p, opts.prefer_pop3) {
        (Protocol::Imap, false) | (Protocol::Pop3, true) => 0,
        _ => 1,
    };
    let (p, rank) = report
        .probes
        .iter()
        .filter(|p| p.protocol.is_incoming() == incoming && eligible(p))
        .filter_map(|p| login_rank(report, p).map(|r| (p, r)))
        .filter(|(p, r)| client_port(report, p, *r))
        .min_by_key(|(p, r)| {
            (
                *r,
                protocol_rank(p.protocol),
                p.security != Security::Tls,
                p.port == 25,
            )
        })?;
    Some(Recommended {
        protocol: p.protocol,
        host: p.host.clone(),
        port: p.port,
        security: p.security,
        username: username(report, p),
        authentication: authentication(report, p).to_owned(),
        login_verified: rank == 0,
    })
}

/// The username that logged in; otherwise the form discovery names; otherwise
/// the address.
fn username(report: &Run, p: &ProbeReport) -> Option<String> {
    if let Some(login) = login_for(report, p).filter(|l| l.result == LoginResult::Ok)
        && let Some(u) = login.usernames.last()
    {
        return Some(u.clone());
    }
    let address = report.inputs.address.clone();
    let form = report
        .discovery
        .as_ref()
        .and_then(|d| candidate_field(d, p, |s| s.username));
    match (form, &address) {
        (Some(UsernameForm::LocalPart), Some(a)) => {
            Some(a.rsplit_once('@').map_or(a.as_str(), |(l, _)| l).to_owned())
        }
        _ => address,
    }
}

/// A field of the discovery candidate for this combination, or else for this
/// protocol and host.
fn candidate_field<T>(
    d: &Discovery,
    p: &ProbeReport,
    field: impl Fn(&crate::report::Setting) -> Option<T>,
) -> Option<T> {
    let same_host = |c: &&crate::report::Candidate| {
        c.setting.protocol == p.protocol && c.setting.host == p.host
    };
    d.candidates
        .iter()
        .filter(same_host)
        .find(|c| c.setting.port == p.port)
        .and_then(|c| field(&c.setting))
        .or_else(|| {
            d.candidates
                .iter()
                .filter(same_host)
                .find_map(|c| field(&c.setting))
        })
}

/// The authentication a login used successfully; else the one a refusal or
/// the provider demands; else "normal password".
fn authentication(report: &Run, p: &ProbeReport) -> &'static str {
    let oauth_mech = |m: &str| matches!(m, "XOAUTH2" | "OAUTHBEARER");
    if let Some(login) = login_for(report, p) {
        let attempts = login
            .probe
            .as_ref()
            .and_then(|r| r.session.as_ref())
            .and_then(|s| s.auth.as_ref())
            .map(|a| a.attempts.as_slice())
            .unwrap_or_default();
        if let Some(worked) = attempts.iter().find(|a| a.ok) {
            return if oauth_mech(&worked.mechanism) {
                OAUTH
            } else {
                PASSWORD
            };
        }
        if let Some(auth) = demanded_in(report, login) {
            return auth;
        }
        if attempts.iter().any(|a| oauth_mech(&a.mechanism)) {
            return OAUTH;
        }
    }
    let Some(d) = &report.discovery else {
        return PASSWORD;
    };
    let note = |key: &str| {
        d.provider
            .as_ref()
            .is_some_and(|pr| pr.notes.iter().any(|n| n.key == key))
    };
    if note("oauth2_only") || candidate_field(d, p, |s| s.auth) == Some(AuthMethod::OAuth2) {
        OAUTH
    } else if note("app_password_required") {
        APP_PASSWORD
    } else {
        PASSWORD
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testing::{discovery, failed, login, ok, report};
    use crate::model::Code;
    use crate::model::Phase;

    #[test]
    fn implicit_tls_imap_beats_starttls_and_pop3_and_plain_is_never_chosen() {
        let r = report(vec![
            ok("pop3:995:tls"),
            ok("imap:143:plain"),
            ok("imap:143:starttls"),
            ok("imap:993:tls"),
            ok("smtp:25:starttls"),
            ok("smtp:587:starttls"),
        ]);
        let rec = recommend(&r, &Options::default());
        let i = rec.incoming.unwrap();
        assert_eq!(
            (i.protocol, i.port, i.security),
            (Protocol::Imap, 993, Security::Tls)
        );
        assert_eq!(i.username.as_deref(), Some("alice@example.com"));
        assert_eq!(i.authentication, "normal password");
        let o = rec.outgoing.unwrap();
        assert_eq!((o.port, o.security), (587, Security::StartTls));
        let pop = recommend(
            &r,
            &Options {
                prefer_pop3: true,
                ..Options::default()
            },
        );
        assert_eq!(pop.incoming.unwrap().protocol, Protocol::Pop3);
        let plain_only = report(vec![ok("imap:143:plain")]);
        assert_eq!(recommend(&plain_only, &Options::default()).incoming, None);
    }

    #[test]
    fn an_unverified_certificate_is_never_recommended() {
        let mut p = ok("imap:993:tls");
        p.tls
            .as_mut()
            .unwrap()
            .certificate
            .as_mut()
            .unwrap()
            .trusted = false;
        let r = report(vec![
            p,
            failed("imap:143:starttls", Code::CertExpired, Phase::Tls),
        ]);
        assert_eq!(recommend(&r, &Options::default()).incoming, None);
    }

    #[test]
    fn the_combination_whose_login_worked_wins_with_its_username() {
        let mut r = report(vec![ok("imap:993:tls"), ok("pop3:995:tls")]);
        r.logins.push(login(
            "imap:993:tls",
            LoginResult::Failed,
            &["alice@example.com"],
        ));
        r.logins.push(login(
            "pop3:995:tls",
            LoginResult::Ok,
            &["alice@example.com", "alice"],
        ));
        let i = recommend(&r, &Options::default()).incoming.unwrap();
        assert_eq!(i.protocol, Protocol::Pop3);
        assert_eq!(i.username.as_deref(), Some("alice"));
    }

    #[test]
    fn discovery_decides_the_username_form_and_oauth2() {
        let mut d = discovery();
        d.candidates.push(crate::report::Candidate {
            setting: crate::report::Setting {
                protocol: Protocol::Imap,
                host: crate::diagnose::testing::HOST.into(),
                port: 993,
                security: Security::Tls,
                username: Some(UsernameForm::LocalPart),
                auth: Some(AuthMethod::OAuth2),
            },
            sources: vec![crate::report::SourceKind::Autoconfig],
        });
        let mut r = report(vec![ok("imap:993:tls")]);
        r.discovery = Some(d);
        let i = recommend(&r, &Options::default()).incoming.unwrap();
        assert_eq!(i.username.as_deref(), Some("alice"));
        assert_eq!(i.authentication, "OAuth2");
    }

    fn refused_with(spec: &str, code: &str, provider_specific: bool) -> Login {
        let mut l = login(spec, LoginResult::Failed, &["alice@example.com"]);
        l.explanation = Some(crate::report::Explanation {
            code: code.into(),
            cause: "c".into(),
            fix: "f".into(),
            provider_specific,
            alert: None,
        });
        l
    }

    #[test]
    fn the_authentication_named_is_what_the_refusal_demands() {
        let mut r = report(vec![ok("imap:993:tls"), ok("smtp:587:starttls")]);
        r.logins = vec![
            refused_with("imap:993:tls", "microsoft_pop_imap_login_failed", true),
            refused_with("smtp:587:starttls", "microsoft_basic_auth_disabled", true),
        ];
        let rec = recommend(&r, &Options::default());
        assert_eq!(
            rec.incoming.unwrap().authentication,
            "OAuth2",
            "the clearer refusal of the same provider"
        );
        assert_eq!(rec.outgoing.unwrap().authentication, "OAuth2");
        r.logins = vec![refused_with(
            "smtp:587:starttls",
            "gmail_app_password_required",
            true,
        )];
        assert_eq!(
            recommend(&r, &Options::default())
                .outgoing
                .unwrap()
                .authentication,
            "app password"
        );
    }

    #[test]
    fn a_refused_password_or_send_test_is_not_recommended() {
        let mut r = report(vec![ok("imap:993:tls"), ok("smtp:465:tls")]);
        r.logins = vec![refused_with(
            "imap:993:tls",
            "imap_authentication_failed",
            false,
        )];
        let mut send = login("smtp:465:tls", LoginResult::Ok, &["alice@example.com"]);
        send.send = Some(crate::report::SendOutcome {
            mail_from: Some("530 5.7.1 Sender rejected".into()),
            rcpt_to: None,
            accepted: false,
            data: None,
        });
        r.logins.push(send);
        let rec = recommend(&r, &Options::default());
        assert_eq!(rec.incoming, None);
        assert_eq!(rec.outgoing, None);
    }

    #[test]
    fn port_25_is_recommended_only_where_a_login_worked() {
        let r = report(vec![ok("imap:993:tls"), ok("smtp:25:starttls")]);
        assert_eq!(recommend(&r, &Options::default()).outgoing, None);
        let mut r = r;
        r.logins.push(login(
            "smtp:25:starttls",
            LoginResult::Ok,
            &["alice@example.com"],
        ));
        let o = recommend(&r, &Options::default()).outgoing.unwrap();
        assert_eq!(o.port, 25);
        assert!(o.login_verified);
    }
}
