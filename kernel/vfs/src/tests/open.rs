//! `open` flag semantics and open-file operations.

use keel_abi::types::{
    DirEntry, FileKind, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NONBLOCK, O_RDONLY, O_RDWR,
    O_TRUNC, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET,
};
use keel_abi::Errno;

use super::world;
use crate::open;

#[test]
fn create_excl_trunc_directory() {
    let w = world();
    let v = &w.vfs;
    assert_eq!(open(v, "/", "/tmp/f", O_RDWR, 0).err(), Some(Errno::ENOENT));
    let f = open(v, "/", "/tmp/f", O_RDWR | O_CREAT, 0o640).unwrap();
    assert_eq!(f.stat().mode, 0o640);
    assert_eq!(f.write(b"hello").unwrap(), 5);
    assert_eq!(
        open(v, "/", "/tmp/f", O_RDWR | O_CREAT | O_EXCL, 0).err(),
        Some(Errno::EEXIST)
    );
    assert_eq!(
        open(v, "/", "/etc/motd", O_RDONLY | O_CREAT | O_EXCL, 0).err(),
        Some(Errno::EEXIST)
    );
    // O_CREAT without O_EXCL opens the existing file and keeps its data.
    let g = open(v, "/tmp", "f", O_RDONLY | O_CREAT, 0).unwrap();
    assert_eq!(g.stat().size, 5);
    // O_TRUNC empties it (with write access).
    let h = open(v, "/", "/tmp/f", O_WRONLY | O_TRUNC, 0).unwrap();
    assert_eq!(h.stat().size, 0);
    assert_eq!(w.tmp.usage(), 0);
    assert_eq!(
        open(v, "/", "/tmp/new/", O_WRONLY | O_CREAT, 0).err(),
        Some(Errno::EISDIR)
    );
    assert_eq!(
        open(v, "/", "/tmp/nodir/x", O_WRONLY | O_CREAT, 0).err(),
        Some(Errno::ENOENT)
    );
    assert_eq!(
        open(v, "/", "/bin/new", O_WRONLY | O_CREAT, 0).err(),
        Some(Errno::EROFS)
    );
    assert_eq!(
        open(v, "/", "/tmp/f", O_RDONLY | O_DIRECTORY, 0).err(),
        Some(Errno::ENOTDIR)
    );
    assert_eq!(
        open(v, "/", "/tmp/nd", O_RDONLY | O_DIRECTORY | O_CREAT, 0).err(),
        Some(Errno::EINVAL)
    );
    assert!(open(v, "/", "/tmp", O_RDONLY | O_DIRECTORY, 0).is_ok());
    for flags in [O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC, O_RDONLY | O_CREAT] {
        assert_eq!(open(v, "/", "/tmp", flags, 0).err(), Some(Errno::EISDIR));
    }
    assert_eq!(open(v, "/", "/tmp/f", 3, 0).err(), Some(Errno::EINVAL));
    assert_eq!(
        open(v, "/", "/tmp/f/", O_RDONLY, 0).err(),
        Some(Errno::ENOTDIR)
    );
    let nb = open(v, "/", "/tmp/f", O_RDONLY | O_NONBLOCK, 0).unwrap();
    assert!(nb.is_nonblocking());
    assert!(!g.is_nonblocking());
    assert_eq!(nb.wait_key(), None);
}

#[test]
fn access_modes() {
    let w = world();
    let v = &w.vfs;
    let wo = open(v, "/", "/tmp/f", O_WRONLY | O_CREAT, 0o644).unwrap();
    let ro = open(v, "/", "/tmp/f", O_RDONLY, 0).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(wo.read(&mut buf).unwrap_err(), Errno::EBADF);
    assert_eq!(ro.write(b"x").unwrap_err(), Errno::EBADF);
    assert_eq!(ro.truncate(0).unwrap_err(), Errno::EBADF);
    wo.write(b"abcd").unwrap();
    assert_eq!(ro.read(&mut buf).unwrap(), 4);
    assert_eq!(&buf, b"abcd");
    wo.truncate(1).unwrap();
    assert_eq!(ro.stat().size, 1);
    let dir = open(v, "/", "/tmp", O_RDONLY, 0).unwrap();
    assert_eq!(dir.read(&mut buf).unwrap_err(), Errno::EISDIR);
    assert_eq!(ro.readdir().unwrap_err(), Errno::ENOTDIR);
}

