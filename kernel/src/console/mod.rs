//! The early console: a built-in polled PL011 the kernel writes its log to from the first line on.
//!
//! Before the device tree is parsed the console uses the board table's UART address; once the tree
//! is parsed it moves to the UART named by `/chosen/stdout-path` (or the first PL011 when that path
//! names another kind of UART). A loadable interrupt-driven driver can take over later.
//!
//! Take-over: a tty driver (the `uart-pl011` module) claims the console with
//! `keel_console_claim` ([`claim`]). The kernel sends its pending output, unregisters its input
//! interrupt (bytes arriving meanwhile wait in the UART's FIFO for the driver) and from then on
//! writes through the driver's `write` (its transmit ring; `flush` when the ring is full), while
//! the driver's input reaches the console tty ([`is_backend`], checked by `keel_tty_receive`,
//! then [`receive`]: the line discipline runs in a kernel work item).
//! Reports of faults and panics, and lines the driver itself logs, still use the built-in polled
//! path. On `keel_console_release` ([`release`]), or when the driver's module fails or goes
//! ([`module_gone`]), the built-in driver takes the console back and restarts its input interrupt
//! once the driver's handler is gone.

pub mod pl011;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;

use keel_abi::Errno;

use crate::dev::Device;
use crate::irq::{IrqReturn, Registration};
use crate::module::contain::Failure;
use crate::module::ModuleId;
use crate::sync::IrqMutex;
use pl011::Pl011;

static CONSOLE: IrqMutex<Option<Pl011>> = IrqMutex::new(None);
/// Where received bytes go (in the interrupt handler).
static ON_INPUT: spin::Once<fn(&[u8])> = spin::Once::new();
/// The console UART's interrupt, once input started.
static INPUT_LINE: spin::Once<u32> = spin::Once::new();
/// The built-in input handler, while it runs.
static INPUT: IrqMutex<Option<Registration>> = IrqMutex::new(None);
/// The driver's device that owns the console, if any.
static BACKEND: IrqMutex<Option<Arc<Device>>> = IrqMutex::new(None);
/// A driver released the console (or failed) while its interrupt handler was still registered:
/// the built-in input restarts when its module's hardware is released.
static RETAKE_PENDING: IrqMutex<Option<ModuleId>> = IrqMutex::new(None);
/// The console driver whose failure is scheduled for the work thread, so that a driver failing
/// in both `write` and `flush` is failed (and reported) once.
static FAILING: IrqMutex<Option<ModuleId>> = IrqMutex::new(None);

/// Starts interrupt-driven input on the console UART, whose interrupt is `intid`; `on_input` gets
/// every received byte, in the interrupt handler.
pub fn start_input(intid: u32, on_input: fn(&[u8])) -> Result<(), crate::irq::IrqError> {
    ON_INPUT.call_once(|| on_input);
    INPUT_LINE.call_once(|| intid);
    let registration = crate::irq::register(intid, "console", None, Box::new(on_rx_interrupt))?;
    *INPUT.lock() = Some(registration);
    if let Some(uart) = CONSOLE.lock().as_mut() {
        uart.enable_rx_interrupt();
    }
    Ok(())
}

/// Moves what the UART's receive FIFO holds to the console tty.
fn drain_input() {
    let _ = on_rx_interrupt(0);
}

/// Makes tty `device` the console (`keel_console_claim`).
pub fn claim(device: Arc<Device>) -> Result<(), Errno> {
    if CONSOLE.lock().is_none() {
        return Err(Errno::ENODEV);
    }
    {
        let mut backend = BACKEND.lock();
        if backend.is_some() || RETAKE_PENDING.lock().is_some() {
            return Err(Errno::EBUSY);
        }
        // Output sent so far went out synchronously; wait until it left the UART.
        if let Some(uart) = CONSOLE.lock().as_mut() {
            uart.flush();
        }
        *backend = Some(device.clone());
    }
    // Stop the built-in input: the driver registers the line next. A byte arriving from here on
    // waits in the FIFO until the driver enables its receive interrupt.
    if let Some(uart) = CONSOLE.lock().as_mut() {
        uart.disable_interrupts();
    }
    if let Some(registration) = INPUT.lock().take() {
        let _ = crate::irq::unregister(registration);
    }
    drain_input();
    log::info!(target: "console", "console taken over by /dev/{} ({})", device.name(), device.module_name());
    Ok(())
}

