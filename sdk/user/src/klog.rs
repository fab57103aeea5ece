//! The kernel log.

use crate::raw;
use keel_abi::syscall;

/// Copies the kernel log's text from byte `offset` of the retained ring (0 = oldest) into
/// `buf`; the bytes copied, 0 at the end. Needs [`keel_abi::types::CAP_KLOG`].
pub fn read(offset: u64, buf: &mut [u8]) -> crate::Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    let r = unsafe {
        raw::syscall3(
            syscall::KLOG_READ,
            offset,
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
        )
    };
    raw::check(r).map(|n| n as usize)
}

/// Writes a line to the kernel log; the bytes logged.
pub fn write(msg: &str) -> crate::Result<usize> {
    // SAFETY: the kernel reads `msg.len()` bytes of `msg`.
    let r = unsafe { raw::syscall2(syscall::KLOG_WRITE, msg.as_ptr() as u64, msg.len() as u64) };
    raw::check(r).map(|n| n as usize)
}
