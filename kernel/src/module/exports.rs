//! The kernel's exports to modules (`keel_abi::exports::KernelExports`) and the per-module
//! accounting behind them.
//!
//! Every resource an export hands out is recorded with the module that got it, so the kernel can
//! take it back when the module is unloaded or fails:
//!
//! | export | recorded | released on unload / failure |
//! |---|---|---|
//! | `keel_alloc` | pointer, size, align, owner (the module running on this core) | freed and reported on unload; kept while a failed module is loaded |
//! | `keel_mmio_map` | physical range and address | forgotten (device pages stay mapped, shared with the kernel) |
//! | `keel_irq_register` | line, context, registration | unregistered; the line is masked when nobody else uses it |
//! | `keel_device_register` | the device (`crate::dev`) | removed from `/dev`; open files get `EIO` (failed) or `ENODEV` |
//! | `keel_work_schedule` | the work item (`crate::dev::work`) | dropped; an unload waits until it is not running |
//!
//! Exports copy what a module passes in before taking any kernel lock, so a bad pointer faults
//! (and is contained) without leaving a lock held.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::ffi::c_void;
use core::sync::atomic::{AtomicU32, Ordering};

use keel_abi::exports::KernelExports;
use keel_abi::module::{irq_return, log_level, ErrorCode, ModuleHandle};

use super::{contain, ModuleId, State};
use crate::irq;
use crate::sync::IrqMutex;

/// The table the loader resolves kernel imports against.
pub static EXPORTS: KernelExports = KernelExports {
    keel_log_write: log_write,
    keel_log_max_level: log_max_level,
    keel_alloc: heap_alloc,
    keel_dealloc: heap_dealloc,
    keel_mmio_map: mmio_map,
    keel_mmio_unmap: mmio_unmap,
    keel_irq_register: irq_register,
    keel_irq_register_shared: irq_register_shared,
    keel_irq_unregister: irq_unregister,
    keel_module_panic: module_panic,
    keel_time_ns: time_ns,
    keel_delay_ns: delay_ns,
    keel_device_register: device_register,
    keel_device_unregister: device_unregister,
    keel_gpio_event: gpio_event,
    keel_tty_receive: tty_receive,
    keel_block_complete: block_complete,
    keel_work_schedule: work_schedule,
    keel_work_cancel: work_cancel,
    keel_platform_device: platform_device,
    keel_console_claim: console_claim,
    keel_console_release: console_release,
    keel_firmware_clock_rate: firmware_clock_rate,
    keel_pci_device: pci_device,
    keel_firmware_property: firmware_property,
};

/// Longest log message kept from a module (longer ones are cut).
const LOG_MAX: usize = 512;
/// Longest log target kept.
const TARGET_MAX: usize = 64;

/// Heap blocks handed to modules: address -> (owner, size, align).
static ALLOCS: IrqMutex<BTreeMap<usize, (ModuleId, usize, usize)>> = IrqMutex::new(BTreeMap::new());

/// An IRQ handler a module registered.
struct IrqEntry {
    module: ModuleId,
    line: u32,
    context: usize,
    registration: irq::Registration,
    /// Registered with `keel_irq_register_shared`.
    shared: bool,
    /// How many cores are running the handler right now.
    running: Arc<AtomicU32>,
}

/// A device range a module mapped.
struct MmioEntry {
    module: ModuleId,
    virt: usize,
    size: usize,
}

static IRQS: IrqMutex<Vec<IrqEntry>> = IrqMutex::new(Vec::new());
static MMIO: IrqMutex<Vec<MmioEntry>> = IrqMutex::new(Vec::new());

fn status(code: ErrorCode) -> i32 {
    code.to_status()
}

/// Whether `handle` names a module that may acquire resources now (loading or live).
fn active(handle: ModuleHandle) -> bool {
    matches!(
        super::state_of(handle.0 as ModuleId),
        Some(State::Loading | State::Live | State::Unloading)
    )
}