/// Gives the console back from `module` (`keel_console_release`): flushes the driver's queue and
/// restarts the built-in input once the line is free.
pub fn release(module: ModuleId) -> Result<(), Errno> {
    let device = match BACKEND.lock().as_ref() {
        Some(d) if d.module() == module => d.clone(),
        _ => return Err(Errno::ENOENT),
    };
    // Everything queued goes out before the built-in driver writes again.
    if let Err(failure) = device.console_flush() {
        driver_failed(&device, failure);
        return Ok(());
    }
    *BACKEND.lock() = None;
    if let Err(failure) = device.console_flush() {
        driver_failed(&device, failure);
    }
    log::info!(target: "console", "console back on the built-in driver");
    retake_input(module);
    Ok(())
}

/// Restarts the built-in input if the line is free, or leaves it to [`module_gone`].
fn retake_input(module: ModuleId) {
    let Some(&line) = INPUT_LINE.get() else {
        return;
    };
    if INPUT.lock().is_some() {
        // Already running (the failure path and teardown may both ask).
        *RETAKE_PENDING.lock() = None;
        return;
    }
    if crate::irq::handler_count(line) > 0 {
        *RETAKE_PENDING.lock() = Some(module);
        return;
    }
    *RETAKE_PENDING.lock() = None;
    // What the driver received goes to the console before the built-in input runs again.
    deliver_received(0);
    let Some(&on_input) = ON_INPUT.get() else {
        return;
    };
    if let Err(e) = start_input(line, on_input) {
        log::warn!(target: "console", "no console input: interrupt {line}: {e}");
    }
    // Bytes that reached the FIFO while nobody listened.
    drain_input();
}

fn retake_input_work(module: usize) {
    retake_input(module as ModuleId);
}

/// After `module` failed or released its hardware (possibly in interrupt context): if it owned
/// the console, the built-in driver takes it back now (output at once; input from the work
/// thread, once the module's interrupt handler is gone).
pub fn module_gone(module: ModuleId) {
    let owned = {
        let mut backend = BACKEND.lock();
        match backend.as_ref() {
            Some(d) if d.module() == module => {
                *backend = None;
                true
            }
            _ => false,
        }
    };
    let pending = *RETAKE_PENDING.lock() == Some(module);
    if owned {
        write_bytes(b"console: the console driver is gone; back on the built-in driver\n");
    }
    if (owned || pending)
        && crate::dev::work::schedule_kernel(retake_input_work, module as usize).is_err()
    {
        write_bytes(b"console: no room in the work queue: console input stays off\n");
    }
}

/// The console's driver faulted or panicked in `write` or `flush`: the built-in driver takes
/// the console at once, and the module is failed from the work thread (this may run where the
/// module table is locked, or inside the log's lock).
fn driver_failed(device: &Device, failure: Failure) {
    // Its interrupt handlers go now (they might wait for a lock the failed call held); the rest
    // of the failure is handled in the work thread.
    crate::module::exports::release_hardware(device.module());
    {
        let mut backend = BACKEND.lock();
        if backend
            .as_ref()
            .is_some_and(|d| core::ptr::eq(Arc::as_ptr(d), device))
        {
            *backend = None;
        }
    }
    {
        let mut failing = FAILING.lock();
        if *failing == Some(device.module()) {
            return;
        }
        *failing = Some(device.module());
    }
    let panic = u64::from(failure == Failure::Panic);
    let argument = (device.module() << 1 | panic) as usize;
    if crate::dev::work::schedule_kernel(fail_driver, argument).is_err() {
        *FAILING.lock() = None;
        // No room to defer it: the module stays live but no longer owns the console.
        write_bytes(b"console: the console driver failed; back on the built-in driver\n");
    }
}

fn fail_driver(argument: usize) {
    let failure = if argument & 1 != 0 {
        Failure::Panic
    } else {
        Failure::Fault
    };
    let module = (argument >> 1) as ModuleId;
    crate::module::fail(module, failure);
    log::warn!(target: "console", "the console driver failed: the console is back on the built-in driver");
    retake_input(module);
    *FAILING.lock() = None;
}

