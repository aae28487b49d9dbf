//! cargo-afl target `imap`: see `mailcheck_fuzz::harness` for its input
//! format and invariants.

fn main() {
    let target = mailcheck_fuzz::harness::target("imap");
    afl::fuzz!(|data: &[u8]| target(data));
}
