//! Tests of the merged provider data: the embedded files, the corrections of
//! issue 11, the lookups, and the override test on made-up overrides.

#![cfg(test)]

use super::overrides::{self, OVERRIDES_TOML};
use super::snapshot::{self, SNAPSHOT_TOML};
use super::validation::{compare, is_date, is_dns_name, is_loopback, validate};
use super::*;
use std::collections::HashSet;

use crate::model::Security;

fn provider(id: &str) -> &'static Provider {
    all()
        .iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("no provider {id}"))
}

fn hosts(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn has(settings: &[Setting], protocol: Protocol, host: &str, port: u16, sec: Security) -> bool {
    settings
        .iter()
        .any(|s| s.protocol == protocol && s.host == host && s.port == port && s.security == sec)
}

/// The embedded snapshot and overrides, parsed and merged afresh.
fn embedded() -> (snapshot::Snapshot, overrides::Overrides, Vec<Provider>) {
    let snap = snapshot::parse(SNAPSHOT_TOML).unwrap_or_else(|e| panic!("data/ispdb.toml: {e}"));
    let over =
        overrides::parse(OVERRIDES_TOML).unwrap_or_else(|e| panic!("data/providers.toml: {e}"));
    let merged = overrides::merge(&snap, &over).unwrap_or_else(|e| panic!("{e}"));
    (snap, over, merged)
}

#[test]
fn table_parses_and_validates() {
    let (_, over, merged) = embedded();
    let problems = validate(&over.checked, &merged);
    assert!(
        problems.is_empty(),
        "provider data:\n{}",
        problems.join("\n")
    );
    assert!(merged.len() >= 160, "{}", merged.len());
}

/// The override test of issue 11: every override against the snapshot.
#[test]
fn every_override_agrees_with_the_snapshot_or_says_why_not() {
    let (snap, over, _) = embedded();
    let problems = compare(&snap, &over);
    assert!(
        problems.is_empty(),
        "data/providers.toml against data/ispdb.toml:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_brief_s_providers_are_all_there() {
    for id in [
        "outlook",
        "microsoft365",
        "gmail",
        "google_workspace",
        "yahoo",
        "aol",
        "icloud",
        "gmx_net",
        "gmx_com",
        "webde",
        "zoho",
        "fastmail",
        "proton",
        "yandex",
        "mailru",
        "comcast",
        "orange",
        "tonline",
        "qq",
        "mail_com",
    ] {
        provider(id);
    }
}

#[test]
fn checked_date_is_recorded() {
    assert_eq!(checked_date(), "2026-11-29");
    assert!(all().iter().all(|p| is_date(&p.checked)));
}

#[test]
fn every_listed_domain_maps_to_its_provider() {
    for p in all() {
        for d in &p.domains {
            assert_eq!(by_domain(d).map(|f| &f.id), Some(&p.id), "{d}");
        }
    }
}

#[test]
fn by_domain_ignores_case_and_a_trailing_dot_but_not_subdomains() {
    assert_eq!(by_domain("GMail.COM.").unwrap().id, "gmail");
    assert_eq!(by_domain("Hotmail.co.uk").unwrap().id, "outlook");
    assert!(by_domain("mail.gmail.com").is_none());
    assert!(by_domain("example.com").is_none());
    assert!(by_domain("").is_none());
}

#[test]
fn settings_carry_username_and_auth() {
    for s in all()
        .iter()
        .filter(|p| p.overridden)
        .flat_map(Provider::settings)
    {
        assert!(s.username.is_some() && s.auth.is_some(), "{s:?}");
    }
    let icloud = provider("icloud");
    assert_eq!(icloud.incoming[0].username, Some(UsernameForm::LocalPart));
    assert_eq!(icloud.outgoing[0].username, Some(UsernameForm::Address));
    assert_eq!(
        provider("outlook").incoming[0].auth,
        Some(AuthMethod::OAuth2)
    );
    assert_eq!(
        provider("gmx_net").incoming[0].auth,
        Some(AuthMethod::PasswordCleartext)
    );
}

#[test]
fn mx_recognises_hosted_domains() {
    let id = |mx: &[&str]| by_mx(&hosts(mx)).map(|p| p.id.as_str());
    assert_eq!(
        id(&["contoso-com.mail.protection.outlook.com"]),
        Some("microsoft365")
    );
    assert_eq!(
        id(&["outlook-com.olc.protection.outlook.com."]),
        Some("outlook")
    );
    assert_eq!(id(&["aspmx.l.google.com"]), Some("google_workspace"));
    assert_eq!(id(&["ALT1.ASPMX.L.GOOGLE.COM."]), Some("google_workspace"));
    assert_eq!(id(&["smtp.google.com"]), Some("google_workspace"));
    assert_eq!(id(&["aspmx2.googlemail.com"]), Some("google_workspace"));
    assert_eq!(id(&["mta5.am0.yahoodns.net"]), Some("yahoo"));
    assert_eq!(id(&["mx-aol.mail.gm0.yahoodns.net"]), Some("aol"));
    assert_eq!(id(&["in1-smtp.messagingengine.com"]), Some("fastmail"));
    assert_eq!(id(&["mail.protonmail.ch"]), Some("proton"));
    assert_eq!(id(&["mx01.mail.icloud.com"]), Some("icloud"));
}

#[test]
fn mx_rejects_unrelated_hosts_and_partial_labels() {
    let id = |mx: &[&str]| by_mx(&hosts(mx)).map(|p| p.id.as_str());
    assert_eq!(id(&["mx.example.net"]), None);
    assert_eq!(id(&["evilgoogle.com"]), None);
    assert_eq!(id(&["mx.evilgoogle.com"]), None);
    assert_eq!(id(&["google.com.evil.example"]), None);
    assert_eq!(id(&["notyahoodns.net"]), None);
    assert_eq!(id(&[]), None);
    assert_eq!(id(&[""]), None);
}

#[test]
fn mx_the_most_preferred_matching_host_decides() {
    let id = |mx: &[&str]| by_mx(&hosts(mx)).map(|p| p.id.as_str());
    assert_eq!(
        id(&["mx.example.net", "aspmx.l.google.com"]),
        Some("google_workspace")
    );
    assert_eq!(
        id(&[
            "contoso-com.mail.protection.outlook.com",
            "aspmx.l.google.com"
        ]),
        Some("microsoft365")
    );
}

#[test]
fn retired_outlook_hosts_map_to_current_ones() {
    for (old, protocol, new) in [
        ("pop3.live.com", Protocol::Pop3, "outlook.office365.com"),
        (
            "pop-mail.outlook.com",
            Protocol::Pop3,
            "outlook.office365.com",
        ),
        (
            "imap-mail.outlook.com",
            Protocol::Imap,
            "outlook.office365.com",
        ),
        ("smtp.live.com", Protocol::Smtp, "smtp-mail.outlook.com"),
    ] {
        let r = retired_host(old).unwrap_or_else(|| panic!("{old} not retired"));
        assert_eq!(r.provider.id, "outlook");
        assert_eq!(r.protocol, protocol);
        assert_eq!(r.replacements[0].host, new, "{old}");
        assert!(r.replacements.iter().all(|s| s.protocol == protocol));
    }
    assert_eq!(
        retired_host("POP3.Live.com.").unwrap().host,
        "pop3.live.com"
    );
}

#[test]
fn current_hosts_and_families_are_not_retired() {
    // smtp-mail.outlook.com is what Microsoft's Outlook.com page names today.
    for host in [
        "smtp-mail.outlook.com",
        "outlook.office365.com",
        "smtp.office365.com",
        "pop.gmx.net",
        "pop.gmx.com",
        "imap.gmail.com",
        "example.com",
    ] {
        assert!(retired_host(host).is_none(), "{host}");
    }
}

#[test]
fn gmail_spot_checks() {
    let g = provider("gmail");
    assert!(has(
        &g.incoming,
        Protocol::Imap,
        "imap.gmail.com",
        993,
        Security::Tls
    ));
    assert!(has(
        &g.incoming,
        Protocol::Pop3,
        "pop.gmail.com",
        995,
        Security::Tls
    ));
    assert!(has(
        &g.outgoing,
        Protocol::Smtp,
        "smtp.gmail.com",
        465,
        Security::Tls
    ));
    assert_eq!(g.username, UsernameForm::Address);
    assert!(!g.accepts_account_password());
}

#[test]
fn outlook_spot_checks() {
    let o = provider("outlook");
    let note = o.note("oauth2_only").expect("oauth2_only note");
    assert!(note.text.contains("September 2024"));
    assert_eq!(o.logins, [SignIn::OAuth2]);
    assert!(has(
        &o.incoming,
        Protocol::Imap,
        "outlook.office365.com",
        993,
        Security::Tls
    ));
    assert!(has(
        &o.incoming,
        Protocol::Pop3,
        "outlook.office365.com",
        995,
        Security::Tls
    ));
    assert_eq!(o.outgoing[0].host, "smtp-mail.outlook.com");
    assert_eq!(
        (o.outgoing[0].port, o.outgoing[0].security),
        (587, Security::StartTls)
    );
    let m = provider("microsoft365");
    assert_eq!(m.outgoing[0].host, "smtp.office365.com");
    assert!(m.note("oauth2_only").is_some());
}

#[test]
fn gmx_families_use_their_own_hosts() {
    let com = by_domain("gmx.co.uk").unwrap();
    assert_eq!(com.id, "gmx_com");
    assert!(com.settings().all(|s| s.host.ends_with(".gmx.com")));
    let net = by_domain("gmx.de").unwrap();
    assert_eq!(net.id, "gmx_net");
    assert!(net.settings().all(|s| s.host.ends_with(".gmx.net")));
    assert!(net.note("enable_pop_imap_first").is_some());
}

#[test]
fn proton_points_at_the_local_bridge() {
    let p = provider("proton");
    assert!(has(
        &p.incoming,
        Protocol::Imap,
        "127.0.0.1",
        1143,
        Security::StartTls
    ));
    assert!(has(
        &p.outgoing,
        Protocol::Smtp,
        "127.0.0.1",
        1025,
        Security::StartTls
    ));
    assert!(p.note("bridge_required").is_some());
    assert!(p.note("no_pop").is_some());
}

#[test]
fn icloud_has_no_pop() {
    let i = provider("icloud");
    assert!(i.incoming.iter().all(|s| s.protocol == Protocol::Imap));
    assert!(i.note("no_pop").is_some());
}

#[test]
fn serialises_to_json() {
    let json = serde_json::to_value(provider("gmail")).unwrap();
    assert_eq!(json["id"], "gmail");
    assert_eq!(json["incoming"][0]["security"], "tls");
    assert_eq!(json["username"], "address");
    assert_eq!(json["logins"][0], "oauth2");
}

const GOOD_ENTRY: &str = r#"
    [[provider]]
    id = "a"
    unlinked = "a test provider"
    name = "A"
    domains = ["a.example"]
    username = "address"
    logins = ["password"]
    servers = [
      { protocol = "imap", host = "imap.a.example", port = 993, security = "tls" },
      { protocol = "smtp", host = "smtp.a.example", port = 587, security = "starttls" },
    ]
    sources = ["https://a.example/help"]
"#;

/// What validation and the override test say about made-up overrides on top
/// of the real snapshot.
fn problems(extra: &str) -> Vec<String> {
    let text = format!("checked = \"2026-11-26\"\n{GOOD_ENTRY}\n{extra}");
    let snap = snapshot::parse(SNAPSHOT_TOML).unwrap();
    let over = overrides::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut found = compare(&snap, &over);
    match overrides::merge(&snap, &over) {
        Ok(merged) => found.extend(validate(&over.checked, &merged)),
        Err(e) => found.push(e),
    }
    found
}

#[test]
fn validation_accepts_a_sound_entry() {
    assert_eq!(problems(""), Vec::<String>::new());
}

#[test]
fn validation_rejects_broken_entries() {
    let entry =
        |body: &str| format!("[[provider]]\nid = \"b\"\nunlinked = \"test\"\nname = \"B\"\n{body}");
    let base = r#"username = "address"
        logins = ["password"]
        sources = ["https://b.example/"]"#;
    let imap = r#"{ protocol = "imap", host = "imap.b.example", port = 993, security = "tls" }"#;
    let smtp = r#"{ protocol = "smtp", host = "smtp.b.example", port = 465, security = "tls" }"#;
    let cases = [
        (format!("domains = [\"a.example\"]\n{base}\nservers = [{imap}, {smtp}]"), "also listed by a"),
        (format!("domains = [\"B.example\"]\n{base}\nservers = [{imap}, {smtp}]"), "not a lower-case DNS name"),
        (format!("domains = [\"b.example\", \"b.example\"]\n{base}\nservers = [{imap}, {smtp}]"), "also listed by b"),
        (format!("domains = []\n{base}\nservers = [{imap}]"), "no outgoing"),
        (format!("domains = []\n{base}\nservers = [{smtp}]"), "no incoming"),
        (
            format!("domains = []\n{base}\nservers = [{imap}, {{ protocol = \"smtp\", host = \"smtp.b.example\", port = 0, security = \"tls\" }}]"),
            "port 0",
        ),
        (
            format!("domains = []\n{base}\nservers = [{imap}, {{ protocol = \"smtp\", host = \"smtp_b.example\", port = 25, security = \"plain\" }}]"),
            "host is not",
        ),
        (
            format!("domains = []\n{base}\nservers = [{imap}, {smtp}]\nnotes = [{{ key = \"be_careful\", text = \"Careful.\" }}]"),
            "not in NOTE_KEYS",
        ),
        (
            "domains = []\nusername = \"address\"\nlogins = [\"oauth2\"]\nsources = [\"https://b.example/\"]\n".to_owned()
                + &format!("servers = [{imap}, {smtp}]"),
            "no note says so",
        ),
        (
            format!("domains = []\nusername = \"address\"\nlogins = [\"password\"]\nsources = []\nservers = [{imap}, {smtp}]"),
            "no source URL",
        ),
        (
            format!("domains = []\n{base}\nservers = [{imap}, {smtp}]\nretired = [{{ host = \"imap.a.example\", protocol = \"imap\" }}]"),
            "also a current server",
        ),
    ];
    for (body, expected) in cases {
        let found = problems(&entry(&body));
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "expected {expected:?} for\n{body}\ngot {found:?}"
        );
    }
}

#[test]
fn parsing_rejects_unknown_modes_fields_and_big_ports() {
    let with = |server: &str| {
        format!(
            "checked = \"2026-11-26\"\n[[provider]]\nid = \"c\"\nunlinked = \"t\"\nname = \"C\"\ndomains = []\n\
             username = \"address\"\nlogins = [\"password\"]\nsources = [\"https://c.example/\"]\n\
             servers = [{server}]"
        )
    };
    for bad in [
        r#"{ protocol = "imap", host = "i.c.example", port = 993, security = "ssl" }"#,
        r#"{ protocol = "imap4", host = "i.c.example", port = 993, security = "tls" }"#,
        r#"{ protocol = "imap", host = "i.c.example", port = 65536, security = "tls" }"#,
        r#"{ protocol = "imap", host = "i.c.example", port = 993, security = "tls", ssl = true }"#,
    ] {
        assert!(overrides::parse(&with(bad)).is_err(), "{bad}");
    }
}

#[test]
fn dns_name_rules() {
    for good in [
        "gmail.com",
        "t-online.de",
        "mein.gmx",
        "xn--bcher-kva.example",
        "a1.b2.c3",
    ] {
        assert!(is_dns_name(good), "{good}");
    }
    for bad in [
        "",
        "com",
        "Gmail.com",
        "-a.com",
        "a-.com",
        "a..com",
        "a.com.",
        "bücher.de",
        "a_b.com",
    ] {
        assert!(!is_dns_name(bad), "{bad}");
    }
    assert!(is_loopback("127.0.0.1") && is_loopback("::1"));
    assert!(!is_loopback("192.0.2.1") && !is_loopback("localhost"));
}

/// An override of the real `163.com.xml` entry, with `body` added.
fn on_163(body: &str) -> Vec<String> {
    problems(&format!(
        "[[provider]]\nid = \"netease\"\nispdb = \"163.com\"\nlogins = [\"password\"]\n\
         sources = [\"https://help.mail.163.com/\"]\n{body}"
    ))
}

#[test]
fn the_override_test_wants_a_reason_for_every_difference() {
    assert_eq!(
        on_163(""),
        Vec::<String>::new(),
        "inheriting everything is fine"
    );
    let pop = r#"servers = [
        { protocol = "imap", host = "imap.163.com", port = 993, security = "tls" },
        { protocol = "pop3", host = "pop.163.com", port = 995, security = "tls" },
        { protocol = "smtp", host = "smtp.163.com", port = 465, security = "tls" },
    ]"#;
    let found = on_163(pop);
    assert!(
        found
            .iter()
            .any(|p| p.contains("servers differs from the snapshot without a reason")),
        "{found:?}"
    );
    let explained = format!("{pop}\ndiffers = {{ servers = \"NetEase's page lists POP3 too.\" }}");
    assert_eq!(on_163(&explained), Vec::<String>::new());
}

