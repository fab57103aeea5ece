//! The boot scenarios every machine goes through; `tests/tests/*.rs` run them per machine.
//!
//! Each scenario checks QEMU's exit status first and the serial log second, following the kernel
//! contract: `keel.test=NAME` selects in-kernel scenarios of the test kernel, `keel.halt=poweroff`
//! makes the normal kernel power off once booted, and test kernels exit through semihosting with
//! a `keel_abi::test_exit` status.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use keel_abi::test_exit;

use crate::{boot, dist, Kernel, Machine, Qemu};

/// What the kernel has to report about the machine it booted on.
struct Expected {
    /// Part of the device tree's model, printed as `board: <model>`.
    model: &'static str,
    /// The RAM size line: `mm: RAM <N> MiB`.
    ram: &'static str,
}

fn expected(machine: Machine) -> Expected {
    match machine {
        Machine::Virt => Expected {
            model: "linux,dummy-virt",
            ram: "RAM 1024 MiB",
        },
        // QEMU rewrites the device tree's /memory to 960 MiB, although the machine has 2 GiB.
        Machine::Raspi4b => Expected {
            model: "Raspberry Pi 4 Model B",
            ram: "RAM 960 MiB",
        },
    }
}

/// The test kernel with no `keel.test` runs every in-kernel test, reports the machine and exits PASS.
pub fn in_kernel_tests_pass(machine: Machine) {
    let run = boot(machine, Kernel::Test).run();
    run.assert_exit(test_exit::PASS);
    let expected = expected(machine);
    run.assert_any_log("Keel");
    run.assert_log("board", expected.model);
    run.assert_log("cpu", "Cortex-A72");
    run.assert_log("mm", expected.ram);
    run.assert_log("timer", "CNTFRQ 62500000 Hz");
    run.assert_ktest_summary();
}

/// `keel.test=fault` dereferences an unmapped kernel address: a fault report and exit FAULT.
pub fn fault_is_reported(machine: Machine) {
    let run = boot(machine, Kernel::Test).append("keel.test=fault").run();
    run.assert_exit(test_exit::FAULT);
    for needle in [
        "Data Abort",
        "FAR",
        "ELR",
        "backtrace",
        "keel::ktest::deliberate_fault",
    ] {
        run.assert_output_contains(needle);
    }
}

/// `keel.test=stack-overflow` recurses into the boot stack's guard page: the exception entry
/// notices, switches to the overflow stack and reports, and the test kernel exits FAULT.
pub fn stack_overflow_is_reported(machine: Machine) {
    let run = boot(machine, Kernel::Test)
        .append("keel.test=stack-overflow")
        .run();
    run.assert_exit(test_exit::FAULT);
    for needle in [
        "kernel stack overflow",
        "Data Abort",
        "keel::ktest::deliberate_recursion",
    ] {
        run.assert_output_contains(needle);
    }
}

/// `keel.test=panic` panics on purpose: the message with its source location and exit PANIC.
pub fn panic_is_reported(machine: Machine) {
    let run = boot(machine, Kernel::Test).append("keel.test=panic").run();
    run.assert_exit(test_exit::PANIC);
    run.assert_output_contains("panicked at");
    run.assert_source_location();
}

/// The normal kernel, without semihosting, powers off with `keel.halt=poweroff`: QEMU exits 0.
/// This is the real PSCI (virt) or PM watchdog (raspi4b) path.
pub fn normal_kernel_powers_off(machine: Machine) {
    let run = boot(machine, Kernel::Normal)
        .append("keel.halt=poweroff")
        .run();
    assert!(
        !run.command.contains("-semihosting"),
        "normal kernels must boot without semihosting: {}",
        run.command
    );
    run.assert_exit(0);
    run.assert_output_contains("power: off");
}

/// A fresh, empty scratch directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("keel-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("could not create {}: {e}", dir.display()));
    dir
}

/// Copies `file` from the SD image's boot partition to `dest` with mtools.
fn copy_from_sd_image(image: &Path, file: &str, dest: &Path) {
    let output = Command::new("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(format!("{}@@1M", image.display()))
        .arg(format!("::/{file}"))
        .arg(dest)
        .output()
        .unwrap_or_else(|e| {
            panic!("could not start mcopy: {e} (install it: `sudo apt-get install mtools`)")
        });
    assert!(
        output.status.success(),
        "mcopy could not take {file} out of {}: {}",
        image.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The kernel and device tree on the SD image's FAT partition boot on raspi4b and power off.
pub fn sd_image_boots() {
    let image = dist::sd_image();
    let dir = scratch_dir("sd-image");
    let (kernel, dtb) = (dir.join("kernel8.img"), dir.join("bcm2711-rpi-4-b.dtb"));
    copy_from_sd_image(&image, "kernel8.img", &kernel);
    copy_from_sd_image(&image, "bcm2711-rpi-4-b.dtb", &dtb);
    let run = Qemu::new(Machine::Raspi4b, &kernel)
        .dtb(&dtb)
        .sd_image(&image)
        .append("keel.halt=poweroff")
        .run();
    // Remove the copies before judging, so a failed check leaves nothing behind.
    let _ = std::fs::remove_dir_all(&dir);
    run.assert_exit(0);
    run.assert_output_contains("power: off");
}
