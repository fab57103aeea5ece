//! Kernel modules: load, unload, list. Loading and unloading need
//! [`keel_abi::types::CAP_MODULES`].

use crate::raw;
use alloc::string::String;
use alloc::vec::Vec;
use keel_abi::syscall;
use keel_abi::types::{module_state, ModuleInfo};

/// Loads the module `image` (the bytes of a `.ko`) with `params`, a space-separated `k=v` list.
pub fn init_module(image: &[u8], params: &str) -> crate::Result<()> {
    // SAFETY: the kernel only reads `image` and `params`.
    let r = unsafe {
        raw::syscall4(
            syscall::INIT_MODULE,
            image.as_ptr() as u64,
            image.len() as u64,
            params.as_ptr() as u64,
            params.len() as u64,
        )
    };
    raw::check(r).map(drop)
}

/// Unloads the module `name` (`flags`: 0).
pub fn delete_module(name: &str, flags: u64) -> crate::Result<()> {
    // SAFETY: the kernel only reads `name`.
    let r = unsafe {
        raw::syscall3(
            syscall::DELETE_MODULE,
            name.as_ptr() as u64,
            name.len() as u64,
            flags,
        )
    };
    raw::check(r).map(drop)
}

/// A loaded module, decoded from [`ModuleInfo`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// Its name.
    pub name: String,
    /// Bytes of memory it occupies.
    pub size: u64,
    /// How many users hold it.
    pub refcount: u32,
    /// One of [`module_state`].
    pub state: u32,
    /// The modules that depend on it.
    pub used_by: Vec<String>,
}

impl Module {
    /// Whether the module faulted and was marked failed.
    pub fn failed(&self) -> bool {
        self.state == module_state::FAILED
    }
}

impl From<&ModuleInfo> for Module {
    fn from(m: &ModuleInfo) -> Module {
        let name = &m.name[..(m.name_len as usize).min(m.name.len())];
        let used = &m.used_by[..(m.used_by_len as usize).min(m.used_by.len())];
        Module {
            name: String::from_utf8_lossy(name).into_owned(),
            size: m.size,
            refcount: m.refcount,
            state: m.state,
            used_by: String::from_utf8_lossy(used)
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        }
    }
}

/// The loaded modules.
pub fn module_list() -> crate::Result<Vec<Module>> {
    let mut cap = 32usize;
    loop {
        let mut v = alloc::vec![ModuleInfo::default(); cap];
        // SAFETY: the kernel writes at most `cap` entries into `v`, which holds `cap`.
        let r = unsafe { raw::syscall2(syscall::MODULE_LIST, v.as_mut_ptr() as u64, cap as u64) };
        let n = raw::check(r)? as usize;
        if n <= cap {
            return Ok(v[..n].iter().map(Module::from).collect());
        }
        cap = n + 8;
    }
}
