//! Target `sasl`: the SASL client mechanisms answering server challenges
//! ([`Exchange::on_challenge`]: base64, LOGIN prompts, CRAM-MD5 challenges,
//! XOAUTH2/OAUTHBEARER JSON error challenges) and the reading of the mechanisms
//! a server offers ([`offered_names`], [`choose`]).
//!
//! Input: one configuration byte, then lines. Bits 0-2 pick the mechanism
//! (`% 5` of [`Mechanism::ALL`]); bit 3 makes the lines raw challenges that the
//! harness base64-encodes (so the fuzzer can work on the JSON directly); bit 4
//! adds OAUTHBEARER's host and port; bit 5 uses a username with `,` and `=`
//! (escaped in OAUTHBEARER's GS2 header). The same lines are also read as
//! capability entries of each protocol.
//!
//! Invariants: an exchange answers at most two challenges, whatever the server
//! sends; every response is valid base64 and is shown redacted whenever it
//! carries the secret; `Debug` never shows the secret; offered names are valid,
//! distinct SASL names (RFC 4422 §3.1) and the chosen mechanism is offered and
//! fits the credentials.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mailcheck::model::Protocol;
use mailcheck::proto::sasl::{
    CredentialKind, Credentials, Exchange, Mechanism, REDACTED_RESPONSE, SaslError, Wire, choose,
    offered_mechanisms, offered_names,
};

use super::dialogue::{ADDRESS, credentials};
use super::input::{self, carries_secret};

/// Most challenges any mechanism answers: LOGIN's two prompts, or an OAuth2
/// mechanism's empty challenge and then its error.
pub const MAX_ANSWERS: usize = 2;

/// Runs one input.
pub fn run(data: &[u8]) {
    let ([flags], rest) = input::split::<1>(data);
    let mechanism = Mechanism::ALL[usize::from(flags & 7) % Mechanism::ALL.len()];
    let username = if flags & 32 == 0 {
        ADDRESS
    } else {
        "a,l=ice@example.com"
    };
    let token = mechanism.credential_kind() == CredentialKind::OAuth2;
    let creds = credentials(token, username);
    let text = String::from_utf8_lossy(rest);
    let lines = input::lines(&text);
    offers(&lines, &creds);
    exchange(mechanism, &creds, flags, &lines);
    assert!(
        matches!(
            Exchange::new(mechanism, &credentials(!token, username)),
            Err(SaslError::Unsuitable { .. })
        ),
        "{mechanism} took the wrong kind of credentials"
    );
}

fn exchange(mechanism: Mechanism, creds: &Credentials, flags: u8, lines: &[&str]) {
    let mut exchange = Exchange::new(mechanism, creds).expect("the harness's credentials fit");
    if flags & 16 != 0 {
        exchange = exchange.with_server("mail.example.com", 993);
    }
    let initial = exchange.initial_response();
    assert_eq!(initial.is_some(), mechanism.client_first(), "{mechanism}");
    if let Some(wire) = &initial {
        check_wire(wire);
        assert_eq!(wire.redacted, REDACTED_RESPONSE);
    }
    let mut answered = 0;
    for line in lines {
        let challenge = if flags & 8 == 0 {
            (*line).to_owned()
        } else {
            STANDARD.encode(line)
        };
        let Ok(wire) = exchange.on_challenge(&challenge) else {
            break;
        };
        answered += 1;
        assert!(answered <= MAX_ANSWERS, "{mechanism} answered {answered}");
        check_wire(&wire);
        assert!(!carries_secret(&format!("{exchange:?}")), "{exchange:?}");
    }
}

/// A response is base64 and shown redacted whenever it carries the secret.
fn check_wire(wire: &Wire) {
    let decoded = STANDARD
        .decode(&wire.text)
        .unwrap_or_else(|e| panic!("a response that is not base64 ({e}): {wire:?}"));
    let plain = String::from_utf8_lossy(&decoded);
    if carries_secret(&plain) {
        assert_eq!(wire.redacted, REDACTED_RESPONSE);
    } else {
        assert!(wire.redacted == wire.text || wire.redacted == REDACTED_RESPONSE);
    }
    assert!(!carries_secret(&wire.redacted));
    assert!(!carries_secret(&format!("{wire:?}")));
}

/// The lines as capability entries: the names read from them and the choice.
fn offers(lines: &[&str], creds: &Credentials) {
    let capabilities: Vec<String> = lines.iter().map(|&l| l.to_owned()).collect();
    for protocol in [Protocol::Imap, Protocol::Pop3, Protocol::Smtp] {
        let names = offered_names(protocol, &capabilities);
        for (i, name) in names.iter().enumerate() {
            assert!(is_sasl_name(name), "{name:?}");
            assert!(!names[..i].contains(name), "{name} twice");
        }
        for mechanism in offered_mechanisms(protocol, &capabilities) {
            assert!(names.iter().any(|n| n == mechanism.name()), "{mechanism}");
        }
        let forced = std::iter::once(None).chain(Mechanism::ALL.map(Some));
        for force in forced {
            if let Ok(chosen) = choose(&names, creds, force) {
                assert!(names.iter().any(|n| n == chosen.name()), "{chosen}");
                assert_eq!(chosen.credential_kind(), creds.kind());
                assert!(force.is_none_or(|f| f == chosen));
            }
        }
    }
}

/// RFC 4422 §3.1: 1 to 20 of upper-case letters, digits, `-` and `_`.
fn is_sasl_name(name: &str) -> bool {
    (1..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}
