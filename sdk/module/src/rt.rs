//! The module's runtime: what runs around `init` and `exit`, the `log` backend, the global
//! allocator and the panic handler.

use core::alloc::{GlobalAlloc, Layout};
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use keel_abi::module::{log_level, ModuleHandle};

use crate::{sys, Error};

/// The handle the kernel gave this module in `init`.
static HANDLE: AtomicUsize = AtomicUsize::new(0);
/// The module's name, for the log target.
static NAME_PTR: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
static NAME_LEN: AtomicUsize = AtomicUsize::new(0);

/// The handle that names this module to the kernel (valid from the start of `init`).
pub fn handle() -> ModuleHandle {
    ModuleHandle(HANDLE.load(Ordering::Relaxed))
}

/// This module's name as declared in [`module!`](crate::module) (empty before `init`).
pub fn module_name() -> &'static str {
    let ptr = NAME_PTR.load(Ordering::Acquire);
    if ptr.is_null() {
        return "";
    }
    let len = NAME_LEN.load(Ordering::Relaxed);
    // SAFETY: `run_init` stores the pointer and length of a `&'static str` (length first, pointer
    // second with Release), so a non-null pointer comes with its own length and valid UTF-8.
    unsafe { core::str::from_utf8_unchecked(core::slice::from_raw_parts(ptr, len)) }
}

/// Runs the module's `init` for the descriptor: records the handle and name, installs the logger,
/// then turns `init`'s result into an ABI status (0 or `-errno`).
#[doc(hidden)]
pub fn run_init(handle: ModuleHandle, name: &'static str, init: fn() -> Result<(), Error>) -> i32 {
    HANDLE.store(handle.0, Ordering::Relaxed);
    NAME_LEN.store(name.len(), Ordering::Relaxed);
    NAME_PTR.store(name.as_ptr().cast_mut(), Ordering::Release);
    // Fails only if a logger is already set, which is then ours.
    let _ = log::set_logger(&KERNEL_LOGGER);
    // SAFETY: `keel_log_max_level` has no preconditions.
    log::set_max_level(level_filter(unsafe { sys::keel_log_max_level() }));
    match init() {
        Ok(()) => 0,
        Err(error) => error.to_status(),
    }
}

/// Runs the module's `exit` for the descriptor.
#[doc(hidden)]
pub fn run_exit(exit: fn()) {
    exit();
    log::logger().flush();
}

fn level_filter(level: u32) -> log::LevelFilter {
    match level {
        log_level::OFF => log::LevelFilter::Off,
        log_level::ERROR => log::LevelFilter::Error,
        log_level::WARN => log::LevelFilter::Warn,
        log_level::INFO => log::LevelFilter::Info,
        log_level::DEBUG => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    }
}

/// A fixed buffer that keeps the first bytes written to it and drops the rest (at a character
/// boundary), so that logging and panicking never allocate.
struct Truncating<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Truncating<N> {
    const fn new() -> Self {
        Truncating {
            bytes: [0; N],
            len: 0,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl<const N: usize> Write for Truncating<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = N - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

/// Longest log message a module sends in one call; longer ones are cut.
const LOG_LINE: usize = 256;

/// The `log` backend: forwards every record to `keel_log_write` with the module's name as target.
struct KernelLogger;

static KERNEL_LOGGER: KernelLogger = KernelLogger;

impl log::Log for KernelLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut line = Truncating::<LOG_LINE>::new();
        let _ = write!(line, "{}", record.args());
        let target = module_name();
        let message = line.as_bytes();
        // SAFETY: both ranges are valid for reads for the duration of the call and hold UTF-8
        // (the buffer is cut only at character boundaries); the kernel copies them.
        unsafe {
            sys::keel_log_write(
                record.level() as u32,
                target.as_ptr(),
                target.len(),
                message.as_ptr(),
                message.len(),
            )
        }
    }

    fn flush(&self) {}
}

/// The global allocator of every module: the kernel heap through `keel_alloc`/`keel_dealloc`.
pub struct KernelAllocator;

// SAFETY: `keel_alloc` returns null or memory of at least `size` bytes aligned to `align` that no one
// else uses until it is given back with `keel_dealloc` and the same size and alignment, which is the
// `GlobalAlloc` contract.
unsafe impl GlobalAlloc for KernelAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: `GlobalAlloc` callers pass a non-zero size and a power-of-two alignment.
        unsafe { sys::keel_alloc(layout.size(), layout.align()) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this `layout` (the `GlobalAlloc` contract).
        unsafe { sys::keel_dealloc(ptr, layout.size(), layout.align()) }
    }
}

#[cfg(target_os = "none")]
#[global_allocator]
static ALLOCATOR: KernelAllocator = KernelAllocator;

/// Longest panic message a module reports; longer ones are cut.
#[cfg(target_os = "none")]
const PANIC_MESSAGE: usize = 256;

#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut message = Truncating::<PANIC_MESSAGE>::new();
    match info.location() {
        Some(at) => {
            let _ = write!(
                message,
                "panicked at {}:{}:{}: {}",
                at.file(),
                at.line(),
                at.column(),
                info.message()
            );
        }
        None => {
            let _ = write!(message, "panicked: {}", info.message());
        }
    }
    let message = message.as_bytes();
    // SAFETY: the message is valid UTF-8 for reads during the call; the kernel never returns.
    unsafe { sys::keel_module_panic(handle(), message.as_ptr(), message.len()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters() {
        let mut buffer = Truncating::<4>::new();
        write!(buffer, "ab\u{e9}\u{e9}").unwrap();
        assert_eq!(buffer.as_bytes(), "ab\u{e9}".as_bytes());
        write!(buffer, "more").unwrap();
        assert_eq!(buffer.as_bytes().len(), 4);
    }
}
