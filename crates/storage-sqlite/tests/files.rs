//! The database file and its `-wal`/`-shm` companions are readable by their owner only: the
//! file holds the token-signing secret and the password and refresh-token hashes.
#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed setup panics"
)]

mod support;

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ports::CustomerRepository as _;
use storage_contract::draft;
use storage_sqlite::SqliteStorage;
use storage_sqlite::testing::TempDatabase;
use support::Org;

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// A new database, after a write has made SQLite create its WAL and shared-memory files:
/// all three are 0600, whatever the umask would have given.
#[tokio::test]
async fn a_new_database_and_its_wal_and_shm_are_owner_only() {
    let database = TempDatabase::new();
    let storage = SqliteStorage::connect(&database.url()).await.unwrap();
    let org = Org::create(&storage, "Private").await;
    storage
        .insert_customer(&org.customer("Acme"), &draft(org.id))
        .await
        .unwrap();
    for file in [
        database.path().to_path_buf(),
        with_suffix(database.path(), "-wal"),
        with_suffix(database.path(), "-shm"),
    ] {
        assert_eq!(mode(&file), 0o600, "{} is not 0600", file.display());
    }
}

/// Captured log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An existing file that others may read is opened as it is (the operator's choice), with
/// a warning naming the file and its mode; an owner-only one opens without a warning.
#[tokio::test]
async fn an_existing_world_readable_file_is_warned_about() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let private = TempDatabase::new();
    drop(SqliteStorage::connect(&private.url()).await.unwrap());
    let shared = TempDatabase::new();
    std::fs::write(shared.path(), b"").unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(SqliteStorage::connect(&shared.url()).await.unwrap());

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let warnings: Vec<&str> = log.lines().filter(|line| line.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(
        warnings[0].contains(&shared.path().display().to_string()) && warnings[0].contains("0644"),
        "{log}"
    );
    assert_eq!(
        mode(shared.path()),
        0o644,
        "the operator's mode is left alone"
    );
}
