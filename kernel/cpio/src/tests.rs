//! Host tests: round trips, every malformed case, random mutations, and GNU cpio if it is installed.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use keel_core::xorshift::XorShift;

use crate::*;

/// A small archive with a directory, two files (one nested) and a symlink.
fn sample() -> Vec<u8> {
    let mut builder = Builder::new();
    builder
        .file("/sbin/init", 0o755, b"\x7fELF init".to_vec())
        .unwrap();
    builder
        .file("etc/motd", 0o644, b"hello\n".to_vec())
        .unwrap();
    builder.dir("/dev", 0o755).unwrap();
    builder.symlink("/bin/sh", "/sbin/init").unwrap();
    builder.build()
}

fn entries(bytes: &[u8]) -> Result<Vec<Entry<'_>>, Error> {
    Archive::new(bytes).entries().collect()
}

fn error_of(bytes: &[u8]) -> Error {
    match entries(bytes) {
        Ok(list) => panic!("expected an error, read {} entries", list.len()),
        Err(error) => error,
    }
}

/// Replaces the 8 hex digits of header field `at` of the entry at `offset`.
fn set_field(bytes: &mut [u8], offset: usize, at: usize, digits: &[u8; 8]) {
    bytes[offset + at..offset + at + 8].copy_from_slice(digits);
}

/// One hand-written entry (name padded, data padded), as GNU cpio would write it.
fn raw_entry(name: &str, mode: u32, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let header = alloc::format!(
        "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
        7,
        mode,
        1000,
        100,
        1,
        0x5eed,
        data.len(),
        8,
        1,
        0,
        0,
        name.len() + 1,
        0
    );
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out.extend_from_slice(data);
    while out.len() % 4 != 0 {
        out.push(0);
    }
    out
}

#[test]
fn round_trip_keeps_paths_types_and_bytes_in_sorted_order() {
    let bytes = sample();
    let list = entries(&bytes).unwrap();
    let seen: Vec<(&str, FileType, u32, &[u8])> = list
        .iter()
        .map(|e| (e.name, e.file_type(), e.mode.permissions(), e.data))
        .collect();
    assert_eq!(
        seen,
        [
            ("bin", FileType::Directory, 0o755, &b""[..]),
            ("bin/sh", FileType::Symlink, 0o777, b"/sbin/init"),
            ("dev", FileType::Directory, 0o755, b""),
            ("etc", FileType::Directory, 0o755, b""),
            ("etc/motd", FileType::Regular, 0o644, b"hello\n"),
            ("sbin", FileType::Directory, 0o755, b""),
            ("sbin/init", FileType::Regular, 0o755, b"\x7fELF init"),
        ]
    );
    for (i, entry) in list.iter().enumerate() {
        assert_eq!(entry.index, i);
        assert_eq!(entry.ino, i as u32 + 1);
        assert_eq!((entry.uid, entry.gid, entry.mtime), (0, 0, 0));
        assert_eq!(entry.offset % ALIGN, 0);
    }
    assert_eq!(list[1].symlink_target(), Some("/sbin/init"));
    assert_eq!(list[0].nlink, 2);
    assert_eq!(bytes.len() % ALIGN, 0);
    assert_eq!(Archive::new(&bytes).validate(), Ok(7));
}

#[test]
fn output_depends_only_on_the_content_not_the_order_of_adding() {
    let mut other = Builder::new();
    other.symlink("bin/sh", "/sbin/init").unwrap();
    other.dir("dev/", 0o755).unwrap();
    other
        .file("./etc/motd", 0o644, b"hello\n".to_vec())
        .unwrap();
    other
        .file("sbin/init", 0o755, b"\x7fELF init".to_vec())
        .unwrap();
    assert_eq!(other.build(), sample());
}

#[test]
fn later_files_replace_earlier_ones_and_directories_keep_their_children() {
    let mut builder = Builder::new();
    builder.file("/etc/motd", 0o644, b"old".to_vec()).unwrap();
    builder.file("/etc/motd", 0o600, b"new".to_vec()).unwrap();
    builder.dir("/etc", 0o700).unwrap();
    let bytes = builder.build();
    let archive = Archive::new(&bytes);
    let motd = archive.find("/etc/motd").unwrap().unwrap();
    assert_eq!((motd.data, motd.mode.permissions()), (&b"new"[..], 0o600));
    let etc = archive.find("etc").unwrap().unwrap();
    assert_eq!(etc.mode, Mode(0o040_700));
    assert_eq!(archive.find("nothing").unwrap(), None);
}

