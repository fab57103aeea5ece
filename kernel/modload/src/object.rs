//! [`Object`]: a validated view of a module's ELF bytes, and [`Object::parse`], which checks
//! everything the later steps rely on.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use goblin::elf::header::{EM_AARCH64, ET_REL};
use goblin::elf::section_header::{
    SHF_ALLOC, SHF_EXECINSTR, SHF_TLS, SHN_ABS, SHN_COMMON, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX,
    SHT_NOBITS, SHT_REL, SHT_RELA, SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX,
};
use goblin::elf::sym::{STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_GNU_IFUNC, STT_TLS};

use crate::elf::{self, Rela, Shdr, StrTable, Sym, EHDR_SIZE, RELA_SIZE, SHDR_SIZE, SYM_SIZE};
use crate::error::LoadError;
use crate::layout::{Layout, PAGE_SIZE};
use crate::reloc;

/// The largest section alignment accepted (64 KiB); larger requests are refused so a group's
/// alignment stays something a page allocator can honour.
pub const MAX_SECTION_ALIGN: u64 = 64 * 1024;

/// A validated AArch64 relocatable object, borrowing the module's bytes.
///
/// Creating one with [`Object::parse`] checks every header, table, name, symbol and
/// relocation that [`Object::layout`] and [`Object::link`] later use, so those never index
/// out of bounds. Parsing reads every relocation of a loaded section once, into a table of
/// what the layout and the link need of it (24 file bytes make one 32-byte entry), and lists
/// the imports; these, and a byte per symbol while it checks them, are its only allocations:
/// bounded by the object's size, and freed with the object or on error.
#[derive(Clone, Debug)]
pub struct Object<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) shoff: usize,
    /// Index of the section name table.
    pub(crate) shstrndx: usize,
    pub(crate) shnum: usize,
    shstrtab: StrTable<'a>,
    /// Index of the `SHT_SYMTAB` section, or 0 if there is none.
    pub(crate) symtab_index: usize,
    symtab: &'a [u8],
    pub(crate) strtab: StrTable<'a>,
    /// The layout ([`Object::layout`]), computed by parse.
    pub(crate) layout: Layout,
    /// The relocations of loaded sections, in section-table and then file order.
    pub(crate) relocs: Vec<Reloc>,
    /// The undefined global and weak symbols that have a name, by symbol index (in table
    /// order), with their names: looked up once.
    imports: Vec<Imported<'a>>,
    /// Whether the object carries [`PRELINKED_SECTION`]: its loaded sections' addresses are
    /// their offsets in the module's span, and the relocations between them were applied.
    pub(crate) prelinked: bool,
    /// The contents of [`RELATIVE_SECTION`] (empty without one).
    pub(crate) relative: &'a [u8],
    /// The index of [`RELATIVE_SECTION`] (0 without one).
    relative_index: usize,
}

/// One relocation of a loaded section as [`Object::parse`] checked it: what the layout and the
/// link need of it, read from the file once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reloc {
    /// Offset of the place within the target section.
    pub offset: u64,
    /// The addend.
    pub addend: i64,
    /// The symbol's index (within the symbol table).
    pub sym: u32,
    /// The relocation type (supported: parse refuses the others).
    pub r_type: u32,
    /// Index of the section it patches.
    pub target: u32,
    /// How many bytes it patches (`reloc::width`; the place lies within the target section).
    pub width: u8,
    /// Whether it is a `CALL26`/`JUMP26` branch to a symbol outside the module's own text,
    /// which may need a veneer.
    pub veneer_candidate: bool,
}

/// An undefined global symbol the module needs from the kernel (or another module).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Import<'a> {
    /// The symbol's name.
    pub name: &'a str,
    /// Whether the reference is weak: an unresolved weak symbol links as address 0.
    pub weak: bool,
}

/// An import and its symbol's index.
type Imported<'a> = (usize, Import<'a>);

