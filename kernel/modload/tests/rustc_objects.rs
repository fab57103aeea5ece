//! Objects made by rustc/LLVM for `aarch64-unknown-none-softfloat`: every supported
//! relocation type in a real object, and an ordinary Rust module using `alloc` and
//! formatting. Compiled at test time; skipped (with a message) only if the target's standard
//! library is not installed.

mod common;

use std::collections::BTreeSet;

use common::*;
use goblin::elf::reloc::R_AARCH64_NONE;
use keel_modload::{Linked, Object, SymbolKind, SUPPORTED};

const TEXT_VA: u64 = 0xffff_0000_4000_0000;
const RODATA_VA: u64 = TEXT_VA + 0x4000;
const DATA_VA: u64 = TEXT_VA + 0x8000;

/// The relocation types in an object, read with goblin's full parser.
fn relocation_types(bytes: &[u8]) -> BTreeSet<u32> {
    let elf = goblin::elf::Elf::parse(bytes).unwrap();
    elf.shdr_relocs
        .iter()
        .flat_map(|(_, r)| r.iter().map(|r| r.r_type))
        .collect()
}

fn link<'a>(
    bytes: &'a [u8],
    resolve: &mut dyn FnMut(&str) -> Option<u64>,
) -> (Linked<'a>, Buffers) {
    let obj = Object::parse(bytes).unwrap();
    let layout = obj.layout();
    assert!(
        layout.text <= 0x4000 && layout.rodata <= 0x4000,
        "{layout:?}"
    );
    let mut bufs = Buffers::new(&layout, TEXT_VA, RODATA_VA, DATA_VA);
    let linked = obj
        .link(&mut bufs.image(), resolve)
        .unwrap_or_else(|e| panic!("{e}"));
    (linked, bufs)
}

const EXT_DATA: u64 = TEXT_VA + 0x1234_5678;
const SMALL_ABS: u64 = 0x1234;
const EXT_FUNC: u64 = 0xffff_8000_0000_0040; // far: needs a veneer
const EXT_FUNC2: u64 = TEXT_VA + 0x10_0000; // near: direct

fn asm_resolver(name: &str) -> Option<u64> {
    match name {
        "ext_data" => Some(EXT_DATA),
        "small_abs" => Some(SMALL_ABS),
        "ext_func" => Some(EXT_FUNC),
        "ext_func2" => Some(EXT_FUNC2),
        _ => None,
    }
}

#[test]
fn asm_fixture_has_every_supported_type() {
    let Some(bytes) = compile("asm_relocs") else {
        return;
    };
    let found = relocation_types(&bytes);
    for (t, name) in SUPPORTED {
        if *t != R_AARCH64_NONE {
            assert!(
                found.contains(t),
                "{name} missing from the LLVM-made fixture"
            );
        }
    }
}

