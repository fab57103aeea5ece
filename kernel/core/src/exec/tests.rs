//! Host tests for the executable checks, on ELF images built byte by byte.

use super::*;
use crate::xorshift::XorShift;
use goblin::elf64::header::{EM_X86_64, ET_NONE};
use goblin::elf64::program_header::{PF_R, PT_GNU_STACK, PT_NOTE};

/// The user range the tests load into.
const USER_START: u64 = 0x1000;
/// One past the last user address in the tests.
const USER_END: u64 = 0x8000_0000;

/// One program header to write.
#[derive(Clone, Copy, Debug)]
struct Ph {
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
}

impl Ph {
    fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Self {
        Self {
            p_type: PT_LOAD,
            flags,
            offset,
            vaddr,
            filesz,
            memsz,
        }
    }

    fn other(p_type: u32) -> Self {
        Self {
            p_type,
            flags: PF_R,
            offset: 0,
            vaddr: 0,
            filesz: 0,
            memsz: 0,
        }
    }
}

/// A tiny ELF writer: the header fields the checks look at, the program headers, and the file
/// length (bytes past the headers are a recognisable pattern).
#[derive(Clone, Debug)]
struct Image {
    class: u8,
    data: u8,
    e_type: u16,
    machine: u16,
    entry: u64,
    phoff: u64,
    phentsize: u16,
    /// `e_phnum`; `None` writes `phdrs.len()`.
    phnum: Option<u16>,
    phdrs: Vec<Ph>,
    /// Length of the file; grown to hold the header and the program headers.
    len: usize,
}

