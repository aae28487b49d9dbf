//! Reading a config-v1.1 document (Mozilla's "Thunderbird:Autoconfiguration:
//! ConfigFileFormat"): the incoming and outgoing servers mailcheck can probe.
//! Documents are read with [`untrusted_document`]: no DTD (so no entity is ever
//! expanded or loaded, XXE-safe) and a bounded number of nodes.

use roxmltree::Node;
use serde::Serialize;
use thiserror::Error;

use crate::discover::xml::{
    Placeholders, auth_method, children, untrusted_document, username_form,
};
use crate::model::{Protocol, Security};
use crate::report::Setting;

/// What a config-v1.1 document says, restricted to what mailcheck can probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientConfig {
    /// `<emailProvider id="…">`.
    pub provider_id: Option<String>,
    /// `<displayName>`.
    pub display_name: Option<String>,
    /// Every `<domain>` the provider serves.
    pub domains: Vec<String>,
    /// IMAP and POP3 servers, in the document's order (its order of preference).
    pub incoming: Vec<Setting>,
    /// SMTP servers, in the document's order.
    pub outgoing: Vec<Setting>,
}

/// Why a document is not a usable configuration. Each names the element at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Not well-formed XML, not UTF-8, or a DTD (refused, see the module docs).
    #[error("not a well-formed XML document: {0}")]
    Xml(String),
    /// Well-formed, but some other kind of document.
    #[error("the root element is <{0}>, not <clientConfig>")]
    NotClientConfig(String),
    /// `<clientConfig>` without `<emailProvider>`.
    #[error("<clientConfig> has no <emailProvider>")]
    NoProvider,
    /// A server without a required child element.
    #[error("{server}: <{element}> is missing or empty")]
    Missing {
        /// Which server, e.g. `<incomingServer type="imap"> #1`.
        server: String,
        /// The element.
        element: &'static str,
    },
    /// `<port>` that is not a number from 1 to 65535.
    #[error("{server}: <port> {value:?} is not a port number (1-65535)")]
    BadPort {
        /// Which server.
        server: String,
        /// The text found.
        value: String,
    },
    /// `<socketType>` other than SSL, STARTTLS or plain.
    #[error("{server}: <socketType> {value:?} is not one of SSL, STARTTLS, plain")]
    UnknownSocketType {
        /// Which server.
        server: String,
        /// The text found.
        value: String,
    },
    /// `<hostname>` that cannot be a host name or IP address.
    #[error("{server}: <hostname> {value:?} is not a host name")]
    BadHostname {
        /// Which server.
        server: String,
        /// The host name after placeholder substitution.
        value: String,
    },
}

/// Parses a config-v1.1 document for `address` (used for the `%EMAIL…%` placeholders).
///
/// Incoming servers of types other than `imap` and `pop3` (e.g. `exchange`) are
/// skipped, as are outgoing servers other than `smtp`; a malformed server of a
/// known type fails the whole document, since a client would not know which of
/// the provider's settings to trust.
pub fn parse(xml: &str, address: &str) -> Result<ClientConfig, ParseError> {
    let doc = untrusted_document(xml).map_err(ParseError::Xml)?;
    let root = doc.root_element();
    if root.tag_name().name() != "clientConfig" {
        return Err(ParseError::NotClientConfig(
            root.tag_name().name().to_owned(),
        ));
    }
    let provider = children(root, "emailProvider")
        .next()
        .ok_or(ParseError::NoProvider)?;
    let vars = Placeholders::new(address);
    let mut config = ClientConfig {
        provider_id: provider.attribute("id").map(|s| s.trim().to_owned()),
        display_name: child_text(provider, "displayName").map(str::to_owned),
        domains: children(provider, "domain")
            .filter_map(text)
            .map(str::to_owned)
            .collect(),
        incoming: Vec::new(),
        outgoing: Vec::new(),
    };
    for (element, list) in [
        ("incomingServer", &mut config.incoming),
        ("outgoingServer", &mut config.outgoing),
    ] {
        for (i, node) in children(provider, element).enumerate() {
            let kind = node.attribute("type").unwrap_or("");
            let Some(protocol) = protocol(element, kind) else {
                continue;
            };
            let label = format!("<{element} type=\"{kind}\"> #{}", i + 1);
            list.push(setting(node, protocol, &label, &vars)?);
        }
    }
    Ok(config)
}