/// Copies at most `N` bytes of a module's `(ptr, len)` string into `buf`, cut at a character
/// boundary; invalid UTF-8 is replaced.
fn copy_str<const N: usize>(buf: &mut [u8; N], ptr: *const u8, len: usize) -> &str {
    if ptr.is_null() {
        return "";
    }
    let n = len.min(N);
    // SAFETY: the module promises `len` readable bytes at `ptr`; a bad pointer faults here, which
    // the containment entry turns into a module failure (no kernel lock is held yet).
    unsafe { core::ptr::copy_nonoverlapping(ptr, buf.as_mut_ptr(), n) };
    match core::str::from_utf8(&buf[..n]) {
        Ok(s) => s,
        Err(e) => {
            let valid = e.valid_up_to();
            // SAFETY: `from_utf8` just said the first `valid` bytes are UTF-8.
            unsafe { core::str::from_utf8_unchecked(&buf[..valid]) }
        }
    }
}

unsafe extern "C" fn log_write(
    level: u32,
    target: *const u8,
    target_len: usize,
    message: *const u8,
    message_len: usize,
) {
    let level = match level {
        log_level::ERROR => log::Level::Error,
        log_level::WARN => log::Level::Warn,
        log_level::INFO => log::Level::Info,
        log_level::DEBUG => log::Level::Debug,
        _ => log::Level::Trace,
    };
    let mut target_buf = [0u8; TARGET_MAX];
    let mut message_buf = [0u8; LOG_MAX];
    let target = copy_str(&mut target_buf, target, target_len);
    let message = copy_str(&mut message_buf, message, message_len);
    let target = if target.is_empty() { "module" } else { target };
    log::logger().log(
        &log::Record::builder()
            .level(level)
            .target(target)
            .args(format_args!("{message}"))
            .build(),
    );
}

unsafe extern "C" fn log_max_level() -> u32 {
    log::max_level() as u32
}

unsafe extern "C" fn heap_alloc(size: usize, align: usize) -> *mut u8 {
    let Ok(layout) = Layout::from_size_align(size, align) else {
        return core::ptr::null_mut();
    };
    if size == 0 {
        return core::ptr::null_mut();
    }
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { alloc::alloc::alloc(layout) };
    if !ptr.is_null() {
        let owner = contain::current_module().unwrap_or(0);
        ALLOCS.lock().insert(ptr as usize, (owner, size, align));
    }
    ptr
}

unsafe extern "C" fn heap_dealloc(ptr: *mut u8, size: usize, align: usize) {
    let entry = ALLOCS.lock().remove(&(ptr as usize));
    match entry {
        Some((_, s, a)) if s == size && a == align => {
            // SAFETY: `ptr` came from `alloc` above with exactly this layout and was not freed
            // since (its record was still there).
            unsafe { alloc::alloc::dealloc(ptr, Layout::from_size_align_unchecked(size, align)) }
        }
        Some(record) => {
            log::error!(target: "module", "keel_dealloc({ptr:p}, {size}, {align}): allocated as ({}, {}); not freed", record.1, record.2);
            ALLOCS.lock().insert(ptr as usize, record);
        }
        None => {
            log::error!(target: "module", "keel_dealloc({ptr:p}, {size}, {align}): not a module allocation; not freed");
        }
    }
}

/// Live module allocations of module `id`: (count, bytes).
pub fn allocations_of(id: ModuleId) -> (usize, usize) {
    let allocs = ALLOCS.lock();
    allocs
        .values()
        .filter(|(owner, _, _)| *owner == id)
        .fold((0, 0), |(n, b), (_, size, _)| (n + 1, b + size))
}