/// Where a symbol is defined, as far as its relocations care.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Defined {
    /// In no section: undefined (resolved at link time) or absolute.
    Elsewhere,
    /// In a section that is not loaded.
    Unloaded,
    /// In a loaded section that is not code.
    Loaded,
    /// In the module's own text: an executable, loaded section.
    Text,
}

/// The section that marks a prelinked module ([`Object::prelink`]): not loaded, holding the page
/// size the placement was computed with ([`PAGE_SIZE`], 4 bytes, little-endian).
pub const PRELINKED_SECTION: &str = ".keel.prelinked";

/// The section of a prelinked module listing the places that hold one of the module's own
/// addresses (an `ABS64` relocation of a symbol it defines): little-endian 64-bit offsets in
/// the module's span, each place (8 bytes) holding the address's offset in the span, to which
/// the loader adds the span's base address. Not loaded.
pub const RELATIVE_SECTION: &str = ".keel.relative";

/// The relocations in `data` (the contents of a relocation section), numbered.
pub(crate) fn relas(data: &[u8]) -> impl Iterator<Item = (usize, Rela)> + '_ {
    data.chunks_exact(RELA_SIZE)
        .enumerate()
        .filter_map(|(j, entry)| Some((j, Rela::read(entry, 0)?)))
}

fn bad_section(index: usize, name: &str, why: &'static str) -> LoadError {
    LoadError::BadSection {
        index,
        name: name.to_string(),
        why,
    }
}

