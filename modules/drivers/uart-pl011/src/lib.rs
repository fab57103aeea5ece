//! `uart-pl011`: the ARM PrimeCell UART (PL011) as `/dev/ttyAMAn`, driven by its interrupts,
//! and the console once loaded.
//!
//! - Receive: the top half (the interrupt handler) acknowledges the receive and receive-timeout
//!   interrupts, moves the receive FIFO into the RX ring and schedules the bottom half, which
//!   hands the ring to the kernel (`keel_tty_receive`: the console's line discipline while this
//!   UART is the console, the device's readers otherwise).
//! - Transmit: `write` appends to the TX ring and primes the FIFO; the transmit interrupt (FIFO
//!   at or below half full) refills it from the ring, and is masked when the ring runs dry.
//!   `flush` sends the ring by polling, for the kernel when the ring is full where it cannot wait.
//! - Line settings (`TCGETS`/`TCSETS`, `stty`): baud rate from the UART clock (divisors from
//!   `keel-pl011`), data bits, parity, stop bits.
//! - The clock: the firmware's answer where the board has one (the Raspberry Pi's mailbox: 48 MHz
//!   on hardware, 3 MHz on QEMU `raspi4b`), else the device tree's first clock (24 MHz on QEMU
//!   `virt`). Pins: where a [`PINMUX`] entry's GPIO block is in the tree (the BCM2711's), the
//!   UART's pins are switched to their function through that block's function-select registers.
//! - Console: the first UART takes the console over from the kernel's built-in driver
//!   (`console=0` leaves it alone) and hands it back on unload. Order in `init`: register
//!   `/dev/ttyAMA0`, claim the console (the kernel stops reading the FIFO), program the line,
//!   register the interrupt, unmask RX and take what waited in the FIFO. `exit` reverses it:
//!   mask, unregister the interrupt, hand the FIFO and the RX ring to the console, release (the
//!   kernel flushes the TX ring by polling), remove the node.
//! - `panic_after=N` makes `write` panic once N bytes were queued: the fault-containment tests
//!   use it to check that the console falls back to the built-in driver.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use keel_module::abi::types::Termios;
use keel_module::device::{ConsoleClaim, TtyDriver, TtyInput};
use keel_module::sync::IrqMutex;
use keel_module::tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use keel_module::tock_registers::register_structs;
use keel_module::tock_registers::registers::ReadWrite;
use keel_module::{Device, Error, IrqRegistration, IrqReturn, Mmio, PlatformDevice, Result, Work};
use keel_pl011::{Registers, CR, DR, FBRD, FR, IBRD, IFLS, INT};

keel_module::module! {
    name: "uart-pl011",
    version: "0.1.0",
    license: "MIT OR Apache-2.0",
    author: "Keel",
    description: "ARM PrimeCell UART (PL011), interrupt-driven; takes over the console",
    depends: [],
    compatible: ["arm,pl011", "brcm,bcm2711-gpio"],
    params: {
        console: u32 = 1 => "take over the console with the first UART (1) or not (0)",
        baud: u32 = 115200 => "the initial baud rate",
        panic_after: u32 = 0 => "for the fault-containment tests: panic in write once this many bytes were queued (0: never)",
    },
    init: init,
    exit: exit,
}

/// Pin routing for boards whose UART pins need a function select: the GPIO block's compatible,
/// the (TX, RX) pins, the 3-bit function code and the pull of RX (BCM2711: GPIO 14/15 to ALT0,
/// RX pulled up, as on the Raspberry Pi 4's header pins 8/10).
pub const PINMUX: &[(&str, (u32, u32), u32)] = &[("brcm,bcm2711-gpio", (14, 15), 0b100)];

register_structs! {
    /// The BCM2711 GPIO registers the pin routing touches (BCM2711 ARM Peripherals, 5.2).
    #[allow(non_snake_case)]
    GpioRegisters {
        (0x00 => GPFSEL: [ReadWrite<u32>; 6]),
        (0x18 => _reserved0),
        (0xe4 => PUP_PDN: [ReadWrite<u32>; 4]),
        (0xf4 => @END),
    }
}