#[test]
fn seek_and_append() {
    let w = world();
    let v = &w.vfs;
    let f = open(v, "/", "/tmp/f", O_RDWR | O_CREAT, 0o644).unwrap();
    f.write(b"0123456789").unwrap();
    assert_eq!(f.seek(2, SEEK_SET).unwrap(), 2);
    assert_eq!(f.seek(3, SEEK_CUR).unwrap(), 5);
    assert_eq!(f.seek(-1, SEEK_END).unwrap(), 9);
    let mut buf = [0u8; 4];
    assert_eq!(f.read(&mut buf).unwrap(), 1);
    assert_eq!(buf[0], b'9');
    assert_eq!(f.seek(-11, SEEK_END).unwrap_err(), Errno::EINVAL);
    assert_eq!(f.seek(-1, SEEK_SET).unwrap_err(), Errno::EINVAL);
    assert_eq!(f.seek(0, 3).unwrap_err(), Errno::EINVAL);
    assert_eq!(f.seek(i64::MAX, SEEK_SET).unwrap(), i64::MAX as u64);
    assert_eq!(f.seek(1, SEEK_CUR).unwrap_err(), Errno::EINVAL);
    assert_eq!(f.offset(), i64::MAX as u64);
    assert_eq!(f.read(&mut buf).unwrap(), 0);
    assert_eq!(f.write(b"x").unwrap_err(), Errno::ENOSPC);
    // Seeking past the end and writing leaves a hole of zeros.
    f.seek(12, SEEK_SET).unwrap();
    f.write(b"!").unwrap();
    assert_eq!(f.stat().size, 13);
    let a = open(v, "/", "/tmp/f", O_WRONLY | O_APPEND, 0).unwrap();
    a.seek(0, SEEK_SET).unwrap();
    a.write(b"END").unwrap();
    assert_eq!(a.offset(), 16);
    let mut all = [0u8; 32];
    f.seek(0, SEEK_SET).unwrap();
    let n = f.read(&mut all).unwrap();
    assert_eq!(&all[..n], b"0123456789\0\0!END");
}

#[test]
fn readdir_through_open_files() {
    let w = world();
    let v = &w.vfs;
    for name in ["c", "a", "b"] {
        open(v, "/tmp", name, O_WRONLY | O_CREAT, 0o644).unwrap();
    }
    v.mkdir("/", "/tmp/d", 0o755).unwrap();
    let dir = open(v, "/", "/tmp", O_RDONLY | O_DIRECTORY, 0).unwrap();
    let mut out = [DirEntry::default(); 3];
    assert_eq!(dir.readdir_into(&mut out).unwrap(), 3);
    let names: Vec<_> = out.iter().map(|e| e.name().to_vec()).collect();
    assert_eq!(names, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    let last = dir.readdir().unwrap().unwrap();
    assert_eq!((last.name.as_str(), last.kind), ("d", FileKind::Dir));
    assert_eq!(dir.readdir_into(&mut out).unwrap(), 0);
    assert_eq!(dir.seek(0, SEEK_SET).unwrap(), 0);
    assert_eq!(dir.readdir().unwrap().unwrap().name, "a");
    dir.seek(i64::MAX, SEEK_SET).unwrap();
    assert_eq!(dir.readdir().unwrap(), None);
    let root = open(v, "/", "/", O_RDONLY, 0).unwrap();
    let mut names = Vec::new();
    while let Some(e) = root.readdir().unwrap() {
        names.push(e.name);
    }
    assert_eq!(names, ["bin", "dev", "etc", "home", "tmp"]);
}
