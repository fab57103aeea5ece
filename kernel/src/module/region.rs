//! The module region: where loaded modules live in the kernel's address space, and the memory
//! of one module.
//!
//! Modules are placed in the 1 GiB right below the kernel image (`KERNEL_VA - 1 GiB` to
//! `KERNEL_VA`), so every `ADRP` from a module reaches the kernel's exports and every other
//! module (±4 GiB). A first-fit allocator hands out page-aligned spans with an unmapped guard
//! page after each. A module's span holds its text, rodata and data groups, each starting on a
//! page of its own so each can get its own permissions:
//!
//! ```text
//!  span start                                                    guard
//!  | text (RX after sealing) | rodata (R after sealing) | data+bss (RW) | --- |
//! ```
//!
//! Frames are allocated one page at a time (no power-of-two waste) and mapped read-write while
//! the loader links; [`ModuleMemory::seal`] then remaps text RX and rodata R and makes the code
//! visible to instruction fetch. Dropping a [`ModuleMemory`] unmaps and frees everything.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use keel_boot::layout::KERNEL_VA;
use keel_core::pagetable::{MapError, Perm};
use keel_modload::{Layout, Span};

use crate::mm::{self, PAGE_SIZE};
use crate::sync::IrqMutex;

/// First address of the module region.
pub const REGION_START: u64 = KERNEL_VA - (1 << 30);
/// End of the module region (exclusive): the kernel image starts here.
pub const REGION_END: u64 = KERNEL_VA;

/// Spans in use: start -> end (exclusive, guard page included).
static SPANS: IrqMutex<BTreeMap<u64, u64>> = IrqMutex::new(BTreeMap::new());

/// Why module memory could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionError {
    /// The module region has no free span of this many bytes.
    NoAddressSpace {
        /// Bytes asked for, guard page included.
        bytes: u64,
    },
    /// The frame allocator ran out after this many pages.
    NoFrames {
        /// Pages the module needs.
        pages: u64,
    },
    /// The page tables refused a mapping.
    Map(MapError),
}

impl core::fmt::Display for RegionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RegionError::NoAddressSpace { bytes } => write!(
                f,
                "the module region ({REGION_START:#x}..{REGION_END:#x}) has no free span of {bytes} bytes"
            ),
            RegionError::NoFrames { pages } => {
                write!(f, "out of physical memory for the module's {pages} pages")
            }
            RegionError::Map(e) => write!(f, "cannot map the module's pages: {e:?}"),
        }
    }
}

fn round_up(x: u64, align: u64) -> u64 {
    x.div_ceil(align) * align
}

/// Reserves `bytes` (a multiple of the page size) aligned to `align`, plus a guard page.
fn reserve(bytes: u64, align: u64) -> Result<u64, RegionError> {
    let need = bytes + PAGE_SIZE;
    let mut spans = SPANS.lock();
    let mut cursor = REGION_START;
    for (&start, &end) in spans.iter() {
        let candidate = round_up(cursor, align);
        if candidate + need <= start {
            break;
        }
        cursor = cursor.max(end);
    }
    let start = round_up(cursor, align);
    if start.checked_add(need).is_none_or(|end| end > REGION_END) {
        return Err(RegionError::NoAddressSpace { bytes: need });
    }
    spans.insert(start, start + need);
    Ok(start)
}

fn release(start: u64) {
    SPANS.lock().remove(&start);
}

// A prelinked module records its sections' offsets in the span computed with modload's page size.
const _: () = assert!(keel_modload::PAGE_SIZE == PAGE_SIZE);

/// The memory of one module: a span of the module region backed by frames of its own.
pub struct ModuleMemory {
    va: u64,
    groups: Span,
    /// The frame behind each page of the span (`None` where a group leaves a hole).
    frames: Vec<Option<u64>>,
}

impl ModuleMemory {
    /// Reserves a span for `layout`, allocates its frames and maps them read-write. The bytes of
    /// the pages that no group covers are zeroed; the groups themselves are left for the link,
    /// which zeroes them before it copies the module in, so the caller must link (or drop) the
    /// memory before anything reads it.
    pub fn new(layout: &Layout) -> Result<ModuleMemory, RegionError> {
        let groups = layout.span();
        let align = (layout.max_align() as u64).max(PAGE_SIZE);
        let va = reserve(groups.total.max(PAGE_SIZE), align)?;
        let pages = groups.total / PAGE_SIZE;
        let mut memory = ModuleMemory {
            va,
            groups,
            frames: Vec::new(),
        };
        memory
            .frames
            .try_reserve_exact(pages as usize)
            .map_err(|_| RegionError::NoFrames { pages })?;
        let used = |group: (u64, u64), page: u64| {
            let at = page * PAGE_SIZE;
            group.1 > 0 && at + PAGE_SIZE > group.0 && at < group.0 + group.1
        };
        for page in 0..pages {
            let wanted =
                used(groups.text, page) || used(groups.rodata, page) || used(groups.data, page);
            if !wanted {
                memory.frames.push(None);
                continue;
            }
            let pa = mm::phys::alloc_pages(1).ok_or(RegionError::NoFrames { pages })?;
            // Dropping the memory frees it from here on.
            memory.frames.push(Some(pa));
            // Only the part of the page after the end of its group: the link zeroes the groups
            // before it fills them (`keel_modload::Object::link`).
            let at = page * PAGE_SIZE;
            let covered = [groups.text, groups.rodata, groups.data]
                .iter()
                .filter(|g| g.0 <= at)
                .map(|g| (g.0 + g.1).saturating_sub(at).min(PAGE_SIZE))
                .max()
                .unwrap_or(0);
            // SAFETY: the frame was just allocated for this module alone and is mapped in the
            // direct map; `covered <= PAGE_SIZE`.
            unsafe {
                core::ptr::write_bytes(
                    (mm::phys_to_virt(pa) + covered) as *mut u8,
                    0,
                    (PAGE_SIZE - covered) as usize,
                )
            };
        }
        mm::map::map_kernel_pages(va, &memory.frames, Perm::RW).map_err(RegionError::Map)?;
        Ok(memory)
    }

