//! The AArch64 relocation types the loader applies: their names, the bytes each patches, and
//! the arithmetic that patches them (ELF for the Arm 64-bit Architecture, "Relocation").
//!
//! Notation as in the ABI: `S` is the symbol's address, `A` the addend, `P` the address of
//! the place being patched, `Page(x)` is `x & !0xfff`. Values are computed in `i128`, so no
//! sum overflows; checked types compare the exact value against the field's range.

use core::fmt;

use goblin::elf::reloc::*;

use crate::error::RelocProblem;

/// `R_AARCH64_PLT32` (not in goblin's table): `S + A - P`, 32-bit signed.
pub const R_AARCH64_PLT32: u32 = 314;

/// The relocation types this loader applies, each with its name.
pub const SUPPORTED: &[(u32, &str)] = &[
    (R_AARCH64_NONE, "R_AARCH64_NONE"),
    (R_AARCH64_ABS64, "R_AARCH64_ABS64"),
    (R_AARCH64_ABS32, "R_AARCH64_ABS32"),
    (R_AARCH64_ABS16, "R_AARCH64_ABS16"),
    (R_AARCH64_PREL64, "R_AARCH64_PREL64"),
    (R_AARCH64_PREL32, "R_AARCH64_PREL32"),
    (R_AARCH64_PREL16, "R_AARCH64_PREL16"),
    (R_AARCH64_PLT32, "R_AARCH64_PLT32"),
    (R_AARCH64_MOVW_UABS_G0, "R_AARCH64_MOVW_UABS_G0"),
    (R_AARCH64_MOVW_UABS_G0_NC, "R_AARCH64_MOVW_UABS_G0_NC"),
    (R_AARCH64_MOVW_UABS_G1, "R_AARCH64_MOVW_UABS_G1"),
    (R_AARCH64_MOVW_UABS_G1_NC, "R_AARCH64_MOVW_UABS_G1_NC"),
    (R_AARCH64_MOVW_UABS_G2, "R_AARCH64_MOVW_UABS_G2"),
    (R_AARCH64_MOVW_UABS_G2_NC, "R_AARCH64_MOVW_UABS_G2_NC"),
    (R_AARCH64_MOVW_UABS_G3, "R_AARCH64_MOVW_UABS_G3"),
    (R_AARCH64_MOVW_SABS_G0, "R_AARCH64_MOVW_SABS_G0"),
    (R_AARCH64_MOVW_SABS_G1, "R_AARCH64_MOVW_SABS_G1"),
    (R_AARCH64_MOVW_SABS_G2, "R_AARCH64_MOVW_SABS_G2"),
    (R_AARCH64_LD_PREL_LO19, "R_AARCH64_LD_PREL_LO19"),
    (R_AARCH64_ADR_PREL_LO21, "R_AARCH64_ADR_PREL_LO21"),
    (R_AARCH64_ADR_PREL_PG_HI21, "R_AARCH64_ADR_PREL_PG_HI21"),
    (
        R_AARCH64_ADR_PREL_PG_HI21_NC,
        "R_AARCH64_ADR_PREL_PG_HI21_NC",
    ),
    (R_AARCH64_ADD_ABS_LO12_NC, "R_AARCH64_ADD_ABS_LO12_NC"),
    (R_AARCH64_LDST8_ABS_LO12_NC, "R_AARCH64_LDST8_ABS_LO12_NC"),
    (R_AARCH64_TSTBR14, "R_AARCH64_TSTBR14"),
    (R_AARCH64_CONDBR19, "R_AARCH64_CONDBR19"),
    (R_AARCH64_JUMP26, "R_AARCH64_JUMP26"),
    (R_AARCH64_CALL26, "R_AARCH64_CALL26"),
    (R_AARCH64_LDST16_ABS_LO12_NC, "R_AARCH64_LDST16_ABS_LO12_NC"),
    (R_AARCH64_LDST32_ABS_LO12_NC, "R_AARCH64_LDST32_ABS_LO12_NC"),
    (R_AARCH64_LDST64_ABS_LO12_NC, "R_AARCH64_LDST64_ABS_LO12_NC"),
    (R_AARCH64_MOVW_PREL_G0, "R_AARCH64_MOVW_PREL_G0"),
    (R_AARCH64_MOVW_PREL_G0_NC, "R_AARCH64_MOVW_PREL_G0_NC"),
    (R_AARCH64_MOVW_PREL_G1, "R_AARCH64_MOVW_PREL_G1"),
    (R_AARCH64_MOVW_PREL_G1_NC, "R_AARCH64_MOVW_PREL_G1_NC"),
    (R_AARCH64_MOVW_PREL_G2, "R_AARCH64_MOVW_PREL_G2"),
    (R_AARCH64_MOVW_PREL_G2_NC, "R_AARCH64_MOVW_PREL_G2_NC"),
    (R_AARCH64_MOVW_PREL_G3, "R_AARCH64_MOVW_PREL_G3"),
    (
        R_AARCH64_LDST128_ABS_LO12_NC,
        "R_AARCH64_LDST128_ABS_LO12_NC",
    ),
];

