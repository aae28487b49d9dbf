//! Target `cert`: [`cert::analyse`], which re-reads the chain a server sent
//! (any DER, parsed with x509-parser) to explain the verifier's verdict.
//!
//! Input: three configuration bytes (the verifier's verdict, the host name,
//! the time "now", each chosen from a list), then the chain: DER items one
//! after the other, split where each item's own length says it ends (a broken
//! length takes the rest), at most [`MAX_CHAIN`] of them.
//!
//! Invariants: one entry per certificate sent, whether or not it parses, each
//! with a SHA-256 fingerprint; "trusted" exactly when the verifier said so, and
//! then the verdict is Trusted; the verdicts that name a cause (expired, not
//! yet valid, wrong name) follow the verifier; a host name matches only when a
//! leaf was sent and names something.

use mailcheck::cert;
use mailcheck::report::Verdict;
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, Error};
use time::OffsetDateTime;

use super::input;

/// Most certificates read from one input (a real chain has two to four).
pub const MAX_CHAIN: usize = 64;

/// Host names the chain is checked against: names, wildcards, IP literals.
const HOSTS: [&str; 8] = [
    "mail.example.com",
    "MAIL.Example.COM.",
    "a.b.example.com",
    "*.example.com",
    "127.0.0.1",
    "[::1]",
    "xn--bcher-kva.example",
    "",
];

/// "Now": Unix seconds from year 1 to year 9999.
const NOWS: [i64; 5] = [
    -62_135_596_800,
    0,
    1_750_000_000,
    4_102_444_800,
    253_402_300_799,
];

/// Runs one input.
pub fn run(data: &[u8]) {
    let ([verdict, host, now], rest) = input::split::<3>(data);
    let chain: Vec<CertificateDer<'_>> = der_items(rest)
        .into_iter()
        .take(MAX_CHAIN)
        .map(CertificateDer::from)
        .collect();
    let error = verifier_error(verdict);
    let host = HOSTS[usize::from(host) % HOSTS.len()];
    let now = OffsetDateTime::from_unix_timestamp(NOWS[usize::from(now) % NOWS.len()])
        .expect("a time in range");
    let report = cert::analyse(&chain, host, now, error.as_ref().map_or(Ok(()), Err));
    assert_eq!(report.chain_length, chain.len());
    assert_eq!(report.certificates.len(), chain.len());
    assert_eq!(report.trusted, error.is_none());
    assert_eq!(report.verifier_error.is_some(), error.is_some());
    assert_eq!(report.verdict == Verdict::Trusted, error.is_none());
    let expected = match &error {
        Some(Error::InvalidCertificate(CertificateError::Expired)) => Some(Verdict::Expired),
        Some(Error::InvalidCertificate(CertificateError::NotValidYet)) => {
            Some(Verdict::NotYetValid)
        }
        Some(Error::InvalidCertificate(CertificateError::NotValidForName)) => {
            Some(Verdict::NameMismatch)
        }
        _ => None,
    };
    assert!(expected.is_none_or(|v| v == report.verdict), "{report:?}");
    assert!(!cert::describe(report.verdict).is_empty());
    for info in &report.certificates {
        assert_eq!(info.sha256.len(), 32 * 3 - 1, "{info:?}");
    }
    if report.host_name_matches {
        let leaf = &report.certificates[0];
        assert!(!leaf.subject_alt_names.is_empty(), "{leaf:?}");
    }
}

/// The verifier's verdict to explain.
fn verifier_error(selector: u8) -> Option<Error> {
    let certificate = |e| Some(Error::InvalidCertificate(e));
    match selector % 8 {
        0 => None,
        1 => certificate(CertificateError::Expired),
        2 => certificate(CertificateError::NotValidYet),
        3 => certificate(CertificateError::NotValidForName),
        4 => certificate(CertificateError::UnknownIssuer),
        5 => certificate(CertificateError::BadSignature),
        6 => certificate(CertificateError::BadEncoding),
        _ => Some(Error::General("fuzz".to_owned())),
    }
}

/// `bytes` cut into DER items by their own lengths (X.690 §8.1.3, definite form
/// with up to four length bytes); an item whose length is broken or too long
/// takes the rest.
#[must_use]
pub fn der_items(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut items = Vec::new();
    while !bytes.is_empty() {
        let n = der_length(bytes).map_or(bytes.len(), |n| n.clamp(1, bytes.len()));
        let (item, rest) = bytes.split_at(n);
        items.push(item);
        bytes = rest;
    }
    items
}

/// The whole length (header included) that a DER item says it has.
fn der_length(bytes: &[u8]) -> Option<usize> {
    let first = *bytes.get(1)?;
    if first < 0x80 {
        return Some(2 + usize::from(first));
    }
    let n = usize::from(first & 0x7f);
    if n == 0 || n > 4 {
        return None;
    }
    let length = bytes
        .get(2..2 + n)?
        .iter()
        .fold(0usize, |acc, &b| acc << 8 | usize::from(b));
    length.checked_add(2 + n)
}
