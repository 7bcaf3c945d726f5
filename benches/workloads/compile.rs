//! W10: compile time of a 50-event domain with the derives against the same domain written by
//! hand (the impls the derives generate, minus the registry and the compile-time checks, which
//! a hand-written domain would not have). Both crates are generated under `target/`, built
//! once, then rebuilt incrementally after an edit, alternating, as a developer's edit-compile
//! loop does.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::measure::{row, stats, time};

const EVENTS: usize = 50;

/// The events, each with the six derives (or five, by hand) and two fields.
fn events(derived: bool) -> String {
    let mut s = String::new();
    for i in 0..EVENTS {
        let event = if derived { "Event, " } else { "" };
        let _ = writeln!(
            s,
            "#[derive({event}Serialize, Deserialize, Debug, Clone, PartialEq)]\n\
             pub struct E{i} {{ pub amount: u64, pub note: String }}"
        );
        let _ = writeln!(s, "impl Apply<E{i}> for Ledger {{ fn apply(&mut self, e: &E{i}) {{ self.total += e.amount + {i}; }} }}");
    }
    s
}

fn derived_domain() -> String {
    let list: Vec<String> = (0..EVENTS).map(|i| format!("E{i}")).collect();
    format!(
        "use es_core::{{Aggregate, Apply, Event}};\nuse serde::{{Deserialize, Serialize}};\n\
         #[derive(Aggregate, Default)]\n#[aggregate(events({}), error = std::convert::Infallible)]\n\
         pub struct Ledger {{ pub total: u64 }}\n{}",
        list.join(", "),
        events(true)
    )
}

fn hand_domain() -> String {
    let mut s = String::from(
        "use es_core::{Apply, Event};\nuse es_core::{DecodeFailure, EncodeError, EncodedEvent};\n\
         use serde::{Deserialize, Serialize};\n#[derive(Default)]\npub struct Ledger { pub total: u64 }\n",
    );
    s += &events(false);
    for i in 0..EVENTS {
        let _ = writeln!(
            s,
            "impl Event for E{i} {{ const NAME: &'static str = \"E{i}\"; const VERSION: u32 = 1; }}"
        );
    }
    s += "#[derive(Debug, Clone, PartialEq)]\npub enum LedgerEvent {\n";
    for i in 0..EVENTS {
        let _ = writeln!(s, "    E{i}(E{i}),");
    }
    s += "}\n";
    for i in 0..EVENTS {
        let _ = writeln!(
            s,
            "impl From<E{i}> for LedgerEvent {{ fn from(e: E{i}) -> Self {{ LedgerEvent::E{i}(e) }} }}"
        );
    }
    s += "impl es_core::EventEnum for LedgerEvent {\n    fn encode(&self) -> Result<EncodedEvent, EncodeError> {\n        match self {\n";
    for i in 0..EVENTS {
        let _ = writeln!(s, "            LedgerEvent::E{i}(e) => es_core::codec::encode_event(e),");
    }
    s += "        }\n    }\n    fn decode(name: &str, version: u32, payload: &str) -> Result<Self, DecodeFailure> {\n";
    for i in 0..EVENTS {
        let _ = writeln!(
            s,
            "        if E{i}::is_named(name) {{ return E{i}::decode_version(version, payload).map(LedgerEvent::E{i}); }}"
        );
    }
    s += "        Err(DecodeFailure::UnknownEvent)\n    }\n}\n";
    s += "impl es_core::Aggregate for Ledger {\n    const NAME: &'static str = \"Ledger\";\n    type Event = LedgerEvent;\n    type Error = std::convert::Infallible;\n    fn apply(&mut self, e: &LedgerEvent) {\n        match e {\n";
    for i in 0..EVENTS {
        let _ = writeln!(s, "            LedgerEvent::E{i}(e) => <Self as Apply<E{i}>>::apply(self, e),");
    }
    s += "        }\n    }\n}\n";
    s
}

/// Writes a crate named `name` with `lib` as its source, depending on this workspace's es-core.
fn write_crate(root: &Path, name: &str, lib: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("src")).expect("create the crate");
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("es-core");
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
         [dependencies]\nes-core = {{ path = {core:?} }}\nserde = {{ version = \"1\", features = [\"derive\"] }}\n"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("write the manifest");
    std::fs::write(dir.join("src/lib.rs"), lib).expect("write the domain");
    dir
}

/// Builds the crate at `dir` (dev profile, incremental) in the shared target dir `target`.
fn build(dir: &Path, target: &Path) {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--offline", "--lib"])
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_INCREMENTAL", "1")
        .current_dir(dir)
        .status()
        .expect("run cargo");
    assert!(status.success(), "the generated crate at {} does not build", dir.display());
}

pub fn run(runs: usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/compile-bench");
    let target = root.join("target");
    let crates = [("derived", derived_domain()), ("by_hand", hand_domain())];
    std::fs::create_dir_all(&root).expect("create the bench dir");
    // A workspace of its own, so the generated crates do not join this one.
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"derived\", \"by_hand\"]\nresolver = \"2\"\n",
    )
    .expect("write the workspace");
    let dirs: Vec<(PathBuf, String)> =
        crates.iter().map(|(name, lib)| (write_crate(&root, name, lib), lib.clone())).collect();
    for (dir, _) in &dirs {
        build(dir, &target);
    }
    let (mut derived, mut by_hand) = (Vec::new(), Vec::new());
    for round in 0..runs.max(3) * 2 {
        for (k, (dir, lib)) in dirs.iter().enumerate() {
            // An edit that changes code, as a developer's would: the incremental rebuild redoes
            // the crate's expansion and type checking.
            let edited = format!("{lib}\npub fn edit() -> u64 {{ {round} }}\n");
            std::fs::write(dir.join("src/lib.rs"), edited).expect("edit the domain");
            let (elapsed, ()) = time(|| build(dir, &target));
            if k == 0 { &mut derived } else { &mut by_hand }.push(elapsed.as_secs_f64() * 1e3);
        }
    }
    row("W10 compile_50_events", "ms/build", stats(derived), Some(stats(by_hand)), false);
}
