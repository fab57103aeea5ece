//! Malformed objects: each must be refused with the right error, none may panic.

mod common;

use common::*;
use keel_modload::{LoadError, Object};

/// Field offsets inside a section header.
const SH_TYPE: usize = 4;
const SH_FLAGS: usize = 8;
const SH_OFFSET: usize = 24;
const SH_SIZE: usize = 32;
const SH_LINK: usize = 40;
const SH_INFO: usize = 44;
const SH_ADDRALIGN: usize = 48;

fn sh_field(bytes: &[u8], section: &str, field: usize) -> usize {
    shdr_offset(bytes, section_index(bytes, section)) + field
}

fn section_file_offset(bytes: &[u8], section: &str) -> usize {
    let at = sh_field(bytes, section, SH_OFFSET);
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize
}

fn parse_err(bytes: &[u8]) -> LoadError {
    match Object::parse(bytes) {
        Ok(_) => panic!("malformed object was accepted"),
        Err(e) => e,
    }
}

fn mutated(f: impl FnOnce(&mut Vec<u8>)) -> LoadError {
    let mut bytes = sample_object();
    f(&mut bytes);
    parse_err(&bytes)
}

#[test]
fn sample_is_valid() {
    Object::parse(&sample_object()).unwrap();
}

#[test]
fn empty_and_short() {
    assert_eq!(parse_err(&[]), LoadError::TooShort { len: 0 });
    assert_eq!(parse_err(b"\x7fELF"), LoadError::TooShort { len: 4 });
    assert!(parse_err(&[]).to_string().contains("0 bytes long"));
}

#[test]
fn truncated_at_every_length() {
    let bytes = sample_object();
    for len in 0..bytes.len() {
        let err = parse_err(&bytes[..len]);
        // Every truncation is caught by the header or table bounds, never later.
        assert!(
            matches!(
                err,
                LoadError::TooShort { .. }
                    | LoadError::SectionTableOutOfBounds { .. }
                    | LoadError::SectionOutOfBounds { .. }
            ),
            "length {len}: {err}"
        );
    }
}

#[test]
fn random_bytes() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..2000 {
        let len = (next() % 600) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 2 == 0 && len >= 64 {
            // A plausible header over random contents, to get past the first checks.
            bytes[..8].copy_from_slice(b"\x7fELF\x02\x01\x01\x00");
            poke(&mut bytes, 16, 2, 1);
            poke(&mut bytes, 18, 2, 183);
            poke(&mut bytes, 20, 4, 1);
            poke(&mut bytes, 58, 2, 64);
            poke(&mut bytes, 40, 8, next() % len as u64);
            poke(&mut bytes, 60, 2, next() % 8);
        }
        let _ = Object::parse(&bytes).map(|o| o.layout());
    }
}

#[test]
fn wrong_file_kinds() {
    let err = mutated(|b| b[0] = b'E');
    assert_eq!(err, LoadError::BadMagic);
    let err = mutated(|b| poke(b, 18, 2, 62));
    assert_eq!(err, LoadError::WrongMachine { machine: 62 });
    assert_eq!(
        err.to_string(),
        "module is built for x86-64 (e_machine 62), not AArch64 (EM_AARCH64 = 183)"
    );
    let err = mutated(|b| b[4] = 1);
    assert_eq!(err, LoadError::WrongClass { class: 1 });
    assert!(err.to_string().contains("32-bit ELF"));
    let err = mutated(|b| b[5] = 2);
    assert_eq!(err, LoadError::WrongEndian { data: 2 });
    assert!(err.to_string().contains("big endian"));
    let err = mutated(|b| b[6] = 0);
    assert_eq!(err, LoadError::WrongVersion { version: 0 });
    let err = mutated(|b| poke(b, 20, 4, 2));
    assert_eq!(err, LoadError::WrongVersion { version: 2 });
    for e_type in [2u64, 3] {
        let err = mutated(|b| poke(b, 16, 2, e_type));
        assert_eq!(
            err,
            LoadError::NotRelocatable {
                e_type: e_type as u16
            }
        );
        assert!(
            err.to_string()
                .contains("an executable, not a relocatable object"),
            "{err}"
        );
    }
    let err = mutated(|b| poke(b, 16, 2, 4));
    assert!(err.to_string().contains("ET_CORE"), "{err}");
}

