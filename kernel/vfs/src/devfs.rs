//! The device directory: entries the kernel registers and removes at run time, plus the
//! ready-made [`NullDev`] (`/dev/null`) and [`ZeroDev`] (`/dev/zero`).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use keel_abi::types::{FileKind, Stat};
use keel_abi::Errno;

use crate::node::{check_name, make_stat, next_dev, DirEntryInfo, Node};

/// Device number (`major << 20 | minor`) of `/dev/null`, as on Linux.
pub const NULL_RDEV: u64 = 1 << 20 | 3;
/// Device number of `/dev/zero`, as on Linux.
pub const ZERO_RDEV: u64 = 1 << 20 | 5;

/// A directory of device nodes. Mount it (it is a [`Node`]) and keep the `Arc` to register
/// devices. User programs cannot create or remove entries (`EPERM`).
pub struct DevFs {
    dev: u64,
    entries: spin::RwLock<BTreeMap<String, Arc<dyn Node>>>,
}

impl DevFs {
    /// An empty device directory.
    pub fn new() -> Arc<DevFs> {
        Arc::new(DevFs {
            dev: next_dev(),
            entries: spin::RwLock::new(BTreeMap::new()),
        })
    }

    /// Adds `node` as `name`. Errors: `EEXIST` if the name is taken; `EINVAL` or
    /// `ENAMETOOLONG` for a name that cannot be a directory entry.
    pub fn register(&self, name: &str, node: Arc<dyn Node>) -> Result<(), Errno> {
        check_name(name)?;
        let mut entries = self.entries.write();
        if entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        entries.insert(String::from(name), node);
        Ok(())
    }

    /// Removes `name` and returns its node (`ENOENT` if absent). Files already open on it keep
    /// their reference; the device decides what they get from then on.
    pub fn unregister(&self, name: &str) -> Result<Arc<dyn Node>, Errno> {
        self.entries.write().remove(name).ok_or(Errno::ENOENT)
    }

    /// Number of registered entries.
    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.read().is_empty()
    }
}

impl Node for DevFs {
    fn kind(&self) -> FileKind {
        FileKind::Dir
    }

    fn stat(&self) -> Stat {
        make_stat(FileKind::Dir, 0o755, self.len() as u64, 1, self.dev)
    }

    fn lookup(&self, name: &str) -> Result<Arc<dyn Node>, Errno> {
        self.entries.read().get(name).cloned().ok_or(Errno::ENOENT)
    }

    fn create(&self, _name: &str, _kind: FileKind, _mode: u32) -> Result<Arc<dyn Node>, Errno> {
        Err(Errno::EPERM)
    }

    fn unlink(&self, _name: &str) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }

    fn readdir(&self, index: usize) -> Result<Option<DirEntryInfo>, Errno> {
        // Copy the entry out first: a device's `stat` must not run under the table's lock.
        let found = self
            .entries
            .read()
            .iter()
            .nth(index)
            .map(|(name, node)| (name.clone(), node.clone()));
        Ok(found.map(|(name, node)| DirEntryInfo {
            ino: node.stat().ino,
            kind: node.kind(),
            name,
        }))
    }
}

/// Inode numbers for the ready-made devices.
fn next_device_ino() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(2);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `/dev/null`: reads give end of file, writes are swallowed whole.
pub struct NullDev {
    ino: u64,
}

impl NullDev {
    /// A new null device.
    pub fn new() -> Arc<NullDev> {
        Arc::new(NullDev {
            ino: next_device_ino(),
        })
    }
}

impl Node for NullDev {
    fn kind(&self) -> FileKind {
        FileKind::CharDev
    }

    fn stat(&self) -> Stat {
        Stat {
            rdev: NULL_RDEV,
            ..make_stat(FileKind::CharDev, 0o666, 0, self.ino, 0)
        }
    }

    fn read_at(&self, _offset: u64, _buf: &mut [u8]) -> Result<usize, Errno> {
        Ok(0)
    }

    fn write_at(&self, _offset: u64, buf: &[u8]) -> Result<usize, Errno> {
        Ok(buf.len())
    }

    fn discards_writes(&self) -> bool {
        true
    }
}

/// `/dev/zero`: reads fill the buffer with zeros, writes are swallowed whole.
pub struct ZeroDev {
    ino: u64,
}

impl ZeroDev {
    /// A new zero device.
    pub fn new() -> Arc<ZeroDev> {
        Arc::new(ZeroDev {
            ino: next_device_ino(),
        })
    }
}

impl Node for ZeroDev {
    fn kind(&self) -> FileKind {
        FileKind::CharDev
    }

    fn stat(&self) -> Stat {
        Stat {
            rdev: ZERO_RDEV,
            ..make_stat(FileKind::CharDev, 0o666, 0, self.ino, 0)
        }
    }

    fn read_at(&self, _offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        buf.fill(0);
        Ok(buf.len())
    }

    fn write_at(&self, _offset: u64, buf: &[u8]) -> Result<usize, Errno> {
        Ok(buf.len())
    }

    fn discards_writes(&self) -> bool {
        true
    }
}
