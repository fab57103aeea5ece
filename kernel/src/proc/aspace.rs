//! User address spaces: TTBR0 translation tables tagged with an ASID, the pages mapped in them,
//! and checked copies between user memory and the kernel.
//!
//! The kernel lives only in TTBR1. Each process has its own TTBR0 root and ASID, so a switch
//! between processes is one register write and no TLB flush. Every user page is tracked here; the
//! kernel reaches user memory only through [`AddressSpace::read`] and [`AddressSpace::write`], which
//! look each page up in that list (present, user-accessible, writable when writing) and copy through
//! the direct map. A bad pointer from a system call is an `EFAULT`, never a kernel fault.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use aarch64_cpu::registers::{ReadWriteable, Readable, ID_AA64MMFR0_EL1, TCR_EL1};
use keel_abi::Errno;
use keel_core::idalloc::IdAllocator;
use keel_core::pagetable::{self, MemType, Perm, TableAlloc};
use spin::Once;

use crate::mm::{self, phys_to_virt, PAGE_SIZE};
use crate::sync::IrqMutex;

/// The lowest user address that can be mapped (page 0 stays unmapped to catch null pointers).
pub const USER_START: u64 = 0x1000;
/// One past the highest user address (48-bit TTBR0 space).
pub const USER_END: u64 = 1 << 48;
/// Top of the initial user stack.
pub const USER_STACK_TOP: u64 = 0x0000_7fff_0000_0000;
/// Size of the initial user stack.
pub const USER_STACK_SIZE: u64 = 256 * 1024;
/// Pages [`AddressSpace::map_zeroed_in_steps`] zeroes and maps between two interrupt windows.
const MAP_STEP_PAGES: u64 = 8;
/// Where anonymous mappings start.
const MMAP_BASE: u64 = 0x0000_0010_0000_0000;
/// Most bytes one process may have mapped.
const USER_LIMIT: u64 = 256 << 20;

static ASIDS: IrqMutex<IdAllocator<1024>> = IrqMutex::new(IdAllocator::new());
static EMPTY_ROOT: Once<u64> = Once::new();
/// Pages mapped into all user address spaces.
static USER_PAGES: AtomicU64 = AtomicU64::new(0);

/// Sets up this core for user address spaces: ASID size, TTBR0 walks on, the empty table loaded.
pub fn init_cpu() {
    let root = *EMPTY_ROOT.call_once(|| {
        let sixteen = ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::ASIDBits) == 0b0010;
        let mut ids = ASIDS.lock();
        ids.reserve(0);
        ids.limit(if sixteen { 1 << 16 } else { 1 << 8 });
        mm::map::alloc_table_page().expect("a page for the empty user table")
    });
    let sixteen = ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::ASIDBits) == 0b0010;
    TCR_EL1.modify(
        TCR_EL1::EPD0::EnableTTBR0Walks
            + if sixteen {
                TCR_EL1::AS::ASID16Bits
            } else {
                TCR_EL1::AS::ASID8Bits
            },
    );
    // SAFETY: loads the empty table with ASID 0; no user mappings exist on this core yet.
    unsafe {
        core::arch::asm!("msr ttbr0_el1, {}", "isb", "tlbi vmalle1", "dsb nsh", "isb", in(reg) root)
    };
}

/// Loads the empty user table (for kernel threads).
pub fn activate_kernel_only() {
    if let Some(root) = EMPTY_ROOT.get() {
        // SAFETY: the empty table maps nothing; ASID 0 is never given to a process.
        unsafe { core::arch::asm!("msr ttbr0_el1, {}", "isb", in(reg) *root) };
    }
}

/// Bytes mapped into user address spaces, all processes together.
pub fn user_bytes() -> u64 {
    USER_PAGES.load(Ordering::Relaxed) * PAGE_SIZE
}

/// One mapped user page.
#[derive(Clone, Copy)]
struct Page {
    pa: u64,
    perm: Perm,
}

struct Inner {
    /// Every mapped page by virtual address.
    pages: BTreeMap<u64, Page>,
    /// Table pages to free with the address space.
    tables: Vec<u64>,
    mmap_next: u64,
    /// The page the last single-page copy used, as (user address, kernel address through the
    /// direct map, writable); forgotten whenever a page is removed. System calls mostly pass
    /// pointers into the same stack page.
    last: Option<(u64, u64, bool)>,
}

