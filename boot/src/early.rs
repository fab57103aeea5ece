//! The boot translation tables, built with the MMU off.
//!
//! Runs at the physical load address before the MMU is on, so everything here must be
//! position-independent: no trait objects, no formatting, no panics on the normal path, and statics
//! reached only PC-relatively. The tables come from a fixed pool in `.bss` that the kernel keeps
//! using for its own early mappings until its page allocator is up.

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use aarch64_cpu::asm::barrier;
use aarch64_cpu::registers::*;
use keel_core::pagetable::{self, MemType, Perm, TableAlloc, PAGE_SIZE};

use crate::layout::{Sections, DIRECT_MAP_BASE, KERNEL_VA};

/// Number of table pages in the boot pool.
pub const POOL_PAGES: usize = 64;

#[repr(C, align(4096))]
struct Pool([[u64; 512]; POOL_PAGES]);

static mut POOL: Pool = Pool([[0; 512]; POOL_PAGES]);
static POOL_NEXT: AtomicUsize = AtomicUsize::new(0);
static IMAGE_PA: AtomicU64 = AtomicU64::new(0);
static TTBR1_ROOT: AtomicU64 = AtomicU64::new(0);
static IDMAP_ROOT: AtomicU64 = AtomicU64::new(0);
static DTB_PA: AtomicU64 = AtomicU64::new(0);
static DTB_SIZE: AtomicU64 = AtomicU64::new(0);

/// Table allocator over the boot pool, valid before the MMU is on (physical == virtual).
struct PhysPool;

impl TableAlloc for PhysPool {
    fn alloc_table(&mut self) -> Option<u64> {
        pool_alloc_pa()
    }
    fn table_ptr(&self, pa: u64) -> *mut u64 {
        pa as *mut u64
    }
}

/// Takes a zeroed page from the boot pool and returns its physical address.
///
/// Works with the MMU off and on: the pool's physical address is derived from the image's.
pub fn pool_alloc_pa() -> Option<u64> {
    let index = POOL_NEXT.fetch_add(1, Ordering::Relaxed);
    if index >= POOL_PAGES {
        POOL_NEXT.store(POOL_PAGES, Ordering::Relaxed);
        return None;
    }
    let here = core::ptr::addr_of_mut!(POOL) as u64 + (index * PAGE_SIZE as usize) as u64;
    Some(to_phys(here))
}

/// Pages of the boot pool handed out so far.
pub fn pool_used() -> usize {
    POOL_NEXT.load(Ordering::Relaxed).min(POOL_PAGES)
}

/// Converts an address inside the image, as the code sees it now, to its physical address.
fn to_phys(addr: u64) -> u64 {
    if addr >= KERNEL_VA {
        addr - KERNEL_VA + IMAGE_PA.load(Ordering::Relaxed)
    } else {
        addr
    }
}

/// Physical address the image was loaded at.
pub fn image_pa() -> u64 {
    IMAGE_PA.load(Ordering::Relaxed)
}

/// Physical address of the kernel's TTBR1 root table.
pub fn kernel_root_pa() -> u64 {
    TTBR1_ROOT.load(Ordering::Relaxed)
}

/// Physical address of the boot identity map of `.text` (kept for starting secondary cores).
pub fn idmap_root_pa() -> u64 {
    IDMAP_ROOT.load(Ordering::Relaxed)
}

/// The device tree's physical address and size as checked at boot (size 0: no valid tree).
pub fn dtb() -> (u64, u64) {
    (
        DTB_PA.load(Ordering::Relaxed),
        DTB_SIZE.load(Ordering::Relaxed),
    )
}

fn map_or_halt<A: TableAlloc>(
    root: u64,
    va: u64,
    pa: u64,
    size: u64,
    mem: MemType,
    perm: Perm,
    a: &mut A,
) {
    // SAFETY: `root` is a table from the boot pool that only this code writes, and the ranges
    // mapped are the image's own sections or the device tree.
    if unsafe { pagetable::map(root, va, pa, size, mem, perm, a, false) }.is_err() {
        // Nothing can be reported yet: no console and no exception vectors.
        loop {
            aarch64_cpu::asm::wfe();
        }
    }
}