/// Frees what module `id` left on the heap; returns (count, bytes). Only once its code can no
/// longer run (unloaded, or failed and being removed).
pub fn release_allocations(id: ModuleId) -> (usize, usize) {
    let mut left = Vec::new();
    {
        let mut allocs = ALLOCS.lock();
        allocs.retain(|&ptr, &mut (owner, size, align)| {
            if owner == id {
                left.push((ptr, size, align));
                false
            } else {
                true
            }
        });
    }
    let bytes = left.iter().map(|(_, size, _)| size).sum();
    for &(ptr, size, align) in &left {
        // SAFETY: the block came from `alloc` with this layout, was not freed (its record was
        // there) and its owner can no longer run, so nothing uses it.
        unsafe {
            alloc::alloc::dealloc(
                ptr as *mut u8,
                Layout::from_size_align_unchecked(size, align),
            )
        }
    }
    (left.len(), bytes)
}

/// Whether `[phys, phys + size)` overlaps RAM the device tree describes.
fn overlaps_ram(phys: u64, end: u64) -> bool {
    let Some(tree) = crate::dt::tree() else {
        return true;
    };
    tree.memory().regions().any(|r| {
        let start = r.starting_address as u64;
        let stop = start.saturating_add(r.size.unwrap_or(0) as u64);
        phys < stop && start < end
    })
}

unsafe extern "C" fn mmio_map(
    module: ModuleHandle,
    phys: u64,
    size: usize,
    virt: *mut usize,
) -> i32 {
    if !active(module) {
        return status(ErrorCode::InvalidArgument);
    }
    if virt.is_null() || !(virt as usize).is_multiple_of(core::mem::align_of::<usize>()) {
        return status(ErrorCode::BadAddress);
    }
    let Some(end) = phys.checked_add(size as u64) else {
        return status(ErrorCode::InvalidArgument);
    };
    if size == 0 || overlaps_ram(phys, end) {
        return status(ErrorCode::InvalidArgument);
    }
    let Ok(va) = crate::mm::map_device(phys, size as u64) else {
        return status(ErrorCode::NoMemory);
    };
    // SAFETY: `virt` is non-null and aligned; the module promises it is writable (a bad pointer
    // faults here, contained, before the mapping is recorded).
    unsafe { virt.write(va) };
    MMIO.lock().push(MmioEntry {
        module: module.0 as ModuleId,
        virt: va,
        size,
    });
    0
}

unsafe extern "C" fn mmio_unmap(module: ModuleHandle, virt: usize, size: usize) -> i32 {
    let mut mmio = MMIO.lock();
    let found = mmio
        .iter()
        .position(|m| m.module == module.0 as ModuleId && m.virt == virt && m.size == size);
    match found {
        // The device pages stay mapped: the direct map's device mappings are shared with the
        // kernel (mapping the same registers twice gives the same address) and never executable.
        Some(i) => {
            mmio.swap_remove(i);
            if mmio.is_empty() {
                *mmio = Vec::new();
            }
            0
        }
        None => status(ErrorCode::InvalidArgument),
    }
}

unsafe extern "C" fn irq_register(
    module: ModuleHandle,
    line: u32,
    handler: unsafe extern "C" fn(*mut c_void) -> u32,
    context: *mut c_void,
) -> i32 {
    register_handler(module, line, handler, context, false)
}

unsafe extern "C" fn irq_register_shared(
    module: ModuleHandle,
    line: u32,
    handler: unsafe extern "C" fn(*mut c_void) -> u32,
    context: *mut c_void,
) -> i32 {
    register_handler(module, line, handler, context, true)
}

