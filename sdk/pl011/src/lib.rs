//! The ARM PrimeCell UART (PL011): its registers and the arithmetic of its line settings, shared
//! by the kernel's early console and the `uart-pl011` driver module (which may not depend on the
//! kernel, nor the kernel on a module).
//!
//! Reference: ARM PrimeCell UART (PL011) Technical Reference Manual r1p5 (DDI 0183), section 3;
//! Raspberry Pi 4: BCM2711 ARM Peripherals, chapter 11 (UART0 at 0xFE201000).
//!
//! ```
//! // 115200 baud from the Pi 4's 48 MHz UART clock: IBRD 26, FBRD 3.
//! let d = keel_pl011::divisors(48_000_000, 115_200).unwrap();
//! assert_eq!((d.integer, d.fraction), (26, 3));
//! ```
#![no_std]
#![deny(missing_docs)]

use keel_abi::types::Termios;
use keel_abi::Errno;

/// The registers (`tock-registers` definitions). The documentation of the macro-generated items
/// (each field's `SET`, `CLEAR`, `Value` ...) is the field's own.
#[allow(missing_docs)]
pub mod regs {
    use tock_registers::register_bitfields;
    use tock_registers::register_structs;
    use tock_registers::registers::{ReadOnly, ReadWrite, WriteOnly};

    register_bitfields! {
        u32,

        /// Data register: the byte, and on reads its receive errors.
        pub DR [
            /// The data byte.
            DATA OFFSET(0) NUMBITS(8) [],
            /// Framing error.
            FE OFFSET(8) NUMBITS(1) [],
            /// Parity error.
            PE OFFSET(9) NUMBITS(1) [],
            /// Break condition.
            BE OFFSET(10) NUMBITS(1) [],
            /// Overrun: the receive FIFO was full and a byte was lost.
            OE OFFSET(11) NUMBITS(1) []
        ],

        /// Flag register.
        pub FR [
            /// Transmit FIFO empty.
            TXFE OFFSET(7) NUMBITS(1) [],
            /// Receive FIFO full.
            RXFF OFFSET(6) NUMBITS(1) [],
            /// Transmit FIFO full.
            TXFF OFFSET(5) NUMBITS(1) [],
            /// Receive FIFO empty.
            RXFE OFFSET(4) NUMBITS(1) [],
            /// UART busy transmitting.
            BUSY OFFSET(3) NUMBITS(1) []
        ],

        /// Integer baud rate divisor.
        pub IBRD [
            /// The integer part of the divisor.
            BAUD_DIVINT OFFSET(0) NUMBITS(16) []
        ],

        /// Fractional baud rate divisor.
        pub FBRD [
            /// The fractional part of the divisor, in 64ths.
            BAUD_DIVFRAC OFFSET(0) NUMBITS(6) []
        ],

        /// Line control register. Writing it latches IBRD and FBRD.
        pub LCR_H [
            /// Stick parity.
            SPS OFFSET(7) NUMBITS(1) [],
            /// Word length.
            WLEN OFFSET(5) NUMBITS(2) [
                FiveBit = 0b00,
                SixBit = 0b01,
                SevenBit = 0b10,
                EightBit = 0b11
            ],
            /// Enable the FIFOs (clearing it flushes them).
            FEN OFFSET(4) NUMBITS(1) [
                FifosDisabled = 0,
                FifosEnabled = 1
            ],
            /// Two stop bits.
            STP2 OFFSET(3) NUMBITS(1) [],
            /// Even parity (with PEN).
            EPS OFFSET(2) NUMBITS(1) [],
            /// Parity enable.
            PEN OFFSET(1) NUMBITS(1) [],
            /// Send break.
            BRK OFFSET(0) NUMBITS(1) []
        ],

        /// Control register.
        pub CR [
            /// Receive enable.
            RXE OFFSET(9) NUMBITS(1) [],
            /// Transmit enable.
            TXE OFFSET(8) NUMBITS(1) [],
            /// UART enable.
            UARTEN OFFSET(0) NUMBITS(1) []
        ],

        /// FIFO level select: when the FIFO interrupts fire.
        pub IFLS [
            /// Receive interrupt when the receive FIFO is at least this full.
            RXIFLSEL OFFSET(3) NUMBITS(3) [
                OneEighth = 0b000,
                OneQuarter = 0b001,
                OneHalf = 0b010,
                ThreeQuarters = 0b011,
                SevenEighths = 0b100
            ],
            /// Transmit interrupt when the transmit FIFO is at most this full.
            TXIFLSEL OFFSET(0) NUMBITS(3) [
                OneEighth = 0b000,
                OneQuarter = 0b001,
                OneHalf = 0b010,
                ThreeQuarters = 0b011,
                SevenEighths = 0b100
            ]
        ],

        /// Interrupt bits, as the mask (IMSC, 1 = enabled), raw and masked status (RIS, MIS) and
        /// clear (ICR) registers share them.
        pub INT [
            /// Overrun error.
            OE OFFSET(10) NUMBITS(1) [],
            /// Break error.
            BE OFFSET(9) NUMBITS(1) [],
            /// Parity error.
            PE OFFSET(8) NUMBITS(1) [],
            /// Framing error.
            FE OFFSET(7) NUMBITS(1) [],
            /// Receive timeout: data sits in the FIFO below its trigger level.
            RT OFFSET(6) NUMBITS(1) [],
            /// Transmit FIFO at or below its trigger level.
            TX OFFSET(5) NUMBITS(1) [],
            /// Receive FIFO reached its trigger level.
            RX OFFSET(4) NUMBITS(1) [],
            /// Every interrupt bit.
            ALL OFFSET(0) NUMBITS(11) []
        ]
    }

