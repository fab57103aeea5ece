//! Checking a static AArch64 ELF executable before it is loaded into a new user address space.
//!
//! [`parse`] reads the ELF header and the program headers and returns the entry point and the
//! `PT_LOAD` segments, or says precisely why the file cannot run on Keel. Everything the loader
//! later relies on is checked here, so the loader only copies bytes and maps pages:
//!
//! - a 64-bit, little-endian, AArch64 file of type `ET_EXEC` (no `PT_INTERP`, no `PT_DYNAMIC`,
//!   and no position-independent `ET_DYN`: Keel loads static executables at their link address);
//! - every segment's file bytes inside the file, `memsz >= filesz`, and its pages (the range
//!   rounded out to [`PAGE_SIZE`]) inside the user range given by the caller;
//! - no segment both writable and executable, no two segments sharing a page (each page gets the
//!   permissions of exactly one segment), and `vaddr` congruent to `offset` modulo the page size
//!   for segments with file bytes (so file pages can be mapped as they are);
//! - the entry point inside an executable segment.
//!
//! Segment numbers in messages are program header indices counted from 0, as `readelf -l`
//! numbers them. Program headers other than `PT_LOAD` (`PT_GNU_STACK`, `PT_NOTE`...) are ignored,
//! as are `PT_LOAD` entries with `memsz == 0`.
//!
//! The structures are goblin's `elf64` ones, filled field by field from little-endian bytes:
//! the input needs no particular alignment and nothing is allocated.

use core::fmt;

use goblin::elf64::header::{
    self as eh, Header, EI_CLASS, EI_DATA, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB,
    ELFMAG, EM_AARCH64, ET_CORE, ET_DYN, ET_EXEC, ET_REL, SELFMAG, SIZEOF_EHDR,
};
use goblin::elf64::program_header::{
    ProgramHeader, PF_W, PF_X, PT_DYNAMIC, PT_INTERP, PT_LOAD, SIZEOF_PHDR,
};

use crate::pagetable::PAGE_SIZE;

/// Most `PT_LOAD` segments (with a non-zero `memsz`) an executable may have.
pub const MAX_SEGMENTS: usize = 8;

/// A loadable segment: `filesz` bytes from `offset` in the file go to `vaddr`, and the rest of
/// the `memsz` bytes are zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// User virtual address of the first byte.
    pub vaddr: u64,
    /// Bytes in memory (at least `filesz`, never 0).
    pub memsz: u64,
    /// Offset of the file bytes in the file.
    pub offset: u64,
    /// Bytes taken from the file.
    pub filesz: u64,
    /// Mapped writable (never together with `exec`).
    pub write: bool,
    /// Mapped executable (never together with `write`).
    pub exec: bool,
}

impl Segment {
    /// Returns the page-aligned `[start, end)` range of user addresses the segment occupies.
    ///
    /// For a segment returned by [`parse`] this never overflows and lies inside the user range.
    pub const fn page_range(&self) -> (u64, u64) {
        let start = self.vaddr & !(PAGE_SIZE - 1);
        let end = self.vaddr.saturating_add(self.memsz);
        let end = match end.checked_next_multiple_of(PAGE_SIZE) {
            Some(e) => e,
            None => !(PAGE_SIZE - 1),
        };
        (start, end)
    }
}

/// A checked executable: where to start and what to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Executable {
    /// Address of the first instruction (inside an executable segment).
    pub entry: u64,
    /// The loadable segments in program header order; the first [`Executable::segments`]
    /// entries are `Some`, the rest `None`.
    pub segments: [Option<Segment>; MAX_SEGMENTS],
}

impl Executable {
    /// Returns the loadable segments in program header order.
    pub fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.segments.iter().flatten()
    }
}

