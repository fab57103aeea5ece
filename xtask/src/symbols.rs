//! Embedding the kernel's symbol table: function symbols from the ELF, encoded into `.ksyms`.
//!
//! The kernel reserves a zero-filled PROGBITS section `.ksyms` inside a loaded segment. After the
//! link, the function symbols (address, size, demangled name) are encoded with
//! `keel_core::symbols::encode` and written over that section in a copy of the ELF, so that the
//! raw image made from the copy carries the table the fault handler's backtrace reads.

use std::fs;
use std::path::Path;

use goblin::elf::section_header::{SHT_NOBITS, SHT_PROGBITS};
use goblin::elf::sym::STT_FUNC;
use goblin::elf::Elf;

use crate::error::{Error, Result};

/// The section the kernel reserves for its symbol table.
pub const KSYMS_SECTION: &str = ".ksyms";

/// A function symbol as the ELF names it (not yet demangled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSymbol {
    /// Start address.
    pub addr: u64,
    /// Size in bytes (0 for assembly labels without `.size`).
    pub size: u64,
    /// The raw (mangled) name.
    pub name: String,
}

/// Where a section's bytes are in the ELF file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRange {
    /// File offset of the first byte.
    pub offset: u64,
    /// Number of bytes.
    pub size: u64,
}

/// What [`embed`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Embedded {
    /// Number of functions in the table.
    pub functions: usize,
    /// Size of the encoded table.
    pub bytes: usize,
    /// Size of the `.ksyms` section.
    pub capacity: u64,
}

/// The named function symbols of `elf`, sorted by address, one per address.
pub fn functions(elf: &Elf) -> Vec<FunctionSymbol> {
    let mut functions: Vec<FunctionSymbol> = elf
        .syms
        .iter()
        .filter(|sym| sym.st_type() == STT_FUNC && sym.st_value != 0)
        .filter_map(|sym| {
            let name = elf.strtab.get_at(sym.st_name)?;
            (!name.is_empty()).then(|| FunctionSymbol {
                addr: sym.st_value,
                size: sym.st_size,
                name: name.to_string(),
            })
        })
        .collect();
    // For aliases at one address keep the symbol with a size, then the first name in sort order.
    functions.sort_by(|a, b| {
        (a.addr, std::cmp::Reverse(a.size), &a.name).cmp(&(
            b.addr,
            std::cmp::Reverse(b.size),
            &b.name,
        ))
    });
    functions.dedup_by_key(|f| f.addr);
    functions
}

/// The file range of section `name`, which must hold file data (PROGBITS).
pub fn section_range(elf: &Elf, file_len: usize, name: &str) -> Result<FileRange, String> {
    let header = elf
        .section_headers
        .iter()
        .find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(name))
        .ok_or_else(|| format!("has no `{name}` section"))?;
    if header.sh_type == SHT_NOBITS {
        return Err(format!(
            "has a NOBITS `{name}` section; it must be a zero-filled PROGBITS section of fixed \
             size inside a loaded segment, so the table ends up in the image"
        ));
    }
    if header.sh_type != SHT_PROGBITS {
        return Err(format!(
            "has a `{name}` section of type {}, expected PROGBITS",
            header.sh_type
        ));
    }
    let end = header.sh_offset.checked_add(header.sh_size);
    if end.is_none_or(|end| end > file_len as u64) {
        return Err(format!(
            "has a `{name}` section at file offset {:#x} + {:#x} that runs past the end of the \
             file ({file_len:#x} bytes)",
            header.sh_offset, header.sh_size
        ));
    }
    Ok(FileRange {
        offset: header.sh_offset,
        size: header.sh_size,
    })
}

/// Writes `blob` at the start of `range` in `file` and zeroes the rest of the range.
/// Returns `false` (and leaves `file` alone) if the blob does not fit.
pub fn place(file: &mut [u8], range: FileRange, blob: &[u8]) -> bool {
    let (Ok(start), Ok(size)) = (usize::try_from(range.offset), usize::try_from(range.size)) else {
        return false;
    };
    if blob.len() > size || start.saturating_add(size) > file.len() {
        return false;
    }
    let section = &mut file[start..start + size];
    section[..blob.len()].copy_from_slice(blob);
    section[blob.len()..].fill(0);
    true
}

