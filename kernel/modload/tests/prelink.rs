//! `Object::prelink`: a prelinked object links to exactly the image its original links to, with
//! fewer relocations left for the loader, and a prelinked object placed otherwise than it records
//! is refused with an error naming the section.

mod common;

use common::*;
use keel_modload::{LoadError, Object, PAGE_SIZE, PRELINKED_SECTION, RELATIVE_SECTION};

const BASE: u64 = 0xffff_0000_0000_0000;

/// How many relocations an object has, over all its relocation sections.
fn relocation_count(bytes: &[u8]) -> usize {
    let elf = goblin::elf::Elf::parse(bytes).unwrap();
    elf.shdr_relocs.iter().map(|(_, r)| r.len()).sum()
}

/// Links `bytes` with its span at `base` (each group at its span offset).
fn link_at(
    bytes: &[u8],
    base: u64,
    resolve: &mut dyn FnMut(&str) -> Option<u64>,
) -> Result<Buffers, LoadError> {
    let obj = Object::parse(bytes)?;
    let layout = obj.layout();
    let span = layout.span();
    let mut bufs = Buffers::new(
        &layout,
        base + span.text.0,
        base + span.rodata.0,
        base + span.data.0,
    );
    obj.link_with(&layout, &mut bufs.image(), resolve)?;
    Ok(bufs)
}

fn resolver(name: &str) -> Option<u64> {
    // The asm fixture's own imports, as its tests resolve them.
    let asm = match name {
        "ext_data" => Some(BASE + 0x1234_5678),
        "small_abs" => Some(0x1234),
        "ext_func" => Some(0xffff_8000_0000_0040),
        _ => None,
    };
    sample_resolver(name).or(asm).or_else(|| {
        // Every other import: near ones and far ones (through veneers), by name.
        let h = name
            .bytes()
            .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
        Some(if h % 2 == 0 {
            BASE + 0x10_0000 + (h % 0x1000) * 16
        } else {
            0xffff_8000_0000_0000 + (h % 0x1000) * 16
        })
    })
}

/// Prelinks `bytes` and checks the result links like the original at several bases.
fn same_image(bytes: &[u8]) -> Vec<u8> {
    let prelinked = Object::parse(bytes).unwrap().prelink().unwrap();
    let obj = Object::parse(&prelinked).unwrap();
    assert!(obj.is_prelinked());
    assert!(!Object::parse(bytes).unwrap().is_prelinked());
    assert_eq!(obj.layout(), Object::parse(bytes).unwrap().layout());
    for base in [BASE, BASE + 0x0765_3000, BASE - 0x2000_0000] {
        let a = link_at(bytes, base, &mut resolver).unwrap();
        let b = link_at(&prelinked, base, &mut resolver).unwrap();
        assert_eq!(a.text, b.text, "text at {base:#x}");
        assert_eq!(a.rodata, b.rodata, "rodata at {base:#x}");
        assert_eq!(a.data, b.data, "data at {base:#x}");
    }
    prelinked
}

#[test]
fn a_prelinked_sample_links_to_the_same_image_with_fewer_relocations() {
    let bytes = sample_object();
    let prelinked = same_image(&bytes);
    // Kept: the import's CALL26 and PREL32, the ABS64 of the weak import; the ABS64 of the
    // module's own table became a relative place.
    assert_eq!(relocation_count(&bytes), 9);
    assert_eq!(relocation_count(&prelinked), 3);
    let relative = section_index(&prelinked, RELATIVE_SECTION);
    let h = shdr_offset(&prelinked, relative);
    assert_eq!(
        u64::from_le_bytes(prelinked[h + 32..h + 40].try_into().unwrap()),
        8
    );
}

