//! Host tests for the translation table code, with table pages on the host heap.

use super::*;

/// One table page, aligned like a real translation table.
#[repr(C, align(4096))]
struct Page([u64; ENTRIES]);

/// A [`TableAlloc`] whose "physical addresses" are the host addresses of heap pages.
struct HostAlloc {
    /// Every page handed out, owned through raw pointers so tables can be written via `&self`.
    pages: Vec<*mut Page>,
    /// How many pages may be handed out in total.
    limit: usize,
}

impl HostAlloc {
    fn new() -> Self {
        Self::with_limit(usize::MAX)
    }

    fn with_limit(limit: usize) -> Self {
        Self {
            pages: Vec::new(),
            limit,
        }
    }

    /// Allocates a root table.
    fn root(&mut self) -> u64 {
        self.alloc_table().expect("root table")
    }

    /// Reads the raw descriptor that maps `va` and the level it was found at.
    fn leaf(&self, root: u64, va: u64) -> Option<(u64, u32)> {
        let mut table = root;
        for level in 0..4 {
            // SAFETY: every table reachable from `root` was allocated by `self`.
            let desc = unsafe { *self.table_ptr(table).add(table_index(va, level)) };
            match decode_entry(desc, level) {
                Entry::Invalid => return None,
                Entry::Table { pa } => table = pa,
                Entry::Leaf(_) => return Some((desc, level)),
            }
        }
        None
    }
}

impl Drop for HostAlloc {
    fn drop(&mut self) {
        for &page in &self.pages {
            // SAFETY: each pointer came from `Box::into_raw` and is freed exactly once.
            drop(unsafe { Box::from_raw(page) });
        }
    }
}

impl TableAlloc for HostAlloc {
    fn alloc_table(&mut self) -> Option<u64> {
        if self.pages.len() >= self.limit {
            return None;
        }
        let page = Box::into_raw(Box::new(Page([0; ENTRIES])));
        self.pages.push(page);
        Some(page as u64)
    }

    fn table_ptr(&self, pa: u64) -> *mut u64 {
        let page = self
            .pages
            .iter()
            .find(|&&p| p as u64 == pa)
            .unwrap_or_else(|| panic!("{pa:#x} is not a table page this allocator handed out"));
        page.cast::<u64>()
    }
}

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
const KERNEL_BASE: u64 = 0xFFFF_FFFF_8000_0000;

/// Maps through `alloc` with the test's usual argument order.
#[allow(clippy::too_many_arguments)]
fn do_map(
    alloc: &mut HostAlloc,
    root: u64,
    va: u64,
    pa: u64,
    size: u64,
    mem: MemType,
    perm: Perm,
    blocks: bool,
) -> Result<(), MapError> {
    // SAFETY: `root` was allocated by `alloc` and only this test touches it.
    unsafe { map(root, va, pa, size, mem, perm, alloc, blocks) }
}

fn do_unmap(alloc: &HostAlloc, root: u64, va: u64, size: u64) -> Result<(), MapError> {
    // SAFETY: as for `do_map`.
    unsafe { unmap(root, va, size, alloc) }
}

fn tr(alloc: &HostAlloc, root: u64, va: u64) -> Option<Translation> {
    // SAFETY: as for `do_map`.
    unsafe { translate(root, va, alloc) }
}

#[test]
fn constants() {
    assert_eq!(PAGE_SIZE, 4096);
    assert_eq!(PAGE_SHIFT, 12);
    assert_eq!(ENTRIES, 512);
    assert_eq!(MAIR, 0x0044_FF04);
    assert_eq!(MAIR & 0xFF, 0x04);
    assert_eq!((MAIR >> 8) & 0xFF, 0xFF);
    assert_eq!((MAIR >> 16) & 0xFF, 0x44);
}

