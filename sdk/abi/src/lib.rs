//! Definitions shared by the Keel kernel, its loadable modules, user programs and the host tools.
//!
//! Everything here is `#[repr(C)]` or a plain constant so that every side compiles against the same
//! source of truth. The kernel, the SDK and `xtask` all depend on this crate.
#![no_std]
#![deny(missing_docs)]

pub mod bytes;
pub mod device;
pub mod errno;
pub mod exports;
pub mod ipc;
pub mod modinfo;
pub mod module;
pub mod signature;
pub mod syscall;
pub mod test_exit;
pub mod types;

/// Version of the kernel/module/user ABI described by this crate. Bumped on every incompatible change.
pub const ABI_VERSION: u32 = 1;

pub use errno::Errno;
