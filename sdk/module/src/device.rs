//! Devices: a driver implements the safe trait of its class ([`GpioChip`], [`TtyDriver`],
//! [`BlockDevice`]) and registers it; the SDK builds the class's `#[repr(C)]` operation table
//! (`keel_abi::device`) from the trait and the kernel creates the `/dev` node.
//!
//! The kernel calls the trait's methods when programs use the node, each through its
//! containment entry: a panic or fault in a method fails the module, and the node's users get
//! `EIO`. Methods must not block; they run in thread context with interrupts enabled, possibly on
//! several cores at once (hence `Sync`).
//!
//! ```ignore
//! let chip = alloc::sync::Arc::new(MyChip::new(registers));
//! let device = keel_module::device::Device::gpio("gpiochip#", chip.clone())?; // /dev/gpiochip0
//! let events = device.gpio_events(); // for the interrupt handler
//! // keep `device` in the driver's state; dropping it removes /dev/gpiochip0
//! ```

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::ffi::c_void;

use keel_abi::device::{
    BlockGeometry, BlockOps, GpioOps, OpsHeader, TtyOps, BLOCK_OPS_VERSION, GPIO_EDGE_FALLING,
    GPIO_EDGE_RISING, GPIO_FEATURE_LEVEL_EVENTS, GPIO_LEVEL_HIGH, GPIO_LEVEL_LOW, GPIO_OPS_VERSION,
    GPIO_OUTPUT, GPIO_PULL_DOWN, GPIO_PULL_NONE, GPIO_PULL_UP, TTY_OPS_VERSION,
};
use keel_abi::module::device_class;
use keel_abi::types::Termios;

use crate::{rt, sys, Error, Result};

/// The direction of a GPIO line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The line is read.
    Input,
    /// The line is driven; the level to drive first.
    Output(bool),
}

/// The bias of a GPIO line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pull {
    /// Floating.
    None,
    /// Pulled up.
    Up,
    /// Pulled down.
    Down,
}

/// Which edges or level of a GPIO line raise events. The kernel sets either edges or one level,
/// never both, and levels only for a chip whose [`GpioChip::LEVEL_EVENTS`] is `true`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edges {
    /// Low-to-high transitions.
    pub rising: bool,
    /// High-to-low transitions.
    pub falling: bool,
    /// The line being high (level detection).
    pub high: bool,
    /// The line being low (level detection).
    pub low: bool,
}

impl Edges {
    /// No edges: events off.
    pub const NONE: Edges = Edges {
        rising: false,
        falling: false,
        high: false,
        low: false,
    };

    fn from_bits(bits: u32) -> Edges {
        Edges {
            rising: bits & GPIO_EDGE_RISING != 0,
            falling: bits & GPIO_EDGE_FALLING != 0,
            high: bits & GPIO_LEVEL_HIGH != 0,
            low: bits & GPIO_LEVEL_LOW != 0,
        }
    }
}

/// One event a GPIO line saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// Low to high.
    Rising,
    /// High to low.
    Falling,
    /// The line is high (level detection fired; the driver has turned it off for the line).
    High,
    /// The line is low (level detection fired; the driver has turned it off for the line).
    Low,
}

