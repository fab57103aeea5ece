//! Tests for the symbol table reader (always) and the encoder and demangler (with `alloc`).

use super::*;

/// Builds a blob by hand from entries and a raw string table, independently of `encode`.
fn raw_blob(entries: &[(u64, u32, u32)], strings: &[u8]) -> Vec<u8> {
    let mut blob = Vec::new();
    blob.extend_from_slice(b"KSYM");
    blob.extend_from_slice(&1u32.to_le_bytes());
    blob.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    blob.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    for &(addr, size, off) in entries {
        blob.extend_from_slice(&addr.to_le_bytes());
        blob.extend_from_slice(&size.to_le_bytes());
        blob.extend_from_slice(&off.to_le_bytes());
    }
    blob.extend_from_slice(strings);
    blob
}

/// Builds a blob from `(addr, size, name)` with names stored in order.
fn blob_of(symbols: &[(u64, u32, &str)]) -> Vec<u8> {
    let mut strings = Vec::new();
    let mut entries = Vec::new();
    for &(addr, size, name) in symbols {
        entries.push((addr, size, strings.len() as u32));
        strings.extend_from_slice(&(name.len() as u16).to_le_bytes());
        strings.extend_from_slice(name.as_bytes());
    }
    raw_blob(&entries, &strings)
}

fn sample() -> Vec<u8> {
    blob_of(&[
        (0x1000, 0x100, "_start"),
        (0x1100, 0, "zero_sized"),
        (0x1200, 0x10, "small"),
        (0x2000, 0x80, "tail"),
        (0x3000, 0, "_end"),
    ])
}

fn find(blob: &[u8], addr: u64) -> Option<(&str, u64, u64)> {
    lookup(blob, addr)
        .unwrap()
        .map(|s| (s.name, s.addr, s.offset))
}

#[test]
fn lookup_boundaries() {
    let blob = sample();
    assert_eq!(validate(&blob), Ok(5));
    assert_eq!(find(&blob, 0), None);
    assert_eq!(find(&blob, 0xFFF), None);
    assert_eq!(find(&blob, 0x1000), Some(("_start", 0x1000, 0)));
    assert_eq!(find(&blob, 0x10FF), Some(("_start", 0x1000, 0xFF)));
    // A zero-sized symbol runs up to the next one.
    assert_eq!(find(&blob, 0x1100), Some(("zero_sized", 0x1100, 0)));
    assert_eq!(find(&blob, 0x11FF), Some(("zero_sized", 0x1100, 0xFF)));
    assert_eq!(find(&blob, 0x1200), Some(("small", 0x1200, 0)));
    assert_eq!(find(&blob, 0x120F), Some(("small", 0x1200, 0xF)));
    // The gap after a sized symbol belongs to nobody.
    assert_eq!(find(&blob, 0x1210), None);
    assert_eq!(find(&blob, 0x1FFF), None);
    assert_eq!(find(&blob, 0x207F), Some(("tail", 0x2000, 0x7F)));
    assert_eq!(find(&blob, 0x2080), None);
    // The last zero-sized symbol covers only its own address.
    assert_eq!(find(&blob, 0x3000), Some(("_end", 0x3000, 0)));
    assert_eq!(find(&blob, 0x3001), None);
    assert_eq!(find(&blob, u64::MAX), None);
}

#[test]
fn empty_table() {
    let blob = raw_blob(&[], &[]);
    assert_eq!(validate(&blob), Ok(0));
    assert_eq!(lookup(&blob, 0x1000), Ok(None));
}

#[test]
fn single_symbol_at_the_top_of_the_address_space() {
    let blob = blob_of(&[(u64::MAX - 0xF, 0x10, "top")]);
    assert_eq!(find(&blob, u64::MAX), Some(("top", u64::MAX - 0xF, 0xF)));
    assert_eq!(find(&blob, u64::MAX - 0x10), None);
}

#[test]
fn trailing_padding_is_ignored() {
    let mut blob = sample();
    blob.extend_from_slice(&[0; 7]);
    assert_eq!(validate(&blob), Ok(5));
    assert_eq!(find(&blob, 0x2000), Some(("tail", 0x2000, 0)));
}

#[test]
fn short_blobs() {
    let blob = sample();
    for len in [0, 1, 4, 15] {
        assert_eq!(validate(&blob[..len]), Err(SymbolError::TooShort { len }));
        assert_eq!(
            lookup(&blob[..len], 0x1000),
            Err(SymbolError::TooShort { len })
        );
    }
}

#[test]
fn bad_magic_and_version() {
    let mut blob = sample();
    blob[0] = b'k';
    assert_eq!(validate(&blob), Err(SymbolError::BadMagic));
    assert_eq!(lookup(&blob, 0x1000), Err(SymbolError::BadMagic));
    let mut blob = sample();
    blob[4] = 2;
    assert_eq!(validate(&blob), Err(SymbolError::BadVersion { version: 2 }));
    assert_eq!(
        lookup(&blob, 0x1000),
        Err(SymbolError::BadVersion { version: 2 })
    );
}

