//! Replays the inputs kept in `fuzz/regressions/<target>/` through a fuzz
//! target's checks. Included by the `fuzz_regressions` tests of the workspace,
//! so that `cargo test` runs every seed and every input the fuzzer broke.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Runs `check` on every file of `fuzz/regressions/<target>/` and fails
/// naming each input whose check panicked. `manifest_dir` is the calling
/// crate's `CARGO_MANIFEST_DIR`, two levels below the repository root.
pub(crate) fn replay(manifest_dir: &str, target: &str, check: fn(&[u8])) {
    let root = Path::new(manifest_dir).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let dir = root.join("fuzz/regressions").join(target);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} holds no inputs", dir.display());
    let failed: Vec<String> = inputs
        .iter()
        .filter(|input| {
            let data = std::fs::read(input).expect("a readable input");
            catch_unwind(AssertUnwindSafe(|| check(&data))).is_err()
        })
        .map(|input| input.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} inputs fail the `{target}` checks (each panic is printed above):\n{}",
        failed.len(),
        inputs.len(),
        failed.join("\n")
    );
}
