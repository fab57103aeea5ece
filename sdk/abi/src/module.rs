//! The loadable-module contract: the runtime descriptor `__keel_module`, parameter descriptors, the
//! names of the sections a `.ko` carries, the error codes of module calls, and the relocation types a
//! `.ko` may contain.
//!
//! A module is one ELF64 relocatable object (`ET_REL`, `EM_AARCH64`). Before it relocates anything,
//! the loader reads three sections straight from the file:
//!
//! | section | holds | read with |
//! |---|---|---|
//! | [`MODINFO_SECTION`] | NUL-terminated `key=value` strings | [`crate::modinfo::parse`] |
//! | [`IMPORTS_SECTION`] | one [`SymbolSignature`](crate::signature::SymbolSignature) per function it may import | [`crate::signature::records`] |
//! | [`EXPORTS_SECTION`] | one record per function it exports to other modules | [`crate::signature::records`] |
//!
//! After linking, the loader finds the global symbol [`DESCRIPTOR_SYMBOL`], a [`ModuleDescriptor`].
//! See `docs/module-abi.md` for the whole contract.

use core::ffi::c_void;
use core::fmt;

/// The symbol of every module's [`ModuleDescriptor`].
pub const DESCRIPTOR_SYMBOL: &str = "__keel_module";
/// Section of NUL-terminated `key=value` metadata strings (Linux's `.modinfo`).
pub const MODINFO_SECTION: &str = ".modinfo";
/// Section of signature records, one per kernel or module function the module may import.
pub const IMPORTS_SECTION: &str = ".keel.imports";
/// Section of signature records, one per function the module exports to other modules.
pub const EXPORTS_SECTION: &str = ".keel.exports";

/// [`ModuleDescriptor::magic`]: the bytes `KEEL` read as a little-endian `u32`.
pub const DESCRIPTOR_MAGIC: u32 = u32::from_le_bytes(*b"KEEL");

/// The ABI version as the text of `.modinfo`'s `abi=` entry; always `ABI_VERSION` in decimal.
pub const ABI_VERSION_TEXT: &str = "1";
/// `.modinfo`'s `vermagic=` entry: what a module was built for. The loader compares it byte for
/// byte, like Linux's vermagic. The Rust compiler's version is deliberately not part of it: modules
/// talk to the kernel only through `extern "C"` functions and `#[repr(C)]` types.
pub const VERMAGIC: &str = "keel-abi-1 aarch64 softfloat";

/// An opaque token that names one loaded module; the kernel passes it to `init` and the module
/// hands it back to every export that acquires a resource for the module (MMIO mappings, IRQ
/// handlers, devices), so the kernel can release them when the module is unloaded or fails.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModuleHandle(pub usize);

/// A borrowed UTF-8 string passed across the ABI: pointer and length, no NUL terminator.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct StrRef {
    /// The first byte.
    pub ptr: *const u8,
    /// The length in bytes.
    pub len: usize,
}

impl StrRef {
    /// Borrows `text`.
    pub const fn new(text: &'static str) -> StrRef {
        StrRef {
            ptr: text.as_ptr(),
            len: text.len(),
        }
    }
}

// SAFETY: a `StrRef` in a module's statics points at immutable data (string literals, or strings the
// kernel owns and never changes while the module is loaded), so sharing it between cores is sound.
unsafe impl Sync for StrRef {}
// SAFETY: as for `Sync`: the bytes it points to are immutable for as long as the `StrRef` is used.
unsafe impl Send for StrRef {}

/// The runtime descriptor every module exports as the symbol [`DESCRIPTOR_SYMBOL`].
///
/// Layout (little-endian, 56 bytes, align 8):
///
/// | offset | field |
/// |---|---|
/// | 0 | `magic: u32` = [`DESCRIPTOR_MAGIC`] |
/// | 4 | `abi_version: u32` = [`crate::ABI_VERSION`] |
/// | 8 | `size: u32` = size of this struct |
/// | 12 | `param_count: u32` |
/// | 16 | `name: StrRef` (ptr, len) |
/// | 32 | `init: extern "C" fn(ModuleHandle) -> i32` |
/// | 40 | `exit: extern "C" fn()` |
/// | 48 | `params: *const ParamDesc` |
#[repr(C)]
pub struct ModuleDescriptor {
    /// [`DESCRIPTOR_MAGIC`].
    pub magic: u32,
    /// The [`crate::ABI_VERSION`] the module was built against.
    pub abi_version: u32,
    /// `size_of::<ModuleDescriptor>()` on the module's side, for later additions at the end.
    pub size: u32,
    /// Number of [`ParamDesc`] entries at [`ModuleDescriptor::params`].
    pub param_count: u32,
    /// The module's name; equal to `.modinfo`'s `name=`.
    pub name: StrRef,
    /// Called once after loading and after the parameters are written. Returns 0 on success or a
    /// negative [`ErrorCode`] (Linux style: `-19` for `ENODEV`); on failure the module is unloaded
    /// without calling `exit`.
    pub init: extern "C" fn(module: ModuleHandle) -> i32,
    /// Called once before the module's memory is freed, only if `init` succeeded.
    pub exit: extern "C" fn(),
    /// The module's parameters, `param_count` entries (dangling but non-null when there are none).
    pub params: *const ParamDesc,
}

