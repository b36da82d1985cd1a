//! Throwaway SQLite databases for tests (feature `testing`).

use std::path::{Path, PathBuf};

/// A database file under the system temp directory with a unique name; the file and its
/// WAL companions are removed when this is dropped.
#[derive(Debug)]
pub struct TempDatabase {
    path: PathBuf,
}

impl TempDatabase {
    /// Names a fresh file (`roster-test-<uuid>.db`); connecting creates it.
    pub fn new() -> Self {
        let name = format!("roster-test-{}.db", uuid::Uuid::new_v4().simple());
        TempDatabase {
            path: std::env::temp_dir().join(name),
        }
    }

    /// The URL to connect to (`sqlite:///tmp/roster-test-<uuid>.db`).
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Default for TempDatabase {
    fn default() -> Self {
        TempDatabase::new()
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.path.clone().into_os_string();
            path.push(suffix);
            // Best effort: a file that is already gone is fine.
            let _ = std::fs::remove_file(path);
        }
    }
}