impl Inner {
    /// The kernel address of the page at `va` (page-aligned) and whether it is writable, through
    /// the one-entry cache.
    fn page(&mut self, va: u64) -> Option<(u64, bool)> {
        if let Some((v, kva, write)) = self.last {
            if v == va {
                return Some((kva, write));
            }
        }
        let p = self.pages.get(&va)?;
        let found = (phys_to_virt(p.pa), p.perm.write);
        self.last = Some((va, found.0, found.1));
        Some(found)
    }
}

/// Table pages for a user tree, remembered for freeing.
struct UserTables<'a>(&'a mut Vec<u64>);

impl TableAlloc for UserTables<'_> {
    fn alloc_table(&mut self) -> Option<u64> {
        let pa = mm::map::alloc_table_page()?;
        self.0.push(pa);
        Some(pa)
    }
    fn table_ptr(&self, pa: u64) -> *mut u64 {
        phys_to_virt(pa) as *mut u64
    }
}

/// A process's address space.
pub struct AddressSpace {
    root: u64,
    asid: u16,
    inner: IrqMutex<Inner>,
}

impl AddressSpace {
    /// An empty address space; `ENOMEM` without a page or an ASID.
    pub fn new() -> Result<AddressSpace, Errno> {
        let asid = ASIDS.lock().alloc().ok_or(Errno::EAGAIN)? as u16;
        let Some(root) = mm::map::alloc_table_page() else {
            ASIDS.lock().free(asid as usize);
            return Err(Errno::ENOMEM);
        };
        Ok(AddressSpace {
            root,
            asid,
            inner: IrqMutex::new(Inner {
                pages: BTreeMap::new(),
                tables: Vec::new(),
                mmap_next: MMAP_BASE,
                last: None,
            }),
        })
    }

    /// Loads this address space into TTBR0 on the calling core.
    pub fn activate(&self) {
        let ttbr0 = self.root | (u64::from(self.asid) << 48);
        // SAFETY: the root is a valid table of this address space, which outlives its use (the
        // process's threads hold it); the ASID tags its TLB entries.
        unsafe { core::arch::asm!("msr ttbr0_el1, {}", "isb", in(reg) ttbr0) };
    }

    /// Bytes mapped.
    pub fn mapped_bytes(&self) -> u64 {
        self.inner.lock().pages.len() as u64 * PAGE_SIZE
    }

    /// Maps zeroed pages at `[va, va + len)` with `perm` (made user-accessible). Both must be page
    /// aligned. Nothing is left mapped on failure.
    pub fn map_zeroed(&self, va: u64, len: u64, perm: Perm) -> Result<(), Errno> {
        if !va.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let end = va.checked_add(len).ok_or(Errno::EINVAL)?;
        if va < USER_START || end > USER_END {
            return Err(Errno::EINVAL);
        }
        if perm.is_write_exec() {
            return Err(Errno::EACCES);
        }
        let mut inner = self.inner.lock();
        if (inner.pages.len() as u64 * PAGE_SIZE).saturating_add(len) > USER_LIMIT {
            return Err(Errno::ENOMEM);
        }
        if inner.pages.range(va..end).next().is_some() {
            return Err(Errno::EEXIST);
        }
        let perm = perm.for_user();
        let mut page = va;
        while page < end {
            let Some(pa) = mm::phys::alloc_pages(1) else {
                drop(inner);
                let _ = self.unmap(va, page - va);
                return Err(Errno::ENOMEM);
            };
            // SAFETY: the frame was just allocated and is mapped in the direct map.
            unsafe { core::ptr::write_bytes(phys_to_virt(pa) as *mut u8, 0, PAGE_SIZE as usize) };
            let Inner { pages, tables, .. } = &mut *inner;
            // SAFETY: `root` is this address space's own table tree, changed only under its lock;
            // the page is not mapped yet (checked above), so no TLB maintenance is needed.
            let r = unsafe {
                pagetable::map(
                    self.root,
                    page,
                    pa,
                    PAGE_SIZE,
                    MemType::Normal,
                    perm,
                    &mut UserTables(tables),
                    false,
                )
            };
            if r.is_err() {
                mm::phys::free_pages(pa, 1);
                drop(inner);
                let _ = self.unmap(va, page - va);
                return Err(Errno::ENOMEM);
            }
            pages.insert(page, Page { pa, perm });
            USER_PAGES.fetch_add(1, Ordering::Relaxed);
            page += PAGE_SIZE;
        }
        // SAFETY: barrier only: the new entries are visible to the table walkers.
        unsafe { core::arch::asm!("dsb ishst", options(nostack)) };
        Ok(())
    }

