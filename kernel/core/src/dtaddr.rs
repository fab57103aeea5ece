//! Device-tree address translation through a parent bus's `ranges` property.
//!
//! A `ranges` property is a list of `(child address, parent address, size)` triples whose
//! widths are the child's `#address-cells`, the parent's `#address-cells` and the child's
//! `#size-cells`, each cell a big-endian `u32`. An absent property means the bus is not
//! translatable; an empty one means the child and parent address spaces are identical.

use core::fmt;

/// Why an address could not be translated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TranslateError {
    /// The bus has no `ranges` property, so its addresses do not map to the parent.
    NoRanges,
    /// No `ranges` entry's child window contains the address.
    NotMapped {
        /// The child address that was looked up.
        addr: u64,
    },
    /// The property's length is not a whole number of entries, or an entry is unusable (a cell
    /// count of zero for an address, a value wider than 64 bits, or a parent window that runs
    /// past the end of the 64-bit space).
    Malformed {
        /// The property's length in bytes.
        len: usize,
    },
}

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NoRanges => f.write_str(
                "device-tree address not translated: the parent bus has no ranges property",
            ),
            Self::NotMapped { addr } => write!(
                f,
                "device-tree address {addr:#x} not translated: no ranges entry of the parent bus \
                 covers it"
            ),
            Self::Malformed { len } => write!(
                f,
                "device-tree address not translated: the {len}-byte ranges property is malformed"
            ),
        }
    }
}

/// Reads a `cells`-cell big-endian number from the front of `bytes`, returning it and the rest.
///
/// Zero cells read as 0. More than two cells are accepted only if the extra high cells are
/// zero. Returns `None` if `bytes` is too short or the value does not fit in 64 bits.
pub fn read_cells(bytes: &[u8], cells: usize) -> Option<(u64, &[u8])> {
    let len = cells.checked_mul(4)?;
    let (number, rest) = (bytes.get(..len)?, bytes.get(len..)?);
    let mut value: u64 = 0;
    for cell in number.chunks_exact(4) {
        if value >> 32 != 0 {
            return None;
        }
        let cell = u32::from_be_bytes([cell[0], cell[1], cell[2], cell[3]]);
        value = (value << 32) | u64::from(cell);
    }
    Some((value, rest))
}

