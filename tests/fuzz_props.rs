//! Fuzzing's share of the normal suite: every parser that reads server bytes
//! (SMTP reply lines, the SMTP, POP3 and IMAP dialogues with their logins, the
//! SASL mechanisms, autoconfig XML, the certificate analysis, the I/O driver
//! and the explanation of refused logins) is fed generated and mutated input through the same harness as the
//! cargo-afl targets (`fuzz/src/harness/`, included here by path), which
//! asserts each parser's invariants: no panic, bounded reading, bounded memory,
//! no credential where it must not be.
//!
//! First every seed of `fuzz/seeds/` and every crash kept in
//! `fuzz/regressions/` is replayed; then each target runs a bounded number of
//! cases (`PROPTEST_CASES`, 1024 by default). The long, coverage-guided runs
//! are `scripts/fuzz.sh`'s; see docs/fuzzing.md.

#[path = "../fuzz/src/harness/mod.rs"]
mod harness;

use std::path::Path;

use proptest::prelude::*;
use proptest::sample::select;

/// The files of `fuzz/<folder>/<target>/`, sorted; none when it is missing.
fn files(folder: &str, target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(folder)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    paths.sort();
    paths
        .iter()
        .filter(|p| p.is_file() && !p.ends_with("README.md"))
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

/// The seed corpus of `target`.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let seeds = files("seeds", target);
    assert!(!seeds.is_empty(), "fuzz/seeds/{target} has no seed");
    seeds
}

#[test]
fn every_seed_and_every_kept_crash_keeps_the_invariants() {
    for &(name, run) in harness::TARGETS {
        for input in seeds(name).iter().chain(&files("regressions", name)) {
            run(input);
        }
    }
}

/// The harness, the seed folders, the cargo-afl binaries and scripts/fuzz.sh
/// know the same targets, so none is left out of a run.
#[test]
fn every_target_has_seeds_a_binary_and_a_place_in_the_script() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut folders: Vec<String> = std::fs::read_dir(root.join("fuzz/seeds"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut names: Vec<&str> = harness::TARGETS.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    assert_eq!(folders, names);
    let script = std::fs::read_to_string(root.join("scripts/fuzz.sh")).unwrap();
    let listed = script
        .lines()
        .find_map(|l| l.strip_prefix("all_targets=("))
        .and_then(|l| l.strip_suffix(')'))
        .unwrap();
    let mut listed: Vec<&str> = listed.split(' ').collect();
    listed.sort_unstable();
    assert_eq!(listed, names);
    for name in names {
        let binary = root.join(format!("fuzz/src/bin/{name}.rs"));
        let source = std::fs::read_to_string(&binary).unwrap();
        assert!(
            source.contains(&format!("target(\"{name}\")")),
            "{binary:?}"
        );
        let _ = harness::target(name);
    }
}

/// One change to a seed, the way a mutation fuzzer makes them.
#[derive(Debug, Clone)]
enum Edit {
    /// XOR the byte at this position (modulo the length) with a value.
    Flip(usize, u8),
    /// Insert bytes at a position.
    Insert(usize, Vec<u8>),
    /// Remove up to this many bytes from a position.
    Delete(usize, usize),
    /// Repeat the bytes from a position, this many, this many times.
    Repeat(usize, usize, usize),
}

/// Words the protocols, XML and DER give meaning to, to insert whole.
const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"\0",
    b" ",
    b"+OK",
    b"-ERR",
    b".\r\n",
    b"+ ",
    b"* OK ",
    b"* BYE",
    b"* CAPABILITY ",
    b"* PREAUTH",
    b"a1 OK",
    b"a2 NO",
    b"a3 BAD",
    b"{999999999}\r\n",
    b"[CAPABILITY ",
    b"]",
    b"STARTTLS",
    b"STLS",
    b"AUTH=",
    b"SASL ",
    b"PLAIN",
    b"LOGIN",
    b"XOAUTH2",
    b"OAUTHBEARER",
    b"CRAM-MD5",
    b"LOGINDISABLED",
    b"SASL-IR",
    b"220 ",
    b"220-",
    b"235 ",
    b"250-",
    b"250 ",
    b"334 ",
    b"354 ",
    b"421 ",
    b"454 ",
    b"501 ",
    b"535 ",
    b"eyJzdGF0dXMiOiI0MDEifQ==",
    b"{\"status\":",
    b"\x1b[2J",
    b"\xe2\x80\xae",
    b"\xff",
    b"%EMAILADDRESS%",
    b"%EMAILLOCALPART%",
    b"%EMAILDOMAIN%",
    b"<incomingServer type=\"imap\">",
    b"<hostname>",
    b"</port>",
    b"]]>",
    b"&amp;",
    b"\x30\x82",
    b"\x30\x80",
    b"\x06\x03\x55\x1d\x11",
    b"\x16\x03\x03",
    b"\x15\x03\x03\x00\x02\x02\x28",
];