#[test]
fn the_override_test_refuses_stale_reasons_and_restatements() {
    let found = on_163("differs = { servers = \"POP3 is missing upstream.\" }");
    assert!(found.iter().any(|p| p.contains("not there")), "{found:?}");
    let found = on_163("name = \"163.com\"\ndomains = [\"163.com\"]\nusername = \"address\"");
    for field in ["name", "domains", "username"] {
        assert!(
            found
                .iter()
                .any(|p| p.contains(&format!("{field} restates the snapshot"))),
            "{field}: {found:?}"
        );
    }
    let found = on_163("username = \"local_part\"");
    assert!(
        found.iter().any(|p| p.contains("username differs")),
        "{found:?}"
    );
    let found = on_163("domains = [\"163.com\", \"vip.163.com\"]");
    assert!(
        found.iter().any(|p| p.contains("domains differs")),
        "{found:?}"
    );
}

#[test]
fn the_override_test_checks_links_and_oauth2() {
    let found = problems(
        "[[provider]]\nid = \"x\"\nispdb = \"no-such.example\"\nlogins = [\"password\"]\nsources = []",
    );
    assert!(
        found.iter().any(|p| p.contains("not in the snapshot")),
        "{found:?}"
    );
    let found = problems(
        "[[provider]]\nid = \"y\"\nname = \"Y\"\ndomains = [\"163.com\"]\nusername = \"address\"\n\
         logins = [\"password\"]\nsources = [\"https://y.example/\"]\n\
         servers = [{ protocol = \"imap\", host = \"i.y.example\", port = 993, security = \"tls\" }, \
         { protocol = \"smtp\", host = \"s.y.example\", port = 465, security = \"tls\" }]",
    );
    assert!(
        found.iter().any(|p| p.contains("no reason (unlinked)")),
        "{found:?}"
    );
    let yahoo = |oauth: &str| {
        problems(&format!(
            "[[provider]]\nid = \"y2\"\nispdb = \"yahoo.co.jp\"\nlogins = [\"password\"]\n\
             sources = [\"https://y.example/\"]\n{oauth}"
        ))
    };
    // yahoo.co.jp has no <oAuth2>: giving one is an addition, not a difference.
    let add = "oauth2 = { issuer = \"i.example\", scope = \"mail\", auth_url = \"https://i.example/a\", token_url = \"https://i.example/t\" }";
    assert_eq!(yahoo(add), Vec::<String>::new());
    let found = yahoo("differs = { oauth2 = \"why\" }");
    assert!(found.iter().any(|p| p.contains("no <oAuth2>")), "{found:?}");
}

