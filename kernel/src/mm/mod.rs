//! Memory management: the kernel's page tables, physical frames and the kernel heap.
//!
//! Boot order: [`init`] reads RAM and every reservation from the device tree, maps all RAM outside
//! the kernel image into the direct map, hands the free frames to the buddy frame allocator and
//! gives the heap its first chunk. Device registers are mapped on demand with [`map_device`].

pub mod heap;
pub mod map;
pub mod phys;

use keel_boot::layout::{Sections, DIRECT_MAP_BASE, KERNEL_VA};
use keel_core::ranges::RangeSet;

pub use map::map_device;

/// Size of a page.
pub const PAGE_SIZE: u64 = 4096;

/// Where the image was loaded and how large it is in memory.
pub fn image_phys() -> (u64, u64) {
    (
        keel_boot::early::image_pa(),
        Sections::current().image_size(),
    )
}

/// The kernel virtual address of physical address `pa`: inside the image, its image address;
/// elsewhere, its direct-map address.
pub fn phys_to_virt(pa: u64) -> u64 {
    let (base, size) = image_phys();
    if pa >= base && pa < base + size {
        pa - base + KERNEL_VA
    } else {
        pa + DIRECT_MAP_BASE
    }
}

/// Most RAM banks and reservations tracked.
pub type Ranges = RangeSet<32>;

/// What memory initialisation found.
pub struct MemoryReport {
    /// All RAM the device tree describes.
    pub ram: Ranges,
    /// RAM handed to the frame allocator.
    pub usable: Ranges,
}

fn page_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

fn page_up(x: u64) -> u64 {
    (x + PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// Finds RAM, maps it, and starts the frame allocator and the heap.
pub fn init() -> Result<MemoryReport, &'static str> {
    let tree = crate::dt::tree().ok_or("no device tree: RAM size unknown")?;
    let mut ram = Ranges::new();
    for region in tree.memory().regions() {
        let start = region.starting_address as u64;
        let size = region.size.unwrap_or(0) as u64;
        if size > 0 {
            ram.add(start, start + size)
                .map_err(|_| "too many RAM banks")?;
        }
    }
    if ram.is_empty() {
        return Err("the device tree's /memory describes no RAM");
    }

    let (image, image_size) = image_phys();
    let image_end = image + image_size;
    let (dtb, dtb_size) = keel_boot::early::dtb();
    let dtb_pages = (page_down(dtb), page_up(dtb + dtb_size));

    // The direct map: all RAM but the image (no writable alias of kernel text) and the device
    // tree's pages (the boot code mapped those read-only already).
    let mut direct = Ranges::new();
    for (s, e) in ram.iter() {
        direct
            .add(page_up(s), page_down(e))
            .map_err(|_| "too many RAM ranges")?;
    }
    direct
        .remove(page_down(image), page_up(image_end))
        .map_err(|_| "too many RAM ranges")?;
    if dtb_size > 0 {
        direct
            .remove(dtb_pages.0, dtb_pages.1)
            .map_err(|_| "too many RAM ranges")?;
    }
    for (s, e) in direct.iter() {
        map::map_ram(s, e - s)?;
    }

    // Free frames: RAM minus the image, the device tree, the initramfs, every reservation and the
    // first page (the Pi 4's spin table lives there).
    let mut usable = direct;
    usable
        .remove(0, PAGE_SIZE)
        .map_err(|_| "too many RAM ranges")?;
    if let Some((s, e)) = crate::dt::initrd() {
        usable
            .remove(page_down(s), page_up(e))
            .map_err(|_| "too many reservations")?;
    }
    for r in tree.memory_reservations() {
        let s = r.address() as u64;
        usable
            .remove(page_down(s), page_up(s + r.size() as u64))
            .map_err(|_| "too many reservations")?;
    }
    crate::dt::walk(|node, chain| {
        let under_reserved = chain.last().is_some_and(|p| p.name == "reserved-memory");
        if under_reserved {
            for &(s, size) in crate::dt::Device::of(node, chain).regs() {
                let _ = usable.remove(page_down(s), page_up(s + size));
            }
        }
        false
    });
    usable.align_inward(PAGE_SIZE);

    // The heap's first chunk comes straight from free RAM: the frame allocator needs the heap.
    let chunk = usable
        .iter()
        .map(|(s, _)| s.next_multiple_of(heap::INITIAL_BYTES))
        .zip(usable.iter())
        .find(|&(start, (_, end))| start + heap::INITIAL_BYTES <= end)
        .map(|(start, _)| start)
        .ok_or("no RAM left for the kernel heap")?;
    usable
        .remove(chunk, chunk + heap::INITIAL_BYTES)
        .map_err(|_| "too many RAM ranges")?;
    heap::init(chunk);
    for (s, e) in usable.iter() {
        phys::add_range(s, e);
    }
    Ok(MemoryReport { ram, usable })
}
