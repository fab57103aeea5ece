//! The user-space runtime of Keel: what every EL0 program links against.
//!
//! It provides the program entry (`_start`, which builds [`Args`] and [`Env`] and calls your
//! `main`), typed wrappers for every system call of [`keel_abi::syscall`] grouped by subject
//! ([`process`], [`mem`], [`fs`], [`tty`], [`ipc`], [`time`], [`klog`], [`power`], [`module`]),
//! the raw `svc #0` wrappers ([`raw`]), [`print!`]/[`println!`]/[`eprint!`]/[`eprintln!`], a
//! global allocator that grows by `MMAP`, and a panic handler that prints
//! `NAME: panicked at FILE:LINE: MSG` to stderr and exits with status 101.
//!
//! A program is an ordinary `no_std` binary crate of a few lines, linked with `sdk/user/link.ld`:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//!
//! keel_user::main!(main);
//!
//! fn main(args: keel_user::Args) -> i32 {
//!     keel_user::println!("hello {}", args.len());
//!     0
//! }
//! ```
//!
//! `main` may also return `()` or `Result<(), E>` with `E: Display`: an error is printed as
//! `NAME: ERROR` on stderr and the program exits with status 1.
//!
//! Build with
//! `RUSTFLAGS="-C link-arg=-T.../sdk/user/link.ld -C relocation-model=static"`
//! `cargo build --release --target aarch64-unknown-none -p NAME`.
//!
//! On a host target (for `cargo test` of the pure logic of a program's library) the crate compiles
//! too, but without the entry, allocator and panic handler, and every system call fails with
//! `ENOSYS`.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod env;
pub mod fs;
pub mod gpio;
pub mod io;
pub mod ipc;
pub mod klog;
pub mod mem;
pub mod module;
pub mod power;
pub mod process;
pub mod raw;
pub mod rt;
pub mod time;
pub mod tty;

pub use env::{Args, Env};
pub use keel_abi as abi;
pub use rt::Termination;

/// The error type of every wrapper: a kernel error number, shown as
/// `"no such file or directory (ENOENT)"`.
pub use keel_abi::Errno as Error;

/// The result type of every wrapper.
pub type Result<T> = core::result::Result<T, Error>;

/// Declares the program's `main` function.
///
/// `main` takes an [`Args`] and returns anything that implements [`Termination`]: `i32` (the
/// exit status), `()` (status 0) or `Result<(), E: Display>` (status 0, or the error printed as
/// `NAME: ERROR` on stderr and status 1).
///
/// ```ignore
/// keel_user::main!(main);
/// fn main(args: keel_user::Args) -> i32 { 0 }
/// ```
#[macro_export]
macro_rules! main {
    ($main:path) => {
        /// Called by the runtime's `_start` with the registers the kernel set up.
        ///
        /// # Safety
        /// Only `_start` calls it, with the kernel's `argc`/`argv`/`envc`/`envp`.
        #[cfg(all(target_arch = "aarch64", target_os = "none"))]
        #[unsafe(no_mangle)]
        unsafe extern "C" fn __keel_main(
            argc: usize,
            argv: *const $crate::abi::types::UserSlice,
            envc: usize,
            envp: *const $crate::abi::types::UserSlice,
        ) -> ! {
            // SAFETY: `_start` passes the registers the kernel set up at entry: `argc`/`envc`
            // slices that stay valid (on the initial stack) for the whole life of the program.
            unsafe { $crate::rt::start(argc, argv, envc, envp, $main) }
        }
    };
}
