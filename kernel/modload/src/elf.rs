//! Bounds-checked little-endian reads of the ELF64 structures the loader needs.
//!
//! The loader reads headers straight out of the caller's byte slice with checked
//! arithmetic instead of going through `goblin::elf::Elf::parse`, which allocates tables and
//! is not meant for hostile input. goblin still supplies the constants and their names.

/// Size of the ELF64 file header.
pub(crate) const EHDR_SIZE: usize = 64;
/// Size of one ELF64 section header.
pub(crate) const SHDR_SIZE: usize = 64;
/// Size of one ELF64 symbol.
pub(crate) const SYM_SIZE: usize = 24;
/// Size of one ELF64 `Rela` entry.
pub(crate) const RELA_SIZE: usize = 24;

/// The `N` bytes at `off`, or `None` if they are not all inside `bytes` (borrowed, not copied).
fn array<const N: usize>(bytes: &[u8], off: usize) -> Option<&[u8; N]> {
    let end = off.checked_add(N)?;
    bytes.get(off..end)?.try_into().ok()
}

/// The `8 * W` bytes at `off` as `W` little-endian words, or `None` if they are not all inside
/// `bytes`.
///
/// The kernel's target forbids unaligned loads, so a read from a `[u8]` compiles to one load per
/// byte; the ELF tables are 8-byte aligned in a well-formed object, so where they are aligned in
/// memory too they are read a word at a time instead.
#[inline(always)]
fn words<const W: usize>(bytes: &[u8], off: usize) -> Option<Words<'_, W>> {
    let end = off.checked_add(W.checked_mul(8)?)?;
    let raw = bytes.get(off..end)?;
    Some(match plain::slice_from_bytes::<u64>(raw) {
        Ok(aligned) => Words::Aligned(aligned.try_into().ok()?),
        Err(_) => Words::Copied(unaligned_words(raw)),
    })
}

/// [`words`] for bytes that are not 8-byte aligned in memory. Not inlined: inlined, the
/// compiler merges both paths into the byte-at-a-time one.
#[inline(never)]
fn unaligned_words<const W: usize>(raw: &[u8]) -> [u64; W] {
    let mut out = [0u64; W];
    for (word, chunk) in out.iter_mut().zip(raw.chunks_exact(8)) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        *word = u64::from_le_bytes(bytes);
    }
    out
}

/// What [`words`] found: the words in place, or a copy of unaligned ones.
enum Words<'b, const W: usize> {
    Aligned(&'b [u64; W]),
    Copied([u64; W]),
}

impl<const W: usize> Words<'_, W> {
    /// Word `i` (a constant below `W` at every call, so the index is checked at compile time).
    #[inline(always)]
    fn get(&self, i: usize) -> u64 {
        match self {
            Words::Aligned(words) => words.get(i).map_or(0, |&w| u64::from_le(w)),
            Words::Copied(words) => words.get(i).copied().unwrap_or(0),
        }
    }
}

/// A table of little-endian 64-bit words in the file: in place when it is 8-byte aligned in
/// memory, else read a byte at a time.
#[derive(Clone, Copy, Debug)]
pub(crate) enum U64s<'a> {
    /// The words in place.
    Aligned(&'a [u64]),
    /// Bytes not aligned in memory (a whole number of words).
    Bytes(&'a [u8]),
}

impl<'a> U64s<'a> {
    /// The whole words of `bytes` (a ragged end is ignored).
    pub(crate) fn new(bytes: &'a [u8]) -> U64s<'a> {
        let whole = bytes.get(..bytes.len() / 8 * 8).unwrap_or(&[]);
        match plain::slice_from_bytes::<u64>(whole) {
            Ok(words) => U64s::Aligned(words),
            Err(_) => U64s::Bytes(whole),
        }
    }

    /// How many words there are.
    pub(crate) fn len(&self) -> usize {
        match self {
            U64s::Aligned(words) => words.len(),
            U64s::Bytes(bytes) => bytes.len() / 8,
        }
    }

    /// Word `i`, or `u64::MAX` past the end.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> u64 {
        match self {
            U64s::Aligned(words) => words.get(i).map_or(u64::MAX, |&w| u64::from_le(w)),
            U64s::Bytes(bytes) => unaligned_word(bytes, i),
        }
    }

    /// The number of leading words for which `before` holds (it must hold for a prefix of the
    /// words only), found by binary search: `<[u64]>::partition_point` for either kind.
    pub(crate) fn partition_point(&self, before: impl Fn(u64) -> bool) -> usize {
        match self {
            U64s::Aligned(words) => words.partition_point(|&w| before(u64::from_le(w))),
            U64s::Bytes(_) => {
                let (mut low, mut high) = (0, self.len());
                while low < high {
                    let mid = low + (high - low) / 2;
                    if before(self.get(mid)) {
                        low = mid + 1;
                    } else {
                        high = mid;
                    }
                }
                low
            }
        }
    }

    /// The words in order.
    pub(crate) fn iter(self) -> impl Iterator<Item = u64> + 'a {
        (0..self.len()).map(move |i| self.get(i))
    }
}