    register_structs! {
        /// The PL011 register block.
        #[allow(non_snake_case)]
        pub Registers {
            /// Data.
            (0x00 => pub DR: ReadWrite<u32, DR::Register>),
            (0x04 => _reserved0),
            /// Flags.
            (0x18 => pub FR: ReadOnly<u32, FR::Register>),
            (0x1c => _reserved1),
            /// Integer baud divisor.
            (0x24 => pub IBRD: ReadWrite<u32, IBRD::Register>),
            /// Fractional baud divisor.
            (0x28 => pub FBRD: ReadWrite<u32, FBRD::Register>),
            /// Line control.
            (0x2c => pub LCR_H: ReadWrite<u32, LCR_H::Register>),
            /// Control.
            (0x30 => pub CR: ReadWrite<u32, CR::Register>),
            /// FIFO levels.
            (0x34 => pub IFLS: ReadWrite<u32, IFLS::Register>),
            /// Interrupt mask (1 = enabled).
            (0x38 => pub IMSC: ReadWrite<u32, INT::Register>),
            /// Raw interrupt status.
            (0x3c => pub RIS: ReadOnly<u32, INT::Register>),
            /// Masked interrupt status.
            (0x40 => pub MIS: ReadOnly<u32, INT::Register>),
            /// Interrupt clear.
            (0x44 => pub ICR: WriteOnly<u32, INT::Register>),
            (0x48 => @END),
        }
    }
}

pub use regs::{Registers, CR, DR, FBRD, FR, IBRD, IFLS, INT, LCR_H};

/// Bytes each FIFO holds.
pub const FIFO_DEPTH: usize = 16;

/// The baud-rate divisor registers' values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Divisors {
    /// IBRD: the integer part (1..=65535).
    pub integer: u16,
    /// FBRD: the fraction, in 64ths (0..=63).
    pub fraction: u8,
}

impl Divisors {
    /// The baud rate these divisors give from a `clock_hz` reference clock.
    pub fn baud(&self, clock_hz: u32) -> u32 {
        let div64 = (u64::from(self.integer) << 6) | u64::from(self.fraction);
        ((u64::from(clock_hz) * 4 + div64 / 2) / div64) as u32
    }
}

/// Most a baud rate the divisors give may be off the one asked for, in parts per thousand (a
/// UART receiver tolerates a few percent between the two ends).
pub const BAUD_TOLERANCE_PERMILLE: u64 = 20;

/// The divisors for `baud` from a reference clock of `clock_hz`: the divisor is
/// `clock / (16 * baud)`, its fraction in 64ths rounded to nearest (TRM 3.3.6).
///
/// Errors: `EINVAL` when `baud` or the clock is 0, the divisor falls outside `1..=65535`
/// (`baud` above `clock / 16`, or far too low), or the nearest divisor misses `baud` by more
/// than [`BAUD_TOLERANCE_PERMILLE`].
pub fn divisors(clock_hz: u32, baud: u32) -> Result<Divisors, Errno> {
    if clock_hz == 0 || baud == 0 {
        return Err(Errno::EINVAL);
    }
    let div64 = (u64::from(clock_hz) * 4 + u64::from(baud) / 2) / u64::from(baud);
    let integer = div64 >> 6;
    let fraction = div64 & 0x3f;
    if integer == 0 || integer > 0xffff || (integer == 0xffff && fraction != 0) {
        return Err(Errno::EINVAL);
    }
    let d = Divisors {
        integer: integer as u16,
        fraction: fraction as u8,
    };
    let actual = u64::from(d.baud(clock_hz));
    if actual.abs_diff(u64::from(baud)) * 1000 > u64::from(baud) * BAUD_TOLERANCE_PERMILLE {
        return Err(Errno::EINVAL);
    }
    Ok(d)
}

