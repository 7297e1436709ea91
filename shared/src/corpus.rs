//! What every function's fuzz properties share: the broken promise a property reports, and the
//! corpora as the regression tests read them (every file of some directories, sorted by path,
//! so a failure names the input that caused it).

use std::fmt;
use std::path::{Path, PathBuf};

/// A broken promise, described for the fuzzer's crash report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `Err` of a violation, for `return violation("…")` in a property.
pub fn violation(what: impl Into<String>) -> Result<(), Violation> {
    Err(Violation(what.into()))
}

/// Runs `check` on every file; the files it fails, each with its violation.
pub fn broken(
    files: &[(String, Vec<u8>)],
    check: impl Fn(&[u8]) -> Result<(), Violation>,
) -> Vec<String> {
    files
        .iter()
        .filter_map(|(name, data)| check(data).err().map(|v| format!("{name}: {v}")))
        .collect()
}

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