// ---------------------------------------------------------------------------
// The corrections of issue 11, each checked against the merged data.

#[test]
fn yahoo_japan_is_its_own_service() {
    let jp = by_domain("yahoo.co.jp").unwrap();
    assert_ne!(jp.id, "yahoo");
    assert_eq!(jp.username, UsernameForm::LocalPart);
    assert!(has(
        &jp.incoming,
        Protocol::Pop3,
        "pop.mail.yahoo.co.jp",
        995,
        Security::Tls
    ));
    assert!(has(
        &jp.outgoing,
        Protocol::Smtp,
        "smtp.mail.yahoo.co.jp",
        465,
        Security::Tls
    ));
    for d in ["yahoo.ca", "cox.net", "yahoo.com"] {
        assert_eq!(by_domain(d).unwrap().id, "yahoo", "{d}");
    }
}

#[test]
fn outlook_com_sends_through_smtp_mail_outlook_com_only() {
    let o = provider("outlook");
    assert!(
        o.outgoing.iter().all(|s| s.host == "smtp-mail.outlook.com"),
        "{:?}",
        o.outgoing
    );
    assert!(by_domain("passport.com").is_none());
    let m = provider("microsoft365");
    assert!(m.outgoing.iter().all(|s| s.host == "smtp.office365.com"));
}

