//! The program's life: entry, exit status, panics and the heap.
//!
//! `_start` (from the kernel: `sp` = top of the stack, `x0` = argc, `x1` = argv, `x2` = envc,
//! `x3` = envp) clears `.bss`, then calls `__keel_main`, which [`crate::main!`] defines and which
//! calls [`start`].

use crate::env::{self, Args};
use core::fmt::Display;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
core::arch::global_asm!(
    ".section .text._start, \"ax\"",
    ".global _start",
    ".type _start, %function",
    "_start:",
    // No caller frame: make the frame-pointer chain end here.
    "    mov x29, xzr",
    "    mov x30, xzr",
    // Clear .bss (the kernel maps it zeroed; this is cheap insurance). Both ends are 16-aligned.
    "    adrp x9, __bss_start",
    "    add x9, x9, :lo12:__bss_start",
    "    adrp x10, __bss_end",
    "    add x10, x10, :lo12:__bss_end",
    "1:  cmp x9, x10",
    "    b.hs 2f",
    "    stp xzr, xzr, [x9], #16",
    "    b 1b",
    "2:  bl __keel_main",
    "    udf #0",
    ".size _start, . - _start",
);

// `memcpy` and `memset`: the register-pair routines the kernel uses too (they override
// compiler_builtins' portable byte-and-word loops, weak symbols there).
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
core::arch::global_asm!(
    include_str!("../../abi/asm/mem.s"),
    ".global memcpy",
    ".type memcpy, %function",
    ".set memcpy, keel_memcpy",
    ".global memset",
    ".type memset, %function",
    ".set memset, keel_memset",
);

/// What `main` may return: converts it into an exit status.
pub trait Termination {
    /// The exit status; may print an error first.
    fn report(self) -> i32;
}

impl Termination for i32 {
    fn report(self) -> i32 {
        self
    }
}

impl Termination for () {
    fn report(self) -> i32 {
        0
    }
}

impl<E: Display> Termination for Result<(), E> {
    fn report(self) -> i32 {
        match self {
            Ok(()) => 0,
            Err(e) => {
                crate::eprintln!("{}: {}", env::program_name(), e);
                1
            }
        }
    }
}

/// Runs `main` with the program's arguments and exits with its status. Called by the function
/// that [`crate::main!`] defines; not for direct use.
///
/// # Safety
/// `argv`/`envp` must point to `argc`/`envc` [`keel_abi::types::UserSlice`]s naming bytes that
/// stay valid and unchanged for the rest of the program (the kernel's initial stack).
pub unsafe fn start<T: Termination>(
    argc: usize,
    argv: *const keel_abi::types::UserSlice,
    envc: usize,
    envp: *const keel_abi::types::UserSlice,
    main: fn(Args) -> T,
) -> ! {
    // SAFETY: forwarded from the caller's contract.
    unsafe { env::init(argc, argv, envc, envp) };
    let status = main(Args::current()).report();
    crate::process::exit(status)
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let name = env::program_name();
    match info.location() {
        Some(loc) => crate::eprintln!(
            "{}: panicked at {}:{}: {}",
            name,
            loc.file(),
            loc.line(),
            info.message()
        ),
        None => crate::eprintln!("{}: panicked: {}", name, info.message()),
    }
    crate::process::exit(101)
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
#[global_allocator]
static HEAP: heap::MmapHeap = heap::MmapHeap::new();

/// The global allocator: a buddy heap that grows by `MMAP`.
pub mod heap {
    use buddy_system_allocator::Heap;
    use core::alloc::{GlobalAlloc, Layout};
    use core::ptr::{self, NonNull};
    use keel_abi::types::{PROT_READ, PROT_WRITE};

    /// Smallest region the heap asks the kernel for.
    const GROW_MIN: usize = 256 * 1024;

    /// A buddy-system heap that maps more memory with `MMAP` when it runs out. Memory is never
    /// given back to the kernel (it goes back to the heap's free lists).
    pub struct MmapHeap {
        heap: spin::Mutex<Heap<48>>,
    }

    impl MmapHeap {
        /// An empty heap; the first allocation maps its first region.
        pub const fn new() -> Self {
            MmapHeap {
                heap: spin::Mutex::new(Heap::new()),
            }
        }

        /// Bytes the heap holds (mapped from the kernel) and bytes allocated from it.
        pub fn stats(&self) -> (usize, usize) {
            let heap = self.heap.lock();
            (heap.stats_total_bytes(), heap.stats_alloc_actual())
        }

        /// Maps a region that surely holds a free block for `layout`: a buddy block of size `n`
        /// must be `n`-aligned, and the kernel's address is only page-aligned, so map `2 n`.
        fn grow(heap: &mut Heap<48>, layout: Layout) -> bool {
            let need = layout.size().max(layout.align()).max(8);
            let Some(block) = need.checked_next_power_of_two() else {
                return false;
            };
            let Some(len) = block.checked_mul(2) else {
                return false;
            };
            let len = len.max(GROW_MIN);
            match crate::mem::mmap(len, PROT_READ | PROT_WRITE) {
                Ok(addr) => {
                    // SAFETY: the kernel just gave us `len` bytes at `addr`, used by nothing else.
                    unsafe { heap.add_to_heap(addr as usize, addr as usize + len) };
                    true
                }
                Err(_) => false,
            }
        }
    }

    impl Default for MmapHeap {
        fn default() -> Self {
            Self::new()
        }
    }

    // SAFETY: every block comes from the buddy heap, which hands out disjoint, suitably aligned
    // blocks of at least the requested size, under a lock.
    unsafe impl GlobalAlloc for MmapHeap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let mut heap = self.heap.lock();
            if let Ok(p) = heap.alloc(layout) {
                return p.as_ptr();
            }
            if !Self::grow(&mut heap, layout) {
                return ptr::null_mut();
            }
            heap.alloc(layout).map_or(ptr::null_mut(), NonNull::as_ptr)
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if let Some(p) = NonNull::new(ptr) {
                // SAFETY: the caller passes a block this allocator returned with this layout.
                unsafe { self.heap.lock().dealloc(p, layout) };
            }
        }
    }
}

/// Bytes the program's heap holds (mapped from the kernel) and bytes allocated from it.
pub fn heap_stats() -> (usize, usize) {
    #[cfg(all(target_arch = "aarch64", target_os = "none"))]
    {
        HEAP.stats()
    }
    #[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
    {
        (0, 0)
    }
}