#[test]
fn header_fields() {
    let err = mutated(|b| poke(b, 58, 2, 40));
    assert!(matches!(
        err,
        LoadError::BadHeader {
            field: "e_shentsize",
            value: 40,
            ..
        }
    ));
    let err = mutated(|b| poke(b, 60, 2, 0));
    assert!(
        matches!(
            err,
            LoadError::BadHeader {
                field: "e_shnum",
                ..
            }
        ),
        "{err}"
    );
    let err = mutated(|b| poke(b, 40, 8, u64::MAX - 10));
    assert!(
        matches!(err, LoadError::SectionTableOutOfBounds { .. }),
        "{err}"
    );
    let err = mutated(|b| poke(b, 60, 2, 0xffff));
    assert!(
        matches!(
            err,
            LoadError::SectionTableOutOfBounds { count: 0xffff, .. }
        ),
        "{err}"
    );
    let err = mutated(|b| poke(b, 62, 2, 500));
    assert!(
        matches!(
            err,
            LoadError::BadHeader {
                field: "e_shstrndx",
                value: 500,
                ..
            }
        ),
        "{err}"
    );
    let err = mutated(|b| poke(b, 62, 2, 1));
    assert!(err.to_string().contains("not SHT_STRTAB"), "{err}");
}

#[test]
fn bad_section_offsets() {
    let err = mutated(|b| {
        let len = b.len() as u64;
        let at = sh_field(b, ".text.init", SH_OFFSET);
        poke(b, at, 8, len - 4);
    });
    match &err {
        LoadError::SectionOutOfBounds { name, .. } => assert_eq!(name, ".text.init"),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("section 1 (.text.init): contents at"),
        "{err}"
    );
    let err = mutated(|b| {
        let at = sh_field(b, ".rodata.table", SH_SIZE);
        poke(b, at, 8, u64::MAX);
    });
    assert!(matches!(err, LoadError::SectionOutOfBounds { .. }), "{err}");
    let err = mutated(|b| {
        let at = sh_field(b, ".symtab", SH_OFFSET);
        poke(b, at, 8, u64::MAX - 7);
    });
    assert!(matches!(err, LoadError::SectionOutOfBounds { .. }), "{err}");
    // A huge .bss is not a file range, but it cannot be laid out.
    let err = mutated(|b| {
        let at = sh_field(b, ".bss.counter", SH_SIZE);
        poke(b, at, 8, u64::MAX);
    });
    assert_eq!(err, LoadError::TooLarge { group: "data" });
}

#[test]
fn bad_alignment_and_flags() {
    let err = mutated(|b| {
        let at = sh_field(b, ".text.init", SH_ADDRALIGN);
        poke(b, at, 8, 12);
    });
    assert!(err.to_string().contains("alignment"), "{err}");
    let err = mutated(|b| {
        let at = sh_field(b, ".data.desc", SH_FLAGS);
        poke(b, at, 8, 0x403); // SHF_WRITE | SHF_ALLOC | SHF_TLS
    });
    assert!(err.to_string().contains("thread-local"), "{err}");
    let err = mutated(|b| {
        let at = sh_field(b, ".rela.text.init", SH_TYPE);
        poke(b, at, 4, 9); // SHT_REL
    });
    assert!(err.to_string().contains("SHT_REL relocations"), "{err}");
}