#[test]
fn builder_refuses_bad_paths_and_type_conflicts_without_changing_anything() {
    let mut builder = Builder::new();
    builder.file("/a/file", 0o644, Vec::new()).unwrap();
    let before = builder.clone();
    let kind = |r: Result<(), WriteError>| r.unwrap_err().kind;
    assert_eq!(kind(builder.dir("/", 0o755)), WriteErrorKind::EmptyPath);
    assert_eq!(kind(builder.dir("./", 0o755)), WriteErrorKind::EmptyPath);
    assert_eq!(
        kind(builder.dir("a//b", 0o755)),
        WriteErrorKind::BadComponent
    );
    assert_eq!(
        kind(builder.dir("a/../b", 0o755)),
        WriteErrorKind::BadComponent
    );
    assert_eq!(
        kind(builder.dir("a/./b", 0o755)),
        WriteErrorKind::BadComponent
    );
    assert_eq!(
        kind(builder.dir("a\0b", 0o755)),
        WriteErrorKind::ContainsNul
    );
    assert_eq!(
        kind(builder.file("a/file/x/y", 0o644, Vec::new())),
        WriteErrorKind::ParentNotDirectory {
            parent: "a/file".to_string()
        }
    );
    assert_eq!(
        kind(builder.file("/a", 0o644, Vec::new())),
        WriteErrorKind::TypeConflict {
            existing: "directory"
        }
    );
    assert_eq!(
        kind(builder.dir("/a/file", 0o755)),
        WriteErrorKind::TypeConflict { existing: "file" }
    );
    assert_eq!(builder, before);
    let message = builder.dir("a/file/x", 0o755).unwrap_err().to_string();
    assert_eq!(
        message,
        "cannot add `a/file/x` to the cpio archive: its parent `/a/file` is already a file or \
         symlink"
    );
}

#[test]
fn an_empty_builder_writes_just_the_trailer() {
    let bytes = Builder::new().build();
    assert_eq!(&bytes[..6], MAGIC_NEWC);
    assert_eq!(bytes.len(), 124);
    assert_eq!(entries(&bytes).unwrap(), []);
}

#[test]
fn hand_written_archives_read_every_field() {
    let mut bytes = raw_entry("./hello.txt", 0o100_640, b"hi!!!");
    bytes.extend(raw_entry(TRAILER, 0, b""));
    bytes.extend([0u8; 512]); // GNU cpio pads to 512-byte blocks; that is ignored.
    let list = entries(&bytes).unwrap();
    assert_eq!(list.len(), 1);
    let entry = list[0];
    assert_eq!(entry.name, "./hello.txt");
    assert_eq!(entry.path(), "hello.txt");
    assert_eq!(entry.data, b"hi!!!");
    assert_eq!(entry.file_type(), FileType::Regular);
    assert_eq!(entry.mode.permissions(), 0o640);
    assert_eq!((entry.ino, entry.uid, entry.gid), (7, 1000, 100));
    assert_eq!(
        (entry.mtime, entry.dev_major, entry.dev_minor),
        (0x5eed, 8, 1)
    );
    assert_eq!(entry.symlink_target(), None);
}

#[test]
fn the_crc_magic_and_upper_case_hex_are_accepted() {
    let mut bytes = raw_entry("x", 0o100_644, b"data");
    bytes[..6].copy_from_slice(MAGIC_CRC);
    set_field(&mut bytes, 0, 102, b"DEADBEEF");
    bytes.extend(raw_entry(TRAILER, 0, b""));
    let entry = entries(&bytes).unwrap()[0];
    assert_eq!(entry.check, 0xdead_beef);
}

#[test]
fn a_trailer_without_its_final_padding_is_accepted() {
    let mut bytes = raw_entry("x", 0o100_644, b"data");
    let trailer = raw_entry(TRAILER, 0, b"");
    bytes.extend(&trailer[..HEADER_LEN + TRAILER.len() + 1]);
    assert_eq!(entries(&bytes).unwrap().len(), 1);
}

#[test]
fn every_truncation_is_an_error_and_never_a_panic() {
    let bytes = sample();
    // The last complete entry ends where the trailer's header starts.
    let trailer_at = bytes.len() - 124;
    for len in 0..trailer_at + HEADER_LEN + TRAILER.len() + 1 {
        let error = error_of(&bytes[..len]);
        assert!(error.offset <= len, "{len}: {error}");
        match error.kind {
            ErrorKind::Truncated { .. } | ErrorKind::MissingTrailer => {}
            other => panic!("truncated at {len}: unexpected {other:?}"),
        }
    }
    let error = error_of(&bytes[..trailer_at]);
    assert_eq!(
        (error.index, error.offset, error.kind),
        (7, trailer_at, ErrorKind::MissingTrailer)
    );
}

