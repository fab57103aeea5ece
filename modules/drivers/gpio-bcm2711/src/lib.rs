//! `gpio-bcm2711`: the GPIO block of the Broadcom BCM2711 (Raspberry Pi 4), 58 lines with
//! function select, set, clear, level, pull-up/down, edge and level events, as `/dev/gpiochipN`.
//!
//! Reference: BCM2711 ARM Peripherals, chapter 5 "General Purpose I/O (GPIO)": 5.2 "Register
//! View" (GPFSELn, GPSETn, GPCLRn, GPLEVn, GPEDSn, GPRENn, GPFENn, GPHENn, GPLENn) and
//! GPIO_PUP_PDN_CNTRL_REG0..3 (the pull control that replaces the BCM2835's clocked GPPUD
//! sequence).
//!
//! Events: edges through GPREN/GPFEN, levels through GPHEN (high) and GPLEN (low). The three bank
//! interrupts of the device tree (lines 0-27, 28-45, 46-57) each run the top half for their
//! bank: read GPEDS, turn off the level detection of the lines whose level fired (GPEDS would
//! be set again at once while the line stays at the level), clear what was read (write 1 to
//! clear), report each event to the kernel, which re-arms a level at the next wait. QEMU's
//! `raspi4b` does not model event detection and does not route GPIO interrupts to the GIC; the
//! code follows the datasheet for the real board.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;

use keel_module::device::{Direction, Edge, Edges, GpioChip, GpioEvents, Pull};
use keel_module::irq::IrqLock;
use keel_module::tock_registers::fields::FieldValue;
use keel_module::tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use keel_module::tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};
use keel_module::tock_registers::{register_bitfields, register_structs};
use keel_module::{Device, Error, IrqRegistration, IrqReturn, Mmio, PlatformDevice, Result};

keel_module::module! {
    name: "gpio-bcm2711",
    version: "0.1.0",
    license: "MIT OR Apache-2.0",
    author: "Keel",
    description: "Broadcom BCM2711 GPIO (Raspberry Pi 4)",
    depends: [],
    compatible: ["brcm,bcm2711-gpio"],
    params: {},
    init: init,
    exit: exit,
}

/// GPIO 0..57.
const LINES: u32 = 58;
/// The first line of each bank interrupt (bank 0: 0-27, bank 1: 28-45, bank 2: 46-57).
const BANKS: [u32; 4] = [0, 28, 46, LINES];

register_bitfields! {
    u32,
    /// GPFSEL0..5: ten 3-bit function fields per register (5.2, "GPIO Function Select
    /// Registers"). The field of line `n` is in GPFSEL(n / 10) at bit 3 * (n % 10).
    GPFSEL [
        /// The function of one line.
        FSEL OFFSET(0) NUMBITS(3) [
            /// Input.
            Input = 0b000,
            /// Output.
            Output = 0b001,
            /// Alternate function 0.
            Alt0 = 0b100,
            /// Alternate function 1.
            Alt1 = 0b101,
            /// Alternate function 2.
            Alt2 = 0b110,
            /// Alternate function 3.
            Alt3 = 0b111,
            /// Alternate function 4.
            Alt4 = 0b011,
            /// Alternate function 5.
            Alt5 = 0b010
        ]
    ],
    /// GPSET, GPCLR, GPLEV, GPEDS, GPREN, GPFEN, GPHEN, GPLEN: one bit per line, lines 0-31 in
    /// register 0 and 32-57 in register 1.
    BANK [
        /// Bit n is line 32 * register + n.
        LINE OFFSET(0) NUMBITS(32) []
    ],
    /// GPIO_PUP_PDN_CNTRL_REG0..3: sixteen 2-bit fields per register. The field of line `n` is
    /// in register n / 16 at bit 2 * (n % 16).
    PUP_PDN [
        /// The resistor of one line.
        PULL OFFSET(0) NUMBITS(2) [
            /// No resistor.
            None = 0b00,
            /// Pull-up.
            Up = 0b01,
            /// Pull-down.
            Down = 0b10
        ]
    ]
}