/// A GPIO controller. Line numbers passed in are always below [`GpioChip::lines`] (the kernel
/// checks them).
pub trait GpioChip: Send + Sync + 'static {
    /// The number of lines.
    fn lines(&self) -> u32;
    /// Makes `line` an input or an output.
    fn set_direction(&self, line: u32, direction: Direction) -> Result;
    /// The level of `line`.
    fn get(&self, line: u32) -> Result<bool>;
    /// Drives output `line` high or low.
    fn set(&self, line: u32, high: bool) -> Result;
    /// Sets the bias of `line`; controllers without pulls keep the default
    /// ([`Error::InvalidArgument`]).
    fn set_pull(&self, line: u32, pull: Pull) -> Result {
        let _ = (line, pull);
        Err(Error::InvalidArgument)
    }
    /// Whether [`GpioChip::set_events`] can detect levels ([`Edges::high`], [`Edges::low`]).
    /// The kernel passes levels only to a chip that says so; waiting for a level on another
    /// fails with `EOPNOTSUPP`.
    const LEVEL_EVENTS: bool = false;
    /// Enables interrupts on `edges` of `line` ([`Edges::NONE`] disables them), replacing the
    /// previous setting; the interrupt handler reports them with [`GpioEvents::report`]. A level
    /// ([`Edges::high`] or [`Edges::low`], only if [`GpioChip::LEVEL_EVENTS`]) fires while the
    /// line is at it: the handler must turn the line's level detection off before reporting
    /// ([`Edge::High`], [`Edge::Low`]), or the interrupt would repeat; the kernel calls
    /// `set_events` again when a program waits again. Controllers without line interrupts keep
    /// the default ([`Error::NotImplemented`]).
    fn set_events(&self, line: u32, edges: Edges) -> Result {
        let _ = (line, edges);
        Err(Error::NotImplemented)
    }
    /// A program opened the device.
    fn open(&self) -> Result {
        Ok(())
    }
    /// A program closed the device.
    fn close(&self) {}
}

/// A serial terminal. Received bytes go to the kernel with [`TtyInput::receive`], usually from
/// the interrupt handler (or its bottom half).
pub trait TtyDriver: Send + Sync + 'static {
    /// Queues bytes for sending; returns how many it took (0 when the transmitter is full).
    /// For a device that [claims the console](Device::claim_console) it is also called in
    /// interrupt context with interrupts masked, and must not log.
    fn write(&self, data: &[u8]) -> Result<usize>;
    /// The line settings (baud rate, data bits, stop bits, parity; `lflags` 0). Terminals
    /// without a physical line keep the default, 115200 8N1.
    fn line(&self) -> Result<Termios> {
        Ok(Termios {
            lflags: 0,
            ..Termios::CONSOLE
        })
    }
    /// Applies line settings the kernel has checked ([`Termios::check`]); a rate the hardware
    /// cannot make is [`Error::InvalidArgument`]. Terminals without a physical line keep the
    /// default, which accepts anything.
    fn set_line(&self, termios: &Termios) -> Result {
        let _ = termios;
        Ok(())
    }
    /// Sends everything queued before returning, by polling (interrupts may be masked); must not
    /// log. Terminals without a transmitter queue keep the default.
    fn flush(&self) -> Result {
        Ok(())
    }
    /// A program opened the device.
    fn open(&self) -> Result {
        Ok(())
    }
    /// A program closed the device.
    fn close(&self) {}
}

/// A block device of fixed-size blocks.
///
/// A device that moves blocks within the call (a RAM disk) implements [`BlockDevice::read`] and
/// [`BlockDevice::write`]. A device whose transfers end by interrupt (an SD card) implements
/// [`BlockDevice::start`] instead: it keeps the [`BlockRequest`], returns
/// [`Transfer::Started`], and its interrupt handler hands the request back with
/// [`BlockCompletion::complete`]; the kernel sleeps meanwhile, and after
/// `keel_abi::device::BLOCK_TRANSFER_TIMEOUT_MS` calls [`BlockDevice::abort`].
pub trait BlockDevice: Send + Sync + 'static {
    /// The block size (a power of two, at least 512) and the number of blocks.
    fn geometry(&self) -> Result<BlockGeometry>;
    /// Reads whole blocks from block `lba` into `buf` (a multiple of the block size). The
    /// default says [`Error::NotImplemented`] (for a driver that overrides
    /// [`BlockDevice::start`]).
    fn read(&self, lba: u64, buf: &mut [u8]) -> Result {
        let _ = (lba, buf);
        Err(Error::NotImplemented)
    }
    /// Writes whole blocks from `buf` at block `lba`; the default as for
    /// [`BlockDevice::read`].
    fn write(&self, lba: u64, buf: &[u8]) -> Result {
        let _ = (lba, buf);
        Err(Error::NotImplemented)
    }
    /// Starts a transfer. The default runs it within the call through [`BlockDevice::read`] or
    /// [`BlockDevice::write`] and answers [`Transfer::Done`].
    fn start(&self, mut request: BlockRequest) -> Result<Transfer> {
        let lba = request.lba();
        if request.is_write() {
            self.write(lba, request.bytes())?;
        } else {
            let buf = request.bytes_mut().ok_or(Error::InvalidArgument)?;
            self.read(lba, buf)?;
        }
        Ok(Transfer::Done)
    }
    /// Gives up the started transfer: after this returns the driver must hold no
    /// [`BlockRequest`] (drop it unanswered). The default does nothing.
    fn abort(&self) {}
    /// A program opened the device.
    fn open(&self) -> Result {
        Ok(())
    }
    /// A program closed the device.
    fn close(&self) {}
}

