//! Checks for the host tools `run`, `image` and `test` need, with the command that installs each.

use std::fmt;
use std::path::PathBuf;
use std::process::Command;

use crate::error::{Error, Result};
use crate::process;
use crate::system::which;

/// The QEMU binary Keel runs on.
pub const QEMU: &str = "qemu-system-aarch64";
/// The oldest QEMU with `-M raspi4b`.
pub const QEMU_MIN_VERSION: (u32, u32) = (9, 0);

/// One missing or unusable host tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong, e.g. "`sfdisk` is not installed".
    pub what: String,
    /// The apt command that fixes it.
    pub fix: &'static str,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (install: `{}`)", self.what, self.fix)
    }
}

const QEMU_FIX: &str = "sudo apt-get install -t bookworm-backports qemu-system-arm";

/// The tools that build an SD card image.
#[derive(Clone, Debug)]
pub struct SdTools {
    /// `sfdisk` (package fdisk).
    pub sfdisk: PathBuf,
    /// `mkfs.vfat` (package dosfstools).
    pub mkfs_vfat: PathBuf,
    /// `mcopy` (package mtools).
    pub mcopy: PathBuf,
}

/// Parses `qemu-system-aarch64 --version` output into (major, minor, micro).
pub fn parse_qemu_version(text: &str) -> Option<(u32, u32, u32)> {
    let rest = text.split("version").nth(1)?;
    let word = rest.split_whitespace().next()?;
    let mut numbers = word.split('.').map(|n| {
        let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    let major = numbers.next()??;
    let minor = numbers.next().flatten().unwrap_or(0);
    let micro = numbers.next().flatten().unwrap_or(0);
    Some((major, minor, micro))
}

fn probe_qemu(problems: &mut Vec<Problem>) {
    let problem = |what: String| Problem {
        what,
        fix: QEMU_FIX,
    };
    if which(QEMU).is_none() {
        problems.push(problem(format!("`{QEMU}` is not installed")));
        return;
    }
    let version = process::output(
        Command::new(QEMU).arg("--version"),
        "asking QEMU its version",
    );
    match version.as_deref().map(parse_qemu_version) {
        Ok(Some((major, minor, micro))) if (major, minor) < QEMU_MIN_VERSION => {
            problems.push(problem(format!(
                "`{QEMU}` is version {major}.{minor}.{micro}, Keel needs {}.{} or newer (for -M raspi4b)",
                QEMU_MIN_VERSION.0, QEMU_MIN_VERSION.1
            )));
            return;
        }
        Ok(Some(_)) => {}
        Ok(None) => problems.push(problem(format!(
            "`{QEMU} --version` did not print a version Keel understands"
        ))),
        Err(e) => problems.push(problem(format!("`{QEMU} --version` failed: {e}"))),
    }
    let machines = process::output(
        Command::new(QEMU).args(["-machine", "help"]),
        "listing QEMU's machines",
    );
    match machines {
        Ok(list)
            if list
                .lines()
                .any(|l| l.split_whitespace().next() == Some("raspi4b")) => {}
        Ok(_) => problems.push(problem(format!(
            "`{QEMU} -machine help` does not list the raspi4b machine"
        ))),
        Err(e) => problems.push(problem(format!("`{QEMU} -machine help` failed: {e}"))),
    }
}

fn probe_sd_tools(problems: &mut Vec<Problem>) -> Option<SdTools> {
    let mut find = |program: &str, fix: &'static str| {
        let found = which(program);
        if found.is_none() {
            problems.push(Problem {
                what: format!("`{program}` is not installed"),
                fix,
            });
        }
        found
    };
    let sfdisk = find("sfdisk", "sudo apt-get install fdisk");
    let mkfs_vfat = find("mkfs.vfat", "sudo apt-get install dosfstools");
    let mcopy = find("mcopy", "sudo apt-get install mtools");
    Some(SdTools {
        sfdisk: sfdisk?,
        mkfs_vfat: mkfs_vfat?,
        mcopy: mcopy?,
    })
}

/// Checks that QEMU is installed, new enough and has `raspi4b`.
pub fn qemu() -> Result<()> {
    let mut problems = Vec::new();
    probe_qemu(&mut problems);
    finish(problems, Some(()))
}

/// Checks for the SD image tools and returns their paths.
pub fn sd_tools() -> Result<SdTools> {
    let mut problems = Vec::new();
    let tools = probe_sd_tools(&mut problems);
    finish(problems, tools)
}

/// Checks for QEMU and the SD image tools at once, reporting every problem together.
pub fn everything() -> Result<SdTools> {
    let mut problems = Vec::new();
    probe_qemu(&mut problems);
    let tools = probe_sd_tools(&mut problems);
    finish(problems, tools)
}

fn finish<T>(problems: Vec<Problem>, value: Option<T>) -> Result<T> {
    match value {
        Some(value) if problems.is_empty() => Ok(value),
        _ => Err(Error::Prerequisites(problems)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_qemu_versions_parse() {
        let text = "QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)\n\
                    Copyright (c) 2003-2025 Fabrice Bellard and the QEMU Project developers\n";
        assert_eq!(parse_qemu_version(text), Some((10, 0, 2)));
        assert_eq!(
            parse_qemu_version("QEMU emulator version 7.2.15 (Debian 1:7.2+dfsg-7+deb12u13)"),
            Some((7, 2, 15))
        );
        assert_eq!(
            parse_qemu_version("QEMU emulator version 9.1.50"),
            Some((9, 1, 50))
        );
    }

    #[test]
    fn garbage_is_not_a_version() {
        assert_eq!(parse_qemu_version(""), None);
        assert_eq!(parse_qemu_version("qemu: unknown option"), None);
    }

    #[test]
    fn old_versions_compare_below_the_minimum() {
        let (major, minor, _) = parse_qemu_version("QEMU emulator version 8.2.2").unwrap();
        assert!((major, minor) < QEMU_MIN_VERSION);
        let (major, minor, _) = parse_qemu_version("QEMU emulator version 9.0.0").unwrap();
        assert!((major, minor) >= QEMU_MIN_VERSION);
    }
}
