//! Reading and writing file descriptors, and the printing macros.
//!
//! [`print!`](crate::print) and friends format into a buffer on the stack and write it with as
//! few `WRITE` calls as possible (one per call for short output), so lines from different
//! processes do not interleave mid-line. Errors while printing are ignored.

use crate::raw;
use core::fmt;
use keel_abi::syscall;

/// A file descriptor number.
pub type Fd = i32;

/// Standard input.
pub const STDIN: Fd = 0;
/// Standard output.
pub const STDOUT: Fd = 1;
/// Standard error.
pub const STDERR: Fd = 2;

/// Reads up to `buf.len()` bytes from `fd`; 0 means end of file.
pub fn read(fd: Fd, buf: &mut [u8]) -> crate::Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, which we borrow mutably.
    let r = unsafe {
        raw::syscall3(
            syscall::READ,
            fd as u64,
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
        )
    };
    raw::check(r).map(|n| n as usize)
}

/// Writes some of `buf` to `fd`; returns how many bytes were written.
pub fn write(fd: Fd, buf: &[u8]) -> crate::Result<usize> {
    // SAFETY: the kernel only reads `buf.len()` bytes from `buf`.
    let r = unsafe {
        raw::syscall3(
            syscall::WRITE,
            fd as u64,
            buf.as_ptr() as u64,
            buf.len() as u64,
        )
    };
    raw::check(r).map(|n| n as usize)
}

/// Writes all of `buf` to `fd`, looping over short writes. A write of 0 bytes is reported as
/// `EIO`.
pub fn write_all(fd: Fd, mut buf: &[u8]) -> crate::Result<()> {
    while !buf.is_empty() {
        match write(fd, buf)? {
            0 => return Err(crate::Error::EIO),
            n => buf = &buf[n.min(buf.len())..],
        }
    }
    Ok(())
}

/// Reads from `fd` until `buf` is full or the end of the file; returns the bytes read.
pub fn read_full(fd: Fd, buf: &mut [u8]) -> crate::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match read(fd, &mut buf[done..])? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

/// Reads everything left in `fd` and appends it to `out`.
pub fn read_to_end(fd: Fd, out: &mut alloc::vec::Vec<u8>) -> crate::Result<usize> {
    let start = out.len();
    let mut chunk = [0u8; 4096];
    loop {
        match read(fd, &mut chunk)? {
            0 => return Ok(out.len() - start),
            n => out.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A [`fmt::Write`] that collects output in a fixed buffer and writes it to a descriptor when
/// full and on [`BufWriter::flush`] (and on drop).
pub struct BufWriter<const N: usize> {
    fd: Fd,
    len: usize,
    buf: [u8; N],
    error: Option<crate::Error>,
}

impl<const N: usize> BufWriter<N> {
    /// A writer to `fd`.
    pub const fn new(fd: Fd) -> Self {
        BufWriter {
            fd,
            len: 0,
            buf: [0; N],
            error: None,
        }
    }

    /// Writes out what is buffered. Returns the first error met since the last flush.
    pub fn flush(&mut self) -> crate::Result<()> {
        self.drain();
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Writes out the buffer, remembering the first error.
    fn drain(&mut self) {
        if self.len > 0 {
            if let Err(e) = write_all(self.fd, &self.buf[..self.len]) {
                self.error.get_or_insert(e);
            }
            self.len = 0;
        }
    }

    /// Appends bytes, flushing as needed.
    pub fn write_bytes(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.len == N {
                self.drain();
            }
            let n = (N - self.len).min(bytes.len());
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
    }
}

impl<const N: usize> fmt::Write for BufWriter<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

impl<const N: usize> Drop for BufWriter<N> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Formats `args` to `fd` through a stack buffer. Used by the printing macros.
pub fn print_to(fd: Fd, args: fmt::Arguments<'_>) {
    let mut w = BufWriter::<512>::new(fd);
    let _ = fmt::Write::write_fmt(&mut w, args);
    let _ = w.flush();
}

/// Formats `args` to `fd`; reports the first write error.
pub fn write_fmt(fd: Fd, args: fmt::Arguments<'_>) -> crate::Result<()> {
    let mut w = BufWriter::<512>::new(fd);
    let _ = fmt::Write::write_fmt(&mut w, args);
    w.flush()
}

/// Prints to standard output.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::io::print_to($crate::io::STDOUT, format_args!($($arg)*)) };
}

/// Prints a line to standard output.
#[macro_export]
macro_rules! println {
    () => { $crate::io::print_to($crate::io::STDOUT, format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::io::print_to($crate::io::STDOUT, format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints to standard error.
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::io::print_to($crate::io::STDERR, format_args!($($arg)*)) };
}

/// Prints a line to standard error.
#[macro_export]
macro_rules! eprintln {
    () => { $crate::io::print_to($crate::io::STDERR, format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::io::print_to($crate::io::STDERR, format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints a line to a descriptor; evaluates to a [`crate::Result`].
#[macro_export]
macro_rules! fdprintln {
    ($fd:expr) => { $crate::io::write_fmt($fd, format_args!("\n")) };
    ($fd:expr, $($arg:tt)*) => {
        $crate::io::write_fmt($fd, format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints to a descriptor; evaluates to a [`crate::Result`].
#[macro_export]
macro_rules! fdprint {
    ($fd:expr, $($arg:tt)*) => { $crate::io::write_fmt($fd, format_args!($($arg)*)) };
}
