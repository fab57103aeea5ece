//! AArch64 stage-1 translation tables: 4 KiB granule, 48-bit virtual addresses, four levels.
//!
//! Level 0 entries cover 512 GiB and always point to tables; level 1 entries may be 1 GiB
//! blocks, level 2 entries 2 MiB blocks and level 3 entries 4 KiB pages. An address is indexed
//! with bits \[47:12\] only, so the same code serves the low half (`TTBR0_EL1`, addresses
//! `0..2^48`) and the high half (`TTBR1_EL1`, addresses from `0xFFFF_0000_0000_0000`). Each half
//! needs its own root table: a single root would alias the two halves.
//!
//! The kernel runs this code with the MMU off, at a physical address that differs from its link
//! address. It therefore avoids everything that would read an absolute pointer from read-only
//! data: no trait objects, no `core::fmt`, no panics on the mapping paths (arithmetic is checked
//! and failures are returned as [`MapError`]).
//!
//! Writing descriptors is all this module does: the caller issues the barriers (`DSB ISHST`) and
//! TLB invalidations required before the new translations are relied upon.

use core::fmt;

/// log2 of the translation granule.
pub const PAGE_SHIFT: u32 = 12;
/// The translation granule and smallest mapping size, 4 KiB.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
/// Number of descriptors in one table page.
pub const ENTRIES: usize = 512;

/// `MAIR_EL1` value matching the attribute indices this module writes: index 0 is Device-nGnRE
/// (0x04), index 1 Normal write-back read/write-allocate inner and outer (0xFF), index 2 Normal
/// non-cacheable (0x44). Indices 3..7 are 0x00 (Device-nGnRnE).
pub const MAIR: u64 = 0x04 | (0xFF << 8) | (0x44 << 16);

/// Size of a level-1 block, 1 GiB.
pub const L1_BLOCK_SIZE: u64 = 1 << 30;
/// Size of a level-2 block, 2 MiB.
pub const L2_BLOCK_SIZE: u64 = 1 << 21;

/// Descriptor bit 0: the entry is valid.
const DESC_VALID: u64 = 1 << 0;
/// Descriptor bit 1: table (levels 0..2) or page (level 3); clear for a block.
const DESC_TABLE_OR_PAGE: u64 = 1 << 1;
/// Shift of the `AttrIndx[2:0]` field.
const ATTR_INDEX_SHIFT: u32 = 2;
/// `AP[1]`: accessible from EL0.
const AP_EL0: u64 = 1 << 6;
/// `AP[2]`: read-only.
const AP_RO: u64 = 1 << 7;
/// `SH[1:0]` = 0b11: inner shareable.
const SH_INNER: u64 = 0b11 << 8;
/// Access flag; set so the first access does not fault.
const DESC_AF: u64 = 1 << 10;
/// Not-global: the translation is tagged with the current ASID.
const DESC_NG: u64 = 1 << 11;
/// Privileged execute-never.
const DESC_PXN: u64 = 1 << 53;
/// Unprivileged execute-never.
const DESC_UXN: u64 = 1 << 54;
/// Output address bits \[47:12\] of a descriptor.
const ADDR_MASK: u64 = 0x0000_FFFF_FFFF_F000;
/// Bits of a leaf descriptor that describe attributes rather than type or address.
const LEAF_ATTR_MASK: u64 = !(ADDR_MASK | DESC_VALID | DESC_TABLE_OR_PAGE);

/// Attribute index of Device-nGnRE memory in [`MAIR`].
const ATTR_DEVICE: u64 = 0;
/// Attribute index of Normal write-back memory in [`MAIR`].
const ATTR_NORMAL: u64 = 1;
/// Attribute index of Normal non-cacheable memory in [`MAIR`].
const ATTR_NORMAL_NC: u64 = 2;

/// One past the highest low-half (`TTBR0`) virtual address.
const LOW_HALF_END: u64 = 1 << 48;
/// The lowest high-half (`TTBR1`) virtual address.
const HIGH_HALF_START: u64 = 0xFFFF_0000_0000_0000;
/// One past the highest physical address a descriptor can hold.
const PA_LIMIT: u64 = 1 << 48;

