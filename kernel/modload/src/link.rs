//! [`Object::link`]: copies a module into the caller's memory, resolves its symbols and
//! applies its relocations, routing far branches through veneers.

use alloc::collections::BTreeMap;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

use goblin::elf::section_header::{SHN_ABS, SHN_UNDEF, SHT_NOBITS};
use goblin::elf::sym::{STB_GLOBAL, STB_WEAK, STT_FILE, STT_FUNC, STT_OBJECT, STT_SECTION};
use goblin::elf::sym::{STV_DEFAULT, STV_PROTECTED};

use crate::elf::{StrTable, Sym};
use crate::error::{LoadError, RelocProblem};
use crate::layout::{Group, Layout, Span, PAGE_SIZE, VENEER_SIZE};
use crate::object::{Object, Reloc};
use crate::reloc;

/// `ldr x16, #8`: loads the veneer's target from the literal after the next instruction.
pub const VENEER_LDR_X16: u32 = 0x5800_0050;
/// `br x16`: jumps to it (x16, IP0, is the AAPCS64 register veneers may clobber).
pub const VENEER_BR_X16: u32 = 0xd61f_0200;

/// The memory the caller allocated for a module, with the virtual addresses the module will
/// run at. Each buffer must be at least as large as the [`Layout`] asks and each address
/// aligned as it asks; the buffers may be written through a different mapping than the
/// address given (for example a writable alias of pages that will be executable).
#[derive(Debug)]
pub struct Image<'m> {
    /// Memory for the text region (code and veneers).
    pub text: &'m mut [u8],
    /// The address the text region runs at.
    pub text_va: u64,
    /// Memory for the read-only data region.
    pub rodata: &'m mut [u8],
    /// The address the rodata region runs at.
    pub rodata_va: u64,
    /// Memory for the writable data region (data, then `.bss`).
    pub data: &'m mut [u8],
    /// The address the data region runs at.
    pub data_va: u64,
}

/// What kind of thing a defined symbol names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymbolKind {
    /// Code (`STT_FUNC`).
    Function,
    /// Data (`STT_OBJECT`).
    Object,
    /// Anything else (`STT_NOTYPE`, absolute values).
    Other,
}

/// A global symbol the linked module defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DefinedSymbol<'a> {
    /// The symbol's name, borrowed from the object.
    pub name: &'a str,
    /// Its address in the module's image (or its value, for an absolute symbol).
    pub va: u64,
    /// Its size in bytes, as the object states (0 if unknown).
    pub size: u64,
    /// What it names.
    pub kind: SymbolKind,
    /// Whether it is a weak definition.
    pub weak: bool,
}

/// A function the linked module defines (`STT_FUNC`, local or global): where it lies and
/// where its name starts in the object's string table ([`Linked::string_table`]), which
/// [`Object::parse`] checked. Names are looked up only when asked for
/// ([`Linked::function_name`]): a fault report needs them, the load does not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    /// Its address in the module's image.
    pub va: u64,
    /// Its size in bytes, as the object states (0 if unknown).
    pub size: u64,
    /// The offset of its NUL-terminated name in the string table.
    pub name: u32,
}

/// A module linked into its image: its defined global symbols, for finding its descriptor
/// and for other modules to import.
#[derive(Clone, Debug)]
pub struct Linked<'a> {
    symbols: Vec<DefinedSymbol<'a>>,
    functions: Vec<Function>,
    strtab: StrTable<'a>,
    layout: Layout,
    veneers_used: usize,
}

impl<'a> Linked<'a> {
    /// The module's defined global and weak symbols with default or protected visibility,
    /// sorted by name. Hidden symbols stay private to the module.
    pub fn symbols(&self) -> &[DefinedSymbol<'a>] {
        &self.symbols
    }

