//! The early console: a built-in polled PL011 the kernel writes its log to from the first line on.
//!
//! Before the device tree is parsed the console uses the board table's UART address; once the tree
//! is parsed it moves to the UART named by `/chosen/stdout-path` (or the first PL011 when that path
//! names another kind of UART). A loadable interrupt-driven driver can take over later.

pub mod pl011;

use alloc::boxed::Box;

use crate::irq::IrqReturn;
use crate::sync::IrqMutex;
use pl011::Pl011;

static CONSOLE: IrqMutex<Option<Pl011>> = IrqMutex::new(None);
/// Where received bytes go (in the interrupt handler).
static ON_INPUT: spin::Once<fn(&[u8])> = spin::Once::new();

/// Starts interrupt-driven input on the console UART, whose interrupt is `intid`; `on_input` gets
/// every received byte, in the interrupt handler.
pub fn start_input(intid: u32, on_input: fn(&[u8])) -> Result<(), crate::irq::IrqError> {
    ON_INPUT.call_once(|| on_input);
    crate::irq::register(intid, "console", None, Box::new(on_rx_interrupt))?;
    if let Some(uart) = CONSOLE.lock().as_mut() {
        uart.enable_rx_interrupt();
    }
    Ok(())
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
pub fn write_bytes(bytes: &[u8]) {
    if let Some(uart) = CONSOLE.lock().as_mut() {
        put(uart, bytes);
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
