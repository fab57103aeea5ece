//! Powering off and rebooting. Needs [`keel_abi::types::CAP_POWER`].

use crate::raw;
use keel_abi::syscall;
use keel_abi::types::{POWER_OFF, POWER_REBOOT};

fn power(how: u64) -> crate::Error {
    // SAFETY: POWER touches no user memory.
    let r = unsafe { raw::syscall1(syscall::POWER, how) };
    match raw::check(r) {
        Err(e) => e,
        // POWER never returns on success; a non-error return is a kernel oddity.
        Ok(_) => crate::Error::EIO,
    }
}

/// Powers the machine off. Returns only on failure, with the error.
pub fn poweroff() -> crate::Error {
    power(POWER_OFF)
}

/// Reboots the machine. Returns only on failure, with the error.
pub fn reboot() -> crate::Error {
    power(POWER_REBOOT)
}