    /// Looks up a defined global symbol by name.
    pub fn symbol(&self, name: &str) -> Option<&DefinedSymbol<'a>> {
        self.symbols
            .binary_search_by(|s| s.name.cmp(name))
            .ok()
            .and_then(|i| self.symbols.get(i))
    }

    /// The address of a defined global symbol.
    pub fn address(&self, name: &str) -> Option<u64> {
        self.symbol(name).map(|s| s.va)
    }

    /// The layout the module was linked with.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// How many veneers the link wrote.
    pub fn veneers_used(&self) -> usize {
        self.veneers_used
    }

    /// Every function the module defines (`STT_FUNC`, local ones included), sorted by address:
    /// what a fault report needs to name the function a program counter lies in.
    pub fn functions(&self) -> &[Function] {
        &self.functions
    }

    /// The name of `function` as the object has it (usually mangled; empty if unreadable,
    /// which parse rules out).
    pub fn function_name(&self, function: &Function) -> &'a str {
        self.strtab.get(function.name).unwrap_or("")
    }

    /// The object's symbol string table, which the functions' names index: NUL-terminated
    /// names, each checked by [`Object::parse`].
    pub fn string_table(&self) -> &'a [u8] {
        self.strtab.bytes()
    }

    /// The function containing `addr` and the offset of `addr` within it: the function with
    /// the highest start not above `addr`, if `addr` lies inside its size (or, for a function
    /// of unknown size 0, anywhere before the next function).
    pub fn symbolize(&self, addr: u64) -> Option<(&Function, u64)> {
        let index = self
            .functions
            .partition_point(|f| f.va <= addr)
            .checked_sub(1)?;
        let f = self.functions.get(index)?;
        let offset = addr - f.va;
        let inside = if f.size == 0 {
            self.functions
                .get(index + 1)
                .is_none_or(|next| addr < next.va)
        } else {
            offset < f.size
        };
        inside.then_some((f, offset))
    }
}

/// Where each loaded section landed.
#[derive(Clone, Copy)]
struct Placed {
    group: Group,
    offset: usize,
}

/// The error for an address that overflows (parse rules it out): built only when needed, as
/// building and dropping one per relocation is measurable.
fn text_too_large() -> LoadError {
    LoadError::TooLarge { group: "text" }
}

/// Adds `addend` to the little-endian 64-bit word `place` (8 bytes), a word at a time where it
/// is aligned in memory (the kernel's target forbids unaligned accesses, so a `[u8]` would be
/// read a byte at a time).
fn add_to_word(place: &mut [u8], addend: u64) {
    match plain::from_mut_bytes::<u64>(place) {
        Ok(word) => *word = u64::from_le(*word).wrapping_add(addend).to_le(),
        Err(_) => add_to_unaligned_word(place, addend),
    }
}

/// [`add_to_word`] for an unaligned place. Not inlined: inlined, the compiler merges both paths
/// into the byte-at-a-time one.
#[inline(never)]
fn add_to_unaligned_word(place: &mut [u8], addend: u64) {
    if let Ok(bytes) = <&mut [u8; 8]>::try_from(place) {
        *bytes = u64::from_le_bytes(*bytes)
            .wrapping_add(addend)
            .to_le_bytes();
    }
}

/// [`LoadError::Relocation`]: relocation `rel` cannot be applied.
#[cold]
#[inline(never)]
pub(crate) fn relocation_error(obj: &Object<'_>, rel: &Reloc, problem: RelocProblem) -> LoadError {
    LoadError::Relocation {
        r_type: rel.r_type,
        section: obj.section_name(rel.target as usize).to_string(),
        offset: rel.offset,
        symbol: obj
            .sym(rel.sym as usize)
            .map_or("", |sym| obj.sym_name(&sym))
            .to_string(),
        problem,
    }
}

fn group_name(group: Group) -> &'static str {
    match group {
        Group::Text => "text",
        Group::Rodata => "rodata",
        Group::Data => "data",
    }
}