#[test]
fn asm_fixture_links_to_the_right_addresses() {
    let Some(bytes) = compile("asm_relocs") else {
        return;
    };
    let (linked, b) = link(&bytes, &mut asm_resolver);
    let at = |name: &str| linked.address(name).unwrap_or_else(|| panic!("no {name}"));
    let local = at("g_local_data");
    assert_eq!(local, RODATA_VA);
    assert_eq!(b.u64_at(local), 0x1122_3344_5566_7788);
    let other = at("other_target");

    let pc = at("t_adrp");
    assert_eq!(decode_adr(b.u32_at(pc), pc), EXT_DATA & !0xfff);
    assert_eq!(decode_imm12(b.u32_at(at("t_add"))), EXT_DATA & 0xfff);
    let pc = at("t_adrp_nc");
    assert_eq!(decode_adr(b.u32_at(pc), pc), EXT_DATA & !0xfff);
    let pc = at("t_adr");
    assert_eq!(decode_adr(b.u32_at(pc), pc), local);
    for (label, scale) in [
        ("t_ldst8", 0),
        ("t_ldst16", 1),
        ("t_ldst32", 2),
        ("t_ldst64", 3),
        ("t_ldst128", 4),
    ] {
        assert_eq!(
            decode_imm12(b.u32_at(at(label))) << scale,
            local & 0xfff,
            "{label}"
        );
    }

    // movz #:abs_g3:, movk #:abs_g2_nc:, #:abs_g1_nc:, #:abs_g0_nc: rebuild ext_data.
    let g3 = at("t_g3");
    let value = (0..4).fold(0u64, |v, i| {
        let w = b.u32_at(g3 + 4 * i);
        v | (decode_imm16(w) << (48 - 16 * i))
    });
    assert_eq!(value, EXT_DATA);
    // abs_g0/g1/g2 of 0x1234, then abs_g0_s/g1_s/g2_s.
    let g0 = at("t_g0");
    let chunks: Vec<_> = (0..6).map(|i| decode_imm16(b.u32_at(g0 + 4 * i))).collect();
    assert_eq!(chunks, [0x1234, 0, 0, 0x1234, 0, 0]);
    assert!((0..6).all(|i| movw_opc(b.u32_at(g0 + 4 * i)) == "movz"));

    // prel_g3, g2_nc, g1_nc, g0_nc against ext_data, each relative to its own place.
    let prel = at("t_prel");
    for i in 0..4u64 {
        let p = prel + 4 * i;
        let delta = EXT_DATA.wrapping_sub(p);
        let want = (delta >> (48 - 16 * i)) & 0xffff;
        assert_eq!(decode_imm16(b.u32_at(p)), want, "prel chunk {i}");
    }
    // prel_g0, g1, g2 against local_data (ahead by less than 64 KiB).
    let p = prel + 16;
    assert_eq!(decode_imm16(b.u32_at(p)), local - p);
    assert_eq!(decode_imm16(b.u32_at(p + 4)), (local - p - 4) >> 16);
    assert_eq!(decode_imm16(b.u32_at(p + 8)), (local - p - 8) >> 32);

    let pc = at("t_ldlit");
    assert_eq!(decode_imm19(b.u32_at(pc), pc), local);
    let pc = at("t_condbr");
    assert_eq!(decode_imm19(b.u32_at(pc), pc), other);
    let pc = at("t_tbz");
    assert_eq!(decode_tbz(b.u32_at(pc), pc), other);
    let pc = at("t_bl");
    let veneer = decode_b(b.u32_at(pc), pc);
    assert_eq!(b.u32_at(veneer), keel_modload::VENEER_LDR_X16);
    assert_eq!(b.u32_at(veneer + 4), keel_modload::VENEER_BR_X16);
    assert_eq!(b.u64_at(veneer + 8), EXT_FUNC);
    let pc = at("t_b");
    assert_eq!(decode_b(b.u32_at(pc), pc), EXT_FUNC2);
    assert_eq!(decode_b(b.u32_at(pc + 4), pc + 4), other);
    assert_eq!(linked.veneers_used(), 1);

    let d = at("t_data");
    assert_eq!(b.u64_at(d), EXT_DATA);
    assert_eq!(b.u32_at(d + 8), SMALL_ABS as u32);
    assert_eq!(b.bytes_at(d + 12, 2), (SMALL_ABS as u16).to_le_bytes());
    assert_eq!(b.u64_at(d + 16), EXT_DATA.wrapping_sub(d + 16));
    assert_eq!(
        b.u32_at(d + 24) as i32 as i64,
        local as i64 - (d + 24) as i64
    );
    let prel16 = i16::from_le_bytes(b.bytes_at(d + 28, 2).try_into().unwrap());
    assert_eq!(i64::from(prel16), local as i64 - (d + 28) as i64);
    assert_eq!(
        b.u32_at(d + 32) as i32 as i64,
        other as i64 - (d + 32) as i64
    );
}