/// The memory type of a mapping, selecting a `MAIR_EL1` attribute index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemType {
    /// Normal write-back cacheable memory (RAM).
    Normal,
    /// Device-nGnRE memory (MMIO); always execute-never.
    Device,
    /// Normal non-cacheable memory (e.g. buffers shared with non-coherent devices).
    NormalNonCacheable,
}

impl MemType {
    /// Returns the `AttrIndx` value for this type in [`MAIR`].
    const fn attr_index(self) -> u64 {
        match self {
            Self::Device => ATTR_DEVICE,
            Self::Normal => ATTR_NORMAL,
            Self::NormalNonCacheable => ATTR_NORMAL_NC,
        }
    }

    /// Decodes an `AttrIndx` value; indices 3..7 are Device-nGnRnE in [`MAIR`], so they decode
    /// as [`MemType::Device`].
    const fn from_attr_index(index: u64) -> Self {
        match index {
            ATTR_NORMAL => Self::Normal,
            ATTR_NORMAL_NC => Self::NormalNonCacheable,
            _ => Self::Device,
        }
    }
}

/// Access permissions of a mapping. Reading is always allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perm {
    /// Writes are allowed.
    pub write: bool,
    /// Instruction fetches are allowed.
    pub exec: bool,
    /// EL0 (user space) may access the mapping; otherwise only EL1 may.
    pub user: bool,
}

impl Perm {
    /// Kernel read-only.
    pub const R: Self = Self::new(false, false, false);
    /// Kernel read-write.
    pub const RW: Self = Self::new(true, false, false);
    /// Kernel read-execute.
    pub const RX: Self = Self::new(false, true, false);

    /// Builds a permission set from its three flags.
    pub const fn new(write: bool, exec: bool, user: bool) -> Self {
        Self { write, exec, user }
    }

    /// Returns the same permissions, made accessible from EL0.
    pub const fn for_user(self) -> Self {
        Self { user: true, ..self }
    }

    /// Returns whether the set is both writable and executable, which [`map`] refuses.
    pub const fn is_write_exec(self) -> bool {
        self.write && self.exec
    }
}

/// The result of a successful [`translate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The physical address the virtual address maps to.
    pub pa: u64,
    /// The mapping's memory type.
    pub mem: MemType,
    /// The mapping's permissions as the hardware will enforce them.
    pub perm: Perm,
    /// Size of the leaf entry holding the mapping: 4 KiB, 2 MiB or 1 GiB.
    pub size: u64,
}

/// A decoded translation table descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// Not valid (including the encodings reserved at this level).
    Invalid,
    /// A pointer to the next-level table.
    Table {
        /// Physical address of the next-level table.
        pa: u64,
    },
    /// A block or page mapping; `pa` is the output address of its first byte.
    Leaf(Translation),
}

/// Why a mapping operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// A virtual address, physical address or size was not a multiple of [`PAGE_SIZE`].
    Misaligned {
        /// The offending value.
        value: u64,
    },
    /// The permissions asked for writable and executable memory at once (W^X).
    WriteExecute,
    /// The virtual range is not inside one canonical 48-bit half of the address space.
    OutOfRange {
        /// The first virtual address of the range.
        va: u64,
    },
    /// The physical range extends past the 48-bit output address space.
    PhysOutOfRange {
        /// The first physical address of the range.
        pa: u64,
    },
    /// Part of the range is already mapped to something else.
    AlreadyMapped {
        /// The first conflicting virtual address.
        va: u64,
    },
    /// The table allocator had no page left for a new table.
    OutOfMemory,
    /// An unmap covered only part of a block mapping; blocks are never split.
    PartialBlock {
        /// The first virtual address of the block.
        va: u64,
    },
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Misaligned { value } => write!(
                f,
                "page table update refused: {value:#x} is not a multiple of the 4 KiB page size"
            ),
            Self::WriteExecute => f.write_str(
                "page table update refused: a mapping may not be both writable and executable (W^X)",
            ),
            Self::OutOfRange { va } => write!(
                f,
                "page table update refused: the range at {va:#x} is not inside one canonical \
                 48-bit half of the virtual address space"
            ),
            Self::PhysOutOfRange { pa } => write!(
                f,
                "page table update refused: the physical range at {pa:#x} extends past the \
                 48-bit output address space"
            ),
            Self::AlreadyMapped { va } => write!(
                f,
                "page table update refused: {va:#x} is already mapped to a different address or \
                 with different attributes"
            ),
            Self::OutOfMemory => f.write_str(
                "page table update failed: no memory was left to allocate a translation table",
            ),
            Self::PartialBlock { va } => write!(
                f,
                "unmap refused: it covers only part of the block mapping at {va:#x}, and blocks \
                 are not split"
            ),
        }
    }
}

