//! The read-only tree.

use keel_abi::types::{FileKind, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY};
use keel_abi::Errno;

use super::{entry, names, world};
use crate::{open, rofs, RoEntry};

#[test]
fn implicit_dirs_and_stable_order() {
    let root = rofs::build(&[
        entry("./usr/share/b", FileKind::File, b"b"),
        entry("/usr/share/a", FileKind::File, b"a"),
        entry("usr//bin/zz", FileKind::File, b""),
        RoEntry {
            path: "usr",
            kind: FileKind::Dir,
            mode: 0o700,
            data: b"",
        },
        entry(".", FileKind::Dir, b""),
    ])
    .unwrap();
    assert_eq!(names(&*root), ["usr"]);
    let usr = root.lookup("usr").unwrap();
    assert_eq!(usr.stat().mode, 0o700);
    assert_eq!(names(&*usr), ["bin", "share"]);
    let share = usr.lookup("share").unwrap();
    assert_eq!(share.stat().mode, 0o755);
    assert_eq!(names(&*share), ["a", "b"]);
    assert_eq!(names(&*share), ["a", "b"]);
    let entry_b = share.readdir(1).unwrap().unwrap();
    assert_eq!(entry_b.kind, FileKind::File);
    assert_eq!(entry_b.ino, share.lookup("b").unwrap().stat().ino);
    assert_eq!(share.readdir(2).unwrap(), None);
    assert_eq!(share.readdir(usize::MAX).unwrap(), None);
    // Inode numbers are unique.
    let inos = [
        root.stat().ino,
        usr.stat().ino,
        share.stat().ino,
        share.lookup("a").unwrap().stat().ino,
        entry_b.ino,
    ];
    let mut sorted = inos.to_vec();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), inos.len());
}

#[test]
fn build_errors() {
    fn f(path: &str) -> RoEntry<'_> {
        RoEntry {
            path,
            kind: FileKind::File,
            mode: 0o644,
            data: b"x",
        }
    }
    assert_eq!(rofs::build(&[f("a"), f("a")]).err(), Some(Errno::EEXIST));
    assert_eq!(rofs::build(&[f("a"), f("a/b")]).err(), Some(Errno::ENOTDIR));
    assert_eq!(rofs::build(&[f("a/../b")]).err(), Some(Errno::EINVAL));
    assert_eq!(rofs::build(&[f(".")]).err(), Some(Errno::EINVAL));
    let long = "x".repeat(200);
    assert_eq!(rofs::build(&[f(&long)]).err(), Some(Errno::ENAMETOOLONG));
    let dir = entry("a", FileKind::Dir, b"");
    assert!(rofs::build(&[dir, dir]).is_ok());
    assert!(rofs::build(&[]).is_ok());
}

#[test]
fn reads_zero_copy_and_refuses_writes() {
    static DATA: &[u8] = b"0123456789";
    let root = rofs::build(&[entry("f", FileKind::File, DATA)]).unwrap();
    let f = root.lookup("f").unwrap();
    assert_eq!(f.static_bytes().unwrap().as_ptr(), DATA.as_ptr());
    let mut buf = [0u8; 4];
    assert_eq!(f.read_at(8, &mut buf).unwrap(), 2);
    assert_eq!(&buf[..2], b"89");
    assert_eq!(f.read_at(10, &mut buf).unwrap(), 0);
    assert_eq!(f.read_at(u64::MAX, &mut buf).unwrap(), 0);
    assert_eq!(f.stat().size, 10);
    assert_eq!(f.write_at(0, b"x").unwrap_err(), Errno::EROFS);
    assert_eq!(f.truncate(0).unwrap_err(), Errno::EROFS);
    assert_eq!(f.lookup("x").unwrap_err(), Errno::ENOTDIR);
    assert_eq!(f.readdir(0).unwrap_err(), Errno::ENOTDIR);
    assert_eq!(
        root.create("g", FileKind::File, 0).unwrap_err(),
        Errno::EROFS
    );
    assert_eq!(root.unlink("f").unwrap_err(), Errno::EROFS);
    assert_eq!(root.read_at(0, &mut buf).unwrap_err(), Errno::EISDIR);
    assert_eq!(root.write_at(0, b"x").unwrap_err(), Errno::EISDIR);
    assert_eq!(root.lookup("nope").unwrap_err(), Errno::ENOENT);

    let w = world();
    for flags in [O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC] {
        assert_eq!(
            open(&w.vfs, "/", "/etc/motd", flags, 0).err(),
            Some(Errno::EROFS)
        );
    }
    let file = open(&w.vfs, "/", "/etc/motd", O_RDONLY, 0).unwrap();
    let mut buf = [0u8; 64];
    let n = file.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"welcome to keel\n");
    assert_eq!(file.read(&mut buf).unwrap(), 0);
}
