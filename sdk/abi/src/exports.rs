//! The kernel's export table: the ONE list of `extern "C"` functions the kernel offers to modules.
//!
//! [`for_each_kernel_export!`](crate::for_each_kernel_export) holds the list and hands it to a
//! callback macro; everything else is generated from it at build time:
//!
//! - [`SIGNATURES`]: each export's name and signature hash (see [`crate::signature`]). Modules copy
//!   it into their `.keel.imports` section; the kernel compares against it.
//! - [`KernelExports`]: a struct with one field per export, typed with the exact function pointer
//!   type. The kernel fills one `static` of it with its implementations, so a kernel function with a
//!   different signature (or a missing one) fails to compile. [`KernelExports::entries`] yields
//!   `(name, hash, address)` for the loader's symbol resolution.
//! - The SDK (`keel-module`) generates the `extern "C"` declarations modules call.
//!
//! Adding an export is a compatible change (bump nothing; old modules do not import it). Changing or
//! removing one is incompatible: bump [`crate::ABI_VERSION`].

use core::ffi::c_void;

use crate::device::{PciDevice, PlatformDevice};
use crate::module::ModuleHandle;
use crate::signature::SymbolSignature;

/// Calls `$callback! { ... }` with the kernel's export list: one `fn name(args) -> ret;` per export,
/// each with its documentation. The types are written so that they resolve with
/// `use core::ffi::c_void; use keel_abi::module::ModuleHandle;
/// use keel_abi::device::{PciDevice, PlatformDevice};` in scope.
#[macro_export]
macro_rules! for_each_kernel_export {
    ($callback:path) => {
        $callback! {
            /// Writes one message to the kernel log. `level` is a `log_level` (1 error .. 5 trace);
            /// `target` (usually the module's name) and `message` are UTF-8 byte ranges, not
            /// NUL-terminated; the kernel copies them before returning. Callable in any context,
            /// including IRQ handlers.
            fn keel_log_write(
                level: u32,
                target: *const u8,
                target_len: usize,
                message: *const u8,
                message_len: usize,
            );
            /// The most verbose `log_level` the kernel log keeps now (0 = off), so that modules can
            /// skip formatting messages nobody will see.
            fn keel_log_max_level() -> u32;
            /// Allocates `size` bytes (more than 0) aligned to `align` (a power of two) from the
            /// kernel heap. Returns null when memory is short. Callable in any context.
            fn keel_alloc(size: usize, align: usize) -> *mut u8;
            /// Frees memory from `keel_alloc`; `size` and `align` are the values it was allocated
            /// with.
            fn keel_dealloc(ptr: *mut u8, size: usize, align: usize);
            /// Maps `size` bytes of device memory at physical address `phys` (device-nGnRE, never
            /// executable) for `module` and stores the virtual address of `phys` in `*virt`.
            /// Returns 0 or `-EINVAL` (zero size, overflow, or a range that overlaps normal RAM),
            /// `-ENOMEM`, `-EFAULT` (`virt` invalid). The kernel unmaps what the module left mapped
            /// when it is unloaded or fails.
            fn keel_mmio_map(module: ModuleHandle, phys: u64, size: usize, virt: *mut usize) -> i32;
            /// Unmaps a mapping made by `keel_mmio_map` (`virt` and `size` as returned and given).
            /// Returns 0 or `-EINVAL` when no such mapping of `module` exists.
            fn keel_mmio_unmap(module: ModuleHandle, virt: usize, size: usize) -> i32;
            /// Installs `handler` for interrupt `line` (the GIC INTID, i.e. the device tree's
            /// interrupt specifier already translated) and enables the line. The kernel calls
            /// `handler(context)` in IRQ context (top half) with interrupts masked; it returns
            /// `irq_return::HANDLED` or `irq_return::NONE`. Returns 0, `-EBUSY` (line taken; see
            /// `keel_irq_register_shared` for lines shared between devices),
            /// `-EINVAL` (no such line). Freed automatically if the module goes away.
            fn keel_irq_register(
                module: ModuleHandle,
                line: u32,
                handler: unsafe extern "C" fn(*mut c_void) -> u32,
                context: *mut c_void,
            ) -> i32;
            /// Like `keel_irq_register`, for a line several devices share (the Pi 4's EMMC and
            /// EMMC2, say): the line may already carry other shared handlers, and the kernel calls
            /// each of them; a handler that finds its device quiet returns `irq_return::NONE`.
            /// Returns 0, `-EBUSY` (the line has a handler that is not shared), `-EINVAL`.
            fn keel_irq_register_shared(
                module: ModuleHandle,
                line: u32,
                handler: unsafe extern "C" fn(*mut c_void) -> u32,
                context: *mut c_void,
            ) -> i32;
            /// Disables `line` and removes the handler registered with `context`; when it returns,
            /// the handler is not running on any core and will not run again. Returns 0 or
            /// `-ENOENT`.
            fn keel_irq_unregister(module: ModuleHandle, line: u32, context: *mut c_void) -> i32;
            /// Reports that `module` panicked with `message` (UTF-8, not NUL-terminated). Never
            /// returns to the module: the kernel logs the message, marks the module failed,
            /// releases its resources where it safely can and resumes the kernel.
            fn keel_module_panic(module: ModuleHandle, message: *const u8, message_len: usize) -> !;
            /// Monotonic time since boot in nanoseconds.
            fn keel_time_ns() -> u64;
            /// Busy-waits at least `ns` nanoseconds (for device timing; usable in IRQ context).
            fn keel_delay_ns(ns: u64);
            /// Registers a device of `class` (`device_class`) named `name` (UTF-8, the node
            /// `/dev/NAME`) with the class's operation table `ops` (`keel_abi::device`; it must
            /// stay valid while the device is registered) and the driver's `context`, and stores
            /// its id in `*id`. Returns 0, `-EEXIST` (name taken), `-EINVAL` (bad name, a table of
            /// another class, version or size), `-EFAULT`.
            fn keel_device_register(
                module: ModuleHandle,
                class: u32,
                name: *const u8,
                name_len: usize,
                ops: *const c_void,
                context: *mut c_void,
                id: *mut u32,
            ) -> i32;
            /// Removes a device registered by `module`: its `/dev` node goes, and files still
            /// open on it get `ENODEV`. Returns 0 or `-ENOENT`.
            fn keel_device_unregister(module: ModuleHandle, id: u32) -> i32;
            /// Reports an edge (`GPIO_EDGE_RISING` or `GPIO_EDGE_FALLING`) on `line` of the GPIO
            /// device `id` of `module`, waking whoever waits for it. Callable from an interrupt
            /// handler. Returns 0, `-ENOENT` (no such device), `-EINVAL`.
            fn keel_gpio_event(module: ModuleHandle, id: u32, line: u32, edge: u32) -> i32;
            /// Hands `len` received bytes at `data` to the tty device `id` of `module` (the
            /// kernel copies them into the device's input buffer and wakes readers; bytes that
            /// do not fit are dropped and counted). Callable from an interrupt handler. Returns
            /// the bytes taken, or `-ENOENT`.
            fn keel_tty_receive(module: ModuleHandle, id: u32, data: *const u8, len: usize) -> i32;
            /// Ends the block transfer of device `id` of `module` that its `read` or `write`
            /// started with `-EINPROGRESS`: `status` is 0 or `-errno`. Wakes the thread waiting
            /// for it. Callable from an interrupt handler. Returns 0, `-ENOENT` (no such device),
            /// `-EINVAL` (not a block device, or no transfer was started).
            fn keel_block_complete(module: ModuleHandle, id: u32, status: i32) -> i32;
            /// Queues `function(context)` to run once in the kernel's work thread (the bottom
            /// half), in thread context with interrupts enabled. Queuing a pair that is already
            /// queued and not yet started does nothing. Callable from an interrupt handler.
            /// Returns 0, `-EINVAL`, `-ENOMEM`.
            fn keel_work_schedule(
                module: ModuleHandle,
                function: unsafe extern "C" fn(*mut c_void),
                context: *mut c_void,
            ) -> i32;
            /// Removes `function(context)` from the work queue; when it returns, the pair is not
            /// queued and not running. Not callable from the work function itself or an
            /// interrupt handler. Returns 0.
            fn keel_work_cancel(
                module: ModuleHandle,
                function: unsafe extern "C" fn(*mut c_void),
                context: *mut c_void,
            ) -> i32;
            /// Fills `*device` with the `index`th enabled device-tree node (0, 1, ...) whose
            /// `compatible` matches one of the module's `compatible` strings, in tree order:
            /// its translated registers, GIC interrupts and clock rates. Returns 0, `-ENODEV`
            /// (no such node), `-EFAULT`.
            fn keel_platform_device(
                module: ModuleHandle,
                index: u32,
                device: *mut PlatformDevice,
            ) -> i32;
            /// Makes the tty device `id` of `module` the console: the kernel sends its pending
            /// output, stops its built-in UART's input interrupt (freeing the line for the
            /// driver; bytes that arrive meanwhile wait in the UART's FIFO) and from then on
            /// writes the console's output with the device's `write` (and `flush` when its queue
            /// is full), while what the device receives (`keel_tty_receive`) feeds the console's
            /// line discipline instead of the device's own readers. Oops and panic reports, and
            /// the driver's own log lines, still go out through the built-in polled path. Call it
            /// before registering the UART's interrupt. Returns 0, `-ENOENT` (no such tty),
            /// `-EBUSY` (a driver owns the console), `-ENODEV` (no built-in console to take
            /// over).
            fn keel_console_claim(module: ModuleHandle, id: u32) -> i32;
            /// Gives the console back to the built-in driver: the kernel flushes the device's
            /// queue (`flush`) and restarts its own input interrupt once the line is free (so
            /// the driver unregisters its interrupt and hands over what it received before
            /// calling this). If the module fails or is removed, the kernel does this itself.
            /// Returns 0 or `-ENOENT` (the module does not own the console).
            fn keel_console_release(module: ModuleHandle) -> i32;
            /// Asks the firmware (the Raspberry Pi's VideoCore mailbox, property channel 8) the
            /// rate of clock `clock_id` (2 is the UART's) and stores it in Hz in `*hz`. Returns
            /// 0, `-ENODEV` (the board has no firmware mailbox), `-EIO` (the firmware refused or
            /// did not answer), `-EFAULT`.
            fn keel_firmware_clock_rate(module: ModuleHandle, clock_id: u32, hz: *mut u32) -> i32;
            /// Fills `*device` with the `index`th PCI function (0, 1, ...) whose vendor and
            /// device id match one of the module's `pci` ids, or whose class one of its
            /// `pci_class` classes, in bus order: its memory BARs as
            /// the kernel assigned them and its routed interrupt. Returns 0, `-ENODEV` (no such
            /// function), `-EFAULT`.
            fn keel_pci_device(module: ModuleHandle, index: u32, device: *mut PciDevice) -> i32;
            /// Runs firmware property `tag` (the Raspberry Pi mailbox, channel 8) with `words`
            /// 32-bit values at `values`, request in and response out. Not callable from an
            /// interrupt handler. Returns the response's length in bytes, `-ENODEV` (no
            /// firmware mailbox), `-EIO` (refused), `-ETIMEDOUT`, `-EINVAL` (more than 64 words),
            /// `-EFAULT`.
            fn keel_firmware_property(
                module: ModuleHandle,
                tag: u32,
                values: *mut u32,
                words: u32,
            ) -> i32;
        }
    };
}

