//! [`LoadError`]: every way loading a module can fail, with a sentence saying what, where and why.

use alloc::string::String;
use core::fmt;

use crate::reloc::RelocName;

/// Why a relocation could not be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelocProblem {
    /// The computed value lies outside the range the field can hold.
    Overflow {
        /// The value that did not fit.
        value: i128,
        /// The smallest value the field accepts.
        min: i64,
        /// The largest value the field accepts.
        max: i64,
    },
    /// The computed value is not a multiple of the field's scale.
    Misaligned {
        /// The misaligned value.
        value: i128,
        /// The alignment the field needs, in bytes.
        align: u64,
    },
    /// A branch needs a veneer but the veneer area is full (cannot happen for a layout
    /// computed by [`Object::layout`](crate::Object::layout); kept as a guard).
    NoVeneerRoom {
        /// The branch target that was out of range.
        target: u64,
    },
}

/// Everything that can go wrong while parsing, laying out or linking a module.
///
/// Names of sections and symbols are copied into the error so it outlives the object bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The file is shorter than an ELF header.
    TooShort {
        /// The file's length.
        len: usize,
    },
    /// The file does not start with `\x7fELF`.
    BadMagic,
    /// `EI_CLASS` is not `ELFCLASS64`.
    WrongClass {
        /// The class byte found (1 is 32-bit).
        class: u8,
    },
    /// `EI_DATA` is not `ELFDATA2LSB`.
    WrongEndian {
        /// The data-encoding byte found (2 is big endian).
        data: u8,
    },
    /// `EI_VERSION` or `e_version` is not 1.
    WrongVersion {
        /// The version found.
        version: u32,
    },
    /// `e_machine` is not `EM_AARCH64`.
    WrongMachine {
        /// The machine number found.
        machine: u16,
    },
    /// `e_type` is not `ET_REL`.
    NotRelocatable {
        /// The type found.
        e_type: u16,
    },
    /// A file-header field has a value the loader does not accept.
    BadHeader {
        /// The field's name.
        field: &'static str,
        /// The value found.
        value: u64,
        /// Why it is refused.
        why: &'static str,
    },
    /// The section header table does not fit in the file.
    SectionTableOutOfBounds {
        /// `e_shoff`.
        offset: u64,
        /// `e_shnum`.
        count: u16,
        /// The file's length.
        len: usize,
    },
    /// A section header field is invalid.
    BadSection {
        /// The section's index.
        index: usize,
        /// The section's name, if it could be read.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A section's contents lie (partly) outside the file.
    SectionOutOfBounds {
        /// The section's index.
        index: usize,
        /// The section's name.
        name: String,
        /// `sh_offset`.
        offset: u64,
        /// `sh_size`.
        size: u64,
        /// The file's length.
        len: usize,
    },
    /// A symbol is invalid.
    BadSymbol {
        /// The symbol's index.
        index: usize,
        /// The symbol's name, if it could be read.
        name: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A relocation entry is invalid before any value is computed.
    BadRelocation {
        /// The section the relocation patches.
        section: String,
        /// The entry's index within its relocation section.
        index: usize,
        /// The offset it patches.
        offset: u64,
        /// The relocation type.
        r_type: u32,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The relocation type is one the loader does not implement.
    UnsupportedRelocation {
        /// The section the relocation patches.
        section: String,
        /// The offset it patches.
        offset: u64,
        /// The relocation type.
        r_type: u32,
    },
    /// A group of the module's sections adds up to more than
    /// [`MAX_GROUP_SIZE`](crate::MAX_GROUP_SIZE).
    TooLarge {
        /// The group that overflowed (`text`, `rodata`, `data`).
        group: &'static str,
    },
    /// A buffer in the [`Image`](crate::Image) is smaller than the [`Layout`](crate::Layout) asks.
    ImageTooSmall {
        /// The group.
        group: &'static str,
        /// The bytes the layout needs.
        needed: usize,
        /// The bytes the buffer has.
        got: usize,
    },
    /// The [`Layout`](crate::Layout) given to [`Object::link_with`](crate::Object::link_with) is
    /// not this object's.
    WrongLayout,
    /// A prelinked module's section does not land at the offset it records (`sh_addr`) from
    /// the place its other sections give: the placement it was prelinked for is not the
    /// loader's.
    Misplaced {
        /// The section's name.
        section: String,
        /// Its recorded offset (`sh_addr`).
        recorded: u64,
        /// Its offset from the module's base in the image.
        placed: u64,
    },
    /// An entry of a prelinked module's list of relative places is refused.
    BadRelativePlace {
        /// The entry's index.
        entry: usize,
        /// Its offset in the module's span.
        offset: u64,
        /// Why it is refused.
        why: &'static str,
    },
    /// A prelinked module's rodata or data group is not at its offset in the span from the
    /// module's base (its text's address).
    GroupMisplaced {
        /// The group (`rodata`, `data`).
        group: &'static str,
        /// The address given to it.
        va: u64,
        /// The address its span offset asks.
        expected: u64,
    },
    /// A prelinked module's base (the address its offset 0 lands at) is not page-aligned.
    PrelinkedBase {
        /// The base.
        base: u64,
    },
    /// A group's virtual address is not aligned as the layout asks, or the group would wrap.
    BadImageAddress {
        /// The group.
        group: &'static str,
        /// The virtual address given.
        va: u64,
        /// The alignment the layout asks.
        align: usize,
    },
    /// An undefined, non-weak symbol was not known to the resolver.
    UnknownSymbol {
        /// The symbol's name.
        name: String,
        /// The section whose relocation needed it.
        referenced_from: String,
    },
    /// Applying a relocation failed.
    Relocation {
        /// The relocation type.
        r_type: u32,
        /// The section it patches.
        section: String,
        /// The offset it patches.
        offset: u64,
        /// The symbol it refers to (empty for the null symbol).
        symbol: String,
        /// Why it failed.
        problem: RelocProblem,
    },
}

/// Formats a signed 128-bit value as hex with a sign.
struct Hex(i128);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "-{:#x}", self.0.unsigned_abs())
        } else {
            write!(f, "{:#x}", self.0)
        }
    }
}

