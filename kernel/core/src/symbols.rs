//! The kernel symbol table embedded in the kernel image, used to symbolize backtraces.
//!
//! # Format (version 1, all integers little endian)
//!
//! | offset          | size            | field                                              |
//! |-----------------|-----------------|----------------------------------------------------|
//! | 0               | 4               | magic `b"KSYM"`                                    |
//! | 4               | 4               | `u32` version, 1                                   |
//! | 8               | 4               | `u32` count: number of entries                     |
//! | 12              | 4               | `u32` strings_len: size of the string table        |
//! | 16              | 16 × count      | entries `{ u64 addr, u32 size, u32 name_off }`     |
//! | 16 + 16 × count | strings_len     | string table                                       |
//!
//! Entries are sorted by `addr` (non-decreasing). `size` is the symbol's size in bytes; 0 means
//! unknown, in which case the symbol extends to the next symbol's address. `name_off` is a byte
//! offset into the string table, where the name is stored as a `u16` length followed by that
//! many UTF-8 bytes (no NUL terminator). Bytes after the string table are ignored, so the blob
//! may be padded.
//!
//! Lookups validate what they touch and never panic on malformed input. With the `alloc`
//! feature, [`encode`] builds a blob and [`demangle`] turns Rust legacy-mangled names into
//! paths.

use core::fmt;

#[cfg(feature = "alloc")]
mod encode;
#[cfg(feature = "alloc")]
pub use encode::{demangle, encode, Demangled};

/// The four bytes every symbol table starts with.
pub const MAGIC: [u8; 4] = *b"KSYM";
/// The format version this module reads and writes.
pub const VERSION: u32 = 1;
/// Size of the header in bytes.
pub const HEADER_LEN: usize = 16;
/// Size of one entry in bytes.
pub const ENTRY_LEN: usize = 16;

/// A symbol found by [`lookup`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol<'a> {
    /// The symbol's (possibly mangled) name.
    pub name: &'a str,
    /// The symbol's start address.
    pub addr: u64,
    /// How far the looked-up address lies past the start.
    pub offset: u64,
}

/// Why a symbol table blob was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolError {
    /// The blob is shorter than the header.
    TooShort {
        /// The blob's length.
        len: usize,
    },
    /// The blob does not start with [`MAGIC`].
    BadMagic,
    /// The header names a version other than [`VERSION`].
    BadVersion {
        /// The version found.
        version: u32,
    },
    /// The header's entry count and string table size do not fit in the blob.
    Truncated {
        /// The number of bytes the header requires.
        needed: u64,
        /// The blob's length.
        len: usize,
    },
    /// An entry's name lies (partly) outside the string table.
    NameOutOfBounds {
        /// The entry's index.
        index: usize,
    },
    /// An entry's name is not valid UTF-8.
    NameNotUtf8 {
        /// The entry's index.
        index: usize,
    },
    /// An entry's address is lower than its predecessor's.
    Unsorted {
        /// The entry's index.
        index: usize,
    },
}

impl fmt::Display for SymbolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooShort { len } => write!(
                f,
                "symbol table rejected: it is {len} bytes long, shorter than its {HEADER_LEN}-byte header"
            ),
            Self::BadMagic => {
                f.write_str("symbol table rejected: it does not start with the magic \"KSYM\"")
            }
            Self::BadVersion { version } => write!(
                f,
                "symbol table rejected: its version is {version}, but only version {VERSION} is understood"
            ),
            Self::Truncated { needed, len } => write!(
                f,
                "symbol table rejected: its header needs {needed} bytes but the blob has only {len}"
            ),
            Self::NameOutOfBounds { index } => write!(
                f,
                "symbol table rejected: the name of entry {index} lies outside the string table"
            ),
            Self::NameNotUtf8 { index } => write!(
                f,
                "symbol table rejected: the name of entry {index} is not valid UTF-8"
            ),
            Self::Unsorted { index } => write!(
                f,
                "symbol table rejected: entry {index} has a lower address than the entry before it"
            ),
        }
    }
}

/// Reads the little-endian `u32` at `off`, if in bounds.
fn read_u32(bytes: &[u8], off: usize) -> Option<u32> {
    let raw = bytes.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(raw.try_into().ok()?))
}

/// Reads the little-endian `u64` at `off`, if in bounds.
fn read_u64(bytes: &[u8], off: usize) -> Option<u64> {
    let raw = bytes.get(off..off.checked_add(8)?)?;
    Some(u64::from_le_bytes(raw.try_into().ok()?))
}

/// A symbol table whose header has been checked against the blob's length.
struct Table<'a> {
    /// The entry array, exactly `count * ENTRY_LEN` bytes.
    entries: &'a [u8],
    /// The string table, exactly `strings_len` bytes.
    strings: &'a [u8],
    /// Number of entries.
    count: usize,
}

