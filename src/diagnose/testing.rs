//! Test support: short ways to build the reports the rules read.
//!
//! `ok("imap:993:tls")` is a combination that worked (with a trusted certificate
//! when it is secure); `failed("smtp:587:tls", Code::TlsGotPlaintext, Phase::Tls)`
//! one that did not. A spec may name its host after '@'; the default host is
//! [`HOST`]. Tests then change the one field they are about.

use crate::model::Code;
use crate::model::{Phase, Protocol, Security};
use crate::report::CertificateInfo;
use crate::report::ChainReport;
use crate::report::Session;
use crate::report::Verdict;
use crate::report::{
    ConnectAttempt, Failure, Inputs, ProbeReport, Run, SCHEMA_VERSION, Status, TlsReport,
};

/// The host a spec without '@' is on.
pub(crate) const HOST: &str = "mail.example.com";

/// Parses "imap:993:tls" or "imap:993:tls@host".
fn parse(spec: &str) -> (Protocol, u16, Security, String) {
    let (combo, host) = spec.split_once('@').unwrap_or((spec, HOST));
    let parts: Vec<&str> = combo.split(':').collect();
    let protocol = match parts[0] {
        "pop3" => Protocol::Pop3,
        "imap" => Protocol::Imap,
        "smtp" => Protocol::Smtp,
        other => panic!("protocol {other}"),
    };
    let security = match parts[2] {
        "tls" => Security::Tls,
        "starttls" => Security::StartTls,
        "plain" => Security::Plain,
        other => panic!("security {other}"),
    };
    (
        protocol,
        parts[1].parse().unwrap(),
        security,
        host.to_owned(),
    )
}

/// A leaf certificate issued by "CN=Test CA" with `days_left` days to go.
pub(crate) fn leaf(sha256: &str, days_left: i64) -> CertificateInfo {
    CertificateInfo {
        subject: "CN=mail.example.com".into(),
        issuer: "CN=Test CA,O=Example".into(),
        serial: "01".into(),
        subject_alt_names: vec!["mail.example.com".into()],
        not_before: "2025-01-01T00:00:00Z".into(),
        not_after: "2026-01-01T00:00:00Z".into(),
        days_left,
        self_signed: false,
        key_type: "EC".into(),
        key_bits: 256,
        signature_algorithm: "ecdsa-with-SHA256".into(),
        sha256: sha256.into(),
    }
}

/// A trusted chain of one leaf.
pub(crate) fn chain(leaf: CertificateInfo) -> ChainReport {
    ChainReport {
        verdict: Verdict::Trusted,
        verifier_error: None,
        trusted: true,
        host_name_matches: true,
        chain_length: 1,
        certificates: vec![leaf],
    }
}

/// A combination that worked: connected over IPv4, with a TLS 1.3 session and a
/// trusted certificate when the mode is secure.
pub(crate) fn ok(spec: &str) -> ProbeReport {
    let (protocol, port, security, host) = parse(spec);
    let tls = security.is_secure().then(|| TlsReport {
        via_starttls: security == Security::StartTls,
        version: Some("TLSv1.3".into()),
        cipher_suite: Some("TLS13_AES_128_GCM_SHA256".into()),
        sni: Some(host.clone()),
        certificate: Some(chain(leaf("AA:01", 90))),
        injected_bytes_discarded: 0,
    });
    ProbeReport {
        protocol,
        host,
        port,
        security,
        inferred: false,
        status: Status::Ok,
        failure: None,
        warnings: Vec::new(),
        phases: Vec::new(),
        addresses: vec!["192.0.2.1".into()],
        connects: vec![attempt("192.0.2.1:1", "ipv4", None)],
        peer: Some("192.0.2.1".into()),
        tls,
        session: Some(Session::default()),
        transcript: Vec::new(),
        secret_sent: false,
        duration_ms: 10,
    }
}

/// A combination that failed with `code` in `phase` (no TLS session, no session).
pub(crate) fn failed(spec: &str, code: Code, phase: Phase) -> ProbeReport {
    let mut p = ok(spec);
    p.status = Status::Failed;
    p.failure = Some(Failure {
        code,
        phase,
        message: format!("{code} in {phase}"),
    });
    p.tls = None;
    if matches!(phase, Phase::Resolve | Phase::Connect) {
        p.session = None;
        p.peer = None;
        p.connects = if phase == Phase::Connect {
            vec![attempt("192.0.2.1:1", "ipv4", Some(code))]
        } else {
            Vec::new()
        };
    }
    p
}

/// One connection attempt; `code` set means it failed.
pub(crate) fn attempt(address: &str, family: &str, code: Option<Code>) -> ConnectAttempt {
    ConnectAttempt {
        address: address.into(),
        family: family.into(),
        ok: code.is_none(),
        duration_ms: 1,
        code,
        error: code.map(|c| format!("{c} ({address})")),
    }
}

/// A warning of `code` in `phase`.
pub(crate) fn warning(code: Code, phase: Phase) -> Failure {
    Failure {
        code,
        phase,
        message: format!("{code} in {phase}"),
    }
}

/// A report around `probes`, for alice@example.com.
pub(crate) fn report(probes: Vec<ProbeReport>) -> Run {
    Run {
        schema_version: SCHEMA_VERSION,
        mailcheck_version: "test".into(),
        started_at: "2025-06-01T00:00:00Z".into(),
        duration_ms: 100,
        inputs: Inputs {
            address: Some("alice@example.com".into()),
            pop3_host: Some(HOST.into()),
            imap_host: Some(HOST.into()),
            smtp_host: Some(HOST.into()),
            only: Vec::new(),
            dns_server: None,
            ca_file: None,
            trust_anchors: "system (1 root)".into(),
            timeout_ms: 10_000,
            deadline_ms: None,
            address_family: "any".into(),
        },
        notes: Vec::new(),
        discovery: None,
        logins: Vec::new(),
        oauth2_token: None,
        relay_tests: Vec::new(),
        cut_short: None,
        probes,
        dns_check: None,
    }
}

/// Discovery for alice@example.com with no sources, candidates or provider.
pub(crate) fn discovery() -> crate::report::Discovery {
    crate::report::Discovery {
        address: crate::model::address::Address {
            input: "alice@example.com".into(),
            local: "alice".into(),
            domain: "example.com".into(),
            domain_ascii: "example.com".into(),
        },
        provider: None,
        sources: Vec::new(),
        candidates: Vec::new(),
        disagreements: Vec::new(),
        not_offered: Vec::new(),
        offline: false,
        duration_ms: 1,
    }
}

/// A login test on `spec`'s protocol and host, over that combination.
pub(crate) fn login(
    spec: &str,
    result: crate::report::LoginResult,
    users: &[&str],
) -> crate::report::Login {
    let (protocol, port, security, host) = parse(spec);
    crate::report::Login {
        protocol,
        host,
        combination: Some(crate::model::Combination::new(protocol, port, security)),
        result,
        reason: None,
        secret_exposed: false,
        usernames: users.iter().map(|u| (*u).to_owned()).collect(),
        explanation: None,
        send: None,
        probe: None,
        changed: Vec::new(),
    }
}
