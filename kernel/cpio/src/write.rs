//! Writing deterministic archives: [`Builder`] (feature `alloc`).

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::path::normalize;
use crate::read::{FileType, Mode};
use crate::{ALIGN, HEADER_LEN, MAGIC_NEWC, TRAILER};

/// The permissions of directories the builder creates on its own.
pub const DEFAULT_DIR_PERMISSIONS: u32 = 0o755;

/// What a path in the archive will be.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Directory { permissions: u32 },
    File { permissions: u32, data: Vec<u8> },
    Symlink { target: String },
}

/// Collects directories, files and symbolic links and writes them as one `newc` archive.
///
/// The output depends only on the final set of paths and their contents: entries are sorted by
/// path (so every directory precedes what it holds), inode numbers count up from 1 in that order,
/// and mtime, uid, gid and device numbers are all 0. Missing parent directories are created with
/// [`DEFAULT_DIR_PERMISSIONS`]. Adding a file or symlink at a path that already holds one replaces
/// it; adding a directory where one exists only updates its permissions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Builder {
    nodes: BTreeMap<String, Node>,
}

/// Why a path could not be added to a [`Builder`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteErrorKind {
    /// The path is empty or the root (the root directory is implicit).
    EmptyPath,
    /// A component is empty, `.` or `..` (as in `a//b`, `a/./b`, `a/../b`).
    BadComponent,
    /// The path contains a NUL byte.
    ContainsNul,
    /// A file's data or a symlink's target is longer than the format's 4 GiB limit.
    TooLarge,
    /// A parent of the path is already a file or symlink.
    ParentNotDirectory {
        /// The parent in the way.
        parent: String,
    },
    /// A file or symlink was added where a directory is, or a directory where a file is.
    TypeConflict {
        /// What is there already: "directory", "file" or "symlink".
        existing: &'static str,
    },
}

/// A path the [`Builder`] refused, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteError {
    /// The path as given.
    pub path: String,
    /// What is wrong with it.
    pub kind: WriteErrorKind,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot add `{}` to the cpio archive: ", self.path)?;
        match &self.kind {
            WriteErrorKind::EmptyPath => write!(f, "the path names the root, which is implicit"),
            WriteErrorKind::BadComponent => {
                write!(f, "a path component is empty, `.` or `..`")
            }
            WriteErrorKind::ContainsNul => write!(f, "the path contains a NUL byte"),
            WriteErrorKind::TooLarge => {
                write!(f, "its data exceeds the 4 GiB (u32) size limit of newc")
            }
            WriteErrorKind::ParentNotDirectory { parent } => {
                write!(f, "its parent `/{parent}` is already a file or symlink")
            }
            WriteErrorKind::TypeConflict { existing } => {
                write!(f, "the path is already a {existing}")
            }
        }
    }
}

impl core::error::Error for WriteError {}

impl Node {
    fn describe(&self) -> &'static str {
        match self {
            Node::Directory { .. } => "directory",
            Node::File { .. } => "file",
            Node::Symlink { .. } => "symlink",
        }
    }
}

impl Builder {
    /// An empty archive (it still gets its trailer).
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Adds directory `path` (and its missing parents) with `permissions` (low 12 bits).
    pub fn dir(&mut self, path: &str, permissions: u32) -> Result<(), WriteError> {
        let key = self.prepare(path)?;
        let permissions = permissions & 0o7777;
        match self.nodes.get_mut(&key) {
            Some(Node::Directory { permissions: p }) => *p = permissions,
            Some(other) => return Err(conflict(path, other)),
            None => {
                self.nodes.insert(key, Node::Directory { permissions });
            }
        }
        Ok(())
    }

    /// Adds regular file `path` with `permissions` (low 12 bits) holding `data`, creating missing
    /// parents; replaces a file or symlink already at `path`.
    pub fn file(
        &mut self,
        path: &str,
        permissions: u32,
        data: impl Into<Vec<u8>>,
    ) -> Result<(), WriteError> {
        let data = data.into();
        check_size(path, data.len())?;
        let node = Node::File {
            permissions: permissions & 0o7777,
            data,
        };
        self.put(path, node)
    }

    /// Adds symbolic link `path` pointing at `target`, creating missing parents; replaces a file or
    /// symlink already at `path`.
    pub fn symlink(&mut self, path: &str, target: &str) -> Result<(), WriteError> {
        check_size(path, target.len())?;
        let node = Node::Symlink {
            target: target.to_string(),
        };
        self.put(path, node)
    }

