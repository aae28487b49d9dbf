//! Why a login was refused, in words a person can act on.
//!
//! A server's refusal is terse ("535 5.7.139 Authentication unsuccessful",
//! "NO LOGIN failed.") and often means something only the provider's help pages
//! spell out: that passwords are switched off, that an app password is needed,
//! that POP3 must be enabled first. The catalogue of those meanings is data,
//! `data/auth-messages.toml`, embedded at build time, parsed once and validated
//! by the tests below.
//!
//! [`explain`] reads the reply's structured parts (the SMTP reply and enhanced
//! status codes of RFC 3463 and RFC 4954 §6, the POP3 response codes of RFC 2449
//! §8 and RFC 3206, the IMAP response codes of RFC 5530) and its text, then
//! tries, in order: the provider's own rules (the provider known from discovery,
//! or recognised from the greeting by [`provider_from_greeting`]), the generic
//! rules of the RFCs, and a fallback that quotes the reply. Pure: no I/O.

use std::sync::LazyLock;

use serde::Deserialize;

use crate::discover::{domain, providers};
use crate::model::Protocol;
use crate::proto::smtp::parse_reply_line;
use crate::report::Explanation;

/// The catalogue's text, embedded at build time.
const CATALOGUE_TOML: &str = include_str!("../../data/auth-messages.toml");

/// The code of the fallback explanation, when no rule matches.
pub const FALLBACK_CODE: &str = "auth_refused";

/// The most of a server's text an explanation repeats, in characters.
const QUOTE_LIMIT: usize = 300;

/// One entry of the catalogue: the conditions a reply must meet, and what it means.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable identifier (lower snake case).
    pub code: String,
    /// Protocols the rule applies to.
    pub protocols: Vec<Protocol>,
    /// Provider ids (from the provider table) the rule belongs to; empty for a
    /// generic rule.
    #[serde(default)]
    pub providers: Vec<String>,
    /// The rule explains only refusals of an OAuth2 token (XOAUTH2,
    /// OAUTHBEARER), where the same words mean something else than for a
    /// password; see [`explain_token`].
    #[serde(default)]
    pub oauth2: bool,
    /// SMTP reply code that must match (535).
    pub reply_code: Option<u16>,
    /// SMTP enhanced status code that must match (`5.7.8`).
    pub enhanced_code: Option<String>,
    /// POP3 or IMAP response code that must occur, without brackets (`AUTH`).
    pub response_code: Option<String>,
    /// Substrings of which one must occur (compared in lower case, with runs of
    /// white space as one space).
    #[serde(default)]
    pub contains: Vec<String>,
    /// One plain sentence: why the login failed.
    pub cause: String,
    /// What to do.
    pub fix: String,
    /// Where the meaning comes from: an RFC section or a provider's page.
    pub sources: Vec<String>,
    /// Replies as servers send them; each is explained by this rule.
    pub examples: Vec<String>,
}

impl Rule {
    /// Whether this rule belongs to one provider or more.
    #[must_use]
    pub fn is_provider_specific(&self) -> bool {
        !self.providers.is_empty()
    }

    /// Whether a provider rule may be used when the provider is `provider`.
    fn applies_to(&self, provider: Option<&str>) -> bool {
        provider.is_some_and(|id| self.providers.iter().any(|p| p == id))
    }

    /// Whether every condition of the rule holds for this reply.
    fn matches(&self, protocol: Protocol, reply: &Parsed) -> bool {
        self.protocols.contains(&protocol)
            && self.reply_code.is_none_or(|c| reply.reply_code == Some(c))
            && self
                .enhanced_code
                .as_deref()
                .is_none_or(|c| reply.enhanced_code.as_deref() == Some(c))
            && self.response_code.as_deref().is_none_or(|c| {
                reply
                    .response_codes
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(c))
            })
            && (self.contains.is_empty()
                || self
                    .contains
                    .iter()
                    .any(|s| reply.text.contains(s.as_str())))
    }
}

/// Explains a refused login.
///
/// `reply` is the server's whole reply to the login (every line of a
/// multi-line SMTP reply; for IMAP, untagged lines before the tagged one are
/// welcome, since an `[ALERT]` may come on one). `provider` is the provider id
/// discovery found; without it, `greeting` may name the provider.
#[must_use]
pub fn explain(
    protocol: Protocol,
    reply: &str,
    provider: Option<&str>,
    greeting: Option<&str>,
) -> Explanation {
    let parsed = Parsed::parse(protocol, reply);
    let provider = provider.or_else(|| greeting.and_then(provider_from_greeting));
    let rules = catalogue().iter().filter(|r| !r.oauth2);
    let rule = rules
        .clone()
        .filter(|r| r.is_provider_specific() && r.applies_to(provider))
        .chain(rules.filter(|r| !r.is_provider_specific()))
        .find(|r| r.matches(protocol, &parsed));
    explained(rule, reply, parsed)
}

/// Explains a refused OAuth2 token login: the rules for token logins first
/// (the provider's, then generic), then, when the server sent an RFC 7628 error
/// challenge, what such a challenge means, then the rules for any login.
#[must_use]
pub fn explain_token(
    protocol: Protocol,
    reply: &str,
    challenged: bool,
    provider: Option<&str>,
    greeting: Option<&str>,
) -> Explanation {
    let parsed = Parsed::parse(protocol, reply);
    let provider = provider.or_else(|| greeting.and_then(provider_from_greeting));
    let rules = catalogue().iter().filter(|r| r.oauth2);
    let rule = rules
        .clone()
        .filter(|r| r.is_provider_specific() && r.applies_to(provider))
        .chain(rules.filter(|r| !r.is_provider_specific()))
        .find(|r| r.matches(protocol, &parsed))
        .or_else(|| {
            challenged
                .then(|| catalogue().iter().find(|r| r.code == CHALLENGE_CODE))
                .flatten()
        });
    match rule {
        Some(_) => explained(rule, reply, parsed),
        None => explain(protocol, reply, provider, greeting),
    }
}

