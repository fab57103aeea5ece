//! Arm semihosting, used only by test builds to hand QEMU an exit status.
//!
//! Normal builds do not contain this module: on real hardware the `HLT #0xF000` instruction traps.

/// Ends the QEMU run with `status` through semihosting `SYS_EXIT` (extended form).
pub fn exit(status: u8) -> ! {
    const SYS_EXIT: u64 = 0x18;
    const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;
    let block = [ADP_STOPPED_APPLICATION_EXIT, u64::from(status)];
    // SAFETY: the parameter block lives on this stack for the duration of the call; QEMU reads it
    // and stops the machine.
    unsafe {
        core::arch::asm!(
            "hlt #0xf000",
            in("x0") SYS_EXIT,
            in("x1") block.as_ptr(),
            options(nostack)
        );
    }
    crate::arch::halt()
}
