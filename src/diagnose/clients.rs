//! The recommendation in the words of the user's own mail client.
//!
//! Each client labels the same four facts (server, port, security mode,
//! authentication) differently; a help desk reads these lines out as they
//! appear on screen. Where each client's words come from is noted beside it.
//! Lines are at most [`WIDTH`] characters: a label and value that do not fit
//! go on two lines (only a value longer than the width itself, such as a very
//! long host name, can exceed it).

use super::Client;
use crate::model::{Protocol, Security};
use crate::report::Recommendation;
use crate::report::Recommended;

/// The widest a line may be.
pub const WIDTH: usize = 76;

/// The "Use these settings" lines for `client`.
#[must_use]
pub fn words(rec: &Recommendation, client: Client) -> Vec<String> {
    let mut out = Vec::new();
    for (heading, r) in [("Incoming", &rec.incoming), ("Outgoing", &rec.outgoing)] {
        match r {
            Some(r) => {
                out.push(format!("{heading} mail ({}):", r.protocol));
                for (label, value) in fields(r, client) {
                    push(&mut out, &label, &value);
                }
            }
            None => out.push(format!(
                "{heading} mail: nothing to recommend yet; see the problems below."
            )),
        }
    }
    out
}

/// Adds "  label: value", split over two lines when too wide.
fn push(out: &mut Vec<String>, label: &str, value: &str) {
    let line = format!("  {label}: {value}");
    if line.chars().count() <= WIDTH {
        out.push(line);
    } else {
        out.push(format!("  {label}:"));
        out.push(format!("    {value}"));
    }
}

fn oauth(r: &Recommended) -> bool {
    r.authentication.eq_ignore_ascii_case("oauth2")
}

fn on_off(on: bool) -> String {
    if on { "on" } else { "off" }.to_owned()
}

fn fields(r: &Recommended, client: Client) -> Vec<(String, String)> {
    let user = r
        .username
        .clone()
        .unwrap_or_else(|| "(your address)".into());
    let mut f = match client {
        Client::Thunderbird => thunderbird(r),
        Client::Outlook => outlook(r),
        Client::AppleMail => apple_mail(r),
        Client::AndroidGmail => android_gmail(r),
        Client::Ios => ios(r),
        Client::Claws => claws(r),
        Client::Generic => generic(r),
    };
    let user_label = match client {
        Client::Thunderbird | Client::AppleMail | Client::Ios | Client::Outlook => "User Name",
        Client::AndroidGmail | Client::Generic => "Username",
        Client::Claws => "User ID",
    };
    f.push((user_label.into(), user));
    if r.authentication == "app password" {
        f.push((
            "Password".into(),
            "an app password, not the account's own password".into(),
        ));
    }
    f
}

/// Thunderbird, Account Settings → Server Settings (and Outgoing Server (SMTP)):
/// "Server Name", "Port", "Connection security" (None / STARTTLS / SSL/TLS),
/// "Authentication method" (Normal password, Encrypted password, …, OAuth2),
/// as in Thunderbird's own UI and support.mozilla.org "Manual account configuration".
fn thunderbird(r: &Recommended) -> Vec<(String, String)> {
    let security = match r.security {
        Security::Tls => "SSL/TLS",
        Security::StartTls => "STARTTLS",
        Security::Plain => "None",
    };
    vec![
        ("Server Name".into(), r.host.clone()),
        ("Port".into(), r.port.to_string()),
        ("Connection security".into(), security.into()),
        (
            "Authentication method".into(),
            if oauth(r) {
                "OAuth2"
            } else {
                "Normal password"
            }
            .into(),
        ),
    ]
}