/// The rule for an RFC 7628 error challenge, whatever the final reply says.
const CHALLENGE_CODE: &str = "oauth2_token_rejected";

fn explained(rule: Option<&Rule>, reply: &str, parsed: Parsed) -> Explanation {
    match rule {
        Some(rule) => Explanation {
            code: rule.code.clone(),
            cause: rule.cause.clone(),
            fix: rule.fix.clone(),
            provider_specific: rule.is_provider_specific(),
            alert: parsed.alert,
        },
        None => fallback(reply, parsed.alert),
    }
}

/// The provider a server belongs to, as far as its identity shows: the provider
/// table's servers share the host's domain (or one of the names in its
/// certificate), preferring the provider discovery recognised for the
/// address. Reply wording never counts (see [`explain`]); the greeting is
/// looked at by [`explain`] itself.
#[must_use]
pub fn identify(host: &str, discovered: Option<&str>, cert_names: &[String]) -> Option<String> {
    // Names with a dot and a letter: no IP literals, no single labels
    // ("localhost", a bridge's 127.0.0.1 would otherwise match anything local).
    let names: Vec<&str> = std::iter::once(host)
        .chain(cert_names.iter().map(|n| n.trim_start_matches("*.")))
        .filter(|n| n.contains('.') && n.parse::<std::net::IpAddr>().is_err())
        .collect();
    let serves = |p: &providers::Provider| {
        p.settings()
            .filter(|s| s.host.contains('.') && s.host.parse::<std::net::IpAddr>().is_err())
            .any(|s| names.iter().any(|n| domain::same_site(n, &s.host)))
    };
    let all = providers::all();
    all.iter()
        .find(|p| Some(p.id.as_str()) == discovered && serves(p))
        .or_else(|| all.iter().find(|p| serves(p)))
        .map(|p| p.id.clone())
}

/// The provider a server's greeting names (`microsoft365`, `gmail`, `yahoo`),
/// if any. Outlook.com and Microsoft 365 greet alike and come out as
/// `microsoft365`; Gmail and Google Workspace as `gmail`.
#[must_use]
pub fn provider_from_greeting(greeting: &str) -> Option<&'static str> {
    let greeting = normalise(greeting);
    CATALOGUE
        .greetings
        .iter()
        .find(|g| g.contains.iter().any(|s| greeting.contains(s.as_str())))
        .map(|g| g.provider.as_str())
}

/// Every rule, in the order [`explain`] tries them within their group.
#[must_use]
pub fn catalogue() -> &'static [Rule] {
    &CATALOGUE.rules
}

/// When the catalogue's texts were checked (YYYY-MM-DD).
#[must_use]
pub fn checked_date() -> &'static str {
    &CATALOGUE.checked
}

/// The explanation when no rule matches: the server's own words.
fn fallback(reply: &str, alert: Option<String>) -> Explanation {
    let quoted = quote(reply);
    let cause = if quoted.is_empty() {
        "The server refused the login without saying why.".to_owned()
    } else {
        format!("The server refused the login and said: \"{quoted}\".")
    };
    Explanation {
        code: FALLBACK_CODE.to_owned(),
        cause,
        fix: "Check the username (often the full address) and the password; if the provider \
              uses app passwords or OAuth2, use those instead of the account password."
            .to_owned(),
        provider_specific: false,
        alert,
    }
}

// ---------------------------------------------------------------------------
// Reading a reply.

/// What [`explain`] reads from a reply.
#[derive(Debug, Default)]
struct Parsed {
    /// SMTP reply code of the last line that has one.
    reply_code: Option<u16>,
    /// SMTP enhanced status code of the last line that has one.
    enhanced_code: Option<String>,
    /// POP3 or IMAP response codes, one per line that has one.
    response_codes: Vec<String>,
    /// The text of the first IMAP `[ALERT]`.
    alert: Option<String>,
    /// The text to match `contains` against: lower case, white space collapsed,
    /// SMTP line prefixes removed.
    text: String,
}

impl Parsed {
    fn parse(protocol: Protocol, reply: &str) -> Parsed {
        match protocol {
            Protocol::Smtp => parse_smtp(reply),
            Protocol::Pop3 => parse_bracketed(reply, &["+OK", "-ERR"], false),
            Protocol::Imap => parse_bracketed(reply, &["OK", "NO", "BAD", "BYE", "PREAUTH"], true),
        }
    }
}

/// Reads an SMTP reply, one line or many (`535-5.7.8 ...` / `535 5.7.8 ...`):
/// RFC 5321 §4.2 for the reply code, RFC 3463 §2 for the enhanced code, which
/// RFC 2034 puts at the start of each line's text.
fn parse_smtp(reply: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut texts = Vec::new();
    for line in reply.lines() {
        let (code, rest) = split_reply_code(line);
        if code.is_some() {
            parsed.reply_code = code;
        }
        let (first, after) = split_word(rest);
        let text = if is_enhanced_code(first) {
            parsed.enhanced_code = Some(first.to_owned());
            after
        } else {
            rest
        };
        texts.push(text);
    }
    parsed.text = normalise(&texts.join(" "));
    parsed
}

/// Splits `535-rest` or `535 rest` into the reply code and the rest; a line
/// without a code comes back whole.
fn split_reply_code(line: &str) -> (Option<u16>, &str) {
    match parse_reply_line(line) {
        Some(reply) => (Some(reply.code), reply.text),
        None => (None, line),
    }
}

