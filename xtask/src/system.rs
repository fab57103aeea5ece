//! Facts about the host: its Debian release, its apt sources, and whether we run as root.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sources::{self, DebianArchive, SourceEntry};

const OS_RELEASE: &str = "/etc/os-release";
const APT_SOURCES_LIST: &str = "/etc/apt/sources.list";
const APT_SOURCE_PARTS: &str = "/etc/apt/sources.list.d";

/// The Debian release this host runs, e.g. `bookworm`, from `VERSION_CODENAME` in /etc/os-release.
pub fn codename() -> Result<String> {
    let text = fs::read_to_string(OS_RELEASE).map_err(|e| Error::io("read", OS_RELEASE, e))?;
    let is_debian = sources::os_release_field(&text, "ID").as_deref() == Some("debian");
    match sources::os_release_field(&text, "VERSION_CODENAME") {
        Some(codename) if is_debian && !codename.is_empty() => Ok(codename),
        _ => Err(Error::Host {
            what: "tell which Debian release this host runs".to_string(),
            reason: format!("{OS_RELEASE} does not say ID=debian with a VERSION_CODENAME"),
            hint: "this step supports Debian only; install the prerequisites by hand, or pass \
                   --firmware DIR with start4.elf, fixup4.dat and bcm2711-rpi-4-b.dtb"
                .to_string(),
        }),
    }
}

/// Every apt source file of the system, in the order apt reads them.
fn source_files() -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from(APT_SOURCES_LIST)];
    if let Ok(dir) = fs::read_dir(APT_SOURCE_PARTS) {
        let mut parts: Vec<PathBuf> = dir
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("list" | "sources")
                )
            })
            .collect();
        parts.sort();
        files.extend(parts);
    }
    files
}

fn read_entries(path: &Path) -> Vec<SourceEntry> {
    let Ok(text) = fs::read_to_string(path) else {
        return Vec::new();
    };
    if path.extension().and_then(|e| e.to_str()) == Some("sources") {
        sources::parse_deb822(&text)
    } else {
        sources::parse_one_line(&text)
    }
}

/// The Debian archive the system uses for `codename` main, with its keyring.
pub fn debian_archive(codename: &str) -> Result<DebianArchive> {
    let files = source_files();
    let entries: Vec<SourceEntry> = files.iter().flat_map(|f| read_entries(f)).collect();
    sources::pick_archive(&entries, codename).ok_or_else(|| Error::Host {
        what: "find the Debian archive in the system's apt sources".to_string(),
        reason: format!(
            "no enabled `deb` entry for suite `{codename}` with component `main` in {} or {}/*.{{list,sources}}",
            APT_SOURCES_LIST, APT_SOURCE_PARTS
        ),
        hint: format!(
            "add the Debian archive for {codename} to apt's sources (see sources.list(5)), or \
             pass --firmware DIR with start4.elf, fixup4.dat and bcm2711-rpi-4-b.dtb"
        ),
    })
}

/// The effective user id of this process, read from /proc/self/status.
pub fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    parse_effective_uid(&status)
}

fn parse_effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    // Uid: real effective saved filesystem
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    effective_uid() == Some(0)
}

/// Finds `program` on PATH, and also in /usr/sbin and /sbin, which a normal user's PATH on Debian
/// lacks although `sfdisk` and `mkfs.vfat` live there and work without root on image files.
pub fn which(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| {
            fs::metadata(candidate)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_uid_is_the_second_number() {
        let status = "Name:\txtask\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(parse_effective_uid(status), Some(0));
        assert_eq!(parse_effective_uid("Name:\tx\n"), None);
    }

    #[test]
    fn which_finds_a_shell() {
        assert!(which("sh").is_some());
        assert!(which("no-such-program-keel").is_none());
    }
}
