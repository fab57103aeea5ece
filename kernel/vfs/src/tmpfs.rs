//! A writable file system in RAM.
//!
//! Files are byte vectors; directories are name-ordered maps. The file system counts the bytes
//! its files hold ([`TmpFs::usage`]) against a limit set at creation: a write that would pass it
//! writes what fits, or fails with `ENOSPC` when nothing fits; growing with `truncate` is all or
//! nothing. A file's bytes stay counted while it is open after being unlinked, and are given
//! back when its last reference goes away, so the count drops to 0 once everything is removed
//! and closed.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use keel_abi::types::{FileKind, Stat};
use keel_abi::Errno;
use spin::Mutex;

use crate::node::{check_name, make_stat, next_dev, DirEntryInfo, Node};

/// A tmpfs instance: mount [`TmpFs::root`] somewhere and read [`TmpFs::usage`].
pub struct TmpFs {
    shared: Arc<Shared>,
    root: Arc<TmpNode>,
}

/// What every node of one tmpfs shares.
struct Shared {
    dev: u64,
    limit: u64,
    used: AtomicU64,
    next_ino: AtomicU64,
}

impl Shared {
    /// Takes up to `want` bytes of the budget; returns how many were granted.
    fn reserve(&self, want: u64) -> u64 {
        let mut granted = 0;
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                granted = want.min(self.limit.saturating_sub(used));
                Some(used + granted)
            });
        granted
    }

    /// Gives back `bytes` of the budget.
    fn unreserve(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }

    fn new_node(self: &Arc<Self>, kind: FileKind, mode: u32) -> Arc<TmpNode> {
        let body = match kind {
            FileKind::Dir => Body::Dir(Mutex::new(DirBody {
                entries: BTreeMap::new(),
                removed: false,
            })),
            _ => Body::File(Mutex::new(Vec::new())),
        };
        Arc::new(TmpNode {
            ino: self.next_ino.fetch_add(1, Ordering::Relaxed),
            mode: mode & 0o7777,
            shared: self.clone(),
            body,
        })
    }
}

impl TmpFs {
    /// An empty tmpfs whose files may hold at most `limit` bytes in total.
    pub fn new(limit: u64) -> TmpFs {
        let shared = Arc::new(Shared {
            dev: next_dev(),
            limit,
            used: AtomicU64::new(0),
            next_ino: AtomicU64::new(1),
        });
        let root = shared.new_node(FileKind::Dir, 0o1777);
        TmpFs { shared, root }
    }

    /// The root directory.
    pub fn root(&self) -> Arc<dyn Node> {
        self.root.clone()
    }

    /// Bytes held by files (including unlinked files still open).
    pub fn usage(&self) -> u64 {
        self.shared.used.load(Ordering::Acquire)
    }

    /// The limit given to [`TmpFs::new`].
    pub fn limit(&self) -> u64 {
        self.shared.limit
    }
}

struct TmpNode {
    ino: u64,
    mode: u32,
    shared: Arc<Shared>,
    body: Body,
}

enum Body {
    File(Mutex<Vec<u8>>),
    Dir(Mutex<DirBody>),
}

struct DirBody {
    entries: BTreeMap<String, Arc<TmpNode>>,
    /// Unlinked from its parent: nothing may be created in it any more.
    removed: bool,
}

impl Drop for TmpNode {
    fn drop(&mut self) {
        match &mut self.body {
            Body::File(data) => self.shared.unreserve(data.get_mut().len() as u64),
            Body::Dir(dir) => {
                // Tear a whole tree down with a loop, not recursion: a deep tree must not
                // overflow a small kernel stack. Nodes someone else still holds stay alive.
                let mut pending: Vec<Arc<TmpNode>> = core::mem::take(&mut dir.get_mut().entries)
                    .into_values()
                    .collect();
                while let Some(node) = pending.pop() {
                    if let Some(mut node) = Arc::into_inner(node) {
                        if let Body::Dir(dir) = &mut node.body {
                            pending
                                .extend(core::mem::take(&mut dir.get_mut().entries).into_values());
                        }
                    }
                }
            }
        }
    }
}

impl TmpNode {
    fn dir(&self) -> Result<&Mutex<DirBody>, Errno> {
        match &self.body {
            Body::Dir(dir) => Ok(dir),
            Body::File(_) => Err(Errno::ENOTDIR),
        }
    }