register_structs! {
    /// The GPIO register block (5.2, table "GPIO Register Assignment").
    Registers {
        /// GPFSEL0..5.
        (0x00 => fsel: [ReadWrite<u32, GPFSEL::Register>; 6]),
        (0x18 => _reserved0),
        /// GPSET0/1: write 1 to drive an output high.
        (0x1C => set: [WriteOnly<u32, BANK::Register>; 2]),
        (0x24 => _reserved1),
        /// GPCLR0/1: write 1 to drive an output low.
        (0x28 => clr: [WriteOnly<u32, BANK::Register>; 2]),
        (0x30 => _reserved2),
        /// GPLEV0/1: the level of each line.
        (0x34 => lev: [ReadOnly<u32, BANK::Register>; 2]),
        (0x3C => _reserved3),
        /// GPEDS0/1: event detected; write 1 to clear.
        (0x40 => eds: [ReadWrite<u32, BANK::Register>; 2]),
        (0x48 => _reserved4),
        /// GPREN0/1: rising edge detect enable.
        (0x4C => ren: [ReadWrite<u32, BANK::Register>; 2]),
        (0x54 => _reserved5),
        /// GPFEN0/1: falling edge detect enable.
        (0x58 => fen: [ReadWrite<u32, BANK::Register>; 2]),
        (0x60 => _reserved6),
        /// GPHEN0/1: high level detect enable (GPEDS is set while the line is high).
        (0x64 => hen: [ReadWrite<u32, BANK::Register>; 2]),
        (0x6C => _reserved7),
        /// GPLEN0/1: low level detect enable (GPEDS is set while the line is low).
        (0x70 => len: [ReadWrite<u32, BANK::Register>; 2]),
        (0x78 => _reserved8),
        /// GPIO_PUP_PDN_CNTRL_REG0..3.
        (0xE4 => pup_pdn: [ReadWrite<u32, PUP_PDN::Register>; 4]),
        (0xF4 => @END),
    }
}

/// Register index and bit of `line` in a one-bit-per-line register pair.
fn bank_bit(line: u32) -> (usize, u32) {
    ((line / 32) as usize, 1 << (line % 32))
}

/// One BCM2711 GPIO block.
struct Bcm2711 {
    regs: Mmio<Registers>,
    /// Serialises read-modify-write of GPFSEL, the detect enables and the pull registers, also
    /// against the interrupt handler (which turns fired levels off in GPHEN/GPLEN).
    lock: IrqLock<()>,
}

impl Bcm2711 {
    fn function(&self, line: u32) -> u32 {
        let field = GPFSEL::FSEL;
        (self.regs.fsel[(line / 10) as usize].get() >> (3 * (line % 10))) & field.mask
    }

    fn set_function(&self, line: u32, function: GPFSEL::FSEL::Value) {
        let value = FieldValue::<u32, GPFSEL::Register>::new(
            GPFSEL::FSEL.mask,
            3 * (line % 10) as usize,
            function as u32,
        );
        self.regs.fsel[(line / 10) as usize].modify(value);
    }

    fn write_level(&self, line: u32, high: bool) {
        let (i, bit) = bank_bit(line);
        if high {
            self.regs.set[i].set(bit);
        } else {
            self.regs.clr[i].set(bit);
        }
    }

    /// The top half of one bank: clears and reports the events of lines `first..end`, turning
    /// off the level detection of those whose level fired.
    fn bank_interrupt(&self, first: u32, end: u32, events: &GpioEvents) -> IrqReturn {
        let mut handled = IrqReturn::None;
        for i in 0..2 {
            let lines = (0..32)
                .map(|b| 32 * i as u32 + b)
                .filter(|l| (first..end).contains(l));
            let mask = lines.fold(0u32, |m, l| m | 1 << (l % 32));
            let guard = self.lock.lock();
            let pending = self.regs.eds[i].get() & mask;
            if pending == 0 {
                continue;
            }
            let (high, low) = (self.regs.hen[i].get(), self.regs.len[i].get());
            // Levels first off, then the status cleared: it would latch again at once.
            if (high | low) & pending != 0 {
                self.regs.hen[i].set(high & !pending);
                self.regs.len[i].set(low & !pending);
            }
            self.regs.eds[i].set(pending);
            let level = self.regs.lev[i].get();
            let (rising, falling) = (self.regs.ren[i].get(), self.regs.fen[i].get());
            drop(guard);
            handled = IrqReturn::Handled;
            for b in (0..32).filter(|b| pending & 1 << b != 0) {
                let bit = 1 << b;
                // A level detection says which level; with both edges enabled, the level after
                // the event tells which edge it was.
                let edge = match (rising & bit != 0, falling & bit != 0) {
                    _ if high & bit != 0 => Edge::High,
                    _ if low & bit != 0 => Edge::Low,
                    (true, false) => Edge::Rising,
                    (false, true) => Edge::Falling,
                    _ if level & bit != 0 => Edge::Rising,
                    _ => Edge::Falling,
                };
                let _ = events.report(32 * i as u32 + b, edge);
            }
        }
        handled
    }
}

impl GpioChip for Bcm2711 {
    const LEVEL_EVENTS: bool = true;

    fn lines(&self) -> u32 {
        LINES
    }