/// Whether `s` is an enhanced status code `class.subject.detail` (RFC 3463 §2):
/// class 2, 4 or 5, subject and detail of one to three digits.
fn is_enhanced_code(s: &str) -> bool {
    let mut parts = s.split('.');
    let class_ok = matches!(parts.next(), Some("2" | "4" | "5"));
    let digits = |p: Option<&str>| {
        p.is_some_and(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    };
    class_ok && digits(parts.next()) && digits(parts.next()) && parts.next().is_none()
}

/// Reads a POP3 or IMAP reply whose lines may carry a response code in
/// brackets after the status (`-ERR [AUTH] ...`, `a1 NO [AUTHENTICATIONFAILED] ...`;
/// RFC 2449 §8, RFC 9051 §7.1). `alerts` says whether to keep `[ALERT]` text.
fn parse_bracketed(reply: &str, statuses: &[&str], alerts: bool) -> Parsed {
    let mut parsed = Parsed::default();
    for line in reply.lines() {
        let Some((code, after)) = bracket_code(after_status(line, statuses)) else {
            continue;
        };
        if alerts && code == "ALERT" && parsed.alert.is_none() {
            parsed.alert = Some(quote(after)).filter(|a| !a.is_empty());
        }
        parsed.response_codes.push(code);
    }
    parsed.text = normalise(reply);
    parsed
}

/// The rest of a line after its status word (`-ERR`, `NO`), which may follow a
/// tag (`a1`, `*`); the line itself when it has no status word.
fn after_status<'a>(line: &'a str, statuses: &[&str]) -> &'a str {
    let line = line.trim();
    let mut rest = line;
    for _ in 0..2 {
        let (word, tail) = split_word(rest);
        if statuses.iter().any(|s| word.eq_ignore_ascii_case(s)) {
            return tail;
        }
        if word.starts_with('[') {
            return rest;
        }
        rest = tail;
    }
    line
}

/// The response code at the start of `s` (`[SYS/TEMP] text` → `SYS/TEMP`; the
/// first word of a code with arguments), upper case, and the text after it.
fn bracket_code(s: &str) -> Option<(String, &str)> {
    let inner = s.strip_prefix('[')?;
    let end = inner.find(']')?;
    let (code, _) = split_word(&inner[..end]);
    (!code.is_empty()).then(|| (code.to_ascii_uppercase(), inner[end + 1..].trim()))
}

/// The first word of `s` and the rest, both without surrounding white space.
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

/// Lower case, with every run of white space as one space: the form `contains`
/// patterns and greetings are compared in.
fn normalise(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// A server's text made safe to show: control characters (terminal escapes
/// included) dropped, white space collapsed, at most [`QUOTE_LIMIT`] characters.
/// Also for the authorization server's words ([`super::oauth2`]).
pub(crate) fn quote(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    if clean.chars().count() <= QUOTE_LIMIT {
        return clean;
    }
    let mut cut: String = clean.chars().take(QUOTE_LIMIT).collect();
    cut.push('…');
    cut
}

// ---------------------------------------------------------------------------
// Loading.

/// The parsed catalogue.
struct Catalogue {
    checked: String,
    rules: Vec<Rule>,
    greetings: Vec<Greeting>,
}

/// Greeting texts that name a provider.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Greeting {
    provider: String,
    contains: Vec<String>,
    #[cfg_attr(not(test), allow(dead_code))]
    examples: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    checked: String,
    rule: Vec<Rule>,
    #[serde(default)]
    greeting: Vec<Greeting>,
}

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    parse(CATALOGUE_TOML).expect(
        "data/auth-messages.toml does not parse; \
         `cargo test explain` names the problem",
    )
});

/// Parses a catalogue in the format of `data/auth-messages.toml` (without
/// validating it), putting every pattern in the form replies are compared in.
fn parse(text: &str) -> Result<Catalogue, toml::de::Error> {
    let raw: RawCatalogue = toml::from_str(text)?;
    let mut rules = raw.rule;
    for rule in &mut rules {
        for pattern in &mut rule.contains {
            *pattern = normalise(pattern);
        }
    }
    let mut greetings = raw.greeting;
    for greeting in &mut greetings {
        for pattern in &mut greeting.contains {
            *pattern = normalise(pattern);
        }
    }
    Ok(Catalogue {
        checked: raw.checked,
        rules,
        greetings,
    })
}

// ---------------------------------------------------------------------------
// Validation: what serde cannot check. Run by the tests on the embedded catalogue.

#[cfg(test)]
mod validation {
    use std::collections::HashSet;

    use super::{Catalogue, Rule, is_enhanced_code};
    use crate::discover::providers;
    use crate::model::Protocol;

    /// Every problem in a parsed catalogue, as sentences; empty when it is sound.
    pub(super) fn validate(catalogue: &Catalogue) -> Vec<String> {
        let mut problems = Vec::new();
        if !is_date(&catalogue.checked) {
            problems.push(format!(
                "checked date {:?} is not YYYY-MM-DD",
                catalogue.checked
            ));
        }
        let known: HashSet<&str> = providers::all().iter().map(|p| p.id.as_str()).collect();
        let mut codes = HashSet::new();
        for rule in &catalogue.rules {
            let mut say = |what: String| problems.push(format!("{}: {what}", rule.code));
            if !codes.insert(rule.code.as_str()) {
                say("code used twice".into());
            }
            if rule.code == super::FALLBACK_CODE {
                say("code is the fallback's".into());
            }
            if !is_snake_case(&rule.code) {
                say("code must be lower-case letters, digits and underscores".into());
            }
            validate_protocols_and_providers(rule, &known, &mut say);
            validate_conditions(rule, &mut say);
            validate_words(rule, &mut say);
        }
        for g in &catalogue.greetings {
            let mut say = |what: String| problems.push(format!("greeting {}: {what}", g.provider));
            if !known.contains(g.provider.as_str()) {
                say("provider is not in the provider table".into());
            }
            if g.contains.is_empty() || g.contains.iter().any(String::is_empty) {
                say("needs non-empty `contains` patterns".into());
            }
            if g.examples.is_empty() {
                say("no example greeting".into());
            }
        }
        problems
    }

