//! Email addresses as discovery needs them: the local part, and the domain in both
//! its Unicode and its ASCII (IDNA, RFC 5891) forms.

use serde::Serialize;
use thiserror::Error;

/// A parsed address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Address {
    /// The address as given.
    pub input: String,
    /// The part before the last '@'.
    pub local: String,
    /// The domain as given, lower-cased.
    pub domain: String,
    /// The domain's ASCII form (Punycode for international names), used for DNS.
    pub domain_ascii: String,
}

impl Address {
    /// The address with the domain in ASCII form, as sent to servers.
    #[must_use]
    pub fn ascii(&self) -> String {
        format!("{}@{}", self.local, self.domain_ascii)
    }

    /// Whether the domain is international (its two forms differ).
    #[must_use]
    pub fn is_international(&self) -> bool {
        self.domain != self.domain_ascii
    }
}

/// Why a text is not a usable address.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AddressError {
    /// No '@', an empty part, or spaces.
    #[error("{0:?} is not an email address; expected something like alice@example.com")]
    NotAnAddress(String),
    /// The domain is not a valid (international) domain name.
    #[error("the domain {domain:?} of {input:?} is not a valid domain name ({reason})")]
    BadDomain {
        /// The address.
        input: String,
        /// The domain part.
        domain: String,
        /// What IDNA said.
        reason: String,
    },
}

/// Parses `alice@example.com`, converting an international domain with IDNA.
pub fn parse(input: &str) -> Result<Address, AddressError> {
    let not = || AddressError::NotAnAddress(input.to_owned());
    let (local, domain) = input.rsplit_once('@').ok_or_else(not)?;
    if local.is_empty() || domain.is_empty() || input.chars().any(char::is_whitespace) {
        return Err(not());
    }
    let domain = domain.trim_end_matches('.').to_lowercase();
    let bad = |reason: String| AddressError::BadDomain {
        input: input.to_owned(),
        domain: domain.clone(),
        reason,
    };
    let ascii = idna::domain_to_ascii(&domain).map_err(|e| bad(e.to_string()))?;
    let labels_ok = ascii.split('.').all(|l| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    });
    if !labels_ok || !ascii.contains('.') || ascii.len() > 253 {
        return Err(bad(
            "expected labels of letters, digits and hyphens, e.g. example.com".into(),
        ));
    }
    Ok(Address {
        input: input.to_owned(),
        local: local.to_owned(),
        domain,
        domain_ascii: ascii,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_addresses_parse() {
        let a = parse("Alice.Smith@Example.COM").unwrap();
        assert_eq!(a.local, "Alice.Smith");
        assert_eq!(a.domain, "example.com");
        assert_eq!(a.domain_ascii, "example.com");
        assert!(!a.is_international());
        // The one place discovery's domain is normalised: the root dot goes too.
        assert_eq!(parse("a@Example.COM.").unwrap().domain_ascii, "example.com");
    }

    #[test]
    fn international_domains_get_both_forms() {
        let a = parse("jörg@bücher.example").unwrap();
        assert_eq!(a.domain, "bücher.example");
        assert_eq!(a.domain_ascii, "xn--bcher-kva.example");
        assert!(a.is_international());
        assert_eq!(a.ascii(), "jörg@xn--bcher-kva.example");
    }

    #[test]
    fn the_last_at_separates() {
        let a = parse("\"a@b\"@example.org").unwrap();
        assert_eq!(a.local, "\"a@b\"");
        assert_eq!(a.domain, "example.org");
    }

    #[test]
    fn non_addresses_are_refused_with_an_example() {
        for bad in ["alice", "@example.com", "alice@", "a b@example.com"] {
            let e = parse(bad).unwrap_err();
            assert!(
                e.to_string().contains("expected something like"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn bad_domains_are_refused() {
        for bad in [
            "a@example",
            "a@-bad.example",
            "a@exa_mple.com",
            "a@xn--zz.example",
        ] {
            assert!(
                matches!(parse(bad), Err(AddressError::BadDomain { .. })),
                "{bad}"
            );
        }
    }
}