/// A byte ring of `N` bytes.
struct Ring<const N: usize> {
    buf: [u8; N],
    head: usize,
    len: usize,
}

impl<const N: usize> Ring<N> {
    const fn new() -> Self {
        Ring {
            buf: [0; N],
            head: 0,
            len: 0,
        }
    }

    fn push(&mut self, b: u8) -> bool {
        if self.len == N {
            return false;
        }
        self.buf[(self.head + self.len) % N] = b;
        self.len += 1;
        true
    }

    fn pop(&mut self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        let b = self.buf[self.head];
        self.head = (self.head + 1) % N;
        self.len -= 1;
        Some(b)
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Bytes the transmit ring holds.
const TX_RING: usize = 4096;
/// Bytes the receive ring holds.
const RX_RING: usize = 1024;

/// One PL011.
struct Uart {
    regs: Mmio<Registers>,
    clock_hz: u32,
    tx: IrqMutex<Ring<TX_RING>>,
    rx: IrqMutex<Ring<RX_RING>>,
    line: IrqMutex<Termios>,
    input: spin::Once<TtyInput>,
    /// Bytes lost: receive FIFO overruns and a full RX ring.
    lost: AtomicU64,
    /// Bytes queued so far (for `panic_after`).
    queued: AtomicU64,
}

impl Uart {
    /// Moves the receive FIFO into the RX ring.
    fn drain_rx(&self) {
        let mut rx = self.rx.lock();
        while !self.regs.FR.is_set(FR::RXFE) {
            let word = self.regs.DR.extract();
            if word.is_set(DR::OE) {
                self.lost.fetch_add(1, Ordering::Relaxed);
            }
            if !rx.push(word.read(DR::DATA) as u8) {
                self.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Fills the transmit FIFO from the ring (the TX lock held); masks the transmit interrupt
    /// once the ring is empty, unmasks it while bytes wait.
    fn fill_tx(&self, tx: &mut Ring<TX_RING>) {
        while !self.regs.FR.is_set(FR::TXFF) {
            match tx.pop() {
                Some(b) => self.regs.DR.set(u32::from(b)),
                None => break,
            }
        }
        if tx.is_empty() {
            self.regs.IMSC.modify(INT::TX::CLEAR);
        } else {
            self.regs.IMSC.modify(INT::TX::SET);
        }
    }

    /// The top half.
    fn interrupt(&self, bottom: &Work) -> IrqReturn {
        let pending = self.regs.MIS.extract();
        if pending.get() == 0 {
            return IrqReturn::None;
        }
        if pending.matches_any(&[INT::RX::SET, INT::RT::SET, INT::OE::SET]) {
            // Acknowledge before draining: a byte arriving after the last read raises it again.
            self.regs.ICR.write(
                INT::RX::SET
                    + INT::RT::SET
                    + INT::OE::SET
                    + INT::FE::SET
                    + INT::PE::SET
                    + INT::BE::SET,
            );
            self.drain_rx();
            let _ = bottom.schedule();
        }
        if pending.is_set(INT::TX) {
            self.regs.ICR.write(INT::TX::SET);
            let mut tx = self.tx.lock();
            self.fill_tx(&mut tx);
        }
        IrqReturn::Handled
    }

    /// The bottom half: hands the RX ring to the kernel.
    fn deliver(&self) {
        let Some(input) = self.input.get() else {
            return;
        };
        loop {
            let mut chunk = [0u8; 64];
            let mut n = 0;
            {
                let mut rx = self.rx.lock();
                while n < chunk.len() {
                    match rx.pop() {
                        Some(b) => {
                            chunk[n] = b;
                            n += 1;
                        }
                        None => break,
                    }
                }
            }
            if n == 0 {
                break;
            }
            match input.receive(&chunk[..n]) {
                Ok(kept) if kept < n => {
                    self.lost.fetch_add((n - kept) as u64, Ordering::Relaxed);
                }
                Ok(_) => {}
                Err(_) => {
                    self.lost.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        }
    }

    /// Waits (bounded) until the transmitter is idle.
    fn wait_idle(&self) {
        let mut spins = 0u32;
        while self.regs.FR.is_set(FR::BUSY) && spins < 10_000_000 {
            spins += 1;
            core::hint::spin_loop();
        }
    }

    /// Programs the line: the baud divisors and the line control (writing LCR_H latches the
    /// divisors). The FIFOs stay enabled, so received bytes are kept.
    fn program(&self, t: &Termios) -> Result {
        let d = keel_pl011::divisors(self.clock_hz, t.baud).map_err(|_| Error::InvalidArgument)?;
        let lcr = keel_pl011::line_control(t).map_err(|_| Error::InvalidArgument)?;
        let mut tx = self.tx.lock();
        while !tx.is_empty() {
            self.fill_tx(&mut tx);
        }
        self.wait_idle();
        self.drain_rx();
        self.regs.CR.set(0);
        self.regs
            .IBRD
            .write(IBRD::BAUD_DIVINT.val(u32::from(d.integer)));
        self.regs
            .FBRD
            .write(FBRD::BAUD_DIVFRAC.val(u32::from(d.fraction)));
        self.regs.LCR_H.set(lcr);
        self.regs
            .CR
            .write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
        *self.line.lock() = Termios { lflags: 0, ..*t };
        Ok(())
    }
}

impl TtyDriver for Uart {
    fn write(&self, data: &[u8]) -> Result<usize> {
        let queued = self.queued.fetch_add(data.len() as u64, Ordering::Relaxed);
        let limit = u64::from(params::panic_after());
        if limit != 0 && queued + data.len() as u64 > limit {
            panic!("panic_after={limit}: panicking in write as asked");
        }
        let mut tx = self.tx.lock();
        let mut n = 0;
        for &b in data {
            if !tx.push(b) {
                break;
            }
            n += 1;
        }
        self.fill_tx(&mut tx);
        Ok(n)
    }

    fn line(&self) -> Result<Termios> {
        Ok(*self.line.lock())
    }

    fn set_line(&self, termios: &Termios) -> Result {
        self.program(termios)
    }

    fn flush(&self) -> Result {
        let mut tx = self.tx.lock();
        while !tx.is_empty() {
            self.fill_tx(&mut tx);
        }
        drop(tx);
        self.wait_idle();
        Ok(())
    }
}

/// What a loaded UART holds; [`exit`] drops it piece by piece, in the order that matters.
struct State {
    uart: Arc<Uart>,
    irq: Option<IrqRegistration>,
    bottom: Option<Arc<Work>>,
    console: Option<ConsoleClaim>,
    device: Option<Device<Uart>>,
}

static STATE: spin::Mutex<Option<State>> = spin::Mutex::new(None);

/// Switches the UART's pins to their function where a [`PINMUX`] GPIO block is in the tree.
fn route_pins() -> Result {
    for node in keel_module::platform::devices() {
        let Some(&(_, (tx, rx), function)) =
            PINMUX.iter().find(|(c, _, _)| *c == node.compatible())
        else {
            continue;
        };
        let (phys, size) = node.reg(0).ok_or(Error::NoDevice)?;
        // The tree's range may end before the pull registers (the BCM2835 binding's 0xb4).
        let size = (size as usize).max(core::mem::size_of::<GpioRegisters>());
        let gpio = Mmio::<GpioRegisters>::map(phys, size)?;
        for pin in [tx, rx] {
            let reg = &gpio.GPFSEL[(pin / 10) as usize];
            let shift = (pin % 10) * 3;
            reg.set((reg.get() & !(0b111 << shift)) | (function << shift));
        }
        // No pull on TX, pull-up on RX (an idle line is high).
        for (pin, pull) in [(tx, 0b00), (rx, 0b01)] {
            let reg = &gpio.PUP_PDN[(pin / 16) as usize];
            let shift = (pin % 16) * 2;
            reg.set((reg.get() & !(0b11 << shift)) | (pull << shift));
        }
        log::info!(
            "{}: GPIO {tx}/{rx} set to function {function:#05b}",
            node.path()
        );
    }
    Ok(())
}

/// The UART clock: the firmware's where there is one, else the tree's first clock.
fn clock_of(node: &PlatformDevice) -> Result<(u32, &'static str)> {
    match keel_module::firmware::clock_rate(keel_module::firmware::CLOCK_UART) {
        Ok(hz) if hz > 0 => return Ok((hz, "firmware")),
        Ok(_) | Err(Error::NoDevice) => {}
        Err(e) => log::warn!("the firmware did not give the UART clock: {e:?}"),
    }
    match node.clocks().first() {
        Some(&hz) if hz > 0 && hz <= u64::from(u32::MAX) => Ok((hz as u32, "device tree")),
        _ => Err(Error::NoDevice),
    }
}

fn init() -> Result {
    let node = keel_module::platform::devices()
        .find(|d| d.compatible() == "arm,pl011")
        .ok_or(Error::NoDevice)?;
    let (phys, size) = node.reg(0).ok_or(Error::NoDevice)?;
    let line = node.irq(0).ok_or(Error::NoDevice)?;
    let (clock_hz, clock_from) = clock_of(&node)?;
    let initial = Termios {
        lflags: 0,
        baud: params::baud(),
        data_bits: 8,
        stop_bits: 1,
        parity: 0,
        reserved: 0,
    };
    initial.check().map_err(|_| Error::InvalidArgument)?;
    route_pins()?;
    let regs = Mmio::<Registers>::map(phys, size.max(0x1000) as usize)?;
    let uart = Arc::new(Uart {
        regs,
        clock_hz,
        tx: IrqMutex::new(Ring::new()),
        rx: IrqMutex::new(Ring::new()),
        line: IrqMutex::new(initial),
        input: spin::Once::new(),
        lost: AtomicU64::new(0),
        queued: AtomicU64::new(0),
    });
    let device = Device::tty("ttyAMA#", uart.clone())?;
    uart.input.call_once(|| device.tty_input());
    // The console first: the kernel stops reading the FIFO, so from here on only this driver
    // does (bytes arriving until the handler is in wait in the FIFO or the RX ring).
    let console = if params::console() != 0 {
        match device.claim_console() {
            Ok(claim) => Some(claim),
            Err(e) => {
                log::warn!("not taking the console: {e:?}");
                None
            }
        }
    } else {
        None
    };
    // Interrupts stay masked until the handler is in.
    uart.regs.IMSC.set(0);
    uart.program(&initial)?;
    uart.regs
        .IFLS
        .write(IFLS::RXIFLSEL::OneHalf + IFLS::TXIFLSEL::OneHalf);
    let deliver = uart.clone();
    let bottom = Arc::new(Work::new(move || deliver.deliver())?);
    let top = uart.clone();
    let top_bottom = bottom.clone();
    let irq = IrqRegistration::new(line, move || top.interrupt(&top_bottom))?;
    uart.regs.ICR.write(INT::ALL::SET);
    uart.regs
        .IMSC
        .write(INT::RX::SET + INT::RT::SET + INT::OE::SET);
    {
        // Bytes that waited in the FIFO during the hand-over.
        uart.drain_rx();
        let _ = bottom.schedule();
        let mut tx = uart.tx.lock();
        uart.fill_tx(&mut tx);
    }
    log::info!(
        "{}: PL011 at {phys:#x}, interrupt {line}, clock {clock_hz} Hz ({clock_from}), {} baud{}",
        node.path(),
        params::baud(),
        if console.is_some() { ", console" } else { "" }
    );
    *STATE.lock() = Some(State {
        uart,
        irq: Some(irq),
        bottom: Some(bottom),
        console,
        device: Some(device),
    });
    Ok(())
}

fn exit() {
    let Some(mut state) = STATE.lock().take() else {
        return;
    };
    // Quiet the device, then remove the handler: the line is free for the kernel.
    state.uart.regs.IMSC.set(0);
    drop(state.irq.take());
    drop(state.bottom.take());
    // What arrived before goes to its reader now (the console's, while it is ours).
    state.uart.drain_rx();
    state.uart.deliver();
    let lost = state.uart.lost.load(Ordering::Relaxed);
    if lost > 0 {
        log::warn!("{lost} received byte(s) were lost");
    }
    // The kernel flushes the TX ring and takes the console back.
    drop(state.console.take());
    drop(state.device.take());
}
