//! Conversions between generic-timer ticks and wall units, and the dmesg-style timestamp.
//!
//! The counter frequency (`CNTFRQ_EL0`) is passed in by the caller. Intermediate products are
//! computed in `u128`, so no conversion overflows before the final result; results that do not
//! fit in `u64` saturate. A frequency of 0 (an unprogrammed `CNTFRQ_EL0`) never panics: every
//! conversion then returns 0.

use core::fmt;

/// Nanoseconds per second.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;
/// Microseconds per second.
pub const MICROS_PER_SEC: u64 = 1_000_000;

/// Returns `value * mul / div` rounded down (or up with `round_up`), saturating at `u64::MAX`;
/// 0 when `div` is 0.
///
/// `value` is split into whole multiples of `div` and a remainder, so that with the frequencies
/// and unit counts the kernel uses the product fits in 64 bits and needs no 128-bit division
/// (a library call of a few hundred instructions, on every log line and clock read).
const fn scale(value: u64, mul: u64, div: u64, round_up: bool) -> u64 {
    if div == 0 {
        return 0;
    }
    // value * mul / div = (value / div) * mul + (value % div) * mul / div, exactly.
    if let (Some(whole), Some(part)) = (
        (value / div).checked_mul(mul),
        (value % div).checked_mul(mul),
    ) {
        let extra = (round_up && !part.is_multiple_of(div)) as u64;
        return match whole.checked_add(part / div + extra) {
            Some(result) => result,
            None => u64::MAX,
        };
    }
    scale_wide(value, mul, div, round_up)
}

/// [`scale`] computed in 128 bits, for operands whose 64-bit product would overflow.
const fn scale_wide(value: u64, mul: u64, div: u64, round_up: bool) -> u64 {
    let product = value as u128 * mul as u128;
    let div = div as u128;
    let mut result = product / div;
    if round_up && !product.is_multiple_of(div) {
        result += 1;
    }
    if result > u64::MAX as u128 {
        u64::MAX
    } else {
        result as u64
    }
}

/// Converts counter ticks at `freq_hz` to nanoseconds, rounding down; 0 if `freq_hz` is 0.
pub const fn ticks_to_nanos(ticks: u64, freq_hz: u64) -> u64 {
    scale(ticks, NANOS_PER_SEC, freq_hz, false)
}

/// Converts counter ticks at `freq_hz` to microseconds, rounding down; 0 if `freq_hz` is 0.
pub const fn ticks_to_micros(ticks: u64, freq_hz: u64) -> u64 {
    scale(ticks, MICROS_PER_SEC, freq_hz, false)
}

/// Converts nanoseconds to counter ticks at `freq_hz`, rounding up so that a deadline computed
/// from the result never fires early; saturates at `u64::MAX`.
pub const fn nanos_to_ticks(nanos: u64, freq_hz: u64) -> u64 {
    scale(nanos, freq_hz, NANOS_PER_SEC, true)
}

/// A time since boot split into whole seconds and microseconds, printed like a `dmesg` prefix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    /// Whole seconds.
    pub secs: u64,
    /// Microseconds within the second, below 1 000 000.
    pub micros: u32,
}

impl Timestamp {
    /// Converts a tick count at `freq_hz`; a zero frequency gives the zero timestamp.
    pub const fn from_ticks(ticks: u64, freq_hz: u64) -> Self {
        if freq_hz == 0 {
            return Self { secs: 0, micros: 0 };
        }
        let secs = ticks / freq_hz;
        let micros = scale(ticks % freq_hz, MICROS_PER_SEC, freq_hz, false);
        Self {
            secs,
            micros: micros as u32,
        }
    }

    /// Converts a nanosecond count.
    pub const fn from_nanos(nanos: u64) -> Self {
        Self::from_ticks(nanos, NANOS_PER_SEC)
    }
}

impl Timestamp {
    /// Bytes [`Timestamp::text`] needs: 20 digits of seconds at most, the point, 6 digits.
    pub const TEXT_MAX: usize = 27;

    /// `{:5}.{:06}` of the seconds and microseconds, written into `buf` digit by digit: every
    /// kernel log line starts with one, and the formatting machinery costs several times as much.
    pub fn text<'b>(&self, buf: &'b mut [u8; Self::TEXT_MAX]) -> &'b str {
        buf.fill(b' ');
        let mut at = 20;
        let mut secs = self.secs;
        loop {
            at -= 1;
            buf[at] = b'0' + (secs % 10) as u8;
            secs /= 10;
            if secs == 0 {
                break;
            }
        }
        let start = at.min(20 - 5);
        buf[20] = b'.';
        let mut micros = self.micros % 1_000_000;
        for digit in buf[21..].iter_mut().rev() {
            *digit = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
        // Spaces, digits and a point: ASCII.
        core::str::from_utf8(&buf[start..]).unwrap_or("")
    }
}