// SAFETY: the descriptor is immutable; the pointers in it lead to immutable names and to parameter
// storage that only the kernel writes, before `init` runs and before any other code can see it.
unsafe impl Sync for ModuleDescriptor {}

/// The type of a parameter, as stored in [`ParamDesc::kind`].
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// `bool`; storage is one byte, 0 or 1. Accepted text: `1`/`0`, `y`/`n`, `true`/`false`,
    /// `on`/`off`, or just the name (`insmod m verbose`) for true.
    Bool = 0,
    /// `i64`; storage is an `i64`. Text: decimal, optionally `-`, or `0x` hexadecimal.
    I64 = 1,
    /// `u64`; storage is a `u64`. Text: decimal or `0x` hexadecimal.
    U64 = 2,
    /// `u32`; storage is a `u32`; values above `u32::MAX` are refused.
    U32 = 3,
    /// `&str`; storage is a [`StrRef`]. The kernel writes a pointer to a UTF-8 copy it owns and
    /// keeps until the module is unloaded.
    Str = 4,
}

impl ParamKind {
    /// The kind stored as `raw`, or `None` for a value this ABI does not know.
    pub fn from_raw(raw: u32) -> Option<ParamKind> {
        Some(match raw {
            0 => ParamKind::Bool,
            1 => ParamKind::I64,
            2 => ParamKind::U64,
            3 => ParamKind::U32,
            4 => ParamKind::Str,
            _ => return None,
        })
    }

    /// The kind named in a `parm=` entry of `.modinfo` (`bool`, `i64`, `u64`, `u32`, `str`).
    pub fn from_name(name: &str) -> Option<ParamKind> {
        Some(match name {
            "bool" => ParamKind::Bool,
            "i64" => ParamKind::I64,
            "u64" => ParamKind::U64,
            "u32" => ParamKind::U32,
            "str" => ParamKind::Str,
            _ => return None,
        })
    }

    /// The name used in `.modinfo` and the macro.
    pub const fn name(self) -> &'static str {
        match self {
            ParamKind::Bool => "bool",
            ParamKind::I64 => "i64",
            ParamKind::U64 => "u64",
            ParamKind::U32 => "u32",
            ParamKind::Str => "str",
        }
    }
}

/// One module parameter (32 bytes): where the kernel writes its value before calling `init`.
#[repr(C)]
#[derive(Debug)]
pub struct ParamDesc {
    /// The parameter's name, as given on the `insmod` command line (`name=value`).
    pub name: StrRef,
    /// A [`ParamKind`] as `u32`; read it with [`ParamKind::from_raw`] (never transmute).
    pub kind: u32,
    /// Zero; reserved for flags.
    pub flags: u32,
    /// The value's storage inside the module's writable data, of the type [`ParamKind`] names. It
    /// holds the default until the kernel overwrites it.
    pub storage: *mut c_void,
}

// SAFETY: the descriptor itself is immutable; `storage` is written only by the kernel before `init`
// runs, when no module code can run on any core.
unsafe impl Sync for ParamDesc {}

