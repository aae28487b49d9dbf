//! A certificate chain as analysed by [`crate::cert`]: the verdict and the facts
//! about each certificate, whether or not verification passed.

use serde::Serialize;

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
    /// The chain is longer than the verifier follows (too many intermediates):
    /// no client can build a path through it.
    ChainTooLong,
    /// Anything else rustls rejected (bad signature, revoked, bad encoding, …).
    Invalid,
}

/// Facts about one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    /// Subject distinguished name, RFC 4514 style; `(unparseable: reason)` when the
    /// DER could not be read, in which case only `sha256` is filled in as well.
    pub subject: String,
    /// Issuer distinguished name, RFC 4514 style.
    pub issuer: String,
    /// Serial number, upper-case hex bytes joined by ':', as encoded (a leading
    /// 00 that keeps the DER integer positive is kept).
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
    /// Whether the leaf names the host (RFC 9525 rules: subjectAltName only, wildcards as the
    /// whole left-most label only; see [`crate::cert::dns_name_matches`]).
    pub host_name_matches: bool,
    /// Number of certificates the server sent.
    pub chain_length: usize,
    /// The certificates, leaf first, as sent.
    pub certificates: Vec<CertificateInfo>,
}