#[test]
fn perm_helpers() {
    assert_eq!(
        Perm::R,
        Perm {
            write: false,
            exec: false,
            user: false
        }
    );
    assert_eq!(
        Perm::RW,
        Perm {
            write: true,
            exec: false,
            user: false
        }
    );
    assert_eq!(
        Perm::RX,
        Perm {
            write: false,
            exec: true,
            user: false
        }
    );
    assert_eq!(
        Perm::RX.for_user(),
        Perm {
            write: false,
            exec: true,
            user: true
        }
    );
    assert!(Perm::new(true, true, false).is_write_exec());
    assert!(!Perm::RW.is_write_exec());
    assert!(!Perm::RX.is_write_exec());
}

#[test]
fn descriptor_bits_are_exact() {
    const PA: u64 = 0x4010_0000;
    let cases = [
        (MemType::Normal, Perm::RW, 0x0060_0000_0000_0707),
        (MemType::Normal, Perm::R, 0x0060_0000_0000_0787),
        (MemType::Normal, Perm::RX, 0x0040_0000_0000_0787),
        (MemType::Normal, Perm::RW.for_user(), 0x0060_0000_0000_0F47),
        (MemType::Normal, Perm::R.for_user(), 0x0060_0000_0000_0FC7),
        (MemType::Normal, Perm::RX.for_user(), 0x0020_0000_0000_0FC7),
        (MemType::Device, Perm::RW, 0x0060_0000_0000_0403),
        // Device memory is execute-never even when execution is asked for.
        (MemType::Device, Perm::RX, 0x0060_0000_0000_0483),
        (MemType::Device, Perm::RX.for_user(), 0x0060_0000_0000_0CC3),
        (MemType::NormalNonCacheable, Perm::RW, 0x0060_0000_0000_070B),
    ];
    for (i, (mem, perm, bits)) in cases.into_iter().enumerate() {
        let mut alloc = HostAlloc::new();
        let root = alloc.root();
        let va = 0x1000 * (i as u64 + 1);
        do_map(&mut alloc, root, va, PA, PAGE_SIZE, mem, perm, false).unwrap();
        let (desc, level) = alloc.leaf(root, va).unwrap();
        assert_eq!(level, 3);
        assert_eq!(desc, PA | bits, "{mem:?} {perm:?}: {desc:#x}");
    }
}

#[test]
fn leaf_attrs_matches_written_descriptor() {
    let attrs = leaf_attrs(MemType::Normal, Perm::RX);
    assert_eq!(attrs, 0x0040_0000_0000_0784);
    assert_eq!(attrs & (DESC_VALID | DESC_TABLE_OR_PAGE | ADDR_MASK), 0);
}

#[test]
fn translate_reports_what_was_mapped() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    for (va, mem, perm) in [
        (0x1000, MemType::Normal, Perm::RW),
        (0x2000, MemType::Normal, Perm::R),
        (0x3000, MemType::Normal, Perm::RX),
        (0x4000, MemType::NormalNonCacheable, Perm::RW.for_user()),
        (0x5000, MemType::Normal, Perm::RX.for_user()),
        (0x6000, MemType::Device, Perm::RW),
    ] {
        do_map(
            &mut alloc,
            root,
            va,
            va + 0x8000_0000,
            PAGE_SIZE,
            mem,
            perm,
            true,
        )
        .unwrap();
        let t = tr(&alloc, root, va + 0x123).unwrap();
        assert_eq!(
            t,
            Translation {
                pa: va + 0x8000_0123,
                mem,
                perm,
                size: PAGE_SIZE
            }
        );
    }
    let device_exec = Perm::RX;
    do_map(
        &mut alloc,
        root,
        0x7000,
        0x9000_0000,
        PAGE_SIZE,
        MemType::Device,
        device_exec,
        true,
    )
    .unwrap();
    assert_eq!(tr(&alloc, root, 0x7000).unwrap().perm, Perm::R);
}