/// How [`BlockDevice::start`] answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    /// The transfer finished within the call.
    Done,
    /// The driver started it, keeps the request and ends it with [`BlockCompletion::complete`].
    Started,
}

/// One block transfer: a run of whole blocks from block `lba`, and the kernel's buffer for
/// them. The buffer stays valid until the request is handed back with
/// [`BlockCompletion::complete`], or dropped in [`BlockDevice::abort`]; the request is the
/// driver's only way to reach it.
#[derive(Debug)]
pub struct BlockRequest {
    lba: u64,
    buf: *mut u8,
    len: usize,
    write: bool,
}

// SAFETY: the buffer belongs to the kernel's waiting thread, which does not touch it until the
// request is completed or aborted; the request may move to the interrupt handler's core.
unsafe impl Send for BlockRequest {}

impl BlockRequest {
    /// The first block.
    pub fn lba(&self) -> u64 {
        self.lba
    }

    /// The transfer's length in bytes (whole blocks).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the transfer moves no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the blocks go to the device (a write) rather than from it.
    pub fn is_write(&self) -> bool {
        self.write
    }

    /// The buffer: the bytes to write, or where read bytes go.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the kernel passed `len` bytes at `buf` that stay valid and untouched by it while
        // the request lives (see the type's documentation).
        unsafe { core::slice::from_raw_parts(self.buf, self.len) }
    }

    /// The buffer to fill, for a read; `None` for a write (its buffer is the kernel's data to
    /// send, which the driver must not change).
    pub fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        if self.write {
            return None;
        }
        // SAFETY: as in `bytes`; `&mut self` makes this the only reference, and a read's buffer
        // is writable kernel memory.
        Some(unsafe { core::slice::from_raw_parts_mut(self.buf, self.len) })
    }
}

/// Ends the started transfers of one block device; cheap to copy into an interrupt handler.
#[derive(Clone, Copy, Debug)]
pub struct BlockCompletion {
    id: u32,
}

impl BlockCompletion {
    /// Hands `request` back with its result, waking the thread waiting for it. Callable from an
    /// interrupt handler.
    pub fn complete(&self, request: BlockRequest, result: Result) {
        // The request is consumed: the driver cannot reach the buffer once the kernel may.
        let BlockRequest { .. } = request;
        let status = match result {
            Ok(()) => 0,
            Err(error) => error.to_status(),
        };
        // SAFETY: no pointers are passed.
        let _ = unsafe { sys::keel_block_complete(rt::handle(), self.id, status) };
    }
}

fn status(result: Result) -> i32 {
    match result {
        Ok(()) => 0,
        Err(error) => error.to_status(),
    }
}

