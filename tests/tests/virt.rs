//! QEMU `virt` (four Cortex-A72, 1 GiB): the test kernel's scenarios and the normal kernel's power-off.

use keel_tests::{scenario, Machine};

#[test]
fn in_kernel_tests_pass() {
    scenario::in_kernel_tests_pass(Machine::Virt);
}

#[test]
fn a_kernel_fault_is_reported() {
    scenario::fault_is_reported(Machine::Virt);
}

#[test]
fn a_kernel_stack_overflow_is_reported() {
    scenario::stack_overflow_is_reported(Machine::Virt);
}

#[test]
fn a_kernel_panic_is_reported() {
    scenario::panic_is_reported(Machine::Virt);
}

#[test]
fn the_normal_kernel_powers_off_through_psci() {
    scenario::normal_kernel_powers_off(Machine::Virt);
}

/// With an SDHCI host on the PCI bus, the kernel scans ECAM, assigns BAR0 inside the 32-bit
/// window, routes INTA through the host bridge's `interrupt-map`, and the in-kernel tests reach
/// the controller's registers through that BAR.
#[test]
fn pci_devices_get_their_resources() {
    let run = keel_tests::boot(Machine::Virt, keel_tests::Kernel::Test)
        .extra(["-device", "sdhci-pci,addr=0x3"].map(String::from))
        .run();
    run.assert_exit(keel_abi::test_exit::PASS);
    // Slot 3, INTA: SPI 3 + (3 + 1 - 1) % 4 = 6, interrupt ID 38.
    run.assert_log(
        "pci",
        "00:03.0 1b36:0007 class 080501 BAR0 mem32 0x10000000 (256 bytes) irq 38",
    );
    run.assert_log("pci", "00:00.0 1b36:0008 class 060000");
    run.assert_log("ktest", "00:03.0: SDHCI version register");
    // The boot loader's PCI modalias matcher finds the host by id and by class.
    run.assert_log("ktest", "module_modalias_pci ... ok");
    run.assert_ktest_summary();
}
