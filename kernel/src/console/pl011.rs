//! Polled ARM PrimeCell PL011 UART for the early console; the registers come from `keel-pl011`,
//! which the `uart-pl011` module shares.

use keel_pl011::{divisors, Registers, CR, DR, FBRD, FR, IBRD, INT, LCR_H};
use tock_registers::interfaces::{Readable, Writeable};

/// A PL011 driven by polling, as the early console uses it.
pub struct Pl011 {
    regs: *const Registers,
}

// SAFETY: the registers are MMIO reached only through the console lock.
unsafe impl Send for Pl011 {}

impl Pl011 {
    /// Wraps the registers mapped at `base`.
    ///
    /// # Safety
    /// `base` must be the virtual address of a mapped PL011 register block (Device memory) that
    /// nothing else drives concurrently.
    pub const unsafe fn new(base: usize) -> Self {
        Pl011 {
            regs: base as *const Registers,
        }
    }

    fn regs(&self) -> &Registers {
        // SAFETY: `new`'s contract makes `regs` a valid mapped register block.
        unsafe { &*self.regs }
    }

    /// Programs 8N1 with FIFOs at `baud` from a reference clock of `clock_hz`, or keeps the
    /// firmware's baud rate when the clock is unknown (0).
    pub fn init(&mut self, clock_hz: u32, baud: u32) {
        self.flush();
        let r = self.regs();
        r.CR.set(0);
        r.ICR.write(INT::ALL::SET);
        if let Ok(d) = divisors(clock_hz, baud) {
            r.IBRD.write(IBRD::BAUD_DIVINT.val(u32::from(d.integer)));
            r.FBRD.write(FBRD::BAUD_DIVFRAC.val(u32::from(d.fraction)));
        }
        r.LCR_H
            .write(LCR_H::WLEN::EightBit + LCR_H::FEN::FifosEnabled);
        r.CR.write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }

    /// Takes one received byte, if the receive FIFO holds any.
    pub fn read_byte(&mut self) -> Option<u8> {
        let r = self.regs();
        if r.FR.is_set(FR::RXFE) {
            None
        } else {
            Some(r.DR.read(DR::DATA) as u8)
        }
    }

    /// Raises the UART's interrupt when bytes arrive (FIFO level or receive timeout), and no
    /// other.
    pub fn enable_rx_interrupt(&mut self) {
        self.regs().IMSC.write(INT::RX::SET + INT::RT::SET);
    }

    /// Masks every interrupt of the UART.
    pub fn disable_interrupts(&mut self) {
        self.regs().IMSC.set(0);
    }

    /// Clears the receive and receive-timeout interrupts.
    pub fn ack_rx(&mut self) {
        self.regs().ICR.write(INT::RX::SET + INT::RT::SET);
    }

    /// Writes one byte, waiting for room in the transmit FIFO.
    pub fn write_byte(&mut self, b: u8) {
        let r = self.regs();
        while r.FR.is_set(FR::TXFF) {
            core::hint::spin_loop();
        }
        r.DR.set(u32::from(b));
    }

    /// Waits until everything written has left the shift register.
    pub fn flush(&mut self) {
        let r = self.regs();
        let mut spins = 0u32;
        // The bound keeps a UART that is not clocked (firmware left it off) from hanging boot.
        while r.FR.is_set(FR::BUSY) && spins < 1_000_000 {
            spins += 1;
            core::hint::spin_loop();
        }
    }
}
