//! `gpio-pl061`: the Arm PrimeCell GPIO controller (PL061), eight lines with direction, data,
//! edge and level interrupts, as `/dev/gpiochipN`. On QEMU `virt` its line 3 is the power button
//! (`system_powerdown` in the monitor raises it).
//!
//! Reference: ARM PrimeCell General Purpose Input/Output (PL061) Technical Reference Manual
//! (DDI 0190B), chapter 3 "Programmers' Model".
//!
//! Edges are sensed with GPIOIS = 0 (GPIOIBE for both, else GPIOIEV = 1 for rising), levels with
//! GPIOIS = 1 (GPIOIEV = 1 for high). The interrupt handler is the top half: it reads the masked
//! interrupt status, masks (GPIOIE) the lines whose level fired, which would interrupt again
//! while they stay at it, clears the status, reports each event to the kernel (which wakes
//! `GPIO_WAIT_EVENT` and re-arms a level at the next wait) and schedules the bottom half, which
//! logs the events from the kernel's work thread.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};

use keel_module::device::{Direction, Edge, Edges, GpioChip, GpioEvents};
use keel_module::irq::IrqLock;
use keel_module::tock_registers::interfaces::{Readable, Writeable};
use keel_module::tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use keel_module::tock_registers::{register_bitfields, register_structs};
use keel_module::{Device, Error, IrqRegistration, IrqReturn, Mmio, PlatformDevice, Result, Work};

keel_module::module! {
    name: "gpio-pl061",
    version: "0.1.0",
    license: "MIT OR Apache-2.0",
    author: "Keel",
    description: "Arm PrimeCell GPIO (PL061)",
    depends: [],
    compatible: ["arm,pl061"],
    params: {},
    init: init,
    exit: exit,
}

/// The PL061 has eight lines.
const LINES: u32 = 8;

register_bitfields! {
    u32,
    /// The line registers (GPIODIR, GPIOIS, GPIOIBE, GPIOIEV, GPIOIE, GPIORIS, GPIOMIS, GPIOIC):
    /// one bit per line.
    Lines [
        /// Bit n is line n.
        LINE OFFSET(0) NUMBITS(8) []
    ],
    /// GPIOPeriphID0 (TRM 3.3.13).
    PeriphId0 [
        /// Part number bits 7:0: 0x61.
        PART_LOW OFFSET(0) NUMBITS(8) []
    ],
    /// GPIOPeriphID1 (TRM 3.3.14).
    PeriphId1 [
        /// Part number bits 11:8: 0x0.
        PART_HIGH OFFSET(0) NUMBITS(4) [],
        /// Designer bits 3:0: 0x1 (Arm).
        DESIGNER OFFSET(4) NUMBITS(4) []
    ]
}

register_structs! {
    /// The PL061 register block (TRM table 3-1).
    Registers {
        /// GPIODATA: 256 words; the word at offset `mask << 2` reads or writes only the lines in
        /// `mask` (address-masked access, TRM 3.3.1).
        (0x000 => data: [ReadWrite<u32, Lines::Register>; 256]),
        /// GPIODIR: 1 = output.
        (0x400 => dir: ReadWrite<u32, Lines::Register>),
        /// GPIOIS: 1 = level-sensitive, 0 = edge-sensitive.
        (0x404 => is: ReadWrite<u32, Lines::Register>),
        /// GPIOIBE: 1 = both edges (GPIOIEV is ignored).
        (0x408 => ibe: ReadWrite<u32, Lines::Register>),
        /// GPIOIEV: 1 = rising edge or high level.
        (0x40C => iev: ReadWrite<u32, Lines::Register>),
        /// GPIOIE: 1 = interrupt unmasked.
        (0x410 => ie: ReadWrite<u32, Lines::Register>),
        /// GPIORIS: raw interrupt status.
        (0x414 => ris: ReadOnly<u32, Lines::Register>),
        /// GPIOMIS: masked interrupt status.
        (0x418 => mis: ReadOnly<u32, Lines::Register>),
        /// GPIOIC: write 1 to clear an edge interrupt.
        (0x41C => ic: WriteOnly<u32, Lines::Register>),
        /// GPIOAFSEL: 1 = line under hardware control.
        (0x420 => afsel: ReadWrite<u32, Lines::Register>),
        (0x424 => _reserved),
        /// GPIOPeriphID0.
        (0xFE0 => periph_id0: ReadOnly<u32, PeriphId0::Register>),
        /// GPIOPeriphID1.
        (0xFE4 => periph_id1: ReadOnly<u32, PeriphId1::Register>),
        (0xFE8 => _ids),
        (0x1000 => @END),
    }
}