#[test]
fn blocks_are_chosen_where_alignment_allows() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    let base = 0x4000_0000;
    let size = GIB + 2 * MIB + PAGE_SIZE;
    do_map(
        &mut alloc,
        root,
        base,
        base,
        size,
        MemType::Normal,
        Perm::RW,
        true,
    )
    .unwrap();
    // Root, one level-1 table, one level-2 table and one level-3 table.
    assert_eq!(alloc.pages.len(), 4);
    let t = tr(&alloc, root, base + 0x1234_5678).unwrap();
    assert_eq!((t.pa, t.size), (base + 0x1234_5678, GIB));
    assert_eq!(alloc.leaf(root, base).unwrap().1, 1);
    let t = tr(&alloc, root, base + GIB + 0x1_2345).unwrap();
    assert_eq!((t.pa, t.size), (base + GIB + 0x1_2345, 2 * MIB));
    assert_eq!(alloc.leaf(root, base + GIB).unwrap().1, 2);
    let t = tr(&alloc, root, base + GIB + 2 * MIB + 0xFFF).unwrap();
    assert_eq!((t.pa, t.size), (base + GIB + 2 * MIB + 0xFFF, PAGE_SIZE));
    assert_eq!(tr(&alloc, root, base + size), None);
    assert_eq!(tr(&alloc, root, base - 1), None);
}

#[test]
fn block_descriptor_bits() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    do_map(
        &mut alloc,
        root,
        0x20_0000,
        0x4020_0000,
        2 * MIB,
        MemType::Normal,
        Perm::RW,
        true,
    )
    .unwrap();
    let (desc, level) = alloc.leaf(root, 0x20_0000).unwrap();
    assert_eq!(level, 2);
    // Blocks have bit 1 clear, otherwise the same attributes as pages.
    assert_eq!(desc, 0x4020_0000 | 0x0060_0000_0000_0705);
}

#[test]
fn without_blocks_everything_is_pages() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    do_map(
        &mut alloc,
        root,
        0,
        0,
        4 * MIB,
        MemType::Normal,
        Perm::RW,
        false,
    )
    .unwrap();
    for va in (0..4 * MIB).step_by(PAGE_SIZE as usize) {
        assert_eq!(tr(&alloc, root, va).unwrap().size, PAGE_SIZE);
    }
    // Root, level 1, level 2 and two level-3 tables.
    assert_eq!(alloc.pages.len(), 5);
}

#[test]
fn misaligned_physical_address_forces_pages_in_the_high_half() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    let size = 4 * MIB;
    do_map(
        &mut alloc,
        root,
        KERNEL_BASE,
        0x8_0000,
        size,
        MemType::Normal,
        Perm::RX,
        true,
    )
    .unwrap();
    for off in (0..size).step_by(PAGE_SIZE as usize) {
        let t = tr(&alloc, root, KERNEL_BASE + off).unwrap();
        assert_eq!(
            (t.pa, t.size, t.perm),
            (0x8_0000 + off, PAGE_SIZE, Perm::RX)
        );
    }
    assert_eq!(tr(&alloc, root, KERNEL_BASE + size), None);
}

#[test]
fn misaligned_virtual_address_forces_pages() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    do_map(
        &mut alloc,
        root,
        0x1000,
        0x20_0000,
        2 * MIB,
        MemType::Normal,
        Perm::R,
        true,
    )
    .unwrap();
    assert_eq!(tr(&alloc, root, 0x1000).unwrap().size, PAGE_SIZE);
    assert_eq!(tr(&alloc, root, 0x20_0FFF).unwrap().pa, 0x3F_FFFF);
}

#[test]
fn partial_blocks_use_smaller_entries_at_the_edges() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    // 1 MiB of pages, then one 2 MiB block, then 1 MiB of pages.
    let va = 0x10_0000;
    do_map(
        &mut alloc,
        root,
        va,
        va,
        4 * MIB,
        MemType::Normal,
        Perm::RW,
        true,
    )
    .unwrap();
    assert_eq!(tr(&alloc, root, va).unwrap().size, PAGE_SIZE);
    assert_eq!(tr(&alloc, root, 0x20_0000).unwrap().size, 2 * MIB);
    assert_eq!(tr(&alloc, root, 0x40_0000).unwrap().size, PAGE_SIZE);
    assert_eq!(tr(&alloc, root, 0x4F_F000).unwrap().pa, 0x4F_F000);
    assert_eq!(tr(&alloc, root, 0x50_0000), None);
}