#[test]
fn bad_magic_names_the_entry_and_offset() {
    let mut bytes = sample();
    let second = entries(&bytes).unwrap()[1].offset;
    bytes[second..second + 6].copy_from_slice(b"070707");
    let error = error_of(&bytes);
    assert_eq!(error.index, 1);
    assert_eq!(error.offset, second);
    assert_eq!(error.kind, ErrorKind::BadMagic { found: *b"070707" });
    assert_eq!(
        error.to_string(),
        alloc::format!(
            "malformed cpio archive: entry 1 at byte offset {second:#x}: the header starts with \
             \"070707\", not the newc magic \"070701\" (or \"070702\")"
        )
    );
}

#[test]
fn bad_hex_names_the_field() {
    let mut bytes = sample();
    set_field(&mut bytes, 0, 54, b"0000000g");
    let error = error_of(&bytes);
    assert_eq!((error.index, error.offset), (0, 54));
    assert_eq!(
        error.kind,
        ErrorKind::BadHex {
            field: "filesize",
            found: *b"0000000g"
        }
    );
    let mut bytes = sample();
    set_field(&mut bytes, 0, 94, b" 0000004");
    assert!(error_of(&bytes)
        .to_string()
        .contains("header field `namesize` is \" 0000004\", not 8 hexadecimal digits"));
}

#[test]
fn names_must_be_nul_terminated_utf8_without_inner_nul() {
    // "bin" has namesize 4; claiming 3 puts 'n' where the NUL should be.
    let mut bytes = sample();
    set_field(&mut bytes, 0, 94, b"00000003");
    let error = error_of(&bytes);
    assert_eq!(
        (error.offset, error.kind),
        (112, ErrorKind::NameNotTerminated)
    );

    let mut bytes = sample();
    set_field(&mut bytes, 0, 94, b"00000000");
    assert_eq!(error_of(&bytes).kind, ErrorKind::EmptyName);

    let mut bytes = sample();
    bytes[HEADER_LEN + 1] = 0;
    assert_eq!(
        error_of(&bytes).kind,
        ErrorKind::NameContainsNul { position: 1 }
    );

    let mut bytes = sample();
    bytes[HEADER_LEN] = 0xff;
    assert_eq!(error_of(&bytes).kind, ErrorKind::NameNotUtf8);
}

#[test]
fn data_past_the_end_is_truncation() {
    let mut bytes = sample();
    // Entry 1 is the symlink "bin/sh"; make its data run far past the end.
    let offset = entries(&bytes).unwrap()[1].offset;
    set_field(&mut bytes, offset, 54, b"7fffffff");
    let error = error_of(&bytes);
    assert_eq!(error.index, 1);
    assert!(matches!(
        error.kind,
        ErrorKind::Truncated {
            what: "data",
            needed: 0x7fff_ffff,
            ..
        }
    ));
    let mut bytes = sample();
    set_field(&mut bytes, offset, 54, b"ffffffff");
    assert!(matches!(
        error_of(&bytes).kind,
        ErrorKind::Truncated { .. } | ErrorKind::Overflow
    ));
}

#[test]
fn wrong_sizes_show_up_as_non_zero_padding_or_bad_magic() {
    let mut bytes = sample();
    // "bin/sh" -> "/sbin/init" is 10 bytes; 9 leaves 't' where padding must be zero.
    let offset = entries(&bytes).unwrap()[1].offset;
    set_field(&mut bytes, offset, 54, b"00000009");
    assert_eq!(error_of(&bytes).kind, ErrorKind::NonZeroPadding);
}

#[test]
fn missing_trailer_and_empty_input() {
    assert_eq!(
        error_of(&[]),
        Error {
            index: 0,
            offset: 0,
            kind: ErrorKind::MissingTrailer
        }
    );
    let bytes = raw_entry("x", 0o100_644, b"abc");
    let error = error_of(&bytes);
    assert_eq!((error.index, error.kind), (1, ErrorKind::MissingTrailer));
    assert_eq!(
        error.to_string(),
        "malformed cpio archive: entry 1 at byte offset 0x74: the archive ends without a \
         `TRAILER!!!` entry"
    );
}

