//! The database file's permissions: it holds the token-signing secret (unless
//! `ROSTER_TOKEN_SECRET` is set), password hashes and refresh-token hashes, so it is created
//! readable and writable by its owner only (0600).
//!
//! SQLite gives the `-wal` and `-shm` files it creates the main file's permission bits (it
//! even `fchmod`s them past the umask), so creating the main file 0600 before SQLite opens
//! it protects all three. An existing file is left as the operator made it, with a warning
//! naming the file and its mode when group or others may read or write it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use ports::RepoError;

/// Owner read and write, nothing for group and others.
#[cfg(unix)]
const OWNER_ONLY: u32 = 0o600;

/// The permission bits that let group or others read or write a file.
#[cfg(unix)]
const SHARED_BITS: u32 = 0o066;

/// Creates `path` empty and 0600 if it does not exist (an empty file is an empty SQLite
/// database), then warns about each of the database's files that group or others may
/// read or write.
///
/// # Errors
/// `Unavailable` when the file cannot be created (for example, a missing directory).
pub(crate) fn protect(path: &Path) -> Result<(), RepoError> {
    create_owner_only(path)?;
    for file in companions(path) {
        if let Some(mode) = shared_mode(&file) {
            tracing::warn!(
                file = %file.display(),
                mode = %format_args!("{mode:04o}"),
                "the database file is readable or writable by group or others; it holds \
                 password and token hashes and, unless ROSTER_TOKEN_SECRET is set, the \
                 token-signing secret: chmod 600 it"
            );
        }
    }
    Ok(())
}

/// The database file and the `-wal`/`-shm` files SQLite keeps beside it.
fn companions(path: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = OsString::from(path.as_os_str());
        name.push(suffix);
        PathBuf::from(name)
    };
    [path.to_path_buf(), with("-wal"), with("-shm")]
}

#[cfg(unix)]
fn create_owner_only(path: &Path) -> Result<(), RepoError> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(OWNER_ONLY)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(RepoError::unavailable(error)),
    }
}

/// Elsewhere the file is left to SQLite and the platform's defaults.
#[cfg(not(unix))]
fn create_owner_only(_path: &Path) -> Result<(), RepoError> {
    Ok(())
}

/// The file's permission bits when it exists and group or others may read or write it.
#[cfg(unix)]
fn shared_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & SHARED_BITS != 0).then_some(mode)
}

#[cfg(not(unix))]
fn shared_mode(_path: &Path) -> Option<u32> {
    None
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn companions_are_the_wal_and_shm_files() {
        let [main, wal, shm] = companions(Path::new("/data/roster.db"));
        assert_eq!(main, Path::new("/data/roster.db"));
        assert_eq!(wal, Path::new("/data/roster.db-wal"));
        assert_eq!(shm, Path::new("/data/roster.db-shm"));
    }
}