/// One PL061.
struct Pl061 {
    regs: Mmio<Registers>,
    /// Serialises read-modify-write of the line registers, also against the interrupt handler
    /// (which masks fired levels in GPIOIE).
    lock: IrqLock<()>,
}

impl Pl061 {
    fn bit(line: u32) -> u32 {
        1 << line
    }

    /// Sets or clears `line`'s bit of a line register.
    fn update(reg: &ReadWrite<u32, Lines::Register>, line: u32, on: bool) {
        let value = reg.get();
        reg.set(if on {
            value | Self::bit(line)
        } else {
            value & !Self::bit(line)
        });
    }

    /// The data word that reads or writes only `line`.
    fn data(&self, line: u32) -> &ReadWrite<u32, Lines::Register> {
        &self.regs.data[Self::bit(line) as usize]
    }

    /// Takes the pending interrupts: masks the level-sensed lines among them (their detection
    /// fires once per arming), clears them and returns them.
    fn take_interrupts(&self) -> u32 {
        let _guard = self.lock.lock();
        let pending = self.regs.mis.get() & 0xff;
        let levels = pending & self.regs.is.get();
        if levels != 0 {
            self.regs.ie.set(self.regs.ie.get() & !levels);
        }
        self.regs.ic.set(pending);
        pending
    }

    /// Which event a pending interrupt of `line` was: the configured level or edge, or for
    /// both-edge detection the level the line has now.
    fn edge_of(&self, line: u32) -> Edge {
        let bit = Self::bit(line);
        let high = self.regs.iev.get() & bit != 0;
        if self.regs.is.get() & bit != 0 {
            return if high { Edge::High } else { Edge::Low };
        }
        let rising = if self.regs.ibe.get() & bit != 0 {
            self.data(line).get() & bit != 0
        } else {
            high
        };
        if rising {
            Edge::Rising
        } else {
            Edge::Falling
        }
    }
}

impl GpioChip for Pl061 {
    const LEVEL_EVENTS: bool = true;

    fn lines(&self) -> u32 {
        LINES
    }

    fn set_direction(&self, line: u32, direction: Direction) -> Result {
        let _guard = self.lock.lock();
        Pl061::update(&self.regs.afsel, line, false);
        match direction {
            Direction::Input => Pl061::update(&self.regs.dir, line, false),
            Direction::Output(high) => {
                // GPIODATA ignores writes to input lines (TRM 3.3.1), so the direction goes
                // first and the level right after it.
                Pl061::update(&self.regs.dir, line, true);
                self.data(line).set(if high { Self::bit(line) } else { 0 });
            }
        }
        Ok(())
    }

    fn get(&self, line: u32) -> Result<bool> {
        Ok(self.data(line).get() & Self::bit(line) != 0)
    }

    fn set(&self, line: u32, high: bool) -> Result {
        if self.regs.dir.get() & Self::bit(line) == 0 {
            return Err(Error::InvalidArgument);
        }
        self.data(line).set(if high { Self::bit(line) } else { 0 });
        Ok(())
    }

