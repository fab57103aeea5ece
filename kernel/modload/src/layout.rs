//! [`Layout`]: where each loaded section goes, grouped by permission (W^X).

use goblin::elf::section_header::{SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS};

use crate::elf::Shdr;
use crate::error::LoadError;
use crate::object::Object;

/// Size of one branch veneer: `ldr x16, #8; br x16; .quad target`.
pub const VENEER_SIZE: usize = 16;

/// The permission group a loaded section belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Group {
    /// Executable code (RX).
    Text,
    /// Read-only data (R).
    Rodata,
    /// Writable data and, after it, zero-initialised data (RW).
    Data,
}

/// Sizes and alignments of the three memory regions a module needs.
///
/// The caller allocates `text` bytes aligned to `text_align` (to be mapped RX after
/// linking), `rodata` bytes aligned to `rodata_align` (R) and `data` bytes aligned to
/// `data_align` (RW), normally each on its own pages so the permissions can differ. A size of
/// zero means the module has no such sections. All alignments are powers of two, at most
/// [`MAX_SECTION_ALIGN`](crate::MAX_SECTION_ALIGN).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// Bytes of code, including the veneer area at its end.
    pub text: usize,
    /// Alignment the text region's start needs.
    pub text_align: usize,
    /// Bytes of read-only data.
    pub rodata: usize,
    /// Alignment the rodata region's start needs.
    pub rodata_align: usize,
    /// Bytes of writable data, including the zero-initialised (`.bss`) part at its end.
    pub data: usize,
    /// Alignment the data region's start needs.
    pub data_align: usize,
    /// Offset within the data region where `.bss` starts.
    pub bss_offset: usize,
    /// Offset within the text region where the veneer area starts.
    pub veneer_offset: usize,
    /// Number of [`VENEER_SIZE`]-byte veneer slots reserved: one per distinct
    /// `CALL26`/`JUMP26` target (symbol and addend) outside the module's own text.
    pub veneer_slots: usize,
}

impl Layout {
    /// The largest of the three alignments.
    pub fn max_align(&self) -> usize {
        self.text_align.max(self.rodata_align).max(self.data_align)
    }

    /// Where the three groups lie in the module's span: text first, then rodata and data, each
    /// starting on a page of its own (and at its alignment), so each can get its own permissions.
    /// The span starts on a page boundary aligned to [`Layout::max_align`]. A prelinked module
    /// (see [`Object::prelink`]) records these offsets as its sections' addresses.
    ///
    /// A layout from [`Object::layout`] is bounded ([`MAX_GROUP_SIZE`]); one built by hand with
    /// larger sizes saturates instead of wrapping.
    pub fn span(&self) -> Span {
        let round_up = |x: u64, align: u64| x.checked_next_multiple_of(align).unwrap_or(u64::MAX);
        let page_align = |a: usize| (a as u64).max(PAGE_SIZE);
        let text = (0, self.text as u64);
        let rodata_start = round_up(round_up(text.1, PAGE_SIZE), page_align(self.rodata_align));
        let rodata = (rodata_start, self.rodata as u64);
        let data_start = round_up(
            round_up(rodata_start.saturating_add(rodata.1), PAGE_SIZE),
            page_align(self.data_align),
        );
        let data = (data_start, self.data as u64);
        Span {
            text,
            rodata,
            data,
            total: round_up(data_start.saturating_add(data.1), PAGE_SIZE),
        }
    }
}

/// The page size module spans are laid out with (4 KiB, the kernel's page size).
pub const PAGE_SIZE: u64 = 4096;

/// The most bytes one group (text, rodata or data) may hold: 1 GiB, the size of the kernel's
/// whole module region. With section alignments capped at
/// [`MAX_SECTION_ALIGN`](crate::MAX_SECTION_ALIGN), the span of a layout [`Object::parse`]
/// accepted fits in 64 bits with room to spare.
pub const MAX_GROUP_SIZE: usize = 1 << 30;

/// Byte offsets and sizes of the three groups inside a module's span ([`Layout::span`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// Offset and size of the text group (offset 0).
    pub text: (u64, u64),
    /// Offset and size of the rodata group.
    pub rodata: (u64, u64),
    /// Offset and size of the data group (`.bss` included).
    pub data: (u64, u64),
    /// Bytes of the span (a multiple of [`PAGE_SIZE`]).
    pub total: u64,
}