impl<'a> Object<'a> {
    /// Validates `bytes` as an ELF64 little-endian AArch64 relocatable object (`ET_REL`).
    ///
    /// Checks the file header, the section header table and every section's file range, the
    /// string tables, every symbol (name, section index, value within its section) and every
    /// relocation that patches a loaded section (target index, symbol index, a supported
    /// type, and offset plus the width the type patches within the target). Relocation
    /// sections that patch unloaded sections (debug info) are checked for bounds and symbol
    /// indices only, and never applied.
    ///
    /// Refused outright: `SHT_REL` sections (implicit addends; LLVM always emits `SHT_RELA`
    /// for AArch64), thread-local storage, `STT_GNU_IFUNC`, common symbols and extended
    /// section numbering.
    pub fn parse(bytes: &'a [u8]) -> Result<Object<'a>, LoadError> {
        use goblin::elf::header::{EI_CLASS, EI_DATA, EI_VERSION, ELFCLASS64, ELFDATA2LSB, ELFMAG};
        let len = bytes.len();
        if len < EHDR_SIZE {
            return Err(LoadError::TooShort { len });
        }
        let ident = bytes.get(..16).ok_or(LoadError::TooShort { len })?;
        if ident.get(..4) != Some(&ELFMAG[..]) {
            return Err(LoadError::BadMagic);
        }
        let byte = |i: usize| ident.get(i).copied().unwrap_or(0);
        if byte(EI_CLASS) != ELFCLASS64 {
            return Err(LoadError::WrongClass {
                class: byte(EI_CLASS),
            });
        }
        if byte(EI_DATA) != ELFDATA2LSB {
            return Err(LoadError::WrongEndian {
                data: byte(EI_DATA),
            });
        }
        if byte(EI_VERSION) != 1 {
            return Err(LoadError::WrongVersion {
                version: byte(EI_VERSION).into(),
            });
        }
        let short = || LoadError::TooShort { len };
        let e_type = elf::u16_at(bytes, 16).ok_or_else(short)?;
        let machine = elf::u16_at(bytes, 18).ok_or_else(short)?;
        let version = elf::u32_at(bytes, 20).ok_or_else(short)?;
        let e_shoff = elf::u64_at(bytes, 40).ok_or_else(short)?;
        let shentsize = elf::u16_at(bytes, 58).ok_or_else(short)?;
        let e_shnum = elf::u16_at(bytes, 60).ok_or_else(short)?;
        let shstrndx = elf::u16_at(bytes, 62).ok_or_else(short)?;
        if machine != EM_AARCH64 {
            return Err(LoadError::WrongMachine { machine });
        }
        if version != 1 {
            return Err(LoadError::WrongVersion { version });
        }
        if e_type != ET_REL {
            return Err(LoadError::NotRelocatable { e_type });
        }
        if e_shnum == 0 {
            let why = if e_shoff == 0 {
                "a module needs sections"
            } else {
                "extended section numbering (more than 65279 sections) is not supported"
            };
            return Err(LoadError::BadHeader {
                field: "e_shnum",
                value: 0,
                why,
            });
        }
        if usize::from(shentsize) != SHDR_SIZE {
            return Err(LoadError::BadHeader {
                field: "e_shentsize",
                value: shentsize.into(),
                why: "ELF64 section headers are 64 bytes",
            });
        }
        let table_end = usize::try_from(e_shoff)
            .ok()
            .and_then(|o| o.checked_add(usize::from(e_shnum).checked_mul(SHDR_SIZE)?));
        let shoff = match table_end {
            Some(end) if end <= len => e_shoff as usize,
            _ => {
                return Err(LoadError::SectionTableOutOfBounds {
                    offset: e_shoff,
                    count: e_shnum,
                    len,
                })
            }
        };
        let shnum = usize::from(e_shnum);
        let shstrndx = usize::from(shstrndx);
        if shstrndx == 0 || shstrndx >= shnum {
            return Err(LoadError::BadHeader {
                field: "e_shstrndx",
                value: shstrndx as u64,
                why: "the section name table index is not a section",
            });
        }
        let mut obj = Object {
            bytes,
            shoff,
            shstrndx,
            shnum,
            shstrtab: StrTable::default(),
            symtab_index: 0,
            symtab: &[],
            strtab: StrTable::default(),
            layout: Layout::default(),
            relocs: Vec::new(),
            imports: Vec::new(),
            prelinked: false,
            relative: &[],
            relative_index: 0,
        };
        // The section name table first, so later errors can name sections.
        let sh = obj.shdr(shstrndx).ok_or(LoadError::BadHeader {
            field: "e_shstrndx",
            value: shstrndx as u64,
            why: "the section name table index is not a section",
        })?;
        obj.shstrtab = StrTable::new(obj.checked_strtab(shstrndx, &sh, "")?);

        for i in 0..shnum {
            let sh = obj
                .shdr(i)
                .ok_or_else(|| bad_section(i, "", "header unreadable"))?;
            obj.shstrtab
                .check(sh.name)
                .map_err(|why| bad_section(i, "", why))?;
            // Names are looked up only for an error message.
            let shstrtab = obj.shstrtab;
            let name = || shstrtab.get(sh.name).unwrap_or("");
            if sh.sh_type != SHT_NOBITS {
                obj.file_range(i, &sh)?;
            }
            if sh.flags & u64::from(SHF_ALLOC) != 0 {
                if sh.addralign > MAX_SECTION_ALIGN
                    || (sh.addralign != 0 && !sh.addralign.is_power_of_two())
                {
                    return Err(bad_section(
                        i,
                        name(),
                        "alignment is not a power of two or exceeds 64 KiB",
                    ));
                }
                if sh.flags & u64::from(SHF_TLS) != 0 {
                    return Err(bad_section(
                        i,
                        name(),
                        "thread-local storage is not supported in modules",
                    ));
                }
            }
            if obj.shstrtab.is(sh.name, PRELINKED_SECTION) {
                obj.check_prelinked_marker(i, &sh)?;
                obj.prelinked = true;
            }
            if obj.shstrtab.is(sh.name, RELATIVE_SECTION) {
                obj.relative = obj.relative_places(i, &sh)?;
                obj.relative_index = i;
            }
            match sh.sh_type {
                SHT_REL => {
                    return Err(bad_section(
                        i,
                        name(),
                        "SHT_REL relocations (implicit addends) are not supported; AArch64 objects use SHT_RELA",
                    ))
                }
                SHT_SYMTAB_SHNDX => {
                    return Err(bad_section(i, name(), "extended symbol section indices are not supported"))
                }
                SHT_SYMTAB => {
                    if obj.symtab_index != 0 {
                        return Err(bad_section(i, name(), "a second symbol table"));
                    }
                    if sh.entsize != SYM_SIZE as u64 || sh.size % SYM_SIZE as u64 != 0 {
                        return Err(bad_section(i, name(), "symbol table entry size is not 24 or its size is not a multiple of it"));
                    }
                    let link = sh.link as usize;
                    let strsh = obj
                        .shdr(link)
                        .filter(|_| link != 0)
                        .ok_or_else(|| bad_section(i, name(), "sh_link does not name a string table"))?;
                    obj.symtab_index = i;
                    obj.symtab = obj.file_range(i, &sh)?;
                    obj.strtab = StrTable::new(obj.checked_strtab(link, &strsh, name())?);
                }
                _ => {}
            }
        }
        let (defined, imports) = obj.check_symbols()?;
        obj.imports = imports;
        obj.relocs = obj.check_relocations(&defined)?;
        // One veneer per distinct target (symbol and addend) of the branches that may need one.
        let mut targets: Vec<(u32, i64)> = obj
            .relocs
            .iter()
            .filter(|r| r.veneer_candidate)
            .map(|r| (r.sym, r.addend))
            .collect();
        targets.sort_unstable();
        targets.dedup();
        // Fail now, not after the caller allocated, if the sizes overflow.
        obj.layout = obj.plan(targets.len(), |_, _, _, _| {})?;
        if obj.prelinked {
            obj.check_relative_places()?;
        } else if obj.relative_index != 0 {
            return Err(bad_section(
                obj.relative_index,
                RELATIVE_SECTION,
                "relative places need a prelinked module",
            ));
        }
        Ok(obj)
    }

    /// Checks the [`PRELINKED_SECTION`] marker, section `index`.
    fn check_prelinked_marker(&self, index: usize, sh: &Shdr) -> Result<(), LoadError> {
        let name = || self.section_name(index);
        if self.prelinked {
            return Err(bad_section(index, name(), "a second prelink marker"));
        }
        if sh.flags & u64::from(SHF_ALLOC) != 0 || sh.sh_type == SHT_NOBITS {
            return Err(bad_section(
                index,
                name(),
                "the prelink marker must be a section with contents that is not loaded",
            ));
        }
        if self.file_range(index, sh)? != (PAGE_SIZE as u32).to_le_bytes() {
            return Err(bad_section(
                index,
                name(),
                "the module was prelinked for another page size than 4096 bytes",
            ));
        }
        Ok(())
    }

    /// Checks the [`RELATIVE_SECTION`] list, section `index`, and returns its contents.
    fn relative_places(&self, index: usize, sh: &Shdr) -> Result<&'a [u8], LoadError> {
        let name = || self.section_name(index);
        if self.relative_index != 0 {
            return Err(bad_section(
                index,
                name(),
                "a second list of relative places",
            ));
        }
        if sh.flags & u64::from(SHF_ALLOC) != 0 || sh.sh_type == SHT_NOBITS {
            return Err(bad_section(
                index,
                name(),
                "the list of relative places must be a section with contents that is not loaded",
            ));
        }
        let places = self.file_range(index, sh)?;
        if places.len() % 8 != 0 {
            return Err(bad_section(
                index,
                name(),
                "the list of relative places is not a whole number of 8-byte offsets",
            ));
        }
        Ok(places)
    }

