//! The device model: devices that driver modules register, their `/dev` nodes, and the routing
//! of `open`, `read`, `write`, `ioctl` and `close` to the driver.
//!
//! ```text
//!  user: open("/dev/gpiochip0") ──► devfs ──► DevNode ──► Device ──contain::call4──► driver op
//!                                               │ class logic (gpio: lines, events; tty: input
//!                                               │ buffer; block: whole blocks) lives here
//!  driver's IRQ top half ──keel_gpio_event / keel_tty_receive──► buffer + wake the waiter
//!  driver's bottom half  ──keel_work_schedule──► work::  (the kernel's work thread)
//! ```
//!
//! - A device belongs to the module that registered it. Every open file of a device pins the
//!   module: `rmmod` is refused and names the device and the processes holding it.
//! - Every call into the driver goes through [`crate::module::contain`]; a fault or panic marks
//!   the module failed, its `/dev` nodes go away and every open file of its devices gets `EIO`.
//! - Driver operations never block; a device that has nothing yet says `EAGAIN` and the
//!   system call sleeps on the node's wait key until the driver's top half wakes it.
//! - [`gpio`] is the GPIO class (`/dev/gpiochipN` and its ioctls), [`work`] the work queue of
//!   bottom halves, [`platform`] the device-tree nodes a module's `compatible` strings match.

pub mod block;
pub mod gpio;
pub mod platform;
pub mod work;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use keel_abi::device::{self, BlockGeometry, BlockOps, GpioOps, OpsHeader, TtyOps};
use keel_abi::module::device_class;
use keel_abi::types::{FileKind, Stat, Termios, TCGETS, TCSETS};
use keel_abi::Errno;
use keel_vfs::{wait_key_of, FileId, Node};

use crate::module::{self, contain, ModuleId, State};
use crate::sync::IrqMutex;

/// Bytes a tty keeps of input nobody has read yet.
const TTY_INPUT_MAX: usize = 4096;

/// Device-number majors, as on Linux.
const MAJOR_TTY: u64 = 4;
const MAJOR_BLOCK: u64 = 179;
const MAJOR_GPIO: u64 = 254;

/// A class's operation table and the state the kernel keeps for it.
enum Class {
    Tty {
        ops: TtyOps,
        /// Whether `get_line`, `set_line` and `flush` are the driver's (a version 1 table has
        /// none: its line is fixed at 115200 8N1 and nothing is queued to flush).
        line_ops: bool,
        input: IrqMutex<VecDeque<u8>>,
        dropped: AtomicU64,
    },
    Gpio {
        ops: GpioOps,
        state: IrqMutex<gpio::State>,
    },
    Block {
        ops: BlockOps,
        geometry: BlockGeometry,
        disk: block::Disk,
    },
}

/// A registered device.
pub struct Device {
    id: u32,
    module: ModuleId,
    name: String,
    context: usize,
    class: Class,
    /// Unregistered, or its module is being removed: no new opens.
    closed: AtomicBool,
    /// Open files: (file, pid of the process that opened it; 0 for the kernel).
    opens: IrqMutex<Vec<(FileId, u32)>>,
    ino: u64,
}