#[test]
fn truncated_blobs() {
    let blob = sample();
    let len = blob.len() - 1;
    assert_eq!(
        validate(&blob[..len]),
        Err(SymbolError::Truncated {
            needed: blob.len() as u64,
            len
        })
    );
    // A huge count or string length must not overflow or panic.
    let mut huge = sample();
    huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    let needed = 16 + 16 * u64::from(u32::MAX) + u64::from(u32::MAX);
    assert_eq!(
        lookup(&huge, 0x1000),
        Err(SymbolError::Truncated {
            needed,
            len: huge.len()
        })
    );
}

#[test]
fn bad_name_offsets() {
    // The offset points past the string table.
    let blob = raw_blob(&[(0x1000, 4, 100)], b"\x01\x00a");
    assert_eq!(
        validate(&blob),
        Err(SymbolError::NameOutOfBounds { index: 0 })
    );
    assert_eq!(
        lookup(&blob, 0x1000),
        Err(SymbolError::NameOutOfBounds { index: 0 })
    );
    // The offset leaves room for only one byte of the length.
    let blob = raw_blob(&[(0x1000, 4, 2)], b"\x01\x00a");
    assert_eq!(
        validate(&blob),
        Err(SymbolError::NameOutOfBounds { index: 0 })
    );
    // The largest possible offset must not overflow.
    let blob = raw_blob(&[(0x1000, 4, u32::MAX)], b"\x01\x00a");
    assert_eq!(
        lookup(&blob, 0x1000),
        Err(SymbolError::NameOutOfBounds { index: 0 })
    );
    // Addresses without a symbol do not touch the broken name.
    assert_eq!(lookup(&blob, 0x10), Ok(None));
}

#[test]
fn truncated_and_invalid_names() {
    // The length says 5 bytes but only 3 follow.
    let blob = raw_blob(&[(0x1000, 4, 0)], b"\x05\x00abc");
    assert_eq!(
        validate(&blob),
        Err(SymbolError::NameOutOfBounds { index: 0 })
    );
    assert_eq!(
        lookup(&blob, 0x1001),
        Err(SymbolError::NameOutOfBounds { index: 0 })
    );
    let blob = raw_blob(
        &[(0x1000, 4, 0), (0x2000, 4, 0), (0x3000, 4, 3)],
        b"\x01\x00a\x02\x00\xFF\xFE",
    );
    assert_eq!(validate(&blob), Err(SymbolError::NameNotUtf8 { index: 2 }));
    assert_eq!(find(&blob, 0x2000), Some(("a", 0x2000, 0)));
    assert_eq!(
        lookup(&blob, 0x3000),
        Err(SymbolError::NameNotUtf8 { index: 2 })
    );
}

#[test]
fn unsorted_entries_are_reported_and_do_not_panic() {
    let blob = blob_of(&[(0x2000, 0x10, "b"), (0x1000, 0x10, "a"), (0x3000, 0, "c")]);
    assert_eq!(validate(&blob), Err(SymbolError::Unsorted { index: 1 }));
    for addr in [0, 0x1000, 0x1008, 0x2000, 0x2008, 0x3000, u64::MAX] {
        let _ = lookup(&blob, addr);
    }
}

#[test]
fn errors_display_as_sentences() {
    let errors = [
        SymbolError::TooShort { len: 3 },
        SymbolError::BadMagic,
        SymbolError::BadVersion { version: 9 },
        SymbolError::Truncated {
            needed: 100,
            len: 50,
        },
        SymbolError::NameOutOfBounds { index: 4 },
        SymbolError::NameNotUtf8 { index: 4 },
        SymbolError::Unsorted { index: 4 },
    ];
    for err in errors {
        assert!(
            err.to_string().starts_with("symbol table rejected: "),
            "{err}"
        );
    }
    assert!(SymbolError::Truncated {
        needed: 100,
        len: 50
    }
    .to_string()
    .contains("needs 100 bytes but the blob has only 50"));
}

#[cfg(feature = "alloc")]
mod with_alloc {
    use super::*;

    #[test]
    fn encode_round_trip() {
        let blob = encode(&[
            (0x2000, 0x80, "tail"),
            (0x1000, 0x100, "_start"),
            (0x3000, 0, "_end"),
            (0x1100, 0, "zero_sized"),
            (0x1200, 0x10, "small"),
        ]);
        assert_eq!(blob, sample());
        assert_eq!(validate(&blob), Ok(5));
    }

    #[test]
    fn encode_dedups_identical_addresses() {
        let blob = encode(&[
            (0x1000, 0, "alias_unsized"),
            (0x1000, 0x20, "first_sized"),
            (0x1000, 0x40, "second_sized"),
            (0x2000, 0, "only_unsized"),
            (0x2000, 0, "other_unsized"),
        ]);
        assert_eq!(validate(&blob), Ok(2));
        assert_eq!(find(&blob, 0x101F), Some(("first_sized", 0x1000, 0x1F)));
        assert_eq!(find(&blob, 0x1020), None);
        assert_eq!(find(&blob, 0x2000), Some(("only_unsized", 0x2000, 0)));
    }