#[test]
fn low_and_high_halves() {
    let mut alloc = HostAlloc::new();
    let low = alloc.root();
    let high = alloc.root();
    do_map(
        &mut alloc,
        low,
        0,
        0x4000_0000,
        GIB,
        MemType::Normal,
        Perm::RW,
        true,
    )
    .unwrap();
    let top = 0xFFFF_FFFF_FFE0_0000;
    do_map(
        &mut alloc,
        high,
        top,
        0x4000_0000,
        2 * MIB,
        MemType::Normal,
        Perm::RW,
        true,
    )
    .unwrap();
    do_map(
        &mut alloc,
        high,
        0xFFFF_0000_0000_0000,
        0,
        PAGE_SIZE,
        MemType::Device,
        Perm::RW,
        true,
    )
    .unwrap();
    assert_eq!(tr(&alloc, low, 0x3FFF_FFFF).unwrap().pa, 0x7FFF_FFFF);
    assert_eq!(tr(&alloc, high, u64::MAX).unwrap().pa, 0x401F_FFFF);
    assert_eq!(tr(&alloc, high, 0xFFFF_0000_0000_0010).unwrap().pa, 0x10);
    // The last page of the low half and the top of the high half map fine.
    do_map(
        &mut alloc,
        low,
        0xFFFF_FFFF_F000,
        0,
        PAGE_SIZE,
        MemType::Normal,
        Perm::R,
        true,
    )
    .unwrap();
    assert_eq!(tr(&alloc, low, 0xFFFF_FFFF_FFFF).unwrap().pa, 0xFFF);
}

#[test]
fn write_execute_is_refused() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    for perm in [Perm::new(true, true, false), Perm::new(true, true, true)] {
        let err = do_map(
            &mut alloc,
            root,
            0x1000,
            0x1000,
            PAGE_SIZE,
            MemType::Normal,
            perm,
            true,
        );
        assert_eq!(err, Err(MapError::WriteExecute));
    }
    assert_eq!(tr(&alloc, root, 0x1000), None);
    assert_eq!(alloc.pages.len(), 1);
}

#[test]
fn misalignment_is_refused() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    let n = MemType::Normal;
    assert_eq!(
        do_map(
            &mut alloc,
            root,
            0x1001,
            0x1000,
            PAGE_SIZE,
            n,
            Perm::R,
            true
        ),
        Err(MapError::Misaligned { value: 0x1001 })
    );
    assert_eq!(
        do_map(
            &mut alloc,
            root,
            0x1000,
            0x1800,
            PAGE_SIZE,
            n,
            Perm::R,
            true
        ),
        Err(MapError::Misaligned { value: 0x1800 })
    );
    assert_eq!(
        do_map(&mut alloc, root, 0x1000, 0x1000, 0x10, n, Perm::R, true),
        Err(MapError::Misaligned { value: 0x10 })
    );
    assert_eq!(
        do_unmap(&alloc, root, 0x10, PAGE_SIZE),
        Err(MapError::Misaligned { value: 0x10 })
    );
    assert_eq!(
        do_unmap(&alloc, root, 0, 1),
        Err(MapError::Misaligned { value: 1 })
    );
    assert_eq!(alloc.pages.len(), 1);
}

