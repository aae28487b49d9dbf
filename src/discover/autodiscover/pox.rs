//! Autodiscover "POX" (plain old XML, MS-OXDSCLI): the request a client POSTs
//! to `…/autodiscover/autodiscover.xml` and the answer in Outlook's response
//! schema (`outlook/responseschema/2006a`), whose `<Protocol>` elements of type
//! IMAP, POP3 and SMTP are what mailcheck can probe.
//!
//! The XML is parsed as autoconfig documents are: no DTD, so no entity is ever
//! expanded or loaded, and at most 10 000 nodes. Elements are matched by local
//! name: servers differ in how they qualify the response namespaces.

use roxmltree::Node;
use thiserror::Error;

use crate::discover::xml::{children, untrusted_document};
use crate::model::{Protocol, Security};
use crate::report::{AuthMethod, Setting, UsernameForm};

/// The request schema a client sends (MS-OXDSCLI §2.2.3).
const REQUEST_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
/// The response schema it asks for: Outlook's, which carries IMAP/POP3/SMTP.
const RESPONSE_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// The body of a POX request for `address` (XML-escaped).
#[must_use]
pub fn request_body(address: &str) -> String {
    let escaped = address
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <Autodiscover xmlns=\"{REQUEST_SCHEMA}\">\n  <Request>\n    \
         <EMailAddress>{escaped}</EMailAddress>\n    \
         <AcceptableResponseSchema>{RESPONSE_SCHEMA}</AcceptableResponseSchema>\n  \
         </Request>\n</Autodiscover>\n"
    )
}

/// What a POX answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `Action` settings: the servers (IMAP, POP3, SMTP only; others skipped),
    /// and the types of the skipped ones (`EXCH`, `WEB`, …).
    Settings {
        /// The servers mailcheck can probe, in the document's order.
        settings: Vec<Setting>,
        /// Other protocol types the answer listed.
        skipped: Vec<String>,
    },
    /// `Action` redirectAddr: ask again for this address.
    RedirectAddr(String),
    /// `Action` redirectUrl: ask this URL instead.
    RedirectUrl(String),
    /// An `<Error>` answer: its code and message.
    Error(String),
}

/// Why an answer is unusable. Each names the element at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Not well-formed XML, or a DTD (refused).
    #[error("not a well-formed XML document: {0}")]
    Xml(String),
    /// Well-formed, but another kind of document.
    #[error("the root element is <{0}>, not <Autodiscover>")]
    NotAutodiscover(String),
    /// Neither `<Account>` nor `<Error>` in `<Response>`.
    #[error("<Autodiscover> has no <Response> with an <Account> or <Error>")]
    NoAccount,
    /// A redirect without its target, or with an unknown `<Action>`.
    #[error("<Action> {0:?} without what it needs")]
    BadAction(String),
    /// An IMAP/POP3/SMTP `<Protocol>` without a usable server or port.
    #[error("<Protocol> {kind} #{index}: {problem}")]
    BadProtocol {
        /// Its `<Type>`.
        kind: String,
        /// Its position among the `<Protocol>` elements, from 1.
        index: usize,
        /// What is wrong.
        problem: String,
    },
}

/// Parses a POX answer for `address` (to read `<LoginName>` as a username form).
pub fn parse(xml: &str, address: &str) -> Result<Answer, ParseError> {
    let doc = untrusted_document(xml).map_err(ParseError::Xml)?;
    let root = doc.root_element();
    if root.tag_name().name() != "Autodiscover" {
        return Err(ParseError::NotAutodiscover(
            root.tag_name().name().to_owned(),
        ));
    }
    let response = child(root, "Response").ok_or(ParseError::NoAccount)?;
    if let Some(error) = child(response, "Error") {
        return Ok(Answer::Error(error_text(error)));
    }
    let account = child(response, "Account").ok_or(ParseError::NoAccount)?;
    if let Some(error) = child(account, "Error") {
        return Ok(Answer::Error(error_text(error)));
    }
    let action = text(account, "Action")
        .unwrap_or("settings")
        .to_ascii_lowercase();
    match action.as_str() {
        "redirectaddr" => text(account, "RedirectAddr")
            .map(|a| Answer::RedirectAddr(a.to_owned()))
            .ok_or(ParseError::BadAction(action)),
        "redirecturl" => text(account, "RedirectUrl")
            .map(|u| Answer::RedirectUrl(u.to_owned()))
            .ok_or(ParseError::BadAction(action)),
        "settings" => settings(account, address),
        _ => Err(ParseError::BadAction(action)),
    }
}