/// [`U64s::get`] of bytes not aligned in memory. Not inlined, as [`unaligned_words`].
#[inline(never)]
fn unaligned_word(bytes: &[u8], i: usize) -> u64 {
    i.checked_mul(8)
        .and_then(|at| array(bytes, at))
        .map_or(u64::MAX, |&b| u64::from_le_bytes(b))
}

/// Reads a little-endian `u16` at `off`.
pub(crate) fn u16_at(bytes: &[u8], off: usize) -> Option<u16> {
    array(bytes, off).copied().map(u16::from_le_bytes)
}

/// Reads a little-endian `u32` at `off`.
pub(crate) fn u32_at(bytes: &[u8], off: usize) -> Option<u32> {
    array(bytes, off).copied().map(u32::from_le_bytes)
}

/// Reads a little-endian `u64` at `off`.
#[inline]
pub(crate) fn u64_at(bytes: &[u8], off: usize) -> Option<u64> {
    if off.is_multiple_of(8) {
        return words::<1>(bytes, off).map(|w| w.get(0));
    }
    array(bytes, off).copied().map(u64::from_le_bytes)
}

/// One section header.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Shdr {
    pub name: u32,
    pub sh_type: u32,
    pub flags: u64,
    pub addr: u64,
    pub offset: u64,
    pub size: u64,
    pub link: u32,
    pub info: u32,
    pub addralign: u64,
    pub entsize: u64,
}

impl Shdr {
    /// Decodes the section header at `off`.
    #[inline]
    pub(crate) fn read(bytes: &[u8], off: usize) -> Option<Shdr> {
        // One bounds check for the whole header; the halves of a word are truncated on purpose.
        let w = words::<{ SHDR_SIZE / 8 }>(bytes, off)?;
        let (w0, w5) = (w.get(0), w.get(5));
        Some(Shdr {
            name: w0 as u32,
            sh_type: (w0 >> 32) as u32,
            flags: w.get(1),
            addr: w.get(2),
            offset: w.get(3),
            size: w.get(4),
            link: w5 as u32,
            info: (w5 >> 32) as u32,
            addralign: w.get(6),
            entsize: w.get(7),
        })
    }
}

/// One symbol table entry.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sym {
    pub name: u32,
    pub info: u8,
    pub other: u8,
    pub shndx: u16,
    pub value: u64,
    pub size: u64,
}

impl Sym {
    /// Decodes the symbol at `off`.
    #[inline]
    pub(crate) fn read(bytes: &[u8], off: usize) -> Option<Sym> {
        // The first word holds `st_name`, `st_info`, `st_other` and `st_shndx`.
        let w = words::<{ SYM_SIZE / 8 }>(bytes, off)?;
        let w0 = w.get(0);
        Some(Sym {
            name: w0 as u32,
            info: (w0 >> 32) as u8,
            other: (w0 >> 40) as u8,
            shndx: (w0 >> 48) as u16,
            value: w.get(1),
            size: w.get(2),
        })
    }

    /// The symbol's binding (`STB_*`).
    pub(crate) fn bind(&self) -> u8 {
        self.info >> 4
    }

    /// The symbol's type (`STT_*`).
    pub(crate) fn kind(&self) -> u8 {
        self.info & 0xf
    }

    /// The symbol's visibility (`STV_*`).
    pub(crate) fn visibility(&self) -> u8 {
        self.other & 0x3
    }
}

/// One relocation with an explicit addend.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rela {
    pub offset: u64,
    pub sym: u32,
    pub r_type: u32,
    pub addend: i64,
}

