//! Descriptor tables.

use keel_abi::types::{O_RDONLY, O_RDWR, SEEK_CUR};
use keel_abi::Errno;

use super::world;
use crate::{open, FdTable, MAX_FDS};

#[test]
fn lowest_free_close_and_limits() {
    let w = world();
    let mut t = FdTable::default();
    let file = || open(&w.vfs, "/", "/etc/motd", O_RDONLY, 0).unwrap();
    assert_eq!(t.insert(file()).unwrap(), 0);
    assert_eq!(t.insert(file()).unwrap(), 1);
    assert_eq!(t.insert(file()).unwrap(), 2);
    t.close(1).unwrap();
    assert_eq!(t.close(1).unwrap_err(), Errno::EBADF);
    assert_eq!(t.insert(file()).unwrap(), 1);
    for expected in 3..MAX_FDS as i32 {
        assert_eq!(t.insert(file()).unwrap(), expected);
    }
    assert_eq!(t.count(), MAX_FDS);
    assert_eq!(t.insert(file()).unwrap_err(), Errno::EMFILE);
    assert_eq!(t.dup(0).unwrap_err(), Errno::EMFILE);
    for bad in [-1, MAX_FDS as i32, i32::MAX, i32::MIN] {
        assert_eq!(t.get(bad).err(), Some(Errno::EBADF));
        assert_eq!(t.close(bad).unwrap_err(), Errno::EBADF);
        assert_eq!(t.dup2(0, bad).unwrap_err(), Errno::EBADF);
        assert_eq!(t.dup2(bad, 0).unwrap_err(), Errno::EBADF);
    }
    t.close(5).unwrap();
    assert_eq!(t.open_fds().len(), MAX_FDS - 1);
    assert!(!t.open_fds().contains(&5));
    t.close_all();
    assert_eq!(t.count(), 0);
    assert_eq!(t.get(0).err(), Some(Errno::EBADF));
}

#[test]
fn dup2_shares_the_offset() {
    let w = world();
    let mut t = FdTable::new();
    let fd = t
        .insert(open(&w.vfs, "/", "/etc/motd", O_RDONLY, 0).unwrap())
        .unwrap();
    let other = t
        .insert(open(&w.vfs, "/", "/etc/motd", O_RDONLY, 0).unwrap())
        .unwrap();
    assert_eq!(t.dup2(fd, 7).unwrap(), 7);
    assert_eq!(t.dup2(fd, fd).unwrap(), fd);
    let mut buf = [0u8; 4];
    t.get(fd).unwrap().read(&mut buf).unwrap();
    assert_eq!(t.get(7).unwrap().seek(0, SEEK_CUR).unwrap(), 4);
    assert_eq!(t.get(other).unwrap().offset(), 0);
    // dup2 onto an open descriptor replaces it.
    t.dup2(7, other).unwrap();
    assert_eq!(t.get(other).unwrap().offset(), 4);
    assert_eq!(t.dup(fd).unwrap(), 2);
    t.get(2).unwrap().read(&mut buf).unwrap();
    assert_eq!(t.get(fd).unwrap().offset(), 8);
    assert_eq!(t.dup2(20, 3).unwrap_err(), Errno::EBADF);
}

#[test]
fn clone_for_spawn() {
    let w = world();
    let mut t = FdTable::new();
    let a = t
        .insert(open(&w.vfs, "/", "/dev/null", O_RDWR, 0).unwrap())
        .unwrap();
    let b = t
        .insert(open(&w.vfs, "/", "/etc/motd", O_RDONLY, 0).unwrap())
        .unwrap();
    t.dup2(b, 9).unwrap();
    let child = t.clone_for_spawn(&[9, a, -1]).unwrap();
    assert_eq!(child.open_fds(), [0, 1]);
    let mut buf = [0u8; 3];
    child.get(0).unwrap().read(&mut buf).unwrap();
    assert_eq!(t.get(b).unwrap().offset(), 3);
    assert_eq!(t.clone_for_spawn(&[0, 5, -1]).err(), Some(Errno::EBADF));
    assert_eq!(t.clone_for_spawn(&[-2, -1, -1]).err(), Some(Errno::EBADF));
    assert_eq!(t.clone_for_spawn(&[-1, -1, -1]).unwrap().count(), 0);
}