fn protocol(element: &str, kind: &str) -> Option<Protocol> {
    let kind = kind.trim().to_ascii_lowercase();
    match (element, kind.as_str()) {
        ("incomingServer", "imap") => Some(Protocol::Imap),
        ("incomingServer", "pop3") => Some(Protocol::Pop3),
        ("outgoingServer", "smtp") => Some(Protocol::Smtp),
        _ => None,
    }
}

fn setting(
    node: Node<'_, '_>,
    protocol: Protocol,
    label: &str,
    vars: &Placeholders,
) -> Result<Setting, ParseError> {
    let required = |element: &'static str| {
        child_text(node, element).ok_or_else(|| ParseError::Missing {
            server: label.to_owned(),
            element,
        })
    };
    let host = vars.substitute(required("hostname")?);
    if !crate::model::host::is_host(&host) {
        return Err(ParseError::BadHostname {
            server: label.to_owned(),
            value: host,
        });
    }
    let port_text = required("port")?;
    let port = port_text
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| ParseError::BadPort {
            server: label.to_owned(),
            value: port_text.to_owned(),
        })?;
    let socket = required("socketType")?;
    let security = socket_type(socket).ok_or_else(|| ParseError::UnknownSocketType {
        server: label.to_owned(),
        value: socket.to_owned(),
    })?;
    Ok(Setting {
        protocol,
        host,
        port,
        security,
        username: child_text(node, "username").and_then(username_form),
        auth: children(node, "authentication")
            .filter_map(text)
            .find_map(auth_method),
    })
}

/// config-v1.1 `socketType`: "SSL" is implicit TLS (RFC 8314), "STARTTLS" the upgrade.
fn socket_type(value: &str) -> Option<Security> {
    match value.to_ascii_lowercase().as_str() {
        "ssl" => Some(Security::Tls),
        "starttls" => Some(Security::StartTls),
        "plain" => Some(Security::Plain),
        _ => None,
    }
}

fn text<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    node.text().map(str::trim).filter(|t| !t.is_empty())
}