/// Formats a name, or a placeholder when it is empty.
struct Named<'a>(&'a str);

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("<unnamed>")
        } else {
            f.write_str(self.0)
        }
    }
}

fn machine_name(machine: u16) -> &'static str {
    use goblin::elf::header::*;
    match machine {
        EM_X86_64 => "x86-64",
        EM_386 => "i386",
        EM_ARM => "32-bit Arm",
        EM_RISCV => "RISC-V",
        EM_PPC64 => "PowerPC64",
        _ => machine_to_str(machine),
    }
}

impl fmt::Display for RelocProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelocProblem::Overflow { value, min, max } => write!(
                f,
                "value {} does not fit in the field (allowed {}..={})",
                Hex(*value),
                Hex(i128::from(*min)),
                Hex(i128::from(*max))
            ),
            RelocProblem::Misaligned { value, align } => write!(
                f,
                "value {} is not a multiple of {align} as the instruction requires",
                Hex(*value)
            ),
            RelocProblem::NoVeneerRoom { target } => {
                write!(f, "target {target:#x} out of range and no veneer room")
            }
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use goblin::elf::header::{ET_DYN, ET_EXEC};
        match self {
            LoadError::TooShort { len } => write!(
                f,
                "module is {len} bytes long, shorter than the 64-byte ELF64 header"
            ),
            LoadError::BadMagic => f.write_str("module does not start with the ELF magic \\x7fELF"),
            LoadError::WrongClass { class } => match class {
                1 => f.write_str("module is a 32-bit ELF (ELFCLASS32); Keel loads ELF64 only"),
                _ => write!(f, "module has ELF class {class}, not ELFCLASS64"),
            },
            LoadError::WrongEndian { data } => match data {
                2 => f.write_str("module is big endian (ELFDATA2MSB); Keel loads little-endian ELF only"),
                _ => write!(f, "module has ELF data encoding {data}, not little endian (ELFDATA2LSB)"),
            },
            LoadError::WrongVersion { version } => {
                write!(f, "module has ELF version {version}, not 1 (EV_CURRENT)")
            }
            LoadError::WrongMachine { machine } => write!(
                f,
                "module is built for {} (e_machine {machine}), not AArch64 (EM_AARCH64 = 183)",
                machine_name(*machine)
            ),
            LoadError::NotRelocatable { e_type } => match *e_type {
                ET_EXEC | ET_DYN => write!(
                    f,
                    "module is an executable, not a relocatable object (e_type {} = ET_{}); build it with --emit=obj or ld -r",
                    e_type,
                    goblin::elf::header::et_to_str(*e_type)
                ),
                _ => write!(
                    f,
                    "module has ELF type {} (ET_{}), not a relocatable object (ET_REL)",
                    e_type,
                    goblin::elf::header::et_to_str(*e_type)
                ),
            },
            LoadError::BadHeader { field, value, why } => {
                write!(f, "ELF header field {field} = {value:#x} is refused: {why}")
            }
            LoadError::SectionTableOutOfBounds { offset, count, len } => write!(
                f,
                "section header table ({count} entries at offset {offset:#x}) runs past the end of the {len}-byte file"
            ),
            LoadError::BadSection { index, name, why } => {
                write!(f, "section {index} ({}): {why}", Named(name))
            }
            LoadError::SectionOutOfBounds { index, name, offset, size, len } => write!(
                f,
                "section {index} ({}): contents at {offset:#x}..+{size:#x} run past the end of the {len}-byte file",
                Named(name)
            ),
            LoadError::BadSymbol { index, name, why } => {
                write!(f, "symbol {index} (`{}`): {why}", Named(name))
            }
            LoadError::BadRelocation { section, index, offset, r_type, why } => write!(
                f,
                "relocation {} #{index} at {}+{offset:#x}: {why}",
                RelocName(*r_type),
                Named(section)
            ),
            LoadError::UnsupportedRelocation { section, offset, r_type } => write!(
                f,
                "relocation {} (type {r_type}) at {}+{offset:#x} is not supported by the Keel module loader",
                RelocName(*r_type),
                Named(section)
            ),
            LoadError::TooLarge { group } => {
                write!(
                    f,
                    "module's {group} sections add up to more than {} MiB, the most a module's group may hold",
                    crate::MAX_GROUP_SIZE >> 20
                )
            }
            LoadError::ImageTooSmall { group, needed, got } => write!(
                f,
                "{group} buffer holds {got} bytes but the module's layout needs {needed}"
            ),
            LoadError::WrongLayout => {
                write!(f, "the layout given to link is not the module's own")
            }
            LoadError::Misplaced { section, recorded, placed } => write!(
                f,
                "section {section} was prelinked for offset {recorded:#x} of the module, but the loader places it at {placed:#x}: rebuild the module with this SDK"
            ),
            LoadError::BadRelativePlace { entry, offset, why } => write!(
                f,
                "relative place {entry} (offset {offset:#x} of the module's span) is refused: {why}"
            ),
            LoadError::GroupMisplaced { group, va, expected } => write!(
                f,
                "the {group} of a prelinked module must be at {expected:#x}, its offset in the module's span from the base, not at {va:#x}"
            ),
            LoadError::PrelinkedBase { base } => write!(
                f,
                "a prelinked module must start on a page boundary, not at {base:#x}"
            ),
            LoadError::BadImageAddress { group, va, align } => write!(
                f,
                "{group} address {va:#x} is not aligned to {align} bytes or its buffer wraps the address space"
            ),
            LoadError::UnknownSymbol { name, referenced_from } => write!(
                f,
                "unknown symbol `{name}` (referenced from {}): the kernel exports no such symbol",
                Named(referenced_from)
            ),
            LoadError::Relocation { r_type, section, offset, symbol, problem } => write!(
                f,
                "relocation {} at {}+{offset:#x} against `{}`: {problem}",
                RelocName(*r_type),
                Named(section),
                Named(symbol)
            ),
        }
    }
}

impl core::error::Error for LoadError {}
