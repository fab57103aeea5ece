//! QEMU test harness: boots the real Keel images from `target/dist/` and checks what they do.
//!
//! The integration tests in `tests/tests/` use it like this: pick a [`Machine`] and a [`Kernel`],
//! get a ready [`Qemu`] from [`boot`], adjust it (kernel command line, timeout), [`Qemu::run`] it,
//! then check the [`Outcome`]: QEMU's exit status first, the serial log second. Every failed
//! check prints the complete serial log.
//!
//! Artifacts come from `$KEEL_DIST` (default `<workspace>/target/dist`); `cargo xtask test` builds
//! them and sets the variable.

pub mod dist;
pub mod log;
pub mod outcome;
pub mod qemu;
pub mod scenario;
pub mod session;

pub use dist::Kernel;
pub use outcome::Outcome;
pub use qemu::{Machine, Qemu};
pub use session::Session;

/// A [`Qemu`] for `kernel` on `machine`, set up like every test boots it: the board's kernel image,
/// on raspi4b the device tree and the SD card image, and semihosting for test kernels only (so a
/// normal kernel can leave QEMU only through its real power-off path).
pub fn boot(machine: Machine, kernel: Kernel) -> Qemu {
    let mut qemu = Qemu::new(machine, dist::kernel_image(machine, kernel));
    if machine == Machine::Raspi4b {
        qemu = qemu.dtb(dist::rpi4_dtb()).sd_image(dist::sd_image());
    }
    qemu.semihosting(kernel == Kernel::Test)
}

/// A [`Session`] on the normal kernel with its initramfs: init starts the shell on the console.
pub fn boot_user_space(machine: Machine) -> Session {
    Session::start(&boot(machine, Kernel::Normal).initrd(dist::initramfs(machine)))
}
