//! The layout rules of `src/`, checked on the sources themselves (parsed with
//! syn, test code left out):
//!
//! - each top-level module imports only modules listed before it in `lib.rs`'s
//!   map (the layers);
//! - no import cycle between modules (files), apart from a module and its own
//!   submodules, which Rust treats as one unit;
//! - clap appears in `cli.rs` and `main.rs` only;
//! - no function over 60 lines, and no file over 600 lines, outside tests (pure
//!   protocol state machines excepted; a file marked `#![cfg(test)]` is a test).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::spanned::Spanned;
use syn::visit::Visit;

/// The layers, bottom first; a module may import only modules of a lower rank.
const LAYERS: &[&[&str]] = &[
    &["model"],
    &["report"],
    &["cert", "proto"],
    &["net"],
    &["discover"],
    &["oauth"],
    &["diagnose"],
    &["cli"],
    &["config"],
    &["engine"],
    &["output"],
    &["batch", "serve"],
];

/// Pure protocol state machines and data tables may be longer than 600 lines.
const LONG_FILES_ALLOWED: &[&str] = &["proto/sasl.rs"];

const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 60;

struct Source {
    /// `engine::probe`, or `lib` / `main`.
    module: Vec<String>,
    /// Relative to `src/`.
    path: String,
    file: syn::File,
    text: String,
}

/// The sources of `src/`, without the files of test-only modules (those a
/// parent declares with `#[cfg(test)] mod name;`).
fn sources() -> Vec<Source> {
    let all = all_sources();
    let test_only: BTreeSet<Vec<String>> = all
        .iter()
        .flat_map(|s| {
            s.file.items.iter().filter_map(|item| match item {
                syn::Item::Mod(m) if m.content.is_none() && is_test(&m.attrs) => {
                    let mut path = if s.path == "lib.rs" {
                        Vec::new()
                    } else {
                        s.module.clone()
                    };
                    path.push(m.ident.to_string());
                    Some(path)
                }
                _ => None,
            })
        })
        .collect();
    all.into_iter()
        .filter(|s| !test_only.iter().any(|t| s.module.starts_with(t)))
        .collect()
}

fn all_sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    collect(&root, &mut paths);
    paths
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap();
            let file = syn::parse_file(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
            Source {
                module: module_of(&rel),
                path: rel,
                file,
                text,
            }
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `engine/probe.rs` → `[engine, probe]`; `engine/mod.rs` → `[engine]`.
fn module_of(rel: &str) -> Vec<String> {
    let trimmed = rel.trim_end_matches(".rs");
    let mut parts: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

/// Every `crate::…` / `super::…` path a file uses outside test code, made absolute.
struct Uses<'a> {
    module: &'a [String],
    found: BTreeSet<Vec<String>>,
}

impl Uses<'_> {
    fn absolute(&self, segments: &[String]) -> Option<Vec<String>> {
        let first = segments.first()?;
        if first == "crate" {
            return Some(segments[1..].to_vec());
        }
        if first == "super" {
            let mut base = self.module.to_vec();
            let mut rest = segments;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            return Some(base);
        }
        None
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut full = prefix.clone();
                full.push(n.ident.to_string());
                self.record(&full);
            }
            syn::UseTree::Rename(r) => {
                let mut full = prefix.clone();
                full.push(r.ident.to_string());
                self.record(&full);
            }
            syn::UseTree::Glob(_) => self.record(prefix),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    fn record(&mut self, segments: &[String]) {
        if let Some(abs) = self.absolute(segments) {
            self.found.insert(abs);
        }
    }
}

impl<'ast> Visit<'ast> for Uses<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Impl(i) => &i.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !is_test(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segments);
        syn::visit::visit_path(self, path);
    }
}

/// The module (a file of `modules`) that `path` points into: its longest prefix
/// that is a module.
fn owner<'a>(path: &[String], modules: &'a BTreeSet<Vec<String>>) -> Option<&'a Vec<String>> {
    (1..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n].to_vec()))
}

/// Module → the modules it uses (outside tests and outside itself).
fn graph(sources: &[Source]) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules: BTreeSet<Vec<String>> = sources
        .iter()
        .filter(|s| s.path != "lib.rs" && s.path != "main.rs")
        .map(|s| s.module.clone())
        .collect();
    let mut edges = BTreeMap::new();
    for s in sources.iter().filter(|s| modules.contains(&s.module)) {
        let mut uses = Uses {
            module: &s.module,
            found: BTreeSet::new(),
        };
        uses.visit_file(&s.file);
        let targets: BTreeSet<Vec<String>> = uses
            .found
            .iter()
            .filter_map(|p| owner(p, &modules))
            .filter(|t| **t != s.module)
            .cloned()
            .collect();
        edges.insert(s.module.clone(), targets);
    }
    edges
}