    /// Bytes of memory the module occupies (whole pages).
    pub fn size(&self) -> u64 {
        self.frames.iter().flatten().count() as u64 * PAGE_SIZE
    }

    /// The run-time addresses of the groups: `(text, rodata, data)` as `(address, length)`.
    pub fn ranges(&self) -> [(u64, u64); 3] {
        let g = self.groups;
        [
            (self.va + g.text.0, g.text.1),
            (self.va + g.rodata.0, g.rodata.1),
            (self.va + g.data.0, g.data.1),
        ]
    }

    /// Whether `[addr, addr + len)` lies inside one of the module's groups.
    pub fn contains(&self, addr: u64, len: u64) -> bool {
        self.ranges().iter().any(|&(start, size)| {
            addr >= start && addr.checked_add(len).is_some_and(|end| end <= start + size)
        })
    }

    /// Whether `[addr, addr + len)` lies inside the writable data group.
    pub fn in_data(&self, addr: u64, len: u64) -> bool {
        let (start, size) = self.ranges()[2];
        addr >= start && addr.checked_add(len).is_some_and(|end| end <= start + size)
    }

    /// Whether `addr` lies in the module's text.
    pub fn in_text(&self, addr: u64) -> bool {
        let (start, size) = self.ranges()[0];
        addr >= start && addr < start + size
    }

    /// The three groups as writable slices at their run-time addresses, for linking.
    ///
    /// # Safety
    /// Only before [`ModuleMemory::seal`]; the caller must not keep the slices past it.
    pub unsafe fn image(&mut self) -> keel_modload::Image<'_> {
        let [(text, tl), (ro, rl), (data, dl)] = self.ranges();
        let slice = |va: u64, len: u64| {
            if len == 0 {
                return &mut [][..];
            }
            // SAFETY: `[va, va + len)` lies in this module's span, mapped read-write and owned by
            // this object; the three groups do not overlap (each starts on its own page).
            unsafe { core::slice::from_raw_parts_mut(va as *mut u8, len as usize) }
        };
        keel_modload::Image {
            text: slice(text, tl),
            text_va: text,
            rodata: slice(ro, rl),
            rodata_va: ro,
            data: slice(data, dl),
            data_va: data,
        }
    }

    /// Sets the final permissions (text RX, rodata R; data stays RW) and makes the text visible
    /// to instruction fetch (clean D-cache to PoU, invalidate I-cache).
    pub fn seal(&mut self) -> Result<(), RegionError> {
        let g = self.groups;
        for (group, perm) in [(g.text, Perm::RX), (g.rodata, Perm::R)] {
            let start = group.0 / PAGE_SIZE * PAGE_SIZE;
            let end = round_up(group.0 + group.1, PAGE_SIZE);
            if end > start {
                mm::map::protect_kernel(self.va + start, end - start, perm)
                    .map_err(RegionError::Map)?;
            }
        }
        let (text, len) = self.ranges()[0];
        sync_icache(text, len);
        Ok(())
    }
}

/// Cleans the D-cache to the point of unification and invalidates the I-cache over
/// `[va, va + len)`, then synchronises, so freshly written code can run.
fn sync_icache(va: u64, len: u64) {
    if len == 0 {
        return;
    }
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects.
    unsafe { core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack)) };
    let dline = 4u64 << ((ctr >> 16) & 0xf);
    let iline = 4u64 << (ctr & 0xf);
    let end = va + len;
    let mut line = va & !(dline - 1);
    while line < end {
        // SAFETY: cache maintenance by VA over the module's mapped text.
        unsafe { core::arch::asm!("dc cvau, {}", in(reg) line, options(nostack)) };
        line += dline;
    }
    // SAFETY: barrier only.
    unsafe { core::arch::asm!("dsb ish", options(nostack)) };
    let mut line = va & !(iline - 1);
    while line < end {
        // SAFETY: as above.
        unsafe { core::arch::asm!("ic ivau, {}", in(reg) line, options(nostack)) };
        line += iline;
    }
    // SAFETY: barriers only.
    unsafe { core::arch::asm!("dsb ish", "isb", options(nostack)) };
}

impl Drop for ModuleMemory {
    fn drop(&mut self) {
        let size = self.frames.len() as u64 * PAGE_SIZE;
        if let Err(e) = mm::map::unmap_kernel(self.va, size) {
            // Keep the frames: something may still map them.
            log::error!(target: "module", "cannot unmap module span {:#x}: {e:?}; its frames are kept", self.va);
        } else {
            for pa in self.frames.iter().flatten() {
                mm::phys::free_pages(*pa, 1);
            }
        }
        release(self.va);
    }
}

/// Spans in use now, for tests: `(count, bytes)`.
pub fn usage() -> (usize, u64) {
    let spans = SPANS.lock();
    (
        spans.len(),
        spans.values().zip(spans.keys()).map(|(e, s)| e - s).sum(),
    )
}