/// Supplies and addresses the pages that hold translation tables.
pub trait TableAlloc {
    /// Returns the physical address of a new zeroed, 4 KiB-aligned table page, or None when out of memory.
    fn alloc_table(&mut self) -> Option<u64>;
    /// Returns a pointer through which the table page at physical address `pa` can be read and written.
    fn table_ptr(&self, pa: u64) -> *mut u64;
}

/// Returns the VA shift of the entries at `level` (39, 30, 21, 12 for levels 0..3).
///
/// Wrapping arithmetic keeps panic paths out of the MMU-off code; callers pass levels 0..=3.
const fn level_shift(level: u32) -> u32 {
    39u32.wrapping_sub(level.wrapping_mul(9))
}

/// Returns the number of bytes one entry at `level` covers.
const fn entry_size(level: u32) -> u64 {
    1u64.wrapping_shl(level_shift(level))
}

/// Returns the index of `va`'s entry in a table at `level`.
const fn table_index(va: u64, level: u32) -> usize {
    (va.wrapping_shr(level_shift(level)) & (ENTRIES as u64 - 1)) as usize
}

/// Returns whether `value` is a multiple of [`PAGE_SIZE`].
const fn page_aligned(value: u64) -> bool {
    value & (PAGE_SIZE - 1) == 0
}

/// Returns whether `[va, va + size)` (with `size > 0`) lies inside one canonical half.
const fn va_range_ok(va: u64, size: u64) -> bool {
    let Some(last) = va.checked_add(size - 1) else {
        return false;
    };
    (last < LOW_HALF_END) || (va >= HIGH_HALF_START)
}

/// Returns whether `va` is canonical in the 48-bit layout.
const fn va_canonical(va: u64) -> bool {
    va < LOW_HALF_END || va >= HIGH_HALF_START
}

/// Returns the lower and upper attribute bits of a leaf mapping `mem` with `perm`.
///
/// Device memory is always execute-never; kernel mappings are never executable from EL0 and
/// user mappings never from EL1.
pub const fn leaf_attrs(mem: MemType, perm: Perm) -> u64 {
    let mut attrs = DESC_AF | (mem.attr_index() << ATTR_INDEX_SHIFT);
    if !matches!(mem, MemType::Device) {
        attrs |= SH_INNER;
    }
    if !perm.write {
        attrs |= AP_RO;
    }
    let exec = perm.exec && !matches!(mem, MemType::Device);
    if perm.user {
        attrs |= AP_EL0 | DESC_NG | DESC_PXN;
        if !exec {
            attrs |= DESC_UXN;
        }
    } else {
        attrs |= DESC_UXN;
        if !exec {
            attrs |= DESC_PXN;
        }
    }
    attrs
}

/// Decodes descriptor `desc` found in a table at `level` (0..=3).
///
/// Level-0 blocks and level-3 entries without the page bit are reserved encodings and decode as
/// [`Entry::Invalid`], as does any level above 3.
pub const fn decode_entry(desc: u64, level: u32) -> Entry {
    if desc & DESC_VALID == 0 || level > 3 {
        return Entry::Invalid;
    }
    let is_table_or_page = desc & DESC_TABLE_OR_PAGE != 0;
    let pa = desc & ADDR_MASK;
    if level < 3 && is_table_or_page {
        return Entry::Table { pa };
    }
    if level == 0 || (level == 3 && !is_table_or_page) {
        return Entry::Invalid;
    }
    let size = entry_size(level);
    let user = desc & AP_EL0 != 0;
    let xn = if user { DESC_UXN } else { DESC_PXN };
    Entry::Leaf(Translation {
        pa: pa & !size.wrapping_sub(1),
        mem: MemType::from_attr_index((desc >> ATTR_INDEX_SHIFT) & 0b111),
        perm: Perm {
            write: desc & AP_RO == 0,
            exec: desc & xn == 0,
            user,
        },
        size,
    })
}