#[test]
fn prelinked_rustc_objects_link_to_the_same_image() {
    for name in ["asm_relocs", "alloc_fmt"] {
        let Some(bytes) = compile(name) else {
            return;
        };
        let prelinked = same_image(&bytes);
        assert!(
            relocation_count(&prelinked) < relocation_count(&bytes),
            "{name}"
        );
        // The local symbols come by section and address, so the functions need no sort.
        let elf = goblin::elf::Elf::parse(&prelinked).unwrap();
        let locals: Vec<(usize, u64)> = elf
            .syms
            .iter()
            .skip(1)
            .take_while(|sym| sym.st_bind() == goblin::elf::sym::STB_LOCAL)
            .map(|sym| (sym.st_shndx, sym.st_value))
            .collect();
        assert!(locals.is_sorted(), "{name}: {locals:?}");
        assert!(locals.len() > 1, "{name}");
        // A section symbol stays only while a remaining relocation names it.
        let named: std::collections::HashSet<usize> = elf
            .shdr_relocs
            .iter()
            .flat_map(|(_, relocs)| relocs.iter().map(|r| r.r_sym))
            .collect();
        let original = goblin::elf::Elf::parse(&bytes).unwrap();
        assert!(elf.syms.len() < original.syms.len(), "{name}");
        for (i, sym) in elf.syms.iter().enumerate() {
            if sym.st_type() == goblin::elf::sym::STT_SECTION {
                assert!(
                    named.contains(&i),
                    "{name}: section symbol {i} is named by nothing"
                );
            }
        }
    }
}

#[test]
fn sections_are_recorded_at_their_span_offsets() {
    let bytes = sample_object();
    let prelinked = Object::parse(&bytes).unwrap().prelink().unwrap();
    let elf = goblin::elf::Elf::parse(&prelinked).unwrap();
    let span = Object::parse(&bytes).unwrap().layout().span();
    let addr = |name: &str| {
        elf.section_headers
            .iter()
            .find(|sh| elf.shdr_strtab.get_at(sh.sh_name) == Some(name))
            .unwrap_or_else(|| panic!("{name}"))
            .sh_addr
    };
    assert_eq!(addr(".text.init"), 0);
    assert_eq!(addr(".rodata.table"), span.rodata.0);
    assert_eq!(addr(".data.desc"), span.data.0);
    assert_eq!(span.rodata.0 % PAGE_SIZE, 0);
    assert_eq!(addr(".comment"), 0);
    let marker = section_index(&prelinked, PRELINKED_SECTION);
    let h = shdr_offset(&prelinked, marker);
    let off = u64::from_le_bytes(prelinked[h + 24..h + 32].try_into().unwrap()) as usize;
    assert_eq!(prelinked[off..off + 4], 4096u32.to_le_bytes());
}

#[test]
fn a_section_placed_elsewhere_than_recorded_is_refused() {
    let mut prelinked = Object::parse(&sample_object()).unwrap().prelink().unwrap();
    let rodata = section_index(&prelinked, ".rodata.table");
    let h = shdr_offset(&prelinked, rodata);
    let recorded = u64::from_le_bytes(prelinked[h + 16..h + 24].try_into().unwrap());
    poke(&mut prelinked, h + 16, 8, recorded + 0x1000);
    let Err(err) = link_at(&prelinked, BASE, &mut resolver) else {
        panic!("a lying placement linked");
    };
    assert_eq!(
        err,
        LoadError::Misplaced {
            section: ".rodata.table".into(),
            recorded: recorded + 0x1000,
            placed: recorded,
        }
    );
    assert!(err.to_string().contains("prelinked for offset"), "{err}");
}

#[test]
fn a_prelinked_module_off_a_page_boundary_is_refused() {
    let prelinked = Object::parse(&sample_object()).unwrap().prelink().unwrap();
    let err = link_at(&prelinked, BASE + 0x40, &mut resolver).unwrap_err();
    assert_eq!(err, LoadError::PrelinkedBase { base: BASE + 0x40 });
    // An object that is not prelinked links anywhere.
    link_at(&sample_object(), BASE + 0x40, &mut resolver).unwrap();
}

