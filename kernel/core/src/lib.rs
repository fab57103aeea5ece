//! Pure kernel logic that runs the same on the host and in the kernel.
//!
//! # Architecture
//!
//! `keel-core` holds the parts of Keel that are plain computation over bytes, integers and
//! caller-provided memory: decoding exception syndromes ([`esr`]), building and walking AArch64
//! translation tables ([`pagetable`]), tracking physical memory before a heap exists
//! ([`ranges`]), the kernel log ring read by `dmesg` ([`logring`]), the embedded symbol table used
//! for backtraces ([`symbols`]), the boot command line ([`cmdline`]), timer arithmetic
//! ([`time`]), device-tree address translation ([`dtaddr`]), PCI enumeration and resource assignment
//! ([`pci`]) and removing the `FDT_NOP` tokens
//! some firmware leaves in device trees ([`fdtnop`]). For user processes it checks static ELF
//! executables before they are loaded ([`exec`]), lays out a new program's arguments and
//! environment on its stack ([`userstack`]), reads the files that name the modules to load at boot
//! ([`modindex`]), keeps each process's table of handles and their
//! rights ([`handles`]) and hands out ASIDs and pids ([`idalloc`]). Randomised tests across the
//! workspace share one seeded generator ([`xorshift`]). Nothing here touches system
//! registers or devices, so every module is unit-tested on the host with `cargo test -p
//! keel-core`; the kernel and the bootloader supply the hardware side (a table allocator, the
//! counter frequency, the device-tree bytes) and call in.
//!
//! The crate is `no_std` outside of tests. The `alloc` feature adds the helpers that need a heap:
//! encoding the symbol table and demangling names for the build tooling, and
//! `userstack::build` into a `Vec` for the kernel.
#![cfg_attr(not(test), no_std)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod cmdline;
pub mod dtaddr;
pub mod esr;
pub mod exec;
pub mod fdtnop;
pub mod handles;
pub mod idalloc;
pub mod logring;
pub mod modindex;
pub mod pagetable;
pub mod pci;
pub mod ranges;
pub mod symbols;
pub mod time;
pub mod userstack;
pub mod xorshift;