    /// Checks a prelinked object's relative places against its layout: in increasing order,
    /// none overlapping the next, each 8 bytes inside the initialised part of one group (the
    /// text before its veneer area, the rodata, the data before `.bss`), and none patched by a
    /// relocation the loader still applies. A relocation's place is found from its section's
    /// recorded offset, which the link checks before it writes anything.
    fn check_relative_places(&self) -> Result<(), LoadError> {
        if self.relative.is_empty() {
            return Ok(());
        }
        let span = self.layout.span();
        let initialised = [
            (span.text.0, self.layout.veneer_offset as u64),
            (span.rodata.0, span.rodata.1),
            (span.data.0, self.layout.bss_offset as u64),
        ]
        .map(|(start, size)| (start, start + size));
        let mut groups = initialised.iter().peekable();
        // The lowest offset the next place may start at.
        let mut free = 0;
        let places = self.relative_offsets();
        for (entry, offset) in places.iter().enumerate() {
            let refuse = |why| LoadError::BadRelativePlace { entry, offset, why };
            if offset < free {
                return Err(refuse(
                    "it does not follow the previous place (the list must be sorted, without overlaps)",
                ));
            }
            let end = offset.checked_add(8).ok_or_else(|| refuse("it wraps"))?;
            while groups
                .next_if(|&&(_, group_end)| group_end <= offset)
                .is_some()
            {}
            if !groups
                .peek()
                .is_some_and(|&&(start, group_end)| start <= offset && end <= group_end)
            {
                return Err(refuse(
                    "its 8 bytes do not lie in the initialised part of the text, rodata or data",
                ));
            }
            free = end;
        }
        // The places are sorted and apart: the first that ends after a relocation's place
        // starts is the only one that may overlap it. The relocations come grouped by section:
        // its header is read once per group.
        let mut section = None;
        for rel in &self.relocs {
            let start = match section {
                Some((index, start)) if index == rel.target => start,
                _ => {
                    let start = self.shdr(rel.target as usize).map_or(0, |sh| sh.addr);
                    section = Some((rel.target, start));
                    start
                }
            };
            let at = start.saturating_add(rel.offset);
            let end = at.saturating_add(u64::from(rel.width));
            let first = places.partition_point(|place| place.saturating_add(8) <= at);
            let place = places.get(first);
            if first < places.len() && place < end {
                return Err(LoadError::BadRelativePlace {
                    entry: first,
                    offset: place,
                    why: "a relocation the loader applies patches it too",
                });
            }
        }
        Ok(())
    }

