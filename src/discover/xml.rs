//! What every document a discovery source fetches is read with: the XML parser's
//! settings for untrusted input, and the config-v1.1 vocabulary (placeholders,
//! username forms, authentication values) that autoconfig, the ISPDB (online
//! and built in) and the provider overrides share. Autodiscover's POX answers
//! are read with the same parser settings.

use roxmltree::{Document, Node, ParsingOptions};

use crate::report::{AuthMethod, UsernameForm};

/// At most this many XML nodes are parsed (a real config has a few dozen).
pub const MAX_NODES: u32 = 10_000;

/// Parses a document from a server the way every such document is parsed: no
/// DTD (so no entity is ever expanded or loaded), at most [`MAX_NODES`] nodes, a
/// UTF-8 byte order mark ignored. Autodiscover's answers are read the same way.
pub fn untrusted_document(xml: &str) -> Result<Document<'_>, String> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    Document::parse_with_options(xml, options).map_err(|e| e.to_string())
}

/// `text` with the address's `%EMAIL…%` placeholders filled in (host names
/// such as `mail.%EMAILDOMAIN%`).
#[must_use]
pub fn substitute(text: &str, address: &str) -> String {
    Placeholders::new(address).substitute(text)
}

/// The values of `%EMAILADDRESS%`, `%EMAILLOCALPART%` and `%EMAILDOMAIN%`.
pub struct Placeholders {
    address: String,
    local: String,
    domain: String,
}

impl Placeholders {
    /// The placeholders' values for `address`.
    #[must_use]
    pub fn new(address: &str) -> Self {
        let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
        Placeholders {
            address: address.to_owned(),
            local: local.to_owned(),
            domain: domain.to_owned(),
        }
    }

    /// `text` with every placeholder replaced by its value.
    #[must_use]
    pub fn substitute(&self, text: &str) -> String {
        text.replace("%EMAILADDRESS%", &self.address)
            .replace("%EMAILLOCALPART%", &self.local)
            .replace("%EMAILDOMAIN%", &self.domain)
    }
}

/// Only the two placeholders the format defines for usernames; a literal or any
/// other pattern says nothing mailcheck can use.
#[must_use]
pub fn username_form(value: &str) -> Option<UsernameForm> {
    match value {
        "%EMAILADDRESS%" => Some(UsernameForm::Address),
        "%EMAILLOCALPART%" => Some(UsernameForm::LocalPart),
        _ => None,
    }
}

/// The `<authentication>` values of config-v1.1. The first value understood wins
/// (the document lists them in the provider's order of preference); unknown values
/// are skipped, as Thunderbird does.
#[must_use]
pub fn auth_method(value: &str) -> Option<AuthMethod> {
    match value.to_ascii_lowercase().as_str() {
        "password-cleartext" | "plain" => Some(AuthMethod::PasswordCleartext),
        "password-encrypted" | "secure" => Some(AuthMethod::PasswordEncrypted),
        "oauth2" => Some(AuthMethod::OAuth2),
        "ntlm" | "gssapi" | "client-ip-address" | "tls-client-cert" | "none" => {
            Some(AuthMethod::Other)
        }
        _ => None,
    }
}

/// The element children of `node` named `name`.
pub fn children<'a, 'i>(
    node: Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}
