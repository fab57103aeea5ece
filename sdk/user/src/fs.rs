//! Files, directories and descriptors.

use crate::io::{self, Fd};
use crate::raw;
use alloc::string::String;
use alloc::vec::Vec;
use keel_abi::syscall;
use keel_abi::types::{self, DirEntry as RawDirEntry, FileKind, Stat};

pub use keel_abi::types::{
    O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NONBLOCK, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY,
};

/// Where [`File::seek`] counts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekFrom {
    /// From the start of the file.
    Start(u64),
    /// From the current offset.
    Current(i64),
    /// From the end of the file.
    End(i64),
}

/// An open file descriptor, closed when dropped.
#[derive(Debug)]
pub struct File {
    fd: Fd,
}

impl File {
    /// Opens `path` with `flags` ([`O_RDONLY`], [`O_WRONLY`] | [`O_CREAT`] | [`O_TRUNC`]...).
    pub fn open_with(path: &str, flags: u64) -> crate::Result<File> {
        // SAFETY: the kernel reads `path.len()` bytes of `path`.
        let r = unsafe {
            raw::syscall3(
                syscall::OPEN,
                path.as_ptr() as u64,
                path.len() as u64,
                flags,
            )
        };
        raw::check(r).map(|fd| File { fd: fd as Fd })
    }

    /// Opens `path` for reading.
    pub fn open(path: &str) -> crate::Result<File> {
        File::open_with(path, O_RDONLY)
    }

    /// Creates `path` (or truncates it) for writing.
    pub fn create(path: &str) -> crate::Result<File> {
        File::open_with(path, O_WRONLY | O_CREAT | O_TRUNC)
    }

    /// Takes ownership of a descriptor.
    pub fn from_raw_fd(fd: Fd) -> File {
        File { fd }
    }

    /// The descriptor number (still owned by the `File`).
    pub fn fd(&self) -> Fd {
        self.fd
    }

    /// Gives up ownership: the descriptor stays open.
    pub fn into_raw_fd(self) -> Fd {
        let fd = self.fd;
        core::mem::forget(self);
        fd
    }

    /// Reads up to `buf.len()` bytes; 0 at end of file.
    pub fn read(&self, buf: &mut [u8]) -> crate::Result<usize> {
        io::read(self.fd, buf)
    }

    /// Reads everything left, appending to `out`.
    pub fn read_to_end(&self, out: &mut Vec<u8>) -> crate::Result<usize> {
        io::read_to_end(self.fd, out)
    }

    /// Writes some of `buf`; the bytes written.
    pub fn write(&self, buf: &[u8]) -> crate::Result<usize> {
        io::write(self.fd, buf)
    }

    /// Writes all of `buf`.
    pub fn write_all(&self, buf: &[u8]) -> crate::Result<()> {
        io::write_all(self.fd, buf)
    }

    /// Moves the offset; the new offset.
    pub fn seek(&self, pos: SeekFrom) -> crate::Result<u64> {
        seek(self.fd, pos)
    }

    /// Describes the open file.
    pub fn stat(&self) -> crate::Result<Stat> {
        fstat(self.fd)
    }

    /// Sets the file's length.
    pub fn truncate(&self, len: u64) -> crate::Result<()> {
        // SAFETY: TRUNCATE touches no user memory.
        raw::check(unsafe { raw::syscall2(syscall::TRUNCATE, self.fd as u64, len) }).map(drop)
    }

    /// A device request; see [`ioctl`].
    ///
    /// # Safety
    /// As [`ioctl`].
    pub unsafe fn ioctl(&self, request: u64, arg: u64) -> crate::Result<u64> {
        // SAFETY: forwarded from the caller.
        unsafe { ioctl(self.fd, request, arg) }
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let _ = close(self.fd);
    }
}

/// Closes a descriptor.
pub fn close(fd: Fd) -> crate::Result<()> {
    // SAFETY: CLOSE touches no user memory.
    raw::check(unsafe { raw::syscall1(syscall::CLOSE, fd as u64) }).map(drop)
}

/// Moves a descriptor's offset; the new offset.
pub fn seek(fd: Fd, pos: SeekFrom) -> crate::Result<u64> {
    let (off, whence) = match pos {
        SeekFrom::Start(o) => (o as i64, types::SEEK_SET),
        SeekFrom::Current(o) => (o, types::SEEK_CUR),
        SeekFrom::End(o) => (o, types::SEEK_END),
    };
    // SAFETY: SEEK touches no user memory.
    raw::check(unsafe { raw::syscall3(syscall::SEEK, fd as u64, off as u64, whence) })
}

/// A device-specific request on `fd` (see [`crate::tty`] for the tty ones).
///
/// # Safety
/// `arg` must be what `request` expects: for requests that take a pointer, a pointer to memory
/// of the right type that the kernel may read or write.
pub unsafe fn ioctl(fd: Fd, request: u64, arg: u64) -> crate::Result<u64> {
    // SAFETY: the caller guarantees that `arg` suits `request`.
    raw::check(unsafe { raw::syscall3(syscall::IOCTL, fd as u64, request, arg) })
}