/// Bytes the console's driver received that the console tty has not taken yet.
static RECEIVED: IrqMutex<VecDeque<u8>> = IrqMutex::new(VecDeque::new());
/// Most bytes [`RECEIVED`] holds.
const RECEIVED_MAX: usize = 4096;

/// Takes bytes the console's driver received (through `keel_tty_receive`, in the driver's
/// bottom half); returns how many it kept. The line discipline runs in the kernel's own work
/// item, outside the driver's code, so that its echo goes through the driver's transmit ring
/// in order with the rest of the output.
pub fn receive(data: &[u8]) -> usize {
    let kept = {
        let mut received = RECEIVED.lock();
        let kept = data.len().min(RECEIVED_MAX.saturating_sub(received.len()));
        received.extend(&data[..kept]);
        kept
    };
    if kept > 0 {
        // If the work queue is full, the next byte received schedules it again.
        let _ = crate::dev::work::schedule_kernel(deliver_received, 0);
    }
    kept
}

/// Hands what the console's driver received to the console tty.
fn deliver_received(_: usize) {
    loop {
        let mut chunk = [0u8; 64];
        let n = {
            let mut received = RECEIVED.lock();
            let n = received.len().min(chunk.len());
            for (slot, b) in chunk.iter_mut().zip(received.drain(..n)) {
                *slot = b;
            }
            if received.is_empty() {
                // Give the buffer back, so an idle console holds no heap.
                *received = VecDeque::new();
            }
            n
        };
        if n == 0 {
            break;
        }
        if let Some(f) = ON_INPUT.get() {
            f(&chunk[..n]);
        }
    }
}

/// Whether the tty `device` feeds the console.
pub fn is_backend(device: &Device) -> bool {
    BACKEND
        .lock()
        .as_ref()
        .is_some_and(|d| core::ptr::eq(Arc::as_ptr(d), device))
}

/// The device owning the console, if a driver does.
pub fn backend() -> Option<Arc<Device>> {
    BACKEND.lock().clone()
}

/// How a console writer may wait while its bytes go out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// Anywhere (a log line, an interrupt handler, under a lock): the driver's ring is flushed by
    /// polling when it is full.
    Polled,
    /// A system call with no lock held: interrupts are let in between chunks, and a full ring
    /// waits for the driver's transmit interrupt ([`crate::sync::interrupt_window`]), yielding
    /// the core when the time slice ends.
    Interruptible,
}

/// Bytes the built-in driver sends with its lock held before an interruptible writer lets
/// interrupts in (a few milliseconds at 115200 baud).
const POLLED_CHUNK: usize = 64;

/// Writes through the driver that owns the console, if one does and this is not its own code
/// running (its oops or its log lines, which might find its locks held); `false` when the caller
/// must use the built-in path.
fn write_backend(bytes: &[u8], waiting: Waiting) -> bool {
    let Some(device) = BACKEND.lock().clone() else {
        return false;
    };
    if crate::module::contain::current_module() == Some(device.module()) {
        return false;
    }
    let mut line = [0u8; 128];
    let mut rest = bytes;
    while !rest.is_empty() {
        // `\n` becomes `\r\n`, in chunks.
        let mut n = 0;
        let mut used = 0;
        for &b in rest {
            if n + 2 > line.len() {
                break;
            }
            if b == b'\n' {
                line[n] = b'\r';
                n += 1;
            }
            line[n] = b;
            n += 1;
            used += 1;
        }
        let mut chunk = &line[..n];
        while !chunk.is_empty() {
            let sent = device.console_write(chunk).and_then(|sent| {
                if sent == 0 {
                    match waiting {
                        Waiting::Polled => device.console_flush()?,
                        Waiting::Interruptible => {
                            // The transmit interrupt makes room (or the tick ends the wait); a
                            // slice that ended meanwhile gives the core to the others, as a
                            // sleep would.
                            crate::sync::wait_for_interrupt_window();
                            if crate::sched::need_resched() {
                                crate::sched::schedule();
                            }
                        }
                    }
                }
                Ok(sent)
            });
            match sent {
                Ok(sent) => chunk = &chunk[sent.min(chunk.len())..],
                Err(failure) => {
                    driver_failed(&device, failure);
                    break;
                }
            }
        }
        if !chunk.is_empty() {
            // The driver failed (it is gone now): the rest goes out the built-in way.
            if let Some(uart) = CONSOLE.lock().as_mut() {
                for &b in chunk {
                    uart.write_byte(b);
                }
                put(uart, &rest[used..]);
            }
            return true;
        }
        rest = &rest[used..];
        if waiting == Waiting::Interruptible {
            crate::sync::interrupt_window();
        }
    }
    true
}

