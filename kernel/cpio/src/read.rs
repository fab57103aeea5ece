//! Reading an archive in place: [`Archive`], its [`Entries`] iterator and the [`Error`] it reports.

use core::fmt;

use crate::path::normalize;
use crate::{ALIGN, HEADER_LEN, MAGIC_CRC, MAGIC_NEWC, TRAILER};

/// The file type bits of a mode (`S_IFMT`).
const S_IFMT: u32 = 0o170_000;

/// An entry's mode: its file type and permission bits, as in `st_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mode(pub u32);

/// The type of an archive entry, from the `S_IFMT` bits of its mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileType {
    /// A regular file (`S_IFREG`).
    Regular,
    /// A directory (`S_IFDIR`).
    Directory,
    /// A symbolic link (`S_IFLNK`); the data is the target.
    Symlink,
    /// A character device (`S_IFCHR`).
    CharDevice,
    /// A block device (`S_IFBLK`).
    BlockDevice,
    /// A named pipe (`S_IFIFO`).
    Fifo,
    /// A socket (`S_IFSOCK`).
    Socket,
    /// Type bits that match none of the above.
    Unknown(u32),
}

impl FileType {
    /// The `S_IFMT` bits of this type.
    pub const fn bits(self) -> u32 {
        match self {
            FileType::Fifo => 0o010_000,
            FileType::CharDevice => 0o020_000,
            FileType::Directory => 0o040_000,
            FileType::BlockDevice => 0o060_000,
            FileType::Regular => 0o100_000,
            FileType::Symlink => 0o120_000,
            FileType::Socket => 0o140_000,
            FileType::Unknown(bits) => bits & S_IFMT,
        }
    }
}

impl Mode {
    /// The mode of type `file_type` with `permissions` (only the low 12 bits are kept).
    pub const fn new(file_type: FileType, permissions: u32) -> Mode {
        Mode(file_type.bits() | (permissions & 0o7777))
    }

    /// The file type.
    pub const fn file_type(self) -> FileType {
        match self.0 & S_IFMT {
            0o010_000 => FileType::Fifo,
            0o020_000 => FileType::CharDevice,
            0o040_000 => FileType::Directory,
            0o060_000 => FileType::BlockDevice,
            0o100_000 => FileType::Regular,
            0o120_000 => FileType::Symlink,
            0o140_000 => FileType::Socket,
            other => FileType::Unknown(other),
        }
    }

    /// The permission bits, including setuid, setgid and sticky (`0o7777`).
    pub const fn permissions(self) -> u32 {
        self.0 & 0o7777
    }
}

/// One entry of an archive, borrowing its name and data from the archive's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The position of the entry in the archive, counting from 0.
    pub index: usize,
    /// The byte offset of the entry's header in the archive.
    pub offset: usize,
    /// The name as stored (without its NUL); see [`Entry::path`] for the normalised form.
    pub name: &'a str,
    /// The inode number.
    pub ino: u32,
    /// The file type and permissions.
    pub mode: Mode,
    /// The owner's user id.
    pub uid: u32,
    /// The owner's group id.
    pub gid: u32,
    /// The number of links.
    pub nlink: u32,
    /// The modification time, in seconds since the Unix epoch.
    pub mtime: u32,
    /// The major number of the device holding the file.
    pub dev_major: u32,
    /// The minor number of the device holding the file.
    pub dev_minor: u32,
    /// For device nodes: the major number of the device.
    pub rdev_major: u32,
    /// For device nodes: the minor number of the device.
    pub rdev_minor: u32,
    /// The checksum field (`070702` archives; not verified).
    pub check: u32,
    /// The entry's data: a file's contents or a symlink's target.
    pub data: &'a [u8],
}

impl<'a> Entry<'a> {
    /// The name normalised with [`normalize`]: `./bin/sh` and `/bin/sh` are both `bin/sh`, and
    /// the root (`.`) is the empty string.
    pub fn path(&self) -> &'a str {
        normalize(self.name)
    }

    /// The file type.
    pub fn file_type(&self) -> FileType {
        self.mode.file_type()
    }

    /// The target of a symbolic link, if this entry is one and the target is UTF-8.
    pub fn symlink_target(&self) -> Option<&'a str> {
        match self.file_type() {
            FileType::Symlink => core::str::from_utf8(self.data).ok(),
            _ => None,
        }
    }
}

/// Why an archive could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The archive ends inside a header, a name, padding or data.
    Truncated {
        /// What was being read: "header", "name", "name padding", "data" or "data padding".
        what: &'static str,
        /// How many bytes it needs.
        needed: usize,
        /// How many bytes are left in the archive.
        available: usize,
    },
    /// The header does not start with `070701` or `070702`.
    BadMagic {
        /// The six bytes found instead.
        found: [u8; 6],
    },
    /// A numeric header field is not eight hexadecimal digits.
    BadHex {
        /// The field's name, as in the header table of the crate documentation.
        field: &'static str,
        /// The eight bytes found.
        found: [u8; 8],
    },
    /// `namesize` is 0, so there is not even room for the terminating NUL.
    EmptyName,
    /// The last byte of the name is not NUL.
    NameNotTerminated,
    /// The name contains a NUL before its end.
    NameContainsNul {
        /// Where the NUL is, counted from the start of the name.
        position: usize,
    },
    /// The name is not valid UTF-8.
    NameNotUtf8,
    /// A padding byte is not zero (usually: the sizes in the header are wrong).
    NonZeroPadding,
    /// The archive ends without a `TRAILER!!!` entry.
    MissingTrailer,
    /// An offset does not fit in `usize`.
    Overflow,
}

