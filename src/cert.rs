//! Certificate analysis: a pure function from the chain a server presented (as
//! captured by the recording verifier in `net::tls`) to what a person needs to know
//! about it, whether or not verification passed.
//!
//! rustls answers "may I trust this server?" with one error; an administrator
//! needs to know *why not*: which certificate, which dates, which names, and
//! whether the chain is missing an intermediate or ends in a root nobody trusts.
//! So this module re-reads the chain itself (RFC 5280 structure, via
//! `x509-parser`) and turns the verifier's error into a [`Verdict`] with those
//! facts beside it. It does no I/O and no trust decisions of its own: trust stays
//! with rustls/webpki, and [`analyse`] only explains.
//!
//! Host names are checked the way RFC 9525 (which obsoletes RFC 6125) says, and
//! the way webpki does, so the report agrees with the verifier: only
//! subjectAltName entries count (the subject CN is never consulted, RFC 9525
//! §6.3), DNS names compare case-insensitively with a trailing dot ignored, a
//! wildcard is only ever the whole left-most label, and an IP address matches
//! only an iPAddress entry (RFC 9525 §6.5).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, Error};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::der_parser::oid::Oid;
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_DSA, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521,
    OID_PKCS1_RSAENCRYPTION, OID_PKCS1_RSASSAPSS, OID_SIG_ED448, OID_SIG_ED25519,
};
use x509_parser::prelude::{
    FromDer, GeneralName, ParsedExtension, SubjectPublicKeyInfo, X509Certificate, X509Error,
    oid_registry, oid2sn,
};
use x509_parser::public_key::PublicKey;
use x509_parser::time::ASN1Time;

/// Outcome of rustls/webpki verification, in mailcheck's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Chain reaches a trusted root, name matches, dates valid.
    Trusted,
    /// The leaf (or another certificate in the chain) has expired.
    Expired,
    /// The leaf (or another certificate in the chain) is not valid yet.
    NotYetValid,
    /// The leaf does not name the host that was asked for.
    NameMismatch,
    /// The leaf is self-signed and not trusted.
    SelfSigned,
    /// The chain ends in a self-signed root that is not trusted.
    Untrusted,
    /// The chain ends in a certificate that is not self-signed and whose issuer is
    /// unknown: the server most likely forgot to send an intermediate.
    IncompleteChain,
    /// Anything else rustls rejected (bad signature, revoked, bad encoding, …).
    Invalid,
}

/// Facts about one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    /// Subject distinguished name, RFC 4514 style.
    pub subject: String,
    /// Issuer distinguished name, RFC 4514 style.
    pub issuer: String,
    /// Serial number, upper-case hex bytes joined by ':'.
    pub serial: String,
    /// DNS names and IP addresses from subjectAltName.
    pub subject_alt_names: Vec<String>,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// Whole days from "now" to not-after (negative when expired).
    pub days_left: i64,
    /// Issuer equals subject and the signature verifies with its own key.
    pub self_signed: bool,
    /// Public key algorithm: "RSA", "EC", "Ed25519", "Ed448", "DSA", or the OID.
    pub key_type: String,
    /// Key size in bits (0 when unknown).
    pub key_bits: u32,
    /// Signature algorithm name, e.g. "sha256WithRSAEncryption", "ecdsa-with-SHA256".
    pub signature_algorithm: String,
    /// SHA-256 fingerprint, upper-case hex bytes joined by ':'.
    pub sha256: String,
}

/// The analysed chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Verification verdict.
    pub verdict: Verdict,
    /// The verifier's own words when verification failed.
    pub verifier_error: Option<String>,
    /// Whether the chain reaches a trusted root.
    pub trusted: bool,
    /// Whether the leaf names the host (RFC 6125 rules, wildcards in the left-most label only).
    pub host_name_matches: bool,
    /// Number of certificates the server sent.
    pub chain_length: usize,
    /// The certificates, leaf first, as sent.
    pub certificates: Vec<CertificateInfo>,
}