fn rank(top: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&top))
        .unwrap_or_else(|| panic!("module {top} is not in the layer map of tests/layout.rs"))
}

#[test]
fn each_layer_imports_only_the_layers_below_it() {
    let edges = graph(&sources());
    let mut wrong = Vec::new();
    for (from, targets) in &edges {
        for to in targets {
            let (a, b) = (&from[0], &to[0]);
            if a != b && rank(b) >= rank(a) {
                wrong.push(format!("{} uses {}", from.join("::"), to.join("::")));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

/// Whether one module is the other's ancestor (Rust's unit of a module and its
/// submodules).
fn related(a: &[String], b: &[String]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

#[test]
fn no_import_cycles_between_modules() {
    let edges = graph(&sources());
    // A cycle is a path back to the start; look for one from every module,
    // ignoring edges between a module and its own submodules.
    let mut cycles = Vec::new();
    for start in edges.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, path)) = stack.pop() {
            for next in edges.get(&at).into_iter().flatten() {
                if related(&at, next) {
                    continue;
                }
                if next == start {
                    let names: Vec<String> = path.iter().map(|m| m.join("::")).collect();
                    cycles.push(format!("{} -> {}", names.join(" -> "), start.join("::")));
                } else if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

/// Whether the code (comments left out) mentions clap.
fn mentions_clap(text: &str) -> bool {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .any(|code| code.contains("clap"))
}

#[test]
fn clap_stops_at_the_command_line() {
    let leaks: Vec<String> = sources()
        .into_iter()
        .filter(|s| s.path != "cli.rs" && s.path != "main.rs" && mentions_clap(&s.text))
        .map(|s| s.path)
        .collect();
    assert!(
        leaks.is_empty(),
        "clap outside cli.rs and main.rs: {leaks:?}"
    );
}

/// Line count of a span.
fn lines(span: proc_macro2::Span) -> usize {
    span.end().line - span.start().line + 1
}

/// Functions and the end of non-test code, per file.
struct Sizes {
    long_fns: Vec<String>,
    code_end: usize,
}

impl<'ast> Visit<'ast> for Sizes {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            _ => &Vec::new(),
        };
        if is_test(attrs) {
            return;
        }
        self.code_end = self.code_end.max(item.span().end().line);
        syn::visit::visit_item(self, item);
    }

    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        if lines(f.span()) > MAX_FN_LINES {
            self.long_fns
                .push(format!("{} ({} lines)", f.sig.ident, lines(f.span())));
        }
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if !is_test(&f.attrs) && lines(f.span()) > MAX_FN_LINES {
            self.long_fns
                .push(format!("{} ({} lines)", f.sig.ident, lines(f.span())));
        }
        syn::visit::visit_impl_item_fn(self, f);
    }
}

#[test]
fn functions_and_files_stay_small() {
    let mut problems = Vec::new();
    for s in sources() {
        // A file that is a test module as a whole (`#![cfg(test)]`).
        if is_test(&s.file.attrs) {
            continue;
        }
        let mut sizes = Sizes {
            long_fns: Vec::new(),
            code_end: 0,
        };
        sizes.visit_file(&s.file);
        for f in sizes.long_fns {
            problems.push(format!("{}: fn {f}, over {MAX_FN_LINES}", s.path));
        }
        if sizes.code_end > MAX_FILE_LINES && !LONG_FILES_ALLOWED.contains(&s.path.as_str()) {
            problems.push(format!(
                "{}: {} lines of non-test code, over {MAX_FILE_LINES}",
                s.path, sizes.code_end
            ));
        }
    }
    assert!(problems.is_empty(), "too long:\n{}", problems.join("\n"));
}

/// The checks must see what they check: a known import, a known cycle-free
/// pair, and a function's length.
#[test]
fn the_checks_read_the_sources() {
    let edges = graph(&sources());
    let engine = edges
        .get(&vec!["engine".to_owned()])
        .expect("engine is a module");
    assert!(engine.contains(&vec!["diagnose".to_owned()]), "{engine:?}");
    let probe = edges
        .get(&vec!["engine".to_owned(), "probe".to_owned()])
        .expect("engine::probe is a module");
    assert!(
        probe.contains(&vec!["net".to_owned(), "driver".to_owned()]),
        "{probe:?}"
    );
    let file = syn::parse_file("fn f() {\n    let a = 1;\n    let b = 2;\n}\n").unwrap();
    let syn::Item::Fn(f) = &file.items[0] else {
        unreachable!()
    };
    assert_eq!(lines(f.span()), 4);
}
