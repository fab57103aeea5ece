//! The Raspberry Pi 4 boot firmware (`start4.elf`, `fixup4.dat`) and device tree, found or fetched.
//!
//! Sources, in order: `--firmware DIR`; for the firmware, Debian's installed `raspi-firmware`
//! package (`/usr/lib/raspi-firmware/`); otherwise the Debian packages `raspi-firmware` and
//! `linux-image-<version>-arm64` (for `broadcom/bcm2711-rpi-4-b.dtb`), downloaded through a
//! private apt configuration. Everything fetched is cached under `target/firmware/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::apt::PrivateApt;
use crate::error::{Error, Result};
use crate::files::{copy, create_dir, remove_dir};
use crate::layout::{Layout, DTB_NAME};
use crate::process;

/// The Pi 4's VideoCore firmware.
pub const START4: &str = "start4.elf";
/// The firmware's memory-split fixup file.
pub const FIXUP4: &str = "fixup4.dat";
/// Where Debian's `raspi-firmware` package installs the firmware.
const INSTALLED_FIRMWARE: &str = "/usr/lib/raspi-firmware";
/// Debian's firmware package.
const FIRMWARE_PACKAGE: &str = "raspi-firmware";

/// The files the Pi 4 firmware needs besides the kernel and `config.txt`.
#[derive(Clone, Debug)]
pub struct Firmware {
    /// `start4.elf`.
    pub start4: PathBuf,
    /// `fixup4.dat`.
    pub fixup4: PathBuf,
    /// `bcm2711-rpi-4-b.dtb`.
    pub dtb: PathBuf,
}

impl Firmware {
    /// The three files, each named as the firmware expects.
    pub fn files(&self) -> [&Path; 3] {
        [&self.start4, &self.fixup4, &self.dtb]
    }
}

/// The cache, and the private apt that fills it, set up only once something must be downloaded.
struct Fetcher {
    cache: PathBuf,
    apt: Option<PrivateApt>,
}

impl Fetcher {
    fn apt(&mut self) -> Result<&mut PrivateApt> {
        let apt = match self.apt.take() {
            Some(apt) => apt,
            None => PrivateApt::new(&self.cache.join("apt"), &self.cache.join("debs"))?,
        };
        Ok(self.apt.insert(apt))
    }

    /// Extracts `members` (paths inside the package, without the leading `./`) of `deb` and
    /// copies each into `dest` under its file name.
    fn extract(&self, deb: &Path, members: &[String], dest: &Path) -> Result<()> {
        let scratch = self.cache.join("extract");
        remove_dir(&scratch)?;
        create_dir(&scratch)?;
        let mut dpkg = Command::new("dpkg-deb");
        dpkg.arg("--fsys-tarfile").arg(deb);
        let mut tar = Command::new("tar");
        tar.arg("-x").arg("-C").arg(&scratch).arg("--wildcards");
        tar.args(members.iter().map(|m| format!("*{m}")));
        process::pipe(&mut dpkg, &mut tar, &format!("unpacking {}", deb.display())).map_err(
            |e| {
                e.with_hint(format!(
                    "the download may be damaged: delete {} and try again",
                    deb.display()
                ))
            },
        )?;
        create_dir(dest)?;
        for member in members {
            let file = scratch.join(member);
            let name = file.file_name().unwrap_or_default();
            if !file.is_file() {
                return Err(Error::Missing {
                    path: file.clone(),
                    needed_for: format!("taking {member} out of {}", deb.display()),
                    hint: "the package no longer ships this file; pass --firmware DIR instead"
                        .to_string(),
                });
            }
            copy(&file, &dest.join(name))?;
        }
        remove_dir(&scratch)
    }
}

fn required(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::Missing {
            path,
            needed_for: "booting a Raspberry Pi 4 (it was asked for with --firmware)".to_string(),
            hint: format!(
                "copy {name} from the boot partition of a Raspberry Pi OS image or from the \
                 raspberrypi/firmware repository's boot/ folder into {}",
                dir.display()
            ),
        })
    }
}

/// `start4.elf` and `fixup4.dat`: installed by Debian, cached, or downloaded.
fn boot_blobs(fetcher: &mut Fetcher) -> Result<(PathBuf, PathBuf)> {
    let installed = Path::new(INSTALLED_FIRMWARE);
    if installed.join(START4).is_file() && installed.join(FIXUP4).is_file() {
        return Ok((installed.join(START4), installed.join(FIXUP4)));
    }
    let dest = fetcher.cache.join(FIRMWARE_PACKAGE);
    let (start4, fixup4) = (dest.join(START4), dest.join(FIXUP4));
    if !(start4.is_file() && fixup4.is_file()) {
        let deb = fetcher.apt()?.download(FIRMWARE_PACKAGE)?;
        let members = [START4, FIXUP4].map(|f| format!("usr/lib/raspi-firmware/{f}"));
        fetcher.extract(&deb, &members, &dest)?;
    }
    Ok((start4, fixup4))
}

/// `bcm2711-rpi-4-b.dtb`: cached, or taken from Debian's arm64 kernel package.
fn device_tree(fetcher: &mut Fetcher) -> Result<PathBuf> {
    let dest = fetcher.cache.join("dtb");
    let dtb = dest.join(DTB_NAME);
    if !dtb.is_file() {
        let apt = fetcher.apt()?;
        let package = apt.kernel_package()?;
        let deb = apt.download(&package)?;
        let member = format!("usr/lib/{package}/broadcom/{DTB_NAME}");
        fetcher.extract(&deb, &[member], &dest)?;
        say!("took {DTB_NAME} from {package}");
    }
    Ok(dtb)
}

/// Finds or fetches the Pi 4 firmware and device tree; `dir` is the user's `--firmware DIR`.
pub fn provide(layout: &Layout, dir: Option<&Path>) -> Result<Firmware> {
    let mut fetcher = Fetcher {
        cache: layout.firmware_cache(),
        apt: None,
    };
    let (start4, fixup4) = match dir {
        Some(dir) => (required(dir, START4)?, required(dir, FIXUP4)?),
        None => boot_blobs(&mut fetcher)?,
    };
    let dtb = match dir.map(|d| d.join(DTB_NAME)).filter(|p| p.is_file()) {
        Some(dtb) => dtb,
        None => device_tree(&mut fetcher)?,
    };
    Ok(Firmware {
        start4,
        fixup4,
        dtb,
    })
}
