//! The raw kernel exports, declared from the ABI crate's one export list, and the module's record
//! of their signature hashes in `.keel.imports`.
//!
//! Everything here is `unsafe` to call; the rest of the SDK wraps it in safe types. Each function's
//! contract is documented in [`keel_abi::for_each_kernel_export`] and `docs/module-abi.md`.

use core::ffi::c_void;

use keel_abi::device::{PciDevice, PlatformDevice};
use keel_abi::exports;
use keel_abi::module::ModuleHandle;
use keel_abi::signature::SymbolSignature;

/// Declares the kernel's exports as `extern "C"` functions.
macro_rules! declare_imports {
    ($(
        $(#[$meta:meta])*
        fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) $(-> $ret:ty)? ;
    )*) => {
        extern "C" {
            $(
                $(#[$meta])*
                pub fn $name($($arg: $ty),*) $(-> $ret)?;
            )*
        }
    };
}

keel_abi::for_each_kernel_export!(declare_imports);

/// The signature hash of every kernel export, as this module was compiled against them. The loader
/// checks the record of each kernel function the module actually imports against its own table.
#[used]
#[link_section = ".keel.imports"]
static KERNEL_IMPORTS: [SymbolSignature; exports::COUNT] = exports::SIGNATURES;

// The list's types must resolve here.
const _: Option<(ModuleHandle, *const c_void, PlatformDevice)> = None;
