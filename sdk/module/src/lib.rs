//! The SDK for Keel's loadable kernel modules.
//!
//! A module is a `no_std` library crate that depends on this crate (and, if it wants, on `log`),
//! declares itself with [`module!`], and is built by `cargo xtask module --path DIR` (or, in the
//! tree, `cargo xtask build`) into one ELF relocatable object `NAME.ko`. The SDK provides what a
//! module needs from the kernel, each through the kernel's versioned `extern "C"` exports:
//!
//! - a `log` backend: `log::info!` lands in the kernel log, with the module's name as target;
//! - a `#[global_allocator]` on the kernel heap, so `alloc` (`Box`, `Vec`, ...) works;
//! - a panic handler that reports to the kernel, which marks the module failed (it never returns
//!   to the module);
//! - safe handles: [`Mmio`] for device registers (works with `tock_registers::register_structs!`),
//!   [`IrqRegistration`] for interrupt handlers (the top half), [`Work`] for bottom halves run in
//!   the kernel's work thread, [`Device`] for `/dev` nodes, all undone on drop;
//! - device classes as safe traits ([`device::GpioChip`], [`device::TtyDriver`],
//!   [`device::BlockDevice`]) from which the SDK builds the kernel's operation tables;
//! - the device-tree nodes the module's `compatible` strings match, with their resources
//!   ([`platform::devices`]);
//! - typed parameters with defaults, read through generated functions `params::NAME()`;
//! - typed errors ([`Error`]), numbered like Linux's errno values;
//! - [`export!`] and [`import!`] for functions shared between modules.
//!
//! ```ignore
//! #![no_std]
//! #![forbid(unsafe_code)]
//!
//! keel_module::module! {
//!     name: "hello",
//!     version: "1.0.0",
//!     license: "MIT OR Apache-2.0",
//!     author: "Keel",
//!     description: "Says hello",
//!     depends: [],
//!     compatible: [],
//!     params: {
//!         greeting: str = "hello" => "what to say",
//!         count: u32 = 1 => "how many times",
//!     },
//!     init: hello_init,
//!     exit: hello_exit,
//! }
//!
//! fn hello_init() -> Result<(), keel_module::Error> {
//!     for _ in 0..params::count() {
//!         log::info!("{}", params::greeting());
//!     }
//!     Ok(())
//! }
//!
//! fn hello_exit() {
//!     log::info!("goodbye");
//! }
//! ```
//!
//! The examples in this crate are marked `ignore` because a module only links against a kernel.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod device;
pub mod firmware;
pub mod irq;
mod macros;
pub mod mmio;
pub mod param;
pub mod platform;
pub mod rt;
pub mod sys;
pub mod time;
pub mod work;

pub use device::Device;
pub use irq::{IrqRegistration, IrqReturn};
pub use mmio::Mmio;
pub use platform::PlatformDevice;
pub use work::Work;

/// The ABI crate, for the generated code and for modules that need its raw definitions.
pub use keel_abi as abi;
/// `tock-registers`, so modules describe register blocks without another dependency.
pub use tock_registers;

/// The error type of module calls: the Linux-numbered codes of the module ABI.
///
/// ```ignore
/// fn init() -> Result<(), keel_module::Error> {
///     Err(keel_module::Error::NoDevice) // the loader reports "init failed: no such device (ENODEV, 19)"
/// }
/// ```
pub use keel_abi::module::ErrorCode as Error;

/// `Result` with [`Error`].
pub type Result<T = (), E = Error> = core::result::Result<T, E>;

/// Re-exports for the macros' generated code; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use keel_abi;
}
