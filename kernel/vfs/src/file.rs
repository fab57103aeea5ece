//! Open file descriptions ([`OpenFile`]) and [`open`], which turns a path and `O_*` flags into
//! one.
//!
//! An `OpenFile` is what descriptors refer to: duplicated descriptors (`dup2`, spawn) share
//! one `Arc<OpenFile>` and so share its offset. Making one calls [`Node::open`]; dropping the
//! last `Arc` calls [`Node::release`] (this is how pipes learn an end was closed). Dropping can
//! therefore call [`crate::wake`].

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use keel_abi::types::{
    DirEntry, FileKind, Stat, O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NONBLOCK,
    O_RDONLY, O_TRUNC, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET,
};
use keel_abi::Errno;
use spin::Mutex;

use crate::node::{wants_write, DirEntryInfo, Node};
use crate::path::Vfs;
use crate::pipe::pipe;

/// Identifies one open file description among the live ones (ids are never reused); nodes get
/// it in [`Node::open`], [`Node::ioctl`] and [`Node::release`], so a device can keep state per
/// open file (the GPIO lines it requested, say).
pub type FileId = u64;

fn next_file_id() -> FileId {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// An open file description: a node, the flags it was opened with and the current offset.
pub struct OpenFile {
    node: Arc<dyn Node>,
    id: FileId,
    flags: u64,
    /// The byte offset (for a directory: the index of the next entry).
    offset: Mutex<u64>,
}

impl OpenFile {
    /// Opens `node` with `flags` (only the access mode, `O_APPEND` and `O_NONBLOCK` matter
    /// here; [`open`] handles the rest).
    ///
    /// Errors: `EINVAL` for access mode 3; `EISDIR` for write access to a directory; any
    /// error of [`Node::open`].
    pub fn new(node: Arc<dyn Node>, flags: u64) -> Result<Arc<OpenFile>, Errno> {
        if flags & O_ACCMODE == O_ACCMODE {
            return Err(Errno::EINVAL);
        }
        if node.kind() == FileKind::Dir && wants_write(flags) {
            return Err(Errno::EISDIR);
        }
        let id = next_file_id();
        node.open(id, flags)?;
        Ok(Arc::new(OpenFile {
            node,
            id,
            flags,
            offset: Mutex::new(0),
        }))
    }

    /// The node.
    pub fn node(&self) -> &Arc<dyn Node> {
        &self.node
    }

    /// This open file description's id.
    pub fn id(&self) -> FileId {
        self.id
    }

    /// The `O_*` flags given when opening.
    pub fn flags(&self) -> u64 {
        self.flags
    }

    /// Whether the caller asked not to wait (`O_NONBLOCK`): the kernel passes `EAGAIN` on
    /// instead of waiting.
    pub fn is_nonblocking(&self) -> bool {
        self.flags & O_NONBLOCK != 0
    }

    /// What to wait for after `EAGAIN` (see [`Node::wait_key`]).
    pub fn wait_key(&self) -> Option<usize> {
        self.node.wait_key()
    }

    /// The current offset.
    pub fn offset(&self) -> u64 {
        *self.offset.lock()
    }

    fn readable(&self) -> Result<(), Errno> {
        if self.flags & O_ACCMODE == O_WRONLY {
            return Err(Errno::EBADF);
        }
        Ok(())
    }

    fn writable(&self) -> Result<(), Errno> {
        if !wants_write(self.flags) {
            return Err(Errno::EBADF);
        }
        Ok(())
    }

    /// Reads at the offset and advances it. Errors: `EBADF` if opened write-only; `EISDIR`
    /// for a directory; `EAGAIN` when the node has nothing now; any error of
    /// [`Node::read_at`].
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        self.readable()?;
        if !self.node.is_seekable() {
            return self.node.read_at(0, buf);
        }
        let mut offset = self.offset.lock();
        let n = self.node.read_at(*offset, buf)?;
        *offset = offset.saturating_add(n as u64);
        Ok(n)
    }

    /// Whether a write here takes every byte without looking at any ([`Node::discards_writes`]):
    /// the caller may then skip copying them (a write of `n` such bytes takes `n`, and moves no
    /// offset). Errors: `EBADF` if opened read-only, as [`OpenFile::write`].
    pub fn discards_writes(&self) -> Result<bool, Errno> {
        self.writable()?;
        Ok(self.node.discards_writes())
    }

    /// Writes at the offset (at the end with `O_APPEND`) and advances it. Errors: `EBADF` if
    /// opened read-only; `EAGAIN`, `EPIPE`, `ENOSPC`... from [`Node::write_at`].
    pub fn write(&self, buf: &[u8]) -> Result<usize, Errno> {
        self.writable()?;
        if !self.node.is_seekable() {
            return self.node.write_at(0, buf);
        }
        let mut offset = self.offset.lock();
        if self.flags & O_APPEND != 0 {
            *offset = self.node.stat().size;
        }
        let n = self.node.write_at(*offset, buf)?;
        *offset = offset.saturating_add(n as u64);
        Ok(n)
    }

    /// Moves the offset (`SEEK_SET`, `SEEK_CUR`, `SEEK_END`) and returns the new one.
    /// Errors: `ESPIPE` for pipes and character devices; `EINVAL` for another `whence` or a
    /// result below 0 or above `i64::MAX`.
    pub fn seek(&self, offset: i64, whence: u64) -> Result<u64, Errno> {
        if !self.node.is_seekable() {
            return Err(Errno::ESPIPE);
        }
        let mut current = self.offset.lock();
        let base = match whence {
            SEEK_SET => 0,
            SEEK_CUR => *current,
            SEEK_END => self.node.stat().size,
            _ => return Err(Errno::EINVAL),
        };
        let target = i128::from(base) + i128::from(offset);
        if target < 0 || target > i128::from(i64::MAX) {
            return Err(Errno::EINVAL);
        }
        *current = target as u64;
        Ok(*current)
    }

    /// The node's metadata (`fstat`).
    pub fn stat(&self) -> Stat {
        self.node.stat()
    }

    /// Sets the file's length (`TRUNCATE`). Errors: `EBADF` unless opened for writing;
    /// `EISDIR`, `EINVAL`, `ENOSPC`... from [`Node::truncate`].
    pub fn truncate(&self, len: u64) -> Result<(), Errno> {
        self.writable()?;
        self.node.truncate(len)
    }

    /// A device request, passed to [`Node::ioctl`].
    pub fn ioctl(&self, request: u64, arg: u64) -> Result<u64, Errno> {
        self.node.ioctl(self.id, request, arg)
    }

    /// The next directory entry (`None` at the end); the offset counts entries, and
    /// `seek(0, SEEK_SET)` starts over. Errors: `ENOTDIR` for anything but a directory.
    pub fn readdir(&self) -> Result<Option<DirEntryInfo>, Errno> {
        if self.node.kind() != FileKind::Dir {
            return Err(Errno::ENOTDIR);
        }
        let mut offset = self.offset.lock();
        let Ok(index) = usize::try_from(*offset) else {
            return Ok(None);
        };
        let entry = self.node.readdir(index)?;
        if entry.is_some() {
            *offset += 1;
        }
        Ok(entry)
    }

    /// Fills `out` with the next entries (`READDIR`); returns how many, 0 at the end.
    pub fn readdir_into(&self, out: &mut [DirEntry]) -> Result<usize, Errno> {
        let mut count = 0;
        for slot in out.iter_mut() {
            match self.readdir()? {
                Some(entry) => *slot = entry.to_abi(),
                None => break,
            }
            count += 1;
        }
        Ok(count)
    }
}