impl Rela {
    /// Decodes the relocation at `off`.
    #[inline]
    pub(crate) fn read(bytes: &[u8], off: usize) -> Option<Rela> {
        let w = words::<{ RELA_SIZE / 8 }>(bytes, off)?;
        let info = w.get(1);
        Some(Rela {
            offset: w.get(0),
            // The high half is the symbol index, the low half the type: truncation intended.
            sym: (info >> 32) as u32,
            r_type: info as u32,
            addend: w.get(2) as i64,
        })
    }
}

/// A string table, with its whole text when all of it is UTF-8 and it ends with NUL.
///
/// Checking the whole table once lets each name be checked in constant time: a name of a valid
/// table is valid exactly when it starts on a character boundary (it ends at a NUL, which is
/// one), and it is found without decoding it again. A table that is not all UTF-8 falls back to
/// checking each name on its own, so a bad name is reported as before.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StrTable<'a> {
    bytes: &'a [u8],
    text: Option<&'a str>,
}

impl<'a> StrTable<'a> {
    /// The table `bytes`, decoded once.
    pub(crate) fn new(bytes: &'a [u8]) -> StrTable<'a> {
        StrTable {
            bytes,
            // Without the final NUL a name could run off the end: check names one by one.
            text: match bytes.last() {
                Some(0) => core::str::from_utf8(bytes).ok(),
                _ => None,
            },
        }
    }

    /// Checks the name at `off` as [`StrTable::get`] would, without finding its end when the
    /// table is all UTF-8 (the table ends with NUL, so every name in it is terminated).
    pub(crate) fn check(&self, off: u32) -> Result<(), &'static str> {
        let Some(text) = self.text else {
            return str_at(self.bytes, off).map(|_| ());
        };
        let start = usize::try_from(off).map_err(|_| PAST_END)?;
        if start >= text.len() {
            return Err(PAST_END);
        }
        if !text.is_char_boundary(start) {
            return Err(NOT_UTF8);
        }
        Ok(())
    }

    /// The NUL-terminated name at `off`, if it is in bounds and UTF-8.
    pub(crate) fn get(&self, off: u32) -> Result<&'a str, &'static str> {
        let Some(text) = self.text else {
            return str_at(self.bytes, off);
        };
        let start = usize::try_from(off).map_err(|_| PAST_END)?;
        let rest = text.as_bytes().get(start..).ok_or(PAST_END)?;
        if rest.is_empty() {
            return Err(PAST_END);
        }
        let len = keel_abi::bytes::find_nul(rest).ok_or(NOT_TERMINATED)?;
        text.get(start..start + len).ok_or(NOT_UTF8)
    }

    /// Whether the name at `off` is `name` (see [`str_is`]).
    pub(crate) fn is(&self, off: u32, name: &str) -> bool {
        str_is(self.bytes, off, name)
    }