#[test]
fn non_canonical_ranges_are_refused() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    let n = MemType::Normal;
    let cases = [
        // Between the halves.
        (0x0001_0000_0000_0000, PAGE_SIZE),
        (0xFFFE_FFFF_FFFF_F000, PAGE_SIZE),
        // Crossing the end of the low half.
        (0xFFFF_FFFF_F000, 2 * PAGE_SIZE),
        // Wrapping past the top of the address space.
        (0xFFFF_FFFF_FFFF_F000, 2 * PAGE_SIZE),
        // Larger than a half.
        (0, 1 << 49),
    ];
    for (va, size) in cases {
        assert_eq!(
            do_map(&mut alloc, root, va, 0, size, n, Perm::R, true),
            Err(MapError::OutOfRange { va }),
            "{va:#x}+{size:#x}"
        );
        assert_eq!(
            do_unmap(&alloc, root, va, size),
            Err(MapError::OutOfRange { va })
        );
    }
    assert_eq!(tr(&alloc, root, 0x0001_0000_0000_0000), None);
}

#[test]
fn physical_range_past_48_bits_is_refused() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    let n = MemType::Normal;
    let pa = 0xFFFF_FFFF_F000;
    assert_eq!(
        do_map(&mut alloc, root, 0, pa, 2 * PAGE_SIZE, n, Perm::R, true),
        Err(MapError::PhysOutOfRange { pa })
    );
    assert_eq!(
        do_map(
            &mut alloc,
            root,
            0,
            u64::MAX - 0xFFF,
            PAGE_SIZE * 2,
            n,
            Perm::R,
            true
        ),
        Err(MapError::PhysOutOfRange {
            pa: u64::MAX - 0xFFF
        })
    );
    do_map(&mut alloc, root, 0, pa, PAGE_SIZE, n, Perm::R, true).unwrap();
    assert_eq!(tr(&alloc, root, 0x10).unwrap().pa, 0xFFFF_FFFF_F010);
}

#[test]
fn zero_size_maps_nothing() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    do_map(
        &mut alloc,
        root,
        0x1000,
        0x1000,
        0,
        MemType::Normal,
        Perm::R,
        true,
    )
    .unwrap();
    do_unmap(&alloc, root, 0x1000, 0).unwrap();
    assert_eq!(alloc.pages.len(), 1);
    assert_eq!(tr(&alloc, root, 0x1000), None);
}

#[test]
fn identical_remapping_is_accepted() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    let n = MemType::Normal;
    do_map(
        &mut alloc,
        root,
        0x20_0000,
        0x20_0000,
        2 * MIB,
        n,
        Perm::RW,
        true,
    )
    .unwrap();
    // Same mapping again, as pages inside the existing block, and overlapping its end.
    do_map(
        &mut alloc,
        root,
        0x20_0000,
        0x20_0000,
        2 * MIB,
        n,
        Perm::RW,
        true,
    )
    .unwrap();
    do_map(
        &mut alloc,
        root,
        0x30_0000,
        0x30_0000,
        PAGE_SIZE,
        n,
        Perm::RW,
        false,
    )
    .unwrap();
    do_map(
        &mut alloc,
        root,
        0x3F_F000,
        0x3F_F000,
        2 * PAGE_SIZE,
        n,
        Perm::RW,
        true,
    )
    .unwrap();
    assert_eq!(tr(&alloc, root, 0x30_0000).unwrap().size, 2 * MIB);
    assert_eq!(tr(&alloc, root, 0x40_0000).unwrap().size, PAGE_SIZE);
}

