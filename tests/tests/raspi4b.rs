//! QEMU `raspi4b` with the Pi 4 device tree and the SD card image: the test kernel's scenarios and
//! the normal kernel's power-off.

use keel_tests::{scenario, Machine};

#[test]
fn in_kernel_tests_pass() {
    scenario::in_kernel_tests_pass(Machine::Raspi4b);
}

/// The firmware's property interface answers through the mailbox (QEMU gives EMMC2's clock as
/// 700 MHz).
#[test]
fn the_firmware_mailbox_answers() {
    let run = keel_tests::boot(Machine::Raspi4b, keel_tests::Kernel::Test).run();
    run.assert_exit(keel_abi::test_exit::PASS);
    run.assert_log("ktest", "firmware: clock 12 runs at 700000000 Hz");
}

#[test]
fn a_kernel_fault_is_reported() {
    scenario::fault_is_reported(Machine::Raspi4b);
}

#[test]
fn a_kernel_stack_overflow_is_reported() {
    scenario::stack_overflow_is_reported(Machine::Raspi4b);
}

#[test]
fn a_kernel_panic_is_reported() {
    scenario::panic_is_reported(Machine::Raspi4b);
}

#[test]
fn the_normal_kernel_powers_off_through_the_pm_watchdog() {
    scenario::normal_kernel_powers_off(Machine::Raspi4b);
}
