//! The code's shape, checked: the top-level modules of `src/` depend on each other without a
//! cycle (data flows one way, docs/design.md), and every module opens with a comment saying what
//! it owns.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each top-level module (`src/x.rs` or `src/x/`) and the top-level modules its non-test
/// code names as `crate::y`.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        let entry = deps.entry(top.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && name != top {
                entry.insert(name);
            }
        }
    }
    deps
}

#[test]
fn the_modules_depend_on_each_other_without_a_cycle() {
    let deps = dependencies();
    // Depth-first search for a path back to the start.
    for start in deps.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        while let Some((node, path)) = stack.pop() {
            for next in deps.get(&node).into_iter().flatten() {
                assert!(
                    next != start,
                    "import cycle: {}",
                    [path.clone(), vec![next.clone()]].concat().join(" → ")
                );
                if !path.contains(next) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
}

#[test]
fn every_module_says_what_it_owns() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            text.trim_start().starts_with("//!"),
            "{} does not open with a //! comment saying what it owns",
            file.display()
        );
    }
}

/// The repository stands alone: no tracked file points at documents outside it (the
/// development notes it was built from) or at a development machine's folders. The patterns
/// are assembled so that this file does not match itself.
#[test]
fn no_tracked_file_points_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let listed = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .expect("git lists the tracked files");
    assert!(listed.status.success(), "git ls-files failed");
    let outside = [
        ["DESIGN", ".md"].concat(),
        ["FACTS", ".md"].concat(),
        ["STYLE", ".md"].concat(),
        ["../", "shared"].concat(),
    ];
    let machine = ["/", "work", "/"].concat();
    let mut found = Vec::new();
    for file in listed.stdout.split(|b| *b == 0).filter(|f| !f.is_empty()) {
        let file = String::from_utf8_lossy(file).into_owned();
        let Ok(text) = std::fs::read_to_string(root.join(&file)) else {
            continue; // binary files
        };
        for (n, line) in text.lines().enumerate() {
            let mut hit = outside.iter().any(|p| line.contains(p.as_str()));
            // The machine's folder at the start of a path, not inside one (a GitHub runner's
            // home holds a folder of that name too, which the fixtures quote).
            for (i, _) in line.match_indices(&machine) {
                let before = line[..i].chars().next_back();
                if !before.is_some_and(|c| c.is_alphanumeric() || "_.-/~".contains(c)) {
                    hit = true;
                }
            }
            if hit {
                found.push(format!("{file}:{}: {line}", n + 1));
            }
        }
    }
    assert!(
        found.is_empty(),
        "files point outside the repository (move what they rely on into docs/):\n{}",
        found.join("\n")
    );
}
