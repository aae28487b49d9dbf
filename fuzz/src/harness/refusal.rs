//! Target `refusal`: [`refusals::explain`], which reads a server's refusal of a
//! login (SMTP reply codes and RFC 3463 enhanced codes, POP3 and IMAP response
//! codes in brackets, IMAP `[ALERT]`) to say what it means.
//!
//! Input: two configuration bytes (the protocol, `% 3` of SMTP, POP3, IMAP;
//! the provider discovery found, from a list or none; bit 7 of the first byte
//! takes the first line as the greeting instead), then the reply.
//!
//! Invariants: an explanation always has a code, a cause and a fix; the cause
//! and the alert, which may quote the server, carry no control character and
//! stay short whatever the reply's length.

use mailcheck::diagnose::refusals;
use mailcheck::model::Protocol;

use super::input;

/// Provider ids of data/providers.toml, and none.
const PROVIDERS: [Option<&str>; 6] = [
    None,
    Some("gmail"),
    Some("microsoft365"),
    Some("yahoo"),
    Some("outlook"),
    Some("icloud"),
];

/// The longest cause or alert: the catalogue's longest text, or a quote of at
/// most 300 characters in a sentence.
const MAX_TEXT: usize = 1000;

/// Runs one input.
pub fn run(data: &[u8]) {
    let ([flags, provider], rest) = input::split::<2>(data);
    let protocol = [Protocol::Smtp, Protocol::Pop3, Protocol::Imap][usize::from(flags & 3) % 3];
    let provider = PROVIDERS[usize::from(provider) % PROVIDERS.len()];
    let text = String::from_utf8_lossy(rest);
    let (greeting, reply) = match text.split_once('\n') {
        Some((first, reply)) if flags & 128 != 0 => (Some(first), reply),
        _ => (None, &*text),
    };
    let explanation = refusals::explain(protocol, reply, provider, greeting);
    assert!(!explanation.code.is_empty(), "{explanation:?}");
    assert!(!explanation.fix.is_empty(), "{explanation:?}");
    for shown in std::iter::once(&explanation.cause).chain(&explanation.alert) {
        assert!(!shown.is_empty(), "{explanation:?}");
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(shown.chars().count() <= MAX_TEXT, "{shown:?}");
    }
}