/// Installs a module's handler. An exclusive one needs a free line; a shared one a line whose
/// handlers are all shared module handlers. The check and the installation happen under the
/// registry's lock, so two registrations cannot both see a free line.
fn register_handler(
    module: ModuleHandle,
    line: u32,
    handler: unsafe extern "C" fn(*mut c_void) -> u32,
    context: *mut c_void,
    shared: bool,
) -> i32 {
    if !active(module) || line >= irq::lines() {
        return status(ErrorCode::InvalidArgument);
    }
    let mut irqs = IRQS.lock();
    let shared_here = irqs.iter().filter(|e| e.line == line && e.shared).count();
    let handlers = irq::handler_count(line);
    if handlers > 0 && !(shared && shared_here == handlers) {
        return status(ErrorCode::Busy);
    }
    let id = module.0 as ModuleId;
    let running = Arc::new(AtomicU32::new(0));
    let in_handler = running.clone();
    let (function, ctx) = (handler as usize, context as usize);
    let registration = irq::register(
        line,
        "module",
        None,
        Box::new(move |_| {
            in_handler.fetch_add(1, Ordering::AcqRel);
            let r = contain::call(id, function, ctx);
            in_handler.fetch_sub(1, Ordering::AcqRel);
            match r {
                Ok(value) if value as u32 == irq_return::HANDLED => irq::IrqReturn::Handled,
                Ok(_) => irq::IrqReturn::NotMine,
                Err(failure) => {
                    super::fail(id, failure);
                    irq::IrqReturn::Handled
                }
            }
        }),
    );
    match registration {
        Ok(registration) => {
            irqs.push(IrqEntry {
                module: id,
                line,
                context: ctx,
                registration,
                shared,
                running,
            });
            0
        }
        Err(irq::IrqError::LineFull { .. }) => status(ErrorCode::Busy),
        Err(_) => status(ErrorCode::InvalidArgument),
    }
}

unsafe extern "C" fn irq_unregister(module: ModuleHandle, line: u32, context: *mut c_void) -> i32 {
    let entry = {
        let mut irqs = IRQS.lock();
        let found = irqs.iter().position(|e| {
            e.module == module.0 as ModuleId && e.line == line && e.context == context as usize
        });
        match found {
            Some(i) => {
                let entry = irqs.swap_remove(i);
                if irqs.is_empty() {
                    *irqs = Vec::new();
                }
                entry
            }
            None => return status(ErrorCode::NotFound),
        }
    };
    let _ = irq::unregister(entry.registration);
    // Wait until no core runs the handler, unless this core is inside it (a handler removing
    // itself would wait for itself).
    let own = contain::current_module() == Some(entry.module)
        && entry.running.load(Ordering::Acquire) > 0;
    if !own {
        while entry.running.load(Ordering::Acquire) > 0 {
            core::hint::spin_loop();
        }
    }
    0
}

/// Removes every IRQ handler and MMIO record of module `id` (on unload or failure). Does not
/// wait for handlers running on other cores to finish: they are contained and the module's
/// memory outlives this call.
pub fn release_hardware(id: ModuleId) {
    let gone: Vec<IrqEntry> = {
        let mut irqs = IRQS.lock();
        let mut gone = Vec::new();
        let mut i = 0;
        while i < irqs.len() {
            if irqs[i].module == id {
                gone.push(irqs.swap_remove(i));
            } else {
                i += 1;
            }
        }
        if irqs.is_empty() {
            // Give the buffer back, so an idle module system holds no heap.
            *irqs = Vec::new();
        }
        gone
    };
    for entry in gone {
        if irq::unregister(entry.registration).is_ok() {
            log::info!(target: "module", "interrupt {} of a departing module removed", entry.line);
        }
    }
    let mut mmio = MMIO.lock();
    mmio.retain(|m| m.module != id);
    if mmio.is_empty() {
        *mmio = Vec::new();
    }
}

/// IRQ handlers and MMIO mappings module `id` holds: (handlers, mappings).
pub fn hardware_of(id: ModuleId) -> (usize, usize) {
    (
        IRQS.lock().iter().filter(|e| e.module == id).count(),
        MMIO.lock().iter().filter(|m| m.module == id).count(),
    )
}

