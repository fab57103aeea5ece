//! `cargo xtask run`: boot a freshly built kernel in QEMU with the terminal attached.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use keel_tests::{Machine, Qemu};

use crate::build;
use crate::cli::{Board, KernelKind, RunOptions};
use crate::error::{Error, Result};
use crate::image;
use crate::layout::{Layout, DTB_NAME, IMAGE_NAME};
use crate::prereq::{self, QEMU};
use crate::process;

/// One QEMU boot of a Keel kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Boot {
    /// The machine.
    pub board: Board,
    /// The raw kernel image.
    pub kernel: PathBuf,
    /// The device tree (raspi4b has none built in).
    pub dtb: Option<PathBuf>,
    /// The initramfs (`-initrd`).
    pub initrd: Option<PathBuf>,
    /// The SD card image (raspi4b).
    pub sd_image: Option<PathBuf>,
    /// Semihosting, for test kernels only: they report their result as QEMU's exit status.
    pub semihosting: bool,
    /// The kernel command line.
    pub append: Option<String>,
    /// More QEMU arguments, appended last.
    pub extra: Vec<String>,
}

impl Boot {
    /// QEMU's arguments (without the program name), serial console and monitor on the terminal.
    pub fn arguments(&self) -> Vec<String> {
        let machine = match self.board {
            Board::Virt => Machine::Virt,
            Board::Rpi4 => Machine::Raspi4b,
        };
        let mut qemu = Qemu::new(machine, &self.kernel)
            .interactive()
            .semihosting(self.semihosting)
            .extra(self.extra.iter().cloned());
        if let Some(dtb) = &self.dtb {
            qemu = qemu.dtb(dtb);
        }
        if let Some(initrd) = &self.initrd {
            qemu = qemu.initrd(initrd);
        }
        if let Some(sd) = &self.sd_image {
            qemu = qemu.sd_image(sd);
        }
        if let Some(append) = &self.append {
            qemu = qemu.append(append.clone());
        }
        qemu.args()
    }
}

/// `cargo xtask run`: builds, prints the QEMU command line, runs it and returns QEMU's status.
pub fn run(layout: &Layout, options: &RunOptions) -> Result<ExitCode> {
    let build = &options.build;
    let sd_tools = match build.board {
        Board::Virt => {
            prereq::qemu()?;
            None
        }
        Board::Rpi4 => Some(prereq::everything()?),
    };
    let sd_image = match &sd_tools {
        Some(tools) => {
            let out = layout.sd_image();
            image::build_and_write(layout, tools, build.firmware.as_deref(), &build.add, &out)?;
            Some(out)
        }
        None => None,
    };
    // The SD image step already built the normal rpi4 kernel.
    if !(build.board == Board::Rpi4 && build.kernel == KernelKind::Normal) {
        build::build(layout, build)?;
    }

    let dist = layout.kernel_dist(build.board, build.kernel);
    let boot = Boot {
        board: build.board,
        kernel: layout.show(&dist.join(IMAGE_NAME)),
        dtb: (build.board == Board::Rpi4)
            .then(|| layout.show(&layout.board_dist(Board::Rpi4).join(DTB_NAME))),
        initrd: Some(layout.show(&layout.initramfs(build.board))),
        sd_image: sd_image.map(|sd| layout.show(&sd)),
        semihosting: build.kernel == KernelKind::Test,
        append: options.append.clone(),
        extra: options.qemu_args.clone(),
    };
    let mut qemu = Command::new(QEMU);
    qemu.args(boot.arguments()).current_dir(layout.root());
    say!(
        "running QEMU (quit: Ctrl-A X) in {}:",
        layout.root().display()
    );
    eprintln!("{}", process::describe(&qemu));
    let status = qemu.status().map_err(|source| Error::Spawn {
        program: QEMU.to_string(),
        source,
        hint: Some("install it with `sudo cargo xtask setup`".to_string()),
    })?;
    if !status.success() {
        say!("QEMU {}", process::describe_status(status));
    }
    Ok(exit_code(status))
}

/// The exit code that passes on `status`: its own code, or 128 + the signal that ended it.
fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot(board: Board) -> Boot {
        Boot {
            board,
            kernel: "target/dist/virt/kernel8.img".into(),
            dtb: None,
            initrd: None,
            sd_image: None,
            semihosting: false,
            append: None,
            extra: Vec::new(),
        }
    }

    #[test]
    fn virt_runs_four_a72s_with_a_reproducible_device_tree() {
        let line = process::quote_all(&boot(Board::Virt).arguments());
        assert_eq!(
            line,
            "-M virt,dtb-randomness=off -cpu cortex-a72 -smp 4 -m 1G -nic none \
             -kernel target/dist/virt/kernel8.img -serial mon:stdio -display none"
        );
    }

    #[test]
    fn raspi4b_gets_the_device_tree_and_the_sd_card() {
        let boot = Boot {
            kernel: "target/dist/rpi4/test/kernel8.img".into(),
            dtb: Some("target/dist/rpi4/bcm2711-rpi-4-b.dtb".into()),
            initrd: Some("target/dist/rpi4/initramfs.cpio".into()),
            sd_image: Some("target/dist/rpi4/keel-rpi4.img".into()),
            semihosting: true,
            append: Some("keel.test=fault".into()),
            extra: vec!["-d".into(), "int".into()],
            ..boot(Board::Rpi4)
        };
        assert_eq!(
            process::quote_all(&boot.arguments()),
            "-M raspi4b -m 2G -kernel target/dist/rpi4/test/kernel8.img \
             -dtb target/dist/rpi4/bcm2711-rpi-4-b.dtb \
             -initrd target/dist/rpi4/initramfs.cpio \
             -drive if=sd,format=raw,file=target/dist/rpi4/keel-rpi4.img \
             -serial mon:stdio -display none -semihosting -append keel.test=fault -d int"
        );
    }

    #[test]
    fn semihosting_only_when_asked() {
        assert!(!boot(Board::Virt)
            .arguments()
            .contains(&"-semihosting".to_string()));
    }
}
