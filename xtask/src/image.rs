//! `cargo xtask image`: a bootable Raspberry Pi 4 SD card image (MBR, one FAT32 boot partition).
//!
//! Made without root from a sparse file with `sfdisk`, `mkfs.vfat --offset` and `mcopy`. The
//! image is 64 MiB, a power of two, because QEMU's `raspi4b` accepts only such SD card sizes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build;
use crate::cli::{Addition, Board, BuildOptions, ImageOptions, KernelKind};
use crate::error::{Error, Result};
use crate::files::create_dir;
use crate::firmware::{FIXUP4, START4};
use crate::layout::{Layout, DTB_NAME, IMAGE_NAME, INITRAMFS_NAME};
use crate::prereq::{self, SdTools};
use crate::process;

/// Size of the whole image.
pub const IMAGE_SIZE: u64 = 64 << 20;
/// Bytes per sector.
const SECTOR: u64 = 512;
/// First sector of the boot partition (1 MiB, the usual alignment).
pub const PARTITION_START: u64 = 2048;
/// The FAT volume label.
const LABEL: &str = "KEEL";
/// What the Pi 4 firmware needs on the boot partition, all taken from `target/dist/rpi4/`.
pub const BOOT_FILES: [&str; 6] = [
    IMAGE_NAME,
    INITRAMFS_NAME,
    "config.txt",
    START4,
    FIXUP4,
    DTB_NAME,
];

/// The `mtools` image specification of the boot partition inside `image`.
fn partition(image: &Path) -> String {
    format!("{}@@{}", image.display(), PARTITION_START * SECTOR)
}

/// Writes an SD card image holding `files` on its boot partition to `out`. The image is made
/// next to `out` and renamed at the end, so `out` is never left half-written.
pub fn write(tools: &SdTools, files: &[PathBuf], out: &Path) -> Result<()> {
    let mut partial = out.as_os_str().to_owned();
    partial.push(".part");
    let partial = PathBuf::from(partial);
    let result = write_at(tools, files, &partial)
        .and_then(|()| fs::rename(&partial, out).map_err(|e| Error::io("replace", out, e)));
    if result.is_err() {
        // The half-made image is of no use; the error says what went wrong.
        let _ = fs::remove_file(&partial);
    }
    result
}

fn write_at(tools: &SdTools, files: &[PathBuf], image: &Path) -> Result<()> {
    let file = fs::File::create(image).map_err(|e| Error::io("create", image, e))?;
    file.set_len(IMAGE_SIZE)
        .map_err(|e| Error::io("size", image, e))?;
    drop(file);

    let table = format!("label: dos\nstart={PARTITION_START}, type=c, bootable\n");
    process::run_with_input(
        Command::new(&tools.sfdisk).arg("--quiet").arg(image),
        table.as_bytes(),
        "writing the SD image's partition table",
    )?;
    let blocks_kib = (IMAGE_SIZE / SECTOR - PARTITION_START) / 2;
    process::output(
        Command::new(&tools.mkfs_vfat)
            .args([
                "-F",
                "32",
                "-n",
                LABEL,
                "--offset",
                &PARTITION_START.to_string(),
            ])
            .arg(image)
            .arg(blocks_kib.to_string()),
        "formatting the SD image's boot partition",
    )?;
    process::output(
        Command::new(&tools.mcopy)
            .env("MTOOLS_SKIP_CHECK", "1")
            .arg("-i")
            .arg(partition(image))
            .args(files)
            .arg("::/"),
        "copying the boot files onto the SD image",
    )?;
    Ok(())
}

/// Builds the normal rpi4 dist (kernel, initramfs with `additions`, `config.txt`, firmware,
/// device tree) and writes the SD card image to `out`.
pub fn build_and_write(
    layout: &Layout,
    tools: &SdTools,
    firmware: Option<&Path>,
    additions: &[Addition],
    out: &Path,
) -> Result<()> {
    build::build(
        layout,
        &BuildOptions {
            board: Board::Rpi4,
            kernel: KernelKind::Normal,
            firmware: firmware.map(Path::to_path_buf),
            add: additions.to_vec(),
        },
    )?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir(parent)?;
    }
    let dist = layout.board_dist(Board::Rpi4);
    let files: Vec<PathBuf> = BOOT_FILES.iter().map(|name| dist.join(name)).collect();
    write(tools, &files, out)?;
    say!(
        "wrote {} ({} MiB): MBR, bootable FAT32 partition `{LABEL}` (type 0x0c) from sector \
         {PARTITION_START}, holding {}",
        layout.show(out).display(),
        IMAGE_SIZE >> 20,
        BOOT_FILES.join(", ")
    );
    Ok(())
}

/// `cargo xtask image`: writes the SD card image and says how to flash it.
pub fn image(layout: &Layout, options: &ImageOptions) -> Result<()> {
    let tools = prereq::sd_tools()?;
    let out = options.out.clone().unwrap_or_else(|| layout.sd_image());
    build_and_write(
        layout,
        &tools,
        options.firmware.as_deref(),
        &options.add,
        &out,
    )?;
    say!(
        "to flash it, find the card with `lsblk` and run (this erases the card; replace /dev/sdX \
         with its device):\n    sudo dd if={} of=/dev/sdX bs=4M conv=fsync status=progress",
        process::quote(&layout.show(&out).to_string_lossy())
    );
    Ok(())
}
