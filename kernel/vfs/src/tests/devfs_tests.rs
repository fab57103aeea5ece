//! The device directory and the null and zero devices.

use keel_abi::types::{FileKind, O_RDONLY, O_RDWR, SEEK_SET};
use keel_abi::Errno;

use super::{names, world};
use crate::devfs::{NULL_RDEV, ZERO_RDEV};
use crate::{open, DevFs, Node, NullDev, ZeroDev};

#[test]
fn register_and_unregister() {
    let dev = DevFs::new();
    assert!(dev.is_empty());
    dev.register("null", NullDev::new()).unwrap();
    dev.register("zero", ZeroDev::new()).unwrap();
    assert_eq!(
        dev.register("null", ZeroDev::new()).unwrap_err(),
        Errno::EEXIST
    );
    assert_eq!(dev.register("", ZeroDev::new()).unwrap_err(), Errno::EINVAL);
    assert_eq!(
        dev.register("a/b", ZeroDev::new()).unwrap_err(),
        Errno::EINVAL
    );
    assert_eq!(names(&*dev), ["null", "zero"]);
    let e = dev.readdir(1).unwrap().unwrap();
    assert_eq!(e.kind, FileKind::CharDev);
    assert_eq!(e.ino, dev.lookup("zero").unwrap().stat().ino);
    assert_eq!(dev.lookup("zero").unwrap().stat().rdev, ZERO_RDEV);
    assert_eq!(dev.lookup("null").unwrap().stat().rdev, NULL_RDEV);
    dev.unregister("null").unwrap();
    assert_eq!(dev.unregister("null").unwrap_err(), Errno::ENOENT);
    assert_eq!(dev.lookup("null").unwrap_err(), Errno::ENOENT);
    assert_eq!(dev.len(), 1);
    assert_eq!(
        dev.create("x", FileKind::File, 0).unwrap_err(),
        Errno::EPERM
    );
    assert_eq!(dev.unlink("zero").unwrap_err(), Errno::EPERM);
}

#[test]
fn null_and_zero_through_open_files() {
    let w = world();
    let null = open(&w.vfs, "/", "/dev/null", O_RDWR, 0).unwrap();
    let mut buf = [1u8; 8];
    assert_eq!(null.read(&mut buf).unwrap(), 0);
    assert_eq!(null.write(b"discard me").unwrap(), 10);
    assert_eq!(null.seek(0, SEEK_SET).unwrap_err(), Errno::ESPIPE);
    assert_eq!(null.ioctl(1, 2).unwrap_err(), Errno::ENOTTY);
    let zero = open(&w.vfs, "/dev", "zero", O_RDWR, 0).unwrap();
    assert_eq!(zero.read(&mut buf).unwrap(), 8);
    assert_eq!(buf, [0; 8]);
    assert_eq!(zero.write(b"abc").unwrap(), 3);
    // Both discard what is written (the kernel copies nothing for them); other nodes do not.
    assert_eq!(null.discards_writes(), Ok(true));
    assert_eq!(zero.discards_writes(), Ok(true));
    let read_only = open(&w.vfs, "/", "/dev/null", O_RDONLY, 0).unwrap();
    assert_eq!(read_only.discards_writes(), Err(Errno::EBADF));
    let (_, pipe_writer) = crate::pipe_files(16).unwrap();
    assert_eq!(pipe_writer.discards_writes(), Ok(false));
    // Devices registered after mounting show up at once.
    w.dev.register("null2", NullDev::new()).unwrap();
    assert!(w.vfs.resolve("/", "/dev/null2").is_ok());
    w.dev.unregister("null2").unwrap();
    assert_eq!(
        w.vfs.resolve("/", "/dev/null2").err().map(|e| e.0),
        Some(Errno::ENOENT.0)
    );
}

/// A device that counts opens and releases through the hooks.
struct Counted {
    opens: std::sync::atomic::AtomicUsize,
}

impl Node for Counted {
    fn kind(&self) -> FileKind {
        FileKind::CharDev
    }
    fn stat(&self) -> keel_abi::types::Stat {
        keel_abi::types::Stat::default()
    }
    fn open(&self, _file: crate::file::FileId, _flags: u64) -> Result<(), Errno> {
        self.opens.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
    fn release(&self, _file: crate::file::FileId, _flags: u64) {
        self.opens.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn open_and_release_hooks() {
    let w = world();
    let dev = std::sync::Arc::new(Counted { opens: 0.into() });
    w.dev.register("counted", dev.clone()).unwrap();
    let count = || dev.opens.load(std::sync::atomic::Ordering::SeqCst);
    let a = open(&w.vfs, "/", "/dev/counted", O_RDWR, 0).unwrap();
    let b = open(&w.vfs, "/", "/dev/counted", O_RDWR, 0).unwrap();
    assert_eq!(count(), 2);
    let mut table = crate::FdTable::new();
    let fd = table.insert(a).unwrap();
    table.dup2(fd, 10).unwrap();
    table.close(fd).unwrap();
    assert_eq!(count(), 2);
    table.close(10).unwrap();
    assert_eq!(count(), 1);
    drop(b);
    assert_eq!(count(), 0);
    // Defaults for a device that implements almost nothing.
    assert_eq!(dev.read_at(0, &mut [0; 1]).unwrap_err(), Errno::EINVAL);
    assert_eq!(dev.write_at(0, b"x").unwrap_err(), Errno::EINVAL);
    assert_eq!(dev.lookup("x").unwrap_err(), Errno::ENOTDIR);
    assert_eq!(dev.readdir(0).unwrap_err(), Errno::ENOTDIR);
    assert!(!dev.is_seekable());
    assert_eq!(dev.wait_key(), None);
}