/// Explains the chain a server sent for `host` as of `now`.
///
/// `chain` is leaf first, exactly as sent; `verification` is what rustls/webpki
/// decided about it. Every certificate sent gets an entry, in order, so
/// `certificates.len() == chain_length` always holds: one that does not parse
/// keeps its fingerprint and says why in `subject` (see [`CertificateInfo`]).
#[must_use]
pub fn analyse(
    chain: &[CertificateDer<'_>],
    host: &str,
    now: OffsetDateTime,
    verification: Result<(), &Error>,
) -> ChainReport {
    let certificates: Vec<CertificateInfo> = chain.iter().map(|der| inspect(der, now)).collect();
    let host_name_matches = chain
        .first()
        .is_some_and(|leaf| leaf_names_host(leaf, host));
    let (verdict, verifier_error) = match verification {
        Ok(()) => (Verdict::Trusted, None),
        Err(error) => (verdict_for(error, &certificates), Some(error.to_string())),
    };
    ChainReport {
        verdict,
        verifier_error,
        trusted: verification.is_ok(),
        host_name_matches,
        chain_length: chain.len(),
        certificates,
    }
}

/// Turns a rustls 0.23 verification error into a [`Verdict`].
///
/// `UnknownIssuer` only says the path found no trust anchor; the chain itself
/// tells why. A self-signed leaf is its own (untrusted) root. Otherwise the last
/// certificate sent decides: self-signed means the server sent a root the client
/// does not trust; not self-signed means its issuer was neither sent nor trusted,
/// usually a forgotten intermediate (RFC 8446 §4.4.2 asks servers to send it) or
/// a private CA. With nothing to look at the answer is [`Verdict::Invalid`].
#[must_use]
pub fn verdict_for(error: &Error, certs: &[CertificateInfo]) -> Verdict {
    let Error::InvalidCertificate(error) = error else {
        return Verdict::Invalid;
    };
    match error {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => Verdict::Expired,
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            Verdict::NotYetValid
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            Verdict::NameMismatch
        }
        CertificateError::UnknownIssuer => unknown_issuer_verdict(certs),
        _ => Verdict::Invalid,
    }
}

fn unknown_issuer_verdict(certs: &[CertificateInfo]) -> Verdict {
    match (certs.first(), certs.last()) {
        (Some(leaf), _) if leaf.self_signed => Verdict::SelfSigned,
        (_, Some(last)) if last.self_signed => Verdict::Untrusted,
        (_, Some(_)) => Verdict::IncompleteChain,
        _ => Verdict::Invalid,
    }
}

/// One plain-English sentence per verdict, for people who do not read X.509.
#[must_use]
pub fn describe(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Trusted => {
            "The certificate is valid, names this host and chains to a trusted root."
        }
        Verdict::Expired => {
            "A certificate in the chain has expired; the server must install a renewed one."
        }
        Verdict::NotYetValid => {
            "A certificate in the chain is not valid yet; check the server's clock or wait for its start date."
        }
        Verdict::NameMismatch => "The certificate does not name this host; clients will refuse it.",
        Verdict::SelfSigned => {
            "The certificate is self-signed, so no client trusts it unless told to by hand."
        }
        Verdict::Untrusted => "The chain ends in a root certificate that is not trusted here.",
        Verdict::IncompleteChain => {
            "The chain is incomplete: the server does not send the intermediate certificate, or uses a private CA."
        }
        Verdict::Invalid => {
            "The certificate was rejected as invalid (bad signature, encoding or usage)."
        }
    }
}

/// Whether the DNS name `presented` in a certificate covers `reference`, the name
/// mailcheck connected to (RFC 9525 §6.3).
///
/// ASCII case is ignored and one trailing dot on either side is dropped. A
/// wildcard counts only as the entire left-most label and stands for exactly one
/// non-empty label: `*.example.com` covers `a.example.com` but neither
/// `example.com` nor `a.b.example.com`. Partial wildcards (`f*.example.com`) and
/// wildcards over fewer than two labels (`*.com`) never match, as in webpki.
#[must_use]
pub fn dns_name_matches(presented: &str, reference: &str) -> bool {
    let presented = presented.strip_suffix('.').unwrap_or(presented);
    let reference = reference.strip_suffix('.').unwrap_or(reference);
    if reference.is_empty() || reference.contains('*') {
        return false;
    }
    match presented.strip_prefix("*.") {
        Some(suffix) => wildcard_matches(suffix, reference),
        None => presented.eq_ignore_ascii_case(reference),
    }
}

fn wildcard_matches(suffix: &str, reference: &str) -> bool {
    if !suffix.contains('.') || suffix.contains('*') {
        return false;
    }
    reference
        .split_once('.')
        .is_some_and(|(label, rest)| !label.is_empty() && rest.eq_ignore_ascii_case(suffix))
}