/// Why a file was refused by [`parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecError {
    /// The file does not start with `\x7fELF`.
    BadMagic,
    /// The ELF class (`e_ident[EI_CLASS]`) is not 64-bit.
    Class(u8),
    /// The data encoding (`e_ident[EI_DATA]`) is not little-endian.
    ByteOrder(u8),
    /// The file is shorter than an ELF64 header.
    TruncatedHeader {
        /// The file's length.
        len: usize,
    },
    /// `e_machine` is not `EM_AARCH64`.
    Machine(u16),
    /// `e_type` is neither `ET_EXEC` nor `ET_DYN`.
    NotExecutable(u16),
    /// A `PT_INTERP` or `PT_DYNAMIC` program header: the file needs a dynamic linker.
    Dynamic {
        /// Index of the program header.
        index: usize,
        /// Its `p_type`.
        p_type: u32,
    },
    /// An `ET_DYN` file without `PT_INTERP`: a static position-independent executable.
    PositionIndependent,
    /// `e_phentsize` is not the size of an ELF64 program header.
    PhentSize(u16),
    /// The program header table does not fit in the file.
    PhdrsOutOfBounds {
        /// `e_phoff`.
        offset: u64,
        /// `e_phnum`.
        count: u16,
        /// The file's length.
        len: usize,
    },
    /// A segment's file bytes reach past the end of the file.
    FileRange {
        /// Index of the program header.
        index: usize,
        /// The segment's `p_vaddr`.
        vaddr: u64,
        /// Its `p_offset`.
        offset: u64,
        /// Its `p_filesz`.
        filesz: u64,
        /// The file's length.
        len: usize,
    },
    /// A segment's `memsz` is smaller than its `filesz`.
    MemszSmallerThanFilesz {
        /// Index of the program header.
        index: usize,
        /// Its `p_memsz`.
        memsz: u64,
        /// Its `p_filesz`.
        filesz: u64,
    },
    /// A segment's pages are not all inside the user range.
    OutsideUserSpace {
        /// Index of the program header.
        index: usize,
        /// The segment's `p_vaddr`.
        vaddr: u64,
        /// Its `p_memsz`.
        memsz: u64,
        /// The first user address.
        user_start: u64,
        /// One past the last user address.
        user_end: u64,
    },
    /// A segment is both writable and executable.
    WriteExec {
        /// Index of the program header.
        index: usize,
        /// The segment's `p_vaddr`.
        vaddr: u64,
    },
    /// Two segments share at least one page.
    Overlap {
        /// Index of the earlier program header.
        first: usize,
        /// Index of the later program header.
        second: usize,
    },
    /// A segment's `vaddr` and `offset` differ modulo the page size.
    Misaligned {
        /// Index of the program header.
        index: usize,
        /// The segment's `p_vaddr`.
        vaddr: u64,
        /// Its `p_offset`.
        offset: u64,
    },
    /// The entry point is not inside an executable segment.
    EntryNotExecutable {
        /// `e_entry`.
        entry: u64,
    },
    /// No `PT_LOAD` segment with a non-zero size.
    NoLoadableSegments,
    /// More than [`MAX_SEGMENTS`] loadable segments.
    TooManySegments {
        /// Index of the first program header that did not fit.
        index: usize,
    },
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadMagic => f.write_str("not an ELF file (bad magic)"),
            Self::Class(ELFCLASS32) => {
                f.write_str("ELF class 32-bit: Keel runs 64-bit executables")
            }
            Self::Class(c) => write!(f, "unknown ELF class {c}: Keel runs 64-bit executables"),
            Self::ByteOrder(ELFDATA2MSB) => {
                f.write_str("big-endian ELF: Keel runs little-endian executables")
            }
            Self::ByteOrder(d) => write!(
                f,
                "unknown ELF data encoding {d}: Keel runs little-endian executables"
            ),
            Self::TruncatedHeader { len } => write!(
                f,
                "the {len}-byte file is too short for an ELF header ({SIZEOF_EHDR} bytes)"
            ),
            Self::Machine(m) => write!(
                f,
                "machine {} ({m}): not an AArch64 executable",
                eh::machine_to_str(m)
            ),
            Self::NotExecutable(ET_REL) => {
                f.write_str("a relocatable object, not an executable (ET_REL)")
            }
            Self::NotExecutable(ET_CORE) => f.write_str("a core dump, not an executable (ET_CORE)"),
            Self::NotExecutable(t) => write!(f, "ELF type {t:#x}: not an executable"),
            Self::Dynamic { index, p_type } => write!(
                f,
                "a dynamically linked executable (segment {index} is {}): \
                 Keel runs static executables only",
                if p_type == PT_INTERP {
                    "PT_INTERP"
                } else {
                    "PT_DYNAMIC"
                }
            ),
            Self::PositionIndependent => f.write_str(
                "a position-independent executable (ET_DYN): \
                 Keel runs static executables linked at a fixed address (ET_EXEC)",
            ),
            Self::PhentSize(size) => write!(
                f,
                "program header entries of {size} bytes: ELF64 program headers are {SIZEOF_PHDR}"
            ),
            Self::PhdrsOutOfBounds { offset, count, len } => write!(
                f,
                "program header table out of bounds: {count} entries at {offset:#x} \
                 do not fit in the {len}-byte file"
            ),
            Self::FileRange {
                index,
                vaddr,
                offset,
                filesz,
                len,
            } => write!(
                f,
                "segment {index} at {vaddr:#x}: file range {offset:#x}+{filesz:#x} \
                 is past the end of the {len}-byte file"
            ),
            Self::MemszSmallerThanFilesz {
                index,
                memsz,
                filesz,
            } => write!(
                f,
                "segment {index}: memsz {memsz:#x} smaller than filesz {filesz:#x}"
            ),
            Self::OutsideUserSpace {
                index,
                vaddr,
                memsz,
                user_start,
                user_end,
            } => write!(
                f,
                "segment {index} at {vaddr:#x}: {vaddr:#x}+{memsz:#x} is outside user space \
                 {user_start:#x}-{user_end:#x}"
            ),
            Self::WriteExec { index, vaddr } => write!(
                f,
                "segment {index} at {vaddr:#x}: writable and executable (W^X)"
            ),
            Self::Overlap { first, second } => write!(
                f,
                "segments {first} and {second} overlap (they share at least one page)"
            ),
            Self::Misaligned {
                index,
                vaddr,
                offset,
            } => write!(
                f,
                "segment {index}: vaddr {vaddr:#x} and offset {offset:#x} disagree modulo \
                 the page size ({PAGE_SIZE:#x})"
            ),
            Self::EntryNotExecutable { entry } => write!(
                f,
                "entry point {entry:#x} is not inside an executable segment"
            ),
            Self::NoLoadableSegments => f.write_str("no loadable segments"),
            Self::TooManySegments { index } => write!(
                f,
                "too many loadable segments: segment {index} is past the limit of {MAX_SEGMENTS}"
            ),
        }
    }
}

