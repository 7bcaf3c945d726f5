//! The layout the architecture promises, checked on every test run: es-core's wings import one
//! another in one direction only (`scripts/import-cycles`: no cycle, no path through a lib.rs
//! alias that would hide one), and no source file grows past 450 lines.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn es_core_wings_have_no_import_cycles() {
    let out = Command::new("python3")
        .arg(root().join("scripts/import-cycles"))
        .arg(root().join("es-core/src"))
        .output()
        .expect("python3 runs scripts/import-cycles (install python3 to run this test)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "es-core's wings import each other in a cycle:\n{text}");
    assert!(text.contains("0 cycles, 0 aliases"), "{text}");
}

/// Every `.rs` file below `dir`.
fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_source_file_passes_450_lines() {
    let mut files = Vec::new();
    for dir in [
        "es-core/src",
        "es-macros/src",
        "es-testing/src",
        "es-sqlite/src",
        "es-postgres/src",
        "es-nats/src",
        "es-cli/src",
    ] {
        sources(&root().join(dir), &mut files);
    }
    assert!(files.len() > 100, "found the sources ({} files)", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f).ok()?.lines().count();
            (lines > 450).then(|| format!("{} ({lines} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split these into modules: {long:?}");
}
