//! Bulk copies of kernel memory, 32 bytes per loop iteration.
//!
//! The kernel's target forbids the compiler unaligned accesses, so the `memcpy` it links copies
//! a word at a time at best (about two bytes per instruction). The MMU is on and alignment
//! checks are off (`SCTLR_EL1.A` is clear), so on normal memory a pair load or store may be
//! unaligned: [`copy`] moves four registers per iteration whatever the alignment (about five
//! bytes per instruction), for copies large enough to be worth it.

/// Copies `len` bytes from `src` to `dst`.
///
/// # Safety
/// `src` must be valid for reading and `dst` for writing `len` bytes, both in normal (not
/// device) memory, and the two ranges must not overlap.
pub unsafe fn copy(dst: *mut u8, src: *const u8, len: usize) {
    let bulk = len & !31;
    if bulk > 0 {
        // SAFETY: the caller guarantees both ranges cover `len >= bulk` bytes of normal memory
        // and do not overlap; unaligned pair accesses are allowed there (see the module text).
        unsafe {
            core::arch::asm!(
                "1:",
                "ldp {a}, {b}, [{src}], #16",
                "ldp {c}, {d}, [{src}], #16",
                "stp {a}, {b}, [{dst}], #16",
                "stp {c}, {d}, [{dst}], #16",
                "subs {n}, {n}, #32",
                "b.ne 1b",
                src = inout(reg) src => _,
                dst = inout(reg) dst => _,
                n = inout(reg) bulk => _,
                a = out(reg) _,
                b = out(reg) _,
                c = out(reg) _,
                d = out(reg) _,
                options(nostack),
            );
        }
    }
    // SAFETY: the rest of the ranges the caller guarantees, after the `bulk` bytes copied.
    unsafe { core::ptr::copy_nonoverlapping(src.add(bulk), dst.add(bulk), len - bulk) };
}
