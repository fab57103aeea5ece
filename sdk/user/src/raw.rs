//! Raw system calls: `svc #0` with the number in `x8`, arguments in `x0`..`x5`, the result in `x0`.
//!
//! A result is non-negative on success and `-errno` on failure; [`check`] turns it into a
//! [`crate::Result`]. Prefer the typed wrappers of the other modules: these exist for the rare
//! call that has none, and for test programs that want to pass anything at all.
//!
//! On a host target (unit tests) every call returns `-ENOSYS`.

use keel_abi::Errno;

/// Decodes a raw result: `Ok(value)` when non-negative, else the error.
#[inline]
pub fn check(ret: i64) -> crate::Result<u64> {
    Errno::result(ret)
}

/// Registers exchanged with an IPC call ([`keel_abi::ipc`]): `x0`..`x7`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpcRegs {
    /// `x0`..`x7`, in order.
    pub x: [u64; 8],
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod imp {
    use super::IpcRegs;
    use core::arch::asm;

    /// System call without arguments.
    ///
    /// # Safety
    /// The call may read or write memory named by its arguments; see [`keel_abi::syscall`].
    #[inline]
    pub unsafe fn syscall0(nr: u64) -> i64 {
        let ret: i64;
        // SAFETY: `svc #0` enters the kernel, which preserves every register but `x0`; the caller
        // guarantees that the call's effects on memory are acceptable.
        unsafe { asm!("svc #0", in("x8") nr, lateout("x0") ret, options(nostack)) };
        ret
    }

    /// System call with one argument.
    ///
    /// # Safety
    /// As [`syscall0`].
    #[inline]
    pub unsafe fn syscall1(nr: u64, a0: u64) -> i64 {
        let ret: i64;
        // SAFETY: as in `syscall0`.
        unsafe { asm!("svc #0", in("x8") nr, inlateout("x0") a0 as i64 => ret, options(nostack)) };
        ret
    }

    /// System call with two arguments.
    ///
    /// # Safety
    /// As [`syscall0`].
    #[inline]
    pub unsafe fn syscall2(nr: u64, a0: u64, a1: u64) -> i64 {
        let ret: i64;
        // SAFETY: as in `syscall0`.
        unsafe {
            asm!("svc #0", in("x8") nr, inlateout("x0") a0 as i64 => ret, in("x1") a1,
                 options(nostack))
        };
        ret
    }

    /// System call with three arguments.
    ///
    /// # Safety
    /// As [`syscall0`].
    #[inline]
    pub unsafe fn syscall3(nr: u64, a0: u64, a1: u64, a2: u64) -> i64 {
        let ret: i64;
        // SAFETY: as in `syscall0`.
        unsafe {
            asm!("svc #0", in("x8") nr, inlateout("x0") a0 as i64 => ret, in("x1") a1,
                 in("x2") a2, options(nostack))
        };
        ret
    }

    /// System call with four arguments.
    ///
    /// # Safety
    /// As [`syscall0`].
    #[inline]
    pub unsafe fn syscall4(nr: u64, a0: u64, a1: u64, a2: u64, a3: u64) -> i64 {
        let ret: i64;
        // SAFETY: as in `syscall0`.
        unsafe {
            asm!("svc #0", in("x8") nr, inlateout("x0") a0 as i64 => ret, in("x1") a1,
                 in("x2") a2, in("x3") a3, options(nostack))
        };
        ret
    }

    /// System call with five arguments.
    ///
    /// # Safety
    /// As [`syscall0`].
    #[inline]
    pub unsafe fn syscall5(nr: u64, a0: u64, a1: u64, a2: u64, a3: u64, a4: u64) -> i64 {
        let ret: i64;
        // SAFETY: as in `syscall0`.
        unsafe {
            asm!("svc #0", in("x8") nr, inlateout("x0") a0 as i64 => ret, in("x1") a1,
                 in("x2") a2, in("x3") a3, in("x4") a4, options(nostack))
        };
        ret
    }

    /// System call with six arguments.
    ///
    /// # Safety
    /// As [`syscall0`].
    #[inline]
    pub unsafe fn syscall6(nr: u64, a0: u64, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
        let ret: i64;
        // SAFETY: as in `syscall0`.
        unsafe {
            asm!("svc #0", in("x8") nr, inlateout("x0") a0 as i64 => ret, in("x1") a1,
                 in("x2") a2, in("x3") a3, in("x4") a4, in("x5") a5, options(nostack))
        };
        ret
    }

    /// An IPC system call: `x0`..`x7` in, `x0`..`x7` out (see [`keel_abi::ipc`]).
    ///
    /// # Safety
    /// As [`syscall0`]; `x6` may name an [`keel_abi::ipc::IpcBuffers`] whose buffers the kernel
    /// reads and writes.
    #[inline]
    pub unsafe fn ipc(nr: u64, regs: &mut IpcRegs) {
        let x = &mut regs.x;
        // SAFETY: as in `syscall0`; every register the IPC calls change is an output here.
        unsafe {
            asm!("svc #0", in("x8") nr,
                 inlateout("x0") x[0], inlateout("x1") x[1], inlateout("x2") x[2],
                 inlateout("x3") x[3], inlateout("x4") x[4], inlateout("x5") x[5],
                 inlateout("x6") x[6], inlateout("x7") x[7], options(nostack))
        };
    }
}

#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
#[allow(clippy::missing_safety_doc, missing_docs, unused_variables)]
mod imp {
    //! Host stand-ins: every call fails with `ENOSYS`.
    use super::IpcRegs;
    use keel_abi::Errno;

    pub unsafe fn syscall0(nr: u64) -> i64 {
        Errno::ENOSYS.to_ret()
    }
    pub unsafe fn syscall1(nr: u64, a0: u64) -> i64 {
        Errno::ENOSYS.to_ret()
    }
    pub unsafe fn syscall2(nr: u64, a0: u64, a1: u64) -> i64 {
        Errno::ENOSYS.to_ret()
    }
    pub unsafe fn syscall3(nr: u64, a0: u64, a1: u64, a2: u64) -> i64 {
        Errno::ENOSYS.to_ret()
    }
    pub unsafe fn syscall4(nr: u64, a0: u64, a1: u64, a2: u64, a3: u64) -> i64 {
        Errno::ENOSYS.to_ret()
    }
    pub unsafe fn syscall5(nr: u64, a0: u64, a1: u64, a2: u64, a3: u64, a4: u64) -> i64 {
        Errno::ENOSYS.to_ret()
    }
    pub unsafe fn syscall6(nr: u64, a0: u64, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
        Errno::ENOSYS.to_ret()
    }
    pub unsafe fn ipc(nr: u64, regs: &mut IpcRegs) {
        regs.x[0] = Errno::ENOSYS.to_ret() as u64;
    }
}

pub use imp::*;
