//! A private apt configuration under `target/firmware/apt/` for fetching arm64 Debian packages.
//!
//! It needs no root and leaves the system's apt state alone: its own sources list (the system's
//! Debian archive and keyring, arm64, `main non-free-firmware`), its own lists, cache and an empty
//! dpkg status. Only `apt-get update`, `apt-cache depends` and `apt-get download` run with it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Hint, Result};
use crate::files::create_dir;
use crate::process;
use crate::sources::SignedBy;
use crate::system;

/// The metapackage that depends on the current arm64 kernel package.
pub const KERNEL_METAPACKAGE: &str = "linux-image-arm64";

const FIRMWARE_HINT: &str = "pass --firmware DIR with start4.elf, fixup4.dat and \
                             bcm2711-rpi-4-b.dtb taken from a Raspberry Pi OS boot partition";

/// apt with a private configuration rooted in one directory.
pub struct PrivateApt {
    options: Vec<String>,
    archive: String,
    debs: PathBuf,
    updated: bool,
}

impl PrivateApt {
    /// Sets up the private configuration in `dir`, deriving the archive from the system's sources;
    /// downloaded packages go to `debs`.
    pub fn new(dir: &Path, debs: &Path) -> Result<PrivateApt> {
        let codename = system::codename()?;
        let archive = system::debian_archive(&codename)?;
        let parts = dir.join("sources.list.d");
        let preferences = dir.join("preferences.d");
        let state = dir.join("state");
        let cache = dir.join("cache");
        for sub in [
            parts.clone(),
            preferences.clone(),
            state.join("lists").join("partial"),
            cache.join("archives").join("partial"),
            debs.to_path_buf(),
        ] {
            create_dir(&sub)?;
        }
        let status = dir.join("status");
        fs::write(&status, b"").map_err(|e| Error::io("write", &status, e))?;

        let mut options = vec!["arch=arm64".to_string()];
        match &archive.signed_by {
            Some(SignedBy::Keyring(keyring)) => options.push(format!("signed-by={keyring}")),
            Some(SignedBy::Inline(key)) => {
                let keyring = dir.join("archive-key.asc");
                fs::write(&keyring, format!("{key}\n"))
                    .map_err(|e| Error::io("write", &keyring, e))?;
                options.push(format!("signed-by={}", keyring.display()));
            }
            None => {}
        }
        let list = dir.join("sources.list");
        let line = format!(
            "deb [{}] {} {codename} main non-free-firmware\n",
            options.join(" "),
            archive.uri
        );
        fs::write(&list, line).map_err(|e| Error::io("write", &list, e))?;

        let mut apt_options = vec![
            format!("Dir::Etc::SourceList={}", list.display()),
            format!("Dir::Etc::SourceParts={}", parts.display()),
            format!("Dir::Etc::PreferencesParts={}", preferences.display()),
            format!("Dir::State={}", state.display()),
            format!("Dir::State::status={}", status.display()),
            format!("Dir::Cache={}", cache.display()),
            "APT::Architecture=arm64".to_string(),
            "APT::Architectures::=arm64".to_string(),
            "Debug::NoLocking=1".to_string(),
            "Acquire::Languages=none".to_string(),
        ];
        if system::is_root() {
            // The private directories belong to root; apt's `_apt` sandbox user could not write them.
            apt_options.push("APT::Sandbox::User=root".to_string());
        }
        Ok(PrivateApt {
            options: apt_options
                .into_iter()
                .flat_map(|o| ["-o".to_string(), o])
                .collect(),
            archive: archive.uri,
            debs: debs.to_path_buf(),
            updated: false,
        })
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(&self.options);
        cmd
    }

    /// Fetches the package lists, once per run.
    pub fn update(&mut self) -> Result<()> {
        if self.updated {
            return Ok(());
        }
        say!("fetching the arm64 package lists from {}", self.archive);
        let mut cmd = self.command("apt-get");
        cmd.args(["-q", "update"]);
        process::run(&mut cmd, "fetching Debian's package lists").hint(format!(
            "check that this host reaches {} (proxies are taken from /etc/apt/apt.conf.d), or {FIRMWARE_HINT}",
            self.archive
        ))?;
        self.updated = true;
        Ok(())
    }

    /// The concrete kernel package `linux-image-arm64` depends on, e.g. `linux-image-6.1.0-37-arm64`.
    pub fn kernel_package(&mut self) -> Result<String> {
        self.update()?;
        let mut cmd = self.command("apt-cache");
        cmd.args(["depends", KERNEL_METAPACKAGE]);
        let text = process::output(&mut cmd, "resolving Debian's arm64 kernel package")
            .hint(FIRMWARE_HINT)?;
        parse_kernel_dependency(&text).ok_or_else(|| Error::Host {
            what: "resolve Debian's arm64 kernel package".to_string(),
            reason: format!(
                "`apt-cache depends {KERNEL_METAPACKAGE}` names no linux-image package"
            ),
            hint: FIRMWARE_HINT.to_string(),
        })
    }

    /// The `.deb` of `package`, downloaded into the cache unless a download is already there.
    pub fn download(&mut self, package: &str) -> Result<PathBuf> {
        if let Some(deb) = self.cached_deb(package) {
            return Ok(deb);
        }
        self.update()?;
        say!("downloading {package} (arm64)");
        let mut cmd = self.command("apt-get");
        cmd.args(["-q", "download", package])
            .current_dir(&self.debs);
        process::run(
            &mut cmd,
            &format!("downloading the Debian package {package}"),
        )
        .hint(FIRMWARE_HINT)?;
        self.cached_deb(package).ok_or_else(|| Error::Host {
            what: format!("download the Debian package {package}"),
            reason: format!(
                "apt-get reported success but left no {package}_*.deb in {}",
                self.debs.display()
            ),
            hint: FIRMWARE_HINT.to_string(),
        })
    }

    fn cached_deb(&self, package: &str) -> Option<PathBuf> {
        let prefix = format!("{package}_");
        let mut debs: Vec<PathBuf> = fs::read_dir(&self.debs)
            .ok()?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| {
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                name.starts_with(&prefix) && name.ends_with(".deb")
            })
            .collect();
        debs.sort();
        debs.pop()
    }
}

/// Finds the concrete kernel package in `apt-cache depends linux-image-arm64` output.
pub fn parse_kernel_dependency(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let line = line.trim().trim_start_matches('|');
        let package = line.strip_prefix("Depends:")?.trim();
        let package = package.trim_start_matches('<').trim_end_matches('>');
        (package.starts_with("linux-image-") && package != KERNEL_METAPACKAGE)
            .then(|| package.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_package_is_the_first_image_dependency() {
        let text = "linux-image-arm64\n  Depends: linux-image-6.1.0-37-arm64\n";
        assert_eq!(
            parse_kernel_dependency(text).as_deref(),
            Some("linux-image-6.1.0-37-arm64")
        );
    }

    #[test]
    fn alternatives_and_other_dependencies_are_handled() {
        let text = "linux-image-arm64\n  Depends: firmware-linux-free\n \
                    |Depends: linux-image-6.1.0-40-arm64\n  Depends: <linux-image-6.1.0-41-arm64>\n";
        assert_eq!(
            parse_kernel_dependency(text).as_deref(),
            Some("linux-image-6.1.0-40-arm64")
        );
        assert_eq!(parse_kernel_dependency("linux-image-arm64\n"), None);
    }
}