impl core::fmt::Debug for OpenFile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpenFile")
            .field("node", &self.node)
            .field("flags", &self.flags)
            .field("offset", &self.offset())
            .finish()
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        self.node.release(self.id, self.flags);
    }
}

/// Opens `path` (relative paths start at `cwd`) with `O_*` `flags`; `mode` is the permission
/// bits of a file `O_CREAT` creates.
///
/// - `O_CREAT` creates a missing regular file (`EISDIR` for a trailing slash); with `O_EXCL`,
///   an existing path gives `EEXIST`.
/// - `O_DIRECTORY`: `ENOTDIR` unless the node is a directory.
/// - A directory opened for writing, with `O_TRUNC` or with `O_CREAT` gives `EISDIR`.
/// - `O_TRUNC` empties a regular file opened for writing (ignored otherwise).
/// - Access mode 3 gives `EINVAL`; a read-only file system gives `EROFS` for write access.
///
/// Other errors: those of [`Vfs::resolve`], [`Vfs::create`], [`Node::open`].
pub fn open(
    vfs: &Vfs,
    cwd: &str,
    path: &str,
    flags: u64,
    mode: u32,
) -> Result<Arc<OpenFile>, Errno> {
    if flags & O_ACCMODE == O_ACCMODE {
        return Err(Errno::EINVAL);
    }
    let node = match vfs.resolve(cwd, path) {
        Ok(found) => {
            if flags & (O_CREAT | O_EXCL) == O_CREAT | O_EXCL {
                return Err(Errno::EEXIST);
            }
            found.node
        }
        Err(Errno::ENOENT) if flags & O_CREAT != 0 => {
            if flags & O_DIRECTORY != 0 {
                return Err(Errno::EINVAL);
            }
            match vfs.create(cwd, path, FileKind::File, mode) {
                Ok(created) => created.node,
                // Someone else created it in between.
                Err(Errno::EEXIST) if flags & O_EXCL == 0 => vfs.resolve(cwd, path)?.node,
                Err(err) => return Err(err),
            }
        }
        Err(err) => return Err(err),
    };
    let kind = node.kind();
    if flags & O_DIRECTORY != 0 && kind != FileKind::Dir {
        return Err(Errno::ENOTDIR);
    }
    if kind == FileKind::Dir && (wants_write(flags) || flags & (O_TRUNC | O_CREAT) != 0) {
        return Err(Errno::EISDIR);
    }
    let file = OpenFile::new(node, flags)?;
    if flags & O_TRUNC != 0 && kind == FileKind::File && flags & O_ACCMODE != O_RDONLY {
        file.node.truncate(0)?;
    }
    Ok(file)
}

/// Creates a pipe of `capacity` bytes and opens both ends: (reading end opened `O_RDONLY`,
/// writing end opened `O_WRONLY`).
pub fn pipe_files(capacity: usize) -> Result<(Arc<OpenFile>, Arc<OpenFile>), Errno> {
    let (reader, writer) = pipe(capacity);
    let reader = OpenFile::new(reader, O_RDONLY)?;
    let writer = OpenFile::new(writer, O_WRONLY)?;
    Ok((reader, writer))
}
