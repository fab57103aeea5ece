//! Error numbers returned by system calls (and, through the SDK, by kernel interfaces).
//!
//! A system call returns a non-negative value on success and `-(errno)` on failure. The numbers
//! follow Linux where Linux has the same meaning, so the names read familiar; Keel adds a few of its
//! own above 200.

/// An error number. `Errno(0)` is never returned as an error.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(pub u16);

macro_rules! errnos {
    ($($(#[doc = $doc:literal])* $name:ident = $value:literal, $text:literal;)*) => {
        impl Errno {
            $($(#[doc = $doc])* pub const $name: Errno = Errno($value);)*

            /// The symbolic name (`"ENOENT"`), or `None` for an unknown number.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            /// A short description ("no such file or directory").
            pub fn description(self) -> &'static str {
                match self.0 {
                    $($value => $text,)*
                    _ => "unknown error",
                }
            }
        }
    };
}

errnos! {
    /// The caller lacks the capability the operation needs.
    EPERM = 1, "operation not permitted";
    /// No such file, directory or named object.
    ENOENT = 2, "no such file or directory";
    /// No such process.
    ESRCH = 3, "no such process";
    /// The wait was interrupted (the process is being killed).
    EINTR = 4, "interrupted";
    /// A device or driver failed.
    EIO = 5, "input/output error";
    /// The device is gone (its driver failed or was removed).
    ENXIO = 6, "no such device or address";
    /// An argument list or message is too long.
    E2BIG = 7, "argument list too long";
    /// Not a valid executable or module.
    ENOEXEC = 8, "exec format error";
    /// Not an open file descriptor.
    EBADF = 9, "bad file descriptor";
    /// No child process to wait for.
    ECHILD = 10, "no child processes";
    /// Nothing available now; try again (non-blocking operations).
    EAGAIN = 11, "resource temporarily unavailable";
    /// Out of memory.
    ENOMEM = 12, "out of memory";
    /// Permission denied by the object (read-only file system, write to a read-only file).
    EACCES = 13, "permission denied";
    /// A pointer argument does not point into the caller's accessible memory.
    EFAULT = 14, "bad address";
    /// The object is in use.
    EBUSY = 16, "device or resource busy";
    /// The object already exists.
    EEXIST = 17, "file exists";
    /// No such device, or the operation is not supported by the device.
    ENODEV = 19, "no such device";
    /// A path component is not a directory.
    ENOTDIR = 20, "not a directory";
    /// The object is a directory.
    EISDIR = 21, "is a directory";
    /// An argument is invalid.
    EINVAL = 22, "invalid argument";
    /// The system-wide table is full.
    ENFILE = 23, "too many open files in system";
    /// The process's descriptor or handle table is full.
    EMFILE = 24, "too many open files";
    /// The ioctl is not supported by this file.
    ENOTTY = 25, "inappropriate ioctl for device";
    /// The file would grow past its limit.
    EFBIG = 27, "file too large";
    /// No space left on the file system.
    ENOSPC = 28, "no space left on device";
    /// The file cannot seek (a pipe or a character device).
    ESPIPE = 29, "illegal seek";
    /// The file system is read-only.
    EROFS = 30, "read-only file system";
    /// Writing to a pipe with no reader.
    EPIPE = 32, "broken pipe";
    /// A result does not fit.
    ERANGE = 34, "result out of range";
    /// A waiting lock or IPC cycle was refused.
    EDEADLK = 35, "resource deadlock avoided";
    /// A path or name is too long.
    ENAMETOOLONG = 36, "file name too long";
    /// No such system call.
    ENOSYS = 38, "function not implemented";
    /// The directory is not empty.
    ENOTEMPTY = 39, "directory not empty";
    /// The operation is not supported by this device or its driver.
    EOPNOTSUPP = 95, "operation not supported";
    /// The operation timed out.
    ETIMEDOUT = 110, "timed out";
    /// A block transfer was started; its end is reported with `keel_block_complete`.
    EINPROGRESS = 115, "operation in progress";
    /// The device has no medium (no card in the slot).
    ENOMEDIUM = 123, "no medium found";
    /// The object is already loaded or registered.
    EALREADY = 114, "already loaded";
    /// The handle names no object of the expected kind.
    EBADH = 200, "bad handle";
    /// The IPC peer went away (the server exited or was restarted) before the call completed.
    EPEERDIED = 201, "peer died";
    /// The module faulted and was marked failed.
    EMODFAILED = 202, "module failed";
}

impl Errno {
    /// Decodes a raw system-call return value: `Ok(value)` when non-negative, else the error.
    pub fn result(ret: i64) -> Result<u64, Errno> {
        if ret < 0 {
            Err(Errno(ret.unsigned_abs().min(u16::MAX as u64) as u16))
        } else {
            Ok(ret as u64)
        }
    }

    /// The raw return value that reports this error (`-errno`).
    pub const fn to_ret(self) -> i64 {
        -(self.0 as i64)
    }
}

impl core::fmt::Display for Errno {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.description()),
            None => write!(f, "error {}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_return_values() {
        assert_eq!(Errno::result(5), Ok(5));
        assert_eq!(Errno::result(Errno::ENOENT.to_ret()), Err(Errno::ENOENT));
        assert_eq!(Errno::ENOENT.name(), Some("ENOENT"));
        assert_eq!(Errno(999).name(), None);
    }
}