impl Image {
    /// A valid executable: text at 0x40_0000 (the headers included), data + bss after it, and a
    /// `PT_GNU_STACK` that must be ignored.
    fn valid() -> Self {
        Self {
            class: ELFCLASS64,
            data: ELFDATA2LSB,
            e_type: ET_EXEC,
            machine: EM_AARCH64,
            entry: 0x40_0120,
            phoff: 64,
            phentsize: SIZEOF_PHDR as u16,
            phnum: None,
            phdrs: vec![
                Ph::load(PF_R | PF_X, 0, 0x40_0000, 0x200, 0x200),
                Ph::load(PF_R | PF_W, 0x200, 0x41_0200, 0x100, 0x2000),
                Ph::other(PT_GNU_STACK),
            ],
            len: 0x300,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let phoff = self.phoff as usize;
        let len = self.len.max(64).max(phoff + self.phdrs.len() * SIZEOF_PHDR);
        let mut b: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        b[..64].fill(0);
        b[..4].copy_from_slice(ELFMAG);
        b[EI_CLASS] = self.class;
        b[EI_DATA] = self.data;
        b[6] = 1; // EI_VERSION
        b[16..18].copy_from_slice(&self.e_type.to_le_bytes());
        b[18..20].copy_from_slice(&self.machine.to_le_bytes());
        b[20..24].copy_from_slice(&1u32.to_le_bytes());
        b[24..32].copy_from_slice(&self.entry.to_le_bytes());
        b[32..40].copy_from_slice(&self.phoff.to_le_bytes());
        b[52..54].copy_from_slice(&64u16.to_le_bytes());
        b[54..56].copy_from_slice(&self.phentsize.to_le_bytes());
        let phnum = self.phnum.unwrap_or(self.phdrs.len() as u16);
        b[56..58].copy_from_slice(&phnum.to_le_bytes());
        for (i, ph) in self.phdrs.iter().enumerate() {
            let at = phoff + i * SIZEOF_PHDR;
            let e = &mut b[at..at + SIZEOF_PHDR];
            e.fill(0);
            e[0..4].copy_from_slice(&ph.p_type.to_le_bytes());
            e[4..8].copy_from_slice(&ph.flags.to_le_bytes());
            e[8..16].copy_from_slice(&ph.offset.to_le_bytes());
            e[16..24].copy_from_slice(&ph.vaddr.to_le_bytes());
            e[24..32].copy_from_slice(&ph.vaddr.to_le_bytes());
            e[32..40].copy_from_slice(&ph.filesz.to_le_bytes());
            e[40..48].copy_from_slice(&ph.memsz.to_le_bytes());
            e[48..56].copy_from_slice(&PAGE_SIZE.to_le_bytes());
        }
        b
    }

    fn parse(&self) -> Result<Executable, ExecError> {
        parse(&self.bytes(), USER_START, USER_END)
    }

    /// Parses, expecting an error, and returns it with its message.
    fn err(&self) -> (ExecError, String) {
        let e = self.parse().expect_err("the image should be refused");
        (e, e.to_string())
    }
}

#[test]
fn valid_executable() {
    let exe = Image::valid().parse().unwrap();
    assert_eq!(exe.entry, 0x40_0120);
    let segs: Vec<_> = exe.segments().copied().collect();
    assert_eq!(
        segs,
        [
            Segment {
                vaddr: 0x40_0000,
                memsz: 0x200,
                offset: 0,
                filesz: 0x200,
                write: false,
                exec: true,
            },
            Segment {
                vaddr: 0x41_0200,
                memsz: 0x2000,
                offset: 0x200,
                filesz: 0x100,
                write: true,
                exec: false,
            },
        ]
    );
    assert_eq!(segs[0].page_range(), (0x40_0000, 0x40_1000));
    assert_eq!(segs[1].page_range(), (0x41_0000, 0x41_3000));
    assert!(exe.segments[2..].iter().all(Option::is_none));
}

#[test]
fn ignores_other_headers_and_empty_loads() {
    let mut img = Image::valid();
    img.phdrs.insert(0, Ph::other(PT_NOTE));
    // An empty PT_LOAD anywhere, even outside user space, occupies nothing.
    img.phdrs.push(Ph::load(PF_R | PF_W | PF_X, 0, 0, 0, 0));
    let exe = img.parse().unwrap();
    assert_eq!(exe.segments().count(), 2);
}

#[test]
fn bad_magic() {
    for bytes in [
        &b""[..],
        b"\x7fEL",
        b"\x7fELG",
        b"MZ\x90\x00\x03\x00\x00\x00",
    ] {
        let e = parse(bytes, USER_START, USER_END).unwrap_err();
        assert_eq!(e, ExecError::BadMagic);
        assert_eq!(e.to_string(), "not an ELF file (bad magic)");
    }
}

#[test]
fn class_and_byte_order() {
    let mut img = Image::valid();
    img.class = ELFCLASS32;
    let (e, msg) = img.err();
    assert_eq!(e, ExecError::Class(ELFCLASS32));
    assert_eq!(msg, "ELF class 32-bit: Keel runs 64-bit executables");
    img.class = 9;
    assert_eq!(
        img.err().1,
        "unknown ELF class 9: Keel runs 64-bit executables"
    );

    let mut img = Image::valid();
    img.data = ELFDATA2MSB;
    let (e, msg) = img.err();
    assert_eq!(e, ExecError::ByteOrder(ELFDATA2MSB));
    assert_eq!(msg, "big-endian ELF: Keel runs little-endian executables");
    img.data = 0;
    assert_eq!(
        img.err().1,
        "unknown ELF data encoding 0: Keel runs little-endian executables"
    );
}

#[test]
fn truncated_header() {
    let bytes = Image::valid().bytes();
    for len in [4, 5, 6, 20, 63] {
        let e = parse(&bytes[..len], USER_START, USER_END).unwrap_err();
        match len {
            4 => assert_eq!(e, ExecError::Class(0)),
            5 => assert_eq!(e, ExecError::ByteOrder(0)),
            _ => {
                assert_eq!(e, ExecError::TruncatedHeader { len });
                assert_eq!(
                    e.to_string(),
                    format!("the {len}-byte file is too short for an ELF header (64 bytes)")
                );
            }
        }
    }
}

#[test]
fn machine() {
    let mut img = Image::valid();
    img.machine = EM_X86_64;
    let (e, msg) = img.err();
    assert_eq!(e, ExecError::Machine(62));
    assert_eq!(msg, "machine X86_64 (62): not an AArch64 executable");
}

#[test]
fn object_types() {
    let mut img = Image::valid();
    img.e_type = ET_REL;
    assert_eq!(
        img.err(),
        (
            ExecError::NotExecutable(ET_REL),
            "a relocatable object, not an executable (ET_REL)".into()
        )
    );
    img.e_type = ET_CORE;
    assert_eq!(img.err().1, "a core dump, not an executable (ET_CORE)");
    img.e_type = ET_NONE;
    assert_eq!(img.err().1, "ELF type 0x0: not an executable");
    img.e_type = 0xfe01;
    assert_eq!(img.err().1, "ELF type 0xfe01: not an executable");
}

#[test]
fn dynamic_executables() {
    // A classic dynamically linked PIE: ET_DYN, PT_INTERP, linked at 0.
    let mut img = Image::valid();
    img.e_type = ET_DYN;
    img.phdrs[0].vaddr = 0;
    img.phdrs[1].vaddr = 0x1_0200;
    img.entry = 0x120;
    img.phdrs.insert(1, Ph::other(PT_INTERP));
    let (e, msg) = img.err();
    assert_eq!(
        e,
        ExecError::Dynamic {
            index: 1,
            p_type: PT_INTERP
        }
    );
    assert_eq!(
        msg,
        "a dynamically linked executable (segment 1 is PT_INTERP): \
         Keel runs static executables only"
    );

    // ET_EXEC with PT_DYNAMIC is refused too.
    let mut img = Image::valid();
    img.phdrs.push(Ph::other(PT_DYNAMIC));
    assert_eq!(
        img.err(),
        (
            ExecError::Dynamic {
                index: 3,
                p_type: PT_DYNAMIC
            },
            "a dynamically linked executable (segment 3 is PT_DYNAMIC): \
             Keel runs static executables only"
                .into()
        )
    );

    // A static PIE (ET_DYN without PT_INTERP) is refused with its own message.
    let mut img = Image::valid();
    img.e_type = ET_DYN;
    let (e, msg) = img.err();
    assert_eq!(e, ExecError::PositionIndependent);
    assert_eq!(
        msg,
        "a position-independent executable (ET_DYN): \
         Keel runs static executables linked at a fixed address (ET_EXEC)"
    );
}

#[test]
fn program_header_table() {
    let mut img = Image::valid();
    img.phentsize = 32;
    assert_eq!(
        img.err(),
        (
            ExecError::PhentSize(32),
            "program header entries of 32 bytes: ELF64 program headers are 56".into()
        )
    );

    let mut img = Image::valid();
    img.phnum = Some(40);
    assert_eq!(
        img.err(),
        (
            ExecError::PhdrsOutOfBounds {
                offset: 64,
                count: 40,
                len: 0x300
            },
            "program header table out of bounds: 40 entries at 0x40 do not fit in the \
             768-byte file"
                .into()
        )
    );

    // The table ends exactly at the end of the file: fine. One byte less: refused.
    let mut img = Image::valid();
    img.phoff = 0x300 - 3 * SIZEOF_PHDR as u64;
    img.phdrs[1].offset = 0x100;
    img.phdrs[1].vaddr = 0x41_0100;
    let mut bytes = img.bytes();
    assert_eq!(bytes.len(), 0x300);
    parse(&bytes, USER_START, USER_END).unwrap();
    bytes.pop();
    assert!(matches!(
        parse(&bytes, USER_START, USER_END),
        Err(ExecError::PhdrsOutOfBounds { .. })
    ));

    // Offsets that overflow usize arithmetic.
    for phoff in [u64::MAX, u64::MAX - 55, 1 << 63] {
        let mut img = Image::valid();
        img.phoff = 64;
        let mut bytes = img.bytes();
        bytes[32..40].copy_from_slice(&phoff.to_le_bytes());
        assert!(matches!(
            parse(&bytes, USER_START, USER_END),
            Err(ExecError::PhdrsOutOfBounds { offset, .. }) if offset == phoff
        ));
    }

    let mut img = Image::valid();
    img.phdrs.clear();
    assert_eq!(
        img.err(),
        (ExecError::NoLoadableSegments, "no loadable segments".into())
    );
}

#[test]
fn file_range() {
    let mut img = Image::valid();
    img.phdrs[1].filesz = 0x101;
    assert_eq!(
        img.err(),
        (
            ExecError::FileRange {
                index: 1,
                vaddr: 0x41_0200,
                offset: 0x200,
                filesz: 0x101,
                len: 0x300
            },
            "segment 1 at 0x410200: file range 0x200+0x101 is past the end of the 768-byte file"
                .into()
        )
    );
    // offset + filesz overflowing u64.
    let mut img = Image::valid();
    img.phdrs[1].offset = u64::MAX - 0xff;
    img.phdrs[1].vaddr = 0x41_0f00;
    img.phdrs[1].filesz = 0x100;
    assert!(matches!(img.err().0, ExecError::FileRange { index: 1, .. }));
}

#[test]
fn memsz_smaller_than_filesz() {
    let mut img = Image::valid();
    img.phdrs[1].memsz = 0x80;
    assert_eq!(
        img.err(),
        (
            ExecError::MemszSmallerThanFilesz {
                index: 1,
                memsz: 0x80,
                filesz: 0x100
            },
            "segment 1: memsz 0x80 smaller than filesz 0x100".into()
        )
    );
}

#[test]
fn user_space_bounds() {
    let check = |vaddr: u64, memsz: u64| {
        let mut img = Image::valid();
        img.phdrs[1].vaddr = vaddr;
        img.phdrs[1].offset = 0;
        img.phdrs[1].filesz = 0;
        img.phdrs[1].memsz = memsz;
        img.parse()
    };
    // Exactly filling the last user page, and starting in the first one.
    check(USER_END - 0x1000, 0x1000).unwrap();
    check(USER_END - 0x800, 0x800).unwrap();
    check(USER_START + 0x10, 0x10).unwrap();
    // Below, straddling either end, above, and wrapping around.
    for (vaddr, memsz) in [
        (0, 0x10),
        (USER_START - 1, 2),
        (USER_END - 0x10, 0x11),
        (USER_END, 1),
        (USER_END - 1, 2),
        (u64::MAX - 0x10, 0x10),
        (u64::MAX - 0x10, 0x20),
        (0x40_3000, u64::MAX),
    ] {
        let e = check(vaddr, memsz).unwrap_err();
        assert_eq!(
            e,
            ExecError::OutsideUserSpace {
                index: 1,
                vaddr,
                memsz,
                user_start: USER_START,
                user_end: USER_END
            },
            "{vaddr:#x}+{memsz:#x}"
        );
    }
    assert_eq!(
        check(0, 0x10).unwrap_err().to_string(),
        "segment 1 at 0x0: 0x0+0x10 is outside user space 0x1000-0x80000000"
    );
    // The page holding the segment's start counts, not just its bytes.
    let mut img = Image::valid();
    img.phdrs[0].vaddr = 0x40_0000;
    let e = parse(&img.bytes(), 0x40_0800, USER_END).unwrap_err();
    assert!(matches!(e, ExecError::OutsideUserSpace { index: 0, .. }));
}

#[test]
fn write_exec() {
    let mut img = Image::valid();
    img.phdrs[1].flags = PF_R | PF_W | PF_X;
    assert_eq!(
        img.err(),
        (
            ExecError::WriteExec {
                index: 1,
                vaddr: 0x41_0200
            },
            "segment 1 at 0x410200: writable and executable (W^X)".into()
        )
    );
}

#[test]
fn overlap() {
    // Byte overlap.
    let mut img = Image::valid();
    img.phdrs[1].vaddr = 0x40_0200;
    assert_eq!(
        img.err(),
        (
            ExecError::Overlap {
                first: 0,
                second: 1
            },
            "segments 0 and 1 overlap (they share at least one page)".into()
        )
    );
    // Disjoint bytes in one shared page.
    let mut img = Image::valid();
    img.phdrs[0].filesz = 0x100;
    img.phdrs[0].memsz = 0x100;
    img.phdrs[1].vaddr = 0x40_0200;
    assert!(matches!(
        img.err().0,
        ExecError::Overlap {
            first: 0,
            second: 1
        }
    ));
    // Adjacent pages are fine, in either order.
    let mut img = Image::valid();
    img.phdrs[1].vaddr = 0x40_1200;
    img.parse().unwrap();
    img.phdrs.swap(0, 1);
    img.parse().unwrap();
    // The reported indices are program header indices, with other headers in between.
    let mut img = Image::valid();
    img.phdrs.insert(1, Ph::other(PT_NOTE));
    img.phdrs.push(Ph::load(PF_R, 0, 0x40_0000, 0, 0x10));
    assert!(matches!(
        img.err().0,
        ExecError::Overlap {
            first: 0,
            second: 4
        }
    ));
}

#[test]
fn congruence() {
    let mut img = Image::valid();
    img.phdrs[1].vaddr = 0x41_0100;
    assert_eq!(
        img.err(),
        (
            ExecError::Misaligned {
                index: 1,
                vaddr: 0x41_0100,
                offset: 0x200
            },
            "segment 1: vaddr 0x410100 and offset 0x200 disagree modulo the page size (0x1000)"
                .into()
        )
    );
    // A segment with no file bytes (pure bss) may sit anywhere.
    img.phdrs[1].filesz = 0;
    img.parse().unwrap();
}

#[test]
fn entry_point() {
    for entry in [0x40_0000, 0x40_01ff] {
        let mut img = Image::valid();
        img.entry = entry;
        assert_eq!(img.parse().unwrap().entry, entry);
    }
    for entry in [0, 0x3f_ffff, 0x40_0200, 0x41_0200, 0x41_0300, u64::MAX] {
        let mut img = Image::valid();
        img.entry = entry;
        let (e, msg) = img.err();
        assert_eq!(e, ExecError::EntryNotExecutable { entry });
        assert_eq!(
            msg,
            format!("entry point {entry:#x} is not inside an executable segment")
        );
    }
}

#[test]
fn segment_count() {
    let mut img = Image::valid();
    img.phdrs.clear();
    img.entry = 0x40_0000;
    img.len = 0x100;
    for i in 0..MAX_SEGMENTS as u64 {
        img.phdrs
            .push(Ph::load(PF_R | PF_X, 0, 0x40_0000 + i * 0x1000, 0x10, 0x10));
    }
    assert_eq!(img.parse().unwrap().segments().count(), MAX_SEGMENTS);
    img.phdrs.push(Ph::load(PF_R, 0, 0x50_0000, 0x10, 0x10));
    assert_eq!(
        img.err(),
        (
            ExecError::TooManySegments { index: 8 },
            "too many loadable segments: segment 8 is past the limit of 8".into()
        )
    );
    // Only loadable headers count.
    let mut img = Image::valid();
    for _ in 0..20 {
        img.phdrs.push(Ph::other(PT_NOTE));
    }
    img.parse().unwrap();
    // Only non-zero ones.
    img.phdrs.clear();
    for _ in 0..20 {
        img.phdrs.push(Ph::load(PF_R, 0, 0x40_0000, 0, 0));
    }
    assert_eq!(img.err().0, ExecError::NoLoadableSegments);
}

#[test]
fn the_host_test_binary_is_refused() {
    // A real ELF file from a real linker: this test's own executable (x86-64, or a dynamically
    // linked AArch64 PIE). Either way it must be read without trouble and refused.
    let Ok(bytes) = std::fs::read(std::env::current_exe().unwrap()) else {
        return;
    };
    if bytes.get(..4) != Some(&ELFMAG[..]) {
        return; // not an ELF host
    }
    let e = parse(&bytes, USER_START, USER_END).unwrap_err();
    assert!(
        matches!(
            e,
            ExecError::Machine(_) | ExecError::Dynamic { .. } | ExecError::PositionIndependent
        ),
        "{e}"
    );
}

/// Checks what [`parse`] promises about an accepted file.
fn assert_sound(exe: &Executable, len: usize, user_start: u64, user_end: u64) {
    let segs: Vec<_> = exe.segments().collect();
    assert!(!segs.is_empty() && segs.len() <= MAX_SEGMENTS);
    assert!(exe.segments[segs.len()..].iter().all(Option::is_none));
    for (i, s) in segs.iter().enumerate() {
        assert!(s.memsz > 0 && s.memsz >= s.filesz);
        assert!(s.offset.checked_add(s.filesz).unwrap() <= len as u64);
        assert!(!(s.write && s.exec));
        let (start, end) = s.page_range();
        assert!(start >= user_start && end <= user_end && start < end);
        assert!(s.vaddr.checked_add(s.memsz).unwrap() <= end);
        for t in &segs[..i] {
            let (ts, te) = t.page_range();
            assert!(te <= start || end <= ts);
        }
    }
    assert!(segs
        .iter()
        .any(|s| s.exec && s.vaddr <= exe.entry && exe.entry < s.vaddr + s.memsz));
}

#[test]
fn truncation_never_panics() {
    let bytes = Image::valid().bytes();
    for len in 0..=bytes.len() {
        match parse(&bytes[..len], USER_START, USER_END) {
            Ok(exe) => {
                assert_eq!(len, bytes.len(), "only the whole file loads");
                assert_sound(&exe, len, USER_START, USER_END);
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn mutations_never_panic() {
    let mut rng = XorShift::new(0x9e37_79b9_7f4a_7c15);
    let base = {
        let mut img = Image::valid();
        img.phdrs.push(Ph::load(PF_R, 0x80, 0x42_0080, 0x80, 0x80));
        img.bytes()
    };
    let mut accepted = 0;
    for _ in 0..20_000 {
        let mut bytes = base.clone();
        let headers = 64 + 4 * SIZEOF_PHDR;
        for _ in 0..1 + rng.index(4) {
            match rng.index(4) {
                // A random byte in the headers.
                0 | 1 => {
                    let at = rng.index(headers);
                    bytes[at] = rng.next_u64() as u8;
                }
                // A single bit anywhere in the headers.
                2 => {
                    let at = rng.index(headers);
                    bytes[at] ^= 1 << rng.index(8);
                }
                // A whole 8-byte field set to an edge value.
                _ => {
                    let at = rng.index(headers - 8) & !7;
                    let v =
                        [0, 1, u64::MAX, 1 << 63, rng.next_u64(), USER_END, 0x1000][rng.index(7)];
                    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
        if rng.index(4) == 0 {
            let len = rng.index(bytes.len() + 1);
            bytes.truncate(len);
        }
        let (start, end) = match rng.index(4) {
            0 => (0, u64::MAX),
            1 => (rng.next_u64(), rng.next_u64()),
            _ => (USER_START, USER_END),
        };
        match parse(&bytes, start, end) {
            Ok(exe) => {
                accepted += 1;
                assert_sound(&exe, bytes.len(), start, end);
            }
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
    // Some mutations (in padding, in ignored fields) keep the file valid.
    assert!(accepted > 100, "only {accepted} mutants accepted");
}