#[test]
fn gmx_and_web_de_need_app_passwords_with_two_factor_sign_in() {
    for id in ["gmx_net", "gmx_com", "webde", "mail_com"] {
        let p = provider(id);
        assert!(p.logins.contains(&SignIn::AppPassword), "{id}");
        assert!(p.note("app_password_required").is_some(), "{id}");
    }
    let web = provider("webde");
    assert_eq!(web.username, UsernameForm::LocalPart);
    assert!(
        web.settings()
            .all(|s| s.username == Some(UsernameForm::LocalPart))
    );
}

#[test]
fn microsoft_365_smtp_auth_note_is_dated() {
    let note = provider("microsoft365").note("oauth2_only").unwrap();
    assert!(note.text.contains("December 2026"), "{}", note.text);
    assert!(
        provider("microsoft365")
            .sources
            .iter()
            .any(|s| s.contains("techcommunity.microsoft.com"))
    );
}

#[test]
fn the_large_providers_the_table_lacked_come_from_the_snapshot() {
    for domain in [
        "163.com",
        "126.com",
        "yeah.net",
        "naver.com",
        "daum.net",
        "mail.com",
        "email.com",
        "att.net",
        "sbcglobal.net",
        "bellsouth.net",
        "verizon.net",
        "charter.net",
        "rr.com",
        "earthlink.net",
        "centurylink.net",
        "btinternet.com",
        "sky.com",
        "virginmedia.com",
        "bigpond.com",
        "bell.net",
        "libero.it",
        "virgilio.it",
        "tim.it",
        "alice.it",
        "free.fr",
        "sfr.fr",
        "laposte.net",
        "seznam.cz",
        "wp.pl",
        "o2.pl",
        "onet.pl",
        "rambler.ru",
        "arcor.de",
        "uol.com.br",
        "bol.com.br",
    ] {
        let p = by_domain(domain).unwrap_or_else(|| panic!("{domain} unknown"));
        assert!(p.ispdb.is_some(), "{domain}");
        assert!(!p.incoming.is_empty() && !p.outgoing.is_empty(), "{domain}");
        assert!(
            p.sources[0].contains(&snapshot().source.commit),
            "{domain}: {:?}",
            p.sources
        );
    }
    assert!(
        by_domain("att.net")
            .unwrap()
            .logins
            .contains(&SignIn::OAuth2)
    );
}

