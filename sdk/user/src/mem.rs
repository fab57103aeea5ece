//! Memory: anonymous mappings and system memory statistics.

use crate::raw;
use keel_abi::syscall;
use keel_abi::types::MemInfo;

/// Maps `len` bytes (rounded up to pages) of zeroed memory with `prot`
/// ([`keel_abi::types::PROT_READ`]...); the kernel picks the address, which is returned.
pub fn mmap(len: usize, prot: u64) -> crate::Result<u64> {
    // SAFETY: MMAP creates a new mapping and touches no existing user memory.
    raw::check(unsafe { raw::syscall2(syscall::MMAP, len as u64, prot) })
}

/// Unmaps memory obtained from [`mmap`].
///
/// # Safety
/// Nothing may use the memory afterwards (no live references into it, not part of the heap).
pub unsafe fn munmap(addr: u64, len: usize) -> crate::Result<()> {
    // SAFETY: the caller guarantees that nothing uses the range any more.
    raw::check(unsafe { raw::syscall2(syscall::MUNMAP, addr, len as u64) }).map(drop)
}

/// System-wide memory statistics.
pub fn meminfo() -> crate::Result<MemInfo> {
    let mut m = MemInfo::default();
    // SAFETY: the kernel writes one `MemInfo` into `m`, a local we own.
    raw::check(unsafe { raw::syscall1(syscall::MEMINFO, &mut m as *mut MemInfo as u64) })?;
    Ok(m)
}