/// Builds [`KernelExports`] and [`SIGNATURES`] from the list.
macro_rules! kernel_table {
    ($(
        $(#[$meta:meta])*
        fn $name:ident ( $($arg:ident : $ty:ty),* $(,)? ) $(-> $ret:ty)? ;
    )*) => {
        /// The kernel's implementations of every export, as typed function pointers. The kernel
        /// defines exactly one `static` of this type; the compiler checks every signature.
        ///
        /// ```
        /// # use core::ffi::c_void;
        /// # use keel_abi::module::ModuleHandle;
        /// # use keel_abi::exports::KernelExports;
        /// extern "C" fn time_ns() -> u64 { 42 }
        /// # extern "C" fn log_write(_: u32, _: *const u8, _: usize, _: *const u8, _: usize) {}
        /// # extern "C" fn log_max_level() -> u32 { 3 }
        /// # extern "C" fn alloc(_: usize, _: usize) -> *mut u8 { core::ptr::null_mut() }
        /// # extern "C" fn dealloc(_: *mut u8, _: usize, _: usize) {}
        /// # extern "C" fn mmio_map(_: ModuleHandle, _: u64, _: usize, _: *mut usize) -> i32 { -38 }
        /// # extern "C" fn mmio_unmap(_: ModuleHandle, _: usize, _: usize) -> i32 { -38 }
        /// # extern "C" fn irq_register(_: ModuleHandle, _: u32,
        /// #     _: unsafe extern "C" fn(*mut c_void) -> u32, _: *mut c_void) -> i32 { -38 }
        /// # extern "C" fn irq_shared(_: ModuleHandle, _: u32,
        /// #     _: unsafe extern "C" fn(*mut c_void) -> u32, _: *mut c_void) -> i32 { -38 }
        /// # extern "C" fn irq_unregister(_: ModuleHandle, _: u32, _: *mut c_void) -> i32 { -38 }
        /// # extern "C" fn module_panic(_: ModuleHandle, _: *const u8, _: usize) -> ! { loop {} }
        /// # extern "C" fn delay_ns(_: u64) {}
        /// # extern "C" fn device_register(_: ModuleHandle, _: u32, _: *const u8, _: usize,
        /// #     _: *const c_void, _: *mut c_void, _: *mut u32) -> i32 { -38 }
        /// # extern "C" fn device_unregister(_: ModuleHandle, _: u32) -> i32 { -38 }
        /// # extern "C" fn gpio_event(_: ModuleHandle, _: u32, _: u32, _: u32) -> i32 { -38 }
        /// # extern "C" fn tty_receive(_: ModuleHandle, _: u32, _: *const u8, _: usize) -> i32 { -38 }
        /// # extern "C" fn work(_: ModuleHandle, _: unsafe extern "C" fn(*mut c_void),
        /// #     _: *mut c_void) -> i32 { -38 }
        /// # extern "C" fn platform_device(_: ModuleHandle, _: u32,
        /// #     _: *mut keel_abi::device::PlatformDevice) -> i32 { -38 }
        /// # extern "C" fn console_claim(_: ModuleHandle, _: u32) -> i32 { -38 }
        /// # extern "C" fn console_release(_: ModuleHandle) -> i32 { -38 }
        /// # extern "C" fn clock_rate(_: ModuleHandle, _: u32, _: *mut u32) -> i32 { -38 }
        /// # extern "C" fn pci_device(_: ModuleHandle, _: u32,
        /// #     _: *mut keel_abi::device::PciDevice) -> i32 { -38 }
        /// # extern "C" fn block_complete(_: ModuleHandle, _: u32, _: i32) -> i32 { -38 }
        /// # extern "C" fn firmware(_: ModuleHandle, _: u32, _: *mut u32, _: u32) -> i32 { -38 }
        /// static EXPORTS: KernelExports = KernelExports {
        ///     keel_time_ns: time_ns,
        ///     // ... one field per export; a wrong signature does not compile:
        /// #   keel_log_write: log_write, keel_log_max_level: log_max_level, keel_alloc: alloc,
        /// #   keel_dealloc: dealloc, keel_mmio_map: mmio_map, keel_mmio_unmap: mmio_unmap,
        /// #   keel_irq_register: irq_register, keel_irq_unregister: irq_unregister,
        /// #   keel_irq_register_shared: irq_shared,
        /// #   keel_module_panic: module_panic, keel_delay_ns: delay_ns,
        /// #   keel_device_register: device_register, keel_device_unregister: device_unregister,
        /// #   keel_gpio_event: gpio_event, keel_tty_receive: tty_receive,
        /// #   keel_work_schedule: work, keel_work_cancel: work,
        /// #   keel_console_claim: console_claim, keel_console_release: console_release,
        /// #   keel_firmware_clock_rate: clock_rate,
        /// #   keel_platform_device: platform_device, keel_pci_device: pci_device,
        /// #   keel_block_complete: block_complete, keel_firmware_property: firmware,
        /// };
        /// let time = EXPORTS.entries().find(|e| e.name == "keel_time_ns").unwrap();
        /// assert_eq!(time.address, time_ns as usize);
        /// ```
        #[derive(Clone, Copy)]
        pub struct KernelExports {
            $(
                $(#[$meta])*
                pub $name: unsafe extern "C" fn($($ty),*) $(-> $ret)?,
            )*
        }

        /// Name and signature hash of every kernel export, in list order.
        pub const SIGNATURES: [SymbolSignature; COUNT] = [
            $(SymbolSignature::new(
                ::core::stringify!($name),
                $crate::__signature_hash!($name($($ty),*) $(-> $ret)?),
            ),)*
        ];

        /// The number of kernel exports.
        pub const COUNT: usize = [$(::core::stringify!($name)),*].len();

        impl KernelExports {
            /// The address of every export, in list order (the order of [`SIGNATURES`]).
            fn addresses(&self) -> [usize; COUNT] {
                [$(self.$name as usize),*]
            }
        }
    };
}

for_each_kernel_export!(kernel_table);

/// One resolvable kernel symbol: its name, signature hash and address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportEntry {
    /// The symbol name modules import.
    pub name: &'static str,
    /// The signature hash the module's `.keel.imports` record must carry.
    pub hash: u32,
    /// The implementation's address.
    pub address: usize,
}

impl KernelExports {
    /// Every export as `(name, hash, address)`, in list order.
    pub fn entries(&self) -> impl Iterator<Item = ExportEntry> + '_ {
        SIGNATURES
            .iter()
            .zip(self.addresses())
            .map(|(signature, address)| ExportEntry {
                name: signature.name().unwrap_or(""),
                hash: signature.hash,
                address,
            })
    }

    /// The export called `name`, if there is one (as `entries().find(|e| e.name == name)`, but
    /// comparing the records' name bytes instead of decoding each).
    pub fn find(&self, name: &str) -> Option<ExportEntry> {
        SIGNATURES
            .iter()
            .zip(self.addresses())
            .find(|(signature, _)| signature.is(name))
            .map(|(signature, address)| ExportEntry {
                // The record's name is `name`, bytes and length: no need to search its end.
                name: signature
                    .name
                    .get(..name.len())
                    .and_then(|bytes| core::str::from_utf8(bytes).ok())
                    .unwrap_or(""),
                hash: signature.hash,
                address,
            })
    }

    /// The signature hash and address of the export called `name` (what [`KernelExports::find`]
    /// finds), looking first for the export whose hash is `hint`, the hash the importer recorded
    /// (the export's when both sides agree): hashes are compared before names, so a name is
    /// compared once instead of against every export.
    pub fn resolve(&self, name: &str, hint: u32) -> Option<(u32, usize)> {
        let index = SIGNATURES
            .iter()
            .position(|signature| signature.hash == hint && signature.is(name))
            .or_else(|| SIGNATURES.iter().position(|signature| signature.is(name)))?;
        let hash = SIGNATURES.get(index)?.hash;
        Some((hash, *self.addresses().get(index)?))
    }
}

