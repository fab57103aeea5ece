//! `cargo xtask test`: host unit tests, every kernel build and the SD image, the QEMU tests, then
//! one quick benchmark run (that it works, never how fast).

use std::path::PathBuf;

use crate::bench;
use crate::build;
use crate::cli::{Board, KernelKind, TestOptions};
use crate::error::Result;
use crate::image;
use crate::initramfs;
use crate::layout::Layout;
use crate::modules;
use crate::prereq;
use crate::process;
use crate::toolchain;
use crate::userland;

/// The packages whose unit tests run on the host.
const HOST_TEST_ARGS: &[&str] = &[
    "test",
    "--package",
    "keel-core",
    "--features",
    "keel-core/alloc",
    "--package",
    "keel-cpio",
    "--package",
    "keel-vfs",
    "--package",
    "keel-modload",
    "--package",
    "keel-block",
    "--package",
    "keel-abi",
    "--package",
    "keel-module",
    "--package",
    "keel-pl011",
    "--package",
    "xtask",
];

/// The user programs' and drivers' pure logic (line editor, parsers, formatters, the SD
/// protocol), tested on the host.
const PROGRAM_TEST_ARGS: &[&str] = &[
    "test",
    "--lib",
    "--package",
    "init",
    "--package",
    "sh",
    "--package",
    "coreutils",
    "--package",
    "testprogs",
    "--package",
    "bench",
    "sdhci",
];

/// `cargo xtask test`; stops at the first stage that fails.
pub fn test(layout: &Layout, options: &TestOptions) -> Result<()> {
    let tools = prereq::everything()?;

    say!("stage 1 of 4: host unit tests");
    process::run(
        toolchain::cargo(layout.root()).args(HOST_TEST_ARGS),
        "stage 1 (host unit tests)",
    )?;
    process::run(
        toolchain::cargo(layout.root()).args(PROGRAM_TEST_ARGS),
        "stage 1 (host unit tests of the user programs)",
    )?;

    say!(
        "stage 2 of 4: the normal and the test kernel, the initramfs, the rpi4 files and the SD \
         image"
    );
    for kind in [KernelKind::Normal, KernelKind::Test] {
        let kernel = build::kernel(layout, kind)?;
        for board in Board::ALL {
            build::install(layout, board, kind, &kernel)?;
        }
    }
    let programs = userland::build(layout)?;
    for board in Board::ALL {
        // The modules first: the initramfs carries them in /lib/modules.
        modules::build_all(layout, board)?;
        initramfs::install(layout, board, &programs, &[])?;
    }
    build::rpi4_boot_files(layout, options.firmware.as_deref())?;
    let dist = layout.board_dist(Board::Rpi4);
    let files: Vec<PathBuf> = image::BOOT_FILES.iter().map(|f| dist.join(f)).collect();
    image::write(&tools, &files, &layout.sd_image())?;
    say!("wrote {}", layout.show(&layout.sd_image()).display());

    say!("stage 3 of 4: QEMU integration tests");
    process::run(
        toolchain::cargo(layout.root())
            // Two QEMU machines at a time: more starve each other's virtual CPUs on a small
            // host, and the guests' timeouts (an SD transfer's 2 s) run on the host's clock.
            .args([
                "test",
                "--no-fail-fast",
                "--package",
                "keel-tests",
                "--",
                "--test-threads=2",
            ])
            .env("KEEL_DIST", layout.dist()),
        "stage 3 (QEMU integration tests)",
    )?;

    say!("stage 4 of 4: the quick benchmark runs and reports every figure (speed is not checked)");
    bench::smoke(layout, &programs)?;
    say!("all tests passed");
    Ok(())
}
