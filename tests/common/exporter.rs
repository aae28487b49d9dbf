//! Running `mailcheck serve` for a test, and the clients the exporter tests
//! talk to it with: plain HTTP GETs, Prometheus' query API, promtool and a
//! headless Chromium (all from Debian's packages, installed by the test-server
//! script).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::servers::Servers;

/// A `mailcheck serve` process, stopped when dropped.
pub struct Exporter {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Exporter {
    /// Starts the exporter with `config` (TOML) on `listen`, and waits until it
    /// says where it listens.
    pub fn start(config: &str, listen: &str) -> Exporter {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.toml");
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mailcheck"))
            .args([
                "serve",
                "--config",
                path.to_str().unwrap(),
                "--listen",
                listen,
            ])
            .env_remove("MAILCHECK_PASSWORD")
            .env_remove("MAILCHECK_OAUTH2_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mailcheck serve starts");
        let mut first = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let addr = first
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("mailcheck serve did not start: {first}"));
        Exporter {
            child,
            addr,
            _dir: dir,
        }
    }

    /// `GET path` on the exporter.
    pub fn get(&self, path: &str) -> Response {
        get(self.addr, path)
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The exporter configuration the tests use: the test DNS and CA, a module
/// `mail` of three combinations with two required, and `login` for alice (one
/// combination per direction, so both are judged), bound to alice's address.
pub fn test_config(s: &Servers) -> String {
    format!(
        r#"allow = ["*.mailcheck.test", "*@mailcheck.test"]
[modules.mail]
only = ["imap:993:tls", "smtp:587:starttls", "smtp:465:tls"]
require = ["imap:993:tls", "smtp:587:starttls"]
dns_server = "{dns}"
ca_file = "{ca}"
family = "ipv4"
timeout = 5
[modules.login]
only = ["imap:993:tls", "smtp:465:tls"]
dns_server = "{dns}"
ca_file = "{ca}"
family = "ipv4"
user = "{user}"
password_file = "{password}"
targets = ["{user}"]
"#,
        dns = s.dns(),
        ca = s.ca(),
        user = s.var("MAILCHECK_TEST_USER"),
        password = s.var("MAILCHECK_TEST_PASSWORD_FILE"),
    )
}

/// An HTTP answer.
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The header lines, as received.
    pub headers: String,
    /// The body.
    pub body: String,
}

/// A plain HTTP/1.0 GET (the server closes after answering), bounded by 60 s.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_mins(1))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a header and a body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    Response {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

/// `s` as a URL query value (RFC 3986 unreserved characters kept).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of the first series of a metric line that starts with `series`
/// (the metric name and its labels, as the text format writes them).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Runs `promtool ARGS` with `input` on stdin.
pub fn promtool(args: &[&str], input: &str) -> Output {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) is installed by scripts/test-servers.sh");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Prometheus' instant query API: the result vector of `promql`.
pub fn query(prometheus: &str, promql: &str) -> Vec<Value> {
    let addr: SocketAddr = prometheus
        .trim_start_matches("http://")
        .parse()
        .expect("MAILCHECK_TEST_PROMETHEUS is http://IP:PORT");
    let r = get(addr, &format!("/api/v1/query?query={}", encode(promql)));
    assert_eq!(r.status, 200, "{promql}: {}", r.body);
    let v: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["status"], "success", "{v}");
    v["data"]["result"].as_array().unwrap().clone()
}

/// Polls `check` every 500 ms until it gives a value, for at most `limit`.
pub fn wait_for<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(started.elapsed() < limit, "after {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The DOM of `url` after a real, headless Chromium has loaded and rendered it.
pub fn chromium_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    // coreutils' timeout bounds the browser, whatever it does.
    let out = Command::new("timeout")
        .args([
            "90",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            url,
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium (Debian package, installed by scripts/test-servers.sh) failed: {:?}",
        out.status
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The notAfter of the test servers' certificate, as a Unix time.
pub fn server_cert_expiry(s: &Servers) -> i64 {
    let pem = std::fs::read(s.var("MAILCHECK_TEST_SERVER_CERT")).unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let cert = pem.parse_x509().unwrap();
    cert.validity().not_after.timestamp()
}
