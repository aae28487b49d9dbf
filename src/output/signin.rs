//! What `mailcheck login` and `logout` tell the person: the device code and the
//! page to type it on, or the page to sign in on (on stderr, while the run
//! waits), and the outcome. No token, refresh token or client secret is ever
//! written: only where the token is kept, for whom, and until when.

use std::io::{self, Write};
use std::time::Duration;

use url::Url;

use super::text::capped;

use crate::engine::signin::{LoggedOut, Refused, SignedIn};
use crate::oauth::{self, Prompt, device::DeviceCode};

/// The most of one piece of the authorization server's text that is shown.
const LONG: usize = 600;

/// Prompts on stderr.
#[derive(Debug, Default)]
pub struct StderrPrompt;

impl Prompt for StderrPrompt {
    fn device_code(&self, code: &DeviceCode, wait: Duration) {
        let mut err = io::stderr().lock();
        let _ = device_code(code, wait, &mut err);
    }

    fn browser(&self, url: &Url, opening: bool, wait: Duration) {
        let mut err = io::stderr().lock();
        let _ = browser(url, opening, wait, &mut err);
    }
}

/// The device flow's instructions (RFC 8628 §3.3), and how long mailcheck
/// waits.
pub fn device_code(code: &DeviceCode, wait: Duration, out: &mut dyn Write) -> io::Result<()> {
    // The authorization server's words: cleaned like any server text.
    writeln!(
        out,
        "To sign in, open {} in any browser",
        capped(&code.verification_uri, LONG)
    )?;
    writeln!(out, "and enter the code {}", capped(&code.user_code, LONG))?;
    if let Some(complete) = &code.verification_uri_complete {
        let complete = capped(complete, LONG);
        writeln!(out, "(or open {complete}, which has the code filled in).")?;
    }
    writeln!(out, "Waiting up to {} for the sign-in…", span(wait))?;
    out.flush()
}

/// A wait in words: seconds under two minutes, else whole minutes (never more
/// than the wait).
fn span(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 120 {
        format!("{secs} seconds")
    } else {
        format!("{} minutes", secs / 60)
    }
}

/// The browser flow's page, printed before any browser is started, and how
/// long mailcheck waits.
pub fn browser(url: &Url, opening: bool, wait: Duration, out: &mut dyn Write) -> io::Result<()> {
    if opening {
        writeln!(
            out,
            "Starting a browser to sign in. If it does not show the page, open this page in a browser on this computer:"
        )?;
    } else {
        writeln!(
            out,
            "To sign in, open this page in a browser on this computer:"
        )?;
    }
    writeln!(out, "{url}")?;
    writeln!(out, "Waiting up to {} for the sign-in…", span(wait))?;
    out.flush()
}

/// The outcome of a sign-in whose token was stored; only the sign-in when it
/// could not be ([`not_kept`] says the rest).
pub fn signed_in(s: &SignedIn, out: &mut dyn Write) -> io::Result<()> {
    let t = &s.token;
    writeln!(
        out,
        "Signed in as {} at {}.",
        t.account,
        capped(&t.issuer, LONG)
    )?;
    let Ok(location) = &s.stored else {
        return Ok(());
    };
    writeln!(out, "Token stored in the {location}.")?;
    let scopes = t.scopes_granted.as_ref().unwrap_or(&t.scopes_requested);
    writeln!(
        out,
        "Scopes: {}",
        if scopes.is_empty() {
            "(none)".to_owned()
        } else {
            capped(&scopes.join(" "), LONG)
        }
    )?;
    match t.expires_at {
        Some(e) => writeln!(
            out,
            "The access token expires at {}{}.",
            oauth::rfc3339(e),
            refresh_note(s)
        )?,
        None => writeln!(
            out,
            "The server did not say when the access token expires{}.",
            refresh_note(s)
        )?,
    }
    writeln!(out, "`mailcheck probe {}` now logs in with it.", t.account)
}

/// A sign-in that worked whose token could not be stored: where and why, and
/// what to do. Nothing when it was stored.
pub fn not_kept(s: &SignedIn, out: &mut dyn Write) -> io::Result<()> {
    let Err(e) = &s.stored else {
        return Ok(());
    };
    let account = &s.token.account;
    writeln!(
        out,
        "mailcheck: the sign-in worked, but the token could not be stored: {}",
        capped(&e.reason, LONG)
    )?;
    writeln!(
        out,
        "  Nothing was kept, so `mailcheck probe {account}` cannot log in with it."
    )?;
    writeln!(
        out,
        "  Revoking the unkept tokens: {}.",
        capped(&e.revoked, LONG)
    )?;
    writeln!(
        out,
        "  Fix: {}; then run `mailcheck login {account}` again.",
        capped(&e.fix, LONG)
    )
}

fn refresh_note(s: &SignedIn) -> &'static str {
    if s.token.refresh_token.is_some() {
        "; mailcheck renews it with the refresh token"
    } else {
        "; there is no refresh token, so sign in again then"
    }
}

/// A sign-in or refresh that failed.
pub fn refused(r: &Refused, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "mailcheck: sign-in failed: {}",
        capped(&r.message, LONG)
    )?;
    if let Some(e) = &r.explanation {
        writeln!(out, "  Why: {}", capped(&e.cause, LONG))?;
        writeln!(out, "  Fix: {}", capped(&e.fix, LONG))?;
        writeln!(out, "  ({})", e.code)?;
    }
    Ok(())
}