/// Returns a pointer to `va`'s entry at `level` in the table at physical address `table`.
///
/// # Safety
///
/// `table` must be a translation table page that `alloc` can address.
unsafe fn entry_ptr<A: TableAlloc>(alloc: &A, table: u64, level: u32, va: u64) -> *mut u64 {
    // SAFETY: the index is below ENTRIES, so the result stays inside the 4 KiB table page the
    // caller vouches for.
    unsafe { alloc.table_ptr(table).add(table_index(va, level)) }
}

/// `va`'s entry at one level, with where `va` falls inside the region that entry covers.
struct Slot {
    ptr: *mut u64,
    desc: u64,
    size: u64,
    offset_in_entry: u64,
    entry_left: u64,
}

/// Reads `va`'s entry at `level` in the table at physical address `table`.
///
/// # Safety
///
/// As for [`entry_ptr`].
unsafe fn read_slot<A: TableAlloc>(alloc: &A, table: u64, level: u32, va: u64) -> Slot {
    // SAFETY: forwarded from the caller.
    let ptr = unsafe { entry_ptr(alloc, table, level, va) };
    // SAFETY: `ptr` points into the live table page the caller vouches for.
    let desc = unsafe { ptr.read_volatile() };
    let size = entry_size(level);
    let offset_in_entry = va & size.wrapping_sub(1);
    Slot {
        ptr,
        desc,
        size,
        offset_in_entry,
        entry_left: size.wrapping_sub(offset_in_entry),
    }
}

/// Maps (or, when `apply` is false, only checks) the largest possible piece starting at `va`.
///
/// Returns how many bytes starting at `va` were handled, at most `remaining`.
///
/// # Safety
///
/// As for [`map`]; with `apply == false` nothing is written or allocated.
#[allow(clippy::too_many_arguments)]
unsafe fn map_step<A: TableAlloc>(
    root: u64,
    va: u64,
    pa: u64,
    remaining: u64,
    attrs: u64,
    alloc: &mut A,
    blocks: bool,
    apply: bool,
) -> Result<u64, MapError> {
    let mut table = root;
    let mut level = 0;
    loop {
        // SAFETY: `table` is the root or a table linked from it, both valid per the contract.
        let Slot {
            ptr: slot,
            desc,
            size,
            offset_in_entry,
            entry_left,
        } = unsafe { read_slot(alloc, table, level, va) };
        let covered = if entry_left < remaining {
            entry_left
        } else {
            remaining
        };
        match decode_entry(desc, level) {
            Entry::Table { pa: next } => {
                table = next;
                level = level.wrapping_add(1);
            }
            Entry::Leaf(existing) => {
                let wanted = existing.pa.wrapping_add(offset_in_entry);
                if desc & LEAF_ATTR_MASK != attrs || wanted != pa {
                    return Err(MapError::AlreadyMapped { va });
                }
                return Ok(covered);
            }
            Entry::Invalid => {
                if !apply {
                    return Ok(covered);
                }
                let block_ok = blocks
                    && (level == 1 || level == 2)
                    && offset_in_entry == 0
                    && pa & size.wrapping_sub(1) == 0
                    && remaining >= size;
                if level == 3 || block_ok {
                    let kind = if level == 3 { DESC_TABLE_OR_PAGE } else { 0 };
                    // SAFETY: `slot` points into a live table page the caller owns.
                    unsafe { slot.write_volatile(pa | attrs | kind | DESC_VALID) };
                    return Ok(size);
                }
                let Some(next) = alloc.alloc_table() else {
                    return Err(MapError::OutOfMemory);
                };
                // SAFETY: `slot` points into a live table page the caller owns; `next` is a fresh
                // zeroed table page from the allocator.
                unsafe {
                    slot.write_volatile((next & ADDR_MASK) | DESC_TABLE_OR_PAGE | DESC_VALID)
                };
                table = next;
                level = level.wrapping_add(1);
            }
        }
    }
}

/// Validates the arguments shared by [`map`] and [`unmap`].
fn check_va_range(va: u64, size: u64) -> Result<(), MapError> {
    if !page_aligned(va) {
        return Err(MapError::Misaligned { value: va });
    }
    if !page_aligned(size) {
        return Err(MapError::Misaligned { value: size });
    }
    if !va_canonical(va) || (size != 0 && !va_range_ok(va, size)) {
        return Err(MapError::OutOfRange { va });
    }
    Ok(())
}