impl Image<'_> {
    fn buffer(&mut self, group: Group) -> &mut [u8] {
        match group {
            Group::Text => self.text,
            Group::Rodata => self.rodata,
            Group::Data => self.data,
        }
    }

    fn buffer_len(&self, group: Group) -> usize {
        match group {
            Group::Text => self.text.len(),
            Group::Rodata => self.rodata.len(),
            Group::Data => self.data.len(),
        }
    }

    fn va(&self, group: Group) -> u64 {
        match group {
            Group::Text => self.text_va,
            Group::Rodata => self.rodata_va,
            Group::Data => self.data_va,
        }
    }

    /// Checks the buffers and addresses against `layout`.
    fn check(&self, layout: &Layout) -> Result<(), LoadError> {
        let groups = [
            (Group::Text, self.text.len(), layout.text, layout.text_align),
            (
                Group::Rodata,
                self.rodata.len(),
                layout.rodata,
                layout.rodata_align,
            ),
            (Group::Data, self.data.len(), layout.data, layout.data_align),
        ];
        for (group, got, needed, align) in groups {
            let name = group_name(group);
            if got < needed {
                return Err(LoadError::ImageTooSmall {
                    group: name,
                    needed,
                    got,
                });
            }
            let va = self.va(group);
            let fits = u64::try_from(got)
                .ok()
                .and_then(|len| va.checked_add(len))
                .is_some();
            if !fits || !va.is_multiple_of(align.max(1) as u64) {
                return Err(LoadError::BadImageAddress {
                    group: name,
                    va,
                    align,
                });
            }
        }
        Ok(())
    }
}

/// The link's working state.
struct Linker<'o, 'a, 'm, 'r> {
    obj: &'o Object<'a>,
    image: &'o mut Image<'m>,
    resolve: &'r mut dyn FnMut(&str) -> Option<u64>,
    placed: Vec<Option<Placed>>,
    /// Addresses of the symbols relocations used so far (undefined ones resolved), by symbol
    /// index.
    addresses: Vec<Option<u64>>,
    /// Targets that have a veneer, with their slot.
    veneers: BTreeMap<u64, usize>,
    layout: Layout,
}