#[test]
fn the_iterator_stops_after_the_first_error() {
    let mut bytes = sample();
    let offset = entries(&bytes).unwrap()[2].offset;
    bytes[offset] = b'x';
    let mut iter = Archive::new(&bytes).entries();
    assert!(iter.next().unwrap().is_ok());
    assert!(iter.next().unwrap().is_ok());
    assert!(iter.next().unwrap().is_err());
    assert!(iter.next().is_none());
}

#[test]
fn normalize_strips_leading_dot_slash_and_slashes() {
    assert_eq!(normalize("./bin/sh"), "bin/sh");
    assert_eq!(normalize("/bin/sh"), "bin/sh");
    assert_eq!(normalize(".//./bin/sh/"), "bin/sh");
    assert_eq!(normalize("bin"), "bin");
    assert_eq!(normalize("."), "");
    assert_eq!(normalize("./"), "");
    assert_eq!(normalize("/"), "");
    assert_eq!(normalize(""), "");
    assert_eq!(normalize(".hidden"), ".hidden");
    assert_eq!(normalize("a/./b"), "a/./b");
}

#[test]
fn mode_bits_round_trip() {
    for file_type in [
        FileType::Regular,
        FileType::Directory,
        FileType::Symlink,
        FileType::CharDevice,
        FileType::BlockDevice,
        FileType::Fifo,
        FileType::Socket,
    ] {
        let mode = Mode::new(file_type, 0o4755);
        assert_eq!(mode.file_type(), file_type);
        assert_eq!(mode.permissions(), 0o4755);
    }
    assert_eq!(Mode(0o644).file_type(), FileType::Unknown(0));
}

#[test]
fn random_mutations_never_panic() {
    let mut rng = XorShift::new(0x9e37_79b9_7f4a_7c15);
    let original = sample();
    // Bytes that are likely to make a header almost valid.
    let interesting = b"0123456789abcdefABCDEFgxyz\0\xff/.";
    for round in 0..20_000 {
        let mut bytes = original.clone();
        for _ in 0..1 + rng.index(4) {
            match rng.index(4) {
                0 => {
                    let at = rng.index(bytes.len());
                    bytes[at] = rng.next_u64() as u8;
                }
                1 => {
                    let at = rng.index(bytes.len());
                    bytes[at] = interesting[rng.index(interesting.len())];
                }
                2 => {
                    let len = rng.index(bytes.len() + 1);
                    bytes.truncate(len);
                }
                _ => {
                    // A random hex field of a random entry set to a random value.
                    let at = rng.index(bytes.len().max(1));
                    let digits = alloc::format!("{:08x}", rng.next_u64() as u32 >> rng.index(32));
                    for (i, d) in digits.bytes().enumerate() {
                        if let Some(b) = bytes.get_mut(at + i) {
                            *b = d;
                        }
                    }
                }
            }
            if bytes.is_empty() {
                break;
            }
        }
        let archive = Archive::new(&bytes);
        let mut count = 0;
        for entry in archive.entries() {
            match entry {
                Ok(entry) => {
                    assert!(entry.offset < bytes.len());
                    let _ = (entry.path(), entry.file_type(), entry.symlink_target());
                    count += 1;
                }
                Err(error) => {
                    assert!(error.offset <= bytes.len(), "round {round}: {error}");
                    let _ = error.to_string();
                }
            }
            assert!(count <= bytes.len() / HEADER_LEN, "round {round}");
        }
        let _ = archive.find("sbin/init");
    }
}

/// If GNU cpio is installed, it must list our archive and we must read its archive the same way.
#[test]
fn gnu_cpio_agrees_if_installed() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let Ok(mut child) = Command::new("cpio")
        .args(["-i", "-t", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        return; // Not installed: nothing to compare with.
    };
    let bytes = sample();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    let ours: Vec<String> = entries(&bytes)
        .unwrap()
        .iter()
        .map(|e| e.name.to_string())
        .collect();
    assert_eq!(listed, ours);

    // The other direction: GNU cpio writes an archive of this crate's sources; we read it back.
    let dir = env!("CARGO_MANIFEST_DIR");
    let mut child = Command::new("cpio")
        .args(["-o", "-H", "newc", "--quiet"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Cargo.toml\nsrc\nsrc/lib.rs\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let archive = Archive::new(&out.stdout);
    let lib = archive.find("src/lib.rs").unwrap().unwrap();
    assert_eq!(
        lib.data,
        std::fs::read(std::path::Path::new(dir).join("src/lib.rs")).unwrap()
    );
    assert_eq!(
        archive.find("src").unwrap().unwrap().file_type(),
        FileType::Directory
    );
}
