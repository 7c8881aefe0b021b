//! The layers of the crate (ARCHITECTURE.md, "Rules"): a top-level module imports only modules
//! in lower layers, and the files of one module never import each other in a circle.
//!
//! Every `src/**/*.rs` file is read with `syn`, and every reference to a module of the crate
//! counts: `use` trees (nested groups too), `crate::…`, `super::…` and `self::…` paths in
//! expressions and types, a child module named from its parent, and `crate::…` inside macro
//! calls. Each is resolved to the module it names, following the `use` items (re-exports) of
//! the modules on the way, so `super::Engine` in `template/approval.rs` is an import of
//! `template::engine`. Run it alone with `cargo test --test integration layers`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

use syn::visit::Visit;

/// The top-level modules, bottom up. A module may import only modules in strictly lower
/// layers: never one in its own layer, never a higher one. `main` is the binary (`src/main.rs`).
/// Each module sits one layer above the highest module it imports, except where we placed it
/// on purpose (noted). The same table is in ARCHITECTURE.md ("Rules"); a test keeps them equal.
const LAYERS: &[&[&str]] = &[
    &["diag", "digest", "network", "time"],
    &["secret", "toml_file"],
    &["config"],
    &["template"],
    &["audience"],
    &["channels"],
    // `store` imports only `template`; it sits above `channels` as agreed (issue 13), so
    // `channels` never reaches into the store.
    &["project", "store"],
    &["lifecycle", "script"],
    &["check", "preview", "report"],
    &["cli", "delivery"],
    &["nudge"],
    // Due work (the engine of `crier worker`): above what it uses, below `server`.
    &["schedule"],
    &["server"],
    &["cmd"],
    &["main"],
];

/// Imports that break the rules while a change moves them, as (the importing file, the module
/// it imports): empty since issue 13 moved the last. The test fails for any other break, and
/// for an entry here that no longer breaks a rule (remove it then).
const PENDING: &[(&str, &str)] = &[];

#[test]
fn a_module_imports_only_lower_layers_and_files_never_import_each_other_in_a_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = Vec::new();
    for path in crate::support::files(&root.join("src")) {
        if path.extension().is_some_and(|extension| extension == "rs") {
            let file = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            sources.push((file, std::fs::read_to_string(&path).unwrap()));
        }
    }
    sources.sort();
    let graph = Graph::read(&sources);
    assert!(
        graph
            .edges
            .iter()
            .any(|edge| edge.from == "src/main.rs" && edge.to == ["cmd"]),
        "the test found no import of `cmd` in src/main.rs: it no longer reads imports"
    );
    let problems = graph.problems(LAYERS, PENDING);
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n\n"));
}