fn settings(account: Node<'_, '_>, address: &str) -> Result<Answer, ParseError> {
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for (i, p) in children(account, "Protocol").enumerate() {
        let kind = text(p, "Type").unwrap_or("").to_ascii_uppercase();
        let protocol = match kind.as_str() {
            "IMAP" => Protocol::Imap,
            "POP3" => Protocol::Pop3,
            "SMTP" => Protocol::Smtp,
            _ => {
                skipped.push(if kind.is_empty() {
                    "(no type)".into()
                } else {
                    kind
                });
                continue;
            }
        };
        out.push(
            server(p, protocol, address).map_err(|problem| ParseError::BadProtocol {
                kind: kind.clone(),
                index: i + 1,
                problem,
            })?,
        );
    }
    Ok(Answer::Settings {
        settings: out,
        skipped,
    })
}

fn server(p: Node<'_, '_>, protocol: Protocol, address: &str) -> Result<Setting, String> {
    let host = text(p, "Server").ok_or("<Server> is missing or empty")?;
    if !crate::model::host::is_host(host) {
        return Err(format!("<Server> {host:?} is not a host name"));
    }
    let port_text = text(p, "Port").ok_or("<Port> is missing or empty")?;
    let port = port_text
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("<Port> {port_text:?} is not a port number (1-65535)"))?;
    Ok(Setting {
        protocol,
        host: host.to_ascii_lowercase(),
        port,
        security: security(text(p, "Encryption"), text(p, "SSL"), port),
        username: text(p, "LoginName").and_then(|name| login_form(name, address)),
        auth: Some(if flag(text(p, "SPA")) {
            // Secure Password Authentication: NTLM or Kerberos.
            AuthMethod::Other
        } else {
            AuthMethod::PasswordCleartext
        }),
    })
}

/// `<Encryption>` (None, SSL, TLS, Auto) decides; without it `<SSL>` off means
/// none. "SSL" is implicit TLS and "TLS" is STARTTLS, as Outlook's own dialog
/// words them. Where neither says which (SSL on, Encryption Auto), the port
/// does, as Thunderbird reads it: 143, 110, 25 and 587 start in plaintext.
fn security(encryption: Option<&str>, ssl: Option<&str>, port: u16) -> Security {
    match encryption.map(str::to_ascii_lowercase).as_deref() {
        Some("none") => return Security::Plain,
        Some("ssl") => return Security::Tls,
        Some("tls") => return Security::StartTls,
        _ => {}
    }
    if encryption.is_none() && ssl.is_some_and(|s| s.eq_ignore_ascii_case("off")) {
        return Security::Plain;
    }
    match port {
        143 | 110 | 25 | 587 => Security::StartTls,
        _ => Security::Tls,
    }
}

/// `<LoginName>` as a username form: the address, or its local part.
fn login_form(name: &str, address: &str) -> Option<UsernameForm> {
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    if name.eq_ignore_ascii_case(address) {
        Some(UsernameForm::Address)
    } else if name == local {
        Some(UsernameForm::LocalPart)
    } else {
        None
    }
}

fn flag(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case("on"))
}