    fn validate_protocols_and_providers(
        rule: &Rule,
        known: &HashSet<&str>,
        say: &mut impl FnMut(String),
    ) {
        if rule.protocols.is_empty() {
            say("no protocol".into());
        }
        if rule.protocols.iter().collect::<HashSet<_>>().len() != rule.protocols.len() {
            say("a protocol is listed twice".into());
        }
        for id in &rule.providers {
            if !known.contains(id.as_str()) {
                say(format!("provider {id:?} is not in the provider table"));
            }
        }
    }

    fn validate_conditions(rule: &Rule, say: &mut impl FnMut(String)) {
        let smtp_only = rule.protocols == [Protocol::Smtp];
        if rule.reply_code.is_none()
            && rule.enhanced_code.is_none()
            && rule.response_code.is_none()
            && rule.contains.is_empty()
        {
            say("no condition: it would match every reply".into());
        }
        if let Some(code) = rule.reply_code {
            if !(200..=599).contains(&code) {
                say(format!("reply code {code} is not 2xx to 5xx"));
            }
            if !smtp_only {
                say("reply_code on a rule that is not SMTP-only".into());
            }
        }
        if let Some(code) = &rule.enhanced_code {
            if !is_enhanced_code(code) {
                say(format!(
                    "enhanced code {code:?} is not class.subject.detail"
                ));
            }
            if !smtp_only {
                say("enhanced_code on a rule that is not SMTP-only".into());
            }
        }
        if let Some(code) = &rule.response_code {
            let well_formed = !code.is_empty()
                && code
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'/' || b == b'-');
            if !well_formed {
                say(format!(
                    "response code {code:?} must be upper case, without brackets"
                ));
            }
            if rule.protocols.contains(&Protocol::Smtp) {
                say("response_code on an SMTP rule".into());
            }
        }
        if rule.contains.iter().any(String::is_empty) {
            say("an empty `contains` pattern matches everything".into());
        }
    }

    fn validate_words(rule: &Rule, say: &mut impl FnMut(String)) {
        for (name, text) in [("cause", &rule.cause), ("fix", &rule.fix)] {
            if text.trim().is_empty() {
                say(format!("no {name}"));
            } else if !text.ends_with('.') {
                say(format!("{name} does not end with a full stop"));
            }
        }
        if rule.cause.trim_end_matches('.').contains(". ") {
            say("cause is more than one sentence".into());
        }
        if rule.sources.is_empty() {
            say("no source".into());
        }
        for s in &rule.sources {
            if !(s.starts_with("https://") || s.starts_with("RFC ")) || s.contains('\n') {
                say(format!(
                    "source {s:?} is neither an https URL nor an RFC section"
                ));
            }
        }
        if rule.examples.is_empty() {
            say("no example reply".into());
        }
    }

    fn is_date(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() == 10
            && b.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            })
    }

    fn is_snake_case(s: &str) -> bool {
        s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }
}

#[cfg(test)]
mod tests {
    use super::validation::validate;
    use super::*;

    fn code(protocol: Protocol, reply: &str, provider: Option<&str>) -> String {
        explain(protocol, reply, provider, None).code
    }

    #[test]
    fn embedded_catalogue_is_valid() {
        assert_eq!(validate(&CATALOGUE), Vec::<String>::new());
        assert!(catalogue().len() >= 30, "{} rules", catalogue().len());
        assert_eq!(checked_date(), "2026-11-26");
    }

    #[test]
    fn every_example_is_explained_by_its_own_rule() {
        for rule in catalogue() {
            let mut providers: Vec<Option<&str>> =
                rule.providers.iter().map(|p| Some(p.as_str())).collect();
            if !rule.is_provider_specific() {
                providers.push(None);
            }
            for example in &rule.examples {
                for &protocol in &rule.protocols {
                    for &provider in &providers {
                        let e = if rule.oauth2 {
                            explain_token(protocol, example, false, provider, None)
                        } else {
                            explain(protocol, example, provider, None)
                        };
                        assert_eq!(
                            e.code, rule.code,
                            "{protocol} {provider:?}: {example:?} gave {e:?}"
                        );
                        assert_eq!(e.provider_specific, rule.is_provider_specific());
                    }
                }
            }
        }
    }

    #[test]
    fn every_greeting_example_names_its_provider() {
        for g in &CATALOGUE.greetings {
            for example in &g.examples {
                assert_eq!(
                    provider_from_greeting(example),
                    Some(g.provider.as_str()),
                    "{example}"
                );
            }
        }
    }

    /// Each case: protocol, reply, provider, expected code, and the action the
    /// fix must name.
    type ProviderCase<'a> = (Protocol, &'a str, &'a str, &'a str, &'a str);

    fn assert_provider_cases(cases: &[ProviderCase]) {
        for &(protocol, reply, provider, expected, action) in cases {
            let e = explain(protocol, reply, Some(provider), None);
            assert_eq!(e.code, expected, "{reply}");
            assert!(e.provider_specific, "{reply}");
            assert!(
                e.fix.contains(action),
                "{expected}: fix {:?} lacks {action:?}",
                e.fix
            );
        }
    }