#[test]
fn a_bad_marker_and_prelinking_twice_are_refused() {
    let prelinked = Object::parse(&sample_object()).unwrap().prelink().unwrap();
    let err = Object::parse(&prelinked).unwrap().prelink().unwrap_err();
    assert!(err.to_string().contains("prelinked already"), "{err}");

    let marker = section_index(&prelinked, PRELINKED_SECTION);
    let h = shdr_offset(&prelinked, marker);
    let off = u64::from_le_bytes(prelinked[h + 24..h + 32].try_into().unwrap()) as usize;
    let mut other_page = prelinked.clone();
    poke(&mut other_page, off, 4, 16384);
    let err = Object::parse(&other_page).unwrap_err();
    assert!(err.to_string().contains("another page size"), "{err}");

    let mut loaded = prelinked.clone();
    poke(
        &mut loaded,
        h + 8,
        8,
        u64::from(goblin::elf::section_header::SHF_ALLOC),
    );
    let err = Object::parse(&loaded).unwrap_err();
    assert!(err.to_string().contains("not loaded"), "{err}");
}

#[test]
fn bad_relative_places_are_refused() {
    let prelinked = Object::parse(&sample_object()).unwrap().prelink().unwrap();
    let relative = section_index(&prelinked, RELATIVE_SECTION);
    let h = shdr_offset(&prelinked, relative);
    let off = u64::from_le_bytes(prelinked[h + 24..h + 32].try_into().unwrap()) as usize;
    let span = Object::parse(&prelinked).unwrap().layout().span();

    // Past the end of the data group, and straddling its end.
    for offset in [span.total + 0x1000, span.data.0 + span.data.1 - 4] {
        let mut outside = prelinked.clone();
        poke(&mut outside, off, 8, offset);
        let err = Object::parse(&outside).unwrap_err();
        assert_eq!(
            err,
            LoadError::BadRelativePlace {
                entry: 0,
                offset,
                why: IN_CONTENTS,
            }
        );
        assert!(
            err.to_string().contains("relative place 0 (offset"),
            "{err}"
        );
    }

    let mut ragged = prelinked.clone();
    poke(&mut ragged, h + 32, 8, 4);
    let err = Object::parse(&ragged).unwrap_err();
    assert!(
        err.to_string().contains("whole number of 8-byte offsets"),
        "{err}"
    );

    // Without the prelink marker, the places' contents mean nothing.
    let mut unmarked = prelinked.clone();
    let name = unmarked
        .windows(PRELINKED_SECTION.len() + 1)
        .position(|w| w == [PRELINKED_SECTION.as_bytes(), b"\0"].concat())
        .unwrap();
    unmarked[name + 1] = b'X';
    let err = Object::parse(&unmarked).unwrap_err();
    assert!(err.to_string().contains("need a prelinked module"), "{err}");
}

/// Why a relative place outside the initialised part of every group is refused.
const IN_CONTENTS: &str =
    "its 8 bytes do not lie in the initialised part of the text, rodata or data";

/// `prelinked` with its list of relative places replaced by `places` (appended to the file).
fn with_places(prelinked: &[u8], places: &[u64]) -> Vec<u8> {
    let mut bytes = prelinked.to_vec();
    while !bytes.len().is_multiple_of(8) {
        bytes.push(0);
    }
    let at = bytes.len() as u64;
    bytes.extend(places.iter().flat_map(|p| p.to_le_bytes()));
    let h = shdr_offset(&bytes, section_index(&bytes, RELATIVE_SECTION));
    poke(&mut bytes, h + 24, 8, at);
    poke(&mut bytes, h + 32, 8, places.len() as u64 * 8);
    bytes
}

/// The span offset of a section of `prelinked` (its recorded `sh_addr`).
fn span_offset(prelinked: &[u8], name: &str) -> u64 {
    let h = shdr_offset(prelinked, section_index(prelinked, name));
    u64::from_le_bytes(prelinked[h + 16..h + 24].try_into().unwrap())
}