/// Maps the virtual range `[va, va + size)` to the physical range starting at `pa`.
///
/// `va`, `pa` and `size` must be multiples of [`PAGE_SIZE`], the virtual range must lie in one
/// canonical half and the physical range below 2^48. With `blocks`, 1 GiB and 2 MiB block
/// descriptors are used wherever `va`, `pa` and the remaining size allow and no table exists
/// yet; otherwise only 4 KiB pages are written. Parts of the range that are already mapped
/// identically (same output address and attributes) are accepted unchanged; any other existing
/// mapping makes the whole call fail with [`MapError::AlreadyMapped`] before anything is written.
/// A writable and executable `perm` is refused with [`MapError::WriteExecute`]. A `size` of 0
/// maps nothing.
///
/// If the allocator runs dry, [`MapError::OutOfMemory`] is returned and the part of the range
/// before the failure stays mapped; [`unmap`] the range to undo it.
///
/// # Safety
///
/// `root` must be the physical address of a valid, 4 KiB-aligned level-0 table that the caller
/// owns exclusively for the duration of the call, every table reachable from it must have been
/// built by this module (or be equally valid), and `alloc.table_ptr` must return a dereferenceable
/// pointer for each of them and for every page `alloc.alloc_table` returns. If the tables are
/// live (installed in a `TTBRn_EL1`), the caller must make the change safe for code running on
/// the affected addresses and perform the required barriers and TLB maintenance.
#[allow(clippy::too_many_arguments)]
pub unsafe fn map<A: TableAlloc>(
    root: u64,
    va: u64,
    pa: u64,
    size: u64,
    mem: MemType,
    perm: Perm,
    alloc: &mut A,
    blocks: bool,
) -> Result<(), MapError> {
    if perm.is_write_exec() {
        return Err(MapError::WriteExecute);
    }
    check_va_range(va, size)?;
    if !page_aligned(pa) {
        return Err(MapError::Misaligned { value: pa });
    }
    match pa.checked_add(size) {
        Some(end) if end <= PA_LIMIT => {}
        _ => return Err(MapError::PhysOutOfRange { pa }),
    }
    let attrs = leaf_attrs(mem, perm);
    for apply in [false, true] {
        let mut done = 0;
        while done < size {
            // SAFETY: forwarded from this function's contract; addresses stay inside the
            // validated ranges because `done < size`.
            let step = unsafe {
                map_step(
                    root,
                    va.wrapping_add(done),
                    pa.wrapping_add(done),
                    size.wrapping_sub(done),
                    attrs,
                    alloc,
                    blocks,
                    apply,
                )
            };
            done = done.wrapping_add(step?);
        }
    }
    Ok(())
}

/// The level-3 table holding `va`'s page entry, if the walk from `root` reaches one; `Ok(None)`
/// when a table on the way is missing. A block on the way is [`MapError::AlreadyMapped`].
///
/// # Safety
///
/// As for [`map`]; nothing is written.
unsafe fn page_table<A: TableAlloc>(
    root: u64,
    va: u64,
    alloc: &A,
) -> Result<Option<u64>, MapError> {
    let mut table = root;
    let mut level = 0;
    while level < 3 {
        // SAFETY: `table` is the root or a table linked from it, both valid per the contract.
        let desc = unsafe { entry_ptr(alloc, table, level, va).read_volatile() };
        match decode_entry(desc, level) {
            Entry::Table { pa } => table = pa,
            Entry::Invalid => return Ok(None),
            Entry::Leaf(_) => return Err(MapError::AlreadyMapped { va }),
        }
        level = level.wrapping_add(1);
    }
    Ok(Some(table))
}

/// The span of virtual addresses one level-3 table maps (2 MiB).
const PAGE_TABLE_SPAN: u64 = PAGE_SIZE * ENTRIES as u64;

