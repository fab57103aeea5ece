//! Each relocation type on hand-made objects, checking the exact patched bits, the overflow
//! checks and the veneers.

mod common;

use common::*;
use goblin::elf::reloc::*;
use keel_modload::{LoadError, Object, RelocProblem, R_AARCH64_PLT32};

const TEXT_VA: u64 = 0xffff_0000_1000_0000;
const RODATA_VA: u64 = 0xffff_0000_2000_0000;
const DATA_VA: u64 = 0xffff_0000_3000_0000;

/// Builds an object whose `.text` (or `.data`) holds `template`, with one relocation of
/// `r_type` at offset 0 against undefined `ext` plus `addend`; links it with `ext` = `s`.
/// Returns the patched bytes and the place's address P.
fn link_one(
    kind: Kind,
    template: &[u8],
    r_type: u32,
    s: u64,
    addend: i64,
) -> Result<(Vec<u8>, u64, Buffers), LoadError> {
    let mut b = ElfBuilder::new();
    let sec = b.section(
        if kind == Kind::Text { ".text" } else { ".data" },
        kind,
        template,
        8,
    );
    let ext = b.undefined("ext");
    b.rela(sec, 0, ext, r_type, addend);
    let bytes = b.build();
    let obj = Object::parse(&bytes)?;
    let layout = obj.layout();
    let mut bufs = Buffers::new(&layout, TEXT_VA, RODATA_VA, DATA_VA);
    obj.link(&mut bufs.image(), &mut |name| (name == "ext").then_some(s))?;
    let p = if kind == Kind::Text { TEXT_VA } else { DATA_VA };
    let out = bufs.bytes_at(p, template.len()).to_vec();
    Ok((out, p, bufs))
}

fn insn(kind: Kind, word: u32, r_type: u32, s: u64, addend: i64) -> Result<(u32, u64), LoadError> {
    let (out, p, _) = link_one(kind, &word.to_le_bytes(), r_type, s, addend)?;
    Ok((u32::from_le_bytes(out.try_into().unwrap()), p))
}

fn text(word: u32, r_type: u32, s: u64, addend: i64) -> Result<(u32, u64), LoadError> {
    insn(Kind::Text, word, r_type, s, addend)
}

fn overflow(r: Result<(u32, u64), LoadError>) -> (i128, i64, i64) {
    match r {
        Err(LoadError::Relocation {
            problem: RelocProblem::Overflow { value, min, max },
            ..
        }) => (value, min, max),
        other => panic!("expected an overflow, got {other:?}"),
    }
}

#[test]
fn none_leaves_bytes_alone() {
    let (w, _) = text(0xd503_201f, R_AARCH64_NONE, 0x1234, 0).unwrap();
    assert_eq!(w, 0xd503_201f);
}

#[test]
fn abs64_abs32_abs16() {
    let (out, _, _) = link_one(
        Kind::Data,
        &[0; 8],
        R_AARCH64_ABS64,
        0x1122_3344_5566_7788,
        8,
    )
    .unwrap();
    assert_eq!(
        u64::from_le_bytes(out.try_into().unwrap()),
        0x1122_3344_5566_7790
    );
    let (out, _, _) = link_one(Kind::Data, &[0; 4], R_AARCH64_ABS32, 0xffff_fff0, 0xf).unwrap();
    assert_eq!(out, 0xffff_ffffu32.to_le_bytes());
    let (out, _, _) = link_one(Kind::Data, &[0; 4], R_AARCH64_ABS32, 0, -4).unwrap();
    assert_eq!(out, 0xffff_fffcu32.to_le_bytes());
    let (out, _, _) = link_one(Kind::Data, &[0; 2], R_AARCH64_ABS16, 0xbeef, 0).unwrap();
    assert_eq!(out, 0xbeefu16.to_le_bytes());
    let err = link_one(Kind::Data, &[0; 4], R_AARCH64_ABS32, 0x1_0000_0000, 0).unwrap_err();
    assert!(matches!(
        err,
        LoadError::Relocation {
            problem: RelocProblem::Overflow {
                value: 0x1_0000_0000,
                ..
            },
            ..
        }
    ));
    let msg = err.to_string();
    assert!(
        msg.contains("R_AARCH64_ABS32 at .data+0x0 against `ext`"),
        "{msg}"
    );
    assert!(msg.contains("0x100000000"), "{msg}");
    assert!(link_one(Kind::Data, &[0; 2], R_AARCH64_ABS16, 0x1_0000, 0).is_err());
    assert!(link_one(Kind::Data, &[0; 2], R_AARCH64_ABS16, 0, -0x8001).is_err());
}