unsafe extern "C" fn module_panic(
    module: ModuleHandle,
    message: *const u8,
    message_len: usize,
) -> ! {
    let mut buf = [0u8; LOG_MAX];
    let message = copy_str(&mut buf, message, message_len);
    let blamed = contain::current_module().unwrap_or(module.0 as ModuleId);
    let named = super::with_name(blamed, |name| {
        log::error!(target: "module", "module {name} panicked: {message}");
    });
    if named.is_none() {
        log::error!(target: "module", "an unknown module panicked: {message}");
    }
    contain::abort_current();
    panic!("a module panicked outside a contained call: {message}")
}

unsafe extern "C" fn time_ns() -> u64 {
    crate::time::uptime_nanos()
}

unsafe extern "C" fn delay_ns(ns: u64) {
    let until = crate::time::uptime_nanos().saturating_add(ns);
    while crate::time::uptime_nanos() < until {
        core::hint::spin_loop();
    }
}

unsafe extern "C" fn device_register(
    module: ModuleHandle,
    class: u32,
    name: *const u8,
    name_len: usize,
    ops: *const c_void,
    context: *mut c_void,
    id: *mut u32,
) -> i32 {
    if !active(module) {
        return status(ErrorCode::InvalidArgument);
    }
    if id.is_null() || !(id as usize).is_multiple_of(core::mem::align_of::<u32>()) {
        return status(ErrorCode::BadAddress);
    }
    let mut buf = [0u8; TARGET_MAX];
    if name_len > TARGET_MAX {
        return status(ErrorCode::InvalidArgument);
    }
    let name = copy_str(&mut buf, name, name_len);
    if name.len() != name_len {
        return status(ErrorCode::InvalidArgument);
    }
    // SAFETY: `ops` comes from the module, which is running this call contained: a bad pointer
    // faults before any lock is taken.
    let registered =
        unsafe { crate::dev::register(module.0 as ModuleId, class, name, ops, context as usize) };
    match registered {
        Ok(device) => {
            // SAFETY: `id` is non-null and aligned; a bad pointer faults, contained.
            unsafe { id.write(device) };
            0
        }
        Err(e) => -(e.0 as i32),
    }
}

unsafe extern "C" fn device_unregister(module: ModuleHandle, id: u32) -> i32 {
    match crate::dev::unregister(module.0 as ModuleId, id) {
        Ok(()) => 0,
        Err(e) => -(e.0 as i32),
    }
}

unsafe extern "C" fn gpio_event(module: ModuleHandle, id: u32, line: u32, edge: u32) -> i32 {
    match crate::dev::gpio::event(module.0 as ModuleId, id, line, edge) {
        Ok(()) => 0,
        Err(e) => -(e.0 as i32),
    }
}

/// Most bytes `keel_tty_receive` takes per call.
const RECEIVE_MAX: usize = 256;

unsafe extern "C" fn tty_receive(
    module: ModuleHandle,
    id: u32,
    data: *const u8,
    len: usize,
) -> i32 {
    if data.is_null() && len > 0 {
        return status(ErrorCode::BadAddress);
    }
    let mut buf = [0u8; RECEIVE_MAX];
    let n = len.min(RECEIVE_MAX);
    // SAFETY: the module promises `len` readable bytes at `data`; a bad pointer faults here,
    // contained, before any lock is taken.
    unsafe { core::ptr::copy_nonoverlapping(data, buf.as_mut_ptr(), n) };
    match crate::dev::tty_receive(module.0 as ModuleId, id, &buf[..n]) {
        Ok(kept) => kept as i32,
        Err(e) => -(e.0 as i32),
    }
}

unsafe extern "C" fn block_complete(module: ModuleHandle, id: u32, status: i32) -> i32 {
    match crate::dev::block::complete(module.0 as ModuleId, id, status) {
        Ok(()) => 0,
        Err(e) => -(e.0 as i32),
    }
}

unsafe extern "C" fn work_schedule(
    module: ModuleHandle,
    function: unsafe extern "C" fn(*mut c_void),
    context: *mut c_void,
) -> i32 {
    if !active(module) {
        return status(ErrorCode::InvalidArgument);
    }
    match crate::dev::work::schedule(module.0 as ModuleId, function as usize, context as usize) {
        Ok(()) => 0,
        Err(e) => -(e.0 as i32),
    }
}