    /// The number of entries so far, created parents included, the trailer not.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether nothing has been added.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The archive: every entry in path order, then the trailer.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut ino = 0u32;
        for (path, node) in &self.nodes {
            ino = ino.saturating_add(1);
            let (mode, nlink, data): (Mode, u32, &[u8]) = match node {
                Node::Directory { permissions } => {
                    (Mode::new(FileType::Directory, *permissions), 2, &[])
                }
                Node::File { permissions, data } => {
                    (Mode::new(FileType::Regular, *permissions), 1, data)
                }
                Node::Symlink { target } => {
                    (Mode::new(FileType::Symlink, 0o777), 1, target.as_bytes())
                }
            };
            push_entry(&mut out, path, ino, mode, nlink, data);
        }
        push_entry(&mut out, TRAILER, 0, Mode(0), 1, &[]);
        out
    }

    /// Adds a file or symlink, replacing a file or symlink at the same path.
    fn put(&mut self, path: &str, node: Node) -> Result<(), WriteError> {
        let key = self.prepare(path)?;
        if let Some(existing @ Node::Directory { .. }) = self.nodes.get(&key) {
            return Err(conflict(path, existing));
        }
        self.nodes.insert(key, node);
        Ok(())
    }

    /// Validates `path`, creates its missing parents, and returns its normalised form.
    fn prepare(&mut self, path: &str) -> Result<String, WriteError> {
        let error = |kind| WriteError {
            path: path.to_string(),
            kind,
        };
        let key = normalize(path);
        if key.is_empty() {
            return Err(error(WriteErrorKind::EmptyPath));
        }
        if key.contains('\0') {
            return Err(error(WriteErrorKind::ContainsNul));
        }
        if key
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(error(WriteErrorKind::BadComponent));
        }
        // Check every parent before creating any, so a refused path leaves the builder unchanged.
        let parents: Vec<&str> = key.match_indices('/').map(|(at, _)| &key[..at]).collect();
        for parent in &parents {
            if let Some(Node::File { .. } | Node::Symlink { .. }) = self.nodes.get(*parent) {
                return Err(error(WriteErrorKind::ParentNotDirectory {
                    parent: parent.to_string(),
                }));
            }
        }
        for parent in parents {
            self.nodes
                .entry(parent.to_string())
                .or_insert(Node::Directory {
                    permissions: DEFAULT_DIR_PERMISSIONS,
                });
        }
        Ok(key.to_string())
    }
}

fn conflict(path: &str, existing: &Node) -> WriteError {
    WriteError {
        path: path.to_string(),
        kind: WriteErrorKind::TypeConflict {
            existing: existing.describe(),
        },
    }
}

fn check_size(path: &str, len: usize) -> Result<(), WriteError> {
    match u32::try_from(len) {
        Ok(_) => Ok(()),
        Err(_) => Err(WriteError {
            path: path.to_string(),
            kind: WriteErrorKind::TooLarge,
        }),
    }
}

/// Pads `out` with zeros to a multiple of [`ALIGN`].
fn pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(ALIGN) {
        out.push(0);
    }
}

/// Appends one entry: header, name, NUL, padding, data, padding.
fn push_entry(out: &mut Vec<u8>, name: &str, ino: u32, mode: Mode, nlink: u32, data: &[u8]) {
    // Sizes were checked when the entry was added; names are far below 4 GiB.
    let filesize = u32::try_from(data.len()).unwrap_or(u32::MAX);
    let namesize = u32::try_from(name.len() + 1).unwrap_or(u32::MAX);
    let start = out.len();
    out.extend_from_slice(MAGIC_NEWC);
    // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor,
    // namesize, check
    let fields = [
        ino, mode.0, 0, 0, nlink, 0, filesize, 0, 0, 0, 0, namesize, 0,
    ];
    for field in fields {
        push_hex(out, field);
    }
    debug_assert_eq!(out.len() - start, HEADER_LEN);
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad(out);
    out.extend_from_slice(data);
    pad(out);
}

/// Appends `value` as 8 upper-case hexadecimal digits.
fn push_hex(out: &mut Vec<u8>, value: u32) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for shift in (0..8).rev() {
        out.push(DIGITS[((value >> (shift * 4)) & 0xf) as usize]);
    }
}