#[test]
fn prel64_prel32_prel16_plt32() {
    let (out, p, _) = link_one(Kind::Data, &[0; 8], R_AARCH64_PREL64, DATA_VA - 0x100, 0).unwrap();
    assert_eq!(p, DATA_VA);
    assert_eq!(i64::from_le_bytes(out.try_into().unwrap()), -0x100);
    let (out, _, _) = link_one(Kind::Data, &[0; 4], R_AARCH64_PREL32, DATA_VA + 0x1234, 4).unwrap();
    assert_eq!(i32::from_le_bytes(out.try_into().unwrap()), 0x1238);
    let (out, _, _) = link_one(Kind::Data, &[0; 2], R_AARCH64_PREL16, DATA_VA - 2, 0).unwrap();
    assert_eq!(i16::from_le_bytes(out.try_into().unwrap()), -2);
    let (out, _, _) = link_one(Kind::Data, &[0; 4], R_AARCH64_PLT32, DATA_VA - 0x40, 0).unwrap();
    assert_eq!(i32::from_le_bytes(out.try_into().unwrap()), -0x40);
    assert!(link_one(
        Kind::Data,
        &[0; 4],
        R_AARCH64_PREL32,
        DATA_VA + 0x1_0000_0000,
        0
    )
    .is_err());
    assert!(link_one(
        Kind::Data,
        &[0; 4],
        R_AARCH64_PLT32,
        DATA_VA + 0x8000_0000,
        0
    )
    .is_err());
    assert!(link_one(Kind::Data, &[0; 2], R_AARCH64_PREL16, DATA_VA + 0x1_0000, 0).is_err());
}

#[test]
fn call26_and_jump26_in_range() {
    let (w, p) = text(0x9400_0000, R_AARCH64_CALL26, TEXT_VA + 0x1000, 0).unwrap();
    assert_eq!(w, 0x9400_0400);
    assert_eq!(decode_b(w, p), TEXT_VA + 0x1000);
    let (w, p) = text(0x1400_0000, R_AARCH64_JUMP26, TEXT_VA - 0x800_0000, 0).unwrap();
    assert_eq!(w, 0x1600_0000);
    assert_eq!(decode_b(w, p), TEXT_VA - 0x800_0000);
    // Just inside the forward limit.
    let (w, p) = text(0x9400_0000, R_AARCH64_CALL26, TEXT_VA + 0x7ff_fffc, 0).unwrap();
    assert_eq!(decode_b(w, p), TEXT_VA + 0x7ff_fffc);
}

#[test]
fn call26_out_of_range_goes_through_a_veneer() {
    let far = 0xffff_8000_0000_1234;
    for (word, r_type) in [
        (0x9400_0000, R_AARCH64_CALL26),
        (0x1400_0000, R_AARCH64_JUMP26),
    ] {
        let (out, p, bufs) = link_one(Kind::Text, &u32::to_le_bytes(word), r_type, far, 0).unwrap();
        let w = u32::from_le_bytes(out.try_into().unwrap());
        assert_eq!(w & 0xfc00_0000, word, "opcode kept");
        let veneer = decode_b(w, p);
        assert_eq!(
            veneer,
            TEXT_VA + 8,
            "veneer right after the 4-byte section, 8-aligned"
        );
        assert_eq!(bufs.u32_at(veneer), 0x5800_0050, "ldr x16, #8");
        assert_eq!(bufs.u32_at(veneer + 4), 0xd61f_0200, "br x16");
        assert_eq!(bufs.u64_at(veneer + 8), far);
    }
    // One past the forward limit needs the veneer too.
    let (w, p) = text(0x9400_0000, R_AARCH64_CALL26, TEXT_VA + 0x800_0000, 0).unwrap();
    assert_eq!(decode_b(w, p), TEXT_VA + 8);
}

