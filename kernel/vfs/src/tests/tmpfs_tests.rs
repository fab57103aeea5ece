//! The RAM file system.

use keel_abi::types::FileKind;
use keel_abi::Errno;

use super::names;
use crate::TmpFs;

#[test]
fn files_read_write_truncate() {
    let fs = TmpFs::new(1000);
    let root = fs.root();
    let f = root.create("f", FileKind::File, 0o644).unwrap();
    assert_eq!(f.write_at(0, b"hello").unwrap(), 5);
    assert_eq!(fs.usage(), 5);
    // Past the end: the gap reads as zeros.
    assert_eq!(f.write_at(8, b"!").unwrap(), 1);
    assert_eq!(f.stat().size, 9);
    assert_eq!(fs.usage(), 9);
    let mut buf = [0xffu8; 16];
    assert_eq!(f.read_at(0, &mut buf).unwrap(), 9);
    assert_eq!(&buf[..9], b"hello\0\0\0!");
    assert_eq!(f.read_at(3, &mut buf[..2]).unwrap(), 2);
    assert_eq!(&buf[..2], b"lo");
    assert_eq!(f.read_at(100, &mut buf).unwrap(), 0);
    assert_eq!(f.read_at(u64::MAX, &mut buf).unwrap(), 0);
    // Overwrite in place.
    assert_eq!(f.write_at(1, b"EL").unwrap(), 2);
    assert_eq!(fs.usage(), 9);
    f.truncate(2).unwrap();
    assert_eq!(fs.usage(), 2);
    f.truncate(4).unwrap();
    assert_eq!(f.read_at(0, &mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"hE\0\0");
    assert_eq!(f.write_at(0, b"").unwrap(), 0);
    assert_eq!(f.write_at(u64::MAX, b"x").unwrap_err(), Errno::EFBIG);
    assert_eq!(f.write_at(1 << 40, b"x").unwrap_err(), Errno::ENOSPC);
    assert_eq!(f.truncate(1 << 40).unwrap_err(), Errno::ENOSPC);
    assert_eq!(f.lookup("x").unwrap_err(), Errno::ENOTDIR);
    assert_eq!(
        f.create("x", FileKind::File, 0).unwrap_err(),
        Errno::ENOTDIR
    );
    assert_eq!(f.unlink("x").unwrap_err(), Errno::ENOTDIR);
    assert_eq!(f.readdir(0).unwrap_err(), Errno::ENOTDIR);
    let st = f.stat();
    assert_eq!(
        (st.kind, st.mode, st.size),
        (FileKind::File as u32, 0o644, 4)
    );
    assert_ne!(st.ino, root.stat().ino);
    assert_eq!(st.dev, root.stat().dev);
    drop(f);
    root.unlink("f").unwrap();
    assert_eq!(fs.usage(), 0);
}

#[test]
fn directories() {
    let fs = TmpFs::new(1000);
    let root = fs.root();
    let d = root.create("d", FileKind::Dir, 0o755).unwrap();
    d.create("x", FileKind::File, 0o644).unwrap();
    d.create("a", FileKind::Dir, 0o755).unwrap();
    assert_eq!(names(&*d), ["a", "x"]);
    assert_eq!(d.stat().size, 2);
    assert_eq!(
        root.create("d", FileKind::File, 0).unwrap_err(),
        Errno::EEXIST
    );
    assert_eq!(root.unlink("d").unwrap_err(), Errno::ENOTEMPTY);
    assert_eq!(root.unlink("nope").unwrap_err(), Errno::ENOENT);
    for bad in ["", ".", "..", "a/b", "a\0"] {
        assert_eq!(
            root.create(bad, FileKind::File, 0).unwrap_err(),
            Errno::EINVAL
        );
    }
    assert_eq!(
        root.create(&"n".repeat(113), FileKind::File, 0)
            .unwrap_err(),
        Errno::ENAMETOOLONG
    );
    assert_eq!(
        root.create("p", FileKind::Pipe, 0).unwrap_err(),
        Errno::EPERM
    );
    assert_eq!(root.unlink(".").unwrap_err(), Errno::EINVAL);
    assert_eq!(d.read_at(0, &mut [0; 4]).unwrap_err(), Errno::EISDIR);
    assert_eq!(d.write_at(0, b"x").unwrap_err(), Errno::EISDIR);
    assert_eq!(d.truncate(0).unwrap_err(), Errno::EISDIR);
    d.unlink("x").unwrap();
    d.unlink("a").unwrap();
    root.unlink("d").unwrap();
    // A removed directory accepts no new entries.
    assert_eq!(
        d.create("late", FileKind::File, 0).unwrap_err(),
        Errno::ENOENT
    );
    assert_eq!(names(&*root), Vec::<String>::new());
}

#[test]
fn space_limit() {
    let fs = TmpFs::new(10);
    let root = fs.root();
    let a = root.create("a", FileKind::File, 0o644).unwrap();
    let b = root.create("b", FileKind::File, 0o644).unwrap();
    assert_eq!(a.write_at(0, b"123456").unwrap(), 6);
    // Only 4 bytes fit: a short write, then ENOSPC.
    assert_eq!(b.write_at(0, b"abcdefgh").unwrap(), 4);
    assert_eq!(fs.usage(), 10);
    assert_eq!(b.write_at(4, b"x").unwrap_err(), Errno::ENOSPC);
    // Writing inside the file still works when full.
    assert_eq!(b.write_at(2, b"XYZ").unwrap(), 2);
    assert_eq!(b.truncate(5).unwrap_err(), Errno::ENOSPC);
    assert_eq!(fs.usage(), 10);
    a.truncate(0).unwrap();
    assert_eq!(fs.usage(), 4);
    // A zero-fill past the end counts too.
    assert_eq!(a.write_at(5, b"z").unwrap(), 1);
    assert_eq!(fs.usage(), 10);
    assert_eq!(a.write_at(20, b"z").unwrap_err(), Errno::ENOSPC);
    // An unlinked file keeps its bytes until its last reference goes.
    root.unlink("a").unwrap();
    assert_eq!(fs.usage(), 10);
    drop(a);
    assert_eq!(fs.usage(), 4);
    root.unlink("b").unwrap();
    drop(b);
    assert_eq!(fs.usage(), 0);
    assert_eq!(fs.limit(), 10);
}

#[test]
fn usage_returns_to_zero_for_a_whole_tree() {
    let fs = TmpFs::new(1 << 20);
    {
        let root = fs.root();
        let d = root.create("d", FileKind::Dir, 0o755).unwrap();
        let e = d.create("e", FileKind::Dir, 0o755).unwrap();
        for (i, dir) in [&root, &d, &e].into_iter().enumerate() {
            let f = dir.create("f", FileKind::File, 0o644).unwrap();
            f.write_at(0, &vec![7u8; 100 * (i + 1)]).unwrap();
        }
        assert_eq!(fs.usage(), 600);
        assert_eq!(root.unlink("d").unwrap_err(), Errno::ENOTEMPTY);
        e.unlink("f").unwrap();
        d.unlink("e").unwrap();
        d.unlink("f").unwrap();
        root.unlink("d").unwrap();
        root.unlink("f").unwrap();
    }
    assert_eq!(fs.usage(), 0);
}

#[test]
fn dropping_a_deep_tree_does_not_recurse() {
    let fs = TmpFs::new(1 << 20);
    let mut keep = None;
    let mut dir = fs.root();
    for depth in 0..50_000 {
        let f = dir.create("f", FileKind::File, 0o644).unwrap();
        f.write_at(0, b"x").unwrap();
        dir = dir.create("d", FileKind::Dir, 0o755).unwrap();
        if depth == 10 {
            // Held elsewhere (an open file): survives the tear-down.
            keep = Some(f);
        }
    }
    drop(dir);
    assert_eq!(fs.usage(), 50_000);
    // A recursive drop of 100 000 nodes would overflow the test thread's stack.
    drop(fs);
    let mut buf = [0u8; 2];
    assert_eq!(keep.unwrap().read_at(0, &mut buf).unwrap(), 1);
}