/// Maps the pages starting at `va` one after another to `frames` (4 KiB frames, not contiguous;
/// `None` leaves its page unmapped), walking the tables once per level-3 table instead of once a
/// page. Otherwise as [`map`] without blocks: pages already mapped identically are accepted, any
/// other existing mapping fails the whole call before anything is written.
///
/// # Safety
///
/// As for [`map`].
pub unsafe fn map_pages<A: TableAlloc>(
    root: u64,
    va: u64,
    frames: &[Option<u64>],
    mem: MemType,
    perm: Perm,
    alloc: &mut A,
) -> Result<(), MapError> {
    if perm.is_write_exec() {
        return Err(MapError::WriteExecute);
    }
    let size = (frames.len() as u64)
        .checked_mul(PAGE_SIZE)
        .ok_or(MapError::OutOfRange { va })?;
    check_va_range(va, size)?;
    for &pa in frames.iter().flatten() {
        if !page_aligned(pa) {
            return Err(MapError::Misaligned { value: pa });
        }
        if pa >= PA_LIMIT {
            return Err(MapError::PhysOutOfRange { pa });
        }
    }
    let attrs = leaf_attrs(mem, perm);
    for apply in [false, true] {
        // The level-3 table of the 2 MiB chunk the last page was in.
        let mut current: Option<(u64, Option<u64>)> = None;
        for (page_va, pa) in (0u64..)
            .map(|i| va.wrapping_add(i.wrapping_mul(PAGE_SIZE)))
            .zip(frames)
        {
            let Some(pa) = *pa else { continue };
            let chunk = page_va & !(PAGE_TABLE_SPAN - 1);
            let table = match current {
                Some((at, table)) if at == chunk && (table.is_some() || !apply) => table,
                _ => {
                    // SAFETY: forwarded from this function's contract.
                    let mut table = unsafe { page_table(root, page_va, alloc) }?;
                    if table.is_none() && apply {
                        // Builds the missing tables (and maps this page).
                        // SAFETY: as above; the check pass found nothing in the way.
                        unsafe {
                            map_step(root, page_va, pa, PAGE_SIZE, attrs, alloc, false, true)
                        }?;
                        // SAFETY: as above.
                        table = unsafe { page_table(root, page_va, alloc) }?;
                    }
                    current = Some((chunk, table));
                    table
                }
            };
            // Without a table (the check pass), every page of the chunk is free.
            let Some(table) = table else { continue };
            let wanted = pa | attrs | DESC_TABLE_OR_PAGE | DESC_VALID;
            // SAFETY: `table` is a level-3 table linked from `root`.
            let slot = unsafe { entry_ptr(alloc, table, 3, page_va) };
            // SAFETY: `slot` points into a live table page the caller owns.
            let desc = unsafe { slot.read_volatile() };
            if desc & DESC_VALID == 0 {
                if apply {
                    // SAFETY: as above.
                    unsafe { slot.write_volatile(wanted) };
                }
            } else if desc != wanted {
                return Err(MapError::AlreadyMapped { va: page_va });
            }
        }
    }
    Ok(())
}

/// Gives the pages mapped in `[va, va + size)` the attributes of `mem` and `perm`, keeping their
/// frames, walking the tables once per level-3 table. Unmapped pages are skipped; a block
/// mapping in the range fails the call ([`MapError::PartialBlock`]) before anything is written.
///
/// # Safety
///
/// As for [`map`]; for live tables the caller must invalidate the TLB entries of the range
/// before relying on the new permissions.
pub unsafe fn protect<A: TableAlloc>(
    root: u64,
    va: u64,
    size: u64,
    mem: MemType,
    perm: Perm,
    alloc: &A,
) -> Result<(), MapError> {
    if perm.is_write_exec() {
        return Err(MapError::WriteExecute);
    }
    check_va_range(va, size)?;
    let attrs = leaf_attrs(mem, perm);
    for apply in [false, true] {
        let mut page_va = va;
        while page_va < va.wrapping_add(size) {
            // SAFETY: forwarded from this function's contract.
            let table = match unsafe { page_table(root, page_va, alloc) } {
                Ok(table) => table,
                Err(_) => return Err(MapError::PartialBlock { va: page_va }),
            };
            let chunk_end = (page_va | (PAGE_TABLE_SPAN - 1)).wrapping_add(1);
            let end = if chunk_end < va.wrapping_add(size) {
                chunk_end
            } else {
                va.wrapping_add(size)
            };
            if let Some(table) = table {
                while page_va < end {
                    // SAFETY: `table` is the level-3 table of this chunk, linked from `root`.
                    let slot = unsafe { entry_ptr(alloc, table, 3, page_va) };
                    // SAFETY: `slot` points into a live table page the caller owns.
                    let desc = unsafe { slot.read_volatile() };
                    if apply && matches!(decode_entry(desc, 3), Entry::Leaf(_)) {
                        let page = (desc & ADDR_MASK) | attrs | DESC_TABLE_OR_PAGE | DESC_VALID;
                        // SAFETY: as above.
                        unsafe { slot.write_volatile(page) };
                    }
                    page_va = page_va.wrapping_add(PAGE_SIZE);
                }
            }
            page_va = end;
        }
    }
    Ok(())
}

