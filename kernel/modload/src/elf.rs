//! Bounds-checked little-endian reads of the ELF64 structures the loader needs.
//!
//! The loader reads headers straight out of the caller's byte slice with checked
//! arithmetic instead of going through `goblin::elf::Elf::parse`, which allocates tables and
//! is not meant for hostile input. goblin still supplies the constants and their names.

/// Size of the ELF64 file header.
pub(crate) const EHDR_SIZE: usize = 64;
/// Size of one ELF64 section header.
pub(crate) const SHDR_SIZE: usize = 64;
/// Size of one ELF64 symbol.
pub(crate) const SYM_SIZE: usize = 24;
/// Size of one ELF64 `Rela` entry.
pub(crate) const RELA_SIZE: usize = 24;

/// Reads `N` bytes at `off`, or `None` if they are not all inside `bytes`.
fn array<const N: usize>(bytes: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    bytes.get(off..end)?.try_into().ok()
}

/// Fields of a fixed-size record that was read whole with [`array`]: every offset is a constant
/// inside it, so these reads cannot fail (and compile to plain loads).
struct Fields<const N: usize>([u8; N]);

impl<const N: usize> Fields<N> {
    fn u16(&self, off: usize) -> u16 {
        u16_at(&self.0, off).unwrap_or(0)
    }
    fn u32(&self, off: usize) -> u32 {
        u32_at(&self.0, off).unwrap_or(0)
    }
    fn u64(&self, off: usize) -> u64 {
        u64_at(&self.0, off).unwrap_or(0)
    }
}

/// Reads a little-endian `u16` at `off`.
pub(crate) fn u16_at(bytes: &[u8], off: usize) -> Option<u16> {
    array(bytes, off).map(u16::from_le_bytes)
}

/// Reads a little-endian `u32` at `off`.
pub(crate) fn u32_at(bytes: &[u8], off: usize) -> Option<u32> {
    array(bytes, off).map(u32::from_le_bytes)
}

/// Reads a little-endian `u64` at `off`.
pub(crate) fn u64_at(bytes: &[u8], off: usize) -> Option<u64> {
    array(bytes, off).map(u64::from_le_bytes)
}

/// One section header.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Shdr {
    pub name: u32,
    pub sh_type: u32,
    pub flags: u64,
    pub offset: u64,
    pub size: u64,
    pub link: u32,
    pub info: u32,
    pub addralign: u64,
    pub entsize: u64,
}

impl Shdr {
    /// Decodes the section header at `off`.
    pub(crate) fn read(bytes: &[u8], off: usize) -> Option<Shdr> {
        // One bounds check for the whole header.
        let f = Fields::<SHDR_SIZE>(array(bytes, off)?);
        Some(Shdr {
            name: f.u32(0),
            sh_type: f.u32(4),
            flags: f.u64(8),
            offset: f.u64(24),
            size: f.u64(32),
            link: f.u32(40),
            info: f.u32(44),
            addralign: f.u64(48),
            entsize: f.u64(56),
        })
    }
}

/// One symbol table entry.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sym {
    pub name: u32,
    pub info: u8,
    pub other: u8,
    pub shndx: u16,
    pub value: u64,
    pub size: u64,
}

impl Sym {
    /// Decodes the symbol at `off`.
    pub(crate) fn read(bytes: &[u8], off: usize) -> Option<Sym> {
        let f = Fields::<SYM_SIZE>(array(bytes, off)?);
        Some(Sym {
            name: f.u32(0),
            info: f.0[4],
            other: f.0[5],
            shndx: f.u16(6),
            value: f.u64(8),
            size: f.u64(16),
        })
    }

    /// The symbol's binding (`STB_*`).
    pub(crate) fn bind(&self) -> u8 {
        self.info >> 4
    }

    /// The symbol's type (`STT_*`).
    pub(crate) fn kind(&self) -> u8 {
        self.info & 0xf
    }

    /// The symbol's visibility (`STV_*`).
    pub(crate) fn visibility(&self) -> u8 {
        self.other & 0x3
    }
}

/// One relocation with an explicit addend.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rela {
    pub offset: u64,
    pub sym: u32,
    pub r_type: u32,
    pub addend: i64,
}

impl Rela {
    /// Decodes the relocation at `off`.
    pub(crate) fn read(bytes: &[u8], off: usize) -> Option<Rela> {
        let f = Fields::<RELA_SIZE>(array(bytes, off)?);
        let info = f.u64(8);
        Some(Rela {
            offset: f.u64(0),
            // The high half is the symbol index, the low half the type: truncation intended.
            sym: (info >> 32) as u32,
            r_type: info as u32,
            addend: f.u64(16) as i64,
        })
    }
}

/// Whether the NUL-terminated string at `off` in `table` is `name`: a byte comparison, without
/// the UTF-8 check of [`str_at`] (a string equal to `name` is UTF-8).
pub(crate) fn str_is(table: &[u8], off: u32, name: &str) -> bool {
    let Ok(start) = usize::try_from(off) else {
        return false;
    };
    let name = name.as_bytes();
    table
        .get(start..)
        .and_then(|rest| rest.get(..=name.len()))
        .is_some_and(|s| s[..name.len()] == *name && s[name.len()] == 0)
}

/// Returns the NUL-terminated string at `off` in `table`, if it is in bounds and UTF-8.
pub(crate) fn str_at(table: &[u8], off: u32) -> Result<&str, &'static str> {
    let start = usize::try_from(off).map_err(|_| "offset past the end of the table")?;
    let rest = table
        .get(start..)
        .ok_or("offset past the end of the table")?;
    if rest.is_empty() {
        return Err("offset past the end of the table");
    }
    let len = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or("name is not NUL-terminated")?;
    let raw = rest.get(..len).ok_or("name is not NUL-terminated")?;
    core::str::from_utf8(raw).map_err(|_| "name is not valid UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_is_compares_whole_names() {
        let table = b"\0.text\0.text.hot\0\xff\0";
        assert!(str_is(table, 1, ".text"));
        assert!(!str_is(table, 1, ".tex"));
        assert!(!str_is(table, 1, ".text.hot"));
        assert!(str_is(table, 7, ".text.hot"));
        assert!(str_is(table, 0, ""));
        assert!(!str_is(table, 17, "x"));
        assert!(!str_is(table, 99, ""));
        assert_eq!(str_at(table, 7), Ok(".text.hot"));
    }
}
