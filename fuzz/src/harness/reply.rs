//! Target `smtp_reply`: [`parse_reply_line`], the one reader of SMTP reply codes
//! (RFC 5321 §4.2), and [`identify_greeting`], which tells protocols apart by
//! their first line.
//!
//! Input: text; every line is parsed. Invariants: a line parses exactly when it
//! starts with three digits followed by a space, a hyphen or its end, and then
//! the code, the "last line" flag and the text are those of the line; such a
//! line is always recognised as SMTP (or FTP, which greets the same way).

use mailcheck::proto::identify_greeting;
use mailcheck::proto::smtp::parse_reply_line;

use super::input;

/// Runs one input.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for line in input::lines(&text) {
        check(line);
    }
}

fn check(line: &str) {
    let bytes = line.as_bytes();
    let shaped = bytes.len() >= 3
        && bytes[..3].iter().all(u8::is_ascii_digit)
        && matches!(bytes.get(3), None | Some(b' ' | b'-'));
    let parsed = parse_reply_line(line);
    assert_eq!(parsed.is_some(), shaped, "{line:?} gave {parsed:?}");
    let greeting = identify_greeting(line);
    let Some(reply) = parsed else {
        return;
    };
    let code: u16 = line[..3].parse().expect("three ASCII digits");
    assert_eq!(reply.code, code, "{line:?}");
    assert_eq!(reply.class(), code / 100, "{line:?}");
    assert_eq!(reply.last, bytes.get(3) != Some(&b'-'), "{line:?}");
    assert_eq!(reply.text, line.get(4..).unwrap_or(""), "{line:?}");
    assert!(
        matches!(greeting, Some("SMTP" | "FTP")),
        "{line:?} parses as a reply but was taken for {greeting:?}"
    );
}