#[test]
fn rust_alloc_fixture_links() {
    let Some(bytes) = compile("alloc_fmt") else {
        return;
    };
    let obj = Object::parse(&bytes).unwrap();
    let imports: Vec<String> = obj.imports().map(|i| i.name.to_string()).collect();
    assert!(
        imports.iter().any(|n| n.contains("__rust_alloc")),
        "{imports:?}"
    );
    assert!(
        imports.iter().any(|n| n.contains("format_inner")),
        "{imports:?}"
    );
    // Imports 512 MiB away: calls need veneers, ADRP still reaches.
    let address_of = |name: &str| {
        imports
            .iter()
            .position(|n| n == name)
            .map(|i| TEXT_VA + 0x2000_0000 + 0x100 * i as u64)
    };
    let mut asked = Vec::new();
    let (linked, b) = link(&bytes, &mut |name| {
        asked.push(name.to_string());
        address_of(name)
    });
    assert!(!asked.is_empty());
    assert!(linked.veneers_used() >= 1);

    // The descriptor: a &str, a fn pointer and a slice, patched by ABS64.
    let desc = linked.symbol("__keel_module").unwrap();
    assert_eq!(desc.kind, SymbolKind::Object);
    let name_ptr = b.u64_at(desc.va);
    let name_len = b.u64_at(desc.va + 8) as usize;
    assert_eq!(b.bytes_at(name_ptr, name_len), b"fixture");
    let init = linked.symbol("fixture_init").unwrap();
    assert_eq!(init.kind, SymbolKind::Function);
    assert!(linked
        .symbols()
        .iter()
        .any(|s| s.va == b.u64_at(desc.va + 16) && s.name == "fixture_init"));
    let values = b.u64_at(desc.va + 24);
    assert_eq!(b.u64_at(desc.va + 32), 3);
    assert_eq!(b.bytes_at(values, 12), [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]);
    for name in ["fixture_format", "fixture_sum"] {
        assert!(linked.address(name).is_some(), "{name} exported");
    }

    // Sections by name, and every function (local ones too) for fault reports.
    assert!(obj.section(".symtab").is_some());
    assert_eq!(obj.section(".no-such-section"), None);
    let functions = linked.functions();
    assert!(functions.windows(2).all(|w| w[0].va <= w[1].va));
    assert!(
        functions.len()
            > linked
                .symbols()
                .iter()
                .filter(|s| s.kind == SymbolKind::Function)
                .count()
    );
    let init = linked.symbol("fixture_init").unwrap();
    let (found, offset) = linked.symbolize(init.va + 4).unwrap();
    assert_eq!((linked.function_name(found), offset), ("fixture_init", 4));
    assert!(linked.symbolize(TEXT_VA - 4).is_none());

    // Every BL/B in the text lands in the text: on a function or on a veneer whose literal
    // is one of the imports.
    let layout = obj.layout();
    let veneer_start = TEXT_VA + layout.veneer_offset as u64;
    let text_end = TEXT_VA + layout.text as u64;
    let import_addrs: BTreeSet<u64> = imports.iter().filter_map(|n| address_of(n)).collect();
    let mut via_veneer = 0;
    for pc in (TEXT_VA..veneer_start).step_by(4) {
        let w = b.u32_at(pc);
        if w & 0x7c00_0000 != 0x1400_0000 {
            continue; // not B or BL
        }
        let target = decode_b(w, pc);
        assert!(
            (TEXT_VA..text_end).contains(&target),
            "branch at {pc:#x} leaves the text"
        );
        if target >= veneer_start {
            assert!(import_addrs.contains(&b.u64_at(target + 8)));
            via_veneer += 1;
        }
    }
    assert!(via_veneer > 0);
}

#[test]
fn rust_fixture_with_missing_import_is_refused() {
    let Some(bytes) = compile("alloc_fmt") else {
        return;
    };
    let obj = Object::parse(&bytes).unwrap();
    let mut bufs = Buffers::new(&obj.layout(), TEXT_VA, RODATA_VA, DATA_VA);
    let err = obj
        .link(&mut bufs.image(), &mut |n| {
            (!n.contains("__rust_alloc")).then_some(TEXT_VA + 0x100_0000)
        })
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("unknown symbol `") && msg.contains("__rust_alloc"),
        "{msg}"
    );
    assert!(msg.contains("referenced from .text."), "{msg}");
}