/// Translates child bus address `addr` into the parent's address space using `ranges`.
///
/// `None` ranges give [`TranslateError::NoRanges`]; empty ranges translate 1:1. Otherwise the
/// first entry whose child window `[child, child + size)` contains `addr` gives
/// `parent + (addr - child)`.
pub fn translate(
    addr: u64,
    ranges: Option<&[u8]>,
    child_addr_cells: usize,
    parent_addr_cells: usize,
    child_size_cells: usize,
) -> Result<u64, TranslateError> {
    let ranges = ranges.ok_or(TranslateError::NoRanges)?;
    if ranges.is_empty() {
        return Ok(addr);
    }
    let malformed = TranslateError::Malformed { len: ranges.len() };
    let entry_cells = child_addr_cells
        .checked_add(parent_addr_cells)
        .and_then(|n| n.checked_add(child_size_cells))
        .ok_or(malformed)?;
    if child_addr_cells == 0 || parent_addr_cells == 0 {
        return Err(malformed);
    }
    let entry_len = entry_cells.checked_mul(4).ok_or(malformed)?;
    if ranges.len() % entry_len != 0 {
        return Err(malformed);
    }
    let mut rest = ranges;
    while !rest.is_empty() {
        let (child, r) = read_cells(rest, child_addr_cells).ok_or(malformed)?;
        let (parent, r) = read_cells(r, parent_addr_cells).ok_or(malformed)?;
        let (size, r) = read_cells(r, child_size_cells).ok_or(malformed)?;
        rest = r;
        if addr >= child && addr - child < size {
            return parent.checked_add(addr - child).ok_or(malformed);
        }
    }
    Err(TranslateError::NotMapped { addr })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encodes cells as big-endian bytes.
    fn cells(values: &[u32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    /// The Raspberry Pi 4 `/soc` ranges: child cells 1, parent cells 2, size cells 1.
    fn pi4_soc_ranges() -> Vec<u8> {
        cells(&[
            0x7e00_0000,
            0x0,
            0xfe00_0000,
            0x0180_0000, //
            0x7c00_0000,
            0x0,
            0xfc00_0000,
            0x0200_0000, //
            0x4000_0000,
            0x0,
            0xff80_0000,
            0x0080_0000,
        ])
    }

    fn pi4(addr: u64) -> Result<u64, TranslateError> {
        translate(addr, Some(&pi4_soc_ranges()), 1, 2, 1)
    }

    #[test]
    fn read_cells_widths() {
        let bytes = cells(&[0x1234_5678, 0x9abc_def0, 0x1]);
        assert_eq!(read_cells(&bytes, 0), Some((0, &bytes[..])));
        assert_eq!(read_cells(&bytes, 1), Some((0x1234_5678, &bytes[4..])));
        assert_eq!(
            read_cells(&bytes, 2),
            Some((0x1234_5678_9abc_def0, &bytes[8..]))
        );
        assert_eq!(read_cells(&bytes, 3), None);
        assert_eq!(read_cells(&bytes, 4), None);
        assert_eq!(read_cells(&bytes[..7], 2), None);
        assert_eq!(read_cells(&bytes, usize::MAX), None);
    }

    #[test]
    fn read_cells_wide_with_zero_high_cells() {
        let bytes = cells(&[0, 0, 0x1, 0x2, 0xff]);
        assert_eq!(read_cells(&bytes, 4), Some((0x1_0000_0002, &bytes[16..])));
        let bytes = cells(&[0, 0x1, 0x2, 0x3]);
        assert_eq!(read_cells(&bytes, 3), Some((0x1_0000_0002, &bytes[12..])));
        let bytes = cells(&[0x1, 0x0, 0x2]);
        assert_eq!(read_cells(&bytes, 3), None);
    }

    #[test]
    fn raspberry_pi_4_soc_windows() {
        assert_eq!(pi4(0x7e20_1000), Ok(0xfe20_1000)); // PL011 UART
        assert_eq!(pi4(0x7e00_0000), Ok(0xfe00_0000));
        assert_eq!(pi4(0x7f7f_ffff), Ok(0xff7f_ffff));
        assert_eq!(pi4(0x7c00_0000), Ok(0xfc00_0000));
        assert_eq!(pi4(0x7dff_ffff), Ok(0xfdff_ffff));
        assert_eq!(pi4(0x4004_1000), Ok(0xff84_1000)); // GIC-400 distributor
        assert_eq!(pi4(0x407f_ffff), Ok(0xffff_ffff));
    }

    #[test]
    fn raspberry_pi_4_unmapped_addresses() {
        for addr in [
            0x0,
            0x3fff_ffff,
            0x4080_0000,
            0x7bff_ffff,
            0x7f80_0000,
            u64::MAX,
        ] {
            assert_eq!(pi4(addr), Err(TranslateError::NotMapped { addr }));
        }
    }

    #[test]
    fn absent_and_empty_ranges() {
        assert_eq!(
            translate(0x1234, None, 1, 2, 1),
            Err(TranslateError::NoRanges)
        );
        assert_eq!(translate(0x1234, Some(&[]), 1, 2, 1), Ok(0x1234));
    }

    #[test]
    fn two_cell_addresses_and_sizes() {
        let ranges = cells(&[0x0, 0x8000_0000, 0x6, 0x0, 0x0, 0x1000_0000]);
        let t = |addr| translate(addr, Some(&ranges), 2, 2, 2);
        assert_eq!(t(0x8000_1000), Ok(0x6_0000_1000));
        assert_eq!(
            t(0x9000_0000),
            Err(TranslateError::NotMapped { addr: 0x9000_0000 })
        );
        let ranges = cells(&[0x0, 0x0, 0x6, 0x0, 0x1, 0x0]);
        let t = |addr| translate(addr, Some(&ranges), 2, 2, 2);
        assert_eq!(t(0x1234), Ok(0x6_0000_1234));
        assert_eq!(t(0xffff_ffff), Ok(0x6_ffff_ffff));
        assert_eq!(
            t(0x1_0000_0000),
            Err(TranslateError::NotMapped {
                addr: 0x1_0000_0000
            })
        );
    }

    #[test]
    fn malformed_properties() {
        let ranges = pi4_soc_ranges();
        let len = ranges.len() - 4;
        assert_eq!(
            translate(0x7e00_0000, Some(&ranges[..len]), 1, 2, 1),
            Err(TranslateError::Malformed { len })
        );
        let len = ranges.len();
        // Zero address cells cannot describe a window.
        assert_eq!(
            translate(0x7e00_0000, Some(&ranges), 0, 2, 2),
            Err(TranslateError::Malformed { len })
        );
        assert_eq!(
            translate(0x7e00_0000, Some(&ranges), usize::MAX, 2, 1),
            Err(TranslateError::Malformed { len })
        );
        // A three-cell child address with a non-zero high cell (as on PCI) does not fit.
        let wide = cells(&[0x0200_0000, 0x0, 0x0, 0x0, 0x6_0000, 0x1000]);
        assert_eq!(
            translate(0x0, Some(&wide), 3, 2, 1),
            Err(TranslateError::Malformed { len: 24 })
        );
        // A parent window that runs past 2^64.
        let high = cells(&[0x0, 0xffff_ffff, 0xffff_f000, 0x2000]);
        assert_eq!(
            translate(0x1800, Some(&high), 1, 2, 1),
            Err(TranslateError::Malformed { len: 16 })
        );
        assert_eq!(
            translate(0x0800, Some(&high), 1, 2, 1),
            Ok(0xffff_ffff_ffff_f800)
        );
    }

    #[test]
    fn zero_size_cells_never_match() {
        let ranges = cells(&[0x1000, 0x2000]);
        assert_eq!(
            translate(0x1000, Some(&ranges), 1, 1, 0),
            Err(TranslateError::NotMapped { addr: 0x1000 })
        );
    }

    #[test]
    fn errors_display_as_sentences() {
        assert!(TranslateError::NoRanges
            .to_string()
            .contains("no ranges property"));
        assert!(TranslateError::NotMapped { addr: 0x10 }
            .to_string()
            .contains("0x10"));
        assert!(TranslateError::Malformed { len: 7 }
            .to_string()
            .contains("7-byte"));
    }
}
