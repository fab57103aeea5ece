//! Where everything lives: the workspace, the kernel's build output, `target/dist/` and caches.

use std::path::{Path, PathBuf};

use crate::cli::{Board, KernelKind};

/// The Rust target the kernel and its modules are built for.
pub const KERNEL_TARGET: &str = "aarch64-unknown-none-softfloat";
/// The Cargo package of the kernel.
pub const KERNEL_PACKAGE: &str = "keel-kernel";
/// The name of the kernel's binary target.
pub const KERNEL_BIN: &str = "keel";
/// The raw kernel image's file name, as the Pi firmware expects it.
pub const IMAGE_NAME: &str = "kernel8.img";
/// The symbol-patched kernel ELF's file name in `target/dist/`.
pub const ELF_NAME: &str = "keel.elf";
/// The Raspberry Pi 4 device tree's file name.
pub const DTB_NAME: &str = "bcm2711-rpi-4-b.dtb";
/// The SD card image's file name.
pub const SD_IMAGE_NAME: &str = "keel-rpi4.img";
/// The Rust target user programs are built for (hard-float: they may use FP/SIMD).
pub const USER_TARGET: &str = "aarch64-unknown-none";
/// The initramfs's file name in `target/dist/<board>/` and on the SD card.
pub const INITRAMFS_NAME: &str = "initramfs.cpio";

/// Paths of the workspace.
#[derive(Clone, Debug)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout of the workspace this `xtask` belongs to.
    pub fn discover() -> Layout {
        // `cargo run` sets CARGO_MANIFEST_DIR at run time too; the compile-time value is the fallback.
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let root = manifest.parent().map(Path::to_path_buf).unwrap_or(manifest);
        Layout { root }
    }

    /// The workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `target/`.
    pub fn target(&self) -> PathBuf {
        self.root.join("target")
    }

    /// The Cargo target directory of a kernel build. Test kernels get their own, so that the two
    /// builds do not keep invalidating each other.
    pub fn kernel_target_dir(&self, kind: KernelKind) -> PathBuf {
        match kind {
            KernelKind::Normal => self.target(),
            KernelKind::Test => self.target().join("kernel-test"),
        }
    }

    /// The ELF file Cargo writes for a kernel build.
    pub fn cargo_kernel_elf(&self, kind: KernelKind) -> PathBuf {
        self.kernel_target_dir(kind)
            .join(KERNEL_TARGET)
            .join("release")
            .join(KERNEL_BIN)
    }

    /// `target/dist/`.
    pub fn dist(&self) -> PathBuf {
        self.target().join("dist")
    }

    /// `target/dist/<board>/`.
    pub fn board_dist(&self, board: Board) -> PathBuf {
        self.dist().join(board.dist_name())
    }

    /// The folder holding a board's `kernel8.img` and `keel.elf`: `target/dist/<board>/[test/]`.
    pub fn kernel_dist(&self, board: Board, kind: KernelKind) -> PathBuf {
        match kind {
            KernelKind::Normal => self.board_dist(board),
            KernelKind::Test => self.board_dist(board).join("test"),
        }
    }

    /// `modules/services/`: one crate per user program.
    pub fn services(&self) -> PathBuf {
        self.root.join("modules").join("services")
    }

    /// `modules/rootfs/`: files copied verbatim into the initramfs at `/`.
    pub fn rootfs(&self) -> PathBuf {
        self.root.join("modules").join("rootfs")
    }

    /// The linker script of user programs: `sdk/user/link.ld`.
    pub fn user_linker_script(&self) -> PathBuf {
        self.root.join("sdk").join("user").join("link.ld")
    }

    /// `target/user/`: the Cargo target directory of user programs, apart from the kernel's.
    pub fn user_target_dir(&self) -> PathBuf {
        self.target().join("user")
    }

    /// The folder Cargo writes the release binaries of user programs to.
    pub fn user_bin_dir(&self) -> PathBuf {
        self.user_target_dir().join(USER_TARGET).join("release")
    }

    /// `target/dist/<board>/modules/`: the board's built kernel modules (`.ko`).
    pub fn modules_dist(&self, board: Board) -> PathBuf {
        self.board_dist(board).join("modules")
    }

    /// `target/dist/<board>/initramfs.cpio`.
    pub fn initramfs(&self, board: Board) -> PathBuf {
        self.board_dist(board).join(INITRAMFS_NAME)
    }

    /// The default SD card image: `target/dist/rpi4/keel-rpi4.img`.
    pub fn sd_image(&self) -> PathBuf {
        self.board_dist(Board::Rpi4).join(SD_IMAGE_NAME)
    }

    /// The Pi 4 `config.txt` that the kernel's boot code comes with.
    pub fn config_txt(&self) -> PathBuf {
        self.root.join("boot").join("rpi4").join("config.txt")
    }

    /// `target/firmware/`: downloaded firmware and device trees (never committed).
    pub fn firmware_cache(&self) -> PathBuf {
        self.target().join("firmware")
    }

    /// `path` relative to the workspace root if it lies inside it, for shorter messages.
    pub fn show(&self, path: &Path) -> PathBuf {
        path.strip_prefix(&self.root)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| path.to_path_buf())
    }
}
