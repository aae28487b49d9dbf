#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into fuzz/seeds/<target>/.

The seeds are transcripts as real servers send them: Postfix and Dovecot (the
test servers of scripts/test-servers.sh, as the unit tests quote them), the
provider replies of data/auth-messages.toml (Gmail, Microsoft 365, Yahoo, ...),
the config-v1.1 documents of the autoconfig tests, and certificates made with
openssl the way the test CA makes them. Each seed starts with the target's
configuration bytes (see fuzz/src/harness/*.rs for their meaning).

    python3 fuzz/seeds.py              # rewrite every seed folder
    python3 fuzz/seeds.py --dump DIR   # also add the server lines of every
                                       # transcript in a MAILCHECK_TEST_JSON_DUMP

The certificates get new keys on every run, so the committed cert seeds only
change when this script is run on purpose.
"""

import base64
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import tomllib

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
SEEDS = FUZZ / "seeds"

# Dialogue flags (fuzz/src/harness/dialogue.rs, Setup::new).
TLS, STARTTLS, PLAIN = 0, 1, 2
PLAN, TOKEN, ALT, SEND, DELIVER, EARLY = 4, 8, 16, 32, 64, 128
NO_FORCE = 7
PLAIN_M, LOGIN_M, CRAM_M, XOAUTH2_M, OAUTHBEARER_M = range(5)


def b64(text):
    return base64.b64encode(text.encode()).decode()


XOAUTH2_ERROR = b64('{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}')
OAUTHBEARER_ERROR = b64(
    '{"status":"invalid_token","scope":"https://mail.example.com/",'
    '"openid-configuration":"https://example.com/.well-known/openid-configuration"}'
)
CRAM_CHALLENGE = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"

POSTFIX_GREETING = "220 mail.example.com ESMTP Postfix (Debian/GNU)"


def postfix_ehlo(starttls, auth="PLAIN LOGIN"):
    lines = ["250-mail.example.com", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN"]
    if starttls:
        lines.append("250-STARTTLS")
    if auth:
        lines.append(f"250-AUTH {auth}")
    lines += ["250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING"]
    return lines


BYE = "221 2.0.0 Bye"


def smtp_seeds(replies):
    after_tls = [POSTFIX_GREETING, *postfix_ehlo(False, "PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER")]
    seeds = {
        "tls_look": ([TLS, NO_FORCE, 0], [POSTFIX_GREETING, *postfix_ehlo(False), BYE]),
        "starttls_look": ([STARTTLS, NO_FORCE, 0], [
            POSTFIX_GREETING, *postfix_ehlo(True, ""), "220 2.0.0 Ready to start TLS",
            *postfix_ehlo(False), BYE]),
        "starttls_login_plain": ([STARTTLS | PLAN, NO_FORCE, 0], [
            POSTFIX_GREETING, *postfix_ehlo(True, ""), "220 2.0.0 Ready to start TLS",
            *postfix_ehlo(False), "235 2.7.0 Authentication successful", BYE]),
        "early_plan_starttls_refused": ([STARTTLS | PLAN | EARLY, NO_FORCE, 0], [
            POSTFIX_GREETING, *postfix_ehlo(True), "454 4.7.0 TLS not available due to local problem", BYE]),
        "login_retry_fails": ([TLS | PLAN | ALT, NO_FORCE, 0], [
            *after_tls,
            "535 5.7.8 Error: authentication failed: authentication failure",
            "535 5.7.8 Error: authentication failed: authentication failure", BYE]),
        "login_mechanism": ([TLS | PLAN, LOGIN_M, 0], [
            *after_tls, "334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6", "235 2.7.0 Authentication successful", BYE]),
        "cram_md5": ([TLS | PLAN, CRAM_M, 0], [
            *after_tls, f"334 {CRAM_CHALLENGE}", "235 2.7.0 Authentication successful", BYE]),
        "xoauth2_error": ([TLS | PLAN | TOKEN, XOAUTH2_M, 0], [
            POSTFIX_GREETING, "250-smtp.gmail.com at your service", "250-SIZE 35882577",
            "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH", "250 SMTPUTF8",
            f"334 {XOAUTH2_ERROR}",
            "535-5.7.8 Username and Password not accepted. Learn more at",
            "535 5.7.8  https://support.google.com/mail/?p=BadCredentials - gsmtp", BYE]),
        "oauthbearer_error": ([TLS | PLAN | TOKEN | ALT, NO_FORCE, 0], [
            *after_tls, f"334 {OAUTHBEARER_ERROR}", "535 5.7.8 Authentication credentials invalid",
            "334 ", f"334 {OAUTHBEARER_ERROR}", "535 5.7.8 Authentication credentials invalid", BYE]),
        "send_test": ([TLS | PLAN | SEND, NO_FORCE, 0], [
            *after_tls, "235 2.7.0 Authentication successful", "250 2.1.0 Ok", "250 2.1.5 Ok",
            "250 2.0.0 Ok", BYE]),
        "deliver": ([TLS | PLAN | SEND | DELIVER, NO_FORCE, 0], [
            *after_tls, "235 2.7.0 Authentication successful", "250 2.1.0 Ok", "250 2.1.5 Ok",
            "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 4F1A2B3C4D", BYE]),
        "relay_test": ([PLAIN | SEND, NO_FORCE, 0], [
            POSTFIX_GREETING, *postfix_ehlo(True), "250 2.1.0 Ok",
            "554 5.7.1 <alice@example.com>: Relay access denied", "250 2.0.0 Ok", BYE]),
        "helo_fallback": ([TLS | PLAN, NO_FORCE, 0], [
            "220 old.example.com SMTP ready", "502 5.5.2 Error: command not recognized",
            "250 old.example.com", BYE]),
        "greeting_refused": ([PLAIN, NO_FORCE, 0], ["554 5.7.1 No SMTP service here", BYE]),
        "greeting_421": ([PLAIN, NO_FORCE, 0], ["421 4.3.2 Service shutting down"]),
        "multiline_greeting": ([TLS, NO_FORCE, 0], [
            "220-mail.example.com ESMTP", "220-no UCE", "220 ready", *postfix_ehlo(False), BYE]),
        "abandoned": ([STARTTLS, NO_FORCE, 2], [POSTFIX_GREETING, "250-mail.example.com", "250 STARTTLS",
                                              "500 5.5.1 what", BYE]),
        "endless_challenges": ([TLS | PLAN | ALT, LOGIN_M, 0], [*after_tls, "334 UGFzc3dvcmQ6"]),
        "auth_cancelled": ([TLS | PLAN, PLAIN_M, 0], [
            *after_tls, *["334 "] * 11, "501 5.7.0 Authentication aborted", BYE]),
        "ftp_greeting": ([TLS, NO_FORCE, 0], ["220 ProFTPD Server (ftp.example.com)"]),
    }
    for i, reply in enumerate(r for r in replies if r[:1].isdigit()):
        seeds[f"provider_reply_{i:02}"] = ([TLS | PLAN | ALT, NO_FORCE, 0], [*after_tls, *reply.split("\n"), BYE])
    return seeds


DOVECOT_POP3 = "+OK Dovecot (Debian) ready."
POP3_CAPA = ["+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"]


def pop3_seeds(replies):
    tls_caps = [*POP3_CAPA, "USER", "SASL PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER", "."]
    seeds = {
        "tls_look": ([TLS, NO_FORCE, 0], [DOVECOT_POP3, *tls_caps, "+OK Logging out."]),
        "stls_login": ([STARTTLS | PLAN, NO_FORCE, 0], [
            DOVECOT_POP3, *POP3_CAPA, "USER", "STLS", ".", "+OK Begin TLS negotiation now.",
            *tls_caps, "+OK Logged in.", "+OK Logging out."]),
        "user_pass": ([TLS | PLAN, NO_FORCE, 0], [
            DOVECOT_POP3, *POP3_CAPA, "USER", ".", "+OK", "+OK Logged in.", "+OK Logging out."]),
        "no_capa": ([PLAIN | PLAN, NO_FORCE, 0], [
            "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>", "-ERR unknown command",
            "+OK", "-ERR [AUTH] Authentication failed.", "+OK"]),
        "stls_without_capa": ([STARTTLS, NO_FORCE, 0], [
            "+OK ready", "-ERR unknown command", "-ERR STLS not supported", "+OK bye"]),
        "login_mechanism": ([TLS | PLAN | ALT, LOGIN_M, 0], [
            DOVECOT_POP3, *tls_caps, "+ VXNlcm5hbWU6", "+ UGFzc3dvcmQ6", "-ERR [AUTH] Authentication failed.",
            "+ VXNlcm5hbWU6", "+ UGFzc3dvcmQ6", "+OK Logged in.", "+OK Logging out."]),
        "xoauth2_error": ([TLS | PLAN | TOKEN, XOAUTH2_M, 0], [
            DOVECOT_POP3, *tls_caps, f"+ {XOAUTH2_ERROR}", "-ERR [AUTH] Username and password not accepted.",
            "+OK bye"]),
        "cram_md5": ([TLS | PLAN, CRAM_M, 0], [
            DOVECOT_POP3, *tls_caps, f"+ {CRAM_CHALLENGE}", "+OK Logged in.", "+OK Logging out."]),
        "stuffed_capa": ([TLS, NO_FORCE, 0], [DOVECOT_POP3, "+OK", "..DOT", "X-EXPERIMENT", ".", "+OK"]),
        "greeting_refused": ([TLS, NO_FORCE, 0], ["-ERR [SYS/TEMP] Mail system temporarily unavailable", "+OK"]),
        "abandoned_in_capa": ([TLS, NO_FORCE, 3], [DOVECOT_POP3, "+OK", "TOP", "UIDL", ".", "+OK bye"]),
        "endless_capa": ([TLS, NO_FORCE, 0], [DOVECOT_POP3, "+OK", "X-CAPABILITY"]),
    }
    for i, reply in enumerate(r for r in replies if r.startswith(("+", "-"))):
        seeds[f"provider_reply_{i:02}"] = ([TLS | PLAN, NO_FORCE, 0], [DOVECOT_POP3, *tls_caps, reply, "+OK"])
    return seeds


DOVECOT_IMAP = ("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
                "AUTH=PLAIN] Dovecot (Debian) ready.")
IMAP_TLS_CAPS = ("* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN "
                 "AUTH=LOGIN AUTH=CRAM-MD5 AUTH=XOAUTH2 AUTH=OAUTHBEARER")


def imap_seeds(replies):
    logout = ["* BYE Logging out", "a{} OK Logout completed (0.001 + 0.000 secs)."]
    seeds = {
        "tls_look": ([TLS, NO_FORCE, 0], [DOVECOT_IMAP, logout[0], logout[1].format(1)]),
        "capability_command": ([PLAIN, NO_FORCE, 0], [
            "* OK IMAP4rev1 Service Ready", "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED",
            "a1 OK Pre-login capabilities listed, post-login capabilities have more.",
            logout[0], logout[1].format(2)]),
        "starttls_login": ([STARTTLS | PLAN, NO_FORCE, 0], [
            DOVECOT_IMAP, "a1 OK Begin TLS negotiation now.", IMAP_TLS_CAPS,
            "a2 OK Pre-login capabilities listed, post-login capabilities have more.",
            "a3 OK [CAPABILITY IMAP4rev1 SORT THREAD=REFERENCES] Logged in", logout[0], logout[1].format(4)]),
        "login_command": ([TLS | PLAN, NO_FORCE, 0], [
            "* OK [CAPABILITY IMAP4rev1 LITERAL+ ID] Courier-IMAP ready.",
            "a1 NO [AUTHENTICATIONFAILED] Authentication failed.", "a2 OK LOGIN Ok.",
            logout[0], logout[1].format(3)]),
        "login_disabled": ([PLAIN | PLAN, NO_FORCE, 0], [
            "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready", logout[0], logout[1].format(1)]),
        "preauth": ([STARTTLS | PLAN | EARLY, NO_FORCE, 0], [
            "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] already logged in", logout[0], logout[1].format(1)]),
        "no_sasl_ir": ([TLS | PLAN | ALT, NO_FORCE, 0], [
            "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN] ready", "+ ",
            "a1 NO [AUTHENTICATIONFAILED] Authentication failed.", "+ ", "a2 OK Logged in",
            logout[0], logout[1].format(3)]),
        "login_mechanism": ([TLS | PLAN, LOGIN_M, 0], [
            DOVECOT_IMAP.replace("AUTH=PLAIN", "AUTH=PLAIN AUTH=LOGIN"), "+ VXNlcm5hbWU6", "+ UGFzc3dvcmQ6",
            "a1 OK Logged in", logout[0], logout[1].format(2)]),
        "xoauth2_error": ([TLS | PLAN | TOKEN, NO_FORCE, 0], [
            "* OK Gimap ready for requests from 192.0.2.1 a1mb123456", IMAP_TLS_CAPS, "a1 OK Thats all she wrote!",
            f"+ {XOAUTH2_ERROR}", "a2 NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)",
            logout[0], logout[1].format(3)]),
        "bye_during_login": ([TLS | PLAN, NO_FORCE, 0], [DOVECOT_IMAP, "* BYE Too many invalid commands"]),
        "greeting_bye": ([TLS, NO_FORCE, 0], ["* BYE [UNAVAILABLE] Server shutting down"]),
        "literals": ([TLS, NO_FORCE, 0], [
            "* OK ready", "* 1 FETCH (BODY[] {999999999}", "* OK [ALERT] {5}", "hello)",
            "* CAPABILITY IMAP4rev1 {3}", "abc", "a1 OK done {0}", "* BYE {12}", "a2 OK {4294967296}"]),
        "untagged_noise": ([STARTTLS, NO_FORCE, 0], [
            "* OK ready", "* 3 EXISTS", "* 0 RECENT", "* FLAGS (\\Seen)", "* CAPABILITY IMAP4rev1 STARTTLS",
            "a1 OK", "* 4 EXISTS", "a2 OK go ahead"]),
        "abandoned_logout": ([TLS, NO_FORCE, 1], ["* OK ready", "a1 OK", "* BYE", "a2 OK"]),
        "endless_capability": ([TLS, NO_FORCE, 0], ["* OK ready", "* CAPABILITY IMAP4rev1 X-ENDLESS"]),
        "endless_bye": ([TLS, NO_FORCE, 0], [DOVECOT_IMAP, "* BYE Logging out"]),
    }
    for i, reply in enumerate(r for r in replies if r[:1].isalnum() and " NO " in r):
        tagged = "a1 " + reply.split(" ", 1)[1]
        seeds[f"provider_reply_{i:02}"] = ([TLS | PLAN, NO_FORCE, 0], [DOVECOT_IMAP, tagged, *logout[:1], "a2 OK"])
    return seeds


def sasl_seeds():
    raw = 8
    xoauth2_json = '{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}'
    return {
        "plain_empty": ([PLAIN_M], ["", "AUTH=PLAIN AUTH=LOGIN SASL-IR"]),
        "login_prompts": ([LOGIN_M], ["VXNlcm5hbWU6", "UGFzc3dvcmQ6", "AUTH PLAIN LOGIN"]),
        "login_odd_prompts": ([LOGIN_M], [b64("User Name"), b64("Password:"), "SASL PLAIN LOGIN"]),
        "cram_md5": ([CRAM_M], [CRAM_CHALLENGE, "AUTH=CRAM-MD5"]),
        "xoauth2": ([XOAUTH2_M], ["", XOAUTH2_ERROR, "AUTH XOAUTH2 OAUTHBEARER"]),
        "xoauth2_raw": ([XOAUTH2_M | raw], ["", xoauth2_json]),
        "oauthbearer_raw": ([OAUTHBEARER_M | raw | 16 | 32], [
            "", '{"status":"invalid_token","scope":"x","openid-configuration":"https://example.com/"}']),
        "oauthbearer_number_status": ([OAUTHBEARER_M | raw], ['{"status":401}']),
        "capabilities": ([PLAIN_M], [
            "AUTH=PLAIN AUTH=LOGIN AUTH=SCRAM-SHA-256", "SASL PLAIN GSSAPI", "AUTH=LOGIN PLAIN", "auth plain login"]),
    }


AUTOCONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.com">
    <domain>example.com</domain>
    <domain>example.net</domain>
    <displayName>Example Mail</displayName>
    <displayShortName>Example</displayShortName>
    <incomingServer type="imap">
      <hostname>imap.%EMAILDOMAIN%</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>OAuth2</authentication>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.example.com</hostname>
      <port>110</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-encrypted</authentication>
    </incomingServer>
    <incomingServer type="exchange">
      <hostname>outlook.office365.com</hostname>
      <port>443</port>
      <socketType>SSL</socketType>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>[2001:db8::25]</hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
    <documentation url="https://example.com/help">
      <descr lang="en">Setup</descr>
    </documentation>
  </emailProvider>
  <oAuth2>
    <issuer>accounts.example.com</issuer>
    <scope>https://mail.example.com/</scope>
  </oAuth2>
</clientConfig>
"""


def autoconfig_seeds():
    return {
        "full": "alice@example.com\n" + AUTOCONFIG,
        "bom_plain": "bob@example.org\n\ufeff" + AUTOCONFIG.replace("SSL", "plain"),
        "not_client_config": "alice@example.com\n<html><body>404</body></html>",
        "doctype": 'alice@example.com\n<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaa">]><clientConfig/>',
        "bad_port": "alice@example.com\n" + AUTOCONFIG.replace("<port>993</port>", "<port>99999</port>"),
        "placeholder_host": "%EMAILADDRESS%@%EMAILDOMAIN%\n" + AUTOCONFIG.replace(
            "pop.example.com", "%EMAILLOCALPART%.%EMAILDOMAIN%"),
    }


def driver_seeds(replies):
    crlf = lambda lines: "".join(f"{line}\r\n" for line in lines).encode()
    smtp = crlf(smtp_seeds(replies)["tls_look"][1])
    starttls = crlf([POSTFIX_GREETING, "250-mail.example.com", "250 STARTTLS", "220 2.0.0 Ready to start TLS"])
    alert = bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28])
    server_hello_start = bytes([0x16, 0x03, 0x03, 0x00, 0x31, 0x02, 0x00, 0x00, 0x2d, 0x03, 0x03]) + bytes(32)
    smtp_t, pop3_t, imap_t = 0, 1, 2
    implicit = 4
    one_byte = 1
    return {
        "smtp_look": ([smtp_t, TLS, NO_FORCE, 0], smtp),
        "smtp_look_bytewise": ([smtp_t, TLS, NO_FORCE, one_byte], smtp),
        "smtp_login": ([smtp_t, TLS | PLAN, NO_FORCE, 0], crlf(smtp_seeds(replies)["login_retry_fails"][1])),
        "pop3_look": ([pop3_t, TLS, NO_FORCE, 0], crlf(pop3_seeds(replies)["tls_look"][1])),
        "imap_look": ([imap_t, TLS, NO_FORCE, 0], crlf(imap_seeds(replies)["tls_look"][1])),
        "imap_literal": ([imap_t, TLS, NO_FORCE, 0], crlf(imap_seeds(replies)["literals"][1])),
        "starttls_then_alert": ([smtp_t, STARTTLS | PLAN, NO_FORCE, one_byte], starttls + alert),
        "starttls_injection": ([smtp_t, STARTTLS | PLAN, NO_FORCE, 0], starttls + b"250 injected\r\n"),
        "starttls_then_plaintext": ([smtp_t, STARTTLS, NO_FORCE, one_byte], starttls + b"220 hello again\r\n"),
        "starttls_then_server_hello": ([smtp_t, STARTTLS, NO_FORCE, one_byte], starttls + server_hello_start),
        "implicit_tls_plaintext": ([pop3_t | implicit, TLS, NO_FORCE, 0], crlf([DOVECOT_POP3])),
        "implicit_tls_alert": ([imap_t | implicit, TLS, NO_FORCE, 0], alert),
        "nul_byte": ([pop3_t, TLS, NO_FORCE, 0], b"+OK hi\0there\r\n"),
        "invalid_utf8": ([imap_t, TLS, NO_FORCE, 0], b"* OK \xff\xfe\r\n"),
        "long_line": ([smtp_t, TLS, NO_FORCE, 0], b"220 " + b"x" * 9000 + b"\r\n"),
        "control_characters": ([smtp_t, TLS, NO_FORCE, 0], crlf(["220 \x1b]0;owned\x07 \x1b[2J ready\r\x1b[K", BYE])),
    }


def refusal_seeds(catalogue):
    """Every example reply of data/auth-messages.toml, for its protocols and
    providers, and the provider greetings it knows."""
    protocols = {"smtp": 0, "pop3": 1, "imap": 2}
    providers = [None, "gmail", "microsoft365", "yahoo", "outlook", "icloud"]
    seeds = {}
    for rule in catalogue["rule"]:
        for i, example in enumerate(rule.get("examples", [])):
            for protocol in rule.get("protocols", ["smtp"]):
                provider = next((p for p in rule.get("providers", []) if p in providers), None)
                config = [protocols[protocol], providers.index(provider)]
                seeds[f"{rule['code']}_{protocol}_{i}"] = (config, example.encode())
    for greeting in catalogue.get("greeting", []):
        for i, example in enumerate(greeting.get("examples", [])):
            seeds[f"greeting_{greeting['provider']}_{i}"] = (
                [0 | 128, 0], f"{example}\n535 5.7.8 Username and Password not accepted".encode())
    return seeds


def certificates(out):
    """Certificates as the test CA makes them, plus the odd ones servers send."""
    tmp = pathlib.Path(tempfile.mkdtemp())

    def run(*args):
        subprocess.run(["openssl", *args], cwd=tmp, check=True, capture_output=True)

    def der(name):
        run("x509", "-in", f"{name}.pem", "-outform", "DER", "-out", f"{name}.der")
        return (tmp / f"{name}.der").read_bytes()

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-subj", "/CN=mailcheck fuzz CA", "-days", "3650")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key",
        "-out", "leaf.csr", "-subj", "/CN=mail.example.com")
    (tmp / "ext").write_text("subjectAltName=DNS:mail.example.com,DNS:*.example.com,IP:127.0.0.1,IP:::1,"
                             "email:postmaster@example.com\nkeyUsage=digitalSignature\n"
                             "extendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "leaf.pem", "-days", "90", "-extfile", "ext")
    run("req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", "ed.key", "-out", "ed.pem",
        "-subj", "/CN=ed25519.example.com", "-addext", "subjectAltName=DNS:ed25519.example.com")
    run("req", "-x509", "-newkey", "rsa:1024", "-nodes", "-keyout", "small.key", "-out", "small.pem",
        "-subj", "/CN=old.example.com", "-days", "1")
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes", "-keyout",
        "p384.key", "-out", "p384.pem", "-subj", "/O=No CN here", "-days", "1")
    leaf, ca, ed, small, p384 = (der(n) for n in ["leaf", "ca", "ed", "small", "p384"])
    unknown_issuer, host0, now2025 = 4, 0, 2
    seeds = {
        "chain_trusted": ([0, host0, now2025], leaf + ca),
        "leaf_only_incomplete": ([unknown_issuer, host0, now2025], leaf),
        "wildcard_host": ([0, 2, now2025], leaf + ca),
        "ip_host": ([0, 4, now2025], leaf + ca),
        "ed25519_self_signed": ([unknown_issuer, host0, now2025], ed),
        "rsa1024_expired": ([1, 1, 3], small),
        "p384_not_yet_valid": ([2, host0, 0], p384),
        "name_mismatch": ([3, 6, now2025], leaf + ca + ed),
        "truncated": ([6, host0, now2025], leaf[: len(leaf) // 2]),
        "garbage_after": ([5, host0, 4], ca + b"\x30\x82\xff\xff" + b"\x00" * 16),
    }
    shutil.rmtree(tmp)
    write(out, seeds)


def write(folder, seeds):
    folder.mkdir(parents=True, exist_ok=True)
    for name, seed in seeds.items():
        if isinstance(seed, str):
            data = seed.encode()
        else:
            config, body = seed
            if isinstance(body, list):
                body = "".join(f"{line}\r\n" for line in body).encode()
            data = bytes(config) + body
        (folder / name).write_bytes(data)


def from_dump(dump):
    """The server lines of each probe transcript in a JSON dump, with the
    probe's protocol and security mode."""
    found = set()
    for path in sorted(pathlib.Path(dump).rglob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        for probe in find_probes(doc):
            lines = [t["text"] for t in probe["transcript"] if t.get("from") == "server"]
            # The transcript escapes control characters; such lines are not
            # what the server sent.
            if lines and "\\" not in "".join(lines):
                found.add((probe.get("protocol"), probe.get("security"), tuple(lines)))
    return sorted(found, key=str)


def find_probes(value):
    if isinstance(value, dict):
        if isinstance(value.get("transcript"), list) and "protocol" in value:
            yield value
        for v in value.values():
            yield from find_probes(v)
    elif isinstance(value, list):
        for v in value:
            yield from find_probes(v)


def main():
    catalogue = tomllib.loads((ROOT / "data" / "auth-messages.toml").read_text())
    replies = [e for rule in catalogue["rule"] for e in rule.get("examples", [])]
    for target in ["smtp_reply", "smtp", "pop3", "imap", "sasl", "autoconfig", "driver", "refusal"]:
        shutil.rmtree(SEEDS / target, ignore_errors=True)
    write(SEEDS / "smtp_reply", {
        "postfix": "\n".join([POSTFIX_GREETING, *postfix_ehlo(True), BYE]),
        "providers": "\n".join(r for r in replies if r[:1].isdigit()),
        "odd": "220\n999-x\n000 \n12\n2200 no\n220-\n",
    })
    dialogues = {"smtp": smtp_seeds(replies), "pop3": pop3_seeds(replies), "imap": imap_seeds(replies)}
    if "--dump" in sys.argv:
        dump = sys.argv[sys.argv.index("--dump") + 1]
        modes = {"tls": TLS, "starttls": STARTTLS, "plain": PLAIN}
        for i, (protocol, security, lines) in enumerate(from_dump(dump)):
            if protocol in dialogues and security in modes:
                name = f"real_{security}_{i:03}"
                dialogues[protocol][name] = ([modes[security] | PLAN, NO_FORCE, 0], list(lines))
    for protocol, seeds in dialogues.items():
        write(SEEDS / protocol, seeds)
    write(SEEDS / "sasl", sasl_seeds())
    write(SEEDS / "autoconfig", autoconfig_seeds())
    write(SEEDS / "driver", driver_seeds(replies))
    write(SEEDS / "refusal", refusal_seeds(catalogue))
    if "--keep-certs" not in sys.argv:
        shutil.rmtree(SEEDS / "cert", ignore_errors=True)
        certificates(SEEDS / "cert")


if __name__ == "__main__":
    main()
