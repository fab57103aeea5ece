//! File and device system calls: open, read, write, seek, ioctl, close, stat, directories, pipes.

use alloc::sync::Arc;
use alloc::vec::Vec;

use keel_abi::syscall as nr;
use keel_abi::types::{self, DirEntry, Stat};
use keel_abi::Errno;
use keel_vfs::OpenFile;

use super::SysResult;
use crate::fs::{self, FileBytes};
use crate::proc::Process;

/// Bytes moved through the kernel per step of a read or write.
const CHUNK: usize = 64 * 1024;
/// Bytes a write copies from user memory per step (with the address space's lock held, so
/// interrupts wait for one step's copy at most).
const WRITE_COPY_CHUNK: usize = 16 * 1024;

/// Handles the file system calls; `None` for a number that is not one.
pub fn dispatch(p: &Arc<Process>, n: u64, a: [u64; 6]) -> Option<SysResult> {
    Some(match n {
        nr::OPEN => open(p, a[0], a[1], a[2]),
        nr::CLOSE => fd(a[0]).and_then(|fd| p.files.lock().close(fd)).map(|()| 0),
        nr::READ => read(p, a[0], a[1], a[2]),
        nr::WRITE => write(p, a[0], a[1], a[2]),
        nr::SEEK => file(p, a[0]).and_then(|f| f.seek(a[1] as i64, a[2])),
        nr::IOCTL => file(p, a[0]).and_then(|f| fs::blocking(&f, || f.ioctl(a[1], a[2]))),
        nr::STAT => path(p, a[0], a[1]).and_then(|path| {
            let cwd = p.cwd.lock().clone();
            let st = fs::vfs().stat(&cwd, &path)?;
            write_stat(p, a[2], &st)
        }),
        nr::FSTAT => file(p, a[0]).and_then(|f| write_stat(p, a[1], &f.stat())),
        nr::READDIR => readdir(p, a[0], a[1], a[2]),
        nr::DUP2 => {
            let (old, new) = match (fd(a[0]), fd(a[1])) {
                (Ok(o), Ok(n)) => (o, n),
                _ => return Some(Err(Errno::EBADF)),
            };
            p.files.lock().dup2(old, new).map(|fd| fd as u64)
        }
        nr::PIPE => pipe(p, a[0]),
        nr::MKDIR => path(p, a[0], a[1]).and_then(|path| {
            let cwd = p.cwd.lock().clone();
            fs::vfs().mkdir(&cwd, &path, 0o755).map(|()| 0)
        }),
        nr::UNLINK => path(p, a[0], a[1]).and_then(|path| {
            let cwd = p.cwd.lock().clone();
            fs::vfs().unlink(&cwd, &path).map(|()| 0)
        }),
        nr::SYNC => fs::sync_all().map(|()| 0),
        nr::CHDIR => path(p, a[0], a[1]).and_then(|path| {
            let mut cwd = p.cwd.lock();
            let found = fs::vfs().resolve_dir(&cwd, &path)?;
            *cwd = found.path;
            Ok(0)
        }),
        nr::GETCWD => {
            let cwd = p.cwd.lock().clone();
            if (a[1] as usize) < cwd.len() {
                Err(Errno::ERANGE)
            } else {
                p.aspace
                    .write(a[0], cwd.as_bytes())
                    .map(|()| cwd.len() as u64)
            }
        }
        nr::TRUNCATE => file(p, a[0]).and_then(|f| f.truncate(a[1]).map(|()| 0)),
        _ => return None,
    })
}

fn fd(raw: u64) -> Result<i32, Errno> {
    i32::try_from(raw).map_err(|_| Errno::EBADF)
}

fn file(p: &Process, raw: u64) -> Result<Arc<OpenFile>, Errno> {
    p.files.lock().get(fd(raw)?)
}

fn path(p: &Process, ptr: u64, len: u64) -> Result<alloc::string::String, Errno> {
    if len == 0 {
        return Err(Errno::ENOENT);
    }
    let bytes = p.aspace.read_bytes(ptr, len, types::PATH_MAX)?;
    alloc::string::String::from_utf8(bytes).map_err(|_| Errno::EINVAL)
}

fn write_stat(p: &Process, ptr: u64, st: &Stat) -> SysResult {
    p.aspace.write_val(ptr, st)?;
    Ok(0)
}

fn open(p: &Process, ptr: u64, len: u64, flags: u64) -> SysResult {
    let known = types::O_ACCMODE
        | types::O_CREAT
        | types::O_EXCL
        | types::O_TRUNC
        | types::O_APPEND
        | types::O_NONBLOCK
        | types::O_DIRECTORY;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let path = path(p, ptr, len)?;
    let cwd = p.cwd.lock().clone();
    let file = keel_vfs::open(fs::vfs(), &cwd, &path, flags, 0o644)?;
    p.files.lock().insert(file).map(|fd| fd as u64)
}

