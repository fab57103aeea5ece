//! Physical page frames: a buddy allocator over every usable page of RAM.
//!
//! The buddy allocator keeps its free lists on the kernel heap, so the heap must never grow from
//! frames while this allocator is in the middle of an operation: [`busy`] tells it.

use core::alloc::Layout;
use core::sync::atomic::{AtomicU64, Ordering};

use buddy_system_allocator::FrameAllocator;

use super::PAGE_SIZE;
use crate::sync::IrqMutex;

struct Frames {
    buddy: FrameAllocator<32>,
    total: u64,
    allocated: u64,
}

static FRAMES: IrqMutex<Frames> = IrqMutex::new(Frames {
    buddy: FrameAllocator::new(),
    total: 0,
    allocated: 0,
});
/// The core inside a frame operation, plus one; 0 when none is. The lock masks interrupts, so
/// the owner cannot be preempted while it is set.
static OWNER: AtomicU64 = AtomicU64::new(0);

/// Whether a frame operation is under way (its bookkeeping may be allocating from the heap).
pub fn busy() -> bool {
    OWNER.load(Ordering::Acquire) != 0
}

/// Whether this core is inside a frame operation: its heap traffic now is the allocator's own
/// bookkeeping.
pub fn busy_here() -> bool {
    let owner = OWNER.load(Ordering::Acquire);
    owner != 0 && owner == crate::arch::core_id() + 1
}

/// Runs `f` on the locked allocator with [`busy`] raised.
fn with_frames<R>(f: impl FnOnce(&mut Frames) -> R) -> R {
    let mut guard = FRAMES.lock();
    OWNER.store(crate::arch::core_id() + 1, Ordering::Release);
    let r = f(&mut guard);
    OWNER.store(0, Ordering::Release);
    r
}

/// Gives the pages in `[start, end)` (page aligned) to the allocator.
pub fn add_range(start: u64, end: u64) {
    with_frames(|f| {
        f.buddy
            .add_frame((start / PAGE_SIZE) as usize, (end / PAGE_SIZE) as usize);
        f.total += (end - start) / PAGE_SIZE;
    })
}

/// Allocates `count` physically contiguous pages aligned to their rounded-up power-of-two size,
/// returning the physical address of the first.
pub fn alloc_pages(count: u64) -> Option<u64> {
    let frames = count.next_power_of_two() as usize;
    let layout = Layout::from_size_align(frames, frames).ok()?;
    with_frames(|f| {
        let frame = f.buddy.alloc_aligned(layout)?;
        f.allocated += frames as u64;
        Some(frame as u64 * PAGE_SIZE)
    })
}

/// Frees pages from [`alloc_pages`] with the same `count`.
pub fn free_pages(pa: u64, count: u64) {
    let frames = count.next_power_of_two() as usize;
    if let Ok(layout) = Layout::from_size_align(frames, frames) {
        with_frames(|f| {
            f.buddy.dealloc_aligned((pa / PAGE_SIZE) as usize, layout);
            f.allocated -= frames as u64;
        })
    }
}

/// Page counts: (total managed, currently allocated).
pub fn stats() -> (u64, u64) {
    let f = FRAMES.lock();
    (f.total, f.allocated)
}