impl Span {
    /// The offset of `group` in the span.
    pub(crate) fn start(&self, group: Group) -> u64 {
        match group {
            Group::Text => self.text.0,
            Group::Rodata => self.rodata.0,
            Group::Data => self.data.0,
        }
    }
}

/// Which group a section belongs to, or `None` if it is not loaded.
pub(crate) fn group_of(sh: &Shdr) -> Option<Group> {
    if sh.flags & u64::from(SHF_ALLOC) == 0 {
        None
    } else if sh.flags & u64::from(SHF_EXECINSTR) != 0 {
        Some(Group::Text)
    } else if sh.flags & u64::from(SHF_WRITE) == 0 {
        Some(Group::Rodata)
    } else {
        Some(Group::Data)
    }
}

/// A running cursor within one group.
struct Cursor {
    end: usize,
    align: usize,
}

impl Cursor {
    fn new() -> Cursor {
        Cursor { end: 0, align: 1 }
    }

    /// Reserves `size` bytes aligned to `align`; returns their offset.
    fn place(&mut self, size: u64, align: u64, group: &'static str) -> Result<usize, LoadError> {
        // The error is built only when needed: building and dropping one per section is
        // measurable.
        let too_large = || LoadError::TooLarge { group };
        let align = usize::try_from(align.max(1)).map_err(|_| too_large())?;
        let size = usize::try_from(size).map_err(|_| too_large())?;
        let start = self
            .end
            .checked_next_multiple_of(align)
            .ok_or_else(too_large)?;
        self.end = start
            .checked_add(size)
            .filter(|&end| end <= MAX_GROUP_SIZE)
            .ok_or_else(too_large)?;
        self.align = self.align.max(align);
        Ok(start)
    }
}

impl Object<'_> {
    /// Computes the module's memory layout: the size and alignment of its text (RX), rodata
    /// (R) and data (RW, with `.bss` at the end) regions, with room for the veneers the link
    /// may need.
    ///
    /// Sections are placed in section-table order within their group, each at its own
    /// alignment, with one veneer slot per distinct target of the branches that may need one.
    pub fn layout(&self) -> Layout {
        // Parse computed it (and checked its sizes).
        self.layout
    }

    /// Places every loaded section, telling `place` each one's index, header, group and offset
    /// (within each group in increasing offset order), and returns the layout with
    /// `veneer_slots` veneers.
    pub(crate) fn plan(
        &self,
        veneer_slots: usize,
        mut place: impl FnMut(usize, &Shdr, Group, usize),
    ) -> Result<Layout, LoadError> {
        let mut text = Cursor::new();
        let mut rodata = Cursor::new();
        let mut data = Cursor::new();
        let mut bss_offset = 0;
        // Initialised sections first, then `.bss` after the initialised data.
        for bss_pass in [false, true] {
            if bss_pass {
                bss_offset = data.end;
            }
            for i in 0..self.shnum {
                let Some(sh) = self.shdr(i) else { continue };
                let Some(group) = group_of(&sh) else { continue };
                let is_bss = group == Group::Data && sh.sh_type == SHT_NOBITS;
                if is_bss != bss_pass {
                    continue;
                }
                let (cursor, name) = match group {
                    Group::Text => (&mut text, "text"),
                    Group::Rodata => (&mut rodata, "rodata"),
                    Group::Data => (&mut data, "data"),
                };
                let offset = cursor.place(sh.size, sh.addralign, name)?;
                place(i, &sh, group, offset);
            }
        }
        let veneer_bytes = veneer_slots
            .checked_mul(VENEER_SIZE)
            .ok_or(LoadError::TooLarge { group: "text" })?;
        let veneer_offset = if veneer_slots > 0 {
            text.place(veneer_bytes as u64, 8, "text")?
        } else {
            text.end
        };
        Ok(Layout {
            text: text.end,
            text_align: text.align,
            rodata: rodata.end,
            rodata_align: rodata.align,
            data: data.end,
            data_align: data.align,
            bss_offset,
            veneer_offset,
            veneer_slots,
        })
    }
}