    fn set_direction(&self, line: u32, direction: Direction) -> Result {
        let _guard = self.lock.lock();
        match direction {
            Direction::Input => self.set_function(line, GPFSEL::FSEL::Value::Input),
            Direction::Output(high) => {
                // GPSET/GPCLR latch the level of an input too, so it is set before the line
                // starts driving.
                self.write_level(line, high);
                self.set_function(line, GPFSEL::FSEL::Value::Output);
            }
        }
        Ok(())
    }

    fn get(&self, line: u32) -> Result<bool> {
        let (i, bit) = bank_bit(line);
        Ok(self.regs.lev[i].get() & bit != 0)
    }

    fn set(&self, line: u32, high: bool) -> Result {
        if self.function(line) != GPFSEL::FSEL::Value::Output as u32 {
            return Err(Error::InvalidArgument);
        }
        self.write_level(line, high);
        Ok(())
    }

    fn set_pull(&self, line: u32, pull: Pull) -> Result {
        let code = match pull {
            Pull::None => PUP_PDN::PULL::Value::None,
            Pull::Up => PUP_PDN::PULL::Value::Up,
            Pull::Down => PUP_PDN::PULL::Value::Down,
        };
        let value = FieldValue::<u32, PUP_PDN::Register>::new(
            PUP_PDN::PULL.mask,
            2 * (line % 16) as usize,
            code as u32,
        );
        let _guard = self.lock.lock();
        self.regs.pup_pdn[(line / 16) as usize].modify(value);
        Ok(())
    }

    fn set_events(&self, line: u32, edges: Edges) -> Result {
        let (i, bit) = bank_bit(line);
        let _guard = self.lock.lock();
        let update = |reg: &ReadWrite<u32, BANK::Register>, on: bool| {
            let v = reg.get();
            reg.set(if on { v | bit } else { v & !bit });
        };
        update(&self.regs.ren[i], edges.rising);
        update(&self.regs.fen[i], edges.falling);
        update(&self.regs.hen[i], edges.high);
        update(&self.regs.len[i], edges.low);
        // Forget an event latched before the change.
        self.regs.eds[i].set(bit);
        Ok(())
    }
}

impl Drop for Bcm2711 {
    fn drop(&mut self) {
        for i in 0..2 {
            self.regs.ren[i].set(0);
            self.regs.fen[i].set(0);
            self.regs.hen[i].set(0);
            self.regs.len[i].set(0);
            self.regs.eds[i].set(u32::MAX);
        }
    }
}

/// What the module holds while loaded; dropped in this order by `exit`.
struct Driver {
    _irqs: Vec<IrqRegistration>,
    _device: Device<Bcm2711>,
}

static DRIVER: spin::Mutex<Option<Driver>> = spin::Mutex::new(None);

fn probe(node: &PlatformDevice) -> Result<Driver> {
    let (phys, size) = node.reg(0).ok_or(Error::NoDevice)?;
    // The Pi 4 tree gives the BCM2835's 0xb4 bytes; the BCM2711's pull registers lie beyond
    // (0xE4..0xF0), inside the same 4 KiB block, so the whole register view is mapped.
    let size = (size as usize).max(core::mem::size_of::<Registers>());
    let regs = Mmio::<Registers>::map(phys, size)?;
    // No event detection until someone asks for it (the firmware may leave some enabled).
    for i in 0..2 {
        regs.ren[i].set(0);
        regs.fen[i].set(0);
        regs.hen[i].set(0);
        regs.len[i].set(0);
        regs.eds[i].set(u32::MAX);
    }
    let chip = Arc::new(Bcm2711 {
        regs,
        lock: IrqLock::new(()),
    });
    let device = Device::gpio("gpiochip#", chip.clone())?;
    let events = device.gpio_events();
    // The bank interrupts; the tree's fourth ("all banks") is left alone.
    let mut irqs = Vec::new();
    for (bank, &line) in node.irqs().iter().take(3).enumerate() {
        let (first, end) = (BANKS[bank], BANKS[bank + 1]);
        let top = chip.clone();
        irqs.push(IrqRegistration::new(line, move || {
            top.bank_interrupt(first, end, &events)
        })?);
    }
    log::info!(
        "{}: {LINES} lines at {phys:#x}, bank interrupts {:?}",
        node.path(),
        &node.irqs()[..node.irqs().len().min(3)]
    );
    Ok(Driver {
        _irqs: irqs,
        _device: device,
    })
}

fn init() -> Result {
    *DRIVER.lock() = Some(probe(&keel_module::platform::first()?)?);
    Ok(())
}

fn exit() {
    // The handlers go first, then /dev/gpiochipN; event detection is turned off when the last
    // reference to the chip goes.
    drop(DRIVER.lock().take());
}