/// Outlook (classic, Windows), File → Account Settings → Server Settings:
/// "Incoming mail" / "Outgoing mail" with "Server", "Port", "Encryption method"
/// (SSL/TLS, STARTTLS, Auto, None) and the checkbox "Require logon using Secure
/// Password Authentication (SPA)". The older More Settings → Advanced tab calls
/// the port "Incoming server (IMAP)" / "Outgoing server (SMTP)" and the mode "Use
/// the following type of encrypted connection". SPA is Microsoft's NTLM: off for
/// a normal password.
fn outlook(r: &Recommended) -> Vec<(String, String)> {
    let server = match r.protocol {
        Protocol::Imap => "Incoming server (IMAP)",
        Protocol::Pop3 => "Incoming server (POP3)",
        Protocol::Smtp => "Outgoing server (SMTP)",
    };
    let security = match r.security {
        Security::Tls => "SSL/TLS",
        Security::StartTls => "STARTTLS",
        Security::Plain => "None",
    };
    let mut f = vec![
        ("Server".into(), r.host.clone()),
        (server.into(), r.port.to_string()),
        ("Encryption method".into(), security.into()),
        (
            "Require logon using Secure Password Authentication (SPA)".into(),
            on_off(false),
        ),
    ];
    if r.protocol == Protocol::Smtp {
        f.push((
            "My outgoing server (SMTP) requires authentication".into(),
            on_off(true),
        ));
    }
    f
}

/// Mail on macOS, Settings → Accounts → Server Settings (support.apple.com,
/// "Change Server Settings in Mail on Mac"): "Host Name", the checkbox
/// "Automatically manage connection settings", which when off shows "Port", "Use
/// TLS/SSL" and "Authentication" (Password, …, OAuth). Mail uses STARTTLS when
/// "Use TLS/SSL" is on and the port is a STARTTLS port (587, 143, 110).
fn apple_mail(r: &Recommended) -> Vec<(String, String)> {
    vec![
        ("Host Name".into(), r.host.clone()),
        (
            "Automatically manage connection settings".into(),
            on_off(false),
        ),
        ("Port".into(), r.port.to_string()),
        ("Use TLS/SSL".into(), on_off(r.security.is_secure())),
        (
            "Authentication".into(),
            if oauth(r) { "OAuth" } else { "Password" }.into(),
        ),
    ]
}

/// The Gmail app on Android, adding an "Other" account by hand: "Server", "Port",
/// "Security type" (None, SSL/TLS, SSL/TLS (Accept all certificates), STARTTLS,
/// STARTTLS (Accept all certificates)). The "Accept all certificates" variants
/// switch off certificate checks and are never recommended.
fn android_gmail(r: &Recommended) -> Vec<(String, String)> {
    let security = match r.security {
        Security::Tls => "SSL/TLS",
        Security::StartTls => "STARTTLS",
        Security::Plain => "None",
    };
    let mut f = vec![
        ("Server".into(), r.host.clone()),
        ("Port".into(), r.port.to_string()),
        ("Security type".into(), security.into()),
    ];
    if r.protocol == Protocol::Smtp {
        f.push(("Require signin".into(), on_off(true)));
    }
    f
}

/// Mail on iPhone and iPad, Settings → Apps → Mail → Mail Accounts → account →
/// Account → Advanced (incoming) and SMTP → server (outgoing): "Host Name",
/// "Use SSL" (one switch), "Server Port", "Authentication" (Password, …).
/// There is no separate STARTTLS choice: with "Use SSL" on, iOS speaks TLS from
/// the first byte on 993/995/465 and upgrades with STARTTLS on 143/110/587 (as
/// Apple's own settings for iCloud, smtp.mail.me.com port 587 "SSL: yes", show),
/// so STARTTLS also reads "Use SSL: on" and the port decides.
fn ios(r: &Recommended) -> Vec<(String, String)> {
    vec![
        ("Host Name".into(), r.host.clone()),
        ("Use SSL".into(), on_off(r.security.is_secure())),
        ("Server Port".into(), r.port.to_string()),
        (
            "Authentication".into(),
            if oauth(r) { "OAuth" } else { "Password" }.into(),
        ),
    ]
}

