//! Replays every input kept in `fuzz/corpus/<target>/` through its fuzz
//! target's body (`fuzz/targets.rs`): the interesting inputs a fuzzing run
//! found (and the seeds) stay regression tests without a fuzzer.

#[path = "../../fuzz/targets.rs"]
mod targets;

use std::path::PathBuf;

#[test]
fn every_corpus_input_passes_its_target() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut replayed = 0;
    for (name, target) in targets::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} has no inputs", dir.display());
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: {} fails its target", file.display());
            replayed += 1;
        }
    }
    assert!(replayed >= targets::TARGETS.len());
}