#[test]
fn conflicting_mapping_is_refused_without_side_effects() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    let n = MemType::Normal;
    do_map(
        &mut alloc,
        root,
        0x3000,
        0x9000,
        PAGE_SIZE,
        n,
        Perm::R,
        true,
    )
    .unwrap();
    let before = alloc.pages.len();
    // Different physical address.
    assert_eq!(
        do_map(
            &mut alloc,
            root,
            0x1000,
            0x1000,
            3 * PAGE_SIZE,
            n,
            Perm::R,
            true
        ),
        Err(MapError::AlreadyMapped { va: 0x3000 })
    );
    // Same address, different permissions or type.
    assert_eq!(
        do_map(
            &mut alloc,
            root,
            0x3000,
            0x9000,
            PAGE_SIZE,
            n,
            Perm::RW,
            true
        ),
        Err(MapError::AlreadyMapped { va: 0x3000 })
    );
    assert_eq!(
        do_map(
            &mut alloc,
            root,
            0x3000,
            0x9000,
            PAGE_SIZE,
            MemType::Device,
            Perm::R,
            true
        ),
        Err(MapError::AlreadyMapped { va: 0x3000 })
    );
    // The pages before the conflict were not touched.
    assert_eq!(tr(&alloc, root, 0x1000), None);
    assert_eq!(tr(&alloc, root, 0x2000), None);
    assert_eq!(tr(&alloc, root, 0x3000).unwrap().pa, 0x9000);
    assert_eq!(alloc.pages.len(), before);
}

#[test]
fn conflict_inside_a_block_is_refused() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    let n = MemType::Normal;
    do_map(&mut alloc, root, 0, 0x4000_0000, GIB, n, Perm::RW, true).unwrap();
    assert_eq!(
        do_map(
            &mut alloc,
            root,
            0x1234_5000,
            0x1234_5000,
            PAGE_SIZE,
            n,
            Perm::RW,
            true
        ),
        Err(MapError::AlreadyMapped { va: 0x1234_5000 })
    );
    do_map(
        &mut alloc,
        root,
        0x1234_5000,
        0x5234_5000,
        PAGE_SIZE,
        n,
        Perm::RW,
        true,
    )
    .unwrap();
}

#[test]
fn out_of_memory_is_reported() {
    // Root plus one more table: not enough for a page mapping (needs three more).
    let mut alloc = HostAlloc::with_limit(2);
    let root = alloc.root();
    assert_eq!(
        do_map(
            &mut alloc,
            root,
            0x1000,
            0x1000,
            PAGE_SIZE,
            MemType::Normal,
            Perm::R,
            true
        ),
        Err(MapError::OutOfMemory)
    );
    assert_eq!(tr(&alloc, root, 0x1000), None);
    // A 1 GiB block needs only the level-1 table, which is already linked.
    do_map(
        &mut alloc,
        root,
        0x4000_0000,
        0x4000_0000,
        GIB,
        MemType::Normal,
        Perm::R,
        true,
    )
    .unwrap();
    assert_eq!(tr(&alloc, root, 0x4000_0000).unwrap().size, GIB);
}

#[test]
fn unmap_clears_pages_and_skips_holes() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    let n = MemType::Normal;
    do_map(
        &mut alloc,
        root,
        0x1000,
        0x1000,
        4 * PAGE_SIZE,
        n,
        Perm::RW,
        true,
    )
    .unwrap();
    do_unmap(&alloc, root, 0x2000, PAGE_SIZE).unwrap();
    assert!(tr(&alloc, root, 0x1000).is_some());
    assert_eq!(tr(&alloc, root, 0x2000), None);
    assert!(tr(&alloc, root, 0x3000).is_some());
    // A range with holes, including completely unmapped upper tables.
    do_unmap(&alloc, root, 0, 8 * GIB).unwrap();
    for va in [0x1000, 0x3000, 0x4000] {
        assert_eq!(tr(&alloc, root, va), None);
    }
    // Unmapped again: still fine.
    do_unmap(&alloc, root, 0x1000, PAGE_SIZE).unwrap();
    // The range can be mapped afresh, differently.
    do_map(
        &mut alloc,
        root,
        0x1000,
        0x7000,
        PAGE_SIZE,
        n,
        Perm::R,
        true,
    )
    .unwrap();
    assert_eq!(tr(&alloc, root, 0x1000).unwrap().pa, 0x7000);
}