impl fmt::Display for Timestamp {
    /// As [`Timestamp::text`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text(&mut [0; Self::TEXT_MAX]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_64_bit_split_gives_the_128_bit_result() {
        let values = [
            0,
            1,
            999,
            54_000_000,
            62_500_000,
            999_999_999,
            1_000_000_000,
            18_446_744_073,
            18_446_744_074,
            123_456_789_012_345,
            u64::MAX / 1_000_000_000,
            u64::MAX / 3,
            u64::MAX - 1,
            u64::MAX,
        ];
        let units = [
            1,
            7,
            MICROS_PER_SEC,
            NANOS_PER_SEC,
            54_000_000,
            62_500_000,
            u64::MAX / 2,
            u64::MAX,
        ];
        for value in values {
            for mul in units {
                for div in units.iter().copied().chain([0, 3]) {
                    for round_up in [false, true] {
                        let wide = if div == 0 {
                            0
                        } else {
                            scale_wide(value, mul, div, round_up)
                        };
                        assert_eq!(
                            scale(value, mul, div, round_up),
                            wide,
                            "{value} * {mul} / {div}, round_up {round_up}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn timestamps_print_like_the_format_string() {
        for (secs, micros) in [
            (0, 0),
            (1, 5),
            (12, 345_678),
            (99_999, 999_999),
            (123_456, 7),
            (u64::MAX, 999_999),
        ] {
            let t = Timestamp { secs, micros };
            assert_eq!(format!("{t}"), format!("{secs:5}.{micros:06}"));
        }
    }

    const QEMU_HZ: u64 = 62_500_000;
    const PI4_HZ: u64 = 54_000_000;

    #[test]
    fn ticks_to_units() {
        assert_eq!(ticks_to_nanos(QEMU_HZ, QEMU_HZ), NANOS_PER_SEC);
        assert_eq!(ticks_to_nanos(1, QEMU_HZ), 16);
        assert_eq!(ticks_to_micros(QEMU_HZ / 2, QEMU_HZ), 500_000);
        assert_eq!(ticks_to_micros(54, PI4_HZ), 1);
        assert_eq!(ticks_to_micros(53, PI4_HZ), 0);
        assert_eq!(ticks_to_nanos(0, PI4_HZ), 0);
    }

    #[test]
    fn large_tick_counts_do_not_overflow() {
        // u64::MAX ticks at 1 GHz is exactly u64::MAX ns.
        assert_eq!(ticks_to_nanos(u64::MAX, NANOS_PER_SEC), u64::MAX);
        // 100 years at 54 MHz: the naive `ticks * 1e9` would overflow u64.
        let ticks = 100 * 365 * 86_400 * PI4_HZ;
        assert_eq!(
            ticks_to_nanos(ticks, PI4_HZ),
            100 * 365 * 86_400 * NANOS_PER_SEC
        );
        assert_eq!(
            ticks_to_micros(ticks, PI4_HZ),
            100 * 365 * 86_400 * MICROS_PER_SEC
        );
        // Results beyond u64 saturate.
        assert_eq!(ticks_to_nanos(u64::MAX, 1), u64::MAX);
        assert_eq!(nanos_to_ticks(u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn zero_frequency_gives_zero() {
        assert_eq!(ticks_to_nanos(12345, 0), 0);
        assert_eq!(ticks_to_micros(12345, 0), 0);
        assert_eq!(nanos_to_ticks(12345, 0), 0);
        assert_eq!(Timestamp::from_ticks(12345, 0), Timestamp::default());
    }

    #[test]
    fn nanos_to_ticks_rounds_up() {
        assert_eq!(nanos_to_ticks(NANOS_PER_SEC, QEMU_HZ), QEMU_HZ);
        assert_eq!(nanos_to_ticks(16, QEMU_HZ), 1);
        assert_eq!(nanos_to_ticks(17, QEMU_HZ), 2);
        assert_eq!(nanos_to_ticks(1, QEMU_HZ), 1);
        assert_eq!(nanos_to_ticks(0, QEMU_HZ), 0);
        // Round trip never comes back short.
        for ns in [1, 999, 1_000_000, 123_456_789] {
            assert!(ticks_to_nanos(nanos_to_ticks(ns, PI4_HZ), PI4_HZ) >= ns);
        }
    }

    #[test]
    fn timestamp_split() {
        let t = Timestamp::from_ticks(3 * PI4_HZ + PI4_HZ / 4, PI4_HZ);
        assert_eq!(
            t,
            Timestamp {
                secs: 3,
                micros: 250_000
            }
        );
        let t = Timestamp::from_ticks(PI4_HZ - 1, PI4_HZ);
        assert_eq!(
            t,
            Timestamp {
                secs: 0,
                micros: 999_999
            }
        );
        let t = Timestamp::from_ticks(u64::MAX, 1);
        assert_eq!(
            t,
            Timestamp {
                secs: u64::MAX,
                micros: 0
            }
        );
        assert_eq!(
            Timestamp::from_nanos(1_500_000_999),
            Timestamp {
                secs: 1,
                micros: 500_000
            }
        );
        assert!(
            Timestamp { secs: 1, micros: 0 }
                > Timestamp {
                    secs: 0,
                    micros: 999_999
                }
        );
    }

    #[test]
    fn timestamp_display_like_dmesg() {
        assert_eq!(
            Timestamp {
                secs: 0,
                micros: 12_345
            }
            .to_string(),
            "    0.012345"
        );
        assert_eq!(
            Timestamp {
                secs: 12,
                micros: 0
            }
            .to_string(),
            "   12.000000"
        );
        assert_eq!(
            Timestamp {
                secs: 123_456,
                micros: 7
            }
            .to_string(),
            "123456.000007"
        );
        assert_eq!(
            Timestamp::from_ticks(QEMU_HZ * 5 / 4, QEMU_HZ).to_string(),
            "    1.250000"
        );
    }
}