#[test]
fn veneers_are_shared_per_target() {
    let mut b = ElfBuilder::new();
    let code = [0x9400_0000u32, 0x9400_0000, 0x1400_0000, 0x9400_0000];
    let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    let text = b.section(".text", Kind::Text, &bytes, 4);
    let f = b.undefined("f");
    let g = b.undefined("g");
    let local = b.symbol("local", text as u16, 12, Bind::Local);
    b.rela(text, 0, f, R_AARCH64_CALL26, 0);
    b.rela(text, 4, f, R_AARCH64_CALL26, 0);
    b.rela(text, 8, g, R_AARCH64_JUMP26, 0);
    b.rela(text, 12, local, R_AARCH64_CALL26, 0);
    let elf = b.build();
    let obj = Object::parse(&elf).unwrap();
    let layout = obj.layout();
    assert_eq!(layout.veneer_slots, 2, "f and g; the local call needs none");
    assert_eq!(layout.veneer_offset, 16);
    assert_eq!(layout.text, 16 + 32);
    let mut bufs = Buffers::new(&layout, TEXT_VA, RODATA_VA, DATA_VA);
    let linked = obj
        .link(&mut bufs.image(), &mut |n| match n {
            "f" => Some(0x1000),
            "g" => Some(0x2000),
            _ => None,
        })
        .unwrap();
    assert_eq!(linked.veneers_used(), 2);
    let t0 = decode_b(bufs.u32_at(TEXT_VA), TEXT_VA);
    let t1 = decode_b(bufs.u32_at(TEXT_VA + 4), TEXT_VA + 4);
    let t2 = decode_b(bufs.u32_at(TEXT_VA + 8), TEXT_VA + 8);
    assert_eq!(t0, t1);
    assert_eq!(bufs.u64_at(t0 + 8), 0x1000);
    assert_eq!(bufs.u64_at(t2 + 8), 0x2000);
    assert_eq!(
        decode_b(bufs.u32_at(TEXT_VA + 12), TEXT_VA + 12),
        TEXT_VA + 12
    );
}

#[test]
fn branch_misaligned_target_is_refused() {
    let err = text(0x9400_0000, R_AARCH64_CALL26, TEXT_VA + 0x102, 0);
    // Misaligned but in range and external: a veneer cannot fix the low bits either, so the
    // veneer path is taken (the veneer's `br` tolerates any address).
    let (w, p) = err.unwrap();
    assert_eq!(decode_b(w, p), TEXT_VA + 8);
    // A misaligned local conditional branch is an error.
    let r = text(0x5400_0000, R_AARCH64_CONDBR19, TEXT_VA + 0x102, 0);
    assert!(matches!(
        r,
        Err(LoadError::Relocation {
            problem: RelocProblem::Misaligned { align: 4, .. },
            ..
        })
    ));
}

#[test]
fn condbr19_ld_prel_lo19_tstbr14() {
    let (w, p) = text(0x5400_0000, R_AARCH64_CONDBR19, TEXT_VA + 0x100, 0).unwrap();
    assert_eq!(w, 0x5400_0800);
    assert_eq!(decode_imm19(w, p), TEXT_VA + 0x100);
    let (w, p) = text(0x5800_0008, R_AARCH64_LD_PREL_LO19, TEXT_VA + 0x40, 0).unwrap();
    assert_eq!(w, 0x5800_0208);
    assert_eq!(decode_imm19(w, p), TEXT_VA + 0x40);
    let (w, p) = text(0x5800_0008, R_AARCH64_LD_PREL_LO19, TEXT_VA - 0x10_0000, 0).unwrap();
    assert_eq!(decode_imm19(w, p), TEXT_VA - 0x10_0000);
    let (w, p) = text(0x3618_0000, R_AARCH64_TSTBR14, TEXT_VA + 0x20, 0).unwrap();
    assert_eq!(w, 0x3618_0100);
    assert_eq!(decode_tbz(w, p), TEXT_VA + 0x20);
    let (w, p) = text(0x3618_0000, R_AARCH64_TSTBR14, TEXT_VA - 0x8000, 0).unwrap();
    assert_eq!(decode_tbz(w, p), TEXT_VA - 0x8000);
    let (v, min, max) = overflow(text(
        0x5400_0000,
        R_AARCH64_CONDBR19,
        TEXT_VA + 0x10_0000,
        0,
    ));
    assert_eq!((v, min, max), (0x10_0000, -0x10_0000, 0xf_ffff));
    overflow(text(
        0x5800_0008,
        R_AARCH64_LD_PREL_LO19,
        TEXT_VA - 0x10_0004,
        0,
    ));
    let (v, _, _) = overflow(text(0x3618_0000, R_AARCH64_TSTBR14, TEXT_VA + 0x8000, 0));
    assert_eq!(v, 0x8000);
}