    #[test]
    fn microsoft_messages_get_their_codes_and_fixes() {
        use Protocol::{Imap, Pop3, Smtp};
        assert_provider_cases(&[
            (
                Smtp,
                "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
                "outlook",
                "microsoft_basic_auth_disabled",
                "OAuth2",
            ),
            (
                Smtp,
                "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
                "microsoft365",
                "microsoft_smtp_auth_disabled",
                "enable SMTP AUTH",
            ),
            (
                Smtp,
                "530 5.7.57 Client not authenticated to send mail.",
                "microsoft365",
                "microsoft_client_not_authenticated",
                "requires authentication",
            ),
            (
                Pop3,
                "-ERR Logon failure: unknown user name or bad password.",
                "outlook",
                "microsoft_pop_imap_login_failed",
                "OAuth2",
            ),
            (
                Imap,
                "A2 NO LOGIN failed.",
                "microsoft365",
                "microsoft_pop_imap_login_failed",
                "enable POP or IMAP",
            ),
            (
                Imap,
                "A1 NO AUTHENTICATE failed.",
                "outlook",
                "microsoft_pop_imap_login_failed",
                "Check the password",
            ),
        ]);
    }

    #[test]
    fn google_messages_get_their_codes_and_fixes() {
        use Protocol::{Imap, Smtp};
        assert_provider_cases(&[
            (
                Smtp,
                "534-5.7.9 Application-specific password required. Learn more at\r\n534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor - gsmtp",
                "gmail",
                "gmail_app_password_required",
                "app password",
            ),
            (
                Smtp,
                "535-5.7.8 Username and Password not accepted. Learn more at\r\n535 5.7.8  https://support.google.com/mail/?p=BadCredentials - gsmtp",
                "gmail",
                "gmail_bad_credentials",
                "app password",
            ),
            (
                Smtp,
                "534-5.7.14 <https://accounts.google.com/signin/continue?sarp=1>\r\n534-5.7.14 Please log in via your web browser and\r\n534-5.7.14 then try again.\r\n534 5.7.14 https://support.google.com/mail/answer/78754 - gsmtp",
                "google_workspace",
                "gmail_web_login_required",
                "web browser",
            ),
            (
                Imap,
                "a1 NO [ALERT] Application-specific password required: https://support.google.com/accounts/answer/185833 (Failure)",
                "gmail",
                "gmail_app_password_required",
                "app password",
            ),
            (
                Imap,
                "a1 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)",
                "gmail",
                "gmail_invalid_credentials",
                "app password",
            ),
        ]);
    }

    #[test]
    fn yahoo_mailru_gmx_messages_get_their_codes_and_fixes() {
        use Protocol::{Imap, Pop3, Smtp};
        assert_provider_cases(&[
            (
                Smtp,
                "535 5.7.0 (#AUTH005) Too many bad auth attempts.",
                "yahoo",
                "yahoo_too_many_attempts",
                "wait",
            ),
            (
                Imap,
                "a0 NO [AUTHENTICATIONFAILED] LOGIN Invalid credentials",
                "yahoo",
                "yahoo_app_password_required",
                "app password",
            ),
            (
                Imap,
                "a0 NO [AUTHENTICATIONFAILED] LOGIN Invalid credentials",
                "aol",
                "yahoo_app_password_required",
                "app password",
            ),
            (
                Smtp,
                "535 5.7.0 NEOBHODIM parol prilozheniya https://help.mail.ru/mail/security/protection/external / Application password is REQUIRED",
                "mailru",
                "mailru_app_password_required",
                "application password",
            ),
            (
                Pop3,
                "-ERR authentication failed",
                "gmx_net",
                "gmx_webde_auth_failed",
                "enable POP3 and IMAP",
            ),
            (
                Imap,
                "2 NO authentication failed",
                "webde",
                "gmx_webde_auth_failed",
                "password",
            ),
            (
                Imap,
                "2 NO authentication failed",
                "gmx_com",
                "gmx_webde_auth_failed",
                "enable POP3 and IMAP",
            ),
        ]);
    }

    #[test]
    fn microsoft_pop_imap_failure_names_all_three_causes() {
        let e = explain(Protocol::Imap, "a1 NO LOGIN failed.", Some("outlook"), None);
        for cause in ["password is wrong", "OAuth2", "POP/IMAP is not enabled"] {
            assert!(e.cause.contains(cause), "{cause}: {}", e.cause);
        }
        let e = explain(
            Protocol::Pop3,
            "-ERR authentication failed",
            Some("gmx_net"),
            None,
        );
        assert!(e.cause.contains("password is wrong") && e.cause.contains("switched off"));
    }

    #[test]
    fn smtp_enhanced_codes() {
        let cases = [
            (
                "535 5.7.8 Authentication credentials invalid",
                "smtp_credentials_invalid",
            ),
            (
                "534 5.7.9 Authentication mechanism is too weak",
                "smtp_mechanism_too_weak",
            ),
            (
                "538 5.7.11 Encryption required for requested authentication mechanism",
                "smtp_encryption_required",
            ),
            (
                "530 5.7.0 Must issue a STARTTLS command first",
                "smtp_starttls_required",
            ),
            (
                "530 Must issue a STARTTLS command first",
                "smtp_starttls_required",
            ),
            (
                "454 4.7.0 Temporary authentication failure",
                "smtp_temporary_failure",
            ),
            (
                "432 4.7.12 A password transition is needed",
                "smtp_password_transition",
            ),
            ("530 5.7.0 Authentication required", "smtp_auth_required"),
            ("535 Authentication failed", "smtp_auth_rejected"),
            // 4.7.0 on another reply code is not a temporary auth failure.
            (
                "421 4.7.0 Try again later, closing connection",
                FALLBACK_CODE,
            ),
        ];
        for (reply, expected) in cases {
            assert_eq!(code(Protocol::Smtp, reply, None), expected, "{reply}");
        }
    }

