//! Module parameters: typed storage the kernel fills from the `insmod` command line before `init`.
//!
//! [`module!`](crate::module) generates one [`Param`] per declared parameter and a function
//! `params::NAME()` that reads it; modules never touch [`Param`] directly.

use core::cell::UnsafeCell;
use core::ffi::c_void;

use keel_abi::module::{ParamKind, StrRef};

/// A type a parameter can have: `bool`, `i64`, `u64`, `u32` or `&'static str`.
pub trait ParamType: Copy + 'static {
    /// What the kernel writes: the ABI storage type of [`ParamType::KIND`].
    type Storage: 'static;
    /// The kind recorded in the descriptor.
    const KIND: ParamKind;
    /// Reads a value from its storage.
    fn read(storage: &Self::Storage) -> Self;
}

impl ParamType for bool {
    type Storage = u8;
    const KIND: ParamKind = ParamKind::Bool;
    fn read(storage: &u8) -> bool {
        *storage != 0
    }
}

impl ParamType for i64 {
    type Storage = i64;
    const KIND: ParamKind = ParamKind::I64;
    fn read(storage: &i64) -> i64 {
        *storage
    }
}

impl ParamType for u64 {
    type Storage = u64;
    const KIND: ParamKind = ParamKind::U64;
    fn read(storage: &u64) -> u64 {
        *storage
    }
}

impl ParamType for u32 {
    type Storage = u32;
    const KIND: ParamKind = ParamKind::U32;
    fn read(storage: &u32) -> u32 {
        *storage
    }
}

impl ParamType for &'static str {
    type Storage = StrRef;
    const KIND: ParamKind = ParamKind::Str;
    fn read(storage: &StrRef) -> &'static str {
        // SAFETY: the storage holds either the default (a string literal) or a string the kernel
        // copied and keeps until the module is unloaded (the ABI contract of `ParamKind::Str`).
        let bytes = unsafe { core::slice::from_raw_parts(storage.ptr, storage.len) };
        // The kernel promises UTF-8; should it break that promise, the module sees an empty value
        // rather than invalid text.
        core::str::from_utf8(bytes).unwrap_or("")
    }
}

/// The storage of one parameter, written by the kernel before `init` and read-only afterwards.
pub struct Param<T: ParamType> {
    storage: UnsafeCell<T::Storage>,
}

// SAFETY: the kernel writes the storage only before `init` runs, when no code of the module runs on
// any core; afterwards it is only read.
unsafe impl<T: ParamType> Sync for Param<T> {}

impl<T: ParamType> Param<T> {
    /// A parameter holding `default` until the kernel writes a value.
    #[doc(hidden)]
    pub const fn new(default: T::Storage) -> Self {
        Param {
            storage: UnsafeCell::new(default),
        }
    }

    /// Where the kernel writes the value (for the descriptor).
    #[doc(hidden)]
    pub const fn storage(&self) -> *mut c_void {
        self.storage.get().cast()
    }

    /// The parameter's value.
    pub fn get(&self) -> T {
        // SAFETY: see the `Sync` impl: no one writes the storage while module code runs.
        T::read(unsafe { &*self.storage.get() })
    }
}

/// The storage value for a default: `bool` becomes a byte, `&str` a `StrRef`.
#[doc(hidden)]
pub const fn bool_storage(value: bool) -> u8 {
    value as u8
}

/// The storage value for a `&str` default.
#[doc(hidden)]
pub const fn str_storage(value: &'static str) -> StrRef {
    StrRef::new(value)
}