#[test]
fn every_snapshot_domain_is_known_unless_an_override_says_otherwise() {
    let (_, over, _) = embedded();
    let reasoned: HashSet<&str> = over
        .entries
        .iter()
        .filter(|o| o.differs.domains.is_some())
        .filter_map(|o| o.ispdb.as_deref())
        .collect();
    for e in &snapshot().entries {
        for d in &e.domains {
            assert!(
                by_domain(d).is_some() || reasoned.contains(e.key()),
                "{d} of {} is lost",
                e.file
            );
        }
    }
}

// ---------------------------------------------------------------------------
// OAuth2, MX by snapshot domain, Autodiscover hosts.

#[test]
fn oauth2_settings_for_the_big_providers() {
    let ms = oauth2_for("outlook.com").expect("Outlook.com OAuth2");
    assert_eq!(ms.id, "microsoft");
    assert_eq!(ms.issuer, "https://login.microsoftonline.com/common/v2.0");
    assert!(
        ms.scopes
            .iter()
            .any(|s| s.ends_with("IMAP.AccessAsUser.All"))
    );
    assert_eq!(
        ms.device_url.as_deref(),
        Some("https://login.microsoftonline.com/common/oauth2/v2.0/devicecode")
    );
    assert_eq!(
        (ms.flow, ms.redirect_host.as_str()),
        (OAuth2Flow::Device, "localhost")
    );
    let g = oauth2_for("GMail.com.").expect("Gmail OAuth2");
    assert_eq!(
        (g.id.as_str(), g.issuer.as_str()),
        ("google", "https://accounts.google.com")
    );
    assert_eq!(g.scopes, ["https://mail.google.com/"]);
    assert_eq!((g.device_url.as_ref(), g.flow), (None, OAuth2Flow::Browser));
    assert!(g.client_secret && g.revocation_url.is_some());
    assert!(g.sources[0].contains("googlemail.com.xml"));
    // A snapshot-only provider: the issuer host names the client family.
    let yahoo = oauth2_for("yahoo.com").unwrap();
    assert_eq!(
        (yahoo.id.as_str(), yahoo.issuer.as_str()),
        ("login.yahoo.com", "https://login.yahoo.com")
    );
    assert_eq!(yahoo.redirect_host, "127.0.0.1");
    assert_eq!(
        oauth2_for("aol.com").unwrap().token_url.as_deref(),
        Some("https://api.login.aol.com/oauth2/get_token")
    );
    let m365 = provider("microsoft365").oauth2.as_ref().unwrap();
    assert_eq!(
        (m365.id.as_str(), m365.flow),
        ("microsoft", OAuth2Flow::Device)
    );
    assert_eq!(
        m365.authorization_url.as_deref(),
        Some("https://login.microsoftonline.com/common/oauth2/v2.0/authorize")
    );
    assert_eq!(oauth2_for("example.com"), None);
    assert_eq!(oauth2_for("163.com"), None);
}

