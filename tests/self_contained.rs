//! The code and the docs say what they depend on in their own words: no comment or page points at a document outside
//! the repository (the design notes and protocol studies the project was built from), which a reader of a clone
//! cannot open. Protocol facts the code relies on are written down in `docs/`.

use std::fs;
use std::path::{Path, PathBuf};

use regex::Regex;

fn files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs" || ext == "md") {
            found.push(path);
        }
    }
}

#[test]
fn nothing_points_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = vec![root.join("README.md")];
    for dir in ["src", "tests", "benches", "docs"] {
        files(&root.join(dir), &mut found);
    }
    assert!(found.len() > 50, "the check reads the sources and docs: {} files", found.len());
    // A section sign that is not a standard's (`RFC 4648 §4`), or a path into the notes the project was built from.
    let section = Regex::new(r"(?:^|[^C0-9] ?)§ ?\d").unwrap();
    let outside = Regex::new(r"\b(?:shared|reference)/[\w./-]*\.md|\.\./shared\b").unwrap();
    let this_file = Path::new(file!()).file_name().unwrap();
    let mut pointers = Vec::new();
    for file in found.iter().filter(|file| file.file_name() != Some(this_file)) {
        for (number, line) in fs::read_to_string(file).unwrap().lines().enumerate() {
            let standard = line.contains("RFC ");
            if (section.is_match(line) && !standard) || outside.is_match(line) {
                pointers.push(format!(
                    "{}:{}: {}",
                    file.strip_prefix(root).unwrap().display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(pointers.is_empty(), "pointers to documents outside the repository:\n{}", pointers.join("\n"));
}