/// A malformed archive: which entry, where, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error {
    /// The position of the entry being read, counting from 0.
    pub index: usize,
    /// The byte offset in the archive where the problem was found.
    pub offset: usize,
    /// What is wrong.
    pub kind: ErrorKind,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Truncated {
                what,
                needed,
                available,
            } => write!(
                f,
                "the archive ends inside the {what}: it needs {needed} bytes, {available} are left"
            ),
            ErrorKind::BadMagic { found } => write!(
                f,
                "the header starts with {:?}, not the newc magic \"070701\" (or \"070702\")",
                Escaped(found)
            ),
            ErrorKind::BadHex { field, found } => write!(
                f,
                "header field `{field}` is {:?}, not 8 hexadecimal digits",
                Escaped(found)
            ),
            ErrorKind::EmptyName => write!(f, "`namesize` is 0; a name needs at least its NUL"),
            ErrorKind::NameNotTerminated => {
                write!(
                    f,
                    "the name does not end with a NUL byte where `namesize` says"
                )
            }
            ErrorKind::NameContainsNul { position } => {
                write!(
                    f,
                    "the name contains a NUL byte at position {position}, before its end"
                )
            }
            ErrorKind::NameNotUtf8 => write!(f, "the name is not valid UTF-8"),
            ErrorKind::NonZeroPadding => write!(
                f,
                "a padding byte is not zero (the header's sizes are probably wrong)"
            ),
            ErrorKind::MissingTrailer => {
                write!(f, "the archive ends without a `{TRAILER}` entry")
            }
            ErrorKind::Overflow => write!(f, "an offset overflows the address space"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed cpio archive: entry {} at byte offset {:#x}: {}",
            self.index, self.offset, self.kind
        )
    }
}

impl core::error::Error for Error {}

/// Bytes shown as a string with non-printable bytes escaped, for messages.
struct Escaped<'a>(&'a [u8]);

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &byte in self.0 {
            if byte.is_ascii_graphic() || byte == b' ' {
                write!(f, "{}", byte as char)?;
            } else {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        f.write_str("\"")
    }
}

/// A `newc` archive in memory.
#[derive(Clone, Copy, Debug)]
pub struct Archive<'a> {
    bytes: &'a [u8],
}

impl<'a> Archive<'a> {
    /// The archive held in `bytes`. Nothing is checked until the entries are read.
    pub const fn new(bytes: &'a [u8]) -> Archive<'a> {
        Archive { bytes }
    }

    /// The archive's bytes.
    pub const fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// The entries in archive order, up to (not including) the trailer. After the first error
    /// the iterator ends.
    pub fn entries(&self) -> Entries<'a> {
        Entries {
            bytes: self.bytes,
            offset: 0,
            index: 0,
            done: false,
        }
    }

    /// The last entry whose [`Entry::path`] equals `normalize(path)`, reading the whole archive
    /// (a later entry of the same name replaces an earlier one, as when the kernel unpacks it).
    pub fn find(&self, path: &str) -> Result<Option<Entry<'a>>, Error> {
        let wanted = normalize(path);
        let mut found = None;
        for entry in self.entries() {
            let entry = entry?;
            if entry.path() == wanted {
                found = Some(entry);
            }
        }
        Ok(found)
    }

    /// Reads every entry and returns how many there are, or the first error.
    pub fn validate(&self) -> Result<usize, Error> {
        let mut count = 0usize;
        for entry in self.entries() {
            entry?;
            count = count.saturating_add(1);
        }
        Ok(count)
    }
}

/// The entries of an [`Archive`]; yields `Err` once for a malformed archive, then ends.
#[derive(Clone, Debug)]
pub struct Entries<'a> {
    bytes: &'a [u8],
    offset: usize,
    index: usize,
    done: bool,
}

/// Byte offsets of the numeric header fields, and their names.
const FIELDS: [(&str, usize); 13] = [
    ("ino", 6),
    ("mode", 14),
    ("uid", 22),
    ("gid", 30),
    ("nlink", 38),
    ("mtime", 46),
    ("filesize", 54),
    ("devmajor", 62),
    ("devminor", 70),
    ("rdevmajor", 78),
    ("rdevminor", 86),
    ("namesize", 94),
    ("check", 102),
];

/// Parses 8 ASCII hexadecimal digits.
fn parse_hex(digits: &[u8; 8]) -> Option<u32> {
    let mut value = 0u32;
    for &digit in digits {
        let nibble = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            b'A'..=b'F' => digit - b'A' + 10,
            _ => return None,
        };
        value = (value << 4) | u32::from(nibble);
    }
    Some(value)
}

