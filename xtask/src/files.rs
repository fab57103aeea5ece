//! File helpers whose errors name the file and the action.

use std::fs;
use std::path::Path;

use crate::error::{Error, Result};

/// Creates `dir` and its parents.
pub fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io("create the directory", dir, e))
}

/// Copies `from` to `to`, through a temporary file so that `to` is never left half-written.
pub fn copy(from: &Path, to: &Path) -> Result<()> {
    let mut partial = to.as_os_str().to_owned();
    partial.push(".part");
    fs::copy(from, &partial).map_err(|e| Error::io("copy", from, e))?;
    fs::rename(&partial, to).map_err(|e| Error::io("replace", to, e))
}

/// Removes `dir` with everything in it, if it exists.
pub fn remove_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("remove", dir, e)),
    }
}