    #[test]
    fn multi_line_smtp_replies() {
        let reply = "535-5.7.8 Authentication failed\r\n535 5.7.8 Please check your username\r\n";
        assert_eq!(
            code(Protocol::Smtp, reply, None),
            "smtp_credentials_invalid"
        );
        // The text is matched across lines, without the continuation prefixes.
        let reply = "534-5.7.14 Please log in via your web browser and\n534-5.7.14 then\n534 5.7.14 try again.";
        let parsed = parse_smtp(reply);
        assert_eq!(parsed.reply_code, Some(534));
        assert_eq!(parsed.enhanced_code.as_deref(), Some("5.7.14"));
        assert_eq!(
            parsed.text,
            "please log in via your web browser and then try again."
        );
        assert_eq!(
            code(Protocol::Smtp, reply, Some("gmail")),
            "gmail_web_login_required"
        );
    }

    #[test]
    fn smtp_code_parsing_rejects_look_alikes() {
        assert_eq!(split_reply_code("535 x"), (Some(535), "x"));
        assert_eq!(split_reply_code("535-x"), (Some(535), "x"));
        assert_eq!(split_reply_code("535"), (Some(535), ""));
        for line in ["5355 x", "53 x", "abc x", "535x", "", "５３５ x"] {
            assert_eq!(split_reply_code(line).0, None, "{line:?}");
        }
        for good in ["5.7.8", "4.7.12", "2.0.0", "5.7.139"] {
            assert!(is_enhanced_code(good), "{good}");
        }
        for bad in [
            "3.7.8", "5.7", "5.7.8.1", "5.7.1234", "5..8", "5.7.x", "5.7.8,", "",
        ] {
            assert!(!is_enhanced_code(bad), "{bad:?}");
        }
        // An enhanced code counts only at the start of the text.
        assert_eq!(parse_smtp("535 see 5.7.8 docs").enhanced_code, None);
    }

    #[test]
    fn pop3_response_codes() {
        let cases = [
            ("-ERR [AUTH] Invalid password", "pop3_auth_failed"),
            (
                "-ERR [IN-USE] Mailbox locked by another session",
                "pop3_in_use",
            ),
            ("-ERR [LOGIN-DELAY] Wait 5 minutes", "pop3_login_delay"),
            ("-ERR [SYS/TEMP] Try later", "pop3_sys_temp"),
            ("-ERR [SYS/PERM] Disabled", "pop3_sys_perm"),
            ("-err [in-use] locked", "pop3_in_use"),
            ("-ERR Go away", FALLBACK_CODE),
            // Brackets later in the text are not a response code.
            ("-ERR login failed [AUTH]", FALLBACK_CODE),
        ];
        for (reply, expected) in cases {
            assert_eq!(code(Protocol::Pop3, reply, None), expected, "{reply}");
        }
    }

    #[test]
    fn imap_response_codes() {
        let cases = [
            (
                "a1 NO [AUTHENTICATIONFAILED] Authentication failed.",
                "imap_authentication_failed",
            ),
            (
                "a1 NO [AUTHORIZATIONFAILED] No such authorization-ID",
                "imap_authorization_failed",
            ),
            ("a1 NO [EXPIRED] Password expired", "imap_expired"),
            (
                "a1 NO [PRIVACYREQUIRED] Connection offers no privacy",
                "imap_privacy_required",
            ),
            (
                "a1 NO [CONTACTADMIN] Account suspended",
                "imap_contact_admin",
            ),
            ("a1 NO [UNAVAILABLE] Backend down", "imap_unavailable"),
            ("a1 NO [ALERT] Accept the new terms first", "imap_alert"),
            (
                "[AUTHENTICATIONFAILED] Invalid credentials (Failure)",
                "imap_authentication_failed",
            ),
            ("a1 NO LOGIN failed.", FALLBACK_CODE),
        ];
        for (reply, expected) in cases {
            assert_eq!(code(Protocol::Imap, reply, None), expected, "{reply}");
        }
    }

    #[test]
    fn alert_text_is_returned_whatever_rule_matches() {
        let reply = "* NO [ALERT] Your account is over quota\r\na1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n";
        let e = explain(Protocol::Imap, reply, None, None);
        assert_eq!(e.code, "imap_authentication_failed");
        assert_eq!(e.alert.as_deref(), Some("Your account is over quota"));

        let e = explain(
            Protocol::Imap,
            "a1 NO [ALERT] Accept the new terms",
            None,
            None,
        );
        assert_eq!(
            (e.code.as_str(), e.alert.as_deref()),
            ("imap_alert", Some("Accept the new terms"))
        );

        // Control characters (a terminal escape here) never reach the user.
        let e = explain(
            Protocol::Imap,
            "a1 NO [ALERT] \u{1b}[31mRed\u{7} alert",
            None,
            None,
        );
        assert_eq!(e.alert.as_deref(), Some("[31mRed alert"));

        // No [ALERT], no alert; and POP3 has none.
        assert_eq!(
            explain(Protocol::Imap, "a1 NO [EXPIRED] x", None, None).alert,
            None
        );
        assert_eq!(
            explain(Protocol::Pop3, "-ERR [ALERT] x", None, None).alert,
            None
        );
        assert_eq!(
            explain(Protocol::Imap, "a1 NO [ALERT]", None, None).alert,
            None
        );
    }

    #[test]
    fn unknown_reply_falls_back_and_quotes_it() {
        let e = explain(Protocol::Smtp, "550 Go away, spammer", None, None);
        assert_eq!(e.code, FALLBACK_CODE);
        assert!(!e.provider_specific);
        assert!(e.cause.starts_with("The server refused the login and said"));
        assert!(e.cause.contains("\"550 Go away, spammer\""), "{}", e.cause);
        assert!(!e.fix.is_empty());

        let e = explain(Protocol::Imap, "", None, None);
        assert_eq!(e.cause, "The server refused the login without saying why.");

        let long = format!("-ERR {}", "x".repeat(5000));
        let e = explain(Protocol::Pop3, &long, None, None);
        assert!(
            e.cause.chars().count() < QUOTE_LIMIT + 60,
            "{}",
            e.cause.len()
        );
        assert!(e.cause.contains('…'));

        let e = explain(
            Protocol::Pop3,
            "-ERR bad\r\n\u{1b}]0;pwned\u{7}",
            None,
            None,
        );
        assert!(
            !e.cause.contains('\u{1b}') && !e.cause.contains('\u{7}'),
            "{}",
            e.cause
        );
    }

