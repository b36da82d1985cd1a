//! Where system tests keep their files (SQLite databases, logs, mail): one directory per
//! test process under the system temp directory, so that runs do not leave their files
//! scattered there. A test's files are of no use once its process has ended, so the
//! directories of ended test processes are removed when the next test process makes its
//! own.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The prefix of each test process's directory, followed by its process id.
const PREFIX: &str = "roster-tests-";

/// A fresh SQLite file path (not created) in this process's directory, named
/// `<name>-<uuid>.db`.
pub(crate) fn sqlite_file(name: &str) -> PathBuf {
    fresh_path(name, ".db")
}

/// A fresh path (nothing made there) in this process's directory, named
/// `<name>-<uuid><suffix>`: for a database, a log file, a mail directory.
pub(crate) fn fresh_path(name: &str, suffix: &str) -> PathBuf {
    directory().join(format!("{name}-{}{suffix}", uuid::Uuid::new_v4().simple()))
}

/// This process's directory, made on first use, after the directories of ended test
/// processes are removed.
fn directory() -> &'static Path {
    static DIRECTORY: OnceLock<PathBuf> = OnceLock::new();
    DIRECTORY.get_or_init(|| {
        let temp = std::env::temp_dir();
        remove_ended(&temp);
        let directory = temp.join(format!("{PREFIX}{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("the test process's directory");
        directory
    })
}

/// Removes the directories of test processes that are no longer running. Only where
/// `/proc` tells which processes run; elsewhere nothing is removed.
fn remove_ended(temp: &Path) {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|name| name.strip_prefix(PREFIX))
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && !proc.join(pid.to_string()).exists()
        {
            // Best effort: another process may be removing it too.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
