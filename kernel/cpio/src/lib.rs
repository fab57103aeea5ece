//! `newc` cpio archives: the format of Keel's initramfs.
//!
//! # Format
//!
//! A `newc` archive is a sequence of entries, each a 110-byte ASCII header, the entry's name and
//! its data, ending with an entry named `TRAILER!!!`:
//!
//! ```text
//!  offset  size  field          (every number: 8 hexadecimal digits)
//!  0       6     magic          "070701" (newc) or "070702" (newc with checksum)
//!  6       8     ino
//!  14      8     mode           file type and permissions, as in st_mode
//!  22      8     uid
//!  30      8     gid
//!  38      8     nlink
//!  46      8     mtime
//!  54      8     filesize       length of the data
//!  62      8     devmajor
//!  70      8     devminor
//!  78      8     rdevmajor
//!  86      8     rdevminor
//!  94      8     namesize       length of the name including its terminating NUL
//!  102     8     check          checksum (070702 only; 0 otherwise)
//!  110     ...   name, NUL, zero padding to a multiple of 4 bytes (counted from the archive start)
//!  ...     ...   data, zero padding to a multiple of 4 bytes
//! ```
//!
//! [`Archive`] reads an archive in place from a borrowed byte slice, without allocating, and never
//! panics on malformed input: every problem is an [`Error`] naming the entry, the byte offset and
//! the reason. Both magics are accepted; the `070702` checksum is exposed in [`Entry::check`] but
//! not verified. The `alloc` feature adds [`Builder`], which writes deterministic archives (the
//! build tooling uses it to make the initramfs).
#![cfg_attr(not(test), no_std)]

#[cfg(any(feature = "alloc", test))]
extern crate alloc;

mod path;
mod read;
#[cfg(any(feature = "alloc", test))]
mod write;

#[cfg(test)]
mod tests;

pub use path::normalize;
pub use read::{Archive, Entries, Entry, Error, ErrorKind, FileType, Mode};
#[cfg(any(feature = "alloc", test))]
pub use write::{Builder, WriteError, WriteErrorKind};

/// The magic of a `newc` header.
pub const MAGIC_NEWC: &[u8; 6] = b"070701";
/// The magic of a `newc` header with a checksum (the "crc" format).
pub const MAGIC_CRC: &[u8; 6] = b"070702";
/// The name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";
/// The length of an entry header in bytes.
pub const HEADER_LEN: usize = 110;
/// Headers, names and data start at multiples of this many bytes.
pub const ALIGN: usize = 4;
