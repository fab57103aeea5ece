//! Exit statuses a test build of the kernel reports to QEMU through semihosting `SYS_EXIT`.
//!
//! Only test builds (`--features qemu-test`) ever report a status this way; normal builds power off
//! through PSCI or the Pi 4 watchdog and never execute a semihosting instruction.

/// Every in-kernel test passed (or the requested scenario ended as expected).
pub const PASS: u8 = 0;
/// At least one in-kernel test failed.
pub const FAIL: u8 = 1;
/// The kernel took an unhandled fault and printed a fault report.
pub const FAULT: u8 = 2;
/// The kernel panicked and printed the location and message.
pub const PANIC: u8 = 3;

/// The name of a status, for messages on the host side.
pub fn name(status: u8) -> &'static str {
    match status {
        PASS => "pass",
        FAIL => "fail",
        FAULT => "kernel fault",
        PANIC => "kernel panic",
        _ => "unknown",
    }
}
