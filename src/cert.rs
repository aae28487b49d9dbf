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

use crate::report::{CertificateInfo, ChainReport, Verdict};
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, Error};
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
        // webpki's path-building limits come through as `Other`; only their
        // names tell them apart (rustls does not re-export webpki's error).
        CertificateError::Other(other) if path_too_long(&other.to_string()) => {
            Verdict::ChainTooLong
        }
        // A self-signed leaf that is not itself a trust anchor can never verify,
        // whatever error webpki met first while looking for an issuer (it may try
        // an unrelated root with the same name and fail on its key type).
        _ if certs.first().is_some_and(|leaf| leaf.self_signed) => Verdict::SelfSigned,
        _ => Verdict::Invalid,
    }
}

/// Whether webpki gave up because the chain was too long to build a path through.
fn path_too_long(error: &str) -> bool {
    [
        "MaximumPathDepthExceeded",
        "MaximumPathBuildCallsExceeded",
        "MaximumSignatureChecksExceeded",
    ]
    .iter()
    .any(|e| error.contains(e))
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
            "A certificate in the chain is not valid yet; check this machine's clock, or the server installed it too early."
        }
        Verdict::NameMismatch => "The certificate does not name this host; clients will refuse it.",
        Verdict::SelfSigned => {
            "The certificate is self-signed, so no client trusts it unless told to by hand."
        }
        Verdict::Untrusted => "The chain ends in a root certificate that is not trusted here.",
        Verdict::IncompleteChain => {
            "The chain is incomplete: the server does not send the intermediate certificate, or uses a private CA."
        }
        Verdict::ChainTooLong => {
            "The certificate chain is longer than any client follows (too many intermediate certificates)."
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

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
        PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519, SanType, SerialNumber,
        SignatureAlgorithm,
    };
    use rustls::pki_types::{ServerName, UnixTime};
    use time::{Date, Duration, Month};

    /// A 2048-bit RSA key made with `openssl genpkey` for these tests only: ring,
    /// rcgen's backend here, can sign with RSA but cannot generate RSA keys.
    const RSA_2048_KEY: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDciVyc8wJvOOM5\n\