static DEVICES: IrqMutex<Vec<Arc<Device>>> = IrqMutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Device {
    fn wait_key(&self) -> usize {
        wait_key_of(self)
    }

    /// Wakes whoever sleeps on this device.
    fn wake(&self) {
        keel_vfs::wake(self.wait_key());
    }

    /// Whether the device may be used: `ENODEV` once unregistered, `EIO` once its module failed.
    fn usable(&self) -> Result<(), Errno> {
        match module::state_of(self.module) {
            Some(State::Failed) => Err(Errno::EIO),
            _ if self.closed.load(Ordering::Acquire) => Err(Errno::ENODEV),
            Some(State::Live | State::Loading | State::Unloading) => Ok(()),
            None => Err(Errno::ENODEV),
        }
    }

    /// Calls driver operation `f(context, a, b, c)` contained; the raw `x0` it returned. A fault
    /// or panic fails the module and gives `EIO`.
    fn call(&self, f: usize, a: u64, b: u64, c: u64) -> Result<u64, Errno> {
        self.usable()?;
        match contain::call4(self.module, f, [self.context as u64, a, b, c]) {
            Ok(value) => Ok(value),
            Err(failure) => {
                module::fail(self.module, failure);
                Err(Errno::EIO)
            }
        }
    }

    /// Like [`Device::call`] for an operation returning an `i32` status or count.
    fn call_status(&self, f: usize, a: u64, b: u64, c: u64) -> Result<u32, Errno> {
        let status = self.call(f, a, b, c)? as u32 as i32;
        status_result(status)
    }

    /// The device's name (its `/dev` node).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The module that registered it.
    pub fn module(&self) -> ModuleId {
        self.module
    }

    /// The name of its module.
    pub fn module_name(&self) -> String {
        module::with_name(self.module, |n| String::from(n)).unwrap_or_default()
    }

    /// Like [`Device::call`] while the module may still run, even when the device takes no new
    /// opens (the console keeps writing while its driver is being removed).
    fn call_running(&self, f: usize, a: u64, b: u64, c: u64) -> Result<u64, Errno> {
        match module::state_of(self.module) {
            Some(State::Live | State::Loading | State::Unloading) => {}
            Some(State::Failed) => return Err(Errno::EIO),
            None => return Err(Errno::ENODEV),
        }
        match contain::call4(self.module, f, [self.context as u64, a, b, c]) {
            Ok(value) => Ok(value),
            Err(failure) => {
                module::fail(self.module, failure);
                Err(Errno::EIO)
            }
        }
    }

    /// Queues console output with a tty driver's `write`: how many bytes it took, or how the
    /// driver failed. For the console only, which may write while the module table is locked (a
    /// line logged under it): no lock is taken and a failure is left to the caller. The console
    /// holds the device only while the module may run (see `console::module_gone`).
    pub fn console_write(&self, bytes: &[u8]) -> Result<usize, contain::Failure> {
        let Class::Tty { ops, .. } = &self.class else {
            return Ok(0);
        };
        let args = [
            self.context as u64,
            bytes.as_ptr() as u64,
            bytes.len() as u64,
            0,
        ];
        let n = contain::call4(self.module, ops.write as usize, args)? as i64;
        Ok(n.clamp(0, bytes.len() as i64) as usize)
    }

    /// Has a tty driver send everything it queued (its `flush`); as [`Device::console_write`].
    pub fn console_flush(&self) -> Result<(), contain::Failure> {
        let Class::Tty {
            ops,
            line_ops: true,
            ..
        } = &self.class
        else {
            return Ok(());
        };
        contain::call4(
            self.module,
            ops.flush as usize,
            [self.context as u64, 0, 0, 0],
        )?;
        Ok(())
    }

    /// A tty's line settings (its driver's `get_line`).
    pub fn tty_line(&self) -> Result<Termios, Errno> {
        let Class::Tty { ops, line_ops, .. } = &self.class else {
            return Err(Errno::ENOTTY);
        };
        if !line_ops {
            return Ok(FIXED_LINE);
        }
        let mut t = Termios::default();
        let status =
            self.call_running(ops.get_line as usize, &mut t as *mut Termios as u64, 0, 0)?;
        status_result(status as u32 as i32)?;
        Ok(t)
    }

    /// Applies checked line settings through the tty driver's `set_line`.
    pub fn tty_set_line(&self, t: &Termios) -> Result<(), Errno> {
        let Class::Tty { ops, line_ops, .. } = &self.class else {
            return Err(Errno::ENOTTY);
        };
        t.check()?;
        if !line_ops {
            return if t.same_line(&FIXED_LINE) {
                Ok(())
            } else {
                Err(Errno::EINVAL)
            };
        }
        let status = self.call_running(ops.set_line as usize, t as *const Termios as u64, 0, 0)?;
        status_result(status as u32 as i32).map(|_| ())
    }

    fn open_close(&self) -> (usize, usize) {
        match &self.class {
            Class::Tty { ops, .. } => (ops.open as usize, ops.close as usize),
            Class::Gpio { ops, .. } => (ops.open as usize, ops.close as usize),
            Class::Block { ops, .. } => (ops.open as usize, ops.close as usize),
        }
    }
}