    /// The offsets of [`RELATIVE_SECTION`], in order.
    pub(crate) fn relative_offsets(&self) -> elf::U64s<'a> {
        elf::U64s::new(self.relative)
    }

    /// Whether the object is prelinked (carries [`PRELINKED_SECTION`]).
    pub fn is_prelinked(&self) -> bool {
        self.prelinked
    }

    /// Returns the contents of a non-`NOBITS` section, checking it lies in the file.
    fn file_range(&self, index: usize, sh: &Shdr) -> Result<&'a [u8], LoadError> {
        let range = usize::try_from(sh.offset).ok().and_then(|start| {
            let end = start.checked_add(usize::try_from(sh.size).ok()?)?;
            self.bytes.get(start..end)
        });
        range.ok_or_else(|| LoadError::SectionOutOfBounds {
            index,
            name: self.section_name(index).to_string(),
            offset: sh.offset,
            size: sh.size,
            len: self.bytes.len(),
        })
    }

    /// Validates string table `index` (type, bounds, NUL at both ends) and returns its bytes.
    fn checked_strtab(&self, index: usize, sh: &Shdr, user: &str) -> Result<&'a [u8], LoadError> {
        let name = || {
            let own = self.section_name(index);
            if own.is_empty() {
                String::from(user)
            } else {
                own.to_string()
            }
        };
        if sh.sh_type != SHT_STRTAB {
            return Err(LoadError::BadSection {
                index,
                name: name(),
                why: "is used as a string table but is not SHT_STRTAB",
            });
        }
        let table = self.file_range(index, sh)?;
        if table.first() != Some(&0) || table.last() != Some(&0) {
            return Err(LoadError::BadSection {
                index,
                name: name(),
                why: "string table is empty or does not start and end with NUL",
            });
        }
        Ok(table)
    }

    /// Checks every symbol; returns where each is defined, by symbol index, and the imports
    /// (see [`Object::imports`]).
    fn check_symbols(&self) -> Result<(Vec<Defined>, Vec<Imported<'a>>), LoadError> {
        let mut defined = Vec::with_capacity(self.symbol_count());
        let mut imports = Vec::new();
        // Each section's size and kind, read once rather than once a symbol.
        let text = u64::from(SHF_ALLOC | SHF_EXECINSTR);
        let sections: Vec<(u64, Defined)> = (0..self.shnum)
            .map(|i| {
                let sh = self.shdr(i).unwrap_or_default();
                let kind = if sh.flags & text == text {
                    Defined::Text
                } else if sh.flags & u64::from(SHF_ALLOC) != 0 {
                    Defined::Loaded
                } else {
                    Defined::Unloaded
                };
                (sh.size, kind)
            })
            .collect();
        for (index, sym) in self.syms() {
            self.strtab
                .check(sym.name)
                .map_err(|why| LoadError::BadSymbol {
                    index,
                    name: String::new(),
                    why,
                })?;
            let bad = |why| LoadError::BadSymbol {
                index,
                name: self.sym_name(&sym).to_string(),
                why,
            };
            if !matches!(sym.bind(), STB_LOCAL | STB_GLOBAL | STB_WEAK) {
                return Err(bad("binding is not local, global or weak"));
            }
            match sym.kind() {
                STT_TLS => return Err(bad("thread-local symbols are not supported in modules")),
                STT_GNU_IFUNC => {
                    return Err(bad("indirect functions (STT_GNU_IFUNC) are not supported"))
                }
                _ => {}
            }
            let shndx = u32::from(sym.shndx);
            match shndx {
                SHN_UNDEF if index != 0 => {
                    if sym.bind() == STB_LOCAL {
                        return Err(bad("local symbol is undefined"));
                    }
                    let name = self.sym_name(&sym);
                    if !name.is_empty() {
                        let weak = sym.bind() == STB_WEAK;
                        imports.push((index, Import { name, weak }));
                    }
                }
                SHN_UNDEF => {}
                SHN_ABS => {}
                SHN_COMMON => {
                    return Err(bad(
                        "common symbols are not supported; build with -fno-common",
                    ))
                }
                SHN_XINDEX => return Err(bad("extended section indices are not supported")),
                _ if shndx >= SHN_LORESERVE => return Err(bad("reserved section index")),
                _ => {
                    let &(size, kind) = sections
                        .get(shndx as usize)
                        .ok_or_else(|| bad("section index is out of range"))?;
                    if sym.value > size {
                        return Err(bad("value lies past the end of its section"));
                    }
                    defined.push(kind);
                    continue;
                }
            }
            defined.push(Defined::Elsewhere);
        }
        Ok((defined, imports))
    }

    /// Checks every relocation section and, for loaded targets, every relocation (`defined`
    /// tells where each symbol is defined); returns the relocations of loaded sections.
    fn check_relocations(&self, defined: &[Defined]) -> Result<Vec<Reloc>, LoadError> {
        // One allocation: room for every relocation of a loaded section (bounded by the file,
        // as parse checked each section lies in it).
        let capacity = (0..self.shnum)
            .filter(|&i| self.section_type(i) == Some(SHT_RELA))
            .filter_map(|i| {
                let sh = self.shdr(i)?;
                let loaded = self.section_flags(sh.info as usize)? & u64::from(SHF_ALLOC) != 0;
                loaded.then_some(usize::try_from(sh.size).ok()? / RELA_SIZE)
            })
            .fold(0, usize::saturating_add)
            .min(self.bytes.len() / RELA_SIZE);
        let mut relocs = Vec::with_capacity(capacity);
        for i in 0..self.shnum {
            // The type alone first (the high half of the header's first word).
            if self.section_type(i) != Some(SHT_RELA) {
                continue;
            }
            let Some(sh) = self.shdr(i) else { continue };
            // Names are looked up only for an error message: reading them costs more than the
            // checks.
            let name = || self.section_name(i);
            if sh.entsize != RELA_SIZE as u64 || sh.size % RELA_SIZE as u64 != 0 {
                return Err(bad_section(
                    i,
                    name(),
                    "relocation entry size is not 24 or its size is not a multiple of it",
                ));
            }
            if self.symtab_index == 0 || sh.link as usize != self.symtab_index {
                return Err(bad_section(
                    i,
                    name(),
                    "sh_link does not name the symbol table",
                ));
            }
            let target = sh.info as usize;
            let tsh = self
                .shdr(target)
                .filter(|_| target != 0 && target != i)
                .ok_or_else(|| {
                    bad_section(i, name(), "sh_info does not name a section to relocate")
                })?;
            let loaded = tsh.flags & u64::from(SHF_ALLOC) != 0;
            let data = self.file_range(i, &sh)?;
            for (j, rela) in relas(data) {
                // Errors are built out of line: the checks are the common case.
                let Some(&defined) = defined.get(rela.sym as usize) else {
                    return Err(self.bad_relocation(
                        target,
                        j,
                        &rela,
                        "symbol index is out of range",
                    ));
                };
                if !loaded {
                    continue;
                }
                let Some(width) = reloc::width(rela.r_type) else {
                    return Err(self.unsupported_relocation(target, rela.offset, rela.r_type));
                };
                if rela
                    .offset
                    .checked_add(width)
                    .is_none_or(|end| end > tsh.size)
                {
                    let why = "offset plus the patched width lies outside the section";
                    return Err(self.bad_relocation(target, j, &rela, why));
                }
                if defined == Defined::Unloaded {
                    let why = "refers to a symbol in a section that is not loaded";
                    return Err(self.bad_relocation(target, j, &rela, why));
                }
                relocs.push(Reloc {
                    offset: rela.offset,
                    addend: rela.addend,
                    sym: rela.sym,
                    r_type: rela.r_type,
                    target: sh.info,
                    // At most 8.
                    width: width as u8,
                    veneer_candidate: reloc::is_branch26(rela.r_type) && defined != Defined::Text,
                });
            }
        }
        Ok(relocs)
    }

    /// [`LoadError::BadRelocation`] for relocation `index` of the section patching `target`.
    #[cold]
    #[inline(never)]
    fn bad_relocation(
        &self,
        target: usize,
        index: usize,
        rela: &Rela,
        why: &'static str,
    ) -> LoadError {
        LoadError::BadRelocation {
            section: self.section_name(target).to_string(),
            index,
            offset: rela.offset,
            r_type: rela.r_type,
            why,
        }
    }

    /// [`LoadError::UnsupportedRelocation`] for a relocation of section `target`.
    #[cold]
    #[inline(never)]
    pub(crate) fn unsupported_relocation(
        &self,
        target: usize,
        offset: u64,
        r_type: u32,
    ) -> LoadError {
        LoadError::UnsupportedRelocation {
            section: self.section_name(target).to_string(),
            offset,
            r_type,
        }
    }

    /// Section header `index`, if it is inside the (validated) table.
    pub(crate) fn shdr(&self, index: usize) -> Option<Shdr> {
        if index >= self.shnum {
            return None;
        }
        Shdr::read(
            self.bytes,
            self.shoff.checked_add(index.checked_mul(SHDR_SIZE)?)?,
        )
    }

    /// `sh_type` of section `index`, read alone (the high half of the header's first word).
    fn section_type(&self, index: usize) -> Option<u32> {
        if index >= self.shnum {
            return None;
        }
        let at = self.shoff.checked_add(index.checked_mul(SHDR_SIZE)?)?;
        Some((elf::u64_at(self.bytes, at)? >> 32) as u32)
    }

    /// `sh_flags` of section `index`, read alone.
    fn section_flags(&self, index: usize) -> Option<u64> {
        if index >= self.shnum {
            return None;
        }
        elf::u64_at(
            self.bytes,
            self.shoff
                .checked_add(index.checked_mul(SHDR_SIZE)?)?
                .checked_add(8)?,
        )
    }

    /// Name of section `index` (empty if unreadable, which parse rules out).
    pub(crate) fn section_name(&self, index: usize) -> &'a str {
        self.shdr(index)
            .and_then(|sh| self.shstrtab.get(sh.name).ok())
            .unwrap_or("")
    }

    /// Contents of section `index` (empty for `NOBITS`).
    pub(crate) fn section_data(&self, index: usize, sh: &Shdr) -> &'a [u8] {
        if sh.sh_type == SHT_NOBITS {
            return &[];
        }
        self.file_range(index, sh).unwrap_or(&[])
    }

    /// Number of entries in the symbol table.
    pub(crate) fn symbol_count(&self) -> usize {
        self.symtab.len() / SYM_SIZE
    }

    /// Every symbol, numbered, in table order (symbol 0 included).
    pub(crate) fn syms(&self) -> impl Iterator<Item = (usize, Sym)> + 'a {
        self.symtab
            .chunks_exact(SYM_SIZE)
            .enumerate()
            .filter_map(|(index, entry)| Some((index, Sym::read(entry, 0)?)))
    }

    /// Symbol `index`.
    pub(crate) fn sym(&self, index: usize) -> Option<Sym> {
        if index >= self.symbol_count() {
            return None;
        }
        Sym::read(self.symtab, index.checked_mul(SYM_SIZE)?)
    }

    /// A symbol's name (empty if unreadable, which parse rules out).
    pub(crate) fn sym_name(&self, sym: &Sym) -> &'a str {
        self.strtab.get(sym.name).unwrap_or("")
    }

    /// The file contents of the first section called `name` (empty for `NOBITS`), or `None`
    /// if the object has no such section. The loader reads `.modinfo`, `.keel.imports` and
    /// `.keel.exports` this way before it allocates anything.
    pub fn section(&self, name: &str) -> Option<&'a [u8]> {
        (1..self.shnum).find_map(|i| {
            // Only the name field until the name matches (`sh_name` is the header's first word).
            let at = self.shoff.checked_add(i.checked_mul(SHDR_SIZE)?)?;
            // `sh_name` is the low half of the header's first word.
            let sh_name = elf::u64_at(self.bytes, at)? as u32;
            if !self.shstrtab.is(sh_name, name) {
                return None;
            }
            let sh = self.shdr(i)?;
            Some(self.section_data(i, &sh))
        })
    }

    /// The undefined global and weak symbols the module needs resolved, in symbol table
    /// order.
    ///
    /// A weak undefined symbol the resolver does not know links as address 0 (the usual ELF
    /// meaning: code tests the address before use); a branch to it goes through a veneer to
    /// address 0.
    pub fn imports(&self) -> impl Iterator<Item = Import<'a>> + '_ {
        // Parse listed them: undefined symbols other than symbol 0 are global or weak.
        self.imports.iter().map(|&(_, import)| import)
    }

    /// The name of symbol `index` if it is one of the imports (without reading it again).
    pub(crate) fn import_name(&self, index: usize) -> Option<&'a str> {
        let at = self
            .imports
            .binary_search_by_key(&index, |&(i, _)| i)
            .ok()?;
        self.imports.get(at).map(|(_, import)| import.name)
    }
}