/// Result codes of module calls and kernel exports, numbered like Linux's errno values.
///
/// Across the ABI a status is an `i32`: 0 for success, the negated code for an error
/// ([`ErrorCode::to_status`], [`ErrorCode::check`]). The kernel team's `errno.rs` is the general
/// error type; this enum names the subset the module contract uses and keeps the same numbers.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `EPERM` (1): operation not permitted.
    NotPermitted = 1,
    /// `ENOENT` (2): no such entry (symbol, module, file).
    NotFound = 2,
    /// `EIO` (5): input/output error.
    Io = 5,
    /// `ENOEXEC` (8): not a valid module (bad ELF, magic, version, relocation).
    NotExecutable = 8,
    /// `ENOMEM` (12): out of memory.
    NoMemory = 12,
    /// `EFAULT` (14): bad address.
    BadAddress = 14,
    /// `EBUSY` (16): resource busy (IRQ line taken, module in use).
    Busy = 16,
    /// `EEXIST` (17): already exists (module loaded, device registered).
    Exists = 17,
    /// `ENODEV` (19): no such device.
    NoDevice = 19,
    /// `EINVAL` (22): invalid argument.
    InvalidArgument = 22,
    /// `ENOSYS` (38): function not implemented.
    NotImplemented = 38,
    /// `ETIMEDOUT` (110): timed out.
    TimedOut = 110,
    /// `ENOMEDIUM` (123): no medium (no card in the slot).
    NoMedium = 123,
}

impl ErrorCode {
    /// Every code, in numeric order.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::NotPermitted,
        ErrorCode::NotFound,
        ErrorCode::Io,
        ErrorCode::NotExecutable,
        ErrorCode::NoMemory,
        ErrorCode::BadAddress,
        ErrorCode::Busy,
        ErrorCode::Exists,
        ErrorCode::NoDevice,
        ErrorCode::InvalidArgument,
        ErrorCode::NotImplemented,
        ErrorCode::TimedOut,
        ErrorCode::NoMedium,
    ];

    /// The errno number (positive).
    pub const fn errno(self) -> i32 {
        self as i32
    }

    /// The code with errno number `errno` (positive), if this ABI names it.
    pub fn from_errno(errno: i32) -> Option<ErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|code| code.errno() == errno)
    }

    /// The ABI status for this error: `-errno`.
    pub const fn to_status(self) -> i32 {
        -(self as i32)
    }

    /// Reads an ABI status: 0 is `Ok`, `-errno` of a known code is that code, anything else
    /// (a positive value or an unknown number) is [`ErrorCode::Io`].
    pub fn check(status: i32) -> Result<(), ErrorCode> {
        match status {
            0 => Ok(()),
            negative if negative < 0 => {
                Err(ErrorCode::from_errno(negative.wrapping_neg()).unwrap_or(ErrorCode::Io))
            }
            _ => Err(ErrorCode::Io),
        }
    }

    /// The C name: `"ENODEV"`.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::NotPermitted => "EPERM",
            ErrorCode::NotFound => "ENOENT",
            ErrorCode::Io => "EIO",
            ErrorCode::NotExecutable => "ENOEXEC",
            ErrorCode::NoMemory => "ENOMEM",
            ErrorCode::BadAddress => "EFAULT",
            ErrorCode::Busy => "EBUSY",
            ErrorCode::Exists => "EEXIST",
            ErrorCode::NoDevice => "ENODEV",
            ErrorCode::InvalidArgument => "EINVAL",
            ErrorCode::NotImplemented => "ENOSYS",
            ErrorCode::TimedOut => "ETIMEDOUT",
            ErrorCode::NoMedium => "ENOMEDIUM",
        }
    }

    /// What the code means, as a phrase: `"no such device"`.
    pub const fn describe(self) -> &'static str {
        match self {
            ErrorCode::NotPermitted => "operation not permitted",
            ErrorCode::NotFound => "no such entry",
            ErrorCode::Io => "input/output error",
            ErrorCode::NotExecutable => "not a valid module",
            ErrorCode::NoMemory => "out of memory",
            ErrorCode::BadAddress => "bad address",
            ErrorCode::Busy => "resource busy",
            ErrorCode::Exists => "already exists",
            ErrorCode::NoDevice => "no such device",
            ErrorCode::InvalidArgument => "invalid argument",
            ErrorCode::NotImplemented => "function not implemented",
            ErrorCode::TimedOut => "timed out",
            ErrorCode::NoMedium => "no medium found",
        }
    }
}

impl fmt::Display for ErrorCode {
    /// `no such device (ENODEV, 19)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.describe(), self.name(), self.errno())
    }
}

/// What an IRQ handler returns (Linux's `irqreturn_t`).
pub mod irq_return {
    /// The interrupt was not raised by this handler's device.
    pub const NONE: u32 = 0;
    /// The handler serviced the interrupt.
    pub const HANDLED: u32 = 1;
}