/// Turns a driver's `0 or -errno` into a result (an unknown or positive error number is `EIO`).
fn status_result(status: i32) -> Result<u32, Errno> {
    if status >= 0 {
        return Ok(status as u32);
    }
    let errno = u16::try_from(status.unsigned_abs()).unwrap_or(Errno::EIO.0);
    Err(if Errno(errno).name().is_some() {
        Errno(errno)
    } else {
        Errno::EIO
    })
}

/// The `/dev` node of a device, or of a partition of a block device (its window of blocks).
struct DevNode {
    dev: Arc<Device>,
    region: Option<keel_block::Region>,
}

impl Node for DevNode {
    fn kind(&self) -> FileKind {
        match self.dev.class {
            Class::Block { .. } => FileKind::BlockDev,
            _ => FileKind::CharDev,
        }
    }

    fn stat(&self) -> Stat {
        let (major, size) = match &self.dev.class {
            Class::Tty { .. } => (MAJOR_TTY, 0),
            Class::Gpio { .. } => (MAJOR_GPIO, 0),
            Class::Block { geometry, .. } => (
                MAJOR_BLOCK,
                self.region
                    .map_or(geometry.blocks, |r| r.blocks)
                    .saturating_mul(geometry.block_size as u64),
            ),
        };
        Stat {
            kind: self.kind() as u32,
            mode: 0o660,
            size,
            ino: self.dev.ino + self.region.map_or(0, |r| r.first << 32),
            rdev: major << 20 | self.dev.id as u64,
            dev: 0,
        }
    }

    fn open(&self, file: FileId, _flags: u64) -> Result<(), Errno> {
        let dev = &self.dev;
        let pid = crate::proc::current().map_or(0, |p| p.pid);
        {
            // Under the registry's lock, so that `begin_unload` sees every open.
            let _devices = DEVICES.lock();
            dev.usable()?;
            dev.opens.lock().push((file, pid));
        }
        let (open, _) = dev.open_close();
        if let Err(e) = dev.call_status(open, 0, 0, 0) {
            dev.opens.lock().retain(|(f, _)| *f != file);
            return Err(e);
        }
        Ok(())
    }

