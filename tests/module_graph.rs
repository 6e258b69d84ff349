//! The modules of `src/` import each other without cycles: a newcomer can read them bottom-up, and a shared
//! helper lives in a room of its own instead of inside one of its users.
//!
//! The check reads the sources: every `crate::a::b` path (in `use` lines and inline) and every `super::x` path is an
//! edge from the module that writes it to the module it names. Two levels are checked: the top-level modules
//! (`crate::db` → `crate::trials`), and the child modules of each module among themselves (`misarch::goals` →
//! `misarch::gatling`). A child using its own parent (`super::Item` in `webhooks::delivery`) is not a cycle: the
//! parent declares the child. Unit tests (`#[cfg(test)] mod tests` at the end of a file) are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use regex::Regex;

/// A module's path below the crate root, e.g. `["misarch", "goals"]`.
type ModulePath = Vec<String>;

struct Source {
    module: ModulePath,
    code: String,
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// The code of a file without comments and without its unit tests.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    let text = text.split("#[cfg(test)]\npub(crate) mod tests").next().unwrap_or_default();
    text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    files
        .into_iter()
        .filter_map(|file| {
            let relative = file.strip_prefix(&root).unwrap().with_extension("");
            let mut module: ModulePath = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
            if module.last().is_some_and(|last| last == "mod") {
                module.pop();
            }
            // lib.rs and main.rs are the roots, which every module may be reached from.
            if module == ["lib"] || module == ["main"] {
                return None;
            }
            Some(Source { module, code: code_of(&fs::read_to_string(&file).unwrap()) })
        })
        .collect()
}

/// The modules each module names, as full paths (`crate::a::b::Item` and `super::b::Item`, resolved against the
/// writer's module). `use crate::{a, b::c}` groups are expanded one level.
fn references(source: &Source) -> BTreeSet<ModulePath> {
    let path = Regex::new(r"\b(crate|super)((?:::\w+)+)").unwrap();
    let group = Regex::new(r"\bcrate::\{([^;]*?)\}").unwrap();
    let mut found = BTreeSet::new();
    let resolve = |anchor: &str, rest: &str| -> ModulePath {
        let mut base: ModulePath = match anchor {
            "crate" => Vec::new(),
            _ => source.module[..source.module.len().saturating_sub(1)].to_vec(),
        };
        base.extend(rest.split("::").filter(|segment| !segment.is_empty()).map(str::to_owned));
        base
    };
    for capture in path.captures_iter(&source.code) {
        found.insert(resolve(&capture[1], &capture[2]));
    }
    for capture in group.captures_iter(&source.code) {
        for item in capture[1].split(',') {
            let item = item.trim().trim_start_matches('{');
            if item.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                found.insert(resolve("crate", item.split(['{', ' ']).next().unwrap_or_default()));
            }
        }
    }
    found
}

/// The cycles (strongly connected components of more than one node) of a directed graph.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Kosaraju: finish order on the graph, then components on the reversed graph.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        if !seen.insert(node.to_owned()) {
            return;
        }
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, seen, out);
        }
        out.push(node.to_owned());
    }
    let nodes: BTreeSet<String> = graph.keys().chain(graph.values().flatten()).cloned().collect();
    let (mut seen, mut order) = (BTreeSet::new(), Vec::new());
    for node in &nodes {
        visit(node, graph, &mut seen, &mut order);
    }
    let mut reversed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, targets) in graph {
        for to in targets {
            reversed.entry(to.clone()).or_default().insert(from.clone());
        }
    }
    let mut assigned = BTreeSet::new();
    let mut found = Vec::new();
    for node in order.iter().rev() {
        let mut component = Vec::new();
        visit(node, &reversed, &mut assigned, &mut component);
        if component.len() > 1 {
            component.sort();
            found.push(component);
        }
    }
    found
}

/// The graph among the children of `parent` (the top-level modules for an empty parent).
fn graph_below(
    parent: &[String],
    sources: &[Source],
    modules: &BTreeSet<ModulePath>,
) -> BTreeMap<String, BTreeSet<String>> {
    let depth = parent.len();
    let child_of = |path: &[String]| -> Option<String> {
        (path.len() > depth && path[..depth] == *parent && modules.contains(&path[..=depth].to_vec()))
            .then(|| path[depth].clone())
    };
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in sources {
        let Some(from) = child_of(&source.module) else { continue };
        for target in references(source) {
            if let Some(to) = child_of(&target)
                && to != from
            {
                graph.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    graph
}

#[test]
fn modules_import_each_other_without_cycles() {
    let sources = sources();
    let modules: BTreeSet<ModulePath> = sources.iter().map(|source| source.module.clone()).collect();
    assert!(modules.len() > 30, "the check reads the sources: found only {} modules", modules.len());

    let top = graph_below(&[], &sources, &modules);
    // The check sees real edges: the API uses the database, the worker the executor.
    assert!(top["api"].contains("db") && top["worker"].contains("executor"), "edges not found: {top:?}");

    let mut found = Vec::new();
    let parents: BTreeSet<ModulePath> = std::iter::once(Vec::new()).chain(modules.iter().cloned()).collect();
    for parent in parents {
        for cycle in cycles(&graph_below(&parent, &sources, &modules)) {
            let prefix = if parent.is_empty() { String::new() } else { format!("{}::", parent.join("::")) };
            found.push(cycle.iter().map(|module| format!("{prefix}{module}")).collect::<Vec<_>>().join(" ↔ "));
        }
    }
    assert!(found.is_empty(), "import cycles between modules:\n{}", found.join("\n"));
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a", "d"]), ("d", vec![])]
            .into_iter()
            .map(|(from, to)| (from.to_owned(), to.into_iter().map(str::to_owned).collect()))
            .collect();
    assert_eq!(cycles(&graph), vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]);
}

/// Every top-level module is on the map a newcomer reads: a line of its own in the table of `src/lib.rs` and in the
/// README's "Where things are".
#[test]
fn every_module_is_on_the_map() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = fs::read_to_string(root.join("src/lib.rs")).unwrap();
    let readme = fs::read_to_string(root.join("README.md")).unwrap();
    let declared = Regex::new(r"(?m)^(?:pub )?mod (\w+);").unwrap();
    let modules: Vec<&str> = declared.captures_iter(&lib).map(|c| c.get(1).unwrap().as_str()).collect();
    assert!(modules.len() > 20, "modules of src/lib.rs: {modules:?}");
    for module in modules {
        let on_lib_map = lib.contains(&format!("//! | [`{module}`] |")) || lib.contains(&format!("//! | `{module}` |"));
        assert!(on_lib_map, "src/lib.rs's map has no line for the module {module}");
        let file =
            if root.join("src").join(module).is_dir() { format!("src/{module}/") } else { format!("src/{module}.rs") };
        assert!(readme.contains(&format!("| `{file}` |")), "README.md's map has no line for {file}");
    }
}