/// Copies the kernel ELF `input` to `output` with the encoded symbol table in its `.ksyms` section.
pub fn embed(input: &Path, output: &Path) -> Result<Embedded> {
    let mut file = fs::read(input).map_err(|e| Error::io("read", input, e))?;
    let elf_error = |reason: String| Error::Elf {
        path: input.to_path_buf(),
        reason,
    };
    let elf = Elf::parse(&file).map_err(|e| elf_error(format!("cannot be parsed: {e}")))?;
    let range = section_range(&elf, file.len(), KSYMS_SECTION).map_err(elf_error)?;
    let functions = functions(&elf);
    drop(elf);

    let demangled: Vec<String> = functions
        .iter()
        .map(|f| keel_core::symbols::demangle(&f.name))
        .collect();
    let table: Vec<(u64, u64, &str)> = functions
        .iter()
        .zip(&demangled)
        .map(|(f, name)| (f.addr, f.size, name.as_str()))
        .collect();
    let blob = keel_core::symbols::encode(&table);
    if !place(&mut file, range, &blob) {
        return Err(Error::SymbolsTooLarge {
            path: input.to_path_buf(),
            symbols: table.len(),
            needed: blob.len(),
            available: range.size,
        });
    }
    fs::write(output, &file).map_err(|e| Error::io("write", output, e))?;
    Ok(Embedded {
        functions: table.len(),
        bytes: blob.len(),
        capacity: range.size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function that certainly exists in this test binary's symbol table.
    #[inline(never)]
    #[no_mangle]
    pub extern "C" fn keel_xtask_symbol_probe() -> u32 {
        7
    }

    fn this_binary() -> Vec<u8> {
        let path = std::env::current_exe().unwrap();
        fs::read(path).unwrap()
    }

    #[test]
    fn functions_come_from_the_symbol_table_sorted_and_unique() {
        assert_eq!(std::hint::black_box(keel_xtask_symbol_probe)(), 7);
        let bytes = this_binary();
        let elf = Elf::parse(&bytes).unwrap();
        let functions = functions(&elf);
        let probe = functions
            .iter()
            .find(|f| f.name == "keel_xtask_symbol_probe")
            .expect("the probe function is listed");
        assert!(probe.size > 0);
        assert!(functions.windows(2).all(|w| w[0].addr < w[1].addr));
        // Names are left mangled: demangling is keel-core's job.
        assert!(functions.iter().any(|f| f.name.starts_with("_ZN")));
    }

    #[test]
    fn sections_are_found_by_name_and_checked() {
        let bytes = this_binary();
        let elf = Elf::parse(&bytes).unwrap();
        let text = section_range(&elf, bytes.len(), ".text").unwrap();
        assert!(text.size > 0);
        let missing = section_range(&elf, bytes.len(), KSYMS_SECTION).unwrap_err();
        assert_eq!(missing, "has no `.ksyms` section");
        let bss = section_range(&elf, bytes.len(), ".bss").unwrap_err();
        assert!(bss.contains("NOBITS"), "{bss}");
    }

    #[test]
    fn the_blob_fills_the_start_of_the_section_and_zeroes_the_rest() {
        let mut file = vec![0xAAu8; 16];
        let range = FileRange { offset: 4, size: 8 };
        assert!(place(&mut file, range, &[1, 2, 3]));
        assert_eq!(
            file,
            [0xAA, 0xAA, 0xAA, 0xAA, 1, 2, 3, 0, 0, 0, 0, 0, 0xAA, 0xAA, 0xAA, 0xAA]
        );
    }

    #[test]
    fn a_blob_larger_than_the_section_is_refused() {
        let mut file = vec![0u8; 16];
        assert!(!place(
            &mut file,
            FileRange { offset: 4, size: 2 },
            &[1, 2, 3]
        ));
        assert!(!place(
            &mut file,
            FileRange {
                offset: 12,
                size: 8
            },
            &[1]
        ));
        assert_eq!(file, [0u8; 16]);
    }
}