/// One decoded entry.
struct Entry {
    /// Start address.
    addr: u64,
    /// Size in bytes, 0 if unknown.
    size: u32,
    /// Offset of the name in the string table.
    name_off: u32,
}

impl<'a> Table<'a> {
    /// Checks the header and splits the blob into entries and strings.
    fn parse(blob: &'a [u8]) -> Result<Self, SymbolError> {
        if blob.len() < HEADER_LEN {
            return Err(SymbolError::TooShort { len: blob.len() });
        }
        if blob.get(..4) != Some(&MAGIC[..]) {
            return Err(SymbolError::BadMagic);
        }
        let too_short = SymbolError::TooShort { len: blob.len() };
        let version = read_u32(blob, 4).ok_or(too_short)?;
        if version != VERSION {
            return Err(SymbolError::BadVersion { version });
        }
        let count = read_u32(blob, 8).ok_or(too_short)?;
        let strings_len = read_u32(blob, 12).ok_or(too_short)?;
        let entries_len = u64::from(count) * ENTRY_LEN as u64;
        let needed = HEADER_LEN as u64 + entries_len + u64::from(strings_len);
        let truncated = SymbolError::Truncated {
            needed,
            len: blob.len(),
        };
        if needed > blob.len() as u64 {
            return Err(truncated);
        }
        // Both fit in the blob, so they fit in usize.
        let entries_end = HEADER_LEN + entries_len as usize;
        let strings_end = entries_end + strings_len as usize;
        Ok(Self {
            entries: blob.get(HEADER_LEN..entries_end).ok_or(truncated)?,
            strings: blob.get(entries_end..strings_end).ok_or(truncated)?,
            count: count as usize,
        })
    }

    /// Decodes entry `index`, which must be below `count` (otherwise `None`).
    fn entry(&self, index: usize) -> Option<Entry> {
        let off = index.checked_mul(ENTRY_LEN)?;
        Some(Entry {
            addr: read_u64(self.entries, off)?,
            size: read_u32(self.entries, off + 8)?,
            name_off: read_u32(self.entries, off + 12)?,
        })
    }

    /// Returns the name of entry `index`.
    fn name(&self, index: usize, entry: &Entry) -> Result<&'a str, SymbolError> {
        let out_of_bounds = SymbolError::NameOutOfBounds { index };
        let off = entry.name_off as usize;
        let start = off.checked_add(2).ok_or(out_of_bounds)?;
        let len_bytes: [u8; 2] = self
            .strings
            .get(off..start)
            .and_then(|b| b.try_into().ok())
            .ok_or(out_of_bounds)?;
        let len = usize::from(u16::from_le_bytes(len_bytes));
        let bytes = self.strings.get(start..start + len).ok_or(out_of_bounds)?;
        core::str::from_utf8(bytes).map_err(|_| SymbolError::NameNotUtf8 { index })
    }

    /// Returns how many entries have an address at or below `addr`, assuming sorted entries.
    fn upper_bound(&self, addr: u64) -> usize {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.entry(mid) {
                Some(e) if e.addr <= addr => lo = mid + 1,
                _ => hi = mid,
            }
        }
        lo
    }
}

/// Checks a whole symbol table (header, every name, ordering) and returns its entry count.
pub fn validate(blob: &[u8]) -> Result<usize, SymbolError> {
    let table = Table::parse(blob)?;
    let mut prev = 0;
    for index in 0..table.count {
        let entry = table
            .entry(index)
            .ok_or(SymbolError::NameOutOfBounds { index })?;
        if entry.addr < prev {
            return Err(SymbolError::Unsorted { index });
        }
        prev = entry.addr;
        table.name(index, &entry)?;
    }
    Ok(table.count)
}

/// Finds the symbol containing `addr`.
///
/// A symbol with a non-zero size contains `[addr, addr + size)`. A symbol with size 0 extends
/// to the next higher symbol address; if it is the last symbol, it contains only its own
/// address. Returns `Ok(None)` when no symbol contains `addr`. Only the header and the entries
/// touched by the binary search are validated; run [`validate`] once to check everything.
pub fn lookup(blob: &[u8], addr: u64) -> Result<Option<Symbol<'_>>, SymbolError> {
    let table = Table::parse(blob)?;
    let below = table.upper_bound(addr);
    let Some(index) = below.checked_sub(1) else {
        return Ok(None);
    };
    let Some(entry) = table.entry(index) else {
        return Ok(None);
    };
    let offset = addr - entry.addr;
    let contained = if entry.size != 0 {
        offset < u64::from(entry.size)
    } else {
        // The next entry (if any) starts above `addr`, so the gap covers it.
        index + 1 < table.count || offset == 0
    };
    if !contained {
        return Ok(None);
    }
    Ok(Some(Symbol {
        name: table.name(index, &entry)?,
        addr: entry.addr,
        offset,
    }))
}

#[cfg(test)]
mod tests;