/// Reads a little-endian `u16` at `at`; bytes past the end of `b` read as 0.
fn le_u16(b: &[u8], at: usize) -> u16 {
    let mut a = [0; 2];
    if let Some(s) = b.get(at..at.saturating_add(2)) {
        a.copy_from_slice(s);
    }
    u16::from_le_bytes(a)
}

/// Reads a little-endian `u32` at `at`; bytes past the end of `b` read as 0.
fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    if let Some(s) = b.get(at..at.saturating_add(4)) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

/// Reads a little-endian `u64` at `at`; bytes past the end of `b` read as 0.
fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    if let Some(s) = b.get(at..at.saturating_add(8)) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// Decodes an ELF64 little-endian header from its [`SIZEOF_EHDR`] bytes.
fn read_header(b: &[u8]) -> Header {
    let mut e_ident = [0; 16];
    if let Some(s) = b.get(..16) {
        e_ident.copy_from_slice(s);
    }
    Header {
        e_ident,
        e_type: le_u16(b, 16),
        e_machine: le_u16(b, 18),
        e_version: le_u32(b, 20),
        e_entry: le_u64(b, 24),
        e_phoff: le_u64(b, 32),
        e_shoff: le_u64(b, 40),
        e_flags: le_u32(b, 48),
        e_ehsize: le_u16(b, 52),
        e_phentsize: le_u16(b, 54),
        e_phnum: le_u16(b, 56),
        e_shentsize: le_u16(b, 58),
        e_shnum: le_u16(b, 60),
        e_shstrndx: le_u16(b, 62),
    }
}