    fn release(&self, file: FileId, _flags: u64) {
        let dev = &self.dev;
        if dev.usable().is_ok() {
            if let Class::Gpio { .. } = dev.class {
                gpio::release(dev, file);
            }
            let (_, close) = dev.open_close();
            let _ = dev.call(close, 0, 0, 0);
        }
        dev.opens.lock().retain(|(f, _)| *f != file);
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let dev = &self.dev;
        dev.usable()?;
        match &dev.class {
            Class::Tty { input, .. } => {
                if buf.is_empty() {
                    return Ok(0);
                }
                let n = {
                    let mut input = input.lock();
                    if input.is_empty() {
                        return Err(Errno::EAGAIN);
                    }
                    let n = buf.len().min(input.len());
                    for (slot, byte) in buf.iter_mut().zip(input.drain(..n)) {
                        *slot = byte;
                    }
                    n
                };
                // Room again: a writer waiting for the driver to take its bytes may retry.
                dev.wake();
                Ok(n)
            }
            Class::Block { .. } => block::io(dev, self.region, offset, block::Io::Read(buf)),
            Class::Gpio { .. } => Err(Errno::EINVAL),
        }
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<usize, Errno> {
        let dev = &self.dev;
        dev.usable()?;
        match &dev.class {
            Class::Tty { ops, .. } => {
                let n =
                    dev.call(ops.write as usize, buf.as_ptr() as u64, buf.len() as u64, 0)? as i64;
                if n < 0 {
                    return status_result(n as i32).map(|_| 0);
                }
                match (n as usize).min(buf.len()) {
                    0 if !buf.is_empty() => Err(Errno::EAGAIN),
                    n => Ok(n),
                }
            }
            Class::Block { .. } => block::io(dev, self.region, offset, block::Io::Write(buf)),
            Class::Gpio { .. } => Err(Errno::EINVAL),
        }
    }

    fn ioctl(&self, file: FileId, request: u64, arg: u64) -> Result<u64, Errno> {
        let dev = &self.dev;
        dev.usable()?;
        match &dev.class {
            Class::Gpio { .. } => gpio::ioctl(dev, file, request, arg),
            Class::Tty { .. } => tty_ioctl(dev, request, arg),
            _ => Err(Errno::ENOTTY),
        }
    }

    fn is_seekable(&self) -> bool {
        matches!(self.dev.class, Class::Block { .. })
    }

    fn wait_key(&self) -> Option<usize> {
        Some(self.dev.wait_key())
    }
}

/// `TCGETS` and `TCSETS` on a tty device: its line settings. A device tty has no line
/// discipline: `lflags` reads 0 and must be 0.
fn tty_ioctl(dev: &Device, request: u64, arg: u64) -> Result<u64, Errno> {
    let p = crate::proc::current().ok_or(Errno::EPERM)?;
    match request {
        TCGETS => {
            let t = dev.tty_line()?;
            p.aspace.write_val(arg, &t)?;
            Ok(0)
        }
        TCSETS => {
            let t: Termios = p.aspace.read_val(arg)?;
            t.check()?;
            if t.lflags != 0 {
                return Err(Errno::EINVAL);
            }
            dev.tty_set_line(&t)?;
            Ok(0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

/// The version 1 tty table: `open`, `close` and `write` only. The kernel still accepts it.
#[repr(C)]
#[derive(Clone, Copy)]
struct TtyOpsV1 {
    header: OpsHeader,
    open: device::OpenFn,
    close: device::CloseFn,
    write:
        unsafe extern "C" fn(context: *mut core::ffi::c_void, buf: *const u8, len: usize) -> isize,
}

/// The line of a tty whose driver has no line operations (a version 1 table).
const FIXED_LINE: Termios = Termios {
    lflags: 0,
    ..Termios::CONSOLE
};

// Placeholders for the line operations a version 1 table lacks; `line_ops: false` keeps them
// from being called.
unsafe extern "C" fn v1_get_line(_: *mut core::ffi::c_void, _: *mut Termios) -> i32 {
    -(Errno::ENOSYS.0 as i32)
}
unsafe extern "C" fn v1_set_line(_: *mut core::ffi::c_void, _: *const Termios) -> i32 {
    -(Errno::ENOSYS.0 as i32)
}
unsafe extern "C" fn v1_flush(_: *mut core::ffi::c_void) -> i32 {
    -(Errno::ENOSYS.0 as i32)
}

/// Checks a `/dev` name: `[A-Za-z0-9_-]`, 1 to 32 bytes (`EINVAL` otherwise).
fn check_name(name: &str) -> Result<(), Errno> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

/// Picks the `/dev` name: `name` itself, or for a name ending in `#` the smallest free number
/// in its place (`gpiochip#` -> `gpiochip0`).
fn node_name(name: &str, devices: &[Arc<Device>]) -> Result<String, Errno> {
    let Some(prefix) = name.strip_suffix('#') else {
        check_name(name)?;
        return if devices.iter().any(|d| d.name == name) {
            Err(Errno::EEXIST)
        } else {
            Ok(String::from(name))
        };
    };
    check_name(prefix)?;
    (0..64)
        .map(|n| alloc::format!("{prefix}{n}"))
        .find(|candidate| !devices.iter().any(|d| &d.name == candidate))
        .ok_or(Errno::EEXIST)
}

/// Copies a class's operation table from module memory and checks it: its header, and every
/// function pointer in the module's text.
///
/// # Safety
/// `ops` must point at readable memory of at least the header's size (a bad pointer faults
/// inside the module's contained call, before any lock is taken).
unsafe fn read_table<T: Copy>(
    module: ModuleId,
    ops: *const core::ffi::c_void,
    class: u32,
    version: u32,
    functions: impl Fn(&T) -> Vec<usize>,
) -> Result<T, Errno> {
    if ops.is_null() || !(ops as usize).is_multiple_of(core::mem::align_of::<T>()) {
        return Err(Errno::EFAULT);
    }
    // SAFETY: non-null and aligned; the caller promises readable memory (the module's own data).
    let header: OpsHeader = unsafe { core::ptr::read(ops.cast::<OpsHeader>()) };
    device::check_header(&header, class, version, core::mem::size_of::<T>())?;
    // SAFETY: the header says the table is at least `size_of::<T>()` bytes long.
    let table: T = unsafe { core::ptr::read(ops.cast::<T>()) };
    if functions(&table)
        .into_iter()
        .all(|f| module::in_text_of(module, f as u64))
    {
        Ok(table)
    } else {
        Err(Errno::EINVAL)
    }
}

/// Registers a device for `module` (the `keel_device_register` export); returns its id.
///
/// # Safety
/// `ops` comes from the module; see [`read_table`].
pub unsafe fn register(
    module: ModuleId,
    class: u32,
    name: &str,
    ops: *const core::ffi::c_void,
    context: usize,
) -> Result<u32, Errno> {
    let kind = match class {
        device_class::TTY => {
            if ops.is_null() || !(ops as usize).is_multiple_of(core::mem::align_of::<TtyOps>()) {
                return Err(Errno::EFAULT);
            }
            // SAFETY: non-null and aligned; the caller promises a readable header.
            let version = unsafe { core::ptr::read(ops.cast::<OpsHeader>()) }.version;
            let (ops, line_ops) = if version == 1 {
                // SAFETY: forwarded from the caller.
                let v1: TtyOpsV1 = unsafe {
                    read_table(module, ops, class, 1, |t: &TtyOpsV1| {
                        alloc::vec![t.open as usize, t.close as usize, t.write as usize]
                    })?
                };
                let ops = TtyOps {
                    header: v1.header,
                    open: v1.open,
                    close: v1.close,
                    write: v1.write,
                    get_line: v1_get_line,
                    set_line: v1_set_line,
                    flush: v1_flush,
                };
                (ops, false)
            } else {
                // SAFETY: forwarded from the caller.
                let ops: TtyOps = unsafe {
                    read_table(module, ops, class, device::TTY_OPS_VERSION, |t: &TtyOps| {
                        alloc::vec![
                            t.open as usize,
                            t.close as usize,
                            t.write as usize,
                            t.get_line as usize,
                            t.set_line as usize,
                            t.flush as usize
                        ]
                    })?
                };
                (ops, true)
            };
            Class::Tty {
                ops,
                line_ops,
                input: IrqMutex::new(VecDeque::new()),
                dropped: AtomicU64::new(0),
            }
        }
        device_class::GPIO => {
            // SAFETY: forwarded from the caller.
            let ops: GpioOps = unsafe {
                read_table(
                    module,
                    ops,
                    class,
                    device::GPIO_OPS_VERSION,
                    |t: &GpioOps| {
                        alloc::vec![
                            t.open as usize,
                            t.close as usize,
                            t.lines as usize,
                            t.direction as usize,
                            t.get as usize,
                            t.set as usize,
                            t.pull as usize,
                            t.events as usize,
                        ]
                    },
                )?
            };
            let lines = match contain::call4(module, ops.lines as usize, [context as u64, 0, 0, 0])
            {
                Ok(n) => status_result(n as u32 as i32)?,
                Err(failure) => {
                    module::fail(module, failure);
                    return Err(Errno::EIO);
                }
            };
            if lines == 0 || lines > gpio::MAX_LINES {
                return Err(Errno::EINVAL);
            }
            Class::Gpio {
                ops,
                state: IrqMutex::new(gpio::State::new(lines)),
            }
        }
        device_class::BLOCK => {
            // SAFETY: forwarded from the caller.
            let ops: BlockOps = unsafe {
                read_table(
                    module,
                    ops,
                    class,
                    device::BLOCK_OPS_VERSION,
                    |t: &BlockOps| {
                        alloc::vec![
                            t.open as usize,
                            t.close as usize,
                            t.geometry as usize,
                            t.read as usize,
                            t.write as usize,
                            t.abort as usize
                        ]
                    },
                )?
            };
            let mut geometry = BlockGeometry::default();
            let raw = contain::call4(
                module,
                ops.geometry as usize,
                [
                    context as u64,
                    &mut geometry as *mut BlockGeometry as u64,
                    0,
                    0,
                ],
            );
            match raw {
                Ok(n) => status_result(n as u32 as i32)?,
                Err(failure) => {
                    module::fail(module, failure);
                    return Err(Errno::EIO);
                }
            };
            if geometry.block_size < 512 || !geometry.block_size.is_power_of_two() {
                return Err(Errno::EINVAL);
            }
            let disk = block::Disk::new(&geometry);
            Class::Block {
                ops,
                geometry,
                disk,
            }
        }
        _ => return Err(Errno::EINVAL),
    };
    let device = {
        let mut devices = DEVICES.lock();
        let name = node_name(name, &devices)?;
        let device = Arc::new(Device {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed) as u32,
            module,
            name,
            context,
            class: kind,
            closed: AtomicBool::new(false),
            opens: IrqMutex::new(Vec::new()),
            ino: NEXT_ID.fetch_add(1, Ordering::Relaxed) + 0x1000,
        });
        devices.push(device.clone());
        device
    };
    let node = Arc::new(DevNode {
        dev: device.clone(),
        region: None,
    });
    if let Err(e) = crate::fs::devfs().register(&device.name, node) {
        DEVICES.lock().retain(|d| !Arc::ptr_eq(d, &device));
        return Err(e);
    }
    log::info!(target: "dev", "/dev/{} registered", device.name);
    if let Class::Block { .. } = device.class {
        // The partition table is read by the work thread: reading calls the driver, which is
        // still in its `init`.
        if work::schedule_kernel(block::scan_partitions, device.id as usize).is_err() {
            log::warn!(target: "dev", "/dev/{}: partitions not scanned", device.name);
        }
    }
    Ok(device.id)
}

/// Takes `device` out of the registry and `/dev`; open files get `ENODEV` from then on.
fn remove(device: &Arc<Device>) {
    device.closed.store(true, Ordering::Release);
    block::remove_partitions(device);
    let _ = crate::fs::devfs().unregister(&device.name);
    device.wake();
}

/// Removes device `id` of `module` (the `keel_device_unregister` export).
pub fn unregister(module: ModuleId, id: u32) -> Result<(), Errno> {
    let device = {
        let mut devices = DEVICES.lock();
        let i = devices
            .iter()
            .position(|d| d.id == id && d.module == module)
            .ok_or(Errno::ENOENT)?;
        let device = devices.swap_remove(i);
        if devices.is_empty() {
            // Give the buffer back, so an idle device model holds no heap.
            *devices = Vec::new();
        }
        device
    };
    remove(&device);
    log::info!(target: "dev", "/dev/{} removed", device.name);
    Ok(())
}

/// The device `id` of `module`, for the exports the driver's interrupt handlers call.
fn find(module: ModuleId, id: u32) -> Option<Arc<Device>> {
    DEVICES
        .lock()
        .iter()
        .find(|d| d.id == id && d.module == module)
        .cloned()
}

/// Hands bytes a tty received to its readers (the `keel_tty_receive` export). Returns how many
/// it kept.
pub fn tty_receive(module: ModuleId, id: u32, data: &[u8]) -> Result<usize, Errno> {
    let device = find(module, id).ok_or(Errno::ENOENT)?;
    let Class::Tty { input, dropped, .. } = &device.class else {
        return Err(Errno::EINVAL);
    };
    if crate::console::is_backend(&device) {
        // The console's driver: its input is the console's.
        return Ok(crate::console::receive(data));
    }
    let kept = {
        let mut input = input.lock();
        let room = TTY_INPUT_MAX.saturating_sub(input.len());
        let kept = data.len().min(room);
        input.extend(&data[..kept]);
        kept
    };
    if kept < data.len() {
        dropped.fetch_add((data.len() - kept) as u64, Ordering::Relaxed);
    }
    device.wake();
    Ok(kept)
}

/// The tty device `id` of `module` (for `keel_console_claim`).
pub fn find_tty(module: ModuleId, id: u32) -> Result<Arc<Device>, Errno> {
    match find(module, id) {
        Some(d) if matches!(d.class, Class::Tty { .. }) => Ok(d),
        _ => Err(Errno::ENOENT),
    }
}

/// The devices of `module` that are open, as `rmmod` names them: `/dev/gpiochip0 (pid 7)`.
fn users_text(devices: &[Arc<Device>], module: ModuleId) -> String {
    let mut users = String::new();
    for d in devices.iter().filter(|d| d.module == module) {
        let opens = d.opens.lock();
        if opens.is_empty() {
            continue;
        }
        if !users.is_empty() {
            users.push(',');
        }
        let _ = write!(users, "/dev/{} (pid", d.name);
        for (_, pid) in opens.iter() {
            let _ = write!(users, " {pid}");
        }
        users.push(')');
    }
    users
}

/// Before `module` is removed: refuses (naming the open devices) while any of its devices is
/// open or a block device of it has a transfer running or written blocks not yet written back;
/// otherwise closes them to new opens.
pub fn begin_unload(module: ModuleId) -> Result<(), String> {
    let devices = DEVICES.lock();
    let users = users_text(&devices, module);
    if !users.is_empty() {
        return Err(users);
    }
    // `block::flush_module` ran before; a block device written or busy since is not let go (its
    // written blocks would be lost with the driver).
    if let Some(d) = devices
        .iter()
        .find(|d| d.module == module && !block::settled(d))
    {
        return Err(alloc::format!(
            "/dev/{} (written blocks not yet on the device; try again)",
            d.name
        ));
    }
    for d in devices.iter().filter(|d| d.module == module) {
        d.closed.store(true, Ordering::Release);
    }
    Ok(())
}

/// How many files hold devices of `module` open, and which (for `lsmod`).
pub fn opens_of(module: ModuleId) -> (u32, String) {
    let devices = DEVICES.lock();
    let count = devices
        .iter()
        .filter(|d| d.module == module)
        .map(|d| d.opens.lock().len() as u32)
        .sum();
    (count, users_text(&devices, module))
}

/// After `module` failed (possibly in interrupt context): its work is dropped, files still open
/// on its devices get `EIO` from now on, and its `/dev` nodes go in the work thread (the device
/// directory's lock is not taken in interrupt context).
pub fn module_failed(module: ModuleId) {
    work::forget_module(module);
    let mut has_devices = false;
    for d in DEVICES.lock().iter().filter(|d| d.module == module) {
        has_devices = true;
        d.wake();
    }
    if has_devices && work::schedule_kernel(remove_failed_nodes, module as usize).is_err() {
        log::warn!(target: "dev", "the /dev nodes of a failed module stay until it is removed");
    }
}

/// Removes the `/dev` nodes of failed module `module` and wakes whoever sleeps on them.
fn remove_failed_nodes(module: usize) {
    let module = module as ModuleId;
    let gone: Vec<Arc<Device>> = DEVICES
        .lock()
        .iter()
        .filter(|d| d.module == module)
        .cloned()
        .collect();
    for device in gone {
        block::remove_partitions(&device);
        let _ = crate::fs::devfs().unregister(&device.name);
        device.wake();
    }
}

/// When `module` is freed: removes the devices it left registered and waits out its work.
pub fn release_module(module: ModuleId) {
    work::cancel_module(module);
    let gone: Vec<Arc<Device>> = {
        let mut devices = DEVICES.lock();
        let mut gone = Vec::new();
        devices.retain(|d| {
            if d.module == module {
                gone.push(d.clone());
                false
            } else {
                true
            }
        });
        if devices.is_empty() {
            *devices = Vec::new();
        }
        gone
    };
    for device in gone {
        log::warn!(target: "dev", "/dev/{} left registered by its module: removed", device.name);
        remove(&device);
    }
}

/// Number of registered devices.
pub fn count() -> usize {
    DEVICES.lock().len()
}