#[test]
fn adr_prel_lo21() {
    let (w, p) = text(0x1000_0004, R_AARCH64_ADR_PREL_LO21, TEXT_VA + 0x12345, 0).unwrap();
    assert_eq!(w, 0x1000_0004 | (1 << 29) | (0x48d1 << 5));
    assert_eq!(decode_adr(w, p), TEXT_VA + 0x12345);
    let (w, p) = text(0x1000_0004, R_AARCH64_ADR_PREL_LO21, TEXT_VA - 0x10_0000, 0).unwrap();
    assert_eq!(decode_adr(w, p), TEXT_VA - 0x10_0000);
    overflow(text(
        0x1000_0004,
        R_AARCH64_ADR_PREL_LO21,
        TEXT_VA + 0x10_0000,
        0,
    ));
}

#[test]
fn adrp_and_lo12() {
    let s = TEXT_VA + 0x1234_5678;
    let (w, p) = text(0x9000_0000, R_AARCH64_ADR_PREL_PG_HI21, s, 0).unwrap();
    assert_eq!(decode_adr(w, p), s & !0xfff);
    // 0x12345 pages: immlo = 1, immhi = 0x48d1.
    assert_eq!(w, 0x9000_0000 | (1 << 29) | (0x48d1 << 5));
    let (w, p) = text(
        0x9000_0000,
        R_AARCH64_ADR_PREL_PG_HI21,
        TEXT_VA - 0x1_0000_0000,
        0,
    )
    .unwrap();
    assert_eq!(decode_adr(w, p), TEXT_VA - 0x1_0000_0000);
    let (v, _, _) = overflow(text(
        0x9000_0000,
        R_AARCH64_ADR_PREL_PG_HI21,
        TEXT_VA + 0x1_0000_0000,
        0,
    ));
    assert_eq!(v, 0x1_0000_0000);
    // The _NC form does not check and keeps the low 21 bits of the page delta.
    let (w, p) = text(
        0x9000_0000,
        R_AARCH64_ADR_PREL_PG_HI21_NC,
        TEXT_VA + 0x2_0000_1000,
        0,
    )
    .unwrap();
    assert_eq!(decode_adr(w, p), TEXT_VA + 0x1000);
    let (w, _) = text(
        0x9100_0000,
        R_AARCH64_ADD_ABS_LO12_NC,
        0xffff_1234_5678_9abc,
        0,
    )
    .unwrap();
    assert_eq!(w, 0x9100_0000 | (0xabc << 10));
    assert_eq!(decode_imm12(w), 0xabc);
}

#[test]
fn ldst_lo12_scaled() {
    let s = 0xffff_0000_0000_1560;
    for (word, r_type, scale) in [
        (0x3940_0022u32, R_AARCH64_LDST8_ABS_LO12_NC, 0),
        (0x7940_0022, R_AARCH64_LDST16_ABS_LO12_NC, 1),
        (0xb940_0022, R_AARCH64_LDST32_ABS_LO12_NC, 2),
        (0xf940_0022, R_AARCH64_LDST64_ABS_LO12_NC, 3),
        (0x3dc0_0020, R_AARCH64_LDST128_ABS_LO12_NC, 4),
    ] {
        let (w, _) = text(word, r_type, s, 0).unwrap();
        assert_eq!(w, word | ((0x560 >> scale) << 10), "type {r_type}");
        if scale > 0 {
            let r = text(word, r_type, s + 1, 0);
            assert!(
                matches!(
                    r,
                    Err(LoadError::Relocation {
                        problem: RelocProblem::Misaligned { .. },
                        ..
                    })
                ),
                "type {r_type}"
            );
        }
    }
}