#[test]
fn mx_hosts_are_also_matched_by_their_parent_and_base_domain() {
    let id = |mx: &[&str]| by_mx(&hosts(mx)).map(|p| p.id.as_str());
    // AT&T's MX base domain prodigy.net is one of att.net.xml's domains.
    assert_eq!(id(&["ff-ip4-mx-vip1.prodigy.net"]), Some("att.net"));
    // Suffixes still win: a Workspace MX is not gmail.
    assert_eq!(id(&["aspmx.l.google.com"]), Some("google_workspace"));
    assert_eq!(id(&["mx.unknown-hoster.example"]), None);
}

#[test]
fn autodiscover_hosts_identify_microsoft_365() {
    let id = |h: &str| by_autodiscover_host(h).map(|p| p.id.as_str());
    assert_eq!(id("autodiscover-s.outlook.com"), Some("microsoft365"));
    assert_eq!(id("AUTODISCOVER-S.OUTLOOK.COM."), Some("microsoft365"));
    assert_eq!(id("autodiscover.example.com"), None);
    assert_eq!(id("evil-outlook.com"), None);
}

#[test]
fn placeholders_are_filled_in_per_address() {
    let p = by_domain("inbox.lv").unwrap();
    assert!(p.incoming[0].host.contains("%EMAILDOMAIN%"));
    let s = p.settings_for("anna@inbox.lv");
    assert!(s.iter().all(|s| s.host == "mail.inbox.lv"), "{s:?}");
}

#[test]
fn the_control_host_is_a_real_provider_server() {
    assert_eq!(control_host(), "outlook.office365.com");
}