/// The driver behind `context`.
///
/// # Safety
/// `context` must be the `Arc::into_raw` pointer a [`Device`] of `T` registered and still holds.
unsafe fn driver<'a, T>(context: *mut c_void) -> &'a T {
    // SAFETY: guaranteed by the caller: the device holds the `Arc` until after unregistering.
    unsafe { &*context.cast::<T>() }
}

macro_rules! common_ops {
    ($trait:ident, $open:ident, $close:ident) => {
        unsafe extern "C" fn $open<T: $trait>(context: *mut c_void) -> i32 {
            // SAFETY: the kernel passes back the context registered with this table.
            status(unsafe { driver::<T>(context) }.open())
        }
        unsafe extern "C" fn $close<T: $trait>(context: *mut c_void) {
            // SAFETY: as for open.
            unsafe { driver::<T>(context) }.close()
        }
    };
}

common_ops!(GpioChip, gpio_open, gpio_close);
common_ops!(TtyDriver, tty_open, tty_close);
common_ops!(BlockDevice, block_open, block_close);

unsafe extern "C" fn gpio_lines<T: GpioChip>(context: *mut c_void) -> i32 {
    // SAFETY: the kernel passes back the context registered with this table.
    let lines = unsafe { driver::<T>(context) }.lines();
    i32::try_from(lines).unwrap_or(Error::InvalidArgument.to_status())
}

unsafe extern "C" fn gpio_direction<T: GpioChip>(
    context: *mut c_void,
    line: u32,
    direction: u32,
    value: u32,
) -> i32 {
    let direction = if direction == GPIO_OUTPUT {
        Direction::Output(value != 0)
    } else {
        Direction::Input
    };
    // SAFETY: as in `gpio_lines`.
    status(unsafe { driver::<T>(context) }.set_direction(line, direction))
}

unsafe extern "C" fn gpio_get<T: GpioChip>(context: *mut c_void, line: u32) -> i32 {
    // SAFETY: as in `gpio_lines`.
    match unsafe { driver::<T>(context) }.get(line) {
        Ok(high) => i32::from(high),
        Err(error) => error.to_status(),
    }
}

unsafe extern "C" fn gpio_set<T: GpioChip>(context: *mut c_void, line: u32, value: u32) -> i32 {
    // SAFETY: as in `gpio_lines`.
    status(unsafe { driver::<T>(context) }.set(line, value != 0))
}

unsafe extern "C" fn gpio_pull<T: GpioChip>(context: *mut c_void, line: u32, pull: u32) -> i32 {
    let pull = match pull {
        GPIO_PULL_NONE => Pull::None,
        GPIO_PULL_UP => Pull::Up,
        GPIO_PULL_DOWN => Pull::Down,
        _ => return Error::InvalidArgument.to_status(),
    };
    // SAFETY: as in `gpio_lines`.
    status(unsafe { driver::<T>(context) }.set_pull(line, pull))
}

unsafe extern "C" fn gpio_events<T: GpioChip>(context: *mut c_void, line: u32, edges: u32) -> i32 {
    // SAFETY: as in `gpio_lines`.
    status(unsafe { driver::<T>(context) }.set_events(line, Edges::from_bits(edges)))
}

unsafe extern "C" fn tty_write<T: TtyDriver>(
    context: *mut c_void,
    buf: *const u8,
    len: usize,
) -> isize {
    // SAFETY: the kernel passes `len` readable bytes of its own at `buf`.
    let data = unsafe { core::slice::from_raw_parts(buf, len) };
    // SAFETY: as in `gpio_lines`.
    match unsafe { driver::<T>(context) }.write(data) {
        Ok(n) => n.min(len) as isize,
        Err(error) => error.to_status() as isize,
    }
}

unsafe extern "C" fn tty_get_line<T: TtyDriver>(
    context: *mut c_void,
    termios: *mut Termios,
) -> i32 {
    // SAFETY: as in `gpio_lines`.
    match unsafe { driver::<T>(context) }.line() {
        Ok(t) => {
            // SAFETY: the kernel passes a valid, aligned `Termios` of its own.
            unsafe { termios.write(Termios { lflags: 0, ..t }) };
            0
        }
        Err(error) => error.to_status(),
    }
}