/// Describes the object at `path`.
pub fn stat(path: &str) -> crate::Result<Stat> {
    let mut st = Stat::default();
    // SAFETY: the kernel reads `path` and writes one `Stat` into `st`, a local.
    let r = unsafe {
        raw::syscall3(
            syscall::STAT,
            path.as_ptr() as u64,
            path.len() as u64,
            &mut st as *mut Stat as u64,
        )
    };
    raw::check(r)?;
    Ok(st)
}

/// Describes an open descriptor.
pub fn fstat(fd: Fd) -> crate::Result<Stat> {
    let mut st = Stat::default();
    // SAFETY: the kernel writes one `Stat` into `st`, a local.
    let r = unsafe { raw::syscall2(syscall::FSTAT, fd as u64, &mut st as *mut Stat as u64) };
    raw::check(r)?;
    Ok(st)
}

/// The kind of a [`Stat`] or directory entry (`None` for an unknown number).
pub fn kind(raw: u32) -> Option<FileKind> {
    FileKind::from_raw(raw)
}

/// One entry of a directory.
#[derive(Clone, Debug)]
pub struct DirEntry {
    /// Inode number.
    pub ino: u64,
    /// The kind, if known.
    pub kind: Option<FileKind>,
    /// The name (lossy if not UTF-8).
    pub name: String,
}

/// Iterates over a directory's entries (in the file system's order).
pub struct ReadDir {
    file: File,
    batch: Vec<RawDirEntry>,
    next: usize,
    done: bool,
}

impl Iterator for ReadDir {
    type Item = crate::Result<DirEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.batch.len() {
            if self.done {
                return None;
            }
            self.batch.resize(16, RawDirEntry::default());
            // SAFETY: the kernel writes at most 16 entries into `batch`, which holds 16.
            let r = unsafe {
                raw::syscall3(
                    syscall::READDIR,
                    self.file.fd() as u64,
                    self.batch.as_mut_ptr() as u64,
                    16,
                )
            };
            match raw::check(r) {
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(n) => {
                    self.batch.truncate((n as usize).min(16));
                    self.next = 0;
                }
            }
        }
        let e = &self.batch[self.next];
        self.next += 1;
        Some(Ok(DirEntry {
            ino: e.ino,
            kind: FileKind::from_raw(e.kind),
            name: String::from_utf8_lossy(e.name()).into_owned(),
        }))
    }
}

/// Opens the directory `path` for reading its entries.
pub fn read_dir(path: &str) -> crate::Result<ReadDir> {
    Ok(ReadDir {
        file: File::open_with(path, O_RDONLY | O_DIRECTORY)?,
        batch: Vec::new(),
        next: 0,
        done: false,
    })
}

/// Reads a whole file.
pub fn read(path: &str) -> crate::Result<Vec<u8>> {
    let f = File::open(path)?;
    let mut v = Vec::new();
    f.read_to_end(&mut v)?;
    Ok(v)
}

/// Reads a whole file as text (invalid UTF-8 is replaced).
pub fn read_to_string(path: &str) -> crate::Result<String> {
    Ok(String::from_utf8_lossy(&read(path)?).into_owned())
}

fn path_call(nr: u64, path: &str) -> crate::Result<()> {
    // SAFETY: the kernel reads `path.len()` bytes of `path`.
    raw::check(unsafe { raw::syscall2(nr, path.as_ptr() as u64, path.len() as u64) }).map(drop)
}

/// Creates a directory.
pub fn mkdir(path: &str) -> crate::Result<()> {
    path_call(syscall::MKDIR, path)
}

/// Removes a file or an empty directory.
pub fn unlink(path: &str) -> crate::Result<()> {
    path_call(syscall::UNLINK, path)
}

/// Changes the working directory.
pub fn chdir(path: &str) -> crate::Result<()> {
    path_call(syscall::CHDIR, path)
}

/// The working directory.
pub fn getcwd() -> crate::Result<String> {
    let mut buf = alloc::vec![0u8; types::PATH_MAX];
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    let r = unsafe { raw::syscall2(syscall::GETCWD, buf.as_mut_ptr() as u64, buf.len() as u64) };
    let n = (raw::check(r)? as usize).min(buf.len());
    buf.truncate(n);
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Creates a pipe: (read end, write end).
pub fn pipe() -> crate::Result<(File, File)> {
    let mut fds = [-1i32; 2];
    // SAFETY: the kernel writes two i32 into `fds`, a local.
    raw::check(unsafe { raw::syscall1(syscall::PIPE, fds.as_mut_ptr() as u64) })?;
    Ok((File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])))
}

/// Makes `new` a copy of `old` (closing what `new` was); returns `new`.
pub fn dup2(old: Fd, new: Fd) -> crate::Result<Fd> {
    // SAFETY: DUP2 touches no user memory.
    raw::check(unsafe { raw::syscall2(syscall::DUP2, old as u64, new as u64) }).map(|f| f as Fd)
}

/// Writes every cached block back to its device.
pub fn sync() -> crate::Result<()> {
    // SAFETY: SYNC touches no user memory.
    raw::check(unsafe { raw::syscall0(syscall::SYNC) }).map(drop)
}
