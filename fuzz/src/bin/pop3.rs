//! cargo-afl target `pop3`: see `mailcheck_fuzz::harness` for its input
//! format and invariants.

fn main() {
    let target = mailcheck_fuzz::harness::target("pop3");
    afl::fuzz!(|data: &[u8]| target(data));
}