    /// The table's bytes.
    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

const PAST_END: &str = "offset past the end of the table";
const NOT_TERMINATED: &str = "name is not NUL-terminated";
const NOT_UTF8: &str = "name is not valid UTF-8";

/// Whether the NUL-terminated string at `off` in `table` is `name`: a byte comparison, without
/// the UTF-8 check of [`str_at`] (a string equal to `name` is UTF-8).
#[inline]
pub(crate) fn str_is(table: &[u8], off: u32, name: &str) -> bool {
    let Ok(start) = usize::try_from(off) else {
        return false;
    };
    let name = name.as_bytes();
    // The terminating NUL first: it rules out most names without comparing them.
    table
        .get(start..)
        .and_then(|rest| rest.get(..=name.len()))
        .and_then(|s| s.split_last())
        .is_some_and(|(&nul, s)| nul == 0 && s == name)
}

/// Returns the NUL-terminated string at `off` in `table`, if it is in bounds and UTF-8.
pub(crate) fn str_at(table: &[u8], off: u32) -> Result<&str, &'static str> {
    let start = usize::try_from(off).map_err(|_| PAST_END)?;
    let rest = table.get(start..).ok_or(PAST_END)?;
    if rest.is_empty() {
        return Err(PAST_END);
    }
    let len = rest.iter().position(|&b| b == 0).ok_or(NOT_TERMINATED)?;
    let raw = rest.get(..len).ok_or(NOT_TERMINATED)?;
    core::str::from_utf8(raw).map_err(|_| NOT_UTF8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn u64s_read_and_search_aligned_and_unaligned_words_alike() {
        let words: Vec<u64> = (0..9).map(|i| i * 16 + 3).collect();
        let mut buf = vec![0u8; 8 + words.len() * 8 + 4];
        for shift in 0..8 {
            for (i, w) in words.iter().enumerate() {
                buf[shift + i * 8..shift + i * 8 + 8].copy_from_slice(&w.to_le_bytes());
            }
            // Four ragged bytes at the end are ignored.
            let table = U64s::new(&buf[shift..shift + words.len() * 8 + 4]);
            assert_eq!(table.len(), words.len());
            assert_eq!(table.iter().collect::<Vec<_>>(), words);
            assert_eq!(table.get(words.len()), u64::MAX);
            for probe in 0..160 {
                assert_eq!(
                    table.partition_point(|w| w < probe),
                    words.partition_point(|&w| w < probe),
                    "shift {shift}, probe {probe}"
                );
            }
        }
    }

    #[test]
    fn str_is_compares_whole_names() {
        let table = b"\0.text\0.text.hot\0\xff\0";
        assert!(str_is(table, 1, ".text"));
        assert!(!str_is(table, 1, ".tex"));
        assert!(!str_is(table, 1, ".text.hot"));
        assert!(str_is(table, 7, ".text.hot"));
        assert!(str_is(table, 0, ""));
        assert!(!str_is(table, 17, "x"));
        assert!(!str_is(table, 99, ""));
        assert_eq!(str_at(table, 7), Ok(".text.hot"));
    }

    #[test]
    fn aligned_and_unaligned_reads_agree() {
        let header: Vec<u8> = (1..=64u8).collect();
        let mut buf = vec![0u8; 64 + 16];
        // An 8-byte aligned place in `buf`, and the byte after it.
        let aligned = (8 - buf.as_ptr() as usize % 8) % 8;
        for at in [aligned, aligned + 1] {
            buf.fill(0);
            buf[at..at + 64].copy_from_slice(&header);
            let sh = Shdr::read(&buf, at).unwrap();
            assert_eq!(sh.name, u32::from_le_bytes([1, 2, 3, 4]));
            assert_eq!(sh.sh_type, u32::from_le_bytes([5, 6, 7, 8]));
            assert_eq!(
                sh.flags,
                u64::from_le_bytes([9, 10, 11, 12, 13, 14, 15, 16])
            );
            assert_eq!(sh.link, u32::from_le_bytes([41, 42, 43, 44]));
            assert_eq!(sh.info, u32::from_le_bytes([45, 46, 47, 48]));
            assert_eq!(
                sh.entsize,
                u64::from_le_bytes([57, 58, 59, 60, 61, 62, 63, 64])
            );
            let sym = Sym::read(&buf, at).unwrap();
            assert_eq!((sym.info, sym.other), (5, 6));
            assert_eq!(sym.shndx, u16::from_le_bytes([7, 8]));
            assert_eq!(
                sym.size,
                u64::from_le_bytes([17, 18, 19, 20, 21, 22, 23, 24])
            );
            let rela = Rela::read(&buf, at).unwrap();
            assert_eq!(
                (rela.r_type, rela.sym),
                (
                    u32::from_le_bytes([9, 10, 11, 12]),
                    u32::from_le_bytes([13, 14, 15, 16])
                )
            );
            assert_eq!(u64_at(&buf, at + 8), Some(sh.flags));
            assert!(Shdr::read(&buf, at + 17).is_none());
        }
    }

    #[test]
    fn str_table_checks_names_like_str_at() {
        let valid = "\0.text\0\u{e9}t\u{e9}\0x\0".as_bytes();
        let invalid = b"\0.text\0\xff\0\xc3\xa9\0";
        let unterminated = b"\0abc";
        for table in [valid, &invalid[..], &unterminated[..]] {
            let t = StrTable::new(table);
            for off in 0..=table.len() as u32 + 1 {
                assert_eq!(t.get(off), str_at(table, off), "offset {off}");
                assert_eq!(t.check(off), str_at(table, off).map(|_| ()), "offset {off}");
            }
        }
    }
}