/// Displays a relocation type's name (`R_AARCH64_CALL26`), falling back to goblin's table
/// for types the loader does not support.
#[derive(Clone, Copy, Debug)]
pub struct RelocName(pub u32);

impl fmt::Display for RelocName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((_, name)) = SUPPORTED.iter().find(|(t, _)| *t == self.0) {
            return f.write_str(name);
        }
        match r_to_str(self.0, goblin::elf::header::EM_AARCH64) {
            name if name.starts_with("R_") => f.write_str(name),
            name => write!(f, "R_{name}"),
        }
    }
}

/// [`SUPPORTED`] as a bit set of type numbers below 512 (all AArch64 static relocations are),
/// built at compile time so that a relocation's type is looked up without a search.
const SUPPORTED_SET: [u64; 8] = {
    let mut set = [0u64; 8];
    let mut i = 0;
    while i < SUPPORTED.len() {
        let t = SUPPORTED[i].0 as usize;
        assert!(t < 512, "relocation type numbers fit the set");
        set[t / 64] |= 1 << (t % 64);
        i += 1;
    }
    set
};

/// Whether `r_type` is one of [`SUPPORTED`].
fn is_supported(r_type: u32) -> bool {
    let t = r_type as usize;
    SUPPORTED_SET
        .get(t / 64)
        .is_some_and(|word| word >> (t % 64) & 1 == 1)
}

/// Returns how many bytes relocation type `r_type` patches, or `None` if unsupported.
#[inline(always)]
pub fn width(r_type: u32) -> Option<u64> {
    Some(match r_type {
        R_AARCH64_NONE => 0,
        R_AARCH64_ABS64 | R_AARCH64_PREL64 => 8,
        R_AARCH64_ABS16 | R_AARCH64_PREL16 => 2,
        _ if is_supported(r_type) => 4,
        _ => return None,
    })
}

/// Whether `r_type` is a 26-bit branch that may be routed through a veneer.
pub(crate) fn is_branch26(r_type: u32) -> bool {
    r_type == R_AARCH64_CALL26 || r_type == R_AARCH64_JUMP26
}

/// The range a 26-bit branch reaches: `S + A - P` must lie in it.
pub(crate) fn branch26_in_range(x: i128) -> bool {
    check_signed(x, 28).is_ok() && x & 3 == 0
}

fn check(value: i128, min: i64, max: i64) -> Result<(), RelocProblem> {
    if value < i128::from(min) || value > i128::from(max) {
        Err(RelocProblem::Overflow { value, min, max })
    } else {
        Ok(())
    }
}