#[test]
fn unmap_of_part_of_a_block_is_refused_without_side_effects() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    let n = MemType::Normal;
    do_map(&mut alloc, root, 0, 0, 4 * PAGE_SIZE, n, Perm::RW, true).unwrap();
    do_map(
        &mut alloc,
        root,
        0x20_0000,
        0x20_0000,
        2 * MIB,
        n,
        Perm::RW,
        true,
    )
    .unwrap();
    assert_eq!(
        do_unmap(&alloc, root, 0, 0x20_1000),
        Err(MapError::PartialBlock { va: 0x20_0000 })
    );
    assert_eq!(
        do_unmap(&alloc, root, 0x30_0000, PAGE_SIZE),
        Err(MapError::PartialBlock { va: 0x20_0000 })
    );
    // Nothing was cleared by the refused calls.
    assert!(tr(&alloc, root, 0).is_some());
    assert!(tr(&alloc, root, 0x20_0000).is_some());
    do_unmap(&alloc, root, 0, 0x40_0000).unwrap();
    assert_eq!(tr(&alloc, root, 0), None);
    assert_eq!(tr(&alloc, root, 0x3F_FFFF), None);
}

#[test]
fn unmap_of_a_gigabyte_block() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    do_map(
        &mut alloc,
        root,
        KERNEL_BASE & !(GIB - 1),
        0,
        GIB,
        MemType::Normal,
        Perm::R,
        true,
    )
    .unwrap();
    assert_eq!(tr(&alloc, root, KERNEL_BASE).unwrap().size, GIB);
    assert_eq!(
        do_unmap(&alloc, root, KERNEL_BASE, 2 * MIB),
        Err(MapError::PartialBlock {
            va: KERNEL_BASE & !(GIB - 1)
        })
    );
    do_unmap(&alloc, root, KERNEL_BASE & !(GIB - 1), GIB).unwrap();
    assert_eq!(tr(&alloc, root, KERNEL_BASE), None);
}

#[test]
fn decode_entry_cases() {
    assert_eq!(decode_entry(0, 0), Entry::Invalid);
    assert_eq!(decode_entry(0x4000_0000 | 0x700, 1), Entry::Invalid);
    assert_eq!(
        decode_entry(0x1234_5003, 0),
        Entry::Table { pa: 0x1234_5000 }
    );
    assert_eq!(
        decode_entry(0x1234_5003, 2),
        Entry::Table { pa: 0x1234_5000 }
    );
    // A level-0 block and a level-3 "block" are reserved encodings.
    assert_eq!(decode_entry(0x0060_0000_0000_0705, 0), Entry::Invalid);
    assert_eq!(decode_entry(0x0060_0000_4000_0705, 3), Entry::Invalid);
    assert_eq!(decode_entry(0x0060_0000_4000_0707, 4), Entry::Invalid);
    assert_eq!(
        decode_entry(0x0060_0000_4000_0705, 1),
        Entry::Leaf(Translation {
            pa: 0x4000_0000,
            mem: MemType::Normal,
            perm: Perm::RW,
            size: GIB,
        })
    );
    assert_eq!(
        decode_entry(0x0020_0000_8000_0FC7, 3),
        Entry::Leaf(Translation {
            pa: 0x8000_0000,
            mem: MemType::Normal,
            perm: Perm::RX.for_user(),
            size: PAGE_SIZE,
        })
    );
    // Attribute indices 3..7 are Device-nGnRnE in MAIR.
    let Entry::Leaf(t) = decode_entry(0x0060_0000_0000_071F, 3) else {
        panic!("expected a leaf");
    };
    assert_eq!(t.mem, MemType::Device);
}

#[test]
fn errors_display_as_sentences() {
    let errors = [
        MapError::Misaligned { value: 0x1001 },
        MapError::WriteExecute,
        MapError::OutOfRange {
            va: 0x1_0000_0000_0000,
        },
        MapError::PhysOutOfRange {
            pa: 0x1_0000_0000_0000,
        },
        MapError::AlreadyMapped { va: 0x1000 },
        MapError::OutOfMemory,
        MapError::PartialBlock { va: 0x20_0000 },
    ];
    for err in errors {
        let text = err.to_string();
        assert!(text.len() > 30, "{text}");
        assert!(
            text.starts_with("page table update") || text.starts_with("unmap"),
            "{text}"
        );
    }
    assert!(MapError::Misaligned { value: 0x1001 }
        .to_string()
        .contains("0x1001"));
    assert!(MapError::AlreadyMapped { va: 0x3000 }
        .to_string()
        .contains("0x3000"));
}

