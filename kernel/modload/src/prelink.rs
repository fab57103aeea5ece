//! [`Object::prelink`]: applies, once and for all at build time, the relocations whose result
//! does not depend on where the module is loaded.
//!
//! The loader places a module's text, rodata and data at offsets of its span that depend only on
//! the object ([`Layout::span`](crate::Layout::span)), and the span starts on a page boundary.
//! So a PC-relative relocation (`CALL26`, `PREL32`, `ADR_PREL_PG_HI21`, ...) between two of the
//! module's own sections, and the low 12 bits of an address (`ADD_ABS_LO12_NC`,
//! `LDST*_ABS_LO12_NC`), come out the same wherever the span lands. Prelinking applies those with
//! the span offsets as addresses, records each loaded section's offset as its `sh_addr`, drops
//! the relocations it applied and adds the [`PRELINKED_SECTION`] marker. What stays for the
//! loader: relocations against imported or absolute symbols, absolute ones (`ABS64`, `MOVW_UABS`,
//! ...), which need the load address, branches that may need a veneer, and relocations of
//! `NOBITS` sections. The link checks that a prelinked module's sections land at the recorded
//! offsets of one page-aligned base ([`LoadError::Misplaced`]).

use alloc::vec;
use alloc::vec::Vec;

use goblin::elf::reloc::*;
use goblin::elf::section_header::{
    SHF_ALLOC, SHF_EXECINSTR, SHN_LORESERVE, SHT_NOBITS, SHT_PROGBITS, SHT_RELA,
};

use crate::elf::{Rela, Shdr, RELA_SIZE, SHDR_SIZE, SYM_SIZE};
use crate::error::LoadError;
use crate::layout::PAGE_SIZE;
use crate::link::relocation_error;
use crate::object::{relas, Object, Reloc, PRELINKED_SECTION, RELATIVE_SECTION};
use crate::reloc::{self, R_AARCH64_PLT32};

/// Whether relocation type `r_type` gives the same result for any page-aligned load address
/// when the symbol and the place are both in the module: PC-relative types, and the low 12 bits
/// of an address.
fn position_independent(r_type: u32) -> bool {
    matches!(
        r_type,
        R_AARCH64_NONE
            | R_AARCH64_PREL64
            | R_AARCH64_PREL32
            | R_AARCH64_PREL16
            | R_AARCH64_PLT32
            | R_AARCH64_LD_PREL_LO19
            | R_AARCH64_ADR_PREL_LO21
            | R_AARCH64_ADR_PREL_PG_HI21
            | R_AARCH64_ADR_PREL_PG_HI21_NC
            | R_AARCH64_ADD_ABS_LO12_NC
            | R_AARCH64_LDST8_ABS_LO12_NC
            | R_AARCH64_LDST16_ABS_LO12_NC
            | R_AARCH64_LDST32_ABS_LO12_NC
            | R_AARCH64_LDST64_ABS_LO12_NC
            | R_AARCH64_LDST128_ABS_LO12_NC
            | R_AARCH64_TSTBR14
            | R_AARCH64_CONDBR19
            | R_AARCH64_JUMP26
            | R_AARCH64_CALL26
            | R_AARCH64_MOVW_PREL_G0
            | R_AARCH64_MOVW_PREL_G0_NC
            | R_AARCH64_MOVW_PREL_G1
            | R_AARCH64_MOVW_PREL_G1_NC
            | R_AARCH64_MOVW_PREL_G2
            | R_AARCH64_MOVW_PREL_G2_NC
            | R_AARCH64_MOVW_PREL_G3
    )
}

fn put_u64(out: &mut [u8], at: usize, value: u64) {
    if let Some(field) = out.get_mut(at..at + 8) {
        field.copy_from_slice(&value.to_le_bytes());
    }
}

fn put_u16(out: &mut [u8], at: usize, value: u16) {
    if let Some(field) = out.get_mut(at..at + 2) {
        field.copy_from_slice(&value.to_le_bytes());
    }
}

