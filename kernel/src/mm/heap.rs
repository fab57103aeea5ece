//! The kernel heap: a buddy heap that grows from physical frames, with a small cache of freed
//! small blocks in front of it.
//!
//! Its first chunk is carved straight out of free RAM before the frame allocator exists (the frame
//! allocator keeps its own bookkeeping on this heap). Later the heap tops itself up from frames
//! whenever its free space falls below a reserve, except while the frame allocator itself is
//! working; the reserve covers that allocator's own needs.
//!
//! The cache: a buddy heap splits a larger block for every small allocation when no block of that
//! size is free, and merges it all back when the block is freed, so a system call that allocates
//! and frees one buffer can cost hundreds of instructions in each, depending on how the heap
//! happens to be split. Blocks of up to [`SMALL_MAX`] bytes are therefore allocated in
//! power-of-two classes and, when freed, kept on a per-class list (at most
//! [`CACHED_PER_CLASS`] each) for the next allocation of that class.

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

/// The largest block the cache keeps.
const SMALL_MAX: usize = 2048;
/// The smallest class (room for the list link, and the buddy heap's own minimum).
const SMALL_MIN: usize = 16;
/// Classes from [`SMALL_MIN`] to [`SMALL_MAX`].
const CLASSES: usize = (SMALL_MAX.trailing_zeros() - SMALL_MIN.trailing_zeros() + 1) as usize;
/// Freed blocks kept per class (at most 8 * (16 + 32 + ... + 2048) bytes, 32 KiB, in all).
pub const CACHED_PER_CLASS: usize = 8;

/// Freed small blocks by class: singly linked through their first word.
struct SmallCache {
    heads: [usize; CLASSES],
    counts: [usize; CLASSES],
}

impl SmallCache {
    /// The class of `layout` (its size and alignment rounded up to a power of two), if small.
    fn class(layout: Layout) -> Option<(usize, usize)> {
        let size = layout.size().max(layout.align()).max(SMALL_MIN);
        if size > SMALL_MAX {
            return None;
        }
        let size = size.next_power_of_two();
        Some((
            (size.trailing_zeros() - SMALL_MIN.trailing_zeros()) as usize,
            size,
        ))
    }
}

struct Heaps {
    buddy: Heap<32>,
    small: SmallCache,
}

struct KernelHeap {
    heap: IrqMutex<Heaps>,
    /// Bytes requested by the live allocations (cached blocks are not live), except those the
    /// frame allocator made for its own free lists: their size follows how the free frames
    /// happen to be split, not what anyone holds, so leak checks leave them out.
    live: AtomicUsize,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap {
    heap: IrqMutex::new(Heaps {
        buddy: Heap::new(),
        small: SmallCache {
            heads: [0; CLASSES],
            counts: [0; CLASSES],
        },
    }),
    live: AtomicUsize::new(0),
};

/// Gives the heap its first chunk: `[pa, pa + INITIAL_BYTES)` of free RAM.
pub fn init(pa: u64) {
    let start = phys_to_virt(pa) as usize;
    // SAFETY: the caller took this range out of the free RAM for the heap alone; it is mapped in
    // the direct map.
    unsafe {
        HEAP.heap
            .lock()
            .buddy
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
    let total = HEAP.heap.lock().buddy.stats_total_bytes();
    (HEAP.live.load(Ordering::Relaxed), total)
}

// SAFETY: every allocation goes through the locked buddy heap, which hands out disjoint blocks
// that honour the requested layout.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Grow first, without the heap lock: the frame allocator allocates from this heap while it
        // holds its own lock, so taking the frame lock under the heap lock could deadlock two
        // cores. While any core is inside the frame allocator, growth waits and the reserve serves.
        let low = free_bytes(&self.heap.lock().buddy) < RESERVE + layout.size();
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
                        .buddy
                        .add_to_heap(start, start + (pages * PAGE_SIZE) as usize)
                };
            }
        }
        let p = {
            let mut h = self.heap.lock();
            match SmallCache::class(layout) {
                Some((c, _)) if h.small.counts[c] > 0 => {
                    let block = h.small.heads[c];
                    // SAFETY: a cached block is a free block of this class whose first word
                    // links the next one (written by `dealloc`).
                    h.small.heads[c] = unsafe { (block as *const usize).read() };
                    h.small.counts[c] -= 1;
                    Ok(block as *mut u8)
                }
                Some((_, size)) => h
                    .buddy
                    .alloc(Layout::from_size_align(size, SMALL_MIN).expect("a power of two"))
                    .map(NonNull::as_ptr),
                None => h.buddy.alloc(layout).map(NonNull::as_ptr),
            }
        };
        match p {
            Ok(p) => {
                if !phys::busy_here() {
                    self.live.fetch_add(layout.size(), Ordering::Relaxed);
                }
                p
            }
            Err(()) => core::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(p) = NonNull::new(ptr) else { return };
        {
            let mut h = self.heap.lock();
            match SmallCache::class(layout) {
                Some((c, _)) if h.small.counts[c] < CACHED_PER_CLASS => {
                    // SAFETY: the block is being freed (the caller's promise) and is at least
                    // SMALL_MIN bytes, aligned for a word: its first word becomes the link.
                    unsafe { (ptr as *mut usize).write(h.small.heads[c]) };
                    h.small.heads[c] = ptr as usize;
                    h.small.counts[c] += 1;
                }
                Some((_, size)) => h.buddy.dealloc(
                    p,
                    Layout::from_size_align(size, SMALL_MIN).expect("a power of two"),
                ),
                None => h.buddy.dealloc(p, layout),
            }
        }
        if !phys::busy_here() {
            self.live.fetch_sub(layout.size(), Ordering::Relaxed);
        }
    }
}
