//! The fuzz harness: for every parser that reads server bytes, one function from
//! arbitrary bytes to the parser's call, with the invariants that every input
//! must keep checked by assertions. A failed assertion is a crash to the fuzzer
//! and a failing case to the property tests.
//!
//! Two runners share this code so that they check the same things:
//! - the coverage-guided targets in `fuzz/src/bin/` (cargo-afl, run by
//!   `scripts/fuzz.sh`), one binary per entry of [`TARGETS`];
//! - the property tests of the main suite, `tests/fuzz_props.rs`, which include
//!   this directory by path and feed it generated and mutated inputs.
//!
//! Each module's docs give the input format of its target. docs/fuzzing.md
//! explains how to run them.

pub mod autoconfig;
pub mod cert;
pub mod dialogue;
pub mod driver;
pub mod input;
pub mod refusal;
pub mod reply;
pub mod sasl;

/// A target's entry point: takes any bytes, panics only when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target: its name (the fuzz binary's and the seed folder's) and entry.
pub const TARGETS: &[(&str, Target)] = &[
    ("smtp_reply", reply::run),
    ("smtp", dialogue::smtp),
    ("pop3", dialogue::pop3),
    ("imap", dialogue::imap),
    ("sasl", sasl::run),
    ("autoconfig", autoconfig::run),
    ("cert", cert::run),
    ("driver", driver::run),
    ("refusal", refusal::run),
];

/// The entry point of the target called `name`.
///
/// # Panics
/// When there is no such target.
#[must_use]
pub fn target(name: &str) -> Target {
    TARGETS
        .iter()
        .find_map(|&(n, run)| (n == name).then_some(run))
        .unwrap_or_else(|| panic!("no fuzz target {name:?}"))
}