fn on_rx_interrupt(_intid: u32) -> IrqReturn {
    let mut buf = [0u8; 64];
    loop {
        let mut n = 0;
        if let Some(uart) = CONSOLE.lock().as_mut() {
            // Acknowledge before draining: a byte arriving after the last read raises the
            // interrupt again. Acknowledging after draining could clear the interrupt of such a
            // byte, leaving it (and all input after it) stuck in the FIFO.
            uart.ack_rx();
            while n < buf.len() {
                match uart.read_byte() {
                    Some(b) => {
                        buf[n] = b;
                        n += 1;
                    }
                    None => break,
                }
            }
        }
        if n == 0 {
            break;
        }
        if let Some(f) = ON_INPUT.get() {
            f(&buf[..n]);
        }
    }
    IrqReturn::Handled
}

/// Points the console at a PL011 mapped at `base`, programming it for `baud` from `clock_hz`
/// (0 keeps the firmware's divisors).
///
/// # Safety
/// `base` must be the virtual address of a mapped PL011 register block.
pub unsafe fn attach_pl011(base: usize, clock_hz: u32, baud: u32) {
    let mut guard = CONSOLE.lock();
    if let Some(old) = guard.as_mut() {
        old.flush();
    }
    // SAFETY: forwarded from the caller.
    let mut uart = unsafe { Pl011::new(base) };
    uart.init(clock_hz, baud);
    *guard = Some(uart);
}

fn put(uart: &mut Pl011, bytes: &[u8]) {
    for &b in bytes {
        if b == b'\n' {
            uart.write_byte(b'\r');
        }
        uart.write_byte(b);
    }
}

/// Writes bytes to the console, turning `\n` into `\r\n`. Does nothing before a console exists.
/// Interrupts on this core wait until the bytes are queued (or sent, on the built-in driver):
/// for short writes, from any context.
pub fn write_bytes(bytes: &[u8]) {
    if write_backend(bytes, Waiting::Polled) {
        return;
    }
    if let Some(uart) = CONSOLE.lock().as_mut() {
        put(uart, bytes);
    }
}

/// As [`write_bytes`], for a system call writing to the console tty, with no lock held: the
/// bytes go out in bounded chunks with interrupts let in between them, and a full transmit ring
/// waits for the driver's interrupt instead of being flushed by polling. The caller's bytes stay
/// in order; a kernel log line written meanwhile (by an interrupt handler or another core) may
/// come between two chunks, never inside a line of its own.
pub fn write_bytes_interruptible(bytes: &[u8]) {
    if write_backend(bytes, Waiting::Interruptible) {
        return;
    }
    for chunk in bytes.chunks(POLLED_CHUNK) {
        if let Some(uart) = CONSOLE.lock().as_mut() {
            put(uart, chunk);
        }
        crate::sync::interrupt_window();
    }
}

/// Writes bytes even if the console lock is held (for fault and panic reports, which may interrupt a
/// writer on this core).
pub fn write_bytes_emergency(bytes: &[u8]) {
    // SAFETY: reports are printed on the way to stopping; forcing the lock only risks interleaving
    // output with the writer this report interrupted.
    if let Some(uart) = unsafe { CONSOLE.force_lock() }.as_mut() {
        put(uart, bytes);
    }
}

/// Waits until all written bytes have left the UART.
pub fn flush() {
    if let Some(device) = backend() {
        if crate::module::contain::current_module() != Some(device.module()) {
            if let Err(failure) = device.console_flush() {
                driver_failed(&device, failure);
            }
        }
    }
    if let Some(uart) = CONSOLE.lock().as_mut() {
        uart.flush();
    }
}

/// A `core::fmt::Write` sink for the console.
pub struct Writer {
    /// Bypass the console lock (fault and panic reports).
    pub emergency: bool,
}

impl core::fmt::Write for Writer {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        if self.emergency {
            write_bytes_emergency(s.as_bytes());
        } else {
            write_bytes(s.as_bytes());
        }
        Ok(())
    }
}