fn read(p: &Process, raw: u64, buf: u64, len: u64) -> SysResult {
    let f = file(p, raw)?;
    let mut chunk = zeroed_in_steps((len as usize).min(CHUNK));
    // Check the destination first: a bad buffer must not consume input.
    p.aspace.check_writable(buf, chunk.len() as u64)?;
    let n = fs::blocking(&f, || f.read(&mut chunk))?;
    crate::sync::interrupt_window();
    p.aspace.write(buf, &chunk[..n])?;
    Ok(n as u64)
}

/// Bytes [`zeroed_in_steps`] zeroes between two interrupt windows.
const ZERO_STEP: usize = 4096;

/// A zeroed buffer of `len` bytes for a file to read into, zeroed [`ZERO_STEP`] bytes at a time
/// with interrupts let in between (64 KiB at once is about 25,000 instructions).
fn zeroed_in_steps(len: usize) -> Vec<u8> {
    if len <= ZERO_STEP {
        return alloc::vec![0u8; len];
    }
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        buf.resize((buf.len() + ZERO_STEP).min(len), 0);
        if buf.len() < len {
            crate::sync::interrupt_window();
        }
    }
    buf
}

/// `WRITE`: the user's bytes go to the file in chunks of at most [`WRITE_COPY_CHUNK`], each
/// copied straight from user memory into one reused buffer (no zero-fill), with interrupts let in
/// between chunks. A file that discards what is written (`/dev/null`, `/dev/zero`) gets no copy:
/// its bytes are only checked to be mapped, [`CHUNK`] bytes at a time, so a bad pointer still
/// gives `EFAULT` (Linux's `/dev/null` does not look). An error after some bytes were taken
/// returns their count, as Linux does.
fn write(p: &Process, raw: u64, buf: u64, len: u64) -> SysResult {
    let f = file(p, raw)?;
    let discards = f.discards_writes()?;
    let mut data = Vec::with_capacity(if discards {
        0
    } else {
        (len as usize).min(WRITE_COPY_CHUNK)
    });
    let mut done = 0u64;
    while done < len {
        let step = if discards { CHUNK } else { WRITE_COPY_CHUNK };
        let n = ((len - done) as usize).min(step);
        let taken = if discards {
            p.aspace.check_readable(buf + done, n as u64).map(|()| n)
        } else {
            data.clear();
            p.aspace
                .read_append(buf + done, n, &mut data)
                .and_then(|()| write_chunk(&f, &data))
        };
        match taken {
            Ok(w) if w < n => return Ok(done + w as u64),
            Ok(w) => done += w as u64,
            Err(_) if done > 0 => return Ok(done),
            Err(e) => return Err(e),
        }
        if done < len {
            crate::sync::interrupt_window();
        }
    }
    Ok(done)
}

/// Hands all of `data` to the file, waiting while it cannot take more; returns how many bytes it
/// took (fewer than all only when it failed after the first).
fn write_chunk(f: &OpenFile, data: &[u8]) -> Result<usize, Errno> {
    let mut off = 0;
    while off < data.len() {
        match fs::blocking(f, || f.write(&data[off..])) {
            Ok(w) => off += w,
            Err(_) if off > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(off)
}

fn readdir(p: &Process, raw: u64, ptr: u64, cap: u64) -> SysResult {
    let f = file(p, raw)?;
    let cap = (cap as usize).min(64);
    let mut entries: Vec<DirEntry> = alloc::vec![DirEntry::default(); cap];
    let n = f.readdir_into(&mut entries)?;
    let size = core::mem::size_of::<DirEntry>() as u64;
    for (i, e) in entries[..n].iter().enumerate() {
        p.aspace.write_val(ptr + i as u64 * size, e)?;
    }
    Ok(n as u64)
}

fn pipe(p: &Process, ptr: u64) -> SysResult {
    let (r, w) = keel_vfs::pipe_files(keel_vfs::PIPE_CAPACITY)?;
    let mut files = p.files.lock();
    let rfd = files.insert(r)?;
    let wfd = match files.insert(w) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = files.close(rfd);
            return Err(e);
        }
    };
    drop(files);
    if let Err(e) = p.aspace.write_val(ptr, &[rfd, wfd]) {
        let mut files = p.files.lock();
        let _ = files.close(rfd);
        let _ = files.close(wfd);
        return Err(e);
    }
    Ok(0)
}

/// Reads the executable at `path` for `spawn`.
pub fn read_whole_file(_p: &Process, cwd: &str, path: &str) -> Result<FileBytes, Errno> {
    fs::read_file(cwd, path)
}