unsafe extern "C" fn tty_set_line<T: TtyDriver>(
    context: *mut c_void,
    termios: *const Termios,
) -> i32 {
    // SAFETY: the kernel passes a valid, aligned `Termios` of its own.
    let termios = unsafe { termios.read() };
    // SAFETY: as in `gpio_lines`.
    status(unsafe { driver::<T>(context) }.set_line(&termios))
}

unsafe extern "C" fn tty_flush<T: TtyDriver>(context: *mut c_void) -> i32 {
    // SAFETY: as in `gpio_lines`.
    status(unsafe { driver::<T>(context) }.flush())
}

unsafe extern "C" fn block_geometry<T: BlockDevice>(
    context: *mut c_void,
    geometry: *mut BlockGeometry,
) -> i32 {
    // SAFETY: as in `gpio_lines`.
    match unsafe { driver::<T>(context) }.geometry() {
        Ok(g) => {
            // SAFETY: the kernel passes a valid, aligned `BlockGeometry` of its own.
            unsafe { geometry.write(g) };
            0
        }
        Err(error) => error.to_status(),
    }
}

/// Starts a transfer of `count` blocks at `lba` through the driver's [`BlockDevice::start`].
///
/// # Safety
/// `context` as in `driver`; the kernel passes a buffer of `count` whole blocks of its own at
/// `buf`, which it leaves alone until the transfer completes or is aborted.
unsafe fn block_start<T: BlockDevice>(
    context: *mut c_void,
    lba: u64,
    buf: *mut u8,
    count: u32,
    write: bool,
) -> i32 {
    // SAFETY: as in `gpio_lines`.
    let dev = unsafe { driver::<T>(context) };
    let len = match dev.geometry().and_then(|g| {
        (g.block_size as usize)
            .checked_mul(count as usize)
            .ok_or(Error::InvalidArgument)
    }) {
        Ok(len) => len,
        Err(error) => return error.to_status(),
    };
    let request = BlockRequest {
        lba,
        buf,
        len,
        write,
    };
    match dev.start(request) {
        Ok(Transfer::Done) => 0,
        Ok(Transfer::Started) => -(keel_abi::Errno::EINPROGRESS.0 as i32),
        Err(error) => error.to_status(),
    }
}

unsafe extern "C" fn block_read<T: BlockDevice>(
    context: *mut c_void,
    lba: u64,
    buf: *mut u8,
    count: u32,
) -> i32 {
    // SAFETY: forwarded from the kernel's call.
    unsafe { block_start::<T>(context, lba, buf, count, false) }
}

unsafe extern "C" fn block_write<T: BlockDevice>(
    context: *mut c_void,
    lba: u64,
    buf: *const u8,
    count: u32,
) -> i32 {
    // SAFETY: forwarded from the kernel's call; a write request only reads the buffer.
    unsafe { block_start::<T>(context, lba, buf.cast_mut(), count, true) }
}

unsafe extern "C" fn block_abort<T: BlockDevice>(context: *mut c_void) {
    // SAFETY: as in `gpio_lines`.
    unsafe { driver::<T>(context) }.abort()
}

fn header<T>(class: u32, version: u32) -> OpsHeader {
    OpsHeader {
        class,
        version,
        size: core::mem::size_of::<T>() as u32,
        features: 0,
    }
}

/// A device registered with the kernel: its `/dev` node exists for as long as the value lives.
/// Dropping it removes the node; files still open on it get `ENODEV`.
pub struct Device<T: Send + Sync + 'static> {
    id: u32,
    driver: *const T,
    /// The operation table (the kernel copies it, but keeps the functions it points to).
    _ops: Box<dyn core::any::Any + Send + Sync>,
}