fn error_text(error: Node<'_, '_>) -> String {
    let code = text(error, "ErrorCode").unwrap_or("?");
    let message = text(error, "Message").unwrap_or("no message");
    format!("error {code}: {message}")
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> Option<Node<'a, 'i>> {
    children(node, name).next()
}

fn text<'a>(node: Node<'a, '_>, name: &'static str) -> Option<&'a str> {
    child(node, name)
        .and_then(|n| n.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDRESS: &str = "alice@example.com";

    fn answer(account: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
             <Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\
             <Response xmlns=\"{RESPONSE_SCHEMA}\"><Account>{account}</Account></Response></Autodiscover>"
        )
    }

    fn protocol(body: &str) -> String {
        format!("<Protocol>{body}</Protocol>")
    }

    fn one(body: &str) -> Setting {
        let xml = answer(&format!("<Action>settings</Action>{}", protocol(body)));
        match parse(&xml, ADDRESS).unwrap() {
            Answer::Settings { settings, .. } => settings.into_iter().next().unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_request_asks_for_outlooks_schema_and_escapes_the_address() {
        let body = request_body("a&b<c@example.com");
        assert!(body.contains("<EMailAddress>a&amp;b&lt;c@example.com</EMailAddress>"));
        assert!(body.contains(RESPONSE_SCHEMA) && body.contains(REQUEST_SCHEMA));
        assert!(roxmltree::Document::parse(&body).is_ok());
    }

    #[test]
    fn encryption_decides_then_ssl_then_the_port() {
        let sec = |extra: &str, port: u16| {
            one(&format!(
                "<Type>IMAP</Type><Server>h.example</Server><Port>{port}</Port>{extra}"
            ))
            .security
        };
        assert_eq!(sec("<Encryption>SSL</Encryption>", 993), Security::Tls);
        assert_eq!(sec("<Encryption>TLS</Encryption>", 143), Security::StartTls);
        assert_eq!(
            sec("<Encryption>None</Encryption><SSL>on</SSL>", 143),
            Security::Plain
        );
        assert_eq!(sec("<SSL>off</SSL>", 143), Security::Plain);
        assert_eq!(sec("<SSL>on</SSL>", 143), Security::StartTls);
        assert_eq!(sec("<SSL>on</SSL>", 993), Security::Tls);
        assert_eq!(
            sec("<Encryption>Auto</Encryption>", 587),
            Security::StartTls
        );
        assert_eq!(sec("", 2993), Security::Tls);
    }

    #[test]
    fn login_names_and_spa() {
        let s = one(
            "<Type>SMTP</Type><Server>S.Example</Server><Port>587</Port><LoginName>alice</LoginName><SPA>on</SPA>",
        );
        assert_eq!(s.host, "s.example");
        assert_eq!(s.username, Some(UsernameForm::LocalPart));
        assert_eq!(s.auth, Some(AuthMethod::Other));
        let s = one(
            "<Type>POP3</Type><Server>p.example</Server><Port>995</Port><LoginName>ALICE@example.com</LoginName>",
        );
        assert_eq!(
            (s.protocol, s.username),
            (Protocol::Pop3, Some(UsernameForm::Address))
        );
        assert_eq!(s.auth, Some(AuthMethod::PasswordCleartext));
        let s = one(
            "<Type>IMAP</Type><Server>i.example</Server><Port>993</Port><LoginName>EXAMPLE\\alice</LoginName>",
        );
        assert_eq!(s.username, None);
    }

    #[test]
    fn redirects_and_errors() {
        let xml =
            answer("<Action>redirectAddr</Action><RedirectAddr>bob@other.example</RedirectAddr>");
        assert_eq!(
            parse(&xml, ADDRESS).unwrap(),
            Answer::RedirectAddr("bob@other.example".into())
        );
        let xml = answer(
            "<Action>redirectUrl</Action><RedirectUrl>https://ad.other.example/autodiscover/autodiscover.xml</RedirectUrl>",
        );
        assert!(
            matches!(parse(&xml, ADDRESS).unwrap(), Answer::RedirectUrl(u) if u.starts_with("https://ad."))
        );
        assert_eq!(
            parse(&answer("<Action>redirectUrl</Action>"), ADDRESS),
            Err(ParseError::BadAction("redirecturl".into()))
        );
        let err = "<Autodiscover><Response><Error Time=\"1\" Id=\"2\"><ErrorCode>600</ErrorCode><Message>Invalid Request</Message></Error></Response></Autodiscover>";
        assert_eq!(
            parse(err, ADDRESS).unwrap(),
            Answer::Error("error 600: Invalid Request".into())
        );
    }

    #[test]
    fn other_types_are_skipped_and_bad_servers_refused() {
        let xml = answer(&format!(
            "<Action>settings</Action>{}{}",
            protocol("<Type>EXCH</Type><Server>mbx.internal</Server>"),
            protocol("<Type>IMAP</Type><Server>i.example</Server><Port>993</Port>")
        ));
        let Answer::Settings { settings, skipped } = parse(&xml, ADDRESS).unwrap() else {
            panic!()
        };
        assert_eq!((settings.len(), skipped), (1, vec!["EXCH".to_owned()]));
        for (body, needle) in [
            ("<Type>IMAP</Type><Port>993</Port>", "<Server> is missing"),
            (
                "<Type>IMAP</Type><Server>i.example/x</Server><Port>993</Port>",
                "not a host name",
            ),
            (
                "<Type>SMTP</Type><Server>s.example</Server><Port>0</Port>",
                "not a port",
            ),
            (
                "<Type>SMTP</Type><Server>s.example</Server><Port>99999</Port>",
                "not a port",
            ),
        ] {
            let err = parse(&answer(&protocol(body)), ADDRESS).unwrap_err();
            assert!(err.to_string().contains(needle), "{body}: {err}");
        }
    }

    #[test]
    fn hostile_documents_are_refused() {
        let xxe = "<!DOCTYPE Autodiscover [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><Autodiscover>&x;</Autodiscover>";
        assert!(matches!(parse(xxe, ADDRESS), Err(ParseError::Xml(_))));
        assert!(
            matches!(parse("<html><body>Sign in</body></html>", ADDRESS), Err(ParseError::NotAutodiscover(n)) if n == "html")
        );
        assert!(matches!(
            parse("<Autodiscover><Response>", ADDRESS),
            Err(ParseError::Xml(_))
        ));
        assert_eq!(
            parse("<Autodiscover/>", ADDRESS),
            Err(ParseError::NoAccount)
        );
        let many = format!("<Autodiscover>{}</Autodiscover>", "<x/>".repeat(20_000));
        assert!(matches!(parse(&many, ADDRESS), Err(ParseError::Xml(_))));
    }
}