#[test]
fn bad_string_tables() {
    // .strtab no longer ends with NUL.
    let err = mutated(|b| {
        let off = section_file_offset(b, ".strtab");
        let at = sh_field(b, ".strtab", SH_SIZE);
        let size = u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize;
        b[off + size - 1] = b'x';
    });
    assert!(err.to_string().contains("string table"), "{err}");
    // .symtab's link points at a non-string table.
    let err = mutated(|b| {
        let at = sh_field(b, ".symtab", SH_LINK);
        poke(b, at, 4, 1);
    });
    assert!(err.to_string().contains("not SHT_STRTAB"), "{err}");
    // A symbol name offset past the table.
    let err = mutated(|b| {
        let off = section_file_offset(b, ".symtab");
        poke(b, off + 24, 4, 0xffff);
    });
    assert!(
        matches!(err, LoadError::BadSymbol { index: 1, .. }),
        "{err}"
    );
    // A section name offset past the table.
    let err = mutated(|b| {
        let at = shdr_offset(b, 2);
        poke(b, at, 4, 0xffff);
    });
    assert!(
        matches!(err, LoadError::BadSection { index: 2, .. }),
        "{err}"
    );
}

#[test]
fn bad_symbols() {
    let err = mutated(|b| {
        let off = section_file_offset(b, ".symtab");
        poke(b, off + 24 + 6, 2, 300); // symbol 1's st_shndx
    });
    assert!(
        err.to_string().contains("section index is out of range"),
        "{err}"
    );
    let err = mutated(|b| {
        let off = section_file_offset(b, ".symtab");
        poke(b, off + 24 + 8, 8, 0x10000); // symbol 1's value, past .rodata.table
    });
    assert!(
        err.to_string().contains("past the end of its section"),
        "{err}"
    );
    let err = mutated(|b| {
        let off = section_file_offset(b, ".symtab");
        poke(b, off + 24 + 6, 2, 0xfff2); // SHN_COMMON
    });
    assert!(err.to_string().contains("common symbols"), "{err}");
    let err = mutated(|b| {
        let off = section_file_offset(b, ".symtab");
        b[off + 24 + 4] = 0x06; // STT_TLS
    });
    assert!(err.to_string().contains("thread-local"), "{err}");
}

#[test]
fn bad_relocations() {
    // Offset out of the target section (.text.init is 24 bytes; a 4-byte patch at 22).
    let err = mutated(|b| {
        let off = section_file_offset(b, ".rela.text.init");
        poke(b, off, 8, 22);
    });
    assert!(
        matches!(&err, LoadError::BadRelocation { section, offset: 22, .. } if section == ".text.init"),
        "{err}"
    );
    assert!(err.to_string().contains("outside the section"), "{err}");
    let err = mutated(|b| {
        let off = section_file_offset(b, ".rela.text.init");
        poke(b, off, 8, u64::MAX - 1);
    });
    assert!(matches!(err, LoadError::BadRelocation { .. }), "{err}");
    // Symbol index out of range.
    let err = mutated(|b| {
        let off = section_file_offset(b, ".rela.data.desc");
        poke(b, off + 8 + 4, 4, 9999);
    });
    assert!(
        err.to_string().contains("symbol index is out of range"),
        "{err}"
    );
    // Target section index out of range, and the null section.
    for bad in [0u64, 77] {
        let err = mutated(|b| {
            let at = sh_field(b, ".rela.text.init", SH_INFO);
            poke(b, at, 4, bad);
        });
        assert!(err.to_string().contains("sh_info"), "{err}");
    }
    let err = mutated(|b| {
        let at = sh_field(b, ".rela.text.init", SH_LINK);
        poke(b, at, 4, 2);
    });
    assert!(err.to_string().contains("sh_link"), "{err}");
    let err = mutated(|b| {
        let at = sh_field(b, ".rela.text.init", SH_SIZE);
        poke(b, at, 8, 25);
    });
    assert!(err.to_string().contains("entry size"), "{err}");
}

#[test]
fn relocation_against_unloaded_section_is_refused() {
    use goblin::elf::reloc::R_AARCH64_ABS64;
    let mut b = ElfBuilder::new();
    let d = b.section(".data", Kind::Data, &[0; 8], 8);
    let dbg = b.section(".debug_info", Kind::Other, &[0; 8], 1);
    let s = b.symbol("dbg", dbg as u16, 0, Bind::Local);
    b.rela(d, 0, s, R_AARCH64_ABS64, 0);
    // Relocations of unloaded sections are validated but not applied.
    b.rela(dbg, 0, s, 9999, 0);
    let err = parse_err(&b.build());
    assert!(err.to_string().contains("not loaded"), "{err}");
}
