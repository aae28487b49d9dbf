//! Text helpers shared by the renderers: word wrap to a width, truncation with a
//! visible mark, times and combinations in the words a person reads.

use crate::model::Combination;

/// Greedy word wrap; words longer than `width` (a server's reply without
/// spaces) are cut into pieces.
#[must_use]
pub fn wrap(text: &str, width: usize) -> Vec<String> {
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

/// Cuts `s` to `max` characters, marking the cut with '…'.
#[must_use]
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
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