/// Clears (or, when `apply` is false, only checks) the entry mapping `va`.
///
/// Returns how many bytes starting at `va` were handled, at most `remaining`.
///
/// # Safety
///
/// As for [`unmap`]; with `apply == false` nothing is written.
unsafe fn unmap_step<A: TableAlloc>(
    root: u64,
    va: u64,
    remaining: u64,
    alloc: &A,
    apply: bool,
) -> Result<u64, MapError> {
    let mut table = root;
    let mut level = 0;
    loop {
        // SAFETY: `table` is the root or a table linked from it, both valid per the contract.
        let Slot {
            ptr: slot,
            desc,
            size,
            offset_in_entry,
            entry_left,
        } = unsafe { read_slot(alloc, table, level, va) };
        match decode_entry(desc, level) {
            Entry::Table { pa: next } => {
                table = next;
                level = level.wrapping_add(1);
            }
            Entry::Invalid => {
                return Ok(if entry_left < remaining {
                    entry_left
                } else {
                    remaining
                });
            }
            Entry::Leaf(_) => {
                if offset_in_entry != 0 || remaining < size {
                    return Err(MapError::PartialBlock {
                        va: va.wrapping_sub(offset_in_entry),
                    });
                }
                if apply {
                    // SAFETY: `slot` points into a live table page the caller owns.
                    unsafe { slot.write_volatile(0) };
                }
                return Ok(size);
            }
        }
    }
}

/// Removes every mapping in the virtual range `[va, va + size)`.
///
/// `va` and `size` must be multiples of [`PAGE_SIZE`] and the range must lie in one canonical
/// half. Unmapped holes are skipped. A block mapping must be covered entirely; otherwise the
/// call fails with [`MapError::PartialBlock`] before anything is cleared. Emptied tables stay
/// linked (the allocator has no way to take them back).
///
/// # Safety
///
/// The same contract as [`map`]: `root` must be a valid level-0 table the caller owns
/// exclusively, reachable tables must be addressable through `alloc`, and for live tables the
/// caller must perform the barriers and TLB invalidation before the memory is reused.
pub unsafe fn unmap<A: TableAlloc>(
    root: u64,
    va: u64,
    size: u64,
    alloc: &A,
) -> Result<(), MapError> {
    check_va_range(va, size)?;
    for apply in [false, true] {
        let mut done = 0;
        while done < size {
            let (cur, left) = (va.wrapping_add(done), size.wrapping_sub(done));
            // SAFETY: forwarded from this function's contract; `cur..cur + left` stays inside
            // the validated range because `done < size`.
            done = done.wrapping_add(unsafe { unmap_step(root, cur, left, alloc, apply) }?);
        }
    }
    Ok(())
}

/// Walks the tables from `root` and returns how `va` translates, or `None` when it is unmapped
/// or not canonical.
///
/// # Safety
///
/// `root` must be a valid level-0 table whose reachable tables are addressable through `alloc`,
/// and no one may modify them during the call.
pub unsafe fn translate<A: TableAlloc>(root: u64, va: u64, alloc: &A) -> Option<Translation> {
    if !va_canonical(va) {
        return None;
    }
    let mut table = root;
    let mut level = 0;
    while level <= 3 {
        // SAFETY: `table` is the root or a table linked from it, both valid per the contract.
        let slot = unsafe { entry_ptr(alloc, table, level, va) };
        // SAFETY: `slot` points into a live table page (see above).
        let desc = unsafe { slot.read_volatile() };
        match decode_entry(desc, level) {
            Entry::Invalid => return None,
            Entry::Table { pa } => {
                table = pa;
                level = level.wrapping_add(1);
            }
            Entry::Leaf(leaf) => {
                return Some(Translation {
                    pa: leaf.pa | (va & leaf.size.wrapping_sub(1)),
                    ..leaf
                });
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