    fn file(&self) -> Result<&Mutex<Vec<u8>>, Errno> {
        match &self.body {
            Body::File(data) => Ok(data),
            Body::Dir(_) => Err(Errno::EISDIR),
        }
    }
}

impl Node for TmpNode {
    fn kind(&self) -> FileKind {
        match self.body {
            Body::File(_) => FileKind::File,
            Body::Dir(_) => FileKind::Dir,
        }
    }

    fn stat(&self) -> Stat {
        let size = match &self.body {
            Body::File(data) => data.lock().len(),
            Body::Dir(dir) => dir.lock().entries.len(),
        };
        make_stat(
            self.kind(),
            self.mode,
            size as u64,
            self.ino,
            self.shared.dev,
        )
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let data = self.file()?.lock();
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let rest = data.get(start..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    fn write_at(&self, offset: u64, buf: &[u8]) -> Result<usize, Errno> {
        let mut data = self.file()?.lock();
        if buf.is_empty() {
            return Ok(0);
        }
        let start = usize::try_from(offset).map_err(|_| Errno::EFBIG)?;
        let end = start.checked_add(buf.len()).ok_or(Errno::EFBIG)?;
        let len = data.len();
        if end <= len {
            data[start..end].copy_from_slice(buf);
            return Ok(buf.len());
        }
        let granted = self.shared.reserve((end - len) as u64) as usize;
        let new_len = len + granted;
        if new_len <= start {
            self.shared.unreserve(granted as u64);
            return Err(Errno::ENOSPC);
        }
        if data.try_reserve(new_len - len).is_err() {
            self.shared.unreserve(granted as u64);
            return Err(Errno::ENOMEM);
        }
        data.resize(new_len, 0);
        let n = new_len - start;
        data[start..new_len].copy_from_slice(&buf[..n]);
        Ok(n)
    }

    fn truncate(&self, len: u64) -> Result<(), Errno> {
        let mut data = self.file()?.lock();
        let new_len = usize::try_from(len).map_err(|_| Errno::EFBIG)?;
        let old_len = data.len();
        if new_len > old_len {
            let want = (new_len - old_len) as u64;
            let granted = self.shared.reserve(want);
            if granted < want {
                self.shared.unreserve(granted);
                return Err(Errno::ENOSPC);
            }
            if data.try_reserve(new_len - old_len).is_err() {
                self.shared.unreserve(granted);
                return Err(Errno::ENOMEM);
            }
            data.resize(new_len, 0);
        } else {
            data.truncate(new_len);
            if data.capacity() > 2 * new_len {
                data.shrink_to_fit();
            }
            self.shared.unreserve((old_len - new_len) as u64);
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Result<Arc<dyn Node>, Errno> {
        let dir = self.dir()?.lock();
        match dir.entries.get(name) {
            Some(node) => Ok(node.clone()),
            None => Err(Errno::ENOENT),
        }
    }

    fn create(&self, name: &str, kind: FileKind, mode: u32) -> Result<Arc<dyn Node>, Errno> {
        let mut dir = self.dir()?.lock();
        check_name(name)?;
        if !matches!(kind, FileKind::File | FileKind::Dir) {
            return Err(Errno::EPERM);
        }
        if dir.removed {
            return Err(Errno::ENOENT);
        }
        if dir.entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let node = self.shared.new_node(kind, mode);
        dir.entries.insert(String::from(name), node.clone());
        Ok(node)
    }

    fn unlink(&self, name: &str) -> Result<(), Errno> {
        let mut dir = self.dir()?.lock();
        if name == "." || name == ".." {
            return Err(Errno::EINVAL);
        }
        let child = dir.entries.get(name).ok_or(Errno::ENOENT)?;
        if let Body::Dir(child_dir) = &child.body {
            // Parent before child: the only order two directory locks are ever taken in.
            let mut child_dir = child_dir.lock();
            if !child_dir.entries.is_empty() {
                return Err(Errno::ENOTEMPTY);
            }
            child_dir.removed = true;
        }
        let removed = dir.entries.remove(name);
        drop(dir);
        // The file's bytes are given back when its last reference (maybe an open file) drops.
        drop(removed);
        Ok(())
    }

    fn readdir(&self, index: usize) -> Result<Option<DirEntryInfo>, Errno> {
        let dir = self.dir()?.lock();
        Ok(dir
            .entries
            .iter()
            .nth(index)
            .map(|(name, node)| DirEntryInfo {
                ino: node.ino,
                kind: node.kind(),
                name: name.clone(),
            }))
    }
}