#[test]
fn map_pages_maps_like_one_map_a_page_across_tables() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    let mut other = HostAlloc::new();
    let other_root = other.root();
    // Crosses a 2 MiB boundary, with a hole.
    let va = 0xffff_ffff_4000_0000 + 0x20_0000 - 2 * PAGE_SIZE;
    let frames = [
        Some(0x8000_3000),
        Some(0x8000_1000),
        None,
        Some(0x9000_0000),
    ];
    // SAFETY: the tables are the host allocator's own.
    unsafe { map_pages(root, va, &frames, MemType::Normal, Perm::RW, &mut alloc) }.unwrap();
    for (i, frame) in frames.iter().enumerate() {
        let page = va + i as u64 * PAGE_SIZE;
        if let Some(pa) = *frame {
            do_map(
                &mut other,
                other_root,
                page,
                pa,
                PAGE_SIZE,
                MemType::Normal,
                Perm::RW,
                false,
            )
            .unwrap();
        }
        assert_eq!(
            alloc.leaf(root, page),
            other.leaf(other_root, page),
            "page {i}"
        );
    }
    // Mapping the same again is accepted; another frame is refused before anything changes.
    // SAFETY: as above.
    unsafe { map_pages(root, va, &frames, MemType::Normal, Perm::RW, &mut alloc) }.unwrap();
    let clash = [Some(0xa000_0000), Some(0xa000_1000)];
    // SAFETY: the tables are the host allocator's own.
    let err = unsafe {
        map_pages(
            root,
            va + 2 * PAGE_SIZE,
            &clash,
            MemType::Normal,
            Perm::RW,
            &mut alloc,
        )
    };
    assert_eq!(
        err,
        Err(MapError::AlreadyMapped {
            va: va + 3 * PAGE_SIZE
        })
    );
    assert_eq!(tr(&alloc, root, va + 2 * PAGE_SIZE), None);
    // SAFETY: the tables are the host allocator's own.
    let err = unsafe {
        map_pages(
            root,
            va,
            &frames,
            MemType::Normal,
            Perm::new(true, true, false),
            &mut alloc,
        )
    };
    assert_eq!(err, Err(MapError::WriteExecute));
}

#[test]
fn protect_changes_permissions_and_keeps_frames() {
    let mut alloc = HostAlloc::new();
    let root = alloc.root();
    let va = 0xffff_ffff_4000_0000 + 0x20_0000 - PAGE_SIZE;
    let frames = [Some(0x8000_3000), None, Some(0x8000_1000)];
    // SAFETY: the tables are the host allocator's own.
    unsafe { map_pages(root, va, &frames, MemType::Normal, Perm::RW, &mut alloc) }.unwrap();
    // SAFETY: as above.
    unsafe { protect(root, va, 3 * PAGE_SIZE, MemType::Normal, Perm::RX, &alloc) }.unwrap();
    let first = tr(&alloc, root, va).unwrap();
    assert_eq!((first.pa, first.perm), (0x8000_3000, Perm::RX));
    assert_eq!(tr(&alloc, root, va + PAGE_SIZE), None);
    let third = tr(&alloc, root, va + 2 * PAGE_SIZE).unwrap();
    assert_eq!((third.pa, third.perm), (0x8000_1000, Perm::RX));
    // SAFETY: as above.
    let err = unsafe {
        protect(
            root,
            va,
            PAGE_SIZE,
            MemType::Normal,
            Perm::new(true, true, false),
            &alloc,
        )
    };
    assert_eq!(err, Err(MapError::WriteExecute));
}