#[test]
fn architecture_md_shows_the_same_layers() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md"))
            .unwrap();
    let rules = &text[text
        .find("## Rules")
        .expect("ARCHITECTURE.md has a Rules section")..];
    let rules = &rules[..rules[1..].find("\n## ").map_or(rules.len(), |end| end + 1)];
    let mut shown: Vec<(usize, Vec<String>)> = Vec::new();
    for line in rules.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if let [_, number, modules, ..] = cells[..]
            && let Ok(number) = number.parse::<usize>()
        {
            let names = modules
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect();
            shown.push((number, names));
        }
    }
    let expected: Vec<(usize, Vec<String>)> = LAYERS
        .iter()
        .enumerate()
        .map(|(index, names)| {
            (
                index + 1,
                names.iter().map(|name| name.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        shown, expected,
        "the layer table in ARCHITECTURE.md (Rules) differs from LAYERS in tests/integration/layers.rs"
    );
}

#[test]
fn every_kind_of_import_is_seen_and_resolved_to_its_module() {
    let files = [
        ("src/a/mod.rs", "pub mod x; pub mod y; pub use x::Thing;"),
        ("src/a/x.rs", "pub struct Thing; fn f() { super::y::g(); }"),
        ("src/a/y.rs", "use super::Thing; pub fn g() {}"),
        (
            "src/b.rs",
            "use crate::{a::x, c::{d, e}};\n\
             fn f() -> crate::g::Type { assert!(crate::h::ok()); self::inner::z() }\n\
             mod inner { pub fn z() { super::super::f::call() } }",
        ),
        ("src/c/mod.rs", "pub mod d; pub mod e;"),
        ("src/c/d.rs", ""),
        ("src/c/e.rs", ""),
        ("src/f.rs", "pub fn call() {}"),
        ("src/g.rs", "pub struct Type;"),
        ("src/h.rs", "pub fn ok() -> bool { true }"),
        ("src/main.rs", "fn main() { crier::b::run() }"),
    ];
    let sources: Vec<(String, String)> = files
        .iter()
        .map(|(file, text)| (file.to_string(), text.to_string()))
        .collect();
    let graph = Graph::read(&sources);
    let of = |from: &str| -> BTreeSet<String> {
        graph
            .edges
            .iter()
            .filter(|edge| edge.from == from)
            .map(|edge| edge.to.join("::"))
            .collect()
    };
    let set = |names: &[&str]| names.iter().map(|name| name.to_string()).collect();
    assert_eq!(
        of("src/b.rs"),
        set(&["a::x", "c::d", "c::e", "f", "g", "h"])
    );
    assert_eq!(of("src/a/x.rs"), set(&["a::y"]));
    // `super::Thing` is `a::x`'s, through the re-export in a/mod.rs.
    assert_eq!(of("src/a/y.rs"), set(&["a::x"]));
    assert_eq!(of("src/main.rs"), set(&["b"]));

    let layers: &[&[&str]] = &[&["f", "g", "h"], &["a", "c"], &["b"], &["main"]];
    let problems = graph.problems(layers, &[]);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].starts_with("src/a/x.rs → src/a/y.rs → src/a/x.rs:"),
        "{}",
        problems[0]
    );
    // `b` below `h`, which it imports; the circle in `a` is pending.
    let layers: &[&[&str]] = &[&["a", "c", "f", "g"], &["b"], &["h"], &["main"]];
    let problems = graph.problems(layers, &[("src/a/x.rs", "a::y")]);
    assert_eq!(
        problems,
        [
            "src/b.rs imports crate::h (as `crate::h::ok`), but b (layer 2) may only import \
             lower layers: 1 a, c, f, g; move the item down or the import up"
                .to_string()
        ]
    );
    // A pending entry that breaks no rule is reported, so the list only shrinks.
    let problems = graph.problems(layers, &[("src/a/x.rs", "a::y"), ("src/b.rs", "f")]);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].starts_with("PENDING lists src/b.rs → f, but"),
        "{}",
        problems[0]
    );
}

/// One file's reference to another file's module.
struct Edge {
    /// The importing file, as `src/channels/chat.rs`.
    from: String,
    /// The module it names, as `["delivery", "transport"]` (an inline module counts as its
    /// file's).
    to: Vec<String>,
    /// The path as written, for the message.
    written: String,
}

/// Every file's module and every reference between modules.
struct Graph {
    /// The file of each file module (`["channels", "chat"]` → `src/channels/chat.rs`).
    files: BTreeMap<Vec<String>, String>,
    /// The module of each file, the other way round.
    modules: BTreeMap<String, Vec<String>>,
    edges: Vec<Edge>,
}

impl Graph {
    /// Reads `(file, text)` pairs, the files relative to the crate's folder (`src/…`).
    fn read(sources: &[(String, String)]) -> Graph {
        let mut parsed = Vec::new();
        let mut modules = BTreeSet::from([Vec::new()]);
        let mut files = BTreeMap::new();
        for (file, text) in sources {
            let Some(module) = module_of(file) else {
                continue;
            };
            let ast = syn::parse_file(text).unwrap_or_else(|error| panic!("{file}: {error}"));
            let mut inline = InlineModules {
                path: module.clone(),
                found: Vec::new(),
            };
            inline.visit_file(&ast);
            modules.extend(inline.found);
            modules.insert(module.clone());
            files.insert(module.clone(), file.clone());
            parsed.push((file.clone(), module, ast));
        }
        let mut raw = Vec::new();
        let mut bindings = BTreeMap::new();
        for (file, module, ast) in &parsed {
            let mut collector = Collector {
                modules: &modules,
                binary: module == &["main"],
                module: module.clone(),
                references: Vec::new(),
                bindings: &mut bindings,
            };
            collector.visit_file(ast);
            raw.extend(
                collector
                    .references
                    .into_iter()
                    .map(|(path, written)| (file, path, written)),
            );
        }
        let resolver = Resolver {
            modules: &modules,
            bindings: &bindings,
        };
        let mut edges = Vec::new();
        for (file, path, written) in raw {
            let module = resolver.module(&path);
            // The file that holds it: an inline module (`mod tests { … }`) is part of its file.
            let to = (0..=module.len())
                .rev()
                .map(|length| module[..length].to_vec())
                .find(|prefix| files.contains_key(prefix))
                .unwrap_or_default();
            if !to.is_empty() && files[&to] != *file {
                edges.push(Edge {
                    from: file.clone(),
                    to,
                    written,
                });
            }
        }
        let modules = files
            .iter()
            .map(|(module, file)| (file.clone(), module.clone()))
            .collect();
        Graph {
            files,
            modules,
            edges,
        }
    }

