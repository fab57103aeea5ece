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
