//! `Object::parse` allocates nothing when it succeeds: a bad module is refused before the
//! kernel's heap is touched. Alone in its test binary because it counts allocations globally.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use keel_modload::Object;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn parse_allocates_nothing() {
    let mut objects = vec![common::sample_object()];
    objects.extend(common::compile("alloc_fmt"));
    for bytes in &objects {
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        let obj = Object::parse(bytes).unwrap();
        let imports = obj.imports().count();
        let after = ALLOCATIONS.load(Ordering::SeqCst);
        assert!(imports > 0);
        assert_eq!(after, before, "parse allocated");
    }
}