#[test]
fn movw_uabs() {
    let s = 0x1122_3344_5566_7788u64;
    let movz = 0xd280_0005u32;
    let movk = 0xf280_0005u32;
    for (word, r_type, chunk) in [
        (movz, R_AARCH64_MOVW_UABS_G3, 0x1122),
        (movk, R_AARCH64_MOVW_UABS_G2_NC, 0x3344),
        (movk, R_AARCH64_MOVW_UABS_G1_NC, 0x5566),
        (movk, R_AARCH64_MOVW_UABS_G0_NC, 0x7788),
    ] {
        let (w, _) = text(word, r_type, s, 0).unwrap();
        assert_eq!(w, word | (chunk << 5));
    }
    let (w, _) = text(movz, R_AARCH64_MOVW_UABS_G0, 0xfffe, 1).unwrap();
    assert_eq!(decode_imm16(w), 0xffff);
    let (w, _) = text(movz, R_AARCH64_MOVW_UABS_G1, 0xffff_ffff, 0).unwrap();
    assert_eq!(decode_imm16(w), 0xffff);
    let (w, _) = text(movz, R_AARCH64_MOVW_UABS_G2, 0x1234_0000_0000, 0).unwrap();
    assert_eq!(decode_imm16(w), 0x1234);
    overflow(text(movz, R_AARCH64_MOVW_UABS_G0, 0x1_0000, 0));
    overflow(text(movz, R_AARCH64_MOVW_UABS_G1, 0x1_0000_0000, 0));
    overflow(text(movz, R_AARCH64_MOVW_UABS_G2, 0x1_0000_0000_0000, 0));
    overflow(text(movz, R_AARCH64_MOVW_UABS_G0, 0, -1));
}

#[test]
fn movw_sabs_picks_movz_or_movn() {
    let movz = 0xd280_0005u32;
    let (w, _) = text(movz, R_AARCH64_MOVW_SABS_G0, 0, -2).unwrap();
    assert_eq!(movw_opc(w), "movn");
    assert_eq!(w, 0x9280_0025, "movn x5, #1 is -2");
    let (w, _) = text(movz, R_AARCH64_MOVW_SABS_G0, 0x1234, 0).unwrap();
    assert_eq!(w, movz | (0x1234 << 5));
    let (w, _) = text(movz, R_AARCH64_MOVW_SABS_G1, 0, -0x1_0000).unwrap();
    assert_eq!(movw_opc(w), "movn");
    assert_eq!(decode_imm16(w), 0, "!(-0x10000) >> 16 = 0");
    let (w, _) = text(movz, R_AARCH64_MOVW_SABS_G2, 0x5678_0000_0000, 0).unwrap();
    assert_eq!((movw_opc(w), decode_imm16(w)), ("movz", 0x5678));
    overflow(text(movz, R_AARCH64_MOVW_SABS_G0, 0x1_0000, 0));
    overflow(text(movz, R_AARCH64_MOVW_SABS_G0, 0, -0x1_0001));
}

#[test]
fn movw_prel() {
    let movz = 0xd280_0007u32;
    let movk = 0xf280_0007u32;
    // A full 64-bit PC-relative sequence: movz G3, movk G2_NC, G1_NC, G0_NC.
    let delta: i64 = -0x0123_4567_89ab_cdef;
    let s = TEXT_VA.wrapping_add(delta as u64);
    let mut value = 0u64;
    for (word, r_type, shift) in [
        (movz, R_AARCH64_MOVW_PREL_G3, 48),
        (movk, R_AARCH64_MOVW_PREL_G2_NC, 32),
        (movk, R_AARCH64_MOVW_PREL_G1_NC, 16),
        (movk, R_AARCH64_MOVW_PREL_G0_NC, 0),
    ] {
        // Every instruction sits at offset 0, so P is TEXT_VA for all four.
        let (w, _) = text(word, r_type, s, 0).unwrap();
        let chunk = decode_imm16(w);
        if movw_opc(w) == "movn" {
            value = !(chunk << shift);
        } else {
            value = (value & !(0xffff << shift)) | (chunk << shift);
        }
    }
    assert_eq!(value as i64, delta);
    let (w, _) = text(movz, R_AARCH64_MOVW_PREL_G0, TEXT_VA + 0x40, 0).unwrap();
    assert_eq!((movw_opc(w), decode_imm16(w)), ("movz", 0x40));
    let (w, _) = text(movz, R_AARCH64_MOVW_PREL_G0, TEXT_VA - 0x40, 0).unwrap();
    assert_eq!((movw_opc(w), decode_imm16(w)), ("movn", 0x3f));
    let (w, _) = text(movz, R_AARCH64_MOVW_PREL_G1, TEXT_VA + 0x12_0000, 0).unwrap();
    assert_eq!(decode_imm16(w), 0x12);
    let (w, _) = text(movz, R_AARCH64_MOVW_PREL_G2, TEXT_VA + 0x3_0000_0000, 0).unwrap();
    assert_eq!(decode_imm16(w), 3);
    overflow(text(movz, R_AARCH64_MOVW_PREL_G0, TEXT_VA + 0x1_0000, 0));
    overflow(text(
        movz,
        R_AARCH64_MOVW_PREL_G1,
        TEXT_VA + 0x1_0000_0000,
        0,
    ));
}