/// Claws Mail, account preferences (the Claws Mail manual, account.xml, and
/// the SSL/TLS tab): "Server for receiving" / "SMTP server (send)" on the Basic
/// tab; on the SSL/TLS tab per protocol "Don't use SSL/TLS", "Use SSL/TLS", "Use
/// STARTTLS command to start encrypted session"; the port under Advanced.
fn claws(r: &Recommended) -> Vec<(String, String)> {
    let server = if r.protocol == Protocol::Smtp {
        "SMTP server (send)"
    } else {
        "Server for receiving"
    };
    let security = match r.security {
        Security::Tls => "Use SSL/TLS",
        Security::StartTls => "Use STARTTLS command to start encrypted session",
        Security::Plain => "Don't use SSL/TLS",
    };
    vec![
        (server.into(), r.host.clone()),
        (
            format!("{} port (Advanced)", r.protocol),
            r.port.to_string(),
        ),
        (format!("SSL/TLS tab, {}", r.protocol), security.into()),
        (
            "Authentication method".into(),
            if oauth(r) { "OAuth2" } else { "Automatic" }.into(),
        ),
    ]
}

/// Neutral words (RFC 8314's "implicit TLS" as clients call it: SSL/TLS).
fn generic(r: &Recommended) -> Vec<(String, String)> {
    vec![
        ("Server".into(), r.host.clone()),
        ("Port".into(), r.port.to_string()),
        ("Security".into(), r.security.to_string()),
        ("Authentication".into(), r.authentication.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(security: Security, port: u16) -> Recommendation {
        let r = |protocol, port, security| Recommended {
            protocol,
            host: "mail.example.com".into(),
            port,
            security,
            username: Some("alice@example.com".into()),
            authentication: "normal password".into(),
            login_verified: false,
        };
        Recommendation {
            incoming: Some(r(Protocol::Imap, 993, Security::Tls)),
            outgoing: Some(r(Protocol::Smtp, port, security)),
        }
    }

    const ALL: [Client; 7] = [
        Client::Thunderbird,
        Client::Outlook,
        Client::AppleMail,
        Client::AndroidGmail,
        Client::Ios,
        Client::Claws,
        Client::Generic,
    ];

    #[test]
    fn every_client_keeps_lines_within_the_width() {
        for c in ALL {
            for line in words(&rec(Security::StartTls, 587), c) {
                assert!(line.chars().count() <= WIDTH, "{c:?}: {line:?}");
            }
        }
    }

    #[test]
    fn each_client_uses_its_own_words_for_the_mode() {
        let has = |c, s: &str| {
            words(&rec(Security::StartTls, 587), c)
                .iter()
                .any(|l| l.contains(s))
        };
        assert!(has(Client::Thunderbird, "Connection security: STARTTLS"));
        assert!(has(
            Client::Thunderbird,
            "Authentication method: Normal password"
        ));
        assert!(has(Client::Outlook, "Encryption method: STARTTLS"));
        assert!(has(Client::Outlook, "Outgoing server (SMTP): 587"));
        assert!(has(
            Client::Outlook,
            "Secure Password Authentication (SPA): off"
        ));
        assert!(has(
            Client::AppleMail,
            "Automatically manage connection settings: off"
        ));
        assert!(has(Client::AppleMail, "Use TLS/SSL: on"));
        assert!(has(Client::AndroidGmail, "Security type: STARTTLS"));
        assert!(has(
            Client::Claws,
            "Use STARTTLS command to start encrypted session"
        ));
        assert!(has(Client::Claws, "Use SSL/TLS"));
    }

    #[test]
    fn ios_says_use_ssl_on_for_starttls_and_the_port_decides() {
        let lines = words(&rec(Security::StartTls, 587), Client::Ios);
        assert!(lines.contains(&"  Use SSL: on".to_owned()), "{lines:#?}");
        assert!(lines.contains(&"  Server Port: 587".to_owned()));
    }

    #[test]
    fn a_missing_direction_is_said_and_long_values_wrap() {
        let mut r = rec(Security::Tls, 465);
        r.outgoing = None;
        r.incoming.as_mut().unwrap().host = format!("{}.example.com", "a".repeat(60));
        let lines = words(&r, Client::Thunderbird);
        assert!(
            lines
                .last()
                .unwrap()
                .starts_with("Outgoing mail: nothing to recommend")
        );
        assert!(lines.contains(&"  Server Name:".to_owned()));
    }
}
