//! Running the mailcheck binary and reading what it printed.

use std::process::{Command, Output};

use serde_json::Value;

/// Where the tests' runs look for stored OAuth2 tokens: nowhere, so that a token
/// a person stored with `mailcheck login` never changes a test.
pub const NO_TOKENS: &str = "/nonexistent/mailcheck-tests-store-no-tokens";

/// Runs `mailcheck ARGS…` (the subcommand included) with no colour, password or
/// token settings inherited from the environment, and no stored token.
pub fn binary(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_mailcheck"))
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("MAILCHECK_PASSWORD")
        .env_remove("MAILCHECK_OAUTH2_TOKEN")
        .env("MAILCHECK_TOKEN_STORE", "file")
        .env("MAILCHECK_TOKEN_DIR", NO_TOKENS)
        .output()
        .expect("mailcheck runs");
    dump(&out.stdout);
    out
}

/// As [`binary`], from async code: on a blocking thread, so that servers running
/// on the test's own runtime keep answering while the binary waits for them.
pub async fn binary_async(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(ToString::to_string).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        binary(&args)
    })
    .await
    .expect("the binary's thread")
}

/// The `kind` of every source report of a settings or discovery document, in order.
pub fn source_kinds(doc: &Value) -> Vec<String> {
    doc["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|r| r["kind"].as_str().expect("kind").to_owned())
        .collect()
}

/// The first candidate of a settings or discovery document for `protocol`
/// (and `port`, if given).
pub fn candidate(doc: &Value, protocol: &str, port: Option<u64>) -> Option<Value> {
    doc["candidates"]
        .as_array()?
        .iter()
        .find(|c| c["protocol"] == protocol && port.is_none_or(|p| c["port"] == p))
        .cloned()
}

/// With `MAILCHECK_TEST_JSON_DUMP=DIR`, keeps every JSON document a test produced
/// as `DIR/<test name>.<n>.json`, so that two runs of the suite (before and after a
/// refactoring) can be compared with `scripts/compare-json.py`.
pub fn dump(stdout: &[u8]) {
    // Per test, in call order (tests run in parallel, so count per name).
    static COUNTS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let Some(dir) = std::env::var_os("MAILCHECK_TEST_JSON_DUMP") else {
        return;
    };
    if serde_json::from_slice::<Value>(stdout).is_err() {
        return;
    }
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .replace("::", ".");
    let binary = std::env::args().next().unwrap_or_default();
    let binary = std::path::Path::new(&binary)
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .split('-')
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .unwrap_or_default();
    let key = format!("{binary}.{test}");
    let n = {
        let mut seen = COUNTS.lock().unwrap();
        let n = seen.iter().filter(|k| **k == key).count();
        seen.push(key.clone());
        n
    };
    let path = std::path::Path::new(&dir).join(format!("{key}.{n}.json"));
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(path, stdout);
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