fn page_up(x: u64) -> u64 {
    (x + PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// Builds the boot tables and loads MAIR, TCR, TTBR0 and TTBR1. Called from `entry.s` with the MMU
/// off; it returns with the MMU still off.
///
/// TTBR0 identity-maps `.text` (only for the instant the MMU comes on); TTBR1 maps the image at
/// `KERNEL_VA` section by section (text RX, rodata R, data and bss RW, no guard page, boot stack
/// RW) and the device tree in the direct map (writable: the kernel tidies it in place).
#[no_mangle]
pub extern "C" fn early_mmu_setup(dtb_pa: u64, image_pa: u64) {
    IMAGE_PA.store(image_pa, Ordering::Relaxed);
    let s = Sections::current();
    let va = |pa: u64| pa - image_pa + KERNEL_VA;
    let mut alloc = PhysPool;
    let (Some(ttbr0), Some(ttbr1)) = (pool_alloc_pa(), pool_alloc_pa()) else {
        return;
    };
    TTBR1_ROOT.store(ttbr1, Ordering::Relaxed);
    IDMAP_ROOT.store(ttbr0, Ordering::Relaxed);

    let text = s.text_end - s.image_start;
    map_or_halt(
        ttbr0,
        s.image_start,
        s.image_start,
        text,
        MemType::Normal,
        Perm::RX,
        &mut alloc,
    );
    let m = |start: u64, end: u64, perm: Perm, a: &mut PhysPool| {
        map_or_halt(
            ttbr1,
            va(start),
            start,
            end - start,
            MemType::Normal,
            perm,
            a,
        )
    };
    m(s.image_start, s.text_end, Perm::RX, &mut alloc);
    m(s.rodata_start, s.rodata_end, Perm::R, &mut alloc);
    m(s.data_start, s.stack_guard, Perm::RW, &mut alloc);
    m(s.stack_bottom, s.image_end, Perm::RW, &mut alloc);

    // The device tree, if x0 points at one (magic 0xd00dfeed, big endian).
    // SAFETY: with the MMU off any aligned physical address can be read; the header is two words.
    let (magic, size) = unsafe {
        if dtb_pa != 0 && dtb_pa.is_multiple_of(8) {
            let p = dtb_pa as *const u32;
            (
                u32::from_be(p.read_volatile()),
                u32::from_be(p.add(1).read_volatile()) as u64,
            )
        } else {
            (0, 0)
        }
    };
    if magic == 0xd00d_feed && size > 0 && size < (64 << 20) {
        let start = dtb_pa & !(PAGE_SIZE - 1);
        let end = page_up(dtb_pa + size);
        map_or_halt(
            ttbr1,
            DIRECT_MAP_BASE + start,
            start,
            end - start,
            MemType::Normal,
            Perm::RW,
            &mut alloc,
        );
        DTB_PA.store(dtb_pa, Ordering::Relaxed);
        DTB_SIZE.store(size, Ordering::Relaxed);
    }

    // Tables and data were written with the caches off: drop any stale lines for the image.
    let mut line = s.image_start;
    while line < s.image_end {
        // SAFETY: invalidating by address only discards cached copies of the image's own memory,
        // which the MMU-off stores above already wrote to RAM.
        unsafe { core::arch::asm!("dc ivac, {}", in(reg) line) };
        line += 64;
    }
    barrier::dsb(barrier::SY);

    MAIR_EL1.set(pagetable::MAIR);
    let pa_range = ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::PARange).min(5);
    TCR_EL1.write(
        TCR_EL1::T0SZ.val(16)
            + TCR_EL1::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::SH0::Inner
            + TCR_EL1::TG0::KiB_4
            + TCR_EL1::T1SZ.val(16)
            + TCR_EL1::IRGN1::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::ORGN1::WriteBack_ReadAlloc_WriteAlloc_Cacheable
            + TCR_EL1::SH1::Inner
            + TCR_EL1::TG1::KiB_4
            + TCR_EL1::IPS.val(pa_range),
    );
    TTBR0_EL1.set_baddr(ttbr0);
    TTBR1_EL1.set_baddr(ttbr1);
    barrier::isb(barrier::SY);
    // SAFETY: invalidating the TLB of this core has no memory-safety effect.
    unsafe { core::arch::asm!("tlbi vmalle1", "dsb nsh", "isb") };
}

/// Turns off TTBR0 walks once the kernel runs in the upper half (user space will use TTBR0).
#[no_mangle]
pub extern "C" fn early_drop_identity_map() {
    TCR_EL1.modify(TCR_EL1::EPD0::DisableTTBR0Walks);
    TTBR0_EL1.set(0);
    barrier::isb(barrier::SY);
    // SAFETY: see above.
    unsafe { core::arch::asm!("tlbi vmalle1", "dsb nsh", "isb") };
}
