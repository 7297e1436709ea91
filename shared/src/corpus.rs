//! Fuzz corpora as the regression tests read them: every file of some directories, sorted by
//! path, so a failure names the input that caused it. Used by each function's `fuzzing` tests.

use std::path::{Path, PathBuf};

/// Every file in `dirs` (missing directories count as empty): `(path, bytes)`, sorted.
pub fn files_in(dirs: &[PathBuf]) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = dirs
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .filter_map(|path| {
            let bytes = std::fs::read(&path).ok()?;
            Some((path.display().to_string(), bytes))
        })
        .collect();
    files.sort();
    files
}

/// The workspace root, from a member crate's manifest directory (`functions/<name>`).
pub fn workspace_root(manifest_dir: &str) -> PathBuf {
    Path::new(manifest_dir).join("../..")
}