impl<'a> Object<'a> {
    /// Links the module into `image`: zeroes the buffers, copies every loaded section's
    /// contents, resolves undefined symbols with `resolve` (name to address), applies every
    /// relocation of every loaded section, and writes veneers for `CALL26`/`JUMP26` branches
    /// whose target lies outside ±128 MiB.
    ///
    /// Undefined symbols are resolved lazily, once each, when a relocation first needs them;
    /// an unknown global is [`LoadError::UnknownSymbol`], an unknown weak one is address 0.
    ///
    /// The engine works only through the buffers and addresses given; it assumes nothing
    /// about where the image lives. Afterwards the caller must make the code visible to
    /// instruction fetch (clean the D-cache to the point of unification and invalidate the
    /// I-cache for the text region, then `dsb ish; isb`), set the final page permissions (text
    /// RX, rodata R, data RW) and only then run the module's `init`. On error the buffers
    /// hold partial contents and must be discarded.
    pub fn link(
        &self,
        image: &mut Image<'_>,
        resolve: &mut dyn FnMut(&str) -> Option<u64>,
    ) -> Result<Linked<'a>, LoadError> {
        self.link_with(&self.layout(), image, resolve)
    }

    /// The base of a prelinked module's span in `image` (its text's address), after checking
    /// that the base is page-aligned and that the rodata and data groups lie at their span
    /// offsets from it, as the module's prelinked references between them assume.
    fn check_prelinked_image(&self, span: &Span, image: &Image<'_>) -> Result<u64, LoadError> {
        let base = image.va(Group::Text);
        if !base.is_multiple_of(PAGE_SIZE) {
            return Err(LoadError::PrelinkedBase { base });
        }
        for (group, (start, size)) in [(Group::Rodata, span.rodata), (Group::Data, span.data)] {
            let expected = base.wrapping_add(start);
            if size > 0 && image.va(group) != expected {
                return Err(LoadError::GroupMisplaced {
                    group: group_name(group),
                    va: image.va(group),
                    expected,
                });
            }
        }
        Ok(base)
    }

    /// [`Object::link`] with the layout the caller already computed with [`Object::layout`]
    /// (and allocated `image` for), instead of computing it again. Only its veneer count is
    /// taken as given: a layout that does not place this object's sections as
    /// [`Object::layout`] does is [`LoadError::WrongLayout`].
    pub fn link_with(
        &self,
        layout: &Layout,
        image: &mut Image<'_>,
        resolve: &mut dyn FnMut(&str) -> Option<u64>,
    ) -> Result<Linked<'a>, LoadError> {
        let layout = *layout;
        image.check(&layout)?;
        let mut placed = vec![None; self.shnum];
        // Each group is filled in offset order: the bytes before each section (alignment
        // padding) and `.bss` are zeroed, the others copied, each byte written once.
        let mut filled = [0usize; 3];
        // A prelinked object's sections must lie at the span offsets they record.
        let span = layout.span();
        let mut misplaced = None;
        let planned = self.plan(layout.veneer_slots, |i, sh, group, offset| {
            if let Some(slot) = placed.get_mut(i) {
                *slot = Some(Placed { group, offset });
            }
            let at = span.start(group).wrapping_add(offset as u64);
            if self.prelinked && sh.addr != at && misplaced.is_none() {
                misplaced = Some((i, sh.addr, at));
            }
            let Some(done) = filled.get_mut(group as usize) else {
                return;
            };
            let buffer = image.buffer(group);
            if let Some(gap) = buffer.get_mut(*done..offset) {
                gap.fill(0);
            }
            let (src, len) = if sh.sh_type == SHT_NOBITS {
                (None, usize::try_from(sh.size).unwrap_or(0))
            } else {
                let src = self.section_data(i, sh);
                (Some(src), src.len())
            };
            let Some(end) = offset.checked_add(len) else {
                return;
            };
            match (buffer.get_mut(offset..end), src) {
                (Some(dst), Some(src)) if dst.len() == src.len() => dst.copy_from_slice(src),
                (Some(dst), None) => dst.fill(0),
                _ => return,
            }
            *done = end;
        })?;
        if planned != layout {
            return Err(LoadError::WrongLayout);
        }
        if let Some((index, recorded, placed)) = misplaced {
            return Err(LoadError::Misplaced {
                section: self.section_name(index).to_string(),
                recorded,
                placed,
            });
        }
        // Its groups must lie at their span offsets from one page-aligned base: the text's
        // address.
        let base = self
            .prelinked
            .then(|| self.check_prelinked_image(&span, image))
            .transpose()?;
        // The rest of each buffer: the veneer area (before veneers are written) and the tail.
        for (group, done) in [Group::Text, Group::Rodata, Group::Data]
            .into_iter()
            .zip(filled)
        {
            if let Some(rest) = image.buffer(group).get_mut(done..) {
                rest.fill(0);
            }
        }
        let mut linker = Linker {
            obj: self,
            image,
            resolve,
            placed,
            addresses: vec![None; self.symbol_count()],
            veneers: BTreeMap::new(),
            layout,
        };
        linker.relocate()?;
        if let Some(base) = base {
            linker.relocate_relative(base)?;
        }
        let (symbols, functions) = linker.symbols();
        Ok(Linked {
            symbols,
            functions,
            strtab: self.strtab,
            layout,
            veneers_used: linker.veneers.len(),
        })
    }
}

