//! What `Object::parse` allocates: its relocation table and import list (and a byte per symbol
//! while it checks them), at most a third more than the object's own bytes, freed with the
//! object; a refused object leaves nothing allocated but its error. Alone in its test binary because it counts allocations globally.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use keel_modload::Object;

struct Counting;

/// Bytes allocated so far, in total.
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
/// Bytes allocated and not freed.
static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged, only counting bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::SeqCst);
        LIVE.fetch_add(layout.size(), Ordering::SeqCst);
        // SAFETY: the caller upholds `alloc`'s contract, which we pass on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Held by each test, so one test's counts do not include the other's allocations.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn parse_allocates_a_bounded_table_and_frees_it() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut objects = vec![common::sample_object()];
    objects.extend(common::compile("alloc_fmt"));
    for bytes in &objects {
        let (allocated, live) = (
            ALLOCATED.load(Ordering::SeqCst),
            LIVE.load(Ordering::SeqCst),
        );
        let obj = Object::parse(bytes).unwrap();
        let imports = obj.imports().count();
        let used = ALLOCATED.load(Ordering::SeqCst) - allocated;
        assert!(imports > 0);
        // A 24-byte relocation becomes a 32-byte entry.
        assert!(used <= bytes.len() * 4 / 3, "parse allocated {used} bytes");
        drop(obj);
        assert_eq!(LIVE.load(Ordering::SeqCst), live, "the object leaked");
    }
}

#[test]
fn a_refused_object_leaves_only_its_error() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut bytes = common::sample_object();
    // The last relocation of the last relocation section names no symbol: parse fails after
    // it read every other relocation into its table.
    let rela = common::section_index(&bytes, ".rela.data.desc");
    let h = common::shdr_offset(&bytes, rela);
    let field = |at: usize| u64::from_le_bytes(bytes[h + at..h + at + 8].try_into().unwrap());
    let (offset, size) = (field(24) as usize, field(32) as usize);
    common::poke(&mut bytes, offset + size - 24 + 12, 4, 9999);
    let live = LIVE.load(Ordering::SeqCst);
    let err = Object::parse(&bytes).unwrap_err();
    assert!(
        err.to_string().contains("symbol index is out of range"),
        "{err}"
    );
    drop(err);
    assert_eq!(LIVE.load(Ordering::SeqCst), live, "a refused parse leaked");
}
