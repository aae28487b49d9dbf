//! cargo-afl target `sasl`: see `mailcheck_fuzz::harness` for its input
//! format and invariants.

fn main() {
    let target = mailcheck_fuzz::harness::target("sasl");
    afl::fuzz!(|data: &[u8]| target(data));
}
