//! Layout (grouping, alignment, `.bss`, veneer room), exports and the image checks.

mod common;

use common::*;
use keel_modload::{LoadError, Object, SymbolKind};

const TEXT_VA: u64 = 0xffff_0000_1000_0000;
const RODATA_VA: u64 = 0xffff_0000_1001_0000;
const DATA_VA: u64 = 0xffff_0000_1002_0000;

#[test]
fn groups_and_alignment() {
    let elf = sample_object();
    let obj = Object::parse(&elf).unwrap();
    let layout = obj.layout();
    // .text.init (24 bytes) then .text.helper (4) then one veneer (kernel_print), 8-aligned.
    assert_eq!(layout.veneer_offset, 32);
    assert_eq!(layout.veneer_slots, 1);
    assert_eq!(layout.text, 48);
    assert_eq!(layout.text_align, 8);
    assert_eq!((layout.rodata, layout.rodata_align), (16, 16));
    // .data.desc (24) then .bss.counter aligned to 64.
    assert_eq!(layout.bss_offset, 24);
    assert_eq!((layout.data, layout.data_align), (128, 64));
    assert_eq!(layout.max_align(), 64);
    let imports: Vec<_> = obj.imports().map(|i| (i.name, i.weak)).collect();
    assert_eq!(
        imports,
        [("kernel_print", false), ("kernel_optional", true)]
    );
}

#[test]
fn link_copies_zeroes_and_relocates() {
    let elf = sample_object();
    let obj = Object::parse(&elf).unwrap();
    let layout = obj.layout();
    let mut bufs = Buffers::new(&layout, TEXT_VA, RODATA_VA, DATA_VA);
    let linked = obj.link(&mut bufs.image(), &mut sample_resolver).unwrap();
    assert_eq!(bufs.bytes_at(RODATA_VA, 12), b"keel\0module\0");
    assert!(
        bufs.bytes_at(DATA_VA + 24, 104).iter().all(|&b| b == 0),
        ".bss and padding zeroed"
    );
    assert!(
        bufs.bytes_at(TEXT_VA + 28, 4).iter().all(|&b| b == 0),
        "text padding zeroed"
    );
    // adrp + add = table.
    let adrp = decode_adr(bufs.u32_at(TEXT_VA), TEXT_VA);
    assert_eq!(adrp + decode_imm12(bufs.u32_at(TEXT_VA + 4)), RODATA_VA);
    // bl kernel_print: 1 GiB away, so through the veneer.
    let veneer = decode_b(bufs.u32_at(TEXT_VA + 8), TEXT_VA + 8);
    assert_eq!(veneer, TEXT_VA + 32);
    assert_eq!(
        bufs.u64_at(veneer + 8),
        sample_resolver("kernel_print").unwrap()
    );
    // b helper: directly.
    assert_eq!(
        decode_b(bufs.u32_at(TEXT_VA + 12), TEXT_VA + 12),
        TEXT_VA + 24
    );
    // ldr x0, [x0, :lo12:counter]: counter = bss + 8, scaled by 8.
    assert_eq!(
        decode_imm12(bufs.u32_at(TEXT_VA + 16)) * 8,
        (DATA_VA + 24 + 8 + 40) & 0xfff
    );
    assert_eq!(bufs.u64_at(DATA_VA), RODATA_VA + 5);
    assert_eq!(bufs.u64_at(DATA_VA + 8), 0, "weak undefined is 0");
    let prel = i32::from_le_bytes(bufs.bytes_at(DATA_VA + 20, 4).try_into().unwrap());
    assert_eq!(
        (DATA_VA + 20).wrapping_add(prel as i64 as u64),
        TEXT_VA + 24
    );

    // Exports: globals with default visibility, sorted; hidden and local ones stay private.
    let names: Vec<_> = linked.symbols().iter().map(|s| s.name).collect();
    assert_eq!(names, ["__keel_module", "init_module"]);
    let desc = linked.symbol("__keel_module").unwrap();
    assert_eq!(
        (desc.va, desc.size, desc.kind),
        (DATA_VA, 24, SymbolKind::Object)
    );
    assert_eq!(linked.address("init_module"), Some(TEXT_VA));
    assert_eq!(linked.address("private_helper"), None);
    assert_eq!(linked.address("helper"), None);
    assert_eq!(*linked.layout(), layout);
}

#[test]
fn image_is_checked() {
    let elf = sample_object();
    let obj = Object::parse(&elf).unwrap();
    let layout = obj.layout();
    let mut bufs = Buffers::new(&layout, TEXT_VA, RODATA_VA, DATA_VA);
    bufs.data.pop();
    let err = obj
        .link(&mut bufs.image(), &mut sample_resolver)
        .unwrap_err();
    assert_eq!(
        err,
        LoadError::ImageTooSmall {
            group: "data",
            needed: 128,
            got: 127
        }
    );
    assert_eq!(
        err.to_string(),
        "data buffer holds 127 bytes but the module's layout needs 128"
    );
    let mut bufs = Buffers::new(&layout, TEXT_VA, RODATA_VA, DATA_VA + 32);
    let err = obj
        .link(&mut bufs.image(), &mut sample_resolver)
        .unwrap_err();
    assert!(
        matches!(
            err,
            LoadError::BadImageAddress {
                group: "data",
                align: 64,
                ..
            }
        ),
        "{err}"
    );
    let mut bufs = Buffers::new(&layout, u64::MAX - 15, RODATA_VA, DATA_VA);
    let err = obj
        .link(&mut bufs.image(), &mut sample_resolver)
        .unwrap_err();
    assert!(
        matches!(err, LoadError::BadImageAddress { group: "text", .. }),
        "{err}"
    );
    // Larger buffers are fine.
    let mut bufs = Buffers::new(&layout, TEXT_VA, RODATA_VA, DATA_VA);
    bufs.text.resize(4096, 0xaa);
    obj.link(&mut bufs.image(), &mut sample_resolver).unwrap();
}

#[test]
fn empty_groups_are_zero_sized() {
    let mut b = ElfBuilder::new();
    b.section(".text", Kind::Text, &[0x1f, 0x20, 0x03, 0xd5], 4);
    let elf = b.build();
    let obj = Object::parse(&elf).unwrap();
    let layout = obj.layout();
    assert_eq!(
        (layout.text, layout.rodata, layout.data, layout.veneer_slots),
        (4, 0, 0, 0)
    );
    let mut bufs = Buffers::new(&layout, TEXT_VA, 0, 0);
    let linked = obj.link(&mut bufs.image(), &mut |_| None).unwrap();
    assert!(linked.symbols().is_empty());
}

#[test]
fn link_with_takes_only_the_objects_own_layout() {
    let elf = sample_object();
    let obj = Object::parse(&elf).unwrap();
    let layout = obj.layout();
    let mut bufs = Buffers::new(&layout, TEXT_VA, RODATA_VA, DATA_VA);
    let linked = obj
        .link_with(&layout, &mut bufs.image(), &mut sample_resolver)
        .unwrap();
    assert_eq!(linked.layout(), &layout);
    let mut other = layout;
    other.rodata += 8;
    let mut bufs = Buffers::new(&other, TEXT_VA, RODATA_VA, DATA_VA);
    let err = obj
        .link_with(&other, &mut bufs.image(), &mut sample_resolver)
        .unwrap_err();
    assert_eq!(err, LoadError::WrongLayout);
}
