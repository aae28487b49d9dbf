//! Turning fuzz bytes into what a parser takes: configuration bytes in front,
//! then text split into lines the way the I/O driver splits them, and the
//! check that nothing shown carries a credential.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The password every harness logs in with. Long and odd enough that no server
/// text a fuzzer makes up contains it by chance.
pub const PASSWORD: &str = "Fuzz-Pa55word/9c1e7b2d-unique";

/// The OAuth2 token every harness logs in with.
pub const TOKEN: &str = "ya29.Fuzz-Token_4f0d2a8e-unique";

/// The first `N` bytes (zero where the input is shorter) and the rest.
#[must_use]
pub fn split<const N: usize>(data: &[u8]) -> ([u8; N], &[u8]) {
    let mut config = [0u8; N];
    let n = data.len().min(N);
    config[..n].copy_from_slice(&data[..n]);
    (config, &data[n..])
}

/// The lines the driver hands a dialogue: split at LF with one CR before it
/// dropped. A last piece without LF still counts (the driver would wait for the
/// rest; a dialogue must cope with any line), an empty last piece does not.
#[must_use]
pub fn lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// Whether `text` shows the password or token, as such or inside a word that
/// is valid base64 (SASL responses are base64).
#[must_use]
pub fn carries_secret(text: &str) -> bool {
    let secret = |bytes: &[u8]| {
        [PASSWORD, TOKEN]
            .iter()
            .any(|s| bytes.windows(s.len()).any(|w| w == s.as_bytes()))
    };
    secret(text.as_bytes())
        || text
            .split(|c: char| c.is_whitespace() || c == '"')
            .filter_map(|word| STANDARD.decode(word).ok())
            .any(|decoded| secret(&decoded))
}

/// Panics unless `wire` is exactly one command line: text, then CRLF, with no
/// other CR or LF that could end it early and smuggle in a second command.
pub fn assert_one_line(wire: &str) {
    let body = wire
        .strip_suffix("\r\n")
        .unwrap_or_else(|| panic!("a command without its CRLF: {wire:?}"));
    assert!(
        !body.contains(['\r', '\n']),
        "a command with a line break inside: {wire:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_like_the_driver() {
        assert_eq!(lines("a\r\nb\nc"), ["a", "b", "c"]);
        assert_eq!(lines("a\r\n\r\n"), ["a", ""]);
        assert!(lines("").is_empty());
    }

    #[test]
    fn secrets_are_found_plain_and_in_base64() {
        assert!(carries_secret(&format!("PASS {PASSWORD}")));
        let plain = STANDARD.encode(format!("\0alice\0{PASSWORD}"));
        assert!(carries_secret(&format!("AUTH PLAIN {plain}")));
        assert!(!carries_secret("AUTH PLAIN [credentials redacted]"));
    }
}
