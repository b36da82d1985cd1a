//! `cargo xtask scim-suite-env`: the Python environment the SCIM suite runs in
//! (`tests/scim-suite`, driven by `tests/e2e/scim_library.rs`): a venv at
//! `target/scim-suite-venv` with exactly the packages `tests/scim-suite/requirements.txt`
//! pins, each checked against its hash, all from PyPI and nothing outside `target/`.
//!
//! The venv keeps a copy of the requirements it was built from; it is rebuilt when that copy
//! differs from the file (the pins changed) or its Python no longer runs, and left alone
//! otherwise, so `cargo xtask test` pays for it once.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::run;

/// The pinned, hashed requirements, relative to the workspace root.
const REQUIREMENTS: &str = "tests/scim-suite/requirements.txt";

/// The venv's directory under the target directory.
const VENV: &str = "scim-suite-venv";

/// Where the venv keeps the requirements it was built from (the test compares it too).
const STAMP: &str = "roster-requirements.txt";

/// The oldest Python the pinned packages support.
const MIN_PYTHON: (u32, u32) = (3, 11);

/// Makes sure `target/scim-suite-venv` holds exactly what the requirements pin.
pub(crate) fn ensure_env(root: &Path) -> anyhow::Result<()> {
    let requirements_path = root.join(REQUIREMENTS);
    let requirements = std::fs::read(&requirements_path)
        .with_context(|| format!("reading {}", requirements_path.display()))?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let venv = target.join(VENV);
    let python = venv.join("bin").join("python");
    let stamp = venv.join(STAMP);
    let runs = Command::new(&python)
        .args(["-c", "pass"])
        .output()
        .is_ok_and(|output| output.status.success());
    if runs && std::fs::read(&stamp).is_ok_and(|built| built == requirements) {
        eprintln!(
            "\n==> SCIM suite environment: {} is up to date",
            venv.display()
        );
        return Ok(());
    }

    let base = base_python()?;
    if venv.exists() {
        std::fs::remove_dir_all(&venv)
            .with_context(|| format!("removing the stale {}", venv.display()))?;
    }
    run(
        &format!("SCIM suite environment: {base} -m venv {}", venv.display()),
        Command::new(&base).args(["-m", "venv"]).arg(&venv),
    )
    .context("python3 needs its venv module (Debian: apt-get install python3-venv)")?;
    run(
        &format!("SCIM suite environment: pip install -r {REQUIREMENTS}"),
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--require-hashes",
                "--only-binary=:all:",
                "--no-deps",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
            ])
            .arg(&requirements_path),
    )?;
    // Written last: an interrupted build is rebuilt next time.
    std::fs::write(&stamp, &requirements)
        .with_context(|| format!("writing {}", stamp.display()))?;
    Ok(())
}

/// The Python the venv is made from: `ROSTER_PYTHON` when set, else `python3`; at least
/// [`MIN_PYTHON`].
fn base_python() -> anyhow::Result<String> {
    let python = std::env::var("ROSTER_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let output = Command::new(&python)
        .args([
            "-c",
            "import sys; print(sys.version_info[0], sys.version_info[1])",
        ])
        .output()
        .with_context(|| {
            format!(
                "running {python}: the SCIM suite needs Python {}.{} or newer with venv \
                 (set ROSTER_PYTHON to use another interpreter)",
                MIN_PYTHON.0, MIN_PYTHON.1
            )
        })?;
    let version = String::from_utf8_lossy(&output.stdout);
    let mut parts = version.split_whitespace().map(str::parse::<u32>);
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) if (major, minor) >= MIN_PYTHON => Ok(python),
        _ => bail!(
            "{python} is Python {}; the SCIM suite needs {}.{} or newer (set ROSTER_PYTHON)",
            version.trim(),
            MIN_PYTHON.0,
            MIN_PYTHON.1
        ),
    }
}