/// The signature hash of kernel export `name`, or `None` if the kernel exports no such function.
pub fn hash_of(name: &str) -> Option<u32> {
    SIGNATURES
        .iter()
        .find(|signature| signature.is(name))
        .map(|signature| signature.hash)
}

// The list's types must resolve here as they do for the SDK.
const _: Option<(ModuleHandle, *const c_void, PlatformDevice)> = None;

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::signature::fnv1a32;
    use std::collections::HashSet;

    #[test]
    fn every_export_has_a_unique_name_and_the_prefix() {
        let names: HashSet<_> = SIGNATURES.iter().map(|s| s.name().unwrap()).collect();
        assert_eq!(names.len(), COUNT);
        assert!(names.iter().all(|name| name.starts_with("keel_")));
    }

    #[test]
    fn hashes_follow_the_normalised_text() {
        assert_eq!(
            hash_of("keel_alloc"),
            Some(fnv1a32("keel_alloc(usize,usize)->*mut u8"))
        );
        assert_eq!(
            hash_of("keel_irq_register"),
            Some(fnv1a32(
                "keel_irq_register(ModuleHandle,u32,unsafe extern \"C\" fn(*mut c_void) -> \
                 u32,*mut c_void)->i32"
            ))
        );
        assert_eq!(
            hash_of("keel_module_panic"),
            Some(fnv1a32(
                "keel_module_panic(ModuleHandle,*const u8,usize)->!"
            ))
        );
        assert_eq!(
            hash_of("keel_delay_ns"),
            Some(fnv1a32("keel_delay_ns(u64)->()"))
        );
        // The values docs/module-abi.md lists.
        assert_eq!(hash_of("keel_device_register"), Some(0x848c97cc));
        assert_eq!(hash_of("keel_gpio_event"), Some(0xc85d7f7d));
        assert_eq!(hash_of("keel_irq_register_shared"), Some(0xe56d37e8));
        assert_eq!(hash_of("keel_tty_receive"), Some(0x868686c2));
        assert_eq!(hash_of("keel_work_schedule"), Some(0x2aab1ae0));
        assert_eq!(hash_of("keel_work_cancel"), Some(0xffee7007));
        assert_eq!(hash_of("keel_platform_device"), Some(0x52396ede));
        assert_eq!(hash_of("keel_console_claim"), Some(0xc6a30eb5));
        assert_eq!(hash_of("keel_console_release"), Some(0x9f44a8d4));
        assert_eq!(hash_of("keel_firmware_clock_rate"), Some(0x09a117cc));
        assert_eq!(hash_of("memcpy"), None);
    }
}
