//! The build artifacts under test, from `$KEEL_DIST` (default `<workspace>/target/dist`).

use std::path::{Path, PathBuf};

use crate::qemu::Machine;

/// Which kernel build to boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// The normal kernel: no semihosting, powers off only with `keel.halt=poweroff`.
    Normal,
    /// The test kernel: runs in-kernel tests and reports through a semihosting exit status.
    Test,
}

/// The folder holding the artifacts: `$KEEL_DIST`, or `<workspace>/target/dist`.
pub fn dist_dir() -> PathBuf {
    match std::env::var_os("KEEL_DIST") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or(Path::new(env!("CARGO_MANIFEST_DIR")))
            .join("target")
            .join("dist"),
    }
}

/// `path` if it exists; otherwise the test fails, naming the command that makes the artifact.
fn require(path: PathBuf, make: &str) -> PathBuf {
    assert!(
        path.is_file(),
        "missing artifact {}: run `{make}` first (or `cargo xtask test`, which builds everything)",
        path.display()
    );
    path
}

/// The name of the board folder holding the images `machine` boots.
fn board_name(machine: Machine) -> &'static str {
    match machine {
        Machine::Virt => "virt",
        Machine::Raspi4b => "rpi4",
    }
}

fn board_dir(machine: Machine) -> PathBuf {
    dist_dir().join(board_name(machine))
}

/// The raw kernel image (`kernel8.img`) of `kernel` for `machine`.
pub fn kernel_image(machine: Machine, kernel: Kernel) -> PathBuf {
    let board = board_name(machine);
    let (dir, flag) = match kernel {
        Kernel::Normal => (board_dir(machine), ""),
        Kernel::Test => (board_dir(machine).join("test"), " --test-kernel"),
    };
    require(
        dir.join("kernel8.img"),
        &format!("cargo xtask build --board {board}{flag}"),
    )
}

/// The Raspberry Pi 4 device tree (QEMU's `raspi4b` has none built in).
pub fn rpi4_dtb() -> PathBuf {
    require(
        board_dir(Machine::Raspi4b).join("bcm2711-rpi-4-b.dtb"),
        "cargo xtask build --board rpi4",
    )
}

/// The SD card image `cargo xtask image --board rpi4` writes.
pub fn sd_image() -> PathBuf {
    require(
        board_dir(Machine::Raspi4b).join("keel-rpi4.img"),
        "cargo xtask image --board rpi4",
    )
}

/// The initramfs (`initramfs.cpio`: user programs, `/etc`, the modules in `/lib/modules`) that
/// `cargo xtask build` writes for `machine`'s board.
pub fn initramfs(machine: Machine) -> PathBuf {
    let board = board_name(machine);
    require(
        board_dir(machine).join("initramfs.cpio"),
        &format!("cargo xtask build --board {board}"),
    )
}