    /// [`map_zeroed`](Self::map_zeroed) a few pages at a time, with interrupts let in between
    /// ([`crate::sync::interrupt_window`]: call it where the caller could sleep): zeroing a
    /// 256 KiB stack at once keeps them masked for about 160,000 instructions. Nothing is left
    /// mapped on failure.
    pub fn map_zeroed_in_steps(&self, va: u64, len: u64, perm: Perm) -> Result<(), Errno> {
        let end = va.checked_add(len).ok_or(Errno::EINVAL)?;
        let mut at = va;
        while at < end {
            let n = (end - at).min(MAP_STEP_PAGES * PAGE_SIZE);
            if let Err(e) = self.map_zeroed(at, n, perm) {
                if at > va {
                    let _ = self.unmap(va, at - va);
                }
                return Err(e);
            }
            at += n;
            if at < end {
                crate::sync::interrupt_window();
            }
        }
        Ok(())
    }

    /// Maps `len` bytes of zeroed anonymous memory somewhere, in steps
    /// ([`map_zeroed_in_steps`](Self::map_zeroed_in_steps)); returns the address.
    pub fn map_anywhere(&self, len: u64, perm: Perm) -> Result<u64, Errno> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = len
            .checked_next_multiple_of(PAGE_SIZE)
            .ok_or(Errno::ENOMEM)?;
        if len > USER_LIMIT {
            return Err(Errno::ENOMEM);
        }
        let va = {
            let mut inner = self.inner.lock();
            let va = inner.mmap_next;
            // A page of unmapped gap between mappings catches overruns.
            inner.mmap_next = va + len + PAGE_SIZE;
            va
        };
        if va + len > USER_STACK_TOP - USER_STACK_SIZE {
            return Err(Errno::ENOMEM);
        }
        self.map_zeroed_in_steps(va, len, perm)?;
        Ok(va)
    }

    /// Unmaps every page in `[va, va + len)` (holes are skipped) and frees the frames.
    pub fn unmap(&self, va: u64, len: u64) -> Result<(), Errno> {
        if !va.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = len
            .checked_next_multiple_of(PAGE_SIZE)
            .ok_or(Errno::EINVAL)?;
        let end = va.checked_add(len).ok_or(Errno::EINVAL)?;
        if va < USER_START || end > USER_END {
            return Err(Errno::EINVAL);
        }
        let mut inner = self.inner.lock();
        inner.last = None;
        let doomed: Vec<(u64, Page)> = inner.pages.range(va..end).map(|(&v, &p)| (v, p)).collect();
        for (v, page) in doomed {
            let Inner { pages, tables, .. } = &mut *inner;
            // SAFETY: this address space's own tables under its lock; the TLB entry is invalidated
            // below before the frame is reused.
            let _ = unsafe { pagetable::unmap(self.root, v, PAGE_SIZE, &UserTables(tables)) };
            let op = (u64::from(self.asid) << 48) | ((v >> 12) & ((1 << 44) - 1));
            // SAFETY: TLB maintenance for this ASID and page on every core.
            unsafe { core::arch::asm!("dsb ishst", "tlbi vae1is, {}", "dsb ish", in(reg) op) };
            pages.remove(&v);
            mm::phys::free_pages(page.pa, 1);
            USER_PAGES.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Walks `[va, va + len)` page by page, handing each piece's kernel address to `f`.
    fn for_each_piece(
        &self,
        va: u64,
        len: usize,
        write: bool,
        mut f: impl FnMut(usize, *mut u8, usize),
    ) -> Result<(), Errno> {
        if len == 0 {
            return Ok(());
        }
        let end = va.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        if va < USER_START || end > USER_END {
            return Err(Errno::EFAULT);
        }
        let mut inner = self.inner.lock();
        // Within one page (most system call arguments): one lookup, often none.
        if (va ^ (end - 1)) & !(PAGE_SIZE - 1) == 0 {
            let page = va & !(PAGE_SIZE - 1);
            return match inner.page(page) {
                Some((kva, writable)) if !write || writable => {
                    f(0, (kva + (va - page)) as *mut u8, len);
                    Ok(())
                }
                _ => Err(Errno::EFAULT),
            };
        }
        // Check everything first, so a failed copy changes nothing.
        let mut page = va & !(PAGE_SIZE - 1);
        while page < end {
            match inner.pages.get(&page) {
                Some(p) if !write || p.perm.write => {}
                _ => return Err(Errno::EFAULT),
            }
            page += PAGE_SIZE;
        }
        let mut done = 0usize;
        while done < len {
            let at = va + done as u64;
            let page = at & !(PAGE_SIZE - 1);
            let offset = at - page;
            let n = ((PAGE_SIZE - offset) as usize).min(len - done);
            let pa = inner.pages[&page].pa;
            f(done, (phys_to_virt(pa) + offset) as *mut u8, n);
            done += n;
        }
        Ok(())
    }

    /// Checks that `[va, va + len)` is mapped and writable, without touching it.
    pub fn check_writable(&self, va: u64, len: u64) -> Result<(), Errno> {
        self.for_each_piece(va, len as usize, true, |_, _, _| {})
    }

    /// Checks that `[va, va + len)` is mapped user memory, without touching it.
    pub fn check_readable(&self, va: u64, len: u64) -> Result<(), Errno> {
        self.for_each_piece(va, len as usize, false, |_, _, _| {})
    }

    /// Appends `len` bytes of user memory at `va` to `out`, copying them straight into its spare
    /// room (nothing is zeroed first). On an error `out` is as it was.
    pub fn read_append(&self, va: u64, len: usize, out: &mut Vec<u8>) -> Result<(), Errno> {
        out.reserve(len);
        let spare = &mut out.spare_capacity_mut()[..len];
        self.for_each_piece(va, len, false, |at, src, n| {
            // SAFETY: `src` is `n` bytes of a mapped user page, in the direct map; the pieces
            // tile `[0, len)`, so `spare[at..at + n]` is in bounds, and a kernel buffer never
            // overlaps user pages.
            unsafe {
                core::ptr::copy_nonoverlapping(src, spare[at..at + n].as_mut_ptr().cast(), n)
            };
        })?;
        // SAFETY: `for_each_piece` checked the whole range before copying and then handed every
        // piece of it to the copy above: the `len` bytes after the old length are initialised.
        unsafe { out.set_len(out.len() + len) };
        Ok(())
    }

    /// Copies user memory at `va` into `out`.
    pub fn read(&self, va: u64, out: &mut [u8]) -> Result<(), Errno> {
        self.for_each_piece(va, out.len(), false, |at, src, n| {
            // SAFETY: `src` is `n` bytes of a mapped user page, in the direct map.
            unsafe { core::ptr::copy_nonoverlapping(src, out[at..].as_mut_ptr(), n) };
        })
    }

    /// Copies `data` into user memory at `va` (every page must be writable).
    pub fn write(&self, va: u64, data: &[u8]) -> Result<(), Errno> {
        self.for_each_piece(va, data.len(), true, |at, dst, n| {
            // SAFETY: `dst` is `n` bytes of a mapped, writable user page, in the direct map.
            unsafe { core::ptr::copy_nonoverlapping(data[at..].as_ptr(), dst, n) };
        })
    }

    /// Writes into user memory regardless of the page's write permission (loading a program's
    /// read-only segments).
    pub fn write_initial(&self, va: u64, data: &[u8]) -> Result<(), Errno> {
        self.for_each_piece(va, data.len(), false, |at, dst, n| {
            // SAFETY: as in `write`; the program has not started, so nothing relies on the page's
            // contents yet. Instruction pages are made coherent by `sync_icache`.
            unsafe { core::ptr::copy_nonoverlapping(data[at..].as_ptr(), dst, n) };
        })
    }

    /// Cleans the data cache and invalidates the instruction cache over `[va, va + len)`, after
    /// code was written into it.
    pub fn sync_icache(&self, va: u64, len: u64) -> Result<(), Errno> {
        self.for_each_piece(va, len as usize, false, |_, p, n| {
            let mut line = (p as u64) & !63;
            while line < p as u64 + n as u64 {
                // SAFETY: cache maintenance by address on mapped memory.
                unsafe { core::arch::asm!("dc cvau, {}", in(reg) line) };
                line += 64;
            }
        })?;
        // SAFETY: cache maintenance and barriers only.
        unsafe { core::arch::asm!("dsb ish", "ic ialluis", "dsb ish", "isb") };
        Ok(())
    }

    /// Reads a `T` (plain data) from user memory.
    pub fn read_val<T: Copy + Default>(&self, va: u64) -> Result<T, Errno> {
        if !va.is_multiple_of(core::mem::align_of::<T>() as u64) {
            return Err(Errno::EFAULT);
        }
        let mut v = T::default();
        // SAFETY: `T` is plain old data (the ABI's repr(C) structs and integers); viewing it as
        // bytes to fill it is sound.
        let bytes = unsafe {
            core::slice::from_raw_parts_mut(&mut v as *mut T as *mut u8, core::mem::size_of::<T>())
        };
        self.read(va, bytes)?;
        Ok(v)
    }

    /// Writes a `T` (plain data) to user memory.
    pub fn write_val<T: Copy>(&self, va: u64, v: &T) -> Result<(), Errno> {
        if !va.is_multiple_of(core::mem::align_of::<T>() as u64) {
            return Err(Errno::EFAULT);
        }
        // SAFETY: as in `read_val`.
        let bytes = unsafe {
            core::slice::from_raw_parts(v as *const T as *const u8, core::mem::size_of::<T>())
        };
        self.write(va, bytes)
    }

    /// Copies a user byte string of at most `max` bytes.
    pub fn read_bytes(&self, va: u64, len: u64, max: usize) -> Result<Vec<u8>, Errno> {
        if len as usize > max {
            return Err(Errno::ENAMETOOLONG);
        }
        let len = len as usize;
        // Copied straight into the new vector's memory, without zeroing it first.
        let mut v: Vec<u8> = Vec::with_capacity(len);
        let buf = v.spare_capacity_mut().as_mut_ptr().cast::<u8>();
        self.for_each_piece(va, len, false, |at, src, n| {
            // SAFETY: `src` is `n` bytes of a mapped user page, in the direct map (normal memory);
            // `[at, at + n)` lies within `[0, len)`, the new vector's capacity.
            unsafe { core::ptr::copy_nonoverlapping(src, buf.add(at), n) };
        })?;
        // SAFETY: on success `for_each_piece` handed every byte of `[0, len)` to the closure,
        // which initialised it.
        unsafe { v.set_len(len) };
        Ok(v)
    }
}

impl AddressSpace {
    /// Frees every page and table of the address space at once (the process has ended and no
    /// core runs it any more); the empty root and the ASID stay until the object is dropped.
    pub fn release_all(&self) {
        let (pages, tables) = {
            let mut inner = self.inner.lock();
            inner.last = None;
            // SAFETY: the root page is this address space's own; clearing it unlinks everything.
            unsafe {
                core::ptr::write_bytes(phys_to_virt(self.root) as *mut u8, 0, PAGE_SIZE as usize)
            };
            (
                core::mem::take(&mut inner.pages),
                core::mem::take(&mut inner.tables),
            )
        };
        self.flush_tlb();
        for page in pages.values() {
            mm::phys::free_pages(page.pa, 1);
        }
        USER_PAGES.fetch_sub(pages.len() as u64, Ordering::Relaxed);
        for t in tables {
            mm::phys::free_pages(t, 1);
        }
    }

    fn flush_tlb(&self) {
        // SAFETY: drops every TLB entry of this ASID on every core.
        unsafe {
            core::arch::asm!("dsb ishst", "tlbi aside1is, {}", "dsb ish", "isb", in(reg) u64::from(self.asid) << 48)
        };
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        self.release_all();
        mm::phys::free_pages(self.root, 1);
        ASIDS.lock().free(self.asid as usize);
    }
}
