//! The kernel heap: a buddy heap that grows from physical frames.
//!
//! Its first chunk is carved straight out of free RAM before the frame allocator exists (the frame
//! allocator keeps its own bookkeeping on this heap). Later the heap tops itself up from frames
//! whenever its free space falls below a reserve, except while the frame allocator itself is
//! working; the reserve covers that allocator's own needs.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use buddy_system_allocator::Heap;

use super::{phys, phys_to_virt, PAGE_SIZE};
use crate::sync::IrqMutex;

/// First chunk given to the heap at boot.
pub const INITIAL_BYTES: u64 = 4 << 20;
/// Smallest chunk added when the heap grows.
const GROW_PAGES: u64 = 256; // 1 MiB
/// Free bytes the heap keeps in hand for allocations that cannot wait for frames.
const RESERVE: usize = 512 << 10;

struct KernelHeap {
    heap: IrqMutex<Heap<32>>,
    /// Bytes of live allocations the frame allocator made for its own free lists. Their size
    /// follows how the free frames happen to be split, not what anyone holds, so leak checks
    /// leave them out.
    frame_lists: AtomicUsize,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap {
    heap: IrqMutex::new(Heap::new()),
    frame_lists: AtomicUsize::new(0),
};

/// Gives the heap its first chunk: `[pa, pa + INITIAL_BYTES)` of free RAM.
pub fn init(pa: u64) {
    let start = phys_to_virt(pa) as usize;
    // SAFETY: the caller took this range out of the free RAM for the heap alone; it is mapped in
    // the direct map.
    unsafe {
        HEAP.heap
            .lock()
            .add_to_heap(start, start + INITIAL_BYTES as usize)
    };
}

fn free_bytes(heap: &Heap<32>) -> usize {
    heap.stats_total_bytes() - heap.stats_alloc_actual()
}

/// Heap usage: (bytes requested by live allocations, bytes the heap manages). The first figure
/// leaves out the frame allocator's free lists, which grow and shrink with how free memory is
/// split rather than with what is allocated.
pub fn stats() -> (usize, usize) {
    let h = HEAP.heap.lock();
    let lists = HEAP.frame_lists.load(Ordering::Relaxed);
    (
        h.stats_alloc_user().saturating_sub(lists),
        h.stats_total_bytes(),
    )
}

// SAFETY: every allocation goes through the locked buddy heap, which hands out disjoint blocks
// that honour the requested layout.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Grow first, without the heap lock: the frame allocator allocates from this heap while it
        // holds its own lock, so taking the frame lock under the heap lock could deadlock two
        // cores. While any core is inside the frame allocator, growth waits and the reserve serves.
        let low = free_bytes(&self.heap.lock()) < RESERVE + layout.size();
        if low && !phys::busy() {
            let need = (layout.size().max(layout.align()) as u64).div_ceil(PAGE_SIZE) * 2;
            let pages = need.max(GROW_PAGES).next_power_of_two();
            if let Some(pa) = phys::alloc_pages(pages) {
                let start = phys_to_virt(pa) as usize;
                // SAFETY: the frames were just allocated for the heap alone and are mapped in the
                // direct map.
                unsafe {
                    self.heap
                        .lock()
                        .add_to_heap(start, start + (pages * PAGE_SIZE) as usize)
                };
            }
        }
        match self.heap.lock().alloc(layout) {
            Ok(p) => {
                if phys::busy_here() {
                    self.frame_lists.fetch_add(layout.size(), Ordering::Relaxed);
                }
                p.as_ptr()
            }
            Err(()) => core::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            self.heap.lock().dealloc(p, layout);
            if phys::busy_here() {
                self.frame_lists.fetch_sub(layout.size(), Ordering::Relaxed);
            }
        }
    }
}
