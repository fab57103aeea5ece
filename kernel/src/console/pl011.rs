//! Polled ARM PrimeCell PL011 UART writer for the early console.
//!
//! Reference: ARM PrimeCell UART (PL011) Technical Reference Manual r1p5 (DDI 0183), section 3;
//! Raspberry Pi 4: BCM2711 ARM Peripherals, chapter 11 (UART0 at 0xFE201000).

use tock_registers::interfaces::{Readable, Writeable};
use tock_registers::register_bitfields;
use tock_registers::register_structs;
use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

register_bitfields! {
    u32,

    /// Flag register.
    FR [
        /// Transmit FIFO full.
        TXFF OFFSET(5) NUMBITS(1) [],
        /// Receive FIFO empty.
        RXFE OFFSET(4) NUMBITS(1) [],
        /// UART busy transmitting.
        BUSY OFFSET(3) NUMBITS(1) []
    ],

    /// Integer baud rate divisor.
    IBRD [
        /// The integer part of the divisor.
        BAUD_DIVINT OFFSET(0) NUMBITS(16) []
    ],

    /// Fractional baud rate divisor.
    FBRD [
        /// The fractional part of the divisor, in 64ths.
        BAUD_DIVFRAC OFFSET(0) NUMBITS(6) []
    ],

    /// Line control register.
    LCR_H [
        /// Word length.
        WLEN OFFSET(5) NUMBITS(2) [
            FiveBit = 0b00,
            SixBit = 0b01,
            SevenBit = 0b10,
            EightBit = 0b11
        ],
        /// Enable the FIFOs.
        FEN OFFSET(4) NUMBITS(1) [
            FifosDisabled = 0,
            FifosEnabled = 1
        ]
    ],

    /// Control register.
    CR [
        /// Receive enable.
        RXE OFFSET(9) NUMBITS(1) [],
        /// Transmit enable.
        TXE OFFSET(8) NUMBITS(1) [],
        /// UART enable.
        UARTEN OFFSET(0) NUMBITS(1) []
    ],

    /// Interrupt clear register.
    ICR [
        /// Clear all interrupts.
        ALL OFFSET(0) NUMBITS(11) []
    ],

    /// Interrupt mask set/clear (1 = enabled).
    IMSC [
        /// Receive timeout: data sits in the FIFO below its trigger level.
        RTIM OFFSET(6) NUMBITS(1) [],
        /// Receive FIFO reached its trigger level.
        RXIM OFFSET(4) NUMBITS(1) []
    ]
}

register_structs! {
    #[allow(non_snake_case)]
    pub Registers {
        (0x00 => DR: ReadWrite<u32>),
        (0x04 => _reserved0),
        (0x18 => FR: ReadOnly<u32, FR::Register>),
        (0x1c => _reserved1),
        (0x24 => IBRD: WriteOnly<u32, IBRD::Register>),
        (0x28 => FBRD: WriteOnly<u32, FBRD::Register>),
        (0x2c => LCR_H: ReadWrite<u32, LCR_H::Register>),
        (0x30 => CR: ReadWrite<u32, CR::Register>),
        (0x34 => _reserved2),
        (0x38 => IMSC: ReadWrite<u32, IMSC::Register>),
        (0x3c => _reserved3),
        (0x44 => ICR: WriteOnly<u32, ICR::Register>),
        (0x48 => @END),
    }
}

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
        r.ICR.write(ICR::ALL::SET);
        if clock_hz != 0 && baud != 0 {
            // Divisor = clock / (16 * baud), fraction in 64ths, rounded.
            let div64 = (u64::from(clock_hz) * 4 + u64::from(baud) / 2) / u64::from(baud);
            r.IBRD.write(IBRD::BAUD_DIVINT.val((div64 >> 6) as u32));
            r.FBRD.write(FBRD::BAUD_DIVFRAC.val((div64 & 0x3f) as u32));
        }
        r.LCR_H
            .write(LCR_H::WLEN::EightBit + LCR_H::FEN::FifosEnabled);
        r.CR.write(CR::UARTEN::SET + CR::TXE::SET + CR::RXE::SET);
    }

    /// Sends one byte, waiting while the transmit FIFO is full.
    /// Takes one received byte, if the receive FIFO holds any.
    pub fn read_byte(&mut self) -> Option<u8> {
        let r = self.regs();
        if r.FR.is_set(FR::RXFE) {
            None
        } else {
            Some((r.DR.get() & 0xff) as u8)
        }
    }

    /// Raises the UART's interrupt when bytes arrive (FIFO level or receive timeout).
    pub fn enable_rx_interrupt(&mut self) {
        self.regs().IMSC.write(IMSC::RXIM::SET + IMSC::RTIM::SET);
    }

    /// Clears the receive and receive-timeout interrupts.
    pub fn ack_rx(&mut self) {
        self.regs().ICR.set((1 << 4) | (1 << 6));
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
