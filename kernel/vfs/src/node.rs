//! The [`Node`] trait every file-system object implements, directory entries, and the wake-up
//! hook through which nodes tell the kernel that a blocked caller may retry.

use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use keel_abi::types::{DirEntry, FileKind, Stat, NAME_MAX, O_ACCMODE, O_RDONLY};
use keel_abi::Errno;

use crate::file::FileId;

/// One directory entry as a node reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntryInfo {
    /// Inode number of the entry.
    pub ino: u64,
    /// What the entry is.
    pub kind: FileKind,
    /// The entry's name (at most [`NAME_MAX`] bytes).
    pub name: String,
}

impl DirEntryInfo {
    /// The entry in the layout `READDIR` copies to user space (a longer name is cut at
    /// [`NAME_MAX`] bytes, which no file system here creates).
    pub fn to_abi(&self) -> DirEntry {
        let mut out = DirEntry {
            ino: self.ino,
            kind: self.kind as u32,
            ..DirEntry::default()
        };
        let bytes = self.name.as_bytes();
        let len = bytes.len().min(NAME_MAX);
        out.name[..len].copy_from_slice(&bytes[..len]);
        out.name_len = len as u32;
        out
    }
}

/// A file-system object: a file, a directory, a device, a pipe end.
///
/// Every method takes `&self`; implementations lock what they change. Every method must
/// answer any argument with a value or an error, never a panic: user programs drive them.
/// The defaults give the POSIX error for an object that does not support the operation, so a
/// device implements only what it does.
///
/// Blocking: a node that cannot make progress now returns [`Errno::EAGAIN`], reports a
/// [`Node::wait_key`], and calls [`wake`] with that key when the caller may retry.
pub trait Node: Send + Sync {
    /// What the object is.
    fn kind(&self) -> FileKind;

    /// Its metadata.
    fn stat(&self) -> Stat;

    /// Reads at `offset` into `buf`; returns the bytes read, 0 at the end of the file.
    /// Non-seekable nodes ignore `offset`.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let _ = (offset, buf);
        Err(dir_or(self.kind(), Errno::EISDIR, Errno::EINVAL))
    }

    /// Writes `buf` at `offset`; returns the bytes written (possibly fewer than asked).
    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<usize, Errno> {
        let _ = (offset, buf);
        Err(dir_or(self.kind(), Errno::EISDIR, Errno::EINVAL))
    }

    /// Sets a regular file's length, zero-filling when it grows.
    fn truncate(&self, len: u64) -> Result<(), Errno> {
        let _ = len;
        Err(dir_or(self.kind(), Errno::EISDIR, Errno::EINVAL))
    }

    /// Finds the entry `name` (never `.` or `..`, which [`crate::Vfs`] handles) in a directory.
    fn lookup(&self, name: &str) -> Result<Arc<dyn Node>, Errno> {
        let _ = name;
        Err(dir_or(self.kind(), Errno::ENOENT, Errno::ENOTDIR))
    }

    /// Creates the entry `name` of `kind` with permission bits `mode` in a directory.
    fn create(&self, name: &str, kind: FileKind, mode: u32) -> Result<Arc<dyn Node>, Errno> {
        let _ = (name, kind, mode);
        Err(dir_or(self.kind(), Errno::EROFS, Errno::ENOTDIR))
    }

    /// Removes the entry `name` (a file or an empty directory) from a directory.
    fn unlink(&self, name: &str) -> Result<(), Errno> {
        let _ = name;
        Err(dir_or(self.kind(), Errno::EROFS, Errno::ENOTDIR))
    }

    /// The directory's entry number `index` (0, 1, 2...), `None` past the last. `.` and `..`
    /// are not listed. The order is stable while the directory does not change.
    fn readdir(&self, index: usize) -> Result<Option<DirEntryInfo>, Errno> {
        let _ = index;
        if self.kind() == FileKind::Dir {
            Ok(None)
        } else {
            Err(Errno::ENOTDIR)
        }
    }

    /// A device-specific request from open file `file`.
    fn ioctl(&self, file: FileId, request: u64, arg: u64) -> Result<u64, Errno> {
        let _ = (file, request, arg);
        Err(Errno::ENOTTY)
    }

    /// Called once when an open file description of this node is created, with its id and
    /// `O_*` flags; an error refuses the open. Devices count opens here, pipes count their ends.
    fn open(&self, file: FileId, flags: u64) -> Result<(), Errno> {
        let _ = (file, flags);
        Ok(())
    }

    /// Called once when that open file description goes away (its last descriptor closed),
    /// with the same id and flags as the matching [`Node::open`].
    fn release(&self, file: FileId, flags: u64) {
        let _ = (file, flags);
    }

    /// Whether a write takes every byte without looking at any (`/dev/null`, `/dev/zero`): the
    /// kernel then only checks the caller's buffer and copies nothing ([`crate::OpenFile::discards_writes`]).
    /// [`Node::write_at`] of such a node must take all of `buf`.
    fn discards_writes(&self) -> bool {
        false
    }

    /// Whether an offset means something (seek on other nodes gives `ESPIPE`).
    fn is_seekable(&self) -> bool {
        matches!(
            self.kind(),
            FileKind::File | FileKind::Dir | FileKind::BlockDev | FileKind::Symlink
        )
    }

    /// The key this node passes to [`wake`] when a caller that got `EAGAIN` may retry, or
    /// `None` if the node never says `EAGAIN`. Stable for the node's lifetime and distinct
    /// from every other live node's key (an address is a good key: see [`wait_key_of`]).
    fn wait_key(&self) -> Option<usize> {
        None
    }

    /// The whole contents when they are static memory (rofs files), so the kernel can map or
    /// parse an executable without copying.
    fn static_bytes(&self) -> Option<&'static [u8]> {
        None
    }
}

