//! The loadable-module engine: validates, lays out and links AArch64 ELF relocatable objects.
//!
//! # Architecture
//!
//! A Keel module is one ELF64 relocatable object (`NAME.ko`, `ET_REL`, `EM_AARCH64`). This
//! crate is the pure part of `insmod`: it reads the object's bytes and writes into memory the
//! caller provides, and touches no hardware, so all of it is tested on the host. The flow:
//!
//! ```text
//!  .ko bytes ──► Object::parse ──► Object::layout ──► (caller) allocate text/rodata/data
//!                 validate all,       sizes, aligns,       pages at chosen VAs, writable
//!                 relocation table    veneer room
//!                 (before the module's memory)
//!                                                      │
//!  run init ◄── (caller) cache maintenance, ◄── Object::link(&mut Image, resolve)
//!               page permissions W^X              copy, zero .bss, resolve imports,
//!                                                 relocate, veneers ──► Linked (exports)
//! ```
//!
//! 1. [`Object::parse`] checks the whole object (headers, tables, names, symbols, every
//!    relocation's type, symbol and bounds) before the module's memory is allocated, so a bad
//!    module is refused before the kernel spends memory on it. It reads each relocation of a
//!    loaded section once, into a table the layout and the link work from, and lists the
//!    imports (allocations bounded by the object's size). [`Object::imports`] lists what it
//!    needs.
//! 2. [`Object::layout`] groups the loaded (`SHF_ALLOC`) sections by permission: text (RX,
//!    `SHF_EXECINSTR`) with a veneer area at its end, rodata (R) and data (RW, `.bss` last),
//!    each honouring its sections' alignment.
//! 3. The caller allocates the three regions (page-aligned, so W^X can be enforced) and
//!    chooses the virtual addresses they will run at.
//! 4. [`Object::link`] (or [`Object::link_with`], given the layout of step 2 instead of computing
//!    it again) fills them: copies contents, zeroes `.bss`, resolves undefined symbols
//!    through the caller's resolver, applies every relocation (see [`SUPPORTED`]) and routes
//!    `CALL26`/`JUMP26` branches beyond ±128 MiB through veneers
//!    (`ldr x16, #8; br x16; .quad target`). The result, [`Linked`], lists the module's
//!    defined global symbols (its descriptor, its exports for other modules).
//! 5. The caller cleans the D-cache and invalidates the I-cache over the text region
//!    (`dc cvau` / `ic ivau` per line, `dsb ish`, `isb`), maps text RX, rodata R and data
//!    RW, and runs the module's `init`.
//!
//! Everything here treats the object as hostile: reads are bounds-checked, arithmetic is
//! checked or done in `i128`, and every failure is a [`LoadError`] naming what, where and
//! why. Nothing panics on any input.
//!
//! Decisions: `SHT_REL` (implicit addends) is refused, as LLVM emits `SHT_RELA` for AArch64;
//! GOT-generating and TLS relocations are refused (rustc does not emit them for
//! `aarch64-unknown-none*` with the static relocation model); an unresolved weak undefined
//! symbol links as 0. ADRP-based references to imported data reach ±4 GiB, so the kernel
//! must place modules within 4 GiB of the data it exports.
//!
//! # Tests
//!
//! `cargo test -p keel-modload` runs hand-built objects for each relocation type and each
//! malformed case, objects compiled by `rustc` for `aarch64-unknown-none-softfloat`, and a
//! short run of the mutation fuzzer. For a long fuzz run:
//!
//! ```text
//! KEEL_FUZZ_ITERS=1000000 CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true \
//!     cargo test -p keel-modload --release --test fuzz -- --nocapture
//! ```
//!
//! Keep overflow checks on (the dev profile has them; the release profile needs the variable
//! above) so an arithmetic overflow shows up as a panic. `KEEL_FUZZ_SEED` picks another seed;
//! a crashing input is saved under `target/tmp/`.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod elf;
mod error;
mod layout;
mod link;
mod object;
mod prelink;
mod reloc;

pub use error::{LoadError, RelocProblem};
pub use layout::{Layout, Span, MAX_GROUP_SIZE, PAGE_SIZE, VENEER_SIZE};
pub use link::{DefinedSymbol, Function, Image, Linked, SymbolKind, VENEER_BR_X16, VENEER_LDR_X16};
pub use object::{Import, Object, MAX_SECTION_ALIGN, PRELINKED_SECTION, RELATIVE_SECTION};
pub use reloc::{RelocName, R_AARCH64_PLT32, SUPPORTED};
