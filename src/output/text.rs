//! Text helpers shared by the renderers: making server text safe to show, word
//! wrap to a width, truncation with a visible mark, times and combinations in
//! the words a person reads.
//!
//! Server text is hostile input: a greeting or a reply could carry terminal
//! escape sequences (set the title, clear the screen, rewrite a line with `\r`
//! and `ESC[K` to fake "logged in") or Unicode bidi controls that reorder what
//! the reader sees. [`clean`] shows every such character as a visible escape;
//! every renderer passes the text it prints through it ([`wrap`] and
//! [`truncate`] do so themselves).

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::model::Combination;

/// Whether `c` must not reach a terminal as it is: C0 and C1 controls and DEL
/// (escape sequences start with ESC, U+001B, or the C1 CSI, U+009B), line and
/// paragraph separators, and the invisible format characters (Unicode category
/// Cf) that reorder or hide text: bidi embeddings, overrides and isolates,
/// zero-width characters, the byte-order mark, soft hyphens, tag characters.
#[must_use]
pub fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
        )
}

/// `text` safe to print: each unsafe character (see [`unsafe_char`]) shown as
/// `\u{…}`, and line breaks as " / " (a multi-line reply on one line).
#[must_use]
pub fn clean(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => out.push_str(" / "),
            c if unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`clean`], cut to `max` characters with a note of how much was cut.
#[must_use]
pub fn capped(text: &str, max: usize) -> String {
    let text = clean(text);
    let total = text.chars().count();
    if total <= max {
        return text.into_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… [{} more characters]", total - max)
}

/// Greedy word wrap; words longer than `width` (a server's reply without
/// spaces) are cut into pieces.
#[must_use]
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let text = clean(text);
    let mut lines = Vec::new();
    let mut line = String::new();
    let pieces = text.split_whitespace().flat_map(|word| {
        let chars: Vec<char> = word.chars().collect();
        chars
            .chunks(width.max(1))
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
    });
    for word in pieces {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// [`clean`]s `s` and cuts it to `max` characters, marking the cut with '…'.
#[must_use]
pub fn truncate(s: &str, max: usize) -> String {
    let s = clean(s);
    if s.chars().count() <= max {
        s.into_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// Milliseconds as a short duration that fits a six-column field.
#[must_use]
pub fn format_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms >= 100_000 {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", ms as f64 / 1000.0)
    }
}

/// "imap:993:tls" → "IMAP 993 SSL/TLS", as a mail client's settings say it.
#[must_use]
pub fn setting(c: Combination) -> String {
    format!("{} {} {}", c.protocol, c.port, c.security)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_bidi_controls_are_shown_not_obeyed() {
        let hostile = "235 ok\r\x1b[2K\x1b]0;owned\x07\u{202e}gnp.exe\u{2066}x\u{9b}31m";
        let shown = clean(hostile);
        assert!(!shown.chars().any(unsafe_char), "{shown}");
        assert_eq!(
            shown,
            "235 ok\\u{d}\\u{1b}[2K\\u{1b}]0;owned\\u{7}\\u{202e}gnp.exe\\u{2066}x\\u{9b}31m"
        );
        assert_eq!(clean("250-a\r\n250 b"), "250-a / 250 b");
        assert!(matches!(clean("plain text, é ü 漢字"), Cow::Borrowed(_)));
        for line in wrap(hostile, 20) {
            assert!(!line.chars().any(unsafe_char), "{line}");
        }
        assert!(!truncate(hostile, 10).chars().any(unsafe_char));
    }

    #[test]
    fn long_server_text_is_cut_with_a_note() {
        let long = "x".repeat(10_000);
        assert_eq!(capped(&long, 10), "xxxxxxxxxx… [9990 more characters]");
        assert_eq!(capped("short", 10), "short");
    }
    use crate::model::{Protocol, Security};

    #[test]
    fn wrap_keeps_lines_within_width() {
        let text = "the server spoke plaintext instead of TLS: \"+OK Dovecot ready.\" (this port wants STARTTLS or no encryption, not SSL/TLS)";
        for l in wrap(text, 40) {
            assert!(l.chars().count() <= 40, "{l}");
        }
        assert_eq!(wrap(text, 40).join(" "), text);
    }

    #[test]
    fn wrap_cuts_words_longer_than_the_width() {
        let long = "x".repeat(200);
        let lines = wrap(&format!("reply: {long}"), 76);
        assert!(lines.iter().all(|l| l.chars().count() <= 76), "{lines:?}");
        assert_eq!(lines.concat().len(), "reply:".len() + 200);
    }

    #[test]
    fn long_times_stay_within_the_column() {
        assert_eq!(format_ms(999), "999ms");
        assert_eq!(format_ms(12_345), "12.3s");
        assert_eq!(format_ms(86_400_000), "86400s");
    }

    #[test]
    fn combinations_read_like_client_settings() {
        let c = Combination::new(Protocol::Imap, 993, Security::Tls);
        assert_eq!(setting(c), "IMAP 993 SSL/TLS");
    }
}
