//! The kernel's own translation tables (TTBR1): the direct map of RAM and device mappings.
//!
//! Table pages come from the boot pool until the frame allocator has memory, then from frames.

use keel_boot::layout::DIRECT_MAP_BASE;
use keel_core::pagetable::{self, MapError, MemType, Perm, TableAlloc};

use super::{page_down, page_up, phys, phys_to_virt};
use crate::sync::IrqMutex;

/// Serialises changes to the kernel tables.
static LOCK: IrqMutex<()> = IrqMutex::new(());

/// Table pages for the kernel tables.
struct KernelTables;

impl TableAlloc for KernelTables {
    fn alloc_table(&mut self) -> Option<u64> {
        let pa = keel_boot::early::pool_alloc_pa().or_else(|| phys::alloc_pages(1))?;
        // SAFETY: the page was just allocated and is mapped at phys_to_virt(pa).
        unsafe {
            core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, super::PAGE_SIZE as usize)
        };
        Some(pa)
    }

    fn table_ptr(&self, pa: u64) -> *mut u64 {
        phys_to_virt(pa) as *mut u64
    }
}

fn publish() {
    // SAFETY: barriers only; new valid entries need no TLB invalidation.
    unsafe { core::arch::asm!("dsb ishst", "isb", options(nostack)) };
}

fn map(pa: u64, size: u64, mem: MemType, perm: Perm) -> Result<(), MapError> {
    let _guard = LOCK.lock();
    let root = keel_boot::early::kernel_root_pa();
    // SAFETY: `root` is the kernel's live TTBR1 table, changed only under LOCK; the range is in the
    // direct-map half, which no other mapping uses.
    let r = unsafe {
        pagetable::map(
            root,
            DIRECT_MAP_BASE + pa,
            pa,
            size,
            mem,
            perm,
            &mut KernelTables,
            true,
        )
    };
    publish();
    r
}

/// Maps `size` bytes of RAM at `pa` to kernel address `va` (outside the direct map), with `perm`.
pub fn map_kernel(va: u64, pa: u64, size: u64, perm: Perm) -> Result<(), MapError> {
    let _guard = LOCK.lock();
    let root = keel_boot::early::kernel_root_pa();
    // SAFETY: `root` is the live kernel table, changed only under LOCK; callers own `va`'s range
    // (a kernel stack slot) and nothing else maps there.
    let r = unsafe {
        pagetable::map(
            root,
            va,
            pa,
            size,
            MemType::Normal,
            perm,
            &mut KernelTables,
            false,
        )
    };
    publish();
    r
}

/// Maps the pages from kernel address `va` (outside the direct map) one after another to
/// `frames` of RAM (`None` leaves a page unmapped), with `perm`: one table walk per 2 MiB.
pub fn map_kernel_pages(va: u64, frames: &[Option<u64>], perm: Perm) -> Result<(), MapError> {
    let _guard = LOCK.lock();
    let root = keel_boot::early::kernel_root_pa();
    // SAFETY: as for `map_kernel`: the live kernel table, changed only under LOCK; the caller owns
    // the range.
    let r =
        unsafe { pagetable::map_pages(root, va, frames, MemType::Normal, perm, &mut KernelTables) };
    publish();
    r
}

/// Gives the RAM pages mapped in `[va, va + size)` (outside the direct map) the permissions
/// `perm` and invalidates their old entries in every core's TLB.
pub fn protect_kernel(va: u64, size: u64, perm: Perm) -> Result<(), MapError> {
    let _guard = LOCK.lock();
    let root = keel_boot::early::kernel_root_pa();
    // SAFETY: as for `map_kernel`; the caller owns the range and expects the new permissions only
    // after this returns (the TLB is invalidated below).
    let r = unsafe { pagetable::protect(root, va, size, MemType::Normal, perm, &KernelTables) };
    invalidate(va, size);
    r
}

/// Invalidates the kernel's TLB entries of `[va, va + size)` on every core, then synchronises.
fn invalidate(va: u64, size: u64) {
    // The table writes reach the walkers before the old entries are invalidated, so a walk that
    // follows a TLBI cannot load an old entry again.
    // SAFETY: a barrier only.
    unsafe { core::arch::asm!("dsb ishst", options(nostack)) };
    let mut page = va;
    while page < va + size {
        // SAFETY: TLB maintenance only; the broadcast form reaches every core.
        unsafe { core::arch::asm!("tlbi vaae1is, {}", in(reg) (page >> 12) & ((1 << 44) - 1)) };
        page += super::PAGE_SIZE;
    }
    // SAFETY: barriers only.
    unsafe { core::arch::asm!("dsb ish", "isb", options(nostack)) };
}

/// Removes the kernel mapping of `[va, va + size)` and invalidates it in every core's TLB.
pub fn unmap_kernel(va: u64, size: u64) -> Result<(), MapError> {
    let _guard = LOCK.lock();
    let root = keel_boot::early::kernel_root_pa();
    // SAFETY: as for `map_kernel`; the caller no longer uses the range.
    let r = unsafe { pagetable::unmap(root, va, size, &KernelTables) };
    invalidate(va, size);
    r
}

/// A zeroed translation-table page for another table tree (user address spaces), from frames.
pub fn alloc_table_page() -> Option<u64> {
    let pa = phys::alloc_pages(1)?;
    // SAFETY: the page was just allocated and is mapped at phys_to_virt(pa).
    unsafe { core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, super::PAGE_SIZE as usize) };
    Some(pa)
}

/// Maps RAM `[pa, pa + size)` read-write, never executable, into the direct map.
pub fn map_ram(pa: u64, size: u64) -> Result<(), &'static str> {
    map(pa, size, MemType::Normal, Perm::RW).map_err(|_| "cannot map RAM into the direct map")
}

/// Maps device registers `[pa, pa + size)` as Device-nGnRE memory and returns their virtual
/// address. Mapping the same registers again returns the same address.
pub fn map_device(pa: u64, size: u64) -> Result<usize, MapError> {
    let start = page_down(pa);
    let end = page_up(pa + size.max(1));
    let mut page = start;
    while page < end {
        match map(page, super::PAGE_SIZE, MemType::Device, Perm::RW) {
            Ok(()) => {}
            Err(MapError::AlreadyMapped { .. }) if is_device(page) => {}
            Err(e) => return Err(e),
        }
        page += super::PAGE_SIZE;
    }
    Ok((DIRECT_MAP_BASE + pa) as usize)
}

fn is_device(pa: u64) -> bool {
    let root = keel_boot::early::kernel_root_pa();
    // SAFETY: reading the live kernel tables under no lock is fine for a lookup of a stable entry.
    unsafe { pagetable::translate(root, DIRECT_MAP_BASE + pa, &KernelTables) }
        .is_some_and(|t| t.mem == MemType::Device)
}

/// Looks up how a kernel virtual address is mapped.
pub fn translate(va: u64) -> Option<pagetable::Translation> {
    let root = keel_boot::early::kernel_root_pa();
    // SAFETY: see `is_device`.
    unsafe { pagetable::translate(root, va, &KernelTables) }
}