fn edit() -> impl Strategy<Value = Edit> {
    let bytes = prop_oneof![
        3 => select(TOKENS).prop_map(<[u8]>::to_vec),
        1 => prop::collection::vec(any::<u8>(), 1..16),
    ];
    prop_oneof![
        3 => (any::<usize>(), 1..=255u8).prop_map(|(at, x)| Edit::Flip(at, x)),
        4 => (any::<usize>(), bytes).prop_map(|(at, b)| Edit::Insert(at, b)),
        2 => (any::<usize>(), 1..64usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        1 => (any::<usize>(), 1..64usize, 1..40usize).prop_map(|(a, n, k)| Edit::Repeat(a, n, k)),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for edit in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % (len + 1) };
        match edit {
            Edit::Flip(i, x) if !data.is_empty() => {
                let i = i % data.len();
                data[i] ^= x;
            }
            Edit::Flip(..) => {}
            Edit::Insert(i, bytes) => {
                let i = at(*i, data.len());
                data.splice(i..i, bytes.iter().copied());
            }
            Edit::Delete(i, n) => {
                let i = at(*i, data.len());
                let end = (i + n).min(data.len());
                data.drain(i..end);
            }
            Edit::Repeat(i, n, times) => {
                let i = at(*i, data.len());
                let piece = data[i..(i + n).min(data.len())].to_vec();
                let repeated = piece.repeat(*times);
                data.splice(i..i, repeated);
            }
        }
    }
    data
}

/// A seed of `target` with a few edits.
fn mutated(target: &str) -> impl Strategy<Value = Vec<u8>> {
    (select(seeds(target)), prop::collection::vec(edit(), 0..8))
        .prop_map(|(seed, edits)| apply(&seed, &edits))
}

/// A server line of `protocol`: a word it gives meaning to, then anything;
/// or anything at all.
fn line(words: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (select(words), "[ -~]{0,30}").prop_map(|(w, rest)| format!("{w}{rest}")),
        2 => select(words).prop_map(str::to_owned),
        1 => any::<String>().prop_map(|s| s.chars().take(40).collect()),
    ]
}

const SMTP_WORDS: &[&str] = &[
    "220 ",
    "220-",
    "250 ",
    "250-",
    "250-STARTTLS",
    "250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER",
    "250 AUTH=LOGIN PLAIN",
    "220 2.0.0 Ready to start TLS",
    "334 ",
    "334 VXNlcm5hbWU6",
    "334 UGFzc3dvcmQ6",
    "334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=",
    "235 2.7.0 ok",
    "354 go on",
    "421 ",
    "454 4.7.0 no TLS",
    "501 ",
    "502 ",
    "535 5.7.8 no",
    "554 ",
    "221 bye",
];

const POP3_WORDS: &[&str] = &[
    "+OK",
    "+OK ",
    "-ERR",
    "-ERR [AUTH] ",
    ".",
    "..",
    "STLS",
    "USER",
    "SASL PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER",
    "+ ",
    "+",
    "+ VXNlcm5hbWU6",
    "+ UGFzc3dvcmQ6",
    "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
];

const IMAP_WORDS: &[&str] = &[
    "* OK ",
    "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN SASL-IR]",
    "* PREAUTH ",
    "* BYE ",
    "* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN AUTH=LOGIN AUTH=CRAM-MD5",
    "* CAPABILITY AUTH=XOAUTH2 AUTH=OAUTHBEARER SASL-IR LOGINDISABLED",
    "* 3 EXISTS",
    "* 1 FETCH (BODY[] {999999999}",
    "{12}",
    "a1 OK ",
    "a2 OK ",
    "a3 OK ",
    "a4 OK ",
    "a1 NO ",
    "a2 BAD ",
    "a3 NO [AUTHENTICATIONFAILED] ",
    "+ ",
    "+",
    "+ VXNlcm5hbWU6",
];

/// Configuration bytes and a transcript, as the dialogue targets read them.
fn transcript(words: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    (any::<[u8; 3]>(), prop::collection::vec(line(words), 0..40)).prop_map(|(config, lines)| {
        let mut data = config.to_vec();
        for line in lines {
            data.extend_from_slice(line.as_bytes());
            data.extend_from_slice(b"\r\n");
        }
        data
    })
}

/// Cases per property: `PROPTEST_CASES` when set, else 1024, a few seconds for
/// the whole file in a debug build. A failing case is printed, shrunk, as the
/// target's input bytes: keep it in `fuzz/regressions/TARGET/` (proptest's own
/// regression file is off: it stores a random seed, which a changed seed
/// corpus would turn into another case).
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1024);
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn smtp_reply_lines(data in mutated("smtp_reply")) {
        harness::reply::run(&data);
    }

    #[test]
    fn smtp_dialogue_on_mutated_transcripts(data in mutated("smtp")) {
        harness::dialogue::smtp(&data);
    }

    #[test]
    fn smtp_dialogue_on_generated_transcripts(data in transcript(SMTP_WORDS)) {
        harness::dialogue::smtp(&data);
    }

    #[test]
    fn pop3_dialogue_on_mutated_transcripts(data in mutated("pop3")) {
        harness::dialogue::pop3(&data);
    }

    #[test]
    fn pop3_dialogue_on_generated_transcripts(data in transcript(POP3_WORDS)) {
        harness::dialogue::pop3(&data);
    }

    #[test]
    fn imap_dialogue_on_mutated_transcripts(data in mutated("imap")) {
        harness::dialogue::imap(&data);
    }

    #[test]
    fn imap_dialogue_on_generated_transcripts(data in transcript(IMAP_WORDS)) {
        harness::dialogue::imap(&data);
    }

    #[test]
    fn sasl_challenges(data in mutated("sasl")) {
        harness::sasl::run(&data);
    }

    #[test]
    fn autoconfig_documents(data in mutated("autoconfig")) {
        harness::autoconfig::run(&data);
    }

    #[test]
    fn certificate_chains(data in mutated("cert")) {
        harness::cert::run(&data);
    }

    #[test]
    fn driver_over_server_bytes(data in mutated("driver")) {
        harness::driver::run(&data);
    }

    #[test]
    fn refusal_explanations(data in mutated("refusal")) {
        harness::refusal::run(&data);
    }
}