/// Decodes an ELF64 little-endian program header from its [`SIZEOF_PHDR`] bytes.
fn read_phdr(b: &[u8]) -> ProgramHeader {
    ProgramHeader {
        p_type: le_u32(b, 0),
        p_flags: le_u32(b, 4),
        p_offset: le_u64(b, 8),
        p_vaddr: le_u64(b, 16),
        p_paddr: le_u64(b, 24),
        p_filesz: le_u64(b, 32),
        p_memsz: le_u64(b, 40),
        p_align: le_u64(b, 48),
    }
}

/// The program headers of a file whose table has been bounds-checked.
struct Phdrs<'a> {
    /// The table's bytes, a whole number of entries.
    table: &'a [u8],
}

impl Phdrs<'_> {
    /// Returns the program headers with their indices.
    fn iter(&self) -> impl Iterator<Item = (usize, ProgramHeader)> + '_ {
        self.table
            .chunks_exact(SIZEOF_PHDR)
            .map(read_phdr)
            .enumerate()
    }
}

/// Checks the identification bytes and the header and returns the header and the program
/// header table.
fn check_header(bytes: &[u8]) -> Result<(Header, Phdrs<'_>), ExecError> {
    if bytes.get(..SELFMAG) != Some(&ELFMAG[..]) {
        return Err(ExecError::BadMagic);
    }
    let class = bytes.get(EI_CLASS).copied().unwrap_or(0);
    if class != ELFCLASS64 {
        return Err(ExecError::Class(class));
    }
    let data = bytes.get(EI_DATA).copied().unwrap_or(0);
    if data != ELFDATA2LSB {
        return Err(ExecError::ByteOrder(data));
    }
    let Some(raw) = bytes.get(..SIZEOF_EHDR) else {
        return Err(ExecError::TruncatedHeader { len: bytes.len() });
    };
    let header = read_header(raw);
    if header.e_machine != EM_AARCH64 {
        return Err(ExecError::Machine(header.e_machine));
    }
    if header.e_type != ET_EXEC && header.e_type != ET_DYN {
        return Err(ExecError::NotExecutable(header.e_type));
    }
    if header.e_phnum == 0 {
        return Err(ExecError::NoLoadableSegments);
    }
    if usize::from(header.e_phentsize) != SIZEOF_PHDR {
        return Err(ExecError::PhentSize(header.e_phentsize));
    }
    let out_of_bounds = ExecError::PhdrsOutOfBounds {
        offset: header.e_phoff,
        count: header.e_phnum,
        len: bytes.len(),
    };
    let start = usize::try_from(header.e_phoff).map_err(|_| out_of_bounds)?;
    let table = usize::from(header.e_phnum)
        .checked_mul(SIZEOF_PHDR)
        .and_then(|size| start.checked_add(size))
        .and_then(|end| bytes.get(start..end))
        .ok_or(out_of_bounds)?;
    Ok((header, Phdrs { table }))
}