/// `offset` rounded up to the next multiple of [`ALIGN`].
fn align_up(offset: usize) -> Option<usize> {
    offset.checked_add(ALIGN - 1).map(|o| o & !(ALIGN - 1))
}

impl<'a> Entries<'a> {
    fn error(&self, offset: usize, kind: ErrorKind) -> Error {
        Error {
            index: self.index,
            offset,
            kind,
        }
    }

    /// `len` bytes at `at`, or a truncation error naming `what`.
    fn take(&self, at: usize, len: usize, what: &'static str) -> Result<&'a [u8], Error> {
        let available = self.bytes.len().saturating_sub(at);
        let end = at
            .checked_add(len)
            .ok_or_else(|| self.error(at, ErrorKind::Overflow))?;
        self.bytes.get(at..end).ok_or_else(|| {
            self.error(
                at,
                ErrorKind::Truncated {
                    what,
                    needed: len,
                    available,
                },
            )
        })
    }

    /// Checks the zero padding from `from` to the next multiple of [`ALIGN`]; returns its end.
    /// `lenient` accepts an archive that ends before the padding does (after the trailer).
    fn padding(&self, from: usize, what: &'static str, lenient: bool) -> Result<usize, Error> {
        let end = align_up(from).ok_or_else(|| self.error(from, ErrorKind::Overflow))?;
        let pad = match self.take(from, end - from, what) {
            Ok(pad) => pad,
            Err(_) if lenient => return Ok(self.bytes.len()),
            Err(error) => return Err(error),
        };
        match pad.iter().position(|&b| b != 0) {
            Some(at) => Err(self.error(from + at, ErrorKind::NonZeroPadding)),
            None => Ok(end),
        }
    }

    /// Reads the entry at `self.offset`; `Ok(None)` for the trailer. Returns the offset of the
    /// next entry with it.
    fn read(&self) -> Result<Option<(Entry<'a>, usize)>, Error> {
        let start = self.offset;
        if start >= self.bytes.len() {
            return Err(self.error(start, ErrorKind::MissingTrailer));
        }
        let header = self.take(start, HEADER_LEN, "header")?;
        let magic: [u8; 6] = header[..6].try_into().unwrap_or([0; 6]);
        if &magic != MAGIC_NEWC && &magic != MAGIC_CRC {
            return Err(self.error(start, ErrorKind::BadMagic { found: magic }));
        }
        let mut values = [0u32; FIELDS.len()];
        for (value, &(field, at)) in values.iter_mut().zip(FIELDS.iter()) {
            let digits: [u8; 8] = header[at..at + 8].try_into().unwrap_or([0; 8]);
            *value = parse_hex(&digits).ok_or_else(|| {
                self.error(
                    start + at,
                    ErrorKind::BadHex {
                        field,
                        found: digits,
                    },
                )
            })?;
        }
        let [ino, mode, uid, gid, nlink, mtime, filesize, dev_major, dev_minor, rdev_major, rdev_minor, namesize, check] =
            values;
        let overflow = |at| self.error(at, ErrorKind::Overflow);
        let filesize = usize::try_from(filesize).map_err(|_| overflow(start))?;
        let namesize = usize::try_from(namesize).map_err(|_| overflow(start))?;

        let name_at = start + HEADER_LEN;
        if namesize == 0 {
            return Err(self.error(start + 94, ErrorKind::EmptyName));
        }
        let raw_name = self.take(name_at, namesize, "name")?;
        let (nul, name) = match raw_name.split_last() {
            Some((&nul, name)) => (nul, name),
            None => return Err(self.error(name_at, ErrorKind::EmptyName)),
        };
        if nul != 0 {
            return Err(self.error(name_at + namesize - 1, ErrorKind::NameNotTerminated));
        }
        if let Some(position) = name.iter().position(|&b| b == 0) {
            return Err(self.error(name_at + position, ErrorKind::NameContainsNul { position }));
        }
        let name = core::str::from_utf8(name)
            .map_err(|e| self.error(name_at + e.valid_up_to(), ErrorKind::NameNotUtf8))?;
        let name_end = name_at + namesize;
        let is_trailer = name == TRAILER;
        let data_at = self.padding(name_end, "name padding", is_trailer)?;
        if is_trailer {
            return Ok(None);
        }
        let data = self.take(data_at, filesize, "data")?;
        let next = self.padding(data_at + filesize, "data padding", false)?;
        let entry = Entry {
            index: self.index,
            offset: start,
            name,
            ino,
            mode: Mode(mode),
            uid,
            gid,
            nlink,
            mtime,
            dev_major,
            dev_minor,
            rdev_major,
            rdev_minor,
            check,
            data,
        };
        Ok(Some((entry, next)))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read() {
            Ok(Some((entry, next))) => {
                self.offset = next;
                self.index = self.index.saturating_add(1);
                Some(Ok(entry))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}

impl core::iter::FusedIterator for Entries<'_> {}