    /// Every broken rule, as sentences a developer can act on.
    fn problems(&self, layers: &[&[&str]], pending: &[(&str, &str)]) -> Vec<String> {
        let layer_of = |name: &str| layers.iter().position(|names| names.contains(&name));
        let mut problems = Vec::new();
        let mut unlisted = BTreeSet::new();
        for (module, file) in &self.files {
            if layer_of(&module[0]).is_none() && unlisted.insert(&module[0]) {
                problems.push(format!(
                    "{file} is in the module {}, which is in no layer: add it to LAYERS in \
                     tests/integration/layers.rs and to the table in ARCHITECTURE.md",
                    module[0]
                ));
            }
        }
        // Imports that go up or sideways between top-level modules, and imports between two
        // files of one module (neither the other's parent).
        let mut upward: Vec<(&Edge, usize)> = Vec::new();
        let mut sibling: Vec<(&Edge, &str)> = Vec::new();
        for edge in &self.edges {
            let from = &self.modules[&edge.from];
            let to = &edge.to;
            if from[0] != to[0] {
                if let (Some(own), Some(other)) = (layer_of(&from[0]), layer_of(&to[0]))
                    && other >= own
                {
                    upward.push((edge, own));
                }
            } else if !to.starts_with(from) && !from.starts_with(to) {
                sibling.push((edge, &self.files[to]));
            }
        }
        let on_circle = |edge: &Edge, to: &str| reaches(&sibling, to, &edge.from);
        let is_pending = |edge: &Edge| pending.iter().any(|entry| matches(edge, entry));
        for entry in pending {
            let breaks = upward.iter().any(|(edge, _)| matches(edge, entry))
                || sibling
                    .iter()
                    .any(|(edge, to)| matches(edge, entry) && on_circle(edge, to));
            if !breaks {
                problems.push(format!(
                    "PENDING lists {} → {}, but that import no longer breaks a rule: remove the \
                     entry from PENDING in tests/integration/layers.rs",
                    entry.0, entry.1
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for (edge, own) in upward {
            if is_pending(edge) || !seen.insert((&edge.from, &edge.to)) {
                continue;
            }
            let lower: Vec<String> = layers[..own]
                .iter()
                .enumerate()
                .map(|(index, names)| format!("{} {}", index + 1, names.join(", ")))
                .collect();
            let may = if lower.is_empty() {
                "is the bottom layer and may import no other module".to_owned()
            } else {
                format!("may only import lower layers: {}", lower.join("; "))
            };
            problems.push(format!(
                "{} imports crate::{} (as `{}`), but {} (layer {}) {may}; move the item down \
                 or the import up",
                edge.from,
                edge.to.join("::"),
                edge.written,
                self.modules[&edge.from][0],
                own + 1,
            ));
        }
        sibling.retain(|(edge, _)| !is_pending(edge));
        problems.extend(circles(&sibling));
        problems
    }
}

/// Whether a `PENDING` entry (a file, and the module it imports) is this import.
fn matches(edge: &Edge, (from, to): &(&str, &str)) -> bool {
    edge.from == *from && edge.to.join("::") == *to
}

/// Whether the file `from` reaches the file `to` through imports between sibling files.
fn reaches(sibling: &[(&Edge, &str)], from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::from([from]);
    let mut queue = VecDeque::from([from]);
    while let Some(file) = queue.pop_front() {
        if file == to {
            return true;
        }
        for (edge, target) in sibling {
            if edge.from == file && seen.insert(target) {
                queue.push_back(target);
            }
        }
    }
    false
}

/// One circle through each group of files that import each other, the shortest through its
/// first file.
fn circles(sibling: &[(&Edge, &str)]) -> Vec<String> {
    let starts: BTreeSet<&str> = sibling.iter().map(|(edge, _)| edge.from.as_str()).collect();
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    let mut problems = Vec::new();
    for start in starts {
        if reported.contains(start) {
            continue;
        }
        // Breadth first from `start`: each file with the import that reached it first.
        let mut reached_by: BTreeMap<&str, &Edge> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        'search: while let Some(file) = queue.pop_front() {
            for (edge, target) in sibling.iter().filter(|(edge, _)| edge.from == file) {
                if !reached_by.contains_key(target) {
                    reached_by.insert(target, edge);
                    if *target == start {
                        break 'search;
                    }
                    queue.push_back(target);
                }
            }
        }
        let Some(mut edge) = reached_by.get(start).copied() else {
            continue;
        };
        let mut circle = vec![start];
        let mut how = vec![edge];
        while edge.from != start {
            circle.push(edge.from.as_str());
            edge = reached_by[edge.from.as_str()];
            how.push(edge);
        }
        circle.push(start);
        circle.reverse();
        how.reverse();
        reported.extend(circle.iter().copied());
        let how: Vec<String> = how
            .iter()
            .map(|edge| format!("{} imports `{}`", edge.from, edge.written))
            .collect();
        problems.push(format!(
            "{}: these files import each other in a circle ({}); move what they share into a \
             file below them, or pass it in, so the imports run one way",
            circle.join(" → "),
            how.join(", "),
        ));
    }
    problems
}

/// The module a file holds: `src/channels/chat.rs` → `channels::chat`, `src/store/mod.rs` →
/// `store`, `src/main.rs` → `main` (the binary, the top layer); `src/lib.rs` (the crate root,
/// which only declares the modules) → none.
fn module_of(file: &str) -> Option<Vec<String>> {
    let inner = file.strip_prefix("src/")?.strip_suffix(".rs")?;
    let mut module: Vec<String> = inner.split('/').map(str::to_owned).collect();
    if module == ["lib"] {
        return None;
    }
    if module.last().is_some_and(|last| last == "mod") {
        module.pop();
    }
    Some(module)
}

/// Finds the modules written inline (`mod tests { … }`) under a file's module.
struct InlineModules {
    path: Vec<String>,
    found: Vec<Vec<String>>,
}

impl<'ast> Visit<'ast> for InlineModules {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if item.content.is_some() {
            self.path.push(item.ident.to_string());
            self.found.push(self.path.clone());
            syn::visit::visit_item_mod(self, item);
            self.path.pop();
        }
    }
}

/// Collects one file's references to the crate's modules, as paths from the crate root, and
/// the names its `use` items bind in each of its modules.
struct Collector<'a> {
    modules: &'a BTreeSet<Vec<String>>,
    /// `src/main.rs`, which names the library `crier::`.
    binary: bool,
    /// The module being read (the file's, or an inline module in it).
    module: Vec<String>,
    references: Vec<(Vec<String>, String)>,
    bindings: &'a mut BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
}

impl Collector<'_> {
    /// The path from the crate root that `segments`, written in the current module, names; none
    /// for a path outside the crate (`std::…`, `serde::…`) or to an item of this module.
    fn absolute(&self, segments: &[String]) -> Option<Vec<String>> {
        let first = segments.first()?;
        let (base, rest) = if first == "crate" || (self.binary && first == "crier") {
            (Vec::new(), &segments[1..])
        } else if first == "super" {
            let ups = segments
                .iter()
                .take_while(|segment| *segment == "super")
                .count();
            let keep = self.module.len().checked_sub(ups)?;
            (self.module[..keep].to_vec(), &segments[ups..])
        } else if first == "self" {
            (self.module.clone(), &segments[1..])
        } else {
            let mut child = self.module.clone();
            child.push(first.clone());
            if !self.binary && self.modules.contains(&child) {
                (self.module.clone(), segments)
            } else {
                return None;
            }
        };
        Some(base.into_iter().chain(rest.iter().cloned()).collect())
    }