impl<T: Send + Sync + 'static> Device<T> {
    fn register<O: Send + Sync + 'static>(
        class: u32,
        name: &str,
        driver: Arc<T>,
        ops: O,
    ) -> Result<Device<T>> {
        let ops = Box::new(ops);
        let context = Arc::into_raw(driver);
        let mut id = 0u32;
        // SAFETY: `ops` is the class's table and stays alive in the returned value; `context`
        // stays alive until after the kernel forgets it (in `drop`); `id` is writable.
        let status = unsafe {
            sys::keel_device_register(
                rt::handle(),
                class,
                name.as_ptr(),
                name.len(),
                (&*ops as *const O).cast::<c_void>(),
                context.cast_mut().cast::<c_void>(),
                &mut id,
            )
        };
        if let Err(error) = Error::check(status) {
            // SAFETY: the kernel refused the device and holds no copy of `context`.
            drop(unsafe { Arc::from_raw(context) });
            return Err(error);
        }
        Ok(Device {
            id,
            driver: context,
            _ops: ops,
        })
    }

    /// The kernel's id of the device.
    pub fn id(&self) -> u32 {
        self.id
    }
}

impl<T: GpioChip> Device<T> {
    /// Registers a GPIO controller as `/dev/NAME`; a `name` ending in `#` is numbered by the
    /// kernel (`gpiochip#` becomes the first free `gpiochipN`).
    ///
    /// Errors: [`Error::Exists`] (name taken), [`Error::InvalidArgument`] (bad name, no lines).
    pub fn gpio(name: &str, chip: Arc<T>) -> Result<Device<T>> {
        let ops = GpioOps {
            header: OpsHeader {
                features: if T::LEVEL_EVENTS {
                    GPIO_FEATURE_LEVEL_EVENTS
                } else {
                    0
                },
                ..header::<GpioOps>(device_class::GPIO, GPIO_OPS_VERSION)
            },
            open: gpio_open::<T>,
            close: gpio_close::<T>,
            lines: gpio_lines::<T>,
            direction: gpio_direction::<T>,
            get: gpio_get::<T>,
            set: gpio_set::<T>,
            pull: gpio_pull::<T>,
            events: gpio_events::<T>,
        };
        Self::register(device_class::GPIO, name, chip, ops)
    }

    /// What the interrupt handler reports edges through.
    pub fn gpio_events(&self) -> GpioEvents {
        GpioEvents { id: self.id }
    }
}

impl<T: TtyDriver> Device<T> {
    /// Registers a serial terminal as `/dev/NAME` (`ttyS#` is numbered as for [`Device::gpio`]).
    pub fn tty(name: &str, driver: Arc<T>) -> Result<Device<T>> {
        let ops = TtyOps {
            header: header::<TtyOps>(device_class::TTY, TTY_OPS_VERSION),
            open: tty_open::<T>,
            close: tty_close::<T>,
            write: tty_write::<T>,
            get_line: tty_get_line::<T>,
            set_line: tty_set_line::<T>,
            flush: tty_flush::<T>,
        };
        Self::register(device_class::TTY, name, driver, ops)
    }

    /// What the interrupt handler hands received bytes to.
    pub fn tty_input(&self) -> TtyInput {
        TtyInput { id: self.id }
    }

    /// Makes this terminal the console (`keel_console_claim`): the kernel's output goes through
    /// [`TtyDriver::write`] and what the device receives feeds `/dev/console`, until the
    /// returned value is dropped. Claim before registering the UART's interrupt (the kernel's
    /// built-in console frees the line), and drop after unregistering it, once what was received
    /// is handed over.
    ///
    /// Errors: [`Error::Busy`] (another driver owns the console), [`Error::NoDevice`] (no
    /// built-in console to take over).
    pub fn claim_console(&self) -> Result<ConsoleClaim> {
        // SAFETY: no pointers are passed.
        Error::check(unsafe { sys::keel_console_claim(rt::handle(), self.id) })?;
        Ok(ConsoleClaim { _private: () })
    }
}