    #[test]
    fn hostile_replies_do_not_panic() {
        for reply in [
            "[",
            "]",
            "[]",
            "a1 NO [",
            "a1 NO []",
            "535-",
            "5",
            "535 5.",
            "€€€",
            "a1 NO [ALERT",
            "\0\0\0",
            "-ERR [ÄUTH] ü",
        ] {
            for protocol in Protocol::ALL {
                let e = explain(protocol, reply, None, Some(reply));
                assert!(!e.code.is_empty());
            }
        }
    }

    #[test]
    fn greetings_name_providers() {
        let cases = [
            (
                "220 BN0PR04CA0123.outlook.office365.com Microsoft ESMTP MAIL Service ready at Thu, 26 Nov 2026 10:00:00 +0000",
                Some("microsoft365"),
            ),
            (
                "* OK The Microsoft Exchange IMAP4 service is ready. [QgBMADEA]",
                Some("microsoft365"),
            ),
            (
                "+OK The Microsoft Exchange POP3 service is ready. [UABBADcA]",
                Some("microsoft365"),
            ),
            (
                "220 smtp.gmail.com ESMTP 5b1f17b1804b1-42 - gsmtp",
                Some("gmail"),
            ),
            (
                "* OK Gimap ready for requests from 192.0.2.1 a1mb2",
                Some("gmail"),
            ),
            (
                "+OK Gpop ready for requests from 192.0.2.1 a1mb2",
                Some("gmail"),
            ),
            ("220 smtp.mail.yahoo.com ESMTP ready", Some("yahoo")),
            ("220 mail.example.com ESMTP Postfix (Debian/GNU)", None),
            ("* OK [CAPABILITY IMAP4rev1 SASL-IR] Dovecot ready.", None),
            ("+OK POP3 server ready", None),
            ("", None),
        ];
        for (greeting, expected) in cases {
            assert_eq!(provider_from_greeting(greeting), expected, "{greeting}");
        }
    }

    #[test]
    fn provider_rules_apply_only_to_their_provider() {
        let imap_login = "a1 NO LOGIN failed.";
        let exchange = "* OK The Microsoft Exchange IMAP4 service is ready.";
        assert_eq!(code(Protocol::Imap, imap_login, None), FALLBACK_CODE);
        assert_eq!(
            code(Protocol::Imap, imap_login, Some("gmail")),
            FALLBACK_CODE
        );
        assert_eq!(
            explain(Protocol::Imap, imap_login, None, Some(exchange)).code,
            "microsoft_pop_imap_login_failed"
        );
        // Discovery's provider wins over the greeting.
        assert_eq!(
            explain(Protocol::Imap, imap_login, Some("gmx_net"), Some(exchange)).code,
            FALLBACK_CODE
        );

        let invalid = "a1 NO [AUTHENTICATIONFAILED] Invalid credentials";
        assert_eq!(
            code(Protocol::Imap, invalid, Some("yahoo")),
            "yahoo_app_password_required"
        );
        assert_eq!(
            code(Protocol::Imap, invalid, Some("gmail")),
            "gmail_invalid_credentials"
        );
        assert_eq!(
            code(Protocol::Imap, invalid, Some("fastmail")),
            "imap_authentication_failed"
        );
        assert_eq!(
            code(Protocol::Imap, invalid, None),
            "imap_authentication_failed"
        );
        assert!(!explain(Protocol::Imap, invalid, None, None).provider_specific);

        let gmx = "-ERR authentication failed";
        assert_eq!(code(Protocol::Pop3, gmx, None), FALLBACK_CODE);
        assert_eq!(
            code(Protocol::Pop3, gmx, Some("webde")),
            "gmx_webde_auth_failed"
        );
    }

    #[test]
    fn a_provider_is_known_by_its_servers_and_certificates_not_its_words() {
        assert_eq!(
            identify("imap.gmail.com", Some("gmail"), &[]).as_deref(),
            Some("gmail")
        );
        assert_eq!(
            identify("smtp.gmail.com", None, &[]).as_deref(),
            Some("gmail")
        );
        // An address at gmail.com probed on someone else's server is not Google.
        assert_eq!(identify("mail.example.com", Some("gmail"), &[]), None);
        // A certificate for Google's names is an identity.
        let names = vec!["*.gmail.com".to_owned(), "mx.google.com".to_owned()];
        assert_eq!(identify("10.0.0.7", None, &names).as_deref(), Some("gmail"));
    }

    /// Regression: a server that was not Google, answering "535 Username and
    /// Password not accepted", got Google's app-password advice. A provider's
    /// wording explains a refusal only when the server is known to be that
    /// provider's (host name, MX, greeting or certificate).
    #[test]
    fn provider_wording_alone_does_not_make_a_provider() {
        let basic = "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.";
        assert_eq!(code(Protocol::Smtp, basic, None), "smtp_auth_rejected");
        assert_eq!(
            code(Protocol::Smtp, basic, Some("microsoft365")),
            "microsoft_basic_auth_disabled"
        );
        let other = "535 5.7.139 Authentication unsuccessful, something new.";
        let e = explain(Protocol::Smtp, other, Some("outlook"), None);
        assert_eq!(e.code, "microsoft_auth_unsuccessful");
        assert!(e.fix.contains("OAuth2"));
        assert_eq!(
            code(Protocol::Smtp, basic, Some("gmail")),
            "smtp_auth_rejected"
        );
        let google = "535-5.7.8 Username and Password not accepted. For more information, go to\r\n535 5.7.8 https://support.google.com/mail/?p=BadCredentials";
        assert_eq!(
            code(Protocol::Smtp, google, None),
            "smtp_credentials_invalid"
        );
        assert!(
            !explain(Protocol::Smtp, google, None, None)
                .fix
                .contains("apppasswords")
        );
        assert_eq!(
            code(Protocol::Smtp, google, Some("gmail")),
            "gmail_bad_credentials"
        );
        // The greeting is an identity too.
        let e = explain(
            Protocol::Smtp,
            google,
            None,
            Some("220 smtp.gmail.com ESMTP a1-20020 - gsmtp"),
        );
        assert_eq!(e.code, "gmail_bad_credentials");
    }

