//! `cargo xtask build`: compile the kernel, embed its symbols, make `kernel8.img`, fill `target/dist/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cli::{Board, BuildOptions, KernelKind};
use crate::error::{Error, Result};
use crate::files::{copy, create_dir};
use crate::firmware;
use crate::initramfs;
use crate::layout::{self, Layout};
use crate::modules;
use crate::process;
use crate::symbols;
use crate::toolchain;

/// The arm64 Image header's magic number and where it sits.
const IMAGE_MAGIC: &[u8; 4] = b"ARM\x64";
const IMAGE_MAGIC_OFFSET: usize = 0x38;

/// A built kernel, still in Cargo's target directory.
#[derive(Clone, Debug)]
pub struct KernelImage {
    /// The ELF with the symbol table embedded.
    pub elf: PathBuf,
    /// The raw image made from it.
    pub image: PathBuf,
}

impl KernelKind {
    /// "normal" or "test", for messages.
    pub fn describe(self) -> &'static str {
        match self {
            KernelKind::Normal => "normal",
            KernelKind::Test => "test",
        }
    }
}

/// Compiles the kernel of `kind`, embeds its symbol table and makes the raw image.
pub fn kernel(layout: &Layout, kind: KernelKind) -> Result<KernelImage> {
    say!("building the {} kernel", kind.describe());
    let mut cargo = toolchain::cargo(layout.root());
    cargo.args([
        "build",
        "--package",
        layout::KERNEL_PACKAGE,
        "--release",
        "--target",
        layout::KERNEL_TARGET,
    ]);
    if kind == KernelKind::Test {
        cargo.args(["--features", "qemu-test"]);
        cargo
            .arg("--target-dir")
            .arg(layout.kernel_target_dir(kind));
    }
    process::run(&mut cargo, "building the kernel")?;

    let built = layout.cargo_kernel_elf(kind);
    if !built.is_file() {
        return Err(Error::Missing {
            path: built,
            needed_for: "the kernel image".to_string(),
            hint: format!(
                "the `{}` package must have a binary target named `{}`",
                layout::KERNEL_PACKAGE,
                layout::KERNEL_BIN
            ),
        });
    }
    let elf = built.with_file_name(format!("{}-ksyms.elf", layout::KERNEL_BIN));
    let embedded = symbols::embed(&built, &elf)?;
    say!(
        "embedded {} function symbols ({} of {} bytes of `{}`)",
        embedded.functions,
        embedded.bytes,
        embedded.capacity,
        symbols::KSYMS_SECTION
    );

    let image = built.with_file_name(layout::IMAGE_NAME);
    let objcopy = toolchain::llvm_objcopy(layout.root())?;
    process::output(
        Command::new(objcopy)
            .args(["-O", "binary"])
            .arg(&elf)
            .arg(&image),
        "converting the kernel ELF to a raw image",
    )?;
    check_image_magic(&image)?;
    Ok(KernelImage { elf, image })
}

/// Fails unless `image` carries the arm64 Image magic at offset 0x38.
fn check_image_magic(image: &Path) -> Result<()> {
    let bytes = fs::read(image).map_err(|e| Error::io("read", image, e))?;
    let end = bytes.len().min(IMAGE_MAGIC_OFFSET + IMAGE_MAGIC.len());
    let found = bytes.get(IMAGE_MAGIC_OFFSET..end).unwrap_or(&[]);
    if found == IMAGE_MAGIC {
        Ok(())
    } else {
        Err(Error::NotAnArm64Image {
            path: image.to_path_buf(),
            found: found.to_vec(),
        })
    }
}

/// Puts `kernel` into `target/dist/<board>/[test/]` as `kernel8.img` and `keel.elf`.
pub fn install(
    layout: &Layout,
    board: Board,
    kind: KernelKind,
    kernel: &KernelImage,
) -> Result<PathBuf> {
    let dir = layout.kernel_dist(board, kind);
    create_dir(&dir)?;
    copy(&kernel.image, &dir.join(layout::IMAGE_NAME))?;
    copy(&kernel.elf, &dir.join(layout::ELF_NAME))?;
    Ok(dir)
}

/// Puts what the Pi 4 firmware needs next to the kernel into `target/dist/rpi4/`:
/// `config.txt`, `start4.elf`, `fixup4.dat` and `bcm2711-rpi-4-b.dtb`.
pub fn rpi4_boot_files(layout: &Layout, firmware_dir: Option<&Path>) -> Result<()> {
    let dir = layout.board_dist(Board::Rpi4);
    create_dir(&dir)?;
    let config = layout.config_txt();
    if !config.is_file() {
        return Err(Error::Missing {
            path: config,
            needed_for: "booting a Raspberry Pi 4 (the firmware reads it)".to_string(),
            hint: "it comes with the kernel's boot code (boot/rpi4/config.txt); restore it from \
                   git"
            .to_string(),
        });
    }
    copy(&config, &dir.join("config.txt"))?;
    let firmware = firmware::provide(layout, firmware_dir)?;
    for file in firmware.files() {
        let name = file.file_name().unwrap_or_default();
        copy(file, &dir.join(name))?;
    }
    Ok(())
}

/// `cargo xtask build`: one kernel and the initramfs for one board; returns the folder holding
/// `kernel8.img`.
pub fn build(layout: &Layout, options: &BuildOptions) -> Result<PathBuf> {
    initramfs::check_additions(&options.add)?;
    let kernel = kernel(layout, options.kernel)?;
    let dir = install(layout, options.board, options.kernel, &kernel)?;
    // The modules first: the initramfs carries them in /lib/modules.
    modules::build_all(layout, options.board)?;
    initramfs::build(layout, options.board, &options.add)?;
    if options.board == Board::Rpi4 {
        rpi4_boot_files(layout, options.firmware.as_deref())?;
    }
    say!(
        "{} kernel for {} is in {}",
        options.kernel.describe(),
        options.board.dist_name(),
        layout.show(&dir).display()
    );
    Ok(dir)
}
