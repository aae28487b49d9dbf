//! The status page at `/`: the exporter's modules and its most recent probes,
//! each with its human report at `/report?id=N`, as blackbox_exporter's
//! "Recent Probes" page does. Plain HTML, no script, every value escaped.

use std::collections::VecDeque;
use std::fmt::Write as _;

use crate::diagnose::export::escape;
use crate::engine::outcome::status_word;

/// One probe, as the page shows it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its number, counting from 1 since the exporter started.
    pub id: u64,
    /// When it started, RFC 3339 UTC.
    pub at: String,
    /// The module.
    pub module: String,
    /// The target.
    pub target: String,
    /// The exit code.
    pub exit_code: i32,
    /// Wall time.
    pub duration_ms: u64,
    /// The human report, without colour.
    pub report: String,
}

/// The last `capacity` probes, newest last.
#[derive(Debug)]
pub struct Recent {
    capacity: usize,
    next_id: u64,
    entries: VecDeque<Entry>,
}

impl Recent {
    /// Keeps at most `capacity` probes.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Recent {
            capacity,
            next_id: 1,
            entries: VecDeque::new(),
        }
    }

    /// Adds a probe (its `id` is assigned here), forgetting the oldest when full.
    pub fn push(&mut self, mut entry: Entry) {
        entry.id = self.next_id;
        self.next_id += 1;
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    /// The probe numbered `id`, while it is kept.
    #[must_use]
    pub fn get(&self, id: u64) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}\
.ok{color:#060}.warning{color:#960}.critical{color:#b00}.unknown{color:#609}\
pre{background:#f6f6f6;padding:1em;white-space:pre-wrap}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{STYLE}</style></head>\n<body>\n{body}</body></html>\n",
        escape(title)
    )
}

/// The status word and its CSS class ("CRITICAL", "critical").
fn status(exit_code: i32) -> (&'static str, String) {
    let word = status_word(exit_code);
    (word, word.to_ascii_lowercase())
}

/// The status page.
#[must_use]
pub fn index(recent: &Recent, modules: &[&str]) -> String {
    let mut b = String::new();
    b.push_str("<h1>mailcheck exporter</h1>\n");
    b.push_str(
        "<p>Probe a target: <code>/probe?target=alice@example.com&amp;module=NAME</code> · \
         <a href=\"/metrics\">exporter metrics</a></p>\n",
    );
    let names: Vec<String> = modules.iter().map(|m| escape(m)).collect();
    let _ = writeln!(b, "<p>Modules: {}</p>", names.join(", "));
    b.push_str("<h2>Recent probes</h2>\n");
    if recent.entries.is_empty() {
        b.push_str("<p>No probe yet.</p>\n");
        return page("mailcheck exporter", &b);
    }
    b.push_str(
        "<table>\n<tr><th>Time</th><th>Module</th><th>Target</th><th>Result</th>\
         <th>Duration</th><th>Report</th></tr>\n",
    );
    for e in recent.entries.iter().rev() {
        let (word, class) = status(e.exit_code);
        let _ = writeln!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{word}</td>\
             <td>{:.3}s</td><td><a href=\"/report?id={}\">report</a></td></tr>",
            escape(&e.at),
            escape(&e.module),
            escape(&e.target),
            e.duration_ms as f64 / 1000.0,
            e.id
        );
    }
    b.push_str("</table>\n");
    page("mailcheck exporter", &b)
}

/// One probe's human report.
#[must_use]
pub fn report(e: &Entry) -> String {
    let (word, class) = status(e.exit_code);
    let title = format!("{} ({})", e.target, e.module);
    let body = format!(
        "<p><a href=\"/\">back</a></p>\n<h1>{}</h1>\n<p>{} · module {} · \
         <span class=\"{class}\">{word}</span> · {:.3}s</p>\n<pre>{}</pre>\n",
        escape(&e.target),
        escape(&e.at),
        escape(&e.module),
        e.duration_ms as f64 / 1000.0,
        escape(&e.report)
    );
    page(&title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(target: &str) -> Entry {
        Entry {
            id: 0,
            at: "2026-01-01T00:00:00Z".into(),
            module: "default".into(),
            target: target.into(),
            exit_code: 2,
            duration_ms: 1234,
            report: "<script>alert(1)</script> & 'more'".into(),
        }
    }

    #[test]
    fn only_the_newest_are_kept() {
        let mut r = Recent::new(2);
        for t in ["a.example", "b.example", "c.example"] {
            r.push(entry(t));
        }
        assert!(r.get(1).is_none());
        assert_eq!(r.get(3).unwrap().target, "c.example");
        let html = index(&r, &["default"]);
        let (c, b) = (
            html.find("c.example").unwrap(),
            html.find("b.example").unwrap(),
        );
        assert!(c < b, "newest first");
        assert!(!html.contains("a.example"));
    }

    #[test]
    fn everything_is_escaped() {
        let mut r = Recent::new(5);
        r.push(entry("<b>x</b>"));
        let html = report(r.get(1).unwrap());
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &apos;more&apos;"));
        assert!(!html.contains("<script>"));
        assert!(index(&r, &["a<b"]).contains("a&lt;b"));
    }
}
