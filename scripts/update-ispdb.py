#!/usr/bin/env python3
"""Convert Thunderbird's ISPDB into mailcheck's pinned snapshot.

Thunderbird's ISPDB (https://github.com/thunderbird/autoconfig, directory ispdb/)
is a set of config-v1.1 XML files, one per provider. This script reads them from
a local git repository of that project at a given revision (HEAD by default) and
writes:

  data/ispdb.toml    the snapshot mailcheck embeds: one [[provider]] per file,
                     with the upstream commit it came from (MPL-2.0, see header);
  data/ISPDB-LICENSE the upstream licence text (MPL-2.0);
  fixtures/ispdb/    the source XML files themselves (and the licence), so that
                     the tests can check the conversion against the source
                     without any network.

Usage:
  scripts/update-ispdb.py PATH-TO-AUTOCONFIG-REPO [REVISION]

PATH may be a normal clone or a bare repository. Rerun it to update; review the
diff of data/ispdb.toml, then run `cargo test providers`: the override test
names every correction in data/providers.toml that the new snapshot makes
redundant or contradicts.

Only the Python standard library is used. The conversion is strict: a server of
a type mailcheck probes (imap, pop3, smtp) without a host name, a port from 1 to
65535 or a known socketType stops the script with the file's name, so an
upstream change never slips into the snapshot half-read. Every file is
converted before anything is written, so a stop leaves the old snapshot, its
licence and its source files as they were.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

UPSTREAM = "https://github.com/thunderbird/autoconfig"
SOCKET_TYPES = {"ssl": "tls", "starttls": "starttls", "plain": "plain"}
PROTOCOLS = {
    ("incomingServer", "imap"): "imap",
    ("incomingServer", "pop3"): "pop3",
    ("outgoingServer", "smtp"): "smtp",
}
OAUTH2_FIELDS = [
    ("issuer", "issuer"),
    ("scope", "scope"),
    ("authURL", "auth_url"),
    ("tokenURL", "token_url"),
]

HEADER = """\
# Thunderbird's ISPDB, converted for mailcheck. DO NOT EDIT BY HAND.
#
# This Source Code Form is subject to the terms of the Mozilla Public
# License, v. 2.0. If a copy of the MPL was not distributed with this
# file, You can obtain one at https://mozilla.org/MPL/2.0/.
#
# It is derived from the ISPDB of the Thunderbird project, which is under the
# same licence (the full text is in data/ISPDB-LICENSE):
#   {upstream}, directory ispdb/,
#   commit {commit}.
# The rest of mailcheck is MIT OR Apache-2.0; this file and the source files
# in fixtures/ispdb/ stay MPL-2.0.
#
# Made by scripts/update-ispdb.py; rerun it to update. Corrections and what
# the ISPDB does not carry (app passwords, OAuth2-only notes, retired host
# names, dated facts with sources) belong in data/providers.toml, which
# src/discover/providers checks against this file.
#
# Fields of each [[provider]] (one per upstream file):
#   file           the upstream file name
#   id, name       <emailProvider id> and <displayName>
#   domains        every <domain>, lower case, in file order; a domain listed
#                  by two files stays with the first (file name order)
#   servers        the <incomingServer>/<outgoingServer> of types imap, pop3
#                  and smtp, in file order; security "tls" is socketType SSL;
#                  host and username keep the %EMAIL...% placeholders, auth
#                  keeps every <authentication> value in order
#   documentation  <documentation url>
#   enable         <enable visiturl> and its English <instruction>
#   oauth2         the file's <oAuth2> element, if any
"""


def git(repo, *args, raw=False):
    """Runs git on a bare repository or a work tree; returns stdout (bytes if raw)."""
    bare = os.path.isfile(os.path.join(repo, "HEAD")) and not os.path.exists(
        os.path.join(repo, ".git")
    )
    base = ["git", "--git-dir", repo] if bare else ["git", "-C", repo]
    out = subprocess.run(base + list(args), check=True, capture_output=True).stdout
    return out if raw else out.decode("utf-8")


def text(node, name):
    child = node.find(name)
    if child is None or child.text is None:
        return None
    value = child.text.strip()
    return value or None


def toml_string(value):
    """A TOML basic string: every control character escaped."""
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append("\\u%04X" % code)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_list(values):
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


def server(node, protocol, label):
    """One server as a TOML inline table; fails loudly on anything unusable."""
    host = text(node, "hostname")
    port = text(node, "port")
    socket = text(node, "socketType")
    if not host or not port or not socket:
        raise ValueError(f"{label}: hostname, port and socketType are required")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{label}: port {port!r} is not 1-65535")
    security = SOCKET_TYPES.get(socket.lower())
    if security is None:
        raise ValueError(f"{label}: socketType {socket!r} is not SSL, STARTTLS or plain")
    fields = [
        f"protocol = {toml_string(protocol)}",
        f"host = {toml_string(host)}",
        f"port = {int(port)}",
        f"security = {toml_string(security)}",
    ]
    username = text(node, "username")
    if username:
        fields.append(f"username = {toml_string(username)}")
    auth = [a.text.strip() for a in node.findall("authentication") if a.text and a.text.strip()]
    fields.append(f"auth = {toml_list(auth)}")
    return "{ " + ", ".join(fields) + " }"


def english(nodes):
    """The English text among <instruction>/<descr> elements (no lang = English)."""
    for lang in (None, "en"):
        for n in nodes:
            if n.get("lang") == lang and n.text and n.text.strip():
                return " ".join(n.text.split())
    return None


def convert(name, xml, seen):
    """One upstream file as a [[provider]] block; `seen` maps domain -> first file."""
    root = ET.fromstring(xml)
    if root.tag != "clientConfig":
        raise ValueError(f"{name}: root element is <{root.tag}>")
    providers = root.findall("emailProvider")
    if len(providers) != 1:
        raise ValueError(f"{name}: {len(providers)} <emailProvider> elements")
    p = providers[0]
    domains, dropped = [], []
    for d in p.findall("domain"):
        domain = (d.text or "").strip().lower().rstrip(".")
        if not domain or domain in domains:
            continue
        if domain in seen:
            dropped.append(f"{domain} (already in {seen[domain]})")
            continue
        seen[domain] = name
        domains.append(domain)
    lines = ["[[provider]]", f"file = {toml_string(name)}"]
    lines.append(f"id = {toml_string((p.get('id') or name[:-4]).strip())}")
    lines.append(f"name = {toml_string(text(p, 'displayName') or p.get('id') or name[:-4])}")
    lines.append(f"domains = {toml_list(domains)}")
    servers = []
    for element in ("incomingServer", "outgoingServer"):
        for i, node in enumerate(p.findall(element), 1):
            protocol = PROTOCOLS.get((element, (node.get("type") or "").strip().lower()))
            if protocol:
                servers.append(server(node, protocol, f"{name}: <{element}> #{i}"))
    lines.append("servers = [")
    lines.extend(f"  {s}," for s in servers)
    lines.append("]")
    docs = [d.get("url").strip() for d in p.findall("documentation") if d.get("url")]
    if docs:
        lines.append(f"documentation = {toml_list(docs)}")
    enable = p.find("enable")
    if enable is not None and enable.get("visiturl"):
        instruction = english(enable.findall("instruction")) or ""
        lines.append(
            f"enable = {{ url = {toml_string(enable.get('visiturl').strip())}, "
            f"instruction = {toml_string(instruction)} }}"
        )
    oauth = root.find("oAuth2")
    if oauth is not None:
        fields = []
        for element, key in OAUTH2_FIELDS:
            value = text(oauth, element)
            if not value:
                raise ValueError(f"{name}: <oAuth2> has no <{element}>")
            fields.append(f"{key} = {toml_string(value)}")
        lines.append("oauth2 = { " + ", ".join(fields) + " }")
    return "\n".join(lines) + "\n", dropped


def replace(here, toml, licence, sources):
    """Writes the new snapshot, licence and source files beside the old ones
    (a temporary directory, `.new` files), then puts them in place by renames
    only: no file is ever left half-written, and a failure while writing
    leaves the old ones untouched."""
    data = os.path.join(here, "data")
    fixtures = os.path.join(here, "fixtures", "ispdb")
    staged = tempfile.mkdtemp(prefix=".ispdb-new-", dir=os.path.dirname(fixtures))
    try:
        for name, content in sources.items():
            with open(os.path.join(staged, name), "wb") as f:
                f.write(content)
        files = []
        for name, content in (("ispdb.toml", toml), ("ISPDB-LICENSE", licence)):
            path = os.path.join(data, name)
            with open(path + ".new", "wb") as f:
                f.write(content)
            files.append(path)
        old = staged + ".old"
        if os.path.isdir(fixtures):
            os.rename(fixtures, old)
        os.rename(staged, fixtures)
        for path in files:
            os.replace(path + ".new", path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
        for name in ("ispdb.toml", "ISPDB-LICENSE"):
            path = os.path.join(data, name + ".new")
            if os.path.exists(path):
                os.remove(path)


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    repo, rev = argv[1], (argv[2] if len(argv) == 3 else "HEAD")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = git(repo, "rev-parse", f"{rev}^{{commit}}").strip()
    date = git(repo, "show", "-s", "--format=%cs", commit).strip()
    names = sorted(
        path.split("/", 1)[1]
        for path in git(repo, "ls-tree", "--name-only", commit, "ispdb/").split()
        if path.endswith(".xml")
    )
    licence = git(repo, "show", f"{commit}:LICENSE", raw=True)
    # Everything is read and converted before anything is written, so a
    # file the conversion refuses leaves the old snapshot as it was.
    sources, blocks, seen, dropped = {}, [], {}, []
    for name in names:
        xml = git(repo, "show", f"{commit}:ispdb/{name}", raw=True)
        sources[name] = xml
        block, lost = convert(name, xml, seen)
        blocks.append(block)
        dropped.extend(f"{name}: {d}" for d in lost)
    out = [HEADER.format(upstream=UPSTREAM, commit=commit)]
    if dropped:
        out.append("#\n# Domains listed twice upstream (kept with the first file):\n")
        out.extend(f"#   {d}\n" for d in dropped)
    out.append(
        "\n[source]\n"
        f"repository = {toml_string(UPSTREAM)}\n"
        f"commit = {toml_string(commit)}\n"
        f"date = {toml_string(date)}\n"
        f"files = {len(names)}\n"
        f"domains = {len(seen)}\n"
    )
    for block in blocks:
        out.append("\n" + block)
    sources["LICENSE"] = licence
    replace(here, "".join(out).encode("utf-8"), licence, sources)
    print(f"ispdb {commit[:12]} ({date}): {len(names)} files, {len(seen)} domains")
    for d in dropped:
        print(f"warning: {d}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
