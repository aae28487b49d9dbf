//! Running the mailcheck binary and reading what it printed.

use std::process::{Command, Output};

use serde_json::Value;

/// Runs `mailcheck ARGS…` (the subcommand included) with no colour, password or
/// token settings inherited from the environment.
pub fn binary(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailcheck"))
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("MAILCHECK_PASSWORD")
        .env_remove("MAILCHECK_OAUTH2_TOKEN")
        .output()
        .expect("mailcheck runs")
}

/// The JSON document on stdout, or a failure showing both streams.
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Fails unless `doc` matches `docs/schema/<schema_file>`.
pub fn assert_valid(schema_file: &str, doc: &Value) {
    let path = format!("{}/docs/schema/{schema_file}", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator =
        jsonschema::validator_for(&schema).expect("the published schema is itself valid");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "JSON does not match docs/schema/{schema_file}: {errors:#?}"
    );
}