impl<'a> Linker<'_, 'a, '_, '_> {
    /// The run-time address of section `index` plus `offset`, if the section is loaded.
    fn section_va(&self, index: usize, offset: u64) -> Option<u64> {
        let p = self.placed.get(index).copied().flatten()?;
        self.image
            .va(p.group)
            .checked_add(p.offset as u64)?
            .checked_add(offset)
    }

    /// The address of symbol `index`, resolving it if it is undefined.
    fn symbol_address(
        &mut self,
        index: usize,
        sym: &Sym,
        section: usize,
    ) -> Result<u64, LoadError> {
        let shndx = u32::from(sym.shndx);
        if shndx == SHN_ABS {
            return Ok(sym.value);
        }
        if shndx != SHN_UNDEF {
            // Parse checked the section is loaded and the value within it.
            return self
                .section_va(shndx as usize, sym.value)
                .ok_or_else(text_too_large);
        }
        if index == 0 {
            return Ok(0);
        }
        let name = self
            .obj
            .import_name(index)
            .unwrap_or_else(|| self.obj.sym_name(sym));
        let addr = match (self.resolve)(name) {
            Some(addr) => addr,
            None if sym.bind() == STB_WEAK => 0,
            None => {
                return Err(LoadError::UnknownSymbol {
                    name: name.to_string(),
                    referenced_from: self.obj.section_name(section).to_string(),
                })
            }
        };
        Ok(addr)
    }

    /// Returns the address of the veneer jumping to `target`, writing one if needed.
    fn veneer(&mut self, target: u64) -> Result<u64, RelocProblem> {
        let slot = match self.veneers.get(&target) {
            Some(&slot) => slot,
            None => {
                let slot = self.veneers.len();
                if slot >= self.layout.veneer_slots {
                    return Err(RelocProblem::NoVeneerRoom { target });
                }
                self.veneers.insert(target, slot);
                slot
            }
        };
        let offset = slot
            .checked_mul(VENEER_SIZE)
            .and_then(|o| o.checked_add(self.layout.veneer_offset))
            .ok_or(RelocProblem::NoVeneerRoom { target })?;
        let end = offset
            .checked_add(VENEER_SIZE)
            .ok_or(RelocProblem::NoVeneerRoom { target })?;
        let dst = self
            .image
            .text
            .get_mut(offset..end)
            .ok_or(RelocProblem::NoVeneerRoom { target })?;
        let mut code = [0u8; VENEER_SIZE];
        code[..4].copy_from_slice(&VENEER_LDR_X16.to_le_bytes());
        code[4..8].copy_from_slice(&VENEER_BR_X16.to_le_bytes());
        code[8..].copy_from_slice(&target.to_le_bytes());
        dst.copy_from_slice(&code);
        self.image
            .text_va
            .checked_add(offset as u64)
            .ok_or(RelocProblem::NoVeneerRoom { target })
    }

    /// Adds `base`, the address of the module's span, to every relative place of a prelinked
    /// module (parse checked each lies in the initialised part of a group, and `link_with` that
    /// each group lies at its span offset from `base`).
    fn relocate_relative(&mut self, base: u64) -> Result<(), LoadError> {
        // Each group's start as an offset in the span (places lie mostly in the data).
        let groups = [Group::Rodata, Group::Data, Group::Text]
            .map(|group| (group, self.image.va(group).wrapping_sub(base)));
        for (entry, offset) in self.obj.relative_offsets().iter().enumerate() {
            let place = groups.into_iter().find_map(|(group, start)| {
                let at = usize::try_from(offset.checked_sub(start)?).ok()?;
                let end = at.checked_add(8)?;
                (end <= self.image.buffer_len(group)).then_some((group, at, end))
            });
            let Some((group, at, end)) = place else {
                return Err(LoadError::BadRelativePlace {
                    entry,
                    offset,
                    why: "it does not lie in the image's buffers",
                });
            };
            if let Some(place) = self.image.buffer(group).get_mut(at..end) {
                add_to_word(place, base);
            }
        }
        Ok(())
    }

    /// Applies every relocation of every loaded section, from the table parse made.
    fn relocate(&mut self) -> Result<(), LoadError> {
        let obj = self.obj;
        for rel in &obj.relocs {
            let target = rel.target as usize;
            let symbol = rel.sym as usize;
            let cached = self.addresses.get(symbol).copied().flatten();
            let mut s = match cached {
                Some(s) => s,
                None => {
                    let Some(sym) = obj.sym(symbol) else {
                        continue;
                    };
                    let s = self.symbol_address(symbol, &sym, target)?;
                    if let Some(slot) = self.addresses.get_mut(symbol) {
                        *slot = Some(s);
                    }
                    s
                }
            };
            // Errors are built out of line: applying is the common case.
            let fail = |problem| relocation_error(obj, rel, problem);
            let mut a = rel.addend;
            let placed = self.placed.get(target).copied().flatten();
            let p = placed
                .and_then(|pl| self.image.va(pl.group).checked_add(pl.offset as u64))
                .and_then(|va| va.checked_add(rel.offset))
                .ok_or_else(text_too_large)?;
            if rel.veneer_candidate {
                let dest = i128::from(s) + i128::from(a);
                if !reloc::branch26_in_range(dest - i128::from(p)) {
                    // The veneer holds the 64-bit address, modulo 2^64 like ABS64.
                    s = self.veneer(dest as u64).map_err(fail)?;
                    a = 0;
                }
            }
            let place = placed.and_then(|pl| {
                let start = pl.offset.checked_add(usize::try_from(rel.offset).ok()?)?;
                let end = start.checked_add(usize::from(rel.width))?;
                self.image.buffer(pl.group).get_mut(start..end)
            });
            let applied = match place {
                Some(place) => reloc::apply(rel.r_type, place, s, a, p).map_err(fail)?,
                None => false,
            };
            if !applied {
                // Parse refuses unsupported types and out-of-bounds offsets.
                return Err(obj.unsupported_relocation(target, rel.offset, rel.r_type));
            }
        }
        Ok(())
    }

    /// The module's exported symbols, sorted by name, and every defined function (local or
    /// global), sorted by address: one pass over the symbol table.
    fn symbols(&self) -> (Vec<DefinedSymbol<'a>>, Vec<Function>) {
        let obj = self.obj;
        let mut exports = Vec::new();
        // At most one a symbol: one allocation, no growth.
        let mut functions = Vec::with_capacity(obj.symbol_count());
        for (_, sym) in obj.syms().skip(1) {
            let shndx = u32::from(sym.shndx);
            let kind = sym.kind();
            if shndx == SHN_UNDEF || matches!(kind, STT_SECTION | STT_FILE) {
                continue;
            }
            let bind = sym.bind();
            let vis = sym.visibility();
            let exported = (bind == STB_GLOBAL || bind == STB_WEAK)
                && (vis == STV_DEFAULT || vis == STV_PROTECTED);
            let function = kind == STT_FUNC && shndx != SHN_ABS;
            if !exported && !function {
                continue;
            }
            let va = if shndx == SHN_ABS {
                Some(sym.value)
            } else {
                self.section_va(shndx as usize, sym.value)
            };
            // A symbol without a name (offset 0 is the empty name) is left out.
            let Some(va) = va.filter(|_| sym.name != 0) else {
                continue;
            };
            if function {
                functions.push(Function {
                    va,
                    size: sym.size,
                    name: sym.name,
                });
            }
            if exported {
                let name = obj.sym_name(&sym);
                if name.is_empty() {
                    continue;
                }
                exports.push(DefinedSymbol {
                    name,
                    va,
                    size: sym.size,
                    kind: match kind {
                        STT_FUNC => SymbolKind::Function,
                        STT_OBJECT => SymbolKind::Object,
                        _ => SymbolKind::Other,
                    },
                    weak: bind == STB_WEAK,
                });
            }
        }
        // Unstable sorts (no scratch buffer) on keys that tell every two entries apart but
        // identical ones, so the order is still deterministic.
        exports.sort_unstable_by(|a, b| (a.name, a.va, a.size).cmp(&(b.name, b.va, b.size)));
        // A prelinked module's symbols come sorted (`Object::prelink`): checking is cheaper.
        let key = |f: &Function| (f.va, f.size, f.name);
        if !functions.is_sorted_by_key(key) {
            functions.sort_unstable_by_key(key);
        }
        (exports, functions)
    }
}
