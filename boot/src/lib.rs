//! Keel's first instructions and the address-space layout they set up.
//!
//! `entry.s` holds the arm64 Image header and the code that runs with the MMU off: it moves any
//! entry exception level (EL3, EL2 or EL1) down to EL1, parks every core but the first, zeroes
//! `.bss`, and calls [`early::early_mmu_setup`] to build the boot translation tables. It then turns
//! the MMU and caches on and jumps to the kernel's linked address in the upper half, where the
//! kernel crate's `kernel_main` takes over.
//!
//! Virtual layout (48-bit, 4 KiB granule, TTBR1 for the kernel, TTBR0 left for user space):
//! ```text
//! 0xFFFF_0000_0000_0000  direct map: physical address P is visible at DIRECT_MAP_BASE + P
//!                        (RAM as Normal memory, device registers as Device memory, on demand)
//! 0xFFFF_FFFF_8000_0000  the kernel image (KERNEL_VA): text RX, rodata R, data/bss RW,
//!                        an unmapped guard page, then the boot stack
//! ```
#![no_std]

pub mod early;
pub mod layout;

core::arch::global_asm!(include_str!("entry.s"));