/// Checks one `PT_LOAD` program header on its own and returns it as a segment, or `None` if it
/// occupies no memory.
fn check_load(
    index: usize,
    ph: &ProgramHeader,
    file_len: usize,
    user_start: u64,
    user_end: u64,
) -> Result<Option<Segment>, ExecError> {
    if ph.p_memsz < ph.p_filesz {
        return Err(ExecError::MemszSmallerThanFilesz {
            index,
            memsz: ph.p_memsz,
            filesz: ph.p_filesz,
        });
    }
    let in_file = ph
        .p_offset
        .checked_add(ph.p_filesz)
        .is_some_and(|end| end <= file_len as u64);
    if !in_file {
        return Err(ExecError::FileRange {
            index,
            vaddr: ph.p_vaddr,
            offset: ph.p_offset,
            filesz: ph.p_filesz,
            len: file_len,
        });
    }
    if ph.p_memsz == 0 {
        return Ok(None);
    }
    let write = ph.p_flags & PF_W != 0;
    let exec = ph.p_flags & PF_X != 0;
    if write && exec {
        return Err(ExecError::WriteExec {
            index,
            vaddr: ph.p_vaddr,
        });
    }
    let page_start = ph.p_vaddr & !(PAGE_SIZE - 1);
    let page_end = ph
        .p_vaddr
        .checked_add(ph.p_memsz)
        .and_then(|end| end.checked_next_multiple_of(PAGE_SIZE));
    let inside = page_end.is_some_and(|end| page_start >= user_start && end <= user_end);
    if !inside {
        return Err(ExecError::OutsideUserSpace {
            index,
            vaddr: ph.p_vaddr,
            memsz: ph.p_memsz,
            user_start,
            user_end,
        });
    }
    if ph.p_filesz != 0 && ph.p_vaddr % PAGE_SIZE != ph.p_offset % PAGE_SIZE {
        return Err(ExecError::Misaligned {
            index,
            vaddr: ph.p_vaddr,
            offset: ph.p_offset,
        });
    }
    Ok(Some(Segment {
        vaddr: ph.p_vaddr,
        memsz: ph.p_memsz,
        offset: ph.p_offset,
        filesz: ph.p_filesz,
        write,
        exec,
    }))
}

/// Checks that `bytes` is a static AArch64 executable whose segments fit in the user range
/// `[user_start, user_end)`, and returns its entry point and loadable segments.
///
/// See the [module documentation](self) for the full list of checks. Never panics, whatever the
/// bytes.
pub fn parse(bytes: &[u8], user_start: u64, user_end: u64) -> Result<Executable, ExecError> {
    let (header, phdrs) = check_header(bytes)?;

    // A dynamic executable is named as such before its segments are judged: a PIE linked at 0
    // would otherwise be reported as "outside user space", which hides the real reason.
    if let Some((index, ph)) = phdrs
        .iter()
        .find(|(_, ph)| ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC)
    {
        return Err(ExecError::Dynamic {
            index,
            p_type: ph.p_type,
        });
    }
    if header.e_type == ET_DYN {
        return Err(ExecError::PositionIndependent);
    }

    let mut exe = Executable {
        entry: header.e_entry,
        segments: [None; MAX_SEGMENTS],
    };
    // Program header index of each segment kept, for the overlap message.
    let mut indices = [0usize; MAX_SEGMENTS];
    let mut count = 0;
    for (index, ph) in phdrs.iter().filter(|(_, ph)| ph.p_type == PT_LOAD) {
        let Some(seg) = check_load(index, &ph, bytes.len(), user_start, user_end)? else {
            continue;
        };
        if count == MAX_SEGMENTS {
            return Err(ExecError::TooManySegments { index });
        }
        let (start, end) = seg.page_range();
        for (earlier, &first) in exe.segments.iter().flatten().zip(&indices) {
            let (s, e) = earlier.page_range();
            if start < e && s < end {
                return Err(ExecError::Overlap {
                    first,
                    second: index,
                });
            }
        }
        exe.segments[count] = Some(seg);
        indices[count] = index;
        count += 1;
    }
    if count == 0 {
        return Err(ExecError::NoLoadableSegments);
    }
    let entry_ok = exe
        .segments()
        .any(|s| s.exec && s.vaddr <= exe.entry && exe.entry - s.vaddr < s.memsz);
    if !entry_ok {
        return Err(ExecError::EntryNotExecutable { entry: exe.entry });
    }
    Ok(exe)
}

#[cfg(test)]
mod tests;
