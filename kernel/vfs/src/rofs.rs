//! A read-only tree file system over static memory: the initramfs.
//!
//! [`build`] takes a list of [`RoEntry`]s (the kernel parses them out of the cpio archive) and
//! returns the root directory. Directories that entries imply but do not list are created with
//! mode `0o755`. File contents are borrowed, never copied. Entries are listed by name in byte
//! order, so `readdir` order is stable. Every change gives `EROFS`.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use keel_abi::types::{FileKind, Stat, O_TRUNC, PATH_MAX};
use keel_abi::Errno;

use crate::node::{check_name, make_stat, next_dev, wants_write, DirEntryInfo, Node};

/// One object of the read-only tree.
#[derive(Clone, Copy, Debug)]
pub struct RoEntry<'a> {
    /// Path from the root (`bin/sh`, `/bin/sh` and `./bin/sh` are the same); `.` is the root.
    pub path: &'a str,
    /// What it is. A directory's `data` is ignored; a symbolic link's `data` is its target.
    pub kind: FileKind,
    /// Permission bits.
    pub mode: u32,
    /// The contents.
    pub data: &'static [u8],
}

/// Builds the tree and returns its root directory.
///
/// An entry for a directory that already exists (listed or implied) sets its mode. Errors:
/// `EEXIST` for a second entry with the same path (unless both are directories); `ENOTDIR`
/// when a path goes through a non-directory; `EINVAL` for a `..` component or a non-directory
/// root entry; `ENAMETOOLONG` for a name over `NAME_MAX` or a path over `PATH_MAX` bytes.
pub fn build(entries: &[RoEntry<'_>]) -> Result<Arc<dyn Node>, Errno> {
    let mut root = Draft::Dir {
        mode: 0o755,
        children: BTreeMap::new(),
    };
    for entry in entries {
        insert(&mut root, entry)?;
    }
    let dev = next_dev();
    let mut next_ino = 1;
    Ok(freeze(root, dev, &mut next_ino))
}

/// The tree while it is being built.
enum Draft {
    Dir {
        mode: u32,
        children: BTreeMap<String, Draft>,
    },
    Leaf {
        kind: FileKind,
        mode: u32,
        data: &'static [u8],
    },
}

fn insert(root: &mut Draft, entry: &RoEntry<'_>) -> Result<(), Errno> {
    if entry.path.len() > PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let mut names = Vec::new();
    for component in entry.path.split('/') {
        match component {
            "" | "." => {}
            name => {
                check_name(name)?;
                names.push(name);
            }
        }
    }
    let mode = entry.mode & 0o7777;
    let Some((last, dirs)) = names.split_last() else {
        // The root itself.
        return match (entry.kind, root) {
            (FileKind::Dir, Draft::Dir { mode: m, .. }) => {
                *m = mode;
                Ok(())
            }
            _ => Err(Errno::EINVAL),
        };
    };
    let mut dir = root;
    for name in dirs {
        let Draft::Dir { children, .. } = dir else {
            return Err(Errno::ENOTDIR);
        };
        dir = children.entry(String::from(*name)).or_insert(Draft::Dir {
            mode: 0o755,
            children: BTreeMap::new(),
        });
    }
    let Draft::Dir { children, .. } = dir else {
        return Err(Errno::ENOTDIR);
    };
    match children.get_mut(*last) {
        Some(Draft::Dir { mode: m, .. }) if entry.kind == FileKind::Dir => {
            *m = mode;
            Ok(())
        }
        Some(_) => Err(Errno::EEXIST),
        None => {
            let draft = if entry.kind == FileKind::Dir {
                Draft::Dir {
                    mode,
                    children: BTreeMap::new(),
                }
            } else {
                Draft::Leaf {
                    kind: entry.kind,
                    mode,
                    data: entry.data,
                }
            };
            children.insert(String::from(*last), draft);
            Ok(())
        }
    }
}

fn freeze(draft: Draft, dev: u64, next_ino: &mut u64) -> Arc<dyn Node> {
    let ino = *next_ino;
    *next_ino += 1;
    match draft {
        Draft::Leaf { kind, mode, data } => Arc::new(RoLeaf {
            ino,
            dev,
            kind,
            mode,
            data,
        }),
        Draft::Dir { mode, children } => {
            let entries = children
                .into_iter()
                .map(|(name, child)| {
                    let node = freeze(child, dev, next_ino);
                    (name, node)
                })
                .collect();
            Arc::new(RoDir {
                ino,
                dev,
                mode,
                entries,
            })
        }
    }
}

/// A read-only directory; `entries` sorted by name.
struct RoDir {
    ino: u64,
    dev: u64,
    mode: u32,
    entries: Vec<(String, Arc<dyn Node>)>,
}

impl Node for RoDir {
    fn kind(&self) -> FileKind {
        FileKind::Dir
    }

    fn stat(&self) -> Stat {
        make_stat(
            FileKind::Dir,
            self.mode,
            self.entries.len() as u64,
            self.ino,
            self.dev,
        )
    }

    fn lookup(&self, name: &str) -> Result<Arc<dyn Node>, Errno> {
        self.entries
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .map(|i| self.entries[i].1.clone())
            .map_err(|_| Errno::ENOENT)
    }

    fn readdir(&self, index: usize) -> Result<Option<DirEntryInfo>, Errno> {
        Ok(self.entries.get(index).map(|(name, node)| DirEntryInfo {
            ino: node.stat().ino,
            kind: node.kind(),
            name: name.clone(),
        }))
    }

    fn create(&self, _name: &str, _kind: FileKind, _mode: u32) -> Result<Arc<dyn Node>, Errno> {
        Err(Errno::EROFS)
    }

    fn unlink(&self, _name: &str) -> Result<(), Errno> {
        Err(Errno::EROFS)
    }
}

/// A read-only file (or link, or device node without a driver) over static bytes.
struct RoLeaf {
    ino: u64,
    dev: u64,
    kind: FileKind,
    mode: u32,
    data: &'static [u8],
}

impl Node for RoLeaf {
    fn kind(&self) -> FileKind {
        self.kind
    }

    fn stat(&self) -> Stat {
        make_stat(
            self.kind,
            self.mode,
            self.data.len() as u64,
            self.ino,
            self.dev,
        )
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        if !matches!(self.kind, FileKind::File | FileKind::Symlink) {
            return Err(Errno::EINVAL);
        }
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let rest = self.data.get(start..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    fn write_at(&self, _offset: u64, _buf: &[u8]) -> Result<usize, Errno> {
        Err(Errno::EROFS)
    }

    fn truncate(&self, _len: u64) -> Result<(), Errno> {
        Err(Errno::EROFS)
    }

    fn open(&self, _file: crate::file::FileId, flags: u64) -> Result<(), Errno> {
        if wants_write(flags) || flags & O_TRUNC != 0 {
            return Err(Errno::EROFS);
        }
        Ok(())
    }

    fn static_bytes(&self) -> Option<&'static [u8]> {
        Some(self.data)
    }
}