/// A subjectAltName entry that can identify a server (RFC 5280 §4.2.1.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AltName<'a> {
    Dns(&'a str),
    Ip(IpAddr),
}

impl fmt::Display for AltName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(name) => f.write_str(name),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// DNS and IP entries of the subjectAltName extension; other kinds (e-mail,
/// URI, …) cannot name a server, and a malformed IP entry is left out. A
/// missing or unreadable extension yields no names.
fn alt_names<'a>(cert: &X509Certificate<'a>) -> Vec<AltName<'a>> {
    let Ok(Some(extension)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    let names = &extension.value.general_names;
    names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(AltName::Dns(dns)),
            GeneralName::IPAddress(bytes) => ip_from_bytes(bytes).map(AltName::Ip),
            _ => None,
        })
        .collect()
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(Ipv4Addr::from(v4).into());
    }
    <[u8; 16]>::try_from(bytes)
        .ok()
        .map(|v6| Ipv6Addr::from(v6).into())
}

fn leaf_names_host(der: &[u8], host: &str) -> bool {
    X509Certificate::from_der(der).is_ok_and(|(_, leaf)| names_host(&alt_names(&leaf), host))
}

/// RFC 9525 §6.3 and §6.5: an IP literal (bare or in brackets) matches only
/// iPAddress entries, byte for byte; anything else matches only DNS entries.
fn names_host(names: &[AltName<'_>], host: &str) -> bool {
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    match literal.unwrap_or(host).parse::<IpAddr>() {
        Ok(ip) => names.contains(&AltName::Ip(ip)),
        Err(_) => names.iter().any(
            |name| matches!(name, AltName::Dns(presented) if dns_name_matches(presented, host)),
        ),
    }
}

/// Describes one certificate as sent. DER that does not parse still gets an
/// entry, so the chain keeps its shape: its subject reads
/// `(unparseable: reason)`, its fingerprint is real and the other fields are
/// empty or zero.
fn inspect(der: &[u8], now: OffsetDateTime) -> CertificateInfo {
    match X509Certificate::from_der(der) {
        Ok((_, cert)) => certificate_info(&cert, der, now),
        Err(error) => unparseable(der, &error.to_string()),
    }
}

fn certificate_info(
    cert: &X509Certificate<'_>,
    der: &[u8],
    now: OffsetDateTime,
) -> CertificateInfo {
    let validity = cert.validity();
    let spki = cert.public_key();
    CertificateInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: colon_hex(cert.raw_serial()),
        subject_alt_names: alt_names(cert).iter().map(ToString::to_string).collect(),
        not_before: rfc3339(validity.not_before),
        not_after: rfc3339(validity.not_after),
        days_left: days_until(now, validity.not_after.to_datetime()),
        self_signed: is_self_signed(cert),
        key_type: key_type(spki),
        key_bits: key_bits(spki),
        signature_algorithm: signature_algorithm_name(&cert.signature_algorithm.algorithm),
        sha256: fingerprint(der),
    }
}

fn unparseable(der: &[u8], reason: &str) -> CertificateInfo {
    CertificateInfo {
        subject: format!("(unparseable: {reason})"),
        issuer: String::new(),
        serial: String::new(),
        subject_alt_names: Vec::new(),
        not_before: String::new(),
        not_after: String::new(),
        days_left: 0,
        self_signed: false,
        key_type: String::new(),
        key_bits: 0,
        signature_algorithm: String::new(),
        sha256: fingerprint(der),
    }
}

/// Upper-case hex bytes joined by ':', the form people compare by eye.
fn colon_hex(bytes: &[u8]) -> String {
    let pairs: Vec<String> = bytes.iter().map(|byte| format!("{byte:02X}")).collect();
    pairs.join(":")
}

