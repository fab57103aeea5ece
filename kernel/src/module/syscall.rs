//! The module system calls: `init_module` (80), `delete_module` (81), `module_list` (82).
//!
//! Loading and unloading need `CAP_MODULES`; listing does not. User memory is read only through
//! the caller's address space (`AddressSpace::read_bytes`/`write_val`), so a bad pointer is
//! `EFAULT`. The detailed reason of a failure goes to the kernel log (`module: ...`); the caller
//! gets the error number.

use keel_abi::types::{ModuleInfo, CAP_MODULES};
use keel_abi::Errno;

use crate::proc::Process;

/// Most bytes of parameter text `init_module` accepts.
const PARAMS_MAX: usize = 4096;
/// Longest module name `delete_module` accepts.
const NAME_MAX: usize = 64;

fn require_modules(p: &Process) -> Result<(), Errno> {
    if p.caps & CAP_MODULES == 0 {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// `init_module(image, image_len, params, params_len)`: loads a module.
pub fn init_module(
    p: &Process,
    image: u64,
    image_len: u64,
    params: u64,
    params_len: u64,
) -> Result<u64, Errno> {
    require_modules(p)?;
    let too_big = |e: Errno| {
        if e == Errno::ENAMETOOLONG {
            Errno::EFBIG
        } else {
            e
        }
    };
    let image = p
        .aspace
        .read_bytes(image, image_len, crate::fs::MAX_FILE_LOAD as usize)
        .map_err(too_big)?;
    let params = p
        .aspace
        .read_bytes(params, params_len, PARAMS_MAX)
        .map_err(|e| {
            if e == Errno::ENAMETOOLONG {
                Errno::E2BIG
            } else {
                e
            }
        })?;
    let params = core::str::from_utf8(&params).map_err(|_| Errno::EINVAL)?;
    // Interrupts run meanwhile, as when the boot loads modules: the loader's passes and the
    // module's `init` (a card's initialisation waits for its interrupts) take milliseconds.
    match crate::sync::with_interrupts(|| super::loader::load(&image, params)) {
        Ok(loaded) => {
            // A debug line: like Linux's, a successful insmod says nothing on the console (a
            // line through a console driver costs as much as a third of the load); `lsmod` shows
            // the module, a refusal is logged below.
            log::debug!(target: "module", "{} loaded by {}[{}]: {} bytes, in {} us", loaded.name, p.name, p.pid, loaded.size, loaded.micros);
            Ok(0)
        }
        Err(e) => {
            log::warn!(target: "module", "insmod by {}[{}]: {e}", p.name, p.pid);
            Err(e.errno())
        }
    }
}

/// `delete_module(name, name_len, flags)`: unloads a module (`flags` must be 0).
pub fn delete_module(p: &Process, name: u64, name_len: u64, flags: u64) -> Result<u64, Errno> {
    require_modules(p)?;
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let name = p.aspace.read_bytes(name, name_len, NAME_MAX)?;
    let name = core::str::from_utf8(&name).map_err(|_| Errno::EINVAL)?;
    match super::remove(name) {
        Ok(()) => Ok(0),
        Err(e) => {
            log::warn!(target: "module", "rmmod by {}[{}]: {e}", p.name, p.pid);
            Err(e.errno())
        }
    }
}

/// `module_list(buf, capacity)`: writes up to `capacity` entries, returns how many modules exist.
pub fn module_list(p: &Process, buf: u64, capacity: u64) -> Result<u64, Errno> {
    let list = super::list();
    let size = core::mem::size_of::<ModuleInfo>() as u64;
    for (i, info) in list.iter().enumerate().take(capacity as usize) {
        let at = (i as u64)
            .checked_mul(size)
            .and_then(|off| buf.checked_add(off))
            .ok_or(Errno::EFAULT)?;
        p.aspace.write_val(at, info)?;
    }
    Ok(list.len() as u64)
}