    #[test]
    fn encode_empty_and_limits() {
        let blob = encode(&[]);
        assert_eq!(blob.len(), HEADER_LEN);
        assert_eq!(validate(&blob), Ok(0));
        // Oversized sizes are clamped; overlong names are cut at a char boundary.
        let long = "é".repeat(40_000);
        let blob = encode(&[(0x10, u64::MAX, &long)]);
        let sym = lookup(&blob, 0x10 + u64::from(u32::MAX) - 1)
            .unwrap()
            .unwrap();
        assert_eq!(sym.name.len(), 65_534);
        assert!(long.starts_with(sym.name));
        assert_eq!(lookup(&blob, 0x10 + u64::from(u32::MAX)), Ok(None));
    }

    #[test]
    fn encode_lookup_many() {
        let names: Vec<String> = (0..1000).map(|i| format!("sym_{i}")).collect();
        let symbols: Vec<(u64, u64, &str)> = names
            .iter()
            .enumerate()
            .rev()
            .map(|(i, n)| (0x8000_0000 + 0x40 * i as u64, 0x40, n.as_str()))
            .collect();
        let blob = encode(&symbols);
        assert_eq!(validate(&blob), Ok(1000));
        for i in (0..1000u64).step_by(7) {
            let addr = 0x8000_0000 + 0x40 * i + i % 0x40;
            let expected = format!("sym_{i}");
            assert_eq!(
                find(&blob, addr),
                Some((expected.as_str(), addr - i % 0x40, i % 0x40))
            );
        }
        assert_eq!(find(&blob, 0x8000_0000 + 0x40 * 1000), None);
    }

    #[test]
    fn demangle_legacy_paths() {
        assert_eq!(
            demangle("_ZN11keel_kernel4arch7aarch6410exceptions11handle_sync17h0123456789abcdefE"),
            "keel_kernel::arch::aarch64::exceptions::handle_sync"
        );
        assert_eq!(
            demangle(
                "_ZN4core3ptr46drop_in_place$LT$alloc..vec..Vec$LT$u8$GT$$GT$17h0123456789abcdefE"
            ),
            "core::ptr::drop_in_place<alloc::vec::Vec<u8>>"
        );
        assert_eq!(
            demangle(
                "_ZN4core3ptr85drop_in_place$LT$std..rt..lang_start$LT$$LP$$RP$$GT$..$u7b$$u7b$closure$u7d$$u7d$$GT$17h0123456789abcdefE"
            ),
            "core::ptr::drop_in_place<std::rt::lang_start<()>::{{closure}}>"
        );
    }

    #[test]
    fn demangle_escapes() {
        assert_eq!(
            demangle("_ZN42_$LT$$RF$T$u20$as$u20$core..fmt..Debug$GT$3fmt17h0123456789abcdefE"),
            "<&T as core::fmt::Debug>::fmt"
        );
        assert_eq!(
            demangle("_ZN11$u5b$T$u5d$21$C$$BP$$SP$$u27$$u7e$E"),
            "[T]::,*@'~"
        );
        assert_eq!(demangle("_ZN6_$u7b$3fooE"), "{::foo");
        // Segments that merely look like hashes are kept unless they are the last one.
        assert_eq!(
            demangle("_ZN17h0123456789abcdef3fooE"),
            "h0123456789abcdef::foo"
        );
        // A lone hash-like segment is a name, not a hash.
        assert_eq!(demangle("_ZN17h0123456789abcdefE"), "h0123456789abcdef");
        // Wrong hash lengths are not hashes.
        assert_eq!(
            demangle("_ZN3foo16h0123456789abcdeE"),
            "foo::h0123456789abcde"
        );
    }

    #[test]
    fn demangle_prefixes_and_suffixes() {
        assert_eq!(demangle("__ZN3foo3barE"), "foo::bar");
        assert_eq!(demangle("ZN3foo3barE"), "foo::bar");
        assert_eq!(
            demangle("_ZN3foo3bar17h0123456789abcdefE.llvm.12345"),
            "foo::bar.llvm.12345"
        );
    }

    #[test]
    fn demangle_leaves_other_names_alone() {
        for name in [
            "",
            "memcpy",
            "_start",
            "__rust_alloc",
            "_RNvCs1234_4keel4main",
            "_ZN",
            "_ZNE",
            "_ZN3fo",
            "_ZN3foo",
            "_ZN99fooE",
            "_ZNfooE",
            "_ZN5$LT$$E",
            "_ZN4$u$xE",
            "_ZN6$uZZ$xE",
            "_ZN7$ud800$E",
            // Wrong segment lengths ("handle_sync" has 11 bytes, the drop_in_place segment 46).
            "_ZN11keel_kernel4arch7aarch6410exceptions10handle_sync17h0123456789abcdefE",
            "_ZN4core3ptr85drop_in_place$LT$alloc..vec..Vec$LT$u8$GT$$GT$17h0123456789abcdefE",
        ] {
            assert_eq!(demangle(name), name, "{name:?}");
        }
    }
}
