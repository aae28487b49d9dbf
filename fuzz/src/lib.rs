//! mailcheck's fuzz targets: the shared harness (also included by the main
//! suite's `tests/fuzz_props.rs`) and, in `src/bin/`, one cargo-afl binary per
//! target. See docs/fuzzing.md.

pub mod harness;