fn child_text<'a>(node: Node<'a, '_>, name: &'static str) -> Option<&'a str> {
    children(node, name).next().and_then(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{AuthMethod, UsernameForm};

    const ADDRESS: &str = "alice@example.com";

    /// The shape of a Thunderbird ISPDB entry: several incoming servers, including
    /// one of a type mailcheck does not probe, several authentication values.
    const ISPDB_LIKE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.com">
    <domain>example.com</domain>
    <domain>example.net</domain>
    <displayName>Example Mail</displayName>
    <displayShortName>Example</displayShortName>
    <incomingServer type="exchange">
      <hostname>outlook.example.com</hostname>
      <port>443</port>
      <username>%EMAILADDRESS%</username>
      <socketType>SSL</socketType>
      <authentication>OAuth2</authentication>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>imap.example.com</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <authentication>OAuth2</authentication>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.%EMAILDOMAIN%</hostname>
      <port>110</port>
      <socketType>STARTTLS</socketType>
      <authentication>password-encrypted</authentication>
      <username>%EMAILLOCALPART%</username>
      <pop3>
        <leaveMessagesOnServer>true</leaveMessagesOnServer>
      </pop3>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname> smtp.example.com </hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
    <documentation url="https://example.com/help">
      <descr lang="en">Generic settings page</descr>
    </documentation>
  </emailProvider>
</clientConfig>
"#;

    fn server(kind: &str, body: &str) -> String {
        format!(
            "<clientConfig version=\"1.1\"><emailProvider id=\"x\">\
             <incomingServer type=\"{kind}\">{body}</incomingServer>\
             </emailProvider></clientConfig>"
        )
    }

    fn imap(host: &str, port: &str, socket: &str, extra: &str) -> String {
        server(
            "imap",
            &format!(
                "<hostname>{host}</hostname><port>{port}</port>\
                 <socketType>{socket}</socketType>{extra}"
            ),
        )
    }

    fn one(xml: &str) -> Setting {
        let config = parse(xml, ADDRESS).unwrap();
        assert_eq!(config.incoming.len(), 1);
        config.incoming.into_iter().next().unwrap()
    }

    #[test]
    fn ispdb_like_config_parses_in_document_order() {
        let c = parse(ISPDB_LIKE, ADDRESS).unwrap();
        assert_eq!(c.provider_id.as_deref(), Some("example.com"));
        assert_eq!(c.display_name.as_deref(), Some("Example Mail"));
        assert_eq!(c.domains, ["example.com", "example.net"]);
        assert_eq!(
            c.incoming,
            [
                Setting {
                    protocol: Protocol::Imap,
                    host: "imap.example.com".into(),
                    port: 993,
                    security: Security::Tls,
                    username: Some(UsernameForm::Address),
                    auth: Some(AuthMethod::OAuth2),
                },
                Setting {
                    protocol: Protocol::Pop3,
                    host: "pop.example.com".into(),
                    port: 110,
                    security: Security::StartTls,
                    username: Some(UsernameForm::LocalPart),
                    auth: Some(AuthMethod::PasswordEncrypted),
                },
            ]
        );
        assert_eq!(
            c.outgoing,
            [Setting {
                protocol: Protocol::Smtp,
                host: "smtp.example.com".into(),
                port: 587,
                security: Security::StartTls,
                username: Some(UsernameForm::Address),
                auth: Some(AuthMethod::PasswordCleartext),
            }]
        );
    }

    #[test]
    fn placeholders_are_substituted_in_host_names() {
        let s = one(&imap(
            "%EMAILLOCALPART%.mail.%EMAILDOMAIN%",
            "993",
            "SSL",
            "",
        ));
        assert_eq!(s.host, "alice.mail.example.com");
        let err = parse(&imap("%EMAILADDRESS%", "993", "SSL", ""), ADDRESS).unwrap_err();
        assert!(matches!(err, ParseError::BadHostname { ref value, .. } if value == ADDRESS));
    }

    #[test]
    fn username_forms() {
        let form =
            |u: &str| one(&imap("h", "1", "SSL", &format!("<username>{u}</username>"))).username;
        assert_eq!(form("%EMAILADDRESS%"), Some(UsernameForm::Address));
        assert_eq!(form("%EMAILLOCALPART%"), Some(UsernameForm::LocalPart));
        assert_eq!(form("%EMAILLOCALPART%@corp"), None);
        assert_eq!(form("shared-account"), None);
        assert_eq!(one(&imap("h", "1", "SSL", "")).username, None);
    }

    #[test]
    fn each_socket_type() {
        for (text, security) in [
            ("SSL", Security::Tls),
            ("STARTTLS", Security::StartTls),
            ("plain", Security::Plain),
        ] {
            assert_eq!(one(&imap("h", "143", text, "")).security, security);
        }
    }

    #[test]
    fn unknown_socket_type_is_an_error_naming_the_element() {
        let err = parse(&imap("h", "143", "TLS1.3", ""), ADDRESS).unwrap_err();
        assert_eq!(
            err,
            ParseError::UnknownSocketType {
                server: "<incomingServer type=\"imap\"> #1".into(),
                value: "TLS1.3".into()
            }
        );
        assert!(err.to_string().contains("<socketType>"), "{err}");
    }

    #[test]
    fn authentication_values() {
        let auth = |a: &str| {
            one(&imap(
                "h",
                "1",
                "SSL",
                &format!("<authentication>{a}</authentication>"),
            ))
            .auth
        };
        assert_eq!(
            auth("password-cleartext"),
            Some(AuthMethod::PasswordCleartext)
        );
        assert_eq!(auth("plain"), Some(AuthMethod::PasswordCleartext));
        assert_eq!(
            auth("password-encrypted"),
            Some(AuthMethod::PasswordEncrypted)
        );
        assert_eq!(auth("secure"), Some(AuthMethod::PasswordEncrypted));
        assert_eq!(auth("OAuth2"), Some(AuthMethod::OAuth2));
        for other in [
            "NTLM",
            "GSSAPI",
            "client-IP-address",
            "TLS-client-cert",
            "none",
        ] {
            assert_eq!(auth(other), Some(AuthMethod::Other), "{other}");
        }
    }

    #[test]
    fn unknown_authentication_is_skipped_not_an_error() {
        let s = one(&imap(
            "h",
            "1",
            "SSL",
            "<authentication>magic-token</authentication>\
             <authentication>password-cleartext</authentication>",
        ));
        assert_eq!(s.auth, Some(AuthMethod::PasswordCleartext));
        let s = one(&imap(
            "h",
            "1",
            "SSL",
            "<authentication>magic</authentication>",
        ));
        assert_eq!(s.auth, None);
    }

    #[test]
    fn malformed_xml_is_an_xml_error() {
        let err = parse("<clientConfig><emailProvider></clientConfig>", ADDRESS).unwrap_err();
        assert!(matches!(err, ParseError::Xml(_)), "{err:?}");
    }

    #[test]
    fn empty_document_is_an_xml_error() {
        assert!(matches!(parse("", ADDRESS), Err(ParseError::Xml(_))));
        assert!(matches!(parse("  \n", ADDRESS), Err(ParseError::Xml(_))));
    }

    #[test]
    fn other_documents_are_named() {
        assert_eq!(
            parse("<html><body>Not found</body></html>", ADDRESS),
            Err(ParseError::NotClientConfig("html".into()))
        );
        assert_eq!(
            parse("<clientConfig version=\"1.1\"/>", ADDRESS),
            Err(ParseError::NoProvider)
        );
    }

    #[test]
    fn missing_hostname_names_the_element() {
        let xml = server("imap", "<port>993</port><socketType>SSL</socketType>");
        let err = parse(&xml, ADDRESS).unwrap_err();
        assert!(
            matches!(
                err,
                ParseError::Missing {
                    element: "hostname",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("<hostname>"), "{err}");
        let xml = server("pop3", "<hostname> </hostname><port>995</port>");
        assert!(matches!(
            parse(&xml, ADDRESS),
            Err(ParseError::Missing {
                element: "hostname",
                ..
            })
        ));
    }

    #[test]
    fn missing_port_and_socket_type_name_the_element() {
        let xml = server("imap", "<hostname>h</hostname><socketType>SSL</socketType>");
        assert!(matches!(
            parse(&xml, ADDRESS),
            Err(ParseError::Missing {
                element: "port",
                ..
            })
        ));
        let xml = server("imap", "<hostname>h</hostname><port>993</port>");
        assert!(matches!(
            parse(&xml, ADDRESS),
            Err(ParseError::Missing {
                element: "socketType",
                ..
            })
        ));
    }

    #[test]
    fn bad_ports_are_errors() {
        for port in ["0", "65536", "-1", "99999999999", "993a", "0x3e1"] {
            let err = parse(&imap("h", port, "SSL", ""), ADDRESS).unwrap_err();
            assert_eq!(
                err,
                ParseError::BadPort {
                    server: "<incomingServer type=\"imap\"> #1".into(),
                    value: port.into()
                }
            );
        }
        assert_eq!(one(&imap("h", "65535", "SSL", "")).port, 65535);
    }

    #[test]
    fn dtd_and_entities_are_refused() {
        let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE clientConfig [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<clientConfig><emailProvider id="&xxe;"/></clientConfig>"#;
        assert!(matches!(parse(xxe, ADDRESS), Err(ParseError::Xml(_))));
        let laughs = r#"<!DOCTYPE a [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>
<clientConfig><emailProvider id="&b;"/></clientConfig>"#;
        assert!(matches!(parse(laughs, ADDRESS), Err(ParseError::Xml(_))));
        // An undeclared entity is an error too, never left for later.
        let undeclared = "<clientConfig><emailProvider id=\"&xxe;\"/></clientConfig>";
        assert!(matches!(
            parse(undeclared, ADDRESS),
            Err(ParseError::Xml(_))
        ));
    }

    #[test]
    fn hostile_host_names_are_refused() {
        for host in ["imap.example.com/evil", "a b", "h:993", "[not-v6]"] {
            assert!(
                matches!(
                    parse(&imap(host, "993", "SSL", ""), ADDRESS),
                    Err(ParseError::BadHostname { .. })
                ),
                "{host}"
            );
        }
        assert_eq!(one(&imap("[::1]", "993", "SSL", "")).host, "[::1]");
    }

    #[test]
    fn other_server_types_are_ignored() {
        let c = parse(&server("exchange", "<hostname>h</hostname>"), ADDRESS).unwrap();
        assert!(c.incoming.is_empty() && c.outgoing.is_empty());
    }
}
