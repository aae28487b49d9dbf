//! Which server software a session shows, from its greeting and capabilities,
//! so that a fix names a configuration setting only when the software is known
//! (a Postfix setting is no help to a Cyrus administrator).

use crate::report::ProbeReport;

/// Mail server software mailcheck can name a fix for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Software {
    /// Dovecot (POP3, IMAP).
    Dovecot,
    /// Postfix (SMTP).
    Postfix,
    /// Exim (SMTP).
    Exim,
    /// Cyrus IMAP (POP3, IMAP).
    Cyrus,
    /// Courier (POP3, IMAP).
    Courier,
    /// Microsoft Exchange (all three).
    Exchange,
}

/// What the greeting or the capabilities of `p` say the server is.
#[must_use]
pub fn identify(p: &ProbeReport) -> Option<Software> {
    let session = p.session.as_ref()?;
    let greeting = session.greeting.as_deref().unwrap_or_default();
    let caps = session
        .capabilities
        .iter()
        .chain(&session.capabilities_before_tls);
    let mut words = std::iter::once(greeting)
        .chain(caps.map(String::as_str))
        .map(str::to_ascii_lowercase);
    words.find_map(|w| from_text(&w))
}

fn from_text(text: &str) -> Option<Software> {
    const MARKS: &[(&str, Software)] = &[
        ("dovecot", Software::Dovecot),
        ("postfix", Software::Postfix),
        ("exim", Software::Exim),
        ("cyrus", Software::Cyrus),
        ("courier", Software::Courier),
        ("microsoft exchange", Software::Exchange),
        ("microsoft esmtp", Software::Exchange),
    ];
    MARKS
        .iter()
        .find(|(mark, _)| text.contains(mark))
        .map(|(_, s)| *s)
}

impl Software {
    /// Its name, as administrators write it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Software::Dovecot => "Dovecot",
            Software::Postfix => "Postfix",
            Software::Exim => "Exim",
            Software::Cyrus => "Cyrus",
            Software::Courier => "Courier",
            Software::Exchange => "Exchange",
        }
    }

    /// The setting that allows password logins only after TLS.
    #[must_use]
    pub fn tls_before_login(self) -> &'static str {
        match self {
            Software::Dovecot => {
                "Dovecot: disable_plaintext_auth = yes (auth_allow_cleartext = no in 2.4), which also adds LOGINDISABLED"
            }
            Software::Postfix => "Postfix: smtpd_tls_auth_only = yes",
            Software::Exim => "Exim: auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}}",
            Software::Cyrus => "Cyrus: allowplaintext: no (in imapd.conf)",
            Software::Courier => "Courier: IMAP_TLS_REQUIRED=1 and POP3_TLS_REQUIRED=1",
            Software::Exchange => {
                "Exchange: Set-ImapSettings/Set-PopSettings -LoginType SecureLogin; receive connectors: require TLS for AUTH"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::testing::ok;

    fn with_greeting(greeting: &str, caps: &[&str]) -> ProbeReport {
        let mut p = ok("imap:143:starttls");
        let s = p.session.as_mut().unwrap();
        s.greeting = Some(greeting.into());
        s.capabilities_before_tls = caps.iter().map(|c| (*c).to_owned()).collect();
        p
    }

    #[test]
    fn greetings_and_capabilities_name_the_software() {
        assert_eq!(
            identify(&with_greeting(
                "* OK [CAPABILITY IMAP4rev1] Dovecot ready.",
                &[]
            )),
            Some(Software::Dovecot)
        );
        assert_eq!(
            identify(&with_greeting(
                "220 mx.example.com ESMTP Postfix (Debian)",
                &[]
            )),
            Some(Software::Postfix)
        );
        assert_eq!(
            identify(&with_greeting(
                "* OK server ready",
                &["IMAP4rev1", "X-CYRUS-ANNOTATE"]
            )),
            Some(Software::Cyrus)
        );
        assert_eq!(
            identify(&with_greeting(
                "220 EX01.corp Microsoft ESMTP MAIL Service ready",
                &[]
            )),
            Some(Software::Exchange)
        );
    }

    #[test]
    fn an_anonymous_server_is_not_guessed() {
        assert_eq!(
            identify(&with_greeting("+OK ready", &["USER", "TOP"])),
            None
        );
    }
}