unsafe extern "C" fn work_cancel(
    module: ModuleHandle,
    function: unsafe extern "C" fn(*mut c_void),
    context: *mut c_void,
) -> i32 {
    crate::dev::work::cancel(module.0 as ModuleId, function as usize, context as usize);
    0
}

unsafe extern "C" fn platform_device(
    module: ModuleHandle,
    index: u32,
    device: *mut keel_abi::device::PlatformDevice,
) -> i32 {
    if device.is_null()
        || !(device as usize)
            .is_multiple_of(core::mem::align_of::<keel_abi::device::PlatformDevice>())
    {
        return status(ErrorCode::BadAddress);
    }
    match crate::dev::platform::device(module.0 as ModuleId, index) {
        Ok(found) => {
            // SAFETY: non-null and aligned; a bad pointer faults, contained.
            unsafe { device.write(found) };
            0
        }
        Err(e) => -(e.0 as i32),
    }
}

unsafe extern "C" fn console_claim(module: ModuleHandle, id: u32) -> i32 {
    if !active(module) {
        return status(ErrorCode::InvalidArgument);
    }
    let claimed = crate::dev::find_tty(module.0 as ModuleId, id).and_then(crate::console::claim);
    match claimed {
        Ok(()) => 0,
        Err(e) => -(e.0 as i32),
    }
}

unsafe extern "C" fn console_release(module: ModuleHandle) -> i32 {
    match crate::console::release(module.0 as ModuleId) {
        Ok(()) => 0,
        Err(e) => -(e.0 as i32),
    }
}

unsafe extern "C" fn firmware_clock_rate(
    _module: ModuleHandle,
    clock_id: u32,
    hz: *mut u32,
) -> i32 {
    if hz.is_null() || !(hz as usize).is_multiple_of(core::mem::align_of::<u32>()) {
        return status(ErrorCode::BadAddress);
    }
    match crate::firmware::clock_rate(clock_id) {
        Ok(rate) => {
            // SAFETY: non-null and aligned; a bad pointer faults, contained.
            unsafe { hz.write(rate) };
            0
        }
        Err(e) => -(e.0 as i32),
    }
}

unsafe extern "C" fn pci_device(
    module: ModuleHandle,
    index: u32,
    device: *mut keel_abi::device::PciDevice,
) -> i32 {
    if device.is_null()
        || !(device as usize).is_multiple_of(core::mem::align_of::<keel_abi::device::PciDevice>())
    {
        return status(ErrorCode::BadAddress);
    }
    match crate::dev::platform::pci_device(module.0 as ModuleId, index) {
        Ok(found) => {
            // SAFETY: non-null and aligned; a bad pointer faults, contained.
            unsafe { device.write(found) };
            0
        }
        Err(e) => -(e.0 as i32),
    }
}

unsafe extern "C" fn firmware_property(
    _module: ModuleHandle,
    tag: u32,
    values: *mut u32,
    words: u32,
) -> i32 {
    let words = words as usize;
    if words > crate::firmware::MAX_VALUES {
        return status(ErrorCode::InvalidArgument);
    }
    if values.is_null() && words > 0 || !(values as usize).is_multiple_of(4) {
        return status(ErrorCode::BadAddress);
    }
    let mut buf = [0u32; crate::firmware::MAX_VALUES];
    // SAFETY: the module promises `words` readable and writable words at `values`; a bad pointer
    // faults here, contained, before any lock is taken.
    unsafe { core::ptr::copy_nonoverlapping(values, buf.as_mut_ptr(), words) };
    match crate::firmware::property(tag, &mut buf[..words]) {
        Ok(len) => {
            // SAFETY: as above.
            unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), values, words) };
            len as i32
        }
        Err(e) => -(e.0 as i32),
    }
}