    /// Records `segments` (as written) if they name something in the crate; the path from the
    /// crate root.
    fn reference(&mut self, segments: &[String]) -> Option<Vec<String>> {
        let path = self.absolute(segments)?;
        self.references.push((path.clone(), segments.join("::")));
        Some(path)
    }

    /// Every leaf of a `use` tree, with the segments before it.
    fn use_tree(&mut self, tree: &syn::UseTree, prefix: &mut Vec<String>) {
        let bind = |collector: &mut Self, segments: &[String], name: String| {
            if let Some(path) = collector.reference(segments) {
                collector
                    .bindings
                    .entry(collector.module.clone())
                    .or_default()
                    .insert(name, path);
            }
        };
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(&path.tree, prefix);
                prefix.pop();
            }
            syn::UseTree::Name(name) if name.ident == "self" => {
                let last = prefix.last().cloned().unwrap_or_default();
                bind(self, &prefix.clone(), last);
            }
            syn::UseTree::Name(name) => {
                let segments: Vec<String> = prefix
                    .iter()
                    .cloned()
                    .chain([name.ident.to_string()])
                    .collect();
                bind(self, &segments, name.ident.to_string());
            }
            syn::UseTree::Rename(rename) => {
                let mut segments = prefix.clone();
                if rename.ident != "self" {
                    segments.push(rename.ident.to_string());
                }
                bind(self, &segments, rename.rename.to_string());
            }
            syn::UseTree::Glob(_) => {
                self.reference(&prefix.clone());
            }
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    self.use_tree(tree, prefix);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        if item.content.is_some() {
            self.module.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.module.pop();
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        if item.leading_colon.is_none() {
            self.use_tree(&item.tree, &mut Vec::new());
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() && path.segments.len() > 1 {
            let segments: Vec<String> = path
                .segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect();
            self.reference(&segments);
        }
        syn::visit::visit_path(self, path);
    }

    /// `pub(in crate::x)` names where an item is visible, not something it uses.
    fn visit_vis_restricted(&mut self, _: &'ast syn::VisRestricted) {}

    /// A macro's arguments are tokens, not syntax: `crate::…` (and `super::…`) paths in them are
    /// found in the text.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        syn::visit::visit_macro(self, mac);
        let text = mac.tokens.to_string();
        let words: Vec<&str> = text.split_whitespace().collect();
        for (index, word) in words.iter().enumerate() {
            let starts = *word == "crate" || *word == "super" || (self.binary && *word == "crier");
            if !starts
                || words.get(index + 1) != Some(&"::")
                || (index > 0 && words[index - 1] == "::")
            {
                continue;
            }
            let mut segments = vec![word.to_string()];
            let mut at = index + 1;
            while words.get(at) == Some(&"::")
                && let Some(next) = words.get(at + 1)
                && next.chars().all(|c| c.is_alphanumeric() || c == '_')
            {
                segments.push(next.to_string());
                at += 2;
            }
            self.reference(&segments);
        }
    }
}

/// Turns a path from the crate root into the module it names: the longest known module at its
/// start, following the names that module's `use` items bind (`crate::template::Engine` is
/// `template::engine`'s).
struct Resolver<'a> {
    modules: &'a BTreeSet<Vec<String>>,
    bindings: &'a BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>,
}

impl Resolver<'_> {
    fn module(&self, path: &[String]) -> Vec<String> {
        let mut path = path.to_vec();
        // Re-exports of re-exports, but never round and round.
        for _ in 0..16 {
            let known = self.known(&path);
            let target = path
                .get(known)
                .and_then(|name| self.bindings.get(&path[..known])?.get(name));
            match target {
                Some(target) if target[..] != path[..=known] => {
                    path = target.iter().chain(&path[known + 1..]).cloned().collect();
                }
                _ => break,
            }
        }
        path[..self.known(&path)].to_vec()
    }

    /// How many of `path`'s first segments name a module (the crate root is one).
    fn known(&self, path: &[String]) -> usize {
        (0..=path.len())
            .rev()
            .find(|&length| self.modules.contains(&path[..length]))
            .unwrap_or(0)
    }
}
