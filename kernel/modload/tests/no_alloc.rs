//! What `Object::parse` allocates: its relocation table and import list (and a byte per symbol
//! while it checks them), at most a third more than the object's own bytes, freed with the
//! object; a refused object leaves nothing allocated but its error. Alone in its test binary because
//! it replaces the global allocator; the counts are per thread, so that the test harness's own
//! allocations on other threads (its output of another test's result) do not enter them.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use keel_modload::Object;

struct Counting;

thread_local! {
    /// Bytes this thread allocated so far, in total.
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
    /// Bytes this thread allocated and has not freed.
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

/// Adds `bytes` to this thread's count (nothing once the thread's locals are gone).
fn count(allocated: usize, live: isize) {
    let _ = ALLOCATED.try_with(|c| c.set(c.get() + allocated));
    let _ = LIVE.try_with(|c| c.set(c.get() + live));
}

// SAFETY: forwards to the system allocator unchanged, only counting bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), layout.size() as isize);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(0, -(layout.size() as isize));
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn parse_allocates_a_bounded_table_and_frees_it() {
    let mut objects = vec![common::sample_object()];
    objects.extend(common::compile("alloc_fmt"));
    for bytes in &objects {
        let (allocated, live) = (ALLOCATED.get(), LIVE.get());
        let obj = Object::parse(bytes).unwrap();
        let imports = obj.imports().count();
        let used = ALLOCATED.get() - allocated;
        assert!(imports > 0);
        // A 24-byte relocation becomes a 32-byte entry.
        assert!(used <= bytes.len() * 4 / 3, "parse allocated {used} bytes");
        drop(obj);
        assert_eq!(LIVE.get(), live, "the object leaked");
    }
}

#[test]
fn a_refused_object_leaves_only_its_error() {
    let mut bytes = common::sample_object();
    // The last relocation of the last relocation section names no symbol: parse fails after
    // it read every other relocation into its table.
    let rela = common::section_index(&bytes, ".rela.data.desc");
    let h = common::shdr_offset(&bytes, rela);
    let field = |at: usize| u64::from_le_bytes(bytes[h + at..h + at + 8].try_into().unwrap());
    let (offset, size) = (field(24) as usize, field(32) as usize);
    common::poke(&mut bytes, offset + size - 24 + 12, 4, 9999);
    let live = LIVE.get();
    let err = Object::parse(&bytes).unwrap_err();
    assert!(
        err.to_string().contains("symbol index is out of range"),
        "{err}"
    );
    drop(err);
    assert_eq!(LIVE.get(), live, "a refused parse leaked");
}