/// The console, owned by one of this module's terminals; dropping it hands the console back to
/// the kernel's built-in driver.
pub struct ConsoleClaim {
    _private: (),
}

impl Drop for ConsoleClaim {
    fn drop(&mut self) {
        // SAFETY: no pointers are passed. The only error is "not the owner", which a failed
        // module's claim (already taken back by the kernel) may see.
        let _ = unsafe { sys::keel_console_release(rt::handle()) };
    }
}

impl<T: BlockDevice> Device<T> {
    /// Registers a block device as `/dev/NAME` (`mmcblk#` is numbered as for [`Device::gpio`]).
    pub fn block(name: &str, driver: Arc<T>) -> Result<Device<T>> {
        let ops = BlockOps {
            header: header::<BlockOps>(device_class::BLOCK, BLOCK_OPS_VERSION),
            open: block_open::<T>,
            close: block_close::<T>,
            geometry: block_geometry::<T>,
            read: block_read::<T>,
            write: block_write::<T>,
            abort: block_abort::<T>,
        };
        Self::register(device_class::BLOCK, name, driver, ops)
    }

    /// What the interrupt handler ends started transfers with.
    pub fn block_completion(&self) -> BlockCompletion {
        BlockCompletion { id: self.id }
    }
}

impl<T: Send + Sync + 'static> Drop for Device<T> {
    fn drop(&mut self) {
        // SAFETY: `id` names the device registered in `register`.
        let status = unsafe { sys::keel_device_unregister(rt::handle(), self.id) };
        if matches!(Error::check(status), Ok(()) | Err(Error::NotFound)) {
            // SAFETY: the kernel no longer calls the driver through `context` (it was removed
            // now, or already when the module was failed); this is the `Arc` `register` leaked.
            drop(unsafe { Arc::from_raw(self.driver) });
        }
    }
}

// SAFETY: `driver` is an `Arc<T>` with `T: Send + Sync`; the rest are plain values.
unsafe impl<T: Send + Sync + 'static> Send for Device<T> {}
// SAFETY: as for `Send`; no method mutates through `&self`.
unsafe impl<T: Send + Sync + 'static> Sync for Device<T> {}

/// Reports GPIO events of one device to the kernel; cheap to copy into an interrupt handler.
#[derive(Clone, Copy, Debug)]
pub struct GpioEvents {
    id: u32,
}

impl GpioEvents {
    /// Reports an edge or a level on `line`; waiters on it wake up. Callable from an interrupt
    /// handler. Events of lines nobody waits for are dropped by the kernel.
    pub fn report(&self, line: u32, edge: Edge) -> Result {
        let edge = match edge {
            Edge::Rising => GPIO_EDGE_RISING,
            Edge::Falling => GPIO_EDGE_FALLING,
            Edge::High => GPIO_LEVEL_HIGH,
            Edge::Low => GPIO_LEVEL_LOW,
        };
        // SAFETY: no pointers are passed.
        Error::check(unsafe { sys::keel_gpio_event(rt::handle(), self.id, line, edge) })
    }
}

/// Hands received bytes of one tty to the kernel; cheap to copy into an interrupt handler.
#[derive(Clone, Copy, Debug)]
pub struct TtyInput {
    id: u32,
}

impl TtyInput {
    /// Queues `data` for readers; returns how many bytes the kernel kept (the rest did not fit).
    /// Callable from an interrupt handler.
    pub fn receive(&self, data: &[u8]) -> Result<usize> {
        // SAFETY: `data` is valid for `len` bytes during the call.
        let status =
            unsafe { sys::keel_tty_receive(rt::handle(), self.id, data.as_ptr(), data.len()) };
        Error::check(status.min(0))?;
        Ok(status as usize)
    }
}