    #[test]
    fn oauth2_errors_are_recognised_encoded_or_not() {
        for (protocol, reply) in [
            (
                Protocol::Smtp,
                "334 eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIn0=",
            ),
            (
                Protocol::Imap,
                "+ eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIn0=",
            ),
            (
                Protocol::Imap,
                r#"{"status":"invalid_token","scope":"example_scope"}"#,
            ),
        ] {
            assert_eq!(
                code(protocol, reply, None),
                "oauth2_token_rejected",
                "{reply}"
            );
        }
    }

    fn problems(rules: &str) -> Vec<String> {
        let text = format!("checked = \"2026-11-26\"\n{rules}");
        validate(&parse(&text).unwrap())
    }

    const GOOD_RULE: &str = r#"
        [[rule]]
        code = "good"
        protocols = ["smtp"]
        reply_code = 535
        cause = "It failed."
        fix = "Fix it."
        sources = ["RFC 4954 §6"]
        examples = ["535 no"]
    "#;

    #[test]
    fn validation_accepts_a_sound_rule() {
        assert_eq!(problems(GOOD_RULE), Vec::<String>::new());
    }

    #[test]
    fn validation_rejects_broken_rules() {
        let rule = |body: &str| {
            format!(
                "{GOOD_RULE}\n[[rule]]\ncode = \"bad\"\ncause = \"It failed.\"\n\
                 sources = [\"RFC 1 §1\"]\nexamples = [\"x\"]\n{body}"
            )
        };
        let cases = [
            ("protocols = [\"smtp\"]\nfix = \"Fix.\"", "no condition"),
            (
                "protocols = []\nfix = \"Fix.\"\ncontains = [\"x\"]",
                "no protocol",
            ),
            (
                "protocols = [\"smtp\", \"smtp\"]\nfix = \"Fix.\"\ncontains = [\"x\"]",
                "listed twice",
            ),
            (
                "protocols = [\"smtp\"]\nfix = \"\"\ncontains = [\"x\"]",
                "no fix",
            ),
            (
                "protocols = [\"smtp\"]\nfix = \"Fix\"\ncontains = [\"x\"]",
                "full stop",
            ),
            (
                "protocols = [\"smtp\"]\nfix = \"Fix.\"\ncontains = [\"\"]",
                "empty `contains`",
            ),
            (
                "protocols = [\"smtp\"]\nfix = \"Fix.\"\ncontains = [\"x\"]\nproviders = [\"hotmail\"]",
                "not in the provider table",
            ),
            (
                "protocols = [\"imap\"]\nfix = \"Fix.\"\nreply_code = 535",
                "not SMTP-only",
            ),
            (
                "protocols = [\"smtp\"]\nfix = \"Fix.\"\nreply_code = 999",
                "not 2xx to 5xx",
            ),
            (
                "protocols = [\"smtp\"]\nfix = \"Fix.\"\nenhanced_code = \"5.7\"",
                "not class.subject.detail",
            ),
            (
                "protocols = [\"smtp\"]\nfix = \"Fix.\"\nresponse_code = \"AUTH\"",
                "on an SMTP rule",
            ),
            (
                "protocols = [\"pop3\"]\nfix = \"Fix.\"\nresponse_code = \"[AUTH]\"",
                "without brackets",
            ),
        ];
        for (body, expected) in cases {
            let found = problems(&rule(body));
            assert!(
                found.iter().any(|p| p.contains(expected)),
                "expected {expected:?} for\n{body}\ngot {found:?}"
            );
        }
        let twice = format!("{GOOD_RULE}{GOOD_RULE}");
        assert!(
            problems(&twice)
                .iter()
                .any(|p| p.contains("code used twice"))
        );
        let two_sentences = GOOD_RULE.replace("It failed.", "It failed. Badly.");
        assert!(
            problems(&two_sentences)
                .iter()
                .any(|p| p.contains("more than one sentence"))
        );
        let bad_greeting = format!(
            "{GOOD_RULE}\n[[greeting]]\nprovider = \"nobody\"\ncontains = []\nexamples = []"
        );
        let found = problems(&bad_greeting);
        for expected in [
            "not in the provider table",
            "non-empty `contains`",
            "no example greeting",
        ] {
            assert!(
                found.iter().any(|p| p.contains(expected)),
                "{expected}: {found:?}"
            );
        }
    }

    #[test]
    fn parsing_rejects_unknown_protocols_and_fields() {
        let bad_protocol = GOOD_RULE.replace("\"smtp\"", "\"smtps\"");
        let unknown_field = GOOD_RULE.replace("reply_code", "status");
        for text in [bad_protocol, unknown_field] {
            assert!(
                parse(&format!("checked = \"2026-11-26\"\n{text}")).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn docs_list_every_code() {
        let docs = include_str!("../../docs/auth-messages.md");
        for rule in catalogue() {
            assert!(
                docs.contains(&format!("`{}`", rule.code)),
                "{} missing from docs",
                rule.code
            );
        }
        assert!(docs.contains(&format!("`{FALLBACK_CODE}`")));
    }
}