    fn set_events(&self, line: u32, edges: Edges) -> Result {
        let _guard = self.lock.lock();
        let regs = &self.regs;
        // Mask first, reconfigure, clear what the change may have latched, then unmask.
        Pl061::update(&regs.ie, line, false);
        if edges == Edges::NONE {
            return Ok(());
        }
        if edges.high || edges.low {
            // Level sense (TRM 3.3.3, 3.3.5): GPIOIEV 1 = high.
            Pl061::update(&regs.is, line, true);
            Pl061::update(&regs.ibe, line, false);
            Pl061::update(&regs.iev, line, edges.high);
        } else {
            Pl061::update(&regs.is, line, false);
            Pl061::update(&regs.ibe, line, edges.rising && edges.falling);
            Pl061::update(&regs.iev, line, edges.rising);
        }
        regs.ic.set(Self::bit(line));
        Pl061::update(&regs.ie, line, true);
        Ok(())
    }
}

impl Drop for Pl061 {
    fn drop(&mut self) {
        self.regs.ie.set(0);
        self.regs.ic.set(0xff);
    }
}

/// What the module holds while loaded; dropped in this order by `exit`.
struct Driver {
    _irq: IrqRegistration,
    _device: Device<Pl061>,
    _work: Arc<Work>,
}

static DRIVER: spin::Mutex<Option<Driver>> = spin::Mutex::new(None);

fn probe(node: &PlatformDevice) -> Result<Driver> {
    let (phys, size) = node.reg(0).ok_or(Error::NoDevice)?;
    let line = node.irq(0).ok_or(Error::NoDevice)?;
    let regs = Mmio::<Registers>::map(phys, size as usize)?;
    let part =
        regs.periph_id0.read(PeriphId0::PART_LOW) | regs.periph_id1.read(PeriphId1::PART_HIGH) << 8;
    if part != 0x061 || regs.periph_id1.read(PeriphId1::DESIGNER) != 1 {
        log::error!("{}: not a PL061 (part {part:#x})", node.path());
        return Err(Error::NoDevice);
    }
    // All interrupts masked and cleared before the handler goes in.
    regs.ie.set(0);
    regs.ic.set(0xff);
    let chip = Arc::new(Pl061 {
        regs,
        lock: IrqLock::new(()),
    });
    let device = Device::gpio("gpiochip#", chip.clone())?;
    let events: GpioEvents = device.gpio_events();

    // Events the top half saw and the bottom half has not logged yet, four bits per line
    // (rising, falling, high, low).
    let seen = Arc::new(AtomicU32::new(0));
    let logged = seen.clone();
    let work = Arc::new(Work::new(move || {
        let edges = logged.swap(0, Ordering::AcqRel);
        for line in 0..LINES {
            for (shift, event) in [
                (0, "rising edge"),
                (1, "falling edge"),
                (2, "high level"),
                (3, "low level"),
            ] {
                if edges & (1 << (4 * line + shift)) != 0 {
                    log::info!("line {line}: {event}");
                }
            }
        }
    })?);
    let bottom = work.clone();
    let top = chip.clone();
    let irq = IrqRegistration::new(line, move || {
        let pending = top.take_interrupts();
        if pending == 0 {
            return IrqReturn::None;
        }
        for line in (0..LINES).filter(|l| pending & (1 << l) != 0) {
            let edge = top.edge_of(line);
            let shift = match edge {
                Edge::Rising => 0,
                Edge::Falling => 1,
                Edge::High => 2,
                Edge::Low => 3,
            };
            seen.fetch_or(1 << (4 * line + shift), Ordering::AcqRel);
            let _ = events.report(line, edge);
        }
        let _ = bottom.schedule();
        IrqReturn::Handled
    })?;
    log::info!(
        "{}: {LINES} lines at {phys:#x}, interrupt {line}, clock {} Hz",
        node.path(),
        node.clocks().first().copied().unwrap_or(0)
    );
    Ok(Driver {
        _irq: irq,
        _device: device,
        _work: work,
    })
}

fn init() -> Result {
    *DRIVER.lock() = Some(probe(&keel_module::platform::first()?)?);
    Ok(())
}

fn exit() {
    // The handler goes first, then /dev/gpiochipN, then the bottom half; the registers are
    // masked when the last reference to the chip goes.
    drop(DRIVER.lock().take());
}