/// `value` must fit in a `bits`-bit two's complement field.
fn check_signed(value: i128, bits: u32) -> Result<(), RelocProblem> {
    check(value, -(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
}

/// `value` must fit in `bits` bits, either as signed or as unsigned.
fn check_signed_or_unsigned(value: i128, bits: u32) -> Result<(), RelocProblem> {
    check(value, -(1i64 << (bits - 1)), (1i64 << bits) - 1)
}

/// `value` must fit in `bits` bits as an unsigned number.
fn check_unsigned(value: i128, bits: u32) -> Result<(), RelocProblem> {
    check(value, 0, (1i64 << bits) - 1)
}

fn check_align(value: i128, align: u64) -> Result<(), RelocProblem> {
    if value & (i128::from(align) - 1) != 0 {
        Err(RelocProblem::Misaligned { value, align })
    } else {
        Ok(())
    }
}

/// Replaces the bits of `insn` selected by `mask` (a field at `shift`) with `imm`.
fn insert(insn: u32, imm: i128, bits: u32, shift: u32) -> u32 {
    let mask = ((1u32 << bits) - 1) << shift;
    // Truncating the immediate to its field is the point.
    let field = ((imm as u64 as u32) << shift) & mask;
    (insn & !mask) | field
}

/// Writes the 21-bit immediate of an ADR or ADRP (`immlo` in bits 29-30, `immhi` in 5-23).
fn insert_adr(insn: u32, imm: i128) -> u32 {
    let insn = insert(insn, imm & 3, 2, 29);
    insert(insn, imm >> 2, 19, 5)
}

/// Writes a MOVZ/MOVN/MOVK immediate for a signed value: MOVK keeps its opcode; MOVZ and MOVN
/// are chosen by the sign (MOVN takes the inverted chunk), as the ABI asks for the signed
/// MOVW relocations.
fn insert_smovw(insn: u32, value: i128, group: u32) -> u32 {
    // The ABI reasons about 64-bit values; the checked variants already proved the value fits.
    let value = value as i64;
    let chunk = value >> (16 * group);
    const OPC_MOVK: u32 = 0b11 << 29;
    const OPC_MOVZ_BIT: u32 = 1 << 30;
    if insn & OPC_MOVK == OPC_MOVK {
        insert(insn, i128::from(chunk), 16, 5)
    } else if value < 0 {
        insert(insn & !OPC_MOVZ_BIT, i128::from(!chunk), 16, 5)
    } else {
        insert(insn | OPC_MOVZ_BIT, i128::from(chunk), 16, 5)
    }
}

/// Applies relocation `r_type` to `place`, which is exactly [`width`] bytes long, given the
/// symbol address `s`, the addend `a` and the place's address `p`.
///
/// Returns `Ok(false)` if the type is unsupported (parse refuses those, so the link never sees
/// one) and the problem if the value does not fit.
pub(crate) fn apply(
    r_type: u32,
    place: &mut [u8],
    s: u64,
    a: i64,
    p: u64,
) -> Result<bool, RelocProblem> {
    let sa = i128::from(s) + i128::from(a);
    let prel = sa - i128::from(p);
    let page = |x: i128| x & !0xfff;
    let mut insn = read_insn(place);
    match r_type {
        R_AARCH64_NONE => return Ok(true),
        R_AARCH64_ABS64 | R_AARCH64_PREL64 => {
            let v = if r_type == R_AARCH64_ABS64 { sa } else { prel };
            // Both are defined modulo 2^64.
            return Ok(write(place, &(v as u64).to_le_bytes()));
        }
        R_AARCH64_ABS32 | R_AARCH64_PREL32 | R_AARCH64_PLT32 => {
            let v = if r_type == R_AARCH64_ABS32 { sa } else { prel };
            if r_type == R_AARCH64_PLT32 {
                check_signed(v, 32)?;
            } else {
                check_signed_or_unsigned(v, 32)?;
            }
            return Ok(write(place, &(v as u32).to_le_bytes()));
        }
        R_AARCH64_ABS16 | R_AARCH64_PREL16 => {
            let v = if r_type == R_AARCH64_ABS16 { sa } else { prel };
            check_signed_or_unsigned(v, 16)?;
            return Ok(write(place, &(v as u16).to_le_bytes()));
        }
        R_AARCH64_CALL26 | R_AARCH64_JUMP26 => {
            check_signed(prel, 28)?;
            check_align(prel, 4)?;
            insn = insert(insn, prel >> 2, 26, 0);
        }
        R_AARCH64_CONDBR19 | R_AARCH64_LD_PREL_LO19 => {
            check_signed(prel, 21)?;
            check_align(prel, 4)?;
            insn = insert(insn, prel >> 2, 19, 5);
        }
        R_AARCH64_TSTBR14 => {
            check_signed(prel, 16)?;
            check_align(prel, 4)?;
            insn = insert(insn, prel >> 2, 14, 5);
        }
        R_AARCH64_ADR_PREL_LO21 => {
            check_signed(prel, 21)?;
            insn = insert_adr(insn, prel);
        }
        R_AARCH64_ADR_PREL_PG_HI21 | R_AARCH64_ADR_PREL_PG_HI21_NC => {
            let delta = page(sa) - page(i128::from(p));
            if r_type == R_AARCH64_ADR_PREL_PG_HI21 {
                check_signed(delta, 33)?;
            }
            insn = insert_adr(insn, delta >> 12);
        }
        R_AARCH64_ADD_ABS_LO12_NC => insn = insert(insn, sa & 0xfff, 12, 10),
        R_AARCH64_LDST8_ABS_LO12_NC
        | R_AARCH64_LDST16_ABS_LO12_NC
        | R_AARCH64_LDST32_ABS_LO12_NC
        | R_AARCH64_LDST64_ABS_LO12_NC
        | R_AARCH64_LDST128_ABS_LO12_NC => {
            let scale = match r_type {
                R_AARCH64_LDST8_ABS_LO12_NC => 0,
                R_AARCH64_LDST16_ABS_LO12_NC => 1,
                R_AARCH64_LDST32_ABS_LO12_NC => 2,
                R_AARCH64_LDST64_ABS_LO12_NC => 3,
                _ => 4,
            };
            check_align(sa, 1 << scale)?;
            insn = insert(insn, (sa & 0xfff) >> scale, 12, 10);
        }
        R_AARCH64_MOVW_UABS_G0
        | R_AARCH64_MOVW_UABS_G0_NC
        | R_AARCH64_MOVW_UABS_G1
        | R_AARCH64_MOVW_UABS_G1_NC
        | R_AARCH64_MOVW_UABS_G2
        | R_AARCH64_MOVW_UABS_G2_NC
        | R_AARCH64_MOVW_UABS_G3 => {
            let (group, checked) = match r_type {
                R_AARCH64_MOVW_UABS_G0 => (0, true),
                R_AARCH64_MOVW_UABS_G0_NC => (0, false),
                R_AARCH64_MOVW_UABS_G1 => (1, true),
                R_AARCH64_MOVW_UABS_G1_NC => (1, false),
                R_AARCH64_MOVW_UABS_G2 => (2, true),
                R_AARCH64_MOVW_UABS_G2_NC => (2, false),
                _ => (3, false),
            };
            if checked {
                check_unsigned(sa, 16 * (group + 1))?;
            }
            insn = insert(insn, sa >> (16 * group), 16, 5);
        }
        R_AARCH64_MOVW_SABS_G0 | R_AARCH64_MOVW_SABS_G1 | R_AARCH64_MOVW_SABS_G2 => {
            let group = match r_type {
                R_AARCH64_MOVW_SABS_G0 => 0,
                R_AARCH64_MOVW_SABS_G1 => 1,
                _ => 2,
            };
            check_signed(sa, 16 * (group + 1) + 1)?;
            insn = insert_smovw(insn, sa, group);
        }
        R_AARCH64_MOVW_PREL_G0
        | R_AARCH64_MOVW_PREL_G0_NC
        | R_AARCH64_MOVW_PREL_G1
        | R_AARCH64_MOVW_PREL_G1_NC
        | R_AARCH64_MOVW_PREL_G2
        | R_AARCH64_MOVW_PREL_G2_NC
        | R_AARCH64_MOVW_PREL_G3 => {
            let (group, checked) = match r_type {
                R_AARCH64_MOVW_PREL_G0 => (0, true),
                R_AARCH64_MOVW_PREL_G0_NC => (0, false),
                R_AARCH64_MOVW_PREL_G1 => (1, true),
                R_AARCH64_MOVW_PREL_G1_NC => (1, false),
                R_AARCH64_MOVW_PREL_G2 => (2, true),
                R_AARCH64_MOVW_PREL_G2_NC => (2, false),
                _ => (3, false),
            };
            if checked {
                check_signed(prel, 16 * (group + 1) + 1)?;
            }
            insn = insert_smovw(insn, prel, group);
        }
        _ => return Ok(false),
    }
    Ok(write_insn(place, insn))
}

/// Copies `bytes` into `place` if the lengths agree.
/// The 4-byte instruction at `place` (0 if `place` is not 4 bytes), read as one word where it
/// is 4-byte aligned in memory, as code is: the kernel's target forbids unaligned loads, so a
/// read from a `[u8]` would load each byte.
#[inline(always)]
fn read_insn(place: &[u8]) -> u32 {
    if place.len() != 4 {
        return 0;
    }
    match plain::from_bytes::<u32>(place) {
        Ok(&word) => u32::from_le(word),
        Err(_) => read_unaligned_insn(place),
    }
}

/// [`read_insn`] for an unaligned place. Not inlined: inlined, the compiler merges both paths
/// into the byte-at-a-time one.
#[inline(never)]
fn read_unaligned_insn(place: &[u8]) -> u32 {
    <[u8; 4]>::try_from(place).map_or(0, u32::from_le_bytes)
}

/// Writes `insn` to the 4-byte `place` (see [`read_insn`]); `false` if it is not 4 bytes.
#[inline(always)]
fn write_insn(place: &mut [u8], insn: u32) -> bool {
    if place.len() != 4 {
        return false;
    }
    match plain::from_mut_bytes::<u32>(place) {
        Ok(word) => {
            *word = insn.to_le();
            true
        }
        Err(_) => write_unaligned_insn(place, insn),
    }
}

/// [`write_insn`] for an unaligned place (not inlined, as [`read_unaligned_insn`]).
#[inline(never)]
fn write_unaligned_insn(place: &mut [u8], insn: u32) -> bool {
    write(place, &insn.to_le_bytes())
}

fn write(place: &mut [u8], bytes: &[u8]) -> bool {
    if place.len() != bytes.len() {
        return false;
    }
    place.copy_from_slice(bytes);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_unaligned_places_patch_alike() {
        let mut buf = [0u8; 16];
        let aligned = (4 - buf.as_ptr() as usize % 4) % 4;
        for at in [aligned, aligned + 1] {
            buf.fill(0);
            buf[at..at + 4].copy_from_slice(&0x9400_0000u32.to_le_bytes()); // bl .
            assert!(apply(R_AARCH64_CALL26, &mut buf[at..at + 4], 0x1000, 0, 0).unwrap());
            assert_eq!(buf[at..at + 4], 0x9400_0400u32.to_le_bytes());
            assert_eq!(read_insn(&buf[at..at + 4]), 0x9400_0400);
            assert_eq!(read_insn(&buf[at..at + 3]), 0);
            assert!(!write_insn(&mut buf[at..at + 3], 1));
        }
    }

    #[test]
    fn the_supported_set_is_the_supported_list() {
        for t in 0..2048u32 {
            let listed = SUPPORTED.iter().any(|&(s, _)| s == t);
            assert_eq!(is_supported(t), listed, "type {t}");
            assert_eq!(width(t).is_some(), listed, "type {t}");
        }
        assert!(!is_supported(u32::MAX));
    }
}