/// Device classes for `keel_device_register`; each has its operation table in
/// [`crate::device`].
pub mod device_class {
    /// Serial terminals (`/dev/ttyN`).
    pub const TTY: u32 = 1;
    /// GPIO controllers.
    pub const GPIO: u32 = 2;
    /// Block devices.
    pub const BLOCK: u32 = 3;
}

/// The `log` levels of `keel_log_write`, numbered like `log::Level` (1 error .. 5 trace; 0 = off in
/// `keel_log_max_level`).
pub mod log_level {
    /// Logging is off (only as a maximum level).
    pub const OFF: u32 = 0;
    /// `log::Level::Error`.
    pub const ERROR: u32 = 1;
    /// `log::Level::Warn`.
    pub const WARN: u32 = 2;
    /// `log::Level::Info`.
    pub const INFO: u32 = 3;
    /// `log::Level::Debug`.
    pub const DEBUG: u32 = 4;
    /// `log::Level::Trace`.
    pub const TRACE: u32 = 5;
}

/// The AArch64 relocation types (ELF `r_type`) a `.ko` built with the SDK may contain (small code
/// model, static relocation model, `RELA`), with their names. `cargo xtask` refuses to produce a
/// module with any other type; the loader must apply all of these.
pub const RELOCATION_TYPES: &[(u32, &str)] = &[
    (257, "R_AARCH64_ABS64"),
    (258, "R_AARCH64_ABS32"),
    (261, "R_AARCH64_PREL32"),
    (262, "R_AARCH64_PREL16"),
    (275, "R_AARCH64_ADR_PREL_PG_HI21"),
    (277, "R_AARCH64_ADD_ABS_LO12_NC"),
    (278, "R_AARCH64_LDST8_ABS_LO12_NC"),
    (279, "R_AARCH64_TSTBR14"),
    (280, "R_AARCH64_CONDBR19"),
    (282, "R_AARCH64_JUMP26"),
    (283, "R_AARCH64_CALL26"),
    (284, "R_AARCH64_LDST16_ABS_LO12_NC"),
    (285, "R_AARCH64_LDST32_ABS_LO12_NC"),
    (286, "R_AARCH64_LDST64_ABS_LO12_NC"),
    (299, "R_AARCH64_LDST128_ABS_LO12_NC"),
];

/// The name of relocation type `r_type` if a module may contain it ([`RELOCATION_TYPES`]).
pub fn relocation_name(r_type: u32) -> Option<&'static str> {
    RELOCATION_TYPES
        .iter()
        .find(|(number, _)| *number == r_type)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn the_abi_version_text_and_vermagic_name_the_abi_version() {
        assert_eq!(ABI_VERSION_TEXT, crate::ABI_VERSION.to_string());
        assert!(VERMAGIC.starts_with(&std::format!("keel-abi-{} ", crate::ABI_VERSION)));
    }

    #[test]
    fn the_descriptor_layout_is_the_documented_one() {
        use core::mem::{offset_of, size_of};
        assert_eq!(size_of::<ModuleDescriptor>(), 56);
        assert_eq!(offset_of!(ModuleDescriptor, name), 16);
        assert_eq!(offset_of!(ModuleDescriptor, init), 32);
        assert_eq!(offset_of!(ModuleDescriptor, exit), 40);
        assert_eq!(offset_of!(ModuleDescriptor, params), 48);
        assert_eq!(size_of::<ParamDesc>(), 32);
        assert_eq!(offset_of!(ParamDesc, storage), 24);
        assert_eq!(&DESCRIPTOR_MAGIC.to_le_bytes(), b"KEEL");
    }

    #[test]
    fn error_codes_keep_linux_numbers_and_round_trip_as_statuses() {
        assert_eq!(ErrorCode::NoDevice.to_status(), -19);
        assert_eq!(ErrorCode::TimedOut.errno(), 110);
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::check(code.to_status()), Err(code));
        }
        assert_eq!(ErrorCode::check(0), Ok(()));
        assert_eq!(ErrorCode::check(-9999), Err(ErrorCode::Io));
        assert_eq!(ErrorCode::check(3), Err(ErrorCode::Io));
        assert_eq!(
            ErrorCode::NoDevice.to_string(),
            "no such device (ENODEV, 19)"
        );
    }

    #[test]
    fn param_kinds_round_trip() {
        for raw in 0..5 {
            let kind = ParamKind::from_raw(raw).unwrap();
            assert_eq!(kind as u32, raw);
            assert_eq!(ParamKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(ParamKind::from_raw(5), None);
    }
}