TtounecdPv2rGDDyBcrtnOeNMKuPemjd6uLUhguD/5Sg0tqikZHm+PrZgFkEp0zp\n\
D4V+nuyHQdvSRq34W9Eb2woVDW4Hb5ue1RblStR3oLDaR1UGlhKkA0rbcX0N2z+K\n\
POPBUewClJ8IPVg6BR5rBmudI092kHvK8RU6Gwtw6v5GbofS4NQEtO4TDyPDqD+H\n\
rDv7OxdXVS3uqFe8UC7R4rAEdNQM6u3BEciCPxTEu+o4dB9DRUjQZCcBNA/VjaWM\n\
9a8QEViAH+dys+Vz2v1eFgibUSN2ijXZDrxaQTgi6Wza6rJ9RohTZAj7ScwEAeam\n\
NdKKN1ulAgMBAAECggEAbEokyEqJPPz1kjvWZcKSbCl0nPFVg1n10aRUjN9DtsG4\n\
QZPnSs0BVZEHtcqjoeUR/BTw9CESVPcjjGNbPRgjc60SmBetsEDBlsiBFGJST2Nt\n\
ylm/EtsiJhWpEZ2qMgA56gBV3xhEfCvW8PXCLjigR4ob5wtcSa0eyRXPfMsMZ15U\n\
iLMJt+HdkCKtgRZo+yPLuOsB+gFA3/FZU+YkD8aZk2BXU2c2UOnj8AFWBXixxisE\n\
vnwkdkbcZ45A4x5xlRci3SX+1AUR08OtOBzw6Jr4uEa62WDwGnGZBziM2qRyBqzm\n\
NyO8Efg7eZbaPxtuzB7nUR0GzUdCYgy0xYUufCYgxwKBgQDzaPzPlncEAuSlztBh\n\
SoT8n1Lja+rv5aWyMZhqLCv2OXr9v6kT0cAmBYjBYrPu3kF4PgCz/YERY+mjBqLX\n\
rjIOTDTkV0sC1qRck6ckcnqKcRkFeyrfqpinFbafe+0NfN3XkNsYap0/fgmjTLIi\n\
J1KPEhIuSQMPV7JQqzTZ/ixyBwKBgQDn8YD/t9+6jSnI2OTNrnIZ1uuztAfnN89F\n\
bIPeK/hAaIYVwjjuJql31TD1hL9Ugebu1/PryfYSUItATnUR89rQrda6XETk2Pgh\n\
I+W0YzknkV018sefJGAlJz0s1k4IazWhg7XgRzE3CqAn0vrMBtFaeoa8lnkADPHx\n\
iMS+GRwp8wKBgQDAsq3p/XltMIkpBsiLLT6I6+zn5CiTEOATaRX7f8qx3CGVPyUw\n\
bo5Ky3jPeD9wbH2yHovZ8mg6hzmQeZFzZBF2pjf9SWo17g0iyTW6MfL3JMAlSbPQ\n\
bDL7m8H/ElHBqsfJf4EkHEsu163znKUtSqoeX7UK9Xw5qjidilyF86XmAwKBgBCL\n\
nrsfH7uMBFYKes/dSNBlD21DQ2kQBx4ZrpJzqoLVsfLtZug+I8qjj5mD/a4GkjWp\n\
fAHu5znJOxW8Qwej0JEgRXgHyvZUL+cVS3aBuXsEGJUXm3vTuXQNB4UiSHC7TRkX\n\
byrviSg2/tO4biGNvvNoWCItzbXeNogXTImO+v5XAoGAednB2LO0wfPDuhWpZg0u\n\
osOcx+IhBs91oBdzo3lDKdPCAyiZqBjxvNPMBm/Ah3tL2IYAnRQDoHCghpZh5Xpv\n\
/mJDciwM4qaS9ur534h2Cdu3+hFfnayKMKkZG/16J3178792rqk86pLo1tEuglST\n\
RwKVwqQNg7N8EdexVsM1OLE=\n\
-----END PRIVATE KEY-----\n\
";

    /// The fixed "now" of every test: 2025-01-01T00:00:00Z.
    fn now() -> OffsetDateTime {
        Date::from_calendar_date(2025, Month::January, 1)
            .unwrap()
            .midnight()
            .assume_utc()
    }

    /// Valid from 30 days before [`now`] to 60 days after, named `cn`, with `sans`
    /// (IP literals become iPAddress entries).
    fn params(cn: &str, sans: &[&str]) -> CertificateParams {
        let sans: Vec<String> = sans.iter().map(|san| (*san).to_owned()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.not_before = now() - Duration::days(30);
        params.not_after = now() + Duration::days(60);
        params
    }

    fn key(algorithm: &'static SignatureAlgorithm) -> KeyPair {
        KeyPair::generate_for(algorithm).unwrap()
    }

    /// A CA certificate with the issuer that signs below it.
    struct Authority {
        der: CertificateDer<'static>,
        issuer: Issuer<'static, KeyPair>,
    }

    fn ca_params(cn: &str) -> CertificateParams {
        let mut params = params(cn, &[]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
    }

    fn root(cn: &str) -> Authority {
        let (params, key) = (ca_params(cn), key(&PKCS_ECDSA_P384_SHA384));
        let der = params.self_signed(&key).unwrap().der().clone();
        Authority {
            der,
            issuer: Issuer::new(params, key),
        }
    }

    fn intermediate(cn: &str, parent: &Authority) -> Authority {
        let (params, key) = (ca_params(cn), key(&PKCS_ECDSA_P256_SHA256));
        let der = params
            .signed_by(&key, &parent.issuer)
            .unwrap()
            .der()
            .clone();
        Authority {
            der,
            issuer: Issuer::new(params, key),
        }
    }

    fn signed(params: &CertificateParams, by: &Authority) -> CertificateDer<'static> {
        let key = key(&PKCS_ECDSA_P256_SHA256);
        params.signed_by(&key, &by.issuer).unwrap().der().clone()
    }

    fn self_signed(params: &CertificateParams, key: &KeyPair) -> CertificateDer<'static> {
        params.self_signed(key).unwrap().der().clone()
    }

    fn info(der: &[u8]) -> CertificateInfo {
        inspect(der, now())
    }

    fn matches_host(der: &CertificateDer<'_>, host: &str) -> bool {
        analyse(std::slice::from_ref(der), host, now(), Ok(())).host_name_matches
    }

    fn invalid(error: CertificateError) -> Error {
        Error::InvalidCertificate(error)
    }

    fn is_colon_hex(text: &str, bytes: usize) -> bool {
        let pairs: Vec<&str> = text.split(':').collect();
        pairs.len() == bytes
            && pairs.iter().all(|pair| {
                pair.len() == 2 && pair.chars().all(|c| matches!(c, '0'..='9' | 'A'..='F'))
            })
    }

    #[test]
    fn every_field_of_a_known_leaf_is_reported() {
        let ca = root("Test Root CA");
        let mut params = params(
            "mail.example.com",
            &["mail.example.com", "127.0.0.2", "::1"],
        );
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example Mail");
        params.serial_number = Some(SerialNumber::from_slice(&[0x0A, 0x1B, 0x2C]));
        let leaf = info(&signed(&params, &ca));

        assert_eq!(leaf.subject, "CN=mail.example.com, O=Example Mail");
        assert_eq!(leaf.issuer, "CN=Test Root CA");
        assert_eq!(leaf.serial, "0A:1B:2C");
        assert_eq!(
            leaf.subject_alt_names,
            ["mail.example.com", "127.0.0.2", "::1"]
        );
        assert_eq!(leaf.not_before, "2024-12-02T00:00:00Z");
        assert_eq!(leaf.not_after, "2025-03-02T00:00:00Z");
        assert_eq!(leaf.days_left, 60);
        assert!(!leaf.self_signed);
        assert_eq!((leaf.key_type.as_str(), leaf.key_bits), ("EC", 256));
        assert_eq!(leaf.signature_algorithm, "ecdsa-with-SHA384");
        assert!(is_colon_hex(&leaf.sha256, 32), "{}", leaf.sha256);
    }

    #[test]
    fn days_left_rounds_down_not_towards_zero() {
        let key = key(&PKCS_ECDSA_P256_SHA256);
        let days_left = |not_after: OffsetDateTime| {
            let mut params = params("mail.example.com", &[]);
            params.not_after = not_after;
            info(&self_signed(&params, &key)).days_left
        };
        assert_eq!(days_left(now() + Duration::hours(1)), 0);
        assert_eq!(days_left(now() - Duration::hours(1)), -1);
        assert_eq!(
            days_left(now() - Duration::days(10) + Duration::hours(1)),
            -10
        );
        assert_eq!(days_left(now() + Duration::days(90)), 90);
    }

    #[test]
    fn key_types_sizes_and_signature_algorithms() {
        let rsa = KeyPair::from_pem(RSA_2048_KEY).unwrap();
        let cases = [
            (key(&PKCS_ECDSA_P256_SHA256), "EC", 256, "ecdsa-with-SHA256"),
            (key(&PKCS_ECDSA_P384_SHA384), "EC", 384, "ecdsa-with-SHA384"),
            (key(&PKCS_ED25519), "Ed25519", 256, "ED25519"),
            (rsa, "RSA", 2048, "sha256WithRSAEncryption"),
        ];
        for (key, key_type, key_bits, signature_algorithm) in cases {
            let cert = info(&self_signed(&params("mail.example.com", &[]), &key));
            assert_eq!(cert.key_type, key_type);
            assert_eq!(cert.key_bits, key_bits, "{key_type}");
            assert_eq!(cert.signature_algorithm, signature_algorithm);
            assert!(cert.self_signed, "{signature_algorithm} self-signature");
        }
    }

    #[test]
    fn significant_bits_ignores_leading_zero_bytes() {
        assert_eq!(significant_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(significant_bits(&[0x01, 0xFF]), 9);
        assert_eq!(significant_bits(&[0x00]), 0);
        assert_eq!(significant_bits(&[]), 0);
    }

    #[test]
    fn self_signed_needs_same_name_and_own_signature() {
        let ca = root("Test Root CA");
        let sub = intermediate("Test Intermediate CA", &ca);
        assert!(info(&ca.der).self_signed);
        assert!(!info(&sub.der).self_signed);
        assert!(!info(&signed(&params("mail.example.com", &[]), &sub)).self_signed);
        // Names its issuer as its subject, but the root's key signed it, not its own.
        let impostor = info(&signed(&params("Test Root CA", &[]), &ca));
        assert_eq!(impostor.subject, impostor.issuer);
        assert!(!impostor.self_signed);
    }

    #[test]
    fn own_signature_under_another_name_is_not_self_signed() {
        let key = key(&PKCS_ECDSA_P256_SHA256);
        let other_name = Issuer::new(params("Someone Else", &[]), &key);
        let cert = params("mail.example.com", &[]).signed_by(&key, &other_name);
        assert!(!info(cert.unwrap().der()).self_signed);
    }

    #[test]
    fn p521_keys_report_the_curve_size_not_the_point_size() {
        // SubjectPublicKeyInfo { id-ecPublicKey, secp521r1, uncompressed point }.
        let mut der = vec![0x30, 0x81, 0x9B, 0x30, 0x10, 0x06, 0x07];
        der.extend([0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]);
        der.extend([0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23]);
        der.extend([0x03, 0x81, 0x86, 0x00, 0x04]);
        der.extend([0x01; 132]);
        let (_, spki) = SubjectPublicKeyInfo::from_der(&der).unwrap();
        assert_eq!((key_type(&spki).as_str(), key_bits(&spki)), ("EC", 521));
    }

    #[test]
    fn fingerprint_is_sha256_of_the_der_bytes() {
        // FIPS 180-2 test vector: SHA-256("abc").
        assert_eq!(
            info(b"abc").sha256,
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:\
             B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
        let key = key(&PKCS_ED25519);
        let first = info(&self_signed(&params("a.example.com", &[]), &key));
        let second = info(&self_signed(&params("b.example.com", &[]), &key));
        assert_ne!(first.sha256, second.sha256);
    }

    #[test]
    fn garbage_der_is_reported_not_panicked_on() {
        let good = signed(
            &params("mail.example.com", &["mail.example.com"]),
            &root("CA"),
        );
        let truncated = CertificateDer::from(good[..good.len() / 2].to_vec());
        let chain = [
            CertificateDer::from(b"not a certificate".to_vec()),
            CertificateDer::from(Vec::new()),
            truncated,
            CertificateDer::from(vec![0x30, 0x82, 0xFF, 0xFF, 0x30]),
        ];
        let error = invalid(CertificateError::BadEncoding);
        let report = analyse(&chain, "mail.example.com", now(), Err(&error));
        assert_eq!(report.chain_length, 4);
        assert_eq!(report.certificates.len(), 4);
        for cert in &report.certificates {
            assert!(
                cert.subject.starts_with("(unparseable: "),
                "{}",
                cert.subject
            );
            assert!(is_colon_hex(&cert.sha256, 32));
        }
        assert!(!report.host_name_matches);
        assert_eq!(report.verdict, Verdict::Invalid);
    }

    #[test]
    fn dns_names_follow_rfc_9525() {
        let cases = [
            ("mail.example.com", "mail.example.com", true),
            ("MAIL.Example.COM", "mail.example.com", true),
            ("mail.example.com.", "mail.example.com", true),
            ("mail.example.com", "mail.example.com.", true),
            ("mail.example.com", "mx.example.com", false),
            ("example.com", "mail.example.com", false),
            ("mail.example.com", "example.com", false),
            ("*.example.com", "a.example.com", true),
            ("*.Example.com", "A.EXAMPLE.COM.", true),
            ("*.example.com", "example.com", false),
            ("*.example.com", "a.b.example.com", false),
            ("*.example.com", ".example.com", false),
            ("*.example.com", "a.example.org", false),
            ("*.example.com", "*.example.com", false),
            ("a.*.example.com", "a.b.example.com", false),
            ("f*.example.com", "foo.example.com", false),
            ("**.example.com", "a.example.com", false),
            ("*.com", "example.com", false),
            ("*", "localhost", false),
            ("", "", false),
        ];
        for (presented, reference, expected) in cases {
            assert_eq!(
                dns_name_matches(presented, reference),
                expected,
                "{presented} vs {reference}"
            );
        }
    }

    #[test]
    fn host_names_match_subject_alt_names_only() {
        let ca = root("CA");
        let wildcard = signed(&params("mail.example.com", &["*.example.com"]), &ca);
        assert!(matches_host(&wildcard, "mx.example.com"));
        assert!(!matches_host(&wildcard, "example.com"));
        assert!(!matches_host(&wildcard, "a.mx.example.com"));
        // The CN names the host, but RFC 9525 no longer looks at it.
        let cn_only = signed(&params("mail.example.com", &[]), &ca);
        assert!(!matches_host(&cn_only, "mail.example.com"));
        let wrong = signed(&params("mail.example.com", &["mail.example.org"]), &ca);
        assert!(!matches_host(&wrong, "mail.example.com"));
        assert!(!analyse(&[], "mail.example.com", now(), Ok(())).host_name_matches);
    }

    #[test]
    fn ip_hosts_match_only_ip_subject_alt_names() {
        let ca = root("CA");
        let ip = signed(
            &params("mail", &["127.0.0.2", "::1", "mail.example.com"]),
            &ca,
        );
        assert!(matches_host(&ip, "127.0.0.2"));
        assert!(matches_host(&ip, "::1"));
        assert!(matches_host(&ip, "[::1]"));
        assert!(!matches_host(&ip, "127.0.0.3"));
        assert!(!matches_host(&ip, "::2"));
        assert!(matches_host(&ip, "mail.example.com"));
        // A DNS entry that merely spells an address does not name that address.
        let mut params = params("mail", &[]);
        let spelled = SanType::DnsName("127.0.0.2".try_into().unwrap());
        params.subject_alt_names = vec![spelled];
        assert!(!matches_host(&signed(&params, &ca), "127.0.0.2"));
    }

    #[test]
    fn rustls_errors_map_to_verdicts() {
        let (time, then) = (
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(2)),
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(1)),
        );
        let expected = ServerName::try_from("mail.example.com").unwrap();
        let cases = [
            (invalid(CertificateError::Expired), Verdict::Expired),
            (
                invalid(CertificateError::ExpiredContext {
                    time,
                    not_after: then,
                }),
                Verdict::Expired,
            ),
            (invalid(CertificateError::NotValidYet), Verdict::NotYetValid),
            (
                invalid(CertificateError::NotValidYetContext {
                    time: then,
                    not_before: time,
                }),
                Verdict::NotYetValid,
            ),
            (
                invalid(CertificateError::NotValidForName),
                Verdict::NameMismatch,
            ),
            (
                invalid(CertificateError::NotValidForNameContext {
                    expected,
                    presented: vec!["mail.example.org".to_owned()],
                }),
                Verdict::NameMismatch,
            ),
            (invalid(CertificateError::BadSignature), Verdict::Invalid),
            (invalid(CertificateError::Revoked), Verdict::Invalid),
            (invalid(CertificateError::InvalidPurpose), Verdict::Invalid),
            (
                invalid(CertificateError::Other(rustls::OtherError(
                    std::sync::Arc::new(std::io::Error::other("MaximumPathDepthExceeded")),
                ))),
                Verdict::ChainTooLong,
            ),
            (Error::General("boom".to_owned()), Verdict::Invalid),
        ];
        let ca = root("CA");
        let chain = [info(&signed(
            &params("mail.example.com", &["mail.example.com"]),
            &ca,
        ))];
        for (error, verdict) in cases {
            assert_eq!(verdict_for(&error, &chain), verdict, "{error:?}");
        }
        // Regression: webpki may fail a self-signed leaf on an unrelated root's key
        // type before saying "unknown issuer"; it is still a self-signed leaf.
        let lone = [info(&ca.der)];
        let odd = invalid(CertificateError::BadSignature);
        assert_eq!(verdict_for(&odd, &lone), Verdict::SelfSigned);
    }

    #[test]
    fn unknown_issuer_is_explained_by_the_chain_shape() {
        let ca = root("Test Root CA");
        let sub = intermediate("Test Intermediate CA", &ca);
        let leaf = signed(&params("mail.example.com", &["mail.example.com"]), &sub);
        let lone = self_signed(&params("mail.example.com", &[]), &key(&PKCS_ED25519));
        let cases = [
            (vec![lone.clone()], Verdict::SelfSigned),
            (vec![lone, ca.der.clone()], Verdict::SelfSigned),
            (
                vec![leaf.clone(), sub.der.clone(), ca.der],
                Verdict::Untrusted,
            ),
            (vec![leaf.clone(), sub.der], Verdict::IncompleteChain),
            (vec![leaf], Verdict::IncompleteChain),
        ];
        let error = invalid(CertificateError::UnknownIssuer);
        for (chain, verdict) in cases {
            let report = analyse(&chain, "mail.example.com", now(), Err(&error));
            assert_eq!(report.verdict, verdict, "chain of {}", chain.len());
            assert!(!report.trusted);
            assert_eq!(report.verifier_error, Some(error.to_string()));
        }
        assert_eq!(verdict_for(&error, &[]), Verdict::Invalid);
    }

    #[test]
    fn expired_and_not_yet_valid_chains_keep_their_dates() {
        let ca = root("CA");
        let mut old = params("mail.example.com", &["mail.example.com"]);
        old.not_after = now() - Duration::days(3);
        let mut early = params("mail.example.com", &["mail.example.com"]);
        early.not_before = now() + Duration::days(2);
        let cases = [
            (old, CertificateError::Expired, Verdict::Expired, -3),
            (
                early,
                CertificateError::NotValidYet,
                Verdict::NotYetValid,
                60,
            ),
        ];
        for (params, error, verdict, days_left) in cases {
            let error = invalid(error);
            let chain = [signed(&params, &ca), ca.der.clone()];
            let report = analyse(&chain, "mail.example.com", now(), Err(&error));
            assert_eq!(report.verdict, verdict);
            assert_eq!(report.certificates[0].days_left, days_left);
            assert!(report.host_name_matches);
        }
    }

    #[test]
    fn verified_chains_are_trusted() {
        let ca = root("CA");
        let chain = [
            signed(&params("mx.example.com", &["mx.example.com"]), &ca),
            ca.der,
        ];
        let report = analyse(&chain, "MX.example.com.", now(), Ok(()));
        assert_eq!(report.verdict, Verdict::Trusted);
        assert!(report.trusted && report.host_name_matches);
        assert_eq!(report.verifier_error, None);
        assert_eq!(report.chain_length, 2);
        assert_eq!(report.certificates[1].subject, "CN=CA");
    }

    #[test]
    fn every_verdict_has_its_own_sentence() {
        let verdicts = [
            Verdict::Trusted,
            Verdict::Expired,
            Verdict::NotYetValid,
            Verdict::NameMismatch,
            Verdict::SelfSigned,
            Verdict::Untrusted,
            Verdict::IncompleteChain,
            Verdict::Invalid,
        ];
        let sentences: std::collections::HashSet<_> = verdicts.map(describe).into();
        assert_eq!(sentences.len(), verdicts.len());
        assert!(sentences.iter().all(|s| s.ends_with('.')));
    }
}