/// The outcome of a logout.
pub fn logged_out(account: &str, l: &LoggedOut, out: &mut dyn Write) -> io::Result<()> {
    if l.deleted.is_empty() {
        writeln!(out, "No OAuth2 token was stored for {account}.")?;
    }
    for at in &l.deleted {
        writeln!(out, "Deleted the OAuth2 token of {account} from the {at}.")?;
    }
    if let Some(r) = &l.revoked {
        writeln!(out, "Revocation: {}.", capped(r, LONG))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::signin::NotKept;
    use crate::oauth::store::{Location, StoredToken, VERSION};
    use crate::proto::sasl::Secret;

    /// The page comes on a line of its own (to copy), after what to do with
    /// it, then how long mailcheck waits.
    #[test]
    fn the_browser_page_is_shown_with_what_to_do_and_the_wait() {
        let url = Url::parse("https://auth.example.com/auth?state=x").unwrap();
        for (opening, first) in [
            (
                true,
                "Starting a browser to sign in. If it does not show the page, open this page",
            ),
            (
                false,
                "To sign in, open this page in a browser on this computer:",
            ),
        ] {
            let mut out = Vec::new();
            browser(&url, opening, Duration::from_mins(5), &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            assert!(lines[0].starts_with(first), "{text}");
            assert_eq!(lines[1], url.as_str());
            assert_eq!(lines[2], "Waiting up to 5 minutes for the sign-in…");
        }
    }

    #[test]
    fn the_device_code_and_page_are_shown_but_not_the_device_code_secret() {
        let code = DeviceCode {
            device_code: Secret::new("poll-s3cret"),
            user_code: "WDJB-MJHT".into(),
            verification_uri: "https://example.com/device".into(),
            verification_uri_complete: None,
            expires_in: Duration::from_mins(30),
            interval: Duration::from_secs(5),
        };
        let mut out = Vec::new();
        device_code(&code, Duration::from_mins(30), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("WDJB-MJHT")
                && text.contains("https://example.com/device")
                && text.contains("Waiting up to 30 minutes")
        );
        assert!(!text.contains("poll-s3cret"));
        // --wait 90 with a code valid 30 minutes: mailcheck gives up after 90 s.
        let mut out = Vec::new();
        device_code(&code, Duration::from_secs(90), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Waiting up to 90 seconds"), "{text}");
        let mut out = Vec::new();
        device_code(&code, Duration::from_secs(1000), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Waiting up to 16 minutes"), "{text}");
    }

    #[test]
    fn the_authorization_server_s_words_reach_the_terminal_cleaned() {
        let evil = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{202e}";
        let code = DeviceCode {
            device_code: Secret::new("poll-s3cret"),
            user_code: evil.into(),
            verification_uri: format!("https://example.com/{evil}"),
            verification_uri_complete: Some(evil.into()),
            expires_in: Duration::from_mins(30),
            interval: Duration::from_secs(5),
        };
        let refusal = Refused {
            message: format!("the server said {evil}"),
            explanation: None,
        };
        let mut out = Vec::new();
        device_code(&code, Duration::from_mins(30), &mut out).unwrap();
        refused(&refusal, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            assert!(
                !line.chars().any(crate::output::text::unsafe_char),
                "{line:?}"
            );
        }
        assert!(text.contains("\\u{1b}]0;pwned"), "{text}");
    }

    fn outcome() -> SignedIn {
        SignedIn {
            token: StoredToken {
                version: VERSION,
                account: "alice@example.com".into(),
                issuer: "https://auth.example.com".into(),
                client_id: "cid".into(),
                client_secret: Some(Secret::new("cs3cret")),
                token_url: "https://auth.example.com/token".into(),
                revocation_url: None,
                scopes_requested: vec!["mail".into()],
                scopes_granted: Some(vec!["mail".into()]),
                access_token: Secret::new("at0ken"),
                refresh_token: Some(Secret::new("rt0ken")),
                obtained_at: 0,
                expires_at: Some(3600),
            },
            stored: Ok(Location::Keyring),
        }
    }

    #[test]
    fn the_outcome_names_the_store_and_never_a_secret() {
        let s = outcome();
        let mut out = Vec::new();
        signed_in(&s, &mut out).unwrap();
        not_kept(&s, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("keyring") && text.contains("1970-01-01T01:00:00Z"),
            "{text}"
        );
        assert!(!text.contains("could not be stored"), "{text}");
        for secret in ["cs3cret", "at0ken", "rt0ken"] {
            assert!(!text.contains(secret));
        }
    }

    /// The sign-in worked but the store refused the token: the person is told
    /// both, where, and what to do; nothing claims the token is usable.
    #[test]
    fn a_token_that_could_not_be_stored_is_said_plainly() {
        let mut s = outcome();
        s.stored = Err(NotKept {
            reason: "cannot create /home/a/.local/share/mailcheck/oauth2: Permission denied".into(),
            fix:
                "make sure you can create and write files in /home/a/.local/share/mailcheck/oauth2"
                    .into(),
            revoked: "https://auth.example.com revoked the tokens".into(),
        });
        let (mut out, mut err) = (Vec::new(), Vec::new());
        signed_in(&s, &mut out).unwrap();
        not_kept(&s, &mut err).unwrap();
        let (out, err) = (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        );
        assert_eq!(
            out,
            "Signed in as alice@example.com at https://auth.example.com.\n"
        );
        assert!(
            err.contains(
                "the sign-in worked, but the token could not be stored: cannot create /home/a/"
            ) && err.contains("Nothing was kept")
                && err.contains(
                    "Revoking the unkept tokens: https://auth.example.com revoked the tokens."
                )
                && err.contains("Fix: make sure you can create")
                && err.contains("then run `mailcheck login alice@example.com` again"),
            "{err}"
        );
    }
}