/// Pads `out` with zeros to a multiple of 8 bytes.
fn align8(out: &mut Vec<u8>) {
    out.resize(out.len().next_multiple_of(8), 0);
}

impl Object<'_> {
    /// Returns the object prelinked (see the module documentation): the same ELF object with
    /// its loaded sections' `sh_addr` set to their offsets in the module's span, every
    /// position-independent relocation between its own sections applied and removed, and the
    /// [`PRELINKED_SECTION`] marker added. The new section names and header table are appended
    /// at the end of the file (the old ones, and the tails of the shortened relocation sections,
    /// are left as unused bytes for a later `objcopy` to drop).
    ///
    /// Fails on an object that is prelinked already and on a relocation that does not fit.
    pub fn prelink(&self) -> Result<Vec<u8>, LoadError> {
        let shstrndx = self.shstrndx;
        let marker_index = self.shnum;
        if self.prelinked {
            return Err(LoadError::BadSection {
                index: 0,
                name: PRELINKED_SECTION.into(),
                why: "the module is prelinked already",
            });
        }
        if marker_index + 2 > usize::from(SHN_LORESERVE as u16) {
            return Err(LoadError::BadHeader {
                field: "e_shnum",
                value: self.shnum as u64,
                why: "no room in the section table for the two sections prelinking adds",
            });
        }
        let layout = self.layout();
        let span = layout.span();
        // Each loaded section's offset in the span.
        let mut at: Vec<Option<u64>> = vec![None; self.shnum];
        self.plan(layout.veneer_slots, |i, _, group, offset| {
            if let Some(slot) = at.get_mut(i) {
                *slot = Some(span.start(group) + offset as u64);
            }
        })?;
        let mut out = self.bytes.to_vec();
        // The span offsets of the places that hold an address in the module (RELATIVE_SECTION).
        let mut relative = Vec::new();
        for (i, offset) in at.iter().enumerate() {
            if let Some(offset) = offset {
                put_u64(&mut out, self.shoff + i * SHDR_SIZE + 16, *offset);
            }
        }
        for i in 0..self.shnum {
            let Some(sh) = self.shdr(i).filter(|sh| sh.sh_type == SHT_RELA) else {
                continue;
            };
            let target = sh.info as usize;
            let (Some(Some(target_at)), Some(tsh)) = (at.get(target).copied(), self.shdr(target))
            else {
                continue;
            };
            if tsh.sh_type == SHT_NOBITS {
                continue;
            }
            let start = sh.offset as usize;
            let mut kept = 0;
            for (j, rela) in relas(self.section_data(i, &sh)) {
                if self.apply_at_build(&mut out, &at, &tsh, target, target_at, &rela)? {
                    continue;
                }
                if let Some(place) = self.relative_at_build(&mut out, &at, &tsh, target_at, &rela) {
                    relative.push(place);
                    continue;
                }
                let entry = start + j * RELA_SIZE;
                out.copy_within(entry..entry + RELA_SIZE, start + kept * RELA_SIZE);
                kept += 1;
            }
            put_u64(
                &mut out,
                self.shoff + i * SHDR_SIZE + 32,
                (kept * RELA_SIZE) as u64,
            );
        }
        self.sort_local_symbols(&mut out);
        // The loader wants the places in increasing order.
        relative.sort_unstable();
        let relative: Vec<u8> = relative
            .iter()
            .flat_map(|place| place.to_le_bytes())
            .collect();
        // The new sections' names after the old names, their contents, then the new header
        // table with their headers at its end.
        let marker = (PAGE_SIZE as u32).to_le_bytes();
        let mut added: Vec<(&str, &[u8], u64)> = vec![(PRELINKED_SECTION, &marker, 4)];
        if !relative.is_empty() {
            added.push((RELATIVE_SECTION, &relative, 8));
        }
        let shstr = self.shdr(shstrndx).unwrap_or_default();
        align8(&mut out);
        let names_at = out.len();
        out.extend_from_slice(self.section_data(shstrndx, &shstr));
        let mut names = Vec::new();
        for (name, _, _) in &added {
            names.push(out.len() - names_at);
            out.extend_from_slice(name.as_bytes());
            out.push(0);
        }
        let names_size = out.len() - names_at;
        let mut contents = Vec::new();
        for (_, data, _) in &added {
            align8(&mut out);
            contents.push(out.len());
            out.extend_from_slice(data);
        }
        align8(&mut out);
        let table_at = out.len();
        let table = self.shoff..self.shoff + self.shnum * SHDR_SIZE;
        out.extend_from_within(table);
        let names_header = table_at + shstrndx * SHDR_SIZE;
        put_u64(&mut out, names_header + 24, names_at as u64);
        put_u64(&mut out, names_header + 32, names_size as u64);
        for (((_, data, align), name), at) in added.iter().zip(&names).zip(&contents) {
            let mut header = [0u8; SHDR_SIZE];
            header[..4].copy_from_slice(&(*name as u32).to_le_bytes());
            header[4..8].copy_from_slice(&SHT_PROGBITS.to_le_bytes());
            put_u64(&mut header, 24, *at as u64);
            put_u64(&mut header, 32, data.len() as u64);
            put_u64(&mut header, 48, *align);
            out.extend_from_slice(&header);
        }
        put_u64(&mut out, 40, table_at as u64);
        put_u16(&mut out, 60, (self.shnum + added.len()) as u16);
        Ok(out)
    }

    /// The relocation sections of `out` (the object being prelinked) that name this symbol
    /// table: header offset and header.
    fn symbol_relocations<'o>(&self, out: &'o [u8]) -> impl Iterator<Item = (usize, Shdr)> + 'o {
        let (shoff, symtab) = (self.shoff, self.symtab_index);
        (0..self.shnum).filter_map(move |i| {
            let at = shoff + i * SHDR_SIZE;
            Shdr::read(out, at)
                .filter(|sh| sh.sh_type == SHT_RELA && sh.link as usize == symtab)
                .map(|sh| (at, sh))
        })
    }

    /// Orders the local symbols in `out` (the object being prelinked) by section and address,
    /// so that the loader finds the functions sorted, drops the section symbols no remaining
    /// relocation names, and renumbers every relocation's symbol to match. Symbol 0 and the
    /// globals (after the locals) keep their order.
    fn sort_local_symbols(&self, out: &mut [u8]) {
        let Some(symtab) = self
            .shdr(self.symtab_index)
            .filter(|_| self.symtab_index != 0)
        else {
            return;
        };
        let count = self.symbol_count();
        let locals = (symtab.info as usize).clamp(1, count.max(1));
        // `r_info`'s high half is the symbol index.
        let symbol_at = |sh: &Shdr, j: usize| sh.offset as usize + j * RELA_SIZE + 12;
        let mut named = vec![false; count];
        for (_, sh) in self.symbol_relocations(out) {
            for j in 0..sh.size as usize / RELA_SIZE {
                let old = crate::elf::u32_at(out, symbol_at(&sh, j)).unwrap_or(0);
                if let Some(slot) = named.get_mut(old as usize) {
                    *slot = true;
                }
            }
        }
        let mut order: Vec<usize> = (1..locals)
            .filter(|&i| {
                let unnamed_section = self
                    .sym(i)
                    .is_some_and(|sym| sym.kind() == goblin::elf::sym::STT_SECTION);
                !unnamed_section || named.get(i).copied().unwrap_or(true)
            })
            .collect();
        order.sort_by_key(|&i| self.sym(i).map(|sym| (sym.shndx, sym.value)));
        let kept_locals = order.len() + 1;
        order.insert(0, 0);
        order.extend(locals..count);
        let mut new_index = vec![0u32; count];
        let start = symtab.offset as usize;
        for (new, &old) in order.iter().enumerate() {
            if let Some(slot) = new_index.get_mut(old) {
                *slot = new as u32;
            }
            // From the original bytes: `out`'s table is being overwritten.
            let from = start + old * SYM_SIZE;
            if let (Some(dst), Some(src)) = (
                out.get_mut(start + new * SYM_SIZE..start + (new + 1) * SYM_SIZE),
                self.bytes.get(from..from + SYM_SIZE),
            ) {
                dst.copy_from_slice(src);
            }
        }
        // The table's new size and first global.
        let header = self.shoff + self.symtab_index * SHDR_SIZE;
        put_u64(out, header + 32, (order.len() * SYM_SIZE) as u64);
        if let Some(info) = out.get_mut(header + 44..header + 48) {
            info.copy_from_slice(&(kept_locals as u32).to_le_bytes());
        }
        let sections: Vec<Shdr> = self.symbol_relocations(out).map(|(_, sh)| sh).collect();
        for sh in sections {
            for j in 0..sh.size as usize / RELA_SIZE {
                let at = symbol_at(&sh, j);
                let old = crate::elf::u32_at(out, at).unwrap_or(0);
                if let (Some(&new), Some(field)) =
                    (new_index.get(old as usize), out.get_mut(at..at + 4))
                {
                    field.copy_from_slice(&new.to_le_bytes());
                }
            }
        }
    }

    /// For an `ABS64` relocation of a module's own address (`rela`, of a section at span offset
    /// `target_at`), writes the address's span offset into the place and returns the place's
    /// span offset: the loader adds the module's base to it ([`RELATIVE_SECTION`]).
    fn relative_at_build(
        &self,
        out: &mut [u8],
        at: &[Option<u64>],
        tsh: &Shdr,
        target_at: u64,
        rela: &Rela,
    ) -> Option<u64> {
        if rela.r_type != R_AARCH64_ABS64 {
            return None;
        }
        let sym = self.sym(rela.sym as usize)?;
        let section_at = (*at.get(usize::from(sym.shndx))?)?;
        let value = (section_at + sym.value).wrapping_add(rela.addend as u64);
        let place = (tsh.offset as usize).checked_add(rela.offset as usize)?;
        out.get_mut(place..place.checked_add(8)?)?
            .copy_from_slice(&value.to_le_bytes());
        Some(target_at + rela.offset)
    }

    /// Applies `rela` (a relocation of section `target`, at span offset `target_at`) to `out` if
    /// its result does not depend on the load address; returns whether it did.
    fn apply_at_build(
        &self,
        out: &mut [u8],
        at: &[Option<u64>],
        tsh: &Shdr,
        target: usize,
        target_at: u64,
        rela: &Rela,
    ) -> Result<bool, LoadError> {
        if !position_independent(rela.r_type) {
            return Ok(false);
        }
        let Some(sym) = self.sym(rela.sym as usize) else {
            return Ok(false);
        };
        let shndx = usize::from(sym.shndx);
        let Some(Some(section_at)) = at.get(shndx).copied() else {
            // Undefined, absolute or not loaded.
            return Ok(false);
        };
        let text = u64::from(SHF_ALLOC | SHF_EXECINSTR);
        let in_text = self.shdr(shndx).is_some_and(|sh| sh.flags & text == text);
        if reloc::is_branch26(rela.r_type) && !in_text {
            // May need a veneer: the loader decides.
            return Ok(false);
        }
        let width = reloc::width(rela.r_type).unwrap_or(0) as usize;
        let place_at = (tsh.offset as usize).checked_add(rela.offset as usize);
        let place = place_at.and_then(|p| out.get_mut(p..p.checked_add(width)?));
        let s = section_at + sym.value;
        let p = target_at + rela.offset;
        let as_reloc = || Reloc {
            offset: rela.offset,
            addend: rela.addend,
            sym: rela.sym,
            r_type: rela.r_type,
            target: target as u32,
            width: width as u8,
            veneer_candidate: false,
        };
        let applied = match place {
            Some(place) => reloc::apply(rela.r_type, place, s, rela.addend, p)
                .map_err(|problem| relocation_error(self, &as_reloc(), problem))?,
            None => false,
        };
        if !applied {
            return Err(self.unsupported_relocation(target, rela.offset, rela.r_type));
        }
        Ok(true)
    }
}