#[test]
fn unsupported_relocations_are_named() {
    let mut b = ElfBuilder::new();
    let t = b.section(".text", Kind::Text, &[0; 8], 4);
    let s = b.undefined("x");
    b.rela(t, 4, s, R_AARCH64_ADR_GOT_PAGE, 0);
    let err = Object::parse(&b.build()).unwrap_err();
    assert_eq!(
        err,
        LoadError::UnsupportedRelocation {
            section: ".text".into(),
            offset: 4,
            r_type: 311
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("R_AARCH64_ADR_GOT_PAGE (type 311) at .text+0x4"),
        "{msg}"
    );
    let mut b = ElfBuilder::new();
    let t = b.section(".text", Kind::Text, &[0; 8], 4);
    b.rela(t, 0, 0, 4242, 0);
    let msg = Object::parse(&b.build()).unwrap_err().to_string();
    assert!(msg.contains("type 4242"), "{msg}");
}

#[test]
fn unknown_symbol_names_the_section() {
    let mut b = ElfBuilder::new();
    b.section(".text", Kind::Text, &[0; 4], 4);
    let d = b.section(".data.rel.ro.table", Kind::Data, &[0; 8], 8);
    let s = b.undefined("keel_missing");
    b.rela(d, 0, s, R_AARCH64_ABS64, 0);
    let elf = b.build();
    let obj = Object::parse(&elf).unwrap();
    let mut bufs = Buffers::new(&obj.layout(), TEXT_VA, RODATA_VA, DATA_VA);
    let err = obj.link(&mut bufs.image(), &mut |_| None).unwrap_err();
    assert_eq!(
        err,
        LoadError::UnknownSymbol {
            name: "keel_missing".into(),
            referenced_from: ".data.rel.ro.table".into()
        }
    );
    assert!(err
        .to_string()
        .contains("unknown symbol `keel_missing` (referenced from .data.rel.ro.table)"));
}

#[test]
fn weak_undefined_links_as_zero() {
    let mut b = ElfBuilder::new();
    let d = b.section(".data", Kind::Data, &[0xff; 8], 8);
    let w = b.weak_undefined("maybe");
    b.rela(d, 0, w, R_AARCH64_ABS64, 0x10);
    let elf = b.build();
    let obj = Object::parse(&elf).unwrap();
    let imports: Vec<_> = obj.imports().collect();
    assert_eq!(
        imports,
        [keel_modload::Import {
            name: "maybe",
            weak: true
        }]
    );
    let mut bufs = Buffers::new(&obj.layout(), TEXT_VA, RODATA_VA, DATA_VA);
    obj.link(&mut bufs.image(), &mut |_| None).unwrap();
    assert_eq!(bufs.u64_at(DATA_VA), 0x10);
    // A resolver that knows it wins.
    obj.link(&mut bufs.image(), &mut |_| Some(0x5000)).unwrap();
    assert_eq!(bufs.u64_at(DATA_VA), 0x5010);
}

#[test]
fn resolver_is_asked_once_per_symbol() {
    let mut b = ElfBuilder::new();
    let d = b.section(".data", Kind::Data, &[0; 24], 8);
    let s = b.undefined("once");
    for off in [0, 8, 16] {
        b.rela(d, off, s, R_AARCH64_ABS64, 0);
    }
    let elf = b.build();
    let obj = Object::parse(&elf).unwrap();
    let mut bufs = Buffers::new(&obj.layout(), TEXT_VA, RODATA_VA, DATA_VA);
    let mut calls = 0;
    obj.link(&mut bufs.image(), &mut |_| {
        calls += 1;
        Some(7)
    })
    .unwrap();
    assert_eq!(calls, 1);
}