fn fingerprint(der: &[u8]) -> String {
    colon_hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

fn rfc3339(time: ASN1Time) -> String {
    time.to_datetime()
        .format(&Rfc3339)
        .unwrap_or_else(|_| time.to_string())
}

/// floor((until - now) / 1 day), so a certificate that expired an hour ago has
/// -1 days left, not 0.
fn days_until(now: OffsetDateTime, until: OffsetDateTime) -> i64 {
    const NANOS_PER_DAY: i128 = 86_400 * 1_000_000_000;
    (until - now).whole_nanoseconds().div_euclid(NANOS_PER_DAY) as i64
}

/// Self-signed in RFC 5280's sense (§3.2, §6.1): self-issued (issuer and
/// subject are the same name, compared as encoded) and its own key verifies its
/// signature. Where ring cannot check the signature (an algorithm it lacks, or
/// an RSA key under 2048 bits) matching key identifiers stand in for it.
fn is_self_signed(cert: &X509Certificate<'_>) -> bool {
    if cert.subject().as_raw() != cert.issuer().as_raw() {
        return false;
    }
    match cert.verify_signature(None) {
        Ok(()) => true,
        Err(X509Error::SignatureUnsupportedAlgorithm) => key_identifiers_agree(cert),
        Err(_) if is_small_rsa(cert.public_key()) => key_identifiers_agree(cert),
        Err(_) => false,
    }
}

fn is_small_rsa(spki: &SubjectPublicKeyInfo<'_>) -> bool {
    matches!(spki.parsed(), Ok(PublicKey::RSA(_))) && key_bits(spki) < 2048
}

/// The authority key identifier names the subject's own key, or is absent
/// (RFC 5280 §4.2.1.1 lets self-signed certificates omit it).
fn key_identifiers_agree(cert: &X509Certificate<'_>) -> bool {
    let mut subject_key = None;
    let mut authority_key = None;
    for extension in cert.iter_extensions() {
        match extension.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => subject_key = Some(id.0),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key = aki.key_identifier.as_ref().map(|id| id.0);
            }
            _ => {}
        }
    }
    authority_key.is_none_or(|authority| subject_key == Some(authority))
}

const KEY_TYPES: [(Oid<'static>, &str); 6] = [
    (OID_PKCS1_RSAENCRYPTION, "RSA"),
    (OID_PKCS1_RSASSAPSS, "RSA-PSS"),
    (OID_KEY_TYPE_EC_PUBLIC_KEY, "EC"),
    (OID_SIG_ED25519, "Ed25519"),
    (OID_SIG_ED448, "Ed448"),
    (OID_KEY_TYPE_DSA, "DSA"),
];

fn key_type(spki: &SubjectPublicKeyInfo<'_>) -> String {
    let oid = &spki.algorithm.algorithm;
    KEY_TYPES
        .iter()
        .find(|(known, _)| known == oid)
        .map_or_else(|| oid.to_id_string(), |(_, name)| (*name).to_owned())
}

/// RSA: modulus length; EC: the named curve's size (P-521 is 521, not the 528
/// its point encoding suggests); Ed25519/Ed448: 256/448; 0 when unknown.
fn key_bits(spki: &SubjectPublicKeyInfo<'_>) -> u32 {
    let oid = &spki.algorithm.algorithm;
    if *oid == OID_SIG_ED25519 {
        return 256;
    }
    if *oid == OID_SIG_ED448 {
        return 448;
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => significant_bits(rsa.modulus),
        Ok(PublicKey::EC(point)) => curve_bits(spki).unwrap_or(point.key_size() as u32),
        Ok(other) => other.key_size() as u32,
        Err(_) => 0,
    }
}

/// Bits in a big-endian unsigned integer, ignoring DER's leading zero bytes.
fn significant_bits(bytes: &[u8]) -> u32 {
    let first = bytes.iter().position(|&byte| byte != 0);
    first.map_or(0, |at| {
        (bytes.len() - at) as u32 * 8 - bytes[at].leading_zeros()
    })
}

fn curve_bits(spki: &SubjectPublicKeyInfo<'_>) -> Option<u32> {
    let curve = spki.algorithm.parameters.as_ref()?.as_oid().ok()?;
    [
        (OID_EC_P256, 256),
        (OID_NIST_EC_P384, 384),
        (OID_NIST_EC_P521, 521),
    ]
    .into_iter()
    .find_map(|(known, bits)| (known == curve).then_some(bits))
}

/// OpenSSL-style names ("sha256WithRSAEncryption", "ecdsa-with-SHA256",
/// "ED25519"), falling back to the dotted OID.
fn signature_algorithm_name(oid: &Oid<'_>) -> String {
    if *oid == OID_SIG_ED25519 {
        return "ED25519".to_owned();
    }
    if *oid == OID_SIG_ED448 {
        return "ED448".to_owned();
    }
    oid2sn(oid, oid_registry()).map_or_else(|_| oid.to_id_string(), str::to_owned)
}
