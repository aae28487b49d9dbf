//! cargo-afl target `smtp_reply`: see `mailcheck_fuzz::harness` for its input
//! format and invariants.

fn main() {
    let target = mailcheck_fuzz::harness::target("smtp_reply");
    afl::fuzz!(|data: &[u8]| target(data));
}