/// The line control value (word length, parity, stop bits, FIFOs on) for a [`Termios`]'s line
/// fields. Errors: `EINVAL` for data bits outside 5..=8, stop bits other than 1 or 2, or a
/// parity other than 0 (none), 1 (odd) or 2 (even).
pub fn line_control(t: &Termios) -> Result<u32, Errno> {
    let wlen = match t.data_bits {
        5 => 0b00,
        6 => 0b01,
        7 => 0b10,
        8 => 0b11,
        _ => return Err(Errno::EINVAL),
    };
    let stop = match t.stop_bits {
        1 => 0,
        2 => 1,
        _ => return Err(Errno::EINVAL),
    };
    let (pen, eps) = match t.parity {
        0 => (0, 0),
        1 => (1, 0),
        2 => (1, 1),
        _ => return Err(Errno::EINVAL),
    };
    Ok((wlen << 5) | (1 << 4) | (stop << 3) | (eps << 2) | (pen << 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisors_for_the_boards_clocks() {
        // Pi 4 hardware: 48 MHz.
        assert_eq!(
            divisors(48_000_000, 115_200),
            Ok(Divisors {
                integer: 26,
                fraction: 3
            })
        );
        // QEMU raspi4b: the mailbox says 3 MHz.
        assert_eq!(
            divisors(3_000_000, 115_200),
            Ok(Divisors {
                integer: 1,
                fraction: 40
            })
        );
        // QEMU virt: the 24 MHz apb clock.
        assert_eq!(
            divisors(24_000_000, 115_200),
            Ok(Divisors {
                integer: 13,
                fraction: 1
            })
        );
        assert_eq!(
            divisors(48_000_000, 9600),
            Ok(Divisors {
                integer: 312,
                fraction: 32
            })
        );
        assert_eq!(divisors(3_000_000, 9600).unwrap().baud(3_000_000), 9600);
    }

    #[test]
    fn divisors_come_close_to_the_rate_asked_for() {
        for clock in [3_000_000u32, 24_000_000, 48_000_000] {
            let rates = [1200u32, 9600, 19_200, 38_400, 57_600, 115_200, 230_400];
            for baud in rates.into_iter().filter(|b| b * 16 <= clock) {
                let d = divisors(clock, baud).unwrap();
                let off = u64::from(d.baud(clock)).abs_diff(u64::from(baud));
                assert!(off * 100 <= u64::from(baud), "{clock} Hz, {baud} baud");
            }
        }
    }

    #[test]
    fn unreachable_rates_are_refused() {
        assert_eq!(divisors(3_000_000, 0), Err(Errno::EINVAL));
        assert_eq!(divisors(0, 115_200), Err(Errno::EINVAL));
        // Above clock / 16: the divisor would be below 1.
        assert_eq!(divisors(3_000_000, 230_400), Err(Errno::EINVAL));
        assert_eq!(divisors(3_000_000, 200_000), Err(Errno::EINVAL));
        assert_eq!(divisors(3_000_000, 4_000_000), Err(Errno::EINVAL));
        // Below clock / (16 * 65535).
        assert_eq!(divisors(48_000_000, 10), Err(Errno::EINVAL));
        assert!(divisors(48_000_000, 46).is_ok());
        // 187500 is exactly clock / 16 at 3 MHz: divisor 1.0.
        assert_eq!(
            divisors(3_000_000, 187_500),
            Ok(Divisors {
                integer: 1,
                fraction: 0
            })
        );
    }

    fn line(data_bits: u8, stop_bits: u8, parity: u8) -> Termios {
        Termios {
            lflags: 0,
            baud: 115_200,
            data_bits,
            stop_bits,
            parity,
            reserved: 0,
        }
    }

    #[test]
    fn line_control_encodes_word_length_parity_and_stop_bits() {
        assert_eq!(line_control(&line(8, 1, 0)), Ok(0x70));
        assert_eq!(line_control(&line(7, 1, 2)), Ok(0x56));
        assert_eq!(line_control(&line(5, 2, 1)), Ok(0x1a));
        assert_eq!(line_control(&line(9, 1, 0)), Err(Errno::EINVAL));
        assert_eq!(line_control(&line(4, 1, 0)), Err(Errno::EINVAL));
        assert_eq!(line_control(&line(8, 3, 0)), Err(Errno::EINVAL));
        assert_eq!(line_control(&line(8, 0, 0)), Err(Errno::EINVAL));
        assert_eq!(line_control(&line(8, 1, 3)), Err(Errno::EINVAL));
    }
}