impl core::fmt::Debug for dyn Node {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let stat = self.stat();
        f.debug_struct("Node")
            .field("kind", &self.kind())
            .field("ino", &stat.ino)
            .field("dev", &stat.dev)
            .finish()
    }
}

/// The kernel's side of blocking: wakes every thread waiting on `key`.
///
/// Installed once with [`set_waker`]. Nodes call it (through [`wake`]) after releasing their
/// own locks, from whatever context changed the node (a syscall, an interrupt's bottom half),
/// so `wake` must not call back into the node.
pub trait Wake: Sync {
    /// Wakes the waiters on `key` so they retry their operation.
    fn wake(&self, key: usize);
}

static WAKER: spin::Once<&'static dyn Wake> = spin::Once::new();

/// Installs the kernel's wake-up hook. Returns `false` (and changes nothing) if one was
/// installed before.
pub fn set_waker(waker: &'static dyn Wake) -> bool {
    let mut installed = false;
    WAKER.call_once(|| {
        installed = true;
        waker
    });
    installed
}

/// Wakes the waiters on `key` through the installed hook (nothing if none is installed).
pub fn wake(key: usize) {
    if let Some(waker) = WAKER.get() {
        waker.wake(key);
    }
}

/// A wait key made from an object's address: unique among live objects.
pub fn wait_key_of<T: ?Sized>(object: &T) -> usize {
    object as *const T as *const u8 as usize
}

/// A new file-system (device) identifier for [`Stat::dev`].
pub(crate) fn next_dev() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Checks a name for a new directory entry: `ENAMETOOLONG` past [`NAME_MAX`], `EINVAL` for
/// an empty name, `.`, `..`, or one holding `/` or NUL.
pub(crate) fn check_name(name: &str) -> Result<(), Errno> {
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// Whether `O_*` flags ask for write access.
pub(crate) fn wants_write(flags: u64) -> bool {
    flags & O_ACCMODE != O_RDONLY
}

/// A [`Stat`] with the common fields filled.
pub(crate) fn make_stat(kind: FileKind, mode: u32, size: u64, ino: u64, dev: u64) -> Stat {
    Stat {
        kind: kind as u32,
        mode,
        size,
        ino,
        rdev: 0,
        dev,
    }
}

/// `if_dir` for a directory, else `otherwise`: how the defaults pick their error.
fn dir_or(kind: FileKind, if_dir: Errno, otherwise: Errno) -> Errno {
    if kind == FileKind::Dir {
        if_dir
    } else {
        otherwise
    }
}