#[test]
fn relative_places_must_be_sorted_apart_and_in_contents() {
    let prelinked = Object::parse(&sample_object()).unwrap().prelink().unwrap();
    let elf = goblin::elf::Elf::parse(&prelinked).unwrap();
    let relative = section_index(&prelinked, RELATIVE_SECTION);
    let own = {
        let sh = &elf.section_headers[relative];
        let at = sh.sh_offset as usize;
        u64::from_le_bytes(prelinked[at..at + 8].try_into().unwrap())
    };
    // A place a remaining relocation patches (the ABS64 of the weak import, in the data).
    let (rela_index, relocs) = elf
        .shdr_relocs
        .iter()
        .find(|(_, relocs)| {
            relocs
                .iter()
                .any(|r| r.r_type == goblin::elf::reloc::R_AARCH64_ABS64)
        })
        .unwrap();
    let target = elf.section_headers[*rela_index].sh_info as usize;
    let patched = elf.section_headers[target].sh_addr
        + relocs
            .iter()
            .find(|r| r.r_type == goblin::elf::reloc::R_AARCH64_ABS64)
            .unwrap()
            .r_offset;
    assert_ne!(own, patched);
    let bss = span_offset(&prelinked, ".bss.counter");
    // The last bytes of the text, then the veneer area after it.
    let text_end = Object::parse(&prelinked).unwrap().layout().veneer_offset as u64;
    let cases: [(&[u64], usize, &str); 6] = [
        (&[own, own], 1, "does not follow"),
        (&[own, own + 4], 1, "does not follow"),
        (&[own + 8, own], 1, "does not follow"),
        (&[bss], 0, "do not lie in the initialised part"),
        (&[text_end], 0, "do not lie in the initialised part"),
        (&[patched], 0, "patches it too"),
    ];
    for (places, entry, why) in cases {
        let err = Object::parse(&with_places(&prelinked, places)).unwrap_err();
        match &err {
            LoadError::BadRelativePlace { entry: e, .. } => {
                assert_eq!(*e, entry, "{places:x?}: {err}")
            }
            _ => panic!("{places:x?}: {err}"),
        }
        assert!(err.to_string().contains(why), "{places:x?}: {err}");
    }
    // The same list, sorted and apart, loads.
    Object::parse(&with_places(&prelinked, &[own])).unwrap();
}

#[test]
fn a_prelinked_module_must_record_its_span_offsets_and_keep_its_groups_there() {
    let prelinked = Object::parse(&sample_object()).unwrap().prelink().unwrap();
    // Every loaded section moved by one page: consistent among themselves, but not the span.
    let mut shifted = prelinked.clone();
    let elf = goblin::elf::Elf::parse(&prelinked).unwrap();
    for (i, sh) in elf.section_headers.iter().enumerate() {
        if sh.sh_flags & u64::from(goblin::elf::section_header::SHF_ALLOC) != 0 {
            let at = shdr_offset(&shifted, i) + 16;
            poke(&mut shifted, at, 8, sh.sh_addr + 0x1000);
        }
    }
    let err = link_at(&shifted, BASE, &mut resolver).unwrap_err();
    assert!(
        matches!(&err, LoadError::Misplaced { section, recorded, placed } if section == ".text.init" && *recorded == *placed + 0x1000),
        "{err}"
    );

    // The groups must keep their places in the span from the base.
    let obj = Object::parse(&prelinked).unwrap();
    let layout = obj.layout();
    let span = layout.span();
    let mut bufs = Buffers::new(
        &layout,
        BASE,
        BASE + span.rodata.0,
        BASE + span.data.0 + 0x1000,
    );
    let err = obj
        .link_with(&layout, &mut bufs.image(), &mut resolver)
        .unwrap_err();
    assert_eq!(
        err,
        LoadError::GroupMisplaced {
            group: "data",
            va: BASE + span.data.0 + 0x1000,
            expected: BASE + span.data.0,
        }
    );
    assert!(
        err.to_string().contains("offset in the module's span"),
        "{err}"
    );
}

#[test]
fn a_group_larger_than_the_module_region_is_refused_before_any_overflow() {
    let mut prelinked = Object::parse(&sample_object()).unwrap().prelink().unwrap();
    let h = shdr_offset(&prelinked, section_index(&prelinked, ".bss.counter"));
    poke(&mut prelinked, h + 32, 8, 0xffff_ffff_ffff_f000);
    let err = Object::parse(&prelinked).unwrap_err();
    assert_eq!(err, LoadError::TooLarge { group: "data" });
    assert!(err.to_string().contains("1024 MiB"), "{err}");
    // A hand-built layout that large saturates instead of wrapping.
    let layout = keel_modload::Layout {
        text: usize::MAX,
        data: usize::MAX,
        ..Default::default()
    };
    assert_eq!(layout.span().total, u64::MAX);
}
